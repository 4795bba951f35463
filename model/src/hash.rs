//! Hash commands: HSET HMSET HSETNX HGET HMGET HDEL HLEN HSTRLEN HEXISTS HKEYS HVALS HGETALL
//! HINCRBY HINCRBYFLOAT, a plain port of Redis 7.0's `t_hash.c` over `Value::Hash(BTreeMap)`.
//!
//! Each handler checks in Redis's order: HSET/HMSET's odd argument count before the type,
//! HINCRBY/HINCRBYFLOAT's increment before the key. A hash whose last field goes is deleted.
//!
//! Order: HKEYS, HVALS and HGETALL answer in field order (the BTreeMap's); Redis answers in
//! listpack (insertion) or hashtable order, so compare those replies as multisets of pairs.
//! Encodings are not modelled (OBJECT ENCODING is not a model command).
//!
//! Not modelled: HRANDFIELD and HSCAN, whose replies depend on a random draw or on table
//! order; the model draws no randomness and has no table.

use std::collections::BTreeMap;

use crate::args::int_or_reply;
use crate::commands::arity_error;
use crate::longdouble;
use crate::model::{wrong_type, Ctx, Entry, Value};
use crate::resp::Resp;

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

type Hash = BTreeMap<Vec<u8>, Vec<u8>>;

/// `lookupKey` + `checkType(OBJ_HASH)`: a copy of the hash, `None` when missing.
pub(crate) fn hash(cx: &Ctx, key: &[u8]) -> Result<Option<Hash>, Resp> {
    match cx.entry(key) {
        None => Ok(None),
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => Ok(Some(h.clone())),
        Some(_) => Err(wrong_type()),
    }
}

/// Stores `h` under `key`, keeping the key's TTL; an empty hash deletes the key.
fn store(cx: &mut Ctx, key: &[u8], h: Hash) {
    if h.is_empty() {
        cx.delete(key);
        return;
    }
    let expire_at_ms = cx.entry(key).and_then(|e| e.expire_at_ms);
    let entry = Entry {
        value: Value::Hash(h),
        expire_at_ms,
    };
    cx.model.insert(cx.conn.db, key, entry);
}

fn set_pairs(cx: &mut Ctx, argv: &[Vec<u8>], name: &str) -> Result<i64, Resp> {
    if argv.len() % 2 == 1 {
        return Err(arity_error(name));
    }
    let mut h = hash(cx, &argv[1])?.unwrap_or_default();
    let mut added = 0;
    for pair in argv[2..].chunks(2) {
        if h.insert(pair[0].clone(), pair[1].clone()).is_none() {
            added += 1;
        }
    }
    store(cx, &argv[1], h);
    Ok(added)
}

pub(crate) fn hset(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    Resp::Int(tri!(set_pairs(cx, argv, "hset")))
}

pub(crate) fn hmset(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    tri!(set_pairs(cx, argv, "hmset"));
    Resp::ok()
}

pub(crate) fn hsetnx(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let mut h = tri!(hash(cx, &argv[1])).unwrap_or_default();
    if h.contains_key(&argv[2]) {
        return Resp::Int(0);
    }
    h.insert(argv[2].clone(), argv[3].clone());
    store(cx, &argv[1], h);
    Resp::Int(1)
}

pub(crate) fn hdel(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let Some(mut h) = tri!(hash(cx, &argv[1])) else {
        return Resp::Int(0);
    };
    let removed = argv[2..].iter().filter(|f| h.remove(*f).is_some()).count();
    if removed > 0 {
        store(cx, &argv[1], h);
    }
    Resp::Int(removed as i64)
}

pub(crate) fn hget(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let h = tri!(hash(cx, &argv[1])).unwrap_or_default();
    h.get(&argv[2]).map_or(Resp::Nil, Resp::bulk)
}

pub(crate) fn hmget(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let h = tri!(hash(cx, &argv[1])).unwrap_or_default();
    let values = argv[2..]
        .iter()
        .map(|f| h.get(f).map_or(Resp::Nil, Resp::bulk))
        .collect();
    Resp::Array(values)
}

pub(crate) fn hlen(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let h = tri!(hash(cx, &argv[1])).unwrap_or_default();
    Resp::Int(h.len() as i64)
}

pub(crate) fn hstrlen(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let h = tri!(hash(cx, &argv[1])).unwrap_or_default();
    Resp::Int(h.get(&argv[2]).map_or(0, Vec::len) as i64)
}

pub(crate) fn hexists(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let h = tri!(hash(cx, &argv[1])).unwrap_or_default();
    Resp::Int(i64::from(h.contains_key(&argv[2])))
}

pub(crate) fn hkeys(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let h = tri!(hash(cx, &argv[1])).unwrap_or_default();
    Resp::Array(h.keys().map(Resp::bulk).collect())
}

pub(crate) fn hvals(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let h = tri!(hash(cx, &argv[1])).unwrap_or_default();
    Resp::Array(h.values().map(Resp::bulk).collect())
}

/// A map in RESP3 (empty for a missing key), a flat array in RESP2.
pub(crate) fn hgetall(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let h = tri!(hash(cx, &argv[1])).unwrap_or_default();
    Resp::Map(
        h.iter()
            .map(|(f, v)| (Resp::bulk(f), Resp::bulk(v)))
            .collect(),
    )
}

/// `hincrbyCommand`: the increment, then the key, then the field's value as `string2ll`.
pub(crate) fn hincrby(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let by = tri!(int_or_reply(&argv[3]));
    let mut h = tri!(hash(cx, &argv[1])).unwrap_or_default();
    let current =
        match h.get(&argv[2]) {
            None => 0,
            Some(v) => tri!(crate::args::string2ll(v)
                .ok_or_else(|| Resp::err("ERR hash value is not an integer"))),
        };
    let Some(sum) = current.checked_add(by) else {
        return Resp::err("ERR increment or decrement would overflow");
    };
    h.insert(argv[2].clone(), sum.to_string().into_bytes());
    store(cx, &argv[1], h);
    Resp::Int(sum)
}

/// `hincrbyfloatCommand`: `strtold` operands, an x87 sum, `%.17Lf` human formatting.
pub(crate) fn hincrbyfloat(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let Some(by) = longdouble::parse(&argv[3]) else {
        return Resp::err(crate::strings::NOT_FLOAT);
    };
    if !by.is_finite() {
        return Resp::err("ERR value is NaN or Infinity");
    }
    let mut h = tri!(hash(cx, &argv[1])).unwrap_or_default();
    let current = match h.get(&argv[2]) {
        None => longdouble::Ld::Finite {
            neg: false,
            mant: 0,
            exp: 0,
        },
        Some(v) => {
            tri!(longdouble::parse(v).ok_or_else(|| Resp::err("ERR hash value is not a float")))
        }
    };
    let sum = longdouble::add(current, by);
    if !sum.is_finite() {
        return Resp::err("ERR increment would produce NaN or Infinity");
    }
    let text = longdouble::to_human_string(sum);
    h.insert(argv[2].clone(), text.clone());
    store(cx, &argv[1], h);
    Resp::Bulk(text)
}

#[cfg(test)]
mod tests {
    use crate::model::{ConnState, Model};
    use crate::resp::Resp;

    fn run(m: &mut Model, conn: &mut ConnState, line: &str) -> Resp {
        let argv: Vec<Vec<u8>> = line.split(' ').map(|a| a.as_bytes().to_vec()).collect();
        m.apply(conn, &argv, 1_700_000_000_000)
    }

    #[test]
    fn hash_commands_follow_redis() {
        let mut m = Model::default();
        let mut c = ConnState::new(false);
        let int = Resp::Int;
        let wrongtype = crate::model::wrong_type();
        let cases: &[(&str, Resp)] = &[
            ("HSET h a 1 b 2", int(2)),
            ("HSET h a 3 c 4", int(1)),
            (
                "HSET h a",
                Resp::err("ERR wrong number of arguments for 'hset' command"),
            ),
            (
                "HMSET h a 1 b",
                Resp::err("ERR wrong number of arguments for 'hmset' command"),
            ),
            ("HSETNX h a 9", int(0)),
            ("HGET h a", Resp::bulk("3")),
            ("HMGET h a x", Resp::Array(vec![Resp::bulk("3"), Resp::Nil])),
            ("HLEN h", int(3)),
            ("HSTRLEN h a", int(1)),
            ("HEXISTS h x", int(0)),
            ("HINCRBY h a 5", int(8)),
            (
                "HINCRBY h z abc",
                Resp::err("ERR value is not an integer or out of range"),
            ),
            ("HINCRBYFLOAT h a 0.5", Resp::bulk("8.5")),
            (
                "HINCRBY h a 1",
                Resp::err("ERR hash value is not an integer"),
            ),
            (
                "HINCRBYFLOAT h f inf",
                Resp::err("ERR value is NaN or Infinity"),
            ),
            (
                "HKEYS h",
                Resp::Array(vec![Resp::bulk("a"), Resp::bulk("b"), Resp::bulk("c")]),
            ),
            ("HDEL h a b c x", int(3)),
            ("EXISTS h", int(0)),
            ("SET s v", Resp::ok()),
            (
                "HSET s f v f",
                Resp::err("ERR wrong number of arguments for 'hset' command"),
            ),
            ("HGET s f", wrongtype.clone()),
            (
                "HINCRBY s f x",
                Resp::err("ERR value is not an integer or out of range"),
            ),
            ("HINCRBYFLOAT s f 1", wrongtype),
        ];
        for (line, want) in cases {
            assert_eq!(&run(&mut m, &mut c, line), want, "{line}");
        }
    }
}
