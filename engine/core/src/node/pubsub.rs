//! Pub/Sub on one thread: the registry of this thread's subscribers, the (un)subscribe
//! commands, message delivery, and PUBLISH/PUBSUB's node-wide fan-out (design and the choice of
//! path: `papers/pubsub.md`).
//!
//! A connection's subscriptions live in the connection (`ConnSubs`) and in its thread's
//! `Registry` (channel or pattern to the subscribing connections here); no thread knows
//! another's. PUBLISH is a node command: one `NodeOp::Publish` per thread, each delivering to
//! its own subscribers and answering how many it reached; the publisher waits for every count
//! before its next command runs. So one publisher's messages leave in order, and since a thread
//! sends to another in FIFO order (`cx.rs`), they arrive in order at every subscriber.
//!
//! Invariant: a connection is in the registry under a channel or pattern exactly when that
//! channel or pattern is in its `ConnSubs`.

use std::collections::{BTreeMap, BTreeSet};

use crate::argv::Argv;
use crate::cmd::pubsub::SubCmd;
use crate::cmd::{Exec, NodeCmd};
use crate::config::OutputLimit;
use crate::conn::{Conn, ConnState};
use crate::coord::{CmdErrorOrReply, Targets};
use crate::cx::{ConnId, Cx, Effect, LogLevel, ThreadId};
use crate::error::CmdError;
use crate::glob::glob_match;
use crate::hop::{NodeOp, NodeResult};
use crate::node::{Flow, Node, NodeCounters};
use crate::reply::Reply;
use crate::resp::RespVersion;

/// Which channel namespace: PUBLISH's, or SPUBLISH's shard channels (a separate namespace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    Plain,
    Shard,
}

/// One connection's subscriptions.
#[derive(Debug, Default)]
pub struct ConnSubs {
    pub channels: BTreeSet<Vec<u8>>,
    /// In subscription order: PUNSUBSCRIBE without arguments goes through them in it, as
    /// Redis's list of a client's patterns does.
    pub patterns: Vec<Vec<u8>>,
    pub shard_channels: BTreeSet<Vec<u8>>,
    /// When the output queued for this connection last rose above the pubsub soft limit and
    /// has stayed above since (monotonic µs).
    pub over_soft_limit_since_us: Option<u64>,
}

impl ConnSubs {
    /// Channels plus patterns: the count (P)SUBSCRIBE replies carry.
    fn plain_count(&self) -> i64 {
        (self.channels.len() + self.patterns.len()) as i64
    }

    /// Whether the connection is in Redis's pub/sub mode (any subscription of any kind).
    pub fn active(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty() || !self.shard_channels.is_empty()
    }
}

/// This thread's subscribers by channel and by pattern.
#[derive(Debug, Default)]
pub struct Registry {
    channels: BTreeMap<Vec<u8>, Vec<ConnId>>,
    shard_channels: BTreeMap<Vec<u8>, Vec<ConnId>>,
    patterns: BTreeMap<Vec<u8>, Vec<ConnId>>,
}

impl Registry {
    fn space(&mut self, space: Space) -> &mut BTreeMap<Vec<u8>, Vec<ConnId>> {
        match space {
            Space::Plain => &mut self.channels,
            Space::Shard => &mut self.shard_channels,
        }
    }

    fn channels_of(&self, space: Space) -> &BTreeMap<Vec<u8>, Vec<ConnId>> {
        match space {
            Space::Plain => &self.channels,
            Space::Shard => &self.shard_channels,
        }
    }

    /// Checks the registry against the connections' own sets (simulator and tests).
    pub fn check_invariants<'c>(&self, conns: impl Iterator<Item = &'c Conn>) {
        let mut listed = 0;
        for conn in conns {
            let subs = &conn.subs;
            for (map, names) in [
                (&self.channels, subs.channels.iter().collect::<Vec<_>>()),
                (&self.shard_channels, subs.shard_channels.iter().collect()),
                (&self.patterns, subs.patterns.iter().collect()),
            ] {
                for name in names {
                    let ids = map.get(name).map(Vec::as_slice).unwrap_or(&[]);
                    assert!(ids.contains(&conn.id), "conn {:?} not registered", conn.id);
                    listed += 1;
                }
            }
        }
        let registered: usize = [&self.channels, &self.shard_channels, &self.patterns]
            .iter()
            .flat_map(|m| m.values())
            .map(Vec::len)
            .sum();
        // Connections checked out of the table are not listed: only a bound can be checked.
        assert!(
            listed <= registered,
            "{listed} subscriptions, {registered} registered"
        );
    }
}

fn register(map: &mut BTreeMap<Vec<u8>, Vec<ConnId>>, name: &[u8], id: ConnId) {
    map.entry(name.to_vec()).or_default().push(id);
}

fn deregister(map: &mut BTreeMap<Vec<u8>, Vec<ConnId>>, name: &[u8], id: ConnId) {
    if let Some(ids) = map.get_mut(name) {
        ids.retain(|&c| c != id);
        if ids.is_empty() {
            map.remove(name);
        }
    }
}

/// A subscription change as Redis reports it: `[kind, name or nil, count]`.
fn notice(kind: &'static str, name: Option<&[u8]>, count: i64) -> Reply {
    Reply::Push(vec![
        Reply::bulk(kind.as_bytes()),
        name.map_or(Reply::Nil, Reply::bulk),
        Reply::Int(count),
    ])
}

/// Runs a (un)subscribe command; returns the frames it answers with, one per name.
pub(crate) fn run_sub(node: &mut Node, conn: &mut Conn, cmd: SubCmd, argv: &Argv) -> Vec<Reply> {
    let names = argv.iter().skip(1);
    let registry = &mut node.pubsub;
    let (id, subs) = (conn.id, &mut conn.subs);
    let mut frames = Vec::with_capacity(argv.len().max(2) - 1);
    match cmd {
        SubCmd::Subscribe | SubCmd::SSubscribe => {
            let (space, kind) = match cmd {
                SubCmd::Subscribe => (Space::Plain, "subscribe"),
                _ => (Space::Shard, "ssubscribe"),
            };
            for name in names {
                let set = match space {
                    Space::Plain => &mut subs.channels,
                    Space::Shard => &mut subs.shard_channels,
                };
                if set.insert(name.to_vec()) {
                    register(registry.space(space), name, id);
                }
                let count = match space {
                    Space::Plain => subs.plain_count(),
                    Space::Shard => subs.shard_channels.len() as i64,
                };
                frames.push(notice(kind, Some(name), count));
            }
        }
        SubCmd::PSubscribe => {
            for name in names {
                if !subs.patterns.iter().any(|p| p == name) {
                    subs.patterns.push(name.to_vec());
                    register(&mut registry.patterns, name, id);
                }
                frames.push(notice("psubscribe", Some(name), subs.plain_count()));
            }
        }
        SubCmd::Unsubscribe | SubCmd::SUnsubscribe => {
            let (space, kind) = match cmd {
                SubCmd::Unsubscribe => (Space::Plain, "unsubscribe"),
                _ => (Space::Shard, "sunsubscribe"),
            };
            let set = match space {
                Space::Plain => &mut subs.channels,
                Space::Shard => &mut subs.shard_channels,
            };
            let targets: Vec<Vec<u8>> = if argv.len() == 1 {
                set.iter().cloned().collect()
            } else {
                names.map(<[u8]>::to_vec).collect()
            };
            for name in &targets {
                let set = match space {
                    Space::Plain => &mut subs.channels,
                    Space::Shard => &mut subs.shard_channels,
                };
                if set.remove(name) {
                    deregister(registry.space(space), name, id);
                }
                let count = match space {
                    Space::Plain => subs.plain_count(),
                    Space::Shard => subs.shard_channels.len() as i64,
                };
                frames.push(notice(kind, Some(name), count));
            }
            if targets.is_empty() {
                let count = match space {
                    Space::Plain => subs.plain_count(),
                    Space::Shard => subs.shard_channels.len() as i64,
                };
                frames.push(notice(kind, None, count));
            }
        }
        SubCmd::PUnsubscribe => {
            let targets: Vec<Vec<u8>> = if argv.len() == 1 {
                subs.patterns.clone()
            } else {
                names.map(<[u8]>::to_vec).collect()
            };
            for name in &targets {
                if let Some(at) = subs.patterns.iter().position(|p| p == name) {
                    subs.patterns.remove(at);
                    deregister(&mut registry.patterns, name, id);
                }
                frames.push(notice("punsubscribe", Some(name), subs.plain_count()));
            }
            if targets.is_empty() {
                frames.push(notice("punsubscribe", None, subs.plain_count()));
            }
        }
    }
    frames
}

/// Ends every subscription of the connection, silently (RESET, disconnect).
pub(crate) fn unsubscribe_all(node: &mut Node, conn: &mut Conn) {
    let subs = std::mem::take(&mut conn.subs);
    for name in &subs.channels {
        deregister(&mut node.pubsub.channels, name, conn.id);
    }
    for name in &subs.shard_channels {
        deregister(&mut node.pubsub.shard_channels, name, conn.id);
    }
    for name in &subs.patterns {
        deregister(&mut node.pubsub.patterns, name, conn.id);
    }
}

/// Whether a RESP2 connection in pub/sub mode may run the command (Redis's list).
pub(crate) fn allowed_while_subscribed(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

/// Whether queued output of `pending_bytes` breaks the limit now; tracks the soft window.
fn over_limit(limit: OutputLimit, subs: &mut ConnSubs, pending_bytes: u64, now_us: u64) -> bool {
    if limit.hard_bytes > 0 && pending_bytes >= limit.hard_bytes {
        return true;
    }
    if limit.soft_bytes > 0 && pending_bytes >= limit.soft_bytes {
        let since = *subs.over_soft_limit_since_us.get_or_insert(now_us);
        return now_us.saturating_sub(since) >= limit.soft_seconds * 1_000_000;
    }
    subs.over_soft_limit_since_us = None;
    false
}

const OUTPUT_LIMIT_WARNING: &str =
    "Client scheduled to be closed ASAP for overcoming of output buffer limits.";

/// Queues message frames on a subscriber hosted here (checked in, its step's output already
/// flushed). A subscriber whose queued output breaks the pubsub limit is dropped at once, its
/// unsent output discarded: memory stays bounded and nobody else waits for it.
/// Where a subscriber's frames go: counted, then through the durability gate (a subscriber
/// whose earlier replies wait for an fsync gets its messages after them).
struct Output<'a> {
    counters: &'a mut NodeCounters,
    gate: &'a mut crate::node::durability::Gate,
    gate_active: bool,
}

fn push_bytes(conn: &mut Conn, bytes: Vec<u8>, limit: OutputLimit, out: Output, cx: &mut Cx) {
    if matches!(conn.state, ConnState::Closing) {
        // Redis drops replies to a client it is closing; it still counts as a receiver.
        cx.recycle_buffer(bytes);
        return;
    }
    let pending = (conn.out_pending_bytes + bytes.len()) as u64;
    if over_limit(limit, &mut conn.subs, pending, cx.now_mono_us()) {
        cx.mark("pubsub.output_limit");
        conn.state = ConnState::Closing;
        cx.push(Effect::Log {
            level: LogLevel::Warning,
            text: OUTPUT_LIMIT_WARNING,
        });
        cx.push(Effect::Abort { conn: conn.id });
        cx.recycle_buffer(bytes);
        return;
    }
    conn.out_pending_bytes += bytes.len();
    out.counters.net_output_bytes += bytes.len() as u64;
    let write = Effect::Write {
        conn: conn.id,
        bytes,
    };
    out.gate.emit(out.gate_active, cx, conn.id, write);
}

/// A message frame encoded once per protocol version, on first need.
struct Encoded<'r> {
    frame: &'r Reply,
    resp2: Option<Vec<u8>>,
    resp3: Option<Vec<u8>>,
}

impl<'r> Encoded<'r> {
    fn new(frame: &'r Reply) -> Self {
        Encoded {
            frame,
            resp2: None,
            resp3: None,
        }
    }

    fn bytes(&mut self, version: RespVersion) -> &[u8] {
        let slot = match version {
            RespVersion::Resp2 => &mut self.resp2,
            RespVersion::Resp3 => &mut self.resp3,
        };
        slot.get_or_insert_with(|| {
            let mut out = Vec::new();
            crate::resp::encode(self.frame, version, &mut out);
            out
        })
    }
}

/// Delivers messages, in order, to this thread's subscribers: each subscriber gets one write
/// for the whole batch. The publisher gets its own frames back in `to_caller`, to write just
/// before each count, as Redis does.
fn deliver(
    node: &mut Node,
    messages: &[(Space, Vec<u8>, Vec<u8>)],
    publisher: ConnId,
    cx: &mut Cx,
) -> NodeResult {
    let limit = node.config.pubsub_output_limit();
    let mut receivers = Vec::with_capacity(messages.len());
    let mut to_caller = vec![Vec::new(); messages.len()];
    // Each subscriber's bytes for the batch, in first-message order.
    let mut outgoing: Vec<(ConnId, Vec<u8>)> = Vec::new();
    let mut slot_of: BTreeMap<ConnId, usize> = BTreeMap::new();
    for (n, (space, channel, message)) in messages.iter().enumerate() {
        let mut count = 0u64;
        for (frame, ids) in frames_for(&node.pubsub, *space, channel, message) {
            let mut encoded = Encoded::new(&frame);
            for id in ids {
                count += 1;
                if id == publisher {
                    // The publisher is busy with this very command (running or waiting): its
                    // frames go back with the count.
                    to_caller[n].push(frame.clone());
                    continue;
                }
                let Some(conn) = node.conns.get(&id) else {
                    continue;
                };
                let bytes = encoded.bytes(conn.resp);
                let at = *slot_of.entry(id).or_insert_with(|| {
                    outgoing.push((id, cx.take_buffer()));
                    outgoing.len() - 1
                });
                outgoing[at].1.extend_from_slice(bytes);
            }
        }
        receivers.push(count);
    }
    let active = crate::node::durability::gate_active(&node.config);
    for (id, bytes) in outgoing {
        if let Some(conn) = node.conns.get_mut(&id) {
            let out = Output {
                counters: &mut node.counters,
                gate: &mut node.gate,
                gate_active: active,
            };
            push_bytes(conn, bytes, limit, out, cx);
        }
    }
    NodeResult::Published {
        receivers,
        to_caller,
    }
}

/// The frames one message makes here and who gets each: the channel's subscribers, then each
/// matching pattern's (plain channels only).
fn frames_for(
    registry: &Registry,
    space: Space,
    channel: &[u8],
    message: &[u8],
) -> Vec<(Reply, Vec<ConnId>)> {
    let kind: &'static [u8] = match space {
        Space::Plain => b"message",
        Space::Shard => b"smessage",
    };
    let mut groups = Vec::new();
    if let Some(ids) = registry.channels_of(space).get(channel) {
        let frame = Reply::Push(vec![
            Reply::bulk(kind),
            Reply::bulk(channel),
            Reply::bulk(message),
        ]);
        groups.push((frame, ids.clone()));
    }
    if space == Space::Plain {
        for (pattern, ids) in &registry.patterns {
            if glob_match(pattern, channel, false) {
                let frame = Reply::Push(vec![
                    Reply::bulk(b"pmessage".as_slice()),
                    Reply::bulk(pattern.as_slice()),
                    Reply::bulk(channel),
                    Reply::bulk(message),
                ]);
                groups.push((frame, ids.clone()));
            }
        }
    }
    groups
}

/// Pipelined PUBLISH/SPUBLISH commands that follow this one ride in its op, at most this many:
/// one round of messages to the other threads, and one write per subscriber, per batch.
const PUBLISH_BATCH_MAX: usize = 64;

/// PUBLISH or SPUBLISH, with the PUBLISH/SPUBLISH commands pipelined right behind it.
pub(crate) fn start_publish(
    node: &mut Node,
    conn: &mut Conn,
    cmd: NodeCmd,
    argv: Argv,
    cx: &mut Cx,
) -> Flow {
    let mut messages = vec![(space_of(cmd), argv[1].to_vec(), argv[2].to_vec())];
    let mut next = Argv::new();
    while messages.len() < PUBLISH_BATCH_MAX {
        let Ok(true) = conn.decoder.next_command_into(&mut next) else {
            break;
        };
        match node.resolve_slot(conn, &next) {
            Ok((slot, spec))
                if matches!(spec.exec, Exec::Node(NodeCmd::Publish | NodeCmd::SPublish)) =>
            {
                let Exec::Node(cmd) = spec.exec else {
                    unreachable!("matched above")
                };
                node.counters.commands_processed += 1;
                conn.commands_processed += 1;
                node.observed.call(slot, 0, false, false);
                messages.push((space_of(cmd), next[1].to_vec(), next[2].to_vec()));
            }
            _ => {
                conn.stashed = Some(next);
                break;
            }
        }
    }
    let op = NodeOp::Publish {
        publisher: conn.id,
        messages,
    };
    let targets = (0..node.threads).map(ThreadId).collect();
    crate::coord::start_node_op(node, conn, cmd, argv, op, targets, cx)
}

/// PUBLISH, SPUBLISH and PUBSUB's subcommands: the op every thread runs.
pub(crate) fn plan_node_cmd(
    cmd: NodeCmd,
    argv: &Argv,
    publisher: ConnId,
) -> Result<(NodeOp, Targets), CmdErrorOrReply> {
    let op = match cmd {
        NodeCmd::Publish | NodeCmd::SPublish => NodeOp::Publish {
            publisher,
            messages: vec![(space_of(cmd), argv[1].to_vec(), argv[2].to_vec())],
        },
        NodeCmd::PubSubChannels | NodeCmd::PubSubShardChannels => {
            if argv.len() > 3 {
                return Err(CmdError::SubcommandSyntax {
                    sub: argv[1].to_vec(),
                    container: "PUBSUB",
                }
                .into());
            }
            NodeOp::PubSubChannels {
                space: space_of(cmd),
                pattern: argv.get(2).map(<[u8]>::to_vec),
            }
        }
        NodeCmd::PubSubNumSub | NodeCmd::PubSubShardNumSub => NodeOp::PubSubNumSub {
            space: space_of(cmd),
            channels: argv.iter().skip(2).map(<[u8]>::to_vec).collect(),
        },
        NodeCmd::PubSubNumPat => NodeOp::PubSubPatterns,
        other => unreachable!("{other:?} is not a pub/sub command"),
    };
    Ok((op, Targets::All))
}

fn space_of(cmd: NodeCmd) -> Space {
    match cmd {
        NodeCmd::SPublish | NodeCmd::PubSubShardChannels | NodeCmd::PubSubShardNumSub => {
            Space::Shard
        }
        _ => Space::Plain,
    }
}

/// This thread's part of a pub/sub node op.
pub(crate) fn run_node_op(node: &mut Node, op: NodeOp, cx: &mut Cx) -> NodeResult {
    match op {
        NodeOp::Publish {
            publisher,
            messages,
        } => deliver(node, &messages, publisher, cx),
        NodeOp::PubSubChannels { space, pattern } => NodeResult::Keys(
            node.pubsub
                .channels_of(space)
                .keys()
                .filter(|name| pattern.as_ref().is_none_or(|p| glob_match(p, name, false)))
                .cloned()
                .collect(),
        ),
        NodeOp::PubSubNumSub { space, channels } => {
            let map = node.pubsub.channels_of(space);
            let counts = channels
                .iter()
                .map(|c| map.get(c).map_or(0, |ids| ids.len() as u64))
                .collect();
            NodeResult::Counts(counts)
        }
        NodeOp::PubSubPatterns => NodeResult::Keys(node.pubsub.patterns.keys().cloned().collect()),
        other => unreachable!("{other:?} is not a pub/sub op"),
    }
}

/// Merges the threads' answers into the reply.
pub(crate) fn finish_node_cmd(
    cmd: NodeCmd,
    argv: &Argv,
    results: Vec<(ThreadId, NodeResult)>,
) -> Reply {
    match cmd {
        NodeCmd::Publish | NodeCmd::SPublish => {
            // One count per message of the batch, each after the publisher's own frames.
            let mut totals: Vec<u64> = Vec::new();
            let mut own: Vec<Vec<Reply>> = Vec::new();
            for (_, result) in results {
                let NodeResult::Published {
                    receivers,
                    to_caller,
                } = result
                else {
                    unreachable!("PUBLISH part {result:?}")
                };
                totals.resize(receivers.len(), 0);
                own.resize(receivers.len(), Vec::new());
                for (n, (count, frames)) in receivers.into_iter().zip(to_caller).enumerate() {
                    totals[n] += count;
                    own[n].extend(frames);
                }
            }
            let mut frames = Vec::new();
            for (total, mine) in totals.into_iter().zip(own) {
                frames.extend(mine);
                frames.push(Reply::Int(total as i64));
            }
            match frames.len() {
                1 => frames.pop().expect("one count"),
                _ => Reply::Frames(frames),
            }
        }
        NodeCmd::PubSubChannels | NodeCmd::PubSubShardChannels => {
            Reply::Array(distinct(results).into_iter().map(Reply::Bulk).collect())
        }
        NodeCmd::PubSubNumPat => Reply::Int(distinct(results).len() as i64),
        NodeCmd::PubSubNumSub | NodeCmd::PubSubShardNumSub => {
            let mut totals = vec![0u64; argv.len() - 2];
            for (_, result) in results {
                let NodeResult::Counts(counts) = result else {
                    unreachable!("NUMSUB part {result:?}")
                };
                for (total, n) in totals.iter_mut().zip(counts) {
                    *total += n;
                }
            }
            let pairs = argv.iter().skip(2).zip(totals);
            let flat = pairs.flat_map(|(name, n)| [Reply::bulk(name), Reply::Int(n as i64)]);
            Reply::Array(flat.collect())
        }
        other => unreachable!("{other:?} is not a pub/sub command"),
    }
}

/// The union of the threads' name lists, each name once, in byte order.
fn distinct(results: Vec<(ThreadId, NodeResult)>) -> BTreeSet<Vec<u8>> {
    results
        .into_iter()
        .flat_map(|(_, result)| match result {
            NodeResult::Keys(names) => names,
            other => unreachable!("pub/sub names part {other:?}"),
        })
        .collect()
}

/// This thread's distinct channels, patterns and shard channels, for INFO (merged by name).
pub(crate) fn names_for_info(node: &Node) -> [Vec<Vec<u8>>; 3] {
    let r = &node.pubsub;
    [
        r.channels.keys().cloned().collect(),
        r.patterns.keys().cloned().collect(),
        r.shard_channels.keys().cloned().collect(),
    ]
}

/// The (sub, psub, ssub) counts CLIENT LIST shows.
pub fn client_counts(conn: &Conn) -> (usize, usize, usize) {
    let s = &conn.subs;
    (s.channels.len(), s.patterns.len(), s.shard_channels.len())
}

#[cfg(test)]
mod tests {
    use crate::testkit::TestCluster;

    fn push(kind: &str, name: &str, count: i64) -> String {
        format!(
            "*3\r\n${}\r\n{kind}\r\n${}\r\n{name}\r\n:{count}\r\n",
            kind.len(),
            name.len()
        )
    }

    fn message(channel: &str, text: &str) -> String {
        format!(
            "*3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n{text}\r\n",
            channel.len(),
            text.len()
        )
    }

    fn output(c: &mut TestCluster, conn: crate::cx::ConnId) -> String {
        String::from_utf8(c.take_output(conn)).unwrap()
    }

    #[test]
    fn publish_reaches_subscribers_on_every_thread_and_counts_them() {
        let mut c = TestCluster::new(3);
        let subs: Vec<_> = (0..3).map(|t| c.connect(t)).collect();
        for &s in &subs {
            assert_eq!(
                c.cmd_text(s, &["SUBSCRIBE", "news"]),
                push("subscribe", "news", 1)
            );
        }
        let pattern = c.connect(2);
        assert_eq!(
            c.cmd_text(pattern, &["PSUBSCRIBE", "n*"]),
            push("psubscribe", "n*", 1)
        );
        let publisher = c.connect(1);
        assert_eq!(c.cmd_text(publisher, &["PUBLISH", "news", "hi"]), ":4\r\n");
        for &s in &subs {
            assert_eq!(output(&mut c, s), message("news", "hi"));
        }
        assert_eq!(
            output(&mut c, pattern),
            "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(c.cmd_text(publisher, &["PUBLISH", "other", "x"]), ":0\r\n");
        assert_eq!(c.cmd_text(publisher, &["SPUBLISH", "news", "x"]), ":0\r\n");
        assert_eq!(
            c.cmd_text(publisher, &["PUBSUB", "NUMSUB", "news", "none"]),
            "*4\r\n$4\r\nnews\r\n:3\r\n$4\r\nnone\r\n:0\r\n"
        );
        assert_eq!(c.cmd_text(publisher, &["PUBSUB", "NUMPAT"]), ":1\r\n");
        assert_eq!(
            c.cmd_text(publisher, &["PUBSUB", "CHANNELS"]),
            "*1\r\n$4\r\nnews\r\n"
        );
        assert_eq!(
            c.cmd_text(publisher, &["PUBSUB", "CHANNELS", "x*"]),
            "*0\r\n"
        );
    }

    #[test]
    fn one_publishers_messages_arrive_in_order_on_every_thread() {
        let mut c = TestCluster::new(3);
        let subs: Vec<_> = (0..3).map(|t| c.connect(t)).collect();
        for &s in &subs {
            c.cmd(s, &["SUBSCRIBE", "seq"]);
        }
        let publisher = c.connect(0);
        let mut pipeline = String::new();
        let mut expected = String::new();
        for i in 0..50 {
            let text = i.to_string();
            pipeline.push_str(&format!(
                "*3\r\n$7\r\nPUBLISH\r\n$3\r\nseq\r\n${}\r\n{text}\r\n",
                text.len()
            ));
            expected.push_str(&message("seq", &text));
        }
        let replies = String::from_utf8(c.send(publisher, pipeline.as_bytes())).unwrap();
        assert_eq!(replies, ":3\r\n".repeat(50));
        for &s in &subs {
            assert_eq!(output(&mut c, s), expected);
        }
    }

    #[test]
    fn resp2_subscribers_run_only_subscription_commands() {
        let mut c = TestCluster::new(2);
        let s = c.connect(1);
        c.cmd(s, &["SSUBSCRIBE", "a"]);
        assert_eq!(
            c.cmd_text(s, &["GET", "k"]),
            "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
             RESET are allowed in this context\r\n"
        );
        assert_eq!(
            c.cmd_text(s, &["CLIENT", "LIST"]),
            "-ERR Can't execute 'client|list': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / \
             QUIT / RESET are allowed in this context\r\n"
        );
        assert_eq!(c.cmd_text(s, &["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
        assert_eq!(
            c.cmd_text(s, &["PING", "m"]),
            "*2\r\n$4\r\npong\r\n$1\r\nm\r\n"
        );
        assert_eq!(
            c.cmd_text(s, &["UNSUBSCRIBE"]),
            "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
        );
        assert_eq!(
            c.cmd_text(s, &["SUNSUBSCRIBE"]),
            push("sunsubscribe", "a", 0)
        );
        assert_eq!(c.cmd_text(s, &["GET", "k"]), "$-1\r\n");
        assert_eq!(c.cmd_text(s, &["PING"]), "+PONG\r\n");
    }

    #[test]
    fn resp3_subscribers_get_push_frames_and_run_anything() {
        let mut c = TestCluster::new(2);
        let s = c.connect(0);
        c.cmd(s, &["HELLO", "3"]);
        assert_eq!(
            c.cmd_text(s, &["SUBSCRIBE", "x"]),
            ">3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n"
        );
        assert_eq!(c.cmd_text(s, &["GET", "k"]), "_\r\n");
        assert_eq!(c.cmd_text(s, &["PING"]), "+PONG\r\n");
        // The publisher subscribes too: its own message comes before its count.
        assert_eq!(
            c.cmd_text(s, &["PUBLISH", "x", "me"]),
            ">3\r\n$7\r\nmessage\r\n$1\r\nx\r\n$2\r\nme\r\n:1\r\n"
        );
        assert_eq!(
            c.cmd_text(s, &["UNSUBSCRIBE"]),
            ">3\r\n$11\r\nunsubscribe\r\n$1\r\nx\r\n:0\r\n"
        );
        assert_eq!(
            c.cmd_text(s, &["UNSUBSCRIBE"]),
            ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n"
        );
    }

    #[test]
    fn pipelined_publishes_ride_together_and_answer_in_order() {
        let mut c = TestCluster::new(2);
        let (me, other) = (c.connect(0), c.connect(1));
        c.cmd(me, &["HELLO", "3"]);
        c.cmd(me, &["SUBSCRIBE", "a"]);
        c.cmd(other, &["SUBSCRIBE", "a", "b"]);
        let pipeline = "PUBLISH a 1\r\nSPUBLISH a 2\r\nPUBLISH b 3\r\nGET k\r\nPUBLISH a 4\r\n";
        let own = |text: &str| format!(">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\n{text}\r\n");
        assert_eq!(
            String::from_utf8(c.send(me, pipeline.as_bytes())).unwrap(),
            format!("{}:2\r\n:0\r\n:1\r\n_\r\n{}:2\r\n", own("1"), own("4"))
        );
        assert_eq!(
            output(&mut c, other),
            [message("a", "1"), message("b", "3"), message("a", "4")].concat()
        );
    }

    #[test]
    fn reset_and_disconnect_end_every_subscription() {
        let mut c = TestCluster::new(2);
        let (a, b, q) = (c.connect(0), c.connect(1), c.connect(0));
        c.cmd(a, &["SUBSCRIBE", "c1", "c2"]);
        c.cmd(a, &["PSUBSCRIBE", "p*"]);
        c.cmd(b, &["SSUBSCRIBE", "s"]);
        c.cmd(b, &["SUBSCRIBE", "c1"]);
        let info = c.cmd_text(q, &["INFO", "stats"]);
        assert!(info.contains("pubsub_channels:2\r\n"), "{info}");
        assert!(info.contains("pubsub_patterns:1\r\n"), "{info}");
        assert!(info.contains("pubsubshard_channels:1\r\n"), "{info}");
        let list = c.cmd_text(q, &["CLIENT", "LIST", "TYPE", "pubsub"]);
        assert!(list.contains("flags=P db=0 sub=2 psub=1 ssub=0"), "{list}");
        assert!(list.contains("flags=P db=0 sub=1 psub=0 ssub=1"), "{list}");
        assert_eq!(c.cmd_text(a, &["RESET"]), "+RESET\r\n");
        c.hang_up(b);
        assert_eq!(c.cmd_text(q, &["PUBLISH", "c1", "x"]), ":0\r\n");
        assert_eq!(c.cmd_text(q, &["PUBSUB", "NUMPAT"]), ":0\r\n");
        assert_eq!(c.cmd_text(q, &["PUBSUB", "SHARDCHANNELS"]), "*0\r\n");
        let info = c.cmd_text(q, &["INFO", "stats"]);
        assert!(info.contains("pubsub_channels:0\r\n"), "{info}");
        assert_eq!(c.cmd_text(a, &["GET", "k"]), "$-1\r\n");
        for t in 0..2 {
            c.node(t).pubsub.check_invariants(c.node(t).conns.values());
            assert!(c.node(t).pubsub.channels.is_empty());
        }
    }

    #[test]
    fn exec_writes_subscription_frames_inside_its_array() {
        let mut c = TestCluster::new(1);
        let s = c.connect(0);
        c.cmd(s, &["MULTI"]);
        c.cmd(s, &["SUBSCRIBE", "m1", "m2"]);
        c.cmd(s, &["SSUBSCRIBE", "m3"]);
        c.cmd(s, &["PUBLISH", "m1", "z"]);
        assert_eq!(
            c.cmd_text(s, &["EXEC"]),
            format!(
                "*3\r\n{}{}-ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client\r\n{}:1\r\n",
                push("subscribe", "m1", 1),
                push("subscribe", "m2", 2),
                message("m1", "z"),
            )
        );
    }

    #[test]
    fn a_subscriber_that_reads_nothing_is_dropped_at_the_hard_limit() {
        let mut c = TestCluster::new(2);
        let (slow, fast, publisher) = (c.connect(1), c.connect(1), c.connect(0));
        let limit = [
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 4kb 0 0",
        ];
        assert_eq!(c.cmd_text(publisher, &limit), "+OK\r\n");
        c.cmd(slow, &["SUBSCRIBE", "ch"]);
        c.cmd(fast, &["SUBSCRIBE", "ch"]);
        c.stall_output(slow);
        let text = "x".repeat(100);
        let mut delivered = 0;
        while !c.is_closed(slow) {
            assert_eq!(c.cmd_text(publisher, &["PUBLISH", "ch", &text]), ":2\r\n");
            delivered += 1;
            assert!(delivered < 100, "never dropped");
        }
        // A frame is 133 bytes: dropped by the one that would take its queue past 4 KiB.
        assert_eq!(delivered, 4096 / 133 + 1);
        assert_eq!(output(&mut c, fast), message("ch", &text).repeat(delivered));
        assert_eq!(c.cmd_text(publisher, &["PUBLISH", "ch", "y"]), ":1\r\n");
    }

    #[test]
    fn a_subscriber_over_the_soft_limit_for_its_seconds_is_dropped() {
        let mut c = TestCluster::new(1);
        let (slow, publisher) = (c.connect(0), c.connect(0));
        let limit = [
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 1kb 2",
        ];
        assert_eq!(c.cmd_text(publisher, &limit), "+OK\r\n");
        c.cmd(slow, &["SUBSCRIBE", "ch"]);
        c.stall_output(slow);
        let text = "x".repeat(200);
        for _ in 0..10 {
            c.cmd(publisher, &["PUBLISH", "ch", &text]);
        }
        assert!(!c.is_closed(slow), "the soft limit allows its seconds");
        c.advance_ms(2_500);
        c.cmd(publisher, &["PUBLISH", "ch", &text]);
        assert!(c.is_closed(slow));
    }
}
