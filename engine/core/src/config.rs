//! Settings the engine reads, with Redis's names for CONFIG GET/SET. Each thread holds a copy;
//! CONFIG SET validates every pair on the coordinating thread against a scratch copy (so a bad
//! pair changes nothing), then the same pairs are applied on every thread.
//!
//! `Param` is the one list of parameters CONFIG knows. Each has Redis's name, Redis's parser
//! (integers by `string2ll`, memory values by `memtoull`, yes/no booleans, enums) and Redis's
//! range, so the error reasons are Redis's words. Where we differ from Redis on purpose:
//! `port` and `bind` are immutable (the driver owns the listening sockets), and `dir` and
//! `dbfilename` are protected as with Redis's default `enable-protected-configs no`.

use std::borrow::Cow;

use crate::numfmt;
use crate::resp::Limits;

/// Redis's default `proto-max-bulk-len`: 512 MiB.
pub const PROTO_MAX_BULK_LEN_DEFAULT_BYTES: u64 = 512 * 1024 * 1024;
/// Redis refuses a `proto-max-bulk-len` below 1 MiB.
pub const PROTO_MAX_BULK_LEN_MIN_BYTES: u64 = 1024 * 1024;
pub const MAXCLIENTS_DEFAULT: u64 = 10_000;
pub const DATABASES_DEFAULT: usize = 16;
/// Redis clamps `hz` into this range (CONFIG_MIN_HZ, CONFIG_MAX_HZ).
pub const HZ_MIN: u64 = 1;
pub const HZ_MAX: u64 = 500;
const _: () = assert!(PROTO_MAX_BULK_LEN_MIN_BYTES <= PROTO_MAX_BULK_LEN_DEFAULT_BYTES);
const _: () =
    assert!(PROTO_MAX_BULK_LEN_DEFAULT_BYTES == crate::db::PROTO_MAX_BULK_LEN_DEFAULT_BYTES);
const _: () = assert!(HZ_MIN <= HZ_MAX);

/// `maxmemory-policy`, in Redis's order (its error text lists them so).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MaxmemoryPolicy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    #[default]
    NoEviction,
}

impl MaxmemoryPolicy {
    pub const ALL: [MaxmemoryPolicy; 8] = [
        MaxmemoryPolicy::VolatileLru,
        MaxmemoryPolicy::VolatileLfu,
        MaxmemoryPolicy::VolatileRandom,
        MaxmemoryPolicy::VolatileTtl,
        MaxmemoryPolicy::AllkeysLru,
        MaxmemoryPolicy::AllkeysLfu,
        MaxmemoryPolicy::AllkeysRandom,
        MaxmemoryPolicy::NoEviction,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MaxmemoryPolicy::VolatileLru => "volatile-lru",
            MaxmemoryPolicy::VolatileLfu => "volatile-lfu",
            MaxmemoryPolicy::VolatileRandom => "volatile-random",
            MaxmemoryPolicy::VolatileTtl => "volatile-ttl",
            MaxmemoryPolicy::AllkeysLru => "allkeys-lru",
            MaxmemoryPolicy::AllkeysLfu => "allkeys-lfu",
            MaxmemoryPolicy::AllkeysRandom => "allkeys-random",
            MaxmemoryPolicy::NoEviction => "noeviction",
        }
    }

    /// OBJECT FREQ works only under an LFU policy, OBJECT IDLETIME only under the others.
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            MaxmemoryPolicy::VolatileLfu | MaxmemoryPolicy::AllkeysLfu
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub databases: usize,
    pub requirepass: Option<Vec<u8>>,
    pub maxclients: u64,
    /// Refuse non-loopback clients when no password is set (Redis's protected mode).
    pub protected_mode: bool,
    pub bind: String,
    pub port: u16,
    pub proto_max_bulk_len: u64,
    pub maxmemory_bytes: u64,
    pub maxmemory_policy: MaxmemoryPolicy,
    /// Already clamped into `HZ_MIN..=HZ_MAX`, as CONFIG GET shows it.
    pub hz: u64,
    pub timeout_s: u64,
    pub dir: String,
    pub dbfilename: String,
    pub appendonly: bool,
    pub appendfsync: AppendFsync,
    /// The append-only file's directory under `dir` (Redis 7's multi-part layout).
    pub appenddirname: String,
    /// The append-only files' base name.
    pub appendfilename: String,
    /// Load an append-only file whose last command is cut short (a crash mid-write).
    pub aof_load_truncated: bool,
    /// The AOF manifest the driver loaded at start (not a CONFIG parameter): appends go on in
    /// its last incremental file; `None` lays out a new set of files.
    pub aof_manifest_found: Option<Vec<u8>>,
    /// `rdbcompression`: LZF for strings of more than 20 bytes in saves and DUMP.
    pub rdbcompression: bool,
    /// `rdbchecksum`: a CRC-64 trailer on saved files (no: eight zero bytes, "not checked").
    pub rdbchecksum: bool,
    /// Normalized "seconds changes …" pairs; empty means no snapshots.
    pub save: String,
    pub lfu_log_factor: u64,
    pub lfu_decay_time: u64,
    pub slowlog_log_slower_than_us: i64,
    pub slowlog_max_len: u64,
    /// Normalized "class hard soft seconds …" for normal, slave and pubsub.
    pub client_output_buffer_limit: String,
    /// Normalized as Redis prints it ("AKE", "xE").
    pub notify_keyspace_events: String,
    /// `hash-max-listpack-entries` (alias `hash-max-ziplist-entries`).
    pub hash_max_listpack_entries: u64,
    /// `hash-max-listpack-value` (alias `hash-max-ziplist-value`), bytes.
    pub hash_max_listpack_value_bytes: u64,
    pub set_max_intset_entries: u64,
    /// `list-max-listpack-size` (alias `list-max-ziplist-size`): entries per node, or
    /// -1..-5 for 4..64 KiB.
    pub list_max_listpack_size: i64,
    /// `zset-max-listpack-entries` (alias `zset-max-ziplist-entries`).
    pub zset_max_listpack_entries: u64,
    /// `zset-max-listpack-value` (alias `zset-max-ziplist-value`), bytes of a member.
    pub zset_max_listpack_value_bytes: u64,
    /// `hll-sparse-max-bytes`: the largest sparse HyperLogLog, header included.
    pub hll_sparse_max_bytes: u64,
    /// `stream-node-max-bytes`: bytes per stream node (0: no bound).
    pub stream_node_max_bytes: u64,
    /// `stream-node-max-entries`: entries per stream node (0: no bound).
    pub stream_node_max_entries: u64,
    /// `latency-tracking`: per-command latency histograms for INFO latencystats.
    pub latency_tracking: bool,
    /// `latency-tracking-info-percentiles`, normalized as CONFIG GET prints it ("50 99 99.9").
    pub latency_tracking_info_percentiles: String,
    /// `latency-monitor-threshold`: events at least this long go to LATENCY (0: off).
    pub latency_monitor_threshold_ms: u64,
    /// Not in Redis (a start flag, `--command_stats`): count calls and times for INFO
    /// commandstats and latencystats. Off only to measure what counting costs.
    pub command_stats: bool,
}

/// `appendfsync`: when the append-only file is made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendFsync {
    /// After every write, before its reply.
    Always,
    /// Once a second: a crash loses at most about a second of writes.
    EverySec,
    /// Whenever the operating system writes it back.
    No,
}

impl AppendFsync {
    pub const ALL: [AppendFsync; 3] = [AppendFsync::Always, AppendFsync::EverySec, AppendFsync::No];

    pub fn name(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::EverySec => "everysec",
            AppendFsync::No => "no",
        }
    }
}

/// Redis 7.0's built-in defaults (config.c; the shipped redis.conf lowers the hash entries to
/// 128, but a server started without a file, like ours, uses these).
pub const HASH_MAX_LISTPACK_ENTRIES_DEFAULT: u64 = 512;
pub const HASH_MAX_LISTPACK_VALUE_DEFAULT_BYTES: u64 = 64;
pub const SET_MAX_INTSET_ENTRIES_DEFAULT: u64 = 512;
pub const LIST_MAX_LISTPACK_SIZE_DEFAULT: i64 = -2;
pub const ZSET_MAX_LISTPACK_ENTRIES_DEFAULT: u64 = 128;
pub const ZSET_MAX_LISTPACK_VALUE_DEFAULT_BYTES: u64 = 64;

impl Default for Config {
    fn default() -> Config {
        Config {
            databases: DATABASES_DEFAULT,
            requirepass: None,
            maxclients: MAXCLIENTS_DEFAULT,
            protected_mode: true,
            bind: "127.0.0.1".into(),
            port: 6379,
            proto_max_bulk_len: PROTO_MAX_BULK_LEN_DEFAULT_BYTES,
            maxmemory_bytes: 0,
            maxmemory_policy: MaxmemoryPolicy::NoEviction,
            hz: 10,
            timeout_s: 0,
            dir: ".".into(),
            dbfilename: "dump.rdb".into(),
            appendonly: false,
            appendfsync: AppendFsync::EverySec,
            appenddirname: "appendonlydir".into(),
            appendfilename: "appendonly.aof".into(),
            aof_load_truncated: true,
            aof_manifest_found: None,
            rdbcompression: true,
            rdbchecksum: true,
            save: String::new(),
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            slowlog_log_slower_than_us: 10_000,
            slowlog_max_len: 128,
            client_output_buffer_limit:
                "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60".into(),
            notify_keyspace_events: String::new(),
            hash_max_listpack_entries: HASH_MAX_LISTPACK_ENTRIES_DEFAULT,
            hash_max_listpack_value_bytes: HASH_MAX_LISTPACK_VALUE_DEFAULT_BYTES,
            set_max_intset_entries: SET_MAX_INTSET_ENTRIES_DEFAULT,
            list_max_listpack_size: LIST_MAX_LISTPACK_SIZE_DEFAULT,
            zset_max_listpack_entries: ZSET_MAX_LISTPACK_ENTRIES_DEFAULT,
            zset_max_listpack_value_bytes: ZSET_MAX_LISTPACK_VALUE_DEFAULT_BYTES,
            hll_sparse_max_bytes: crate::db::hll::SPARSE_MAX_BYTES_DEFAULT,
            stream_node_max_bytes: crate::db::stream::STREAM_NODE_MAX_BYTES_DEFAULT as u64,
            stream_node_max_entries: crate::db::stream::STREAM_NODE_MAX_ENTRIES_DEFAULT as u64,
            latency_tracking: true,
            latency_tracking_info_percentiles: "50 99 99.9".into(),
            latency_monitor_threshold_ms: 0,
            command_stats: true,
        }
    }
}

impl Config {
    /// The encoding thresholds shards apply to collections.
    pub fn collection_limits(&self) -> crate::db::CollectionLimits {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        crate::db::CollectionLimits {
            hash: crate::db::HashLimits {
                listpack_entries_max: size(self.hash_max_listpack_entries),
                listpack_value_max_bytes: size(self.hash_max_listpack_value_bytes),
            },
            set: crate::db::SetLimits {
                intset_entries_max: size(self.set_max_intset_entries),
            },
            list: crate::db::ListLimits {
                fill: self.list_max_listpack_size,
            },
            zset: crate::db::ZSetLimits {
                listpack_entries_max: size(self.zset_max_listpack_entries),
                listpack_value_max_bytes: size(self.zset_max_listpack_value_bytes),
            },
            strings: crate::db::StringLimits {
                proto_max_bulk_len_bytes: self.proto_max_bulk_len,
                hll_sparse_max_bytes: self.hll_sparse_max_bytes,
                rdb_compression: self.rdbcompression,
            },
            stream: crate::db::StreamLimits {
                node_bytes_max: size(self.stream_node_max_bytes),
                node_entries_max: size(self.stream_node_max_entries),
            },
        }
    }

    // `..Limits::default()` keeps the decoder's other limits at Redis's values as it grows.
    #[allow(clippy::needless_update)]
    pub fn resp_limits(&self) -> Limits {
        Limits {
            bulk_len_max_bytes: self.proto_max_bulk_len,
            ..Limits::default()
        }
    }
}

/// Whether CONFIG SET may change a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    Mutable,
    /// "can't set immutable config"
    Immutable,
    /// "can't set protected config" (Redis's `enable-protected-configs no`)
    Protected,
}

/// Every parameter CONFIG GET/SET knows, in the order CONFIG GET lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    Databases,
    Requirepass,
    Maxclients,
    ProtectedMode,
    Bind,
    Port,
    ProtoMaxBulkLen,
    Maxmemory,
    MaxmemoryPolicy,
    Hz,
    Timeout,
    Dir,
    Dbfilename,
    Appendonly,
    Appendfsync,
    Appenddirname,
    Appendfilename,
    AofLoadTruncated,
    Save,
    LfuLogFactor,
    LfuDecayTime,
    SlowlogLogSlowerThan,
    SlowlogMaxLen,
    ClientOutputBufferLimit,
    NotifyKeyspaceEvents,
    HashMaxListpackEntries,
    HashMaxZiplistEntries,
    HashMaxListpackValue,
    HashMaxZiplistValue,
    SetMaxIntsetEntries,
    ListMaxListpackSize,
    ListMaxZiplistSize,
    ZsetMaxListpackEntries,
    ZsetMaxZiplistEntries,
    ZsetMaxListpackValue,
    ZsetMaxZiplistValue,
    HllSparseMaxBytes,
    StreamNodeMaxBytes,
    StreamNodeMaxEntries,
    LatencyTracking,
    LatencyTrackingInfoPercentiles,
    LatencyMonitorThreshold,
    Rdbcompression,
    Rdbchecksum,
}

/// Redis's `INT_MAX` bound for int configs.
const INT_MAX: i64 = i32::MAX as i64;
/// Redis's `INT_MIN` bound for int configs.
const INT_MIN: i64 = i32::MIN as i64;

impl Param {
    pub const ALL: [Param; 44] = [
        Param::Databases,
        Param::Requirepass,
        Param::Maxclients,
        Param::ProtectedMode,
        Param::Bind,
        Param::Port,
        Param::ProtoMaxBulkLen,
        Param::Maxmemory,
        Param::MaxmemoryPolicy,
        Param::Hz,
        Param::Timeout,
        Param::Dir,
        Param::Dbfilename,
        Param::Appendonly,
        Param::Appendfsync,
        Param::Appenddirname,
        Param::Appendfilename,
        Param::AofLoadTruncated,
        Param::Save,
        Param::LfuLogFactor,
        Param::LfuDecayTime,
        Param::SlowlogLogSlowerThan,
        Param::SlowlogMaxLen,
        Param::ClientOutputBufferLimit,
        Param::NotifyKeyspaceEvents,
        Param::HashMaxListpackEntries,
        Param::HashMaxZiplistEntries,
        Param::HashMaxListpackValue,
        Param::HashMaxZiplistValue,
        Param::SetMaxIntsetEntries,
        Param::ListMaxListpackSize,
        Param::ListMaxZiplistSize,
        Param::ZsetMaxListpackEntries,
        Param::ZsetMaxZiplistEntries,
        Param::ZsetMaxListpackValue,
        Param::ZsetMaxZiplistValue,
        Param::HllSparseMaxBytes,
        Param::StreamNodeMaxBytes,
        Param::StreamNodeMaxEntries,
        Param::LatencyTracking,
        Param::LatencyTrackingInfoPercentiles,
        Param::LatencyMonitorThreshold,
        Param::Rdbcompression,
        Param::Rdbchecksum,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Param::Databases => "databases",
            Param::Requirepass => "requirepass",
            Param::Maxclients => "maxclients",
            Param::ProtectedMode => "protected-mode",
            Param::Bind => "bind",
            Param::Port => "port",
            Param::ProtoMaxBulkLen => "proto-max-bulk-len",
            Param::Maxmemory => "maxmemory",
            Param::MaxmemoryPolicy => "maxmemory-policy",
            Param::Hz => "hz",
            Param::Timeout => "timeout",
            Param::Dir => "dir",
            Param::Dbfilename => "dbfilename",
            Param::Appendonly => "appendonly",
            Param::Appendfsync => "appendfsync",
            Param::Appenddirname => "appenddirname",
            Param::Appendfilename => "appendfilename",
            Param::AofLoadTruncated => "aof-load-truncated",
            Param::Save => "save",
            Param::LfuLogFactor => "lfu-log-factor",
            Param::LfuDecayTime => "lfu-decay-time",
            Param::SlowlogLogSlowerThan => "slowlog-log-slower-than",
            Param::SlowlogMaxLen => "slowlog-max-len",
            Param::ClientOutputBufferLimit => "client-output-buffer-limit",
            Param::NotifyKeyspaceEvents => "notify-keyspace-events",
            Param::HashMaxListpackEntries => "hash-max-listpack-entries",
            Param::HashMaxZiplistEntries => "hash-max-ziplist-entries",
            Param::HashMaxListpackValue => "hash-max-listpack-value",
            Param::HashMaxZiplistValue => "hash-max-ziplist-value",
            Param::SetMaxIntsetEntries => "set-max-intset-entries",
            Param::ListMaxListpackSize => "list-max-listpack-size",
            Param::ListMaxZiplistSize => "list-max-ziplist-size",
            Param::ZsetMaxListpackEntries => "zset-max-listpack-entries",
            Param::ZsetMaxZiplistEntries => "zset-max-ziplist-entries",
            Param::ZsetMaxListpackValue => "zset-max-listpack-value",
            Param::ZsetMaxZiplistValue => "zset-max-ziplist-value",
            Param::HllSparseMaxBytes => "hll-sparse-max-bytes",
            Param::StreamNodeMaxBytes => "stream-node-max-bytes",
            Param::StreamNodeMaxEntries => "stream-node-max-entries",
            Param::LatencyTracking => "latency-tracking",
            Param::LatencyTrackingInfoPercentiles => "latency-tracking-info-percentiles",
            Param::LatencyMonitorThreshold => "latency-monitor-threshold",
            Param::Rdbcompression => "rdbcompression",
            Param::Rdbchecksum => "rdbchecksum",
        }
    }

    /// Case-insensitive, as Redis's config dictionary.
    pub fn lookup(name: &[u8]) -> Option<Param> {
        Param::ALL
            .into_iter()
            .find(|p| p.name().as_bytes().eq_ignore_ascii_case(name))
    }

    pub fn mutability(self) -> Mutability {
        match self {
            Param::Databases
            | Param::Bind
            | Param::Port
            | Param::Appenddirname
            | Param::Appendfilename => Mutability::Immutable,
            Param::Dir | Param::Dbfilename => Mutability::Protected,
            Param::Requirepass
            | Param::Maxclients
            | Param::ProtectedMode
            | Param::ProtoMaxBulkLen
            | Param::Maxmemory
            | Param::MaxmemoryPolicy
            | Param::Hz
            | Param::Timeout
            | Param::Appendonly
            | Param::Appendfsync
            | Param::AofLoadTruncated
            | Param::Rdbcompression
            | Param::Rdbchecksum
            | Param::Save
            | Param::LfuLogFactor
            | Param::LfuDecayTime
            | Param::SlowlogLogSlowerThan
            | Param::SlowlogMaxLen
            | Param::ClientOutputBufferLimit
            | Param::NotifyKeyspaceEvents
            | Param::HashMaxListpackEntries
            | Param::HashMaxZiplistEntries
            | Param::HashMaxListpackValue
            | Param::HashMaxZiplistValue
            | Param::SetMaxIntsetEntries
            | Param::ListMaxListpackSize
            | Param::ListMaxZiplistSize => Mutability::Mutable,
            Param::ZsetMaxListpackEntries
            | Param::ZsetMaxZiplistEntries
            | Param::ZsetMaxListpackValue
            | Param::ZsetMaxZiplistValue => Mutability::Mutable,
            Param::HllSparseMaxBytes => Mutability::Mutable,
            Param::StreamNodeMaxBytes | Param::StreamNodeMaxEntries => Mutability::Mutable,
            Param::LatencyTracking
            | Param::LatencyTrackingInfoPercentiles
            | Param::LatencyMonitorThreshold => Mutability::Mutable,
        }
    }
}

/// Why a CONFIG SET value was refused, in Redis's words.
pub type SetReason = Cow<'static, str>;

impl Config {
    /// The value CONFIG GET shows.
    pub fn get(&self, param: Param) -> Vec<u8> {
        let text = match param {
            Param::Databases => self.databases.to_string(),
            Param::Requirepass => {
                return self.requirepass.clone().unwrap_or_default();
            }
            Param::Maxclients => self.maxclients.to_string(),
            Param::ProtectedMode => yes_no(self.protected_mode).into(),
            Param::Bind => self.bind.clone(),
            Param::Port => self.port.to_string(),
            Param::ProtoMaxBulkLen => self.proto_max_bulk_len.to_string(),
            Param::Maxmemory => self.maxmemory_bytes.to_string(),
            Param::MaxmemoryPolicy => self.maxmemory_policy.name().into(),
            Param::Hz => self.hz.to_string(),
            Param::Timeout => self.timeout_s.to_string(),
            Param::Dir => self.dir.clone(),
            Param::Dbfilename => self.dbfilename.clone(),
            Param::Appendonly => yes_no(self.appendonly).into(),
            Param::Appendfsync => self.appendfsync.name().into(),
            Param::Appenddirname => self.appenddirname.clone(),
            Param::Appendfilename => self.appendfilename.clone(),
            Param::AofLoadTruncated => yes_no(self.aof_load_truncated).into(),
            Param::Rdbcompression => yes_no(self.rdbcompression).into(),
            Param::Rdbchecksum => yes_no(self.rdbchecksum).into(),
            Param::Save => self.save.clone(),
            Param::LfuLogFactor => self.lfu_log_factor.to_string(),
            Param::LfuDecayTime => self.lfu_decay_time.to_string(),
            Param::SlowlogLogSlowerThan => self.slowlog_log_slower_than_us.to_string(),
            Param::SlowlogMaxLen => self.slowlog_max_len.to_string(),
            Param::ClientOutputBufferLimit => self.client_output_buffer_limit.clone(),
            Param::NotifyKeyspaceEvents => self.notify_keyspace_events.clone(),
            Param::HashMaxListpackEntries | Param::HashMaxZiplistEntries => {
                self.hash_max_listpack_entries.to_string()
            }
            Param::HashMaxListpackValue | Param::HashMaxZiplistValue => {
                self.hash_max_listpack_value_bytes.to_string()
            }
            Param::SetMaxIntsetEntries => self.set_max_intset_entries.to_string(),
            Param::ListMaxListpackSize | Param::ListMaxZiplistSize => {
                self.list_max_listpack_size.to_string()
            }
            Param::ZsetMaxListpackEntries | Param::ZsetMaxZiplistEntries => {
                self.zset_max_listpack_entries.to_string()
            }
            Param::ZsetMaxListpackValue | Param::ZsetMaxZiplistValue => {
                self.zset_max_listpack_value_bytes.to_string()
            }
            Param::HllSparseMaxBytes => self.hll_sparse_max_bytes.to_string(),
            Param::StreamNodeMaxBytes => self.stream_node_max_bytes.to_string(),
            Param::StreamNodeMaxEntries => self.stream_node_max_entries.to_string(),
            Param::LatencyTracking => yes_no(self.latency_tracking).into(),
            Param::LatencyTrackingInfoPercentiles => self.latency_tracking_info_percentiles.clone(),
            Param::LatencyMonitorThreshold => self.latency_monitor_threshold_ms.to_string(),
        };
        text.into_bytes()
    }

    /// Parses `value` as Redis does for `param` and stores it. Mutability is the caller's check.
    pub fn set(&mut self, param: Param, value: &[u8]) -> Result<(), SetReason> {
        match param {
            Param::Requirepass => {
                // Redis: an empty requirepass means no password.
                self.requirepass = (!value.is_empty()).then(|| value.to_vec());
            }
            Param::Maxclients => self.maxclients = int_in(value, 1, i64::from(u32::MAX))? as u64,
            Param::ProtectedMode => self.protected_mode = yes_no_arg(value)?,
            Param::ProtoMaxBulkLen => {
                let min = PROTO_MAX_BULK_LEN_MIN_BYTES as i64;
                self.proto_max_bulk_len = memory_in(value, min, i64::MAX)?;
            }
            Param::Maxmemory => self.maxmemory_bytes = memory(value)?,
            Param::MaxmemoryPolicy => self.maxmemory_policy = policy_arg(value)?,
            Param::Hz => {
                self.hz = (int_in(value, 0, INT_MAX)? as u64).clamp(HZ_MIN, HZ_MAX);
            }
            Param::Timeout => self.timeout_s = int_in(value, 0, INT_MAX)? as u64,
            Param::Appendonly => self.appendonly = yes_no_arg(value)?,
            Param::Appendfsync => {
                self.appendfsync = AppendFsync::ALL
                    .into_iter()
                    .find(|f| f.name().as_bytes().eq_ignore_ascii_case(value))
                    .ok_or("argument(s) must be one of the following: always, everysec, no")?;
            }
            Param::AofLoadTruncated => self.aof_load_truncated = yes_no_arg(value)?,
            Param::Rdbcompression => self.rdbcompression = yes_no_arg(value)?,
            Param::Rdbchecksum => self.rdbchecksum = yes_no_arg(value)?,
            Param::Save => self.save = save_arg(value)?,
            Param::LfuLogFactor => self.lfu_log_factor = int_in(value, 0, INT_MAX)? as u64,
            Param::LfuDecayTime => self.lfu_decay_time = int_in(value, 0, INT_MAX)? as u64,
            Param::SlowlogLogSlowerThan => {
                self.slowlog_log_slower_than_us = int_in(value, -1, i64::MAX)?;
            }
            Param::SlowlogMaxLen => self.slowlog_max_len = int_in(value, 0, i64::MAX)? as u64,
            Param::ClientOutputBufferLimit => {
                self.client_output_buffer_limit =
                    output_limits_arg(&self.client_output_buffer_limit, value)?;
            }
            Param::NotifyKeyspaceEvents => {
                self.notify_keyspace_events = keyspace_events_arg(value)?;
            }
            Param::HashMaxListpackEntries | Param::HashMaxZiplistEntries => {
                self.hash_max_listpack_entries = int_in(value, 0, i64::MAX)? as u64;
            }
            Param::HashMaxListpackValue | Param::HashMaxZiplistValue => {
                self.hash_max_listpack_value_bytes = int_in(value, 0, i64::MAX)? as u64;
            }
            Param::SetMaxIntsetEntries => {
                self.set_max_intset_entries = int_in(value, 0, i64::MAX)? as u64;
            }
            Param::ListMaxListpackSize | Param::ListMaxZiplistSize => {
                self.list_max_listpack_size = int_in(value, INT_MIN, INT_MAX)?;
            }
            Param::ZsetMaxListpackEntries | Param::ZsetMaxZiplistEntries => {
                self.zset_max_listpack_entries = int_in(value, 0, i64::MAX)? as u64;
            }
            Param::ZsetMaxListpackValue | Param::ZsetMaxZiplistValue => {
                self.zset_max_listpack_value_bytes = memory(value)?;
            }
            Param::HllSparseMaxBytes => {
                self.hll_sparse_max_bytes = memory_in(value, 0, i64::MAX)?;
            }
            Param::StreamNodeMaxBytes => {
                self.stream_node_max_bytes = memory_in(value, 0, i64::MAX)?;
            }
            Param::StreamNodeMaxEntries => {
                self.stream_node_max_entries = int_in(value, 0, i64::MAX)? as u64;
            }
            Param::LatencyTracking => self.latency_tracking = yes_no_arg(value)?,
            Param::LatencyTrackingInfoPercentiles => {
                self.latency_tracking_info_percentiles = percentiles_arg(value)?;
            }
            Param::LatencyMonitorThreshold => {
                self.latency_monitor_threshold_ms = int_in(value, 0, i64::MAX)? as u64;
            }
            Param::Databases
            | Param::Bind
            | Param::Port
            | Param::Dir
            | Param::Dbfilename
            | Param::Appenddirname
            | Param::Appendfilename => {
                unreachable!("{} is not settable", param.name())
            }
        }
        Ok(())
    }
}

fn yes_no(on: bool) -> &'static str {
    if on {
        "yes"
    } else {
        "no"
    }
}

fn yes_no_arg(value: &[u8]) -> Result<bool, SetReason> {
    if value.eq_ignore_ascii_case(b"yes") {
        Ok(true)
    } else if value.eq_ignore_ascii_case(b"no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

/// `latency-tracking-info-percentiles`: space-separated numbers in [0, 100], printed as C's
/// `%f` with trailing zeros trimmed ("99.9", "50"); empty is allowed (no percentiles).
fn percentiles_arg(value: &[u8]) -> Result<String, SetReason> {
    let mut printed = Vec::new();
    for word in value.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let p = std::str::from_utf8(word)
            .ok()
            .and_then(|w| w.parse::<f64>().ok())
            .filter(|p| p.is_finite())
            .ok_or(Cow::Borrowed(
                "Invalid latency-tracking-info-percentiles parameters",
            ))?;
        if !(0.0..=100.0).contains(&p) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        printed.push(percentile_name(p));
    }
    Ok(printed.join(" "))
}

/// A percentile as Redis prints it: `%f`, then trailing zeros and a bare point trimmed.
pub fn percentile_name(p: f64) -> String {
    let fixed = format!("{p:.6}");
    fixed
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// The percentiles of `latency-tracking-info-percentiles` (already validated).
pub fn percentiles(normalized: &str) -> Vec<f64> {
    normalized
        .split(' ')
        .filter_map(|w| w.parse::<f64>().ok())
        .collect()
}

fn out_of_range(min: i64, max: i64) -> SetReason {
    format!("argument must be between {min} and {max} inclusive").into()
}

/// An integer config: `string2ll`, then Redis's bounds.
fn int_in(value: &[u8], min: i64, max: i64) -> Result<i64, SetReason> {
    let n = numfmt::parse_i64(value)
        .ok_or(Cow::Borrowed("argument couldn't be parsed into an integer"))?;
    if n < min || n > max {
        return Err(out_of_range(min, max));
    }
    Ok(n)
}

/// Redis's `memtoull`: digits and an optional unit (b, k, kb, m, mb, g, gb; k is 1000 and kb
/// 1024). Like Redis it does not detect overflow: the product wraps.
pub fn memory(value: &[u8]) -> Result<u64, SetReason> {
    let bad = || Cow::Borrowed("argument must be a memory value");
    let digits_len = value.iter().take_while(|b| b.is_ascii_digit()).count();
    let (digits, unit) = value.split_at(digits_len);
    let unit = unit.to_ascii_lowercase();
    let mul: u64 = match unit.as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return Err(bad()),
    };
    // strtoull saturates on overflow and Redis does not look at errno.
    let n = digits.iter().fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .unwrap_or(u64::MAX)
    });
    Ok(n.wrapping_mul(mul))
}

/// A memory config stored as a `long long` with bounds.
fn memory_in(value: &[u8], min: i64, max: i64) -> Result<u64, SetReason> {
    let n = memory(value)? as i64;
    if n < min || n > max {
        return Err(out_of_range(min, max));
    }
    Ok(n as u64)
}

fn policy_arg(value: &[u8]) -> Result<MaxmemoryPolicy, SetReason> {
    MaxmemoryPolicy::ALL
        .into_iter()
        .find(|p| p.name().as_bytes().eq_ignore_ascii_case(value))
        .ok_or_else(|| {
            let names: Vec<&str> = MaxmemoryPolicy::ALL.iter().map(|p| p.name()).collect();
            format!(
                "argument(s) must be one of the following: {}",
                names.join(", ")
            )
            .into()
        })
}

/// `save`: pairs of non-negative "seconds changes"; seconds must be positive. Empty: none.
fn save_arg(value: &[u8]) -> Result<String, SetReason> {
    let text = String::from_utf8_lossy(value);
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    let bad = || Cow::Borrowed("Invalid save parameters");
    if !words.len().is_multiple_of(2) {
        return Err(bad());
    }
    for pair in words.chunks(2) {
        let seconds = numfmt::parse_i64(pair[0].as_bytes()).ok_or_else(bad)?;
        let changes = numfmt::parse_i64(pair[1].as_bytes()).ok_or_else(bad)?;
        if seconds < 1 || changes < 0 {
            return Err(bad());
        }
    }
    Ok(words.join(" "))
}

/// One class of `client-output-buffer-limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimit {
    /// 0: none.
    pub hard_bytes: u64,
    /// 0: none.
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}

impl Config {
    /// The `pubsub` class of `client-output-buffer-limit`.
    pub fn pubsub_output_limit(&self) -> OutputLimit {
        let words: Vec<&str> = self.client_output_buffer_limit.split(' ').collect();
        let at = words
            .iter()
            .position(|w| *w == "pubsub")
            .unwrap_or(words.len());
        let number = |i: usize| words.get(at + i).and_then(|w| w.parse().ok()).unwrap_or(0);
        OutputLimit {
            hard_bytes: number(1),
            soft_bytes: number(2),
            soft_seconds: number(3),
        }
    }
}

/// The classes of `client-output-buffer-limit`, in the order Redis prints them.
const OUTPUT_LIMIT_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// `client-output-buffer-limit`: groups of "class hard soft seconds" replacing those classes'
/// limits; Redis prints the memory values in bytes.
fn output_limits_arg(current: &str, value: &[u8]) -> Result<String, SetReason> {
    let text = String::from_utf8_lossy(value);
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut limits: Vec<[String; 3]> = current
        .split(' ')
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| [c[1].to_string(), c[2].to_string(), c[3].to_string()])
        .collect();
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let bad = || {
            Cow::Borrowed(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            )
        };
        let hard = memory(group[1].as_bytes()).map_err(|_| bad())?;
        let soft = memory(group[2].as_bytes()).map_err(|_| bad())?;
        let seconds = numfmt::parse_i64(group[3].as_bytes())
            .filter(|s| *s >= 0)
            .ok_or_else(bad)?;
        limits[class] = [hard.to_string(), soft.to_string(), seconds.to_string()];
    }
    let parts: Vec<String> = OUTPUT_LIMIT_CLASSES
        .iter()
        .zip(&limits)
        .map(|(class, l)| format!("{class} {} {} {}", l[0], l[1], l[2]))
        .collect();
    Ok(parts.join(" "))
}

/// Keyspace event classes in the order Redis prints them; `A` stands for all of `ALL_CLASSES`.
const ALL_CLASSES: &str = "g$lshzxetd";

/// `notify-keyspace-events`: Redis's flags, printed back in its canonical order.
fn keyspace_events_arg(value: &[u8]) -> Result<String, SetReason> {
    let mut on = std::collections::BTreeSet::new();
    for &b in value {
        match b {
            b'A' => on.extend(ALL_CLASSES.bytes()),
            b'g' | b'$' | b'l' | b's' | b'h' | b'z' | b'x' | b'e' | b't' | b'd' | b'm' | b'n'
            | b'K' | b'E' => {
                on.insert(b);
            }
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        }
    }
    let mut out = String::new();
    if ALL_CLASSES.bytes().all(|c| on.contains(&c)) {
        out.push('A');
    } else {
        out.extend(ALL_CLASSES.chars().filter(|c| on.contains(&(*c as u8))));
    }
    out.extend("KEmn".chars().filter(|c| on.contains(&(*c as u8))));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_values_follow_memtoull() {
        assert_eq!(memory(b"1gb"), Ok(1 << 30));
        assert_eq!(memory(b"1K"), Ok(1000));
        assert_eq!(memory(b"2kb"), Ok(2048));
        assert!(memory(b"-1").is_err());
        assert!(memory(b"100xb").is_err());
        assert!(memory(b"1.5mb").is_err());
    }

    #[test]
    fn keyspace_events_print_canonically() {
        assert_eq!(keyspace_events_arg(b"KEA").unwrap(), "AKE");
        assert_eq!(keyspace_events_arg(b"Ex").unwrap(), "xE");
        assert_eq!(keyspace_events_arg(b"").unwrap(), "");
        assert!(keyspace_events_arg(b"Q").is_err());
    }

    #[test]
    fn output_limits_replace_one_class() {
        let config = Config::default();
        let got = output_limits_arg(&config.client_output_buffer_limit, b"normal 1mb 2k 3");
        assert_eq!(
            got.unwrap(),
            "normal 1048576 2000 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
    }

    #[test]
    fn every_param_round_trips_its_default() {
        for param in Param::ALL {
            assert_eq!(
                Param::lookup(param.name().to_uppercase().as_bytes()),
                Some(param)
            );
            let mut config = Config::default();
            if param.mutability() == Mutability::Mutable {
                let value = config.get(param);
                config.set(param, &value).unwrap();
                assert_eq!(config, Config::default(), "{}", param.name());
            }
        }
    }
}
