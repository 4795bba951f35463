//! Everything a run does is derived from one seed: the shape of the node, the workload, the
//! network's delays and the faults. Printing the config of a failing seed tells a reader what
//! world the bug lived in.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use damselfly_core::config::MaxmemoryPolicy;
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
    /// A memory budget per shard (0: none) and the policy at it: with one, writes meet OOM
    /// refusals or evictions, which the checker takes as Redis's refusals and as deletes at the
    /// instant they happened. Drawn from a stream of its own, so adding it moved no other knob
    /// of any seed.
    pub shard_budget_bytes: u64,
    pub maxmemory_policy: MaxmemoryPolicy,
    /// Collection commands mixed in (`None`: strings and keyspace only). Drawn from a stream of
    /// its own, and the workload draws them from another, so a seed without them generates
    /// exactly what it did before they existed.
    pub collections: Option<CollectionMix>,
    /// A queue run (`queue.rs`): the first `producers` clients push unique elements onto a few
    /// lists, the others pop them with blocking commands. Never drawn by `from_seed`.
    pub queue: Option<usize>,
    /// A queue run on streams and consumer groups (`stream_queue.rs`) rather than lists.
    pub queue_streams: bool,
    pub plants: Vec<Plant>,
}

/// A command family the workload draws besides strings and the keyspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Hash,
    Set,
    List,
    /// SPOP, SRANDMEMBER, HRANDFIELD, SSCAN, HSCAN (`mix_draws`).
    Draws,
    /// Sorted sets (`mix_zset`).
    ZSet,
    /// Bitmaps on strings (`mix_bits`).
    Bitmap,
    /// HyperLogLogs (`mix_bits`).
    Hll,
    /// Streams and consumer groups (`mix_stream`).
    Stream,
}

/// The families, one row each: a new family is a row here and a generator in its `mix_*`
/// module; seeds that drew no collections are unchanged by it.
pub const FAMILIES: &[Family] = &[Family::Hash, Family::Set];

/// Families added after seeds were recorded, each with the salt of its own stream: whether a
/// seed mixes one in, how much, and its commands all come from that stream, so a seed that
/// drew none generates exactly what it did before the family existed.
pub const OWN_STREAM_FAMILIES: &[(Family, u64)] = &[
    (Family::List, 0x6c69_7374_7300_0000),
    (Family::Draws, 0x6472_6177_7300_0000),
    (Family::ZSet, 0x7a73_6574_5f6d_6978),
    (Family::Bitmap, 0x6269_746d_6170_7300),
    (Family::Hll, 0x6879_7065_726c_6c00),
    (Family::Stream, 0x7374_7265_616d_7300),
];

/// Share of collection seeds that mix in each own-stream family, per mille.
const OWN_STREAM_PER_MILLE: u32 = 500;

/// How a seed mixes collection commands into its workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionMix {
    /// Share of commands that are collection commands, per mille.
    pub per_mille: u32,
    /// The families drawn from (never empty).
    pub families: Vec<Family>,
    /// Families of `OWN_STREAM_FAMILIES` mixed in, each with its share per mille (drawn
    /// before the families above, from its own stream).
    pub own_streams: Vec<(Family, u32)>,
}

/// Share of seeds that mix collection commands in, per mille.
const COLLECTIONS_PER_MILLE: u32 = 500;

/// Share of seeds that run with a memory budget, per mille.
const BUDGET_PER_MILLE: u32 = 400;
/// Share of budget seeds with an evicting policy that are shaped for evictions racing
/// transactions (`SimConfig::shape_for_eviction_races`), per mille.
const EVICTION_RACE_PER_MILLE: u32 = 500;
/// Room past the table and split reserve such a seed's shards get: one or two entries.
const RACE_BUDGET_SLACK_BYTES_MAX: u64 = 96;

/// What a shard's table costs with its first segment, and the room an evicting shard keeps
/// free beyond what it holds (for the split an insert may cause): budgets are drawn around
/// them, so that a few small entries decide between room and eviction or refusal.
fn table_and_reserve_bytes() -> (u64, u64) {
    use damselfly_core::db::{Db, Entry, StrValue, Value};
    let mut db = Db::new(0);
    let value = Value::Str(StrValue::from_bytes(b"v".to_vec()));
    db.insert(Entry::new(b"k", value, 0), 0);
    (db.table_bytes() as u64, db.split_growth_bytes() as u64)
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
            shard_budget_bytes: 0,
            maxmemory_policy: MaxmemoryPolicy::NoEviction,
            collections: None,
            queue: None,
            queue_streams: false,
            plants: Vec::new(),
        }
        .with_budget_drawn()
        .with_collections_drawn()
    }

    /// A queue run for `seed`: the seed's node shape, pipelining, delays and faults, with
    /// producers and consumers of blocking pops instead of the usual workload (`queue.rs`).
    pub fn queue_from_seed(seed: u64) -> SimConfig {
        let base = SimConfig::from_seed(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7175_6575_6500_0000);
        let clients = rng.gen_range(2..=6);
        SimConfig {
            threads: rng.gen_range(1..=3),
            clients,
            requests_per_client: rng.gen_range(8..=40),
            ttl_per_mille: 0,
            multi_per_mille: 0,
            shard_budget_bytes: 0,
            maxmemory_policy: MaxmemoryPolicy::NoEviction,
            collections: None,
            queue: Some(rng.gen_range(1..clients)),
            ..base
        }
    }

    /// A stream queue run for `seed` (`stream_queue.rs`): a queue run's shape, with producers
    /// adding to streams and consumers reading them through a group.
    pub fn stream_queue_from_seed(seed: u64) -> SimConfig {
        SimConfig {
            queue_streams: true,
            ..SimConfig::queue_from_seed(seed)
        }
    }

    /// The collection mix, from the seed's own stream (see `collections`).
    fn with_collections_drawn(mut self) -> SimConfig {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x636f_6c6c_6563_7400);
        if rng.gen_range(0..1000) >= COLLECTIONS_PER_MILLE {
            return self;
        }
        let per_mille = rng.gen_range(100..=500);
        let mut families: Vec<Family> = FAMILIES
            .iter()
            .copied()
            .filter(|_| rng.gen_bool(0.7))
            .collect();
        if families.is_empty() {
            families.push(*FAMILIES.choose(&mut rng).expect("families"));
        }
        let own_streams = OWN_STREAM_FAMILIES
            .iter()
            .filter_map(|&(family, salt)| {
                let mut own = ChaCha8Rng::seed_from_u64(self.seed ^ salt);
                (own.gen_range(0..1000) < OWN_STREAM_PER_MILLE)
                    .then(|| (family, own.gen_range(50..=300)))
            })
            .collect();
        self.collections = Some(CollectionMix {
            per_mille,
            families,
            own_streams,
        });
        self
    }

    /// The same world with strings and the keyspace only: the run the seed made before
    /// collections existed (regression seeds replay it too).
    pub fn without_collections(mut self) -> SimConfig {
        self.collections = None;
        self
    }

    /// The memory budget, from the seed's own stream: most budgets leave room for a few dozen
    /// small entries past the table (an evicting shard keeps one segment's worth free for a
    /// split, so its budget is a segment larger); some are below even the first segment.
    fn with_budget_drawn(mut self) -> SimConfig {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x6d65_6d6f_7279_0000);
        if rng.gen_range(0..1000) >= BUDGET_PER_MILLE {
            return self;
        }
        // Refusals come mostly from noeviction, evictions from the others: weigh them alike.
        self.maxmemory_policy = if rng.gen_bool(0.3) {
            MaxmemoryPolicy::NoEviction
        } else {
            let evicting: Vec<MaxmemoryPolicy> = MaxmemoryPolicy::ALL
                .into_iter()
                .filter(|&p| p != MaxmemoryPolicy::NoEviction)
                .collect();
            *evicting.choose(&mut rng).expect("policies")
        };
        let evicting = self.maxmemory_policy != MaxmemoryPolicy::NoEviction;
        let (table, reserve) = table_and_reserve_bytes();
        let base = if evicting { table + reserve } else { table };
        // Entries of the workload take 16 to 96 bytes.
        self.shard_budget_bytes = if rng.gen_ratio(1, 10) {
            rng.gen_range(1..base)
        } else {
            base + rng.gen_range(0..=240)
        };
        // Under a volatile policy only keys with a TTL can go: give the workload some.
        let volatile = matches!(
            self.maxmemory_policy,
            MaxmemoryPolicy::VolatileLru
                | MaxmemoryPolicy::VolatileLfu
                | MaxmemoryPolicy::VolatileRandom
                | MaxmemoryPolicy::VolatileTtl
        );
        if volatile {
            self.ttl_per_mille = self.ttl_per_mille.max(400);
        }
        // Drawn last, so the budget seeds it leaves alone keep every knob they had.
        if evicting && rng.gen_range(0..1000) < EVICTION_RACE_PER_MILLE {
            self.shape_for_eviction_races(&mut rng, base);
        }
        self
    }

    /// Makes evictions race with transactions: several threads, so that a transaction's hops
    /// on two shards are apart in time; several clients sending multi-key commands and
    /// transactions; a budget so tight that nearly every write evicts (unless it was drawn
    /// below the table, where nothing fits). An eviction of a key a
    /// transaction holds, between its hops, is then common rather than a one-in-thousands
    /// event (planted bug `evict-locked-keys`).
    fn shape_for_eviction_races(&mut self, rng: &mut ChaCha8Rng, base_bytes: u64) {
        self.threads = rng.gen_range(2..=4);
        self.clients = rng.gen_range(3..=5);
        self.keys = rng.gen_range(3..=6);
        self.requests_per_client = rng.gen_range(12..=24);
        self.multi_key_per_mille = rng.gen_range(300..=700);
        let per_mille = rng.gen_range(200..=400);
        self.multi_per_mille = if TRANSACTIONS_ENABLED { per_mille } else { 0 };
        let slack_bytes = rng.gen_range(0..=RACE_BUDGET_SLACK_BYTES_MAX);
        // A budget below the table stays: those seeds are where evicting shards refuse.
        if self.shard_budget_bytes >= base_bytes {
            self.shard_budget_bytes = base_bytes + slack_bytes;
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
