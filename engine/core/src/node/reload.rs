//! DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save the dataset as RDB and load it back in place,
//! as Redis 7.0's debug.c does, in three steps:
//!
//! 1. Unless NOSAVE, a SAVE (`node::persist`) whose end, instead of answering, goes on to
//!    step 2; a failed save answers Redis's bare `-ERR`.
//! 2. The job's thread reads `dir/dbfilename` whole (`DiskOp::ReadAll`) and checks that it
//!    parses to the end.
//! 3. A node-wide transaction locking everything (as FLUSHALL): each shard empties its
//!    databases (unless NOFLUSH) and inserts the keys of the file it owns, skipping keys already
//!    expired, as a Redis master loading a file does.
//!
//! A missing or corrupt file answers `-ERR Error trying to load the RDB dump` after the flush,
//! as Redis (whose dataset is gone by then too). Where we differ: Redis kills itself on a
//! corrupt file, and on a key that already exists under NOFLUSH without MERGE ("Duplicated key
//! found in RDB file"); we answer the same error and keep what loaded. Commands of other
//! clients may run between the save and the load (Redis blocks for both); the load replaces
//! what they wrote, as if they had run before the save.

use std::sync::Arc;

use crate::argv::Argv;
use crate::cmd::args::eq_word;
use crate::cmd::NodeCmd;
use crate::conn::{Conn, ConnState};
use crate::cx::{ConnId, Cx, DiskOp, DiskOutcome, Effect, FileId, LogLevel, ThreadId};
use crate::db::Entry;
use crate::error::CmdError;
use crate::hop::{NodeOp, NodeResult};
use crate::node::{persist, shard_of, Flow, Node};
use crate::rdb::{LoadCx, RdbReader, Record};
use crate::reply::Reply;

/// Marks the file ids of reload reads, apart from the save jobs' (`FileId(job id)`).
pub(crate) const RELOAD_READ_FILE_BIT: u64 = 1 << 63;

/// DEBUG RELOAD's options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReloadOpts {
    /// Save first (no NOSAVE).
    pub save: bool,
    /// Empty the dataset before loading (no NOFLUSH).
    pub flush: bool,
    /// A key of the file replaces the one in memory (MERGE).
    pub merge: bool,
}

/// The file's bytes, shared by every shard's hop.
#[derive(Clone)]
pub struct Dump(pub Arc<Vec<u8>>);

impl std::fmt::Debug for Dump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dump({} bytes)", self.0.len())
    }
}

/// Whether DEBUG's subcommand is RELOAD (with any options).
pub fn is_reload_subcommand(argv: &Argv) -> bool {
    argv.len() >= 2 && eq_word(&argv[1], "RELOAD")
}

pub fn parse_reload(argv: &Argv) -> Result<ReloadOpts, CmdError> {
    let mut opts = ReloadOpts {
        save: true,
        flush: true,
        merge: false,
    };
    for opt in argv.iter().skip(2) {
        if eq_word(opt, "MERGE") {
            opts.merge = true;
        } else if eq_word(opt, "NOFLUSH") {
            opts.flush = false;
        } else if eq_word(opt, "NOSAVE") {
            opts.save = false;
        } else {
            return Err(CmdError::ReloadOptions);
        }
    }
    Ok(opts)
}

/// DEBUG RELOAD from a client: the save (or, with NOSAVE, the read) starts; the client sleeps
/// until the load answers it.
pub(crate) fn start(node: &mut Node, conn: &mut Conn, argv: &Argv, cx: &mut Cx) -> Flow {
    let opts = match parse_reload(argv) {
        Ok(opts) => opts,
        Err(err) => {
            conn.encode(&Reply::Error(err));
            return Flow::Next;
        }
    };
    if opts.save {
        return persist::save_then_reload(node, conn, opts, cx);
    }
    conn.state = ConnState::Sleeping;
    read_file(node, conn.id, opts, cx);
    Flow::Stop
}

/// Step 2: read the dump for `conn`'s reload.
pub(crate) fn read_file(node: &mut Node, conn: ConnId, opts: ReloadOpts, cx: &mut Cx) {
    let id = node.persist.next_reload_id();
    node.persist.reloads.insert(id, (conn, opts));
    let path = persist::dump_path(node);
    cx.push(Effect::Disk {
        file: FileId(RELOAD_READ_FILE_BIT | id),
        op: DiskOp::ReadAll { path },
    });
}

/// Step 3: the file is read (or not): the load runs on every shard as one transaction.
pub(crate) fn on_read(
    node: &mut Node,
    file: FileId,
    result: Result<DiskOutcome, String>,
    cx: &mut Cx,
) {
    let Some((id, opts)) = node
        .persist
        .reloads
        .remove(&(file.0 & !RELOAD_READ_FILE_BIT))
    else {
        return;
    };
    let dump = match result {
        Ok(DiskOutcome::Read(bytes)) if parses_whole(node, &bytes) => Some(Dump(Arc::new(bytes))),
        Ok(_) | Err(_) => {
            cx.push(Effect::Log {
                level: LogLevel::Warning,
                text: "DEBUG RELOAD: the RDB file is missing or does not load",
            });
            None
        }
    };
    let Some(mut conn) = node.conns.take(&id) else {
        return;
    };
    conn.state = ConnState::Ready;
    let op = NodeOp::Reload {
        dump,
        flush: opts.flush,
        merge: opts.merge,
    };
    let targets = (0..node.threads).map(ThreadId).collect();
    let argv = Argv::from_slices(&[b"DEBUG".as_slice(), b"RELOAD"]);
    // The reply is in the output or the client waits for the shards: either way it runs on
    // from where it stands.
    let cmd = NodeCmd::DebugReload;
    let _flow = crate::coord::start_node_op(node, &mut conn, cmd, argv, op, targets, cx);
    node.run_taken_conn(conn, cx);
}

/// Whether `bytes` is an RDB file this node can load to its end.
fn parses_whole(node: &Node, bytes: &[u8]) -> bool {
    let mut ok = true;
    for_each_record(node, bytes, |record| {
        if let Err(()) = record {
            ok = false;
        }
    });
    ok
}

/// Calls `visit` with each (database, key, value, deadline) of the file, or `Err` once where
/// it stops being readable.
fn for_each_record(
    node: &Node,
    bytes: &[u8],
    mut visit: impl FnMut(Result<(u32, Vec<u8>, crate::db::Value, Option<u64>), ()>),
) {
    let load_cx = LoadCx {
        limits: node.shard.limits,
        seed: node.shard.db_ref(0).collection_seed(),
    };
    let mut reader = RdbReader::new();
    reader.push(bytes);
    reader.finish_input();
    let mut db = 0u32;
    loop {
        match reader.next_record(&load_cx) {
            Err(_) => return visit(Err(())),
            Ok(None | Some(Record::Eof)) => return,
            Ok(Some(Record::SelectDb(n))) => {
                if n as usize >= node.config.databases {
                    return visit(Err(()));
                }
                db = n;
            }
            Ok(Some(Record::Entry {
                key,
                value,
                expire_at_ms,
                ..
            })) => visit(Ok((db, key, value, expire_at_ms))),
            Ok(Some(_)) => {}
        }
    }
}

/// The load's hop on this shard: Count(1) when every key of the file this shard owns loaded.
pub(crate) fn run_node_op(
    node: &mut Node,
    dump: Option<Dump>,
    flush: bool,
    merge: bool,
    now_ms: u64,
) -> NodeResult {
    if flush {
        let shard = node.shard_mut();
        for db in 0..shard.dbs_len() {
            shard.modified_db(db, None, now_ms);
        }
        shard.flush_all();
    }
    let Some(dump) = dump else {
        return NodeResult::Count(0);
    };
    let (thread, threads) = (node.thread, node.threads);
    let mut entries = Vec::new();
    let mut ok = true;
    for_each_record(node, &dump.0, |record| match record {
        Ok((db, key, value, expire_at_ms)) => {
            if shard_of(&key, threads) != thread || expire_at_ms.is_some_and(|at| at <= now_ms) {
                return;
            }
            let entry = Entry::new(&key, value, now_ms).with_expire_at_ms(expire_at_ms);
            entries.push((db as u16, entry));
        }
        Err(()) => ok = false,
    });
    let shard = node.shard_mut();
    for (db, entry) in entries {
        let key = entry.key().to_vec();
        if !merge && shard.db(usize::from(db)).contains(&key, now_ms) {
            // Redis stops the server here ("Duplicated key found in RDB file").
            ok = false;
            continue;
        }
        shard.db(usize::from(db)).insert(entry, now_ms);
        if !flush {
            shard.modified(db, &key);
        }
    }
    NodeResult::Count(u64::from(ok))
}

/// Every shard loaded: OK, or the load error when some shard could not.
pub(crate) fn finish(results: &[(ThreadId, NodeResult)], cx: &mut Cx) -> Reply {
    let loaded = results
        .iter()
        .all(|(_, r)| matches!(r, NodeResult::Count(1)));
    if !loaded {
        return Reply::Error(CmdError::ReloadFailed);
    }
    cx.push(Effect::Log {
        level: LogLevel::Warning,
        text: "DB reloaded by DEBUG RELOAD",
    });
    Reply::OK
}

#[cfg(test)]
mod tests {
    use crate::testkit::TestCluster;

    /// DEBUG RELOAD saves and loads back every shard's keys of every database, deadlines
    /// included and keys already due left out; the digest is the same before and after, and
    /// the save counts (no changes since it).
    #[test]
    fn reload_saves_and_loads_the_same_dataset() {
        for threads in [1, 3] {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            for n in 0..200 {
                c.cmd(conn, &["SET", &format!("k{n}"), &format!("v{n}")]);
            }
            c.cmd(conn, &["RPUSH", "list", "a", "b", "c"]);
            c.cmd(conn, &["HSET", "hash", "f", "v"]);
            c.cmd(conn, &["SET", "ttl", "x", "EX", "1000"]);
            c.cmd(conn, &["SELECT", "3"]);
            c.cmd(conn, &["SADD", "set", "1", "2"]);
            let digest = c.cmd_text(conn, &["DEBUG", "DIGEST"]);
            assert_eq!(c.cmd_text(conn, &["DEBUG", "RELOAD"]), "+OK\r\n");
            assert_eq!(c.cmd_text(conn, &["DEBUG", "DIGEST"]), digest);
            assert_eq!(c.cmd_text(conn, &["DBSIZE"]), ":1\r\n", "{threads} threads");
            c.cmd(conn, &["SELECT", "0"]);
            assert_eq!(c.cmd_text(conn, &["DBSIZE"]), ":203\r\n");
            assert_eq!(c.cmd_text(conn, &["GET", "k42"]), "$3\r\nv42\r\n");
            let ttl = c.cmd_text(conn, &["TTL", "ttl"]);
            assert!(ttl == ":1000\r\n" || ttl.starts_with(":99"), "{ttl}");
            let info = c.cmd_text(conn, &["INFO", "persistence"]);
            assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
            assert!(c.disk.contents("dump.rdb").is_some());
        }
    }

    /// NOSAVE loads the file as it is: what was written since the last save is gone. With
    /// NOFLUSH MERGE the file's keys join the dataset and win; with NOFLUSH alone a key of the
    /// file already in memory is an error (Redis stops the server there). No file: the flush
    /// happens and the load fails, as in Redis.
    #[test]
    fn reload_options_nosave_noflush_merge() {
        let mut c = TestCluster::new(2);
        let conn = c.connect(1);
        let bad = "-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n";
        assert_eq!(c.cmd_text(conn, &["DEBUG", "RELOAD", "FAST"]), bad);
        c.cmd(conn, &["SET", "gone", "1"]);
        let failed = "-ERR Error trying to load the RDB dump\r\n";
        assert_eq!(c.cmd_text(conn, &["DEBUG", "RELOAD", "NOSAVE"]), failed);
        assert_eq!(c.cmd_text(conn, &["DBSIZE"]), ":0\r\n", "flushed first");

        c.cmd(conn, &["SET", "a", "saved"]);
        c.cmd(conn, &["SET", "b", "saved"]);
        assert_eq!(c.cmd_text(conn, &["SAVE"]), "+OK\r\n");
        c.cmd(conn, &["SET", "a", "later"]);
        c.cmd(conn, &["SET", "c", "later"]);
        let merge = ["DEBUG", "reload", "nosave", "noflush", "merge"];
        assert_eq!(c.cmd_text(conn, &merge), "+OK\r\n");
        assert_eq!(c.cmd_text(conn, &["GET", "a"]), "$5\r\nsaved\r\n");
        assert_eq!(c.cmd_text(conn, &["GET", "c"]), "$5\r\nlater\r\n");
        assert_eq!(c.cmd_text(conn, &["DEBUG", "RELOAD", "NOSAVE"]), "+OK\r\n");
        assert_eq!(c.cmd_text(conn, &["DBSIZE"]), ":2\r\n");
        let noflush = ["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH"];
        assert_eq!(c.cmd_text(conn, &noflush), failed);
        c.cmd(conn, &["FLUSHALL"]);
        assert_eq!(c.cmd_text(conn, &noflush), "+OK\r\n", "no key in the way");
        assert_eq!(c.cmd_text(conn, &["DBSIZE"]), ":2\r\n");
    }

    /// A corrupt file answers the load error and the server goes on serving.
    #[test]
    fn reload_of_a_corrupt_file_fails_cleanly() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        c.cmd(conn, &["SET", "a", "1"]);
        assert_eq!(c.cmd_text(conn, &["SAVE"]), "+OK\r\n");
        let mut dump = c.disk.contents("dump.rdb").expect("a dump").to_vec();
        let last = dump.len() - 1;
        dump[last] ^= 0xff;
        c.disk.put("dump.rdb", dump);
        let reply = c.cmd_text(conn, &["DEBUG", "RELOAD", "NOSAVE"]);
        assert_eq!(reply, "-ERR Error trying to load the RDB dump\r\n");
        assert_eq!(c.cmd_text(conn, &["PING"]), "+PONG\r\n");
    }

    /// SET-ACTIVE-EXPIRE 0 stops the sweep on every thread (a due key stays until touched);
    /// 1 restarts it. Redis reads the argument with atoi.
    #[test]
    fn set_active_expire_switches_the_sweep() {
        let mut c = TestCluster::new(2);
        let conn = c.connect(0);
        assert_eq!(
            c.cmd_text(conn, &["DEBUG", "SET-ACTIVE-EXPIRE", "abc"]),
            "+OK\r\n"
        );
        for n in 0..20 {
            c.cmd(conn, &["SET", &format!("k{n}"), "v", "PX", "10"]);
        }
        c.advance_ms(2_000);
        assert_eq!(c.cmd_text(conn, &["DBSIZE"]), ":20\r\n");
        let wrong = "-ERR unknown subcommand or wrong number of arguments for \
                     'set-active-expire'. Try DEBUG HELP.\r\n";
        assert_eq!(c.cmd_text(conn, &["DEBUG", "set-active-expire"]), wrong);
        assert_eq!(
            c.cmd_text(conn, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]),
            "+OK\r\n"
        );
        c.advance_ms(2_000);
        assert_eq!(c.cmd_text(conn, &["DBSIZE"]), ":0\r\n");
    }
}
