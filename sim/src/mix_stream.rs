//! The stream family's share of the workload: appends with explicit IDs (`*` IDs follow the
//! server's clock to the millisecond, which a history does not pin), ranges, deletes, exact
//! trims, and consumer groups: XGROUP CREATE, XREADGROUP of new entries and of a consumer's
//! history, XACK, XCLAIM and XPENDING's summary. Few IDs, groups and consumers, so entries are
//! delivered, claimed, acknowledged and deleted under each other often.
//!
//! Through the model, the checker holds the consumer-group properties: an entry is delivered as
//! new to one consumer of a group once, and a delivered entry stays pending (owned by one
//! consumer) until acknowledged or claimed. Streams come from their own random stream
//! (`config::OWN_STREAM_FAMILIES`), so seeds that drew none generate what they did before.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::mix::{line, pick};

const GROUPS: &[&str] = &["g1", "g2"];
const CONSUMERS: &[&str] = &["c1", "c2", "c3"];
const FIELDS: &[&str] = &["f", "g"];
const VALUES: &[&str] = &["a", "b", "1", ""];

fn id(rng: &mut ChaCha8Rng) -> Vec<u8> {
    format!("{}-{}", rng.gen_range(1..=12), rng.gen_range(0..=2)).into_bytes()
}

fn ids(rng: &mut ChaCha8Rng) -> Vec<Vec<u8>> {
    (0..rng.gen_range(1..=3)).map(|_| id(rng)).collect()
}

fn trim(rng: &mut ChaCha8Rng) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    if rng.gen_bool(0.5) {
        args.push(b"MAXLEN".to_vec());
        if rng.gen_bool(0.3) {
            args.push(b"=".to_vec());
        }
        args.push(rng.gen_range(0..=4).to_string().into_bytes());
    } else {
        args.push(b"MINID".to_vec());
        args.push(id(rng));
    }
    args
}

/// One random stream command on `key`.
pub fn stream_command(rng: &mut ChaCha8Rng, key: Vec<u8>) -> Vec<Vec<u8>> {
    match rng.gen_range(0..30) {
        0..=7 => {
            let mut args = vec![key];
            if rng.gen_ratio(1, 6) {
                args.extend(trim(rng));
            }
            args.push(if rng.gen_bool(0.3) {
                format!("{}-*", rng.gen_range(1..=12)).into_bytes()
            } else {
                id(rng)
            });
            for _ in 0..rng.gen_range(1..=2) {
                args.extend([pick(rng, FIELDS), pick(rng, VALUES)]);
            }
            line("XADD", args)
        }
        8 => line("XLEN", [key]),
        9..=10 => {
            let mut args = vec![key, b"-".to_vec(), b"+".to_vec()];
            if rng.gen_bool(0.5) {
                args.extend([
                    b"COUNT".to_vec(),
                    rng.gen_range(0..=3).to_string().into_bytes(),
                ]);
            }
            line(
                if rng.gen_bool(0.5) {
                    "XRANGE"
                } else {
                    "XREVRANGE"
                },
                args,
            )
        }
        11..=12 => line("XDEL", std::iter::once(key).chain(ids(rng))),
        13 => line("XTRIM", std::iter::once(key).chain(trim(rng))),
        14..=15 => {
            let start = pick(rng, &["0", "$", "3-0"]);
            let mut args = vec![b"CREATE".to_vec(), key, pick(rng, GROUPS), start];
            if rng.gen_bool(0.5) {
                args.push(b"MKSTREAM".to_vec());
            }
            line("XGROUP", args)
        }
        16..=22 => {
            let mut args = vec![b"GROUP".to_vec(), pick(rng, GROUPS), pick(rng, CONSUMERS)];
            if rng.gen_bool(0.5) {
                args.extend([
                    b"COUNT".to_vec(),
                    rng.gen_range(1..=3).to_string().into_bytes(),
                ]);
            }
            if rng.gen_ratio(1, 8) {
                args.push(b"NOACK".to_vec());
            }
            let from = if rng.gen_ratio(1, 4) { "0" } else { ">" };
            args.extend([b"STREAMS".to_vec(), key, from.as_bytes().to_vec()]);
            line("XREADGROUP", args)
        }
        23..=25 => line("XACK", [key, pick(rng, GROUPS)].into_iter().chain(ids(rng))),
        26..=27 => {
            let mut args = vec![key, pick(rng, GROUPS), pick(rng, CONSUMERS), b"0".to_vec()];
            args.extend(ids(rng));
            if rng.gen_bool(0.5) {
                args.push(b"JUSTID".to_vec());
            }
            line("XCLAIM", args)
        }
        _ => line("XPENDING", [key, pick(rng, GROUPS)]),
    }
}

/// A short session on `key` that makes a group deliver: sometimes a fresh start (DEL), an
/// append, a group from the start (MKSTREAM), two consumers reading new entries one at a time,
/// then an acknowledgement. Keys are shared with the other families, so without sessions
/// groups would rarely meet a stream with entries.
pub fn stream_session(rng: &mut ChaCha8Rng, key: Vec<u8>) -> Vec<Vec<Vec<u8>>> {
    let group = pick(rng, GROUPS);
    let mut script = Vec::new();
    if rng.gen_bool(0.5) {
        script.push(line("DEL", [key.clone()]));
    }
    for _ in 0..rng.gen_range(1..=2) {
        let id = format!("{}-*", rng.gen_range(1..=12)).into_bytes();
        script.push(line(
            "XADD",
            [key.clone(), id, pick(rng, FIELDS), pick(rng, VALUES)],
        ));
    }
    script.push(line(
        "XGROUP",
        [
            b"CREATE".to_vec(),
            key.clone(),
            group.clone(),
            b"0".to_vec(),
            b"MKSTREAM".to_vec(),
        ],
    ));
    for _ in 0..2 {
        script.push(line(
            "XREADGROUP",
            [
                b"GROUP".to_vec(),
                group.clone(),
                pick(rng, CONSUMERS),
                b"COUNT".to_vec(),
                b"1".to_vec(),
                b"STREAMS".to_vec(),
                key.clone(),
                b">".to_vec(),
            ],
        ));
    }
    script.push(line("XACK", [key, group].into_iter().chain(ids(rng))));
    script
}

#[cfg(test)]
mod tests {
    use rand_core::SeedableRng;

    use super::*;

    #[test]
    fn stream_commands_cover_the_family() {
        let (names, _) = crate::mix::coverage(14, 3000, |rng, key, _| stream_command(rng, key));
        assert_eq!(names.len(), 11, "{names:?}");
    }

    /// The model knows every drawn command: the only errors are the ones a random mix meets
    /// (an ID not above the top, a group that exists or not, a key of another type is never
    /// drawn here).
    #[test]
    fn every_drawn_command_is_modelled() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut model = model::Model::default();
        let mut conn = model::ConnState::new(false);
        let mut delivered = 0;
        for i in 0..5000u64 {
            let argv = stream_command(&mut rng, b"s".to_vec());
            let reply = model.apply(&mut conn, &argv, 1_700_000_000_000 + i);
            if let model::Resp::Error(text) = &reply {
                let expected = text.contains("equal or smaller than the target stream top")
                    || text.starts_with("NOGROUP")
                    || text.starts_with("BUSYGROUP")
                    || text.contains("requires the key to exist");
                assert!(expected, "{argv:?}: {text}");
            }
            if argv[0] == b"XREADGROUP" && matches!(reply, model::Resp::Array(_)) {
                delivered += 1;
            }
        }
        assert!(delivered > 100, "{delivered} reads delivered entries");
    }
}
