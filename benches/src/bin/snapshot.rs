//! Snapshots side by side with redis-server: the memory a BGSAVE costs while a steady SET load
//! rewrites the same keys, and SAVE and load speed.
//!
//! Each server gets `--keys` keys of `--value-bytes` bytes (pipelined SETs), then:
//! - **BGSAVE under writes**: `--writers` connections rewrite random keys (pipeline 16) while a
//!   BGSAVE runs; every 10 ms the bench samples the memory of the server *and its children*
//!   (redis-server forks one): the sum of their PSS (proportional set size, from
//!   `/proc/<pid>/smaps_rollup`), so pages a fork shares are counted once and pages copied on
//!   write twice, as they cost. The figure is the peak during the save over the PSS before it.
//! - **SAVE**: seconds and MB/s of the file written.
//! - **Load**: the server restarted on that file; seconds until it answers DBSIZE with every key.

// A benchmark owns clocks, threads and sleeps: the engine's bans (clippy.toml) are for the core.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use benches::args::{flag, usage, Args, Flag, DAMSELFLY_BIN, REDIS_BIN};
use benches::command::encode_into;
use benches::server::{self, Kind, Server, ServerSpec};

const ABOUT: &str = "damselfly vs redis-server: BGSAVE memory under writes, SAVE and load speed";
const FLAGS: &[Flag] = &[
    DAMSELFLY_BIN,
    REDIS_BIN,
    flag("keys", true, "keys loaded (default 2000000)"),
    flag("value-bytes", true, "bytes per value (default 1024)"),
    flag(
        "writers",
        true,
        "connections rewriting keys during BGSAVE (default 4)",
    ),
    flag("threads", true, "damselfly --proactor_threads (default 1)"),
    flag(
        "smoke",
        false,
        "tiny sizes: the harness works, the figures mean nothing",
    ),
];

const SAMPLE_EVERY: Duration = Duration::from_millis(10);
const SAVE_TIME_MAX: Duration = Duration::from_secs(600);
const PIPELINE: usize = 16;

struct Row {
    server: &'static str,
    pss_before: u64,
    pss_peak: u64,
    bgsave_s: f64,
    writes_during: u64,
    save_s: f64,
    file_bytes: u64,
    load_s: f64,
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match Args::parse(&argv, FLAGS) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("{err}\n{}", usage("snapshot", ABOUT, FLAGS));
            std::process::exit(2);
        }
    };
    let smoke = args.switch("smoke");
    let keys: u64 = args
        .value("keys", if smoke { 20_000 } else { 2_000_000 })
        .expect("keys");
    let value_bytes: usize = args.value("value-bytes", 1024).expect("value-bytes");
    let writers: usize = args.value("writers", 4).expect("writers");
    let threads: u16 = args.value("threads", 1).expect("threads");
    let bin = |name: &str, default: &str| {
        server::which(&PathBuf::from(args.text(name).unwrap_or(default))).unwrap_or_else(|err| {
            eprintln!("{err}");
            std::process::exit(2);
        })
    };
    let damselfly_bin = bin("damselfly-bin", "target/release/damselfly");
    let redis_bin = bin("redis-bin", "redis-server");
    println!(
        "{keys} keys of {value_bytes} B, {writers} writers (pipeline {PIPELINE}) during BGSAVE"
    );
    let mut rows = Vec::new();
    for kind in [Kind::Redis, Kind::Damselfly] {
        let work_dir =
            std::env::temp_dir().join(format!("damselfly-snapshot-bench-{}", kind.name()));
        let _ = std::fs::remove_dir_all(&work_dir);
        let (bin, extra) = match kind {
            Kind::Redis => (redis_bin.clone(), Vec::new()),
            Kind::Damselfly => (
                damselfly_bin.clone(),
                vec![
                    "--proactor_threads".to_string(),
                    threads.to_string(),
                    "--dir".to_string(),
                    work_dir.display().to_string(),
                ],
            ),
        };
        let spec = ServerSpec {
            kind,
            bin,
            extra_args: extra,
            port: server::free_port().expect("port"),
            cpus: None,
            work_dir: work_dir.clone(),
        };
        match measure(&spec, keys, value_bytes, writers) {
            Ok(row) => rows.push(row),
            Err(err) => eprintln!("{}: {err}", kind.name()),
        }
        let _ = std::fs::remove_dir_all(&work_dir);
    }
    println!(
        "| server | PSS before | peak PSS in BGSAVE | peak / before | BGSAVE s | writes during | SAVE s | SAVE MB/s | load s | load MB/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let mb = r.file_bytes as f64 / 1e6;
        println!(
            "| {} | {:.0} MB | {:.0} MB | {:.2} | {:.2} | {} | {:.2} | {:.0} | {:.2} | {:.0} |",
            r.server,
            r.pss_before as f64 / 1e6,
            r.pss_peak as f64 / 1e6,
            r.pss_peak as f64 / r.pss_before as f64,
            r.bgsave_s,
            r.writes_during,
            r.save_s,
            mb / r.save_s,
            r.load_s,
            mb / r.load_s,
        );
    }
}

fn measure(
    spec: &ServerSpec,
    keys: u64,
    value_bytes: usize,
    writers: usize,
) -> Result<Row, String> {
    let server = Server::start(spec)?;
    let addr = server.addr;
    load_keys(addr, keys, value_bytes)?;
    thread::sleep(Duration::from_millis(500));
    let pss_before = pss_with_children(server.pid);

    // BGSAVE while writers rewrite keys.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let (stop, written) = (Arc::clone(&stop), Arc::clone(&written));
            thread::spawn(move || rewrite(addr, keys, value_bytes, w as u64, &stop, &written))
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    let before_writes = written.load(Ordering::Relaxed);
    let started = Instant::now();
    expect_reply(addr, &[b"BGSAVE"], b"+Background saving started")?;
    let mut peak = pss_before;
    loop {
        peak = peak.max(pss_with_children(server.pid));
        if !save_running(addr)? {
            break;
        }
        if started.elapsed() > SAVE_TIME_MAX {
            return Err("BGSAVE never ended".into());
        }
        thread::sleep(SAMPLE_EVERY);
    }
    let bgsave_s = started.elapsed().as_secs_f64();
    let writes_during = written.load(Ordering::Relaxed) - before_writes;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().map_err(|_| "writer panicked")??;
    }

    // SAVE, then load that file at a restart.
    let started = Instant::now();
    expect_reply(addr, &[b"SAVE"], b"+OK")?;
    let save_s = started.elapsed().as_secs_f64();
    let file = spec.work_dir.join("dump.rdb");
    let file_bytes = std::fs::metadata(&file)
        .map_err(|e| format!("{}: {e}", file.display()))?
        .len();
    server.stop();
    let mut restart = spec.clone();
    restart.port = server::free_port()?;
    let started = Instant::now();
    let again = Server::start(&restart)?;
    let dbsize = reply_line(again.addr, &[b"DBSIZE"])?;
    let load_s = started.elapsed().as_secs_f64();
    if dbsize != format!(":{keys}") {
        return Err(format!("after the load DBSIZE answered {dbsize}"));
    }
    again.stop();
    Ok(Row {
        server: spec.kind.name(),
        pss_before,
        pss_peak: peak,
        bgsave_s,
        writes_during,
        save_s,
        file_bytes,
        load_s,
    })
}

fn key(n: u64) -> Vec<u8> {
    format!("key:{n:012}").into_bytes()
}

/// Bytes no compressor shrinks much (both servers compress strings in RDB files).
fn value(value_bytes: usize, salt: u64) -> Vec<u8> {
    let mut x = salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..value_bytes)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'!' + (x % 90) as u8
        })
        .collect()
}

/// Sends `batch` commands and reads as many replies (each one line: `+OK`, `:n`, `$`-free).
fn round_trip(stream: &mut TcpStream, out: &[u8], replies: usize) -> Result<(), String> {
    stream.write_all(out).map_err(|e| e.to_string())?;
    let mut seen = 0;
    let mut buf = [0u8; 1 << 16];
    while seen < replies {
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("server closed".into());
        }
        if buf[..n].contains(&b'-') && buf[..n].windows(4).any(|w| w == b"-ERR") {
            return Err(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        seen += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
    Ok(())
}

fn load_keys(addr: SocketAddr, keys: u64, value_bytes: usize) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut n = 0;
    while n < keys {
        out.clear();
        let batch = (keys - n).min(1000);
        for i in n..n + batch {
            encode_into(&[b"SET", &key(i), &value(value_bytes, i)], &mut out);
        }
        round_trip(&mut stream, &out, batch as usize)?;
        n += batch;
    }
    Ok(())
}

fn rewrite(
    addr: SocketAddr,
    keys: u64,
    value_bytes: usize,
    seed: u64,
    stop: &AtomicBool,
    written: &AtomicU64,
) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        out.clear();
        for _ in 0..PIPELINE {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            encode_into(&[b"SET", &key(x % keys), &value(value_bytes, x)], &mut out);
        }
        round_trip(&mut stream, &out, PIPELINE)?;
        written.fetch_add(PIPELINE as u64, Ordering::Relaxed);
    }
    Ok(())
}

fn reply_line(addr: SocketAddr, args: &[&[u8]]) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(SAVE_TIME_MAX))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    encode_into(args, &mut out);
    stream.write_all(&out).map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n") {
        if stream.read(&mut byte).map_err(|e| e.to_string())? == 0 {
            return Err("server closed".into());
        }
        reply.push(byte[0]);
    }
    reply.truncate(reply.len() - 2);
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

fn expect_reply(addr: SocketAddr, args: &[&[u8]], want: &[u8]) -> Result<(), String> {
    let got = reply_line(addr, args)?;
    if got.as_bytes() == want {
        Ok(())
    } else {
        Err(format!(
            "{:?} answered {got}",
            String::from_utf8_lossy(args[0])
        ))
    }
}

/// Whether INFO persistence says a BGSAVE runs.
fn save_running(addr: SocketAddr) -> Result<bool, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    encode_into(&[b"INFO", b"persistence"], &mut out);
    stream.write_all(&out).map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    // A bulk string: `$<len>\r\n`, the text, `\r\n`.
    loop {
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("server closed".into());
        }
        text.extend_from_slice(&buf[..n]);
        let Some(header_end) = text.windows(2).position(|w| w == b"\r\n") else {
            continue;
        };
        let len: usize = String::from_utf8_lossy(&text[1..header_end])
            .parse()
            .map_err(|_| "INFO: not a bulk string")?;
        if text.len() >= header_end + 2 + len + 2 {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&text).contains("rdb_bgsave_in_progress:1"))
}

/// PSS of `pid` and its children (a forked save child counts), in bytes.
fn pss_with_children(pid: u32) -> u64 {
    let mut total = pss(pid);
    for child in children(pid) {
        total += pss(child);
    }
    total
}

fn children(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn pss(pid: u32) -> u64 {
    let path = Path::new("/proc")
        .join(pid.to_string())
        .join("smaps_rollup");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}
