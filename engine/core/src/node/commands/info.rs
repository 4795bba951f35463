//! INFO: the sections tools parse, with Redis 7.0's field names and order. Each thread reports
//! its `ThreadStats` (connections, counters, keyspace sizes, an estimate of data bytes); the
//! coordinator adds them up and formats the text.
//!
//! Sections: server, clients, memory, persistence, stats, replication, cpu, modules (empty),
//! cluster and keyspace; `default`, `all` and `everything` select all of them (we model no
//! commandstats, errorstats or latencystats). Unknown section names select nothing, so
//! `INFO nosuch` is an empty string, as in Redis.
//!
//! What the engine cannot know it reports as a fixed value: CPU times are 0 (no OS queries in
//! the engine), and instantaneous_ops_per_sec is 0 (no sampling); rdb_changes_since_last_save counts
//! every key change since start (no RDB yet).
//!
//! Memory: used_memory is the sum of every shard's accounted bytes (entries by allocator class
//! plus tables, shard.rs), the figure maxmemory is enforced against; used_memory_peak is the
//! sum of the shards' peaks (each sampled before every command, so it can exceed the true
//! node-wide peak a little); used_memory_rss is the process's resident memory as the driver
//! last reported it (engine/server reads it on a timer), or used_memory where no driver
//! reports one (simulator, tests); mem_fragmentation_ratio is their quotient. MEMORY STATS
//! (cmd/family/memory.rs) rides this gather too.

use std::fmt::Write as _;

use crate::argv::Argv;
use crate::cmd::server::REDIS_VERSION_COMPAT;
use crate::conn::Conn;
use crate::cx::{Cx, ThreadId};
use crate::hop::NodeResult;
use crate::node::{Node, NodeCounters};
use crate::reply::Reply;
use crate::shard::ShardStats;
use crate::tx::TxStats;

/// Counters one thread reports for INFO.
#[derive(Clone, Debug, Default)]
pub struct ThreadStats {
    pub connected_clients: u64,
    /// Connections waiting in a blocking command (BLPOP…).
    pub blocked_clients: u64,
    /// This shard's VLL scheduling counters.
    pub tx: TxStats,
    pub counters: NodeCounters,
    pub shard: ShardStats,
    /// (keys, keys with a TTL) per database.
    pub keyspace: Vec<(u64, u64)>,
    /// The engine's estimate of the bytes its keys and values take.
    pub used_memory_bytes: u64,
    pub memory: crate::shard::ShardMemory,
    /// (table bytes, entry bytes) per database.
    pub db_memory: Vec<(u64, u64)>,
    /// The process's resident bytes as the driver reported them to this thread (0: none).
    pub process_rss_bytes: u64,
    /// This thread's channels, patterns and shard channels (distinct node-wide by name).
    pub pubsub_names: [Vec<Vec<u8>>; 3],
    /// Changes on this shard since the cut of the last successful save.
    pub dirty_since_save: u64,
}

/// INFO sections in the order Redis prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Server,
    Clients,
    Memory,
    Persistence,
    Stats,
    Replication,
    Cpu,
    Modules,
    Cluster,
    Keyspace,
}

impl Section {
    const ALL: [Section; 10] = [
        Section::Server,
        Section::Clients,
        Section::Memory,
        Section::Persistence,
        Section::Stats,
        Section::Replication,
        Section::Cpu,
        Section::Modules,
        Section::Cluster,
        Section::Keyspace,
    ];

    fn name(self) -> &'static str {
        match self {
            Section::Server => "server",
            Section::Clients => "clients",
            Section::Memory => "memory",
            Section::Persistence => "persistence",
            Section::Stats => "stats",
            Section::Replication => "replication",
            Section::Cpu => "cpu",
            Section::Modules => "modules",
            Section::Cluster => "cluster",
            Section::Keyspace => "keyspace",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Section::Server => "Server",
            Section::Clients => "Clients",
            Section::Memory => "Memory",
            Section::Persistence => "Persistence",
            Section::Stats => "Stats",
            Section::Replication => "Replication",
            Section::Cpu => "CPU",
            Section::Modules => "Modules",
            Section::Cluster => "Cluster",
            Section::Keyspace => "Keyspace",
        }
    }
}

/// The sections `INFO [section…]` asks for, in Redis's order.
fn requested_sections(argv: &Argv) -> Vec<Section> {
    if argv.len() == 1 {
        return Section::ALL.to_vec();
    }
    let mut wanted: Vec<Section> = Vec::new();
    for arg in argv.iter().skip(1) {
        let lower = arg.to_ascii_lowercase();
        if matches!(lower.as_slice(), b"all" | b"everything" | b"default") {
            wanted.extend(Section::ALL);
        } else if let Some(s) = Section::ALL.iter().find(|s| s.name().as_bytes() == lower) {
            wanted.push(*s);
        }
    }
    wanted.sort();
    wanted.dedup();
    wanted
}

/// This thread's part of INFO.
pub fn stats_here(node: &Node, current: Option<&Conn>) -> NodeResult {
    let shard = node.shard();
    let keyspace = (0..shard.dbs_len())
        .map(|i| {
            let db = shard.db_ref(i);
            (db.len() as u64, db.expires_len() as u64)
        })
        .collect();
    NodeResult::Stats(Box::new(ThreadStats {
        connected_clients: node.conns_len() as u64 + u64::from(current.is_some()),
        blocked_clients: crate::node::blocking::blocked_clients(node),
        tx: node.txq.stats(),
        counters: node.counters,
        shard: shard.stats,
        keyspace,
        used_memory_bytes: shard.used_memory_bytes() as u64,
        memory: shard.memory(),
        db_memory: (0..shard.dbs_len())
            .map(|i| {
                let db = shard.db_ref(i);
                (db.table_bytes() as u64, db.entries_bytes() as u64)
            })
            .collect(),
        process_rss_bytes: shard.process_rss_bytes(),
        dirty_since_save: shard
            .stats
            .dirty
            .saturating_sub(node.persist.dirty_at_last_save),
        pubsub_names: crate::node::pubsub::names_for_info(node),
    }))
}

/// Node-wide totals of the threads' stats.
#[derive(Default)]
struct Totals {
    clients: u64,
    blocked_clients: u64,
    tx: TxStats,
    counters: NodeCounters,
    shard: ShardStats,
    keyspace: Vec<(u64, u64)>,
    used_memory_bytes: u64,
    peak_memory_bytes: u64,
    entries_bytes: u64,
    rss_bytes: u64,
    /// Distinct channels, patterns and shard channels node-wide.
    pubsub_names: [std::collections::BTreeSet<Vec<u8>>; 3],
    dirty_since_save: u64,
}

fn totals(results: Vec<(ThreadId, NodeResult)>, databases: usize) -> Totals {
    let mut t = Totals {
        keyspace: vec![(0, 0); databases],
        ..Totals::default()
    };
    for (_, result) in results {
        let NodeResult::Stats(s) = result else {
            unreachable!("INFO part {result:?}")
        };
        t.clients += s.connected_clients;
        t.blocked_clients += s.blocked_clients;
        t.tx.refused += s.tx.refused;
        t.tx.out_of_order += s.tx.out_of_order;
        t.counters.connections_received += s.counters.connections_received;
        t.counters.commands_processed += s.counters.commands_processed;
        t.counters.rejected_connections += s.counters.rejected_connections;
        t.counters.net_input_bytes += s.counters.net_input_bytes;
        t.counters.net_output_bytes += s.counters.net_output_bytes;
        t.counters.hops_sent += s.counters.hops_sent;
        t.shard.expired_keys += s.shard.expired_keys;
        t.shard.keyspace_hits += s.shard.keyspace_hits;
        t.shard.keyspace_misses += s.shard.keyspace_misses;
        t.shard.dirty += s.shard.dirty;
        t.dirty_since_save += s.dirty_since_save;
        t.used_memory_bytes += s.used_memory_bytes;
        t.peak_memory_bytes += s.memory.peak_bytes;
        t.entries_bytes += s.memory.entries_bytes;
        t.rss_bytes = t.rss_bytes.max(s.process_rss_bytes);
        t.shard.evicted_keys += s.shard.evicted_keys;
        for (all, here) in t.pubsub_names.iter_mut().zip(s.pubsub_names) {
            all.extend(here);
        }
        for (sum, part) in t.keyspace.iter_mut().zip(&s.keyspace) {
            sum.0 += part.0;
            sum.1 += part.1;
        }
    }
    t
}

/// Redis's `bytesToHuman`.
pub fn bytes_to_human(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    match n {
        0..1024 => format!("{n}B"),
        1024..1_048_576 => format!("{:.2}K", f / K),
        1_048_576..1_073_741_824 => format!("{:.2}M", f / (K * K)),
        1_073_741_824..1_099_511_627_776 => format!("{:.2}G", f / (K * K * K)),
        1_099_511_627_776..1_125_899_906_842_624 => format!("{:.2}T", f / (K * K * K * K)),
        _ => format!("{:.2}P", f / (K * K * K * K * K)),
    }
}

/// Formats INFO from the threads' stats.
pub fn finish(node: &Node, argv: &Argv, results: Vec<(ThreadId, NodeResult)>, cx: &Cx) -> Reply {
    if argv[0].eq_ignore_ascii_case(b"memory") {
        return finish_memory_stats(&results);
    }
    let t = totals(results, node.config.databases);
    let sections: Vec<String> = requested_sections(argv)
        .into_iter()
        .map(|s| {
            let mut text = format!("# {}\r\n", s.title());
            section_body(s, node, &t, cx, &mut text);
            text
        })
        .collect();
    Reply::Verbatim {
        format: "txt",
        text: sections.join("\r\n").into_bytes(),
    }
}

fn section_body(section: Section, node: &Node, t: &Totals, cx: &Cx, out: &mut String) {
    match section {
        Section::Server => server_section(node, cx, out),
        Section::Clients => {
            let fields = [
                ("connected_clients", t.clients.to_string()),
                ("cluster_connections", "0".into()),
                ("maxclients", node.config.maxclients.to_string()),
                ("client_recent_max_input_buffer", "0".into()),
                ("client_recent_max_output_buffer", "0".into()),
                ("blocked_clients", t.blocked_clients.to_string()),
                ("tracking_clients", "0".into()),
                ("clients_in_timeout_table", "0".into()),
            ];
            push_fields(out, &fields);
        }
        Section::Memory => memory_section(node, t, out),
        Section::Persistence => persistence_section(node, t, cx, out),
        Section::Stats => stats_section(t, out),
        Section::Replication => {
            let fields = [
                ("role", "master".to_string()),
                ("connected_slaves", "0".into()),
                ("master_failover_state", "no-failover".into()),
                ("master_replid", node.server.master_replid.clone()),
                ("master_replid2", "0".repeat(40)),
                ("master_repl_offset", "0".into()),
                ("second_repl_offset", "-1".into()),
                ("repl_backlog_active", "0".into()),
                ("repl_backlog_size", "1048576".into()),
                ("repl_backlog_first_byte_offset", "0".into()),
                ("repl_backlog_histlen", "0".into()),
            ];
            push_fields(out, &fields);
        }
        Section::Cpu => {
            let zero = "0.000000".to_string();
            let fields = [
                ("used_cpu_sys", zero.clone()),
                ("used_cpu_user", zero.clone()),
                ("used_cpu_sys_children", zero.clone()),
                ("used_cpu_user_children", zero.clone()),
                ("used_cpu_sys_main_thread", zero.clone()),
                ("used_cpu_user_main_thread", zero),
            ];
            push_fields(out, &fields);
        }
        Section::Modules => {}
        Section::Cluster => push_fields(out, &[("cluster_enabled", "0".into())]),
        Section::Keyspace => {
            for (db, (keys, expires)) in t.keyspace.iter().enumerate() {
                if *keys > 0 {
                    let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
                }
            }
        }
    }
}

fn push_fields(out: &mut String, fields: &[(&str, String)]) {
    for (name, value) in fields {
        let _ = write!(out, "{name}:{value}\r\n");
    }
}

fn server_section(node: &Node, cx: &Cx, out: &mut String) {
    let server = &node.server;
    let uptime_s = cx.now_mono_us().saturating_sub(server.started_mono_us) / 1_000_000;
    let fields = [
        ("redis_version", REDIS_VERSION_COMPAT.to_string()),
        ("damselfly_version", server.damselfly_version.clone()),
        ("redis_git_sha1", "00000000".into()),
        ("redis_git_dirty", "0".into()),
        ("redis_mode", "standalone".into()),
        ("os", server.os.clone()),
        ("arch_bits", server.arch_bits.to_string()),
        ("multiplexing_api", server.multiplexing_api.clone()),
        ("process_id", server.process_id.to_string()),
        ("process_supervised", "no".into()),
        ("run_id", server.run_id.clone()),
        ("tcp_port", node.config.port.to_string()),
        ("server_time_usec", cx.wall_us().to_string()),
        ("uptime_in_seconds", uptime_s.to_string()),
        ("uptime_in_days", (uptime_s / 86_400).to_string()),
        ("hz", node.config.hz.to_string()),
        ("configured_hz", node.config.hz.to_string()),
        ("executable", server.executable.clone()),
        ("config_file", server.config_file.clone()),
        ("io_threads_active", "0".into()),
    ];
    push_fields(out, &fields);
}

fn memory_section(node: &Node, t: &Totals, out: &mut String) {
    let used = t.used_memory_bytes;
    let rss = if t.rss_bytes > 0 { t.rss_bytes } else { used };
    let peak = t.peak_memory_bytes.max(used);
    let maxmemory = node.config.maxmemory_bytes;
    let fragmentation = if used > 0 {
        rss as f64 / used as f64
    } else {
        1.0
    };
    let fields = [
        ("used_memory", used.to_string()),
        ("used_memory_human", bytes_to_human(used)),
        ("used_memory_rss", rss.to_string()),
        ("used_memory_rss_human", bytes_to_human(rss)),
        ("used_memory_peak", peak.to_string()),
        ("used_memory_peak_human", bytes_to_human(peak)),
        ("used_memory_dataset", t.entries_bytes.to_string()),
        ("maxmemory", maxmemory.to_string()),
        ("maxmemory_human", bytes_to_human(maxmemory)),
        (
            "maxmemory_policy",
            node.config.maxmemory_policy.name().into(),
        ),
        ("mem_fragmentation_ratio", format!("{fragmentation:.2}")),
        ("mem_allocator", "libc".into()),
        ("lazyfree_pending_objects", "0".into()),
    ];
    push_fields(out, &fields);
}

fn persistence_section(node: &Node, t: &Totals, cx: &Cx, out: &mut String) {
    let p = &node.persist;
    let now_s = cx.wall_ms() / 1000;
    let fields = [
        ("loading", "0".to_string()),
        ("async_loading", "0".into()),
        (
            "rdb_changes_since_last_save",
            t.dirty_since_save.to_string(),
        ),
        (
            "rdb_bgsave_in_progress",
            u8::from(crate::node::persist::in_progress(node)).to_string(),
        ),
        ("rdb_last_save_time", node.last_save_s().to_string()),
        (
            "rdb_last_bgsave_status",
            if p.last_bgsave_ok { "ok" } else { "err" }.into(),
        ),
        (
            "rdb_last_bgsave_time_sec",
            p.last_bgsave_seconds.map_or(-1, |s| s as i64).to_string(),
        ),
        (
            "rdb_current_bgsave_time_sec",
            p.saving_since_s
                .map_or(-1, |s| now_s.saturating_sub(s) as i64)
                .to_string(),
        ),
        ("aof_enabled", u8::from(node.config.appendonly).to_string()),
        ("aof_rewrite_in_progress", "0".into()),
        ("aof_last_write_status", "ok".into()),
    ];
    push_fields(out, &fields);
}

fn stats_section(t: &Totals, out: &mut String) {
    let c = &t.counters;
    let fields = [
        (
            "total_connections_received",
            c.connections_received.to_string(),
        ),
        ("total_commands_processed", c.commands_processed.to_string()),
        ("instantaneous_ops_per_sec", "0".into()),
        ("total_net_input_bytes", c.net_input_bytes.to_string()),
        ("total_net_output_bytes", c.net_output_bytes.to_string()),
        ("rejected_connections", c.rejected_connections.to_string()),
        ("expired_keys", t.shard.expired_keys.to_string()),
        ("evicted_keys", t.shard.evicted_keys.to_string()),
        ("keyspace_hits", t.shard.keyspace_hits.to_string()),
        ("keyspace_misses", t.shard.keyspace_misses.to_string()),
        ("pubsub_channels", t.pubsub_names[0].len().to_string()),
        ("pubsub_patterns", t.pubsub_names[1].len().to_string()),
        ("pubsubshard_channels", t.pubsub_names[2].len().to_string()),
        ("total_error_replies", "0".into()),
        // Not in Redis: VLL schedules refused (each a cancel and retry for the coordinator)
        // and accepted below a higher queued txid, summed over shards.
        ("tx_schedules_refused", t.tx.refused.to_string()),
        ("tx_schedules_out_of_order", t.tx.out_of_order.to_string()),
        // Not in Redis: hops sent to another thread's shard, summed over threads (a command
        // on a key owned elsewhere, or a batch of them, costs one).
        ("hops_to_other_threads", t.counters.hops_sent.to_string()),
    ];
    push_fields(out, &fields);
}

/// MEMORY STATS from the threads' stats, in Redis's field order, leaving out the fields the
/// engine does not account (client buffers, scripts, allocator internals).
fn finish_memory_stats(results: &[(ThreadId, NodeResult)]) -> Reply {
    let mut peak = 0;
    let mut used = 0;
    let mut entries = 0;
    let mut keys = 0;
    let mut rss = 0;
    let mut dbs: Vec<(u64, u64)> = Vec::new();
    for (_, result) in results {
        let NodeResult::Stats(s) = result else {
            unreachable!("MEMORY STATS part {result:?}")
        };
        peak += s.memory.peak_bytes;
        used += s.memory.used_bytes;
        entries += s.memory.entries_bytes;
        keys += s.memory.keys;
        rss = rss.max(s.process_rss_bytes);
        dbs.resize(dbs.len().max(s.db_memory.len()), (0, 0));
        for (sum, part) in dbs.iter_mut().zip(&s.db_memory) {
            sum.0 += part.0;
            sum.1 += part.1;
        }
    }
    let int = |n: u64| Reply::Int(n as i64);
    let name = |s: &str| Reply::bulk(s);
    let mut fields = vec![
        (name("peak.allocated"), int(peak)),
        (name("total.allocated"), int(used)),
        (name("startup.allocated"), int(0)),
    ];
    let tables: u64 = dbs.iter().map(|d| d.0).sum();
    for (i, (table_bytes, _)) in dbs.iter().enumerate() {
        if *table_bytes > 0 {
            let db = vec![
                (name("overhead.hashtable.main"), int(*table_bytes)),
                (name("overhead.hashtable.expires"), int(0)),
            ];
            fields.push((Reply::bulk(format!("db.{i}")), Reply::Map(db)));
        }
    }
    fields.push((name("overhead.total"), int(tables)));
    fields.push((name("keys.count"), int(keys)));
    fields.push((
        name("keys.bytes-per-key"),
        int(used.checked_div(keys).unwrap_or(0)),
    ));
    fields.push((name("dataset.bytes"), int(entries)));
    let percent = |part: u64, whole: u64| {
        Reply::Double(if whole == 0 {
            0.0
        } else {
            part as f64 * 100.0 / whole as f64
        })
    };
    fields.push((name("dataset.percentage"), percent(entries, used)));
    fields.push((name("peak.percentage"), percent(used, peak)));
    if rss > 0 && used > 0 {
        fields.push((
            name("fragmentation"),
            Reply::Double(rss as f64 / used as f64),
        ));
        fields.push((
            name("fragmentation.bytes"),
            Reply::Int(rss as i64 - used as i64),
        ));
    }
    Reply::Map(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::commands::server::test_util::THREADS;
    use crate::testkit::TestCluster;

    /// The INFO text with the numbers that vary between runs of the same script replaced.
    fn normalized(reply: &str) -> String {
        let (_, text) = reply
            .split_once("txt:")
            .or_else(|| reply.split_once("\r\n"))
            .unwrap();
        text.split("\r\n")
            .map(|line| match line.split_once(':') {
                Some(("run_id" | "master_replid" | "server_time_usec", _)) => {
                    format!("{}:<volatile>", line.split(':').next().unwrap())
                }
                _ => line.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn field(info: &str, name: &str) -> String {
        let start = info
            .find(&format!("\r\n{name}:"))
            .unwrap_or_else(|| panic!("{name}"));
        let rest = &info[start + name.len() + 3..];
        rest[..rest.find("\r\n").unwrap()].to_string()
    }

    #[test]
    fn default_info_snapshot() {
        let mut c = TestCluster::new(3);
        let conns: Vec<_> = (0..3).map(|t| c.connect(t)).collect();
        for (i, key) in ["a", "b", "c", "d"].iter().enumerate() {
            c.cmd(conns[i % 3], &["SET", key, "value"]);
        }
        c.cmd(conns[0], &["SET", "t", "1", "EX", "100"]);
        c.cmd(conns[1], &["SELECT", "2"]);
        c.cmd(conns[1], &["SET", "x", "y"]);
        c.cmd(conns[2], &["GET", "a"]);
        c.cmd(conns[2], &["GET", "nosuch"]);
        c.advance_ms(90_061_000);
        c.cmd(conns[0], &["HELLO", "3"]);
        let info = c.cmd_text(conns[0], &["INFO"]);
        assert!(info.starts_with('='), "verbatim in RESP3: {info}");
        insta::assert_snapshot!(normalized(&info));
    }

    #[test]
    fn section_selection_follows_redis() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            assert_eq!(c.cmd_text(conn, &["INFO", "nosuch"]), "$0\r\n\r\n");
            let two = c.cmd_text(conn, &["INFO", "KEYSPACE", "server"]);
            let titles: Vec<&str> = two.split("\r\n").filter(|l| l.starts_with('#')).collect();
            assert_eq!(titles, ["# Server", "# Keyspace"]);
            assert!(
                two.ends_with("# Keyspace\r\n\r\n"),
                "sections end in one CRLF: {two}"
            );
            let keyspace = c.cmd_text(conn, &["INFO", "keyspace"]);
            assert_eq!(keyspace, "$12\r\n# Keyspace\r\n\r\n");
            let all = c.cmd_text(conn, &["INFO", "all"]);
            let default = c.cmd_text(conn, &["INFO", "default", "everything", "cpu"]);
            let count = |s: &str| s.matches("\r\n# ").count();
            assert_eq!(count(&all), count(&default));
            assert_eq!(count(&all), Section::ALL.len());
        }
    }

    #[test]
    fn keyspace_and_stats_sum_every_thread() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conns: Vec<_> = (0..threads).map(|t| c.connect(t)).collect();
            for i in 0..20 {
                let key = format!("key{i}");
                c.cmd(conns[i % conns.len()], &["SET", &key, "v"]);
            }
            c.cmd(conns[0], &["SET", "ttl", "v", "PX", "1000"]);
            c.cmd(conns[0], &["GET", "key1"]);
            c.cmd(conns[0], &["GET", "missing"]);
            let info = c.cmd_text(conns[0], &["INFO"]);
            assert!(
                info.contains("\r\ndb0:keys=21,expires=1,avg_ttl=0\r\n"),
                "{info}"
            );
            assert_eq!(field(&info, "connected_clients"), threads.to_string());
            assert_eq!(
                field(&info, "total_connections_received"),
                threads.to_string()
            );
            assert_eq!(field(&info, "total_commands_processed"), "24");
            assert_eq!(field(&info, "keyspace_hits"), "1");
            assert_eq!(field(&info, "keyspace_misses"), "1");
            c.advance_ms(2_000);
            let info = c.cmd_text(conns[0], &["INFO"]);
            assert!(
                info.contains("\r\ndb0:keys=20,expires=0,avg_ttl=0\r\n"),
                "{info}"
            );
            assert_eq!(field(&info, "expired_keys"), "1");
            assert_eq!(field(&info, "uptime_in_seconds"), "2");
        }
    }

    #[test]
    fn used_memory_counts_keys_and_values() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let empty = c.cmd_text(conn, &["INFO", "memory"]);
            assert_eq!(field(&empty, "used_memory"), "0");
            assert_eq!(field(&empty, "used_memory_human"), "0B");
            c.cmd(conn, &["SET", "k1", &"x".repeat(2000)]);
            c.cmd(conn, &["SET", "k2", "12345"]);
            let info = c.cmd_text(conn, &["INFO", "memory"]);
            let expected: usize = (0..threads)
                .map(|t| c.node(t).shard().used_memory_bytes())
                .sum();
            assert!(expected > 2000, "the 2000-byte value is counted");
            assert_eq!(field(&info, "used_memory"), expected.to_string());
            assert_eq!(field(&info, "maxmemory_policy"), "noeviction");
        }
    }

    #[test]
    fn bytes_to_human_matches_redis() {
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1043112), "1018.66K");
        assert_eq!(bytes_to_human(7282688), "6.95M");
        assert_eq!(bytes_to_human(25276502016), "23.54G");
    }
}
