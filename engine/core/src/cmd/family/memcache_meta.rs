//! The meta commands on the shard: `mg ms md ma me`. Replies are built whole here (a status
//! word, the return flags in the order the client sent its flags, then the value block), and
//! quiet mode (`q`) hides the success word as memcached 1.6.18 does: `EN` for `mg`, `HD` for
//! the others.
//!
//! Stale-while-revalidate keeps three marks in the item (`MemcacheMeta::state`): an item
//! invalidated by `md I` (or stored by `ms I` with an older CAS) is served stale (`X`); the
//! first client to see it stale, a miss vivified by `N`, or a TTL under `R` wins the recache
//! (`W`), and every other client hears that a winner exists (`Z`) until the item is rewritten.

use super::{apply_delta, existing, item_bytes, set_deadline, write_item_marked, NON_NUMERIC};
use crate::access::{Change, ExecCx};
use crate::argv::Argv;
use crate::db::{Access, MemcacheMeta};
use crate::error::CmdError;
use crate::memcache::meta::{base64_encode, flag_tokens, MetaFlags, SetMode};
use crate::memcache::{exptime_deadline_ms, parse_u64, Head};
use crate::reply::Reply;

/// A decoded request's flags (the decoder checked them already).
fn flags_of(which: u8, argv: &Argv) -> (Head, MetaFlags<'_>) {
    let head = Head::decode(&argv[0]).expect("a meta row runs a decoded request");
    let tokens = flag_tokens(&argv[0]);
    let flags = MetaFlags::parse(which, &tokens).expect("the decoder checked the flags");
    (head, flags)
}

/// What the return flags report of an item.
#[derive(Clone, Copy, Default)]
struct Shown {
    cas: u64,
    client_flags: u32,
    size: usize,
    ttl_s: Option<i64>,
    idle_s: u64,
    fetched_before: bool,
    binary_key: bool,
}

/// The status word and the return flags, in request order, for the letters `shows` names.
fn status_line(word: &str, flags: &MetaFlags, key: &[u8], item: &Shown, shows: &[u8]) -> Vec<u8> {
    let mut out = word.as_bytes().to_vec();
    for token in &flags.tokens {
        let letter = token[0];
        if !shows.contains(&letter) {
            continue;
        }
        out.push(b' ');
        match letter {
            b'c' => out.extend_from_slice(format!("c{}", item.cas).as_bytes()),
            b'f' => out.extend_from_slice(format!("f{}", item.client_flags).as_bytes()),
            b'h' => out.extend_from_slice(if item.fetched_before { b"h1" } else { b"h0" }),
            b'k' => {
                out.push(b'k');
                if item.binary_key || flags.base64_key {
                    out.extend_from_slice(&base64_encode(key));
                    out.extend_from_slice(b" b");
                } else {
                    out.extend_from_slice(key);
                }
            }
            b'l' => out.extend_from_slice(format!("l{}", item.idle_s).as_bytes()),
            b'O' => out.extend_from_slice(token),
            b's' => out.extend_from_slice(format!("s{}", item.size).as_bytes()),
            b't' => out.extend_from_slice(format!("t{}", item.ttl_s.unwrap_or(-1)).as_bytes()),
            _ => {
                out.pop();
            }
        }
    }
    out
}

/// Whole seconds left before `deadline_ms`, as memcached's coarse clock shows them.
fn ttl_left_s(deadline_ms: Option<u64>, now_ms: u64) -> Option<i64> {
    deadline_ms.map(|at| (at.saturating_sub(now_ms).div_ceil(1000)) as i64)
}

fn finish(mut line: Vec<u8>, value: Option<&[u8]>) -> Reply {
    line.extend_from_slice(b"\r\n");
    if let Some(value) = value {
        line.extend_from_slice(value);
        line.extend_from_slice(b"\r\n");
    }
    Reply::Bulk(line)
}

/// `mg <key> <flags>*`
pub(super) fn get(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (head, flags) = flags_of(b'g', argv);
    let key = &argv[1];
    let now_ms = ecx.now_ms();
    let idle_s = ecx
        .db()
        .peek(key, now_ms)
        .map_or(0, |entry| entry.idle_s(now_ms));
    let won = vivify(ecx, key, flags.vivify_ttl_s, now_ms);
    let recache_s = flags.recache_s;
    let seen = ecx.edit_str(key, |entry| {
        let fetched = fetch(entry, won, recache_s, now_ms, idle_s);
        Ok((fetched, Change::Unchanged))
    });
    let Ok(Some((value, shown, marks))) = seen else {
        ecx.count_lookup(false);
        if head.noreply {
            return Ok(Reply::Nil);
        }
        let line = status_line("EN", &flags, key, &Shown::default(), b"kO");
        return Ok(finish(line, None));
    };
    ecx.count_lookup(true);
    if let Some(ttl_s) = flags.ttl_s {
        set_deadline(ecx, key, i64::from(ttl_s));
    }
    let word = if flags.value {
        format!("VA {}", value.len())
    } else {
        "HD".to_string()
    };
    let mut line = status_line(&word, &flags, key, &shown, b"cfhklOst");
    for mark in marks {
        line.push(b' ');
        line.push(mark);
    }
    Ok(finish(line, flags.value.then_some(&value[..])))
}

/// `N`: a miss becomes an empty item with that TTL, and this client wins its recache.
fn vivify(ecx: &mut ExecCx, key: &[u8], ttl_s: Option<i32>, now_ms: u64) -> bool {
    let Some(ttl_s) = ttl_s else {
        return false;
    };
    if existing(ecx, key).is_some() {
        return false;
    }
    let mut meta = MemcacheMeta::new(0, 0);
    meta.state = MemcacheMeta::TOKEN_SENT;
    let deadline = exptime_deadline_ms(i64::from(ttl_s), now_ms);
    write_item_marked(ecx, key, b"", meta, deadline);
    true
}

/// An `mg` hit: the value, what the return flags show, and the marks (`W`, `Z`, `X`), with
/// the item's state updated in place (fetched; a recache token handed out).
fn fetch(
    entry: &mut crate::db::Entry,
    mut won: bool,
    recache_s: Option<i32>,
    now_ms: u64,
    idle_s: u64,
) -> (Vec<u8>, Shown, Vec<u8>) {
    let mut meta = entry.memcache().unwrap_or(MemcacheMeta::new(0, 0));
    let value = item_bytes(entry)
        .map(|v| v.into_owned())
        .unwrap_or_default();
    let ttl_s = ttl_left_s(entry.expire_at_ms(), now_ms);
    let sent_before = meta.has(MemcacheMeta::TOKEN_SENT) && !won;
    let mut marks = Vec::new();
    if let (Some(limit), Some(left)) = (recache_s, ttl_s) {
        if left < i64::from(limit) && !sent_before {
            won = true;
            meta.state |= MemcacheMeta::TOKEN_SENT;
        }
    }
    if won {
        marks.push(b'W');
    } else if sent_before {
        marks.push(b'Z');
    }
    if meta.has(MemcacheMeta::STALE) {
        marks.push(b'X');
        if !meta.has(MemcacheMeta::TOKEN_SENT) {
            marks.push(b'W');
            meta.state |= MemcacheMeta::TOKEN_SENT;
        }
    }
    let shown = Shown {
        cas: meta.cas,
        client_flags: meta.flags,
        size: value.len(),
        ttl_s,
        idle_s,
        fetched_before: meta.has(MemcacheMeta::FETCHED),
        binary_key: meta.has(MemcacheMeta::BINARY_KEY),
    };
    meta.state |= MemcacheMeta::FETCHED;
    entry.set_memcache_in_place(meta);
    (value, shown, marks)
}

/// `ms <key> <datalen> <flags>*` then the data block.
pub(super) fn set(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (head, flags) = flags_of(b's', argv);
    let (key, data) = (&argv[1], &argv[2]);
    let now_ms = ecx.now_ms();
    let old = existing(ecx, key);
    let mode = flags.set_mode.unwrap_or(SetMode::Set);
    let deadline = exptime_deadline_ms(i64::from(flags.ttl_s.unwrap_or(0)), now_ms);
    let mut meta = MemcacheMeta::new(flags.client_flags.unwrap_or(0), 0);
    if flags.base64_key {
        meta.state |= MemcacheMeta::BINARY_KEY;
    }
    let outcome = match (&old, flags.cas_compare) {
        (None, Some(_)) => Err("NF"),
        (Some(old), Some(cas)) if old.meta.map_or(0, |m| m.cas) != cas => {
            // An invalidation with an older CAS still stores, marked stale.
            if flags.invalidate && cas < old.meta.map_or(0, |m| m.cas) {
                meta.state |= MemcacheMeta::STALE;
                Ok(())
            } else {
                Err("EX")
            }
        }
        _ => Ok(()),
    };
    let cas = match (outcome, mode, &old) {
        (Err(word), ..) => return Ok(plain_reply(word, &head, &flags, key, 0)),
        (Ok(()), SetMode::Add, Some(_))
        | (Ok(()), SetMode::Replace | SetMode::Append | SetMode::Prepend, None) => {
            return Ok(plain_reply("NS", &head, &flags, key, 0));
        }
        (Ok(()), SetMode::Append | SetMode::Prepend, Some(old)) => {
            let Some(mut value) = old.value.clone() else {
                return Ok(plain_reply("NS", &head, &flags, key, 0));
            };
            if mode == SetMode::Append {
                value.extend_from_slice(data);
            } else {
                value.splice(0..0, data.iter().copied());
            }
            meta.flags = old.meta.map_or(0, |m| m.flags);
            write_item_marked(ecx, key, &value, meta, old.deadline_ms)
        }
        (Ok(()), ..) => write_item_marked(ecx, key, data, meta, deadline),
    };
    Ok(plain_reply("HD", &head, &flags, key, cas))
}

/// A status word with the flags that apply to it (`k`, `O`, and `c` once there is a CAS);
/// quiet mode hides `HD`.
fn plain_reply(word: &str, head: &Head, flags: &MetaFlags, key: &[u8], cas: u64) -> Reply {
    if head.noreply && word == "HD" {
        return Reply::Nil;
    }
    let shown = Shown {
        cas,
        ..Shown::default()
    };
    let shows: &[u8] = if cas == 0 { b"kO" } else { b"kOc" };
    finish(status_line(word, flags, key, &shown, shows), None)
}

/// `md <key> <flags>*`: delete, or with `I` mark stale (and set the TTL of `T`).
pub(super) fn delete(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (head, flags) = flags_of(b'd', argv);
    let key = &argv[1];
    let Some(old) = existing(ecx, key) else {
        return Ok(plain_reply("NF", &head, &flags, key, 0));
    };
    let old_cas = old.meta.map_or(0, |m| m.cas);
    if flags.cas_compare.is_some_and(|cas| cas != old_cas) {
        return Ok(plain_reply("EX", &head, &flags, key, 0));
    }
    if flags.invalidate {
        let mut meta = old.meta.unwrap_or(MemcacheMeta::new(0, 0));
        meta.state = (meta.state | MemcacheMeta::STALE) & !MemcacheMeta::TOKEN_SENT;
        let deadline = match flags.ttl_s {
            Some(ttl_s) => exptime_deadline_ms(i64::from(ttl_s), ecx.now_ms()),
            None => old.deadline_ms,
        };
        let value = old.value.unwrap_or_default();
        write_item_marked(ecx, key, &value, meta, deadline);
    } else {
        ecx.delete(key);
    }
    Ok(plain_reply("HD", &head, &flags, key, 0))
}

/// `ma <key> <flags>*`: increment or decrement by `D` (1), creating with `J` under `N`.
pub(super) fn arithmetic(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (head, flags) = flags_of(b'a', argv);
    let key = &argv[1];
    let now_ms = ecx.now_ms();
    let (text, cas) = match existing(ecx, key) {
        None => {
            let Some(ttl_s) = flags.vivify_ttl_s else {
                return Ok(plain_reply("NF", &head, &flags, key, 0));
            };
            let text = flags.initial.unwrap_or(0).to_string();
            let deadline = exptime_deadline_ms(i64::from(ttl_s), now_ms);
            let meta = MemcacheMeta::new(0, 0);
            let cas = write_item_marked(ecx, key, text.as_bytes(), meta, deadline);
            (text, cas)
        }
        Some(old) => {
            let old_cas = old.meta.map_or(0, |m| m.cas);
            if flags.cas_compare.is_some_and(|cas| cas != old_cas) {
                return Ok(plain_reply("EX", &head, &flags, key, 0));
            }
            let number = old
                .value
                .as_deref()
                .filter(|v| !v.is_empty())
                .and_then(parse_u64);
            let Some(number) = number else {
                return Ok(Reply::simple(NON_NUMERIC));
            };
            let delta = flags.delta.unwrap_or(1);
            apply_delta(ecx, key, &old, number, delta, flags.decrement)
        }
    };
    if let Some(ttl_s) = flags.ttl_s {
        set_deadline(ecx, key, i64::from(ttl_s));
    }
    let deadline = ecx.db().peek(key, now_ms).and_then(|e| e.expire_at_ms());
    let shown = Shown {
        cas,
        ttl_s: ttl_left_s(deadline, now_ms),
        ..Shown::default()
    };
    if !flags.value {
        if head.noreply {
            return Ok(Reply::Nil);
        }
        return Ok(finish(
            status_line("HD", &flags, key, &shown, b"tckO"),
            None,
        ));
    }
    let word = format!("VA {}", text.len());
    let line = status_line(&word, &flags, key, &shown, b"tckO");
    Ok(finish(line, Some(text.as_bytes())))
}

/// `me <key>`: memcached's debug line, with what Damselfly keeps (no slab class: `cls=1`).
pub(super) fn debug(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let key = &argv[1];
    let now_ms = ecx.now_ms();
    let line = ecx
        .db()
        .visit_live(key, now_ms, Access::Peek, |entry| {
            let meta = entry.memcache().unwrap_or(MemcacheMeta::new(0, 0));
            let exp = ttl_left_s(entry.expire_at_ms(), now_ms).unwrap_or(-1);
            let fetched = if meta.has(MemcacheMeta::FETCHED) {
                "yes"
            } else {
                "no"
            };
            format!(
                "ME {} exp={exp} la={} cas={} fetch={fetched} cls=1 size={}",
                String::from_utf8_lossy(key),
                entry.idle_s(now_ms),
                meta.cas,
                entry.heap_bytes()
            )
        })
        .unwrap_or_else(|| "EN".to_string());
    Ok(finish(line.into_bytes(), None))
}
