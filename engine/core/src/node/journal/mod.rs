//! The node's side of the journal (`crate::journal` is the shard's): what each executed command
//! records (`propagate`), and the writer on thread 0 that joins every shard's records into one
//! replayable sequence (`merge`). The append-only file writes that sequence; a replica will
//! read it (papers/journal.md).
//!
//! Capture costs nothing while no journal runs: every site checks `Shard::journal` first.

pub mod merge;
pub mod propagate;
#[cfg(test)]
mod tests;

use crate::argv::Argv;
use crate::cmd::CommandSpec;
use crate::cx::{Cx, Msg, ThreadId};
use crate::journal::{Item, OpenTx, Record, RecordKeys};
use crate::node::Node;
use crate::reply::Reply;
use crate::shard::Shard;

use merge::{Merger, Unit};
use propagate::Propagation;

/// The thread that joins the shards' journals.
pub const WRITER_THREAD: ThreadId = ThreadId(0);

/// Thread 0's writer: the merger and the replayable bytes it produced, not yet taken.
#[derive(Debug)]
pub struct JournalWriter {
    merger: Merger,
    /// The database the bytes' reader has selected.
    selected_db: Option<u16>,
    bytes: Vec<u8>,
    /// Every batch with a ticket up to this one arrived.
    tickets_contiguous: u64,
    /// Tickets that arrived beyond `tickets_contiguous`.
    tickets_ahead: std::collections::BTreeSet<u64>,
}

impl JournalWriter {
    pub fn new(threads: u16) -> JournalWriter {
        JournalWriter {
            merger: Merger::new(usize::from(threads)),
            selected_db: None,
            bytes: Vec::new(),
            tickets_contiguous: 0,
            tickets_ahead: Default::default(),
        }
    }

    /// A shard's batch, sent with `ticket` (0: none was taken).
    pub fn push(&mut self, from: ThreadId, ticket: u64, items: Vec<Item>) {
        if ticket > 0 {
            self.tickets_ahead.insert(ticket);
            while self.tickets_ahead.remove(&(self.tickets_contiguous + 1)) {
                self.tickets_contiguous += 1;
            }
        }
        self.merger.push(usize::from(from.0), ticket, items);
        let (db, bytes) = (&mut self.selected_db, &mut self.bytes);
        self.merger
            .drain(&mut |unit: Unit| merge::encode_unit(&unit, db, bytes));
    }

    /// Every batch with a ticket up to this one is in the bytes handed out (arrived, and
    /// nothing of it waits for another shard's part).
    pub fn written_ticket(&self) -> u64 {
        match self.merger.lowest_waiting_ticket() {
            0 => self.tickets_contiguous,
            waiting => self.tickets_contiguous.min(waiting - 1),
        }
    }

    /// The replayable bytes produced since the last call (RESP commands, as an AOF holds).
    pub fn take_bytes(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }

    /// Parts of transactions still waiting for their other parts.
    pub fn waiting(&self) -> usize {
        self.merger.waiting()
    }
}

/// Journals a command that ran on `shard` in database `db`: the keys that expired or were
/// evicted while it ran, then, when it changed something (`dirty_before` is the shard's count
/// before it ran), its records.
pub fn after_command(
    shard: &mut Shard,
    db: usize,
    spec: &CommandSpec,
    argv: &Argv,
    reply: &Reply,
    dirty_before: u64,
) {
    if shard.journal.is_none() {
        return;
    }
    shard.journal_dropped();
    if shard.stats.dirty == dirty_before {
        return;
    }
    let db16 = db as u16;
    let propagation = propagate::propagation(spec.name, argv, reply, &mut |key| {
        shard.db(db).peek(key, 0).map(|entry| entry.expire_at_ms())
    });
    let keys = if propagate::touches_everything(spec.name, argv) {
        RecordKeys::Everything
    } else {
        RecordKeys::Keys(
            spec.key_indexes(argv)
                .into_iter()
                .map(|i| argv[i].to_vec())
                .collect(),
        )
    };
    let records: Vec<Record> = match propagation {
        Propagation::Verbatim => vec![Record {
            db: db16,
            keys,
            argv: argv.iter().map(<[u8]>::to_vec).collect(),
        }],
        Propagation::Commands(commands) => commands
            .into_iter()
            .map(|argv| Record {
                db: db16,
                keys: keys.clone(),
                argv,
            })
            .collect(),
        Propagation::Values => spec
            .key_indexes(argv)
            .into_iter()
            .map(|i| value_record(shard, db16, &argv[i]))
            .collect(),
    };
    let journal = shard.journal.as_mut().expect("checked above");
    if records.len() > 1 {
        journal.push_atomic(records);
    } else {
        records.into_iter().for_each(|r| journal.push(r));
    }
}

/// The record that sets `key` to what it holds now: RESTORE with an absolute deadline, or DEL.
pub fn value_record(shard: &mut Shard, db: u16, key: &[u8]) -> Record {
    // Peek at time 0: a key kept past its deadline for a queued transaction is still written
    // with that deadline, and the reader expires it.
    let options = dump_options(shard);
    let Some(entry) = shard.db(usize::from(db)).peek(key, 0) else {
        return Record::del(db, key);
    };
    let payload = crate::rdb::dump_payload(entry.value(), &options);
    let ttl = entry.expire_at_ms().unwrap_or(0).to_string();
    Record::on_key(
        db,
        key,
        vec![
            b"RESTORE".to_vec(),
            key.to_vec(),
            ttl.into_bytes(),
            payload,
            b"REPLACE".to_vec(),
            b"ABSTTL".to_vec(),
        ],
    )
}

fn dump_options(shard: &Shard) -> crate::rdb::EncodeOptions {
    crate::rdb::EncodeOptions {
        compression: true,
        list_fill: shard.limits.list.fill,
        stream: shard.limits.stream,
    }
}

/// Journals entries stored whole (a gathered command's results, a script's changes): each
/// key's value, replayed together.
pub fn after_store(shard: &mut Shard, keys: &[(u16, Vec<u8>)]) {
    if shard.journal.is_none() {
        return;
    }
    shard.journal_dropped();
    let records: Vec<Record> = keys
        .iter()
        .map(|(db, key)| value_record(shard, *db, key))
        .collect();
    shard
        .journal
        .as_mut()
        .expect("checked above")
        .push_atomic(records);
}

/// Journals a node-wide command (FLUSHALL, FLUSHDB, SWAPDB) that ran on this shard.
pub fn after_node_command(shard: &mut Shard, db: u16, argv: Vec<Vec<u8>>) {
    if shard.journal.is_none() {
        return;
    }
    shard.journal_dropped();
    let record = Record {
        db,
        keys: RecordKeys::Everything,
        argv,
    };
    shard.journal.as_mut().expect("checked above").push(record);
}

/// A transaction's hop starts running here: its records join its part.
pub fn enter_tx(shard: &mut Shard, tx: Option<OpenTx>) {
    if let (Some(journal), Some(tx)) = (shard.journal.as_mut(), tx) {
        journal.enter_tx(tx);
    }
}

/// The hop ended; with `conclude`, the transaction ended on this shard.
pub fn leave_tx(shard: &mut Shard, tx: Option<OpenTx>, conclude: bool) {
    shard.journal_dropped();
    if let (Some(journal), Some(tx)) = (shard.journal.as_mut(), tx) {
        journal.leave_tx();
        if conclude {
            journal.conclude_tx(tx.txid, tx.shards);
        }
    }
}

/// After each step: expiries and evictions of the step journaled, and what is ready sent to
/// the writer.
pub fn end_of_step(node: &mut Node, cx: &mut Cx) {
    if node.shard.journal.is_none() {
        return;
    }
    node.shard.journal_dropped();
    let journal = node.shard.journal.as_mut().expect("checked above");
    if !journal.has_ready() {
        return;
    }
    let items = journal.take_ready();
    // Under `appendfsync always`, replies wait for the batch's ticket to be durable.
    let ticket = if crate::node::durability::gate_active(&node.config) {
        let ticket = cx.env().journal_tickets().take();
        node.gate.ticket_taken(ticket);
        ticket
    } else {
        0
    };
    if node.thread == WRITER_THREAD {
        if let Some(writer) = node.journal_writer.as_mut() {
            writer.push(node.thread, ticket, items);
        }
        write_out(node, cx);
    } else {
        cx.send(
            WRITER_THREAD,
            Msg::Journal {
                from: node.thread,
                ticket,
                items,
            },
        );
    }
}

/// Thread 0 receives another shard's items.
pub fn on_items(node: &mut Node, from: ThreadId, ticket: u64, items: Vec<Item>, cx: &mut Cx) {
    if let Some(writer) = node.journal_writer.as_mut() {
        writer.push(from, ticket, items);
    }
    write_out(node, cx);
}

/// Hands the writer's new bytes to the append-only file, when there is one (without one,
/// they wait for `take_bytes`).
fn write_out(node: &mut Node, cx: &mut Cx) {
    if node.aof.is_none() {
        return;
    }
    let Some(writer) = node.journal_writer.as_mut() else {
        return;
    };
    let bytes = writer.take_bytes();
    let written_ticket = writer.written_ticket();
    crate::node::aof::append(node, bytes, written_ticket, cx);
}
