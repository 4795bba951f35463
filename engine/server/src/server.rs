//! The supervisor: binds the port, starts the proactor threads, waits for a reason to stop
//! (SIGTERM, SIGINT, SHUTDOWN, or a thread that died), then stops them all and joins them.
//!
//! Accepting: one listening socket, accepted on thread 0, connections dealt round-robin through
//! the threads' mailboxes. We chose this over SO_REUSEPORT (one listener per thread) because the
//! kernel's REUSEPORT hash spreads few connections unevenly (a 50-client benchmark on 2 threads
//! can land 30/20), and a thread's share of clients is its share of work; round-robin keeps the
//! counts within one. It is also what Dragonfly does. Accepting is not on the hot path: the cost
//! is one mailbox message per new connection.
//!
//! Stopping: the supervisor closes every thread's mailbox. Each thread then leaves its mailbox
//! loop, closes its sockets and drops its runtime (thread 0's accept loop with it), and the
//! supervisor joins them. Exit code 0 for a requested stop, 1 if any thread failed.

use std::collections::VecDeque;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;

use damselfly_core::cx::{Msg, ThreadId};
use damselfly_core::node::commands::server::ServerInfo;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::clock::Clock;
use crate::flags::{Flags, IoBackend};
use crate::mailbox::{Signal as _, ThreadWake};
use crate::worker::{self, Control, Inbound, Setup, Shared};

/// Pending connections the kernel queues before we accept (Redis's `tcp-backlog` default).
const TCP_BACKLOG: i32 = 511;
/// Bytes of randomness in a run id (shown as 40 hex digits, as Redis does).
const RUN_ID_BYTES: usize = 20;

/// A failure before the node could start serving.
#[derive(Debug)]
pub struct StartError {
    what: String,
    err: std::io::Error,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.err)
    }
}

fn context(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
    let what = what.into();
    move |err| StartError { what, err }
}

/// Why the node stops.
#[derive(Debug)]
enum StopReason {
    Signal(&'static str),
    Shutdown { thread: ThreadId },
    ThreadExited { thread: ThreadId, panicked: bool },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Signal(name) => write!(f, "received {name}"),
            StopReason::Shutdown { thread } => write!(f, "SHUTDOWN on thread {}", thread.0),
            StopReason::ThreadExited { thread, panicked } => {
                let how = if *panicked { "panicked" } else { "exited" };
                write!(f, "thread {} {how}", thread.0)
            }
        }
    }
}

/// Runs the node until it is asked to stop.
pub fn run(flags: &Flags) -> Result<ExitCode, StartError> {
    let clock = Clock::start();
    // Redis works in `dir` and shows it absolute (CONFIG GET dir); a missing one stops it.
    let mut flags = flags.clone();
    flags.dir = std::fs::canonicalize(&flags.dir)
        .map_err(context(format!("cannot use --dir {}", flags.dir.display())))?;
    let flags = &flags;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(context("cannot start the supervisor's runtime"))?;
    // Handlers first: a SIGTERM that arrives while threads start must still stop us cleanly.
    let signals = {
        let _entered = runtime.enter();
        let term = signal(SignalKind::terminate()).map_err(context("SIGTERM handler"))?;
        let int = signal(SignalKind::interrupt()).map_err(context("SIGINT handler"))?;
        (term, int)
    };
    let listener = bind(flags)?;
    let port = listener
        .local_addr()
        .map_err(context("listening address"))?
        .port();
    let backend = io_backend(flags.io_backend)?;
    let info = server_info(flags, port, clock, backend)?;
    let threads = flags.threads();
    let wakes = (0..threads)
        .map(|_| match backend {
            IoBackend::Uring => crate::uring::new_wake(),
            IoBackend::Epoll => Ok(ThreadWake::Task(tokio::sync::Notify::new())),
        })
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(context("cannot create the threads' wake-ups"))?;
    if backend == IoBackend::Uring {
        // io_uring waits for a blocking socket itself; a non-blocking one could complete its
        // accepts and receives with EAGAIN instead of waiting.
        listener
            .set_nonblocking(false)
            .map_err(context("listening socket"))?;
    }
    let shared = Arc::new(Shared::new(wakes, clock));
    crate::disk::spawn(Arc::clone(&shared)).map_err(context("cannot start the disk thread"))?;
    let handles = spawn_all(flags, port, info, listener, &shared, backend)?;
    if flags.memcached_port != 0 {
        let listener = bind_at(&flags.bind, flags.memcached_port)?;
        spawn_memcached_accept(flags, listener, &shared, backend)
            .map_err(context("cannot start the Memcached accept thread"))?;
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        threads,
        io_backend = ?backend,
        bind = %flags.bind,
        port,
        "damselfly started"
    );
    if !flags.plant.is_empty() {
        tracing::warn!(plants = ?flags.plant, "planted bugs enabled: for tests only");
    }
    let reason = runtime.block_on(wait_for_stop(&shared, signals));
    tracing::info!(%reason, "shutting down");
    let joined_clean = stop_all(&shared, handles);
    if !shared.disk.finish(DISK_FINISH_PATIENCE) {
        tracing::warn!("the disk thread did not finish its work before the stop");
    }
    tracing::info!("damselfly stopped");
    let clean = joined_clean && !matches!(reason, StopReason::ThreadExited { .. });
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn bind(flags: &Flags) -> Result<std::net::TcpListener, StartError> {
    bind_at(&flags.bind, flags.port)
}

/// Accepts Memcached clients on a thread of its own (blocking accepts: not the hot path, and
/// the same for both socket backends) and deals them round-robin, as the RESP listener does.
/// The thread ends with the process.
fn spawn_memcached_accept(
    flags: &Flags,
    listener: std::net::TcpListener,
    shared: &Arc<Shared>,
    backend: IoBackend,
) -> std::io::Result<()> {
    let protocol = damselfly_core::cx::Protocol::Memcache {
        item_size_max_bytes: usize::try_from(flags.memcached_item_max).unwrap_or(usize::MAX),
    };
    listener.set_nonblocking(false)?;
    let shared = Arc::clone(shared);
    let port = listener.local_addr()?.port();
    tracing::info!(port, "memcached protocol listening");
    std::thread::Builder::new()
        .name("memcached-accept".into())
        .spawn(move || {
            let mut next = 0;
            loop {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        // The epoll backend registers the socket with tokio (non-blocking);
                        // io_uring waits on a blocking one itself.
                        let nonblocking = backend == IoBackend::Epoll;
                        if let Err(err) = stream.set_nonblocking(nonblocking) {
                            tracing::warn!(%peer, %err, "memcached connection");
                            continue;
                        }
                        crate::worker::hand_off(&shared, stream, peer, next, protocol);
                        next = (next + 1) % shared.mailboxes.len();
                    }
                    Err(err) => {
                        tracing::warn!(%err, "memcached accept failed");
                        std::thread::sleep(crate::worker::ACCEPT_RETRY_DELAY);
                    }
                }
            }
        })?;
    Ok(())
}

fn bind_at(bind: &str, port: u16) -> Result<std::net::TcpListener, StartError> {
    let what = format!("cannot listen on {bind}:{port}");
    let addr: SocketAddr = (bind, port)
        .to_socket_addrs()
        .map_err(context(what.clone()))?
        .next()
        .ok_or_else(|| context(what.clone())(std::io::ErrorKind::NotFound.into()))?;
    let listen = || -> std::io::Result<std::net::TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        // A restart must not wait for the previous run's TIME_WAIT sockets.
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(TCP_BACKLOG)?;
        Ok(socket.into())
    };
    // A run killed a moment ago may still hold the port: the kernel closes an io_uring
    // process's descriptors only when the ring's worker threads have exited, about 0.1 s after
    // the process (measured: a SIGKILLed run's listener was gone 0.13 s later). A supervisor
    // restarting at once would fail, so a busy port is retried briefly before giving up.
    let mut waited = std::time::Duration::ZERO;
    loop {
        match listen() {
            Err(err) if err.kind() == std::io::ErrorKind::AddrInUse && waited < BIND_RETRY_MAX => {
                if waited.is_zero() {
                    tracing::warn!("{what}: the address is in use; retrying for up to 2 s");
                }
                std::thread::sleep(BIND_RETRY_STEP);
                waited += BIND_RETRY_STEP;
            }
            result => return result.map_err(context(what)),
        }
    }
}

/// How long a busy port is retried at start, and how often.
const BIND_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(2);
const BIND_RETRY_STEP: std::time::Duration = std::time::Duration::from_millis(50);

/// The backend asked for, or (unset) uring when the kernel offers it, else epoll.
fn io_backend(asked: Option<IoBackend>) -> Result<IoBackend, StartError> {
    match asked {
        Some(IoBackend::Epoll) => Ok(IoBackend::Epoll),
        Some(IoBackend::Uring) => crate::uring::probe()
            .map(|()| IoBackend::Uring)
            .map_err(context("--io_backend=uring: io_uring is not available")),
        None => match crate::uring::probe() {
            Ok(()) => Ok(IoBackend::Uring),
            Err(err) => {
                tracing::warn!(%err, "io_uring is not available: using the epoll backend");
                Ok(IoBackend::Epoll)
            }
        },
    }
}

fn spawn_all(
    flags: &Flags,
    port: u16,
    info: ServerInfo,
    listener: std::net::TcpListener,
    shared: &Arc<Shared>,
    backend: IoBackend,
) -> Result<Vec<std::thread::JoinHandle<()>>, StartError> {
    let process_seed = os_random_u64().map_err(context("cannot read OS randomness"))?;
    let rdb_path = flags.dir.join(&flags.dbfilename);
    let started = std::time::Instant::now();
    let now_ms = shared.clock.wall_us() / 1000;
    let config = flags.config(port);
    // With appendonly, the append-only file is the dataset (Redis 7.0 then ignores the RDB).
    let loaded = if config.appendonly {
        crate::aof_load::load(&flags.dir, &config, flags.threads(), now_ms, process_seed)
    } else {
        crate::load::load(&rdb_path, &config, flags.threads(), now_ms, process_seed)
    };
    let (preload, loaded) =
        loaded.map_err(|err| context(err)(std::io::ErrorKind::InvalidData.into()))?;
    if loaded.keys > 0 || loaded.expired_skipped > 0 {
        tracing::info!(
            keys = loaded.keys,
            expired_skipped = loaded.expired_skipped,
            seconds = started.elapsed().as_secs_f64(),
            "DB loaded from disk"
        );
    }
    let mut preload = preload.into_iter();
    let mut config = config;
    if config.appendonly {
        // Thread 0 appends to the files just loaded, chosen before any command runs.
        let manifest = flags
            .dir
            .join(&config.appenddirname)
            .join(format!("{}.manifest", config.appendfilename));
        config.aof_manifest_found = std::fs::read(manifest).ok();
    }
    let mut listener = Some(listener);
    let mut handles = Vec::new();
    for i in 0..flags.threads() {
        let setup = Setup {
            thread: ThreadId(i),
            config: config.clone(),
            info: info.clone(),
            seed: process_seed.wrapping_add(u64::from(i)),
            listener: listener.take(),
            shared: Arc::clone(shared),
            plants: flags.plants(),
            backend,
            preload: preload.next().unwrap_or_default(),
        };
        match worker::spawn(setup) {
            Ok(handle) => handles.push(handle),
            Err(err) => {
                stop_all(shared, handles);
                return Err(context(format!("cannot start thread {i}"))(err));
            }
        }
    }
    Ok(handles)
}

/// Waits for a reason to stop. SIGTERM and SIGINT go to the engine (thread 0), which stops as
/// SHUTDOWN would: at once without a `save` schedule, after saving with one, and not at all
/// when that save fails (a later signal tries again), as Redis. A second SIGINT stops at once
/// ("You insist"), as Redis's.
async fn wait_for_stop(shared: &Shared, signals: (Signal, Signal)) -> StopReason {
    let (mut term, mut int) = signals;
    let mut batch = VecDeque::new();
    let mut signalled: Option<&'static str> = None;
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => {
                if signalled.is_some() {
                    tracing::warn!("second SIGINT while stopping: exiting now");
                    return StopReason::Signal("SIGINT");
                }
                "SIGINT"
            }
            items = shared.control.recv(&mut batch) => {
                assert!(items, "the supervisor never closes its control mailbox");
                return match batch.pop_front().expect("recv returned items") {
                    Control::Shutdown { thread } => match signalled {
                        Some(name) => StopReason::Signal(name),
                        None => StopReason::Shutdown { thread },
                    },
                    Control::Exited { thread, panicked } => {
                        StopReason::ThreadExited { thread, panicked }
                    }
                };
            }
        };
        tracing::info!(
            signal = name,
            "stopping as SHUTDOWN would (saving first with a schedule)"
        );
        signalled = Some(name);
        let first = &shared.mailboxes[0];
        if first.push(Inbound::Msg(Msg::Terminate)).is_ok() {
            first.signal().notify();
        }
    }
}

/// Closes every thread's mailbox and joins the threads; false if any panicked.
/// How long a stop waits for the disk thread to write and fsync what it was asked.
const DISK_FINISH_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

fn stop_all(shared: &Shared, handles: Vec<std::thread::JoinHandle<()>>) -> bool {
    for mailbox in shared.mailboxes.iter() {
        // Connections still queued for a thread are dropped here, which closes them.
        drop(mailbox.close());
    }
    let mut clean = true;
    for handle in handles {
        let name = handle.thread().name().unwrap_or("proactor").to_string();
        if handle.join().is_err() {
            tracing::error!(thread = %name, "thread panicked");
            clean = false;
        }
    }
    clean
}

fn server_info(
    flags: &Flags,
    port: u16,
    clock: Clock,
    backend: IoBackend,
) -> Result<ServerInfo, StartError> {
    let mut run_id = [0u8; RUN_ID_BYTES];
    getrandom::getrandom(&mut run_id)
        .map_err(|err| context("cannot read OS randomness")(err.into()))?;
    let mut replid = [0u8; RUN_ID_BYTES];
    getrandom::getrandom(&mut replid)
        .map_err(|err| context("cannot read OS randomness")(err.into()))?;
    let executable = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_default();
    Ok(ServerInfo {
        damselfly_version: env!("CARGO_PKG_VERSION").into(),
        process_id: std::process::id(),
        tcp_port: port,
        executable,
        config_file: flags
            .flagfile
            .as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_default(),
        os: os_name(std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()),
        arch_bits: usize::BITS,
        run_id: hex(&run_id),
        master_replid: hex(&replid),
        started_mono_us: clock.now_mono_us(),
        started_wall_ms: clock.wall_us() / 1000,
        multiplexing_api: match backend {
            IoBackend::Uring => "io_uring",
            IoBackend::Epoll => "epoll",
        }
        .into(),
    })
}

fn os_random_u64() -> std::io::Result<u64> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(std::io::Error::from)?;
    Ok(u64::from_le_bytes(bytes))
}

/// Redis's `os` field, like `uname -s -r -m`: "Linux 6.1.0-18-amd64 x86_64".
fn os_name(release: Option<String>) -> String {
    let os = std::env::consts::OS;
    let mut name: String = os[..1].to_uppercase() + &os[1..];
    if let Some(release) = release.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        name.push(' ');
        name.push_str(release);
    }
    name.push(' ');
    name.push_str(std::env::consts::ARCH);
    name
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_name_reads_like_uname() {
        let arch = std::env::consts::ARCH;
        assert_eq!(
            os_name(Some("6.1.0\n".into())),
            format!("Linux 6.1.0 {arch}")
        );
        assert_eq!(os_name(None), format!("Linux {arch}"));
    }

    #[test]
    fn run_id_is_40_hex_digits() {
        let info = server_info(
            &crate::flags::parse(vec![], vec![], |_| unreachable!()).unwrap(),
            1,
            Clock::start(),
            IoBackend::Epoll,
        )
        .unwrap();
        assert_eq!(info.run_id.len(), 40);
        assert!(info.run_id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(info.arch_bits, 64);
        assert_eq!(hex(&[0, 0xab]), "00ab");
    }

    #[test]
    fn binds_an_ephemeral_port() {
        let flags = crate::flags::parse(
            vec!["damselfly".into(), "--port=0".into()],
            vec![],
            |_| unreachable!(),
        )
        .unwrap();
        let listener = bind(&flags).unwrap();
        assert_ne!(listener.local_addr().unwrap().port(), 0);
        let taken = listener.local_addr().unwrap().port();
        let flags = crate::flags::parse(
            vec!["damselfly".into(), format!("--port={taken}").into()],
            vec![],
            |_| unreachable!(),
        )
        .unwrap();
        let err = bind(&flags).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot listen on 127.0.0.1:"),
            "{err}"
        );
    }

    #[test]
    fn a_port_freed_shortly_after_start_is_taken() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(holder);
        });
        let flags = crate::flags::parse(
            vec!["damselfly".into(), format!("--port={port}").into()],
            vec![],
            |_| unreachable!(),
        )
        .unwrap();
        let listener = bind(&flags).expect("bound once the holder let go");
        assert_eq!(listener.local_addr().unwrap().port(), port);
        release.join().unwrap();
    }
}
