//! RESP decode and encode, the per-request fixed cost every command pays.
//!
//! `decode/pipeline16`: one buffer of 16 commands (8 SET, 8 GET, 16-byte keys, 32-byte values),
//! fed to a fresh `Decoder` and drained with `next_command`, as a connection does with one read.
//! `encode/*`: the replies those commands get (+OK, a 32-byte bulk, nil), 16 to a buffer, which
//! is reused as a connection's output buffer would be. Throughput is per command.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use damselfly_core::reply::Reply;
use damselfly_core::resp::{encode, Decoder, RespVersion};
use std::hint::black_box;
use std::time::Duration;

const PIPELINE: usize = 16;

fn pipeline_bytes() -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0..PIPELINE {
        let key = format!("key:{i:012}");
        if i % 2 == 0 {
            let value = "v".repeat(32);
            bytes.extend_from_slice(
                format!("*3\r\n$3\r\nSET\r\n$16\r\n{key}\r\n$32\r\n{value}\r\n").as_bytes(),
            );
        } else {
            bytes.extend_from_slice(format!("*2\r\n$3\r\nGET\r\n$16\r\n{key}\r\n").as_bytes());
        }
    }
    bytes
}

fn decode(c: &mut Criterion) {
    let bytes = pipeline_bytes();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(PIPELINE as u64));
    group.bench_function("pipeline16", |b| {
        b.iter_batched_ref(
            Decoder::default,
            |decoder| {
                decoder.feed(black_box(&bytes));
                let mut commands = 0;
                while let Some(argv) = decoder.next_command().expect("valid pipeline") {
                    commands += argv.len();
                }
                assert_eq!(commands, PIPELINE / 2 * 5, "8 SETs of 3 args, 8 GETs of 2");
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn encode_replies(c: &mut Criterion) {
    let cases = [
        ("ok", Reply::OK),
        ("bulk32", Reply::bulk(vec![b'v'; 32])),
        ("nil", Reply::Nil),
    ];
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(PIPELINE as u64));
    let mut out = Vec::with_capacity(4096);
    for (name, reply) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                out.clear();
                for _ in 0..PIPELINE {
                    encode(black_box(reply), RespVersion::Resp2, &mut out);
                }
                black_box(&out);
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Small samples: `cargo bench -p benches -- --quick` should take minutes, not tens of them.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = decode, encode_replies
}
criterion_main!(benches);
