//! Damselfly's benchmarks, outside the engine: a load generator, a comparison runner, and the
//! pieces they share. The criterion micro-benches live in `benches/benches/`.
//!
//! Map of the crate:
//! - `reply` scans RESP replies just far enough to check them (OK, bulk, nil, error, and MGET's
//!   array of bulks).
//! - `zipf` samples skewed key ranks; `workload` says what to send (SET:GET ratio, value size,
//!   key range and distribution, pipeline depth, closed or open loop, one key per command or
//!   MSET/MGET of several with a hot set) and encodes commands.
//! - `conn` is one non-blocking connection's state machine; `load` runs threads of them under
//!   `poll(2)` and returns throughput, errors and an HdrHistogram of latencies.
//! - `procfs` reads a server's CPU time and RSS; `server` starts, pins, pings and stops
//!   redis-server and damselfly; `redis_benchmark` runs Debian's redis-benchmark and parses its
//!   CSV; `report` folds rounds into medians, spreads, percentiles and ratios.
//! - `args` is a small `--flag value` parser shared by the binaries `compare` and `loadgen`.
//!
//! Latency is measured from the intended send time. In closed loop that is the moment a batch
//! is written; in open loop (a fixed rate) it is the schedule's time, so a server that stalls is
//! charged for every request that should have been sent meanwhile (no coordinated omission).

// A load generator owns clocks and threads: the engine's bans on `Instant::now` and
// `thread::spawn` (clippy.toml) are for the sans-IO core, not for this crate.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod args;
pub mod command;
pub mod conn;
pub mod load;
pub mod procfs;
pub mod redis_benchmark;
pub mod reply;
pub mod report;
pub mod server;
pub mod workload;
pub mod zipf;
