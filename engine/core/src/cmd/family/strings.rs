//! Strings: Redis 7.0's string family (GET, SET and its options, the M* commands, GETEX,
//! APPEND, GETRANGE/SETRANGE, the INCR family, INCRBYFLOAT, LCS).
//!
//! Three layers: the table rows; parsers that turn argv into typed options and end in
//! `finish()`; handlers that run on one shard's data and never see routing. MGET and MSET are
//! split per shard (`Merge::KeyOrder`, `Merge::AllOk`); MSETNX and LCS must see all their keys
//! at once, so they run on gathered copies (`Merge::Gather`): MSETNX sets all keys or none.
//!
//! Encodings follow Redis so OBJECT ENCODING answers alike (`db::StrValue`). A value written
//! whole (SET, SETNX, SETEX, GETSET, MSET, MSETNX, APPEND to a missing key) goes through
//! `StrValue::from_bytes` (or `Entry::from_set_bytes`), Redis's tryObjectEncoding: int, embstr up
//! to 44 bytes, else raw.
//! APPEND and SETRANGE on an existing value make it raw (dbUnshareStringValue), even when
//! appending nothing; INCR-family results are int; INCRBYFLOAT results are embstr or raw by
//! length and never int (createStringObject); GETEX and reads leave the encoding alone.
//!
//! Quirks of redis-server 7.0.15 we keep, each checked against it:
//! - SET/GETEX options (parseExtendedStringArgumentsOrReply) may repeat, the last value winning,
//!   but not mix with another of their group (NX/XX; KEEPTTL, PERSIST, EX, PX, EXAT, PXAT). The
//!   whole grammar is checked before any expire value is parsed: `EX abc NX XX` is a syntax
//!   error. GETEX checks its expire value only after finding the key, so `GETEX missing EX 0`
//!   answers nil.
//! - A past deadline given to SET EXAT/PXAT stores a key that is already expired (DBSIZE counts
//!   it until it is reaped); GETEX EXAT/PXAT in the past deletes the key at once.
//! - SET ... GET reads the old value, and so checks its type, before NX/XX: on WRONGTYPE nothing
//!   is written; with NX on an existing key it answers the old value and writes nothing.
//! - Keyspace hits and misses are counted by the commands that read through lookupKeyRead (GET,
//!   SET GET, GETSET, GETDEL, GETEX, GETRANGE, SUBSTR, STRLEN, MGET, LCS), not by the
//!   read-modify-write ones (INCR family, APPEND, SETRANGE, SETNX, MSETNX). A key of another
//!   type counts as a hit.
//! - SETRANGE with an empty value answers before its size check: 0 on a missing key (creating
//!   nothing), the current length on an existing one. GETRANGE of a missing key is an empty
//!   bulk, not nil. DECRBY of i64::MIN has its own error text.
//! - LCS checks its keys' types before its options and refuses when its (n+1)*(m+1) table of
//!   u32 would pass proto-max-bulk-len, which bounds its transient memory.
//!
//! Size limits use proto-max-bulk-len's default: it cannot be changed at run time here, so the
//! default is the value in force.
//!
//! Deadlines are absolute unix milliseconds computed once from the hop's time (`ecx.now_ms()`);
//! lookups compare deadlines against `ecx.read_now_ms()`.

use std::borrow::Cow;

use crate::access::{Change, ExecCx};
use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64, Args};
use crate::cmd::Family;
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, GatherDbs, KeySpec, Merge};
use crate::config::PROTO_MAX_BULK_LEN_DEFAULT_BYTES;
use crate::db::{Access, Entry, StrRef, StrValue, Value, ValueRef, EMBSTR_LEN_MAX_BYTES};
use crate::error::CmdError;
use crate::numfmt;
use crate::reply::Reply;

/// The longest string APPEND and SETRANGE may build (Redis's checkStringLength).
const STRING_LEN_MAX_BYTES: u64 = PROTO_MAX_BULK_LEN_DEFAULT_BYTES;
/// The largest transient LCS table, in bytes of u32 cells (Redis 7.0's lcsCommand limit).
const LCS_TABLE_BYTES_MAX: u64 = PROTO_MAX_BULK_LEN_DEFAULT_BYTES;
const LCS_CELL_BYTES: u64 = std::mem::size_of::<u32>() as u64;
// Any string fits a u32 LCS cell, so the table never needs wider cells.
const _: () = assert!(STRING_LEN_MAX_BYTES < u32::MAX as u64);

const STRING: Family = Family {
    group: "string",
    acl: acl::STRING,
};

const RO: &[KeySpec] = &[KeySpec::one(kf::RO, 1)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(kf::RO | kf::ACCESS, 1)];
const RW_ACCESS_UPDATE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::ACCESS | kf::UPDATE, 1)];
/// SET reads the old value only with GET; otherwise it just overwrites.
fn set_key_flags(argv: &[&[u8]]) -> u16 {
    if argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"GET")) {
        kf::RW | kf::ACCESS | kf::UPDATE
    } else {
        kf::OW | kf::UPDATE
    }
}

const GETEX_KEYS: &[KeySpec] = &[KeySpec::one(kf::RW | kf::ACCESS | kf::UPDATE, 1)
    .with_notes("RW and UPDATE because it changes the TTL")];
const OW_UPDATE: &[KeySpec] = &[KeySpec::one(kf::OW | kf::UPDATE, 1)];
const LCS_KEYS: &[KeySpec] = &[KeySpec::range(kf::RO | kf::ACCESS, 1, 1, 1)];

const W_DENYOOM: u32 = flag::WRITE | flag::DENYOOM;
const W_DENYOOM_FAST: u32 = flag::WRITE | flag::DENYOOM | flag::FAST;
const R_FAST: u32 = flag::READONLY | flag::FAST;
const GETRANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The \
    complexity is ultimately determined by the returned length, but because creating a substring \
    from an existing string is very cheap, it can be considered O(1) for small strings.";

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    STRING.keyed("get", 2, R_FAST, RO_ACCESS, get, Merge::OneKey,
        STRING.docs("Get the value of a key", "1.0.0", "O(1)")),
    STRING.keyed("set", -3, W_DENYOOM,
        &[KeySpec::one(kf::RW | kf::ACCESS | kf::UPDATE | kf::VARIABLE_FLAGS, 1)
            .with_notes("RW and ACCESS due to the optional `GET` argument")
            .with_flags_for(set_key_flags)], set,
        Merge::OneKey, STRING.docs("Set the string value of a key", "1.0.0", "O(1)")),
    STRING.keyed("setnx", 3, W_DENYOOM_FAST, &[KeySpec::one(kf::OW | kf::INSERT, 1)], setnx,
        Merge::OneKey, STRING.docs("Set the value of a key, only if the key does not exist", "1.0.0",
        "O(1)")),
    STRING.keyed("setex", 4, W_DENYOOM, OW_UPDATE, setex, Merge::OneKey,
        STRING.docs("Set the value and expiration of a key", "2.0.0", "O(1)")),
    STRING.keyed("psetex", 4, W_DENYOOM, OW_UPDATE, psetex, Merge::OneKey,
        STRING.docs("Set the value and expiration in milliseconds of a key", "2.6.0", "O(1)")),
    STRING.keyed("mget", -2, R_FAST, &[KeySpec::all_from(kf::RO | kf::ACCESS, 1, 1)], mget,
        Merge::KeyOrder, STRING.docs("Get the values of all the given keys", "1.0.0",
        "O(N) where N is the number of keys to retrieve.")),
    STRING.keyed("mset", -3, W_DENYOOM, &[KeySpec::all_from(kf::OW | kf::UPDATE, 1, 2)], mset,
        Merge::AllOk, STRING.docs("Set multiple keys to multiple values", "1.0.1",
        "O(N) where N is the number of keys to set.")),
    STRING.keyed("msetnx", -3, W_DENYOOM, &[KeySpec::all_from(kf::OW | kf::INSERT, 1, 2)], msetnx,
        Merge::Gather(GatherDbs::Current),
        STRING.docs("Set multiple keys to multiple values, only if none of the keys exist", "1.0.1",
        "O(N) where N is the number of keys to set.")),
    STRING.keyed("getset", 3, W_DENYOOM_FAST, RW_ACCESS_UPDATE, getset, Merge::OneKey,
        STRING.docs("Set the string value of a key and return its old value", "1.0.0", "O(1)")),
    STRING.keyed("getdel", 2, flag::WRITE | flag::FAST,
        &[KeySpec::one(kf::RW | kf::ACCESS | kf::DELETE, 1)], getdel, Merge::OneKey,
        STRING.docs("Get the value of a key and delete the key", "6.2.0", "O(1)")),
    STRING.keyed("getex", -2, flag::WRITE | flag::FAST, GETEX_KEYS, getex, Merge::OneKey,
        STRING.docs("Get the value of a key and optionally set its expiration", "6.2.0", "O(1)")),
    STRING.keyed("append", 3, W_DENYOOM_FAST, &[KeySpec::one(kf::RW | kf::INSERT, 1)], append,
        Merge::OneKey, STRING.docs("Append a value to a key", "2.0.0", "O(1). The amortized time \
        complexity is O(1) assuming the appended value is small and the already present value \
        is of any size, since the dynamic string library used by Redis will double the free \
        space available on every reallocation.")),
    STRING.keyed("strlen", 2, R_FAST, RO, strlen, Merge::OneKey,
        STRING.docs("Get the length of the value stored in a key", "2.2.0", "O(1)")),
    STRING.keyed("getrange", 4, flag::READONLY, RO_ACCESS, getrange, Merge::OneKey,
        STRING.docs("Get a substring of the string stored at a key", "2.4.0", GETRANGE_COMPLEXITY)),
    STRING.keyed("substr", 4, flag::READONLY, RO_ACCESS, getrange, Merge::OneKey,
        STRING.docs("Get a substring of the string stored at a key", "1.0.0", GETRANGE_COMPLEXITY)),
    STRING.keyed("setrange", 4, W_DENYOOM, &[KeySpec::one(kf::RW | kf::UPDATE, 1)], setrange,
        Merge::OneKey, STRING.docs("Overwrite part of a string at key starting at the specified \
        offset", "2.2.0", "O(1), not counting the time taken to copy the new string in place. \
        Usually, this string is very small so the amortized complexity is O(1). Otherwise, \
        complexity is O(M) with M being the length of the value argument.")),
    STRING.keyed("incr", 2, W_DENYOOM_FAST, RW_ACCESS_UPDATE, incr, Merge::OneKey,
        STRING.docs("Increment the integer value of a key by one", "1.0.0", "O(1)")),
    STRING.keyed("decr", 2, W_DENYOOM_FAST, RW_ACCESS_UPDATE, decr, Merge::OneKey,
        STRING.docs("Decrement the integer value of a key by one", "1.0.0", "O(1)")),
    STRING.keyed("incrby", 3, W_DENYOOM_FAST, RW_ACCESS_UPDATE, incrby, Merge::OneKey,
        STRING.docs("Increment the integer value of a key by the given amount", "1.0.0", "O(1)")),
    STRING.keyed("decrby", 3, W_DENYOOM_FAST, RW_ACCESS_UPDATE, decrby, Merge::OneKey,
        STRING.docs("Decrement the integer value of a key by the given number", "1.0.0", "O(1)")),
    STRING.keyed("incrbyfloat", 3, W_DENYOOM_FAST, RW_ACCESS_UPDATE, incrbyfloat, Merge::OneKey,
        STRING.docs("Increment the float value of a key by the given amount", "2.6.0", "O(1)")),
    STRING.keyed("lcs", -3, flag::READONLY, LCS_KEYS, lcs, Merge::Gather(GatherDbs::Current),
        STRING.docs("Find longest common substring", "7.0.0",
        "O(N*M) where N and M are the lengths of s1 and s2, respectively")),
];

// ---------------------------------------------------------------------------------------------
// Lookups and stores.

/// The value as a string, or WRONGTYPE: the one place that knows which values are strings.
fn as_str(value: ValueRef<'_>) -> Result<StrRef<'_>, CmdError> {
    match value {
        ValueRef::Str(s) => Ok(s),
        ValueRef::Coll(_) => Err(CmdError::WrongType),
    }
}

/// Redis's lookupKeyRead for a string (access.rs: counts a keyspace hit or miss, a key of
/// another type being a hit), then the type check.
fn lookup_read<'e>(ecx: &'e mut ExecCx, key: &[u8]) -> Result<Option<StrRef<'e>>, CmdError> {
    ecx.read_entry(key).map(|e| as_str(e.value())).transpose()
}

/// The string value of an entry `ExecCx::edit_str` lends (it checked the type).
fn str_of(entry: &Entry) -> StrRef<'_> {
    match entry.value() {
        ValueRef::Str(s) => s,
        ValueRef::Coll(_) => unreachable!("edit_str checked the type"),
    }
}

fn contains(ecx: &mut ExecCx, key: &[u8]) -> bool {
    let now_ms = ecx.read_now_ms();
    ecx.db().contains(key, now_ms)
}

/// Writes a whole new entry, replacing any value and TTL under `key`.
fn store(ecx: &mut ExecCx, key: &[u8], value: StrValue, expire_at_ms: Option<u64>) {
    ecx.put(key, Value::Str(value), expire_at_ms);
}

/// `store` for a value written as given (SET and its kin): encoded as Redis's SET encodes it.
fn store_bytes(ecx: &mut ExecCx, key: &[u8], value: &[u8], expire_at_ms: Option<u64>) {
    let entry = Entry::from_set_bytes(key, value, expire_at_ms, ecx.now_ms());
    ecx.put_entry(entry);
}

/// The bytes of a value; an int is formatted (Redis's getDecodedObject).
fn str_bytes(value: StrRef<'_>) -> Cow<'_, [u8]> {
    match value {
        StrRef::Int(n) => Cow::Owned(n.to_string().into_bytes()),
        StrRef::Bytes { bytes, .. } => Cow::Borrowed(bytes),
    }
}

/// Bytes encoded by length only, never as an int (Redis's createStringObject).
fn embstr_or_raw(bytes: Vec<u8>) -> StrValue {
    let raw = bytes.len() > EMBSTR_LEN_MAX_BYTES;
    StrValue::Bytes { bytes, raw }
}

/// Redis's checkStringLength: a string of `len_bytes` grown by `added_bytes` must stay within
/// proto-max-bulk-len.
fn check_string_len(len_bytes: u64, added_bytes: u64) -> Result<(), CmdError> {
    match len_bytes.checked_add(added_bytes) {
        Some(total) if total <= STRING_LEN_MAX_BYTES => Ok(()),
        Some(_) | None => Err(CmdError::StringTooLong),
    }
}

/// The (key, value) pairs of MSET/MSETNX; an odd pair count is Redis's arity error.
fn pairs<'a>(
    argv: &'a Argv,
    name: &str,
) -> Result<impl Iterator<Item = (&'a [u8], &'a [u8])>, CmdError> {
    if argv.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(name.into()));
    }
    Ok((1..argv.len()).step_by(2).map(|i| (&argv[i], &argv[i + 1])))
}

// ---------------------------------------------------------------------------------------------
// Expiry options.

/// The four expiry options: their unit, and whether they count from now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpireWord {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl ExpireWord {
    fn parse(word: &[u8]) -> Option<ExpireWord> {
        [
            ("EX", ExpireWord::Ex),
            ("PX", ExpireWord::Px),
            ("EXAT", ExpireWord::ExAt),
            ("PXAT", ExpireWord::PxAt),
        ]
        .into_iter()
        .find_map(|(name, w)| eq_word(word, name).then_some(w))
    }

    fn is_absolute(self) -> bool {
        match self {
            ExpireWord::Ex | ExpireWord::Px => false,
            ExpireWord::ExAt | ExpireWord::PxAt => true,
        }
    }

    /// Redis's getExpireMillisecondsOrReply: an integer, positive, scaled to milliseconds
    /// without overflow, offset by now for EX/PX without overflow. `cmd` names the command in
    /// the error ("set", "setex", "getex").
    fn deadline_ms(self, value: &[u8], now_ms: u64, cmd: &'static str) -> Result<u64, CmdError> {
        let value = parse_i64(value)?;
        let invalid = || CmdError::InvalidExpireTime(cmd);
        let unit_ms: i64 = match self {
            ExpireWord::Ex | ExpireWord::ExAt => 1000,
            ExpireWord::Px | ExpireWord::PxAt => 1,
        };
        if value <= 0 {
            return Err(invalid());
        }
        let ms = value.checked_mul(unit_ms).ok_or_else(invalid)?;
        let now_ms = i64::try_from(now_ms).expect("wall clock within i64 milliseconds");
        let at_ms = if self.is_absolute() {
            ms
        } else {
            ms.checked_add(now_ms).ok_or_else(invalid)?
        };
        Ok(at_ms as u64)
    }
}

/// The TTL options, for the rule that one may repeat but not mix with another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TtlWord {
    KeepTtl,
    Persist,
    Expire(ExpireWord),
}

/// Records `word` as the TTL option given; a different one given before is a syntax error.
fn claim_ttl(seen: &mut Option<TtlWord>, word: TtlWord) -> Result<(), CmdError> {
    match *seen {
        Some(prev) if prev != word => Err(CmdError::Syntax),
        Some(_) | None => {
            *seen = Some(word);
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GET, SET and the single-key setters.

/// `lookup_read` in one table lookup, copying the value into a buffer from the `Cx` (the node
/// hands it back after encoding): the hot path allocates nothing.
fn get(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now_ms = ecx.read_now_ms();
    let mut bytes = ecx.env().take_buffer();
    let found = ecx
        .db()
        .visit_live(&argv[1], now_ms, Access::Touch, |entry| {
            as_str(entry.value()).map(|value| value.write_to(&mut bytes))
        });
    ecx.count_lookup(found.is_some());
    match found {
        Some(found) => {
            found?;
            Ok(Reply::Bulk(bytes))
        }
        None => {
            ecx.env().recycle_buffer(bytes);
            Ok(Reply::Nil)
        }
    }
}

/// When SET writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetCond {
    Always,
    IfAbsent,
    IfPresent,
}

/// What SET does to the deadline; an expire value stays unparsed until the grammar is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetTtl<'a> {
    Clear,
    Keep,
    Expire(ExpireWord, &'a [u8]),
}

/// What SET answers: OK/nil, or the old value (its GET option).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetReply {
    Status,
    OldValue,
}

struct SetArgs<'a> {
    cond: SetCond,
    ttl: SetTtl<'a>,
    reply: SetReply,
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT unix-s | PXAT unix-ms | KEEPTTL]
fn parse_set(argv: &Argv) -> Result<SetArgs<'_>, CmdError> {
    let mut args = Args::new(argv, 3);
    let mut parsed = SetArgs {
        cond: SetCond::Always,
        ttl: SetTtl::Clear,
        reply: SetReply::Status,
    };
    let mut ttl_seen = None;
    while let Some(word) = args.next() {
        if eq_word(word, "NX") && parsed.cond != SetCond::IfPresent {
            parsed.cond = SetCond::IfAbsent;
        } else if eq_word(word, "XX") && parsed.cond != SetCond::IfAbsent {
            parsed.cond = SetCond::IfPresent;
        } else if eq_word(word, "GET") {
            parsed.reply = SetReply::OldValue;
        } else if eq_word(word, "KEEPTTL") {
            claim_ttl(&mut ttl_seen, TtlWord::KeepTtl)?;
            parsed.ttl = SetTtl::Keep;
        } else if let Some(expire) = ExpireWord::parse(word) {
            claim_ttl(&mut ttl_seen, TtlWord::Expire(expire))?;
            parsed.ttl = SetTtl::Expire(expire, args.next_arg()?);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    args.finish()?;
    Ok(parsed)
}

fn set(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let args = parse_set(argv)?;
    let key = &argv[1];
    let new_deadline_ms = match args.ttl {
        SetTtl::Expire(word, value) => Some(word.deadline_ms(value, ecx.now_ms(), "set")?),
        SetTtl::Clear | SetTtl::Keep => None,
    };
    let old_value = match args.reply {
        SetReply::OldValue => Some(lookup_read(ecx, key)?.map(StrRef::to_bytes)),
        SetReply::Status => None,
    };
    let now_ms = ecx.read_now_ms();
    // Whether the key lives, and its deadline, matter only to NX, XX and KEEPTTL: a plain SET
    // replaces whatever is there (an expired entry too) in the insert's own lookup.
    let old = if args.cond == SetCond::Always && !matches!(args.ttl, SetTtl::Keep) {
        None
    } else {
        // One table lookup (`peek` takes two).
        ecx.db()
            .visit_live(key, now_ms, Access::Peek, |e| e.expire_at_ms())
    };
    let found = old.is_some();
    let old_deadline_ms = old.flatten();
    let writes = match args.cond {
        SetCond::Always => true,
        SetCond::IfAbsent => !found,
        SetCond::IfPresent => found,
    };
    if writes {
        let expire_at_ms = match args.ttl {
            SetTtl::Clear | SetTtl::Expire(..) => new_deadline_ms,
            SetTtl::Keep => old_deadline_ms,
        };
        store_bytes(ecx, key, &argv[2], expire_at_ms);
    }
    Ok(match (old_value, writes) {
        (Some(old), _) => Reply::opt_bulk(old),
        (None, true) => Reply::OK,
        (None, false) => Reply::Nil,
    })
}

fn setnx(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    if contains(ecx, &argv[1]) {
        return Ok(Reply::Int(0));
    }
    store_bytes(ecx, &argv[1], &argv[2], None);
    Ok(Reply::Int(1))
}

/// SETEX key seconds value
fn setex(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    set_with_ttl(ecx, argv, ExpireWord::Ex, "setex")
}

/// PSETEX key milliseconds value
fn psetex(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    set_with_ttl(ecx, argv, ExpireWord::Px, "psetex")
}

fn set_with_ttl(
    ecx: &mut ExecCx,
    argv: &Argv,
    word: ExpireWord,
    cmd: &'static str,
) -> Result<Reply, CmdError> {
    let expire_at_ms = word.deadline_ms(&argv[2], ecx.now_ms(), cmd)?;
    store_bytes(ecx, &argv[1], &argv[3], Some(expire_at_ms));
    Ok(Reply::OK)
}

fn getset(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let old = lookup_read(ecx, &argv[1])?.map(StrRef::to_bytes);
    store_bytes(ecx, &argv[1], &argv[2], None);
    Ok(Reply::opt_bulk(old))
}

fn getdel(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let Some(old) = lookup_read(ecx, &argv[1])?.map(StrRef::to_bytes) else {
        return Ok(Reply::Nil);
    };
    let removed = ecx.delete(&argv[1]);
    assert!(removed.is_some(), "getdel: key vanished after its lookup");
    Ok(Reply::Bulk(old))
}

/// What GETEX does to the deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GetExTtl<'a> {
    Unchanged,
    Persist,
    Expire(ExpireWord, &'a [u8]),
}

/// GETEX key [EX s | PX ms | EXAT unix-s | PXAT unix-ms | PERSIST]
fn parse_getex(argv: &Argv) -> Result<GetExTtl<'_>, CmdError> {
    let mut args = Args::new(argv, 2);
    let mut ttl = GetExTtl::Unchanged;
    let mut ttl_seen = None;
    while let Some(word) = args.next() {
        if eq_word(word, "PERSIST") {
            claim_ttl(&mut ttl_seen, TtlWord::Persist)?;
            ttl = GetExTtl::Persist;
        } else if let Some(expire) = ExpireWord::parse(word) {
            claim_ttl(&mut ttl_seen, TtlWord::Expire(expire))?;
            ttl = GetExTtl::Expire(expire, args.next_arg()?);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    args.finish()?;
    Ok(ttl)
}

fn getex(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let ttl = parse_getex(argv)?;
    let key = &argv[1];
    let Some(value) = lookup_read(ecx, key)?.map(StrRef::to_bytes) else {
        return Ok(Reply::Nil);
    };
    let now_ms = ecx.now_ms();
    // Redis signals a TTL it set or removed, not a PERSIST of a key without one: so does
    // `set_expiry`.
    let updated = match ttl {
        GetExTtl::Unchanged => true,
        GetExTtl::Persist => ecx.set_expiry(key, None),
        GetExTtl::Expire(word, raw) => {
            let at_ms = word.deadline_ms(raw, now_ms, "getex")?;
            // An absolute deadline already past deletes the key now, as Redis does.
            if word.is_absolute() && at_ms <= now_ms {
                ecx.delete(key).is_some()
            } else {
                ecx.set_expiry(key, Some(at_ms))
            }
        }
    };
    assert!(updated, "getex: key vanished after its lookup");
    Ok(Reply::Bulk(value))
}

// ---------------------------------------------------------------------------------------------
// Multi-key commands.

fn mget(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let mut replies = Vec::with_capacity(argv.len() - 1);
    for key in argv.iter().skip(1) {
        // MGET answers nil for a key of another type rather than WRONGTYPE.
        let value = match lookup_read(ecx, key) {
            Ok(value) => value.map(StrRef::to_bytes),
            Err(CmdError::WrongType) => None,
            Err(other) => return Err(other),
        };
        replies.push(Reply::opt_bulk(value));
    }
    Ok(Reply::Array(replies))
}

fn mset(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    for (key, value) in pairs(argv, "mset")? {
        store_bytes(ecx, key, value, None);
    }
    Ok(Reply::OK)
}

/// Sets every pair only when none of the keys exists; runs on gathered copies of all its keys,
/// so "none exists" and the writes are one step.
fn msetnx(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    if pairs(argv, "msetnx")?.any(|(key, _)| contains(ecx, key)) {
        return Ok(Reply::Int(0));
    }
    for (key, value) in pairs(argv, "msetnx")? {
        store_bytes(ecx, key, value, None);
    }
    Ok(Reply::Int(1))
}

// ---------------------------------------------------------------------------------------------
// Substrings and in-place edits.

fn append(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (key, tail) = (&argv[1], &argv[2]);
    let edited = ecx.edit_str(key, |entry| {
        check_string_len(str_of(entry).len_bytes() as u64, tail.len() as u64)?;
        let len_bytes = entry.edit_raw(|bytes| {
            bytes.extend_from_slice(tail);
            bytes.len()
        });
        Ok((Reply::Int(len_bytes as i64), Change::Modified))
    })?;
    if let Some(reply) = edited {
        return Ok(reply);
    }
    let value = StrValue::from_bytes(tail.to_vec());
    let len_bytes = value.len_bytes();
    store(ecx, key, value, None);
    Ok(Reply::Int(len_bytes as i64))
}

fn strlen(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let len_bytes = lookup_read(ecx, &argv[1])?.map_or(0, StrRef::len_bytes);
    Ok(Reply::Int(len_bytes as i64))
}

/// GETRANGE key start end (and SUBSTR, its old name).
fn getrange(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let start = parse_i64(&argv[2])?;
    let end = parse_i64(&argv[3])?;
    let Some(value) = lookup_read(ecx, &argv[1])? else {
        return Ok(Reply::Bulk(Vec::new()));
    };
    Ok(Reply::Bulk(
        byte_range(&str_bytes(value), start, end).to_vec(),
    ))
}

/// Redis's GETRANGE index rules: negative indexes count from the end, both clamp to the
/// string, and an inverted range (or two negative indexes in the wrong order) is empty.
fn byte_range(bytes: &[u8], start: i64, end: i64) -> &[u8] {
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        return &[];
    }
    let start = if start < 0 { start + len } else { start }.max(0);
    let end = if end < 0 { end + len } else { end }.max(0).min(len - 1);
    if start > end || len == 0 {
        return &[];
    }
    &bytes[start as usize..=end as usize]
}

/// SETRANGE key offset value
fn setrange(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (key, patch) = (&argv[1], &argv[3]);
    let offset = parse_i64(&argv[2])?;
    let offset = u64::try_from(offset).map_err(|_| CmdError::OffsetOutOfRange)?;
    let edited = ecx.edit_str(key, |entry| {
        if patch.is_empty() {
            let len_bytes = str_of(entry).len_bytes() as i64;
            return Ok((Reply::Int(len_bytes), Change::Unchanged));
        }
        check_string_len(offset, patch.len() as u64)?;
        let len_bytes = entry.edit_raw(|bytes| {
            write_at(bytes, offset as usize, patch);
            bytes.len()
        });
        Ok((Reply::Int(len_bytes as i64), Change::Modified))
    })?;
    if let Some(reply) = edited {
        return Ok(reply);
    }
    // Nothing to write on a missing key creates nothing, whatever the offset.
    if patch.is_empty() {
        return Ok(Reply::Int(0));
    }
    check_string_len(offset, patch.len() as u64)?;
    let mut bytes = Vec::new();
    write_at(&mut bytes, offset as usize, patch);
    let len_bytes = bytes.len();
    store(ecx, key, StrValue::raw(bytes), None);
    Ok(Reply::Int(len_bytes as i64))
}

/// Copies `patch` to `offset`, zero-filling any gap past the end.
fn write_at(bytes: &mut Vec<u8>, offset: usize, patch: &[u8]) {
    let end = offset + patch.len();
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[offset..end].copy_from_slice(patch);
}

// ---------------------------------------------------------------------------------------------
// Counters.

fn incr(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    incr_by(ecx, &argv[1], 1)
}

fn decr(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    incr_by(ecx, &argv[1], -1)
}

fn incrby(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let by = parse_i64(&argv[2])?;
    incr_by(ecx, &argv[1], by)
}

fn decrby(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let by = parse_i64(&argv[2])?;
    let negated = by.checked_neg().ok_or(CmdError::DecrementOverflow)?;
    incr_by(ecx, &argv[1], negated)
}

/// Adds `by` to the integer under `key` (0 when missing), keeping its TTL.
fn incr_by(ecx: &mut ExecCx, key: &[u8], by: i64) -> Result<Reply, CmdError> {
    let edited = ecx.edit_str(key, |entry| {
        let current = match str_of(entry) {
            StrRef::Int(n) => n,
            StrRef::Bytes { bytes, .. } => numfmt::parse_i64(bytes).ok_or(CmdError::NotInteger)?,
        };
        let next = current.checked_add(by).ok_or(CmdError::Overflow)?;
        entry.set_value(Value::Str(StrValue::Int(next)));
        Ok((Reply::Int(next), Change::Modified))
    })?;
    if let Some(reply) = edited {
        return Ok(reply);
    }
    store(ecx, key, StrValue::Int(by), None);
    Ok(Reply::Int(by))
}

/// INCRBYFLOAT key increment: x87 long-double arithmetic and formatting (numfmt), keeping the
/// TTL; the reply bytes are also what is stored.
fn incrbyfloat(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (key, incr) = (&argv[1], &argv[2]);
    let edited = ecx.edit_str(key, |entry| {
        let sum = numfmt::incr_by_float(Some(&str_bytes(str_of(entry))), incr)?;
        entry.set_value(Value::Str(embstr_or_raw(sum.clone())));
        Ok((Reply::Bulk(sum), Change::Modified))
    })?;
    if let Some(reply) = edited {
        return Ok(reply);
    }
    let sum = numfmt::incr_by_float(None, incr)?;
    store(ecx, key, embstr_or_raw(sum.clone()), None);
    Ok(Reply::Bulk(sum))
}

// ---------------------------------------------------------------------------------------------
// LCS.

/// What LCS answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LcsReply {
    /// The common subsequence itself.
    Text,
    /// Its length (LEN).
    Len,
    /// The matching ranges and the length (IDX); ranges shorter than `min_match_len` are left
    /// out, and `with_match_len` adds each range's length.
    Idx {
        min_match_len: u64,
        with_match_len: WithMatchLen,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WithMatchLen {
    No,
    Yes,
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
fn parse_lcs(argv: &Argv) -> Result<LcsReply, CmdError> {
    let mut args = Args::new(argv, 3);
    let (mut idx, mut len) = (false, false);
    let mut with_match_len = WithMatchLen::No;
    let mut min_match_len = 0;
    while let Some(word) = args.next() {
        if eq_word(word, "IDX") {
            idx = true;
        } else if eq_word(word, "LEN") {
            len = true;
        } else if eq_word(word, "WITHMATCHLEN") {
            with_match_len = WithMatchLen::Yes;
        } else if eq_word(word, "MINMATCHLEN") && !args.is_done() {
            // Redis parses this value at once (before later syntax errors); negative means 0.
            min_match_len = args.next_i64()?.max(0) as u64;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    args.finish()?;
    match (idx, len) {
        (true, true) => Err(CmdError::LcsIdxWithLen),
        (true, false) => Ok(LcsReply::Idx {
            min_match_len,
            with_match_len,
        }),
        (false, true) => Ok(LcsReply::Len),
        (false, false) => Ok(LcsReply::Text),
    }
}

fn lcs(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    // Both keys are looked up (and counted) before either type is checked; LCS has its own
    // text for a wrong type, and a missing key is an empty string.
    let a = lookup_read(ecx, &argv[1]).map(|v| v.map(StrRef::to_bytes));
    let b = lookup_read(ecx, &argv[2]).map(|v| v.map(StrRef::to_bytes));
    let (Ok(a), Ok(b)) = (a, b) else {
        return Err(CmdError::LcsKeysNotStrings);
    };
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    let reply = parse_lcs(argv)?;
    let table = LcsTable::build(&a, &b)?;
    let total = table.at(a.len(), b.len());
    Ok(match reply {
        LcsReply::Len => Reply::Int(i64::from(total)),
        LcsReply::Text => Reply::Bulk(lcs_walk(&table, &a, &b, 0).0),
        LcsReply::Idx {
            min_match_len,
            with_match_len,
        } => {
            let matches = lcs_walk(&table, &a, &b, min_match_len).1;
            let matches = matches.iter().map(|m| m.reply(with_match_len)).collect();
            Reply::Map(vec![
                (Reply::bulk("matches"), Reply::Array(matches)),
                (Reply::bulk("len"), Reply::Int(i64::from(total))),
            ])
        }
    })
}

/// The dynamic-programming table: cell (i, j) is the LCS length of `a[..i]` and `b[..j]`.
struct LcsTable {
    cols: usize,
    cells: Vec<u32>,
}

impl LcsTable {
    /// Refuses, as Redis does, a table that would pass `LCS_TABLE_BYTES_MAX`.
    fn build(a: &[u8], b: &[u8]) -> Result<LcsTable, CmdError> {
        let cells_len = (a.len() as u64 + 1) * (b.len() as u64 + 1);
        if cells_len * LCS_CELL_BYTES > LCS_TABLE_BYTES_MAX {
            return Err(CmdError::LcsTableTooLarge);
        }
        let cols = b.len() + 1;
        let mut cells = vec![0u32; cells_len as usize];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * cols + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * cols + j - 1] + 1
                } else {
                    cells[(i - 1) * cols + j].max(cells[i * cols + j - 1])
                };
            }
        }
        Ok(LcsTable { cols, cells })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.cols + j]
    }
}

/// One IDX range: inclusive positions in each string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LcsMatch {
    a_start: usize,
    a_end: usize,
    b_start: usize,
    b_end: usize,
}

impl LcsMatch {
    fn len(&self) -> usize {
        self.a_end - self.a_start + 1
    }

    fn reply(&self, with_match_len: WithMatchLen) -> Reply {
        let pair = |start: usize, end: usize| {
            Reply::Array(vec![Reply::Int(start as i64), Reply::Int(end as i64)])
        };
        let mut item = vec![
            pair(self.a_start, self.a_end),
            pair(self.b_start, self.b_end),
        ];
        match with_match_len {
            WithMatchLen::Yes => item.push(Reply::Int(self.len() as i64)),
            WithMatchLen::No => {}
        }
        Reply::Array(item)
    }
}

/// Redis's walk back from the table's corner: the LCS text, and the contiguous matching ranges
/// from last to first (those of at least `min_match_len`; 0 keeps all). Follows lcsCommand step
/// by step so ranges and tie-breaks come out the same.
fn lcs_walk(t: &LcsTable, a: &[u8], b: &[u8], min_match_len: u64) -> (Vec<u8>, Vec<LcsMatch>) {
    let mut idx = t.at(a.len(), b.len()) as usize;
    let mut text = vec![0u8; idx];
    let mut matches = Vec::new();
    let mut open: Option<LcsMatch> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            text[idx - 1] = a[i - 1];
            match &mut open {
                None => {
                    open = Some(LcsMatch {
                        a_start: i - 1,
                        a_end: i - 1,
                        b_start: j - 1,
                        b_end: j - 1,
                    })
                }
                Some(m) if m.a_start == i && m.b_start == j => {
                    m.a_start -= 1;
                    m.b_start -= 1;
                }
                Some(_) => emit = true,
            }
            // A range touching either string's start can grow no further.
            emit |= open.is_some_and(|m| m.a_start == 0 || m.b_start == 0);
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t.at(i - 1, j) > t.at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = open.is_some();
        }
        if emit {
            if let Some(m) = open.take() {
                if min_match_len == 0 || m.len() as u64 >= min_match_len {
                    matches.push(m);
                }
            }
        }
    }
    (text, matches)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::cmd::CommandTable;
    use crate::cx::{ConnId, Cx, CxOptions};
    use crate::node::shard_of;
    use crate::shard::Shard;
    use crate::testkit::TestCluster;

    const OK: &str = "+OK\r\n";
    const NIL: &str = "$-1\r\n";
    const EMPTY: &str = "$0\r\n\r\n";
    const SYNTAX: &str = "-ERR syntax error\r\n";
    const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
    const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
    const TOO_LONG: &str = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";

    fn bulk(s: &str) -> String {
        format!("${}\r\n{s}\r\n", s.len())
    }

    fn int(n: i64) -> String {
        format!(":{n}\r\n")
    }

    const RESP2: char = '*';
    const RESP3: char = '%';

    /// An LCS IDX reply: a map (RESP3) or flat array (RESP2) of "matches" and "len"; each match
    /// is ((a_start, a_end), (b_start, b_end), WITHMATCHLEN's length).
    #[allow(clippy::type_complexity)]
    fn idx(map: char, matches: &[((i64, i64), (i64, i64), Option<i64>)], len: i64) -> String {
        let header = if map == RESP3 { "%2" } else { "*4" };
        let mut out = format!("{header}\r\n$7\r\nmatches\r\n*{}\r\n", matches.len());
        for ((a0, a1), (b0, b1), match_len) in matches {
            out += &format!("*{}\r\n", 2 + usize::from(match_len.is_some()));
            out += &format!("*2\r\n:{a0}\r\n:{a1}\r\n*2\r\n:{b0}\r\n:{b1}\r\n");
            if let Some(n) = match_len {
                out += &int(*n);
            }
        }
        out + "$3\r\nlen\r\n" + &int(len)
    }

    /// An array of bulk strings, "" standing for nil.
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

    fn invalid_expire(cmd: &str) -> String {
        format!("-ERR invalid expire time in '{cmd}' command\r\n")
    }

    /// Runs `test` on a 1-thread and a 3-thread cluster.
    fn each_cluster(test: impl Fn(&mut TestCluster, ConnId)) {
        for threads in [1, 3] {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            test(&mut c, conn);
        }
    }

    /// One command written as space-separated words.
    fn run(c: &mut TestCluster, conn: ConnId, line: &str) -> String {
        let args: Vec<&str> = line.split(' ').collect();
        c.cmd_text(conn, &args)
    }

    /// Asserts each (command, reply) in order.
    fn script(c: &mut TestCluster, conn: ConnId, steps: &[(&str, &str)]) {
        for (line, want) in steps {
            assert_eq!(run(c, conn, line), *want, "{line}");
        }
    }

    /// Keys that land on more than one of 3 shards.
    fn assert_spread(keys: &[&str]) {
        let shards: BTreeSet<_> = keys.iter().map(|k| shard_of(k.as_bytes(), 3)).collect();
        assert!(shards.len() > 1, "{keys:?} all hash to one shard");
    }

    /// A shard driven directly, to inspect encodings, deadlines and counters.
    struct Direct {
        shard: Shard,
        cx: Cx,
        table: CommandTable,
        now_ms: u64,
    }

    impl Direct {
        fn new() -> Direct {
            Direct {
                shard: Shard::new(1, 7),
                cx: Cx::new(1, CxOptions::default()),
                table: CommandTable::new(),
                now_ms: 1_767_225_600_000,
            }
        }

        fn run(&mut self, line: &str) -> Reply {
            let args: Vec<&str> = line.split(' ').collect();
            let spec = self.table.lookup(args[0].as_bytes()).expect("command");
            assert!(spec.arity_ok(args.len()), "{line}: arity");
            let crate::cmd::Exec::Shard { run, .. } = spec.exec else {
                panic!("{line}: not keyed")
            };
            let mut ecx = ExecCx::new(&mut self.shard, 0, self.now_ms, &mut self.cx);
            run(&mut ecx, &Argv::from_slices(&args)).into()
        }

        fn entry(&mut self, key: &str) -> Entry {
            let now_ms = self.now_ms;
            self.shard
                .db(0)
                .peek(key.as_bytes(), now_ms)
                .expect(key)
                .clone()
        }

        fn encoding(&mut self, key: &str) -> &'static str {
            self.entry(key).value().encoding()
        }

        fn counters(&self) -> (u64, u64) {
            (
                self.shard.stats.keyspace_hits,
                self.shard.stats.keyspace_misses,
            )
        }
    }

    #[test]
    fn get_and_set() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("GET k", NIL),
                    ("SET k v", OK),
                    ("GET k", &bulk("v")),
                    ("SET k 12", OK),
                    ("GET k", &bulk("12")),
                    ("set k v", OK),
                ],
            );
            assert_eq!(c.cmd_text(conn, &["SET", "e", ""]), OK);
            assert_eq!(run(c, conn, "GET e"), EMPTY);
        });
    }

    #[test]
    fn set_nx_and_xx() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("SET k v XX", NIL),
                    ("GET k", NIL),
                    ("SET k v NX", OK),
                    ("SET k w NX", NIL),
                    ("GET k", &bulk("v")),
                    ("SET k w XX", OK),
                    ("GET k", &bulk("w")),
                    ("SET k x nx nx", NIL),
                ],
            );
        });
    }

    #[test]
    fn set_option_conflicts_are_syntax_errors() {
        each_cluster(|c, conn| {
            for line in [
                "SET k v NX XX",
                "SET k v XX NX",
                "SET k v GET NX XX",
                "SET k v EX 10 PX 10",
                "SET k v PX 10 EXAT 10",
                "SET k v EX 10 KEEPTTL",
                "SET k v KEEPTTL EX 10",
                "SET k v PX 5 KEEPTTL",
                "SET k v PERSIST",
                "SET k v EX",
                "SET k v EX 10 EX",
                "SET k v foo",
                // The grammar is checked before the expire value is parsed.
                "SET k v EX abc XX NX",
            ] {
                assert_eq!(run(c, conn, line), SYNTAX, "{line}");
            }
            assert_eq!(run(c, conn, "EXISTS k"), int(0));
        });
    }

    #[test]
    fn set_repeated_option_last_value_wins() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("SET k v EX 1 EX 3", OK),
                    ("SET j v EX abc EX 3", OK),
                    ("SET g v GET GET", NIL),
                    ("SET p v KEEPTTL KEEPTTL", OK),
                ],
            );
            c.advance_ms(2000);
            assert_eq!(run(c, conn, "GET k"), bulk("v"));
            assert_eq!(run(c, conn, "GET j"), bulk("v"));
            c.advance_ms(1000);
            assert_eq!(run(c, conn, "GET k"), NIL);
            assert_eq!(run(c, conn, "GET j"), NIL);
        });
    }

    #[test]
    fn set_invalid_expire_times() {
        each_cluster(|c, conn| {
            for line in [
                "SET k v EX 0",
                "SET k v EX -1",
                "SET k v PX 0",
                "SET k v EXAT 0",
                "SET k v PXAT -5",
                // Seconds that overflow when scaled to ms, or ms that overflow when offset by now.
                "SET k v EX 9223372036854775807",
                "SET k v EX 92233720368547758",
                "SET k v EX 9223372036854775",
                "SET k v PX 9223372036854775807",
                "SET k v EXAT 9223372036854775807",
            ] {
                assert_eq!(run(c, conn, line), invalid_expire("set"), "{line}");
            }
            assert_eq!(run(c, conn, "SET k v EX abc"), NOT_INT);
            assert_eq!(run(c, conn, "SET k v EX 1.5"), NOT_INT);
            assert_eq!(run(c, conn, "GET k"), NIL);
            // The largest absolute deadline is fine.
            assert_eq!(run(c, conn, "SET k v PXAT 9223372036854775807"), OK);
            assert_eq!(run(c, conn, "SET k v EXAT 9223372036854775"), OK);
            assert_eq!(run(c, conn, "GET k"), bulk("v"));
        });
    }

    #[test]
    fn set_relative_and_absolute_expiry() {
        each_cluster(|c, conn| {
            let exat = (c.wall_ms() / 1000 + 5).to_string();
            let pxat = (c.wall_ms() + 3000).to_string();
            script(c, conn, &[("SET ex v EX 2", OK), ("SET px v PX 1500", OK)]);
            assert_eq!(c.cmd_text(conn, &["SET", "exat", "v", "EXAT", &exat]), OK);
            assert_eq!(c.cmd_text(conn, &["SET", "pxat", "v", "PXAT", &pxat]), OK);
            c.advance_ms(1499);
            assert_eq!(
                run(c, conn, "MGET ex px exat pxat"),
                "*4\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n"
            );
            c.advance_ms(1);
            assert_eq!(run(c, conn, "GET px"), NIL);
            c.advance_ms(500);
            assert_eq!(run(c, conn, "GET ex"), NIL);
            c.advance_ms(1000);
            assert_eq!(run(c, conn, "GET pxat"), NIL);
            c.advance_ms(2000);
            assert_eq!(run(c, conn, "GET exat"), NIL);
        });
    }

    #[test]
    fn set_past_absolute_deadline_stores_an_expired_key() {
        each_cluster(|c, conn| {
            // Redis 7.0 writes it and lets it expire lazily: DBSIZE still counts it.
            script(
                c,
                conn,
                &[
                    ("SET k v PXAT 1", OK),
                    ("DBSIZE", &int(1)),
                    ("GET k", NIL),
                    ("DBSIZE", &int(0)),
                    ("SET k v", OK),
                    ("SET k w EXAT 1 GET", &bulk("v")),
                    ("EXISTS k", &int(0)),
                ],
            );
        });
    }

    #[test]
    fn set_keepttl_keeps_and_plain_set_clears() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("SET k v PX 1000", OK),
                    ("SET k w KEEPTTL", OK),
                    ("SET p v PX 1000", OK),
                    ("SET p w", OK),
                    ("SET n v KEEPTTL", OK),
                ],
            );
            c.advance_ms(1000);
            script(
                c,
                conn,
                &[("GET k", NIL), ("GET p", &bulk("w")), ("GET n", &bulk("v"))],
            );
        });
    }

    #[test]
    fn set_get_answers_the_old_value() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("SET k v GET", NIL),
                    ("GET k", &bulk("v")),
                    ("SET k w GET", &bulk("v")),
                    // NX on an existing key: the old value, and no write.
                    ("SET k x NX GET", &bulk("w")),
                    ("GET k", &bulk("w")),
                    // XX on a missing key: nil, and no write.
                    ("SET m v XX GET", NIL),
                    ("EXISTS m", &int(0)),
                    ("SET n v NX GET", NIL),
                    ("GET n", &bulk("v")),
                    ("SET i 12", OK),
                    ("SET i 13 GET", &bulk("12")),
                ],
            );
        });
    }

    #[test]
    fn resp3_nil_replies() {
        each_cluster(|c, conn| {
            c.cmd(conn, &["HELLO", "3"]);
            script(
                c,
                conn,
                &[
                    ("GET k", "_\r\n"),
                    ("SET k v NX", OK),
                    ("SET k v NX", "_\r\n"),
                    ("SET m v XX GET", "_\r\n"),
                    ("GETDEL m", "_\r\n"),
                    ("GETEX m", "_\r\n"),
                    ("MGET k m", "*2\r\n$1\r\nv\r\n_\r\n"),
                ],
            );
        });
    }

    #[test]
    fn setnx_sets_only_a_missing_key() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("SETNX k v", &int(1)),
                    ("SETNX k w", &int(0)),
                    ("GET k", &bulk("v")),
                    ("SET e v PX 10", OK),
                ],
            );
            c.advance_ms(10);
            assert_eq!(run(c, conn, "SETNX e w"), int(1));
        });
    }

    #[test]
    fn setex_and_psetex() {
        each_cluster(|c, conn| {
            for (line, cmd) in [
                ("SETEX k 0 v", "setex"),
                ("SETEX k -1 v", "setex"),
                ("SETEX k 9223372036854775 v", "setex"),
                ("PSETEX k 0 v", "psetex"),
                ("PSETEX k -3 v", "psetex"),
                ("PSETEX k 9223372036854775807 v", "psetex"),
            ] {
                assert_eq!(run(c, conn, line), invalid_expire(cmd), "{line}");
            }
            script(
                c,
                conn,
                &[
                    ("SETEX k abc v", NOT_INT),
                    ("PSETEX k abc v", NOT_INT),
                    ("EXISTS k", &int(0)),
                    ("SETEX k 2 v", OK),
                    ("PSETEX p 1500 v", OK),
                    ("GET k", &bulk("v")),
                ],
            );
            c.advance_ms(1500);
            script(c, conn, &[("GET p", NIL), ("GET k", &bulk("v"))]);
            c.advance_ms(500);
            assert_eq!(run(c, conn, "GET k"), NIL);
        });
    }

    #[test]
    fn mset_and_mget_across_shards() {
        let keys = ["a", "b", "c", "d", "e", "f"];
        assert_spread(&keys);
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("MSET a 1 b 2 c 3 d 4 e 5 f 6", OK),
                    (
                        "MGET a x b y c d e f",
                        &array(&["1", "", "2", "", "3", "4", "5", "6"]),
                    ),
                    // The last of repeated keys wins.
                    ("MSET a x a y", OK),
                    ("MGET a a", "*2\r\n$1\r\ny\r\n$1\r\ny\r\n"),
                ],
            );
        });
    }

    #[test]
    fn mset_clears_ttls() {
        each_cluster(|c, conn| {
            script(c, conn, &[("SET a v PX 100", OK), ("MSET a w b x", OK)]);
            c.advance_ms(100);
            assert_eq!(run(c, conn, "MGET a b"), "*2\r\n$1\r\nw\r\n$1\r\nx\r\n");
        });
    }

    #[test]
    fn mset_with_a_key_missing_its_value_writes_nothing() {
        assert_spread(&["a", "c", "e"]);
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    (
                        "MSET a 1 c 2 e",
                        "-ERR wrong number of arguments for 'mset' command\r\n",
                    ),
                    ("MGET a c e", "*3\r\n$-1\r\n$-1\r\n$-1\r\n"),
                ],
            );
        });
    }

    #[test]
    fn msetnx_sets_all_or_none_across_shards() {
        assert_spread(&["a", "b", "c", "d"]);
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("MSETNX a 1 b 2 c 3", &int(1)),
                    ("MGET a b c", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
                    ("MSETNX d 4 c x", &int(0)),
                    ("MGET c d", "*2\r\n$1\r\n3\r\n$-1\r\n"),
                    (
                        "MSETNX d 4 e",
                        "-ERR wrong number of arguments for 'msetnx' command\r\n",
                    ),
                    ("EXISTS d", &int(0)),
                    // A repeated key: both writes happen, the last wins.
                    ("MSETNX d 4 d 5", &int(1)),
                    ("GET d", &bulk("5")),
                    ("SET t v PX 10", OK),
                ],
            );
            c.advance_ms(10);
            // An expired key counts as absent.
            assert_eq!(run(c, conn, "MSETNX t w u x"), int(1));
            assert_eq!(run(c, conn, "MGET t u"), "*2\r\n$1\r\nw\r\n$1\r\nx\r\n");
        });
    }

    #[test]
    fn getset_answers_old_value_and_clears_ttl() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("GETSET k v", NIL),
                    ("GET k", &bulk("v")),
                    ("SET k 1 PX 100", OK),
                    ("GETSET k 2", &bulk("1")),
                ],
            );
            c.advance_ms(100);
            assert_eq!(run(c, conn, "GET k"), bulk("2"));
        });
    }

    #[test]
    fn getdel_answers_and_deletes() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("GETDEL k", NIL),
                    ("SET k 12", OK),
                    ("GETDEL k", &bulk("12")),
                    ("EXISTS k", &int(0)),
                    ("GETDEL k", NIL),
                ],
            );
        });
    }

    #[test]
    fn getex_sets_and_clears_ttl() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("SET k v", OK),
                    ("GETEX k", &bulk("v")),
                    ("GETEX k EX 10 EX 2", &bulk("v")),
                    ("SET p v PX 500", OK),
                    ("GETEX p PERSIST PERSIST", &bulk("v")),
                    ("SET q v", OK),
                    ("GETEX q PX 1000", &bulk("v")),
                ],
            );
            c.advance_ms(1000);
            script(
                c,
                conn,
                &[("GET q", NIL), ("GET p", &bulk("v")), ("GET k", &bulk("v"))],
            );
            c.advance_ms(1000);
            assert_eq!(run(c, conn, "GET k"), NIL);
            let pxat = (c.wall_ms() + 100).to_string();
            assert_eq!(c.cmd_text(conn, &["GETEX", "p", "PXAT", &pxat]), bulk("v"));
            c.advance_ms(100);
            assert_eq!(run(c, conn, "GET p"), NIL);
        });
    }

    #[test]
    fn getex_past_absolute_deadline_deletes_at_once() {
        each_cluster(|c, conn| {
            // Unlike SET, GETEX removes the key: DBSIZE no longer counts it.
            script(
                c,
                conn,
                &[
                    ("SET k v", OK),
                    ("GETEX k PXAT 1", &bulk("v")),
                    ("DBSIZE", &int(0)),
                    ("SET k v", OK),
                    ("GETEX k EXAT 1", &bulk("v")),
                    ("EXISTS k", &int(0)),
                ],
            );
        });
    }

    #[test]
    fn getex_errors() {
        each_cluster(|c, conn| {
            for line in [
                "GETEX k EX 10 PX 10",
                "GETEX k PERSIST EX 10",
                "GETEX k EX 10 PERSIST",
                "GETEX k KEEPTTL",
                "GETEX k NX",
                "GETEX k GET",
                "GETEX k foo",
                "GETEX k EX 10 EX",
                "GETEX k EX",
            ] {
                assert_eq!(run(c, conn, line), SYNTAX, "{line}");
            }
            // A missing key answers nil before its expire value is checked.
            script(c, conn, &[("GETEX k EX 0", NIL), ("GETEX k EX abc", NIL)]);
            assert_eq!(run(c, conn, "SET k v"), OK);
            for line in [
                "GETEX k EX 0",
                "GETEX k PX -1",
                "GETEX k EX 9223372036854775",
                "GETEX k EXAT 9223372036854775807",
            ] {
                assert_eq!(run(c, conn, line), invalid_expire("getex"), "{line}");
            }
            assert_eq!(run(c, conn, "GETEX k EX abc"), NOT_INT);
            // The failed GETEXs left the key without a deadline.
            c.advance_ms(1_000_000);
            assert_eq!(run(c, conn, "GET k"), bulk("v"));
        });
    }

    #[test]
    fn append_creates_and_extends() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("APPEND k 12", &int(2)),
                    ("APPEND k 3", &int(3)),
                    ("GET k", &bulk("123")),
                    ("INCR k", &int(124)),
                    ("APPEND k x", &int(4)),
                    ("GET k", &bulk("124x")),
                    ("SET t v PX 100", OK),
                    ("APPEND t w", &int(2)),
                ],
            );
            assert_eq!(c.cmd_text(conn, &["APPEND", "k", ""]), int(4));
            c.advance_ms(100);
            // APPEND keeps the TTL.
            assert_eq!(run(c, conn, "GET t"), NIL);
        });
    }

    #[test]
    fn strlen_of_strings_ints_and_missing_keys() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("STRLEN k", &int(0)),
                    ("SET k hello", OK),
                    ("STRLEN k", &int(5)),
                    ("SET n -12345", OK),
                    ("STRLEN n", &int(6)),
                ],
            );
        });
    }

    #[test]
    fn getrange_index_rules() {
        each_cluster(|c, conn| {
            assert_eq!(c.cmd_text(conn, &["SET", "s", "Hello World"]), OK);
            for (range, want) in [
                ("0 -1", "Hello World"),
                ("-1 -5", ""),
                ("-5 -1", "World"),
                ("0 -100", "H"),
                ("-100 -50", "H"),
                ("-100 100", "Hello World"),
                ("5 3", ""),
                ("3 3", "l"),
                ("100 200", ""),
                ("-3 -1", "rld"),
                ("10 -1", "d"),
                ("0 9223372036854775807", "Hello World"),
                ("-9223372036854775808 -1", "Hello World"),
            ] {
                assert_eq!(
                    run(c, conn, &format!("GETRANGE s {range}")),
                    bulk(want),
                    "{range}"
                );
                assert_eq!(
                    run(c, conn, &format!("SUBSTR s {range}")),
                    bulk(want),
                    "{range}"
                );
            }
            assert_eq!(c.cmd_text(conn, &["SET", "e", ""]), OK);
            script(
                c,
                conn,
                &[
                    ("SET n -12345", OK),
                    ("GETRANGE n 0 1", &bulk("-1")),
                    ("GETRANGE n -2 -1", &bulk("45")),
                    ("GETRANGE e 0 -1", EMPTY),
                    ("GETRANGE e 0 0", EMPTY),
                    ("GETRANGE missing 0 -1", EMPTY),
                    ("GETRANGE missing abc 1", NOT_INT),
                    ("GETRANGE s 1 abc", NOT_INT),
                ],
            );
        });
    }

    #[test]
    fn setrange_writes_and_pads() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("SET k 12", OK),
                    ("SETRANGE k 5 x", &int(6)),
                    ("GET k", "$6\r\n12\0\0\0x\r\n"),
                    ("SETRANGE k 0 ab", &int(6)),
                    ("GETRANGE k 0 1", &bulk("ab")),
                    ("SETRANGE m 2 yz", &int(4)),
                    ("GET m", "$4\r\n\0\0yz\r\n"),
                    ("SET t v PX 100", OK),
                    ("SETRANGE t 0 w", &int(1)),
                ],
            );
            c.advance_ms(100);
            assert_eq!(run(c, conn, "GET t"), NIL);
        });
    }

    #[test]
    fn setrange_empty_value_answers_before_limits() {
        each_cluster(|c, conn| {
            let set_empty = |c: &mut TestCluster, key: &str, offset: &str| {
                c.cmd_text(conn, &["SETRANGE", key, offset, ""])
            };
            assert_eq!(set_empty(c, "missing", "0"), int(0));
            assert_eq!(set_empty(c, "missing", "536870912"), int(0));
            assert_eq!(run(c, conn, "EXISTS missing"), int(0));
            assert_eq!(run(c, conn, "SET k 123"), OK);
            assert_eq!(set_empty(c, "k", "536870912"), int(3));
            assert_eq!(set_empty(c, "k", "-1"), "-ERR offset is out of range\r\n");
            assert_eq!(set_empty(c, "k", "abc"), NOT_INT);
        });
    }

    #[test]
    fn setrange_offset_limits() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("SETRANGE k -1 x", "-ERR offset is out of range\r\n"),
                    ("SETRANGE k abc x", NOT_INT),
                    ("SETRANGE k 536870912 x", TOO_LONG),
                    ("SETRANGE k 536870911 xy", TOO_LONG),
                    ("SETRANGE k 9223372036854775807 x", TOO_LONG),
                    ("EXISTS k", &int(0)),
                    ("SET e 123", OK),
                    ("SETRANGE e 536870912 x", TOO_LONG),
                    ("GET e", &bulk("123")),
                ],
            );
        });
    }

    #[test]
    fn string_length_limit_is_proto_max_bulk_len() {
        let max = PROTO_MAX_BULK_LEN_DEFAULT_BYTES;
        assert_eq!(check_string_len(max - 1, 1), Ok(()));
        assert_eq!(check_string_len(max, 1), Err(CmdError::StringTooLong));
        assert_eq!(check_string_len(u64::MAX, 1), Err(CmdError::StringTooLong));
    }

    #[test]
    fn incr_family() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("INCR k", &int(1)),
                    ("INCRBY k 10", &int(11)),
                    ("DECR k", &int(10)),
                    ("DECRBY k 15", &int(-5)),
                    ("DECRBY k -5", &int(0)),
                    ("INCRBY n -9223372036854775808", &int(i64::MIN)),
                    ("SET t 5 PX 100", OK),
                    ("INCR t", &int(6)),
                ],
            );
            c.advance_ms(100);
            // INCR keeps the TTL.
            assert_eq!(run(c, conn, "GET t"), NIL);
        });
    }

    #[test]
    fn incr_rejects_non_integers() {
        each_cluster(|c, conn| {
            assert_eq!(c.cmd_text(conn, &["SET", "s", " 1"]), OK);
            for value in ["1.5", "abc", "01", "-0", "+1", "9223372036854775808", ""] {
                assert_eq!(c.cmd_text(conn, &["SET", "v", value]), OK);
                assert_eq!(run(c, conn, "INCR v"), NOT_INT, "{value:?}");
                assert_eq!(run(c, conn, "GET v"), bulk(value), "{value:?}");
            }
            script(
                c,
                conn,
                &[
                    ("INCR s", NOT_INT),
                    ("INCRBY k abc", NOT_INT),
                    ("INCRBY k 1.0", NOT_INT),
                    ("DECRBY k 9223372036854775808", NOT_INT),
                    ("EXISTS k", &int(0)),
                ],
            );
        });
    }

    #[test]
    fn incr_overflow() {
        each_cluster(|c, conn| {
            let overflow = "-ERR increment or decrement would overflow\r\n";
            script(
                c,
                conn,
                &[
                    ("SET m 9223372036854775807", OK),
                    ("INCR m", overflow),
                    ("INCRBY m 1", overflow),
                    ("GET m", &bulk("9223372036854775807")),
                    ("SET n -9223372036854775808", OK),
                    ("DECR n", overflow),
                    ("DECRBY n 1", overflow),
                    ("INCRBY n -1", overflow),
                    (
                        "DECRBY x -9223372036854775808",
                        "-ERR decrement would overflow\r\n",
                    ),
                    ("EXISTS x", &int(0)),
                    ("DECRBY n -9223372036854775807", &int(-1)),
                ],
            );
        });
    }

    #[test]
    fn incrbyfloat_long_double_results() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("INCRBYFLOAT f 0.1", &bulk("0.1")),
                    ("INCRBYFLOAT f 0.2", &bulk("0.3")),
                    ("SET f 10.50", OK),
                    ("INCRBYFLOAT f 0.1", &bulk("10.6")),
                    ("SET f 5.0e3", OK),
                    ("INCRBYFLOAT f 2.0e2", &bulk("5200")),
                    ("SET f 3", OK),
                    ("INCRBYFLOAT f 1.5", &bulk("4.5")),
                    ("SET t 1 PX 100", OK),
                    ("INCRBYFLOAT t 1", &bulk("2")),
                ],
            );
            c.advance_ms(100);
            assert_eq!(run(c, conn, "GET t"), NIL);
        });
    }

    #[test]
    fn incrbyfloat_errors() {
        each_cluster(|c, conn| {
            assert_eq!(c.cmd_text(conn, &["SET", "s", " 1"]), OK);
            script(
                c,
                conn,
                &[
                    ("INCRBYFLOAT f abc", NOT_FLOAT),
                    ("INCRBYFLOAT f nan", NOT_FLOAT),
                    ("INCRBYFLOAT f 1e5000", NOT_FLOAT),
                    (
                        "INCRBYFLOAT f inf",
                        "-ERR increment would produce NaN or Infinity\r\n",
                    ),
                    ("EXISTS f", &int(0)),
                    ("INCRBYFLOAT s 1", NOT_FLOAT),
                    ("SET w abc", OK),
                    ("INCRBYFLOAT w 1", NOT_FLOAT),
                    ("GET w", &bulk("abc")),
                ],
            );
        });
    }

    #[test]
    fn lcs_replies_resp2() {
        assert_spread(&["a", "b"]);
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("SET a ohmytext", OK),
                    ("SET b mynewtext", OK),
                    ("LCS a b", &bulk("mytext")),
                    ("LCS a b LEN", &int(6)),
                    (
                        "LCS a b IDX",
                        &idx(RESP2, &[((4, 7), (5, 8), None), ((2, 3), (0, 1), None)], 6),
                    ),
                    (
                        "LCS a b IDX WITHMATCHLEN",
                        &idx(
                            RESP2,
                            &[((4, 7), (5, 8), Some(4)), ((2, 3), (0, 1), Some(2))],
                            6,
                        ),
                    ),
                    (
                        "LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN",
                        &idx(RESP2, &[((4, 7), (5, 8), Some(4))], 6),
                    ),
                    (
                        "LCS a b MINMATCHLEN -5 IDX",
                        &idx(RESP2, &[((4, 7), (5, 8), None), ((2, 3), (0, 1), None)], 6),
                    ),
                ],
            );
        });
    }

    #[test]
    fn lcs_tie_breaks_follow_redis() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("SET {x}1 ABCBDAB", OK),
                    ("SET {x}2 BDCABA", OK),
                    ("LCS {x}1 {x}2", &bulk("BDAB")),
                    ("LCS {x}2 {x}1", &bulk("BCBA")),
                    (
                        "LCS {x}1 {x}2 IDX WITHMATCHLEN",
                        &idx(
                            RESP2,
                            &[((5, 6), (3, 4), Some(2)), ((3, 4), (0, 1), Some(2))],
                            4,
                        ),
                    ),
                    (
                        "LCS {x}2 {x}1 IDX",
                        &idx(
                            RESP2,
                            &[
                                ((5, 5), (5, 5), None),
                                ((4, 4), (3, 3), None),
                                ((2, 2), (2, 2), None),
                                ((0, 0), (1, 1), None),
                            ],
                            4,
                        ),
                    ),
                ],
            );
        });
    }

    #[test]
    fn lcs_replies_resp3() {
        each_cluster(|c, conn| {
            c.cmd(conn, &["HELLO", "3"]);
            script(
                c,
                conn,
                &[
                    ("SET a ohmytext", OK),
                    ("SET b mynewtext", OK),
                    (
                        "LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN",
                        &idx(RESP3, &[((4, 7), (5, 8), Some(4))], 6),
                    ),
                    (
                        "LCS a missing IDX",
                        "%2\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
                    ),
                    ("LCS a b LEN", &int(6)),
                ],
            );
        });
    }

    #[test]
    fn lcs_missing_keys_and_errors() {
        each_cluster(|c, conn| {
            script(
                c,
                conn,
                &[
                    ("LCS a b", EMPTY),
                    (
                        "LCS a b IDX",
                        "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
                    ),
                    ("SET a ohmytext", OK),
                    ("LCS a b", EMPTY),
                    ("LCS a b LEN", &int(0)),
                    (
                        "LCS a b IDX LEN",
                        "-ERR If you want both the length and indexes, please just use IDX.\r\n",
                    ),
                    ("LCS a b MINMATCHLEN", SYNTAX),
                    ("LCS a b MINMATCHLEN abc", NOT_INT),
                    // MINMATCHLEN's value is parsed before a later syntax error.
                    ("LCS a b MINMATCHLEN abc foo", NOT_INT),
                    ("LCS a b foo", SYNTAX),
                ],
            );
        });
    }

    #[test]
    fn lcs_refuses_tables_past_proto_max_bulk_len() {
        each_cluster(|c, conn| {
            let big = "a".repeat(20_000);
            assert_eq!(c.cmd_text(conn, &["SET", "{big}1", &big]), OK);
            assert_eq!(c.cmd_text(conn, &["SET", "{big}2", &big]), OK);
            assert_eq!(
                run(c, conn, "LCS {big}1 {big}2 LEN"),
                "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
            );
        });
    }

    #[test]
    fn lcs_table_limit_at_and_past() {
        // 8192 * 16384 cells of 4 bytes is exactly 512 MiB: allowed; one more column is not.
        let cells = |a: u64, b: u64| (a + 1) * (b + 1) * LCS_CELL_BYTES;
        assert_eq!(cells(8191, 16383), LCS_TABLE_BYTES_MAX);
        assert!(cells(8191, 16384) > LCS_TABLE_BYTES_MAX);
        let a = vec![b'x'; 8191];
        assert!(matches!(
            LcsTable::build(&a, &vec![b'x'; 16384]),
            Err(CmdError::LcsTableTooLarge)
        ));
        let small = LcsTable::build(b"ab", b"b").expect("small table");
        assert_eq!(small.at(2, 1), 1);
    }

    #[test]
    fn encodings_follow_redis() {
        let mut d = Direct::new();
        let x44 = "x".repeat(44);
        let x45 = "x".repeat(45);
        let steps: &[(&str, &str, &str)] = &[
            ("SET k 12", "k", "int"),
            ("SET k 012", "k", "embstr"),
            ("SET k -0", "k", "embstr"),
            ("SET k 12345678901234567890", "k", "embstr"),
            ("SET k 1234567890123456789", "k", "int"),
            (&format!("SET k {x44}"), "k", "embstr"),
            (&format!("SET k {x45}"), "k", "raw"),
            ("APPEND a 12", "a", "int"),
            ("APPEND a 3", "a", "raw"),
            ("APPEND b xyz", "b", "embstr"),
            ("SET c 12", "c", "int"),
            ("SETRANGE c 0 1", "c", "raw"),
            ("SET c 12", "c", "int"),
            ("INCR c", "c", "int"),
            ("SETRANGE d 1 x", "d", "raw"),
            ("SET f 1", "f", "int"),
            ("INCRBYFLOAT f 2", "f", "embstr"),
            ("INCRBYFLOAT f 1e300", "f", "raw"),
            ("SET f 10", "f", "int"),
            ("INCRBYFLOAT f 0", "f", "embstr"),
            ("DECRBY f 3", "f", "int"),
            ("SET g 12", "g", "int"),
            ("GETSET g 13", "g", "int"),
            ("GETSET g abc", "g", "embstr"),
            ("GETEX g EX 10", "g", "embstr"),
            ("MSETNX m1 1 m2 abc", "m1", "int"),
            ("MSET m3 5", "m3", "int"),
            ("SETEX s 10 5", "s", "int"),
            ("SETNX n 5", "n", "int"),
            ("PSETEX p 10 abc", "p", "embstr"),
        ];
        for (line, key, want) in steps {
            assert!(!d.run(line).is_error(), "{line}");
            assert_eq!(d.encoding(key), *want, "{line}");
        }
        // APPEND and SETRANGE of nothing: APPEND unshares (raw), SETRANGE leaves it alone.
        let mut argv = Argv::from_slices(&["APPEND", "b", ""]);
        let run_argv = |d: &mut Direct, argv: &Argv, run: crate::cmd::ShardFn| {
            let mut ecx = ExecCx::new(&mut d.shard, 0, d.now_ms, &mut d.cx);
            run(&mut ecx, argv)
        };
        assert_eq!(run_argv(&mut d, &argv, append), Ok(Reply::Int(3)));
        assert_eq!(d.encoding("b"), "raw");
        argv = Argv::from_slices(&["SETRANGE", "c", "0", ""]);
        d.run("SET c 12");
        assert_eq!(run_argv(&mut d, &argv, setrange), Ok(Reply::Int(2)));
        assert_eq!(d.encoding("c"), "int");
    }

    #[test]
    fn deadlines_are_absolute_ms_from_the_hop_time() {
        let mut d = Direct::new();
        let now_ms = d.now_ms;
        let cases: &[(&str, Option<u64>)] = &[
            ("SET k v EX 10", Some(now_ms + 10_000)),
            ("SET k v PX 10", Some(now_ms + 10)),
            ("SET k v EXAT 2000000000", Some(2_000_000_000_000)),
            ("SET k v PXAT 2000000000123", Some(2_000_000_000_123)),
            ("SET k w KEEPTTL", Some(2_000_000_000_123)),
            ("GETEX k PERSIST", None),
            ("GETEX k EX 5", Some(now_ms + 5000)),
            ("SETEX k 7 v", Some(now_ms + 7000)),
            ("PSETEX k 7 v", Some(now_ms + 7)),
            ("SET k v", None),
        ];
        for (line, want) in cases {
            assert!(!d.run(line).is_error(), "{line}");
            assert_eq!(d.entry("k").expire_at_ms(), *want, "{line}");
        }
        d.shard.check_invariants();
    }

    #[test]
    fn keyspace_counters_follow_lookup_key_read() {
        let mut d = Direct::new();
        d.run("SET k v");
        // (command, hits added, misses added), as redis-server 7.0 counts them.
        let cases: &[(&str, u64, u64)] = &[
            ("GET k", 1, 0),
            ("GET missing", 0, 1),
            ("GETRANGE k 0 1", 1, 0),
            ("GETRANGE missing 0 1", 0, 1),
            ("SUBSTR k 0 1", 1, 0),
            ("STRLEN k", 1, 0),
            ("STRLEN missing", 0, 1),
            ("MGET k missing k", 2, 1),
            ("GETDEL missing", 0, 1),
            ("GETEX k", 1, 0),
            ("GETEX missing", 0, 1),
            ("GETSET new v", 0, 1),
            ("SET k v2 GET", 1, 0),
            ("SET k v3", 0, 0),
            ("INCR cnt", 0, 0),
            ("INCRBYFLOAT fl 1", 0, 0),
            ("APPEND k x", 0, 0),
            ("SETRANGE k 0 y", 0, 0),
            ("SETNX k v", 0, 0),
            ("MSETNX k v", 0, 0),
            ("LCS k new", 2, 0),
            ("LCS k missing", 1, 1),
            ("GETDEL k", 1, 0),
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
            "get 2 | readonly fast | 1 1 1 | read string fast | RO access",
            "set -3 | write denyoom | 1 1 1 | write string slow | RW access update variable_flags",
            "setnx 3 | write denyoom fast | 1 1 1 | write string fast | OW insert",
            "setex 4 | write denyoom | 1 1 1 | write string slow | OW update",
            "psetex 4 | write denyoom | 1 1 1 | write string slow | OW update",
            "mget -2 | readonly fast | 1 -1 1 | read string fast | RO access",
            "mset -3 | write denyoom | 1 -1 2 | write string slow | OW update",
            "msetnx -3 | write denyoom | 1 -1 2 | write string slow | OW insert",
            "getset 3 | write denyoom fast | 1 1 1 | write string fast | RW access update",
            "getdel 2 | write fast | 1 1 1 | write string fast | RW access delete",
            "getex -2 | write fast | 1 1 1 | write string fast | RW access update",
            "append 3 | write denyoom fast | 1 1 1 | write string fast | RW insert",
            "strlen 2 | readonly fast | 1 1 1 | read string fast | RO",
            "getrange 4 | readonly | 1 1 1 | read string slow | RO access",
            "setrange 4 | write denyoom | 1 1 1 | write string slow | RW update",
            "substr 4 | readonly | 1 1 1 | read string slow | RO access",
            "incr 2 | write denyoom fast | 1 1 1 | write string fast | RW access update",
            "decr 2 | write denyoom fast | 1 1 1 | write string fast | RW access update",
            "incrby 3 | write denyoom fast | 1 1 1 | write string fast | RW access update",
            "decrby 3 | write denyoom fast | 1 1 1 | write string fast | RW access update",
            "incrbyfloat 3 | write denyoom fast | 1 1 1 | write string fast | RW access update",
            "lcs -3 | readonly | 1 2 1 | read string slow | RO access",
        ];
        assert_eq!(SPECS.len(), rows.len());
        for want in rows {
            let name = want.split(' ').next().expect("name");
            let spec = SPECS.iter().find(|s| s.name == name).expect(name);
            assert_eq!(crate::cmd::info_line(spec, "string"), want);
        }
    }
}
