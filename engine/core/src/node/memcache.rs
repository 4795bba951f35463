//! A connection that speaks Memcached (accepted on `--memcached_port`): its requests run as
//! engine work on the shards and keyspace RESP uses (database 0), through the same routing,
//! batching and transactions (`Node::run_keyed`); only decoding and encoding differ.
//!
//! The decoder (`crate::memcache`) turns each request into an `Argv` whose head names the
//! operation. Keyed operations run the rows of `cmd::family::memcache`; the rest (`version`,
//! `verbosity`, `quit`, `stats`, `flush_all`, `mn`, and refusals) are answered here. Replies
//! are written as Memcached text (`encode`).

use crate::argv::Argv;
use crate::cmd::family::memcache::spec_of;
use crate::cmd::{Exec, NodeCmd};
use crate::conn::{Conn, ConnState};
use crate::cx::Cx;
use crate::error::CmdError;
use crate::memcache::{Decoder, Head, Op, VERSION};
use crate::node::{Flow, Node};
use crate::reply::Reply;

/// What a Memcached connection keeps beside the common `Conn`.
pub struct MemcacheConn {
    pub decoder: Decoder,
    /// How the next reply from a node-wide command is written.
    next_reply: NextReply,
    pub item_size_max_bytes: usize,
}

/// The next reply's form, for the commands that borrow a RESP node command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NextReply {
    AsIs,
    /// `flush_all noreply`: drop it.
    Silent,
    /// `stats`: INFO's text, written as STAT lines.
    Stats,
}

impl MemcacheConn {
    pub fn new(item_size_max_bytes: usize) -> MemcacheConn {
        MemcacheConn {
            decoder: Decoder::new(item_size_max_bytes),
            next_reply: NextReply::AsIs,
            item_size_max_bytes,
        }
    }
}

/// Runs one decoded request. A request that travels takes `argv`, leaving it empty.
pub(crate) fn dispatch(node: &mut Node, conn: &mut Conn, argv: &mut Argv, cx: &mut Cx) -> Flow {
    let head = Head::decode(&argv[0]).expect("the memcache decoder writes a head");
    node.counters.commands_processed += 1;
    conn.commands_processed += 1;
    conn.last_cmd_ms = cx.wall_ms();
    if !conn.authenticated && !matches!(head.op, Op::Quit | Op::Close | Op::Refuse) {
        authenticate(node, conn, head, argv);
        return Flow::Next;
    }
    match head.op {
        Op::Refuse => {
            if !head.noreply {
                line(conn, &argv[1]);
            }
            Flow::Next
        }
        Op::Close | Op::Quit => {
            conn.state = ConnState::Closing;
            Flow::Stop
        }
        Op::Version => {
            line(conn, format!("VERSION {VERSION}").as_bytes());
            Flow::Next
        }
        Op::Verbosity => {
            if !head.noreply {
                line(conn, b"OK");
            }
            Flow::Next
        }
        Op::MetaNoop => {
            line(conn, b"MN");
            Flow::Next
        }
        Op::Stats => stats(node, conn, argv, cx),
        Op::FlushAll => flush_all(node, conn, head, cx),
        op => {
            let spec = spec_of(op).expect("a keyed memcache operation has a row");
            let Exec::Shard { run, merge } = spec.exec else {
                unreachable!("memcache rows run on shards")
            };
            conn.last_cmd = spec.name;
            node.run_keyed(conn, spec, run, merge, argv, cx)
        }
    }
}

/// The row of a request that may join a pipelined batch: keyed operations only.
pub(crate) fn resolve(argv: &Argv) -> Result<&'static crate::cmd::CommandSpec, CmdError> {
    Head::decode(&argv[0])
        .and_then(|head| spec_of(head.op))
        .ok_or(CmdError::Syntax)
}

/// With `requirepass` set, a Memcached client authenticates as memcached's text protocol has
/// it (`-Y`): its first `set` carries `<user> <password>` as data; anything else is refused.
fn authenticate(node: &Node, conn: &mut Conn, head: Head, argv: &Argv) {
    if head.op != Op::Set {
        line(conn, b"CLIENT_ERROR unauthenticated");
        return;
    }
    let data = &argv[2];
    let password = data.splitn(2, |&b| b == b' ').nth(1).unwrap_or_default();
    let expected = node.config.requirepass.as_deref().unwrap_or_default();
    if !expected.is_empty() && password == expected {
        conn.set_authenticated(true);
        line(conn, b"STORED");
    } else {
        line(conn, b"CLIENT_ERROR authentication failure");
    }
}

fn line(conn: &mut Conn, text: &[u8]) {
    conn.out.extend_from_slice(text);
    conn.out.extend_from_slice(b"\r\n");
}

/// `flush_all [delay] [noreply]`: database 0 emptied on every shard, as FLUSHDB does.
fn flush_all(node: &mut Node, conn: &mut Conn, head: Head, cx: &mut Cx) -> Flow {
    if head.exptime_s > 0 {
        // memcached's delayed flush invalidates items by their write time, which entries do
        // not keep; refusing beats flushing early or never.
        if !head.noreply {
            line(
                conn,
                b"SERVER_ERROR flush_all with a delay is not supported",
            );
        }
        return Flow::Next;
    }
    if let Some(mc) = &mut conn.memcache {
        mc.next_reply = if head.noreply {
            NextReply::Silent
        } else {
            NextReply::AsIs
        };
    }
    let argv = Argv::from_slices(&[b"FLUSHDB".as_slice()]);
    node.start_node_cmd(conn, NodeCmd::FlushDb, argv, cx)
}

/// `stats` (general), `stats settings`, `stats items`, `stats slabs`: the node's INFO figures
/// under memcached's names, for what applies.
fn stats(node: &mut Node, conn: &mut Conn, argv: &Argv, cx: &mut Cx) -> Flow {
    let section = argv.get(1).unwrap_or_default();
    match section {
        b"" => {
            if let Some(mc) = &mut conn.memcache {
                mc.next_reply = NextReply::Stats;
            }
            let argv = Argv::from_slices(&[b"INFO".as_slice(), b"everything".as_slice()]);
            node.start_node_cmd(conn, NodeCmd::Info, argv, cx)
        }
        b"settings" => {
            let item_max = conn
                .memcache
                .as_ref()
                .map_or(0, |mc| mc.item_size_max_bytes);
            let settings = [
                ("maxbytes", node.config.maxmemory_bytes.to_string()),
                ("maxconns", node.config.maxclients.to_string()),
                ("tcpport", "0".to_string()),
                ("udpport", "0".to_string()),
                ("evictions", "on".to_string()),
                ("num_threads", node.threads.to_string()),
                ("cas_enabled", "yes".to_string()),
                ("item_size_max", item_max.to_string()),
                ("binding_protocol", "ascii".to_string()),
                ("flush_enabled", "yes".to_string()),
                ("meta_response_old", "no".to_string()),
            ];
            for (name, value) in settings {
                line(conn, format!("STAT {name} {value}").as_bytes());
            }
            line(conn, b"END");
            Flow::Next
        }
        // Damselfly has no slab classes or per-class LRUs: nothing to list.
        b"items" | b"slabs" | b"sizes" | b"conns" => {
            if section == b"slabs" {
                line(conn, b"STAT active_slabs 0");
                line(conn, b"STAT total_malloced 0");
            }
            line(conn, b"END");
            Flow::Next
        }
        b"reset" => {
            line(conn, b"RESET");
            Flow::Next
        }
        _ => {
            line(conn, b"ERROR");
            Flow::Next
        }
    }
}

/// Writes `reply` as Memcached text (see `cmd::family::memcache` for the forms).
pub fn encode(reply: &Reply, mc: &mut MemcacheConn, out: &mut Vec<u8>) {
    match std::mem::replace(&mut mc.next_reply, NextReply::AsIs) {
        NextReply::AsIs => write(reply, out),
        NextReply::Silent => {}
        NextReply::Stats => match reply {
            Reply::Bulk(text) | Reply::Verbatim { text, .. } => stats_lines(text, out),
            other => write(other, out),
        },
    }
}

fn write(reply: &Reply, out: &mut Vec<u8>) {
    match reply {
        Reply::Simple(text) => {
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Reply::Bulk(raw) => out.extend_from_slice(raw),
        Reply::Nil | Reply::NilArray => {}
        Reply::Array(items) => {
            for item in items {
                write(item, out);
            }
            out.extend_from_slice(b"END\r\n");
        }
        Reply::Frames(items) => {
            for item in items {
                write(item, out);
            }
        }
        Reply::Int(n) => out.extend_from_slice(format!("{n}\r\n").as_bytes()),
        Reply::Error(CmdError::OutOfMemory) => {
            out.extend_from_slice(b"SERVER_ERROR out of memory storing object\r\n");
        }
        Reply::Error(err) => {
            let text = err.text().replace(['\r', '\n'], " ");
            out.extend_from_slice(format!("SERVER_ERROR {text}\r\n").as_bytes());
        }
        other => {
            let text = format!("SERVER_ERROR unexpected reply {other:?}");
            out.extend_from_slice(text.replace(['\r', '\n'], " ").as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// INFO's `name:value` lines as memcached's STAT lines, for the figures that mean the same.
fn stats_lines(info: &[u8], out: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(info);
    let field = |name: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let number = |name: &str| -> u64 { field(name).and_then(|v| v.parse().ok()).unwrap_or(0) };
    let keys: u64 = text
        .lines()
        .filter_map(|l| l.strip_prefix("db0:keys="))
        .filter_map(|l| l.split(',').next()?.parse::<u64>().ok())
        .sum();
    let hits = number("keyspace_hits");
    let misses = number("keyspace_misses");
    let stats = [
        ("pid", number("process_id").to_string()),
        ("uptime", number("uptime_in_seconds").to_string()),
        ("time", (number("server_time_usec") / 1_000_000).to_string()),
        ("version", VERSION.to_string()),
        ("pointer_size", "64".to_string()),
        ("curr_connections", number("connected_clients").to_string()),
        (
            "total_connections",
            number("total_connections_received").to_string(),
        ),
        ("cmd_get", (hits + misses).to_string()),
        ("get_hits", hits.to_string()),
        ("get_misses", misses.to_string()),
        ("expired_unfetched", "0".to_string()),
        ("evictions", number("evicted_keys").to_string()),
        ("curr_items", keys.to_string()),
        ("bytes", number("used_memory").to_string()),
        ("limit_maxbytes", number("maxmemory").to_string()),
        ("threads", number("io_threads_active").max(1).to_string()),
    ];
    for (name, value) in stats {
        out.extend_from_slice(format!("STAT {name} {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"END\r\n");
}
