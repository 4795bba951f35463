//! MULTI, EXEC, DISCARD, WATCH and UNWATCH.
//!
//! Between MULTI and EXEC a connection queues commands (a command rejected while queueing
//! dooms the transaction: EXECABORT). EXEC runs the body atomically. A body whose keyed
//! commands all live on one shard, with nothing watched, is one plain hop: a hop runs to
//! completion, so that is atomic by itself. Any other body is one VLL transaction (`tx.rs`)
//! over the union of its keys and the watched keys — everything, if it holds a node-wide command
//! — run in waves: the watch check first (when something is watched), then consecutive
//! single-shard commands squashed into one hop per shard, and each command that spans shards or
//! the node as a wave of its own. The last wave concludes the transaction on every shard.
//!
//! WATCH registers the keys on their shards (`watch.rs`) and answers once every shard holds
//! them, so no write acknowledged after WATCH's reply can slip by unseen.

use crate::argv::Argv;
pub use crate::cmd::family::transactions::MultiCmd;
use crate::cmd::{self, flag, CommandSpec, ConnCmd, Exec};
use crate::conn::Conn;
use crate::coord;
use crate::cx::{Cx, ThreadId};
use crate::db::Entry;
use crate::error::CmdError;
use crate::hop::{HopOp, HopResult, NodeResult, PatternFetch, Pending, Plan, TxPhase};
use crate::node::{shard_of, Flow, Node};
use crate::reply::Reply;
use crate::tx::{LockMode, LockSet};

/// Items grouped by the shard that owns them, shards in order of first appearance.
type ByShard<T> = Vec<(ThreadId, Vec<T>)>;

fn group_by_shard<T>(
    items: impl IntoIterator<Item = T>,
    owner: impl Fn(&T) -> ThreadId,
) -> ByShard<T> {
    let mut groups: ByShard<T> = Vec::new();
    for item in items {
        let to = owner(&item);
        match groups.iter_mut().find(|(t, _)| *t == to) {
            Some((_, list)) => list.push(item),
            None => groups.push((to, vec![item])),
        }
    }
    groups
}

/// What a connection queued since MULTI.
#[derive(Debug, Default)]
pub struct MultiQueue {
    pub cmds: Vec<(&'static CommandSpec, Argv)>,
    /// A command was rejected while queueing: EXEC answers EXECABORT.
    pub aborted: bool,
}

/// Whether a command given after MULTI is queued rather than run: all but the ones that steer
/// the transaction itself, as in Redis.
fn is_queued(spec: &CommandSpec) -> bool {
    !matches!(
        spec.exec,
        Exec::Multi(MultiCmd::Multi | MultiCmd::Exec | MultiCmd::Discard | MultiCmd::Watch)
            | Exec::Conn(ConnCmd::Quit | ConnCmd::Reset)
    )
}

/// Queues `argv` when the connection is inside MULTI (answering QUEUED or, for a command
/// refused inside transactions, an error that dooms it); else hands `argv` back.
pub(crate) fn queue_if_in_multi(
    conn: &mut Conn,
    spec: &'static CommandSpec,
    argv: Argv,
) -> Option<Argv> {
    let Some(queue) = &mut conn.multi else {
        return Some(argv);
    };
    if !is_queued(spec) {
        return Some(argv);
    }
    if spec.has(flag::NO_MULTI) {
        queue.aborted = true;
        let err =
            CmdError::NotAllowedInMulti("ERR Command not allowed inside a transaction".into());
        conn.encode(&Reply::Error(err));
        return None;
    }
    // Redis stops queueing once the transaction is doomed (EXEC discards it anyway), so what
    // comes after a refusal never counts as queued (see `refuse_for_memory`).
    if !queue.aborted {
        queue.cmds.push((spec, argv));
    }
    conn.encode(&Reply::simple("QUEUED"));
    None
}

pub(crate) fn run(
    node: &mut Node,
    conn: &mut Conn,
    cmd: MultiCmd,
    argv: Argv,
    cx: &mut Cx,
) -> Flow {
    let reply = match cmd {
        MultiCmd::Multi if conn.multi.is_some() => Reply::Error(CmdError::MultiNested),
        MultiCmd::Multi => {
            conn.multi = Some(MultiQueue::default());
            Reply::OK
        }
        MultiCmd::Discard if conn.multi.is_none() => Reply::Error(CmdError::DiscardWithoutMulti),
        MultiCmd::Discard => {
            discard(node, conn, cx);
            Reply::OK
        }
        MultiCmd::Watch if conn.multi.is_some() => Reply::Error(CmdError::WatchInsideMulti),
        MultiCmd::Watch => return start_watch(node, conn, &argv, cx),
        MultiCmd::Unwatch => {
            unwatch_all(node, conn, cx);
            Reply::OK
        }
        MultiCmd::Exec => match conn.multi.take() {
            None => Reply::Error(CmdError::ExecWithoutMulti),
            Some(queue) if queue.aborted => {
                unwatch_all(node, conn, cx);
                Reply::Error(CmdError::ExecAbort)
            }
            Some(queue) => return start_exec(node, conn, queue.cmds, cx),
        },
    };
    conn.encode(&reply);
    Flow::Next
}

/// Leaves MULTI (DISCARD, RESET) and ends every watch.
pub(crate) fn discard(node: &mut Node, conn: &mut Conn, cx: &mut Cx) {
    conn.multi = None;
    unwatch_all(node, conn, cx);
}

/// Ends every watch of the connection, on every shard that holds one; nobody waits for the
/// answers (hops from one thread to another arrive in order, so a later WATCH lands after).
pub(crate) fn unwatch_all(node: &mut Node, conn: &mut Conn, cx: &mut Cx) {
    let shards = watched_shards(node, conn);
    send_unwatch(node, conn, shards, cx);
    conn.watching.clear();
}

/// Whether an EXEC body holds a write Redis refuses when out of memory (then EXEC itself is
/// refused for memory, as one).
pub(crate) fn needs_memory(state: &ExecState) -> bool {
    any_denyoom(state.cmds.iter().map(|c| c.spec))
}

/// What an EXEC body's writes bring to `shard` at most (`CommandSpec::incoming_bytes`): its commands
/// that run there, and those run on copies (their stores may land anywhere).
pub(crate) fn incoming_bytes(state: &ExecState, shard: ThreadId) -> u64 {
    let lands_here = |c: &&QueuedCmd| match c.step {
        Step::OneShard(owner) => owner == shard,
        Step::Copies => true,
        Step::Node(_) | Step::AtConn => false,
    };
    let cmds = state.cmds.iter().filter(lands_here);
    cmds.map(|c| c.spec.incoming_bytes(&c.argv)).sum()
}

/// Whether any of these commands is one Redis refuses when out of memory (`denyoom`).
fn any_denyoom<'a>(specs: impl IntoIterator<Item = &'a CommandSpec>) -> bool {
    specs.into_iter().any(|s| s.has(flag::DENYOOM))
}

/// An EXEC refused for memory while scheduling: its watches end unchecked, as a discarded
/// transaction's do.
pub(crate) fn forget_watches(node: &mut Node, conn: &Conn, pending: &mut Pending, cx: &mut Cx) {
    let shards = std::mem::take(&mut exec_state(pending).check_watches);
    send_unwatch(node, conn, shards, cx);
}

/// Ends the connection's watches on `shards`; nobody waits for the answers.
fn send_unwatch(node: &mut Node, conn: &Conn, shards: Vec<ThreadId>, cx: &mut Cx) {
    for to in shards {
        let op = HopOp::Unwatch;
        node.send_hop(conn, to, coord::SEQ_NO_REPLY, None, vec![op], cx);
    }
}

/// Redis's memory step for a connection inside MULTI (processCommand): over `maxmemory`, every
/// command but EXEC, DISCARD, QUIT and RESET is refused and dooms the transaction, since queueing
/// takes memory too; EXEC of a doomed transaction is refused for memory when a write that needs
/// memory was queued before the refusal (a transaction that is not doomed is admitted on the
/// shards it writes when it is scheduled). Redis asks about the whole server; a connection here
/// asks its own thread's shard. True when it refused (the reply is written).
pub(crate) fn refuse_for_memory(
    node: &mut Node,
    conn: &mut Conn,
    spec: &CommandSpec,
    cx: &mut Cx,
) -> bool {
    let Some(queue) = &conn.multi else {
        return false;
    };
    if node.shard.budget_bytes().is_none() {
        return false;
    }
    let exec = matches!(spec.exec, Exec::Multi(MultiCmd::Exec));
    let exempt = match spec.exec {
        Exec::Multi(MultiCmd::Exec) => {
            !(queue.aborted && any_denyoom(queue.cmds.iter().map(|(s, _)| *s)))
        }
        Exec::Multi(MultiCmd::Discard) | Exec::Conn(ConnCmd::Quit | ConnCmd::Reset) => true,
        _ => false,
    };
    if exempt {
        return false;
    }
    let locked = crate::node::keys_in_transactions(&node.txq, cx);
    // Queueing writes nothing: only a shard already over its budget refuses.
    if node.shard.make_room(conn.db, &[], 0, locked) {
        return false;
    }
    let reply = if exec {
        discard(node, conn, cx);
        CmdError::ExecAbortOutOfMemory
    } else {
        conn.multi.as_mut().expect("in MULTI").aborted = true;
        CmdError::OutOfMemory
    };
    conn.encode(&Reply::Error(reply));
    true
}

fn watched_shards(node: &Node, conn: &Conn) -> Vec<ThreadId> {
    let mut shards: Vec<ThreadId> = conn
        .watching
        .iter()
        .map(|(_, key)| shard_of(key, node.threads))
        .collect();
    shards.sort();
    shards.dedup();
    shards
}

fn start_watch(node: &mut Node, conn: &mut Conn, argv: &Argv, cx: &mut Cx) -> Flow {
    let db = conn.db as u16;
    let mut fresh = Vec::new();
    for key in argv.iter().skip(1) {
        let pair = (db, key.to_vec());
        if !conn.watching.contains(&pair) {
            conn.watching.push(pair.clone());
            fresh.push(pair);
        }
    }
    let by_shard = group_by_shard(fresh, |(_, key)| shard_of(key, node.threads));
    let mut pending = Pending {
        seq: node.alloc_seq(),
        outstanding: 0,
        plan: Plan::Watch,
        tx: TxPhase::None,
    };
    for (to, keys) in by_shard {
        if node
            .send_hop(conn, to, pending.seq, None, vec![HopOp::Watch { keys }], cx)
            .is_none()
        {
            pending.outstanding += 1;
        }
    }
    coord::park_or_finish(node, conn, pending, cx)
}

/// How one queued command runs inside EXEC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// A keyed command whose keys all live on one shard.
    OneShard(ThreadId),
    /// A keyed command whose keys span shards: run on copies (fetch, run, store).
    Copies,
    /// A node-wide command.
    Node(cmd::NodeCmd),
    /// Runs at the connection: PING, ECHO, SELECT, CLIENT SETNAME, UNWATCH…
    AtConn,
}

fn classify(node: &Node, spec: &CommandSpec, argv: &Argv) -> Step {
    match spec.exec {
        Exec::Shard { .. } if coord::reads_pattern_keys(node, spec, argv) => Step::Copies,
        Exec::Shard { .. } => {
            let keys = spec.key_indexes(argv);
            let Some(first) = keys.first() else {
                return Step::OneShard(node.thread());
            };
            let owner = shard_of(&argv[*first], node.threads);
            // COPY … DB n and MOVE touch another database of the same shard: still one shard.
            if keys
                .iter()
                .all(|&i| shard_of(&argv[i], node.threads) == owner)
            {
                Step::OneShard(owner)
            } else {
                Step::Copies
            }
        }
        Exec::Node(cmd) => Step::Node(cmd),
        // A script whose declared keys all live on one shard runs there, in the body's batch
        // (the body locks everything); others run at the connection.
        Exec::Conn(ConnCmd::Script(cmd)) if cmd.runs_script() => {
            let keys = spec.key_indexes(argv);
            let owners: Vec<ThreadId> = keys
                .iter()
                .map(|&i| shard_of(&argv[i], node.threads))
                .collect();
            match owners.first() {
                Some(&owner) if owners.iter().all(|&o| o == owner) => Step::OneShard(owner),
                _ => Step::AtConn,
            }
        }
        Exec::Conn(cmd::ConnCmd::DebugSleep)
            if crate::node::commands::digest::is_digest_subcommand(argv) =>
        {
            Step::Node(cmd::NodeCmd::DebugDigest)
        }
        Exec::Conn(cmd::ConnCmd::DebugSleep)
            if crate::node::commands::server::is_set_active_expire(argv) =>
        {
            Step::Node(cmd::NodeCmd::DebugSetActiveExpire)
        }
        Exec::Conn(_) | Exec::Container | Exec::Multi(_) | Exec::PubSub(_) => Step::AtConn,
    }
}

/// A queued command, the database it runs in and how it runs.
#[derive(Debug)]
pub struct QueuedCmd {
    spec: &'static CommandSpec,
    argv: Argv,
    db: usize,
    step: Step,
}

/// EXEC ran its body: each queued command is a call (INFO commandstats), failed when it
/// answered an error. Their time is EXEC's (each is sampled as 0 µs).
fn count_exec_calls(node: &mut Node, conn: &Conn, cmds: &[QueuedCmd], replies: &[Reply], cx: &Cx) {
    let track = node.config.latency_tracking;
    let log_all = node.config.slowlog_log_slower_than_us == 0;
    for (cmd, reply) in cmds.iter().zip(replies) {
        if let Some(slot) = node.table.slot_of(cmd.spec) {
            let failed = matches!(reply, Reply::Error(_));
            node.observed.call(slot, 0, failed, track);
            if log_all {
                let args = crate::node::slowlog::kept_args(&cmd.argv);
                node.log_slow(conn, slot, args, 0, cx);
            }
        }
    }
}

/// EXEC's progress through its body.
#[derive(Debug)]
pub struct ExecState {
    cmds: Vec<QueuedCmd>,
    replies: Vec<Option<Reply>>,
    /// The first command not yet run.
    next: usize,
    /// Shards whose watches must be checked before the body runs.
    check_watches: Vec<ThreadId>,
    wave: Wave,
    /// The last wave concluded the transaction everywhere.
    concluded: bool,
    /// A watched key changed: the body does not run and EXEC answers nil.
    watch_failed: bool,
}

#[derive(Debug)]
enum Wave {
    Idle,
    CheckWatches,
    /// Squashed single-shard commands: for each shard, the commands it runs, in order.
    Batch {
        parts: Vec<(ThreadId, Vec<usize>)>,
    },
    /// Command `at` spans shards: its entries are being fetched (or stored when `stored`);
    /// `parts` says which of `keys` each shard fetches, in order.
    Copies {
        at: usize,
        keys: Vec<(u16, Vec<u8>)>,
        parts: Vec<(ThreadId, Vec<usize>)>,
        fetched: Vec<Option<Option<Entry>>>,
        stored: bool,
        /// The keys its patterns name are still to fetch (`Merge::Patterns`).
        patterns: PatternFetch,
    },
    /// Node-wide command `at`, one result per thread.
    Node {
        at: usize,
        results: Vec<(ThreadId, NodeResult)>,
    },
    /// Empty hops concluding the transaction.
    Conclude,
}

/// The database each queued command runs in: SELECT inside the body moves the later ones,
/// when it will succeed (it runs at the connection, in order).
fn with_dbs(node: &Node, conn: &Conn, cmds: Vec<(&'static CommandSpec, Argv)>) -> Vec<QueuedCmd> {
    let mut db = conn.db;
    cmds.into_iter()
        .map(|(spec, argv)| {
            let queued = QueuedCmd {
                spec,
                db,
                step: classify(node, spec, &argv),
                argv,
            };
            if let Exec::Conn(ConnCmd::Select) = spec.exec {
                if let Some(n) = cmd::args::parse_i64(&queued.argv[1])
                    .ok()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n < node.config.databases)
                {
                    db = n;
                }
            }
            queued
        })
        .collect()
}

fn start_exec(
    node: &mut Node,
    conn: &mut Conn,
    cmds: Vec<(&'static CommandSpec, Argv)>,
    cx: &mut Cx,
) -> Flow {
    let cmds = with_dbs(node, conn, cmds);
    let check_watches = watched_shards(node, conn);
    let watched = std::mem::take(&mut conn.watching);
    let mut shards: Vec<ThreadId> = cmds
        .iter()
        .filter_map(|c| match c.step {
            Step::OneShard(t) => Some(t),
            _ => None,
        })
        .collect();
    shards.sort();
    shards.dedup();
    // A body that writes with a memory limit is scheduled even on one shard: admission for
    // memory is taken when it is scheduled, for the whole body at once.
    let admit = node.shard.budget_bytes().is_some() && any_denyoom(cmds.iter().map(|c| c.spec));
    let needs_tx = !check_watches.is_empty()
        || admit
        || shards.len() > 1
        || cmds
            .iter()
            .any(|c| matches!(c.step, Step::Copies | Step::Node(_)) || is_script(c.spec));
    let state = ExecState {
        replies: vec![None; cmds.len()],
        cmds,
        next: 0,
        check_watches,
        wave: Wave::Idle,
        concluded: false,
        watch_failed: false,
    };
    let seq = node.alloc_seq();
    if !needs_tx {
        // One shard (or none): the body is one plain hop, atomic by itself.
        let mut pending = Pending {
            seq,
            outstanding: 0,
            plan: Plan::Exec(Box::new(state)),
            tx: TxPhase::None,
        };
        let reply = advance_exec(node, conn, &mut pending, cx);
        return finish(node, conn, pending, reply, cx);
    }
    let locks = exec_locks(node, &state, &watched);
    let mut pending = coord::pending_tx_with_seq(seq, Plan::Exec(Box::new(state)), locks);
    coord::schedule(node, conn, &mut pending, cx);
    coord::park_or_finish(node, conn, pending, cx)
}

fn finish(
    node: &mut Node,
    conn: &mut Conn,
    pending: Pending,
    reply: Option<Reply>,
    cx: &mut Cx,
) -> Flow {
    match reply {
        Some(reply) => {
            conn.encode(&reply);
            Flow::Next
        }
        None => coord::park_or_finish(node, conn, pending, cx),
    }
}

/// The intents EXEC takes: each command's keys (exclusive for writes) and the watched keys
/// (shared); everything on every shard when the body holds a node-wide command.
fn exec_locks(
    node: &Node,
    state: &ExecState,
    watched: &[(u16, Vec<u8>)],
) -> Vec<(ThreadId, LockSet)> {
    // A node-wide command, one reading keys named by patterns, or a script (which may reach
    // any key) locks every key.
    let everything = |c: &QueuedCmd| match c.step {
        Step::Node(_) => true,
        Step::Copies => coord::reads_pattern_keys(node, c.spec, &c.argv) || is_script(c.spec),
        Step::OneShard(_) | Step::AtConn => is_script(c.spec),
    };
    if state.cmds.iter().any(everything) {
        return coord::lock_everything(node);
    }
    let mut keys: Vec<(u16, Vec<u8>, LockMode)> = watched
        .iter()
        .map(|(db, key)| (*db, key.clone(), LockMode::Shared))
        .collect();
    for c in &state.cmds {
        if let Exec::Shard { merge, .. } = c.spec.exec {
            let mode = coord::lock_mode(c.spec);
            let touched = coord::command_keys(c.spec, merge, &c.argv, c.db);
            keys.extend(touched.into_iter().map(|(db, key)| (db, key, mode)));
        }
    }
    group_by_shard(keys, |(_, key, _)| shard_of(key, node.threads))
        .into_iter()
        .map(|(t, keys)| (t, LockSet::Keys(keys)))
        .collect()
}

fn is_script(spec: &CommandSpec) -> bool {
    matches!(spec.exec, Exec::Conn(ConnCmd::Script(_)))
}

fn tx_shards(pending: &Pending) -> Vec<ThreadId> {
    match &pending.tx {
        TxPhase::Running { shards, .. } => shards.clone(),
        TxPhase::None | TxPhase::Scheduling { .. } => Vec::new(),
    }
}

fn exec_state(pending: &mut Pending) -> &mut ExecState {
    let Plan::Exec(state) = &mut pending.plan else {
        unreachable!("an EXEC plan")
    };
    state
}

/// Sends `ops` to `to` as part of EXEC's wave; true when it ran at once (plain hop to this
/// thread's shard) and its results are folded already.
fn send(
    node: &mut Node,
    conn: &Conn,
    pending: &mut Pending,
    to: ThreadId,
    ops: Vec<HopOp>,
    conclude: bool,
    cx: &mut Cx,
) {
    let tx = coord::tx_hop(pending, conclude);
    match node.send_hop(conn, to, pending.seq, tx, ops, cx) {
        Some(results) => fold(pending, to, results),
        None => pending.outstanding += 1,
    }
}

/// Folds one shard's results into the wave under way.
pub(crate) fn fold(pending: &mut Pending, from: ThreadId, results: Vec<HopResult>) {
    let state = exec_state(pending);
    match &mut state.wave {
        Wave::Idle => unreachable!("EXEC results with no wave out"),
        Wave::CheckWatches => {
            for result in results {
                if let HopResult::WatchClean(false) = result {
                    state.watch_failed = true;
                }
            }
        }
        Wave::Batch { parts } => {
            // A shard in no part sent an empty concluding hop's answer.
            if let Some((_, positions)) = parts.iter().find(|(t, _)| *t == from) {
                for (&at, result) in positions.iter().zip(results) {
                    let reply = match result {
                        HopResult::Reply(reply) => reply,
                        // A script that reached beyond its shard's keys inside the body.
                        HopResult::ScriptRetry(job) => Reply::Error(CmdError::Relayed(format!(
                            "ERR a script inside MULTI reached a key of another thread script: {}",
                            job.sha
                        ))),
                        other => unreachable!("batch result {other:?}"),
                    };
                    state.replies[at] = Some(reply);
                }
            }
        }
        Wave::Copies {
            parts,
            fetched,
            stored,
            ..
        } => {
            if *stored {
                return;
            }
            let Some(HopResult::Entries(entries)) = results.into_iter().next() else {
                unreachable!("fetch result")
            };
            let (_, members) = parts.iter().find(|(t, _)| *t == from).expect("fetch part");
            for (&n, entry) in members.iter().zip(entries) {
                fetched[n] = Some(entry);
            }
        }
        Wave::Node { results: got, .. } => {
            for result in results {
                let HopResult::Node(r) = result else {
                    unreachable!("node op result")
                };
                got.push((from, r));
            }
        }
        Wave::Conclude => {}
    }
}

/// Runs EXEC forward while nothing is outstanding: the reply when done, None when a wave is
/// out.
pub(crate) fn advance_exec(
    node: &mut Node,
    conn: &mut Conn,
    pending: &mut Pending,
    cx: &mut Cx,
) -> Option<Reply> {
    loop {
        if pending.outstanding > 0 {
            return None;
        }
        let in_tx = matches!(pending.tx, TxPhase::Running { .. });
        let state = exec_state(pending);
        // Close the wave that came back.
        match std::mem::replace(&mut state.wave, Wave::Idle) {
            Wave::Copies {
                at,
                keys,
                fetched,
                stored: false,
                patterns,
                ..
            } => {
                if patterns == PatternFetch::Pending {
                    if let Some((keys, fetched)) =
                        fetch_pattern_copies(node, conn, pending, at, keys, fetched, cx)
                    {
                        store_copies(node, conn, pending, at, keys, fetched, cx);
                    }
                    continue;
                }
                store_copies(node, conn, pending, at, keys, fetched, cx);
                continue;
            }
            Wave::Node { at, results } => {
                let c = &state.cmds[at];
                let reply =
                    coord::finish_node_cmd(node, conn, node_cmd(c), &c.argv.clone(), results, cx);
                exec_state(pending).replies[at] = Some(reply);
            }
            Wave::Conclude => {}
            Wave::Idle | Wave::CheckWatches | Wave::Batch { .. } | Wave::Copies { .. } => {}
        }
        let state = exec_state(pending);
        let done = state.watch_failed
            || (state.check_watches.is_empty() && state.next == state.cmds.len());
        if done {
            if in_tx && !state.concluded {
                state.concluded = true;
                state.wave = Wave::Conclude;
                for to in tx_shards(pending) {
                    send(node, conn, pending, to, Vec::new(), true, cx);
                }
                continue;
            }
            conn.watching.clear();
            if state.watch_failed {
                return Some(Reply::NilArray);
            }
            let replies: Vec<Reply> = state
                .replies
                .drain(..)
                .map(|r| r.expect("every command ran"))
                .collect();
            count_exec_calls(node, conn, &state.cmds, &replies, cx);
            return Some(Reply::Array(replies));
        }
        if !state.check_watches.is_empty() {
            let shards = std::mem::take(&mut state.check_watches);
            state.wave = Wave::CheckWatches;
            for to in shards {
                send(node, conn, pending, to, vec![HopOp::CheckWatch], false, cx);
            }
            continue;
        }
        let at = state.next;
        match state.cmds[at].step {
            Step::AtConn => {
                let c = &state.cmds[at];
                let reply = match c.spec.exec {
                    Exec::Conn(ConnCmd::Script(script)) => {
                        let (argv, saved_db) = (c.argv.clone(), conn.db);
                        conn.db = c.db;
                        let ran = crate::node::script::run_in_exec(node, conn, script, &argv, cx);
                        conn.db = saved_db;
                        match ran {
                            Ok(reply) => reply,
                            Err(owner) => {
                                // It reached another shard's keys: it runs there instead.
                                exec_state(pending).cmds[at].step = Step::OneShard(owner);
                                continue;
                            }
                        }
                    }
                    _ => run_at_conn(node, conn, c, cx),
                };
                let state = exec_state(pending);
                state.replies[at] = Some(reply);
                state.next += 1;
            }
            Step::OneShard(_) => send_batch(node, conn, pending, in_tx, cx),
            Step::Copies => {
                let c = &state.cmds[at];
                let Exec::Shard { merge, .. } = c.spec.exec else {
                    unreachable!("copies of a keyed command")
                };
                let keys = coord::command_keys(c.spec, merge, &c.argv, c.db);
                let parts = group_by_shard(0..keys.len(), |&n| shard_of(&keys[n].1, node.threads));
                let fetches: ByShard<(u16, Vec<u8>)> = parts
                    .iter()
                    .map(|(t, members)| (*t, members.iter().map(|&n| keys[n].clone()).collect()))
                    .collect();
                state.next += 1;
                let patterns = if coord::reads_pattern_keys(node, c.spec, &c.argv) {
                    PatternFetch::Pending
                } else {
                    PatternFetch::Done
                };
                state.wave = Wave::Copies {
                    at,
                    fetched: vec![None; keys.len()],
                    keys,
                    parts,
                    stored: false,
                    patterns,
                };
                for (to, keys) in fetches {
                    send(
                        node,
                        conn,
                        pending,
                        to,
                        vec![HopOp::Fetch { keys }],
                        false,
                        cx,
                    );
                }
            }
            Step::Node(cmd) => {
                let c = &state.cmds[at];
                state.next += 1;
                match coord::plan_node(node, conn, cmd, &c.argv.clone()) {
                    Err(reply) => exec_state(pending).replies[at] = Some(reply),
                    Ok((op, targets)) => {
                        exec_state(pending).wave = Wave::Node {
                            at,
                            results: Vec::new(),
                        };
                        for to in targets {
                            send(
                                node,
                                conn,
                                pending,
                                to,
                                vec![HopOp::Node(op.clone())],
                                false,
                                cx,
                            );
                        }
                    }
                }
            }
        }
    }
}

fn node_cmd(c: &QueuedCmd) -> cmd::NodeCmd {
    match c.step {
        Step::Node(cmd) => cmd,
        other => unreachable!("{other:?} is not node-wide"),
    }
}

/// Squashes the run of single-shard commands from `next` into one hop per shard. When the run
/// ends the body, the same wave concludes the transaction on every shard.
fn send_batch(node: &mut Node, conn: &mut Conn, pending: &mut Pending, in_tx: bool, cx: &mut Cx) {
    let state = exec_state(pending);
    let start = state.next;
    let db = state.cmds[start].db;
    let mut parts: Vec<(ThreadId, Vec<usize>)> = Vec::new();
    let mut ops: Vec<(ThreadId, Vec<HopOp>)> = Vec::new();
    while state.next < state.cmds.len() {
        let c = &state.cmds[state.next];
        let Step::OneShard(owner) = c.step else { break };
        if c.db != db {
            break;
        }
        let (spec, argv) = (c.spec, c.argv.clone());
        let op = match spec.exec {
            // A script runs on its keys' shard as the hop it would be outside MULTI.
            Exec::Conn(ConnCmd::Script(cmd)) => {
                let saved_db = std::mem::replace(&mut conn.db, db);
                let job = crate::node::script::job_of(node, conn, cmd, &argv, cx);
                conn.db = saved_db;
                match job {
                    Ok(mut job) => {
                        job.in_exec = true;
                        HopOp::Script { job: Box::new(job) }
                    }
                    Err(reply) => {
                        state.replies[state.next] = Some(reply);
                        state.next += 1;
                        continue;
                    }
                }
            }
            _ => HopOp::Run {
                spec,
                argv,
                admit: false,
            },
        };
        match parts.iter().position(|(t, _)| *t == owner) {
            Some(i) => {
                parts[i].1.push(state.next);
                ops[i].1.push(op);
            }
            None => {
                parts.push((owner, vec![state.next]));
                ops.push((owner, vec![op]));
            }
        }
        state.next += 1;
    }
    let last = state.next == state.cmds.len();
    state.wave = Wave::Batch { parts };
    let conclude = in_tx && last;
    if conclude {
        state.concluded = true;
    }
    let saved_db = conn.db;
    conn.db = db; // the hop runs in the batch's database
    let mut sent = Vec::new();
    for (to, ops) in ops {
        sent.push(to);
        send(node, conn, pending, to, ops, conclude, cx);
    }
    if conclude {
        for to in tx_shards(pending).into_iter().filter(|t| !sent.contains(t)) {
            send(node, conn, pending, to, Vec::new(), true, cx);
        }
    }
    conn.db = saved_db;
}

/// A spanning command's second half: run it on the fetched copies, store what changed.
#[allow(clippy::too_many_arguments)]
fn store_copies(
    node: &mut Node,
    conn: &mut Conn,
    pending: &mut Pending,
    at: usize,
    keys: Vec<(u16, Vec<u8>)>,
    fetched: Vec<Option<Option<Entry>>>,
    cx: &mut Cx,
) {
    let now_ms = match pending.tx {
        TxPhase::Running { now_ms, .. } => now_ms,
        TxPhase::None | TxPhase::Scheduling { .. } => unreachable!("copies run in a transaction"),
    };
    let state = exec_state(pending);
    let c = &state.cmds[at];
    let (reply, changed) =
        coord::run_on_copies(node, c.db, c.spec, &c.argv, &keys, &fetched, now_ms, cx);
    state.replies[at] = Some(reply);
    state.wave = Wave::Copies {
        at,
        keys,
        parts: Vec::new(),
        fetched: Vec::new(),
        stored: true,
        patterns: PatternFetch::Done,
    };
    let by_shard = group_by_shard(changed, |change| shard_of(&change.1, node.threads));
    for (to, entries) in by_shard {
        send(
            node,
            conn,
            pending,
            to,
            vec![HopOp::Store { entries }],
            false,
            cx,
        );
    }
}

/// A pattern-reading command's second fetch inside EXEC: the keys its patterns name, from
/// their owners. Hands the keys and entries back when there is nothing more to fetch.
#[allow(clippy::type_complexity)]
fn fetch_pattern_copies(
    node: &mut Node,
    conn: &mut Conn,
    pending: &mut Pending,
    at: usize,
    mut keys: Vec<(u16, Vec<u8>)>,
    mut fetched: Vec<Option<Option<Entry>>>,
    cx: &mut Cx,
) -> Option<(Vec<(u16, Vec<u8>)>, Vec<Option<Option<Entry>>>)> {
    let state = exec_state(pending);
    let c = &state.cmds[at];
    let extra = coord::derived_keys(&c.argv, c.db, &keys, &fetched);
    if extra.is_empty() {
        return Some((keys, fetched));
    }
    let first_new = keys.len();
    keys.extend(extra);
    fetched.resize(keys.len(), None);
    let parts = group_by_shard(first_new..keys.len(), |&n| {
        shard_of(&keys[n].1, node.threads)
    });
    let fetches: ByShard<(u16, Vec<u8>)> = parts
        .iter()
        .map(|(t, members)| (*t, members.iter().map(|&n| keys[n].clone()).collect()))
        .collect();
    state.wave = Wave::Copies {
        at,
        keys,
        parts,
        fetched,
        stored: false,
        patterns: PatternFetch::Done,
    };
    for (to, keys) in fetches {
        send(
            node,
            conn,
            pending,
            to,
            vec![HopOp::Fetch { keys }],
            false,
            cx,
        );
    }
    None
}

/// A queued command that runs at the connection: its reply. DEBUG SLEEP inside EXEC answers
/// at once (the body is atomic; no time passes inside it).
fn run_at_conn(node: &mut Node, conn: &mut Conn, c: &QueuedCmd, cx: &mut Cx) -> Reply {
    let cmd = match c.spec.exec {
        Exec::Conn(ConnCmd::Script(_)) => unreachable!("scripts run in advance_exec"),
        Exec::Conn(cmd) => cmd,
        Exec::Container => cmd::server::bare_container_cmd(c.spec),
        Exec::Multi(MultiCmd::Unwatch) => return Reply::OK,
        Exec::Multi(other) => unreachable!("{other:?} is never queued"),
        // Redis lets SUBSCRIBE and PSUBSCRIBE run in EXEC (their frames go inside its array)
        // but not SSUBSCRIBE, which it denies to a client expecting one reply per command.
        Exec::PubSub(cmd::pubsub::SubCmd::SSubscribe) => {
            return Reply::Error(CmdError::DenyBlockingClient("SSUBSCRIBE"))
        }
        Exec::PubSub(sub) => {
            let mut frames = crate::node::pubsub::run_sub(node, conn, sub, &c.argv);
            return match frames.len() {
                1 => frames.pop().expect("one frame"),
                _ => Reply::Frames(frames),
            };
        }
        Exec::Shard { .. } | Exec::Node(_) => unreachable!("{} runs on shards", c.spec.name),
    };
    node.conn_cmd_reply(conn, cmd, &c.argv, cx)
}

#[cfg(test)]
mod tests;
