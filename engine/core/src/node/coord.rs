//! Coordination of commands whose work spans shards: split-and-merge (MGET, MSET, DEL…),
//! gather-run-store on copies (RENAME, COPY, MSETNX…), and node-wide commands (DBSIZE, KEYS,
//! SCAN, FLUSHALL, INFO, CLIENT LIST…).
//!
//! A command that writes or reads several shards atomically is a VLL transaction (`tx.rs`):
//! the coordinator takes a txid, schedules it with its intents on every shard it touches,
//! and only when all accepted, and it is runnable on each, does it launch the plan's hops, which
//! carry the txid. A shard where it conflicts with a higher queued txid refuses; the coordinator
//! cancels where it was accepted and tries again with a fresh txid (higher than any queued, so
//! refused again only if a still higher conflicting one got in first). The last hop on each
//! shard concludes the transaction there.
//!
//! Each command records a `Plan` on the waiting connection; `absorb` folds each `HopDone` into
//! it and, when nothing is outstanding, `advance` moves to the next phase or writes the reply.
//! Hops for this thread's own shard outside a transaction run at once, folded in before the
//! connection waits.

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::cmd::{self, CommandSpec, Exec, GatherDbs, Merge, NodeCmd};
use crate::conn::{Conn, ConnState};
use crate::cx::{Cx, ThreadId};
use crate::db::Entry;
use crate::error::CmdError;
use crate::hop::{
    GatherState, HopDone, HopOp, HopResult, NodeOp, NodeResult, PatternFetch, Pending, Plan, TxHop,
    TxPhase, TxTime,
};
use crate::node::{shard_of, Flow, Node};
use crate::reply::Reply;
use crate::shard::Shard;
use crate::tx::{LockMode, LockSet, TxId};

/// A (database, key) and the intent a transaction takes on it.
type KeyLock = (u16, Vec<u8>, LockMode);
/// One shard's share of a split command: owner, key ordinals, arguments, intents.
type SplitPart = (ThreadId, Vec<usize>, Argv, Vec<KeyLock>);
/// A (database, key) and its new entry, None for deleted.
type EntryChange = (u16, Vec<u8>, Option<Entry>);
/// A shard and the (database, key) pairs to fetch there.
type ShardFetch = (ThreadId, Vec<(u16, Vec<u8>)>);

/// A hop whose reply nobody waits for (a cancel): no connection's request has sequence 0.
pub(crate) const SEQ_NO_REPLY: u64 = 0;

/// Finishes a command synchronously when no hop is outstanding, else parks the plan.
pub(crate) fn park_or_finish(
    node: &mut Node,
    conn: &mut Conn,
    mut pending: Pending,
    cx: &mut Cx,
) -> Flow {
    if pending.outstanding == 0 {
        if let Some(reply) = advance(node, conn, &mut pending, cx) {
            return match take_blocking(&mut pending) {
                Some(blocked) => {
                    crate::node::blocking::after_attempt(node, conn, blocked, reply, cx)
                }
                None => {
                    conn.encode(&reply);
                    Flow::Next
                }
            };
        }
    }
    conn.state = ConnState::Waiting(Box::new(pending));
    Flow::Stop
}

/// A blocking command's attempt across shards finished: its blocking state, which decides
/// whether the reply goes out or the client blocks.
fn take_blocking(pending: &mut Pending) -> Option<Box<crate::node::blocking::Blocked>> {
    match &mut pending.plan {
        Plan::Gather(state) => state.blocking.take(),
        _ => None,
    }
}

pub(crate) fn lock_mode(spec: &CommandSpec) -> LockMode {
    if spec.has(cmd::flag::WRITE) {
        LockMode::Exclusive
    } else {
        LockMode::Shared
    }
}

/// Begins scheduling: sends the schedule to every shard of the transaction with a fresh txid.
pub(crate) fn schedule(node: &mut Node, conn: &Conn, pending: &mut Pending, cx: &mut Cx) {
    let admit = node.shard.budget_bytes().is_some() && needs_memory(&pending.plan);
    let TxPhase::Scheduling {
        txid,
        locks,
        accepted,
        refused,
        not_runnable,
        runnable_at_ms,
        out_of_memory,
    } = &mut pending.tx
    else {
        unreachable!("schedule outside the scheduling phase")
    };
    *txid = cx.next_txid();
    accepted.clear();
    *refused = false;
    not_runnable.clear();
    *runnable_at_ms = 0;
    *out_of_memory = false;
    let (txid, locks) = (*txid, locks.clone());
    for (to, lockset) in locks {
        let op = HopOp::Schedule {
            txid,
            locks: lockset,
            admit_bytes: admit.then(|| incoming_bytes(&pending.plan, to)),
        };
        match node.send_hop(conn, to, pending.seq, None, vec![op], cx) {
            Some(results) => fold_results(pending, to, results),
            None => pending.outstanding += 1,
        }
    }
}

/// Whether a plan holds a write that Redis refuses when out of memory (`denyoom`).
fn needs_memory(plan: &Plan) -> bool {
    match plan {
        Plan::Split { spec, .. } => spec.has(cmd::flag::DENYOOM),
        Plan::Gather(state) => state.spec.has(cmd::flag::DENYOOM),
        Plan::Exec(state) => crate::multi::needs_memory(state),
        Plan::Batch { .. }
        | Plan::Pipeline(_)
        | Plan::Watch
        | Plan::Refused(_)
        | Plan::Acked(_)
        | Plan::ScriptHop { .. }
        | Plan::Node { .. }
        | Plan::Block { .. } => false,
    }
}

/// What the transaction's writes bring to `shard` at most, for its admission there
/// (`CommandSpec::incoming_bytes`): a split command's part there; a command run on copies, whole (its
/// stores may land on any of its shards); an EXEC body's commands there and those run on copies.
fn incoming_bytes(plan: &Plan, shard: ThreadId) -> u64 {
    match plan {
        Plan::Split {
            spec,
            parts,
            part_argvs,
            ..
        } => parts
            .iter()
            .zip(part_argvs)
            .filter(|((owner, _), _)| *owner == shard)
            .map(|(_, argv)| spec.incoming_bytes(argv))
            .sum(),
        Plan::Gather(state) => state.spec.incoming_bytes(&state.argv),
        Plan::Exec(state) => crate::multi::incoming_bytes(state, shard),
        Plan::Batch { .. }
        | Plan::Pipeline(_)
        | Plan::Watch
        | Plan::Refused(_)
        | Plan::Acked(_)
        | Plan::ScriptHop { .. }
        | Plan::Node { .. }
        | Plan::Block { .. } => 0,
    }
}

/// A pending command that starts as a transaction over `locks`.
fn pending_tx(node: &mut Node, plan: Plan, locks: Vec<(ThreadId, LockSet)>) -> Pending {
    pending_tx_with_seq(node.alloc_seq(), plan, locks)
}

/// A pending command, request number `seq`, that starts as a transaction over `locks`.
pub(crate) fn pending_tx_with_seq(
    seq: u64,
    plan: Plan,
    locks: Vec<(ThreadId, LockSet)>,
) -> Pending {
    let tx = TxPhase::Scheduling {
        txid: crate::tx::TxId(0),
        locks,
        accepted: Vec::new(),
        refused: false,
        not_runnable: Vec::new(),
        runnable_at_ms: 0,
        out_of_memory: false,
    };
    Pending {
        seq,
        outstanding: 0,
        plan,
        tx,
    }
}

/// Where scheduling stands once every shard answered: retried after a refusal (cancelling
/// where it was accepted), still waiting until it is runnable everywhere, or running, with the
/// plan's first hops sent.
///
/// The transaction's one time is fixed only when it is runnable on every shard: at least each
/// shard's clock at that moment. Every conflicting command that ran before it on any of its
/// shards ran by then, so it sees a time no earlier than theirs. Fixing the time at launch
/// instead lets two conflicting transactions that finished scheduling in the opposite order of
/// their txids run on a shard with their times inverted (simulator seeds 45467 and 90742).
fn finish_scheduling(node: &mut Node, conn: &Conn, pending: &mut Pending, cx: &mut Cx) {
    loop {
        let TxPhase::Scheduling {
            txid,
            locks,
            accepted,
            refused,
            not_runnable,
            runnable_at_ms,
            out_of_memory,
        } = &mut pending.tx
        else {
            return;
        };
        if *out_of_memory {
            // Refused for memory: withdrawn everywhere before any hop ran, so nothing changed.
            cx.mark("vll.out_of_memory");
            let (txid, cancel_on) = (*txid, std::mem::take(accepted));
            cancel(node, conn, txid, cancel_on, cx);
            pending.tx = TxPhase::None;
            let reply = match &pending.plan {
                Plan::Exec(_) => {
                    crate::multi::forget_watches(node, conn, pending, cx);
                    CmdError::ExecAbortOutOfMemory
                }
                _ => CmdError::OutOfMemory,
            };
            pending.plan = Plan::Refused(Reply::Error(reply));
            return;
        }
        if !*refused {
            if !not_runnable.is_empty() {
                cx.mark("vll.wait_runnable");
                return;
            }
            let shards = locks.iter().map(|l| l.0).collect();
            pending.tx = TxPhase::Running {
                txid: *txid,
                shards,
                now_ms: cx.wall_ms().max(*runnable_at_ms),
            };
            launch(node, conn, pending, cx);
            return;
        }
        cx.mark("vll.schedule_refused");
        let (txid, cancel_on) = (*txid, std::mem::take(accepted));
        cancel(node, conn, txid, cancel_on, cx);
        schedule(node, conn, pending, cx);
        if pending.outstanding > 0 {
            return;
        }
    }
}

/// Withdraws transaction `txid` from the shards that accepted it; nobody waits for the answers.
pub(crate) fn cancel(node: &mut Node, conn: &Conn, txid: TxId, shards: Vec<ThreadId>, cx: &mut Cx) {
    for to in shards {
        let op = HopOp::Cancel { txid };
        node.send_hop(conn, to, SEQ_NO_REPLY, None, vec![op], cx);
    }
}

pub(crate) fn tx_hop(pending: &Pending, conclude: bool) -> Option<TxHop> {
    match &pending.tx {
        TxPhase::Running {
            txid,
            now_ms,
            shards,
        } => Some(TxHop {
            txid: *txid,
            conclude,
            time: TxTime::At(*now_ms),
            schedules: false,
            journal_shards: shards.len() as u16,
        }),
        TxPhase::None => None,
        TxPhase::Scheduling { .. } => unreachable!("hops sent before scheduling finished"),
    }
}

/// Sends the plan's first hops.
fn launch(node: &mut Node, conn: &Conn, pending: &mut Pending, cx: &mut Cx) {
    if let Plan::Pipeline(_) = pending.plan {
        return crate::node::pipeline::launch(node, conn, pending, cx);
    }
    let mut sends: Vec<(ThreadId, Vec<HopOp>, Option<TxHop>)> = Vec::new();
    let (last_hop, first_of_two) = (tx_hop(pending, true), tx_hop(pending, false));
    match &mut pending.plan {
        Plan::Batch { .. } => unreachable!("batches are sent as they are built"),
        Plan::Pipeline(_) => unreachable!("launched above"),
        Plan::Watch => unreachable!("watches are sent as they are built"),
        Plan::Refused(_) => unreachable!("a refused plan launches nothing"),
        Plan::Acked(_) => unreachable!("acknowledged hops are sent as they are built"),
        Plan::ScriptHop { .. } => unreachable!("a script's hop is sent as it is built"),
        Plan::Block { .. } => unreachable!("a blocking attempt is sent as it is built"),
        Plan::Exec(_) => return, // `advance` sends EXEC's first wave
        Plan::Split {
            spec,
            parts,
            part_argvs,
            ..
        } => {
            for ((owner, _), argv) in parts.iter().zip(part_argvs.drain(..)) {
                let op = HopOp::Run {
                    spec,
                    argv,
                    admit: false,
                };
                sends.push((*owner, vec![op], last_hop));
            }
        }
        Plan::Gather(state) => {
            // The planted bug concludes a script's transaction at its fetches.
            let early =
                state.script.is_some() && cx.planted(crate::env::Plant::ScriptReleasesEarly);
            for (owner, members) in &state.parts {
                let keys = members.iter().map(|&n| state.keys[n].clone()).collect();
                let tx = if early { last_hop } else { first_of_two };
                sends.push((*owner, vec![HopOp::Fetch { keys }], tx));
            }
        }
        Plan::Node { op, targets, .. } => {
            for to in targets.iter() {
                sends.push((*to, vec![HopOp::Node(op.clone())], last_hop));
            }
        }
    }
    for (to, ops, tx) in sends {
        match node.send_hop(conn, to, pending.seq, tx, ops, cx) {
            Some(results) => fold_results(pending, to, results),
            None => pending.outstanding += 1,
        }
    }
}

pub(crate) fn start_split(
    node: &mut Node,
    conn: &mut Conn,
    spec: &'static CommandSpec,
    merge: Merge,
    argv: Argv,
    key_indexes: &[usize],
    cx: &mut Cx,
) -> Flow {
    let step = spec.keys[0].step().max(1) as usize;
    let begin = spec.keys[0]
        .fixed_begin()
        .expect("a split command's keys are at an index");
    if !(argv.len() - usize::from(begin)).is_multiple_of(step) {
        // A pairwise command (MSET) whose last key lacks its value is malformed as a whole: run
        // it once, unsplit, so its handler rejects it before any part writes.
        let Exec::Shard { run, .. } = spec.exec else {
            unreachable!("{} is split but not keyed", spec.name)
        };
        let reply = node.exec_here(conn.db, spec, run, &argv, cx);
        conn.encode(&reply);
        return Flow::Next;
    }
    let mode = lock_mode(spec);
    let mut parts: Vec<SplitPart> = Vec::new();
    for (ordinal, &ki) in key_indexes.iter().enumerate() {
        let owner = shard_of(&argv[ki], node.threads);
        let at = match parts.iter().position(|p| p.0 == owner) {
            Some(at) => at,
            None => {
                parts.push((
                    owner,
                    Vec::new(),
                    Argv::from_slices(&[&argv[0]]),
                    Vec::new(),
                ));
                parts.len() - 1
            }
        };
        parts[at].1.push(ordinal);
        parts[at].3.push((conn.db as u16, argv[ki].to_vec(), mode));
        for i in ki..(ki + step).min(argv.len()) {
            parts[at].2.push(&argv[i]);
        }
    }
    let locks = parts
        .iter()
        .map(|p| (p.0, LockSet::Keys(p.3.clone())))
        .collect();
    let plan = Plan::Split {
        spec,
        merge,
        slots: vec![None; key_indexes.len()],
        parts: parts.iter().map(|p| (p.0, p.1.clone())).collect(),
        part_argvs: parts.into_iter().map(|p| p.2).collect(),
        sum: 0,
        error: None,
    };
    let mut pending = pending_tx(node, plan, locks);
    schedule(node, conn, &mut pending, cx);
    park_or_finish(node, conn, pending, cx)
}

/// The (database, key) pairs a keyed command touches.
pub(crate) fn command_keys(
    spec: &CommandSpec,
    merge: Merge,
    argv: &Argv,
    db: usize,
) -> Vec<(u16, Vec<u8>)> {
    match merge {
        Merge::Gather(dbs) => gather_keys(spec, dbs, argv, db),
        Merge::Patterns => gather_keys(spec, GatherDbs::Current, argv, db),
        Merge::OneKey | Merge::SumInts | Merge::AllOk | Merge::KeyOrder => spec
            .key_indexes(argv)
            .into_iter()
            .map(|i| (db as u16, argv[i].to_vec()))
            .collect(),
    }
}

/// The (database, key) pairs a gathered command touches.
fn gather_keys(spec: &CommandSpec, dbs: GatherDbs, argv: &Argv, db: usize) -> Vec<(u16, Vec<u8>)> {
    let indexes = spec.key_indexes(argv);
    let mut target_db = db;
    if let GatherDbs::CopyDbOption = dbs {
        let mut args = cmd::Args::new(argv, 3);
        while let Some(word) = args.next() {
            if cmd::args::eq_word(word, "DB") {
                if let Some(n) = args.next().and_then(|a| cmd::args::parse_i64(a).ok()) {
                    target_db = usize::try_from(n).unwrap_or(db);
                }
            }
        }
    }
    indexes
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let key_db = if n == 1 { target_db } else { db };
            (key_db as u16, argv[i].to_vec())
        })
        .collect()
}

pub(crate) fn start_gather(
    node: &mut Node,
    conn: &mut Conn,
    spec: &'static CommandSpec,
    dbs: GatherDbs,
    argv: Argv,
    blocking: Option<Box<crate::node::blocking::Blocked>>,
    cx: &mut Cx,
) -> Flow {
    let keys = gather_keys(spec, dbs, &argv, conn.db);
    if keys
        .iter()
        .any(|(db, _)| *db as usize >= node.config.databases)
    {
        // An out-of-range DB option: the handler reports it when run on the copies.
        let now_ms = cx.wall_ms();
        let reply = run_on_copies(node, conn.db, spec, &argv, &[], &[], now_ms, cx).0;
        conn.encode(&reply);
        return Flow::Next;
    }
    let mode = lock_mode(spec);
    let mut parts: Vec<(ThreadId, Vec<usize>)> = Vec::new();
    let mut locks: Vec<(ThreadId, LockSet)> = Vec::new();
    for (n, (db, key)) in keys.iter().enumerate() {
        let owner = shard_of(key, node.threads);
        match parts.iter().position(|p| p.0 == owner) {
            Some(at) => parts[at].1.push(n),
            None => {
                parts.push((owner, vec![n]));
                locks.push((owner, LockSet::Keys(Vec::new())));
            }
        }
        let at = locks
            .iter()
            .position(|l| l.0 == owner)
            .expect("lock entry per part");
        let LockSet::Keys(list) = &mut locks[at].1 else {
            unreachable!("key locks")
        };
        list.push((*db, key.clone(), mode));
    }
    let state = GatherState {
        spec,
        argv,
        fetched: vec![None; keys.len()],
        keys,
        parts,
        reply: None,
        blocking,
        patterns: PatternFetch::Done,
        script: None,
    };
    let mut pending = pending_tx(node, Plan::Gather(Box::new(state)), locks);
    schedule(node, conn, &mut pending, cx);
    park_or_finish(node, conn, pending, cx)
}

/// Whether a keyed line reads keys named by patterns that may live on any shard, so that it
/// must run over every shard (`Merge::Patterns`; one shard holds every key anyway).
pub(crate) fn reads_pattern_keys(node: &Node, spec: &CommandSpec, argv: &Argv) -> bool {
    let patterns = matches!(
        spec.exec,
        Exec::Shard {
            merge: Merge::Patterns,
            ..
        }
    );
    patterns && node.threads > 1 && cmd::sort::reads_pattern_keys(argv)
}

/// Every shard, each locking everything: a pattern-reading command's transaction.
pub(crate) fn lock_everything(node: &Node) -> Vec<(ThreadId, LockSet)> {
    (0..node.threads)
        .map(|t| (ThreadId(t), LockSet::Everything))
        .collect()
}

/// Keys `(0..len)` of a gather grouped by their owners, owners in order of first appearance.
fn parts_by_owner(
    node: &Node,
    keys: &[(u16, Vec<u8>)],
    members: impl Iterator<Item = usize>,
) -> Vec<(ThreadId, Vec<usize>)> {
    let mut parts: Vec<(ThreadId, Vec<usize>)> = Vec::new();
    for n in members {
        let owner = shard_of(&keys[n].1, node.threads);
        match parts.iter_mut().find(|p| p.0 == owner) {
            Some(part) => part.1.push(n),
            None => parts.push((owner, vec![n])),
        }
    }
    parts
}

/// A line reading pattern keys on a node of several shards (`Merge::Patterns`): a transaction
/// locking every key of every shard, so that the sorted key, the keys its elements name and
/// the destination are read and written as one state. The cost: a barrier on the whole node
/// while it runs, and one more round of fetches (see `cmd::sort`).
pub(crate) fn start_pattern_gather(
    node: &mut Node,
    conn: &mut Conn,
    spec: &'static CommandSpec,
    argv: Argv,
    cx: &mut Cx,
) -> Flow {
    cx.mark("sort.patterns_across_shards");
    let keys = gather_keys(spec, GatherDbs::Current, &argv, conn.db);
    let parts = parts_by_owner(node, &keys, 0..keys.len());
    let state = GatherState {
        spec,
        argv,
        fetched: vec![None; keys.len()],
        keys,
        parts,
        reply: None,
        blocking: None,
        patterns: PatternFetch::Pending,
        script: None,
    };
    let locks = lock_everything(node);
    let mut pending = pending_tx(node, Plan::Gather(Box::new(state)), locks);
    schedule(node, conn, &mut pending, cx);
    park_or_finish(node, conn, pending, cx)
}

/// The keys a pattern-reading line names beyond those already in `keys`, from the first key's
/// fetched entry (the sorted key: `keys[0]`).
pub(crate) fn derived_keys(
    argv: &Argv,
    db: usize,
    keys: &[(u16, Vec<u8>)],
    fetched: &[Option<Option<Entry>>],
) -> Vec<(u16, Vec<u8>)> {
    let source = fetched
        .first()
        .and_then(|f| f.as_ref())
        .and_then(|e| e.as_ref());
    cmd::sort::pattern_keys(argv, source)
        .into_iter()
        .map(|key| (db as u16, key))
        .filter(|k| !keys.contains(k))
        .collect()
}

/// A pattern gather's second fetch: the derived keys, from their owners. False when there is
/// nothing more to fetch.
fn fetch_pattern_keys(node: &mut Node, conn: &Conn, pending: &mut Pending, cx: &mut Cx) -> bool {
    let Plan::Gather(state) = &mut pending.plan else {
        unreachable!("gather plan")
    };
    let extra = derived_keys(&state.argv, conn.db, &state.keys, &state.fetched);
    if extra.is_empty() {
        return false;
    }
    let first_new = state.keys.len();
    state.keys.extend(extra);
    state.fetched.resize(state.keys.len(), None);
    state.parts = parts_by_owner(node, &state.keys, first_new..state.keys.len());
    let sends: Vec<ShardFetch> = state
        .parts
        .iter()
        .map(|(owner, members)| {
            let keys = members.iter().map(|&n| state.keys[n].clone()).collect();
            (*owner, keys)
        })
        .collect();
    let tx = tx_hop(pending, false);
    for (to, keys) in sends {
        match node.send_hop(conn, to, pending.seq, tx, vec![HopOp::Fetch { keys }], cx) {
            Some(results) => fold_results(pending, to, results),
            None => pending.outstanding += 1,
        }
    }
    pending.outstanding > 0
}

/// Runs the command on a scratch shard holding copies of the fetched entries; returns the reply
/// and the entries that changed, as (database, key, new entry or None for deleted).
/// `now_ms` is the transaction's time, the one its fetches ran at.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
pub(crate) fn run_on_copies(
    node: &mut Node,
    db: usize,
    spec: &CommandSpec,
    argv: &Argv,
    keys: &[(u16, Vec<u8>)],
    fetched: &[Option<Option<Entry>>],
    now_ms: u64,
    cx: &mut Cx,
) -> (Reply, Vec<(u16, Vec<u8>, Option<Entry>)>) {
    let Exec::Shard { run, .. } = spec.exec else {
        unreachable!("{} is not keyed", spec.name)
    };
    let run = |ecx: &mut ExecCx| run(ecx, argv);
    run_fn_on_copies(node, db, spec, run, keys, fetched, now_ms, cx)
}

/// `run_on_copies` with the code to run given (a blocking command's attempt).
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
pub(crate) fn run_fn_on_copies(
    node: &mut Node,
    db: usize,
    spec: &CommandSpec,
    run: impl FnOnce(&mut ExecCx) -> Result<Reply, CmdError>,
    keys: &[(u16, Vec<u8>)],
    fetched: &[Option<Option<Entry>>],
    now_ms: u64,
    cx: &mut Cx,
) -> (Reply, Vec<(u16, Vec<u8>, Option<Entry>)>) {
    let mut scratch = Shard::new(node.config.databases, 0);
    scratch.limits = node.shard.limits;
    scratch.modified_log = Some(Vec::new());
    for ((kdb, _), entry) in keys.iter().zip(fetched) {
        if let Some(Some(entry)) = entry {
            scratch.db(*kdb as usize).insert(entry.clone(), now_ms);
        }
    }
    let reply: Reply = run(&mut ExecCx::new(&mut scratch, db, now_ms, cx)).into();
    // The handler's lookups count where the coordinator runs, as if it had read the keys
    // itself (SINTER, LCS… count a hit or miss per key).
    node.shard.stats.keyspace_hits += scratch.stats.keyspace_hits;
    node.shard.stats.keyspace_misses += scratch.stats.keyspace_misses;
    if spec.has(cmd::flag::READONLY) {
        return (reply, Vec::new());
    }
    // Stored back: what changed, and what the command modified though the data came out
    // the same (SET to the same value), so the shard signals it to watchers.
    let modified = scratch.modified_log.take().unwrap_or_default();
    let mut changed = Vec::new();
    for ((kdb, key), before) in keys.iter().zip(fetched) {
        let after = scratch.db(*kdb as usize).peek(key, now_ms).cloned();
        let before = before.clone().flatten();
        let signalled = modified.iter().any(|(d, k)| d == kdb && k == key);
        if signalled || !same_data(before.as_ref(), after.as_ref()) {
            changed.push((*kdb, key.clone(), after));
        }
    }
    changed.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    (reply, changed)
}

/// Equal value and deadline (access times do not count).
pub(crate) fn same_data(a: Option<&Entry>, b: Option<&Entry>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.value() == b.value() && a.expire_at_ms() == b.expire_at_ms(),
        _ => false,
    }
}

/// Folds the results one thread sent back into the transaction phase or the plan.
pub(crate) fn fold_results(pending: &mut Pending, from: ThreadId, results: Vec<HopResult>) {
    if let [HopResult::Runnable { txid, at_ms }] = results[..] {
        // A notice for an earlier, cancelled attempt finds another txid, or none: dropped.
        if let TxPhase::Scheduling {
            txid: current,
            not_runnable,
            runnable_at_ms,
            ..
        } = &mut pending.tx
        {
            if *current == txid {
                not_runnable.retain(|&t| t != from);
                *runnable_at_ms = (*runnable_at_ms).max(at_ms);
            }
        }
        return;
    }
    if let TxPhase::Scheduling {
        accepted,
        refused,
        not_runnable,
        runnable_at_ms,
        out_of_memory,
        ..
    } = &mut pending.tx
    {
        for result in results {
            match result {
                HopResult::Scheduled {
                    accepted: true,
                    runnable_at_ms: at,
                    out_of_memory: over,
                } => {
                    accepted.push(from);
                    *out_of_memory |= over;
                    match at {
                        Some(at_ms) => *runnable_at_ms = (*runnable_at_ms).max(at_ms),
                        None => not_runnable.push(from),
                    }
                }
                HopResult::Scheduled {
                    accepted: false, ..
                } => *refused = true,
                other => unreachable!("scheduling got {other:?}"),
            }
        }
        return;
    }
    match &mut pending.plan {
        Plan::Exec(_) => crate::multi::fold(pending, from, results),
        Plan::Pipeline(_) => crate::node::pipeline::fold(pending, from, results),
        Plan::Watch | Plan::Refused(_) | Plan::Acked(_) => {}
        Plan::ScriptHop { outcome } => *outcome = results.into_iter().next(),
        Plan::Block { outcome, .. } => *outcome = results.into_iter().next(),
        Plan::Batch { replies } => {
            replies.extend(results.into_iter().map(|r| match r {
                HopResult::Reply(reply) => reply,
                other => unreachable!("batch got {other:?}"),
            }));
        }
        Plan::Split {
            merge,
            slots,
            parts,
            sum,
            error,
            ..
        } => {
            let ordinals = &parts.iter().find(|p| p.0 == from).expect("split part").1;
            let Some(HopResult::Reply(reply)) = results.into_iter().next() else {
                unreachable!("split result")
            };
            match (merge, reply) {
                (_, Reply::Error(e)) => *error = Some(Reply::Error(e)),
                (Merge::KeyOrder, Reply::Array(items)) => {
                    for (&ordinal, item) in ordinals.iter().zip(items) {
                        slots[ordinal] = Some(item);
                    }
                }
                (Merge::SumInts, Reply::Int(n)) => *sum += n,
                (Merge::AllOk, _) => {}
                (merge, reply) => unreachable!("{merge:?} part replied {reply:?}"),
            }
        }
        Plan::Gather(state) => {
            if state.reply.is_some() {
                return; // a store acknowledgement
            }
            let members = &state
                .parts
                .iter()
                .find(|p| p.0 == from)
                .expect("gather part")
                .1;
            let Some(HopResult::Entries(entries)) = results.into_iter().next() else {
                unreachable!("fetch result")
            };
            for (&n, entry) in members.iter().zip(entries) {
                state.fetched[n] = Some(entry);
            }
        }
        Plan::Node {
            results: collected, ..
        } => {
            for result in results {
                let HopResult::Node(r) = result else {
                    unreachable!("node op result")
                };
                collected.push((from, r));
            }
        }
    }
}

/// Moves a plan forward once nothing is outstanding: the final reply, or None when a next
/// phase sent more hops (scheduling done, a gather's stores).
pub(crate) fn advance(
    node: &mut Node,
    conn: &mut Conn,
    pending: &mut Pending,
    cx: &mut Cx,
) -> Option<Reply> {
    debug_assert_eq!(pending.outstanding, 0);
    if let TxPhase::Scheduling { .. } = pending.tx {
        finish_scheduling(node, conn, pending, cx);
        if pending.outstanding > 0 || matches!(pending.tx, TxPhase::Scheduling { .. }) {
            return None;
        }
    }
    match &mut pending.plan {
        Plan::Exec(_) => crate::multi::advance_exec(node, conn, pending, cx),
        Plan::Pipeline(_) => crate::node::pipeline::advance(node, conn, pending, cx),
        Plan::Watch => Some(Reply::OK),
        Plan::ScriptHop { outcome } => match outcome.take() {
            Some(HopResult::Reply(reply)) => Some(reply),
            Some(HopResult::ScriptRetry(job)) => {
                cx.mark("script.hop_retried");
                *pending = crate::node::script::transaction(node, *job, pending.seq);
                schedule(node, conn, pending, cx);
                if pending.outstanding > 0 {
                    return None;
                }
                advance(node, conn, pending, cx)
            }
            other => unreachable!("a script hop answered {other:?}"),
        },
        Plan::Refused(reply) | Plan::Acked(reply) => Some(std::mem::replace(reply, Reply::OK)),
        Plan::Block { .. } => unreachable!("a blocking attempt's result goes to node::blocking"),
        Plan::Batch { replies } => {
            let last = replies.pop();
            for reply in replies.drain(..) {
                conn.encode(&reply);
            }
            last
        }
        Plan::Split {
            merge,
            slots,
            sum,
            error,
            ..
        } => Some(match (error.take(), merge) {
            (Some(err), _) => err,
            (None, Merge::KeyOrder) => {
                Reply::Array(slots.drain(..).map(|s| s.unwrap_or(Reply::Nil)).collect())
            }
            (None, Merge::SumInts) => Reply::Int(*sum),
            (None, _) => Reply::OK,
        }),
        Plan::Gather(_) => advance_gather(node, conn, pending, cx),
        Plan::Node {
            cmd, argv, results, ..
        } => {
            let results = std::mem::take(results);
            let (cmd, argv) = (*cmd, argv.clone());
            Some(finish_node_cmd(node, conn, cmd, &argv, results, cx))
        }
    }
}

/// A gather's second phase: run on the copies, then store the changes on every shard of the
/// transaction (an empty store concludes it where nothing changed).
fn advance_gather(
    node: &mut Node,
    conn: &mut Conn,
    pending: &mut Pending,
    cx: &mut Cx,
) -> Option<Reply> {
    let Plan::Gather(state) = &mut pending.plan else {
        unreachable!("gather plan")
    };
    if let Some(reply) = state.reply.take() {
        if let Some(job) = state
            .script
            .as_mut()
            .filter(|job| job.attempts > 0 && job.restart)
        {
            // The script reached keys beyond its copies: it runs again, those keys among them.
            job.restart = false;
            let job = (**job).clone();
            match crate::node::script::restart(node, job, pending.seq) {
                Ok(next) => {
                    *pending = next;
                    schedule(node, conn, pending, cx);
                    if pending.outstanding > 0 {
                        return None;
                    }
                    return advance(node, conn, pending, cx);
                }
                Err(reply) => return Some(reply),
            }
        }
        return Some(reply);
    }
    if state.patterns == PatternFetch::Pending {
        state.patterns = PatternFetch::Done;
        if fetch_pattern_keys(node, conn, pending, cx) {
            return None;
        }
    }
    let Plan::Gather(state) = &mut pending.plan else {
        unreachable!("gather plan")
    };
    let (shards, now_ms) = match &pending.tx {
        TxPhase::Running { shards, now_ms, .. } => (shards.clone(), *now_ms),
        TxPhase::None | TxPhase::Scheduling { .. } => unreachable!("gathers run as transactions"),
    };
    let (reply, changed) = if state.script.is_some() {
        match crate::node::script::run_fetched(node, conn, state, now_ms, cx) {
            Ok(done) => done,
            Err(mut job) => {
                // Concluded unchanged everywhere; `restart` follows once the stores are back.
                job.restart = true;
                state.script = Some(job);
                (Reply::Nil, Vec::new())
            }
        }
    } else {
        let fetched = std::mem::take(&mut state.fetched);
        match state.blocking.as_mut() {
            Some(blocked) => {
                let attempt = |ecx: &mut ExecCx| crate::node::blocking::attempt(ecx, blocked);
                let (db, spec) = (conn.db, state.spec);
                run_fn_on_copies(node, db, spec, attempt, &state.keys, &fetched, now_ms, cx)
            }
            None => run_on_copies(
                node,
                conn.db,
                state.spec,
                &state.argv,
                &state.keys,
                &fetched,
                now_ms,
                cx,
            ),
        }
    };
    let mut stores: Vec<(ThreadId, Vec<EntryChange>)> =
        shards.into_iter().map(|s| (s, Vec::new())).collect();
    for change in changed {
        let owner = shard_of(&change.1, node.threads);
        let store = stores
            .iter_mut()
            .find(|s| s.0 == owner)
            .expect("changed key on a tx shard");
        store.1.push(change);
    }
    state.reply = Some(reply);
    let early = state.script.is_some() && cx.planted(crate::env::Plant::ScriptReleasesEarly);
    let tx = if early { None } else { tx_hop(pending, true) };
    for (owner, entries) in stores {
        match node.send_hop(
            conn,
            owner,
            pending.seq,
            tx,
            vec![HopOp::Store { entries }],
            cx,
        ) {
            Some(_) if early => {} // a plain store ran here at once
            Some(_) => unreachable!("transaction hops travel as messages"),
            None => pending.outstanding += 1,
        }
    }
    if pending.outstanding == 0 {
        let Plan::Gather(state) = &mut pending.plan else {
            unreachable!("gather plan")
        };
        return state.reply.take();
    }
    None
}

/// Folds a `HopDone` into the connection's plan; true when the command finished and the
/// connection is ready again.
pub(crate) fn absorb(node: &mut Node, conn: &mut Conn, done: HopDone, cx: &mut Cx) -> bool {
    let ConnState::Waiting(mut pending) = std::mem::replace(&mut conn.state, ConnState::Ready)
    else {
        unreachable!("absorb on a connection that is not waiting")
    };
    fold_results(&mut pending, done.from, done.results);
    if pending.outstanding > 0 {
        conn.state = ConnState::Waiting(pending);
        return false;
    }
    if let Plan::Block { blocked, outcome } = pending.plan {
        let outcome = outcome.expect("a blocking attempt's result");
        let flow = crate::node::blocking::after_shard_attempt(conn, blocked, outcome, cx);
        return matches!(flow, Flow::Next);
    }
    match advance(node, conn, &mut pending, cx) {
        Some(reply) => match take_blocking(&mut pending) {
            Some(blocked) => {
                let flow = crate::node::blocking::after_attempt(node, conn, blocked, reply, cx);
                matches!(flow, Flow::Next)
            }
            None => {
                conn.encode(&reply);
                true
            }
        },
        None => {
            conn.state = ConnState::Waiting(pending);
            false
        }
    }
}

/// Which threads a node-wide op goes to.
pub enum Targets {
    All,
    One(ThreadId),
}

/// A node-wide command's op and the threads it goes to, or its reply when it needs none.
pub(crate) fn plan_node(
    node: &mut Node,
    conn: &Conn,
    cmd: NodeCmd,
    argv: &Argv,
) -> Result<(NodeOp, Vec<ThreadId>), Reply> {
    if let NodeCmd::Save | NodeCmd::BgSave = cmd {
        // A new save job on this thread, then its cut on every shard.
        let op = crate::node::persist::plan_save(node, cmd, argv)?;
        return Ok((op, (0..node.threads).map(ThreadId).collect()));
    }
    let planned = match cmd {
        NodeCmd::DbSize
        | NodeCmd::Keys
        | NodeCmd::Scan
        | NodeCmd::RandomKey
        | NodeCmd::FlushDb
        | NodeCmd::FlushAll
        | NodeCmd::SwapDb => crate::node::commands::keyspace::plan_node_cmd(
            cmd,
            argv,
            conn.db,
            node.threads,
            node.config.databases,
        ),
        NodeCmd::Info
        | NodeCmd::ClientList
        | NodeCmd::ClientKill
        | NodeCmd::ClientUnblock
        | NodeCmd::ConfigSet
        | NodeCmd::ConfigResetStat
        | NodeCmd::SlowlogGet
        | NodeCmd::SlowlogLen
        | NodeCmd::SlowlogReset => {
            crate::node::commands::server::plan_node_cmd(cmd, argv, conn, &node.config)
        }
        NodeCmd::Publish
        | NodeCmd::SPublish
        | NodeCmd::PubSubChannels
        | NodeCmd::PubSubShardChannels
        | NodeCmd::PubSubNumSub
        | NodeCmd::PubSubShardNumSub
        | NodeCmd::PubSubNumPat => crate::node::pubsub::plan_node_cmd(cmd, argv, conn.id),
        NodeCmd::DebugDigest => crate::node::commands::digest::plan_node_cmd(argv, conn.db),
        NodeCmd::DebugSetActiveExpire => Ok((
            crate::node::commands::server::plan_set_active_expire(argv),
            Targets::All,
        )),
        NodeCmd::Save | NodeCmd::BgSave => unreachable!("planned above"),
        NodeCmd::DebugReload => unreachable!("planned by node::reload once the file is read"),
    };
    let (op, targets) = match planned {
        Ok(planned) => planned,
        Err(CmdErrorOrReply::Error(err)) => return Err(Reply::Error(err)),
        Err(CmdErrorOrReply::Reply(reply)) => return Err(reply),
    };
    let targets: Vec<ThreadId> = match targets {
        Targets::All => (0..node.threads).map(ThreadId).collect(),
        Targets::One(t) => vec![t],
    };
    Ok((op, targets))
}

pub(crate) fn start_node_cmd(
    node: &mut Node,
    conn: &mut Conn,
    cmd: NodeCmd,
    argv: Argv,
    cx: &mut Cx,
) -> Flow {
    let (op, targets) = match plan_node(node, conn, cmd, &argv) {
        Ok(planned) => planned,
        Err(reply) => {
            conn.encode(&reply);
            return Flow::Next;
        }
    };
    start_node_op(node, conn, cmd, argv, op, targets, cx)
}

/// Sends a planned node-wide op to `targets` (as a transaction when the command is one) and
/// waits for their results.
pub(crate) fn start_node_op(
    node: &mut Node,
    conn: &mut Conn,
    cmd: NodeCmd,
    argv: Argv,
    op: NodeOp,
    targets: Vec<ThreadId>,
    cx: &mut Cx,
) -> Flow {
    let locks = if node_cmd_is_transaction(cmd) {
        targets.iter().map(|t| (*t, LockSet::Everything)).collect()
    } else {
        Vec::new()
    };
    let plan = Plan::Node {
        cmd,
        argv,
        op,
        targets,
        results: Vec::new(),
    };
    let mut pending = if locks.is_empty() {
        Pending {
            seq: node.alloc_seq(),
            outstanding: 0,
            plan,
            tx: TxPhase::None,
        }
    } else {
        pending_tx(node, plan, locks)
    };
    match pending.tx {
        TxPhase::None => launch(node, conn, &mut pending, cx),
        TxPhase::Scheduling { .. } | TxPhase::Running { .. } => {
            schedule(node, conn, &mut pending, cx)
        }
    }
    park_or_finish(node, conn, pending, cx)
}

/// Node-wide writes run as transactions locking everything, so they are atomic with respect
/// to every other command; node-wide reads and connection admin do not.
fn node_cmd_is_transaction(cmd: NodeCmd) -> bool {
    match cmd {
        NodeCmd::FlushDb
        | NodeCmd::FlushAll
        | NodeCmd::SwapDb
        | NodeCmd::Save
        | NodeCmd::BgSave
        | NodeCmd::DebugReload => true,
        NodeCmd::DbSize
        | NodeCmd::Keys
        | NodeCmd::Scan
        | NodeCmd::RandomKey
        | NodeCmd::Info
        | NodeCmd::ClientList
        | NodeCmd::ClientKill
        | NodeCmd::ClientUnblock
        | NodeCmd::ConfigSet
        | NodeCmd::ConfigResetStat
        | NodeCmd::SlowlogGet
        | NodeCmd::SlowlogLen
        | NodeCmd::SlowlogReset
        | NodeCmd::Publish
        | NodeCmd::SPublish
        | NodeCmd::PubSubChannels
        | NodeCmd::PubSubShardChannels
        | NodeCmd::PubSubNumSub
        | NodeCmd::PubSubShardNumSub
        | NodeCmd::PubSubNumPat
        | NodeCmd::DebugDigest
        | NodeCmd::DebugSetActiveExpire => false,
    }
}

/// A node command's plan can end early with an error or a ready reply (SWAPDB 0 0).
pub enum CmdErrorOrReply {
    Error(CmdError),
    Reply(Reply),
}

impl From<CmdError> for CmdErrorOrReply {
    fn from(err: CmdError) -> Self {
        CmdErrorOrReply::Error(err)
    }
}

pub(crate) fn finish_node_cmd(
    node: &mut Node,
    conn: &mut Conn,
    cmd: NodeCmd,
    argv: &Argv,
    mut results: Vec<(ThreadId, NodeResult)>,
    cx: &mut Cx,
) -> Reply {
    results.sort_by_key(|r| r.0);
    match cmd {
        NodeCmd::DbSize
        | NodeCmd::Keys
        | NodeCmd::Scan
        | NodeCmd::RandomKey
        | NodeCmd::FlushDb
        | NodeCmd::FlushAll
        | NodeCmd::SwapDb => {
            crate::node::commands::keyspace::finish_node_cmd(cmd, argv, results, node.threads, cx)
        }
        NodeCmd::Info
        | NodeCmd::ClientList
        | NodeCmd::ClientKill
        | NodeCmd::ClientUnblock
        | NodeCmd::ConfigSet
        | NodeCmd::ConfigResetStat
        | NodeCmd::SlowlogGet
        | NodeCmd::SlowlogLen
        | NodeCmd::SlowlogReset => {
            crate::node::commands::server::finish_node_cmd(cmd, argv, results, conn, node, cx)
        }
        NodeCmd::Publish
        | NodeCmd::SPublish
        | NodeCmd::PubSubChannels
        | NodeCmd::PubSubShardChannels
        | NodeCmd::PubSubNumSub
        | NodeCmd::PubSubShardNumSub
        | NodeCmd::PubSubNumPat => crate::node::pubsub::finish_node_cmd(cmd, argv, results),
        NodeCmd::DebugDigest => crate::node::commands::digest::finish_node_cmd(argv, results),
        NodeCmd::Save | NodeCmd::BgSave => {
            crate::node::persist::finish_cut(node, conn, cmd, results, cx)
        }
        NodeCmd::DebugReload => crate::node::reload::finish(&results, cx),
        NodeCmd::DebugSetActiveExpire => Reply::OK,
    }
}

/// Runs a node-wide op for this thread.
pub(crate) fn run_node_op(
    node: &mut Node,
    op: NodeOp,
    now_ms: u64,
    current: Option<&Conn>,
    cx: &mut Cx,
) -> NodeResult {
    match op {
        NodeOp::DbSize { .. }
        | NodeOp::Keys { .. }
        | NodeOp::Scan { .. }
        | NodeOp::RandomKey { .. }
        | NodeOp::FlushDb { .. }
        | NodeOp::FlushAll
        | NodeOp::SwapDb { .. } => {
            crate::node::commands::keyspace::run_node_op(node, op, now_ms, cx)
        }
        NodeOp::Stats
        | NodeOp::ClientList { .. }
        | NodeOp::ClientKill { .. }
        | NodeOp::ClientUnblock { .. }
        | NodeOp::ConfigSet { .. }
        | NodeOp::ResetStats
        | NodeOp::Slowlog(_) => {
            crate::node::commands::server::run_node_op(node, op, now_ms, current, cx)
        }
        NodeOp::Publish { .. }
        | NodeOp::PubSubChannels { .. }
        | NodeOp::PubSubNumSub { .. }
        | NodeOp::PubSubPatterns => crate::node::pubsub::run_node_op(node, op, cx),
        NodeOp::Digest { .. } => crate::node::commands::digest::run_node_op(node, op, now_ms),
        NodeOp::SnapshotCut { job } => {
            let accepted = crate::node::persist::cut(node, job, now_ms, cx);
            NodeResult::Count(u64::from(accepted))
        }
        NodeOp::ScriptLoad { sha, body } => {
            node.scripting.remember(sha, body);
            NodeResult::Done
        }
        NodeOp::Reload { dump, flush, merge } => {
            crate::node::reload::run_node_op(node, dump, flush, merge, now_ms)
        }
        NodeOp::SetActiveExpire { on } => {
            node.active_expire = on;
            NodeResult::Done
        }
        NodeOp::ScriptFlush => {
            node.scripting.flush();
            NodeResult::Done
        }
        NodeOp::FunctionsSet { libraries } => {
            node.scripting.set_libraries(libraries);
            NodeResult::Done
        }
    }
}
