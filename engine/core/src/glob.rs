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
            restart = Some(Restart {
                pattern_at: p,
                subject_at: s + 1,
            });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// (pattern, subject, matched). Every row was checked on redis-server 7.0.15 with
    /// `SET subject 1; KEYS pattern` (KEYS matches case-sensitively).
    const KEYS_VERIFIED: &[(&[u8], &[u8], bool)] = &[
        (b"a*", b"abc", true),
        (b"a*", b"", false),
        (b"**", b"", false),
        (b"", b"", true),
        (b"", b"a", false),
        (b"?", b"", false),
        (b"*", b"x", true),
        (b"a?c", b"abc", true),
        (b"a?c", b"ac", false),
        (b"*c", b"abc", true),
        (b"*b", b"abc", false),
        (b"a*b*c", b"aXbYc", true),
        (b"a*b*c", b"aXbY", false),
        (b"*a*a*a*b", b"aaaaaaab", true),
        (b"*a*a*a*b", b"aaaaaaaa", false),
        (b"a**", b"a", true),
        (b"a*", b"a", true),
        (b"a?*", b"a", false),
        (b"[abc]", b"b", true),
        (b"[abc]", b"d", false),
        (b"[^abc]", b"d", true),
        (b"[^abc]", b"a", false),
        (b"[a-c]", b"b", true),
        (b"[a-c]", b"d", false),
        (b"[c-a]", b"b", true),
        (b"[z-a]x", b"mx", true),
        (b"[a-]", b"-", false),
        (b"[a-]", b"]", true),
        (b"[a-]", b"_", true),
        (b"[a-]", b"b", false),
        (b"[-a]", b"-", true),
        (b"[]a]", b"]", false),
        (b"[]a]", b"a", false),
        (b"[]", b"]", false),
        (b"[]]", b"]", false),
        (b"[!a]", b"b", false),
        (b"[!a]", b"!", true),
        (b"[^]", b"^", true),
        (b"[^]", b"a", true),
        (b"[", b"[", false),
        (b"[", b"a", false),
        (b"[^", b"a", true),
        (b"[^", b"ab", false),
        (b"[abc", b"c", true),
        (b"[abc", b"d", false),
        (b"[abc", b"[", false),
        (b"a[", b"a[", false),
        (b"a[b", b"ab", true),
        (b"[a-", b"-", true),
        (b"[a-", b"a", true),
        (b"[a-c", b"b", true),
        (b"\\*", b"*", true),
        (b"\\*", b"a", false),
        (b"\\?", b"?", true),
        (b"\\a", b"a", true),
        (b"a\\", b"a\\", true),
        (b"a\\", b"a", false),
        (b"\\", b"\\", true),
        (b"[\\]]", b"]", true),
        (b"[\\]", b"\\", false),
        (b"[\\]", b"]", true),
        (b"[\\-]", b"-", true),
        (b"[a\\-c]", b"b", false),
        (b"[a\\-c]", b"-", true),
        (b"[\\^a]", b"^", true),
        (b"[\\", b"\\", true),
        (b"*\\", b"ab\\", true),
        (b"[a-c-e]", b"d", false),
        (b"[a-c-e]", b"-", true),
        (b"[\x01-\xff]", b"a", false),
        (b"[\x01-\xff]", b"\xfe", false),
        (b"[\xff-\x01]", b"\x00", true),
        (b"[\x80-\xff]", b"\x90", true),
        (b"[\x80-\xff]", b"a", false),
        (b"A", b"a", false),
        (b"[A-Z]", b"a", false),
        (b"*?", b"a", true),
        (b"?*?", b"a", false),
        (b"h?llo", b"hello", true),
        (b"h*llo", b"hllo", true),
        (b"h[^e]llo", b"hallo", true),
        (b"*.*", b"a.b", true),
        (b"*.*", b"ab", false),
        (b"a*a", b"aa", true),
        (b"a*a", b"a", false),
    ];

    /// (pattern, name, matched), checked with `COMMAND LIST FILTERBY PATTERN`, which matches
    /// command names with nocase set.
    const NOCASE_VERIFIED: &[(&[u8], &[u8], bool)] = &[
        (b"GET", b"get", true),
        (b"[A-G]et", b"get", true),
        (b"[G-A]ET", b"get", true),
        (b"[\\G]et", b"get", false),
        (b"[\\g]ET", b"get", true),
        (b"[^G]et", b"get", false),
        (b"g[A-Z]t", b"get", true),
        (b"g[Z-A]t", b"get", true),
        (b"g[_-a]t", b"get", false),
        (b"g[E]t", b"get", true),
        (b"\\Get", b"get", true),
        (b"G?T", b"get", true),
        (b"CONFIG|*", b"config|get", true),
        (b"[B-D]onfig", b"config", true),
        (b"[^a-z]et", b"get", false),
    ];

    #[test]
    fn matches_redis_keys() {
        for &(pattern, subject, want) in KEYS_VERIFIED {
            let got = glob_match(pattern, subject, false);
            assert_eq!(
                got,
                want,
                "pattern {:?} subject {:?}",
                pattern.escape_ascii().to_string(),
                subject.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn matches_redis_nocase() {
        for &(pattern, subject, want) in NOCASE_VERIFIED {
            let got = glob_match(pattern, subject, true);
            assert_eq!(
                got,
                want,
                "pattern {:?} subject {:?}",
                pattern.escape_ascii().to_string(),
                subject.escape_ascii().to_string()
            );
        }
    }

    fn star_a(groups: usize, tail: &[u8]) -> Vec<u8> {
        let mut p = b"*a".repeat(groups);
        p.extend_from_slice(tail);
        p
    }

    /// Verified on 7.0.15: the 1001st star group fails the match unless it ends the pattern
    /// or the subject ran out first.
    #[test]
    fn star_nesting_limit_as_redis() {
        let a = |n: usize| vec![b'a'; n];
        assert!(glob_match(&star_a(1000, b""), &a(1000), false));
        assert!(!glob_match(&star_a(1001, b""), &a(1001), false));
        assert!(!glob_match(&star_a(1001, b"*"), &a(1001), false));
        assert!(glob_match(&star_a(1000, b"*"), &a(1000), false));
        assert!(glob_match(
            &star_a(1000, b"*"),
            b"a".repeat(1000)
                .iter()
                .chain(b"b")
                .copied()
                .collect::<Vec<u8>>()
                .as_slice(),
            false
        ));
        assert!(!glob_match(
            &star_a(1000, b"*b"),
            &[a(1000), b"b".to_vec()].concat(),
            false
        ));
        assert!(glob_match(
            &star_a(999, b"*b"),
            &[a(999), b"b".to_vec()].concat(),
            false
        ));
    }

    /// The classic exponential case for naive backtracking; bounded by pattern × subject steps.
    #[test]
    fn pathological_pattern_is_bounded() {
        const SUBJECT_LEN_BYTES: usize = 10 * 1024;
        let subject = vec![b'a'; SUBJECT_LEN_BYTES];
        for pattern in [
            star_a(12, b"b"),
            b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*?b".to_vec(),
            b"a*[ab]*?*\\a*[^b]*b".to_vec(),
            b"*aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab".to_vec(),
        ] {
            let mut steps = 0u64;
            assert!(!match_counted(&pattern, &subject, false, &mut steps));
            let bound = (pattern.len() as u64 + 1) * (SUBJECT_LEN_BYTES as u64 + 1);
            assert!(steps <= bound, "{steps} steps > {bound}");
        }
        // The newest star is the only one ever retried: this is linear in practice.
        let mut steps = 0u64;
        assert!(!match_counted(
            &star_a(12, b"b"),
            &subject,
            false,
            &mut steps
        ));
        assert!(steps < 4 * SUBJECT_LEN_BYTES as u64, "{steps}");
    }

    #[test]
    fn empty_subject_matches_only_empty_pattern() {
        assert!(glob_match(b"", b"", false));
        assert!(!glob_match(b"*", b"", false));
        assert!(!glob_match(b"[^", b"", true));
    }
}
