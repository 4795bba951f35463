//! A set's compact encoding (Redis's intset): sorted distinct integers, all at one width, in one
//! buffer, binary-searched.
//!
//! ```text
//!  bytes: [n0][n1][n2]…   each `width` bytes, little-endian two's complement, n0 < n1 < …
//! ```
//!
//! As Redis's intset, the width is the narrowest that holds every member, and an insert that
//! needs a wider one rewrites the whole buffer at the new width ("upgrade"; the new member is
//! then the smallest or the largest, so it goes at an end). It never narrows on removal. One
//! difference: widths start at 1 byte, not 2, so a set of small numbers (0..=127, the common
//! case for ids and flags) takes a byte per member; OBJECT ENCODING still says "intset".
//! Insert and remove shift the tail, O(n) over at most `set-max-intset-entries` members, as in
//! Redis; lookup and `nth` are O(log n) and O(1).

use super::packed::{reserve_class, vec_bytes, with_class_capacity};

#[derive(Clone, Debug)]
pub struct Intset {
    bytes: Vec<u8>,
    /// 1, 2, 4 or 8.
    width: u8,
}

impl Default for Intset {
    fn default() -> Intset {
        Intset {
            bytes: Vec::new(),
            width: 1,
        }
    }
}

/// The narrowest width that holds `n`.
fn width_of(n: i64) -> u8 {
    if i8::try_from(n).is_ok() {
        1
    } else if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

impl Intset {
    pub fn len(&self) -> usize {
        self.bytes.len() / usize::from(self.width)
    }

    pub fn heap_bytes(&self) -> usize {
        vec_bytes(&self.bytes)
    }

    /// The member at `index` (ascending).
    pub fn nth(&self, index: usize) -> Option<i64> {
        (index < self.len()).then(|| self.at(index))
    }

    #[inline]
    fn at(&self, index: usize) -> i64 {
        let w = usize::from(self.width);
        let b = &self.bytes[index * w..index * w + w];
        match self.width {
            1 => i64::from(b[0] as i8),
            2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            8 => i64::from_le_bytes(b.try_into().expect("eight bytes")),
            w => unreachable!("intset width {w}"),
        }
    }

    /// Binary search: Ok(index) when present, Err(insertion index) when not.
    fn search(&self, n: i64) -> Result<usize, usize> {
        if width_of(n) > self.width {
            // Wider than every member: past one end.
            return Err(if n < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.at(mid).cmp(&n) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, n: i64) -> bool {
        self.search(n).is_ok()
    }

    /// Adds `n`; true when it is new.
    pub fn insert(&mut self, n: i64) -> bool {
        let index = match self.search(n) {
            Ok(_) => return false,
            Err(index) => index,
        };
        if width_of(n) > self.width {
            self.upgrade(width_of(n));
        }
        let w = usize::from(self.width);
        reserve_class(&mut self.bytes, w);
        let encoded = &n.to_le_bytes()[..w];
        self.bytes
            .splice(index * w..index * w, encoded.iter().copied());
        true
    }

    /// Rewrites every member at `width` (wider than the current one).
    fn upgrade(&mut self, width: u8) {
        assert!(width > self.width, "an intset only widens");
        let w = usize::from(width);
        let mut bytes = with_class_capacity((self.len() + 1) * w);
        for i in 0..self.len() {
            bytes.extend_from_slice(&self.at(i).to_le_bytes()[..w]);
        }
        self.bytes = bytes;
        self.width = width;
    }

    /// Removes `n`; true when it was there.
    pub fn remove(&mut self, n: i64) -> bool {
        let Ok(index) = self.search(n) else {
            return false;
        };
        let w = usize::from(self.width);
        self.bytes.drain(index * w..index * w + w);
        true
    }

    /// Members, ascending.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }

    /// Bytes per member (1, 2, 4 or 8).
    #[cfg(test)]
    pub fn width(&self) -> u8 {
        self.width
    }

    /// Members ascending and distinct, each fitting the width, the buffer whole members.
    pub fn check_invariants(&self) {
        assert!(matches!(self.width, 1 | 2 | 4 | 8), "width {}", self.width);
        assert_eq!(self.bytes.len() % usize::from(self.width), 0);
        let all: Vec<i64> = self.iter().collect();
        assert!(
            all.windows(2).all(|w| w[0] < w[1]),
            "intset ascending, distinct"
        );
        assert!(all.iter().all(|&n| width_of(n) <= self.width));
    }
}
