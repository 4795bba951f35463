//! The memory targets, measured the way the shard accounts them: the entry's `heap_bytes`
//! (its block, the collection's box and everything the collection owns) for the shapes the
//! comparison with redis-server 7.0 loads. `cargo test -p damselfly-core --lib memory_shapes
//! -- --nocapture` prints the figures; the asserts hold the targets.

use super::stream::StreamId;
use super::{
    Collection, End, Entry, HashLimits, HashValue, ListLimits, ListValue, SetLimits, SetValue,
    StreamLimits, StreamValue, Value, ZSetLimits, ZSetValue,
};

/// An entry's bytes for `key` holding `c`.
fn entry_bytes(c: Collection) -> usize {
    Entry::new(b"key:123456", Value::Coll(Box::new(c)), 0).heap_bytes()
}

fn hash_of(fields: usize) -> HashValue {
    let mut h = HashValue::new(1);
    for j in 0..fields {
        h.insert(
            format!("f{j}").as_bytes(),
            &[b'v'; 16],
            &HashLimits::default(),
        );
    }
    h
}

fn set_of<T: std::fmt::Display>(members: impl Iterator<Item = T>) -> SetValue {
    let mut s = SetValue::new_intset(1);
    for m in members {
        s.insert(m.to_string().as_bytes(), &SetLimits::default());
    }
    s
}

fn list_of(elements: usize) -> ListValue {
    let mut l = ListValue::new();
    for _ in 0..elements {
        l.push(End::Right, &[b'v'; 16], &ListLimits::default());
    }
    l
}

/// ZADD key j member:<j> for j in 0..members (integer scores, ascending).
fn zset_of(members: u32) -> ZSetValue {
    let mut z = ZSetValue::new(1);
    for j in 0..members {
        let member = format!("member:{j}");
        z.insert(member.as_bytes(), f64::from(j), &ZSetLimits::default());
    }
    z
}

/// XADD key <j>-0 f1 <16 B> f2 <16 B> for j in 1..=entries (one entry per millisecond).
fn stream_of(entries: u64) -> StreamValue {
    let mut s = StreamValue::new();
    let value = [b'v'; 16];
    for j in 1..=entries {
        let pairs: [(&[u8], &[u8]); 2] = [(b"f1", &value), (b"f2", &value)];
        s.log_mut()
            .append(StreamId::new(j, 0), &pairs, &StreamLimits::default());
    }
    s
}

#[test]
fn collections_meet_the_memory_targets() {
    let collection = std::mem::size_of::<Collection>();
    println!("size_of Collection {collection} B");
    let members = set_of((0..1000).map(|j| format!("member:{j}")));
    let shapes = [
        (
            "hash, 1000 fields f<j>, 16 B values",
            1000,
            Collection::Hash(hash_of(1000)),
            50,
        ),
        (
            "set, 1000 members member:<j>",
            1000,
            Collection::Set(members),
            30,
        ),
        (
            "zset, 1000 members member:<j> (skiplist)",
            1000,
            Collection::ZSet(zset_of(1000)),
            55,
        ),
        (
            "zset, 100 members member:<j> (listpack), per key",
            1,
            // Front coding: `member:<j>` shares `member:` (and more) with its neighbour.
            Collection::ZSet(zset_of(100)),
            1068,
        ),
        (
            "hash, 50 fields f<j> (listpack), per key",
            1,
            Collection::Hash(hash_of(50)),
            1368,
        ),
        (
            "list, 100 elements of 16 B, per key (redis 7.0: 2,125 B)",
            1,
            Collection::List(list_of(100)),
            2125,
        ),
        (
            "list, 1,000,000 elements of 16 B (redis 7.0: 18.x B/element)",
            1_000_000,
            Collection::List(list_of(1_000_000)),
            18,
        ),
        (
            "stream, 1,000,000 entries of 2 fields of 16 B (redis 7.0: about 46 B/entry)",
            1_000_000,
            Collection::Stream(stream_of(1_000_000)),
            42,
        ),
        (
            "set, 100 ints 0..100 (intset), per key",
            1,
            Collection::Set(set_of(0..100)),
            286,
        ),
    ];
    for (name, n, c, target_per_element) in shapes {
        let encoding = c.encoding();
        let own = c.heap_bytes();
        let all = entry_bytes(c);
        let per = all as f64 / n as f64;
        println!("{name}: {encoding}, own {own} B, all-in {all} B, {per:.1} B/element");
        assert!(all <= target_per_element * n, "{name}: {all} B");
    }
    let wide = Collection::Set(set_of(1000..1100));
    println!(
        "set, 100 ints 1000..1100 (2-byte intset): all-in {} B",
        entry_bytes(wide)
    );
}
