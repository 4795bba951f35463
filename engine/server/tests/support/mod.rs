//! Test support shared by the integration tests of `damselfly-server`.
//!
//! Three pieces:
//! - `RedisServer`: a Debian `redis-server` 7.0 on a free loopback port, the reference.
//! - `Damselfly`: the binary under test, on a free loopback port.
//! - `RawConn`: a raw RESP client that returns the exact bytes of one reply, so tests can compare
//!   both servers byte for byte.
//!
//! `Target::under_test` returns Damselfly, or a second redis-server when `DIFF_AGAINST_REDIS=1`:
//! that mode proves a harness (and its cases) deterministic before Damselfly exists.
//!
//! Every server is killed by PID on Drop. When `DAMSELFLY_TEST_PIDDIR` is set (`.ci/run` sets
//! it), each spawned PID is also recorded there so a killed test binary leaves no orphan behind.
//! Every wait is bounded in time; only loopback addresses are used.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const LOOPBACK: &str = "127.0.0.1";
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
const SPAWN_ATTEMPTS_MAX: u32 = 3;
/// Largest aggregate count the reply parser accepts; our servers never send more in tests.
const REPLY_ELEMENTS_MAX: i64 = 1 << 24;
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// True when the harness should compare redis-server against a second redis-server.
pub fn against_redis() -> bool {
    std::env::var("DIFF_AGAINST_REDIS").is_ok_and(|v| v == "1")
}

/// A loopback port that was free a moment ago: bind port 0, read the port, release it.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((LOOPBACK, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

fn log_path(name: &str, port: u16) -> PathBuf {
    std::env::temp_dir().join(format!(
        "damselfly-test-{name}-{}-{port}.log",
        std::process::id()
    ))
}

fn pid_dir() -> Option<PathBuf> {
    std::env::var_os("DAMSELFLY_TEST_PIDDIR").map(PathBuf::from)
}

/// A spawned server process: killed and reaped on Drop, its log file removed.
struct Proc {
    child: Child,
    port: u16,
    log: PathBuf,
    name: &'static str,
}

impl Proc {
    /// Spawns `program args`, then waits until PING answers on `port`.
    /// Returns Err(log text) when the process exits or never answers.
    fn spawn(
        name: &'static str,
        program: &str,
        args: &[String],
        port: u16,
    ) -> Result<Proc, String> {
        let log = log_path(name, port);
        let log_file = std::fs::File::create(&log).expect("create server log file");
        let log_err = log_file.try_clone().expect("clone log file handle");
        let child = match Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => panic!(
                "`{program}` was not found in PATH. The tests need Debian's redis-server 7.0 \
                 and redis-tools: `apt-get install -y redis-server redis-tools` (.ci/run does it)"
            ),
            Err(e) => panic!("spawning {program}: {e}"),
        };
        if let Some(dir) = pid_dir() {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(child.id().to_string()), name);
        }
        let mut proc = Proc {
            child,
            port,
            log,
            name,
        };
        let cmdline = format!("{program} {}", args.join(" "));
        proc.wait_ready()
            .map_err(|why| format!("`{cmdline}`: {why}"))?;
        Ok(proc)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited early with {status}\n{}",
                    self.name,
                    self.log_text()
                ));
            }
            match answering_server(self.port) {
                Answer::Nobody => {}
                Answer::Pid(pid) if pid != self.child.id() => {
                    // The free port was taken by another test's server between our probe and
                    // our child's bind: that server answers, and ours will exit. Try another port.
                    return Err(format!(
                        "port {} answers as pid {pid}, not our {} (pid {})",
                        self.port,
                        self.name,
                        self.child.id()
                    ));
                }
                Answer::Pid(_) => return Ok(()),
                // Behind a password INFO is refused; our child still running means it bound the
                // port (a server that cannot bind exits at once).
                Answer::Unidentified => {
                    std::thread::sleep(Duration::from_millis(100));
                    if matches!(self.child.try_wait(), Ok(None)) {
                        return Ok(());
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not answer PING on port {} within {:?}\n{}",
                    self.name,
                    self.port,
                    STARTUP_TIMEOUT,
                    self.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_text(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!(
            "---- {} output, port {} ----\n{text}---- end ----",
            self.name, self.port
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = self.child.id();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
        if let Some(dir) = pid_dir() {
            let _ = std::fs::remove_file(dir.join(pid.to_string()));
        }
    }
}

/// Who answers on a port: identified by INFO's `process_id`, because a free port can be taken by
/// another test's server before our child binds it (and a connect to a port nobody listens on can
/// even connect to itself).
enum Answer {
    Nobody,
    Pid(u32),
    Unidentified,
}

fn answering_server(port: u16) -> Answer {
    let Ok(mut conn) = RawConn::connect_with_timeout(port, Duration::from_millis(500)) else {
        return Answer::Nobody;
    };
    let Ok(reply) = conn.try_cmd(&[b"INFO", b"server"]) else {
        return Answer::Nobody;
    };
    let text = String::from_utf8_lossy(&reply);
    if text.starts_with("-NOAUTH") {
        return Answer::Unidentified;
    }
    match text
        .lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
    {
        Some(pid) => Answer::Pid(pid),
        None => Answer::Nobody,
    }
}

/// Spawns with retries: the free port may be taken between release and bind.
fn spawn_retrying(
    name: &'static str,
    program: &str,
    make_args: impl Fn(u16) -> Vec<String>,
) -> Proc {
    let mut errors = String::new();
    for attempt in 1..=SPAWN_ATTEMPTS_MAX {
        let port = free_port();
        match Proc::spawn(name, program, &make_args(port), port) {
            Ok(proc) => return proc,
            Err(text) => {
                let _ = writeln!(errors, "attempt {attempt}: {text}");
            }
        }
    }
    panic!("could not start {name} after {SPAWN_ATTEMPTS_MAX} attempts:\n{errors}");
}

/// The reference: Debian's redis-server 7.0, persistence off.
pub struct RedisServer {
    proc: Proc,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// `extra` are redis-server flags, e.g. `["--requirepass", "pw"]`.
    pub fn start_with(extra: &[&str]) -> RedisServer {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let proc = spawn_retrying("redis-server", "redis-server", |port| {
            let mut args: Vec<String> = [
                "--port",
                &port.to_string(),
                "--bind",
                LOOPBACK,
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                &std::env::temp_dir().to_string_lossy(),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend(extra.iter().cloned());
            args
        });
        RedisServer { proc }
    }

    pub fn port(&self) -> u16 {
        self.proc.port
    }

    pub fn pid(&self) -> u32 {
        self.proc.child.id()
    }

    pub fn conn(&self) -> RawConn {
        RawConn::connect(self.port())
    }
}

/// The binary under test.
pub struct Damselfly {
    proc: Proc,
}

impl Damselfly {
    /// Spawns `damselfly --port P --bind 127.0.0.1 <args>`; panics with its output on failure.
    pub fn start(args: &[&str]) -> Damselfly {
        let extra: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let proc = spawn_retrying("damselfly", env!("CARGO_BIN_EXE_damselfly"), |port| {
            let mut all = vec![
                "--port".to_string(),
                port.to_string(),
                "--bind".into(),
                LOOPBACK.into(),
            ];
            // Two threads unless the test says otherwise, so keys spread over shards whatever
            // the machine's default (one thread on two cores or fewer).
            if !extra.iter().any(|a| a.starts_with("--proactor_threads")) {
                all.extend(["--proactor_threads".to_string(), "2".to_string()]);
            }
            // No save schedule and a scratch directory unless the test says otherwise: a test
            // never saves into, or loads a stray dump.rdb from, the source tree.
            if !extra.iter().any(|a| a.starts_with("--save")) {
                all.extend(["--save".to_string(), String::new()]);
            }
            if !extra.iter().any(|a| a.starts_with("--dir")) {
                let dir = scratch_path("dir");
                std::fs::create_dir_all(&dir).expect("a scratch dir");
                all.extend(["--dir".to_string(), dir.to_string_lossy().into_owned()]);
            }
            all.extend(extra.iter().cloned());
            all
        });
        Damselfly { proc }
    }

    pub fn port(&self) -> u16 {
        self.proc.port
    }

    pub fn pid(&self) -> u32 {
        self.proc.child.id()
    }

    pub fn conn(&self) -> RawConn {
        RawConn::connect(self.port())
    }

    /// What the server printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.proc.log_text()
    }

    /// The exit status if the process ends within `wait` (polled; bounded).
    pub fn exit_within(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + wait;
        loop {
            if let Ok(Some(status)) = self.proc.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The server a test judges: Damselfly, or redis-server under `DIFF_AGAINST_REDIS=1`.
pub enum Target {
    Damselfly(Damselfly),
    Redis(RedisServer),
}

impl Target {
    /// `args` are Damselfly flags; in redis mode they are translated to redis-server's names.
    pub fn under_test(args: &[&str]) -> Target {
        if against_redis() {
            Target::Redis(RedisServer::start_with(&redis_flags(args)))
        } else {
            Target::Damselfly(Damselfly::start(args))
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Target::Damselfly(_) => "damselfly",
            Target::Redis(_) => "redis(2nd)",
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            Target::Damselfly(d) => d.port(),
            Target::Redis(r) => r.port(),
        }
    }

    pub fn pid(&self) -> u32 {
        match self {
            Target::Damselfly(d) => d.pid(),
            Target::Redis(r) => r.pid(),
        }
    }

    pub fn conn(&self) -> RawConn {
        RawConn::connect(self.port())
    }

    /// What the server printed so far (stdout and stderr), for failure reports.
    pub fn output(&self) -> String {
        match self {
            Target::Damselfly(d) => d.proc.log_text(),
            Target::Redis(r) => r.proc.log_text(),
        }
    }

    pub fn is_redis(&self) -> bool {
        matches!(self, Target::Redis(_))
    }
}

/// Damselfly flag names to redis-server's; flags redis has no twin for are dropped.
fn redis_flags<'a>(args: &[&'a str]) -> Vec<&'a str> {
    // Damselfly always answers DEBUG; its redis twin must too.
    let mut out = vec!["--enable-debug-command", "yes"];
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).copied().unwrap_or("");
        match args[i] {
            "--requirepass" => out.extend(["--requirepass", value]),
            "--dbnum" => out.extend(["--databases", value]),
            "--maxclients" => out.extend(["--maxclients", value]),
            _ => {} // --proactor_threads and friends have no redis twin.
        }
        i += 2;
    }
    out
}

/// Resident set size of a process in KiB, from /proc/<pid>/status.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Encodes a command as a RESP multibulk request.
pub fn encode_cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Bytes as a printable, escaped string: `+OK\r\n` prints as `"+OK\r\n"`.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    s
}

/// Why a buffer does not hold a reply.
#[derive(Debug, PartialEq, Eq)]
pub enum ReplyError {
    Malformed(String),
}

/// Length in bytes of the first complete RESP2/RESP3 reply in `buf`; Ok(None) if incomplete.
///
/// Iterative: `pending` counts the values still owed, so nesting depth costs nothing and a hostile
/// reply cannot overflow the stack. An attribute (`|`) owes its pairs plus the value it annotates.
pub fn reply_len(buf: &[u8]) -> Result<Option<usize>, ReplyError> {
    let mut pos = 0usize;
    let mut pending: i64 = 1;
    while pending > 0 {
        let Some(line_end) = find_crlf(buf, pos) else {
            return Ok(None);
        };
        let Some(&kind) = buf.get(pos) else {
            return Ok(None);
        };
        let line = &buf[pos + 1..line_end];
        pos = line_end + 2;
        pending -= 1;
        match kind {
            b'+' | b'-' | b':' | b',' | b'_' | b'#' | b'(' => {}
            b'$' | b'!' | b'=' => {
                let len = parse_len(line)?;
                if len >= 0 {
                    let end = pos + len as usize;
                    if buf.len() < end + 2 {
                        return Ok(None);
                    }
                    if &buf[end..end + 2] != b"\r\n" {
                        return Err(ReplyError::Malformed(format!(
                            "blob not ended by CRLF at {end}"
                        )));
                    }
                    pos = end + 2;
                }
            }
            b'*' | b'~' | b'>' => pending += parse_count(line)?,
            b'%' => pending += 2 * parse_count(line)?,
            b'|' => pending += 2 * parse_count(line)? + 1,
            other => {
                return Err(ReplyError::Malformed(format!(
                    "unknown type byte {other:#04x}"
                )))
            }
        }
    }
    Ok(Some(pos))
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

fn parse_len(line: &[u8]) -> Result<i64, ReplyError> {
    let n: i64 = std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ReplyError::Malformed(format!("bad length {}", escape(line))))?;
    if n < -1 {
        return Err(ReplyError::Malformed(format!("negative length {n}")));
    }
    Ok(n)
}

fn parse_count(line: &[u8]) -> Result<i64, ReplyError> {
    let n = parse_len(line)?;
    if n > REPLY_ELEMENTS_MAX {
        return Err(ReplyError::Malformed(format!("aggregate of {n} elements")));
    }
    Ok(n.max(0))
}

/// A raw RESP connection: bytes in, exact reply bytes out.
pub struct RawConn {
    stream: TcpStream,
    /// Bytes read from the socket but not yet returned as a reply.
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        RawConn::connect_with_timeout(port, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"))
    }

    pub fn connect_with_timeout(port: u16, timeout: Duration) -> io::Result<RawConn> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(RawConn {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .unwrap_or_else(|e| panic!("send {}: {e}", escape(bytes)));
    }

    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends one command and returns the raw bytes of its reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.try_cmd(args)
            .unwrap_or_else(|e| panic!("command {}: {e}", show_args(args)))
    }

    pub fn try_cmd(&mut self, args: &[&[u8]]) -> io::Result<Vec<u8>> {
        self.try_send(&encode_cmd(args))?;
        self.try_read_reply()
    }

    /// Convenience for string arguments: `conn.cmd_str(&["SET", "k", "v"])`.
    pub fn cmd_str(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.cmd(&args)
    }

    pub fn read_reply(&mut self) -> Vec<u8> {
        self.try_read_reply()
            .unwrap_or_else(|e| panic!("read reply: {e}"))
    }

    /// Reads exactly one complete reply (nested aggregates included) within the read timeout.
    pub fn try_read_reply(&mut self) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            match reply_len(&self.buf) {
                Ok(Some(len)) => return Ok(self.buf.drain(..len).collect()),
                Ok(None) => {}
                Err(ReplyError::Malformed(why)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("malformed reply ({why}): {}", escape(&self.buf)),
                    ))
                }
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no complete reply within {IO_TIMEOUT:?}; have {}",
                        escape(&self.buf)
                    ),
                ));
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("connection closed; have {}", escape(&self.buf)),
                ));
            }
        }
    }

    /// One read into the buffer; Ok(0) means the peer closed.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = vec![0u8; READ_CHUNK_BYTES];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Everything the server sends until it closes or stays quiet for `idle`, at most `total`.
    /// Returns the bytes (including any already buffered) and whether the server closed.
    pub fn read_until_idle(&mut self, idle: Duration, total: Duration) -> (Vec<u8>, bool) {
        let deadline = Instant::now() + total;
        let _ = self.stream.set_read_timeout(Some(idle));
        let mut closed = false;
        while Instant::now() < deadline {
            match self.fill() {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        let _ = self.stream.set_read_timeout(Some(IO_TIMEOUT));
        (std::mem::take(&mut self.buf), closed)
    }

    /// True if the server closes the connection within 2 s. Bytes that arrive first are kept.
    pub fn is_closed(&mut self) -> bool {
        self.closed_within(Duration::from_secs(2))
    }

    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(50)));
        let mut closed = false;
        while Instant::now() < deadline {
            match self.fill() {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        let _ = self.stream.set_read_timeout(Some(IO_TIMEOUT));
        closed
    }

    /// Bytes received but not yet returned.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }
}

pub fn show_args(args: &[&[u8]]) -> String {
    args.iter().map(|a| escape(a)).collect::<Vec<_>>().join(" ")
}

/// A tiny deterministic PRNG (xorshift64*) so tests need no extra dependency.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A unique scratch file path in the temp dir.
fn scratch_path(what: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("damselfly-test-{what}-{}-{n}", std::process::id()))
}

/// Runs `cmd` with a time limit, killing it past `limit`; returns (success, stdout, stderr).
pub fn run_with_timeout(
    cmd: &mut Command,
    limit: Duration,
    stdin: Option<&[u8]>,
) -> (bool, String, String) {
    let stdin_file = stdin.map(|bytes| {
        let path = scratch_path("stdin");
        std::fs::write(&path, bytes).expect("write stdin file");
        path
    });
    let out_path = scratch_path("stdout");
    let err_path = scratch_path("stderr");
    cmd.stdout(std::fs::File::create(&out_path).expect("stdout file"));
    cmd.stderr(std::fs::File::create(&err_path).expect("stderr file"));
    match &stdin_file {
        Some(path) => cmd.stdin(std::fs::File::open(path).expect("stdin file")),
        None => cmd.stdin(Stdio::null()),
    };
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let mut stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    if let Some(path) = stdin_file {
        let _ = std::fs::remove_file(path);
    }
    if status.is_none() {
        stderr.push_str(&format!("\n[killed after {limit:?}]"));
    }
    (status.is_some_and(|s| s.success()), stdout, stderr)
}
