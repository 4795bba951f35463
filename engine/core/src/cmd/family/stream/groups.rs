//! Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO, each in
//! t_stream.c's order of checks. A group's `entries-read` and lag follow Redis 7.0's
//! bookkeeping (`StreamLog::estimate_entries_read`, `range_has_tombstones`); delivery and seen
//! times are the step's time.

use super::{
    entry_reply, id_reply, parse_count, parse_loose_id, parse_range_end, parse_range_start,
    parse_strict_id, range_reply,
};
use crate::access::{Change, ExecCx, IfAbsent};
use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64};
use crate::cmd::blocking::Readiness;
use crate::db::stream::{Group, StreamId, StreamLog, ENTRIES_READ_INVALID};
use crate::db::{Collection, StreamValue, ValueRef};
use crate::env::Plant;
use crate::error::{CmdError, StreamError};
use crate::reply::Reply;

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

fn help(lines: &[&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|line| Reply::simple(line)).collect())
}

/// XGROUP HELP (answered by the connection).
pub fn xgroup_help() -> Reply {
    help(XGROUP_HELP)
}

/// XINFO HELP (answered by the connection).
pub fn xinfo_help() -> Reply {
    help(XINFO_HELP)
}

fn xgroup_syntax(argv: &Argv) -> CmdError {
    CmdError::SubcommandSyntax {
        sub: argv[1].to_vec(),
        container: "XGROUP",
    }
}

fn xinfo_syntax(argv: &Argv) -> CmdError {
    CmdError::SubcommandSyntax {
        sub: argv[1].to_vec(),
        container: "XINFO",
    }
}

/// What a consumer-group command reports of its edit: Redis 7.0 changes the stream without
/// `signalModifiedKey`, so a WATCH on the key survives XREADGROUP, XACK, XCLAIM, XAUTOCLAIM and
/// XGROUP (checked against redis-server 7.0); only XGROUP CREATE MKSTREAM's new key is signalled
/// (by the write path, as any new key).
const GROUP_CHANGE: Change = Change::Unchanged;

/// Counts the keyspace hit or miss of a command Redis looks up with lookupKeyRead (XACK,
/// XCLAIM, XAUTOCLAIM) though it writes: only a missing key is a miss.
fn counted<R>(
    ecx: &mut ExecCx,
    result: Result<Option<R>, CmdError>,
) -> Result<Option<R>, CmdError> {
    ecx.count_lookup(!matches!(result, Ok(None)));
    result
}

/// `ENTRIESREAD n`: a non-negative count or -1.
fn parse_entries_read(arg: &[u8]) -> Result<i64, CmdError> {
    let n = parse_i64(arg)?;
    if n < 0 && n != ENTRIES_READ_INVALID {
        return Err(StreamError::EntriesReadNegative.into());
    }
    Ok(n)
}

/// XGROUP's checks before any subcommand's own: the key must hold a stream (unless CREATE
/// MKSTREAM), and SETID, CREATECONSUMER and DELCONSUMER need the group.
fn xgroup_checks(ecx: &mut ExecCx, argv: &Argv, mkstream: bool) -> Result<bool, CmdError> {
    let exists = ecx.check_type(&argv[2], crate::db::Kind::Stream)?;
    if mkstream {
        return Ok(exists);
    }
    if !exists {
        return Err(StreamError::XgroupNeedsKey.into());
    }
    let sub = &argv[1];
    let needs_group =
        eq_word(sub, "SETID") || eq_word(sub, "CREATECONSUMER") || eq_word(sub, "DELCONSUMER");
    if needs_group {
        let now = ecx.read_now_ms();
        let has = ecx
            .db()
            .peek(&argv[2], now)
            .and_then(|e| match e.value() {
                crate::db::ValueRef::Coll(crate::db::Collection::Stream(s)) => {
                    Some(s.group(&argv[3]).is_some())
                }
                _ => None,
            })
            .unwrap_or(false);
        if !has {
            return Err(StreamError::NoGroupForKey(argv[3].to_vec(), argv[2].to_vec()).into());
        }
    }
    Ok(true)
}

pub(super) fn xgroup_create(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (mut mkstream, mut entries_read) = (false, ENTRIES_READ_INVALID);
    let mut i = 5;
    while i < argv.len() {
        if eq_word(&argv[i], "MKSTREAM") {
            mkstream = true;
            i += 1;
        } else if eq_word(&argv[i], "ENTRIESREAD") && i + 1 < argv.len() {
            entries_read = parse_entries_read(&argv[i + 1])?;
            i += 2;
        } else {
            return Err(xgroup_syntax(argv));
        }
    }
    xgroup_checks(ecx, argv, mkstream)?;
    if argv.len() > 8 {
        return Err(xgroup_syntax(argv));
    }
    // The ID is checked before MKSTREAM creates anything.
    let given = match &argv[4] {
        b"$" => None,
        arg => Some(parse_strict_id(arg)?),
    };
    let created = ecx.edit_stream(&argv[2], IfAbsent::Create, |s, _| {
        let id = given.unwrap_or(s.log().last_id());
        let created = s.create_group(&argv[3], Group::new(id, entries_read));
        Ok((created, GROUP_CHANGE))
    })?;
    match created {
        Some(true) => Ok(Reply::OK),
        _ => Err(StreamError::BusyGroup.into()),
    }
}

pub(super) fn xgroup_setid(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    xgroup_checks(ecx, argv, false)?;
    if argv.len() != 5 && argv.len() != 7 {
        return Err(xgroup_syntax(argv));
    }
    ecx.edit_stream(&argv[2], IfAbsent::Skip, |s, _| {
        let id = match &argv[4] {
            b"$" => s.log().last_id(),
            arg => parse_loose_id(arg, 0)?,
        };
        let mut entries_read = ENTRIES_READ_INVALID;
        if argv.len() == 7 {
            if !eq_word(&argv[5], "ENTRIESREAD") {
                return Err(xgroup_syntax(argv));
            }
            entries_read = parse_entries_read(&argv[6])?;
        }
        s.with_group(&argv[3], |_, g| {
            g.last_id = id;
            g.entries_read = entries_read;
        });
        Ok(((), GROUP_CHANGE))
    })?;
    Ok(Reply::OK)
}

pub(super) fn xgroup_destroy(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    xgroup_checks(ecx, argv, false)?;
    let destroyed = ecx.edit_stream(&argv[2], IfAbsent::Skip, |s, _| {
        let destroyed = s.destroy_group(&argv[3]);
        Ok((destroyed, GROUP_CHANGE))
    })?;
    if destroyed == Some(true) {
        // Its blocked readers are told (NOGROUP), as Redis signals the key; WATCH is not.
        ecx.signal_blocked(&argv[2]);
    }
    Ok(Reply::Int(i64::from(destroyed == Some(true))))
}

pub(super) fn xgroup_createconsumer(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    xgroup_checks(ecx, argv, false)?;
    let now = ecx.now_ms();
    let created = ecx.edit_stream(&argv[2], IfAbsent::Skip, |s, _| {
        let created = s
            .with_group(&argv[3], |_, g| g.consumer_or_create(&argv[4], now).1)
            .unwrap_or(false);
        Ok((created, GROUP_CHANGE))
    })?;
    Ok(Reply::Int(i64::from(created == Some(true))))
}

pub(super) fn xgroup_delconsumer(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    xgroup_checks(ecx, argv, false)?;
    let pending = ecx.edit_stream(&argv[2], IfAbsent::Skip, |s, _| {
        let pending = s
            .with_group(&argv[3], |_, g| g.delete_consumer(&argv[4]))
            .flatten();
        Ok((pending.unwrap_or(0), GROUP_CHANGE))
    })?;
    Ok(Reply::Int(pending.unwrap_or(0) as i64))
}

// ---------------------------------------------------------------------------------------------
// XREADGROUP.

/// One key of an XREADGROUP: new entries (`>`) or the consumer's pending entries above an ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupReadKey {
    pub key: Vec<u8>,
    /// `None` for `>`.
    pub history_after: Option<StreamId>,
}

/// What one XREADGROUP serves: the group, the consumer and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupRead {
    pub group: Vec<u8>,
    pub consumer: Vec<u8>,
    pub count: u64,
    pub noack: bool,
}

pub(super) fn xreadgroup(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let args = super::parse_read(argv, true)?;
    let (group, consumer) = args.group.clone().expect("parse_read requires GROUP");
    let mut keys = Vec::with_capacity(args.streams_len);
    for n in 0..args.streams_len {
        let key = &argv[args.streams_at + n];
        let id_arg = &argv[args.streams_at + args.streams_len + n];
        let has_group = ecx
            .read_stream(key)?
            .is_some_and(|s| s.group(&group).is_some());
        if !has_group {
            return Err(StreamError::NoGroupToRead(key.to_vec(), group.clone()).into());
        }
        let history_after = match id_arg {
            b"$" => return Err(StreamError::DollarInXreadgroup.into()),
            b">" => None,
            arg => Some(parse_strict_id(arg)?),
        };
        keys.push(GroupReadKey {
            key: key.to_vec(),
            history_after,
        });
    }
    let read = GroupRead {
        group,
        consumer,
        count: args.count,
        noack: args.noack,
    };
    if let Some(reply) = read_group_attempt(ecx, &keys, &read)? {
        return Ok(reply);
    }
    Ok(Reply::NilArray)
}

/// The group and consumer of a waiting XREADGROUP, and whether it waits on `key` for new
/// entries (`>`; a history read never waits).
fn waiting_group_read(argv: &Argv, key: &[u8]) -> Option<GroupRead> {
    let args = super::parse_read(argv, true).ok()?;
    let n = (0..args.streams_len).find(|&n| &argv[args.streams_at + n] == key)?;
    if &argv[args.streams_at + args.streams_len + n] != b">" {
        return None;
    }
    let (group, consumer) = args.group?;
    Some(GroupRead {
        group,
        consumer,
        count: args.count,
        noack: args.noack,
    })
}

/// A waiting XREADGROUP is woken by entries past its group's last ID, and, to be told so, by
/// its stream or group going away (Redis's UNBLOCKED and NOGROUP replies).
pub(super) fn group_read_ready(argv: &Argv, key: &[u8], value: Option<ValueRef<'_>>) -> Readiness {
    let Some(read) = waiting_group_read(argv, key) else {
        return Readiness::NotThis;
    };
    let Some(ValueRef::Coll(Collection::Stream(s))) = value else {
        return Readiness::Serves(usize::MAX);
    };
    match s.group(&read.group) {
        Some(g) if g.last_id >= s.log().last_id() => Readiness::NotThis,
        // Every such reader is told: the serve decides which of them get entries.
        _ => Readiness::Serves(usize::MAX),
    }
}

/// Serves a woken XREADGROUP from `key`, as Redis's serveClientsBlockedOnStreamKey: the
/// entries past the group's last ID (none when they were deleted since: an empty list), or
/// an error when the stream or the group went away.
pub(super) fn serve_blocked_group_read(
    ecx: &mut ExecCx,
    argv: &Argv,
    key: &[u8],
) -> Result<Reply, CmdError> {
    let Some(read) = waiting_group_read(argv, key) else {
        return Ok(Reply::NilArray);
    };
    check_still_there(ecx, key, &read.group)?;
    let now = ecx.now_ms();
    let advance = !ecx.env().planted(Plant::XreadgroupRedeliversNew);
    let k = GroupReadKey {
        key: key.to_vec(),
        history_after: None,
    };
    let served = ecx.edit_stream(key, IfAbsent::Skip, |s, _| {
        let last = s.log().last_id();
        let reply = s
            .with_group(&read.group, |log, g| {
                if g.last_id >= last {
                    return None;
                }
                Some(serve_group(log, g, &k, &read, now, advance).unwrap_or(Reply::Array(vec![])))
            })
            .flatten();
        Ok((reply, GROUP_CHANGE))
    })?;
    Ok(match served.flatten() {
        Some(entries) => Reply::MapOrPairs(vec![(Reply::bulk(key.to_vec()), entries)]),
        None => Reply::NilArray,
    })
}

/// The errors a woken XREADGROUP answers when its stream or group went away while it waited.
fn check_still_there(ecx: &mut ExecCx, key: &[u8], group: &[u8]) -> Result<(), CmdError> {
    let now_ms = ecx.read_now_ms();
    match ecx.db().peek(key, now_ms).map(|e| e.value()) {
        Some(ValueRef::Coll(Collection::Stream(s))) if s.group(group).is_some() => Ok(()),
        Some(ValueRef::Coll(Collection::Stream(_))) => Err(StreamError::BlockedGroupGone.into()),
        _ => Err(StreamError::BlockedStreamGone.into()),
    }
}

/// A woken XREADGROUP whose keys span shards tries again over all of them: an error if one of
/// its streams or its group went away, else the read.
pub(super) fn retry_group_read(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let args = super::parse_read(argv, true)?;
    let (group, _) = args.group.clone().expect("parse_read requires GROUP");
    for n in 0..args.streams_len {
        check_still_there(ecx, &argv[args.streams_at + n], &group)?;
    }
    xreadgroup(ecx, argv)
}

/// XREADGROUP's attempt: for each key, the consumer's history, or the entries above the
/// group's last ID (delivered: the group's last ID and read count move, and unless NOACK they
/// join the pending lists). `None` when no key had anything to serve.
pub(crate) fn read_group_attempt(
    ecx: &mut ExecCx,
    keys: &[GroupReadKey],
    read: &GroupRead,
) -> Result<Option<Reply>, CmdError> {
    let now = ecx.now_ms();
    let advance = !ecx.env().planted(Plant::XreadgroupRedeliversNew);
    let mut served = Vec::new();
    for k in keys {
        let reply = ecx.edit_stream(&k.key, IfAbsent::Skip, |s, _| {
            let reply = s
                .with_group(&read.group, |log, g| {
                    serve_group(log, g, k, read, now, advance)
                })
                .flatten();
            Ok((reply, GROUP_CHANGE))
        });
        // Redis looks each key up again to serve it (lookupKeyRead): a second hit or miss.
        let reply = counted(ecx, reply)?;
        if let Some(entries) = reply.flatten() {
            served.push((Reply::bulk(k.key.clone()), entries));
        }
    }
    Ok((!served.is_empty()).then_some(Reply::MapOrPairs(served)))
}

fn serve_group(
    log: &StreamLog,
    g: &mut Group,
    k: &GroupReadKey,
    read: &GroupRead,
    now: u64,
    advance: bool,
) -> Option<Reply> {
    let (consumer, _) = g.consumer_or_create(&read.consumer, now);
    consumer.seen_time_ms = now;
    if let Some(after) = k.history_after {
        return Some(serve_history(
            log,
            g,
            &read.consumer,
            after,
            read.count,
            now,
        ));
    }
    let top = log.edge(true)?.id;
    if top <= g.last_id {
        return None;
    }
    let start = g.last_id.next()?;
    let mut entries = Vec::new();
    let mut ids = Vec::new();
    log.range(start, StreamId::MAX, false, |e| {
        entries.push(entry_reply(&e));
        ids.push(e.id);
        read.count == 0 || (ids.len() as u64) < read.count
    });
    for id in ids {
        if id > g.last_id && advance {
            if g.entries_read != ENTRIES_READ_INVALID && !log.range_has_tombstones(Some(id), None) {
                g.entries_read += 1;
            } else if log.entries_added() > 0 {
                g.entries_read = log.estimate_entries_read(id);
            }
            g.last_id = id;
        }
        if !read.noack {
            g.assign(id, &read.consumer, now, 1);
        }
    }
    Some(Reply::Array(entries))
}

/// The consumer's pending entries above `after`: each delivered again (its time and count
/// move), or `[id, nil]` for an entry deleted since.
fn serve_history(
    log: &StreamLog,
    g: &mut Group,
    consumer: &[u8],
    after: StreamId,
    count: u64,
    now: u64,
) -> Reply {
    let Some(start) = after.next() else {
        return Reply::Array(Vec::new());
    };
    let ids: Vec<StreamId> = g.consumers[consumer]
        .pending
        .range(start..)
        .take(if count == 0 {
            usize::MAX
        } else {
            count as usize
        })
        .copied()
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match log.get(id) {
            Some(e) => {
                out.push(entry_reply(&e));
                let p = g
                    .pending
                    .get_mut(&id)
                    .expect("a consumer's entry is pending");
                p.delivery_time_ms = now;
                p.delivery_count += 1;
            }
            None => out.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
        }
    }
    Reply::Array(out)
}

// ---------------------------------------------------------------------------------------------
// XACK, XPENDING, XCLAIM, XAUTOCLAIM.

/// XACK answers 0 for a missing key or group before it parses the IDs.
pub(super) fn xack(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let acked = ecx.edit_stream(&argv[1], IfAbsent::Skip, |s, _| {
        if s.group(&argv[2]).is_none() {
            return Ok((0, GROUP_CHANGE));
        }
        let ids = argv
            .iter()
            .skip(3)
            .map(parse_strict_id)
            .collect::<Result<Vec<_>, _>>()?;
        let acked = s
            .with_group(&argv[2], |_, g| ids.iter().filter(|id| g.ack(**id)).count())
            .unwrap_or(0);
        Ok((acked, GROUP_CHANGE))
    });
    let acked = counted(ecx, acked)?;
    Ok(Reply::Int(acked.unwrap_or(0) as i64))
}

fn no_key_or_group(argv: &Argv) -> CmdError {
    StreamError::NoKeyOrGroup(argv[1].to_vec(), argv[2].to_vec()).into()
}

/// XPENDING's extended form.
struct PendingRange {
    min_idle: i64,
    start: StreamId,
    end: StreamId,
    count: u64,
    consumer: Option<Vec<u8>>,
}

fn parse_pending_range(argv: &Argv) -> Result<Option<PendingRange>, CmdError> {
    let argc = argv.len();
    if argc == 3 {
        return Ok(None);
    }
    if !(6..=9).contains(&argc) {
        return Err(CmdError::Syntax);
    }
    let mut at = 3;
    let mut min_idle = 0;
    if eq_word(&argv[3], "IDLE") {
        min_idle = parse_i64(&argv[4])?;
        if argc < 8 {
            return Err(CmdError::Syntax);
        }
        at += 2;
    }
    let count = parse_count(&argv[at + 2])?;
    let start = parse_range_start(&argv[at])?;
    let end = parse_range_end(&argv[at + 1])?;
    let consumer = argv.get(at + 3).map(|c| c.to_vec());
    Ok(Some(PendingRange {
        min_idle,
        start,
        end,
        count,
        consumer,
    }))
}

pub(super) fn xpending(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let range = parse_pending_range(argv)?;
    let now = ecx.now_ms();
    let Some(g) = ecx.read_stream(&argv[1])?.and_then(|s| s.group(&argv[2])) else {
        return Err(no_key_or_group(argv));
    };
    let Some(r) = range else {
        let (Some(first), Some(last)) = (g.pending.keys().next(), g.pending.keys().next_back())
        else {
            return Ok(Reply::Array(vec![
                Reply::Int(0),
                Reply::Nil,
                Reply::Nil,
                Reply::NilArray,
            ]));
        };
        let owners = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pending.is_empty())
            .map(|(name, c)| {
                Reply::Array(vec![
                    Reply::bulk(name.clone()),
                    Reply::bulk_int(c.pending.len() as i64),
                ])
            })
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Int(g.pending.len() as i64),
            id_reply(*first),
            id_reply(*last),
            Reply::Array(owners),
        ]));
    };
    let ids: Vec<StreamId> = match &r.consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => c.pending.range(r.start..).copied().collect(),
            None => return Ok(Reply::Array(Vec::new())),
        },
        None => g.pending.range(r.start..).map(|(id, _)| *id).collect(),
    };
    let mut out = Vec::new();
    let mut count = r.count;
    for id in ids {
        if count == 0 || id > r.end {
            break;
        }
        let p = &g.pending[&id];
        let idle = now as i64 - p.delivery_time_ms as i64;
        if r.min_idle != 0 && idle < r.min_idle {
            continue;
        }
        count -= 1;
        out.push(Reply::Array(vec![
            id_reply(id),
            Reply::bulk(p.consumer.clone()),
            Reply::Int(idle.max(0)),
            Reply::Int(p.delivery_count as i64),
        ]));
    }
    Ok(Reply::Array(out))
}

/// XCLAIM's options after the IDs.
struct ClaimOptions {
    force: bool,
    justid: bool,
    /// The delivery time to set (IDLE or TIME), before the sanity bound.
    delivery_time: Option<i64>,
    retry_count: Option<i64>,
    last_id: StreamId,
}

fn parse_claim_options(argv: &Argv, from: usize, now: u64) -> Result<ClaimOptions, CmdError> {
    let mut o = ClaimOptions {
        force: false,
        justid: false,
        delivery_time: None,
        retry_count: None,
        last_id: StreamId::MIN,
    };
    let mut j = from;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = &argv[j];
        if eq_word(opt, "FORCE") {
            o.force = true;
        } else if eq_word(opt, "JUSTID") {
            o.justid = true;
        } else if eq_word(opt, "IDLE") && more > 0 {
            j += 1;
            let idle = parse_i64(&argv[j]).map_err(|_| StreamError::ClaimIdle)?;
            o.delivery_time = Some((now as i64).wrapping_sub(idle));
        } else if eq_word(opt, "TIME") && more > 0 {
            j += 1;
            o.delivery_time = Some(parse_i64(&argv[j]).map_err(|_| StreamError::ClaimTime)?);
        } else if eq_word(opt, "RETRYCOUNT") && more > 0 {
            j += 1;
            o.retry_count = Some(parse_i64(&argv[j]).map_err(|_| StreamError::ClaimRetryCount)?);
        } else if eq_word(opt, "LASTID") && more > 0 {
            j += 1;
            o.last_id = parse_strict_id(&argv[j])?;
        } else {
            return Err(StreamError::ClaimUnknownOption(opt.to_vec()).into());
        }
        j += 1;
    }
    Ok(o)
}

/// An entry as XCLAIM and XAUTOCLAIM answer it: its ID (JUSTID) or the entry, nil if gone.
fn claimed_reply(log: &StreamLog, id: StreamId, justid: bool) -> Reply {
    if justid {
        return id_reply(id);
    }
    log.get(id).map_or(Reply::Nil, |e| entry_reply(&e))
}

pub(super) fn xclaim(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now = ecx.now_ms();
    let reply = ecx.edit_stream(&argv[1], IfAbsent::Skip, |s, _| {
        if s.group(&argv[2]).is_none() {
            return Err(no_key_or_group(argv));
        }
        let min_idle = parse_i64(&argv[4])
            .map_err(|_| StreamError::MinIdleTime("XCLAIM"))?
            .max(0);
        let mut ids = Vec::new();
        let mut j = 5;
        while j < argv.len() {
            match parse_strict_id(&argv[j]) {
                Ok(id) => ids.push(id),
                Err(_) => break,
            }
            j += 1;
        }
        let o = parse_claim_options(argv, j, now)?;
        let delivery_time = match o.delivery_time {
            Some(t) if t >= 0 && t <= now as i64 => t as u64,
            _ => now,
        };
        let consumer = &argv[3];
        let claimed = s
            .with_group(&argv[2], |log, g| {
                if o.last_id > g.last_id {
                    g.last_id = o.last_id;
                }
                let mut out = Vec::new();
                for id in ids {
                    if !log.contains(id) {
                        g.ack(id);
                        continue;
                    }
                    // A FORCE-created entry starts as Redis's new NACK: delivered once.
                    let count_before = match g.pending.get(&id) {
                        Some(p) => {
                            let idle = now as i64 - p.delivery_time_ms as i64;
                            if min_idle != 0 && idle < min_idle {
                                continue;
                            }
                            p.delivery_count
                        }
                        None if o.force => 1,
                        None => continue,
                    };
                    g.consumer_or_create(consumer, now).0.seen_time_ms = now;
                    let count = match o.retry_count {
                        Some(n) if n >= 0 => n as u64,
                        _ if o.justid => count_before,
                        _ => count_before + 1,
                    };
                    g.assign(id, consumer, delivery_time, count);
                    out.push(claimed_reply(log, id, o.justid));
                }
                out
            })
            .expect("the group exists");
        Ok((Reply::Array(claimed), GROUP_CHANGE))
    });
    let reply = counted(ecx, reply)?;
    reply.ok_or_else(|| no_key_or_group(argv))
}

/// XAUTOCLAIM examines at most this many pending entries per entry it may claim.
const AUTOCLAIM_ATTEMPTS_FACTOR: u64 = 10;

pub(super) fn xautoclaim(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let min_idle = parse_i64(&argv[4])
        .map_err(|_| StreamError::MinIdleTime("XAUTOCLAIM"))?
        .max(0);
    let start = parse_range_start(&argv[5])?;
    let (mut count, mut justid) = (100u64, false);
    let count_max = (i64::MAX as u64) / 16;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if eq_word(&argv[j], "COUNT") && more > 0 {
            count = parse_i64(&argv[j + 1])
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .filter(|n| (1..=count_max).contains(n))
                .ok_or(StreamError::CountNotPositive)?;
            j += 1;
        } else if eq_word(&argv[j], "JUSTID") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let now = ecx.now_ms();
    let consumer = &argv[3];
    let reply = ecx.edit_stream(&argv[1], IfAbsent::Skip, |s, _| {
        let reply = s.with_group(&argv[2], |log, g| {
            let mut attempts = count * AUTOCLAIM_ATTEMPTS_FACTOR;
            let mut claimed = Vec::new();
            let mut deleted = Vec::new();
            let mut last_seen: Option<StreamId> = None;
            loop {
                if attempts == 0 {
                    break;
                }
                attempts -= 1;
                if count == 0 {
                    break;
                }
                let from = match last_seen {
                    Some(id) => match id.next() {
                        Some(next) => next,
                        None => break,
                    },
                    None => start,
                };
                let Some((&id, p)) = g.pending.range(from..).next() else {
                    break;
                };
                last_seen = Some(id);
                if !log.contains(id) {
                    g.ack(id);
                    deleted.push(id_reply(id));
                    count -= 1;
                    continue;
                }
                if min_idle != 0 && (now as i64 - p.delivery_time_ms as i64) < min_idle {
                    continue;
                }
                let delivered = p.delivery_count + u64::from(!justid);
                g.consumer_or_create(consumer, now).0.seen_time_ms = now;
                g.assign(id, consumer, now, delivered);
                claimed.push(claimed_reply(log, id, justid));
                count -= 1;
            }
            let from = last_seen.map_or(Some(start), StreamId::next);
            let cursor = from
                .and_then(|from| g.pending.range(from..).next().map(|(id, _)| *id))
                .unwrap_or(StreamId::MIN);
            Reply::Array(vec![
                id_reply(cursor),
                Reply::Array(claimed),
                Reply::Array(deleted),
            ])
        });
        let reply = reply.ok_or_else(|| no_key_or_group(argv))?;
        Ok((reply, GROUP_CHANGE))
    });
    let reply = counted(ecx, reply)?;
    reply.ok_or_else(|| no_key_or_group(argv))
}

// ---------------------------------------------------------------------------------------------
// XINFO.

/// `lag` as Redis 7.0's streamReplyWithCGLag: nil when it cannot be known.
fn lag_reply(log: &StreamLog, g: &Group) -> Reply {
    let added = log.entries_added() as i64;
    if added == 0 {
        return Reply::Int(0);
    }
    if g.entries_read != ENTRIES_READ_INVALID && !log.range_has_tombstones(Some(g.last_id), None) {
        return Reply::Int(added - g.entries_read);
    }
    match log.estimate_entries_read(g.last_id) {
        ENTRIES_READ_INVALID => Reply::Nil,
        read => Reply::Int(added - read),
    }
}

fn entries_read_reply(g: &Group) -> Reply {
    match g.entries_read {
        ENTRIES_READ_INVALID => Reply::Nil,
        n => Reply::Int(n),
    }
}

fn field(name: &'static str, value: Reply) -> (Reply, Reply) {
    (Reply::bulk(name), value)
}

pub(super) fn xinfo_stream(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let s = ecx.read_stream(&argv[2])?.ok_or(CmdError::NoSuchKey)?;
    let opts: Vec<&[u8]> = argv.iter().skip(3).collect();
    let full_count = match opts.len() {
        0 => None,
        1 | 3 if eq_word(opts[0], "FULL") => {
            if opts.len() == 1 {
                Some(10)
            } else if eq_word(opts[1], "COUNT") {
                let n = parse_i64(opts[2])?;
                Some(if n < 0 { 10 } else { n as u64 })
            } else {
                return Err(xinfo_syntax(argv));
            }
        }
        _ => return Err(xinfo_syntax(argv)),
    };
    let log = s.log();
    let mut fields = vec![
        field("length", Reply::Int(log.len() as i64)),
        field("radix-tree-keys", Reply::Int(log.nodes_len() as i64)),
        field("radix-tree-nodes", Reply::Int(log.radix_nodes() as i64)),
        field("last-generated-id", id_reply(log.last_id())),
        field("max-deleted-entry-id", id_reply(log.max_deleted_id())),
        field("entries-added", Reply::Int(log.entries_added() as i64)),
        field("recorded-first-entry-id", id_reply(log.first_id())),
    ];
    match full_count {
        None => {
            fields.push(field("groups", Reply::Int(s.groups().len() as i64)));
            let edge = |last| log.edge(last).map_or(Reply::Nil, |e| entry_reply(&e));
            fields.push(field("first-entry", edge(false)));
            fields.push(field("last-entry", edge(true)));
        }
        Some(count) => {
            let entries = range_reply(s, StreamId::MIN, StreamId::MAX, false, count);
            fields.push(field("entries", entries));
            fields.push(field("groups", full_groups(s, count)));
        }
    }
    Ok(Reply::Map(fields))
}

fn full_groups(s: &StreamValue, count: u64) -> Reply {
    let take = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    let log = s.log();
    let groups = s
        .groups()
        .iter()
        .map(|(name, g)| {
            let pending = g
                .pending
                .iter()
                .take(take)
                .map(|(id, p)| {
                    Reply::Array(vec![
                        id_reply(*id),
                        Reply::bulk(p.consumer.clone()),
                        Reply::Int(p.delivery_time_ms as i64),
                        Reply::Int(p.delivery_count as i64),
                    ])
                })
                .collect();
            let consumers = g
                .consumers
                .iter()
                .map(|(cname, c)| {
                    let own = c
                        .pending
                        .iter()
                        .take(take)
                        .map(|id| {
                            let p = &g.pending[id];
                            Reply::Array(vec![
                                id_reply(*id),
                                Reply::Int(p.delivery_time_ms as i64),
                                Reply::Int(p.delivery_count as i64),
                            ])
                        })
                        .collect();
                    Reply::Map(vec![
                        field("name", Reply::bulk(cname.clone())),
                        field("seen-time", Reply::Int(c.seen_time_ms as i64)),
                        field("pel-count", Reply::Int(c.pending.len() as i64)),
                        field("pending", Reply::Array(own)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                field("name", Reply::bulk(name.clone())),
                field("last-delivered-id", id_reply(g.last_id)),
                field("entries-read", entries_read_reply(g)),
                field("lag", lag_reply(log, g)),
                field("pel-count", Reply::Int(g.pending.len() as i64)),
                field("pending", Reply::Array(pending)),
                field("consumers", Reply::Array(consumers)),
            ])
        })
        .collect();
    Reply::Array(groups)
}

pub(super) fn xinfo_groups(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let s = ecx.read_stream(&argv[2])?.ok_or(CmdError::NoSuchKey)?;
    let log = s.log();
    let groups = s
        .groups()
        .iter()
        .map(|(name, g)| {
            Reply::Map(vec![
                field("name", Reply::bulk(name.clone())),
                field("consumers", Reply::Int(g.consumers.len() as i64)),
                field("pending", Reply::Int(g.pending.len() as i64)),
                field("last-delivered-id", id_reply(g.last_id)),
                field("entries-read", entries_read_reply(g)),
                field("lag", lag_reply(log, g)),
            ])
        })
        .collect();
    Ok(Reply::Array(groups))
}

pub(super) fn xinfo_consumers(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now = ecx.now_ms();
    let s = ecx.read_stream(&argv[2])?.ok_or(CmdError::NoSuchKey)?;
    let Some(g) = s.group(&argv[3]) else {
        return Err(StreamError::NoGroupForKey(argv[3].to_vec(), argv[2].to_vec()).into());
    };
    let consumers = g
        .consumers
        .iter()
        .map(|(name, c)| {
            let idle = (now as i64 - c.seen_time_ms as i64).max(0);
            Reply::Map(vec![
                field("name", Reply::bulk(name.clone())),
                field("pending", Reply::Int(c.pending.len() as i64)),
                field("idle", Reply::Int(idle)),
            ])
        })
        .collect();
    Ok(Reply::Array(consumers))
}
