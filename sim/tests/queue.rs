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

/// The queue seeds reach every path of the blocking framework, many times over.
#[test]
fn queue_seeds_block_serve_wake_and_time_out() {
    let mut marks = std::collections::BTreeMap::new();
    for seed in 0..QUEUE_SEEDS {
        let mut world = sim::world::World::new(sim::SimConfig::queue_from_seed(seed));
        world.run().expect("the run finishes");
        for (mark, n) in world.marks() {
            *marks.entry(mark).or_insert(0u64) += n;
        }
    }
    eprintln!("blocking marks over {QUEUE_SEEDS} queue seeds: {marks:?}");
    for mark in [
        "blocking.blocked",
        "blocking.served",
        "blocking.timed_out",
        "blocking.woken_across_shards",
    ] {
        let n = marks.get(mark).copied().unwrap_or(0);
        assert!(n >= 100, "{mark}: {n} times in {QUEUE_SEEDS} seeds");
    }
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
