//! HyperLogLog: Redis 7.0's PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST on string values
//! in Redis's exact encodings (`db::hll`), so GET answers the bytes redis-server would store
//! and PFCOUNT the number it would answer.
//!
//! A HyperLogLog is a string whose bytes pass `hll::check` (an integer-encoded string never
//! does). A write makes the value raw (dbUnshareStringValue) and signals a change only when a
//! register grew. Single-key PFCOUNT makes the value raw too, and caches the estimate in the
//! header when it was stale, which is a change (Redis signals it, so it aborts a WATCH).
//! Several keys (PFCOUNT, PFMERGE) run on gathered copies (`Merge::Gather`): a union across
//! shards, read and written as one step; their register maximum lives in one 16 KB array per
//! command.
//!
//! Quirks of redis-server 7.0.15 we keep, each checked against it (`cases/hll.txt`):
//! - A corrupt sparse body answers INVALIDOBJ, but the registers PFADD set before it met the
//!   corruption stay set, unsignalled.
//! - PFMERGE reads every key including the destination, turns the destination dense when any
//!   input is dense, then raises its registers in order (so it may turn dense on the way).
//! - PFDEBUG looks the key up (for writing: no hit counted) before it reads its subcommand;
//!   GETREG and TODENSE convert a sparse value to dense without signalling a change.
//!
//! PFSELFTEST runs Redis's own checks (register access, sparse against dense, the error at
//! each power of ten up to ten million elements) on the connection's thread (it has no key),
//! drawing its randomness from the engine's seeded RNG; like Redis it holds its thread for a
//! moment (about a second).

use crate::access::{Change, ExecCx};
use crate::argv::Argv;
use crate::cmd::args::eq_word;
use crate::cmd::Family;
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, ConnCmd, Exec, GatherDbs, KeySpec, Merge};
use crate::db::hll::{self, Encoding, HllError};
use crate::db::{StrRef, StrValue, Value, ValueRef};
use crate::env::{Env, Plant};
use crate::error::CmdError;
use crate::reply::Reply;

/// PFSELFTEST's register rounds and elements (Redis's HLL_TEST_CYCLES and its 10M loop).
const SELF_TEST_REGISTER_CYCLES: usize = 1000;
const SELF_TEST_ELEMENTS_MAX: u64 = 10_000_000;

const HLL: Family = Family {
    group: "hyperloglog",
    acl: acl::HYPERLOGLOG,
};

const GATHER: Merge = Merge::Gather(GatherDbs::Current);
const PFCOUNT_KEYS: &[KeySpec] = &[KeySpec::range(kf::RW | kf::ACCESS, 1, -1, 1).with_notes(
    "RW because it may change the internal representation of the key, and propagate to replicas",
)];
const PFMERGE_KEYS: &[KeySpec] = &[
    KeySpec::one(kf::RW | kf::ACCESS | kf::INSERT, 1),
    KeySpec::range(kf::RO | kf::ACCESS, 2, -1, 1),
];

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    HLL.one_key("pfadd", -2, flag::WRITE | flag::DENYOOM | flag::FAST,
        &[KeySpec::one(kf::RW | kf::INSERT, 1)], pfadd,
        HLL.docs("Adds the specified elements to the specified HyperLogLog.", "2.8.9",
        "O(1) to add every element.")),
    HLL.keyed("pfcount", -2, flag::READONLY, PFCOUNT_KEYS, pfcount, GATHER,
        HLL.docs("Return the approximated cardinality of the set(s) observed by the HyperLogLog \
        at key(s).", "2.8.9", "O(1) with a very small average constant time when called with a \
        single key. O(N) with N being the number of keys, and much bigger constant times, when \
        called with multiple keys.")),
    HLL.keyed("pfmerge", -2, flag::WRITE | flag::DENYOOM, PFMERGE_KEYS, pfmerge, GATHER,
        HLL.docs("Merge N different HyperLogLogs into a single one.", "2.8.9",
        "O(N) to merge N HyperLogLogs, but with high constant times.")),
    HLL.one_key("pfdebug", 3, flag::WRITE | flag::DENYOOM | flag::ADMIN,
        &[KeySpec::one(kf::RW | kf::ACCESS, 2)], pfdebug,
        HLL.docs("Internal commands for debugging HyperLogLog values", "2.8.9", "N/A")),
    HLL.keyless("pfselftest", 1, flag::ADMIN, 0, Exec::Conn(ConnCmd::PfSelfTest),
        HLL.docs("An internal command for testing HyperLogLog values", "2.8.9", "N/A")),
];

// ---------------------------------------------------------------------------------------------
// Reading and writing HLL strings.

fn hll_error(err: HllError) -> CmdError {
    match err {
        HllError::NotHll => CmdError::HllNotValid,
        HllError::Corrupt => CmdError::HllCorrupt,
    }
}

/// Redis's isHLLObjectOrReply on a string value: its bytes and encoding.
fn as_hll(value: ValueRef<'_>) -> Result<(&[u8], Encoding), CmdError> {
    match value {
        ValueRef::Coll(_) => Err(CmdError::WrongType),
        ValueRef::Str(StrRef::Int(_)) => Err(CmdError::HllNotValid),
        ValueRef::Str(StrRef::Bytes { bytes, .. }) => {
            hll::check(bytes).map(|e| (bytes, e)).map_err(hll_error)
        }
    }
}

/// Redis's lookupKeyRead of an HLL (counts a hit or miss): a copy of its bytes.
fn read_hll(ecx: &mut ExecCx, key: &[u8]) -> Result<Option<(Vec<u8>, Encoding)>, CmdError> {
    match ecx.read_entry(key) {
        None => Ok(None),
        Some(entry) => as_hll(entry.value()).map(|(b, e)| Some((b.to_vec(), e))),
    }
}

/// Lends the HLL under `key` to `edit` as raw bytes (dbUnshareStringValue), after checking it
/// is one; `None` when the key is absent.
fn edit_hll<R>(
    ecx: &mut ExecCx,
    key: &[u8],
    edit: impl FnOnce(&mut Vec<u8>) -> Result<(R, Change), CmdError>,
) -> Result<Option<R>, CmdError> {
    ecx.edit_str(key, |entry| {
        as_hll(entry.value())?;
        let mut result = None;
        entry.edit_raw(|bytes| result = Some(edit(bytes)));
        result.expect("edit ran")
    })
}

/// A new HLL value, stored raw as Redis's createHLLObject makes it.
fn store_new(ecx: &mut ExecCx, key: &[u8], value: Vec<u8>) {
    ecx.put(key, Value::Str(StrValue::raw(value)), None);
}

// ---------------------------------------------------------------------------------------------
// PFADD, PFCOUNT, PFMERGE.

/// Adds the elements; true when a register grew (the cache is then stale).
fn add_all(
    value: &mut Vec<u8>,
    elements: &[&[u8]],
    sparse_max_bytes: u64,
) -> Result<bool, CmdError> {
    let mut updated = false;
    for element in elements {
        updated |= hll::add(value, element, sparse_max_bytes).map_err(hll_error)?;
    }
    if updated {
        hll::invalidate_cache(value);
    }
    Ok(updated)
}

/// PFADD key [element ...]
fn pfadd(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let sparse_max_bytes = ecx.limits().strings.hll_sparse_max_bytes;
    let key = &argv[1];
    let elements: Vec<&[u8]> = argv.iter().skip(2).collect();
    let planted = ecx.env().planted(Plant::PfaddReportsUnchanged);
    let edited = edit_hll(ecx, key, |value| {
        let updated = add_all(value, &elements, sparse_max_bytes)?;
        let change = if updated {
            Change::Modified
        } else {
            Change::Unchanged
        };
        Ok((updated && !planted, change))
    })?;
    let updated = match edited {
        Some(updated) => updated,
        None => {
            let mut value = hll::new_sparse();
            add_all(&mut value, &elements, sparse_max_bytes)?;
            // Creating the key is an update even with no element.
            hll::invalidate_cache(&mut value);
            store_new(ecx, key, value);
            true
        }
    };
    Ok(Reply::Int(i64::from(updated)))
}

/// PFCOUNT key [key ...]
fn pfcount(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    if argv.len() > 2 {
        let mut max = Box::new([0u8; hll::REGISTERS]);
        merge_keys(ecx, argv.iter().skip(1), &mut max)?;
        return Ok(Reply::Int(hll::count_registers(&max) as i64));
    }
    let key = &argv[1];
    // lookupKeyRead counts the hit or miss; the edit then makes the value raw whatever the
    // cache says (Redis unshares it before looking). A raw value with a fresh cache needs
    // neither the edit nor a second lookup: the common case of a counter read often.
    match ecx.read_entry(key) {
        None => return Ok(Reply::Int(0)),
        Some(entry) => {
            let raw = matches!(
                entry.value(),
                ValueRef::Str(StrRef::Bytes { raw: true, .. })
            );
            let (bytes, _) = as_hll(entry.value())?;
            if let (true, Some(card)) = (raw, hll::cached_card(bytes)) {
                return Ok(Reply::Int(card as i64));
            }
        }
    };
    let card = edit_hll(ecx, key, |value| {
        if let Some(card) = hll::cached_card(value) {
            return Ok((card, Change::Unchanged));
        }
        let card = hll::count(value).map_err(hll_error)?;
        hll::set_cached_card(value, card);
        Ok((card, Change::Modified))
    })?
    .expect("read_hll found the key");
    Ok(Reply::Int(card as i64))
}

/// Folds the HLLs under `keys` into `max` in order; true when any was dense.
fn merge_keys<'a>(
    ecx: &mut ExecCx,
    keys: impl Iterator<Item = &'a [u8]>,
    max: &mut [u8; hll::REGISTERS],
) -> Result<bool, CmdError> {
    let mut any_dense = false;
    for key in keys {
        let Some((value, encoding)) = read_hll(ecx, key)? else {
            continue;
        };
        any_dense |= encoding == Encoding::Dense;
        hll::merge_into(max, &value).map_err(hll_error)?;
    }
    Ok(any_dense)
}

/// PFMERGE destkey [sourcekey ...]
fn pfmerge(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let sparse_max_bytes = ecx.limits().strings.hll_sparse_max_bytes;
    let mut max = Box::new([0u8; hll::REGISTERS]);
    let dense = merge_keys(ecx, argv.iter().skip(1), &mut max)?;
    let write = |value: &mut Vec<u8>| -> Result<(), CmdError> {
        if dense {
            hll::to_dense(value).map_err(hll_error)?;
        }
        for (index, &count) in max.iter().enumerate().filter(|r| *r.1 != 0) {
            hll::set_register(value, index, count, sparse_max_bytes).map_err(hll_error)?;
        }
        hll::invalidate_cache(value);
        Ok(())
    };
    let dst = &argv[1];
    let edited = edit_hll(ecx, dst, |value| {
        write(value).map(|()| ((), Change::Modified))
    })?;
    if edited.is_none() {
        let mut value = hll::new_sparse();
        write(&mut value)?;
        store_new(ecx, dst, value);
    }
    Ok(Reply::OK)
}

// ---------------------------------------------------------------------------------------------
// PFDEBUG and PFSELFTEST.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DebugCmd {
    GetReg,
    Decode,
    Encoding,
    ToDense,
}

/// PFDEBUG <GETREG | DECODE | ENCODING | TODENSE> key
fn pfdebug(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let sub = &argv[1];
    let cmd = [
        ("GETREG", DebugCmd::GetReg),
        ("DECODE", DebugCmd::Decode),
        ("ENCODING", DebugCmd::Encoding),
        ("TODENSE", DebugCmd::ToDense),
    ]
    .into_iter()
    .find_map(|(name, c)| eq_word(sub, name).then_some(c));
    let edited = edit_hll(ecx, &argv[2], |value| {
        let Some(cmd) = cmd else {
            return Err(CmdError::PfdebugUnknownSubcommand(sub.to_vec()));
        };
        Ok((debug(value, cmd)?, Change::Unchanged))
    })?;
    edited.ok_or(CmdError::PfdebugNoSuchKey)
}

fn debug(value: &mut Vec<u8>, cmd: DebugCmd) -> Result<Reply, CmdError> {
    Ok(match cmd {
        DebugCmd::GetReg => {
            hll::to_dense(value).map_err(hll_error)?;
            Reply::Array(
                hll::dense_registers(value)
                    .into_iter()
                    .map(|r| Reply::Int(i64::from(r)))
                    .collect(),
            )
        }
        DebugCmd::Decode => match hll::check(value).map_err(hll_error)? {
            Encoding::Sparse => Reply::Bulk(hll::decode_sparse(value).into_bytes()),
            Encoding::Dense => return Err(CmdError::PfdebugDecodeNeedsSparse),
        },
        DebugCmd::Encoding => Reply::Simple(hll::check(value).map_err(hll_error)?.name().into()),
        DebugCmd::ToDense => {
            let converted = hll::to_dense(value).map_err(hll_error)?;
            Reply::Int(i64::from(converted))
        }
    })
}

/// PFSELFTEST, run by the connection's thread (it has no key), with that thread's seeded RNG.
pub fn self_test(sparse_max_bytes: u64, env: &mut Env) -> Result<Reply, CmdError> {
    hll::self_test(
        SELF_TEST_REGISTER_CYCLES,
        SELF_TEST_ELEMENTS_MAX,
        sparse_max_bytes,
        || env.random_u64(),
    )
    .map_err(CmdError::HllSelfTestFailed)?;
    Ok(Reply::OK)
}

#[cfg(test)]
mod tests {
    use crate::cmd::info_line;
    use crate::testkit::TestCluster;

    #[test]
    fn one_key_rows_match_redis_command_info() {
        let by_name = |name: &str| super::SPECS.iter().find(|s| s.name == name).expect("row");
        assert_eq!(
            info_line(by_name("pfadd"), "hyperloglog"),
            "pfadd -2 | write denyoom fast | 1 1 1 | write hyperloglog fast | RW insert"
        );
        assert_eq!(
            info_line(by_name("pfcount"), "hyperloglog"),
            "pfcount -2 | readonly | 1 -1 1 | read hyperloglog slow | RW access"
        );
        assert_eq!(
            info_line(by_name("pfdebug"), "hyperloglog"),
            "pfdebug 3 | write denyoom admin | 2 2 1 | write hyperloglog slow | RW access"
        );
    }

    /// PFCOUNT of several keys on several shards is their union; PFMERGE stores it.
    #[test]
    fn union_across_shards() {
        let mut c = TestCluster::new(3);
        let conn = c.connect(0);
        for (key, elements) in [("a", ["1", "2", "3"]), ("b", ["3", "4", "5"])] {
            let mut cmd = vec!["PFADD", key];
            cmd.extend(elements);
            assert_eq!(c.cmd_text(conn, &cmd), ":1\r\n");
        }
        assert_eq!(c.cmd_text(conn, &["PFCOUNT", "a", "b", "nosuch"]), ":5\r\n");
        assert_eq!(c.cmd_text(conn, &["PFMERGE", "d", "a", "b"]), "+OK\r\n");
        assert_eq!(c.cmd_text(conn, &["PFCOUNT", "d"]), ":5\r\n");
        assert_eq!(c.cmd_text(conn, &["PFADD", "d", "1"]), ":0\r\n");
    }

    #[test]
    fn invalid_and_corrupt_values_are_refused() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        c.cmd(conn, &["SET", "n", "12"]);
        let not_hll = "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n";
        assert_eq!(c.cmd_text(conn, &["PFADD", "n", "x"]), not_hll);
        // A stale cache (PFADD) over opcodes that no longer add up to 16384 registers.
        c.cmd(conn, &["PFADD", "bad", "a", "b", "c"]);
        c.cmd(conn, &["SETRANGE", "bad", "16", "\0"]);
        let corrupt = "-INVALIDOBJ Corrupted HLL object detected\r\n";
        assert_eq!(c.cmd_text(conn, &["PFCOUNT", "bad"]), corrupt);
        assert_eq!(c.cmd_text(conn, &["PFCOUNT", "bad", "n"]), corrupt);
    }

    /// PFCOUNT that refreshes a stale cache spoils a WATCH; a PFADD that changes nothing and
    /// PFDEBUG TODENSE do not (redis-server 7.0.15, two clients).
    #[test]
    fn cache_refresh_signals_watch() {
        let cases: [(&[&str], bool); 3] = [
            (&["PFCOUNT", "w"], true),
            (&["PFADD", "w", "x"], false),
            (&["PFDEBUG", "TODENSE", "w"], false),
        ];
        for (write, aborts) in cases {
            let mut c = TestCluster::new(1);
            let (watcher, writer) = (c.connect(0), c.connect(0));
            c.cmd(writer, &["PFADD", "w", "x"]);
            if write[0] != "PFCOUNT" {
                c.cmd(writer, &["PFCOUNT", "w"]);
            }
            c.cmd(watcher, &["WATCH", "w"]);
            c.cmd(writer, write);
            c.cmd(watcher, &["MULTI"]);
            c.cmd(watcher, &["PING"]);
            let want = if aborts { "*-1\r\n" } else { "*1\r\n+PONG\r\n" };
            assert_eq!(c.cmd_text(watcher, &["EXEC"]), want, "{write:?}");
        }
    }

    /// Inside EXEC, the multi-key forms still see and write every shard's keys as one step.
    #[test]
    fn multi_key_forms_inside_exec() {
        let mut c = TestCluster::new(3);
        let conn = c.connect(1);
        c.cmd(conn, &["PFADD", "a", "1", "2"]);
        c.cmd(conn, &["PFADD", "b", "3"]);
        c.cmd(conn, &["SET", "x", "\u{f}"]);
        c.cmd(conn, &["MULTI"]);
        c.cmd(conn, &["PFMERGE", "m", "a", "b"]);
        c.cmd(conn, &["PFCOUNT", "m", "a"]);
        c.cmd(conn, &["BITOP", "NOT", "y", "x"]);
        c.cmd(conn, &["BITCOUNT", "y"]);
        assert_eq!(
            c.cmd_text(conn, &["EXEC"]),
            "*4\r\n+OK\r\n:3\r\n:1\r\n:4\r\n"
        );
    }
}
