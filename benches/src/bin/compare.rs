//! `compare`: damselfly against Debian's redis-server on loopback, same workloads, same client.
//!
//! Load mode (the default): start both servers (pinned with `taskset -c` under `--pin`), load
//! the key range into each with pipelined SETs so GETs hit, then for each round and workload run
//! the load generator against each server in turn. Rounds alternate the order, A B then B A, so
//! drift (thermal, neighbours, page cache) falls on both alike. Then redis-benchmark runs against
//! each, as the figure users know. Memory mode (`--memory`): a fresh server each, N keys loaded
//! by the same loader, RSS growth per key. `--smoke`: every workload for about a second against
//! both, exiting 0 only if both served without error. See `--help` for every flag.
//!
//! Multi-key workloads: `mset` and `mget` send K keys per command (`--multi-keys`, default 10),
//! reported in keys/s too. `--sweep-hot 100000,1000,10,1` runs the contention sweep instead of
//! `--workloads`: one MSET workload per hot set size, `--hot-keys-per-command` of each command's
//! K keys drawn from the hot set, and a closing table of throughput against contention.

// A load generator owns clocks and threads (see the crate root).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::thread;
use std::time::Duration;

use benches::args::{self, flag, Args, Flag};
use benches::load;
use benches::procfs;
use benches::redis_benchmark::{self, BenchOptions};
use benches::report::{self, Series};
use benches::server::{self, Kind, Server, ServerSpec};
use benches::workload::{Fanout, KeyDist, MultiKey, Pacing, Workload};

const ABOUT: &str = "damselfly vs redis-server: throughput, latency, CPU per op, memory per key";

const FLAGS: &[Flag] = &[
    flag(
        "smoke",
        false,
        "every workload ~1 s against both servers; exit 0 iff no errors",
    ),
    flag(
        "memory",
        false,
        "memory mode: RSS growth per key after loading --keys keys",
    ),
    flag(
        "servers",
        true,
        "servers to run, comma-separated (default redis,damselfly)",
    ),
    flag(
        "workloads",
        true,
        "set,get,mixed,pipeline,zipf,open,mset,mget (default: all)",
    ),
    flag(
        "multi-keys",
        true,
        "keys per MSET/MGET of the multi-key workloads and the sweep (default 10)",
    ),
    flag(
        "sweep-hot",
        true,
        "contention sweep: hot set sizes, comma-separated (replaces --workloads)",
    ),
    flag(
        "hot-keys-per-command",
        true,
        "sweep: keys of each MSET drawn from the hot set (default 1)",
    ),
    flag(
        "rounds",
        true,
        "rounds of every workload on every server (default 5)",
    ),
    flag("duration", true, "seconds per run (default 10)"),
    flag("clients", true, "connections in all (default 50)"),
    flag("threads", true, "load-generator threads (default 2)"),
    flag(
        "pipeline",
        true,
        "commands per batch for most workloads (default 1)",
    ),
    flag(
        "deep-pipeline",
        true,
        "pipeline depth of the `pipeline` workload (default 16)",
    ),
    flag(
        "ratio",
        true,
        "SET:GET ratio of mixed workloads (default 1:10)",
    ),
    flag("data-size", true, "value size in bytes (default 32)"),
    flag(
        "key-range",
        true,
        "keys 0..N, loaded before the runs (default 100000)",
    ),
    flag(
        "zipf",
        true,
        "exponent of the `zipf` workload (default 0.99)",
    ),
    flag(
        "rate",
        true,
        "ops/s of the open-loop `open` workload (default 20000)",
    ),
    flag("keys", true, "memory mode: keys to load (default 1000000)"),
    flag(
        "churn",
        false,
        "memory mode: then delete every other key and load all again, RSS after each",
    ),
    flag("no-redis-benchmark", false, "skip redis-benchmark"),
    flag(
        "bench-requests",
        true,
        "redis-benchmark -n (default 1000000)",
    ),
    flag(
        "pin",
        false,
        "pin servers and load generator to separate CPUs",
    ),
    flag(
        "server-cpus",
        true,
        "taskset -c list for servers under --pin (default 0)",
    ),
    flag(
        "client-cpus",
        true,
        "taskset -c list for the load generator under --pin (default 1)",
    ),
    flag(
        "damselfly-bin",
        true,
        "damselfly binary (default <target>/release/damselfly)",
    ),
    flag(
        "redis-bin",
        true,
        "redis-server binary (default: redis-server on PATH)",
    ),
    flag(
        "damselfly-args",
        true,
        "extra damselfly args, e.g. \"--proactor_threads 2\"",
    ),
    flag(
        "redis-args",
        true,
        "extra redis-server args, e.g. \"--io-threads 2\"",
    ),
    flag("help", false, "this text"),
];

/// Everything a run needs, settled from the flags.
struct Options {
    smoke: bool,
    memory: bool,
    kinds: Vec<Kind>,
    workloads: Vec<Workload>,
    rounds: usize,
    memory_keys: u64,
    churn: bool,
    bench: Option<BenchOptions>,
    server_cpus: Option<String>,
    client_cpus: Option<String>,
    damselfly_bin: PathBuf,
    redis_bin: PathBuf,
    damselfly_args: Vec<String>,
    redis_args: Vec<String>,
    /// The base workload's knobs, for the loader and the report header.
    base: Workload,
    /// The workloads are a contention sweep (`--sweep-hot`): print the closing table.
    sweep: bool,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let outcome = Args::parse(&argv, FLAGS).and_then(|args| {
        if args.switch("help") {
            println!("{}", args::usage("compare", ABOUT, FLAGS));
            return Ok(true);
        }
        let options = options(&args)?;
        println!("# {}", machine_line());
        println!("# command: compare {}", argv.join(" "));
        run(&options)
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::from(2)
        }
    }
}

fn options(args: &Args) -> Result<Options, String> {
    let smoke = args.switch("smoke");
    let base = base_workload(args, smoke)?;
    let kinds = parse_kinds(args.text("servers").unwrap_or("redis,damselfly"))?;
    let names = args
        .text("workloads")
        .unwrap_or("set,get,mixed,pipeline,zipf,open,mset,mget");
    let sweep = args.text("sweep-hot");
    let workloads = match sweep {
        Some(sizes) => sweep_workloads(sizes, &base, args)?,
        None => names
            .split(',')
            .map(|name| named_workload(name, &base, args, smoke))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let pin = args.switch("pin");
    let cpus = |name: &str, default: &str| pin.then(|| args.text(name).unwrap_or(default).into());
    let client_cpus: Option<String> = cpus("client-cpus", "1");
    let bench = (!args.switch("no-redis-benchmark")).then(|| -> Result<BenchOptions, String> {
        Ok(BenchOptions {
            requests: args.value("bench-requests", if smoke { 2_000 } else { 1_000_000 })?,
            clients: base.clients,
            pipeline: base.pipeline,
            value_len_bytes: base.value_len_bytes,
            key_range: base.key_range,
            threads: base.threads,
            cpus: client_cpus.clone(),
            time_max: Duration::from_secs(if smoke { 10 } else { 300 }),
            tests: "set,get",
        })
    });
    Ok(Options {
        smoke,
        memory: args.switch("memory"),
        workloads,
        rounds: args.value("rounds", if smoke { 1 } else { 5 })?,
        memory_keys: args.value("keys", if smoke { 10_000 } else { 1_000_000 })?,
        churn: args.switch("churn"),
        bench: bench.transpose()?,
        server_cpus: cpus("server-cpus", "0"),
        client_cpus,
        damselfly_bin: match kinds.contains(&Kind::Damselfly) {
            true => damselfly_bin(args.text("damselfly-bin"))?,
            false => PathBuf::new(),
        },
        redis_bin: benches::server::which(std::path::Path::new(
            args.text("redis-bin").unwrap_or("redis-server"),
        ))?,
        damselfly_args: args::split_words(args.text("damselfly-args")),
        redis_args: args::split_words(args.text("redis-args")),
        kinds,
        base,
        sweep: sweep.is_some(),
    })
}

fn base_workload(args: &Args, smoke: bool) -> Result<Workload, String> {
    let (set_ratio, get_ratio) = args::parse_ratio(args.text("ratio").unwrap_or("1:10"))?;
    let seconds: f64 = args.value("duration", if smoke { 1.0 } else { 10.0 })?;
    let workload = Workload {
        name: "base".into(),
        clients: args.value("clients", if smoke { 4 } else { 50 })?,
        threads: args.value("threads", 2)?,
        pipeline: args.value("pipeline", 1)?,
        set_ratio,
        get_ratio,
        value_len_bytes: args.value("data-size", 32)?,
        key_range: args.value("key-range", if smoke { 1_000 } else { 100_000 })?,
        keys: KeyDist::Uniform,
        fanout: Fanout::Single,
        pacing: Pacing::Closed,
        duration: Duration::from_secs_f64(seconds),
        // The clock bounds a run; this bound only guards against a runaway fast path.
        requests_max: 1_000_000_000,
        seed: 42,
    };
    workload.validate()?;
    Ok(workload)
}

fn named_workload(
    name: &str,
    base: &Workload,
    args: &Args,
    smoke: bool,
) -> Result<Workload, String> {
    let mut w = Workload {
        name: name.to_string(),
        ..base.clone()
    };
    match name {
        "set" => (w.set_ratio, w.get_ratio) = (1, 0),
        "get" => (w.set_ratio, w.get_ratio) = (0, 1),
        "mixed" => {}
        "pipeline" => w.pipeline = args.value("deep-pipeline", 16)?,
        "zipf" => {
            w.keys = KeyDist::Zipf {
                exponent: args.value("zipf", 0.99)?,
            }
        }
        "open" => {
            w.pacing = Pacing::Open {
                ops_per_sec: args.value("rate", if smoke { 2_000 } else { 20_000 })?,
            }
        }
        "mset" | "mget" => {
            let keys_per_command = args.value("multi-keys", 10)?;
            w.fanout = Fanout::Multi(MultiKey::uniform(keys_per_command));
            (w.set_ratio, w.get_ratio) = if name == "mset" { (1, 0) } else { (0, 1) };
        }
        other => return Err(format!("unknown workload {other:?}")),
    }
    w.validate()?;
    Ok(w)
}

/// One MSET workload per hot set size in `sizes` (a comma-separated list).
fn sweep_workloads(sizes: &str, base: &Workload, args: &Args) -> Result<Vec<Workload>, String> {
    let keys_per_command = args.value("multi-keys", 10)?;
    let hot_keys_per_command = args.value("hot-keys-per-command", 1)?;
    sizes
        .split(',')
        .map(|size| {
            let hot_set_keys: u64 = size
                .parse()
                .map_err(|_| format!("--sweep-hot: bad hot set size {size:?}"))?;
            let w = Workload {
                name: format!("mset-hot{hot_set_keys}"),
                set_ratio: 1,
                get_ratio: 0,
                fanout: Fanout::Multi(MultiKey {
                    keys_per_command,
                    hot_keys_per_command,
                    hot_set_keys,
                }),
                ..base.clone()
            };
            w.validate()?;
            Ok(w)
        })
        .collect()
}

fn parse_kinds(text: &str) -> Result<Vec<Kind>, String> {
    text.split(',')
        .map(|name| match name {
            "redis" => Ok(Kind::Redis),
            "damselfly" => Ok(Kind::Damselfly),
            other => Err(format!("unknown server {other:?} (redis, damselfly)")),
        })
        .collect()
}

fn run(options: &Options) -> Result<bool, String> {
    if let Some(cpus) = &options.client_cpus {
        // Before any load thread exists, so every one inherits the mask.
        server::pin_self(cpus)?;
    }
    let work_dir = std::env::temp_dir().join(format!("damselfly-compare-{}", std::process::id()));
    let outcome = if options.memory {
        memory_mode(options, &work_dir)
    } else {
        load_mode(options, &work_dir)
    };
    let _ = std::fs::remove_dir_all(&work_dir);
    outcome
}

fn spec(options: &Options, kind: Kind, work_dir: &Path) -> Result<ServerSpec, String> {
    let (bin, extra_args) = match kind {
        Kind::Redis => (&options.redis_bin, &options.redis_args),
        Kind::Damselfly => (&options.damselfly_bin, &options.damselfly_args),
    };
    Ok(ServerSpec {
        kind,
        bin: bin.clone(),
        extra_args: extra_args.clone(),
        port: server::free_port()?,
        cpus: options.server_cpus.clone(),
        work_dir: work_dir.join(kind.name()),
    })
}

fn start_all(options: &Options, work_dir: &Path) -> Result<Vec<Server>, String> {
    let mut servers = Vec::new();
    for &kind in &options.kinds {
        let spec = spec(options, kind, work_dir)?;
        let server = Server::start(&spec)?;
        println!(
            "# {} pid {} on {} ({})",
            kind.name(),
            server.pid,
            server.addr,
            spec.bin.display()
        );
        servers.push(server);
    }
    Ok(servers)
}

/// Loads `keys` keys with the shared loader and checks DBSIZE saw them all.
fn load_keys(server: &Server, keys: u64, value_len_bytes: usize) -> Result<(), String> {
    let loader = Workload::loader(keys, value_len_bytes, Duration::from_secs(300));
    let report = load::run(server.addr, &loader)?;
    if report.errors > 0 || report.ops != keys {
        return Err(format!(
            "loading {} failed: {} of {keys} SETs ok, {} errors (first: {:?})",
            server.kind.name(),
            report.ops,
            report.errors,
            report.first_error
        ));
    }
    let reply = server.command(b"*1\r\n$6\r\nDBSIZE\r\n")?;
    let expected = format!(":{keys}\r\n");
    if reply != expected.as_bytes() {
        let got = String::from_utf8_lossy(&reply);
        return Err(format!(
            "{}: DBSIZE {got:?} after loading {keys} keys",
            server.kind.name()
        ));
    }
    Ok(())
}

fn load_mode(options: &Options, work_dir: &Path) -> Result<bool, String> {
    let servers = start_all(options, work_dir)?;
    for server in &servers {
        load_keys(server, options.base.key_range, options.base.value_len_bytes)?;
    }
    let mut series: Vec<Vec<Series>> = options
        .workloads
        .iter()
        .map(|_| servers.iter().map(|s| Series::new(s.kind.name())).collect())
        .collect();
    let mut tx_counts = vec![vec![TxCounts::default(); servers.len()]; options.workloads.len()];
    let mut errors = 0;
    for round in 0..options.rounds {
        for (w, workload) in options.workloads.iter().enumerate() {
            for i in round_order(servers.len(), round) {
                let tx_before = tx_counters(&servers[i])?;
                let (report, cpu_seconds) = run_one(&servers[i], workload)?;
                if let (Some(before), Some(after)) = (tx_before, tx_counters(&servers[i])?) {
                    tx_counts[w][i].add(before, after, report.ops);
                }
                errors += report.errors;
                if let Some(e) = &report.first_error {
                    eprintln!(
                        "! {} {}: {} errors, first: {e}",
                        workload.name,
                        servers[i].kind.name(),
                        report.errors
                    );
                }
                series[w][i].add(&report, cpu_seconds);
            }
        }
    }
    print_load_results(options, &series);
    print_tx_counts(options, &servers, &tx_counts);
    if let Some(bench) = &options.bench {
        errors += run_redis_benchmark(&servers, bench)?;
    }
    for server in servers {
        server.stop();
    }
    finish(options, errors)
}

/// A damselfly server's VLL scheduling counters over a workload's runs (INFO stats).
#[derive(Clone, Copy, Debug, Default)]
struct TxCounts {
    refused: u64,
    out_of_order: u64,
    commands: u64,
}

impl TxCounts {
    fn add(&mut self, before: TxCounts, after: TxCounts, commands: u64) {
        self.refused += after.refused.saturating_sub(before.refused);
        self.out_of_order += after.out_of_order.saturating_sub(before.out_of_order);
        self.commands += commands;
    }
}

/// The VLL counters of INFO stats (damselfly only; None for a server without them).
fn tx_counters(server: &Server) -> Result<Option<TxCounts>, String> {
    if server.kind != Kind::Damselfly {
        return Ok(None);
    }
    let reply = server.command(b"*2\r\n$4\r\nINFO\r\n$5\r\nstats\r\n")?;
    let text = String::from_utf8_lossy(&reply);
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|n| n.trim().parse().ok())
    };
    Ok(field("tx_schedules_refused")
        .zip(field("tx_schedules_out_of_order"))
        .map(|(refused, out_of_order)| TxCounts {
            refused,
            out_of_order,
            commands: 0,
        }))
}

/// Refused and out-of-order VLL schedules per command, by workload (damselfly only).
fn print_tx_counts(options: &Options, servers: &[Server], counts: &[Vec<TxCounts>]) {
    let Some(d) = servers.iter().position(|s| s.kind == Kind::Damselfly) else {
        return;
    };
    println!();
    println!("## damselfly VLL schedules per command (INFO stats, all rounds)");
    println!(
        "{:>16} {:>12} {:>14} {:>14}",
        "workload", "commands", "refused/cmd", "out-of-order/cmd"
    );
    for (workload, row) in options.workloads.iter().zip(counts) {
        let c = row[d];
        let per = |n: u64| n as f64 / c.commands.max(1) as f64;
        println!(
            "{:>16} {:>12} {:>14.4} {:>14.4}",
            workload.name,
            c.commands,
            per(c.refused),
            per(c.out_of_order)
        );
    }
}

/// Server indexes for `round`: in order on even rounds, reversed on odd (A B, B A, …).
fn round_order(servers_len: usize, round: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..servers_len).collect();
    if round % 2 == 1 {
        order.reverse();
    }
    order
}

fn run_one(server: &Server, workload: &Workload) -> Result<(load::LoadReport, f64), String> {
    let cpu = || procfs::cpu_seconds(server.pid).map_err(|e| format!("cpu of {}: {e}", server.pid));
    let before = cpu()?;
    let report = load::run(server.addr, workload)?;
    let cpu_seconds = cpu()? - before;
    Ok((report, cpu_seconds))
}

fn print_load_results(options: &Options, series: &[Vec<Series>]) {
    for (workload, rows) in options.workloads.iter().zip(series) {
        println!();
        println!("## {}: {}", workload.name, workload.describe());
        println!(
            "# {} rounds x {:?} per server",
            options.rounds, workload.duration
        );
        println!("{}", report::TABLE_HEADER);
        let summaries: Vec<report::Summary> = rows.iter().map(Series::summary).collect();
        for summary in &summaries {
            println!("{}", report::format_row(summary));
        }
        let find = |name: &str| summaries.iter().find(|s| s.server == name);
        if let (Some(d), Some(r)) = (find("damselfly"), find("redis")) {
            println!("{}", report::format_ratio(d, r));
        }
        let keys_per_command = workload.keys_per_command();
        if keys_per_command > 1 {
            for summary in &summaries {
                let keys_per_sec = summary.ops_per_sec_median * keys_per_command as f64;
                println!("# {} keys/s (med): {keys_per_sec:.0}", summary.server);
            }
        }
    }
    if options.sweep {
        print_sweep(options, series);
    }
}

/// The contention sweep in one table: median ops/s and CPU per op by hot set size and server.
/// (CPU per op is the steadier figure on a shared machine: it does not count time descheduled.)
fn print_sweep(options: &Options, series: &[Vec<Series>]) {
    println!();
    println!("## contention sweep: MSET/s (median) and server CPU s/Mops by hot set size");
    println!("# contention = hot keys per command / hot set size");
    let servers: Vec<&str> = series
        .first()
        .map(|rows| rows.iter().map(|s| s.server).collect())
        .unwrap_or_default();
    let mut header = format!("{:>10} {:>11}", "hot keys", "contention");
    for server in &servers {
        header.push_str(&format!(
            " {:>16} {:>10}",
            format!("{server} ops/s"),
            "cpu s/Mops"
        ));
    }
    println!("{header}   damselfly/redis ops/s");
    for (workload, rows) in options.workloads.iter().zip(series) {
        let Fanout::Multi(multi) = workload.fanout else {
            continue;
        };
        let summaries: Vec<report::Summary> = rows.iter().map(Series::summary).collect();
        let contention = multi.hot_keys_per_command as f64 / multi.hot_set_keys as f64;
        let mut line = format!("{:>10} {contention:>11.5}", multi.hot_set_keys);
        for summary in &summaries {
            line.push_str(&format!(
                " {:>16.0} {:>10.2}",
                summary.ops_per_sec_median, summary.cpu_s_per_mops
            ));
        }
        let find = |name| summaries.iter().find(|s| s.server == name);
        if let (Some(d), Some(r)) = (find("damselfly"), find("redis")) {
            let ratio = d.ops_per_sec_median / r.ops_per_sec_median.max(1e-9);
            line.push_str(&format!("   {ratio:.2}x"));
        }
        println!("{line}");
    }
}

/// Runs redis-benchmark against each server; returns the count of failed tests (none parsed).
fn run_redis_benchmark(servers: &[Server], bench: &BenchOptions) -> Result<u64, String> {
    println!();
    println!(
        "## redis-benchmark -t set,get -n {} -c {} -P {} -d {} -r {} --threads {}",
        bench.requests,
        bench.clients,
        bench.pipeline,
        bench.value_len_bytes,
        bench.key_range,
        bench.threads
    );
    println!("server         test          rps   p50(ms)   p99(ms)");
    let mut failures = 0;
    for server in servers {
        match redis_benchmark::run(server.addr, bench) {
            Ok(rows) if !rows.is_empty() => {
                for row in rows {
                    println!(
                        "{:<14} {:<4} {:>12.0} {:>9.3} {:>9.3}",
                        server.kind.name(),
                        row.test,
                        row.rps,
                        row.p50_ms,
                        row.p99_ms
                    );
                }
            }
            Ok(_) => {
                eprintln!("! redis-benchmark against {}: no rows", server.kind.name());
                failures += 1;
            }
            Err(e) => {
                eprintln!("! redis-benchmark against {}: {e}", server.kind.name());
                failures += 1;
            }
        }
    }
    Ok(failures)
}

/// Time for a server to settle after a load before its RSS is read: the damselfly server
/// returns free allocator pages each second, Redis's allocator purges in the background.
const MEMORY_SETTLE: Duration = Duration::from_millis(3000);

fn memory_mode(options: &Options, work_dir: &Path) -> Result<bool, String> {
    let keys = options.memory_keys;
    let value_len_bytes = options.base.value_len_bytes;
    println!("## memory: {keys} keys of {value_len_bytes} B values, pipelined SETs, fresh servers");
    println!(
        "server         step          rss before(B)   rss after(B)   bytes/key  used_memory/key"
    );
    for &kind in &options.kinds {
        let server = Server::start(&spec(options, kind, work_dir)?)?;
        let rss = || procfs::rss_bytes(server.pid).map_err(|e| format!("rss: {e}"));
        // Let start-up allocations (and lazily touched pages) settle before the baseline.
        thread::sleep(Duration::from_millis(300));
        let before = rss()?;
        let report = |step: &str, live_keys: u64| -> Result<(), String> {
            thread::sleep(MEMORY_SETTLE);
            let after = rss()?;
            let per_key = (after as f64 - before as f64) / live_keys.max(1) as f64;
            let used = used_memory_bytes(&server)? as f64 / live_keys.max(1) as f64;
            println!(
                "{:<14} {step:<12} {before:>14} {after:>14} {per_key:>11.1} {used:>16.1}",
                kind.name()
            );
            Ok(())
        };
        load_keys(&server, keys, value_len_bytes)?;
        report("fill", keys)?;
        if options.churn {
            delete_every_other_key(&server, keys)?;
            report("delete half", keys - keys.div_ceil(2))?;
            load_keys(&server, keys, value_len_bytes)?;
            report("fill again", keys)?;
        }
        server.stop();
    }
    Ok(true)
}

/// INFO's used_memory.
fn used_memory_bytes(server: &Server) -> Result<u64, String> {
    let reply = server.command(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")?;
    let text = String::from_utf8_lossy(&reply);
    text.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("{}: no used_memory in INFO", server.kind.name()))
}

/// DEL key:0, key:2, key:4 … in pipelined batches, reading every reply.
fn delete_every_other_key(server: &Server, keys: u64) -> Result<(), String> {
    use std::io::{Read, Write};
    const BATCH: u64 = 1000;
    let mut stream = std::net::TcpStream::connect(server.addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut index = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while index < keys {
        let mut out = Vec::new();
        let mut sent = 0;
        while sent < BATCH && index < keys {
            let key = format!("key:{index}");
            out.extend_from_slice(
                format!("*2\r\n$3\r\nDEL\r\n${}\r\n{key}\r\n", key.len()).as_bytes(),
            );
            index += 2;
            sent += 1;
        }
        stream.write_all(&out).map_err(|e| e.to_string())?;
        // Each reply is ":1\r\n" or ":0\r\n": count line ends.
        let mut replies = 0;
        while replies < sent {
            let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed during DEL".into());
            }
            replies += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
    Ok(())
}

fn finish(options: &Options, errors: u64) -> Result<bool, String> {
    println!();
    if errors > 0 {
        println!("FAILED: {errors} errors (see the lines starting with '!')");
        return Ok(false);
    }
    let what = if options.smoke { "smoke" } else { "run" };
    println!("{what} ok: every server served every workload without errors");
    Ok(true)
}

/// The damselfly binary: the flag's path, or the release build, built now if it is missing.
fn damselfly_bin(flag: Option<&str>) -> Result<PathBuf, String> {
    if let Some(path) = flag {
        return Ok(PathBuf::from(path));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), PathBuf::from);
    let bin = target.join("release").join("damselfly");
    if bin.exists() {
        return Ok(bin);
    }
    eprintln!(
        "# {} missing: cargo build --release -p damselfly-server",
        bin.display()
    );
    let status = Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args([
            "build",
            "--release",
            "-p",
            "damselfly-server",
            "--bin",
            "damselfly",
        ])
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if status.success() && bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "no damselfly binary at {} and the build failed; pass --damselfly-bin PATH \
                     or --servers redis",
            bin.display()
        ))
    }
}

fn machine_line() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']))
        })
        .unwrap_or("unknown CPU");
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "machine: {cpus} CPUs, {model}, kernel {}; commit {commit}",
        kernel.trim()
    )
}
