//! The Damselfly engine, sans-IO: deterministic, no sockets, no threads, no OS clock.
//!
//! Every component is a single-threaded state machine driven through `on_msg(msg, cx)`. `Cx`
//! (module `cx`) is the only window on the world: time, seeded randomness, planted-bug switches,
//! and the effects a step produces (send to a thread, write to a connection, arm a timer).
//! The production driver (engine/server) and the simulator (sim/) run this same code.

pub mod argv;
pub mod cx;
pub mod error;
pub mod glob;
pub mod hop;
pub mod numfmt;
pub mod reply;
pub mod resp;
