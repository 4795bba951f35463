//! Keyspace and server commands: DEL UNLINK EXISTS TOUCH TYPE RENAME RENAMENX COPY MOVE
//! EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL EXPIRETIME PEXPIRETIME PERSIST DBSIZE FLUSHDB
//! FLUSHALL SELECT SWAPDB KEYS PING ECHO.
//!
//! Orders of checks follow Redis 7.0's `db.c` and `expire.c`. Expire deadlines are computed in
//! signed 64-bit milliseconds like Redis (EXPIRE accepts negative times: the key is deleted),
//! then stored as `u64` once known to be in the future.

use crate::args::{self, c_int_or_msg, c_int_or_reply, int_or_reply, is, SYNTAX};
use crate::glob;
use crate::model::Ctx;
use crate::resp::Resp;

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

const NO_SUCH_KEY: &str = "ERR no such key";
const SAME_OBJECT: &str = "ERR source and destination objects are the same";
const DB_OUT_OF_RANGE: &str = "ERR DB index is out of range";

/// `addReplyErrorFormat`: client bytes in an error, with CR and LF turned into spaces.
fn error_with(prefix: &str, arg: &[u8]) -> Resp {
    let clean: Vec<u8> = arg
        .iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect();
    Resp::Error(format!("{prefix}{}", String::from_utf8_lossy(&clean)))
}

/// A database index from a client, validated like `selectDb`.
fn db_in_range(cx: &Ctx, id: i32) -> Result<usize, Resp> {
    usize::try_from(id)
        .ok()
        .filter(|&i| i < cx.model.db_count())
        .ok_or_else(|| Resp::err(DB_OUT_OF_RANGE))
}

/// DEL and UNLINK: the number of keys removed (a repeated key counts once).
pub(crate) fn del(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let removed = argv[1..].iter().filter(|k| cx.delete(k)).count();
    Resp::Int(removed as i64)
}

/// EXISTS and TOUCH: the number of arguments naming a live key (repeats count again).
pub(crate) fn exists(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let found = argv[1..].iter().filter(|k| cx.entry(k).is_some()).count();
    Resp::Int(found as i64)
}

pub(crate) fn type_(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let name = cx.entry(&argv[1]).map_or("none", |e| e.value.type_name());
    Resp::Simple(name.to_string())
}

/// `renameGenericCommand`.
fn rename_generic(cx: &mut Ctx, argv: &[Vec<u8>], nx: bool) -> Resp {
    let (src, dst) = (&argv[1], &argv[2]);
    let Some(entry) = cx.entry(src).cloned() else {
        return Resp::err(NO_SUCH_KEY);
    };
    let done = if nx { Resp::Int(1) } else { Resp::ok() };
    if src == dst {
        return if nx { Resp::Int(0) } else { Resp::ok() };
    }
    if nx && cx.entry(dst).is_some() {
        return Resp::Int(0);
    }
    cx.delete(src);
    cx.model.insert(cx.conn.db, dst, entry);
    done
}

pub(crate) fn rename(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    rename_generic(cx, argv, false)
}

pub(crate) fn renamenx(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    rename_generic(cx, argv, true)
}

/// COPY's options: `(target db, REPLACE)`.
fn parse_copy(cx: &Ctx, argv: &[Vec<u8>]) -> Result<(usize, bool), Resp> {
    let (mut db, mut replace) = (cx.conn.db, false);
    let mut j = 3;
    while j < argv.len() {
        if is(&argv[j], "replace") {
            replace = true;
        } else if is(&argv[j], "db") && j + 1 < argv.len() {
            db = db_in_range(cx, c_int_or_reply(&argv[j + 1])?)?;
            j += 1;
        } else {
            return Err(Resp::err(SYNTAX));
        }
        j += 1;
    }
    Ok((db, replace))
}

pub(crate) fn copy(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let (dst_db, replace) = tri!(parse_copy(cx, argv));
    let (src, dst) = (&argv[1], &argv[2]);
    if dst_db == cx.conn.db && src == dst {
        return Resp::err(SAME_OBJECT);
    }
    let Some(entry) = cx.entry(src).cloned() else {
        return Resp::Int(0);
    };
    if cx.model.db(dst_db).contains_key(dst) && !replace {
        return Resp::Int(0);
    }
    cx.model.insert(dst_db, dst, entry);
    Resp::Int(1)
}

pub(crate) fn move_(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let key = &argv[1];
    let dst_db = tri!(c_int_or_reply(&argv[2]).and_then(|id| db_in_range(cx, id)));
    if dst_db == cx.conn.db {
        return Resp::err(SAME_OBJECT);
    }
    let Some(entry) = cx.entry(key).cloned() else {
        return Resp::Int(0);
    };
    if cx.model.db(dst_db).contains_key(key) {
        return Resp::Int(0);
    }
    cx.delete(key);
    cx.model.insert(dst_db, key, entry);
    Resp::Int(1)
}

/// EXPIRE's NX/XX/GT/LT options.
#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// `parseExtendedExpireArgumentsOrReply`.
fn parse_expire_flags(opts: &[Vec<u8>]) -> Result<ExpireFlags, Resp> {
    let mut f = ExpireFlags::default();
    for opt in opts {
        if is(opt, "nx") {
            f.nx = true;
        } else if is(opt, "xx") {
            f.xx = true;
        } else if is(opt, "gt") {
            f.gt = true;
        } else if is(opt, "lt") {
            f.lt = true;
        } else {
            return Err(error_with("ERR Unsupported option ", args::cstr(opt)));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(Resp::err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(Resp::err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

/// How an EXPIRE-family command reads its time argument.
#[derive(Clone, Copy)]
struct ExpireKind {
    name: &'static str,
    unit_ms: i64,
    relative: bool,
}

/// `expireGenericCommand`.
fn expire_generic(cx: &mut Ctx, argv: &[Vec<u8>], kind: ExpireKind) -> Resp {
    let f = tri!(parse_expire_flags(&argv[3..]));
    let when = tri!(int_or_reply(&argv[2]));
    let invalid = || {
        Resp::err(format!(
            "ERR invalid expire time in '{}' command",
            kind.name
        ))
    };
    let Some(when) = when.checked_mul(kind.unit_ms) else {
        return invalid();
    };
    let base = if kind.relative { cx.now_ms as i64 } else { 0 };
    let Some(when) = when.checked_add(base) else {
        return invalid();
    };
    let Some(entry) = cx.entry(&argv[1]) else {
        return Resp::Int(0);
    };
    let current = entry.expire_at_ms.map(|t| t as i64);
    let refused = (f.nx && current.is_some())
        || (f.xx && current.is_none())
        || (f.gt && current.is_none_or(|c| when <= c))
        || (f.lt && current.is_some_and(|c| when >= c));
    if refused {
        return Resp::Int(0);
    }
    if when <= cx.now_ms as i64 {
        cx.delete(&argv[1]);
    } else {
        cx.set_expire(&argv[1], Some(when as u64));
    }
    Resp::Int(1)
}

pub(crate) fn expire(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let kind = ExpireKind {
        name: "expire",
        unit_ms: 1000,
        relative: true,
    };
    expire_generic(cx, argv, kind)
}

pub(crate) fn pexpire(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let kind = ExpireKind {
        name: "pexpire",
        unit_ms: 1,
        relative: true,
    };
    expire_generic(cx, argv, kind)
}

pub(crate) fn expireat(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let kind = ExpireKind {
        name: "expireat",
        unit_ms: 1000,
        relative: false,
    };
    expire_generic(cx, argv, kind)
}

pub(crate) fn pexpireat(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let kind = ExpireKind {
        name: "pexpireat",
        unit_ms: 1,
        relative: false,
    };
    expire_generic(cx, argv, kind)
}

/// `ttlGenericCommand`: -2 missing, -1 no TTL, else the remaining (or absolute) time.
/// Seconds are rounded to nearest: `(ms + 500) / 1000`.
fn ttl_generic(cx: &mut Ctx, key: &[u8], in_ms: bool, absolute: bool) -> Resp {
    let now = cx.now_ms as i64;
    let Some(entry) = cx.entry(key) else {
        return Resp::Int(-2);
    };
    let Some(at) = entry.expire_at_ms else {
        return Resp::Int(-1);
    };
    let ttl = if absolute {
        at as i64
    } else {
        (at as i64 - now).max(0)
    };
    // Redis computes `(ttl + 500) / 1000` in C; for a deadline near i64::MAX that sum overflows,
    // yet redis-server 7.0 replies the mathematically exact quotient, so we compute it wide.
    let secs = ((i128::from(ttl) + 500) / 1000) as i64;
    Resp::Int(if in_ms { ttl } else { secs })
}

pub(crate) fn ttl(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    ttl_generic(cx, &argv[1], false, false)
}

pub(crate) fn pttl(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    ttl_generic(cx, &argv[1], true, false)
}

pub(crate) fn expiretime(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    ttl_generic(cx, &argv[1], false, true)
}

pub(crate) fn pexpiretime(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    ttl_generic(cx, &argv[1], true, true)
}

pub(crate) fn persist(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    match cx.entry(&argv[1]) {
        Some(e) if e.expire_at_ms.is_some() => {
            cx.set_expire(&argv[1], None);
            Resp::Int(1)
        }
        _ => Resp::Int(0),
    }
}

pub(crate) fn dbsize(cx: &mut Ctx, _argv: &[Vec<u8>]) -> Resp {
    Resp::Int(cx.db().len() as i64)
}

/// `getFlushCommandFlags`: nothing, or exactly one of SYNC / ASYNC.
fn check_flush_args(argv: &[Vec<u8>]) -> Result<(), Resp> {
    match argv {
        [_] => Ok(()),
        [_, mode] if is(mode, "sync") || is(mode, "async") => Ok(()),
        _ => Err(Resp::err(SYNTAX)),
    }
}

pub(crate) fn flushdb(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    tri!(check_flush_args(argv));
    cx.model.clear(cx.conn.db);
    Resp::ok()
}

pub(crate) fn flushall(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    tri!(check_flush_args(argv));
    for index in 0..cx.model.db_count() {
        cx.model.clear(index);
    }
    Resp::ok()
}

pub(crate) fn select(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let id = tri!(c_int_or_reply(&argv[1]));
    cx.conn.db = tri!(db_in_range(cx, id));
    Resp::ok()
}

pub(crate) fn swapdb(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let a = tri!(c_int_or_msg(&argv[1], "invalid first DB index"));
    let b = tri!(c_int_or_msg(&argv[2], "invalid second DB index"));
    let (a, b) = (tri!(db_in_range(cx, a)), tri!(db_in_range(cx, b)));
    cx.model.swap_dbs(a, b);
    Resp::ok()
}

/// KEYS: live keys matching the glob, in key order (Redis's order is unspecified).
/// A lone `*` matches every key, even the empty one the matcher itself would reject.
pub(crate) fn keys(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let pattern = &argv[1];
    let all = pattern.as_slice() == b"*";
    let found = cx.db().keys().filter(|k| all || glob::matches(pattern, k));
    Resp::Array(found.map(Resp::bulk).collect())
}

pub(crate) fn ping(_cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    match argv {
        [_] => Resp::Simple("PONG".to_string()),
        [_, msg] => Resp::Bulk(msg.clone()),
        _ => crate::commands::arity_error("ping"),
    }
}

pub(crate) fn echo(_cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    Resp::Bulk(argv[1].clone())
}
