//! Pipelines across shards in one step.
//!
//! A connection's pipelined commands whose keys live on this thread's shard and on one other
//! run as one unit: one hop to the other shard carrying all its commands, this shard's commands
//! run here, and the replies go out in the order sent. A chain of hops, one per run of
//! consecutive remote commands, is what this replaces.
//!
//! Redis guarantees that no other client sees a later command of a pipeline without the
//! earlier ones (it runs them in order). Running the two shards' parts side by side keeps that
//! only if the batch is atomic, so it is one VLL transaction (`tx.rs`), with VLL's single-hop
//! shape: the coordinator schedules the transaction on its own shard first, synchronously, with
//! the intents of the commands there; once it is runnable here (at once, unless a conflicting
//! lower txid is queued), the one hop to the other shard schedules it there on arrival and runs
//! its commands as soon as it is runnable there (`TxHop::schedules`). Its answer brings the
//! replies, and this shard's commands run, then the transaction concludes here. Other work on
//! this shard's keys waits behind the intents from before the remote part ran until after the
//! local part did, so every other client sees the whole batch or none of it: the execution is
//! the batch run as MULTI/EXEC would, which Redis itself can produce.
//!
//! The other shard may refuse (a conflicting higher txid is queued there): then nothing ran
//! there, its ops come back (`HopResult::Declined`), and the coordinator withdraws the
//! transaction here and schedules it again with a fresh txid, as any VLL coordinator retries.
//!
//! Each command is a command of its own, not a transaction body: each is admitted for memory
//! as it runs, and runs at its shard's clock (there is no one time to share, as EXEC needs).
//! Only single-shard keyed commands join a batch; anything else ends it (`Node::squashable`).

use crate::conn::Conn;
use crate::cx::{Cx, Plant, ThreadId};
use crate::hop::{HopOp, HopResult, Pending, Plan, TxHop, TxPhase, TxTime};
use crate::node::{Flow, Node};
use crate::reply::Reply;
use crate::tx::{LockSet, RunnableWatch};

/// A pipelined batch spanning this thread's shard and `remote`.
#[derive(Debug)]
pub struct PipelineState {
    pub remote: ThreadId,
    /// The other shard's commands, until sent (and again after a refusal there).
    remote_ops: Vec<HopOp>,
    /// Where each of the other shard's replies goes in the batch.
    remote_positions: Vec<usize>,
    /// This shard's commands, until they run.
    local_ops: Vec<HopOp>,
    local_positions: Vec<usize>,
    replies: Vec<Option<Reply>>,
    /// The other shard refused: withdraw here and retry.
    declined: bool,
}

/// Runs a batch whose commands (`ops[i]` on shard `owners[i]`) live on this thread's shard and
/// on `remote`.
pub(crate) fn start(
    node: &mut Node,
    conn: &mut Conn,
    remote: ThreadId,
    ops: Vec<HopOp>,
    owners: Vec<ThreadId>,
    cx: &mut Cx,
) -> Flow {
    let count = ops.len();
    let mut state = PipelineState {
        remote,
        remote_ops: Vec::new(),
        remote_positions: Vec::new(),
        local_ops: Vec::new(),
        local_positions: Vec::new(),
        replies: (0..count).map(|_| None).collect(),
        declined: false,
    };
    for (at, (op, owner)) in ops.into_iter().zip(owners).enumerate() {
        if owner == remote {
            state.remote_ops.push(op);
            state.remote_positions.push(at);
        } else {
            debug_assert_eq!(owner, node.thread);
            state.local_ops.push(op);
            state.local_positions.push(at);
        }
    }
    debug_assert!(!state.remote_ops.is_empty() && !state.local_ops.is_empty());
    let seq = node.alloc_seq();
    if cx.planted(Plant::PipelineLocalFirst) {
        return start_unordered(node, conn, seq, state, cx);
    }
    let locks = local_locks(node, conn, &state);
    let mut pending =
        crate::coord::pending_tx_with_seq(seq, Plan::Pipeline(Box::new(state)), locks);
    crate::coord::schedule(node, conn, &mut pending, cx);
    crate::coord::park_or_finish(node, conn, pending, cx)
}

/// The planted bug: this shard's commands run at once, the other shard's travel as a plain
/// batch, so another client can see a later command of the pipeline (here) before an earlier
/// one (there).
fn start_unordered(
    node: &mut Node,
    conn: &mut Conn,
    seq: u64,
    mut state: PipelineState,
    cx: &mut Cx,
) -> Flow {
    cx.mark("plant.pipeline_local_first");
    let results = run_local(node, conn, seq, &mut state, cx);
    let ops = std::mem::take(&mut state.remote_ops);
    let remote = state.remote;
    let mut pending = Pending {
        seq,
        outstanding: 0,
        plan: Plan::Pipeline(Box::new(state)),
        tx: TxPhase::None,
    };
    fold(&mut pending, node.thread, results);
    match node.send_hop(conn, remote, seq, None, ops, cx) {
        Some(results) => fold(&mut pending, remote, results),
        None => pending.outstanding += 1,
    }
    crate::coord::park_or_finish(node, conn, pending, cx)
}

/// The transaction's intents here: the keys of this shard's commands.
fn local_locks(node: &Node, conn: &Conn, state: &PipelineState) -> Vec<(ThreadId, LockSet)> {
    let keys = Node::run_locks(conn.db as u16, &state.local_ops);
    vec![(node.thread, LockSet::Keys(keys))]
}

fn state(pending: &mut Pending) -> &mut PipelineState {
    let Plan::Pipeline(state) = &mut pending.plan else {
        unreachable!("a pipeline plan")
    };
    state
}

/// The transaction is runnable here: send the other shard its part, which schedules itself
/// there and runs when it can.
pub(crate) fn launch(node: &mut Node, conn: &Conn, pending: &mut Pending, cx: &mut Cx) {
    let TxPhase::Running { txid, .. } = pending.tx else {
        unreachable!("a pipeline launches once scheduled here")
    };
    let tx = TxHop {
        txid,
        conclude: true,
        time: TxTime::ShardClock,
        schedules: true,
        journal_shards: 0,
    };
    let state = state(pending);
    let (remote, ops) = (state.remote, std::mem::take(&mut state.remote_ops));
    match node.send_hop(conn, remote, pending.seq, Some(tx), ops, cx) {
        Some(_) => unreachable!("transaction hops travel as messages"),
        None => pending.outstanding += 1,
    }
}

/// Folds a shard's answer into the batch.
pub(crate) fn fold(pending: &mut Pending, from: ThreadId, results: Vec<HopResult>) {
    let state = state(pending);
    if let [HopResult::Declined(_)] = results[..] {
        let Some(HopResult::Declined(ops)) = results.into_iter().next() else {
            unreachable!("one declined result")
        };
        state.remote_ops = ops;
        state.declined = true;
        return;
    }
    let positions = if from == state.remote {
        &state.remote_positions
    } else {
        &state.local_positions
    };
    for (&at, result) in positions.iter().zip(results) {
        let HopResult::Reply(reply) = result else {
            unreachable!("a pipeline part got {result:?}")
        };
        state.replies[at] = Some(reply);
    }
}

/// Runs this shard's commands here; their results, in order.
fn run_local(
    node: &mut Node,
    conn: &Conn,
    seq: u64,
    state: &mut PipelineState,
    cx: &mut Cx,
) -> Vec<HopResult> {
    let now_ms = node.shard.observe_time_ms(cx.wall_ms());
    let origin = RunnableWatch {
        thread: node.thread,
        conn: conn.id,
        seq,
    };
    let db = conn.db as u16;
    std::mem::take(&mut state.local_ops)
        .into_iter()
        .map(|op| node.run_hop_op(db, now_ms, op, origin, Some(conn), cx))
        .collect()
}

/// Moves the batch on once nothing is outstanding: after a refusal there, withdraw and
/// schedule again (None: waiting); once the other shard's part ran, run this shard's, conclude
/// here, and answer: every reply but the last is written, the last returned.
pub(crate) fn advance(
    node: &mut Node,
    conn: &mut Conn,
    pending: &mut Pending,
    cx: &mut Cx,
) -> Option<Reply> {
    let txid = match pending.tx {
        TxPhase::Running { txid, .. } => Some(txid),
        TxPhase::None => None, // the planted unordered run
        TxPhase::Scheduling { .. } => unreachable!("advanced before scheduling finished"),
    };
    if state(pending).declined {
        let txid = txid.expect("only a transaction is declined");
        cx.mark("pipeline.declined");
        crate::coord::cancel(node, conn, txid, vec![node.thread], cx);
        let state = state(pending);
        state.declined = false;
        let locks = local_locks(node, conn, state);
        pending.tx = TxPhase::Scheduling {
            txid,
            locks,
            accepted: Vec::new(),
            refused: false,
            not_runnable: Vec::new(),
            runnable_at_ms: 0,
            out_of_memory: false,
        };
        crate::coord::schedule(node, conn, pending, cx);
        if pending.outstanding > 0 {
            return None;
        }
        // Scheduled here at once: launch again (one level deep: the launch sends a hop).
        return crate::coord::advance(node, conn, pending, cx);
    }
    if let Some(txid) = txid {
        let seq = pending.seq;
        let results = run_local(node, conn, seq, state(pending), cx);
        fold(pending, node.thread, results);
        node.txq.remove(txid);
        node.wake(cx);
        pending.tx = TxPhase::None;
    }
    let state = state(pending);
    let last = state.replies.pop().flatten();
    for reply in state.replies.drain(..) {
        conn.encode(&reply.expect("every command of the batch ran"));
    }
    Some(last.expect("every command of the batch ran"))
}

/// Schedules a pipeline's part that arrived from another shard's coordinator, and runs it
/// when it is runnable here (`TxHop::schedules`).
pub(crate) fn on_part(node: &mut Node, mut hop: crate::hop::Hop, tx: TxHop, cx: &mut Cx) {
    if !node.hop_blocked(hop.db, &hop.ops) {
        // No intent queued here touches its keys, lower or higher: scheduling would accept it
        // and find it runnable, and it concludes within this step, so nobody could see its
        // intents. VLL's free transaction, without the queue's bookkeeping.
        cx.mark("pipeline.part_ran_at_once");
        hop.tx = None;
        node.run_hop(hop, cx);
        return;
    }
    let locks = LockSet::Keys(Node::run_locks(hop.db, &hop.ops));
    let ignore_conflicts = cx.planted(Plant::RunConflictingOutOfOrder);
    node.txq
        .plant_accept_conflicting_lower(cx.planted(Plant::AcceptConflictingLowerTxid));
    let clock_ms = node.shard.observe_time_ms(0);
    let accepted = node.txq.schedule(
        tx.txid,
        locks,
        (hop.from, hop.conn),
        ignore_conflicts,
        clock_ms,
    );
    if !accepted {
        cx.mark("pipeline.part_refused");
        let done = crate::hop::HopDone {
            from: node.thread,
            conn: hop.conn,
            seq: hop.seq,
            results: vec![HopResult::Declined(hop.ops)],
        };
        cx.send(hop.from, crate::cx::Msg::HopDone(done));
        return;
    }
    node.shard.set_keep_expired(true);
    if node.txq.runnable(tx.txid) {
        if node.run_hop(hop, cx) {
            node.wake(cx);
        }
    } else {
        cx.mark("pipeline.part_parked");
        node.txq.park(tx.txid, hop);
    }
}

#[cfg(test)]
mod tests {
    use crate::cx::ThreadId;
    use crate::node::shard_of;
    use crate::testkit::TestCluster;

    fn key_on(thread: u16, threads: u16, tag: &str) -> String {
        (0..)
            .map(|i| format!("{tag}{i}"))
            .find(|k| shard_of(k.as_bytes(), threads) == ThreadId(thread))
            .unwrap()
    }

    fn resp(args: &[&str]) -> String {
        let mut out = format!("*{}\r\n", args.len());
        for arg in args {
            out.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        out
    }

    #[test]
    fn a_pipeline_over_two_shards_is_one_hop_with_replies_in_order() {
        let mut c = TestCluster::new(2);
        let conn = c.connect(0);
        let (local, remote) = (key_on(0, 2, "l"), key_on(1, 2, "r"));
        let mut pipeline = String::new();
        let mut expected = String::new();
        for i in 1..=8 {
            pipeline.push_str(&resp(&["INCR", &remote]));
            pipeline.push_str(&resp(&["INCR", &local]));
            expected.push_str(&format!(":{i}\r\n:{i}\r\n"));
        }
        let hops_before = c.node(0).counters.hops_sent;
        let out = String::from_utf8(c.send(conn, pipeline.as_bytes())).unwrap();
        assert_eq!(out, expected);
        assert_eq!(c.node(0).counters.hops_sent - hops_before, 1);
        assert_eq!(c.node(0).tx_queue_len() + c.node(1).tx_queue_len(), 0);
    }

    #[test]
    fn errors_and_non_batch_commands_keep_their_places() {
        let mut c = TestCluster::new(2);
        let conn = c.connect(1);
        let (local, remote) = (key_on(1, 2, "l"), key_on(0, 2, "r"));
        let (other_local, other_remote) = (key_on(1, 2, "m"), key_on(0, 2, "s"));
        assert_eq!(c.cmd_text(conn, &["LPUSH", &local, "x"]), ":1\r\n");
        let steps: &[(&[&str], &str)] = &[
            (&["SET", &remote, "1"], "+OK"),
            (
                &["INCR", &local],
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (&["GET", &remote], "$1\r\n1"),
            (&["MSET", &other_local, "a", &other_remote, "b"], "+OK"),
            (&["GET", &other_remote], "$1\r\nb"),
            (&["LLEN", &local], ":1"),
            (&["SELECT", "1"], "+OK"),
            (&["GET", &remote], "$-1"),
            (&["SET", &local, "v"], "+OK"),
            (&["SELECT", "0"], "+OK"),
            (&["GET", &other_local], "$1\r\na"),
            (
                &["NOSUCH"],
                "-ERR unknown command 'NOSUCH', with args beginning with: ",
            ),
            (&["DEL", &remote, &local], ":2"),
        ];
        let pipeline: String = steps.iter().map(|(args, _)| resp(args)).collect();
        let expected: String = steps.iter().map(|(_, r)| format!("{r}\r\n")).collect();
        let out = String::from_utf8(c.send(conn, pipeline.as_bytes())).unwrap();
        assert_eq!(out, expected);
    }

    #[test]
    fn three_shards_end_the_batch_at_the_third() {
        let mut c = TestCluster::new(3);
        let conn = c.connect(0);
        let keys: Vec<String> = (0..3).map(|t| key_on(t, 3, "k")).collect();
        let mut pipeline = String::new();
        let mut expected = String::new();
        for i in 1..=5 {
            for key in [&keys[1], &keys[0], &keys[2], &keys[0]] {
                pipeline.push_str(&resp(&["APPEND", key, "x"]));
            }
            let zero = 2 * i;
            expected.push_str(&format!(":{i}\r\n:{}\r\n:{i}\r\n:{zero}\r\n", zero - 1));
        }
        let out = String::from_utf8(c.send(conn, pipeline.as_bytes())).unwrap();
        assert_eq!(out, expected);
    }
}
