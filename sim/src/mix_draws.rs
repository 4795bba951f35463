//! Draws: the set, hash and sorted-set commands whose reply the server draws at random (SPOP,
//! SRANDMEMBER, HRANDFIELD, ZRANDMEMBER) or shapes by its table (SSCAN, HSCAN, ZSCAN from
//! cursor 0). The model checks each
//! recorded reply against what Redis allows and takes the draw as made (model's `draws`), so
//! a popped member that is not in the set, one popped twice, a wrong count or a field with
//! another value is a violation.
//!
//! The family comes from its own stream (`config::OWN_STREAM_FAMILIES`), with SADDs, HSETs and
//! ZADDs of its own so that there is something to draw from; seeds that drew no draws are
//! unchanged.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::mix::{line, pick};

const MEMBERS: &[&str] = &["m0", "m1", "m2", "1", "2", "3", "-7"];
const FIELDS: &[&str] = &["f0", "f1", "f2", "f3"];
const VALUES: &[&str] = &["v", "w", "10", ""];
/// Counts around the sizes the sets and hashes reach (a handful of elements), both signs.
const COUNTS: &[&str] = &["0", "1", "2", "3", "9", "-1", "-3", "-9"];
const PATTERNS: &[&str] = &["*", "m*", "f[01]", "?"];
const SCORES: &[&str] = &["1", "2.5", "-3", "0"];

/// `SSCAN`/`HSCAN key 0`, sometimes with MATCH and COUNT.
fn scan(rng: &mut ChaCha8Rng, name: &str, key: Vec<u8>) -> Vec<Vec<u8>> {
    let mut argv = line(name, [key, b"0".to_vec()]);
    if rng.gen_ratio(1, 3) {
        argv.extend([b"MATCH".to_vec(), pick(rng, PATTERNS)]);
    }
    if rng.gen_ratio(1, 3) {
        argv.extend([b"COUNT".to_vec(), pick(rng, &["1", "2", "10"])]);
    }
    argv
}

/// One draw (or a write to draw from) on `key`.
pub fn draw_command(rng: &mut ChaCha8Rng, key: Vec<u8>) -> Vec<Vec<u8>> {
    match rng.gen_range(0..26) {
        0..=3 => {
            let n = rng.gen_range(1..=4);
            line(
                "SADD",
                std::iter::once(key).chain((0..n).map(|_| pick(rng, MEMBERS))),
            )
        }
        4..=6 => {
            let n = rng.gen_range(1..=3);
            let pairs = (0..n).flat_map(|_| [pick(rng, FIELDS), pick(rng, VALUES)]);
            line(
                "HSET",
                std::iter::once(key).chain(pairs.collect::<Vec<_>>()),
            )
        }
        7 | 8 => line("SPOP", [key]),
        9 | 10 => line("SPOP", [key, pick(rng, &["0", "1", "2", "5"])]),
        11 => line("SRANDMEMBER", [key]),
        12 | 13 => line("SRANDMEMBER", [key, pick(rng, COUNTS)]),
        14 => line("HRANDFIELD", [key]),
        15 => line("HRANDFIELD", [key, pick(rng, COUNTS)]),
        16 => line(
            "HRANDFIELD",
            [key, pick(rng, COUNTS), b"WITHVALUES".to_vec()],
        ),
        17 => scan(rng, "SSCAN", key),
        18 => scan(rng, "HSCAN", key),
        19 | 20 => {
            let n = rng.gen_range(1..=3);
            let pairs = (0..n).flat_map(|_| [pick(rng, SCORES), pick(rng, MEMBERS)]);
            line(
                "ZADD",
                std::iter::once(key).chain(pairs.collect::<Vec<_>>()),
            )
        }
        21 => line("ZRANDMEMBER", [key]),
        22 => line("ZRANDMEMBER", [key, pick(rng, COUNTS)]),
        23 => line(
            "ZRANDMEMBER",
            [key, pick(rng, COUNTS), b"WITHSCORES".to_vec()],
        ),
        _ => scan(rng, "ZSCAN", key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::seq::SliceRandom;
    use rand_core::SeedableRng;

    /// Every draw the generator makes is one the model knows and Redis accepts: the model
    /// answers none of them with an error other than WRONGTYPE.
    #[test]
    fn every_generated_draw_is_a_valid_command() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut model = model::Model::new(model::DBS_DEFAULT);
        let mut conn = model::ConnState::default();
        let keys = [b"a".to_vec(), b"b".to_vec()];
        for i in 0..2_000 {
            let key = keys.choose(&mut rng).expect("keys").clone();
            let argv = draw_command(&mut rng, key);
            let reply = model.apply(&mut conn, &argv, 1_700_000_000_000 + i);
            if let model::Resp::Error(text) = &reply {
                assert!(text.starts_with("WRONGTYPE"), "{argv:?}: {text}");
            }
        }
    }
}
