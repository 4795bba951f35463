//! FNV-1a (64-bit): a tiny, fixed, seedless hash. The model needs hashes that are identical in
//! every run and on every machine (digests compared across processes, memo tables whose
//! iteration order must never matter), so it uses this instead of std's randomized hasher.

use std::hash::{BuildHasherDefault, Hasher};

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// A streaming FNV-1a hasher.
#[derive(Clone, Copy, Debug)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(OFFSET_BASIS)
    }
}

impl Hasher for Fnv64 {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fnv64 {
    /// Hashes a length-prefixed byte string, so that ("ab","c") and ("a","bc") differ.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        self.write_u64(bytes.len() as u64);
        self.write(bytes);
    }
}

/// `BuildHasher` for `HashMap`/`HashSet` keyed deterministically.
pub type FnvBuild = BuildHasherDefault<Fnv64>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let hash = |s: &[u8]| {
            let mut h = Fnv64::default();
            h.write(s);
            h.finish()
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
