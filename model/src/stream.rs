//! Stream commands: XADD XLEN XRANGE XREVRANGE XDEL XTRIM (exact trimming) XGROUP CREATE
//! XREADGROUP XACK XCLAIM and XPENDING's summary, a plain port of Redis 7.0's `t_stream.c`
//! over ordered maps: entries by ID, a group's pending entries by ID, consumers by name.
//!
//! Not modelled: `*` IDs (they depend on the server's clock to the millisecond), `~` trimming
//! (it depends on Redis's node layout), BLOCK, and replies that report times (XPENDING's
//! extended form, XINFO). A stream is never removed for being empty, as in Redis.
//!
//! What the simulator checks through this model: an entry is delivered as new (`>`) to one
//! consumer of a group only once (the group's last ID moves past it), and a delivered entry
//! stays pending, owned by one consumer, until XACK or XCLAIM moves it.

use std::collections::{BTreeMap, BTreeSet};

use crate::args::{is, string2ll, NOT_INTEGER, SYNTAX};
use crate::model::{wrong_type, Ctx, Entry, Value};
use crate::resp::Resp;

pub type Id = (u64, u64);

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pending {
    pub consumer: Vec<u8>,
    pub delivery_count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Group {
    pub last_id: Id,
    pub pending: BTreeMap<Id, Pending>,
    pub consumers: BTreeMap<Vec<u8>, BTreeSet<Id>>,
}

/// An entry's field-value pairs, in order.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stream {
    pub entries: BTreeMap<Id, Fields>,
    pub last_id: Id,
    pub groups: BTreeMap<Vec<u8>, Group>,
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

fn stream_at(cx: &Ctx, key: &[u8]) -> Result<Option<Stream>, Resp> {
    match cx.entry(key) {
        None => Ok(None),
        Some(Entry {
            value: Value::Stream(s),
            ..
        }) => Ok(Some((**s).clone())),
        Some(_) => Err(wrong_type()),
    }
}

/// Stores a stream changed by a consumer-group command: Redis signals no WATCH for those.
fn store_quietly(cx: &mut Ctx, key: &[u8], s: Stream) {
    let expire_at_ms = cx.entry(key).and_then(|e| e.expire_at_ms);
    let db = cx.conn.db;
    let entry = Entry {
        value: Value::Stream(Box::new(s)),
        expire_at_ms,
    };
    cx.model.replace_quietly(db, key, entry);
}

fn store(cx: &mut Ctx, key: &[u8], s: Stream) {
    let expire_at_ms = cx.entry(key).and_then(|e| e.expire_at_ms);
    let db = cx.conn.db;
    cx.model.insert(
        db,
        key,
        Entry {
            value: Value::Stream(Box::new(s)),
            expire_at_ms,
        },
    );
}

/// Redis's string2ull as the engine reads IDs: canonical integers only here (the generator
/// sends nothing else).
fn u64_of(text: &[u8]) -> Option<u64> {
    string2ll(text).and_then(|n| u64::try_from(n).ok())
}

/// `<ms>-<seq>` or `<ms>` (`missing_seq`), `-` and `+` unless `strict`; `Some(None)` seq for
/// `<ms>-*` when `star` is allowed.
fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Result<Id, Resp> {
    let invalid = || Resp::err(INVALID_ID);
    match arg {
        b"-" | b"+" if strict => return Err(invalid()),
        b"-" => return Ok((0, 0)),
        b"+" => return Ok((u64::MAX, u64::MAX)),
        _ => {}
    }
    match arg.iter().position(|&b| b == b'-') {
        Some(at) => {
            let ms = u64_of(&arg[..at]).ok_or_else(invalid)?;
            let seq = u64_of(&arg[at + 1..]).ok_or_else(invalid)?;
            Ok((ms, seq))
        }
        None => Ok((u64_of(arg).ok_or_else(invalid)?, missing_seq)),
    }
}

fn id_bulk(id: Id) -> Resp {
    Resp::Bulk(format!("{}-{}", id.0, id.1).into_bytes())
}

fn entry_reply(id: Id, pairs: &[(Vec<u8>, Vec<u8>)]) -> Resp {
    let flat = pairs
        .iter()
        .flat_map(|(f, v)| [Resp::Bulk(f.clone()), Resp::Bulk(v.clone())])
        .collect();
    Resp::Array(vec![id_bulk(id), Resp::Array(flat)])
}

fn next_id(id: Id) -> Option<Id> {
    match id.1.checked_add(1) {
        Some(seq) => Some((id.0, seq)),
        None => id.0.checked_add(1).map(|ms| (ms, 0)),
    }
}

enum Trim {
    MaxLen(u64),
    MinId(Id),
}

fn trim(s: &mut Stream, how: &Trim) -> u64 {
    let mut removed = 0;
    while let Some((&first, _)) = s.entries.iter().next() {
        let go = match how {
            Trim::MaxLen(n) => s.entries.len() as u64 > *n,
            Trim::MinId(min) => first < *min,
        };
        if !go {
            break;
        }
        s.entries.remove(&first);
        removed += 1;
    }
    removed
}

/// MAXLEN/MINID with an optional `=` (the generator sends no `~` and no LIMIT).
fn parse_trim(argv: &[Vec<u8>], at: &mut usize) -> Result<Option<Trim>, Resp> {
    let opt = &argv[*at];
    let maxlen = is(opt, "MAXLEN");
    if !maxlen && !is(opt, "MINID") {
        return Ok(None);
    }
    *at += 1;
    if argv.get(*at).is_some_and(|a| a == b"=") && *at + 1 < argv.len() {
        *at += 1;
    }
    let value = argv.get(*at).ok_or_else(|| Resp::err(SYNTAX))?;
    *at += 1;
    if maxlen {
        let n = string2ll(value).ok_or_else(|| Resp::err(NOT_INTEGER))?;
        let n = u64::try_from(n).map_err(|_| Resp::err("ERR The MAXLEN argument must be >= 0."))?;
        Ok(Some(Trim::MaxLen(n)))
    } else {
        Ok(Some(Trim::MinId(parse_id(value, 0, true)?)))
    }
}

pub(crate) fn xadd(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let mut at = 2;
    let mut no_mkstream = false;
    let mut how = None;
    loop {
        if is(&argv[at], "NOMKSTREAM") {
            no_mkstream = true;
            at += 1;
        } else if let Some(t) = tri!(parse_trim(argv, &mut at)) {
            how = Some(t);
        } else {
            break;
        }
        if at >= argv.len() {
            return Resp::err(SYNTAX);
        }
    }
    let id_arg = &argv[at];
    let star_seq = id_arg.ends_with(b"-*");
    let given = if star_seq {
        let ms = tri!(u64_of(&id_arg[..id_arg.len() - 2]).ok_or_else(|| Resp::err(INVALID_ID)));
        (ms, 0)
    } else {
        tri!(parse_id(id_arg, 0, true))
    };
    let fields = argv.len() - at - 1;
    if fields < 2 || fields % 2 != 0 {
        return Resp::err("ERR wrong number of arguments for 'xadd' command");
    }
    if !star_seq && given == (0, 0) {
        return Resp::err("ERR The ID specified in XADD must be greater than 0-0");
    }
    let key = &argv[1];
    let mut s = match tri!(stream_at(cx, key)) {
        Some(s) => s,
        None if no_mkstream => return Resp::Nil,
        None => Stream::default(),
    };
    let id = if star_seq && given.0 == s.last_id.0 {
        s.last_id.1.checked_add(1).map(|seq| (given.0, seq))
    } else {
        Some(given)
    };
    let Some(id) = id.filter(|id| *id > s.last_id) else {
        return Resp::err(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        );
    };
    let pairs = argv[at + 1..]
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    s.entries.insert(id, pairs);
    s.last_id = id;
    if let Some(how) = how {
        trim(&mut s, &how);
    }
    store(cx, key, s);
    id_bulk(id)
}

pub(crate) fn xlen(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let s = tri!(stream_at(cx, &argv[1]));
    Resp::Int(s.map_or(0, |s| s.entries.len() as i64))
}

fn range(cx: &mut Ctx, argv: &[Vec<u8>], rev: bool) -> Resp {
    let (start_arg, end_arg) = if rev {
        (&argv[3], &argv[2])
    } else {
        (&argv[2], &argv[3])
    };
    let start = tri!(parse_id(start_arg, 0, false));
    let end = tri!(parse_id(end_arg, u64::MAX, false));
    let mut count = None;
    let mut j = 4;
    while j < argv.len() {
        if is(&argv[j], "COUNT") && j + 1 < argv.len() {
            let n = tri!(string2ll(&argv[j + 1]).ok_or_else(|| Resp::err(NOT_INTEGER)));
            count = Some(n.max(0) as usize);
            j += 2;
        } else {
            return Resp::err(SYNTAX);
        }
    }
    let Some(s) = tri!(stream_at(cx, &argv[1])) else {
        return Resp::Array(Vec::new());
    };
    if count == Some(0) {
        return Resp::NilArray;
    }
    if start > end {
        return Resp::Array(Vec::new());
    }
    let take = count.unwrap_or(usize::MAX);
    let items = s.entries.range(start..=end);
    let out: Vec<Resp> = if rev {
        items
            .rev()
            .take(take)
            .map(|(id, p)| entry_reply(*id, p))
            .collect()
    } else {
        items
            .take(take)
            .map(|(id, p)| entry_reply(*id, p))
            .collect()
    };
    Resp::Array(out)
}

pub(crate) fn xrange(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    range(cx, argv, false)
}

pub(crate) fn xrevrange(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    range(cx, argv, true)
}

/// The key is looked up before the IDs are parsed (a missing key answers 0 whatever they are).
pub(crate) fn xdel(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let Some(mut s) = tri!(stream_at(cx, &argv[1])) else {
        return Resp::Int(0);
    };
    let ids: Vec<Id> = tri!(argv[2..]
        .iter()
        .map(|a| parse_id(a, 0, true))
        .collect::<Result<_, _>>());
    let deleted = ids
        .iter()
        .filter(|id| s.entries.remove(id).is_some())
        .count();
    if deleted > 0 {
        store(cx, &argv[1], s);
    }
    Resp::Int(deleted as i64)
}

pub(crate) fn xtrim(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let mut at = 2;
    let Some(how) = tri!(parse_trim(argv, &mut at)) else {
        return Resp::err(SYNTAX);
    };
    if at != argv.len() {
        return Resp::err(SYNTAX);
    }
    let Some(mut s) = tri!(stream_at(cx, &argv[1])) else {
        return Resp::Int(0);
    };
    let removed = trim(&mut s, &how);
    if removed > 0 {
        store(cx, &argv[1], s);
    }
    Resp::Int(removed as i64)
}

/// XGROUP CREATE key group id|$ [MKSTREAM]; the other subcommands are not drawn.
pub(crate) fn xgroup(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    if !is(&argv[1], "CREATE") || argv.len() < 5 || argv.len() > 6 {
        return Resp::err(SYNTAX);
    }
    let mkstream = match argv.get(5) {
        None => false,
        Some(opt) if is(opt, "MKSTREAM") => true,
        Some(_) => return Resp::err(SYNTAX),
    };
    let key = &argv[2];
    let existing = tri!(stream_at(cx, key));
    if existing.is_none() && !mkstream {
        return Resp::err(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may \
             want to use the MKSTREAM option to create an empty stream automatically.",
        );
    }
    let mut s = existing.unwrap_or_default();
    let id = if argv[4] == b"$" {
        s.last_id
    } else {
        tri!(parse_id(&argv[4], 0, true))
    };
    if s.groups.contains_key(&argv[3]) {
        return Resp::err("BUSYGROUP Consumer Group name already exists");
    }
    s.groups.insert(
        argv[3].clone(),
        Group {
            last_id: id,
            ..Group::default()
        },
    );
    // MKSTREAM's new key is a change; a group on an existing stream is not one to WATCH.
    if cx.entry(key).is_some() {
        store_quietly(cx, key, s);
    } else {
        store(cx, key, s);
    }
    Resp::ok()
}

fn assign(g: &mut Group, id: Id, consumer: &[u8], delivery_count: u64) {
    if let Some(old) = g.pending.get(&id) {
        if let Some(owned) = g.consumers.get_mut(&old.consumer) {
            owned.remove(&id);
        }
    }
    g.pending.insert(
        id,
        Pending {
            consumer: consumer.to_vec(),
            delivery_count,
        },
    );
    g.consumers.entry(consumer.to_vec()).or_default().insert(id);
}

/// XREADGROUP GROUP g c [COUNT n] [NOACK] STREAMS key id, one key (what the generator sends).
pub(crate) fn xreadgroup(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let (mut count, mut noack, mut group, mut streams_at) = (0usize, false, None, 0);
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if is(&argv[i], "COUNT") && more > 0 {
            let n = tri!(string2ll(&argv[i + 1]).ok_or_else(|| Resp::err(NOT_INTEGER)));
            count = n.max(0) as usize;
            i += 2;
        } else if is(&argv[i], "GROUP") && more >= 2 {
            group = Some((argv[i + 1].clone(), argv[i + 2].clone()));
            i += 3;
        } else if is(&argv[i], "NOACK") {
            noack = true;
            i += 1;
        } else if is(&argv[i], "STREAMS") && more > 0 {
            streams_at = i + 1;
            break;
        } else {
            return Resp::err(SYNTAX);
        }
    }
    let Some((group, consumer)) = group else {
        return Resp::err("ERR Missing GROUP option for XREADGROUP");
    };
    if streams_at == 0 || argv.len() - streams_at != 2 {
        return Resp::err(SYNTAX);
    }
    let key = &argv[streams_at];
    let id_arg = &argv[streams_at + 1];
    let s = tri!(stream_at(cx, key));
    let Some(mut s) = s.filter(|s| s.groups.contains_key(&group)) else {
        return Resp::err(format!(
            "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(&group)
        ));
    };
    let history = if id_arg == b">" {
        None
    } else {
        Some(tri!(parse_id(id_arg, 0, true)))
    };
    let take = if count == 0 { usize::MAX } else { count };
    let entries = s.entries.clone();
    let g = s.groups.get_mut(&group).expect("checked");
    g.consumers.entry(consumer.clone()).or_default();
    let served = match history {
        Some(after) => {
            let ids: Vec<Id> = match next_id(after) {
                Some(start) => g.consumers[&consumer]
                    .range(start..)
                    .take(take)
                    .copied()
                    .collect(),
                None => Vec::new(),
            };
            let mut out = Vec::new();
            for id in ids {
                match entries.get(&id) {
                    Some(p) => {
                        out.push(entry_reply(id, p));
                        g.pending.get_mut(&id).expect("owned").delivery_count += 1;
                    }
                    None => out.push(Resp::Array(vec![id_bulk(id), Resp::NilArray])),
                }
            }
            Some(Resp::Array(out))
        }
        None => {
            let fresh: Vec<Id> = match next_id(g.last_id) {
                Some(start) => entries
                    .range(start..)
                    .take(take)
                    .map(|(id, _)| *id)
                    .collect(),
                None => Vec::new(),
            };
            if fresh.is_empty() {
                None
            } else {
                let mut out = Vec::new();
                for id in fresh {
                    out.push(entry_reply(id, &entries[&id]));
                    g.last_id = id;
                    if !noack {
                        assign(g, id, &consumer, 1);
                    }
                }
                Some(Resp::Array(out))
            }
        }
    };
    store_quietly(cx, key, s);
    match served {
        None => Resp::NilArray,
        Some(entries) if cx.conn.resp3 => Resp::Map(vec![(Resp::Bulk(key.clone()), entries)]),
        Some(entries) => Resp::Array(vec![Resp::Array(vec![Resp::Bulk(key.clone()), entries])]),
    }
}

fn no_key_or_group(argv: &[Vec<u8>]) -> Resp {
    Resp::err(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(&argv[1]),
        String::from_utf8_lossy(&argv[2])
    ))
}

/// A missing key or group answers 0 before the IDs are parsed.
pub(crate) fn xack(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let Some(mut s) = tri!(stream_at(cx, &argv[1])) else {
        return Resp::Int(0);
    };
    let Some(g) = s.groups.get_mut(&argv[2]) else {
        return Resp::Int(0);
    };
    let ids: Vec<Id> = tri!(argv[3..]
        .iter()
        .map(|a| parse_id(a, 0, true))
        .collect::<Result<_, _>>());
    let mut acked = 0;
    for id in ids {
        if let Some(p) = g.pending.remove(&id) {
            g.consumers.get_mut(&p.consumer).map(|c| c.remove(&id));
            acked += 1;
        }
    }
    store_quietly(cx, &argv[1], s);
    Resp::Int(acked)
}

/// XCLAIM key group consumer 0 id… [JUSTID]: min-idle-time 0 only (times are not modelled).
pub(crate) fn xclaim(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let s = tri!(stream_at(cx, &argv[1]));
    let Some(mut s) = s.filter(|s| s.groups.contains_key(&argv[2])) else {
        return no_key_or_group(argv);
    };
    if string2ll(&argv[4]) != Some(0) {
        return Resp::err(SYNTAX);
    }
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_id(&argv[j], 0, true) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let mut justid = false;
    for opt in &argv[j..] {
        if is(opt, "JUSTID") {
            justid = true;
        } else {
            return Resp::err(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    let consumer = argv[3].clone();
    let entries = s.entries.clone();
    let g = s.groups.get_mut(&argv[2]).expect("checked");
    let mut out = Vec::new();
    for id in ids {
        let Some(p) = g.pending.get(&id) else {
            continue;
        };
        let Some(pairs) = entries.get(&id) else {
            let owner = p.consumer.clone();
            g.pending.remove(&id);
            g.consumers.get_mut(&owner).map(|c| c.remove(&id));
            continue;
        };
        let count = p.delivery_count + u64::from(!justid);
        assign(g, id, &consumer, count);
        out.push(if justid {
            id_bulk(id)
        } else {
            entry_reply(id, pairs)
        });
    }
    store_quietly(cx, &argv[1], s);
    Resp::Array(out)
}

/// XPENDING key group: the summary (it carries no times).
pub(crate) fn xpending(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    if argv.len() != 3 {
        return Resp::err(SYNTAX);
    }
    let s = tri!(stream_at(cx, &argv[1]));
    let Some(g) = s.as_ref().and_then(|s| s.groups.get(&argv[2])) else {
        return no_key_or_group(argv);
    };
    let (Some(first), Some(last)) = (g.pending.keys().next(), g.pending.keys().next_back()) else {
        return Resp::Array(vec![Resp::Int(0), Resp::Nil, Resp::Nil, Resp::NilArray]);
    };
    let owners = g
        .consumers
        .iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(name, ids)| {
            Resp::Array(vec![
                Resp::Bulk(name.clone()),
                Resp::Bulk(ids.len().to_string().into_bytes()),
            ])
        })
        .collect();
    Resp::Array(vec![
        Resp::Int(g.pending.len() as i64),
        id_bulk(*first),
        id_bulk(*last),
        Resp::Array(owners),
    ])
}

#[cfg(test)]
mod tests {
    use crate::model::{ConnState, Model};
    use crate::resp::Resp;

    fn run(model: &mut Model, conn: &mut ConnState, line: &str) -> Resp {
        let argv: Vec<Vec<u8>> = line.split(' ').map(|w| w.as_bytes().to_vec()).collect();
        model.apply(conn, &argv, 1_000)
    }

    /// Against redis-server 7.0: a group delivers each entry as new once, keeps it pending
    /// until acked, and a claim moves it between consumers.
    #[test]
    fn a_group_delivers_once_and_keeps_pending_entries() {
        let mut m = Model::default();
        let mut c = ConnState::new(false);
        run(&mut m, &mut c, "XADD s 1-1 f a");
        run(&mut m, &mut c, "XADD s 1-* f b");
        assert_eq!(run(&mut m, &mut c, "XLEN s"), Resp::Int(2));
        assert_eq!(run(&mut m, &mut c, "XGROUP CREATE s g 0"), Resp::ok());
        let first = run(&mut m, &mut c, "XREADGROUP GROUP g x COUNT 1 STREAMS s >");
        let second = run(&mut m, &mut c, "XREADGROUP GROUP g y STREAMS s >");
        assert_ne!(first, second);
        assert_eq!(
            run(&mut m, &mut c, "XREADGROUP GROUP g y STREAMS s >"),
            Resp::NilArray
        );
        let summary = run(&mut m, &mut c, "XPENDING s g");
        assert_eq!(
            summary.to_resp2_bytes(),
            b"*4\r\n:2\r\n$3\r\n1-1\r\n$3\r\n1-2\r\n*2\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n*2\r\n$1\r\ny\r\n$1\r\n1\r\n"
        );
        assert_eq!(
            run(&mut m, &mut c, "XCLAIM s g y 0 1-1 JUSTID"),
            Resp::Array(vec![Resp::bulk("1-1")])
        );
        assert_eq!(run(&mut m, &mut c, "XACK s g 1-1 1-2 1-3"), Resp::Int(2));
        assert_eq!(run(&mut m, &mut c, "XDEL s 1-1"), Resp::Int(1));
        assert_eq!(run(&mut m, &mut c, "XTRIM s MAXLEN 0"), Resp::Int(1));
        assert_eq!(run(&mut m, &mut c, "EXISTS s"), Resp::Int(1));
    }
}
