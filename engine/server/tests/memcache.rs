//! The Memcached protocol (`--memcached_port`) against the real thing: every case file under
//! `tests/cases/memcache/*.txt` is sent, step by step, to Debian's memcached 1.6 (one thread,
//! on a loopback port, killed by PID at the end) and to Damselfly, and the reply bytes are
//! compared. Then what only Damselfly has: a Memcached item is a RESP string of database 0.
//!
//! Case syntax: each line is sent as written plus `\r\n` (escapes `\r \n \t \\ \xHH`;
//! `{{c*N}}` expands to N copies of the character c, for long keys and big values), followed by
//! `mn\r\n`; the reply is everything up to memcached's `MN`, so each step's answer is exactly
//! delimited, `noreply` included. `#` starts a comment.
//! - `@raw <line>`: the same without the added `\r\n` (a partial line, a bad chunk).
//! - `@other <line>`: a step on a second connection (CAS races).
//! - `@closes <line>`: send without the `mn`; both servers must close the connection (an
//!   over-long line); the next step reconnects.
//! - `@sleep MS`: pause both (expiry).
//! - `@nocompare <line>`: send to both, compare nothing.
//!
//! What legitimately differs is masked: CAS uniques (memcached's one counter against one per
//! shard) read as `C`; `{{cas}}` in a line sends the unique that side showed last.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{escape, free_port, Damselfly, LOOPBACK};

const IO_TIMEOUT: Duration = Duration::from_secs(5);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
const SLEEP_MS_MAX: u64 = 5_000;
const SENTINEL: &[u8] = b"mn\r\n";
/// `{{cas}}` in a case: the CAS unique this side last showed.
const CAS_PLACEHOLDER: &[u8] = b"{{cas}}";
const SENTINEL_REPLY: &[u8] = b"MN\r\n";

/// Debian's memcached, one thread, on a free loopback port; killed by PID on Drop.
struct Memcached {
    child: Child,
    port: u16,
}

impl Memcached {
    fn start() -> Memcached {
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new("memcached")
                // -u matters only when run as root (memcached refuses root without it).
                .args(["-u", "root", "-l", LOOPBACK, "-U", "0", "-t", "1", "-p"])
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("memcached not found ({e}): apt-get install -y memcached (.ci/run)")
                });
            if let Some(dir) = std::env::var_os("DAMSELFLY_TEST_PIDDIR") {
                // .ci/run kills what a killed test binary left behind, by PID.
                let _ =
                    std::fs::write(PathBuf::from(dir).join(child.id().to_string()), "memcached");
            }
            let mut server = Memcached { child, port };
            if wait_answering(port) && matches!(server.child.try_wait(), Ok(None)) {
                return server;
            }
            let _ = server.child.kill();
        }
        panic!("memcached did not start");
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let pid = self.child.id();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = std::env::var_os("DAMSELFLY_TEST_PIDDIR") {
            let _ = std::fs::remove_file(PathBuf::from(dir).join(pid.to_string()));
        }
    }
}

/// True once `version` answers on `port`.
fn wait_answering(port: u16) -> bool {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(mut conn) = McConn::connect(port) {
            if conn
                .exchange(b"version\r\n")
                .is_ok_and(|r| r.starts_with(b"VERSION "))
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Damselfly with its Memcached port open.
fn start_damselfly(extra: &[&str]) -> (Damselfly, u16) {
    let port = free_port();
    let port_arg = port.to_string();
    let mut args = vec!["--memcached_port", &port_arg];
    args.extend_from_slice(extra);
    let server = Damselfly::start(&args);
    assert!(
        wait_answering(port),
        "damselfly's memcached port {port} silent"
    );
    (server, port)
}

struct McConn {
    stream: TcpStream,
}

/// What a step got back.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Bytes(Vec<u8>),
    Closed(Vec<u8>),
}

impl McConn {
    fn connect(port: u16) -> std::io::Result<McConn> {
        let stream = TcpStream::connect((LOOPBACK, port))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(McConn { stream })
    }

    /// Sends `bytes` then the sentinel; the answer is what came before the sentinel's reply.
    fn exchange(&mut self, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        match self.step(bytes, true)? {
            Answer::Bytes(reply) => Ok(reply),
            Answer::Closed(reply) => Err(std::io::Error::other(format!(
                "closed after {}",
                escape(&reply)
            ))),
        }
    }

    fn step(&mut self, bytes: &[u8], sentinel: bool) -> std::io::Result<Answer> {
        let mut sent = bytes.to_vec();
        if sentinel {
            sent.extend_from_slice(SENTINEL);
        }
        self.stream.write_all(&sent)?;
        let mut got = Vec::new();
        let mut chunk = vec![0; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(Answer::Closed(got)),
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Ok(Answer::Closed(got));
                }
                Err(e) => return Err(e),
            }
            if sentinel && got.ends_with(SENTINEL_REPLY) {
                got.truncate(got.len() - SENTINEL_REPLY.len());
                return Ok(Answer::Bytes(got));
            }
        }
    }
}

/// Unescapes a case line: `\r \n \t \\ \xHH`, and `{{c*N}}` repeats.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"{{") {
            let end = text[i..].find("}}").ok_or("unclosed {{")? + i;
            let inner = &text[i + 2..end];
            if inner == "cas" {
                // Per side, at send time (`Side::run`).
                out.extend_from_slice(CAS_PLACEHOLDER);
                i = end + 2;
                continue;
            }
            let (c, n) = inner.split_once('*').ok_or("{{c*N}} expected")?;
            let n: usize = n
                .parse()
                .map_err(|_| format!("bad count in {{{{{inner}}}}}"))?;
            out.extend(std::iter::repeat_n(c.as_bytes()[0], n));
            i = end + 2;
            continue;
        }
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let (byte, len) = match bytes[i + 1] {
                b'r' => (b'\r', 2),
                b'n' => (b'\n', 2),
                b't' => (b'\t', 2),
                b'\\' => (b'\\', 2),
                b'x' => {
                    let hex = text.get(i + 2..i + 4).ok_or("short \\x")?;
                    (u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?, 4)
                }
                other => return Err(format!("unknown escape \\{}", other as char)),
            };
            out.push(byte);
            i += len;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    Ok(out)
}

/// Masks CAS uniques: the fifth word of a `VALUE` line, a meta reply's `c<cas>` flag.
fn mask(reply: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in reply.split_inclusive(|&b| b == b'\n') {
        let words: Vec<&[u8]> = line.trim_ascii_end().split(|&b| b == b' ').collect();
        let is_meta = words
            .first()
            .is_some_and(|w| [b"VA", b"HD", b"EN", b"NF", b"NS"].iter().any(|m| m == w));
        if words.first() == Some(&b"VALUE".as_slice()) && words.len() == 5 {
            out.extend_from_slice(&words[..4].join(&b' '));
            out.extend_from_slice(b" C\r\n");
        } else if is_meta {
            let masked: Vec<Vec<u8>> = words
                .iter()
                .map(|w| {
                    if w.len() > 1 && w[0] == b'c' && w[1..].iter().all(u8::is_ascii_digit) {
                        b"cC".to_vec()
                    } else {
                        w.to_vec()
                    }
                })
                .collect();
            out.extend_from_slice(&masked.join(&b' '));
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

#[derive(Debug)]
enum Step {
    Send { bytes: Vec<u8>, compare: bool },
    Other(Vec<u8>),
    Closes(Vec<u8>),
    Sleep(Duration),
}

fn parse_case(text: &str) -> Result<Vec<(usize, String, Step)>, String> {
    let mut steps = Vec::new();
    for (at, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let with_crlf = |s: &str| -> Result<Vec<u8>, String> {
            let mut bytes = unescape(s)?;
            bytes.extend_from_slice(b"\r\n");
            Ok(bytes)
        };
        let step = if let Some(rest) = line.strip_prefix("@raw ") {
            Step::Send {
                bytes: unescape(rest)?,
                compare: true,
            }
        } else if let Some(rest) = line.strip_prefix("@other ") {
            Step::Other(with_crlf(rest)?)
        } else if let Some(rest) = line.strip_prefix("@closes ") {
            Step::Closes(unescape(rest)?)
        } else if let Some(rest) = line.strip_prefix("@nocompare ") {
            Step::Send {
                bytes: with_crlf(rest)?,
                compare: false,
            }
        } else if let Some(ms) = line.strip_prefix("@sleep ") {
            let ms: u64 = ms.trim().parse().map_err(|_| format!("bad @sleep {ms}"))?;
            assert!(
                ms <= SLEEP_MS_MAX,
                "sleep of {ms} ms is too long for a case"
            );
            Step::Sleep(Duration::from_millis(ms))
        } else if line.starts_with('@') {
            return Err(format!("line {}: unknown directive {line}", at + 1));
        } else {
            Step::Send {
                bytes: with_crlf(line)?,
                compare: true,
            }
        };
        steps.push((at + 1, line.to_string(), step));
    }
    Ok(steps)
}

/// One side of the comparison: its port and two connections (re-opened after a close).
struct Side {
    port: u16,
    main: Option<McConn>,
    other: Option<McConn>,
    last_cas: Vec<u8>,
}

impl Side {
    fn new(port: u16) -> Side {
        Side {
            port,
            main: None,
            other: None,
            last_cas: b"0".to_vec(),
        }
    }

    fn conn(slot: &mut Option<McConn>, port: u16) -> &mut McConn {
        slot.get_or_insert_with(|| McConn::connect(port).expect("connect"))
    }

    fn run(&mut self, step: &Step) -> Answer {
        let port = self.port;
        let (slot, bytes, sentinel) = match step {
            Step::Send { bytes, .. } => (&mut self.main, bytes, true),
            Step::Other(bytes) => (&mut self.other, bytes, true),
            Step::Closes(bytes) => (&mut self.main, bytes, false),
            Step::Sleep(_) => unreachable!("sleeps are not sent"),
        };
        let bytes = replace_all(bytes, CAS_PLACEHOLDER, &self.last_cas);
        let answer = Side::conn(slot, port)
            .step(&bytes, sentinel)
            .unwrap_or_else(|e| Answer::Bytes(format!("<io error {e}>").into_bytes()));
        if let Answer::Closed(_) = answer {
            *slot = None;
        }
        let (Answer::Bytes(reply) | Answer::Closed(reply)) = &answer;
        if let Some(cas) = last_cas_in(reply) {
            self.last_cas = cas;
        }
        match answer {
            Answer::Bytes(bytes) => Answer::Bytes(mask(&bytes)),
            Answer::Closed(bytes) => Answer::Closed(mask(&bytes)),
        }
    }
}

fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The last CAS unique a reply shows (a `VALUE` line's fifth word, a meta `c` flag).
fn last_cas_in(reply: &[u8]) -> Option<Vec<u8>> {
    let mut found = None;
    for line in reply.split(|&b| b == b'\n') {
        let words: Vec<&[u8]> = line.trim_ascii_end().split(|&b| b == b' ').collect();
        if words.first() == Some(&b"VALUE".as_slice()) && words.len() == 5 {
            found = Some(words[4].to_vec());
        } else if words
            .first()
            .is_some_and(|w| w.len() == 2 && w[0].is_ascii_uppercase())
        {
            for w in &words[1..] {
                if w.len() > 1 && w[0] == b'c' && w[1..].iter().all(u8::is_ascii_digit) {
                    found = Some(w[1..].to_vec());
                }
            }
        }
    }
    found
}

fn show(answer: &Answer) -> String {
    match answer {
        Answer::Bytes(bytes) => escape(bytes),
        Answer::Closed(bytes) => format!("{} <closed>", escape(bytes)),
    }
}

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/memcache");
    let only: Option<Vec<String>> = std::env::var("DIFF_CASES")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .filter(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            only.as_ref().is_none_or(|o| o.contains(&stem))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn memcache_cases_match_memcached() {
    let reference = Memcached::start();
    let (_damselfly, damselfly_port) = start_damselfly(&[]);
    let mut mismatches = Vec::new();
    let mut steps_run = 0;
    for file in case_files() {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&file).expect("read case file");
        let steps = parse_case(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut expected = Side::new(reference.port);
        let mut actual = Side::new(damselfly_port);
        for side in [&mut expected, &mut actual] {
            let flushed = side.run(&Step::Send {
                bytes: b"flush_all\r\n".to_vec(),
                compare: false,
            });
            assert_eq!(
                flushed,
                Answer::Bytes(b"OK\r\n".to_vec()),
                "{name}: flush_all"
            );
        }
        for (line_no, line, step) in &steps {
            if let Step::Sleep(pause) = step {
                std::thread::sleep(*pause);
                continue;
            }
            let want = expected.run(step);
            let got = actual.run(step);
            steps_run += 1;
            let compare = !matches!(step, Step::Send { compare: false, .. });
            if compare && want != got {
                mismatches.push(format!(
                    "{name}:{line_no}: {line}\n  memcached: {}\n  damselfly: {}",
                    show(&want),
                    show(&got)
                ));
            }
        }
    }
    assert!(steps_run > 0, "no memcache cases ran");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// A key written through Memcached is a string of database 0 for RESP clients, and a RESP write
/// is an item (flags 0) for Memcached clients; keys spread over both shards.
#[test]
fn memcached_items_are_resp_strings() {
    let (server, port) = start_damselfly(&[]);
    let mut mc = McConn::connect(port).unwrap();
    let mut resp = server.conn();
    for i in 0..20 {
        let key = format!("k{i}");
        let set = format!("set {key} 7 0 3\r\nv{i:02}\r\n");
        assert_eq!(mc.exchange(set.as_bytes()).unwrap(), b"STORED\r\n");
        let got = resp.cmd_str(&["GET", &key]);
        assert_eq!(got, format!("$3\r\nv{i:02}\r\n").into_bytes());
    }
    assert_eq!(resp.cmd_str(&["SET", "r", "from-resp"]), b"+OK\r\n");
    assert_eq!(
        mc.exchange(b"get r\r\n").unwrap(),
        b"VALUE r 0 9\r\nfrom-resp\r\nEND\r\n"
    );
    // A RESP write ends the item: its flags go with the old value.
    assert_eq!(resp.cmd_str(&["APPEND", "k1", "!"]), b":4\r\n");
    assert_eq!(
        mc.exchange(b"get k1 k2\r\n").unwrap(),
        b"VALUE k1 0 4\r\nv01!\r\nVALUE k2 7 3\r\nv02\r\nEND\r\n"
    );
    assert_eq!(resp.cmd_str(&["SELECT", "1"]), b"+OK\r\n");
    assert_eq!(resp.cmd_str(&["EXISTS", "k2"]), b":0\r\n");
    // The many-key get spans both shards in one request, in the order asked.
    let keys: Vec<String> = (0..20).rev().map(|i| format!("k{i}")).collect();
    let reply = mc
        .exchange(format!("get {}\r\n", keys.join(" ")).as_bytes())
        .unwrap();
    let order: Vec<String> = String::from_utf8_lossy(&reply)
        .lines()
        .filter_map(|l| {
            l.strip_prefix("VALUE ")?
                .split(' ')
                .next()
                .map(String::from)
        })
        .collect();
    assert_eq!(order, keys);
}

/// `--memcached_item_max` bounds an item as memcached's -I does, header included.
#[test]
fn item_size_limit_follows_the_flag() {
    let (_server, port) = start_damselfly(&["--memcached_item_max", "4096"]);
    let mut mc = McConn::connect(port).unwrap();
    // 56 bytes of header, the key and its NUL, the data and its \r\n.
    let fits = 4096 - 56 - 2 - 2;
    for (len, want) in [
        (fits, "STORED\r\n"),
        (fits + 1, "SERVER_ERROR object too large for cache\r\n"),
    ] {
        let request = format!("set k 0 0 {len}\r\n{}\r\n", "v".repeat(len));
        let reply = mc.exchange(request.as_bytes()).unwrap();
        assert_eq!(String::from_utf8_lossy(&reply), want, "{len}");
    }
    // The failed set removed the old value, as memcached does.
    assert_eq!(mc.exchange(b"get k\r\n").unwrap(), b"END\r\n");
}

/// `stats` and `stats settings` answer in memcached's shape with the figures that apply.
#[test]
fn stats_name_the_figures() {
    let (server, port) = start_damselfly(&[]);
    let mut mc = McConn::connect(port).unwrap();
    assert_eq!(mc.exchange(b"set a 0 0 1\r\nx\r\n").unwrap(), b"STORED\r\n");
    let stats = String::from_utf8(mc.exchange(b"stats\r\n").unwrap()).unwrap();
    assert!(stats.ends_with("END\r\n"), "{stats}");
    let field = |name: &str| {
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&format!("STAT {name} ")).map(String::from))
            .unwrap_or_else(|| panic!("no {name} in {stats}"))
    };
    assert_eq!(field("pid"), server.pid().to_string());
    assert_eq!(field("curr_items"), "1");
    assert_eq!(field("version"), "1.6.18");
    let settings = String::from_utf8(mc.exchange(b"stats settings\r\n").unwrap()).unwrap();
    assert!(
        settings.contains("STAT item_size_max 1048576\r\n"),
        "{settings}"
    );
    assert!(settings.ends_with("END\r\n"));
}

/// With a password, a Memcached client authenticates as memcached's `-Y` text protocol has it:
/// a first `set` whose data is `<user> <password>`; until then every request is refused.
#[test]
fn requirepass_guards_the_memcached_port() {
    let port = free_port();
    let port_arg = port.to_string();
    let _server = Damselfly::start(&["--requirepass", "sesame", "--memcached_port", &port_arg]);
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut stream = loop {
        if let Ok(conn) = McConn::connect(port) {
            break conn.stream;
        }
        assert!(Instant::now() < deadline, "memcached port {port} silent");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut ask = |request: &[u8]| -> String {
        stream.write_all(request).unwrap();
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n") {
            assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed");
            got.push(byte[0]);
        }
        String::from_utf8(got).unwrap()
    };
    assert_eq!(ask(b"get a\r\n"), "CLIENT_ERROR unauthenticated\r\n");
    assert_eq!(
        ask(b"set u 0 0 7\r\nu wrong\r\n"),
        "CLIENT_ERROR authentication failure\r\n"
    );
    assert_eq!(ask(b"set u 0 0 8\r\nu sesame\r\n"), "STORED\r\n");
    assert_eq!(ask(b"set a 0 0 1\r\nx\r\n"), "STORED\r\n");
    assert_eq!(ask(b"get a\r\n"), "VALUE a 0 1\r\n");
}
