//! Connection and server commands' rows: PING, ECHO, HELLO, AUTH, QUIT, RESET, SELECT, TIME,
//! LASTSAVE, SAVE, BGSAVE, DEBUG, SHUTDOWN, INFO and the CLIENT, COMMAND and CONFIG containers,
//! as Redis 7.0.15 lists them. The node runs them (`node::commands::server` and its siblings):
//! they read or change connections, the node's config and every thread's state.

use crate::cmd::{acl, flag, CommandSpec, ConnCmd, Docs, Exec, Family, NodeCmd};

/// The Redis version we answer as (HELLO, INFO): clients pick features by it.
pub const REDIS_VERSION_COMPAT: &str = "7.0.15";

/// Server rows carry no type category; their docs name their own group (server, connection).
const fn docs(
    summary: &'static str,
    since: &'static str,
    group: &'static str,
    complexity: &'static str,
) -> Docs {
    Family { group, acl: 0 }.docs(summary, since, complexity)
}

const SERVER_ROWS: Family = Family {
    group: "server",
    acl: 0,
};

const fn conn(
    name: &'static str,
    arity: i16,
    flags: u32,
    acl_cats: u32,
    cmd: ConnCmd,
    docs: Docs,
) -> CommandSpec {
    SERVER_ROWS.keyless(name, arity, flags, acl_cats, Exec::Conn(cmd), docs)
}

const fn node(
    name: &'static str,
    arity: i16,
    flags: u32,
    acl_cats: u32,
    cmd: NodeCmd,
    docs: Docs,
) -> CommandSpec {
    SERVER_ROWS.keyless(name, arity, flags, acl_cats, Exec::Node(cmd), docs)
}

const C: u32 = acl::CONNECTION;
const LS: u32 = flag::LOADING | flag::STALE;
const NLS: u32 = flag::NOSCRIPT | LS;
const ANLS: u32 = flag::ADMIN | NLS;
/// HELLO, AUTH, QUIT, RESET: usable before authentication and while busy.
const HANDSHAKE: u32 = NLS | flag::FAST | flag::NO_AUTH | flag::ALLOW_BUSY;
const O1: &str = "O(1)";
const CONN: &str = "connection";
const SERVER: &str = "server";
const HELP_SUMMARY: &str = "Show helpful text about the different subcommands";
const CLIENTS_N: &str = "O(N) where N is the number of client connections";

pub const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    conn(
        "client|id",
        2,
        NLS,
        C,
        ConnCmd::ClientId,
        docs(
            "Returns the client ID for the current connection",
            "5.0.0",
            CONN,
            O1,
        ),
    ),
    conn(
        "client|setname",
        3,
        NLS,
        C,
        ConnCmd::ClientSetName,
        docs("Set the current connection name", "2.6.9", CONN, O1),
    ),
    conn(
        "client|getname",
        2,
        NLS,
        C,
        ConnCmd::ClientGetName,
        docs("Get the current connection name", "2.6.9", CONN, O1),
    ),
    conn(
        "client|info",
        2,
        NLS,
        C,
        ConnCmd::ClientInfo,
        docs(
            "Returns information about the current client connection.",
            "6.2.0",
            CONN,
            O1,
        ),
    ),
    conn(
        "client|no-evict",
        3,
        ANLS,
        C,
        ConnCmd::ClientNoEvict,
        docs(
            "Set client eviction mode for the current connection",
            "7.0.0",
            CONN,
            O1,
        ),
    ),
    conn(
        "client|help",
        2,
        LS,
        C,
        ConnCmd::ClientHelp,
        docs(HELP_SUMMARY, "5.0.0", CONN, O1),
    ),
    node(
        "client|list",
        -2,
        ANLS,
        C,
        NodeCmd::ClientList,
        docs(
            "Get the list of client connections",
            "2.4.0",
            CONN,
            CLIENTS_N,
        ),
    ),
    node(
        "client|kill",
        -3,
        ANLS,
        C,
        NodeCmd::ClientKill,
        docs("Kill the connection of a client", "2.4.0", CONN, CLIENTS_N),
    ),
    node(
        "client|unblock",
        -3,
        ANLS,
        C,
        NodeCmd::ClientUnblock,
        docs(
            "Unblock a client blocked in a blocking command from a different connection",
            "5.0.0",
            CONN,
            "O(log N) where N is the number of client connections",
        ),
    ),
];

const LOOKUP_N: &str = "O(N) where N is the number of commands to look up";
const COMMANDS_N: &str = "O(N) where N is the total number of Redis commands";

pub const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    conn(
        "command|count",
        2,
        LS,
        C,
        ConnCmd::CommandCount,
        docs("Get total number of Redis commands", "2.8.13", SERVER, O1),
    ),
    conn(
        "command|info",
        -2,
        LS,
        C,
        ConnCmd::CommandInfo,
        docs(
            "Get array of specific Redis command details, or all when no argument is given.",
            "2.8.13",
            SERVER,
            LOOKUP_N,
        ),
    ),
    conn(
        "command|docs",
        -2,
        LS,
        C,
        ConnCmd::CommandDocs,
        docs(
            "Get array of specific Redis command documentation",
            "7.0.0",
            SERVER,
            LOOKUP_N,
        ),
    ),
    conn(
        "command|list",
        -2,
        LS,
        C,
        ConnCmd::CommandList,
        docs(
            "Get an array of Redis command names",
            "7.0.0",
            SERVER,
            COMMANDS_N,
        ),
    ),
    conn(
        "command|getkeys",
        -4,
        LS,
        C,
        ConnCmd::CommandGetKeys,
        docs(
            "Extract keys given a full Redis command",
            "2.8.13",
            SERVER,
            "O(N) where N is the number of arguments to the command",
        ),
    ),
    conn(
        "command|getkeysandflags",
        -4,
        LS,
        C,
        ConnCmd::CommandGetKeysAndFlags,
        docs(
            "Extract keys and access flags given a full Redis command",
            "7.0.0",
            SERVER,
            "O(N) where N is the number of arguments to the command",
        ),
    ),
    conn(
        "command|help",
        2,
        LS,
        C,
        ConnCmd::CommandHelp,
        docs(HELP_SUMMARY, "5.0.0", SERVER, O1),
    ),
];

const PARAMS_N: &str = "O(N) when N is the number of configuration parameters provided";

pub const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    conn(
        "config|get",
        -3,
        ANLS,
        0,
        ConnCmd::ConfigGet,
        docs(
            "Get the values of configuration parameters",
            "2.0.0",
            SERVER,
            PARAMS_N,
        ),
    ),
    node(
        "config|set",
        -4,
        ANLS,
        0,
        NodeCmd::ConfigSet,
        docs(
            "Set configuration parameters to the given values",
            "2.0.0",
            SERVER,
            PARAMS_N,
        ),
    ),
    node(
        "config|resetstat",
        2,
        ANLS,
        0,
        NodeCmd::ConfigResetStat,
        docs("Reset the stats returned by INFO", "2.0.0", SERVER, O1),
    ),
    conn(
        "config|help",
        2,
        LS,
        0,
        ConnCmd::ConfigHelp,
        docs(HELP_SUMMARY, "5.0.0", SERVER, O1),
    ),
];

const A: u32 = flag::ADMIN | LS;

/// In Redis's order (COMMAND DOCS lists subcommands as its table holds them).
pub const SLOWLOG_SUBCOMMANDS: &[CommandSpec] = &[
    node(
        "slowlog|reset",
        2,
        A,
        0,
        NodeCmd::SlowlogReset,
        docs(
            "Clear all entries from the slow log",
            "2.2.12",
            SERVER,
            "O(N) where N is the number of entries in the slowlog",
        ),
    ),
    node(
        "slowlog|len",
        2,
        A,
        0,
        NodeCmd::SlowlogLen,
        docs("Get the slow log's length", "2.2.12", SERVER, O1),
    ),
    conn(
        "slowlog|help",
        2,
        LS,
        0,
        ConnCmd::SlowlogHelp,
        docs(HELP_SUMMARY, "6.2.0", SERVER, O1),
    ),
    node(
        "slowlog|get",
        -2,
        A,
        0,
        NodeCmd::SlowlogGet,
        docs(
            "Get the slow log's entries",
            "2.2.12",
            SERVER,
            "O(N) where N is the number of entries returned",
        ),
    ),
];

const BY_SUBCOMMAND: &str = "Depends on subcommand.";
const AUTH_N: &str = "O(N) where N is the number of passwords defined for the user";
const SHUTDOWN_SUMMARY: &str =
    "Synchronously save the dataset to disk and then shut down the server";
const SHUTDOWN_N: &str = "O(N) when saving, where N is the total number of keys in all databases \
    when saving data, otherwise O(1)";
const LASTSAVE_SUMMARY: &str = "Get the UNIX time stamp of the last successful save to disk";
const SAVE_N: &str = "O(N) where N is the total number of keys in all databases";
/// SAVE and BGSAVE: Redis's `admin noscript no_async_loading`, @admin @slow @dangerous.
const SAVE_FLAGS: u32 = flag::ADMIN | flag::NOSCRIPT | flag::NO_ASYNC_LOADING;
const SAVE_ACL: u32 = acl::ADMIN | acl::DANGEROUS;

pub const SPECS: &[CommandSpec] = &[
    conn(
        "ping",
        -1,
        flag::FAST,
        C,
        ConnCmd::Ping,
        docs("Ping the server", "1.0.0", CONN, O1),
    ),
    conn(
        "echo",
        2,
        LS | flag::FAST,
        C,
        ConnCmd::Echo,
        docs("Echo the given string", "1.0.0", CONN, O1),
    ),
    conn(
        "hello",
        -1,
        HANDSHAKE,
        C,
        ConnCmd::Hello,
        docs("Handshake with Redis", "6.0.0", CONN, O1),
    ),
    conn(
        "auth",
        -2,
        HANDSHAKE,
        C,
        ConnCmd::Auth,
        docs("Authenticate to the server", "1.0.0", CONN, AUTH_N),
    ),
    conn(
        "quit",
        -1,
        HANDSHAKE,
        C,
        ConnCmd::Quit,
        docs("Close the connection", "1.0.0", CONN, O1),
    ),
    conn(
        "reset",
        1,
        HANDSHAKE,
        C,
        ConnCmd::Reset,
        docs("Reset the connection", "6.2.0", CONN, O1),
    ),
    conn(
        "select",
        2,
        LS | flag::FAST,
        C,
        ConnCmd::Select,
        docs(
            "Change the selected database for the current connection",
            "1.0.0",
            CONN,
            O1,
        ),
    ),
    conn(
        "time",
        1,
        LS | flag::FAST,
        0,
        ConnCmd::Time,
        docs("Return the current server time", "2.6.0", SERVER, O1),
    ),
    conn(
        "lastsave",
        1,
        LS | flag::FAST,
        acl::ADMIN | acl::DANGEROUS,
        ConnCmd::LastSave,
        docs(LASTSAVE_SUMMARY, "1.0.0", SERVER, O1),
    ),
    conn(
        "shutdown",
        -1,
        ANLS | flag::NO_MULTI | flag::ALLOW_BUSY,
        0,
        ConnCmd::Shutdown,
        docs(SHUTDOWN_SUMMARY, "1.0.0", SERVER, SHUTDOWN_N),
    ),
    node(
        "save",
        1,
        SAVE_FLAGS | flag::NO_MULTI,
        SAVE_ACL,
        NodeCmd::Save,
        docs(
            "Synchronously save the dataset to disk",
            "1.0.0",
            SERVER,
            SAVE_N,
        ),
    ),
    node(
        "bgsave",
        -1,
        SAVE_FLAGS,
        SAVE_ACL,
        NodeCmd::BgSave,
        docs(
            "Asynchronously save the dataset to disk",
            "1.0.0",
            SERVER,
            O1,
        ),
    ),
    conn(
        "debug",
        -2,
        ANLS,
        0,
        ConnCmd::DebugSleep,
        docs(
            "A container for debugging commands",
            "1.0.0",
            SERVER,
            BY_SUBCOMMAND,
        ),
    ),
    node(
        "info",
        -1,
        LS,
        acl::DANGEROUS,
        NodeCmd::Info,
        docs(
            "Get information and statistics about the server",
            "1.0.0",
            SERVER,
            O1,
        ),
    ),
    SERVER_ROWS.container(
        "client",
        -2,
        0,
        0,
        CLIENT_SUBCOMMANDS,
        docs(
            "A container for client connection commands",
            "2.4.0",
            CONN,
            BY_SUBCOMMAND,
        ),
    ),
    SERVER_ROWS.container(
        "command",
        -1,
        LS,
        C,
        COMMAND_SUBCOMMANDS,
        docs(
            "Get array of Redis command details",
            "2.8.13",
            SERVER,
            COMMANDS_N,
        ),
    ),
    SERVER_ROWS.container(
        "config",
        -2,
        0,
        0,
        CONFIG_SUBCOMMANDS,
        docs(
            "A container for server configuration commands",
            "2.0.0",
            SERVER,
            BY_SUBCOMMAND,
        ),
    ),
    SERVER_ROWS.container(
        "slowlog",
        -2,
        0,
        0,
        SLOWLOG_SUBCOMMANDS,
        docs(
            "A container for slow log commands",
            "2.2.12",
            SERVER,
            BY_SUBCOMMAND,
        ),
    ),
];

/// The upper-case name Redis uses in "Try CLIENT HELP." for a container.
pub fn container_name(spec: &CommandSpec) -> &'static str {
    match spec.name {
        "client" => "CLIENT",
        "command" => "COMMAND",
        "config" => "CONFIG",
        "object" => "OBJECT",
        "debug" => "DEBUG",
        "memory" => "MEMORY",
        "pubsub" => "PUBSUB",
        "script" => "SCRIPT",
        "function" => "FUNCTION",
        "xgroup" => "XGROUP",
        "xinfo" => "XINFO",
        "slowlog" => "SLOWLOG",
        _ => "HELP",
    }
}

/// What a container runs when called without a subcommand (only COMMAND's arity allows it).
pub fn bare_container_cmd(spec: &CommandSpec) -> ConnCmd {
    assert_eq!(spec.name, "command", "{} needs a subcommand", spec.name);
    ConnCmd::CommandAll
}
