//! What a load run sends: the knobs (memtier_benchmark's, by name where they exist) and the
//! per-thread command generator.
//!
//! Commands follow the SET:GET ratio as a fixed cycle (`set_ratio` SETs, then `get_ratio` GETs),
//! as memtier does, so every run of a workload sends the same mix whatever its length. Keys are
//! `key:<index>` with the index drawn uniformly, by Zipf rank (rank 1 → index 0), or in order
//! (the loader: thread `t` of `T` writes `t, t+T, t+2T, …` so threads never overlap).
//!
//! Multi-key workloads (`Fanout::Multi`) send MSET and MGET of K keys in the same cycle, for
//! the cost of commands that span shards (VLL transactions in damselfly). Their contention knob
//! is a hot set: `hot_keys_per_command` of each command's keys come from keys `0..hot_set_keys`,
//! the rest from the whole range. With one hot key per command the chance that two commands
//! conflict on it is 1 / `hot_set_keys`: the VLL paper's contention index.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::zipf::Zipf;

/// How keys are chosen from `0..key_range`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyDist {
    Uniform,
    Zipf {
        exponent: f64,
    },
    /// Every key once, in order; for loading a data set.
    Sequential,
}

/// How many keys each command names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fanout {
    /// SET and GET: one key each.
    Single,
    /// MSET and MGET of several keys each.
    Multi(MultiKey),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MultiKey {
    pub keys_per_command: usize,
    /// Keys of each command drawn from the hot set (the rest follow `keys`); 0 for none.
    pub hot_keys_per_command: usize,
    /// The hot set is keys `0..hot_set_keys`.
    pub hot_set_keys: u64,
}

impl MultiKey {
    /// K keys per command, drawn from the whole range.
    pub fn uniform(keys_per_command: usize) -> MultiKey {
        MultiKey {
            keys_per_command,
            hot_keys_per_command: 0,
            hot_set_keys: 1,
        }
    }
}

/// Most keys one command may name: RESP argument counts stay small, and the load generator's
/// buffers stay bounded.
pub const KEYS_PER_COMMAND_MAX: usize = 1000;

/// When a connection sends its next batch of `pipeline` commands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// As soon as the previous batch's replies are all in.
    Closed,
    /// On a fixed schedule adding up to `ops_per_sec` over all connections, whether or not the
    /// replies are in; latency counts from the scheduled time.
    Open { ops_per_sec: u64 },
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub name: String,
    /// Connections in all, spread over `threads`.
    pub clients: usize,
    pub threads: usize,
    /// Commands per write; each connection has at most one batch in flight in closed loop.
    pub pipeline: usize,
    pub set_ratio: u32,
    pub get_ratio: u32,
    pub value_len_bytes: usize,
    pub key_range: u64,
    pub keys: KeyDist,
    /// One key per command, or MSET/MGET of several.
    pub fanout: Fanout,
    pub pacing: Pacing,
    /// Stop issuing after this long…
    pub duration: Duration,
    /// …or after this many commands in all, whichever comes first.
    pub requests_max: u64,
    pub seed: u64,
}

impl Workload {
    /// A loader: `keys` sequential SETs of `value_len_bytes`, pipelined, bounded by `time_max`.
    pub fn loader(keys: u64, value_len_bytes: usize, time_max: Duration) -> Workload {
        Workload {
            name: "load".into(),
            clients: 4,
            threads: 2,
            pipeline: 64,
            set_ratio: 1,
            get_ratio: 0,
            value_len_bytes,
            key_range: keys,
            keys: KeyDist::Sequential,
            fanout: Fanout::Single,
            pacing: Pacing::Closed,
            duration: time_max,
            requests_max: keys,
            seed: 1,
        }
    }

    /// One line for reports: everything that shapes the load.
    pub fn describe(&self) -> String {
        let keys = match self.keys {
            KeyDist::Uniform => "uniform".to_string(),
            KeyDist::Zipf { exponent } => format!("zipf {exponent}"),
            KeyDist::Sequential => "sequential".to_string(),
        };
        let pacing = match self.pacing {
            Pacing::Closed => "closed loop".to_string(),
            Pacing::Open { ops_per_sec } => format!("open loop at {ops_per_sec} ops/s"),
        };
        let commands = match self.fanout {
            Fanout::Single => "SET:GET".to_string(),
            Fanout::Multi(multi) if multi.hot_keys_per_command == 0 => {
                format!("MSET:MGET of {} keys", multi.keys_per_command)
            }
            Fanout::Multi(multi) => format!(
                "MSET:MGET of {} keys ({} from a hot set of {})",
                multi.keys_per_command, multi.hot_keys_per_command, multi.hot_set_keys
            ),
        };
        format!(
            "{commands} {}:{}, pipeline {}, {} clients on {} threads, {} B values, {} keys {keys}, \
             {pacing}",
            self.set_ratio,
            self.get_ratio,
            self.pipeline,
            self.clients,
            self.threads,
            self.value_len_bytes,
            self.key_range
        )
    }

    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (self.clients >= 1, "clients must be at least 1"),
            (self.threads >= 1, "threads must be at least 1"),
            (
                self.threads <= self.clients,
                "threads must not exceed clients",
            ),
            (self.pipeline >= 1, "pipeline must be at least 1"),
            (
                self.set_ratio + self.get_ratio >= 1,
                "the SET:GET ratio is 0:0",
            ),
            (self.key_range >= 1, "key range must be at least 1"),
            (self.requests_max >= 1, "requests must be at least 1"),
            (
                self.fanout_valid(),
                "keys per command must be 1..=1000, hot keys at most that, \
              the hot set at least 1 key and within the range, and a multi-key workload not \
              sequential",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, why)) => Err(format!("workload {}: {why}", self.name)),
            None => Ok(()),
        }
    }

    fn fanout_valid(&self) -> bool {
        match self.fanout {
            Fanout::Single => true,
            Fanout::Multi(multi) => {
                (1..=KEYS_PER_COMMAND_MAX).contains(&multi.keys_per_command)
                    && multi.hot_keys_per_command <= multi.keys_per_command
                    && (1..=self.key_range).contains(&multi.hot_set_keys)
                    && self.keys != KeyDist::Sequential
            }
        }
    }

    /// Keys each command names: ops/s times this is keys/s.
    pub fn keys_per_command(&self) -> usize {
        match self.fanout {
            Fanout::Single => 1,
            Fanout::Multi(multi) => multi.keys_per_command,
        }
    }
}

/// What the server must answer to a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// SET: `+OK`.
    Ok,
    /// GET: a bulk string or nil.
    BulkOrNil,
    /// MGET: an array of `len` bulk strings or nils.
    Array { len: usize },
}

/// One thread's command source.
pub struct Generator {
    rng: ChaCha8Rng,
    zipf: Option<Zipf>,
    keys: KeyDist,
    key_range: u64,
    fanout: Fanout,
    cycle_len: u32,
    set_ratio: u32,
    cycle_pos: u32,
    next_sequential: u64,
    sequential_step: u64,
    value: Vec<u8>,
    value_len_text: String,
}

impl Generator {
    pub fn new(workload: &Workload, thread: usize) -> Generator {
        let zipf = match workload.keys {
            KeyDist::Zipf { exponent } => Some(Zipf::new(workload.key_range, exponent)),
            KeyDist::Uniform | KeyDist::Sequential => None,
        };
        // A recognisable, non-constant value: compressible stores would flatter a constant.
        let value: Vec<u8> = (0..workload.value_len_bytes)
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        Generator {
            rng: ChaCha8Rng::seed_from_u64(workload.seed ^ (thread as u64).wrapping_mul(0x9e37)),
            zipf,
            keys: workload.keys,
            key_range: workload.key_range,
            fanout: workload.fanout,
            cycle_len: workload.set_ratio + workload.get_ratio,
            set_ratio: workload.set_ratio,
            // Threads start at different points of the cycle so a short run still mixes.
            cycle_pos: (thread as u32) % (workload.set_ratio + workload.get_ratio),
            next_sequential: thread as u64,
            sequential_step: workload.threads as u64,
            value_len_text: value.len().to_string(),
            value,
        }
    }

    /// Whether the sequential key space is used up (always false for random keys).
    pub fn exhausted(&self) -> bool {
        self.keys == KeyDist::Sequential && self.next_sequential >= self.key_range
    }

    /// Appends one command to `out` and says what it must be answered with.
    pub fn push_command(&mut self, out: &mut Vec<u8>) -> Expect {
        let is_set = self.cycle_pos < self.set_ratio;
        self.cycle_pos = (self.cycle_pos + 1) % self.cycle_len;
        if let Fanout::Multi(multi) = self.fanout {
            return self.push_multi(out, multi, is_set);
        }
        let index = self.next_key();
        if is_set {
            out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
            push_key(out, index);
            push_bulk_header(out, &self.value_len_text);
            out.extend_from_slice(&self.value);
            out.extend_from_slice(b"\r\n");
            Expect::Ok
        } else {
            out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n");
            push_key(out, index);
            Expect::BulkOrNil
        }
    }

    /// MSET or MGET of `multi.keys_per_command` keys, the hot ones first.
    fn push_multi(&mut self, out: &mut Vec<u8>, multi: MultiKey, is_set: bool) -> Expect {
        let keys = multi.keys_per_command;
        let args = if is_set { 1 + 2 * keys } else { 1 + keys };
        out.push(b'*');
        out.extend_from_slice(args.to_string().as_bytes());
        out.extend_from_slice(if is_set {
            b"\r\n$4\r\nMSET\r\n"
        } else {
            b"\r\n$4\r\nMGET\r\n"
        });
        for i in 0..keys {
            let index = if i < multi.hot_keys_per_command {
                self.rng.gen_range(0..multi.hot_set_keys)
            } else {
                self.next_key()
            };
            push_key(out, index);
            if is_set {
                push_bulk_header(out, &self.value_len_text);
                out.extend_from_slice(&self.value);
                out.extend_from_slice(b"\r\n");
            }
        }
        if is_set {
            Expect::Ok
        } else {
            Expect::Array { len: keys }
        }
    }

    fn next_key(&mut self) -> u64 {
        match (self.keys, &self.zipf) {
            (KeyDist::Zipf { .. }, Some(zipf)) => zipf.sample(&mut self.rng) - 1,
            (KeyDist::Sequential, _) => {
                let index = self.next_sequential;
                self.next_sequential += self.sequential_step;
                index
            }
            (KeyDist::Uniform | KeyDist::Zipf { .. }, _) => self.rng.gen_range(0..self.key_range),
        }
    }
}

/// Appends `key:<index>` as a bulk string, without allocating: this runs once per command.
fn push_key(out: &mut Vec<u8>, index: u64) {
    const PREFIX: &[u8] = b"key:";
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = index;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let key_len_bytes = PREFIX.len() + digits.len() - start;
    out.push(b'$');
    // Keys are at most 24 bytes: two digits.
    if key_len_bytes >= 10 {
        out.push(b'0' + (key_len_bytes / 10) as u8);
    }
    out.push(b'0' + (key_len_bytes % 10) as u8);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(&digits[start..]);
    out.extend_from_slice(b"\r\n");
}

fn push_bulk_header(out: &mut Vec<u8>, len_text: &str) {
    out.push(b'$');
    out.extend_from_slice(len_text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(set_ratio: u32, get_ratio: u32) -> Workload {
        Workload {
            set_ratio,
            get_ratio,
            key_range: 10,
            keys: KeyDist::Uniform,
            ..Workload::loader(10, 3, Duration::from_secs(1))
        }
    }

    #[test]
    fn commands_follow_the_ratio_cycle() {
        let mut generator = Generator::new(&workload(1, 2), 0);
        let mut out = Vec::new();
        let kinds: Vec<Expect> = (0..6).map(|_| generator.push_command(&mut out)).collect();
        use Expect::{BulkOrNil as G, Ok as S};
        assert_eq!(kinds, [S, G, G, S, G, G]);
    }

    #[test]
    fn set_encoding() {
        let loader = Workload::loader(4, 3, Duration::from_secs(1));
        let mut generator = Generator::new(&loader, 1);
        let mut out = Vec::new();
        assert_eq!(generator.push_command(&mut out), Expect::Ok);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$3\r\nabc\r\n");
        generator.push_command(&mut out);
        assert!(
            generator.exhausted(),
            "thread 1 of 2 over 4 keys writes keys 1 and 3"
        );
    }

    fn multi(keys_per_command: usize, hot_keys_per_command: usize, hot_set_keys: u64) -> Workload {
        Workload {
            fanout: Fanout::Multi(MultiKey {
                keys_per_command,
                hot_keys_per_command,
                hot_set_keys,
            }),
            key_range: 1000,
            ..workload(1, 1)
        }
    }

    #[test]
    fn mset_and_mget_encoding() {
        let mut generator = Generator::new(&multi(2, 2, 1), 0);
        let mut out = Vec::new();
        assert_eq!(generator.push_command(&mut out), Expect::Ok);
        let mset = b"*5\r\n$4\r\nMSET\r\n$5\r\nkey:0\r\n$3\r\nabc\r\n$5\r\nkey:0\r\n$3\r\nabc\r\n";
        assert_eq!(out, mset, "a hot set of one key: every key is key:0");
        out.clear();
        assert_eq!(generator.push_command(&mut out), Expect::Array { len: 2 });
        assert_eq!(out, b"*3\r\n$4\r\nMGET\r\n$5\r\nkey:0\r\n$5\r\nkey:0\r\n");
    }

    #[test]
    fn hot_keys_come_first_and_from_the_hot_set() {
        let mut generator = Generator::new(&multi(10, 3, 5), 0);
        let mut out = Vec::new();
        let mut cold_beyond_hot_set = false;
        for _ in 0..200 {
            out.clear();
            generator.push_command(&mut out);
            let text = String::from_utf8_lossy(&out).into_owned();
            let keys: Vec<u64> = text
                .split("\r\n")
                .filter_map(|part| part.strip_prefix("key:"))
                .map(|index| index.parse().unwrap())
                .collect();
            assert_eq!(keys.len(), 10, "{text}");
            assert!(keys[..3].iter().all(|&k| k < 5), "{keys:?}");
            cold_beyond_hot_set |= keys[3..].iter().any(|&k| k >= 5);
        }
        assert!(cold_beyond_hot_set, "cold keys come from the whole range");
    }

    #[test]
    fn bad_fanouts_are_refused() {
        assert!(multi(10, 1, 100).validate().is_ok());
        assert!(multi(0, 0, 1).validate().is_err());
        assert!(multi(2, 3, 1).validate().is_err());
        assert!(multi(2, 1, 0).validate().is_err());
        assert!(
            multi(2, 1, 1001).validate().is_err(),
            "hot set beyond the range"
        );
        assert_eq!(multi(7, 0, 1).keys_per_command(), 7);
    }

    #[test]
    fn key_encoding_at_digit_boundaries() {
        let mut out = Vec::new();
        push_key(&mut out, 0);
        push_key(&mut out, 123_456);
        push_key(&mut out, u64::MAX);
        let expected = b"$5\r\nkey:0\r\n$10\r\nkey:123456\r\n$24\r\nkey:18446744073709551615\r\n";
        assert_eq!(out, expected);
    }
}
