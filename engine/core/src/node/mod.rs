//! A node thread's engine: one shard plus the connections hosted on this thread. The driver
//! feeds it `Msg`s through `on_msg`; it answers with effects pushed to `Cx`.
//!
//! Routing: a key belongs to shard `shard_of(key) % threads` (the `{hashtag}` if there is one).
//! A command whose keys all live here runs at once, inside the step that decoded it: no txid, no
//! message. Otherwise the connection sends a hop and waits; consecutive pipelined commands for
//! the same remote shard ride in one hop, and when they mix with commands for this shard the
//! batch runs as one transaction in one round trip (`pipeline.rs`). Multi-key commands split
//! by shard (MGET, MSET, DEL…)
//! or, for the rest, run on copies gathered from the owning shards (`Merge::Gather`).

pub mod aof;
pub mod blocking;
pub mod commands;
pub mod conn;
pub mod coord;
pub mod cx;
pub mod durability;
pub mod histogram;
pub mod hop;
pub mod journal;
pub mod memcache;
pub mod memdisk;
pub mod multi;
pub mod observe;
pub mod persist;
pub mod pipeline;
pub mod pubsub;
pub mod reload;
pub mod replay;
pub mod script;
pub mod slowlog;

use xxhash_rust::xxh3::xxh3_64;

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::cmd::{CommandSpec, CommandTable, Exec, Merge, StatSlot};
use crate::config::Config;
use crate::conn::{Conn, ConnState, ConnTable, LookedUp, OUTPUT_PENDING_RESUME_BYTES};
use crate::cx::{ConnId, ConnOpen, Cx, Effect, Msg, Plant, ThreadId, Timer};
use crate::error::CmdError;
use crate::hop::{Hop, HopDone, HopOp, HopResult, Pending, Plan, TxHop, TxPhase, TxTime};
use crate::node::commands::server::{self, ConnCx, ConnOutcome, ServerInfo};
use crate::reply::Reply;
use crate::shard::{Shard, SWEEP_INTERVAL_US};
use crate::tx::{LockMode, LockSet, RunnableWatch, TxQueue};

/// Commands squashed into one hop at most.
pub const SQUASH_COMMANDS_MAX: usize = 64;

/// Which keys eviction must leave alone: those a queued transaction holds intents on (see
/// `Shard::admit`).
pub(crate) fn keys_in_transactions<'q>(
    txq: &'q TxQueue<Hop>,
    cx: &Cx,
) -> impl Fn(u16, &[u8]) -> bool + 'q {
    let planted = cx.planted(Plant::EvictLockedKeys);
    move |db, key| !planted && txq.blocks(db, key, LockMode::Exclusive)
}

/// The part of a key that picks its shard: the first non-empty `{…}` section, else the key.
pub fn hash_slot_key(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// The thread whose shard owns `key`. Unseeded on purpose: every thread and every run must agree.
pub fn shard_of(key: &[u8], threads: u16) -> ThreadId {
    if threads == 1 {
        return ThreadId(0);
    }
    ThreadId((xxh3_64(hash_slot_key(key)) % u64::from(threads)) as u16)
}

/// Node-wide counters this thread keeps (INFO stats, clients).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeCounters {
    pub connections_received: u64,
    pub commands_processed: u64,
    pub rejected_connections: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// Hops sent to another thread's shard (each a message there and a reply back).
    pub hops_sent: u64,
    /// Reads handed to the engine (Redis's `total_reads_processed`).
    pub reads_processed: u64,
    /// Writes the engine asked for (Redis's `total_writes_processed`).
    pub writes_processed: u64,
}

pub struct Node {
    pub(crate) thread: ThreadId,
    pub(crate) threads: u16,
    pub(crate) config: Config,
    pub(crate) server: ServerInfo,
    pub(crate) table: CommandTable,
    pub(crate) shard: Shard,
    pub(crate) conns: ConnTable,
    pub(crate) counters: NodeCounters,
    /// This shard's VLL transaction queue and intent locks.
    pub(crate) txq: TxQueue<Hop>,
    /// Who subscribes to what among this thread's connections.
    pub(crate) pubsub: pubsub::Registry,
    /// Clients blocked on this shard's keys (BLPOP…).
    pub(crate) waiters: blocking::Waiters,
    pub(crate) persist: persist::Persistence,
    /// On thread 0 while a journal runs: the writer joining every shard's records.
    pub journal_writer: Option<journal::JournalWriter>,
    /// On thread 0 with `appendonly yes`: the append-only file (`aof`).
    pub aof: Option<aof::Aof>,
    /// Under `appendfsync always`: output held until the writes before it are durable.
    pub(crate) gate: durability::Gate,
    /// The active expiry sweep runs (DEBUG SET-ACTIVE-EXPIRE switches it, as Redis's).
    pub(crate) active_expire: bool,
    /// This thread's Lua state and script cache (`script`).
    pub(crate) scripting: script::Scripting,
    /// Blocking notices for this thread's own blocked clients, handled once the step's work
    /// is done, as Redis answers unblocked clients after the command that served them.
    pub(crate) deliveries: std::collections::VecDeque<HopDone>,
    next_seq: u64,
    /// Rate limit of the cross-protocol attack warning.
    security_warning: server::LogLimiter,
    /// The argv commands decode into: its buffers serve command after command, so a command
    /// that runs here allocates none (one that travels takes it, and the next starts afresh).
    argv: Argv,
    /// Commands and errors this thread counted (INFO commandstats, errorstats, latencystats).
    pub(crate) observed: observe::Observed,
    /// Instantaneous ops and network rates, sampled on the sweep timer.
    pub(crate) rates: observe::Rates,
    /// This thread's part of SLOWLOG.
    pub(crate) slowlog: slowlog::SlowLog,
}

/// A command that failed before its handler, and its row when it has one (an unknown command
/// has none): Redis counts it as that command's rejected call.
pub(crate) struct Refused {
    pub err: CmdError,
    pub slot: Option<StatSlot>,
}

/// How dispatching one command counts in INFO commandstats.
enum Dispatched {
    /// It ran (or started: its hops are out).
    Called(StatSlot),
    /// Refused before its handler.
    Rejected(StatSlot),
    /// Not a command with a row (unknown), or not run yet (queued in MULTI).
    Uncounted,
}

/// What dispatching one command led to.
pub(crate) enum Flow {
    /// The reply is in the connection's output; go on with the next command.
    Next,
    /// The connection waits (hops in flight, sleeping) or is closing.
    Stop,
}

impl Node {
    pub fn new(
        thread: ThreadId,
        threads: u16,
        config: Config,
        server: ServerInfo,
        seed: u64,
    ) -> Node {
        assert!(thread.0 < threads, "thread {thread:?} of {threads}");
        let mut shard = Shard::new(config.databases, seed);
        shard.set_memory_limits(config.maxmemory_bytes, threads, config.maxmemory_policy);
        shard.limits = config.collection_limits();
        Node {
            thread,
            threads,
            config,
            server,
            table: CommandTable::new(),
            shard,
            conns: ConnTable::default(),
            counters: NodeCounters::default(),
            txq: TxQueue::default(),
            pubsub: pubsub::Registry::default(),
            waiters: blocking::Waiters::default(),
            persist: persist::Persistence::new(),
            journal_writer: None,
            aof: None,
            gate: durability::Gate::default(),
            active_expire: true,
            scripting: script::Scripting::default(),
            deliveries: std::collections::VecDeque::new(),
            next_seq: 1,
            security_warning: server::LogLimiter::default(),
            argv: Argv::new(),
            observed: observe::Observed::default(),
            rates: observe::Rates::default(),
            slowlog: slowlog::SlowLog::default(),
        }
    }

    /// Arms the periodic timers; the driver calls this once before the first message.
    pub fn start(&mut self, cx: &mut Cx) {
        let at_mono_us = cx.now_mono_us() + SWEEP_INTERVAL_US;
        cx.push(Effect::ArmTimer {
            timer: Timer::ExpirySweep,
            at_mono_us,
        });
        if self.config.appendonly {
            // Every thread journals from its first step; thread 0 writes the file.
            self.start_journal();
            if self.thread == journal::WRITER_THREAD {
                aof::start(self, cx);
            }
        }
    }

    pub fn thread(&self) -> ThreadId {
        self.thread
    }

    pub fn shard(&self) -> &Shard {
        &self.shard
    }

    pub fn shard_mut(&mut self) -> &mut Shard {
        &mut self.shard
    }

    /// The transaction queue, for failure reports.
    pub fn tx_queue_len(&self) -> usize {
        self.txq.len()
    }

    pub fn tx_queue_summary(&self) -> String {
        format!("{:?}", self.txq)
    }

    /// Logs what happens to waiters served on this shard (`blocking::WaiterEvent`).
    pub fn log_waiters(&mut self) {
        self.waiters.log = Some(Vec::new());
    }

    pub fn waiter_log(&self) -> &[blocking::WaiterEvent] {
        self.waiters.log.as_deref().unwrap_or_default()
    }

    pub fn conns_len(&self) -> usize {
        self.conns.len()
    }

    /// The last successful save, unix seconds (the start time before any).
    pub(crate) fn last_save_s(&self) -> u64 {
        match self.persist.last_save_s {
            0 => self.server.started_wall_ms / 1000,
            s => s,
        }
    }

    pub fn on_msg(&mut self, msg: Msg, cx: &mut Cx) {
        // A queued transaction may read at a time before this shard's clock: a read now must
        // not delete a key it still sees alive (seed 18038).
        self.shard.set_keep_expired(!self.txq.is_empty());
        match msg {
            Msg::ConnOpen(open) => self.on_conn_open(open, cx),
            Msg::ConnData { conn, bytes } => {
                self.on_conn_data(conn, &bytes, cx);
                cx.recycle_buffer(bytes);
            }
            Msg::ConnWritten { conn, bytes_len } => self.on_conn_written(conn, bytes_len, cx),
            Msg::ConnInputEnded { conn } => self.on_conn_input_ended(conn, cx),
            Msg::ConnClosed { conn } => self.on_conn_closed(conn, cx),
            Msg::Timer(timer) => self.on_timer(timer, cx),
            Msg::Hop(hop) => self.on_hop(hop, cx),
            Msg::HopDone(done) => self.on_hop_done(done, cx),
            Msg::Persist(msg) => {
                let now_ms = cx.wall_ms();
                persist::on_msg(self, msg, now_ms, cx);
            }
            Msg::Terminate => persist::on_terminate(self, cx),
            Msg::DiskDone { file, result } => {
                let now_ms = cx.wall_ms();
                if aof::owns(file) {
                    aof::on_disk_done(self, file, result, cx);
                } else {
                    persist::on_disk_done(self, file, result, now_ms, cx);
                }
            }
            Msg::Journal {
                from,
                ticket,
                items,
            } => journal::on_items(self, from, ticket, items, cx),
            Msg::JournalDurable { ticket } => self.gate.durable(ticket, cx),
        }
        // What this step made ready and did not serve yet (a transaction's keys, now free),
        // then this thread's served clients (whose next commands may make more keys ready).
        loop {
            blocking::serve_ready(self, cx);
            let Some(done) = self.deliveries.pop_front() else {
                break;
            };
            self.on_hop_done(done, cx);
        }
        persist::step_shard(self, cx);
        journal::end_of_step(self, cx);
        self.gate.end_step(cx);
        if cx.verify() {
            self.check_invariants();
        }
    }

    /// Starts journaling this shard's changes; on thread 0, also the writer that joins every
    /// shard's journal. Every thread of the node must start it in the same state (before any
    /// command, or inside a node-wide cut).
    pub fn start_journal(&mut self) {
        self.shard.start_journal();
        if self.thread == journal::WRITER_THREAD && self.journal_writer.is_none() {
            self.journal_writer = Some(journal::JournalWriter::new(self.threads));
        }
    }

    pub fn check_invariants(&self) {
        self.shard.check_invariants();
        self.waiters.check_invariants(&self.shard);
        assert!(
            self.deliveries.is_empty(),
            "blocking notices left unhandled"
        );
        self.txq.check_invariants();
        self.pubsub.check_invariants(self.conns.values());
        for conn in self.conns.values() {
            assert!(
                conn.out.is_empty(),
                "conn {:?}: output left unflushed after a step",
                conn.id
            );
            if let ConnState::Waiting(pending) = &conn.state {
                let awaits_runnable = matches!(
                    &pending.tx,
                    TxPhase::Scheduling { refused: false, not_runnable, .. } if !not_runnable.is_empty()
                );
                assert!(
                    pending.outstanding > 0 || awaits_runnable,
                    "conn {:?} waits for nothing",
                    conn.id
                );
            }
        }
    }

    fn on_conn_open(&mut self, open: ConnOpen, cx: &mut Cx) {
        self.counters.connections_received += 1;
        let authenticated = self.config.requirepass.is_none();
        let mut conn = Conn::new(
            &open,
            authenticated,
            self.config.resp_limits(),
            (cx.wall_ms(), cx.now_mono_us()),
        );
        if let Some(refusal) = server::refuse_connection(&self.config, &open) {
            self.counters.rejected_connections += 1;
            conn.encode(&Reply::Error(refusal));
            let bytes = std::mem::take(&mut conn.out);
            cx.push(Effect::Write {
                conn: open.conn,
                bytes,
            });
            cx.push(Effect::Close { conn: open.conn });
            return;
        }
        self.conns.insert(Box::new(conn));
    }

    fn on_conn_data(&mut self, id: ConnId, bytes: &[u8], cx: &mut Cx) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        self.counters.net_input_bytes += bytes.len() as u64;
        self.counters.reads_processed += 1;
        conn.last_interaction_mono_us = cx.now_mono_us();
        conn.feed(bytes);
        self.run_conn(id, cx);
    }

    fn on_conn_written(&mut self, id: ConnId, bytes_len: usize, cx: &mut Cx) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.out_pending_bytes = conn.out_pending_bytes.saturating_sub(bytes_len);
        conn.last_interaction_mono_us = cx.now_mono_us();
        // Only a connection that stopped reading may have something to resume; for the others
        // (nearly every write) this is bookkeeping alone.
        if !conn.reading && conn.out_pending_bytes < OUTPUT_PENDING_RESUME_BYTES {
            self.run_conn(id, cx);
        }
    }

    fn on_timer(&mut self, timer: Timer, cx: &mut Cx) {
        match timer {
            Timer::ExpirySweep => {
                // A scheduled transaction reads its keys at its one time, which may be earlier
                // than this shard's clock: sweeping at the clock could delete a key it must
                // still see alive (seed 18038). So while transactions are queued, sweep only
                // what is due at the earliest time any of them can read.
                let now_ms = self.shard.observe_time_ms(cx.wall_ms());
                let sweep_at_ms = self
                    .txq
                    .earliest_read_ms()
                    .map_or(now_ms, |t| t.min(now_ms));
                if self.active_expire {
                    self.shard.sweep_expired(sweep_at_ms);
                }
                persist::on_tick(self, now_ms, cx);
                self.shard.note_peak();
                self.sample_rates(cx.now_mono_us());
                commands::client::close_idle(&mut self.conns, self.config.timeout_s, cx);
                let at_mono_us = cx.now_mono_us() + SWEEP_INTERVAL_US;
                cx.push(Effect::ArmTimer {
                    timer: Timer::ExpirySweep,
                    at_mono_us,
                });
            }
            Timer::BlockTimeout { conn: id, seq } => {
                let Some(mut conn) = self.conns.take(&id) else {
                    return;
                };
                if blocking::time_out(self, &mut conn, seq, cx) {
                    self.run_taken_conn(conn, cx);
                } else {
                    self.conns.put_back(conn);
                }
            }
            Timer::SnapshotStep => persist::step_shard(self, cx),
            Timer::AofFsync => aof::on_fsync_timer(self, cx),
            Timer::ConnWake(id) => {
                let Some(conn) = self.conns.get_mut(&id) else {
                    return;
                };
                if matches!(conn.state, ConnState::Sleeping) {
                    conn.state = ConnState::Ready;
                    conn.encode(&Reply::OK);
                    self.run_conn(id, cx);
                }
            }
        }
    }

    /// Runs the connection's commands until it must wait, runs dry or backs up, then flushes
    /// this step's replies as one write.
    /// The peer went away. A command in flight finishes first: a transaction it scheduled
    /// must run and conclude on every shard (there is no rollback), or its intents would block
    /// those keys forever. The connection is dropped once it has nothing in flight.
    fn on_conn_closed(&mut self, id: ConnId, cx: &mut Cx) {
        let Some(mut conn) = self.conns.take(&id) else {
            return;
        };
        crate::multi::unwatch_all(self, &mut conn, cx);
        pubsub::unsubscribe_all(self, &mut conn);
        blocking::forget(self, &conn, cx);
        if let ConnState::Waiting(_) = conn.state {
            conn.peer_gone = true;
            self.conns.put_back(conn);
        } else {
            self.conns.remove(&id);
        }
    }

    /// The peer will send nothing more: run what it sent (`run_taken_conn` closes once the
    /// input is used up), unless the connection is closing anyway.
    fn on_conn_input_ended(&mut self, id: ConnId, cx: &mut Cx) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if matches!(conn.state, ConnState::Closing) {
            return;
        }
        if matches!(conn.state, ConnState::Blocked(_)) {
            // A blocked client that hung up is gone (Redis frees it): nothing it sent after
            // the blocking command runs.
            let Some(mut conn) = self.conns.take(&id) else {
                return;
            };
            blocking::forget(self, &conn, cx);
            conn.state = ConnState::Closing;
            self.conns.put_back(conn);
            cx.push(Effect::Close { conn: id });
            return;
        }
        conn.input_ended = true;
        self.run_conn(id, cx);
    }

    /// Runs a connection checked out of `conns` that is ready again (unblocked).
    pub(crate) fn resume(&mut self, conn: Box<Conn>, cx: &mut Cx) {
        self.run_taken_conn(conn, cx);
    }

    fn run_conn(&mut self, id: ConnId, cx: &mut Cx) {
        let Some(conn) = self.conns.take(&id) else {
            return;
        };
        self.run_taken_conn(conn, cx);
    }

    /// `run_conn` for a connection already checked out of `conns`; checks it back in.
    fn run_taken_conn(&mut self, mut conn: Box<Conn>, cx: &mut Cx) {
        if conn.peer_gone {
            // Nobody is left to read replies: drop it once nothing is in flight.
            if let ConnState::Waiting(_) = conn.state {
                self.conns.put_back(conn);
            } else {
                self.conns.remove(&conn.id);
            }
            return;
        }
        if conn.out.capacity() == 0 {
            conn.out = cx.take_buffer();
        }
        let mut argv = std::mem::take(&mut self.argv);
        let mut drained = false;
        while conn.is_ready() && !conn.output_backed_up() {
            if let Some(stashed) = conn.stashed.take() {
                argv = stashed;
            } else {
                match conn.next_command_into(&mut argv) {
                    Ok(true) => {}
                    Ok(false) => {
                        drained = true;
                        break;
                    }
                    Err(err) => {
                        conn.encode(&Reply::Error(CmdError::Protocol(err.0)));
                        conn.state = ConnState::Closing;
                        break;
                    }
                }
            }
            let flow = self.dispatch(&mut conn, &mut argv, cx);
            // Redis serves blocked clients after each command, before the next one runs.
            blocking::serve_ready(self, cx);
            if let Flow::Stop = flow {
                break;
            }
        }
        self.argv = argv;
        if drained && conn.input_ended {
            // Every whole command the peer sent has run; a partial one never will.
            conn.state = ConnState::Closing;
        }
        self.flush(&mut conn, cx);
        self.conns.put_back(conn);
    }

    fn flush(&mut self, conn: &mut Conn, cx: &mut Cx) {
        self.count_errors(conn);
        let bytes = std::mem::take(&mut conn.out);
        let gate_active = durability::gate_active(&self.config);
        if bytes.is_empty() {
            cx.recycle_buffer(bytes);
        } else {
            conn.out_pending_bytes += bytes.len();
            self.counters.net_output_bytes += bytes.len() as u64;
            self.counters.writes_processed += 1;
            let write = Effect::Write {
                conn: conn.id,
                bytes,
            };
            self.gate.emit(gate_active, cx, conn.id, write);
        }
        if matches!(conn.state, ConnState::Closing) {
            let close = Effect::Close { conn: conn.id };
            self.gate.emit(gate_active, cx, conn.id, close);
            return;
        }
        let wants = conn.wants_input();
        if wants != conn.reading {
            conn.reading = wants;
            cx.push(Effect::ReadInterest {
                conn: conn.id,
                enabled: wants,
            });
        }
    }

    fn sample_rates(&mut self, now_us: u64) {
        let c = &self.counters;
        self.rates.ops.sample(c.commands_processed, now_us);
        self.rates.input_bytes.sample(c.net_input_bytes, now_us);
        self.rates.output_bytes.sample(c.net_output_bytes, now_us);
    }

    /// Adds a command to this thread's slow log, unless its row says never to (EXEC).
    pub(crate) fn log_slow(
        &mut self,
        conn: &Conn,
        slot: StatSlot,
        mut args: Vec<Vec<u8>>,
        duration_us: u64,
        cx: &Cx,
    ) {
        let spec = self.table.slots()[slot.0 as usize];
        if spec.has(crate::cmd::flag::SKIP_SLOWLOG) {
            return;
        }
        slowlog::redact(spec.name, &mut args);
        let entry = slowlog::SlowEntry {
            id: cx.next_slowlog_id(),
            time_s: cx.wall_ms() / 1000,
            duration_us,
            args,
            peer_addr: conn.peer_addr.clone(),
            client_name: conn.attrs.name.clone().unwrap_or_default(),
        };
        self.slowlog.push(entry, self.config.slowlog_max_len);
    }

    /// Errors the connection encoded since the last count: by code, and as failed calls of
    /// its latest command when they came after its dispatch (from another shard).
    fn count_errors(&mut self, conn: &mut Conn) {
        if conn.errors.codes.is_empty() {
            return;
        }
        for code in conn.errors.codes.drain(..) {
            self.observed.error_reply(&code);
        }
        if conn.errors.encoded > conn.errors.charged {
            conn.errors.charged = conn.errors.encoded;
            if let Some(slot) = conn.errors.last_slot {
                self.observed.failed_later(slot);
            }
        }
    }

    /// Looks the command up and checks what Redis checks before any handler: name, arity,
    /// authentication. Gives the command's row for INFO commandstats too.
    fn resolve_slot(
        &self,
        conn: &Conn,
        argv: &Argv,
    ) -> Result<(StatSlot, &'static CommandSpec), Refused> {
        let name = &argv[0];
        let repeated = conn.last_looked_up.get().filter(|last| last.is(name));
        let Some((mut slot, mut spec)) =
            repeated.map(|last| (last.slot, last.spec)).or_else(|| {
                let (slot, spec) = self.table.lookup_slot(name)?;
                conn.last_looked_up.set(LookedUp::new(name, slot, spec));
                Some((slot, spec))
            })
        else {
            let args = argv.iter().skip(1).map(<[u8]>::to_vec).collect();
            let err = CmdError::UnknownCommand {
                name: argv[0].to_vec(),
                args,
            };
            return Err(Refused { err, slot: None });
        };
        let refused = |err: CmdError, slot: StatSlot| Refused {
            err,
            slot: Some(slot),
        };
        // A container needs a subcommand unless its arity allows none (COMMAND alone).
        let container = matches!(spec.exec, Exec::Container);
        if container && (argv.len() >= 2 || !spec.arity_ok(1)) {
            if argv.len() < 2 {
                return Err(refused(CmdError::WrongArity(spec.name.into()), slot));
            }
            let container = crate::cmd::server::container_name(spec);
            (slot, spec) = self.table.subcommand_slot(slot, &argv[1]).ok_or_else(|| {
                let err = CmdError::UnknownSubcommand {
                    sub: argv[1].to_vec(),
                    container,
                };
                Refused { err, slot: None }
            })?;
        }
        if !spec.arity_ok(argv.len()) {
            return Err(refused(CmdError::WrongArity(spec.name.into()), slot));
        }
        if !conn.authenticated && !spec.has(crate::cmd::flag::NO_AUTH) {
            return Err(refused(CmdError::NoAuth, slot));
        }
        Ok((slot, spec))
    }

    /// Runs one command and counts it (INFO commandstats): its time on this thread, and
    /// whether it replied with an error while dispatching.
    fn dispatch(&mut self, conn: &mut Conn, argv: &mut Argv, cx: &mut Cx) -> Flow {
        if conn.memcache.is_some() {
            // Memcached's commands have no row in the table, so no INFO commandstats line.
            return memcache::dispatch(self, conn, argv, cx);
        }
        if !self.config.command_stats {
            return self.dispatch_command(conn, argv, cx).0;
        }
        let started_us = cx.stopwatch_us();
        let errors_before = conn.errors.encoded;
        let threshold_us = self.config.slowlog_log_slower_than_us;
        // Every command goes to the slow log: keep its arguments before it travels.
        let args_before = (threshold_us == 0).then(|| slowlog::kept_args(argv));
        let (flow, outcome) = self.dispatch_command(conn, argv, cx);
        match outcome {
            Dispatched::Called(slot) => {
                let duration_us = cx.stopwatch_us().saturating_sub(started_us);
                let failed = conn.errors.encoded > errors_before;
                if failed {
                    conn.errors.charged = conn.errors.encoded;
                }
                let track = self.config.latency_tracking;
                self.observed.call(slot, duration_us, failed, track);
                if slowlog::is_slow(threshold_us, duration_us) {
                    // A command that finished here still holds its arguments.
                    let args = args_before.or_else(|| {
                        (conn.is_ready() && !argv.is_empty()).then(|| slowlog::kept_args(argv))
                    });
                    if let Some(args) = args {
                        self.log_slow(conn, slot, args, duration_us, cx);
                    }
                }
            }
            Dispatched::Rejected(slot) => {
                conn.errors.charged = conn.errors.encoded;
                self.observed.rejected(slot);
            }
            Dispatched::Uncounted => conn.errors.charged = conn.errors.encoded,
        }
        flow
    }

    /// Runs one command. A command that must travel or wait takes `argv`, leaving it empty.
    fn dispatch_command(
        &mut self,
        conn: &mut Conn,
        argv: &mut Argv,
        cx: &mut Cx,
    ) -> (Flow, Dispatched) {
        // Two short compares: a name of another length is rejected at once.
        if server::is_cross_protocol_attack(&argv[0]) {
            return (self.refuse_cross_protocol(conn, cx), Dispatched::Uncounted);
        }
        self.counters.commands_processed += 1;
        conn.commands_processed += 1;
        conn.last_cmd_ms = cx.wall_ms();
        let (slot, spec) = match self.resolve_slot(conn, argv) {
            Ok(found) => found,
            Err(Refused { err, slot }) => {
                // A command rejected while queueing dooms the transaction (EXECABORT).
                if let Some(queue) = &mut conn.multi {
                    queue.aborted = true;
                }
                conn.encode(&Reply::Error(err));
                let outcome = slot.map_or(Dispatched::Uncounted, Dispatched::Rejected);
                return (Flow::Next, outcome);
            }
        };
        conn.last_cmd = spec.name;
        conn.errors.last_slot = Some(slot);
        if conn.resp == crate::resp::RespVersion::Resp2
            && conn.subs.active()
            && !pubsub::allowed_while_subscribed(spec.name)
        {
            conn.encode(&Reply::Error(CmdError::PubSubContext(spec.name)));
            return (Flow::Next, Dispatched::Rejected(slot));
        }
        if conn.multi.is_some() {
            if crate::multi::refuse_for_memory(self, conn, spec, cx) {
                return (Flow::Next, Dispatched::Rejected(slot));
            }
            // Queued commands keep their argv; outside MULTI the decoding buffer stays put.
            let Some(unqueued) = crate::multi::queue_if_in_multi(conn, spec, std::mem::take(argv))
            else {
                // Queued: counted when EXEC runs it, as Redis counts it.
                return (Flow::Next, Dispatched::Uncounted);
            };
            *argv = unqueued;
        }
        (
            self.run_spec(conn, spec, argv, cx),
            Dispatched::Called(slot),
        )
    }

    fn run_spec(
        &mut self,
        conn: &mut Conn,
        spec: &'static CommandSpec,
        argv: &mut Argv,
        cx: &mut Cx,
    ) -> Flow {
        match spec.exec {
            Exec::Multi(cmd) => crate::multi::run(self, conn, cmd, std::mem::take(argv), cx),
            Exec::Conn(crate::cmd::ConnCmd::Reset) => {
                crate::multi::discard(self, conn, cx);
                pubsub::unsubscribe_all(self, conn);
                self.run_conn_cmd(conn, crate::cmd::ConnCmd::Reset, argv, cx)
            }
            Exec::Conn(crate::cmd::ConnCmd::DebugSleep)
                if crate::node::commands::digest::is_digest_subcommand(argv) =>
            {
                let cmd = crate::cmd::NodeCmd::DebugDigest;
                self.start_node_cmd(conn, cmd, std::mem::take(argv), cx)
            }
            Exec::Conn(crate::cmd::ConnCmd::DebugSleep) if server::is_debug_object(argv) => {
                let spec = &crate::cmd::keyspace::DEBUG_OBJECT;
                let run = crate::cmd::object::debug_object;
                self.run_keyed(conn, spec, run, Merge::OneKey, argv, cx)
            }
            Exec::Conn(crate::cmd::ConnCmd::DebugSleep) if reload::is_reload_subcommand(argv) => {
                reload::start(self, conn, argv, cx)
            }
            Exec::Conn(crate::cmd::ConnCmd::DebugSleep) if server::is_set_active_expire(argv) => {
                let cmd = crate::cmd::NodeCmd::DebugSetActiveExpire;
                self.start_node_cmd(conn, cmd, std::mem::take(argv), cx)
            }
            Exec::Conn(crate::cmd::ConnCmd::Script(cmd)) => {
                script::start(self, conn, cmd, std::mem::take(argv), cx)
            }
            Exec::Conn(cmd) => self.run_conn_cmd(conn, cmd, argv, cx),
            Exec::Node(cmd @ (crate::cmd::NodeCmd::Publish | crate::cmd::NodeCmd::SPublish)) => {
                pubsub::start_publish(self, conn, cmd, std::mem::take(argv), cx)
            }
            Exec::Node(cmd) => self.start_node_cmd(conn, cmd, std::mem::take(argv), cx),
            Exec::PubSub(cmd) => {
                for frame in pubsub::run_sub(self, conn, cmd, argv) {
                    conn.encode(&frame);
                }
                Flow::Next
            }
            // A blocking command the framework knows how to serve (`cmd::blocking::lookup`);
            // one it does not yet runs its attempt only, as inside MULTI.
            Exec::Shard { .. }
                if spec.has(crate::cmd::flag::BLOCKING)
                    && crate::cmd::blocking::of_call(spec, argv).is_some() =>
            {
                blocking::start(self, conn, spec, argv, cx)
            }
            Exec::Shard { run, merge } => self.run_keyed(conn, spec, run, merge, argv, cx),
            Exec::Container => {
                let cmd = crate::cmd::server::bare_container_cmd(spec);
                self.run_conn_cmd(conn, cmd, argv, cx)
            }
        }
    }

    /// HTTP sent to us (a browser tricked into it, say): as Redis, answer nothing more, not
    /// even the replies of this read, run nothing more, close, and warn (rate-limited).
    fn refuse_cross_protocol(&mut self, conn: &mut Conn, cx: &mut Cx) -> Flow {
        conn.out.clear();
        conn.state = ConnState::Closing;
        if self.security_warning.allow(cx.now_mono_us()) {
            cx.push(Effect::Log {
                level: crate::cx::LogLevel::Warning,
                text: server::SECURITY_ATTACK_WARNING,
            });
        }
        Flow::Stop
    }

    /// Runs a connection command against this node's config and server state.
    fn conn_outcome(
        &mut self,
        conn: &mut Conn,
        cmd: crate::cmd::ConnCmd,
        argv: &Argv,
        cx: &mut Cx,
    ) -> ConnOutcome {
        let last_save_s = self.last_save_s();
        let mut ccx = ConnCx {
            conn,
            config: &mut self.config,
            server: &self.server,
            table: &self.table,
            threads: self.threads,
            last_save_s,
            cx,
        };
        server::run_conn_cmd(cmd, &mut ccx, argv)
    }

    fn run_conn_cmd(
        &mut self,
        conn: &mut Conn,
        cmd: crate::cmd::ConnCmd,
        argv: &Argv,
        cx: &mut Cx,
    ) -> Flow {
        match self.conn_outcome(conn, cmd, argv, cx) {
            ConnOutcome::Reply(reply) => {
                conn.encode(&reply);
                Flow::Next
            }
            ConnOutcome::Close(reply) => {
                conn.encode(&reply);
                conn.state = ConnState::Closing;
                Flow::Stop
            }
            ConnOutcome::Sleep { duration_us } => {
                conn.state = ConnState::Sleeping;
                let at_mono_us = cx.now_mono_us() + duration_us;
                cx.push(Effect::ArmTimer {
                    timer: Timer::ConnWake(conn.id),
                    at_mono_us,
                });
                Flow::Stop
            }
            ConnOutcome::Shutdown => {
                cx.push(Effect::Shutdown);
                conn.state = ConnState::Closing;
                Flow::Stop
            }
            ConnOutcome::SaveThenShutdown { force } => {
                persist::save_then_shutdown(self, conn, force, cx)
            }
        }
    }

    /// A connection command run inside EXEC: its reply. Nothing waits inside an atomic body,
    /// so DEBUG SLEEP answers at once; QUIT and RESET are never queued.
    pub(crate) fn conn_cmd_reply(
        &mut self,
        conn: &mut Conn,
        cmd: crate::cmd::ConnCmd,
        argv: &Argv,
        cx: &mut Cx,
    ) -> Reply {
        match self.conn_outcome(conn, cmd, argv, cx) {
            ConnOutcome::Reply(reply) | ConnOutcome::Close(reply) => reply,
            ConnOutcome::Sleep { .. } => Reply::OK,
            // SHUTDOWN is never queued (NO_MULTI).
            ConnOutcome::Shutdown | ConnOutcome::SaveThenShutdown { .. } => {
                cx.push(Effect::Shutdown);
                conn.state = ConnState::Closing;
                Reply::OK
            }
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Sends a hop. Outside a transaction, a hop for this thread's own shard runs at once and
    /// returns its results, unless a transaction's intents lock one of its keys. A transaction's
    /// hops always travel as messages: they may have to wait in the shard's queue.
    pub(crate) fn send_hop(
        &mut self,
        conn: &Conn,
        to: ThreadId,
        seq: u64,
        tx: Option<TxHop>,
        ops: Vec<HopOp>,
        cx: &mut Cx,
    ) -> Option<Vec<HopResult>> {
        let now_ms = match tx {
            Some(TxHop {
                time: TxTime::At(at_ms),
                ..
            }) => at_ms,
            _ => cx.wall_ms(),
        };
        let db = conn.db as u16;
        if to == self.thread && tx.is_none() && !self.hop_blocked(db, &ops) {
            let now_ms = self.shard.observe_time_ms(now_ms);
            let origin = RunnableWatch {
                thread: self.thread,
                conn: conn.id,
                seq,
            };
            let results = ops
                .into_iter()
                .map(|op| self.run_hop_op(db, now_ms, op, origin, Some(conn), cx));
            return Some(results.collect());
        }
        if to != self.thread && cx.planted(Plant::DropMessage) && cx.random_u64().is_multiple_of(8)
        {
            cx.mark("plant.drop_message");
            return None;
        }
        let hop = Hop {
            from: self.thread,
            conn: conn.id,
            seq,
            db,
            now_ms,
            tx,
            ops,
        };
        if to != self.thread {
            self.counters.hops_sent += 1;
        }
        cx.send(to, Msg::Hop(hop));
        None
    }

    /// The intents a hop needs: exclusive for writes, shared for reads and for WATCH.
    pub(crate) fn run_locks(db: u16, ops: &[HopOp]) -> Vec<(u16, Vec<u8>, LockMode)> {
        let mut locks = Vec::new();
        for op in ops {
            match op {
                HopOp::Run { spec, argv, .. } | HopOp::RunOrBlock { spec, argv } => {
                    let mode = if spec.has(crate::cmd::flag::WRITE) {
                        LockMode::Exclusive
                    } else {
                        LockMode::Shared
                    };
                    for i in spec.key_indexes(argv) {
                        locks.push((db, argv[i].to_vec(), mode));
                    }
                }
                HopOp::Script { job } => {
                    let mode = if job.read_only {
                        LockMode::Shared
                    } else {
                        LockMode::Exclusive
                    };
                    locks.extend(job.keys.iter().map(|k| (db, k.clone(), mode)));
                }
                // WATCH reads whether its keys live: behind a queued transaction that writes
                // them, or a multi-shard write would be seen whole on one shard and not yet on
                // another, and its own write would then spoil the watch (seed 141809).
                HopOp::Watch { keys } => {
                    locks.extend(
                        keys.iter()
                            .map(|(db, key)| (*db, key.clone(), LockMode::Shared)),
                    );
                }
                _ => {}
            }
        }
        locks
    }

    /// Whether plain (non-transaction) ops must wait behind a transaction's intents.
    pub(crate) fn hop_blocked(&self, db: u16, ops: &[HopOp]) -> bool {
        if self.txq.is_empty() {
            return false;
        }
        Self::run_locks(db, ops)
            .iter()
            .any(|(db, key, mode)| self.txq.blocks(*db, key, *mode))
    }

    /// A keyed command: at once when its keys are here, else by hop(s).
    fn run_keyed(
        &mut self,
        conn: &mut Conn,
        spec: &'static CommandSpec,
        run: crate::cmd::ShardFn,
        merge: Merge,
        argv: &mut Argv,
        cx: &mut Cx,
    ) -> Flow {
        if let Some(flow) = self.run_one_key(conn, spec, run, argv, cx) {
            return flow;
        }
        if crate::coord::reads_pattern_keys(self, spec, argv) {
            let argv = std::mem::take(argv);
            return crate::coord::start_pattern_gather(self, conn, spec, argv, cx);
        }
        let key_indexes = spec.key_indexes(argv);
        let Some(&first_index) = key_indexes.first() else {
            // A keynum spec that finds no key (SINTERCARD 0 a): the handler answers the error.
            let reply = self.exec_here(conn.db, spec, run, argv, cx);
            conn.encode(&reply);
            return Flow::Next;
        };
        let first = shard_of(&argv[first_index], self.threads);
        let single = key_indexes
            .iter()
            .all(|&i| shard_of(&argv[i], self.threads) == first);
        let blocked = !self.txq.is_empty() && {
            let mode = if spec.has(crate::cmd::flag::WRITE) {
                LockMode::Exclusive
            } else {
                LockMode::Shared
            };
            key_indexes
                .iter()
                .any(|&i| self.txq.blocks(conn.db as u16, &argv[i], mode))
        };
        if single && first == self.thread && !blocked {
            let locked = keys_in_transactions(&self.txq, cx);
            let reply = match self.shard.admit(conn.db, || spec.admission(argv), locked) {
                Ok(()) => self.exec_here(conn.db, spec, run, argv, cx),
                Err(oom) => Reply::Error(oom),
            };
            conn.encode(&reply);
            return Flow::Next;
        }
        if single {
            return self.send_batch(conn, first, spec, argv, cx);
        }
        let argv = std::mem::take(argv);
        match merge {
            Merge::OneKey => unreachable!("{} has one key", spec.name),
            Merge::SumInts | Merge::AllOk | Merge::KeyOrder => {
                crate::coord::start_split(self, conn, spec, merge, argv, &key_indexes, cx)
            }
            Merge::Gather(dbs) => crate::coord::start_gather(self, conn, spec, dbs, argv, None, cx),
            Merge::Patterns => {
                let dbs = crate::cmd::GatherDbs::Current;
                crate::coord::start_gather(self, conn, spec, dbs, argv, None, cx)
            }
        }
    }

    /// A one-key command, the common case, with no allocation when it runs here: at once when
    /// its key lives on this shard and is not behind a transaction's intents, else in a batch
    /// to the owning shard. `None` when the command has other than one key.
    fn run_one_key(
        &mut self,
        conn: &mut Conn,
        spec: &'static CommandSpec,
        run: crate::cmd::ShardFn,
        argv: &mut Argv,
        cx: &mut Cx,
    ) -> Option<Flow> {
        let key = &argv[spec.only_key_index(argv.len())?];
        let owner = shard_of(key, self.threads);
        let blocked = !self.txq.is_empty() && {
            let mode = if spec.has(crate::cmd::flag::WRITE) {
                LockMode::Exclusive
            } else {
                LockMode::Shared
            };
            self.txq.blocks(conn.db as u16, key, mode)
        };
        if owner != self.thread || blocked {
            return Some(self.send_batch(conn, owner, spec, argv, cx));
        }
        let locked = keys_in_transactions(&self.txq, cx);
        let reply = match self.shard.admit(conn.db, || spec.admission(argv), locked) {
            Ok(()) => self.exec_here(conn.db, spec, run, argv, cx),
            Err(oom) => Reply::Error(oom),
        };
        conn.encode(&reply);
        if let Reply::Bulk(bytes) = reply {
            // Handlers may build bulk replies in buffers from `cx`: hand this one back.
            cx.recycle_buffer(bytes);
        }
        Some(Flow::Next)
    }

    pub(crate) fn exec_here(
        &mut self,
        db: usize,
        spec: &'static CommandSpec,
        run: crate::cmd::ShardFn,
        argv: &Argv,
        cx: &mut Cx,
    ) -> Reply {
        let now_ms = self.shard.observe_time_ms(cx.wall_ms());
        let dirty_before = self.shard.stats.dirty;
        let mut ecx = ExecCx::new(&mut self.shard, db, now_ms, cx);
        let reply = run(&mut ecx, argv).into();
        journal::after_command(&mut self.shard, db, spec, argv, &reply, dirty_before);
        reply
    }

    /// Sends `argv` to shard `to`, with the following pipelined commands that also go only to
    /// `to`, in one hop. `argv` is the caller's decoding buffer: the hop gets exact copies.
    /// When `to` is another thread's shard, pipelined commands for this shard join the batch
    /// too, and a batch that holds both runs as one transaction (`pipeline.rs`).
    fn send_batch(
        &mut self,
        conn: &mut Conn,
        to: ThreadId,
        spec: &'static CommandSpec,
        argv: &mut Argv,
        cx: &mut Cx,
    ) -> Flow {
        let mut ops = vec![HopOp::Run {
            spec,
            argv: argv.clone(),
            admit: true,
        }];
        let mut owners = vec![to];
        let mixed = to != self.thread;
        while ops.len() < SQUASH_COMMANDS_MAX {
            let Ok(true) = conn.next_command_into(argv) else {
                break;
            };
            match self.squashable(conn, argv, to, mixed) {
                Some((slot, spec, owner)) => {
                    self.counters.commands_processed += 1;
                    conn.commands_processed += 1;
                    conn.last_cmd = spec.name;
                    if let Some(slot) = slot {
                        conn.errors.last_slot = Some(slot);
                        // Squashed: its time is counted with the batch's first command (its
                        // latency is not sampled: the batch's time is not its own).
                        self.observed.call(slot, 0, false, false);
                        if self.config.slowlog_log_slower_than_us == 0 {
                            self.log_slow(conn, slot, slowlog::kept_args(argv), 0, cx);
                        }
                    }
                    ops.push(HopOp::Run {
                        spec,
                        argv: argv.clone(),
                        admit: true,
                    });
                    owners.push(owner);
                }
                None => {
                    conn.stashed = Some(std::mem::take(argv));
                    break;
                }
            }
        }
        if owners.contains(&self.thread) && mixed {
            return pipeline::start(self, conn, to, ops, owners, cx);
        }
        let seq = self.next_seq();
        let count = ops.len();
        if cx.planted(Plant::ReplyBeforeApply)
            && ops.iter().all(
                |op| matches!(op, HopOp::Run { spec, .. } if spec.has(crate::cmd::flag::WRITE)),
            )
        {
            cx.mark("plant.reply_before_apply");
            for _ in 0..count {
                conn.encode(&Reply::OK);
            }
            self.send_hop(conn, to, seq, None, ops, cx);
            return Flow::Next;
        }
        // A batch for this thread's own shard is built only when its first command is blocked
        // by a transaction's intents, so it always travels as a message.
        let ran_here = self.send_hop(conn, to, seq, None, ops, cx);
        assert!(
            ran_here.is_none(),
            "shard {:?}: a blocked batch ran at once",
            self.thread
        );
        conn.state = ConnState::Waiting(Box::new(Pending {
            seq,
            outstanding: 1,
            plan: Plan::Batch {
                replies: Vec::with_capacity(count),
            },
            tx: TxPhase::None,
        }));
        Flow::Stop
    }

    /// The spec of `argv` and its shard when it can ride in a batch to `to`: a valid keyed
    /// command, not a blocking one, whose keys all live on `to` (or, when `mixed`, all on this
    /// thread's shard). Anything else ends the batch.
    fn squashable(
        &self,
        conn: &Conn,
        argv: &Argv,
        to: ThreadId,
        mixed: bool,
    ) -> Option<(Option<StatSlot>, &'static CommandSpec, ThreadId)> {
        let (slot, spec) = if conn.memcache.is_some() {
            (None, memcache::resolve(argv).ok()?)
        } else {
            let (slot, spec) = self.resolve_slot(conn, argv).ok()?;
            (Some(slot), spec)
        };
        let Exec::Shard { .. } = spec.exec else {
            return None;
        };
        // A line reading pattern keys spans every shard: it is never one shard's to run.
        if spec.has(crate::cmd::flag::BLOCKING)
            || crate::coord::reads_pattern_keys(self, spec, argv)
        {
            return None;
        }
        let owner = match spec.only_key_index(argv.len()) {
            Some(i) => shard_of(&argv[i], self.threads),
            None => {
                let keys = spec.key_indexes(argv);
                let owner = shard_of(&argv[*keys.first()?], self.threads);
                keys.iter()
                    .all(|&i| shard_of(&argv[i], self.threads) == owner)
                    .then_some(owner)?
            }
        };
        (owner == to || (mixed && owner == self.thread)).then_some((slot, spec, owner))
    }

    /// Work for this shard from a coordinator (on this thread or another).
    fn on_hop(&mut self, mut hop: Hop, cx: &mut Cx) {
        if let Some(tx) = hop.tx.filter(|tx| tx.schedules) {
            return pipeline::on_part(self, hop, tx, cx);
        }
        if hop.tx.is_none() && self.hop_blocked(hop.db, &hop.ops) {
            // A plain command behind a transaction's intents: it queues as a one-hop
            // transaction. A fresh txid is above every one scheduled, so this cannot be refused.
            let txid = cx.next_txid();
            let locks = LockSet::Keys(Self::run_locks(hop.db, &hop.ops));
            let clock_ms = self.shard.observe_time_ms(0);
            let scheduled = self
                .txq
                .schedule(txid, locks, (hop.from, hop.conn), false, clock_ms);
            assert!(scheduled, "shard {:?}: fresh {txid:?} refused", self.thread);
            cx.mark("vll.plain_command_queued");
            hop.tx = Some(TxHop {
                txid,
                conclude: true,
                time: TxTime::ShardClock,
                schedules: false,
                journal_shards: 0,
            });
        }
        let Some(tx) = hop.tx else {
            self.run_hop(hop, cx);
            return;
        };
        assert!(
            self.txq.contains(tx.txid),
            "shard {:?}: hop for {:?} from thread {:?} conn {:?}, which is not queued here",
            self.thread,
            tx.txid,
            hop.from,
            hop.conn
        );
        if self.txq.runnable(tx.txid) {
            if self.run_hop(hop, cx) {
                self.wake(cx);
            }
        } else {
            cx.mark("vll.hop_parked");
            self.txq.park(tx.txid, hop);
        }
    }

    /// Runs parked hops whose transactions became runnable, until none is.
    pub(crate) fn wake(&mut self, cx: &mut Cx) {
        if cx.planted(Plant::LoseWakeup) && cx.random_u64().is_multiple_of(4) {
            cx.mark("plant.lose_wakeup");
            return;
        }
        loop {
            self.notify_runnable(cx);
            let ready = self.txq.take_runnable_hops();
            if ready.is_empty() {
                return;
            }
            cx.mark("vll.woken");
            for hop in ready {
                self.run_hop(hop, cx);
            }
        }
    }

    /// Tells the coordinators of transactions that became runnable here, with this shard's
    /// clock: the transaction will run no earlier than it.
    fn notify_runnable(&mut self, cx: &mut Cx) {
        for (txid, watch) in self.txq.take_runnable_watches() {
            let at_ms = self.shard.observe_time_ms(0);
            let done = HopDone {
                from: self.thread,
                conn: watch.conn,
                seq: watch.seq,
                results: vec![HopResult::Runnable { txid, at_ms }],
            };
            cx.send(watch.thread, Msg::HopDone(done));
        }
    }

    /// Runs a hop's ops, answers the coordinator, and concludes its transaction here if it was
    /// the last hop; true when it concluded one (the queue changed).
    pub(crate) fn run_hop(&mut self, mut hop: Hop, cx: &mut Cx) -> bool {
        let reorder = cx.planted(Plant::SkipShardOrdering) && hop.ops.len() > 1;
        if reorder {
            // The bug: a squashed batch runs in the wrong order (results are put back in order,
            // so only the effects on the data reveal it).
            cx.mark("plant.skip_shard_ordering");
            hop.ops.reverse();
        }
        // A plain hop may have waited (in flight, or parked behind a transaction): it runs at the
        // later of its stamp and this shard's clock, so time never goes back on a shard. A
        // coordinated transaction runs at its fixed time, which is no earlier than this shard's
        // clock was when the transaction became runnable here.
        let now_ms = match hop.tx {
            Some(TxHop {
                time: TxTime::At(at_ms),
                ..
            }) => {
                self.shard.observe_time_ms(at_ms);
                at_ms
            }
            Some(TxHop {
                time: TxTime::ShardClock,
                ..
            })
            | None => self.shard.observe_time_ms(hop.now_ms.max(cx.wall_ms())),
        };
        let db = hop.db;
        let origin = RunnableWatch {
            thread: hop.from,
            conn: hop.conn,
            seq: hop.seq,
        };
        let journal_tx =
            hop.tx
                .filter(|tx| tx.journal_shards > 0)
                .map(|tx| crate::journal::OpenTx {
                    txid: tx.txid.0,
                    shards: tx.journal_shards,
                });
        journal::enter_tx(&mut self.shard, journal_tx);
        let mut results: Vec<HopResult> = Vec::with_capacity(hop.ops.len());
        for op in hop.ops {
            // A pipelined batch's commands are each a command of their own: blocked clients
            // are served between them. An EXEC body's (never admitted one by one) is one.
            let own_command = matches!(op, HopOp::Run { admit: true, .. });
            results.push(self.run_hop_op(db, now_ms, op, origin, None, cx));
            if own_command {
                blocking::serve_ready(self, cx);
            }
        }
        if reorder {
            results.reverse();
        }
        let concluded = hop.tx.is_some_and(|tx| tx.conclude);
        journal::leave_tx(&mut self.shard, journal_tx, concluded);
        let done = HopDone {
            from: self.thread,
            conn: hop.conn,
            seq: hop.seq,
            results,
        };
        cx.send(hop.from, Msg::HopDone(done));
        match hop.tx {
            Some(TxHop {
                txid,
                conclude: true,
                ..
            }) => {
                self.txq.remove(txid);
                true
            }
            _ => false,
        }
    }

    /// Runs one op on this shard. `origin` is the hop's sender; `current` is the coordinating
    /// connection when it lives on this thread (it is out of `conns` while it runs).
    pub(crate) fn run_hop_op(
        &mut self,
        db: u16,
        now_ms: u64,
        op: HopOp,
        origin: RunnableWatch,
        current: Option<&Conn>,
        cx: &mut Cx,
    ) -> HopResult {
        match op {
            HopOp::Run { spec, argv, admit } => {
                let Exec::Shard { run, .. } = spec.exec else {
                    unreachable!("{} is not keyed", spec.name)
                };
                if admit || cx.planted(Plant::AdmitEachHop) {
                    let locked = keys_in_transactions(&self.txq, cx);
                    if let Err(oom) =
                        self.shard
                            .admit(db as usize, || spec.admission(&argv), locked)
                    {
                        return HopResult::Reply(Reply::Error(oom));
                    }
                }
                let dirty_before = self.shard.stats.dirty;
                let mut ecx = ExecCx::new(&mut self.shard, db as usize, now_ms, cx);
                let reply = run(&mut ecx, &argv).into();
                journal::after_command(
                    &mut self.shard,
                    db as usize,
                    spec,
                    &argv,
                    &reply,
                    dirty_before,
                );
                HopResult::Reply(reply)
            }
            HopOp::Script { job } => crate::node::script::run_hop(self, *job, now_ms, cx),
            HopOp::Fetch { keys } => HopResult::Entries(
                keys.iter()
                    .map(|(db, k)| self.shard.db(*db as usize).peek(k, now_ms).cloned())
                    .collect(),
            ),
            HopOp::Store { entries } => {
                let stored: Vec<(u16, Vec<u8>)> = if self.shard.journal.is_some() {
                    entries
                        .iter()
                        .map(|(db, key, _)| (*db, key.clone()))
                        .collect()
                } else {
                    Vec::new()
                };
                for (db, key, entry) in entries {
                    let table = self.shard.db(db as usize);
                    match entry {
                        Some(entry) => {
                            table.insert(entry, now_ms);
                        }
                        None => {
                            table.remove(&key);
                        }
                    }
                    self.shard.modified(db, &key);
                }
                journal::after_store(&mut self.shard, &stored);
                HopResult::Stored
            }
            HopOp::Node(op) => {
                HopResult::Node(crate::coord::run_node_op(self, op, now_ms, current, cx))
            }
            HopOp::Schedule {
                txid,
                locks,
                admit_bytes,
            } => {
                // Where the transaction writes first here: eviction starts near it.
                let near = match (admit_bytes, &locks) {
                    (Some(_), LockSet::Keys(keys)) => {
                        keys.first().map(|(db, key, _)| (*db, key.clone()))
                    }
                    _ => None,
                };
                let locks = if cx.planted(Plant::SkipIntentLocks) {
                    cx.mark("plant.skip_intent_locks");
                    LockSet::Keys(Vec::new())
                } else {
                    locks
                };
                let ignore_conflicts = cx.planted(Plant::RunConflictingOutOfOrder);
                // The queue cannot see `cx`: the planted refusal bug is switched per schedule.
                self.txq
                    .plant_accept_conflicting_lower(cx.planted(Plant::AcceptConflictingLowerTxid));
                let coordinator = (origin.thread, origin.conn);
                let clock_ms = self.shard.observe_time_ms(0);
                let accepted =
                    self.txq
                        .schedule(txid, locks, coordinator, ignore_conflicts, clock_ms);
                if accepted {
                    self.shard.set_keep_expired(true);
                }
                let admit_each_hop = cx.planted(Plant::AdmitEachHop);
                let out_of_memory = accepted && !admit_each_hop && {
                    admit_bytes.is_some_and(|incoming_bytes| {
                        let (db, near) = near.unwrap_or((db, Vec::new()));
                        let locked = keys_in_transactions(&self.txq, cx);
                        !self
                            .shard
                            .make_room(db as usize, &near, incoming_bytes, locked)
                    })
                };
                let runnable_at_ms = if accepted && self.txq.runnable(txid) {
                    Some(self.shard.observe_time_ms(0))
                } else {
                    if accepted {
                        self.txq.watch_runnable(txid, origin);
                    }
                    None
                };
                HopResult::Scheduled {
                    accepted,
                    runnable_at_ms,
                    out_of_memory,
                }
            }
            HopOp::Cancel { txid } => {
                self.txq.remove(txid);
                self.wake(cx);
                HopResult::Stored
            }
            HopOp::Watch { keys } => {
                for (db, key) in keys {
                    let alive = self.shard.db(db as usize).contains(&key, now_ms);
                    let who = (origin.thread, origin.conn);
                    self.shard.watches.watch(who, db, &key, alive);
                }
                HopResult::Stored
            }
            HopOp::Unwatch => {
                self.shard.watches.forget((origin.thread, origin.conn));
                HopResult::Stored
            }
            HopOp::RunOrBlock { spec, argv } => {
                let locked = keys_in_transactions(&self.txq, cx);
                if let Err(oom) = self
                    .shard
                    .admit(db as usize, || spec.admission(&argv), locked)
                {
                    return HopResult::Reply(Reply::Error(oom));
                }
                let id = blocking::WaiterId {
                    thread: origin.thread,
                    conn: origin.conn,
                    seq: origin.seq,
                };
                blocking::run_or_block(self, db, now_ms, spec, argv, id, cx)
            }
            HopOp::Register {
                waiter_seq,
                spec,
                argv,
                keys,
            } => {
                let id = blocking::WaiterId {
                    thread: origin.thread,
                    conn: origin.conn,
                    seq: waiter_seq,
                };
                blocking::register(self, db, id, spec, argv, keys);
                HopResult::Stored
            }
            HopOp::Unregister { waiter_seq } => {
                let id = blocking::WaiterId {
                    thread: origin.thread,
                    conn: origin.conn,
                    seq: waiter_seq,
                };
                blocking::unregister(self, id);
                HopResult::Stored
            }
            HopOp::Unblock { waiter_seq } => {
                let id = blocking::WaiterId {
                    thread: origin.thread,
                    conn: origin.conn,
                    seq: waiter_seq,
                };
                blocking::unblock(self, id)
            }
            HopOp::CheckWatch => {
                let shard = &mut self.shard;
                let mut watches = std::mem::take(&mut shard.watches);
                let clean = watches.check_and_forget((origin.thread, origin.conn), |db, key| {
                    shard.db(db as usize).contains(key, now_ms)
                });
                shard.watches = watches;
                HopResult::WatchClean(clean)
            }
        }
    }

    fn on_hop_done(&mut self, done: HopDone, cx: &mut Cx) {
        let id = done.conn;
        let taken = if id == persist::INTERNAL_CONN {
            persist::take_internal(self)
        } else {
            self.conns.take(&id)
        };
        let Some(mut conn) = taken else {
            return;
        };
        if blocking::is_notice(&done) {
            if conn.out.capacity() == 0 {
                conn.out = cx.take_buffer();
            }
            if blocking::on_notice(self, &mut conn, done, cx) {
                self.run_taken_conn(conn, cx);
            } else {
                if conn.out.is_empty() {
                    cx.recycle_buffer(std::mem::take(&mut conn.out));
                }
                self.conns.put_back(conn);
            }
            return;
        }
        let runnable_notice = matches!(done.results[..], [HopResult::Runnable { .. }]);
        let current = match &mut conn.state {
            ConnState::Waiting(pending) if pending.seq == done.seq => {
                // A shard's notice that a transaction became runnable is not a hop's answer.
                if !runnable_notice {
                    pending.outstanding -= 1;
                }
                true
            }
            // A stale result: the connection moved on (RESET, or it is closing).
            _ => false,
        };
        if conn.out.capacity() == 0 {
            conn.out = cx.take_buffer();
        }
        let finished = current && crate::coord::absorb(self, &mut conn, done, cx);
        if conn.id == persist::INTERNAL_CONN {
            persist::check_in_internal(self, conn);
        } else if finished {
            self.run_taken_conn(conn, cx);
        } else {
            if conn.out.is_empty() {
                // Still waiting: the buffer goes back until the replies are all in.
                cx.recycle_buffer(std::mem::take(&mut conn.out));
            }
            self.conns.put_back(conn);
        }
    }

    pub(crate) fn start_node_cmd(
        &mut self,
        conn: &mut Conn,
        cmd: crate::cmd::NodeCmd,
        argv: Argv,
        cx: &mut Cx,
    ) -> Flow {
        crate::coord::start_node_cmd(self, conn, cmd, argv, cx)
    }

    pub(crate) fn alloc_seq(&mut self) -> u64 {
        self.next_seq()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::TestCluster;

    /// A key name owned by `thread` among `threads`.
    fn key_on(thread: u16, threads: u16, tag: &str) -> String {
        (0..)
            .map(|i| format!("{tag}{i}"))
            .find(|k| shard_of(k.as_bytes(), threads) == ThreadId(thread))
            .unwrap()
    }

    #[test]
    fn a_remembered_command_name_never_answers_for_another() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        let pipeline = b"SET k v\r\nGET k\r\nGET k\r\ngEt k\r\nGETX k\r\nGET k\r\nSTRLEN k\r\n\
            GET\r\nCLIENT NOSUCH\r\nclient id\r\n";
        let replies = String::from_utf8(c.send(conn, pipeline)).unwrap();
        let expected = [
            "+OK",
            "$1\r\nv",
            "$1\r\nv",
            "$1\r\nv",
            "-ERR unknown command 'GETX', with args beginning with: 'k' ",
            "$1\r\nv",
            ":1",
            "-ERR wrong number of arguments for 'get' command",
            "-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.",
        ]
        .map(|line| format!("{line}\r\n"))
        .concat();
        assert!(replies.starts_with(&expected), "{replies:?}");
        assert!(replies[expected.len()..].starts_with(':'), "{replies:?}");
    }

    #[test]
    fn hashtags_pick_the_shard() {
        assert_eq!(hash_slot_key(b"{user1000}.following"), b"user1000");
        assert_eq!(hash_slot_key(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_slot_key(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_slot_key(b"foo{bar}{zap}"), b"bar");
        assert_eq!(shard_of(b"{a}x", 4), shard_of(b"{a}y", 4));
    }

    #[test]
    fn local_and_remote_keys_answer_alike() {
        let mut c = TestCluster::new(3);
        let conn = c.connect(0);
        for t in 0..3 {
            let key = key_on(t, 3, "k");
            assert_eq!(c.cmd_text(conn, &["SET", &key, "v"]), "+OK\r\n");
            assert_eq!(c.cmd_text(conn, &["GET", &key]), "$1\r\nv\r\n");
        }
    }

    #[test]
    fn split_commands_merge_in_key_order() {
        let mut c = TestCluster::new(3);
        let conn = c.connect(1);
        let keys: Vec<String> = (0..3).map(|t| key_on(t, 3, "m")).collect();
        assert_eq!(
            c.cmd_text(conn, &["MSET", &keys[2], "c", &keys[0], "a", &keys[1], "b"]),
            "+OK\r\n"
        );
        assert_eq!(
            c.cmd_text(conn, &["MGET", &keys[0], "missing", &keys[1], &keys[2]]),
            "*4\r\n$1\r\na\r\n$-1\r\n$1\r\nb\r\n$1\r\nc\r\n"
        );
        assert_eq!(
            c.cmd_text(conn, &["EXISTS", &keys[0], &keys[0], &keys[2], "nope"]),
            ":3\r\n"
        );
        assert_eq!(
            c.cmd_text(conn, &["DEL", &keys[0], &keys[1], &keys[2], "nope"]),
            ":3\r\n"
        );
        assert_eq!(c.cmd_text(conn, &["DBSIZE"]), ":0\r\n");
    }

    #[test]
    fn gathered_commands_move_entries_across_shards() {
        let mut c = TestCluster::new(3);
        let conn = c.connect(0);
        let (src, dst) = (key_on(1, 3, "src"), key_on(2, 3, "dst"));
        assert_eq!(
            c.cmd_text(conn, &["SET", &src, "v", "PX", "100000"]),
            "+OK\r\n"
        );
        assert_eq!(c.cmd_text(conn, &["RENAME", &src, &dst]), "+OK\r\n");
        assert_eq!(c.cmd_text(conn, &["EXISTS", &src]), ":0\r\n");
        assert_eq!(c.cmd_text(conn, &["GET", &dst]), "$1\r\nv\r\n");
        assert_eq!(
            c.cmd_text(conn, &["RENAME", &src, &dst]),
            "-ERR no such key\r\n"
        );
        c.advance_ms(100_001);
        assert_eq!(
            c.cmd_text(conn, &["GET", &dst]),
            "$-1\r\n",
            "the TTL moved with the key"
        );
    }

    #[test]
    fn pipelined_commands_to_a_remote_shard_reply_in_order() {
        let mut c = TestCluster::new(2);
        let conn = c.connect(0);
        let remote = key_on(1, 2, "r");
        let local = key_on(0, 2, "l");
        let mut pipeline = Vec::new();
        for i in 0..100 {
            let key = if i % 10 == 9 { &local } else { &remote };
            let cmd = format!("*2\r\n$4\r\nINCR\r\n${}\r\n{key}\r\n", key.len());
            pipeline.extend_from_slice(cmd.as_bytes());
        }
        let out = String::from_utf8(c.send(conn, &pipeline)).unwrap();
        let (mut remote_n, mut local_n, mut expected) = (0, 0, String::new());
        for i in 0..100 {
            let n = if i % 10 == 9 {
                local_n += 1;
                local_n
            } else {
                remote_n += 1;
                remote_n
            };
            expected.push_str(&format!(":{n}\r\n"));
        }
        assert_eq!(out, expected);
    }

    #[test]
    fn unknown_commands_and_arity_are_checked_before_handlers() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        assert_eq!(
            c.cmd_text(conn, &["NOSUCH", "a", "b"]),
            "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n"
        );
        assert_eq!(
            c.cmd_text(conn, &["GET"]),
            "-ERR wrong number of arguments for 'get' command\r\n"
        );
        assert_eq!(
            c.cmd_text(conn, &["CLIENT"]),
            "-ERR wrong number of arguments for 'client' command\r\n"
        );
        assert_eq!(c.cmd_text(conn, &["PING"]), "+PONG\r\n");
    }

    #[test]
    fn protocol_errors_reply_then_close() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        let out = c.send(conn, b"*1\r\n*1\r\n");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "-ERR Protocol error: expected '$', got '*'\r\n"
        );
        assert!(c.is_closed(conn));
        let other = c.connect(0);
        assert_eq!(c.cmd_text(other, &["PING"]), "+PONG\r\n");
    }

    #[test]
    fn requirepass_gates_commands_until_auth() {
        let config = Config {
            requirepass: Some(b"secret".to_vec()),
            ..Config::default()
        };
        let mut c = TestCluster::with_config(2, config);
        let conn = c.connect(1);
        assert_eq!(
            c.cmd_text(conn, &["GET", "k"]),
            "-NOAUTH Authentication required.\r\n"
        );
        assert!(c
            .cmd_text(conn, &["AUTH", "wrong"])
            .starts_with("-WRONGPASS"));
        assert_eq!(c.cmd_text(conn, &["AUTH", "secret"]), "+OK\r\n");
        assert_eq!(c.cmd_text(conn, &["GET", "k"]), "$-1\r\n");
    }
}
