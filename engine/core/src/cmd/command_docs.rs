//! COMMAND and its subcommands: INFO, DOCS, COUNT, LIST, GETKEYS, HELP. Every answer is read
//! from the command table (`CommandSpec` rows), so what COMMAND reports is what dispatch does.
//!
//! COMMAND INFO has Redis 7.0's ten fields per row: name, arity, flags, first key, last key,
//! step, ACL categories, tips, key specs, subcommands. Flags, categories, tips and key specs are
//! RESP3 sets; a container's subcommands are an array, anyone else's an empty set. A test
//! compares every row with a live redis-server 7.0.
//!
//! Tips are not a `CommandSpec` field yet; `TIPS` holds Redis 7.0.15's tips by full name until
//! they move into the rows. COMMAND DOCS answers summary, since, group and complexity (and a
//! container's subcommands); it omits Redis's `arguments`, `history`, `doc_flags`,
//! `deprecated_since` and `replaced_by`, which the table does not model.

use crate::argv::Argv;
use crate::cmd::args::Args;
use crate::cmd::{acl, flag, keyflag, CommandSpec, CommandTable, Exec, KeySpec};
use crate::error::CmdError;
use crate::glob::glob_match;
use crate::reply::Reply;

/// Redis 7.0.15's command tips by full command name (COMMAND INFO's eighth field).
const TIPS: &[(&str, &[&str])] = &[
    ("client|info", &["nondeterministic_output"]),
    ("client|list", &["nondeterministic_output"]),
    ("cluster|bumpepoch", &["nondeterministic_output"]),
    (
        "cluster|count-failure-reports",
        &["nondeterministic_output"],
    ),
    ("cluster|getkeysinslot", &["nondeterministic_output"]),
    ("cluster|info", &["nondeterministic_output"]),
    ("cluster|links", &["nondeterministic_output"]),
    ("cluster|nodes", &["nondeterministic_output"]),
    ("cluster|replicas", &["nondeterministic_output"]),
    ("cluster|shards", &["nondeterministic_output"]),
    ("cluster|slaves", &["nondeterministic_output"]),
    ("cluster|slots", &["nondeterministic_output"]),
    ("command", &["nondeterministic_output_order"]),
    ("command|docs", &["nondeterministic_output_order"]),
    ("command|info", &["nondeterministic_output_order"]),
    ("command|list", &["nondeterministic_output_order"]),
    (
        "config|set",
        &["request_policy:all_nodes", "response_policy:all_succeeded"],
    ),
    (
        "dbsize",
        &["request_policy:all_shards", "response_policy:agg_sum"],
    ),
    (
        "del",
        &["request_policy:multi_shard", "response_policy:agg_sum"],
    ),
    ("dump", &["nondeterministic_output"]),
    (
        "exists",
        &["request_policy:multi_shard", "response_policy:agg_sum"],
    ),
    (
        "flushall",
        &["request_policy:all_shards", "response_policy:all_succeeded"],
    ),
    (
        "flushdb",
        &["request_policy:all_shards", "response_policy:all_succeeded"],
    ),
    (
        "function|delete",
        &["request_policy:all_shards", "response_policy:all_succeeded"],
    ),
    (
        "function|flush",
        &["request_policy:all_shards", "response_policy:all_succeeded"],
    ),
    (
        "function|kill",
        &["request_policy:all_shards", "response_policy:one_succeeded"],
    ),
    ("function|list", &["nondeterministic_output_order"]),
    (
        "function|load",
        &["request_policy:all_shards", "response_policy:all_succeeded"],
    ),
    (
        "function|restore",
        &["request_policy:all_shards", "response_policy:all_succeeded"],
    ),
    (
        "function|stats",
        &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
    ),
    ("hgetall", &["nondeterministic_output_order"]),
    ("hkeys", &["nondeterministic_output_order"]),
    ("hrandfield", &["nondeterministic_output"]),
    ("hscan", &["nondeterministic_output"]),
    ("hvals", &["nondeterministic_output_order"]),
    (
        "info",
        &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
    ),
    (
        "keys",
        &["request_policy:all_shards", "nondeterministic_output_order"],
    ),
    ("lastsave", &["nondeterministic_output"]),
    (
        "latency|doctor",
        &[
            "nondeterministic_output",
            "request_policy:all_nodes",
            "response_policy:special",
        ],
    ),
    (
        "latency|graph",
        &[
            "nondeterministic_output",
            "request_policy:all_nodes",
            "response_policy:special",
        ],
    ),
    (
        "latency|histogram",
        &[
            "nondeterministic_output",
            "request_policy:all_nodes",
            "response_policy:special",
        ],
    ),
    (
        "latency|history",
        &[
            "nondeterministic_output",
            "request_policy:all_nodes",
            "response_policy:special",
        ],
    ),
    (
        "latency|latest",
        &[
            "nondeterministic_output",
            "request_policy:all_nodes",
            "response_policy:special",
        ],
    ),
    (
        "latency|reset",
        &["request_policy:all_nodes", "response_policy:all_succeeded"],
    ),
    (
        "memory|doctor",
        &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
    ),
    (
        "memory|malloc-stats",
        &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
    ),
    (
        "memory|purge",
        &["request_policy:all_shards", "response_policy:all_succeeded"],
    ),
    (
        "memory|stats",
        &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
    ),
    ("mget", &["request_policy:multi_shard"]),
    ("migrate", &["nondeterministic_output"]),
    ("module|list", &["nondeterministic_output_order"]),
    (
        "mset",
        &[
            "request_policy:multi_shard",
            "response_policy:all_succeeded",
        ],
    ),
    (
        "msetnx",
        &["request_policy:multi_shard", "response_policy:agg_min"],
    ),
    ("object|encoding", &["nondeterministic_output"]),
    ("object|freq", &["nondeterministic_output"]),
    ("object|idletime", &["nondeterministic_output"]),
    ("object|refcount", &["nondeterministic_output"]),
    (
        "ping",
        &["request_policy:all_shards", "response_policy:all_succeeded"],
    ),
    ("pttl", &["nondeterministic_output"]),
    (
        "randomkey",
        &["request_policy:all_shards", "nondeterministic_output"],
    ),
    (
        "scan",
        &["nondeterministic_output", "request_policy:special"],
    ),
    (
        "script|exists",
        &[
            "request_policy:all_shards",
            "response_policy:agg_logical_and",
        ],
    ),
    (
        "script|flush",
        &["request_policy:all_nodes", "response_policy:all_succeeded"],
    ),
    (
        "script|kill",
        &["request_policy:all_shards", "response_policy:one_succeeded"],
    ),
    (
        "script|load",
        &["request_policy:all_nodes", "response_policy:all_succeeded"],
    ),
    ("sdiff", &["nondeterministic_output_order"]),
    ("sinter", &["nondeterministic_output_order"]),
    (
        "slowlog|get",
        &["request_policy:all_nodes", "nondeterministic_output"],
    ),
    (
        "slowlog|len",
        &[
            "request_policy:all_nodes",
            "response_policy:agg_sum",
            "nondeterministic_output",
        ],
    ),
    (
        "slowlog|reset",
        &["request_policy:all_nodes", "response_policy:all_succeeded"],
    ),
    ("smembers", &["nondeterministic_output_order"]),
    ("spop", &["nondeterministic_output"]),
    ("srandmember", &["nondeterministic_output"]),
    ("sscan", &["nondeterministic_output"]),
    ("sunion", &["nondeterministic_output_order"]),
    ("time", &["nondeterministic_output"]),
    (
        "touch",
        &["request_policy:multi_shard", "response_policy:agg_sum"],
    ),
    ("ttl", &["nondeterministic_output"]),
    (
        "unlink",
        &["request_policy:multi_shard", "response_policy:agg_sum"],
    ),
    (
        "wait",
        &["request_policy:all_shards", "response_policy:agg_min"],
    ),
    ("xadd", &["nondeterministic_output"]),
    ("xautoclaim", &["nondeterministic_output"]),
    ("xclaim", &["nondeterministic_output"]),
    ("xinfo|consumers", &["nondeterministic_output"]),
    ("xpending", &["nondeterministic_output"]),
    ("xtrim", &["nondeterministic_output"]),
    ("zrandmember", &["nondeterministic_output"]),
    ("zscan", &["nondeterministic_output"]),
];

fn tips(name: &str) -> &'static [&'static str] {
    TIPS.binary_search_by(|(n, _)| n.cmp(&name))
        .map_or(&[], |i| TIPS[i].1)
}

fn bulk_str(text: &str) -> Reply {
    Reply::bulk(text.as_bytes())
}

fn key_spec_reply(spec: &KeySpec) -> Reply {
    let flags = keyflag::NAMES
        .iter()
        .filter(|(bit, _)| spec.flags & bit != 0)
        .map(|(_, name)| Reply::simple(name))
        .collect();
    let begin = Reply::Map(vec![
        (bulk_str("type"), bulk_str("index")),
        (
            bulk_str("spec"),
            Reply::Map(vec![(bulk_str("index"), Reply::Int(i64::from(spec.begin)))]),
        ),
    ]);
    let find = Reply::Map(vec![
        (bulk_str("type"), bulk_str("range")),
        (
            bulk_str("spec"),
            Reply::Map(vec![
                (bulk_str("lastkey"), Reply::Int(i64::from(spec.last))),
                (bulk_str("keystep"), Reply::Int(i64::from(spec.step))),
                (bulk_str("limit"), Reply::Int(0)),
            ]),
        ),
    ]);
    Reply::Map(vec![
        (bulk_str("flags"), Reply::Set(flags)),
        (bulk_str("begin_search"), begin),
        (bulk_str("find_keys"), find),
    ])
}

/// One COMMAND INFO row, with Redis 7.0's ten fields.
pub fn info_reply(spec: &CommandSpec) -> Reply {
    let flags = flag::NAMES
        .iter()
        .filter(|(bit, _)| spec.has(*bit))
        .map(|(_, name)| Reply::simple(name))
        .collect();
    let cats = spec.acl_categories();
    let categories = acl::NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| cats & (1 << i) != 0)
        .map(|(_, name)| Reply::Simple(format!("@{name}").into()))
        .collect();
    let (first, last, step) = spec.legacy_range();
    let subcommands = if spec.subcommands.is_empty() {
        Reply::Set(Vec::new())
    } else {
        Reply::Array(spec.subcommands.iter().map(info_reply).collect())
    };
    Reply::Array(vec![
        bulk_str(spec.name),
        Reply::Int(i64::from(spec.arity)),
        Reply::Set(flags),
        Reply::Int(first),
        Reply::Int(last),
        Reply::Int(step),
        Reply::Set(categories),
        Reply::Set(tips(spec.name).iter().map(|t| bulk_str(t)).collect()),
        Reply::Set(spec.keys.iter().map(key_spec_reply).collect()),
        subcommands,
    ])
}

/// A name as COMMAND INFO/DOCS take it: "get", or "client|list" for a subcommand.
fn lookup_full_name(table: &CommandTable, name: &[u8]) -> Option<&'static CommandSpec> {
    match name.iter().position(|&b| b == b'|') {
        None => table.lookup(name),
        Some(bar) => {
            let parent = table.lookup(&name[..bar])?;
            CommandTable::subcommand(parent, &name[bar + 1..])
        }
    }
}

/// COMMAND INFO [name…], and COMMAND alone: every row when no name is given.
pub fn command_info(table: &CommandTable, argv: &Argv, names_from: usize) -> Reply {
    if argv.len() <= names_from {
        return Reply::Array(table.iter().map(info_reply).collect());
    }
    let rows = argv
        .iter()
        .skip(names_from)
        .map(|name| lookup_full_name(table, name).map_or(Reply::Nil, info_reply))
        .collect();
    Reply::Array(rows)
}

fn docs_reply(spec: &CommandSpec) -> Reply {
    let docs = &spec.docs;
    let mut fields = vec![
        (bulk_str("summary"), bulk_str(docs.summary)),
        (bulk_str("since"), bulk_str(docs.since)),
        (bulk_str("group"), bulk_str(docs.group)),
        (bulk_str("complexity"), bulk_str(docs.complexity)),
    ];
    if !spec.subcommands.is_empty() {
        let subs = spec
            .subcommands
            .iter()
            .map(|s| (bulk_str(s.name), docs_reply(s)))
            .collect();
        fields.push((bulk_str("subcommands"), Reply::Map(subs)));
    }
    Reply::Map(fields)
}

/// COMMAND DOCS [name…]: a map from name to docs; unknown names are left out.
pub fn command_docs(table: &CommandTable, argv: &Argv) -> Reply {
    let entries = if argv.len() <= 2 {
        table
            .iter()
            .map(|s| (bulk_str(s.name), docs_reply(s)))
            .collect()
    } else {
        argv.iter()
            .skip(2)
            .filter_map(|name| lookup_full_name(table, name))
            .map(|s| (bulk_str(s.name), docs_reply(s)))
            .collect()
    };
    Reply::Map(entries)
}

/// COMMAND LIST's optional filter.
enum ListFilter {
    All,
    /// We load no modules, so nothing matches.
    Module,
    AclCategory(u32),
    Pattern(Vec<u8>),
}

fn parse_list_filter(argv: &Argv) -> Result<ListFilter, CmdError> {
    let mut args = Args::new(argv, 2);
    if args.is_done() {
        return Ok(ListFilter::All);
    }
    if !args.eat("FILTERBY") {
        return Err(CmdError::Syntax);
    }
    let filter = if args.eat("MODULE") {
        args.next_arg()?;
        ListFilter::Module
    } else if args.eat("ACLCAT") {
        let name = args.next_arg()?;
        // An unknown category matches nothing, as in Redis.
        let bit = acl::NAMES
            .iter()
            .position(|n| n.as_bytes().eq_ignore_ascii_case(name))
            .map_or(0, |i| 1 << i);
        ListFilter::AclCategory(bit)
    } else if args.eat("PATTERN") {
        ListFilter::Pattern(args.next_arg()?.to_vec())
    } else {
        return Err(CmdError::Syntax);
    };
    args.finish()?;
    Ok(filter)
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: every command and
/// subcommand name that passes.
pub fn command_list(table: &CommandTable, argv: &Argv) -> Result<Reply, CmdError> {
    let filter = parse_list_filter(argv)?;
    let keep = |spec: &CommandSpec| match &filter {
        ListFilter::All => true,
        ListFilter::Module => false,
        ListFilter::AclCategory(bit) => spec.acl_categories() & bit != 0,
        ListFilter::Pattern(pattern) => glob_match(pattern, spec.name.as_bytes(), true),
    };
    let names = table
        .iter()
        .flat_map(|s| std::iter::once(s).chain(s.subcommands))
        .filter(|s| keep(s))
        .map(|s| bulk_str(s.name))
        .collect();
    Ok(Reply::Array(names))
}

/// COMMAND GETKEYS command arg…: the keys the command's key specs find.
pub fn command_getkeys(table: &CommandTable, argv: &Argv) -> Result<Reply, CmdError> {
    let target = &argv.iter().skip(2).collect::<Vec<_>>();
    let mut spec = table
        .lookup(target[0])
        .ok_or(CmdError::InvalidCommandSpecified)?;
    if let (Exec::Container, Some(sub)) = (spec.exec, target.get(1)) {
        spec = CommandTable::subcommand(spec, sub).ok_or(CmdError::InvalidCommandSpecified)?;
    }
    if spec.keys.iter().all(|k| k.flags & keyflag::NOT_KEY != 0) {
        return Err(CmdError::CommandHasNoKeys);
    }
    if !spec.arity_ok(target.len()) {
        return Err(CmdError::InvalidArgCountForCommand);
    }
    let keys: Vec<Reply> = spec
        .key_indexes(target.len())
        .into_iter()
        .map(|i| Reply::bulk(target[i]))
        .collect();
    if keys.is_empty() && !spec.has(flag::NO_MANDATORY_KEYS) {
        return Err(CmdError::InvalidArgsForCommand);
    }
    Ok(Reply::Array(keys))
}

pub const HELP_LINES: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all commands.",
    "COUNT",
    "    Return the total number of commands in this server.",
    "LIST [FILTERBY (MODULE <name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Return a list of all commands in this server, optionally filtered.",
    "INFO [<command-name> ...]",
    "    Return details about multiple commands.",
    "    If no command names are given, details for all commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full command.",
    "HELP",
    "    Print this help.",
];

/// A HELP reply: an array of simple strings, as every Redis HELP subcommand answers.
pub fn help_reply(lines: &[&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::simple(l)).collect())
}
