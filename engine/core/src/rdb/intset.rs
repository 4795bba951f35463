//! Redis's intset blob (RDB type 11): `[width u32 LE][count u32 LE]` then the members
//! ascending, each `width` (2, 4 or 8) bytes little-endian.

use super::RdbError;

const HEADER_BYTES: usize = 8;

/// The intset blob of `members` (ascending), at the narrowest width Redis would use (at least
/// 2 bytes: Redis has no 1-byte intsets).
pub fn build(members: &[i64]) -> Vec<u8> {
    let width: usize = members.iter().map(|&n| width_of(n)).max().unwrap_or(2);
    let mut out = Vec::with_capacity(HEADER_BYTES + width * members.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &n in members {
        out.extend_from_slice(&n.to_le_bytes()[..width]);
    }
    out
}

fn width_of(n: i64) -> usize {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

/// The members of an intset blob, checked: a valid width, the size the count implies, and
/// strictly ascending members.
pub fn parse(blob: &[u8]) -> Result<Vec<i64>, RdbError> {
    let corrupt = RdbError::Corrupt;
    if blob.len() < HEADER_BYTES {
        return Err(corrupt("intset shorter than its header"));
    }
    let width = u32::from_le_bytes(blob[..4].try_into().expect("4")) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(corrupt("intset with an invalid width"));
    }
    let count = u32::from_le_bytes(blob[4..8].try_into().expect("4")) as usize;
    if count.checked_mul(width) != Some(blob.len() - HEADER_BYTES) {
        return Err(corrupt("intset size differs from its count"));
    }
    let mut members = Vec::with_capacity(count);
    for chunk in blob[HEADER_BYTES..].chunks_exact(width) {
        let mut wide = [0u8; 8];
        wide[..width].copy_from_slice(chunk);
        let shift = 64 - 8 * width as u32;
        let n = (i64::from_le_bytes(wide) << shift) >> shift;
        if members.last().is_some_and(|&last| last >= n) {
            return Err(corrupt("intset members out of order"));
        }
        members.push(n);
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_round_trip() {
        assert_eq!(build(&[1, 2]), [2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0]);
        for set in [
            vec![],
            vec![-5, 7],
            vec![-70000, 3],
            vec![i64::MIN, 0, i64::MAX],
        ] {
            assert_eq!(parse(&build(&set)).unwrap(), set);
        }
        assert!(
            parse(&[2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0]).is_err(),
            "descending"
        );
        assert!(parse(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err(), "width 3");
        assert!(
            parse(&[2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).is_err(),
            "huge count"
        );
    }
}
