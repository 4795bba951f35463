use crate::testkit::TestCluster;

/// Thread counts that put keys on one shard, on two, and across three.
const THREADS: [u16; 3] = [1, 2, 3];

fn run(c: &mut TestCluster, conn: crate::cx::ConnId, script: &[(&[&str], &str)]) {
    for (args, expected) in script {
        assert_eq!(c.cmd_text(conn, args), *expected, "{args:?}");
    }
}

#[test]
fn exec_runs_the_body_in_order_across_shards() {
    for threads in THREADS {
        let mut c = TestCluster::new(threads);
        let a = c.connect(0);
        run(
            &mut c,
            a,
            &[
                (&["MULTI"], "+OK\r\n"),
                (&["SET", "k1", "x"], "+QUEUED\r\n"),
                (&["INCR", "k1"], "+QUEUED\r\n"),
                (&["MSET", "k2", "2", "k3", "3", "k4", "4"], "+QUEUED\r\n"),
                (&["PING"], "+QUEUED\r\n"),
                (&["MGET", "k1", "k2", "k3", "k4"], "+QUEUED\r\n"),
                (&["RENAME", "k2", "k5"], "+QUEUED\r\n"),
                (&["EXISTS", "k2", "k5"], "+QUEUED\r\n"),
                (
                    &["EXEC"],
                    "*7\r\n+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n+PONG\r\n\
                     *4\r\n$1\r\nx\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n+OK\r\n:1\r\n",
                ),
                (&["GET", "k5"], "$1\r\n2\r\n"),
                (&["MULTI"], "+OK\r\n"),
                (&["EXEC"], "*0\r\n"),
            ],
        );
        for t in 0..threads {
            assert_eq!(
                c.node(t).tx_queue_len(),
                0,
                "thread {t}: a transaction left queued"
            );
        }
    }
}

#[test]
fn queueing_errors_abort_and_control_commands_answer_at_once() {
    for threads in THREADS {
        let mut c = TestCluster::new(threads);
        let a = c.connect(0);
        run(
            &mut c,
            a,
            &[
                (&["EXEC"], "-ERR EXEC without MULTI\r\n"),
                (&["DISCARD"], "-ERR DISCARD without MULTI\r\n"),
                (&["MULTI"], "+OK\r\n"),
                (&["MULTI"], "-ERR MULTI calls can not be nested\r\n"),
                (
                    &["WATCH", "x"],
                    "-ERR WATCH inside MULTI is not allowed\r\n",
                ),
                (&["SET", "a", "1"], "+QUEUED\r\n"),
                (&["EXEC"], "*1\r\n+OK\r\n"),
                (&["MULTI"], "+OK\r\n"),
                (&["SET", "a", "2"], "+QUEUED\r\n"),
                (
                    &["GET"],
                    "-ERR wrong number of arguments for 'get' command\r\n",
                ),
                (
                    &["EXEC"],
                    "-EXECABORT Transaction discarded because of previous errors.\r\n",
                ),
                (&["GET", "a"], "$1\r\n1\r\n"),
                (&["MULTI"], "+OK\r\n"),
                (
                    &["SHUTDOWN"],
                    "-ERR Command not allowed inside a transaction\r\n",
                ),
                (
                    &["EXEC"],
                    "-EXECABORT Transaction discarded because of previous errors.\r\n",
                ),
                (&["MULTI"], "+OK\r\n"),
                (&["SET", "a", "3"], "+QUEUED\r\n"),
                (&["DISCARD"], "+OK\r\n"),
                (&["GET", "a"], "$1\r\n1\r\n"),
                (&["MULTI"], "+OK\r\n"),
                (&["SELECT", "1"], "+QUEUED\r\n"),
                (&["SET", "b", "in1"], "+QUEUED\r\n"),
                (&["EXEC"], "*2\r\n+OK\r\n+OK\r\n"),
                (&["GET", "b"], "$3\r\nin1\r\n"),
                (&["MULTI"], "+OK\r\n"),
                (&["RESET"], "+RESET\r\n"),
                (&["EXEC"], "-ERR EXEC without MULTI\r\n"),
            ],
        );
    }
}

#[test]
fn a_watched_key_written_by_another_client_fails_exec() {
    for threads in THREADS {
        let mut c = TestCluster::new(threads);
        let a = c.connect(0);
        let b = c.connect(threads - 1);
        // Written by another client, even to the same value: nil.
        run(&mut c, b, &[(&["SET", "k", "v"], "+OK\r\n")]);
        run(&mut c, a, &[(&["WATCH", "k", "other"], "+OK\r\n")]);
        run(&mut c, b, &[(&["SET", "k", "v"], "+OK\r\n")]);
        run(
            &mut c,
            a,
            &[
                (&["MULTI"], "+OK\r\n"),
                (&["SET", "other", "1"], "+QUEUED\r\n"),
                (&["EXEC"], "*-1\r\n"),
                (&["EXISTS", "other"], ":0\r\n"),
            ],
        );
        // No write in between, or only a write that changes nothing: the body runs.
        run(&mut c, a, &[(&["WATCH", "k"], "+OK\r\n")]);
        run(&mut c, b, &[(&["SETNX", "k", "w"], ":0\r\n")]);
        run(&mut c, b, &[(&["DEL", "missing"], ":0\r\n")]);
        run(
            &mut c,
            a,
            &[
                (&["MULTI"], "+OK\r\n"),
                (&["SET", "other", "1"], "+QUEUED\r\n"),
                (&["EXEC"], "*1\r\n+OK\r\n"),
            ],
        );
        // EXEC ended the watch: later writes do not matter.
        run(&mut c, b, &[(&["SET", "k", "z"], "+OK\r\n")]);
        run(&mut c, a, &[(&["MULTI"], "+OK\r\n"), (&["EXEC"], "*0\r\n")]);
        // UNWATCH forgets, and so does DISCARD.
        run(
            &mut c,
            a,
            &[(&["WATCH", "k"], "+OK\r\n"), (&["UNWATCH"], "+OK\r\n")],
        );
        run(&mut c, b, &[(&["SET", "k", "y"], "+OK\r\n")]);
        run(&mut c, a, &[(&["MULTI"], "+OK\r\n"), (&["EXEC"], "*0\r\n")]);
        // RESP3's nil.
        c.cmd(a, &["HELLO", "3"]);
        run(&mut c, a, &[(&["WATCH", "k"], "+OK\r\n")]);
        run(&mut c, b, &[(&["INCRBY", "n", "0"], ":0\r\n")]);
        run(&mut c, b, &[(&["APPEND", "k", ""], ":1\r\n")]);
        run(&mut c, a, &[(&["MULTI"], "+OK\r\n"), (&["EXEC"], "_\r\n")]);
    }
}

#[test]
fn expiry_flush_and_swapdb_fail_watchers_of_live_keys() {
    for threads in THREADS {
        let mut c = TestCluster::new(threads);
        let a = c.connect(0);
        let b = c.connect(threads - 1);
        run(&mut c, b, &[(&["SET", "t", "v", "PX", "50"], "+OK\r\n")]);
        run(&mut c, a, &[(&["WATCH", "t"], "+OK\r\n")]);
        c.advance_ms(100);
        run(
            &mut c,
            a,
            &[(&["MULTI"], "+OK\r\n"), (&["EXEC"], "*-1\r\n")],
        );
        // Absent when watched, FLUSHDB of nothing: fine; present: fails.
        run(&mut c, a, &[(&["WATCH", "gone"], "+OK\r\n")]);
        run(&mut c, b, &[(&["FLUSHDB"], "+OK\r\n")]);
        run(&mut c, a, &[(&["MULTI"], "+OK\r\n"), (&["EXEC"], "*0\r\n")]);
        run(&mut c, b, &[(&["SET", "q", "1"], "+OK\r\n")]);
        run(&mut c, a, &[(&["WATCH", "q"], "+OK\r\n")]);
        run(&mut c, b, &[(&["FLUSHALL"], "+OK\r\n")]);
        run(
            &mut c,
            a,
            &[(&["MULTI"], "+OK\r\n"), (&["EXEC"], "*-1\r\n")],
        );
        // SWAPDB brings a key into the watched database.
        run(
            &mut c,
            b,
            &[
                (&["SELECT", "1"], "+OK\r\n"),
                (&["SET", "s", "1"], "+OK\r\n"),
            ],
        );
        run(&mut c, a, &[(&["WATCH", "s"], "+OK\r\n")]);
        run(&mut c, b, &[(&["SWAPDB", "0", "1"], "+OK\r\n")]);
        run(
            &mut c,
            a,
            &[(&["MULTI"], "+OK\r\n"), (&["EXEC"], "*-1\r\n")],
        );
    }
}

#[test]
fn node_wide_commands_run_inside_exec() {
    for threads in THREADS {
        let mut c = TestCluster::new(threads);
        let a = c.connect(0);
        run(
            &mut c,
            a,
            &[
                (&["MSET", "a", "1", "b", "2", "c", "3"], "+OK\r\n"),
                (&["MULTI"], "+OK\r\n"),
                (&["DBSIZE"], "+QUEUED\r\n"),
                (&["FLUSHALL"], "+QUEUED\r\n"),
                (&["SET", "d", "4"], "+QUEUED\r\n"),
                (&["DBSIZE"], "+QUEUED\r\n"),
                (&["EXEC"], "*4\r\n:3\r\n+OK\r\n+OK\r\n:1\r\n"),
            ],
        );
    }
}

#[test]
fn a_client_that_leaves_mid_multi_or_watch_leaves_nothing_behind() {
    for threads in THREADS {
        let mut c = TestCluster::new(threads);
        let a = c.connect(0);
        run(
            &mut c,
            a,
            &[
                (&["WATCH", "a", "b", "c"], "+OK\r\n"),
                (&["MULTI"], "+OK\r\n"),
            ],
        );
        c.hang_up(a);
        for t in 0..threads {
            assert!(
                c.node(t).shard().watches.is_empty(),
                "thread {t} keeps watches"
            );
        }
    }
}

/// A WATCH on a key that is then evicted fails EXEC, as in Redis. (The eviction also signals the
/// key as modified, as Redis's evict.c does; here the watch would fail anyway, because a key
/// alive at WATCH and gone at EXEC counts as changed.)
#[test]
fn an_evicted_key_fails_its_watchers() {
    let config = crate::config::Config {
        maxmemory_policy: crate::config::MaxmemoryPolicy::AllkeysLru,
        ..crate::config::Config::default()
    };
    let mut c = TestCluster::with_config(1, config);
    let (a, b) = (c.connect(0), c.connect(0));
    // No write fits a 1-byte limit, so `w` is written before it is set. The table's first
    // segment alone passes the limit: the next write evicts `w`.
    run(
        &mut c,
        b,
        &[
            (&["SET", "w", "v"], "+OK\r\n"),
            (&["CONFIG", "SET", "maxmemory", "1"], "+OK\r\n"),
        ],
    );
    run(&mut c, a, &[(&["WATCH", "w"], "+OK\r\n")]);
    run(
        &mut c,
        b,
        &[
            (
                &["SET", "x", "y"],
                "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
            ),
            (&["EXISTS", "w"], ":0\r\n"),
        ],
    );
    run(
        &mut c,
        a,
        &[(&["MULTI"], "+OK\r\n"), (&["EXEC"], "*-1\r\n")],
    );
    let stats = c.cmd_text(b, &["INFO", "stats"]);
    assert!(stats.contains("evicted_keys:1\r\n"), "{stats}");
}
