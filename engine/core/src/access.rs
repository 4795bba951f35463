//! The one typed lookup path and the one write path every command family uses.
//!
//! Reads: `read_*` are Redis's lookupKeyRead: lazy expiry, an access (LRU clock, cache-mode
//! promotion), a keyspace hit or miss (a key of another type counts as a hit), then the type
//! check that answers WRONGTYPE. `peek_kind` looks without counting, as lookupKeyWrite does.
//!
use crate::db::{
    Access, Collection, CollectionLimits, Db, Entry, EntryMut, HashValue, Kind, ListValue,
    SetValue, StreamValue, Value, ValueRef, ZSetValue,
};
use crate::env::{Env, Plant};
use crate::error::CmdError;
use crate::shard::Shard;

/// What a command handler running on a shard sees: the shard (only through the reads and
/// writes below), the connection's database, the time of this step (one time for the whole
/// hop) and the environment for randomness and marks.
pub struct ExecCx<'a> {
    shard: &'a mut Shard,
    db: usize,
    now_ms: u64,
    env: &'a mut Env,
}

/// A database lent for reading: lookups that expire lazily and count as accesses, never a
/// change to a key's value or deadline.
pub struct ReadDb<'a>(&'a mut Db);

/// Each read takes the view, so that what it returns lives as long as the loan; ask
/// `ExecCx::db` again for the next read.
impl<'a> ReadDb<'a> {
    /// The live entry, counted as an access (Db::get).
    pub fn get(self, key: &[u8], now_ms: u64) -> Option<&'a Entry> {
        self.0.get(key, now_ms)
    }

    /// The live entry, not counted as an access (Db::peek).
    pub fn peek(self, key: &[u8], now_ms: u64) -> Option<&'a Entry> {
        self.0.peek(key, now_ms)
    }

    pub fn contains(self, key: &[u8], now_ms: u64) -> bool {
        self.0.contains(key, now_ms)
    }

    /// Db::visit_live: one table lookup for the hot read paths.
    pub fn visit_live<R>(
        self,
        key: &[u8],
        now_ms: u64,
        access: Access,
        visit: impl FnOnce(&Entry) -> R,
    ) -> Option<R> {
        self.0.visit_live(key, now_ms, access, visit)
    }

    /// The seed for a new collection's hashing (Db::collection_seed).
    pub fn collection_seed(self) -> u64 {
        self.0.collection_seed()
    }
}

/// Whether an edit changed the key (WATCH, dirty count and, later, notifications follow it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Modified,
    /// Modified by taking away only (XDEL, XTRIM): WATCH sees it, but blocked clients are not
    /// woken, as nothing arrived (Redis signals them on additions and on deleted keys).
    Shrunk,
    Unchanged,
}

/// What an edit does when the key is absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfAbsent {
    /// Answer `None` without calling the handler (HDEL, SREM).
    Skip,
    /// Lend a new empty collection (HSET, SADD); it is stored only if it ends non-empty.
    Create,
}

fn check_kind(value: ValueRef<'_>, kind: Kind) -> Result<(), CmdError> {
    if value.kind() == kind {
        Ok(())
    } else {
        Err(CmdError::WrongType)
    }
}

impl<'a> ExecCx<'a> {
    pub fn new(shard: &'a mut Shard, db: usize, now_ms: u64, env: &'a mut Env) -> ExecCx<'a> {
        ExecCx {
            shard,
            db,
            now_ms,
            env,
        }
    }

    /// The connection's database index.
    pub fn db_index(&self) -> usize {
        self.db
    }

    /// How many databases the shard has (MOVE's and COPY's range check).
    pub fn dbs_len(&self) -> usize {
        self.shard.dbs_len()
    }

    /// The time of this step, for writing deadlines.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The time reads compare deadlines against. Planted bug `SkipExpiryCheckOnRead` makes
    /// every key look alive to readers.
    pub fn read_now_ms(&self) -> u64 {
        if self.env.planted(Plant::SkipExpiryCheckOnRead) {
            0
        } else {
            self.now_ms
        }
    }

    /// The environment: the seeded RNG, planted bugs, marks, reply buffers.
    pub fn env(&mut self) -> &mut Env {
        self.env
    }

    /// The collection encoding thresholds (CONFIG's `*-max-listpack-*`…).
    pub fn limits(&self) -> CollectionLimits {
        self.shard.limits
    }

    /// A CAS unique for a Memcached item written now: never one this shard gave before.
    pub fn next_memcache_cas(&mut self) -> u64 {
        self.shard.memcache_cas_last += 1;
        self.shard.memcache_cas_last
    }

    /// The connection's database, for reading.
    pub fn db(&mut self) -> ReadDb<'_> {
        ReadDb(self.shard.db(self.db))
    }

    /// Database `index` of this shard, for reading (COPY's and MOVE's destination).
    pub fn db_at(&mut self, index: usize) -> ReadDb<'_> {
        ReadDb(self.shard.db(index))
    }

    /// Counts a keyspace hit or miss for a read that looked the key up itself (GET's one-lookup
    /// path); `read_entry` counts its own.
    pub fn count_lookup(&mut self, found: bool) {
        let stats = &mut self.shard.stats;
        if found {
            stats.keyspace_hits += 1;
        } else {
            stats.keyspace_misses += 1;
        }
    }

    /// Redis's lookupKeyRead: the live entry, counting a keyspace hit or miss.
    pub fn read_entry(&mut self, key: &[u8]) -> Option<&Entry> {
        let now_ms = self.read_now_ms();
        let db = self.db;
        let (dbref, stats) = self.shard.db_and_stats(db);
        match dbref.get(key, now_ms) {
            Some(entry) => {
                stats.keyspace_hits += 1;
                Some(entry)
            }
            None => {
                stats.keyspace_misses += 1;
                None
            }
        }
    }

    /// `read_entry` for a collection of `kind`; WRONGTYPE for another type.
    pub fn read_coll(&mut self, key: &[u8], kind: Kind) -> Result<Option<&Collection>, CmdError> {
        match self.read_entry(key) {
            None => Ok(None),
            Some(entry) => {
                let value = entry.value();
                check_kind(value, kind)?;
                match value {
                    ValueRef::Coll(c) => Ok(Some(c)),
                    ValueRef::Str(_) => unreachable!("kind checked: a collection"),
                }
            }
        }
    }

    pub fn read_hash(&mut self, key: &[u8]) -> Result<Option<&HashValue>, CmdError> {
        Ok(self.read_coll(key, Kind::Hash)?.map(|c| match c {
            Collection::Hash(h) => h,
            _ => unreachable!("kind checked: a hash"),
        }))
    }

    pub fn read_set(&mut self, key: &[u8]) -> Result<Option<&SetValue>, CmdError> {
        Ok(self.read_coll(key, Kind::Set)?.map(|c| match c {
            Collection::Set(s) => s,
            _ => unreachable!("kind checked: a set"),
        }))
    }

    pub fn read_list(&mut self, key: &[u8]) -> Result<Option<&ListValue>, CmdError> {
        Ok(self.read_coll(key, Kind::List)?.map(|c| match c {
            Collection::List(l) => l,
            _ => unreachable!("kind checked: a list"),
        }))
    }

    pub fn read_zset(&mut self, key: &[u8]) -> Result<Option<&ZSetValue>, CmdError> {
        Ok(self.read_coll(key, Kind::ZSet)?.map(|c| match c {
            Collection::ZSet(z) => z,
            _ => unreachable!("kind checked: a zset"),
        }))
    }

    pub fn read_stream(&mut self, key: &[u8]) -> Result<Option<&StreamValue>, CmdError> {
        Ok(self.read_coll(key, Kind::Stream)?.map(|c| match c {
            Collection::Stream(s) => s,
            _ => unreachable!("kind checked: a stream"),
        }))
    }

    /// Redis's lookupKeyWrite then a type check: the type of the live value under `key`, without
    /// counting hits or touching it; WRONGTYPE when it is not `kind`.
    pub fn check_type(&mut self, key: &[u8], kind: Kind) -> Result<bool, CmdError> {
        let now_ms = self.read_now_ms();
        match self.db().peek(key, now_ms) {
            None => Ok(false),
            Some(entry) => check_kind(entry.value(), kind).map(|()| true),
        }
    }

    /// Wakes the clients blocked on `key` without counting a change (XGROUP DESTROY: its
    /// readers learn that the group is gone; WATCH does not see it, as in Redis).
    pub fn signal_blocked(&mut self, key: &[u8]) {
        self.shard.blocked.signal(self.db as u16, key);
    }

    /// The completion of every write: see `Shard::modified`.
    fn modified_in(&mut self, db: usize, key: &[u8]) {
        self.shard.modified(db as u16, key);
    }

    /// Stores `value` under `key`, replacing any value and deadline, and signals the change.
    pub fn put(&mut self, key: &[u8], value: Value, expire_at_ms: Option<u64>) {
        let entry = Entry::new(key, value, self.now_ms).with_expire_at_ms(expire_at_ms);
        self.put_entry(entry);
    }

    /// Stores a whole entry (its key, value and deadline) in the connection's database.
    pub fn put_entry(&mut self, entry: Entry) {
        self.put_entry_in(self.db, entry);
    }

    /// Stores a whole entry in database `db` of this shard (COPY … DB, MOVE).
    pub fn put_entry_in(&mut self, db: usize, entry: Entry) {
        let now_ms = self.now_ms;
        let key = entry.key().to_vec();
        self.shard.db(db).insert(entry, now_ms);
        self.modified_in(db, &key);
    }

    /// Removes the live entry under `key`, signalling the change; `None` when there was none.
    pub fn delete(&mut self, key: &[u8]) -> Option<Entry> {
        let now_ms = self.read_now_ms();
        let old = self.shard.db(self.db).take(key, now_ms)?;
        self.modified_in(self.db, key);
        Some(old)
    }

    /// Sets (`Some`) or clears (`None`) the deadline of the live key; false when there is no
    /// such key. A deadline set is always a change (as Redis's EXPIRE signals one even when the
    /// same); a clear is one only when the key had a deadline (PERSIST of a persistent key
    /// changes nothing).
    pub fn set_expiry(&mut self, key: &[u8], expire_at_ms: Option<u64>) -> bool {
        let now_ms = self.read_now_ms();
        let db = self.shard.db(self.db);
        let Some(had_deadline) = db.peek(key, now_ms).map(|e| e.expire_at_ms().is_some()) else {
            return false;
        };
        db.set_expire(key, expire_at_ms);
        if expire_at_ms.is_some() || had_deadline {
            self.modified_in(self.db, key);
        }
        true
    }

    /// Lends the live string under `key` to `edit`, in place (its deadline kept), and signals
    /// the change when `edit` reports one; `None` when the key is absent, WRONGTYPE when it
    /// holds another type (Redis's lookupKeyWrite then a type check).
    pub fn edit_str<R>(
        &mut self,
        key: &[u8],
        edit: impl FnOnce(&mut EntryMut<'_>) -> Result<(R, Change), CmdError>,
    ) -> Result<Option<R>, CmdError> {
        let now_ms = self.read_now_ms();
        let Some(mut entry) = self.shard.db(self.db).get_mut(key, now_ms) else {
            return Ok(None);
        };
        check_kind(entry.value(), Kind::Str)?;
        let (reply, change) = edit(&mut entry)?;
        drop(entry);
        if change == Change::Modified {
            self.modified_in(self.db, key);
        }
        Ok(Some(reply))
    }

    /// Lends the collection of `kind` under `key` to `edit` (see the module doc). `new` makes
    /// the empty collection `IfAbsent::Create` lends. Returns `None` when the key is absent and
    /// `if_absent` is `Skip`.
    pub fn edit_coll<R>(
        &mut self,
        key: &[u8],
        kind: Kind,
        if_absent: IfAbsent,
        new: impl FnOnce(u64) -> Collection,
        edit: impl FnOnce(&mut Collection) -> Result<(R, Change), CmdError>,
    ) -> Result<Option<R>, CmdError> {
        if !self.check_type(key, kind)? {
            match if_absent {
                IfAbsent::Skip => return Ok(None),
                IfAbsent::Create => {
                    let mut fresh = new(self.shard.db(self.db).collection_seed());
                    // A new key: stored only when the edit leaves something in it.
                    let result = edit(&mut fresh);
                    if !fresh.is_empty() {
                        self.put(key, Value::Coll(Box::new(fresh)), None);
                    }
                    return result.map(|(reply, _)| Some(reply));
                }
            }
        }
        let now_ms = self.read_now_ms();
        let (result, empty) = {
            let mut entry = self
                .shard
                .db(self.db)
                .get_mut(key, now_ms)
                .expect("check_type found the key live");
            let coll = entry
                .collection_mut()
                .expect("check_type found a collection");
            let result = edit(coll);
            (result, coll.is_empty())
        };
        if empty {
            self.shard.db(self.db).remove(key);
        }
        match result {
            Ok((reply, change)) => {
                if change == Change::Modified || empty {
                    self.modified_in(self.db, key);
                } else if change == Change::Shrunk {
                    self.shard.modified_quietly(self.db as u16, key);
                }
                Ok(Some(reply))
            }
            Err(err) => {
                if empty {
                    self.modified_in(self.db, key);
                }
                Err(err)
            }
        }
    }

    /// `edit_coll` for a hash, with the shard's listpack limits.
    pub fn edit_hash<R>(
        &mut self,
        key: &[u8],
        if_absent: IfAbsent,
        edit: impl FnOnce(&mut HashValue, &crate::db::HashLimits) -> Result<(R, Change), CmdError>,
    ) -> Result<Option<R>, CmdError> {
        let limits = self.shard.limits.hash;
        self.edit_coll(
            key,
            Kind::Hash,
            if_absent,
            |seed| Collection::Hash(HashValue::new(seed)),
            |coll| match coll {
                Collection::Hash(h) => edit(h, &limits),
                _ => unreachable!("kind checked: a hash"),
            },
        )
    }

    /// `edit_coll` for a set; `first` picks the new set's encoding (Redis's setTypeCreate).
    pub fn edit_set<R>(
        &mut self,
        key: &[u8],
        if_absent: IfAbsent,
        first: &[u8],
        edit: impl FnOnce(&mut SetValue, &crate::db::SetLimits) -> Result<(R, Change), CmdError>,
    ) -> Result<Option<R>, CmdError> {
        let limits = self.shard.limits.set;
        self.edit_coll(
            key,
            Kind::Set,
            if_absent,
            |seed| Collection::Set(SetValue::new_for(first, seed)),
            |coll| match coll {
                Collection::Set(s) => edit(s, &limits),
                _ => unreachable!("kind checked: a set"),
            },
        )
    }

    /// `edit_coll` for a list, with the shard's node bound (`list-max-listpack-size`).
    pub fn edit_list<R>(
        &mut self,
        key: &[u8],
        if_absent: IfAbsent,
        edit: impl FnOnce(&mut ListValue, &crate::db::ListLimits) -> Result<(R, Change), CmdError>,
    ) -> Result<Option<R>, CmdError> {
        let limits = self.shard.limits.list;
        self.edit_coll(
            key,
            Kind::List,
            if_absent,
            |_| Collection::List(ListValue::new()),
            |coll| match coll {
                Collection::List(l) => edit(l, &limits),
                _ => unreachable!("kind checked: a list"),
            },
        )
    }

    /// `edit_coll` for a sorted set, with the shard's listpack limits.
    pub fn edit_zset<R>(
        &mut self,
        key: &[u8],
        if_absent: IfAbsent,
        edit: impl FnOnce(&mut ZSetValue, &crate::db::ZSetLimits) -> Result<(R, Change), CmdError>,
    ) -> Result<Option<R>, CmdError> {
        let limits = self.shard.limits.zset;
        self.edit_coll(
            key,
            Kind::ZSet,
            if_absent,
            |seed| Collection::ZSet(ZSetValue::new(seed)),
            |coll| match coll {
                Collection::ZSet(z) => edit(z, &limits),
                _ => unreachable!("kind checked: a zset"),
            },
        )
    }

    /// `edit_coll` for a stream, with the shard's node bounds. A stream is stored even when
    /// the edit leaves it empty (`Collection::is_empty`).
    pub fn edit_stream<R>(
        &mut self,
        key: &[u8],
        if_absent: IfAbsent,
        edit: impl FnOnce(&mut StreamValue, &crate::db::StreamLimits) -> Result<(R, Change), CmdError>,
    ) -> Result<Option<R>, CmdError> {
        let limits = self.shard.limits.stream;
        self.edit_coll(
            key,
            Kind::Stream,
            if_absent,
            |_| Collection::Stream(StreamValue::new()),
            |coll| match coll {
                Collection::Stream(s) => edit(s, &limits),
                _ => unreachable!("kind checked: a stream"),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::TestCluster;

    /// A write signals WATCH only when it changed the key, as in redis-server 7.0 (checked there
    /// with two clients): a failed INCR, a PERSIST of a persistent key and an empty SETRANGE
    /// leave a watcher's EXEC running; APPEND and EXPIRE abort it.
    #[test]
    fn only_a_real_change_signals_watch() {
        let cases: [(&[&str], bool); 7] = [
            (&["INCR", "k"], false),
            (&["INCRBYFLOAT", "k", "1"], false),
            (&["PERSIST", "p"], false),
            (&["SETRANGE", "k", "0", ""], false),
            (&["APPEND", "k", "x"], true),
            (&["EXPIRE", "p", "100"], true),
            (&["SETRANGE", "k", "0", "z"], true),
        ];
        for threads in [1, 3] {
            for (write, aborts) in cases {
                let mut c = TestCluster::new(threads);
                let (watcher, writer) = (c.connect(0), c.connect(threads - 1));
                c.cmd(writer, &["SET", "k", "abc"]);
                c.cmd(writer, &["SET", "p", "1"]);
                c.cmd(watcher, &["WATCH", "k", "p"]);
                c.cmd(writer, write);
                c.cmd(watcher, &["MULTI"]);
                c.cmd(watcher, &["PING"]);
                let exec = c.cmd_text(watcher, &["EXEC"]);
                let want = if aborts { "*-1\r\n" } else { "*1\r\n+PONG\r\n" };
                assert_eq!(exec, want, "{write:?} on {threads} threads");
            }
        }
    }
}
