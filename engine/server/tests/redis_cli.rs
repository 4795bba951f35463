//! The stock redis-cli and redis-benchmark (Debian's redis-tools 7.0) against the server under
//! test: plain commands, RESP3 (`-3`), `--pipe` mass insert, and benchmarks with and without
//! pipelining. Every child process runs under a time limit and is killed past it.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::{encode_cmd, run_with_timeout, Target};

const CLI_TIME_MAX: Duration = Duration::from_secs(30);
const BENCH_TIME_MAX: Duration = Duration::from_secs(180);
const PIPE_COMMANDS: usize = 10_000;

fn cli(target: &Target, args: &[&str]) -> String {
    cli_with_stdin(target, args, None)
}

fn cli_with_stdin(target: &Target, args: &[&str], stdin: Option<&[u8]>) -> String {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-h", "127.0.0.1", "-p", &target.port().to_string()])
        .args(args);
    let (ok, stdout, stderr) = run_with_timeout(&mut cmd, CLI_TIME_MAX, stdin);
    assert!(
        ok,
        "redis-cli {args:?} failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    stdout
}

#[test]
fn redis_cli_set_get() {
    let target = Target::under_test(&[]);
    assert_eq!(cli(&target, &["SET", "greeting", "hello world"]), "OK\n");
    assert_eq!(cli(&target, &["GET", "greeting"]), "hello world\n");
    assert_eq!(cli(&target, &["--no-raw", "GET", "missing"]), "(nil)\n");
    assert_eq!(cli(&target, &["INCR", "n"]), "1\n");
    assert_eq!(
        cli(&target, &["--no-raw", "INCR", "greeting"]),
        "(error) ERR value is not an integer or out of range\n"
    );
    assert_eq!(cli(&target, &["DBSIZE"]), "2\n");
    // redis-cli splits stdin lines like its own prompt does.
    let out = cli_with_stdin(&target, &[], Some(b"SET a 1\nGET a\nPING\n"));
    assert_eq!(out, "OK\n1\nPONG\n");
}

#[test]
fn redis_cli_resp3() {
    let target = Target::under_test(&[]);
    cli(&target, &["SET", "k", "v"]);
    assert_eq!(cli(&target, &["-3", "GET", "k"]), "v\n");
    assert_eq!(
        cli(&target, &["-3", "--no-raw", "GET", "missing"]),
        "(nil)\n"
    );
    assert_eq!(
        cli(&target, &["-3", "CONFIG", "GET", "maxmemory"]),
        "maxmemory 0\n"
    );
    let hello = cli(&target, &["-3", "--no-raw", "HELLO", "3"]);
    assert!(
        hello.contains("\"proto\" => (integer) 3"),
        "HELLO via -3:\n{hello}"
    );
}

#[test]
fn redis_cli_pipe_mass_insert() {
    let target = Target::under_test(&[]);
    let mut input = Vec::new();
    for i in 0..PIPE_COMMANDS {
        let key = format!("mass:{i}");
        let value = format!("value-{i}");
        input.extend_from_slice(&encode_cmd(&[b"SET", key.as_bytes(), value.as_bytes()]));
    }
    let out = cli_with_stdin(&target, &["--pipe"], Some(&input));
    assert!(
        out.contains(&format!("errors: 0, replies: {PIPE_COMMANDS}")),
        "--pipe said:\n{out}"
    );
    assert_eq!(cli(&target, &["DBSIZE"]), format!("{PIPE_COMMANDS}\n"));
    assert_eq!(cli(&target, &["GET", "mass:9999"]), "value-9999\n");
}

fn benchmark(target: &Target, extra: &[&str]) {
    let mut cmd = Command::new("redis-benchmark");
    cmd.args(["-h", "127.0.0.1", "-p", &target.port().to_string()])
        .args(["-q", "-n", "20000", "-t", "set,get,incr,mset"])
        .args(extra);
    let (ok, stdout, stderr) = run_with_timeout(&mut cmd, BENCH_TIME_MAX, None);
    // -q rewrites a progress line with \r; keep the final lines only.
    let lines: Vec<&str> = stdout
        .split(['\r', '\n'])
        .filter(|l| l.contains("requests per second"))
        .collect();
    let report = format!("redis-benchmark {extra:?}\nstdout: {stdout}\nstderr: {stderr}");
    assert!(ok, "exit status: {report}");
    for test in ["SET:", "GET:", "INCR:", "MSET (10 keys):"] {
        assert!(
            lines.iter().any(|l| l.starts_with(test)),
            "no {test} result: {report}"
        );
    }
    let lower = format!("{stdout}{stderr}").to_lowercase();
    assert!(
        !lower.contains("error") && !lower.contains("err "),
        "errors: {report}"
    );
    println!("{}", lines.join("\n"));
}

#[test]
fn redis_benchmark_without_pipelining() {
    let target = Target::under_test(&[]);
    benchmark(&target, &[]);
    assert_eq!(cli(&target, &["GET", "key:__rand_int__"]), "VXK\n");
    assert_eq!(cli(&target, &["GET", "counter:__rand_int__"]), "20000\n");
}

#[test]
fn redis_benchmark_with_pipelining() {
    let target = Target::under_test(&[]);
    benchmark(&target, &["-P", "16"]);
    assert_eq!(cli(&target, &["GET", "counter:__rand_int__"]), "20000\n");
}
