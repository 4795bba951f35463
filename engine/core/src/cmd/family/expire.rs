//! TTL commands of the keyspace family (rows in `keyspace.rs`): EXPIRE, PEXPIRE, EXPIREAT,
//! PEXPIREAT with NX/XX/GT/LT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.
//!
//! Deadlines are absolute unix milliseconds inside the entry (`Entry::expire_at_ms`), so a
//! journal records the effect (the deadline, or a DEL) and never the relative request. The
//! order of checks is Redis 7.0's expireGenericCommand, and it shows in replies: options are
//! parsed (and conflicts reported) before the number, the number's overflow is reported before
//! the key is looked up, and a deadline at or before now deletes the key and answers 1.
//! Quirks kept: a key without a TTL counts as an infinite TTL, so GT always fails on it and LT
//! always succeeds; TTL and EXPIRETIME round half up to whole seconds.

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::cmd::args::parse_i64;
use crate::error::CmdError;
use crate::reply::Reply;

const MS_PER_S: i64 = 1000;

/// Which of the four setters ran: how the number is read and what errors name.
#[derive(Clone, Copy, Debug)]
enum Setter {
    Expire,
    PExpire,
    ExpireAt,
    PExpireAt,
}

impl Setter {
    fn name(self) -> &'static str {
        match self {
            Setter::Expire => "expire",
            Setter::PExpire => "pexpire",
            Setter::ExpireAt => "expireat",
            Setter::PExpireAt => "pexpireat",
        }
    }

    fn in_seconds(self) -> bool {
        match self {
            Setter::Expire | Setter::ExpireAt => true,
            Setter::PExpire | Setter::PExpireAt => false,
        }
    }

    /// What the number is added to: now for relative setters, the epoch for absolute ones.
    fn base_ms(self, now_ms: i64) -> i64 {
        match self {
            Setter::Expire | Setter::PExpire => now_ms,
            Setter::ExpireAt | Setter::PExpireAt => 0,
        }
    }
}

/// The NX/XX/GT/LT condition, with the allowed combinations as variants. XX+GT is plain GT
/// (GT already fails on a key without a TTL); XX+LT is not plain LT (LT passes on one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpireCond {
    Always,
    /// NX: only a key without a TTL.
    NoTtl,
    /// XX: only a key with a TTL.
    HasTtl,
    /// GT (alone or with XX): only a new deadline later than the current one.
    Later,
    /// LT: only a new deadline earlier than the current one, or a key without a TTL.
    Earlier,
    /// XX LT: a key with a TTL and an earlier new deadline.
    HasTtlAndEarlier,
}

impl ExpireCond {
    fn allows(self, current_ms: Option<i64>, new_ms: i64) -> bool {
        match self {
            ExpireCond::Always => true,
            ExpireCond::NoTtl => current_ms.is_none(),
            ExpireCond::HasTtl => current_ms.is_some(),
            ExpireCond::Later => current_ms.is_some_and(|c| new_ms > c),
            ExpireCond::Earlier => current_ms.is_none_or(|c| new_ms < c),
            ExpireCond::HasTtlAndEarlier => current_ms.is_some_and(|c| new_ms < c),
        }
    }
}

/// Options after the number: every one is read first (an unknown one fails at once), then the
/// mix is checked (parseExtendedExpireArgumentsOrReply).
fn parse_cond(options: &[&[u8]]) -> Result<ExpireCond, CmdError> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for &option in options {
        let slot = match option.to_ascii_uppercase().as_slice() {
            b"NX" => &mut nx,
            b"XX" => &mut xx,
            b"GT" => &mut gt,
            b"LT" => &mut lt,
            _ => return Err(CmdError::UnsupportedExpireOption(option.to_vec())),
        };
        *slot = true;
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::ExpireNxConflict);
    }
    if gt && lt {
        return Err(CmdError::ExpireGtLtConflict);
    }
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => ExpireCond::NoTtl,
        (false, _, true, _) => ExpireCond::Later,
        (false, true, false, true) => ExpireCond::HasTtlAndEarlier,
        (false, false, false, true) => ExpireCond::Earlier,
        (false, true, false, false) => ExpireCond::HasTtl,
        (false, false, false, false) => ExpireCond::Always,
    })
}

/// The absolute deadline in ms, with Redis's overflow checks (the result may be negative).
fn deadline_ms(setter: Setter, arg: &[u8], now_ms: i64) -> Result<i64, CmdError> {
    let overflow = CmdError::InvalidExpireTime(setter.name());
    let mut when = parse_i64(arg)?;
    if setter.in_seconds() {
        when = when.checked_mul(MS_PER_S).ok_or(overflow.clone())?;
    }
    when.checked_add(setter.base_ms(now_ms)).ok_or(overflow)
}

fn op_expire(ecx: &mut ExecCx, argv: &Argv, setter: Setter) -> Result<Reply, CmdError> {
    let options: Vec<&[u8]> = argv.iter().skip(3).collect();
    let cond = parse_cond(&options)?;
    let now_ms = ecx.now_ms();
    let when_ms = deadline_ms(setter, &argv[2], now_ms as i64)?;
    let key = &argv[1];
    let Some(entry) = ecx.db().get(key, now_ms) else {
        return Ok(Reply::Int(0));
    };
    let current_ms = entry.expire_at_ms().map(|at| at as i64);
    if !cond.allows(current_ms, when_ms) {
        return Ok(Reply::Int(0));
    }
    let done = if when_ms <= now_ms as i64 {
        ecx.delete(key).is_some()
    } else {
        ecx.set_expiry(key, Some(when_ms as u64))
    };
    assert!(done, "expire: the key vanished after its lookup");
    Ok(Reply::Int(1))
}

pub(crate) fn expire(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    op_expire(ecx, argv, Setter::Expire)
}

pub(crate) fn pexpire(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    op_expire(ecx, argv, Setter::PExpire)
}

pub(crate) fn expireat(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    op_expire(ecx, argv, Setter::ExpireAt)
}

pub(crate) fn pexpireat(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    op_expire(ecx, argv, Setter::PExpireAt)
}

pub(crate) fn persist(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let now_ms = ecx.now_ms();
    let had_ttl = ecx
        .db()
        .get(&argv[1], now_ms)
        .is_some_and(|e| e.expire_at_ms().is_some());
    if had_ttl {
        ecx.set_expiry(&argv[1], None);
    }
    Ok(Reply::Int(i64::from(had_ttl)))
}

/// What a TTL query answers with.
#[derive(Clone, Copy, Debug)]
enum TtlQuery {
    /// Remaining seconds (TTL).
    Seconds,
    /// Remaining milliseconds (PTTL).
    Millis,
    /// Deadline in unix seconds (EXPIRETIME).
    AtSeconds,
    /// Deadline in unix milliseconds (PEXPIRETIME).
    AtMillis,
}

/// -2 for a missing key, -1 for one without a TTL; seconds round half up, as Redis's
/// `(ttl + 500) / 1000` does. The lookup does not count as an access.
fn op_ttl(ecx: &mut ExecCx, argv: &Argv, query: TtlQuery) -> Result<Reply, CmdError> {
    const MISSING: i64 = -2;
    const PERSISTENT: i64 = -1;
    let read_now_ms = ecx.read_now_ms();
    let now_ms = ecx.now_ms();
    let Some(entry) = ecx.db().peek(&argv[1], read_now_ms) else {
        return Ok(Reply::Int(MISSING));
    };
    let Some(at_ms) = entry.expire_at_ms() else {
        return Ok(Reply::Int(PERSISTENT));
    };
    let rounded_s = |ms: u64| ((ms + 500) / 1000) as i64;
    let left_ms = at_ms.saturating_sub(now_ms);
    Ok(Reply::Int(match query {
        TtlQuery::Seconds => rounded_s(left_ms),
        TtlQuery::Millis => left_ms as i64,
        TtlQuery::AtSeconds => rounded_s(at_ms),
        TtlQuery::AtMillis => at_ms as i64,
    }))
}

pub(crate) fn ttl(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    op_ttl(ecx, argv, TtlQuery::Seconds)
}

pub(crate) fn pttl(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    op_ttl(ecx, argv, TtlQuery::Millis)
}

pub(crate) fn expiretime(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    op_ttl(ecx, argv, TtlQuery::AtSeconds)
}

pub(crate) fn pexpiretime(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    op_ttl(ecx, argv, TtlQuery::AtMillis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(words: &[&str]) -> Result<ExpireCond, CmdError> {
        let options: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        parse_cond(&options)
    }

    #[test]
    fn option_mixes_follow_redis() {
        assert_eq!(cond(&[]), Ok(ExpireCond::Always));
        assert_eq!(cond(&["nx"]), Ok(ExpireCond::NoTtl));
        assert_eq!(cond(&["XX", "GT"]), Ok(ExpireCond::Later));
        assert_eq!(cond(&["xx", "lt"]), Ok(ExpireCond::HasTtlAndEarlier));
        assert_eq!(cond(&["GT", "GT"]), Ok(ExpireCond::Later));
        assert_eq!(cond(&["NX", "LT"]), Err(CmdError::ExpireNxConflict));
        assert_eq!(cond(&["XX", "GT", "LT"]), Err(CmdError::ExpireGtLtConflict));
        // An unknown option wins over a conflict seen before it.
        assert_eq!(
            cond(&["NX", "XX", "foo"]),
            Err(CmdError::UnsupportedExpireOption(b"foo".to_vec()))
        );
    }

    #[test]
    fn no_ttl_is_infinite_for_gt_and_lt() {
        assert!(!ExpireCond::Later.allows(None, 5));
        assert!(ExpireCond::Earlier.allows(None, 5));
        assert!(!ExpireCond::HasTtlAndEarlier.allows(None, 5));
        assert!(!ExpireCond::Later.allows(Some(5), 5));
        assert!(!ExpireCond::Earlier.allows(Some(5), 5));
    }

    #[test]
    fn overflow_checks_match_redis() {
        let err = Err(CmdError::InvalidExpireTime("expire"));
        let now_ms = 1_767_225_600_000;
        assert_eq!(
            deadline_ms(Setter::Expire, b"9223372036854775", now_ms),
            err
        );
        assert_eq!(deadline_ms(Setter::Expire, b"9223372036854776", 0), err);
        assert_eq!(deadline_ms(Setter::Expire, b"-9223372036854775807", 1), err);
        assert_eq!(
            deadline_ms(Setter::ExpireAt, b"9223372036854775", 1),
            Ok(9_223_372_036_854_775_000)
        );
        assert_eq!(
            deadline_ms(Setter::PExpire, b"-9223372036854775808", 10),
            Ok(i64::MIN + 10)
        );
        assert_eq!(
            deadline_ms(Setter::PExpire, b"abc", 10),
            Err(CmdError::NotInteger)
        );
    }
}
