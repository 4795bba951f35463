//! Streams: Redis 7.0's stream family (XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD, XSETID
//! here; the consumer-group commands XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM and
//! XINFO in `groups.rs`), written against `db::StreamValue` through the typed lookup and write
//! paths of `access.rs`. Each parser follows t_stream.c's order of checks, so the first error
//! reported is Redis's.
//!
//! IDs: `parse_id` is Redis's streamGenericParseIDOrReply: `-` and `+` (unless strict), `<ms>`,
//! `<ms>-<seq>` and, for XADD, `<ms>-*`; numbers as `string2ull` reads them (strtoull after a
//! failed `string2ll`: leading blanks and `+` pass, a negative i64 does not).
//!
//! XREAD and XREADGROUP gather their keys (`Merge::Gather`), so keys on several shards are read
//! and written as one step. Each is split into a parse (`parse_read`), a check of every key in
//! order (types, groups, `$`), and an attempt (`read_attempt`, `groups::read_group_attempt`)
//! that answers `Some(reply)` when some key has data. With BLOCK, a read that finds nothing
//! waits through the blocking framework (`node::blocking`, `BLOCKING` below): XREAD's `$`
//! becomes each stream's last ID where the attempt runs, and a waiter is served from the one
//! key that got entries past its ID (XREAD) or past its group's last ID (XREADGROUP), as
//! Redis's serveClientsBlockedOnStreamKey.
//!
//! Time (XADD's `*` IDs, delivery and seen times) is the step's time, `ExecCx::now_ms`.
//!
//! As in redis-server 7.0: XADD, XDEL and XTRIM signal the key (WATCH); the consumer-group
//! commands and XSETID change it silently. XREAD and XREADGROUP count two keyspace lookups per
//! key (one to parse its ID, one to serve it); XACK, XCLAIM and XAUTOCLAIM one.

mod groups;

use crate::access::ExecCx;
use crate::access::{Change, IfAbsent};
use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64};
use crate::cmd::blocking::{Blocking, Readiness, Timeout, WaitsOn};
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, ConnCmd, Exec, Family, GatherDbs};
use crate::cmd::{FindKeys, KeySpec, Merge};
use crate::db::stream::{EntryView, StreamId, Trim};
use crate::db::{Collection, Kind, StreamValue, ValueRef};
use crate::error::{CmdError, StreamError};
use crate::reply::Reply;

pub use groups::{xgroup_help, xinfo_help};

const STREAM: Family = Family {
    group: "stream",
    acl: acl::STREAM,
};

/// The containers (XGROUP, XINFO) carry no type category, as in Redis.
const CONTAINER: Family = Family {
    group: "stream",
    acl: 0,
};

const RO: &[KeySpec] = &[KeySpec::one(kf::RO, 1)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(kf::RO | kf::ACCESS, 1)];
const RW_UPDATE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::UPDATE, 1)];
const RW_DELETE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::DELETE, 1)];
const XADD_KEYS: &[KeySpec] = &[KeySpec::one(kf::RW | kf::UPDATE, 1)
    .with_notes("UPDATE instead of INSERT because of the optional trimming feature")];
const SUB_RO_ACCESS: &[KeySpec] = &[KeySpec::one(kf::RO | kf::ACCESS, 2)];
const SUB_RW_INSERT: &[KeySpec] = &[KeySpec::one(kf::RW | kf::INSERT, 2)];
const SUB_RW_DELETE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::DELETE, 2)];
const SUB_RW_UPDATE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::UPDATE, 2)];
/// XREAD's keys: after STREAMS, the first half of what follows (the rest are IDs).
const fn streams_keys(startfrom: i8) -> KeySpec {
    KeySpec::after_keyword(
        kf::RO | kf::ACCESS,
        "STREAMS",
        startfrom,
        FindKeys::Range {
            last: -1,
            step: 1,
            limit: 2,
        },
    )
}
const XREAD_KEYS: &[KeySpec] = &[streams_keys(1)];
const XREADGROUP_KEYS: &[KeySpec] = &[streams_keys(4)];
const GATHER: Merge = Merge::Gather(GatherDbs::Current);
const HELP_FLAGS: u32 = flag::LOADING | flag::STALE;

#[rustfmt::skip]
const XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    STREAM.one_key("xgroup|create", -5, flag::WRITE | flag::DENYOOM, SUB_RW_INSERT,
        groups::xgroup_create, STREAM.docs("Create a consumer group.", "5.0.0", "O(1)")),
    STREAM.one_key("xgroup|setid", -5, flag::WRITE, SUB_RW_UPDATE, groups::xgroup_setid,
        STREAM.docs("Set a consumer group to an arbitrary last delivered ID value.", "5.0.0",
        "O(1)")),
    STREAM.one_key("xgroup|destroy", 4, flag::WRITE, SUB_RW_DELETE, groups::xgroup_destroy,
        STREAM.docs("Destroy a consumer group.", "5.0.0", "O(N) where N is the number of \
        entries in the group's pending entries list (PEL).")),
    STREAM.one_key("xgroup|createconsumer", 5, flag::WRITE | flag::DENYOOM, SUB_RW_INSERT,
        groups::xgroup_createconsumer,
        STREAM.docs("Create a consumer in a consumer group.", "6.2.0", "O(1)")),
    STREAM.one_key("xgroup|delconsumer", 5, flag::WRITE, SUB_RW_DELETE,
        groups::xgroup_delconsumer,
        STREAM.docs("Delete a consumer from a consumer group.", "5.0.0", "O(1)")),
    STREAM.keyless("xgroup|help", 2, HELP_FLAGS, 0, Exec::Conn(ConnCmd::XGroupHelp),
        STREAM.docs("Show helpful text about the different subcommands", "5.0.0", "O(1)")),
];

#[rustfmt::skip]
const XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    STREAM.one_key("xinfo|stream", -3, flag::READONLY, SUB_RO_ACCESS, groups::xinfo_stream,
        STREAM.docs("Get information about a stream", "5.0.0", "O(1)")),
    STREAM.one_key("xinfo|groups", 3, flag::READONLY, SUB_RO_ACCESS, groups::xinfo_groups,
        STREAM.docs("List the consumer groups of a stream", "5.0.0", "O(1)")),
    STREAM.one_key("xinfo|consumers", 4, flag::READONLY, SUB_RO_ACCESS,
        groups::xinfo_consumers,
        STREAM.docs("List the consumers in a consumer group", "5.0.0", "O(1)")),
    STREAM.keyless("xinfo|help", 2, HELP_FLAGS, 0, Exec::Conn(ConnCmd::XInfoHelp),
        STREAM.docs("Show helpful text about the different subcommands", "5.0.0", "O(1)")),
];

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    STREAM.one_key("xadd", -5, flag::WRITE | flag::DENYOOM | flag::FAST, XADD_KEYS, xadd,
        STREAM.docs("Appends a new entry to a stream", "5.0.0", "O(1) when adding a new entry, \
        O(N) when trimming where N being the number of entries evicted.")),
    STREAM.one_key("xrange", -4, flag::READONLY, RO_ACCESS, xrange,
        STREAM.docs("Return a range of elements in a stream, with IDs matching the specified \
        IDs interval", "5.0.0", "O(N) with N being the number of elements being returned. If N \
        is constant (e.g. always asking for the first 10 elements with COUNT), you can consider \
        it O(1).")),
    STREAM.one_key("xrevrange", -4, flag::READONLY, RO_ACCESS, xrevrange,
        STREAM.docs("Return a range of elements in a stream, with IDs matching the specified \
        IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
        "5.0.0", "O(N) with N being the number of elements returned. If N is constant (e.g. \
        always asking for the first 10 elements with COUNT), you can consider it O(1).")),
    STREAM.one_key("xlen", 2, flag::READONLY | flag::FAST, RO, xlen,
        STREAM.docs("Return the number of entries in a stream", "5.0.0", "O(1)")),
    STREAM.one_key("xdel", -3, flag::WRITE | flag::FAST, RW_DELETE, xdel,
        STREAM.docs("Removes the specified entries from the stream. Returns the number of items \
        actually deleted, that may be different from the number of IDs passed in case certain \
        IDs do not exist.", "5.0.0", "O(1) for each single item to delete in the stream, \
        regardless of the stream size.")),
    STREAM.one_key("xtrim", -4, flag::WRITE, RW_DELETE, xtrim,
        STREAM.docs("Trims the stream to (approximately if '~' is passed) a certain size",
        "5.0.0", "O(N), with N being the number of evicted entries. Constant times are very \
        small however, since entries are organized in macro nodes containing multiple entries \
        that can be released with a single deallocation.")),
    STREAM.keyed("xread", -4, flag::READONLY | flag::BLOCKING, XREAD_KEYS, xread, GATHER,
        STREAM.docs("Return never seen elements in multiple streams, with IDs greater than the \
        ones reported by the caller for each stream. Can block.", "5.0.0", "For each stream \
        mentioned: O(N) with N being the number of elements being returned, it means that \
        XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD \
        will pay O(M) time in order to serve the M clients blocked on the stream getting new \
        data.")),
    STREAM.keyed("xreadgroup", -7, flag::WRITE | flag::BLOCKING, XREADGROUP_KEYS,
        groups::xreadgroup, GATHER,
        STREAM.docs("Return new entries from a stream using a consumer group, or access the \
        history of the pending entries for a given consumer. Can block.", "5.0.0", "For each \
        stream mentioned: O(M) with M being the number of elements returned. If M is constant \
        (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On \
        the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve \
        the N clients blocked on the stream getting new data.")),
    STREAM.one_key("xack", -4, flag::WRITE | flag::FAST, RW_UPDATE, groups::xack,
        STREAM.docs("Marks a pending message as correctly processed, effectively removing it \
        from the pending entries list of the consumer group. Return value of the command is \
        the number of messages successfully acknowledged, that is, the IDs we were actually \
        able to resolve in the PEL.", "5.0.0", "O(1) for each message ID processed.")),
    STREAM.one_key("xpending", -3, flag::READONLY, RO_ACCESS, groups::xpending,
        STREAM.docs("Return information and entries from a stream consumer group pending \
        entries list, that are messages fetched but never acknowledged.", "5.0.0", "O(N) with \
        N being the number of elements returned, so asking for a small fixed number of entries \
        per call is O(1). O(M), where M is the total number of entries scanned when used with \
        the IDLE filter. When the command returns just the summary and the list of consumers \
        is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every \
        consumer.")),
    STREAM.one_key("xclaim", -6, flag::WRITE | flag::FAST, RW_UPDATE, groups::xclaim,
        STREAM.docs("Changes (or acquires) ownership of a message in a consumer group, as if \
        the message was delivered to the specified consumer.", "5.0.0", "O(log N) with N being \
        the number of messages in the PEL of the consumer group.")),
    STREAM.one_key("xautoclaim", -6, flag::WRITE | flag::FAST, RW_DELETE, groups::xautoclaim,
        STREAM.docs("Changes (or acquires) ownership of messages in a consumer group, as if the \
        messages were delivered to the specified consumer.", "6.2.0", "O(1) if COUNT is \
        small.")),
    STREAM.one_key("xsetid", -3, flag::WRITE | flag::DENYOOM | flag::FAST, RW_UPDATE, xsetid,
        STREAM.docs("An internal command for replicating stream values", "5.0.0", "O(1)")),
    CONTAINER.container("xgroup", -2, 0, 0, XGROUP_SUBCOMMANDS,
        STREAM.docs("A container for consumer groups commands", "5.0.0",
        "Depends on subcommand.")),
    CONTAINER.container("xinfo", -2, 0, 0, XINFO_SUBCOMMANDS,
        STREAM.docs("A container for stream introspection commands", "5.0.0",
        "Depends on subcommand.")),
];

// ---------------------------------------------------------------------------------------------
// Parsers.

/// Redis's string2ull: `string2ll` first (a negative value is refused), else strtoull's
/// grammar: leading blanks, an optional sign (a `-` negates modulo 2^64), digits, nothing after.
fn parse_u64_redis(arg: &[u8]) -> Option<u64> {
    if let Some(n) = crate::numfmt::parse_i64(arg) {
        return u64::try_from(n).ok();
    }
    let mut i = arg
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .count();
    let negative = match arg.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = &arg[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative { n.wrapping_neg() } else { n })
}

/// Redis keeps an ID argument in a 128-byte buffer: longer ones are invalid.
const ID_ARG_LEN_MAX_BYTES: usize = 127;

/// A parsed ID: the ID and whether its sequence was given (false for `<ms>-*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ParsedId {
    pub id: StreamId,
    pub seq_given: bool,
}

/// Redis's streamGenericParseIDOrReply. `strict` refuses `-` and `+`; `allow_seq_star` accepts
/// `<ms>-*` (XADD); `missing_seq` is the sequence of a bare `<ms>`.
fn parse_id_with(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_seq_star: bool,
) -> Result<ParsedId, CmdError> {
    let invalid = || CmdError::from(StreamError::InvalidId);
    if arg.len() > ID_ARG_LEN_MAX_BYTES {
        return Err(invalid());
    }
    // Redis reads the argument as a C string: a NUL ends it.
    let arg = arg.split(|&b| b == 0).next().unwrap_or_default();
    match arg {
        b"-" | b"+" if strict => return Err(invalid()),
        b"-" => {
            return Ok(ParsedId {
                id: StreamId::MIN,
                seq_given: true,
            })
        }
        b"+" => {
            return Ok(ParsedId {
                id: StreamId::MAX,
                seq_given: true,
            })
        }
        _ => {}
    }
    let (ms_text, seq_text) = match arg.iter().position(|&b| b == b'-') {
        Some(at) => (&arg[..at], Some(&arg[at + 1..])),
        None => (arg, None),
    };
    let ms = parse_u64_redis(ms_text).ok_or_else(invalid)?;
    match seq_text {
        Some(b"*") if allow_seq_star => Ok(ParsedId {
            id: StreamId::new(ms, 0),
            seq_given: false,
        }),
        Some(text) => Ok(ParsedId {
            id: StreamId::new(ms, parse_u64_redis(text).ok_or_else(invalid)?),
            seq_given: true,
        }),
        None => Ok(ParsedId {
            id: StreamId::new(ms, missing_seq),
            seq_given: true,
        }),
    }
}

/// streamParseStrictIDOrReply with a bare `<ms>` meaning `<ms>-0`.
pub(crate) fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CmdError> {
    parse_id_with(arg, 0, true, false).map(|p| p.id)
}

/// streamParseIDOrReply (`-` and `+` allowed).
pub(crate) fn parse_loose_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    parse_id_with(arg, missing_seq, false, false).map(|p| p.id)
}

/// streamParseIntervalIDOrReply then the step past an exclusive bound: the inclusive start of
/// an interval given as `-`, an ID or `(ID`.
pub(crate) fn parse_range_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    match arg.strip_prefix(b"(").filter(|_| arg.len() > 1) {
        Some(rest) => parse_id_with(rest, 0, true, false)?
            .id
            .next()
            .ok_or(StreamError::InvalidStartId.into()),
        None => parse_loose_id(arg, 0),
    }
}

/// The inclusive end of an interval given as `+`, an ID or `(ID`.
pub(crate) fn parse_range_end(arg: &[u8]) -> Result<StreamId, CmdError> {
    match arg.strip_prefix(b"(").filter(|_| arg.len() > 1) {
        Some(rest) => parse_id_with(rest, u64::MAX, true, false)?
            .id
            .prev()
            .ok_or(StreamError::InvalidEndId.into()),
        None => parse_loose_id(arg, u64::MAX),
    }
}

/// XADD's and XTRIM's trimming options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TrimArgs {
    pub trim: Option<Trim>,
    pub approx: bool,
    /// Most entries to remove (0: no bound).
    pub limit: u64,
}

/// XADD's options before the ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AddArgs {
    trim: TrimArgs,
    no_mkstream: bool,
    /// `None`: `*`.
    id: Option<ParsedId>,
    /// Where the field-value pairs start.
    fields_at: usize,
}

/// Redis's default LIMIT for `~` trimming: 100 nodes' worth, bounded.
fn default_approx_limit(node_entries_max: usize) -> u64 {
    let limit = 100u64.saturating_mul(node_entries_max as u64);
    if limit == 0 || limit > 1_000_000 {
        10_000
    } else {
        limit
    }
}

/// Redis's streamParseAddOrTrimArgsOrReply: options from argument 2; for XADD up to and
/// including the ID.
fn parse_add_or_trim(
    argv: &Argv,
    xadd: bool,
    node_entries_max: usize,
) -> Result<AddArgs, CmdError> {
    let mut out = AddArgs {
        trim: TrimArgs {
            trim: None,
            approx: false,
            limit: 0,
        },
        no_mkstream: false,
        id: None,
        fields_at: argv.len(),
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = &argv[i];
        if xadd && opt == b"*" {
            out.fields_at = i + 1;
            break;
        } else if (eq_word(opt, "MAXLEN") || eq_word(opt, "MINID")) && more > 0 {
            if out.trim.trim.is_some() {
                return Err(StreamError::MaxlenWithMinid.into());
            }
            let maxlen = eq_word(opt, "MAXLEN");
            out.trim.approx = false;
            let next = &argv[i + 1];
            if more >= 2 && next == b"~" {
                out.trim.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let value = &argv[i + 1];
            out.trim.trim = Some(if maxlen {
                let n = parse_i64(value)?;
                Trim::MaxLen(u64::try_from(n).map_err(|_| StreamError::MaxlenNegative)?)
            } else {
                Trim::MinId(parse_strict_id(value)?)
            });
            i += 2;
            continue;
        } else if eq_word(opt, "LIMIT") && more > 0 {
            let n = parse_i64(&argv[i + 1])?;
            out.trim.limit = u64::try_from(n).map_err(|_| StreamError::LimitNegative)?;
            limit_given = true;
            i += 2;
            continue;
        } else if xadd && eq_word(opt, "NOMKSTREAM") {
            out.no_mkstream = true;
        } else if xadd {
            out.id = Some(parse_id_with(opt, 0, true, true)?);
            out.fields_at = i + 1;
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if out.trim.limit != 0 && out.trim.trim.is_none() {
        return Err(StreamError::LimitWithoutStrategy.into());
    }
    if !xadd && out.trim.trim.is_none() {
        return Err(StreamError::XtrimWithoutStrategy.into());
    }
    if limit_given {
        if !out.trim.approx {
            return Err(StreamError::LimitWithoutApprox.into());
        }
    } else if out.trim.approx {
        out.trim.limit = default_approx_limit(node_entries_max);
    } else {
        out.trim.limit = 0;
    }
    Ok(out)
}

/// COUNT's value: a negative count reads as 0.
fn parse_count(arg: &[u8]) -> Result<u64, CmdError> {
    Ok(u64::try_from(parse_i64(arg)?).unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// Replies.

pub(crate) fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

/// `[id, [field, value, …]]`.
pub(crate) fn entry_reply(e: &EntryView<'_>) -> Reply {
    let mut flat = Vec::new();
    for (field, value) in e.pairs() {
        flat.push(Reply::bulk(field));
        flat.push(Reply::bulk(value));
    }
    Reply::Array(vec![id_reply(e.id), Reply::Array(flat)])
}

/// Entries in `start..=end`, at most `count` (0: all).
pub(crate) fn range_reply(
    s: &StreamValue,
    start: StreamId,
    end: StreamId,
    rev: bool,
    count: u64,
) -> Reply {
    let mut out = Vec::new();
    s.log().range(start, end, rev, |e| {
        out.push(entry_reply(&e));
        count == 0 || (out.len() as u64) < count
    });
    Reply::Array(out)
}

// ---------------------------------------------------------------------------------------------
// Handlers.

/// The ID XADD gives a new entry, as Redis's streamAppendItem picks it; `None` when it is not
/// above the stream's top (EDOM).
fn next_add_id(last: StreamId, given: Option<ParsedId>, now_ms: u64) -> Option<StreamId> {
    let id = match given {
        Some(ParsedId {
            id,
            seq_given: true,
        }) => id,
        Some(ParsedId { id, .. }) if id.ms == last.ms => {
            StreamId::new(last.ms, last.seq.checked_add(1)?)
        }
        Some(ParsedId { id, .. }) => StreamId::new(id.ms, 0),
        None if last.ms >= now_ms => last.next()?,
        None => StreamId::new(now_ms, 0),
    };
    (id > last).then_some(id)
}

fn xadd(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let args = parse_add_or_trim(argv, true, ecx.limits().stream.node_entries_max)?;
    let fields = argv.len().saturating_sub(args.fields_at);
    if fields < 2 || !fields.is_multiple_of(2) {
        return Err(CmdError::WrongArity("xadd".into()));
    }
    if let Some(ParsedId {
        id: StreamId::MIN,
        seq_given: true,
    }) = args.id
    {
        return Err(StreamError::XaddIdZero.into());
    }
    let now_ms = ecx.now_ms();
    let if_absent = if args.no_mkstream {
        IfAbsent::Skip
    } else {
        IfAbsent::Create
    };
    let added = ecx.edit_stream(&argv[1], if_absent, |s, limits| {
        let last = s.log().last_id();
        if last == StreamId::MAX {
            return Err(StreamError::IdsExhausted.into());
        }
        let id = next_add_id(last, args.id, now_ms).ok_or(StreamError::XaddIdNotAboveTop)?;
        let pairs: Vec<(&[u8], &[u8])> = (args.fields_at..argv.len())
            .step_by(2)
            .map(|i| (&argv[i], &argv[i + 1]))
            .collect();
        let log = s.log_mut();
        log.append(id, &pairs, limits);
        if let Some(trim) = args.trim.trim {
            log.trim(trim, args.trim.approx, args.trim.limit);
        }
        Ok((id, Change::Modified))
    })?;
    Ok(added.map_or(Reply::Nil, id_reply))
}

fn range_command(ecx: &mut ExecCx, argv: &Argv, rev: bool) -> Result<Reply, CmdError> {
    let (start_arg, end_arg) = if rev {
        (&argv[3], &argv[2])
    } else {
        (&argv[2], &argv[3])
    };
    let start = parse_range_start(start_arg)?;
    let end = parse_range_end(end_arg)?;
    let mut count: Option<u64> = None;
    let mut j = 4;
    while j < argv.len() {
        if eq_word(&argv[j], "COUNT") && j + 1 < argv.len() {
            count = Some(parse_count(&argv[j + 1])?);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let Some(s) = ecx.read_stream(&argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    match count {
        Some(0) => Ok(Reply::NilArray),
        count => Ok(range_reply(s, start, end, rev, count.unwrap_or(0))),
    }
}

fn xrange(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    range_command(ecx, argv, false)
}

fn xrevrange(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    range_command(ecx, argv, true)
}

fn xlen(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let len = ecx.read_stream(&argv[1])?.map_or(0, StreamValue::len);
    Ok(Reply::Int(len as i64))
}

/// XDEL looks the key up before it parses the IDs: a missing key answers 0 whatever they are.
fn xdel(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let deleted = ecx.edit_stream(&argv[1], IfAbsent::Skip, |s, _| {
        let ids = argv
            .iter()
            .skip(2)
            .map(parse_strict_id)
            .collect::<Result<Vec<_>, _>>()?;
        let log = s.log_mut();
        let deleted = ids.iter().filter(|id| log.delete(**id)).count();
        let change = if deleted > 0 {
            Change::Shrunk
        } else {
            Change::Unchanged
        };
        Ok((deleted, change))
    })?;
    Ok(Reply::Int(deleted.unwrap_or(0) as i64))
}

fn xtrim(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let args = parse_add_or_trim(argv, false, ecx.limits().stream.node_entries_max)?;
    let trim = args.trim.trim.expect("XTRIM has a strategy");
    let removed = ecx.edit_stream(&argv[1], IfAbsent::Skip, |s, _| {
        let removed = s.log_mut().trim(trim, args.trim.approx, args.trim.limit);
        let change = if removed > 0 {
            Change::Shrunk
        } else {
            Change::Unchanged
        };
        Ok((removed, change))
    })?;
    Ok(Reply::Int(removed.unwrap_or(0) as i64))
}

fn xsetid(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let id = parse_strict_id(&argv[2])?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if eq_word(&argv[i], "ENTRIESADDED") && more > 0 {
            let n = parse_i64(&argv[i + 1])?;
            entries_added = Some(u64::try_from(n).map_err(|_| StreamError::EntriesAddedNegative)?);
        } else if eq_word(&argv[i], "MAXDELETEDID") && more > 0 {
            max_deleted = parse_strict_id(&argv[i + 1])?;
            if id < max_deleted {
                return Err(StreamError::XsetidIdBelowMaxDeleted.into());
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let done = ecx.edit_stream(&argv[1], IfAbsent::Skip, |s, _| {
        let log = s.log_mut();
        if !log.is_empty() {
            let top = log.edge(true).map_or(StreamId::MIN, |e| e.id);
            if id < top {
                return Err(StreamError::XsetidIdBelowTop.into());
            }
            if entries_added.is_some_and(|n| log.len() > n) {
                return Err(StreamError::XsetidEntriesAddedBelowLength.into());
            }
        }
        let added = entries_added.unwrap_or(log.entries_added());
        let max_deleted = if max_deleted.is_zero() {
            log.max_deleted_id()
        } else {
            max_deleted
        };
        log.set_meta(id, added, max_deleted);
        // Redis's XSETID signals no WATCH (checked against redis-server 7.0).
        Ok(((), Change::Unchanged))
    })?;
    match done {
        Some(()) => Ok(Reply::OK),
        None => Err(CmdError::NoSuchKey),
    }
}

// ---------------------------------------------------------------------------------------------
// XREAD.

/// XREAD's and XREADGROUP's options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReadArgs {
    /// At most this many entries per stream (0: no bound).
    pub count: u64,
    /// BLOCK's timeout in ms (0: forever); `None` without BLOCK.
    pub block_ms: Option<u64>,
    /// Where the keys start; as many IDs follow them.
    pub streams_at: usize,
    pub streams_len: usize,
    /// XREADGROUP's group and consumer.
    pub group: Option<(Vec<u8>, Vec<u8>)>,
    pub noack: bool,
}

/// Redis's xreadCommand option loop.
pub(crate) fn parse_read(argv: &Argv, xreadgroup: bool) -> Result<ReadArgs, CmdError> {
    let mut out = ReadArgs {
        count: 0,
        block_ms: None,
        streams_at: 0,
        streams_len: 0,
        group: None,
        noack: false,
    };
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = &argv[i];
        if eq_word(opt, "BLOCK") && more > 0 {
            i += 1;
            let ms = parse_i64(&argv[i]).map_err(|_| StreamError::TimeoutNotInteger)?;
            out.block_ms = Some(u64::try_from(ms).map_err(|_| StreamError::TimeoutNegative)?);
        } else if eq_word(opt, "COUNT") && more > 0 {
            i += 1;
            out.count = parse_count(&argv[i])?;
        } else if eq_word(opt, "STREAMS") && more > 0 {
            out.streams_at = i + 1;
            let rest = argv.len() - out.streams_at;
            if !rest.is_multiple_of(2) {
                return Err(if xreadgroup {
                    StreamError::Unbalanced("XREADGROUP", '>')
                } else {
                    StreamError::Unbalanced("XREAD", '$')
                }
                .into());
            }
            out.streams_len = rest / 2;
            break;
        } else if eq_word(opt, "GROUP") && more >= 2 {
            if !xreadgroup {
                return Err(StreamError::GroupInXread.into());
            }
            out.group = Some((argv[i + 1].to_vec(), argv[i + 2].to_vec()));
            i += 2;
        } else if eq_word(opt, "NOACK") {
            if !xreadgroup {
                return Err(StreamError::NoackInXread.into());
            }
            out.noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if out.streams_at == 0 {
        return Err(CmdError::Syntax);
    }
    if xreadgroup && out.group.is_none() {
        return Err(StreamError::MissingGroup.into());
    }
    Ok(out)
}

/// One key of an XREAD: entries above `after` are new to the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReadKey {
    pub key: Vec<u8>,
    pub after: StreamId,
}

/// XREAD's attempt: the keys with entries above their ID, as Redis's reply (a map in RESP3),
/// or `None` when no key has any (then a blocked reader waits; issue 12's framework will call
/// this again when one of the keys is written).
pub(crate) fn read_attempt(
    ecx: &mut ExecCx,
    keys: &[ReadKey],
    count: u64,
) -> Result<Option<Reply>, CmdError> {
    let mut served = Vec::new();
    for k in keys {
        let Some(s) = ecx.read_stream(&k.key)? else {
            continue;
        };
        let top = s.log().edge(true).map(|e| e.id);
        if top.is_none_or(|top| top <= k.after) {
            continue;
        }
        let Some(start) = k.after.next() else {
            continue;
        };
        let entries = range_reply(s, start, StreamId::MAX, false, count);
        served.push((Reply::bulk(k.key.clone()), entries));
    }
    Ok((!served.is_empty()).then_some(Reply::MapOrPairs(served)))
}

fn xread(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let args = parse_read(argv, false)?;
    let mut keys = Vec::with_capacity(args.streams_len);
    for n in 0..args.streams_len {
        let key = &argv[args.streams_at + n];
        let id_arg = &argv[args.streams_at + args.streams_len + n];
        let stream = ecx.read_stream(key)?;
        let after = match id_arg {
            b"$" => stream.map_or(StreamId::MIN, |s| s.log().last_id()),
            b">" => return Err(StreamError::GreaterInXread.into()),
            _ => parse_strict_id(id_arg)?,
        };
        keys.push(ReadKey {
            key: key.to_vec(),
            after,
        });
    }
    if let Some(reply) = read_attempt(ecx, &keys, args.count)? {
        return Ok(reply);
    }
    Ok(Reply::NilArray)
}

/// XREAD and XREADGROUP with BLOCK wait for entries (`node::blocking`).
pub const BLOCKING: &[(&str, Blocking)] = &[
    (
        "xread",
        Blocking {
            timeout: read_timeout,
            serve: serve_xread,
            kind: Kind::Stream,
            ready: Some(xread_ready),
            prepare: Some(resolve_dollars),
            waits_on: WaitsOn::AllKeys,
            retry: None,
        },
    ),
    (
        "xreadgroup",
        Blocking {
            timeout: read_timeout,
            serve: groups::serve_blocked_group_read,
            kind: Kind::Stream,
            ready: Some(groups::group_read_ready),
            prepare: None,
            waits_on: WaitsOn::AllKeys,
            retry: Some(groups::retry_group_read),
        },
    ),
];

/// BLOCK's milliseconds (the last BLOCK wins; 0 waits forever); no BLOCK, no wait.
fn read_timeout(argv: &Argv) -> Result<Timeout, CmdError> {
    let args = parse_read(argv, eq_word(&argv[0], "XREADGROUP"))?;
    Ok(match args.block_ms {
        None => Timeout::NoWait,
        Some(0) => Timeout::Forever,
        Some(ms) => Timeout::AfterMs(ms),
    })
}

/// The stream under a ready key, if it holds one.
fn stream_of(value: Option<ValueRef<'_>>) -> Option<&StreamValue> {
    match value {
        Some(ValueRef::Coll(Collection::Stream(s))) => Some(s),
        _ => None,
    }
}

/// The ID after which a waiting XREAD wants `key`'s entries: its first mention's.
fn waiting_after(argv: &Argv, key: &[u8]) -> Option<StreamId> {
    let args = parse_read(argv, false).ok()?;
    let n = (0..args.streams_len).find(|&n| &argv[args.streams_at + n] == key)?;
    parse_strict_id(&argv[args.streams_at + args.streams_len + n]).ok()
}

/// XREAD's `$` becomes the stream's last ID (0-0 without a stream), so that the wait is for
/// entries added after the call, as Redis records it when it blocks. Looked up without
/// counting, as Redis parses `$` in the lookup it already counted.
fn resolve_dollars(ecx: &mut ExecCx, argv: &Argv) -> Result<Argv, CmdError> {
    let args = parse_read(argv, false)?;
    let now_ms = ecx.read_now_ms();
    let mut resolved = Argv::from_slices(&[&argv[0]]);
    for (n, arg) in argv.iter().enumerate().skip(1) {
        let is_id = n >= args.streams_at + args.streams_len;
        if !is_id || arg != b"$" {
            resolved.push(arg);
            continue;
        }
        let key = &argv[n - args.streams_len];
        let last = match ecx.db().peek(key, now_ms).map(|e| e.value()) {
            Some(ValueRef::Coll(Collection::Stream(s))) => s.log().last_id(),
            // Another type: left as it is; the attempt answers WRONGTYPE.
            Some(_) => {
                resolved.push(arg);
                continue;
            }
            None => StreamId::MIN,
        };
        resolved.push(last.to_string().as_bytes());
    }
    Ok(resolved)
}

/// A waiting XREAD is woken by entries past its ID: the stream's last ID moved past it (even
/// when those entries were deleted since, as Redis compares the last ID). Serving takes
/// nothing, so every such reader is served.
fn xread_ready(argv: &Argv, key: &[u8], value: Option<ValueRef<'_>>) -> Readiness {
    match (stream_of(value), waiting_after(argv, key)) {
        (Some(s), Some(after)) if s.log().last_id() > after => Readiness::Serves(usize::MAX),
        _ => Readiness::NotThis,
    }
}

/// A woken XREAD answers with the one stream that got entries, as Redis.
fn serve_xread(ecx: &mut ExecCx, argv: &Argv, key: &[u8]) -> Result<Reply, CmdError> {
    let args = parse_read(argv, false)?;
    let Some(after) = waiting_after(argv, key) else {
        return Ok(Reply::NilArray);
    };
    let Some(s) = ecx.read_stream(key)? else {
        return Ok(Reply::NilArray);
    };
    if s.log().last_id() <= after {
        return Ok(Reply::NilArray);
    }
    let entries = match after.next() {
        Some(start) => range_reply(s, start, StreamId::MAX, false, args.count),
        None => Reply::Array(Vec::new()),
    };
    Ok(Reply::MapOrPairs(vec![(
        Reply::bulk(key.to_vec()),
        entries,
    )]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{each, TestCluster};

    /// Keyspace hits and misses as redis-server 7.0 counts them (checked there with CONFIG
    /// RESETSTAT and INFO stats): XREAD and XREADGROUP look each key up twice (to parse its ID,
    /// then to serve it), XACK, XCLAIM and XAUTOCLAIM once, XADD, XDEL and XGROUP not at all.
    #[test]
    fn keyspace_hits_count_as_redis() {
        let cases: [(&[&str], &str); 9] = [
            (
                &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "h", ">"],
                "2 0",
            ),
            (
                &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "h", ">"],
                "2 0",
            ),
            (&["XREAD", "STREAMS", "h", "0"], "2 0"),
            (&["XREAD", "STREAMS", "nosuch", "0"], "0 2"),
            (&["XACK", "h", "g", "1-0"], "1 0"),
            (&["XCLAIM", "h", "g", "c", "0", "1-0"], "1 0"),
            (&["XAUTOCLAIM", "h", "g", "c", "0", "0"], "1 0"),
            (&["XDEL", "h", "9-0"], "0 0"),
            (&["XGROUP", "CREATECONSUMER", "h", "g", "z"], "0 0"),
        ];
        each(|t| {
            t.run(&["XADD", "h", "1-0", "f", "v"]);
            t.run(&["XGROUP", "CREATE", "h", "g", "0"]);
            for (command, want) in cases {
                t.run(&["CONFIG", "RESETSTAT"]);
                t.run(command);
                let info = t.run(&["INFO", "stats"]);
                let field = |name: &str| {
                    let at = info.find(name).expect("the field") + name.len();
                    info[at..]
                        .split("\r\n")
                        .next()
                        .expect("a value")
                        .to_string()
                };
                let got = format!("{} {}", field("keyspace_hits:"), field("keyspace_misses:"));
                assert_eq!(got, want, "{command:?}");
            }
        });
    }

    /// A WATCH on a stream survives the consumer-group commands and XSETID, which Redis 7.0
    /// runs without signalling the key, and is broken by XADD, XDEL, XTRIM and a new key from
    /// XGROUP CREATE MKSTREAM (each checked with two clients on redis-server 7.0).
    #[test]
    fn group_commands_leave_a_watch_alone() {
        let cases: [(&[&str], bool); 11] = [
            (
                &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "w", ">"],
                false,
            ),
            (&["XACK", "w", "g", "1-1"], false),
            (&["XCLAIM", "w", "g", "q", "0", "1-1"], false),
            (&["XAUTOCLAIM", "w", "g", "q", "0", "0"], false),
            (&["XGROUP", "CREATECONSUMER", "w", "g", "new"], false),
            (&["XGROUP", "DESTROY", "w", "g"], false),
            (&["XSETID", "w", "5-5"], false),
            (&["XADD", "w", "2-2", "a", "b"], true),
            (&["XDEL", "w", "1-1"], true),
            (&["XTRIM", "w", "MAXLEN", "0"], true),
            (&["XGROUP", "CREATE", "fresh", "g", "0", "MKSTREAM"], true),
        ];
        for threads in [1, 3] {
            for (write, aborts) in cases {
                let mut c = TestCluster::new(threads);
                let (watcher, writer) = (c.connect(0), c.connect(threads - 1));
                c.cmd(writer, &["XADD", "w", "1-1", "f", "v"]);
                c.cmd(writer, &["XGROUP", "CREATE", "w", "g", "0"]);
                c.cmd(
                    writer,
                    &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "w", ">"],
                );
                c.cmd(watcher, &["WATCH", "w", "fresh"]);
                c.cmd(writer, write);
                c.cmd(watcher, &["MULTI"]);
                c.cmd(watcher, &["PING"]);
                let exec = c.cmd_text(watcher, &["EXEC"]);
                let want = if aborts { "*-1\r\n" } else { "*1\r\n+PONG\r\n" };
                assert_eq!(exec, want, "{write:?} on {threads} threads");
            }
        }
    }

    /// XREAD and XREADGROUP over keys of several shards read (and, for groups, write) them in
    /// one step: every key is served, and each group's pending list lands on its own shard.
    #[test]
    fn reads_span_shards() {
        let keys = ["a", "b", "c", "d", "e", "f"];
        let mut c = TestCluster::new(3);
        let conn = c.connect(0);
        for (n, key) in keys.iter().enumerate() {
            let id = format!("{}-0", n + 1);
            c.cmd(conn, &["XADD", key, &id, "f", key]);
            c.cmd(conn, &["XGROUP", "CREATE", key, "g", "0"]);
        }
        let mut read = vec!["XREAD", "COUNT", "5", "STREAMS"];
        read.extend(keys);
        read.extend(["0"; 6]);
        let reply = c.cmd_text(conn, &read);
        assert!(reply.starts_with("*6\r\n"), "{reply}");
        let mut group = vec!["XREADGROUP", "GROUP", "g", "alice", "STREAMS"];
        group.extend(keys);
        group.extend([">"; 6]);
        let reply = c.cmd_text(conn, &group);
        assert!(reply.starts_with("*6\r\n"), "{reply}");
        for (n, key) in keys.iter().enumerate() {
            let id = format!("{}-0", n + 1);
            let pending = c.cmd_text(conn, &["XPENDING", key, "g"]);
            assert!(pending.starts_with("*4\r\n:1\r\n"), "{key}: {pending}");
            assert!(pending.contains(&id), "{key}: {pending}");
        }
        assert_eq!(c.cmd_text(conn, &group), "*-1\r\n");
        let mut missing = group.clone();
        missing[5] = "nosuch";
        assert!(c.cmd_text(conn, &missing).starts_with("-NOGROUP"));
    }

    #[test]
    fn ids_parse_as_redis() {
        let strict = |s: &str| parse_strict_id(s.as_bytes()).ok();
        assert_eq!(strict("1-2"), Some(StreamId::new(1, 2)));
        assert_eq!(strict("5"), Some(StreamId::new(5, 0)));
        assert_eq!(strict("-"), None);
        assert_eq!(strict("+"), None);
        assert_eq!(strict("-1"), None);
        assert_eq!(strict("1-"), None);
        assert_eq!(strict("a-1"), None);
        assert_eq!(
            strict("18446744073709551615-18446744073709551615"),
            Some(StreamId::MAX)
        );
        assert_eq!(strict("18446744073709551616"), None);
        assert_eq!(strict("+5-1"), Some(StreamId::new(5, 1)));
        assert_eq!(strict(" 5"), Some(StreamId::new(5, 0)));
        assert_eq!(parse_range_start(b"(1-1").ok(), Some(StreamId::new(1, 2)));
        assert_eq!(
            parse_range_end(b"(1-0").ok(),
            Some(StreamId::new(0, u64::MAX))
        );
        assert!(parse_range_start(b"(18446744073709551615-18446744073709551615").is_err());
        assert!(parse_range_end(b"(0-0").is_err());
        assert_eq!(parse_range_end(b"5").ok(), Some(StreamId::new(5, u64::MAX)));
        let star = parse_id_with(b"7-*", 0, true, true).unwrap();
        assert!(!star.seq_given);
    }

    #[test]
    fn add_ids_follow_redis() {
        let last = StreamId::new(5, 3);
        let given = |ms, seq_given| {
            Some(ParsedId {
                id: StreamId::new(ms, 9),
                seq_given,
            })
        };
        assert_eq!(next_add_id(last, None, 4), Some(StreamId::new(5, 4)));
        assert_eq!(next_add_id(last, None, 9), Some(StreamId::new(9, 0)));
        assert_eq!(
            next_add_id(last, given(5, false), 0),
            Some(StreamId::new(5, 4))
        );
        assert_eq!(next_add_id(last, given(4, false), 0), None);
        assert_eq!(
            next_add_id(last, given(6, true), 0),
            Some(StreamId::new(6, 9))
        );
        assert_eq!(next_add_id(StreamId::MAX, None, 0), None);
    }
}
