//! RESP: an incremental sans-IO decoder (bytes in, argument vectors out) and the RESP2/RESP3
//! encoders.
//!
//! The decoder is Redis 7.0's `processMultibulkBuffer` and `processInlineBuffer`, quirks
//! included, recast as a state machine over an owned buffer (`decode.rs`; inline splitting, the
//! `sdssplitargs` rules, in `inline.rs`). Its contract: any split of a byte stream into `feed`
//! calls yields the same commands and the same first error, so the simulator may chop client
//! bytes anywhere. Every limit is a named constant below, checked at and past its bound by a
//! test; texts were checked against Debian's redis-server 7.0.15.
//!
//! The encoder (`encode.rs`) writes a `Reply` in either version; RESP3-only types degrade to
//! RESP2 as Redis's `addReply*` functions do.

mod decode;
mod encode;
mod inline;

pub use decode::Decoder;
pub use encode::encode;

/// The protocol version a connection speaks (HELLO switches it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RespVersion {
    #[default]
    Resp2,
    Resp3,
}

/// Redis's `proto-max-bulk-len` default.
pub const PROTO_MAX_BULK_LEN_BYTES: u64 = 512 * 1024 * 1024;

/// Redis's `PROTO_INLINE_MAX_SIZE`: the longest inline request, and the longest `*<count>` or
/// `$<len>` line, measured up to the line end (`\n` inline, `\r` otherwise).
pub const INLINE_LEN_MAX_BYTES: usize = 64 * 1024;

/// The most arguments a multibulk may announce (Redis 7.0: `INT_MAX`; 6.x used 1024 * 1024).
pub const MULTIBULK_ARGS_MAX: u32 = i32::MAX as u32;

/// Before AUTH, a multibulk may announce at most this many arguments (Redis: a bare 10).
pub const UNAUTHENTICATED_ARGS_MAX: u32 = 10;

/// Before AUTH, a bulk string may be at most this long (Redis: a bare 16384).
pub const UNAUTHENTICATED_BULK_LEN_MAX_BYTES: u64 = 16 * 1024;

/// All arguments of one command together: `Argv` indexes its buffer with `u32`. Redis has no
/// such bound (its query buffer limit closes the connection at 1 GiB instead); a bulk string that
/// would pass it is answered like one longer than `proto-max-bulk-len`.
pub const ARGV_LEN_MAX_BYTES: u64 = u32::MAX as u64;

const _: () = assert!(UNAUTHENTICATED_ARGS_MAX < MULTIBULK_ARGS_MAX);
const _: () = assert!(UNAUTHENTICATED_BULK_LEN_MAX_BYTES < PROTO_MAX_BULK_LEN_BYTES);
// With the default limits one argument always fits, so only many huge ones reach the Argv bound.
const _: () = assert!(PROTO_MAX_BULK_LEN_BYTES <= ARGV_LEN_MAX_BYTES);
// An argument count always fits the `u32` the decoder counts with.
const _: () = assert!(MULTIBULK_ARGS_MAX as u64 <= u32::MAX as u64);

/// Redis's protocol limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `proto-max-bulk-len`: the longest bulk string accepted.
    pub bulk_len_max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            bulk_len_max_bytes: PROTO_MAX_BULK_LEN_BYTES,
        }
    }
}

/// A protocol violation. Redis answers `-ERR Protocol error: <detail>` and closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolError(pub &'static [u8]);

impl ProtocolError {
    pub const INLINE_TOO_BIG: ProtocolError = ProtocolError(b"too big inline request");
    pub const UNBALANCED_QUOTES: ProtocolError = ProtocolError(b"unbalanced quotes in request");
    pub const MULTIBULK_COUNT_TOO_BIG: ProtocolError = ProtocolError(b"too big mbulk count string");
    pub const MULTIBULK_LEN_INVALID: ProtocolError = ProtocolError(b"invalid multibulk length");
    pub const MULTIBULK_LEN_UNAUTHENTICATED: ProtocolError =
        ProtocolError(b"unauthenticated multibulk length");
    pub const BULK_COUNT_TOO_BIG: ProtocolError = ProtocolError(b"too big bulk count string");
    pub const BULK_LEN_INVALID: ProtocolError = ProtocolError(b"invalid bulk length");
    pub const BULK_LEN_UNAUTHENTICATED: ProtocolError =
        ProtocolError(b"unauthenticated bulk length");

    /// `expected '$', got '<byte>'`. Redis prints the byte raw after turning `\r` and `\n` into
    /// spaces; a byte above 0x7f cannot live in a `&str`, so it shows as `?` (the only
    /// difference from Redis, on a connection that is about to close anyway).
    pub fn expected_dollar(got: u8) -> ProtocolError {
        // Redis shows the byte raw, except CR and LF, which would break the error line.
        let shown = match got {
            b'\r' | b'\n' => b' ',
            other => other,
        };
        ProtocolError(&EXPECTED_DOLLAR_TEXTS[usize::from(shown)])
    }
}

const EXPECTED_DOLLAR_TEMPLATE: &[u8] = b"expected '$', got '?'";
const EXPECTED_DOLLAR_LEN: usize = EXPECTED_DOLLAR_TEMPLATE.len();

/// Every `expected '$', got 'X'` text for an ASCII `X`, built at compile time so the error stays
/// a `&'static str` without an allocation or a static.
const EXPECTED_DOLLAR_TEXTS: &[[u8; EXPECTED_DOLLAR_LEN]; 256] = &expected_dollar_texts();

const fn expected_dollar_texts() -> [[u8; EXPECTED_DOLLAR_LEN]; 256] {
    let mut texts = [[0u8; EXPECTED_DOLLAR_LEN]; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut i = 0;
        while i < EXPECTED_DOLLAR_LEN {
            texts[byte][i] = EXPECTED_DOLLAR_TEMPLATE[i];
            i += 1;
        }
        // The placeholder sits just before the closing quote.
        texts[byte][EXPECTED_DOLLAR_LEN - 2] = byte as u8;
        byte += 1;
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_dollar_texts_match_redis() {
        assert_eq!(
            ProtocolError::expected_dollar(b'X').0,
            b"expected '$', got 'X'"
        );
        // Redis 7.0 maps CR and LF in an error to spaces: `*1\r\n\r\n` answers `got ' '`.
        assert_eq!(
            ProtocolError::expected_dollar(b'\r').0,
            b"expected '$', got ' '"
        );
        assert_eq!(
            ProtocolError::expected_dollar(b'\n').0,
            b"expected '$', got ' '"
        );
        assert_eq!(
            ProtocolError::expected_dollar(0xff).0,
            b"expected '$', got '\xff'"
        );
        for byte in 0..=255u8 {
            assert_eq!(
                ProtocolError::expected_dollar(byte).0.len(),
                EXPECTED_DOLLAR_LEN
            );
        }
    }

    #[test]
    fn default_limits_are_redis_defaults() {
        assert_eq!(Limits::default().bulk_len_max_bytes, 536_870_912);
    }
}
