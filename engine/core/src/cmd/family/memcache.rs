//! Memcached's item commands, run on the shard that owns the key, on the same keyspace as RESP:
//! a Memcached item is a string key of database 0 whose entry also holds the client flags and
//! a CAS unique (`db::MemcacheMeta`, 12 bytes in the entry's block). A write through RESP drops
//! them (flags read 0 and `gets` shows CAS 0 until the next Memcached write).
//!
//! These rows are not in the Redis command table (`COMMAND` does not list them and a RESP
//! client cannot call them): the Memcached connection finds them by the operation in its
//! request's head (`memcache::Head`). Replies are already Memcached's text: a status line as
//! `Reply::Simple`, an item as `Reply::Bulk` holding its `VALUE` line and data, a retrieval as
//! an array of those (nil for a miss) that the connection closes with `END`; `Reply::Nil`
//! answers nothing (`noreply`).
//!
//! Quirks kept from memcached 1.6: `incr`/`decr` wrap at 2^64 and floor at 0; a shorter result
//! is padded with spaces to the old length (memcached rewrites the number in place); a value
//! that does not start with a number (after spaces) is non-numeric; `append`/`prepend` keep the
//! item's flags and expiry; every write takes a new CAS, `touch` keeps it.

use std::borrow::Cow;

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::cmd::{flag, keyflag as kf, CommandSpec, Family, KeySpec, Merge};
use crate::db::{Access, Entry, MemcacheMeta, StrRef, ValueRef};
use crate::error::CmdError;
use crate::memcache::{exptime_deadline_ms, parse_u64, Head, Op};
use crate::reply::Reply;

#[path = "memcache_meta.rs"]
mod meta;

const MEMCACHE: Family = Family {
    group: "memcache",
    acl: 0,
};

const READ_KEYS: &[KeySpec] = &[KeySpec::all_from(kf::RO | kf::ACCESS, 1, 1)];
const TOUCH_KEYS: &[KeySpec] = &[KeySpec::all_from(kf::RW | kf::ACCESS | kf::UPDATE, 1, 1)];
const WRITE_KEY: &[KeySpec] = &[KeySpec::one(kf::RW | kf::ACCESS | kf::UPDATE, 1)];
const DELETE_KEY: &[KeySpec] = &[KeySpec::one(kf::RW | kf::DELETE, 1)];

const R: u32 = flag::READONLY | flag::FAST;
const W: u32 = flag::WRITE | flag::FAST;
const W_DENYOOM: u32 = flag::WRITE | flag::DENYOOM;

const fn docs(summary: &'static str) -> crate::cmd::Docs {
    MEMCACHE.docs(summary, "1.6.18", "O(1)")
}

/// The keyed operations, by `Op`: `spec_of` picks the row.
#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    MEMCACHE.keyed("mc_get", -2, R, READ_KEYS, retrieve, Merge::KeyOrder, docs("get")),
    MEMCACHE.keyed("mc_touch_get", -2, W, TOUCH_KEYS, retrieve, Merge::KeyOrder, docs("gat")),
    MEMCACHE.one_key("mc_store", 3, W_DENYOOM, WRITE_KEY, store, docs("set add replace cas")),
    MEMCACHE.one_key("mc_concat", 3, W_DENYOOM, WRITE_KEY, store, docs("append prepend")),
    MEMCACHE.one_key("mc_refuse_set", 2, W, DELETE_KEY, refuse_set, docs("set too large")),
    MEMCACHE.one_key("mc_delete", 2, W, DELETE_KEY, delete, docs("delete")),
    MEMCACHE.one_key("mc_delta", 2, W, WRITE_KEY, delta, docs("incr decr")),
    MEMCACHE.one_key("mc_touch", 2, W, WRITE_KEY, touch, docs("touch")),
    MEMCACHE.one_key("mc_meta_get", 2, W, WRITE_KEY, meta::get, docs("mg")),
    MEMCACHE.one_key("mc_meta_set", 3, W_DENYOOM, WRITE_KEY, meta::set, docs("ms")),
    MEMCACHE.one_key("mc_meta_delete", 2, W, DELETE_KEY, meta::delete, docs("md")),
    MEMCACHE.one_key("mc_meta_arithmetic", 2, W, WRITE_KEY, meta::arithmetic, docs("ma")),
    MEMCACHE.one_key("mc_meta_debug", 2, R, READ_KEYS, meta::debug, docs("me")),
];

/// The row that runs a keyed `op`; `None` for what the connection answers itself.
pub fn spec_of(op: Op) -> Option<&'static CommandSpec> {
    let at = match op {
        Op::Get | Op::Gets => 0,
        Op::Gat | Op::Gats => 1,
        Op::Set | Op::Add | Op::Replace | Op::Cas => 2,
        Op::Append | Op::Prepend => 3,
        Op::SetTooLarge => 4,
        Op::Delete => 5,
        Op::Incr | Op::Decr => 6,
        Op::Touch => 7,
        Op::MetaGet => 8,
        Op::MetaSet => 9,
        Op::MetaDelete => 10,
        Op::MetaArithmetic => 11,
        Op::MetaDebug => 12,
        Op::FlushAll
        | Op::Version
        | Op::Verbosity
        | Op::Quit
        | Op::Stats
        | Op::MetaNoop
        | Op::Refuse
        | Op::Close => return None,
    };
    Some(&SPECS[at])
}

fn head_of(argv: &Argv) -> Head {
    Head::decode(&argv[0]).expect("a memcache row runs a decoded request")
}

/// A status line, or nothing under `noreply`.
fn status(head: &Head, line: &'static str) -> Reply {
    if head.noreply {
        Reply::Nil
    } else {
        Reply::simple(line)
    }
}

/// The value bytes of a string entry; `None` for a collection (not an item).
pub(crate) fn item_bytes(entry: &Entry) -> Option<Cow<'_, [u8]>> {
    match entry.value() {
        ValueRef::Str(StrRef::Int(n)) => Some(Cow::Owned(n.to_string().into_bytes())),
        ValueRef::Str(StrRef::Bytes { bytes, .. }) => Some(Cow::Borrowed(bytes)),
        ValueRef::Coll(_) => None,
    }
}

/// `VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n`
fn value_block(key: &[u8], entry: &Entry, with_cas: bool, out: &mut Vec<u8>) -> bool {
    let Some(bytes) = item_bytes(entry) else {
        return false;
    };
    let meta = entry.memcache();
    out.extend_from_slice(b"VALUE ");
    out.extend_from_slice(key);
    let flags = meta.map_or(0, |m| m.flags);
    out.extend_from_slice(format!(" {flags} {}", bytes.len()).as_bytes());
    if with_cas {
        out.extend_from_slice(format!(" {}", meta.map_or(0, |m| m.cas)).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&bytes);
    out.extend_from_slice(b"\r\n");
    true
}

/// get, gets, gat, gats over the keys this shard owns: one reply per key, in order.
fn retrieve(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let head = head_of(argv);
    let with_cas = matches!(head.op, Op::Gets | Op::Gats);
    let touching = matches!(head.op, Op::Gat | Op::Gats);
    let mut replies = Vec::with_capacity(argv.len() - 1);
    for key in argv.iter().skip(1) {
        let now_ms = ecx.read_now_ms();
        let mut block = Vec::new();
        let found = ecx
            .db()
            .visit_live(key, now_ms, Access::Touch, |entry| {
                value_block(key, entry, with_cas, &mut block)
            })
            .unwrap_or(false);
        ecx.count_lookup(found);
        if found && touching {
            set_deadline(ecx, key, head.exptime_s);
        }
        replies.push(if found {
            Reply::Bulk(block)
        } else {
            Reply::Nil
        });
    }
    Ok(Reply::Array(replies))
}

/// The new deadline of a live key (`touch`, `gat`); one already past deletes it.
pub(crate) fn set_deadline(ecx: &mut ExecCx, key: &[u8], exptime_s: i64) {
    let now_ms = ecx.now_ms();
    match exptime_deadline_ms(exptime_s, now_ms) {
        Some(at_ms) if at_ms <= now_ms => {
            ecx.delete(key);
        }
        deadline => {
            ecx.set_expiry(key, deadline);
        }
    }
}

/// What a store finds under its key.
pub(crate) struct Existing {
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) meta: Option<MemcacheMeta>,
    pub(crate) deadline_ms: Option<u64>,
}

pub(crate) fn existing(ecx: &mut ExecCx, key: &[u8]) -> Option<Existing> {
    let now_ms = ecx.read_now_ms();
    ecx.db().peek(key, now_ms).map(|entry| Existing {
        value: item_bytes(entry).map(Cow::into_owned),
        meta: entry.memcache(),
        deadline_ms: entry.expire_at_ms(),
    })
}

/// Writes an item with a new CAS (returned); a deadline already past leaves no item.
pub(crate) fn write_item(
    ecx: &mut ExecCx,
    key: &[u8],
    value: &[u8],
    flags: u32,
    deadline: Option<u64>,
) -> u64 {
    write_item_marked(ecx, key, value, MemcacheMeta::new(flags, 0), deadline)
}

/// `write_item` keeping `meta`'s state marks (a stale store, a binary key).
pub(crate) fn write_item_marked(
    ecx: &mut ExecCx,
    key: &[u8],
    value: &[u8],
    mut meta: MemcacheMeta,
    deadline: Option<u64>,
) -> u64 {
    let now_ms = ecx.now_ms();
    meta.cas = ecx.next_memcache_cas();
    if deadline.is_some_and(|at_ms| at_ms <= now_ms) {
        ecx.delete(key);
        return meta.cas;
    }
    let entry = Entry::from_memcache_bytes(key, value, deadline, meta, now_ms);
    ecx.put_entry(entry);
    meta.cas
}

/// set, add, replace, cas, append, prepend.
fn store(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let head = head_of(argv);
    let (key, data) = (&argv[1], &argv[2]);
    let old = existing(ecx, key);
    let deadline = exptime_deadline_ms(head.exptime_s, ecx.now_ms());
    let line = match (head.op, old) {
        (Op::Set, _) | (Op::Add, None) | (Op::Replace, Some(_)) => {
            write_item(ecx, key, data, head.flags, deadline);
            "STORED"
        }
        (Op::Add, Some(_)) | (Op::Replace | Op::Append | Op::Prepend, None) => "NOT_STORED",
        (Op::Cas, None) => "NOT_FOUND",
        (Op::Cas, Some(old)) => {
            if old.value.is_some() && old.meta.map_or(0, |m| m.cas) == head.number {
                write_item(ecx, key, data, head.flags, deadline);
                "STORED"
            } else {
                "EXISTS"
            }
        }
        (Op::Append | Op::Prepend, Some(old)) => match old.value {
            None => "NOT_STORED",
            Some(mut value) => {
                if head.op == Op::Append {
                    value.extend_from_slice(data);
                } else {
                    value.splice(0..0, data.iter().copied());
                }
                let flags = old.meta.map_or(0, |m| m.flags);
                write_item(ecx, key, &value, flags, old.deadline_ms);
                "STORED"
            }
        },
        (op, _) => unreachable!("{op:?} is not a store"),
    };
    Ok(status(&head, line))
}

/// A `set` refused as too large: memcached unlinks the old item so no stale value survives.
fn refuse_set(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let head = head_of(argv);
    ecx.delete(&argv[1]);
    Ok(status(&head, "SERVER_ERROR object too large for cache"))
}

fn delete(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let head = head_of(argv);
    let line = match ecx.delete(&argv[1]) {
        Some(_) => "DELETED",
        None => "NOT_FOUND",
    };
    Ok(status(&head, line))
}

fn touch(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let head = head_of(argv);
    let key = &argv[1];
    let now_ms = ecx.read_now_ms();
    let found = ecx
        .db()
        .visit_live(key, now_ms, Access::Touch, |_| ())
        .is_some();
    if found {
        set_deadline(ecx, key, head.exptime_s);
    }
    Ok(status(&head, if found { "TOUCHED" } else { "NOT_FOUND" }))
}

pub(crate) const NON_NUMERIC: &str = "CLIENT_ERROR cannot increment or decrement non-numeric value";

/// Writes `number` moved by `delta` (wrapping up, flooring at 0) over `old`: its text (padded
/// with spaces to the old length, as memcached rewrites in place) and the new CAS.
pub(crate) fn apply_delta(
    ecx: &mut ExecCx,
    key: &[u8],
    old: &Existing,
    number: u64,
    delta: u64,
    decrement: bool,
) -> (String, u64) {
    let next = if decrement {
        number.saturating_sub(delta)
    } else {
        number.wrapping_add(delta)
    };
    let text = next.to_string();
    let old_len = old.value.as_ref().map_or(0, Vec::len);
    let mut stored = text.clone().into_bytes();
    if stored.len() < old_len {
        stored.resize(old_len, b' ');
    }
    let flags = old.meta.map_or(0, |m| m.flags);
    let cas = write_item(ecx, key, &stored, flags, old.deadline_ms);
    (text, cas)
}

/// incr and decr: unsigned 64-bit, wrapping up and flooring at 0 down.
fn delta(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let head = head_of(argv);
    let key = &argv[1];
    let Some(old) = existing(ecx, key) else {
        return Ok(status(&head, "NOT_FOUND"));
    };
    let Some(number) = old
        .value
        .as_deref()
        .filter(|v| !v.is_empty())
        .and_then(parse_u64)
    else {
        return Ok(status(&head, NON_NUMERIC));
    };
    let (text, _) = apply_delta(ecx, key, &old, number, head.number, head.op == Op::Decr);
    Ok(if head.noreply {
        Reply::Nil
    } else {
        Reply::Simple(Cow::Owned(text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::CommandTable;
    use crate::cx::{Cx, CxOptions};
    use crate::memcache::Decoder;
    use crate::shard::Shard;

    /// One shard driven with Memcached requests (decoded as the connection decodes them) and
    /// RESP commands, to look at entries between them.
    struct Direct {
        shard: Shard,
        cx: Cx,
        now_ms: u64,
    }

    impl Direct {
        fn new() -> Direct {
            Direct {
                shard: Shard::new(1, 7),
                cx: Cx::new(1, CxOptions::default()),
                now_ms: 1_767_225_600_000,
            }
        }

        /// The reply to one Memcached request, its status line or value block as text.
        fn mc(&mut self, request: &str) -> String {
            let mut decoder = Decoder::new(crate::memcache::ITEM_SIZE_MAX_BYTES_DEFAULT);
            decoder.feed(request.as_bytes());
            let mut argv = Argv::new();
            assert!(
                decoder.next_request_into(&mut argv),
                "{request}: incomplete"
            );
            let head = Head::decode(&argv[0]).unwrap();
            let spec = spec_of(head.op).expect("a keyed request");
            let crate::cmd::Exec::Shard { run, .. } = spec.exec else {
                panic!("not keyed")
            };
            let mut ecx = ExecCx::new(&mut self.shard, 0, self.now_ms, &mut self.cx);
            text(&run(&mut ecx, &argv).unwrap())
        }

        fn resp(&mut self, line: &str) -> Reply {
            let args: Vec<&str> = line.split(' ').collect();
            let spec = CommandTable::new().lookup(args[0].as_bytes()).unwrap();
            let crate::cmd::Exec::Shard { run, .. } = spec.exec else {
                panic!("not keyed")
            };
            let mut ecx = ExecCx::new(&mut self.shard, 0, self.now_ms, &mut self.cx);
            run(&mut ecx, &Argv::from_slices(&args)).unwrap()
        }

        fn meta(&mut self, key: &str) -> Option<MemcacheMeta> {
            let now_ms = self.now_ms;
            self.shard.db(0).peek(key.as_bytes(), now_ms)?.memcache()
        }
    }

    fn text(reply: &Reply) -> String {
        match reply {
            Reply::Simple(s) => s.to_string(),
            Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            Reply::Array(items) => items.iter().map(text).collect(),
            Reply::Nil => String::new(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn every_write_takes_a_new_cas_and_touch_keeps_it() {
        let mut d = Direct::new();
        assert_eq!(d.mc("set k 5 0 1\r\na\r\n"), "STORED");
        let first = d.meta("k").unwrap();
        assert_eq!(first.flags, 5);
        assert_eq!(d.mc("append k 0 0 1\r\nb\r\n"), "STORED");
        let second = d.meta("k").unwrap();
        assert!(second.cas > first.cas);
        assert_eq!(second.flags, 5, "append keeps the flags");
        assert_eq!(d.mc("touch k 100\r\n"), "TOUCHED");
        assert_eq!(d.meta("k").unwrap().cas, second.cas);
        let stale = format!("cas k 0 0 1 {}\r\nc\r\n", first.cas);
        assert_eq!(d.mc(&stale), "EXISTS");
        let fresh = format!("cas k 0 0 1 {}\r\nc\r\n", second.cas);
        assert_eq!(d.mc(&fresh), "STORED");
    }

    #[test]
    fn a_resp_write_ends_the_item() {
        let mut d = Direct::new();
        assert_eq!(d.mc("set n 9 0 2\r\n10\r\n"), "STORED");
        assert!(d.meta("n").is_some());
        assert_eq!(d.resp("INCR n"), Reply::Int(11));
        assert_eq!(d.meta("n"), None, "INCR in place drops flags and CAS");
        assert_eq!(d.mc("gets n\r\n"), "VALUE n 0 2 0\r\n11\r\n");
        assert_eq!(d.mc("set s 3 0 1\r\nx\r\n"), "STORED");
        assert_eq!(d.resp("EXPIRE s 100"), Reply::Int(1));
        assert_eq!(
            d.meta("s").map(|m| m.flags),
            Some(3),
            "a TTL change keeps the item"
        );
    }

    #[test]
    fn incr_wraps_and_pads_as_memcached() {
        let mut d = Direct::new();
        assert_eq!(d.mc("set n 0 0 20\r\n18446744073709551615\r\n"), "STORED");
        assert_eq!(d.mc("incr n 2\r\n"), "1");
        assert_eq!(
            d.mc("get n\r\n"),
            format!("VALUE n 0 20\r\n1{}\r\n", " ".repeat(19))
        );
        assert_eq!(d.mc("decr n 5\r\n"), "0");
        assert_eq!(d.mc("set t 0 0 3\r\nabc\r\n"), "STORED");
        assert_eq!(d.mc("incr t 1\r\n"), NON_NUMERIC);
        assert_eq!(d.mc("incr missing 1\r\n"), "NOT_FOUND");
    }
}
