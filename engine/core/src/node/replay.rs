//! Loading an append-only file: its commands run, in order, on a node of one thread that
//! nobody else reaches, as Redis replays its AOF through a fake client; the keys it ends with
//! are then dealt to the real node's threads like an RDB's.
//!
//! The replay runs with the clock at the epoch. Every deadline in an append-only file is
//! absolute (EXPIRE was written as PEXPIREAT, SET EX as SET PXAT), so nothing expires while
//! the file is read and each command meets the state it met when it was written; Redis gets
//! the same by not expiring keys while loading. Keys past their deadline are dropped when the
//! result is dealt out.

use crate::config::Config;
use crate::cx::{ConnId, ConnOpen, Cx, CxOptions, Effect, Msg, ThreadId};
use crate::db::Entry;
use crate::node::commands::server::ServerInfo;
use crate::node::{shard_of, Node};
use crate::resp::{Decoder, Limits};

/// The replay's wall clock: before any deadline a file can hold.
const REPLAY_WALL_US: u64 = 1_000_000;

/// What reading one file found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FileReplayed {
    pub commands: u64,
    /// Where the last whole command ends (outside an unfinished MULTI): a file cut short by a
    /// crash is truncated here.
    pub valid_len: u64,
    /// Bytes after `valid_len`: a command cut short, or a MULTI with no EXEC.
    pub torn_bytes: u64,
}

pub struct Replayer {
    node: Node,
    cx: Cx,
    conn: ConnId,
}

impl Replayer {
    pub fn new(config: Config, seed: u64) -> Replayer {
        let server = ServerInfo::default();
        let mut node = Node::new(ThreadId(0), 1, config, server, seed);
        // The replay writes no file of its own.
        node.config.appendonly = false;
        let mut cx = Cx::new(seed, CxOptions::default());
        cx.set_time(0, REPLAY_WALL_US);
        let conn = ConnId(u64::MAX);
        let open = ConnOpen {
            conn,
            peer_addr: "aof:0".into(),
            local_addr: "aof:0".into(),
            peer_is_loopback: true,
            clients_total: 1,
            fd: -1,
            protocol: Default::default(),
        };
        let mut replayer = Replayer { node, cx, conn };
        replayer.deliver(Msg::ConnOpen(open));
        replayer
    }

    /// Runs one message and everything it sends to itself; returns what the connection got.
    fn deliver(&mut self, msg: Msg) -> Vec<u8> {
        let mut queue = vec![msg];
        let mut output = Vec::new();
        while let Some(msg) = queue.pop() {
            self.cx.set_time(0, REPLAY_WALL_US);
            self.node.on_msg(msg, &mut self.cx);
            for effect in self.cx.take_effects() {
                match effect {
                    Effect::Send { msg, .. } => queue.insert(0, msg),
                    Effect::Write { conn, bytes } => {
                        // Written at once: the connection never waits for its output.
                        output.extend_from_slice(&bytes);
                        let bytes_len = bytes.len();
                        queue.insert(0, Msg::ConnWritten { conn, bytes_len });
                    }
                    // Timers, logs and files are the real node's business, not the replay's.
                    _ => {}
                }
            }
        }
        output
    }

    /// Inserts an entry read from an RDB base file.
    pub fn insert(&mut self, db: u16, entry: Entry) {
        self.node.shard.db(usize::from(db)).insert(entry, 0);
    }

    /// Replays a whole file of RESP commands. Errors the commands answer are ignored, as
    /// Redis ignores them; an unknown command or a malformed file is refused.
    pub fn replay(&mut self, bytes: &[u8]) -> Result<FileReplayed, String> {
        let mut decoder = Decoder::new(Limits {
            bulk_len_max_bytes: u64::MAX,
        });
        decoder.set_authenticated(true);
        decoder.feed(bytes);
        let mut report = FileReplayed::default();
        let mut start = 0usize;
        // Where the open MULTI began, if any: a file may end inside one.
        let mut multi_at: Option<usize> = None;
        loop {
            let argv = match decoder.next_command() {
                Ok(Some(argv)) => argv,
                Ok(None) => break,
                Err(err) => {
                    return Err(format!(
                        "Bad file format reading the append only file at byte {start}: {err:?}"
                    ))
                }
            };
            let end = bytes.len() - decoder.buffered_len_bytes();
            if argv.is_empty() {
                start = end;
                continue;
            }
            let name = argv[0].to_ascii_uppercase();
            match name.as_slice() {
                b"MULTI" => multi_at = Some(start),
                b"EXEC" | b"DISCARD" => multi_at = None,
                _ => {}
            }
            let reply = self.deliver(Msg::ConnData {
                conn: self.conn,
                bytes: bytes[start..end].to_vec(),
            });
            if reply.starts_with(b"-ERR unknown command") {
                return Err(format!(
                    "Unknown command '{}' reading the append only file",
                    String::from_utf8_lossy(&argv[0])
                ));
            }
            report.commands += 1;
            start = end;
        }
        let valid = multi_at.unwrap_or(start);
        if multi_at.is_some() {
            // Leave the transaction that never finished.
            self.deliver(Msg::ConnData {
                conn: self.conn,
                bytes: b"*1\r\n$7\r\nDISCARD\r\n".to_vec(),
            });
        }
        report.valid_len = valid as u64;
        report.torn_bytes = (bytes.len() - valid) as u64;
        Ok(report)
    }

    /// The keys the files left, dealt to `threads` threads by owner; keys past their deadline
    /// at `now_ms` are dropped. Also returns how many were dropped.
    pub fn finish(mut self, threads: u16, now_ms: u64) -> (Vec<Vec<(u16, Entry)>>, u64) {
        let mut dealt: Vec<Vec<(u16, Entry)>> = (0..threads).map(|_| Vec::new()).collect();
        let mut expired = 0;
        for db in 0..self.node.shard.dbs_len() {
            let table = self.node.shard.db(db);
            for entry in table.iter() {
                if entry.is_expired(now_ms) {
                    expired += 1;
                    continue;
                }
                let owner = shard_of(entry.key(), threads);
                dealt[usize::from(owner.0)].push((db as u16, entry.clone()));
            }
            table.clear();
        }
        (dealt, expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::node::journal::merge::encode_command(args, &mut out);
        out
    }

    #[test]
    fn a_file_replays_and_a_torn_tail_is_found() {
        let mut file = Vec::new();
        file.extend(cmd(&["SELECT", "0"]));
        file.extend(cmd(&["SET", "a", "1"]));
        file.extend(cmd(&["SET", "gone", "x", "PXAT", "5"]));
        file.extend(cmd(&["RPUSH", "l", "x", "y"]));
        file.extend(cmd(&["SELECT", "3"]));
        file.extend(cmd(&["INCR", "n"]));
        let whole = file.len() as u64;
        file.extend(cmd(&["MULTI"]));
        file.extend(cmd(&["SET", "half", "1"]));
        file.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1");
        let mut r = Replayer::new(Config::default(), 1);
        let report = r.replay(&file).unwrap();
        assert_eq!(report.valid_len, whole);
        assert_eq!(report.torn_bytes, file.len() as u64 - whole);
        let (dealt, expired) = r.finish(2, 10_000);
        assert_eq!(expired, 1);
        let mut keys: Vec<(u16, Vec<u8>)> = dealt
            .iter()
            .flatten()
            .map(|(db, e)| (*db, e.key().to_vec()))
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            vec![(0, b"a".to_vec()), (0, b"l".to_vec()), (3, b"n".to_vec())]
        );
    }

    #[test]
    fn an_unknown_command_is_refused() {
        let mut r = Replayer::new(Config::default(), 1);
        let err = r.replay(&cmd(&["NOSUCH", "x"])).unwrap_err();
        assert!(err.contains("Unknown command 'NOSUCH'"), "{err}");
    }
}
