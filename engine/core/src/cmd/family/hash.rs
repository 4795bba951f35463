//! Hashes: Redis 7.0's hash family (HSET and HMSET, HSETNX, HGET, HMGET, HDEL, HLEN, HSTRLEN,
//! HEXISTS, HKEYS, HVALS, HGETALL, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN).
//!
//! Three layers, as in `strings`: the rows; parsers that read argv into typed options and end
//! in `finish()`; handlers that see one shard's data through `access` (`read_hash` for the
//! commands that read through lookupKeyRead and so count keyspace hits and misses, `edit_hash`
//! for every write). A hash is a `db::HashValue`; its encoding (listpack or hashtable) and the
//! conversion at `hash-max-listpack-entries` / `hash-max-listpack-value` belong to it, so the
//! handlers only pass the shard's limits down. `edit_hash` deletes a hash left empty.
//!
//! Quirks of redis-server 7.0.15 we keep, each checked against it:
//! - HSET/HMSET with a field missing its value is an arity error, checked before the type.
//! - HINCRBY/HINCRBYFLOAT parse the increment before looking at the key; HINCRBYFLOAT refuses
//!   an infinite increment ("value is NaN or Infinity") before the key too, and a sum that is
//!   not finite after it. A field holding a non-number answers "hash value is not …". Both
//!   convert a listpack on a long field or result, as HSET does.
//! - HRANDFIELD parses its count and WITHVALUES before the key: a missing key answers nil
//!   without a count and an empty array with one. WITHVALUES bounds the count to ±LONG_MAX/2.
//!   A negative count (and a count of 1) draws with repetition; a count ≥ the length answers
//!   the whole hash; otherwise distinct fields. RESP3 WITHVALUES is an array of [field, value]
//!   arrays (`Reply::Pairs`), RESP2 a flat array.
//! - HSCAN parses its cursor first (strtoul: `-1` wraps, an empty cursor is 0, a leading space,
//!   trailing junk or overflow is "invalid cursor"), answers the empty scan for a missing key
//!   before reading its options, and takes no TYPE. Its loop is scanGenericCommand's: table
//!   steps until the cursor is 0, `count * 10 + 1` steps were made, or the reply holds `count`
//!   items counting fields and values both (so COUNT 10 stops after about 5 pairs). MATCH
//!   filters the fields afterwards. A listpack comes back whole with cursor 0.
//! - Keyspace hits and misses: counted by HGET, HMGET, HLEN, HSTRLEN, HEXISTS, HKEYS, HVALS,
//!   HGETALL, HRANDFIELD and HSCAN (lookupKeyRead), not by the writers.
//!
//! One deliberate difference: HRANDFIELD with a negative count past
//! `RANDFIELD_REPEATS_MAX` answers "value is out of range" where Redis would start streaming
//! a reply of that many elements (it never finishes one of 2^40); we build replies whole and
//! never size them by the peer beyond a named limit.

use std::collections::BTreeSet;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::access::ExecCx;
use crate::access::{Change, IfAbsent};
use crate::argv::Argv;
use crate::cmd::args::{parse_i64, parse_scan_cursor, parse_scan_options, Args, ScanOptions};
use crate::cmd::Family;
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, KeySpec};
use crate::db::HashValue;
use crate::error::CmdError;
use crate::glob::glob_match;
use crate::numfmt::{self, LongDouble};
use crate::reply::Reply;

/// The largest number of draws HRANDFIELD makes with repetition (see the module doc).
const RANDFIELD_REPEATS_MAX: u64 = 1 << 24;
/// HRANDFIELD WITHVALUES bounds its count to ±LONG_MAX/2 (t_hash.c), so twice it fits.
const RANDFIELD_WITHVALUES_COUNT_MAX: i64 = i64::MAX / 2;
/// scanGenericCommand gives up after `count * 10` extra table steps.
const SCAN_STEPS_PER_COUNT: usize = 10;

const HASH: Family = Family {
    group: "hash",
    acl: acl::HASH,
};

const RO: &[KeySpec] = &[KeySpec::one(kf::RO, 1)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(kf::RO | kf::ACCESS, 1)];
const RW_UPDATE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::UPDATE, 1)];
const RW_ACCESS_UPDATE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::ACCESS | kf::UPDATE, 1)];

const W_DENYOOM_FAST: u32 = flag::WRITE | flag::DENYOOM | flag::FAST;
const R_FAST: u32 = flag::READONLY | flag::FAST;
const SIZE_N: &str = "O(N) where N is the size of the hash.";

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    HASH.one_key("hset", -4, W_DENYOOM_FAST, RW_UPDATE, hset,
        HASH.docs("Set the string value of a hash field", "2.0.0", "O(1) for each field/value pair \
        added, so O(N) to add N field/value pairs when the command is called with multiple \
        field/value pairs.")),
    HASH.one_key("hsetnx", 4, W_DENYOOM_FAST, &[KeySpec::one(kf::RW | kf::INSERT, 1)], hsetnx,
        HASH.docs("Set the value of a hash field, only if the field does not exist", "2.0.0",
        "O(1)")),
    HASH.one_key("hget", 3, R_FAST, RO_ACCESS, hget,
        HASH.docs("Get the value of a hash field", "2.0.0", "O(1)")),
    HASH.one_key("hmset", -4, W_DENYOOM_FAST, RW_UPDATE, hmset,
        HASH.docs("Set multiple hash fields to multiple values", "2.0.0",
        "O(N) where N is the number of fields being set.")),
    HASH.one_key("hmget", -3, R_FAST, RO_ACCESS, hmget,
        HASH.docs("Get the values of all the given hash fields", "2.0.0",
        "O(N) where N is the number of fields being requested.")),
    HASH.one_key("hdel", -3, flag::WRITE | flag::FAST, &[KeySpec::one(kf::RW | kf::DELETE, 1)], hdel,
        HASH.docs("Delete one or more hash fields", "2.0.0",
        "O(N) where N is the number of fields to be removed.")),
    HASH.one_key("hlen", 2, R_FAST, RO, hlen,
        HASH.docs("Get the number of fields in a hash", "2.0.0", "O(1)")),
    HASH.one_key("hstrlen", 3, R_FAST, RO, hstrlen,
        HASH.docs("Get the length of the value of a hash field", "3.2.0", "O(1)")),
    HASH.one_key("hexists", 3, R_FAST, RO, hexists,
        HASH.docs("Determine if a hash field exists", "2.0.0", "O(1)")),
    HASH.one_key("hkeys", 2, flag::READONLY, RO_ACCESS, hkeys,
        HASH.docs("Get all the fields in a hash", "2.0.0", SIZE_N)),
    HASH.one_key("hvals", 2, flag::READONLY, RO_ACCESS, hvals,
        HASH.docs("Get all the values in a hash", "2.0.0", SIZE_N)),
    HASH.one_key("hgetall", 2, flag::READONLY, RO_ACCESS, hgetall,
        HASH.docs("Get all the fields and values in a hash", "2.0.0", SIZE_N)),
    HASH.one_key("hincrby", 4, W_DENYOOM_FAST, RW_ACCESS_UPDATE, hincrby,
        HASH.docs("Increment the integer value of a hash field by the given number", "2.0.0",
        "O(1)")),
    HASH.one_key("hincrbyfloat", 4, W_DENYOOM_FAST, RW_ACCESS_UPDATE, hincrbyfloat,
        HASH.docs("Increment the float value of a hash field by the given amount", "2.6.0",
        "O(1)")),
    HASH.one_key("hrandfield", -2, flag::READONLY, RO_ACCESS, hrandfield,
        HASH.docs("Get one or multiple random fields from a hash", "6.2.0",
        "O(N) where N is the number of fields returned")),
    HASH.one_key("hscan", -3, flag::READONLY, RO_ACCESS, hscan,
        HASH.docs("Incrementally iterate hash fields and associated values", "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls \
        for the cursor to return back to 0. N is the number of elements inside the \
        collection..")),
];

// ---------------------------------------------------------------------------------------------
// Setters.

/// The (field, value) pairs from argument 2 on; a field without a value is Redis's arity
/// error, named after the command (`hset`, `hmset`).
fn field_pairs<'a>(
    argv: &'a Argv,
    name: &str,
) -> Result<impl Iterator<Item = (&'a [u8], &'a [u8])>, CmdError> {
    if argv.len().is_multiple_of(2) {
        Ok((2..argv.len()).step_by(2).map(|i| (&argv[i], &argv[i + 1])))
    } else {
        Err(CmdError::WrongArity(name.into()))
    }
}

/// Sets every pair; the number of fields that were new.
fn set_pairs(ecx: &mut ExecCx, argv: &Argv, name: &str) -> Result<i64, CmdError> {
    let pairs = field_pairs(argv, name)?;
    let keep_old = ecx.env().planted(crate::env::Plant::HsetKeepsOldValue);
    let added = ecx.edit_hash(&argv[1], IfAbsent::Create, |h, limits| {
        let added = pairs
            .filter(|(field, value)| {
                let planted_skip = keep_old && h.contains(field);
                !planted_skip && h.insert(field, value, limits)
            })
            .count();
        Ok((added as i64, Change::Modified))
    })?;
    Ok(added.expect("IfAbsent::Create always edits"))
}

/// HSET key field value [field value ...]: the number of new fields.
fn hset(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    set_pairs(ecx, argv, "hset").map(Reply::Int)
}

/// HMSET key field value [field value ...]: OK.
fn hmset(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    set_pairs(ecx, argv, "hmset").map(|_| Reply::OK)
}

/// HSETNX key field value: 1 when it set the new field, 0 when the field was there.
fn hsetnx(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (field, value) = (&argv[2], &argv[3]);
    let set = ecx.edit_hash(&argv[1], IfAbsent::Create, |h, limits| {
        if h.contains(field) {
            return Ok((0, Change::Unchanged));
        }
        h.insert(field, value, limits);
        Ok((1, Change::Modified))
    })?;
    Ok(Reply::Int(set.expect("IfAbsent::Create always edits")))
}

/// HDEL key field [field ...]: how many of the fields were there.
fn hdel(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let removed = ecx.edit_hash(&argv[1], IfAbsent::Skip, |h, _| {
        let removed = argv.iter().skip(2).filter(|f| h.remove(f)).count() as i64;
        let change = if removed > 0 {
            Change::Modified
        } else {
            Change::Unchanged
        };
        Ok((removed, change))
    })?;
    Ok(Reply::Int(removed.unwrap_or(0)))
}

// ---------------------------------------------------------------------------------------------
// Readers.

fn hget(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let value = ecx.read_hash(&argv[1])?.and_then(|h| h.get(&argv[2]));
    Ok(value.map_or(Reply::Nil, Reply::bulk))
}

fn hmget(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let hash = ecx.read_hash(&argv[1])?;
    let values = argv
        .iter()
        .skip(2)
        .map(|field| {
            hash.and_then(|h| h.get(field))
                .map_or(Reply::Nil, Reply::bulk)
        })
        .collect();
    Ok(Reply::Array(values))
}

fn hlen(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let len = ecx.read_hash(&argv[1])?.map_or(0, HashValue::len);
    Ok(Reply::Int(len as i64))
}

fn hstrlen(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let value = ecx.read_hash(&argv[1])?.and_then(|h| h.get(&argv[2]));
    Ok(Reply::Int(value.map_or(0, <[u8]>::len) as i64))
}

fn hexists(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let found = ecx
        .read_hash(&argv[1])?
        .is_some_and(|h| h.contains(&argv[2]));
    Ok(Reply::Int(i64::from(found)))
}

fn hkeys(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let hash = ecx.read_hash(&argv[1])?;
    Ok(Reply::bulk_array(
        hash.into_iter().flat_map(|h| h.iter().map(|(f, _)| f)),
    ))
}

fn hvals(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let hash = ecx.read_hash(&argv[1])?;
    Ok(Reply::bulk_array(
        hash.into_iter().flat_map(|h| h.iter().map(|(_, v)| v)),
    ))
}

/// HGETALL: a map in RESP3 (an empty one for a missing key), a flat array in RESP2.
fn hgetall(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let hash = ecx.read_hash(&argv[1])?;
    Ok(Reply::Map(hash.map_or_else(Vec::new, pair_replies)))
}

fn pair_replies(hash: &HashValue) -> Vec<(Reply, Reply)> {
    hash.iter()
        .map(|(f, v)| (Reply::bulk(f), Reply::bulk(v)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Counters.

/// HINCRBY key field increment: the field (0 when missing) plus the increment, stored back.
fn hincrby(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (field, by) = (&argv[2], parse_i64(&argv[3])?);
    let sum = ecx.edit_hash(&argv[1], IfAbsent::Create, |h, limits| {
        let current = match h.get(field) {
            Some(bytes) => numfmt::parse_i64(bytes).ok_or(CmdError::HashValueNotInteger)?,
            None => 0,
        };
        let sum = current.checked_add(by).ok_or(CmdError::Overflow)?;
        h.insert(field, sum.to_string().as_bytes(), limits);
        Ok((sum, Change::Modified))
    })?;
    Ok(Reply::Int(sum.expect("IfAbsent::Create always edits")))
}

/// HINCRBYFLOAT key field increment: x87 long-double arithmetic and formatting, as
/// INCRBYFLOAT (numfmt); the reply bytes are what is stored.
fn hincrbyfloat(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let field = &argv[2];
    let by = numfmt::parse_long_double(&argv[3]).ok_or(CmdError::NotFloat)?;
    if let LongDouble::Infinite { .. } = by {
        return Err(CmdError::IncrIsNanOrInfinity);
    }
    let text = ecx.edit_hash(&argv[1], IfAbsent::Create, |h, limits| {
        let current = match h.get(field) {
            Some(bytes) => numfmt::parse_long_double(bytes).ok_or(CmdError::HashValueNotFloat)?,
            None => LongDouble::ZERO,
        };
        let sum = numfmt::add_long_double(current, by).ok_or(CmdError::IncrOnNanOrInf)?;
        let mut text = Vec::new();
        numfmt::fmt_long_double_human(sum, &mut text);
        h.insert(field, &text, limits);
        Ok((text, Change::Modified))
    })?;
    Ok(Reply::Bulk(text.expect("IfAbsent::Create always edits")))
}

// ---------------------------------------------------------------------------------------------
// HRANDFIELD.

/// What HRANDFIELD was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RandField {
    /// No count: one field as a bulk string (nil for a missing key).
    One,
    /// A count: an array (empty for a missing key).
    Many { count: i64, with_values: WithValues },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WithValues {
    No,
    Yes,
}

/// HRANDFIELD key [count [WITHVALUES]]
fn parse_hrandfield(argv: &Argv) -> Result<RandField, CmdError> {
    let mut args = Args::new(argv, 2);
    let Some(count) = args.next() else {
        return Ok(RandField::One);
    };
    let count = parse_i64(count)?;
    if count == i64::MIN {
        // getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) without a message.
        return Err(CmdError::ValueNotBetween {
            min: -i64::MAX,
            max: i64::MAX,
        });
    }
    let with_values = if args.eat("WITHVALUES") {
        WithValues::Yes
    } else {
        WithValues::No
    };
    args.finish()?;
    let bound = RANDFIELD_WITHVALUES_COUNT_MAX;
    if with_values == WithValues::Yes && !(-bound..=bound).contains(&count) {
        return Err(CmdError::OutOfRange);
    }
    Ok(RandField::Many { count, with_values })
}

fn hrandfield(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let asked = parse_hrandfield(argv)?;
    // The draws come from the Cx's generator through a child seeded by it: the hash stays
    // borrowed from the shard while they are made.
    let mut rng = ChaCha8Rng::seed_from_u64(ecx.env().random_u64());
    let hash = ecx.read_hash(&argv[1])?;
    match (asked, hash) {
        (RandField::One, None) => Ok(Reply::Nil),
        (RandField::One, Some(h)) => {
            let (field, _) = h
                .random(|| rng.next_u64())
                .expect("a stored hash is not empty");
            Ok(Reply::bulk(field))
        }
        (RandField::Many { .. }, None) | (RandField::Many { count: 0, .. }, Some(_)) => {
            Ok(Reply::Array(Vec::new()))
        }
        (RandField::Many { count, with_values }, Some(h)) => {
            let picked = rand_fields(h, count, &mut rng)?;
            Ok(rand_reply(picked, with_values))
        }
    }
}

/// A field and its value, borrowed from the hash.
type Pair<'h> = (&'h [u8], &'h [u8]);

/// HRANDFIELD's cases for a non-zero count on a hash, as hrandfieldWithCountCommand has them.
fn rand_fields<'h>(
    h: &'h HashValue,
    count: i64,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Pair<'h>>, CmdError> {
    // `random` is uniform and O(1) on both encodings; `nth` walks a hashtable.
    let mut pick = || {
        h.random(|| rng.next_u64())
            .expect("a stored hash is not empty")
    };
    let len = h.len();
    // Case 1: a negative count (or 1) draws with repetition.
    if count < 0 || count == 1 {
        let draws = count.unsigned_abs();
        if draws > RANDFIELD_REPEATS_MAX {
            return Err(CmdError::OutOfRange);
        }
        return Ok((0..draws).map(|_| pick()).collect());
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    // Case 2: the whole hash.
    if count >= len {
        return Ok(h.iter().collect());
    }
    // Case 3: most of the hash: drop random fields until `count` are left, in hash order.
    if count.saturating_mul(3) > len {
        let mut dropped = BTreeSet::new();
        while dropped.len() < len - count {
            dropped.insert(pick().0);
        }
        let kept = h.iter().filter(|(field, _)| !dropped.contains(field));
        return Ok(kept.collect());
    }
    // Case 4: few of many: distinct random fields in the order drawn.
    let mut seen = BTreeSet::new();
    let mut picked = Vec::with_capacity(count);
    while picked.len() < count {
        let pair = pick();
        if seen.insert(pair.0) {
            picked.push(pair);
        }
    }
    Ok(picked)
}

fn rand_reply(picked: Vec<Pair<'_>>, with_values: WithValues) -> Reply {
    match with_values {
        WithValues::No => Reply::bulk_array(picked.into_iter().map(|(f, _)| f)),
        WithValues::Yes => Reply::Pairs(
            picked
                .into_iter()
                .map(|(f, v)| (Reply::bulk(f), Reply::bulk(v)))
                .collect(),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// HSCAN.

/// HSCAN key cursor [MATCH pattern] [COUNT count]: the next cursor and a flat array of fields
/// and values.
fn hscan(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let cursor = parse_scan_cursor(&argv[2])?;
    let Some(hash) = ecx.read_hash(&argv[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let options = parse_scan_options(argv)?;
    let (next, items) = scan_steps(hash, cursor, &options);
    Ok(scan_reply(next, items))
}

/// scanGenericCommand's loop (see the module doc): the next cursor and the fields and values
/// that pass MATCH. Pairs MATCH drops still count against COUNT, as in Redis.
fn scan_steps(hash: &HashValue, mut cursor: u64, options: &ScanOptions) -> (u64, Vec<Reply>) {
    let steps_max = options.count.saturating_mul(SCAN_STEPS_PER_COUNT);
    let mut items = Vec::new();
    let (mut visited, mut steps) = (0usize, 0usize);
    loop {
        cursor = hash.scan(cursor, |f, v| {
            visited += 1;
            let pattern = options.pattern.as_deref();
            if pattern.is_none_or(|p| glob_match(p, f, false)) {
                items.push(Reply::bulk(f));
                items.push(Reply::bulk(v));
            }
        });
        steps += 1;
        // Redis counts fields and values alike against COUNT.
        if cursor == 0 || steps > steps_max || visited.saturating_mul(2) >= options.count {
            return (cursor, items);
        }
    }
}

fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(cursor.to_string().into_bytes()),
        Reply::Array(items),
    ])
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::cx::{Cx, CxOptions};
    use crate::shard::Shard;

    const OK: &str = "+OK\r\n";
    const NIL: &str = "$-1\r\n";
    const EMPTY_ARRAY: &str = "*0\r\n";
    const SYNTAX: &str = "-ERR syntax error\r\n";
    const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
    const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
    const WRONGTYPE: &str =
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    const BAD_CURSOR: &str = "-ERR invalid cursor\r\n";
    const EMPTY_SCAN: &str = "*2\r\n$1\r\n0\r\n*0\r\n";

    use crate::testkit::{each, FamilyTest as T};

    fn bulk(s: &str) -> String {
        format!("${}\r\n{s}\r\n", s.len())
    }

    fn int(n: i64) -> String {
        format!(":{n}\r\n")
    }

    /// A flat array of bulk strings, "" standing for nil.
    fn array(items: &[&str]) -> String {
        let mut out = format!("*{}\r\n", items.len());
        for item in items {
            out += &if item.is_empty() {
                NIL.to_string()
            } else {
                bulk(item)
            };
        }
        out
    }

    fn arity(name: &str) -> String {
        format!("-ERR wrong number of arguments for '{name}' command\r\n")
    }

    /// The bulk strings of a reply, in order, at any depth.
    fn bulks(reply: &str) -> Vec<String> {
        let lines: Vec<&str> = reply.split("\r\n").collect();
        lines
            .windows(2)
            .filter(|w| w[0].starts_with('$'))
            .map(|w| w[1].to_string())
            .collect()
    }

    /// HSET key with fields f0..f{n-1}, each value v{i}.
    fn fill(t: &mut T, key: &str, n: usize) {
        let pairs: Vec<String> = (0..n)
            .flat_map(|i| [format!("f{i}"), format!("v{i}")])
            .collect();
        let mut args = vec!["HSET", key];
        args.extend(pairs.iter().map(String::as_str));
        assert_eq!(t.run(&args), int(n as i64));
    }

    #[test]
    fn hset_counts_new_fields_and_hmset_answers_ok() {
        each(|t| {
            t.check(&[
                (&["HSET", "h", "a", "1", "b", "2"], &int(2)),
                (&["HSET", "h", "a", "3", "c", "4", "c", "5"], &int(1)),
                (&["HGET", "h", "a"], &bulk("3")),
                (&["HGET", "h", "c"], &bulk("5")),
                (&["HMSET", "h", "d", "6"], OK),
                (&["HLEN", "h"], &int(4)),
                (&["HGET", "h", "nope"], NIL),
                (&["HGET", "missing", "a"], NIL),
                (&["TYPE", "h"], "+hash\r\n"),
                (&["HSET", "h", "", ""], &int(1)),
                (&["HGET", "h", ""], "$0\r\n\r\n"),
            ]);
        });
    }

    #[test]
    fn odd_pairs_are_arity_errors_before_the_type_check() {
        each(|t| {
            t.check(&[
                (&["SET", "s", "v"], OK),
                (&["HSET", "s", "f", "v", "g"], &arity("hset")),
                (&["HMSET", "s", "f", "v", "g"], &arity("hmset")),
                (&["HSET", "h", "f"], &arity("hset")),
                (&["HMSET", "h", "f"], &arity("hmset")),
                (&["HSET", "s", "f", "v"], WRONGTYPE),
                (&["HMSET", "s", "f", "v"], WRONGTYPE),
                (&["EXISTS", "h"], &int(0)),
            ]);
        });
    }

    #[test]
    fn hsetnx_sets_only_a_new_field() {
        each(|t| {
            t.check(&[
                (&["HSETNX", "h", "f", "1"], &int(1)),
                (&["HSETNX", "h", "f", "2"], &int(0)),
                (&["HGET", "h", "f"], &bulk("1")),
                (&["SET", "s", "v"], OK),
                (&["HSETNX", "s", "f", "1"], WRONGTYPE),
            ]);
        });
    }

    #[test]
    fn hdel_counts_and_removes_the_emptied_key() {
        each(|t| {
            t.check(&[
                (&["HDEL", "h", "a"], &int(0)),
                (&["HSET", "h", "a", "1", "b", "2"], &int(2)),
                (&["HDEL", "h", "a", "a", "nope"], &int(1)),
                (&["EXISTS", "h"], &int(1)),
                (&["HDEL", "h", "b"], &int(1)),
                (&["EXISTS", "h"], &int(0)),
                (&["SET", "s", "v"], OK),
                (&["HDEL", "s", "a"], WRONGTYPE),
            ]);
        });
    }

    #[test]
    fn readers_on_present_missing_and_wrong_keys() {
        each(|t| {
            t.check(&[
                (&["HSET", "h", "a", "hello", "b", "1"], &int(2)),
                (
                    &["HMGET", "h", "a", "nope", "b"],
                    &array(&["hello", "", "1"]),
                ),
                (&["HMGET", "missing", "a", "b"], &array(&["", ""])),
                (&["HLEN", "missing"], &int(0)),
                (&["HSTRLEN", "h", "a"], &int(5)),
                (&["HSTRLEN", "h", "nope"], &int(0)),
                (&["HSTRLEN", "missing", "a"], &int(0)),
                (&["HEXISTS", "h", "a"], &int(1)),
                (&["HEXISTS", "h", "nope"], &int(0)),
                (&["HEXISTS", "missing", "a"], &int(0)),
                (&["HKEYS", "h"], &array(&["a", "b"])),
                (&["HVALS", "h"], &array(&["hello", "1"])),
                (&["HGETALL", "h"], &array(&["a", "hello", "b", "1"])),
                (&["HKEYS", "missing"], EMPTY_ARRAY),
                (&["HVALS", "missing"], EMPTY_ARRAY),
                (&["HGETALL", "missing"], EMPTY_ARRAY),
                (&["SET", "s", "v"], OK),
            ]);
            for cmd in [
                &["HGET", "s", "a"][..],
                &["HMGET", "s", "a"],
                &["HLEN", "s"],
                &["HSTRLEN", "s", "a"],
                &["HEXISTS", "s", "a"],
                &["HKEYS", "s"],
                &["HVALS", "s"],
                &["HGETALL", "s"],
                &["HRANDFIELD", "s"],
                &["HRANDFIELD", "s", "2"],
                &["HSCAN", "s", "0"],
                &["HINCRBY", "s", "f", "1"],
                &["HINCRBYFLOAT", "s", "f", "1"],
            ] {
                assert_eq!(t.run(cmd), WRONGTYPE, "{cmd:?}");
            }
            assert_eq!(t.run(&["GET", "s"]), bulk("v"));
        });
    }

    #[test]
    fn resp3_maps_nils_and_nested_pairs() {
        each(|t| {
            t.run(&["HELLO", "3"]);
            t.check(&[
                (&["HSET", "h", "a", "1"], &int(1)),
                (&["HGETALL", "h"], "%1\r\n$1\r\na\r\n$1\r\n1\r\n"),
                (&["HGETALL", "missing"], "%0\r\n"),
                (&["HMGET", "h", "a", "b"], "*2\r\n$1\r\n1\r\n_\r\n"),
                (&["HGET", "h", "b"], "_\r\n"),
                (&["HRANDFIELD", "missing"], "_\r\n"),
                (&["HRANDFIELD", "missing", "1", "WITHVALUES"], EMPTY_ARRAY),
                (
                    &["HRANDFIELD", "h", "2", "WITHVALUES"],
                    "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
                ),
                (
                    &["HRANDFIELD", "h", "-2", "WITHVALUES"],
                    "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
                ),
                (&["HRANDFIELD", "h", "-2"], &array(&["a", "a"])),
                (&["HRANDFIELD", "h", "0", "WITHVALUES"], EMPTY_ARRAY),
                (
                    &["HSCAN", "h", "0"],
                    "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
                ),
                (&["HSCAN", "missing", "0"], EMPTY_SCAN),
            ]);
        });
    }

    #[test]
    fn hincrby_creates_adds_and_refuses() {
        each(|t| {
            t.check(&[
                (&["HINCRBY", "h", "n", "5"], &int(5)),
                (&["HINCRBY", "h", "n", "-7"], &int(-2)),
                (&["HGET", "h", "n"], &bulk("-2")),
                (&["HSET", "h", "x", "abc", "sp", " 1", "f", "1.5"], &int(3)),
                (
                    &["HINCRBY", "h", "x", "1"],
                    "-ERR hash value is not an integer\r\n",
                ),
                (
                    &["HINCRBY", "h", "sp", "1"],
                    "-ERR hash value is not an integer\r\n",
                ),
                (
                    &["HINCRBY", "h", "f", "1"],
                    "-ERR hash value is not an integer\r\n",
                ),
                (&["HSET", "h", "m", "9223372036854775807"], &int(1)),
                (
                    &["HINCRBY", "h", "m", "1"],
                    "-ERR increment or decrement would overflow\r\n",
                ),
                (&["HINCRBY", "h", "m", "-1"], &int(9223372036854775806)),
                (&["HINCRBY", "h", "n", "abc"], NOT_INT),
                (&["HINCRBY", "h", "n", "9223372036854775808"], NOT_INT),
                // The increment is parsed before the key's type is checked.
                (&["SET", "s", "v"], OK),
                (&["HINCRBY", "s", "n", "abc"], NOT_INT),
                // A refused increment on a new key creates nothing.
                (&["HINCRBY", "new", "n", "x"], NOT_INT),
                (&["EXISTS", "new"], &int(0)),
            ]);
        });
    }

    #[test]
    fn hincrbyfloat_long_double_results_and_errors() {
        each(|t| {
            t.check(&[
                (&["HINCRBYFLOAT", "h", "f", "0.1"], &bulk("0.1")),
                (&["HINCRBYFLOAT", "h", "f", "0.2"], &bulk("0.3")),
                (
                    &["HSET", "h", "g", "10.50", "e", "5.0e3", "i", "3"],
                    &int(3),
                ),
                (&["HINCRBYFLOAT", "h", "g", "0.1"], &bulk("10.6")),
                (&["HINCRBYFLOAT", "h", "e", "2.0e2"], &bulk("5200")),
                (&["HINCRBYFLOAT", "h", "i", "1.5"], &bulk("4.5")),
                (&["HGET", "h", "i"], &bulk("4.5")),
                (&["HINCRBYFLOAT", "h", "f", "abc"], NOT_FLOAT),
                (&["HINCRBYFLOAT", "h", "f", "nan"], NOT_FLOAT),
                (
                    &["HINCRBYFLOAT", "h", "f", "inf"],
                    "-ERR value is NaN or Infinity\r\n",
                ),
                (
                    &["HINCRBYFLOAT", "h", "f", "-inf"],
                    "-ERR value is NaN or Infinity\r\n",
                ),
                (
                    &["HSET", "h", "w", "abc", "sp", " 1", "inf", "inf"],
                    &int(3),
                ),
                (
                    &["HINCRBYFLOAT", "h", "w", "1"],
                    "-ERR hash value is not a float\r\n",
                ),
                (
                    &["HINCRBYFLOAT", "h", "sp", "1"],
                    "-ERR hash value is not a float\r\n",
                ),
                (
                    &["HINCRBYFLOAT", "h", "inf", "1"],
                    "-ERR increment would produce NaN or Infinity\r\n",
                ),
                (&["HGET", "h", "w"], &bulk("abc")),
                (&["SET", "s", "v"], OK),
                (
                    &["HINCRBYFLOAT", "s", "f", "inf"],
                    "-ERR value is NaN or Infinity\r\n",
                ),
                (&["HINCRBYFLOAT", "new", "f", "x"], NOT_FLOAT),
                (&["EXISTS", "new"], &int(0)),
            ]);
        });
    }

    #[test]
    fn hrandfield_argument_errors_come_before_the_key() {
        let between = "-ERR value is out of range, value must between -9223372036854775807 and \
                       9223372036854775807\r\n";
        let range = "-ERR value is out of range\r\n";
        each(|t| {
            t.check(&[
                (&["SET", "s", "v"], OK),
                (&["HRANDFIELD", "s", "abc"], NOT_INT),
                (&["HRANDFIELD", "s", "1", "foo"], SYNTAX),
                (&["HRANDFIELD", "s", "1", "WITHVALUES", "x"], SYNTAX),
                (&["HRANDFIELD", "missing", "0", "foo"], SYNTAX),
                (&["HRANDFIELD", "s", "-9223372036854775808"], between),
                (
                    &["HRANDFIELD", "s", "4611686018427387904", "withvalues"],
                    range,
                ),
                (
                    &["HRANDFIELD", "s", "-4611686018427387904", "withvalues"],
                    range,
                ),
                (
                    &["HRANDFIELD", "missing", "4611686018427387903", "withvalues"],
                    EMPTY_ARRAY,
                ),
                (
                    &[
                        "HRANDFIELD",
                        "missing",
                        "-4611686018427387903",
                        "withvalues",
                    ],
                    EMPTY_ARRAY,
                ),
                (&["HRANDFIELD", "missing"], NIL),
                (&["HRANDFIELD", "missing", "3"], EMPTY_ARRAY),
                (&["HRANDFIELD", "missing", "-3"], EMPTY_ARRAY),
            ]);
        });
    }

    /// The pairs of an HRANDFIELD WITHVALUES reply (RESP2).
    fn rand_pairs(t: &mut T, count: &str) -> Vec<(String, String)> {
        let items = bulks(&t.run(&["HRANDFIELD", "h", count, "WITHVALUES"]));
        items
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect()
    }

    #[test]
    fn hrandfield_counts_follow_redis_cases() {
        each(|t| {
            fill(t, "h", 10);
            let stored: BTreeMap<String, String> = (0..10)
                .map(|i| (format!("f{i}"), format!("v{i}")))
                .collect();
            let consistent =
                |pairs: &[(String, String)]| pairs.iter().all(|(f, v)| stored.get(f) == Some(v));
            // count 0, whole hash, distinct (case 3 and case 4), repetition.
            assert_eq!(t.run(&["HRANDFIELD", "h", "0"]), EMPTY_ARRAY);
            for count in ["10", "11", "1000"] {
                let pairs = rand_pairs(t, count);
                assert_eq!(pairs.len(), 10, "{count}");
                assert!(consistent(&pairs));
                let fields: BTreeSet<_> = pairs.iter().map(|p| &p.0).collect();
                assert_eq!(fields.len(), 10, "{count}");
            }
            for count in [2usize, 3, 4, 9] {
                let pairs = rand_pairs(t, &count.to_string());
                assert_eq!(pairs.len(), count);
                assert!(consistent(&pairs));
                let fields: BTreeSet<_> = pairs.iter().map(|p| &p.0).collect();
                assert_eq!(fields.len(), count, "distinct for {count}");
            }
            let pairs = rand_pairs(t, "-50");
            assert_eq!(pairs.len(), 50);
            assert!(consistent(&pairs));
            let fields: BTreeSet<_> = pairs.iter().map(|p| &p.0).collect();
            assert!(fields.len() < 50, "repetition with a negative count");
            let one = bulks(&t.run(&["HRANDFIELD", "h"]));
            assert!(stored.contains_key(&one[0]));
            assert_eq!(bulks(&t.run(&["HRANDFIELD", "h", "-3"])).len(), 3);
            assert_eq!(bulks(&t.run(&["HRANDFIELD", "h", "1"])).len(), 1);
        });
    }

    #[test]
    fn hrandfield_repeats_past_the_named_limit_are_refused() {
        each(|t| {
            fill(t, "h", 2);
            let past = format!("-{}", RANDFIELD_REPEATS_MAX + 1);
            assert_eq!(
                t.run(&["HRANDFIELD", "h", &past]),
                "-ERR value is out of range\r\n"
            );
        });
    }

    #[test]
    fn hscan_cursor_and_options() {
        each(|t| {
            t.check(&[
                (&["HSCAN", "missing", "0", "COUNT", "0"], EMPTY_SCAN),
                (&["HSCAN", "missing", "abc"], BAD_CURSOR),
                (&["HSET", "h", "a1", "1", "a2", "2", "b1", "3"], &int(3)),
                (
                    &["HSCAN", "h", "0"],
                    &format!(
                        "*2\r\n$1\r\n0\r\n{}",
                        array(&["a1", "1", "a2", "2", "b1", "3"])
                    ),
                ),
                (
                    &["HSCAN", "h", "0", "MATCH", "a*", "COUNT", "1"],
                    &format!("*2\r\n$1\r\n0\r\n{}", array(&["a1", "1", "a2", "2"])),
                ),
                (
                    &["HSCAN", "h", "0", "match", "x*"],
                    &format!("*2\r\n$1\r\n0\r\n{EMPTY_ARRAY}"),
                ),
                (&["HSCAN", "h", "0", "COUNT", "0"], SYNTAX),
                (&["HSCAN", "h", "0", "COUNT", "-1"], SYNTAX),
                (&["HSCAN", "h", "0", "COUNT", "x"], NOT_INT),
                (&["HSCAN", "h", "0", "COUNT"], SYNTAX),
                (&["HSCAN", "h", "0", "MATCH"], SYNTAX),
                (&["HSCAN", "h", "0", "TYPE", "hash"], SYNTAX),
                (&["HSCAN", "h", "0", "NOVALUES"], SYNTAX),
                (&["HSCAN", "h", "-"], BAD_CURSOR),
                (&["HSCAN", "h", " 1"], BAD_CURSOR),
                (&["HSCAN", "h", "18446744073709551616"], BAD_CURSOR),
            ]);
            // A listpack comes back whole, with cursor 0, from any cursor.
            for cursor in ["", "-1", "18446744073709551615", "+5", "-0"] {
                let reply = t.run(&["HSCAN", "h", cursor]);
                assert_eq!(bulks(&reply).len(), 7, "{cursor:?}");
                assert!(reply.starts_with("*2\r\n$1\r\n0\r\n"), "{cursor:?}");
            }
        });
    }

    #[test]
    fn hscan_iterates_a_hashtable_whole() {
        each(|t| {
            fill(t, "h", 600);
            assert_eq!(t.run(&["OBJECT", "ENCODING", "h"]), "$9\r\nhashtable\r\n");
            let mut seen = BTreeMap::new();
            let mut cursor = "0".to_string();
            for _ in 0..1000 {
                let mut items = bulks(&t.run(&["HSCAN", "h", &cursor, "COUNT", "7"]));
                cursor = items.remove(0);
                for pair in items.chunks(2) {
                    seen.insert(pair[0].clone(), pair[1].clone());
                }
                if cursor == "0" {
                    break;
                }
            }
            assert_eq!(cursor, "0");
            assert_eq!(seen.len(), 600);
            assert!(seen.iter().all(|(f, v)| f[1..] == v[1..]));
        });
    }

    #[test]
    fn parse_cursor_is_strtoul() {
        let ok: &[(&[u8], u64)] = &[
            (b"0", 0),
            (b"", 0),
            (b"007", 7),
            (b"+5", 5),
            (b"-0", 0),
            (b"-1", u64::MAX),
            (b"18446744073709551615", u64::MAX),
            (b"-18446744073709551615", 1),
            (b"1\0x", 1),
        ];
        for (arg, want) in ok {
            assert_eq!(parse_scan_cursor(arg), Ok(*want), "{arg:?}");
        }
        let bad: &[&[u8]] = &[
            b"-",
            b"+",
            b" 1",
            b"\x0b1",
            b"1 ",
            b"0x1",
            b"abc",
            b"18446744073709551616",
            b"-18446744073709551616",
            b"--1",
        ];
        for arg in bad {
            assert_eq!(
                parse_scan_cursor(arg),
                Err(CmdError::InvalidCursor),
                "{arg:?}"
            );
        }
    }

    #[test]
    fn encodings_convert_at_the_listpack_limits() {
        each(|t| {
            let x64 = "x".repeat(64);
            let x65 = "x".repeat(65);
            let e70 = "10000000000000000000222479489586148259025995410601157579323600873193472";
            // hash-max-listpack-entries is 512 in redis-server 7.0.
            fill(t, "h", 512);
            assert_eq!(t.run(&["OBJECT", "ENCODING", "h"]), bulk("listpack"));
            t.check(&[
                (&["HSET", "h", "f0", "again"], &int(0)),
                (&["OBJECT", "ENCODING", "h"], &bulk("listpack")),
                (&["HSET", "h", "f512", "v"], &int(1)),
                (&["OBJECT", "ENCODING", "h"], &bulk("hashtable")),
                (&["HDEL", "h", "f512", "f511"], &int(2)),
                (&["OBJECT", "ENCODING", "h"], &bulk("hashtable")),
                (&["HSET", "v", "f", &x64], &int(1)),
                (&["HSET", "v", &x64, "v"], &int(1)),
                (&["OBJECT", "ENCODING", "v"], &bulk("listpack")),
                (&["HSET", "v", "f", &x65], &int(0)),
                (&["OBJECT", "ENCODING", "v"], &bulk("hashtable")),
                (&["HSETNX", "n", &x65, "1"], &int(1)),
                (&["OBJECT", "ENCODING", "n"], &bulk("hashtable")),
                (&["HINCRBY", "i", &x65, "1"], &int(1)),
                (&["OBJECT", "ENCODING", "i"], &bulk("hashtable")),
                (&["HSET", "fl", "f", "1"], &int(1)),
                (&["HINCRBYFLOAT", "fl", "f", "1e70"], &bulk(e70)),
                (&["OBJECT", "ENCODING", "fl"], &bulk("hashtable")),
            ]);
        });
    }

    /// A shard driven directly, to read its keyspace counters.
    struct Direct {
        shard: Shard,
        cx: Cx,
        table: crate::cmd::CommandTable,
    }

    impl Direct {
        fn run(&mut self, line: &str) -> Reply {
            let args: Vec<&str> = line.split(' ').collect();
            let spec = self.table.lookup(args[0].as_bytes()).expect("command");
            assert!(spec.arity_ok(args.len()), "{line}: arity");
            let crate::cmd::Exec::Shard { run, .. } = spec.exec else {
                panic!("{line}: not keyed")
            };
            let mut ecx = ExecCx::new(&mut self.shard, 0, 1_767_225_600_000, &mut self.cx);
            run(&mut ecx, &Argv::from_slices(&args)).into()
        }

        fn counters(&self) -> (u64, u64) {
            let stats = &self.shard.stats;
            (stats.keyspace_hits, stats.keyspace_misses)
        }
    }

    #[test]
    fn keyspace_counters_follow_lookup_key_read() {
        let mut d = Direct {
            shard: Shard::new(1, 7),
            cx: Cx::new(1, CxOptions::default()),
            table: crate::cmd::CommandTable::new(),
        };
        d.run("HSET h f 1");
        // (command, hits added, misses added), as redis-server 7.0 counts them.
        let cases: &[(&str, u64, u64)] = &[
            ("HGET h f", 1, 0),
            ("HGET missing f", 0, 1),
            ("HMGET h f g", 1, 0),
            ("HMGET missing f", 0, 1),
            ("HLEN h", 1, 0),
            ("HSTRLEN missing f", 0, 1),
            ("HEXISTS h f", 1, 0),
            ("HKEYS h", 1, 0),
            ("HVALS missing", 0, 1),
            ("HGETALL h", 1, 0),
            ("HRANDFIELD h", 1, 0),
            ("HRANDFIELD missing 2", 0, 1),
            ("HSCAN h 0", 1, 0),
            ("HSCAN missing 0", 0, 1),
            ("HSET h g 2", 0, 0),
            ("HSETNX h g 2", 0, 0),
            ("HMSET n a 1", 0, 0),
            ("HINCRBY h c 1", 0, 0),
            ("HINCRBYFLOAT h c 1", 0, 0),
            ("HDEL h c", 0, 0),
            ("HDEL missing c", 0, 0),
        ];
        for (line, hits, misses) in cases {
            let (h0, m0) = d.counters();
            assert!(!d.run(line).is_error(), "{line}");
            let (h1, m1) = d.counters();
            assert_eq!((h1 - h0, m1 - m0), (*hits, *misses), "{line}");
        }
    }

    /// Every row as COMMAND INFO on redis-server 7.0.15 shows it: arity, flags, legacy key
    /// range, ACL categories and key-spec flags.
    #[test]
    fn rows_match_redis_command_info() {
        // name arity | flags | legacy first last step | ACL categories | key-spec flags
        let rows = [
            "hset -4 | write denyoom fast | 1 1 1 | write hash fast | RW update",
            "hsetnx 4 | write denyoom fast | 1 1 1 | write hash fast | RW insert",
            "hget 3 | readonly fast | 1 1 1 | read hash fast | RO access",
            "hmset -4 | write denyoom fast | 1 1 1 | write hash fast | RW update",
            "hmget -3 | readonly fast | 1 1 1 | read hash fast | RO access",
            "hdel -3 | write fast | 1 1 1 | write hash fast | RW delete",
            "hlen 2 | readonly fast | 1 1 1 | read hash fast | RO",
            "hstrlen 3 | readonly fast | 1 1 1 | read hash fast | RO",
            "hexists 3 | readonly fast | 1 1 1 | read hash fast | RO",
            "hkeys 2 | readonly | 1 1 1 | read hash slow | RO access",
            "hvals 2 | readonly | 1 1 1 | read hash slow | RO access",
            "hgetall 2 | readonly | 1 1 1 | read hash slow | RO access",
            "hincrby 4 | write denyoom fast | 1 1 1 | write hash fast | RW access update",
            "hincrbyfloat 4 | write denyoom fast | 1 1 1 | write hash fast | RW access update",
            "hrandfield -2 | readonly | 1 1 1 | read hash slow | RO access",
            "hscan -3 | readonly | 1 1 1 | read hash slow | RO access",
        ];
        assert_eq!(SPECS.len(), rows.len());
        for want in rows {
            let name = want.split(' ').next().expect("name");
            let spec = SPECS.iter().find(|s| s.name == name).expect(name);
            assert_eq!(crate::cmd::info_line(spec, "hash"), want);
        }
    }
}
