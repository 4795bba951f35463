//! Starting, pinning, pinging and stopping the servers under test.
//!
//! A server runs as our child, optionally under `taskset -c CPUS` (taskset execs the server, so
//! the child's pid is the server's, and /proc readings are the server's own). Its stdout and
//! stderr go to `<work_dir>/<name>.log`, quoted when it fails to start. `Server` stops the
//! process when dropped, so a failing run leaves nothing behind: SIGTERM, then SIGKILL after
//! `STOP_TIME_MAX`.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING (valgrind needs longer: see
/// callgrind.sh, which waits by itself).
const READY_TIME_MAX: Duration = Duration::from_secs(10);
const STOP_TIME_MAX: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Redis,
    Damselfly,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Redis => "redis",
            Kind::Damselfly => "damselfly",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ServerSpec {
    pub kind: Kind,
    pub bin: PathBuf,
    pub extra_args: Vec<String>,
    pub port: u16,
    /// `taskset -c` CPU list, when pinning.
    pub cpus: Option<String>,
    /// Where logs (and any file the server insists on writing) go.
    pub work_dir: PathBuf,
}

impl ServerSpec {
    fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--port".to_string(),
            self.port.to_string(),
            "--bind".to_string(),
            "127.0.0.1".to_string(),
        ];
        // No snapshots or AOF unless the bench asks: persistence would make timings depend on
        // the disk, and a stop (SIGTERM) would save into the working directory.
        let asks = |flag: &str| self.extra_args.iter().any(|a| a == flag);
        let dir = self.work_dir.display().to_string();
        if !asks("--save") {
            args.extend(["--save".to_string(), String::new()]);
        }
        if !asks("--dir") {
            args.extend(["--dir".to_string(), dir]);
        }
        if self.kind == Kind::Redis && !asks("--appendonly") {
            args.extend(["--appendonly".to_string(), "no".to_string()]);
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub pid: u32,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts the server and waits until it answers PING.
    pub fn start(spec: &ServerSpec) -> Result<Server, String> {
        if !spec.bin.exists() {
            return Err(format!(
                "{}: no binary at {}",
                spec.kind.name(),
                spec.bin.display()
            ));
        }
        fs::create_dir_all(&spec.work_dir).map_err(|e| format!("work dir: {e}"))?;
        let log = spec.work_dir.join(format!("{}.log", spec.kind.name()));
        let log_file = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err_file = log_file.try_clone().map_err(|e| format!("log: {e}"))?;
        let mut command = match &spec.cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(&spec.bin);
                c
            }
            None => Command::new(&spec.bin),
        };
        command.args(spec.args()).current_dir(&spec.work_dir);
        command
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file);
        let child = command
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", spec.bin.display()))?;
        let mut server = Server {
            kind: spec.kind,
            addr: SocketAddr::from(([127, 0, 0, 1], spec.port)),
            pid: child.id(),
            child,
            log,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        let mut last_error = String::from("no attempt");
        while start.elapsed() < READY_TIME_MAX {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}) before answering PING on {}; its log {}:\n{}",
                    self.kind.name(),
                    self.addr,
                    self.log.display(),
                    log_tail(&self.log)
                ));
            }
            match ping(self.addr) {
                Ok(()) => return Ok(()),
                Err(e) => last_error = e,
            }
            thread::sleep(POLL_INTERVAL);
        }
        Err(format!(
            "{} did not answer PING on {} within {READY_TIME_MAX:?} ({last_error}); log {}",
            self.kind.name(),
            self.addr,
            self.log.display()
        ))
    }

    /// Sends a command and returns the raw reply (up to 64 KiB), for FLUSHALL and friends.
    pub fn command(&self, resp: &[u8]) -> Result<Vec<u8>, String> {
        let mut stream = TcpStream::connect(self.addr).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        stream.write_all(resp).map_err(|e| e.to_string())?;
        let mut reply = vec![0u8; 64 * 1024];
        let n = stream.read(&mut reply).map_err(|e| e.to_string())?;
        reply.truncate(n);
        Ok(reply)
    }

    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid, which we have not yet reaped.
        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < STOP_TIME_MAX {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(POLL_INTERVAL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// PING over a fresh connection; `Ok` on `+PONG`.
pub fn ping(addr: SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"*1\r\n$4\r\nPING\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut reply = [0u8; 64];
    let n = stream.read(&mut reply).map_err(|e| format!("read: {e}"))?;
    match &reply[..n] {
        b"+PONG\r\n" => Ok(()),
        other => Err(format!(
            "PING answered {:?}",
            String::from_utf8_lossy(other)
        )),
    }
}

/// A loopback port free right now (the kernel's pick; a race with other programs is possible
/// but harmless: the server then fails to bind and says so).
/// The binary `name` names: a path as it is (made absolute), a bare name looked up on PATH.
pub fn which(name: &Path) -> Result<PathBuf, String> {
    if name.components().count() > 1 {
        return fs::canonicalize(name).map_err(|e| format!("{}: {e}", name.display()));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.exists())
        .ok_or(format!("{} not on PATH", name.display()))
}

pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn log_tail(path: &Path) -> String {
    const TAIL_LINES: usize = 20;
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// Pins this process (all its threads, present and future) to `cpus` with `taskset`.
pub fn pin_self(cpus: &str) -> Result<(), String> {
    let pid = std::process::id().to_string();
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("taskset: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("taskset -a -p -c {cpus} {pid}: {status}"))
    }
}
