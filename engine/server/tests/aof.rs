//! The append-only file against redis-server 7.0: the directory Damselfly writes loads in
//! Redis to the same dataset (DEBUG DIGEST), and the one Redis writes on top loads here, so a
//! move between the servers is a directory copy. A SIGKILL under `appendfsync always` loses
//! no acknowledged write.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::{Damselfly, RawConn, RedisServer};

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("damselfly-aof-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn text(conn: &mut RawConn, args: &[&str]) -> String {
    String::from_utf8_lossy(&conn.cmd_str(args)).into_owned()
}

fn digest(conn: &mut RawConn) -> String {
    let mut all = String::new();
    for db in ["0", "1", "5"] {
        text(conn, &["SELECT", db]);
        all.push_str(&text(conn, &["DEBUG", "DIGEST"]));
    }
    text(conn, &["SELECT", "0"]);
    all
}

/// Writes of every type, across shards, with deadlines, chance and transactions.
const WORKLOAD: &[&[&str]] = &[
    &["SET", "str", "hello"],
    &["SET", "ttl", "v", "EX", "3600"],
    &["SETEX", "ttl2", "3600", "v"],
    &[
        "MSET", "m1", "1", "m2", "2", "m3", "3", "m4", "4", "m5", "5", "m6", "6",
    ],
    &["INCRBYFLOAT", "float", "2.5"],
    &["APPEND", "str", " world"],
    &["HSET", "hash", "a", "1", "b", "2", "c", "3"],
    &["HINCRBYFLOAT", "hash", "a", "0.25"],
    &["SADD", "set", "a", "b", "c", "d", "e", "f"],
    &["SPOP", "set"],
    &["SPOP", "set", "2"],
    &["SADD", "intset", "1", "2", "3"],
    &["RPUSH", "list", "a", "b", "c", "d"],
    &["LPOP", "list"],
    &["LMOVE", "list", "list2", "LEFT", "RIGHT"],
    &["ZADD", "zset", "1", "a", "2", "b", "3.5", "c"],
    &["ZINCRBY", "zset", "2", "a"],
    &["ZPOPMAX", "zset"],
    &["XADD", "stream", "*", "f", "1"],
    &["XADD", "stream", "*", "f", "2"],
    &["XGROUP", "CREATE", "stream", "g", "0"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "1",
        "STREAMS",
        "stream",
        ">",
    ],
    &["PFADD", "hll", "a", "b", "c"],
    &["SETBIT", "bits", "100", "1"],
    &["EXPIRE", "m1", "3600"],
    &["PERSIST", "m1"],
    &["GETDEL", "m2"],
    &["MULTI"],
    &["INCR", "m3"],
    &["SET", "m7", "7"],
    &["SADD", "set2", "x"],
    &["EXEC"],
    &[
        "EVAL",
        "redis.call('SET', KEYS[1], 'a'); redis.call('RPUSH', KEYS[2], 'b'); return 1",
        "2",
        "e1",
        "e2",
    ],
    &["SELECT", "1"],
    &["SET", "db1", "x"],
    &["SELECT", "5"],
    &["HSET", "db5", "f", "v"],
    &["SELECT", "0"],
    &["DEL", "m4", "m5"],
];

fn run(conn: &mut RawConn, commands: &[&[&str]]) {
    for args in commands {
        let reply = text(conn, args);
        assert!(!reply.starts_with('-'), "{args:?}: {reply}");
    }
}

fn shutdown(server: &mut Damselfly, conn: &mut RawConn) {
    conn.send(&support::encode_cmd(&[b"SHUTDOWN"]));
    assert!(
        server.exit_within(Duration::from_secs(20)).is_some(),
        "SHUTDOWN did not stop the server"
    );
}

#[test]
fn our_append_only_files_load_in_redis_and_redis_files_load_here() {
    let dir = scratch_dir("both-ways");
    let dir_text = dir.to_string_lossy().into_owned();
    let mut ours = Damselfly::start(&[
        "--proactor_threads",
        "3",
        "--dir",
        &dir_text,
        "--appendonly",
        "yes",
    ]);
    let mut d = ours.conn();
    run(&mut d, WORKLOAD);
    let ours_digest = digest(&mut d);
    shutdown(&mut ours, &mut d);
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .expect("a manifest");
    assert_eq!(
        manifest,
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );

    let redis = RedisServer::start_with(&[
        "--enable-debug-command",
        "yes",
        "--dir",
        &dir_text,
        "--appendonly",
        "yes",
    ]);
    let mut r = redis.conn();
    assert_eq!(digest(&mut r), ours_digest, "redis-server loaded our AOF");
    // Redis appends to the same files; Damselfly loads what it wrote.
    run(
        &mut r,
        &[
            &["SET", "from", "redis"],
            &["SET", "ttl3", "v", "PX", "3600000"],
            &["LPUSH", "list", "z"],
            &["SPOP", "set"],
        ],
    );
    let redis_digest = digest(&mut r);
    drop(redis);

    let mut again = Damselfly::start(&["--dir", &dir_text, "--appendonly", "yes"]);
    let mut d = again.conn();
    assert_eq!(digest(&mut d), redis_digest, "Damselfly loaded Redis's AOF");
    run(&mut d, &[&["SET", "after", "reload"]]);
    let last = digest(&mut d);
    shutdown(&mut again, &mut d);
    let third = Damselfly::start(&[
        "--proactor_threads",
        "1",
        "--dir",
        &dir_text,
        "--appendonly",
        "yes",
    ]);
    assert_eq!(
        digest(&mut third.conn()),
        last,
        "appends went on after a load"
    );
    drop(third);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_torn_tail_is_truncated_at_start() {
    let dir = scratch_dir("torn");
    let dir_text = dir.to_string_lossy().into_owned();
    let mut ours = Damselfly::start(&["--dir", &dir_text, "--appendonly", "yes"]);
    let mut d = ours.conn();
    run(&mut d, &[&["SET", "a", "1"], &["SET", "b", "2"]]);
    let expected = digest(&mut d);
    shutdown(&mut ours, &mut d);
    let incr = dir.join("appendonlydir/appendonly.aof.1.incr.aof");
    let mut bytes = std::fs::read(&incr).unwrap();
    let whole = bytes.len();
    bytes.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$2\r\n12");
    std::fs::write(&incr, &bytes).unwrap();
    let reloaded = Damselfly::start(&["--dir", &dir_text, "--appendonly", "yes"]);
    assert_eq!(digest(&mut reloaded.conn()), expected);
    assert_eq!(std::fs::metadata(&incr).unwrap().len() as usize, whole);
    drop(reloaded);
    // With aof-load-truncated off, the same file refuses to start.
    bytes.truncate(whole);
    bytes.extend_from_slice(b"*2\r\n$3\r\nGET");
    std::fs::write(&incr, &bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_damselfly"))
        .args([
            "--port",
            &support::free_port().to_string(),
            "--dir",
            &dir_text,
            "--appendonly",
            "yes",
            "--aof_load_truncated",
            "no",
        ])
        .output()
        .expect("run damselfly");
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
