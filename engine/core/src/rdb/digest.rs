//! DEBUG DIGEST and DEBUG DIGEST-VALUE, computed as redis-server 7.0 computes them, so that two
//! servers can be compared by one command each.
//!
//! Two operations on a 20-byte digest `d`: to *xor in* bytes is to XOR their SHA-1 into `d`
//! (order does not matter); to *mix in* bytes is to xor them in and then replace `d` by the
//! SHA-1 of `d` (order matters). A value's digest, from zero: mix in its type code (4 bytes,
//! big-endian); then a string mixes in its bytes; a list mixes in each element in order; a set
//! xors in each member; a hash, for each pair, mixes field then value into a fresh zero digest
//! and xors that in; a sorted set does the same with the member and the score as `%.17g`; a
//! stream mixes in, per entry, the ID as "ms.seq" and then each field and value. A key with a
//! TTL finally xors in the text `!!expire!!`.
//!
//! The dataset digest starts at zero; for each database that holds keys, in order, it mixes in
//! the database number (4 bytes, big-endian) and then xors in each key's digest (the key mixed
//! into a zero digest, then its value as above). "Xor in" hashes first, so a key's share is the
//! SHA-1 of its digest; shares combine by XOR, so shards can each XOR their own keys' shares
//! and the coordinator combine them: `dataset` takes the per-database XORs.

use sha1_smol::Sha1;

use crate::db::stream::StreamId;
use crate::db::{Collection, Member, StrRef, ValueRef};
use crate::numfmt::fmt_double;

pub type Digest = [u8; 20];

/// Redis's object type codes (OBJ_STRING…), which the digest mixes in.
fn type_code(value: ValueRef<'_>) -> u32 {
    match value {
        ValueRef::Str(_) => 0,
        ValueRef::Coll(c) => match c {
            Collection::List(_) => 1,
            Collection::Set(_) => 2,
            Collection::ZSet(_) => 3,
            Collection::Hash(_) => 4,
            Collection::Stream(_) => 6,
        },
    }
}

fn sha1(bytes: &[u8]) -> Digest {
    Sha1::from(bytes).digest().bytes()
}

fn xor_in(d: &mut Digest, bytes: &[u8]) {
    for (a, b) in d.iter_mut().zip(sha1(bytes)) {
        *a ^= b;
    }
}

fn mix_in(d: &mut Digest, bytes: &[u8]) {
    xor_in(d, bytes);
    *d = sha1(d);
}

fn xor_digest(d: &mut Digest, other: &Digest) {
    for (a, b) in d.iter_mut().zip(other) {
        *a ^= b;
    }
}

/// Folds a value (and whether it has a TTL) into `d` (Redis's xorObjectDigest).
fn fold_value(d: &mut Digest, value: ValueRef<'_>, has_ttl: bool) {
    mix_in(d, &type_code(value).to_be_bytes());
    match value {
        ValueRef::Str(StrRef::Int(n)) => mix_in(d, n.to_string().as_bytes()),
        ValueRef::Str(StrRef::Bytes { bytes, .. }) => mix_in(d, bytes),
        ValueRef::Coll(c) => match c {
            Collection::List(l) => {
                for e in l.iter() {
                    mix_in(d, e);
                }
            }
            Collection::Set(s) => {
                for m in s.iter() {
                    match m {
                        Member::Int(n) => xor_in(d, n.to_string().as_bytes()),
                        Member::Bytes(b) => xor_in(d, b),
                    }
                }
            }
            Collection::ZSet(z) => {
                let mut text = Vec::with_capacity(32);
                z.visit_range(0, z.len(), false, &mut |member, score| {
                    let mut pair = [0u8; 20];
                    mix_in(&mut pair, member);
                    text.clear();
                    fmt_double(score, &mut text);
                    mix_in(&mut pair, &text);
                    xor_in(d, &pair);
                    true
                });
            }
            Collection::Hash(h) => {
                for (field, value) in h.iter() {
                    let mut pair = [0u8; 20];
                    mix_in(&mut pair, field);
                    mix_in(&mut pair, value);
                    xor_in(d, &pair);
                }
            }
            Collection::Stream(s) => {
                s.log().range(StreamId::MIN, StreamId::MAX, false, |entry| {
                    mix_in(d, format!("{}.{}", entry.id.ms, entry.id.seq).as_bytes());
                    for (field, value) in entry.pairs() {
                        mix_in(d, field);
                        mix_in(d, value);
                    }
                    true
                });
            }
        },
    }
    if has_ttl {
        xor_in(d, b"!!expire!!");
    }
}

/// DEBUG DIGEST-VALUE of one key's value.
pub fn value_digest(value: ValueRef<'_>, has_ttl: bool) -> Digest {
    let mut d = [0u8; 20];
    fold_value(&mut d, value, has_ttl);
    d
}

/// A key's share of the dataset digest: the SHA-1 of its digest (the key mixed into a zero
/// digest, then its value), which the dataset XORs in.
pub fn key_share(key: &[u8], value: ValueRef<'_>, has_ttl: bool) -> Digest {
    let mut d = [0u8; 20];
    mix_in(&mut d, key);
    fold_value(&mut d, value, has_ttl);
    sha1(&d)
}

/// XORs `part` into `acc` (combining key digests of one database, from any shards).
pub fn combine(acc: &mut Digest, part: &Digest) {
    xor_digest(acc, part);
}

/// The dataset digest from each non-empty database's number and the XOR of its keys' shares,
/// databases ascending.
pub fn dataset(dbs: &[(u32, Digest)]) -> Digest {
    let mut d = [0u8; 20];
    for (db, keys_xor) in dbs {
        mix_in(&mut d, &db.to_be_bytes());
        xor_digest(&mut d, keys_xor);
    }
    d
}

/// Forty lower-case hex digits, as DEBUG prints a digest.
pub fn to_hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
