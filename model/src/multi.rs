//! Transactions: MULTI EXEC DISCARD WATCH UNWATCH, and RESET (which ends them too).
//!
//! MULTI switches the connection to queueing (`TxState::Queueing`): every later command is
//! looked up and arity-checked as usual, then queued with +QUEUED instead of run, except the
//! ones Redis always runs at once: EXEC, DISCARD, MULTI (nested: an error), WATCH (an error
//! inside MULTI) and RESET. A command refused while queueing (unknown, wrong arity) dooms the
//! transaction (`TxState::Doomed`, Redis's `CLIENT_DIRTY_EXEC`); errors that the commands
//! themselves reply (nested MULTI, WATCH inside MULTI) do not. EXEC runs the queue at one
//! instant (the model's `now_ms` is frozen for the whole `apply`), and an error reply from one
//! queued command does not stop the rest.
//!
//! WATCH makes EXEC fail with a null array when, since the key was watched, Redis would have
//! signalled a modification of it (`Model`'s watch registry counts them), or the key existed
//! at WATCH time and has expired since (Redis 7.0's `isWatchedKeyExpired`). Checked on
//! redis-server 7.0.15; `tests/vs_redis.rs` pins it with two connections.
//!
//! Redis quirks kept: EXEC with wrong arity replies EXECABORT "because of: <the error>" and
//! discards the transaction and the watches even outside MULTI; EXEC or DISCARD without MULTI
//! keep the watches; a repeated WATCH of the same key keeps its first state.

use crate::commands::{self, Spec};
use crate::model::{ConnState, Ctx, TxState};
use crate::resp::Resp;

const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
const MULTI_NESTED: &str = "ERR MULTI calls can not be nested";
const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
/// Redis's `shared.oomerr`.
pub(crate) const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Whether a command is queued between MULTI and EXEC or always runs at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InMulti {
    Queue,
    Run,
}

/// Dispatch's hook for a command that passed lookup and arity: `Some(+QUEUED)` if the
/// connection is queueing and this command is one that gets queued.
pub(crate) fn queue(cx: &mut Ctx, spec: &Spec, argv: &[Vec<u8>]) -> Option<Resp> {
    if spec.in_multi == InMulti::Run {
        return None;
    }
    match &mut cx.conn.tx {
        TxState::Idle => return None,
        TxState::Queueing(queued) => queued.push(argv.to_vec()),
        // Redis stops queueing once the transaction is doomed (`queueMultiCommand`), so what
        // comes after the refusal adds nothing to the queue's flags.
        TxState::Doomed { .. } => {}
    }
    Some(Resp::Simple("QUEUED".to_string()))
}

/// Dispatch's hook for a command refused before it could run (`rejectCommand`): the refusal
/// dooms an open transaction; a refused EXEC also discards it at once and says why.
pub(crate) fn reject(cx: &mut Ctx, spec: Option<&Spec>, error: Resp) -> Resp {
    if cx.conn.in_multi() {
        cx.conn.tx = TxState::Doomed {
            denyoom_queued: denyoom_queued(cx.conn),
        };
    }
    let is_exec = spec.is_some_and(|s| s.name == "exec");
    if !is_exec {
        return error;
    }
    discard_transaction(cx);
    let Resp::Error(text) = error else {
        panic!("a refusal is an error reply, not {error:?}");
    };
    let reason = text.strip_prefix("ERR ").unwrap_or(&text);
    Resp::err(format!(
        "EXECABORT Transaction discarded because of: {reason}"
    ))
}

/// Whether the open transaction holds a command Redis refuses when out of memory (then EXEC
/// itself is refused for memory).
pub(crate) fn denyoom_queued(conn: &ConnState) -> bool {
    match &conn.tx {
        TxState::Idle => false,
        TxState::Doomed { denyoom_queued } => *denyoom_queued,
        TxState::Queueing(queued) => queued.iter().any(|argv| {
            commands::lookup(&argv[0]).is_some_and(commands::denies_when_out_of_memory)
        }),
    }
}

/// Whether a reply is Redis's refusal for memory: the plain one, or EXEC's.
pub(crate) fn is_memory_refusal(reply: &Resp) -> bool {
    match reply {
        Resp::Error(text) => {
            text == OOM
                || text.strip_prefix("EXECABORT Transaction discarded because of: ") == Some(OOM)
        }
        _ => false,
    }
}

/// `discardTransaction`: leaves MULTI and forgets every watch.
fn discard_transaction(cx: &mut Ctx) {
    cx.conn.tx = TxState::Idle;
    cx.model.unwatch_all(cx.conn);
}

pub(crate) fn multi(cx: &mut Ctx, _argv: &[Vec<u8>]) -> Resp {
    if cx.conn.in_multi() {
        return Resp::err(MULTI_NESTED);
    }
    cx.conn.tx = TxState::Queueing(Vec::new());
    Resp::ok()
}

pub(crate) fn exec(cx: &mut Ctx, _argv: &[Vec<u8>]) -> Resp {
    let queued = match std::mem::take(&mut cx.conn.tx) {
        TxState::Idle => return Resp::err(EXEC_WITHOUT_MULTI),
        TxState::Doomed { .. } => {
            discard_transaction(cx);
            return Resp::err(EXECABORT);
        }
        TxState::Queueing(queued) => queued,
    };
    let broken = cx.model.watch_broken(cx.conn);
    // Redis unwatches before running the queue: the transaction's own writes (and anything
    // after it) no longer concern these watches.
    cx.model.unwatch_all(cx.conn);
    if broken {
        return Resp::NilArray;
    }
    let mut replies = Vec::with_capacity(queued.len());
    // Each queued command's draw is its element of the recorded EXEC reply.
    let recorded_exec = cx.recorded.take();
    for (i, argv) in queued.iter().enumerate() {
        // A queued SET .. PXAT <past> leaves a dead key: the next command must not see it.
        cx.model.expire_all(cx.now_ms);
        cx.recorded = match recorded_exec {
            Some(Resp::Array(items)) => items.get(i),
            _ => None,
        };
        replies.push(commands::dispatch(cx, argv));
    }
    cx.recorded = recorded_exec;
    Resp::Array(replies)
}

pub(crate) fn discard(cx: &mut Ctx, _argv: &[Vec<u8>]) -> Resp {
    if !cx.conn.in_multi() {
        return Resp::err(DISCARD_WITHOUT_MULTI);
    }
    discard_transaction(cx);
    Resp::ok()
}

pub(crate) fn watch(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    if cx.conn.in_multi() {
        return Resp::err(WATCH_IN_MULTI);
    }
    for key in &argv[1..] {
        cx.model.watch(cx.conn, key);
    }
    Resp::ok()
}

/// UNWATCH (outside MULTI; inside, it is queued and runs after EXEC already unwatched).
pub(crate) fn unwatch(cx: &mut Ctx, _argv: &[Vec<u8>]) -> Resp {
    cx.model.unwatch_all(cx.conn);
    Resp::ok()
}

/// RESET, as far as the model's connection state goes: no transaction, no watches, database
/// 0, RESP2. (Client name, tracking, monitor and auth are not modelled.)
pub(crate) fn reset(cx: &mut Ctx, _argv: &[Vec<u8>]) -> Resp {
    discard_transaction(cx);
    cx.conn.db = 0;
    cx.conn.resp3 = false;
    Resp::Simple("RESET".to_string())
}

#[cfg(test)]
mod tests {
    use crate::model::{ConnState, Model};
    use crate::resp::Resp;

    const NOW_MS: u64 = 1_700_000_000_000;

    fn run(m: &mut Model, conn: &mut ConnState, cmd: &str) -> Resp {
        run_at(m, conn, cmd, NOW_MS)
    }

    fn run_at(m: &mut Model, conn: &mut ConnState, cmd: &str, now_ms: u64) -> Resp {
        let argv: Vec<Vec<u8>> = cmd.split(' ').map(|a| a.as_bytes().to_vec()).collect();
        m.apply(conn, &argv, now_ms)
    }

    fn queued() -> Resp {
        Resp::Simple("QUEUED".into())
    }

    #[test]
    fn exec_runs_the_queue_and_keeps_going_after_an_error() {
        let (mut m, mut c) = (Model::default(), ConnState::default());
        assert_eq!(run(&mut m, &mut c, "MULTI"), Resp::ok());
        assert_eq!(run(&mut m, &mut c, "SET k v"), queued());
        assert_eq!(run(&mut m, &mut c, "INCR k"), queued());
        assert_eq!(run(&mut m, &mut c, "GET k"), queued());
        let mut other = ConnState::default();
        assert_eq!(
            run(&mut m, &mut other, "GET k"),
            Resp::Nil,
            "queued, not run"
        );
        assert_eq!(
            run(&mut m, &mut c, "EXEC"),
            Resp::Array(vec![
                Resp::ok(),
                Resp::err("ERR value is not an integer or out of range"),
                Resp::bulk("v"),
            ])
        );
        assert!(c.is_idle());
    }

    #[test]
    fn refused_commands_doom_the_transaction_but_command_errors_do_not() {
        let (mut m, mut c) = (Model::default(), ConnState::default());
        run(&mut m, &mut c, "MULTI");
        assert_eq!(
            run(&mut m, &mut c, "MULTI"),
            Resp::err("ERR MULTI calls can not be nested")
        );
        assert_eq!(
            run(&mut m, &mut c, "WATCH k"),
            Resp::err("ERR WATCH inside MULTI is not allowed")
        );
        assert_eq!(run(&mut m, &mut c, "SET k v"), queued());
        assert_eq!(run(&mut m, &mut c, "EXEC"), Resp::Array(vec![Resp::ok()]));
        for refused in ["GET", "NOPE x", "DISCARD x", "WATCH"] {
            run(&mut m, &mut c, "MULTI");
            assert!(run(&mut m, &mut c, refused).is_error());
            assert_eq!(run(&mut m, &mut c, "SET k w"), queued());
            assert_eq!(
                run(&mut m, &mut c, "EXEC"),
                Resp::err("EXECABORT Transaction discarded because of previous errors.")
            );
        }
        assert_eq!(run(&mut m, &mut c, "GET k"), Resp::bulk("v"));
    }

    #[test]
    fn exec_with_wrong_arity_discards_even_outside_multi() {
        let (mut m, mut c) = (Model::default(), ConnState::default());
        let abort = Resp::err(
            "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' \
             command",
        );
        run(&mut m, &mut c, "WATCH k");
        assert_eq!(run(&mut m, &mut c, "EXEC x"), abort);
        assert!(c.is_idle(), "the watch is gone");
        run(&mut m, &mut c, "MULTI");
        assert_eq!(run(&mut m, &mut c, "EXEC x"), abort);
        assert_eq!(
            run(&mut m, &mut c, "EXEC"),
            Resp::err("ERR EXEC without MULTI")
        );
    }

    /// Regression (sim seed 57 with transactions): a queued SET with a deadline already past
    /// left a dead key that the next queued command saw as alive.
    #[test]
    fn a_key_set_already_expired_is_gone_for_the_next_queued_command() {
        let (mut m, mut c) = (Model::default(), ConnState::default());
        run(&mut m, &mut c, "MULTI");
        run(&mut m, &mut c, "SET k v PXAT 1");
        run(&mut m, &mut c, "EXISTS k");
        run(&mut m, &mut c, "GET k");
        assert_eq!(
            run(&mut m, &mut c, "EXEC"),
            Resp::Array(vec![Resp::ok(), Resp::Int(0), Resp::Nil])
        );
    }

    #[test]
    fn queued_select_changes_the_database_for_the_rest() {
        let (mut m, mut c) = (Model::default(), ConnState::default());
        run(&mut m, &mut c, "MULTI");
        run(&mut m, &mut c, "SELECT 99");
        run(&mut m, &mut c, "SELECT 1");
        run(&mut m, &mut c, "SET s 1");
        let reply = run(&mut m, &mut c, "EXEC");
        assert_eq!(
            reply,
            Resp::Array(vec![
                Resp::err("ERR DB index is out of range"),
                Resp::ok(),
                Resp::ok()
            ])
        );
        assert_eq!(c.db, 1);
        assert_eq!(m.db(1).len(), 1);
    }

    /// Each case: a key's setup, then what another connection does between WATCH and EXEC,
    /// and whether Redis 7.0.15 failed the EXEC (checked with two redis-cli connections).
    #[test]
    fn watch_breaks_exactly_on_signalled_modifications() {
        let cases: &[(&str, &str, bool)] = &[
            ("SET k v", "SET k v", true),
            ("SET k v", "GET k", false),
            ("SET k v", "APPEND k ", true),
            ("", "APPEND k ", true),
            ("SET k 1", "INCRBY k 0", true),
            ("SET k x", "INCR k", false),
            ("SET k v", "SETNX k w", false),
            ("", "SETNX k w", true),
            ("SET k v", "SET k w NX", false),
            ("", "DEL k", false),
            ("SET k v", "UNLINK k", true),
            ("", "GETDEL k", false),
            ("SET k v", "EXPIRE k 100", true),
            ("SET k v EX 50", "EXPIRE k 100 NX", false),
            ("SET k v EX 50", "PERSIST k", true),
            ("SET k v", "PERSIST k", false),
            ("SET k v", "RENAME k k", false),
            ("SET k v", "RENAME k j", true),
            ("SET j v", "RENAME j k", true),
            ("SET j v", "COPY j k", true),
            ("SET k v", "COPY k j", false),
            ("SET k v", "MOVE k 1", true),
            ("SET k v", "SETRANGE k 0 ", false),
            ("SET k v", "SETRANGE k 0 v", true),
            ("SET k v EX 50", "GETEX k", false),
            ("SET k v", "GETEX k PERSIST", false),
            ("SET k v", "GETEX k EX 100", true),
            ("", "MSETNX j 1 k 1", true),
            ("SET j v", "MSETNX k 1 j 1", false),
            ("SET k v", "FLUSHDB", true),
            ("SET j v", "FLUSHALL", false),
            ("SET k v", "SWAPDB 0 1", true),
            ("SET k v", "SWAPDB 0 0", false),
            ("SET k v", "SWAPDB 1 2", false),
            ("SET j v", "SWAPDB 0 1", false),
        ];
        for &(setup, action, breaks) in cases {
            let (mut m, mut a, mut b) =
                (Model::default(), ConnState::default(), ConnState::default());
            if !setup.is_empty() {
                run(&mut m, &mut b, setup);
            }
            run(&mut m, &mut a, "WATCH k");
            run(&mut m, &mut b, action);
            run(&mut m, &mut a, "MULTI");
            run(&mut m, &mut a, "PING");
            let reply = run(&mut m, &mut a, "EXEC");
            assert_eq!(reply == Resp::NilArray, breaks, "{setup:?} then {action:?}");
            assert!(a.is_idle());
        }
    }

    #[test]
    fn watch_breaks_when_a_live_key_expires_but_not_for_an_already_dead_one() {
        let (mut m, mut a, mut b) = (Model::default(), ConnState::default(), ConnState::default());
        run(&mut m, &mut b, "SET k v PX 100");
        run(&mut m, &mut a, "WATCH k");
        run(&mut m, &mut a, "MULTI");
        assert_eq!(
            run_at(&mut m, &mut a, "EXEC", NOW_MS + 99),
            Resp::Array(vec![])
        );
        run(&mut m, &mut a, "WATCH k");
        run(&mut m, &mut a, "MULTI");
        assert_eq!(run_at(&mut m, &mut a, "EXEC", NOW_MS + 100), Resp::NilArray);
        // Watched once already expired: its deletion later is no modification.
        run_at(&mut m, &mut a, "WATCH k", NOW_MS + 100);
        run_at(&mut m, &mut b, "DEL k", NOW_MS + 100);
        run_at(&mut m, &mut a, "MULTI", NOW_MS + 100);
        assert_eq!(
            run_at(&mut m, &mut a, "EXEC", NOW_MS + 100),
            Resp::Array(vec![])
        );
    }

    #[test]
    fn watch_state_ends_as_redis_ends_it() {
        let (mut m, mut a, mut b) = (Model::default(), ConnState::default(), ConnState::default());
        run(&mut m, &mut a, "WATCH k");
        run(&mut m, &mut b, "SET k 1");
        run(&mut m, &mut a, "WATCH k");
        run(&mut m, &mut a, "MULTI");
        assert_eq!(
            run(&mut m, &mut a, "EXEC"),
            Resp::NilArray,
            "first WATCH kept"
        );
        for ender in ["UNWATCH", "EXEC x", "RESET"] {
            run(&mut m, &mut a, "WATCH k");
            run(&mut m, &mut a, ender);
            run(&mut m, &mut b, "SET k 2");
            run(&mut m, &mut a, "MULTI");
            assert_eq!(run(&mut m, &mut a, "EXEC"), Resp::Array(vec![]), "{ender}");
        }
        for keeper in ["EXEC", "DISCARD"] {
            run(&mut m, &mut a, "WATCH k");
            assert!(run(&mut m, &mut a, keeper).is_error());
            run(&mut m, &mut b, "SET k 3");
            run(&mut m, &mut a, "MULTI");
            assert_eq!(run(&mut m, &mut a, "EXEC"), Resp::NilArray, "{keeper}");
        }
        assert_eq!(m, {
            let mut fresh = Model::default();
            run(&mut fresh, &mut b, "SET k 3");
            fresh
        });
    }

    #[test]
    fn reset_ends_everything_and_returns_to_db_0_and_resp2() {
        let mut m = Model::default();
        let mut c = ConnState::new(true);
        run(&mut m, &mut c, "SELECT 3");
        run(&mut m, &mut c, "WATCH k");
        run(&mut m, &mut c, "MULTI");
        assert_eq!(run(&mut m, &mut c, "RESET"), Resp::Simple("RESET".into()));
        assert_eq!(c, ConnState::default());
    }
}
