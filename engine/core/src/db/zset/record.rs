//! One (member, score) pair as the compact encoding and the tree's leaves pack it:
//!
//! ```text
//!  [varint member len][member…][score]
//!  score: varint((zigzag(n) << 1))        an integral score n with |n| < 2^53, not -0
//!         0x01 then 8 bytes (f64, LE)      any other score
//! ```
//!
//! Why: most scores in practice are small integers (counters, timestamps, ranks), which take one
//! to three bytes here instead of eight. The first byte's low bit tells the two forms apart: a
//! varint's first byte carries its value's lowest bits, which are 0 for a shifted integer.

use std::cmp::Ordering;

use crate::db::packed::{get_varint, put_varint, varint_len};

/// Integral scores below this magnitude are packed as integers (every one is exact in an f64).
const PACKED_INT_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53
/// The first byte of a score kept as its eight raw bytes.
const RAW_SCORE_TAG: u8 = 0x01;
const RAW_SCORE_BYTES: usize = 1 + 8;

/// The order of a sorted set: by score, then by member bytes (Redis's zslInsert order). Scores
/// are never NaN; -0 and 0 are equal scores.
pub fn cmp_key(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    a_score
        .partial_cmp(&b_score)
        .expect("scores are never NaN")
        .then_with(|| a_member.cmp(b_member))
}

fn packed_int(score: f64) -> Option<i64> {
    let integral = score.fract() == 0.0 && score.abs() < PACKED_INT_LIMIT;
    (integral && !(score == 0.0 && score.is_sign_negative())).then_some(score as i64)
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

fn put_varint64(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn varint64_len(n: u64) -> usize {
    (64 - (n | 1).leading_zeros() as usize).div_ceil(7)
}

fn get_varint64(bytes: &[u8], at: usize) -> (u64, usize) {
    let mut n = 0u64;
    let mut read = 0;
    loop {
        let b = bytes[at + read];
        n |= u64::from(b & 0x7f) << (7 * read);
        read += 1;
        if b < 0x80 {
            return (n, read);
        }
        assert!(read < 10, "score varint too long at {at}");
    }
}

fn score_len(score: f64) -> usize {
    match packed_int(score) {
        Some(n) => varint64_len(zigzag(n) << 1),
        None => RAW_SCORE_BYTES,
    }
}

/// Bytes `put` writes for this pair.
pub fn len(member: &[u8], score: f64) -> usize {
    let member_len = u32::try_from(member.len()).expect("a member's length fits u32");
    varint_len(member_len) + member.len() + score_len(score)
}

/// Appends the pair.
pub fn put(out: &mut Vec<u8>, member: &[u8], score: f64) {
    put_varint(
        out,
        u32::try_from(member.len()).expect("a member's length fits u32"),
    );
    out.extend_from_slice(member);
    match packed_int(score) {
        Some(n) => put_varint64(out, zigzag(n) << 1),
        None => {
            out.push(RAW_SCORE_TAG);
            out.extend_from_slice(&score.to_le_bytes());
        }
    }
}

/// The pair at `at`: (member, score, offset past it). Our own bytes: malformed is a bug.
#[inline]
pub fn get(bytes: &[u8], at: usize) -> (&[u8], f64, usize) {
    let (member_len, read) = get_varint(bytes, at);
    let start = at + read;
    let score_at = start + member_len as usize;
    let member = &bytes[start..score_at];
    if bytes[score_at] & 1 == RAW_SCORE_TAG {
        let raw: [u8; 8] = bytes[score_at + 1..score_at + RAW_SCORE_BYTES]
            .try_into()
            .expect("eight score bytes");
        return (member, f64::from_le_bytes(raw), score_at + RAW_SCORE_BYTES);
    }
    let (v, read) = get_varint64(bytes, score_at);
    (member, unzigzag(v >> 1) as f64, score_at + read)
}

/// A record with its bytes: `[at, end)` in the buffer it was read from.
#[derive(Clone, Copy, Debug)]
pub struct At<'a> {
    pub member: &'a [u8],
    pub score: f64,
    pub at: usize,
    pub end: usize,
}

/// The records of a packed buffer, in order.
pub struct Records<'a> {
    bytes: &'a [u8],
    at: usize,
}

pub fn records(bytes: &[u8]) -> Records<'_> {
    Records { bytes, at: 0 }
}

impl<'a> Iterator for Records<'a> {
    type Item = At<'a>;

    fn next(&mut self) -> Option<At<'a>> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let (member, score, end) = get(self.bytes, self.at);
        let found = At {
            member,
            score,
            at: self.at,
            end,
        };
        self.at = end;
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_round_trip_bit_for_bit() {
        let scores = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            63.0,
            64.0,
            -64.0,
            1e15,
            9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            -9_007_199_254_740_992.0,
            0.5,
            0.1,
            1e300,
            -1e-300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
        ];
        for score in scores {
            for member in [&b""[..], b"m", &[b'x'; 200]] {
                let mut out = vec![7];
                put(&mut out, member, score);
                assert_eq!(out.len() - 1, len(member, score), "{score}");
                let (m, s, end) = get(&out, 1);
                assert_eq!((m, s.to_bits(), end), (member, score.to_bits(), out.len()));
            }
        }
        assert_eq!(len(b"a", 3.0), 3, "a small integer takes one byte");
        assert_eq!(len(b"a", 0.5), 11);
    }

    #[test]
    fn keys_order_by_score_then_member() {
        assert_eq!(cmp_key(1.0, b"b", 2.0, b"a"), Ordering::Less);
        assert_eq!(cmp_key(1.0, b"a", 1.0, b"ab"), Ordering::Less);
        assert_eq!(cmp_key(-0.0, b"a", 0.0, b"a"), Ordering::Equal);
        assert_eq!(
            cmp_key(f64::NEG_INFINITY, b"z", -1e308, b"a"),
            Ordering::Less
        );
    }
}
