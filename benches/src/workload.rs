//! What a load run sends: the knobs (memtier_benchmark's, by name where they exist) and the
//! per-thread command generator.
//!
//! Commands follow the SET:GET ratio as a fixed cycle (`set_ratio` SETs, then `get_ratio` GETs),
//! as memtier does, so every run of a workload sends the same mix whatever its length. Keys are
//! `key:<index>` with the index drawn uniformly, by Zipf rank (rank 1 → index 0), or in order
//! (the loader: thread `t` of `T` writes `t, t+T, t+2T, …` so threads never overlap).

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
        format!(
            "SET:GET {}:{}, pipeline {}, {} clients on {} threads, {} B values, {} keys {keys}, \
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
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, why)) => Err(format!("workload {}: {why}", self.name)),
            None => Ok(()),
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
}

/// One thread's command source.
pub struct Generator {
    rng: ChaCha8Rng,
    zipf: Option<Zipf>,
    keys: KeyDist,
    key_range: u64,
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
        let index = self.next_key();
        let is_set = self.cycle_pos < self.set_ratio;
        self.cycle_pos = (self.cycle_pos + 1) % self.cycle_len;
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
