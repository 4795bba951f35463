//! Damselfly's reference model: a plain, sequential, obviously correct Redis 7.0, and a
//! linearizability checker built on it.
//!
//! The model shares no code with the engine; it is what the engine is checked against:
//! op by op in differential tests, and over concurrent simulator histories via
//! [`linearizability::check`]. It is itself checked against a real redis-server
//! (`tests/vs_redis.rs`), so that it is Redis and not our guess of Redis.
//!
//! Map of the crate:
//! - [`model`]: state (`Model`, `Entry`, `Value`, `ConnState`), `apply`, `digest`.
//! - `commands`: the command table (name, arity, keys touched, handler) and dispatch.
//! - `strings`, `hash`, `keyspace`, `multi`: one file per command family, each a port of Redis's checks in
//!   Redis's order. `bitmap` and `hll` work on string values (the HLL in Redis's exact bytes).
//! - [`resp`]: the reply type and its exact RESP2/RESP3 bytes.
//! - `args`, `glob`, `longdouble`, `bignum`, `fnv`: Redis's number parsing, glob matching,
//!   x87 `long double` arithmetic for INCRBYFLOAT, and a deterministic hash.
//!
//! Time is always an argument (`now_ms`, Unix milliseconds); the model reads no clock and
//! draws no randomness. Clarity beats speed everywhere: states are small.

mod args;
mod bignum;
mod bitmap;
mod commands;
mod draws;
mod fnv;
mod glob;
mod hash;
mod hll;
mod keyspace;
pub mod linearizability;
mod list;
mod longdouble;
pub mod model;
mod multi;
pub mod resp;
mod set;
mod sort;
mod stream;
mod strings;
mod zset;

pub use commands::{touched, Touch};
pub use model::{ConnState, Db, Entry, Model, TxState, Value, WatchedKey, DBS_DEFAULT};
pub use resp::Resp;

/// Deterministic hashing for callers that key maps by model values (FNV-1a).
pub use fnv::{Fnv64, FnvBuild};

/// `glob::matches` for callers that need KEYS's pattern language (e.g. to compare KEYS).
pub fn glob_matches(pattern: &[u8], string: &[u8]) -> bool {
    glob::matches(pattern, string)
}
