//! Queue runs: the blocking list commands under the simulator. Producers push unique elements
//! (`e<client>.<n>`) onto a few lists, some sharing a hashtag and some spread over shards;
//! consumers take them with BLPOP, BRPOP, BLMPOP, BLMOVE and BRPOPLPUSH (short timeouts, so
//! waits end by timeouts as well as by pushes), and now and then LPOP or LMOVE.
//!
//! The check is conservation, the property a job queue lives by: after the run, every element
//! whose push was acknowledged was taken by exactly one answered pop or is still in exactly one
//! list. An element is never answered twice, never lost and never made up. The only slack is a
//! client that went away with a pop unanswered: Redis may have served it as it left (the serve
//! comes first), so each such pop may account for the elements it could have taken.
//!
//! Order: each shard logs its waiters (blocked, served from a key, withdrawn), and every serve
//! must go to the first still-waiting client that blocked on that key, as Redis serves them.
//!
//! The linearizability model has no blocking commands, so queue runs are a separate mode
//! (`SimConfig::queue_from_seed`, `run_queue_seed`) and existing seeds are unchanged.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use damselfly_core::db::{Collection, ValueRef};
use damselfly_core::node::blocking::{WaiterEvent, WaiterId};
use damselfly_core::node::shard_of;
use model::Resp;

use crate::check::parse_reply;
use crate::mix::line;
use crate::world::{printable, World};

/// The lists: two share a hashtag (one shard), the rest spread.
pub const QUEUE_KEYS: &[&str] = &["q1", "q2", "q3", "{j}a", "{j}b"];
const TIMEOUTS: &[&str] = &["0.01", "0.02", "0.05", "0.1", "0.3"];
const ENDS: &[&str] = &["LEFT", "RIGHT"];
/// The most elements one BLMPOP may take (its COUNT).
const MPOP_COUNT_MAX: usize = 3;

fn key(rng: &mut ChaCha8Rng) -> Vec<u8> {
    QUEUE_KEYS.choose(rng).expect("keys").as_bytes().to_vec()
}

fn word(rng: &mut ChaCha8Rng, words: &[&str]) -> Vec<u8> {
    words.choose(rng).expect("words").as_bytes().to_vec()
}

/// The next command of `client`; a producer's `pushed` counts its elements.
pub fn command(
    rng: &mut ChaCha8Rng,
    client: usize,
    producer: bool,
    pushed: &mut u64,
) -> Vec<Vec<u8>> {
    if producer {
        let name = *["LPUSH", "RPUSH"].choose(rng).expect("names");
        let n = rng.gen_range(1..=2);
        let elems: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                *pushed += 1;
                format!("e{client}.{pushed}").into_bytes()
            })
            .collect();
        return line(name, std::iter::once(key(rng)).chain(elems));
    }
    let timeout = word(rng, TIMEOUTS);
    match rng.gen_range(0..12) {
        0..=3 => {
            let name = *["BLPOP", "BRPOP"].choose(rng).expect("names");
            let n = rng.gen_range(1..=3);
            let keys = (0..n).map(|_| key(rng));
            line(name, keys.chain([timeout]))
        }
        4..=5 => line(
            "BLMOVE",
            [
                key(rng),
                key(rng),
                word(rng, ENDS),
                word(rng, ENDS),
                timeout,
            ],
        ),
        6 => line("BRPOPLPUSH", [key(rng), key(rng), timeout]),
        7..=8 => {
            let n = rng.gen_range(1..=3);
            let mut args = vec![timeout, n.to_string().into_bytes()];
            args.extend((0..n).map(|_| key(rng)));
            args.push(word(rng, ENDS));
            if rng.gen_bool(0.5) {
                args.push(b"COUNT".to_vec());
                let count = rng.gen_range(1..=MPOP_COUNT_MAX);
                args.push(count.to_string().into_bytes());
            }
            line("BLMPOP", args)
        }
        9 => line(["LPOP", "RPOP"].choose(rng).expect("names"), [key(rng)]),
        10 => line(
            "LMOVE",
            [key(rng), key(rng), word(rng, ENDS), word(rng, ENDS)],
        ),
        _ => line("LLEN", [key(rng)]),
    }
}

fn name_is(argv: &[Vec<u8>], name: &str) -> bool {
    argv[0].eq_ignore_ascii_case(name.as_bytes())
}

fn bulk(resp: &Resp) -> Option<Vec<u8>> {
    match resp {
        Resp::Bulk(b) => Some(b.clone()),
        _ => None,
    }
}

/// The elements a pop's reply hands out (moves excluded: they stay in the keyspace).
fn taken(argv: &[Vec<u8>], reply: &Resp) -> Result<Vec<Vec<u8>>, String> {
    let shape = || format!("{}: unexpected reply {reply:?}", printable(argv));
    Ok(match reply {
        Resp::Nil | Resp::NilArray => Vec::new(),
        Resp::Bulk(elem) => vec![elem.clone()],
        Resp::Array(items) if name_is(argv, "BLMPOP") => match &items[..] {
            [_, Resp::Array(elems)] => elems.iter().filter_map(bulk).collect(),
            _ => return Err(shape()),
        },
        Resp::Array(items) => match &items[..] {
            [_, Resp::Bulk(elem)] => vec![elem.clone()],
            _ => return Err(shape()),
        },
        _ => return Err(shape()),
    })
}

/// The value under `key` in database 0, read from the shard that owns it.
pub(crate) fn stored<'w>(world: &'w World, key: &str) -> Option<ValueRef<'w>> {
    let owner = shard_of(key.as_bytes(), world.config.threads);
    let node = &world.nodes()[owner.0 as usize];
    node.shard()
        .db_ref(0)
        .iter()
        .find(|e| e.key() == key.as_bytes())
        .map(|e| e.value())
}

/// The elements still queued, per list, read from the shards that own them.
fn remaining(world: &World) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for key in QUEUE_KEYS {
        let Some(value) = stored(world, key) else {
            continue;
        };
        if let ValueRef::Coll(Collection::List(list)) = value {
            out.extend(list.iter().map(<[u8]>::to_vec));
        }
    }
    out
}

/// First-blocked first-served, from each shard's waiter log, among the waiters in commands
/// `ordered` accepts (a serve that takes nothing, XREAD's, may pass over earlier waiters that
/// the key holds nothing for, and so may a group's reader whose group got everything already).
pub(crate) fn check_order(world: &World, ordered: impl Fn(&str) -> bool) -> Result<(), String> {
    for node in world.nodes() {
        let mut queues: BTreeMap<(u16, Vec<u8>), Vec<WaiterId>> = BTreeMap::new();
        let mut keys_of: BTreeMap<WaiterId, (u16, Vec<Vec<u8>>)> = BTreeMap::new();
        for event in node.waiter_log() {
            match event {
                WaiterEvent::Blocked {
                    id,
                    command,
                    db,
                    keys,
                } => {
                    if !ordered(command) {
                        continue;
                    }
                    for key in keys {
                        queues.entry((*db, key.clone())).or_default().push(*id);
                    }
                    keys_of.insert(*id, (*db, keys.clone()));
                }
                WaiterEvent::Served { id, key } => {
                    let Some((db, _)) = keys_of.get(id) else {
                        continue; // not ordered
                    };
                    let first = queues.get(&(*db, key.clone())).and_then(|q| q.first());
                    if first != Some(id) {
                        return Err(format!(
                            "thread {}: key {:?} served {id:?} before {first:?}, which blocked \
                             on it earlier",
                            node.thread().0,
                            String::from_utf8_lossy(key)
                        ));
                    }
                }
                WaiterEvent::Withdrawn { .. } => {}
            }
            if let WaiterEvent::Served { id, .. } | WaiterEvent::Withdrawn { id } = event {
                if let Some((db, keys)) = keys_of.remove(id) {
                    for key in keys {
                        if let Some(q) = queues.get_mut(&(db, key)) {
                            q.retain(|w| w != id);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Conservation and order over a finished queue run (see the module doc).
pub fn check(world: &World) -> Result<(), String> {
    check_order(world, |_| true)?;
    let mut acknowledged: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
    let mut seen: BTreeMap<Vec<u8>, Vec<String>> = BTreeMap::new();
    let mut unanswered_slots = 0;
    // Pushes first: a pop sent before the push that fed it comes first in the history.
    for op in &world.history {
        let argv = &op.argv;
        if name_is(argv, "LPUSH") || name_is(argv, "RPUSH") {
            for elem in &argv[2..] {
                let acked = op.reply.as_deref().is_some_and(|r| r.starts_with(b":"));
                *acknowledged.entry(elem.clone()).or_insert(false) |= acked;
            }
        }
    }
    for op in &world.history {
        let argv = &op.argv;
        let is_push = name_is(argv, "LPUSH") || name_is(argv, "RPUSH");
        let Some(bytes) = &op.reply else {
            if is_push {
                continue;
            } else if name_is(argv, "BLMPOP") {
                unanswered_slots += MPOP_COUNT_MAX;
            } else if !name_is(argv, "LLEN") {
                unanswered_slots += 1;
            }
            continue;
        };
        let reply = parse_reply(bytes)?;
        if let Resp::Error(err) = &reply {
            return Err(format!("{}: error {err}", printable(argv)));
        }
        if is_push || name_is(argv, "LLEN") {
            continue;
        }
        let moves = ["BLMOVE", "BRPOPLPUSH", "LMOVE"]
            .iter()
            .any(|n| name_is(argv, n));
        for elem in taken(argv, &reply)? {
            if !acknowledged.contains_key(&elem) {
                return Err(format!(
                    "{} answered {:?}, which nobody pushed before",
                    printable(argv),
                    String::from_utf8_lossy(&elem)
                ));
            }
            if !moves {
                seen.entry(elem)
                    .or_default()
                    .push(format!("taken by {}", printable(argv)));
            }
        }
    }
    for elem in remaining(world) {
        seen.entry(elem).or_default().push("still queued".into());
    }
    for (elem, places) in &seen {
        if places.len() > 1 {
            return Err(format!(
                "element {:?} delivered more than once: {places:?}",
                String::from_utf8_lossy(elem)
            ));
        }
    }
    let lost: Vec<String> = acknowledged
        .iter()
        .filter(|(elem, acked)| **acked && !seen.contains_key(*elem))
        .map(|(elem, _)| String::from_utf8_lossy(elem).into_owned())
        .collect();
    if lost.len() > unanswered_slots {
        return Err(format!(
            "elements lost: {lost:?} ({unanswered_slots} pops went unanswered, which might \
             account for that many)"
        ));
    }
    Ok(())
}
