//! Glob matching for KEYS, following Redis 7.0's `stringmatchlen` (util.c) case by case,
//! including its edge cases: an unclosed `[` matches what it has read so far, `[z-a]` is the
//! same range as `[a-z]`, a `\` inside a class escapes the next byte, and bytes compare as C's
//! signed `char` in ranges. Patterns are C strings in Redis, so reading one past the end yields
//! NUL; `at` reproduces that. Like Redis we give up (no match) past 1000 nested stars.

/// Redis's recursion guard for abusive patterns.
const NESTING_MAX: u32 = 1000;

/// True if `string` matches the glob `pattern` (case-sensitive, as KEYS uses it).
pub fn matches(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, &mut skip_longer, 0)
}

/// The byte at `i`, or NUL past the end (the C string terminator).
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// C `char` is signed on x86-64; ranges compare the signed values.
fn signed(b: u8) -> i32 {
    i32::from(b as i8)
}

fn match_impl(mut p: &[u8], mut s: &[u8], skip_longer: &mut bool, nesting: u32) -> bool {
    if nesting > NESTING_MAX {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        p = match p[0] {
            b'*' => return match_star(p, s, skip_longer, nesting),
            b'?' => &p[1..],
            b'[' => match match_class(&p[1..], s[0]) {
                (rest, true) => rest,
                (_, false) => return false,
            },
            b'\\' => {
                let escaped = if p.len() >= 2 { &p[1..] } else { p };
                if escaped[0] != s[0] {
                    return false;
                }
                &escaped[1..]
            }
            c => {
                if c != s[0] {
                    return false;
                }
                &p[1..]
            }
        };
        s = &s[1..];
        if s.is_empty() {
            while at(p, 0) == b'*' {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

/// `p` starts with `*`: collapse runs of stars, then try the rest at every suffix of `s`.
fn match_star(mut p: &[u8], mut s: &[u8], skip_longer: &mut bool, nesting: u32) -> bool {
    while !p.is_empty() && at(p, 1) == b'*' {
        p = &p[1..];
    }
    if p.len() == 1 {
        return true;
    }
    while !s.is_empty() {
        if match_impl(&p[1..], s, skip_longer, nesting + 1) {
            return true;
        }
        if *skip_longer {
            return false;
        }
        s = &s[1..];
    }
    // No suffix matched the rest: a longer match for an earlier star cannot help either.
    *skip_longer = true;
    false
}

/// Matches byte `c` against a class body (`p` is just after the `[`). Returns the pattern after
/// the closing `]` and whether `c` matched. An unclosed class consumes the rest of the pattern.
fn match_class(mut p: &[u8], c: u8) -> (&[u8], bool) {
    let negate = at(p, 0) == b'^';
    if negate {
        p = &p[1..];
    }
    let mut matched = false;
    let mut i = 0;
    loop {
        let rest = &p[i..];
        if at(rest, 0) == b'\\' && rest.len() >= 2 {
            i += 1;
            matched |= p[i] == c;
        } else if at(rest, 0) == b']' {
            return (&p[i + 1..], matched != negate);
        } else if rest.is_empty() {
            return (rest, matched != negate);
        } else if rest.len() >= 3 && rest[1] == b'-' {
            let (a, b) = (signed(rest[0]), signed(rest[2]));
            matched |= (a.min(b)..=a.max(b)).contains(&signed(c));
            i += 2;
        } else {
            matched |= rest[0] == c;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_cases() {
        let yes = [
            ("*", "abc"),
            ("a*", "abc"),
            ("*c", "abc"),
            ("a?c", "abc"),
            ("a[bx]c", "abc"),
            ("a[^x]c", "abc"),
            ("a[a-c]c", "abc"),
            ("a[c-a]c", "abc"),
            ("a\\*c", "a*c"),
            ("a[\\]]c", "a]c"),
            ("h*llo", "heeello"),
            ("{a}*", "{a}x"),
            ("a[b", "ab"),
            ("**a", "a"),
            ("a\\", "a\\"),
        ];
        for (p, s) in yes {
            assert!(
                matches(p.as_bytes(), s.as_bytes()),
                "{p:?} should match {s:?}"
            );
        }
        let no = [
            ("a", ""),
            ("*", ""), // KEYS special-cases a lone "*"; the matcher itself needs a byte
            ("**", ""),
            ("", "a"),
            ("?", ""),
            ("a?", "a"),
            ("a[^b]c", "abc"),
            ("a[x-z]c", "abc"),
            ("a*d", "abc"),
            ("a[b", "abc"),
        ];
        for (p, s) in no {
            assert!(
                !matches(p.as_bytes(), s.as_bytes()),
                "{p:?} should not match {s:?}"
            );
        }
    }
}
