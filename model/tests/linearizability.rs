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

/// A small, dense history: `clients` pipelining clients (an op may be sent before the previous
/// one's reply) over two keys, with absolute deadlines that fall inside the history, writes
/// that often do nothing (SETNX, DEL, GETDEL), transactions, and clients that hang up (their
/// last ops never return and may or may not have run). Linearizable by construction.
fn dense_history(rng: &mut Rng, clients: u32, ops: usize) -> Vec<Op> {
    let t0_ms = T0_US / 1000;
    let mut last = vec![(T0_US, T0_US); clients as usize]; // (invoke, point) per client
    let mut gone = vec![false; clients as usize];
    let mut planned = Vec::new(); // (point or None if it never ran, op)
    for _ in 0..ops {
        let c = rng.below(u64::from(clients)) as usize;
        if gone[c] {
            continue;
        }
        let k = ["a", "b"][rng.below(2) as usize];
        let v = rng.below(3);
        let deadline = t0_ms + rng.below(4);
        let text = match rng.below(16) {
            0 | 1 => format!("SET {k} {v}"),
            2 => format!("SET {k} {v} PXAT {deadline}"),
            3 | 4 => format!("GET {k}"),
            5 => format!("SETNX {k} {v}"),
            6 => format!("DEL {k}"),
            7 => format!("GETDEL {k}"),
            8 => format!("PEXPIREAT {k} {deadline}"),
            9 => format!("INCR {k}"),
            10 => format!("APPEND {k} {v}"),
            11 => "MGET a b".to_string(),
            12 => format!("WATCH {k}"),
            13 => "MULTI".to_string(),
            14 => "EXEC".to_string(),
            _ => format!("EXISTS {k}"),
        };
        let (prev_invoke, prev_point) = last[c];
        let invoke = prev_invoke + rng.below(400);
        let point = invoke.max(prev_point) + rng.below(400);
        let ret = point + rng.below(400);
        last[c] = (invoke, point);
        let hangs_up = rng.below(12) == 0;
        gone[c] = hangs_up;
        let ran = !hangs_up || rng.below(2) == 0;
        let op = Op {
            client: c as u32,
            invoke_us: invoke,
            return_us: (!hangs_up).then_some(ret),
            argv: text.split(' ').map(|s| s.as_bytes().to_vec()).collect(),
            reply: None,
        };
        planned.push((ran.then_some(point), op));
    }
    planned.sort_by_key(|(point, _)| point.unwrap_or(u64::MAX));
    let mut model = Model::default();
    let mut conns = vec![ConnState::default(); clients as usize];
    let mut history = Vec::new();
    for (point, mut op) in planned {
        if let Some(point) = point {
            let reply = model.apply(&mut conns[op.client as usize], &op.argv, point / 1000);
            op.reply = op.return_us.map(|_| reply);
        }
        history.push(op);
    }
    history
}

/// The checker's reductions (`CheckConfig::reduce`) only skip branches that cannot hold the
/// only linearization: on small dense histories, legal or with one reply changed, the verdict
/// with them equals the verdict of the plain Wing–Gong–Lowe search.
#[test]
fn reductions_never_change_the_verdict() {
    let mut rng = Rng(0x5eed);
    let (mut legal, mut illegal) = (0, 0);
    let rounds: u64 = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    for round in 0..rounds {
        let (clients, ops) = (2 + rng.below(3) as u32, 6 + rng.below(12) as usize);
        let mut h = dense_history(&mut rng, clients, ops);
        let returned: Vec<usize> = (0..h.len()).filter(|&i| h[i].reply.is_some()).collect();
        if round % 2 == 1 && !returned.is_empty() {
            let victim = returned[rng.below(returned.len() as u64) as usize];
            let replies = [
                Resp::Nil,
                Resp::Int(0),
                Resp::Int(1),
                Resp::bulk("1"),
                Resp::ok(),
                Resp::NilArray,
            ];
            h[victim].reply = Some(replies[rng.below(replies.len() as u64) as usize].clone());
        }
        let plain = CheckConfig {
            reduce: false,
            ..CheckConfig::default()
        };
        let reduced = check(&h, &CheckConfig::default());
        let expected = check(&h, &plain);
        match (&expected, &reduced) {
            (Ok(()), Ok(())) => legal += 1,
            (Err(Violation::NotLinearizable { .. }), Err(Violation::NotLinearizable { .. })) => {
                illegal += 1
            }
            _ => panic!(
                "round {round}: plain search says {:?}, reduced says {:?}; history: {h:#?}",
                expected.err().map(|v| v.to_string()),
                reduced.err().map(|v| v.to_string())
            ),
        }
        if round % 2 == 0 {
            assert!(
                reduced.is_ok(),
                "round {round}: a legal history was rejected"
            );
        }
    }
    eprintln!("legal {legal}, illegal {illegal}");
    assert!(
        legal > 300 && illegal > 100,
        "legal {legal}, illegal {illegal}"
    );
}

/// The shape that exhausted the plain search (sim seed 685 and its kind: many clients, one
/// key, reads piling up while a long write is in flight): one slow `SET y 1`, invoked first,
/// and `readers` concurrent `GET x`, then an `MGET x y` that still sees no y (so the SET took
/// effect after it), then a read of y after the SET returned. The plain search tries the SET
/// first, and below that wrong choice every subset of the reads is a distinct configuration:
/// 2^readers of them, each expanded, before it backtracks.
fn slow_write_among_reads(readers: u32, last_read: Resp) -> Vec<Op> {
    let op = |client: u32, invoke: u64, ret: u64, cmd: &str, reply: Resp| Op {
        client,
        invoke_us: T0_US + invoke,
        return_us: Some(T0_US + ret),
        argv: cmd.split(' ').map(|s| s.as_bytes().to_vec()).collect(),
        reply: Some(reply),
    };
    let mut h = vec![op(0, 0, 10_000, "SET y 1", Resp::ok())];
    h.extend((1..=readers).map(|c| op(c, 0, 5_000, "GET x", Resp::Nil)));
    h.push(op(
        readers + 1,
        6_000,
        7_000,
        "MGET x y",
        Resp::Array(vec![Resp::Nil, Resp::Nil]),
    ));
    h.push(op(readers + 2, 11_000, 12_000, "GET y", last_read));
    h
}

#[test]
fn the_budget_exhausting_shape_now_finishes() {
    // A budget well below the plain search's need (2^20 configurations, tens of millions of
    // steps, far past the default 5M) keeps the test quick in a debug build.
    let budget = 300_000;
    let config = |reduce| CheckConfig {
        steps_max: budget,
        reduce,
        ..CheckConfig::default()
    };
    for (last_read, legal) in [(Resp::bulk("1"), true), (Resp::Nil, false)] {
        let h = slow_write_among_reads(20, last_read);
        let (plain, _) = check_with_stats(&h, &config(false));
        assert!(
            matches!(plain, Err(Violation::Unknown { .. })),
            "the plain search finished: {plain:?}"
        );
        let (reduced, stats) = check_with_stats(&h, &config(true));
        match reduced {
            Ok(()) => assert!(legal, "an illegal history was accepted"),
            Err(Violation::NotLinearizable { .. }) => assert!(!legal, "a legal one rejected"),
            Err(e) => panic!("legal={legal}: {e}"),
        }
        assert!(stats.steps < 1_000, "legal={legal}: {} steps", stats.steps);
    }
}

/// `dense_history`'s shape with the simulator's evictions in it: lone `DEL k` ops with no
/// interval (invoke = return), each from a client of its own, replying what DEL replied at
/// that instant. Instants are coarse (multiples of 100 µs), so evictions of one key often
/// share one, as when a shard evicts a key several times in one step, between writes.
fn dense_history_with_evictions(rng: &mut Rng, clients: u32, ops: usize) -> Vec<Op> {
    let t0_ms = T0_US / 1000;
    let step = |t: u64| t.div_ceil(100) * 100;
    let mut last = vec![(T0_US, T0_US); clients as usize];
    let mut planned = Vec::new(); // (point, op)
    let mut lone_client = 1_000;
    for _ in 0..ops {
        let c = rng.below(u64::from(clients)) as usize;
        let k = ["a", "b"][rng.below(2) as usize];
        let v = rng.below(3);
        let deadline = t0_ms + rng.below(4);
        let text = match rng.below(9) {
            0 | 1 => format!("SET {k} {v}"),
            2 => format!("SET {k} {v} PXAT {deadline}"),
            3 => format!("GET {k}"),
            4 => format!("SETNX {k} {v}"),
            5 => format!("INCR {k}"),
            6 => "MGET a b".to_string(),
            7 => format!("APPEND {k} {v}"),
            _ => format!("EXISTS {k}"),
        };
        let (prev_invoke, prev_point) = last[c];
        let invoke = prev_invoke + rng.below(300);
        let point = step(invoke.max(prev_point) + rng.below(300));
        let ret = point + rng.below(300);
        last[c] = (invoke, point);
        let argv = |text: &str| text.split(' ').map(|s| s.as_bytes().to_vec()).collect();
        planned.push((
            point,
            Op {
                client: c as u32,
                invoke_us: invoke,
                return_us: Some(ret),
                argv: argv(&text),
                reply: None,
            },
        ));
        for _ in 0..rng.below(3) {
            lone_client += 1;
            planned.push((
                point,
                Op {
                    client: lone_client,
                    invoke_us: point,
                    return_us: Some(point),
                    argv: argv(&format!("DEL {k}")),
                    reply: None,
                },
            ));
        }
    }
    planned.sort_by_key(|(point, _)| *point);
    let mut model = Model::default();
    let mut conns: std::collections::BTreeMap<u32, ConnState> = Default::default();
    let mut history = Vec::new();
    for (point, mut op) in planned {
        let conn = conns.entry(op.client).or_default();
        op.reply = Some(model.apply(conn, &op.argv, point / 1000));
        history.push(op);
    }
    history
}

/// Twins (identical lone ops, linearized in index order) never change the verdict either:
/// with evictions of one key sharing an instant, legal or with one reply changed, the reduced
/// search agrees with the plain one.
#[test]
fn twins_never_change_the_verdict() {
    let mut rng = Rng(0x7a1e);
    let (mut legal, mut illegal, mut with_twins) = (0, 0, 0);
    for round in 0..400 {
        let (clients, ops) = (2 + rng.below(2) as u32, 5 + rng.below(8) as usize);
        let mut h = dense_history_with_evictions(&mut rng, clients, ops);
        let lone_pairs = (1..h.len())
            .filter(|&i| h[i].client >= 1_000 && h[i - 1].client >= 1_000)
            .filter(|&i| h[i].argv == h[i - 1].argv && h[i].reply == h[i - 1].reply)
            .filter(|&i| h[i].invoke_us == h[i - 1].invoke_us)
            .count();
        with_twins += usize::from(lone_pairs > 0);
        if round % 2 == 1 {
            let victim = rng.below(h.len() as u64) as usize;
            let replies = [Resp::Nil, Resp::Int(0), Resp::Int(1), Resp::bulk("1")];
            h[victim].reply = Some(replies[rng.below(replies.len() as u64) as usize].clone());
        }
        let plain = CheckConfig {
            reduce: false,
            ..CheckConfig::default()
        };
        let reduced = check(&h, &CheckConfig::default());
        let expected = check(&h, &plain);
        match (&expected, &reduced) {
            (Ok(()), Ok(())) => legal += 1,
            (Err(Violation::NotLinearizable { .. }), Err(Violation::NotLinearizable { .. })) => {
                illegal += 1
            }
            _ => panic!(
                "round {round}: plain search says {:?}, reduced says {:?}; history: {h:#?}",
                expected.err().map(|v| v.to_string()),
                reduced.err().map(|v| v.to_string())
            ),
        }
        if round % 2 == 0 {
            assert!(
                reduced.is_ok(),
                "round {round}: a legal history was rejected"
            );
        }
    }
    eprintln!("legal {legal}, illegal {illegal}, with twins {with_twins}");
    assert!(
        legal > 200 && illegal > 60 && with_twins > 50,
        "legal {legal}, illegal {illegal}, with twins {with_twins}"
    );
}

/// The shape of sim seed 5000503813: a shard evicts one key `n` times in one step, and each
/// eviction (`DEL k` replying 1) needs a write of the key before it, from `n` pipelined writes
/// of two clients whose intervals hold that instant. The plain search meets every subset of the
/// evictions; with twins, `n + 1` of them.
fn one_key_evicted_in_one_step(n: u32, evictions: u32) -> Vec<Op> {
    let op = |client: u32, invoke: u64, ret: u64, cmd: &str, reply: Resp| Op {
        client,
        invoke_us: T0_US + invoke,
        return_us: Some(T0_US + ret),
        argv: cmd.split(' ').map(|s| s.as_bytes().to_vec()).collect(),
        reply: Some(reply),
    };
    let mut h = Vec::new();
    for i in 0..n {
        let client = i % 2;
        h.push(op(
            client,
            u64::from(client),
            20_000,
            &format!("SET k v{i}"),
            Resp::ok(),
        ));
    }
    for e in 0..evictions {
        h.push(op(100 + e, 10_000, 10_000, "DEL k", Resp::Int(1)));
    }
    h.push(op(2, 30_000, 30_100, "EXISTS k", Resp::Int(0)));
    h
}

#[test]
fn evictions_of_one_key_in_one_step_stay_cheap() {
    let budget = 200_000;
    let config = |reduce| CheckConfig {
        steps_max: budget,
        reduce,
        ..CheckConfig::default()
    };
    for (evictions, legal) in [(12, true), (13, false)] {
        let h = one_key_evicted_in_one_step(12, evictions);
        let (plain, _) = check_with_stats(&h, &config(false));
        assert!(
            matches!(plain, Err(Violation::Unknown { .. })),
            "the plain search finished: {plain:?}"
        );
        let (reduced, stats) = check_with_stats(&h, &config(true));
        match reduced {
            Ok(()) => assert!(legal, "an illegal history was accepted"),
            Err(Violation::NotLinearizable { .. }) => assert!(!legal, "a legal one rejected"),
            Err(e) => panic!("legal={legal}: {e}"),
        }
        eprintln!("{evictions} evictions: {} steps", stats.steps);
        assert!(stats.steps < 20_000, "legal={legal}: {} steps", stats.steps);
    }
}
