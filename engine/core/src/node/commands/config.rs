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
    let (maxmemory, policy) = (node.config.maxmemory_bytes, node.config.maxmemory_policy);
    node.shard
        .set_memory_limits(maxmemory, node.threads, policy);
    node.shard.limits = node.config.collection_limits();
}

/// CONFIG RESETSTAT on one thread: the counters INFO reports, not the data or the clients.
pub fn reset_stats(node: &mut Node) {
    node.counters = Default::default();
    node.shard.stats = Default::default();
    node.observed = Default::default();
    node.rates = Default::default();
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

#[cfg(test)]
mod tests {
    use crate::config::MaxmemoryPolicy;
    use crate::node::commands::server::test_util::{with_password, THREADS};
    use crate::testkit::TestCluster;

    fn pair(name: &str, value: &str) -> String {
        format!(
            "${}\r\n{name}\r\n${}\r\n{value}\r\n",
            name.len(),
            value.len()
        )
    }

    #[test]
    fn get_takes_several_patterns_and_echoes_exact_names() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let reply = c.cmd_text(conn, &["CONFIG", "GET", "maxc*", "port"]);
            assert_eq!(
                reply,
                format!(
                    "*4\r\n{}{}",
                    pair("maxclients", "10000"),
                    pair("port", "6379")
                )
            );
            let reply = c.cmd_text(conn, &["CONFIG", "GET", "PORT", "port", "po*"]);
            assert_eq!(reply, format!("*2\r\n{}", pair("PORT", "6379")));
            assert_eq!(c.cmd_text(conn, &["CONFIG", "GET", "nosuch"]), "*0\r\n");
            c.cmd(conn, &["HELLO", "3"]);
            let reply = c.cmd_text(conn, &["CONFIG", "GET", "requirepass", "maxmemory-p?licy"]);
            assert_eq!(
                reply,
                format!(
                    "%2\r\n{}{}",
                    pair("requirepass", ""),
                    pair("maxmemory-policy", "noeviction")
                )
            );
            assert_eq!(
                c.cmd_text(conn, &["CONFIG", "GET"]),
                "-ERR wrong number of arguments for 'config|get' command\r\n"
            );
        }
    }

    #[test]
    fn set_applies_several_pairs_on_every_thread() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let args = [
                "CONFIG",
                "SET",
                "maxclients",
                "20",
                "hz",
                "1000",
                "maxmemory",
                "1gb",
            ];
            assert_eq!(c.cmd_text(conn, &args), "+OK\r\n");
            let other = c.connect(threads - 1);
            let reply = c.cmd_text(other, &["CONFIG", "GET", "maxclients", "hz", "maxmemory"]);
            let expected = [
                pair("maxclients", "20"),
                pair("hz", "500"),
                pair("maxmemory", "1073741824"),
            ];
            assert_eq!(reply, format!("*6\r\n{}", expected.concat()));
            for t in 0..threads {
                assert_eq!(c.node(t).config.maxclients, 20);
            }
        }
    }

    fn failed(name: &str, why: &str) -> String {
        format!("-ERR CONFIG SET failed (possibly related to argument '{name}') - {why}\r\n")
    }

    /// Runs each case on 1 and 3 threads, then checks that nothing was applied.
    fn assert_refused(cases: &[(&[&str], String)]) {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            for (args, reply) in cases {
                assert_eq!(c.cmd_text(conn, args), *reply, "{args:?}");
            }
            let reply = c.cmd_text(conn, &["CONFIG", "GET", "maxclients"]);
            assert_eq!(reply, format!("*2\r\n{}", pair("maxclients", "10000")));
        }
    }

    #[test]
    fn set_checks_every_name_before_any_value() {
        let unknown = "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n";
        let immutable = "can't set immutable config";
        assert_refused(&[
            (
                &["CONFIG", "SET", "maxclients", "10", "hz"],
                "-ERR syntax error\r\n".into(),
            ),
            (
                &["CONFIG", "SET", "hz", "abc", "nosuch", "1"],
                unknown.into(),
            ),
            (
                &["CONFIG", "SET", "port", "7000"],
                failed("port", immutable),
            ),
            (
                &["CONFIG", "SET", "databases", "2", "nosuch", "1"],
                failed("databases", immutable),
            ),
            (
                &["CONFIG", "SET", "dir", "/tmp"],
                failed("dir", "can't set protected config"),
            ),
            (
                &["CONFIG", "SET", "hz", "5", "HZ", "6"],
                failed("hz", "duplicate parameter"),
            ),
        ]);
    }

    #[test]
    fn set_parses_values_like_redis_and_applies_none_on_error() {
        let policies = "argument(s) must be one of the following: volatile-lru, volatile-lfu, \
            volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction";
        let events = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
        let bulk_range = "argument must be between 1048576 and 9223372036854775807 inclusive";
        assert_refused(&[
            (
                &["CONFIG", "SET", "maxclients", "10", "hz", "abc"],
                failed("hz", "argument couldn't be parsed into an integer"),
            ),
            (
                &["CONFIG", "SET", "maxclients", "0"],
                failed(
                    "maxclients",
                    "argument must be between 1 and 4294967295 inclusive",
                ),
            ),
            (
                &["CONFIG", "SET", "proto-max-bulk-len", "100"],
                failed("proto-max-bulk-len", bulk_range),
            ),
            (
                &["CONFIG", "SET", "maxmemory", "-1"],
                failed("maxmemory", "argument must be a memory value"),
            ),
            (
                &["CONFIG", "SET", "appendonly", "maybe"],
                failed("appendonly", "argument must be 'yes' or 'no'"),
            ),
            (
                &["CONFIG", "SET", "maxmemory-policy", "foo"],
                failed("maxmemory-policy", policies),
            ),
            (
                &["CONFIG", "SET", "save", "1 2 3"],
                failed("save", "Invalid save parameters"),
            ),
            (
                &["CONFIG", "SET", "notify-keyspace-events", "Q"],
                failed("notify-keyspace-events", events),
            ),
        ]);
    }

    #[test]
    fn set_requirepass_applies_to_new_connections_on_every_thread() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            assert_eq!(
                c.cmd_text(conn, &["CONFIG", "SET", "requirepass", "pw"]),
                "+OK\r\n"
            );
            assert_eq!(c.cmd_text(conn, &["PING"]), "+PONG\r\n");
            for t in 0..threads {
                let fresh = c.connect(t);
                assert_eq!(
                    c.cmd_text(fresh, &["PING"]),
                    "-NOAUTH Authentication required.\r\n"
                );
                assert_eq!(c.cmd_text(fresh, &["AUTH", "pw"]), "+OK\r\n");
            }
            // An empty password switches authentication off again.
            c.cmd(conn, &["CONFIG", "SET", "requirepass", ""]);
            let fresh = c.connect(threads - 1);
            assert_eq!(c.cmd_text(fresh, &["PING"]), "+PONG\r\n");
        }
    }

    #[test]
    fn set_requirepass_from_a_password_protected_start() {
        let mut c = with_password(3, "old");
        let conn = c.connect(1);
        c.cmd(conn, &["AUTH", "old"]);
        assert_eq!(
            c.cmd_text(conn, &["CONFIG", "SET", "requirepass", "new"]),
            "+OK\r\n"
        );
        let fresh = c.connect(2);
        assert_eq!(
            c.cmd_text(fresh, &["AUTH", "old"]),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(c.cmd_text(fresh, &["AUTH", "new"]), "+OK\r\n");
    }

    #[test]
    fn set_maxclients_refuses_later_connections() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            assert_eq!(
                c.cmd_text(conn, &["CONFIG", "SET", "maxclients", "1"]),
                "+OK\r\n"
            );
            let refused = c.connect(threads - 1);
            assert_eq!(
                c.take_output(refused),
                b"-ERR max number of clients reached\r\n"
            );
            assert!(c.is_closed(refused));
        }
    }

    #[test]
    fn set_proto_max_bulk_len_limits_new_connections() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            assert_eq!(
                c.cmd_text(conn, &["CONFIG", "SET", "proto-max-bulk-len", "1mb"]),
                "+OK\r\n"
            );
            let fresh = c.connect(threads - 1);
            let reply = c.send(fresh, b"*2\r\n$4\r\nECHO\r\n$2000000\r\n");
            assert_eq!(reply, b"-ERR Protocol error: invalid bulk length\r\n");
            assert!(c.is_closed(fresh));
            for t in 0..threads {
                assert_eq!(c.node(t).config.resp_limits().bulk_len_max_bytes, 1 << 20);
            }
        }
    }

    #[test]
    fn set_maxmemory_policy_reaches_every_shard() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let args = ["CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LFU"];
            assert_eq!(c.cmd_text(conn, &args), "+OK\r\n");
            for t in 0..threads {
                assert_eq!(
                    c.node(t).shard().maxmemory_policy,
                    MaxmemoryPolicy::AllkeysLfu
                );
                assert!(c.node(t).shard().maxmemory_policy.is_lfu());
            }
            let reply = c.cmd_text(conn, &["CONFIG", "GET", "maxmemory-policy"]);
            assert_eq!(
                reply,
                format!("*2\r\n{}", pair("maxmemory-policy", "allkeys-lfu"))
            );
        }
    }

    #[test]
    fn resetstat_zeroes_the_counters_of_every_thread() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conns: Vec<_> = (0..threads).map(|t| c.connect(t)).collect();
            for conn in &conns {
                c.cmd(*conn, &["GET", "missing"]);
            }
            assert_eq!(c.cmd_text(conns[0], &["CONFIG", "RESETSTAT"]), "+OK\r\n");
            let info = c.cmd_text(conns[0], &["INFO", "stats"]);
            assert!(info.contains("total_commands_processed:1\r\n"), "{info}");
            assert!(info.contains("keyspace_misses:0\r\n"), "{info}");
            assert!(info.contains("total_connections_received:0\r\n"), "{info}");
        }
    }

    #[test]
    fn help_is_an_array_of_simple_strings() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        let help = c.cmd_text(conn, &["CONFIG", "HELP"]);
        let lines = super::HELP_LINES.len();
        assert!(
            help.starts_with(&format!("*{lines}\r\n+CONFIG <subcommand>")),
            "{help}"
        );
        assert_eq!(help.matches("\r\n+").count(), lines);
    }
}
