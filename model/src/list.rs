//! List commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LINDEX LINSERT LRANGE LREM LSET
//! LTRIM LPOS RPOPLPUSH LMOVE LMPOP, a plain port of Redis 7.0's `t_list.c` over a `VecDeque`.
//!
//! Encodings are not modelled (Redis 7.0 reports every list as a quicklist). The blocking
//! commands are not modelled here.
//!
//! Order of checks follows Redis: LPOP/RPOP parse the count before the lookup; LINDEX and LSET
//! look up (LSET: "no such key") and check the type before parsing the index; LRANGE, LTRIM,
//! LREM, LPOS, LINSERT, LMOVE and LMPOP parse first; LMOVE answers nil for a missing source
//! before it checks the destination's type. LTRIM signals the key whatever it trims.

use std::collections::VecDeque;

use crate::args::{int_or_reply, is, string2ll, SYNTAX};
use crate::model::{wrong_type, Ctx, Entry, Value};
use crate::resp::Resp;

type Elems = VecDeque<Vec<u8>>;

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

/// `lookupKey` + `checkType(OBJ_LIST)`.
fn list_at(cx: &Ctx, key: &[u8]) -> Result<Option<Elems>, Resp> {
    match cx.entry(key) {
        None => Ok(None),
        Some(Entry {
            value: Value::List(l),
            ..
        }) => Ok(Some(l.clone())),
        Some(_) => Err(wrong_type()),
    }
}

/// Stores `elems` under `key` keeping its TTL, or deletes the key when empty.
fn update(cx: &mut Ctx, key: &[u8], elems: Elems) {
    if elems.is_empty() {
        cx.delete(key);
        return;
    }
    let expire_at_ms = cx.entry(key).and_then(|e| e.expire_at_ms);
    let db = cx.conn.db;
    cx.model.insert(
        db,
        key,
        Entry {
            value: Value::List(elems),
            expire_at_ms,
        },
    );
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

fn end_of(arg: &[u8]) -> Result<End, Resp> {
    if is(arg, "LEFT") {
        Ok(End::Left)
    } else if is(arg, "RIGHT") {
        Ok(End::Right)
    } else {
        Err(Resp::err(SYNTAX))
    }
}

fn push_at(l: &mut Elems, end: End, e: Vec<u8>) {
    match end {
        End::Left => l.push_front(e),
        End::Right => l.push_back(e),
    }
}

fn pop_at(l: &mut Elems, end: End) -> Option<Vec<u8>> {
    match end {
        End::Left => l.pop_front(),
        End::Right => l.pop_back(),
    }
}

fn bulks(elems: impl IntoIterator<Item = Vec<u8>>) -> Resp {
    Resp::Array(elems.into_iter().map(Resp::Bulk).collect())
}

fn push_generic(cx: &mut Ctx, argv: &[Vec<u8>], end: End, only_existing: bool) -> Resp {
    let existing = tri!(list_at(cx, &argv[1]));
    if only_existing && existing.is_none() {
        return Resp::Int(0);
    }
    let mut l = existing.unwrap_or_default();
    for e in &argv[2..] {
        push_at(&mut l, end, e.clone());
    }
    let len = l.len() as i64;
    update(cx, &argv[1], l);
    Resp::Int(len)
}

pub(crate) fn lpush(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    push_generic(cx, argv, End::Left, false)
}

pub(crate) fn rpush(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    push_generic(cx, argv, End::Right, false)
}

pub(crate) fn lpushx(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    push_generic(cx, argv, End::Left, true)
}

pub(crate) fn rpushx(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    push_generic(cx, argv, End::Right, true)
}

fn pop_generic(cx: &mut Ctx, argv: &[Vec<u8>], name: &str, end: End) -> Resp {
    if argv.len() > 3 {
        return crate::commands::arity_error(name);
    }
    let count = match argv.get(2) {
        None => None,
        Some(arg) => match string2ll(arg) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return Resp::err("ERR value is out of range, must be positive"),
        },
    };
    let Some(mut l) = tri!(list_at(cx, &argv[1])) else {
        return if count.is_some() {
            Resp::NilArray
        } else {
            Resp::Nil
        };
    };
    let Some(count) = count else {
        let e = pop_at(&mut l, end).expect("a stored list is not empty");
        update(cx, &argv[1], l);
        return Resp::Bulk(e);
    };
    if count == 0 {
        return Resp::Array(Vec::new());
    }
    let n = count.min(l.len() as u64) as usize;
    let popped: Vec<Vec<u8>> = (0..n).filter_map(|_| pop_at(&mut l, end)).collect();
    update(cx, &argv[1], l);
    bulks(popped)
}

pub(crate) fn lpop(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    pop_generic(cx, argv, "lpop", End::Left)
}

pub(crate) fn rpop(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    pop_generic(cx, argv, "rpop", End::Right)
}

pub(crate) fn llen(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    Resp::Int(tri!(list_at(cx, &argv[1])).map_or(0, |l| l.len() as i64))
}

/// A Redis index (negative from the end) within `len`.
fn index_in(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        i128::from(index) + len as i128
    } else {
        i128::from(index)
    };
    (0..len as i128).contains(&i).then_some(i as usize)
}

pub(crate) fn lindex(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let Some(l) = tri!(list_at(cx, &argv[1])) else {
        return Resp::Nil;
    };
    let index = tri!(int_or_reply(&argv[2]));
    index_in(index, l.len()).map_or(Resp::Nil, |i| Resp::Bulk(l[i].clone()))
}

pub(crate) fn linsert(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let after = if is(&argv[2], "AFTER") {
        true
    } else if is(&argv[2], "BEFORE") {
        false
    } else {
        return Resp::err(SYNTAX);
    };
    let Some(mut l) = tri!(list_at(cx, &argv[1])) else {
        return Resp::Int(0);
    };
    let Some(at) = l.iter().position(|e| *e == argv[3]) else {
        return Resp::Int(-1);
    };
    l.insert(at + usize::from(after), argv[4].clone());
    let len = l.len() as i64;
    update(cx, &argv[1], l);
    Resp::Int(len)
}

/// LRANGE's and LTRIM's arithmetic: the kept range `[start, end]`, or `None` when empty.
fn range_in(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i128;
    let (mut start, mut end) = (i128::from(start), i128::from(end));
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

pub(crate) fn lrange(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let start = tri!(int_or_reply(&argv[2]));
    let end = tri!(int_or_reply(&argv[3]));
    let l = tri!(list_at(cx, &argv[1])).unwrap_or_default();
    match range_in(start, end, l.len()) {
        None => Resp::Array(Vec::new()),
        Some((from, to)) => bulks(l.range(from..=to).cloned()),
    }
}

pub(crate) fn ltrim(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let start = tri!(int_or_reply(&argv[2]));
    let end = tri!(int_or_reply(&argv[3]));
    let Some(l) = tri!(list_at(cx, &argv[1])) else {
        return Resp::ok();
    };
    let kept: Elems = match range_in(start, end, l.len()) {
        None => Elems::new(),
        Some((from, to)) => l.range(from..=to).cloned().collect(),
    };
    update(cx, &argv[1], kept);
    Resp::ok()
}

pub(crate) fn lrem(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let count = tri!(int_or_reply(&argv[2]));
    let Some(l) = tri!(list_at(cx, &argv[1])) else {
        return Resp::Int(0);
    };
    let limit = count.unsigned_abs();
    let mut removed = 0u64;
    let mut keep = vec![true; l.len()];
    let order: Vec<usize> = if count < 0 {
        (0..l.len()).rev().collect()
    } else {
        (0..l.len()).collect()
    };
    for i in order {
        if limit != 0 && removed == limit {
            break;
        }
        if l[i] == argv[3] {
            keep[i] = false;
            removed += 1;
        }
    }
    if removed > 0 {
        let kept = l
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(e, _)| e)
            .collect();
        update(cx, &argv[1], kept);
    }
    Resp::Int(removed as i64)
}

pub(crate) fn lset(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let Some(mut l) = tri!(list_at(cx, &argv[1])) else {
        return Resp::err("ERR no such key");
    };
    let index = tri!(int_or_reply(&argv[2]));
    let Some(i) = index_in(index, l.len()) else {
        return Resp::err("ERR index out of range");
    };
    l[i] = argv[3].clone();
    update(cx, &argv[1], l);
    Resp::ok()
}

pub(crate) fn lpos(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<i64>, 0i64);
    let mut j = 3;
    while j < argv.len() {
        if j + 1 >= argv.len() {
            return Resp::err(SYNTAX);
        }
        let value = &argv[j + 1];
        if is(&argv[j], "RANK") {
            rank = tri!(int_or_reply(value));
            if rank == 0 {
                return Resp::err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                );
            }
        } else if is(&argv[j], "COUNT") {
            match string2ll(value) {
                Some(n) if n >= 0 => count = Some(n),
                _ => return Resp::err("ERR COUNT can't be negative"),
            }
        } else if is(&argv[j], "MAXLEN") {
            match string2ll(value) {
                Some(n) if n >= 0 => maxlen = n,
                _ => return Resp::err("ERR MAXLEN can't be negative"),
            }
        } else {
            return Resp::err(SYNTAX);
        }
        j += 2;
    }
    let Some(l) = tri!(list_at(cx, &argv[1])) else {
        return if count.is_some() {
            Resp::Array(Vec::new())
        } else {
            Resp::Nil
        };
    };
    // Redis negates a negative rank; i64::MIN stays negative and every match passes it.
    let from_right = rank < 0;
    let rank = if rank == i64::MIN { 1 } else { rank.abs() };
    let len = l.len();
    let mut found: Vec<i64> = Vec::new();
    let mut matches = 0i64;
    for examined in 0..len {
        if maxlen != 0 && examined as i64 >= maxlen {
            break;
        }
        let at = if from_right {
            len - 1 - examined
        } else {
            examined
        };
        if l[at] != argv[2] {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(at as i64);
        match count {
            None => break,
            Some(c) if c != 0 && found.len() as i64 >= c => break,
            Some(_) => {}
        }
    }
    match count {
        None => found.first().map_or(Resp::Nil, |&i| Resp::Int(i)),
        Some(_) => Resp::Array(found.into_iter().map(Resp::Int).collect()),
    }
}

fn lmove_generic(cx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> Resp {
    let Some(mut s) = tri!(list_at(cx, src)) else {
        return Resp::Nil;
    };
    let d = tri!(list_at(cx, dst));
    let e = pop_at(&mut s, from).expect("a stored list is not empty");
    if src == dst {
        push_at(&mut s, to, e.clone());
        update(cx, src, s);
        return Resp::Bulk(e);
    }
    update(cx, src, s);
    let mut d = d.unwrap_or_default();
    push_at(&mut d, to, e.clone());
    update(cx, dst, d);
    Resp::Bulk(e)
}

pub(crate) fn rpoplpush(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    lmove_generic(cx, &argv[1], &argv[2], End::Right, End::Left)
}

pub(crate) fn lmove(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let from = tri!(end_of(&argv[3]));
    let to = tri!(end_of(&argv[4]));
    lmove_generic(cx, &argv[1], &argv[2], from, to)
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
pub(crate) fn lmpop(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let numkeys = match string2ll(&argv[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Resp::err("ERR numkeys should be greater than 0"),
    };
    let end_at = 2u64.saturating_add(numkeys);
    if end_at >= argv.len() as u64 {
        return Resp::err(SYNTAX);
    }
    let end_at = end_at as usize;
    let end = tri!(end_of(&argv[end_at]));
    let mut count = None;
    let mut j = end_at + 1;
    while j < argv.len() {
        if count.is_some() || !is(&argv[j], "COUNT") || j + 1 >= argv.len() {
            return Resp::err(SYNTAX);
        }
        match string2ll(&argv[j + 1]) {
            Some(n) if n >= 1 => count = Some(n as u64),
            _ => return Resp::err("ERR count should be greater than 0"),
        }
        j += 2;
    }
    let count = count.unwrap_or(1);
    for key in &argv[2..end_at] {
        let Some(mut l) = tri!(list_at(cx, key)) else {
            continue;
        };
        let n = count.min(l.len() as u64) as usize;
        let popped: Vec<Vec<u8>> = (0..n).filter_map(|_| pop_at(&mut l, end)).collect();
        update(cx, key, l);
        return Resp::Array(vec![Resp::Bulk(key.clone()), bulks(popped)]);
    }
    Resp::NilArray
}
