//! Bitmaps and HyperLogLogs in the workload, each from a stream of its own
//! (`config::OWN_STREAM_FAMILIES`), so seeds that drew neither generate what they did before.
//!
//! Bitmaps: bits and fields near byte edges on short strings (the other families' string
//! values collide with them, so integer and text values are read as bits too), ranges in both
//! units, BITOP over keys of any shard. HyperLogLogs: a few elements at a time from a small
//! alphabet (so a PFADD often changes nothing and answers 0), now and then a batch that grows
//! the sparse code, PFCOUNT and PFMERGE over several keys. Both read values back whole with
//! SUBSTR (GET's bytes; a name the main stream never draws, so a test can take these commands
//! out): an HLL's bytes must be exactly those the model computes.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::mix::{line, other, pick};

const OFFSETS: &[&str] = &["0", "1", "6", "7", "8", "9", "15", "16", "31", "63"];
const INDEXES: &[&str] = &["0", "1", "-1", "-2", "2", "5", "-9"];
const TYPES: &[&str] = &["i8", "u8", "i5", "u3", "i16", "u63", "i64", "i1"];
const VALUES: &[&str] = &["0", "1", "-1", "100", "127", "-128", "255", "1000"];
const ELEMENTS: &[&str] = &["a", "b", "c", "d", "e", "1", "2", "3"];

/// One random bitmap command on `key`, with other keys for BITOP.
pub fn bitmap_command(rng: &mut ChaCha8Rng, key: Vec<u8>, other_keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
    match rng.gen_range(0..20) {
        0..=4 => line("SETBIT", [key, pick(rng, OFFSETS), pick(rng, &["0", "1"])]),
        5..=6 => line("GETBIT", [key, pick(rng, OFFSETS)]),
        7..=8 => {
            let mut args = vec![key];
            if rng.gen_bool(0.6) {
                args.extend([pick(rng, INDEXES), pick(rng, INDEXES)]);
                if rng.gen_bool(0.5) {
                    args.push(pick(rng, &["BIT", "BYTE"]));
                }
            }
            line("BITCOUNT", args)
        }
        9..=10 => {
            let mut args = vec![key, pick(rng, &["0", "1"])];
            let extra = rng.gen_range(0..4);
            if extra >= 1 {
                args.push(pick(rng, INDEXES));
            }
            if extra >= 2 {
                args.push(pick(rng, INDEXES));
            }
            if extra >= 3 {
                args.push(pick(rng, &["BIT", "BYTE"]));
            }
            line("BITPOS", args)
        }
        11..=13 => {
            let op = pick(rng, &["AND", "OR", "XOR", "NOT"]);
            let dst = other(rng, &key, other_keys);
            let mut args = vec![op.clone(), dst, key.clone()];
            if op != b"NOT" && rng.gen_bool(0.7) {
                args.push(other(rng, &key, other_keys));
            }
            line("BITOP", args)
        }
        14..=17 => line("BITFIELD", std::iter::once(key).chain(field_ops(rng, true))),
        18 => line(
            "BITFIELD_RO",
            std::iter::once(key).chain(field_ops(rng, false)),
        ),
        _ => line("SUBSTR", [key, b"0".to_vec(), b"-1".to_vec()]),
    }
}

/// One to three BITFIELD operations (only GETs unless `writes`), OVERFLOW now and then.
fn field_ops(rng: &mut ChaCha8Rng, writes: bool) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    for _ in 0..rng.gen_range(1..=3) {
        if writes && rng.gen_ratio(1, 4) {
            args.extend([b"OVERFLOW".to_vec(), pick(rng, &["WRAP", "SAT", "FAIL"])]);
        }
        let op = if writes {
            pick(rng, &["GET", "SET", "INCRBY"])
        } else {
            b"GET".to_vec()
        };
        let offset = if rng.gen_ratio(1, 4) {
            pick(rng, &["#0", "#1", "#3"])
        } else {
            pick(rng, OFFSETS)
        };
        let is_get = op == b"GET";
        args.extend([op, pick(rng, TYPES), offset]);
        if !is_get {
            args.push(pick(rng, VALUES));
        }
    }
    args
}

/// One random HyperLogLog command on `key`, with other keys for PFCOUNT and PFMERGE.
pub fn hll_command(rng: &mut ChaCha8Rng, key: Vec<u8>, other_keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
    match rng.gen_range(0..16) {
        0..=5 => {
            let n = rng.gen_range(0..4);
            let elements: Vec<Vec<u8>> = (0..n).map(|_| pick(rng, ELEMENTS)).collect();
            line("PFADD", std::iter::once(key).chain(elements))
        }
        6 => {
            // A batch that grows the sparse code a lot (sometimes past hll-sparse-max-bytes).
            let n = *[50usize, 400, 2500]
                .get(rng.gen_range(0..3))
                .expect("sizes");
            let base = rng.gen_range(0..1000u32);
            let elements = (0..n).map(|i| format!("e{}", base + i as u32).into_bytes());
            line("PFADD", std::iter::once(key).chain(elements))
        }
        7..=10 => {
            let mut keys = vec![key.clone()];
            for _ in 0..rng.gen_range(0..3) {
                keys.push(other(rng, &key, other_keys));
            }
            line("PFCOUNT", keys)
        }
        11..=12 => {
            let dst = other(rng, &key, other_keys);
            line("PFMERGE", [dst, key])
        }
        _ => line("SUBSTR", [key, b"0".to_vec(), b"-1".to_vec()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::coverage;

    #[test]
    fn bitmaps_cover_every_command_and_other_keys() {
        let (names, used_other) = coverage(3, 2_000, bitmap_command);
        let want = [
            "BITCOUNT",
            "BITFIELD",
            "BITFIELD_RO",
            "BITOP",
            "BITPOS",
            "GETBIT",
            "SETBIT",
            "SUBSTR",
        ];
        assert_eq!(names.into_iter().collect::<Vec<_>>(), want);
        assert!(used_other);
    }

    #[test]
    fn hlls_cover_every_command_and_other_keys() {
        let (names, used_other) = coverage(4, 2_000, hll_command);
        let want = ["PFADD", "PFCOUNT", "PFMERGE", "SUBSTR"];
        assert_eq!(names.into_iter().collect::<Vec<_>>(), want);
        assert!(used_other);
    }
}
