//! A client connection: its decoder, its per-connection state (database, protocol version,
//! name, authentication), the replies of the current step, and what it is waiting for.
//!
//! A connection runs its commands strictly in order. While a command waits for hops to other
//! shards the connection is `Waiting` and decodes nothing further, so replies leave in order.
//! Backpressure: once the bytes handed to the driver but not yet written pass
//! `OUTPUT_PENDING_PAUSE_BYTES`, the connection stops running commands and stops reading, until
//! the driver reports the output drained below `OUTPUT_PENDING_RESUME_BYTES`.

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

pub struct Conn {
    pub id: ConnId,
    pub peer_addr: String,
    pub local_addr: String,
    pub peer_is_loopback: bool,
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
    /// Full name of the last command run ("get", "client|list").
    pub last_cmd: &'static str,
    pub commands_processed: u64,
    /// The peer closed while a command was in flight; drop the connection when it finishes.
    pub peer_gone: bool,
    /// Commands queued since MULTI, until EXEC or DISCARD.
    pub multi: Option<crate::multi::MultiQueue>,
    /// The (database, key) pairs this connection WATCHes, until EXEC, DISCARD or UNWATCH.
    pub watching: Vec<(u16, Vec<u8>)>,
}

impl Conn {
    pub fn new(open: &ConnOpen, authenticated: bool, limits: Limits, now_ms: u64) -> Conn {
        let mut decoder = Decoder::new(limits);
        decoder.set_authenticated(authenticated);
        Conn {
            id: open.conn,
            peer_addr: open.peer_addr.clone(),
            local_addr: open.local_addr.clone(),
            peer_is_loopback: open.peer_is_loopback,
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
            last_cmd: "NULL",
            commands_processed: 0,
            peer_gone: false,
            multi: None,
            watching: Vec::new(),
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
        self.is_ready() || self.decoder.buffered_len_bytes() < INPUT_BUFFERED_PAUSE_BYTES
    }

    pub fn set_authenticated(&mut self, authenticated: bool) {
        self.authenticated = authenticated;
        self.decoder.set_authenticated(authenticated);
    }

    pub fn encode(&mut self, reply: &crate::reply::Reply) {
        crate::resp::encode(reply, self.resp, &mut self.out);
    }
}
