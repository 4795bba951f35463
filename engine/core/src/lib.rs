//! The Damselfly engine, sans-IO: deterministic, no sockets, no threads, no OS clock.
//!
//! Every component is a single-threaded state machine driven through `on_msg(msg, cx)`. `Cx`
//! (module `cx`) is the only window on the world: time, seeded randomness, planted-bug switches,
//! and the effects a step produces (send to a thread, write to a connection, arm a timer).
//! The production driver (engine/server) and the simulator (sim/) run this same code.
//!
//! Map of the crate: `resp` decodes and encodes the wire protocol; `node` is one thread's engine
//! (its shard and its connections) and `coord` coordinates work across shards; `cmd` is the
//! command table and one file per command family; `shard`, `db` and `table` hold the data.

pub mod access;
pub mod argv;
pub mod cmd;
pub mod config;
pub mod conn;
pub mod coord;
pub mod cx;
pub mod db;
pub mod env;
pub mod error;
pub mod glob;
pub mod hop;
pub mod multi;
pub mod node;
pub mod numfmt;
pub mod reply;
pub mod resp;
pub mod shard;
pub mod size_class;
pub mod table;
pub mod testkit;
pub mod tx;
pub mod watch;
