//! The io_uring backend (`--io_backend=uring`): one event loop per proactor thread that drives
//! the same engine `Node` as the epoll backend (worker.rs), with the same delivery contract.
//!
//! Why: at pipeline 1 the kernel dominates. The epoll backend pays an `epoll_wait`, a `recv`
//! and a `send` per request; here one `io_uring_enter` submits every send and receive the last
//! batch of completions led to and waits for the next ones (papers/io_uring.md has figures).
//!
//! One turn of the loop:
//! 1. queue: for each connection touched since the last turn, one send of its pending output
//!    (at most one in flight per connection, so output keeps its order), a multishot receive
//!    when the engine wants input and none is armed, or a cancel of the armed one when it no
//!    longer does; re-arm the mailbox wake-up and the accept;
//! 2. submit and wait (one syscall): for one completion, or with many connections for a batch
//!    of them, up to `WAIT_BATCH_MIN_WAIT_US` (fewer wake-ups per request);
//! 3. reap every completion: receive → `ConnData`; send → `ConnWritten`; mailbox wake-up →
//!    the mail; accept → hand-off; then step the engine through all of it in one burst.
//!
//! Receives pick their buffer from the thread's buffer ring (recv_buffers.rs), so an idle
//! connection costs no buffer. A receive is multishot: armed once, it posts a completion per
//! arrival for the connection's life, so the kernel sets up its wait on the socket once, not
//! once per request. It ends (a completion without IORING_CQE_F_MORE) on end of stream, an
//! error, a cancel, or an empty buffer ring (ENOBUFS); the loop then arms a new one if the
//! engine still wants input. Backpressure (`ReadInterest` off) cancels it; bytes that arrive
//! before the cancel lands are delivered as usual (the engine buffers them). Another loop's
//! mail wakes this one by a ring message (IORING_OP_MSG_RING), sent only when this loop said
//! it is going to sleep; the timer helper's (or a refused message's) by an eventfd with a read
//! kept armed. Thread 0 accepts with one multishot accept.
//!
//! Buffers lent to the kernel: a send reads `Conn::out` from its SQE until its completion, so
//! `out` is left untouched while `send_armed` (new output waits in `queued`), and a slot is
//! freed only when neither a send nor a receive is in flight. At shutdown every operation is
//! cancelled and waited for before buffers are freed; if that wait times out, they are leaked.
//!
//! Lifecycle of a connection: `Open` → (end of stream) `InputEnded`: no more receives, the
//! engine runs what it read and replies → (engine's `Close`) `Closing`: no more receives, flush →
//! `Done`: the engine was told `ConnClosed` (once: `slot_of` is the guard), write side shut,
//! operations in flight cancelled; the slot (and the socket) go when the last one completes.

mod recv_buffers;

use std::collections::{BTreeMap, VecDeque};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use damselfly_core::cx::{ConnId, ConnOpen, Cx, Effect, Msg, ThreadId};
use damselfly_core::node::Node;
use io_uring::{cqueue, opcode, squeue, types, IoUring};

use self::recv_buffers::RecvBuffers;
use crate::conn::{Output, Phase};
use crate::mailbox::{Recv, RingWake, Signal, ThreadWake};
use crate::timer::Timers;
use crate::worker::{self, Inbound, NewConn, Setup, Shared, Wake};

/// Submission queue entries; a full queue is submitted early, so this only bounds a batch.
const SQ_ENTRIES: u32 = 1024;
/// Completion queue entries (the kernel keeps overflow aside, so this too bounds a batch).
const CQ_ENTRIES: u32 = 4096;
/// Receive buffers per thread and their size: 2 MiB at most, touched only as data arrives.
const RECV_BUFFERS: u16 = 128;
const RECV_BUFFER_BYTES: u32 = 16 * 1024;
/// Our one buffer group id per ring.
const RECV_BUFFER_GROUP: u16 = 0;
/// Waiting for a batch of completions (kernel 6.12+): with `n` connections the loop waits for
/// `n / WAIT_BATCH_CONNS_PER_COMPLETION` completions (at most `WAIT_BATCH_MAX`) for up to
/// `WAIT_BATCH_MIN_WAIT_US`, then returns at the first. Few connections: wait for one.
const WAIT_BATCH_CONNS_PER_COMPLETION: usize = 4;
const WAIT_BATCH_MAX: usize = 16;
const WAIT_BATCH_MIN_WAIT_US: u32 = 50;
/// How long a stopping thread waits for its cancelled operations before it leaks their buffers.
const SHUTDOWN_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether this kernel has what the loop needs: a ring, and the operations it submits.
pub fn probe() -> std::io::Result<()> {
    let ring = IoUring::new(2)?;
    let mut probe = io_uring::Probe::new();
    ring.submitter().register_probe(&mut probe)?;
    let needed = [
        opcode::Recv::CODE,
        opcode::Send::CODE,
        opcode::Read::CODE,
        opcode::AcceptMulti::CODE,
        opcode::AsyncCancel2::CODE,
    ];
    if !needed.iter().all(|&code| probe.is_supported(code)) {
        return Err(unsupported("the kernel lacks an io_uring operation we use"));
    }
    if !multishot_recv_works()? {
        return Err(unsupported("the kernel lacks multishot receives (6.0+)"));
    }
    Ok(())
}

/// A message from thread `from`'s ring that posts `Op::Mail` on thread `to`'s ring (`ring_fd`);
/// the sender hears back only if it fails (`Op::MailSent`).
fn wake_message(ring_fd: i32, from: u32, to: u32) -> squeue::Entry {
    opcode::MsgRingData::new(types::Fd(ring_fd), 0, Op::Mail.user_data(from), None)
        .build()
        .flags(squeue::Flags::SKIP_SUCCESS)
        .user_data(Op::MailSent.user_data(to))
}

/// Whether rings can wake each other with messages that post nothing back on success.
fn ring_messages_work(ring: &IoUring) -> bool {
    let mut probe = io_uring::Probe::new();
    ring.submitter().register_probe(&mut probe).is_ok()
        && probe.is_supported(opcode::MsgRingData::CODE)
        && ring.params().is_feature_skip_cqe_on_success()
}

fn unsupported(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::Unsupported, what)
}

/// Whether a multishot receive stays armed after its first completion. The opcode probe cannot
/// tell (the multishot flag rides on IORING_OP_RECV, which 5.19 has without it), so this arms
/// one on a socket pair with one byte waiting and looks at the completion.
fn multishot_recv_works() -> std::io::Result<bool> {
    use std::io::Write;
    let mut ring = IoUring::new(4)?;
    let buffers = RecvBuffers::new(2, 64, RECV_BUFFER_GROUP);
    buffers.register(&ring)?;
    let (ours, mut peer) = std::os::unix::net::UnixStream::pair()?;
    peer.write_all(b"x")?;
    let recv = opcode::RecvMulti::new(types::Fd(ours.as_raw_fd()), RECV_BUFFER_GROUP)
        .build()
        .user_data(1);
    let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::user_data(1))
        .build()
        .user_data(2);
    // SAFETY: the receive writes only into `buffers`, registered above; `finish_probe` waits
    // for its last completion before they are dropped, and leaks them if it cannot.
    unsafe { ring.submission().push(&recv) }.expect("a fresh ring has room");
    ring.submit_and_wait(1)?;
    let first = ring
        .completion()
        .next()
        .expect("submit_and_wait(1) returned");
    let stays_armed = first.result() == 1 && cqueue::more(first.flags());
    if stays_armed {
        // SAFETY: a cancel names no memory.
        unsafe { ring.submission().push(&cancel) }.expect("the ring has room");
    }
    finish_probe(&mut ring, buffers, !cqueue::more(first.flags()));
    Ok(stays_armed)
}

/// Waits (briefly) for the probe receive's last completion, then frees its buffers; if it does
/// not come, the buffers are leaked, not freed, since the kernel may still write them.
fn finish_probe(ring: &mut IoUring, buffers: RecvBuffers, mut recv_over: bool) {
    let wait = types::Timespec::from(Duration::from_millis(100));
    for _ in 0..4 {
        if recv_over {
            break;
        }
        let args = types::SubmitArgs::new().timespec(&wait);
        if let Err(err) = ring.submitter().submit_with_args(1, &args) {
            tracing::debug!(%err, "waiting for the probe receive");
        }
        for cqe in ring.completion() {
            recv_over |= cqe.user_data() == 1 && !cqueue::more(cqe.flags());
        }
    }
    if recv_over {
        drop(buffers);
    } else {
        std::mem::forget(buffers);
    }
}

/// A thread's mailbox wake-up for this backend: a fresh eventfd.
pub fn new_wake() -> std::io::Result<ThreadWake> {
    // Blocking on purpose: io_uring waits for a blocking file itself, while a non-blocking one
    // could complete the armed read with EAGAIN. Writers never block (see ThreadWake).
    // SAFETY: eventfd has no memory arguments; a negative result is handled.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    let eventfd = unsafe { std::fs::File::from_raw_fd(fd) };
    Ok(ThreadWake::Ring(RingWake {
        eventfd,
        ring_fd: AtomicI32::new(-1),
    }))
}

/// What an operation was for, in the top bits of its `user_data`; the slot is in the low 32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Op {
    Recv = 1,
    Send = 2,
    Cancel = 3,
    Accept = 4,
    Wake = 5,
    /// Another ring's message: mail is waiting (posted by that ring, so never in flight here).
    Mail = 6,
    /// Our message to thread `slot` failed (a success posts nothing here: CQE_SKIP_SUCCESS).
    MailSent = 7,
}

impl Op {
    /// Whether this ring counts the operation in `Loop::in_flight` (it submitted it and waits
    /// for its last completion at shutdown).
    fn in_flight(self) -> bool {
        !matches!(self, Op::Mail | Op::MailSent)
    }

    fn user_data(self, slot: u32) -> u64 {
        (u64::from(self as u8) << 32) | u64::from(slot)
    }

    fn of(user_data: u64) -> (Op, u32) {
        let slot = (user_data & u64::from(u32::MAX)) as u32;
        let op = match user_data >> 32 {
            1 => Op::Recv,
            2 => Op::Send,
            3 => Op::Cancel,
            4 => Op::Accept,
            5 => Op::Wake,
            6 => Op::Mail,
            7 => Op::MailSent,
            other => panic!("completion with unknown operation {other}"),
        };
        (op, slot)
    }
}

struct Conn {
    id: ConnId,
    stream: TcpStream,
    phase: Phase,
    /// The engine's `ReadInterest`.
    reading: bool,
    /// A multishot receive is armed (until its last completion, the one without MORE).
    recv_armed: bool,
    /// The armed receive has been asked to stop (reading off, or closing).
    recv_cancel_sent: bool,
    /// Output lent to the kernel while `send_armed`; otherwise output not yet sent.
    out: Output,
    send_armed: bool,
    /// Output that came while a send was in flight: it follows `out`.
    queued: Vec<u8>,
    cancel_sent: bool,
    /// Listed in `Loop::touched`.
    touched: bool,
}

impl Conn {
    fn nothing_to_send(&self) -> bool {
        self.out.is_empty() && self.queued.is_empty()
    }
}

struct Loop {
    thread: ThreadId,
    shared: Arc<Shared>,
    ring: IoUring,
    node: Node,
    cx: Cx,
    effects: Vec<Effect>,
    /// Messages for this thread's engine, stepped in order after the current step.
    local: VecDeque<Msg>,
    outbox: Vec<VecDeque<Inbound>>,
    /// Connection slots; `user_data` names a slot. A slot is reused only once nothing is in
    /// flight for it, so a completion always finds the connection it was for.
    conns: Vec<Option<Conn>>,
    free_slots: Vec<u32>,
    /// Connections the engine knows about (not yet `ConnClosed`).
    slot_of: BTreeMap<ConnId, u32>,
    /// Slots to look at before the next submit.
    touched: Vec<u32>,
    recv_buffers: RecvBuffers,
    /// The eventfd read's target, lent to the kernel while `wake_armed`.
    wake_buf: Box<u64>,
    wake_armed: bool,
    listener: Option<std::net::TcpListener>,
    accept_armed: bool,
    /// A failed accept waits for `Wake::AcceptRetry` before it is armed again.
    accept_paused: bool,
    next_thread: usize,
    /// Operations submitted and not yet completed (a multishot one counts once).
    in_flight: usize,
    timers: Timers<Wake>,
    mail: VecDeque<Inbound>,
    /// A wake-up completed since the last `take_mail`.
    mail_signalled: bool,
    /// This kernel posts ring-to-ring messages (`Op::Mail`) without a completion for the sender.
    ring_messages: bool,
    stopping: bool,
}

/// The thread's body under this backend: set up, loop until the mailbox closes, stop.
pub fn run(setup: Setup) {
    let worker::Started {
        thread,
        node,
        cx,
        listener,
        shared,
    } = worker::start_engine(setup);
    let timers = {
        let to = Arc::clone(&shared);
        let wake = move |wake| {
            let inbound = match wake {
                Wake::Engine(timer) => Inbound::Msg(Msg::Timer(timer)),
                Wake::AcceptRetry | Wake::MemoryReport => Inbound::Wake(wake),
            };
            // Refused only once the thread is stopping: the timer no longer matters.
            drop(to.mailboxes[usize::from(thread.0)].push(inbound));
        };
        Timers::start(format!("timers-{}", thread.0), shared.clock, wake)
    };
    let started = timers.and_then(|timers| {
        let ring = new_ring()?;
        let recv_buffers = RecvBuffers::new(RECV_BUFFERS, RECV_BUFFER_BYTES, RECV_BUFFER_GROUP);
        recv_buffers.register(&ring)?;
        Ok(Loop::new(
            thread,
            shared,
            ring,
            (node, cx),
            recv_buffers,
            timers,
            listener,
        ))
    });
    match started {
        Ok(mut lp) => {
            lp.start();
            lp.run();
            lp.stop();
        }
        Err(err) => tracing::error!(thread = thread.0, %err, "cannot start the io_uring loop"),
    }
}

fn new_ring() -> std::io::Result<IoUring> {
    // One thread submits and reaps, and completions matter only when it waits: the kernel can
    // then defer its completion work to our `io_uring_enter` instead of interrupting us.
    let mut builder = IoUring::builder();
    builder
        .setup_cqsize(CQ_ENTRIES)
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_submit_all();
    builder.build(SQ_ENTRIES).or_else(|err| {
        tracing::debug!(%err, "io_uring without deferred task work");
        IoUring::builder()
            .setup_cqsize(CQ_ENTRIES)
            .build(SQ_ENTRIES)
    })
}

impl Loop {
    fn new(
        thread: ThreadId,
        shared: Arc<Shared>,
        ring: IoUring,
        (node, cx): (Node, Cx),
        recv_buffers: RecvBuffers,
        timers: Timers<Wake>,
        listener: Option<std::net::TcpListener>,
    ) -> Loop {
        let outbox = shared.mailboxes.iter().map(|_| VecDeque::new()).collect();
        Loop {
            thread,
            shared,
            ring,
            node,
            cx,
            effects: Vec::new(),
            local: VecDeque::new(),
            outbox,
            conns: Vec::new(),
            free_slots: Vec::new(),
            slot_of: BTreeMap::new(),
            touched: Vec::new(),
            recv_buffers,
            wake_buf: Box::new(0),
            wake_armed: false,
            listener,
            accept_armed: false,
            accept_paused: false,
            next_thread: 0,
            in_flight: 0,
            ring_messages: false,
            timers,
            mail: VecDeque::new(),
            mail_signalled: false,
            stopping: false,
        }
    }

    fn start(&mut self) {
        let clock = self.shared.clock;
        self.cx.set_time(clock.now_mono_us(), clock.wall_us());
        self.node.start(&mut self.cx);
        self.ring_messages = ring_messages_work(&self.ring);
        if self.ring_messages {
            let fd = self.ring.as_raw_fd();
            self.own_wake().ring_fd.store(fd, Ordering::Release);
        }
        self.step();
        self.arm_memory_report();
    }

    fn run(&mut self) {
        while !self.stopping {
            self.queue_submissions();
            // The last look before sleeping marks this thread asleep, so other threads signal
            // only then. Mail found here is stepped first; what it adds to the submissions
            // goes with the next wait's syscall rather than one of its own.
            let mailbox = &self.shared.mailboxes[usize::from(self.thread.0)];
            let submitted = match mailbox.try_recv_or_sleep(&mut self.mail) {
                Recv::Empty => self.submit_and_wait(),
                Recv::Items => Ok(0),
                Recv::Closed => {
                    self.stopping = true;
                    Ok(0)
                }
            };
            match submitted {
                Ok(_) => {}
                // A signal, or completions the kernel could not post yet: reap and go on.
                Err(err) if matches!(err.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
                Err(err) => panic!("io_uring_enter failed on thread {}: {err}", self.thread.0),
            }
            self.reap();
            self.take_mail();
            self.step();
        }
    }

    /// Submits what is queued and waits for completions: for one, or, with many connections,
    /// for a batch of them but no longer than `WAIT_BATCH_MIN_WAIT_US` before settling for one.
    fn submit_and_wait(&mut self) -> std::io::Result<usize> {
        let want = (self.slot_of.len() / WAIT_BATCH_CONNS_PER_COMPLETION).clamp(1, WAIT_BATCH_MAX);
        if want == 1 || !self.ring.params().is_feature_min_timeout() {
            return self.ring.submit_and_wait(1);
        }
        let args = types::SubmitArgs::new().min_wait_usec(WAIT_BATCH_MIN_WAIT_US);
        match self.ring.submitter().submit_with_args(want, &args) {
            // The short wait ran out: what has come (perhaps nothing) is reaped as usual.
            Err(err) if err.raw_os_error() == Some(libc::ETIME) => Ok(0),
            other => other,
        }
    }

    /// Queues what every touched connection needs, and the loop's own standing operations.
    fn queue_submissions(&mut self) {
        while let Some(slot) = self.touched.pop() {
            self.queue_conn(slot);
        }
        if !self.wake_armed {
            let wake_fd = self.wake_fd();
            let entry = opcode::Read::new(types::Fd(wake_fd), self.wake_buf_ptr(), 8)
                .build()
                .user_data(Op::Wake.user_data(0));
            // SAFETY: the read fills `wake_buf`, a heap box owned by the loop that is neither
            // touched nor freed while `wake_armed` (`stop` drains every operation first).
            unsafe { self.push(&entry) };
            self.wake_armed = true;
        }
        if let Some(listener) = &self.listener {
            if !self.accept_armed && !self.accept_paused {
                let entry = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd()))
                    .flags(libc::SOCK_CLOEXEC)
                    .build()
                    .user_data(Op::Accept.user_data(0));
                // SAFETY: a multishot accept names no memory.
                unsafe { self.push(&entry) };
                self.accept_armed = true;
            }
        }
    }

    fn queue_conn(&mut self, slot: u32) {
        let conn = self.conns[slot as usize]
            .as_mut()
            .expect("touched slot is live");
        conn.touched = false;
        let fd = conn.stream.as_raw_fd();
        let mut entries: [Option<squeue::Entry>; 2] = [None, None];
        match conn.phase {
            Phase::Done => {
                if !conn.recv_armed && !conn.send_armed {
                    self.free_slot(slot);
                    return;
                }
                if !conn.cancel_sent {
                    conn.cancel_sent = true;
                    let cancel = types::CancelBuilder::fd(types::Fd(fd)).all();
                    entries[0] = Some(
                        opcode::AsyncCancel2::new(cancel)
                            .build()
                            .user_data(Op::Cancel.user_data(slot)),
                    );
                }
            }
            Phase::Open | Phase::InputEnded | Phase::Closing => {
                debug_assert!(
                    conn.send_armed || conn.queued.is_empty(),
                    "output queued behind no send"
                );
                if !conn.send_armed && !conn.out.is_empty() {
                    let pending = conn.out.pending();
                    let len = u32::try_from(pending.len()).unwrap_or(u32::MAX);
                    entries[0] = Some(
                        opcode::Send::new(types::Fd(fd), pending.as_ptr(), len)
                            .flags(libc::MSG_NOSIGNAL)
                            .build()
                            .user_data(Op::Send.user_data(slot)),
                    );
                    conn.send_armed = true;
                }
                entries[1] = recv_entry(conn, slot, self.recv_buffers.group());
            }
        }
        for entry in entries.iter().flatten() {
            // SAFETY: a send reads `conn.out.pending()`, heap bytes of a Vec that stays in its
            // slot untouched while `send_armed` (writes go to `queued`), and the slot is freed
            // only after the send completes. A receive (every shot of it) writes only into a
            // ring buffer the kernel picks (registered for the loop's life), and the slot is
            // freed only after its last completion. A cancel names no memory.
            unsafe { self.push(entry) };
        }
    }

    /// Queues `entry`, submitting first when the queue is full.
    ///
    /// # Safety
    /// Any memory the entry names must stay valid, and unmoved, until its completion.
    unsafe fn push(&mut self, entry: &squeue::Entry) {
        // SAFETY: the caller's promise.
        unsafe { push_entry(&mut self.ring, self.thread, entry) };
        self.in_flight += 1;
    }

    fn wake_fd(&self) -> i32 {
        self.own_wake().eventfd.as_raw_fd()
    }

    fn own_wake(&self) -> &RingWake {
        ring_wake(&self.shared, usize::from(self.thread.0))
    }

    fn wake_buf_ptr(&mut self) -> *mut u8 {
        std::ptr::from_mut::<u64>(&mut self.wake_buf).cast()
    }

    fn touch(&mut self, slot: u32) {
        let conn = self.conns[slot as usize]
            .as_mut()
            .expect("touched slot is live");
        if !conn.touched {
            conn.touched = true;
            self.touched.push(slot);
        }
    }

    /// Handles every completion that has arrived.
    fn reap(&mut self) {
        loop {
            let Some(cqe) = self.ring.completion().next() else {
                break;
            };
            let (op, slot) = Op::of(cqe.user_data());
            if op.in_flight() && !cqueue::more(cqe.flags()) {
                self.in_flight -= 1;
            }
            match op {
                Op::Recv => self.on_recv(slot, cqe.result(), cqe.flags()),
                Op::Send => self.on_sent(slot, cqe.result()),
                Op::Cancel => {}
                Op::Accept => self.on_accept(cqe.result(), cqe.flags()),
                Op::Wake => self.on_wake(cqe.result()),
                Op::Mail => self.mail_signalled = true,
                Op::MailSent => self.on_message_failed(slot, cqe.result()),
            }
        }
    }

    fn on_recv(&mut self, slot: u32, result: i32, flags: u32) {
        let conn = self.conns[slot as usize]
            .as_mut()
            .expect("receive for a live slot");
        if !cqueue::more(flags) {
            // The multishot receive is over; `queue_conn` arms another if input is wanted.
            conn.recv_armed = false;
            conn.recv_cancel_sent = false;
        }
        let phase = conn.phase;
        let id = conn.id;
        let buffer = cqueue::buffer_select(flags);
        match (usize::try_from(result), buffer) {
            (Ok(len), Some(buffer)) if len > 0 => {
                if phase == Phase::Open {
                    let mut bytes = self.cx.take_buffer();
                    bytes.extend_from_slice(self.recv_buffers.filled(buffer, len));
                    self.local.push_back(Msg::ConnData { conn: id, bytes });
                }
                self.recv_buffers.provide(buffer);
            }
            (Ok(_), buffer) => {
                // End of stream (a buffer is picked only for data, but hand back any). The
                // engine still answers what it read, then closes; a close under way goes on.
                if let Some(buffer) = buffer {
                    self.recv_buffers.provide(buffer);
                }
                if phase == Phase::Open {
                    self.conns[slot as usize]
                        .as_mut()
                        .expect("receive for a live slot")
                        .phase = Phase::InputEnded;
                    self.local.push_back(Msg::ConnInputEnded { conn: id });
                }
            }
            // Every buffer was out: they are back before the next submit; receive again then.
            // (Ours too: reading off cancels the receive.)
            (Err(_), _) if result == -libc::ENOBUFS => {}
            (Err(_), _) if result == -libc::ECANCELED => {}
            (Err(_), _) => {
                tracing::debug!(conn = id.0, errno = -result, "receive failed");
                self.finish(slot);
            }
        }
        self.touch(slot);
    }

    fn on_sent(&mut self, slot: u32, result: i32) {
        let conn = self.conns[slot as usize]
            .as_mut()
            .expect("send for a live slot");
        conn.send_armed = false;
        let id = conn.id;
        let sent = usize::try_from(result).unwrap_or(0);
        if conn.phase != Phase::Done && sent > 0 {
            conn.out.start += sent;
            // Output that came while the send was in flight joins `out` now, behind what is left
            // of it: with the send no longer armed, the next write appends to `out`, and bytes
            // still in `queued` would then go out after newer ones (replies out of order).
            if conn.out.is_empty() {
                let queued = Output {
                    bytes: std::mem::take(&mut conn.queued),
                    start: 0,
                };
                let done = std::mem::replace(&mut conn.out, queued);
                self.cx.recycle_buffer(done.bytes);
            } else if !conn.queued.is_empty() {
                conn.out.bytes.extend_from_slice(&conn.queued);
                conn.queued.clear();
            }
            let flushed_close = conn.phase == Phase::Closing && conn.nothing_to_send();
            self.local.push_back(Msg::ConnWritten {
                conn: id,
                bytes_len: sent,
            });
            if flushed_close {
                self.finish(slot);
            }
        } else if conn.phase != Phase::Done {
            tracing::debug!(conn = id.0, errno = -result, "send failed");
            self.finish(slot);
        }
        self.touch(slot);
    }

    fn on_accept(&mut self, result: i32, flags: u32) {
        if !cqueue::more(flags) {
            self.accept_armed = false;
        }
        if result < 0 {
            tracing::warn!(errno = -result, "accept failed");
            if !cqueue::more(flags) {
                self.accept_paused = true;
                let delay_us =
                    u64::try_from(worker::ACCEPT_RETRY_DELAY.as_micros()).unwrap_or(u64::MAX);
                let at_mono_us = self.shared.clock.now_mono_us().saturating_add(delay_us);
                self.timers.arm(at_mono_us, Wake::AcceptRetry);
            }
            return;
        }
        // SAFETY: a successful accept hands us a new descriptor that nothing else owns.
        let stream = unsafe { TcpStream::from_raw_fd(result) };
        match stream.peer_addr() {
            Ok(peer) => {
                let protocol = damselfly_core::cx::Protocol::Resp;
                worker::hand_off(&self.shared, stream, peer, self.next_thread, protocol);
                self.next_thread = (self.next_thread + 1) % self.shared.mailboxes.len();
            }
            Err(err) => tracing::debug!(%err, "connection gone before hand-off"),
        }
    }

    /// The eventfd read completed: another thread (or the timer helper) left mail.
    fn on_wake(&mut self, result: i32) {
        self.wake_armed = false;
        self.mail_signalled = true;
        if result < 0 && result != -libc::ECANCELED {
            tracing::warn!(errno = -result, "mailbox wake-up read failed");
        }
    }

    /// A message to another ring failed (it is stopping, or its ring is gone): its eventfd
    /// still wakes it.
    fn on_message_failed(&mut self, to: u32, result: i32) {
        tracing::debug!(
            to,
            errno = -result,
            "ring message failed; waking by eventfd"
        );
        self.shared.mailboxes[to as usize].signal().notify();
    }

    /// Delivers the mail taken by the look before the wait, and, when a wake-up came in during
    /// it, what is queued now (which also marks this thread awake, so that producers stop
    /// signalling). Without a wake-up nothing was pushed since the look (a push would have
    /// signalled); if one is on its way, the next turn's look, before any sleep, takes it.
    fn take_mail(&mut self) {
        if std::mem::take(&mut self.mail_signalled) {
            let mailbox = &self.shared.mailboxes[usize::from(self.thread.0)];
            if mailbox.try_recv(&mut self.mail) == Recv::Closed {
                self.stopping = true;
            }
        }
        while let Some(inbound) = self.mail.pop_front() {
            match inbound {
                Inbound::Msg(msg) => self.local.push_back(msg),
                Inbound::Conn(new) => self.open_conn(new),
                Inbound::Wake(Wake::AcceptRetry) => self.accept_paused = false,
                Inbound::Wake(Wake::MemoryReport) => self.report_memory(),
                Inbound::Wake(Wake::Engine(timer)) => self.local.push_back(Msg::Timer(timer)),
            }
        }
    }

    fn open_conn(&mut self, new: NewConn) {
        let NewConn {
            id,
            stream,
            peer,
            local,
            clients_total,
            protocol,
        } = new;
        // Replies are sent whole, once per turn: Nagle would only delay them.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(conn = id.0, %err, "TCP_NODELAY");
        }
        let fd = stream.as_raw_fd();
        let conn = Conn {
            id,
            stream,
            phase: Phase::Open,
            reading: true,
            recv_armed: false,
            recv_cancel_sent: false,
            out: Output::default(),
            send_armed: false,
            queued: Vec::new(),
            cancel_sent: false,
            touched: false,
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.conns[slot as usize] = Some(conn);
                slot
            }
            None => {
                self.conns.push(Some(conn));
                u32::try_from(self.conns.len() - 1).expect("slots fit u32")
            }
        };
        self.slot_of.insert(id, slot);
        self.touch(slot);
        self.local.push_back(Msg::ConnOpen(ConnOpen {
            conn: id,
            peer_addr: peer.to_string(),
            local_addr: local.to_string(),
            peer_is_loopback: peer.ip().to_canonical().is_loopback(),
            clients_total,
            fd,
            protocol,
        }));
    }

    fn free_slot(&mut self, slot: u32) {
        let conn = self.conns[slot as usize]
            .take()
            .expect("freeing a live slot");
        assert!(
            !conn.recv_armed && !conn.send_armed,
            "slot freed with I/O in flight"
        );
        self.cx.recycle_buffer(conn.out.bytes);
        self.free_slots.push(slot);
        // Dropping the stream closes the socket.
    }

    /// Forgets the connection and tells the engine, once; shuts the write side so the peer
    /// sees EOF after our last reply. Operations in flight are cancelled by `queue_conn`.
    fn finish(&mut self, slot: u32) {
        let conn = self.conns[slot as usize]
            .as_mut()
            .expect("finishing a live slot");
        if conn.phase == Phase::Done {
            return;
        }
        conn.phase = Phase::Done;
        if let Err(err) = conn.stream.shutdown(std::net::Shutdown::Write) {
            // The peer may have gone first; nothing is left to tell it.
            tracing::trace!(conn = conn.id.0, %err, "shutdown");
        }
        let id = conn.id;
        if self.slot_of.remove(&id).is_some() {
            self.shared.clients_total.fetch_sub(1, Ordering::Relaxed);
            self.local.push_back(Msg::ConnClosed { conn: id });
        }
        self.touch(slot);
    }

    /// Steps every queued local message and routes the effects (one clock reading per burst).
    fn step(&mut self) {
        let clock = self.shared.clock;
        let mut effects = std::mem::take(&mut self.effects);
        let mut clock_read = false;
        loop {
            self.cx.drain_effects_into(&mut effects);
            for effect in effects.drain(..) {
                self.route(effect);
            }
            let Some(msg) = self.local.pop_front() else {
                break;
            };
            if !clock_read {
                self.cx.set_time(clock.now_mono_us(), clock.wall_us());
                clock_read = true;
            }
            self.node.on_msg(msg, &mut self.cx);
        }
        self.effects = effects;
        self.send_mail();
    }

    /// Sends what a burst of steps produced for other threads, waking a sleeping one by a
    /// message of our ring (the next submit carries it) where this kernel has them.
    fn send_mail(&mut self) {
        let Loop {
            thread,
            shared,
            ring,
            outbox,
            ring_messages,
            ..
        } = self;
        worker::send_outboxes(outbox, shared, |to| {
            let ring_fd = ring_wake(shared, to).ring_fd.load(Ordering::Acquire);
            if !*ring_messages || ring_fd < 0 {
                shared.mailboxes[to].signal().notify();
                return;
            }
            let to = u32::try_from(to).expect("thread index fits u32");
            let entry = wake_message(ring_fd, u32::from(thread.0), to);
            // SAFETY: a ring message names no memory. Not counted in flight: it completes here
            // only when it fails, and shutdown need not wait for it.
            unsafe { push_entry(ring, *thread, &entry) };
        });
    }

    fn route(&mut self, effect: Effect) {
        match effect {
            Effect::Send { to, msg } if to == self.thread => self.local.push_back(msg),
            Effect::Send { to, msg } => {
                self.outbox[usize::from(to.0)].push_back(Inbound::Msg(msg));
            }
            Effect::Write { conn, bytes } => self.write(conn, bytes),
            Effect::Close { conn } => {
                let Some(&slot) = self.slot_of.get(&conn) else {
                    return;
                };
                let conn = self.conns[slot as usize].as_mut().expect("open slot");
                conn.phase = Phase::Closing;
                if conn.nothing_to_send() && !conn.send_armed {
                    self.finish(slot);
                } else {
                    self.touch(slot);
                }
            }
            Effect::Abort { conn } => {
                let Some(&slot) = self.slot_of.get(&conn) else {
                    return;
                };
                // Output in flight stays lent to the kernel until the cancel completes.
                let conn = self.conns[slot as usize].as_mut().expect("open slot");
                conn.queued.clear();
                if !conn.send_armed {
                    conn.out = Output::default();
                }
                self.finish(slot);
            }
            Effect::ReadInterest { conn, enabled } => {
                if let Some(&slot) = self.slot_of.get(&conn) {
                    self.conns[slot as usize]
                        .as_mut()
                        .expect("open slot")
                        .reading = enabled;
                    self.touch(slot);
                }
            }
            Effect::ArmTimer { timer, at_mono_us } => {
                self.timers.arm(at_mono_us, Wake::Engine(timer));
            }
            Effect::Shutdown => worker::ask_shutdown(&self.shared, self.thread),
            Effect::Log { level, text } => worker::log_engine(self.thread, level, text),
            Effect::Disk { file, op } => self.shared.disk.push(crate::disk::DiskRequest {
                thread: self.thread,
                file,
                op,
            }),
        }
    }

    /// Appends to the connection's output; it goes out with the next submit.
    fn write(&mut self, conn: ConnId, bytes: Vec<u8>) {
        let Some(&slot) = self.slot_of.get(&conn) else {
            // Gone: nobody reads its output.
            self.cx.recycle_buffer(bytes);
            return;
        };
        let conn = self.conns[slot as usize].as_mut().expect("open slot");
        // While a send is in flight `out` is lent to the kernel: new bytes wait in `queued`.
        let target = if conn.send_armed {
            &mut conn.queued
        } else {
            if conn.out.is_empty() {
                conn.out = Output::default();
            }
            &mut conn.out.bytes
        };
        if target.is_empty() {
            // Keep the engine's buffer instead of copying it.
            let spare = std::mem::replace(target, bytes);
            self.cx.recycle_buffer(spare);
        } else {
            target.extend_from_slice(&bytes);
            self.cx.recycle_buffer(bytes);
        }
        self.touch(slot);
    }

    fn arm_memory_report(&self) {
        let interval_us =
            u64::try_from(worker::MEMORY_REPORT_INTERVAL.as_micros()).unwrap_or(u64::MAX);
        let at_mono_us = self.shared.clock.now_mono_us().saturating_add(interval_us);
        self.timers.arm(at_mono_us, Wake::MemoryReport);
    }

    /// As the epoll backend's `memory_loop`: collect, report RSS, arm the next report.
    fn report_memory(&mut self) {
        // SAFETY: mi_collect only walks this thread's own heap; it has no preconditions.
        unsafe { libmimalloc_sys::mi_collect(true) };
        let rss_bytes = worker::process_rss_bytes().unwrap_or(0);
        self.node.shard_mut().set_process_rss_bytes(rss_bytes);
        self.arm_memory_report();
    }

    /// At shutdown: a last flush attempt and close for every connection (the engine is not
    /// told; it is dropped right after), then cancel everything and wait for it, so that no
    /// buffer is freed while the kernel may still use it.
    fn stop(mut self) {
        self.timers.stop();
        // Other rings wake this one by eventfd from now on (its mailbox is closed anyway).
        self.own_wake().ring_fd.store(-1, Ordering::Release);
        tracing::debug!(
            thread = self.thread.0,
            conns = self.slot_of.len(),
            "closing connections"
        );
        for slot in std::mem::take(&mut self.slot_of).into_values() {
            let conn = self.conns[slot as usize].as_mut().expect("open slot");
            if !conn.send_armed && !conn.nothing_to_send() {
                let sock = socket2::SockRef::from(&conn.stream);
                let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
                if let Err(err) = sock.send_with_flags(conn.out.pending(), flags) {
                    tracing::debug!(conn = conn.id.0, %err, "last flush failed");
                }
            }
            conn.phase = Phase::Done;
            drop(conn.stream.shutdown(std::net::Shutdown::Both));
            self.shared.clients_total.fetch_sub(1, Ordering::Relaxed);
        }
        let cancel_all = opcode::AsyncCancel2::new(types::CancelBuilder::any().all())
            .build()
            .user_data(Op::Cancel.user_data(0));
        // SAFETY: a cancel names no memory.
        unsafe { self.push(&cancel_all) };
        if self.drain(SHUTDOWN_DRAIN_TIMEOUT) {
            if let Err(err) = self
                .ring
                .submitter()
                .unregister_buf_ring(self.recv_buffers.group())
            {
                tracing::debug!(%err, "unregister receive buffers");
            }
            return;
        }
        tracing::warn!(
            thread = self.thread.0,
            in_flight = self.in_flight,
            "io_uring operations outlived shutdown: leaking their buffers"
        );
        // Leaked, not freed: the kernel may still write into them.
        std::mem::forget(self.conns);
        std::mem::forget(self.recv_buffers);
        std::mem::forget(self.wake_buf);
    }

    /// Reaps completions until nothing is in flight (true) or `timeout` passes (false). No
    /// engine step runs: this is for shutdown only.
    fn drain(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.in_flight > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let wait = types::Timespec::from(left);
            let args = types::SubmitArgs::new().timespec(&wait);
            match self.ring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                Err(err)
                    if matches!(
                        err.raw_os_error(),
                        Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                    ) => {}
                Err(err) => {
                    tracing::warn!(%err, "io_uring_enter failed while draining");
                    return false;
                }
            }
            while let Some(cqe) = self.ring.completion().next() {
                let (op, slot) = Op::of(cqe.user_data());
                if op.in_flight() && !cqueue::more(cqe.flags()) {
                    self.in_flight -= 1;
                }
                match op {
                    Op::Recv => {
                        if let Some(buffer) = cqueue::buffer_select(cqe.flags()) {
                            self.recv_buffers.provide(buffer);
                        }
                        if !cqueue::more(cqe.flags()) {
                            self.conns[slot as usize].as_mut().expect("live").recv_armed = false;
                        }
                    }
                    Op::Send => {
                        self.conns[slot as usize].as_mut().expect("live").send_armed = false;
                    }
                    Op::Cancel | Op::Accept | Op::Wake | Op::Mail | Op::MailSent => {}
                }
            }
        }
        true
    }
}

/// Queues `entry` on `ring`, submitting early when the queue is full. Not counted in flight:
/// `Loop::push` counts what shutdown must wait for.
///
/// # Safety
/// Any memory the entry names must stay valid, and unmoved, until its completion.
unsafe fn push_entry(ring: &mut IoUring, thread: ThreadId, entry: &squeue::Entry) {
    // SAFETY: the caller's promise.
    while unsafe { ring.submission().push(entry) }.is_err() {
        if let Err(err) = ring.submit() {
            panic!("io_uring submit failed on thread {}: {err}", thread.0);
        }
    }
}

/// Thread `thread`'s wake-up under this backend.
fn ring_wake(shared: &Shared, thread: usize) -> &RingWake {
    let ThreadWake::Ring(wake) = shared.mailboxes[thread].signal() else {
        panic!("uring thread {thread} without a ring wake-up");
    };
    wake
}

/// The receive entry a connection needs now, if any: a multishot receive when the engine wants
/// input and none is armed; a cancel of the armed one when it no longer does (once).
fn recv_entry(conn: &mut Conn, slot: u32, buf_group: u16) -> Option<squeue::Entry> {
    let wanted = conn.phase == Phase::Open && conn.reading;
    if wanted && !conn.recv_armed {
        conn.recv_armed = true;
        let fd = types::Fd(conn.stream.as_raw_fd());
        return Some(
            opcode::RecvMulti::new(fd, buf_group)
                .build()
                .user_data(Op::Recv.user_data(slot)),
        );
    }
    if !wanted && conn.recv_armed && !conn.recv_cancel_sent {
        conn.recv_cancel_sent = true;
        let cancel = types::CancelBuilder::user_data(Op::Recv.user_data(slot));
        return Some(
            opcode::AsyncCancel2::new(cancel)
                .build()
                .user_data(Op::Cancel.user_data(slot)),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::{new_ring, new_wake, ring_messages_work, wake_message, Op};
    use crate::mailbox::ThreadWake;

    /// A wake message lands on the other ring as `Op::Mail` from its sender and posts nothing
    /// back; one aimed at something that is not a ring comes back as `Op::MailSent` for its
    /// destination, with an error (the loop then falls back to the eventfd).
    #[test]
    fn wake_messages_reach_the_other_ring_and_failures_come_back() {
        let mut sender = new_ring().unwrap();
        let mut receiver = new_ring().unwrap();
        if !ring_messages_work(&sender) {
            eprintln!("skipped: this kernel has no ring messages");
            return;
        }
        let entry = wake_message(receiver.as_raw_fd(), 3, 5);
        // SAFETY: a ring message names no memory.
        unsafe { sender.submission().push(&entry) }.unwrap();
        sender.submit().unwrap();
        receiver.submit_and_wait(1).unwrap();
        let posted: Vec<_> = receiver.completion().map(|cqe| cqe.user_data()).collect();
        assert_eq!(posted.len(), 1);
        assert_eq!(Op::of(posted[0]), (Op::Mail, 3));
        assert_eq!(
            sender.completion().count(),
            0,
            "a success posts nothing back"
        );

        let ThreadWake::Ring(not_a_ring) = new_wake().unwrap() else {
            unreachable!("new_wake makes a ring wake-up")
        };
        let entry = wake_message(not_a_ring.eventfd.as_raw_fd(), 3, 5);
        // SAFETY: as above.
        unsafe { sender.submission().push(&entry) }.unwrap();
        sender.submit_and_wait(1).unwrap();
        let failed = sender.completion().next().unwrap();
        assert_eq!(Op::of(failed.user_data()), (Op::MailSent, 5));
        assert!(failed.result() < 0, "result {}", failed.result());
    }

    #[test]
    fn user_data_round_trips() {
        for op in [
            Op::Recv,
            Op::Send,
            Op::Cancel,
            Op::Accept,
            Op::Wake,
            Op::Mail,
            Op::MailSent,
        ] {
            for slot in [0, 1, 77, u32::MAX] {
                assert_eq!(Op::of(op.user_data(slot)), (op, slot));
            }
        }
    }
}
