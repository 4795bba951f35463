//! One load-generator connection: a non-blocking socket, an output buffer of encoded batches,
//! an input buffer, and the queue of requests awaiting replies (FIFO: RESP answers in order).
//!
//! Inputs: `queue_batch` (encode commands, stamped with their intended send time), `flush`
//! (socket writable), `on_readable` (socket readable). Getters: `idle`, `wants_write`,
//! `pending_len`. Each reply is checked against what its command must return and its latency,
//! from the intended send time to the read that brought it, goes into the thread's histogram.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::reply::{scan, scan_array, ReplyKind, Scan};
use crate::workload::{Expect, Generator};

/// Bytes asked of the kernel per read.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Consumed input is dropped once this much has piled up at the front of the buffer.
const COMPACT_MIN_BYTES: usize = 256 * 1024;

/// Counters one connection adds to.
#[derive(Debug, Default)]
pub struct Tally {
    pub ops: u64,
    pub errors: u64,
    /// The first unexpected reply, for the report.
    pub first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, text: String) {
        self.errors += 1;
        self.first_error.get_or_insert(text);
    }
}

struct Pending {
    intended: Instant,
    expect: Expect,
}

pub struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    out_pos: usize,
    input: Vec<u8>,
    in_pos: usize,
    /// Reads land here and only the bytes read are appended to `input`, so no read pays for
    /// zeroing a whole chunk (at pipeline 1 that memset would dwarf the reply).
    scratch: Box<[u8]>,
    pending: VecDeque<Pending>,
    /// Open loop only: when this connection's next batch is due.
    pub next_send: Instant,
}

impl Conn {
    pub fn connect(addr: SocketAddr, start: Instant) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        // Batches are written whole; Nagle would only delay the tail of one.
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        Ok(Conn {
            stream,
            out: Vec::new(),
            out_pos: 0,
            input: Vec::with_capacity(READ_CHUNK_BYTES),
            in_pos: 0,
            scratch: vec![0; READ_CHUNK_BYTES].into_boxed_slice(),
            pending: VecDeque::new(),
            next_send: start,
        })
    }

    pub fn fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.stream.as_raw_fd()
    }

    /// No request in flight and nothing left to write.
    pub fn idle(&self) -> bool {
        self.pending.is_empty() && !self.wants_write()
    }

    pub fn wants_write(&self) -> bool {
        self.out_pos < self.out.len()
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Encodes `count` commands as one batch, all intended to leave at `intended`.
    pub fn queue_batch(&mut self, generator: &mut Generator, count: usize, intended: Instant) {
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        for _ in 0..count {
            if generator.exhausted() {
                break;
            }
            let expect = generator.push_command(&mut self.out);
            self.pending.push_back(Pending { intended, expect });
        }
    }

    /// Writes as much buffered output as the socket takes.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.wants_write() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "server closed")),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what the socket holds and settles every complete reply.
    pub fn on_readable(
        &mut self,
        histogram: &mut Histogram<u64>,
        tally: &mut Tally,
    ) -> io::Result<()> {
        loop {
            let read = self.stream.read(&mut self.scratch);
            if let Ok(n) = read {
                self.input.extend_from_slice(&self.scratch[..n]);
            }
            match read {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed",
                    ))
                }
                Ok(n) if n < READ_CHUNK_BYTES => break,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        // One clock read per read burst: every reply in it arrived by now.
        let now = Instant::now();
        self.settle(now, histogram, tally)?;
        if self.in_pos == self.input.len() {
            self.input.clear();
            self.in_pos = 0;
        } else if self.in_pos >= COMPACT_MIN_BYTES {
            self.input.drain(..self.in_pos);
            self.in_pos = 0;
        }
        Ok(())
    }

    fn settle(
        &mut self,
        now: Instant,
        histogram: &mut Histogram<u64>,
        tally: &mut Tally,
    ) -> io::Result<()> {
        loop {
            let input = &self.input[self.in_pos..];
            let expects_array = self
                .pending
                .front()
                .is_some_and(|request| matches!(request.expect, Expect::Array { .. }));
            let scanned = if expects_array {
                scan_array(input)
            } else {
                scan(input)
            };
            let (kind, len_bytes) = match scanned {
                Scan::Incomplete => return Ok(()),
                Scan::Malformed => return Err(desync("malformed reply")),
                Scan::Reply { kind, len_bytes } => (kind, len_bytes),
            };
            let Some(request) = self.pending.pop_front() else {
                return Err(desync("a reply to no request"));
            };
            match (request.expect, kind) {
                (Expect::Ok, ReplyKind::Ok)
                | (Expect::BulkOrNil, ReplyKind::Bulk | ReplyKind::Nil) => {
                    tally.ops += 1;
                }
                (Expect::Array { len }, ReplyKind::Array { len: got }) if len == got => {
                    tally.ops += 1;
                }
                (_, ReplyKind::Error { start, end }) => {
                    let text = &self.input[self.in_pos + start..self.in_pos + end];
                    tally.error(format!("error reply: {}", String::from_utf8_lossy(text)));
                }
                (expect, kind) => tally.error(format!("expected {expect:?}, got {kind:?}")),
            }
            let latency_ns = now.saturating_duration_since(request.intended).as_nanos();
            histogram.saturating_record(u64::try_from(latency_ns).unwrap_or(u64::MAX));
            self.in_pos += len_bytes;
        }
    }
}

fn desync(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what}: the pipeline is out of step"),
    )
}
