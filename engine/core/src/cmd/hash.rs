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

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::access::{Change, IfAbsent};
use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64, Args};
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, Docs, Exec, KeySpec, Merge};
use crate::db::HashValue;
use crate::error::CmdError;
use crate::glob::glob_match;
use crate::numfmt::{self, LongDouble};
use crate::reply::Reply;
use crate::shard::ExecCx;

/// The largest number of draws HRANDFIELD makes with repetition (see the module doc).
const RANDFIELD_REPEATS_MAX: u64 = 1 << 24;
/// HRANDFIELD WITHVALUES bounds its count to ±LONG_MAX/2 (t_hash.c), so twice it fits.
const RANDFIELD_WITHVALUES_COUNT_MAX: i64 = i64::MAX / 2;
/// HSCAN's default COUNT.
const SCAN_COUNT_DEFAULT: usize = 10;
/// scanGenericCommand gives up after `count * 10` extra table steps.
const SCAN_STEPS_PER_COUNT: usize = 10;

const fn docs(summary: &'static str, since: &'static str, complexity: &'static str) -> Docs {
    Docs {
        summary,
        since,
        group: "hash",
        complexity,
    }
}

const fn row(
    name: &'static str,
    arity: i16,
    flags: u32,
    keys: &'static [KeySpec],
    run: crate::cmd::ShardFn,
    docs: Docs,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl: acl::HASH,
        keys,
        exec: Exec::Shard {
            run,
            merge: Merge::OneKey,
        },
        subcommands: &[],
        docs,
    }
}

const RO: &[KeySpec] = &[KeySpec::one(kf::RO, 1)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(kf::RO | kf::ACCESS, 1)];
const RW_UPDATE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::UPDATE, 1)];
const RW_ACCESS_UPDATE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::ACCESS | kf::UPDATE, 1)];

const W_DENYOOM_FAST: u32 = flag::WRITE | flag::DENYOOM | flag::FAST;
const R_FAST: u32 = flag::READONLY | flag::FAST;
const SIZE_N: &str = "O(N) where N is the size of the hash.";

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    row("hset", -4, W_DENYOOM_FAST, RW_UPDATE, hset,
        docs("Set the string value of a hash field", "2.0.0", "O(1) for each field/value pair \
        added, so O(N) to add N field/value pairs when the command is called with multiple \
        field/value pairs.")),
    row("hsetnx", 4, W_DENYOOM_FAST, &[KeySpec::one(kf::RW | kf::INSERT, 1)], hsetnx,
        docs("Set the value of a hash field, only if the field does not exist", "2.0.0",
        "O(1)")),
    row("hget", 3, R_FAST, RO_ACCESS, hget,
        docs("Get the value of a hash field", "2.0.0", "O(1)")),
    row("hmset", -4, W_DENYOOM_FAST, RW_UPDATE, hmset,
        docs("Set multiple hash fields to multiple values", "2.0.0",
        "O(N) where N is the number of fields being set.")),
    row("hmget", -3, R_FAST, RO_ACCESS, hmget,
        docs("Get the values of all the given hash fields", "2.0.0",
        "O(N) where N is the number of fields being requested.")),
    row("hdel", -3, flag::WRITE | flag::FAST, &[KeySpec::one(kf::RW | kf::DELETE, 1)], hdel,
        docs("Delete one or more hash fields", "2.0.0",
        "O(N) where N is the number of fields to be removed.")),
    row("hlen", 2, R_FAST, RO, hlen,
        docs("Get the number of fields in a hash", "2.0.0", "O(1)")),
    row("hstrlen", 3, R_FAST, RO, hstrlen,
        docs("Get the length of the value of a hash field", "3.2.0", "O(1)")),
    row("hexists", 3, R_FAST, RO, hexists,
        docs("Determine if a hash field exists", "2.0.0", "O(1)")),
    row("hkeys", 2, flag::READONLY, RO_ACCESS, hkeys,
        docs("Get all the fields in a hash", "2.0.0", SIZE_N)),
    row("hvals", 2, flag::READONLY, RO_ACCESS, hvals,
        docs("Get all the values in a hash", "2.0.0", SIZE_N)),
    row("hgetall", 2, flag::READONLY, RO_ACCESS, hgetall,
        docs("Get all the fields and values in a hash", "2.0.0", SIZE_N)),
    row("hincrby", 4, W_DENYOOM_FAST, RW_ACCESS_UPDATE, hincrby,
        docs("Increment the integer value of a hash field by the given number", "2.0.0",
        "O(1)")),
    row("hincrbyfloat", 4, W_DENYOOM_FAST, RW_ACCESS_UPDATE, hincrbyfloat,
        docs("Increment the float value of a hash field by the given amount", "2.6.0",
        "O(1)")),
    row("hrandfield", -2, flag::READONLY, RO_ACCESS, hrandfield,
        docs("Get one or multiple random fields from a hash", "6.2.0",
        "O(N) where N is the number of fields returned")),
    row("hscan", -3, flag::READONLY, RO_ACCESS, hscan,
        docs("Incrementally iterate hash fields and associated values", "2.8.0",
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
    let added = ecx.edit_hash(&argv[1], IfAbsent::Create, |h, limits| {
        let added = pairs
            .filter(|(field, value)| h.insert(field, value, limits))
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
    let mut rng = ChaCha8Rng::seed_from_u64(ecx.cx.random_u64());
    let hash = ecx.read_hash(&argv[1])?;
    match (asked, hash) {
        (RandField::One, None) => Ok(Reply::Nil),
        (RandField::One, Some(h)) => {
            let (field, _) = h.nth(draw(&mut rng, h.len())).expect("index below len");
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

/// A uniform index below `len` (> 0).
fn draw(rng: &mut ChaCha8Rng, len: usize) -> usize {
    assert!(len > 0, "a stored hash is never empty");
    rng.gen_range(0..len)
}

/// HRANDFIELD's cases for a non-zero count on a hash, as hrandfieldWithCountCommand has them.
fn rand_fields<'h>(
    h: &'h HashValue,
    count: i64,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<(&'h [u8], &'h [u8])>, CmdError> {
    let nth = |i: usize| h.nth(i).expect("index below len");
    let len = h.len();
    // Case 1: a negative count (or 1) draws with repetition.
    if count < 0 || count == 1 {
        let draws = count.unsigned_abs();
        if draws > RANDFIELD_REPEATS_MAX {
            return Err(CmdError::OutOfRange);
        }
        return Ok((0..draws).map(|_| nth(draw(rng, len))).collect());
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
            dropped.insert(draw(rng, len));
        }
        let kept = h.iter().enumerate().filter(|(i, _)| !dropped.contains(i));
        return Ok(kept.map(|(_, pair)| pair).collect());
    }
    // Case 4: few of many: distinct random fields in the order drawn.
    let mut seen = BTreeSet::new();
    let mut picked = Vec::with_capacity(count);
    while picked.len() < count {
        let i = draw(rng, len);
        if seen.insert(i) {
            picked.push(nth(i));
        }
    }
    Ok(picked)
}

fn rand_reply(picked: Vec<(&[u8], &[u8])>, with_values: WithValues) -> Reply {
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

/// HSCAN's options. A `MATCH *` is no pattern at all, as in Redis.
#[derive(Debug, PartialEq, Eq)]
struct ScanOptions {
    pattern: Option<Vec<u8>>,
    count: usize,
}

/// `[MATCH pattern] [COUNT count]` from argument 3 on (scanGenericCommand's loop: each option
/// needs its value; a COUNT below 1 is a syntax error; HSCAN takes no TYPE).
fn parse_scan_options(argv: &Argv) -> Result<ScanOptions, CmdError> {
    let mut parsed = ScanOptions {
        pattern: None,
        count: SCAN_COUNT_DEFAULT,
    };
    let mut args = Args::new(argv, 3);
    while let Some(word) = args.next() {
        if args.is_done() {
            return Err(CmdError::Syntax);
        }
        if eq_word(word, "COUNT") {
            let n = args.next_i64()?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            parsed.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq_word(word, "MATCH") {
            let pattern = args.next_arg()?;
            parsed.pattern = (pattern != b"*").then(|| pattern.to_vec());
        } else {
            return Err(CmdError::Syntax);
        }
    }
    args.finish()?;
    Ok(parsed)
}

/// Redis 7.0's parseScanCursorOrReply: strtoul in base 10 over the argument as a C string (cut
/// at its first NUL), refused when it starts with a space, has anything after the digits, or
/// overflows. strtoul takes one sign: `-1` wraps to u64::MAX; a sign without digits is
/// refused, but an empty cursor reads as 0.
/// TODO(merge): SCAN's own copy in keyspace.rs is being fixed in cmd/args.rs; the two can
/// become one once that lands.
fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let text = arg.split(|&b| b == 0).next().unwrap_or_default();
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    let signed_without_digits = digits.is_empty() && !text.is_empty();
    if signed_without_digits || !digits.iter().all(u8::is_ascii_digit) {
        return Err(CmdError::InvalidCursor);
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(CmdError::InvalidCursor)?;
    }
    Ok(if negative { n.wrapping_neg() } else { n })
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]: the next cursor and a flat array of fields
/// and values.
fn hscan(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let cursor = parse_cursor(&argv[2])?;
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
