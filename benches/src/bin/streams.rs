//! Streams side by side with redis-server: the memory of one stream of 1,000,000 entries of two
//! 16-byte fields (XADD with explicit IDs, pipelined), and throughput of XADD and of
//! XREADGROUP+XACK pairs at pipeline 1 and 16, damselfly on one thread, with each server's CPU
//! time.
//!
//! redis-benchmark cannot pair an XREADGROUP with the XACK of what it read, so this bench drives
//! its own connections: `--clients` connections in a closed loop, each sending `pipeline`
//! commands then reading their replies. For XREADGROUP+XACK each connection owns a stream
//! preloaded with entries `1-0`, `2-0`… and a group at 0, so the entry each read returns is
//! known and its XACK is pipelined behind it.

// A benchmark owns clocks and sleeps: the engine's bans (clippy.toml) are for the core.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use benches::args::{flag, usage, Args, Flag, DAMSELFLY_BIN, REDIS_BIN};
use benches::command::encode_into;
use benches::procfs;
use benches::server::{self, Kind, Server, ServerSpec};

const ABOUT: &str = "damselfly vs redis-server: stream memory and XADD / XREADGROUP+XACK";
const FLAGS: &[Flag] = &[
    DAMSELFLY_BIN,
    REDIS_BIN,
    flag(
        "entries",
        true,
        "entries of the memory stream (default 1000000)",
    ),
    flag(
        "ops",
        true,
        "operations per throughput row (default 400000)",
    ),
    flag(
        "clients",
        true,
        "connections of the throughput rows (default 16)",
    ),
    flag(
        "smoke",
        false,
        "tiny sizes: the harness works, the figures mean nothing",
    ),
];

const VALUE_16: &[u8] = b"vvvvvvvvvvvvvvvv";
/// Commands sent before reading their replies while loading.
const LOAD_BATCH: usize = 256;
/// Time for allocators to return or settle pages before RSS is read.
const SETTLE: Duration = Duration::from_millis(2000);

/// The length of the whole reply at the front of `buf` (arrays and maps included), or `None`
/// when it is not all here. An error reply fails the run.
fn reply_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let head = &buf[1..nl - 1];
    let number = || -> Result<i64, String> {
        std::str::from_utf8(head)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("bad reply header {:?}", String::from_utf8_lossy(head)))
    };
    match buf[0] {
        b'+' | b':' | b'_' => Ok(Some(nl + 1)),
        b'-' => Err(format!("error reply: {}", String::from_utf8_lossy(head))),
        b'$' => {
            let n = number()?;
            if n < 0 {
                return Ok(Some(nl + 1));
            }
            let end = nl + 1 + n as usize + 2;
            Ok((buf.len() >= end).then_some(end))
        }
        b'*' | b'%' => {
            let n = number()?;
            let items = if buf[0] == b'%' { n * 2 } else { n.max(0) };
            let mut at = nl + 1;
            for _ in 0..items {
                match reply_len(&buf[at..])? {
                    Some(len) => at += len,
                    None => return Ok(None),
                }
            }
            Ok(Some(at))
        }
        other => Err(format!("unexpected reply byte {other}")),
    }
}

/// Reads `replies` whole replies from `stream`, keeping any surplus in `buf`.
fn read_replies(stream: &mut TcpStream, buf: &mut Vec<u8>, replies: usize) -> Result<(), String> {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut seen = 0;
    loop {
        while seen < replies {
            match reply_len(buf)? {
                Some(len) => {
                    buf.drain(..len);
                    seen += 1;
                }
                None => break,
            }
        }
        if seen == replies {
            return Ok(());
        }
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn connect(server: &Server) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(server.addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(stream)
}

/// XADD `key` `<first+i>-0` f1 v f2 v for i in 0..entries, pipelined.
fn load_stream(server: &Server, key: &[u8], first: u64, entries: u64) -> Result<(), String> {
    let mut stream = connect(server)?;
    let (mut out, mut buf, mut pending) = (Vec::new(), Vec::new(), 0);
    for i in 0..entries {
        let id = format!("{}-0", first + i);
        encode_into(
            &[
                b"XADD",
                key,
                id.as_bytes(),
                b"f1",
                VALUE_16,
                b"f2",
                VALUE_16,
            ],
            &mut out,
        );
        pending += 1;
        if pending == LOAD_BATCH || i + 1 == entries {
            stream.write_all(&out).map_err(|e| e.to_string())?;
            read_replies(&mut stream, &mut buf, pending)?;
            out.clear();
            pending = 0;
        }
    }
    Ok(())
}

struct Setup {
    damselfly_bin: PathBuf,
    redis_bin: PathBuf,
    work_dir: PathBuf,
}

fn start(setup: &Setup, kind: Kind) -> Result<Server, String> {
    let (bin, extra): (PathBuf, &[&str]) = match kind {
        Kind::Redis => (setup.redis_bin.clone(), &[]),
        Kind::Damselfly => (setup.damselfly_bin.clone(), &["--proactor_threads", "1"]),
    };
    let server = Server::start(&ServerSpec {
        kind,
        bin,
        extra_args: extra.iter().map(|a| a.to_string()).collect(),
        port: server::free_port()?,
        cpus: None,
        work_dir: setup.work_dir.join(kind.name()),
    })?;
    thread::sleep(Duration::from_millis(300));
    Ok(server)
}

fn memory_row(setup: &Setup, entries: u64) -> Result<(), String> {
    let mut per_entry = Vec::new();
    for kind in [Kind::Redis, Kind::Damselfly] {
        let server = start(setup, kind)?;
        let before = procfs::rss_bytes(server.pid).map_err(|e| e.to_string())?;
        load_stream(&server, b"stream", 1, entries)?;
        thread::sleep(SETTLE);
        let after = procfs::rss_bytes(server.pid).map_err(|e| e.to_string())?;
        server.stop();
        let delta = after.saturating_sub(before) as f64;
        println!(
            "| stream {entries} x 2 fields of 16 B | {} | {:.1} MB | {:.1} |",
            kind.name(),
            delta / 1e6,
            delta / entries as f64
        );
        per_entry.push(delta / entries as f64);
    }
    println!(
        "| | damselfly/redis | | {:.2}x |",
        per_entry[1] / per_entry[0].max(1.0)
    );
    Ok(())
}

/// What a throughput row sends.
#[derive(Clone, Copy)]
enum Test {
    /// XADD stream:<c> * f1 v f2 v.
    Xadd,
    /// XREADGROUP GROUP g c COUNT 1 STREAMS stream:<c> > then XACK stream:<c> g <i>-0: a pair
    /// counts as two operations.
    ReadAck,
}

impl Test {
    fn name(self) -> &'static str {
        match self {
            Test::Xadd => "XADD",
            Test::ReadAck => "XREADGROUP+XACK",
        }
    }
}

/// `clients` connections in a closed loop of `pipeline` commands each, until `ops` operations.
fn throughput_row(
    setup: &Setup,
    kind: Kind,
    test: Test,
    pipeline: usize,
    clients: usize,
    ops: u64,
) -> Result<(), String> {
    let server = start(setup, kind)?;
    let per_client = ops / clients as u64;
    let keys: Vec<Vec<u8>> = (0..clients)
        .map(|c| format!("stream:{c}").into_bytes())
        .collect();
    if let Test::ReadAck = test {
        // Each read-ack pair takes two operations: preload one entry per pair.
        for key in &keys {
            load_stream(&server, key, 1, per_client / 2 + 1)?;
            let mut group = Vec::new();
            encode_into(&[b"XGROUP", b"CREATE", key, b"g", b"0"], &mut group);
            server.command(&group)?;
        }
    }
    let mut conns: Vec<(TcpStream, Vec<u8>)> = Vec::new();
    for _ in 0..clients {
        conns.push((connect(&server)?, Vec::new()));
    }
    // Commands each connection has sent: for XREADGROUP+XACK, even ones read, odd ones ack.
    let mut sent_cmds = vec![0u64; clients];
    let cpu_before = procfs::cpu_seconds(server.pid).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut done: u64 = 0;
    let mut out = Vec::new();
    while done < per_client * clients as u64 {
        for (c, (stream, _)) in conns.iter_mut().enumerate() {
            out.clear();
            for _ in 0..pipeline {
                let n = sent_cmds[c];
                sent_cmds[c] += 1;
                match test {
                    Test::Xadd => encode_into(
                        &[b"XADD", &keys[c], b"*", b"f1", VALUE_16, b"f2", VALUE_16],
                        &mut out,
                    ),
                    Test::ReadAck if n.is_multiple_of(2) => encode_into(
                        &[
                            b"XREADGROUP",
                            b"GROUP",
                            b"g",
                            b"c",
                            b"COUNT",
                            b"1",
                            b"STREAMS",
                            &keys[c],
                            b">",
                        ],
                        &mut out,
                    ),
                    Test::ReadAck => {
                        let id = format!("{}-0", n / 2 + 1);
                        encode_into(&[b"XACK", &keys[c], b"g", id.as_bytes()], &mut out);
                    }
                }
            }
            stream.write_all(&out).map_err(|e| e.to_string())?;
        }
        for (stream, buf) in conns.iter_mut() {
            read_replies(stream, buf, pipeline)?;
        }
        done += (pipeline * clients) as u64;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = procfs::cpu_seconds(server.pid).map_err(|e| e.to_string())? - cpu_before;
    server.stop();
    println!(
        "| {} | P{pipeline} | {} | {:.0} | {:.0} |",
        test.name(),
        kind.name(),
        done as f64 / wall,
        done as f64 / cpu.max(1e-9)
    );
    Ok(())
}

fn run(args: &Args) -> Result<(), String> {
    let smoke = args.switch("smoke");
    let entries: u64 = args.value("entries", if smoke { 10_000 } else { 1_000_000 })?;
    let ops: u64 = args.value("ops", if smoke { 20_000 } else { 400_000 })?;
    let clients: usize = args.value("clients", 16)?;
    let damselfly_bin = args
        .text("damselfly-bin")
        .unwrap_or("target/release/damselfly");
    let damselfly_bin = std::fs::canonicalize(damselfly_bin)
        .map_err(|e| format!("damselfly binary {damselfly_bin}: {e}"))?;
    let setup = Setup {
        damselfly_bin,
        redis_bin: PathBuf::from(args.text("redis-bin").unwrap_or("/usr/bin/redis-server")),
        work_dir: std::env::temp_dir().join(format!("damselfly-streams-{}", std::process::id())),
    };
    println!("## memory (fresh server per row; RSS growth)");
    println!("| shape | server | RSS | RSS B/entry |");
    println!("|---|---|---|---|");
    memory_row(&setup, entries)?;
    println!();
    println!("## throughput, {clients} connections in a closed loop, damselfly on 1 thread");
    println!("| test | pipeline | server | ops/s | ops per CPU-s |");
    println!("|---|---|---|---|---|");
    for test in [Test::Xadd, Test::ReadAck] {
        for pipeline in [1, 16] {
            for kind in [Kind::Redis, Kind::Damselfly] {
                throughput_row(&setup, kind, test, pipeline, clients, ops)?;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&setup.work_dir);
    Ok(())
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match Args::parse(&argv, FLAGS) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\n{}", usage("streams", ABOUT, FLAGS));
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("streams: {e}");
        std::process::exit(1);
    }
}
