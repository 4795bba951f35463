//! Ranges: the bound parsers (zslParseRange, zslParseLexRange), the rank intervals they select,
//! and the ZRANGE family built on them (zrangeGenericCommand's order of checks).

use super::*;

/// A score range as zslParseRange reads it: `(` makes a bound exclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct ScoreRange {
    pub min: f64,
    pub min_ex: bool,
    pub max: f64,
    pub max_ex: bool,
}

fn parse_score_bound(arg: &[u8]) -> Result<(f64, bool), CmdError> {
    let (text, ex) = match arg.split_first() {
        Some((b'(', rest)) => (rest, true),
        _ => (arg, false),
    };
    let v = numfmt::parse_strtod(text).ok_or(CmdError::MinMaxNotFloat)?;
    Ok((v, ex))
}

pub(super) fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let (min, min_ex) = parse_score_bound(min)?;
    let (max, max_ex) = parse_score_bound(max)?;
    Ok(ScoreRange {
        min,
        min_ex,
        max,
        max_ex,
    })
}

/// One end of a lex range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum LexBound {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

fn parse_lex_bound(arg: &[u8]) -> Result<LexBound, CmdError> {
    match arg {
        b"-" => Ok(LexBound::Min),
        b"+" => Ok(LexBound::Max),
        [b'(', rest @ ..] => Ok(LexBound::Excl(rest.to_vec())),
        [b'[', rest @ ..] => Ok(LexBound::Incl(rest.to_vec())),
        _ => Err(CmdError::MinMaxNotLexItem),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

pub(super) fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    Ok(LexRange {
        min: parse_lex_bound(min)?,
        max: parse_lex_bound(max)?,
    })
}

/// The ranks `[first, last)` a score range selects (empty when first >= last).
pub(super) fn score_ranks(z: &ZSetValue, r: &ScoreRange) -> (usize, usize) {
    let first = z.count_below(&|s, _| s < r.min || (r.min_ex && s <= r.min));
    let last = z.count_below(&|s, _| s < r.max || (!r.max_ex && s <= r.max));
    (first, last.max(first))
}

/// Whether `m` is below the bound's start (for the min) or within its end (for the max).
fn lex_before(bound: &LexBound, m: &[u8], as_max: bool) -> bool {
    match bound {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(b) if as_max => m <= b.as_slice(),
        LexBound::Incl(b) => m < b.as_slice(),
        LexBound::Excl(b) if as_max => m < b.as_slice(),
        LexBound::Excl(b) => m <= b.as_slice(),
    }
}

/// The ranks `[first, last)` a lex range selects (members compared by bytes; scores assumed
/// equal, as Redis requires).
pub(super) fn lex_ranks(z: &ZSetValue, r: &LexRange) -> (usize, usize) {
    let first = z.count_below(&|_, m| lex_before(&r.min, m, false));
    let last = z.count_below(&|_, m| lex_before(&r.max, m, true));
    (first, last.max(first))
}

/// Ranks `[first, last)` for ZRANGE's start/stop after Redis's clamping (None: empty).
pub(super) fn index_ranks(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len_i = len as i64;
    let mut start = if start < 0 { start + len_i } else { start };
    let mut end = if end < 0 { end + len_i } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len_i {
        return None;
    }
    if end >= len_i {
        end = len_i - 1;
    }
    Some((start as usize, end as usize + 1))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RangeBy {
    Rank,
    Score,
    Lex,
}

/// A parsed ZRANGE (or one of its older forms, or ZRANGESTORE).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct RangeArgs {
    pub by: RangeBy,
    pub rev: bool,
    pub withscores: bool,
    pub offset: i64,
    pub limit: i64,
    pub min: Vec<u8>,
    pub max: Vec<u8>,
}

/// How a command fixes ZRANGE's options: the older commands fix the type and direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RangeForm {
    pub by: Option<RangeBy>,
    pub rev: Option<bool>,
    pub store: bool,
}

/// zrangeGenericCommand's parse: options from `from`, then the LIMIT and WITHSCORES checks,
/// then REV swaps the bounds of a score or lex range.
pub(super) fn parse_range(
    argv: &Argv,
    from: usize,
    form: RangeForm,
) -> Result<RangeArgs, CmdError> {
    let (mut by, mut rev) = (form.by, form.rev);
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut args = Args::new(argv, from + 2);
    while let Some(word) = args.next() {
        if eq_word(word, "WITHSCORES") {
            withscores = true;
        } else if eq_word(word, "LIMIT") && args.remaining() >= 2 {
            offset = args.next_i64()?;
            limit = args.next_i64()?;
        } else if rev.is_none() && eq_word(word, "REV") {
            rev = Some(true);
        } else if by.is_none() && eq_word(word, "BYLEX") {
            by = Some(RangeBy::Lex);
        } else if by.is_none() && eq_word(word, "BYSCORE") {
            by = Some(RangeBy::Score);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if form.store && withscores {
        return Err(CmdError::Syntax);
    }
    let by = by.unwrap_or(RangeBy::Rank);
    let rev = rev.unwrap_or(false);
    if (offset != 0 || limit != -1) && by == RangeBy::Rank {
        return Err(CmdError::RangeLimitNeedsBy);
    }
    if withscores && by == RangeBy::Lex {
        return Err(CmdError::RangeWithscoresByLex);
    }
    let (mut min, mut max) = (argv[from].to_vec(), argv[from + 1].to_vec());
    if rev && by != RangeBy::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    Ok(RangeArgs {
        by,
        rev,
        withscores,
        offset,
        limit,
        min,
        max,
    })
}

/// The pairs a parsed range selects, in reply order. Bound errors come before the lookup, as
/// in Redis; `z` is looked up by the caller after `check_bounds`.
pub(super) enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

pub(super) fn check_bounds(r: &RangeArgs) -> Result<Bounds, CmdError> {
    Ok(match r.by {
        RangeBy::Rank => Bounds::Rank(parse_i64(&r.min)?, parse_i64(&r.max)?),
        RangeBy::Score => Bounds::Score(parse_score_range(&r.min, &r.max)?),
        RangeBy::Lex => Bounds::Lex(parse_lex_range(&r.min, &r.max)?),
    })
}

pub(super) fn select(z: &ZSetValue, r: &RangeArgs, bounds: &Bounds) -> Vec<(Vec<u8>, f64)> {
    let len = z.len();
    let (first, last) = match bounds {
        Bounds::Rank(start, end) => {
            let Some((a, b)) = index_ranks(len, *start, *end) else {
                return Vec::new();
            };
            // REV counts ranks from the top.
            if r.rev {
                (len - b, len - a)
            } else {
                (a, b)
            }
        }
        Bounds::Score(range) => score_ranks(z, range),
        Bounds::Lex(range) => lex_ranks(z, range),
    };
    let (mut first, mut last) = (first, last);
    if !matches!(bounds, Bounds::Rank(..)) {
        if r.offset < 0 {
            return Vec::new();
        }
        let offset = usize::try_from(r.offset).unwrap_or(usize::MAX);
        let span = last - first;
        let skip = offset.min(span);
        let take = if r.limit < 0 {
            span - skip
        } else {
            (span - skip).min(usize::try_from(r.limit).unwrap_or(usize::MAX))
        };
        if r.rev {
            last -= skip;
            first = last - take;
        } else {
            first += skip;
            last = first + take;
        }
    }
    let mut out = Vec::with_capacity(last.saturating_sub(first));
    z.visit_range(first, last, r.rev, &mut |m, s| {
        out.push((m.to_vec(), s));
        true
    });
    out
}

pub(super) fn pairs_reply(pairs: Vec<(Vec<u8>, f64)>, withscores: bool) -> Reply {
    if withscores {
        Reply::Pairs(
            pairs
                .into_iter()
                .map(|(m, s)| (Reply::Bulk(m), Reply::Double(s)))
                .collect(),
        )
    } else {
        Reply::Array(pairs.into_iter().map(|(m, _)| Reply::Bulk(m)).collect())
    }
}

fn range_command(ecx: &mut ExecCx, argv: &Argv, form: RangeForm) -> Result<Reply, CmdError> {
    let r = parse_range(argv, 2, form)?;
    let bounds = check_bounds(&r)?;
    let Some(z) = ecx.read_zset(&argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(pairs_reply(select(z, &r, &bounds), r.withscores))
}

const fn form(by: Option<RangeBy>, rev: Option<bool>) -> RangeForm {
    RangeForm {
        by,
        rev,
        store: false,
    }
}

pub(super) fn zrange(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    range_command(ecx, argv, form(None, None))
}

pub(super) fn zrangebyscore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    range_command(ecx, argv, form(Some(RangeBy::Score), Some(false)))
}

pub(super) fn zrevrangebyscore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    range_command(ecx, argv, form(Some(RangeBy::Score), Some(true)))
}

pub(super) fn zrangebylex(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    range_command(ecx, argv, form(Some(RangeBy::Lex), Some(false)))
}

pub(super) fn zrevrangebylex(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    range_command(ecx, argv, form(Some(RangeBy::Lex), Some(true)))
}

pub(super) fn zrevrange(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    range_command(ecx, argv, form(Some(RangeBy::Rank), Some(true)))
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count].
pub(super) fn zrangestore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let r = parse_range(
        argv,
        3,
        RangeForm {
            by: None,
            rev: None,
            store: true,
        },
    )?;
    let bounds = check_bounds(&r)?;
    let pairs = match ecx.read_zset(&argv[2])? {
        Some(z) => select(z, &r, &bounds),
        None => Vec::new(),
    };
    Ok(store_pairs(ecx, &argv[1], pairs))
}

/// ZCOUNT key min max.
pub(super) fn zcount(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let range = parse_score_range(&argv[2], &argv[3])?;
    let n = ecx.read_zset(&argv[1])?.map_or(0, |z| {
        let (first, last) = score_ranks(z, &range);
        last - first
    });
    Ok(Reply::Int(n as i64))
}

/// ZLEXCOUNT key min max.
pub(super) fn zlexcount(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let range = parse_lex_range(&argv[2], &argv[3])?;
    let n = ecx.read_zset(&argv[1])?.map_or(0, |z| {
        let (first, last) = lex_ranks(z, &range);
        last - first
    });
    Ok(Reply::Int(n as i64))
}

fn remove_ranks(
    ecx: &mut ExecCx,
    key: &[u8],
    ranks: impl FnOnce(&ZSetValue) -> Option<(usize, usize)>,
) -> Result<Reply, CmdError> {
    let removed = ecx.edit_zset(key, IfAbsent::Skip, |z, _| {
        let n = ranks(z).map_or(0, |(first, last)| z.remove_range(first, last));
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

pub(super) fn zremrangebyrank(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (start, end) = (parse_i64(&argv[2])?, parse_i64(&argv[3])?);
    remove_ranks(ecx, &argv[1], |z| index_ranks(z.len(), start, end))
}

pub(super) fn zremrangebyscore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let range = parse_score_range(&argv[2], &argv[3])?;
    remove_ranks(ecx, &argv[1], |z| Some(score_ranks(z, &range)))
}

pub(super) fn zremrangebylex(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let range = parse_lex_range(&argv[2], &argv[3])?;
    remove_ranks(ecx, &argv[1], |z| Some(lex_ranks(z, &range)))
}
