//! Glob matching with Redis 7.0's `stringmatchlen` semantics (KEYS, SCAN MATCH, PSUBSCRIBE,
//! CONFIG GET, COMMAND LIST FILTERBY PATTERN, ACL key and channel patterns).
//!
//! Design: Redis recurses once per `*` and bounds the damage with a `skipLongerMatches` flag and
//! a nesting limit of 1000. We run the same search as a loop that remembers only the most recent
//! star (where to resume and from which subject byte). Forgetting earlier stars is exactly what
//! `skipLongerMatches` does: once the pattern after the newest star has failed from every subject
//! position, no longer match of an earlier star can help, so both give up at the same moment.
//! The work is at most one token step per (star restart, subject byte), O(pattern × subject),
//! with no stack. The nesting limit is kept as a rule: reaching the 1001st star group with
//! subject left, when it is not the pattern's last byte, fails the match, as in Redis.
//!
//! Redis quirks we keep on purpose (each has a test with the answer redis-server 7.0.15 gave):
//! - An empty subject matches only the empty pattern: `*` does not match `""`. (KEYS `*`
//!   short-circuits before matching; callers that want that must do the same.)
//! - `[z-a]` is the range `a-z`. Range ends compare as C `char`, which is signed on x86-64, so
//!   bytes 0x80..=0xFF sort below NUL inside a range (`[\x01-\xff]` is the range 0xFF..=0x01).
//! - With `nocase`, a range is swapped first and lower-cased after, and only ASCII folds.
//! - Inside brackets `\x` matches `x` case-sensitively even with `nocase`.
//! - `[a-]` is a range from `a` to `]`, and then the class is unterminated.
//! - An unterminated class (`[abc`) matches one byte from the bytes seen; `[^` matches any byte
//!   and `[` matches nothing.
//! - A trailing `\` matches a literal backslash.

/// Redis's recursion limit: a star nested deeper than this fails the whole match.
const STAR_NESTING_MAX: u32 = 1000;

/// True when `subject` matches the glob `pattern`, as Redis's `stringmatchlen` decides.
pub fn glob_match(pattern: &[u8], subject: &[u8], nocase: bool) -> bool {
    let mut steps = 0u64;
    match_counted(pattern, subject, nocase, &mut steps)
}

/// Where to resume after a mismatch: just past the newest star, with the star eating one more
/// subject byte than last time.
struct Restart {
    pattern_at: usize,
    subject_at: usize,
}

/// The search; `steps` counts token comparisons so tests can bound the work without a clock.
fn match_counted(pattern: &[u8], subject: &[u8], nocase: bool, steps: &mut u64) -> bool {
    if subject.is_empty() {
        // Redis's loop never runs on an empty subject; only an empty pattern is left over.
        return pattern.is_empty();
    }
    let mut p = 0usize;
    let mut s = 0usize;
    let mut restart: Option<Restart> = None;
    let mut star_groups = 0u32;
    loop {
        debug_assert!(s < subject.len());
        *steps += 1;
        let stepped = if p == pattern.len() {
            None // Pattern used up with subject left.
        } else if pattern[p] == b'*' {
            while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                p += 1;
            }
            if p + 1 == pattern.len() {
                return true;
            }
            star_groups += 1;
            if star_groups > STAR_NESTING_MAX {
                return false;
            }
            p += 1;
            restart = Some(Restart { pattern_at: p, subject_at: s + 1 });
            continue;
        } else {
            match_token(pattern, p, subject[s], nocase)
        };
        if let Some(next) = stepped {
            p = next;
            s += 1;
            if s < subject.len() {
                continue;
            }
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
        }
        // Mismatch: let the newest star eat one more byte, or give up.
        match restart.as_mut() {
            Some(r) if r.subject_at < subject.len() => {
                p = r.pattern_at;
                s = r.subject_at;
                r.subject_at += 1;
            }
            _ => return false,
        }
    }
}

/// Matches the non-star token at `pattern[p]` against byte `c`; on success returns the index
/// just past the token.
fn match_token(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<usize> {
    match pattern[p] {
        b'?' => Some(p + 1),
        b'[' => {
            let (matched, next) = match_class(pattern, p + 1, c, nocase);
            matched.then_some(next)
        }
        b'\\' if p + 1 < pattern.len() => eq_byte(pattern[p + 1], c, nocase).then_some(p + 2),
        literal => eq_byte(literal, c, nocase).then_some(p + 1),
    }
}

/// Matches a bracket class whose body starts at `pattern[p]` (just past `[`). Returns whether
/// `c` is accepted and the index just past the class. Mirrors Redis's loop test for test,
/// including its reads of the C string's NUL terminator (`at` returns 0 past the end).
fn match_class(pattern: &[u8], mut p: usize, c: u8, nocase: bool) -> (bool, usize) {
    let at = |i: usize| pattern.get(i).copied().unwrap_or(0);
    let negate = at(p) == b'^';
    if negate {
        p += 1;
    }
    let mut matched = false;
    loop {
        let left = pattern.len() - p;
        if at(p) == b'\\' && left >= 2 {
            p += 1;
            matched |= pattern[p] == c; // Escapes ignore nocase in Redis.
        } else if at(p) == b']' {
            break;
        } else if left == 0 {
            // Unterminated: Redis steps back so the outer loop lands on the end.
            p -= 1;
            break;
        } else if left >= 3 && pattern[p + 1] == b'-' {
            matched |= in_range(pattern[p], pattern[p + 2], c, nocase);
            p += 2;
        } else {
            matched |= eq_byte(pattern[p], c, nocase);
        }
        p += 1;
    }
    (matched != negate, p + 1)
}

/// A range test as Redis does it: bytes as signed C chars, ends swapped, then lower-cased.
fn in_range(start: u8, end: u8, c: u8, nocase: bool) -> bool {
    let (mut lo, mut hi, mut c) = (c_char(start), c_char(end), c_char(c));
    if lo > hi {
        std::mem::swap(&mut lo, &mut hi);
    }
    if nocase {
        (lo, hi, c) = (c_tolower(lo), c_tolower(hi), c_tolower(c));
    }
    lo <= c && c <= hi
}

fn eq_byte(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// A byte as x86-64's signed `char`, widened to `int`.
fn c_char(b: u8) -> i32 {
    i32::from(b as i8)
}

/// glibc `tolower` in the C locale (Redis never sets LC_CTYPE): ASCII only, others unchanged.
fn c_tolower(c: i32) -> i32 {
    if (i32::from(b'A')..=i32::from(b'Z')).contains(&c) {
        c + 32
    } else {
        c
    }
}
