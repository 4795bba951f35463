//! Blocking commands (BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP; later BZPOP*, XREAD BLOCK):
//! one framework, whatever the command. The design and its costs are in papers/blocking.md.
//!
//! - The row's handler is the attempt. When it answers null outside MULTI, the client blocks.
//! - **Keys on one shard** (one key, or keys sharing a hashtag): the attempt runs on that shard
//!   as `RunOrBlock`, and when it finds nothing the client waits there, registered in the same
//!   step, so no write slips between the check and the wait. Every write ends in
//!   `Shard::modified`, which marks a key with waiters ready; after each command (a batch's
//!   commands one by one, an EXEC or a transaction's hop as a whole) the shard serves the
//!   waiters of its ready keys, oldest key first, first-blocked first-served, each from the key
//!   that became ready: Redis's handleClientsBlockedOnKeys. The reply goes to the client's
//!   thread as `Served`.
//! - **Keys on several shards**: two shards must never pop for one client, so no shard serves
//!   it. The attempt runs as a transaction on copies (`Merge::Gather`); when it finds nothing,
//!   the client registers on every shard for a notice (`Register`), and a shard whose key may
//!   serve it sends `KeyReady` to the head such waiter of that key only (later waiters of the
//!   key wait until it resolves). The client then runs the attempt again, atomically over all
//!   its keys, and either answers (and unregisters everywhere) or registers again, which
//!   re-arms the notice. A registration checks the keys at once, so a value that arrived
//!   between the attempt and the registration still wakes the client.
//! - **Timeouts** are armed on the client's thread. A client served by a shard is withdrawn
//!   with `Unblock`, and answers the timeout only when the shard confirms it had not served
//!   it; a reply already on its way wins, as if served at the deadline. CLIENT UNBLOCK takes
//!   the same path with its own reply. A disconnect withdraws without waiting: an element
//!   served to a client that is gone is lost, as in Redis when the serve comes first.

use std::collections::{BTreeMap, VecDeque};

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::cmd::blocking::{is_null, lookup, Readiness, Timeout};
use crate::cmd::{CommandSpec, GatherDbs};
use crate::conn::{Conn, ConnState};
use crate::coord::SEQ_NO_REPLY;
use crate::cx::{ConnId, Cx, Effect, ThreadId, Timer};
use crate::error::CmdError;
use crate::hop::{HopDone, HopOp, HopResult, Pending, Plan, TxPhase};
use crate::node::{shard_of, Flow, Node};
use crate::reply::Reply;
use crate::tx::LockMode;

/// A blocked client as its shard knows it: its thread, connection and blocking command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WaiterId {
    pub thread: ThreadId,
    pub conn: ConnId,
    pub seq: u64,
}

/// What happened to a waiter served on this shard, in order (`Waiters::log`): the simulator
/// checks from it that each serve went to the key's first-blocked waiter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaiterEvent {
    /// Blocked in `command` on these keys of database `db`, served here.
    Blocked {
        id: WaiterId,
        command: &'static str,
        db: u16,
        keys: Vec<Vec<u8>>,
    },
    /// Served from `key`.
    Served { id: WaiterId, key: Vec<u8> },
    /// Withdrawn unserved (timeout, CLIENT UNBLOCK, disconnect).
    Withdrawn { id: WaiterId },
}

/// A client waiting on keys of this shard.
#[derive(Debug)]
struct Waiter {
    db: u16,
    spec: &'static CommandSpec,
    argv: Argv,
    /// Its keys on this shard, each once.
    keys: Vec<Vec<u8>>,
    /// All its keys are here: this shard serves it. Otherwise it is told (`KeyReady`).
    served_here: bool,
    /// Told that a key is ready, and not yet back (a cross-shard waiter's attempt in flight):
    /// the keys' later waiters wait for it.
    notified: bool,
}

/// The clients blocked on this thread's shard, by id and in each key's arrival order.
#[derive(Debug, Default)]
pub struct Waiters {
    by_id: BTreeMap<WaiterId, Waiter>,
    queues: BTreeMap<(u16, Vec<u8>), VecDeque<WaiterId>>,
    /// Waiters the planted `BlockedPopLost` served without a reply: their withdrawal is
    /// answered as if they had still waited (so the client times out with nothing).
    lost: std::collections::BTreeSet<WaiterId>,
    /// When set, what happens to waiters served here is logged (the simulator's queue runs).
    pub log: Option<Vec<WaiterEvent>>,
}

impl Waiters {
    pub fn check_invariants(&self, shard: &crate::shard::Shard) {
        for ((db, key), queue) in &self.queues {
            assert!(!queue.is_empty(), "an empty waiter queue");
            assert_eq!(
                shard.blocked.waiters_on(*db, key) as usize,
                queue.len(),
                "the shard's count of waiters on a key"
            );
            for id in queue {
                assert!(self.by_id.contains_key(id), "a queued waiter that is gone");
            }
        }
    }
}

/// What a blocked connection keeps of its command, on its own thread.
#[derive(Debug)]
pub struct Blocked {
    /// The command's sequence number, which names the waiter on every shard.
    pub waiter_seq: u64,
    spec: &'static CommandSpec,
    argv: Argv,
    /// The reply on timeout: a nil array for every command, as Redis answers any blocked
    /// client that times out (an immediate BLMOVE that finds nothing answers a nil bulk).
    timeout_reply: Reply,
    timeout: Timeout,
    /// `Some(shard)`: that shard serves it. `None`: its keys span `shards`, which notify it.
    served_by: Option<ThreadId>,
    shards: Vec<ThreadId>,
    /// Registered for notices on `shards` (cross-shard waiters, after their first attempt).
    registered: bool,
    /// A timeout or CLIENT UNBLOCK asked to end the wait with this reply.
    ending: Option<Reply>,
    timer_armed: bool,
}

/// Runs a blocking command (outside MULTI): its attempt, then the wait when it finds nothing.
pub(crate) fn start(
    node: &mut Node,
    conn: &mut Conn,
    spec: &'static CommandSpec,
    argv: &mut Argv,
    cx: &mut Cx,
) -> Flow {
    let key_indexes = spec.key_indexes(argv);
    let (Some(blocking), Some(&first)) = (lookup(spec), key_indexes.first()) else {
        // No key to wait on (BLMPOP 0 …): the attempt answers the error.
        let crate::cmd::Exec::Shard { run, .. } = spec.exec else {
            unreachable!("{} is keyed", spec.name)
        };
        let reply = node.exec_here(conn.db, spec, run, argv, cx);
        conn.encode(&reply);
        return Flow::Next;
    };
    let mut shards: Vec<ThreadId> = key_indexes
        .iter()
        .map(|&i| shard_of(&argv[i], node.threads))
        .collect();
    shards.sort();
    shards.dedup();
    let timeout = (blocking.timeout)(argv).unwrap_or(Timeout::Forever);
    let waiter_seq = node.alloc_seq();
    let blocked = Box::new(Blocked {
        waiter_seq,
        spec,
        argv: argv.clone(),
        timeout_reply: Reply::NilArray,
        timeout,
        served_by: (shards.len() == 1).then(|| shard_of(&argv[first], node.threads)),
        shards,
        registered: false,
        ending: None,
        timer_armed: false,
    });
    match blocked.served_by {
        Some(owner) => {
            let op = HopOp::RunOrBlock {
                spec,
                argv: argv.clone(),
            };
            match node.send_hop(conn, owner, waiter_seq, None, vec![op], cx) {
                Some(mut results) => {
                    let outcome = results.pop().expect("one result");
                    after_shard_attempt(conn, blocked, outcome, cx)
                }
                None => {
                    conn.state = ConnState::Waiting(Box::new(Pending {
                        seq: waiter_seq,
                        outstanding: 1,
                        plan: Plan::Block {
                            blocked,
                            outcome: None,
                        },
                        tx: TxPhase::None,
                    }));
                    Flow::Stop
                }
            }
        }
        None => {
            let argv = std::mem::take(argv);
            crate::coord::start_gather(
                node,
                conn,
                spec,
                GatherDbs::Current,
                argv,
                Some(blocked),
                cx,
            )
        }
    }
}

/// The attempt on the one shard owning the keys answered (`Reply`) or blocked the client.
pub(crate) fn after_shard_attempt(
    conn: &mut Conn,
    blocked: Box<Blocked>,
    outcome: HopResult,
    cx: &mut Cx,
) -> Flow {
    match outcome {
        HopResult::Reply(reply) => {
            conn.encode(&reply);
            Flow::Next
        }
        HopResult::Blocked => {
            block(conn, blocked, cx);
            Flow::Stop
        }
        other => unreachable!("a blocking attempt got {other:?}"),
    }
}

/// The attempt across shards finished with `reply`: answer, or wait (registering for notices).
pub(crate) fn after_attempt(
    node: &mut Node,
    conn: &mut Conn,
    mut blocked: Box<Blocked>,
    reply: Reply,
    cx: &mut Cx,
) -> Flow {
    let timed_out = blocked.ending.is_some();
    if !is_null(&reply) || timed_out {
        if blocked.registered {
            unregister_everywhere(node, conn, &blocked, cx);
        }
        let reply = if is_null(&reply) {
            blocked.ending.take().expect("an ending")
        } else {
            reply
        };
        conn.encode(&reply);
        return Flow::Next;
    }
    if conn.peer_gone {
        // Nobody to answer: no wait either.
        if blocked.registered {
            unregister_everywhere(node, conn, &blocked, cx);
        }
        return Flow::Next;
    }
    let blocking = lookup(blocked.spec).expect("a blocking command");
    let keys = blocking.wait_keys(blocked.spec, &blocked.argv);
    for &to in &blocked.shards {
        let mut mine: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| shard_of(k, node.threads) == to)
            .cloned()
            .collect();
        mine.sort();
        mine.dedup();
        let op = HopOp::Register {
            waiter_seq: blocked.waiter_seq,
            spec: blocked.spec,
            argv: blocked.argv.clone(),
            keys: mine,
        };
        node.send_hop(conn, to, SEQ_NO_REPLY, None, vec![op], cx);
    }
    blocked.registered = true;
    block(conn, blocked, cx);
    Flow::Stop
}

/// A cross-shard client's attempt, run on copies of its keys inside a transaction: the first
/// (which also prepares the argv the client keeps while it waits), or one after a notice.
pub(crate) fn attempt(ecx: &mut ExecCx, blocked: &mut Blocked) -> Result<Reply, CmdError> {
    let blocking = lookup(blocked.spec).expect("a blocking command");
    if blocked.registered {
        if let Some(retry) = blocking.retry {
            return retry(ecx, &blocked.argv);
        }
    } else if let Some(prepare) = blocking.prepare {
        blocked.argv = prepare(ecx, &blocked.argv)?;
    }
    let crate::cmd::Exec::Shard { run, .. } = blocked.spec.exec else {
        unreachable!("{} is keyed", blocked.spec.name)
    };
    run(ecx, &blocked.argv)
}

/// The connection waits; its timeout is armed once.
fn block(conn: &mut Conn, mut blocked: Box<Blocked>, cx: &mut Cx) {
    if !blocked.timer_armed {
        blocked.timer_armed = true;
        if let Timeout::AfterMs(ms) = blocked.timeout {
            let at_mono_us = cx.now_mono_us().saturating_add(ms.saturating_mul(1000));
            cx.push(Effect::ArmTimer {
                timer: Timer::BlockTimeout {
                    conn: conn.id,
                    seq: blocked.waiter_seq,
                },
                at_mono_us,
            });
        }
    }
    conn.state = ConnState::Blocked(blocked);
}

fn unregister_everywhere(node: &mut Node, conn: &Conn, blocked: &Blocked, cx: &mut Cx) {
    for &to in &blocked.shards {
        let op = HopOp::Unregister {
            waiter_seq: blocked.waiter_seq,
        };
        node.send_hop(conn, to, SEQ_NO_REPLY, None, vec![op], cx);
    }
}

/// Ends a blocked connection's wait with `reply` (its timeout's, or CLIENT UNBLOCK's). True
/// when the connection is ready again at once.
pub(crate) fn end_wait(node: &mut Node, conn: &mut Conn, reply: Reply, cx: &mut Cx) -> bool {
    match &mut conn.state {
        ConnState::Blocked(blocked) => {
            if blocked.ending.is_some() {
                return false; // already being withdrawn
            }
            blocked.ending = Some(reply);
            match blocked.served_by {
                Some(owner) => {
                    let op = HopOp::Unblock {
                        waiter_seq: blocked.waiter_seq,
                    };
                    let seq = blocked.waiter_seq;
                    if let Some(results) = node.send_hop(conn, owner, seq, None, vec![op], cx) {
                        return on_unblocked(conn, &results);
                    }
                    false
                }
                None => {
                    let ConnState::Blocked(blocked) =
                        std::mem::replace(&mut conn.state, ConnState::Ready)
                    else {
                        unreachable!()
                    };
                    unregister_everywhere(node, conn, &blocked, cx);
                    let reply = blocked.ending.expect("an ending");
                    conn.encode(&reply);
                    true
                }
            }
        }
        // A woken cross-shard attempt is in flight: it answers the ending if it finds nothing.
        ConnState::Waiting(pending) => {
            if let Plan::Gather(state) = &mut pending.plan {
                if let Some(blocked) = &mut state.blocking {
                    blocked.ending.get_or_insert(reply);
                }
            }
            false
        }
        ConnState::Ready | ConnState::Sleeping | ConnState::Closing => false,
    }
}

/// The reply a blocked connection's wait ends with on timeout; `None` when it is not blocked.
pub(crate) fn timeout_reply(conn: &Conn) -> Option<Reply> {
    match &conn.state {
        ConnState::Blocked(blocked) => Some(blocked.timeout_reply.clone()),
        ConnState::Waiting(pending) => match &pending.plan {
            Plan::Gather(state) => state.blocking.as_ref().map(|b| b.timeout_reply.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The timer of blocking command `seq` fired; true when the connection is ready again.
pub(crate) fn time_out(node: &mut Node, conn: &mut Conn, seq: u64, cx: &mut Cx) -> bool {
    let reply = match &conn.state {
        ConnState::Blocked(blocked) if blocked.waiter_seq == seq => blocked.timeout_reply.clone(),
        ConnState::Waiting(pending) => match &pending.plan {
            Plan::Gather(state) => match &state.blocking {
                Some(blocked) if blocked.waiter_seq == seq => blocked.timeout_reply.clone(),
                _ => return false,
            },
            _ => return false,
        },
        _ => return false,
    };
    cx.mark("blocking.timed_out");
    end_wait(node, conn, reply, cx)
}

/// A shard's answer to `Unblock`; true when the connection is ready again.
fn on_unblocked(conn: &mut Conn, results: &[HopResult]) -> bool {
    let [HopResult::Unblocked(withdrawn)] = results else {
        unreachable!("an unblock's answer: {results:?}")
    };
    if !withdrawn {
        return false; // served first: the reply is on its way
    }
    let ConnState::Blocked(blocked) = std::mem::replace(&mut conn.state, ConnState::Ready) else {
        unreachable!("withdrawn while not blocked")
    };
    conn.encode(&blocked.ending.expect("an ending"));
    true
}

/// Whether `done` is a blocking notice (served, woken, withdrawn) rather than a hop's answer.
pub(crate) fn is_notice(done: &HopDone) -> bool {
    matches!(
        done.results[..],
        [HopResult::Served(_) | HopResult::KeyReady | HopResult::Unblocked(_)]
    )
}

/// Handles a blocking notice for `conn`; true when the connection is ready to run on.
pub(crate) fn on_notice(node: &mut Node, conn: &mut Conn, done: HopDone, cx: &mut Cx) -> bool {
    let ConnState::Blocked(blocked) = &conn.state else {
        return false; // stale: the wait ended already, or a woken attempt is in flight
    };
    if blocked.waiter_seq != done.seq {
        return false;
    }
    let mut results = done.results;
    match results.pop().expect("one notice") {
        HopResult::Served(reply) => {
            conn.state = ConnState::Ready;
            conn.encode(&reply);
            true
        }
        HopResult::Unblocked(withdrawn) => on_unblocked(conn, &[HopResult::Unblocked(withdrawn)]),
        HopResult::KeyReady => {
            let ConnState::Blocked(blocked) = std::mem::replace(&mut conn.state, ConnState::Ready)
            else {
                unreachable!()
            };
            cx.mark("blocking.woken_across_shards");
            let (spec, argv) = (blocked.spec, blocked.argv.clone());
            let flow = crate::coord::start_gather(
                node,
                conn,
                spec,
                GatherDbs::Current,
                argv,
                Some(blocked),
                cx,
            );
            matches!(flow, Flow::Next)
        }
        other => unreachable!("not a notice: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The shard's side.

/// `RunOrBlock` on this shard: the attempt, and the waiter when it found nothing.
pub(crate) fn run_or_block(
    node: &mut Node,
    db: u16,
    now_ms: u64,
    spec: &'static CommandSpec,
    argv: Argv,
    id: WaiterId,
    cx: &mut Cx,
) -> HopResult {
    let crate::cmd::Exec::Shard { run, .. } = spec.exec else {
        unreachable!("{} is keyed", spec.name)
    };
    let dirty_before = node.shard.stats.dirty;
    let mut ecx = ExecCx::new(&mut node.shard, db as usize, now_ms, cx);
    let prepared = match lookup(spec).and_then(|b| b.prepare) {
        Some(prepare) => prepare(&mut ecx, &argv),
        None => Ok(argv),
    };
    let (reply, argv) = match prepared {
        Ok(argv) => (run(&mut ecx, &argv).into(), argv),
        Err(e) => (Reply::from(Err::<Reply, _>(e)), Argv::new()),
    };
    crate::node::journal::after_command(
        &mut node.shard,
        db as usize,
        spec,
        &argv,
        &reply,
        dirty_before,
    );
    if !is_null(&reply) {
        return HopResult::Reply(reply);
    }
    let keys = lookup(spec)
        .expect("a blocking command")
        .wait_keys(spec, &argv);
    add_waiter(
        node,
        id,
        Waiter {
            db,
            spec,
            argv,
            keys,
            served_here: true,
            notified: false,
        },
    );
    cx.mark("blocking.blocked");
    HopResult::Blocked
}

fn add_waiter(node: &mut Node, id: WaiterId, waiter: Waiter) {
    if let (Some(log), true) = (&mut node.waiters.log, waiter.served_here) {
        log.push(WaiterEvent::Blocked {
            id,
            command: waiter.spec.name,
            db: waiter.db,
            keys: waiter.keys.clone(),
        });
    }
    for key in &waiter.keys {
        node.shard.blocked.add(waiter.db, key);
        node.waiters
            .queues
            .entry((waiter.db, key.clone()))
            .or_default()
            .push_back(id);
    }
    node.waiters.by_id.insert(id, waiter);
}

/// Withdraws a waiter; when it had been told a key was ready, the key's next waiters get their
/// turn.
fn remove_waiter(node: &mut Node, id: WaiterId) -> Option<Waiter> {
    let waiter = node.waiters.by_id.remove(&id)?;
    for key in &waiter.keys {
        node.shard.blocked.remove(waiter.db, key);
        let k = (waiter.db, key.clone());
        if let Some(queue) = node.waiters.queues.get_mut(&k) {
            queue.retain(|w| *w != id);
            if queue.is_empty() {
                node.waiters.queues.remove(&k);
            }
        }
        if waiter.notified {
            node.shard.blocked.signal(waiter.db, key);
        }
    }
    Some(waiter)
}

/// `Register`: a cross-shard waiter on `keys` here (again: its notice re-arms). Its keys are
/// checked at once.
pub(crate) fn register(
    node: &mut Node,
    db: u16,
    id: WaiterId,
    spec: &'static CommandSpec,
    argv: Argv,
    keys: Vec<Vec<u8>>,
) {
    match node.waiters.by_id.get_mut(&id) {
        Some(waiter) => waiter.notified = false,
        None => add_waiter(
            node,
            id,
            Waiter {
                db,
                spec,
                argv,
                keys: keys.clone(),
                served_here: false,
                notified: false,
            },
        ),
    }
    for key in &keys {
        node.shard.blocked.signal(db, key);
    }
}

/// `Unregister`.
pub(crate) fn unregister(node: &mut Node, id: WaiterId) {
    withdraw(node, id);
}

/// Removes a waiter that was not served.
fn withdraw(node: &mut Node, id: WaiterId) -> bool {
    let removed = remove_waiter(node, id).is_some_and(|w| w.served_here);
    if let (Some(log), true) = (&mut node.waiters.log, removed) {
        log.push(WaiterEvent::Withdrawn { id });
    }
    removed
}

/// `Unblock`: withdrawn unless served already.
pub(crate) fn unblock(node: &mut Node, id: WaiterId) -> HopResult {
    let lost = node.waiters.lost.remove(&id);
    HopResult::Unblocked(withdraw(node, id) || lost)
}

/// Serves the waiters of this shard's ready keys: after each command, as Redis does. Keys a
/// queued transaction holds stay ready until it concludes.
pub(crate) fn serve_ready(node: &mut Node, cx: &mut Cx) {
    if !node.shard.blocked.has_ready() {
        return;
    }
    let mut ready = node.shard.blocked.take_ready();
    let mut held = Vec::new();
    let mut next = 0;
    while next < ready.len() {
        let (db, key) = ready[next].clone();
        next += 1;
        if !node.txq.is_empty() && node.txq.blocks(db, &key, LockMode::Exclusive) {
            held.push((db, key));
            continue;
        }
        if !serve_key(node, db, &key, cx) {
            held.push((db, key));
        }
        // Serving wrote (a pop, BLMOVE's push): the keys it touched are ready in turn.
        if node.shard.blocked.has_ready() {
            ready.extend(node.shard.blocked.take_ready());
        }
    }
    for (db, key) in held {
        node.shard.blocked.signal(db, &key);
    }
}

/// Serves the waiters of one ready key in arrival order while it can; false when a waiter's
/// other key is held by a queued transaction (the key stays ready).
///
/// A cross-shard waiter told that the key is ready keeps its place and claims one serving
/// until it comes back: later waiters are served or told only while the key holds more than
/// the told ones claim, so a key with many elements wakes as many cross-shard waiters at once,
/// and a key with one wakes one. A waiter the key holds nothing for (an XREAD past its ID, a
/// group's reader when another group got the entries) is passed over.
fn serve_key(node: &mut Node, db: u16, key: &[u8], cx: &mut Cx) -> bool {
    let mut claimed = 0;
    let mut passed = 0;
    let mut exhausted: Vec<crate::db::Kind> = Vec::new();
    loop {
        let queue = node.waiters.queues.get(&(db, key.to_vec()));
        let head = if cx.planted(crate::cx::Plant::ServeLastWaiter) {
            // The bug: the last to block is served first.
            queue.and_then(|q| q.len().checked_sub(passed + 1).and_then(|at| q.get(at)))
        } else {
            queue.and_then(|q| q.get(passed))
        };
        let Some(&id) = head else {
            return true;
        };
        let waiter = &node.waiters.by_id[&id];
        let blocking = lookup(waiter.spec).expect("a blocking command");
        if exhausted.contains(&blocking.kind) {
            passed += 1;
            continue;
        }
        let now_ms = node.shard.observe_time_ms(cx.wall_ms());
        let value = node
            .shard
            .db(db as usize)
            .peek(key, now_ms)
            .map(|e| e.value());
        match blocking.readiness(&waiter.argv, key, value) {
            Readiness::Serves(available) if available > claimed => {}
            Readiness::Serves(_) | Readiness::Nothing => {
                exhausted.push(blocking.kind);
                passed += 1;
                continue;
            }
            Readiness::NotThis => {
                passed += 1;
                continue;
            }
        }
        if waiter.notified {
            claimed += 1; // its turn is out: one serving is its until it comes back
            passed += 1;
            continue;
        }
        if !waiter.served_here {
            node.waiters
                .by_id
                .get_mut(&id)
                .expect("the waiter")
                .notified = true;
            send_notice(node, id, HopResult::KeyReady, cx);
            claimed += 1;
            passed += 1;
            continue;
        }
        let spec = waiter.spec;
        let held = !node.txq.is_empty()
            && spec
                .key_indexes(&waiter.argv)
                .into_iter()
                .any(|i| node.txq.blocks(db, &waiter.argv[i], LockMode::Exclusive));
        if held {
            return false;
        }
        let argv = waiter.argv.clone();
        let dirty_before = node.shard.stats.dirty;
        let mut ecx = ExecCx::new(&mut node.shard, db as usize, now_ms, cx);
        let reply: Reply = (blocking.serve)(&mut ecx, &argv, key).into();
        crate::node::journal::after_command(
            &mut node.shard,
            db as usize,
            spec,
            &argv,
            &reply,
            dirty_before,
        );
        if is_null(&reply) {
            passed += 1;
            continue;
        }
        remove_waiter(node, id);
        cx.mark("blocking.served");
        if let Some(log) = &mut node.waiters.log {
            log.push(WaiterEvent::Served {
                id,
                key: key.to_vec(),
            });
        }
        if cx.planted(crate::cx::Plant::BlockedPopLost) && cx.random_u64().is_multiple_of(4) {
            // The bug: popped, never answered; the client's timeout finds nothing to withdraw.
            cx.mark("plant.blocked_pop_lost");
            node.waiters.lost.insert(id);
            continue;
        }
        send_notice(node, id, HopResult::Served(reply), cx);
    }
}

/// Sends a notice to a waiter's thread. A notice must not overtake the answer of the attempt
/// that blocked the client, which may still be on its way (an attempt queued behind a
/// transaction travels as a message, even to this thread): so it goes as a message, unless the
/// client is on this thread and already blocked in this command, when it is handled once the
/// step's work is done (`Node::deliveries`), saving the thread a message to itself.
fn send_notice(node: &mut Node, id: WaiterId, notice: HopResult, cx: &mut Cx) {
    let done = HopDone {
        from: node.thread,
        conn: id.conn,
        seq: id.seq,
        results: vec![notice],
    };
    let blocked_here = id.thread == node.thread
        && node
            .conns
            .get(&id.conn)
            .is_some_and(|c| matches!(&c.state, ConnState::Blocked(b) if b.waiter_seq == id.seq));
    if blocked_here {
        node.deliveries.push_back(done);
    } else {
        cx.send(id.thread, crate::cx::Msg::HopDone(done));
    }
}

/// The connection goes away: withdraw its wait without waiting for answers.
pub(crate) fn forget(node: &mut Node, conn: &Conn, cx: &mut Cx) {
    let blocked = match &conn.state {
        ConnState::Blocked(blocked) => blocked,
        ConnState::Waiting(pending) => match &pending.plan {
            Plan::Gather(state) => match &state.blocking {
                Some(blocked) if blocked.registered => blocked,
                _ => return,
            },
            _ => return,
        },
        _ => return,
    };
    let seq = blocked.waiter_seq;
    let shards = match blocked.served_by {
        Some(owner) => vec![owner],
        None => blocked.shards.clone(),
    };
    for to in shards {
        node.send_hop(
            conn,
            to,
            SEQ_NO_REPLY,
            None,
            vec![HopOp::Unregister { waiter_seq: seq }],
            cx,
        );
    }
}

/// Connections of this thread blocked in a command (INFO's `blocked_clients`).
pub(crate) fn blocked_clients(node: &Node) -> u64 {
    node.conns
        .values()
        .filter(|c| match &c.state {
            ConnState::Blocked(_) => true,
            ConnState::Waiting(pending) => match &pending.plan {
                Plan::Gather(state) => state.blocking.is_some(),
                _ => false,
            },
            _ => false,
        })
        .count() as u64
}

#[cfg(test)]
mod tests {
    use crate::node::shard_of;
    use crate::testkit::TestCluster;

    const NIL_ARRAY: &str = "*-1\r\n";

    /// A key owned by `thread` among `threads`.
    fn key_on(thread: u16, threads: u16, tag: &str) -> String {
        (0..)
            .map(|i| format!("{tag}{i}"))
            .find(|k| shard_of(k.as_bytes(), threads).0 == thread)
            .unwrap()
    }

    fn pair(key: &str, elem: &str) -> String {
        format!(
            "*2\r\n${}\r\n{key}\r\n${}\r\n{elem}\r\n",
            key.len(),
            elem.len()
        )
    }

    fn blocked(c: &mut TestCluster, conn: crate::cx::ConnId, args: &[&str]) {
        assert_eq!(c.cmd_text(conn, args), "", "{args:?} answered at once");
    }

    fn text(c: &mut TestCluster, conn: crate::cx::ConnId) -> String {
        String::from_utf8(c.take_output(conn)).unwrap()
    }

    /// Every placement: waiter and pusher on the key's thread or not, one thread or three.
    fn placements() -> Vec<(u16, u16, u16, u16)> {
        // (threads, key's thread, waiter's thread, pusher's thread)
        let mut out = vec![(1, 0, 0, 0)];
        for waiter in 0..3 {
            for pusher in 0..3 {
                out.push((3, 1, waiter, pusher));
            }
        }
        out
    }

    #[test]
    fn a_push_serves_the_waiters_first_blocked_first_served() {
        for (threads, owner, waiter, pusher) in placements() {
            let mut c = TestCluster::new(threads);
            let key = key_on(owner, threads, "q");
            let (w1, w2, p) = (c.connect(waiter), c.connect(waiter), c.connect(pusher));
            blocked(&mut c, w1, &["BLPOP", &key, "0"]);
            blocked(&mut c, w2, &["BLPOP", &key, "0"]);
            assert!(c
                .cmd_text(p, &["INFO", "clients"])
                .contains("blocked_clients:2\r\n"));
            assert_eq!(c.cmd_text(p, &["LPUSH", &key, "a", "b", "c"]), ":3\r\n");
            assert_eq!(
                text(&mut c, w1),
                pair(&key, "c"),
                "{threads} {waiter} {pusher}"
            );
            assert_eq!(text(&mut c, w2), pair(&key, "b"));
            assert_eq!(
                c.cmd_text(p, &["LRANGE", &key, "0", "-1"]),
                "*1\r\n$1\r\na\r\n"
            );
            assert!(c
                .cmd_text(p, &["INFO", "clients"])
                .contains("blocked_clients:0\r\n"));
            // The waiter runs on: its next command answers.
            assert_eq!(c.cmd_text(w1, &["PING"]), "+PONG\r\n");
        }
    }

    #[test]
    fn a_pipeline_serves_the_waiter_between_its_commands() {
        for (threads, owner, waiter, pusher) in placements() {
            let mut c = TestCluster::new(threads);
            let key = key_on(owner, threads, "p");
            let (w, p) = (c.connect(waiter), c.connect(pusher));
            blocked(&mut c, w, &["BRPOP", &key, "0"]);
            let pipeline = format!(
                "LPUSH {key} a\r\nLPOP {key}\r\nMULTI\r\nLPUSH {key} b\r\nLPOP {key}\r\nEXEC\r\n"
            );
            let out = String::from_utf8(c.send(p, pipeline.as_bytes())).unwrap();
            assert_eq!(
                out, ":1\r\n$-1\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n$1\r\nb\r\n",
                "Redis serves after each command, and after an EXEC as a whole"
            );
            assert_eq!(text(&mut c, w), pair(&key, "a"));
        }
    }

    #[test]
    fn timeouts_answer_null_and_errors_come_first() {
        for threads in [1, 3] {
            let mut c = TestCluster::new(threads);
            let w = c.connect(0);
            blocked(&mut c, w, &["BLPOP", "k", "0.5"]);
            c.advance_ms(400);
            assert_eq!(text(&mut c, w), "");
            c.advance_ms(200);
            assert_eq!(text(&mut c, w), NIL_ARRAY);
            blocked(&mut c, w, &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0.01"]);
            c.advance_ms(20);
            assert_eq!(text(&mut c, w), NIL_ARRAY, "a timeout answers a nil array");
            c.cmd(w, &["RPUSH", "l", "x"]);
            for (args, want) in [
                (
                    &["BLPOP", "l", "x"][..],
                    "-ERR timeout is not a float or out of range\r\n",
                ),
                (&["BLPOP", "l", "-1"][..], "-ERR timeout is negative\r\n"),
                (
                    &["BLMOVE", "l", "m", "UP", "LEFT", "x"][..],
                    "-ERR syntax error\r\n",
                ),
                (
                    &["BLMPOP", "1", "0", "l", "LEFT"][..],
                    "-ERR numkeys should be greater than 0\r\n",
                ),
                (
                    &["BLMPOP", "0", "1", "l", "LEFT", "COUNT", "5"][..],
                    "*2\r\n$1\r\nl\r\n*1\r\n$1\r\nx\r\n",
                ),
            ] {
                assert_eq!(c.cmd_text(w, args), want, "{args:?}");
            }
        }
    }

    #[test]
    fn waiters_across_shards_are_served_from_the_key_that_became_ready() {
        let mut c = TestCluster::new(3);
        let (k0, k1, k2) = (key_on(0, 3, "a"), key_on(1, 3, "b"), key_on(2, 3, "c"));
        let (w, p) = (c.connect(2), c.connect(0));
        blocked(&mut c, w, &["BLPOP", &k0, &k1, "0"]);
        assert_eq!(c.cmd_text(p, &["RPUSH", &k1, "x", "y"]), ":2\r\n");
        assert_eq!(text(&mut c, w), pair(&k1, "x"));
        // BLMOVE from one shard to another is one step: the element is in one place only.
        blocked(&mut c, w, &["BLMOVE", &k0, &k2, "RIGHT", "LEFT", "0"]);
        assert_eq!(c.cmd_text(p, &["RPUSH", &k0, "m"]), ":1\r\n");
        assert_eq!(text(&mut c, w), "$1\r\nm\r\n");
        assert_eq!(
            c.cmd_text(p, &["LRANGE", &k2, "0", "-1"]),
            "*1\r\n$1\r\nm\r\n"
        );
        assert_eq!(c.cmd_text(p, &["EXISTS", &k0]), ":0\r\n");
        // A cross-shard waiter times out and leaves nothing registered behind.
        let k3 = key_on(2, 3, "d");
        blocked(&mut c, w, &["BLPOP", &k0, &k3, "1"]);
        c.advance_ms(1001);
        assert_eq!(text(&mut c, w), NIL_ARRAY);
        assert_eq!(c.cmd_text(p, &["RPUSH", &k0, "left"]), ":1\r\n");
        assert_eq!(c.cmd_text(p, &["LLEN", &k0]), ":1\r\n", "nobody popped it");
    }

    /// A move waits on its source only: a push onto its destination serves the destination's
    /// own waiters at once (it once sat in their queue and held them up until it timed out).
    #[test]
    fn a_move_waits_on_its_source_not_its_destination() {
        for threads in [1, 3] {
            let mut c = TestCluster::new(threads);
            let (src, dst) = ("{m}src", "{m}dst");
            let (mover, popper, p) = (c.connect(0), c.connect(threads - 1), c.connect(0));
            blocked(&mut c, mover, &["BLMOVE", src, dst, "LEFT", "RIGHT", "0"]);
            blocked(&mut c, popper, &["BLPOP", dst, "0"]);
            assert_eq!(c.cmd_text(p, &["RPUSH", dst, "x"]), ":1\r\n");
            assert_eq!(text(&mut c, popper), pair(dst, "x"), "{threads} threads");
            assert_eq!(text(&mut c, mover), "");
            assert_eq!(c.cmd_text(p, &["RPUSH", src, "y"]), ":1\r\n");
            assert_eq!(text(&mut c, mover), "$1\r\ny\r\n");
        }
    }

    /// XREAD's `$` means "after what the stream holds when the reader blocks", wherever the
    /// reader, the stream and the writer are; every reader past its ID is served (reading takes
    /// nothing), each with the one stream that got entries.
    #[test]
    fn stream_readers_wait_past_their_ids_and_all_are_served() {
        for (threads, owner, waiter, writer) in placements() {
            let mut c = TestCluster::new(threads);
            let key = key_on(owner, threads, "s");
            let (r1, r2, w) = (c.connect(waiter), c.connect(waiter), c.connect(writer));
            c.cmd(w, &["XADD", &key, "1-1", "f", "old"]);
            blocked(&mut c, r1, &["XREAD", "BLOCK", "0", "STREAMS", &key, "$"]);
            blocked(&mut c, r2, &["XREAD", "BLOCK", "0", "STREAMS", &key, "5-0"]);
            c.cmd(w, &["XADD", &key, "3-0", "f", "new"]);
            let one = format!(
                "*1\r\n*2\r\n${}\r\n{key}\r\n*1\r\n*2\r\n$3\r\n3-0\r\n",
                key.len()
            );
            assert!(
                text(&mut c, r1).starts_with(&one),
                "{threads} {waiter} {writer}"
            );
            assert_eq!(text(&mut c, r2), "", "3-0 is not past 5-0");
            // Taking entries away (XDEL, XTRIM) wakes nobody.
            c.cmd(w, &["XTRIM", &key, "MAXLEN", "0"]);
            assert_eq!(text(&mut c, r2), "");
            c.cmd(w, &["XADD", &key, "6-0", "f", "x"]);
            assert!(text(&mut c, r2).contains("6-0"));
            assert_eq!(c.cmd_text(w, &["PING"]), "+PONG\r\n");
        }
    }

    /// A reader over streams of three shards waits on all of them and is served once, from
    /// the stream written; a group's readers across shards get each new entry once.
    #[test]
    fn stream_readers_across_shards() {
        let mut c = TestCluster::new(3);
        let (k0, k1, k2) = (key_on(0, 3, "a"), key_on(1, 3, "b"), key_on(2, 3, "c"));
        let (r, w) = (c.connect(1), c.connect(0));
        let read = [
            "XREAD", "BLOCK", "0", "STREAMS", &k0, &k1, &k2, "$", "$", "$",
        ];
        blocked(&mut c, r, &read);
        c.cmd(w, &["XADD", &k2, "7-0", "f", "v"]);
        let reply = text(&mut c, r);
        assert!(
            reply.starts_with("*1\r\n") && reply.contains(&k2),
            "{reply}"
        );
        for key in [&k0, &k1, &k2] {
            c.cmd(w, &["XGROUP", "CREATE", key, "g", "$", "MKSTREAM"]);
        }
        let readers: Vec<_> = (0..4).map(|n| c.connect(n % 3)).collect();
        for (n, &reader) in readers.iter().enumerate() {
            let name = format!("c{n}");
            let args = [
                "XREADGROUP",
                "GROUP",
                "g",
                &name,
                "COUNT",
                "1",
                "BLOCK",
                "0",
                "STREAMS",
                &k0,
                &k1,
                &k2,
                ">",
                ">",
                ">",
            ];
            blocked(&mut c, reader, &args);
        }
        c.cmd(w, &["XADD", &k0, "1-0", "f", "v"]);
        c.cmd(w, &["XADD", &k1, "1-0", "f", "v"]);
        let served: Vec<String> = readers.iter().map(|&rd| text(&mut c, rd)).collect();
        let got = served.iter().filter(|t| !t.is_empty()).count();
        assert_eq!(got, 2, "one reader per entry: {served:?}");
        for key in [&k0, &k1] {
            assert!(c
                .cmd_text(w, &["XPENDING", key, "g"])
                .starts_with("*4\r\n:1\r\n"));
        }
        // Destroying the group tells the rest, wherever they wait.
        c.cmd(w, &["XGROUP", "DESTROY", &k2, "g"]);
        for (&reader, before) in readers.iter().zip(&served) {
            if before.is_empty() {
                assert_eq!(
                    text(&mut c, reader),
                    "-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
                );
            }
        }
        assert!(c
            .cmd_text(w, &["INFO", "clients"])
            .contains("blocked_clients:0\r\n"));
    }

    #[test]
    fn another_type_leaves_the_client_blocked_and_a_bad_destination_unblocks_it() {
        for threads in [1, 3] {
            let mut c = TestCluster::new(threads);
            let (w, p) = (c.connect(0), c.connect(threads - 1));
            blocked(&mut c, w, &["BLPOP", "k", "0"]);
            c.cmd(p, &["SET", "k", "str"]);
            assert_eq!(text(&mut c, w), "");
            c.cmd(p, &["DEL", "k"]);
            c.cmd(p, &["RPUSH", "k", "a"]);
            assert_eq!(text(&mut c, w), pair("k", "a"));
            c.cmd(p, &["SET", "{t}dst", "s"]);
            blocked(
                &mut c,
                w,
                &["BLMOVE", "{t}src", "{t}dst", "LEFT", "RIGHT", "0"],
            );
            c.cmd(p, &["RPUSH", "{t}src", "x"]);
            assert_eq!(
                text(&mut c, w),
                "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            );
            assert_eq!(
                c.cmd_text(p, &["LLEN", "{t}src"]),
                ":1\r\n",
                "the element stays"
            );
        }
    }

    #[test]
    fn sorted_sets_wake_their_waiters_lowest_or_highest_first() {
        for (threads, owner, waiter, pusher) in placements() {
            let mut c = TestCluster::new(threads);
            let key = key_on(owner, threads, "z");
            let (w1, w2, w3, p) = (
                c.connect(waiter),
                c.connect(waiter),
                c.connect(waiter),
                c.connect(pusher),
            );
            blocked(&mut c, w1, &["BZPOPMIN", &key, "0"]);
            blocked(&mut c, w2, &["BZPOPMAX", &key, "0"]);
            blocked(&mut c, w3, &["BZMPOP", "0", "1", &key, "MIN", "COUNT", "5"]);
            c.cmd(p, &["LPUSH", &key, "not-a-zset"]);
            assert_eq!(text(&mut c, w1), "", "a list wakes no sorted-set waiter");
            c.cmd(p, &["DEL", &key]);
            assert_eq!(
                c.cmd_text(p, &["ZADD", &key, "1", "a", "2", "b", "3", "c", "4", "d"]),
                ":4\r\n"
            );
            let k = format!("${}\r\n{key}\r\n", key.len());
            assert_eq!(text(&mut c, w1), format!("*3\r\n{k}$1\r\na\r\n$1\r\n1\r\n"));
            assert_eq!(text(&mut c, w2), format!("*3\r\n{k}$1\r\nd\r\n$1\r\n4\r\n"));
            assert_eq!(
                text(&mut c, w3),
                format!("*2\r\n{k}*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n")
            );
            assert_eq!(c.cmd_text(p, &["EXISTS", &key]), ":0\r\n");
        }
    }

    #[test]
    fn move_and_swapdb_fill_a_waited_key() {
        for threads in [1, 3] {
            let mut c = TestCluster::new(threads);
            let (w, p) = (c.connect(0), c.connect(threads - 1));
            c.cmd(w, &["SELECT", "1"]);
            blocked(&mut c, w, &["BLPOP", "k", "0"]);
            c.cmd(p, &["RPUSH", "k", "moved"]);
            assert_eq!(c.cmd_text(p, &["MOVE", "k", "1"]), ":1\r\n");
            assert_eq!(text(&mut c, w), pair("k", "moved"));
            blocked(&mut c, w, &["BLPOP", "k", "0"]);
            c.cmd(p, &["RPUSH", "k", "swapped"]);
            assert_eq!(c.cmd_text(p, &["SWAPDB", "0", "1"]), "+OK\r\n");
            assert_eq!(text(&mut c, w), pair("k", "swapped"));
        }
    }

    #[test]
    fn client_unblock_disconnects_and_multi() {
        for (threads, owner, waiter, other) in placements() {
            let mut c = TestCluster::new(threads);
            let key = key_on(owner, threads, "u");
            let (w, p) = (c.connect(waiter), c.connect(other));
            let id = c.cmd_text(w, &["CLIENT", "ID"]);
            let id = id.trim_start_matches(':').trim_end().to_string();
            blocked(&mut c, w, &["BLPOP", &key, "0"]);
            assert!(c.cmd_text(p, &["CLIENT", "LIST"]).contains(" flags=b "));
            assert_eq!(
                c.cmd_text(p, &["CLIENT", "UNBLOCK", &id, "ERROR"]),
                ":1\r\n"
            );
            assert_eq!(
                text(&mut c, w),
                "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
            );
            assert_eq!(c.cmd_text(p, &["CLIENT", "UNBLOCK", &id]), ":0\r\n");
            blocked(&mut c, w, &["BLPOP", &key, "0"]);
            assert_eq!(
                c.cmd_text(p, &["CLIENT", "UNBLOCK", &id, "TIMEOUT"]),
                ":1\r\n"
            );
            assert_eq!(text(&mut c, w), NIL_ARRAY);
            assert_eq!(
                c.cmd_text(p, &["CLIENT", "UNBLOCK", &id, "NOW"]),
                "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
            );
            // A blocked client that hangs up takes nothing with it.
            blocked(&mut c, w, &["BLPOP", &key, "0"]);
            c.hang_up(w);
            assert_eq!(c.cmd_text(p, &["RPUSH", &key, "kept"]), ":1\r\n");
            assert_eq!(c.cmd_text(p, &["LPOP", &key]), "$4\r\nkept\r\n");
            // Inside MULTI a blocking command does not block.
            let out = String::from_utf8(
                c.send(p, format!("MULTI\r\nBLPOP {key} 0\r\nEXEC\r\n").as_bytes()),
            )
            .unwrap();
            assert_eq!(out, "+OK\r\n+QUEUED\r\n*1\r\n*-1\r\n");
        }
    }
}
