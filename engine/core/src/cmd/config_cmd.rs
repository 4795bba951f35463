//! CONFIG GET, SET, RESETSTAT, HELP over the parameters `config::Param` lists.
//!
//! GET takes several glob patterns (7.0); a pattern without glob characters is looked up by
//! exact name and answered under the name as the client wrote it, as Redis does. The reply is a
//! map (RESP3) in our parameter order, each parameter once.
//!
//! SET takes several pairs and is atomic, as in 7.0: the coordinator checks names (unknown,
//! immutable, protected, duplicate) in argument order, then parses every value into a scratch
//! copy of its config; only when all pass does it send the pairs to every thread, which apply
//! them with the same parser. The engine reads the new values where it uses them: requirepass
//! and proto-max-bulk-len for connections accepted afterwards, maxclients at accept,
//! maxmemory-policy in the shard (OBJECT FREQ).

use crate::argv::Argv;
use crate::config::{Config, Mutability, Param};
use crate::error::CmdError;
use crate::glob::glob_match;
use crate::node::Node;
use crate::reply::Reply;

fn has_glob(pattern: &[u8]) -> bool {
    pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// CONFIG GET pattern [pattern …]
pub fn get(config: &Config, argv: &Argv) -> Reply {
    let mut found: Vec<(Vec<u8>, Param)> = Vec::new();
    for pattern in argv.iter().skip(2) {
        if !has_glob(pattern) {
            if let Some(param) = Param::lookup(pattern) {
                if !found.iter().any(|(_, p)| *p == param) {
                    found.push((pattern.to_vec(), param));
                }
            }
            continue;
        }
        for param in Param::ALL {
            let name = param.name().as_bytes();
            if !found.iter().any(|(_, p)| *p == param) && glob_match(pattern, name, true) {
                found.push((name.to_vec(), param));
            }
        }
    }
    let pairs = found
        .into_iter()
        .map(|(name, param)| (Reply::Bulk(name), Reply::Bulk(config.get(param))))
        .collect();
    Reply::Map(pairs)
}

/// Validates CONFIG SET name value [name value …]; the pairs to apply on every thread.
pub fn plan_set(config: &Config, argv: &Argv) -> Result<Vec<(String, Vec<u8>)>, CmdError> {
    if !argv.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let failed = |param: Param, reason: &'static str| CmdError::ConfigSetFailed {
        name: param.name().into(),
        reason: reason.into(),
    };
    let mut params: Vec<(Param, &[u8])> = Vec::new();
    for i in (2..argv.len()).step_by(2) {
        let name = &argv[i];
        let param = Param::lookup(name).ok_or_else(|| {
            CmdError::ConfigUnknownOption(String::from_utf8_lossy(name).into_owned())
        })?;
        match param.mutability() {
            Mutability::Mutable => {}
            Mutability::Immutable => return Err(failed(param, "can't set immutable config")),
            Mutability::Protected => return Err(failed(param, "can't set protected config")),
        }
        if params.iter().any(|(p, _)| *p == param) {
            return Err(failed(param, "duplicate parameter"));
        }
        params.push((param, &argv[i + 1]));
    }
    let mut scratch = config.clone();
    for (param, value) in &params {
        scratch
            .set(*param, value)
            .map_err(|reason| CmdError::ConfigSetFailed {
                name: param.name().into(),
                reason,
            })?;
    }
    Ok(params
        .into_iter()
        .map(|(p, v)| (p.name().to_string(), v.to_vec()))
        .collect())
}

/// Applies validated pairs on one thread.
pub fn apply_set(node: &mut Node, pairs: &[(String, Vec<u8>)]) {
    for (name, value) in pairs {
        let param = Param::lookup(name.as_bytes()).expect("CONFIG SET names were validated");
        if let Err(reason) = node.config.set(param, value) {
            unreachable!("CONFIG SET {name} was validated, yet: {reason}");
        }
    }
    node.shard.maxmemory_policy = node.config.maxmemory_policy;
}

/// CONFIG RESETSTAT on one thread: the counters INFO reports, not the data or the clients.
pub fn reset_stats(node: &mut Node) {
    node.counters = Default::default();
    node.shard.stats = Default::default();
}

pub const HELP_LINES: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern> [<pattern> ...]",
    "    Return parameters matching the glob-like <pattern>s and their values.",
    "SET <directive> <value> [<directive> <value> ...]",
    "    Set the configuration <directive>s to <value>s, all or none.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "HELP",
    "    Print this help.",
];
