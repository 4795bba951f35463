//! The write journal of one shard: every change the shard made, as commands that replay it on
//! the state before (Redis's "propagation"). The append-only file and, later, the replication
//! stream read it (papers/journal.md).
//!
//! A shard journals nothing until it is switched on (`Shard::start_journal`). Then each command
//! that changed something leaves records: its own arguments when replaying them gives the same
//! result, a rewritten command when the outcome depended on time or chance (SET EX becomes SET
//! PXAT, SPOP becomes SREM), or the changed keys' values (RESTORE … ABSTTL) otherwise. Keys that
//! left without a command saying so (expired, evicted) become DEL records first.
//!
//! Records a transaction makes on this shard stay together and leave as one `Item::Part` when
//! the transaction concludes here; the node's merger (`node::journal::merge`) joins the parts of
//! every shard into one atomic unit, so a multi-shard MSET or EXEC is replayed whole or not at all.

use std::collections::BTreeMap;

/// Which keys a record touches: the merger reorders only records with no key in common.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordKeys {
    /// These keys of the record's database.
    Keys(Vec<Vec<u8>>),
    /// Every key of every database (FLUSHALL, FLUSHDB, SWAPDB, MOVE and the like).
    Everything,
}

impl RecordKeys {
    /// Whether a record in `db` with these keys and one in `other_db` with `other` may touch the
    /// same key.
    pub fn overlaps(&self, db: u16, other: &RecordKeys, other_db: u16) -> bool {
        match (self, other) {
            (RecordKeys::Everything, _) | (_, RecordKeys::Everything) => true,
            (RecordKeys::Keys(a), RecordKeys::Keys(b)) => {
                db == other_db && a.iter().any(|k| b.contains(k))
            }
        }
    }
}

/// One command to replay, in database `db`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub db: u16,
    pub keys: RecordKeys,
    pub argv: Vec<Vec<u8>>,
}

impl Record {
    /// A command on one key.
    pub fn on_key(db: u16, key: &[u8], argv: Vec<Vec<u8>>) -> Record {
        Record {
            db,
            keys: RecordKeys::Keys(vec![key.to_vec()]),
            argv,
        }
    }

    /// `DEL key`: how a key that expired or was evicted leaves the journal.
    pub fn del(db: u16, key: &[u8]) -> Record {
        Record::on_key(db, key, vec![b"DEL".to_vec(), key.to_vec()])
    }
}

/// What a shard hands to the journal's writer, in the order the shard made the changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// Records replayed one by one.
    Records(Vec<Record>),
    /// Records that must be replayed together (an EXEC body on this shard alone).
    Atomic(Vec<Record>),
    /// This shard's records of transaction `txid`, which ran on `shards` shards: the writer
    /// waits for every part and replays them together.
    Part {
        txid: u64,
        shards: u16,
        records: Vec<Record>,
    },
}

/// The transaction whose hop is running on the shard now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenTx {
    pub txid: u64,
    /// Shards the transaction runs on (1: this one alone).
    pub shards: u16,
}

/// One shard's journal: records made since the writer last took them.
#[derive(Debug, Default)]
pub struct Journal {
    /// Finished items, oldest first.
    ready: Vec<Item>,
    /// Plain records of the current step, not yet made an item (joined into one).
    plain: Vec<Record>,
    /// Records of transactions still running here, by txid, with their shard count.
    open: BTreeMap<u64, (u16, Vec<Record>)>,
    /// Where records go now: a running transaction, or plain.
    current: Option<OpenTx>,
}

impl Journal {
    /// Records go to `tx` until `leave_tx`.
    pub fn enter_tx(&mut self, tx: OpenTx) {
        self.current = Some(tx);
    }

    pub fn leave_tx(&mut self) {
        self.current = None;
    }

    pub fn push(&mut self, record: Record) {
        match self.current {
            Some(tx) => self
                .open
                .entry(tx.txid)
                .or_insert_with(|| (tx.shards, Vec::new()))
                .1
                .push(record),
            None => self.plain.push(record),
        }
    }

    /// Records that must be replayed together: inside a running transaction they join its
    /// part; otherwise they leave as one atomic item.
    pub fn push_atomic(&mut self, records: Vec<Record>) {
        if self.current.is_some() || records.len() < 2 {
            records.into_iter().for_each(|r| self.push(r));
            return;
        }
        self.flush_plain();
        self.ready.push(Item::Atomic(records));
    }

    /// Transaction `txid` ended on this shard: its records leave as one item, in the place of
    /// the conclusion (the transaction's intents kept every other record off its keys until
    /// now, so nothing it wrote can have been changed by a record before this place). A
    /// transaction of several shards leaves a part even when it wrote nothing here: the
    /// writer counts parts.
    pub fn conclude_tx(&mut self, txid: u64, shards: u16) {
        let records = self
            .open
            .remove(&txid)
            .map(|(_, records)| records)
            .unwrap_or_default();
        if shards > 1 {
            self.flush_plain();
            self.ready.push(Item::Part {
                txid,
                shards,
                records,
            });
        } else if records.len() > 1 {
            self.flush_plain();
            self.ready.push(Item::Atomic(records));
        } else {
            self.plain.extend(records);
        }
    }

    fn flush_plain(&mut self) {
        if !self.plain.is_empty() {
            self.ready
                .push(Item::Records(std::mem::take(&mut self.plain)));
        }
    }

    /// Everything finished so far, oldest first; records of running transactions stay.
    pub fn take_ready(&mut self) -> Vec<Item> {
        self.flush_plain();
        std::mem::take(&mut self.ready)
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty() || !self.plain.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str) -> Record {
        Record::on_key(
            0,
            key.as_bytes(),
            vec![b"SET".to_vec(), key.as_bytes().to_vec(), b"v".to_vec()],
        )
    }

    #[test]
    fn a_transaction_leaves_as_one_part_where_it_concludes() {
        let mut j = Journal::default();
        j.push(set("a"));
        j.enter_tx(OpenTx { txid: 7, shards: 2 });
        j.push(set("t1"));
        j.leave_tx();
        j.push(set("b"));
        j.enter_tx(OpenTx { txid: 7, shards: 2 });
        j.push(set("t2"));
        j.leave_tx();
        j.conclude_tx(7, 2);
        j.push(set("c"));
        assert_eq!(
            j.take_ready(),
            vec![
                Item::Records(vec![set("a"), set("b")]),
                Item::Part {
                    txid: 7,
                    shards: 2,
                    records: vec![set("t1"), set("t2")]
                },
                Item::Records(vec![set("c")]),
            ]
        );
        assert!(!j.has_ready());
    }

    #[test]
    fn a_one_shard_transaction_is_atomic_only_with_several_records() {
        let mut j = Journal::default();
        j.enter_tx(OpenTx { txid: 1, shards: 1 });
        j.push(set("a"));
        j.leave_tx();
        j.conclude_tx(1, 1);
        j.enter_tx(OpenTx { txid: 2, shards: 1 });
        j.push(set("b"));
        j.push(set("c"));
        j.leave_tx();
        j.conclude_tx(2, 1);
        j.conclude_tx(3, 2);
        assert_eq!(
            j.take_ready(),
            vec![
                Item::Records(vec![set("a")]),
                Item::Atomic(vec![set("b"), set("c")]),
                Item::Part {
                    txid: 3,
                    shards: 2,
                    records: vec![]
                },
            ]
        );
    }

    #[test]
    fn keys_overlap_only_in_the_same_database() {
        let a = RecordKeys::Keys(vec![b"a".to_vec()]);
        let b = RecordKeys::Keys(vec![b"b".to_vec(), b"a".to_vec()]);
        assert!(a.overlaps(0, &b, 0));
        assert!(!a.overlaps(0, &b, 1));
        assert!(!a.overlaps(0, &RecordKeys::Keys(vec![b"c".to_vec()]), 0));
        assert!(RecordKeys::Everything.overlaps(3, &a, 0));
    }
}
