//! Stream queue runs: consumer groups and blocked readers under the simulator. Producers XADD
//! entries with unique values (`e<client>.<n>`) to a few streams, some sharing a hashtag and
//! some spread over shards; consumers create the group `g` on every stream (first come wins,
//! the rest answer BUSYGROUP), then read with XREADGROUP `>` (mostly with BLOCK, short
//! timeouts, over one to three streams), now and then XREAD BLOCK `$` or XLEN.
//!
//! The check is what a job queue on streams lives by: every entry is delivered to the group as
//! new at most once, whatever reader got it; nothing is made up (every value read was added by
//! an XADD); and every entry whose XADD was acknowledged was delivered or still lies past the
//! group's last-delivered ID at the end. The only slack is a read that went unanswered because
//! its client left: it may have been served as it left, so it may account for what it could
//! have taken. Waiters are served in the order they blocked (`queue::check_order`).
//!
//! Like list queue runs, this is a mode of its own (`SimConfig::stream_queue_from_seed`,
//! `run_stream_queue_seed`): no other seed changes.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use damselfly_core::db::stream::StreamId;
use damselfly_core::db::{Collection, ValueRef};
use model::Resp;

use crate::check::parse_reply;
use crate::mix::line;
use crate::world::{printable, World};

/// The streams: two share a hashtag (one shard), the rest spread.
pub const STREAM_KEYS: &[&str] = &["s1", "s2", "s3", "{j}a", "{j}b"];
const GROUP: &str = "g";
const BLOCK_MS: &[&str] = &["10", "20", "50", "100", "300"];
/// The most entries one read takes per stream (its COUNT).
const COUNT_MAX: usize = 3;

/// One to three distinct streams.
fn keys(rng: &mut ChaCha8Rng) -> Vec<Vec<u8>> {
    let n = rng.gen_range(1..=3);
    STREAM_KEYS
        .choose_multiple(rng, n)
        .map(|k| k.as_bytes().to_vec())
        .collect()
}

/// The next command of `client`; `sent` counts a producer's entries, or a consumer's commands
/// (its first ones create the group on each stream).
pub fn command(
    rng: &mut ChaCha8Rng,
    client: usize,
    producer: bool,
    sent: &mut u64,
) -> Vec<Vec<u8>> {
    *sent += 1;
    if producer {
        let key = STREAM_KEYS.choose(rng).expect("keys").as_bytes().to_vec();
        let value = format!("e{client}.{sent}").into_bytes();
        return line("XADD", [key, b"*".to_vec(), b"v".to_vec(), value]);
    }
    if let Some(key) = STREAM_KEYS.get(*sent as usize - 1) {
        let args = [key.as_bytes(), GROUP.as_bytes(), b"0", b"MKSTREAM"];
        return line(
            "XGROUP",
            std::iter::once(b"CREATE".to_vec()).chain(args.map(<[u8]>::to_vec)),
        );
    }
    let keys = keys(rng);
    let count = rng.gen_range(1..=COUNT_MAX).to_string().into_bytes();
    let block = BLOCK_MS.choose(rng).expect("timeouts").as_bytes().to_vec();
    let mut args: Vec<Vec<u8>> = Vec::new();
    let name = match rng.gen_range(0..10) {
        0..=6 => {
            let consumer = format!("c{client}").into_bytes();
            args.extend([b"GROUP".to_vec(), GROUP.as_bytes().to_vec(), consumer]);
            args.extend([b"COUNT".to_vec(), count, b"BLOCK".to_vec(), block]);
            if rng.gen_bool(0.2) {
                args.push(b"NOACK".to_vec());
            }
            args.push(b"STREAMS".to_vec());
            let n = keys.len();
            args.extend(keys);
            args.extend(std::iter::repeat_n(b">".to_vec(), n));
            "XREADGROUP"
        }
        7..=8 => {
            args.extend([b"COUNT".to_vec(), count, b"BLOCK".to_vec(), block]);
            args.push(b"STREAMS".to_vec());
            let n = keys.len();
            args.extend(keys);
            args.extend(std::iter::repeat_n(b"$".to_vec(), n));
            "XREAD"
        }
        _ => return line("XLEN", [keys[0].clone()]),
    };
    line(name, args)
}

fn name_is(argv: &[Vec<u8>], name: &str) -> bool {
    argv[0].eq_ignore_ascii_case(name.as_bytes())
}

/// The values a read's reply hands out, per stream.
fn values_read(argv: &[Vec<u8>], reply: &Resp) -> Result<Vec<Vec<u8>>, String> {
    let shape = || format!("{}: unexpected reply {reply:?}", printable(argv));
    let streams: Vec<&Resp> = match reply {
        Resp::NilArray | Resp::Nil => return Ok(Vec::new()),
        Resp::Array(pairs) => {
            let mut out = Vec::new();
            for pair in pairs {
                match pair {
                    Resp::Array(kv) if kv.len() == 2 => out.push(&kv[1]),
                    _ => return Err(shape()),
                }
            }
            out
        }
        Resp::Map(pairs) => pairs.iter().map(|(_, v)| v).collect(),
        _ => return Err(shape()),
    };
    let mut values = Vec::new();
    for entries in streams {
        let Resp::Array(entries) = entries else {
            return Err(shape());
        };
        for entry in entries {
            match entry {
                Resp::Array(parts) => match &parts[..] {
                    [_, Resp::Array(fields)] => match &fields[..] {
                        [_, Resp::Bulk(value)] => values.push(value.clone()),
                        _ => return Err(shape()),
                    },
                    _ => return Err(shape()),
                },
                _ => return Err(shape()),
            }
        }
    }
    Ok(values)
}

/// The values still past the group's last-delivered ID, read from the shards that own them.
fn undelivered(world: &World) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for key in STREAM_KEYS {
        let Some(ValueRef::Coll(Collection::Stream(s))) = crate::queue::stored(world, key) else {
            continue;
        };
        let after = s
            .group(GROUP.as_bytes())
            .map_or(StreamId::MIN, |g| g.last_id);
        let Some(start) = after.next() else {
            continue;
        };
        s.log().range(start, StreamId::MAX, false, |e| {
            if let Some((_, value)) = e.pairs().first() {
                out.push(value.to_vec());
            }
            true
        });
    }
    out
}

/// Errors a read may meet legitimately: the group not created yet, or created by another.
fn expected_error(err: &str) -> bool {
    err.starts_with("BUSYGROUP") || err.starts_with("NOGROUP No such key")
}

/// Delivery at most once, nothing made up, nothing lost (see the module doc).
pub fn check(world: &World) -> Result<(), String> {
    // Readers of one group on a key are served in the order they blocked: all of them
    // wait for the same entries. XREAD readers each wait past their own ID.
    crate::queue::check_order(world, |command| command == "xreadgroup")?;
    let mut acknowledged: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
    for op in &world.history {
        if name_is(&op.argv, "XADD") {
            let acked = op.reply.as_deref().is_some_and(|r| r.starts_with(b"$"));
            *acknowledged.entry(op.argv[4].clone()).or_insert(false) |= acked;
        }
    }
    let mut delivered: BTreeMap<Vec<u8>, String> = BTreeMap::new();
    let mut unanswered_slots = 0;
    for op in &world.history {
        let argv = &op.argv;
        let group_read = name_is(argv, "XREADGROUP");
        if !group_read && !name_is(argv, "XREAD") {
            continue;
        }
        let Some(bytes) = &op.reply else {
            if group_read {
                unanswered_slots += COUNT_MAX * 3;
            }
            continue;
        };
        let reply = parse_reply(bytes)?;
        if let Resp::Error(err) = &reply {
            if expected_error(err) {
                continue;
            }
            return Err(format!("{}: error {err}", printable(argv)));
        }
        for value in values_read(argv, &reply)? {
            if !acknowledged.contains_key(&value) {
                return Err(format!(
                    "{} answered {:?}, which nobody added",
                    printable(argv),
                    String::from_utf8_lossy(&value)
                ));
            }
            if !group_read {
                continue;
            }
            if let Some(first) = delivered.insert(value.clone(), printable(argv)) {
                return Err(format!(
                    "entry {:?} delivered to the group as new twice: to {first} and to {}",
                    String::from_utf8_lossy(&value),
                    printable(argv)
                ));
            }
        }
    }
    for value in undelivered(world) {
        if let Some(by) = delivered.get(&value) {
            return Err(format!(
                "entry {:?} delivered to {by} yet still past the group's last ID",
                String::from_utf8_lossy(&value)
            ));
        }
        delivered.insert(value, "still undelivered".into());
    }
    let lost: Vec<String> = acknowledged
        .iter()
        .filter(|(value, acked)| **acked && !delivered.contains_key(*value))
        .map(|(value, _)| String::from_utf8_lossy(value).into_owned())
        .collect();
    if lost.len() > unanswered_slots {
        return Err(format!(
            "entries lost: {lost:?} ({unanswered_slots} reads went unanswered, which might \
             account for that many)"
        ));
    }
    Ok(())
}
