//! CLIENT: ID, SETNAME, GETNAME, INFO, NO-EVICT, HELP on the calling connection, and LIST and
//! KILL across every thread's connections.
//!
//! LIST and KILL parse into one `ClientFilter`; each thread answers for the connections it hosts
//! (plus the caller, which is out of the thread's map while its command runs). A thread never
//! closes the caller: when `SKIPME no` (or the old `CLIENT KILL ip:port` form) matches the
//! caller, the coordinator counts it, replies, and closes it after the reply, as Redis does.
//!
//! Idle clients: with `timeout` set, a connection that has neither sent nor been sent anything
//! for longer is closed (`close_idle`, on the shard's periodic tick), as Redis's clientsCron
//! does. Only connections ready for their next command qualify: one with a command in flight
//! is busy, not idle (Redis never sees that state between its cron runs).
//!
//! Redis 7.0.15 has no CLIENT SETINFO or NO-TOUCH (7.2) and no KILL MAXAGE (7.4): they answer
//! Redis 7.0's errors. CLIENT LIST lines have 7.0's fields (no lib-name, lib-ver).

use std::borrow::Cow;

use crate::argv::Argv;
use crate::cmd::args::{parse_i64, Args};
use crate::conn::{Conn, ConnState, ConnTable};
use crate::cx::{ConnId, Cx, Effect, LogLevel, ThreadId};
use crate::error::CmdError;
use crate::hop::{NodeOp, NodeResult};
use crate::node::Node;
use crate::reply::Reply;
use crate::resp::RespVersion;

/// A connection's type as Redis's getClientType sees it: a subscriber is `PubSub`; there are
/// no replication links, so every other connection is `Normal`.
fn client_type(conn: &Conn) -> ClientType {
    if conn.subs.active() {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

/// Client types Redis filters by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

impl ClientType {
    fn parse(name: &[u8]) -> Result<ClientType, CmdError> {
        let lower = name.to_ascii_lowercase();
        match lower.as_slice() {
            b"normal" => Ok(ClientType::Normal),
            b"slave" | b"replica" => Ok(ClientType::Replica),
            b"pubsub" => Ok(ClientType::PubSub),
            b"master" => Ok(ClientType::Master),
            _ => Err(CmdError::UnknownClientType(
                String::from_utf8_lossy(name).into_owned(),
            )),
        }
    }
}

/// Which connections CLIENT LIST / CLIENT KILL select.
#[derive(Clone, Debug)]
pub struct ClientFilter {
    /// Empty: any id.
    pub ids: Vec<u64>,
    pub client_type: Option<ClientType>,
    pub addr: Option<String>,
    pub laddr: Option<String>,
    /// KILL only: leave the calling connection alone (SKIPME, default yes).
    pub skip_me: bool,
    /// The old `CLIENT KILL ip:port` form, which answers OK or an error instead of a count.
    pub legacy: bool,
}

impl ClientFilter {
    fn any() -> ClientFilter {
        ClientFilter {
            ids: Vec::new(),
            client_type: None,
            addr: None,
            laddr: None,
            skip_me: true,
            legacy: false,
        }
    }

    pub fn matches(&self, conn: &Conn) -> bool {
        (self.ids.is_empty() || self.ids.contains(&conn.id.0))
            && self.client_type.is_none_or(|t| t == client_type(conn))
            && self.addr.as_ref().is_none_or(|a| *a == conn.peer_addr)
            && self.laddr.as_ref().is_none_or(|a| *a == conn.local_addr)
    }
}

fn text_arg(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// CLIENT LIST [TYPE type] | [ID id…]: Redis takes one or the other.
pub fn parse_list(argv: &Argv) -> Result<ClientFilter, CmdError> {
    let mut filter = ClientFilter::any();
    let mut args = Args::new(argv, 2);
    if argv.len() == 4 && args.eat("TYPE") {
        filter.client_type = Some(ClientType::parse(args.next_arg()?)?);
    } else if argv.len() > 3 && args.eat("ID") {
        for id in args.by_ref() {
            let id = parse_i64(id).map_err(|_| CmdError::InvalidClientId)?;
            filter.ids.push(id as u64);
        }
    }
    args.finish()?;
    Ok(filter)
}

/// CLIENT KILL ip:port, or CLIENT KILL [ID id] [TYPE t] [ADDR a] [LADDR a] [USER u] [SKIPME b].
pub fn parse_kill(argv: &Argv) -> Result<ClientFilter, CmdError> {
    let mut filter = ClientFilter::any();
    if argv.len() == 3 {
        filter.addr = Some(text_arg(&argv[2]));
        filter.skip_me = false;
        filter.legacy = true;
        return Ok(filter);
    }
    let mut args = Args::new(argv, 2);
    while let Some(option) = args.next() {
        let value = args.next_arg()?;
        let option = option.to_ascii_uppercase();
        match option.as_slice() {
            b"ID" => {
                let id = parse_i64(value)
                    .ok()
                    .filter(|id| *id >= 1)
                    .ok_or(CmdError::ClientIdNotPositive)?;
                // Redis keeps only the last ID given.
                filter.ids = vec![id as u64];
            }
            b"TYPE" => filter.client_type = Some(ClientType::parse(value)?),
            b"ADDR" => filter.addr = Some(text_arg(value)),
            b"LADDR" => filter.laddr = Some(text_arg(value)),
            // Without ACLs the only user is "default", and every connection is it.
            b"USER" if value == b"default" => {}
            b"USER" => return Err(CmdError::NoSuchUser(text_arg(value))),
            b"SKIPME" if value.eq_ignore_ascii_case(b"yes") => filter.skip_me = true,
            b"SKIPME" if value.eq_ignore_ascii_case(b"no") => filter.skip_me = false,
            _ => return Err(CmdError::Syntax),
        }
    }
    Ok(filter)
}

/// One CLIENT LIST line, with Redis 7.0's fields in Redis's order.
pub fn client_line(conn: &Conn, now_ms: u64) -> String {
    let name = conn
        .attrs
        .name
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or(Cow::Borrowed(""));
    let age_s = now_ms.saturating_sub(conn.created_ms) / 1000;
    let idle_s = now_ms.saturating_sub(conn.last_cmd_ms) / 1000;
    let resp = match conn.resp {
        RespVersion::Resp2 => 2,
        RespVersion::Resp3 => 3,
    };
    // Redis's flags: P for a subscriber, e for no-evict, N for none.
    let mut flags = String::new();
    if conn.subs.active() {
        flags.push('P');
    }
    if matches!(conn.state, crate::conn::ConnState::Blocked(_)) {
        flags.push('b');
    }
    if conn.attrs.no_evict {
        flags.push('e');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let (sub, psub, ssub) = crate::node::pubsub::client_counts(conn);
    let qbuf = conn.decoder.buffered_len_bytes();
    format!(
        "id={} addr={} laddr={} fd={} name={name} age={age_s} idle={idle_s} flags={flags} db={} \
         sub={sub} psub={psub} ssub={ssub} multi=-1 qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 \
         rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user=default redir=-1 \
         resp={resp}\n",
        conn.id.0,
        conn.peer_addr,
        conn.local_addr,
        conn.fd,
        conn.db,
        conn.out_pending_bytes,
        conn.out_pending_bytes + qbuf,
        conn.last_cmd,
    )
}

/// This thread's part of CLIENT LIST: (id, line) for matching connections.
pub fn list_here(
    node: &Node,
    filter: &ClientFilter,
    current: Option<&Conn>,
    now_ms: u64,
) -> NodeResult {
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

/// This thread's part of CLIENT KILL: closes matching connections hosted here, never the
/// caller (`except`), which is counted when it matches and SKIPME is off.
pub fn kill_here(
    node: &mut Node,
    filter: &ClientFilter,
    except: ConnId,
    current: Option<&Conn>,
    cx: &mut Cx,
) -> NodeResult {
    let doomed: Vec<ConnId> = node
        .conns
        .values()
        .filter(|c| c.id != except && filter.matches(c))
        .map(|c| c.id)
        .collect();
    for id in &doomed {
        if let Some(conn) = node.conns.take(id) {
            crate::node::blocking::forget(node, &conn, cx);
            node.conns.put_back(conn);
        }
        if let Some(conn) = node.conns.get_mut(id) {
            conn.state = ConnState::Closing;
            cx.push(Effect::Close { conn: *id });
        }
    }
    let caller_too = current.is_some_and(|c| !filter.skip_me && filter.matches(c));
    NodeResult::Count(doomed.len() as u64 + u64::from(caller_too))
}

/// CLIENT UNBLOCK's arguments: the client id, then TIMEOUT (the default) or ERROR.
pub(crate) fn plan_unblock(argv: &Argv) -> Result<NodeOp, CmdError> {
    if argv.len() > 4 {
        return Err(CmdError::SubcommandSyntax {
            sub: argv[1].to_vec(),
            container: "CLIENT",
        });
    }
    let id = crate::cmd::args::parse_i64(&argv[2])?;
    let error = match argv.get(3) {
        None => false,
        Some(reason) if crate::cmd::args::eq_word(reason, "TIMEOUT") => false,
        Some(reason) if crate::cmd::args::eq_word(reason, "ERROR") => true,
        Some(_) => return Err(CmdError::UnblockReason),
    };
    Ok(NodeOp::ClientUnblock {
        id: ConnId(id as u64),
        error,
    })
}

/// CLIENT UNBLOCK on this thread: 1 when connection `id` lives here, blocked in a command.
pub fn unblock_here(node: &mut Node, id: ConnId, error: bool, cx: &mut Cx) -> NodeResult {
    let Some(mut conn) = node.conns.take(&id) else {
        return NodeResult::Count(0);
    };
    let Some(timeout_reply) = crate::node::blocking::timeout_reply(&conn) else {
        node.conns.put_back(conn);
        return NodeResult::Count(0);
    };
    let reply = if error {
        Reply::Error(CmdError::UnblockedByClient)
    } else {
        timeout_reply
    };
    if conn.out.capacity() == 0 {
        conn.out = cx.take_buffer();
    }
    if crate::node::blocking::end_wait(node, &mut conn, reply, cx) {
        node.resume(conn, cx);
    } else {
        node.conns.put_back(conn);
    }
    NodeResult::Count(1)
}

pub fn finish_unblock(results: Vec<(ThreadId, NodeResult)>) -> Reply {
    let unblocked: u64 = results
        .iter()
        .map(|(_, r)| match r {
            NodeResult::Count(n) => *n,
            other => unreachable!("CLIENT UNBLOCK part {other:?}"),
        })
        .sum();
    Reply::Int(unblocked as i64)
}

pub fn finish_list(results: Vec<(ThreadId, NodeResult)>) -> Reply {
    let mut lines: Vec<(u64, String)> = results
        .into_iter()
        .flat_map(|(_, r)| match r {
            NodeResult::Lines(lines) => lines,
            other => unreachable!("CLIENT LIST part {other:?}"),
        })
        .collect();
    lines.sort();
    let text: String = lines.into_iter().map(|(_, line)| line).collect();
    Reply::Verbatim {
        format: "txt",
        text: text.into_bytes(),
    }
}

/// Sums the threads' counts; closes the caller after its reply when it was a target.
pub fn finish_kill(argv: &Argv, results: Vec<(ThreadId, NodeResult)>, conn: &mut Conn) -> Reply {
    let killed: u64 = results
        .iter()
        .map(|(_, r)| match r {
            NodeResult::Count(n) => *n,
            other => unreachable!("CLIENT KILL part {other:?}"),
        })
        .sum();
    let filter = parse_kill(argv).expect("CLIENT KILL was parsed when planned");
    if !filter.skip_me && filter.matches(conn) {
        conn.state = ConnState::Closing;
    }
    match (filter.legacy, killed) {
        (true, 0) => Reply::Error(CmdError::NoSuchClient),
        (true, _) => Reply::OK,
        (false, n) => Reply::Int(n as i64),
    }
}

/// Names may not contain spaces or newlines (Redis allows printable ASCII 33..=126). An empty
/// name clears it.
pub fn client_name(name: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::InvalidClientName);
    }
    Ok((!name.is_empty()).then(|| name.to_vec()))
}

/// CLIENT NO-EVICT on|off.
pub fn no_evict(conn: &mut Conn, argv: &Argv) -> Result<Reply, CmdError> {
    let mut args = Args::new(argv, 2);
    let on = if args.eat("ON") {
        true
    } else if args.eat("OFF") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    args.finish()?;
    conn.attrs.no_evict = on;
    Ok(Reply::OK)
}

/// Closes the connections idle for more than `timeout_s` seconds (0: never), as Redis's
/// clientsCron does: no reply, the connection just ends.
pub(crate) fn close_idle(conns: &mut ConnTable, timeout_s: u64, cx: &mut Cx) {
    if timeout_s == 0 {
        return;
    }
    let now_mono_us = cx.now_mono_us();
    let idle_max_us = timeout_s.saturating_mul(1_000_000);
    let idle: Vec<ConnId> = conns
        .values()
        .filter(|conn| {
            conn.is_ready()
                && now_mono_us.saturating_sub(conn.last_interaction_mono_us) > idle_max_us
        })
        .map(|conn| conn.id)
        .collect();
    for id in idle {
        let conn = conns.get_mut(&id).expect("listed just now");
        conn.state = ConnState::Closing;
        cx.push(Effect::Close { conn: id });
        cx.push(Effect::Log {
            level: LogLevel::Verbose,
            text: "Closing idle client",
        });
    }
}

pub fn info(conn: &Conn, now_ms: u64) -> Reply {
    Reply::Verbatim {
        format: "txt",
        text: client_line(conn, now_ms).into_bytes(),
    }
}

pub const HELP_LINES: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Print this help.",
];

#[cfg(test)]
mod tests {
    use crate::cx::ConnId;
    use crate::node::commands::server::test_util::THREADS;
    use crate::testkit::TestCluster;

    /// The ids in a CLIENT LIST reply, in order.
    fn listed_ids(reply: &str) -> Vec<u64> {
        reply
            .split('\n')
            .filter_map(|line| line.split_once("id=").map(|(_, rest)| rest))
            .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
            .collect()
    }

    /// A cluster with one client on each of threads 0, 1, 2 (or three on thread 0).
    fn three_clients(threads: u16) -> (TestCluster, [ConnId; 3]) {
        let mut c = TestCluster::new(threads);
        let conns = [0, 1, 2].map(|t| c.connect(t % threads));
        (c, conns)
    }

    #[test]
    fn id_setname_getname() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(threads - 1);
            assert_eq!(
                c.cmd_text(conn, &["CLIENT", "ID"]),
                format!(":{}\r\n", conn.0)
            );
            assert_eq!(c.cmd_text(conn, &["CLIENT", "GETNAME"]), "$-1\r\n");
            assert_eq!(c.cmd_text(conn, &["CLIENT", "SETNAME", "app"]), "+OK\r\n");
            assert_eq!(c.cmd_text(conn, &["CLIENT", "GETNAME"]), "$3\r\napp\r\n");
            assert_eq!(
                c.cmd_text(conn, &["CLIENT", "SETNAME", "a\nb"]),
                "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
            );
            assert_eq!(c.cmd_text(conn, &["CLIENT", "SETNAME", ""]), "+OK\r\n");
            assert_eq!(c.cmd_text(conn, &["CLIENT", "GETNAME"]), "$-1\r\n");
            assert_eq!(
                c.cmd_text(conn, &["CLIENT", "ID", "x"]),
                "-ERR wrong number of arguments for 'client|id' command\r\n"
            );
            assert_eq!(
                c.cmd_text(conn, &["CLIENT"]),
                "-ERR wrong number of arguments for 'client' command\r\n"
            );
        }
    }

    #[test]
    fn redis_7_0_has_no_setinfo_or_no_touch() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        assert_eq!(
            c.cmd_text(conn, &["CLIENT", "SETINFO", "LIB-NAME", "x"]),
            "-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n"
        );
        assert_eq!(
            c.cmd_text(conn, &["CLIENT", "NO-TOUCH", "on"]),
            "-ERR unknown subcommand 'NO-TOUCH'. Try CLIENT HELP.\r\n"
        );
    }

    #[test]
    fn info_is_verbatim_in_resp3() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            c.cmd(conn, &["HELLO", "3"]);
            let line = format!(
                "id={} addr=127.0.0.1:{} laddr=127.0.0.1:6379 fd={} name= age=0 idle=0 flags=N \
                 db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 \
                 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|info \
                 user=default redir=-1 resp=3\n",
                conn.0,
                40000 + conn.0,
                crate::cx::fake_fd(conn.0),
            );
            assert_eq!(
                c.cmd_text(conn, &["CLIENT", "INFO"]),
                format!("={}\r\ntxt:{line}\r\n", line.len() + 4)
            );
        }
    }

    /// The `fd=` field of each CLIENT LIST line, by id.
    fn listed_fds(reply: &str) -> Vec<(u64, String)> {
        let field = |line: &str, name: &str| {
            let value = line.split(' ').find_map(|f| f.strip_prefix(name));
            value.unwrap().to_string()
        };
        reply
            .split('\n')
            .filter(|line| line.contains("id="))
            .map(|line| (field(line, "id=").parse().unwrap(), field(line, "fd=")))
            .collect()
    }

    /// Regression (issue 23): every client showed `fd=8`. Each shows its own descriptor, and
    /// CLIENT INFO agrees with CLIENT LIST.
    #[test]
    fn each_client_shows_its_own_descriptor() {
        for threads in THREADS {
            let (mut c, conns) = three_clients(threads);
            let fds = listed_fds(&c.cmd_text(conns[0], &["CLIENT", "LIST"]));
            let expected: Vec<(u64, String)> = conns
                .iter()
                .map(|conn| (conn.0, crate::cx::fake_fd(conn.0).to_string()))
                .collect();
            assert_eq!(fds, expected);
            for conn in conns {
                let info = c.cmd_text(conn, &["CLIENT", "INFO"]);
                let listed = fds.iter().filter(|(id, _)| *id == conn.0).cloned();
                assert_eq!(listed_fds(&info), listed.collect::<Vec<_>>());
            }
        }
    }

    /// Regression (issue 23): `CONFIG SET timeout` was accepted and did nothing. A client
    /// idle for longer is closed on the periodic tick, without a reply; one that keeps
    /// talking, or just keeps reading replies, is not.
    #[test]
    fn idle_clients_are_closed_after_timeout() {
        const TICK_MS: u64 = 100;
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let idle = c.connect(0);
            let active = c.connect(threads - 1);
            assert_eq!(
                c.cmd_text(active, &["CONFIG", "SET", "timeout", "1"]),
                "+OK\r\n"
            );
            c.take_output(idle);
            let mut idle_closed_at_ms = None;
            for step in 1..=30 {
                c.advance_ms(TICK_MS);
                if step % 5 == 0 {
                    assert_eq!(c.cmd_text(active, &["PING"]), "+PONG\r\n", "step {step}");
                }
                if idle_closed_at_ms.is_none() && c.is_closed(idle) {
                    idle_closed_at_ms = Some(step * TICK_MS);
                }
            }
            let closed_at_ms = idle_closed_at_ms.expect("the idle client is closed");
            assert!((1_000..=1_200).contains(&closed_at_ms), "{closed_at_ms} ms");
            assert_eq!(c.take_output(idle), b"", "closed without a reply");
            assert!(!c.is_closed(active));
            assert_eq!(
                c.cmd_text(active, &["CONFIG", "SET", "timeout", "0"]),
                "+OK\r\n"
            );
            c.advance_ms(10_000);
            c.advance_ms(TICK_MS);
            assert!(!c.is_closed(active), "timeout 0 closes nobody");
        }
    }

    #[test]
    fn list_gathers_every_thread_in_id_order() {
        for threads in THREADS {
            let (mut c, conns) = three_clients(threads);
            let ids = conns.map(|c| c.0).to_vec();
            let all = c.cmd_text(conns[0], &["CLIENT", "LIST"]);
            assert_eq!(listed_ids(&all), ids);
            assert!(
                all.contains(&format!("id={} ", conns[0].0)) && all.contains("cmd=client|list")
            );
            let normal = c.cmd_text(conns[1], &["CLIENT", "LIST", "TYPE", "NORMAL"]);
            assert_eq!(listed_ids(&normal), ids);
            let id = conns[2].0.to_string();
            let one = c.cmd_text(conns[0], &["CLIENT", "LIST", "ID", &id, "999"]);
            assert_eq!(listed_ids(&one), vec![conns[2].0]);
            for kind in ["master", "replica", "slave", "pubsub"] {
                let none = c.cmd_text(conns[0], &["CLIENT", "LIST", "TYPE", kind]);
                assert_eq!(none, "$0\r\n\r\n", "{kind}");
            }
        }
    }

    #[test]
    fn list_errors_match_redis() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let cases: &[(&[&str], &str)] = &[
                (
                    &["CLIENT", "LIST", "TYPE", "foo"],
                    "-ERR Unknown client type 'foo'\r\n",
                ),
                (&["CLIENT", "LIST", "TYPE"], "-ERR syntax error\r\n"),
                (&["CLIENT", "LIST", "ID"], "-ERR syntax error\r\n"),
                (
                    &["CLIENT", "LIST", "ID", "1", "abc"],
                    "-ERR Invalid client ID\r\n",
                ),
                (&["CLIENT", "LIST", "foo"], "-ERR syntax error\r\n"),
                (
                    &["CLIENT", "LIST", "TYPE", "normal", "ID", "1"],
                    "-ERR syntax error\r\n",
                ),
            ];
            for (args, reply) in cases {
                assert_eq!(c.cmd_text(conn, args), *reply, "{args:?}");
            }
        }
    }

    #[test]
    fn kill_by_id_closes_a_client_on_another_thread() {
        for threads in THREADS {
            let (mut c, conns) = three_clients(threads);
            let id = conns[2].0.to_string();
            assert_eq!(
                c.cmd_text(conns[0], &["CLIENT", "KILL", "ID", &id]),
                ":1\r\n"
            );
            assert!(c.is_closed(conns[2]));
            assert!(!c.is_closed(conns[1]));
            assert_eq!(
                c.cmd_text(conns[0], &["CLIENT", "KILL", "ID", &id]),
                ":0\r\n"
            );
            let listed = c.cmd_text(conns[0], &["CLIENT", "LIST"]);
            assert_eq!(listed_ids(&listed), vec![conns[0].0, conns[1].0]);
        }
    }

    #[test]
    fn kill_skips_the_caller_unless_skipme_no() {
        for threads in THREADS {
            let (mut c, conns) = three_clients(threads);
            let killed = c.cmd_text(conns[0], &["CLIENT", "KILL", "TYPE", "normal"]);
            assert_eq!(killed, ":2\r\n");
            assert!(c.is_closed(conns[1]) && c.is_closed(conns[2]));
            assert_eq!(c.cmd_text(conns[0], &["PING"]), "+PONG\r\n");
            let reply = c.cmd_text(
                conns[0],
                &["CLIENT", "KILL", "USER", "default", "SKIPME", "no"],
            );
            assert_eq!(reply, ":1\r\n");
            assert!(c.is_closed(conns[0]));
        }
    }

    #[test]
    fn kill_by_address_old_and_new_forms() {
        for threads in THREADS {
            let (mut c, conns) = three_clients(threads);
            let addr = format!("127.0.0.1:{}", 40000 + conns[1].0);
            assert_eq!(c.cmd_text(conns[0], &["CLIENT", "KILL", &addr]), "+OK\r\n");
            assert!(c.is_closed(conns[1]));
            assert_eq!(
                c.cmd_text(conns[0], &["CLIENT", "KILL", &addr]),
                "-ERR No such client\r\n"
            );
            let laddr = ["CLIENT", "KILL", "LADDR", "127.0.0.1:6379"];
            assert_eq!(c.cmd_text(conns[0], &laddr), ":1\r\n");
            assert!(c.is_closed(conns[2]));
            // The old form does not skip the caller: it replies, then closes.
            let own = format!("127.0.0.1:{}", 40000 + conns[0].0);
            assert_eq!(c.cmd_text(conns[0], &["CLIENT", "KILL", &own]), "+OK\r\n");
            assert!(c.is_closed(conns[0]));
        }
    }

    #[test]
    fn kill_errors_match_redis() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let not_positive = "-ERR client-id should be greater than 0\r\n";
            let cases: &[(&[&str], &str)] = &[
                (&["CLIENT", "KILL", "ID"], "-ERR No such client\r\n"),
                (&["CLIENT", "KILL", "ID", "abc"], not_positive),
                (&["CLIENT", "KILL", "ID", "0"], not_positive),
                (
                    &["CLIENT", "KILL", "TYPE", "foo"],
                    "-ERR Unknown client type 'foo'\r\n",
                ),
                (
                    &["CLIENT", "KILL", "USER", "nobody"],
                    "-ERR No such user 'nobody'\r\n",
                ),
                (
                    &["CLIENT", "KILL", "SKIPME", "maybe"],
                    "-ERR syntax error\r\n",
                ),
                (&["CLIENT", "KILL", "MAXAGE", "10"], "-ERR syntax error\r\n"),
                (&["CLIENT", "KILL", "a", "b", "c"], "-ERR syntax error\r\n"),
                (
                    &["CLIENT", "KILL", "ID", "5", "SKIPME"],
                    "-ERR syntax error\r\n",
                ),
                (&["CLIENT", "KILL", "ADDR", "1.2.3.4:5"], ":0\r\n"),
                (&["CLIENT", "KILL", "ID", "1", "ID", "99"], ":0\r\n"),
            ];
            for (args, reply) in cases {
                assert_eq!(c.cmd_text(conn, args), *reply, "{args:?}");
            }
            assert!(!c.is_closed(conn));
        }
    }

    #[test]
    fn no_evict_takes_on_or_off() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            assert_eq!(c.cmd_text(conn, &["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
            assert!(c.cmd_text(conn, &["CLIENT", "INFO"]).contains(" flags=e "));
            assert_eq!(
                c.cmd_text(conn, &["CLIENT", "NO-EVICT", "maybe"]),
                "-ERR syntax error\r\n"
            );
            assert_eq!(c.cmd_text(conn, &["CLIENT", "NO-EVICT", "OFF"]), "+OK\r\n");
            assert!(c.cmd_text(conn, &["CLIENT", "INFO"]).contains(" flags=N "));
        }
    }

    #[test]
    fn help_is_an_array_of_simple_strings() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        let help = c.cmd_text(conn, &["CLIENT", "HELP"]);
        let lines = super::HELP_LINES.len();
        assert!(
            help.starts_with(&format!("*{lines}\r\n+CLIENT <subcommand>")),
            "{help}"
        );
        assert_eq!(help.matches("\r\n+").count(), lines);
    }
}
