//! RESP: an incremental sans-IO decoder (bytes in, argument vectors out) and the RESP2/RESP3
//! encoders. (Skeleton: the decoder and encoder land in their own change.)

use crate::argv::Argv;
use crate::reply::Reply;

/// The protocol version a connection speaks (HELLO switches it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RespVersion {
    #[default]
    Resp2,
    Resp3,
}

/// Redis's protocol limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `proto-max-bulk-len`: the longest bulk string accepted.
    pub bulk_len_max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            bulk_len_max_bytes: 512 * 1024 * 1024,
        }
    }
}

/// A protocol violation. Redis answers `-ERR Protocol error: <detail>` and closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolError(pub &'static str);

#[derive(Debug, Default)]
pub struct Decoder {
    _limits: Limits,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder { _limits: limits }
    }

    /// Before AUTH, Redis accepts only small requests.
    pub fn set_authenticated(&mut self, _authenticated: bool) {}

    pub fn set_limits(&mut self, limits: Limits) {
        self._limits = limits;
    }

    pub fn feed(&mut self, _bytes: &[u8]) {}

    /// The next complete command, `Ok(None)` when more bytes are needed.
    pub fn next_command(&mut self) -> Result<Option<Argv>, ProtocolError> {
        Ok(None)
    }

    /// Bytes received and not yet returned as commands.
    pub fn buffered_len_bytes(&self) -> usize {
        0
    }
}

/// Appends the encoding of `reply` in `version` to `out`.
pub fn encode(_reply: &Reply, _version: RespVersion, _out: &mut Vec<u8>) {}
