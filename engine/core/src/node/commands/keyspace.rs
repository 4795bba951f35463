//! Running the node-wide keyspace commands (their rows: `cmd::keyspace`): DBSIZE, KEYS, SCAN,
//! RANDOMKEY, FLUSHDB, FLUSHALL, SWAPDB. `plan_node_cmd` parses on the coordinator,
//! `run_node_op` runs on each thread's shard, `finish_node_cmd` folds the parts.
//!
//! SCAN cursors carry the shard in their low `SCAN_SHARD_BITS` bits and that shard's
//! reverse-binary table cursor above them. A call fans out to the cursor's shard and every shard
//! after it; the coordinator keeps results in shard order and stops at the first shard that is
//! not finished, so each shard is walked with Redis's guarantee (a key present for the whole scan
//! is returned at least once, however tables grow or shrink) and a small keyspace comes back in
//! one call with cursor 0, as in Redis. Later shards' results past the stop are dropped; they are
//! rescanned from their start when the cursor reaches them.
//!
//!
//! Expired keys: KEYS, SCAN and RANDOMKEY never return them. As in Redis 7.0, SCAN and RANDOMKEY
//! delete the expired keys they meet, KEYS only skips them, and DBSIZE counts keys whose deadline
//! has passed until something removes them (an access, SCAN, RANDOMKEY or the active sweep):
//! redis-server 7.0.15 with active expiry off answers DBSIZE 2 for one live and one expired key.

use crate::argv::Argv;
use crate::cmd::args::{parse_scan_cursor, parse_scan_options_from, Args};
use crate::cmd::keyspace::parse_i32;
use crate::cmd::NodeCmd;
use crate::coord::{CmdErrorOrReply, Targets};
use crate::cx::{Cx, ThreadId};
use crate::error::CmdError;
use crate::hop::{NodeOp, NodeResult};
use crate::node::Node;
use crate::reply::Reply;
use crate::shard::Shard;

/// Low cursor bits that name the shard a SCAN is in.
pub const SCAN_SHARD_BITS: u32 = 10;
const _: () = assert!(
    crate::table::dash::CURSOR_BITS + SCAN_SHARD_BITS <= u64::BITS,
    "SCAN shifts the table cursor up by the shard bits"
);
/// Buckets visited per requested element at most (Redis: COUNT * 10 iterations).
const SCAN_BUCKETS_PER_COUNT: usize = 10;

fn parse_flush(argv: &Argv) -> Result<(), CmdError> {
    let mut args = Args::new(argv, 1);
    if !args.eat("ASYNC") {
        args.eat("SYNC");
    }
    args.finish()
}

/// SWAPDB parses both indexes before checking either's range, as Redis does.
fn parse_swapdb(argv: &Argv, dbs: usize) -> Result<(u16, u16), CmdError> {
    let a = parse_i32(&argv[1]).ok_or(CmdError::InvalidFirstDbIndex)?;
    let b = parse_i32(&argv[2]).ok_or(CmdError::InvalidSecondDbIndex)?;
    let in_range = |n: i32| usize::try_from(n).is_ok_and(|n| n < dbs);
    if !in_range(a) || !in_range(b) {
        return Err(CmdError::DbIndexOutOfRange);
    }
    Ok((a as u16, b as u16))
}

/// SCAN's cursor and options.
#[derive(Debug, PartialEq, Eq)]
struct ScanArgs {
    cursor: u64,
    pattern: Option<Vec<u8>>,
    count: usize,
    type_name: Option<Vec<u8>>,
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
fn parse_scan(argv: &Argv) -> Result<ScanArgs, CmdError> {
    let cursor = parse_scan_cursor(&argv[1])?;
    let options = parse_scan_options_from(argv, 2, true)?;
    Ok(ScanArgs {
        cursor,
        pattern: options.pattern,
        count: options.count,
        type_name: options.type_name,
    })
}

/// Where a client cursor points: the shard and that shard's table cursor. A cursor naming a
/// shard past our last was never handed out; it points past the end, so the scan is over
/// (`(threads, 0)`: no shard answers, the next cursor is 0). Redis too accepts any cursor and
/// answers 0 for the largest ones, `-1` among them (strtoul wraps it to u64::MAX).
fn scan_position(cursor: u64, threads: u16) -> (u16, u64) {
    let shard = (cursor & ((1 << SCAN_SHARD_BITS) - 1)) as u16;
    if shard >= threads {
        return (threads, 0);
    }
    (shard, cursor >> SCAN_SHARD_BITS)
}

pub(crate) fn plan_node_cmd(
    cmd: NodeCmd,
    argv: &Argv,
    db: usize,
    _threads: u16,
    dbs: usize,
) -> Result<(NodeOp, Targets), CmdErrorOrReply> {
    let db = db as u16;
    let all = |op| Ok((op, Targets::All));
    match cmd {
        NodeCmd::DbSize => all(NodeOp::DbSize { db }),
        NodeCmd::Keys => all(NodeOp::Keys {
            db,
            pattern: argv[1].to_vec(),
        }),
        NodeCmd::Scan => {
            let args = parse_scan(argv)?;
            all(NodeOp::Scan {
                db,
                cursor: args.cursor,
                pattern: args.pattern,
                count: args.count,
                type_name: args.type_name,
            })
        }
        NodeCmd::RandomKey => all(NodeOp::RandomKey { db }),
        NodeCmd::FlushDb => {
            parse_flush(argv)?;
            all(NodeOp::FlushDb { db })
        }
        NodeCmd::FlushAll => {
            parse_flush(argv)?;
            all(NodeOp::FlushAll)
        }
        NodeCmd::SwapDb => {
            let (a, b) = parse_swapdb(argv, dbs)?;
            all(NodeOp::SwapDb { a, b })
        }
        other => unreachable!("{other:?} is not a keyspace command"),
    }
}

pub(crate) fn run_node_op(node: &mut Node, op: NodeOp, now_ms: u64, cx: &mut Cx) -> NodeResult {
    let (thread, threads) = (node.thread, node.threads);
    let shard = node.shard_mut();
    match op {
        NodeOp::DbSize { db } => NodeResult::Count(shard.db_ref(db as usize).len() as u64),
        NodeOp::Keys { db, pattern } => {
            NodeResult::Keys(keys(shard, db as usize, &pattern, now_ms))
        }
        NodeOp::Scan {
            db,
            cursor,
            pattern,
            count,
            type_name,
        } => {
            let (start, table_cursor) = scan_position(cursor, threads);
            let from = match thread.0.cmp(&start) {
                std::cmp::Ordering::Less => {
                    return NodeResult::Scanned {
                        keys: Vec::new(),
                        next: 0,
                    }
                }
                std::cmp::Ordering::Equal => table_cursor,
                std::cmp::Ordering::Greater => 0,
            };
            let args = ScanArgs {
                cursor: from,
                pattern,
                count,
                type_name,
            };
            scan_shard(shard, db as usize, &args, now_ms)
        }
        NodeOp::RandomKey { db } => random_key(shard, db as usize, now_ms, cx),
        NodeOp::FlushDb { db } => {
            shard.modified_db(db as usize, None, now_ms);
            shard.db(db as usize).clear();
            crate::node::journal::after_node_command(shard, db, vec![b"FLUSHDB".to_vec()]);
            NodeResult::Done
        }
        NodeOp::FlushAll => {
            for db in 0..shard.dbs_len() {
                shard.modified_db(db, None, now_ms);
            }
            shard.flush_all();
            crate::node::journal::after_node_command(shard, 0, vec![b"FLUSHALL".to_vec()]);
            NodeResult::Done
        }
        NodeOp::SwapDb { a, b } => {
            shard.modified_db(a as usize, Some(b as usize), now_ms);
            shard.modified_db(b as usize, Some(a as usize), now_ms);
            shard.swap_dbs(a as usize, b as usize);
            let argv = [
                b"SWAPDB".to_vec(),
                a.to_string().into(),
                b.to_string().into(),
            ];
            crate::node::journal::after_node_command(shard, 0, argv.to_vec());
            NodeResult::Done
        }
        other => unreachable!("{other:?} is not a keyspace op"),
    }
}

/// KEYS skips expired keys without deleting them (Redis 7.0's keyIsExpired check).
fn keys(shard: &Shard, db: usize, pattern: &[u8], now_ms: u64) -> Vec<Vec<u8>> {
    let all = pattern == b"*";
    shard
        .db_ref(db)
        .iter()
        .filter(|e| !e.is_expired(now_ms))
        .filter(|e| all || crate::glob::glob_match(pattern, e.key(), false))
        .map(|e| e.key().to_vec())
        .collect()
}

/// Redis's scan loop: visit buckets until the table is done, `count` keys were seen or
/// `count * 10` buckets were visited; then drop expired keys (deleting them) and those the
/// MATCH and TYPE filters reject.
fn scan_shard(shard: &mut Shard, db: usize, args: &ScanArgs, now_ms: u64) -> NodeResult {
    let db = shard.db(db);
    let buckets_max = args.count.saturating_mul(SCAN_BUCKETS_PER_COUNT);
    let (mut cursor, mut buckets, mut seen) = (args.cursor, 0usize, 0usize);
    let mut keys = Vec::new();
    let mut expired = Vec::new();
    loop {
        cursor = db.scan_bucket(cursor, |e| {
            seen += 1;
            if e.is_expired(now_ms) {
                expired.push(e.key().to_vec());
                return;
            }
            let matches = args
                .pattern
                .as_deref()
                .is_none_or(|p| crate::glob::glob_match(p, e.key(), false));
            let typed = args
                .type_name
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case(e.value().type_name().as_bytes()));
            if matches && typed {
                keys.push(e.key().to_vec());
            }
        });
        // Deleting between buckets is safe: the cursor contract holds across resizes.
        for key in expired.drain(..) {
            db.expire_if_due(&key, now_ms);
        }
        buckets += 1;
        if cursor == 0 || seen >= args.count || buckets > buckets_max {
            break;
        }
    }
    NodeResult::Scanned { keys, next: cursor }
}

/// Picks random entries until one is live, deleting the expired ones met on the way, as Redis's
/// RANDOMKEY does. Every miss removes a key, so this ends within the table's length.
fn random_key(shard: &mut Shard, db: usize, now_ms: u64, cx: &mut Cx) -> NodeResult {
    let db = shard.db(db);
    let keys_len = db.len() as u64;
    for _ in 0..=keys_len {
        let picked = db
            .random_entry(|| cx.random_u64())
            .map(|e| (e.key().to_vec(), e.is_expired(now_ms)));
        match picked {
            None => break,
            Some((key, false)) => {
                return NodeResult::Random {
                    key: Some(key),
                    keys_len,
                }
            }
            Some((key, true)) => {
                db.expire_if_due(&key, now_ms);
            }
        }
    }
    NodeResult::Random {
        key: None,
        keys_len: db.len() as u64,
    }
}

pub(crate) fn finish_node_cmd(
    cmd: NodeCmd,
    argv: &Argv,
    results: Vec<(ThreadId, NodeResult)>,
    threads: u16,
    cx: &mut Cx,
) -> Reply {
    match cmd {
        NodeCmd::DbSize => {
            let counts = results.into_iter().map(|(_, r)| match r {
                NodeResult::Count(n) => n as i64,
                other => unreachable!("dbsize got {other:?}"),
            });
            Reply::Int(counts.sum())
        }
        NodeCmd::Keys => Reply::bulk_array(results.into_iter().flat_map(|(_, r)| match r {
            NodeResult::Keys(keys) => keys,
            other => unreachable!("keys got {other:?}"),
        })),
        NodeCmd::Scan => finish_scan(argv, results, threads),
        NodeCmd::RandomKey => pick_random(results, cx),
        NodeCmd::FlushDb | NodeCmd::FlushAll | NodeCmd::SwapDb => Reply::OK,
        other => unreachable!("{other:?} is not a keyspace command"),
    }
}

/// Joins the shards' scans in shard order from the cursor's shard, stopping at the first shard
/// that has more to give or once enough keys were found; the cursor resumes exactly there.
fn finish_scan(argv: &Argv, results: Vec<(ThreadId, NodeResult)>, threads: u16) -> Reply {
    let args = parse_scan(argv).expect("parsed when planned");
    let (start, _) = scan_position(args.cursor, threads);
    let mut keys = Vec::new();
    let mut next_cursor = 0;
    for (thread, result) in results {
        let NodeResult::Scanned { keys: found, next } = result else {
            unreachable!("scan got {result:?}")
        };
        if thread.0 < start {
            continue;
        }
        keys.extend(found);
        if next != 0 {
            next_cursor = (next << SCAN_SHARD_BITS) | u64::from(thread.0);
            break;
        }
        if keys.len() >= args.count && thread.0 + 1 < threads {
            next_cursor = u64::from(thread.0 + 1);
            break;
        }
    }
    Reply::Array(vec![
        Reply::Bulk(next_cursor.to_string().into_bytes()),
        Reply::bulk_array(keys),
    ])
}

/// Picks one shard's candidate with probability proportional to its key count.
fn pick_random(results: Vec<(ThreadId, NodeResult)>, cx: &mut Cx) -> Reply {
    let candidates: Vec<(Vec<u8>, u64)> = results
        .into_iter()
        .filter_map(|(_, r)| match r {
            NodeResult::Random {
                key: Some(key),
                keys_len,
            } => Some((key, keys_len.max(1))),
            NodeResult::Random { key: None, .. } => None,
            other => unreachable!("randomkey got {other:?}"),
        })
        .collect();
    let total: u64 = candidates.iter().map(|c| c.1).sum();
    if total == 0 {
        return Reply::Nil;
    }
    let mut ticket = cx.random_u64() % total;
    for (key, weight) in candidates {
        if ticket < weight {
            return Reply::Bulk(key);
        }
        ticket -= weight;
    }
    unreachable!("ticket below total weight")
}
