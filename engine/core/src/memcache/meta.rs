//! The meta protocol (`mg ms md ma mn me`), as memcached 1.6.18 answers it: a key, then
//! one-letter flags, some with a token (`T30`, `Oabc`). The decoder checks the flags (which the
//! command takes, no duplicate, numbers that parse) and keeps them, as sent, after the request's
//! head: the shard reads them again (`MetaFlags::parse`) and answers the return flags in the
//! order the client sent them.

use super::decode::{refused, request, BAD_FORMAT, ERROR};
use super::{parse_i32, parse_u32_truncating, parse_u64, Decoded, Head, Op, KEY_LEN_MAX_BYTES};
use crate::argv::Argv;

pub const INVALID_FLAG: &str = "CLIENT_ERROR invalid flag";
pub const DUPLICATE_FLAG: &str = "CLIENT_ERROR duplicate flag";
pub const BAD_TOKEN: &str = "CLIENT_ERROR bad token in command line format";
pub const INVALID_OR_DUPLICATE: &str = "CLIENT_ERROR invalid or duplicate flag";
pub const BAD_KEY_ENCODING: &str = "CLIENT_ERROR error decoding key";
pub const MS_BAD_MODE: &str = "CLIENT_ERROR invalid mode for ms M token";
pub const MA_BAD_MODE: &str = "CLIENT_ERROR invalid mode for ma M token";

/// The flags each command takes (memcached 1.6.18).
const MG_FLAGS: &[u8] = b"bcfhklOqstuvNRT";
const MS_FLAGS: &[u8] = b"bcCFIkOqsTMN";
const MD_FLAGS: &[u8] = b"bCIkOqT";
const MA_FLAGS: &[u8] = b"bCNJDTMqtcvkO";
const ME_FLAGS: &[u8] = b"b";

/// How `ms` stores (its `M` token).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetMode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
}

/// The flags of one meta request, read from its tokens.
#[derive(Clone, Debug, Default)]
pub struct MetaFlags<'a> {
    pub base64_key: bool,
    pub quiet: bool,
    pub value: bool,
    pub invalidate: bool,
    pub cas_compare: Option<u64>,
    pub client_flags: Option<u32>,
    pub ttl_s: Option<i32>,
    pub vivify_ttl_s: Option<i32>,
    pub recache_s: Option<i32>,
    pub initial: Option<u64>,
    pub delta: Option<u64>,
    pub set_mode: Option<SetMode>,
    /// `ma`'s mode: decrement rather than increment.
    pub decrement: bool,
    /// Every token, in the order sent (the return flags follow it).
    pub tokens: Vec<&'a [u8]>,
}

impl<'a> MetaFlags<'a> {
    /// Reads `tokens` for command `m<which>`; the refusal's text when they are bad.
    pub fn parse(which: u8, tokens: &[&'a [u8]]) -> Result<MetaFlags<'a>, &'static str> {
        let (allowed, bad_number) = match which {
            b'g' => (MG_FLAGS, BAD_TOKEN),
            b's' => (MS_FLAGS, BAD_TOKEN),
            b'd' => (MD_FLAGS, INVALID_OR_DUPLICATE),
            b'a' => (MA_FLAGS, INVALID_OR_DUPLICATE),
            _ => (ME_FLAGS, INVALID_FLAG),
        };
        let mut seen = [false; 128];
        let mut flags = MetaFlags::default();
        for &token in tokens {
            let letter = token[0];
            if !letter.is_ascii() || !allowed.contains(&letter) {
                return Err(if which == b'a' || which == b'd' {
                    INVALID_OR_DUPLICATE
                } else {
                    INVALID_FLAG
                });
            }
            if std::mem::replace(&mut seen[usize::from(letter)], true) {
                return Err(if which == b'a' || which == b'd' {
                    INVALID_OR_DUPLICATE
                } else {
                    DUPLICATE_FLAG
                });
            }
            flags.tokens.push(token);
            let arg = &token[1..];
            match letter {
                b'b' => flags.base64_key = true,
                b'q' => flags.quiet = true,
                b'v' => flags.value = true,
                b'I' => flags.invalidate = true,
                b'C' => flags.cas_compare = Some(parse_u64(arg).ok_or(bad_number)?),
                b'F' => flags.client_flags = Some(parse_u32_truncating(arg).ok_or(BAD_FORMAT)?),
                b'T' => flags.ttl_s = Some(parse_i32(arg).ok_or(bad_number)?),
                b'N' => flags.vivify_ttl_s = Some(parse_i32(arg).ok_or(bad_number)?),
                b'R' => flags.recache_s = Some(parse_i32(arg).ok_or(bad_number)?),
                b'J' => flags.initial = Some(parse_u64(arg).ok_or(bad_number)?),
                b'D' => flags.delta = Some(parse_u64(arg).ok_or(bad_number)?),
                b'M' if which == b's' => {
                    flags.set_mode = Some(match arg.first() {
                        Some(b'S') => SetMode::Set,
                        Some(b'E') => SetMode::Add,
                        Some(b'R') => SetMode::Replace,
                        Some(b'A') => SetMode::Append,
                        Some(b'P') => SetMode::Prepend,
                        _ => return Err(MS_BAD_MODE),
                    });
                }
                b'M' => {
                    flags.decrement = match arg.first() {
                        Some(b'I' | b'+') => false,
                        Some(b'D' | b'-') => true,
                        _ => return Err(MA_BAD_MODE),
                    };
                }
                _ => {}
            }
        }
        Ok(flags)
    }
}

/// A two-letter command `m<which>`, its words in `tokens` (the command word first). For `ms`
/// the data length is returned to the decoder, which reads the block (`Some(len)`).
pub(super) fn command(
    which: u8,
    tokens: &[&[u8]],
    argv: &mut Argv,
) -> (Decoded, Option<(usize, bool)>) {
    let op = match which {
        b'g' => Op::MetaGet,
        b's' => Op::MetaSet,
        b'd' => Op::MetaDelete,
        b'a' => Op::MetaArithmetic,
        b'e' => Op::MetaDebug,
        b'n' => return (request(Head::new(Op::MetaNoop), &[], argv), None),
        _ => return (refused(ERROR, false), None),
    };
    if tokens.len() < 2 {
        return (refused(ERROR, false), None);
    }
    let raw_key = tokens[1];
    // Checked before the data length is read: memcached then reads the block as a line.
    if raw_key.len() > KEY_LEN_MAX_BYTES {
        return (refused(BAD_FORMAT, false), None);
    }
    let mut flag_tokens = &tokens[2..];
    let mut data_len = None;
    if op == Op::MetaSet {
        let Some((&len, rest)) = flag_tokens.split_first() else {
            return (refused(BAD_FORMAT, false), None);
        };
        let Some(len) = parse_i32(len).and_then(|n| usize::try_from(n).ok()) else {
            return (refused(BAD_FORMAT, false), None);
        };
        data_len = Some(len);
        flag_tokens = rest;
    }
    let flags = match MetaFlags::parse(which, flag_tokens) {
        Ok(flags) => flags,
        // memcached drops the data block of a refused `ms`.
        Err(text) => return (refused(text, false), data_len.map(|len| (len, true))),
    };
    let key = if flags.base64_key {
        match base64_decode(raw_key) {
            Some(key) => key,
            None => {
                return (
                    refused(BAD_KEY_ENCODING, false),
                    data_len.map(|len| (len, true)),
                )
            }
        }
    } else {
        raw_key.to_vec()
    };
    let mut head = Head::new(op);
    head.noreply = flags.quiet;
    argv.clear();
    let mut first = head.encode().to_vec();
    first.extend_from_slice(&flag_tokens.join(&b' '));
    argv.push(&first);
    argv.push(&key);
    match data_len {
        Some(len) => (Decoded::NeedMore, Some((len, false))),
        None => (Decoded::Request, None),
    }
}

/// The flag tokens a decoded meta request carries after its head.
pub fn flag_tokens(head_arg: &[u8]) -> Vec<&[u8]> {
    Head::tail(head_arg)
        .split(|&b| b == b' ')
        .filter(|t| !t.is_empty())
        .collect()
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding; `None` for anything else.
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for chunk in text.chunks(4) {
        let mut n = 0u32;
        let mut pad = 0;
        for &c in chunk {
            let v = match c {
                b'=' => {
                    pad += 1;
                    0
                }
                _ if pad > 0 => return None,
                _ => BASE64.iter().position(|&b| b == c)? as u32,
            };
            n = n << 6 | v;
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad.min(2)]);
    }
    Some(out)
}

pub fn base64_encode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut n = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            n |= u32::from(b) << (16 - 8 * i);
        }
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[(n >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for text in [&b"foo"[..], b"fo", b"f", b"\x00\xff binary \r\n"] {
            assert_eq!(base64_decode(&base64_encode(text)).as_deref(), Some(text));
        }
        assert_eq!(base64_encode(b"foo"), b"Zm9v");
        assert_eq!(base64_decode(b"Zm9v!"), None);
        assert_eq!(base64_decode(b"Zg=="), Some(b"f".to_vec()));
    }

    #[test]
    fn flags_are_checked_per_command() {
        assert!(MetaFlags::parse(b'g', &[b"v", b"T30", b"Oab"]).is_ok());
        assert_eq!(MetaFlags::parse(b'g', &[b"zz"]).err(), Some(INVALID_FLAG));
        assert_eq!(
            MetaFlags::parse(b'g', &[b"v", b"v"]).err(),
            Some(DUPLICATE_FLAG)
        );
        assert_eq!(MetaFlags::parse(b'g', &[b"Nabc"]).err(), Some(BAD_TOKEN));
        assert_eq!(
            MetaFlags::parse(b'a', &[b"D-1"]).err(),
            Some(INVALID_OR_DUPLICATE)
        );
        assert_eq!(MetaFlags::parse(b's', &[b"Ms"]).err(), Some(MS_BAD_MODE));
        assert_eq!(MetaFlags::parse(b'a', &[b"Mi"]).err(), Some(MA_BAD_MODE));
    }
}
