//! One proactor thread: a tokio `current_thread` runtime with a `LocalSet`, owning one engine
//! `Node` (its shard and the connections it hosts) and that node's `Cx`.
//!
//! Every input becomes one engine step: set the clocks on the `Cx`, call `on_msg`, then carry
//! out the effects in order. Effects never call back into the engine: a `Send` to this thread, a
//! `ConnWritten` for bytes the router just wrote, or a `ConnClosed` go to a local FIFO that is
//! stepped after the current step (the delivery contract: FIFO per sender, no re-entrancy).
//! The engine state lives in a `RefCell` that is borrowed only by synchronous code, never across
//! an `.await`; a second borrow would be a driver bug and panics with that message.
//!
//! This file is the epoll backend (`--io_backend=epoll`) and what both backends share (the
//! mailboxes, the setup, the hand-off of accepted connections); uring.rs is the io_uring loop.
//!
//! Tasks on the thread: the mailbox loop (cross-thread messages, new connections, due timers),
//! one task per connection (`conn.rs`), and on thread 0 the accept loop. Timers live on a helper
//! thread (`timer.rs`), so the runtime runs without tokio's time driver. Thread 0 accepts
//! for everyone and deals connections round-robin (see `server.rs` for why).

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use damselfly_core::config::Config;
use damselfly_core::cx::{
    ConnId, ConnOpen, Cx, CxOptions, Effect, LogLevel, Msg, Protocol, Stopwatch, ThreadId, Timer,
    TxIdSource,
};
use damselfly_core::node::commands::server::ServerInfo;
use damselfly_core::node::Node;
use tokio::io::Interest;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::conn::{self, ConnIo};
use crate::flags::IoBackend;
use crate::mailbox::{Mailbox, Signal, ThreadWake};
use crate::timer::Timers;

/// One read takes at most this much from a socket (into the thread's one buffer).
pub const READ_BUFFER_BYTES: usize = 64 * 1024;
/// After a failed accept (out of file descriptors, say), wait before the next one rather than
/// spin on an error that will not go away at once.
pub const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(10);

/// What the timer thread wakes a proactor thread for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wake {
    Engine(Timer),
    /// The accept loop's pause after a failed accept is over.
    AcceptRetry,
    /// Time for the thread's allocator collect and RSS report (`memory_loop`).
    MemoryReport,
}

/// What a thread's mailbox carries.
pub enum Inbound {
    /// An engine message from another thread (`Effect::Send`).
    Msg(Msg),
    /// A connection accepted by thread 0, to be hosted here.
    Conn(NewConn),
    /// A timer of the driver itself fell due (uring backend: the timer helper posts here; the
    /// epoll backend's timers wake their tasks directly).
    Wake(Wake),
}

pub struct NewConn {
    pub id: ConnId,
    pub stream: std::net::TcpStream,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// Connections open on the node when this one was accepted, this one included.
    pub clients_total: u64,
    /// RESP, or Memcached for `--memcached_port`.
    pub protocol: Protocol,
}

/// What threads tell the supervisor (the main thread).
pub enum Control {
    /// The engine asked the node to stop (SHUTDOWN).
    Shutdown { thread: ThreadId },
    /// A thread ended; before a shutdown was asked, that is a failure.
    Exited { thread: ThreadId, panicked: bool },
}

/// What all threads share: the mailboxes and the node-wide counters.
pub struct Shared {
    pub mailboxes: Box<[Mailbox<Inbound, ThreadWake>]>,
    pub control: Mailbox<Control>,
    /// Open connections on the node (`ConnOpen::clients_total`).
    pub clients_total: AtomicU64,
    /// The next CLIENT ID; ids start at 1, as in Redis.
    pub next_conn_id: AtomicU64,
    pub clock: Clock,
    /// The node's one transaction counter: every thread's `Cx` shares it (VLL orders
    /// transactions by it across shards).
    pub txids: TxIdSource,
    /// The journal's batch tickets, shared by all threads (`appendfsync always`).
    pub journal_tickets: damselfly_core::env::JournalTickets,
    /// SLOWLOG entry ids, node-wide (every thread's `Cx` shares it).
    pub slowlog_ids: TxIdSource,
    /// File operations, for the disk thread (`disk.rs`).
    pub disk: crate::disk::DiskQueue,
}

impl Shared {
    /// One mailbox per thread, each woken by its `wakes` entry.
    pub fn new(wakes: Vec<ThreadWake>, clock: Clock) -> Shared {
        Shared {
            mailboxes: wakes.into_iter().map(Mailbox::new).collect(),
            control: Mailbox::new(Notify::new()),
            clients_total: AtomicU64::new(0),
            txids: TxIdSource::default(),
            journal_tickets: Default::default(),
            slowlog_ids: TxIdSource::default(),
            next_conn_id: AtomicU64::new(1),
            clock,
            disk: crate::disk::DiskQueue::default(),
        }
    }
}

/// Everything a thread needs to start.
pub struct Setup {
    pub thread: ThreadId,
    pub config: Config,
    pub info: ServerInfo,
    /// Seeds the node and its `Cx` (different streams derived from it).
    pub seed: u64,
    /// The listening socket, for the thread that accepts.
    pub listener: Option<std::net::TcpListener>,
    pub shared: Arc<Shared>,
    /// Planted bugs (`--plant`, tests only): `CxOptions::plants`.
    pub plants: u64,
    pub backend: IoBackend,
    /// Keys loaded from the RDB file for this thread's shard: (database, entry).
    pub preload: Vec<(u16, damselfly_core::db::Entry)>,
}

pub fn spawn(setup: Setup) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("proactor-{}", setup.thread.0))
        .spawn(move || thread_main(setup))
}

/// The engine asked the node to stop (SHUTDOWN): tell the supervisor.
pub(crate) fn ask_shutdown(shared: &Shared, thread: ThreadId) {
    tracing::info!(thread = thread.0, "SHUTDOWN requested");
    // Refused only when the supervisor is already stopping the node.
    drop(shared.control.push(Control::Shutdown { thread }));
}

/// Writes an engine's log line (`Effect::Log`): Redis's warnings at warn, its verbose lines at
/// debug (Redis's default `loglevel notice` hides them too).
pub(crate) fn log_engine(thread: ThreadId, level: LogLevel, text: &str) {
    match level {
        LogLevel::Warning => tracing::warn!(thread = thread.0, "{text}"),
        LogLevel::Verbose => tracing::debug!(thread = thread.0, "{text}"),
    }
}

/// Tells the supervisor that this thread ended, however it ended (a panic included).
struct ExitNotice {
    thread: ThreadId,
    shared: Arc<Shared>,
}

impl Drop for ExitNotice {
    fn drop(&mut self) {
        let notice = Control::Exited {
            thread: self.thread,
            panicked: std::thread::panicking(),
        };
        // Refused only once the supervisor stopped listening: it is shutting down anyway.
        drop(self.shared.control.push(notice));
    }
}

fn thread_main(setup: Setup) {
    let _notice = ExitNotice {
        thread: setup.thread,
        shared: Arc::clone(&setup.shared),
    };
    if setup.backend == IoBackend::Uring {
        crate::uring::run(setup);
        return;
    }
    // No time driver: see timer.rs.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build();
    match runtime {
        Ok(runtime) => tokio::task::LocalSet::new().block_on(&runtime, run(setup)),
        Err(err) => tracing::error!(thread = setup.thread.0, %err, "cannot start runtime"),
    }
}

/// What a thread starts from, whatever its socket backend: its engine and `Cx`, and what it
/// shares with the others.
pub struct Started {
    pub thread: ThreadId,
    pub node: Node,
    pub cx: Cx,
    pub listener: Option<std::net::TcpListener>,
    pub shared: Arc<Shared>,
}

/// Builds the thread's engine and its `Cx`, seeded from the setup's seed.
pub fn start_engine(setup: Setup) -> Started {
    let Setup {
        thread,
        config,
        info,
        seed,
        listener,
        shared,
        plants,
        backend: _,
        preload,
    } = setup;
    let threads = u16::try_from(shared.mailboxes.len()).expect("thread count fits ThreadId");
    let mut node = Node::new(thread, threads, config, info, splitmix64(seed));
    let now_ms = shared.clock.wall_us() / 1000;
    for (db, entry) in preload {
        node.shard_mut().db(usize::from(db)).insert(entry, now_ms);
    }
    let clock = shared.clock;
    let options = CxOptions {
        txids: shared.txids.clone(),
        journal_tickets: shared.journal_tickets.clone(),
        slowlog_ids: shared.slowlog_ids.clone(),
        plants,
        stopwatch: Some(Stopwatch(std::sync::Arc::new(move || clock.now_mono_us()))),
        ..CxOptions::default()
    };
    let cx = Cx::new(splitmix64(splitmix64(seed)), options);
    Started {
        thread,
        node,
        cx,
        listener,
        shared,
    }
}

async fn run(setup: Setup) {
    let Started {
        thread,
        node,
        cx,
        listener,
        shared,
    } = start_engine(setup);
    let accept_retry = Arc::new(Notify::new());
    let memory_report = Arc::new(Notify::new());
    let timers = {
        let to = Arc::clone(&shared);
        let accept_retry = Arc::clone(&accept_retry);
        let memory_report = Arc::clone(&memory_report);
        let wake = move |wake| match wake {
            Wake::Engine(timer) => {
                let inbound = Inbound::Msg(Msg::Timer(timer));
                // Refused only once the thread is stopping: the timer no longer matters.
                drop(to.mailboxes[usize::from(thread.0)].push(inbound));
            }
            Wake::AcceptRetry => accept_retry.notify_one(),
            Wake::MemoryReport => memory_report.notify_one(),
        };
        match Timers::start(format!("timers-{}", thread.0), shared.clock, wake) {
            Ok(timers) => timers,
            Err(err) => {
                tracing::error!(thread = thread.0, %err, "cannot start the timer thread");
                return;
            }
        }
    };
    let worker = Rc::new(Worker::new(thread, node, cx, Arc::clone(&shared), timers));
    worker.start();
    tokio::task::spawn_local(memory_loop(Rc::clone(&worker), memory_report));
    if let Some(listener) = listener {
        match TcpListener::from_std(listener) {
            Ok(listener) => {
                let accept = accept_loop(listener, Rc::clone(&worker), accept_retry);
                drop(tokio::task::spawn_local(accept));
            }
            Err(err) => {
                tracing::error!(%err, "cannot register the listener");
                worker.timers.stop();
                return;
            }
        }
    }
    mailbox_loop(&worker).await;
    worker.timers.stop();
    worker.close_all();
}

/// A thread's engine and the I/O state the router needs, borrowed one step at a time.
struct Core {
    node: Node,
    cx: Cx,
    /// Scratch for a step's effects; kept to reuse its allocation.
    effects: Vec<Effect>,
    /// Messages for this thread's engine, stepped after the current step.
    local: VecDeque<Msg>,
    /// Messages for other threads (by thread), sent together at the end of the burst: one
    /// lock and at most one wake-up per destination instead of one per message.
    outbox: Vec<VecDeque<Inbound>>,
    /// The sockets of the connections hosted here (a BTreeMap: no hashing on every write).
    conns: BTreeMap<ConnId, Rc<ConnIo>>,
    /// The socket whose input this burst handles: its reply is written without a search of
    /// `conns`. Cleared at the end of the burst.
    hint: Option<Rc<ConnIo>>,
}

pub struct Worker {
    thread: ThreadId,
    shared: Arc<Shared>,
    core: RefCell<Core>,
    timers: Timers<Wake>,
    /// The thread's one read buffer: a socket is read only when it is ready, and the bytes are
    /// copied out before the next read, so one buffer serves every connection.
    read_buf: RefCell<Box<[u8]>>,
}

impl Worker {
    fn new(
        thread: ThreadId,
        node: Node,
        cx: Cx,
        shared: Arc<Shared>,
        timers: Timers<Wake>,
    ) -> Worker {
        let outbox = shared.mailboxes.iter().map(|_| VecDeque::new()).collect();
        Worker {
            thread,
            shared,
            core: RefCell::new(Core {
                node,
                cx,
                effects: Vec::new(),
                local: VecDeque::new(),
                outbox,
                conns: BTreeMap::new(),
                hint: None,
            }),
            timers,
            read_buf: RefCell::new(vec![0; READ_BUFFER_BYTES].into_boxed_slice()),
        }
    }

    fn start(&self) {
        self.with_core(|core, clock| {
            core.cx.set_time(clock.now_mono_us(), clock.wall_us());
            core.node.start(&mut core.cx);
        });
    }

    /// Steps the engine with `msg` and everything it leads to on this thread.
    pub fn deliver(&self, msg: Msg) {
        self.with_core(|core, _| core.local.push_back(msg));
    }

    /// `deliver` for bytes read from `io`'s socket.
    pub fn deliver_from(&self, io: &Rc<ConnIo>, bytes: Vec<u8>) {
        self.with_core(|core, _| {
            core.hint = Some(Rc::clone(io));
            core.local.push_back(Msg::ConnData { conn: io.id, bytes });
        });
    }

    /// `deliver` for several messages in order, in one burst (one clock reading).
    fn deliver_all(&self, msgs: &mut Vec<Msg>) {
        if !msgs.is_empty() {
            self.with_core(|core, _| core.local.extend(msgs.drain(..)));
        }
    }

    /// The peer went away, the socket failed, or a close finished flushing. Idempotent.
    pub fn conn_gone(&self, conn: ConnId) {
        self.with_core(|core, _| core.finish(conn, &self.shared));
    }

    /// Reads what the socket has (at most `READ_BUFFER_BYTES`), into a buffer the engine hands
    /// back when it has consumed it; empty means end of stream.
    ///
    /// A read that leaves room in the buffer has drained the socket, so it clears the socket's
    /// readiness at once (as tokio's own `poll_read` does on epoll, whose edge-triggered events
    /// report any later data anew): the task then waits for the next event instead of paying a
    /// `recv` that could only answer EAGAIN, which cost one wasted syscall per request at
    /// pipeline 1.
    pub fn read_from(&self, stream: &TcpStream) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let mut buf = self.read_buf.borrow_mut();
        let mut drained_len = None;
        let read = stream.try_io(Interest::READABLE, || {
            let len = (&*socket2::SockRef::from(stream)).read(&mut buf)?;
            if len > 0 && len < buf.len() {
                drained_len = Some(len);
                // Not an error: the one way to tell tokio that readiness is used up.
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
            Ok(len)
        });
        let len = match (read, drained_len) {
            (_, Some(len)) | (Ok(len), None) => len,
            (Err(err), None) => return Err(err),
        };
        let mut bytes = self.core.borrow_mut().cx.take_buffer();
        bytes.extend_from_slice(&buf[..len]);
        Ok(bytes)
    }

    /// Runs `f` on the engine state, then steps every queued local message and routes effects.
    fn with_core(&self, f: impl FnOnce(&mut Core, Clock)) {
        let mut guard = self
            .core
            .try_borrow_mut()
            .expect("re-entrant engine step: effects must not call back into the engine");
        let core = &mut *guard;
        let clock = self.shared.clock;
        f(core, clock);
        let mut effects = std::mem::take(&mut core.effects);
        // One clock reading serves every step of this burst: they follow each other within
        // microseconds, and a clock read costs more than a whole pipelined GET.
        let mut clock_read = false;
        loop {
            core.cx.drain_effects_into(&mut effects);
            for effect in effects.drain(..) {
                self.route(core, effect);
            }
            let Some(msg) = core.local.pop_front() else {
                break;
            };
            if !clock_read {
                core.cx.set_time(clock.now_mono_us(), clock.wall_us());
                clock_read = true;
            }
            core.node.on_msg(msg, &mut core.cx);
        }
        core.effects = effects;
        core.hint = None;
        send_outboxes(&mut core.outbox, &self.shared, |to| {
            self.shared.mailboxes[to].signal().notify();
        });
    }

    fn route(&self, core: &mut Core, effect: Effect) {
        match effect {
            Effect::Send { to, msg } if to == self.thread => core.local.push_back(msg),
            Effect::Send { to, msg } => {
                core.outbox[usize::from(to.0)].push_back(Inbound::Msg(msg));
            }
            Effect::Write { conn, bytes } => core.write(conn, bytes),
            Effect::Close { conn } => {
                let flushed = core.conns.get(&conn).is_some_and(|io| io.begin_close());
                if flushed {
                    core.finish(conn, &self.shared);
                }
            }
            Effect::Abort { conn } => {
                if let Some(io) = core.conns.get(&conn) {
                    io.discard_output();
                }
                core.finish(conn, &self.shared);
            }
            Effect::ReadInterest { conn, enabled } => {
                if let Some(io) = core.conns.get(&conn) {
                    io.set_reading(enabled);
                }
            }
            Effect::ArmTimer { timer, at_mono_us } => {
                self.timers.arm(at_mono_us, Wake::Engine(timer));
            }
            Effect::Shutdown => ask_shutdown(&self.shared, self.thread),
            Effect::Log { level, text } => log_engine(self.thread, level, text),
            Effect::Disk { file, op } => self.shared.disk.push(crate::disk::DiskRequest {
                thread: self.thread,
                file,
                op,
            }),
        }
    }

    /// Hosts a connection accepted by thread 0 and tells the engine.
    fn open_conn(self: &Rc<Self>, new: NewConn) {
        let NewConn {
            id,
            stream,
            peer,
            local,
            clients_total,
            protocol,
        } = new;
        let stream = match TcpStream::from_std(stream) {
            Ok(stream) => stream,
            Err(err) => {
                tracing::warn!(conn = id.0, %err, "cannot register connection");
                self.shared.clients_total.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        };
        // Replies are written whole, once per step: Nagle would only delay them.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(conn = id.0, %err, "TCP_NODELAY");
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let io = Rc::new(ConnIo::new(id, stream));
        let open = ConnOpen {
            conn: id,
            peer_addr: peer.to_string(),
            local_addr: local.to_string(),
            peer_is_loopback: peer.ip().to_canonical().is_loopback(),
            clients_total,
            fd,
            protocol,
        };
        tokio::task::spawn_local(conn::run(Rc::clone(self), Rc::clone(&io)));
        self.with_core(|core, _| {
            core.conns.insert(id, io);
            core.local.push_back(Msg::ConnOpen(open));
        });
    }

    /// At shutdown: a last flush attempt, then close every socket. The engine is not told; it
    /// is dropped right after.
    fn close_all(&self) {
        let conns = std::mem::take(&mut self.core.borrow_mut().conns);
        tracing::debug!(
            thread = self.thread.0,
            conns = conns.len(),
            "closing connections"
        );
        for io in conns.into_values() {
            if let Err(err) = io.flush() {
                tracing::debug!(conn = io.id.0, %err, "last flush failed");
            }
            io.finish();
            self.shared.clients_total.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Core {
    fn write(&mut self, conn: ConnId, bytes: Vec<u8>) {
        // A connection already gone has no one to read its output (a hinted one that went
        // is `Done`, and its `write` takes nothing).
        let io = match &self.hint {
            Some(io) if io.id == conn => Some(io),
            _ => self.conns.get(&conn),
        };
        let Some(io) = io else {
            self.cx.recycle_buffer(bytes);
            return;
        };
        let (bytes_len, emptied) = io.write(bytes);
        if let Some(buffer) = emptied {
            self.cx.recycle_buffer(buffer);
        }
        if bytes_len > 0 {
            self.local.push_back(Msg::ConnWritten { conn, bytes_len });
        }
    }

    /// Forgets the connection and tells the engine, once.
    fn finish(&mut self, conn: ConnId, shared: &Shared) {
        if let Some(io) = self.conns.remove(&conn) {
            io.finish();
            shared.clients_total.fetch_sub(1, Ordering::Relaxed);
            self.local.push_back(Msg::ConnClosed { conn });
        }
    }
}

/// Sends what a burst of steps produced for other threads: one lock per destination instead
/// of one per message, and `wake(to)` only for a destination that said it sleeps. Each backend
/// wakes its own way (epoll: the thread's `Notify`; uring: a message of the sender's ring).
pub fn send_outboxes(
    outboxes: &mut [VecDeque<Inbound>],
    shared: &Shared,
    mut wake: impl FnMut(usize),
) {
    for (to, outbox) in outboxes.iter_mut().enumerate() {
        match shared.mailboxes[to].push_all_unsignalled(outbox) {
            Ok(false) => {}
            Ok(true) => wake(to),
            Err(()) => {
                tracing::debug!(
                    to,
                    dropped = outbox.len(),
                    "messages dropped: thread is stopping"
                );
                outbox.clear();
            }
        }
    }
}

/// Delivers this thread's mail in batches until the supervisor closes the mailbox.
async fn mailbox_loop(worker: &Rc<Worker>) {
    let mailbox = &worker.shared.mailboxes[usize::from(worker.thread.0)];
    let mut batch = VecDeque::new();
    let mut msgs = Vec::new();
    while mailbox.recv(&mut batch).await {
        for inbound in batch.drain(..) {
            match inbound {
                Inbound::Msg(msg) => msgs.push(msg),
                Inbound::Conn(new) => {
                    // In arrival order: what came before the connection goes first.
                    worker.deliver_all(&mut msgs);
                    worker.open_conn(new);
                }
                Inbound::Wake(wake) => {
                    unreachable!("epoll timers wake their tasks directly, not by mail: {wake:?}")
                }
            }
        }
        worker.deliver_all(&mut msgs);
        // Under a steady stream of hops the mailbox is never empty; let the sockets run.
        tokio::task::yield_now().await;
    }
}

/// How often a thread returns its allocator's free pages to the OS and tells its engine the
/// process's resident memory (INFO used_memory_rss).
pub const MEMORY_REPORT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Every `MEMORY_REPORT_INTERVAL`: mimalloc's collect for this thread's heap (the engine keeps
/// its own byte counts and never asks the allocator), then the RSS reading for the engine.
/// The timer helper wakes it (`Wake::MemoryReport`); it re-arms after each report, so a busy
/// thread that reports late skips ticks rather than bunching them.
async fn memory_loop(worker: Rc<Worker>, wake: Arc<Notify>) {
    let interval_us = u64::try_from(MEMORY_REPORT_INTERVAL.as_micros()).unwrap_or(u64::MAX);
    loop {
        let at_mono_us = worker
            .shared
            .clock
            .now_mono_us()
            .saturating_add(interval_us);
        worker.timers.arm(at_mono_us, Wake::MemoryReport);
        wake.notified().await;
        // Forced: it also frees the blocks other threads handed back to this heap (request
        // buffers freed away from home), which a plain collect leaves for later.
        // SAFETY: mi_collect only walks this thread's own heap; it has no preconditions.
        unsafe { libmimalloc_sys::mi_collect(true) };
        let rss_bytes = process_rss_bytes().unwrap_or(0);
        worker.with_core(|core, _| core.node.shard_mut().set_process_rss_bytes(rss_bytes));
    }
}

/// The process's resident bytes from /proc/self/statm (pages × 4 KiB); `None` off Linux.
pub fn process_rss_bytes() -> Option<u64> {
    const PAGE_BYTES: u64 = 4096;
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * PAGE_BYTES)
}

/// Accepts for the whole node and deals connections to threads in turn.
async fn accept_loop(listener: TcpListener, worker: Rc<Worker>, retry: Arc<Notify>) {
    let shared = &worker.shared;
    let mut next = 0;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // Detach from this thread's reactor; the owning thread registers it with its own.
                match stream.into_std() {
                    Ok(stream) => hand_off(shared, stream, peer, next, Protocol::Resp),
                    Err(err) => tracing::warn!(%peer, %err, "cannot hand off connection"),
                }
                next = (next + 1) % shared.mailboxes.len();
            }
            Err(err) => {
                tracing::warn!(%err, "accept failed");
                let delay_us = u64::try_from(ACCEPT_RETRY_DELAY.as_micros()).unwrap_or(u64::MAX);
                let at_mono_us = shared.clock.now_mono_us().saturating_add(delay_us);
                worker.timers.arm(at_mono_us, Wake::AcceptRetry);
                retry.notified().await;
            }
        }
    }
}

/// Deals an accepted connection to thread `to` through its mailbox.
pub fn hand_off(
    shared: &Shared,
    stream: std::net::TcpStream,
    peer: SocketAddr,
    to: usize,
    protocol: Protocol,
) {
    let local = match stream.local_addr() {
        Ok(local) => local,
        Err(err) => {
            tracing::debug!(%peer, %err, "connection gone before hand-off");
            return;
        }
    };
    let new = NewConn {
        id: ConnId(shared.next_conn_id.fetch_add(1, Ordering::Relaxed)),
        stream,
        peer,
        local,
        clients_total: shared.clients_total.fetch_add(1, Ordering::Relaxed) + 1,
        protocol,
    };
    if shared.mailboxes[to].push(Inbound::Conn(new)).is_err() {
        // The node is stopping; dropping the stream closes it.
        shared.clients_total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// SplitMix64: spreads a seed so that nearby seeds (process seed + thread) give unrelated streams.
pub fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::splitmix64;

    #[test]
    fn neighbouring_seeds_give_unrelated_streams() {
        let a = splitmix64(41);
        let b = splitmix64(42);
        assert_ne!(a, b);
        assert!((a ^ b).count_ones() > 10, "{a:x} {b:x}");
        assert_eq!(splitmix64(42), splitmix64(42));
    }
}
