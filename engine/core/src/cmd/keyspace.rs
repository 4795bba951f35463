//! Keyspace: DEL, EXISTS, TYPE, RENAME… and the node-wide DBSIZE, KEYS, SCAN, RANDOMKEY,
//! FLUSHDB, FLUSHALL, SWAPDB.
//!
//! SCAN cursors carry the shard in their low `SCAN_SHARD_BITS` bits and the shard table's
//! reverse-binary cursor above them, so a scan walks the shards in order and each shard's table
//! with Redis's guarantee (a key present for the whole scan is returned at least once).

use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64, Args};
use crate::cmd::{
    acl, flag, keyflag as kf, CommandSpec, Docs, Exec, KeySpec, Merge, NodeCmd, ShardFn,
};
use crate::coord::{CmdErrorOrReply, Targets};
use crate::cx::{Cx, ThreadId};
use crate::error::CmdError;
use crate::hop::{NodeOp, NodeResult};
use crate::reply::Reply;
use crate::shard::{ExecCx, Shard};

/// Low cursor bits that name the shard a SCAN is in.
pub const SCAN_SHARD_BITS: u32 = 10;
/// Buckets visited per requested element at most (Redis: COUNT * 10 iterations).
const SCAN_BUCKETS_PER_COUNT: usize = 10;

const fn docs(summary: &'static str, since: &'static str, complexity: &'static str) -> Docs {
    Docs {
        summary,
        since,
        group: "generic",
        complexity,
    }
}

const fn keyed(
    name: &'static str,
    arity: i16,
    flags: u32,
    keys: &'static [KeySpec],
    run: ShardFn,
    merge: Merge,
    docs: Docs,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl: acl::KEYSPACE,
        keys,
        exec: Exec::Shard { run, merge },
        subcommands: &[],
        docs,
    }
}

const fn node(
    name: &'static str,
    arity: i16,
    flags: u32,
    acl_cats: u32,
    cmd: NodeCmd,
    docs: Docs,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl: acl_cats,
        keys: &[],
        exec: Exec::Node(cmd),
        subcommands: &[],
        docs,
    }
}

pub const SPECS: &[CommandSpec] = &[
    keyed("del", -2, flag::WRITE, &[KeySpec::all_from(kf::RM | kf::DELETE, 1, 1)], del, Merge::SumInts, docs("Deletes one or more keys.", "1.0.0", "O(N) where N is the number of keys that will be removed.")),
    keyed("unlink", -2, flag::WRITE | flag::FAST, &[KeySpec::all_from(kf::RM | kf::DELETE, 1, 1)], del, Merge::SumInts, docs("Asynchronously deletes one or more keys.", "4.0.0", "O(1) for each key removed regardless of its size.")),
    keyed("exists", -2, flag::READONLY | flag::FAST, &[KeySpec::all_from(kf::RO, 1, 1)], exists, Merge::SumInts, docs("Determines whether one or more keys exist.", "1.0.0", "O(N) where N is the number of keys to check.")),
    keyed("type", 2, flag::READONLY | flag::FAST, &[KeySpec::one(kf::RO, 1)], type_, Merge::OneKey, docs("Determines the type of value stored at a key.", "1.0.0", "O(1)")),
    keyed(
        "rename",
        3,
        flag::WRITE,
        &[KeySpec::one(kf::RW | kf::ACCESS | kf::DELETE, 1), KeySpec::one(kf::OW | kf::UPDATE, 2)],
        rename,
        Merge::Gather(crate::cmd::GatherDbs::Current),
        docs("Renames a key and overwrites the destination.", "1.0.0", "O(1)"),
    ),
    node("dbsize", 1, flag::READONLY | flag::FAST, acl::KEYSPACE, NodeCmd::DbSize, docs("Returns the number of keys in the database.", "1.0.0", "O(1)")),
    node("keys", 2, flag::READONLY, acl::KEYSPACE | acl::DANGEROUS, NodeCmd::Keys, docs("Returns all key names that match a pattern.", "1.0.0", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.")),
    node("scan", -2, flag::READONLY, acl::KEYSPACE, NodeCmd::Scan, docs("Iterates over the key names in the database.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.")),
    node("randomkey", 1, flag::READONLY, acl::KEYSPACE, NodeCmd::RandomKey, docs("Returns a random key name from the database.", "1.0.0", "O(1)")),
    node("flushdb", -1, flag::WRITE, acl::KEYSPACE | acl::DANGEROUS, NodeCmd::FlushDb, Docs { summary: "Remove all keys from the current database.", since: "1.0.0", group: "server", complexity: "O(N) where N is the number of keys in the selected database" }),
    node("flushall", -1, flag::WRITE, acl::KEYSPACE | acl::DANGEROUS, NodeCmd::FlushAll, Docs { summary: "Removes all keys from all databases.", since: "1.0.0", group: "server", complexity: "O(N) where N is the total number of keys in all databases" }),
    node("swapdb", 3, flag::WRITE | flag::FAST, acl::KEYSPACE | acl::DANGEROUS, NodeCmd::SwapDb, Docs { summary: "Swaps two Redis databases.", since: "4.0.0", group: "server", complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases." }),
];

fn del(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now_ms = ecx.now_ms;
    let removed = argv
        .iter()
        .skip(1)
        .filter(|key| ecx.db().take(key, now_ms).is_some())
        .count();
    Ok(Reply::Int(removed as i64))
}

fn exists(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now_ms = ecx.read_now_ms();
    let found = argv
        .iter()
        .skip(1)
        .filter(|key| ecx.db().contains(key, now_ms))
        .count();
    Ok(Reply::Int(found as i64))
}

fn type_(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now_ms = ecx.read_now_ms();
    let name = ecx
        .db()
        .peek(&argv[1], now_ms)
        .map_or("none", |e| e.value.type_name());
    Ok(Reply::simple(name))
}

fn rename(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now_ms = ecx.now_ms;
    let (src, dst) = (&argv[1], &argv[2]);
    let Some(mut entry) = ecx.db().take(src, now_ms) else {
        return Err(CmdError::NoSuchKey);
    };
    entry.key = dst.to_vec();
    ecx.db().insert(entry, now_ms);
    Ok(Reply::OK)
}

fn db_index(arg: &[u8], dbs: usize, invalid: CmdError) -> Result<u16, CmdError> {
    let n = parse_i64(arg).map_err(|_| invalid)?;
    if n < 0 || n as usize >= dbs {
        return Err(CmdError::DbIndexOutOfRange);
    }
    Ok(n as u16)
}

fn parse_flush(argv: &Argv) -> Result<(), CmdError> {
    let mut args = Args::new(argv, 1);
    if !args.eat("ASYNC") {
        args.eat("SYNC");
    }
    args.finish()
}

fn parse_scan(argv: &Argv, db: u16, threads: u16) -> Result<(NodeOp, Targets), CmdError> {
    let cursor: u64 = std::str::from_utf8(&argv[1])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(CmdError::InvalidCursor)?;
    let mut args = Args::new(argv, 2);
    let (mut pattern, mut count, mut type_name) = (None, 10usize, None);
    while let Some(word) = args.next() {
        if eq_word(word, "MATCH") {
            pattern = Some(args.next_arg()?.to_vec());
        } else if eq_word(word, "COUNT") {
            let n = args.next_i64()?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = n as usize;
        } else if eq_word(word, "TYPE") {
            type_name = Some(args.next_arg()?.to_vec());
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let shard = (cursor & ((1 << SCAN_SHARD_BITS) - 1)) as u16;
    if shard >= threads {
        // A cursor we never handed out; Redis would scan from a wrong place, we start over.
        return Ok((
            NodeOp::Scan {
                db,
                cursor: 0,
                pattern,
                count,
                type_name,
            },
            Targets::One(ThreadId(0)),
        ));
    }
    let table_cursor = cursor >> SCAN_SHARD_BITS;
    Ok((
        NodeOp::Scan {
            db,
            cursor: table_cursor,
            pattern,
            count,
            type_name,
        },
        Targets::One(ThreadId(shard)),
    ))
}

pub(crate) fn plan_node_cmd(
    cmd: NodeCmd,
    argv: &Argv,
    db: usize,
    threads: u16,
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
        NodeCmd::Scan => Ok(parse_scan(argv, db, threads)?),
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
            let a = db_index(&argv[1], dbs, CmdError::InvalidFirstDbIndex)?;
            let b = db_index(&argv[2], dbs, CmdError::InvalidSecondDbIndex)?;
            all(NodeOp::SwapDb { a, b })
        }
        other => unreachable!("{other:?} is not a keyspace command"),
    }
}

pub(crate) fn run_node_op(shard: &mut Shard, op: NodeOp, now_ms: u64, cx: &mut Cx) -> NodeResult {
    match op {
        NodeOp::DbSize { db } => NodeResult::Count(shard.db_ref(db as usize).len() as u64),
        NodeOp::Keys { db, pattern } => {
            let db = shard.db_ref(db as usize);
            let keys = db
                .iter()
                .filter(|e| {
                    !e.is_expired(now_ms) && crate::glob::glob_match(&pattern, &e.key, false)
                })
                .map(|e| e.key.clone())
                .collect();
            NodeResult::Keys(keys)
        }
        NodeOp::Scan {
            db,
            cursor,
            pattern,
            count,
            type_name,
        } => scan_shard(
            shard,
            db as usize,
            cursor,
            pattern.as_deref(),
            count,
            type_name.as_deref(),
            now_ms,
        ),
        NodeOp::RandomKey { db } => random_key(shard, db as usize, now_ms, cx),
        NodeOp::FlushDb { db } => {
            shard.db(db as usize).clear();
            NodeResult::Done
        }
        NodeOp::FlushAll => {
            shard.flush_all();
            NodeResult::Done
        }
        NodeOp::SwapDb { a, b } => {
            shard.swap_dbs(a as usize, b as usize);
            NodeResult::Done
        }
        other => unreachable!("{other:?} is not a keyspace op"),
    }
}

fn scan_shard(
    shard: &mut Shard,
    db: usize,
    mut cursor: u64,
    pattern: Option<&[u8]>,
    count: usize,
    type_name: Option<&[u8]>,
    now_ms: u64,
) -> NodeResult {
    let db = shard.db_ref(db);
    let mut keys = Vec::new();
    let mut buckets = 0;
    loop {
        cursor = db.scan_bucket(cursor, |e| {
            let alive = !e.is_expired(now_ms);
            let matches = pattern.is_none_or(|p| crate::glob::glob_match(p, &e.key, false));
            let typed =
                type_name.is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()));
            if alive && matches && typed {
                keys.push(e.key.clone());
            }
        });
        buckets += 1;
        if cursor == 0
            || keys.len() >= count
            || buckets >= count.saturating_mul(SCAN_BUCKETS_PER_COUNT)
        {
            break;
        }
    }
    NodeResult::Scanned { keys, next: cursor }
}

/// Tries a few random picks for a live key, as Redis does before giving up on expired ones.
fn random_key(shard: &mut Shard, db: usize, now_ms: u64, cx: &mut Cx) -> NodeResult {
    const TRIES_MAX: usize = 100;
    let keys_len = shard.db_ref(db).len() as u64;
    for _ in 0..TRIES_MAX {
        let picked = shard
            .db_ref(db)
            .random_entry(|| cx.random_u64())
            .map(|e| (e.key.clone(), e.is_expired(now_ms)));
        match picked {
            None => break,
            Some((key, false)) => {
                return NodeResult::Random {
                    key: Some(key),
                    keys_len,
                }
            }
            Some((key, true)) => {
                shard.db(db).remove(&key);
            }
        }
    }
    NodeResult::Random {
        key: None,
        keys_len: shard.db_ref(db).len() as u64,
    }
}

pub(crate) fn finish_node_cmd(
    cmd: NodeCmd,
    _argv: &Argv,
    results: Vec<(ThreadId, NodeResult)>,
    threads: u16,
    cx: &mut Cx,
) -> Reply {
    match cmd {
        NodeCmd::DbSize => Reply::Int(
            results
                .iter()
                .map(|(_, r)| {
                    if let NodeResult::Count(n) = r {
                        *n as i64
                    } else {
                        0
                    }
                })
                .sum(),
        ),
        NodeCmd::Keys => Reply::bulk_array(results.into_iter().flat_map(|(_, r)| match r {
            NodeResult::Keys(keys) => keys,
            _ => Vec::new(),
        })),
        NodeCmd::Scan => {
            let Some((shard, NodeResult::Scanned { keys, next })) = results.into_iter().next()
            else {
                unreachable!("scan result")
            };
            let next_cursor = if next != 0 {
                (next << SCAN_SHARD_BITS) | u64::from(shard.0)
            } else if shard.0 + 1 < threads {
                u64::from(shard.0 + 1)
            } else {
                0
            };
            Reply::Array(vec![
                Reply::Bulk(next_cursor.to_string().into_bytes()),
                Reply::bulk_array(keys),
            ])
        }
        NodeCmd::RandomKey => pick_random(results, cx),
        NodeCmd::FlushDb | NodeCmd::FlushAll | NodeCmd::SwapDb => Reply::OK,
        other => unreachable!("{other:?} is not a keyspace command"),
    }
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
            _ => None,
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
