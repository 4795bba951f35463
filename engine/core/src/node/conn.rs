//! A client connection: its decoder, its per-connection state (database, protocol version,
//! name, authentication), the replies of the current step, and what it is waiting for.
//!
//! A connection runs its commands strictly in order. While a command waits for hops to other
//! shards the connection is `Waiting` and decodes nothing further, so replies leave in order.
//! Backpressure: once the bytes handed to the driver but not yet written pass
//! `OUTPUT_PENDING_PAUSE_BYTES`, the connection stops running commands and stops reading, until
//! the driver reports the output drained below `OUTPUT_PENDING_RESUME_BYTES`.
//!
//! End of input (the peer shut its sending side) is not the end of the connection: the commands
//! already read still run and are answered, then the connection closes (`input_ended`), as
//! Redis does for `printf 'GET a\r\n' | nc -N`. A peer that vanishes (`peer_gone`) gets nothing.

use std::collections::BTreeMap;

use crate::argv::Argv;
use crate::cx::{ConnId, ConnOpen};
use crate::hop::Pending;
use crate::resp::{Decoder, Limits, RespVersion};

/// Stop running commands when this much output is queued in the driver.
pub const OUTPUT_PENDING_PAUSE_BYTES: usize = 1024 * 1024;
/// Resume when the queued output drains below this.
pub const OUTPUT_PENDING_RESUME_BYTES: usize = 256 * 1024;
const _: () = assert!(OUTPUT_PENDING_RESUME_BYTES < OUTPUT_PENDING_PAUSE_BYTES);
/// While a connection waits, stop reading once this much unparsed input is buffered.
pub const INPUT_BUFFERED_PAUSE_BYTES: usize = 64 * 1024;

/// What the connection is doing.
#[derive(Debug)]
pub enum ConnState {
    /// Running commands as they arrive.
    Ready,
    /// A command waits for hops to other shards.
    Waiting(Box<Pending>),
    /// DEBUG SLEEP: resumes at the timer.
    Sleeping,
    /// A blocking command waits for a key (BLPOP…): resumes when served, timed out or
    /// unblocked.
    Blocked(Box<crate::node::blocking::Blocked>),
    /// The last reply is out; the connection closes once it is flushed.
    Closing,
}

/// Settings a client can change about itself (CLIENT NO-EVICT, NO-TOUCH, SETINFO).
#[derive(Clone, Debug, Default)]
pub struct ClientAttrs {
    pub name: Option<Vec<u8>>,
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
    pub no_evict: bool,
    pub no_touch: bool,
}

/// A command name as a client sent it (at most `LookedUp::NAME_LEN_MAX` bytes) and its spec.
#[derive(Clone, Copy, Debug)]
pub struct LookedUp {
    name: [u8; LookedUp::NAME_LEN_MAX],
    name_len: u8,
    pub spec: &'static crate::cmd::CommandSpec,
    pub slot: crate::cmd::StatSlot,
}

impl LookedUp {
    const NAME_LEN_MAX: usize = 16;

    /// `None` for names too long to remember (no command name is that long).
    pub fn new(
        name: &[u8],
        slot: crate::cmd::StatSlot,
        spec: &'static crate::cmd::CommandSpec,
    ) -> Option<LookedUp> {
        let mut kept = [0; LookedUp::NAME_LEN_MAX];
        kept.get_mut(..name.len())?.copy_from_slice(name);
        Some(LookedUp {
            name: kept,
            name_len: name.len() as u8,
            spec,
            slot,
        })
    }

    pub fn is(&self, name: &[u8]) -> bool {
        self.name[..usize::from(self.name_len)] == *name
    }
}

pub struct Conn {
    pub id: ConnId,
    pub peer_addr: String,
    pub local_addr: String,
    pub peer_is_loopback: bool,
    /// The socket's descriptor (CLIENT LIST `fd=`).
    pub fd: i32,
    pub decoder: Decoder,
    pub resp: RespVersion,
    pub db: usize,
    pub authenticated: bool,
    pub attrs: ClientAttrs,
    pub state: ConnState,
    /// A decoded command not yet run (it did not fit the batch sent to another shard).
    pub stashed: Option<Argv>,
    /// Reply bytes of this step, flushed as one write at its end.
    pub out: Vec<u8>,
    /// Bytes handed to the driver and not yet reported written.
    pub out_pending_bytes: usize,
    pub reading: bool,
    pub created_ms: u64,
    pub last_cmd_ms: u64,
    /// When bytes last came in or went out (Redis's `lastinteraction`): the idle `timeout`
    /// counts from here, on the monotonic clock so a wall-clock step closes nobody.
    pub last_interaction_mono_us: u64,
    /// Full name of the last command run ("get", "client|list").
    pub last_cmd: &'static str,
    /// The last command name looked up, as sent, and what it resolved to (before any
    /// subcommand): pipelines repeat names, and comparing bytes with one name is cheaper than
    /// the index's case-folding hash and probe.
    pub last_looked_up: std::cell::Cell<Option<LookedUp>>,
    pub commands_processed: u64,
    /// The peer closed while a command was in flight; drop the connection when it finishes.
    pub peer_gone: bool,
    /// The peer will send nothing more (it shut its sending side): run what was read, reply,
    /// then close.
    pub input_ended: bool,
    /// Commands queued since MULTI, until EXEC or DISCARD.
    pub multi: Option<crate::multi::MultiQueue>,
    /// The (database, key) pairs this connection WATCHes, until EXEC, DISCARD or UNWATCH.
    pub watching: Vec<(u16, Vec<u8>)>,
    /// Channels, patterns and shard channels this connection subscribes to.
    pub subs: crate::node::pubsub::ConnSubs,
    /// A Memcached connection's decoder and reply state; `None` for RESP.
    pub memcache: Option<Box<crate::node::memcache::MemcacheConn>>,
    /// Error replies encoded and not yet counted by the thread (INFO errorstats).
    pub errors: ConnErrors,
}

/// The error replies a connection encoded since its thread last counted them.
#[derive(Debug, Default)]
pub struct ConnErrors {
    /// Their codes (`observe::error_code`), in order.
    pub codes: Vec<Vec<u8>>,
    /// Error replies encoded since the connection opened.
    pub encoded: u64,
    /// Of those, the ones already charged to a command as a failed call.
    pub charged: u64,
    /// The latest command dispatched or squashed: the one a late error is charged to.
    pub last_slot: Option<crate::cmd::StatSlot>,
}

impl ConnErrors {
    /// An error reply; one inside an array (EXEC's) counts by code but fails no command here
    /// (the queued command it belongs to was charged when EXEC counted it).
    fn note(&mut self, err: &crate::error::CmdError, nested: bool) {
        self.encoded += u64::from(!nested);
        let text = err.wire();
        self.codes
            .push(crate::node::observe::error_code(&text).to_vec());
    }
}

impl Conn {
    pub fn new(
        open: &ConnOpen,
        authenticated: bool,
        limits: Limits,
        (now_ms, now_mono_us): (u64, u64),
    ) -> Conn {
        let mut decoder = Decoder::new(limits);
        decoder.set_authenticated(authenticated);
        Conn {
            id: open.conn,
            peer_addr: open.peer_addr.clone(),
            local_addr: open.local_addr.clone(),
            peer_is_loopback: open.peer_is_loopback,
            fd: open.fd,
            decoder,
            resp: RespVersion::Resp2,
            db: 0,
            authenticated,
            attrs: ClientAttrs::default(),
            state: ConnState::Ready,
            stashed: None,
            out: Vec::new(),
            out_pending_bytes: 0,
            reading: true,
            created_ms: now_ms,
            last_cmd_ms: now_ms,
            last_interaction_mono_us: now_mono_us,
            last_cmd: "NULL",
            last_looked_up: std::cell::Cell::new(None),
            commands_processed: 0,
            peer_gone: false,
            input_ended: false,
            multi: None,
            watching: Vec::new(),
            subs: Default::default(),
            memcache: match open.protocol {
                crate::cx::Protocol::Resp => None,
                crate::cx::Protocol::Memcache {
                    item_size_max_bytes,
                } => Some(Box::new(crate::node::memcache::MemcacheConn::new(
                    item_size_max_bytes,
                ))),
            },
            errors: ConnErrors::default(),
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.state, ConnState::Ready)
    }

    /// True while output is backed up enough that running more commands would grow it.
    pub fn output_backed_up(&self) -> bool {
        self.out_pending_bytes + self.out.len() >= OUTPUT_PENDING_PAUSE_BYTES
    }

    /// Whether the driver should read more from the socket now.
    pub fn wants_input(&self) -> bool {
        if matches!(self.state, ConnState::Closing) {
            return false;
        }
        if self.output_backed_up() {
            return false;
        }
        self.is_ready() || self.buffered_input_bytes() < INPUT_BUFFERED_PAUSE_BYTES
    }

    /// Input received and not yet decoded into commands, whatever the protocol.
    pub fn buffered_input_bytes(&self) -> usize {
        match &self.memcache {
            Some(mc) => mc.decoder.buffered_len_bytes(),
            None => self.decoder.buffered_len_bytes(),
        }
    }

    /// Bytes read from the socket, for the connection's decoder.
    pub fn feed(&mut self, bytes: &[u8]) {
        match &mut self.memcache {
            Some(mc) => mc.decoder.feed(bytes),
            None => self.decoder.feed(bytes),
        }
    }

    /// The next command into `argv`, whatever the protocol (a Memcached refusal is a request
    /// too, so it keeps its place); false when more bytes are needed.
    pub fn next_command_into(
        &mut self,
        argv: &mut Argv,
    ) -> Result<bool, crate::resp::ProtocolError> {
        match &mut self.memcache {
            Some(mc) => Ok(mc.decoder.next_request_into(argv)),
            None => self.decoder.next_command_into(argv),
        }
    }

    pub fn set_authenticated(&mut self, authenticated: bool) {
        self.authenticated = authenticated;
        self.decoder.set_authenticated(authenticated);
    }

    pub fn encode(&mut self, reply: &crate::reply::Reply) {
        use crate::reply::Reply;
        if let Some(mc) = &mut self.memcache {
            crate::node::memcache::encode(reply, mc, &mut self.out);
            return;
        }
        // Errors inside an array count too (EXEC's replies), as Redis counts every error reply.
        match reply {
            Reply::Error(err) => self.errors.note(err, false),
            Reply::Array(items) => {
                for item in items {
                    if let Reply::Error(err) = item {
                        self.errors.note(err, true);
                    }
                }
            }
            _ => {}
        }
        crate::resp::encode(reply, self.resp, &mut self.out);
    }
}

/// The connections a thread hosts, by id. A connection running a step is checked out (`take`)
/// and checked back in (`put_back`): while out it is invisible (`get`, `values`, `len` skip
/// it), as the code that lists connections expects, yet it keeps its slot. So the hot path
/// moves one pointer each way and never restructures the id index; only open and close do.
#[derive(Default)]
pub struct ConnTable {
    /// Slot of each hosted connection, in id order (CLIENT LIST order).
    index: BTreeMap<ConnId, usize>,
    /// `None`: checked out, or free (then listed in `free`).
    slots: Vec<Option<Box<Conn>>>,
    free: Vec<usize>,
    /// Connections in `slots` (checked in).
    present: usize,
    /// The last connection looked up and its slot: a step looks its connection up several
    /// times (data in, check out, check in), so the index is searched once.
    last: Option<(ConnId, usize)>,
}

impl ConnTable {
    /// Hosts a new connection; an id already hosted is a caller bug.
    pub fn insert(&mut self, conn: Box<Conn>) {
        let id = conn.id;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(conn);
                slot
            }
            None => {
                self.slots.push(Some(conn));
                self.slots.len() - 1
            }
        };
        let old = self.index.insert(id, slot);
        assert!(old.is_none(), "conn {id:?} hosted twice");
        self.present += 1;
    }

    fn slot_of(&mut self, id: &ConnId) -> Option<usize> {
        match self.last {
            Some((last, slot)) if last == *id => Some(slot),
            _ => {
                let slot = *self.index.get(id)?;
                self.last = Some((*id, slot));
                Some(slot)
            }
        }
    }

    pub fn get(&self, id: &ConnId) -> Option<&Conn> {
        let slot = match self.last {
            Some((last, slot)) if last == *id => slot,
            _ => *self.index.get(id)?,
        };
        self.slots[slot].as_deref()
    }

    pub fn get_mut(&mut self, id: &ConnId) -> Option<&mut Conn> {
        let slot = self.slot_of(id)?;
        self.slots[slot].as_deref_mut()
    }

    /// Checks a connection out to run a step; `None` when it is not hosted or already out.
    pub fn take(&mut self, id: &ConnId) -> Option<Box<Conn>> {
        let slot = self.slot_of(id)?;
        let conn = self.slots[slot].take()?;
        self.present -= 1;
        Some(conn)
    }

    /// Checks back in a connection `take` handed out.
    pub fn put_back(&mut self, conn: Box<Conn>) {
        let slot = self
            .slot_of(&conn.id)
            .unwrap_or_else(|| panic!("conn {:?} put back but not hosted", conn.id));
        assert!(
            self.slots[slot].is_none(),
            "conn {:?} put back twice",
            conn.id
        );
        self.slots[slot] = Some(conn);
        self.present += 1;
    }

    /// Stops hosting `id`, checked in or out; returns the connection if it was checked in.
    pub fn remove(&mut self, id: &ConnId) -> Option<Box<Conn>> {
        let slot = self.index.remove(id)?;
        if self.last.is_some_and(|(last, _)| last == *id) {
            self.last = None;
        }
        self.free.push(slot);
        let conn = self.slots[slot].take();
        self.present -= usize::from(conn.is_some());
        conn
    }

    /// Checked-in connections, in id order.
    pub fn values(&self) -> impl Iterator<Item = &Conn> + '_ {
        self.index
            .values()
            .filter_map(|&slot| self.slots[slot].as_deref())
    }

    /// Checked-in connections.
    pub fn len(&self) -> usize {
        self.present
    }

    pub fn is_empty(&self) -> bool {
        self.present == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(id: u64) -> Box<Conn> {
        let open = ConnOpen {
            conn: ConnId(id),
            peer_addr: "127.0.0.1:1".into(),
            local_addr: "127.0.0.1:2".into(),
            peer_is_loopback: true,
            clients_total: 1,
            fd: crate::cx::fake_fd(id),
            protocol: Default::default(),
        };
        Box::new(Conn::new(&open, true, Limits::default(), (0, 0)))
    }

    fn ids(table: &ConnTable) -> Vec<u64> {
        table.values().map(|c| c.id.0).collect()
    }

    #[test]
    fn checked_out_connections_are_hidden_but_keep_their_place() {
        let mut table = ConnTable::default();
        for id in [3, 1, 2] {
            table.insert(conn(id));
        }
        assert_eq!((ids(&table), table.len()), (vec![1, 2, 3], 3));
        let two = table.take(&ConnId(2)).unwrap();
        assert!(table.take(&ConnId(2)).is_none(), "already out");
        assert!(table.get(&ConnId(2)).is_none());
        assert_eq!((ids(&table), table.len()), (vec![1, 3], 2));
        table.put_back(two);
        assert_eq!((ids(&table), table.len()), (vec![1, 2, 3], 3));
        table.get_mut(&ConnId(3)).unwrap().db = 5;
        assert_eq!(table.get(&ConnId(3)).unwrap().db, 5);
    }

    #[test]
    fn removal_frees_the_slot_checked_in_or_out() {
        let mut table = ConnTable::default();
        table.insert(conn(1));
        table.insert(conn(2));
        let one = table.take(&ConnId(1)).unwrap();
        assert!(table.remove(&ConnId(1)).is_none(), "it was out");
        drop(one);
        assert_eq!(table.remove(&ConnId(2)).map(|c| c.id), Some(ConnId(2)));
        assert!(table.is_empty());
        table.insert(conn(4));
        table.insert(conn(5));
        assert_eq!(table.slots.len(), 2, "freed slots are reused");
        assert_eq!(ids(&table), vec![4, 5]);
        // The lookup cache forgets a removed connection whose slot went to another.
        let four = table.take(&ConnId(4)).unwrap();
        assert!(table.remove(&ConnId(4)).is_none());
        drop(four);
        table.insert(conn(6));
        assert!(table.get(&ConnId(4)).is_none());
        assert!(table.take(&ConnId(4)).is_none());
        assert_eq!(table.get(&ConnId(6)).map(|c| c.id), Some(ConnId(6)));
    }
}
