//! Differential tests: every case file under `tests/cases/*.txt` is sent, line by line, to a
//! redis-server 7.0 and to Damselfly, and the raw reply bytes are compared.
//!
//! Case syntax (one command per line, as in redis-cli):
//! - arguments split on spaces; `"double quoted"` with `\xHH \n \r \t \" \\` escapes, and
//!   `'single quoted'` taken literally; `#` starts a comment line.
//! - `@resp3`: send `HELLO 3` on both connections now (its reply names the server: not compared).
//! - `@normalize ttl`: the next reply is an integer compared with ±1 tolerance;
//!   `@normalize pttl` the same with ±250 (milliseconds); `@approx N` with ±N.
//! - `@sort`: the next reply is compared as a multiset, every aggregate level sorted (KEYS,
//!   SMEMBERS, full SCAN iterations).
//! - `@timing`: the next reply is INFO text; the values that measure time (`usec=`,
//!   `usec_per_call=`, latency percentiles) are masked and each section's lines sorted (Redis
//!   prints commandstats in its hash table's order).
//! - `@slowlog`: the next reply is SLOWLOG GET's; each entry's id, time, duration and client
//!   address are masked (ids count every slow command since the server started).
//! - `@shape` (alias `@skip-if-nondeterministic`): compare only types and aggregate sizes (TIME).
//! - `@nocompare`: send to both, compare nothing (CLIENT ID).
//! - `@sleep MS`: pause both sides (expiry cases). `@reconnect`: fresh connections.
//! - `@closed`: both servers must have closed the connection (after QUIT); reconnects after.
//! - `@raw <quoted bytes>`: send bytes verbatim (inline commands) and compare one reply.
//! - `@other <command>`: run the command on a second connection of each side (another client
//!   writing a WATCHed key) and compare its reply.
//!
//! Each file starts on fresh connections after FLUSHALL, so files do not depend on each other.
//! Mismatches are collected, printed with file:line, and fail the test at the end.
//! `DIFF_CASES=strings,keyspace` runs only those files; `DIFF_AGAINST_REDIS=1` replaces
//! Damselfly by a second redis-server, which proves the cases deterministic.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{escape, RawConn, RedisServer, Target};

const TTL_TOLERANCE: i64 = 1;
const PTTL_TOLERANCE: i64 = 250;
const SLEEP_MS_MAX: u64 = 5_000;
const VALUE_DEPTH_MAX: usize = 32;

/// How the next reply pair is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compare {
    Exact,
    Approx(i64),
    Sorted,
    Shape,
    Timing,
    Slowlog,
    Nothing,
}

#[derive(Debug)]
enum Step {
    Cmd {
        args: Vec<Vec<u8>>,
        compare: Compare,
    },
    Raw {
        bytes: Vec<u8>,
        compare: Compare,
    },
    /// A command from a second client.
    Other {
        args: Vec<Vec<u8>>,
    },
    Resp3,
    Sleep(Duration),
    Reconnect,
    ExpectClosed,
}

#[derive(Debug)]
struct Line {
    number: usize,
    text: String,
    step: Step,
}

/// Splits a line like redis-cli (sdssplitargs): quotes, escapes, and nothing after a quote.
fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let mut arg = Vec::new();
        match bytes[i] {
            b'"' => i = read_double_quoted(bytes, i + 1, &mut arg)?,
            b'\'' => i = read_single_quoted(bytes, i + 1, &mut arg)?,
            _ => {
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    arg.push(bytes[i]);
                    i += 1;
                }
            }
        }
        if i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            return Err("closing quote must be followed by a space".into());
        }
        args.push(arg);
    }
    Ok(args)
}

/// Reads up to the closing `"`; returns the index after it.
fn read_double_quoted(bytes: &[u8], mut i: usize, arg: &mut Vec<u8>) -> Result<usize, String> {
    loop {
        match bytes.get(i) {
            None => return Err("unbalanced double quote".into()),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => {
                let esc = *bytes.get(i + 1).ok_or("dangling backslash")?;
                match esc {
                    b'x' => {
                        let hex = bytes.get(i + 2..i + 4).ok_or("short \\x escape")?;
                        let hex = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
                        arg.push(
                            u8::from_str_radix(hex, 16).map_err(|e| format!("\\x{hex}: {e}"))?,
                        );
                        i += 4;
                        continue;
                    }
                    b'n' => arg.push(b'\n'),
                    b'r' => arg.push(b'\r'),
                    b't' => arg.push(b'\t'),
                    b'b' => arg.push(0x08),
                    b'a' => arg.push(0x07),
                    other => arg.push(other),
                }
                i += 2;
            }
            Some(&b) => {
                arg.push(b);
                i += 1;
            }
        }
    }
}

fn read_single_quoted(bytes: &[u8], mut i: usize, arg: &mut Vec<u8>) -> Result<usize, String> {
    loop {
        match bytes.get(i) {
            None => return Err("unbalanced single quote".into()),
            Some(b'\'') => return Ok(i + 1),
            Some(b'\\') if bytes.get(i + 1) == Some(&b'\'') => {
                arg.push(b'\'');
                i += 2;
            }
            Some(&b) => {
                arg.push(b);
                i += 1;
            }
        }
    }
}

/// Parses a case file into steps; panics with file:line on a syntax error (a broken case file
/// is a bug in the suite, not in the server).
fn parse_case_file(path: &Path) -> Vec<Line> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = Vec::new();
    let mut compare = Compare::Exact;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fail = |why: &str| -> ! { panic!("{}:{number}: {why}: {trimmed}", path.display()) };
        let step = if let Some(directive) = trimmed.strip_prefix('@') {
            let (name, rest) = directive.split_once(' ').unwrap_or((directive, ""));
            match (name, rest.trim()) {
                ("resp3", "") => Step::Resp3,
                ("reconnect", "") => Step::Reconnect,
                ("closed", "") => Step::ExpectClosed,
                ("normalize", "ttl") => {
                    compare = Compare::Approx(TTL_TOLERANCE);
                    continue;
                }
                ("normalize", "pttl") => {
                    compare = Compare::Approx(PTTL_TOLERANCE);
                    continue;
                }
                ("approx", n) => {
                    compare = Compare::Approx(n.parse().unwrap_or_else(|_| fail("bad @approx")));
                    continue;
                }
                ("sort", "") => {
                    compare = Compare::Sorted;
                    continue;
                }
                ("shape" | "skip-if-nondeterministic", "") => {
                    compare = Compare::Shape;
                    continue;
                }
                ("slowlog", "") => {
                    compare = Compare::Slowlog;
                    continue;
                }
                ("timing", "") => {
                    compare = Compare::Timing;
                    continue;
                }
                ("nocompare", "") => {
                    compare = Compare::Nothing;
                    continue;
                }
                ("sleep", ms) => {
                    let ms: u64 = ms.parse().unwrap_or_else(|_| fail("bad @sleep"));
                    assert!(
                        ms <= SLEEP_MS_MAX,
                        "{}:{number}: @sleep over {SLEEP_MS_MAX}",
                        path.display()
                    );
                    Step::Sleep(Duration::from_millis(ms))
                }
                ("raw", bytes) => {
                    let mut parts = split_args(bytes).unwrap_or_else(|e| fail(&e));
                    if parts.len() != 1 {
                        fail("@raw takes one quoted argument");
                    }
                    let step = Step::Raw {
                        bytes: parts.remove(0),
                        compare,
                    };
                    compare = Compare::Exact;
                    step
                }
                ("other", command) => Step::Other {
                    args: split_args(command).unwrap_or_else(|e| fail(&e)),
                },
                _ => fail("unknown directive"),
            }
        } else {
            let args = split_args(trimmed).unwrap_or_else(|e| fail(&e));
            let step = Step::Cmd { args, compare };
            compare = Compare::Exact;
            step
        };
        lines.push(Line {
            number,
            text: trimmed.to_string(),
            step,
        });
    }
    lines
}

/// A parsed reply, for the comparisons that are not byte-exact.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Scalar(u8, Vec<u8>),
    Aggregate(u8, Vec<Value>),
}

/// Parses one reply (already known complete). Depth is bounded; the bytes come from our servers.
fn parse_value(buf: &[u8], pos: &mut usize, depth: usize) -> Option<Value> {
    if depth > VALUE_DEPTH_MAX {
        return None;
    }
    let kind = *buf.get(*pos)?;
    let end = *pos + buf.get(*pos..)?.windows(2).position(|w| w == b"\r\n")?;
    let line = buf.get(*pos + 1..end)?.to_vec();
    *pos = end + 2;
    let count = || std::str::from_utf8(&line).ok()?.parse::<i64>().ok();
    match kind {
        b'$' | b'!' | b'=' => {
            let len = count()?;
            if len < 0 {
                return Some(Value::Scalar(kind, line));
            }
            let body = buf.get(*pos..*pos + len as usize)?.to_vec();
            *pos += len as usize + 2;
            Some(Value::Scalar(kind, body))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = count()?;
            let n = if kind == b'%' || kind == b'|' {
                2 * n
            } else {
                n
            };
            let mut items = Vec::new();
            for _ in 0..n.max(0) {
                items.push(parse_value(buf, pos, depth + 1)?);
            }
            if n < 0 {
                return Some(Value::Scalar(kind, line));
            }
            Some(Value::Aggregate(kind, items))
        }
        _ => Some(Value::Scalar(kind, line)),
    }
}

fn value_of(reply: &[u8]) -> Option<Value> {
    let mut pos = 0;
    parse_value(reply, &mut pos, 0)
}

/// Sorts every aggregate; a map's (key, value) pairs are sorted as pairs.
fn canonical(v: Value) -> Value {
    match v {
        Value::Scalar(..) => v,
        Value::Aggregate(kind, items) => {
            let mut items: Vec<Value> = items.into_iter().map(canonical).collect();
            if kind == b'%' {
                let mut pairs: Vec<(Value, Value)> = Vec::new();
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                pairs.sort();
                items = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
            } else {
                items.sort();
            }
            Value::Aggregate(kind, items)
        }
    }
}

fn shape(v: &Value) -> String {
    match v {
        Value::Scalar(kind, _) => (*kind as char).to_string(),
        Value::Aggregate(kind, items) => {
            let inner: Vec<String> = items.iter().map(shape).collect();
            format!("{}{}[{}]", *kind as char, items.len(), inner.join(","))
        }
    }
}

fn integer_of(reply: &[u8]) -> Option<i64> {
    std::str::from_utf8(reply.strip_prefix(b":")?.strip_suffix(b"\r\n")?)
        .ok()?
        .parse()
        .ok()
}

fn replies_match(compare: Compare, expected: &[u8], actual: &[u8]) -> bool {
    if expected == actual {
        return true;
    }
    match compare {
        Compare::Exact => false,
        Compare::Nothing => true,
        Compare::Approx(tolerance) => match (integer_of(expected), integer_of(actual)) {
            (Some(a), Some(b)) => (a - b).abs() <= tolerance,
            _ => false,
        },
        Compare::Sorted => match (value_of(expected), value_of(actual)) {
            (Some(a), Some(b)) => canonical(a) == canonical(b),
            _ => false,
        },
        Compare::Shape => match (value_of(expected), value_of(actual)) {
            (Some(a), Some(b)) => shape(&a) == shape(&b),
            _ => false,
        },
        Compare::Slowlog => match (value_of(expected), value_of(actual)) {
            (Some(a), Some(b)) => without_slowlog_stamps(a) == without_slowlog_stamps(b),
            _ => false,
        },
        Compare::Timing => match (value_of(expected), value_of(actual)) {
            (Some(Value::Scalar(_, a)), Some(Value::Scalar(_, b))) => {
                without_timing(&a) == without_timing(&b)
            }
            _ => false,
        },
    }
}

/// SLOWLOG GET entries without their id, time, duration and client address.
fn without_slowlog_stamps(reply: Value) -> Value {
    let Value::Aggregate(kind, entries) = reply else {
        return reply;
    };
    let masked = entries
        .into_iter()
        .map(|entry| match entry {
            Value::Aggregate(k, mut fields) if fields.len() == 6 => {
                for i in [0, 1, 2, 4] {
                    fields[i] = Value::Scalar(b'*', Vec::new());
                }
                Value::Aggregate(k, fields)
            }
            other => other,
        })
        .collect();
    Value::Aggregate(kind, masked)
}

/// INFO text with the measured times masked and each section's lines sorted.
fn without_timing(info: &[u8]) -> Vec<Vec<String>> {
    let text = String::from_utf8_lossy(info);
    let mut sections: Vec<Vec<String>> = Vec::new();
    for line in text.split("\r\n") {
        if line.starts_with('#') || sections.is_empty() {
            sections.push(Vec::new());
        }
        let masked = line
            .split(',')
            .map(|field| match field.split_once('=') {
                Some((name, _)) if name.ends_with("usec") || name.ends_with("usec_per_call") => {
                    format!("{name}=*")
                }
                Some((name, _)) if name.contains(":p") || name.starts_with('p') => {
                    format!("{name}=*")
                }
                _ => field.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",");
        sections.last_mut().expect("pushed above").push(masked);
    }
    for section in &mut sections {
        section.sort();
    }
    sections
}

/// One side of the comparison: a server and a connection to it.
struct Side {
    name: &'static str,
    port: u16,
    conn: Option<RawConn>,
    /// The second client of `@other`, opened on first use.
    other: Option<RawConn>,
}

impl Side {
    fn reconnect(&mut self) {
        self.conn = RawConn::connect_with_timeout(self.port, support::IO_TIMEOUT).ok();
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        match self.conn.as_mut() {
            None => Err(format!("<{}: not connected>", self.name)),
            Some(c) => c.try_send(bytes).map_err(|e| format!("<send error: {e}>")),
        }
    }

    fn read(&mut self) -> Result<Vec<u8>, String> {
        match self.conn.as_mut() {
            None => Err(format!("<{}: not connected>", self.name)),
            Some(c) => c.try_read_reply().map_err(|e| format!("<read error: {e}>")),
        }
    }
}

struct Tally {
    compared: usize,
    mismatches: usize,
    report: String,
}

impl Tally {
    fn mismatch(&mut self, file: &str, line: &Line, why: &str, expected: &str, actual: &str) {
        use std::fmt::Write as _;
        self.mismatches += 1;
        let _ = writeln!(
            self.report,
            "MISMATCH {file}:{}: {}{why}\n    redis:     {expected}\n    {:<10} {actual}",
            line.number, line.text, "target:"
        );
    }
}

fn show(r: &Result<Vec<u8>, String>) -> String {
    match r {
        Ok(bytes) => escape(bytes),
        Err(e) => e.clone(),
    }
}

/// Sends the same bytes to both sides and judges the replies.
fn exchange(
    sides: &mut [Side; 2],
    bytes: &[u8],
    compare: Compare,
    file: &str,
    line: &Line,
    tally: &mut Tally,
) {
    let sent: Vec<Result<(), String>> = sides.iter_mut().map(|s| s.send(bytes)).collect();
    let mut replies = Vec::new();
    for (side, sent) in sides.iter_mut().zip(sent) {
        replies.push(sent.and_then(|()| side.read()));
    }
    tally.compared += 1;
    let ok = match (&replies[0], &replies[1]) {
        (Ok(a), Ok(b)) => replies_match(compare, a, b),
        _ => false,
    };
    if !ok {
        let why = if compare == Compare::Exact {
            String::new()
        } else {
            format!("  [{compare:?}]")
        };
        tally.mismatch(file, line, &why, &show(&replies[0]), &show(&replies[1]));
    }
    for (side, reply) in sides.iter_mut().zip(&replies) {
        if reply.is_err() {
            side.reconnect();
        }
    }
}

/// Runs one case file; Err when a server cannot even be flushed (it died): stop the run.
fn run_file(path: &Path, sides: &mut [Side; 2], tally: &mut Tally) -> Result<(), String> {
    let file = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let lines = parse_case_file(path);
    for side in sides.iter_mut() {
        side.reconnect();
        let flushed = side
            .send(&support::encode_cmd(&[b"FLUSHALL"]))
            .and_then(|()| side.read());
        if !matches!(&flushed, Ok(r) if r == b"+OK\r\n") {
            let why = format!("FLUSHALL on {} failed: {}", side.name, show(&flushed));
            return Err(format!("{file}: {why}"));
        }
    }
    for line in &lines {
        match &line.step {
            Step::Cmd { args, compare } => {
                let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                exchange(
                    sides,
                    &support::encode_cmd(&refs),
                    *compare,
                    &file,
                    line,
                    tally,
                );
            }
            Step::Raw { bytes, compare } => exchange(sides, bytes, *compare, &file, line, tally),
            Step::Other { args } => {
                for side in sides.iter_mut() {
                    if side.other.is_none() {
                        side.other =
                            RawConn::connect_with_timeout(side.port, support::IO_TIMEOUT).ok();
                    }
                    std::mem::swap(&mut side.conn, &mut side.other);
                }
                let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                let request = support::encode_cmd(&refs);
                exchange(sides, &request, Compare::Exact, &file, line, tally);
                for side in sides.iter_mut() {
                    std::mem::swap(&mut side.conn, &mut side.other);
                }
            }
            Step::Resp3 => {
                for side in sides.iter_mut() {
                    let r = side
                        .send(&support::encode_cmd(&[b"HELLO", b"3"]))
                        .and_then(|()| side.read());
                    if !matches!(&r, Ok(bytes) if bytes.starts_with(b"%")) {
                        tally.mismatch(
                            &file,
                            line,
                            "",
                            "<a RESP3 map>",
                            &format!("{}: {}", side.name, show(&r)),
                        );
                    }
                }
            }
            Step::Sleep(d) => std::thread::sleep(*d),
            Step::Reconnect => sides.iter_mut().for_each(Side::reconnect),
            Step::ExpectClosed => {
                tally.compared += 1;
                let closed: Vec<bool> = sides
                    .iter_mut()
                    .map(|s| s.conn.as_mut().is_none_or(|c| c.is_closed()))
                    .collect();
                if closed != [true, true] {
                    tally.mismatch(
                        &file,
                        line,
                        "",
                        &format!("closed={}", closed[0]),
                        &format!("closed={}", closed[1]),
                    );
                }
                sides.iter_mut().for_each(Side::reconnect);
            }
        }
    }
    eprintln!("differential: {file}: {} lines", lines.len());
    Ok(())
}

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let filter: Option<Vec<String>> = std::env::var("DIFF_CASES")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    // cases/pending/ holds cases for features not built yet: they run only redis-vs-redis
    // (or with DIFF_PENDING=1), so they stay valid until they move back.
    let with_pending = std::env::var_os("DIFF_AGAINST_REDIS").is_some()
        || std::env::var_os("DIFF_PENDING").is_some();
    let mut dirs = vec![dir.clone()];
    if with_pending {
        dirs.push(dir.join("pending"));
    }
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap_or_else(|e| panic!("{}: {e}", d.display())))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .filter(|p| {
            let stem = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            filter.as_ref().is_none_or(|f| f.contains(&stem))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn differential_cases() {
    let files = case_files();
    assert!(!files.is_empty(), "no case files selected");
    let reference = RedisServer::start_with(&["--enable-debug-command", "yes"]);
    let target = Target::under_test(&[]);
    let mut sides = [
        Side {
            name: "redis",
            port: reference.port(),
            conn: None,
            other: None,
        },
        Side {
            name: target.name(),
            port: target.port(),
            conn: None,
            other: None,
        },
    ];
    let mut tally = Tally {
        compared: 0,
        mismatches: 0,
        report: String::new(),
    };
    let mut aborted = None;
    for path in &files {
        if let Err(why) = run_file(path, &mut sides, &mut tally) {
            aborted = Some(why);
            break;
        }
    }
    eprint!("{}", tally.report);
    if let Some(why) = aborted {
        panic!("differential run aborted: {why}\n{}", target.output());
    }
    let summary = format!(
        "differential: {} commands compared, {} mismatches ({} files, redis vs {})",
        tally.compared,
        tally.mismatches,
        files.len(),
        target.name()
    );
    println!("{summary}");
    if tally.mismatches > 0 {
        eprintln!("{}", target.output());
    }
    assert_eq!(tally.mismatches, 0, "{summary}");
}

#[test]
fn case_syntax_parses() {
    assert_eq!(
        split_args(r#"SET "a b" 'c d' e"#).unwrap(),
        vec![
            b"SET".to_vec(),
            b"a b".to_vec(),
            b"c d".to_vec(),
            b"e".to_vec()
        ]
    );
    assert_eq!(
        split_args(r#""\x00\xff\r\n""#).unwrap(),
        vec![vec![0u8, 0xff, b'\r', b'\n']]
    );
    assert!(split_args(r#""unbalanced"#).is_err());
    assert!(split_args(r#""a"b"#).is_err());
    for path in case_files() {
        parse_case_file(&path);
    }
}

#[test]
fn comparisons_behave() {
    assert!(replies_match(Compare::Approx(1), b":10\r\n", b":9\r\n"));
    assert!(!replies_match(Compare::Approx(1), b":10\r\n", b":8\r\n"));
    assert!(replies_match(
        Compare::Sorted,
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        b"*2\r\n$1\r\nb\r\n$1\r\na\r\n"
    ));
    assert!(!replies_match(
        Compare::Sorted,
        b"*2\r\n$1\r\na\r\n$1\r\na\r\n",
        b"*2\r\n$1\r\nb\r\n$1\r\na\r\n"
    ));
    assert!(replies_match(
        Compare::Shape,
        b"*2\r\n$2\r\n10\r\n$1\r\n5\r\n",
        b"*2\r\n$3\r\n100\r\n$2\r\n77\r\n"
    ));
    assert!(!replies_match(Compare::Shape, b":1\r\n", b"$1\r\n1\r\n"));
    assert_eq!(
        support::reply_len(b"*2\r\n*1\r\n:1\r\n$3\r\nabc\r\nrest"),
        Ok(Some(21))
    );
    assert_eq!(support::reply_len(b"*2\r\n*1\r\n:1\r\n$3\r\nab"), Ok(None));
    assert_eq!(support::reply_len(b"%1\r\n+a\r\n_\r\n"), Ok(Some(11)));
    assert_eq!(
        support::reply_len(b"|1\r\n+k\r\n+v\r\n:1\r\n"),
        Ok(Some(16))
    );
    assert_eq!(support::reply_len(b"$-1\r\n*-1\r\n"), Ok(Some(5)));
}
