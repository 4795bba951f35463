//! Checks a run's history against the reference model.
//!
//! One client: replies must equal the model's op by op. The engine ran each request at some
//! wall time inside [invoke, return], and a client's requests run in order, so the model's
//! clock for request i is tried at the earliest time it could have run and, if the reply
//! differs, at the latest. That check is greedy; when it fails, the exact search decides.
//! Transactions need nothing more: the model keeps the client's queue and watches in its
//! `ConnState`, EXEC runs the whole queue at one instant, and with one client only the
//! client's own writes or an expiry can break a WATCH.
//!
//! Many clients: the history must be linearizable (model::linearizability).

use model::linearizability::{self, CheckConfig, Op, Stats};
use model::{ConnState, Model, Resp};

use crate::config::SimConfig;
use crate::world::{printable, Observed};

/// Checks a history; on success, returns the linearizability search's steps (0 when the
/// single-client op-by-op check sufficed).
pub fn check_history(config: &SimConfig, history: &[Observed]) -> Result<u64, String> {
    for op in history {
        if let Some(reply) = &op.reply {
            if reply.starts_with(b"-ERR Protocol") {
                return Err(format!(
                    "protocol error for {:?}: {}",
                    printable(&op.argv),
                    String::from_utf8_lossy(reply)
                ));
            }
        }
    }
    let evictions = history.iter().any(|op| op.eviction);
    if config.clients == 1 && !evictions && check_sequential(history).is_ok() {
        return Ok(0);
    }
    // The op-by-op check is greedy: when two instants give the same reply but different states
    // (APPEND "" on a key just at its deadline), it may commit to the wrong one. The search
    // keeps every branch, so it has the last word, for one client as for many.
    let (result, stats) = linearizable_with_stats(history, &search_config(config));
    result
        .map(|()| stats.steps)
        .map_err(|search| match config.clients {
            1 if !evictions => format!(
                "{}\n{search}",
                check_sequential(history).err().unwrap_or_default()
            ),
            _ => search,
        })
}

fn check_sequential(history: &[Observed]) -> Result<(), String> {
    let mut model = Model::new(model::DBS_DEFAULT);
    let mut conn = ConnState::default();
    let mut clock_ms = 0;
    for (i, op) in history.iter().enumerate() {
        let (Some(reply), Some(return_us)) = (&op.reply, op.return_us) else {
            // The client went away; what this request did is unknown and nothing follows it.
            return Ok(());
        };
        let earliest_ms = clock_ms.max(op.invoke_us / 1000);
        let latest_ms = (return_us / 1000).max(earliest_ms);
        let mut tried = Vec::new();
        let mut matched = false;
        for now_ms in [earliest_ms, latest_ms] {
            let mut attempt = model.snapshot();
            let mut attempt_conn = conn.clone();
            let recorded = parse_reply(reply).ok();
            let expected = attempt
                .apply_as_recorded(&mut attempt_conn, &op.argv, now_ms, recorded.as_ref())
                .to_resp2_bytes();
            if &expected == reply {
                model = attempt;
                conn = attempt_conn;
                clock_ms = now_ms;
                matched = true;
                break;
            }
            tried.push((now_ms, expected));
        }
        if !matched {
            let expected: Vec<String> = tried
                .iter()
                .map(|(t, e)| format!("at {t}: {:?}", String::from_utf8_lossy(e)))
                .collect();
            return Err(format!(
                "op {i} {:?} replied {:?}; the model says {}\nthe history up to it:\n{}",
                printable(&op.argv),
                String::from_utf8_lossy(reply),
                expected.join(" or "),
                describe(&history[..=i])
            ));
        }
    }
    Ok(())
}

/// One line per op: index, client, wall-clock window relative to the first op, command, reply.
pub fn describe(ops: &[Observed]) -> String {
    let base = ops.first().map_or(0, |o| o.invoke_us);
    let lines: Vec<String> = ops
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let ret = o
                .return_us
                .map_or("-".to_string(), |r| (r - base).to_string());
            let reply = o
                .reply
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            format!(
                "  {i:3} c{} [{} .. {ret}] {} -> {reply:?}",
                o.client,
                o.invoke_us - base,
                printable(&o.argv)
            )
        })
        .collect();
    lines.join("\n")
}

/// The search's settings for a seed's history: a memory budget makes refusals possible for
/// requests whose reply never came.
pub fn search_config(config: &SimConfig) -> CheckConfig {
    CheckConfig {
        memory_refusals: config.shard_budget_bytes > 0,
        ..CheckConfig::default()
    }
}

/// Many clients: the whole history must be linearizable against the model.
pub fn check_linearizable(config: &SimConfig, history: &[Observed]) -> Result<(), String> {
    linearizable_with_stats(history, &search_config(config)).0
}

/// `check_linearizable`, also reporting what the search cost (for `dst --replay N --stats`).
pub fn linearizable_with_stats(
    history: &[Observed],
    config: &CheckConfig,
) -> (Result<(), String>, Stats) {
    let ops = match as_ops(history) {
        Ok(ops) => ops,
        Err(e) => return (Err(e), Stats::default()),
    };
    let (result, stats) = linearizability::check_with_stats(&ops, config);
    let result = result.map_err(|violation| format!("history is not linearizable:\n{violation}"));
    (result, stats)
}

/// The history in the checker's terms.
fn as_ops(history: &[Observed]) -> Result<Vec<Op>, String> {
    let mut ops = Vec::with_capacity(history.len());
    for observed in history {
        let reply = match &observed.reply {
            Some(bytes) => Some(parse_reply(bytes)?),
            None => None,
        };
        // A request whose reply never came may or may not have run: no return time.
        let return_us = observed.reply.as_ref().and(observed.return_us);
        ops.push(Op {
            client: observed.client as u32,
            invoke_us: observed.invoke_us,
            return_us,
            argv: observed.argv.clone(),
            reply,
        });
    }
    Ok(ops)
}

/// Parses one whole RESP2 reply into the model's reply type (`model::resp::parse`).
pub fn parse_reply(bytes: &[u8]) -> Result<Resp, String> {
    model::resp::parse(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_into_the_model_type() {
        assert_eq!(parse_reply(b"+OK\r\n"), Ok(Resp::Simple("OK".into())));
        assert_eq!(parse_reply(b"$-1\r\n"), Ok(Resp::Nil));
        assert_eq!(
            parse_reply(b"*2\r\n$1\r\na\r\n:5\r\n"),
            Ok(Resp::Array(vec![Resp::Bulk(b"a".to_vec()), Resp::Int(5)]))
        );
        assert!(parse_reply(b"+OK\r\nextra").is_err());
    }

    use crate::workload::Workload;
    use rand::Rng;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    const WALL_START_US: u64 = 1_767_225_600_000_000;

    /// A transaction-heavy history the model itself answers: clients take turns, one request
    /// at a time, each 700 µs long and 300 µs apart, each taking effect when it is sent, so the
    /// history is linearizable by construction.
    fn model_history(seed: u64, clients: usize, requests: usize) -> Vec<Observed> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut workload = Workload::new(4, 200, 300, 600, true);
        let mut model = Model::new(model::DBS_DEFAULT);
        let mut conns = vec![ConnState::default(); clients];
        let mut history = Vec::new();
        for i in 0..requests {
            let client = rng.gen_range(0..clients);
            let invoke_us = WALL_START_US + i as u64 * 1_000;
            let argv = workload.next(client, &mut rng, invoke_us / 1000);
            let reply = model.apply(&mut conns[client], &argv, invoke_us / 1000);
            history.push(Observed {
                client,
                argv,
                invoke_us,
                // The model ran it at the next millisecond: the window must hold that instant.
                return_us: Some(invoke_us + 1_700),
                reply: Some(reply.to_resp2_bytes()),
                eviction: false,
            });
        }
        history
    }

    fn config(clients: usize) -> SimConfig {
        SimConfig {
            clients,
            ..SimConfig::from_seed(0)
        }
    }

    fn is(argv: &[Vec<u8>], name: &str) -> bool {
        argv[0].eq_ignore_ascii_case(name.as_bytes())
    }

    #[test]
    fn transaction_histories_from_the_model_pass_both_checks() {
        for seed in 0..20 {
            for clients in [1, 3] {
                let history = model_history(seed, clients, 120);
                let execs = history.iter().filter(|o| is(&o.argv, "exec")).count();
                assert!(execs > 0, "seed {seed}: the workload made no transaction");
                if let Err(e) = check_history(&config(clients), &history) {
                    panic!("seed {seed}, {clients} clients: {e}");
                }
            }
        }
    }

    /// An EXEC whose queue ran is reported as failed (null) or the other way round: both the
    /// greedy single-client check and the search must notice.
    #[test]
    fn a_flipped_exec_outcome_is_caught() {
        let mut caught = 0;
        for seed in 0..20 {
            for clients in [1, 3] {
                let mut history = model_history(seed, clients, 120);
                let Some(exec) = history.iter_mut().find(|o| {
                    is(&o.argv, "exec") && o.reply.as_deref().is_some_and(|r| r.starts_with(b"*"))
                }) else {
                    continue;
                };
                let ran = exec.reply.as_deref() != Some(b"*-1\r\n");
                exec.reply = Some(if ran {
                    b"*-1\r\n".to_vec()
                } else {
                    b"*0\r\n".to_vec()
                });
                assert!(
                    check_history(&config(clients), &history).is_err(),
                    "seed {seed}, {clients} clients: a flipped EXEC passed"
                );
                caught += 1;
            }
        }
        assert!(caught >= 20, "only {caught} histories had an EXEC to flip");
    }
}
