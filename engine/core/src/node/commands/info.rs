//! INFO: the sections tools parse, with Redis 7.0's field names and order. Each thread reports
//! its `ThreadStats` (connections, counters, keyspace sizes, an estimate of data bytes); the
//! coordinator adds them up and formats the text.
//!
//! Sections: server, clients, memory, persistence, stats, replication, cpu, modules (empty),
//! commandstats, errorstats, latencystats, cluster and keyspace. `all` and `everything`
//! select all of them; no argument and `default` leave out commandstats and latencystats, as
//! Redis does. Unknown section names select nothing, so `INFO nosuch` is an empty string.
//! Commandstats, errorstats and latencystats come from each thread's `observe::Observed`,
//! summed here; their rows are in name order (Redis prints its hash table's order).
//!
//! What the engine cannot know it reports as a fixed value: CPU times are 0 (no OS queries in
//! the engine); replication, fork, defrag and tracking counters are 0 (none of those exist).
//! The instantaneous rates are the threads' sampled rates (`observe::Rates`) added up.
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
use crate::cmd::StatSlot;
use crate::conn::Conn;
use crate::cx::{Cx, ThreadId};
use crate::hop::NodeResult;
use crate::node::observe::CommandStat;
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
    /// Commands and errors this thread counted.
    pub observed: crate::node::observe::Observed,
    /// (ops, input bytes, output bytes) per second, sampled on this thread.
    pub rates: (u64, u64, u64),
    /// The append-only file, from the thread that writes it (thread 0).
    pub aof: Option<AofStats>,
}

/// INFO persistence's append-only file figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct AofStats {
    pub last_write_ok: bool,
    pub current_size_bytes: u64,
    /// Disk operations asked and not yet answered (Redis's aof_pending_bio_fsync is 0 or 1).
    pub pending_ops: u64,
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
    Commandstats,
    Errorstats,
    Latencystats,
    Cluster,
    Keyspace,
}

impl Section {
    const ALL: [Section; 13] = [
        Section::Server,
        Section::Clients,
        Section::Memory,
        Section::Persistence,
        Section::Stats,
        Section::Replication,
        Section::Cpu,
        Section::Modules,
        Section::Commandstats,
        Section::Errorstats,
        Section::Latencystats,
        Section::Cluster,
        Section::Keyspace,
    ];

    /// What `INFO` alone and `INFO default` print: all but the per-command sections.
    fn is_default(self) -> bool {
        !matches!(self, Section::Commandstats | Section::Latencystats)
    }

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
            Section::Commandstats => "commandstats",
            Section::Errorstats => "errorstats",
            Section::Latencystats => "latencystats",
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
            Section::Commandstats => "Commandstats",
            Section::Errorstats => "Errorstats",
            Section::Latencystats => "Latencystats",
            Section::Cluster => "Cluster",
            Section::Keyspace => "Keyspace",
        }
    }
}

/// The sections `INFO [section…]` asks for, in Redis's order.
fn requested_sections(argv: &Argv) -> Vec<Section> {
    let default = Section::ALL.into_iter().filter(|s| s.is_default());
    if argv.len() == 1 {
        return default.collect();
    }
    let mut wanted: Vec<Section> = Vec::new();
    for arg in argv.iter().skip(1) {
        let lower = arg.to_ascii_lowercase();
        if matches!(lower.as_slice(), b"all" | b"everything") {
            wanted.extend(Section::ALL);
        } else if lower == b"default" {
            wanted.extend(default.clone());
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
        observed: node.observed.clone(),
        rates: (
            node.rates.ops.per_sec(),
            node.rates.input_bytes.per_sec(),
            node.rates.output_bytes.per_sec(),
        ),
        aof: node.aof.as_ref().map(|aof| AofStats {
            last_write_ok: aof.last_write_ok,
            current_size_bytes: aof.current_size_bytes,
            pending_ops: aof.in_flight(),
        }),
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
    /// Every thread's command figures, by slot.
    commands: std::collections::BTreeMap<StatSlot, CommandStat>,
    errors: std::collections::BTreeMap<Vec<u8>, u64>,
    error_replies: u64,
    rates: (u64, u64, u64),
    aof: Option<AofStats>,
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
        t.aof = t.aof.or(s.aof);
        t.tx.refused += s.tx.refused;
        t.tx.out_of_order += s.tx.out_of_order;
        t.counters.connections_received += s.counters.connections_received;
        t.counters.commands_processed += s.counters.commands_processed;
        t.counters.rejected_connections += s.counters.rejected_connections;
        t.counters.net_input_bytes += s.counters.net_input_bytes;
        t.counters.net_output_bytes += s.counters.net_output_bytes;
        t.counters.hops_sent += s.counters.hops_sent;
        t.counters.reads_processed += s.counters.reads_processed;
        t.counters.writes_processed += s.counters.writes_processed;
        for (slot, stat) in s.observed.commands() {
            t.commands.entry(slot).or_default().add(&stat);
        }
        for (code, count) in &s.observed.errors {
            *t.errors.entry(code.clone()).or_default() += count;
        }
        t.error_replies += s.observed.error_replies;
        t.rates.0 += s.rates.0;
        t.rates.1 += s.rates.1;
        t.rates.2 += s.rates.2;
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
        Section::Commandstats => commandstats_section(node, t, out),
        Section::Errorstats => {
            for (code, count) in &t.errors {
                let code = String::from_utf8_lossy(code);
                let _ = write!(out, "errorstat_{code}:count={count}\r\n");
            }
        }
        Section::Latencystats => latencystats_section(node, t, out),
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
        ("aof_rewrite_scheduled", "0".into()),
        ("aof_last_rewrite_time_sec", "-1".into()),
        ("aof_current_rewrite_time_sec", "-1".into()),
        ("aof_last_bgrewrite_status", "ok".into()),
        ("aof_rewrites", "0".into()),
        ("aof_rewrites_consecutive_failures", "0".into()),
        (
            "aof_last_write_status",
            if t.aof.is_none_or(|a| a.last_write_ok) {
                "ok"
            } else {
                "err"
            }
            .into(),
        ),
        ("aof_last_cow_size", "0".into()),
        ("module_fork_in_progress", "0".into()),
        ("module_fork_last_cow_size", "0".into()),
    ];
    push_fields(out, &fields);
    if let Some(aof) = t.aof.filter(|_| node.config.appendonly) {
        let fields = [
            ("aof_current_size", aof.current_size_bytes.to_string()),
            ("aof_base_size", "0".to_string()),
            ("aof_pending_rewrite", "0".into()),
            ("aof_buffer_length", "0".into()),
            (
                "aof_pending_bio_fsync",
                u8::from(aof.pending_ops > 0).to_string(),
            ),
            ("aof_delayed_fsync", "0".into()),
        ];
        push_fields(out, &fields);
    }
}

fn stats_section(t: &Totals, out: &mut String) {
    let c = &t.counters;
    let zero = || "0".to_string();
    let kbps = |bytes_per_sec: u64| format!("{:.2}", bytes_per_sec as f64 / 1024.0);
    let fields = [
        (
            "total_connections_received",
            c.connections_received.to_string(),
        ),
        ("total_commands_processed", c.commands_processed.to_string()),
        ("instantaneous_ops_per_sec", t.rates.0.to_string()),
        ("total_net_input_bytes", c.net_input_bytes.to_string()),
        ("total_net_output_bytes", c.net_output_bytes.to_string()),
        ("total_net_repl_input_bytes", zero()),
        ("total_net_repl_output_bytes", zero()),
        ("instantaneous_input_kbps", kbps(t.rates.1)),
        ("instantaneous_output_kbps", kbps(t.rates.2)),
        ("instantaneous_input_repl_kbps", kbps(0)),
        ("instantaneous_output_repl_kbps", kbps(0)),
        ("rejected_connections", c.rejected_connections.to_string()),
        ("sync_full", zero()),
        ("sync_partial_ok", zero()),
        ("sync_partial_err", zero()),
        ("expired_keys", t.shard.expired_keys.to_string()),
        ("expired_stale_perc", "0.00".into()),
        ("expired_time_cap_reached_count", zero()),
        ("expire_cycle_cpu_milliseconds", zero()),
        ("evicted_keys", t.shard.evicted_keys.to_string()),
        ("evicted_clients", zero()),
        ("total_eviction_exceeded_time", zero()),
        ("current_eviction_exceeded_time", zero()),
        ("keyspace_hits", t.shard.keyspace_hits.to_string()),
        ("keyspace_misses", t.shard.keyspace_misses.to_string()),
        ("pubsub_channels", t.pubsub_names[0].len().to_string()),
        ("pubsub_patterns", t.pubsub_names[1].len().to_string()),
        ("pubsubshard_channels", t.pubsub_names[2].len().to_string()),
        ("latest_fork_usec", zero()),
        ("total_forks", zero()),
        ("migrate_cached_sockets", zero()),
        ("slave_expires_tracked_keys", zero()),
        ("active_defrag_hits", zero()),
        ("active_defrag_misses", zero()),
        ("active_defrag_key_hits", zero()),
        ("active_defrag_key_misses", zero()),
        ("total_active_defrag_time", zero()),
        ("current_active_defrag_time", zero()),
        ("tracking_total_keys", zero()),
        ("tracking_total_items", zero()),
        ("tracking_total_prefixes", zero()),
        ("unexpected_error_replies", zero()),
        ("total_error_replies", t.error_replies.to_string()),
        ("dump_payload_sanitizations", zero()),
        ("total_reads_processed", c.reads_processed.to_string()),
        ("total_writes_processed", c.writes_processed.to_string()),
        ("io_threaded_reads_processed", zero()),
        ("io_threaded_writes_processed", zero()),
        ("reply_buffer_shrinks", zero()),
        ("reply_buffer_expands", zero()),
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

/// `cmdstat_<name>:calls=…,usec=…,usec_per_call=…,rejected_calls=…,failed_calls=…`, Redis's
/// line for each command with any call, rejection or failure.
fn commandstats_section(node: &Node, t: &Totals, out: &mut String) {
    for (name, stat) in named_rows(node, t) {
        let per_call = if stat.calls == 0 {
            0.0
        } else {
            stat.usec as f64 / stat.calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},\
             failed_calls={}\r\n",
            stat.calls, stat.usec, stat.rejected_calls, stat.failed_calls
        );
    }
}

/// `latency_percentiles_usec_<name>:p50=…,p99=…,p99.9=…` for each command with sampled calls.
fn latencystats_section(node: &Node, t: &Totals, out: &mut String) {
    let percentiles = crate::config::percentiles(&node.config.latency_tracking_info_percentiles);
    for (name, stat) in named_rows(node, t) {
        let Some(histogram) = &stat.latency else {
            continue;
        };
        let shown: Vec<String> = percentiles
            .iter()
            .map(|&p| {
                let value_us = histogram.value_at_percentile_ns(p) as f64 / 1000.0;
                format!("p{}={value_us:.3}", crate::config::percentile_name(p))
            })
            .collect();
        let _ = write!(
            out,
            "latency_percentiles_usec_{name}:{}\r\n",
            shown.join(",")
        );
    }
}

/// The rows of the commands with figures, by name.
fn named_rows<'t>(node: &Node, t: &'t Totals) -> Vec<(&'static str, &'t CommandStat)> {
    let slots = node.table.slots();
    let mut rows: Vec<(&'static str, &CommandStat)> = t
        .commands
        .iter()
        .map(|(slot, stat)| (slots[slot.0 as usize].name, stat))
        .collect();
    rows.sort_by_key(|(name, _)| *name);
    rows
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
            let mixed = c.cmd_text(conn, &["INFO", "default", "everything", "cpu"]);
            let default = c.cmd_text(conn, &["INFO", "default"]);
            let count = |s: &str| s.matches("\r\n# ").count();
            assert_eq!(count(&all), count(&mixed));
            assert_eq!(count(&all), Section::ALL.len());
            assert_eq!(count(&default), Section::ALL.len() - 2);
            assert!(!default.contains("# Commandstats") && !default.contains("# Latencystats"));
            assert!(default.contains("# Errorstats"));
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

    /// The lines of one INFO section, without its title.
    fn section_lines(c: &mut TestCluster, conn: crate::cx::ConnId, name: &str) -> Vec<String> {
        let text = c.cmd_text(conn, &["INFO", name]);
        text.split("\r\n")
            .skip(1)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    }

    fn stat_line<'l>(lines: &'l [String], name: &str) -> &'l str {
        let prefix = format!("cmdstat_{name}:");
        lines
            .iter()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{name} in {lines:?}"))
    }

    #[test]
    fn commandstats_count_calls_rejections_and_failures_from_every_thread() {
        for threads in THREADS {
            let mut c = TestCluster::new(threads);
            let conns: Vec<_> = (0..threads).map(|t| c.connect(t)).collect();
            for i in 0..6 {
                let key = format!("key{i}");
                c.cmd(conns[i % conns.len()], &["SET", &key, "v"]);
            }
            // Keys on every shard: some of these errors come back from another thread.
            for i in 0..3 {
                let key = format!("key{i}");
                let reply = c.cmd_text(conns[0], &["LPUSH", &key, "x"]);
                assert!(reply.starts_with("-WRONGTYPE"), "{reply}");
            }
            c.cmd(conns[0], &["GET"]);
            c.cmd(conns[0], &["NOSUCH", "a"]);
            c.cmd(conns[0], &["CLIENT", "NOSUCH"]);
            c.cmd(conns[0], &["CLIENT", "GETNAME"]);
            let lines = section_lines(&mut c, conns[0], "commandstats");
            let set = stat_line(&lines, "set");
            assert!(set.starts_with("cmdstat_set:calls=6,usec="), "{set}");
            assert!(set.ends_with(",rejected_calls=0,failed_calls=0"), "{set}");
            let lpush = stat_line(&lines, "lpush");
            assert!(
                lpush.ends_with("rejected_calls=0,failed_calls=3"),
                "{lpush}"
            );
            assert_eq!(
                stat_line(&lines, "get"),
                "cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0"
            );
            assert!(
                stat_line(&lines, "client|getname").starts_with("cmdstat_client|getname:calls=1,")
            );
            assert!(!lines.iter().any(|l| l.contains("nosuch")), "{lines:?}");
            let names: Vec<&str> = lines.iter().map(|l| l.split(':').next().unwrap()).collect();
            let mut sorted = names.clone();
            sorted.sort();
            assert_eq!(names, sorted, "rows in name order");
            assert_eq!(
                section_lines(&mut c, conns[0], "errorstats"),
                ["errorstat_ERR:count=3", "errorstat_WRONGTYPE:count=3"]
            );
            let stats = c.cmd_text(conns[0], &["INFO", "stats"]);
            assert_eq!(field(&stats, "total_error_replies"), "6");
        }
    }

    #[test]
    fn exec_counts_its_queued_commands_and_their_errors() {
        let mut c = TestCluster::new(2);
        let conn = c.connect(0);
        c.cmd(conn, &["SET", "s", "v"]);
        c.cmd(conn, &["MULTI"]);
        c.cmd(conn, &["INCR", "n"]);
        c.cmd(conn, &["LPUSH", "s", "x"]);
        let exec = c.cmd_text(conn, &["EXEC"]);
        assert!(exec.contains("-WRONGTYPE"), "{exec}");
        c.cmd(conn, &["MULTI"]);
        c.cmd(conn, &["GET"]);
        let aborted = c.cmd_text(conn, &["EXEC"]);
        assert!(aborted.starts_with("-EXECABORT"), "{aborted}");
        let lines = section_lines(&mut c, conn, "commandstats");
        assert!(stat_line(&lines, "incr").starts_with("cmdstat_incr:calls=1,"));
        assert!(stat_line(&lines, "lpush").ends_with("failed_calls=1"));
        assert!(stat_line(&lines, "exec").starts_with("cmdstat_exec:calls=2,"));
        assert!(stat_line(&lines, "exec").ends_with("rejected_calls=0,failed_calls=1"));
        assert!(stat_line(&lines, "get").ends_with("rejected_calls=1,failed_calls=0"));
        assert_eq!(
            section_lines(&mut c, conn, "errorstats"),
            [
                "errorstat_ERR:count=1",
                "errorstat_EXECABORT:count=1",
                "errorstat_WRONGTYPE:count=1"
            ]
        );
    }

    #[test]
    fn latencystats_follow_the_configured_percentiles() {
        let mut c = TestCluster::new(2);
        let conn = c.connect(0);
        c.cmd(conn, &["SET", "a", "1"]);
        let lines = section_lines(&mut c, conn, "latencystats");
        // The test cluster has no stopwatch: every call takes 0 µs, counted as 1 ns.
        assert!(
            lines.contains(&"latency_percentiles_usec_set:p50=0.001,p99=0.001,p99.9=0.001".into()),
            "{lines:?}"
        );
        let set = c.cmd_text(
            conn,
            &[
                "CONFIG",
                "SET",
                "latency-tracking-info-percentiles",
                "0 2.50 100",
            ],
        );
        assert_eq!(set, "+OK\r\n");
        let get = c.cmd_text(
            conn,
            &["CONFIG", "GET", "latency-tracking-info-percentiles"],
        );
        assert!(get.contains("0 2.5 100"), "{get}");
        let lines = section_lines(&mut c, conn, "latencystats");
        assert!(
            lines.contains(&"latency_percentiles_usec_set:p0=0.001,p2.5=0.001,p100=0.001".into()),
            "{lines:?}"
        );
        for bad in ["101", "-1", "abc", "nan"] {
            let reply = c.cmd_text(
                conn,
                &["CONFIG", "SET", "latency-tracking-info-percentiles", bad],
            );
            assert!(
                reply.starts_with("-ERR CONFIG SET failed"),
                "{bad}: {reply}"
            );
        }
        c.cmd(conn, &["CONFIG", "SET", "latency-tracking", "no"]);
        c.cmd(conn, &["CONFIG", "RESETSTAT"]);
        c.cmd(conn, &["SET", "a", "1"]);
        assert_eq!(
            section_lines(&mut c, conn, "latencystats"),
            Vec::<String>::new()
        );
        let lines = section_lines(&mut c, conn, "commandstats");
        assert!(stat_line(&lines, "set").starts_with("cmdstat_set:calls=1,"));
    }

    #[test]
    fn resetstat_clears_every_threads_figures() {
        let mut c = TestCluster::new(2);
        let conns = [c.connect(0), c.connect(1)];
        for conn in conns {
            c.cmd(conn, &["SET", "a", "1"]);
            c.cmd(conn, &["GET"]);
        }
        c.cmd(conns[0], &["CONFIG", "RESETSTAT"]);
        let lines = section_lines(&mut c, conns[1], "commandstats");
        assert!(
            !lines.iter().any(|l| l.starts_with("cmdstat_set:")),
            "{lines:?}"
        );
        assert_eq!(
            section_lines(&mut c, conns[1], "errorstats"),
            Vec::<String>::new()
        );
        let stats = c.cmd_text(conns[1], &["INFO", "stats"]);
        assert_eq!(field(&stats, "total_error_replies"), "0");
    }

    #[test]
    fn instantaneous_ops_follow_the_sampled_rate() {
        let mut c = TestCluster::new(2);
        let conn = c.connect(0);
        for _ in 0..20 {
            for _ in 0..10 {
                c.cmd(conn, &["PING"]);
            }
            c.advance_ms(100);
        }
        let stats = c.cmd_text(conn, &["INFO", "stats"]);
        // 10 commands per 100 ms on one thread; the other thread sampled none.
        assert_eq!(field(&stats, "instantaneous_ops_per_sec"), "100");
        assert_ne!(field(&stats, "instantaneous_input_kbps"), "0.00");
    }

    #[test]
    fn bytes_to_human_matches_redis() {
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1043112), "1018.66K");
        assert_eq!(bytes_to_human(7282688), "6.95M");
        assert_eq!(bytes_to_human(25276502016), "23.54G");
    }
}
