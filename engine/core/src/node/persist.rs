//! SAVE and BGSAVE: a point-in-time RDB snapshot of every shard, without fork and without
//! copying the dataset (DESIGN.md, "Snapshots"; papers/snapshots.md).
//!
//! 1. **The cut** is a node-wide transaction that locks everything (as FLUSHALL does): on each
//!    shard its hop starts the shard's snapshot (`Shard::start_snapshot`). Every shard cuts at
//!    the same point of the transaction order, so the cut is one state the node held.
//! 2. **Each shard serializes its own part** between commands, `SNAPSHOT_STEP_BUCKETS` buckets
//!    at a time (`step_shard`, after every step of the thread and on a timer while idle), into
//!    RDB chunks that each start with SELECTDB, and sends them to the save's **job**, on the
//!    thread that ran SAVE or BGSAVE. A write ahead of the walk keeps the key's cut value first
//!    (`db::snapshot`). At most `CHUNKS_IN_FLIGHT_MAX` chunks per shard await the disk: a shard
//!    that outruns the disk waits.
//! 3. **The job** writes the RDB header, the chunks as they come (CRC-64 over all of them),
//!    then EOF and the checksum, fsyncs, and renames the temporary file over `dir/dbfilename`,
//!    all as `Effect::Disk` operations. The outcome goes to every thread (LASTSAVE, INFO
//!    persistence, the changes since the last save), and to SAVE's client.
//!
//! A flush during the snapshot aborts it, as FLUSHALL kills Redis's save child; a disk error
//! fails it and removes the temporary file.
//!
//! **The schedule** (`save <seconds> <changes> ...`, Redis's serverCron rule): thread 0 checks
//! it on every expiry-sweep tick: a BGSAVE starts when some pair has at least `changes` writes
//! since the last save and more than `seconds` since it, unless the last background save
//! failed less than `BGSAVE_RETRY_DELAY_S` ago. Every thread reports its changes to thread 0 on
//! its own tick (`PersistMsg::Changes`), so the count is at most a tick old. The save and a
//! SIGTERM's shutdown (`Msg::Terminate`: SHUTDOWN's rules, so it saves first when a schedule is
//! set) run through the thread's **internal client** (`INTERNAL_CONN`), which no command lists
//! and whose replies go nowhere: cuts are transactions, and transactions are driven by a
//! connection.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::argv::Argv;
use crate::cmd::args::Args;
use crate::cmd::family::server::REDIS_VERSION_COMPAT;
use crate::cmd::NodeCmd;
use crate::conn::{Conn, ConnState};
use crate::cx::{ConnId, Cx, DiskOp, DiskOutcome, Effect, FileId, LogLevel, Msg, ThreadId, Timer};
use crate::db::snapshot::SNAPSHOT_STEP_BUCKETS;
use crate::error::CmdError;
use crate::hop::{NodeOp, NodeResult};
use crate::node::reload::{ReloadOpts, RELOAD_READ_FILE_BIT};
use crate::node::{Flow, Node};
use crate::rdb;
use crate::reply::Reply;

/// The internal client of each thread (schedule, SIGTERM): an id the driver never hands out.
pub const INTERNAL_CONN: ConnId = ConnId(u64::MAX);
/// Redis's CONFIG_BGSAVE_RETRY_DELAY: after a failed background save, the schedule waits this
/// long before trying again.
pub const BGSAVE_RETRY_DELAY_S: u64 = 5;

/// Chunks a shard may have on their way to the disk before it waits.
pub const CHUNKS_IN_FLIGHT_MAX: u32 = 4;
/// Steps that found nothing to write, walked through at once before the shard yields.
const EMPTY_STEPS_MAX: usize = 16;

/// Names a save: its job's thread and number there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct JobRef {
    pub thread: ThreadId,
    pub id: u64,
}

/// Messages between a save's job and the shards.
#[derive(Debug)]
pub enum PersistMsg {
    /// A shard's next chunk of the snapshot; `last` when it owes nothing more. `aborted`: a
    /// flush ended the shard's snapshot.
    Chunk {
        job: JobRef,
        from: ThreadId,
        bytes: Vec<u8>,
        last: bool,
        aborted: bool,
    },
    /// The job wrote a chunk of this shard's: it may send another.
    Ack { job: JobRef },
    /// A thread's writes since the last save, for thread 0's schedule.
    Changes { from: ThreadId, changes: u64 },
    /// The save is over, everywhere.
    Finished {
        job: JobRef,
        ok: bool,
        at_s: u64,
        bgsave: bool,
        seconds: u64,
    },
}

/// This thread's persistence state.
#[derive(Debug, Default)]
pub struct Persistence {
    /// This shard's part of a running snapshot.
    run: Option<ShardRun>,
    /// Saves this thread runs (SAVE or BGSAVE issued here).
    jobs: BTreeMap<u64, Job>,
    next_job: u64,
    /// The last successful save, unix seconds (0: never; INFO shows the start time then).
    pub last_save_s: u64,
    pub last_bgsave_ok: bool,
    pub last_bgsave_seconds: Option<u64>,
    /// The shard's `dirty` count at the last successful save's cut.
    pub dirty_at_last_save: u64,
    /// A save is under way on the node, as far as this thread knows (from the cut until the
    /// outcome arrives).
    pub saving_since_s: Option<u64>,
    /// DEBUG RELOADs reading the dump: their client and options, by read number.
    pub(crate) reloads: BTreeMap<u64, (ConnId, ReloadOpts)>,
    next_reload: u64,
    /// This thread's internal client, while no step has it checked out.
    internal: InternalSlot,
    /// Thread 0: each thread's last reported changes since the last save.
    changes_by_thread: BTreeMap<ThreadId, u64>,
    /// What this thread last reported (it reports only a change).
    changes_reported: Option<u64>,
    /// Thread 0: when the schedule last started a BGSAVE, unix seconds.
    last_bgsave_try_s: u64,
    /// A SIGTERM came while a save ran: stop (saving first) once it ends.
    terminate_pending: bool,
}

/// Where the internal client waits between steps.
#[derive(Default)]
struct InternalSlot(Option<Box<Conn>>);

impl std::fmt::Debug for InternalSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.0.as_ref().map(|conn| conn.is_ready());
        write!(f, "InternalSlot(ready: {state:?})")
    }
}

#[derive(Debug)]
struct ShardRun {
    job: JobRef,
    in_flight: u32,
    /// The last chunk went out.
    finished: bool,
    dirty_at_cut: u64,
}

#[derive(Debug)]
struct Job {
    file: FileId,
    final_path: String,
    crc: rdb::Crc64,
    /// Shards still sending chunks.
    shards_left: BTreeSet<ThreadId>,
    /// Whose chunk each outstanding append carries (`None`: the job's own bytes), in order.
    appends: VecDeque<Option<ThreadId>>,
    /// SAVE's client, answered at the end.
    waiter: Option<ConnId>,
    bgsave: bool,
    started_s: u64,
    failed: bool,
    /// EOF, sync and rename are issued.
    closing: bool,
    /// SHUTDOWN's save: stop when it is on disk (or, with FORCE, when it failed).
    shutdown_after: Option<bool>,
    /// DEBUG RELOAD's save: load the file back when it is on disk.
    reload_after: Option<ReloadOpts>,
    /// The cut concluded and the file is being written. Before that, chunks of shards that
    /// cut first wait in `early`.
    opened: bool,
    early: Vec<(ThreadId, Vec<u8>, bool, bool)>,
}

/// The file a save writes, under `dir`.
fn path_in_dir(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir == "." || name.starts_with('/') {
        name.to_string()
    } else {
        format!("{}/{name}", dir.trim_end_matches('/'))
    }
}

impl Persistence {
    pub fn new() -> Persistence {
        Persistence {
            last_bgsave_ok: true,
            ..Persistence::default()
        }
    }

    pub(crate) fn next_reload_id(&mut self) -> u64 {
        self.next_reload += 1;
        self.next_reload
    }
}

/// Where saves write and loads read: `dir/dbfilename`.
pub(crate) fn dump_path(node: &Node) -> String {
    path_in_dir(&node.config.dir, &node.config.dbfilename)
}

/// Whether a save runs on the node as this thread knows it.
pub(crate) fn in_progress(node: &Node) -> bool {
    node.persist.saving_since_s.is_some() || node.persist.run.is_some()
}

/// SAVE or BGSAVE [SCHEDULE]: the cut of a new job on this thread, or why not.
pub(crate) fn plan_save(node: &mut Node, cmd: NodeCmd, argv: &Argv) -> Result<NodeOp, Reply> {
    if cmd == NodeCmd::BgSave {
        // BGSAVE [SCHEDULE]: Redis checks the syntax first. SCHEDULE matters only while an
        // append-only rewrite runs, which never happens here.
        let mut args = Args::new(argv, 1);
        args.eat("SCHEDULE");
        args.finish().map_err(Reply::Error)?;
    }
    if in_progress(node) {
        return Err(Reply::Error(CmdError::SaveInProgress));
    }
    node.persist.next_job += 1;
    let job = JobRef {
        thread: node.thread,
        id: node.persist.next_job,
    };
    // The job exists before the cut: a shard that cuts first may send chunks at once.
    let final_path = dump_path(node);
    node.persist.jobs.insert(
        job.id,
        Job {
            file: FileId(job.id),
            final_path,
            crc: rdb::Crc64::new(),
            shards_left: (0..node.threads).map(ThreadId).collect(),
            appends: VecDeque::new(),
            waiter: None,
            bgsave: cmd == NodeCmd::BgSave,
            started_s: 0,
            failed: false,
            closing: false,
            shutdown_after: None,
            reload_after: None,
            opened: false,
            early: Vec::new(),
        },
    );
    Ok(NodeOp::SnapshotCut { job })
}

/// The `save` schedule's (seconds, changes) pairs; CONFIG SET and the flag validated them.
pub fn schedule(save: &str) -> Vec<(u64, u64)> {
    let numbers: Vec<u64> = save
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().expect("a validated save schedule"))
        .collect();
    numbers.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// Runs `start` with this thread's internal client checked out (created on first use); false
/// when it is still busy with an earlier command.
fn with_internal(
    node: &mut Node,
    cx: &mut Cx,
    start: impl FnOnce(&mut Node, &mut Conn, &mut Cx),
) -> bool {
    let mut conn = match node.persist.internal.0.take() {
        Some(conn) => conn,
        None => {
            let open = crate::cx::ConnOpen {
                conn: INTERNAL_CONN,
                peer_addr: String::new(),
                local_addr: String::new(),
                peer_is_loopback: true,
                clients_total: 0,
                fd: crate::cx::fake_fd(0),
                protocol: Default::default(),
            };
            let limits = node.config.resp_limits();
            let now = (cx.wall_ms(), cx.now_mono_us());
            Box::new(Conn::new(&open, true, limits, now))
        }
    };
    if !conn.is_ready() {
        node.persist.internal.0 = Some(conn);
        return false;
    }
    start(node, &mut conn, cx);
    check_in_internal(node, conn);
    true
}

/// The internal client, checked out for a hop's results.
pub(crate) fn take_internal(node: &mut Node) -> Option<Box<Conn>> {
    node.persist.internal.0.take()
}

/// The internal client comes back from a step: its replies go nowhere.
pub(crate) fn check_in_internal(node: &mut Node, mut conn: Box<Conn>) {
    conn.out.clear();
    node.persist.internal.0 = Some(conn);
}

/// Every thread's expiry tick, while a schedule is set: report this shard's changes since the
/// last save to thread 0 (when they changed), and on thread 0 check the schedule. Without a
/// schedule nothing is sent, so runs without one (the simulator's) see no extra messages.
pub(crate) fn on_tick(node: &mut Node, now_ms: u64, cx: &mut Cx) {
    if node.config.save.is_empty() {
        return;
    }
    let changes = node
        .shard
        .stats
        .dirty
        .saturating_sub(node.persist.dirty_at_last_save);
    if node.persist.changes_reported != Some(changes) {
        node.persist.changes_reported = Some(changes);
        let from = node.thread;
        cx.send(
            ThreadId(0),
            Msg::Persist(PersistMsg::Changes { from, changes }),
        );
    }
    if node.thread == ThreadId(0) {
        check_schedule(node, now_ms, cx);
    }
}

/// Redis's serverCron rule: the first pair whose changes and seconds have both passed starts a
/// BGSAVE, unless the last one failed less than `BGSAVE_RETRY_DELAY_S` ago.
fn check_schedule(node: &mut Node, now_ms: u64, cx: &mut Cx) {
    if node.config.save.is_empty() || in_progress(node) {
        return;
    }
    let now_s = now_ms / 1000;
    let since_save_s = now_s.saturating_sub(node.last_save_s());
    let changes: u64 = node.persist.changes_by_thread.values().sum();
    let may_try = node.persist.last_bgsave_ok
        || now_s.saturating_sub(node.persist.last_bgsave_try_s) > BGSAVE_RETRY_DELAY_S;
    let due = schedule(&node.config.save)
        .into_iter()
        .any(|(seconds, changes_min)| changes >= changes_min && since_save_s > seconds);
    if !(due && may_try) {
        return;
    }
    cx.push(Effect::Log {
        level: LogLevel::Verbose,
        text: "The save schedule is due: background saving started",
    });
    node.persist.last_bgsave_try_s = now_s;
    with_internal(node, cx, |node, conn, cx| {
        let argv = Argv::from_slices(&[b"BGSAVE"]);
        if let Ok(op) = plan_save(node, NodeCmd::BgSave, &argv) {
            let targets = (0..node.threads).map(ThreadId).collect();
            crate::coord::start_node_op(node, conn, NodeCmd::BgSave, argv, op, targets, cx);
        }
    });
}

/// SIGTERM or SIGINT (`Msg::Terminate`): SHUTDOWN without arguments, as Redis's signal
/// handler: with a schedule, save first and stay up when that fails; without, stop now. A save
/// already running finishes first.
pub(crate) fn on_terminate(node: &mut Node, cx: &mut Cx) {
    if node.config.save.is_empty() {
        cx.push(Effect::Shutdown);
        return;
    }
    let started = !in_progress(node)
        && with_internal(node, cx, |node, conn, cx| {
            let _flow = save_then_shutdown(node, conn, false, cx);
        });
    node.persist.terminate_pending = !started;
}

/// Plans a SAVE, lets `mark` say what its end does besides writing the file, and starts it;
/// the refusal when a save cannot start.
fn start_marked_save(
    node: &mut Node,
    conn: &mut Conn,
    mark: impl FnOnce(&mut Job),
    cx: &mut Cx,
) -> Result<Flow, Reply> {
    let argv = Argv::from_slices(&[b"SAVE"]);
    let op = plan_save(node, NodeCmd::Save, &argv)?;
    let job = node.persist.next_job;
    mark(node.persist.jobs.get_mut(&job).expect("planned"));
    let targets = (0..node.threads).map(ThreadId).collect();
    Ok(crate::coord::start_node_op(
        node,
        conn,
        NodeCmd::Save,
        argv,
        op,
        targets,
        cx,
    ))
}

/// SHUTDOWN that saves first: a SAVE whose end stops the node.
pub(crate) fn save_then_shutdown(
    node: &mut Node,
    conn: &mut Conn,
    force: bool,
    cx: &mut Cx,
) -> Flow {
    match start_marked_save(node, conn, |job| job.shutdown_after = Some(force), cx) {
        Ok(flow) => flow,
        Err(_) if force => {
            cx.push(Effect::Shutdown);
            conn.state = ConnState::Closing;
            Flow::Stop
        }
        Err(_) => {
            conn.encode(&Reply::Error(CmdError::ShutdownSaveFailed));
            Flow::Next
        }
    }
}

/// DEBUG RELOAD's save: a SAVE whose end loads the file back (`node::reload`).
pub(crate) fn save_then_reload(
    node: &mut Node,
    conn: &mut Conn,
    opts: ReloadOpts,
    cx: &mut Cx,
) -> Flow {
    match start_marked_save(node, conn, |job| job.reload_after = Some(opts), cx) {
        Ok(flow) => flow,
        Err(reply) => {
            conn.encode(&reply);
            Flow::Next
        }
    }
}

/// Every shard answered the cut: the job starts, or (some shard had a save running) the cut
/// is undone everywhere.
pub(crate) fn finish_cut(
    node: &mut Node,
    conn: &mut Conn,
    cmd: NodeCmd,
    results: Vec<(ThreadId, NodeResult)>,
    cx: &mut Cx,
) -> Reply {
    let accepted = results
        .iter()
        .all(|(_, r)| matches!(r, NodeResult::Count(1)));
    let job = JobRef {
        thread: node.thread,
        id: node.persist.next_job,
    };
    if !accepted {
        node.persist.jobs.remove(&job.id);
        abandon_cut(node, job, cx);
        return Reply::Error(CmdError::SaveInProgress);
    }
    let now_ms = cx.wall_ms();
    match cmd {
        NodeCmd::Save => {
            start_job(node, job, Some(conn.id), now_ms, cx);
            conn.state = ConnState::Sleeping;
            Reply::Frames(Vec::new())
        }
        _ => {
            start_job(node, job, None, now_ms, cx);
            Reply::simple("Background saving started")
        }
    }
}

/// The cut's hop on this shard: starts its part of `job`'s snapshot; false when a save already
/// runs here.
pub(crate) fn cut(node: &mut Node, job: JobRef, now_ms: u64, cx: &mut Cx) -> bool {
    if node.persist.run.is_some() || node.shard.snapshot_active() {
        return false;
    }
    node.shard.start_snapshot(now_ms);
    if cx.planted(crate::cx::Plant::SnapshotSkipsKeep) {
        node.shard.plant_snapshot_skips_keep();
    }
    node.persist.run = Some(ShardRun {
        job,
        in_flight: 0,
        finished: false,
        dirty_at_cut: node.shard.stats.dirty,
    });
    node.persist.saving_since_s.get_or_insert(now_ms / 1000);
    arm_step(cx);
    true
}

fn arm_step(cx: &mut Cx) {
    let at_mono_us = cx.now_mono_us();
    cx.push(Effect::ArmTimer {
        timer: Timer::SnapshotStep,
        at_mono_us,
    });
}

/// Every shard cut: the job starts writing. `waiter` is SAVE's client (BGSAVE answers at once).
pub(crate) fn start_job(
    node: &mut Node,
    job: JobRef,
    waiter: Option<ConnId>,
    now_ms: u64,
    cx: &mut Cx,
) {
    let temp_path = path_in_dir(
        &node.config.dir,
        &format!("temp-{}-{}.rdb", node.thread.0, job.id),
    );
    let mut header = Vec::new();
    let ctime = (now_ms / 1000).to_string();
    let used_mem = node.shard.used_memory_bytes().to_string();
    rdb::write_header(
        &mut header,
        &[
            ("redis-ver", REDIS_VERSION_COMPAT.as_bytes()),
            ("redis-bits", b"64"),
            ("ctime", ctime.as_bytes()),
            ("used-mem", used_mem.as_bytes()),
            ("aof-base", b"0"),
        ],
    );
    let j = node.persist.jobs.get_mut(&job.id).expect("the job");
    j.crc.update(&header);
    j.waiter = waiter;
    j.started_s = now_ms / 1000;
    j.opened = true;
    j.appends.extend([None, None]);
    cx.push(Effect::Disk {
        file: j.file,
        op: DiskOp::Create { path: temp_path },
    });
    cx.push(Effect::Disk {
        file: j.file,
        op: DiskOp::Append { bytes: header },
    });
    for (from, bytes, last, aborted) in std::mem::take(&mut j.early) {
        on_chunk(node, job, from, bytes, last, aborted, cx);
    }
}

/// Some shard refused the cut (a save already ran there): the shards that accepted drop it.
pub(crate) fn abandon_cut(node: &mut Node, job: JobRef, cx: &mut Cx) {
    for t in 0..node.threads {
        cx.send(
            ThreadId(t),
            Msg::Persist(PersistMsg::Finished {
                job,
                ok: false,
                at_s: 0,
                bgsave: false,
                seconds: 0,
            }),
        );
    }
}

/// This shard's next chunk, when its part of a snapshot runs and the disk keeps up. Runs after
/// every step of the thread and on `Timer::SnapshotStep`.
pub(crate) fn step_shard(node: &mut Node, cx: &mut Cx) {
    let Some(run) = node.persist.run.as_mut() else {
        return;
    };
    if run.finished || run.in_flight >= CHUNKS_IN_FLIGHT_MAX {
        return;
    }
    let job = run.job;
    let aborted = node.shard.snapshot_aborted();
    let mut bytes = Vec::new();
    let mut current_db: Option<u16> = None;
    let opts = rdb::EncodeOptions {
        compression: node.config.rdbcompression,
        list_fill: node.shard.limits.list.fill,
        stream: node.shard.limits.stream,
    };
    let mut done = false;
    // Sparse stretches of the table give empty steps: walk on a little before yielding.
    for _ in 0..EMPTY_STEPS_MAX {
        done = node
            .shard
            .snapshot_step(SNAPSHOT_STEP_BUCKETS, &mut |db, entry| {
                if current_db != Some(db) {
                    rdb::write_select_db(&mut bytes, u32::from(db));
                    current_db = Some(db);
                }
                rdb::write_entry_with(
                    &mut bytes,
                    entry.key(),
                    entry.value(),
                    entry.expire_at_ms(),
                    &opts,
                );
            });
        if done || !bytes.is_empty() {
            break;
        }
    }
    let run = node.persist.run.as_mut().expect("running");
    if bytes.is_empty() && !done {
        arm_step(cx);
        return;
    }
    run.in_flight += 1;
    run.finished = done;
    cx.send(
        job.thread,
        Msg::Persist(PersistMsg::Chunk {
            job,
            from: node.thread,
            bytes,
            last: done,
            aborted,
        }),
    );
    if !done {
        arm_step(cx);
    }
}

/// A persistence message for this thread.
pub(crate) fn on_msg(node: &mut Node, msg: PersistMsg, now_ms: u64, cx: &mut Cx) {
    match msg {
        PersistMsg::Chunk {
            job,
            from,
            bytes,
            last,
            aborted,
        } => on_chunk(node, job, from, bytes, last, aborted, cx),
        PersistMsg::Changes { from, changes } => {
            node.persist.changes_by_thread.insert(from, changes);
        }
        PersistMsg::Ack { job } => {
            if let Some(run) = node.persist.run.as_mut().filter(|r| r.job == job) {
                run.in_flight -= 1;
                step_shard(node, cx);
            }
        }
        PersistMsg::Finished {
            job,
            ok,
            at_s,
            bgsave,
            seconds,
        } => {
            if let Some(run) = node.persist.run.take_if(|r| r.job == job) {
                if ok {
                    node.persist.dirty_at_last_save = run.dirty_at_cut;
                }
                node.shard.abort_snapshot();
            }
            if at_s > 0 || !ok {
                node.persist.saving_since_s = None;
            }
            if ok {
                node.persist.last_save_s = at_s;
            }
            if bgsave && at_s > 0 {
                node.persist.last_bgsave_ok = ok;
                node.persist.last_bgsave_seconds = Some(seconds);
            }
            let _ = now_ms;
            if node.persist.terminate_pending && !in_progress(node) {
                on_terminate(node, cx);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn on_chunk(
    node: &mut Node,
    job: JobRef,
    from: ThreadId,
    bytes: Vec<u8>,
    last: bool,
    aborted: bool,
    cx: &mut Cx,
) {
    let Some(j) = node.persist.jobs.get_mut(&job.id) else {
        return;
    };
    if !j.opened {
        j.early.push((from, bytes, last, aborted));
        return;
    }
    if aborted {
        j.failed = true;
    }
    if !j.failed && !bytes.is_empty() {
        j.crc.update(&bytes);
        j.appends.push_back(Some(from));
        cx.push(Effect::Disk {
            file: j.file,
            op: DiskOp::Append { bytes },
        });
    } else {
        cx.send(from, Msg::Persist(PersistMsg::Ack { job }));
    }
    if last {
        j.shards_left.remove(&from);
    }
    maybe_close(node, job, cx);
}

/// Every shard sent its last chunk: EOF, checksum, fsync, rename (or, failed, remove).
fn maybe_close(node: &mut Node, job: JobRef, cx: &mut Cx) {
    let j = node.persist.jobs.get_mut(&job.id).expect("job");
    if j.closing || !j.shards_left.is_empty() {
        return;
    }
    j.closing = true;
    if j.failed {
        j.appends.push_back(None);
        cx.push(Effect::Disk {
            file: j.file,
            op: DiskOp::Discard,
        });
        return;
    }
    let mut tail = Vec::new();
    rdb::write_eof(&mut tail, j.crc.value());
    if !node.config.rdbchecksum {
        // Redis's `rdbchecksum no`: a zero checksum, which loaders take as "not checked".
        let sum_at = tail.len() - 8;
        tail[sum_at..].fill(0);
    }
    for op in [
        DiskOp::Append { bytes: tail },
        DiskOp::Sync,
        DiskOp::CloseAndRename {
            to: j.final_path.clone(),
        },
    ] {
        j.appends.push_back(None);
        cx.push(Effect::Disk { file: j.file, op });
    }
}

/// A disk operation of one of this thread's jobs finished.
pub(crate) fn on_disk_done(
    node: &mut Node,
    file: FileId,
    result: Result<DiskOutcome, String>,
    now_ms: u64,
    cx: &mut Cx,
) {
    if file.0 & RELOAD_READ_FILE_BIT != 0 {
        return crate::node::reload::on_read(node, file, result, cx);
    }
    let Some(j) = node.persist.jobs.get_mut(&file.0) else {
        return;
    };
    let job = JobRef {
        thread: node.thread,
        id: file.0,
    };
    let whose = j.appends.pop_front().flatten();
    if let Some(shard) = whose {
        cx.send(shard, Msg::Persist(PersistMsg::Ack { job }));
    }
    if let Err(_error) = result {
        if !j.failed {
            j.failed = true;
            cx.push(Effect::Log {
                level: LogLevel::Warning,
                text: "Failed saving the DB: a disk operation failed",
            });
        }
    }
    if !j.appends.is_empty() {
        return;
    }
    if !j.closing {
        // Everything written so far is on disk; a failed job waits for its last chunks.
        if j.failed && j.shards_left.is_empty() {
            maybe_close(node, job, cx);
        }
        return;
    }
    let j = node.persist.jobs.remove(&file.0).expect("job");
    let ok = !j.failed;
    let at_s = now_ms / 1000;
    if ok {
        cx.push(Effect::Log {
            level: LogLevel::Verbose,
            text: "DB saved on disk",
        });
    }
    for t in 0..node.threads {
        cx.send(
            ThreadId(t),
            Msg::Persist(PersistMsg::Finished {
                job,
                ok,
                at_s: at_s.max(1),
                bgsave: j.bgsave,
                seconds: at_s.saturating_sub(j.started_s),
            }),
        );
    }
    if let Some(force) = j.shutdown_after {
        if ok || force {
            cx.push(Effect::Shutdown);
            if let Some(id) = j.waiter {
                if let Some(conn) = node.conns.get_mut(&id) {
                    conn.state = ConnState::Closing;
                    node.run_conn(id, cx);
                }
            }
            return;
        }
        if let Some(waiter) = j.waiter {
            answer_waiter(node, waiter, Reply::Error(CmdError::ShutdownSaveFailed), cx);
        }
        return;
    }
    if let (Some(opts), Some(waiter), true) = (j.reload_after, j.waiter, ok) {
        if let Some(conn) = node.conns.get_mut(&waiter) {
            if matches!(conn.state, ConnState::Sleeping) {
                crate::node::reload::read_file(node, waiter, opts, cx);
            }
        }
        return;
    }
    if let Some(waiter) = j.waiter {
        let reply = if ok {
            Reply::OK
        } else {
            Reply::Error(CmdError::SaveFailed)
        };
        answer_waiter(node, waiter, reply, cx);
    }
}

/// SAVE's client gets its answer and runs on.
fn answer_waiter(node: &mut Node, id: ConnId, reply: Reply, cx: &mut Cx) {
    if id == INTERNAL_CONN {
        if let Some(conn) = node.persist.internal.0.as_mut() {
            conn.state = ConnState::Ready;
        }
        if matches!(reply, Reply::Error(CmdError::ShutdownSaveFailed)) {
            cx.push(Effect::Log {
                level: LogLevel::Warning,
                text: "Errors trying to shut down the server: the save failed; staying up",
            });
        }
        return;
    }
    let Some(conn) = node.conns.get_mut(&id) else {
        return;
    };
    if matches!(conn.state, ConnState::Sleeping) {
        conn.state = ConnState::Ready;
        conn.encode(&reply);
        node.run_conn(id, cx);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::db::{StrRef, ValueRef};
    use crate::rdb::{LoadCx, RdbReader, Record};
    use crate::testkit::TestCluster;

    /// (db, key) → string value, for the string keys of a dump.
    fn strings_in(dump: &[u8]) -> BTreeMap<(u32, Vec<u8>), Vec<u8>> {
        let mut reader = RdbReader::new();
        reader.push(dump);
        reader.finish_input();
        let mut db = 0;
        let mut out = BTreeMap::new();
        let cx = LoadCx::default();
        loop {
            match reader.next_record(&cx).expect("a valid dump") {
                Some(Record::SelectDb(n)) => db = n,
                Some(Record::Entry { key, value, .. }) => {
                    let ValueRef::Str(s) = value.as_ref() else {
                        continue;
                    };
                    let bytes = match s {
                        StrRef::Int(n) => n.to_string().into_bytes(),
                        StrRef::Bytes { bytes, .. } => bytes.to_vec(),
                    };
                    assert!(out.insert((db, key), bytes).is_none(), "a key twice");
                }
                Some(Record::Eof) | None => break,
                Some(_) => {}
            }
        }
        out
    }

    /// SAVE writes every shard's keys of every database into one RDB file that reads back
    /// equal; LASTSAVE and INFO follow; BGSAVE answers at once and its snapshot is the state
    /// at the command, whatever is written while it runs.
    #[test]
    fn save_and_bgsave_write_the_cut_of_every_shard() {
        for threads in [1, 3] {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let other = c.connect(threads - 1);
            c.advance_ms(5_000);
            for n in 0..300 {
                c.cmd(conn, &["SET", &format!("k{n}"), &format!("v{n}")]);
            }
            c.cmd(conn, &["SELECT", "2"]);
            c.cmd(conn, &["SET", "in2", "x"]);
            c.cmd(conn, &["RPUSH", "list", "a", "b"]);
            let info = c.cmd_text(other, &["INFO", "persistence"]);
            assert!(
                info.contains("rdb_changes_since_last_save:302\r\n"),
                "{info}"
            );
            assert_eq!(c.cmd_text(conn, &["SAVE"]), "+OK\r\n", "{threads} threads");
            let dump = c.disk.contents("dump.rdb").expect("a dump").to_vec();
            let saved = strings_in(&dump);
            assert_eq!(saved.len(), 301);
            assert_eq!(saved[&(0, b"k7".to_vec())], b"v7");
            assert_eq!(saved[&(2, b"in2".to_vec())], b"x");
            let info = c.cmd_text(other, &["INFO", "persistence"]);
            assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
            assert!(info.contains("rdb_bgsave_in_progress:0\r\n"), "{info}");
            let lastsave = c.cmd_text(other, &["LASTSAVE"]);
            assert_ne!(lastsave, ":0\r\n");

            // BGSAVE: the writes after it (in the same pipeline of steps) are not in it.
            c.cmd(conn, &["SELECT", "0"]);
            assert_eq!(
                c.cmd_text(conn, &["BGSAVE"]),
                "+Background saving started\r\n"
            );
            for n in 0..300 {
                c.cmd(other, &["SET", &format!("k{n}"), "changed"]);
            }
            c.cmd(other, &["FLUSHDB"]);
            c.advance_ms(10);
            let dump = c.disk.contents("dump.rdb").expect("a dump").to_vec();
            let saved = strings_in(&dump);
            assert_eq!(saved.len(), 301);
            assert_eq!(saved[&(0, b"k7".to_vec())], b"v7", "the cut value");
            let info = c.cmd_text(other, &["INFO", "persistence"]);
            assert!(info.contains("rdb_last_bgsave_status:ok\r\n"), "{info}");
        }
    }

    /// BGSAVE inside MULTI cuts at its place in the body: what the body wrote before it is in
    /// the file, what it writes after is not, as Redis's fork at that point.
    #[test]
    fn bgsave_inside_exec_cuts_at_its_place_in_the_body() {
        for threads in [1, 3] {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            c.cmd(conn, &["MULTI"]);
            c.cmd(conn, &["SET", "a", "before"]);
            c.cmd(conn, &["BGSAVE"]);
            c.cmd(conn, &["SET", "a", "after"]);
            c.cmd(conn, &["SET", "b", "after"]);
            assert_eq!(
                c.cmd_text(conn, &["EXEC"]),
                "*4\r\n+OK\r\n+Background saving started\r\n+OK\r\n+OK\r\n"
            );
            c.advance_ms(10);
            let saved = strings_in(c.disk.contents("dump.rdb").expect("a dump"));
            assert_eq!(saved.len(), 1, "{threads} threads");
            assert_eq!(saved[&(0, b"a".to_vec())], b"before");
        }
    }

    /// Moves the clock on a sweep tick at a time, so reports reach thread 0 between checks.
    fn ticks(c: &mut TestCluster, ms: u64) {
        for _ in 0..ms / 100 {
            c.advance_ms(100);
        }
    }

    /// The schedule on a virtual clock: no save before a rule's seconds have passed or below
    /// its changes; then a BGSAVE, counted over every shard's writes; after a failed one, a
    /// retry only `BGSAVE_RETRY_DELAY_S` later.
    #[test]
    fn the_schedule_saves_when_a_rule_is_met() {
        let config = crate::config::Config {
            save: "10 3".into(),
            ..crate::config::Config::default()
        };
        let mut c = TestCluster::with_config(3, config);
        let conn = c.connect(0);
        for key in ["a", "b"] {
            c.cmd(conn, &["SET", key, "v"]);
        }
        ticks(&mut c, 12_000);
        assert!(
            c.disk.contents("dump.rdb").is_none(),
            "two changes of three"
        );
        c.cmd(conn, &["SET", "c", "v"]);
        ticks(&mut c, 1_000);
        assert!(c.disk.contents("dump.rdb").is_some(), "three changes, 13 s");
        let info = c.cmd_text(conn, &["INFO", "persistence"]);
        assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");

        c.disk.failing = Some("No space left on device".into());
        for key in ["d", "e", "f"] {
            c.cmd(conn, &["SET", key, "v"]);
        }
        ticks(&mut c, 11_000);
        let info = c.cmd_text(conn, &["INFO", "persistence"]);
        assert!(info.contains("rdb_last_bgsave_status:err\r\n"), "{info}");
        c.disk.failing = None;
        ticks(&mut c, 2_000);
        let info = c.cmd_text(conn, &["INFO", "persistence"]);
        assert!(
            info.contains("rdb_last_bgsave_status:err\r\n"),
            "waits: {info}"
        );
        ticks(&mut c, 5_000);
        let info = c.cmd_text(conn, &["INFO", "persistence"]);
        assert!(
            info.contains("rdb_last_bgsave_status:ok\r\n"),
            "retried: {info}"
        );
        assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
    }

    /// A second save while one runs is refused with Redis's error; a disk error fails the save
    /// (SAVE answers -ERR, INFO says err) and leaves no temporary file.
    #[test]
    fn busy_and_failing_saves() {
        let mut c = TestCluster::new(2);
        let (a, b) = (c.connect(0), c.connect(1));
        for n in 0..2000 {
            c.cmd(a, &["SET", &format!("k{n}"), "v"]);
        }
        c.disk.failing = Some("No space left on device".into());
        assert_eq!(c.cmd_text(a, &["SAVE"]), "-ERR\r\n");
        assert_eq!(c.cmd_text(a, &["BGSAVE"]), "+Background saving started\r\n");
        let info = c.cmd_text(b, &["INFO", "persistence"]);
        assert!(info.contains("rdb_last_bgsave_status:err\r\n"), "{info}");
        c.disk.failing = None;
        assert_eq!(
            c.cmd_text(a, &["BGSAVE", "SCHEDULE"]),
            "+Background saving started\r\n"
        );
        assert_eq!(c.cmd_text(b, &["BGSAVE", "NOW"]), "-ERR syntax error\r\n");
        c.advance_ms(10);
        assert!(c.disk.contents("dump.rdb").is_some());
    }
}
