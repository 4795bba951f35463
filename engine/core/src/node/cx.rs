//! The effect boundary of a thread's step: the messages a thread's engine takes (`Msg`), the
//! effects it asks of the driver (`Effect`), and `Cx`: the environment (`env::Env`: clocks,
//! seeded RNG, planted bugs, marks) plus the effects the step produced so far. It sits in the
//! node layer because messages carry the node's hops; the layers below see only `Env`.
//!
//! Delivery contract (both drivers): messages between one (sender, receiver) pair arrive in FIFO
//! order; any interleaving across senders; a `Send` to one's own thread is delivered after the
//! current step, never re-entrantly.

use std::ops::{Deref, DerefMut};

pub use crate::env::{fake_fd, ConnId, CxOptions, Env, Plant, Stopwatch, ThreadId, TxIdSource};
use crate::hop::{Hop, HopDone};
use crate::tx::TxId;

/// What a connection speaks: its listener decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Resp,
    /// Memcached's text and meta protocols (`--memcached_port`), with the item size limit.
    Memcache { item_size_max_bytes: usize },
}

/// A new connection handed to the thread that will host it.
#[derive(Clone, Debug)]
pub struct ConnOpen {
    pub conn: ConnId,
    /// "ip:port" of the peer, as CLIENT LIST shows it.
    pub peer_addr: String,
    /// "ip:port" of our listening side.
    pub local_addr: String,
    /// True when the peer is on a loopback address (protected mode lets these in).
    pub peer_is_loopback: bool,
    /// Connections open on the whole node, this one included (the driver counts accepts and
    /// closes); the engine decides whether `maxclients` is exceeded.
    pub clients_total: u64,
    /// The socket's descriptor, as CLIENT LIST's `fd=` shows it (a simulator makes one up).
    pub fd: i32,
    pub protocol: Protocol,
}

/// Timers a thread can arm. A stale or repeated firing is a no-op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// The shard's paced active-expiry sweep.
    ExpirySweep,
    /// Wake a connection that paused itself (DEBUG SLEEP).
    ConnWake(ConnId),
    /// A blocked connection's timeout; `seq` names the blocking command it is for.
    BlockTimeout { conn: ConnId, seq: u64 },
    /// The shard's part of a snapshot moves on while the thread is otherwise idle.
    SnapshotStep,
    /// `appendfsync everysec`: fsync the append-only file (thread 0).
    AofFsync,
}

/// Inputs to a thread's engine.
#[derive(Debug)]
pub enum Msg {
    ConnOpen(ConnOpen),
    /// Bytes read from the connection's socket.
    ConnData {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    /// The driver has handed `bytes_len` bytes of earlier `Write`s to the socket.
    ConnWritten {
        conn: ConnId,
        bytes_len: usize,
    },
    /// The peer shut its sending side (end of stream): the engine runs what it has read,
    /// then answers `Close`, as Redis replies to a half-closed client before closing it.
    ConnInputEnded {
        conn: ConnId,
    },
    /// The peer went away (or the driver closed it after a `Close`).
    ConnClosed {
        conn: ConnId,
    },
    Timer(Timer),
    /// Work for this thread's shard, from a coordinator on some thread.
    Hop(Hop),
    /// Results of a hop, back to the coordinating connection's thread.
    HopDone(HopDone),
    /// Between a save's job and the shards (`node::persist`).
    Persist(crate::node::persist::PersistMsg),
    /// The outcome of a file operation this thread asked for (`Effect::Disk`).
    DiskDone {
        file: FileId,
        result: Result<DiskOutcome, String>,
    },
    /// A shard's journal items, to the journal's writer on thread 0 (`node::journal`).
    Journal {
        from: ThreadId,
        /// The batch's ticket under `appendfsync always` (0: none).
        ticket: u64,
        items: Vec<crate::journal::Item>,
    },
    /// From the journal's writer: every batch with a ticket up to `ticket` is durable.
    JournalDurable {
        ticket: u64,
    },
    /// The process got SIGTERM or SIGINT: stop as SHUTDOWN without arguments would (saving
    /// first when a `save` schedule is set). Sent to thread 0.
    Terminate,
}

/// Names a file the engine opened through `DiskOp::Create`, or a one-off read; chosen by the
/// engine, unique per thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileId(pub u64);

/// A file operation. The driver runs a thread's operations on one file in the order asked, off
/// the engine's thread, and answers each with `Msg::DiskDone`. Paths are relative to the
/// server's working directory unless absolute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskOp {
    /// Creates `path`, or truncates it, for writing.
    Create {
        path: String,
    },
    Append {
        bytes: Vec<u8>,
    },
    /// Makes everything appended so far durable (fsync).
    Sync,
    /// Closes the file and renames it over `to` (Redis writes `temp-<pid>.rdb`, then renames).
    CloseAndRename {
        to: String,
    },
    /// Closes the file and removes it (a failed save's temporary file).
    Discard,
    /// Reads the whole file at `path` (no `Create` needed).
    ReadAll {
        path: String,
    },
    /// Creates directory `path` if it does not exist (no file is opened).
    CreateDir {
        path: String,
    },
    /// Opens `path` for appending, creating it if absent (the append-only file after a load).
    OpenAppend {
        path: String,
    },
}

/// What a file operation gave back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskOutcome {
    Done,
    Read(Vec<u8>),
    /// `ReadAll` of a file that does not exist.
    NotFound,
}

/// Outputs of a step, carried out by the driver after the step returns.
#[derive(Debug)]
pub enum Effect {
    /// Deliver `msg` to thread `to` (possibly this one, after the current step).
    Send { to: ThreadId, msg: Msg },
    /// Append bytes to the connection's socket output.
    Write { conn: ConnId, bytes: Vec<u8> },
    /// Close the connection once earlier writes are flushed; the driver answers `ConnClosed`.
    Close { conn: ConnId },
    /// Close the connection now, discarding output not yet written (a subscriber over its
    /// output limit); the driver answers `ConnClosed`.
    Abort { conn: ConnId },
    /// Stop or resume reading the connection's socket (backpressure).
    ReadInterest { conn: ConnId, enabled: bool },
    /// Deliver `Msg::Timer(timer)` to this thread at or after `at_mono_us`.
    ArmTimer { timer: Timer, at_mono_us: u64 },
    /// Stop the whole node (SHUTDOWN).
    Shutdown,
    /// A line for the server log. The engine rate-limits what could flood it.
    Log { level: LogLevel, text: &'static str },
    /// A file operation, answered by `Msg::DiskDone`.
    Disk { file: FileId, op: DiskOp },
}

/// How much a log line matters (Redis's LL_WARNING and LL_VERBOSE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Warning,
    Verbose,
}

/// One thread's environment plus the effects of its current step. The driver sets the clocks
/// before each step and drains the effects after it. It reads as its `Env` (clocks, RNG,
/// plants, marks) through `Deref`.
pub struct Cx {
    env: Env,
    effects: Vec<Effect>,
}

impl Deref for Cx {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl DerefMut for Cx {
    fn deref_mut(&mut self) -> &mut Env {
        &mut self.env
    }
}

impl Cx {
    pub fn new(seed: u64, options: CxOptions) -> Cx {
        Cx {
            env: Env::new(seed, options),
            effects: Vec::new(),
        }
    }

    /// The environment alone, for code below the node layer (a shard's command handlers).
    pub fn env(&mut self) -> &mut Env {
        &mut self.env
    }

    pub fn push(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    pub fn send(&mut self, to: ThreadId, msg: Msg) {
        self.effects.push(Effect::Send { to, msg });
    }

    /// The effects of the step so far, handed to the driver.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Drains effects into the caller's buffer, keeping both allocations alive.
    pub fn drain_effects_into(&mut self, out: &mut Vec<Effect>) {
        out.append(&mut self.effects);
    }

    /// A fresh transaction id, higher than every one handed out before on any thread.
    pub fn next_txid(&mut self) -> TxId {
        TxId(self.env.next_txid_number())
    }
}
