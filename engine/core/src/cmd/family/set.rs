//! Sets: Redis 7.0's set family (SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP,
//! SRANDMEMBER, SMOVE, SINTER, SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE,
//! SSCAN), written against `db::SetValue` through the typed lookup and write paths of
//! `access.rs`.
//!
//! Encodings follow Redis's setTypeCreate: a set created by SADD or SMOVE starts as an intset
//! when its first member is an integer; the STORE commands build their result into an intset
//! (createIntsetObject), so it stays one while every member is an integer and there are few.
//!
//! Multi-key commands (SMOVE, SINTER*, SUNION*, SDIFF*) run on gathered copies of all their
//! keys (`Merge::Gather`), so across shards they read and write as one step. The algebra reads
//! owned snapshots of its sources (`SetValue` clones): the lookup path lends one set at a time.
//!
//! Quirks of redis-server 7.0 we keep, each checked against it:
//! - SINTER, SUNION, SDIFF and their STORE forms check every key's type, so a wrong-typed key
//!   answers WRONGTYPE even after a missing one (an intersection with a missing set is empty,
//!   but the check runs first).
//! - The STORE forms overwrite a key of any type and its TTL; an empty result deletes it and
//!   answers 0.
//! - SMOVE answers 0 for a missing source before it checks the destination's type; with
//!   source == destination it answers whether the member is there and changes nothing.
//! - SPOP with a count answers a set (RESP3 `~`) and deletes the key when it takes all;
//!   SRANDMEMBER with a count answers an array, repeats allowed for a negative count. Both parse
//!   the count before looking at the key (so a bad count beats WRONGTYPE).
//! - SINTERCARD parses numkeys and LIMIT before any lookup; LIMIT 0 is no limit and LIMIT may
//!   repeat, the last winning. Any non-integer LIMIT is "LIMIT can't be negative".
//! - SSCAN parses its cursor, then looks the key up (a missing key answers an empty scan
//!   without reading the options), then parses MATCH/COUNT; TYPE is a syntax error. An intset
//!   is answered whole with cursor 0.
//!
//! Keyspace hits and misses: the read commands count them (lookupKeyRead); SADD, SREM, SPOP and
//! SMOVE look up for writing and count nothing, as Redis does. The STORE forms read their
//! sources through lookupKeyRead.
//!
//! One deliberate bound: SRANDMEMBER with a negative count would have Redis build a reply of
//! |count| members whatever the count (a huge one exhausts its memory); we refuse counts past
//! `RANDOM_REPEATS_MAX` with "value is out of range".

use std::collections::BTreeSet;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::access::ExecCx;
use crate::access::{Change, IfAbsent};
use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64, parse_scan_cursor, parse_scan_options, Args};
use crate::cmd::Family;
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, GatherDbs, KeySpec, Merge};
use crate::db::{Collection, Kind, Member, SetValue, Value};
use crate::env::Plant;
use crate::error::CmdError;
use crate::glob::glob_match;
use crate::reply::Reply;

/// SSCAN visits at most this many buckets per COUNT before answering (Redis's maxiterations).
const SCAN_BUCKETS_PER_COUNT: usize = 10;
/// SPOP with a count keeps `size - count` random members and pops the rest when count passes
/// size / this (Redis's SPOP_MOVE_STRATEGY_MUL); else it draws `count` members one by one.
const SPOP_MOVE_STRATEGY_MUL: usize = 5;
/// SRANDMEMBER with a positive count removes random members from a copy when count passes
/// size / this, else adds random members until it has `count` (SRANDMEMBER_SUB_STRATEGY_MUL).
const SRANDMEMBER_SUB_STRATEGY_MUL: usize = 3;
/// The most members SRANDMEMBER with a negative count answers (see the module doc).
const RANDOM_REPEATS_MAX: u64 = 1 << 24;

const SET: Family = Family {
    group: "set",
    acl: acl::SET,
};

const RO: &[KeySpec] = &[KeySpec::one(kf::RO, 1)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(kf::RO | kf::ACCESS, 1)];
const ALL_RO_ACCESS: &[KeySpec] = &[KeySpec::all_from(kf::RO | kf::ACCESS, 1, 1)];
const SINTERSTORE_KEYS: &[KeySpec] = &[
    KeySpec::one(kf::RW | kf::UPDATE, 1),
    KeySpec::all_from(kf::RO | kf::ACCESS, 2, 1),
];
const STORE_KEYS: &[KeySpec] = &[
    KeySpec::one(kf::OW | kf::UPDATE, 1),
    KeySpec::all_from(kf::RO | kf::ACCESS, 2, 1),
];
const GATHER: Merge = Merge::Gather(GatherDbs::Current);
const R_FAST: u32 = flag::READONLY | flag::FAST;
const W_FAST: u32 = flag::WRITE | flag::FAST;
const W_DENYOOM: u32 = flag::WRITE | flag::DENYOOM;
const INTER_COMPLEXITY: &str = "O(N*M) worst case where N is the cardinality of the smallest set \
    and M is the number of sets.";
const TOTAL_COMPLEXITY: &str = "O(N) where N is the total number of elements in all given sets.";

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    SET.keyed("sadd", -3, W_DENYOOM | flag::FAST, &[KeySpec::one(kf::RW | kf::INSERT, 1)], sadd,
        Merge::OneKey, SET.docs("Add one or more members to a set", "1.0.0", "O(1) for each element \
        added, so O(N) to add N elements when the command is called with multiple arguments.")),
    SET.keyed("srem", -3, W_FAST, &[KeySpec::one(kf::RW | kf::DELETE, 1)], srem, Merge::OneKey,
        SET.docs("Remove one or more members from a set", "1.0.0",
        "O(N) where N is the number of members to be removed.")),
    SET.keyed("smembers", 2, flag::READONLY, RO_ACCESS, smembers, Merge::OneKey,
        SET.docs("Get all the members in a set", "1.0.0", "O(N) where N is the set cardinality.")),
    SET.keyed("sismember", 3, R_FAST, RO, sismember, Merge::OneKey,
        SET.docs("Determine if a given value is a member of a set", "1.0.0", "O(1)")),
    SET.keyed("smismember", -3, R_FAST, RO_ACCESS, smismember, Merge::OneKey,
        SET.docs("Returns the membership associated with the given elements for a set", "6.2.0",
        "O(N) where N is the number of elements being checked for membership")),
    SET.keyed("scard", 2, R_FAST, RO, scard, Merge::OneKey,
        SET.docs("Get the number of members in a set", "1.0.0", "O(1)")),
    SET.keyed("spop", -2, W_FAST, &[KeySpec::one(kf::RW | kf::ACCESS | kf::DELETE, 1)], spop,
        Merge::OneKey, SET.docs("Remove and return one or multiple random members from a set",
        "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the \
        passed count.")),
    SET.keyed("srandmember", -2, flag::READONLY, RO_ACCESS, srandmember, Merge::OneKey,
        SET.docs("Get one or multiple random members from a set", "1.0.0", "Without the count \
        argument O(1), otherwise O(N) where N is the absolute value of the passed count.")),
    SET.keyed("smove", 4, W_FAST, &[KeySpec::one(kf::RW | kf::ACCESS | kf::DELETE, 1),
        KeySpec::one(kf::RW | kf::INSERT, 2)], smove, GATHER,
        SET.docs("Move a member from one set to another", "1.0.0", "O(1)")),
    SET.keyed("sinter", -2, flag::READONLY, ALL_RO_ACCESS, sinter, GATHER,
        SET.docs("Intersect multiple sets", "1.0.0", INTER_COMPLEXITY)),
    SET.keyed("sintercard", -3, flag::READONLY, &[KeySpec::keynum(kf::RO | kf::ACCESS, 1, 0, 1, 1)],
        sintercard, GATHER, SET.docs("Intersect multiple sets and return the cardinality of the \
        result", "7.0.0", INTER_COMPLEXITY)),
    SET.keyed("sinterstore", -3, W_DENYOOM, SINTERSTORE_KEYS, sinterstore, GATHER,
        SET.docs("Intersect multiple sets and store the resulting set in a key", "1.0.0",
        INTER_COMPLEXITY)),
    SET.keyed("sunion", -2, flag::READONLY, ALL_RO_ACCESS, sunion, GATHER,
        SET.docs("Add multiple sets", "1.0.0", TOTAL_COMPLEXITY)),
    SET.keyed("sunionstore", -3, W_DENYOOM, STORE_KEYS, sunionstore, GATHER,
        SET.docs("Add multiple sets and store the resulting set in a key", "1.0.0",
        TOTAL_COMPLEXITY)),
    SET.keyed("sdiff", -2, flag::READONLY, ALL_RO_ACCESS, sdiff, GATHER,
        SET.docs("Subtract multiple sets", "1.0.0", TOTAL_COMPLEXITY)),
    SET.keyed("sdiffstore", -3, W_DENYOOM, STORE_KEYS, sdiffstore, GATHER,
        SET.docs("Subtract multiple sets and store the resulting set in a key", "1.0.0",
        TOTAL_COMPLEXITY)),
    SET.keyed("sscan", -3, flag::READONLY, RO_ACCESS, sscan, Merge::OneKey,
        SET.docs("Incrementally iterate Set elements", "2.8.0", "O(1) for every call. O(N) for a \
        complete iteration, including enough command calls for the cursor to return back to 0. \
        N is the number of elements inside the collection..")),
];

// ---------------------------------------------------------------------------------------------
// Parsers.

/// SPOP's and SRANDMEMBER's optional count; more arguments are a syntax error.
fn parse_opt_count(argv: &Argv) -> Result<Option<&[u8]>, CmdError> {
    let mut args = Args::new(argv, 2);
    let count = args.next();
    args.finish()?;
    Ok(count)
}

/// SPOP's count: any non-integer or negative count is "must be positive".
fn parse_spop_count(arg: &[u8]) -> Result<usize, CmdError> {
    let n = parse_i64(arg).map_err(|_| CmdError::NotPositive)?;
    usize::try_from(n).map_err(|_| CmdError::NotPositive)
}

/// SRANDMEMBER's count: distinct members, or (negative) that many draws with repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RandCount {
    Distinct(u64),
    Repeats(u64),
}

fn parse_rand_count(arg: &[u8]) -> Result<RandCount, CmdError> {
    match parse_i64(arg)? {
        i64::MIN => Err(CmdError::ValueNotBetween {
            min: -i64::MAX,
            max: i64::MAX,
        }),
        n if n >= 0 => Ok(RandCount::Distinct(n.unsigned_abs())),
        n if n.unsigned_abs() > RANDOM_REPEATS_MAX => Err(CmdError::OutOfRange),
        n => Ok(RandCount::Repeats(n.unsigned_abs())),
    }
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`: the key count and the limit (0: none).
fn parse_sintercard(argv: &Argv) -> Result<(usize, usize), CmdError> {
    let numkeys = parse_i64(&argv[1]).map_err(|_| CmdError::NumkeysNotPositive)?;
    if numkeys < 1 {
        return Err(CmdError::NumkeysNotPositive);
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > argv.len() - 2 {
        return Err(CmdError::NumkeysPastArgs);
    }
    let mut args = Args::new(argv, 2 + numkeys);
    let mut limit = 0;
    while let Some(word) = args.next() {
        if !eq_word(word, "LIMIT") || args.is_done() {
            return Err(CmdError::Syntax);
        }
        let n = parse_i64(args.next_arg()?).map_err(|_| CmdError::LimitNegative)?;
        limit = usize::try_from(n).map_err(|_| CmdError::LimitNegative)?;
    }
    args.finish()?;
    Ok((numkeys, limit))
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn member_reply(member: Member<'_>) -> Reply {
    match member {
        Member::Int(n) => Reply::bulk_int(n),
        Member::Bytes(b) => Reply::bulk(b),
    }
}

fn members_reply(set: &SetValue) -> Vec<Reply> {
    set.iter().map(member_reply).collect()
}

/// An RNG for one command, drawn from the engine's: edits borrow the context, so the handler
/// takes its randomness before it lends the set out.
fn command_rng(ecx: &mut ExecCx) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(ecx.env().random_u64())
}

fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    debug_assert!(n > 0);
    (rng.next_u64() % n as u64) as usize
}

/// `count` distinct indexes below `len` (count <= len), in random order.
fn distinct_indexes(rng: &mut ChaCha8Rng, len: usize, count: usize) -> Vec<usize> {
    assert!(count <= len, "{count} distinct indexes below {len}");
    if count.saturating_mul(SRANDMEMBER_SUB_STRATEGY_MUL) > len {
        // Many: a partial Fisher-Yates over every index.
        let mut all: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = i + below(rng, len - i);
            all.swap(i, j);
        }
        all.truncate(count);
        return all;
    }
    let mut seen = BTreeSet::new();
    let mut picked = Vec::with_capacity(count);
    while picked.len() < count {
        let i = below(rng, len);
        if seen.insert(i) {
            picked.push(i);
        }
    }
    picked
}

/// Each key's set, read through lookupKeyRead in argument order: every key's type is checked
/// even after a missing one (`None`), as Redis 7.0 does.
fn read_sets(ecx: &mut ExecCx, keys: &[&[u8]]) -> Result<Vec<Option<SetValue>>, CmdError> {
    let mut sets = Vec::with_capacity(keys.len());
    for key in keys {
        sets.push(ecx.read_set(key)?.cloned());
    }
    Ok(sets)
}

/// Replaces `dst` with `result` (any type, any TTL), or deletes it when `result` is empty;
/// answers the stored size (Redis's setKey / dbDelete in the STORE commands).
fn store_result(ecx: &mut ExecCx, dst: &[u8], result: SetValue) -> Reply {
    let len = result.len();
    if len == 0 {
        ecx.delete(dst);
    } else {
        ecx.put(dst, Value::Coll(Box::new(Collection::Set(result))), None);
    }
    Reply::Int(len as i64)
}

/// A new result set: an intset while it can be (createIntsetObject), seeded by the shard.
fn new_result(ecx: &mut ExecCx) -> SetValue {
    SetValue::new_intset(ecx.db().collection_seed())
}

fn add_to(ecx: &ExecCx, result: &mut SetValue, member: Member<'_>) {
    let limits = ecx.limits().set;
    match member {
        Member::Int(n) => result.insert(n.to_string().as_bytes(), &limits),
        Member::Bytes(b) => result.insert(b, &limits),
    };
}

fn contains_member(set: &SetValue, member: Member<'_>) -> bool {
    match member {
        Member::Int(n) => set.contains(n.to_string().as_bytes()),
        Member::Bytes(b) => set.contains(b),
    }
}

// ---------------------------------------------------------------------------------------------
// Single-key commands.

fn sadd(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let added = ecx.edit_set(&argv[1], IfAbsent::Create, &argv[2], |set, limits| {
        let added = argv
            .iter()
            .skip(2)
            .filter(|m| set.insert(m, limits))
            .count();
        Ok((
            added,
            if added > 0 {
                Change::Modified
            } else {
                Change::Unchanged
            },
        ))
    })?;
    Ok(Reply::Int(added.unwrap_or(0) as i64))
}

fn srem(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let removed = ecx.edit_set(&argv[1], IfAbsent::Skip, &argv[2], |set, _| {
        let removed = argv.iter().skip(2).filter(|m| set.remove(m)).count();
        Ok((
            removed,
            if removed > 0 {
                Change::Modified
            } else {
                Change::Unchanged
            },
        ))
    })?;
    Ok(Reply::Int(removed.unwrap_or(0) as i64))
}

/// SMEMBERS is Redis's SINTER of one key.
fn smembers(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    Ok(Reply::Set(
        ecx.read_set(&argv[1])?.map_or_else(Vec::new, members_reply),
    ))
}

fn sismember(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let found = ecx
        .read_set(&argv[1])?
        .is_some_and(|s| s.contains(&argv[2]));
    Ok(Reply::Int(i64::from(found)))
}

fn smismember(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let set = ecx.read_set(&argv[1])?;
    let found = argv
        .iter()
        .skip(2)
        .map(|m| Reply::Int(i64::from(set.is_some_and(|s| s.contains(m)))))
        .collect();
    Ok(Reply::Array(found))
}

fn scard(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let len = ecx.read_set(&argv[1])?.map_or(0, SetValue::len);
    Ok(Reply::Int(len as i64))
}

// ---------------------------------------------------------------------------------------------
// Random members.

fn spop(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    match parse_opt_count(argv)? {
        None => spop_one(ecx, &argv[1]),
        Some(count) => {
            let count = parse_spop_count(count)?;
            spop_count(ecx, &argv[1], count)
        }
    }
}

fn spop_one(ecx: &mut ExecCx, key: &[u8]) -> Result<Reply, CmdError> {
    let mut rng = command_rng(ecx);
    let keeps = ecx.env().planted(Plant::SpopKeepsMember);
    let popped = ecx.edit_set(key, IfAbsent::Skip, key, |set, _| {
        if keeps {
            let member = set
                .random(|| rng.next_u64())
                .expect("a stored set is not empty");
            return Ok((member.to_vec(), Change::Unchanged));
        }
        let member = set
            .pop_random(|| rng.next_u64())
            .expect("a stored set is not empty");
        Ok((member, Change::Modified))
    })?;
    Ok(Reply::opt_bulk(popped))
}

/// SPOP key count: a set reply; all members (and the key deleted) when count reaches the size.
fn spop_count(ecx: &mut ExecCx, key: &[u8], count: usize) -> Result<Reply, CmdError> {
    let mut rng = command_rng(ecx);
    let popped = ecx.edit_set(key, IfAbsent::Skip, key, |set, _| {
        if count == 0 {
            return Ok((Vec::new(), Change::Unchanged));
        }
        let len = set.len();
        if count >= len {
            let all = members_reply(set);
            let members: Vec<Vec<u8>> = set.iter().map(Member::to_vec).collect();
            for m in &members {
                set.remove(m);
            }
            return Ok((all, Change::Modified));
        }
        // Pick the members to pop, or (when popping most) the ones to keep.
        let keep = count.saturating_mul(SPOP_MOVE_STRATEGY_MUL) > len;
        let picks = if keep { len - count } else { count };
        let picked: BTreeSet<usize> = distinct_indexes(&mut rng, len, picks).into_iter().collect();
        let popped: Vec<Vec<u8>> = set
            .iter()
            .enumerate()
            .filter(|(i, _)| picked.contains(i) != keep)
            .map(|(_, m)| m.to_vec())
            .collect();
        for m in &popped {
            set.remove(m);
        }
        Ok((
            popped.into_iter().map(Reply::Bulk).collect(),
            Change::Modified,
        ))
    })?;
    Ok(Reply::Set(popped.unwrap_or_default()))
}

fn srandmember(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let Some(count) = parse_opt_count(argv)? else {
        let mut rng = command_rng(ecx);
        let member = ecx.read_set(&argv[1])?.map(|set| {
            set.random(|| rng.next_u64())
                .expect("a stored set is not empty")
        });
        return Ok(member.map_or(Reply::Nil, member_reply));
    };
    let count = parse_rand_count(count)?;
    let mut rng = command_rng(ecx);
    let Some(set) = ecx.read_set(&argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let len = set.len();
    let picked: Vec<Reply> = match count {
        RandCount::Repeats(n) => (0..n)
            .map(|_| member_reply(set.random(|| rng.next_u64()).expect("not empty")))
            .collect(),
        RandCount::Distinct(n) if n >= len as u64 => members_reply(set),
        RandCount::Distinct(n) => {
            // One pass over the set for the drawn positions (`nth` would walk it per member).
            let order = distinct_indexes(&mut rng, len, n as usize);
            let mut positions: Vec<(usize, usize)> = order
                .iter()
                .enumerate()
                .map(|(slot, &i)| (i, slot))
                .collect();
            positions.sort_unstable();
            let mut out = vec![Reply::Nil; order.len()];
            let mut wanted = positions.iter().peekable();
            for (i, member) in set.iter().enumerate() {
                while let Some(&&(at, slot)) = wanted.peek() {
                    if at != i {
                        break;
                    }
                    out[slot] = member_reply(member);
                    wanted.next();
                }
            }
            out
        }
    };
    Ok(Reply::Array(picked))
}

// ---------------------------------------------------------------------------------------------
// Two keys: SMOVE.

/// SMOVE source destination member (Redis's smoveCommand, in its order of checks).
fn smove(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    if !ecx.check_type(src, Kind::Set)? {
        return Ok(Reply::Int(0));
    }
    ecx.check_type(dst, Kind::Set)?;
    if src == dst {
        let found = ecx.edit_set(src, IfAbsent::Skip, member, |set, _| {
            Ok((set.contains(member), Change::Unchanged))
        })?;
        return Ok(Reply::Int(i64::from(found == Some(true))));
    }
    let removed = ecx.edit_set(src, IfAbsent::Skip, member, |set, _| {
        let removed = set.remove(member);
        Ok((
            removed,
            if removed {
                Change::Modified
            } else {
                Change::Unchanged
            },
        ))
    })?;
    if removed != Some(true) {
        return Ok(Reply::Int(0));
    }
    ecx.edit_set(dst, IfAbsent::Create, member, |set, limits| {
        let added = set.insert(member, limits);
        Ok((
            (),
            if added {
                Change::Modified
            } else {
                Change::Unchanged
            },
        ))
    })?;
    Ok(Reply::Int(1))
}

// ---------------------------------------------------------------------------------------------
// Set algebra.

/// The intersection of `sets` in the iteration order of the smallest, at most `limit` members
/// (0: all); `None` when a set is missing (the intersection is empty).
fn intersect(sets: &[Option<SetValue>], limit: usize) -> Vec<Vec<u8>> {
    let mut present: Vec<&SetValue> = Vec::with_capacity(sets.len());
    for set in sets {
        match set {
            Some(set) => present.push(set),
            None => return Vec::new(),
        }
    }
    present.sort_by_key(|s| s.len());
    let Some((smallest, rest)) = present.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for member in smallest.iter() {
        if rest.iter().all(|s| contains_member(s, member)) {
            out.push(member.to_vec());
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

fn key_args(argv: &Argv, from: usize) -> Vec<&[u8]> {
    argv.iter().skip(from).collect()
}

fn sinter(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let sets = read_sets(ecx, &key_args(argv, 1))?;
    Ok(Reply::Set(
        intersect(&sets, 0).into_iter().map(Reply::Bulk).collect(),
    ))
}

fn sintercard(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (numkeys, limit) = parse_sintercard(argv)?;
    let keys: Vec<&[u8]> = argv.iter().skip(2).take(numkeys).collect();
    let sets = read_sets(ecx, &keys)?;
    Ok(Reply::Int(intersect(&sets, limit).len() as i64))
}

fn sinterstore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let sets = read_sets(ecx, &key_args(argv, 2))?;
    let mut result = new_result(ecx);
    for member in intersect(&sets, 0) {
        add_to(ecx, &mut result, Member::Bytes(&member));
    }
    Ok(store_result(ecx, &argv[1], result))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetOp {
    Union,
    Diff,
}

/// SUNION or SDIFF of the sets under `keys` into a new result set (sunionDiffGenericCommand).
fn union_diff(ecx: &mut ExecCx, keys: &[&[u8]], op: SetOp) -> Result<SetValue, CmdError> {
    let sets = read_sets(ecx, keys)?;
    let mut result = new_result(ecx);
    match op {
        SetOp::Union => {
            for set in sets.iter().flatten() {
                for member in set.iter() {
                    add_to(ecx, &mut result, member);
                }
            }
        }
        SetOp::Diff => {
            let Some((Some(first), rest)) = sets.split_first() else {
                return Ok(result);
            };
            for member in first.iter() {
                if !rest.iter().flatten().any(|s| contains_member(s, member)) {
                    add_to(ecx, &mut result, member);
                }
            }
        }
    }
    Ok(result)
}

fn sunion(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let result = union_diff(ecx, &key_args(argv, 1), SetOp::Union)?;
    Ok(Reply::Set(members_reply(&result)))
}

fn sdiff(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let result = union_diff(ecx, &key_args(argv, 1), SetOp::Diff)?;
    Ok(Reply::Set(members_reply(&result)))
}

fn sunionstore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let result = union_diff(ecx, &key_args(argv, 2), SetOp::Union)?;
    Ok(store_result(ecx, &argv[1], result))
}

fn sdiffstore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let result = union_diff(ecx, &key_args(argv, 2), SetOp::Diff)?;
    Ok(store_result(ecx, &argv[1], result))
}

// ---------------------------------------------------------------------------------------------
// SSCAN.

/// SSCAN key cursor [MATCH pattern] [COUNT count]: Redis's scanGenericCommand loop over the
/// set's buckets until COUNT members were seen, COUNT * 10 buckets visited or the cursor is 0.
fn sscan(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let mut cursor = parse_scan_cursor(&argv[2])?;
    let Some(set) = ecx.read_set(&argv[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let options = parse_scan_options(argv)?;
    let buckets_max = options.count.saturating_mul(SCAN_BUCKETS_PER_COUNT);
    let mut members = Vec::new();
    let mut buckets = 0usize;
    loop {
        cursor = set.scan(cursor, |m| members.push(m.to_vec()));
        buckets += 1;
        if cursor == 0 || members.len() >= options.count || buckets > buckets_max {
            break;
        }
    }
    if let Some(pattern) = &options.pattern {
        members.retain(|m| glob_match(pattern, m, false));
    }
    Ok(scan_reply(cursor, members))
}

fn scan_reply(cursor: u64, members: Vec<Vec<u8>>) -> Reply {
    Reply::Array(vec![
        Reply::bulk(cursor.to_string()),
        Reply::Array(members.into_iter().map(Reply::Bulk).collect()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cx::ConnId;
    use crate::node::shard_of;
    use crate::testkit::TestCluster;

    /// Every test runs on one shard and on three (keys spread over shards).
    const THREADS: [u16; 2] = [1, 3];
    const WRONGTYPE: &str =
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    const SYNTAX: &str = "-ERR syntax error\r\n";
    const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";

    struct T {
        c: TestCluster,
        conn: ConnId,
        threads: u16,
    }

    impl T {
        fn new(threads: u16) -> T {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            T { c, conn, threads }
        }

        fn run(&mut self, line: &str) -> String {
            let args: Vec<&str> = line.split(' ').collect();
            self.c.cmd_text(self.conn, &args)
        }

        /// Asserts each (command, reply) in order; commands are space-separated words.
        fn check(&mut self, steps: &[(&str, &str)]) {
            for (line, want) in steps {
                let got = self.run(line);
                assert_eq!(&got, want, "{line} on {} threads", self.threads);
            }
        }

        /// The members of a flat reply (an array or set of bulks), sorted.
        fn sorted(&mut self, line: &str) -> Vec<String> {
            let mut items = bulks(&self.run(line));
            items.sort();
            items
        }
    }

    fn each(test: impl Fn(&mut T)) {
        for threads in THREADS {
            test(&mut T::new(threads));
        }
    }

    fn bulks(reply: &str) -> Vec<String> {
        let lines: Vec<&str> = reply.split("\r\n").collect();
        lines
            .windows(2)
            .filter(|w| w[0].starts_with('$'))
            .map(|w| w[1].to_string())
            .collect()
    }

    fn int(n: i64) -> String {
        format!(":{n}\r\n")
    }

    fn bulk(s: &str) -> String {
        format!("${}\r\n{s}\r\n", s.len())
    }

    /// A RESP2 array of bulks.
    fn arr(items: &[&str]) -> String {
        items
            .iter()
            .fold(format!("*{}\r\n", items.len()), |out, i| out + &bulk(i))
    }

    /// A RESP3 set of bulks.
    fn set3(items: &[&str]) -> String {
        items
            .iter()
            .fold(format!("~{}\r\n", items.len()), |out, i| out + &bulk(i))
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// Key names that land on different shards of three.
    fn assert_spread(keys: &[&str]) {
        let shards: BTreeSet<_> = keys.iter().map(|k| shard_of(k.as_bytes(), 3)).collect();
        assert!(shards.len() > 1, "{keys:?} all hash to one shard");
    }

    #[test]
    fn sadd_srem_scard_sismember_smismember() {
        each(|t| {
            t.check(&[
                ("SADD s 3 1 2 1", &int(3)),
                ("SADD s 2 4", &int(1)),
                ("SMEMBERS s", &arr(&["1", "2", "3", "4"])),
                ("SCARD s", &int(4)),
                ("SISMEMBER s 2", &int(1)),
                ("SISMEMBER s 9", &int(0)),
                ("SMISMEMBER s 1 9 4", "*3\r\n:1\r\n:0\r\n:1\r\n"),
                ("SMISMEMBER nosuch a b", "*2\r\n:0\r\n:0\r\n"),
                ("SISMEMBER nosuch a", &int(0)),
                ("SCARD nosuch", &int(0)),
                ("SREM s 1 9 2", &int(2)),
                ("SREM nosuch a", &int(0)),
                ("SREM s 3 4", &int(2)),
                // The last member gone, the key goes too.
                ("EXISTS s", &int(0)),
                ("SMEMBERS nosuch", "*0\r\n"),
            ]);
        });
    }

    #[test]
    fn every_command_answers_wrongtype_on_a_string() {
        each(|t| {
            t.check(&[("SET str x", "+OK\r\n"), ("SADD s 1", &int(1))]);
            for line in [
                "SADD str a",
                "SREM str a",
                "SMEMBERS str",
                "SISMEMBER str a",
                "SMISMEMBER str a",
                "SCARD str",
                "SPOP str",
                "SPOP str 0",
                "SRANDMEMBER str",
                "SRANDMEMBER str -1",
                "SMOVE str s a",
                "SMOVE s str 1",
                "SMOVE s str 9",
                "SMOVE str str a",
                "SINTER s str",
                "SINTER nosuch str",
                "SINTERCARD 2 nosuch str",
                "SINTERSTORE d nosuch str",
                "SUNION nosuch str",
                "SDIFF nosuch str",
                "SDIFF str nosuch",
                "SUNIONSTORE d s str",
                "SDIFFSTORE d nosuch str",
                "SSCAN str 0",
            ] {
                t.check(&[(line, WRONGTYPE)]);
            }
            t.check(&[("EXISTS d", &int(0)), ("SMEMBERS s", &arr(&["1"]))]);
        });
    }

    #[test]
    fn encodings_follow_set_type_create() {
        each(|t| {
            t.check(&[
                ("SADD i 5 -3", &int(2)),
                ("OBJECT ENCODING i", &bulk("intset")),
                ("SADD h a", &int(1)),
                ("OBJECT ENCODING h", &bulk("hashtable")),
                // A non-integer member converts an intset.
                ("SADD i x", &int(1)),
                ("OBJECT ENCODING i", &bulk("hashtable")),
                // "01" is not canonical: not an integer.
                ("SADD z 01", &int(1)),
                ("OBJECT ENCODING z", &bulk("hashtable")),
            ]);
            let members: Vec<String> = (0..512).map(|i| i.to_string()).collect();
            let line = format!("SADD big {}", members.join(" "));
            t.check(&[
                (&line, &int(512)),
                ("OBJECT ENCODING big", &bulk("intset")),
                ("SADD big 512", &int(1)),
                ("OBJECT ENCODING big", &bulk("hashtable")),
            ]);
        });
    }

    #[test]
    fn store_commands_build_an_intset_overwrite_and_delete() {
        assert_spread(&["d", "a", "b"]);
        each(|t| {
            t.check(&[
                ("SADD a 1 2 3 x", &int(4)),
                ("SADD b 2 3 4", &int(3)),
                ("SINTERSTORE d a b", &int(2)),
                ("SMEMBERS d", &arr(&["2", "3"])),
                ("OBJECT ENCODING d", &bulk("intset")),
                ("SUNIONSTORE d a b", &int(5)),
                ("OBJECT ENCODING d", &bulk("hashtable")),
                ("SDIFFSTORE d b a", &int(1)),
                ("SMEMBERS d", &arr(&["4"])),
                // Overwrites any type and drops the TTL.
                ("SET d str EX 100", "+OK\r\n"),
                ("SDIFFSTORE d a b", &int(2)),
                ("TTL d", &int(-1)),
                ("TYPE d", "+set\r\n"),
                // An empty result deletes the destination.
                ("SINTERSTORE d a nosuch", &int(0)),
                ("EXISTS d", &int(0)),
                ("SET d str", "+OK\r\n"),
                ("SDIFFSTORE d a a", &int(0)),
                ("EXISTS d", &int(0)),
                ("SUNIONSTORE d nosuch", &int(0)),
                ("EXISTS d", &int(0)),
                // The destination may be a source.
                ("SUNIONSTORE a a b", &int(5)),
                ("SCARD a", &int(5)),
            ]);
        });
    }

    #[test]
    fn sinter_sunion_sdiff_replies() {
        each(|t| {
            t.check(&[("SADD a 1 2 3", &int(3)), ("SADD b 3 4 1", &int(3))]);
            t.check(&[
                ("SINTER a b", &arr(&["1", "3"])),
                ("SINTER a nosuch", "*0\r\n"),
                ("SUNION a b nosuch", &arr(&["1", "2", "3", "4"])),
                ("SDIFF a b", &arr(&["2"])),
                ("SDIFF nosuch a", "*0\r\n"),
                ("SDIFF a nosuch", &arr(&["1", "2", "3"])),
                ("SINTERCARD 2 a b", &int(2)),
                ("SINTERCARD 2 a b LIMIT 1", &int(1)),
                ("SINTERCARD 2 a b LIMIT 0", &int(2)),
                ("SINTERCARD 2 a b LIMIT 1 LIMIT 5", &int(2)),
                ("SINTERCARD 1 nosuch", &int(0)),
            ]);
            t.run("HELLO 3");
            t.check(&[
                ("SINTER a b", &set3(&["1", "3"])),
                ("SMEMBERS nosuch", "~0\r\n"),
                ("SUNION a", &set3(&["1", "2", "3"])),
            ]);
            t.run("SADD h x y z");
            assert_eq!(
                t.sorted("SUNION h a"),
                strings(&["1", "2", "3", "x", "y", "z"])
            );
        });
    }

    #[test]
    fn sintercard_errors_come_before_lookups() {
        each(|t| {
            t.run("SET str x");
            let numkeys = "-ERR numkeys should be greater than 0\r\n";
            t.check(&[
                ("SINTERCARD 0 a", numkeys),
                ("SINTERCARD -1 a", numkeys),
                ("SINTERCARD abc a", numkeys),
                ("SINTERCARD 99999999999999999999 a", numkeys),
                (
                    "SINTERCARD 3 a b",
                    "-ERR Number of keys can't be greater than number of args\r\n",
                ),
                (
                    "SINTERCARD 1 str LIMIT -1",
                    "-ERR LIMIT can't be negative\r\n",
                ),
                (
                    "SINTERCARD 1 str LIMIT abc",
                    "-ERR LIMIT can't be negative\r\n",
                ),
                ("SINTERCARD 1 str LIMIT", SYNTAX),
                ("SINTERCARD 1 str foo 1", SYNTAX),
                ("COMMAND GETKEYS SINTERCARD 2 a b", &arr(&["a", "b"])),
                (
                    "COMMAND GETKEYS SINTERCARD 3 a b",
                    "-ERR Invalid arguments specified for command\r\n",
                ),
            ]);
        });
    }

    #[test]
    fn smove_follows_redis_order_of_checks() {
        assert_spread(&["src", "dst"]);
        each(|t| {
            t.check(&[
                ("SET str x", "+OK\r\n"),
                ("SADD src 1 a", &int(2)),
                ("SMOVE nosuch str a", &int(0)),
                ("SMOVE src str a", WRONGTYPE),
                ("SMOVE src str nosuchmember", WRONGTYPE),
                ("SMOVE src src a", &int(1)),
                ("SMOVE src src b", &int(0)),
                ("SMOVE src dst b", &int(0)),
                ("EXISTS dst", &int(0)),
                // A new destination takes its encoding from the member.
                ("SMOVE src dst 1", &int(1)),
                ("OBJECT ENCODING dst", &bulk("intset")),
                ("SADD dst a", &int(1)),
                // Already there: removed from the source all the same.
                ("SMOVE src dst a", &int(1)),
                ("EXISTS src", &int(0)),
            ]);
            assert_eq!(t.sorted("SMEMBERS dst"), strings(&["1", "a"]));
        });
    }

    #[test]
    fn spop_removes_what_it_returns() {
        each(|t| {
            t.check(&[
                ("SPOP nosuch", "$-1\r\n"),
                ("SPOP nosuch 3", "*0\r\n"),
                (
                    "SPOP s -1",
                    "-ERR value is out of range, must be positive\r\n",
                ),
                (
                    "SPOP s abc",
                    "-ERR value is out of range, must be positive\r\n",
                ),
                ("SPOP s 1 2", SYNTAX),
                ("SADD s 1 2 3 4 5 6 7 8 9 10", &int(10)),
                ("SPOP s 0", "*0\r\n"),
            ]);
            let mut left: BTreeSet<String> = (1..=10).map(|i| i.to_string()).collect();
            for count in [1, 3] {
                let popped = bulks(&t.run(&format!("SPOP s {count}")));
                assert_eq!(popped.len(), count);
                for m in &popped {
                    assert!(left.remove(m), "{m} popped twice or never there");
                }
            }
            let one = bulks(&t.run("SPOP s"));
            assert!(left.remove(&one[0]));
            assert_eq!(
                t.sorted("SMEMBERS s"),
                left.iter().cloned().collect::<Vec<_>>()
            );
            // Count at or past the size: everything, and the key is gone.
            let rest: BTreeSet<String> = bulks(&t.run("SPOP s 100")).into_iter().collect();
            assert_eq!(rest, left);
            t.check(&[("EXISTS s", &int(0))]);
            // A count that pops most of the set keeps the rest (the other strategy).
            t.run("SADD s a b c d e f g h i j");
            let popped: BTreeSet<String> = bulks(&t.run("SPOP s 8")).into_iter().collect();
            let kept: BTreeSet<String> = t.sorted("SMEMBERS s").into_iter().collect();
            assert_eq!(popped.len(), 8);
            assert_eq!(kept.len(), 2);
            assert!(popped.is_disjoint(&kept));
            t.run("HELLO 3");
            t.check(&[("SPOP s 0", "~0\r\n")]);
            assert!(t.run("SPOP s 1").starts_with("~1\r\n"));
        });
    }

    #[test]
    fn srandmember_counts() {
        each(|t| {
            t.check(&[
                ("SRANDMEMBER nosuch", "$-1\r\n"),
                ("SRANDMEMBER nosuch 5", "*0\r\n"),
                ("SRANDMEMBER s abc", NOT_INT),
                ("SRANDMEMBER s 1 2", SYNTAX),
                (
                    "SRANDMEMBER s -9223372036854775808",
                    "-ERR value is out of range, value must between -9223372036854775807 and \
                     9223372036854775807\r\n",
                ),
                ("SADD s a b c d e", &int(5)),
                ("SRANDMEMBER s 0", "*0\r\n"),
            ]);
            let all = strings(&["a", "b", "c", "d", "e"]);
            assert_eq!(t.sorted("SRANDMEMBER s 5"), all);
            assert_eq!(t.sorted("SRANDMEMBER s 50"), all);
            for count in [1, 2, 4] {
                let got = t.sorted(&format!("SRANDMEMBER s {count}"));
                let distinct: BTreeSet<&String> = got.iter().collect();
                assert_eq!((got.len(), distinct.len()), (count, count));
                assert!(got.iter().all(|m| all.contains(m)));
            }
            // Negative: exactly |count| draws, repeats allowed (20 draws of 5 must repeat).
            let got = t.sorted("SRANDMEMBER s -20");
            assert_eq!(got.len(), 20);
            assert!(got.iter().all(|m| all.contains(m)));
            assert!(all.contains(&bulks(&t.run("SRANDMEMBER s"))[0]));
            t.check(&[("SCARD s", &int(5))]);
            t.run("HELLO 3");
            // Arrays even in RESP3, even when the whole set comes back.
            assert!(t.run("SRANDMEMBER s 9").starts_with("*5\r\n"));
            assert!(t.run("SRANDMEMBER s -2").starts_with("*2\r\n"));
        });
    }

    #[test]
    fn sscan_cursor_and_options_parse_like_redis() {
        each(|t| {
            let invalid = "-ERR invalid cursor\r\n";
            let whole = "*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n";
            t.check(&[
                ("SSCAN nosuch 0 foo", "*2\r\n$1\r\n0\r\n*0\r\n"),
                ("SSCAN nosuch abc", invalid),
                ("SADD s 1 2 3", &int(3)),
                ("SSCAN s 0", whole),
                ("SSCAN s -1", whole),
                ("SSCAN s +5", whole),
                ("SSCAN s 18446744073709551615", whole),
                ("SSCAN s -18446744073709551615", whole),
                ("SSCAN s 18446744073709551616", invalid),
                ("SSCAN s -", invalid),
                ("SSCAN s 1.5", invalid),
                ("SSCAN s 0 COUNT 0", SYNTAX),
                ("SSCAN s 0 COUNT -1", SYNTAX),
                ("SSCAN s 0 COUNT abc", NOT_INT),
                ("SSCAN s 0 MATCH", SYNTAX),
                ("SSCAN s 0 TYPE string", SYNTAX),
                (
                    "SSCAN s 0 MATCH 1 COUNT 1 MATCH 2",
                    "*2\r\n$1\r\n0\r\n*1\r\n$1\r\n2\r\n",
                ),
            ]);
            assert_eq!(parse_scan_cursor(b""), Ok(0));
            assert_eq!(parse_scan_cursor(b" 1"), Err(CmdError::InvalidCursor));
            assert_eq!(parse_scan_cursor(b"7\0junk"), Ok(7));
            // A full iteration of a hashtable set sees every member.
            let members: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
            t.run(&format!("SADD h {}", members.join(" ")));
            let mut seen = BTreeSet::new();
            let mut cursor = "0".to_string();
            loop {
                let mut items = bulks(&t.run(&format!("SSCAN h {cursor} COUNT 5")));
                cursor = items.remove(0);
                seen.extend(items);
                if cursor == "0" {
                    break;
                }
            }
            assert_eq!(seen, members.into_iter().collect());
        });
    }

    #[test]
    fn multi_key_commands_inside_multi_exec() {
        assert_spread(&["a", "b", "d"]);
        each(|t| {
            t.check(&[
                ("SADD a 1 2", &int(2)),
                ("MULTI", "+OK\r\n"),
                ("SMOVE a b 1", "+QUEUED\r\n"),
                ("SUNIONSTORE d a b", "+QUEUED\r\n"),
                ("SINTERCARD 2 a b", "+QUEUED\r\n"),
                ("EXEC", "*3\r\n:1\r\n:2\r\n:0\r\n"),
                ("SMEMBERS d", &arr(&["1", "2"])),
            ]);
        });
    }

    #[test]
    fn read_commands_count_keyspace_hits() {
        each(|t| {
            t.run("SADD s 1");
            t.run("SET str x");
            t.run("CONFIG RESETSTAT");
            t.run("SINTER s nosuch str");
            t.run("SPOP nosuch");
            let info = t.run("INFO stats");
            assert!(info.contains("keyspace_hits:2\r\n"), "{} {info}", t.threads);
            assert!(info.contains("keyspace_misses:1\r\n"), "{info}");
        });
    }

    #[test]
    fn parsers_are_typed() {
        assert_eq!(parse_rand_count(b"-3"), Ok(RandCount::Repeats(3)));
        assert_eq!(parse_rand_count(b"3"), Ok(RandCount::Distinct(3)));
        assert_eq!(parse_rand_count(b"-16777217"), Err(CmdError::OutOfRange));
        assert_eq!(
            parse_rand_count(b"-16777216"),
            Ok(RandCount::Repeats(1 << 24))
        );
        assert_eq!(parse_spop_count(b"0"), Ok(0));
        let argv = Argv::from_slices(&["SINTERCARD", "2", "a", "b", "LIMIT", "3"]);
        assert_eq!(parse_sintercard(&argv), Ok((2, 3)));
    }
}
