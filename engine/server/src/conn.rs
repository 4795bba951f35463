//! One client socket on its owning thread: the bytes in, the bytes out, and nothing else.
//!
//! `ConnIo` is shared (`Rc`) by the thread's effect router and the connection's task. The router
//! writes a step's reply straight to the socket (`try_write`: one syscall per pipelined batch, no
//! task switch) and queues only what the kernel would not take. The task waits for the socket to
//! become readable (when the engine wants input) or writable (when output is queued), reads into
//! the thread's shared buffer and hands the bytes to the engine, or flushes the queue and reports
//! the bytes written. The router tells the task that what it waits for changed by a poke: a flag
//! and the task's waker, kept in the `ConnIo` (no `Notify`: its waiter list and lock cost more than
//! the rest of a pipeline-1 request's bookkeeping). Whatever the socket does, the engine hears
//! `ConnClosed` once: the thread's connection table is the guard (see `Worker::conn_gone`).
//!
//! Lifecycle: `Open` → (engine's `Close`) `Closing`: stop reading, flush → `Done`: write side
//! shut down, task ends, socket closed when the last `Rc` drops. Peer EOF → `InputEnded`: stop
//! reading and tell the engine, which runs what it read, replies and then asks to close (Redis
//! answers a half-closed client). A socket error goes straight to `Done`.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use damselfly_core::cx::{ConnId, Msg};
use tokio::net::TcpStream;

use crate::worker::Worker;

/// Where a connection is in its life (both socket backends share it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Open,
    /// The peer sent end of stream: nothing more to read, but replies still go out until the
    /// engine, having run what it read, asks to close.
    InputEnded,
    /// The engine asked to close: no more reading; flush what is queued, then finish.
    Closing,
    /// Finished: the engine has been (or is being) told `ConnClosed`.
    Done,
}

/// Output the kernel has not taken yet: `bytes[start..]` (both socket backends share it).
#[derive(Default)]
pub(crate) struct Output {
    pub(crate) bytes: Vec<u8>,
    pub(crate) start: usize,
}

impl Output {
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.bytes.len()
    }

    pub(crate) fn pending(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    fn append(&mut self, bytes: Vec<u8>) {
        if self.is_empty() {
            // Keep the engine's buffer instead of copying it.
            self.bytes = bytes;
            self.start = 0;
        } else {
            self.bytes.extend_from_slice(&bytes);
        }
    }
}

pub struct ConnIo {
    pub id: ConnId,
    stream: TcpStream,
    out: RefCell<Output>,
    /// The engine's `ReadInterest`.
    reading: Cell<bool>,
    phase: Cell<Phase>,
    /// Set by the router when it changed what the task should wait for; like a permit, it
    /// stays set until the task sees it.
    poked: Cell<bool>,
    /// The task's waker while it waits.
    waker: Cell<Option<Waker>>,
}

/// What the task woke for.
enum Event {
    /// The router poked: look again at what to wait for.
    Poked,
    Ready {
        readable: bool,
        writable: bool,
    },
    Failed,
}

impl ConnIo {
    pub fn new(id: ConnId, stream: TcpStream) -> ConnIo {
        ConnIo {
            id,
            stream,
            out: RefCell::new(Output::default()),
            reading: Cell::new(true),
            phase: Cell::new(Phase::Open),
            poked: Cell::new(false),
            waker: Cell::new(None),
        }
    }

    /// Appends `bytes` to the output, writing at once when nothing is queued ahead of them.
    /// Returns how many bytes reached the socket now, and the emptied buffer when that was all
    /// of them (for the engine to reuse).
    pub fn write(&self, bytes: Vec<u8>) -> (usize, Option<Vec<u8>>) {
        if self.phase.get() == Phase::Done {
            return (0, Some(bytes));
        }
        let mut out = self.out.borrow_mut();
        let written = if out.is_empty() {
            // On WouldBlock, or an error (which the task meets again and reports as a close),
            // nothing was written and everything is queued.
            self.stream.try_write(&bytes).unwrap_or(0)
        } else {
            0
        };
        if written == bytes.len() {
            return (written, Some(bytes));
        }
        if written == 0 {
            out.append(bytes);
        } else {
            out.append(bytes[written..].to_vec());
        }
        self.poke();
        (written, None)
    }

    /// Writes queued output until it is empty or the socket is full; returns the bytes written.
    pub fn flush(&self) -> io::Result<usize> {
        let mut out = self.out.borrow_mut();
        let mut written = 0;
        while !out.is_empty() {
            match self.stream.try_write(out.pending()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    out.start += n;
                    written += n;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) => return Err(err),
            }
        }
        if out.is_empty() {
            *out = Output::default();
        }
        Ok(written)
    }

    pub fn set_reading(&self, enabled: bool) {
        self.reading.set(enabled);
        self.poke();
    }

    /// The engine's `Close`: stop reading and flush. True when nothing is left to flush, so the
    /// caller finishes the connection now.
    pub fn begin_close(&self) -> bool {
        if matches!(self.phase.get(), Phase::Open | Phase::InputEnded) {
            self.phase.set(Phase::Closing);
        }
        self.reading.set(false);
        self.poke();
        self.out.borrow().is_empty()
    }

    /// Drops output not yet written (the engine aborts the connection).
    pub fn discard_output(&self) {
        let mut out = self.out.borrow_mut();
        out.bytes.clear();
        out.start = 0;
    }

    /// Shuts the write side (the peer sees EOF after our last reply) and ends the task.
    pub fn finish(&self) {
        self.phase.set(Phase::Done);
        if let Err(err) = socket2::SockRef::from(&self.stream).shutdown(std::net::Shutdown::Write) {
            // The peer may have gone first; nothing is left to tell it.
            tracing::trace!(conn = self.id.0, %err, "shutdown");
        }
        self.poke();
    }

    /// Wakes the task to look again at what it waits for.
    fn poke(&self) {
        self.poked.set(true);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Whether the task should wait for the socket to be readable (the engine wants input).
    fn wants_read(&self) -> bool {
        self.reading.get() && self.phase.get() == Phase::Open
    }

    /// Whether the task should wait for the socket to be writable (output is queued).
    fn wants_write(&self) -> bool {
        !self.out.borrow().is_empty()
    }

    /// The task's wait: a poke, or the readiness it wants. Registers the task's waker with
    /// the socket (for each direction it wants) and with the router (for pokes).
    fn poll_event(&self, cx: &mut Context<'_>) -> Poll<Event> {
        if self.poked.replace(false) {
            return Poll::Ready(Event::Poked);
        }
        match self.waker.take() {
            Some(waker) if waker.will_wake(cx.waker()) => self.waker.set(Some(waker)),
            _ => self.waker.set(Some(cx.waker().clone())),
        }
        let mut writable = false;
        if self.wants_write() {
            match self.stream.poll_write_ready(cx) {
                Poll::Ready(Ok(())) => writable = true,
                Poll::Ready(Err(_)) => return Poll::Ready(Event::Failed),
                Poll::Pending => {}
            }
        }
        let mut readable = false;
        if self.wants_read() {
            match self.stream.poll_read_ready(cx) {
                Poll::Ready(Ok(())) => readable = true,
                Poll::Ready(Err(_)) => return Poll::Ready(Event::Failed),
                Poll::Pending => {}
            }
        }
        if readable || writable {
            Poll::Ready(Event::Ready { readable, writable })
        } else {
            Poll::Pending
        }
    }
}

/// The connection's task: runs until the connection is `Done`.
pub async fn run(worker: Rc<Worker>, io: Rc<ConnIo>) {
    while io.phase.get() != Phase::Done {
        match std::future::poll_fn(|cx| io.poll_event(cx)).await {
            Event::Poked => {}
            Event::Failed => {
                worker.conn_gone(io.id);
                return;
            }
            Event::Ready { readable, writable } => {
                if writable && !on_writable(&worker, &io) {
                    return;
                }
                // Writing may have changed the phase (a close that finished flushing).
                if readable && io.wants_read() {
                    on_readable(&worker, &io);
                }
            }
        }
    }
}

/// Flushes queued output; false when the connection is finished.
fn on_writable(worker: &Worker, io: &ConnIo) -> bool {
    match io.flush() {
        Ok(0) => {}
        Ok(bytes_len) => worker.deliver(Msg::ConnWritten {
            conn: io.id,
            bytes_len,
        }),
        Err(err) => {
            tracing::debug!(conn = io.id.0, %err, "write failed");
            worker.conn_gone(io.id);
            return false;
        }
    }
    if io.phase.get() == Phase::Closing && io.out.borrow().is_empty() {
        worker.conn_gone(io.id);
        return false;
    }
    true
}

fn on_readable(worker: &Worker, io: &Rc<ConnIo>) {
    match worker.read_from(&io.stream) {
        Ok(bytes) if bytes.is_empty() => {
            io.phase.set(Phase::InputEnded);
            worker.deliver(Msg::ConnInputEnded { conn: io.id });
        }
        Ok(bytes) => worker.deliver_from(io, bytes),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
        Err(err) => {
            tracing::debug!(conn = io.id.0, %err, "read failed");
            worker.conn_gone(io.id);
        }
    }
}
