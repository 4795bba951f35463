//! The append-only file, in Redis 7's multi-part layout: under `dir/appenddirname`, a base file
//! (an RDB), incremental files of RESP commands, and a manifest naming them in order
//! (`file appendonly.aof.1.base.rdb seq 1 type b`). Redis 7.0 reads ours and we read its.
//!
//! Thread 0 owns it: the journal's writer (`node::journal`) joins every shard's records, and
//! each step's bytes are appended to the current incremental file as one write. `appendfsync`
//! decides when they are made durable: `everysec` on a one-second timer, `no` never (the
//! operating system writes them back), `always` after every write, before the replies of the
//! commands that made them leave (see `DurabilityGate`).
//!
//! At start, thread 0 takes the manifest the driver loaded (`Config::aof_manifest_found`; the
//! server replayed its files before serving, `engine/server/src/aof_load.rs`) and appends go
//! on in its last incremental file;
//! otherwise it writes an empty base, a new incremental file and the manifest, as Redis 7.0
//! does when started with `appendonly yes` and no file.

use crate::config::AppendFsync;
use crate::cx::{Cx, DiskOp, DiskOutcome, Effect, FileId, LogLevel, Timer};
use crate::node::Node;
use crate::rdb;

/// File ids of the append-only file's operations: far above the save jobs' (`persist`).
const DIR: FileId = FileId((1 << 62) + 1);
const BASE: FileId = FileId((1 << 62) + 2);
const INCR: FileId = FileId((1 << 62) + 3);
const MANIFEST_WRITE: FileId = FileId((1 << 62) + 4);

/// How often `everysec` fsyncs.
pub const FSYNC_INTERVAL_US: u64 = 1_000_000;

/// Whether `file` is one of the append-only file's.
pub fn owns(file: FileId) -> bool {
    (DIR.0..=MANIFEST_WRITE.0).contains(&file.0)
}

/// One file the manifest names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestFile {
    pub name: String,
    pub seq: u64,
    /// `b` base, `i` incremental (`h` history files are not loaded).
    pub kind: u8,
}

/// Parses a Redis 7 manifest: one `file <name> seq <n> type <b|h|i>` line per file.
pub fn parse_manifest(text: &[u8]) -> Result<Vec<ManifestFile>, String> {
    let text = std::str::from_utf8(text).map_err(|_| "the manifest is not text".to_string())?;
    let mut files = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
        let field = |name: &str| {
            words
                .chunks(2)
                .find(|pair| pair[0] == name && pair.len() == 2)
                .map(|pair| pair[1])
        };
        let (Some(name), Some(seq), Some(kind)) = (field("file"), field("seq"), field("type"))
        else {
            return Err(format!("invalid AOF manifest line: {line}"));
        };
        let seq = seq
            .parse()
            .map_err(|_| format!("invalid AOF manifest line: {line}"))?;
        let kind = match kind {
            "b" | "h" | "i" => kind.as_bytes()[0],
            _ => return Err(format!("invalid AOF manifest line: {line}")),
        };
        if name.contains('/') {
            return Err(format!("invalid AOF file name in the manifest: {name}"));
        }
        files.push(ManifestFile {
            name: name.to_string(),
            seq,
            kind,
        });
    }
    if files.iter().filter(|f| f.kind == b'b').count() > 1 {
        return Err("the AOF manifest names more than one base file".into());
    }
    Ok(files)
}

/// The manifest's text for these files, as Redis writes it.
pub fn manifest_text(files: &[ManifestFile]) -> String {
    files
        .iter()
        .map(|f| format!("file {} seq {} type {}\n", f.name, f.seq, f.kind as char))
        .collect()
}

/// The files to replay, in order: the base, then the incremental files.
pub fn files_to_load(files: &[ManifestFile]) -> Vec<&ManifestFile> {
    let base = files.iter().filter(|f| f.kind == b'b');
    let incr = files.iter().filter(|f| f.kind == b'i');
    base.chain(incr).collect()
}

/// The append-only file's state on thread 0.
#[derive(Debug)]
pub struct Aof {
    dir_path: String,
    /// The incremental file appends go to, once known.
    incr_open: bool,
    /// Bytes waiting for the incremental file to be opened, and the journal ticket they reach.
    waiting: Vec<u8>,
    waiting_ticket: u64,
    /// Appended since the last fsync was asked.
    unsynced: bool,
    /// The incremental file's operations not yet answered, in order: `Some(ticket)` for an
    /// fsync that makes every append before it durable, and with them the journal's batches up
    /// to `ticket`; `None` for an append (or the open).
    incr_ops: std::collections::VecDeque<Option<u64>>,
    /// The journal ticket the bytes appended so far reach.
    appended_ticket: u64,
    /// The highest ticket made durable and told to the threads.
    published_ticket: u64,
    /// Disk operations not yet answered.
    in_flight: u64,
    pub last_write_ok: bool,
    /// Bytes appended to the incremental files since the start.
    pub current_size_bytes: u64,
}

impl Aof {
    fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.dir_path)
    }
}

/// Thread 0, at start with `appendonly yes`: find the manifest.
pub fn start(node: &mut Node, cx: &mut Cx) {
    let dir_path = format!("{}/{}", node.config.dir, node.config.appenddirname);
    node.aof = Some(Aof {
        dir_path,
        incr_open: false,
        waiting: Vec::new(),
        waiting_ticket: 0,
        unsynced: false,
        incr_ops: Default::default(),
        appended_ticket: 0,
        published_ticket: 0,
        in_flight: 0,
        last_write_ok: true,
        current_size_bytes: 0,
    });
    // The files are chosen before the first command runs, so no write waits for them.
    let found = node.config.aof_manifest_found.clone();
    let now_ms = cx.wall_ms();
    on_manifest(node, found, now_ms, cx);
    if node.config.appendfsync == AppendFsync::EverySec {
        cx.push(Effect::ArmTimer {
            timer: Timer::AofFsync,
            at_mono_us: cx.now_mono_us() + FSYNC_INTERVAL_US,
        });
    }
}

fn disk(cx: &mut Cx, aof: &mut Aof, file: FileId, op: DiskOp) {
    aof.in_flight += 1;
    cx.push(Effect::Disk { file, op });
}

/// The manifest's answer: go on in its last incremental file, or lay out a new set.
fn on_manifest(node: &mut Node, found: Option<Vec<u8>>, now_ms: u64, cx: &mut Cx) {
    let name = node.config.appendfilename.clone();
    let used_mem = node.shard.used_memory_bytes().to_string();
    let Some(aof) = node.aof.as_mut() else {
        return;
    };
    let existing = found
        .map(|bytes| parse_manifest(&bytes).unwrap_or_default())
        .unwrap_or_default();
    if let Some(last) = existing.iter().rev().find(|f| f.kind == b'i') {
        let path = aof.path(&last.name);
        aof.incr_ops.push_back(None);
        disk(cx, aof, INCR, DiskOp::OpenAppend { path });
        open_incr(node, cx);
        return;
    }
    // No file yet: an empty base, an empty incremental file, then the manifest naming both.
    let seq = existing.iter().map(|f| f.seq).max().unwrap_or(0) + 1;
    let base = ManifestFile {
        name: format!("{name}.{seq}.base.rdb"),
        seq,
        kind: b'b',
    };
    let incr = ManifestFile {
        name: format!("{name}.{seq}.incr.aof"),
        seq,
        kind: b'i',
    };
    let dir = aof.dir_path.clone();
    disk(cx, aof, DIR, DiskOp::CreateDir { path: dir });
    let temp_base = aof.path(&format!("temp-{}", base.name));
    let final_base = aof.path(&base.name);
    for op in [
        DiskOp::Create { path: temp_base },
        DiskOp::Append {
            bytes: empty_base(now_ms, &used_mem),
        },
        DiskOp::Sync,
        DiskOp::CloseAndRename { to: final_base },
    ] {
        disk(cx, aof, BASE, op);
    }
    let incr_path = aof.path(&incr.name);
    aof.incr_ops.push_back(None);
    disk(cx, aof, INCR, DiskOp::Create { path: incr_path });
    let temp_manifest = aof.path(&format!("temp-{name}.manifest"));
    let final_manifest = aof.path(&format!("{name}.manifest"));
    for op in [
        DiskOp::Create {
            path: temp_manifest,
        },
        DiskOp::Append {
            bytes: manifest_text(&[base, incr]).into_bytes(),
        },
        DiskOp::Sync,
        DiskOp::CloseAndRename { to: final_manifest },
    ] {
        disk(cx, aof, MANIFEST_WRITE, op);
    }
    open_incr(node, cx);
}

/// The incremental file's open is asked: what waited goes after it.
fn open_incr(node: &mut Node, cx: &mut Cx) {
    let Some(aof) = node.aof.as_mut() else {
        return;
    };
    aof.incr_open = true;
    let waiting = std::mem::take(&mut aof.waiting);
    let ticket = aof.waiting_ticket;
    append(node, waiting, ticket, cx);
}

/// An RDB with no keys, marked as an AOF base as Redis marks it (`aof-base` 1).
fn empty_base(now_ms: u64, used_mem: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let ctime = (now_ms / 1000).to_string();
    rdb::write_header(
        &mut out,
        &[
            (
                "redis-ver",
                crate::cmd::family::server::REDIS_VERSION_COMPAT.as_bytes(),
            ),
            ("redis-bits", b"64"),
            ("ctime", ctime.as_bytes()),
            ("used-mem", used_mem.as_bytes()),
            ("aof-base", b"1"),
        ],
    );
    let mut crc = rdb::Crc64::new();
    crc.update(&out);
    rdb::write_eof(&mut out, crc.value());
    out
}

/// Appends the journal's new bytes, which bring the file up to journal ticket `ticket`;
/// under `always`, fsyncs them in the same breath (one fsync for the whole step's writes).
pub fn append(node: &mut Node, bytes: Vec<u8>, ticket: u64, cx: &mut Cx) {
    let fsync = node.config.appendfsync;
    let Some(aof) = node.aof.as_mut() else {
        return;
    };
    if !aof.incr_open {
        aof.waiting.extend_from_slice(&bytes);
        aof.waiting_ticket = aof.waiting_ticket.max(ticket);
        return;
    }
    aof.appended_ticket = aof.appended_ticket.max(ticket);
    if bytes.is_empty() {
        // Batches that wrote nothing (a transaction's empty part) are durable once what came
        // before them is.
        if ticket > aof.published_ticket && fsync == AppendFsync::Always {
            if aof.incr_ops.is_empty() && !aof.unsynced {
                publish(node, ticket, cx);
            } else {
                aof.unsynced = true;
                if !aof.sync_in_flight() {
                    sync(aof, cx);
                }
            }
        }
        return;
    }
    aof.current_size_bytes += bytes.len() as u64;
    aof.incr_ops.push_back(None);
    disk(cx, aof, INCR, DiskOp::Append { bytes });
    aof.unsynced = true;
    // One fsync at a time: what is appended while one runs waits for the next, which then
    // covers every step's writes since (the group commit).
    if fsync == AppendFsync::Always && !aof.sync_in_flight() {
        sync(aof, cx);
    }
}

fn sync(aof: &mut Aof, cx: &mut Cx) {
    if !aof.unsynced {
        return;
    }
    aof.unsynced = false;
    aof.incr_ops.push_back(Some(aof.appended_ticket));
    disk(cx, aof, INCR, DiskOp::Sync);
}

/// `everysec`'s tick.
pub fn on_fsync_timer(node: &mut Node, cx: &mut Cx) {
    let fsync = node.config.appendfsync;
    if let Some(aof) = node.aof.as_mut() {
        if fsync == AppendFsync::EverySec && !aof.sync_in_flight() {
            sync(aof, cx);
        }
    }
    if node.aof.is_some() {
        cx.push(Effect::ArmTimer {
            timer: Timer::AofFsync,
            at_mono_us: cx.now_mono_us() + FSYNC_INTERVAL_US,
        });
    }
}

/// A disk operation of the append-only file finished.
pub fn on_disk_done(
    node: &mut Node,
    file: FileId,
    result: Result<DiskOutcome, String>,
    cx: &mut Cx,
) {
    let Some(aof) = node.aof.as_mut() else {
        return;
    };
    aof.in_flight = aof.in_flight.saturating_sub(1);
    // The incremental file's operations answer in the order asked, its open first.
    let incr_op = if file == INCR {
        aof.incr_ops.pop_front().flatten()
    } else {
        None
    };
    match result {
        Err(_) => {
            if aof.last_write_ok {
                cx.push(Effect::Log {
                    level: LogLevel::Warning,
                    text: "Error writing to the AOF file",
                });
            }
            aof.last_write_ok = false;
        }
        Ok(_) => {
            if let Some(ticket) = incr_op {
                // What was appended meanwhile goes in the next fsync, at once.
                if node.config.appendfsync == AppendFsync::Always && !aof.sync_in_flight() {
                    sync(aof, cx);
                }
                if ticket > aof.published_ticket {
                    publish(node, ticket, cx);
                }
            }
        }
    }
}

/// Journal batches up to `ticket` are durable: every thread's held replies may go.
fn publish(node: &mut Node, ticket: u64, cx: &mut Cx) {
    if let Some(aof) = node.aof.as_mut() {
        aof.published_ticket = aof.published_ticket.max(ticket);
    }
    for t in 0..node.threads {
        let to = crate::cx::ThreadId(t);
        if to == node.thread {
            node.gate.durable(ticket, cx);
        } else {
            cx.send(to, crate::cx::Msg::JournalDurable { ticket });
        }
    }
}

impl Aof {
    fn sync_in_flight(&self) -> bool {
        self.incr_ops.iter().any(Option::is_some)
    }

    /// Disk operations still unanswered (tests wait for 0).
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::node::replay::Replayer;
    use crate::testkit::TestCluster;

    fn aof_config(fsync: AppendFsync) -> Config {
        Config {
            appendonly: true,
            appendfsync: fsync,
            ..Config::default()
        }
    }

    /// Replays the files the manifest names, as a restart would, and deals the keys out to a
    /// fresh one-thread cluster; returns its DEBUG DIGEST.
    fn restart_digest(disk: &crate::node::memdisk::MemDisk, now_ms: u64) -> String {
        let manifest = disk
            .contents("./appendonlydir/appendonly.aof.manifest")
            .expect("a manifest");
        let files = parse_manifest(manifest).unwrap();
        let mut replayer = Replayer::new(Config::default(), 7);
        for f in files_to_load(&files) {
            let bytes = disk
                .contents(&format!("./appendonlydir/{}", f.name))
                .expect("a named file");
            if f.kind == b'b' {
                assert!(bytes.starts_with(b"REDIS"), "the base is an RDB");
                continue;
            }
            let report = replayer.replay(bytes).unwrap();
            assert_eq!(report.torn_bytes, 0);
        }
        let (dealt, _) = replayer.finish(1, now_ms);
        let mut fresh = TestCluster::new(1);
        fresh.advance_ms(now_ms - fresh.wall_ms());
        let conn = fresh.connect(0);
        for (db, entry) in dealt.into_iter().flatten() {
            fresh.preload(0, db, entry);
        }
        fresh.cmd_text(conn, &["DEBUG", "DIGEST"])
    }

    #[test]
    fn a_fresh_start_lays_out_base_incr_and_manifest() {
        let mut c = TestCluster::with_config(2, aof_config(AppendFsync::EverySec));
        let conn = c.connect(0);
        c.cmd_text(conn, &["SET", "a", "1"]);
        let manifest = c
            .disk
            .contents("./appendonlydir/appendonly.aof.manifest")
            .map(|m| String::from_utf8_lossy(m).into_owned());
        assert_eq!(
            manifest.as_deref(),
            Some(
                "file appendonly.aof.1.base.rdb seq 1 type b\n\
                 file appendonly.aof.1.incr.aof seq 1 type i\n"
            )
        );
        let base = c.disk.contents("./appendonlydir/appendonly.aof.1.base.rdb");
        assert!(base.is_some_and(|b| b.starts_with(b"REDIS0010")));
        let incr = c.disk.contents("./appendonlydir/appendonly.aof.1.incr.aof");
        let incr = String::from_utf8_lossy(incr.unwrap()).into_owned();
        assert_eq!(
            incr,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
    }

    #[test]
    fn everysec_makes_writes_durable_within_a_second_and_a_restart_replays_them() {
        let mut c = TestCluster::with_config(2, aof_config(AppendFsync::EverySec));
        let conn = c.connect(1);
        for i in 0..20 {
            let key = format!("k{i}");
            c.cmd_text(conn, &["SET", &key, "v", "EX", "1000"]);
            c.cmd_text(conn, &["RPUSH", "list", &key]);
        }
        c.cmd_text(conn, &["MSET", "x", "1", "y", "2", "z", "3"]);
        let expected = c.cmd_text(conn, &["DEBUG", "DIGEST"]);
        // Nothing is durable before the first tick.
        let mut crashed = c.disk.clone();
        crashed.crash();
        let incr = "./appendonlydir/appendonly.aof.1.incr.aof";
        assert_eq!(crashed.contents(incr).map(<[u8]>::len), Some(0));
        c.advance_ms(1000);
        let mut crashed = c.disk.clone();
        crashed.crash();
        assert_eq!(crashed.contents(incr), c.disk.contents(incr));
        assert_eq!(restart_digest(&crashed, c.wall_ms()), expected);
    }

    /// Clients write under `always`, one message at a time; after every step the disk
    /// crashes in a copy and is replayed: every key whose write was acknowledged is there.
    fn acknowledged_writes_survive_a_crash_at_every_step(plants: &[crate::env::Plant]) -> bool {
        let mut c = TestCluster::with_plants(2, aof_config(AppendFsync::Always), plants);
        let conns: Vec<_> = (0..4).map(|i| c.connect(i % 2)).collect();
        for round in 0..6 {
            for (n, conn) in conns.iter().enumerate() {
                let key = format!("k{n}:{round}");
                let frame = format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\nv\r\n", key.len());
                c.queue_bytes(*conn, frame.as_bytes());
            }
        }
        let mut acked: Vec<String> = Vec::new();
        let mut replies = vec![0usize; conns.len()];
        while c.step() {
            for (n, conn) in conns.iter().enumerate() {
                let out = c.take_output(*conn);
                let oks = out.windows(5).filter(|w| w == b"+OK\r\n").count();
                for round in replies[n]..replies[n] + oks {
                    acked.push(format!("k{n}:{round}"));
                }
                replies[n] += oks;
            }
            let mut crashed = c.disk.clone();
            crashed.crash();
            let Some(manifest) = crashed.contents("./appendonlydir/appendonly.aof.manifest") else {
                if !acked.is_empty() {
                    return false;
                }
                continue;
            };
            let files = parse_manifest(manifest).unwrap();
            let mut replayer = Replayer::new(Config::default(), 7);
            for f in files_to_load(&files).iter().filter(|f| f.kind == b'i') {
                let bytes = crashed
                    .contents(&format!("./appendonlydir/{}", f.name))
                    .unwrap_or(&[]);
                replayer.replay(bytes).unwrap();
            }
            let (dealt, _) = replayer.finish(1, c.wall_ms());
            let present: Vec<Vec<u8>> = dealt
                .into_iter()
                .flatten()
                .map(|(_, e)| e.key().to_vec())
                .collect();
            if acked
                .iter()
                .any(|k| !present.contains(&k.as_bytes().to_vec()))
            {
                return false;
            }
        }
        assert_eq!(replies.iter().sum::<usize>(), 24, "every write answered");
        true
    }

    #[test]
    fn under_always_no_acknowledged_write_is_lost_and_the_planted_bug_is_caught() {
        assert!(acknowledged_writes_survive_a_crash_at_every_step(&[]));
        assert!(!acknowledged_writes_survive_a_crash_at_every_step(&[
            crate::env::Plant::AckBeforeFsync
        ]));
    }

    #[test]
    fn always_fsyncs_every_write() {
        let mut c = TestCluster::with_config(2, aof_config(AppendFsync::Always));
        let conn = c.connect(0);
        c.cmd_text(conn, &["SET", "a", "1"]);
        c.cmd_text(conn, &["SADD", "s", "x"]);
        let expected = c.cmd_text(conn, &["DEBUG", "DIGEST"]);
        let mut crashed = c.disk.clone();
        crashed.crash();
        assert_eq!(restart_digest(&crashed, c.wall_ms()), expected);
    }

    #[test]
    fn a_manifest_round_trips_and_lists_the_base_first() {
        let files = vec![
            ManifestFile {
                name: "appendonly.aof.1.base.rdb".into(),
                seq: 1,
                kind: b'b',
            },
            ManifestFile {
                name: "appendonly.aof.1.incr.aof".into(),
                seq: 1,
                kind: b'i',
            },
            ManifestFile {
                name: "appendonly.aof.2.incr.aof".into(),
                seq: 2,
                kind: b'i',
            },
        ];
        let text = manifest_text(&files);
        assert_eq!(
            text,
            "file appendonly.aof.1.base.rdb seq 1 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type i\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        assert_eq!(parse_manifest(text.as_bytes()).unwrap(), files);
        let order: Vec<&str> = files_to_load(&files)
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(order[0], "appendonly.aof.1.base.rdb");
    }

    #[test]
    fn a_bad_manifest_is_refused() {
        assert!(parse_manifest(b"file a seq x type i\n").is_err());
        assert!(parse_manifest(b"file a seq 1 type q\n").is_err());
        assert!(parse_manifest(b"file ../a seq 1 type i\n").is_err());
        assert!(parse_manifest(b"file a seq 1 type b\nfile b seq 2 type b\n").is_err());
        assert!(parse_manifest(b"nonsense\n").is_err());
    }
}
