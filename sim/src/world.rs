//! The simulated world: every node thread's engine, simulated clients, a virtual clock and one
//! event queue ordered by (time, sequence). One thread, one seed, no real time.
//!
//! The network keeps the production delivery contract and no more: FIFO per (sender, receiver)
//! link, random delay per message, any interleaving across senders; a thread's message to itself
//! arrives after the current step. Stalls postpone everything bound for a thread without
//! reordering a link.

use std::collections::{BTreeMap, VecDeque};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use damselfly_core::config::Config;
use damselfly_core::cx::{ConnId, ConnOpen, Cx, CxOptions, Effect, Msg, ThreadId, Timer};
use damselfly_core::node::commands::server::ServerInfo;
use damselfly_core::node::Node;

use crate::config::SimConfig;
use crate::reply_reader::reply_len;
use crate::workload::{encode_command, Workload};

/// Virtual time the quiet phase may take before outstanding requests count as stuck.
pub const QUIET_PHASE_US: u64 = 30_000_000;
/// Events one run may process at most (a runaway loop is a failure, not a hang).
pub const EVENTS_MAX: u64 = 5_000_000;
/// Fresh events' sequence numbers start here; postponed ones count from 1 below it.
const FRESH_SEQ_BASE: u64 = 1 << 62;
/// Trace lines kept for a failure report.
const TRACE_TAIL_LEN: usize = 40;
/// Wall clock at virtual time zero: 2026-01-01T00:00:00Z.
const WALL_START_US: u64 = 1_767_225_600_000_000;

/// One request as a client saw it.
#[derive(Clone, Debug)]
pub struct Observed {
    pub client: usize,
    pub argv: Vec<Vec<u8>>,
    /// Wall-clock µs when the request was sent and when its reply arrived (None: never).
    pub invoke_us: u64,
    pub return_us: Option<u64>,
    pub reply: Option<Vec<u8>>,
    /// Not a client's request: a key the server evicted, recorded as a DEL at the one instant
    /// it happened (`invoke_us == return_us`), replying what that DEL would have.
    pub eviction: bool,
}

#[derive(Debug)]
enum Event {
    /// A message for a node thread (from a thread, a client or the driver).
    Deliver {
        to: ThreadId,
        msg: Msg,
    },
    /// Reply bytes arriving at a client.
    ClientRecv {
        client: usize,
        bytes: Vec<u8>,
    },
    /// A client decides what to send next.
    ClientTick {
        client: usize,
    },
    Timer {
        thread: ThreadId,
        timer: Timer,
    },
}

/// The endpoints of a FIFO link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Endpoint {
    Thread(u16),
    Client(usize),
    /// A thread's disk: its operations complete in the order asked.
    Disk(u16),
}

struct SimClient {
    conn: ConnId,
    thread: ThreadId,
    sent: usize,
    /// Indexes into the history of requests awaiting replies, oldest first.
    in_flight: VecDeque<usize>,
    inbox: Vec<u8>,
    connected: bool,
    /// Bytes held back while the engine asked us to stop reading this connection.
    held: Vec<u8>,
    engine_reading: bool,
}

pub struct World {
    pub config: SimConfig,
    rng: ChaCha8Rng,
    nodes: Vec<Node>,
    cxs: Vec<Cx>,
    events: BTreeMap<(u64, u64), Event>,
    seq: u64,
    /// Sequence numbers of postponed deliveries (see `postpone`).
    postponed: u64,
    now_us: u64,
    wall_offset_us: u64,
    link_last: BTreeMap<(Endpoint, Endpoint), u64>,
    stalled_until: Vec<u64>,
    clients: Vec<SimClient>,
    workload: Workload,
    pub history: Vec<Observed>,
    trace_hash: u64,
    trace_tail: VecDeque<String>,
    /// Trace lines kept (DST_TRACE_TAIL overrides, for debugging a seed).
    trace_tail_len: usize,
    events_processed: u64,
    /// The simulated disk: durable bytes apart from unsynced ones.
    pub disk: damselfly_core::node::memdisk::MemDisk,
}

impl World {
    pub fn new(config: SimConfig) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let options = CxOptions {
            verify: true,
            plants: config.plants_mask(),
            ..CxOptions::default()
        };
        let mut nodes = Vec::new();
        let mut cxs = Vec::new();
        let node_config = Config {
            maxmemory_bytes: config.shard_budget_bytes * u64::from(config.threads),
            maxmemory_policy: config.maxmemory_policy,
            ..Config::default()
        };
        for t in 0..config.threads {
            let server = ServerInfo {
                damselfly_version: "sim".into(),
                multiplexing_api: "sim".into(),
                ..ServerInfo::default()
            };
            nodes.push(Node::new(
                ThreadId(t),
                config.threads,
                node_config.clone(),
                server,
                rng.gen(),
            ));
            if config.shard_budget_bytes > 0 {
                nodes.last_mut().expect("a node").shard_mut().eviction_log = Some(Vec::new());
            }
            if config.queue.is_some() {
                nodes.last_mut().expect("a node").log_waiters();
            }
            cxs.push(Cx::new(rng.gen(), options.clone()));
        }
        let workload = Workload::new(
            config.keys,
            config.ttl_per_mille,
            config.multi_key_per_mille,
            config.multi_per_mille,
            true,
        )
        .with_collections(config.collections.clone(), config.seed)
        .with_queue(config.queue, config.queue_streams);
        let mut world = World {
            stalled_until: vec![0; config.threads as usize],
            config,
            rng,
            nodes,
            cxs,
            events: BTreeMap::new(),
            seq: 0,
            postponed: 0,
            now_us: 0,
            wall_offset_us: WALL_START_US,
            link_last: BTreeMap::new(),
            clients: Vec::new(),
            workload,
            history: Vec::new(),
            trace_hash: 0xcbf2_9ce4_8422_2325,
            trace_tail: VecDeque::new(),
            trace_tail_len: std::env::var("DST_TRACE_TAIL")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(TRACE_TAIL_LEN),
            disk: Default::default(),
            events_processed: 0,
        };
        world.boot();
        world
    }

    fn boot(&mut self) {
        for t in 0..self.config.threads as usize {
            let wall = self.wall_us();
            self.cxs[t].set_time(self.now_us, wall);
            self.nodes[t].start(&mut self.cxs[t]);
            self.route(ThreadId(t as u16));
        }
        for client in 0..self.config.clients {
            let thread = ThreadId(self.rng.gen_range(0..self.config.threads));
            let conn = ConnId(client as u64 + 1);
            self.clients.push(SimClient {
                conn,
                thread,
                sent: 0,
                in_flight: VecDeque::new(),
                inbox: Vec::new(),
                connected: true,
                held: Vec::new(),
                engine_reading: true,
            });
            let open = ConnOpen {
                conn,
                peer_addr: format!("127.0.0.1:{}", 50000 + client),
                local_addr: "127.0.0.1:6379".into(),
                peer_is_loopback: true,
                clients_total: self.config.clients as u64,
                fd: damselfly_core::cx::fake_fd(client as u64),
                protocol: Default::default(),
            };
            self.send_link(Endpoint::Client(client), thread, Msg::ConnOpen(open));
            let at = self.now_us + self.rng.gen_range(0..1000);
            self.schedule(at, Event::ClientTick { client });
        }
    }

    pub fn wall_us(&self) -> u64 {
        self.now_us + self.wall_offset_us
    }

    fn schedule(&mut self, at_us: u64, event: Event) {
        self.seq += 1;
        self.events
            .insert((at_us, FRESH_SEQ_BASE + self.seq), event);
    }

    /// Puts back a message a stalled thread could not take yet, to arrive when the stall ends.
    /// It gets a sequence number below every fresh event's, so that it still arrives before a
    /// later message of its link that happens to be due at exactly that instant: a fresh seq
    /// would let that message overtake it (seed 79450: the last "\n" of a request arrived
    /// ahead of the requests before it, and the request never completed).
    fn postpone(&mut self, at_us: u64, event: Event) {
        self.postponed += 1;
        debug_assert!(self.postponed < FRESH_SEQ_BASE);
        self.events.insert((at_us, self.postponed), event);
    }

    fn delay_us(&mut self) -> u64 {
        let (lo, hi) = (self.config.delay_min_us, self.config.delay_max_us);
        let mut delay = self.rng.gen_range(lo..=hi);
        if self.config.spike_per_mille > 0
            && self.rng.gen_range(0..1000) < self.config.spike_per_mille
        {
            delay += self.rng.gen_range(2_000..50_000);
        }
        delay
    }

    /// Schedules a message on a FIFO link: never before the link's previous message.
    fn send_link(&mut self, from: Endpoint, to: ThreadId, msg: Msg) {
        let at = self.link_time(from, Endpoint::Thread(to.0));
        self.schedule(at, Event::Deliver { to, msg });
    }

    fn link_time(&mut self, from: Endpoint, to: Endpoint) -> u64 {
        let earliest = self.now_us + self.delay_us();
        let last = self.link_last.entry((from, to)).or_insert(0);
        let at = earliest.max(*last);
        *last = at;
        at
    }

    /// Runs the workload, then the quiet phase; returns an error on a stuck request.
    pub fn run(&mut self) -> Result<(), String> {
        while let Some(((at, _), event)) = self.events.pop_first() {
            self.events_processed += 1;
            if self.events_processed > EVENTS_MAX {
                return Err(format!("more than {EVENTS_MAX} events: runaway"));
            }
            self.now_us = self.now_us.max(at);
            self.step(event)?;
            if self.all_clients_done() {
                return Ok(());
            }
            if self.now_us > self.workload_end_us() + QUIET_PHASE_US {
                return Err(self.liveness_report());
            }
        }
        if self.all_clients_done() {
            Ok(())
        } else {
            Err(self.liveness_report())
        }
    }

    fn workload_end_us(&self) -> u64 {
        // Clients pace themselves at most a few ms apart; this bounds the busy phase.
        (self.config.requests_per_client as u64 + 1) * 20_000
    }

    fn all_clients_done(&self) -> bool {
        self.clients.iter().all(|c| {
            !c.connected || (c.sent == self.config.requests_per_client && c.in_flight.is_empty())
        })
    }

    fn liveness_report(&self) -> String {
        let stuck: Vec<String> = self
            .clients
            .iter()
            .enumerate()
            .filter(|(_, c)| c.connected && !c.in_flight.is_empty())
            .map(|(i, c)| {
                let op = &self.history[c.in_flight[0]];
                format!(
                    "client {i} (conn {}, thread {}) waits on {:?}",
                    c.conn.0,
                    c.thread.0,
                    printable(&op.argv)
                )
            })
            .collect();
        let queues: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("t{}: {}", n.thread().0, n.tx_queue_summary()))
            .collect();
        format!(
            "liveness: requests never answered after the quiet phase: {}\ntx queues:\n{}",
            stuck.join("; "),
            queues.join("\n")
        )
    }

    fn trace(&mut self, line: String) {
        for b in line.as_bytes() {
            self.trace_hash ^= u64::from(*b);
            self.trace_hash = self.trace_hash.wrapping_mul(0x100_0000_01b3);
        }
        if self.trace_tail.len() >= self.trace_tail_len {
            self.trace_tail.pop_front();
        }
        self.trace_tail.push_back(line);
    }

    pub fn trace_hash(&self) -> u64 {
        self.trace_hash
    }

    pub fn trace_tail(&self) -> Vec<String> {
        self.trace_tail.iter().cloned().collect()
    }

    pub fn marks(&self) -> BTreeMap<&'static str, u64> {
        let mut all = BTreeMap::new();
        for cx in &self.cxs {
            for (name, n) in cx.marks() {
                *all.entry(*name).or_insert(0) += n;
            }
        }
        all
    }

    fn step(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Deliver { to, msg } => self.deliver(to, msg),
            Event::ClientRecv { client, bytes } => self.client_recv(client, bytes)?,
            Event::ClientTick { client } => self.client_tick(client),
            Event::Timer { thread, timer } => self.deliver(thread, Msg::Timer(timer)),
        }
        Ok(())
    }

    fn deliver(&mut self, to: ThreadId, msg: Msg) {
        let t = to.0 as usize;
        if self.stalled_until[t] > self.now_us {
            let at = self.stalled_until[t];
            self.postpone(at, Event::Deliver { to, msg });
            return;
        }
        self.trace(format!(
            "{} t{} <- {}",
            self.now_us,
            to.0,
            msg_summary(&msg)
        ));
        let wall = self.wall_us();
        self.cxs[t].set_time(self.now_us, wall);
        self.nodes[t].on_msg(msg, &mut self.cxs[t]);
        self.record_evictions(t);
        self.route(to);
        self.maybe_fault(t);
    }

    /// Adds what thread `t`'s shard evicted in the step just taken to the history: a DEL at
    /// the step's wall time, from a client of its own (no program order ties it to others). Its
    /// reply is what that DEL answers at that instant: 1 for an entry still live then, 0 for
    /// one past its deadline (the model has no such key). A known reply lets the checker prune
    /// far more orders than an unknown one.
    fn record_evictions(&mut self, t: usize) {
        let Some(log) = self.nodes[t].shard_mut().eviction_log.as_mut() else {
            return;
        };
        let evicted = std::mem::take(log);
        let wall = self.wall_us();
        for e in evicted {
            assert_eq!(e.db, 0, "the workload uses database 0 only");
            let live = e.expire_at_ms.is_none_or(|at_ms| at_ms > wall / 1000);
            self.trace(format!(
                "{} t{t} evicts {} ({})",
                self.now_us,
                String::from_utf8_lossy(&e.key),
                if live { "live" } else { "expired" }
            ));
            let client = self.config.clients + self.history.len();
            self.history.push(Observed {
                client,
                argv: vec![b"DEL".to_vec(), e.key],
                invoke_us: wall,
                return_us: Some(wall),
                reply: Some(if live {
                    b":1\r\n".to_vec()
                } else {
                    b":0\r\n".to_vec()
                }),
                eviction: true,
            });
        }
    }

    fn maybe_fault(&mut self, t: usize) {
        if self.config.stall_per_mille > 0
            && self.rng.gen_range(0..10_000) < self.config.stall_per_mille
        {
            self.stalled_until[t] = self.now_us + self.rng.gen_range(1_000..100_000);
            self.trace(format!("{} t{t} stalls", self.now_us));
        }
        if self.config.clock_step_per_mille > 0
            && self.rng.gen_range(0..10_000) < self.config.clock_step_per_mille
        {
            // Forward only: a backward step can revive a key Redis already deleted, which no
            // sequential model at a single clock reproduces.
            let step = self.rng.gen_range(1_000..2_000_000);
            self.wall_offset_us += step;
            self.trace(format!("{} wall clock steps +{step}us", self.now_us));
        }
    }

    fn route(&mut self, thread: ThreadId) {
        let effects = self.cxs[thread.0 as usize].take_effects();
        for effect in effects {
            match effect {
                Effect::Send { to, msg } => self.send_link(Endpoint::Thread(thread.0), to, msg),
                Effect::Write { conn, bytes } => {
                    let client = self.client_of(conn);
                    let at = self.link_time(Endpoint::Thread(thread.0), Endpoint::Client(client));
                    let len = bytes.len();
                    self.schedule(at, Event::ClientRecv { client, bytes });
                    // The simulated socket accepts everything at once.
                    self.send_link(
                        Endpoint::Client(client),
                        thread,
                        Msg::ConnWritten {
                            conn,
                            bytes_len: len,
                        },
                    );
                }
                Effect::Close { conn } | Effect::Abort { conn } => {
                    let client = self.client_of(conn);
                    self.disconnect(client, "closed by server");
                }
                Effect::ReadInterest { conn, enabled } => self.set_reading(conn, enabled),
                Effect::ArmTimer { timer, at_mono_us } => {
                    let at = at_mono_us.max(self.now_us);
                    self.schedule(at, Event::Timer { thread, timer });
                }
                Effect::Shutdown => self.trace(format!("{} shutdown requested", self.now_us)),
                Effect::Log { level, text } => {
                    self.trace(format!("{} log {level:?}: {text}", self.now_us));
                }
                Effect::Disk { file, op } => {
                    let result = self.disk.apply(thread, file, op);
                    self.send_link(
                        Endpoint::Disk(thread.0),
                        thread,
                        Msg::DiskDone { file, result },
                    );
                }
            }
        }
    }

    fn client_of(&self, conn: ConnId) -> usize {
        (conn.0 - 1) as usize
    }

    fn set_reading(&mut self, conn: ConnId, enabled: bool) {
        let client = self.client_of(conn);
        self.clients[client].engine_reading = enabled;
        if enabled && !self.clients[client].held.is_empty() {
            let bytes = std::mem::take(&mut self.clients[client].held);
            let thread = self.clients[client].thread;
            self.send_link(
                Endpoint::Client(client),
                thread,
                Msg::ConnData { conn, bytes },
            );
        }
    }

    fn disconnect(&mut self, client: usize, why: &str) {
        let c = &mut self.clients[client];
        if !c.connected {
            return;
        }
        c.connected = false;
        let (conn, thread) = (c.conn, c.thread);
        self.trace(format!(
            "{} client {client} disconnects: {why}",
            self.now_us
        ));
        self.send_link(Endpoint::Client(client), thread, Msg::ConnClosed { conn });
    }

    fn client_tick(&mut self, client: usize) {
        let c = &self.clients[client];
        if !c.connected || c.sent == self.config.requests_per_client {
            return;
        }
        if c.in_flight.len() < self.config.pipeline_max {
            let burst = self
                .rng
                .gen_range(1..=self.config.pipeline_max - c.in_flight.len());
            let mut bytes = Vec::new();
            for _ in 0..burst.min(self.config.requests_per_client - self.clients[client].sent) {
                let wall_ms = self.wall_us() / 1000;
                let argv = self.workload.next(client, &mut self.rng, wall_ms);
                bytes.extend_from_slice(&encode_command(&argv));
                let index = self.history.len();
                self.history.push(Observed {
                    client,
                    argv,
                    invoke_us: self.wall_us(),
                    return_us: None,
                    reply: None,
                    eviction: false,
                });
                self.clients[client].in_flight.push_back(index);
                self.clients[client].sent += 1;
            }
            self.send_chunked(client, bytes);
            if self.config.disconnect_per_mille > 0
                && self.rng.gen_range(0..1000) < self.config.disconnect_per_mille
            {
                self.disconnect(client, "client gives up mid-command");
                return;
            }
        }
        let at = self.now_us + self.rng.gen_range(100..5_000);
        self.schedule(at, Event::ClientTick { client });
    }

    fn send_chunked(&mut self, client: usize, mut bytes: Vec<u8>) {
        let (conn, thread) = (self.clients[client].conn, self.clients[client].thread);
        if !self.clients[client].engine_reading {
            self.clients[client].held.extend_from_slice(&bytes);
            return;
        }
        while !bytes.is_empty() {
            let n = self
                .rng
                .gen_range(1..=self.config.chunk_max_bytes)
                .min(bytes.len());
            let rest = bytes.split_off(n);
            self.send_link(
                Endpoint::Client(client),
                thread,
                Msg::ConnData { conn, bytes },
            );
            bytes = rest;
        }
    }

    fn client_recv(&mut self, client: usize, bytes: Vec<u8>) -> Result<(), String> {
        let wall = self.wall_us();
        let c = &mut self.clients[client];
        if !c.connected {
            return Ok(());
        }
        c.inbox.extend_from_slice(&bytes);
        while let Some(len) = reply_len(&c.inbox).map_err(|e| format!("client {client}: {e}"))? {
            let reply: Vec<u8> = c.inbox.drain(..len).collect();
            let Some(index) = c.in_flight.pop_front() else {
                return Err(format!(
                    "client {client} got a reply it never asked for: {:?}",
                    String::from_utf8_lossy(&reply)
                ));
            };
            self.history[index].return_us = Some(wall);
            self.history[index].reply = Some(reply);
        }
        Ok(())
    }

    /// Every engine's shard, for the final state digest.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }
}

pub fn printable(argv: &[Vec<u8>]) -> String {
    argv.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn msg_summary(msg: &Msg) -> String {
    match msg {
        Msg::ConnOpen(open) => format!("open c{}", open.conn.0),
        Msg::ConnData { conn, bytes } => {
            format!("data c{} {:?}", conn.0, String::from_utf8_lossy(bytes))
        }
        Msg::ConnWritten { conn, bytes_len } => format!("written c{} {bytes_len}", conn.0),
        Msg::ConnInputEnded { conn } => format!("input-ended c{}", conn.0),
        Msg::ConnClosed { conn } => format!("closed c{}", conn.0),
        Msg::Timer(timer) => format!("timer {timer:?}"),
        Msg::Hop(hop) => format!(
            "hop from t{} c{} seq {} ops {}",
            hop.from.0,
            hop.conn.0,
            hop.seq,
            hop.ops.len()
        ),
        Msg::HopDone(done) => format!(
            "hop-done from t{} c{} seq {}",
            done.from.0, done.conn.0, done.seq
        ),
        Msg::Persist(msg) => format!("persist {msg:?}").chars().take(120).collect(),
        Msg::DiskDone { file, result } => format!("disk-done {} {:?}", file.0, result.is_ok()),
        Msg::Journal { from, items, .. } => {
            format!("journal from t{} items {}", from.0, items.len())
        }
        Msg::JournalDurable { ticket } => format!("journal durable {ticket}"),
        Msg::Terminate => "terminate".into(),
    }
}
