//! The engine's environment: what it reads from the world. The driver sets the monotonic and
//! wall clocks before each step; the seeded ChaCha8 RNG, the planted-bug switches and the
//! coverage marks live here too. Everything below the node layer (the shard, the command
//! families) sees the world only through an `Env`; the node layer's `Cx` (module `cx`) adds the
//! effects a step produces.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// A thread of the node: owns exactly one shard and hosts connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(pub u16);

/// A client connection, unique across the whole process for its lifetime (CLIENT ID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// The descriptor a simulated or test connection numbered `n` (from 0) shows in CLIENT LIST:
/// after Redis's usual first client descriptor, so the fields look like a real server's.
pub fn fake_fd(n: u64) -> i32 {
    const FAKE_FD_FIRST: i32 = 8;
    FAKE_FD_FIRST.saturating_add(i32::try_from(n).unwrap_or(i32::MAX))
}

/// Bugs planted on purpose, switched on at run time, so that the simulator can prove it catches
/// them. Production never sets any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Plant {
    /// Reads return expired keys (the lazy expiry check on read is skipped).
    SkipExpiryCheckOnRead = 0,
    /// A connection replies to a write before the shard applies it.
    ReplyBeforeApply = 1,
    /// A hop to another shard is silently dropped.
    DropMessage = 2,
    /// A shard runs conflicting work in arrival order instead of transaction order.
    SkipShardOrdering = 3,
    /// A transaction takes no intent locks.
    SkipIntentLocks = 4,
    /// Conflicting transactions run out of order.
    RunConflictingOutOfOrder = 5,
    /// A waiting transaction is not woken when its locks free up.
    LoseWakeup = 6,
    /// A shard admits a transaction below a conflicting higher one queued there instead of
    /// refusing it: both may run, in either order.
    AcceptConflictingLowerTxid = 7,
    /// A transaction is admitted for memory by each shard as its hop runs instead of once when
    /// scheduled: it can be refused on one shard after it wrote on another.
    AdmitEachHop = 8,
    /// Eviction deletes keys that queued transactions hold intents on.
    EvictLockedKeys = 9,
    /// HSET and HMSET leave an existing field's old value in place (answering as if they
    /// had replaced it): a bug inside a collection, below routing and transactions.
    HsetKeepsOldValue = 10,
    /// SPOP without a count answers a member but leaves it in the set: a draw the model must
    /// check against the state, not predict.
    SpopKeepsMember = 11,
    /// A shard serving a blocked client pops for it but never sends the reply: the client
    /// times out and the element is gone (the queue simulation's conservation check).
    BlockedPopLost = 12,
    /// A ready key serves its last-blocked waiter first instead of its first-blocked.
    ServeLastWaiter = 13,
    /// PFADD on an existing HyperLogLog answers 0 even when a register grew (the value is
    /// still updated): a reply the model predicts exactly.
    PfaddReportsUnchanged = 14,
    /// XREADGROUP serves new entries (`>`) without moving the group's last delivered ID: the
    /// next reader of the group is handed the same entries as new again.
    XreadgroupRedeliversNew = 15,
    /// A pipeline spanning two shards runs its commands on the coordinator's shard at once,
    /// ahead of the earlier ones it sends to the other shard, outside any transaction: another
    /// client can see a later command of the pipeline before an earlier one.
    PipelineLocalFirst = 16,
    /// A snapshot does not keep a key's cut value before a write changes it ahead of the walk:
    /// the file holds the later value, a state the node never held at the cut.
    SnapshotSkipsKeep = 17,
    /// A script run as a transaction releases its intents once its copies are fetched, and
    /// stores its changes afterwards as plain writes: another client's write in between is
    /// lost, and a reader can see one shard's half of the script.
    ScriptReleasesEarly = 18,
    /// Under `appendfsync always`, replies leave before the append-only file holds their
    /// writes durably: a crash loses writes that were acknowledged.
    AckBeforeFsync = 19,
}

impl Plant {
    pub const ALL: [Plant; 20] = [
        Plant::SkipExpiryCheckOnRead,
        Plant::ReplyBeforeApply,
        Plant::DropMessage,
        Plant::SkipShardOrdering,
        Plant::SkipIntentLocks,
        Plant::RunConflictingOutOfOrder,
        Plant::LoseWakeup,
        Plant::AcceptConflictingLowerTxid,
        Plant::AdmitEachHop,
        Plant::EvictLockedKeys,
        Plant::HsetKeepsOldValue,
        Plant::SpopKeepsMember,
        Plant::BlockedPopLost,
        Plant::ServeLastWaiter,
        Plant::PfaddReportsUnchanged,
        Plant::XreadgroupRedeliversNew,
        Plant::PipelineLocalFirst,
        Plant::SnapshotSkipsKeep,
        Plant::ScriptReleasesEarly,
        Plant::AckBeforeFsync,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Plant::SkipExpiryCheckOnRead => "skip-expiry-check-on-read",
            Plant::ReplyBeforeApply => "reply-before-apply",
            Plant::DropMessage => "drop-message",
            Plant::SkipShardOrdering => "skip-shard-ordering",
            Plant::SkipIntentLocks => "skip-intent-locks",
            Plant::RunConflictingOutOfOrder => "run-conflicting-out-of-order",
            Plant::LoseWakeup => "lose-a-wakeup",
            Plant::AcceptConflictingLowerTxid => "accept-conflicting-lower-txid",
            Plant::AdmitEachHop => "admit-each-hop",
            Plant::EvictLockedKeys => "evict-locked-keys",
            Plant::HsetKeepsOldValue => "hset-keeps-old-value",
            Plant::SpopKeepsMember => "spop-keeps-member",
            Plant::BlockedPopLost => "blocked-pop-lost",
            Plant::ServeLastWaiter => "serve-last-waiter",
            Plant::PfaddReportsUnchanged => "pfadd-reports-unchanged",
            Plant::XreadgroupRedeliversNew => "xreadgroup-redelivers-new",
            Plant::PipelineLocalFirst => "pipeline-local-first",
            Plant::SnapshotSkipsKeep => "snapshot-skips-keep",
            Plant::ScriptReleasesEarly => "script-releases-locks-early",
            Plant::AckBeforeFsync => "ack-before-fsync",
        }
    }

    pub fn from_name(name: &str) -> Option<Plant> {
        Plant::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The node-wide transaction counter. Every thread's `Env` must share one (clone it): txids
/// order transactions across shards. Relaxed ordering suffices: only uniqueness and the order
/// of values matter, and scheduling carries the value in messages.
#[derive(Clone, Debug, Default)]
pub struct TxIdSource(Arc<AtomicU64>);

impl TxIdSource {
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Node-wide tickets of journal batches (`node::journal`): each batch a shard sends to the
/// journal's writer takes the next ticket, and the writer publishes the highest ticket up to
/// which every batch is on disk and fsynced. Under `appendfsync always` a reply leaves only
/// once the tickets taken before it are durable. Shared by every thread's `Env`, like the txids.
#[derive(Clone, Debug, Default)]
pub struct JournalTickets(Arc<[AtomicU64; 2]>);

impl JournalTickets {
    /// A ticket for the batch being sent.
    pub fn take(&self) -> u64 {
        self.0[0].fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The last ticket taken.
    pub fn taken(&self) -> u64 {
        self.0[0].load(Ordering::SeqCst)
    }

    /// Every batch with a ticket up to this one is durable.
    pub fn durable(&self) -> u64 {
        self.0[1].load(Ordering::SeqCst)
    }

    pub fn set_durable(&self, ticket: u64) {
        self.0[1].fetch_max(ticket, Ordering::SeqCst);
    }
}

/// Spare byte buffers a thread keeps for the next replies, at most.
pub const SPARE_BUFFERS_MAX: usize = 16;
/// A buffer bigger than this is freed rather than kept: a rare huge reply must not pin memory.
pub const SPARE_BUFFER_CAPACITY_MAX_BYTES: usize = 64 * 1024;

/// Options a driver sets once per thread.
#[derive(Clone, Debug, Default)]
pub struct CxOptions {
    /// Shared by all threads of a node.
    pub txids: TxIdSource,
    /// Shared by all threads of a node.
    pub journal_tickets: JournalTickets,
    /// Check engine invariants after every message (the simulator sets this).
    pub verify: bool,
    /// Planted bugs, by `Plant as u8` bit.
    pub plants: u64,
    /// Probability (per million) that a `buggify` site fires; 0 in production.
    pub buggify_ppm: u32,
    /// A clock read inside a step, for how long one command runs (INFO commandstats, the slow
    /// log). The step clocks are read once per step, which is too coarse for that.
    pub stopwatch: Option<Stopwatch>,
    /// Shared by all threads of a node: SLOWLOG entry ids (rarely drawn: slow commands only).
    pub slowlog_ids: TxIdSource,
}

/// The driver's fine monotonic clock in microseconds, on the same scale as `now_mono_us`.
/// Without one (simulator, tests) a command takes no time: the step clock does not move within
/// a step, which keeps runs deterministic.
#[derive(Clone)]
pub struct Stopwatch(pub Arc<dyn Fn() -> u64 + Send + Sync>);

impl std::fmt::Debug for Stopwatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stopwatch")
    }
}

/// The engine's window on the world for one thread. The driver sets the clocks before each step.
pub struct Env {
    now_mono_us: u64,
    wall_us: u64,
    rng: ChaCha8Rng,
    options: CxOptions,
    marks: BTreeMap<&'static str, u64>,
    /// Emptied output buffers, handed back by the driver once written (`recycle_buffer`) and
    /// reused for the next replies (`take_buffer`), so a steady stream of replies allocates
    /// nothing. Which buffer comes back is invisible to the engine: only capacity differs.
    spare_buffers: Vec<Vec<u8>>,
}

impl Env {
    pub fn new(seed: u64, options: CxOptions) -> Env {
        Env {
            now_mono_us: 0,
            wall_us: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            options,
            marks: BTreeMap::new(),
            spare_buffers: Vec::new(),
        }
    }

    /// Called by the driver before each step. The monotonic clock never goes backwards.
    pub fn set_time(&mut self, now_mono_us: u64, wall_us: u64) {
        self.now_mono_us = self.now_mono_us.max(now_mono_us);
        self.wall_us = wall_us;
    }

    pub fn now_mono_us(&self) -> u64 {
        self.now_mono_us
    }

    pub fn wall_us(&self) -> u64 {
        self.wall_us
    }

    /// The monotonic time now, read within the step when the driver gave a stopwatch.
    pub fn stopwatch_us(&self) -> u64 {
        match &self.options.stopwatch {
            Some(Stopwatch(read)) => read().max(self.now_mono_us),
            None => self.now_mono_us,
        }
    }

    /// Unix time in milliseconds: the clock expiry deadlines are written in (as in Redis).
    pub fn wall_ms(&self) -> u64 {
        self.wall_us / 1000
    }

    /// The next SLOWLOG entry id, node-wide, from 0 as in Redis.
    pub fn next_slowlog_id(&self) -> u64 {
        self.options.slowlog_ids.next() - 1
    }

    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    pub fn random_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// An empty buffer for replies, with room from an earlier use when there is a spare one.
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.spare_buffers.pop().unwrap_or_default()
    }

    /// Hands back a buffer whose bytes are no longer needed (the driver wrote them).
    pub fn recycle_buffer(&mut self, mut buffer: Vec<u8>) {
        let capacity = buffer.capacity();
        if capacity > 0
            && capacity <= SPARE_BUFFER_CAPACITY_MAX_BYTES
            && self.spare_buffers.len() < SPARE_BUFFERS_MAX
        {
            buffer.clear();
            self.spare_buffers.push(buffer);
        }
    }

    /// A fresh transaction number, higher than every one handed out before on any thread
    /// (`tx::TxId` wraps it).
    pub fn journal_tickets(&self) -> &JournalTickets {
        &self.options.journal_tickets
    }

    pub fn next_txid_number(&mut self) -> u64 {
        self.options.txids.next()
    }

    pub fn verify(&self) -> bool {
        self.options.verify
    }

    pub fn planted(&self, plant: Plant) -> bool {
        self.options.plants & (1u64 << plant as u8) != 0
    }

    /// A fault-injection point: fires rarely, and only under the simulator.
    pub fn buggify(&mut self, site: &'static str) -> bool {
        if self.options.buggify_ppm == 0 {
            return false;
        }
        let fired = (self.rng.next_u32() % 1_000_000) < self.options.buggify_ppm;
        if fired {
            self.mark(site);
        }
        fired
    }

    /// Records that a rare branch ran; tests and the simulator assert marks were hit.
    pub fn mark(&mut self, name: &'static str) {
        *self.marks.entry(name).or_insert(0) += 1;
    }

    pub fn marks(&self) -> &BTreeMap<&'static str, u64> {
        &self.marks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plants_round_trip_by_name() {
        for plant in Plant::ALL {
            assert_eq!(Plant::from_name(plant.name()), Some(plant));
        }
        assert_eq!(Plant::from_name("no-such-bug"), None);
    }

    #[test]
    fn monotonic_clock_never_goes_back() {
        let mut env = Env::new(1, CxOptions::default());
        env.set_time(100, 5_000);
        env.set_time(50, 4_000);
        assert_eq!(env.now_mono_us(), 100);
        assert_eq!(env.wall_ms(), 4);
    }

    #[test]
    fn buffers_are_reused_within_bounds() {
        let mut env = Env::new(1, CxOptions::default());
        assert_eq!(env.take_buffer().capacity(), 0);
        let mut buffer = Vec::with_capacity(100);
        buffer.extend_from_slice(b"written");
        let ptr = buffer.as_ptr();
        env.recycle_buffer(buffer);
        let reused = env.take_buffer();
        assert!(reused.is_empty());
        assert_eq!((reused.as_ptr(), reused.capacity()), (ptr, 100));
        env.recycle_buffer(Vec::with_capacity(SPARE_BUFFER_CAPACITY_MAX_BYTES + 1));
        assert_eq!(env.take_buffer().capacity(), 0, "too big to keep");
        for _ in 0..SPARE_BUFFERS_MAX + 5 {
            env.recycle_buffer(Vec::with_capacity(8));
        }
        assert_eq!(env.spare_buffers.len(), SPARE_BUFFERS_MAX);
    }

    #[test]
    fn same_seed_same_randomness() {
        let mut a = Env::new(7, CxOptions::default());
        let mut b = Env::new(7, CxOptions::default());
        assert_eq!(a.random_u64(), b.random_u64());
    }
}
