//! Strings: GET, SET and friends.
//!
//! Values are kept as Redis encodes them (see `db::StrValue`): canonical integers as integers,
//! short strings embedded, long or appended-to strings raw, so OBJECT ENCODING answers as Redis.
//! Deadlines are absolute unix milliseconds computed once from the hop's time.

use crate::argv::Argv;
use crate::cmd::args::Args;
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, Docs, Exec, KeySpec, Merge};
use crate::db::{Entry, StrValue, Value};
use crate::error::CmdError;
use crate::reply::Reply;
use crate::shard::ExecCx;

const fn docs(summary: &'static str, since: &'static str, complexity: &'static str) -> Docs {
    Docs {
        summary,
        since,
        group: "string",
        complexity,
    }
}

const fn row(
    name: &'static str,
    arity: i16,
    flags: u32,
    keys: &'static [KeySpec],
    run: crate::cmd::ShardFn,
    merge: Merge,
    docs: Docs,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl: acl::STRING,
        keys,
        exec: Exec::Shard { run, merge },
        subcommands: &[],
        docs,
    }
}

const RO_ACCESS: &[KeySpec] = &[KeySpec::one(kf::RO | kf::ACCESS, 1)];
const RW_UPDATE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::ACCESS | kf::UPDATE, 1)];

pub const SPECS: &[CommandSpec] = &[
    row("get", 2, flag::READONLY | flag::FAST, RO_ACCESS, get, Merge::OneKey, docs("Returns the string value of a key.", "1.0.0", "O(1)")),
    row(
        "set",
        -3,
        flag::WRITE | flag::DENYOOM,
        &[KeySpec::one(kf::RW | kf::ACCESS | kf::UPDATE | kf::VARIABLE_FLAGS, 1)],
        set,
        Merge::OneKey,
        docs("Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "1.0.0", "O(1)"),
    ),
    row("mget", -2, flag::READONLY | flag::FAST, &[KeySpec::all_from(kf::RO | kf::ACCESS, 1, 1)], mget, Merge::KeyOrder, docs("Atomically returns the string values of one or more keys.", "1.0.0", "O(N) where N is the number of keys to retrieve.")),
    row("mset", -3, flag::WRITE | flag::DENYOOM, &[KeySpec::all_from(kf::OW | kf::UPDATE, 1, 2)], mset, Merge::AllOk, docs("Atomically creates or modifies the string values of one or more keys.", "1.0.1", "O(N) where N is the number of keys to set.")),
    row("incr", 2, flag::WRITE | flag::DENYOOM | flag::FAST, RW_UPDATE, incr, Merge::OneKey, docs("Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)")),
];

/// The string under `key`: `Ok(None)` when absent, WRONGTYPE when it holds another type.
pub fn read_str<'e>(ecx: &'e mut ExecCx, key: &[u8]) -> Result<Option<&'e StrValue>, CmdError> {
    let now_ms = ecx.read_now_ms();
    match ecx.db().get_mut(key, now_ms) {
        None => Ok(None),
        Some(entry) => match &entry.value {
            Value::Str(s) => Ok(Some(s)),
        },
    }
}

fn get(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let value = read_str(ecx, &argv[1])?.map(StrValue::to_bytes);
    let stats = &mut ecx.shard.stats;
    match value {
        Some(v) => {
            stats.keyspace_hits += 1;
            Ok(Reply::Bulk(v))
        }
        None => {
            stats.keyspace_misses += 1;
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

/// What SET does to the key's deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetTtl {
    Clear,
    Keep,
    At(u64),
}

struct SetArgs {
    cond: SetCond,
    ttl: SetTtl,
    get: bool,
}

/// An expiry option's value turned into an absolute deadline, with Redis's checks: positive,
/// and no overflow when scaled to milliseconds and offset by now.
fn deadline_ms(
    value: i64,
    unit_ms: i64,
    relative: bool,
    now_ms: u64,
    cmd: &'static str,
) -> Result<u64, CmdError> {
    let invalid = CmdError::InvalidExpireTime(cmd);
    if value <= 0 {
        return Err(invalid);
    }
    let ms = value.checked_mul(unit_ms).ok_or(invalid.clone())?;
    let at = if relative {
        ms.checked_add(now_ms as i64).ok_or(invalid)?
    } else {
        ms
    };
    Ok(at as u64)
}

fn parse_set(argv: &Argv, now_ms: u64) -> Result<SetArgs, CmdError> {
    let mut args = Args::new(argv, 3);
    let mut parsed = SetArgs {
        cond: SetCond::Always,
        ttl: SetTtl::Clear,
        get: false,
    };
    let mut ttl_given = false;
    while let Some(word) = args.next() {
        let word = word.to_ascii_uppercase();
        match word.as_slice() {
            b"NX" if parsed.cond != SetCond::IfPresent => parsed.cond = SetCond::IfAbsent,
            b"XX" if parsed.cond != SetCond::IfAbsent => parsed.cond = SetCond::IfPresent,
            b"GET" => parsed.get = true,
            b"KEEPTTL" if !ttl_given => {
                ttl_given = true;
                parsed.ttl = SetTtl::Keep;
            }
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if !ttl_given => {
                ttl_given = true;
                let value = args.next_arg()?;
                let value = crate::cmd::args::parse_i64(value)?;
                let unit_ms = if word[0] == b'E' { 1000 } else { 1 };
                let relative = word.len() == 2;
                parsed.ttl = SetTtl::At(deadline_ms(value, unit_ms, relative, now_ms, "set")?);
            }
            _ => return Err(CmdError::Syntax),
        }
    }
    Ok(parsed)
}

fn set(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now_ms = ecx.now_ms;
    let args = parse_set(argv, now_ms)?;
    let key = &argv[1];
    let read_now = ecx.read_now_ms();
    let old = ecx.db().peek(key, read_now).cloned();
    let old_value = match (&old, args.get) {
        (
            Some(Entry {
                value: Value::Str(s),
                ..
            }),
            true,
        ) => Some(s.to_bytes()),
        _ => None,
    };
    let should_write = match args.cond {
        SetCond::Always => true,
        SetCond::IfAbsent => old.is_none(),
        SetCond::IfPresent => old.is_some(),
    };
    if should_write {
        let mut entry = Entry::new(
            key.to_vec(),
            Value::Str(StrValue::from_bytes(argv[2].to_vec())),
            now_ms,
        );
        entry.expire_at_ms = match args.ttl {
            SetTtl::Clear => None,
            SetTtl::Keep => old.as_ref().and_then(|e| e.expire_at_ms),
            SetTtl::At(at) => Some(at),
        };
        ecx.db().insert(entry, now_ms);
    }
    Ok(match (args.get, should_write) {
        (true, _) => Reply::opt_bulk(old_value),
        (false, true) => Reply::OK,
        (false, false) => Reply::Nil,
    })
}

fn mget(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let mut replies = Vec::with_capacity(argv.len() - 1);
    for key in argv.iter().skip(1) {
        // MGET answers nil for keys of other types rather than WRONGTYPE.
        let value = read_str(ecx, key).ok().flatten().map(StrValue::to_bytes);
        replies.push(Reply::opt_bulk(value));
    }
    Ok(Reply::Array(replies))
}

fn mset(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    if argv.len() % 2 == 0 {
        return Err(CmdError::WrongArity("mset".into()));
    }
    let now_ms = ecx.now_ms;
    for pair in 0..(argv.len() - 1) / 2 {
        let (key, value) = (&argv[1 + 2 * pair], &argv[2 + 2 * pair]);
        let entry = Entry::new(
            key.to_vec(),
            Value::Str(StrValue::from_bytes(value.to_vec())),
            now_ms,
        );
        ecx.db().insert(entry, now_ms);
    }
    Ok(Reply::OK)
}

fn incr(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    incr_by(ecx, &argv[1], 1)
}

pub fn incr_by(ecx: &mut ExecCx, key: &[u8], by: i64) -> Result<Reply, CmdError> {
    let now_ms = ecx.now_ms;
    let current = match read_str(ecx, key)? {
        None => 0,
        Some(StrValue::Int(n)) => *n,
        Some(StrValue::Bytes { bytes, .. }) => {
            crate::db::parse_canonical_i64(bytes).ok_or(CmdError::NotInteger)?
        }
    };
    let next = current.checked_add(by).ok_or(CmdError::Overflow)?;
    match ecx.db().get_mut(key, now_ms) {
        Some(entry) => entry.value = Value::Str(StrValue::Int(next)),
        None => {
            ecx.db().insert(
                Entry::new(key.to_vec(), Value::Str(StrValue::Int(next)), now_ms),
                now_ms,
            );
        }
    }
    Ok(Reply::Int(next))
}
