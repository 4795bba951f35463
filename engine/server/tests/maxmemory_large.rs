//! `--maxmemory` holds for values of any size, up to the 512 MB a bulk string may be: a write is
//! admitted only when the shard's bytes plus what its arguments bring fit the shard's budget
//! (engine/core's shard.rs), so the node never passes its limit by more than
//! `OVERSHOOT_BYTES_MAX` per shard. Redis itself checks only that it is not over already, so a
//! large value carries it far past its limit; these tests are Damselfly's rule, not Redis's.
//!
//! Values are sent in place (header, value, CRLF), never copied into a command buffer, and the
//! sizes run one after another in one test: the 512 MB case holds about 1.5 GB at its peak
//! (the client's value, the stored one and the refused one being read), which must not be
//! multiplied by parallel tests.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use std::time::Duration;

use damselfly_core::shard::OVERSHOOT_BYTES_MAX;
use support::{escape, Damselfly, RawConn};

const MIB_BYTES: u64 = 1024 * 1024;
/// Redis's proto-max-bulk-len: the largest value a client can send.
const VALUE_MAX_BYTES: u64 = 512 * MIB_BYTES;
const OOM_PREFIX: &[u8] = b"-OOM ";
/// More than a shard's tables take while they hold a few keys (a segment is about 10 KiB).
const TABLES_ROOM_BYTES: u64 = 64 * 1024;

/// How long a large SET may take to send or answer: a 512 MB value on a loaded machine (CI
/// shares its cores) takes seconds, past the support module's usual timeout.
const LARGE_IO_TIMEOUT: Duration = Duration::from_secs(120);

/// `SET key value`, with the value sent in place.
fn set_large(conn: &mut RawConn, key: &str, value: &[u8]) -> Vec<u8> {
    let stream = conn.stream();
    stream
        .set_read_timeout(Some(LARGE_IO_TIMEOUT))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(LARGE_IO_TIMEOUT))
        .expect("write timeout");
    let header = format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n",
        key.len(),
        value.len()
    );
    conn.send(header.as_bytes());
    conn.send(value);
    conn.send(b"\r\n");
    conn.read_reply()
}

/// INFO's `used_memory`: the engine's count of the data's bytes, summed over the shards.
fn used_memory_bytes(conn: &mut RawConn) -> u64 {
    let reply = conn.cmd_str(&["INFO", "memory"]);
    let text = String::from_utf8_lossy(&reply);
    text.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no used_memory in {}", escape(&reply)))
}

/// Writes `values` values of `value_len_bytes` each under distinct keys, and after each checks
/// that used memory stays within `maxmemory` plus the stated margin per shard. Returns how
/// many were accepted and the highest `used_memory` seen.
fn fill(
    server: &Damselfly,
    value: &[u8],
    values: usize,
    maxmemory_bytes: u64,
    threads: u64,
) -> (usize, u64) {
    let (mut accepted, mut peak_bytes) = (0, 0);
    for round in 0..values {
        let (ok, used_bytes) = fill_one(server, round, value, maxmemory_bytes, threads);
        accepted += ok;
        peak_bytes = peak_bytes.max(used_bytes);
    }
    (accepted, peak_bytes)
}

/// Issue 23's case: `--maxmemory 20mb`, noeviction, 8 MB values. Each shard once checked only
/// that it was under its half before a write, so 8 MB values were accepted until used_memory
/// reached 32 MB.
#[test]
fn eight_megabyte_values_stay_under_twenty_megabytes() {
    let maxmemory_bytes = 20 * MIB_BYTES;
    let server = Damselfly::start(&["--maxmemory", "20mb", "--proactor_threads", "2"]);
    let value = vec![b'x'; 8 * MIB_BYTES as usize];
    let (accepted, peak_bytes) = fill(&server, &value, 8, maxmemory_bytes, 2);
    assert!(accepted >= 1, "no 8 MB value fitted in 20 MB");
    eprintln!("8 MB values, maxmemory 20 MB, 2 shards: {accepted} accepted, peak {peak_bytes}");
}

/// With one shard and a limit of one and a half values, the first value fits and the second is
/// refused (noeviction) or evicts the first (`--cache_mode`), for values from 1 MB to 512 MB.
#[test]
fn values_up_to_the_bulk_limit_keep_the_server_at_its_limit() {
    let value = vec![b'x'; VALUE_MAX_BYTES as usize];
    for value_len_bytes in [MIB_BYTES, 64 * MIB_BYTES, VALUE_MAX_BYTES] {
        let value = &value[..value_len_bytes as usize];
        // One value and a half, and room for the tables.
        let maxmemory_bytes = value_len_bytes * 3 / 2 + TABLES_ROOM_BYTES;
        let maxmemory = maxmemory_bytes.to_string();
        for cache_mode in [false, true] {
            let mut args = vec!["--maxmemory", &maxmemory, "--proactor_threads", "1"];
            if cache_mode {
                args.push("--cache_mode");
            }
            let server = Damselfly::start(&args);
            let (accepted, peak_bytes) = fill(&server, value, 2, maxmemory_bytes, 1);
            let expected = if cache_mode { 2 } else { 1 };
            assert_eq!(
                accepted, expected,
                "values of {value_len_bytes} bytes, maxmemory {maxmemory_bytes}, \
                 cache_mode {cache_mode}"
            );
            eprintln!(
                "values of {value_len_bytes} bytes, maxmemory {maxmemory_bytes}, cache_mode \
                 {cache_mode}: peak used_memory {peak_bytes} ({:+} bytes past the limit)",
                peak_bytes as i64 - maxmemory_bytes as i64
            );
        }
    }
}

/// Values of mixed sizes, written until the limit refuses or evicts them, bring used memory
/// close to `maxmemory` and never past it by more than the margin, with and without eviction.
#[test]
fn mixed_values_fill_up_to_the_limit_and_no_further() {
    let maxmemory_bytes = 20 * MIB_BYTES;
    let value = vec![b'x'; 3 * MIB_BYTES as usize];
    let sizes = [1024, 100 * 1024, MIB_BYTES as usize, 3 * MIB_BYTES as usize];
    for cache_mode in [false, true] {
        let mut args = vec!["--maxmemory", "20mb", "--proactor_threads", "2"];
        if cache_mode {
            args.push("--cache_mode");
        }
        let server = Damselfly::start(&args);
        let mut peak_bytes = 0;
        for (round, size) in sizes.iter().cycle().take(80).enumerate() {
            let (_, peak) = fill_one(&server, round, &value[..*size], maxmemory_bytes, 2);
            peak_bytes = peak_bytes.max(peak);
        }
        // Half a 3 MB value short of the limit, at most, on either shard.
        assert!(
            peak_bytes + 3 * MIB_BYTES >= maxmemory_bytes,
            "peak {peak_bytes} stayed far below maxmemory {maxmemory_bytes}"
        );
        eprintln!(
            "mixed values, maxmemory 20 MB, 2 shards, cache_mode {cache_mode}: peak used_memory \
             {peak_bytes} ({:+} bytes past the limit)",
            peak_bytes as i64 - maxmemory_bytes as i64
        );
    }
}

/// One SET of `value` under key `key:{round}` (see `fill`).
fn fill_one(
    server: &Damselfly,
    round: usize,
    value: &[u8],
    maxmemory_bytes: u64,
    threads: u64,
) -> (usize, u64) {
    let mut conn = server.conn();
    let reply = set_large(&mut conn, &format!("key:{round}"), value);
    let accepted = usize::from(reply.as_slice() == b"+OK\r\n");
    assert!(
        accepted == 1 || reply.starts_with(OOM_PREFIX),
        "SET replied {}",
        escape(&reply)
    );
    let used_bytes = used_memory_bytes(&mut conn);
    assert!(
        used_bytes <= maxmemory_bytes + threads * OVERSHOOT_BYTES_MAX,
        "after SET {round} of {} bytes: used_memory {used_bytes} > maxmemory {maxmemory_bytes} \
         + {threads} x {OVERSHOOT_BYTES_MAX}",
        value.len()
    );
    (accepted, used_bytes)
}
