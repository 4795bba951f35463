//! The engine's allocator size classes (damselfly_core::db::size_class, pure arithmetic, since
//! the engine never queries the allocator) against the allocator the binary links: mimalloc's
//! own `mi_usable_size` for every request size up to 64 KiB and a spread beyond.

use damselfly_core::db::size_class::{class_bytes, LARGE_OBJECT_MAX_BYTES};

fn mimalloc_usable_bytes(n: usize) -> usize {
    // SAFETY: mi_malloc returns a block of at least `n` bytes or null; it is measured and freed
    // here and never used otherwise.
    unsafe {
        let block = libmimalloc_sys::mi_malloc(n);
        assert!(!block.is_null(), "mi_malloc({n}) failed");
        let usable = libmimalloc_sys::mi_usable_size(block);
        libmimalloc_sys::mi_free(block);
        usable
    }
}

#[test]
fn engine_size_classes_match_mimalloc() {
    let sizes = (1..=65_536).chain((65_536..=LARGE_OBJECT_MAX_BYTES).step_by(4093));
    for n in sizes {
        assert_eq!(
            class_bytes(n),
            mimalloc_usable_bytes(n),
            "request of {n} bytes"
        );
    }
}
