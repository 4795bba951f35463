//! `queue`: a job queue beside redis-server. P producers LPUSH elements that carry their push
//! time; C consumers BRPOP them with a timeout, each on its own connection and client thread.
//! The figures: elements per second end to end (first push to last pop), and the wait from
//! push to pop (p50, p99) measured by the consumers on the bench's one clock.
//!
//! Two shapes: every consumer on one queue key (served on its shard), and every consumer on
//! two keys that live on different shards (the woken-and-retried path).
//!
//! Usage: queue [--producers 4] [--consumers 8] [--elements 100000] [--threads 2]
//!              [--shapes one,spread] [--servers redis,damselfly]

// A load generator owns clocks and threads (see the crate root).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use benches::command::{encode, flag_value};
use benches::server::{self, Kind, Server, ServerSpec};
use hdrhistogram::Histogram;

/// Two keys that live on different shards of a Damselfly with `threads` threads.
fn spread_keys(threads: u16) -> [&'static str; 2] {
    let first = "queue:0";
    let owner = damselfly_core::node::shard_of(first.as_bytes(), threads);
    let second = (1..)
        .map(|i| format!("queue:{i}"))
        .find(|k| threads == 1 || damselfly_core::node::shard_of(k.as_bytes(), threads) != owner)
        .expect("a key on another shard");
    [first, Box::leak(second.into_boxed_str())]
}

fn read_line(reader: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut line = String::new();
    if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
        return Err("connection closed".into());
    }
    Ok(line.trim_end().to_string())
}

fn read_bulk(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, String> {
    let header = read_line(reader)?;
    let len: usize = header
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("expected a bulk string, got {header:?}"))?;
    let mut data = vec![0u8; len + 2];
    reader.read_exact(&mut data).map_err(|e| e.to_string())?;
    data.truncate(len);
    Ok(data)
}

/// A BRPOP's answer: the element, or None on timeout.
fn brpop(
    stream: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
    keys: &[&str],
) -> Result<Option<Vec<u8>>, String> {
    let mut args: Vec<&[u8]> = vec![b"BRPOP"];
    args.extend(keys.iter().map(|k| k.as_bytes()));
    args.push(b"0.2");
    stream
        .write_all(&encode(&args))
        .map_err(|e| e.to_string())?;
    let header = read_line(reader)?;
    match header.as_str() {
        "*-1" => Ok(None),
        "*2" => {
            read_bulk(reader)?;
            Ok(Some(read_bulk(reader)?))
        }
        other => Err(format!("BRPOP answered {other:?}")),
    }
}

struct Outcome {
    rate: f64,
    p50_us: u64,
    p99_us: u64,
}

fn run(
    addr: SocketAddr,
    keys: &'static [&'static str],
    producers: usize,
    consumers: usize,
    elements: usize,
) -> Result<Outcome, String> {
    let clock = Instant::now();
    let popped = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let mut consumer_threads = Vec::new();
    for _ in 0..consumers {
        let (popped, done) = (Arc::clone(&popped), Arc::clone(&done));
        let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        consumer_threads.push(thread::spawn(move || -> Result<Histogram<u64>, String> {
            let mut waits = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
            while !done.load(Ordering::Relaxed) {
                let Some(elem) = brpop(&mut stream, &mut reader, keys)? else {
                    continue;
                };
                let pushed_us: u64 = std::str::from_utf8(&elem)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .ok_or("an element without its push time")?;
                let now_us = clock.elapsed().as_micros() as u64;
                waits
                    .record(now_us.saturating_sub(pushed_us).max(1))
                    .map_err(|e| e.to_string())?;
                if popped.fetch_add(1, Ordering::Relaxed) + 1 == elements {
                    done.store(true, Ordering::Relaxed);
                }
            }
            Ok(waits)
        }));
    }
    let start = Instant::now();
    let mut producer_threads = Vec::new();
    for p in 0..producers {
        let share = elements / producers + usize::from(p < elements % producers);
        let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        producer_threads.push(thread::spawn(move || -> Result<(), String> {
            for i in 0..share {
                let key = keys[i % keys.len()];
                let now_us = clock.elapsed().as_micros().to_string();
                stream
                    .write_all(&encode(&[b"LPUSH", key.as_bytes(), now_us.as_bytes()]))
                    .map_err(|e| e.to_string())?;
                let reply = read_line(&mut reader)?;
                if !reply.starts_with(':') {
                    return Err(format!("LPUSH answered {reply:?}"));
                }
            }
            Ok(())
        }));
    }
    for producer in producer_threads {
        producer.join().map_err(|_| "producer panicked")??;
    }
    let mut waits = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    for consumer in consumer_threads {
        let part = consumer.join().map_err(|_| "consumer panicked")??;
        waits.add(part).map_err(|e| e.to_string())?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let popped = popped.load(Ordering::Relaxed);
    if popped != elements {
        return Err(format!("{popped} of {elements} elements popped"));
    }
    Ok(Outcome {
        rate: elements as f64 / seconds,
        p50_us: waits.value_at_quantile(0.50),
        p99_us: waits.value_at_quantile(0.99),
    })
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |name: &str, default: &str| -> Result<usize, String> {
        flag_value(&args, name, default)
            .parse()
            .map_err(|_| format!("bad {name}"))
    };
    let producers = number("--producers", "4")?;
    let consumers = number("--consumers", "8")?;
    let elements = number("--elements", "100000")?;
    let threads = flag_value(&args, "--threads", "2");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let damselfly = root.join("target/release/damselfly");
    let damselfly = std::env::var_os("DAMSELFLY_BIN").map_or(damselfly, PathBuf::from);
    println!(
        "{producers} producers LPUSH, {consumers} consumers BRPOP (timeout 0.2 s), \
         {elements} elements"
    );
    println!("| keys | server | elements/s | wait p50 µs | wait p99 µs |");
    println!("|---|---|---|---|---|");
    const ONE_KEY: &[&str] = &["queue"];
    let spread: &'static [&'static str] = Box::leak(Box::new(spread_keys(
        threads.parse().map_err(|_| "bad --threads")?,
    )));
    let shapes = flag_value(&args, "--shapes", "one,spread");
    let servers = flag_value(&args, "--servers", "redis,damselfly");
    let wanted = |list: &str, name: &str| list.split(',').any(|w| w == name);
    for (shape_name, shape, keys) in [
        ("one", "one key", ONE_KEY),
        ("spread", "two keys, two shards", spread),
    ] {
        if !wanted(&shapes, shape_name) {
            continue;
        }
        for (kind, bin, extra) in [
            (Kind::Redis, PathBuf::from("/usr/bin/redis-server"), vec![]),
            (
                Kind::Damselfly,
                damselfly.clone(),
                vec!["--proactor_threads".to_string(), threads.clone()],
            ),
        ] {
            if !wanted(&servers, kind.name()) {
                continue;
            }
            let server = Server::start(&ServerSpec {
                kind,
                bin,
                extra_args: extra,
                port: server::free_port()?,
                cpus: None,
                work_dir: std::env::temp_dir().join(format!("queue-bench-{}", kind.name())),
            })?;
            let outcome = run(server.addr, keys, producers, consumers, elements)?;
            println!(
                "| {shape} | {} | {:.0} | {} | {} |",
                kind.name(),
                outcome.rate,
                outcome.p50_us,
                outcome.p99_us
            );
            server.stop();
        }
    }
    Ok(())
}
