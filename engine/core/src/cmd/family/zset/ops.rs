//! The point commands (ZADD, ZINCRBY, ZREM, lookups), pops, random members, the set algebra
//! and ZSCAN.

use super::*;

// ---------------------------------------------------------------------------------------------
// ZADD and ZINCRBY.

/// ZADD's condition on an existing or missing member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AddIf {
    Always,
    /// NX: only new members.
    Absent,
    /// XX: only existing members.
    Present,
}

/// GT/LT: an update only when the new score is greater (less).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Compare {
    Any,
    Greater,
    Less,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct AddArgs {
    pub cond: AddIf,
    pub cmp: Compare,
    pub ch: bool,
    pub incr: bool,
    pub pairs: Vec<(f64, Vec<u8>)>,
}

/// zaddGenericCommand's parse, in its order of checks.
pub(super) fn parse_zadd(argv: &Argv, incr: bool) -> Result<AddArgs, CmdError> {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, incr);
    let mut at = 2;
    while at < argv.len() {
        let word = &argv[at];
        match () {
            () if eq_word(word, "NX") => nx = true,
            () if eq_word(word, "XX") => xx = true,
            () if eq_word(word, "GT") => gt = true,
            () if eq_word(word, "LT") => lt = true,
            () if eq_word(word, "CH") => ch = true,
            () if eq_word(word, "INCR") => incr = true,
            () => break,
        }
        at += 1;
    }
    let elements = argv.len() - at;
    if elements % 2 == 1 || elements == 0 {
        return Err(CmdError::Syntax);
    }
    if nx && xx {
        return Err(CmdError::ZaddXxAndNx);
    }
    if (gt || lt) && nx || (gt && lt) {
        return Err(CmdError::ZaddGtLtNx);
    }
    if incr && elements > 2 {
        return Err(CmdError::ZaddIncrOnePair);
    }
    let mut pairs = Vec::with_capacity(elements / 2);
    for pair in argv.iter().skip(at).collect::<Vec<_>>().chunks(2) {
        let score = numfmt::parse_score(pair[0]).ok_or(CmdError::NotFloat)?;
        pairs.push((score, pair[1].to_vec()));
    }
    Ok(AddArgs {
        cond: if nx {
            AddIf::Absent
        } else if xx {
            AddIf::Present
        } else {
            AddIf::Always
        },
        cmp: if gt {
            Compare::Greater
        } else if lt {
            Compare::Less
        } else {
            Compare::Any
        },
        ch,
        incr,
        pairs,
    })
}

/// What zsetAdd did with one pair.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Added {
    New(f64),
    Updated(f64),
    /// Present with the same score, or refused by NX/XX/GT/LT.
    Nothing(Option<f64>),
}

/// zsetAdd for one pair.
fn add_one(
    z: &mut ZSetValue,
    a: &AddArgs,
    score: f64,
    member: &[u8],
    limits: &crate::db::ZSetLimits,
) -> Result<Added, CmdError> {
    match z.score(member) {
        Some(current) => {
            if a.cond == AddIf::Absent {
                return Ok(Added::Nothing(None));
            }
            let new = if a.incr { current + score } else { score };
            if new.is_nan() {
                return Err(CmdError::ScoreIsNan);
            }
            let refused = match a.cmp {
                Compare::Any => false,
                Compare::Greater => new <= current,
                Compare::Less => new >= current,
            };
            if refused {
                return Ok(Added::Nothing(None));
            }
            if new == current {
                return Ok(Added::Nothing(Some(current)));
            }
            z.insert(member, new, limits);
            Ok(Added::Updated(new))
        }
        None => {
            if a.cond == AddIf::Present {
                return Ok(Added::Nothing(None));
            }
            z.insert(member, score, limits);
            Ok(Added::New(score))
        }
    }
}

fn zadd_generic(ecx: &mut ExecCx, argv: &Argv, a: AddArgs) -> Result<Reply, CmdError> {
    let key = &argv[1];
    if a.cond == AddIf::Present && !ecx.check_type(key, Kind::ZSet)? {
        return Ok(if a.incr { Reply::Nil } else { Reply::Int(0) });
    }
    let outcome = ecx.edit_zset(key, IfAbsent::Create, |z, limits| {
        let (mut added, mut updated) = (0i64, 0i64);
        let mut last = Added::Nothing(None);
        for (score, member) in &a.pairs {
            last = add_one(z, &a, *score, member, limits)?;
            match last {
                Added::New(_) => added += 1,
                Added::Updated(_) => updated += 1,
                Added::Nothing(_) => {}
            }
        }
        let change = if added + updated > 0 {
            Change::Modified
        } else {
            Change::Unchanged
        };
        Ok(((added, updated, last), change))
    })?;
    let (added, updated, last) = outcome.expect("created when absent");
    if a.incr {
        return Ok(match last {
            Added::New(s) | Added::Updated(s) | Added::Nothing(Some(s)) => Reply::Double(s),
            Added::Nothing(None) => Reply::Nil,
        });
    }
    Ok(Reply::Int(if a.ch { added + updated } else { added }))
}

pub(crate) fn zadd(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let a = parse_zadd(argv, false)?;
    zadd_generic(ecx, argv, a)
}

/// ZINCRBY key increment member: ZADD INCR.
pub(super) fn zincrby(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let score = numfmt::parse_score(&argv[2]).ok_or(CmdError::NotFloat)?;
    let a = AddArgs {
        cond: AddIf::Always,
        cmp: Compare::Any,
        ch: false,
        incr: true,
        pairs: vec![(score, argv[3].to_vec())],
    };
    zadd_generic(ecx, argv, a)
}

pub(super) fn zrem(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let removed = ecx.edit_zset(&argv[1], IfAbsent::Skip, |z, _| {
        let n = argv.iter().skip(2).filter(|m| z.remove(m)).count();
        Ok((
            n,
            if n > 0 {
                Change::Modified
            } else {
                Change::Unchanged
            },
        ))
    })?;
    Ok(Reply::Int(removed.unwrap_or(0) as i64))
}

// ---------------------------------------------------------------------------------------------
// Lookups.

pub(super) fn zcard(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let len = ecx.read_zset(&argv[1])?.map_or(0, ZSetValue::len);
    Ok(Reply::Int(len as i64))
}

pub(super) fn zscore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let score = ecx.read_zset(&argv[1])?.and_then(|z| z.score(&argv[2]));
    Ok(score.map_or(Reply::Nil, Reply::Double))
}

pub(super) fn zmscore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let z = ecx.read_zset(&argv[1])?;
    let scores = argv
        .iter()
        .skip(2)
        .map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double))
        .collect();
    Ok(Reply::Array(scores))
}

fn rank_generic(ecx: &mut ExecCx, argv: &Argv, rev: bool) -> Result<Reply, CmdError> {
    let Some(z) = ecx.read_zset(&argv[1])? else {
        return Ok(Reply::Nil);
    };
    let len = z.len();
    Ok(match z.rank(&argv[2]) {
        Some((rank, _)) if rev => Reply::Int((len - 1 - rank) as i64),
        Some((rank, _)) => Reply::Int(rank as i64),
        None => Reply::Nil,
    })
}

pub(super) fn zrank(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    rank_generic(ecx, argv, false)
}

pub(super) fn zrevrank(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    rank_generic(ecx, argv, true)
}

// ---------------------------------------------------------------------------------------------
// Pops.

/// Removes up to `count` pairs from the low (or high) end.
fn pop_pairs(z: &mut ZSetValue, count: usize, max: bool) -> Vec<(Vec<u8>, f64)> {
    let len = z.len();
    let n = count.min(len);
    let (first, last) = if max { (len - n, len) } else { (0, n) };
    let mut out = Vec::with_capacity(n);
    z.visit_range(first, last, max, &mut |m, s| {
        out.push((m.to_vec(), s));
        true
    });
    z.remove_range(first, last);
    out
}

fn pop_generic(ecx: &mut ExecCx, argv: &Argv, max: bool) -> Result<Reply, CmdError> {
    let mut args = Args::new(argv, 2);
    let count = args.next();
    args.finish()?;
    let count = match count {
        None => None,
        Some(arg) => {
            let n = parse_i64(arg).map_err(|_| CmdError::NotPositive)?;
            Some(usize::try_from(n).map_err(|_| CmdError::NotPositive)?)
        }
    };
    let popped = ecx.edit_zset(&argv[1], IfAbsent::Skip, |z, _| {
        let pairs = pop_pairs(z, count.unwrap_or(1), max);
        let change = if pairs.is_empty() {
            Change::Unchanged
        } else {
            Change::Modified
        };
        Ok((pairs, change))
    })?;
    let pairs = popped.unwrap_or_default();
    Ok(match count {
        None => Reply::Array(
            pairs
                .into_iter()
                .flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)])
                .collect(),
        ),
        Some(_) => range::pairs_reply(pairs, true),
    })
}

pub(super) fn zpopmin(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    pop_generic(ecx, argv, false)
}

pub(super) fn zpopmax(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    pop_generic(ecx, argv, true)
}

/// Pops the lowest (highest) member of the sorted set under `key`: [key, member, score], or
/// `None` when there is none (WRONGTYPE for another type).
fn pop_one(ecx: &mut ExecCx, key: &[u8], max: bool) -> Result<Option<Reply>, CmdError> {
    let popped = ecx.edit_zset(key, IfAbsent::Skip, |z, _| {
        Ok((pop_pairs(z, 1, max), Change::Modified))
    })?;
    Ok(popped
        .and_then(|mut pairs| pairs.pop())
        .map(|(m, s)| Reply::Array(vec![Reply::bulk(key), Reply::Bulk(m), Reply::Double(s)])))
}

/// BZPOPMIN/BZPOPMAX's attempt: the timeout, then the first key holding a sorted set.
fn blocking_pop(ecx: &mut ExecCx, argv: &Argv, max: bool) -> Result<Reply, CmdError> {
    last_arg_timeout(argv)?;
    for key in argv.iter().skip(1).take(argv.len() - 2) {
        if let Some(reply) = pop_one(ecx, key, max)? {
            return Ok(reply);
        }
    }
    Ok(Reply::NilArray)
}

pub(super) fn bzpopmin(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    blocking_pop(ecx, argv, false)
}

pub(super) fn bzpopmax(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    blocking_pop(ecx, argv, true)
}

/// A woken client is served only by a sorted set; another type leaves it blocked (Redis 7.0).
fn holds_zset(ecx: &mut ExecCx, key: &[u8]) -> bool {
    matches!(ecx.check_type(key, Kind::ZSet), Ok(true))
}

pub(super) fn serve_bzpopmin(ecx: &mut ExecCx, _: &Argv, key: &[u8]) -> Result<Reply, CmdError> {
    if !holds_zset(ecx, key) {
        return Ok(Reply::NilArray);
    }
    Ok(pop_one(ecx, key, false)?.unwrap_or(Reply::NilArray))
}

pub(super) fn serve_bzpopmax(ecx: &mut ExecCx, _: &Argv, key: &[u8]) -> Result<Reply, CmdError> {
    if !holds_zset(ecx, key) {
        return Ok(Reply::NilArray);
    }
    Ok(pop_one(ecx, key, true)?.unwrap_or(Reply::NilArray))
}

pub(super) fn bzmpop(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    first_arg_timeout(argv)?;
    zmpop(ecx, &crate::cmd::blocking::without_first_arg_timeout(argv))
}

pub(super) fn serve_bzmpop(ecx: &mut ExecCx, argv: &Argv, key: &[u8]) -> Result<Reply, CmdError> {
    if !holds_zset(ecx, key) {
        return Ok(Reply::NilArray);
    }
    let (_, max, count) = parse_zmpop(&crate::cmd::blocking::without_first_arg_timeout(argv))?;
    let mut one = Argv::from_slices(&[&argv[0][..], b"1", key]);
    one.push(if max { b"MAX" } else { b"MIN" });
    one.push(b"COUNT");
    one.push(count.to_string().as_bytes());
    zmpop(ecx, &one)
}

/// `numkeys key… MIN|MAX [COUNT count]` (zmpopGenericCommand's checks, in order).
fn parse_zmpop(argv: &Argv) -> Result<(usize, bool, usize), CmdError> {
    let numkeys = parse_i64(&argv[1]).map_err(|_| CmdError::NumkeysNotPositive)?;
    if numkeys < 1 {
        return Err(CmdError::NumkeysNotPositive);
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    let where_at = numkeys.saturating_add(2);
    if where_at >= argv.len() {
        return Err(CmdError::Syntax);
    }
    let max = match &argv[where_at] {
        w if eq_word(w, "MIN") => false,
        w if eq_word(w, "MAX") => true,
        _ => return Err(CmdError::Syntax),
    };
    let mut count = None;
    let mut args = Args::new(argv, where_at + 1);
    while let Some(word) = args.next() {
        if count.is_none() && eq_word(word, "COUNT") && !args.is_done() {
            let n = parse_i64(args.next_arg()?).map_err(|_| CmdError::CountNotPositive)?;
            if n < 1 {
                return Err(CmdError::CountNotPositive);
            }
            count = Some(usize::try_from(n).unwrap_or(usize::MAX));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((numkeys, max, count.unwrap_or(1)))
}

/// ZMPOP: pops from the first non-empty sorted set among the keys.
pub(super) fn zmpop(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (numkeys, max, count) = parse_zmpop(argv)?;
    for key in argv.iter().skip(2).take(numkeys) {
        let popped = ecx.edit_zset(key, IfAbsent::Skip, |z, _| {
            Ok((pop_pairs(z, count, max), Change::Modified))
        })?;
        if let Some(pairs) = popped {
            let nested = pairs
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect();
            return Ok(Reply::Array(vec![Reply::bulk(key), Reply::Array(nested)]));
        }
    }
    Ok(Reply::NilArray)
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER.

fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// ZRANDMEMBER key [count [WITHSCORES]].
pub(super) fn zrandmember(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let mut rng = ChaCha8Rng::seed_from_u64(ecx.env().random_u64());
    if argv.len() == 2 {
        let Some(z) = ecx.read_zset(&argv[1])? else {
            return Ok(Reply::Nil);
        };
        let (m, _) = z.nth(below(&mut rng, z.len()));
        return Ok(Reply::bulk(m));
    }
    let count = match parse_i64(&argv[2])? {
        i64::MIN => {
            return Err(CmdError::ValueNotBetween {
                min: -i64::MAX,
                max: i64::MAX,
            })
        }
        n => n,
    };
    let withscores = match argv.len() {
        3 => false,
        4 if eq_word(&argv[3], "WITHSCORES") => true,
        _ => return Err(CmdError::Syntax),
    };
    if count < 0 && count.unsigned_abs() > RANDOM_REPEATS_MAX {
        return Err(CmdError::OutOfRange);
    }
    let Some(z) = ecx.read_zset(&argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let len = z.len();
    let picks: Vec<usize> = if count < 0 {
        (0..count.unsigned_abs())
            .map(|_| below(&mut rng, len))
            .collect()
    } else if count as u64 >= len as u64 {
        // The whole set, highest first (Redis walks it from the tail).
        (0..len).rev().collect()
    } else {
        distinct(&mut rng, len, count as usize)
    };
    let pairs = picks
        .into_iter()
        .map(|rank| {
            let (m, s) = z.nth(rank);
            (m.to_vec(), s)
        })
        .collect();
    Ok(range::pairs_reply(pairs, withscores))
}

/// `count` distinct ranks below `len` (count < len), in random order.
fn distinct(rng: &mut ChaCha8Rng, len: usize, count: usize) -> Vec<usize> {
    if count.saturating_mul(RANDMEMBER_SUB_STRATEGY_MUL) > len {
        let mut all: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = i + below(rng, len - i);
            all.swap(i, j);
        }
        all.truncate(count);
        return all;
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let i = below(rng, len);
        if seen.insert(i) {
            out.push(i);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Set algebra.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// A source's pairs: a sorted set's, or a plain set's members scoring 1.
type Source = Vec<(Vec<u8>, f64)>;

/// Each source key's pairs (`None`: missing), checking every type first (WRONGTYPE).
fn read_sources(
    ecx: &mut ExecCx,
    keys: &[&[u8]],
    store: bool,
) -> Result<Vec<Option<Source>>, CmdError> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let entry = if store {
            let now_ms = ecx.read_now_ms();
            ecx.db().peek(key, now_ms)
        } else {
            ecx.read_entry(key)
        };
        let source = match entry.map(|e| e.value()) {
            None => None,
            Some(ValueRef::Coll(Collection::ZSet(z))) => Some(z.to_pairs()),
            Some(ValueRef::Coll(Collection::Set(s))) => {
                Some(s.iter().map(|m| (Member::to_vec(m), 1.0)).collect())
            }
            Some(_) => return Err(CmdError::WrongType),
        };
        out.push(source);
    }
    Ok(out)
}

/// zunionInterDiffGenericCommand's arguments from `numkeys_at`.
struct AlgebraArgs<'a> {
    keys: Vec<&'a [u8]>,
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

fn parse_numkeys(argv: &Argv, at: usize, name: &'static str) -> Result<usize, CmdError> {
    let n = parse_i64(&argv[at])?;
    if n < 1 {
        return Err(CmdError::AtLeastOneInputKey(name));
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > argv.len() - at - 1 {
        return Err(CmdError::Syntax);
    }
    Ok(n)
}

/// The options after the keys (read only after every source's type was checked).
fn parse_algebra_options(
    argv: &Argv,
    from: usize,
    args: &mut AlgebraArgs<'_>,
    op: SetOp,
    store: bool,
    card: bool,
) -> Result<(), CmdError> {
    let n = args.keys.len();
    let mut rest = Args::new(argv, from);
    while let Some(word) = rest.next() {
        if op != SetOp::Diff && !card && rest.remaining() >= n && eq_word(word, "WEIGHTS") {
            for w in args.weights.iter_mut() {
                let arg = rest.next_arg()?;
                *w = numfmt::parse_score(arg).ok_or(CmdError::WeightNotFloat)?;
            }
        } else if op != SetOp::Diff && !card && rest.remaining() >= 1 && eq_word(word, "AGGREGATE")
        {
            let agg = rest.next_arg()?;
            args.aggregate = match () {
                () if eq_word(agg, "SUM") => Aggregate::Sum,
                () if eq_word(agg, "MIN") => Aggregate::Min,
                () if eq_word(agg, "MAX") => Aggregate::Max,
                () => return Err(CmdError::Syntax),
            };
        } else if !store && !card && eq_word(word, "WITHSCORES") {
            args.withscores = true;
        } else if card && rest.remaining() >= 1 && eq_word(word, "LIMIT") {
            let n = parse_i64(rest.next_arg()?).map_err(|_| CmdError::LimitNegative)?;
            args.limit = usize::try_from(n).map_err(|_| CmdError::LimitNegative)?;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(())
}

fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value;
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value;
            }
        }
    }
}

fn weighted(weight: f64, score: f64) -> f64 {
    let s = weight * score;
    if s.is_nan() {
        0.0
    } else {
        s
    }
}

/// Sources by size, smallest first (stable), as Redis sorts them before aggregating.
fn by_size(sources: &[Option<Source>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&i| sources[i].as_ref().map_or(0, Vec::len));
    order
}

fn union(sources: &[Option<Source>], weights: &[f64], how: Aggregate) -> BTreeMap<Vec<u8>, f64> {
    let mut acc: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
    for i in by_size(sources) {
        for (m, s) in sources[i].iter().flatten() {
            let v = weighted(weights[i], *s);
            match acc.get_mut(m) {
                Some(t) => aggregate(t, v, how),
                None => {
                    acc.insert(m.clone(), v);
                }
            }
        }
    }
    acc
}

/// The intersection, walking the smallest source; at most `limit` members (0: all).
fn inter(
    sources: &[Option<Source>],
    weights: &[f64],
    how: Aggregate,
    limit: usize,
) -> BTreeMap<Vec<u8>, f64> {
    let mut acc: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
    if sources.iter().any(|s| s.as_ref().is_none_or(Vec::is_empty)) {
        return acc;
    }
    let order = by_size(sources);
    let lookups: Vec<BTreeMap<&[u8], f64>> = sources
        .iter()
        .map(|s| {
            s.iter()
                .flatten()
                .map(|(m, s)| (m.as_slice(), *s))
                .collect()
        })
        .collect();
    let first = order[0];
    'members: for (m, s) in sources[first].iter().flatten() {
        let mut score = weighted(weights[first], *s);
        for &j in &order[1..] {
            match lookups[j].get(m.as_slice()) {
                Some(v) => aggregate(&mut score, weights[j] * v, how),
                None => continue 'members,
            }
        }
        acc.insert(m.clone(), score);
        if limit != 0 && acc.len() >= limit {
            break;
        }
    }
    acc
}

/// The first source's pairs whose member no other source holds.
fn diff(sources: &[Option<Source>]) -> BTreeMap<Vec<u8>, f64> {
    let Some(Some(first)) = sources.first() else {
        return BTreeMap::new();
    };
    let others: Vec<BTreeMap<&[u8], ()>> = sources[1..]
        .iter()
        .map(|s| {
            s.iter()
                .flatten()
                .map(|(m, _)| (m.as_slice(), ()))
                .collect()
        })
        .collect();
    first
        .iter()
        .filter(|(m, _)| !others.iter().any(|o| o.contains_key(m.as_slice())))
        .cloned()
        .collect()
}

/// The result pairs in key order (at most `limit` for an intersection; 0: all).
fn compute(
    sources: Vec<Option<Source>>,
    weights: &[f64],
    how: Aggregate,
    op: SetOp,
    limit: usize,
) -> Source {
    let acc = match op {
        SetOp::Union => union(&sources, weights, how),
        SetOp::Inter => inter(&sources, weights, how, limit),
        SetOp::Diff => diff(&sources),
    };
    let mut out: Source = acc.into_iter().collect();
    out.sort_by(|a, b| cmp_zset_entries(a.1, &a.0, b.1, &b.0));
    out
}

fn algebra<'a>(
    ecx: &mut ExecCx,
    argv: &'a Argv,
    op: SetOp,
    store: bool,
    card: bool,
    name: &'static str,
) -> Result<(Source, AlgebraArgs<'a>), CmdError> {
    let numkeys_at = if store { 2 } else { 1 };
    let n = parse_numkeys(argv, numkeys_at, name)?;
    let keys: Vec<&[u8]> = argv.iter().skip(numkeys_at + 1).take(n).collect();
    let sources = read_sources(ecx, &keys, store)?;
    let mut args = AlgebraArgs {
        keys,
        weights: vec![1.0; n],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    parse_algebra_options(argv, numkeys_at + 1 + n, &mut args, op, store, card)?;
    let result = compute(sources, &args.weights, args.aggregate, op, args.limit);
    Ok((result, args))
}

/// Stores `pairs` under `dst` (a listpack when they fit), or deletes it when empty; answers
/// the size.
pub(crate) fn store_pairs(ecx: &mut ExecCx, dst: &[u8], pairs: Source) -> Reply {
    let len = pairs.len();
    if len == 0 {
        ecx.delete(dst);
        return Reply::Int(0);
    }
    let limits = ecx.limits().zset;
    let mut z = ZSetValue::new(ecx.db().collection_seed());
    for (m, s) in &pairs {
        z.insert(m, *s, &limits);
    }
    ecx.put(dst, Value::Coll(Box::new(Collection::ZSet(z))), None);
    Reply::Int(len as i64)
}

fn algebra_reply(
    ecx: &mut ExecCx,
    argv: &Argv,
    op: SetOp,
    name: &'static str,
) -> Result<Reply, CmdError> {
    let (result, args) = algebra(ecx, argv, op, false, false, name)?;
    Ok(range::pairs_reply(result, args.withscores))
}

fn algebra_store(
    ecx: &mut ExecCx,
    argv: &Argv,
    op: SetOp,
    name: &'static str,
) -> Result<Reply, CmdError> {
    let (result, _) = algebra(ecx, argv, op, true, false, name)?;
    Ok(store_pairs(ecx, &argv[1], result))
}

pub(super) fn zunion(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    algebra_reply(ecx, argv, SetOp::Union, "zunion")
}

pub(super) fn zinter(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    algebra_reply(ecx, argv, SetOp::Inter, "zinter")
}

pub(super) fn zdiff(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    algebra_reply(ecx, argv, SetOp::Diff, "zdiff")
}

pub(super) fn zunionstore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    algebra_store(ecx, argv, SetOp::Union, "zunionstore")
}

pub(super) fn zinterstore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    algebra_store(ecx, argv, SetOp::Inter, "zinterstore")
}

pub(super) fn zdiffstore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    algebra_store(ecx, argv, SetOp::Diff, "zdiffstore")
}

pub(super) fn zintercard(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (result, _) = algebra(ecx, argv, SetOp::Inter, false, true, "zintercard")?;
    Ok(Reply::Int(result.len() as i64))
}

// ---------------------------------------------------------------------------------------------
// ZSCAN.

/// ZSCAN key cursor [MATCH pattern] [COUNT count]; scores as bulk text in both protocols.
pub(super) fn zscan(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let cursor = parse_scan_cursor(&argv[2])?;
    let Some(z) = ecx.read_zset(&argv[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let options = parse_scan_options(argv)?;
    let mut items = Vec::new();
    let next = z.scan(cursor, options.count, &mut |m, s| {
        if options
            .pattern
            .as_ref()
            .is_none_or(|p| glob_match(p, m, false))
        {
            let mut text = Vec::new();
            numfmt::fmt_double(s, &mut text);
            items.push(Reply::bulk(m));
            items.push(Reply::Bulk(text));
        }
    });
    Ok(scan_reply(next, items))
}

fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(cursor.to_string()), Reply::Array(items)])
}
