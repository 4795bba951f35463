//! Queue runs (`sim::queue`): blocking pops under faults, checked for conservation.

use damselfly_core::cx::Plant;

/// Seeds every `cargo test` runs.
const QUEUE_SEEDS: u64 = 300;

#[test]
fn queue_seeds_lose_and_duplicate_nothing() {
    for seed in 0..QUEUE_SEEDS {
        if let Err(failure) = sim::run_queue_seed(seed, &[]) {
            panic!("{failure}");
        }
    }
}

/// Runs `seeds` worlds of `config` and sums their marks; asserts the blocking framework's
/// paths (block, serve, time out, wake across shards) were each taken at least `min` times.
fn assert_blocking_paths(seeds: u64, config: fn(u64) -> sim::SimConfig, min: u64, label: &str) {
    let mut marks = std::collections::BTreeMap::new();
    for seed in 0..seeds {
        let mut world = sim::world::World::new(config(seed));
        world.run().expect("the run finishes");
        for (mark, n) in world.marks() {
            *marks.entry(mark).or_insert(0u64) += n;
        }
    }
    eprintln!("blocking marks over {seeds} {label} seeds: {marks:?}");
    for mark in [
        "blocking.blocked",
        "blocking.served",
        "blocking.timed_out",
        "blocking.woken_across_shards",
    ] {
        let n = marks.get(mark).copied().unwrap_or(0);
        assert!(n >= min, "{mark}: {n} times in {seeds} {label} seeds");
    }
}

/// The queue seeds reach every path of the blocking framework, many times over.
#[test]
fn queue_seeds_block_serve_wake_and_time_out() {
    assert_blocking_paths(QUEUE_SEEDS, sim::SimConfig::queue_from_seed, 100, "queue");
}

#[test]
fn queue_seeds_are_deterministic() {
    for seed in [3, 17, 99] {
        let a = sim::run_queue_seed(seed, &[]).expect("passes");
        let b = sim::run_queue_seed(seed, &[]).expect("passes");
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
    }
}

/// The planted wrong waiter (a ready key serves its last-blocked waiter) is caught.
#[test]
fn serving_the_wrong_waiter_is_caught() {
    let base = 10_000_000_000;
    let budget = 300;
    let caught = (base..base + budget)
        .find(|&seed| sim::run_queue_seed(seed, &[Plant::ServeLastWaiter]).is_err());
    eprintln!("serve-last-waiter first caught at seed {caught:?}");
    assert!(
        caught.is_some(),
        "serve-last-waiter survived {budget} queue seeds"
    );
}

/// The planted lost pop (a shard pops for a blocked client and never answers) is caught.
#[test]
fn a_lost_blocked_pop_is_caught() {
    let base = 10_000_000_000;
    let budget = 200;
    let caught = (base..base + budget)
        .find(|&seed| sim::run_queue_seed(seed, &[Plant::BlockedPopLost]).is_err());
    eprintln!("blocked-pop-lost first caught at seed {caught:?}");
    assert!(
        caught.is_some(),
        "blocked-pop-lost survived {budget} queue seeds"
    );
}

/// Stream queue seeds: consumer groups with blocked readers, checked for at-most-once
/// delivery as new, nothing made up and nothing lost.
const STREAM_QUEUE_SEEDS: u64 = 200;

#[test]
fn stream_queue_seeds_deliver_each_entry_once() {
    for seed in 0..STREAM_QUEUE_SEEDS {
        if let Err(failure) = sim::run_stream_queue_seed(seed, &[]) {
            panic!("{failure}");
        }
    }
    let config = sim::SimConfig::stream_queue_from_seed;
    assert_blocking_paths(STREAM_QUEUE_SEEDS, config, 50, "stream queue");
}

#[test]
fn stream_queue_seeds_are_deterministic() {
    for seed in [5, 23] {
        let a = sim::run_stream_queue_seed(seed, &[]).expect("passes");
        let b = sim::run_stream_queue_seed(seed, &[]).expect("passes");
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
    }
}

/// The planted redelivery (XREADGROUP serves `>` without moving the group's last ID) is caught
/// by blocked readers too, and so is serving the last-blocked reader first.
#[test]
fn stream_queue_plants_are_caught() {
    let base = 10_000_000_000;
    for (plant, budget) in [
        (Plant::XreadgroupRedeliversNew, 100),
        (Plant::ServeLastWaiter, 300),
    ] {
        let caught =
            (base..base + budget).find(|&seed| sim::run_stream_queue_seed(seed, &[plant]).is_err());
        eprintln!("{plant:?} first caught at stream queue seed {caught:?}");
        assert!(
            caught.is_some(),
            "{plant:?} survived {budget} stream queue seeds"
        );
    }
}
