//! Reading the zipmap, the packed hash encoding of RDB files from Redis before 2.6 (RDB type
//! 9), which later versions still load.
//!
//! ```text
//!  [count u8] ( [len][key] [len][free u8][value][free bytes] )* [0xFF]
//! ```
//!
//! `len` is one byte below 254, else 0xFE and a u32 (little-endian on the machines Redis ran
//! on). `free` unused bytes follow a value; the count saturates at 254 ("walk to count").

use super::RdbError;

const END: u8 = 0xFF;
const BIG_LEN: u8 = 0xFE;

/// A (field, value) pair, borrowed from the blob.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

fn corrupt(why: &'static str) -> RdbError {
    RdbError::Corrupt(why)
}

fn len_at(blob: &[u8], at: usize) -> Result<(usize, usize), RdbError> {
    match blob.get(at) {
        Some(&BIG_LEN) => {
            let bytes = blob
                .get(at + 1..at + 5)
                .ok_or_else(|| corrupt("zipmap cut short"))?;
            Ok((u32::from_le_bytes(bytes.try_into().expect("4")) as usize, 5))
        }
        Some(&END) | None => Err(corrupt("zipmap cut short")),
        Some(&n) => Ok((usize::from(n), 1)),
    }
}

/// The (field, value) pairs of a zipmap, checked.
pub fn parse(blob: &[u8]) -> Result<Vec<Pair<'_>>, RdbError> {
    let count = usize::from(*blob.first().ok_or_else(|| corrupt("empty zipmap"))?);
    let mut pairs = Vec::new();
    let mut at = 1;
    let take = |from: usize, n: usize| {
        blob.get(from..from + n)
            .ok_or_else(|| corrupt("zipmap cut short"))
    };
    loop {
        match blob.get(at) {
            None => return Err(corrupt("zipmap without its end byte")),
            Some(&END) => {
                if at + 1 != blob.len() {
                    return Err(corrupt("bytes after a zipmap's end"));
                }
                break;
            }
            Some(_) => {}
        }
        let (klen, kh) = len_at(blob, at)?;
        let key = take(at + kh, klen)?;
        at += kh + klen;
        let (vlen, vh) = len_at(blob, at)?;
        let free = usize::from(take(at + vh, 1)?[0]);
        let value = take(at + vh + 1, vlen)?;
        take(at + vh + 1 + vlen, free)?;
        at += vh + 1 + vlen + free;
        pairs.push((key, value));
    }
    if count < 254 && count != pairs.len() {
        return Err(corrupt("zipmap count differs from its entries"));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_built_bytes_parse() {
        // {"foo": "bar", "k": "" with 2 free bytes}: count 2, then
        // [3]"foo" [3][free 0]"bar", [1]"k" [0][free 2][x x], end.
        let blob = [
            2, 3, b'f', b'o', b'o', 3, 0, b'b', b'a', b'r', 1, b'k', 0, 2, 0, 0, 0xFF,
        ];
        assert_eq!(
            parse(&blob).unwrap(),
            vec![(&b"foo"[..], &b"bar"[..]), (&b"k"[..], &b""[..])]
        );
        for cut in 0..blob.len() {
            assert!(parse(&blob[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_count = blob;
        bad_count[0] = 3;
        assert!(parse(&bad_count).is_err());
    }
}
