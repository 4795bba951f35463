//! Keyspace: DEL, UNLINK, EXISTS, TYPE, TOUCH, RENAME, RENAMENX, COPY, MOVE on the shard owning
//! the keys, and the rows of the node-wide DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHDB, FLUSHALL,
//! SWAPDB (the node runs those: `node::commands::keyspace`). The TTL commands live in
//! `expire.rs` and OBJECT in `object.rs`; their rows are listed here so the family has one
//! table.
//!
//! Cross-shard RENAME/RENAMENX/COPY use `Merge::Gather`: the handlers below only ever see one
//! shard (real or scratch) holding every key they name, so they read like Redis's code.
//!
use crate::access::ExecCx;
use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64, Args};
use crate::cmd::Family;
use crate::cmd::{
    acl, expire, flag, keyflag as kf, object, CommandSpec, ConnCmd, Exec, GatherDbs, KeySpec,
    Merge, NodeCmd,
};
use crate::error::CmdError;
use crate::reply::Reply;

const GENERIC: Family = Family {
    group: "generic",
    acl: acl::KEYSPACE,
};
/// Keyspace-wide commands Redis files under the server group (DBSIZE, FLUSHDB…).
const SERVER_GROUP: Family = Family {
    group: "server",
    acl: 0,
};

const ONE_RW_UPDATE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::UPDATE, 1)];
const ONE_RO_ACCESS: &[KeySpec] = &[KeySpec::one(kf::RO | kf::ACCESS, 1)];
const OBJECT_KEY: &[KeySpec] = &[KeySpec::one(kf::RO, 2)];
const WF: u32 = flag::WRITE | flag::FAST;
const RF: u32 = flag::READONLY | flag::FAST;
const O1: &str = "O(1)";

pub const SPECS: &[CommandSpec] = &[
    GENERIC.keyed("del", -2, flag::WRITE, &[KeySpec::all_from(kf::RM | kf::DELETE, 1, 1)], del, Merge::SumInts, GENERIC.docs("Delete a key", "1.0.0", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).")),
    GENERIC.keyed("unlink", -2, WF, &[KeySpec::all_from(kf::RM | kf::DELETE, 1, 1)], del, Merge::SumInts, GENERIC.docs("Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", "4.0.0", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.")),
    GENERIC.keyed("exists", -2, RF, &[KeySpec::all_from(kf::RO, 1, 1)], exists, Merge::SumInts, GENERIC.docs("Determine if a key exists", "1.0.0", "O(N) where N is the number of keys to check.")),
    GENERIC.keyed("touch", -2, RF, &[KeySpec::all_from(kf::RO, 1, 1)], touch, Merge::SumInts, GENERIC.docs("Alters the last access time of a key(s). Returns the number of existing keys specified.", "3.2.1", "O(N) where N is the number of keys that will be touched.")),
    GENERIC.keyed("type", 2, RF, &[KeySpec::one(kf::RO, 1)], type_, Merge::OneKey, GENERIC.docs("Determine the type stored at key", "1.0.0", O1)),
    GENERIC.keyed("rename", 3, flag::WRITE, &[KeySpec::one(kf::RW | kf::ACCESS | kf::DELETE, 1), KeySpec::one(kf::OW | kf::UPDATE, 2)], rename, Merge::Gather(GatherDbs::Current), GENERIC.docs("Rename a key", "1.0.0", O1)),
    GENERIC.keyed("renamenx", 3, WF, &[KeySpec::one(kf::RW | kf::ACCESS | kf::DELETE, 1), KeySpec::one(kf::OW | kf::INSERT, 2)], renamenx, Merge::Gather(GatherDbs::Current), GENERIC.docs("Rename a key, only if the new key does not exist", "1.0.0", O1)),
    GENERIC.keyed("copy", -3, flag::WRITE | flag::DENYOOM, &[KeySpec::one(kf::RO | kf::ACCESS, 1), KeySpec::one(kf::OW | kf::UPDATE, 2)], copy, Merge::Gather(GatherDbs::CopyDbOption), GENERIC.docs("Copy a key", "6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.")),
    GENERIC.keyed("move", 3, WF, &[KeySpec::one(kf::RW | kf::ACCESS | kf::UPDATE, 1)], move_, Merge::OneKey, GENERIC.docs("Move a key to another database", "1.0.0", O1)),
    GENERIC.keyed("expire", -3, WF, ONE_RW_UPDATE, expire::expire, Merge::OneKey, GENERIC.docs("Set a key's time to live in seconds", "1.0.0", O1)),
    GENERIC.keyed("pexpire", -3, WF, ONE_RW_UPDATE, expire::pexpire, Merge::OneKey, GENERIC.docs("Set a key's time to live in milliseconds", "2.6.0", O1)),
    GENERIC.keyed("expireat", -3, WF, ONE_RW_UPDATE, expire::expireat, Merge::OneKey, GENERIC.docs("Set the expiration for a key as a UNIX timestamp", "1.2.0", O1)),
    GENERIC.keyed("pexpireat", -3, WF, ONE_RW_UPDATE, expire::pexpireat, Merge::OneKey, GENERIC.docs("Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0", O1)),
    GENERIC.keyed("persist", 2, WF, ONE_RW_UPDATE, expire::persist, Merge::OneKey, GENERIC.docs("Remove the expiration from a key", "2.2.0", O1)),
    GENERIC.keyed("ttl", 2, RF, ONE_RO_ACCESS, expire::ttl, Merge::OneKey, GENERIC.docs("Get the time to live for a key in seconds", "1.0.0", O1)),
    GENERIC.keyed("pttl", 2, RF, ONE_RO_ACCESS, expire::pttl, Merge::OneKey, GENERIC.docs("Get the time to live for a key in milliseconds", "2.6.0", O1)),
    GENERIC.keyed("expiretime", 2, RF, ONE_RO_ACCESS, expire::expiretime, Merge::OneKey, GENERIC.docs("Get the expiration Unix timestamp for a key", "7.0.0", O1)),
    GENERIC.keyed("pexpiretime", 2, RF, ONE_RO_ACCESS, expire::pexpiretime, Merge::OneKey, GENERIC.docs("Get the expiration Unix timestamp for a key in milliseconds", "7.0.0", O1)),
    CommandSpec { name: "object", arity: -2, flags: 0, acl: 0, keys: &[], exec: Exec::Container, subcommands: OBJECT_SUBCOMMANDS, docs: GENERIC.docs("A container for object introspection commands", "2.2.3", "Depends on subcommand.") },
    GENERIC.keyless("dbsize", 1, RF, 0, Exec::Node(NodeCmd::DbSize), SERVER_GROUP.docs("Return the number of keys in the selected database", "1.0.0", O1)),
    GENERIC.keyless("keys", 2, flag::READONLY, acl::DANGEROUS, Exec::Node(NodeCmd::Keys), GENERIC.docs("Find all keys matching the given pattern", "1.0.0", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.")),
    GENERIC.keyless("scan", -2, flag::READONLY, 0, Exec::Node(NodeCmd::Scan), GENERIC.docs("Incrementally iterate the keys space", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.")),
    GENERIC.keyless("randomkey", 1, flag::READONLY, 0, Exec::Node(NodeCmd::RandomKey), GENERIC.docs("Return a random key from the keyspace", "1.0.0", O1)),
    GENERIC.keyless("flushdb", -1, flag::WRITE, acl::DANGEROUS, Exec::Node(NodeCmd::FlushDb), SERVER_GROUP.docs("Remove all keys from the current database", "1.0.0", "O(N) where N is the number of keys in the selected database")),
    GENERIC.keyless("flushall", -1, flag::WRITE, acl::DANGEROUS, Exec::Node(NodeCmd::FlushAll), SERVER_GROUP.docs("Remove all keys from all databases", "1.0.0", "O(N) where N is the total number of keys in all databases")),
    GENERIC.keyless("swapdb", 3, WF, acl::DANGEROUS, Exec::Node(NodeCmd::SwapDb), SERVER_GROUP.docs("Swaps two Redis databases", "4.0.0", "O(N) where N is the count of clients watching or blocking on keys from both databases.")),
];

/// DEBUG OBJECT's row, outside the table (the DEBUG row is the only DEBUG in it): the node
/// routes `DEBUG OBJECT key` through it to the shard owning argument 2.
pub static DEBUG_OBJECT: CommandSpec = GENERIC.keyed(
    "debug",
    3,
    flag::READONLY,
    OBJECT_KEY,
    object::debug_object,
    Merge::OneKey,
    GENERIC.docs("Show low level info about a key", "1.0.0", O1),
);

/// OBJECT's subcommands; each keyed one runs on the shard owning argument 2.
const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    GENERIC.keyed(
        "object|encoding",
        3,
        flag::READONLY,
        OBJECT_KEY,
        object::encoding,
        Merge::OneKey,
        GENERIC.docs(
            "Inspect the internal encoding of a Redis object",
            "2.2.3",
            O1,
        ),
    ),
    GENERIC.keyed(
        "object|freq",
        3,
        flag::READONLY,
        OBJECT_KEY,
        object::freq,
        Merge::OneKey,
        GENERIC.docs(
            "Get the logarithmic access frequency counter of a Redis object",
            "4.0.0",
            O1,
        ),
    ),
    GENERIC.keyed(
        "object|idletime",
        3,
        flag::READONLY,
        OBJECT_KEY,
        object::idletime,
        Merge::OneKey,
        GENERIC.docs(
            "Get the time since a Redis object was last accessed",
            "2.2.3",
            O1,
        ),
    ),
    GENERIC.keyed(
        "object|refcount",
        3,
        flag::READONLY,
        OBJECT_KEY,
        object::refcount,
        Merge::OneKey,
        GENERIC.docs(
            "Get the number of references to the value of the key",
            "2.2.3",
            O1,
        ),
    ),
    CommandSpec {
        name: "object|help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        acl: acl::KEYSPACE,
        keys: &[],
        exec: Exec::Conn(ConnCmd::ObjectHelp),
        subcommands: &[],
        docs: GENERIC.docs(
            "Show helpful text about the different subcommands",
            "6.2.0",
            O1,
        ),
    },
];

fn del(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let mut removed = 0;
    for key in argv.iter().skip(1) {
        if ecx.delete(key).is_some() {
            removed += 1;
        }
    }
    Ok(Reply::Int(removed))
}

/// Counts every argument that names a live key, repeats included (Redis does too).
fn exists(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now_ms = ecx.read_now_ms();
    let found = argv
        .iter()
        .skip(1)
        .filter(|key| ecx.db().contains(key, now_ms))
        .count();
    Ok(Reply::Int(found as i64))
}

/// Like EXISTS, but each hit counts as an access (OBJECT IDLETIME restarts).
fn touch(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now_ms = ecx.read_now_ms();
    let touched = argv
        .iter()
        .skip(1)
        .filter(|key| ecx.db().get(key, now_ms).is_some())
        .count();
    Ok(Reply::Int(touched as i64))
}

fn type_(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now_ms = ecx.read_now_ms();
    let name = ecx
        .db()
        .peek(&argv[1], now_ms)
        .map_or("none", |e| e.value().type_name());
    Ok(Reply::simple(name))
}

/// What RENAME does when the destination exists.
#[derive(Clone, Copy, Debug)]
enum RenameMode {
    /// RENAME: the destination is replaced.
    Overwrite,
    /// RENAMENX: nothing happens and the reply is 0.
    IfAbsent,
}

fn rename(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    op_rename(ecx, &argv[1], &argv[2], RenameMode::Overwrite)
}

fn renamenx(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    op_rename(ecx, &argv[1], &argv[2], RenameMode::IfAbsent)
}

/// Redis's renameGenericCommand: a missing source is an error even when both names are the
/// same; renaming a key to itself changes nothing. The entry moves whole, TTL included.
fn op_rename(
    ecx: &mut ExecCx,
    src: &[u8],
    dst: &[u8],
    mode: RenameMode,
) -> Result<Reply, CmdError> {
    let now_ms = ecx.read_now_ms();
    let done = |mode| match mode {
        RenameMode::Overwrite => Reply::OK,
        RenameMode::IfAbsent => Reply::Int(1),
    };
    if ecx.db().get(src, now_ms).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        return Ok(match mode {
            RenameMode::Overwrite => Reply::OK,
            RenameMode::IfAbsent => Reply::Int(0),
        });
    }
    if ecx.db().get(dst, now_ms).is_some() {
        if let RenameMode::IfAbsent = mode {
            return Ok(Reply::Int(0));
        }
    }
    let entry = ecx.delete(src).expect("source looked up above");
    ecx.put_entry(entry.with_key(dst));
    Ok(done(mode))
}

/// What COPY does when the destination exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CopyMode {
    KeepExisting,
    Replace,
}

#[derive(Debug, PartialEq, Eq)]
struct CopyArgs {
    dst_db: usize,
    mode: CopyMode,
}

/// `COPY source destination [DB destination-db] [REPLACE]`, options in any order, repeats
/// allowed (the last DB wins), each DB checked as it is read, as Redis does.
fn parse_copy(argv: &Argv, current_db: usize, dbs: usize) -> Result<CopyArgs, CmdError> {
    let mut args = Args::new(argv, 3);
    let mut parsed = CopyArgs {
        dst_db: current_db,
        mode: CopyMode::KeepExisting,
    };
    while let Some(word) = args.next() {
        if eq_word(word, "REPLACE") {
            parsed.mode = CopyMode::Replace;
        } else if eq_word(word, "DB") && args.remaining() >= 1 {
            parsed.dst_db = db_index(args.next_arg()?, dbs)?;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    args.finish()?;
    Ok(parsed)
}

fn copy(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let args = parse_copy(argv, ecx.db_index(), ecx.dbs_len())?;
    let (src, dst) = (&argv[1], &argv[2]);
    if args.dst_db == ecx.db_index() && src == dst {
        return Err(CmdError::SourceAndDestinationSame);
    }
    let now_ms = ecx.now_ms();
    let Some(found) = ecx.db().get(src, now_ms) else {
        return Ok(Reply::Int(0));
    };
    // A copy is a new object: its access time starts now.
    let mut copied = found.with_key(dst);
    copied.touch(now_ms);
    let exists = ecx.db_at(args.dst_db).get(dst, now_ms).is_some();
    if exists && args.mode == CopyMode::KeepExisting {
        return Ok(Reply::Int(0));
    }
    ecx.put_entry_in(args.dst_db, copied);
    Ok(Reply::Int(1))
}

/// MOVE key db: both databases live on the key's shard, so this never leaves it.
fn move_(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let dst_db = db_index(&argv[2], ecx.dbs_len())?;
    if dst_db == ecx.db_index() {
        return Err(CmdError::SourceAndDestinationSame);
    }
    let now_ms = ecx.now_ms();
    let key = &argv[1];
    if ecx.db().get(key, now_ms).is_none() {
        return Ok(Reply::Int(0));
    }
    if ecx.db_at(dst_db).get(key, now_ms).is_some() {
        return Ok(Reply::Int(0));
    }
    let entry = ecx.delete(key).expect("source looked up above");
    ecx.put_entry_in(dst_db, entry);
    Ok(Reply::Int(1))
}

/// A database index as COPY/MOVE read it (Redis's getIntFromObjectOrReply, then selectDb).
fn db_index(arg: &[u8], dbs: usize) -> Result<usize, CmdError> {
    let n = parse_i32(arg).ok_or(CmdError::NotInteger)?;
    usize::try_from(n)
        .ok()
        .filter(|&n| n < dbs)
        .ok_or(CmdError::DbIndexOutOfRange)
}

pub(crate) fn parse_i32(arg: &[u8]) -> Option<i32> {
    parse_i64(arg).ok().and_then(|n| i32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use crate::node::shard_of;

    use crate::testkit::{each, FamilyTest as T};

    /// Two hashtag-free key names owned by different shards (any two on one shard).
    fn apart(threads: u16, prefix: &str) -> (String, String) {
        let name = |i: u32| format!("{prefix}{i}");
        let first = name(0);
        let owner = shard_of(first.as_bytes(), threads);
        let second = (1..)
            .map(name)
            .find(|k| threads == 1 || shard_of(k.as_bytes(), threads) != owner)
            .expect("some key lands elsewhere");
        (first, second)
    }

    /// The bulk strings of a flat array reply (KEYS, or SCAN's key list), in order.
    fn bulks(reply: &str) -> Vec<String> {
        let lines: Vec<&str> = reply.split("\r\n").collect();
        lines
            .windows(2)
            .filter(|w| w[0].starts_with('$'))
            .map(|w| w[1].to_string())
            .collect()
    }

    fn sorted_keys(t: &mut T, args: &[&str]) -> Vec<String> {
        let mut keys = bulks(&t.run(args));
        keys.sort();
        keys
    }

    /// One SCAN call: the next cursor and the keys.
    fn scan(t: &mut T, cursor: &str, extra: &[&str]) -> (String, Vec<String>) {
        let mut args = vec!["SCAN", cursor];
        args.extend_from_slice(extra);
        let mut items = bulks(&t.run(&args));
        assert!(!items.is_empty(), "scan replied {args:?}");
        let cursor = items.remove(0);
        (cursor, items)
    }

    #[test]
    fn del_and_unlink_count_distinct_live_keys() {
        each(|t| {
            t.check(&[
                (&["MSET", "a", "1", "b", "2", "c", "3"], "+OK\r\n"),
                (&["DEL", "a", "a", "missing"], ":1\r\n"),
                (&["UNLINK", "b", "c", "b"], ":2\r\n"),
                (&["DBSIZE"], ":0\r\n"),
                (
                    &["DEL"],
                    "-ERR wrong number of arguments for 'del' command\r\n",
                ),
            ]);
        });
    }

    #[test]
    fn exists_and_touch_count_repeats() {
        each(|t| {
            t.check(&[
                (&["MSET", "a", "1", "b", "2"], "+OK\r\n"),
                (&["EXISTS", "a", "a", "b", "missing"], ":3\r\n"),
                (&["TOUCH", "a", "a", "missing"], ":2\r\n"),
                (&["TOUCH", "missing"], ":0\r\n"),
            ]);
        });
    }

    #[test]
    fn type_names_and_missing_is_none() {
        each(|t| {
            t.check(&[
                (&["SET", "s", "v"], "+OK\r\n"),
                (&["TYPE", "s"], "+string\r\n"),
                (&["TYPE", "missing"], "+none\r\n"),
                (
                    &["TYPE", "a", "b"],
                    "-ERR wrong number of arguments for 'type' command\r\n",
                ),
            ]);
        });
    }

    #[test]
    fn rename_moves_value_and_ttl_across_shards() {
        each(|t| {
            let (src, dst) = apart(t.threads, "r");
            let (src, dst) = (src.as_str(), dst.as_str());
            t.check(&[
                (&["SET", src, "v", "EX", "100"], "+OK\r\n"),
                (&["SET", dst, "old"], "+OK\r\n"),
                (&["RENAME", src, dst], "+OK\r\n"),
                (&["GET", dst], "$1\r\nv\r\n"),
                (&["EXISTS", src], ":0\r\n"),
                (&["TTL", dst], ":100\r\n"),
                (&["PTTL", dst], ":100000\r\n"),
                // A source without a TTL leaves none on the destination.
                (&["SET", src, "w"], "+OK\r\n"),
                (&["RENAME", src, dst], "+OK\r\n"),
                (&["TTL", dst], ":-1\r\n"),
                (&["RENAME", src, dst], "-ERR no such key\r\n"),
            ]);
        });
    }

    #[test]
    fn rename_to_itself_needs_the_key() {
        each(|t| {
            t.check(&[
                (&["RENAME", "k", "k"], "-ERR no such key\r\n"),
                (&["RENAMENX", "k", "k"], "-ERR no such key\r\n"),
                (&["SET", "k", "v", "PX", "5000"], "+OK\r\n"),
                (&["RENAME", "k", "k"], "+OK\r\n"),
                (&["RENAMENX", "k", "k"], ":0\r\n"),
                (&["PTTL", "k"], ":5000\r\n"),
            ]);
        });
    }

    #[test]
    fn renamenx_only_into_a_free_name() {
        each(|t| {
            let (x, y) = apart(t.threads, "n");
            let (x, y) = (x.as_str(), y.as_str());
            t.check(&[
                (&["SET", x, "1"], "+OK\r\n"),
                (&["RENAMENX", x, y], ":1\r\n"),
                (&["SET", x, "2"], "+OK\r\n"),
                (&["RENAMENX", x, y], ":0\r\n"),
                (&["GET", y], "$1\r\n1\r\n"),
                (&["GET", x], "$1\r\n2\r\n"),
                (&["RENAMENX", "missing", y], "-ERR no such key\r\n"),
            ]);
        });
    }

    #[test]
    fn rename_of_an_expired_source_is_no_such_key() {
        each(|t| {
            let (src, dst) = apart(t.threads, "e");
            t.run(&["SET", &src, "v", "PX", "10"]);
            t.c.advance_ms(20);
            assert_eq!(t.run(&["RENAME", &src, &dst]), "-ERR no such key\r\n");
        });
    }

    #[test]
    fn copy_keeps_ttl_and_honours_replace() {
        each(|t| {
            let (a, b) = apart(t.threads, "c");
            let (a, b) = (a.as_str(), b.as_str());
            t.check(&[
                (&["SET", a, "hello", "EX", "1000"], "+OK\r\n"),
                (&["COPY", a, b], ":1\r\n"),
                (&["GET", b], "$5\r\nhello\r\n"),
                (&["TTL", b], ":1000\r\n"),
                (&["SET", a, "again"], "+OK\r\n"),
                (&["COPY", a, b], ":0\r\n"),
                (&["GET", b], "$5\r\nhello\r\n"),
                (&["COPY", a, b, "REPLACE"], ":1\r\n"),
                (&["GET", b], "$5\r\nagain\r\n"),
                (&["TTL", b], ":-1\r\n"),
                (&["COPY", "missing", b, "REPLACE"], ":0\r\n"),
            ]);
        });
    }

    #[test]
    fn copy_errors_follow_redis() {
        each(|t| {
            let (a, b) = apart(t.threads, "c");
            let (a, b) = (a.as_str(), b.as_str());
            let same = "-ERR source and destination objects are the same\r\n";
            t.check(&[
                (&["SET", a, "v"], "+OK\r\n"),
                (&["COPY", a, a], same),
                (&["COPY", a, a, "REPLACE"], same),
                (&["COPY", a, a, "DB", "0"], same),
                (
                    &["COPY", a, b, "DB", "16"],
                    "-ERR DB index is out of range\r\n",
                ),
                (
                    &["COPY", a, b, "DB", "-1"],
                    "-ERR DB index is out of range\r\n",
                ),
                (
                    &["COPY", "missing", b, "DB", "16"],
                    "-ERR DB index is out of range\r\n",
                ),
                (
                    &["COPY", a, b, "DB", "abc"],
                    "-ERR value is not an integer or out of range\r\n",
                ),
                (
                    &["COPY", a, b, "DB", "4294967296"],
                    "-ERR value is not an integer or out of range\r\n",
                ),
                (&["COPY", a, b, "DB"], "-ERR syntax error\r\n"),
                (&["COPY", a, b, "FOO"], "-ERR syntax error\r\n"),
                (
                    &["COPY", a],
                    "-ERR wrong number of arguments for 'copy' command\r\n",
                ),
                (&["COPY", a, b, "REPLACE", "REPLACE"], ":1\r\n"),
            ]);
        });
    }

    #[test]
    fn copy_into_another_database() {
        each(|t| {
            let (a, b) = apart(t.threads, "d");
            let (a, b) = (a.as_str(), b.as_str());
            t.check(&[
                (&["SET", a, "v", "PX", "7000"], "+OK\r\n"),
                (&["COPY", a, a, "DB", "1"], ":1\r\n"),
                (&["COPY", a, b, "DB", "3", "DB", "2"], ":1\r\n"),
                (&["COPY", a, b, "DB", "2"], ":0\r\n"),
                (&["EXISTS", b], ":0\r\n"),
                (&["SELECT", "1"], "+OK\r\n"),
                (&["GET", a], "$1\r\nv\r\n"),
                (&["PTTL", a], ":7000\r\n"),
                (&["SELECT", "2"], "+OK\r\n"),
                (&["GET", b], "$1\r\nv\r\n"),
                (&["SELECT", "3"], "+OK\r\n"),
                (&["DBSIZE"], ":0\r\n"),
            ]);
        });
    }

    #[test]
    fn move_between_databases() {
        each(|t| {
            t.check(&[
                (&["SET", "m", "v", "EX", "50"], "+OK\r\n"),
                (&["MOVE", "m", "1"], ":1\r\n"),
                (&["MOVE", "m", "1"], ":0\r\n"),
                (&["EXISTS", "m"], ":0\r\n"),
                (&["SET", "m2", "here"], "+OK\r\n"),
                (&["SELECT", "1"], "+OK\r\n"),
                (&["TTL", "m"], ":50\r\n"),
                (&["SET", "m2", "there"], "+OK\r\n"),
                (&["MOVE", "m2", "0"], ":0\r\n"),
                (&["GET", "m2"], "$5\r\nthere\r\n"),
                (
                    &["MOVE", "m", "1"],
                    "-ERR source and destination objects are the same\r\n",
                ),
                (
                    &["MOVE", "missing", "1"],
                    "-ERR source and destination objects are the same\r\n",
                ),
                (&["MOVE", "missing", "0"], ":0\r\n"),
                (&["MOVE", "m", "16"], "-ERR DB index is out of range\r\n"),
                (&["MOVE", "m", "-1"], "-ERR DB index is out of range\r\n"),
                (
                    &["MOVE", "m", "x"],
                    "-ERR value is not an integer or out of range\r\n",
                ),
            ]);
        });
    }

    #[test]
    fn expire_options_and_conflicts() {
        each(|t| {
            let nx = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
            let gtlt = "-ERR GT and LT options at the same time are not compatible\r\n";
            t.check(&[
                (&["SET", "k", "v"], "+OK\r\n"),
                (&["EXPIRE", "k", "100", "XX"], ":0\r\n"),
                (&["EXPIRE", "k", "100", "GT"], ":0\r\n"),
                (&["EXPIRE", "k", "100", "LT"], ":1\r\n"),
                (&["EXPIRE", "k", "200", "NX"], ":0\r\n"),
                (&["EXPIRE", "k", "200", "xx"], ":1\r\n"),
                (&["EXPIRE", "k", "100", "GT"], ":0\r\n"),
                (&["EXPIRE", "k", "300", "XX", "GT"], ":1\r\n"),
                (&["EXPIRE", "k", "400", "LT"], ":0\r\n"),
                (&["EXPIRE", "k", "10", "XX", "LT"], ":1\r\n"),
                (&["TTL", "k"], ":10\r\n"),
                (&["EXPIRE", "k", "10", "NX", "XX"], nx),
                (&["EXPIRE", "k", "10", "NX", "GT"], nx),
                (&["EXPIRE", "k", "10", "lt", "nx"], nx),
                (&["EXPIRE", "k", "10", "GT", "LT"], gtlt),
                (&["EXPIRE", "k", "abc", "NX", "XX"], nx),
                (
                    &["EXPIRE", "k", "abc", "FOO"],
                    "-ERR Unsupported option FOO\r\n",
                ),
                (&["EXPIRE", "k", "10", "GT", "GT"], ":0\r\n"),
                (&["PERSIST", "k"], ":1\r\n"),
                (&["EXPIRE", "k", "10", "XX", "LT"], ":0\r\n"),
                (&["EXPIRE", "missing", "10", "NX", "XX"], nx),
                (&["EXPIRE", "missing", "10"], ":0\r\n"),
            ]);
        });
    }

    #[test]
    fn expire_numbers_and_overflow() {
        each(|t| {
            let inv = |cmd: &str| format!("-ERR invalid expire time in '{cmd}' command\r\n");
            let not_int = "-ERR value is not an integer or out of range\r\n";
            let max = "9223372036854775807";
            t.check(&[
                (&["SET", "k", "v"], "+OK\r\n"),
                (&["EXPIRE", "k", "abc"], not_int),
                (&["EXPIRE", "k", "1.5"], not_int),
                (&["EXPIRE", "k", max], &inv("expire")),
                (&["PEXPIRE", "k", max], &inv("pexpire")),
                (&["EXPIREAT", "k", max], &inv("expireat")),
                (&["EXPIRE", "missing", max], &inv("expire")),
                (&["EXPIRE", "k", "9223372036854775"], &inv("expire")),
                (&["EXPIRE", "k", "-9223372036854775808"], &inv("expire")),
                (&["TTL", "k"], ":-1\r\n"),
                (&["PEXPIREAT", "k", max], ":1\r\n"),
                (&["PEXPIRETIME", "k"], ":9223372036854775807\r\n"),
                (&["EXPIRETIME", "k"], ":9223372036854776\r\n"),
                (&["EXPIREAT", "k", "9223372036854775"], ":1\r\n"),
                (&["PEXPIRETIME", "k"], ":9223372036854775000\r\n"),
            ]);
        });
    }

    #[test]
    fn a_deadline_in_the_past_deletes() {
        each(|t| {
            for args in [
                &["EXPIRE", "k", "0"][..],
                &["EXPIRE", "k", "-10"],
                &["PEXPIRE", "k", "-9223372036854775808"],
                &["EXPIREAT", "k", "1"],
                &["PEXPIREAT", "k", "0"],
                &["EXPIREAT", "k", "-5"],
            ] {
                t.check(&[(&["SET", "k", "v"], "+OK\r\n"), (args, ":1\r\n")]);
                t.check(&[(&["EXISTS", "k"], ":0\r\n"), (&["DBSIZE"], ":0\r\n")]);
            }
            // Exactly now is already due.
            let now_ms = t.c.wall_ms().to_string();
            t.check(&[
                (&["SET", "k", "v"], "+OK\r\n"),
                (&["PEXPIREAT", "k", &now_ms], ":1\r\n"),
                (&["EXISTS", "k"], ":0\r\n"),
            ]);
        });
    }

    #[test]
    fn ttl_family_reports_and_rounds() {
        each(|t| {
            let at_s = (t.c.wall_ms() / 1000 + 100).to_string();
            t.check(&[
                (&["TTL", "missing"], ":-2\r\n"),
                (&["PTTL", "missing"], ":-2\r\n"),
                (&["EXPIRETIME", "missing"], ":-2\r\n"),
                (&["PEXPIRETIME", "missing"], ":-2\r\n"),
                (&["SET", "k", "v"], "+OK\r\n"),
                (&["TTL", "k"], ":-1\r\n"),
                (&["PEXPIRETIME", "k"], ":-1\r\n"),
                (&["PEXPIRE", "k", "1500"], ":1\r\n"),
                (&["TTL", "k"], ":2\r\n"),
                (&["PEXPIRE", "k", "1499"], ":1\r\n"),
                (&["TTL", "k"], ":1\r\n"),
                (&["PEXPIRE", "k", "499"], ":1\r\n"),
                (&["TTL", "k"], ":0\r\n"),
                (&["EXPIREAT", "k", &at_s], ":1\r\n"),
                (&["EXPIRETIME", "k"], &format!(":{at_s}\r\n")),
                (&["PEXPIRETIME", "k"], &format!(":{at_s}000\r\n")),
            ]);
            t.c.advance_ms(40_250);
            t.check(&[(&["PTTL", "k"], ":59750\r\n"), (&["TTL", "k"], ":60\r\n")]);
        });
    }

    #[test]
    fn persist_clears_only_existing_ttls() {
        each(|t| {
            t.check(&[
                (&["PERSIST", "missing"], ":0\r\n"),
                (&["SET", "k", "v", "EX", "10"], "+OK\r\n"),
                (&["PERSIST", "k"], ":1\r\n"),
                (&["PERSIST", "k"], ":0\r\n"),
                (&["TTL", "k"], ":-1\r\n"),
            ]);
            t.c.advance_ms(20_000);
            t.check(&[(&["EXISTS", "k"], ":1\r\n")]);
        });
    }

    /// Redis 7.0 counts a key whose deadline passed in DBSIZE until something removes it; KEYS
    /// skips it without removing it; SCAN removes it.
    #[test]
    fn dbsize_counts_expired_keys_until_removed() {
        each(|t| {
            t.check(&[
                (&["SET", "gone", "v", "PX", "10"], "+OK\r\n"),
                (&["SET", "kept", "v"], "+OK\r\n"),
            ]);
            // 50 ms: past the deadline, before the first sweep tick (100 ms).
            t.c.advance_ms(50);
            t.check(&[
                (&["DBSIZE"], ":2\r\n"),
                (&["KEYS", "*"], "*1\r\n$4\r\nkept\r\n"),
                (&["DBSIZE"], ":2\r\n"),
            ]);
            assert_eq!(scan(t, "0", &[]), ("0".into(), vec!["kept".to_string()]));
            t.check(&[(&["DBSIZE"], ":1\r\n")]);
        });
    }

    #[test]
    fn active_sweep_removes_keys_nobody_reads_in_bounded_ticks() {
        const KEYS: usize = 3000;
        each(|t| {
            let mut pipeline = Vec::new();
            for i in 0..KEYS {
                let cmd = format!("SET key:{i} v PX 1000");
                let parts: Vec<&str> = cmd.split(' ').collect();
                pipeline.extend(resp_frame(&parts));
            }
            let replies = t.c.send(t.conn, &pipeline);
            assert_eq!(replies, b"+OK\r\n".repeat(KEYS));
            t.check(&[(&["DBSIZE"], &format!(":{KEYS}\r\n"))]);
            let info = t.run(&["INFO"]);
            assert!(
                info.contains(&format!("db0:keys={KEYS},expires={KEYS},")),
                "{info}"
            );
            // Past the deadline: one tick sweeps at most SWEEP_BUCKETS_PER_TICK_MAX buckets
            // per shard, so it removes some keys but not all of them.
            t.c.advance_ms(1500);
            let after_one = dbsize(t);
            assert!(after_one > 0 && after_one < KEYS as i64, "{after_one} left");
            let mut ticks = 1;
            while dbsize(t) > 0 {
                assert!(ticks < 40, "sweep stalled at {} keys", dbsize(t));
                t.c.advance_ms(100);
                ticks += 1;
            }
            assert!(!t.run(&["INFO"]).contains("db0:"));
        });
    }

    fn dbsize(t: &mut T) -> i64 {
        let reply = t.run(&["DBSIZE"]);
        reply[1..reply.len() - 2].parse().expect("integer reply")
    }

    fn resp_frame(args: &[&str]) -> Vec<u8> {
        let mut frame = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            frame.extend(format!("${}\r\n{arg}\r\n", arg.len()).into_bytes());
        }
        frame
    }

    #[test]
    fn keys_patterns_and_expired_keys() {
        each(|t| {
            t.run(&[
                "MSET", "foo", "1", "foobar", "2", "bar", "3", "hello", "4", "hallo", "5",
            ]);
            t.run(&["SET", "fog", "v", "PX", "10"]);
            assert_eq!(sorted_keys(t, &["KEYS", "f*"]), ["fog", "foo", "foobar"]);
            t.c.advance_ms(20);
            assert_eq!(sorted_keys(t, &["KEYS", "f*"]), ["foo", "foobar"]);
            assert_eq!(sorted_keys(t, &["KEYS", "h[ae]llo"]), ["hallo", "hello"]);
            assert_eq!(sorted_keys(t, &["KEYS", "*"]).len(), 5);
            assert_eq!(t.run(&["KEYS", "nomatch*"]), "*0\r\n");
        });
    }

    /// KEYS * and SCAN without MATCH skip matching, so the empty key is listed (the glob would
    /// not match it).
    #[test]
    fn star_lists_the_empty_key() {
        each(|t| {
            t.run(&["SET", "", "v"]);
            assert_eq!(t.run(&["KEYS", "*"]), "*1\r\n$0\r\n\r\n");
            assert_eq!(t.run(&["KEYS", "**"]), "*0\r\n");
            assert_eq!(scan(t, "0", &["MATCH", "*"]).1, [""]);
        });
    }

    #[test]
    fn scan_argument_errors() {
        each(|t| {
            let syntax = "-ERR syntax error\r\n";
            let cursor = "-ERR invalid cursor\r\n";
            let not_int = "-ERR value is not an integer or out of range\r\n";
            t.check(&[
                (&["SCAN", "abc"], cursor),
                (&["SCAN", " 5"], cursor),
                (&["SCAN", "5x"], cursor),
                (&["SCAN", "18446744073709551616"], cursor),
                (&["SCAN", "0", "COUNT", "0"], syntax),
                (&["SCAN", "0", "COUNT", "-1"], syntax),
                (&["SCAN", "0", "COUNT", "abc"], not_int),
                (&["SCAN", "0", "COUNT"], syntax),
                (&["SCAN", "0", "MATCH"], syntax),
                (&["SCAN", "0", "TYPE"], syntax),
                (&["SCAN", "0", "FOO", "bar"], syntax),
                (
                    &["SCAN"],
                    "-ERR wrong number of arguments for 'scan' command\r\n",
                ),
            ]);
        });
    }

    /// Cursors are read like strtoul: '+', '-' (wrapping) and the empty string are accepted.
    #[test]
    fn scan_cursor_parsing_is_lenient_like_strtoul() {
        each(|t| {
            t.run(&["SET", "only", "v"]);
            assert_eq!(scan(t, "", &[]), ("0".into(), vec!["only".to_string()]));
            assert_eq!(scan(t, "+0", &[]), ("0".into(), vec!["only".to_string()]));
        });
    }

    /// Regression (issue 23): `SCAN -1` (u64::MAX once strtoul wraps it) named no shard we
    /// have, restarted the scan and listed every key with a fresh cursor. Redis answers cursor
    /// 0 for it (it is the last position), so past the last shard the iteration is over.
    #[test]
    fn scan_cursor_past_the_last_shard_ends_the_iteration() {
        each(|t| {
            for i in 0..300 {
                t.run(&["SET", &format!("k{i}"), "v"]);
            }
            assert_ne!(scan(t, "0", &[]).0, "0", "300 keys take several calls");
            for cursor in ["-1", "18446744073709551615"] {
                assert_eq!(scan(t, cursor, &[]), ("0".into(), Vec::new()), "{cursor}");
            }
        });
    }

    #[test]
    fn small_keyspace_scans_in_one_call() {
        each(|t| {
            assert_eq!(t.run(&["SCAN", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
            t.run(&["MSET", "a1", "1", "a2", "2", "b1", "3"]);
            let (cursor, mut keys) = scan(t, "0", &["COUNT", "1000"]);
            keys.sort();
            assert_eq!(
                (cursor.as_str(), keys),
                ("0", vec!["a1".into(), "a2".into(), "b1".into()])
            );
            let (cursor, mut keys) =
                scan(t, "0", &["count", "1000", "match", "a*", "type", "STRING"]);
            keys.sort();
            assert_eq!(
                (cursor.as_str(), keys),
                ("0", vec!["a1".into(), "a2".into()])
            );
            assert_eq!(
                scan(t, "0", &["TYPE", "list", "COUNT", "1000"]),
                ("0".into(), vec![])
            );
            t.check(&[
                (&["SELECT", "1"], "+OK\r\n"),
                (&["SCAN", "0"], "*2\r\n$1\r\n0\r\n*0\r\n"),
            ]);
        });
    }

    /// Redis's guarantee, across shards: a key present for the whole iteration is returned at
    /// least once, while other keys come and go and the tables grow.
    #[test]
    fn scan_returns_every_stable_key_while_tables_grow() {
        each(|t| {
            const STABLE: usize = 200;
            for i in 0..STABLE {
                t.run(&["SET", &format!("stable:{i}"), "v"]);
            }
            let mut seen = std::collections::BTreeSet::new();
            let (mut cursor, mut calls, mut added) = ("0".to_string(), 0, 0);
            loop {
                let (next, keys) = scan(t, &cursor, &["COUNT", "7"]);
                seen.extend(keys);
                calls += 1;
                // Grow: 40 new keys per call; churn: drop some of the earlier ones.
                for _ in 0..40 {
                    t.run(&["SET", &format!("grow:{added}"), "v"]);
                    added += 1;
                }
                t.run(&[
                    "DEL",
                    &format!("grow:{}", added / 2),
                    &format!("grow:{}", added / 3),
                ]);
                cursor = next;
                if cursor == "0" {
                    break;
                }
                assert!(calls < 5000, "scan did not finish");
            }
            for i in 0..STABLE {
                assert!(seen.contains(&format!("stable:{i}")), "stable:{i} missed");
            }
            assert!(seen
                .iter()
                .all(|k| k.starts_with("stable:") || k.starts_with("grow:")));
            assert!(
                calls > 3,
                "the scan should take several calls, took {calls}"
            );
        });
    }

    #[test]
    fn scan_never_returns_expired_keys() {
        each(|t| {
            for i in 0..50 {
                t.run(&["SET", &format!("x{i}"), "v", "PX", "10"]);
            }
            t.run(&["SET", "live", "v"]);
            t.c.advance_ms(20);
            let (mut cursor, mut seen) = ("0".to_string(), Vec::new());
            loop {
                let (next, keys) = scan(t, &cursor, &["COUNT", "3"]);
                seen.extend(keys);
                cursor = next;
                if cursor == "0" {
                    break;
                }
            }
            assert_eq!(seen, ["live"]);
        });
    }

    #[test]
    fn randomkey_skips_and_deletes_expired_keys() {
        each(|t| {
            t.check(&[
                (&["RANDOMKEY"], "$-1\r\n"),
                (&["SET", "only", "v"], "+OK\r\n"),
            ]);
            t.check(&[(&["RANDOMKEY"], "$4\r\nonly\r\n")]);
            for i in 0..200 {
                t.run(&["SET", &format!("x{i}"), "v", "PX", "10"]);
            }
            t.c.advance_ms(20);
            for _ in 0..5 {
                t.check(&[(&["RANDOMKEY"], "$4\r\nonly\r\n")]);
            }
            t.check(&[(&["DEL", "only"], ":1\r\n"), (&["RANDOMKEY"], "$-1\r\n")]);
            t.check(&[(&["DBSIZE"], ":0\r\n")]);
            t.run(&["HELLO", "3"]);
            t.check(&[(&["RANDOMKEY"], "_\r\n")]);
        });
    }

    #[test]
    fn flushdb_and_flushall_across_databases() {
        each(|t| {
            let syntax = "-ERR syntax error\r\n";
            t.run(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]);
            t.run(&["SELECT", "2"]);
            t.run(&["MSET", "a", "1", "b", "2"]);
            t.check(&[
                (&["FLUSHDB", "FOO"], syntax),
                (&["FLUSHDB", "SYNC", "ASYNC"], syntax),
                (&["FLUSHDB", "sync"], "+OK\r\n"),
                (&["DBSIZE"], ":0\r\n"),
                (&["SELECT", "0"], "+OK\r\n"),
                (&["DBSIZE"], ":4\r\n"),
                (&["SELECT", "2"], "+OK\r\n"),
                (&["MSET", "a", "1", "b", "2"], "+OK\r\n"),
                (&["FLUSHALL", "SYNC", "SYNC"], syntax),
                (&["FLUSHALL", "ASYNC"], "+OK\r\n"),
                (&["DBSIZE"], ":0\r\n"),
                (&["SELECT", "0"], "+OK\r\n"),
                (&["DBSIZE"], ":0\r\n"),
                (&["KEYS", "*"], "*0\r\n"),
            ]);
        });
    }

    #[test]
    fn swapdb_then_reads_in_both() {
        each(|t| {
            t.check(&[
                (&["MSET", "a", "db0", "z", "z0"], "+OK\r\n"),
                (&["SELECT", "1"], "+OK\r\n"),
                (&["MSET", "a", "db1", "b", "only1"], "+OK\r\n"),
                (&["SWAPDB", "0", "1"], "+OK\r\n"),
                (&["GET", "a"], "$3\r\ndb0\r\n"),
                (&["GET", "z"], "$2\r\nz0\r\n"),
                (&["EXISTS", "b"], ":0\r\n"),
                (&["SELECT", "0"], "+OK\r\n"),
                (&["GET", "a"], "$3\r\ndb1\r\n"),
                (&["GET", "b"], "$5\r\nonly1\r\n"),
                (&["DBSIZE"], ":2\r\n"),
                (&["SWAPDB", "0", "0"], "+OK\r\n"),
                (&["GET", "a"], "$3\r\ndb1\r\n"),
            ]);
        });
    }

    #[test]
    fn swapdb_errors() {
        each(|t| {
            let range = "-ERR DB index is out of range\r\n";
            t.check(&[
                (&["SWAPDB", "0", "16"], range),
                (&["SWAPDB", "-1", "0"], range),
                (&["SWAPDB", "a", "0"], "-ERR invalid first DB index\r\n"),
                (&["SWAPDB", "16", "b"], "-ERR invalid second DB index\r\n"),
                (
                    &["SWAPDB", "4294967296", "0"],
                    "-ERR invalid first DB index\r\n",
                ),
                (
                    &["SWAPDB", "0"],
                    "-ERR wrong number of arguments for 'swapdb' command\r\n",
                ),
            ]);
        });
    }

    #[test]
    fn object_encoding_and_refcount() {
        each(|t| {
            let long = "x".repeat(45);
            t.check(&[
                (
                    &[
                        "MSET", "int", "12345", "neg", "-5", "lead", "0123", "s", "hi",
                    ],
                    "+OK\r\n",
                ),
                (&["SET", "long", &long], "+OK\r\n"),
                (&["OBJECT", "ENCODING", "int"], "$3\r\nint\r\n"),
                (&["OBJECT", "encoding", "lead"], "$6\r\nembstr\r\n"),
                (&["OBJECT", "ENCODING", "long"], "$3\r\nraw\r\n"),
                (&["OBJECT", "ENCODING", "missing"], "$-1\r\n"),
                (&["SET", "small", "100"], "+OK\r\n"),
                (&["OBJECT", "REFCOUNT", "small"], ":2147483647\r\n"),
                (&["OBJECT", "REFCOUNT", "int"], ":1\r\n"),
                (&["OBJECT", "REFCOUNT", "neg"], ":1\r\n"),
                (&["OBJECT", "REFCOUNT", "s"], ":1\r\n"),
                (&["OBJECT", "REFCOUNT", "missing"], "$-1\r\n"),
            ]);
        });
    }

    #[test]
    fn object_idletime_and_freq() {
        each(|t| {
            let lfu = "-ERR An LFU maxmemory policy is not selected, access frequency not \
                       tracked. Please note that when switching between policies at runtime \
                       LRU and LFU data will take some time to adjust.\r\n";
            t.check(&[
                (&["SET", "k", "v"], "+OK\r\n"),
                (&["OBJECT", "IDLETIME", "k"], ":0\r\n"),
            ]);
            t.c.advance_ms(5000);
            // Neither OBJECT, TYPE, EXISTS nor TTL counts as an access.
            t.check(&[
                (&["TYPE", "k"], "+string\r\n"),
                (&["EXISTS", "k"], ":1\r\n"),
                (&["TTL", "k"], ":-1\r\n"),
                (&["OBJECT", "IDLETIME", "k"], ":5\r\n"),
                (&["TOUCH", "k"], ":1\r\n"),
                (&["OBJECT", "IDLETIME", "k"], ":0\r\n"),
                (&["OBJECT", "FREQ", "k"], lfu),
                (&["OBJECT", "FREQ", "missing"], "$-1\r\n"),
                (&["OBJECT", "IDLETIME", "missing"], "$-1\r\n"),
            ]);
        });
    }

    #[test]
    fn object_help_and_errors() {
        each(|t| {
            let help = t.run(&["OBJECT", "HELP"]);
            assert!(help.starts_with(
                "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
                 +ENCODING <key>\r\n"
            ));
            assert!(
                help.ends_with("+HELP\r\n+    Prints this help.\r\n"),
                "{help}"
            );
            t.check(&[
                (
                    &["OBJECT"],
                    "-ERR wrong number of arguments for 'object' command\r\n",
                ),
                (
                    &["OBJECT", "ENCODING"],
                    "-ERR wrong number of arguments for 'object|encoding' command\r\n",
                ),
                (
                    &["OBJECT", "help", "x"],
                    "-ERR wrong number of arguments for 'object|help' command\r\n",
                ),
                (
                    &["OBJECT", "foo", "k"],
                    "-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n",
                ),
            ]);
        });
    }

    #[test]
    fn resp3_nulls() {
        each(|t| {
            t.run(&["HELLO", "3"]);
            t.check(&[
                (&["OBJECT", "ENCODING", "missing"], "_\r\n"),
                (&["RANDOMKEY"], "_\r\n"),
                (&["TTL", "missing"], ":-2\r\n"),
            ]);
        });
    }
}
