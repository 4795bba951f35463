//! The shard table against hashbrown and std's HashMap, all three hashing with xxh3 under the
//! same fixed seed, so the comparison is of table layout and probing, not of hash functions.
//!
//! At 1K entries everything is in L1/L2; at 1M the buckets and keys spill to memory, and chained
//! buckets (a `Vec` each) pay a pointer chase that open addressing does not. Each operation is a
//! batch of 1,000 over keys that are present (get, insert-overwrite) or cycled (remove then
//! re-insert), drawn from a fixed-seed ChaCha8 stream.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use damselfly_core::table::{Keyed, Table};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use xxhash_rust::xxh3::Xxh3;

const SEED: u64 = 0x5eed;
const BATCH: usize = 1_000;

struct Entry {
    key: Vec<u8>,
    value: u64,
}

impl Keyed for Entry {
    fn key(&self) -> &[u8] {
        &self.key
    }
}

/// xxh3 with a fixed seed, the table's own hash, as a std `BuildHasher`.
#[derive(Clone, Copy, Default)]
struct FixedXxh3;

impl BuildHasher for FixedXxh3 {
    type Hasher = Xxh3;
    fn build_hasher(&self) -> Xxh3 {
        Xxh3::with_seed(SEED)
    }
}

fn key(i: u64) -> Vec<u8> {
    format!("key:{i}").into_bytes()
}

/// Indexes into `0..len` to look up, the same for every table.
fn probes(len: u64) -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    (0..BATCH).map(|_| key(rng.gen_range(0..len))).collect()
}

fn filled_table(len: u64) -> Table<Entry> {
    let mut table = Table::new(SEED);
    for i in 0..len {
        table.insert(Entry {
            key: key(i),
            value: i,
        });
    }
    table
}

fn bench_size(c: &mut Criterion, len: u64) {
    let probes = probes(len);
    let mut table = filled_table(len);
    let mut brown: hashbrown::HashMap<Vec<u8>, u64, FixedXxh3> =
        hashbrown::HashMap::with_hasher(FixedXxh3);
    let mut std_map: HashMap<Vec<u8>, u64, FixedXxh3> = HashMap::with_hasher(FixedXxh3);
    for i in 0..len {
        brown.insert(key(i), i);
        std_map.insert(key(i), i);
    }
    let mut group = c.benchmark_group(format!("table/{len}"));
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new("get", "damselfly"), |b| {
        b.iter(|| {
            probes
                .iter()
                .filter_map(|k| table.get(black_box(k)))
                .map(|e| e.value)
                .sum::<u64>()
        })
    });
    group.bench_function(BenchmarkId::new("get", "hashbrown"), |b| {
        b.iter(|| {
            probes
                .iter()
                .filter_map(|k| brown.get(black_box(k)))
                .sum::<u64>()
        })
    });
    group.bench_function(BenchmarkId::new("get", "std"), |b| {
        b.iter(|| {
            probes
                .iter()
                .filter_map(|k| std_map.get(black_box(k)))
                .sum::<u64>()
        })
    });
    group.bench_function(BenchmarkId::new("remove_insert", "damselfly"), |b| {
        b.iter(|| {
            for k in &probes {
                let entry = table.remove(k).unwrap_or(Entry {
                    key: k.clone(),
                    value: 0,
                });
                table.insert(black_box(entry));
            }
        })
    });
    group.bench_function(BenchmarkId::new("remove_insert", "hashbrown"), |b| {
        b.iter(|| {
            for k in &probes {
                let (key, value) = brown.remove_entry(k).unwrap_or((k.clone(), 0));
                brown.insert(black_box(key), value);
            }
        })
    });
    group.bench_function(BenchmarkId::new("remove_insert", "std"), |b| {
        b.iter(|| {
            for k in &probes {
                let (key, value) = std_map.remove_entry(k).unwrap_or((k.clone(), 0));
                std_map.insert(black_box(key), value);
            }
        })
    });
    group.finish();
}

fn insert_fresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("table/insert_1k_fresh");
    group.throughput(Throughput::Elements(BATCH as u64));
    let keys: Vec<Vec<u8>> = (0..BATCH as u64).map(key).collect();
    group.bench_function("damselfly", |b| {
        b.iter(|| {
            let mut table = Table::new(SEED);
            for (i, k) in keys.iter().enumerate() {
                table.insert(Entry {
                    key: k.clone(),
                    value: i as u64,
                });
            }
            black_box(table.len())
        })
    });
    group.bench_function("hashbrown", |b| {
        b.iter(|| {
            let mut map = hashbrown::HashMap::with_hasher(FixedXxh3);
            for (i, k) in keys.iter().enumerate() {
                map.insert(k.clone(), i as u64);
            }
            black_box(map.len())
        })
    });
    group.finish();
}

fn tables(c: &mut Criterion) {
    // A Hasher trait object check: Xxh3 must hash like the table (same seed, same bytes).
    let mut hasher = FixedXxh3.build_hasher();
    hasher.write(b"probe");
    black_box(hasher.finish());
    bench_size(c, 1_000);
    bench_size(c, 1_000_000);
    insert_fresh(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = tables
}
criterion_main!(benches);
