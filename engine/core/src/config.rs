//! Settings the engine reads, with Redis's names for CONFIG GET/SET. Each thread holds a copy;
//! CONFIG SET validates on the coordinating thread, then applies on every thread.

use crate::resp::Limits;

/// Redis's default `proto-max-bulk-len`: 512 MiB.
pub const PROTO_MAX_BULK_LEN_DEFAULT_BYTES: u64 = 512 * 1024 * 1024;
/// Redis refuses a `proto-max-bulk-len` below 1 MiB.
pub const PROTO_MAX_BULK_LEN_MIN_BYTES: u64 = 1024 * 1024;
pub const MAXCLIENTS_DEFAULT: u64 = 10_000;
pub const DATABASES_DEFAULT: usize = 16;

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
    pub maxmemory_policy: String,
    pub hz: u64,
    pub timeout_s: u64,
    pub dir: String,
    pub dbfilename: String,
    pub appendonly: bool,
    pub save: String,
    pub lfu_log_factor: u64,
    pub lfu_decay_time: u64,
    pub slowlog_log_slower_than_us: i64,
    pub slowlog_max_len: u64,
    pub client_output_buffer_limit: String,
    pub notify_keyspace_events: String,
}

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
            maxmemory_policy: "noeviction".into(),
            hz: 10,
            timeout_s: 0,
            dir: ".".into(),
            dbfilename: "dump.rdb".into(),
            appendonly: false,
            save: String::new(),
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            slowlog_log_slower_than_us: 10_000,
            slowlog_max_len: 128,
            client_output_buffer_limit:
                "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60".into(),
            notify_keyspace_events: String::new(),
        }
    }
}

impl Config {
    pub fn resp_limits(&self) -> Limits {
        Limits {
            bulk_len_max_bytes: self.proto_max_bulk_len,
            ..Limits::default()
        }
    }
}
