//! The deterministic simulator. One seed derives a world (`SimConfig`): threads, clients, keys,
//! pipelining, chunking, delays and faults. The world runs the real engine (`damselfly_core`)
//! on a virtual clock in one thread; then the checks run:
//!
//! - engine invariants after every message (`CxOptions::verify`), as assertions;
//! - liveness: after the workload, a quiet phase in which every request must be answered;
//! - with one client: each reply equals the model's, op by op;
//! - with many clients: the history is linearizable against the model;
//! - the trace hash is a pure function of the seed (determinism).
//!
//! A failure names the seed, the derived config, the failing history and the trace's tail, and
//! a one-line replay command.

pub mod check;
pub mod config;
pub mod mix;
pub mod mix_bits;
pub mod mix_draws;
pub mod mix_hash;
pub mod mix_list;
pub mod mix_set;
pub mod mix_stream;
pub mod mix_zset;
pub mod queue;
pub mod reply_reader;
pub mod stream_queue;
pub mod workload;
pub mod world;

use std::panic::{catch_unwind, AssertUnwindSafe};

use damselfly_core::cx::Plant;

pub use config::SimConfig;
use world::World;

/// What a passing seed reports.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub seed: u64,
    pub trace_hash: u64,
    pub requests: usize,
    pub events: u64,
    /// Steps the linearizability search took (0 if the single-client check sufficed).
    pub search_steps: u64,
}

/// Why a seed failed, with everything needed to replay it.
#[derive(Clone, Debug)]
pub struct Failure {
    pub seed: u64,
    pub config: String,
    pub reason: String,
    pub trace_tail: Vec<String>,
    pub plants: Vec<Plant>,
}

impl Failure {
    pub fn replay_command(&self) -> String {
        let plants: String = self
            .plants
            .iter()
            .map(|p| format!(" --plant {}", p.name()))
            .collect();
        format!(
            "cargo run -p sim --release --bin dst -- --replay {}{plants} --trace",
            self.seed
        )
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "seed {} FAILED: {}", self.seed, self.reason)?;
        writeln!(f, "commit: {}", env!("DAMSELFLY_COMMIT"))?;
        writeln!(f, "config: {}", self.config)?;
        writeln!(f, "last trace events:")?;
        for line in &self.trace_tail {
            writeln!(f, "  {line}")?;
        }
        write!(f, "replay: {}", self.replay_command())
    }
}

/// Runs one seed with the given planted bugs and checks it.
pub fn run_seed(seed: u64, plants: &[Plant]) -> Result<RunReport, Failure> {
    run_config(SimConfig::from_seed(seed).with_plants(plants))
}

/// Runs and checks one world, as `run_seed` derives it or adjusted (`without_collections`).
pub fn run_config(config: SimConfig) -> Result<RunReport, Failure> {
    run_checked(config, |config, world| {
        check::check_history(config, &world.history)
    })
}

/// Runs one queue seed (`SimConfig::queue_from_seed`) and checks that every element pushed
/// is popped once or still queued, never twice and never lost, and that waiters are served in
/// the order they blocked (`queue::check`).
pub fn run_queue_seed(seed: u64, plants: &[Plant]) -> Result<RunReport, Failure> {
    let config = SimConfig::queue_from_seed(seed).with_plants(plants);
    run_checked(config, |_, world| queue::check(world).map(|()| 0))
}

/// Runs one stream queue seed (`SimConfig::stream_queue_from_seed`) and checks that every
/// entry is delivered to the group as new at most once, none made up and none lost, and that
/// waiters are served in the order they blocked (`stream_queue::check`).
pub fn run_stream_queue_seed(seed: u64, plants: &[Plant]) -> Result<RunReport, Failure> {
    let config = SimConfig::stream_queue_from_seed(seed).with_plants(plants);
    run_checked(config, |_, world| stream_queue::check(world).map(|()| 0))
}

/// Runs one world, then `check` on it (its answer: the linearizability search's steps).
fn run_checked(
    config: SimConfig,
    check: impl Fn(&SimConfig, &World) -> Result<u64, String>,
) -> Result<RunReport, Failure> {
    let seed = config.seed;
    let plants = config.plants.clone();
    let plants = plants.as_slice();
    let described = format!("{config:?}");
    let fail = |reason: String, tail: Vec<String>| Failure {
        seed,
        config: described.clone(),
        reason,
        trace_tail: tail,
        plants: plants.to_vec(),
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut world = World::new(config.clone());
        let run = world.run();
        (world, run)
    }));
    let (world, run) = match outcome {
        Ok(done) => done,
        Err(panic) => {
            return Err(fail(
                format!("engine panicked: {}", panic_text(&panic)),
                Vec::new(),
            ))
        }
    };
    if let Err(reason) = run {
        return Err(fail(reason, world.trace_tail()));
    }
    let search_steps = match check(&config, &world) {
        Ok(steps) => steps,
        Err(reason) => return Err(fail(reason, world.trace_tail())),
    };
    Ok(RunReport {
        seed,
        trace_hash: world.trace_hash(),
        requests: world.history.len(),
        events: world.events_processed(),
        search_steps,
    })
}

/// The history one seed records (no check): for tests that look at what a workload met.
pub fn run_history(seed: u64) -> Result<Vec<world::Observed>, String> {
    let mut world = World::new(SimConfig::from_seed(seed));
    world.run()?;
    Ok(world.history)
}

/// The coverage marks one seed's run hit on every thread (no check): for tests that ask
/// whether the workload reaches a rare branch.
pub fn run_marks(seed: u64) -> Result<std::collections::BTreeMap<&'static str, u64>, String> {
    let mut world = World::new(SimConfig::from_seed(seed));
    world.run()?;
    Ok(world.marks())
}

/// What the linearizability search costs on a seed's history, whatever the number of clients
/// (the single-client fast path is skipped), and the history itself: for diagnosing slow or
/// budget-bound seeds. `reduce: false` measures the plain search (`CheckConfig::reduce`).
pub fn search_cost(config: SimConfig, reduce: bool) -> Result<SearchCost, String> {
    let mut world = World::new(config.clone());
    if let Err(e) = world.run() {
        return Err(format!(
            "{e}\nhistory:\n{}",
            check::describe(&world.history)
        ));
    }
    let search = model::linearizability::CheckConfig {
        reduce,
        ..check::search_config(&config)
    };
    let (result, stats) = check::linearizable_with_stats(&world.history, &search);
    Ok(SearchCost {
        config,
        history: world.history,
        result,
        stats,
    })
}

/// See `search_cost`.
pub struct SearchCost {
    pub config: SimConfig,
    pub history: Vec<world::Observed>,
    pub result: Result<(), String>,
    pub stats: model::linearizability::Stats,
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic)".into()
    }
}
