//! Multi-key commands are atomic under real threads: no client ever sees one half-applied.
//!
//! The simulator checks VLL on one thread with a chosen interleaving; this test runs the real
//! `damselfly` binary with more proactor threads than the machine has cores, so a transaction's
//! hops to different shards really do interleave with other transactions' hops in whatever order
//! the OS picks. Client threads share groups of keys spread over every shard (no hashtags, so
//! each command spans shards) and check what atomicity promises, each invariant on its own
//! group:
//! - `mset:*`: writers MSET the whole group to one fresh version; readers' MGET must show one
//!   version in every slot (a mix of versions is a torn read).
//! - `del:*`: one client MSETs the group, another DELs it; DEL and EXISTS must count none or all
//!   of it, and MGET must show all missing or one version.
//! - `ring:*`: one token key moved round a ring of keys by RENAME; EXISTS over the ring must
//!   count exactly one key and MGET must show exactly one value.
//! - `acct:*` (needs MULTI/EXEC): transfers between accounts keep the sum of all balances.
//! - `smove:*`: one member moved back and forth by SMOVE between two sets on different shards;
//!   a MULTI/EXEC of SISMEMBER on both, and SUNION of both, must find it in exactly one.
//! - `lmove:*`: three elements moved one at a time by RPOPLPUSH and LMOVE between two lists on
//!   different shards; a MULTI/EXEC of LLEN on both must count three.
//! - `sortw:*`: writers MSET the group; SORT of a list of the keys' suffixes, BY and GET the
//!   pattern `sortw:*` (keys on every shard), must show one version in every slot.
//!
//! The `planted_*` tests prove the checkers: with `--plant skip-intent-locks` (transactions take
//! no intent locks) or `--plant run-conflicting-out-of-order`, each of them must catch a tear.
//! Every run is bounded in time and operations.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use damselfly_core::node::shard_of;
use support::{RawConn, Target};

/// More threads than this machine's 2 cores: the OS preempts a thread mid-transaction.
const PROACTOR_THREADS: u16 = 4;
/// Keys per group: two on each shard.
const GROUP_KEYS: usize = 8;
const RING_KEYS: usize = 6;
/// How long one mix runs (it also stops at the first violation when asked).
const RUN_TIME_MAX: Duration = Duration::from_secs(3);
/// The planted-bug run's budget. Idle, every checker catches every plant within a few seconds
/// (the run stops then); on a loaded 2-core machine `run-conflicting-out-of-order` once took
/// longer than 5 s, since it needs two conflicting hops to meet on a shard.
const PLANTED_RUN_TIME_MAX: Duration = Duration::from_secs(20);
const CLIENT_OPS_MAX: u64 = 50_000;
/// A client that did fewer operations than this ran too little to have checked anything.
const CLIENT_OPS_MIN: u64 = 20;
/// Violations kept for the failure message.
const VIOLATIONS_SHOWN_MAX: usize = 5;
const ACCOUNT_BALANCE_START: i64 = 1000;

/// `count` keys `prefix:N` dealt round the shards (key i on shard i mod threads), so every
/// command on the group spans all of them.
fn spread_keys(prefix: &str, count: usize) -> Vec<String> {
    let threads = usize::from(PROACTOR_THREADS);
    assert!(
        count >= threads,
        "{prefix}: a group smaller than the shards"
    );
    let mut by_shard: Vec<Vec<String>> = vec![Vec::new(); threads];
    let per_shard = count.div_ceil(threads);
    for n in 0.. {
        if by_shard.iter().all(|keys| keys.len() >= per_shard) {
            break;
        }
        let key = format!("{prefix}:{n}");
        by_shard[usize::from(shard_of(key.as_bytes(), PROACTOR_THREADS).0)].push(key);
    }
    (0..count)
        .map(|i| by_shard[i % threads][i / threads].clone())
        .collect()
}

/// What one client does, over and over; each variant checks one invariant.
enum Role {
    /// MSET every key of the group to the version `<writer>.<op>`.
    GroupWriter { keys: Vec<String>, writer: u64 },
    /// MGET the group: one version everywhere (or, when `absent_ok`, every key missing).
    GroupReader { keys: Vec<String>, absent_ok: bool },
    /// DEL the group: it deletes no key or every key.
    GroupDeleter { keys: Vec<String> },
    /// EXISTS over the group: it counts no key or every key.
    GroupCounter { keys: Vec<String> },
    /// RENAME the token to the next key of the ring; `at` is where it is now.
    RingMover { ring: Vec<String>, at: usize },
    /// EXISTS and MGET over the ring: exactly one key holds the token.
    RingReader { ring: Vec<String> },
    /// MULTI, DECRBY one account, INCRBY another, EXEC.
    Transferrer { accounts: Vec<String>, seed: u64 },
    /// MGET every account: the balances add up to the starting total.
    Auditor { accounts: Vec<String> },
    /// SMOVE the member from `sets[from]` to the other set.
    SetMover { sets: [String; 2], from: usize },
    /// MULTI SISMEMBER a; SISMEMBER b; EXEC, then SUNION a b: the member is in exactly one.
    SetReader { sets: [String; 2] },
    /// RPOPLPUSH or LMOVE one element from `lists[from]` to the other list, turning back when
    /// the source runs dry.
    ListMover { lists: [String; 2], from: usize },
    /// MULTI LLEN a; LLEN b; EXEC: the lengths add up to `LIST_ELEMENTS`.
    ListReader { lists: [String; 2] },
    /// SORT `source` (the group's suffixes) BY nosort or BY the group's pattern, GET the
    /// pattern: one version in every slot.
    SortReader { source: String, keys: Vec<String> },
}

impl Role {
    fn name(&self) -> &'static str {
        match self {
            Role::GroupWriter { .. } => "MSET writer",
            Role::GroupReader { .. } => "MGET reader",
            Role::GroupDeleter { .. } => "DEL deleter",
            Role::GroupCounter { .. } => "EXISTS counter",
            Role::RingMover { .. } => "RENAME mover",
            Role::RingReader { .. } => "ring reader",
            Role::Transferrer { .. } => "MULTI transferrer",
            Role::Auditor { .. } => "balance auditor",
            Role::SetMover { .. } => "SMOVE mover",
            Role::SetReader { .. } => "set reader",
            Role::SortReader { .. } => "SORT reader",
            Role::ListMover { .. } => "LMOVE mover",
            Role::ListReader { .. } => "list reader",
        }
    }

    /// One operation; Err describes a violated invariant (or a reply of the wrong shape).
    fn step(&mut self, conn: &mut RawConn, op: u64) -> Result<(), String> {
        match self {
            Role::GroupWriter { keys, writer } => {
                let version = format!("{writer}.{op}");
                let mut args = vec!["MSET".to_string()];
                for key in keys.iter() {
                    args.extend([key.clone(), version.clone()]);
                }
                expect_ok(conn, &args)
            }
            Role::GroupReader { keys, absent_ok } => check_group_values(conn, keys, *absent_ok),
            Role::GroupDeleter { keys } => check_all_or_none(conn, "DEL", keys),
            Role::GroupCounter { keys } => check_all_or_none(conn, "EXISTS", keys),
            Role::RingMover { ring, at } => {
                let next = (*at + 1) % ring.len();
                expect_ok(
                    conn,
                    &["RENAME".into(), ring[*at].clone(), ring[next].clone()],
                )?;
                *at = next;
                Ok(())
            }
            Role::RingReader { ring } => check_ring(conn, ring, op),
            Role::Transferrer { accounts, seed } => transfer(conn, accounts, *seed ^ op),
            Role::Auditor { accounts } => audit(conn, accounts),
            Role::SortReader { source, keys } => check_sort_values(conn, source, keys, op),
            Role::SetMover { sets, from } => {
                let to = 1 - *from;
                let args = [
                    "SMOVE".into(),
                    sets[*from].clone(),
                    sets[to].clone(),
                    SMOVE_MEMBER.into(),
                ];
                let reply = send(conn, &args)?;
                if reply != b":1\r\n" {
                    let reply = support::escape(&reply);
                    return Err(format!("torn SMOVE: the mover's SMOVE answered {reply}"));
                }
                *from = to;
                Ok(())
            }
            Role::SetReader { sets } => check_one_holder(conn, sets),
            Role::ListMover { lists, from } => {
                let to = 1 - *from;
                let mut args = vec![lists[*from].clone(), lists[to].clone()];
                let name = if op.is_multiple_of(2) {
                    "RPOPLPUSH"
                } else {
                    args.extend(["LEFT".into(), "RIGHT".into()]);
                    "LMOVE"
                };
                args.insert(0, name.into());
                let reply = send(conn, &args)?;
                if reply == b"$-1\r\n" {
                    *from = to;
                } else if !reply.starts_with(b"$") {
                    let reply = support::escape(&reply);
                    return Err(format!("torn LMOVE: the mover's {name} answered {reply}"));
                }
                Ok(())
            }
            Role::ListReader { lists } => check_list_total(conn, lists),
        }
    }
}

/// Elements shared by the two lists of the LMOVE test.
const LIST_ELEMENTS: i64 = 3;

/// The two lists hold `LIST_ELEMENTS` between them, seen by one transaction.
fn check_list_total(conn: &mut RawConn, lists: &[String; 2]) -> Result<(), String> {
    expect_ok(conn, &["MULTI".into()])?;
    for list in lists {
        let reply = send(conn, &["LLEN".into(), list.clone()])?;
        if reply != b"+QUEUED\r\n" {
            return Err(format!("LLEN in MULTI: {}", support::escape(&reply)));
        }
    }
    let reply = send(conn, &["EXEC".into()])?;
    let text = String::from_utf8_lossy(&reply).into_owned();
    let lens: Vec<i64> = text
        .split("\r\n")
        .filter_map(|line| line.strip_prefix(':'))
        .filter_map(|n| n.parse().ok())
        .collect();
    if lens.len() != 2 || lens.iter().sum::<i64>() != LIST_ELEMENTS {
        return Err(format!("torn LMOVE: EXEC of two LLENs answered {text:?}"));
    }
    Ok(())
}

const SMOVE_MEMBER: &str = "token";

/// The member is in exactly one of the two sets, seen by one transaction and by one SUNION.
fn check_one_holder(conn: &mut RawConn, sets: &[String; 2]) -> Result<(), String> {
    expect_ok(conn, &["MULTI".into()])?;
    for set in sets {
        let reply = send(
            conn,
            &["SISMEMBER".into(), set.clone(), SMOVE_MEMBER.into()],
        )?;
        if reply != b"+QUEUED\r\n" {
            return Err(format!("SISMEMBER in MULTI: {}", support::escape(&reply)));
        }
    }
    let reply = send(conn, &["EXEC".into()])?;
    let held = match reply.as_slice() {
        b"*2\r\n:1\r\n:0\r\n" | b"*2\r\n:0\r\n:1\r\n" => 1,
        b"*2\r\n:0\r\n:0\r\n" => 0,
        b"*2\r\n:1\r\n:1\r\n" => 2,
        other => return Err(format!("EXEC: {}", support::escape(other))),
    };
    if held != 1 {
        return Err(format!(
            "torn SMOVE: SISMEMBER finds the member in {held} sets"
        ));
    }
    let reply = send(conn, &command("SUNION", sets))?;
    let token = format!("*1\r\n${}\r\n{SMOVE_MEMBER}\r\n", SMOVE_MEMBER.len());
    if reply != token.as_bytes() {
        return Err(format!(
            "torn SMOVE: SUNION answered {}",
            support::escape(&reply)
        ));
    }
    Ok(())
}

fn send(conn: &mut RawConn, args: &[String]) -> Result<Vec<u8>, String> {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    conn.try_cmd(&argv)
        .map_err(|e| format!("{}: {e}", args.join(" ")))
}

fn command(name: &str, keys: &[String]) -> Vec<String> {
    std::iter::once(name.to_string())
        .chain(keys.iter().cloned())
        .collect()
}

fn expect_ok(conn: &mut RawConn, args: &[String]) -> Result<(), String> {
    let reply = send(conn, args)?;
    match reply.as_slice() {
        b"+OK\r\n" => Ok(()),
        other => Err(format!("{} answered {}", args[0], support::escape(other))),
    }
}

fn check_group_values(conn: &mut RawConn, keys: &[String], absent_ok: bool) -> Result<(), String> {
    let reply = send(conn, &command("MGET", keys))?;
    let values = parse_bulk_array(&reply, keys.len())?;
    let first = &values[0];
    let whole = values.iter().all(|v| v == first);
    if whole && (first.is_some() || absent_ok) {
        return Ok(());
    }
    Err(format!(
        "torn MGET: the group holds {} at once",
        show_slots(keys, &values)
    ))
}

/// SORT over the group's suffixes reading the group's keys by pattern: one version everywhere.
fn check_sort_values(
    conn: &mut RawConn,
    source: &str,
    keys: &[String],
    op: u64,
) -> Result<(), String> {
    let prefix = keys[0].split(':').next().expect("prefix:N keys");
    let pattern = format!("{prefix}:*");
    let by = if op.is_multiple_of(2) {
        "nosort".to_string()
    } else {
        pattern.clone()
    };
    let args = ["SORT", source, "BY", &by, "GET", &pattern].map(String::from);
    let reply = send(conn, &args)?;
    let values = parse_bulk_array(&reply, keys.len())?;
    let first = &values[0];
    if first.is_some() && values.iter().all(|v| v == first) {
        return Ok(());
    }
    let shown: Vec<String> = values
        .iter()
        .map(|v| {
            v.as_ref()
                .map_or("<missing>".into(), |v| String::from_utf8_lossy(v).into())
        })
        .collect();
    Err(format!("torn SORT (BY {by}): GET saw {}", shown.join(" ")))
}

fn check_all_or_none(conn: &mut RawConn, name: &str, keys: &[String]) -> Result<(), String> {
    let reply = send(conn, &command(name, keys))?;
    let count = parse_int(&reply)?;
    if count == 0 || count == keys.len() as i64 {
        return Ok(());
    }
    Err(format!(
        "torn {name}: counted {count} of the {} keys MSET and DEL only ever write whole",
        keys.len()
    ))
}

fn check_ring(conn: &mut RawConn, ring: &[String], op: u64) -> Result<(), String> {
    if op.is_multiple_of(2) {
        let count = parse_int(&send(conn, &command("EXISTS", ring))?)?;
        if count != 1 {
            return Err(format!(
                "torn RENAME: EXISTS counts {count} keys of a ring holding one token"
            ));
        }
        return Ok(());
    }
    let values = parse_bulk_array(&send(conn, &command("MGET", ring))?, ring.len())?;
    let held = values.iter().filter(|v| v.is_some()).count();
    if held != 1 {
        return Err(format!(
            "torn RENAME: one token, but the ring holds {}",
            show_slots(ring, &values)
        ));
    }
    Ok(())
}

/// Moves a pseudo-random amount between two different accounts inside MULTI/EXEC.
fn transfer(conn: &mut RawConn, accounts: &[String], seed: u64) -> Result<(), String> {
    let mut rng = support::XorShift::new(seed);
    let from = rng.below(accounts.len() as u64) as usize;
    let to = (from + 1 + rng.below(accounts.len() as u64 - 1) as usize) % accounts.len();
    let amount = (1 + rng.below(50)).to_string();
    expect_ok(conn, &["MULTI".into()])?;
    for (name, account) in [("DECRBY", &accounts[from]), ("INCRBY", &accounts[to])] {
        let reply = send(conn, &[name.into(), account.clone(), amount.clone()])?;
        if reply != b"+QUEUED\r\n" {
            return Err(format!("{name} in MULTI: {}", support::escape(&reply)));
        }
    }
    let reply = send(conn, &["EXEC".into()])?;
    if !reply.starts_with(b"*2\r\n:") {
        return Err(format!("EXEC: {}", support::escape(&reply)));
    }
    Ok(())
}

fn audit(conn: &mut RawConn, accounts: &[String]) -> Result<(), String> {
    let values = parse_bulk_array(&send(conn, &command("MGET", accounts))?, accounts.len())?;
    let mut sum = 0i64;
    for (account, value) in accounts.iter().zip(&values) {
        let text = value.as_deref().unwrap_or(b"<missing>");
        let balance = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| format!("{account} holds {}", support::escape(text)))?;
        sum += balance;
    }
    let expected = ACCOUNT_BALANCE_START * accounts.len() as i64;
    if sum != expected {
        return Err(format!(
            "torn transfer: balances add up to {sum}, not {expected}: {}",
            show_slots(accounts, &values)
        ));
    }
    Ok(())
}

/// `:N\r\n` as N.
fn parse_int(reply: &[u8]) -> Result<i64, String> {
    reply
        .strip_prefix(b":")
        .and_then(|rest| rest.strip_suffix(b"\r\n"))
        .and_then(|digits| std::str::from_utf8(digits).ok()?.parse().ok())
        .ok_or_else(|| format!("expected an integer, got {}", support::escape(reply)))
}

/// A RESP2 array of `len` bulk strings or nils.
fn parse_bulk_array(reply: &[u8], len: usize) -> Result<Vec<Option<Vec<u8>>>, String> {
    let bad = || {
        format!(
            "expected {len} bulk strings, got {}",
            support::escape(reply)
        )
    };
    let header = format!("*{len}\r\n");
    let mut rest = reply.strip_prefix(header.as_bytes()).ok_or_else(bad)?;
    let mut values = Vec::with_capacity(len);
    for _ in 0..len {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let (line, tail) = (&rest[..line_end], &rest[line_end + 2..]);
        if line == b"$-1" {
            values.push(None);
            rest = tail;
            continue;
        }
        let value_len: usize = std::str::from_utf8(line.strip_prefix(b"$").ok_or_else(bad)?)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(bad)?;
        let value = tail.get(..value_len).ok_or_else(bad)?;
        values.push(Some(value.to_vec()));
        rest = tail.get(value_len + 2..).ok_or_else(bad)?;
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok(values)
}

fn show_slots(keys: &[String], values: &[Option<Vec<u8>>]) -> String {
    let slots: Vec<String> = keys
        .iter()
        .zip(values)
        .map(|(key, value)| match value {
            Some(v) => format!("{key}={}", String::from_utf8_lossy(v)),
            None => format!("{key}=<missing>"),
        })
        .collect();
    slots.join(" ")
}

/// What a mix found.
struct Outcome {
    /// (role, operations done) per client.
    ops: Vec<(&'static str, u64)>,
    violations: Vec<String>,
}

impl Outcome {
    fn summary(&self) -> String {
        let ops: Vec<String> = self
            .ops
            .iter()
            .map(|(role, ops)| format!("{role} {ops}"))
            .collect();
        let shown: Vec<&str> = self
            .violations
            .iter()
            .take(VIOLATIONS_SHOWN_MAX)
            .map(String::as_str)
            .collect();
        format!(
            "ops per client: {}\n{} violations{}{}",
            ops.join(", "),
            self.violations.len(),
            if shown.is_empty() { "" } else { ", first:\n  " },
            shown.join("\n  ")
        )
    }
}

/// Runs every role on its own connection and thread until `time_max` or `CLIENT_OPS_MAX`
/// operations each, or until violations mention every one of `until_caught` (if it is not
/// empty).
fn run_mix(
    server: &Target,
    roles: Vec<Role>,
    time_max: Duration,
    until_caught: &'static [&'static str],
) -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let violations = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + time_max;
    let handles: Vec<_> = roles
        .into_iter()
        .map(|mut role| {
            let stop = Arc::clone(&stop);
            let violations = Arc::clone(&violations);
            let mut conn = server.conn();
            thread::spawn(move || {
                let mut ops = 0;
                let running = |ops| {
                    ops < CLIENT_OPS_MAX
                        && Instant::now() < deadline
                        && !stop.load(Ordering::Relaxed)
                };
                while running(ops) {
                    if let Err(why) = role.step(&mut conn, ops) {
                        let mut violations = violations.lock().unwrap();
                        violations.push(format!("{}: {why}", role.name()));
                        if !until_caught.is_empty() && caught_all(&violations, until_caught) {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    ops += 1;
                }
                (role.name(), ops)
            })
        })
        .collect();
    let ops = handles
        .into_iter()
        .map(|h| h.join().expect("a client thread panicked"))
        .collect();
    let violations = std::mem::take(&mut *violations.lock().unwrap());
    Outcome { ops, violations }
}

fn caught_all(violations: &[String], markers: &[&str]) -> bool {
    markers
        .iter()
        .all(|marker| violations.iter().any(|v| v.contains(marker)))
}

/// Sets every key of `keys` to `value` in one MSET.
fn preset(server: &Target, keys: &[String], value: &str) {
    let mut args = vec!["MSET".to_string()];
    for key in keys {
        args.extend([key.clone(), value.to_string()]);
    }
    expect_ok(&mut server.conn(), &args).expect("preset MSET");
}

/// Damselfly with `PROACTOR_THREADS` threads (a redis-server under `DIFF_AGAINST_REDIS=1`, which
/// proves the checkers raise no false alarm against the reference).
fn start_server(extra: &[&str]) -> Target {
    let threads = PROACTOR_THREADS.to_string();
    let mut args = vec!["--proactor_threads", threads.as_str()];
    args.extend_from_slice(extra);
    Target::under_test(&args)
}

/// The MSET/MGET roles: two writers and two readers of one group.
fn mset_mget_roles(keys: &[String]) -> Vec<Role> {
    let writer = |writer| Role::GroupWriter {
        keys: keys.to_vec(),
        writer,
    };
    let reader = || Role::GroupReader {
        keys: keys.to_vec(),
        absent_ok: false,
    };
    vec![writer(1), writer(2), reader(), reader()]
}

/// Every invariant of the mix, on its own group, with a client per role.
fn full_mix(server: &Target) -> Vec<Role> {
    let mset = spread_keys("mset", GROUP_KEYS);
    let del = spread_keys("del", GROUP_KEYS);
    let ring = spread_keys("ring", RING_KEYS);
    preset(server, &mset, "0.0");
    preset(server, &ring[..1], "token");
    let mut roles = mset_mget_roles(&mset);
    roles.extend([
        Role::GroupWriter {
            keys: del.clone(),
            writer: 3,
        },
        Role::GroupDeleter { keys: del.clone() },
        Role::GroupCounter { keys: del.clone() },
        Role::GroupReader {
            keys: del,
            absent_ok: true,
        },
        Role::RingMover {
            ring: ring.clone(),
            at: 0,
        },
        Role::RingReader { ring },
    ]);
    roles
}

#[test]
fn multi_key_commands_are_never_torn() {
    let server = start_server(&[]);
    let roles = full_mix(&server);
    let outcome = run_mix(&server, roles, RUN_TIME_MAX, &[]);
    let summary = outcome.summary();
    eprintln!("{summary}");
    assert!(outcome.violations.is_empty(), "{summary}");
    assert!(
        outcome.ops.iter().all(|&(_, ops)| ops >= CLIENT_OPS_MIN),
        "some client barely ran: {summary}"
    );
}

/// What each checker of the full mix reports.
const TORN_MARKERS: &[&str] = &["torn MGET", "torn DEL", "torn EXISTS", "torn RENAME"];

/// Runs the full mix against a server with `plant` enabled: every checker must catch it. (Each
/// does within a second here; the budget is generous for a loaded CI machine, and the run
/// stops as soon as all have.)
fn assert_plant_caught(plant: &str) {
    if support::against_redis() {
        eprintln!("skipped: redis-server has no planted bugs");
        return;
    }
    let server = start_server(&["--plant", plant]);
    let roles = full_mix(&server);
    let outcome = run_mix(&server, roles, PLANTED_RUN_TIME_MAX, TORN_MARKERS);
    let summary = outcome.summary();
    eprintln!("{plant}: {summary}");
    for marker in TORN_MARKERS {
        assert!(
            outcome.violations.iter().any(|v| v.contains(marker)),
            "the {marker:?} checker missed the planted bug {plant}: {summary}"
        );
    }
}

/// Without intent counters every transaction looks free, so the hops of conflicting
/// transactions interleave on each shard in arrival order.
#[test]
fn planted_skip_intent_locks_is_caught() {
    assert_plant_caught("skip-intent-locks");
}

/// Conflicts are counted but ignored: the same interleaving by another road.
#[test]
fn planted_run_conflicting_out_of_order_is_caught() {
    assert_plant_caught("run-conflicting-out-of-order");
}

/// SMOVE between sets on different shards is atomic for MULTI/EXEC readers and for SUNION.
#[test]
fn smove_across_shards_is_never_torn() {
    let server = start_server(&[]);
    let keys = spread_keys("smove", usize::from(PROACTOR_THREADS));
    let sets = [keys[0].clone(), keys[1].clone()];
    assert_ne!(
        shard_of(sets[0].as_bytes(), PROACTOR_THREADS),
        shard_of(sets[1].as_bytes(), PROACTOR_THREADS)
    );
    let reply = server
        .conn()
        .try_cmd(&[
            b"SADD".as_slice(),
            sets[0].as_bytes(),
            SMOVE_MEMBER.as_bytes(),
        ])
        .expect("SADD");
    assert_eq!(reply, b":1\r\n");
    let reader = || Role::SetReader { sets: sets.clone() };
    let roles = vec![
        Role::SetMover {
            sets: sets.clone(),
            from: 0,
        },
        reader(),
        reader(),
        reader(),
    ];
    let outcome = run_mix(&server, roles, RUN_TIME_MAX, &[]);
    let summary = outcome.summary();
    eprintln!("{summary}");
    assert!(outcome.violations.is_empty(), "{summary}");
    assert!(
        outcome.ops.iter().all(|&(_, ops)| ops >= CLIENT_OPS_MIN),
        "some client barely ran: {summary}"
    );
}

/// RPOPLPUSH and LMOVE between lists on different shards are atomic for MULTI/EXEC readers.
#[test]
fn lmove_across_shards_is_never_torn() {
    let server = start_server(&[]);
    let keys = spread_keys("lmove", usize::from(PROACTOR_THREADS));
    let lists = [keys[0].clone(), keys[1].clone()];
    assert_ne!(
        shard_of(lists[0].as_bytes(), PROACTOR_THREADS),
        shard_of(lists[1].as_bytes(), PROACTOR_THREADS)
    );
    let reply = server
        .conn()
        .try_cmd(&[b"RPUSH".as_slice(), lists[0].as_bytes(), b"x", b"y", b"z"])
        .expect("RPUSH");
    assert_eq!(reply, format!(":{LIST_ELEMENTS}\r\n").as_bytes());
    let reader = || Role::ListReader {
        lists: lists.clone(),
    };
    let roles = vec![
        Role::ListMover {
            lists: lists.clone(),
            from: 0,
        },
        reader(),
        reader(),
        reader(),
    ];
    let outcome = run_mix(&server, roles, RUN_TIME_MAX, &[]);
    let summary = outcome.summary();
    eprintln!("{summary}");
    assert!(outcome.violations.is_empty(), "{summary}");
    assert!(
        outcome.ops.iter().all(|&(_, ops)| ops >= CLIENT_OPS_MIN),
        "some client barely ran: {summary}"
    );
}

#[test]
fn transfers_keep_the_total() {
    let server = start_server(&[]);
    let accounts = spread_keys("acct", GROUP_KEYS);
    preset(&server, &accounts, &ACCOUNT_BALANCE_START.to_string());
    let transferrer = |seed| Role::Transferrer {
        accounts: accounts.clone(),
        seed,
    };
    let auditor = || Role::Auditor {
        accounts: accounts.clone(),
    };
    let roles = vec![
        transferrer(1),
        transferrer(2),
        transferrer(3),
        auditor(),
        auditor(),
    ];
    let outcome = run_mix(&server, roles, RUN_TIME_MAX, &[]);
    let summary = outcome.summary();
    eprintln!("{summary}");
    assert!(outcome.violations.is_empty(), "{summary}");
    // After the dust settles the total still holds.
    audit(&mut server.conn(), &accounts).unwrap_or_else(|why| panic!("at the end: {why}"));
}

/// SORT with BY/GET patterns naming keys on every shard reads one state: never half an MSET.
#[test]
fn sort_patterns_across_shards_are_never_torn() {
    let server = start_server(&[]);
    let keys = spread_keys("sortw", GROUP_KEYS);
    preset(&server, &keys, "0.0");
    let source = "sortsrc".to_string();
    let mut rpush = vec![b"RPUSH".to_vec(), source.as_bytes().to_vec()];
    rpush.extend(
        keys.iter()
            .map(|k| k.split(':').nth(1).expect("N").as_bytes().to_vec()),
    );
    let argv: Vec<&[u8]> = rpush.iter().map(Vec::as_slice).collect();
    let reply = server.conn().try_cmd(&argv).expect("RPUSH");
    assert_eq!(reply, format!(":{GROUP_KEYS}\r\n").as_bytes());
    let writer = |writer| Role::GroupWriter {
        keys: keys.clone(),
        writer,
    };
    let reader = || Role::SortReader {
        source: source.clone(),
        keys: keys.clone(),
    };
    let roles = vec![writer(1), writer(2), reader(), reader()];
    let outcome = run_mix(&server, roles, RUN_TIME_MAX, &[]);
    let summary = outcome.summary();
    eprintln!("{summary}");
    assert!(outcome.violations.is_empty(), "{summary}");
    assert!(
        outcome.ops.iter().all(|&(_, ops)| ops >= CLIENT_OPS_MIN),
        "some client barely ran: {summary}"
    );
}
