//! SORT and SORT_RO, a plain port of Redis 7.0's `sort.c`: BY (patterns, `->` hash fields,
//! constants that turn sorting off), LIMIT, GET (`#`, patterns, several), ASC/DESC, ALPHA and
//! STORE. Pattern keys are looked up in the selected database like any other read.
//!
//! Not modelled: a set's iteration order (a set sorted by a constant without STORE answers in
//! Redis's hash order; the workloads never ask for it), strcoll beyond the C locale, and the
//! stale-errno quirk (Redis reads errno without clearing it, so after an ERANGE value later
//! numeric SORTs can fail; the workloads send no ERANGE value).

use crate::args::{cstr, int_or_reply, is, SYNTAX};
use crate::model::{wrong_type, Ctx, Entry, Value};
use crate::resp::Resp;

pub(crate) fn sort(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    sort_generic(cx, argv, false)
}

pub(crate) fn sort_ro(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    sort_generic(cx, argv, true)
}

struct Options {
    desc: bool,
    alpha: bool,
    offset: i64,
    count: i64,
    by: Option<Vec<u8>>,
    dont_sort: bool,
    gets: Vec<Vec<u8>>,
    store: Option<Vec<u8>>,
}

fn parse(argv: &[Vec<u8>], readonly: bool) -> Result<Options, Resp> {
    let mut o = Options {
        desc: false,
        alpha: false,
        offset: 0,
        count: -1,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if is(a, "ASC") {
            o.desc = false;
        } else if is(a, "DESC") {
            o.desc = true;
        } else if is(a, "ALPHA") {
            o.alpha = true;
        } else if is(a, "LIMIT") && left >= 2 {
            o.offset = int_or_reply(&argv[j + 1])?;
            o.count = int_or_reply(&argv[j + 2])?;
            j += 2;
        } else if !readonly && is(a, "STORE") && left >= 1 {
            o.store = Some(argv[j + 1].clone());
            j += 1;
        } else if is(a, "BY") && left >= 1 {
            o.by = Some(argv[j + 1].clone());
            if !cstr(&argv[j + 1]).contains(&b'*') {
                o.dont_sort = true;
            }
            j += 1;
        } else if is(a, "GET") && left >= 1 {
            o.gets.push(argv[j + 1].clone());
            j += 1;
        } else {
            return Err(Resp::err(SYNTAX));
        }
        j += 1;
    }
    Ok(o)
}

/// lookupKeyByPattern.
fn lookup(cx: &Ctx, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    let p = cstr(pattern);
    if p == b"#" {
        return Some(elem.to_vec());
    }
    let star = p.iter().position(|&b| b == b'*')?;
    let rest = &p[star + 1..];
    let arrow = rest.windows(2).position(|w| w == b"->");
    let field_at = match arrow {
        Some(i) if star + 1 + i + 2 < p.len() => Some(star + 1 + i),
        _ => None,
    };
    let mut key = pattern[..star].to_vec();
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..field_at.unwrap_or(pattern.len())]);
    match (cx.entry(&key).map(|e| &e.value), field_at) {
        (Some(Value::Str(s)), None) => Some(s.clone()),
        (Some(Value::Hash(h)), Some(at)) => h.get(&pattern[at + 2..]).cloned(),
        _ => None,
    }
}

/// strtod with SORT's checks, for the forms the workloads send: decimal, `inf`, `0x` integers.
fn sort_score(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(cstr(bytes)).ok()?;
    if text.is_empty() {
        return Some(0.0);
    }
    let t = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let lower = t.to_ascii_lowercase();
    let (negative, body) = match lower.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, lower.strip_prefix('+').unwrap_or(&lower)),
    };
    let value = if let Some(hex) = body.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()? as f64
    } else if body == "inf" || body == "infinity" {
        f64::INFINITY
    } else if body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        let v: f64 = body.parse().ok()?;
        let nonzero = body
            .split(['e'])
            .next()?
            .bytes()
            .any(|b| (b'1'..=b'9').contains(&b));
        if v.is_infinite() || (v == 0.0 && nonzero) || (v != 0.0 && v < f64::MIN_POSITIVE) {
            return None;
        }
        v
    } else {
        return None;
    };
    Some(if negative { -value } else { value })
}

/// Bytes up to a NUL, as strcmp compares them.
fn cmp_c(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    cstr(a).cmp(cstr(b))
}

fn sort_generic(cx: &mut Ctx, argv: &[Vec<u8>], readonly: bool) -> Resp {
    let mut o = match parse(argv, readonly) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let (is_set, ordered, elems): (bool, bool, Vec<Vec<u8>>) = match cx.entry(&argv[1]) {
        None => (false, true, Vec::new()),
        Some(Entry { value, .. }) => match value {
            Value::List(l) => (false, true, l.iter().cloned().collect()),
            Value::Set(s) => (true, false, s.iter().cloned().collect()),
            Value::ZSet(z) => {
                let mut pairs: Vec<(&Vec<u8>, f64)> = z.iter().map(|(m, s)| (m, s.0)).collect();
                pairs.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(b.0)));
                (
                    false,
                    true,
                    pairs.into_iter().map(|(m, _)| m.clone()).collect(),
                )
            }
            _ => return wrong_type(),
        },
    };
    if o.dont_sort && is_set && o.store.is_some() {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = elems.len() as i64;
    let mut start = o.offset.max(0).min(len);
    let count = o.count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    // (element, numeric score, ALPHA BY value)
    let mut items: Vec<(Vec<u8>, f64, Option<Vec<u8>>)>;
    if o.dont_sort && ordered {
        let mut seq = elems;
        if o.desc {
            seq.reverse();
        }
        items = if end >= start {
            let window = seq[start as usize..=end as usize].to_vec();
            end -= start;
            start = 0;
            window.into_iter().map(|e| (e, 0.0, None)).collect()
        } else {
            Vec::new()
        };
    } else {
        items = elems.into_iter().map(|e| (e, 0.0, None)).collect();
    }
    let mut bad = false;
    if !o.dont_sort {
        for item in items.iter_mut() {
            let by_value = match &o.by {
                Some(p) => match lookup(cx, p, &item.0) {
                    Some(v) => v,
                    None => continue,
                },
                None => item.0.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    item.2 = Some(by_value);
                }
            } else {
                match sort_score(&by_value) {
                    Some(s) => item.1 = s,
                    None => bad = true,
                }
            }
        }
        let (alpha, by, store, desc) = (o.alpha, o.by.is_some(), o.store.is_some(), o.desc);
        items.sort_by(|a, b| {
            let text = |x: &[u8], y: &[u8]| if store { x.cmp(y) } else { cmp_c(x, y) };
            let ord = if !alpha {
                match a.1.partial_cmp(&b.1) {
                    Some(std::cmp::Ordering::Equal) | None => a.0.cmp(&b.0),
                    Some(ord) => ord,
                }
            } else if !by {
                text(&a.0, &b.0)
            } else {
                match (&a.2, &b.2) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) => std::cmp::Ordering::Less,
                    (Some(_), None) => std::cmp::Ordering::Greater,
                    (Some(x), Some(y)) => text(x, y),
                }
            };
            if desc {
                ord.reverse()
            } else {
                ord
            }
        });
    }
    if bad {
        return Resp::err("ERR One or more scores can't be converted into double");
    }
    let chosen = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    let mut out: Vec<Option<Vec<u8>>> = Vec::new();
    for (elem, _, _) in chosen {
        if o.gets.is_empty() {
            out.push(Some(elem.clone()));
        }
        for g in &o.gets {
            out.push(lookup(cx, g, elem));
        }
    }
    match o.store {
        None => Resp::Array(
            out.into_iter()
                .map(|v| v.map_or(Resp::Nil, Resp::bulk))
                .collect(),
        ),
        Some(dst) => {
            let n = out.len() as i64;
            if out.is_empty() {
                cx.delete(&dst);
            } else {
                let list = out.into_iter().map(Option::unwrap_or_default).collect();
                let entry = Entry {
                    value: Value::List(list),
                    expire_at_ms: None,
                };
                cx.model.insert(cx.conn.db, &dst, entry);
            }
            Resp::Int(n)
        }
    }
}
