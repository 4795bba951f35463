//! The command families: one file per family, each with its design header, its rows (built
//! through `cmd::Family`), its typed parsers and its handlers, apart from the table machinery
//! in `cmd/` (the table, key specs, argument docs, name lookup) that every family uses.
//! STYLE.md: one family, one file, three layers.

pub mod bitmap;
pub mod dump;
pub mod expire;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod keyspace;
pub mod list;
pub mod memcache;
pub mod memory;
pub mod object;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod strings;
pub mod transactions;
pub mod zset;
