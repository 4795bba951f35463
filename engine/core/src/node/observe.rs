//! What a thread counts about the commands it coordinates, for INFO commandstats, errorstats
//! and latencystats. Each thread keeps its own figures in plain fields (no atomics, nothing
//! shared on the hot path); INFO gathers every thread's and adds them up.
//!
//! A call is counted by the thread that decoded it, when it is dispatched (squashed pipeline
//! commands too). Its time is what that thread spent on it in the dispatching step; the part
//! another shard runs for it is not counted (it runs in that shard's step, possibly batched
//! with others). Rejected calls are those refused before running (arity, NOAUTH, a command not
//! allowed while subscribed), as Redis counts them; unknown commands and subcommands have no
//! row, as in Redis. A call fails when its reply carries an error; an error that arrives from
//! another shard is charged to the connection's latest command.
//!
//! Error replies are counted per error code (the reply's first word), Redis's errorstats, up to
//! `ERROR_CODES_MAX` distinct codes per thread; later new codes count in the total only.

use std::collections::BTreeMap;

use crate::cmd::StatSlot;
use crate::node::histogram::LatencyHistogram;

/// Distinct error codes a thread tracks (Redis's `ERROR_STATS_NUMBER`).
pub const ERROR_CODES_MAX: usize = 128;
/// An error code is the reply's text up to its first space, looked for in this many bytes
/// (Redis's errorstats rule); a reply without one counts as `ERR`.
pub const ERROR_CODE_LEN_MAX_BYTES: usize = 32;

/// One command's figures on one thread.
#[derive(Clone, Debug, Default)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    /// Durations of the calls (while `latency-tracking` is on), made on first use.
    pub latency: Option<Box<LatencyHistogram>>,
}

impl CommandStat {
    pub fn add(&mut self, other: &CommandStat) {
        self.calls += other.calls;
        self.usec += other.usec;
        self.rejected_calls += other.rejected_calls;
        self.failed_calls += other.failed_calls;
        if let Some(theirs) = &other.latency {
            self.latency
                .get_or_insert_with(Default::default)
                .add(theirs);
        }
    }

    fn is_empty(&self) -> bool {
        self.calls == 0 && self.rejected_calls == 0 && self.failed_calls == 0
    }
}

/// A thread's command and error figures.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// By `StatSlot`; sized on first use.
    commands: Vec<CommandStat>,
    /// Error replies by code.
    pub errors: BTreeMap<Vec<u8>, u64>,
    /// Every error reply (Redis's `total_error_replies`).
    pub error_replies: u64,
}

impl Observed {
    fn stat(&mut self, slot: StatSlot) -> &mut CommandStat {
        let i = slot.0 as usize;
        if i >= self.commands.len() {
            self.commands.resize_with(i + 1, CommandStat::default);
        }
        &mut self.commands[i]
    }

    /// A call that ran: its duration, whether its reply was an error, and whether to keep its
    /// duration in the latency histogram.
    pub fn call(&mut self, slot: StatSlot, duration_us: u64, failed: bool, track_latency: bool) {
        let stat = self.stat(slot);
        stat.calls += 1;
        stat.usec += duration_us;
        stat.failed_calls += u64::from(failed);
        if track_latency {
            stat.latency
                .get_or_insert_with(Default::default)
                .record_ns(duration_us.saturating_mul(1000));
        }
    }

    pub fn rejected(&mut self, slot: StatSlot) {
        self.stat(slot).rejected_calls += 1;
    }

    /// Errors that came back after the call was counted (from another shard).
    pub fn failed_later(&mut self, slot: StatSlot) {
        self.stat(slot).failed_calls += 1;
    }

    /// An error reply with this code (`error_code` of its text).
    pub fn error_reply(&mut self, code: &[u8]) {
        self.error_replies += 1;
        if let Some(count) = self.errors.get_mut(code) {
            *count += 1;
        } else if self.errors.len() < ERROR_CODES_MAX {
            self.errors.insert(code.to_vec(), 1);
        }
    }

    /// The commands with any figure, by slot.
    pub fn commands(&self) -> Vec<(StatSlot, CommandStat)> {
        self.commands
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
            .map(|(i, s)| (StatSlot(i as u32), s.clone()))
            .collect()
    }
}

/// Samples behind an instantaneous rate (Redis's `STATS_METRIC_SAMPLES`).
pub const RATE_SAMPLES: usize = 16;

/// A counter's recent rate per second: the mean of its last `RATE_SAMPLES` samples, taken on
/// the thread's 100 ms timer as Redis samples its instantaneous metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rate {
    last_value: u64,
    last_us: Option<u64>,
    samples: [u64; RATE_SAMPLES],
    next: usize,
}

impl Rate {
    pub fn sample(&mut self, value: u64, now_us: u64) {
        if let Some(last_us) = self.last_us {
            let elapsed_us = now_us.saturating_sub(last_us);
            let grown = value.saturating_sub(self.last_value);
            self.samples[self.next] = match elapsed_us {
                0 => 0,
                us => grown.saturating_mul(1_000_000) / us,
            };
            self.next = (self.next + 1) % RATE_SAMPLES;
        }
        self.last_value = value;
        self.last_us = Some(now_us);
    }

    pub fn per_sec(&self) -> u64 {
        self.samples.iter().sum::<u64>() / RATE_SAMPLES as u64
    }
}

/// The instantaneous rates INFO stats shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rates {
    pub ops: Rate,
    pub input_bytes: Rate,
    pub output_bytes: Rate,
}

/// Redis's error code of a reply: up to the first space in its first 32 bytes, else `ERR`.
pub fn error_code(text: &[u8]) -> &[u8] {
    let head = &text[..text.len().min(ERROR_CODE_LEN_MAX_BYTES)];
    match head.iter().position(|&b| b == b' ') {
        Some(end) => &text[..end],
        None => b"ERR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_follow_redis() {
        assert_eq!(error_code(b"ERR syntax error"), b"ERR");
        assert_eq!(error_code(b"WRONGTYPE Operation"), b"WRONGTYPE");
        assert_eq!(error_code(b"NOSPACEHERE"), b"ERR");
        let long = [b'X'; 40];
        assert_eq!(error_code(&long), b"ERR");
    }

    #[test]
    fn distinct_codes_stop_at_the_limit_but_the_total_counts_on() {
        let mut o = Observed::default();
        for i in 0..ERROR_CODES_MAX + 5 {
            o.error_reply(format!("E{i}").as_bytes());
        }
        o.error_reply(b"E0");
        assert_eq!(o.errors.len(), ERROR_CODES_MAX);
        assert_eq!(o.errors[&b"E0".to_vec()], 2);
        assert_eq!(o.error_replies, ERROR_CODES_MAX as u64 + 6);
    }

    #[test]
    fn calls_rejections_and_failures_add_up_per_slot() {
        let mut o = Observed::default();
        o.call(StatSlot(3), 10, false, true);
        o.call(StatSlot(3), 20, true, false);
        o.rejected(StatSlot(1));
        let rows = o.commands();
        assert_eq!(rows.len(), 2);
        let (slot, get) = &rows[1];
        assert_eq!(*slot, StatSlot(3));
        assert_eq!((get.calls, get.usec, get.failed_calls), (2, 30, 1));
        assert_eq!(get.latency.as_ref().map(|h| h.total()), Some(1));
        assert_eq!(rows[0].1.rejected_calls, 1);
    }
}
