//! GET and SET through the whole engine path on one node: decoder, command table lookup, arity
//! and flag checks, the shard op, the encoder, and the node's message handling, driven by
//! `TestCluster::new(1)`.
//!
//! `TestCluster` runs with `verify` on (the invariant sweep after each message) and copies each
//! request into a message, so this is an upper bound on per-command engine cost; the driver's
//! path differs only in where the bytes come from. One iteration is a pipeline of 16 commands in
//! one `send`, measured per command, and the reply bytes are checked once up front.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use damselfly_core::testkit::TestCluster;

const PIPELINE: usize = 16;
const KEYS: usize = 1_000;

fn frame(args: &[&[u8]]) -> Vec<u8> {
    let mut bytes = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        bytes.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        bytes.extend_from_slice(arg);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

fn batch(command: &str, first_key: usize) -> Vec<u8> {
    let value = [b'v'; 32];
    let mut bytes = Vec::new();
    for i in 0..PIPELINE {
        let key = format!("key:{}", (first_key + i) % KEYS);
        let args: Vec<&[u8]> = match command {
            "SET" => vec![b"SET", key.as_bytes(), &value],
            _ => vec![b"GET", key.as_bytes()],
        };
        bytes.extend_from_slice(&frame(&args));
    }
    bytes
}

fn dispatch(c: &mut Criterion) {
    let mut cluster = TestCluster::new(1);
    let conn = cluster.connect(0);
    // Load every key, and check the replies are what the benchmark assumes.
    for first in (0..KEYS).step_by(PIPELINE) {
        let reply = cluster.send(conn, &batch("SET", first));
        assert_eq!(reply, b"+OK\r\n".repeat(PIPELINE), "SET replies");
    }
    let get_reply = cluster.send(conn, &batch("GET", 0));
    assert_eq!(
        get_reply.len(),
        PIPELINE * b"$32\r\n\r\n".len() + PIPELINE * 32,
        "GET replies"
    );

    let sets: Vec<Vec<u8>> = (0..KEYS)
        .step_by(PIPELINE)
        .map(|k| batch("SET", k))
        .collect();
    let gets: Vec<Vec<u8>> = (0..KEYS)
        .step_by(PIPELINE)
        .map(|k| batch("GET", k))
        .collect();
    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(PIPELINE as u64));
    for (name, batches) in [("get_pipeline16", &gets), ("set_pipeline16", &sets)] {
        let mut next = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                next = (next + 1) % batches.len();
                black_box(cluster.send(conn, black_box(&batches[next])))
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = dispatch
}
criterion_main!(benches);
