//! The append-only file side by side with redis-server: SET throughput with `appendonly yes`
//! under `appendfsync always` and `everysec`, at pipeline 1 and 16 (redis-benchmark, 50
//! clients, random keys over `--keys`), each server writing into its own fresh directory.
//! `always` is where group commit shows: one fsync answers every client whose writes it covers.

// A benchmark owns clocks, threads and sleeps: the engine's bans (clippy.toml) are for the core.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Duration;

use benches::args::{flag, usage, Args, Flag, DAMSELFLY_BIN, REDIS_BIN};
use benches::redis_benchmark::{self, BenchOptions};
use benches::server::{self, Kind, Server, ServerSpec};

const ABOUT: &str = "damselfly vs redis-server: SET throughput with an append-only file";
const FLAGS: &[Flag] = &[
    DAMSELFLY_BIN,
    REDIS_BIN,
    flag("requests", true, "SETs per run (default 200000)"),
    flag("keys", true, "key range (default 100000)"),
    flag(
        "threads",
        true,
        "damselfly --proactor_threads (default: its own default)",
    ),
    flag(
        "rounds",
        true,
        "alternated rounds, the best kept (default 2)",
    ),
];

fn main() -> Result<(), String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args =
        Args::parse(&argv, FLAGS).map_err(|e| format!("{e}\n{}", usage("aof", ABOUT, FLAGS)))?;
    let requests: u64 = args.value("requests", 200_000)?;
    let keys: u64 = args.value("keys", 100_000)?;
    let rounds: usize = args.value("rounds", 2)?;
    let threads = args.text("threads").map(str::to_string);
    let damselfly_bin = server::which(std::path::Path::new(
        args.text("damselfly-bin")
            .unwrap_or("target/release/damselfly"),
    ))?;
    let redis_bin = server::which(std::path::Path::new(
        args.text("redis-bin").unwrap_or("redis-server"),
    ))?;
    println!("| appendfsync | pipeline | redis SET/s | damselfly SET/s | ratio |");
    println!("|---|---|---|---|---|");
    for fsync in ["always", "everysec"] {
        for pipeline in [1usize, 16] {
            let mut best = [0f64; 2];
            for _ in 0..rounds {
                for (i, kind) in [Kind::Redis, Kind::Damselfly].into_iter().enumerate() {
                    let work_dir = std::env::temp_dir().join(format!(
                        "damselfly-aof-bench-{}-{}",
                        kind.name(),
                        std::process::id()
                    ));
                    let _ = std::fs::remove_dir_all(&work_dir);
                    std::fs::create_dir_all(&work_dir).map_err(|e| e.to_string())?;
                    let mut extra = vec![
                        "--appendonly".to_string(),
                        "yes".to_string(),
                        "--appendfsync".to_string(),
                        fsync.to_string(),
                    ];
                    let bin = match kind {
                        Kind::Redis => redis_bin.clone(),
                        Kind::Damselfly => {
                            if let Some(t) = &threads {
                                extra.extend(["--proactor_threads".to_string(), t.clone()]);
                            }
                            damselfly_bin.clone()
                        }
                    };
                    let spec = ServerSpec {
                        kind,
                        bin,
                        extra_args: extra,
                        port: server::free_port()?,
                        cpus: None,
                        work_dir: work_dir.clone(),
                    };
                    let running = Server::start(&spec)?;
                    let options = BenchOptions {
                        requests,
                        clients: 50,
                        pipeline,
                        value_len_bytes: 64,
                        key_range: keys,
                        threads: 1,
                        cpus: None,
                        time_max: Duration::from_secs(600),
                        tests: "set",
                    };
                    let rows = redis_benchmark::run(running.addr, &options)?;
                    let rps = rows.first().map_or(0.0, |r| r.rps);
                    best[i] = best[i].max(rps);
                    running.stop();
                    let _ = std::fs::remove_dir_all(&work_dir);
                }
            }
            let ratio = if best[0] > 0.0 {
                best[1] / best[0]
            } else {
                0.0
            };
            println!(
                "| {fsync} | {pipeline} | {:.0} | {:.0} | {ratio:.2} |",
                best[0], best[1]
            );
        }
    }
    Ok(())
}
