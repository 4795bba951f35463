//! `damselfly`: the production driver of the sans-IO engine (`damselfly_core`).
//!
//! The engine decides everything; this crate moves bytes and effects. It owns what the engine
//! may not touch: OS threads, sockets, clocks, OS randomness, signals. Map:
//! - `flags`: command line, `DFLY_*` environment and `--flagfile`, mapped to the engine `Config`.
//! - `server`: the supervisor (bind, start threads, wait for a stop, join).
//! - `worker`: one proactor thread (runtime, engine `Node`, effect routing, accepting); the
//!   epoll backend and what both backends share.
//! - `uring`: the io_uring backend's event loop for a proactor thread (`--io_backend`).
//! - `timer`: a proactor thread's timers, on a helper thread (no time driver in the runtime).
//! - `conn`: one socket's reads and writes on its thread.
//! - `mailbox`: the cross-thread queue, wake-up and shutdown flag (loom-checked).
//! - `clock`: the monotonic origin and wall clock handed to the engine each step.

// The workspace's clippy.toml bans clocks, thread spawning and default-hashed maps so that the
// engine stays deterministic. The driver is the one place that owns clocks and threads, and its
// maps never reach a reply, so it opts out here.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

// Under `--cfg loom` (the mailbox's model checking, see mailbox.rs) tokio compiles without its
// `net` and `signal` modules, so only the mailbox is built and `main` is empty.
#[cfg(not(loom))]
mod aof_load;
#[cfg(not(loom))]
mod clock;
#[cfg(not(loom))]
mod conn;
#[cfg(not(loom))]
mod disk;
#[cfg(not(loom))]
mod flags;
#[cfg(not(loom))]
mod load;
#[cfg_attr(loom, allow(dead_code))]
mod mailbox;
#[cfg(not(loom))]
mod server;
#[cfg(not(loom))]
mod timer;
#[cfg(not(loom))]
mod uring;
#[cfg(not(loom))]
mod worker;

#[cfg(not(loom))]
use std::process::ExitCode;

#[cfg(not(loom))]
use flags::FlagError;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(loom)]
fn main() {}

#[cfg(not(loom))]
fn main() -> ExitCode {
    let flags = match flags::parse_process() {
        Ok(flags) => flags,
        // --help and --version: clap's own text, on stdout, success.
        Err(FlagError::Clap(err)) if !err.use_stderr() => {
            print!("{err}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprint!("{err}");
            if !matches!(err, FlagError::Clap(_)) {
                eprintln!();
            }
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(flags.tracing_level())
        .with_thread_names(true)
        .with_target(false)
        .init();
    match server::run(&flags) {
        Ok(code) => code,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}
