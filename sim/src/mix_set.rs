//! The set family's share of the workload: one random set command on a key, with other keys
//! for the commands that take several (SMOVE, SINTER*, SUNION*, SDIFF*).
//!
//! Members are few (`m0`..`m5` and a few small integers) so adds and removes collide and sets
//! empty and refill often; an intset converts to a hashtable when a non-integer member lands
//! in it, which happens now and then but not on every write.
//!
//! Only commands the model checks are generated: SPOP and SRANDMEMBER (random replies) and
//! SSCAN (server-shaped cursors) are not modelled yet. Not wired into `workload.rs` here: the
//! lead does that.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::mix::{line, other};

const MEMBERS: &[&str] = &["m0", "m1", "m2", "m3", "m4", "m5", "1", "2", "3", "-7"];

fn member(rng: &mut ChaCha8Rng) -> Vec<u8> {
    // Mostly integers, so a set often starts as an intset and converts later.
    if rng.gen_bool(0.5) {
        rng.gen_range(0..6).to_string().into_bytes()
    } else {
        MEMBERS.choose(rng).expect("members").as_bytes().to_vec()
    }
}

fn members(rng: &mut ChaCha8Rng, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|_| member(rng)).collect()
}

/// `key` and up to `extra` of `other_keys`, in random order (duplicates allowed, as clients
/// send them).
fn keys(rng: &mut ChaCha8Rng, key: &[u8], other_keys: &[Vec<u8>], extra: usize) -> Vec<Vec<u8>> {
    let mut out = vec![key.to_vec()];
    for _ in 0..rng.gen_range(0..=extra) {
        if let Some(k) = other_keys.choose(rng) {
            out.push(k.clone());
        }
    }
    out.shuffle(rng);
    out
}

/// One random set command on `key`.
pub fn set_command(rng: &mut ChaCha8Rng, key: Vec<u8>, other_keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
    match rng.gen_range(0..20) {
        0..=4 => {
            let n = rng.gen_range(1..4);
            line("SADD", std::iter::once(key).chain(members(rng, n)))
        }
        5..=6 => {
            let n = rng.gen_range(1..3);
            line("SREM", std::iter::once(key).chain(members(rng, n)))
        }
        7 => line("SMEMBERS", [key]),
        8 => line("SISMEMBER", [key, member(rng)]),
        9 => line("SMISMEMBER", [key, member(rng), member(rng)]),
        10 => line("SCARD", [key]),
        11..=12 => {
            let dst = other(rng, &key, other_keys);
            line("SMOVE", [key, dst, member(rng)])
        }
        13 => line(
            ["SINTER", "SUNION", "SDIFF"].choose(rng).expect("names"),
            keys(rng, &key, other_keys, 2),
        ),
        14 => {
            let ks = keys(rng, &key, other_keys, 2);
            let mut args = vec![ks.len().to_string().into_bytes()];
            args.extend(ks);
            if rng.gen_bool(0.3) {
                args.push(b"LIMIT".to_vec());
                args.push(rng.gen_range(0..3).to_string().into_bytes());
            }
            line("SINTERCARD", args)
        }
        _ => {
            let name = *["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]
                .choose(rng)
                .expect("names");
            let dst = other(rng, &key, other_keys);
            line(
                name,
                std::iter::once(dst).chain(keys(rng, &key, other_keys, 2)),
            )
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn set_commands_cover_the_family_and_use_other_keys() {
        let (names, used_other) = crate::mix::coverage(11, 2000, set_command);
        assert!(used_other);
        assert_eq!(names.len(), 14, "{names:?}");
    }
}
