//! A small deterministic driver for unit tests: N nodes in one thread, messages delivered in
//! FIFO order, a manual clock. Family tests use it to run commands through the real decoder,
//! dispatch and encoder, on one shard or several. (The simulator in sim/ is the adversarial
//! version of this: random delays, chunking and faults.)

use std::collections::{BTreeMap, VecDeque};

use crate::config::Config;
use crate::cx::{ConnId, ConnOpen, Cx, CxOptions, Effect, LogLevel, Msg, ThreadId, Timer};
use crate::node::commands::server::ServerInfo;
use crate::node::Node;

/// Steps one `run` may take before the cluster is declared stuck.
const STEPS_MAX: usize = 1_000_000;

pub struct TestCluster {
    nodes: Vec<Node>,
    cxs: Vec<Cx>,
    queue: VecDeque<(ThreadId, Msg)>,
    timers: Vec<(u64, ThreadId, Timer)>,
    conn_thread: BTreeMap<ConnId, ThreadId>,
    output: BTreeMap<ConnId, Vec<u8>>,
    closed: BTreeMap<ConnId, bool>,
    next_conn: u64,
    now_mono_us: u64,
    wall_us: u64,
    shutdown: bool,
    /// Log lines the engine emitted, in order.
    logs: Vec<(LogLevel, &'static str)>,
    /// Connections whose peer reads nothing (`stall_output`).
    stalled: Vec<ConnId>,
    /// The disk the nodes' file operations run on.
    pub disk: crate::node::memdisk::MemDisk,
}

impl TestCluster {
    pub fn new(threads: u16) -> TestCluster {
        TestCluster::with_config(threads, Config::default())
    }

    pub fn with_config(threads: u16, config: Config) -> TestCluster {
        TestCluster::with_plants(threads, config, &[])
    }

    /// A cluster whose engines carry planted bugs: tests that show a check catches them.
    pub fn with_plants(threads: u16, config: Config, plants: &[crate::env::Plant]) -> TestCluster {
        let options = CxOptions {
            verify: true,
            plants: plants.iter().fold(0, |bits, &p| bits | (1u64 << p as u8)),
            ..CxOptions::default()
        };
        let mut cluster = TestCluster {
            nodes: Vec::new(),
            cxs: Vec::new(),
            queue: VecDeque::new(),
            timers: Vec::new(),
            conn_thread: BTreeMap::new(),
            output: BTreeMap::new(),
            closed: BTreeMap::new(),
            next_conn: 1,
            now_mono_us: 1_000_000,
            // 2026-01-01T00:00:00Z, so deadlines look like real unix times.
            wall_us: 1_767_225_600_000_000,
            shutdown: false,
            logs: Vec::new(),
            stalled: Vec::new(),
            disk: Default::default(),
        };
        for t in 0..threads {
            let server = ServerInfo {
                damselfly_version: "test".into(),
                multiplexing_api: "epoll".into(),
                started_mono_us: cluster.now_mono_us,
                started_wall_ms: cluster.wall_us / 1000,
                ..ServerInfo::default()
            };
            let node = Node::new(
                ThreadId(t),
                threads,
                config.clone(),
                server,
                1000 + u64::from(t),
            );
            cluster.nodes.push(node);
            cluster.cxs.push(Cx::new(u64::from(t) + 1, options.clone()));
        }
        for t in 0..threads as usize {
            cluster.cxs[t].set_time(cluster.now_mono_us, cluster.wall_us);
            cluster.nodes[t].start(&mut cluster.cxs[t]);
            cluster.route(ThreadId(t as u16));
        }
        cluster
    }

    pub fn node(&self, thread: u16) -> &Node {
        &self.nodes[thread as usize]
    }

    /// Puts a key straight into thread `thread`'s shard, as loading at start does.
    pub fn preload(&mut self, thread: u16, db: u16, entry: crate::db::Entry) {
        self.nodes[thread as usize]
            .shard_mut()
            .db(usize::from(db))
            .insert(entry, 0);
    }

    /// Starts every node's journal (before any command runs).
    pub fn start_journal(&mut self) {
        for node in &mut self.nodes {
            node.start_journal();
        }
    }

    /// The replayable bytes the journal's writer produced since the last call.
    pub fn take_journal_bytes(&mut self) -> Vec<u8> {
        self.nodes[0]
            .journal_writer
            .as_mut()
            .map(crate::node::journal::JournalWriter::take_bytes)
            .unwrap_or_default()
    }

    /// Journal parts still waiting for their transaction's other parts.
    pub fn journal_waiting(&self) -> usize {
        self.nodes[0]
            .journal_writer
            .as_ref()
            .map_or(0, crate::node::journal::JournalWriter::waiting)
    }

    pub fn wall_ms(&self) -> u64 {
        self.wall_us / 1000
    }

    pub fn shutdown_requested(&self) -> bool {
        self.shutdown
    }

    /// Opens a connection hosted on `thread`.
    pub fn connect(&mut self, thread: u16) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conn_thread.insert(conn, ThreadId(thread));
        let open = ConnOpen {
            conn,
            peer_addr: format!("127.0.0.1:{}", 40000 + conn.0),
            local_addr: "127.0.0.1:6379".into(),
            peer_is_loopback: true,
            clients_total: self.conn_thread.len() as u64,
            fd: crate::cx::fake_fd(conn.0),
            protocol: Default::default(),
        };
        self.queue
            .push_back((ThreadId(thread), Msg::ConnOpen(open)));
        self.run();
        conn
    }

    /// Sends raw bytes and runs until quiet; returns everything the connection received since
    /// the last call.
    pub fn send(&mut self, conn: ConnId, bytes: &[u8]) -> Vec<u8> {
        let thread = self.conn_thread[&conn];
        self.queue.push_back((
            thread,
            Msg::ConnData {
                conn,
                bytes: bytes.to_vec(),
            },
        ));
        self.run();
        self.take_output(conn)
    }

    /// Queues raw bytes for the connection without running anything: several clients' requests
    /// queued this way interleave message by message when `run_queued` runs them.
    pub fn queue_bytes(&mut self, conn: ConnId, bytes: &[u8]) {
        let thread = self.conn_thread[&conn];
        let msg = Msg::ConnData {
            conn,
            bytes: bytes.to_vec(),
        };
        self.queue.push_back((thread, msg));
    }

    /// Runs everything queued until quiet.
    pub fn run_queued(&mut self) {
        self.run();
    }

    /// Delivers the next queued message only; false when nothing was queued.
    pub fn step(&mut self) -> bool {
        let Some((thread, msg)) = self.queue.pop_front() else {
            return false;
        };
        let t = thread.0 as usize;
        self.cxs[t].set_time(self.now_mono_us, self.wall_us);
        self.nodes[t].on_msg(msg, &mut self.cxs[t]);
        self.route(thread);
        true
    }

    /// Runs one command given as arguments; returns the raw reply bytes.
    pub fn cmd(&mut self, conn: ConnId, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.cmd_bytes(conn, &args)
    }

    pub fn cmd_bytes(&mut self, conn: ConnId, args: &[&[u8]]) -> Vec<u8> {
        let mut frame = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            frame.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            frame.extend_from_slice(arg);
            frame.extend_from_slice(b"\r\n");
        }
        self.send(conn, &frame)
    }

    /// Like `cmd`, with the reply as text for readable assertions.
    pub fn cmd_text(&mut self, conn: ConnId, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(conn, args)).into_owned()
    }

    pub fn take_output(&mut self, conn: ConnId) -> Vec<u8> {
        self.output.remove(&conn).unwrap_or_default()
    }

    /// The peer hangs up; runs until quiet.
    pub fn hang_up(&mut self, conn: ConnId) {
        let thread = self.conn_thread[&conn];
        self.queue.push_back((thread, Msg::ConnClosed { conn }));
        self.run();
    }

    /// The peer sends `bytes` and shuts its sending side (end of stream) before the engine
    /// has run any of it; runs until quiet and returns what the connection received.
    pub fn send_and_end_input(&mut self, conn: ConnId, bytes: &[u8]) -> Vec<u8> {
        let thread = self.conn_thread[&conn];
        let data = Msg::ConnData {
            conn,
            bytes: bytes.to_vec(),
        };
        self.queue.push_back((thread, data));
        self.queue.push_back((thread, Msg::ConnInputEnded { conn }));
        self.run();
        self.take_output(conn)
    }

    /// Log lines emitted so far.
    pub fn logs(&self) -> &[(LogLevel, &'static str)] {
        &self.logs
    }

    /// The peer stops reading: writes to it are never reported done from now on.
    pub fn stall_output(&mut self, conn: ConnId) {
        self.stalled.push(conn);
    }

    pub fn is_closed(&self, conn: ConnId) -> bool {
        self.closed.contains_key(&conn)
    }

    /// Moves both clocks forward and fires the timers that fall due.
    pub fn advance_ms(&mut self, ms: u64) {
        self.now_mono_us += ms * 1000;
        self.wall_us += ms * 1000;
        let now = self.now_mono_us;
        let (due, later): (Vec<_>, Vec<_>) = self.timers.drain(..).partition(|t| t.0 <= now);
        self.timers = later;
        for (_, thread, timer) in due {
            self.queue.push_back((thread, Msg::Timer(timer)));
        }
        self.run();
    }

    fn run(&mut self) {
        for _ in 0..STEPS_MAX {
            let Some((thread, msg)) = self.queue.pop_front() else {
                return;
            };
            let t = thread.0 as usize;
            self.cxs[t].set_time(self.now_mono_us, self.wall_us);
            self.nodes[t].on_msg(msg, &mut self.cxs[t]);
            self.route(thread);
        }
        panic!("test cluster did not go quiet in {STEPS_MAX} steps");
    }

    fn route(&mut self, thread: ThreadId) {
        for effect in self.cxs[thread.0 as usize].take_effects() {
            match effect {
                Effect::Send { to, msg } => self.queue.push_back((to, msg)),
                Effect::Write { conn, bytes } => {
                    let len = bytes.len();
                    if self.stalled.contains(&conn) {
                        // A peer that reads nothing: the bytes stay queued in the driver.
                        continue;
                    }
                    self.output
                        .entry(conn)
                        .or_default()
                        .extend_from_slice(&bytes);
                    self.queue.push_back((
                        thread,
                        Msg::ConnWritten {
                            conn,
                            bytes_len: len,
                        },
                    ));
                }
                Effect::Close { conn } | Effect::Abort { conn } => {
                    self.closed.insert(conn, true);
                    self.queue.push_back((thread, Msg::ConnClosed { conn }));
                }
                Effect::ReadInterest { .. } => {}
                Effect::ArmTimer { timer, at_mono_us } => {
                    self.timers.push((at_mono_us, thread, timer))
                }
                Effect::Shutdown => self.shutdown = true,
                Effect::Log { level, text } => self.logs.push((level, text)),
                Effect::Disk { file, op } => {
                    let result = self.disk.apply(thread, file, op);
                    self.queue
                        .push_back((thread, Msg::DiskDone { file, result }));
                }
            }
        }
    }
}

/// A family test's client: one connection to a cluster of `threads`, commands as words, and
/// replies compared as RESP text. `each` runs a test on one shard and on three.
pub struct FamilyTest {
    pub c: TestCluster,
    pub conn: ConnId,
    pub threads: u16,
}

impl FamilyTest {
    pub fn new(threads: u16) -> FamilyTest {
        let mut c = TestCluster::new(threads);
        let conn = c.connect(0);
        FamilyTest { c, conn, threads }
    }

    pub fn run(&mut self, args: &[&str]) -> String {
        self.c.cmd_text(self.conn, args)
    }

    /// Asserts each (command, reply) in order.
    pub fn check(&mut self, steps: &[(&[&str], &str)]) {
        for (args, want) in steps {
            let got = self.run(args);
            assert_eq!(&got, want, "{args:?} on {} threads", self.threads);
        }
    }
}

/// Thread counts every family test runs on: one shard, and three (keys spread over shards).
pub const FAMILY_TEST_THREADS: [u16; 2] = [1, 3];

/// Runs `test` once per thread count of `FAMILY_TEST_THREADS`.
pub fn each(test: impl Fn(&mut FamilyTest)) {
    for threads in FAMILY_TEST_THREADS {
        test(&mut FamilyTest::new(threads));
    }
}
