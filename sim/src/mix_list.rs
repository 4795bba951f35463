//! The list family's share of the workload: one random list command on a key, with other keys
//! for the commands that take several (RPOPLPUSH, LMOVE, LMPOP), and now and then a short
//! MULTI/EXEC of moves between two lists, on different shards when the seed spreads keys.
//!
//! Elements are few (`a`..`d` and small integers) so LREM, LPOS and LINSERT find them and
//! lists empty and refill often. Only the blocking commands are left out (the model has none).
//! Lists are drawn from their own stream (`config::OWN_STREAM_FAMILIES`), so seeds that drew
//! no lists generate what they did before lists existed.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::mix::{line, other, pick};

const ELEMENTS: &[&str] = &["a", "b", "c", "d", "1", "-2", ""];
const INDEXES: &[&str] = &["0", "1", "-1", "-2", "2", "3", "-5", "10"];
const ENDS: &[&str] = &["LEFT", "RIGHT"];

fn elems(rng: &mut ChaCha8Rng, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|_| pick(rng, ELEMENTS)).collect()
}

/// One random list command on `key`.
pub fn list_command(rng: &mut ChaCha8Rng, key: Vec<u8>, other_keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
    match rng.gen_range(0..24) {
        0..=5 => {
            let name = *["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]
                .choose(rng)
                .expect("names");
            let n = rng.gen_range(1..4);
            line(name, std::iter::once(key).chain(elems(rng, n)))
        }
        6..=8 => {
            let name = *["LPOP", "RPOP"].choose(rng).expect("names");
            if rng.gen_bool(0.5) {
                line(name, [key])
            } else {
                line(name, [key, rng.gen_range(0..4).to_string().into_bytes()])
            }
        }
        9 => line("LLEN", [key]),
        10 => line("LINDEX", [key, pick(rng, INDEXES)]),
        11..=12 => line("LRANGE", [key, pick(rng, INDEXES), pick(rng, INDEXES)]),
        13 => line("LTRIM", [key, pick(rng, INDEXES), pick(rng, INDEXES)]),
        14 => {
            let before_after = pick(rng, &["BEFORE", "AFTER"]);
            line(
                "LINSERT",
                [key, before_after, pick(rng, ELEMENTS), pick(rng, ELEMENTS)],
            )
        }
        15 => line("LSET", [key, pick(rng, INDEXES), pick(rng, ELEMENTS)]),
        16 => line(
            "LREM",
            [key, pick(rng, &["0", "1", "-1", "2"]), pick(rng, ELEMENTS)],
        ),
        17 => {
            let mut args = vec![key, pick(rng, ELEMENTS)];
            if rng.gen_bool(0.5) {
                args.extend([b"RANK".to_vec(), pick(rng, &["1", "2", "-1", "-2"])]);
            }
            if rng.gen_bool(0.5) {
                args.extend([b"COUNT".to_vec(), pick(rng, &["0", "1", "2"])]);
            }
            line("LPOS", args)
        }
        18..=19 => {
            let dst = other(rng, &key, other_keys);
            line("RPOPLPUSH", [key, dst])
        }
        20..=21 => {
            let dst = other(rng, &key, other_keys);
            line("LMOVE", [key, dst, pick(rng, ENDS), pick(rng, ENDS)])
        }
        _ => {
            let second = other(rng, &key, other_keys);
            let mut args = vec![b"2".to_vec(), key, second, pick(rng, ENDS)];
            if rng.gen_bool(0.5) {
                args.extend([
                    b"COUNT".to_vec(),
                    rng.gen_range(1..4).to_string().into_bytes(),
                ]);
            }
            line("LMPOP", args)
        }
    }
}

/// MULTI, moves between `key` and another list back and forth, EXEC: a transaction whose
/// writes span two shards when the keys do.
pub fn list_transaction(
    rng: &mut ChaCha8Rng,
    key: Vec<u8>,
    other_keys: &[Vec<u8>],
) -> Vec<Vec<Vec<u8>>> {
    let dst = other(rng, &key, other_keys);
    let mut script = vec![
        line("MULTI", []),
        line("RPUSH", [key.clone(), pick(rng, ELEMENTS)]),
    ];
    for _ in 0..rng.gen_range(1..=3) {
        let (from, to) = if rng.gen_bool(0.5) {
            (key.clone(), dst.clone())
        } else {
            (dst.clone(), key.clone())
        };
        script.push(if rng.gen_bool(0.5) {
            line("RPOPLPUSH", [from, to])
        } else {
            line("LMOVE", [from, to, pick(rng, ENDS), pick(rng, ENDS)])
        });
    }
    script.push(line("LRANGE", [dst, b"0".to_vec(), b"-1".to_vec()]));
    script.push(line("EXEC", []));
    script
}

#[cfg(test)]
mod tests {
    use rand_core::SeedableRng;

    use super::*;

    #[test]
    fn list_commands_cover_the_family_and_use_other_keys() {
        let (names, used_other) = crate::mix::coverage(12, 3000, list_command);
        assert!(used_other);
        assert_eq!(names.len(), 17, "{names:?}");
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let script = list_transaction(&mut rng, b"a".to_vec(), &[b"b".to_vec()]);
        assert_eq!(script.first(), Some(&line("MULTI", [])));
        assert_eq!(script.last(), Some(&line("EXEC", [])));
    }

    /// The model knows every drawn command, and only LSET past the ends (or on a missing
    /// list) is refused: no generated line is a syntax or arity error.
    #[test]
    fn every_drawn_command_is_modelled() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mut model = model::Model::default();
        let mut conn = model::ConnState::new(false);
        let others = vec![b"b".to_vec()];
        for i in 0..3000u64 {
            let mut lines = vec![list_command(&mut rng, b"a".to_vec(), &others)];
            if i.is_multiple_of(50) {
                lines = list_transaction(&mut rng, b"a".to_vec(), &others);
            }
            for argv in lines {
                let reply = model.apply(&mut conn, &argv, 1_700_000_000_000 + i);
                if let model::Resp::Error(text) = &reply {
                    let lset = text == "ERR index out of range" || text == "ERR no such key";
                    assert!(lset, "{argv:?}: {text}");
                }
            }
        }
    }
}
