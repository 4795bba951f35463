//! The checksum of RDB files and DUMP payloads: CRC-64 with Jones's polynomial, reflected, zero
//! start and no final xor (the catalogue's CRC-64/REDIS).

use crc::{Crc, Digest, Table, CRC_64_REDIS};

/// Sixteen tables: the slice-by-16 variant, for snapshot-sized inputs.
static REDIS_CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// A running CRC-64 over bytes fed in any number of pieces.
#[derive(Clone)]
pub struct Crc64 {
    digest: Digest<'static, u64, Table<16>>,
}

impl Default for Crc64 {
    fn default() -> Crc64 {
        Crc64::new()
    }
}

impl std::fmt::Debug for Crc64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Crc64({:#018x})", self.value())
    }
}

impl Crc64 {
    pub fn new() -> Crc64 {
        Crc64 {
            digest: REDIS_CRC64.digest(),
        }
    }

    /// Continues a checksum whose value so far is `value` (a CRC-64/REDIS register is its
    /// value: reflected, no final xor; the library takes the start in unreflected form).
    pub fn resume(value: u64) -> Crc64 {
        Crc64 {
            digest: REDIS_CRC64.digest_with_initial(value.reverse_bits()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.digest.update(bytes);
    }

    /// The checksum of everything fed so far (feeding may go on).
    pub fn value(&self) -> u64 {
        self.digest.clone().finalize()
    }

    /// The checksum of one buffer.
    pub fn of(bytes: &[u8]) -> u64 {
        REDIS_CRC64.checksum(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_check_values() {
        // The catalogue's check value for "123456789", and the one Redis's own crc64 test
        // prints for the same input.
        assert_eq!(Crc64::of(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        let mut running = Crc64::new();
        running.update(b"1234");
        running.update(b"56789");
        assert_eq!(running.value(), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(Crc64::new().value(), 0);
        let mut resumed = Crc64::resume(Crc64::of(b"1234"));
        resumed.update(b"56789");
        assert_eq!(resumed.value(), 0xe9c6_d914_c4b8_d9ca);
    }
}
