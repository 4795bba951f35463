//! The sorted-set family's share of the workload: one random zset command on a key, with other
//! keys for ZUNIONSTORE and ZINTERSTORE (across shards when the world allows, so inside a
//! transaction they are multi-shard writes).
//!
//! Members are few (`m0`..`m5`) so adds, increments and removes collide; scores are small
//! integers, halves and sometimes `inf`, so ties, ranges and NaN refusals (inf + -inf) all
//! happen. Never `-0` and no negative weights: a listpack reads -0 back as 0, which the model
//! does not track. Only commands the model checks are generated (no ZRANDMEMBER, ZSCAN, lex
//! ranges).
//!
//! The workload draws these from a stream of their own (`Workload::with_collections`), so a
//! seed that drew no sorted sets generates exactly what it did before they existed.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::mix::line;

const MEMBERS: &[&str] = &["m0", "m1", "m2", "m3", "m4", "m5"];
const SCORES: &[&str] = &["1", "2", "3", "-1", "0.5", "2.5", "10", "inf", "-inf"];

fn member(rng: &mut ChaCha8Rng) -> Vec<u8> {
    MEMBERS.choose(rng).expect("members").as_bytes().to_vec()
}

fn score(rng: &mut ChaCha8Rng) -> Vec<u8> {
    SCORES.choose(rng).expect("scores").as_bytes().to_vec()
}

fn bound(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let s = String::from_utf8(score(rng)).expect("ascii");
    let text = if rng.gen_bool(0.3) {
        format!("({s}")
    } else {
        s
    };
    text.into_bytes()
}

fn int(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> Vec<u8> {
    rng.gen_range(lo..=hi).to_string().into_bytes()
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member …
fn zadd(rng: &mut ChaCha8Rng, key: Vec<u8>) -> Vec<Vec<u8>> {
    let mut args = vec![key];
    for flag in ["NX", "XX", "GT", "LT", "CH"] {
        if rng.gen_ratio(1, 8) {
            args.push(flag.as_bytes().to_vec());
        }
    }
    let incr = rng.gen_ratio(1, 6);
    if incr {
        args.push(b"INCR".to_vec());
    }
    let pairs = if incr { 1 } else { rng.gen_range(1..=3) };
    for _ in 0..pairs {
        args.push(score(rng));
        args.push(member(rng));
    }
    line("ZADD", args)
}

/// ZRANGE key a b [BYSCORE] [REV] [LIMIT o c] [WITHSCORES].
fn zrange(rng: &mut ChaCha8Rng, key: Vec<u8>) -> Vec<Vec<u8>> {
    let byscore = rng.gen_bool(0.5);
    let mut args = if byscore {
        vec![key, bound(rng), bound(rng), b"BYSCORE".to_vec()]
    } else {
        vec![key, int(rng, -4, 4), int(rng, -4, 4)]
    };
    if rng.gen_ratio(1, 3) {
        args.push(b"REV".to_vec());
    }
    if byscore && rng.gen_ratio(1, 3) {
        args.push(b"LIMIT".to_vec());
        args.push(int(rng, 0, 2));
        args.push(int(rng, -1, 3));
    }
    if rng.gen_bool(0.5) {
        args.push(b"WITHSCORES".to_vec());
    }
    line("ZRANGE", args)
}

/// ZUNIONSTORE or ZINTERSTORE dst numkeys key… [WEIGHTS …] [AGGREGATE …].
fn zstore(rng: &mut ChaCha8Rng, key: Vec<u8>, other_keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let name = *["ZUNIONSTORE", "ZINTERSTORE"].choose(rng).expect("names");
    let dst = other_keys
        .choose(rng)
        .cloned()
        .unwrap_or_else(|| key.clone());
    let mut sources = vec![key];
    for _ in 0..rng.gen_range(0..=2) {
        if let Some(k) = other_keys.choose(rng) {
            sources.push(k.clone());
        }
    }
    let mut args = vec![dst, sources.len().to_string().into_bytes()];
    let n = sources.len();
    args.extend(sources);
    if rng.gen_ratio(1, 3) {
        args.push(b"WEIGHTS".to_vec());
        for _ in 0..n {
            args.push(int(rng, 1, 3));
        }
    }
    if rng.gen_ratio(1, 3) {
        args.push(b"AGGREGATE".to_vec());
        args.push(
            ["SUM", "MIN", "MAX"]
                .choose(rng)
                .expect("aggs")
                .as_bytes()
                .to_vec(),
        );
    }
    line(name, args)
}

/// One random sorted-set command on `key`.
pub fn zset_command(rng: &mut ChaCha8Rng, key: Vec<u8>, other_keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
    match rng.gen_range(0..24) {
        0..=5 => zadd(rng, key),
        6 => line("ZINCRBY", [key, score(rng), member(rng)]),
        7..=8 => {
            let n = rng.gen_range(1..3);
            line(
                "ZREM",
                std::iter::once(key).chain((0..n).map(|_| member(rng))),
            )
        }
        9 => line("ZCARD", [key]),
        10 => line("ZSCORE", [key, member(rng)]),
        11 => line("ZMSCORE", [key, member(rng), member(rng)]),
        12 => line(
            ["ZRANK", "ZREVRANK"].choose(rng).expect("names"),
            [key, member(rng)],
        ),
        13 => line("ZCOUNT", [key, bound(rng), bound(rng)]),
        14..=16 => zrange(rng, key),
        17 => line("ZREMRANGEBYRANK", [key, int(rng, -3, 3), int(rng, -3, 3)]),
        18..=19 => {
            let name = *["ZPOPMIN", "ZPOPMAX"].choose(rng).expect("names");
            if rng.gen_bool(0.5) {
                line(name, [key])
            } else {
                line(name, [key, int(rng, 0, 3)])
            }
        }
        _ => zstore(rng, key, other_keys),
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn zset_commands_cover_the_family_and_use_other_keys() {
        let (names, used_other) = crate::mix::coverage(12, 2000, zset_command);
        assert!(used_other);
        assert_eq!(names.len(), 15, "{names:?}");
    }
}
