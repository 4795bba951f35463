//! The load generator: `threads` OS threads, each driving its share of the connections with
//! `ppoll(2)` over non-blocking sockets (level-triggered, so a partial write or read simply
//! comes back next turn).
//!
//! A thread's turn: issue what is due (closed loop: a batch on every idle connection; open loop:
//! every batch whose scheduled time has passed, catching up if late), flush, wait for readiness
//! or the next scheduled send, settle replies. Issuing stops at the deadline or the request
//! budget; replies to what was issued are then awaited for at most `DRAIN_TIME_MAX`, and any
//! still missing count as errors. Every loop is bounded by those two clocks.
//!
//! All threads connect first and start together (a barrier), so connection set-up is not
//! timed. Throughput is settled replies over the time from that start to the last thread's end.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::conn::{Conn, Tally};
use crate::workload::{Generator, Pacing, Workload};

/// How long replies are awaited after issuing stops.
const DRAIN_TIME_MAX: Duration = Duration::from_secs(5);
/// The longest one `ppoll` waits, so deadlines are noticed promptly.
const POLL_WAIT_MAX: Duration = Duration::from_millis(10);
/// Open loop: requests in flight on one connection before the run gives up on the rate (the
/// server is not keeping up, and the backlog would grow without bound).
const CONN_PENDING_MAX: usize = 100_000;
/// The longest latency recorded exactly; longer ones saturate.
const LATENCY_MAX_NS: u64 = 60_000_000_000;

#[derive(Debug)]
pub struct LoadReport {
    pub ops: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Latencies in nanoseconds.
    pub histogram: Histogram<u64>,
}

impl LoadReport {
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("valid histogram bounds")
}

/// Runs `workload` against `addr` and waits for it to finish.
pub fn run(addr: SocketAddr, workload: &Workload) -> Result<LoadReport, String> {
    workload.validate()?;
    let barrier = Arc::new(Barrier::new(workload.threads + 1));
    let mut handles = Vec::with_capacity(workload.threads);
    for thread in 0..workload.threads {
        let workload = workload.clone();
        let barrier = Arc::clone(&barrier);
        handles.push(thread::spawn(move || {
            run_thread(addr, &workload, thread, &barrier)
        }));
    }
    barrier.wait();
    let start = Instant::now();
    let mut report = LoadReport {
        ops: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        histogram: new_histogram(),
    };
    let mut failure = None;
    for handle in handles {
        match handle.join() {
            Ok(Ok((tally, histogram))) => {
                report.ops += tally.ops;
                report.errors += tally.errors;
                report.first_error = report.first_error.or(tally.first_error);
                report
                    .histogram
                    .add(histogram)
                    .expect("same histogram bounds");
            }
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(_) => failure = failure.or(Some("a load thread panicked".to_string())),
        }
    }
    report.elapsed = start.elapsed();
    match failure {
        Some(e) => Err(format!("load {} against {addr}: {e}", workload.name)),
        None => Ok(report),
    }
}

/// Connections `thread` owns: an even share, the first threads taking the remainder.
fn clients_of(workload: &Workload, thread: usize) -> usize {
    workload.clients / workload.threads + usize::from(thread < workload.clients % workload.threads)
}

/// Commands `thread` may issue: an even share of the budget.
fn budget_of(workload: &Workload, thread: usize) -> u64 {
    let threads = workload.threads as u64;
    workload.requests_max / threads + u64::from((thread as u64) < workload.requests_max % threads)
}

fn run_thread(
    addr: SocketAddr,
    workload: &Workload,
    thread: usize,
    barrier: &Barrier,
) -> Result<(Tally, Histogram<u64>), String> {
    if let Pacing::Open { .. } = workload.pacing {
        // Open-loop latency counts from the scheduled time, so the kernel's default 50 us timer
        // slack on our ppoll wake-ups would be charged to the server. Ask for 1 ns.
        // SAFETY: PR_SET_TIMERSLACK takes one integer argument and affects only this thread.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    }
    let now = Instant::now();
    let conns: io::Result<Vec<Conn>> = (0..clients_of(workload, thread))
        .map(|_| Conn::connect(addr, now))
        .collect();
    // Wait at the barrier even on failure, or the other threads would wait forever.
    barrier.wait();
    let mut conns = conns.map_err(|e| format!("connect: {e}"))?;
    let mut driver = Driver {
        workload,
        generator: Generator::new(workload, thread),
        budget: budget_of(workload, thread),
        tally: Tally::default(),
        histogram: new_histogram(),
    };
    driver
        .drive(&mut conns)
        .map_err(|e| format!("thread {thread}: {e}"))?;
    Ok((driver.tally, driver.histogram))
}

struct Driver<'a> {
    workload: &'a Workload,
    generator: Generator,
    /// Commands this thread may still issue.
    budget: u64,
    tally: Tally,
    histogram: Histogram<u64>,
}

impl Driver<'_> {
    fn drive(&mut self, conns: &mut [Conn]) -> Result<(), String> {
        let start = Instant::now();
        let interval = self.batch_interval();
        let conns_len = conns.len();
        for (i, conn) in conns.iter_mut().enumerate() {
            // Stagger open-loop connections over one interval so their batches do not coincide.
            conn.next_send = start + interval.mul_f64(i as f64 / conns_len as f64);
        }
        let deadline = start + self.workload.duration;
        let mut stopped_at = None;
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(conns.len());
        loop {
            let now = Instant::now();
            let issuing = now < deadline && self.budget > 0 && !self.generator.exhausted();
            if issuing {
                self.issue(conns, now, interval)?;
            } else if conns.iter().all(Conn::idle) {
                return Ok(());
            } else if now >= *stopped_at.get_or_insert(now) + DRAIN_TIME_MAX {
                let missing: usize = conns.iter().map(Conn::pending_len).sum();
                self.tally.errors += missing as u64;
                return Err(format!(
                    "{missing} replies missing {DRAIN_TIME_MAX:?} after the end"
                ));
            }
            for conn in conns.iter_mut() {
                conn.flush().map_err(|e| format!("write: {e}"))?;
            }
            let wait = self.wait_time(conns, now, issuing);
            poll(conns, &mut fds, wait).map_err(|e| format!("ppoll: {e}"))?;
            for (conn, fd) in conns.iter_mut().zip(&fds) {
                if fd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                    conn.on_readable(&mut self.histogram, &mut self.tally)
                        .map_err(|e| format!("read: {e}"))?;
                }
            }
        }
    }

    fn issue(
        &mut self,
        conns: &mut [Conn],
        now: Instant,
        interval: Duration,
    ) -> Result<(), String> {
        let pipeline = self.workload.pipeline;
        for conn in conns.iter_mut() {
            match self.workload.pacing {
                Pacing::Closed if conn.idle() => {
                    let count = self.take_budget(pipeline);
                    conn.queue_batch(&mut self.generator, count, now);
                }
                Pacing::Closed => {}
                Pacing::Open { .. } => {
                    while conn.next_send <= now && self.budget > 0 {
                        if conn.pending_len() > CONN_PENDING_MAX {
                            return Err(format!(
                                "over {CONN_PENDING_MAX} requests in flight on one connection: \
                                 the server does not keep up with the rate"
                            ));
                        }
                        let count = self.take_budget(pipeline);
                        conn.queue_batch(&mut self.generator, count, conn.next_send);
                        conn.next_send += interval;
                    }
                }
            }
        }
        Ok(())
    }

    fn take_budget(&mut self, want: usize) -> usize {
        let count = (want as u64).min(self.budget);
        self.budget -= count;
        count as usize
    }

    /// Open loop: the time between one connection's batches (zero in closed loop).
    fn batch_interval(&self) -> Duration {
        match self.workload.pacing {
            Pacing::Closed => Duration::ZERO,
            Pacing::Open { ops_per_sec } => {
                let conn_ops_per_sec = ops_per_sec.max(1) as f64 / self.workload.clients as f64;
                Duration::from_secs_f64(self.workload.pipeline as f64 / conn_ops_per_sec)
            }
        }
    }

    fn wait_time(&self, conns: &[Conn], now: Instant, issuing: bool) -> Duration {
        match (self.workload.pacing, issuing) {
            (Pacing::Open { .. }, true) => conns
                .iter()
                .map(|c| c.next_send.saturating_duration_since(now))
                .min()
                .unwrap_or(POLL_WAIT_MAX)
                .min(POLL_WAIT_MAX),
            _ => POLL_WAIT_MAX,
        }
    }
}

/// Waits up to `wait` for any connection to be readable (or writable, if it has output).
fn poll(conns: &[Conn], fds: &mut Vec<libc::pollfd>, wait: Duration) -> io::Result<()> {
    fds.clear();
    fds.extend(conns.iter().map(|conn| libc::pollfd {
        fd: conn.fd(),
        events: libc::POLLIN | if conn.wants_write() { libc::POLLOUT } else { 0 },
        revents: 0,
    }));
    let timeout = libc::timespec {
        tv_sec: wait.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(wait.subsec_nanos() as i32),
    };
    // SAFETY: `fds` is a live, initialised array of `fds.len()` pollfd structs, and `timeout`
    // outlives the call; a null signal mask leaves the mask unchanged.
    let rc = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &timeout,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}
