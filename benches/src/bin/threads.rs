//! `threads`: whether damselfly's threads add throughput on spread keys, beside redis-server in
//! one run (issue 18). redis-benchmark (one thread, `-c 50 -r 100000 -d 256`) runs SET then GET
//! at pipeline 1 and 16 against redis-server, damselfly with its default threads and damselfly
//! with `--proactor_threads 1`, rounds alternating the server order. Each run reads the server's
//! CPU seconds (/proc utime+stime) before and after, so beside ops/s it reports ops per server
//! CPU-second. `--load N`: instead, SET N keys drawn from 1..N into a fresh server each (the
//! growth workload: every insert lands on a growing table).
//!
//! Usage: threads [--requests 400000] [--rounds 2] [--keys 100000] [--pipelines 1,16]
//!                [--load 2000000] [--damselfly-bin PATH] [--servers redis,default,one,two,before]
//!                [--before-bin PATH]

// A load generator owns clocks and threads (see the crate root).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use benches::command::flag_value;
use benches::procfs;
use benches::redis_benchmark::{self, BenchOptions};
use benches::server::{self, Kind, Server, ServerSpec};

const CLIENTS: usize = 50;
const VALUE_LEN_BYTES: usize = 256;
const RUN_TIME_MAX: Duration = Duration::from_secs(300);

/// A server configuration under test.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Config {
    Redis,
    /// Damselfly with its default `--proactor_threads`.
    Default,
    /// Damselfly with `--proactor_threads 1`.
    One,
    /// Damselfly with `--proactor_threads 2`.
    Two,
    /// `--before-bin` with its default threads (an A/B of a change in the same run).
    Before,
}

impl Config {
    fn name(self) -> &'static str {
        match self {
            Config::Redis => "redis",
            Config::Default => "damselfly default",
            Config::One => "damselfly 1 thread",
            Config::Two => "damselfly 2 threads",
            Config::Before => "before, default",
        }
    }

    fn parse(word: &str) -> Option<Config> {
        match word {
            "redis" => Some(Config::Redis),
            "default" => Some(Config::Default),
            "one" => Some(Config::One),
            "two" => Some(Config::Two),
            "before" => Some(Config::Before),
            _ => None,
        }
    }

    fn spec(self, bins: &Bins, work_dir: &Path) -> Result<ServerSpec, String> {
        let damselfly = &bins.damselfly;
        let (kind, bin, extra_args) = match self {
            Config::Redis => (Kind::Redis, PathBuf::from("redis-server"), Vec::new()),
            Config::Default => (Kind::Damselfly, damselfly.to_path_buf(), Vec::new()),
            Config::One => (
                Kind::Damselfly,
                damselfly.to_path_buf(),
                vec!["--proactor_threads".to_string(), "1".to_string()],
            ),
            Config::Two => (
                Kind::Damselfly,
                damselfly.to_path_buf(),
                vec!["--proactor_threads".to_string(), "2".to_string()],
            ),
            Config::Before => (
                Kind::Damselfly,
                bins.before
                    .clone()
                    .ok_or("--servers before needs --before-bin")?,
                Vec::new(),
            ),
        };
        let bin = match kind {
            Kind::Redis => server::which(&bin)?,
            Kind::Damselfly => bin,
        };
        Ok(ServerSpec {
            kind,
            bin,
            extra_args,
            port: server::free_port()?,
            cpus: None,
            work_dir: work_dir.join(self.name().replace(' ', "-")),
        })
    }
}

/// The damselfly binaries under test.
struct Bins {
    damselfly: PathBuf,
    before: Option<PathBuf>,
}

/// One redis-benchmark run's figures.
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    ops_per_s: f64,
    p99_ms: f64,
    server_cpu_s: f64,
    ops: f64,
}

fn bench(server: &Server, test: &'static str, options: &BenchOptions) -> Result<Figures, String> {
    let cpu_before = procfs::cpu_seconds(server.pid).map_err(|e| e.to_string())?;
    let rows = redis_benchmark::run(
        server.addr,
        &BenchOptions {
            tests: test,
            ..options.clone()
        },
    )?;
    let cpu_after = procfs::cpu_seconds(server.pid).map_err(|e| e.to_string())?;
    let row = rows.first().ok_or("redis-benchmark printed no row")?;
    Ok(Figures {
        ops_per_s: row.rps,
        p99_ms: row.p99_ms,
        server_cpu_s: cpu_after - cpu_before,
        ops: options.requests as f64,
    })
}

fn options(requests: u64, pipeline: usize, keys: u64) -> BenchOptions {
    BenchOptions {
        requests,
        clients: CLIENTS,
        pipeline,
        value_len_bytes: VALUE_LEN_BYTES,
        key_range: keys,
        threads: 1,
        cpus: None,
        time_max: RUN_TIME_MAX,
        tests: "set",
    }
}

fn damselfly_bin(args: &[String]) -> PathBuf {
    let flag = flag_value(args, "--damselfly-bin", "");
    if !flag.is_empty() {
        return PathBuf::from(flag);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), PathBuf::from);
    target.join("release").join("damselfly")
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let requests: u64 = flag_value(&args, "--requests", "400000")
        .parse()
        .map_err(|_| "--requests: a number")?;
    let rounds: usize = flag_value(&args, "--rounds", "2")
        .parse()
        .map_err(|_| "--rounds: a number")?;
    let keys: u64 = flag_value(&args, "--keys", "100000")
        .parse()
        .map_err(|_| "--keys: a number")?;
    let load: u64 = flag_value(&args, "--load", "0")
        .parse()
        .map_err(|_| "--load: a number")?;
    let pipelines: Vec<usize> = flag_value(&args, "--pipelines", "1,16")
        .split(',')
        .map(|p| p.parse().map_err(|_| format!("--pipelines: {p}")))
        .collect::<Result<_, _>>()?;
    let configs: Vec<Config> = flag_value(&args, "--servers", "redis,default,one,two")
        .split(',')
        .map(|w| Config::parse(w).ok_or(format!("--servers: {w}?")))
        .collect::<Result<_, _>>()?;
    let before = flag_value(&args, "--before-bin", "");
    let damselfly = Bins {
        damselfly: damselfly_bin(&args),
        before: (!before.is_empty()).then(|| PathBuf::from(before)),
    };
    let work_dir = std::env::temp_dir().join(format!("threads-bench-{}", std::process::id()));
    if load > 0 {
        return run_load(&configs, &damselfly, &work_dir, load, rounds);
    }
    // (config, pipeline, test) → summed figures over rounds.
    let mut sums: Vec<(Config, usize, &str, Figures)> = Vec::new();
    for round in 0..rounds {
        let mut order = configs.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for &config in &order {
            let server = Server::start(&config.spec(&damselfly, &work_dir)?)?;
            for &pipeline in &pipelines {
                for test in ["set", "get"] {
                    let f = bench(&server, test, &options(requests, pipeline, keys))?;
                    eprintln!(
                        "# round {round} {:<20} P{pipeline:<3} {test}: {:>10.0} ops/s p99 {:.3} ms, \
                         {:.2} server CPU-s",
                        config.name(),
                        f.ops_per_s,
                        f.p99_ms,
                        f.server_cpu_s
                    );
                    add(&mut sums, config, pipeline, test, f);
                }
            }
            server.stop();
        }
    }
    report(&sums, &configs, &pipelines, rounds);
    Ok(())
}

fn add(
    sums: &mut Vec<(Config, usize, &'static str, Figures)>,
    config: Config,
    pipeline: usize,
    test: &'static str,
    f: Figures,
) {
    match sums
        .iter_mut()
        .find(|s| s.0 == config && s.1 == pipeline && s.2 == test)
    {
        Some(s) => {
            s.3.ops_per_s += f.ops_per_s;
            s.3.p99_ms = s.3.p99_ms.max(f.p99_ms);
            s.3.server_cpu_s += f.server_cpu_s;
            s.3.ops += f.ops;
        }
        None => sums.push((config, pipeline, test, f)),
    }
}

fn report(
    sums: &[(Config, usize, &str, Figures)],
    configs: &[Config],
    pipelines: &[usize],
    rounds: usize,
) {
    let get = |config: Config, pipeline: usize, test: &str| {
        sums.iter()
            .find(|s| s.0 == config && s.1 == pipeline && s.2 == test)
            .map(|s| s.3)
    };
    println!(
        "| server | workload | ops/s (mean of {rounds}) | ×redis | p99 ms (worst) | ops per server CPU-s | ×redis |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &pipeline in pipelines {
        for test in ["set", "get"] {
            let redis = get(Config::Redis, pipeline, test);
            for &config in configs {
                let Some(f) = get(config, pipeline, test) else {
                    continue;
                };
                let ops_per_cpu = f.ops / f.server_cpu_s.max(0.01);
                let (ratio, cpu_ratio) = match redis {
                    Some(r) => (
                        format!("{:.2}", f.ops_per_s / r.ops_per_s),
                        format!("{:.2}", ops_per_cpu / (r.ops / r.server_cpu_s.max(0.01))),
                    ),
                    None => ("–".into(), "–".into()),
                };
                println!(
                    "| {} | {} P{pipeline} | {:.0} | {ratio} | {:.2} | {:.0} | {cpu_ratio} |",
                    config.name(),
                    test.to_uppercase(),
                    f.ops_per_s / rounds as f64,
                    f.p99_ms,
                    ops_per_cpu,
                );
            }
        }
    }
}

/// SET `load` keys from 1..load into a fresh server of each config, `rounds` times.
fn run_load(
    configs: &[Config],
    damselfly: &Bins,
    work_dir: &Path,
    load: u64,
    rounds: usize,
) -> Result<(), String> {
    let mut sums: Vec<(Config, usize, &str, Figures)> = Vec::new();
    for round in 0..rounds {
        let mut order = configs.to_vec();
        if round % 2 == 1 {
            order.reverse();
        }
        for &config in &order {
            let server = Server::start(&config.spec(damselfly, work_dir)?)?;
            let f = bench(&server, "set", &options(load, 16, load))?;
            eprintln!(
                "# round {round} {:<20} load {load}: {:>10.0} ops/s p99 {:.3} ms, {:.2} server CPU-s",
                config.name(),
                f.ops_per_s,
                f.p99_ms,
                f.server_cpu_s
            );
            add(&mut sums, config, 16, "set", f);
            server.stop();
        }
    }
    println!("SET of {load} keys from empty (random over 1..{load}, P16, 50 conns):");
    report(&sums, configs, &[16], rounds);
    Ok(())
}
