//! Everything a run does is derived from one seed: the shape of the node, the workload, the
//! network's delays and the faults. Printing the config of a failing seed tells a reader what
//! world the bug lived in.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use damselfly_core::cx::Plant;

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub threads: u16,
    pub clients: usize,
    /// Distinct keys the workload draws from (small, so clients collide).
    pub keys: usize,
    /// Requests each client sends before the quiet phase.
    pub requests_per_client: usize,
    /// Requests a client keeps in flight at most (pipelining depth).
    pub pipeline_max: usize,
    /// Largest chunk a client's bytes are cut into (1 = byte by byte).
    pub chunk_max_bytes: usize,
    /// Per-message delay range between threads and between clients and threads.
    pub delay_min_us: u64,
    pub delay_max_us: u64,
    /// Per-mille chances of faults per client request: a delay spike on a link, a stall of a
    /// thread, a client that disconnects mid-command, a step of the wall clock.
    pub spike_per_mille: u32,
    pub stall_per_mille: u32,
    pub disconnect_per_mille: u32,
    pub clock_step_per_mille: u32,
    /// Commands carry TTLs sometimes, so expiry races are part of the workload.
    pub ttl_per_mille: u32,
    /// Share of commands that touch several keys (MSET, MGET, DEL, RENAME, MSETNX…): the
    /// cross-shard transactions. Some seeds are contention-heavy on purpose.
    pub multi_key_per_mille: u32,
    /// Share of commands that start a transaction: sometimes WATCH first, then MULTI, a body
    /// of 1–5 commands over keys of any shard (sometimes a refused one, for EXECABORT), then
    /// EXEC or DISCARD. Zero while `TRANSACTIONS_ENABLED` is off.
    pub multi_per_mille: u32,
    pub plants: Vec<Plant>,
}

/// Whether seeds may draw MULTI/EXEC/WATCH workloads. Off until the engine's transactions are
/// on main: flipping it changes no other knob of any seed, and while it is off every seed's
/// workload, trace and plant budget are what they were.
pub const TRANSACTIONS_ENABLED: bool = true;

impl SimConfig {
    pub fn from_seed(seed: u64) -> SimConfig {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c0f1_6000_0000);
        let clients = rng.gen_range(1..=5);
        SimConfig {
            seed,
            threads: rng.gen_range(1..=4),
            clients,
            keys: rng.gen_range(1..=8),
            requests_per_client: rng.gen_range(5..=24),
            pipeline_max: if rng.gen_bool(0.5) {
                1
            } else {
                rng.gen_range(2..=8)
            },
            chunk_max_bytes: if rng.gen_bool(0.2) {
                rng.gen_range(1..=4)
            } else {
                rng.gen_range(8..=512)
            },
            delay_min_us: rng.gen_range(1..=50),
            delay_max_us: rng.gen_range(50..=5_000),
            spike_per_mille: if rng.gen_bool(0.3) {
                rng.gen_range(1..=50)
            } else {
                0
            },
            stall_per_mille: if rng.gen_bool(0.3) {
                rng.gen_range(1..=30)
            } else {
                0
            },
            disconnect_per_mille: if rng.gen_bool(0.2) {
                rng.gen_range(1..=20)
            } else {
                0
            },
            clock_step_per_mille: if rng.gen_bool(0.1) {
                rng.gen_range(1..=10)
            } else {
                0
            },
            ttl_per_mille: rng.gen_range(0..=300),
            multi_key_per_mille: if rng.gen_bool(0.3) {
                rng.gen_range(300..=700)
            } else {
                100
            },
            multi_per_mille: {
                // Both draws are made either way, so the switch moves nothing else.
                let (some, per_mille) = (rng.gen_bool(0.5), rng.gen_range(50..=300));
                if TRANSACTIONS_ENABLED && some {
                    per_mille
                } else {
                    0
                }
            },
            plants: Vec::new(),
        }
    }

    pub fn with_plants(mut self, plants: &[Plant]) -> SimConfig {
        self.plants = plants.to_vec();
        self
    }

    pub fn plants_mask(&self) -> u64 {
        self.plants
            .iter()
            .fold(0, |mask, p| mask | (1u64 << *p as u8))
    }
}
