//! `pubsub`: PUBLISH throughput beside redis-server. One publisher pipelines PUBLISH of 64-byte
//! messages to one channel; S subscribers (each on its own connection and client thread) read
//! every message. The figure is messages published per second, from the first PUBLISH until
//! every subscriber has read every message, and deliveries per second (messages × S).
//!
//! Usage: pubsub [--subscribers 1,100] [--messages 200000] [--pipeline 32] [--threads 2]

// A load generator owns clocks and threads (see the crate root).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::thread;
use std::time::Instant;

use benches::command::{encode, flag_value};
use benches::server::{self, Kind, Server, ServerSpec};

const MESSAGE_LEN_BYTES: usize = 64;
const CHANNEL: &str = "bench";

/// Reads until `len` bytes have arrived (the subscriber's share of the run).
fn drain(stream: &mut TcpStream, mut len: usize) -> Result<(), String> {
    let mut buf = vec![0u8; 256 * 1024];
    while len > 0 {
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("subscriber closed".into());
        }
        len = len.saturating_sub(n);
    }
    Ok(())
}

/// One run: (messages per second, deliveries per second).
fn run(
    addr: std::net::SocketAddr,
    subscribers: usize,
    messages: usize,
    pipeline: usize,
) -> Result<(f64, f64), String> {
    let message = vec![b'm'; MESSAGE_LEN_BYTES];
    let frame_len = encode(&[b"message", CHANNEL.as_bytes(), &message]).len();
    let confirm_len = b"*3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n".len();
    let mut readers = Vec::new();
    for _ in 0..subscribers {
        let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        stream
            .write_all(&encode(&[b"SUBSCRIBE", CHANNEL.as_bytes()]))
            .map_err(|e| e.to_string())?;
        drain(&mut stream, confirm_len)?;
        readers.push(thread::spawn(move || {
            drain(&mut stream, frame_len * messages)
        }));
    }
    let mut publisher = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let publish = encode(&[b"PUBLISH", CHANNEL.as_bytes(), &message]);
    let reply = format!(":{subscribers}\r\n");
    let batch: Vec<u8> = publish.repeat(pipeline);
    let start = Instant::now();
    let mut sent = 0;
    let mut buf = vec![0u8; reply.len() * pipeline];
    while sent < messages {
        let n = pipeline.min(messages - sent);
        publisher
            .write_all(&batch[..publish.len() * n])
            .map_err(|e| e.to_string())?;
        publisher
            .read_exact(&mut buf[..reply.len() * n])
            .map_err(|e| e.to_string())?;
        if !buf.starts_with(reply.as_bytes()) {
            return Err(format!(
                "PUBLISH answered {:?}",
                String::from_utf8_lossy(&buf[..8])
            ));
        }
        sent += n;
    }
    for reader in readers {
        reader.join().map_err(|_| "reader panicked")??;
    }
    let seconds = start.elapsed().as_secs_f64();
    let rate = messages as f64 / seconds;
    Ok((rate, rate * subscribers as f64))
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let subscribers: Vec<usize> = flag_value(&args, "--subscribers", "1,100")
        .split(',')
        .map(|s| s.parse().map_err(|_| format!("bad count {s}")))
        .collect::<Result<_, _>>()?;
    let messages: usize = flag_value(&args, "--messages", "200000")
        .parse()
        .map_err(|_| "bad --messages")?;
    let pipeline: usize = flag_value(&args, "--pipeline", "32")
        .parse()
        .map_err(|_| "bad --pipeline")?;
    let threads = flag_value(&args, "--threads", "2");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let damselfly = root.join("target/release/damselfly");
    let damselfly = std::env::var_os("DAMSELFLY_BIN").map_or(damselfly, PathBuf::from);
    println!("| server | subscribers | messages/s | deliveries/s |");
    println!("|---|---|---|---|");
    for (kind, bin, extra) in [
        (Kind::Redis, PathBuf::from("/usr/bin/redis-server"), vec![]),
        (
            Kind::Damselfly,
            damselfly,
            vec!["--proactor_threads".to_string(), threads.clone()],
        ),
    ] {
        for &subs in &subscribers {
            let server = Server::start(&ServerSpec {
                kind,
                bin: bin.clone(),
                extra_args: extra.clone(),
                port: server::free_port()?,
                cpus: None,
                work_dir: std::env::temp_dir().join(format!("pubsub-bench-{}", kind.name())),
            })?;
            let (rate, deliveries) = run(server.addr, subs, messages, pipeline)?;
            println!("| {} | {subs} | {rate:.0} | {deliveries:.0} |", kind.name());
            server.stop();
        }
    }
    Ok(())
}
