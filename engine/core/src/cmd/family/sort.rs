//! SORT and SORT_RO: Redis 7.0's sort.c over lists, sets and sorted sets, with BY (a pattern,
//! a hash field `->`, or a constant such as `nosort` that skips sorting), LIMIT, GET (`#`,
//! patterns, hash fields, several), ASC/DESC, ALPHA and STORE (a list; an empty result
//! deletes the destination).
//!
//! Ordering as Redis's: numeric by default (each value read by strtod, refusing trailing
//! bytes, NaN and ERANGE: "One or more scores can't be converted into double"), ties broken by
//! the elements' bytes; ALPHA compares as strcoll in the C locale (bytes up to a NUL) when
//! replying and as whole bytes when storing; a missing BY value scores 0 (or sorts first under
//! ALPHA). The sort is stable, as glibc's qsort is for Redis, so ALPHA ties keep the source's
//! order. Without sorting (BY constant) a list or sorted set answers in its own order, reversed
//! by DESC, LIMIT cutting the window first; a set then answers in its iteration order, or, with
//! STORE, sorted ALPHA (Redis forces that so a replica stores the same list).
//!
//! Keys: a BY or GET pattern names keys derived from the sorted key's elements, which may live
//! on any shard. Such a SORT (`reads_pattern_keys`) runs on a node with several shards as a
//! transaction locking every key of every shard (`Merge::Patterns`, `node::coord`): it fetches
//! the sorted key, derives the pattern keys from its elements (`pattern_keys`), fetches them,
//! sorts on the copies and stores the destination, as one step. That costs a full barrier:
//! every other command on every shard waits behind it, and four rounds of hops (schedule,
//! fetch, fetch, store) plus copies of every pattern key's value (a whole hash for `->`). A
//! SORT without patterns (or whose BY is a constant, without GET patterns) is a plain command
//! on its key, or on its key and STORE destination.
//!
//! Deliberate differences: Redis reads errno after strtod without clearing it first, so an
//! ERANGE left by any earlier call (an out-of-range value in an earlier SORT, a SCAN cursor…)
//! fails later numeric SORTs with "One or more scores can't be converted into double" until
//! some other call resets errno; here a SORT depends only on its own values. Redis converts a small sorted set it sorts to its skiplist encoding
//! (OBJECT ENCODING changes even for SORT_RO); here the source is left as it is. A set sorted
//! by nothing (BY constant, no STORE) answers in this engine's iteration order, which for a
//! hashtable set differs from Redis's; with BY and LIMIT, Redis's partial quicksort may order
//! ALPHA ties differently than this full stable sort.

use std::cmp::Ordering;

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64};
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, Family, KeySpec, Merge};
use crate::db::{Collection, Entry, ListValue, Value, ValueRef};
use crate::error::CmdError;
use crate::numfmt;
use crate::reply::Reply;

const GENERIC: Family = Family {
    group: "generic",
    acl: 0,
};

/// SORT's ACL categories beside @write/@read: the types it reads, and @dangerous (patterns
/// read arbitrary keys).
const SORT_ACL: u32 = acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS;

const PATTERN_NOTES: &str = "For the optional BY/GET keyword. It is marked 'unknown' because \
    the key names derive from the content of the key we sort";
const STORE_NOTES: &str = "For the optional STORE keyword. It is marked 'unknown' because the \
    keyword can appear anywhere in the argument array";

const SORT_KEYS: &[KeySpec] = &[
    KeySpec::one(kf::RO | kf::ACCESS, 1),
    KeySpec::unknown(kf::RO | kf::ACCESS, PATTERN_NOTES, None),
    KeySpec::unknown(kf::OW | kf::UPDATE, STORE_NOTES, Some(store_key_index)),
];
const SORT_RO_KEYS: &[KeySpec] = &[
    KeySpec::one(kf::RO | kf::ACCESS, 1),
    KeySpec::unknown(kf::RO | kf::ACCESS, PATTERN_NOTES, None),
];
const COMPLEXITY: &str = "O(N+M*log(M)) where N is the number of elements in the list or set \
    to sort, and M the number of returned elements. When the elements are not sorted, \
    complexity is O(N).";

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    GENERIC.row("sort", -2, flag::WRITE | flag::DENYOOM, SORT_ACL, SORT_KEYS,
        crate::cmd::Exec::Shard { run: sort, merge: Merge::Patterns },
        GENERIC.docs("Sort the elements in a list, set or sorted set", "1.0.0", COMPLEXITY)),
    GENERIC.row("sort_ro", -2, flag::READONLY, SORT_ACL, SORT_RO_KEYS,
        crate::cmd::Exec::Shard { run: sort_ro, merge: Merge::Patterns },
        GENERIC.docs("Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        "7.0.0", COMPLEXITY)),
];

/// What a SORT line asks, as sortCommandGeneric parses it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SortArgs<'a> {
    desc: bool,
    alpha: bool,
    /// LIMIT offset count; (0, -1) when absent.
    limit: (i64, i64),
    /// The last BY pattern.
    by: Option<&'a [u8]>,
    /// Some BY had no `*`: nothing is sorted (and no BY value looked up), even when a later BY
    /// has one, as in Redis.
    dont_sort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
    /// The STORE destination's argument index.
    store_at: Option<usize>,
}

/// The bytes C's string functions see: up to the first NUL.
fn c_str(bytes: &[u8]) -> &[u8] {
    bytes.split(|&b| b == 0).next().unwrap_or_default()
}

fn has_star(pattern: &[u8]) -> bool {
    c_str(pattern).contains(&b'*')
}

fn is_self(pattern: &[u8]) -> bool {
    c_str(pattern) == b"#"
}

fn parse_sort(argv: &Argv, readonly: bool) -> Result<SortArgs<'_>, CmdError> {
    let mut a = SortArgs {
        desc: false,
        alpha: false,
        limit: (0, -1),
        by: None,
        dont_sort: false,
        gets: Vec::new(),
        store: None,
        store_at: None,
    };
    let mut j = 2;
    while j < argv.len() {
        let word = &argv[j];
        let left = argv.len() - j - 1;
        if eq_word(word, "ASC") {
            a.desc = false;
        } else if eq_word(word, "DESC") {
            a.desc = true;
        } else if eq_word(word, "ALPHA") {
            a.alpha = true;
        } else if eq_word(word, "LIMIT") && left >= 2 {
            a.limit = (parse_i64(&argv[j + 1])?, parse_i64(&argv[j + 2])?);
            j += 2;
        } else if !readonly && eq_word(word, "STORE") && left >= 1 {
            a.store = Some(&argv[j + 1]);
            a.store_at = Some(j + 1);
            j += 1;
        } else if eq_word(word, "BY") && left >= 1 {
            a.by = Some(&argv[j + 1]);
            if !has_star(&argv[j + 1]) {
                a.dont_sort = true;
            }
            j += 1;
        } else if eq_word(word, "GET") && left >= 1 {
            a.gets.push(&argv[j + 1]);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(a)
}

/// The STORE destination's argument index, for routing and COMMAND GETKEYS: the last STORE
/// the parse accepts (none when the line does not parse).
fn store_key_index(args: &[&[u8]]) -> Vec<usize> {
    let argv = Argv::from_slices(args);
    parse_sort(&argv, false)
        .ok()
        .and_then(|parsed| parsed.store_at)
        .into_iter()
        .collect()
}

/// Whether the line's BY or GET patterns may read keys other than the sorted one (then, on a
/// node with several shards, it runs over every shard; see the module doc). False for a line
/// that does not parse: its handler refuses it before any lookup.
pub fn reads_pattern_keys(argv: &Argv) -> bool {
    let Ok(a) = parse_sort(argv, false) else {
        return false;
    };
    let by_reads = !a.dont_sort && a.by.is_some_and(has_star);
    by_reads || a.gets.iter().any(|g| !is_self(g) && has_star(g))
}

/// The key (and hash field) a pattern names for `elem`: the first `*` replaced by the element;
/// a `->` after it, followed by something, splits off a hash field (lookupKeyByPattern). None
/// without a `*`.
fn pattern_target<'p>(pattern: &'p [u8], elem: &[u8]) -> Option<(Vec<u8>, Option<&'p [u8]>)> {
    let c = c_str(pattern);
    let star = c.iter().position(|&b| b == b'*')?;
    let after = &c[star + 1..];
    let arrow = after.windows(2).position(|w| w == b"->");
    // A field only when something follows the arrow (in the C string).
    let field_at = arrow
        .filter(|&at| at + 2 < after.len())
        .map(|at| star + 1 + at);
    let key_end = field_at.unwrap_or(pattern.len());
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    Some((key, field_at.map(|at| &pattern[at + 2..])))
}

/// Every key the line's patterns name for the elements of `source` (the sorted key's entry):
/// what a SORT spanning shards fetches besides its own keys. Empty for a source that is not a
/// list, set or sorted set (the handler answers WRONGTYPE).
pub fn pattern_keys(argv: &Argv, source: Option<&Entry>) -> Vec<Vec<u8>> {
    let Ok(a) = parse_sort(argv, false) else {
        return Vec::new();
    };
    let Some(elems) = source.and_then(|e| elements(e.value())) else {
        return Vec::new();
    };
    let mut patterns: Vec<&[u8]> = a.gets.iter().copied().filter(|g| !is_self(g)).collect();
    if let (false, Some(by)) = (a.dont_sort, a.by) {
        patterns.push(by);
    }
    let mut keys: Vec<Vec<u8>> = elems
        .iter()
        .flat_map(|e| patterns.iter().filter_map(|p| pattern_target(p, e)))
        .map(|(key, _)| key)
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The source's kind as SORT treats it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    List,
    Set,
    ZSet,
}

/// A list's, set's or sorted set's elements in its own order (list order, set iteration
/// order, ascending score); None for another type.
fn elements(value: ValueRef<'_>) -> Option<Vec<Vec<u8>>> {
    source_elements(value).map(|(_, elems)| elems)
}

fn source_elements(value: ValueRef<'_>) -> Option<(Source, Vec<Vec<u8>>)> {
    match value {
        ValueRef::Coll(Collection::List(l)) => {
            Some((Source::List, l.iter().map(<[u8]>::to_vec).collect()))
        }
        ValueRef::Coll(Collection::Set(s)) => {
            Some((Source::Set, s.iter().map(|m| m.to_vec()).collect()))
        }
        ValueRef::Coll(Collection::ZSet(z)) => Some((
            Source::ZSet,
            z.to_pairs().into_iter().map(|(m, _)| m).collect(),
        )),
        ValueRef::Coll(_) | ValueRef::Str(_) => None,
    }
}

/// The value a pattern looks up for `elem` (lookupKeyByPattern): the element itself for `#`; a
/// string key's value, or a hash field's; None when absent, of another type, or the pattern
/// has no `*`.
fn lookup(ecx: &mut ExecCx, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if is_self(pattern) {
        return Some(elem.to_vec());
    }
    let (key, field) = pattern_target(pattern, elem)?;
    let entry = ecx.read_entry(&key)?;
    match (entry.value(), field) {
        (ValueRef::Str(s), None) => Some(s.to_bytes()),
        (ValueRef::Coll(Collection::Hash(h)), Some(field)) => h.get(field).map(<[u8]>::to_vec),
        _ => None,
    }
}

/// The LIMIT window over `len` elements as Redis clamps it: (start, end) inclusive; end <
/// start when empty.
fn window(len: i64, (offset, count): (i64, i64)) -> (i64, i64) {
    let mut start = offset.max(0).min(len);
    let count = count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    (start, end.min(len - 1))
}

/// One element being sorted: its BY value read as a number, or kept for ALPHA.
struct Item {
    elem: Vec<u8>,
    score: f64,
    by: Option<Vec<u8>>,
}

/// C's strcmp: bytes up to the first NUL.
fn cmp_c(a: &[u8], b: &[u8]) -> Ordering {
    c_str(a).cmp(c_str(b))
}

/// sortCompare.
fn compare(a: &Item, b: &Item, alpha: bool, by_pattern: bool, storing: bool) -> Ordering {
    if !alpha {
        return a
            .score
            .partial_cmp(&b.score)
            .filter(|o| o.is_ne())
            .unwrap_or_else(|| a.elem.cmp(&b.elem));
    }
    let text = |x: &[u8], y: &[u8]| if storing { x.cmp(y) } else { cmp_c(x, y) };
    if !by_pattern {
        return text(&a.elem, &b.elem);
    }
    match (&a.by, &b.by) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => text(x, y),
    }
}

/// A SORT value as strtod reads it with Redis's checks: the C string, leading spaces, no
/// trailing byte, no NaN, no ERANGE (overflow, or underflow to zero or a subnormal). An empty
/// value is 0.
fn parse_sort_score(bytes: &[u8]) -> Option<f64> {
    let value = numfmt::parse_strtod(bytes)?;
    let text = c_str(bytes);
    let body = text.trim_ascii_start();
    let body = body
        .strip_prefix(b"-")
        .or_else(|| body.strip_prefix(b"+"))
        .unwrap_or(body);
    let infinity_literal = body.first().is_some_and(|b| b.eq_ignore_ascii_case(&b'i'));
    let hex = body.len() >= 2 && body[0] == b'0' && body[1].eq_ignore_ascii_case(&b'x');
    let exponent = if hex { b'p' } else { b'e' };
    let mantissa_end = body
        .iter()
        .position(|b| b.eq_ignore_ascii_case(&exponent))
        .unwrap_or(body.len());
    let mantissa = &body[if hex { 2 } else { 0 }..mantissa_end];
    let nonzero = mantissa.iter().any(|&b| b.is_ascii_hexdigit() && b != b'0');
    let overflow = value.is_infinite() && !infinity_literal;
    let underflow =
        (value == 0.0 && nonzero) || (!hex && value != 0.0 && value.abs() < f64::MIN_POSITIVE);
    (!overflow && !underflow).then_some(value)
}

fn sort(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    sort_generic(ecx, argv, false)
}

fn sort_ro(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    sort_generic(ecx, argv, true)
}

fn read_source(ecx: &mut ExecCx, key: &[u8]) -> Result<(Source, Vec<Vec<u8>>), CmdError> {
    match ecx.read_entry(key) {
        None => Ok((Source::List, Vec::new())),
        Some(entry) => source_elements(entry.value()).ok_or(CmdError::WrongType),
    }
}

fn sort_generic(ecx: &mut ExecCx, argv: &Argv, readonly: bool) -> Result<Reply, CmdError> {
    let mut a = parse_sort(argv, readonly)?;
    let (source, elems) = read_source(ecx, &argv[1])?;
    if a.dont_sort && source == Source::Set && a.store.is_some() {
        // A set's order is arbitrary: stored, it is sorted so a replica stores the same list.
        a.dont_sort = false;
        a.alpha = true;
        a.by = None;
    }
    let len = elems.len() as i64;
    let (mut start, mut end) = window(len, a.limit);
    let mut items: Vec<Item> = if a.dont_sort && source != Source::Set {
        // In the source's own order, reversed by DESC, only the window.
        let ordered: Box<dyn Iterator<Item = Vec<u8>>> = if a.desc {
            Box::new(elems.into_iter().rev())
        } else {
            Box::new(elems.into_iter())
        };
        let taken = if end >= start {
            ordered
                .skip(start as usize)
                .take((end - start + 1) as usize)
                .collect()
        } else {
            Vec::new()
        };
        if end >= start {
            end -= start;
            start = 0;
        }
        taken
            .into_iter()
            .map(|elem| Item {
                elem,
                score: 0.0,
                by: None,
            })
            .collect()
    } else {
        elems
            .into_iter()
            .map(|elem| Item {
                elem,
                score: 0.0,
                by: None,
            })
            .collect()
    };
    let mut not_double = false;
    if !a.dont_sort {
        for item in &mut items {
            let by_value = match a.by {
                Some(pattern) => match lookup(ecx, pattern, &item.elem) {
                    Some(v) => v,
                    None => continue,
                },
                None => item.elem.clone(),
            };
            if a.alpha {
                if a.by.is_some() {
                    item.by = Some(by_value);
                }
            } else {
                match parse_sort_score(&by_value) {
                    Some(score) => item.score = score,
                    None => not_double = true,
                }
            }
        }
        let (alpha, by_pattern, storing) = (a.alpha, a.by.is_some(), a.store.is_some());
        items.sort_by(|x, y| {
            let order = compare(x, y, alpha, by_pattern, storing);
            if a.desc {
                order.reverse()
            } else {
                order
            }
        });
    }
    if not_double {
        return Err(CmdError::SortScoreNotDouble);
    }
    let chosen: &[Item] = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    match a.store {
        None => Ok(Reply::Array(reply_items(ecx, chosen, &a.gets))),
        Some(dst) => Ok(store(ecx, dst, chosen, &a.gets)),
    }
}

fn reply_items(ecx: &mut ExecCx, chosen: &[Item], gets: &[&[u8]]) -> Vec<Reply> {
    let mut out = Vec::with_capacity(chosen.len() * gets.len().max(1));
    for item in chosen {
        if gets.is_empty() {
            out.push(Reply::bulk(item.elem.clone()));
        }
        for pattern in gets {
            out.push(Reply::opt_bulk(lookup(ecx, pattern, &item.elem)));
        }
    }
    out
}

/// STORE: the output as a list (a missing GET value as ""), replacing the destination and its
/// TTL; nothing deletes it.
fn store(ecx: &mut ExecCx, dst: &[u8], chosen: &[Item], gets: &[&[u8]]) -> Reply {
    let mut values: Vec<Vec<u8>> = Vec::with_capacity(chosen.len() * gets.len().max(1));
    for item in chosen {
        if gets.is_empty() {
            values.push(item.elem.clone());
        }
        for pattern in gets {
            values.push(lookup(ecx, pattern, &item.elem).unwrap_or_default());
        }
    }
    if values.is_empty() {
        ecx.delete(dst);
        return Reply::Int(0);
    }
    let limits = ecx.limits().list;
    let mut list = ListValue::new();
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    list.push_all(crate::db::End::Right, &refs, &limits);
    ecx.put(dst, Value::Coll(Box::new(Collection::List(list))), None);
    Reply::Int(values.len() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::each;

    #[test]
    fn patterns_substitute_the_first_star_and_split_hash_fields() {
        assert_eq!(pattern_target(b"w_*", b"3"), Some((b"w_3".to_vec(), None)));
        assert_eq!(
            pattern_target(b"h_*->f", b"a"),
            Some((b"h_a".to_vec(), Some(b"f".as_slice())))
        );
        // An arrow with nothing after it is part of the key; an arrow before the star too.
        assert_eq!(
            pattern_target(b"h_*->", b"a"),
            Some((b"h_a->".to_vec(), None))
        );
        assert_eq!(
            pattern_target(b"a->b*", b"x"),
            Some((b"a->bx".to_vec(), None))
        );
        assert_eq!(pattern_target(b"nosort", b"x"), None);
        assert!(is_self(b"#"));
        assert!(!is_self(b"##"));
    }

    #[test]
    fn scores_read_as_strtod_with_redis_checks() {
        assert_eq!(parse_sort_score(b""), Some(0.0));
        assert_eq!(parse_sort_score(b" 5"), Some(5.0));
        assert_eq!(parse_sort_score(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_sort_score(b"0e99"), Some(0.0));
        assert_eq!(parse_sort_score(b"5 "), None);
        assert_eq!(parse_sort_score(b"nan"), None);
        assert_eq!(parse_sort_score(b"1e400"), None);
        assert_eq!(parse_sort_score(b"1e-400"), None);
        assert_eq!(parse_sort_score(b"1e-310"), None);
        assert_eq!(parse_sort_score(b"abc"), None);
    }

    #[test]
    fn the_limit_window_clamps_as_redis() {
        assert_eq!(window(5, (0, -1)), (0, 4));
        assert_eq!(window(5, (1, 2)), (1, 2));
        assert_eq!(window(5, (-3, 2)), (0, 1));
        assert_eq!(window(5, (7, 2)), (4, 3));
        assert_eq!(window(0, (0, -1)), (-1, -2));
        assert_eq!(window(5, (3, 100)), (3, 4));
    }

    #[test]
    fn store_key_is_the_last_store() {
        fn line(s: &str) -> Vec<&[u8]> {
            s.split(' ').map(str::as_bytes).collect()
        }
        assert_eq!(
            store_key_index(&line("sort a store d get x store e")),
            vec![7]
        );
        assert_eq!(store_key_index(&line("sort a by x")), Vec::<usize>::new());
        assert_eq!(store_key_index(&line("sort a store")), Vec::<usize>::new());
    }

    #[test]
    fn cross_shard_patterns_read_one_state_inside_and_outside_multi() {
        each(|t| {
            t.check(&[
                (&["RPUSH", "l", "1", "2", "3"], ":3\r\n"),
                (&["MSET", "w_1", "30", "w_2", "10", "w_3", "20"], "+OK\r\n"),
                (&["HSET", "h_2", "f", "two"], ":1\r\n"),
                (
                    &["SORT", "l", "BY", "w_*", "GET", "#", "GET", "h_*->f"],
                    "*6\r\n$1\r\n2\r\n$3\r\ntwo\r\n$1\r\n3\r\n$-1\r\n$1\r\n1\r\n$-1\r\n",
                ),
                (&["SORT", "l", "BY", "w_*", "STORE", "dst"], ":3\r\n"),
                (
                    &["LRANGE", "dst", "0", "-1"],
                    "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n",
                ),
                (&["MULTI"], "+OK\r\n"),
                (&["SET", "w_1", "0"], "+QUEUED\r\n"),
                (
                    &["SORT", "l", "BY", "w_*", "DESC", "GET", "w_*"],
                    "+QUEUED\r\n",
                ),
                (
                    &["EXEC"],
                    "*2\r\n+OK\r\n*3\r\n$2\r\n20\r\n$2\r\n10\r\n$1\r\n0\r\n",
                ),
                (&["SORT", "nosuch", "BY", "w_*", "STORE", "dst"], ":0\r\n"),
                (&["EXISTS", "dst"], ":0\r\n"),
            ]);
        });
    }
}
