//! Memcached's text protocol (as memcached 1.6.18 speaks it): an incremental sans-IO decoder
//! (bytes in, requests out) and the numeric parsers whose quirks clients can see.
//!
//! A request becomes an `Argv` the node runs like a RESP command, on the shard that owns its
//! key: argument 0 is a fixed-size `Head` (the operation and its scalar parameters), the keys
//! follow, and a storage command's data block comes last. Keeping every scalar in argument 0
//! lets a multi-key `get` split by shard as MGET does (each part keeps argument 0).
//!
//! What this module decides is what memcached decides before it touches an item: the command
//! word and its token count (`ERROR`), malformed numbers and keys (`CLIENT_ERROR bad command
//! line format`), a data block without its `\r\n` (`CLIENT_ERROR bad data chunk`), an item over
//! the size limit (`SERVER_ERROR object too large for cache`, its data swallowed), and a line
//! too long to be anything but garbage (the connection closes). Texts were checked against
//! Debian's memcached 1.6.18 (engine/server/tests/cases/memcache*.txt).

mod decode;
pub mod meta;

pub use decode::{Decoded, Decoder};

/// memcached's KEY_MAX_LENGTH.
pub const KEY_LEN_MAX_BYTES: usize = 250;
/// A line without its `\n` past this many bytes closes the connection, unless it starts a
/// `get`/`gets` (memcached's 2048 in try_read_command_ascii).
pub const LINE_LEN_MAX_BYTES: usize = 2048;
/// Leading spaces allowed before a long multiget's `get` (memcached's 100).
pub const LONG_LINE_LEADING_SPACES_MAX: usize = 100;
/// A multiget line may be long, but not unbounded: past this the connection closes.
pub const GET_LINE_LEN_MAX_BYTES: usize = 64 * 1024 * 1024;
/// memcached's `-I` default: the largest item, header included.
pub const ITEM_SIZE_MAX_BYTES_DEFAULT: usize = 1024 * 1024;
/// What memcached's item header costs on 64-bit with CAS: 48 bytes of `item` plus 8 of CAS,
/// plus 4 when the client flags are not zero; the item size limit counts them.
pub const ITEM_HEADER_BYTES: usize = 56;
pub const ITEM_FLAGS_BYTES: usize = 4;
/// Exptimes up to 30 days are relative, larger ones unix times (memcached's REALTIME_MAXDELTA).
pub const RELATIVE_EXPTIME_MAX_S: i64 = 60 * 60 * 24 * 30;
/// memcached's MAX_TOKENS: a line splits into at most this many tokens, the terminal one
/// included; only `get` reads past them.
pub const LINE_TOKENS_MAX: usize = 24;
/// The memcached version whose protocol this speaks (`version`, `stats`): clients pick
/// features by it, as Redis clients read `redis_version`.
pub const VERSION: &str = "1.6.18";

const _: () = assert!(LINE_LEN_MAX_BYTES < GET_LINE_LEN_MAX_BYTES);
const _: () = assert!(KEY_LEN_MAX_BYTES < LINE_LEN_MAX_BYTES);

/// The operation a request names (`Head::op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    Get = 1,
    Gets,
    Gat,
    Gats,
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
    /// A `set` whose item is too large: memcached unlinks the old item (no stale data).
    SetTooLarge,
    Delete,
    Incr,
    Decr,
    Touch,
    FlushAll,
    Version,
    Verbosity,
    Quit,
    Stats,
    MetaGet,
    MetaSet,
    MetaDelete,
    MetaArithmetic,
    MetaNoop,
    MetaDebug,
    /// A request refused before it could run: argument 1 is the answer (none if `noreply`).
    Refuse,
    /// Close the connection without an answer.
    Close,
}

impl Op {
    const ALL: [Op; 28] = [
        Op::Get,
        Op::Gets,
        Op::Gat,
        Op::Gats,
        Op::Set,
        Op::Add,
        Op::Replace,
        Op::Append,
        Op::Prepend,
        Op::Cas,
        Op::SetTooLarge,
        Op::Delete,
        Op::Incr,
        Op::Decr,
        Op::Touch,
        Op::FlushAll,
        Op::Version,
        Op::Verbosity,
        Op::Quit,
        Op::Stats,
        Op::MetaGet,
        Op::MetaSet,
        Op::MetaDelete,
        Op::MetaArithmetic,
        Op::MetaNoop,
        Op::MetaDebug,
        Op::Refuse,
        Op::Close,
    ];

    pub fn from_u8(byte: u8) -> Option<Op> {
        Op::ALL.get(usize::from(byte).checked_sub(1)?).copied()
    }

    /// Whether the request's argument 1 onward are keys (the rest run on the node).
    pub fn keyed(self) -> bool {
        !matches!(
            self,
            Op::FlushAll
                | Op::Version
                | Op::Verbosity
                | Op::Quit
                | Op::Stats
                | Op::MetaNoop
                | Op::Refuse
                | Op::Close
        )
    }
}

/// Argument 0 of a decoded request: the operation and its scalars, fixed size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub op: Op,
    /// `noreply` (text) or quiet mode `q` (meta): answer nothing on success.
    pub noreply: bool,
    pub flags: u32,
    /// As the client sent it (`exptime_deadline_ms` reads it).
    pub exptime_s: i64,
    /// The CAS unique of `cas`, the delta of `incr`/`decr`.
    pub number: u64,
}

impl Head {
    pub const LEN_BYTES: usize = 22;

    pub fn new(op: Op) -> Head {
        Head {
            op,
            noreply: false,
            flags: 0,
            exptime_s: 0,
            number: 0,
        }
    }

    pub fn encode(&self) -> [u8; Head::LEN_BYTES] {
        let mut out = [0; Head::LEN_BYTES];
        out[0] = self.op as u8;
        out[1] = u8::from(self.noreply);
        out[2..6].copy_from_slice(&self.flags.to_le_bytes());
        out[6..14].copy_from_slice(&self.exptime_s.to_le_bytes());
        out[14..22].copy_from_slice(&self.number.to_le_bytes());
        out
    }

    /// Reads what `encode` wrote; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Head> {
        let bytes: &[u8; Head::LEN_BYTES] = bytes.get(..Head::LEN_BYTES)?.try_into().ok()?;
        Some(Head {
            op: Op::from_u8(bytes[0])?,
            noreply: bytes[1] != 0,
            flags: u32::from_le_bytes(bytes[2..6].try_into().ok()?),
            exptime_s: i64::from_le_bytes(bytes[6..14].try_into().ok()?),
            number: u64::from_le_bytes(bytes[14..22].try_into().ok()?),
        })
    }

    /// The extra bytes after the head (a meta command's flags).
    pub fn tail(bytes: &[u8]) -> &[u8] {
        bytes.get(Head::LEN_BYTES..).unwrap_or_default()
    }
}

/// When an item set with `exptime_s` expires, as memcached's `realtime()` reads it: 0 never;
/// up to 30 days from now; above that a unix time (one at or before now expires at once, as
/// does a negative exptime). `Some(deadline)` in unix ms.
pub fn exptime_deadline_ms(exptime_s: i64, now_ms: u64) -> Option<u64> {
    match exptime_s {
        0 => None,
        s if s < 0 => Some(0),
        s if s <= RELATIVE_EXPTIME_MAX_S => Some(now_ms + s as u64 * 1000),
        s => Some(s as u64 * 1000),
    }
}

/// C's `isspace` in the "C" locale.
pub fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `strtoull` over `text` as memcached's `safe_strtoull` judges it: leading spaces, an
/// optional sign, digits, then the end or a space; a negative number is refused unless it wraps
/// to a value below 2^63 (so "-0" is 0, as in memcached). `None` when refused.
pub fn parse_u64(text: &[u8]) -> Option<u64> {
    let (value, negative, rest) = strtoull(text)?;
    if !(rest.is_empty() || is_c_space(rest[0])) {
        return None;
    }
    if (value as i64) < 0 && negative {
        return None;
    }
    Some(value)
}

/// memcached's `safe_strtoul` for 32-bit values (flags, verbosity): `parse_u64`'s rules with
/// `strtoul`'s 64-bit range, truncated to 32 bits as memcached stores it.
pub fn parse_u32_truncating(text: &[u8]) -> Option<u32> {
    parse_u64(text).map(|n| n as u32)
}

/// memcached's `safe_strtol` into an `int32_t`: `strtol` (64-bit), the end or a space after
/// it, then truncated to 32 bits as memcached stores it (4294967297 reads as 1).
pub fn parse_i32(text: &[u8]) -> Option<i32> {
    let (digits_at, negative) = sign_of(text);
    let (magnitude, rest) = digits(&text[digits_at..])?;
    if !(rest.is_empty() || is_c_space(rest[0])) {
        return None;
    }
    let value = if negative {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    };
    i64::try_from(value).ok().map(|n| n as i32)
}

/// Where the digits start after spaces and a sign, and whether the sign was `-`.
fn sign_of(text: &[u8]) -> (usize, bool) {
    let mut at = text.iter().take_while(|&&b| is_c_space(b)).count();
    let negative = text.get(at) == Some(&b'-');
    if matches!(text.get(at), Some(b'-' | b'+')) {
        at += 1;
    }
    (at, negative)
}

/// Decimal digits at the start of `text`: the value (`None` past u64, C's ERANGE, or when
/// there are none) and what follows.
fn digits(text: &[u8]) -> Option<(u64, &[u8])> {
    let len = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 {
        return None;
    }
    let mut value: u64 = 0;
    for &b in &text[..len] {
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some((value, &text[len..]))
}

/// C's `strtoull`: the value (negated modulo 2^64 after a `-`), whether a `-` came first,
/// and the rest.
fn strtoull(text: &[u8]) -> Option<(u64, bool, &[u8])> {
    let (at, negative) = sign_of(text);
    let (magnitude, rest) = digits(&text[at..])?;
    let value = if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    };
    Some((value, negative, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_as_memcached_judges_them() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b" 12"), Some(12));
        assert_eq!(parse_u64(b"12 abc"), Some(12));
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"-0"), Some(0));
        assert_eq!(parse_u64(b"+5"), Some(5));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"  "), None);
        assert_eq!(parse_u32_truncating(b"4294967296"), Some(0));
        assert_eq!(parse_u32_truncating(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_i32(b"-1"), Some(-1));
        assert_eq!(parse_i32(b"2147483648"), Some(i32::MIN));
        assert_eq!(parse_i32(b"4294967297"), Some(1));
        assert_eq!(parse_i32(b"9223372036854775808"), None);
        assert_eq!(parse_i32(b"x"), None);
    }

    #[test]
    fn exptimes_are_relative_up_to_thirty_days() {
        let now_ms = 1_700_000_000_000;
        assert_eq!(exptime_deadline_ms(0, now_ms), None);
        assert_eq!(exptime_deadline_ms(-1, now_ms), Some(0));
        assert_eq!(
            exptime_deadline_ms(RELATIVE_EXPTIME_MAX_S, now_ms),
            Some(now_ms + 2_592_000_000)
        );
        assert_eq!(
            exptime_deadline_ms(RELATIVE_EXPTIME_MAX_S + 1, now_ms),
            Some(2_592_001_000)
        );
    }

    #[test]
    fn heads_round_trip() {
        for op in Op::ALL {
            let head = Head {
                op,
                noreply: true,
                flags: 7,
                exptime_s: -3,
                number: u64::MAX,
            };
            assert_eq!(Head::decode(&head.encode()), Some(head));
        }
        assert_eq!(Head::decode(b"short"), None);
        assert_eq!(Op::from_u8(0), None);
        assert_eq!(Op::from_u8(Op::ALL.len() as u8 + 1), None);
    }
}
