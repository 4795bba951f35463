//! SORT and geo side by side with redis-server: redis-benchmark on GEOADD, GEOSEARCH (a 10 km
//! radius, COUNT 10, over 10,000 points), SORT of a 100-element list, and SORT BY/GET with
//! patterns over 1,000 weight keys, at pipeline 1 and 16, with each server's CPU time.
//! damselfly runs on one thread, and for the pattern SORT also on two, where such a SORT is a
//! transaction over the whole keyspace (`cmd/family/sort.rs`): that row shows its cost.

// A benchmark owns clocks and sleeps: the engine's bans (clippy.toml) are for the core.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use benches::args::{flag, usage, Args, Flag, DAMSELFLY_BIN, REDIS_BIN};
use benches::command::encode_argv_into;
use benches::procfs;
use benches::redis_benchmark::{self, BenchOptions};
use benches::server::{self, Kind, Server, ServerSpec};

const ABOUT: &str = "damselfly vs redis-server: GEOADD, GEOSEARCH and SORT throughput";
const FLAGS: &[Flag] = &[
    DAMSELFLY_BIN,
    REDIS_BIN,
    flag(
        "requests",
        true,
        "redis-benchmark requests per test (default 200000)",
    ),
];

/// Points in the searched geo set, spread over a 4° x 3° box around Sicily.
const GEO_POINTS: u64 = 10_000;
/// Elements of the sorted list; weight keys `w_<n>` for n below `WEIGHTS`.
const LIST_LEN: u64 = 100;
const WEIGHTS: u64 = 1_000;
/// Commands sent before reading their replies while loading.
const LOAD_BATCH: usize = 100;

/// (label, command) pairs; `__rand_int__` varies per request.
const TESTS: &[(&str, &[&str])] = &[
    (
        "GEOADD",
        &[
            "GEOADD",
            "geo:new",
            "13.__rand_int__",
            "38.__rand_int__",
            "m:__rand_int__",
        ],
    ),
    (
        "GEOSEARCH 10 km COUNT 10",
        &[
            "GEOSEARCH",
            "geo",
            "FROMLONLAT",
            "14",
            "37.5",
            "BYRADIUS",
            "10",
            "km",
            "COUNT",
            "10",
            "ASC",
        ],
    ),
    ("SORT list of 100", &["SORT", "list"]),
    (
        "SORT BY w_* GET w_* (patterns)",
        &[
            "SORT", "list", "BY", "w_*", "GET", "w_*", "LIMIT", "0", "10",
        ],
    ),
];

/// A deterministic spread of numbers (a 64-bit LCG), so both servers load the same data.
fn spread(n: u64) -> u64 {
    n.wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        >> 33
}

fn load_commands() -> Vec<Vec<Vec<u8>>> {
    let mut commands = Vec::new();
    for chunk in (0..GEO_POINTS).collect::<Vec<_>>().chunks(100) {
        let mut argv = vec![b"GEOADD".to_vec(), b"geo".to_vec()];
        for &j in chunk {
            let lon = 12.0 + (spread(j) % 400_000) as f64 / 100_000.0;
            let lat = 36.0 + (spread(j + GEO_POINTS) % 300_000) as f64 / 100_000.0;
            argv.push(format!("{lon:.5}").into_bytes());
            argv.push(format!("{lat:.5}").into_bytes());
            argv.push(format!("p{j}").into_bytes());
        }
        commands.push(argv);
    }
    let mut list = vec![b"RPUSH".to_vec(), b"list".to_vec()];
    list.extend((0..LIST_LEN).map(|j| (spread(j) % WEIGHTS).to_string().into_bytes()));
    commands.push(list);
    for n in 0..WEIGHTS {
        let weight = spread(n + 7) % 10_000;
        commands.push(vec![
            b"SET".to_vec(),
            format!("w_{n}").into_bytes(),
            weight.to_string().into_bytes(),
        ]);
    }
    commands
}

fn load(server: &Server) -> Result<(), String> {
    let mut stream = TcpStream::connect(server.addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 64 * 1024];
    for batch in load_commands().chunks(LOAD_BATCH) {
        let mut out = Vec::new();
        for argv in batch {
            encode_argv_into(argv, &mut out);
        }
        stream.write_all(&out).map_err(|e| e.to_string())?;
        let mut lines = 0;
        while lines < batch.len() {
            let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 || buf[..n].contains(&b'-') {
                return Err(format!("{}: loading failed", server.kind.name()));
            }
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
        }
    }
    Ok(())
}

struct Setup {
    damselfly_bin: PathBuf,
    redis_bin: PathBuf,
    work_dir: PathBuf,
}

fn start(setup: &Setup, kind: Kind, threads: u16) -> Result<Server, String> {
    let (bin, extra_args) = match kind {
        Kind::Redis => (setup.redis_bin.clone(), Vec::new()),
        Kind::Damselfly => (
            setup.damselfly_bin.clone(),
            vec!["--proactor_threads".to_string(), threads.to_string()],
        ),
    };
    Server::start(&ServerSpec {
        kind,
        bin,
        extra_args,
        port: server::free_port()?,
        cpus: None,
        work_dir: setup.work_dir.join(kind.name()),
    })
}

/// Every test at one pipeline depth on a fresh, loaded server.
fn rows(
    setup: &Setup,
    kind: Kind,
    threads: u16,
    pipeline: usize,
    requests: u64,
) -> Result<(), String> {
    let server = start(setup, kind, threads)?;
    load(&server)?;
    let name = match kind {
        Kind::Redis => "redis".to_string(),
        Kind::Damselfly => format!(
            "damselfly ({threads} thread{})",
            if threads > 1 { "s" } else { "" }
        ),
    };
    for (label, command) in TESTS {
        let cpu_before = procfs::cpu_seconds(server.pid).map_err(|e| e.to_string())?;
        let options = BenchOptions {
            requests,
            clients: 50,
            pipeline,
            value_len_bytes: 16,
            key_range: 100_000,
            threads: 1,
            cpus: None,
            time_max: Duration::from_secs(300),
            tests: "",
        };
        let result = redis_benchmark::run_command(server.addr, &options, command)?;
        let cpu = procfs::cpu_seconds(server.pid).map_err(|e| e.to_string())? - cpu_before;
        for row in result {
            println!(
                "| {label} | P{pipeline} | {name} | {:.0} | {:.3} | {:.0} |",
                row.rps,
                row.p99_ms,
                requests as f64 / cpu.max(1e-9),
            );
        }
    }
    server.stop();
    Ok(())
}

fn run(args: &Args) -> Result<(), String> {
    let requests: u64 = args.value("requests", 200_000)?;
    let damselfly_bin = args
        .text("damselfly-bin")
        .unwrap_or("target/release/damselfly");
    let damselfly_bin = std::fs::canonicalize(damselfly_bin)
        .map_err(|e| format!("damselfly binary {damselfly_bin}: {e}"))?;
    let setup = Setup {
        damselfly_bin,
        redis_bin: PathBuf::from(args.text("redis-bin").unwrap_or("/usr/bin/redis-server")),
        work_dir: std::env::temp_dir().join(format!("damselfly-sortgeo-{}", std::process::id())),
    };
    println!("| test | pipeline | server | ops/s | p99 ms | ops per CPU-s |");
    println!("|---|---|---|---|---|---|");
    for pipeline in [1, 16] {
        rows(&setup, Kind::Redis, 1, pipeline, requests)?;
        rows(&setup, Kind::Damselfly, 1, pipeline, requests)?;
        rows(&setup, Kind::Damselfly, 2, pipeline, requests)?;
    }
    let _ = std::fs::remove_dir_all(&setup.work_dir);
    Ok(())
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match Args::parse(&argv, FLAGS) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\n{}", usage("sortgeo", ABOUT, FLAGS));
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("sortgeo: {e}");
        std::process::exit(1);
    }
}
