//! Tests for the Dash table: one per insert path, split, doubling, merge; a model-based proptest
//! against a BTreeMap; the SCAN contract under growth and under growth plus shrink; determinism;
//! and the ignored `dash_report` that prints papers/dash.md's figures.

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq)]
struct Item(Vec<u8>, u64);

impl Keyed for Item {
    fn key(&self) -> &[u8] {
        &self.0
    }
}

fn key(i: u64) -> Vec<u8> {
    format!("key:{i}").into_bytes()
}

fn item(i: u64) -> Item {
    Item(key(i), i)
}

/// The first `n` key numbers at or after `from` whose home bucket is `home`.
fn ids_with_home(table: &DashTable<Item>, home: usize, from: u64, n: usize) -> Vec<u64> {
    (from..)
        .filter(|&i| usize::from(table.hashed(&key(i)).home) == home)
        .take(n)
        .collect()
}

fn insert_all(table: &mut DashTable<Item>, ids: &[u64]) {
    for &i in ids {
        assert!(table.insert(item(i)).is_none(), "key {i} inserted twice");
    }
    table.check_invariants();
}

fn bucket_lens(table: &DashTable<Item>, buckets: &[usize]) -> Vec<u8> {
    buckets
        .iter()
        .map(|&b| table.segments[0].buckets[b].len)
        .collect()
}

/// A small deterministic generator for tests (SplitMix64).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[test]
fn balanced_insert_alternates_home_and_neighbour() {
    let mut table = DashTable::new(1);
    let ids = ids_with_home(&table, 10, 0, 2 * BUCKET_SLOTS);
    insert_all(&mut table, &ids[..2]);
    assert_eq!(table.stats().inserts_home, 1);
    assert_eq!(table.stats().inserts_neighbour, 1);
    insert_all(&mut table, &ids[2..]);
    assert_eq!(bucket_lens(&table, &[10, 11]), [14, 14]);
    assert_eq!(table.stats().inserts_home, BUCKET_SLOTS as u64);
    assert_eq!(table.stats().inserts_neighbour, BUCKET_SLOTS as u64);
    for &i in &ids {
        assert_eq!(table.get(&key(i)), Some(&item(i)));
    }
}

#[test]
fn displacement_forward_moves_a_neighbour_resident_on() {
    let mut table = DashTable::new(2);
    // Bucket 11's own entries split 7/7 between 11 and 12.
    let ids = ids_with_home(&table, 11, 0, BUCKET_SLOTS);
    insert_all(&mut table, &ids);
    // Home-10 entries then fill 10 and the rest of 11.
    let tens = ids_with_home(&table, 10, 0, BUCKET_SLOTS + BUCKET_SLOTS / 2 + 1);
    insert_all(&mut table, &tens[..tens.len() - 1]);
    assert_eq!(bucket_lens(&table, &[10, 11, 12]), [14, 14, 7]);
    insert_all(&mut table, &tens[tens.len() - 1..]);
    assert_eq!(table.stats().inserts_displaced_forward, 1);
    assert_eq!(bucket_lens(&table, &[10, 11, 12]), [14, 14, 8]);
    assert_eq!(table.stats().inserts_stash, 0);
    assert_eq!(table.len(), BUCKET_SLOTS * 2 + BUCKET_SLOTS / 2 + 1);
}

#[test]
fn displacement_backward_sends_a_resident_home() {
    let mut table = DashTable::new(3);
    // Two home-9 entries: one lands in 9, the other in its neighbour 10.
    let nines = ids_with_home(&table, 9, 0, 2);
    insert_all(&mut table, &nines);
    assert_eq!(bucket_lens(&table, &[9, 10]), [1, 1]);
    table.remove(&key(nines[0]));
    let ids = ids_with_home(&table, 11, 0, 2 * BUCKET_SLOTS);
    insert_all(&mut table, &ids);
    let tens = ids_with_home(&table, 10, 0, BUCKET_SLOTS);
    insert_all(&mut table, &tens[..BUCKET_SLOTS - 1]);
    assert_eq!(bucket_lens(&table, &[9, 10, 11, 12]), [0, 14, 14, 14]);
    insert_all(&mut table, &tens[BUCKET_SLOTS - 1..]);
    assert_eq!(table.stats().inserts_displaced_backward, 1);
    assert_eq!(bucket_lens(&table, &[9, 10]), [1, 14]);
    assert_eq!(table.get(&key(nines[1])), Some(&item(nines[1])));
}

/// Fills buckets 10, 11 and 12 so that nothing can be displaced for a home-10 key.
fn jammed_table(seed: u64) -> (DashTable<Item>, Vec<u64>) {
    let mut table = DashTable::new(seed);
    let ids = ids_with_home(&table, 11, 0, 2 * BUCKET_SLOTS);
    insert_all(&mut table, &ids);
    let tens = ids_with_home(&table, 10, 0, BUCKET_SLOTS + MERGE_LEN_MAX + 1);
    insert_all(&mut table, &tens[..BUCKET_SLOTS]);
    assert_eq!(bucket_lens(&table, &[10, 11, 12]), [14, 14, 14]);
    (table, tens)
}

#[test]
fn stash_takes_what_displacement_cannot_place() {
    let (mut table, tens) = jammed_table(4);
    let stashed = tens[BUCKET_SLOTS];
    insert_all(&mut table, &[stashed]);
    assert_eq!(table.stats().inserts_stash, 1);
    assert_eq!(table.segments[0].stashed[10], 1);
    assert_eq!(table.get(&key(stashed)), Some(&item(stashed)));
    // The logical bucket 10 includes the stashed entry.
    let mut seen = Vec::new();
    table.scan_bucket(10 << DIRECTORY_DEPTH_MAX, |e| seen.push(e.1));
    assert_eq!(seen.len(), BUCKET_SLOTS + 1);
    assert!(seen.contains(&stashed));
    assert_eq!(table.remove(&key(stashed)), Some(item(stashed)));
    assert_eq!(table.segments[0].stashed[10], 0);
    table.check_invariants();
}

#[test]
fn full_stash_splits_the_segment_and_doubles_the_directory() {
    let (mut table, tens) = jammed_table(5);
    insert_all(&mut table, &tens[BUCKET_SLOTS..tens.len() - 1]);
    assert_eq!(table.stats().inserts_stash, MERGE_LEN_MAX as u64);
    assert_eq!((table.stats().splits, table.segments_len()), (0, 1));
    insert_all(&mut table, &tens[tens.len() - 1..]);
    let stats = *table.stats();
    assert!(stats.splits >= 1, "{stats:?}");
    assert_eq!(stats.directory_doublings, u64::from(table.global_depth()));
    assert_eq!(table.segments_len() as u64, stats.splits + 1);
    assert_eq!(
        stats.split_segment_len_min,
        (3 * BUCKET_SLOTS + MERGE_LEN_MAX) as u64
    );
    for &i in &tens {
        assert_eq!(table.get(&key(i)), Some(&item(i)));
    }
}

#[test]
fn directory_doubles_only_when_the_segment_is_as_deep() {
    let mut table = DashTable::new(6);
    let mut i = 0;
    while table.segments_len() < 5 {
        table.insert(item(i));
        i += 1;
    }
    table.check_invariants();
    let stats = *table.stats();
    assert_eq!(stats.splits, 4);
    assert_eq!(stats.directory_doublings, u64::from(table.global_depth()));
    assert!(stats.directory_doublings < stats.splits, "{stats:?}");
    assert_eq!(table.directory.len(), 1 << table.global_depth());
    for j in 0..i {
        assert!(table.get(&key(j)).is_some(), "key {j} lost in a split");
    }
}

#[test]
fn removal_merges_buddies_and_halves_the_directory() {
    let mut table = DashTable::new(7);
    insert_all(&mut table, &(0..5000).collect::<Vec<_>>());
    assert!(table.segments_len() >= 4);
    for i in 10..5000 {
        assert_eq!(table.remove(&key(i)), Some(item(i)));
    }
    table.check_invariants();
    let stats = *table.stats();
    assert_eq!(stats.merges, stats.splits, "{stats:?}");
    assert_eq!(stats.directory_halvings, stats.directory_doublings);
    assert_eq!((table.segments_len(), table.global_depth()), (1, 0));
    for i in 0..10 {
        assert_eq!(table.get(&key(i)), Some(&item(i)));
    }
}

#[test]
fn replace_get_mut_and_clear() {
    let mut table = DashTable::new(8);
    assert!(table.get(b"x").is_none() && table.remove(b"x").is_none());
    assert_eq!(table.scan_bucket(0, |_| panic!("empty")), 0);
    table.insert(item(1));
    assert_eq!(table.insert(Item(key(1), 10)), Some(item(1)));
    table.get_mut(&key(1)).expect("present").1 = 11;
    assert_eq!(table.get(&key(1)), Some(&Item(key(1), 11)));
    assert_eq!(table.len(), 1);
    table.clear();
    assert!(table.is_empty() && table.get(&key(1)).is_none());
    assert_eq!(table.capacity(), 0);
    table.insert(item(2));
    table.check_invariants();
}

/// The cursor of the logical bucket that holds `key`.
fn cursor_of(table: &DashTable<Item>, id: u64) -> u64 {
    let mut cursor = 0;
    loop {
        let mut found = false;
        let next = table.scan_bucket(cursor, |e| found |= e.1 == id);
        if found {
            return cursor;
        }
        assert_ne!(next, 0, "key {id} not found by a scan");
        cursor = next;
    }
}

#[test]
fn bucket_versions_only_grow() {
    let mut table = DashTable::new(9);
    let v0 = table.bucket_version(0);
    table.insert(item(1));
    let c = cursor_of(&table, 1);
    let v1 = table.bucket_version(c);
    assert!(v1 > v0);
    table.get(&key(1));
    assert_eq!(
        table.bucket_version(c),
        v1,
        "a read leaves the version alone"
    );
    table.get_mut(&key(1));
    let v2 = table.bucket_version(c);
    assert!(v2 > v1);
    // Splits and merges never take a key's version back.
    let mut last = v2;
    for i in 2..3000 {
        table.insert(item(i));
        let v = table.bucket_version(cursor_of(&table, 1));
        assert!(v >= last);
        last = v;
    }
    for i in 2..3000 {
        table.remove(&key(i));
        let v = table.bucket_version(cursor_of(&table, 1));
        assert!(v >= last);
        last = v;
    }
    table.clear();
    assert!(table.bucket_version(0) > last, "versions survive clear");
}

#[test]
fn random_entry_reaches_every_entry() {
    let mut table = DashTable::new(10);
    let mut state = 1;
    assert!(table.random_entry(|| splitmix(&mut state)).is_none());
    insert_all(&mut table, &(0..200).collect::<Vec<_>>());
    let mut drawn = BTreeSet::new();
    for _ in 0..20_000 {
        drawn.insert(
            table
                .random_entry(|| splitmix(&mut state))
                .expect("non-empty")
                .1,
        );
    }
    assert_eq!(drawn.len(), 200);
    // A sparse table (one entry in many empty buckets) falls back to the walk.
    for i in 1..200 {
        table.remove(&key(i));
    }
    for _ in 0..100 {
        assert_eq!(table.random_entry(|| splitmix(&mut state)), Some(&item(0)));
    }
}

/// Keys and scan visits of a table built by a fixed sequence of operations.
fn history(seed: u64) -> (Vec<u64>, Vec<u64>) {
    let mut table = DashTable::new(seed);
    for i in 0..3000 {
        table.insert(item(i));
    }
    for i in (0..3000).step_by(3) {
        table.remove(&key(i));
    }
    let order: Vec<u64> = table.iter().map(|e| e.1).collect();
    let mut scanned = Vec::new();
    let mut cursor = 0;
    loop {
        cursor = table.scan_bucket(cursor, |e| scanned.push(e.1));
        if cursor == 0 {
            break;
        }
    }
    (order, scanned)
}

#[test]
fn same_seed_same_order() {
    let (order, scanned) = history(11);
    assert_eq!((order.clone(), scanned.clone()), history(11));
    assert_ne!(order, history(12).0, "the seed changes the order");
    let mut sorted = scanned;
    sorted.sort_unstable();
    let mut expected = order;
    expected.sort_unstable();
    assert_eq!(
        sorted, expected,
        "a quiet scan returns every key exactly once"
    );
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u16, u32),
    Remove(u16),
    Get(u16),
    GetMut(u16, u32),
    InsertRange(u16, u16),
    RemoveRange(u16, u16),
    /// A full expiry-style sweep removing entries whose value is a multiple of this.
    Sweep(u32),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..4000u16, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        4 => (0..4000u16).prop_map(Op::Remove),
        4 => (0..4000u16).prop_map(Op::Get),
        2 => (0..4000u16, any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
        2 => (0..4000u16, 0..2500u16).prop_map(|(k, n)| Op::InsertRange(k, n)),
        2 => (0..4000u16, 0..4000u16).prop_map(|(k, n)| Op::RemoveRange(k, n)),
        1 => (2..5u32).prop_map(Op::Sweep),
        1 => Just(Op::Clear),
    ]
}

fn model_key(k: u16) -> Vec<u8> {
    key(u64::from(k))
}

fn apply(table: &mut DashTable<Item>, model: &mut BTreeMap<Vec<u8>, u64>, op: Op) {
    match op {
        Op::Insert(k, v) => {
            let old = table.insert(Item(model_key(k), v.into()));
            assert_eq!(old.map(|e| e.1), model.insert(model_key(k), v.into()));
        }
        Op::Remove(k) => {
            let old = table.remove(&model_key(k)).map(|e| e.1);
            assert_eq!(old, model.remove(&model_key(k)));
        }
        Op::Get(k) => assert_eq!(
            table.get(&model_key(k)).map(|e| e.1),
            model.get(&model_key(k)).copied()
        ),
        Op::GetMut(k, v) => {
            if let Some(e) = table.get_mut(&model_key(k)) {
                e.1 = v.into();
            }
            if let Some(m) = model.get_mut(&model_key(k)) {
                *m = v.into();
            }
        }
        Op::InsertRange(start, n) => {
            for k in start..start.saturating_add(n) {
                table.insert(Item(model_key(k), k.into()));
                model.insert(model_key(k), k.into());
            }
        }
        Op::RemoveRange(start, n) => {
            for k in start..start.saturating_add(n) {
                assert_eq!(
                    table.remove(&model_key(k)).map(|e| e.1),
                    model.remove(&model_key(k))
                );
            }
        }
        Op::Sweep(m) => {
            let mut cursor = 0;
            loop {
                cursor = table.sweep_bucket(cursor, |e| e.1 % u64::from(m) == 0).0;
                if cursor == 0 {
                    break;
                }
            }
            model.retain(|_, v| *v % u64::from(m) != 0);
        }
        Op::Clear => {
            table.clear();
            model.clear();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn behaves_like_a_btreemap(seed in any::<u64>(), ops in prop::collection::vec(op(), 1..40)) {
        let mut table = DashTable::new(seed);
        let mut model = BTreeMap::new();
        for op in ops {
            apply(&mut table, &mut model, op);
            table.check_invariants();
            prop_assert_eq!(table.len(), model.len());
        }
        let mut contents: Vec<(Vec<u8>, u64)> = table.iter().map(|e| (e.0.clone(), e.1)).collect();
        contents.sort();
        prop_assert_eq!(contents, model.into_iter().collect::<Vec<_>>());
    }
}

/// What happens between two `scan_bucket` calls in the SCAN property tests.
#[derive(Debug, Clone)]
enum ScanEvent {
    Nothing,
    /// Insert this many new transient keys.
    Grow(u16),
    /// Remove every transient key (which merges segments back down).
    Shrink,
}

fn scan_event(shrink: bool) -> impl Strategy<Value = ScanEvent> {
    let shrink_weight = u32::from(shrink);
    prop_oneof![
        20 => Just(ScanEvent::Nothing),
        3 => (0..3000u16).prop_map(ScanEvent::Grow),
        shrink_weight => Just(ScanEvent::Shrink),
    ]
}

/// Runs a whole SCAN over a table holding `stable` keys, applying `events` between calls;
/// returns how many times each stable key was returned and the deepest directory seen.
fn scan_with_events(seed: u64, stable: u64, events: &[ScanEvent]) -> (BTreeMap<u64, u32>, u32) {
    const TRANSIENT_FIRST: u64 = 1 << 32;
    let mut table = DashTable::new(seed);
    (0..stable).for_each(|i| assert!(table.insert(item(i)).is_none()));
    let (mut transient, mut next_transient) = (Vec::new(), TRANSIENT_FIRST);
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    let mut depth_max = table.global_depth();
    let (mut cursor, mut step) = (0, 0);
    loop {
        cursor = table.scan_bucket(cursor, |e| *seen.entry(e.1).or_default() += 1);
        match events.get(step).cloned().unwrap_or(ScanEvent::Nothing) {
            ScanEvent::Nothing => {}
            ScanEvent::Grow(n) => {
                for _ in 0..n {
                    table.insert(item(next_transient));
                    transient.push(next_transient);
                    next_transient += 1;
                }
            }
            ScanEvent::Shrink => transient
                .drain(..)
                .for_each(|i| assert!(table.remove(&key(i)).is_some())),
        }
        depth_max = depth_max.max(table.global_depth());
        step += 1;
        if cursor == 0 {
            break;
        }
    }
    table.check_invariants();
    (seen, depth_max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Growth only: every key present for the whole scan is returned exactly once (K = 1), and
    /// no key at all (even one inserted mid-scan) twice.
    #[test]
    fn scan_under_growth_returns_each_key_once(
        seed in any::<u64>(),
        stable in 0..3000u64,
        events in prop::collection::vec(scan_event(false), 0..400),
    ) {
        let (seen, _) = scan_with_events(seed, stable, &events);
        for i in 0..stable {
            prop_assert_eq!(seen.get(&i).copied(), Some(1), "stable key {}", i);
        }
        prop_assert!(seen.values().all(|&n| n == 1));
    }

    /// Growth and shrink (merges): every key present for the whole scan is returned, and at
    /// most 1 + the deepest directory seen times.
    #[test]
    fn scan_under_growth_and_shrink_misses_nothing(
        seed in any::<u64>(),
        stable in 0..400u64,
        events in prop::collection::vec(scan_event(true), 0..400),
    ) {
        let (seen, depth_max) = scan_with_events(seed, stable, &events);
        for i in 0..stable {
            let n = seen.get(&i).copied().unwrap_or(0);
            prop_assert!(n >= 1 && n <= 1 + depth_max, "stable key {} seen {} times", i, n);
        }
    }
}

/// A hand-built case for the shrink bound: grow to many segments, scan halfway, collapse them
/// all; the rest of the scan repeats some stable keys but misses none.
#[test]
fn scan_across_a_collapse() {
    let events: Vec<ScanEvent> = std::iter::once(ScanEvent::Grow(20_000))
        .chain(std::iter::repeat_n(ScanEvent::Nothing, 300))
        .chain(std::iter::once(ScanEvent::Shrink))
        .collect();
    let (seen, depth_max) = scan_with_events(13, 50, &events);
    for i in 0..50 {
        let n = seen.get(&i).copied().unwrap_or(0);
        assert!(n >= 1 && n <= 1 + depth_max, "key {i} seen {n} times");
    }
}

/// Inserts `keys_len` random 8-byte keys into a Dash table of `db::Entry`, recording the
/// table-wide load factor just before each split and the bytes per entry along the way.
fn report_inserts(keys_len: usize) -> (DashTable<crate::db::Entry>, Vec<f64>, (f64, f64)) {
    use crate::db::{Entry, StrValue, Value};
    let mut table: DashTable<Entry> = DashTable::new(0x5eed);
    let mut state = 7;
    let mut loads_at_split = Vec::new();
    let (mut bytes_min, mut bytes_max) = (f64::MAX, 0f64);
    for _ in 0..keys_len {
        let key = splitmix(&mut state).to_le_bytes().to_vec();
        let (splits, len, capacity) = (table.stats().splits, table.len(), table.capacity());
        table.insert(Entry::new(&key, Value::Str(StrValue::Int(0)), 0));
        if table.stats().splits > splits && capacity > 0 {
            loads_at_split.push(len as f64 / capacity as f64);
        }
        if table.len() >= keys_len / 10 {
            let per_entry = table.capacity_bytes() as f64 / table.len() as f64;
            (bytes_min, bytes_max) = (bytes_min.min(per_entry), bytes_max.max(per_entry));
        }
    }
    table.check_invariants();
    (table, loads_at_split, (bytes_min, bytes_max))
}

/// Prints papers/dash.md's figures: load factor at each split over 1M random keys, overhead
/// bytes per entry at 1M, and the chained table's bytes per entry for comparison.
/// `cargo test -p damselfly-core --release dash_report -- --ignored --nocapture`
#[test]
#[ignore]
fn dash_report() {
    use crate::db::{Entry, StrValue, Value};
    const KEYS_LEN: usize = 1_000_000;
    let (table, loads, (bytes_min, bytes_max)) = report_inserts(KEYS_LEN);
    let stats = *table.stats();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let min = |v: &[f64]| v.iter().copied().fold(f64::MAX, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (segments, depth) = (table.segments_len(), table.global_depth());
    println!("keys {KEYS_LEN}, segments {segments}, global depth {depth}\n{stats:?}");
    let slots = SEGMENT_SLOTS as f64;
    let fill_min = stats.split_segment_len_min as f64 / slots;
    let fill_mean = stats.split_segment_len_sum as f64 / stats.splits as f64 / slots;
    println!("segment fill at split: min {fill_min:.3}, mean {fill_mean:.3}");
    let load_now = table.len() as f64 / table.capacity() as f64;
    let (load_min, load_mean, load_max) = (min(&loads), mean(&loads), max(&loads));
    println!(
        "table load factor just before a split: min {load_min:.3}, mean {load_mean:.3}, \
         max {load_max:.3} over {} splits; at 1M {load_now:.3}",
        loads.len(),
    );
    let entry_bytes = std::mem::size_of::<Entry>();
    let bucket_bytes = std::mem::size_of::<segment::Bucket<Entry>>();
    println!(
        "size_of Entry {entry_bytes}, Option<Entry> {}, bucket {bucket_bytes}, segment {}",
        std::mem::size_of::<Option<Entry>>(),
        SEGMENT_BUCKETS_TOTAL * bucket_bytes + std::mem::size_of::<Segment<Entry>>()
    );
    let per_entry = table.capacity_bytes() as f64 / KEYS_LEN as f64;
    let overhead = |bytes: f64| bytes - entry_bytes as f64;
    println!(
        "dash bytes per entry at 1M {per_entry:.1} (overhead {:.1}); from 100k to 1M: \
         {bytes_min:.1}..{bytes_max:.1} (overhead {:.1}..{:.1})",
        overhead(per_entry),
        overhead(bytes_min),
        overhead(bytes_max)
    );
    let mut chained = crate::table::ChainedTable::new(0x5eed);
    let mut state = 7;
    for _ in 0..KEYS_LEN {
        let key = splitmix(&mut state).to_le_bytes().to_vec();
        chained.insert(Entry::new(&key, Value::Str(StrValue::Int(0)), 0));
    }
    let chained_per_entry = chained.capacity_bytes() as f64 / KEYS_LEN as f64;
    println!(
        "chained bytes per entry at 1M {chained_per_entry:.1} (overhead {:.1})",
        overhead(chained_per_entry)
    );
}

/// A segment's bucket array is one allocation: with the shard's 8-byte entries it must fill
/// its allocator class, or every segment pays for the gap (SEGMENT_BUCKETS's comment).
#[test]
fn bucket_array_fills_its_size_class() {
    use crate::size_class::class_bytes;
    let bytes = DashTable::<crate::db::Entry>::buckets_alloc_bytes();
    let class = class_bytes(bytes);
    assert_eq!(class, 8192, "bucket array of {bytes} bytes");
    assert!(
        (class - bytes) * 50 <= class,
        "{bytes} wastes over 2% of {class}"
    );
}

/// Table bytes per key for the memory benchmark's keys ("key:N", half of 1M on each of two
/// shards). `cargo test -p damselfly-core --release dash_loader_shape -- --ignored --nocapture`
#[test]
#[ignore]
fn dash_loader_shape() {
    use crate::db::{Entry, StrValue, Value};
    let mut table: DashTable<Entry> = DashTable::new(0x5eed);
    for i in 0..1_000_000u32 {
        let key = format!("key:{i}");
        if xxh3_64_with_seed(key.as_bytes(), 0).is_multiple_of(2) {
            table.insert(Entry::new(key.as_bytes(), Value::Str(StrValue::Int(0)), 0));
        }
    }
    let stats = table.stats();
    println!(
        "keys {}, segments {}, load {:.3}, table bytes/key {:.2}, fill at split mean {:.3}",
        table.len(),
        table.segments_len(),
        table.len() as f64 / table.capacity() as f64,
        table.capacity_bytes() as f64 / table.len() as f64,
        stats.split_segment_len_sum as f64 / stats.splits as f64 / SEGMENT_SLOTS as f64
    );
}

/// New entries enter at a bucket's tail, hits climb toward the head, and eviction takes tails
/// first, sparing the head while anything else is there.
#[test]
fn eviction_takes_tails_and_spares_promoted_heads() {
    let mut table = DashTable::new(11);
    let ids = ids_with_home(&table, 5, 0, 3);
    // Home bucket 5 receives its keys only while it is no fuller than its neighbour, so insert
    // them one at a time with the neighbour kept level.
    insert_all(&mut table, &ids[..1]);
    let slot_of = |table: &DashTable<Item>, i: u64| table.find(&key(i)).map(|(_, pos)| pos.slot);
    assert_eq!(
        slot_of(&table, ids[0]),
        Some(BUCKET_SLOTS - 1),
        "enters at the tail"
    );
    for _ in 0..BUCKET_SLOTS {
        assert!(table.promote(&key(ids[0])));
    }
    assert_eq!(slot_of(&table, ids[0]), Some(0), "hits lead to the head");
    insert_all(&mut table, &ids[1..]);
    let evicted = table
        .evict_near(&key(ids[0]), 1, |_| true)
        .expect("an entry");
    assert_ne!(evicted.1, ids[0], "the head is spared");
    let evicted = table
        .evict_near(&key(ids[0]), 1, |_| true)
        .expect("an entry");
    assert_ne!(evicted.1, ids[0], "the head is spared");
    let last = table
        .evict_near(&key(ids[0]), 1, |_| true)
        .expect("the head, last");
    assert_eq!(last.1, ids[0]);
    assert!(table.evict_near(&key(ids[0]), 1, |_| true).is_none());
    assert!(table.is_empty());
    table.check_invariants();
}

/// Evicting near a key frees room in the segment it will land in, so a full table at its
/// budget can take a new key without splitting.
#[test]
fn evicting_near_a_key_avoids_the_split() {
    let mut table = DashTable::new(3);
    let mut i = 0;
    while table.segments_len() < 2 {
        table.insert(item(i));
        i += 1;
    }
    // Fill both segments to about 90%, where inserts start to overflow into the stash.
    while table.len() < SEGMENT_SLOTS * 2 * 9 / 10 {
        table.insert(item(i));
        i += 1;
    }
    assert_eq!(table.segments_len(), 2, "no split below 94% full");
    // At that fill, evicting before each insert keeps every insert from splitting.
    let splits = table.stats().splits;
    for j in i..i + 2000 {
        table
            .evict_near(&key(j), 1, |_| true)
            .expect("something to evict");
        table.insert(item(j));
    }
    assert_eq!(
        table.stats().splits,
        splits,
        "evict-then-insert never splits"
    );
    table.check_invariants();
}
