//! The commands the node itself answers: those of a connection (CLIENT, HELLO, AUTH…), and those
//! that read or change every shard or the node's state (INFO, CONFIG, KEYS, SCAN, FLUSHALL…).
//! Their rows are in the families under `cmd/`; the table names them by `ConnCmd` and
//! `NodeCmd`, and these modules run them, above the shards and the coordinator.

pub mod client;
pub mod config;
pub mod digest;
pub mod info;
pub mod keyspace;
pub mod server;
