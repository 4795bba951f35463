//! Hostile and malformed input. Every test sends the same bytes to redis-server 7.0 and to the
//! server under test and compares everything each sends back (and whether it closed), then
//! checks that a fresh client still gets PONG. Resource tests also bound the target's RSS.
//!
//! `DIFF_AGAINST_REDIS=1` runs the target as a second redis-server, proving the tests
//! deterministic. Redis itself does not bound a slow reader's output buffer (normal clients have
//! no client-output-buffer-limit), so that one bound is asserted on Damselfly only.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use support::{encode_cmd, escape, rss_kib, RawConn, RedisServer, Target, XorShift};

const IDLE: Duration = Duration::from_millis(300);
const TRANSCRIPT_TIME_MAX: Duration = Duration::from_secs(5);
const RSS_MAX_KIB: u64 = 200 * 1024;
/// Half of what 200k unread 1 KB replies would take: buffering them all fails this bound.
const SLOW_READER_RSS_GROWTH_MAX_KIB: u64 = 100 * 1024;
const PROMPT_REPLY_MAX: Duration = Duration::from_secs(1);
const PIPELINE_COMMANDS: usize = 10_000;
const SLOW_READER_GETS: usize = 200_000;
const SLOW_READER_VALUE_BYTES: usize = 1024;
const SLOW_READER_WRITE_TIME_MAX: Duration = Duration::from_secs(20);
const RANDOM_CASES: u64 = 48;
const RANDOM_LEN_BYTES_MAX: u64 = 600;
const INLINE_MAX_BYTES: usize = 64 * 1024;

/// What a server sent back for some bytes, and whether it closed the connection.
#[derive(Debug, PartialEq, Eq)]
struct Transcript {
    bytes: Vec<u8>,
    closed: bool,
}

impl std::fmt::Display for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} closed={}", escape(&self.bytes), self.closed)
    }
}

fn transcript(port: u16, input: &[u8]) -> Transcript {
    let mut conn = RawConn::connect(port);
    // The server may close before it read everything: a failed write is part of the story.
    let _ = conn.try_send(input);
    let (bytes, closed) = conn.read_until_idle(IDLE, TRANSCRIPT_TIME_MAX);
    Transcript { bytes, closed }
}

fn assert_ping(target: &Target, context: &str) {
    assert_fresh_client(target, context, b"+PONG\r\n");
}

/// A fresh client must get `expected` for PING (`-NOAUTH` when a password is set), promptly.
fn assert_fresh_client(target: &Target, context: &str, expected: &[u8]) {
    let start = Instant::now();
    let reply = RawConn::connect(target.port()).try_cmd(&[b"PING"]);
    assert!(
        matches!(&reply, Ok(r) if r == expected),
        "{context}: a fresh client got {} from {} instead of {}",
        reply
            .as_deref()
            .map(escape)
            .unwrap_or_else(|e| e.to_string()),
        target.name(),
        escape(expected)
    );
    assert!(
        start.elapsed() < PROMPT_REPLY_MAX,
        "{context}: PING took {:?}",
        start.elapsed()
    );
}

/// Sends `input` to both servers; their transcripts must be equal. Returns the reference's.
fn same_as_redis(reference: &RedisServer, target: &Target, name: &str, input: &[u8]) -> Transcript {
    let expected = transcript(reference.port(), input);
    let actual = transcript(target.port(), input);
    assert_eq!(
        expected,
        actual,
        "{name}: input {}\n  redis:  {expected}\n  {}: {actual}",
        escape(&input[..input.len().min(200)]),
        target.name()
    );
    let fresh = RawConn::connect(reference.port()).cmd(&[b"PING"]);
    assert_fresh_client(target, name, &fresh);
    expected
}

fn servers(args: &[&str]) -> (RedisServer, Target) {
    let redis_args: Vec<&str> = match args {
        ["--requirepass", pass] => vec!["--requirepass", pass],
        _ => vec![],
    };
    (
        RedisServer::start_with(&redis_args),
        Target::under_test(args),
    )
}

#[test]
fn protocol_errors_match_redis_and_close() {
    let (reference, target) = servers(&[]);
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "huge bulk length",
            b"*1\r\n$536870912000\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            "bulk over 512MB",
            b"*1\r\n$536870913\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            "negative bulk",
            b"*1\r\n$-1\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            "bulk not a number",
            b"*1\r\n$x\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            "nested array",
            b"*1\r\n*1\r\n",
            "-ERR Protocol error: expected '$', got '*'\r\n",
        ),
        (
            "inline in multibulk",
            b"*1\r\nPING\r\n",
            "-ERR Protocol error: expected '$', got 'P'\r\n",
        ),
        (
            "bad multibulk",
            b"*abc\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            "multibulk over INT_MAX",
            b"*2147483648\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            "unbalanced quotes",
            b"SET \"a\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            "quote then text",
            b"ECHO \"a\"b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (name, input, expected) in cases {
        let got = same_as_redis(&reference, &target, name, input);
        assert_eq!(
            escape(&got.bytes),
            escape(expected.as_bytes()),
            "{name}: redis-server itself"
        );
        assert!(got.closed, "{name}: redis-server should close");
    }
}

#[test]
fn harmless_framing_matches_redis() {
    let (reference, target) = servers(&[]);
    let cases: &[(&str, &[u8])] = &[
        ("empty multibulk", b"*0\r\n*1\r\n$4\r\nPING\r\n"),
        ("null multibulk", b"*-1\r\n*1\r\n$4\r\nPING\r\n"),
        ("negative multibulk", b"*-7\r\nPING\r\n"),
        ("blank lines", b"\r\n\n\r\nPING\r\n"),
        ("lf only", b"PING\nPING\n"),
        (
            "bulk terminator ignored",
            b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n",
        ),
        (
            "pipelined mixed",
            b"PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nECHO inline\r\n",
        ),
        ("zero length command", b"*1\r\n$0\r\n\r\n"),
        (
            "binary argument",
            b"*2\r\n$4\r\nECHO\r\n$4\r\n\x00\r\n\xff\r\n",
        ),
        ("many args inline", b"ECHO a b c d e f g h i j\r\n"),
    ];
    for (name, input) in cases {
        same_as_redis(&reference, &target, name, input);
    }
}

#[test]
fn unterminated_frames_wait_then_complete() {
    let (reference, target) = servers(&[]);
    let partials: &[&[u8]] = &[
        b"*2\r\n$3\r\nGET\r\n$1\r\n",
        b"*1\r\n$4\r\nPI",
        b"*3\r\n",
        b"*",
        b"*1\r\n$",
        b"*1\r\n$4",
        b"PING",
        b"SET \"open quote",
        b"*1\r\n$536870912\r\nabc",
    ];
    for partial in partials {
        let got = same_as_redis(&reference, &target, "unterminated", partial);
        assert!(
            got.bytes.is_empty() && !got.closed,
            "redis answered a partial frame: {got}"
        );
    }
    // A command delivered one byte per write gets exactly one reply.
    for port in [reference.port(), target.port()] {
        let mut conn = RawConn::connect(port);
        for byte in encode_cmd(&[b"ECHO", b"byte by byte"]) {
            conn.send(&[byte]);
        }
        assert_eq!(
            escape(&conn.read_reply()),
            escape(b"$12\r\nbyte by byte\r\n"),
            "port {port}"
        );
    }
    assert_ping(&target, "byte by byte");
}

#[test]
fn too_long_lines_match_redis() {
    let (reference, target) = servers(&[]);
    let long = vec![b'a'; INLINE_MAX_BYTES + 1024];
    let got = same_as_redis(&reference, &target, "inline too long", &long);
    assert_eq!(
        escape(&got.bytes),
        escape(b"-ERR Protocol error: too big inline request\r\n")
    );
    let mut mbulk = b"*".to_vec();
    mbulk.extend(std::iter::repeat_n(b'1', INLINE_MAX_BYTES + 1024));
    let got = same_as_redis(&reference, &target, "mbulk count too long", &mbulk);
    assert_eq!(
        escape(&got.bytes),
        escape(b"-ERR Protocol error: too big mbulk count string\r\n")
    );
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(std::iter::repeat_n(b'1', INLINE_MAX_BYTES + 1024));
    let got = same_as_redis(&reference, &target, "bulk count too long", &bulk);
    assert_eq!(
        escape(&got.bytes),
        escape(b"-ERR Protocol error: too big bulk count string\r\n")
    );
}

#[test]
fn unauthenticated_limits_match_redis() {
    let (reference, target) = servers(&["--requirepass", "sekret"]);
    let cases: &[(&str, &[u8])] = &[
        ("noauth", b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
        ("noauth inline", b"GET k\r\n"),
        ("ping before auth", b"PING\r\n"),
        ("wrong password", b"AUTH nope\r\n"),
        ("right password", b"AUTH sekret\r\nGET k\r\n"),
        ("multibulk over 10 before auth", b"*11\r\n"),
        ("bulk over 16384 before auth", b"*1\r\n$16385\r\n"),
        ("hello before auth", b"HELLO 3\r\n"),
    ];
    for (name, input) in cases {
        same_as_redis(&reference, &target, name, input);
    }
}

/// Random bytes drawn from an alphabet that mixes RESP framing, inline text and noise.
fn random_input(rng: &mut XorShift) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"*",
        b"$",
        b"\r\n",
        b"\n",
        b"1",
        b"2",
        b"3",
        b"-1",
        b"0",
        b" ",
        b"\"",
        b"'",
        b"\\x4",
        b"PING",
        b"ECHO",
        b"GET k",
        b"SET k v",
        b"*1\r\n$4\r\nPING\r\n",
        b"*2\r\n$3\r\nGET\r\n",
        b"$1\r\nk\r\n",
        b"\x00",
        b"\xff",
        b"{",
        b"%",
        b"_",
        b"+OK",
    ];
    let len = 1 + rng.below(RANDOM_LEN_BYTES_MAX) as usize;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        if rng.below(3) == 0 {
            out.push(rng.next_u64() as u8);
        } else {
            out.extend_from_slice(PIECES[rng.below(PIECES.len() as u64) as usize]);
        }
    }
    out
}

#[test]
fn random_bytes_match_redis() {
    let (reference, target) = servers(&[]);
    let (mut closed, mut reply_bytes) = (0, 0);
    for seed in 1..=RANDOM_CASES {
        let input = random_input(&mut XorShift::new(seed));
        let got = same_as_redis(&reference, &target, &format!("random seed {seed}"), &input);
        closed += usize::from(got.closed);
        reply_bytes += got.bytes.len();
    }
    println!(
        "random bytes: {RANDOM_CASES} inputs, {closed} closed by redis, {reply_bytes} reply bytes"
    );
}

fn run_pipeline(port: u16) -> Vec<u8> {
    let mut conn = RawConn::connect(port);
    let mut batch = Vec::new();
    for _ in 0..PIPELINE_COMMANDS {
        batch.extend_from_slice(&encode_cmd(&[b"INCR", b"pipeline-counter"]));
    }
    // One write from a helper thread, so a server that answers early cannot deadlock us.
    let mut writer = conn.stream().try_clone().expect("clone stream");
    let handle = std::thread::spawn(move || writer.write_all(&batch));
    let mut all = Vec::new();
    for i in 1..=PIPELINE_COMMANDS {
        let reply = conn.read_reply();
        assert_eq!(
            reply,
            format!(":{i}\r\n").into_bytes(),
            "port {port}: reply {i} out of order"
        );
        all.extend_from_slice(&reply);
    }
    handle
        .join()
        .expect("writer thread")
        .expect("pipeline write");
    all
}

#[test]
fn pipeline_of_ten_thousand_in_one_write() {
    let (reference, target) = servers(&[]);
    let expected = run_pipeline(reference.port());
    let actual = run_pipeline(target.port());
    assert!(expected == actual, "pipeline replies differ");
    assert_ping(&target, "pipeline");
}

/// Declared 512 MB bulks that never arrive must not be preallocated.
#[test]
fn declared_huge_bulk_does_not_allocate() {
    let (_reference, target) = servers(&[]);
    let before_kib = rss_kib(target.pid());
    let mut conns = Vec::new();
    for _ in 0..8 {
        let mut conn = target.conn();
        conn.send(b"*2\r\n$3\r\nGET\r\n$536870912\r\n");
        conn.send(&[b'x'; 4096]);
        conns.push(conn);
    }
    std::thread::sleep(Duration::from_millis(500));
    let rss = rss_kib(target.pid());
    println!(
        "declared huge bulk: {} RSS {before_kib} KiB -> {rss} KiB",
        target.name()
    );
    assert!(
        rss < RSS_MAX_KIB,
        "{} RSS {rss} KiB after 8 declared 512 MB bulks",
        target.name()
    );
    assert_ping(&target, "declared huge bulk");
    for conn in &mut conns {
        assert!(
            conn.pending().is_empty(),
            "partial bulk answered: {}",
            escape(conn.pending())
        );
    }
    drop(conns);
    assert_ping(&target, "declared huge bulk, after close");
}

/// A client that pipelines 200k GETs of a 1 KB value and never reads.
#[test]
fn slow_reader_stays_bounded() {
    let (_reference, target) = servers(&[]);
    let value = vec![b'v'; SLOW_READER_VALUE_BYTES];
    target.conn().cmd(&[b"SET", b"big", &value]);
    let before_kib = rss_kib(target.pid());
    let slow = target.conn();
    let mut writer = slow.stream().try_clone().expect("clone stream");
    writer
        .set_write_timeout(Some(Duration::from_secs(2)))
        .expect("write timeout");
    let handle = std::thread::spawn(move || {
        let get = encode_cmd(&[b"GET", b"big"]);
        let chunk: Vec<u8> = get.iter().copied().cycle().take(get.len() * 1000).collect();
        let start = Instant::now();
        let mut sent = 0;
        // Stops when the server stops reading (write timeout): that is backpressure working.
        while sent < SLOW_READER_GETS && start.elapsed() < SLOW_READER_WRITE_TIME_MAX {
            if writer.write_all(&chunk).is_err() {
                break;
            }
            sent += 1000;
        }
        sent
    });
    let mut worst = Duration::ZERO;
    let mut other = target.conn();
    while !handle.is_finished() {
        let start = Instant::now();
        assert_eq!(other.cmd(&[b"PING"]), b"+PONG\r\n");
        worst = worst.max(start.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = handle.join().expect("writer thread");
    std::thread::sleep(Duration::from_millis(500));
    let rss = rss_kib(target.pid());
    println!(
        "slow reader: {} accepted {sent} GETs; RSS {before_kib} KiB -> {rss} KiB; worst PING {worst:?}",
        target.name()
    );
    assert!(worst < PROMPT_REPLY_MAX, "other client waited {worst:?}");
    if !target.is_redis() {
        let growth = rss.saturating_sub(before_kib);
        assert!(
            growth < SLOW_READER_RSS_GROWTH_MAX_KIB,
            "damselfly RSS grew {growth} KiB for a slow reader"
        );
    }
    drop(slow);
    assert_ping(&target, "slow reader");
}
