//! Feeds arbitrary bytes, behind an HLL header, to every HyperLogLog entry point (the checks
//! PFADD, PFCOUNT, PFMERGE and PFDEBUG make on a stored string) and checks that none panics,
//! that a value they accept stays one they accept, and that a sparse value that converts to
//! dense counts the same as before.
//!
//! Input layout: byte 0 picks the header (sparse or dense, stale cache or not) and a small or
//! the default `hll-sparse-max-bytes`; bytes 1..9 seed the elements added; the rest is the
//! register body.

#![no_main]

use damselfly_core::db::hll::{self, Encoding, HEADER_BYTES, REGISTERS};
use libfuzzer_sys::fuzz_target;

/// Elements PFADD adds per input: enough to split, merge and promote opcodes.
const ELEMENTS_PER_INPUT: u64 = 16;

fuzz_target!(|data: &[u8]| {
    let Some((&settings, rest)) = data.split_first() else {
        return;
    };
    let (seed, body) = rest.split_at(rest.len().min(8));
    let mut seed_bytes = [0u8; 8];
    seed_bytes[..seed.len()].copy_from_slice(seed);
    let seed = u64::from_le_bytes(seed_bytes);

    let mut value = hll::new_sparse();
    value.truncate(HEADER_BYTES);
    value[4] = if settings & 1 == 0 { 1 } else { 0 };
    if settings & 2 != 0 {
        hll::invalidate_cache(&mut value);
    }
    value.extend_from_slice(body);
    let sparse_max_bytes = if settings & 4 == 0 { 3000 } else { 40 };

    let before = hll::check(&value);
    let count = hll::count(&value);
    let mut max = [0u8; REGISTERS];
    let merged = hll::merge_into(&mut max, &value);
    if before == Ok(Encoding::Sparse) {
        let _ = hll::decode_sparse(&value);
    }
    let mut dense = value.clone();
    if hll::to_dense(&mut dense) == Ok(true) {
        assert_eq!(hll::check(&dense), Ok(Encoding::Dense));
        assert_eq!(hll::count(&dense), count, "conversion changed the estimate");
        assert!(merged.is_ok(), "converted but refused by merge");
        assert_eq!(hll::dense_registers(&dense).len(), REGISTERS);
    }
    let mut edited = value;
    for i in 0..ELEMENTS_PER_INPUT {
        let element = seed.wrapping_add(i).to_le_bytes();
        if hll::add(&mut edited, &element, sparse_max_bytes).is_err() {
            break;
        }
        assert!(hll::check(&edited).is_ok(), "an add made the value unreadable");
    }
});
