//! What the node needs to know of a blocking command (BLPOP, BLMOVE, BZPOPMIN…) beyond its row:
//! where its timeout is, what kind of value wakes it, and how to serve it from the one key that
//! became ready. The row's handler is the command's first attempt (Redis's non-blocking path:
//! serve from the first key that can, else a null reply); inside MULTI that attempt is all
//! that runs. The node (`node::blocking`) blocks the client when the attempt answers null.

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::cmd::{CommandSpec, ShardFn};
use crate::db::{Kind, ValueRef};
use crate::error::CmdError;
use crate::numfmt::{parse_long_double, LongDouble};
use crate::reply::Reply;

/// Serves a woken client from `key`, the key that became ready: the reply, or a null reply when
/// `key` cannot serve it after all (emptied again, or holding another type: Redis 7.0 leaves
/// the client blocked then).
pub type ServeFn = fn(&mut ExecCx, &Argv, &[u8]) -> Result<Reply, CmdError>;

/// What the value under a ready key (`None`: no key) holds for one waiter, given its argv.
pub type ReadyFn = fn(&Argv, &[u8], Option<ValueRef<'_>>) -> Readiness;

/// The argv a waiter keeps, computed where its attempt runs and just before it (XREAD's `$`
/// becomes the stream's last ID then, so that later entries are the new ones).
pub type PrepareFn = fn(&mut ExecCx, &Argv) -> Result<Argv, CmdError>;

#[derive(Clone, Copy, Debug)]
pub struct Blocking {
    /// The command's timeout, parsed again once the attempt (which checks it first) found
    /// nothing.
    pub timeout: fn(&Argv) -> Result<Timeout, CmdError>,
    pub serve: ServeFn,
    /// The type a key must hold to wake this client (a key of another type leaves it blocked).
    pub kind: Kind,
    /// Whether a ready key can serve a waiter, checked before `serve` (and, for a waiter whose
    /// keys span shards, before it is told to try again). `None`: one waiter per element of a
    /// collection of `kind`.
    pub ready: Option<ReadyFn>,
    pub prepare: Option<PrepareFn>,
    /// The keys it waits on (a move waits on its source, not its destination).
    pub waits_on: WaitsOn,
    /// The attempt of a client woken across shards, when it differs from the first (XREADGROUP
    /// then answers that its key or group went away rather than that it never was).
    pub retry: Option<ShardFn>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    Forever,
    AfterMs(u64),
    /// Not a blocking call at all (XREAD without BLOCK): the attempt's answer is the reply.
    NoWait,
}

/// Which of a blocking command's keys it waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitsOn {
    AllKeys,
    /// BLMOVE and BRPOPLPUSH: the source only, as Redis blocks them.
    FirstKey,
}

/// What a ready key holds for a waiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Enough for this many waiters (a list's length; `usize::MAX` when serving takes nothing,
    /// as XREAD's).
    Serves(usize),
    /// Nothing for this waiter; a later one may differ (another stream ID or group).
    NotThis,
    /// Nothing for any waiter of this kind (an empty key, or another type); waiters of another
    /// kind on the same key are still asked.
    Nothing,
}

impl Blocking {
    /// A blocking pop from a collection of `kind`: the row's handler is the attempt and the
    /// retry, and each element serves one waiter.
    pub const fn pop(
        timeout: fn(&Argv) -> Result<Timeout, CmdError>,
        serve: ServeFn,
        kind: Kind,
    ) -> Blocking {
        Blocking {
            timeout,
            serve,
            kind,
            ready: None,
            prepare: None,
            waits_on: WaitsOn::AllKeys,
            retry: None,
        }
    }

    /// The keys of `argv` this command waits on.
    pub fn wait_keys(&self, spec: &CommandSpec, argv: &Argv) -> Vec<Vec<u8>> {
        let mut indexes = spec.key_indexes(argv);
        if self.waits_on == WaitsOn::FirstKey {
            indexes.truncate(1);
        }
        let mut keys: Vec<Vec<u8>> = indexes.into_iter().map(|i| argv[i].to_vec()).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// What the value under a ready key holds for a waiter with `argv`.
    pub fn readiness(&self, argv: &Argv, key: &[u8], value: Option<ValueRef<'_>>) -> Readiness {
        match self.ready {
            Some(ready) => ready(argv, key, value),
            None => match value {
                Some(ValueRef::Coll(c)) if c.kind() == self.kind && !c.is_empty() => {
                    Readiness::Serves(c.len())
                }
                _ => Readiness::Nothing,
            },
        }
    }
}

/// A timeout in (fractional) seconds, as redis-server 7.0 reads it: a long double, times 1000,
/// rounded up to whole milliseconds, then cast to a 64-bit integer, where anything past its
/// range (infinity, 1e100) lands on the most negative value and so reads as "negative". Zero,
/// and a tiny negative that rounds up to zero, block forever.
pub fn parse_timeout_seconds(arg: &[u8]) -> Result<Timeout, CmdError> {
    let value = parse_long_double(arg).ok_or(CmdError::TimeoutNotFloat)?;
    let seconds = match value {
        LongDouble::Infinite { .. } => return Err(CmdError::TimeoutNegative),
        LongDouble::Finite {
            negative,
            mant,
            exp2,
        } => {
            let magnitude = mant as f64 * 2f64.powi(exp2.clamp(-2000, 2000) as i32);
            if negative {
                -magnitude
            } else {
                magnitude
            }
        }
    };
    let ms = (seconds * 1000.0).ceil();
    // 2^63: the first value past i64's range (ms is never NaN: the parse refuses it).
    if !(0.0..9_223_372_036_854_775_808.0).contains(&ms) {
        return Err(CmdError::TimeoutNegative);
    }
    Ok(match ms as u64 {
        0 => Timeout::Forever,
        ms => Timeout::AfterMs(ms),
    })
}

/// The timeout in the last argument (BLPOP, BLMOVE, BZPOPMIN…).
pub fn last_arg_timeout(argv: &Argv) -> Result<Timeout, CmdError> {
    parse_timeout_seconds(&argv[argv.len() - 1])
}

/// The timeout in the first argument (BLMPOP, BZMPOP).
pub fn first_arg_timeout(argv: &Argv) -> Result<Timeout, CmdError> {
    parse_timeout_seconds(&argv[1])
}

/// BLMPOP and BZMPOP are LMPOP and ZMPOP with the timeout in front: their arguments without it.
pub fn without_first_arg_timeout(argv: &Argv) -> Argv {
    let mut rest = Argv::from_slices(&[&argv[0]]);
    for arg in argv.iter().skip(2) {
        rest.push(arg);
    }
    rest
}

/// The blocking behaviour of `spec`, when it is a blocking command that has one.
pub fn lookup(spec: &CommandSpec) -> Option<&'static Blocking> {
    let families = [
        crate::cmd::family::list::BLOCKING,
        crate::cmd::family::zset::BLOCKING,
        crate::cmd::family::stream::BLOCKING,
    ];
    families
        .into_iter()
        .flatten()
        .find(|(name, _)| *name == spec.name)
        .map(|(_, blocking)| blocking)
}

/// The blocking behaviour of this call of `spec`, when it may block (XREAD only with BLOCK).
/// A timeout that does not parse still goes to the attempt, which reports it.
pub fn of_call(spec: &CommandSpec, argv: &Argv) -> Option<&'static Blocking> {
    lookup(spec).filter(|b| (b.timeout)(argv) != Ok(Timeout::NoWait))
}

/// Whether a reply is the null a blocking command's attempt answers when nothing is there.
pub fn is_null(reply: &Reply) -> bool {
    matches!(reply, Reply::Nil | Reply::NilArray)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_redis_7_0_reads_them() {
        let ok = |text: &str| parse_timeout_seconds(text.as_bytes());
        assert_eq!(ok("0"), Ok(Timeout::Forever));
        assert_eq!(ok("-0.0001"), Ok(Timeout::Forever));
        assert_eq!(ok("0.0001"), Ok(Timeout::AfterMs(1)));
        assert_eq!(ok("1.5"), Ok(Timeout::AfterMs(1500)));
        assert_eq!(ok("1e10"), Ok(Timeout::AfterMs(10_000_000_000_000)));
        for negative in ["-1", "1e100", "inf", "-inf", "9223372036854775807"] {
            assert_eq!(ok(negative), Err(CmdError::TimeoutNegative), "{negative}");
        }
        for bad in ["x", "nan", "0.01a", "", " 1"] {
            assert_eq!(ok(bad), Err(CmdError::TimeoutNotFloat), "{bad}");
        }
    }
}
