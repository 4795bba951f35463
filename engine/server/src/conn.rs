//! One client socket on its owning thread: the bytes in, the bytes out, and nothing else.
//!
//! `ConnIo` is shared (`Rc`) by the thread's effect router and the connection's task. The router
//! writes a step's reply straight to the socket (`try_write`: one syscall per pipelined batch,
//! no task switch) and queues only what the kernel would not take. The task waits for the socket
//! to become readable (when the engine wants input) or writable (when output is queued), reads
//! into the thread's shared buffer and hands the bytes to the engine, or flushes the queue and
//! reports the bytes written. Whatever the socket does, the engine hears `ConnClosed` once: the
//! thread's connection table is the guard (see `Worker::conn_gone`).
//!
//! Lifecycle: `Open` → (engine's `Close`) `Closing`: stop reading, flush → `Done`: write side
//! shut down, task ends, socket closed when the last `Rc` drops. Peer EOF or a socket error goes
//! straight to `Done`.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;

use damselfly_core::cx::{ConnId, Msg};
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::worker::Worker;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    /// The engine asked to close: flush what is queued, then finish.
    Closing,
    /// Finished: the engine has been (or is being) told `ConnClosed`.
    Done,
}

/// Output the kernel has not taken yet: `bytes[start..]`.
#[derive(Default)]
struct Output {
    bytes: Vec<u8>,
    start: usize,
}

impl Output {
    fn is_empty(&self) -> bool {
        self.start == self.bytes.len()
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
    /// Wakes the task when the router changed what it should wait for.
    wake: Notify,
}

impl ConnIo {
    pub fn new(id: ConnId, stream: TcpStream) -> ConnIo {
        ConnIo {
            id,
            stream,
            out: RefCell::new(Output::default()),
            reading: Cell::new(true),
            phase: Cell::new(Phase::Open),
            wake: Notify::new(),
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
        self.wake.notify_one();
        (written, None)
    }

    /// Writes queued output until it is empty or the socket is full; returns the bytes written.
    pub fn flush(&self) -> io::Result<usize> {
        let mut out = self.out.borrow_mut();
        let mut written = 0;
        while !out.is_empty() {
            match self.stream.try_write(&out.bytes[out.start..]) {
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
        self.wake.notify_one();
    }

    /// The engine's `Close`: stop reading and flush. True when nothing is left to flush, so the
    /// caller finishes the connection now.
    pub fn begin_close(&self) -> bool {
        if self.phase.get() == Phase::Open {
            self.phase.set(Phase::Closing);
        }
        self.reading.set(false);
        self.wake.notify_one();
        self.out.borrow().is_empty()
    }

    /// Shuts the write side (the peer sees EOF after our last reply) and ends the task.
    pub fn finish(&self) {
        self.phase.set(Phase::Done);
        if let Err(err) = socket2::SockRef::from(&self.stream).shutdown(std::net::Shutdown::Write) {
            // The peer may have gone first; nothing is left to tell it.
            tracing::trace!(conn = self.id.0, %err, "shutdown");
        }
        self.wake.notify_one();
    }

    /// What the task should wait for; `None`: only for the router's wake-up.
    fn interest(&self) -> Option<Interest> {
        let writable = !self.out.borrow().is_empty();
        let readable = self.reading.get() && self.phase.get() == Phase::Open;
        match (readable, writable) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        }
    }
}

/// The connection's task: runs until the connection is `Done`.
pub async fn run(worker: Rc<Worker>, io: Rc<ConnIo>) {
    while io.phase.get() != Phase::Done {
        let Some(interest) = io.interest() else {
            io.wake.notified().await;
            continue;
        };
        let ready = tokio::select! {
            biased;
            () = io.wake.notified() => continue,
            ready = io.stream.ready(interest) => ready,
        };
        let Ok(ready) = ready else {
            worker.conn_gone(io.id);
            return;
        };
        if ready.is_writable() && !on_writable(&worker, &io) {
            return;
        }
        if ready.is_readable() && io.interest().is_some_and(|i| i.is_readable()) {
            on_readable(&worker, &io);
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

fn on_readable(worker: &Worker, io: &ConnIo) {
    match worker.read_from(&io.stream) {
        Ok(bytes) if bytes.is_empty() => worker.conn_gone(io.id),
        Ok(bytes) => worker.deliver(Msg::ConnData { conn: io.id, bytes }),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
        Err(err) => {
            tracing::debug!(conn = io.id.0, %err, "read failed");
            worker.conn_gone(io.id);
        }
    }
}
