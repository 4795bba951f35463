//! The allocator's size classes, as arithmetic: what a request of `n` bytes really takes.
//!
//! The production driver allocates with mimalloc (v3, as libmimalloc-sys 0.1.49 builds it). A
//! small request is served from a page of equal blocks, so it costs its *size class*, not its
//! length. mimalloc's classes (its `mi_bin`, with 16-byte minimum alignment on x86-64): 8, then
//! every multiple of 16 up to 64, then four classes per doubling (80, 96, 112, 128, 160, 192,
//! 224, 256, 320 …), so a request loses at most a quarter of its class (less than 12.5% of it
//! past 128 bytes). A 17..=32-byte request takes 32 bytes: there is no 24-byte class. A request past `LARGE_OBJECT_MAX_BYTES` gets whole OS pages.
//!
//! The engine never asks the allocator (accounting must be deterministic, the same under the
//! simulator), so it repeats the rule here; engine/server's `size_classes` test checks this
//! function against `mi_usable_size` for every size up to 64 KiB. The entry layout (entry.rs)
//! uses it to decide when key and value share one allocation, and the shard's memory accounting
//! counts every allocation by its class.

/// Bytes of a machine word: classes are whole words.
const WORD_BYTES: usize = 8;
/// Up to this many words classes are word-granular (two words apart, after the first).
const EXACT_CLASSES_WORDS_MAX: usize = 8;
/// mimalloc's MI_LARGE_MAX_OBJ_SIZE (4 MiB large pages / 8): past it, requests are rounded to
/// OS pages instead of classes.
pub const LARGE_OBJECT_MAX_BYTES: usize = 512 * 1024;
/// The OS page size huge requests are rounded to.
const OS_PAGE_BYTES: usize = 4096;

/// The bytes the allocator sets aside for a request of `n` bytes (0 for 0: nothing allocated).
pub const fn class_bytes(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let words = n.div_ceil(WORD_BYTES);
    if words <= EXACT_CLASSES_WORDS_MAX {
        // 16-byte minimum alignment (MI_ALIGN2W): one word, then even word counts.
        let words = if words == 1 {
            1
        } else {
            words.next_multiple_of(2)
        };
        return words * WORD_BYTES;
    }
    if n > LARGE_OBJECT_MAX_BYTES {
        return n.div_ceil(OS_PAGE_BYTES) * OS_PAGE_BYTES;
    }
    // The top three bits of `words - 1` pick the class: round up to a quarter of its power of two.
    let top_bit = usize::BITS - 1 - (words - 1).leading_zeros();
    let step_words = 1usize << (top_bit - 2);
    words.div_ceil(step_words) * step_words * WORD_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_mimalloc_bins() {
        let cases = [
            (1, 8),
            (8, 8),
            (9, 16),
            (17, 32),
            (26, 32),
            (33, 48),
            (49, 64),
            (64, 64),
            (65, 80),
            (80, 80),
            (81, 96),
            (129, 160),
            (1024, 1024),
            (1025, 1280),
            (1040, 1280),
            (8640, 10240),
            (8192, 8192),
        ];
        for (n, class) in cases {
            assert_eq!(class_bytes(n), class, "class of {n}");
        }
    }

    #[test]
    fn a_class_holds_its_request_and_wastes_at_most_a_quarter() {
        for n in 1..=LARGE_OBJECT_MAX_BYTES {
            let class = class_bytes(n);
            assert!(class >= n);
            assert!(n <= 64 || (class - n) * 4 <= class, "{n} -> {class}");
            assert_eq!(class_bytes(class), class, "a class is its own class");
        }
    }
}
