//! Scripts across threads on the deterministic test cluster: the fast path, the transaction,
//! the restart on undeclared keys, the cache on every thread, and atomicity against other
//! clients interleaved message by message (with the planted early release caught).

use crate::cx::ThreadId;
use crate::env::Plant;
use crate::node::shard_of;
use crate::testkit::TestCluster;

fn key_on(thread: u16, threads: u16, tag: &str) -> String {
    (0..)
        .map(|i| format!("{tag}{i}"))
        .find(|k| shard_of(k.as_bytes(), threads) == ThreadId(thread))
        .expect("a key on every thread")
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// The integers and bulk numbers of a run of replies, in order.
fn numbers(bytes: &[u8]) -> Vec<i64> {
    String::from_utf8_lossy(bytes)
        .split("\r\n")
        .filter_map(|line| line.strip_prefix(':').unwrap_or(line).parse().ok())
        .collect()
}

#[test]
fn a_script_on_this_shard_runs_at_once_and_writes() {
    let mut c = TestCluster::new(2);
    let conn = c.connect(0);
    let k = key_on(0, 2, "k");
    let script = "redis.call('set', KEYS[1], 'v') return redis.call('get', KEYS[1])";
    c.cmd_text(conn, &["SCRIPT", "LOAD", script]);
    let hops = c.node(0).counters.hops_sent;
    let reply = c.cmd_text(conn, &["EVAL", script, "1", &k]);
    assert_eq!(reply, "$1\r\nv\r\n");
    assert_eq!(
        c.node(0).counters.hops_sent,
        hops,
        "the fast path sends no hop"
    );
    assert_eq!(c.cmd_text(conn, &["GET", &k]), "$1\r\nv\r\n");
}

#[test]
fn a_script_reaching_another_shard_restarts_with_those_keys() {
    let mut c = TestCluster::new(2);
    let conn = c.connect(0);
    let (here, there) = (key_on(0, 2, "h"), key_on(1, 2, "t"));
    c.cmd_text(conn, &["SET", &there, "5"]);
    let script = "redis.call('set', ARGV[1], 'x') return redis.call('incr', ARGV[2])";
    let reply = c.cmd_text(conn, &["EVAL", script, "0", &here, &there]);
    assert_eq!(reply, ":6\r\n");
    assert_eq!(
        c.cmd_text(conn, &["MGET", &here, &there]),
        "*2\r\n$1\r\nx\r\n$1\r\n6\r\n"
    );
}

#[test]
fn a_loaded_script_runs_through_any_thread() {
    let mut c = TestCluster::new(3);
    let (a, b) = (c.connect(0), c.connect(2));
    let sha = c.cmd_text(a, &["SCRIPT", "LOAD", "return 'loaded'"]);
    let sha = sha.split("\r\n").nth(1).expect("bulk").to_string();
    assert_eq!(c.cmd_text(b, &["EVALSHA", &sha, "0"]), "$6\r\nloaded\r\n");
    assert_eq!(c.cmd_text(b, &["SCRIPT", "FLUSH"]), "+OK\r\n");
    assert!(c
        .cmd_text(a, &["EVALSHA", &sha, "0"])
        .starts_with("-NOSCRIPT"));
}

/// Moves 1 from KEYS[1] to KEYS[2] (two shards) while another client reads both and a third
/// adds to the second: returns (every read's sum, the final total).
const ROUNDS: i64 = 48;

fn race(plants: &[Plant]) -> (Vec<i64>, i64) {
    let mut c = TestCluster::with_plants(2, crate::config::Config::default(), plants);
    let (a, b) = (key_on(0, 2, "acct"), key_on(1, 2, "acct"));
    let setup = c.connect(0);
    c.cmd_text(setup, &["MSET", &a, "1000", &b, "0"]);
    let (mover, reader, adder) = (c.connect(0), c.connect(1), c.connect(1));
    let transfer = "redis.call('decrby', KEYS[1], 1) redis.call('incrby', KEYS[2], 1)";
    // Round `i` lets the script's messages run `i` steps before the others arrive: every
    // point of its transaction meets a read and a write.
    for i in 0..ROUNDS {
        c.queue_bytes(mover, &resp(&["EVAL", transfer, "2", &a, &b]));
        for _ in 0..i % 12 {
            c.step();
        }
        c.queue_bytes(adder, &resp(&["INCRBY", &b, "1000"]));
        for _ in 0..i % 3 {
            c.step();
        }
        c.queue_bytes(reader, &resp(&["MGET", &a, &b]));
        c.run_queued();
    }
    let reads = numbers(&c.take_output(reader));
    let sums = reads
        .chunks(2)
        .map(|pair| pair.iter().sum::<i64>())
        .collect();
    let end = numbers(c.cmd(setup, &["MGET", &a, &b]).as_slice());
    (sums, end.iter().sum())
}

#[test]
fn no_client_sees_half_a_script_and_no_write_is_lost() {
    let (sums, total) = race(&[]);
    assert_eq!(sums.len() as i64, ROUNDS);
    for (i, sum) in sums.iter().enumerate() {
        assert_eq!(sum % 1000, 0, "read {i} saw half a transfer: {sum}");
    }
    assert_eq!(total, 1000 + ROUNDS * 1000, "a write was lost");
}

#[test]
fn releasing_a_scripts_locks_early_is_caught() {
    let (sums, total) = race(&[Plant::ScriptReleasesEarly]);
    let half_seen = sums.iter().any(|sum| sum % 1000 != 0);
    assert!(
        half_seen || total != 1000 + ROUNDS * 1000,
        "the planted early release went unnoticed: {sums:?} {total}"
    );
}

#[test]
fn a_script_on_another_shard_runs_there_in_one_hop() {
    let mut c = TestCluster::new(2);
    let conn = c.connect(0);
    let k = key_on(1, 2, "k");
    let script = "return redis.call('incrby', KEYS[1], 5)";
    c.cmd_text(conn, &["SCRIPT", "LOAD", script]);
    let hops = c.node(0).counters.hops_sent;
    assert_eq!(c.cmd_text(conn, &["EVAL", script, "1", &k]), ":5\r\n");
    assert_eq!(
        c.node(0).counters.hops_sent,
        hops + 1,
        "one hop, there and back"
    );
    // Reaching this thread's shard from there: the hop retries as a transaction.
    let here = key_on(0, 2, "h");
    let reaching = "redis.call('set', ARGV[1], 'x') return redis.call('incr', KEYS[1])";
    assert_eq!(
        c.cmd_text(conn, &["EVAL", reaching, "1", &k, &here]),
        ":6\r\n"
    );
    assert_eq!(c.cmd_text(conn, &["GET", &here]), "$1\r\nx\r\n");
    // A connection command from there retries at the coordinator too.
    let ping = "redis.call('incr', KEYS[1]) return redis.call('ping')";
    assert_eq!(c.cmd_text(conn, &["EVAL", ping, "1", &k]), "+PONG\r\n");
    assert_eq!(c.cmd_text(conn, &["GET", &k]), "$1\r\n7\r\n");
}

/// Inside MULTI/EXEC a script whose declared keys live on one shard runs there, in the body's
/// batch, whichever thread the client is on, and so does a keyless one that reaches one other
/// shard's keys; one that reaches beyond that shard answers an error in its slot, and the rest
/// of the body still runs.
#[test]
fn scripts_inside_exec_run_on_their_keys_shard() {
    let mut c = TestCluster::new(3);
    let conn = c.connect(0);
    let (k1, k2) = (key_on(1, 3, "a"), key_on(2, 3, "b"));
    let incr = "return redis.call('incr', KEYS[1])";
    c.cmd(conn, &["SET", &k2, "41"]);
    c.cmd(conn, &["MULTI"]);
    c.cmd(conn, &["EVAL", incr, "1", &k1]);
    c.cmd(conn, &["EVAL", incr, "1", &k2]);
    c.cmd(
        conn,
        &["EVAL", "return redis.call('get', ARGV[1])", "1", &k1, &k2],
    );
    c.cmd(
        conn,
        &[
            "EVALSHA",
            "0000000000000000000000000000000000000000",
            "1",
            &k1,
        ],
    );
    let keyless = "return redis.call('incr', ARGV[1])";
    c.cmd(conn, &["EVAL", keyless, "0", &k2]);
    let exec = c.cmd_text(conn, &["EXEC"]);
    assert!(
        exec.starts_with("*5\r\n:1\r\n:42\r\n-ERR a script inside MULTI reached"),
        "{exec}"
    );
    assert!(
        exec.ends_with("-NOSCRIPT No matching script. Please use EVAL.\r\n:43\r\n"),
        "{exec}"
    );
    assert_eq!(c.cmd_text(conn, &["GET", &k1]), "$1\r\n1\r\n");
}

#[test]
fn a_library_loaded_through_one_thread_runs_through_every_thread() {
    let mut c = TestCluster::new(3);
    let (a, b) = (c.connect(0), c.connect(2));
    let (k0, k1) = (key_on(0, 3, "k"), key_on(1, 3, "k"));
    let lib = "#!lua name=moves\nlocal calls = 0\n\
        redis.register_function('move', function(keys, args) calls = calls + 1 \
        redis.call('decrby', keys[1], args[1]) redis.call('incrby', keys[2], args[1]) \
        return calls end)";
    assert_eq!(c.cmd_text(a, &["FUNCTION", "LOAD", lib]), "$5\r\nmoves\r\n");
    c.cmd_text(a, &["SET", &k0, "10"]);
    // Declared keys on threads 0 and 1, called through thread 2: a transaction.
    assert_eq!(
        c.cmd_text(b, &["FCALL", "move", "2", &k0, &k1, "3"]),
        ":1\r\n"
    );
    assert_eq!(
        c.cmd_text(b, &["FCALL", "MOVE", "2", &k0, &k1, "3"]),
        ":2\r\n"
    );
    assert_eq!(
        c.cmd_text(a, &["MGET", &k0, &k1]),
        "*2\r\n$1\r\n4\r\n$1\r\n6\r\n"
    );
    // SCRIPT FLUSH closes EVAL's Lua state only: the library's upvalue lives on.
    c.cmd_text(a, &["SCRIPT", "FLUSH"]);
    assert_eq!(
        c.cmd_text(b, &["FCALL", "move", "2", &k0, &k1, "1"]),
        ":3\r\n"
    );
    assert_eq!(c.cmd_text(b, &["FUNCTION", "DELETE", "moves"]), "+OK\r\n");
    assert_eq!(
        c.cmd_text(a, &["FCALL", "move", "0"]),
        "-ERR Function not found\r\n"
    );
    let dump = c.cmd_text(a, &["FUNCTION", "DUMP"]);
    assert!(dump.starts_with("$10\r\n"), "an empty payload: {dump:?}");
}

#[test]
fn a_script_past_the_lua_memory_bound_gets_lua_s_error_and_the_thread_goes_on() {
    let mut c = TestCluster::new(1);
    let conn = c.connect(0);
    assert_eq!(c.cmd_text(conn, &["EVAL", "return 1", "0"]), ":1\r\n");
    let vm = c
        .node(0)
        .scripting
        .vm
        .as_ref()
        .expect("opened by the first EVAL");
    vm.lua.set_memory_limit(8 << 20).expect("mlua's allocator");
    let grow = "local t = {} for i = 1, 1e7 do t[i] = string.rep('x', 100) .. i end return #t";
    let sha = crate::node::script::sha1_hex(grow.as_bytes());
    assert_eq!(
        c.cmd_text(conn, &["EVAL", grow, "0"]),
        format!("-ERR Error running script f_{sha}, not enough memory\r\n")
    );
    assert_eq!(
        c.cmd_text(conn, &["EVAL", "return 'after'", "0"]),
        "$5\r\nafter\r\n"
    );
}
