//! Connection and server commands: PING, ECHO, HELLO, AUTH, SELECT, CLIENT, COMMAND, CONFIG,
//! INFO, TIME… Most are answered by the connection alone (`ConnCmd`); INFO, CLIENT LIST/KILL and
//! CONFIG SET gather from or apply to every thread (`NodeCmd`).

use std::borrow::Cow;

use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64};
use crate::cmd::{acl, flag, CommandSpec, CommandTable, ConnCmd, Docs, Exec, NodeCmd};
use crate::config::Config;
use crate::conn::Conn;
use crate::coord::{CmdErrorOrReply, Targets};
use crate::cx::{ConnId, ConnOpen, Cx, ThreadId};
use crate::error::CmdError;
use crate::hop::{NodeOp, NodeResult};
use crate::node::{Node, NodeCounters};
use crate::reply::Reply;
use crate::resp::RespVersion;
use crate::shard::ShardStats;

/// The Redis version we answer as (HELLO, INFO): clients pick features by it.
pub const REDIS_VERSION_COMPAT: &str = "7.0.15";

/// Facts about the process the driver hands the engine at start.
#[derive(Clone, Debug, Default)]
pub struct ServerInfo {
    pub damselfly_version: String,
    pub process_id: u32,
    pub tcp_port: u16,
    pub executable: String,
    pub config_file: String,
    pub os: String,
    pub arch_bits: u32,
    /// 40 hex characters, random per start (from the driver's seeded RNG).
    pub run_id: String,
    /// Monotonic time the server started, for uptime.
    pub started_mono_us: u64,
}

/// What a connection command asks the node to do besides replying.
pub enum ConnOutcome {
    Reply(Reply),
    /// Reply, then close once flushed (QUIT).
    Close(Reply),
    /// DEBUG SLEEP: reply OK after the pause, running nothing else meanwhile.
    Sleep {
        duration_us: u64,
    },
    Shutdown,
}

/// What a connection command sees.
pub struct ConnCx<'a> {
    pub conn: &'a mut Conn,
    pub config: &'a mut Config,
    pub server: &'a ServerInfo,
    pub table: &'a CommandTable,
    pub threads: u16,
    pub cx: &'a mut Cx,
}

const fn docs(summary: &'static str, since: &'static str, group: &'static str) -> Docs {
    Docs {
        summary,
        since,
        group,
        complexity: "O(1)",
    }
}

const fn conn(
    name: &'static str,
    arity: i16,
    flags: u32,
    acl_cats: u32,
    cmd: ConnCmd,
    docs: Docs,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl: acl_cats,
        keys: &[],
        exec: Exec::Conn(cmd),
        subcommands: &[],
        docs,
    }
}

const fn node(
    name: &'static str,
    arity: i16,
    flags: u32,
    acl_cats: u32,
    cmd: NodeCmd,
    docs: Docs,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl: acl_cats,
        keys: &[],
        exec: Exec::Node(cmd),
        subcommands: &[],
        docs,
    }
}

const fn container(
    name: &'static str,
    subcommands: &'static [CommandSpec],
    docs: Docs,
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -2,
        flags: 0,
        acl: 0,
        keys: &[],
        exec: Exec::Container,
        subcommands,
        docs,
    }
}

const CONN_FLAGS: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE;
const C: u32 = acl::CONNECTION;

pub const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    conn(
        "client|id",
        2,
        CONN_FLAGS,
        C,
        ConnCmd::ClientId,
        docs(
            "Returns the unique client ID of the connection.",
            "5.0.0",
            "connection",
        ),
    ),
    conn(
        "client|setname",
        3,
        CONN_FLAGS,
        C,
        ConnCmd::ClientSetName,
        docs("Sets the connection name.", "2.6.9", "connection"),
    ),
    conn(
        "client|getname",
        2,
        CONN_FLAGS,
        C,
        ConnCmd::ClientGetName,
        docs("Returns the name of the connection.", "2.6.9", "connection"),
    ),
    conn(
        "client|setinfo",
        4,
        CONN_FLAGS,
        C,
        ConnCmd::ClientSetInfo,
        docs(
            "Sets information specific to the client or connection.",
            "7.2.0",
            "connection",
        ),
    ),
    conn(
        "client|info",
        2,
        CONN_FLAGS,
        C,
        ConnCmd::ClientInfo,
        docs(
            "Returns information about the connection.",
            "6.2.0",
            "connection",
        ),
    ),
    conn(
        "client|no-evict",
        3,
        CONN_FLAGS | flag::ADMIN,
        C,
        ConnCmd::ClientNoEvict,
        docs(
            "Sets the client eviction mode of the connection.",
            "7.0.0",
            "connection",
        ),
    ),
    conn(
        "client|no-touch",
        3,
        CONN_FLAGS,
        C,
        ConnCmd::ClientNoTouch,
        docs(
            "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
            "7.2.0",
            "connection",
        ),
    ),
    conn(
        "client|help",
        2,
        flag::LOADING | flag::STALE,
        C,
        ConnCmd::ClientHelp,
        docs(
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "connection",
        ),
    ),
    node(
        "client|list",
        -2,
        CONN_FLAGS | flag::ADMIN,
        C,
        NodeCmd::ClientList,
        docs("Lists open connections.", "2.4.0", "connection"),
    ),
    node(
        "client|kill",
        -3,
        CONN_FLAGS | flag::ADMIN,
        C,
        NodeCmd::ClientKill,
        docs("Terminates open connections.", "2.4.0", "connection"),
    ),
];

pub const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    conn(
        "command|count",
        2,
        flag::LOADING | flag::STALE,
        C,
        ConnCmd::CommandCount,
        docs("Returns a count of commands.", "2.8.13", "server"),
    ),
    conn(
        "command|info",
        -2,
        flag::LOADING | flag::STALE,
        C,
        ConnCmd::CommandInfo,
        docs(
            "Returns information about one, multiple or all commands.",
            "2.8.13",
            "server",
        ),
    ),
    conn(
        "command|docs",
        -2,
        flag::LOADING | flag::STALE,
        C,
        ConnCmd::CommandDocs,
        docs(
            "Returns documentary information about one, multiple or all commands.",
            "7.0.0",
            "server",
        ),
    ),
    conn(
        "command|list",
        -2,
        flag::LOADING | flag::STALE,
        C,
        ConnCmd::CommandList,
        docs("Returns a list of command names.", "7.0.0", "server"),
    ),
    conn(
        "command|getkeys",
        -3,
        flag::LOADING | flag::STALE,
        C,
        ConnCmd::CommandGetKeys,
        docs(
            "Extracts the key names from an arbitrary command.",
            "2.8.13",
            "server",
        ),
    ),
    conn(
        "command|help",
        2,
        flag::LOADING | flag::STALE,
        C,
        ConnCmd::CommandHelp,
        docs(
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "server",
        ),
    ),
];

pub const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    conn(
        "config|get",
        -3,
        flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        0,
        ConnCmd::ConfigGet,
        docs(
            "Returns the effective values of configuration parameters.",
            "2.0.0",
            "server",
        ),
    ),
    node(
        "config|set",
        -4,
        flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        0,
        NodeCmd::ConfigSet,
        docs(
            "Sets configuration parameters in-flight.",
            "2.0.0",
            "server",
        ),
    ),
    conn(
        "config|resetstat",
        2,
        flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        0,
        ConnCmd::ConfigResetStat,
        docs("Resets the server's statistics.", "2.0.0", "server"),
    ),
    conn(
        "config|help",
        2,
        flag::LOADING | flag::STALE,
        0,
        ConnCmd::ConfigHelp,
        docs(
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "server",
        ),
    ),
];

pub const SPECS: &[CommandSpec] = &[
    conn(
        "ping",
        -1,
        flag::FAST,
        C,
        ConnCmd::Ping,
        docs(
            "Returns the server's liveliness response.",
            "1.0.0",
            "connection",
        ),
    ),
    conn(
        "echo",
        2,
        flag::FAST,
        C,
        ConnCmd::Echo,
        docs("Returns the given string.", "1.0.0", "connection"),
    ),
    conn(
        "hello",
        -1,
        CONN_FLAGS | flag::FAST | flag::NO_AUTH,
        C,
        ConnCmd::Hello,
        docs("Handshakes with the Redis server.", "6.0.0", "connection"),
    ),
    conn(
        "auth",
        -2,
        CONN_FLAGS | flag::FAST | flag::NO_AUTH,
        C,
        ConnCmd::Auth,
        docs("Authenticates the connection.", "1.0.0", "connection"),
    ),
    conn(
        "quit",
        -1,
        flag::ALLOW_BUSY
            | flag::NOSCRIPT
            | flag::LOADING
            | flag::STALE
            | flag::FAST
            | flag::NO_AUTH,
        C,
        ConnCmd::Quit,
        docs("Closes the connection.", "1.0.0", "connection"),
    ),
    conn(
        "reset",
        1,
        CONN_FLAGS | flag::FAST | flag::NO_AUTH,
        C,
        ConnCmd::Reset,
        docs("Resets the connection.", "6.2.0", "connection"),
    ),
    conn(
        "select",
        2,
        CONN_FLAGS | flag::FAST,
        C,
        ConnCmd::Select,
        docs("Changes the selected database.", "1.0.0", "connection"),
    ),
    conn(
        "time",
        1,
        flag::LOADING | flag::STALE | flag::FAST,
        0,
        ConnCmd::Time,
        docs("Returns the server time.", "2.6.0", "server"),
    ),
    conn(
        "lastsave",
        1,
        flag::LOADING | flag::STALE | flag::FAST,
        acl::ADMIN | acl::DANGEROUS,
        ConnCmd::LastSave,
        docs(
            "Returns the Unix timestamp of the last successful save to disk.",
            "1.0.0",
            "server",
        ),
    ),
    conn(
        "shutdown",
        -1,
        flag::ADMIN
            | flag::NOSCRIPT
            | flag::LOADING
            | flag::STALE
            | flag::NO_MULTI
            | flag::ALLOW_BUSY,
        0,
        ConnCmd::Shutdown,
        docs(
            "Synchronously saves the database(s) to disk and shuts down the Redis server.",
            "1.0.0",
            "server",
        ),
    ),
    node(
        "info",
        -1,
        flag::LOADING | flag::STALE,
        acl::DANGEROUS,
        NodeCmd::Info,
        docs(
            "Returns information and statistics about the server.",
            "1.0.0",
            "server",
        ),
    ),
    container(
        "client",
        CLIENT_SUBCOMMANDS,
        docs(
            "A container for client connection commands.",
            "2.4.0",
            "connection",
        ),
    ),
    container(
        "command",
        COMMAND_SUBCOMMANDS,
        docs(
            "Returns detailed information about all commands.",
            "2.8.13",
            "server",
        ),
    ),
    container(
        "config",
        CONFIG_SUBCOMMANDS,
        docs(
            "A container for server configuration commands.",
            "2.0.0",
            "server",
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
        _ => "HELP",
    }
}

/// Whether a new connection must be turned away, and with which error.
pub fn refuse_connection(config: &Config, open: &ConnOpen) -> Option<CmdError> {
    if open.clients_total > config.maxclients {
        return Some(CmdError::MaxClients);
    }
    if config.protected_mode && config.requirepass.is_none() && !open.peer_is_loopback {
        return Some(CmdError::ProtectedMode);
    }
    None
}

pub fn run_conn_cmd(cmd: ConnCmd, ccx: &mut ConnCx, argv: &Argv) -> ConnOutcome {
    match run_conn_cmd_inner(cmd, ccx, argv) {
        Ok(outcome) => outcome,
        Err(err) => ConnOutcome::Reply(Reply::Error(err)),
    }
}

fn run_conn_cmd_inner(
    cmd: ConnCmd,
    ccx: &mut ConnCx,
    argv: &Argv,
) -> Result<ConnOutcome, CmdError> {
    let reply = match cmd {
        ConnCmd::Ping => ping(argv)?,
        ConnCmd::Echo => Reply::Bulk(argv[1].to_vec()),
        ConnCmd::Hello => hello(ccx, argv)?,
        ConnCmd::Auth => auth(ccx, argv)?,
        ConnCmd::Quit => return Ok(ConnOutcome::Close(Reply::OK)),
        ConnCmd::Reset => reset(ccx),
        ConnCmd::Select => select(ccx, argv)?,
        ConnCmd::ClientId => Reply::Int(ccx.conn.id.0 as i64),
        ConnCmd::ClientSetName => {
            ccx.conn.attrs.name = client_name(&argv[2])?;
            Reply::OK
        }
        ConnCmd::ClientGetName => Reply::opt_bulk(ccx.conn.attrs.name.clone()),
        ConnCmd::ClientInfo => {
            let now_ms = ccx.cx.wall_ms();
            Reply::Verbatim {
                format: "txt",
                text: client_line(ccx.conn, now_ms).into_bytes(),
            }
        }
        ConnCmd::CommandCount => Reply::Int(ccx.table.len() as i64),
        ConnCmd::Time => {
            let us = ccx.cx.wall_us();
            Reply::Array(vec![
                Reply::bulk_int((us / 1_000_000) as i64),
                Reply::bulk_int((us % 1_000_000) as i64),
            ])
        }
        ConnCmd::Shutdown => return Ok(ConnOutcome::Shutdown),
        ConnCmd::ObjectHelp => crate::cmd::object::help(),
        ConnCmd::ClientSetInfo
        | ConnCmd::ClientNoEvict
        | ConnCmd::ClientNoTouch
        | ConnCmd::ClientHelp
        | ConnCmd::CommandInfo
        | ConnCmd::CommandDocs
        | ConnCmd::CommandList
        | ConnCmd::CommandGetKeys
        | ConnCmd::CommandHelp
        | ConnCmd::CommandAll
        | ConnCmd::ConfigGet
        | ConnCmd::ConfigHelp
        | ConnCmd::ConfigResetStat
        | ConnCmd::LastSave
        | ConnCmd::DebugSleep => {
            return Err(CmdError::UnknownCommand {
                name: argv[0].to_vec(),
                args: Vec::new(),
            })
        }
    };
    Ok(ConnOutcome::Reply(reply))
}

fn ping(argv: &Argv) -> Result<Reply, CmdError> {
    match argv.len() {
        1 => Ok(Reply::simple("PONG")),
        2 => Ok(Reply::Bulk(argv[1].to_vec())),
        _ => Err(CmdError::WrongArity("ping".into())),
    }
}

fn select(ccx: &mut ConnCx, argv: &Argv) -> Result<Reply, CmdError> {
    let index = parse_i64(&argv[1])?;
    if index < 0 || index as usize >= ccx.config.databases {
        return Err(CmdError::DbIndexOutOfRange);
    }
    ccx.conn.db = index as usize;
    Ok(Reply::OK)
}

/// Names may not contain spaces or newlines (Redis allows printable ASCII 33..=126).
fn client_name(name: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::InvalidClientName);
    }
    Ok((!name.is_empty()).then(|| name.to_vec()))
}

fn check_password(ccx: &mut ConnCx, user: &[u8], password: &[u8]) -> Result<(), CmdError> {
    let Some(expected) = &ccx.config.requirepass else {
        return Err(CmdError::AuthNotConfigured);
    };
    if user != b"default" || password != expected.as_slice() {
        return Err(CmdError::WrongPass);
    }
    ccx.conn.set_authenticated(true);
    Ok(())
}

fn auth(ccx: &mut ConnCx, argv: &Argv) -> Result<Reply, CmdError> {
    match argv.len() {
        2 => check_password(ccx, b"default", &argv[1])?,
        3 => {
            if ccx.config.requirepass.is_none() && &argv[1] == b"default" {
                // Redis: with no password set, the default user accepts any password.
                ccx.conn.set_authenticated(true);
            } else {
                check_password(ccx, &argv[1], &argv[2])?;
            }
        }
        _ => return Err(CmdError::Syntax),
    }
    Ok(Reply::OK)
}

fn hello(ccx: &mut ConnCx, argv: &Argv) -> Result<Reply, CmdError> {
    let mut version = None;
    let mut i = 1;
    if argv.len() > 1 {
        let v = parse_i64(&argv[1]).map_err(|_| CmdError::ProtocolVersionNotInteger)?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::NoProto);
        }
        version = Some(if v == 3 {
            RespVersion::Resp3
        } else {
            RespVersion::Resp2
        });
        i = 2;
    }
    let mut name = None;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if eq_word(&argv[i], "AUTH") && more >= 2 {
            let (user, pass) = (argv[i + 1].to_vec(), argv[i + 2].to_vec());
            if ccx.config.requirepass.is_some() || user != b"default" {
                check_password(ccx, &user, &pass)?;
            }
            i += 3;
        } else if eq_word(&argv[i], "SETNAME") && more >= 1 {
            name = Some(client_name(&argv[i + 1])?);
            i += 2;
        } else {
            return Err(CmdError::HelloSyntax(
                String::from_utf8_lossy(&argv[i]).into_owned(),
            ));
        }
    }
    if !ccx.conn.authenticated {
        return Err(CmdError::NoAuthHello);
    }
    if let Some(name) = name {
        ccx.conn.attrs.name = name;
    }
    if let Some(v) = version {
        ccx.conn.resp = v;
    }
    let proto = if ccx.conn.resp == RespVersion::Resp3 {
        3
    } else {
        2
    };
    Ok(Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (Reply::bulk("version"), Reply::bulk(REDIS_VERSION_COMPAT)),
        (Reply::bulk("proto"), Reply::Int(proto)),
        (Reply::bulk("id"), Reply::Int(ccx.conn.id.0 as i64)),
        (Reply::bulk("mode"), Reply::bulk("standalone")),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::Array(Vec::new())),
    ]))
}

fn reset(ccx: &mut ConnCx) -> Reply {
    let conn = &mut *ccx.conn;
    conn.db = 0;
    conn.resp = RespVersion::Resp2;
    conn.attrs = Default::default();
    let authenticated = ccx.config.requirepass.is_none();
    conn.set_authenticated(authenticated);
    Reply::simple("RESET")
}

/// Which connections CLIENT LIST / CLIENT KILL select.
#[derive(Clone, Debug, Default)]
pub struct ClientFilter {
    pub ids: Vec<u64>,
    pub addr: Option<String>,
    pub laddr: Option<String>,
    pub skip_me: bool,
    /// The old `CLIENT KILL ip:port` form, which answers OK or an error instead of a count.
    pub legacy: bool,
}

impl ClientFilter {
    pub fn matches(&self, conn: &Conn) -> bool {
        (self.ids.is_empty() || self.ids.contains(&conn.id.0))
            && self.addr.as_ref().is_none_or(|a| *a == conn.peer_addr)
            && self.laddr.as_ref().is_none_or(|a| *a == conn.local_addr)
    }
}

/// One CLIENT LIST line, with Redis's fields in Redis's order.
pub fn client_line(conn: &Conn, now_ms: u64) -> String {
    let name = conn
        .attrs
        .name
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or(Cow::Borrowed(""));
    let age_s = now_ms.saturating_sub(conn.created_ms) / 1000;
    let idle_s = now_ms.saturating_sub(conn.last_cmd_ms) / 1000;
    let resp = if conn.resp == RespVersion::Resp3 {
        3
    } else {
        2
    };
    let lib_name = conn
        .attrs
        .lib_name
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let lib_ver = conn
        .attrs
        .lib_ver
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    format!(
        "id={} addr={} laddr={} fd=8 name={name} age={age_s} idle={idle_s} flags=N db={} sub=0 psub=0 \
         ssub=0 multi=-1 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 \
         omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={resp} lib-name={lib_name} \
         lib-ver={lib_ver}\n",
        conn.id.0,
        conn.peer_addr,
        conn.local_addr,
        conn.db,
        conn.decoder.buffered_len_bytes(),
        conn.out_pending_bytes,
        conn.out_pending_bytes + conn.decoder.buffered_len_bytes(),
        conn.last_cmd,
    )
}

/// Counters one thread reports for INFO.
#[derive(Clone, Debug, Default)]
pub struct ThreadStats {
    pub connected_clients: u64,
    pub counters: NodeCounters,
    pub shard: ShardStats,
    /// (keys, keys with a TTL) per database.
    pub keyspace: Vec<(u64, u64)>,
}

pub(crate) fn plan_node_cmd(
    cmd: NodeCmd,
    argv: &Argv,
    conn: &Conn,
    config: &Config,
) -> Result<(NodeOp, Targets), CmdErrorOrReply> {
    let _ = config;
    match cmd {
        NodeCmd::Info => Ok((NodeOp::Stats, Targets::All)),
        NodeCmd::ClientList => Ok((
            NodeOp::ClientList {
                filter: ClientFilter::default(),
            },
            Targets::All,
        )),
        NodeCmd::ClientKill => {
            let filter = ClientFilter {
                addr: Some(String::from_utf8_lossy(&argv[2]).into_owned()),
                legacy: true,
                ..Default::default()
            };
            Ok((
                NodeOp::ClientKill {
                    filter,
                    except: conn.id,
                },
                Targets::All,
            ))
        }
        NodeCmd::ConfigSet => Err(CmdError::UnsupportedConfigSubcommand.into()),
        other => unreachable!("{other:?} is not a server command"),
    }
}

pub(crate) fn run_node_op(
    node: &mut Node,
    op: NodeOp,
    now_ms: u64,
    current: Option<&Conn>,
    cx: &mut Cx,
) -> NodeResult {
    let _ = cx;
    match op {
        NodeOp::Stats => {
            let shard = node.shard();
            let keyspace = (0..shard.dbs_len())
                .map(|i| {
                    (
                        shard.db_ref(i).len() as u64,
                        shard.db_ref(i).expires_len() as u64,
                    )
                })
                .collect();
            NodeResult::Stats(Box::new(ThreadStats {
                connected_clients: node.conns_len() as u64 + u64::from(current.is_some()),
                counters: node.counters,
                shard: shard.stats,
                keyspace,
            }))
        }
        NodeOp::ClientList { filter } => {
            let mut lines: Vec<(u64, String)> = node
                .conns
                .values()
                .chain(current)
                .filter(|c| filter.matches(c))
                .map(|c| (c.id.0, client_line(c, now_ms)))
                .collect();
            lines.sort();
            NodeResult::Lines(lines)
        }
        NodeOp::ClientKill { filter, except } => {
            let doomed: Vec<ConnId> = node
                .conns
                .values()
                .filter(|c| c.id != except && filter.matches(c))
                .map(|c| c.id)
                .collect();
            for id in &doomed {
                if let Some(conn) = node.conns.get_mut(id) {
                    conn.state = crate::conn::ConnState::Closing;
                    cx.push(crate::cx::Effect::Close { conn: *id });
                }
            }
            NodeResult::Count(doomed.len() as u64)
        }
        NodeOp::ConfigSet { .. } => NodeResult::Done,
        other => unreachable!("{other:?} is not a server op"),
    }
}

pub(crate) fn finish_node_cmd(
    cmd: NodeCmd,
    argv: &Argv,
    results: Vec<(ThreadId, NodeResult)>,
    conn: &mut Conn,
    node: &mut Node,
    cx: &mut Cx,
) -> Reply {
    let _ = (argv, conn);
    match cmd {
        NodeCmd::Info => {
            let stats: Vec<ThreadStats> = results
                .into_iter()
                .filter_map(|(_, r)| {
                    if let NodeResult::Stats(s) = r {
                        Some(*s)
                    } else {
                        None
                    }
                })
                .collect();
            Reply::Verbatim {
                format: "txt",
                text: info_text(node, &stats, cx).into_bytes(),
            }
        }
        NodeCmd::ClientList => {
            let mut lines: Vec<(u64, String)> = results
                .into_iter()
                .flat_map(|(_, r)| {
                    if let NodeResult::Lines(l) = r {
                        l
                    } else {
                        Vec::new()
                    }
                })
                .collect();
            lines.sort();
            Reply::Verbatim {
                format: "txt",
                text: lines
                    .into_iter()
                    .map(|l| l.1)
                    .collect::<String>()
                    .into_bytes(),
            }
        }
        NodeCmd::ClientKill => {
            let killed: u64 = results
                .iter()
                .map(|(_, r)| if let NodeResult::Count(n) = r { *n } else { 0 })
                .sum();
            if killed == 0 {
                Reply::Error(CmdError::NoSuchClient)
            } else {
                Reply::OK
            }
        }
        NodeCmd::ConfigSet => Reply::OK,
        other => unreachable!("{other:?} is not a server command"),
    }
}

fn info_text(node: &Node, stats: &[ThreadStats], cx: &mut Cx) -> String {
    let clients: u64 = stats.iter().map(|s| s.connected_clients).sum();
    let server = &node.server;
    let uptime_s = cx.now_mono_us().saturating_sub(server.started_mono_us) / 1_000_000;
    let mut out = String::new();
    out.push_str("# Server\r\n");
    out.push_str(&format!("redis_version:{REDIS_VERSION_COMPAT}\r\n"));
    out.push_str(&format!(
        "damselfly_version:{}\r\n",
        server.damselfly_version
    ));
    out.push_str("redis_mode:standalone\r\n");
    out.push_str(&format!("process_id:{}\r\n", server.process_id));
    out.push_str(&format!("run_id:{}\r\n", server.run_id));
    out.push_str(&format!("tcp_port:{}\r\n", server.tcp_port));
    out.push_str(&format!("uptime_in_seconds:{uptime_s}\r\n"));
    out.push_str("\r\n# Clients\r\n");
    out.push_str(&format!("connected_clients:{clients}\r\n"));
    out.push_str("\r\n# Persistence\r\nloading:0\r\n");
    out.push_str("\r\n# Replication\r\nrole:master\r\nconnected_slaves:0\r\n");
    out.push_str("\r\n# Keyspace\r\n");
    for db in 0..node.config.databases {
        let keys: u64 = stats
            .iter()
            .map(|s| s.keyspace.get(db).map_or(0, |k| k.0))
            .sum();
        let expires: u64 = stats
            .iter()
            .map(|s| s.keyspace.get(db).map_or(0, |k| k.1))
            .sum();
        if keys > 0 {
            out.push_str(&format!(
                "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n"
            ));
        }
    }
    out
}
