//! Pub/Sub side by side with redis-server 7.0: one script of commands on several connections
//! runs against both servers, and every byte each connection receives (replies and pushed
//! messages) must be equal. Damselfly runs on three threads, so the connections, which the
//! server spreads over its threads, publish and subscribe across threads.
//!
//! The script avoids what Redis answers in hash order (UNSUBSCRIBE of several channels at once
//! without arguments, PUBSUB CHANNELS with several channels).

// Test code drives real servers with real sockets and clocks.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use std::time::Duration;

use support::{escape, Damselfly, RawConn, RedisServer};

/// A step: the connection that sends, its command, how many frames it gets back, and how many
/// frames each other connection is then pushed (by connection index).
type Step = (
    usize,
    &'static [&'static str],
    usize,
    &'static [(usize, usize)],
);

const CONNS: usize = 5;

const SCRIPT: &[Step] = &[
    (0, &["SUBSCRIBE", "news", "sport"], 2, &[]),
    (1, &["PSUBSCRIBE", "n*", "s?ort"], 2, &[]),
    (2, &["SSUBSCRIBE", "orders"], 1, &[]),
    (3, &["HELLO", "3"], 1, &[]),
    (3, &["SUBSCRIBE", "news"], 1, &[]),
    (3, &["PSUBSCRIBE", "*"], 1, &[]),
    (
        4,
        &["PUBLISH", "news", "first"],
        1,
        &[(0, 1), (1, 1), (3, 2)],
    ),
    (
        4,
        &["PUBLISH", "sport", "second"],
        1,
        &[(0, 1), (1, 1), (3, 1)],
    ),
    (4, &["PUBLISH", "nothing", "third"], 1, &[(1, 1), (3, 1)]),
    (4, &["SPUBLISH", "orders", "o1"], 1, &[(2, 1)]),
    (4, &["SPUBLISH", "news", "not a shard subscriber"], 1, &[]),
    (4, &["PUBSUB", "NUMSUB", "news", "sport", "none"], 1, &[]),
    (4, &["PUBSUB", "SHARDNUMSUB", "orders", "news"], 1, &[]),
    (4, &["PUBSUB", "NUMPAT"], 1, &[]),
    (4, &["PUBSUB", "CHANNELS", "s*"], 1, &[]),
    (4, &["PUBSUB", "SHARDCHANNELS"], 1, &[]),
    (4, &["PUBSUB", "CHANNELS", "a", "b"], 1, &[]),
    (4, &["PUBSUB", "NUMPAT", "x"], 1, &[]),
    (4, &["PUBSUB", "NOSUCH"], 1, &[]),
    (4, &["PUBSUB", "HELP"], 1, &[]),
    (4, &["PUBLISH", "news"], 1, &[]),
    (0, &["GET", "k"], 1, &[]),
    (0, &["PING"], 1, &[]),
    (0, &["PING", "hello"], 1, &[]),
    (0, &["MULTI"], 1, &[]),
    (3, &["GET", "k"], 1, &[]),
    (3, &["PING"], 1, &[]),
    (3, &["PUBLISH", "news", "to myself"], 3, &[(0, 1), (1, 1)]),
    (0, &["UNSUBSCRIBE", "news"], 1, &[]),
    (0, &["UNSUBSCRIBE", "nope"], 1, &[]),
    (0, &["UNSUBSCRIBE"], 1, &[]),
    (0, &["UNSUBSCRIBE"], 1, &[]),
    (0, &["GET", "k"], 1, &[]),
    (1, &["PUNSUBSCRIBE"], 2, &[]),
    (1, &["PUNSUBSCRIBE"], 1, &[]),
    (2, &["UNSUBSCRIBE"], 1, &[]),
    (2, &["GET", "k"], 1, &[]),
    (2, &["SUNSUBSCRIBE"], 1, &[]),
    (2, &["SUNSUBSCRIBE"], 1, &[]),
    (2, &["GET", "k"], 1, &[]),
    (3, &["RESET"], 1, &[]),
    (4, &["PUBLISH", "news", "nobody"], 1, &[]),
    (4, &["PUBSUB", "NUMPAT"], 1, &[]),
    (0, &["MULTI"], 1, &[]),
    (0, &["SUBSCRIBE", "m1", "m2"], 1, &[]),
    (0, &["SSUBSCRIBE", "m3"], 1, &[]),
    (0, &["PSUBSCRIBE", "m*"], 1, &[]),
    (0, &["PUBLISH", "m1", "inside exec"], 1, &[]),
    (0, &["EXEC"], 1, &[]),
    // EXEC's array counts 4 commands but holds 5 frames (SUBSCRIBE m1 m2 wrote two): the
    // 5th, then the message, pmessage and count of the PUBLISH inside, then the two messages
    // of this PUBLISH, follow it, as they do from Redis.
    (4, &["PUBLISH", "m1", "after exec"], 1, &[(0, 5)]),
];

/// Runs the script; returns each connection's transcript.
fn run(port: u16) -> Vec<String> {
    let mut conns: Vec<RawConn> = (0..CONNS).map(|_| RawConn::connect(port)).collect();
    let mut transcripts = vec![String::new(); CONNS];
    for (step, &(from, args, frames, pushes)) in SCRIPT.iter().enumerate() {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        conns[from].send(&support::encode_cmd(&args));
        for _ in 0..frames {
            let mut reply = conns[from].read_reply();
            if args[0] == b"HELLO" {
                // It names the client id, which counts every connection the server has seen.
                reply.truncate(3);
            }
            transcripts[from].push_str(&format!("{step}: {}\n", escape(&reply)));
        }
        for &(to, count) in pushes {
            for _ in 0..count {
                let push = conns[to].read_reply();
                transcripts[to].push_str(&format!("{step}: {}\n", escape(&push)));
            }
        }
    }
    transcripts
}

#[test]
fn pubsub_script_matches_redis_byte_for_byte() {
    let redis = RedisServer::start();
    let expected = run(redis.port());
    let damselfly = Damselfly::start(&["--proactor_threads", "3"]);
    let got = run(damselfly.port());
    for (n, (want, have)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(want, have, "connection {n}");
    }
}

/// A subscriber that stops reading is disconnected at the pubsub output limit, by both
/// servers, while a subscriber that reads gets every message.
fn slow_subscriber_is_dropped(port: u16) {
    let mut admin = RawConn::connect(port);
    let limit = [
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 256kb 0 0",
    ];
    assert_eq!(admin.cmd_str(&limit), b"+OK\r\n");
    let mut slow = RawConn::connect(port);
    slow.cmd_str(&["SUBSCRIBE", "flood"]);
    let mut fast = RawConn::connect(port);
    fast.cmd_str(&["SUBSCRIBE", "flood"]);
    let message = "x".repeat(4096);
    let mut counts = Vec::new();
    for _ in 0..4096 {
        counts.push(admin.cmd_str(&["PUBLISH", "flood", &message]));
        let push = fast.read_reply();
        assert!(push.ends_with(format!("{message}\r\n").as_bytes()));
    }
    assert_eq!(counts[0], b":2\r\n");
    assert_eq!(
        counts.last().unwrap(),
        b":1\r\n",
        "the slow subscriber is gone"
    );
    assert!(slow.closed_within(Duration::from_secs(10)));
}

#[test]
fn a_subscriber_that_does_not_read_is_dropped_at_the_output_limit() {
    let redis = RedisServer::start();
    slow_subscriber_is_dropped(redis.port());
    let damselfly = Damselfly::start(&["--proactor_threads", "3"]);
    slow_subscriber_is_dropped(damselfly.port());
}
