//! Redis's listpack, byte for byte: the blob RDB stores for small hashes, sorted sets, sets
//! (7.2), quicklist nodes and stream nodes.
//!
//! ```text
//!  [total bytes u32 LE][count u16 LE] entry entry … [0xFF]
//!  entry = [encoding + data][backlen]
//! ```
//!
//! Encodings: `0xxxxxxx` 7-bit unsigned; `10LLLLLL` string up to 63 bytes; `110xxxxx x8`
//! 13-bit signed; `1110LLLL L8` string up to 4095 bytes; `0xF0 L32` longer string; `0xF1`..
//! `0xF4` 16/24/32/64-bit signed integers, little-endian. A string that is a canonical integer
//! (Redis's string2ll) is stored as the narrowest integer. `backlen` is the size of
//! encoding + data, written so it reads right to left: 7 bits per byte, every byte but the
//! leftmost with its high bit set. The count saturates at 65535 ("unknown": count by walking).

use super::RdbError;
use crate::numfmt::parse_i64;

const HEADER_BYTES: usize = 6;
const END: u8 = 0xFF;
/// A count this high means "walk to count".
const COUNT_UNKNOWN: usize = u16::MAX as usize;
/// Strings longer than this many bytes never parse as integers (LONG_STR_SIZE - 1).
const INT_TEXT_MAX_BYTES: usize = 20;

/// An element as a listpack holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Elem<'_> {
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Int(n) => n.to_string().into_bytes(),
            Elem::Str(s) => s.to_vec(),
        }
    }

    pub fn as_int(self) -> Option<i64> {
        match self {
            Elem::Int(n) => Some(n),
            Elem::Str(_) => None,
        }
    }
}

/// Builds a listpack by appending at the tail.
#[derive(Clone, Debug)]
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        ListpackWriter::new()
    }
}

impl ListpackWriter {
    pub fn new() -> ListpackWriter {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HEADER_BYTES]);
        ListpackWriter { buf, count: 0 }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    /// The bytes the finished listpack would take now (the end byte included).
    pub fn bytes_len(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends bytes, as an integer when they are one (lpAppend).
    pub fn push(&mut self, s: &[u8]) {
        match as_int(s) {
            Some(n) => self.push_int(n),
            None => self.push_str(s),
        }
    }

    pub fn push_int(&mut self, n: i64) {
        let start = self.buf.len();
        let b = &mut self.buf;
        if (0..=127).contains(&n) {
            b.push(n as u8);
        } else if (-4096..=4095).contains(&n) {
            let v = (n as u16) & 0x1fff;
            b.push(0xC0 | (v >> 8) as u8);
            b.push(v as u8);
        } else if i16::try_from(n).is_ok() {
            b.push(0xF1);
            b.extend_from_slice(&(n as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&n) {
            b.push(0xF2);
            b.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
        } else if i32::try_from(n).is_ok() {
            b.push(0xF3);
            b.extend_from_slice(&(n as i32).to_le_bytes());
        } else {
            b.push(0xF4);
            b.extend_from_slice(&n.to_le_bytes());
        }
        self.close_entry(start);
    }

    /// Appends bytes as a string, never as an integer.
    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let len = s.len();
        let b = &mut self.buf;
        if len < 64 {
            b.push(0x80 | len as u8);
        } else if len < 4096 {
            b.push(0xE0 | (len >> 8) as u8);
            b.push(len as u8);
        } else {
            b.push(0xF0);
            b.extend_from_slice(&(len as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        self.close_entry(start);
    }

    fn close_entry(&mut self, start: usize) {
        let size = self.buf.len() - start;
        put_backlen(size, &mut self.buf);
        self.count += 1;
    }

    /// Appends every entry of `other` after ours.
    pub fn append(&mut self, other: ListpackWriter) {
        self.buf.extend_from_slice(&other.buf[HEADER_BYTES..]);
        self.count += other.count;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(END);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(COUNT_UNKNOWN) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

fn as_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > INT_TEXT_MAX_BYTES {
        return None;
    }
    parse_i64(s)
}

fn backlen_bytes(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..16383 => 2,
        16383..2097151 => 3,
        2097151..268435455 => 4,
        _ => 5,
    }
}

fn put_backlen(size: usize, out: &mut Vec<u8>) {
    let n = backlen_bytes(size);
    // Most significant group first; every byte after the first carries the high bit.
    for i in (0..n).rev() {
        let group = ((size >> (7 * i)) & 0x7f) as u8;
        out.push(if i == n - 1 { group } else { group | 0x80 });
    }
}

fn corrupt(why: &'static str) -> RdbError {
    RdbError::Corrupt(why)
}

/// Checks a whole listpack and returns its elements in order. Every length is checked against
/// the blob before it is used, so a corrupt blob is an error, never a panic or a big
/// allocation.
pub fn parse(blob: &[u8]) -> Result<Vec<Elem<'_>>, RdbError> {
    if blob.len() < HEADER_BYTES + 1 {
        return Err(corrupt("listpack shorter than its header"));
    }
    let total = u32::from_le_bytes(blob[..4].try_into().expect("4 bytes")) as usize;
    if total != blob.len() {
        return Err(corrupt("listpack size differs from its header"));
    }
    let count = usize::from(u16::from_le_bytes([blob[4], blob[5]]));
    let mut elems = Vec::with_capacity(count.min(blob.len()));
    let mut at = HEADER_BYTES;
    loop {
        let Some(&first) = blob.get(at) else {
            return Err(corrupt("listpack without its end byte"));
        };
        if first == END {
            if at + 1 != blob.len() {
                return Err(corrupt("bytes after a listpack's end"));
            }
            break;
        }
        let (elem, size) = entry(blob, at)?;
        let back_at = at + size;
        let n = backlen_bytes(size);
        let back = blob
            .get(back_at..back_at + n)
            .ok_or_else(|| corrupt("listpack entry cut short"))?;
        let mut expected = Vec::with_capacity(5);
        put_backlen(size, &mut expected);
        if back != expected.as_slice() {
            return Err(corrupt("listpack back length mismatch"));
        }
        elems.push(elem);
        at = back_at + n;
    }
    if count != COUNT_UNKNOWN && count != elems.len() {
        return Err(corrupt("listpack count differs from its entries"));
    }
    Ok(elems)
}

/// The element at `at` and the size of its encoding and data.
fn entry(blob: &[u8], at: usize) -> Result<(Elem<'_>, usize), RdbError> {
    let take = |from: usize, n: usize| {
        blob.get(from..from + n)
            .ok_or_else(|| corrupt("listpack entry cut short"))
    };
    let first = blob[at];
    let int_le = |n: usize| -> Result<i64, RdbError> {
        let bytes = take(at + 1, n)?;
        let mut wide = [0u8; 8];
        wide[..n].copy_from_slice(bytes);
        // Sign-extend from the top byte read.
        let shift = 64 - 8 * n as u32;
        Ok((i64::from_le_bytes(wide) << shift) >> shift)
    };
    let string = |head: usize, len: usize| -> Result<(Elem<'_>, usize), RdbError> {
        let s = take(at + head, len)?;
        Ok((Elem::Str(s), head + len))
    };
    match first {
        0x00..=0x7F => Ok((Elem::Int(i64::from(first)), 1)),
        0x80..=0xBF => string(1, usize::from(first & 0x3f)),
        0xC0..=0xDF => {
            let low = take(at + 1, 1)?[0];
            let v = (u16::from(first & 0x1f) << 8) | u16::from(low);
            // 13-bit two's complement.
            let n = (i64::from(v) << 51) >> 51;
            Ok((Elem::Int(n), 2))
        }
        0xE0..=0xEF => {
            let low = take(at + 1, 1)?[0];
            string(2, (usize::from(first & 0x0f) << 8) | usize::from(low))
        }
        0xF0 => {
            let len = u32::from_le_bytes(take(at + 1, 4)?.try_into().expect("4 bytes"));
            string(5, len as usize)
        }
        0xF1 => Ok((Elem::Int(int_le(2)?), 3)),
        0xF2 => Ok((Elem::Int(int_le(3)?), 4)),
        0xF3 => Ok((Elem::Int(int_le(4)?), 5)),
        0xF4 => Ok((Elem::Int(int_le(8)?), 9)),
        _ => Err(corrupt("unknown listpack encoding")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_of_small_entries() {
        let mut w = ListpackWriter::new();
        w.push(b"a");
        w.push(b"5");
        w.push(b"-1");
        let blob = w.finish();
        // header, "a" (0x81 'a' backlen 2), 5 (0x05 backlen 1), -1 as 13-bit (0xDF 0xFF, 2).
        assert_eq!(
            blob,
            [15, 0, 0, 0, 3, 0, 0x81, b'a', 2, 5, 1, 0xDF, 0xFF, 2, 0xFF]
        );
        assert_eq!(blob.len(), 15);
        assert_eq!(
            parse(&blob).unwrap(),
            vec![Elem::Str(b"a"), Elem::Int(5), Elem::Int(-1)]
        );
    }

    #[test]
    fn integers_take_the_narrowest_encoding() {
        for (n, size) in [
            (0i64, 1usize),
            (127, 1),
            (128, 2),
            (-4096, 2),
            (4096, 3),
            (-32768, 3),
            (32768, 4),
            (-(1 << 23), 4),
            (1 << 23, 5),
            (i64::from(i32::MIN), 5),
            (i64::from(i32::MAX) + 1, 9),
            (i64::MIN, 9),
        ] {
            let mut w = ListpackWriter::new();
            w.push(n.to_string().as_bytes());
            let blob = w.finish();
            assert_eq!(blob.len(), HEADER_BYTES + size + 1 + 1, "{n}");
            assert_eq!(parse(&blob).unwrap(), vec![Elem::Int(n)]);
        }
    }

    #[test]
    fn corrupt_blobs_are_refused() {
        let mut w = ListpackWriter::new();
        w.push(b"hello");
        let good = w.finish();
        for cut in 0..good.len() {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_count = good.clone();
        bad_count[4] = 2;
        assert!(parse(&bad_count).is_err());
        let mut bad_back = good.clone();
        let n = bad_back.len();
        bad_back[n - 2] ^= 1;
        assert!(parse(&bad_back).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(elems in proptest::collection::vec(
            prop_oneof![
                any::<i64>().prop_map(|n| n.to_string().into_bytes()),
                proptest::collection::vec(any::<u8>(), 0..5000),
                "[0-9]{1,22}".prop_map(String::into_bytes),
            ], 0..40)) {
            let mut w = ListpackWriter::new();
            for e in &elems {
                w.push(e);
            }
            let blob = w.finish();
            let back: Vec<Vec<u8>> = parse(&blob).unwrap().into_iter().map(Elem::to_vec).collect();
            prop_assert_eq!(back, elems);
        }

        #[test]
        fn garbage_never_panics(blob in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&blob);
        }
    }
}
