//! Hash traffic for the workload: one random hash command over a given key, with fields drawn
//! from a small space (f0..f4) so that writes and reads of one field collide.
//!
//! Only commands the model implements: HRANDFIELD and HSCAN are left out (their replies depend
//! on a random draw or on table order, which the model does not have). Values follow
//! `workload`'s mix, with some past `hash-max-listpack-value` (64 bytes) so hashes convert.
//! Not wired into `workload` yet.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Fields in play.
const FIELDS_MAX: u32 = 5;
/// Longest value drawn: past hash-max-listpack-value (64) so some hashes become hashtables.
const VALUE_LEN_MAX_BYTES: usize = 70;

fn field(rng: &mut ChaCha8Rng) -> Vec<u8> {
    format!("f{}", rng.gen_range(0..FIELDS_MAX)).into_bytes()
}

/// A value as `workload`'s: small integers, empty, short words, runs of x.
fn value(rng: &mut ChaCha8Rng) -> Vec<u8> {
    match rng.gen_range(0..4) {
        0 => rng.gen_range(-5i64..100).to_string().into_bytes(),
        1 => b"".to_vec(),
        2 => format!("v{}", rng.gen_range(0..10)).into_bytes(),
        _ => vec![b'x'; rng.gen_range(1..=VALUE_LEN_MAX_BYTES)],
    }
}

fn word(w: &str) -> Vec<u8> {
    w.as_bytes().to_vec()
}

/// One hash command on `key`, as arguments.
pub fn hash_command(rng: &mut ChaCha8Rng, key: Vec<u8>) -> Vec<Vec<u8>> {
    let mut argv = Vec::with_capacity(8);
    match rng.gen_range(0..14) {
        0..=2 => {
            argv.extend([word("HSET"), key]);
            for _ in 0..rng.gen_range(1..=3) {
                argv.extend([field(rng), value(rng)]);
            }
        }
        3 => argv.extend([word("HMSET"), key, field(rng), value(rng)]),
        4 => argv.extend([word("HSETNX"), key, field(rng), value(rng)]),
        5 | 6 => argv.extend([word("HGET"), key, field(rng)]),
        7 => argv.extend([word("HMGET"), key, field(rng), field(rng)]),
        8 => {
            argv.extend([word("HDEL"), key]);
            for _ in 0..rng.gen_range(1..=2) {
                argv.push(field(rng));
            }
        }
        9 => {
            let name = ["HLEN", "HKEYS", "HVALS", "HGETALL"][rng.gen_range(0..4)];
            argv.extend([word(name), key]);
        }
        10 => {
            let name = ["HSTRLEN", "HEXISTS"][rng.gen_range(0..2)];
            argv.extend([word(name), key, field(rng)]);
        }
        11 | 12 => {
            let by = rng.gen_range(-3i64..10).to_string().into_bytes();
            argv.extend([word("HINCRBY"), key, field(rng), by]);
        }
        _ => {
            let by = ["0.5", "-1.25", "3", "1e3"][rng.gen_range(0..4)];
            argv.extend([word("HINCRBYFLOAT"), key, field(rng), word(by)]);
        }
    }
    argv
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    /// Every command the mix draws is one the model runs, and runs without a protocol error.
    #[test]
    fn every_drawn_command_is_modelled() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut model = model::Model::default();
        let mut conn = model::ConnState::new(false);
        let mut names = std::collections::BTreeSet::new();
        for i in 0..2000u64 {
            let argv = hash_command(&mut rng, b"h".to_vec());
            names.insert(String::from_utf8(argv[0].clone()).expect("ascii name"));
            let reply = model.apply(&mut conn, &argv, 1_700_000_000_000 + i);
            if let model::Resp::Error(text) = &reply {
                assert!(
                    text.starts_with("ERR hash value") || text.starts_with("ERR increment"),
                    "{argv:?}: {text}"
                );
            }
        }
        assert_eq!(names.len(), 14, "{names:?}");
    }
}
