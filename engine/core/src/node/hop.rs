//! Hops: work a coordinating connection sends to a shard on another thread, the results that
//! come back, and the connection's record of what it is waiting for.
//!
//! A hop runs to completion on the shard's thread: handlers never suspend mid-hop. Every op of a
//! hop sees the same `now_ms`, the coordinator's clock reading, so a squashed batch or a
//! multi-shard command sees one time.

use crate::argv::Argv;
use crate::cmd::{CommandSpec, Merge, NodeCmd};
use crate::cx::{ConnId, ThreadId};
use crate::db::Entry;
use crate::reply::Reply;
use crate::tx::{LockSet, TxId};

#[derive(Debug)]
pub struct Hop {
    pub from: ThreadId,
    pub conn: ConnId,
    /// The connection's request number; a reply for an older request is stale and dropped.
    pub seq: u64,
    pub db: u16,
    pub now_ms: u64,
    /// Set when the hop belongs to a scheduled transaction.
    pub tx: Option<TxHop>,
    pub ops: Vec<HopOp>,
}

/// A hop's place in its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxHop {
    pub txid: TxId,
    /// The transaction's last hop on this shard: release its intents afterwards.
    pub conclude: bool,
    pub time: TxTime,
    /// The hop schedules its transaction on arrival, its commands' keys as the intents, and
    /// runs when it is runnable there: a pipeline's part on another shard (`pipeline.rs`). A
    /// shard that refuses answers `Declined` with the ops unrun.
    pub schedules: bool,
    /// For the journal: how many shards the transaction runs on, so that its parts are
    /// replayed together; 0 when its records need not be (a pipeline's parts, a plain command
    /// queued behind intents).
    pub journal_shards: u16,
}

/// The time a transaction's hop runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxTime {
    /// A coordinated transaction runs every hop at its one time, so all its shards see one
    /// clock, as a Redis command does. The coordinator fixes it once the transaction is runnable
    /// on every shard, at or after each shard's clock then: so on every shard a transaction runs
    /// no earlier than whatever conflicting work ran before it.
    At(u64),
    /// A plain command queued behind a transaction on this shard: it runs at the shard's clock
    /// when its turn comes.
    ShardClock,
}

#[derive(Debug)]
pub enum HopOp {
    /// Run a keyed command whose keys all live on this shard. With `admit`, it takes Redis's
    /// memory step first (`Shard::admit`): a plain command does; a transaction's commands were
    /// admitted when it was scheduled, and an EXEC body's commands never are one by one.
    Run {
        spec: &'static CommandSpec,
        argv: Argv,
        admit: bool,
    },
    /// A script whose declared keys all live on this shard: it runs here, in this one hop
    /// (`node::script`).
    Script {
        job: Box<crate::node::script::ScriptJob>,
    },
    /// Copies of the live entries under (database, key) pairs (None where absent).
    Fetch { keys: Vec<(u16, Vec<u8>)> },
    /// Replace (Some) or delete (None) the entries under (database, key) pairs.
    Store {
        entries: Vec<(u16, Vec<u8>, Option<Entry>)>,
    },
    /// A node-wide operation (DBSIZE, KEYS, FLUSHALL, INFO…).
    Node(NodeOp),
    /// Enter a transaction into this shard's queue and take its intents. With `admit_bytes`,
    /// the transaction holds a write that needs memory, and brings that many bytes here at
    /// most (`CommandSpec::incoming_bytes` of its writes here): once accepted, the shard makes room
    /// for them (Redis's memory step, taken here once for the whole transaction) and says
    /// whether they fit, so a transaction is refused for memory everywhere or nowhere.
    Schedule {
        txid: TxId,
        locks: LockSet,
        admit_bytes: Option<u64>,
    },
    /// Withdraw a transaction scheduled here (another shard refused it).
    Cancel { txid: TxId },
    /// The sending connection WATCHes these (database, key) pairs here.
    Watch { keys: Vec<(u16, Vec<u8>)> },
    /// The sending connection's watches here end (UNWATCH, DISCARD, RESET, disconnect).
    Unwatch,
    /// Whether the sending connection's watches here still hold; they end either way.
    CheckWatch,
    /// A blocking command whose keys all live here: its attempt, and when that finds nothing,
    /// the client waits here to be served by this shard (`node::blocking`).
    RunOrBlock {
        spec: &'static CommandSpec,
        argv: Argv,
    },
    /// The sender's blocking command, whose keys span shards, waits on these keys here: tell it
    /// when one holds a value that may serve it. Sent again after a woken attempt found
    /// nothing, it re-arms the notice.
    Register {
        waiter_seq: u64,
        spec: &'static CommandSpec,
        /// The command as it waits (XREAD's `$` resolved): what a key must hold to wake it.
        argv: Argv,
        keys: Vec<Vec<u8>>,
    },
    /// The sender's blocked client stops waiting here (served elsewhere, timed out, gone).
    Unregister { waiter_seq: u64 },
    /// The sender's client blocked here times out or is unblocked: withdraw it unless this
    /// shard served it already (`Unblocked`).
    Unblock { waiter_seq: u64 },
}

#[derive(Debug)]
pub enum HopResult {
    Reply(Reply),
    Entries(Vec<Option<Entry>>),
    Stored,
    Node(NodeResult),
    /// The shard's answer to a schedule: refused (it conflicts with a higher txid queued there), or
    /// accepted, with the shard's clock if the transaction can already run there (else a
    /// `Runnable` follows when it can).
    Scheduled {
        accepted: bool,
        runnable_at_ms: Option<u64>,
        /// The schedule asked for admission and the shard is over its memory budget.
        out_of_memory: bool,
    },
    /// A scheduled transaction became runnable on the sending shard, whose clock reads `at_ms`.
    /// Sent on its own, outside the count of outstanding hops.
    Runnable {
        txid: TxId,
        at_ms: u64,
    },
    /// No watched key here was modified since WATCH.
    WatchClean(bool),
    /// A `RunOrBlock` attempt found nothing: the client now waits on this shard.
    Blocked,
    /// A client blocked on this shard was served: its reply. Sent on its own, with the
    /// waiter's sequence number.
    Served(Reply),
    /// A key a cross-shard waiter waits on may serve it now: run the command again.
    KeyReady,
    /// The answer to `Unblock`: true when the waiter was withdrawn unserved.
    Unblocked(bool),
    /// A script reached beyond what this shard could lend it (another shard's key, a key behind
    /// a transaction's intents): nothing of it counts, and the coordinator runs it as a
    /// transaction over the keys it touched.
    ScriptRetry(Box<crate::node::script::ScriptJob>),
    /// A hop that `schedules` itself was refused here (a conflicting higher txid is queued):
    /// nothing ran, and its ops come back for the retry.
    Declined(Vec<HopOp>),
}

#[derive(Debug)]
pub struct HopDone {
    pub from: ThreadId,
    pub conn: ConnId,
    pub seq: u64,
    pub results: Vec<HopResult>,
}

/// Node-wide work each thread does for its own shard and connections.
#[derive(Clone, Debug)]
pub enum NodeOp {
    DbSize {
        db: u16,
    },
    Keys {
        db: u16,
        pattern: Vec<u8>,
    },
    Scan {
        db: u16,
        cursor: u64,
        pattern: Option<Vec<u8>>,
        count: usize,
        type_name: Option<Vec<u8>>,
    },
    RandomKey {
        db: u16,
    },
    FlushDb {
        db: u16,
    },
    FlushAll,
    SwapDb {
        a: u16,
        b: u16,
    },
    /// DEBUG DIGEST (`keys: None`) or DEBUG DIGEST-VALUE of `keys`.
    Digest {
        db: u16,
        keys: Option<Vec<Vec<u8>>>,
    },
    /// SAVE/BGSAVE's cut: this shard starts its part of the snapshot.
    SnapshotCut {
        job: crate::node::persist::JobRef,
    },
    /// DEBUG RELOAD's load: empty this shard (with `flush`), then insert the keys of `dump` it
    /// owns (`None`: the file did not load).
    Reload {
        dump: Option<crate::node::reload::Dump>,
        flush: bool,
        merge: bool,
    },
    /// DEBUG SET-ACTIVE-EXPIRE: switch this shard's active expiry sweep.
    SetActiveExpire {
        on: bool,
    },
    /// Counters and keyspace sizes for INFO.
    Stats,
    /// CLIENT LIST lines, filtered.
    ClientList {
        filter: crate::node::commands::client::ClientFilter,
    },
    /// CLIENT KILL: close matching connections (never `except`).
    ClientKill {
        filter: crate::node::commands::client::ClientFilter,
        except: ConnId,
    },
    /// CLIENT UNBLOCK: end connection `id`'s blocking command, with an error or as a timeout.
    ClientUnblock {
        id: ConnId,
        error: bool,
    },
    /// A CONFIG SET applied on every thread.
    ConfigSet {
        pairs: Vec<(String, Vec<u8>)>,
    },
    /// CONFIG RESETSTAT: zero this thread's INFO counters.
    ResetStats,
    /// SLOWLOG GET (the newest `count` here), LEN (all here) or RESET.
    Slowlog(SlowlogOp),
    /// PUBLISH / SPUBLISH: deliver to this thread's subscribers.
    Publish {
        /// The publishing connection: its own frames come back in the result, to be written
        /// with its reply (inside EXEC's array when it publishes there).
        publisher: ConnId,
        /// (namespace, channel, message), in publish order: pipelined PUBLISHes ride together.
        messages: Vec<(crate::node::pubsub::Space, Vec<u8>, Vec<u8>)>,
    },
    /// PUBSUB (SHARD)CHANNELS: this thread's channels matching the pattern.
    PubSubChannels {
        space: crate::node::pubsub::Space,
        pattern: Option<Vec<u8>>,
    },
    /// PUBSUB (SHARD)NUMSUB: this thread's subscriber count per channel.
    PubSubNumSub {
        space: crate::node::pubsub::Space,
        channels: Vec<Vec<u8>>,
    },
    /// PUBSUB NUMPAT: this thread's patterns (distinct across threads only by name).
    PubSubPatterns,
    /// A script body loaded on another thread joins this thread's cache.
    ScriptLoad {
        sha: String,
        body: Vec<u8>,
    },
    /// SCRIPT FLUSH on another thread.
    ScriptFlush,
    /// The libraries after a FUNCTION change on another thread.
    FunctionsSet {
        libraries: crate::node::script::function::Libraries,
    },
}

#[derive(Debug)]
pub enum NodeResult {
    Count(u64),
    Keys(Vec<Vec<u8>>),
    /// Keys found and the shard-local cursor to continue from (0 when this shard is done).
    Scanned {
        keys: Vec<Vec<u8>>,
        next: u64,
    },
    /// A random live key and how many keys the shard holds, to weigh the pick.
    Random {
        key: Option<Vec<u8>>,
        keys_len: u64,
    },
    Done,
    Stats(Box<crate::node::commands::info::ThreadStats>),
    Lines(Vec<(u64, String)>),
    /// Subscribers a message reached here, and the frames for the publisher itself when it
    /// subscribes here too (written just before its count).
    Published {
        receivers: Vec<u64>,
        to_caller: Vec<Vec<Reply>>,
    },
    Counts(Vec<u64>),
    /// DEBUG DIGEST: per database with live keys here, the XOR of their digests.
    DbDigests(Vec<(u32, [u8; 20])>),
    /// DEBUG DIGEST-VALUE: each key's digest, zeros for keys not held here.
    KeyDigests(Vec<[u8; 20]>),
    /// SLOWLOG GET and LEN: this thread's newest entries.
    SlowEntries(Vec<crate::node::slowlog::SlowEntry>),
}

#[derive(Clone, Copy, Debug)]
pub enum SlowlogOp {
    Get { count: usize },
    Len,
    Reset,
}

/// What a waiting connection does with results as they arrive.
#[derive(Debug)]
pub struct Pending {
    pub seq: u64,
    /// Hops sent whose results have not come back.
    pub outstanding: usize,
    pub plan: Plan,
    pub tx: TxPhase,
}

/// Where a command stands as a transaction.
#[derive(Debug)]
pub enum TxPhase {
    /// Not a transaction: hops run as they arrive.
    None,
    /// Waiting for every shard to accept `txid` and for it to be runnable on each; then the
    /// plan launches at the latest of those shards' clocks.
    Scheduling {
        txid: TxId,
        locks: Vec<(ThreadId, LockSet)>,
        accepted: Vec<ThreadId>,
        refused: bool,
        /// Shards that accepted but where the transaction cannot run yet.
        not_runnable: Vec<ThreadId>,
        /// The latest clock among the shards where it is runnable.
        runnable_at_ms: u64,
        /// A shard that admitted it for memory is over budget: it ends with an OOM refusal.
        out_of_memory: bool,
    },
    /// Scheduled on `shards`; the plan's hops carry the txid and run at `now_ms`.
    Running {
        txid: TxId,
        shards: Vec<ThreadId>,
        now_ms: u64,
    },
}

#[derive(Debug)]
pub enum Plan {
    /// Commands squashed into one hop to one shard; their replies, in order.
    Batch { replies: Vec<Reply> },
    /// Pipelined commands on this thread's shard and one other, run as one transaction.
    Pipeline(Box<crate::node::pipeline::PipelineState>),
    /// A keyed command split by shard; `positions[i]` lists where part i's key replies go.
    Split {
        spec: &'static CommandSpec,
        merge: Merge,
        slots: Vec<Option<Reply>>,
        parts: Vec<(ThreadId, Vec<usize>)>,
        /// Each part's arguments, until the parts are sent.
        part_argvs: Vec<Argv>,
        sum: i64,
        error: Option<Reply>,
    },
    /// A cross-shard command run on copies: first the fetch, then the store of changes.
    Gather(Box<GatherState>),
    /// EXEC: a MULTI body run in waves, under one transaction when it spans shards.
    Exec(Box<crate::multi::ExecState>),
    /// WATCH: registrations acknowledged by each shard.
    Watch,
    /// Refused before it ran (a transaction over memory): the reply, once nothing is pending.
    Refused(Reply),
    /// A script sent to the one shard owning its keys: its reply, or a retry as a transaction.
    ScriptHop { outcome: Option<HopResult> },
    /// Hops whose results only acknowledge (SCRIPT LOAD on every thread): the reply, once
    /// every one came back.
    Acked(Reply),
    /// A blocking command's attempt on the one shard owning its keys: it answers or blocks.
    Block {
        blocked: Box<crate::node::blocking::Blocked>,
        outcome: Option<HopResult>,
    },
    /// A node-wide command collecting one result per thread.
    Node {
        cmd: NodeCmd,
        argv: Argv,
        op: NodeOp,
        targets: Vec<ThreadId>,
        results: Vec<(ThreadId, NodeResult)>,
    },
}

#[derive(Debug)]
pub struct GatherState {
    pub spec: &'static CommandSpec,
    pub argv: Argv,
    /// (database, key) of every key the command touches, and the entry fetched for it.
    pub keys: Vec<(u16, Vec<u8>)>,
    pub fetched: Vec<Option<Option<Entry>>>,
    /// Which of `keys` each thread's fetch holds, in order.
    pub parts: Vec<(ThreadId, Vec<usize>)>,
    /// Set once the command ran on the copies; the reply waits for the stores.
    pub reply: Option<Reply>,
    /// A blocking command's attempt across shards: what to do when it finds nothing.
    pub blocking: Option<Box<crate::node::blocking::Blocked>>,
    /// Whether the keys its patterns name still have to be fetched (`Merge::Patterns`).
    pub patterns: PatternFetch,
    /// A script run on the copies (`node::script`) instead of `spec`.
    pub script: Option<Box<crate::node::script::ScriptJob>>,
}

/// A pattern-reading command's second fetch (`Merge::Patterns`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternFetch {
    /// The command reads no pattern keys, or they are fetched.
    Done,
    /// Once the first key is fetched, derive the pattern keys and fetch them.
    Pending,
}
