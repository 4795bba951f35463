//! `appendfsync always`: a reply leaves only once the writes made before it are on disk and
//! fsynced, as Redis sends replies only after `beforeSleep` wrote and fsynced the AOF.
//!
//! Each journal batch a shard sends takes a node-wide ticket (`env::JournalTickets`), and the
//! writer publishes the highest ticket up to which everything is durable. Output produced on
//! this thread is held with the last ticket taken anywhere at that moment (and this step's own
//! ticket, known at the end of the step): any write it could depend on (here, or on a shard
//! that answered a hop, which took its ticket before its answer left) has a ticket no higher.
//! A reply may so wait for unrelated writes too; that is the group commit: one fsync answers
//! every connection whose writes it covers. Held output keeps its order, per connection.

use std::collections::{BTreeMap, VecDeque};

use crate::config::{AppendFsync, Config};
use crate::cx::{ConnId, Cx, Effect};

/// Whether replies must wait for durability.
pub fn gate_active(config: &Config) -> bool {
    config.appendonly && config.appendfsync == AppendFsync::Always
}

#[derive(Debug)]
struct Held {
    need: u64,
    /// Produced in the current step: its need also covers the ticket this step may take.
    this_step: bool,
    conn: ConnId,
    effect: Effect,
}

#[derive(Debug, Default)]
pub struct Gate {
    held: VecDeque<Held>,
    /// Held effects per connection: a connection with any keeps holding, to stay in order.
    holding: BTreeMap<ConnId, usize>,
}

impl Gate {
    /// Sends `effect` for `conn` now, or holds it until what came before it is durable.
    pub fn emit(&mut self, active: bool, cx: &mut Cx, conn: ConnId, effect: Effect) {
        let planted = active && cx.planted(crate::cx::Plant::AckBeforeFsync);
        if planted {
            cx.mark("plant.ack_before_fsync");
        }
        if (!active || planted) && !self.holding.contains_key(&conn) {
            cx.push(effect);
            return;
        }
        let need = cx.env().journal_tickets().taken();
        *self.holding.entry(conn).or_default() += 1;
        self.held.push_back(Held {
            need,
            this_step: true,
            conn,
            effect,
        });
    }

    /// This step's journal batch took `ticket`: output held in this step waits for it too.
    pub fn ticket_taken(&mut self, ticket: u64) {
        for held in self.held.iter_mut().rev().take_while(|h| h.this_step) {
            held.need = held.need.max(ticket);
        }
    }

    /// The step ends: its held output now knows what it waits for; release what may go.
    pub fn end_step(&mut self, cx: &mut Cx) {
        for held in self.held.iter_mut().rev().take_while(|h| h.this_step) {
            held.this_step = false;
        }
        self.release(cx);
    }

    /// The writer made tickets up to `ticket` durable.
    pub fn durable(&mut self, ticket: u64, cx: &mut Cx) {
        cx.env().journal_tickets().set_durable(ticket);
        self.release(cx);
    }

    fn release(&mut self, cx: &mut Cx) {
        let durable = cx.env().journal_tickets().durable();
        while let Some(front) = self.held.front() {
            if front.this_step || front.need > durable {
                return;
            }
            let held = self.held.pop_front().expect("the front");
            if let Some(n) = self.holding.get_mut(&held.conn) {
                *n -= 1;
                if *n == 0 {
                    self.holding.remove(&held.conn);
                }
            }
            cx.push(held.effect);
        }
    }
}
