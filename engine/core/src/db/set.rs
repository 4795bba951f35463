//! A set value (SADD and friends), with Redis 7.0's two encodings: intset (sorted integers)
//! while every member is an integer and there are at most `set-max-intset-entries`, else
//! hashtable.
//!
//! - "intset" (intset.rs): sorted integers at the narrowest common width, binary-searched;
//!   iteration is ascending and `nth` is O(1). SSCAN returns it whole, cursor 0.
//! - "hashtable" (packed_table.rs): members as records in one arena, chained by xxh3 with the
//!   value's seed, so order is deterministic; SSCAN walks one bucket per call with Redis's
//!   reverse-binary cursor. Integer members are kept as their text.
//!
//! A member is an integer when Redis's string2ll would take it (canonical i64 text:
//! `numfmt::parse_i64`). A non-integer member, or the `set-max-intset-entries + 1`th, converts
//! the set (setTypeAdd's rules); nothing converts back. Redis 7.0 has no listpack sets.
//! `heap_bytes` is O(1): an intset owns one buffer, a table its box and three buffers.

use super::intset::Intset;
use super::packed_table::{self, PackedTable};
use super::size_class::class_bytes;
use crate::numfmt;

/// Redis's `set-max-intset-entries`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetLimits {
    pub intset_entries_max: usize,
}

impl Default for SetLimits {
    fn default() -> SetLimits {
        SetLimits {
            intset_entries_max: 512,
        }
    }
}

/// A member as the set holds it: an intset keeps integers, a hashtable bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Member::Int(n) => n.to_string().into_bytes(),
            Member::Bytes(b) => b.to_vec(),
        }
    }
}

type Table = PackedTable<false>;

#[derive(Clone, Debug)]
pub struct SetValue {
    repr: Repr,
}

/// The encoding, holding only what it needs; the seed waits in the intset for conversion.
#[derive(Clone, Debug)]
enum Repr {
    Intset { ints: Intset, seed: u64 },
    Table(Box<Table>),
}

impl PartialEq for SetValue {
    /// Equal members, whatever the encoding or order.
    fn eq(&self, other: &SetValue) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains_member(m))
    }
}

/// The integer an intset would hold for `member` (Redis's string2ll: canonical i64 text).
fn as_int(member: &[u8]) -> Option<i64> {
    numfmt::parse_i64(member)
}

impl SetValue {
    /// An empty set in the encoding Redis's setTypeCreate picks for its first member: intset
    /// when `first` is an integer, else hashtable. `seed` keys the hashtable's hash function.
    pub fn new_for(first: &[u8], seed: u64) -> SetValue {
        match as_int(first) {
            Some(_) => SetValue::new_intset(seed),
            None => SetValue {
                repr: Repr::Table(Box::new(Table::new(seed, 1))),
            },
        }
    }

    /// An empty intset (SINTERSTORE, SUNIONSTORE and SDIFFSTORE build into one).
    pub fn new_intset(seed: u64) -> SetValue {
        SetValue {
            repr: Repr::Intset {
                ints: Intset::default(),
                seed,
            },
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Intset { ints, .. } => ints.len(),
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name: "intset" or "hashtable".
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Intset { .. } => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Heap bytes this value owns, by allocator class (not the value's own box). O(1).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Intset { ints, .. } => ints.heap_bytes(),
            Repr::Table(t) => class_bytes(std::mem::size_of::<Table>()) + t.heap_bytes(),
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Intset { ints, .. } => as_int(member).is_some_and(|n| ints.contains(n)),
            Repr::Table(t) => t.contains(member),
        }
    }

    /// `contains` for a member as another set yields it (SINTER, SDIFF), without allocating.
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (&self.repr, member) {
            (Repr::Intset { ints, .. }, Member::Int(n)) => ints.contains(n),
            (Repr::Table(t), Member::Int(n)) => t.contains(numfmt::i64_text(
                n,
                &mut [0; numfmt::LONG_STR_LEN_MAX_BYTES],
            )),
            (_, Member::Bytes(b)) => self.contains(b),
        }
    }

    /// Adds `member`; true when it is new. Converts to a hashtable (never back) when the member
    /// is not an integer or the intset would pass `limits`.
    pub fn insert(&mut self, member: &[u8], limits: &SetLimits) -> bool {
        if let Repr::Intset { ints, .. } = &mut self.repr {
            match as_int(member) {
                Some(n) if ints.contains(n) => return false,
                Some(n) if ints.len() < limits.intset_entries_max => return ints.insert(n),
                _ => self.convert(1),
            }
        }
        match &mut self.repr {
            Repr::Table(t) => t.insert(member, &[]),
            Repr::Intset { .. } => unreachable!("converted above"),
        }
    }

    /// Turns an intset into a table with room for `extra` more members (a table stays).
    fn convert(&mut self, extra: usize) {
        let Repr::Intset { ints, seed } = &self.repr else {
            return;
        };
        let mut table = Table::new(*seed, ints.len() + extra);
        let mut buf = [0; numfmt::LONG_STR_LEN_MAX_BYTES];
        for n in ints.iter() {
            table.insert(numfmt::i64_text(n, &mut buf), &[]);
        }
        self.repr = Repr::Table(Box::new(table));
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Intset { ints, .. } => as_int(member).is_some_and(|n| ints.remove(n)),
            Repr::Table(t) => t.remove(member),
        }
    }

    /// Every member: ascending for an intset, table order for a hashtable.
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> + '_ {
        match &self.repr {
            Repr::Intset { ints, .. } => Iter::Intset(ints, 0),
            Repr::Table(t) => Iter::Table(t.iter()),
        }
    }

    /// The `index`th member in `iter` order (SRANDMEMBER and SPOP draw indexes below `len`).
    /// O(1) for an intset, O(n) for a hashtable: prefer `random` there.
    pub fn nth(&self, index: usize) -> Option<Member<'_>> {
        match &self.repr {
            Repr::Intset { ints, .. } => ints.nth(index).map(Member::Int),
            Repr::Table(t) => t.iter().nth(index).map(|(m, _)| Member::Bytes(m)),
        }
    }

    /// A member drawn uniformly (SRANDMEMBER, SPOP): `draw` gives random u64s. O(1) expected.
    pub fn random(&self, mut draw: impl FnMut() -> u64) -> Option<Member<'_>> {
        match &self.repr {
            Repr::Intset { ints, .. } if ints.len() == 0 => None,
            Repr::Intset { ints, .. } => ints
                .nth((draw() % ints.len() as u64) as usize)
                .map(Member::Int),
            Repr::Table(t) => t.random(draw).map(|node| Member::Bytes(t.entry(node).0)),
        }
    }

    /// Removes and returns a member drawn uniformly (SPOP), as its bytes.
    pub fn pop_random(&mut self, draw: impl FnMut() -> u64) -> Option<Vec<u8>> {
        let member = self.random(draw)?.to_vec();
        let removed = self.remove(&member);
        assert!(removed, "a drawn member is present");
        Some(member)
    }

    /// One step of SSCAN: visits some members, returns the next cursor (0: done). A member
    /// present for the whole scan is visited at least once however the set grows. An intset
    /// is visited whole in one step, as Redis does.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(Member<'_>)) -> u64 {
        match &self.repr {
            Repr::Intset { ints, .. } => {
                for n in ints.iter() {
                    visit(Member::Int(n));
                }
                0
            }
            Repr::Table(t) => t.scan(cursor, |m, _| visit(Member::Bytes(m))),
        }
    }

    /// Recounts the slow way and checks the encoding's invariants (tests, simulator).
    pub fn check_invariants(&self) {
        match &self.repr {
            Repr::Intset { ints, .. } => ints.check_invariants(),
            Repr::Table(t) => t.check_invariants(),
        }
    }
}

/// `iter`'s iterator: one arm per encoding.
enum Iter<'a> {
    Intset(&'a Intset, usize),
    Table(packed_table::Iter<'a, false>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            Iter::Intset(ints, at) => {
                let n = ints.nth(*at)?;
                *at += 1;
                Some(Member::Int(n))
            }
            Iter::Table(it) => it.next().map(|(m, _)| Member::Bytes(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    const D: SetLimits = SetLimits {
        intset_entries_max: 512,
    };

    /// Members to draw from: integers of every width (some only the text of one), and texts
    /// string2ll refuses.
    const POOL: &[&str] = &[
        "0",
        "1",
        "-1",
        "7",
        "127",
        "-128",
        "128",
        "300",
        "-32768",
        "32768",
        "70000",
        "-2147483649",
        "9223372036854775807",
        "-9223372036854775808",
        "a",
        "01",
        "-0",
        "+1",
        " 1",
        "1.0",
        "member:1",
        "",
    ];

    fn member(i: usize) -> &'static [u8] {
        POOL[i % POOL.len()].as_bytes()
    }

    fn check(s: &SetValue, model: &BTreeSet<Vec<u8>>, table: bool) {
        s.check_invariants();
        assert_eq!(s.len(), model.len());
        assert_eq!(s.encoding(), if table { "hashtable" } else { "intset" });
        let got: BTreeSet<Vec<u8>> = s.iter().map(Member::to_vec).collect();
        assert_eq!(&got, model);
        if !table {
            let ints: Vec<i64> = s
                .iter()
                .map(|m| match m {
                    Member::Int(n) => n,
                    Member::Bytes(b) => panic!("an intset yields integers, not {b:?}"),
                })
                .collect();
            assert!(ints.windows(2).all(|w| w[0] < w[1]), "ascending");
        }
        for (i, m) in s.iter().enumerate() {
            assert_eq!(s.nth(i), Some(m));
            assert!(s.contains_member(m));
        }
        assert_eq!(s.nth(s.len()), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn set_matches_a_btreeset_across_conversions(
            intset_max in 1usize..8,
            seed in any::<u64>(),
            first in 0usize..POOL.len(),
            ops in proptest::collection::vec((any::<bool>(), 0usize..POOL.len() + 40), 1..160),
        ) {
            let limits = SetLimits { intset_entries_max: intset_max };
            // Half the pool are integers; past it, numbers as text (mostly integers).
            let text = |i: usize| if i < POOL.len() { member(i).to_vec() }
                else { format!("{}", i as i64 * 997 - 20_000).into_bytes() };
            let mut s = SetValue::new_for(member(first), seed);
            let mut table = as_int(member(first)).is_none();
            let mut model = BTreeSet::new();
            for (add, i) in ops {
                let m = text(i);
                if add {
                    table |= as_int(&m).is_none();
                    prop_assert_eq!(s.insert(&m, &limits), model.insert(m.clone()));
                    table |= model.len() > intset_max;
                } else {
                    prop_assert_eq!(s.remove(&m), model.remove(&m));
                }
                prop_assert_eq!(s.contains(&m), model.contains(&m));
                check(&s, &model, table);
                prop_assert!(s.clone() == s);
            }
        }
    }

    #[test]
    fn new_for_picks_the_encoding_set_type_create_does() {
        assert_eq!(SetValue::new_for(b"12", 1).encoding(), "intset");
        for text in ["a", "012", "-0", "+1", "9223372036854775808", "1 "] {
            assert_eq!(
                SetValue::new_for(text.as_bytes(), 1).encoding(),
                "hashtable",
                "{text}"
            );
        }
        assert_eq!(SetValue::new_intset(1).encoding(), "intset");
    }

    #[test]
    fn the_513th_integer_converts() {
        let mut s = SetValue::new_for(b"0", 1);
        for j in 0..512 {
            assert!(s.insert(j.to_string().as_bytes(), &D));
        }
        assert_eq!(s.encoding(), "intset");
        assert!(!s.insert(b"5", &D), "a present member adds nothing");
        assert_eq!(s.encoding(), "intset");
        assert!(s.insert(b"512", &D));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"0") && s.contains(b"512") && !s.contains(b"513"));
        while !s.is_empty() {
            let m = s.nth(0).unwrap().to_vec();
            assert!(s.remove(&m));
        }
        assert_eq!(s.encoding(), "hashtable", "never converts back");
    }

    #[test]
    fn a_non_integer_member_converts() {
        let mut s = SetValue::new_for(b"1", 1);
        s.insert(b"1", &D);
        s.insert(b"-0", &D);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"-0") && !s.contains(b"0"));
        assert!(s.contains_member(Member::Int(1)));
    }

    #[test]
    fn intset_ascends_and_widens() {
        let mut s = SetValue::new_intset(1);
        let Repr::Intset { ints, .. } = &s.repr else {
            unreachable!()
        };
        assert_eq!(ints.width(), 1);
        for (n, width) in [
            (5, 1),
            (-3, 1),
            (1000, 2),
            (-70_000, 4),
            (i64::MAX, 8),
            (0, 8),
        ] {
            s.insert(n.to_string().as_bytes(), &D);
            let Repr::Intset { ints, .. } = &s.repr else {
                unreachable!()
            };
            assert_eq!(ints.width(), width, "after {n}");
        }
        let got: Vec<Member> = s.iter().collect();
        let want = [-70_000, -3, 0, 5, 1000, i64::MAX].map(Member::Int);
        assert_eq!(got, want);
        s.remove(i64::MAX.to_string().as_bytes());
        let Repr::Intset { ints, .. } = &s.repr else {
            unreachable!()
        };
        assert_eq!(ints.width(), 8, "never narrows");
    }

    #[test]
    fn sscan_visits_survivors_as_the_set_shrinks() {
        let mut s = SetValue::new_for(b"x", 2);
        for j in 0..3000 {
            s.insert(format!("member:{j}").as_bytes(), &D);
        }
        let mut seen = BTreeSet::new();
        let (mut cursor, mut victim) = (0, 100);
        loop {
            cursor = s.scan(cursor, |m| {
                seen.insert(m.to_vec());
            });
            if cursor == 0 {
                break;
            }
            for _ in 0..50 {
                if victim < 3000 {
                    assert!(s.remove(format!("member:{victim}").as_bytes()));
                    victim += 1;
                }
            }
        }
        assert!((0..100).all(|j| seen.contains(format!("member:{j}").as_bytes())));
        let ints = SetValue::new_for(b"1", 3);
        assert_eq!(ints.scan(0, |_| ()), 0, "an intset in one step");
    }

    #[test]
    fn pop_random_empties_both_encodings() {
        let mut x = 7u64;
        let mut draw = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 11
        };
        for first in ["1", "a"] {
            let mut s = SetValue::new_for(first.as_bytes(), 4);
            let mut model = BTreeSet::new();
            for j in 0..300 {
                s.insert(j.to_string().as_bytes(), &D);
                model.insert(j.to_string().into_bytes());
            }
            while let Some(m) = s.pop_random(&mut draw) {
                assert!(model.remove(&m), "{m:?}");
                s.check_invariants();
            }
            assert!(model.is_empty() && s.is_empty());
        }
    }
}
