//! String commands: GET SET SETNX SETEX PSETEX MGET MSET MSETNX GETSET GETDEL GETEX APPEND
//! STRLEN GETRANGE SUBSTR SETRANGE INCR DECR INCRBY DECRBY INCRBYFLOAT.
//!
//! Each handler follows the order of checks in Redis 7.0's `t_string.c`, because that order
//! decides which error wins when several apply (e.g. GETEX on a missing key replies nil even
//! with an invalid expire time; SET checks the expire time before NX/XX).
//! TTL rules: SET/GETSET/MSET clear the TTL (unless KEEPTTL), every in-place update (APPEND,
//! SETRANGE, INCR*) keeps it.

use crate::args::{self, int_or_reply, is, NOT_INTEGER, SYNTAX};
use crate::longdouble;
use crate::model::Ctx;
use crate::resp::Resp;

/// Redis's default `proto-max-bulk-len`: the largest string APPEND/SETRANGE may build.
const PROTO_MAX_BULK_LEN_BYTES: i64 = 512 * 1024 * 1024;
const TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub(crate) const NOT_FLOAT: &str = "ERR value is not a valid float";

/// Unwraps a `Result<T, Resp>` or returns the error reply from the handler.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

/// The options shared by SET and GETEX, kept as Redis's flag bits because Redis's rules for
/// which combinations are legal are stated on those bits (`parseExtendedStringArgumentsOrReply`).
/// Note that repeating an option (`EX 1 EX 2`, `NX NX`) is legal there: the last value wins.
#[derive(Default)]
struct ExtFlags {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    ex: bool,
    px: bool,
    exat: bool,
    pxat: bool,
    expire: Option<Vec<u8>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExtCommand {
    Set,
    GetEx,
}

fn parse_extended(argv: &[Vec<u8>], start: usize, cmd: ExtCommand) -> Result<ExtFlags, Resp> {
    let mut f = ExtFlags::default();
    let set = cmd == ExtCommand::Set;
    let mut j = start;
    while j < argv.len() {
        let opt = &argv[j];
        let next = argv.get(j + 1);
        let no_ttl_opt = !f.keepttl && !f.persist;
        if is(opt, "nx") && !f.xx && set {
            f.nx = true;
        } else if is(opt, "xx") && !f.nx && set {
            f.xx = true;
        } else if is(opt, "get") && set {
            f.get = true;
        } else if is(opt, "keepttl") && !f.persist && !(f.ex || f.exat || f.px || f.pxat) && set {
            f.keepttl = true;
        } else if is(opt, "persist") && !set && !(f.ex || f.exat || f.px || f.pxat || f.keepttl) {
            f.persist = true;
        } else if is(opt, "ex") && no_ttl_opt && !(f.exat || f.px || f.pxat) && next.is_some() {
            (f.ex, f.expire, j) = (true, next.cloned(), j + 1);
        } else if is(opt, "px") && no_ttl_opt && !(f.ex || f.exat || f.pxat) && next.is_some() {
            (f.px, f.expire, j) = (true, next.cloned(), j + 1);
        } else if is(opt, "exat") && no_ttl_opt && !(f.ex || f.px || f.pxat) && next.is_some() {
            (f.exat, f.expire, j) = (true, next.cloned(), j + 1);
        } else if is(opt, "pxat") && no_ttl_opt && !(f.ex || f.exat || f.px) && next.is_some() {
            (f.pxat, f.expire, j) = (true, next.cloned(), j + 1);
        } else {
            return Err(Resp::err(SYNTAX));
        }
        j += 1;
    }
    Ok(f)
}

/// `addReplyErrorExpireTime`.
fn invalid_expire(name: &str) -> Resp {
    Resp::err(format!("ERR invalid expire time in '{name}' command"))
}

/// `getExpireMillisecondsOrReply`: the absolute deadline in ms for an expire argument.
/// Relative forms add `now`; C's signed overflow wraps, and a non-positive result is an error.
fn expire_deadline(cx: &Ctx, arg: &[u8], unit_s: bool, rel: bool, name: &str) -> Result<i64, Resp> {
    let mut ms = int_or_reply(arg)?;
    if ms <= 0 || (unit_s && ms > i64::MAX / 1000) {
        return Err(invalid_expire(name));
    }
    if unit_s {
        ms *= 1000;
    }
    if rel {
        ms = ms.wrapping_add(cx.now_ms as i64);
    }
    if ms <= 0 {
        return Err(invalid_expire(name));
    }
    Ok(ms)
}

/// The deadline an `ExtFlags` asks for, if any.
fn flags_deadline(cx: &Ctx, f: &ExtFlags, name: &str) -> Result<Option<i64>, Resp> {
    match &f.expire {
        None => Ok(None),
        Some(arg) => expire_deadline(cx, arg, f.ex || f.exat, f.ex || f.px, name).map(Some),
    }
}

/// `getGenericCommand`: the GET reply for `key`.
fn get_reply(cx: &mut Ctx, key: &[u8]) -> Result<Resp, Resp> {
    Ok(cx.string(key)?.map_or(Resp::Nil, Resp::Bulk))
}

pub(crate) fn get(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    get_reply(cx, &argv[1]).unwrap_or_else(|e| e)
}

/// What `setGenericCommand` replies when it sets, and when NX/XX makes it skip.
struct SetReplies {
    ok: Resp,
    aborted: Resp,
}

/// `setGenericCommand`.
fn set_generic(
    cx: &mut Ctx,
    f: &ExtFlags,
    key: &[u8],
    val: &[u8],
    name: &str,
    replies: SetReplies,
) -> Resp {
    let deadline = tri!(flags_deadline(cx, f, name));
    let old = if f.get {
        Some(tri!(get_reply(cx, key)))
    } else {
        None
    };
    let found = cx.entry(key).is_some();
    if (f.nx && found) || (f.xx && !found) {
        return old.unwrap_or(replies.aborted);
    }
    match deadline {
        Some(ms) => cx.set_string_expiring(key, val.to_vec(), ms as u64),
        None if f.keepttl => cx.overwrite_string(key, val.to_vec()),
        None => cx.set_string(key, val.to_vec()),
    }
    old.unwrap_or(replies.ok)
}

fn ok_or_nil() -> SetReplies {
    SetReplies {
        ok: Resp::ok(),
        aborted: Resp::Nil,
    }
}

pub(crate) fn set(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let f = tri!(parse_extended(argv, 3, ExtCommand::Set));
    set_generic(cx, &f, &argv[1], &argv[2], "set", ok_or_nil())
}

pub(crate) fn setnx(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let f = ExtFlags {
        nx: true,
        ..ExtFlags::default()
    };
    let replies = SetReplies {
        ok: Resp::Int(1),
        aborted: Resp::Int(0),
    };
    set_generic(cx, &f, &argv[1], &argv[2], "setnx", replies)
}

pub(crate) fn setex(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let f = ExtFlags {
        ex: true,
        expire: Some(argv[2].clone()),
        ..ExtFlags::default()
    };
    set_generic(cx, &f, &argv[1], &argv[3], "setex", ok_or_nil())
}

pub(crate) fn psetex(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let f = ExtFlags {
        px: true,
        expire: Some(argv[2].clone()),
        ..ExtFlags::default()
    };
    set_generic(cx, &f, &argv[1], &argv[3], "psetex", ok_or_nil())
}

pub(crate) fn mget(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let values = argv[1..]
        .iter()
        .map(|k| get_reply(cx, k).unwrap_or(Resp::Nil));
    Resp::Array(values.collect())
}

fn mset_generic(cx: &mut Ctx, argv: &[Vec<u8>], nx: bool, name: &str) -> Resp {
    if argv.len() % 2 == 0 {
        return crate::commands::arity_error(name);
    }
    if nx && argv[1..].iter().step_by(2).any(|k| cx.entry(k).is_some()) {
        return Resp::Int(0);
    }
    for pair in argv[1..].chunks(2) {
        cx.set_string(&pair[0], pair[1].clone());
    }
    if nx {
        Resp::Int(1)
    } else {
        Resp::ok()
    }
}

pub(crate) fn mset(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    mset_generic(cx, argv, false, "mset")
}

pub(crate) fn msetnx(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    mset_generic(cx, argv, true, "msetnx")
}

pub(crate) fn getset(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let old = tri!(get_reply(cx, &argv[1]));
    cx.set_string(&argv[1], argv[2].clone());
    old
}

pub(crate) fn getdel(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let old = tri!(get_reply(cx, &argv[1]));
    cx.delete(&argv[1]);
    old
}

pub(crate) fn getex(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let f = tri!(parse_extended(argv, 2, ExtCommand::GetEx));
    let key = &argv[1];
    let Some(value) = tri!(cx.string(key)) else {
        return Resp::Nil;
    };
    let deadline = tri!(flags_deadline(cx, &f, "getex"));
    match deadline {
        Some(ms) if (f.exat || f.pxat) && ms <= cx.now_ms as i64 => {
            cx.delete(key);
        }
        Some(ms) => cx.set_expire(key, Some(ms as u64)),
        // Only a TTL actually removed counts as a write (and so breaks a WATCH).
        None if f.persist && cx.entry(key).is_some_and(|e| e.expire_at_ms.is_some()) => {
            cx.set_expire(key, None);
        }
        None => {}
    }
    Resp::Bulk(value)
}

/// `checkStringLength`: may a string of `size` bytes grow by `append` bytes?
fn check_length(size: i64, append: i64) -> Result<(), Resp> {
    match size.checked_add(append) {
        Some(total) if total <= PROTO_MAX_BULK_LEN_BYTES => Ok(()),
        _ => Err(Resp::err(TOO_LONG)),
    }
}

pub(crate) fn append(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let (key, tail) = (&argv[1], &argv[2]);
    let Some(mut value) = tri!(cx.string(key)) else {
        cx.set_string(key, tail.clone());
        return Resp::Int(tail.len() as i64);
    };
    tri!(check_length(value.len() as i64, tail.len() as i64));
    value.extend_from_slice(tail);
    let len = value.len() as i64;
    cx.overwrite_string(key, value);
    Resp::Int(len)
}

pub(crate) fn strlen(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let value = tri!(cx.string(&argv[1]));
    Resp::Int(value.map_or(0, |v| v.len() as i64))
}

/// GETRANGE and SUBSTR, with Redis's index clamping (`getrangeCommand`).
pub(crate) fn getrange(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let mut start = tri!(int_or_reply(&argv[2]));
    let mut end = tri!(int_or_reply(&argv[3]));
    let Some(value) = tri!(cx.string(&argv[1])) else {
        return Resp::bulk("");
    };
    let len = value.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Resp::bulk("");
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Resp::bulk("");
    }
    Resp::bulk(&value[start as usize..=end as usize])
}

pub(crate) fn setrange(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let (key, patch) = (&argv[1], &argv[3]);
    let offset = tri!(int_or_reply(&argv[2]));
    if offset < 0 {
        return Resp::err("ERR offset is out of range");
    }
    let existing = tri!(cx.string(key));
    if patch.is_empty() {
        return Resp::Int(existing.map_or(0, |v| v.len() as i64));
    }
    tri!(check_length(offset, patch.len() as i64));
    let mut value = existing.unwrap_or_default();
    let offset = offset as usize;
    if value.len() < offset + patch.len() {
        value.resize(offset + patch.len(), 0);
    }
    value[offset..offset + patch.len()].copy_from_slice(patch);
    let len = value.len() as i64;
    cx.overwrite_string(key, value);
    Resp::Int(len)
}

/// `incrDecrCommand`: adds `delta` to the integer at `key` (0 if missing), keeping its TTL.
fn incr_by(cx: &mut Ctx, key: &[u8], delta: i64) -> Resp {
    let old = match tri!(cx.string(key)) {
        None => 0,
        Some(s) => tri!(args::string2ll(&s).ok_or_else(|| Resp::err(NOT_INTEGER))),
    };
    let Some(new) = old.checked_add(delta) else {
        return Resp::err("ERR increment or decrement would overflow");
    };
    cx.overwrite_string(key, new.to_string().into_bytes());
    Resp::Int(new)
}

pub(crate) fn incr(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    incr_by(cx, &argv[1], 1)
}

pub(crate) fn decr(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    incr_by(cx, &argv[1], -1)
}

pub(crate) fn incrby(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let delta = tri!(int_or_reply(&argv[2]));
    incr_by(cx, &argv[1], delta)
}

pub(crate) fn decrby(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let delta = tri!(int_or_reply(&argv[2]));
    if delta == i64::MIN {
        return Resp::err("ERR decrement would overflow");
    }
    incr_by(cx, &argv[1], -delta)
}

/// `incrbyfloatCommand`: both operands parsed by `strtold`, summed in x87 `long double`, printed
/// with `%.17Lf` (see `longdouble`). The result keeps the key's TTL.
pub(crate) fn incrbyfloat(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let key = &argv[1];
    let current = tri!(cx.string(key));
    let not_float = || Resp::err(NOT_FLOAT);
    let zero = longdouble::Ld::Finite {
        neg: false,
        mant: 0,
        exp: 0,
    };
    let value = match current {
        None => zero,
        Some(s) => tri!(longdouble::parse(&s).ok_or_else(not_float)),
    };
    let incr = tri!(longdouble::parse(&argv[2]).ok_or_else(not_float));
    let sum = longdouble::add(value, incr);
    if !sum.is_finite() {
        return Resp::err("ERR increment would produce NaN or Infinity");
    }
    let text = longdouble::to_human_string(sum);
    cx.overwrite_string(key, text.clone());
    Resp::Bulk(text)
}
