//! Seed sweeps for the simulator.
//!
//! `dst --seeds N [--base B] [--plant NAME]…` runs seeds B..B+N in parallel (rayon) and exits 1
//! naming the first failing seed; `--replay SEED [--trace]` runs one seed and prints its trace
//! tail; `--trace-hash` prints each seed's trace hash last; `--stats` prints what the
//! linearizability search cost (per seed with `--replay`, and its whole history with
//! `--trace`; the costliest seeds of a sweep; `--plain` measures the search without its
//! reductions);
//! `--plant list` prints the plantable bugs, one per line; `--strings-only` runs seeds without
//! the collection commands they may mix in (as they ran before collections existed);
//! `--evicting` sweeps only the seeds whose world has a memory budget with an evicting policy
//! (the others are skipped, not run).

// The runner reports seeds per second of real time; the simulation itself never reads a clock.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::process::ExitCode;
use std::time::Instant;

use damselfly_core::config::MaxmemoryPolicy;
use damselfly_core::cx::Plant;
use rayon::prelude::*;

struct Args {
    seeds: u64,
    base: u64,
    replay: Option<u64>,
    trace: bool,
    trace_hash: bool,
    stats: bool,
    plain: bool,
    plants: Vec<Plant>,
    list_plants: bool,
    strings_only: bool,
    evicting: bool,
}

impl Args {
    /// One seed's world as the flags say.
    fn config(&self, seed: u64) -> sim::SimConfig {
        let config = sim::SimConfig::from_seed(seed).with_plants(&self.plants);
        if self.strings_only {
            config.without_collections()
        } else {
            config
        }
    }

    fn run(&self, seed: u64) -> Result<sim::RunReport, sim::Failure> {
        sim::run_config(self.config(seed))
    }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seeds: 1000,
        base: 0,
        replay: None,
        trace: false,
        trace_hash: false,
        stats: false,
        plain: false,
        plants: Vec::new(),
        list_plants: false,
        strings_only: false,
        evicting: false,
    };
    let mut it = std::env::args().skip(1);
    let number = |v: Option<String>, flag: &str| -> Result<u64, String> {
        v.and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{flag} needs a number"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seeds" => args.seeds = number(it.next(), "--seeds")?,
            "--base" => args.base = number(it.next(), "--base")?,
            "--replay" => args.replay = Some(number(it.next(), "--replay")?),
            "--trace" => args.trace = true,
            "--trace-hash" => args.trace_hash = true,
            "--stats" => args.stats = true,
            "--plain" => args.plain = true,
            "--strings-only" => args.strings_only = true,
            "--evicting" => args.evicting = true,
            "--plant" => {
                let name = it.next().ok_or("--plant needs a name (or 'list')")?;
                if name == "list" {
                    args.list_plants = true;
                } else {
                    args.plants.push(
                        Plant::from_name(&name)
                            .ok_or_else(|| format!("no planted bug named {name:?}"))?,
                    );
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("dst: {e}");
            return ExitCode::from(2);
        }
    };
    if args.list_plants {
        for plant in Plant::ALL {
            println!("{}", plant.name());
        }
        return ExitCode::SUCCESS;
    }
    if let (Some(seed), true) = (args.replay, args.stats) {
        return search_cost(seed, &args);
    }
    if let Some(seed) = args.replay {
        return replay(seed, &args);
    }
    sweep(&args)
}

fn replay(seed: u64, args: &Args) -> ExitCode {
    match args.run(seed) {
        Ok(report) => {
            println!(
                "seed {seed} passed: {} requests, {} events",
                report.requests, report.events
            );
            if args.trace || args.trace_hash {
                println!("trace-hash {seed} {:016x}", report.trace_hash);
            }
            if args.trace {
                println!("config: {:?}", sim::SimConfig::from_seed(seed));
            }
            ExitCode::SUCCESS
        }
        Err(failure) => {
            println!("{failure}");
            ExitCode::FAILURE
        }
    }
}

fn search_cost(seed: u64, args: &Args) -> ExitCode {
    let started = Instant::now();
    let cost = match sim::search_cost(args.config(seed), !args.plain) {
        Ok(cost) => cost,
        Err(e) => {
            println!("seed {seed}: the run failed before the check: {e}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    println!("config: {:?}", cost.config);
    if args.trace {
        println!("history:\n{}", sim::check::describe(&cost.history));
    }
    let stats = cost.stats;
    println!(
        "seed {seed}: {} requests; search: {} partitions, largest {} ops, {} steps, \
         {elapsed:.2}s; {}",
        cost.history.len(),
        stats.partitions,
        stats.largest_partition,
        stats.steps,
        match &cost.result {
            Ok(()) => "linearizable",
            Err(e) => e,
        }
    );
    if cost.result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn sweep(args: &Args) -> ExitCode {
    let started = Instant::now();
    let evicts = |seed: u64| {
        let config = args.config(seed);
        config.shard_budget_bytes > 0 && config.maxmemory_policy != MaxmemoryPolicy::NoEviction
    };
    let seeds: Vec<u64> = (args.base..args.base + args.seeds)
        .filter(|&seed| !args.evicting || evicts(seed))
        .collect();
    let results: Vec<Result<sim::RunReport, sim::Failure>> =
        seeds.par_iter().map(|&seed| args.run(seed)).collect();
    let elapsed = started.elapsed().as_secs_f64();
    let failures: Vec<&sim::Failure> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    // The search's verdict when it ran out of steps: neither proven nor refuted.
    let undecided = failures
        .iter()
        .filter(|f| f.reason.contains("search budget exhausted"))
        .count();
    println!(
        "dst: {} seeds from {} in {elapsed:.1}s ({:.0} seeds/s), {} failed ({undecided} of them \
         undecided: the checker's step budget ran out)",
        seeds.len(),
        args.base,
        seeds.len() as f64 / elapsed.max(1e-9),
        failures.len()
    );
    if args.stats {
        let mut costly: Vec<&sim::RunReport> = results.iter().flatten().collect();
        costly.sort_by_key(|r| std::cmp::Reverse(r.search_steps));
        let total: u64 = costly.iter().map(|r| r.search_steps).sum();
        println!("search steps: {total} in all; the costliest seeds:");
        for report in costly.iter().take(10) {
            println!("  seed {} {} steps", report.seed, report.search_steps);
        }
    }
    if args.trace_hash {
        for report in results.iter().flatten() {
            println!("trace-hash {} {:016x}", report.seed, report.trace_hash);
        }
    }
    if !failures.is_empty() {
        let seeds: Vec<String> = failures.iter().map(|f| f.seed.to_string()).collect();
        println!("failing seeds: {}", seeds.join(" "));
    }
    match failures.first() {
        None => ExitCode::SUCCESS,
        Some(first) => {
            println!("{first}");
            ExitCode::FAILURE
        }
    }
}
