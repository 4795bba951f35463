//! The journal replays to the dataset it recorded: a workload runs on a node of several
//! threads with the journal on; its bytes, fed to a fresh node as a client would send them,
//! must give the same DEBUG DIGEST.

use crate::testkit::TestCluster;

/// Runs `workload` (connection index, command) on a journaled cluster of `threads` threads,
/// replays the journal on a fresh one-thread node, and compares the two datasets.
fn replays_to_the_same_dataset(threads: u16, workload: &[(usize, &[&str])], advance_ms: u64) {
    let mut c = TestCluster::new(threads);
    c.start_journal();
    let conns: Vec<_> = (0..4).map(|i| c.connect(i % threads)).collect();
    for (who, args) in workload {
        let reply = c.cmd_text(conns[*who], args);
        assert!(!reply.starts_with('-'), "{args:?} failed: {reply}");
    }
    c.advance_ms(advance_ms);
    // Lazy expiry and the sweep leave their DELs too.
    c.cmd_text(conns[0], &["GET", "ttl:short"]);
    let expected = digests(&mut c, conns[0]);
    let journal = c.take_journal_bytes();
    assert_eq!(c.journal_waiting(), 0, "parts left waiting");
    assert!(!journal.is_empty());

    let mut replica = TestCluster::new(1);
    // The replay runs at the original's clock, so deadlines mean the same.
    replica.advance_ms(c.wall_ms() - replica.wall_ms());
    let conn = replica.connect(0);
    let replies = String::from_utf8_lossy(&replica.send(conn, &journal)).into_owned();
    assert!(
        !replies.lines().any(|l| l.starts_with('-')),
        "replay failed: {replies}\njournal:\n{}",
        String::from_utf8_lossy(&journal)
    );
    assert_eq!(
        digests(&mut replica, conn),
        expected,
        "journal:\n{}",
        String::from_utf8_lossy(&journal)
    );
}

fn digests(c: &mut TestCluster, conn: crate::cx::ConnId) -> Vec<String> {
    (0..3)
        .map(|db| {
            c.cmd_text(conn, &["SELECT", &db.to_string()]);
            c.cmd_text(conn, &["DEBUG", "DIGEST"])
        })
        .collect()
}

const WORKLOAD: &[(usize, &[&str])] = &[
    (0, &["SET", "a", "1"]),
    (1, &["SET", "ttl:long", "v", "EX", "1000"]),
    (2, &["SET", "ttl:short", "v", "PX", "50"]),
    (3, &["SETEX", "ttl:setex", "100", "v"]),
    (
        0,
        &[
            "MSET", "k1", "1", "k2", "2", "k3", "3", "k4", "4", "k5", "5",
        ],
    ),
    (1, &["INCRBYFLOAT", "f", "1.25"]),
    (1, &["INCRBYFLOAT", "f", "2"]),
    (2, &["HSET", "h", "a", "1", "b", "2"]),
    (2, &["HINCRBYFLOAT", "h", "a", "0.5"]),
    (3, &["SADD", "s", "a", "b", "c", "d", "e"]),
    (3, &["SPOP", "s"]),
    (3, &["SPOP", "s", "2"]),
    (0, &["SADD", "s2", "x", "a"]),
    (0, &["SUNIONSTORE", "s3", "s", "s2"]),
    (1, &["RPUSH", "l", "1", "2", "3", "4"]),
    (1, &["LMPOP", "1", "l", "RIGHT", "COUNT", "2"]),
    (1, &["LMOVE", "l", "l2", "LEFT", "RIGHT"]),
    (2, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]),
    (2, &["ZPOPMIN", "z"]),
    (2, &["ZUNIONSTORE", "z2", "2", "z", "zz"]),
    (3, &["XADD", "st", "*", "f", "1"]),
    (3, &["XADD", "st", "MAXLEN", "~", "10", "*", "f", "2"]),
    (3, &["XGROUP", "CREATE", "st", "g", "0"]),
    (
        3,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "1",
            "STREAMS",
            "st",
            ">",
        ],
    ),
    (0, &["EXPIRE", "a", "500"]),
    (0, &["PERSIST", "a"]),
    (0, &["GETEX", "k1", "PX", "900"]),
    (0, &["GETDEL", "k2"]),
    (0, &["DEL", "k3", "k4", "nope"]),
    (1, &["MULTI"]),
    (1, &["INCR", "k5"]),
    (1, &["SET", "k6", "6"]),
    (1, &["RENAME", "k1", "k7"]),
    (1, &["EXEC"]),
    (
        2,
        &[
            "EVAL",
            "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])",
            "2",
            "e1",
            "e2",
            "x",
        ],
    ),
    (2, &["SELECT", "1"]),
    (2, &["SET", "one", "1"]),
    (2, &["SADD", "one:s", "m"]),
    (2, &["SWAPDB", "1", "2"]),
    (2, &["SELECT", "2"]),
    (2, &["MOVE", "one", "0"]),
    (2, &["SELECT", "1"]),
    (2, &["SET", "later", "x"]),
    (2, &["FLUSHDB"]),
    (2, &["SET", "after:flush", "x"]),
    (3, &["SET", "gone", "x"]),
    (3, &["PEXPIRE", "gone", "1"]),
];

#[test]
fn a_journal_of_two_threads_replays_to_the_same_dataset() {
    replays_to_the_same_dataset(2, WORKLOAD, 200);
}

#[test]
fn a_journal_of_three_threads_replays_to_the_same_dataset() {
    replays_to_the_same_dataset(3, WORKLOAD, 200);
}

#[test]
fn a_journal_of_one_thread_replays_to_the_same_dataset() {
    replays_to_the_same_dataset(1, WORKLOAD, 200);
}

#[test]
fn a_served_blocking_pop_replays_as_the_plain_pop() {
    let mut c = TestCluster::new(2);
    c.start_journal();
    let (waiter, pusher) = (c.connect(0), c.connect(1));
    c.queue_bytes(waiter, b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n");
    c.run_queued();
    c.cmd_text(pusher, &["RPUSH", "q", "a", "b"]);
    assert!(String::from_utf8_lossy(&c.take_output(waiter)).contains('a'));
    let journal = String::from_utf8_lossy(&c.take_journal_bytes()).into_owned();
    let rpush = journal.find("RPUSH").expect("the push");
    let lpop = journal.find("LPOP").expect("the served pop, as LPOP");
    assert!(rpush < lpop, "{journal}");
    assert!(!journal.contains("BLPOP"), "{journal}");
}

#[test]
fn a_transaction_across_shards_is_one_multi_exec() {
    let mut c = TestCluster::new(2);
    c.start_journal();
    let conn = c.connect(0);
    // Enough keys that both shards hold some.
    let mut mset = vec!["MSET"];
    let keys: Vec<String> = (0..8).map(|i| format!("key{i}")).collect();
    for k in &keys {
        mset.push(k);
        mset.push("v");
    }
    assert_eq!(c.cmd_text(conn, &mset), "+OK\r\n");
    let journal = String::from_utf8_lossy(&c.take_journal_bytes()).into_owned();
    assert_eq!(journal.matches("MULTI").count(), 1, "{journal}");
    assert_eq!(journal.matches("EXEC").count(), 1, "{journal}");
    assert_eq!(
        journal.matches("MSET").count(),
        2,
        "one per shard: {journal}"
    );
}

#[test]
fn reads_and_failed_writes_leave_nothing() {
    let mut c = TestCluster::new(2);
    c.start_journal();
    let conn = c.connect(0);
    c.cmd_text(conn, &["GET", "a"]);
    c.cmd_text(conn, &["MGET", "a", "b", "c", "d"]);
    c.cmd_text(conn, &["SET", "a", "1", "NX"]);
    c.cmd_text(conn, &["SET", "a", "2", "NX"]);
    c.cmd_text(conn, &["DEL", "nope"]);
    c.cmd_text(conn, &["LPUSH", "a", "x"]);
    let journal = String::from_utf8_lossy(&c.take_journal_bytes()).into_owned();
    assert_eq!(journal.matches("SET").count(), 1, "one SET: {journal}");
    assert!(
        !journal.contains("DEL") && !journal.contains("LPUSH"),
        "{journal}"
    );
}
