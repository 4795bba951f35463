//! Joins the shards' journals into one sequence to replay (papers/journal.md).
//!
//! Each shard's items arrive in the order it made them. Shards own disjoint keys, so records of
//! different shards commute and any interleaving that keeps each shard's order replays to the
//! same state. Transactions are the exception: their parts must come out together. A part
//! waits until every shard's part of its transaction is here; it may then move ahead of items
//! before it on its shard that share no key with it (they commute). That matters: shards run
//! transactions with disjoint keys in either order, so transaction A may precede B on one
//! shard and follow it on another; requiring every part at the head of its queue would wait
//! forever there.

use std::collections::VecDeque;

use crate::journal::{Item, Record, RecordKeys};

/// What the merger hands on: a record, or records to replay as one (MULTI/EXEC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unit {
    One(Record),
    Atomic(Vec<Record>),
}

#[derive(Debug)]
pub struct Merger {
    /// Per shard: its items in order, each with the ticket of the batch it came in (0: none).
    queues: Vec<VecDeque<(u64, Item)>>,
}

fn records(item: &Item) -> &[Record] {
    match item {
        Item::Records(r) | Item::Atomic(r) => r,
        Item::Part { records, .. } => records,
    }
}

fn overlaps(a: &[Record], b: &[Record]) -> bool {
    a.iter()
        .any(|x| b.iter().any(|y| x.keys.overlaps(x.db, &y.keys, y.db)))
}

impl Merger {
    pub fn new(shards: usize) -> Merger {
        Merger {
            queues: (0..shards).map(|_| VecDeque::new()).collect(),
        }
    }

    /// Items from shard `from`, in its order, sent in the batch with `ticket` (0: none).
    pub fn push(&mut self, from: usize, ticket: u64, items: Vec<Item>) {
        self.queues[from].extend(items.into_iter().map(|item| (ticket, item)));
    }

    /// The lowest ticket among items still waiting (0: none waits).
    pub fn lowest_waiting_ticket(&self) -> u64 {
        self.queues
            .iter()
            .flat_map(|q| q.iter().map(|(ticket, _)| *ticket))
            .filter(|&t| t > 0)
            .min()
            .unwrap_or(0)
    }

    /// Items still waiting (parts of transactions whose other parts have not arrived).
    pub fn waiting(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// Hands on everything that may go now, in a replayable order.
    pub fn drain(&mut self, out: &mut impl FnMut(Unit)) {
        loop {
            let mut progress = false;
            for queue in &mut self.queues {
                while let Some((_, Item::Records(_) | Item::Atomic(_))) = queue.front() {
                    match queue.pop_front().map(|(_, item)| item) {
                        Some(Item::Records(records)) => {
                            records.into_iter().for_each(|r| out(Unit::One(r)))
                        }
                        Some(Item::Atomic(records)) => out(Unit::Atomic(records)),
                        _ => unreachable!("the front was checked"),
                    }
                    progress = true;
                }
            }
            let heads: Vec<(u64, u16)> = self
                .queues
                .iter()
                .filter_map(|q| match q.front() {
                    Some((_, Item::Part { txid, shards, .. })) => Some((*txid, *shards)),
                    _ => None,
                })
                .collect();
            for (txid, shards) in heads {
                if let Some(parts) = self.movable_parts(txid, shards) {
                    self.emit_transaction(txid, &parts, out);
                    progress = true;
                    break;
                }
            }
            // Every part at a head may wait for parts behind other transactions: try those too.
            if !progress {
                let candidates: Vec<(u64, u16)> = self
                    .queues
                    .iter()
                    .flat_map(|q| q.iter())
                    .filter_map(|(_, item)| match item {
                        Item::Part { txid, shards, .. } => Some((*txid, *shards)),
                        _ => None,
                    })
                    .collect();
                for (txid, shards) in candidates {
                    if let Some(parts) = self.movable_parts(txid, shards) {
                        self.emit_transaction(txid, &parts, out);
                        progress = true;
                        break;
                    }
                }
            }
            if !progress {
                return;
            }
        }
    }

    /// Where each part of `txid` sits, when all `shards` parts are here and each shares no key
    /// with the items ahead of it on its shard.
    fn movable_parts(&self, txid: u64, shards: u16) -> Option<Vec<(usize, usize)>> {
        let mut found = Vec::new();
        for (q, queue) in self.queues.iter().enumerate() {
            let at = queue
                .iter()
                .position(|(_, item)| matches!(item, Item::Part { txid: t, .. } if *t == txid));
            if let Some(at) = at {
                let part = records(&queue[at].1);
                if queue
                    .iter()
                    .take(at)
                    .any(|(_, ahead)| overlaps(records(ahead), part))
                {
                    return None;
                }
                found.push((q, at));
            }
        }
        (found.len() == usize::from(shards)).then_some(found)
    }

    fn emit_transaction(
        &mut self,
        txid: u64,
        parts: &[(usize, usize)],
        out: &mut impl FnMut(Unit),
    ) {
        let mut all: Vec<Record> = Vec::new();
        for &(q, at) in parts {
            let Some((
                _,
                Item::Part {
                    txid: t, records, ..
                },
            )) = self.queues[q].remove(at)
            else {
                unreachable!("the part was found there")
            };
            debug_assert_eq!(t, txid);
            for record in records {
                // A node-wide command (FLUSHALL) leaves the same record on every shard: once.
                let repeated = record.keys == RecordKeys::Everything && all.contains(&record);
                if !repeated {
                    all.push(record);
                }
            }
        }
        match all.len() {
            0 => {}
            1 => out(Unit::One(all.pop().expect("one"))),
            _ => out(Unit::Atomic(all)),
        }
    }
}

/// Writes units as the RESP commands Redis's AOF holds, with SELECT where the database changes
/// and MULTI/EXEC around atomic units. `db` is the database the reader has selected (None at
/// the start of a file).
pub fn encode_unit(unit: &Unit, db: &mut Option<u16>, out: &mut Vec<u8>) {
    match unit {
        Unit::One(record) => encode_record(record, db, out),
        Unit::Atomic(records) => {
            encode_command(&[b"MULTI".as_slice()], out);
            for record in records {
                encode_record(record, db, out);
            }
            encode_command(&[b"EXEC".as_slice()], out);
        }
    }
}

fn encode_record(record: &Record, db: &mut Option<u16>, out: &mut Vec<u8>) {
    if *db != Some(record.db) {
        let index = record.db.to_string();
        encode_command(&[b"SELECT".as_slice(), index.as_bytes()], out);
        *db = Some(record.db);
    }
    encode_command(&record.argv, out);
}

/// One command as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(argv: &[A], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for arg in argv {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str) -> Record {
        Record::on_key(
            0,
            key.as_bytes(),
            vec![b"SET".to_vec(), key.as_bytes().to_vec(), b"1".to_vec()],
        )
    }

    fn part(txid: u64, keys: &[&str]) -> Item {
        Item::Part {
            txid,
            shards: 2,
            records: keys.iter().map(|k| set(k)).collect(),
        }
    }

    fn drain(m: &mut Merger) -> Vec<Unit> {
        let mut out = Vec::new();
        m.drain(&mut |u| out.push(u));
        out
    }

    #[test]
    fn a_part_waits_for_the_others_and_they_leave_together() {
        let mut m = Merger::new(2);
        m.push(0, 0, vec![Item::Records(vec![set("a")]), part(5, &["x"])]);
        m.push(0, 0, vec![Item::Records(vec![set("b")])]);
        assert_eq!(drain(&mut m), vec![Unit::One(set("a"))]);
        m.push(1, 0, vec![Item::Records(vec![set("c")]), part(5, &["y"])]);
        assert_eq!(
            drain(&mut m),
            vec![
                Unit::One(set("c")),
                Unit::Atomic(vec![set("x"), set("y")]),
                Unit::One(set("b")),
            ]
        );
        assert_eq!(m.waiting(), 0);
    }

    #[test]
    fn transactions_in_opposite_orders_on_two_shards_both_leave() {
        // Disjoint transactions ran 6 then 5 on shard 0 and 5 then 6 on shard 1.
        let mut m = Merger::new(2);
        m.push(0, 0, vec![part(6, &["a6"]), part(5, &["a5"])]);
        m.push(1, 0, vec![part(5, &["b5"]), part(6, &["b6"])]);
        let out = drain(&mut m);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(m.waiting(), 0);
    }

    #[test]
    fn a_part_never_passes_a_record_on_its_keys() {
        let mut m = Merger::new(2);
        // Shard 0 wrote `x` plainly, then the transaction wrote `x`: that order must hold.
        m.push(
            0,
            0,
            vec![
                part(8, &["k"]),
                Item::Records(vec![set("x")]),
                part(9, &["x"]),
            ],
        );
        m.push(1, 0, vec![part(9, &["y"])]);
        // 9 may not pass the plain `x`, which waits behind 8, which waits for shard 1's part.
        assert_eq!(drain(&mut m), vec![]);
        m.push(1, 0, vec![part(8, &["z"])]);
        let out = drain(&mut m);
        let x_plain = out.iter().position(|u| *u == Unit::One(set("x"))).unwrap();
        let x_tx = out
            .iter()
            .position(|u| matches!(u, Unit::Atomic(r) if r.contains(&set("x"))))
            .unwrap();
        assert!(x_plain < x_tx, "{out:?}");
        assert_eq!(m.waiting(), 0);
    }

    #[test]
    fn a_node_wide_record_is_written_once() {
        let flush = Record {
            db: 0,
            keys: RecordKeys::Everything,
            argv: vec![b"FLUSHALL".to_vec()],
        };
        let mut m = Merger::new(2);
        for shard in 0..2 {
            m.push(
                shard,
                0,
                vec![Item::Part {
                    txid: 1,
                    shards: 2,
                    records: vec![flush.clone()],
                }],
            );
        }
        assert_eq!(drain(&mut m), vec![Unit::One(flush)]);
    }

    #[test]
    fn units_encode_as_redis_writes_its_aof() {
        let mut out = Vec::new();
        let mut db = None;
        encode_unit(&Unit::One(set("a")), &mut db, &mut out);
        let mut other = set("b");
        other.db = 2;
        encode_unit(&Unit::Atomic(vec![set("c"), other]), &mut db, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n\
             *1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\n1\r\n\
             *2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n1\r\n\
             *1\r\n$4\r\nEXEC\r\n"
        );
        assert_eq!(db, Some(2));
    }
}
