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

/// Waits (bounded) until the server has loaded its files: redis-server answers PING while
/// it still loads an AOF.
fn wait_loaded(conn: &mut RawConn) {
    for _ in 0..500 {
        let info = text(conn, &["INFO", "persistence"]);
        if info.contains("loading:0") {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the server never finished loading");
}

fn digest(conn: &mut RawConn) -> String {
    wait_loaded(conn);
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

/// Under `appendfsync always`, clients append to their own lists, each waiting for its reply;
/// the server is killed with SIGKILL mid-load; after a restart every acknowledged element is
/// there, in order (an element may also be there unacknowledged: its reply was in flight).
#[test]
fn sigkill_under_always_loses_no_acknowledged_write() {
    const WRITERS: usize = 4;
    const PUSHES_MAX: usize = 5_000;
    let dir = scratch_dir("sigkill");
    let dir_text = dir.to_string_lossy().into_owned();
    let args = [
        "--proactor_threads",
        "2",
        "--dir",
        dir_text.as_str(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    let mut ours = Damselfly::start(&args);
    let port = ours.port();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port);
                let key = format!("list:{w}");
                let mut acked = 0usize;
                while acked < PUSHES_MAX && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let value = acked.to_string();
                    match c.try_cmd(&[b"RPUSH", key.as_bytes(), value.as_bytes()]) {
                        Ok(reply) if reply.starts_with(b":") => acked += 1,
                        _ => break,
                    }
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    // The crash under test: kill(1) of our own child, no chance to flush anything.
    let killed = std::process::Command::new("kill")
        .args(["-9", &ours.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked: Vec<usize> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(ours.exit_within(Duration::from_secs(10)).is_some());
    assert!(
        acked.iter().all(|&n| n > 0),
        "every writer got replies: {acked:?}"
    );

    let again = Damselfly::start(&args);
    let mut d = again.conn();
    for (w, &n) in acked.iter().enumerate() {
        let key = format!("list:{w}");
        let len: usize = text(&mut d, &["LLEN", &key])
            .trim_start_matches(':')
            .trim()
            .parse()
            .unwrap();
        assert!(len >= n, "{key}: {n} acknowledged, {len} after the restart");
        let last = String::from_utf8_lossy(&d.cmd_str(&["LINDEX", &key, &(n - 1).to_string()]))
            .into_owned();
        assert!(last.ends_with(&format!("{}\r\n", n - 1)), "{key}: {last}");
    }
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}
