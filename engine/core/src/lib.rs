//! The Damselfly engine, sans-IO: deterministic, no sockets, no threads, no OS clock.
//!
//! Every component is a single-threaded state machine driven through `on_msg(msg, cx)`. `Cx`
//! (module `cx`) is the only window on the world: the environment (`env::Env`: time, seeded
//! randomness, planted-bug switches, marks) and the effects a step produces (send to a thread,
//! write to a connection, arm a timer). The production driver (engine/server) and the simulator
//! (sim/) run this same code.
//!
//! Layers, bottom first (each imports only its own and lower ones; `tests/layers.rs` checks it):
//! 1. codec and helpers: `error`, `argv`, `glob`, `memcache`, `numfmt`, `reply`, `resp`,
//!    `size_class`;
//! 2. the keyspace and its types: `table` (the Dash table), `db` (entries, values, collections);
//! 3. the environment and config: `env`, `config`;
//! 4. the shard: `shard` (one thread's databases, memory, expiry), `watch`, `blocking` (keys
//!    clients block on), `journal` (what the shard changed, for the append-only file), `access`
//!    (the typed lookups and the one write path);
//! 5. VLL: `tx`;
//! 6. the command table and the families: `cmd` (rows, key specs, one file per family);
//! 7. the coordinating node: `node` with `cx`, `hop`, `coord`, `conn`, `multi` and the commands
//!    the node runs itself (`node::commands`), and `testkit`.

pub mod access;
pub mod argv;
pub mod blocking;
pub mod cmd;
pub mod config;
pub mod db;
pub mod env;
pub mod error;
pub mod glob;
pub mod journal;
pub mod memcache;
pub mod node;
// The node layer's modules keep their short paths (`crate::cx`, `crate::hop`…).
pub use node::{conn, coord, cx, hop, multi};
pub mod numfmt;
pub mod rdb;
pub mod reply;
pub mod resp;
pub mod shard;
pub mod size_class;
pub mod table;
pub mod testkit;
pub mod tx;
pub mod watch;
