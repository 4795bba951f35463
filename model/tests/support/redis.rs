//! A real redis-server for tests: started on a free loopback port, stopped by PID on drop
//! (also when the test panics), and a blocking RESP connection that returns raw reply bytes.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long we wait for a fresh server to accept connections.
const STARTUP_WAIT_MAX: Duration = Duration::from_secs(10);
/// Fresh ports to try when another server took ours first.
const SPAWN_ATTEMPTS_MAX: u32 = 3;

/// A running redis-server child; killed and reaped when dropped.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    /// Starts `redis-server` with no persistence. Panics with a clear message if the binary is
    /// missing: CI installs it, and a silently skipped oracle would prove nothing.
    pub fn start() -> RedisServer {
        let mut why = String::new();
        for _ in 0..SPAWN_ATTEMPTS_MAX {
            match RedisServer::try_start() {
                Ok(server) => return server,
                Err(text) => why = text,
            }
        }
        panic!("redis-server did not start in {SPAWN_ATTEMPTS_MAX} attempts: {why}");
    }

    fn try_start() -> Result<RedisServer, String> {
        let port = free_port();
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot start `redis-server` ({e}). The model is checked against a real Redis \
                 7.0: install it (Debian: `apt-get install redis-server`) and put it on PATH."
            ),
        };
        let mut server = RedisServer { child, port };
        server.wait_ready()?;
        Ok(server)
    }

    /// Waits until our child answers on the port. The answer is identified by INFO's
    /// `process_id`: the free port can be taken by another test's server before our child binds
    /// it, and then that server answers while ours exits.
    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < STARTUP_WAIT_MAX {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status} (port {})", self.port));
            }
            // A reset or a short answer (a server on its way out, a socket connected to itself)
            // identifies nobody yet: look again.
            if let Some(pid) = self
                .try_connect()
                .ok()
                .and_then(|mut conn| conn.server_pid())
            {
                if pid == self.child.id() {
                    return Ok(());
                }
                return Err(format!("port {} answers as pid {pid}", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("no answer on port {}", self.port))
    }

    fn try_connect(&self) -> std::io::Result<RespConn> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(RespConn {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// A new client connection.
    pub fn connect(&self) -> RespConn {
        self.try_connect().expect("connect to redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Kill by our child's PID only, then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago (bind to port 0, read it, release it).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// One RESP client connection.
pub struct RespConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RespConn {
    /// INFO server's `process_id`, or None on any error (the INFO reply is one bulk string).
    fn server_pid(&mut self) -> Option<u32> {
        use std::io::Read;
        self.writer
            .write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
            .ok()?;
        let mut line = String::new();
        self.reader.read_line(&mut line).ok()?;
        let len: usize = line.trim_end().strip_prefix('$')?.parse().ok()?;
        let mut body = vec![0; len + 2];
        self.reader.read_exact(&mut body).ok()?;
        String::from_utf8_lossy(&body)
            .lines()
            .find_map(|l| l.strip_prefix("process_id:"))
            .and_then(|pid| pid.trim().parse().ok())
    }

    /// Sends `argv` as a RESP multibulk and returns the raw bytes of the one reply.
    pub fn call(&mut self, argv: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", argv.len()).into_bytes();
        for arg in argv {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&out).expect("write to redis-server");
        let mut raw = Vec::new();
        read_reply(&mut self.reader, &mut raw);
        raw
    }
}

/// Reads one complete RESP2/RESP3 reply, appending its exact bytes to `raw`.
fn read_reply(r: &mut impl BufRead, raw: &mut Vec<u8>) {
    let start = raw.len();
    r.read_until(b'\n', raw).expect("read reply line");
    assert!(
        raw.ends_with(b"\r\n"),
        "truncated reply: {:?}",
        String::from_utf8_lossy(raw)
    );
    let line = &raw[start..raw.len() - 2];
    let count = || -> i64 { std::str::from_utf8(&line[1..]).unwrap().parse().unwrap() };
    match line[0] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {}
        b'$' | b'=' | b'!' => {
            let n = count();
            if n >= 0 {
                let mut body = vec![0; n as usize + 2];
                r.read_exact(&mut body).expect("read bulk body");
                raw.extend_from_slice(&body);
            }
        }
        b'*' | b'~' | b'>' => (0..count().max(0)).for_each(|_| read_reply(r, raw)),
        b'%' | b'|' => (0..2 * count().max(0)).for_each(|_| read_reply(r, raw)),
        other => panic!("unexpected RESP type byte {:?}", other as char),
    }
}

/// A parsed reply, for the few comparisons that cannot be byte-for-byte.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
pub enum Node {
    Line(Vec<u8>),
    Agg(u8, Vec<Node>),
}

/// Parses raw reply bytes into a `Node` tree (bulk strings keep their `$n` header).
pub fn parse(raw: &[u8]) -> Node {
    let mut reader = raw;
    let node = parse_one(&mut reader);
    assert!(reader.is_empty(), "trailing bytes after a reply");
    node
}

fn parse_one(r: &mut &[u8]) -> Node {
    let mut one = Vec::new();
    let end = r.iter().position(|&b| b == b'\n').expect("line end") + 1;
    let (line, rest) = r.split_at(end);
    *r = rest;
    match line[0] {
        b'*' | b'~' | b'%' => {
            let n: i64 = std::str::from_utf8(&line[1..line.len() - 2])
                .unwrap()
                .parse()
                .unwrap();
            let items = if line[0] == b'%' { 2 * n } else { n };
            let children = (0..items.max(0)).map(|_| parse_one(r)).collect();
            Node::Agg(line[0], children)
        }
        _ => {
            one.extend_from_slice(line);
            let mut rest_reader = *r;
            if line[0] == b'$' && line[1] != b'-' {
                let n: usize = std::str::from_utf8(&line[1..line.len() - 2])
                    .unwrap()
                    .parse()
                    .unwrap();
                one.extend_from_slice(&rest_reader[..n + 2]);
                rest_reader = &rest_reader[n + 2..];
            }
            *r = rest_reader;
            Node::Line(one)
        }
    }
}

/// The raw bytes of each element of an array reply (`*n`), or `None` for anything else.
pub fn split_array(raw: &[u8]) -> Option<Vec<Vec<u8>>> {
    let header_end = raw.iter().position(|&b| b == b'\n')? + 1;
    let header = std::str::from_utf8(raw.strip_prefix(b"*")?.get(..header_end - 3)?).ok()?;
    let n: usize = header.parse().ok()?; // a null array (`*-1`) is not split
    let mut rest = &raw[header_end..];
    let mut items = Vec::new();
    for _ in 0..n {
        let mut item = Vec::new();
        read_reply(&mut rest, &mut item);
        items.push(item);
    }
    Some(items)
}

/// The integer of an `:n` reply, if it is one.
pub fn as_int(raw: &[u8]) -> Option<i64> {
    let text = raw.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
    std::str::from_utf8(text).ok()?.parse().ok()
}
