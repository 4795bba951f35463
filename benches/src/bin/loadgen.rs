//! `loadgen`: the load generator on its own, memtier_benchmark-style, against one server on
//! loopback. `--load` writes every key of the range once (pipelined SETs) instead of running a
//! mix; callgrind.sh uses both to preload a server and then send it N pipelined GETs.

// A load generator owns clocks and threads (see the crate root).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use benches::args::{self, flag, Args, Flag};
use benches::load;
use benches::server;
use benches::workload::{Fanout, KeyDist, MultiKey, Pacing, Workload};

const ABOUT: &str = "a pipelining RESP load generator (127.0.0.1 only)";

const FLAGS: &[Flag] = &[
    flag("port", true, "server port on 127.0.0.1 (default 6379)"),
    flag("clients", true, "connections in all (default 50)"),
    flag("threads", true, "threads (default 2)"),
    flag("pipeline", true, "commands per batch (default 1)"),
    flag("ratio", true, "SET:GET (default 1:10)"),
    flag("data-size", true, "value bytes (default 32)"),
    flag("key-range", true, "keys 0..N (default 100000)"),
    flag(
        "zipf",
        true,
        "Zipf exponent for keys (default: uniform keys)",
    ),
    flag(
        "rate",
        true,
        "open loop at this many ops/s in all (default: closed loop)",
    ),
    flag("duration", true, "seconds (default 10)"),
    flag(
        "requests",
        true,
        "stop after this many commands in all (default 1000000000)",
    ),
    flag(
        "multi-keys",
        true,
        "MSET/MGET of this many keys per command instead of SET/GET",
    ),
    flag(
        "hot-set",
        true,
        "with --multi-keys: the hot set is keys 0..N (default 1)",
    ),
    flag(
        "hot-keys-per-command",
        true,
        "with --multi-keys: keys per command drawn from the hot set (default 0)",
    ),
    flag("load", false, "write each key of the range once, then stop"),
    flag("cpus", true, "pin the generator with taskset -c"),
    flag("help", false, "this text"),
];

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match Args::parse(&argv, FLAGS).and_then(|args| run(&args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    if args.switch("help") {
        println!("{}", args::usage("loadgen", ABOUT, FLAGS));
        return Ok(true);
    }
    if let Some(cpus) = args.text("cpus") {
        server::pin_self(cpus)?;
    }
    let workload = workload(args)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], args.value("port", 6379u16)?));
    println!("# {}", workload.describe());
    let report = load::run(addr, &workload)?;
    let h = &report.histogram;
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let keys_per_sec = report.ops_per_sec() * workload.keys_per_command() as f64;
    println!(
        "ops {} in {:.3} s: {:.0} ops/s ({keys_per_sec:.0} keys/s); \
         p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us; errors {}",
        report.ops,
        report.elapsed.as_secs_f64(),
        report.ops_per_sec(),
        us(0.5),
        us(0.99),
        us(0.999),
        report.errors
    );
    if let Some(e) = &report.first_error {
        eprintln!("loadgen: first error: {e}");
    }
    Ok(report.errors == 0)
}

fn workload(args: &Args) -> Result<Workload, String> {
    let key_range = args.value("key-range", 100_000)?;
    let value_len_bytes = args.value("data-size", 32)?;
    let duration = Duration::from_secs_f64(args.value("duration", 10.0)?);
    if args.switch("load") {
        return Ok(Workload::loader(key_range, value_len_bytes, duration));
    }
    let (set_ratio, get_ratio) = args::parse_ratio(args.text("ratio").unwrap_or("1:10"))?;
    let keys = match args.text("zipf") {
        Some(_) => KeyDist::Zipf {
            exponent: args.value("zipf", 0.99)?,
        },
        None => KeyDist::Uniform,
    };
    let pacing = match args.text("rate") {
        Some(_) => Pacing::Open {
            ops_per_sec: args.value("rate", 0)?,
        },
        None => Pacing::Closed,
    };
    let fanout = match args.text("multi-keys") {
        Some(_) => Fanout::Multi(MultiKey {
            keys_per_command: args.value("multi-keys", 10)?,
            hot_keys_per_command: args.value("hot-keys-per-command", 0)?,
            hot_set_keys: args.value("hot-set", 1)?,
        }),
        None => Fanout::Single,
    };
    let workload = Workload {
        name: "loadgen".into(),
        clients: args.value("clients", 50)?,
        threads: args.value("threads", 2)?,
        pipeline: args.value("pipeline", 1)?,
        set_ratio,
        get_ratio,
        value_len_bytes,
        key_range,
        keys,
        fanout,
        pacing,
        duration,
        requests_max: args.value("requests", 1_000_000_000)?,
        seed: 42,
    };
    workload.validate()?;
    Ok(workload)
}
