//! Set commands: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SMOVE SINTER SINTERCARD
//! SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE, a plain port of Redis 7.0's `t_set.c` over
//! a `BTreeSet`.
//!
//! Encodings (intset, hashtable) are not modelled: they change no reply but OBJECT ENCODING's,
//! and member order in replies is Redis's iteration order, which the model does not claim:
//! `commands::unordered_reply` says which replies are compared as multisets.
//!
//! Not modelled: SPOP and SRANDMEMBER (random; they need relational checks against recorded
//! replies) and SSCAN (its cursor is the server's table layout).
//!
//! Order of checks follows Redis: SINTER/SUNION/SDIFF check every key's type even after a
//! missing one; SMOVE answers 0 for a missing source before checking the destination's type;
//! SINTERCARD parses numkeys and LIMIT before any lookup.

use std::collections::BTreeSet;

use crate::args::{is, string2ll, SYNTAX};
use crate::model::{wrong_type, Ctx, Entry, Value};
use crate::resp::Resp;

type Members = BTreeSet<Vec<u8>>;

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

/// `lookupKey` + `checkType(OBJ_SET)`.
pub(crate) fn set_at(cx: &Ctx, key: &[u8]) -> Result<Option<Members>, Resp> {
    match cx.entry(key) {
        None => Ok(None),
        Some(Entry {
            value: Value::Set(s),
            ..
        }) => Ok(Some(s.clone())),
        Some(_) => Err(wrong_type()),
    }
}

/// Stores `members` under `key` keeping its TTL, or deletes the key when empty (Redis never
/// keeps an empty set).
pub(crate) fn update(cx: &mut Ctx, key: &[u8], members: Members) {
    if members.is_empty() {
        cx.delete(key);
        return;
    }
    let expire_at_ms = cx.entry(key).and_then(|e| e.expire_at_ms);
    let db = cx.conn.db;
    cx.model.insert(
        db,
        key,
        Entry {
            value: Value::Set(members),
            expire_at_ms,
        },
    );
}

/// `setKey` of a new set (any old value and TTL gone), or `dbDelete` for an empty result.
fn store(cx: &mut Ctx, key: &[u8], members: Members) -> Resp {
    let len = members.len() as i64;
    cx.delete(key);
    update(cx, key, members);
    Resp::Int(len)
}

fn set_reply(members: impl IntoIterator<Item = Vec<u8>>) -> Resp {
    Resp::Set(members.into_iter().map(Resp::bulk).collect())
}

pub(crate) fn sadd(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let mut set = tri!(set_at(cx, &argv[1])).unwrap_or_default();
    let added = argv[2..].iter().filter(|m| set.insert(m.to_vec())).count();
    if added > 0 {
        update(cx, &argv[1], set);
    }
    Resp::Int(added as i64)
}

pub(crate) fn srem(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let Some(mut set) = tri!(set_at(cx, &argv[1])) else {
        return Resp::Int(0);
    };
    let removed = argv[2..].iter().filter(|m| set.remove(*m)).count();
    if removed > 0 {
        update(cx, &argv[1], set);
    }
    Resp::Int(removed as i64)
}

pub(crate) fn smembers(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    set_reply(tri!(set_at(cx, &argv[1])).unwrap_or_default())
}

pub(crate) fn sismember(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let set = tri!(set_at(cx, &argv[1])).unwrap_or_default();
    Resp::Int(i64::from(set.contains(&argv[2])))
}

pub(crate) fn smismember(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let set = tri!(set_at(cx, &argv[1])).unwrap_or_default();
    Resp::Array(
        argv[2..]
            .iter()
            .map(|m| Resp::Int(i64::from(set.contains(m))))
            .collect(),
    )
}

pub(crate) fn scard(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    Resp::Int(tri!(set_at(cx, &argv[1])).map_or(0, |s| s.len() as i64))
}

pub(crate) fn smove(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    let src_exists = cx.entry(src).is_some();
    if !src_exists {
        return Resp::Int(0);
    }
    let Some(mut from) = tri!(set_at(cx, src)) else {
        unreachable!("the source exists")
    };
    let mut to = tri!(set_at(cx, dst)).unwrap_or_default();
    if src == dst {
        return Resp::Int(i64::from(from.contains(member)));
    }
    if !from.remove(member) {
        return Resp::Int(0);
    }
    update(cx, src, from);
    if to.insert(member.clone()) {
        update(cx, dst, to);
    }
    Resp::Int(1)
}

/// Each key's set in order, every type checked; `None` for a missing key.
fn sets_at(cx: &Ctx, keys: &[Vec<u8>]) -> Result<Vec<Option<Members>>, Resp> {
    keys.iter().map(|k| set_at(cx, k)).collect()
}

fn intersect(sets: Vec<Option<Members>>) -> Members {
    let Some(sets) = sets.into_iter().collect::<Option<Vec<Members>>>() else {
        return Members::new();
    };
    let mut iter = sets.into_iter();
    let first = iter.next().unwrap_or_default();
    iter.fold(first, |acc, s| acc.intersection(&s).cloned().collect())
}

fn union(sets: Vec<Option<Members>>) -> Members {
    sets.into_iter().flatten().flatten().collect()
}

fn diff(sets: Vec<Option<Members>>) -> Members {
    let mut iter = sets.into_iter();
    let mut first = iter.next().flatten().unwrap_or_default();
    for s in iter.flatten() {
        first.retain(|m| !s.contains(m));
    }
    first
}

pub(crate) fn sinter(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    set_reply(intersect(tri!(sets_at(cx, &argv[1..]))))
}

pub(crate) fn sunion(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    set_reply(union(tri!(sets_at(cx, &argv[1..]))))
}

pub(crate) fn sdiff(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    set_reply(diff(tri!(sets_at(cx, &argv[1..]))))
}

pub(crate) fn sinterstore(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let result = intersect(tri!(sets_at(cx, &argv[2..])));
    store(cx, &argv[1], result)
}

pub(crate) fn sunionstore(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let result = union(tri!(sets_at(cx, &argv[2..])));
    store(cx, &argv[1], result)
}

pub(crate) fn sdiffstore(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let result = diff(tri!(sets_at(cx, &argv[2..])));
    store(cx, &argv[1], result)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`.
pub(crate) fn sintercard(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let numkeys = match string2ll(&argv[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Resp::err("ERR numkeys should be greater than 0"),
    };
    if numkeys > (argv.len() - 2) as u64 {
        return Resp::err("ERR Number of keys can't be greater than number of args");
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut j = keys_end;
    while j < argv.len() {
        if !is(&argv[j], "LIMIT") || j + 1 >= argv.len() {
            return Resp::err(SYNTAX);
        }
        limit = match string2ll(&argv[j + 1]) {
            Some(n) if n >= 0 => n as u64,
            _ => return Resp::err("ERR LIMIT can't be negative"),
        };
        j += 2;
    }
    let count = intersect(tri!(sets_at(cx, &argv[2..keys_end]))).len() as u64;
    Resp::Int(if limit == 0 { count } else { count.min(limit) } as i64)
}
