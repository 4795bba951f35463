//! `cache`: memory-bounded caching, damselfly `--cache_mode` against redis-server under
//! allkeys-lru and allkeys-lfu at the same maxmemory.
//!
//! One client, pipelined batches: GET a batch of Zipf-drawn keys, then SET every key that
//! missed (read-through caching). Keys `key:<rank>`, a fixed value size, a key range whose
//! full size is a multiple of maxmemory. Reported per server: the hit rate over the second half
//! of the run (after warm-up), evicted keys, and the largest `used_memory` seen above
//! `maxmemory` (sampled after every batch). Bounded by request count and by time.

// A load generator owns clocks and threads (see the crate root).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use benches::args::{flag, Args, Flag};
use benches::reply::{scan, ReplyKind, Scan};
use benches::server::{self, Kind, Server, ServerSpec};
use benches::zipf::Zipf;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const FLAGS: &[Flag] = &[
    flag(
        "maxmemory-mb",
        true,
        "maxmemory of every server in MiB (default 32)",
    ),
    flag("keys", true, "key range (default 500000)"),
    flag("data-size", true, "value bytes (default 64)"),
    flag("zipf", true, "Zipf exponent (default 0.99)"),
    flag("requests", true, "GETs per server (default 2000000)"),
    flag("batch", true, "GETs per pipelined batch (default 100)"),
    flag(
        "damselfly-bin",
        true,
        "damselfly binary (default <target>/release/damselfly)",
    ),
    flag("help", false, "this text"),
];

/// A run stops after this long whatever the request count.
const RUN_TIME_MAX: Duration = Duration::from_secs(240);

struct Setup {
    maxmemory_bytes: u64,
    keys: u64,
    value: Vec<u8>,
    exponent: f64,
    requests: u64,
    batch: u64,
}

struct Outcome {
    hit_rate: f64,
    overshoot_max_bytes: i64,
    evicted_keys: u64,
    used_memory_end: u64,
    requests: u64,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match Args::parse(&argv, FLAGS) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("cache: {e}");
            return ExitCode::from(2);
        }
    };
    if args.switch("help") {
        println!(
            "{}",
            benches::args::usage("cache", "cache hit rate at maxmemory", FLAGS)
        );
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cache: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let setup = Setup {
        maxmemory_bytes: args.value::<u64>("maxmemory-mb", 32)? * 1024 * 1024,
        keys: args.value("keys", 500_000)?,
        value: vec![b'v'; args.value("data-size", 64)?],
        exponent: args.value("zipf", 0.99)?,
        requests: args.value("requests", 2_000_000)?,
        batch: args.value("batch", 100)?,
    };
    let damselfly_bin = match args.text("damselfly-bin") {
        Some(path) => PathBuf::from(path),
        None => default_damselfly_bin(),
    };
    let work_dir = std::env::temp_dir().join(format!("cache-bench-{}", std::process::id()));
    let maxmemory = setup.maxmemory_bytes.to_string();
    println!(
        "## cache: maxmemory {} MiB, {} keys of {} B, zipf {}, {} GETs in batches of {}",
        setup.maxmemory_bytes >> 20,
        setup.keys,
        setup.value.len(),
        setup.exponent,
        setup.requests,
        setup.batch
    );
    println!("server                 hit rate  evicted   used_memory end  max over maxmemory");
    let runs: [(&str, Kind, PathBuf, Vec<String>); 3] = [
        (
            "redis allkeys-lru",
            Kind::Redis,
            PathBuf::from("/usr/bin/redis-server"),
            redis_args(&maxmemory, "allkeys-lru"),
        ),
        (
            "redis allkeys-lfu",
            Kind::Redis,
            PathBuf::from("/usr/bin/redis-server"),
            redis_args(&maxmemory, "allkeys-lfu"),
        ),
        (
            "damselfly cache_mode",
            Kind::Damselfly,
            damselfly_bin,
            vec![
                format!("--maxmemory={maxmemory}"),
                "--cache_mode=true".into(),
            ],
        ),
    ];
    for (name, kind, bin, extra_args) in runs {
        let spec = ServerSpec {
            kind,
            bin,
            extra_args,
            port: server::free_port()?,
            cpus: None,
            work_dir: work_dir.join(name.replace(' ', "-")),
        };
        let server = Server::start(&spec)?;
        let outcome = drive(&server, &setup);
        server.stop();
        let o = outcome?;
        println!(
            "{name:<22} {:>8.3} {:>8} {:>16} {:>19}   ({} GETs)",
            o.hit_rate, o.evicted_keys, o.used_memory_end, o.overshoot_max_bytes, o.requests
        );
    }
    Ok(())
}

fn redis_args(maxmemory: &str, policy: &str) -> Vec<String> {
    ["--maxmemory", maxmemory, "--maxmemory-policy", policy]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn default_damselfly_bin() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), PathBuf::from);
    target.join("release").join("damselfly")
}

/// The read-through loop against one server.
fn drive(server: &Server, setup: &Setup) -> Result<Outcome, String> {
    let mut stream = TcpStream::connect(server.addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let zipf = Zipf::new(setup.keys, setup.exponent);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let start = Instant::now();
    let (mut sent, mut hits, mut counted) = (0u64, 0u64, 0u64);
    let mut overshoot_max: i64 = i64::MIN;
    let mut buf = Vec::new();
    while sent < setup.requests && start.elapsed() < RUN_TIME_MAX {
        let keys: Vec<String> = (0..setup.batch)
            .map(|_| format!("key:{}", zipf.sample(&mut rng) - 1))
            .collect();
        let mut out = Vec::new();
        for key in &keys {
            push_command(&mut out, &[b"GET", key.as_bytes()]);
        }
        let kinds = round_trip(&mut stream, &out, keys.len(), &mut buf)?;
        let mut out = Vec::new();
        let mut sets = 0;
        for (key, kind) in keys.iter().zip(&kinds) {
            let hit = *kind == ReplyKind::Bulk;
            if sent >= setup.requests / 2 {
                hits += u64::from(hit);
                counted += 1;
            }
            sent += 1;
            if !hit {
                push_command(&mut out, &[b"SET", key.as_bytes(), &setup.value]);
                sets += 1;
            }
        }
        if sets > 0 {
            for kind in round_trip(&mut stream, &out, sets, &mut buf)? {
                if kind != ReplyKind::Ok {
                    return Err(format!("{}: SET answered {kind:?}", server.kind.name()));
                }
            }
        }
        let used = info_field(&mut stream, b"memory", "used_memory", &mut buf)?;
        overshoot_max = overshoot_max.max(used as i64 - setup.maxmemory_bytes as i64);
    }
    Ok(Outcome {
        hit_rate: hits as f64 / counted.max(1) as f64,
        overshoot_max_bytes: overshoot_max,
        evicted_keys: info_field(&mut stream, b"stats", "evicted_keys", &mut buf)?,
        used_memory_end: info_field(&mut stream, b"memory", "used_memory", &mut buf)?,
        requests: sent,
    })
}

fn push_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Sends `out` and reads `replies` replies, returning their kinds.
fn round_trip(
    stream: &mut TcpStream,
    out: &[u8],
    replies: usize,
    buf: &mut Vec<u8>,
) -> Result<Vec<ReplyKind>, String> {
    stream.write_all(out).map_err(|e| e.to_string())?;
    let mut kinds = Vec::with_capacity(replies);
    let mut chunk = [0u8; 64 * 1024];
    buf.clear();
    let mut at = 0;
    while kinds.len() < replies {
        match scan(&buf[at..]) {
            Scan::Reply { kind, len_bytes } => {
                kinds.push(kind);
                at += len_bytes;
            }
            Scan::Incomplete => {
                let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("connection closed".into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Scan::Malformed => return Err("malformed reply".into()),
        }
    }
    Ok(kinds)
}

/// One numeric field of an INFO section.
fn info_field(
    stream: &mut TcpStream,
    section: &[u8],
    field: &str,
    buf: &mut Vec<u8>,
) -> Result<u64, String> {
    let mut out = Vec::new();
    push_command(&mut out, &[b"INFO", section]);
    stream.write_all(&out).map_err(|e| e.to_string())?;
    buf.clear();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        if let Scan::Reply { .. } = scan(buf) {
            break;
        }
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(buf);
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("no {field} in INFO"))
}
