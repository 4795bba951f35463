//! Memcached text protocol, side by side: Damselfly's `--memcached_port` against memcached
//! (`-t 1` unless told otherwise), the same load in one run.
//!
//! The load: `--conns` connections, each a thread with a blocking socket that sends
//! `--pipeline` requests, then reads their replies, for `--seconds`; SET then GET of
//! `--value-bytes` values over `--keys` keys spread uniformly (a fixed-seed xorshift per
//! connection). Reported: ops/s, and ops per server CPU-second (from /proc). Then memory: RSS
//! growth over `--memory-keys` keys of 16 bytes, stored with pipelined `noreply` sets, divided
//! by the key count.
//!
//! `cargo run --release -p benches --bin memcache -- --damselfly-bin target/release/damselfly`

// A driver, not engine code: threads, sockets and the clock are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::args::{self, flag, Args, Flag, DAMSELFLY_BIN};
use benches::procfs::{cpu_seconds, rss_bytes};
use benches::server::free_port;

const FLAGS: &[Flag] = &[
    DAMSELFLY_BIN,
    flag(
        "memcached-bin",
        true,
        "memcached binary (default: memcached)",
    ),
    flag("threads", true, "server threads for both (default 1)"),
    flag("conns", true, "client connections (default 50)"),
    flag(
        "pipeline",
        true,
        "requests in flight per connection (default 1)",
    ),
    flag("seconds", true, "seconds per workload (default 5)"),
    flag("keys", true, "key space (default 100000)"),
    flag("value-bytes", true, "value size (default 256)"),
    flag(
        "memory-keys",
        true,
        "keys for the memory figure, 0: skip (default 1000000)",
    ),
];

const READY_TIME_MAX: Duration = Duration::from_secs(10);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Sets per write while loading the memory figure's keys.
const LOAD_BATCH: usize = 1000;

struct Load {
    conns: usize,
    pipeline: usize,
    seconds: f64,
    keys: u64,
    value_bytes: usize,
}

/// A server under test, stopped (SIGKILL, then reaped) on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(name: &'static str, bin: &PathBuf, threads: u16) -> Result<Server, String> {
    let port = free_port()?;
    let mut cmd = Command::new(bin);
    if name == "memcached" {
        // 1 GiB of cache: the memory figure's keys must all fit; -u matters only for root.
        cmd.args([
            "-u",
            "root",
            "-l",
            "127.0.0.1",
            "-U",
            "0",
            "-m",
            "1024",
            "-c",
            "4096",
        ])
        .args(["-t", &threads.to_string(), "-p", &port.to_string()]);
    } else {
        let resp_port = free_port()?;
        cmd.args(["--bind", "127.0.0.1", "--port", &resp_port.to_string()])
            .args(["--proactor_threads", &threads.to_string()])
            .args(["--memcached_port", &port.to_string()]);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let server = Server { child, port };
    let deadline = Instant::now() + READY_TIME_MAX;
    while Instant::now() < deadline {
        if let Ok(mut conn) = connect(port) {
            if conn.write_all(b"version\r\n").is_ok() && read_lines(&mut conn, 1).is_ok() {
                return Ok(server);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("{name} did not answer on port {port}"))
}

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// Reads until `lines` reply terminators (STORED or END lines) have arrived.
fn read_lines(conn: &mut TcpStream, lines: usize) -> std::io::Result<()> {
    read_terminators(conn, lines, &mut Vec::new())
}

fn read_terminators(conn: &mut TcpStream, want: usize, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut seen = 0;
    let mut chunk = [0u8; 64 * 1024];
    buf.clear();
    while seen < want {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        // Values are filler bytes ('x'), so a line end is a reply's: STORED, END or VERSION.
        let start = buf.len();
        buf.extend_from_slice(&chunk[..n]);
        let scan_from = start.saturating_sub(4);
        seen += count_terminators(&buf[scan_from..], start - scan_from);
    }
    Ok(())
}

/// Reply terminators (a `STORED`, `END` or `VERSION …` line) whose `\n` is at or after `from`.
fn count_terminators(bytes: &[u8], from: usize) -> usize {
    (from..bytes.len())
        .filter(|&at| bytes[at] == b'\n')
        .filter(|&at| {
            let line = &bytes[..=at];
            let line_start = line[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            line.ends_with(b"STORED\r\n")
                || line.ends_with(b"END\r\n")
                || line[line_start..].starts_with(b"VERSION ")
        })
        .count()
}

struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Runs `load` of SETs (`set`) or GETs on `port`: ops per second.
fn run(port: u16, load: &Load, set: bool) -> Result<f64, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let value = vec![b'x'; load.value_bytes];
    let mut handles = Vec::new();
    for c in 0..load.conns {
        let stop = Arc::clone(&stop);
        let value = value.clone();
        let (pipeline, keys) = (load.pipeline, load.keys);
        handles.push(std::thread::spawn(move || -> Result<u64, String> {
            let mut conn = connect(port).map_err(|e| e.to_string())?;
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1));
            let (mut ops, mut out, mut buf) = (0u64, Vec::new(), Vec::new());
            while !stop.load(Ordering::Relaxed) {
                out.clear();
                for _ in 0..pipeline {
                    let key = rng.below(keys);
                    if set {
                        let line = format!("set key:{key} 0 0 {}\r\n", value.len());
                        out.extend_from_slice(line.as_bytes());
                        out.extend_from_slice(&value);
                        out.extend_from_slice(b"\r\n");
                    } else {
                        out.extend_from_slice(format!("get key:{key}\r\n").as_bytes());
                    }
                }
                conn.write_all(&out).map_err(|e| e.to_string())?;
                read_terminators(&mut conn, pipeline, &mut buf).map_err(|e| e.to_string())?;
                ops += pipeline as u64;
            }
            Ok(ops)
        }));
    }
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(load.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut ops = 0;
    for handle in handles {
        ops += handle.join().map_err(|_| "client panicked")??;
    }
    Ok(ops as f64 / started.elapsed().as_secs_f64())
}

/// RSS growth per key over `keys` keys with 16-byte values, stored by `noreply` sets.
fn memory_per_key(server: &Server, keys: u64) -> Result<f64, String> {
    let pid = server.child.id();
    let before = rss_bytes(pid).map_err(|e| e.to_string())?;
    let mut conn = connect(server.port).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut next = 0;
    while next < keys {
        out.clear();
        for key in next..(next + LOAD_BATCH as u64).min(keys) {
            out.extend_from_slice(format!("set key:{key:09} 0 0 16 noreply\r\n").as_bytes());
            out.extend_from_slice(b"vvvvvvvvvvvvvvvv\r\n");
        }
        next += LOAD_BATCH as u64;
        conn.write_all(&out).map_err(|e| e.to_string())?;
    }
    conn.write_all(b"version\r\n").map_err(|e| e.to_string())?;
    read_lines(&mut conn, 1).map_err(|e| e.to_string())?;
    // Let the allocator settle (Damselfly's threads report and collect once a second).
    std::thread::sleep(Duration::from_millis(1500));
    let after = rss_bytes(pid).map_err(|e| e.to_string())?;
    Ok(after.saturating_sub(before) as f64 / keys as f64)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let about = "Memcached text protocol: Damselfly against memcached.";
    let args = Args::parse(&argv, FLAGS).unwrap_or_else(|e| {
        eprintln!("{e}\n{}", args::usage("memcache", about, FLAGS));
        std::process::exit(2);
    });
    if let Err(e) = bench(&args) {
        eprintln!("memcache bench: {e}");
        std::process::exit(1);
    }
}

fn bench(args: &Args) -> Result<(), String> {
    let damselfly = PathBuf::from(
        args.text("damselfly-bin")
            .unwrap_or("target/release/damselfly"),
    );
    let memcached = PathBuf::from(args.text("memcached-bin").unwrap_or("memcached"));
    let threads: u16 = args.value("threads", 1)?;
    let load = Load {
        conns: args.value("conns", 50)?,
        pipeline: args.value("pipeline", 1)?,
        seconds: args.value("seconds", 5.0)?,
        keys: args.value("keys", 100_000)?,
        value_bytes: args.value("value-bytes", 256)?,
    };
    let memory_keys: u64 = args.value("memory-keys", 1_000_000)?;
    println!(
        "conns {} pipeline {} value {} B keys {} threads {threads}",
        load.conns, load.pipeline, load.value_bytes, load.keys
    );
    println!("| server | SET ops/s | GET ops/s | ops per CPU-second | RSS B/key (16 B values) |");
    println!("|---|---|---|---|---|");
    for (name, bin) in [("memcached", &memcached), ("damselfly", &damselfly)] {
        let server = start(name, bin, threads)?;
        let pid = server.child.id();
        let cpu_before = cpu_seconds(pid).map_err(|e| e.to_string())?;
        let sets = run(server.port, &load, true)?;
        let gets = run(server.port, &load, false)?;
        let cpu = cpu_seconds(pid).map_err(|e| e.to_string())? - cpu_before;
        let ops = (sets + gets) * load.seconds;
        drop(server);
        let memory = if memory_keys > 0 {
            let server = start(name, bin, threads)?;
            format!("{:.0}", memory_per_key(&server, memory_keys)?)
        } else {
            "-".to_string()
        };
        println!(
            "| {name} | {sets:.0} | {gets:.0} | {:.0} | {memory} |",
            ops / cpu.max(f64::EPSILON)
        );
    }
    Ok(())
}
