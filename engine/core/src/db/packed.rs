//! Byte-packing helpers shared by the compact collection encodings (listpack.rs, intset.rs,
//! packed_table.rs): LEB128 lengths, records, and growth that follows the allocator's classes.
//!
//! A record is `varint(key len) key [varint(value len) value]`: one byte of length for keys and
//! values under 128 bytes, which is nearly every field and member, so a record costs its bytes
//! plus one or two. Growth rounds a Vec's capacity up to the size class the allocator would give
//! anyway (size_class.rs), so the slack is free bytes, and grows by at least an eighth so appends
//! stay amortised O(1) while the unused tail stays under about 30% of the block (doubling would
//! leave up to half of it unused, which a collection of small records pays per element).

use super::size_class::class_bytes;

/// Most bytes a LEB128-encoded `u32` takes.
pub const VARINT_BYTES_MAX: usize = 5;

/// Appends `n` as LEB128.
pub fn put_varint(out: &mut Vec<u8>, mut n: u32) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Bytes `put_varint(n)` writes.
pub fn varint_len(n: u32) -> usize {
    match n {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// Decodes the LEB128 number at `at`: (value, bytes read). The buffers are our own, written by
/// `put_varint`, so a malformed number is a bug, and indexing panics on it.
#[inline]
pub fn get_varint(bytes: &[u8], at: usize) -> (u32, usize) {
    let first = bytes[at];
    if first < 0x80 {
        return (u32::from(first), 1);
    }
    let mut n = u32::from(first & 0x7f);
    let mut shift = 7;
    let mut read = 1;
    loop {
        let b = bytes[at + read];
        read += 1;
        n |= u32::from(b & 0x7f) << shift;
        if b < 0x80 {
            return (n, read);
        }
        shift += 7;
        assert!(read < VARINT_BYTES_MAX, "varint too long at {at}");
    }
}

/// The length-prefixed string at `at`: (its byte range start, its length, the offset after it).
#[inline]
pub fn get_str(bytes: &[u8], at: usize) -> (&[u8], usize) {
    let (len, read) = get_varint(bytes, at);
    let start = at + read;
    let end = start + len as usize;
    (&bytes[start..end], end)
}

/// Appends a length-prefixed string. Callers check the length fits `u32` (collection limits).
pub fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_varint(out, u32::try_from(s.len()).expect("string length fits u32"));
    out.extend_from_slice(s);
}

/// Bytes `put_str(s)` writes.
pub fn str_len(s: &[u8]) -> usize {
    varint_len(u32::try_from(s.len()).expect("string length fits u32")) + s.len()
}

/// A growing buffer gains at least 1/GROWTH_DIVISOR of its capacity. Size classes are an
/// eighth to a quarter apart past 128 bytes; past `LARGE_OBJECT_MAX_BYTES` they are 4 KiB pages,
/// where this floor keeps growth geometric.
const GROWTH_DIVISOR: usize = 8;

/// Makes room for `additional` more elements: when the capacity is short, grows it by at least
/// an eighth (`GROWTH_DIVISOR`), rounded up to the allocator's class: no hidden slack, at most
/// about 30% unused, amortised O(1) (each byte is copied about nine times over its life).
pub fn reserve_class<T>(v: &mut Vec<T>, additional: usize) {
    let needed = v.len() + additional;
    if needed <= v.capacity() {
        return;
    }
    let elem = std::mem::size_of::<T>();
    let target = needed.max(v.capacity() + v.capacity() / GROWTH_DIVISOR);
    let cap = class_bytes(target * elem) / elem;
    v.reserve_exact(cap - v.len());
}

/// A Vec with room for exactly `n` elements rounded up to the allocator's class.
pub fn with_class_capacity<T>(n: usize) -> Vec<T> {
    let elem = std::mem::size_of::<T>();
    Vec::with_capacity(class_bytes(n * elem) / elem)
}

/// Heap bytes a Vec's buffer takes, by class.
pub fn vec_bytes<T>(v: &Vec<T>) -> usize {
    class_bytes(v.capacity() * std::mem::size_of::<T>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_each_width() {
        for n in [
            0,
            1,
            0x7f,
            0x80,
            0x3fff,
            0x4000,
            0x1f_ffff,
            0x20_0000,
            u32::MAX,
        ] {
            let mut out = vec![9];
            put_varint(&mut out, n);
            assert_eq!(out.len() - 1, varint_len(n), "{n}");
            assert_eq!(get_varint(&out, 1), (n, varint_len(n)), "{n}");
        }
    }

    #[test]
    fn growth_fills_whole_classes() {
        let mut v: Vec<u8> = Vec::new();
        for i in 0..10_000u32 {
            reserve_class(&mut v, 1);
            v.push(i as u8);
            assert_eq!(class_bytes(v.capacity()), v.capacity());
            assert!(
                (v.capacity() - v.len()) * 10 <= v.capacity() * 3 + 160,
                "{}",
                v.capacity()
            );
        }
    }
}
