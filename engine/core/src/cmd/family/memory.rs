//! MEMORY: USAGE runs on the shard owning the key, STATS gathers every thread's figures (it
//! rides INFO's gather, `NodeCmd::Info`, and is formatted here), HELP is answered by the
//! connection.
//!
//! Every figure is the engine's own accounting (db.rs, shard.rs): entries by allocator class
//! and tables by their allocations, the same in production and under the simulator. What the
//! engine cannot know honestly it does not offer: DOCTOR (Redis's advice reads allocator and
//! RSS statistics), MALLOC-STATS (the allocator's own report) and PURGE (an allocator call;
//! the production driver returns freed pages to the OS on a timer instead) are absent, so they
//! answer Redis's unknown-subcommand error, and MEMORY HELP lists what is here.

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64};
use crate::cmd::Family;
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, ConnCmd, Exec, KeySpec, Merge, NodeCmd};
use crate::error::CmdError;
use crate::reply::Reply;

/// What one key costs in its slot beyond its heap bytes: the 8-byte pointer plus its
/// fingerprint and home bytes.
pub const SLOT_BYTES: usize = std::mem::size_of::<Option<crate::db::Entry>>() + 2;

const SERVER: Family = Family {
    group: "server",
    acl: 0,
};

#[rustfmt::skip]
pub(crate) const SPECS: &[CommandSpec] = &[
    CommandSpec { name: "memory", arity: -2, flags: 0, acl: 0, keys: &[], exec: Exec::Container, subcommands: SUBCOMMANDS, docs: SERVER.docs("A container for memory diagnostics commands", "4.0.0", "Depends on subcommand.") },
];

#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "memory|usage", arity: -3, flags: flag::READONLY, acl: 0, keys: &[KeySpec::one(kf::RO, 2)], exec: Exec::Shard { run: usage, merge: Merge::OneKey }, subcommands: &[], docs: SERVER.docs("Estimate the memory usage of a key", "4.0.0", "O(N) where N is the number of samples.") },
    CommandSpec { name: "memory|stats", arity: 2, flags: 0, acl: 0, keys: &[], exec: Exec::Node(NodeCmd::Info), subcommands: &[], docs: SERVER.docs("Show memory usage details", "4.0.0", "O(1)") },
    CommandSpec { name: "memory|help", arity: 2, flags: flag::LOADING | flag::STALE, acl: 0, keys: &[], exec: Exec::Conn(ConnCmd::MemoryHelp), subcommands: &[], docs: SERVER.docs("Show helpful text about the different subcommands", "4.0.0", "O(1)") },
];

const _: () = assert!(acl::SLOW != 0);

const HELP_LINES: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// MEMORY HELP: status lines, as Redis's addReplyHelp sends them.
pub fn help() -> Reply {
    Reply::Array(HELP_LINES.iter().map(|line| Reply::simple(line)).collect())
}

/// `MEMORY USAGE key [SAMPLES count]`: SAMPLES must carry a non-negative integer (Redis reads
/// the option even though string values have nothing to sample).
fn parse_usage(argv: &Argv) -> Result<(), CmdError> {
    let mut i = 3;
    while i < argv.len() {
        if eq_word(&argv[i], "SAMPLES") && i + 1 < argv.len() {
            if parse_i64(&argv[i + 1])? < 0 {
                return Err(CmdError::Syntax);
            }
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(())
}

/// The bytes the key costs: its slot plus its heap bytes (block and value buffer, by
/// allocator class); nil for a missing key. Not an access.
fn usage(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    parse_usage(argv)?;
    let now_ms = ecx.read_now_ms();
    Ok(match ecx.db().peek(&argv[2], now_ms) {
        Some(entry) => Reply::Int((SLOT_BYTES + entry.heap_bytes()) as i64),
        None => Reply::Nil,
    })
}

#[cfg(test)]
mod tests {
    use crate::testkit::TestCluster;

    #[test]
    fn usage_counts_slot_and_heap_bytes() {
        let mut c = TestCluster::new(2);
        let conn = c.connect(0);
        c.cmd(conn, &["SET", "key:123456", &"x".repeat(16)]);
        assert_eq!(
            c.cmd_text(conn, &["MEMORY", "USAGE", "key:123456"]),
            ":42\r\n"
        );
        c.cmd(conn, &["SET", "big", &"x".repeat(1024)]);
        let big = c.cmd_text(conn, &["MEMORY", "USAGE", "big", "SAMPLES", "0"]);
        assert_eq!(big, format!(":{}\r\n", super::SLOT_BYTES + 32 + 1024));
        assert_eq!(c.cmd_text(conn, &["MEMORY", "USAGE", "nokey"]), "$-1\r\n");
    }

    fn info_figure(c: &mut TestCluster, conn: crate::cx::ConnId, name: &str) -> u64 {
        let info = c.cmd_text(conn, &["INFO", "memory"]);
        let line = info
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("{name} in {info}"));
        line.parse().expect("a number")
    }

    /// The peak is noted by the periodic tick (as Redis's cron does), not on every write: a
    /// level held across a tick is remembered after the keys go.
    #[test]
    fn the_peak_outlives_deleted_keys() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        for i in 0..100 {
            c.cmd(conn, &["SET", &format!("k{i}"), &"x".repeat(1000)]);
        }
        let full = info_figure(&mut c, conn, "used_memory");
        c.advance_ms(200);
        c.cmd(conn, &["FLUSHALL"]);
        assert!(info_figure(&mut c, conn, "used_memory") < full / 10);
        assert!(info_figure(&mut c, conn, "used_memory_peak") >= full);
    }

    #[test]
    fn usage_and_subcommand_errors_are_redis_texts() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        c.cmd(conn, &["SET", "foo", "bar"]);
        let cases: &[(&[&str], &str)] = &[
            (
                &["MEMORY", "USAGE", "foo", "SAMPLES"],
                "-ERR syntax error\r\n",
            ),
            (&["MEMORY", "USAGE", "foo", "bar"], "-ERR syntax error\r\n"),
            (
                &["MEMORY", "USAGE", "foo", "SAMPLES", "-1"],
                "-ERR syntax error\r\n",
            ),
            (
                &["MEMORY", "USAGE", "foo", "SAMPLES", "x"],
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                &["MEMORY", "USAGE"],
                "-ERR wrong number of arguments for 'memory|usage' command\r\n",
            ),
            (
                &["MEMORY"],
                "-ERR wrong number of arguments for 'memory' command\r\n",
            ),
            (
                &["MEMORY", "MALLOC-STATS"],
                "-ERR unknown subcommand 'MALLOC-STATS'. Try MEMORY HELP.\r\n",
            ),
            (
                &["MEMORY", "purge"],
                "-ERR unknown subcommand 'purge'. Try MEMORY HELP.\r\n",
            ),
        ];
        for (args, want) in cases {
            assert_eq!(c.cmd_text(conn, args), *want, "{args:?}");
        }
        let help = c.cmd_text(conn, &["MEMORY", "HELP"]);
        assert!(help.starts_with("*8\r\n+MEMORY <subcommand>"), "{help}");
    }

    #[test]
    fn stats_sum_every_shard() {
        let mut c = TestCluster::new(3);
        let conn = c.connect(1);
        for i in 0..100 {
            c.cmd(conn, &["SET", &format!("k{i}"), "v"]);
        }
        let used: usize = (0..3).map(|t| c.node(t).shard().used_memory_bytes()).sum();
        let stats = c.cmd_text(conn, &["MEMORY", "STATS"]);
        let want = format!("$15\r\ntotal.allocated\r\n:{used}\r\n");
        assert!(stats.contains(&want), "{stats}");
        assert!(stats.contains("$10\r\nkeys.count\r\n:100\r\n"), "{stats}");
        assert!(stats.contains("$4\r\ndb.0\r\n"), "{stats}");
    }

    fn used_memory(c: &mut TestCluster, conn: crate::cx::ConnId) -> u64 {
        let info = c.cmd_text(conn, &["INFO", "memory"]);
        let line = info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .expect("used_memory in INFO");
        line.parse().expect("a number")
    }

    const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

    #[test]
    fn writes_past_maxmemory_are_refused_and_deletes_still_run() {
        let mut c = TestCluster::new(2);
        let conn = c.connect(0);
        let value = "x".repeat(1000);
        assert_eq!(
            c.cmd_text(conn, &["CONFIG", "SET", "maxmemory", "200kb"]),
            "+OK\r\n"
        );
        let mut refused_at = None;
        for i in 0..1000 {
            let reply = c.cmd_text(conn, &["SET", &format!("k{i}"), &value]);
            if reply == OOM {
                refused_at = Some(i);
                break;
            }
            assert_eq!(reply, "+OK\r\n");
        }
        let refused_at = refused_at.expect("a write is refused before 1000 KB are stored");
        assert!(refused_at > 100, "refused after {refused_at} keys");
        // Reads and non-DENYOOM writes go on.
        assert_eq!(
            c.cmd_text(conn, &["GET", "k0"]),
            format!("$1000\r\n{value}\r\n")
        );
        // Admission counts what a write brings: the refused value is refused again, in place
        // of an existing one too (a write that adds less than its arguments is refused early).
        assert_eq!(c.cmd_text(conn, &["SET", "k0", &value]), OOM);
        for i in 0..refused_at {
            c.cmd(conn, &["DEL", &format!("k{i}")]);
        }
        assert_eq!(c.cmd_text(conn, &["SET", "again", &value]), "+OK\r\n");
        assert_eq!(
            c.cmd_text(conn, &["CONFIG", "SET", "maxmemory", "0"]),
            "+OK\r\n"
        );
    }

    #[test]
    fn an_evicting_policy_keeps_used_memory_near_maxmemory_and_keeps_hot_keys() {
        for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
            let mut c = TestCluster::new(2);
            let conn = c.connect(0);
            let maxmemory: u64 = 200 * 1024;
            c.cmd(conn, &["CONFIG", "SET", "maxmemory-policy", policy]);
            c.cmd(
                conn,
                &["CONFIG", "SET", "maxmemory", &maxmemory.to_string()],
            );
            let value = "x".repeat(1000);
            c.cmd(conn, &["SET", "hot", "1"]);
            let mut overshoot_max: i64 = 0;
            for i in 0..3000 {
                let reply = c.cmd_text(conn, &["SET", &format!("k{i}"), &value]);
                assert_eq!(reply, "+OK\r\n", "{policy}: write {i}");
                assert_eq!(
                    c.cmd_text(conn, &["GET", "hot"]),
                    "$1\r\n1\r\n",
                    "{policy}: {i}"
                );
                if i % 10 == 0 {
                    overshoot_max =
                        overshoot_max.max(used_memory(&mut c, conn) as i64 - maxmemory as i64);
                }
            }
            // Splits fit in the headroom eviction keeps: at most one command's entry per shard
            // past the budget.
            let margin = 2 * 1024;
            assert!(
                overshoot_max <= margin,
                "{policy}: overshoot {overshoot_max}"
            );
            let info = c.cmd_text(conn, &["INFO", "stats"]);
            let evicted: u64 = info
                .lines()
                .find_map(|l| l.strip_prefix("evicted_keys:"))
                .expect("evicted_keys")
                .parse()
                .expect("a number");
            assert!(evicted > 2000, "{policy}: evicted {evicted}");
        }
    }

    #[test]
    fn volatile_policies_evict_only_keys_with_a_ttl() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        c.cmd(conn, &["CONFIG", "SET", "maxmemory-policy", "volatile-lru"]);
        c.cmd(conn, &["CONFIG", "SET", "maxmemory", "100kb"]);
        let value = "x".repeat(1000);
        for i in 0..20 {
            assert_eq!(
                c.cmd_text(conn, &["SET", &format!("p{i}"), &value]),
                "+OK\r\n"
            );
        }
        let mut refused = false;
        for i in 0..500 {
            let reply = c.cmd_text(conn, &["SET", &format!("t{i}"), &value, "EX", "1000"]);
            refused |= reply == OOM;
        }
        assert!(!refused, "keys with a TTL make room for each other");
        for i in 0..20 {
            assert_eq!(c.cmd_text(conn, &["EXISTS", &format!("p{i}")]), ":1\r\n");
        }
        // Without volatile keys to evict, persistent writes are refused.
        c.cmd(conn, &["FLUSHALL"]);
        let mut refused = false;
        for i in 0..500 {
            refused |= c.cmd_text(conn, &["SET", &format!("p{i}"), &value]) == OOM;
        }
        assert!(refused);
    }
}
