//! Commands whose reply is a draw the server makes (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER) or
//! follows its table layout (SSCAN, HSCAN, ZSCAN). The model cannot predict such a reply, so it checks the reply the
//! server recorded against what Redis 7.0 allows in the model's state, and takes the draw as
//! made: a valid SPOP removes exactly the members the server returned. A recorded reply that
//! Redis could not have given (a member that is not in the set, one popped twice, a wrong count,
//! a field with another value) is not taken: the model answers with its own canonical draw,
//! which then differs from the record, and the checker reports it.
//!
//! Without a record (the model run alone) the canonical draw is the first members in order.
//!
//! What a valid draw is, per command (t_set.c, t_hash.c, db.c's scanGenericCommand):
//! - SPOP: members of the set, distinct, `min(count, card)` of them (all of them when the count
//!   reaches the cardinality); SPOP without a count, one member.
//! - SRANDMEMBER / HRANDFIELD with a positive count: `min(count, card)` distinct members; with a
//!   negative count exactly `-count` members, repeats allowed; with WITHVALUES each field with
//!   its value (pairs in RESP3, flat in RESP2).
//! - SSCAN / HSCAN: a cursor and members of the collection (with their values), distinct, each
//!   matching MATCH; a scan from cursor 0 that answers cursor 0 has visited everything, so it
//!   must return every matching member.

use std::collections::{BTreeMap, BTreeSet};

use crate::args::{string2ll, NOT_INTEGER, SYNTAX};
use crate::hash;
use crate::model::Ctx;
use crate::resp::Resp;
use crate::set;
use crate::zset;

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

const SPOP_COUNT_RANGE: &str = "ERR value is out of range, must be positive";
const RAND_COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
const OUT_OF_RANGE: &str = "ERR value is out of range";
const INVALID_CURSOR: &str = "ERR invalid cursor";

/// The bulk strings of an array or set reply, or `None` for any other shape.
fn bulks(reply: &Resp) -> Option<Vec<&[u8]>> {
    let items = match reply {
        Resp::Array(items) | Resp::Set(items) => items,
        _ => return None,
    };
    items
        .iter()
        .map(|item| match item {
            Resp::Bulk(b) => Some(b.as_slice()),
            _ => None,
        })
        .collect()
}

fn all_distinct(items: &[&[u8]]) -> bool {
    let unique: BTreeSet<&[u8]> = items.iter().copied().collect();
    unique.len() == items.len()
}

/// SPOP's count: a non-negative integer.
fn spop_count(arg: &[u8]) -> Result<usize, Resp> {
    match string2ll(arg) {
        Some(n) if n >= 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(Resp::err(SPOP_COUNT_RANGE)),
    }
}

/// SRANDMEMBER's and HRANDFIELD's count: any integer but i64::MIN.
fn rand_count(arg: &[u8]) -> Result<i64, Resp> {
    match string2ll(arg) {
        None => Err(Resp::err(NOT_INTEGER)),
        Some(i64::MIN) => Err(Resp::err(RAND_COUNT_RANGE)),
        Some(n) => Ok(n),
    }
}

pub(crate) fn spop(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    if argv.len() > 3 {
        return Resp::err(SYNTAX);
    }
    let count = match argv.get(2) {
        Some(arg) => Some(tri!(spop_count(arg))),
        None => None,
    };
    let Some(mut members) = tri!(set::set_at(cx, &argv[1])) else {
        return match count {
            None => Resp::Nil,
            Some(_) => Resp::Set(Vec::new()),
        };
    };
    let recorded = cx.recorded.cloned();
    let Some(count) = count else {
        let valid = match &recorded {
            Some(Resp::Bulk(m)) if members.contains(m) => Some(m.clone()),
            _ => None,
        };
        let popped = valid.unwrap_or_else(|| members.first().expect("not empty").clone());
        members.remove(&popped);
        set::update(cx, &argv[1], members);
        return Resp::Bulk(popped);
    };
    if count == 0 {
        return Resp::Set(Vec::new());
    }
    let want = count.min(members.len());
    // A RESP2 record cannot tell a set from an array: either shape is read.
    let drawn: Option<Vec<Vec<u8>>> = recorded
        .as_ref()
        .and_then(bulks)
        .filter(|items| {
            items.len() == want && all_distinct(items) && items.iter().all(|m| members.contains(*m))
        })
        .map(|items| items.into_iter().map(<[u8]>::to_vec).collect());
    let popped =
        drawn.unwrap_or_else(|| members.iter().take(want).cloned().collect::<Vec<Vec<u8>>>());
    for m in &popped {
        members.remove(m);
    }
    set::update(cx, &argv[1], members);
    Resp::Set(popped.into_iter().map(Resp::Bulk).collect())
}

pub(crate) fn srandmember(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    if argv.len() > 3 {
        return Resp::err(SYNTAX);
    }
    let count = match argv.get(2) {
        Some(arg) => Some(tri!(rand_count(arg))),
        None => None,
    };
    let members = tri!(set::set_at(cx, &argv[1]));
    let recorded = cx.recorded;
    let Some(count) = count else {
        let Some(members) = members else {
            return Resp::Nil;
        };
        return match recorded {
            Some(Resp::Bulk(m)) if members.contains(m) => Resp::Bulk(m.clone()),
            _ => Resp::bulk(members.first().expect("not empty")),
        };
    };
    let Some(members) = members else {
        return Resp::Array(Vec::new());
    };
    let pool: Vec<&[u8]> = members.iter().map(Vec::as_slice).collect();
    draw_reply(&pool, count, recorded, |m| members.contains(m))
}

/// SRANDMEMBER's and HRANDFIELD's (without values) array of draws.
fn draw_reply(
    pool: &[&[u8]],
    count: i64,
    recorded: Option<&Resp>,
    is_member: impl Fn(&[u8]) -> bool,
) -> Resp {
    let want = if count < 0 {
        count.unsigned_abs() as usize
    } else {
        usize::try_from(count).unwrap_or(usize::MAX).min(pool.len())
    };
    let drawn = recorded.and_then(bulks).filter(|items| {
        items.len() == want
            && items.iter().all(|m| is_member(m))
            && (count < 0 || all_distinct(items))
    });
    let items: Vec<&[u8]> =
        drawn.unwrap_or_else(|| pool.iter().copied().cycle().take(want).collect());
    Resp::Array(items.into_iter().map(Resp::bulk).collect())
}

pub(crate) fn hrandfield(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let mut with_values = false;
    let count = match argv.get(2) {
        None => None,
        Some(arg) => {
            let n = tri!(rand_count(arg));
            if argv.len() > 4 || (argv.len() == 4 && !argv[3].eq_ignore_ascii_case(b"withvalues")) {
                return Resp::err(SYNTAX);
            }
            if argv.len() == 4 {
                with_values = true;
                if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
                    return Resp::err(OUT_OF_RANGE);
                }
            }
            Some(n)
        }
    };
    let h = tri!(hash::hash(cx, &argv[1]));
    let recorded = cx.recorded;
    let Some(count) = count else {
        let Some(h) = h else {
            return Resp::Nil;
        };
        return match recorded {
            Some(Resp::Bulk(f)) if h.contains_key(f) => Resp::Bulk(f.clone()),
            _ => Resp::bulk(h.keys().next().expect("not empty")),
        };
    };
    let Some(h) = h else {
        return Resp::Array(Vec::new());
    };
    let fields: Vec<&[u8]> = h.keys().map(Vec::as_slice).collect();
    if !with_values {
        return draw_reply(&fields, count, recorded, |f| h.contains_key(f));
    }
    draw_pairs_reply(&h, count, recorded, cx.conn.resp3)
}

/// HRANDFIELD … WITHVALUES: RESP3 answers an array of [field, value] pairs, RESP2 a flat array.
fn draw_pairs_reply(
    h: &BTreeMap<Vec<u8>, Vec<u8>>,
    count: i64,
    recorded: Option<&Resp>,
    resp3: bool,
) -> Resp {
    let want = if count < 0 {
        count.unsigned_abs() as usize
    } else {
        usize::try_from(count).unwrap_or(usize::MAX).min(h.len())
    };
    let pairs: Option<Vec<(&[u8], &[u8])>> = match recorded {
        Some(Resp::Array(items)) if resp3 => items
            .iter()
            .map(|item| match item {
                Resp::Array(pair) => match pair.as_slice() {
                    [Resp::Bulk(f), Resp::Bulk(v)] => Some((f.as_slice(), v.as_slice())),
                    _ => None,
                },
                _ => None,
            })
            .collect(),
        Some(flat @ Resp::Array(_)) if !resp3 => bulks(flat).and_then(|items| {
            (items.len() % 2 == 0).then(|| items.chunks(2).map(|p| (p[0], p[1])).collect())
        }),
        _ => None,
    };
    let drawn = pairs.filter(|pairs| {
        let fields: Vec<&[u8]> = pairs.iter().map(|(f, _)| *f).collect();
        pairs.len() == want
            && pairs
                .iter()
                .all(|(f, v)| h.get(*f).is_some_and(|have| have == v))
            && (count < 0 || all_distinct(&fields))
    });
    let canonical: Vec<(&[u8], &[u8])> = drawn.unwrap_or_else(|| {
        h.iter()
            .map(|(f, v)| (f.as_slice(), v.as_slice()))
            .cycle()
            .take(want)
            .collect()
    });
    if resp3 {
        Resp::Array(
            canonical
                .into_iter()
                .map(|(f, v)| Resp::Array(vec![Resp::bulk(f), Resp::bulk(v)]))
                .collect(),
        )
    } else {
        Resp::Array(
            canonical
                .into_iter()
                .flat_map(|(f, v)| [Resp::bulk(f), Resp::bulk(v)])
                .collect(),
        )
    }
}

/// A scan cursor as Redis's parseScanCursorOrReply reads it (strtoul: unsigned, base 10).
fn scan_cursor(arg: &[u8]) -> Result<u64, Resp> {
    std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Resp::err(INVALID_CURSOR))
}

/// SSCAN's and HSCAN's options: the MATCH pattern (`None` for none or `*`); COUNT is checked
/// and otherwise ignored (it only bounds the work of one call).
fn scan_options(argv: &[Vec<u8>]) -> Result<Option<Vec<u8>>, Resp> {
    let mut pattern = None;
    let mut i = 3;
    while i < argv.len() {
        if i + 1 >= argv.len() {
            return Err(Resp::err(SYNTAX));
        }
        let (word, value) = (&argv[i], &argv[i + 1]);
        if word.eq_ignore_ascii_case(b"count") {
            match string2ll(value) {
                None => return Err(Resp::err(NOT_INTEGER)),
                Some(n) if n < 1 => return Err(Resp::err(SYNTAX)),
                Some(_) => {}
            }
        } else if word.eq_ignore_ascii_case(b"match") {
            pattern = (value.as_slice() != b"*").then(|| value.clone());
        } else {
            return Err(Resp::err(SYNTAX));
        }
        i += 2;
    }
    Ok(pattern)
}

fn scan_reply(cursor: &[u8], items: Vec<Resp>) -> Resp {
    Resp::Array(vec![Resp::bulk(cursor), Resp::Array(items)])
}

/// The recorded scan reply's cursor and items, when it has a scan reply's shape.
fn recorded_scan(recorded: Option<&Resp>) -> Option<(&[u8], Vec<&[u8]>)> {
    match recorded? {
        Resp::Array(parts) => match parts.as_slice() {
            [Resp::Bulk(cursor), items @ Resp::Array(_)] => {
                Some((cursor.as_slice(), bulks(items)?))
            }
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn sscan(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let cursor = tri!(scan_cursor(&argv[2]));
    let Some(members) = tri!(set::set_at(cx, &argv[1])) else {
        return scan_reply(b"0", Vec::new());
    };
    let pattern = tri!(scan_options(argv));
    let matching: BTreeSet<&[u8]> = members
        .iter()
        .map(Vec::as_slice)
        .filter(|m| pattern.as_ref().is_none_or(|p| crate::glob_matches(p, m)))
        .collect();
    let drawn = recorded_scan(cx.recorded).filter(|(next, items)| {
        scan_cursor(next).is_ok()
            && all_distinct(items)
            && items.iter().all(|m| matching.contains(m))
            && (cursor != 0 || *next != b"0" || items.len() == matching.len())
    });
    let (next, items) = drawn.unwrap_or_else(|| (b"0", matching.into_iter().collect()));
    scan_reply(next, items.into_iter().map(Resp::bulk).collect())
}

pub(crate) fn hscan(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let cursor = tri!(scan_cursor(&argv[2]));
    let Some(h) = tri!(hash::hash(cx, &argv[1])) else {
        return scan_reply(b"0", Vec::new());
    };
    let pattern = tri!(scan_options(argv));
    let matching: BTreeMap<&[u8], &[u8]> = h
        .iter()
        .map(|(f, v)| (f.as_slice(), v.as_slice()))
        .filter(|(f, _)| pattern.as_ref().is_none_or(|p| crate::glob_matches(p, f)))
        .collect();
    let drawn = recorded_scan(cx.recorded).filter(|(next, items)| {
        let pairs: Vec<(&[u8], &[u8])> = items.chunks(2).map(|p| (p[0], p[p.len() - 1])).collect();
        let fields: Vec<&[u8]> = pairs.iter().map(|(f, _)| *f).collect();
        scan_cursor(next).is_ok()
            && items.len() % 2 == 0
            && all_distinct(&fields)
            && pairs.iter().all(|(f, v)| matching.get(f) == Some(v))
            && (cursor != 0 || *next != b"0" || pairs.len() == matching.len())
    });
    let (next, items) = drawn.unwrap_or_else(|| {
        let flat = matching.into_iter().flat_map(|(f, v)| [f, v]).collect();
        (b"0", flat)
    });
    scan_reply(next, items.into_iter().map(Resp::bulk).collect())
}

/// A score as a recorded reply carries it: a RESP3 double, or RESP2's bulk string.
fn recorded_score(reply: &Resp) -> Option<f64> {
    match reply {
        Resp::Double(d) => Some(*d),
        Resp::Bulk(text) => zset::string2d(text),
        _ => None,
    }
}

pub(crate) fn zrandmember(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let mut with_scores = false;
    let count = match argv.get(2) {
        None => None,
        Some(arg) => {
            let n = tri!(rand_count(arg));
            if argv.len() > 4 || (argv.len() == 4 && !argv[3].eq_ignore_ascii_case(b"withscores")) {
                return Resp::err(SYNTAX);
            }
            if argv.len() == 4 {
                with_scores = true;
                if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
                    return Resp::err(OUT_OF_RANGE);
                }
            }
            Some(n)
        }
    };
    let z = tri!(zset::zset_at(cx, &argv[1]));
    let recorded = cx.recorded;
    let Some(count) = count else {
        let Some(z) = z else {
            return Resp::Nil;
        };
        return match recorded {
            Some(Resp::Bulk(m)) if z.contains_key(m) => Resp::Bulk(m.clone()),
            _ => Resp::bulk(z.keys().next().expect("not empty")),
        };
    };
    let Some(z) = z else {
        return Resp::Array(Vec::new());
    };
    let members: Vec<&[u8]> = z.keys().map(Vec::as_slice).collect();
    if !with_scores {
        return draw_reply(&members, count, recorded, |m| z.contains_key(m));
    }
    let want = if count < 0 {
        count.unsigned_abs() as usize
    } else {
        usize::try_from(count).unwrap_or(usize::MAX).min(z.len())
    };
    let resp3 = cx.conn.resp3;
    // RESP3 pairs [member, double]; RESP2 flat member, score-as-bulk.
    let pairs: Option<Vec<(&[u8], f64)>> = match recorded {
        Some(Resp::Array(items)) if resp3 => items
            .iter()
            .map(|item| match item {
                Resp::Array(pair) => match pair.as_slice() {
                    [Resp::Bulk(m), score] => Some((m.as_slice(), recorded_score(score)?)),
                    _ => None,
                },
                _ => None,
            })
            .collect(),
        Some(Resp::Array(items)) if !resp3 && items.len() % 2 == 0 => items
            .chunks(2)
            .map(|pair| match pair {
                [Resp::Bulk(m), score] => Some((m.as_slice(), recorded_score(score)?)),
                _ => None,
            })
            .collect(),
        _ => None,
    };
    let drawn: Option<Vec<&[u8]>> = pairs
        .filter(|pairs| {
            let picked: Vec<&[u8]> = pairs.iter().map(|(m, _)| *m).collect();
            pairs.len() == want
                && pairs.iter().all(|(m, s)| {
                    z.get(*m)
                        .is_some_and(|have| have.0.to_bits() == s.to_bits())
                })
                && (count < 0 || all_distinct(&picked))
        })
        .map(|pairs| pairs.into_iter().map(|(m, _)| m).collect());
    let picked = drawn.unwrap_or_else(|| members.iter().copied().cycle().take(want).collect());
    let score = |m: &[u8]| Resp::Double(z[m].0);
    if resp3 {
        Resp::Array(
            picked
                .into_iter()
                .map(|m| Resp::Array(vec![Resp::bulk(m), score(m)]))
                .collect(),
        )
    } else {
        Resp::Array(
            picked
                .into_iter()
                .flat_map(|m| [Resp::bulk(m), score(m)])
                .collect(),
        )
    }
}

pub(crate) fn zscan(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let cursor = tri!(scan_cursor(&argv[2]));
    let Some(z) = tri!(zset::zset_at(cx, &argv[1])) else {
        return scan_reply(b"0", Vec::new());
    };
    let pattern = tri!(scan_options(argv));
    let matching: BTreeMap<&[u8], f64> = z
        .iter()
        .map(|(m, s)| (m.as_slice(), s.0))
        .filter(|(m, _)| pattern.as_ref().is_none_or(|p| crate::glob_matches(p, m)))
        .collect();
    // Scores come back as bulk strings in both protocols; one that reads back as the member's
    // score is Redis's (listpack and skiplist spell some scores differently).
    let drawn = recorded_scan(cx.recorded).filter(|(next, items)| {
        let pairs: Vec<(&[u8], &[u8])> = items.chunks(2).map(|p| (p[0], p[p.len() - 1])).collect();
        let members: Vec<&[u8]> = pairs.iter().map(|(m, _)| *m).collect();
        scan_cursor(next).is_ok()
            && items.len() % 2 == 0
            && all_distinct(&members)
            && pairs.iter().all(|(m, s)| {
                matching
                    .get(m)
                    .zip(zset::string2d(s))
                    .is_some_and(|(have, got)| have.to_bits() == got.to_bits())
            })
            && (cursor != 0 || *next != b"0" || pairs.len() == matching.len())
    });
    if let Some((next, items)) = drawn {
        return scan_reply(next, items.into_iter().map(Resp::bulk).collect());
    }
    let flat = matching
        .into_iter()
        .flat_map(|(m, s)| [Resp::bulk(m), Resp::bulk(crate::resp::format_g17(s))])
        .collect();
    scan_reply(b"0", flat)
}

#[cfg(test)]
mod tests {
    use crate::model::{ConnState, Model};
    use crate::resp::Resp;

    fn argv(line: &str) -> Vec<Vec<u8>> {
        line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
    }

    fn bulks(items: &[&str]) -> Vec<Resp> {
        items.iter().map(Resp::bulk).collect()
    }

    fn run(model: &mut Model, conn: &mut ConnState, line: &str, recorded: Option<Resp>) -> Resp {
        model.apply_as_recorded(conn, &argv(line), 1_000, recorded.as_ref())
    }

    #[test]
    fn a_valid_spop_is_taken_as_the_server_drew_it() {
        let (mut m, mut c) = (Model::new(16), ConnState::default());
        run(&mut m, &mut c, "SADD s a b c d", None);
        let drawn = Resp::Array(bulks(&["d", "b"]));
        assert_eq!(
            run(&mut m, &mut c, "SPOP s 2", Some(drawn)),
            Resp::Set(bulks(&["d", "b"]))
        );
        assert_eq!(
            run(&mut m, &mut c, "SMEMBERS s", None),
            Resp::Set(bulks(&["a", "c"]))
        );
        assert_eq!(
            run(&mut m, &mut c, "SPOP s", Some(Resp::bulk("c"))),
            Resp::bulk("c")
        );
    }

    #[test]
    fn an_impossible_draw_is_not_taken() {
        let (mut m, mut c) = (Model::new(16), ConnState::default());
        run(&mut m, &mut c, "SADD s a b c", None);
        for (line, impossible) in [
            ("SPOP s", Resp::bulk("zz")),
            ("SPOP s 2", Resp::Array(bulks(&["a", "a"]))),
            ("SPOP s 2", Resp::Array(bulks(&["a"]))),
            ("SRANDMEMBER s 2", Resp::Array(bulks(&["a", "a"]))),
            ("SRANDMEMBER s -3", Resp::Array(bulks(&["a", "q", "a"]))),
            (
                "SSCAN s 0",
                Resp::Array(vec![Resp::bulk("0"), Resp::Array(bulks(&["a"]))]),
            ),
        ] {
            let mut trial = m.snapshot();
            let reply = run(&mut trial, &mut c, line, Some(impossible.clone()));
            assert_ne!(
                reply.to_resp2_bytes(),
                impossible.to_resp2_bytes(),
                "{line}"
            );
        }
        // Repeats are Redis's for a negative count, and a partial scan page for a cursor.
        let repeats = Resp::Array(bulks(&["a", "a", "a"]));
        assert_eq!(
            run(&mut m, &mut c, "SRANDMEMBER s -3", Some(repeats.clone())),
            repeats
        );
        let page = Resp::Array(vec![Resp::bulk("4"), Resp::Array(bulks(&["b"]))]);
        assert_eq!(run(&mut m, &mut c, "SSCAN s 0", Some(page.clone())), page);
    }

    #[test]
    fn hrandfield_pairs_must_carry_their_values() {
        let (mut m, mut c) = (Model::new(16), ConnState::new(true));
        run(&mut m, &mut c, "HSET h f1 v1 f2 v2", None);
        let pair = |f: &str, v: &str| Resp::Array(bulks(&[f, v]));
        let good = Resp::Array(vec![pair("f2", "v2"), pair("f2", "v2")]);
        let line = "HRANDFIELD h -2 WITHVALUES";
        assert_eq!(run(&mut m, &mut c, line, Some(good.clone())), good);
        let wrong_value = Resp::Array(vec![pair("f2", "v1"), pair("f2", "v2")]);
        assert_ne!(
            run(&mut m, &mut c, line, Some(wrong_value.clone())),
            wrong_value
        );
    }

    #[test]
    fn exec_hands_each_queued_draw_its_recorded_reply() {
        let (mut m, mut c) = (Model::new(16), ConnState::default());
        run(&mut m, &mut c, "SADD s a b c", None);
        run(&mut m, &mut c, "MULTI", None);
        run(&mut m, &mut c, "SPOP s", None);
        run(&mut m, &mut c, "SCARD s", None);
        let recorded = Resp::Array(vec![Resp::bulk("b"), Resp::Int(2)]);
        assert_eq!(
            run(&mut m, &mut c, "EXEC", Some(recorded.clone())),
            recorded
        );
        assert_eq!(
            run(&mut m, &mut c, "SMEMBERS s", None),
            Resp::Set(bulks(&["a", "c"]))
        );
    }
}
