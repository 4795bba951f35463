//! The model's state and its one entry point, `Model::apply`.
//!
//! State is deliberately plain: a vector of logical databases, each a `BTreeMap` from key to
//! `Entry { value, expire_at_ms }`. Expiry is logical: a key whose `expire_at_ms <= now_ms`
//! does not exist. `apply` enforces that by removing every such key, in every database, before
//! the command runs (and EXEC again before each command it runs, since one may have set a
//! deadline already past); a command therefore sees one frozen time, like Redis's
//! `commandTimeSnapshot`, and never meets an expired entry. This requires that the `now_ms`
//! passed to successive `apply` calls never decreases (a purged key cannot come back).
//!
//! Deliberate, documented differences from a running redis-server, all from Redis keeping
//! logically expired keys in memory until something reclaims them: DBSIZE counts only live keys
//! (Redis also counts expired keys not yet reclaimed), and KEYS returns keys in key order
//! (Redis: hash-table order, i.e. unspecified). Compare KEYS replies as sets.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::Hasher;

use crate::commands;
use crate::fnv::Fnv64;
use crate::multi;
use crate::resp::Resp;

/// Redis's default `databases` setting.
pub const DBS_DEFAULT: usize = 16;

/// A value. Every `match` on `Value` in the model is exhaustive so that the compiler lists the
/// places a new type must be handled (TYPE, WRONGTYPE checks, digest). Collections are never
/// empty: a command that removes the last element removes the key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Str(Vec<u8>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    List(VecDeque<Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, Score>),
    Stream(Box<crate::stream::Stream>),
}

/// A sorted-set score, compared and hashed by its bits (scores are never NaN).
#[derive(Clone, Copy, Debug)]
pub struct Score(pub f64);

impl PartialEq for Score {
    fn eq(&self, other: &Score) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Score {}

impl std::hash::Hash for Score {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.to_bits().hash(h);
    }
}

impl Value {
    /// The TYPE reply for this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }
}

/// Redis's WRONGTYPE error.
pub(crate) fn wrong_type() -> Resp {
    Resp::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
}

/// A key's value and its absolute expiry time (Unix ms), if any.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    pub value: Value,
    pub expire_at_ms: Option<u64>,
}

/// One logical database.
pub type Db = BTreeMap<Vec<u8>, Entry>;

/// Per-connection state that commands read or change: the selected database (SELECT), the
/// protocol version (set by the caller, or back to RESP2 by RESET; HELLO is not modelled), the
/// transaction being queued (MULTI) and the keys this connection WATCHes. Replies do not depend
/// on `resp3`: the caller picks `Resp::to_resp2_bytes` or `to_resp3_bytes` from it.
///
/// Two connections that use one `Model` must have two `ConnState`s.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnState {
    pub db: usize,
    pub resp3: bool,
    pub tx: TxState,
    /// WATCHed keys, in WATCH order, each at most once (a repeated WATCH keeps the first).
    pub watched: Vec<WatchedKey>,
}

impl ConnState {
    /// A connection in RESP2 or RESP3 on database 0, with no transaction and no WATCH.
    pub fn new(resp3: bool) -> ConnState {
        ConnState {
            resp3,
            ..ConnState::default()
        }
    }

    /// Between MULTI and EXEC/DISCARD: commands are queued, not run.
    pub fn in_multi(&self) -> bool {
        match self.tx {
            TxState::Idle => false,
            TxState::Queueing(_) | TxState::Doomed { .. } => true,
        }
    }

    /// Neither in a transaction nor watching: the connection's next command depends on no
    /// earlier one except through `db` and `resp3`.
    pub fn is_idle(&self) -> bool {
        !self.in_multi() && self.watched.is_empty()
    }

    /// The commands queued since MULTI (empty when idle or doomed).
    pub fn queued(&self) -> &[Vec<Vec<u8>>] {
        match &self.tx {
            TxState::Queueing(queued) => queued,
            TxState::Idle | TxState::Doomed { .. } => &[],
        }
    }
}

/// A connection's MULTI state (Redis's `CLIENT_MULTI` and `CLIENT_DIRTY_EXEC` flags).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum TxState {
    #[default]
    Idle,
    /// After MULTI: each command is checked, then queued for EXEC.
    Queueing(Vec<Vec<Vec<u8>>>),
    /// After MULTI and a command refused while queueing (unknown, wrong arity): commands are
    /// still acknowledged with +QUEUED, and EXEC will discard them all with EXECABORT.
    /// `denyoom_queued`: a command Redis refuses when out of memory was queued before the
    /// refusal (Redis's `mstate.cmd_flags`), which decides whether EXEC itself can be refused
    /// for memory.
    Doomed { denyoom_queued: bool },
}

/// One WATCHed key, as the connection saw it at WATCH time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WatchedKey {
    pub db: usize,
    pub key: Vec<u8>,
    /// The key's modification count (`Model`'s watch registry) at WATCH time.
    pub version: u64,
    /// Whether the key existed (was not expired) at WATCH time: if so, EXEC fails once it no
    /// longer does, even if nothing deleted it (Redis 7.0's `isWatchedKeyExpired`).
    pub alive: bool,
}

/// What the model knows about a key that at least one connection WATCHes: how many do, and
/// how many modifications Redis would have signalled on it (`signalModifiedKey`) since the
/// first of them started watching. Keys nobody watches are not counted, so two histories
/// that reach the same data reach equal models.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KeyWatch {
    pub watchers: u32,
    pub version: u64,
}

/// The sequential reference model of a Redis 7.0 server's keyspace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Model {
    dbs: Vec<Db>,
    /// Watched `(db, key)` pairs; see `KeyWatch`.
    watches: BTreeMap<(usize, Vec<u8>), KeyWatch>,
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
            watches: BTreeMap::new(),
        }
    }

    /// Runs one command, exactly as Redis 7.0 would reply to it at time `now_ms` (Unix ms).
    /// `argv[0]` is the command name (any case). `now_ms` must not decrease between calls.
    pub fn apply(&mut self, conn: &mut ConnState, argv: &[Vec<u8>], now_ms: u64) -> Resp {
        self.apply_drawn(conn, argv, now_ms, None)
    }

    /// `apply`, taking the server's recorded reply as the draw a random or layout-shaped
    /// command made when Redis allows it (module `draws`): SPOP then removes what the server
    /// popped.
    fn apply_drawn(
        &mut self,
        conn: &mut ConnState,
        argv: &[Vec<u8>],
        now_ms: u64,
        recorded: Option<&Resp>,
    ) -> Resp {
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
                recorded,
            },
            argv,
        )
    }

    /// `apply`, or, when the server's recorded reply says it refused the command because used
    /// memory was over `maxmemory`, what Redis does then (`refuse_for_memory`). The model keeps
    /// no memory figures, so a refusal is taken from the record; one Redis would never make
    /// (a read outside MULTI, say) gets a reply no server sends, so it never matches.
    pub fn apply_as_recorded(
        &mut self,
        conn: &mut ConnState,
        argv: &[Vec<u8>],
        now_ms: u64,
        recorded: Option<&Resp>,
    ) -> Resp {
        if recorded.is_some_and(multi::is_memory_refusal) {
            self.expire_all(now_ms);
            return self
                .refuse_for_memory(conn, argv, now_ms)
                .unwrap_or_else(|| Resp::err("MODEL Redis never refuses this for memory"));
        }
        self.apply_drawn(conn, argv, now_ms, recorded)
    }

    /// Redis 7.0's processCommand step for a server over `maxmemory` (with nothing left to
    /// evict): outside MULTI it refuses the commands flagged `denyoom`; between MULTI and EXEC
    /// it refuses every command but EXEC, DISCARD and RESET, dooming the transaction; EXEC is
    /// refused, and the transaction discarded, when a `denyoom` command is queued. `None` where
    /// Redis runs the command anyway (and where lookup or arity fail first).
    pub fn refuse_for_memory(
        &mut self,
        conn: &mut ConnState,
        argv: &[Vec<u8>],
        now_ms: u64,
    ) -> Option<Resp> {
        let spec = commands::lookup(argv.first()?)?;
        if !commands::arity_ok(spec, argv.len()) {
            return None;
        }
        let refused = if conn.in_multi() {
            match spec.name {
                "discard" | "reset" => false,
                "exec" => multi::denyoom_queued(conn),
                _ => true,
            }
        } else {
            commands::denies_when_out_of_memory(spec)
        };
        if !refused {
            return None;
        }
        let mut cx = Ctx {
            model: self,
            conn,
            now_ms,
            recorded: None,
        };
        Some(multi::reject(&mut cx, Some(spec), Resp::err(multi::OOM)))
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
                    Value::Hash(fields) => {
                        h.write_u8(b'h');
                        h.write_u64(fields.len() as u64);
                        for (field, value) in fields {
                            h.write_bytes(field);
                            h.write_bytes(value);
                        }
                    }
                    Value::Set(members) => {
                        h.write_u8(b'S');
                        h.write_u64(members.len() as u64);
                        for member in members {
                            h.write_bytes(member);
                        }
                    }
                    Value::List(elems) => {
                        h.write_u8(b'l');
                        h.write_u64(elems.len() as u64);
                        for elem in elems {
                            h.write_bytes(elem);
                        }
                    }
                    Value::ZSet(members) => {
                        h.write_u8(b'Z');
                        h.write_u64(members.len() as u64);
                        for (member, score) in members {
                            h.write_bytes(member);
                            h.write_u64(score.0.to_bits());
                        }
                    }
                    Value::Stream(s) => {
                        h.write_u8(b'X');
                        h.write_u64(s.entries.len() as u64);
                        for ((ms, seq), pairs) in &s.entries {
                            h.write_u64(*ms);
                            h.write_u64(*seq);
                            for (field, value) in pairs {
                                h.write_bytes(field);
                                h.write_bytes(value);
                            }
                        }
                        h.write_u64(s.last_id.0);
                        h.write_u64(s.last_id.1);
                        for (name, g) in &s.groups {
                            h.write_bytes(name);
                            h.write_u64(g.last_id.0);
                            h.write_u64(g.last_id.1);
                            for ((ms, seq), p) in &g.pending {
                                h.write_u64(*ms);
                                h.write_u64(*seq);
                                h.write_bytes(&p.consumer);
                                h.write_u64(p.delivery_count);
                            }
                        }
                    }
                }
                h.write_u64(entry.expire_at_ms.map_or(0, |t| t.wrapping_add(1)));
            }
        }
        h.finish()
    }

    /// Removes every key whose deadline has passed (`expire_at_ms <= now_ms`).
    pub(crate) fn expire_all(&mut self, now_ms: u64) {
        for db in &mut self.dbs {
            db.retain(|_, e| is_live(e, now_ms));
        }
    }

    // Writes. Every change to a key goes through one of these, and each signals the change to
    // WATCH like Redis's `signalModifiedKey` / `touchAllWatchedKeysInDb`, so no write path can
    // forget it. (Only `expire_all` removes keys silently: expiry is checked at EXEC instead.)

    /// Stores `entry` at `key` in database `db` (`setKey`, `dbAdd`, `dbOverwrite`).
    pub(crate) fn insert(&mut self, db: usize, key: &[u8], entry: Entry) {
        self.dbs[db].insert(key.to_vec(), entry);
        self.signal_modified(db, key);
    }

    /// Replaces the value of an existing key without signalling WATCH: Redis 7.0's consumer-group
    /// commands and XSETID change a stream without `signalModifiedKey`.
    pub(crate) fn replace_quietly(&mut self, db: usize, key: &[u8], entry: Entry) {
        let slot = self.dbs[db]
            .get_mut(key)
            .expect("replace_quietly on a missing key");
        *slot = entry;
    }

    /// Deletes `key` from database `db`; signals only if it existed (`dbDelete`).
    pub(crate) fn remove(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        let removed = self.dbs[db].remove(key);
        if removed.is_some() {
            self.signal_modified(db, key);
        }
        removed
    }

    /// Sets or clears the TTL of an existing key (`setExpire`, `removeExpire`).
    pub(crate) fn set_expire(&mut self, db: usize, key: &[u8], expire_at_ms: Option<u64>) {
        let entry = self.dbs[db]
            .get_mut(key)
            .expect("set_expire on a missing key");
        entry.expire_at_ms = expire_at_ms;
        self.signal_modified(db, key);
    }

    /// Empties database `db` (FLUSHDB, FLUSHALL): every watched key it held is modified.
    pub(crate) fn clear(&mut self, db: usize) {
        let emptied = &self.dbs[db];
        for ((_, key), watch) in self
            .watches
            .range_mut((db, Vec::new())..(db + 1, Vec::new()))
        {
            if emptied.contains_key(key) {
                watch.version += 1;
            }
        }
        self.dbs[db].clear();
    }

    /// SWAPDB: a watched key of either database is modified if it exists in either of them.
    pub(crate) fn swap_dbs(&mut self, a: usize, b: usize) {
        if a == b {
            return; // Redis swaps nothing and signals nothing
        }
        let (da, db_) = (&self.dbs[a], &self.dbs[b]);
        for ((index, key), watch) in self.watches.iter_mut() {
            let swapped = *index == a || *index == b;
            if swapped && (da.contains_key(key) || db_.contains_key(key)) {
                watch.version += 1;
            }
        }
        self.dbs.swap(a, b);
    }

    fn signal_modified(&mut self, db: usize, key: &[u8]) {
        if self.watches.is_empty() {
            return; // the common case: no one watches anything
        }
        if let Some(watch) = self.watches.get_mut(&(db, key.to_vec())) {
            watch.version += 1;
        }
    }

    // The watch registry (Redis's per-db `watched_keys`).

    /// WATCH `key` in `db` for `conn`, unless it already watches it (Redis keeps the first).
    pub(crate) fn watch(&mut self, conn: &mut ConnState, key: &[u8]) {
        let db = conn.db;
        if conn.watched.iter().any(|w| w.db == db && w.key == key) {
            return;
        }
        let watch = self.watches.entry((db, key.to_vec())).or_insert(KeyWatch {
            watchers: 0,
            version: 0,
        });
        watch.watchers += 1;
        conn.watched.push(WatchedKey {
            db,
            key: key.to_vec(),
            version: watch.version,
            alive: self.dbs[db].contains_key(key),
        });
    }

    /// Forgets every key `conn` watches (`unwatchAllKeys`).
    pub(crate) fn unwatch_all(&mut self, conn: &mut ConnState) {
        for w in conn.watched.drain(..) {
            let slot = (w.db, w.key);
            let watch = self
                .watches
                .get_mut(&slot)
                .expect("a watched key is registered");
            watch.watchers -= 1;
            if watch.watchers == 0 {
                self.watches.remove(&slot);
            }
        }
    }

    /// Rewrites the watch registry's modification counts, and the counts each of `conns`
    /// recorded at WATCH, to a canonical form that keeps what EXEC can observe: counts are only
    /// ever compared for equality, and only increase, so all that matters is whether each watch
    /// is still clean (its count equals the registry's) or not. Afterwards every registry count
    /// is 1, a clean watch records 1 and a broken one 0; every later WATCH, write and EXEC
    /// behaves as it would have on the original counts. Two states that differ only by how
    /// many writes hit a watched key thus become equal, which the linearizability checker's
    /// memo table needs (model::linearizability).
    ///
    /// `conns` must be every connection watching anything; if they do not account for every
    /// registered watch, nothing is changed (the rewrite would then lose information) and
    /// `false` is returned.
    pub(crate) fn canonicalize_watches<'a>(
        &mut self,
        conns: impl IntoIterator<Item = &'a mut ConnState>,
    ) -> bool {
        if self.watches.is_empty() {
            return true;
        }
        let conns: Vec<&mut ConnState> = conns.into_iter().collect();
        let watching: usize = conns.iter().map(|c| c.watched.len()).sum();
        let registered: usize = self.watches.values().map(|w| w.watchers as usize).sum();
        let known = |w: &WatchedKey| self.watches.contains_key(&(w.db, w.key.clone()));
        if watching != registered || !conns.iter().all(|c| c.watched.iter().all(known)) {
            return false;
        }
        for conn in conns {
            for w in &mut conn.watched {
                let current = self.watches[&(w.db, w.key.clone())].version;
                w.version = u64::from(current == w.version);
            }
        }
        for watch in self.watches.values_mut() {
            watch.version = 1;
        }
        true
    }

    /// Would EXEC fail on `conn`'s watches: a watched key was modified since its WATCH, or it
    /// existed then and does not now (it expired)?
    pub(crate) fn watch_broken(&self, conn: &ConnState) -> bool {
        conn.watched.iter().any(|w| {
            let watch = &self.watches[&(w.db, w.key.clone())];
            watch.version != w.version || (w.alive && !self.dbs[w.db].contains_key(&w.key))
        })
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
    /// The reply the server recorded for this command, when checking a history: the draw a
    /// random or layout-shaped command made (module `draws`). `None` when the model runs alone.
    pub recorded: Option<&'a Resp>,
}

impl Ctx<'_> {
    /// The selected database, read-only: writes go through the helpers below, which signal
    /// WATCH.
    pub fn db(&self) -> &Db {
        self.model.db(self.conn.db)
    }

    /// The entry at `key` in the selected database (expired keys are already gone).
    pub fn entry(&self, key: &[u8]) -> Option<&Entry> {
        self.db().get(key)
    }

    /// `lookupKey` + `checkType(OBJ_STRING)`: `Ok(None)` if missing, an error if not a string.
    pub fn string(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Resp> {
        match self.entry(key) {
            None => Ok(None),
            Some(Entry {
                value: Value::Str(s),
                ..
            }) => Ok(Some(s.clone())),
            Some(_) => Err(wrong_type()),
        }
    }

    /// `setKey` without KEEPTTL: replaces the value and clears any TTL.
    pub fn set_string(&mut self, key: &[u8], value: Vec<u8>) {
        let entry = Entry {
            value: Value::Str(value),
            expire_at_ms: None,
        };
        self.model.insert(self.conn.db, key, entry);
    }

    /// `setKey` followed by `setExpire`: a new value with a deadline.
    pub fn set_string_expiring(&mut self, key: &[u8], value: Vec<u8>, expire_at_ms: u64) {
        let entry = Entry {
            value: Value::Str(value),
            expire_at_ms: Some(expire_at_ms),
        };
        self.model.insert(self.conn.db, key, entry);
    }

    /// Replaces the value but keeps the TTL (`dbOverwrite`, used by INCR, APPEND, ...).
    pub fn overwrite_string(&mut self, key: &[u8], value: Vec<u8>) {
        let expire_at_ms = self.entry(key).and_then(|e| e.expire_at_ms);
        let entry = Entry {
            value: Value::Str(value),
            expire_at_ms,
        };
        self.model.insert(self.conn.db, key, entry);
    }

    /// Deletes `key` from the selected database; true if it existed.
    pub fn delete(&mut self, key: &[u8]) -> bool {
        self.model.remove(self.conn.db, key).is_some()
    }

    /// Sets (or with `None` clears) the TTL of an existing key.
    pub fn set_expire(&mut self, key: &[u8], expire_at_ms: Option<u64>) {
        self.model.set_expire(self.conn.db, key, expire_at_ms);
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

    /// Canonical watch counts change no reply: two connections WATCH, write and EXEC in a
    /// fixed pseudo-random order, once as they are and once with the counts rewritten after
    /// every command; and two states that differ only in how often a watched key was written
    /// become equal.
    #[test]
    fn canonical_watch_counts_change_no_reply() {
        let script = [
            "WATCH k",
            "SET k 1",
            "MULTI",
            "WATCH j",
            "GET k",
            "SET j 2",
            "EXEC",
            "EXEC",
            "INCR k",
            "WATCH k j",
            "MULTI",
            "SET j 3",
            "APPEND k x",
            "EXEC",
            "WATCH j",
            "UNWATCH",
            "DEL j",
            "EXEC",
        ];
        let (mut plain, mut canon) = (Model::default(), Model::default());
        let mut plain_conns = [ConnState::default(), ConnState::default()];
        let mut canon_conns = plain_conns.clone();
        let mut seed = 7u64;
        let mut outcomes = [0; 2]; // EXECs refused by a watch, EXECs that ran
        for step in 0..400 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (who, cmd) = (
                (seed >> 33) as usize % 2,
                script[(seed >> 40) as usize % script.len()],
            );
            let expected = run(&mut plain, &mut plain_conns[who], cmd, NOW_MS);
            let got = run(&mut canon, &mut canon_conns[who], cmd, NOW_MS);
            assert_eq!(got, expected, "step {step}: {cmd} on connection {who}");
            assert!(canon.canonicalize_watches(canon_conns.iter_mut()));
            match expected {
                Resp::NilArray => outcomes[0] += 1,
                Resp::Array(_) => outcomes[1] += 1,
                _ => {}
            }
        }
        assert!(
            outcomes.iter().all(|&n| n > 5),
            "EXEC outcomes {outcomes:?}"
        );
        let (mut a, mut b) = (Model::default(), Model::default());
        let (mut ca, mut cb) = (ConnState::default(), ConnState::default());
        let mut other = ConnState::default();
        run(&mut a, &mut ca, "WATCH k", NOW_MS);
        run(&mut b, &mut cb, "WATCH k", NOW_MS);
        run(&mut a, &mut other, "SET k 1", NOW_MS);
        run(&mut b, &mut other, "SET k 0", NOW_MS);
        run(&mut b, &mut other, "SET k 1", NOW_MS);
        assert_ne!((&a, &ca), (&b, &cb));
        assert!(a.canonicalize_watches([&mut ca]));
        assert!(b.canonicalize_watches([&mut cb]));
        assert_eq!((&a, &ca), (&b, &cb));
        // A watch the given connections do not account for: nothing is rewritten.
        assert!(!a.canonicalize_watches([]));
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
