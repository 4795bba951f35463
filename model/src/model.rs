//! The model's state and its one entry point, `Model::apply`.
//!
//! State is deliberately plain: a vector of logical databases, each a `BTreeMap` from key to
//! `Entry { value, expire_at_ms }`. Expiry is logical: a key whose `expire_at_ms <= now_ms`
//! does not exist. `apply` enforces that by removing every such key, in every database, before
//! the command runs; a command therefore sees one frozen time, like Redis's
//! `commandTimeSnapshot`, and never meets an expired entry. This requires that the `now_ms`
//! passed to successive `apply` calls never decreases (a purged key cannot come back).
//!
//! Deliberate, documented differences from a running redis-server, all from Redis keeping
//! logically expired keys in memory until something reclaims them: DBSIZE counts only live keys
//! (Redis also counts expired keys not yet reclaimed), and KEYS returns keys in key order
//! (Redis: hash-table order, i.e. unspecified). Compare KEYS replies as sets.

use std::collections::BTreeMap;
use std::hash::Hasher;

use crate::commands;
use crate::fnv::Fnv64;
use crate::resp::Resp;

/// Redis's default `databases` setting.
pub const DBS_DEFAULT: usize = 16;

/// A value. Only strings exist so far; the List, Hash, Set and ZSet families add variants here,
/// and every `match` on `Value` in the model is exhaustive so that the compiler lists the places
/// a new type must be handled (TYPE, WRONGTYPE checks, digest).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Str(Vec<u8>),
}

impl Value {
    /// The TYPE reply for this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }
}

/// A key's value and its absolute expiry time (Unix ms), if any.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    pub value: Value,
    pub expire_at_ms: Option<u64>,
}

/// One logical database.
pub type Db = BTreeMap<Vec<u8>, Entry>;

/// Per-connection state that commands read or change: the selected database (SELECT) and the
/// protocol version (set by the caller; HELLO is not modelled). Replies do not depend on
/// `resp3`: the caller picks `Resp::to_resp2_bytes` or `to_resp3_bytes` from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnState {
    pub db: usize,
    pub resp3: bool,
}

/// The sequential reference model of a Redis 7.0 server's keyspace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Model {
    dbs: Vec<Db>,
}

impl Default for Model {
    fn default() -> Self {
        Model::new(DBS_DEFAULT)
    }
}

impl Model {
    /// An empty server with `dbs` logical databases (Redis's `databases`, 16 by default).
    pub fn new(dbs: usize) -> Model {
        assert!(dbs >= 1, "a server has at least one database");
        Model {
            dbs: vec![Db::new(); dbs],
        }
    }

    /// Runs one command, exactly as Redis 7.0 would reply to it at time `now_ms` (Unix ms).
    /// `argv[0]` is the command name (any case). `now_ms` must not decrease between calls.
    pub fn apply(&mut self, conn: &mut ConnState, argv: &[Vec<u8>], now_ms: u64) -> Resp {
        assert!(!argv.is_empty(), "Model::apply needs a command name");
        assert!(
            conn.db < self.dbs.len(),
            "connection db {} out of range",
            conn.db
        );
        self.expire_all(now_ms);
        commands::dispatch(
            &mut Ctx {
                model: self,
                conn,
                now_ms,
            },
            argv,
        )
    }

    /// Number of logical databases.
    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    /// Database `index`, including entries that may be logically expired at a later time.
    pub fn db(&self, index: usize) -> &Db {
        &self.dbs[index]
    }

    /// A copy of the whole state (the model is small; a clone is the snapshot).
    pub fn snapshot(&self) -> Model {
        self.clone()
    }

    /// A deterministic FNV-1a hash of every key live at `now_ms`, with its value and absolute
    /// expiry, in (database, key) order. Equal states give equal digests on every machine.
    pub fn digest(&self, now_ms: u64) -> u64 {
        let mut h = Fnv64::default();
        for (index, db) in self.dbs.iter().enumerate() {
            for (key, entry) in db.iter().filter(|(_, e)| is_live(e, now_ms)) {
                h.write_u64(index as u64);
                h.write_bytes(key);
                match &entry.value {
                    Value::Str(s) => {
                        h.write_u8(b's');
                        h.write_bytes(s);
                    }
                }
                h.write_u64(entry.expire_at_ms.map_or(0, |t| t.wrapping_add(1)));
            }
        }
        h.finish()
    }

    /// Removes every key whose deadline has passed (`expire_at_ms <= now_ms`).
    fn expire_all(&mut self, now_ms: u64) {
        for db in &mut self.dbs {
            db.retain(|_, e| is_live(e, now_ms));
        }
    }

    pub(crate) fn db_mut(&mut self, index: usize) -> &mut Db {
        &mut self.dbs[index]
    }

    pub(crate) fn swap_dbs(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
    }
}

fn is_live(entry: &Entry, now_ms: u64) -> bool {
    entry.expire_at_ms.is_none_or(|t| t > now_ms)
}

/// What a command handler sees: the state, its connection, and the frozen time.
pub(crate) struct Ctx<'a> {
    pub model: &'a mut Model,
    pub conn: &'a mut ConnState,
    pub now_ms: u64,
}

impl Ctx<'_> {
    /// The selected database.
    pub fn db(&mut self) -> &mut Db {
        let index = self.conn.db;
        self.model.db_mut(index)
    }

    /// The entry at `key` in the selected database (expired keys are already gone).
    pub fn entry(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.db().get_mut(key)
    }

    /// `lookupKey` + `checkType(OBJ_STRING)`: `Ok(None)` if missing, an error if not a string.
    /// (With strings the only type so far, the error arm arrives with the second `Value`
    /// variant: "WRONGTYPE Operation against a key holding the wrong kind of value".)
    pub fn string(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, Resp> {
        match self.entry(key) {
            None => Ok(None),
            Some(Entry {
                value: Value::Str(s),
                ..
            }) => Ok(Some(s.clone())),
        }
    }

    /// `setKey` without KEEPTTL: replaces the value and clears any TTL.
    pub fn set_string(&mut self, key: &[u8], value: Vec<u8>) {
        let entry = Entry {
            value: Value::Str(value),
            expire_at_ms: None,
        };
        self.db().insert(key.to_vec(), entry);
    }

    /// Replaces the value but keeps the TTL (`dbOverwrite`, used by INCR, APPEND, ...).
    pub fn overwrite_string(&mut self, key: &[u8], value: Vec<u8>) {
        let expire_at_ms = self.entry(key).and_then(|e| e.expire_at_ms);
        let entry = Entry {
            value: Value::Str(value),
            expire_at_ms,
        };
        self.db().insert(key.to_vec(), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_700_000_000_000;

    fn run(m: &mut Model, conn: &mut ConnState, cmd: &str, now_ms: u64) -> Resp {
        let argv: Vec<Vec<u8>> = cmd.split(' ').map(|a| a.as_bytes().to_vec()).collect();
        m.apply(conn, &argv, now_ms)
    }

    #[test]
    fn keys_vanish_exactly_at_their_deadline() {
        let (mut m, mut c) = (Model::default(), ConnState::default());
        assert_eq!(run(&mut m, &mut c, "SET k v PX 100", NOW_MS), Resp::ok());
        assert_eq!(run(&mut m, &mut c, "PTTL k", NOW_MS + 99), Resp::Int(1));
        assert_eq!(run(&mut m, &mut c, "GET k", NOW_MS + 99), Resp::bulk("v"));
        assert_eq!(run(&mut m, &mut c, "GET k", NOW_MS + 100), Resp::Nil);
        assert_eq!(run(&mut m, &mut c, "DBSIZE", NOW_MS + 100), Resp::Int(0));
    }

    #[test]
    fn digest_covers_live_keys_values_and_ttls_only() {
        let (mut a, mut c) = (Model::default(), ConnState::default());
        let empty = a.digest(NOW_MS);
        run(&mut a, &mut c, "SET k v", NOW_MS);
        let with_k = a.digest(NOW_MS);
        assert_ne!(with_k, empty);
        let mut b = a.snapshot();
        run(&mut b, &mut c, "PEXPIRE k 50", NOW_MS);
        assert_ne!(b.digest(NOW_MS), with_k, "TTL is part of the digest");
        assert_eq!(b.digest(NOW_MS + 50), empty, "expired keys are not");
        run(&mut b, &mut c, "SET k v", NOW_MS);
        assert_eq!(b.digest(NOW_MS), with_k);
        assert_eq!(a, b);
    }

    #[test]
    fn select_and_swapdb_move_whole_databases() {
        let (mut m, mut c) = (Model::new(2), ConnState::default());
        run(&mut m, &mut c, "SET k zero", NOW_MS);
        assert_eq!(
            run(&mut m, &mut c, "SELECT 2", NOW_MS),
            Resp::err("ERR DB index is out of range")
        );
        assert_eq!(run(&mut m, &mut c, "SELECT 1", NOW_MS), Resp::ok());
        assert_eq!(c.db, 1);
        assert_eq!(run(&mut m, &mut c, "GET k", NOW_MS), Resp::Nil);
        assert_eq!(run(&mut m, &mut c, "SWAPDB 0 1", NOW_MS), Resp::ok());
        assert_eq!(run(&mut m, &mut c, "GET k", NOW_MS), Resp::bulk("zero"));
    }

    #[test]
    fn dispatch_errors_use_redis_texts() {
        let (mut m, mut c) = (Model::default(), ConnState::default());
        assert_eq!(
            run(&mut m, &mut c, "GeT", NOW_MS),
            Resp::err("ERR wrong number of arguments for 'get' command")
        );
        assert_eq!(
            run(&mut m, &mut c, "foo a b", NOW_MS),
            Resp::err("ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
        );
        assert_eq!(
            run(&mut m, &mut c, "SET k v EX 0", NOW_MS),
            Resp::err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(
            run(&mut m, &mut c, "SET k v NX XX", NOW_MS),
            Resp::err("ERR syntax error")
        );
        assert_eq!(run(&mut m, &mut c, "INCR k", NOW_MS), Resp::Int(1));
        assert_eq!(
            run(&mut m, &mut c, "INCRBYFLOAT k 0.1", NOW_MS),
            Resp::bulk("1.1")
        );
        assert_eq!(
            run(&mut m, &mut c, "INCR k", NOW_MS),
            Resp::err("ERR value is not an integer or out of range")
        );
    }

    #[test]
    fn unknown_command_lists_at_most_128_bytes_of_arguments() {
        let (mut m, mut c) = (Model::default(), ConnState::default());
        let long = "x".repeat(200);
        let Resp::Error(text) = run(&mut m, &mut c, &format!("nope {long} y"), NOW_MS) else {
            panic!("expected an error");
        };
        assert_eq!(
            text,
            format!(
                "ERR unknown command 'nope', with args beginning with: '{}' ",
                "x".repeat(128)
            )
        );
    }
}
