//! Running the connection and server commands (their rows: `cmd::server`): PING, ECHO, HELLO,
//! AUTH, QUIT, RESET, SELECT, TIME, LASTSAVE, SAVE, BGSAVE, DEBUG, SHUTDOWN, INFO and the CLIENT,
//! COMMAND and CONFIG containers, with Redis 7.0.15's replies and error texts.
//!
//! Most are answered by the connection alone (`ConnCmd`): they read or change the connection
//! and this thread's copy of the config. INFO, CLIENT LIST/KILL and CONFIG SET/RESETSTAT gather
//! from or apply to every thread (`NodeCmd`): `plan_node_cmd` parses and validates on the
//! coordinator, `run_node_op` runs on each thread, `finish_node_cmd` folds the parts. The
//! subfamilies live beside this file (`client`, `config`, `info`); COMMAND's are `cmd::command_docs`.
//!
//! Redis quirks kept on purpose (each has a test):
//! - HELLO applies AUTH and SETNAME as it parses them, left to right: an option after a failing
//!   one is not applied, one before it is, and SETNAME sticks even when HELLO then answers
//!   NOAUTH. The protocol switches only when HELLO succeeds.
//! - A failed AUTH leaves an authenticated connection authenticated.
//! - RESET clears the name, database, protocol and authentication, not CLIENT NO-EVICT.
//! - DEBUG SLEEP reads its argument like `strtod`: garbage and negatives sleep 0 seconds.
//!
//! - A command named POST or `Host:` is HTTP sent to us (cross-protocol scripting): the
//!   connection closes without running or answering anything more (replies of the same read
//!   included), and a warning is logged at most once per `SECURITY_WARNING_INTERVAL_US`.
//!
//! Where we differ: DEBUG is enabled (Redis 7 refuses it unless `enable-debug-command`). A
//! SHUTDOWN that would save (SAVE, or a `save` schedule without NOSAVE) runs a SAVE
//! (`node::persist`) and stops when it is on disk; when the save fails it answers Redis's
//! error and keeps running, unless FORCE, as Redis does.

use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64, Args};
use crate::cmd::server::REDIS_VERSION_COMPAT;
use crate::cmd::{command_docs, CommandTable, ConnCmd, NodeCmd};
use crate::config::Config;
use crate::conn::Conn;
use crate::coord::{CmdErrorOrReply, Targets};
use crate::cx::{ConnOpen, Cx, ThreadId};
use crate::error::CmdError;
use crate::hop::{NodeOp, NodeResult, SlowlogOp};
use crate::node::slowlog;
use crate::node::Node;
use crate::reply::Reply;
use crate::resp::RespVersion;

use super::{client, config as config_cmd, info};

pub use super::client::ClientFilter;
pub use super::info::ThreadStats;

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
    /// 40 hex characters, random per start: INFO's master_replid.
    pub master_replid: String,
    /// Monotonic time the server started, for uptime.
    pub started_mono_us: u64,
    /// Wall time the server started: LASTSAVE and rdb_last_save_time until there are saves.
    pub started_wall_ms: u64,
    /// INFO's multiplexing_api: the driver's socket layer ("io_uring" or "epoll").
    pub multiplexing_api: String,
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
    /// SHUTDOWN that saves first: stop once the save is on disk; when it fails, stop anyway
    /// with `force`, else answer the error and keep running.
    SaveThenShutdown {
        force: bool,
    },
}

/// What a connection command sees.
pub struct ConnCx<'a> {
    pub conn: &'a mut Conn,
    pub config: &'a mut Config,
    pub server: &'a ServerInfo,
    pub table: &'a CommandTable,
    pub threads: u16,
    /// The last successful save (LASTSAVE), unix seconds.
    pub last_save_s: u64,
    pub cx: &'a mut Cx,
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
    let table = ccx.table;
    let reply = match cmd {
        ConnCmd::Ping => ping(ccx.conn, argv),
        ConnCmd::Echo => Reply::Bulk(argv[1].to_vec()),
        ConnCmd::Hello => hello(ccx, argv)?,
        ConnCmd::Auth => auth(ccx, argv)?,
        ConnCmd::Quit => return Ok(ConnOutcome::Close(Reply::OK)),
        ConnCmd::Reset => reset(ccx),
        ConnCmd::Select => select(ccx, argv)?,
        ConnCmd::Time => {
            let us = ccx.cx.wall_us();
            Reply::Array(vec![
                Reply::bulk_int((us / 1_000_000) as i64),
                Reply::bulk_int((us % 1_000_000) as i64),
            ])
        }
        ConnCmd::LastSave => Reply::Int(ccx.last_save_s as i64),
        ConnCmd::DebugSleep => return debug(argv),
        ConnCmd::Shutdown => return shutdown(ccx, argv),
        ConnCmd::ClientId => Reply::Int(ccx.conn.id.0 as i64),
        ConnCmd::ClientSetName => {
            ccx.conn.attrs.name = client::client_name(&argv[2])?;
            Reply::OK
        }
        ConnCmd::ClientGetName => Reply::opt_bulk(ccx.conn.attrs.name.clone()),
        ConnCmd::ClientInfo => client::info(ccx.conn, ccx.cx.wall_ms()),
        ConnCmd::ClientNoEvict => client::no_evict(ccx.conn, argv)?,
        ConnCmd::ClientHelp => command_docs::help_reply(client::HELP_LINES),
        ConnCmd::CommandCount => Reply::Int(table.len() as i64),
        ConnCmd::CommandAll => command_docs::command_info(table, argv, 1),
        ConnCmd::CommandInfo => command_docs::command_info(table, argv, 2),
        ConnCmd::CommandDocs => command_docs::command_docs(table, argv),
        ConnCmd::CommandList => command_docs::command_list(table, argv)?,
        ConnCmd::CommandGetKeys => command_docs::command_getkeys(table, argv)?,
        ConnCmd::CommandGetKeysAndFlags => command_docs::command_getkeys_and_flags(table, argv)?,
        ConnCmd::CommandHelp => command_docs::help_reply(command_docs::HELP_LINES),
        ConnCmd::ConfigGet => config_cmd::get(ccx.config, argv),
        ConnCmd::ConfigHelp => command_docs::help_reply(config_cmd::HELP_LINES),
        ConnCmd::SlowlogHelp => command_docs::help_reply(slowlog::HELP_LINES),
        ConnCmd::PubSubHelp => command_docs::help_reply(crate::cmd::pubsub::HELP_LINES),
        ConnCmd::ObjectHelp => crate::cmd::object::help(),
        ConnCmd::XGroupHelp => crate::cmd::stream::xgroup_help(),
        ConnCmd::XInfoHelp => crate::cmd::stream::xinfo_help(),
        ConnCmd::Script(_) => unreachable!("node::script runs the scripting rows"),
        ConnCmd::MemoryHelp => crate::cmd::memory::help(),
        ConnCmd::PfSelfTest => {
            let sparse_max_bytes = ccx.config.hll_sparse_max_bytes;
            crate::cmd::hll::self_test(sparse_max_bytes, ccx.cx.env())?
        }
    };
    Ok(ConnOutcome::Reply(reply))
}

fn ping(conn: &Conn, argv: &Argv) -> Reply {
    if argv.len() <= 2 && conn.resp == RespVersion::Resp2 && conn.subs.active() {
        // A RESP2 subscriber reads only arrays: Redis answers ["pong", message or ""].
        let message = argv.get(1).unwrap_or(&[]);
        return Reply::Array(vec![Reply::bulk(b"pong".as_slice()), Reply::bulk(message)]);
    }
    match argv.get(1) {
        None => Reply::simple("PONG"),
        Some(message) if argv.len() == 2 => Reply::bulk(message),
        Some(_) => Reply::Error(CmdError::WrongArity("ping".into())),
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

/// Checks `user`/`password` against the only user, "default": with no requirepass it takes
/// any password, as Redis's `nopass` default user.
fn authenticate(ccx: &mut ConnCx, user: &[u8], password: &[u8]) -> Result<(), CmdError> {
    let accepted = user == b"default"
        && ccx
            .config
            .requirepass
            .as_deref()
            .is_none_or(|expected| expected == password);
    if !accepted {
        return Err(CmdError::WrongPass);
    }
    ccx.conn.set_authenticated(true);
    Ok(())
}

/// AUTH password | AUTH username password.
fn auth(ccx: &mut ConnCx, argv: &Argv) -> Result<Reply, CmdError> {
    match argv.len() {
        2 if ccx.config.requirepass.is_none() => return Err(CmdError::AuthNotConfigured),
        2 => authenticate(ccx, b"default", &argv[1])?,
        3 => authenticate(ccx, &argv[1], &argv[2])?,
        _ => return Err(CmdError::Syntax),
    }
    Ok(Reply::OK)
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ccx: &mut ConnCx, argv: &Argv) -> Result<Reply, CmdError> {
    let mut args = Args::new(argv, 1);
    let version = match args.next() {
        None => None,
        Some(arg) => Some(match parse_i64(arg) {
            Ok(2) => RespVersion::Resp2,
            Ok(3) => RespVersion::Resp3,
            Ok(_) => return Err(CmdError::NoProto),
            Err(_) => return Err(CmdError::ProtocolVersionNotInteger),
        }),
    };
    // Options take effect as they are parsed, as in Redis 7.0.
    while let Some(option) = args.next() {
        if eq_word(option, "AUTH") && args.remaining() >= 2 {
            let (user, password) = (args.next_arg()?, args.next_arg()?);
            authenticate(ccx, user, password)?;
        } else if eq_word(option, "SETNAME") && args.remaining() >= 1 {
            ccx.conn.attrs.name = client::client_name(args.next_arg()?)?;
        } else {
            let option = String::from_utf8_lossy(option).into_owned();
            return Err(CmdError::HelloSyntax(option));
        }
    }
    if !ccx.conn.authenticated {
        return Err(CmdError::NoAuthHello);
    }
    if let Some(version) = version {
        ccx.conn.resp = version;
    }
    let proto = match ccx.conn.resp {
        RespVersion::Resp2 => 2,
        RespVersion::Resp3 => 3,
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

/// RESET: database 0, RESP2, no name, and authenticated only when no password is needed.
fn reset(ccx: &mut ConnCx) -> Reply {
    let conn = &mut *ccx.conn;
    conn.db = 0;
    conn.resp = RespVersion::Resp2;
    conn.attrs.name = None;
    conn.set_authenticated(ccx.config.requirepass.is_none());
    Reply::simple("RESET")
}

const DEBUG_HELP_LINES: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
];

/// DEBUG SLEEP seconds | DEBUG HELP. Other subcommands get Redis's generic subcommand error.
fn debug(argv: &Argv) -> Result<ConnOutcome, CmdError> {
    let sub = &argv[1];
    if eq_word(sub, "HELP") && argv.len() == 2 {
        return Ok(ConnOutcome::Reply(command_docs::help_reply(
            DEBUG_HELP_LINES,
        )));
    }
    if eq_word(sub, "SLEEP") && argv.len() == 3 {
        let seconds = strtod_prefix(&argv[2]);
        let duration_us = if seconds.is_finite() && seconds > 0.0 {
            // `as` saturates: an absurd sleep becomes the longest one we can arm.
            (seconds * 1e6) as u64
        } else {
            0
        };
        return Ok(ConnOutcome::Sleep { duration_us });
    }
    Err(CmdError::SubcommandSyntax {
        sub: sub.to_vec(),
        container: "DEBUG",
    })
}

/// Whether this is DEBUG OBJECT key (the key's shard answers it: `cmd::object`).
pub fn is_debug_object(argv: &Argv) -> bool {
    argv.len() == 3 && eq_word(&argv[1], "OBJECT")
}

/// Whether DEBUG's subcommand is SET-ACTIVE-EXPIRE with its one argument (the node applies it
/// on every thread).
pub fn is_set_active_expire(argv: &Argv) -> bool {
    argv.len() == 3 && eq_word(&argv[1], "SET-ACTIVE-EXPIRE")
}

/// DEBUG SET-ACTIVE-EXPIRE n: Redis reads n with `atoi`, so anything not starting with a
/// non-zero integer ("abc", "0x1") switches the sweep off.
pub(crate) fn plan_set_active_expire(argv: &Argv) -> NodeOp {
    NodeOp::SetActiveExpire {
        on: atoi_prefix(&argv[2]) != 0,
    }
}

/// C's `atoi`: optional blanks and sign, then the longest run of digits; 0 when none.
fn atoi_prefix(arg: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(arg);
    let text = text.trim_start();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut value: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative {
        -value
    } else {
        value
    }
}

/// C's `strtod` on the longest numeric prefix; 0 when there is none.
fn strtod_prefix(arg: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(arg);
    let text = text.trim_start();
    (1..=text.len().min(64))
        .rev()
        .filter(|&n| text.is_char_boundary(n))
        .find_map(|n| text[..n].parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// What SHUTDOWN asks for. NOW changes nothing here: there are no replicas to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ShutdownAction {
    Stop { save: SaveMode, force: Force },
    Abort,
}

/// SHUTDOWN FORCE: stop even when what should come first (the save) fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Force {
    No,
    Yes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SaveMode {
    Default,
    Save,
    NoSave,
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]: ABORT only alone, never SAVE with NOSAVE.
fn parse_shutdown(argv: &Argv) -> Result<ShutdownAction, CmdError> {
    let mut save = SaveMode::Default;
    let mut abort = false;
    let mut other_flags = false;
    let mut force = Force::No;
    for arg in argv.iter().skip(1) {
        let mode = if eq_word(arg, "NOSAVE") {
            SaveMode::NoSave
        } else if eq_word(arg, "SAVE") {
            SaveMode::Save
        } else if eq_word(arg, "NOW") {
            other_flags = true;
            continue;
        } else if eq_word(arg, "FORCE") {
            other_flags = true;
            force = Force::Yes;
            continue;
        } else if eq_word(arg, "ABORT") {
            abort = true;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        if save != SaveMode::Default && save != mode {
            return Err(CmdError::Syntax);
        }
        save = mode;
    }
    match (abort, save, other_flags) {
        (true, SaveMode::Default, false) => Ok(ShutdownAction::Abort),
        (true, _, _) => Err(CmdError::Syntax),
        (false, save, _) => Ok(ShutdownAction::Stop { save, force }),
    }
}

/// SHUTDOWN saves first when asked to (SAVE) or when a `save` schedule is configured and
/// NOSAVE is absent, as Redis decides; when that save fails the server keeps running unless
/// FORCE, as Redis's does.
fn shutdown(ccx: &mut ConnCx, argv: &Argv) -> Result<ConnOutcome, CmdError> {
    let (save, force) = match parse_shutdown(argv)? {
        ShutdownAction::Stop { save, force } => (save, force),
        ShutdownAction::Abort => return Err(CmdError::NoShutdownInProgress),
    };
    let wants_save = match save {
        SaveMode::Save => true,
        SaveMode::Default => !ccx.config.save.is_empty(),
        SaveMode::NoSave => false,
    };
    if !wants_save {
        return Ok(ConnOutcome::Shutdown);
    }
    Ok(ConnOutcome::SaveThenShutdown {
        force: matches!(force, Force::Yes),
    })
}

/// Redis 7.0's warning when a client sends POST or `Host:` (its text, word for word).
pub(crate) const SECURITY_ATTACK_WARNING: &str = "Possible SECURITY ATTACK detected. It looks \
    like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker \
    attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection \
    aborted.";
/// The attack warning is logged at most this often (Redis: once a minute), so an attacker
/// cannot flood the log.
pub const SECURITY_WARNING_INTERVAL_US: u64 = 60 * 1_000_000;

/// Whether a command name is the start of an HTTP request: `POST / HTTP/1.1` or a `Host:`
/// header line, read as inline commands. Redis 7.0 checks exactly these two, ignoring case.
pub(crate) fn is_cross_protocol_attack(name: &[u8]) -> bool {
    eq_word(name, "POST") || eq_word(name, "HOST:")
}

/// Lets a log line through at most once per `SECURITY_WARNING_INTERVAL_US` (monotonic time).
/// Each thread keeps its own (threads share no state), so a node logs at most one line per
/// thread per interval where Redis logs one.
#[derive(Debug, Default)]
pub(crate) struct LogLimiter {
    last_mono_us: Option<u64>,
}

impl LogLimiter {
    pub(crate) fn allow(&mut self, now_mono_us: u64) -> bool {
        let due = self
            .last_mono_us
            .is_none_or(|last| now_mono_us.saturating_sub(last) > SECURITY_WARNING_INTERVAL_US);
        if due {
            self.last_mono_us = Some(now_mono_us);
        }
        due
    }
}

pub(crate) fn plan_node_cmd(
    cmd: NodeCmd,
    argv: &Argv,
    conn: &Conn,
    config: &Config,
) -> Result<(NodeOp, Targets), CmdErrorOrReply> {
    let op = match cmd {
        NodeCmd::Info => NodeOp::Stats,
        NodeCmd::ClientList => NodeOp::ClientList {
            filter: client::parse_list(argv)?,
        },
        NodeCmd::ClientKill => NodeOp::ClientKill {
            filter: client::parse_kill(argv)?,
            except: conn.id,
        },
        NodeCmd::ClientUnblock => client::plan_unblock(argv)?,
        NodeCmd::ConfigSet => NodeOp::ConfigSet {
            pairs: config_cmd::plan_set(config, argv)?,
        },
        NodeCmd::ConfigResetStat => NodeOp::ResetStats,
        NodeCmd::SlowlogGet => NodeOp::Slowlog(SlowlogOp::Get {
            count: parse_slowlog_count(argv)?,
        }),
        NodeCmd::SlowlogLen => NodeOp::Slowlog(SlowlogOp::Len),
        NodeCmd::SlowlogReset => NodeOp::Slowlog(SlowlogOp::Reset),
        other => unreachable!("{other:?} is not a server command"),
    };
    Ok((op, Targets::All))
}

pub(crate) fn run_node_op(
    node: &mut Node,
    op: NodeOp,
    now_ms: u64,
    current: Option<&Conn>,
    cx: &mut Cx,
) -> NodeResult {
    match op {
        NodeOp::Stats => info::stats_here(node, current),
        NodeOp::ClientList { filter } => client::list_here(node, &filter, current, now_ms),
        NodeOp::ClientKill { filter, except } => {
            client::kill_here(node, &filter, except, current, cx)
        }
        NodeOp::ClientUnblock { id, error } => client::unblock_here(node, id, error, cx),
        NodeOp::ConfigSet { pairs } => {
            config_cmd::apply_set(node, &pairs);
            NodeResult::Done
        }
        NodeOp::ResetStats => {
            config_cmd::reset_stats(node);
            NodeResult::Done
        }
        NodeOp::Slowlog(op) => slowlog_here(node, op),
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
    match cmd {
        NodeCmd::Info => info::finish(node, argv, results, cx),
        NodeCmd::ClientList => client::finish_list(results),
        NodeCmd::ClientKill => client::finish_kill(argv, results, conn),
        NodeCmd::ClientUnblock => client::finish_unblock(results),
        NodeCmd::ConfigSet | NodeCmd::ConfigResetStat | NodeCmd::SlowlogReset => Reply::OK,
        NodeCmd::SlowlogGet | NodeCmd::SlowlogLen => finish_slowlog(cmd, argv, results, node),
        other => unreachable!("{other:?} is not a server command"),
    }
}

/// SLOWLOG GET's count: none is 10, -1 is all.
fn parse_slowlog_count(argv: &Argv) -> Result<usize, CmdError> {
    match argv.len() {
        2 => Ok(slowlog::SLOWLOG_GET_DEFAULT),
        3 => match crate::numfmt::parse_i64(&argv[2]) {
            Some(-1) => Ok(usize::MAX),
            Some(n) if n >= 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => Err(CmdError::SlowlogCount),
        },
        _ => Err(CmdError::SubcommandSyntax {
            sub: argv[1].to_vec(),
            container: "SLOWLOG",
        }),
    }
}

fn slowlog_here(node: &mut Node, op: SlowlogOp) -> NodeResult {
    match op {
        SlowlogOp::Get { count } => NodeResult::SlowEntries(node.slowlog.newest(count)),
        SlowlogOp::Len => NodeResult::SlowEntries(node.slowlog.newest(usize::MAX)),
        SlowlogOp::Reset => {
            node.slowlog.reset();
            NodeResult::Done
        }
    }
}

/// The threads' entries as one log: GET's newest first, or LEN's count.
fn finish_slowlog(
    cmd: NodeCmd,
    argv: &Argv,
    results: Vec<(ThreadId, NodeResult)>,
    node: &Node,
) -> Reply {
    let parts = results
        .into_iter()
        .map(|(_, result)| match result {
            NodeResult::SlowEntries(entries) => entries,
            other => unreachable!("SLOWLOG part {other:?}"),
        })
        .collect();
    let mut entries = slowlog::merged(parts, node.config.slowlog_max_len);
    match cmd {
        NodeCmd::SlowlogLen => Reply::Int(entries.len() as i64),
        NodeCmd::SlowlogGet => {
            let count = parse_slowlog_count(argv).expect("validated when planned");
            entries.truncate(count);
            Reply::Array(entries.iter().map(slowlog::SlowEntry::reply).collect())
        }
        other => unreachable!("{other:?} is not a SLOWLOG read"),
    }
}

/// Helpers the server family's test modules share.
#[cfg(test)]
pub(crate) mod test_util {
    use crate::config::Config;
    use crate::testkit::TestCluster;

    /// The thread counts every edge case runs on: one shard, and keys spread over three.
    pub const THREADS: [u16; 2] = [1, 3];

    pub fn with_password(threads: u16, password: &str) -> TestCluster {
        let config = Config {
            requirepass: Some(password.as_bytes().to_vec()),
            ..Config::default()
        };
        TestCluster::with_config(threads, config)
    }

    /// The HELLO reply for connection `id` in protocol `proto`, as Redis 7.0.15 sends it.
    pub fn hello_reply(proto: u8, id: u64) -> String {
        let head = if proto == 3 { "%7" } else { "*14" };
        format!(
            "{head}\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n\
             $5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
             $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;
    use crate::cx::{ConnId, LogLevel};
    use crate::testkit::TestCluster;

    const NOAUTH_HELLO: &str = "-NOAUTH HELLO must be called with the client already \
        authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to \
        authenticate the client and select the RESP protocol version at the same time\r\n";
    const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

    #[test]
    fn ping_answers_pong_or_its_message_in_both_protocols() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            for _ in 0..2 {
                assert_eq!(c.cmd_text(conn, &["PING"]), "+PONG\r\n");
                assert_eq!(c.cmd_text(conn, &["PING", "hi"]), "$2\r\nhi\r\n");
                assert_eq!(
                    c.cmd_text(conn, &["PING", "a", "b"]),
                    "-ERR wrong number of arguments for 'ping' command\r\n"
                );
                c.cmd(conn, &["HELLO", "3"]);
            }
        }
    }

    #[test]
    fn echo_returns_its_argument() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(threads - 1);
            assert_eq!(c.cmd_text(conn, &["ECHO", ""]), "$0\r\n\r\n");
            assert_eq!(
                c.cmd_text(conn, &["ECHO"]),
                "-ERR wrong number of arguments for 'echo' command\r\n"
            );
        }
    }

    #[test]
    fn hello_switches_protocol_and_reports_it() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            assert_eq!(c.cmd_text(conn, &["HELLO"]), hello_reply(2, conn.0));
            assert_eq!(c.cmd_text(conn, &["HELLO", "3"]), hello_reply(3, conn.0));
            // Without a version HELLO reports the current one.
            assert_eq!(c.cmd_text(conn, &["HELLO"]), hello_reply(3, conn.0));
            assert_eq!(c.cmd_text(conn, &["CLIENT", "GETNAME"]), "_\r\n");
            assert_eq!(c.cmd_text(conn, &["HELLO", "2"]), hello_reply(2, conn.0));
            assert_eq!(c.cmd_text(conn, &["CLIENT", "GETNAME"]), "$-1\r\n");
        }
    }

    #[test]
    fn hello_errors_match_redis_and_keep_the_protocol() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let cases: &[(&[&str], &str)] = &[
                (&["HELLO", "4"], "-NOPROTO unsupported protocol version\r\n"),
                (&["HELLO", "1"], "-NOPROTO unsupported protocol version\r\n"),
                (
                    &["HELLO", "4", "SETNAME", "a"],
                    "-NOPROTO unsupported protocol version\r\n",
                ),
                (
                    &["HELLO", "abc"],
                    "-ERR Protocol version is not an integer or out of range\r\n",
                ),
                (
                    &["HELLO", "2.5"],
                    "-ERR Protocol version is not an integer or out of range\r\n",
                ),
                (
                    &["HELLO", "3", "foo"],
                    "-ERR Syntax error in HELLO option 'foo'\r\n",
                ),
                (
                    &["HELLO", "3", "auth", "default"],
                    "-ERR Syntax error in HELLO option 'auth'\r\n",
                ),
                (
                    &["HELLO", "3", "SETNAME"],
                    "-ERR Syntax error in HELLO option 'SETNAME'\r\n",
                ),
                (
                    &["HELLO", "3", "SETNAME", "a b"],
                    "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
                ),
                (&["HELLO", "3", "AUTH", "bob", "x"], WRONGPASS),
            ];
            for (args, reply) in cases {
                assert_eq!(c.cmd_text(conn, args), *reply, "{args:?}");
            }
            assert_eq!(c.cmd_text(conn, &["CLIENT", "GETNAME"]), "$-1\r\n");
            assert_eq!(c.cmd_text(conn, &["HELLO"]), hello_reply(2, conn.0));
        }
    }

    #[test]
    fn hello_applies_options_as_it_parses_them() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let syntax = "-ERR Syntax error in HELLO option 'foo'\r\n";
            assert_eq!(
                c.cmd_text(conn, &["HELLO", "3", "SETNAME", "d", "foo"]),
                syntax
            );
            assert_eq!(c.cmd_text(conn, &["CLIENT", "GETNAME"]), "$1\r\nd\r\n");
            let args = ["HELLO", "3", "AUTH", "bob", "x", "SETNAME", "w"];
            assert_eq!(c.cmd_text(conn, &args), WRONGPASS);
            assert_eq!(c.cmd_text(conn, &["CLIENT", "GETNAME"]), "$1\r\nd\r\n");
            // The last SETNAME wins; an empty one clears the name.
            let args = ["HELLO", "2", "SETNAME", "a", "SETNAME", "b"];
            assert_eq!(c.cmd_text(conn, &args), hello_reply(2, conn.0));
            assert_eq!(c.cmd_text(conn, &["CLIENT", "GETNAME"]), "$1\r\nb\r\n");
            c.cmd(conn, &["HELLO", "2", "SETNAME", ""]);
            assert_eq!(c.cmd_text(conn, &["CLIENT", "GETNAME"]), "$-1\r\n");
        }
    }

    #[test]
    fn hello_with_a_password_needs_auth_but_sets_the_name_first() {
        for threads in THREADS {
            let mut c = with_password(threads, "secret");
            let conn = c.connect(0);
            assert_eq!(c.cmd_text(conn, &["HELLO", "3"]), NOAUTH_HELLO);
            assert_eq!(
                c.cmd_text(conn, &["HELLO", "3", "SETNAME", "a"]),
                NOAUTH_HELLO
            );
            let args = ["HELLO", "3", "AUTH", "default", "bad", "SETNAME", "b"];
            assert_eq!(c.cmd_text(conn, &args), WRONGPASS);
            // A successful AUTH option sticks even when a later option fails.
            let args = ["HELLO", "2", "AUTH", "default", "secret", "foo"];
            assert_eq!(
                c.cmd_text(conn, &args),
                "-ERR Syntax error in HELLO option 'foo'\r\n"
            );
            assert_eq!(c.cmd_text(conn, &["CLIENT", "GETNAME"]), "$1\r\na\r\n");
            let other = c.connect(threads - 1);
            let args = ["HELLO", "3", "AUTH", "default", "secret"];
            assert_eq!(c.cmd_text(other, &args), hello_reply(3, other.0));
            assert_eq!(c.cmd_text(other, &["CLIENT", "GETNAME"]), "_\r\n");
        }
    }

    #[test]
    fn auth_without_a_password_configured() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            assert_eq!(
                c.cmd_text(conn, &["AUTH", "x"]),
                "-ERR AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?\r\n"
            );
            assert_eq!(c.cmd_text(conn, &["AUTH", "default", "x"]), "+OK\r\n");
            assert_eq!(c.cmd_text(conn, &["AUTH", "bob", "x"]), WRONGPASS);
            assert_eq!(
                c.cmd_text(conn, &["AUTH", "a", "b", "c"]),
                "-ERR syntax error\r\n"
            );
            assert_eq!(
                c.cmd_text(conn, &["AUTH"]),
                "-ERR wrong number of arguments for 'auth' command\r\n"
            );
        }
    }

    #[test]
    fn auth_with_requirepass_and_a_failed_auth_keeps_the_session() {
        for threads in THREADS {
            let mut c = with_password(threads, "secret");
            let conn = c.connect(threads - 1);
            assert_eq!(c.cmd_text(conn, &["AUTH", "bad"]), WRONGPASS);
            assert_eq!(c.cmd_text(conn, &["AUTH", "default", "bad"]), WRONGPASS);
            assert_eq!(c.cmd_text(conn, &["AUTH", "secret"]), "+OK\r\n");
            assert_eq!(c.cmd_text(conn, &["AUTH", "bad"]), WRONGPASS);
            assert_eq!(c.cmd_text(conn, &["PING"]), "+PONG\r\n");
            let other = c.connect(0);
            assert_eq!(c.cmd_text(other, &["AUTH", "default", "secret"]), "+OK\r\n");
        }
    }

    #[test]
    fn before_auth_only_auth_hello_quit_and_reset_run() {
        for threads in THREADS {
            let mut c = with_password(threads, "secret");
            let conn = c.connect(0);
            let refused: &[&[&str]] = &[
                &["PING"],
                &["ECHO", "a"],
                &["SELECT", "1"],
                &["CLIENT", "ID"],
                &["CLIENT", "LIST"],
                &["COMMAND"],
                &["COMMAND", "COUNT"],
                &["CONFIG", "GET", "port"],
                &["CONFIG", "SET", "requirepass", ""],
                &["INFO"],
                &["TIME"],
                &["GET", "k"],
                &["SET", "k", "v"],
                &["SHUTDOWN"],
            ];
            for args in refused {
                assert_eq!(
                    c.cmd_text(conn, args),
                    "-NOAUTH Authentication required.\r\n",
                    "{args:?}"
                );
            }
            assert!(!c.shutdown_requested());
            // An unknown command is reported as such even before AUTH.
            assert_eq!(
                c.cmd_text(conn, &["FOO"]),
                "-ERR unknown command 'FOO', with args beginning with: \r\n"
            );
            assert_eq!(c.cmd_text(conn, &["RESET"]), "+RESET\r\n");
            assert_eq!(c.cmd_text(conn, &["QUIT"]), "+OK\r\n");
            assert!(c.is_closed(conn));
        }
    }

    #[test]
    fn quit_takes_any_arguments_and_closes() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            assert_eq!(c.cmd_text(conn, &["QUIT", "extra"]), "+OK\r\n");
            assert!(c.is_closed(conn));
        }
    }

    #[test]
    fn reset_restores_defaults_but_not_no_evict() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            for args in [
                &["SELECT", "3"][..],
                &["CLIENT", "SETNAME", "nm"],
                &["CLIENT", "NO-EVICT", "on"],
                &["HELLO", "3"],
            ] {
                c.cmd(conn, args);
            }
            assert_eq!(c.cmd_text(conn, &["RESET"]), "+RESET\r\n");
            let info = c.cmd_text(conn, &["CLIENT", "INFO"]);
            assert!(info.starts_with('$'), "RESP2 again: {info}");
            for field in [" name= ", " db=0 ", " resp=2\n", " flags=e "] {
                assert!(info.contains(field), "{field} in {info}");
            }
        }
    }

    #[test]
    fn reset_with_a_password_forgets_the_authentication() {
        for threads in THREADS {
            let mut c = with_password(threads, "secret");
            let conn = c.connect(0);
            c.cmd(conn, &["AUTH", "secret"]);
            assert_eq!(c.cmd_text(conn, &["PING"]), "+PONG\r\n");
            assert_eq!(c.cmd_text(conn, &["RESET"]), "+RESET\r\n");
            assert_eq!(
                c.cmd_text(conn, &["PING"]),
                "-NOAUTH Authentication required.\r\n"
            );
        }
    }

    #[test]
    fn select_checks_the_index() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let out_of_range = "-ERR DB index is out of range\r\n";
            let not_int = "-ERR value is not an integer or out of range\r\n";
            assert_eq!(c.cmd_text(conn, &["SELECT", "16"]), out_of_range);
            assert_eq!(c.cmd_text(conn, &["SELECT", "-1"]), out_of_range);
            assert_eq!(c.cmd_text(conn, &["SELECT", "abc"]), not_int);
            assert_eq!(c.cmd_text(conn, &["SELECT", "1.0"]), not_int);
            assert_eq!(c.cmd_text(conn, &["SELECT", "15"]), "+OK\r\n");
            c.cmd(conn, &["SET", "k", "v"]);
            c.cmd(conn, &["SELECT", "0"]);
            assert_eq!(c.cmd_text(conn, &["GET", "k"]), "$-1\r\n");
        }
    }

    #[test]
    fn time_and_lastsave_read_the_clocks() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let start_s = c.wall_ms() / 1000;
            c.advance_ms(2_250);
            let now_s = c.wall_ms() / 1000;
            assert_eq!(
                c.cmd_text(conn, &["TIME"]),
                format!("*2\r\n$10\r\n{now_s}\r\n$6\r\n250000\r\n")
            );
            assert_eq!(c.cmd_text(conn, &["LASTSAVE"]), format!(":{start_s}\r\n"));
        }
    }

    #[test]
    fn debug_sleep_pauses_the_connection() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            assert_eq!(c.cmd_text(conn, &["DEBUG", "SLEEP", "0.5"]), "");
            c.advance_ms(499);
            assert_eq!(c.take_output(conn), b"");
            c.advance_ms(1);
            assert_eq!(c.take_output(conn), b"+OK\r\n");
            // strtod: garbage and negative durations sleep zero seconds.
            for arg in ["abc", "-1", "inf"] {
                c.cmd(conn, &["DEBUG", "SLEEP", arg]);
                c.advance_ms(0);
                assert_eq!(c.take_output(conn), b"+OK\r\n", "{arg}");
            }
        }
    }

    #[test]
    fn debug_errors_and_help() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        assert_eq!(
            c.cmd_text(conn, &["DEBUG", "SLEEP"]),
            "-ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP.\r\n"
        );
        assert_eq!(
            c.cmd_text(conn, &["DEBUG", "nosuch"]),
            "-ERR unknown subcommand or wrong number of arguments for 'nosuch'. Try DEBUG HELP.\r\n"
        );
        assert_eq!(
            c.cmd_text(conn, &["DEBUG"]),
            "-ERR wrong number of arguments for 'debug' command\r\n"
        );
        let help = c.cmd_text(conn, &["DEBUG", "HELP"]);
        assert!(help.starts_with("*28\r\n+DEBUG <subcommand>"), "{help}");
        assert!(
            help.ends_with("+HELP\r\n+    Prints this help.\r\n"),
            "{help}"
        );
    }

    /// DEBUG OBJECT's line, with redis-server 7.0.15's encodings and serialized lengths for
    /// the same values (lru and the address left aside); a missing key and a wrong arity are
    /// Redis's errors; the key may live on any shard.
    #[test]
    fn debug_object_lines() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            c.cmd(conn, &["SET", "one", "1"]);
            c.cmd(conn, &["SET", "k", "v"]);
            c.cmd(conn, &["SET", "n", "123456789012"]);
            c.cmd(conn, &["SET", "big", &"x".repeat(59)]);
            c.cmd(conn, &["HSET", "h", "a", "b"]);
            c.cmd(conn, &["RPUSH", "l", "a", "b", "c"]);
            c.cmd(conn, &["SADD", "s", "1", "2"]);
            for (key, refcount, encoding, len) in [
                ("one", 2_147_483_647, "int", 2),
                ("k", 1, "embstr", 2),
                ("n", 1, "int", 13),
                ("big", 1, "raw", 12),
                ("h", 1, "listpack", 14),
                ("l", 1, "quicklist", 19),
                ("s", 1, "intset", 13),
            ] {
                let line = c.cmd_text(conn, &["DEBUG", "OBJECT", key]);
                let head = format!(
                    "+Value at:0x0 refcount:{refcount} encoding:{encoding} serializedlength:{len} lru:"
                );
                assert!(line.starts_with(&head), "{line}");
                assert!(line.contains(" lru_seconds_idle:0"), "{line}");
            }
            let list = c.cmd_text(conn, &["DEBUG", "OBJECT", "l"]);
            assert!(
                list.ends_with(
                    " ql_nodes:1 ql_avg_node:3.00 ql_listpack_max:-2 ql_compressed:0\r\n"
                ),
                "{list}"
            );
            assert_eq!(
                c.cmd_text(conn, &["DEBUG", "OBJECT", "nokey"]),
                "-ERR no such key\r\n"
            );
            assert_eq!(
                c.cmd_text(conn, &["DEBUG", "object"]),
                "-ERR unknown subcommand or wrong number of arguments for 'object'. Try DEBUG \
                 HELP.\r\n"
            );
        }
    }

    #[test]
    fn shutdown_parses_its_flags_like_redis() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let syntax = "-ERR syntax error\r\n";
            for args in [
                &["SHUTDOWN", "foo"][..],
                &["SHUTDOWN", "NOSAVE", "SAVE"],
                &["SHUTDOWN", "NOW", "ABORT"],
                &["SHUTDOWN", "ABORT", "NOSAVE"],
            ] {
                assert_eq!(c.cmd_text(conn, args), syntax, "{args:?}");
            }
            assert_eq!(
                c.cmd_text(conn, &["SHUTDOWN", "ABORT"]),
                "-ERR No shutdown in progress.\r\n"
            );
            assert!(!c.shutdown_requested());
            c.cmd(conn, &["SHUTDOWN", "NOSAVE", "nosave", "NOW", "FORCE"]);
            assert!(c.shutdown_requested());
            assert!(c.is_closed(conn));
        }
    }

    /// Regression (issue 23): SHUTDOWN SAVE exited without saving. Now a SHUTDOWN that should
    /// save (SAVE, or a save schedule without NOSAVE) stops once the dump is on disk; when the
    /// save fails it answers Redis's error and keeps running, unless FORCE.
    #[test]
    fn shutdown_that_should_save_saves_first() {
        let failed = "-ERR Errors trying to SHUTDOWN. Check logs.\r\n";
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            c.cmd(conn, &["SET", "k", "v"]);
            c.disk.failing = Some("No space left on device".into());
            assert_eq!(c.cmd_text(conn, &["SHUTDOWN", "SAVE"]), failed);
            assert_eq!(
                c.cmd_text(conn, &["CONFIG", "SET", "save", "3600 1"]),
                "+OK\r\n"
            );
            assert_eq!(
                c.cmd_text(conn, &["SHUTDOWN"]),
                failed,
                "a save schedule means plain SHUTDOWN saves"
            );
            assert!(!c.shutdown_requested() && !c.is_closed(conn));
            assert_eq!(c.cmd_text(conn, &["PING"]), "+PONG\r\n");
            assert!(c.disk.contents("dump.rdb").is_none());
            c.cmd(conn, &["SHUTDOWN", "SAVE", "FORCE"]);
            assert!(
                c.shutdown_requested() && c.is_closed(conn),
                "FORCE stops anyway"
            );
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            c.cmd(conn, &["SET", "k", "v"]);
            assert_eq!(c.cmd_text(conn, &["shutdown", "now", "save"]), "");
            assert!(c.shutdown_requested() && c.is_closed(conn));
            assert!(
                c.disk.contents("dump.rdb").is_some(),
                "saved before stopping"
            );
        }
        for no_save in [&["SHUTDOWN"][..], &["SHUTDOWN", "NOSAVE"]] {
            let mut c = TestCluster::new(1);
            let conn = c.connect(0);
            c.cmd(conn, no_save);
            assert!(c.shutdown_requested(), "{no_save:?} with no save schedule");
            assert!(c.disk.contents("dump.rdb").is_none());
        }
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        c.cmd(conn, &["CONFIG", "SET", "save", "3600 1"]);
        c.cmd(conn, &["SHUTDOWN", "NOSAVE"]);
        assert!(c.shutdown_requested(), "NOSAVE skips the schedule");
    }

    /// SAVE and BGSAVE follow Redis's own arity, syntax and MULTI checks.
    #[test]
    fn save_and_bgsave_check_their_arguments_as_redis() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        assert_eq!(c.cmd_text(conn, &["SAVE"]), "+OK\r\n");
        assert_eq!(
            c.cmd_text(conn, &["BGSAVE"]),
            "+Background saving started\r\n"
        );
        assert_eq!(
            c.cmd_text(conn, &["bgsave", "schedule"]),
            "+Background saving started\r\n"
        );
        assert_eq!(
            c.cmd_text(conn, &["BGSAVE", "foo"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            c.cmd_text(conn, &["BGSAVE", "SCHEDULE", "x"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            c.cmd_text(conn, &["SAVE", "x"]),
            "-ERR wrong number of arguments for 'save' command\r\n"
        );
        c.cmd(conn, &["MULTI"]);
        assert_eq!(
            c.cmd_text(conn, &["SAVE"]),
            "-ERR Command not allowed inside a transaction\r\n"
        );
        c.cmd(conn, &["DISCARD"]);
        assert!(!c.shutdown_requested());
    }

    /// Regression (issue 23): an HTTP request's lines ran as commands (cross-protocol
    /// scripting). Redis 7.0.15, checked: `SET x 1`, `PING`, `Host: x`, `SET y 1` in one read
    /// sets x, answers nothing at all, closes, and logs its warning once a minute at most.
    #[test]
    fn post_or_host_closes_without_running_or_answering_anything_more() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            // Every attack on thread 0: each thread limits its own warnings.
            let attacker = c.connect(0);
            let out = c.send(attacker, b"SET x 1\r\nPING\r\nHost: x\r\nSET y 1\r\n");
            assert_eq!(String::from_utf8_lossy(&out), "", "no reply at all");
            assert!(c.is_closed(attacker));
            let warned = [(LogLevel::Warning, SECURITY_ATTACK_WARNING)];
            assert_eq!(c.logs(), &warned[..]);
            let other = c.connect(0);
            assert_eq!(c.cmd_text(other, &["GET", "x"]), "$1\r\n1\r\n");
            assert_eq!(c.cmd_text(other, &["EXISTS", "y"]), ":0\r\n");
            // Any case, as a RESP array too, authenticated or not, inside MULTI too.
            for attack in [
                &b"*3\r\n$4\r\npost\r\n$1\r\n/\r\n$8\r\nHTTP/1.1\r\n"[..],
                b"MULTI\r\nSET z 1\r\nhOsT: example.com\r\nEXEC\r\n",
            ] {
                let conn = c.connect(0);
                assert_eq!(c.send(conn, attack), b"");
                assert!(c.is_closed(conn));
            }
            assert_eq!(c.cmd_text(other, &["EXISTS", "z"]), ":0\r\n");
            assert_eq!(c.logs().len(), 1, "rate-limited");
            c.advance_ms(SECURITY_WARNING_INTERVAL_US / 1000 + 1);
            let conn = c.connect(0);
            c.send(conn, b"POST / HTTP/1.1\r\n");
            assert_eq!(c.logs().len(), 2, "logged again a minute later");
            // A key or value named POST is only data.
            assert_eq!(c.cmd_text(other, &["SET", "POST", "Host:"]), "+OK\r\n");
        }
    }

    /// Regression (issue 23): a client that shut its sending side got no replies. Redis runs
    /// what it read, replies, then closes; here too when commands hop to other shards and the
    /// end of stream arrives while they are in flight.
    #[test]
    fn half_closed_client_gets_every_reply_then_closes() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let mut pipeline = Vec::new();
            let mut expected = String::new();
            for i in 0..50 {
                let key = format!("k{i}");
                pipeline.extend_from_slice(format!("SET {key} {i}\r\nGET {key}\r\n").as_bytes());
                let len = i.to_string().len();
                expected.push_str(&format!("+OK\r\n${len}\r\n{i}\r\n"));
            }
            pipeline.extend_from_slice(b"MGET k1 k2 k3\r\n*2\r\n$4\r\nECHO");
            expected.push_str("*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
            let out = c.send_and_end_input(conn, &pipeline);
            assert_eq!(String::from_utf8_lossy(&out), expected, "{threads} threads");
            assert!(
                c.is_closed(conn),
                "closed after the replies; the partial ECHO dropped"
            );
            // Nothing left to run: closes at once.
            let idle = c.connect(threads - 1);
            assert_eq!(c.send_and_end_input(idle, b""), b"");
            assert!(c.is_closed(idle));
        }
    }

    #[test]
    fn maxclients_refuses_the_connection_past_the_limit() {
        for threads in THREADS {
            let config = Config {
                maxclients: 1,
                ..Config::default()
            };
            let mut c = TestCluster::with_config(threads, config);
            let first = c.connect(0);
            let second = c.connect(threads - 1);
            assert_eq!(
                c.take_output(second),
                b"-ERR max number of clients reached\r\n"
            );
            assert!(c.is_closed(second));
            assert_eq!(c.cmd_text(first, &["PING"]), "+PONG\r\n");
        }
    }

    #[test]
    fn protected_mode_refuses_remote_peers_without_a_password() {
        let open = |loopback| ConnOpen {
            conn: ConnId(1),
            peer_addr: "10.0.0.1:5000".into(),
            local_addr: "10.0.0.2:6379".into(),
            peer_is_loopback: loopback,
            clients_total: 1,
            fd: crate::cx::fake_fd(0),
            protocol: Default::default(),
        };
        let config = Config::default();
        assert_eq!(refuse_connection(&config, &open(true)), None);
        assert_eq!(
            refuse_connection(&config, &open(false)),
            Some(CmdError::ProtectedMode)
        );
        let with_password = Config {
            requirepass: Some(b"pw".to_vec()),
            ..Config::default()
        };
        assert_eq!(refuse_connection(&with_password, &open(false)), None);
    }
}
