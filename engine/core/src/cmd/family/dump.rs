//! DUMP and RESTORE: one value as Redis's serialized payload (the value's RDB encoding, the RDB
//! version and a CRC-64; `crate::rdb`), so values move between redis-server and us both ways.
//!
//! RESTORE checks in Redis's order: the options (REPLACE, ABSTTL, IDLETIME, FREQ; IDLETIME and
//! FREQ exclude each other), an existing key without REPLACE (BUSYKEY), the TTL, then the
//! payload (footer and checksum, then the value, which is built in our encodings under our
//! thresholds and refused whole when corrupt). A deadline already past deletes the old key
//! (with REPLACE) and stores nothing, as Redis does. IDLETIME sets the key's LRU clock; FREQ is
//! checked but kept nowhere: we track no LFU counter (OBJECT FREQ refuses, as Redis does under
//! an LRU policy, where Redis too ignores FREQ).

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64};
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, Family, KeySpec};
use crate::db::Entry;
use crate::error::{CmdError, RestoreError};
use crate::rdb::{self, EncodeOptions, LoadCx, RdbError};
use crate::reply::Reply;

const GENERIC: Family = Family {
    group: "generic",
    acl: acl::KEYSPACE,
};

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    GENERIC.one_key("dump", 2, flag::READONLY, &[KeySpec::one(kf::RO | kf::ACCESS, 1)], dump, GENERIC.docs("Return a serialized version of the value stored at the specified key.", "2.6.0", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).")),
    GENERIC.row("restore", -4, flag::WRITE | flag::DENYOOM, acl::DANGEROUS, &[KeySpec::one(kf::OW | kf::UPDATE, 1)], crate::cmd::Exec::Shard { run: restore, merge: crate::cmd::Merge::OneKey }, GENERIC.docs("Create a key using the provided serialized value, previously obtained using DUMP.", "2.6.0", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).")),
];

/// DUMP key: the payload, or nil when the key is absent (a read that counts as an access).
/// Quicklist and stream nodes are cut by the configured node sizes, as Redis's were when it
/// built them.
fn dump(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let limits = ecx.limits();
    let opts = EncodeOptions {
        compression: limits.strings.rdb_compression,
        list_fill: limits.list.fill,
        stream: limits.stream,
    };
    let Some(entry) = ecx.read_entry(&argv[1]) else {
        return Ok(Reply::Nil);
    };
    Ok(Reply::Bulk(rdb::dump_payload(entry.value(), &opts)))
}

/// RESTORE's options after the payload.
#[derive(Debug, Default, PartialEq, Eq)]
struct RestoreOptions {
    replace: bool,
    absttl: bool,
    idle_s: Option<u64>,
    freq: Option<u8>,
}

/// Redis's loop over the options: a value-taking option needs its value present and the other
/// one absent, else it is a syntax error like any unknown word.
fn parse_options(argv: &Argv) -> Result<RestoreOptions, CmdError> {
    let mut opts = RestoreOptions::default();
    let mut at = 4;
    while at < argv.len() {
        let word = &argv[at];
        let has_value = at + 1 < argv.len();
        if eq_word(word, "REPLACE") {
            opts.replace = true;
        } else if eq_word(word, "ABSTTL") {
            opts.absttl = true;
        } else if eq_word(word, "IDLETIME") && has_value && opts.freq.is_none() {
            let idle = parse_i64(&argv[at + 1])?;
            let idle = u64::try_from(idle).map_err(|_| RestoreError::InvalidIdleTime)?;
            opts.idle_s = Some(idle);
            at += 1;
        } else if eq_word(word, "FREQ") && has_value && opts.idle_s.is_none() {
            let freq = parse_i64(&argv[at + 1])?;
            let freq = u8::try_from(freq).map_err(|_| RestoreError::InvalidFreq)?;
            opts.freq = Some(freq);
            at += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        at += 1;
    }
    Ok(opts)
}

/// The RESTORE error a payload refusal answers with.
fn payload_error(payload: &[u8], err: &RdbError) -> RestoreError {
    const FOOTER_BYTES: usize = 10;
    match err {
        RdbError::Version(_) | RdbError::Checksum { .. } => RestoreError::VersionOrChecksum,
        _ if payload.len() < FOOTER_BYTES => RestoreError::VersionOrChecksum,
        _ => RestoreError::BadDataFormat,
    }
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency].
fn restore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let opts = parse_options(argv)?;
    let key = &argv[1];
    let read_now_ms = ecx.read_now_ms();
    if !opts.replace && ecx.db().contains(key, read_now_ms) {
        return Err(RestoreError::BusyKey.into());
    }
    let ttl = parse_i64(&argv[2])?;
    if ttl < 0 {
        return Err(RestoreError::InvalidTtl.into());
    }
    let cx = LoadCx {
        limits: ecx.limits(),
        seed: ecx.db().collection_seed(),
    };
    let payload = &argv[3];
    let value = rdb::parse_dump_payload(payload, rdb::DUMP_VERSION_MAX, &cx)
        .map_err(|e| payload_error(payload, &e))?;
    if opts.replace {
        ecx.delete(key);
    }
    let now_ms = ecx.now_ms();
    let expire_at_ms = match (ttl, opts.absttl) {
        (0, _) => None,
        (at, true) => Some(at as u64),
        (relative, false) => Some(now_ms.saturating_add(relative as u64)),
    };
    if expire_at_ms.is_some_and(|at| at <= now_ms) {
        return Ok(Reply::OK);
    }
    let accessed_ms = match opts.idle_s {
        Some(idle_s) => now_ms.saturating_sub(idle_s.saturating_mul(1000)),
        None => now_ms,
    };
    let entry = Entry::new(key, value, accessed_ms).with_expire_at_ms(expire_at_ms);
    ecx.put_entry(entry);
    Ok(Reply::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::each;

    fn argv(words: &[&str]) -> Argv {
        let mut all = vec!["restore", "k", "0", "payload"];
        all.extend_from_slice(words);
        Argv::from_slices(&all)
    }

    #[test]
    fn option_parsing_follows_redis() {
        assert_eq!(
            parse_options(&argv(&["replace", "ABSTTL", "idletime", "5"])).unwrap(),
            RestoreOptions {
                replace: true,
                absttl: true,
                idle_s: Some(5),
                freq: None
            }
        );
        let err = |words: &[&str]| parse_options(&argv(words)).unwrap_err();
        assert_eq!(err(&["idletime"]), CmdError::Syntax);
        assert_eq!(err(&["idletime", "1", "freq", "2"]), CmdError::Syntax);
        assert_eq!(
            err(&["idletime", "-1"]),
            RestoreError::InvalidIdleTime.into()
        );
        assert_eq!(err(&["freq", "256"]), RestoreError::InvalidFreq.into());
        assert_eq!(err(&["freq", "x"]), CmdError::NotInteger);
        assert_eq!(err(&["bogus"]), CmdError::Syntax);
    }

    /// The bulk string of a RESP reply.
    fn bulk(reply: &[u8]) -> Vec<u8> {
        let text_end = reply.iter().position(|&b| b == b'\r').expect("a header");
        assert_eq!(reply[0], b'$', "{}", String::from_utf8_lossy(reply));
        let len: usize = std::str::from_utf8(&reply[1..text_end])
            .unwrap()
            .parse()
            .unwrap();
        reply[text_end + 2..text_end + 2 + len].to_vec()
    }

    #[test]
    fn dump_then_restore_every_type() {
        each(|t| {
            for line in [
                &["rpush", "l", "a", "b", "1"][..],
                &["sadd", "s", "1", "2"],
                &["sadd", "st", "a", "b"],
                &["hset", "h", "f", "v"],
                &["zadd", "z", "1.5", "m"],
                &["xadd", "x", "1-1", "f", "v"],
                &["set", "str", "hello"],
                &["set", "n", "12"],
            ] {
                t.run(line);
            }
            for key in ["l", "s", "st", "h", "z", "x", "str", "n"] {
                let payload = bulk(&t.c.cmd(t.conn, &["dump", key]));
                let copy = format!("{key}-copy");
                let restore = |t: &mut crate::testkit::FamilyTest, extra: &[&[u8]]| {
                    let mut args: Vec<&[u8]> = vec![b"restore", copy.as_bytes(), b"0", &payload];
                    args.extend_from_slice(extra);
                    String::from_utf8(t.c.cmd_bytes(t.conn, &args)).unwrap()
                };
                assert_eq!(restore(t, &[]), "+OK\r\n", "{key}");
                assert_eq!(bulk(&t.c.cmd(t.conn, &["dump", &copy])), payload, "{key}");
                assert_eq!(
                    restore(t, &[]),
                    "-BUSYKEY Target key name already exists.\r\n"
                );
                assert_eq!(restore(t, &[b"REPLACE", b"IDLETIME", b"100"]), "+OK\r\n");
                t.check(&[(&["object", "idletime", &copy], ":100\r\n")]);
            }
            t.check(&[
                (&["dump", "missing"], "$-1\r\n"),
                (
                    &["restore", "k", "-1", "x"],
                    "-ERR Invalid TTL value, must be >= 0\r\n",
                ),
                (
                    &["restore", "k", "0", "short"],
                    "-ERR DUMP payload version or checksum are wrong\r\n",
                ),
                (
                    &["restore", "k", "0", "xxxxxxxxxxxxxxxxxxx"],
                    "-ERR DUMP payload version or checksum are wrong\r\n",
                ),
            ]);
        });
    }

    #[test]
    fn restore_with_a_past_deadline_stores_nothing() {
        each(|t| {
            t.run(&["set", "k", "v"]);
            let payload = bulk(&t.c.cmd(t.conn, &["dump", "k"]));
            let reply = t.c.cmd_bytes(
                t.conn,
                &[b"restore", b"k", b"1", &payload, b"REPLACE", b"ABSTTL"],
            );
            assert_eq!(reply, b"+OK\r\n");
            t.check(&[(&["exists", "k"], ":0\r\n")]);
            let reply =
                t.c.cmd_bytes(t.conn, &[b"restore", b"k", b"5000", &payload]);
            assert_eq!(reply, b"+OK\r\n");
            t.check(&[(&["pttl", "k"], ":5000\r\n")]);
        });
    }
}
