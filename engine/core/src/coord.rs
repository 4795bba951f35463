//! Coordination of commands whose work spans shards: split-and-merge (MGET, MSET, DEL…),
//! gather-run-store on copies (RENAME, COPY, MSETNX…), and node-wide commands (DBSIZE, KEYS,
//! SCAN, FLUSHALL, INFO, CLIENT LIST…).
//!
//! Each starts by sending hops and recording a `Plan` on the waiting connection; `absorb` folds
//! each `HopDone` into the plan and, when nothing is outstanding, writes the reply. Parts for
//! this thread's own shard run at once and are folded in before the connection waits.
//! Atomicity across shards is the transaction layer's job (VLL); this layer only routes.

use crate::argv::Argv;
use crate::cmd::{self, CommandSpec, Exec, GatherDbs, Merge, NodeCmd};
use crate::conn::{Conn, ConnState};
use crate::cx::{Cx, ThreadId};
use crate::db::Entry;
use crate::error::CmdError;
use crate::hop::{GatherState, HopDone, HopOp, HopResult, NodeOp, NodeResult, Pending, Plan};
use crate::node::{shard_of, Flow, Node};
use crate::reply::Reply;
use crate::shard::{ExecCx, Shard};

/// Finishes a command synchronously when no hop is outstanding, else parks the plan.
fn park_or_finish(node: &mut Node, conn: &mut Conn, mut pending: Pending, cx: &mut Cx) -> Flow {
    if pending.outstanding > 0 {
        conn.state = ConnState::Waiting(pending);
        return Flow::Stop;
    }
    match advance(node, conn, &mut pending, cx) {
        Some(reply) => {
            conn.encode(&reply);
            Flow::Next
        }
        None => {
            conn.state = ConnState::Waiting(pending);
            Flow::Stop
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
    let step = spec.keys[0].step.max(1) as usize;
    let mut parts: Vec<(ThreadId, Vec<usize>, Argv)> = Vec::new();
    for (ordinal, &ki) in key_indexes.iter().enumerate() {
        let owner = shard_of(&argv[ki], node.threads);
        let at = match parts.iter().position(|p| p.0 == owner) {
            Some(at) => at,
            None => {
                parts.push((owner, Vec::new(), Argv::from_slices(&[&argv[0]])));
                parts.len() - 1
            }
        };
        parts[at].1.push(ordinal);
        for i in ki..(ki + step).min(argv.len()) {
            parts[at].2.push(&argv[i]);
        }
    }
    let seq = node.alloc_seq();
    let plan = Plan::Split {
        merge,
        slots: vec![None; key_indexes.len()],
        parts: parts.iter().map(|p| (p.0, p.1.clone())).collect(),
        sum: 0,
        error: None,
    };
    let mut pending = Pending {
        seq,
        outstanding: 0,
        plan,
    };
    for (owner, _, part_argv) in parts {
        match node.hop(
            conn,
            owner,
            seq,
            vec![HopOp::Run {
                spec,
                argv: part_argv,
            }],
            cx,
        ) {
            Some(results) => fold_results(&mut pending, owner, results),
            None => pending.outstanding += 1,
        }
    }
    park_or_finish(node, conn, pending, cx)
}

/// The (database, key) pairs a gathered command touches.
fn gather_keys(spec: &CommandSpec, dbs: GatherDbs, argv: &Argv, db: usize) -> Vec<(u16, Vec<u8>)> {
    let indexes = spec.key_indexes(argv.len());
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
    cx: &mut Cx,
) -> Flow {
    let keys = gather_keys(spec, dbs, &argv, conn.db);
    if keys
        .iter()
        .any(|(db, _)| *db as usize >= node.config.databases)
    {
        // An out-of-range DB option: the handler reports it when run on the copies.
        let reply = run_on_copies(node, conn.db, spec, &argv, &[], &[], cx).0;
        conn.encode(&reply);
        return Flow::Next;
    }
    let mut parts: Vec<(ThreadId, Vec<usize>)> = Vec::new();
    for (n, (_, key)) in keys.iter().enumerate() {
        let owner = shard_of(key, node.threads);
        match parts.iter_mut().find(|p| p.0 == owner) {
            Some(part) => part.1.push(n),
            None => parts.push((owner, vec![n])),
        }
    }
    let seq = node.alloc_seq();
    let state = GatherState {
        spec,
        argv,
        fetched: vec![None; keys.len()],
        keys,
        parts: parts.clone(),
        reply: None,
    };
    let mut pending = Pending {
        seq,
        outstanding: 0,
        plan: Plan::Gather(Box::new(state)),
    };
    for (owner, members) in parts {
        let Plan::Gather(state) = &pending.plan else {
            unreachable!()
        };
        let fetch = members.iter().map(|&n| state.keys[n].clone()).collect();
        match node.hop(conn, owner, seq, vec![HopOp::Fetch { keys: fetch }], cx) {
            Some(results) => fold_results(&mut pending, owner, results),
            None => pending.outstanding += 1,
        }
    }
    park_or_finish(node, conn, pending, cx)
}

/// Runs the command on a scratch shard holding copies of the fetched entries; returns the reply
/// and the entries that changed, as (database, key, new entry or None for deleted).
#[allow(clippy::type_complexity)]
fn run_on_copies(
    node: &Node,
    db: usize,
    spec: &CommandSpec,
    argv: &Argv,
    keys: &[(u16, Vec<u8>)],
    fetched: &[Option<Option<Entry>>],
    cx: &mut Cx,
) -> (Reply, Vec<(u16, Vec<u8>, Option<Entry>)>) {
    let Exec::Shard { run, .. } = spec.exec else {
        unreachable!("{} is not keyed", spec.name)
    };
    let now_ms = cx.wall_ms();
    let mut scratch = Shard::new(node.config.databases, 0);
    for ((kdb, _), entry) in keys.iter().zip(fetched) {
        if let Some(Some(entry)) = entry {
            scratch.db(*kdb as usize).insert(entry.clone(), now_ms);
        }
    }
    let reply: Reply = run(
        &mut ExecCx {
            shard: &mut scratch,
            db,
            now_ms,
            cx,
        },
        argv,
    )
    .into();
    if spec.has(cmd::flag::READONLY) {
        return (reply, Vec::new());
    }
    let mut changed = Vec::new();
    for ((kdb, key), before) in keys.iter().zip(fetched) {
        let after = scratch.db(*kdb as usize).peek(key, now_ms).cloned();
        let before = before.clone().flatten();
        if !same_data(before.as_ref(), after.as_ref()) {
            changed.push((*kdb, key.clone(), after));
        }
    }
    changed.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    (reply, changed)
}

/// Equal value and deadline (access times do not count).
fn same_data(a: Option<&Entry>, b: Option<&Entry>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.value == b.value && a.expire_at_ms == b.expire_at_ms,
        _ => false,
    }
}

/// Folds the results one thread sent back into the plan.
fn fold_results(pending: &mut Pending, from: ThreadId, results: Vec<HopResult>) {
    match &mut pending.plan {
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
/// phase sent more hops (a gather's stores).
fn advance(node: &mut Node, conn: &mut Conn, pending: &mut Pending, cx: &mut Cx) -> Option<Reply> {
    debug_assert_eq!(pending.outstanding, 0);
    match &mut pending.plan {
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
        Plan::Gather(state) => {
            if let Some(reply) = state.reply.take() {
                return Some(reply);
            }
            let fetched = std::mem::take(&mut state.fetched);
            let (reply, changed) = run_on_copies(
                node,
                conn.db,
                state.spec,
                &state.argv,
                &state.keys,
                &fetched,
                cx,
            );
            let seq = pending.seq;
            let mut stores: Vec<(ThreadId, Vec<(u16, Vec<u8>, Option<Entry>)>)> = Vec::new();
            for change in changed {
                let owner = shard_of(&change.1, node.threads);
                match stores.iter_mut().find(|s| s.0 == owner) {
                    Some(s) => s.1.push(change),
                    None => stores.push((owner, vec![change])),
                }
            }
            for (owner, entries) in stores {
                if node
                    .hop(conn, owner, seq, vec![HopOp::Store { entries }], cx)
                    .is_none()
                {
                    pending.outstanding += 1;
                }
            }
            if pending.outstanding == 0 {
                return Some(reply);
            }
            state.reply = Some(reply);
            None
        }
        Plan::Node { cmd, argv, results } => {
            let results = std::mem::take(results);
            Some(finish_node_cmd(node, conn, *cmd, argv, results, cx))
        }
    }
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
    match advance(node, conn, &mut pending, cx) {
        Some(reply) => {
            conn.encode(&reply);
            true
        }
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

pub(crate) fn start_node_cmd(
    node: &mut Node,
    conn: &mut Conn,
    cmd: NodeCmd,
    argv: Argv,
    cx: &mut Cx,
) -> Flow {
    let planned = match cmd {
        NodeCmd::DbSize
        | NodeCmd::Keys
        | NodeCmd::Scan
        | NodeCmd::RandomKey
        | NodeCmd::FlushDb
        | NodeCmd::FlushAll
        | NodeCmd::SwapDb => {
            cmd::keyspace::plan_node_cmd(cmd, &argv, conn.db, node.threads, node.config.databases)
        }
        NodeCmd::Info
        | NodeCmd::ClientList
        | NodeCmd::ClientKill
        | NodeCmd::ConfigSet
        | NodeCmd::ConfigResetStat => cmd::server::plan_node_cmd(cmd, &argv, conn, &node.config),
    };
    let (op, targets) = match planned {
        Ok(planned) => planned,
        Err(CmdErrorOrReply::Error(err)) => {
            conn.encode(&Reply::Error(err));
            return Flow::Next;
        }
        Err(CmdErrorOrReply::Reply(reply)) => {
            conn.encode(&reply);
            return Flow::Next;
        }
    };
    let seq = node.alloc_seq();
    let mut pending = Pending {
        seq,
        outstanding: 0,
        plan: Plan::Node {
            cmd,
            argv,
            results: Vec::new(),
        },
    };
    let threads: Vec<ThreadId> = match targets {
        Targets::All => (0..node.threads).map(ThreadId).collect(),
        Targets::One(t) => vec![t],
    };
    for to in threads {
        match node.hop(conn, to, seq, vec![HopOp::Node(op.clone())], cx) {
            Some(results) => fold_results(&mut pending, to, results),
            None => pending.outstanding += 1,
        }
    }
    park_or_finish(node, conn, pending, cx)
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

fn finish_node_cmd(
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
        | NodeCmd::SwapDb => cmd::keyspace::finish_node_cmd(cmd, argv, results, node.threads, cx),
        NodeCmd::Info
        | NodeCmd::ClientList
        | NodeCmd::ClientKill
        | NodeCmd::ConfigSet
        | NodeCmd::ConfigResetStat => {
            cmd::server::finish_node_cmd(cmd, argv, results, conn, node, cx)
        }
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
        | NodeOp::SwapDb { .. } => cmd::keyspace::run_node_op(node.shard_mut(), op, now_ms, cx),
        NodeOp::Stats
        | NodeOp::ClientList { .. }
        | NodeOp::ClientKill { .. }
        | NodeOp::ConfigSet { .. }
        | NodeOp::ResetStats => cmd::server::run_node_op(node, op, now_ms, current, cx),
    }
}
