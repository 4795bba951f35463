//! The one typed lookup path and the one write path every command family uses.
//!
//! Reads: `read_*` are Redis's lookupKeyRead: lazy expiry, an access (LRU clock, cache-mode
//! promotion), a keyspace hit or miss (a key of another type counts as a hit), then the type
//! check that answers WRONGTYPE. `peek_kind` looks without counting, as lookupKeyWrite does.
//!
//! Writes: every change to a key goes through `put`, `delete` or `edit_*`, and each ends in
//! `Shard::modified`, the completion hook that signals WATCH, counts the change for
//! `rdb_changes_since_last_save` and is where keyspace notifications and the journal attach.
//! `edit_*` lends the collection under the key (creating it when asked), and afterwards
//! settles the byte count, deletes a collection left empty (Redis never stores one) and
//! signals the change only when the handler reports one.

use crate::db::{Collection, Entry, HashValue, Kind, SetValue, Value, ValueRef, ZSetValue};
use crate::error::CmdError;
use crate::shard::ExecCx;

/// Whether an edit changed the key (WATCH, dirty count and, later, notifications follow it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Modified,
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

impl ExecCx<'_> {
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
            Collection::Set(_) | Collection::ZSet(_) => unreachable!("kind checked: a hash"),
        }))
    }

    pub fn read_set(&mut self, key: &[u8]) -> Result<Option<&SetValue>, CmdError> {
        Ok(self.read_coll(key, Kind::Set)?.map(|c| match c {
            Collection::Set(s) => s,
            Collection::Hash(_) | Collection::ZSet(_) => unreachable!("kind checked: a set"),
        }))
    }

    pub fn read_zset(&mut self, key: &[u8]) -> Result<Option<&ZSetValue>, CmdError> {
        Ok(self.read_coll(key, Kind::ZSet)?.map(|c| match c {
            Collection::ZSet(z) => z,
            Collection::Hash(_) | Collection::Set(_) => unreachable!("kind checked: a zset"),
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

    /// Stores `value` under `key`, replacing any value and deadline, and signals the change.
    pub fn put(&mut self, key: &[u8], value: Value, expire_at_ms: Option<u64>) {
        let now_ms = self.now_ms;
        let entry = Entry::new(key, value, now_ms).with_expire_at_ms(expire_at_ms);
        self.db().insert(entry, now_ms);
        self.modified(key);
    }

    /// Removes the live entry under `key`, signalling the change; `None` when there was none.
    pub fn delete(&mut self, key: &[u8]) -> Option<Entry> {
        let now_ms = self.read_now_ms();
        let old = self.db().take(key, now_ms)?;
        self.modified(key);
        Some(old)
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
                    let mut fresh = new(self.db().collection_seed());
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
                .db()
                .get_mut(key, now_ms)
                .expect("check_type found the key live");
            let coll = entry
                .collection_mut()
                .expect("check_type found a collection");
            let result = edit(coll);
            (result, coll.is_empty())
        };
        if empty {
            self.db().remove(key);
        }
        match result {
            Ok((reply, change)) => {
                if change == Change::Modified || empty {
                    self.modified(key);
                }
                Ok(Some(reply))
            }
            Err(err) => {
                if empty {
                    self.modified(key);
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
                Collection::Set(_) | Collection::ZSet(_) => unreachable!("kind checked: a hash"),
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
                Collection::Hash(_) | Collection::ZSet(_) => unreachable!("kind checked: a set"),
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
                Collection::Hash(_) | Collection::Set(_) => unreachable!("kind checked: a zset"),
            },
        )
    }
}
