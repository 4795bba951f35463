//! A hash value (HSET and friends): field → value, with Redis 7.0's two encodings.
//!
//! - "listpack" (listpack.rs): the pairs packed in one buffer in insertion order, scanned
//!   linearly, while there are at most `hash-max-listpack-entries` pairs and no field or value
//!   is longer than `hash-max-listpack-value`. An update keeps the pair's place; a removal
//!   closes the gap. HSCAN returns it whole, cursor 0.
//! - "hashtable" (packed_table.rs): a chained table over one arena of records, keyed by
//!   xxh3 with the value's seed, so its order is deterministic; HSCAN walks one bucket per call
//!   with Redis's reverse-binary cursor.
//!
//! An insert that would break either listpack limit converts first (the 129th field, a
//! 65-byte field or value, with the defaults), as Redis's hashTypeTryConversion and
//! hashTypeSet do; nothing converts back. `heap_bytes` is O(1): a listpack owns one buffer, a
//! table its box and three buffers, each counted by its allocator class.

use super::listpack::{Listpack, ListpackIter};
use super::packed_table::{self, PackedTable};
use super::size_class::class_bytes;

/// Redis's `hash-max-listpack-entries` / `hash-max-listpack-value`: above either, a hash is a
/// hashtable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashLimits {
    pub listpack_entries_max: usize,
    pub listpack_value_max_bytes: usize,
}

impl Default for HashLimits {
    fn default() -> HashLimits {
        HashLimits {
            // redis-server 7.0's built-in default (config.c), not the 128 of the other types.
            listpack_entries_max: 512,
            listpack_value_max_bytes: 64,
        }
    }
}

type Table = PackedTable<true>;

#[derive(Clone, Debug)]
pub struct HashValue {
    repr: Repr,
}

/// The encoding, holding only what it needs; the seed waits in the listpack for conversion.
#[derive(Clone, Debug)]
enum Repr {
    Listpack { pairs: Listpack, seed: u64 },
    Table(Box<Table>),
}

impl PartialEq for HashValue {
    /// Equal contents, whatever the encoding or order.
    fn eq(&self, other: &HashValue) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl HashValue {
    /// An empty hash (listpack). `seed` keys the hashtable's hash function once it converts.
    pub fn new(seed: u64) -> HashValue {
        HashValue {
            repr: Repr::Listpack {
                pairs: Listpack::default(),
                seed,
            },
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack { pairs, .. } => pairs.len(),
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name: "listpack" or "hashtable".
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Listpack { .. } => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Heap bytes this value owns, by allocator class (not the value's own box). O(1).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Listpack { pairs, .. } => pairs.heap_bytes(),
            Repr::Table(t) => class_bytes(std::mem::size_of::<Table>()) + t.heap_bytes(),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Listpack { pairs, .. } => pairs.get(field),
            Repr::Table(t) => t.get(field).map(|(_, v)| v),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; true when the field is new. Converts to a hashtable when the
    /// field count or a length passes `limits` (never back).
    pub fn insert(&mut self, field: &[u8], value: &[u8], limits: &HashLimits) -> bool {
        let value_max = limits.listpack_value_max_bytes;
        if field.len() > value_max || value.len() > value_max {
            self.convert(1);
        }
        match &mut self.repr {
            Repr::Listpack { pairs, .. } => {
                let new = pairs.insert(field, value);
                if pairs.len() > limits.listpack_entries_max {
                    self.convert(0);
                }
                new
            }
            Repr::Table(t) => t.insert(field, value),
        }
    }

    /// Turns a listpack into a table with room for `extra` more pairs (a table stays).
    fn convert(&mut self, extra: usize) {
        let Repr::Listpack { pairs, seed } = &self.repr else {
            return;
        };
        let mut table = Table::new(*seed, pairs.len() + extra);
        for (f, v) in pairs.iter() {
            table.insert(f, v);
        }
        self.repr = Repr::Table(Box::new(table));
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack { pairs, .. } => pairs.remove(field),
            Repr::Table(t) => t.remove(field),
        }
    }

    /// Every (field, value): insertion order for a listpack, table order for a hashtable.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        match &self.repr {
            Repr::Listpack { pairs, .. } => Iter::Listpack(pairs.iter()),
            Repr::Table(t) => Iter::Table(t.iter()),
        }
    }

    /// The `index`th pair in `iter` order (HRANDFIELD draws indexes below `len`).
    pub fn nth(&self, index: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(index)
    }

    /// A pair drawn uniformly (HRANDFIELD): `draw` gives random u64s. O(1) expected for a
    /// hashtable, O(n) for a listpack (at most `hash-max-listpack-entries`).
    pub fn random(&self, mut draw: impl FnMut() -> u64) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Listpack { pairs, .. } if pairs.len() == 0 => None,
            Repr::Listpack { pairs, .. } => {
                pairs.iter().nth((draw() % pairs.len() as u64) as usize)
            }
            Repr::Table(t) => t.random(draw).map(|node| t.entry(node)),
        }
    }

    /// One step of HSCAN: visits some pairs, returns the next cursor (0: done). A pair present
    /// for the whole scan is visited at least once however the hash grows. A listpack is
    /// visited whole in one step (cursor 0 back), as Redis does.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.repr {
            Repr::Listpack { pairs, .. } => {
                for (f, v) in pairs.iter() {
                    visit(f, v);
                }
                0
            }
            Repr::Table(t) => t.scan(cursor, visit),
        }
    }

    /// Recounts the slow way and checks the encoding's invariants (tests, simulator).
    pub fn check_invariants(&self) {
        match &self.repr {
            Repr::Listpack { pairs, .. } => pairs.check_invariants(),
            Repr::Table(t) => t.check_invariants(),
        }
    }
}

/// `iter`'s iterator: one arm per encoding.
enum Iter<'a> {
    Listpack(ListpackIter<'a>),
    Table(packed_table::Iter<'a, true>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            Iter::Listpack(it) => it.next(),
            Iter::Table(it) => it.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const D: HashLimits = HashLimits {
        listpack_entries_max: 128,
        listpack_value_max_bytes: 64,
    };

    /// Checks `h` against the model: contents, listpack order, encoding, byte count.
    fn check(h: &HashValue, model: &BTreeMap<Vec<u8>, Vec<u8>>, order: &[Vec<u8>], table: bool) {
        h.check_invariants();
        assert_eq!(h.len(), model.len());
        assert_eq!(h.encoding(), if table { "hashtable" } else { "listpack" });
        let got: BTreeMap<Vec<u8>, Vec<u8>> =
            h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(&got, model);
        if !table {
            let fields: Vec<Vec<u8>> = h.iter().map(|(f, _)| f.to_vec()).collect();
            assert_eq!(fields, order, "listpack keeps insertion order");
        }
        for (i, pair) in h.iter().enumerate() {
            assert_eq!(h.nth(i), Some(pair));
        }
        assert_eq!(h.nth(h.len()), None);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, usize),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..24, 0usize..9).prop_map(|(f, n)| Op::Insert(f, n)),
            2 => (0u8..24).prop_map(Op::Remove),
        ]
    }

    /// Field names of 1 to 7 bytes, so some pass the small value limit.
    fn field(f: u8) -> Vec<u8> {
        let mut name = vec![b'a' + f % 26];
        name.extend(std::iter::repeat_n(b'x', usize::from(f % 7)));
        name
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn hash_matches_a_btreemap_across_conversions(
            entries_max in 1usize..10,
            value_max in 2usize..8,
            seed in any::<u64>(),
            ops in proptest::collection::vec(op(), 1..160),
        ) {
            let limits = HashLimits { listpack_entries_max: entries_max,
                listpack_value_max_bytes: value_max };
            let mut h = HashValue::new(seed);
            let mut model = BTreeMap::new();
            let mut order: Vec<Vec<u8>> = Vec::new();
            let mut table = false;
            for op in ops {
                match op {
                    Op::Insert(f, n) => {
                        let (f, v) = (field(f), vec![b'0' + n as u8; n]);
                        table |= f.len() > value_max || v.len() > value_max;
                        let new = h.insert(&f, &v, &limits);
                        prop_assert_eq!(new, model.insert(f.clone(), v).is_none());
                        if new {
                            order.push(f);
                        }
                        table |= model.len() > entries_max;
                    }
                    Op::Remove(f) => {
                        let f = field(f);
                        prop_assert_eq!(h.remove(&f), model.remove(&f).is_some());
                        order.retain(|o| *o != f);
                    }
                }
                check(&h, &model, &order, table);
                let copy = h.clone();
                prop_assert!(copy == h);
            }
        }
    }

    #[test]
    fn the_129th_field_converts() {
        let mut h = HashValue::new(1);
        for j in 0..128 {
            assert!(h.insert(format!("f{j}").as_bytes(), b"v", &D));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(!h.insert(b"f0", b"w", &D), "an update adds nothing");
        assert_eq!(h.encoding(), "listpack");
        assert!(h.insert(b"f128", b"v", &D));
        assert_eq!(h.encoding(), "hashtable");
        for j in 0..129 {
            assert!(h.remove(format!("f{j}").as_bytes()));
            assert_eq!(h.encoding(), "hashtable", "never converts back");
        }
        assert!(h.is_empty());
    }

    #[test]
    fn a_65_byte_value_or_field_converts() {
        for (f, v) in [
            (vec![b'f'; 64], vec![b'v'; 65]),
            (vec![b'f'; 65], vec![b'v'; 64]),
        ] {
            let mut h = HashValue::new(2);
            h.insert(b"a", b"1", &D);
            h.insert(&f[..64], &v[..64], &D);
            assert_eq!(h.encoding(), "listpack", "64 bytes fit");
            h.insert(&f, &v, &D);
            assert_eq!(h.encoding(), "hashtable");
            assert_eq!(h.get(&f), Some(v.as_slice()));
            assert_eq!(h.get(b"a"), Some(&b"1"[..]));
        }
        let mut h = HashValue::new(3);
        h.insert(b"a", b"1", &D);
        h.insert(b"a", &[b'v'; 65], &D);
        assert_eq!(
            h.encoding(),
            "hashtable",
            "an update that grows a value converts too"
        );
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn a_listpack_update_keeps_the_fields_place() {
        let mut h = HashValue::new(4);
        for (f, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
            h.insert(f.as_bytes(), v.as_bytes(), &D);
        }
        h.insert(b"b", b"a longer value", &D);
        h.insert(b"a", b"", &D);
        h.insert(b"c", b"9", &D);
        let pairs: Vec<_> = h.iter().collect();
        let want: Vec<(&[u8], &[u8])> = vec![(b"a", b""), (b"b", b"a longer value"), (b"c", b"9")];
        assert_eq!(pairs, want);
        h.remove(b"a");
        h.insert(b"a", b"1", &D);
        assert_eq!(
            h.nth(2),
            Some((&b"a"[..], &b"1"[..])),
            "re-added at the end"
        );
    }

    #[test]
    fn hscan_visits_survivors_as_the_hash_grows() {
        let mut h = HashValue::new(5);
        for j in 0..200 {
            h.insert(format!("f{j}").as_bytes(), b"v", &D);
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = 0;
        let mut added = 0;
        loop {
            cursor = h.scan(cursor, |f, _| {
                seen.insert(f.to_vec());
            });
            if cursor == 0 {
                break;
            }
            // Growth stops at 400 more: a hash that outgrows the cursor forever never ends.
            for _ in 0..10 * usize::from(added < 400) {
                h.insert(format!("new{added}").as_bytes(), b"v", &D);
                added += 1;
            }
        }
        assert!((0..200).all(|j| seen.contains(format!("f{j}").as_bytes())));
        let mut small = HashValue::new(6);
        small.insert(b"a", b"1", &D);
        let mut visits = 0;
        assert_eq!(
            small.scan(0, |_, _| visits += 1),
            0,
            "a listpack in one step"
        );
        assert_eq!(visits, 1);
    }

    #[test]
    fn random_draws_every_field() {
        for n in [5, 300] {
            let mut h = HashValue::new(7);
            for j in 0..n {
                h.insert(format!("f{j}").as_bytes(), b"v", &D);
            }
            let mut x = 1u64;
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..n * 40 {
                let (f, _) = h
                    .random(|| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        x >> 11
                    })
                    .unwrap();
                seen.insert(f.to_vec());
            }
            assert_eq!(seen.len(), n);
        }
        assert_eq!(HashValue::new(8).random(|| 0), None);
    }

    #[test]
    fn table_order_depends_only_on_the_seed() {
        let build = |seed| {
            let mut h = HashValue::new(seed);
            for j in 0..300 {
                h.insert(format!("f{j}").as_bytes(), b"v", &D);
            }
            h.iter().map(|(f, _)| f.to_vec()).collect::<Vec<_>>()
        };
        assert_eq!(build(9), build(9));
    }
}
