//! Sorted-set commands: ZADD (NX XX GT LT CH INCR) ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK
//! ZREVRANK ZCOUNT ZRANGE (by rank or BYSCORE, REV, LIMIT, WITHSCORES) ZREMRANGEBYRANK ZPOPMIN
//! ZPOPMAX ZUNIONSTORE ZINTERSTORE (WEIGHTS, AGGREGATE), a plain port of Redis 7.0's `t_zset.c`
//! over a `BTreeMap` of member -> score, sorted on demand by (score, member).
//!
//! Not modelled: encodings (a listpack reads a stored -0 back as 0; the workloads never send
//! -0), lex ranges, random commands (ZRANDMEMBER), ZSCAN, and scores in C's full strtod syntax:
//! `string2d` here takes the decimal forms and `inf` the workloads send, checked against
//! redis-server by `tests/vs_redis.rs`.

use std::collections::BTreeMap;

use crate::args::{is, string2ll, SYNTAX};
use crate::model::{wrong_type, Ctx, Entry, Score, Value};
use crate::resp::Resp;

type Members = BTreeMap<Vec<u8>, Score>;

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

/// Redis's `string2d` for the forms the model takes: no spaces, no NaN, no overflow.
pub(crate) fn string2d(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    let lower = text.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if body == "inf" || body == "infinity" {
        return Some(if lower.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || b".eE+-".contains(&b))
    {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    v.is_finite().then_some(v)
}

fn float_or_reply(arg: &[u8]) -> Result<f64, Resp> {
    string2d(arg).ok_or_else(|| Resp::err("ERR value is not a valid float"))
}

/// `lookupKey` + `checkType(OBJ_ZSET)`.
pub(crate) fn zset_at(cx: &Ctx, key: &[u8]) -> Result<Option<Members>, Resp> {
    match cx.entry(key) {
        None => Ok(None),
        Some(Entry {
            value: Value::ZSet(z),
            ..
        }) => Ok(Some(z.clone())),
        Some(_) => Err(wrong_type()),
    }
}

/// Stores `z` under `key` keeping its TTL, or deletes the key when empty.
fn update(cx: &mut Ctx, key: &[u8], z: Members) {
    if z.is_empty() {
        cx.delete(key);
        return;
    }
    let expire_at_ms = cx.entry(key).and_then(|e| e.expire_at_ms);
    let db = cx.conn.db;
    let value = Value::ZSet(z);
    cx.model.insert(
        db,
        key,
        Entry {
            value,
            expire_at_ms,
        },
    );
}

/// The pairs in (score, member) order.
fn sorted(z: &Members) -> Vec<(Vec<u8>, f64)> {
    let mut pairs: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.clone(), s.0)).collect();
    pairs.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
    pairs
}

/// Members, or (WITHSCORES) member/score pairs: flat in RESP2, nested in RESP3.
fn pairs_reply(pairs: Vec<(Vec<u8>, f64)>, withscores: bool, resp3: bool) -> Resp {
    if !withscores {
        return Resp::Array(pairs.into_iter().map(|(m, _)| Resp::bulk(m)).collect());
    }
    if !resp3 {
        let flat = pairs
            .into_iter()
            .flat_map(|(m, s)| [Resp::bulk(m), Resp::Double(s)]);
        return Resp::Array(flat.collect());
    }
    Resp::Array(
        pairs
            .into_iter()
            .map(|(m, s)| Resp::Array(vec![Resp::bulk(m), Resp::Double(s)]))
            .collect(),
    )
}

/// ZADD's leading flags: (nx, xx, gt, lt, ch, incr) and where the pairs start.
fn zadd_flags(argv: &[Vec<u8>]) -> ([bool; 6], usize) {
    let mut flags = [false; 6];
    let mut at = 2;
    while at < argv.len() {
        match ["NX", "XX", "GT", "LT", "CH", "INCR"]
            .iter()
            .position(|w| is(&argv[at], w))
        {
            Some(i) => flags[i] = true,
            None => break,
        }
        at += 1;
    }
    (flags, at)
}

pub(crate) fn zadd(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let ([nx, xx, gt, lt, ch, incr], at) = zadd_flags(argv);
    let elements = argv.len() - at;
    if elements % 2 == 1 || elements == 0 {
        return Resp::err(SYNTAX);
    }
    if nx && xx {
        return Resp::err("ERR XX and NX options at the same time are not compatible");
    }
    if (gt || lt) && nx || (gt && lt) {
        return Resp::err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && elements > 2 {
        return Resp::err("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::new();
    for pair in argv[at..].chunks(2) {
        pairs.push((tri!(float_or_reply(&pair[0])), pair[1].clone()));
    }
    let existing = tri!(zset_at(cx, &argv[1]));
    if existing.is_none() && xx {
        return if incr { Resp::Nil } else { Resp::Int(0) };
    }
    let mut z = existing.unwrap_or_default();
    let (mut added, mut updated, mut last) = (0, 0, None);
    for (score, member) in pairs {
        last = None;
        match z.get(&member).map(|s| s.0) {
            Some(current) => {
                if nx {
                    continue;
                }
                let new = if incr { current + score } else { score };
                if new.is_nan() {
                    return Resp::err("ERR resulting score is not a number (NaN)");
                }
                if (lt && new >= current) || (gt && new <= current) {
                    continue;
                }
                last = Some(new);
                if new != current {
                    z.insert(member, Score(new));
                    updated += 1;
                }
            }
            None => {
                if xx {
                    continue;
                }
                z.insert(member, Score(score));
                added += 1;
                last = Some(score);
            }
        }
    }
    if added + updated > 0 {
        update(cx, &argv[1], z);
    }
    if incr {
        return last.map_or(Resp::Nil, Resp::Double);
    }
    Resp::Int(if ch { added + updated } else { added })
}

pub(crate) fn zincrby(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let argv = [
        b"zadd".to_vec(),
        argv[1].clone(),
        b"INCR".to_vec(),
        argv[2].clone(),
        argv[3].clone(),
    ];
    zadd(cx, &argv)
}

pub(crate) fn zrem(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let Some(mut z) = tri!(zset_at(cx, &argv[1])) else {
        return Resp::Int(0);
    };
    let removed = argv[2..].iter().filter(|m| z.remove(*m).is_some()).count();
    if removed > 0 {
        update(cx, &argv[1], z);
    }
    Resp::Int(removed as i64)
}

pub(crate) fn zcard(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    Resp::Int(tri!(zset_at(cx, &argv[1])).map_or(0, |z| z.len()) as i64)
}

pub(crate) fn zscore(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let z = tri!(zset_at(cx, &argv[1]));
    z.and_then(|z| z.get(&argv[2]).map(|s| s.0))
        .map_or(Resp::Nil, Resp::Double)
}

pub(crate) fn zmscore(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let z = tri!(zset_at(cx, &argv[1]));
    Resp::Array(
        argv[2..]
            .iter()
            .map(|m| {
                z.as_ref()
                    .and_then(|z| z.get(m).map(|s| s.0))
                    .map_or(Resp::Nil, Resp::Double)
            })
            .collect(),
    )
}

fn rank(cx: &mut Ctx, argv: &[Vec<u8>], rev: bool) -> Resp {
    let Some(z) = tri!(zset_at(cx, &argv[1])) else {
        return Resp::Nil;
    };
    let pairs = sorted(&z);
    match pairs.iter().position(|(m, _)| m == &argv[2]) {
        Some(r) if rev => Resp::Int((pairs.len() - 1 - r) as i64),
        Some(r) => Resp::Int(r as i64),
        None => Resp::Nil,
    }
}

pub(crate) fn zrank(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    rank(cx, argv, false)
}

pub(crate) fn zrevrank(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    rank(cx, argv, true)
}

/// zslParseRange for the forms the model takes.
fn score_bound(arg: &[u8]) -> Result<(f64, bool), Resp> {
    let (text, ex) = match arg.split_first() {
        Some((b'(', rest)) => (rest, true),
        _ => (arg, false),
    };
    string2d(text)
        .map(|v| (v, ex))
        .ok_or_else(|| Resp::err("ERR min or max is not a float"))
}

fn in_range(s: f64, min: (f64, bool), max: (f64, bool)) -> bool {
    let above_min = if min.1 { s > min.0 } else { s >= min.0 };
    let below_max = if max.1 { s < max.0 } else { s <= max.0 };
    above_min && below_max
}

pub(crate) fn zcount(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let min = tri!(score_bound(&argv[2]));
    let max = tri!(score_bound(&argv[3]));
    let z = tri!(zset_at(cx, &argv[1])).unwrap_or_default();
    Resp::Int(z.values().filter(|s| in_range(s.0, min, max)).count() as i64)
}

/// ZRANGE key start stop [BYSCORE] [REV] [LIMIT offset count] [WITHSCORES].
pub(crate) fn zrange(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let (mut byscore, mut rev, mut withscores) = (false, false, false);
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = 4;
    while j < argv.len() {
        let a = &argv[j];
        if is(a, "WITHSCORES") {
            withscores = true;
        } else if is(a, "LIMIT") && j + 2 < argv.len() {
            offset = tri!(crate::args::int_or_reply(&argv[j + 1]));
            limit = tri!(crate::args::int_or_reply(&argv[j + 2]));
            j += 2;
        } else if !rev && is(a, "REV") {
            rev = true;
        } else if !byscore && is(a, "BYSCORE") {
            byscore = true;
        } else {
            return Resp::err(SYNTAX);
        }
        j += 1;
    }
    if (offset != 0 || limit != -1) && !byscore {
        return Resp::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    let pairs = if byscore {
        let (lo, hi) = if rev {
            (&argv[3], &argv[2])
        } else {
            (&argv[2], &argv[3])
        };
        let min = tri!(score_bound(lo));
        let max = tri!(score_bound(hi));
        let z = tri!(zset_at(cx, &argv[1])).unwrap_or_default();
        let mut pairs: Vec<_> = sorted(&z)
            .into_iter()
            .filter(|(_, s)| in_range(*s, min, max))
            .collect();
        if rev {
            pairs.reverse();
        }
        if offset < 0 {
            return Resp::Array(Vec::new());
        }
        let pairs: Vec<_> = pairs.into_iter().skip(offset as usize).collect();
        let take = if limit < 0 {
            pairs.len()
        } else {
            limit as usize
        };
        pairs.into_iter().take(take).collect()
    } else {
        let start = tri!(crate::args::int_or_reply(&argv[2]));
        let end = tri!(crate::args::int_or_reply(&argv[3]));
        let z = tri!(zset_at(cx, &argv[1])).unwrap_or_default();
        let mut pairs = sorted(&z);
        if rev {
            pairs.reverse();
        }
        match rank_span(pairs.len(), start, end) {
            Some((a, b)) => pairs[a..b].to_vec(),
            None => Vec::new(),
        }
    };
    pairs_reply(pairs, withscores, cx.conn.resp3)
}

/// ZRANGE's start/stop clamped as Redis does: `[a, b)`, or None when empty.
fn rank_span(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let end = if end < 0 { end + len } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize + 1))
}

pub(crate) fn zremrangebyrank(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let start = tri!(crate::args::int_or_reply(&argv[2]));
    let end = tri!(crate::args::int_or_reply(&argv[3]));
    let Some(mut z) = tri!(zset_at(cx, &argv[1])) else {
        return Resp::Int(0);
    };
    let pairs = sorted(&z);
    let Some((a, b)) = rank_span(pairs.len(), start, end) else {
        return Resp::Int(0);
    };
    for (m, _) in &pairs[a..b] {
        z.remove(m);
    }
    update(cx, &argv[1], z);
    Resp::Int((b - a) as i64)
}

fn pop(cx: &mut Ctx, argv: &[Vec<u8>], max: bool) -> Resp {
    if argv.len() > 3 {
        return Resp::err(SYNTAX);
    }
    let count = match argv.get(2) {
        None => None,
        Some(arg) => match string2ll(arg) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Resp::err("ERR value is out of range, must be positive"),
        },
    };
    let Some(mut z) = tri!(zset_at(cx, &argv[1])) else {
        return Resp::Array(Vec::new());
    };
    let mut pairs = sorted(&z);
    if max {
        pairs.reverse();
    }
    pairs.truncate(count.unwrap_or(1));
    for (m, _) in &pairs {
        z.remove(m);
    }
    if !pairs.is_empty() {
        update(cx, &argv[1], z);
    }
    match count {
        None => Resp::Array(
            pairs
                .into_iter()
                .flat_map(|(m, s)| [Resp::bulk(m), Resp::Double(s)])
                .collect(),
        ),
        Some(_) => pairs_reply(pairs, true, cx.conn.resp3),
    }
}

pub(crate) fn zpopmin(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    pop(cx, argv, false)
}

pub(crate) fn zpopmax(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    pop(cx, argv, true)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Agg {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, agg: Agg) {
    match agg {
        Agg::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Agg::Min => *target = if v < *target { v } else { *target },
        Agg::Max => *target = if v > *target { v } else { *target },
    }
}

/// `[WEIGHTS w…] [AGGREGATE SUM|MIN|MAX]` from `j`, for `n` sources.
fn store_options(argv: &[Vec<u8>], mut j: usize, n: usize) -> Result<(Vec<f64>, Agg), Resp> {
    let (mut weights, mut agg) = (vec![1.0; n], Agg::Sum);
    while j < argv.len() {
        let left = argv.len() - j;
        if left > n && is(&argv[j], "WEIGHTS") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = string2d(&argv[j + 1 + i])
                    .ok_or_else(|| Resp::err("ERR weight value is not a float"))?;
            }
            j += 1 + n;
        } else if left >= 2 && is(&argv[j], "AGGREGATE") {
            agg = match &argv[j + 1] {
                a if is(a, "SUM") => Agg::Sum,
                a if is(a, "MIN") => Agg::Min,
                a if is(a, "MAX") => Agg::Max,
                _ => return Err(Resp::err(SYNTAX)),
            };
            j += 2;
        } else {
            return Err(Resp::err(SYNTAX));
        }
    }
    Ok((weights, agg))
}

/// ZUNIONSTORE / ZINTERSTORE dst numkeys key… [WEIGHTS w…] [AGGREGATE SUM|MIN|MAX].
fn store(cx: &mut Ctx, argv: &[Vec<u8>], inter: bool, name: &str) -> Resp {
    let numkeys = tri!(crate::args::int_or_reply(&argv[2]));
    if numkeys < 1 {
        return Resp::err(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
    }
    if numkeys as usize > argv.len() - 3 {
        return Resp::err(SYNTAX);
    }
    let n = numkeys as usize;
    let mut sources = Vec::new();
    for key in &argv[3..3 + n] {
        let source = match cx.entry(key) {
            None => None,
            Some(Entry {
                value: Value::ZSet(z),
                ..
            }) => Some(sorted(z)),
            Some(Entry {
                value: Value::Set(s),
                ..
            }) => Some(s.iter().map(|m| (m.clone(), 1.0)).collect()),
            Some(_) => return wrong_type(),
        };
        sources.push(source);
    }
    let (weights, agg) = tri!(store_options(argv, 3 + n, n));
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| sources[i].as_ref().map_or(0, Vec::len));
    let mut acc: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
    let weighted = |w: f64, s: f64| if (w * s).is_nan() { 0.0 } else { w * s };
    if inter {
        if sources
            .iter()
            .all(|s| s.as_ref().is_some_and(|s| !s.is_empty()))
        {
            let maps: Vec<BTreeMap<Vec<u8>, f64>> = sources
                .iter()
                .map(|s| s.iter().flatten().cloned().collect())
                .collect();
            'outer: for (m, s) in sources[order[0]].iter().flatten() {
                let mut score = weighted(weights[order[0]], *s);
                for &k in &order[1..] {
                    match maps[k].get(m) {
                        Some(v) => aggregate(&mut score, weights[k] * v, agg),
                        None => continue 'outer,
                    }
                }
                acc.insert(m.clone(), score);
            }
        }
    } else {
        for &i in &order {
            for (m, s) in sources[i].iter().flatten() {
                let v = weighted(weights[i], *s);
                match acc.get_mut(m) {
                    Some(t) => aggregate(t, v, agg),
                    None => {
                        acc.insert(m.clone(), v);
                    }
                }
            }
        }
    }
    let len = acc.len() as i64;
    cx.delete(&argv[1]);
    let z: Members = acc.into_iter().map(|(m, s)| (m, Score(s))).collect();
    update(cx, &argv[1], z);
    Resp::Int(len)
}

pub(crate) fn zunionstore(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    store(cx, argv, false, "zunionstore")
}

pub(crate) fn zinterstore(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    store(cx, argv, true, "zinterstore")
}
