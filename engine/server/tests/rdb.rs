//! RDB compatibility against redis-server 7.0, both ways, for every type and encoding:
//! DUMP/RESTORE between the servers, DEBUG DIGEST and DIGEST-VALUE equality, a dump file
//! redis-server SAVEs read by our `RdbReader`, a file our writer builds loaded by redis-server
//! and accepted by `redis-check-rdb`, and Redis's own payload bytes reproduced by our encoder.
//!
//! Redis's DEBUG is enabled (`--enable-debug-command yes`); files live in a fresh directory
//! under the system temp dir, removed at the end.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use damselfly_core::db::Value;
use damselfly_core::rdb::{
    self, digest, Crc64, EncodeOptions, LoadCx, RdbReader, Record, DUMP_VERSION_MAX,
};
use support::{Damselfly, RawConn, RedisServer};

/// Databases the dataset spreads over.
const DBS: [u32; 3] = [0, 1, 5];
/// A TTL far enough away not to pass during the test.
const TTL_MS: u64 = 3_600_000;

/// A reply, parsed (only the shapes these commands answer with).
#[derive(Clone, Debug, PartialEq)]
enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Resp>),
}

fn parse(buf: &[u8], at: &mut usize) -> Resp {
    let line_end = buf[*at..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("a complete line")
        + *at;
    let line = String::from_utf8_lossy(&buf[*at + 1..line_end]).into_owned();
    let kind = buf[*at];
    *at = line_end + 2;
    match kind {
        b'+' => Resp::Simple(line),
        b'-' => Resp::Error(line),
        b':' => Resp::Int(line.parse().expect("integer")),
        b'$' => {
            let len: i64 = line.parse().expect("length");
            if len < 0 {
                return Resp::Bulk(None);
            }
            let bytes = buf[*at..*at + len as usize].to_vec();
            *at += len as usize + 2;
            Resp::Bulk(Some(bytes))
        }
        b'*' => {
            let n: usize = line.parse().expect("count");
            Resp::Array((0..n).map(|_| parse(buf, at)).collect())
        }
        other => panic!("unexpected reply type {other}"),
    }
}

fn call(conn: &mut RawConn, args: &[&[u8]]) -> Resp {
    let raw = conn.cmd(args);
    parse(&raw, &mut 0)
}

fn call_str(conn: &mut RawConn, args: &[&str]) -> Resp {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    call(conn, &args)
}

fn bulk(reply: Resp) -> Vec<u8> {
    match reply {
        Resp::Bulk(Some(b)) => b,
        other => panic!("not a bulk string: {other:?}"),
    }
}

fn simple(reply: Resp) -> String {
    match reply {
        Resp::Simple(s) => s,
        other => panic!("not a status: {other:?}"),
    }
}

/// Pseudo-random bytes (no compression finds much in them).
fn noise(len: usize, seed: u32) -> String {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            char::from(b'!' + (x % 90) as u8)
        })
        .collect()
}

/// The commands that build the dataset: every type, in its small and large encodings.
fn dataset_commands() -> Vec<Vec<String>> {
    let mut cmds: Vec<Vec<String>> = Vec::new();
    let mut add = |words: Vec<String>| cmds.push(words);
    let w = |s: &str| s.to_string();
    for db in DBS {
        add(vec![w("SELECT"), db.to_string()]);
        let p = format!("d{db}:");
        let k = |name: &str| format!("{p}{name}");
        for (name, value) in [
            ("int", "12345".to_string()),
            ("negative", "-7".to_string()),
            ("wide-int", i64::MAX.to_string()),
            ("embstr", "hello world".to_string()),
            ("raw", "a".repeat(120)),
            ("noise", noise(300, db)),
            ("empty", String::new()),
            ("leading-zero", "0123".to_string()),
        ] {
            add(vec![w("SET"), k(name), value]);
        }
        add(vec![w("APPEND"), k("appended"), w("12")]);
        add(vec![w("PFADD"), k("hll"), w("a"), w("b"), w("c")]);
        let mut big_hll = vec![w("PFADD"), k("hll-dense")];
        big_hll.extend((0..3000).map(|i| format!("e{i}")));
        add(big_hll);
        add(vec![
            w("RPUSH"),
            k("list-small"),
            w("a"),
            w("1"),
            w("-2"),
            w("b"),
        ]);
        let mut long_list = vec![w("RPUSH"), k("list-nodes")];
        long_list.extend((0..2500).map(|i| format!("element-{i}-{}", noise(30, i))));
        add(long_list);
        let mut int_list = vec![w("RPUSH"), k("list-ints")];
        int_list.extend((0..1000).map(|i| (i * 9973 - 500_000).to_string()));
        add(int_list);
        add(vec![
            w("RPUSH"),
            k("list-big-element"),
            w("x"),
            noise(20_000, 7),
            w("y"),
        ]);
        add(vec![w("LPUSH"), k("list-lpush"), w("a"), w("b"), w("c")]);
        add(vec![
            w("SADD"),
            k("intset"),
            w("1"),
            w("2"),
            w("-300"),
            w("70000"),
        ]);
        add(vec![w("SADD"), k("intset-wide"), w("1"), w("-5000000000")]);
        add(vec![w("SADD"), k("set-table"), w("a"), w("b"), w("1")]);
        let mut big_set = vec![w("SADD"), k("set-big-ints")];
        big_set.extend((0..700).map(|i| (i * 3).to_string()));
        add(big_set);
        add(vec![
            w("HSET"),
            k("hash-small"),
            w("f"),
            w("v"),
            w("n"),
            w("12"),
        ]);
        let mut big_hash = vec![w("HSET"), k("hash-table")];
        for i in 0..600 {
            big_hash.push(format!("field{i}"));
            big_hash.push(format!("value{i}"));
        }
        add(big_hash);
        add(vec![
            w("HSET"),
            k("hash-long-value"),
            w("f"),
            "v".repeat(100),
        ]);
        add(vec![
            w("ZADD"),
            k("zset-small"),
            w("1"),
            w("a"),
            w("2.5"),
            w("b"),
            w("0.1"),
            w("c"),
            w("-inf"),
            w("d"),
            w("1e300"),
            w("e"),
        ]);
        let mut big_zset = vec![w("ZADD"), k("zset-skiplist")];
        for i in 0..300 {
            big_zset.push(format!("{}", f64::from(i) / 7.0));
            big_zset.push(format!("member{i}"));
        }
        add(big_zset);
        add(vec![
            w("ZADD"),
            k("zset-long-member"),
            w("1"),
            "m".repeat(80),
        ]);
        for i in 0..5 {
            add(vec![
                w("XADD"),
                k("stream-small"),
                format!("{}-{i}", 1000 + db),
                w("f"),
                format!("v{i}"),
                w("g"),
                w("w"),
            ]);
        }
        add(vec![
            w("XADD"),
            k("stream-small"),
            w("2000-0"),
            w("other"),
            w("1"),
        ]);
        add(vec![
            w("XGROUP"),
            w("CREATE"),
            k("stream-small"),
            w("grp"),
            w("0"),
        ]);
        add(vec![
            w("XGROUP"),
            w("CREATE"),
            k("stream-small"),
            w("lazy"),
            w("$"),
        ]);
        for i in 0..700 {
            add(vec![
                w("XADD"),
                k("stream-nodes"),
                format!("{}-{}", 5000 + i / 4, i % 4),
                w("field"),
                format!("value-{i}"),
                w("n"),
                i.to_string(),
            ]);
        }
        add(vec![
            w("XGROUP"),
            w("CREATE"),
            k("stream-empty"),
            w("g"),
            w("$"),
            w("MKSTREAM"),
        ]);
        for name in [
            "embstr",
            "list-small",
            "hash-table",
            "zset-small",
            "stream-small",
        ] {
            add(vec![w("PEXPIRE"), k(name), TTL_MS.to_string()]);
        }
    }
    add(vec![w("SELECT"), w("0")]);
    cmds
}

fn run_all(conn: &mut RawConn, cmds: &[Vec<String>]) {
    for words in cmds {
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        let reply = call_str(conn, &args);
        assert!(!matches!(reply, Resp::Error(_)), "{words:?}: {reply:?}");
    }
}

/// Every key of database `db`, sorted.
fn keys(conn: &mut RawConn, db: u32) -> Vec<Vec<u8>> {
    call_str(conn, &["SELECT", &db.to_string()]);
    let Resp::Array(items) = call_str(conn, &["KEYS", "*"]) else {
        panic!("KEYS");
    };
    let mut keys: Vec<Vec<u8>> = items.into_iter().map(bulk).collect();
    keys.sort();
    keys
}

fn digest_values(conn: &mut RawConn, keys: &[Vec<u8>]) -> Vec<String> {
    let mut args: Vec<&[u8]> = vec![b"DEBUG", b"DIGEST-VALUE"];
    args.extend(keys.iter().map(Vec::as_slice));
    let Resp::Array(items) = call(conn, &args) else {
        panic!("DIGEST-VALUE");
    };
    items.into_iter().map(simple).collect()
}

fn dataset_digest(conn: &mut RawConn) -> String {
    simple(call_str(conn, &["DEBUG", "DIGEST"]))
}

struct Pair {
    redis: RedisServer,
    ours: Damselfly,
    r: RawConn,
    d: RawConn,
}

fn start_pair(redis_extra: &[&str]) -> Pair {
    let mut extra = vec!["--enable-debug-command", "yes"];
    extra.extend_from_slice(redis_extra);
    let redis = RedisServer::start_with(&extra);
    let ours = Damselfly::start(&["--proactor_threads", "3"]);
    let (mut r, mut d) = (redis.conn(), ours.conn());
    let cmds = dataset_commands();
    run_all(&mut r, &cmds);
    run_all(&mut d, &cmds);
    Pair { redis, ours, r, d }
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("damselfly-rdb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn digests_agree_and_dump_restore_crosses_both_ways() {
    let Pair {
        redis: _redis,
        ours: _ours,
        mut r,
        mut d,
    } = start_pair(&[]);
    assert_eq!(
        dataset_digest(&mut r),
        dataset_digest(&mut d),
        "DEBUG DIGEST"
    );
    let empty_digest = "0".repeat(40);
    assert_ne!(dataset_digest(&mut d), empty_digest);
    for db in DBS {
        let names = keys(&mut r, db);
        assert_eq!(names, keys(&mut d, db), "db {db}");
        assert_eq!(
            digest_values(&mut r, &names),
            digest_values(&mut d, &names),
            "DIGEST-VALUE in db {db}"
        );
        for key in &names {
            let show = String::from_utf8_lossy(key).into_owned();
            let ttl = match call(&mut r, &[b"PTTL", key]) {
                Resp::Int(ms) if ms > 0 => ms.to_string(),
                _ => "0".to_string(),
            };
            let from_redis = bulk(call(&mut r, &[b"DUMP", key]));
            let from_ours = bulk(call(&mut d, &[b"DUMP", key]));
            let mut copy = key.clone();
            copy.extend_from_slice(b":copy");
            // Each server restores the other's payload under the same name.
            for (conn, payload) in [(&mut d, &from_redis), (&mut r, &from_ours)] {
                let reply = call(conn, &[b"RESTORE", &copy, ttl.as_bytes(), payload]);
                assert_eq!(reply, Resp::Simple("OK".into()), "RESTORE {show}");
            }
            let pair = [key.clone(), copy.clone()];
            let (on_redis, on_ours) = (digest_values(&mut r, &pair), digest_values(&mut d, &pair));
            assert_eq!(on_redis[0], on_redis[1], "{show}: ours restored in redis");
            assert_eq!(on_ours[0], on_ours[1], "{show}: redis's restored in ours");
            assert_eq!(on_redis[0], on_ours[0], "{show}");
            // Encodings: a payload restores to the encoding Redis gives it (same thresholds).
            let enc_r = call(&mut r, &[b"OBJECT", b"ENCODING", &copy]);
            let enc_d = call(&mut d, &[b"OBJECT", b"ENCODING", &copy]);
            assert_eq!(enc_r, enc_d, "{show}: encoding");
            // REPLACE over an existing key, and BUSYKEY without it, as Redis.
            for conn in [&mut r, &mut d] {
                let busy = call(conn, &[b"RESTORE", &copy, b"0", &from_redis]);
                assert_eq!(
                    busy,
                    Resp::Error("BUSYKEY Target key name already exists.".into())
                );
            }
        }
    }
    assert_eq!(
        dataset_digest(&mut r),
        dataset_digest(&mut d),
        "after the restores"
    );
}

/// Our encoder writes Redis's bytes, with `rdbcompression` off and on (our LZF is liblzf's,
/// byte for byte, strings and listpack blobs alike): each value Redis DUMPs, decoded and
/// encoded again, gives Redis's payload, except where Redis's bytes follow its dict's order
/// (hashtable sets and hashes), which no other implementation can reproduce.
#[test]
fn our_encoder_reproduces_redis_payloads() {
    for compression in [false, true] {
        let flag = if compression { "yes" } else { "no" };
        let compared = encoder_reproduces_redis_payloads(flag, compression);
        assert!(compared > 40, "{compared} values compared");
    }
}

fn encoder_reproduces_redis_payloads(flag: &str, compression: bool) -> usize {
    let Pair {
        redis: _redis,
        ours: _ours,
        mut r,
        ..
    } = start_pair(&["--rdbcompression", flag]);
    let plain = EncodeOptions {
        compression,
        ..EncodeOptions::default()
    };
    let mut compared = 0;
    for db in DBS {
        for key in keys(&mut r, db) {
            let show = String::from_utf8_lossy(&key).into_owned();
            let Resp::Bulk(Some(encoding)) = call(&mut r, &[b"OBJECT", b"ENCODING", &key]) else {
                panic!("encoding of {show}");
            };
            let Resp::Bulk(Some(kind)) = call(&mut r, &[b"TYPE", &key]).into_bulk_or_status()
            else {
                panic!("type of {show}");
            };
            let table_order = encoding == b"hashtable" && (kind == b"set" || kind == b"hash");
            if table_order {
                continue;
            }
            let payload = bulk(call(&mut r, &[b"DUMP", &key]));
            let value = rdb::parse_dump_payload(&payload, DUMP_VERSION_MAX, &LoadCx::default())
                .unwrap_or_else(|e| panic!("{show}: {e}"));
            let ours = rdb::dump_payload(value.as_ref(), &plain);
            if ours != payload {
                let at = ours.iter().zip(&payload).position(|(a, b)| a != b);
                std::fs::write(
                    std::env::temp_dir().join("rdb-mismatch-redis.bin"),
                    &payload,
                )
                .ok();
                std::fs::write(std::env::temp_dir().join("rdb-mismatch-ours.bin"), &ours).ok();
                panic!(
                    "{show} (rdbcompression {flag}): our bytes differ from Redis's at {at:?} \
                     ({} vs {} bytes)",
                    ours.len(),
                    payload.len()
                );
            }
            compared += 1;
        }
    }
    compared
}

trait IntoBulkOrStatus {
    fn into_bulk_or_status(self) -> Resp;
}

impl IntoBulkOrStatus for Resp {
    /// TYPE answers a status; as a bulk for matching.
    fn into_bulk_or_status(self) -> Resp {
        match self {
            Resp::Simple(s) => Resp::Bulk(Some(s.into_bytes())),
            other => other,
        }
    }
}

/// A file's entries by database: key, value, deadline.
type FileDbs = BTreeMap<u32, Vec<(Vec<u8>, Value, Option<u64>)>>;

/// Reads a whole RDB file: its entries by database.
fn read_file(bytes: &[u8], piece: usize) -> FileDbs {
    let mut reader = RdbReader::new();
    let mut dbs: FileDbs = BTreeMap::new();
    let mut db = 0;
    let cx = LoadCx::default();
    let mut take = |reader: &mut RdbReader, dbs: &mut BTreeMap<_, Vec<_>>| {
        while let Some(record) = reader.next_record(&cx).expect("a valid file") {
            match record {
                Record::SelectDb(n) => db = n,
                Record::Entry {
                    key,
                    value,
                    expire_at_ms,
                    ..
                } => dbs.entry(db).or_default().push((key, value, expire_at_ms)),
                Record::Version(_)
                | Record::Aux { .. }
                | Record::ResizeDb { .. }
                | Record::EmptyKeySkipped { .. }
                | Record::Eof => {}
                Record::Function { code } => assert!(code.starts_with(b"#!lua name=rdbtest")),
            }
        }
    };
    for chunk in bytes.chunks(piece) {
        reader.push(chunk);
        take(&mut reader, &mut dbs);
    }
    reader.finish_input();
    take(&mut reader, &mut dbs);
    assert!(reader.is_done(), "the file ends with EOF");
    dbs
}

/// The dataset digest of decoded entries, as DEBUG DIGEST computes it.
fn digest_of(dbs: &FileDbs) -> String {
    let mut parts = Vec::new();
    for (db, entries) in dbs {
        let mut acc = [0u8; 20];
        for (key, value, expire) in entries {
            digest::combine(
                &mut acc,
                &digest::key_share(key, value.as_ref(), expire.is_some()),
            );
        }
        parts.push((*db, acc));
    }
    digest::to_hex(&digest::dataset(&parts))
}

#[test]
fn redis_saves_we_read_we_write_redis_loads() {
    let dir = scratch_dir("files");
    let dir_text = dir.to_string_lossy().into_owned();
    let Pair {
        redis: _redis,
        ours: _ours,
        mut r,
        mut d,
    } = start_pair(&["--dir", &dir_text, "--dbfilename", "redis.rdb"]);
    let redis_digest = dataset_digest(&mut r);

    // Redis's file, read by our reader in small and large pieces. A function library rides
    // along (it comes out as a record of its own).
    let library = "#!lua name=rdbtest\nredis.register_function('f', function() return 1 end)";
    assert_eq!(
        call_str(&mut r, &["FUNCTION", "LOAD", library]),
        Resp::Bulk(Some(b"rdbtest".to_vec()))
    );
    assert_eq!(call_str(&mut r, &["SAVE"]), Resp::Simple("OK".into()));
    let file = std::fs::read(dir.join("redis.rdb")).expect("redis.rdb");
    for piece in [997, file.len()] {
        let dbs = read_file(&file, piece);
        assert_eq!(dbs.keys().copied().collect::<Vec<_>>(), DBS.to_vec());
        assert_eq!(
            digest_of(&dbs),
            redis_digest,
            "the file's dataset is Redis's"
        );
        for (db, entries) in &dbs {
            call_str(&mut r, &["SELECT", &db.to_string()]);
            let names: Vec<Vec<u8>> = entries.iter().map(|e| e.0.clone()).collect();
            let want = digest_values(&mut r, &names);
            for ((key, value, expire), want) in entries.iter().zip(want) {
                let show = String::from_utf8_lossy(key);
                let got = digest::to_hex(&digest::value_digest(value.as_ref(), expire.is_some()));
                assert_eq!(got, want, "{show}");
                let Resp::Bulk(Some(enc)) = call(&mut r, &[b"OBJECT", b"ENCODING", key]) else {
                    panic!("{show}");
                };
                // Strings take their encoding from how they were made (PFADD's raw HLL reloads
                // embstr, in Redis too); collections from the thresholds, which agree.
                if value.type_name() != "string" {
                    assert_eq!(
                        value.encoding().as_bytes(),
                        enc.as_slice(),
                        "{show}: encoding"
                    );
                }
            }
        }
    }

    // Our writer: every value of our server (through DUMP), written as a file.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let mut out = Vec::new();
    rdb::write_header(
        &mut out,
        &[
            ("redis-ver", b"7.0.15"),
            ("redis-bits", b"64"),
            ("ctime", (now_ms / 1000).to_string().as_bytes()),
            ("used-mem", b"1000000"),
            ("aof-base", b"0"),
        ],
    );
    for db in DBS {
        let names = keys(&mut d, db);
        let mut entries = Vec::new();
        for key in &names {
            let payload = bulk(call(&mut d, &[b"DUMP", key]));
            let value = rdb::parse_dump_payload(&payload, DUMP_VERSION_MAX, &LoadCx::default())
                .expect("our payload");
            let Resp::Int(at) = call(&mut d, &[b"PEXPIRETIME", key]) else {
                panic!("PEXPIRETIME");
            };
            entries.push((key.clone(), value, u64::try_from(at).ok()));
        }
        let expires = entries.iter().filter(|e| e.2.is_some()).count() as u64;
        rdb::write_select_db(&mut out, db);
        rdb::write_resize_db(&mut out, entries.len() as u64, expires);
        for (key, value, expire) in &entries {
            rdb::write_entry(&mut out, key, value.as_ref(), *expire);
        }
    }
    let crc = Crc64::of(&out);
    rdb::write_eof(&mut out, crc);
    let ours_path = dir.join("ours.rdb");
    std::fs::write(&ours_path, &out).expect("write ours.rdb");

    let check = Command::new("redis-check-rdb")
        .arg(&ours_path)
        .output()
        .expect("redis-check-rdb (Debian's redis-tools)");
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        check.status.success(),
        "redis-check-rdb refused our file:\n{report}"
    );
    assert!(report.contains("RDB looks OK"), "{report}");

    let loaded = RedisServer::start_with(&[
        "--enable-debug-command",
        "yes",
        "--dir",
        &dir_text,
        "--dbfilename",
        "ours.rdb",
    ]);
    let mut l = loaded.conn();
    assert_eq!(
        dataset_digest(&mut l),
        redis_digest,
        "redis-server loaded our file"
    );
    for db in DBS {
        let names = keys(&mut l, db);
        assert_eq!(names, keys(&mut r, db));
        call_str(&mut r, &["SELECT", &db.to_string()]);
        for key in &names {
            if call(&mut l, &[b"TYPE", key]) == Resp::Simple("string".into()) {
                continue;
            }
            let enc = call(&mut l, &[b"OBJECT", b"ENCODING", key]);
            assert_eq!(enc, call(&mut r, &[b"OBJECT", b"ENCODING", key]));
        }
    }
    drop(loaded);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Polls INFO persistence until no save runs (bounded).
fn wait_for_save(conn: &mut RawConn) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let Resp::Bulk(Some(info)) = call_str(conn, &["INFO", "persistence"]) else {
            panic!("INFO");
        };
        let text = String::from_utf8_lossy(&info).into_owned();
        if text.contains("rdb_bgsave_in_progress:0") {
            assert!(text.contains("rdb_last_bgsave_status:ok"), "{text}");
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the save never ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `rdbcompression` and `rdbchecksum`, each way: the file is Redis's bytes for that setting
/// (no LZF strings when off; eight zero bytes of checksum when off), `redis-check-rdb` accepts
/// it, redis-server loads it to the same dataset, and DEBUG RELOAD reads it back here.
#[test]
fn compression_and_checksum_settings_write_files_redis_accepts() {
    let dir = scratch_dir("settings");
    let dir_text = dir.to_string_lossy().into_owned();
    let ours = Damselfly::start(&["--proactor_threads", "2", "--dir", &dir_text]);
    let mut d = ours.conn();
    run_all(&mut d, &dataset_commands());
    let digest = dataset_digest(&mut d);
    let mut sizes = BTreeMap::new();
    for compression in ["yes", "no"] {
        for checksum in ["yes", "no"] {
            let set = [
                "CONFIG",
                "SET",
                "rdbcompression",
                compression,
                "rdbchecksum",
                checksum,
            ];
            assert_eq!(call_str(&mut d, &set), Resp::Simple("OK".into()));
            assert_eq!(call_str(&mut d, &["SAVE"]), Resp::Simple("OK".into()));
            let file = dir.join("dump.rdb");
            let bytes = std::fs::read(&file).expect("the dump");
            let trailer_zero = bytes[bytes.len() - 8..].iter().all(|&b| b == 0);
            assert_eq!(trailer_zero, checksum == "no", "{compression} {checksum}");
            sizes.insert(compression, bytes.len());
            let check = Command::new("redis-check-rdb")
                .arg(&file)
                .output()
                .expect("redis-check-rdb");
            assert!(
                check.status.success(),
                "{compression} {checksum}: {check:?}"
            );
            let redis =
                RedisServer::start_with(&["--enable-debug-command", "yes", "--dir", &dir_text]);
            assert_eq!(
                dataset_digest(&mut redis.conn()),
                digest,
                "{compression} {checksum}"
            );
            drop(redis);
            let reload = ["DEBUG", "RELOAD", "NOSAVE"];
            assert_eq!(call_str(&mut d, &reload), Resp::Simple("OK".into()));
            assert_eq!(dataset_digest(&mut d), digest, "reloaded");
        }
    }
    assert!(sizes["yes"] < sizes["no"], "LZF saves bytes: {sizes:?}");
    for name in ["rdbcompression", "rdbchecksum"] {
        let got = call_str(&mut d, &["CONFIG", "GET", name]);
        let want = Resp::Array(vec![
            Resp::Bulk(Some(name.as_bytes().to_vec())),
            Resp::Bulk(Some(b"no".to_vec())),
        ]);
        assert_eq!(got, want);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// SAVE and BGSAVE write the dataset of every shard into a file redis-server loads to the same
/// dataset and `redis-check-rdb` accepts; redis-server's dump loads into Damselfly at start,
/// to the same dataset again.
#[test]
fn our_saves_load_in_redis_and_redis_dumps_load_here() {
    let dir = scratch_dir("save");
    let dir_text = dir.to_string_lossy().into_owned();
    let ours = Damselfly::start(&["--proactor_threads", "3", "--dir", &dir_text]);
    let mut d = ours.conn();
    run_all(&mut d, &dataset_commands());
    let ours_digest = dataset_digest(&mut d);
    assert_eq!(call_str(&mut d, &["SAVE"]), Resp::Simple("OK".into()));
    let file = dir.join("dump.rdb");
    let check = Command::new("redis-check-rdb")
        .arg(&file)
        .output()
        .expect("redis-check-rdb");
    assert!(check.status.success(), "{check:?}");
    let redis = RedisServer::start_with(&["--enable-debug-command", "yes", "--dir", &dir_text]);
    assert_eq!(dataset_digest(&mut redis.conn()), ours_digest, "SAVE");
    drop(redis);

    assert_eq!(
        call_str(&mut d, &["SET", "after", "the first save"]),
        Resp::Simple("OK".into())
    );
    assert_eq!(
        call_str(&mut d, &["BGSAVE"]),
        Resp::Simple("Background saving started".into())
    );
    wait_for_save(&mut d);
    let ours_digest = dataset_digest(&mut d);
    let redis = RedisServer::start_with(&["--enable-debug-command", "yes", "--dir", &dir_text]);
    let mut r = redis.conn();
    assert_eq!(dataset_digest(&mut r), ours_digest, "BGSAVE");

    // Redis's own dump of it (plus a change) loads here at start.
    assert_eq!(
        call_str(&mut r, &["SET", "from", "redis"]),
        Resp::Simple("OK".into())
    );
    assert_eq!(call_str(&mut r, &["SAVE"]), Resp::Simple("OK".into()));
    let redis_digest = dataset_digest(&mut r);
    drop(ours);
    let reloaded = Damselfly::start(&["--proactor_threads", "2", "--dir", &dir_text]);
    assert_eq!(
        dataset_digest(&mut reloaded.conn()),
        redis_digest,
        "loaded at start"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs transfers between accounts on both shards in MULTI/EXEC from several connections and
/// takes `saves` BGSAVEs meanwhile; returns the sum of the balances in each file.
fn totals_of_saves_under_transfers(plant: Option<&str>, saves: usize) -> Vec<i64> {
    const ACCOUNTS: u32 = 20_000;
    const BALANCE: i64 = 1_000;
    const WORKERS: u32 = 4;
    const TRANSFERS_MAX: u32 = 50_000;
    let dir = scratch_dir(&format!("transfers-{}", plant.unwrap_or("none")));
    let dir_text = dir.to_string_lossy().into_owned();
    let mut args = vec!["--proactor_threads", "2", "--dir", &dir_text];
    let plant_arg = plant.map(|p| format!("--plant={p}"));
    args.extend(plant_arg.as_deref());
    let ours = Damselfly::start(&args);
    let mut d = ours.conn();
    for first in (0..ACCOUNTS).step_by(1000) {
        let mut words = vec!["MSET".to_string()];
        for n in first..first + 1000 {
            words.extend([format!("acct:{n}"), BALANCE.to_string()]);
        }
        run_all(&mut d, &[words]);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (port, stop) = (ours.port(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port);
                let mut x = 0x9e37_79b9_u32.wrapping_mul(w + 1);
                let mut done = 0;
                while done < TRANSFERS_MAX && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let (a, b) = (x % ACCOUNTS, (x / ACCOUNTS) % ACCOUNTS);
                    let amount = (x % 50 + 1).to_string();
                    call_str(&mut c, &["MULTI"]);
                    call_str(&mut c, &["DECRBY", &format!("acct:{a}"), &amount]);
                    call_str(&mut c, &["INCRBY", &format!("acct:{b}"), &amount]);
                    let Resp::Array(replies) = call_str(&mut c, &["EXEC"]) else {
                        panic!("EXEC");
                    };
                    assert_eq!(replies.len(), 2);
                    done += 1;
                }
                done
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut totals = Vec::new();
    for _ in 0..saves {
        assert_eq!(
            call_str(&mut d, &["BGSAVE"]),
            Resp::Simple("Background saving started".into())
        );
        wait_for_save(&mut d);
        let dbs = read_file(&std::fs::read(dir.join("dump.rdb")).expect("dump"), 1 << 16);
        assert_eq!(dbs[&0].len(), ACCOUNTS as usize);
        let mut total = 0i64;
        for (key, value, _) in &dbs[&0] {
            assert!(key.starts_with(b"acct:"));
            let damselfly_core::db::ValueRef::Str(s) = value.as_ref() else {
                panic!("a string balance");
            };
            let text = String::from_utf8(s.to_bytes()).expect("digits");
            total += text.parse::<i64>().expect("a number");
        }
        totals.push(total - i64::from(ACCOUNTS) * BALANCE);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let transfers: u32 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    assert!(transfers > 0);
    let _ = std::fs::remove_dir_all(&dir);
    totals
}

/// A BGSAVE taken while many connections move money between accounts on different shards in
/// MULTI/EXEC holds every transfer whole: the balances in the file sum to the total.
#[test]
fn bgsave_under_cross_shard_transfers_keeps_every_transfer_whole() {
    let off_by = totals_of_saves_under_transfers(None, 3);
    assert_eq!(off_by, vec![0; 3], "a transfer torn by the snapshot");
}

/// The planted `snapshot-skips-keep` (writes ahead of the walk keep no cut value) tears
/// transfers in the file, and the test above would see it.
#[test]
fn a_snapshot_that_skips_the_keep_step_is_caught() {
    let off_by = totals_of_saves_under_transfers(Some("snapshot-skips-keep"), 3);
    assert!(off_by.iter().any(|&d| d != 0), "{off_by:?}");
}
