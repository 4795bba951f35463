use super::record::cmp_key;
use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const SMALL: ZSetLimits = ZSetLimits {
    listpack_entries_max: 4,
    listpack_value_max_bytes: 8,
};

/// The reference: member -> score, and the same pairs in key order.
fn ordered(model: &BTreeMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
    let mut pairs: Vec<(Vec<u8>, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
    pairs.sort_by(|a, b| cmp_key(a.1, &a.0, b.1, &b.0));
    pairs
}

fn check(z: &ZSetValue, model: &BTreeMap<Vec<u8>, f64>) {
    z.check_invariants();
    let want = ordered(model);
    assert_eq!(z.len(), want.len());
    assert_eq!(z.to_pairs(), want);
    for (rank, (m, s)) in want.iter().enumerate() {
        assert_eq!(z.rank(m), Some((rank, *s)));
        assert_eq!(z.nth(rank), (m.clone(), *s));
    }
    let mut back = Vec::new();
    z.visit_range(0, z.len(), true, &mut |m, s| {
        back.push((m.to_vec(), s));
        true
    });
    back.reverse();
    assert_eq!(back, want);
}

fn member(i: u32) -> Vec<u8> {
    // Mostly short members, some past the listpack value limit.
    if i.is_multiple_of(13) {
        format!("long-member-{i:04}").into_bytes()
    } else {
        format!("m{i}").into_bytes()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn zset_matches_a_btreemap_across_conversions(
        ops in proptest::collection::vec((0u8..4, 0u32..400, -20i32..20), 1..600),
    ) {
        let mut z = ZSetValue::new(7);
        let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
        let limits = ZSetLimits::default();
        for (i, (op, m, s)) in ops.into_iter().enumerate() {
            let m = member(m);
            let score = if s % 7 == 0 { f64::from(s) / 3.0 } else { f64::from(s) };
            match op {
                0 | 1 => {
                    let old = z.insert(&m, score, &limits);
                    prop_assert_eq!(old, model.insert(m.clone(), score));
                }
                2 => prop_assert_eq!(z.remove(&m), model.remove(&m).is_some()),
                _ => {
                    let below = |sc: f64, _: &[u8]| sc < score;
                    let want = model.values().filter(|&&v| v < score).count();
                    prop_assert_eq!(z.count_below(&below), want);
                }
            }
            if i % 37 == 0 {
                check(&z, &model);
            }
        }
        check(&z, &model);
    }
}

#[test]
fn a_large_tree_keeps_order_ranks_and_bytes() {
    let mut z = ZSetValue::new(3);
    let mut model = BTreeMap::new();
    let limits = ZSetLimits::default();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for i in 0..20_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let m = format!("member:{}", x % 5_000).into_bytes();
        let score = (x >> 20) as f64 % 1000.0;
        if i % 3 == 2 {
            assert_eq!(z.remove(&m), model.remove(&m).is_some());
        } else {
            assert_eq!(z.insert(&m, score, &limits), model.insert(m, score));
        }
    }
    check(&z, &model);
    assert_eq!(z.encoding(), "skiplist");
    let Repr::Tree(big) = &z.repr else {
        unreachable!()
    };
    assert!(big.tree.height() >= 2, "height {}", big.tree.height());
    // Emptying it by ranges keeps every invariant, and the encoding.
    while !z.is_empty() {
        let n = z.remove_range(z.len() / 3, z.len() / 3 + 700);
        assert!(n > 0);
        z.check_invariants();
    }
    assert_eq!(z.encoding(), "skiplist", "never converts back");
}

#[test]
fn ascending_loads_fill_their_leaves() {
    let mut z = ZSetValue::new(1);
    for j in 0..10_000 {
        z.insert(
            format!("member:{j}").as_bytes(),
            f64::from(j),
            &ZSetLimits::default(),
        );
    }
    z.check_invariants();
    let per = z.heap_bytes() as f64 / 10_000.0;
    assert!(per < 40.0, "{per} B/member");
}

#[test]
fn conversion_follows_zset_add() {
    let mut z = ZSetValue::new(1);
    for j in 0..4 {
        z.insert(format!("m{j}").as_bytes(), 1.0, &SMALL);
    }
    assert_eq!(z.encoding(), "listpack");
    // Updating a present member never converts.
    z.insert(b"m0", 5.0, &SMALL);
    assert_eq!(z.encoding(), "listpack");
    z.insert(b"m4", 1.0, &SMALL);
    assert_eq!(z.encoding(), "skiplist");
    let mut long = ZSetValue::new(1);
    long.insert(b"12345678", 1.0, &SMALL);
    assert_eq!(long.encoding(), "listpack");
    long.insert(b"123456789", 1.0, &SMALL);
    assert_eq!(long.encoding(), "skiplist");
    let mut zero = ZSetValue::new(1);
    let none = ZSetLimits {
        listpack_entries_max: 0,
        listpack_value_max_bytes: 64,
    };
    zero.insert(b"a", 1.0, &none);
    assert_eq!(zero.encoding(), "skiplist");
}

#[test]
fn a_listpack_reads_negative_zero_back_as_zero() {
    let mut z = ZSetValue::new(1);
    z.insert(b"a", -0.0, &SMALL);
    assert!(z.score(b"a").unwrap().is_sign_positive());
    for j in 0..5 {
        z.insert(format!("m{j}").as_bytes(), 1.0, &SMALL);
    }
    assert_eq!(z.encoding(), "skiplist");
    assert!(
        z.score(b"a").unwrap().is_sign_positive(),
        "converted as stored"
    );
    z.insert(b"b", -0.0, &SMALL);
    assert!(z.score(b"b").unwrap().is_sign_negative(), "a tree keeps -0");
    // -0 == 0: no update.
    assert_eq!(z.insert(b"b", 0.0, &SMALL), Some(-0.0));
    assert!(z.score(b"b").unwrap().is_sign_negative());
}

#[test]
fn zscan_of_a_tree_resumes_at_a_score_and_loses_nothing() {
    let mut z = ZSetValue::new(9);
    for j in 0..1000 {
        // Runs of equal scores, longer than COUNT.
        z.insert(
            format!("m{j}").as_bytes(),
            f64::from(j / 25),
            &ZSetLimits::default(),
        );
    }
    let mut seen = BTreeMap::new();
    let mut cursor = 0;
    let mut calls = 0;
    loop {
        cursor = z.scan(cursor, 10, &mut |m, _| {
            *seen.entry(m.to_vec()).or_insert(0) += 1;
        });
        calls += 1;
        if cursor == 0 {
            break;
        }
        // Remove members behind the cursor: nothing ahead is lost.
        let victim = format!("m{}", calls - 1);
        z.remove(victim.as_bytes());
    }
    assert_eq!(seen.len(), 1000);
    assert!(seen.values().all(|&n| n == 1), "no repeats on a steady set");
    assert_eq!(calls, 40);
    for s in [f64::NEG_INFINITY, -1.5, -0.0, 0.0, 2.0, f64::INFINITY] {
        let c = cursor_of_score(s);
        assert_ne!(c, 0);
        assert_eq!(score_of_cursor(c).to_bits(), s.to_bits());
    }
    assert!(cursor_of_score(-1.0) < cursor_of_score(1.0));
}
