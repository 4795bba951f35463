//! The checker on generated histories: legal ones (built by running the model at a random
//! instant inside each op's interval) must be accepted, corrupted ones rejected, with and
//! without key partitioning. `measure_checker_speed` prints the numbers quoted in
//! papers/linearizability.md:
//! `cargo test -p model --release --test linearizability -- --nocapture`.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // Instant: timing the checker

use std::time::Instant;

use model::linearizability::{check, check_with_stats, CheckConfig, Op, Stats, Violation};
use model::{ConnState, Model, Resp};

/// A tiny deterministic PRNG (xorshift64*), so histories are reproducible by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const T0_US: u64 = 1_700_000_000_000_000;
const KEYS: [&str; 5] = ["a", "b", "c", "{t}d", "{t}e"];

/// What a generated history may contain besides single-key commands.
#[derive(Clone, Copy)]
struct Mix {
    multi_key: bool,
    transactions: bool,
}

fn random_command(rng: &mut Rng, mix: Mix) -> Vec<Vec<u8>> {
    let k = |rng: &mut Rng| KEYS[rng.below(KEYS.len() as u64) as usize].to_string();
    let v = rng.below(4).to_string();
    if mix.transactions && rng.below(3) == 0 {
        let text = match rng.below(6) {
            0 => format!("WATCH {}", k(rng)),
            1 | 2 => "MULTI".to_string(),
            3 | 4 => "EXEC".to_string(),
            _ => ["DISCARD", "UNWATCH"][rng.below(2) as usize].to_string(),
        };
        return text.split(' ').map(|s| s.as_bytes().to_vec()).collect();
    }
    let text = match rng.below(if mix.multi_key { 12 } else { 10 }) {
        0 | 1 => format!("SET {} {v}", k(rng)),
        2 | 3 => format!("GET {}", k(rng)),
        4 => format!("INCR {}", k(rng)),
        5 => format!("APPEND {} {v}", k(rng)),
        6 => format!("DEL {}", k(rng)),
        7 => format!("SET {} {v} PX {}", k(rng), 1 + rng.below(20)),
        8 => format!("PTTL {}", k(rng)),
        9 => format!("GETSET {} {v}", k(rng)),
        10 => format!("MSET {} {v} {} {v}", k(rng), k(rng)),
        _ => format!("MGET {} {}", k(rng), k(rng)),
    };
    text.split(' ').map(|s| s.as_bytes().to_vec()).collect()
}

/// `ops` operations from `clients` sequential clients; each op takes effect at a random instant
/// of its interval, in that order, so the history is linearizable by construction.
fn legal_history(seed: u64, clients: u32, ops: usize, mix: Mix) -> Vec<Op> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut clock = vec![T0_US; clients as usize];
    let mut planned = Vec::new(); // (point, op)
    for _ in 0..ops {
        let c = rng.below(u64::from(clients)) as usize;
        let invoke = clock[c] + rng.below(50);
        let ret = invoke + 10 + rng.below(300);
        let point = invoke + rng.below(ret - invoke + 1);
        clock[c] = ret;
        let argv = random_command(&mut rng, mix);
        let op = Op {
            client: c as u32,
            invoke_us: invoke,
            return_us: Some(ret),
            argv,
            reply: None,
        };
        planned.push((point, op));
    }
    planned.sort_by_key(|(point, _)| *point);
    let mut model = Model::default();
    let mut conns = vec![ConnState::default(); clients as usize];
    let mut history = Vec::new();
    for (point, mut op) in planned {
        let conn = &mut conns[op.client as usize];
        let reply = model.apply(conn, &op.argv, point / 1000);
        op.reply = Some(reply);
        history.push(op);
    }
    history
}

fn config(partition: bool) -> CheckConfig {
    CheckConfig {
        partition,
        ..CheckConfig::default()
    }
}

#[test]
fn generated_legal_histories_are_accepted() {
    for seed in 0..20 {
        let mix = Mix {
            multi_key: seed % 2 == 0,
            transactions: seed % 3 == 0,
        };
        let h = legal_history(seed, 8, 400, mix);
        for partition in [true, false] {
            if let Err(v) = check(&h, &config(partition)) {
                panic!("seed {seed} partition={partition}: legal history rejected:\n{v}");
            }
        }
    }
}

/// Replaces one GET's reply (one that ran, not one queued in MULTI) by a value nobody wrote.
fn corrupt(mut h: Vec<Op>, rng: &mut Rng) -> Vec<Op> {
    let queued = Some(Resp::Simple("QUEUED".into()));
    let gets: Vec<usize> = (0..h.len())
        .filter(|&i| h[i].argv[0] == b"GET" && h[i].reply != queued)
        .collect();
    let victim = gets[rng.below(gets.len() as u64) as usize];
    h[victim].reply = Some(Resp::bulk("never-written"));
    h
}

#[test]
fn corrupted_histories_are_rejected_with_a_small_partition() {
    for seed in 0..10 {
        let mix = Mix {
            multi_key: false,
            transactions: false,
        };
        let h = corrupt(legal_history(seed, 8, 400, mix), &mut Rng(seed + 1));
        match check(&h, &config(true)) {
            Err(Violation::NotLinearizable { ops, .. }) => {
                assert!(ops.len() < h.len(), "partitioning should isolate one key");
                assert!(ops
                    .iter()
                    .any(|o| o.reply == Some(Resp::bulk("never-written"))));
            }
            other => panic!("seed {seed}: expected a violation, got {other:?}"),
        }
    }
}

/// With transactions, a WATCH .. EXEC block joins the partitions of all its keys, so the failing
/// partition is larger; the violation is still found and names the corrupted read.
#[test]
fn corrupted_histories_with_transactions_are_rejected() {
    for seed in 0..10 {
        let mix = Mix {
            multi_key: false,
            transactions: true,
        };
        let h = corrupt(legal_history(seed, 4, 120, mix), &mut Rng(seed + 1));
        match check(&h, &config(true)) {
            Err(Violation::NotLinearizable { ops, .. }) => {
                assert!(ops
                    .iter()
                    .any(|o| o.reply == Some(Resp::bulk("never-written"))));
            }
            other => panic!("seed {seed}: expected a violation, got {other:?}"),
        }
    }
}

fn timed(h: &[Op], partition: bool) -> (f64, Stats) {
    let started = Instant::now();
    let (result, stats) = check_with_stats(h, &config(partition));
    assert!(
        result.is_ok(),
        "legal history rejected (partition={partition})"
    );
    (started.elapsed().as_secs_f64() * 1000.0, stats)
}

#[test]
fn measure_checker_speed() {
    for (multi_key, transactions) in [(false, false), (true, false), (true, true)] {
        let mix = Mix {
            multi_key,
            transactions,
        };
        let h = legal_history(7, 8, 2000, mix);
        let (with_ms, with) = timed(&h, true);
        let (without_ms, without) = timed(&h, false);
        eprintln!(
            "2000 ops, 8 clients, 5 keys, multi-key ops: {multi_key}, transactions: \
             {transactions}: partitioned {with_ms:.1} ms \
             ({} parts, largest {}, {} steps); whole {without_ms:.1} ms ({} steps)",
            with.partitions, with.largest_partition, with.steps, without.steps
        );
    }
}
