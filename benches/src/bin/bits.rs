//! Bitmaps and HyperLogLog side by side with redis-server: redis-benchmark running SETBIT,
//! BITCOUNT, PFADD and PFCOUNT as custom commands at pipeline 1 and 16 (damselfly on one
//! thread), each with the server's CPU time; and the memory of one HLL of 10,000,000 distinct
//! elements (dense on both: 12,304 bytes of value), by MEMORY USAGE and by RSS growth.
//!
//! The commands: `SETBIT bm:<rand> 100 1` over 100,000 keys (redis-benchmark's `__rand_int__`
//! is zero-padded, which no bit offset accepts, so it names keys); `BITCOUNT bm:<rand>` of
//! those 13-byte bitmaps; `PFADD hll e:<rand>` with -r 10,000,000; `PFCOUNT hll` (after the
//! PFADD run, whose last write left the cache stale: the first PFCOUNT counts, the rest read
//! the cache).

// A benchmark owns clocks and sleeps: the engine's bans (clippy.toml) are for the core.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use benches::args::{flag, usage, Args, Flag, DAMSELFLY_BIN, REDIS_BIN};
use benches::command::encode_argv_into;
use benches::procfs;
use benches::redis_benchmark::parse_csv;
use benches::server::{self, Kind, Server, ServerSpec};

const ABOUT: &str = "damselfly vs redis-server: bitmap and HyperLogLog throughput and memory";
const FLAGS: &[Flag] = &[
    DAMSELFLY_BIN,
    REDIS_BIN,
    flag(
        "requests",
        true,
        "redis-benchmark requests per test (default 1000000)",
    ),
    flag(
        "elements",
        true,
        "HLL elements for the memory row (default 10000000)",
    ),
    flag("pin", false, "servers on CPU 0, redis-benchmark on CPU 1"),
];

/// The commands timed, with the -r range their `__rand_int__` draws from.
const TESTS: &[(&str, &[&str], u64)] = &[
    (
        "SETBIT",
        &["SETBIT", "bm:__rand_int__", "100", "1"],
        100_000,
    ),
    ("BITCOUNT", &["BITCOUNT", "bm:__rand_int__"], 100_000),
    ("PFADD", &["PFADD", "hll", "e:__rand_int__"], 10_000_000),
    ("PFCOUNT", &["PFCOUNT", "hll"], 10_000_000),
];
/// Elements per PFADD while loading the memory row, and PFADDs in flight.
const LOAD_BATCH_ELEMENTS: u64 = 1_000;
const LOAD_PIPELINE: u64 = 16;
const CLIENTS: usize = 50;
const TIME_MAX: Duration = Duration::from_secs(300);

struct Setup {
    damselfly_bin: PathBuf,
    redis_bin: PathBuf,
    server_cpus: Option<String>,
    client_cpus: Option<String>,
    work_dir: PathBuf,
}

fn start(setup: &Setup, kind: Kind) -> Result<Server, String> {
    let (bin, extra) = match kind {
        Kind::Redis => (setup.redis_bin.clone(), vec![]),
        Kind::Damselfly => (
            setup.damselfly_bin.clone(),
            vec!["--proactor_threads".to_string(), "1".to_string()],
        ),
    };
    Server::start(&ServerSpec {
        kind,
        bin,
        extra_args: extra,
        port: server::free_port()?,
        cpus: setup.server_cpus.clone(),
        work_dir: setup.work_dir.join(kind.name()),
    })
}

/// redis-benchmark with a custom command: its one CSV row's ops/s and p99.
fn bench(
    setup: &Setup,
    server: &Server,
    argv: &[&str],
    range: u64,
    pipeline: usize,
    requests: u64,
) -> Result<(f64, f64), String> {
    let mut command = match &setup.client_cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus, "redis-benchmark"]);
            c
        }
        None => Command::new("redis-benchmark"),
    };
    command
        .args(["-h", &server.addr.ip().to_string()])
        .args(["-p", &server.addr.port().to_string()])
        .args(["-n", &requests.to_string(), "-c", &CLIENTS.to_string()])
        .args(["-P", &pipeline.to_string(), "-r", &range.to_string()])
        .args(["-q", "--csv"])
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("redis-benchmark: {e}"))?;
    let started = std::time::Instant::now();
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if started.elapsed() > TIME_MAX {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("redis-benchmark ran past {TIME_MAX:?}"));
        }
        thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rows = parse_csv(&stdout)?;
    let row = rows.first().ok_or_else(|| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        format!("redis-benchmark printed no row: {stdout}{stderr}")
    })?;
    Ok((row.rps, row.p99_ms))
}

fn throughput(setup: &Setup, requests: u64) -> Result<(), String> {
    println!("## redis-benchmark, {CLIENTS} clients, damselfly on 1 thread");
    println!("| command | pipeline | server | ops/s | p99 ms | ops per CPU-s |");
    println!("|---|---|---|---|---|---|");
    for pipeline in [1, 16] {
        for kind in [Kind::Redis, Kind::Damselfly] {
            let server = start(setup, kind)?;
            for (name, argv, range) in TESTS {
                let cpu_before = procfs::cpu_seconds(server.pid).map_err(|e| e.to_string())?;
                let (rps, p99) = bench(setup, &server, argv, *range, pipeline, requests)?;
                let cpu = procfs::cpu_seconds(server.pid).map_err(|e| e.to_string())? - cpu_before;
                println!(
                    "| {name} | P{pipeline} | {} | {rps:.0} | {p99:.3} | {:.0} |",
                    kind.name(),
                    requests as f64 / cpu.max(1e-9)
                );
            }
            server.stop();
        }
    }
    Ok(())
}

/// Reads until `replies` integer replies (one line each) have arrived.
fn read_lines(stream: &mut TcpStream, replies: u64) -> Result<(), String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = 0;
    while seen < replies {
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 || buf[..n].contains(&b'-') {
            return Err("error or close while loading".into());
        }
        seen += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    Ok(())
}

/// PFADDs `elements` distinct elements into `hll`, pipelined.
fn load_hll(server: &Server, elements: u64) -> Result<(), String> {
    let mut stream = TcpStream::connect(server.addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let batches = elements.div_ceil(LOAD_BATCH_ELEMENTS);
    let mut out = Vec::new();
    let mut pending = 0;
    for b in 0..batches {
        let mut argv = vec![b"PFADD".to_vec(), b"hll".to_vec()];
        let first = b * LOAD_BATCH_ELEMENTS;
        let last = (first + LOAD_BATCH_ELEMENTS).min(elements);
        argv.extend((first..last).map(|e| format!("element:{e}").into_bytes()));
        encode_argv_into(&argv, &mut out);
        pending += 1;
        if pending == LOAD_PIPELINE || b + 1 == batches {
            stream.write_all(&out).map_err(|e| e.to_string())?;
            read_lines(&mut stream, pending)?;
            out.clear();
            pending = 0;
        }
    }
    Ok(())
}

/// An integer reply's value.
fn int_reply(reply: &[u8]) -> Result<i64, String> {
    let text = String::from_utf8_lossy(reply);
    text.trim()
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("not an integer reply: {text:?}"))
}

fn memory(setup: &Setup, elements: u64) -> Result<(), String> {
    println!("## one HyperLogLog of {elements} elements");
    println!("| server | PFCOUNT | STRLEN | MEMORY USAGE B | RSS growth B |");
    println!("|---|---|---|---|---|");
    for kind in [Kind::Redis, Kind::Damselfly] {
        let server = start(setup, kind)?;
        thread::sleep(Duration::from_millis(300));
        let before = procfs::rss_bytes(server.pid).map_err(|e| e.to_string())?;
        load_hll(&server, elements)?;
        thread::sleep(Duration::from_millis(1000));
        let after = procfs::rss_bytes(server.pid).map_err(|e| e.to_string())?;
        let count = int_reply(&server.command(b"*2\r\n$7\r\nPFCOUNT\r\n$3\r\nhll\r\n")?)?;
        let len = int_reply(&server.command(b"*2\r\n$6\r\nSTRLEN\r\n$3\r\nhll\r\n")?)?;
        let usage =
            int_reply(&server.command(b"*3\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n$3\r\nhll\r\n")?)?;
        println!(
            "| {} | {count} | {len} | {usage} | {} |",
            kind.name(),
            after.saturating_sub(before)
        );
        server.stop();
    }
    Ok(())
}

fn run(args: &Args) -> Result<(), String> {
    let requests: u64 = args.value("requests", 1_000_000)?;
    let elements: u64 = args.value("elements", 10_000_000)?;
    let pin = args.switch("pin");
    let damselfly_bin = args
        .text("damselfly-bin")
        .unwrap_or("target/release/damselfly");
    let damselfly_bin = std::fs::canonicalize(damselfly_bin)
        .map_err(|e| format!("damselfly binary {damselfly_bin}: {e}"))?;
    let setup = Setup {
        damselfly_bin,
        redis_bin: PathBuf::from(args.text("redis-bin").unwrap_or("/usr/bin/redis-server")),
        server_cpus: pin.then(|| "0".to_string()),
        client_cpus: pin.then(|| "1".to_string()),
        work_dir: std::env::temp_dir().join(format!("damselfly-bits-{}", std::process::id())),
    };
    memory(&setup, elements)?;
    println!();
    throughput(&setup, requests)?;
    let _ = std::fs::remove_dir_all(&setup.work_dir);
    Ok(())
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match Args::parse(&argv, FLAGS) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\n{}", usage("bits", ABOUT, FLAGS));
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("bits: {e}");
        std::process::exit(1);
    }
}
