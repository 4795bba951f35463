//! Collections side by side with redis-server: memory per element for the shapes issue 11
//! names (hash of 50 fields, hash of 1,000 fields, intset of 100, set of 1,000 strings), memory
//! per string key across key lengths, lists of 100 and 1,000,000 16-byte elements, and
//! redis-benchmark's hset, sadd, spop and list tests (lpush, rpush, lpop, rpop, lrange_100,
//! lrange_600) at pipeline 1 and 16 with each server's CPU time. `--lists` runs only the lists.
//!
//! Each memory figure loads a fresh server with one pipelined connection and reports
//! (VmRSS after − VmRSS before) divided by the keys (or elements) loaded, and INFO's
//! used_memory divided the same way.

// A benchmark owns clocks and sleeps: the engine's bans (clippy.toml) are for the core.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use benches::args::{flag, usage, Args, Flag, DAMSELFLY_BIN, REDIS_BIN};
use benches::command::encode_argv_into;
use benches::procfs;
use benches::redis_benchmark::{self, BenchOptions};
use benches::server::{self, Kind, Server, ServerSpec};

const ABOUT: &str = "damselfly vs redis-server: collection memory and throughput";
const FLAGS: &[Flag] = &[
    DAMSELFLY_BIN,
    REDIS_BIN,
    flag("scale", true, "keys per shape = 10000 / scale (default 1)"),
    flag(
        "requests",
        true,
        "redis-benchmark requests per test (default 1000000)",
    ),
    flag(
        "smoke",
        false,
        "tiny sizes: the harness works, the figures mean nothing",
    ),
    flag("pin", false, "servers on CPU 0, redis-benchmark on CPU 1"),
    flag(
        "memory-only",
        false,
        "the memory rows only (no redis-benchmark runs)",
    ),
    flag("lists", false, "only the list shapes and the list tests"),
];

/// The redis-benchmark tests of the collection families, and of lists alone.
const COLLECTION_TESTS: &[&str] = &[
    "hset",
    "sadd",
    "spop",
    "zadd",
    "zpopmin",
    "lpush",
    "rpush",
    "lpop",
    "rpop",
    "lrange_100",
    "lrange_600",
];
const LIST_TESTS: &[&str] = &["lpush", "rpush", "lpop", "rpop", "lrange_100", "lrange_600"];

/// Commands sent before reading their replies.
const PIPELINE_BATCH: usize = 256;
/// Time for allocators to return or settle pages before RSS is read.
const SETTLE: Duration = Duration::from_millis(2000);

/// What one memory run loads: `keys` keys, each built by `commands(key index)`.
struct Shape {
    name: String,
    keys: u64,
    /// Elements per key (the per-element figure divides by keys × this).
    elements_per_key: u64,
    commands: Box<dyn Fn(u64) -> Vec<Vec<Vec<u8>>>>,
}

fn words(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

const VALUE_16: &[u8] = b"vvvvvvvvvvvvvvvv";

/// HSET key f0 v f1 v …, `fields` fields of 16-byte values, in batches of 100 fields.
fn hash_shape(fields: u64, keys: u64) -> Shape {
    Shape {
        name: format!("hash {fields} fields"),
        keys,
        elements_per_key: fields,
        commands: Box::new(move |k| {
            let key = format!("hash:{k}").into_bytes();
            (0..fields)
                .collect::<Vec<_>>()
                .chunks(100)
                .map(|chunk| {
                    let mut argv = words(&[b"HSET", &key]);
                    for j in chunk {
                        argv.push(format!("f{j}").into_bytes());
                        argv.push(VALUE_16.to_vec());
                    }
                    argv
                })
                .collect()
        }),
    }
}

/// SADD key m…, `members` members from `member(j)`, in batches of 100.
fn set_shape(name: &str, members: u64, keys: u64, member: fn(u64) -> String) -> Shape {
    Shape {
        name: name.to_string(),
        keys,
        elements_per_key: members,
        commands: Box::new(move |k| {
            let key = format!("set:{k}").into_bytes();
            (0..members)
                .collect::<Vec<_>>()
                .chunks(100)
                .map(|chunk| {
                    let mut argv = words(&[b"SADD", &key]);
                    argv.extend(chunk.iter().map(|&j| member(j).into_bytes()));
                    argv
                })
                .collect()
        }),
    }
}

/// RPUSH key v…, `elements` 16-byte elements, in batches of 100.
fn list_shape(elements: u64, keys: u64) -> Shape {
    Shape {
        name: format!("list {elements} x 16 B"),
        keys,
        elements_per_key: elements,
        commands: Box::new(move |k| {
            let key = format!("list:{k}").into_bytes();
            (0..elements)
                .collect::<Vec<_>>()
                .chunks(100)
                .map(|chunk| {
                    let mut argv = words(&[b"RPUSH", &key]);
                    argv.extend(chunk.iter().map(|_| VALUE_16.to_vec()));
                    argv
                })
                .collect()
        }),
    }
}

/// ZADD key j member:<j> …, `members` members with ascending integer scores, in batches of 100.
fn zset_shape(name: &str, members: u64, keys: u64) -> Shape {
    Shape {
        name: name.to_string(),
        keys,
        elements_per_key: members,
        commands: Box::new(move |k| {
            let key = format!("zset:{k}").into_bytes();
            (0..members)
                .collect::<Vec<_>>()
                .chunks(100)
                .map(|chunk| {
                    let mut argv = words(&[b"ZADD", &key]);
                    for j in chunk {
                        argv.push(j.to_string().into_bytes());
                        argv.push(format!("member:{j}").into_bytes());
                    }
                    argv
                })
                .collect()
        }),
    }
}

/// SET of 16-byte values under keys padded to exactly `key_len` bytes.
fn string_shape(key_len: usize, keys: u64) -> Shape {
    Shape {
        name: format!("string key {key_len} B"),
        keys,
        elements_per_key: 1,
        commands: Box::new(move |k| {
            let key = format!("{:0>width$}", format!("k{k}"), width = key_len).into_bytes();
            vec![words(&[b"SET", &key, VALUE_16])]
        }),
    }
}

/// Reads until `replies` top-level replies have arrived, failing on any error reply. Every
/// reply of the loaders is an integer or +OK, one line each.
fn read_replies(stream: &mut TcpStream, replies: usize) -> Result<(), String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = 0;
    while seen < replies {
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed while loading".into());
        }
        if let Some(at) = buf[..n].iter().position(|&b| b == b'-') {
            let line = String::from_utf8_lossy(&buf[at..n.min(at + 120)]);
            return Err(format!("error reply while loading: {line}"));
        }
        seen += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
    Ok(())
}

fn load(server: &Server, shape: &Shape) -> Result<(), String> {
    let mut stream = TcpStream::connect(server.addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut pending = 0;
    for k in 0..shape.keys {
        for argv in (shape.commands)(k) {
            encode_argv_into(&argv, &mut out);
            pending += 1;
        }
        if pending >= PIPELINE_BATCH || k + 1 == shape.keys {
            stream.write_all(&out).map_err(|e| e.to_string())?;
            read_replies(&mut stream, pending)?;
            out.clear();
            pending = 0;
        }
    }
    let dbsize = server.command(b"*1\r\n$6\r\nDBSIZE\r\n")?;
    if dbsize != format!(":{}\r\n", shape.keys).as_bytes() {
        return Err(format!(
            "{}: DBSIZE {:?} after loading {} keys",
            server.kind.name(),
            String::from_utf8_lossy(&dbsize),
            shape.keys
        ));
    }
    Ok(())
}

fn used_memory_bytes(server: &Server) -> Result<u64, String> {
    let reply = server.command(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")?;
    String::from_utf8_lossy(&reply)
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| "no used_memory in INFO".to_string())
}

struct Setup {
    damselfly_bin: PathBuf,
    redis_bin: PathBuf,
    server_cpus: Option<String>,
    client_cpus: Option<String>,
    work_dir: PathBuf,
}

fn start(setup: &Setup, kind: Kind, extra_args: &[&str]) -> Result<Server, String> {
    let bin = match kind {
        Kind::Redis => setup.redis_bin.clone(),
        Kind::Damselfly => setup.damselfly_bin.clone(),
    };
    Server::start(&ServerSpec {
        kind,
        bin,
        extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
        port: server::free_port()?,
        cpus: setup.server_cpus.clone(),
        work_dir: setup.work_dir.join(kind.name()),
    })
}

/// One shape on both servers: per key and per element, RSS and used_memory.
fn memory_row(setup: &Setup, shape: &Shape) -> Result<(), String> {
    let mut per_element = Vec::new();
    for kind in [Kind::Redis, Kind::Damselfly] {
        let server = start(setup, kind, &[])?;
        thread::sleep(Duration::from_millis(300));
        let before = procfs::rss_bytes(server.pid).map_err(|e| e.to_string())?;
        load(&server, shape)?;
        thread::sleep(SETTLE);
        let after = procfs::rss_bytes(server.pid).map_err(|e| e.to_string())?;
        let used = used_memory_bytes(&server)?;
        server.stop();
        let keys = shape.keys as f64;
        let elements = keys * shape.elements_per_key as f64;
        let rss_delta = after.saturating_sub(before) as f64;
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} |",
            shape.name,
            kind.name(),
            rss_delta / keys,
            rss_delta / elements,
            used as f64 / elements,
        );
        per_element.push(rss_delta / elements);
    }
    println!(
        "| {} | damselfly/redis | | {:.2}x | |",
        shape.name,
        per_element[1] / per_element[0].max(1.0)
    );
    Ok(())
}

/// redis-benchmark `tests` at one pipeline depth on one server, with its CPU time. A test that
/// makes redis-benchmark fill a list first (lrange_*) reports that LPUSH row too, and its CPU
/// figure covers both.
fn throughput_rows(
    setup: &Setup,
    kind: Kind,
    pipeline: usize,
    requests: u64,
    tests: &[&'static str],
) -> Result<(), String> {
    let extra: &[&str] = match kind {
        Kind::Redis => &[],
        Kind::Damselfly => &["--proactor_threads", "1"],
    };
    let server = start(setup, kind, extra)?;
    for &test in tests {
        let cpu_before = procfs::cpu_seconds(server.pid).map_err(|e| e.to_string())?;
        let rows = redis_benchmark::run(
            server.addr,
            &BenchOptions {
                requests,
                clients: 50,
                pipeline,
                value_len_bytes: 16,
                key_range: 100_000,
                threads: 1,
                cpus: setup.client_cpus.clone(),
                time_max: Duration::from_secs(300),
                tests: test,
            },
        )?;
        let cpu = procfs::cpu_seconds(server.pid).map_err(|e| e.to_string())? - cpu_before;
        let ops = requests * rows.len() as u64;
        for row in rows {
            println!(
                "| {} | P{pipeline} | {} | {:.0} | {:.3} | {:.0} |",
                row.test,
                kind.name(),
                row.rps,
                row.p99_ms,
                ops as f64 / cpu.max(1e-9),
            );
        }
    }
    server.stop();
    Ok(())
}

fn run(args: &Args) -> Result<(), String> {
    let smoke = args.switch("smoke");
    let scale: u64 = args.value("scale", if smoke { 100 } else { 1 })?;
    let requests: u64 = args.value("requests", if smoke { 2_000 } else { 1_000_000 })?;
    let pin = args.switch("pin");
    let damselfly_bin = args
        .text("damselfly-bin")
        .unwrap_or("target/release/damselfly");
    // Servers start in their own work directory: the binary's path must not be relative.
    let damselfly_bin = std::fs::canonicalize(damselfly_bin)
        .map_err(|e| format!("damselfly binary {damselfly_bin}: {e}"))?;
    let setup = Setup {
        damselfly_bin,
        redis_bin: PathBuf::from(args.text("redis-bin").unwrap_or("/usr/bin/redis-server")),
        server_cpus: pin.then(|| "0".to_string()),
        client_cpus: pin.then(|| "1".to_string()),
        work_dir: std::env::temp_dir()
            .join(format!("damselfly-collections-{}", std::process::id())),
    };
    let keys = |n: u64| (n / scale).max(1);
    println!("## memory (fresh server per row; RSS growth and used_memory)");
    println!("| shape | server | RSS B/key | RSS B/element | used_memory B/element |");
    println!("|---|---|---|---|---|");
    let lists_only = args.switch("lists");
    let list_shapes = [
        list_shape(100, keys(100_000)),
        list_shape(1_000_000 / scale, 1),
    ];
    let other_shapes = [
        // Small collections at 100,000 keys: at 10,000 keys a fixed 2-6 MB of allocator pages
        // (mimalloc's pages for the ~40 size classes the load touches on each thread, and pages
        // awaiting cross-thread frees) is 200-600 B per key and swamps the per-key figure.
        hash_shape(50, keys(100_000)),
        hash_shape(1_000, keys(1_000)),
        set_shape("intset 100", 100, keys(100_000), |j| j.to_string()),
        set_shape("set 1000 strings", 1_000, keys(1_000), |j| {
            format!("member:{j}")
        }),
        zset_shape("zset 100 member:<j> (listpack)", 100, keys(100_000)),
        zset_shape("zset 1000 member:<j> (skiplist)", 1_000, keys(1_000)),
        string_shape(8, keys(1_000_000)),
        string_shape(16, keys(1_000_000)),
        string_shape(24, keys(1_000_000)),
        string_shape(32, keys(1_000_000)),
    ];
    let others: &[Shape] = if lists_only { &[] } else { &other_shapes };
    for shape in others.iter().chain(&list_shapes) {
        memory_row(&setup, shape)?;
    }
    if args.switch("memory-only") {
        return Ok(());
    }
    let tests = if lists_only {
        LIST_TESTS
    } else {
        COLLECTION_TESTS
    };
    println!();
    println!("## redis-benchmark, 50 clients, -r 100000, damselfly on 1 thread");
    println!("| test | pipeline | server | ops/s | p99 ms | ops per CPU-s |");
    println!("|---|---|---|---|---|---|");
    for pipeline in [1, 16] {
        for kind in [Kind::Redis, Kind::Damselfly] {
            throughput_rows(&setup, kind, pipeline, requests, tests)?;
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
            eprintln!("{e}\n{}", usage("collections", ABOUT, FLAGS));
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("collections: {e}");
        std::process::exit(1);
    }
}
