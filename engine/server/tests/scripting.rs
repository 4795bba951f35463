//! Scripts real libraries ship, side by side with redis-server 7.0: a Redlock release, a
//! sliding-window rate limiter and a BullMQ-style move-to-active over several keys, against
//! Damselfly on two threads so their keys live on both shards. Every reply must be equal byte
//! for byte. Then a transfer script between keys of two shards races plain readers: no reader
//! may ever see half of a transfer.

// Test code drives real servers with real sockets and clocks.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use damselfly_core::cx::ThreadId;
use damselfly_core::node::shard_of;
use support::{escape, Damselfly, RawConn, RedisServer};

/// Redlock's release: delete the lock only if it still holds our token.
const REDLOCK_RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then \
     return redis.call('del', KEYS[1]) else return 0 end";

/// A sliding-window limiter (the sorted-set pattern): drop entries older than the window,
/// count, admit when under the limit. Time comes in ARGV so both servers see the same.
const SLIDING_WINDOW: &str = "local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), \
     tonumber(ARGV[2]), tonumber(ARGV[3]) \
     redis.call('zremrangebyscore', key, '-inf', now - window) \
     local count = redis.call('zcard', key) \
     if count < limit then \
       redis.call('zadd', key, now, ARGV[4]) \
       redis.call('pexpire', key, window) \
       return {1, limit - count - 1} \
     end \
     return {0, 0}";

/// Moves the next job from `wait` to `active`, stamps it, counts it, returns its data as a
/// map (BullMQ's moveToActive in miniature, written for this test).
const MOVE_TO_ACTIVE: &str = "local job = redis.call('rpoplpush', KEYS[1], KEYS[2]) \
     if not job then return {err = 'NOJOB no job waiting'} end \
     redis.call('hset', KEYS[3] .. job, 'processedOn', ARGV[1], 'token', ARGV[2]) \
     redis.call('incr', KEYS[4]) \
     local data = redis.call('hgetall', KEYS[3] .. job) \
     return {job, data, redis.call('llen', KEYS[1]), cjson.encode({id = job})}";

fn key_on(thread: u16, tag: &str) -> String {
    (0..)
        .map(|i| format!("{tag}{i}"))
        .find(|k| shard_of(k.as_bytes(), 2) == ThreadId(thread))
        .expect("a key on every thread")
}

fn steps() -> Vec<Vec<String>> {
    let lock = key_on(1, "lock:");
    let limiter = key_on(0, "rate:");
    let (wait, active) = (key_on(0, "wait:"), key_on(1, "active:"));
    let counter = key_on(1, "processed:");
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut steps = vec![
        s(&["SET", &lock, "token-1", "NX", "PX", "30000"]),
        s(&["SET", &lock, "token-2", "NX", "PX", "30000"]),
        s(&["EVAL", REDLOCK_RELEASE, "1", &lock, "token-2"]),
        s(&["GET", &lock]),
        s(&["SCRIPT", "LOAD", REDLOCK_RELEASE]),
        s(&["EVAL", REDLOCK_RELEASE, "1", &lock, "token-1"]),
        s(&["EXISTS", &lock]),
        s(&["EVAL", REDLOCK_RELEASE, "1", &lock, "token-1"]),
    ];
    for (i, now) in [1000, 1100, 1200, 1300, 2050, 2150, 3500]
        .iter()
        .enumerate()
    {
        let (now, member) = (now.to_string(), format!("req-{i}"));
        steps.push(s(&[
            "EVAL",
            SLIDING_WINDOW,
            "1",
            &limiter,
            &now,
            "1000",
            "3",
            &member,
        ]));
    }
    steps.push(s(&["ZRANGE", &limiter, "0", "-1", "WITHSCORES"]));
    steps.push(s(&["RPUSH", &wait, "j1", "j2"]));
    for token in ["t1", "t2", "t3"] {
        steps.push(s(&[
            "EVAL",
            MOVE_TO_ACTIVE,
            "4",
            &wait,
            &active,
            "job:",
            &counter,
            "1700000000000",
            token,
        ]));
    }
    steps.push(s(&["LRANGE", &active, "0", "-1"]));
    steps.push(s(&["GET", &counter]));
    steps.push(s(&["HGETALL", "job:j1"]));
    steps
}

fn run(conn: &mut RawConn, steps: &[Vec<String>]) -> Vec<Vec<u8>> {
    steps
        .iter()
        .map(|step| {
            let args: Vec<&[u8]> = step.iter().map(|a| a.as_bytes()).collect();
            conn.cmd(&args)
        })
        .collect()
}

#[test]
fn library_scripts_answer_as_redis() {
    let redis = RedisServer::start();
    let ours = Damselfly::start(&["--proactor_threads", "2"]);
    let steps = steps();
    let expected = run(&mut redis.conn(), &steps);
    let actual = run(&mut ours.conn(), &steps);
    for ((step, want), got) in steps.iter().zip(&expected).zip(&actual) {
        assert_eq!(
            escape(got),
            escape(want),
            "{:?}\n{}",
            &step[..2.min(step.len())],
            ours.output()
        );
    }
}

fn integer(reply: &[u8]) -> i64 {
    std::str::from_utf8(&reply[1..reply.len() - 2])
        .expect("ascii")
        .parse()
        .unwrap_or_else(|_| panic!("not an integer reply: {}", escape(reply)))
}

/// Moves 1 from one key to another on the other shard, both declared: a VLL transaction.
const TRANSFER: &str = "redis.call('decrby', KEYS[1], 1) \
     redis.call('incrby', KEYS[2], 1) return 1";
/// The same transfer through keys the script does not declare (it restarts with them).
const TRANSFER_UNDECLARED: &str = "redis.call('decrby', ARGV[1], 1) \
     redis.call('incrby', ARGV[2], 1) return 1";

#[test]
fn no_reader_sees_half_a_script() {
    let ours = Damselfly::start(&["--proactor_threads", "2"]);
    let (a, b) = (key_on(0, "acct:"), key_on(1, "acct:"));
    let mut setup = ours.conn();
    setup.cmd_str(&["MSET", &a, "1000", &b, "0"]);
    let port = ours.port();
    let (a2, b2) = (a.clone(), b.clone());
    let writer = std::thread::spawn(move || {
        let mut conn = RawConn::connect(port);
        for i in 0..300 {
            let reply = if i % 2 == 0 {
                conn.cmd_str(&["EVAL", TRANSFER, "2", &a2, &b2])
            } else {
                conn.cmd_str(&["EVAL", TRANSFER_UNDECLARED, "0", &a2, &b2])
            };
            assert_eq!(reply, b":1\r\n", "{}", escape(&reply));
        }
    });
    let mut reader = ours.conn();
    let mut reads = 0;
    while !writer.is_finished() || reads == 0 {
        let reply = reader.cmd_str(&["MGET", &a, &b]);
        let text = String::from_utf8_lossy(&reply).to_string();
        let numbers: Vec<i64> = text
            .split("\r\n")
            .filter_map(|line| line.parse().ok())
            .collect();
        assert_eq!(numbers.len(), 2, "{text}");
        assert_eq!(numbers[0] + numbers[1], 1000, "half a script seen: {text}");
        let sum = reader.cmd_str(&[
            "EVAL_RO",
            "return redis.call('get', KEYS[1]) + redis.call('get', KEYS[2])",
            "2",
            &a,
            &b,
        ]);
        assert_eq!(integer(&sum), 1000, "half a script seen by a script");
        reads += 1;
    }
    writer.join().expect("writer");
    let end = setup.cmd_str(&["MGET", &a, &b]);
    assert_eq!(
        end,
        b"*2\r\n$3\r\n700\r\n$3\r\n300\r\n".to_vec(),
        "{}",
        escape(&end)
    );
}
