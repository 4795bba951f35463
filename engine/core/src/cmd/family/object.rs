//! OBJECT, of the keyspace family (rows in `keyspace.rs`): ENCODING, FREQ, IDLETIME, REFCOUNT
//! run on the shard owning argument 2; HELP is answered by the connection.
//!
//! Every lookup here is Redis's LOOKUP_NOTOUCH: asking about a key is not an access. A missing
//! key answers nil before any other check (so FREQ of a missing key is nil, not an error).
//!
//! What we model and what we do not:
//! - REFCOUNT: Redis shares the integer objects 0..=9999 and reports their refcount as INT_MAX;
//!   every other value we hold has one reference. (redis-server 7.0.15: `SET k 100`, `OBJECT
//!   REFCOUNT k` → 2147483647; `SET k 10000` → 1.) Redis also gives 1 to a COPY of a shared
//!   integer (dupStringObject makes a private one); our entries carry no "shared" mark, so we
//!   answer 2147483647 there.
//! - FREQ: Damselfly keeps no LFU counters, so no LFU maxmemory-policy can be selected and FREQ
//!   answers Redis's "not selected" error for every existing key. IDLETIME therefore never
//!   needs Redis's "LFU policy is selected" error.
//! - IDLETIME: whole seconds between the LRU clock readings (second resolution) of the last
//!   access and now: the entry keeps Redis's 24-bit clock (`Entry::idle_s`), so the answer and
//!   its wrap after 194 days are Redis's.

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::db::{StrRef, ValueRef};
use crate::error::CmdError;
use crate::reply::Reply;

/// Redis's OBJ_SHARED_INTEGERS: the integers below this are shared objects.
const SHARED_INTEGERS_LEN: i64 = 10_000;
/// Redis's OBJ_SHARED_REFCOUNT, reported for shared objects.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

const HELP_LINES: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// OBJECT HELP: status lines, as Redis's addReplyHelp sends them.
pub fn help() -> Reply {
    Reply::Array(HELP_LINES.iter().map(|line| Reply::simple(line)).collect())
}

/// Runs `answer` on the live entry under argument 2, or answers nil.
fn with_entry(
    ecx: &mut ExecCx,
    argv: &Argv,
    answer: impl FnOnce(&crate::db::Entry, u64) -> Result<Reply, CmdError>,
) -> Result<Reply, CmdError> {
    let now_ms = ecx.read_now_ms();
    match ecx.db().peek(&argv[2], now_ms) {
        Some(entry) => answer(entry, now_ms),
        None => Ok(Reply::Nil),
    }
}

pub(crate) fn encoding(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    with_entry(ecx, argv, |e, _| Ok(Reply::bulk(e.value().encoding())))
}

pub(crate) fn freq(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    with_entry(ecx, argv, |_, _| Err(CmdError::LfuPolicyNotSelected))
}

pub(crate) fn idletime(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    with_entry(ecx, argv, |e, now_ms| {
        Ok(Reply::Int(e.idle_s(now_ms) as i64))
    })
}

/// DEBUG OBJECT key (the DEBUG row sends it here, to the shard owning argument 2): Redis's
/// status line with the fields we hold. `Value at` is 0x0: an entry moves as its table grows,
/// so no address names it, and parsers (redis-py's) expect the field. `serializedlength` is the
/// value's RDB encoding as a save writes it now; a list adds its own node count and fill
/// (`ql_*`), not `ql_uncompressed_size`, which describes Redis's listpack nodes.
pub(crate) fn debug_object(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now_ms = ecx.read_now_ms();
    let limits = ecx.limits();
    let opts = crate::rdb::EncodeOptions {
        compression: limits.strings.rdb_compression,
        list_fill: limits.list.fill,
        stream: limits.stream,
    };
    let db = ecx.db();
    let Some(entry) = db.peek(&argv[2], now_ms) else {
        return Err(CmdError::NoSuchKey);
    };
    let value = entry.value();
    // A DUMP payload is the type byte, the value, two bytes of version and eight of CRC.
    let serialized_len = crate::rdb::dump_payload(value, &opts).len() - DUMP_FRAMING_BYTES;
    let mut line = format!(
        "Value at:0x0 refcount:{} encoding:{} serializedlength:{serialized_len} lru:{} \
         lru_seconds_idle:{}",
        refcount_of(value),
        value.encoding(),
        entry.lru(),
        entry.idle_s(now_ms),
    );
    if let ValueRef::Coll(crate::db::Collection::List(list)) = value {
        let nodes = list.nodes_len();
        let avg = if nodes == 0 {
            0.0
        } else {
            list.len() as f64 / nodes as f64
        };
        line.push_str(&format!(
            " ql_nodes:{nodes} ql_avg_node:{avg:.2} ql_listpack_max:{} ql_compressed:0",
            limits.list.fill
        ));
    }
    Ok(Reply::Simple(line.into()))
}

/// What a DUMP payload adds to the value's RDB encoding: type byte, version, CRC-64.
const DUMP_FRAMING_BYTES: usize = 1 + 2 + 8;

pub(crate) fn refcount(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    with_entry(ecx, argv, |e, _| Ok(Reply::Int(refcount_of(e.value()))))
}

fn refcount_of(value: ValueRef) -> i64 {
    match value {
        ValueRef::Str(StrRef::Int(n)) if (0..SHARED_INTEGERS_LEN).contains(&n) => SHARED_REFCOUNT,
        ValueRef::Str(StrRef::Int(_) | StrRef::Bytes { .. }) | ValueRef::Coll(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_integers_are_shared() {
        let int = |n| ValueRef::Str(StrRef::Int(n));
        assert_eq!(refcount_of(int(0)), 2_147_483_647);
        assert_eq!(refcount_of(int(9999)), 2_147_483_647);
        assert_eq!(refcount_of(int(10_000)), 1);
        assert_eq!(refcount_of(int(-1)), 1);
        let bytes = StrRef::Bytes {
            bytes: b"a",
            raw: false,
        };
        assert_eq!(refcount_of(ValueRef::Str(bytes)), 1);
    }
}
