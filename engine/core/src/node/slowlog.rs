//! SLOWLOG: commands that ran at least `slowlog-log-slower-than` µs, newest first, at most
//! `slowlog-max-len` of them. Each thread logs the commands it dispatched in its own log (no
//! lock on the hot path); entry ids come from one node-wide counter (`Env::next_slowlog_id`),
//! so SLOWLOG GET merges the threads' logs by id into Redis's single newest-first list, and
//! LEN counts what GET -1 would show. RESET empties every thread's log (ids go on, as in Redis).
//!
//! An entry keeps what Redis keeps: at most `SLOWLOG_ENTRY_ARGS_MAX` arguments (the last one
//! replaced by "... (N more arguments)") each cut to `SLOWLOG_ENTRY_ARG_LEN_MAX_BYTES` bytes
//! plus "... (N more bytes)", the client's address and name. Commands flagged
//! `skip_slowlog` (EXEC) are not logged; the commands EXEC ran are, with the time they took
//! there (each counted as 0 µs: their time is EXEC's).
//!
//! What "took" means here: the time the dispatching thread spent on the command in its step
//! (INFO commandstats' usec). A command that travels to another shard is logged only when
//! the whole log is on (threshold 0): its arguments are copied before they travel.

use std::collections::VecDeque;

use crate::argv::Argv;
use crate::reply::Reply;

/// Redis's `SLOWLOG_ENTRY_MAX_ARGC`.
pub const SLOWLOG_ENTRY_ARGS_MAX: usize = 32;
/// Redis's `SLOWLOG_ENTRY_MAX_STRING`.
pub const SLOWLOG_ENTRY_ARG_LEN_MAX_BYTES: usize = 128;
/// SLOWLOG GET without a count.
pub const SLOWLOG_GET_DEFAULT: usize = 10;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlowEntry {
    pub id: u64,
    pub time_s: u64,
    pub duration_us: u64,
    pub args: Vec<Vec<u8>>,
    pub peer_addr: String,
    pub client_name: Vec<u8>,
}

impl SlowEntry {
    pub fn reply(&self) -> Reply {
        Reply::Array(vec![
            Reply::Int(self.id as i64),
            Reply::Int(self.time_s as i64),
            Reply::Int(self.duration_us as i64),
            Reply::Array(self.args.iter().map(|a| Reply::Bulk(a.clone())).collect()),
            Reply::Bulk(self.peer_addr.clone().into_bytes()),
            Reply::Bulk(self.client_name.clone()),
        ])
    }
}

/// A thread's log, newest first.
#[derive(Clone, Debug, Default)]
pub struct SlowLog {
    entries: VecDeque<SlowEntry>,
}

impl SlowLog {
    pub fn push(&mut self, entry: SlowEntry, len_max: u64) {
        self.entries.push_front(entry);
        self.entries
            .truncate(usize::try_from(len_max).unwrap_or(usize::MAX));
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<SlowEntry> {
        self.entries.iter().take(count).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

/// Whether a command that took `duration_us` goes to the log.
pub fn is_slow(threshold_us: i64, duration_us: u64) -> bool {
    threshold_us >= 0 && duration_us >= threshold_us as u64
}

/// The arguments as an entry keeps them.
pub fn kept_args(argv: &Argv) -> Vec<Vec<u8>> {
    let shown = argv.len().min(SLOWLOG_ENTRY_ARGS_MAX);
    let mut args = Vec::with_capacity(shown);
    for (i, arg) in argv.iter().enumerate().take(shown) {
        if i == SLOWLOG_ENTRY_ARGS_MAX - 1 && argv.len() > SLOWLOG_ENTRY_ARGS_MAX {
            let more = argv.len() - SLOWLOG_ENTRY_ARGS_MAX + 1;
            args.push(format!("... ({more} more arguments)").into_bytes());
            break;
        }
        if arg.len() > SLOWLOG_ENTRY_ARG_LEN_MAX_BYTES {
            let more = arg.len() - SLOWLOG_ENTRY_ARG_LEN_MAX_BYTES;
            let mut cut = arg[..SLOWLOG_ENTRY_ARG_LEN_MAX_BYTES].to_vec();
            cut.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
            args.push(cut);
        } else {
            args.push(arg.to_vec());
        }
    }
    args
}

/// What an entry shows instead of a secret.
pub const REDACTED: &[u8] = b"(redacted)";

/// Hides passwords as Redis does: AUTH's arguments, HELLO's after AUTH, CONFIG SET
/// requirepass's value. `name` is the command's full name ("config|set").
pub fn redact(name: &str, args: &mut [Vec<u8>]) {
    let hide = |i: usize, args: &mut [Vec<u8>]| {
        if let Some(arg) = args.get_mut(i) {
            *arg = REDACTED.to_vec();
        }
    };
    match name {
        "auth" => (1..args.len()).for_each(|i| hide(i, args)),
        "hello" => {
            if let Some(at) = args.iter().position(|a| a.eq_ignore_ascii_case(b"auth")) {
                hide(at + 1, args);
                hide(at + 2, args);
            }
        }
        "config|set" => {
            for i in (2..args.len()).step_by(2) {
                if args[i].eq_ignore_ascii_case(b"requirepass") {
                    hide(i + 1, args);
                }
            }
        }
        _ => {}
    }
}

/// The threads' newest entries merged into the node's log: newest first by id, at most
/// `len_max` of them (each thread keeps up to `len_max` of its own).
pub fn merged(parts: Vec<Vec<SlowEntry>>, len_max: u64) -> Vec<SlowEntry> {
    let mut all: Vec<SlowEntry> = parts.into_iter().flatten().collect();
    all.sort_by_key(|e| std::cmp::Reverse(e.id));
    all.truncate(usize::try_from(len_max).unwrap_or(usize::MAX));
    all
}

pub const HELP_LINES: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_commands_are_cut_as_redis_cuts_them() {
        let words: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let args = kept_args(&Argv::from_slices(&refs));
        assert_eq!(args.len(), SLOWLOG_ENTRY_ARGS_MAX);
        assert_eq!(args[30], b"a30");
        assert_eq!(args[31], b"... (9 more arguments)");
        let exactly: Vec<&str> = refs[..32].to_vec();
        let args = kept_args(&Argv::from_slices(&exactly));
        assert_eq!(args.len(), 32);
        assert_eq!(args[31], b"a31");
        let long = "x".repeat(200);
        let args = kept_args(&Argv::from_slices(&["SET", "k", &long]));
        let mut expected = "x".repeat(128).into_bytes();
        expected.extend_from_slice(b"... (72 more bytes)");
        assert_eq!(args[2], expected);
        let edge = "y".repeat(128);
        assert_eq!(kept_args(&Argv::from_slices(&["SET", &edge]))[1].len(), 128);
    }

    /// Each entry's arguments, newest first, from SLOWLOG GET's RESP2 reply.
    fn logged_commands(reply: &str) -> Vec<String> {
        // Entries read as "*6 :id :time :duration *N $len arg… $len addr $len name".
        let lines: Vec<&str> = reply.split("\r\n").collect();
        let mut commands = Vec::new();
        let mut i = 1;
        while i + 4 < lines.len() && lines[i] == "*6" {
            let argc: usize = lines[i + 4][1..].parse().unwrap();
            let args: Vec<&str> = (0..argc).map(|a| lines[i + 6 + 2 * a]).collect();
            commands.push(args.join(" "));
            i += 5 + 2 * argc + 4;
        }
        commands
    }

    #[test]
    fn every_threads_commands_share_one_log_in_id_order() {
        use crate::testkit::TestCluster;
        for threads in [1, 3] {
            let mut c = TestCluster::new(threads);
            let conns: Vec<_> = (0..threads).map(|t| c.connect(t)).collect();
            let last = *conns.last().unwrap();
            c.cmd(conns[0], &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
            c.cmd(conns[0], &["SLOWLOG", "RESET"]);
            c.cmd(last, &["CLIENT", "SETNAME", "writer"]);
            for i in 0..6 {
                let key = format!("key{i}");
                c.cmd(conns[i % conns.len()], &["SET", &key, "v"]);
            }
            let reply = c.cmd_text(conns[0], &["SLOWLOG", "GET", "3"]);
            let newest = logged_commands(&reply);
            let expected: Vec<String> = (3..6).rev().map(|i| format!("SET key{i} v")).collect();
            assert_eq!(newest, expected, "{reply}");
            if threads == 3 {
                assert!(reply.contains("$6\r\nwriter\r\n"), "{reply}");
            }
            // RESET, CLIENT SETNAME, six SETs and the GET above.
            assert_eq!(c.cmd_text(last, &["SLOWLOG", "LEN"]), ":9\r\n");
            c.cmd(last, &["CONFIG", "SET", "slowlog-max-len", "4"]);
            assert_eq!(c.cmd_text(conns[0], &["SLOWLOG", "LEN"]), ":4\r\n");
            c.cmd(last, &["SLOWLOG", "RESET"]);
            let after = c.cmd_text(conns[0], &["SLOWLOG", "GET", "-1"]);
            assert_eq!(logged_commands(&after), ["SLOWLOG RESET"], "{after}");
            c.cmd(
                conns[0],
                &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
            );
            c.cmd(conns[0], &["SLOWLOG", "RESET"]);
            c.cmd(last, &["SET", "a", "b"]);
            assert_eq!(c.cmd_text(conns[0], &["SLOWLOG", "LEN"]), ":0\r\n");
        }
    }

    #[test]
    fn secrets_are_redacted() {
        let words =
            |s: &str| -> Vec<Vec<u8>> { s.split(' ').map(|w| w.as_bytes().to_vec()).collect() };
        let mut auth = words("auth user pass");
        redact("auth", &mut auth);
        assert_eq!(auth, words("auth (redacted) (redacted)"));
        let mut hello = words("hello 3 AUTH u p setname x");
        redact("hello", &mut hello);
        assert_eq!(hello, words("hello 3 AUTH (redacted) (redacted) setname x"));
        let mut set = words("config set maxmemory 1 requirepass s");
        redact("config|set", &mut set);
        assert_eq!(set, words("config set maxmemory 1 requirepass (redacted)"));
    }

    #[test]
    fn the_log_keeps_the_newest_and_merges_by_id() {
        let entry = |id| SlowEntry {
            id,
            time_s: 0,
            duration_us: 0,
            args: Vec::new(),
            peer_addr: String::new(),
            client_name: Vec::new(),
        };
        let mut a = SlowLog::default();
        let mut b = SlowLog::default();
        for id in [0, 2, 4] {
            a.push(entry(id), 2);
        }
        b.push(entry(3), 2);
        assert_eq!(a.len(), 2);
        let ids: Vec<u64> = merged(vec![a.newest(10), b.newest(10)], 3)
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, [4, 3, 2]);
        assert!(is_slow(0, 0) && !is_slow(-1, 1_000_000) && !is_slow(10, 9));
    }
}
