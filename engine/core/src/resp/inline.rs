//! Inline commands: one line split into arguments by Redis's `sdssplitargs` rules.
//!
//! - Blanks (C `isspace`: space, `\t`, `\n`, `\v`, `\f`, `\r`) separate arguments, but inside an
//!   unquoted argument only space, `\t`, `\n` and `\r` end it, so `a\vb` is one argument.
//! - A quote may open anywhere, even mid-argument (`foo"bar baz"` is `foobar baz`); the closing
//!   quote ends the argument and must be followed by a blank or the end of the line.
//! - Double quotes know `\n \r \t \b \a`, `\xHH`, and `\<any>` for that byte; single quotes know
//!   only `\'`. An unterminated quote or a closing quote followed by a non-blank is
//!   "unbalanced quotes in request".
//!
//! The line never holds a NUL (the decoder stops its line search at one, as Redis's `strchr`
//! does), so the C code's end-of-string checks become end-of-slice checks. Every argument goes
//! straight into the `Argv`, in runs, with no per-argument allocation.

use crate::argv::Argv;

use super::ProtocolError;

/// Appends the arguments of `line` (without its line end) to `argv`. A blank line adds none.
pub(super) fn split_inline(line: &[u8], argv: &mut Argv) -> Result<(), ProtocolError> {
    debug_assert!(
        !line.contains(&0),
        "the decoder never hands over a line holding a NUL"
    );
    let mut at = 0;
    loop {
        while at < line.len() && is_c_space(line[at]) {
            at += 1;
        }
        if at == line.len() {
            return Ok(());
        }
        argv.push(b"");
        at = split_argument(line, at, argv)?;
    }
}

/// Reads one argument starting at `at` into the last slot of `argv`; returns where it ended.
fn split_argument(line: &[u8], mut at: usize, argv: &mut Argv) -> Result<usize, ProtocolError> {
    loop {
        match line.get(at) {
            None | Some(b' ' | b'\n' | b'\r' | b'\t') => return Ok(at),
            Some(b'"') => return double_quoted(line, at + 1, argv),
            Some(b'\'') => return single_quoted(line, at + 1, argv),
            Some(_) => {
                let run = line[at..]
                    .iter()
                    .position(|&b| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'"' | b'\''))
                    .unwrap_or(line.len() - at);
                argv.extend_last(&line[at..at + run]);
                at += run;
            }
        }
    }
}

/// The body of a `"…"` section starting after the opening quote; returns the index after the
/// closing quote.
fn double_quoted(line: &[u8], mut at: usize, argv: &mut Argv) -> Result<usize, ProtocolError> {
    loop {
        match line.get(at) {
            None => return Err(ProtocolError::UNBALANCED_QUOTES),
            Some(b'"') => return closing_quote(line, at),
            Some(b'\\') => match (line.get(at + 1), hex_pair(line, at + 2)) {
                (Some(b'x'), Some(byte)) => {
                    argv.extend_last(&[byte]);
                    at += 4;
                }
                (Some(&escaped), _) => {
                    argv.extend_last(&[unescape(escaped)]);
                    at += 2;
                }
                // A backslash ending the line is kept; the quote is then unterminated anyway.
                (None, _) => return Err(ProtocolError::UNBALANCED_QUOTES),
            },
            Some(_) => {
                let run = line[at..]
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\')
                    .unwrap_or(line.len() - at);
                argv.extend_last(&line[at..at + run]);
                at += run;
            }
        }
    }
}

/// The body of a `'…'` section starting after the opening quote; returns the index after the
/// closing quote.
fn single_quoted(line: &[u8], mut at: usize, argv: &mut Argv) -> Result<usize, ProtocolError> {
    loop {
        match line.get(at) {
            None => return Err(ProtocolError::UNBALANCED_QUOTES),
            Some(b'\'') => return closing_quote(line, at),
            Some(b'\\') if line.get(at + 1) == Some(&b'\'') => {
                argv.extend_last(b"'");
                at += 2;
            }
            Some(_) => {
                // Stop at a backslash too: it may escape the quote that follows it.
                let run = 1 + line[at + 1..]
                    .iter()
                    .position(|&b| b == b'\'' || b == b'\\')
                    .unwrap_or(line.len() - at - 1);
                argv.extend_last(&line[at..at + run]);
                at += run;
            }
        }
    }
}

/// A closing quote at `at` must be followed by a blank or the end of the line.
fn closing_quote(line: &[u8], at: usize) -> Result<usize, ProtocolError> {
    match line.get(at + 1) {
        Some(&next) if !is_c_space(next) => Err(ProtocolError::UNBALANCED_QUOTES),
        _ => Ok(at + 1),
    }
}

fn hex_pair(line: &[u8], at: usize) -> Option<u8> {
    let high = hex_digit(*line.get(at)?)?;
    let low = hex_digit(*line.get(at + 1)?)?;
    Some(high * 16 + low)
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn unescape(byte: u8) -> u8 {
    match byte {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'b' => 0x08,
        b'a' => 0x07,
        other => other,
    }
}

/// C's `isspace` in the "C" locale.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    type Split = Result<Vec<Vec<u8>>, ProtocolError>;

    fn split(line: &[u8]) -> Split {
        let mut argv = Argv::new();
        split_inline(line, &mut argv)?;
        Ok(argv.iter().map(<[u8]>::to_vec).collect())
    }

    fn ok(args: &[&[u8]]) -> Split {
        Ok(args.iter().map(|a| a.to_vec()).collect())
    }

    /// Each case was sent to redis-server 7.0.15 as `RPUSH q <line>` and read back with LRANGE.
    #[test]
    fn splits_like_redis() {
        let unbalanced = || Err(ProtocolError::UNBALANCED_QUOTES);
        let cases: &[(&[u8], Split)] = &[
            (b"a b  c", ok(&[b"a", b"b", b"c"])),
            (b"\"a b\" c", ok(&[b"a b", b"c"])),
            (
                br#""a\x41\x4g\n\r\t\b\a\\\"\z" x"#,
                ok(&[b"aAx4g\n\r\t\x08\x07\\\"z", b"x"]),
            ),
            (br#"'a\'b\"\n' x"#, ok(&[br#"a'b\"\n"#, b"x"])),
            (b"\"a\"b", unbalanced()),
            (b"'a'b", unbalanced()),
            (b"\"abc", unbalanced()),
            (b"'abc", unbalanced()),
            (b"foo\"bar baz\"", ok(&[b"foobar baz"])),
            (b"\"a\"\tb", ok(&[b"a", b"b"])),
            (b"\"a\"\x0bb", ok(&[b"a", b"b"])),
            (b"a\x0bb \x0c", ok(&[b"a\x0bb"])),
            (b"a\rb", ok(&[b"a", b"b"])),
            (br#""a\""#, unbalanced()),
            (b"\"\"", ok(&[b""])),
            (b"''", ok(&[b""])),
            (br#""\x""#, ok(&[b"x"])),
            (b"\"a\rb\"", ok(&[b"a\rb"])),
            (br#""\xff""#, ok(&[b"\xff"])),
            (br"'a\\b'", ok(&[br"a\\b"])),
            (b"x\"\"", ok(&[b"x"])),
            (b"", ok(&[])),
            (b" \t\x0b\x0c\r", ok(&[])),
        ];
        for (line, expected) in cases {
            assert_eq!(
                &split(line),
                expected,
                "line {:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn backslash_at_line_end_is_unbalanced() {
        assert_eq!(split(b"\"a\\"), Err(ProtocolError::UNBALANCED_QUOTES));
        assert_eq!(split(b"'a\\"), Err(ProtocolError::UNBALANCED_QUOTES));
        assert_eq!(split(br#""\x4"#), Err(ProtocolError::UNBALANCED_QUOTES));
    }

    #[test]
    fn single_quote_escape_after_a_run() {
        assert_eq!(split(br"'ab\'c'"), ok(&[b"ab'c"]));
        // `\\'` is a kept backslash then an escaped quote, so the quote never closes.
        assert_eq!(split(br"'\\'"), Err(ProtocolError::UNBALANCED_QUOTES));
    }
}
