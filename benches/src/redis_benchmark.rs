//! Debian's `redis-benchmark`, run beside our load generator because its numbers are the ones
//! users know. It is told `-q --csv` and its table is parsed by header name, so a column added
//! in a later version does not shift what we read:
//!
//! ```text
//! "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",...
//! "SET","43478.26","1.220","0.064","0.191","7.415","18.207","18.223"
//! ```
//!
//! Its run is bounded by `-n` requests and by our `time_max`, after which it is killed.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub requests: u64,
    pub clients: usize,
    pub pipeline: usize,
    pub value_len_bytes: usize,
    pub key_range: u64,
    pub threads: usize,
    /// `taskset -c` CPU list for the client, when pinning.
    pub cpus: Option<String>,
    pub time_max: Duration,
    /// redis-benchmark's `-t` list (`set,get`, `hset,sadd,spop`…).
    pub tests: &'static str,
}

/// One row of its table.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchRow {
    pub test: String,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Runs `redis-benchmark -t <options.tests>` against `addr`.
pub fn run(addr: SocketAddr, options: &BenchOptions) -> Result<Vec<BenchRow>, String> {
    run_with(addr, options, &[])
}

/// Runs redis-benchmark on one command of our own (`__rand_int__` is replaced per request by
/// a 12-digit random number below `key_range`); `options.tests` is not used.
pub fn run_command(
    addr: SocketAddr,
    options: &BenchOptions,
    command: &[&str],
) -> Result<Vec<BenchRow>, String> {
    assert!(!command.is_empty(), "a command to benchmark");
    run_with(addr, options, command)
}

/// `-t options.tests`, or the given command when there is one.
fn run_with(
    addr: SocketAddr,
    options: &BenchOptions,
    command_args: &[&str],
) -> Result<Vec<BenchRow>, String> {
    let mut command = match &options.cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus, "redis-benchmark"]);
            c
        }
        None => Command::new("redis-benchmark"),
    };
    let numbers = [
        ("-p", addr.port().to_string()),
        ("-n", options.requests.to_string()),
        ("-c", options.clients.to_string()),
        ("-P", options.pipeline.to_string()),
        ("-d", options.value_len_bytes.to_string()),
        ("-r", options.key_range.to_string()),
        ("--threads", options.threads.to_string()),
    ];
    command.args(["-h", &addr.ip().to_string(), "-q", "--csv"]);
    if command_args.is_empty() {
        command.args(["-t", options.tests]);
    }
    for (flag, value) in &numbers {
        command.arg(flag).arg(value);
    }
    command.args(command_args);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("redis-benchmark: {e}"))?;
    let start = Instant::now();
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if start.elapsed() > options.time_max {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("redis-benchmark ran past {:?}", options.time_max));
        }
        thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "redis-benchmark failed ({}): {stderr}{stdout}",
            output.status
        ));
    }
    parse_csv(&stdout)
}

/// Parses `-q --csv` output: a header line, then one line per test.
pub fn parse_csv(text: &str) -> Result<Vec<BenchRow>, String> {
    let mut lines = text.lines().filter(|l| l.starts_with('"'));
    let header = split_row(
        lines
            .next()
            .ok_or("redis-benchmark printed no CSV header")?,
    );
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or(format!("no column {name} in {header:?}"))
    };
    let (test, rps, p50, p99) = (
        column("test")?,
        column("rps")?,
        column("p50_latency_ms")?,
        column("p99_latency_ms")?,
    );
    let number = |row: &[String], i: usize| -> Result<f64, String> {
        let cell = row.get(i).ok_or(format!("short row {row:?}"))?;
        cell.parse().map_err(|_| format!("not a number: {cell:?}"))
    };
    lines
        .map(|line| {
            let row = split_row(line);
            Ok(BenchRow {
                test: row.get(test).cloned().unwrap_or_default(),
                rps: number(&row, rps)?,
                p50_ms: number(&row, p50)?,
                p99_ms: number(&row, p99)?,
            })
        })
        .collect()
}

/// Splits a CSV line whose cells are all double-quoted and hold no quotes or commas.
fn split_row(line: &str) -> Vec<String> {
    line.split(',')
        .map(|cell| cell.trim().trim_matches('"').to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redis_7_csv() {
        let text = [
            r#""test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","#,
            r#""p99_latency_ms","max_latency_ms""#,
            "\n",
            r#""SET","43478.26","1.220","0.064","0.191","7.415","18.207","18.223""#,
            "\n",
            r#""GET","200000.00","0.186","0.040","0.111","0.191","4.903","4.919""#,
            "\n",
        ]
        .concat();
        let text = text.as_str();
        let rows = parse_csv(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].test, "SET");
        assert_eq!(rows[1].rps, 200000.0);
        assert_eq!(rows[1].p50_ms, 0.111);
        assert_eq!(rows[0].p99_ms, 18.207);
    }

    #[test]
    fn rejects_missing_header() {
        assert!(parse_csv("").is_err());
    }
}
