//! A cursor over a command's arguments so each parser reads like its grammar, ending in
//! `finish()`, which rejects anything left over.

use crate::argv::Argv;
use crate::error::CmdError;
use crate::numfmt;

pub struct Args<'a> {
    argv: &'a Argv,
    pos: usize,
}

impl<'a> Args<'a> {
    /// A cursor starting at argument `pos` (1 skips the command name).
    pub fn new(argv: &'a Argv, pos: usize) -> Args<'a> {
        Args { argv, pos }
    }

    pub fn remaining(&self) -> usize {
        self.argv.len().saturating_sub(self.pos)
    }

    pub fn is_done(&self) -> bool {
        self.remaining() == 0
    }

    pub fn peek(&self) -> Option<&'a [u8]> {
        self.argv.get(self.pos)
    }

    /// The next argument, or a syntax error when there is none.
    pub fn next_arg(&mut self) -> Result<&'a [u8], CmdError> {
        self.next().ok_or(CmdError::Syntax)
    }

    /// Consumes the next argument when it equals `word` (case-insensitive).
    pub fn eat(&mut self, word: &str) -> bool {
        let hit = self
            .peek()
            .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()));
        if hit {
            self.pos += 1;
        }
        hit
    }

    pub fn next_i64(&mut self) -> Result<i64, CmdError> {
        parse_i64(self.next_arg()?)
    }

    pub fn finish(&self) -> Result<(), CmdError> {
        if self.is_done() {
            Ok(())
        } else {
            Err(CmdError::Syntax)
        }
    }
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let arg = self.argv.get(self.pos)?;
        self.pos += 1;
        Some(arg)
    }
}

/// An integer argument with Redis's strictness (string2ll).
pub fn parse_i64(arg: &[u8]) -> Result<i64, CmdError> {
    numfmt::parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// A SCAN-family cursor as Redis 7.0 reads it (`parseScanCursorOrReply`: strtoul, base 10):
/// an optional '+' or '-' then digits, where '-' negates modulo 2^64 ("-1" is u64::MAX); the
/// text ends at the first NUL (C string); nothing at all is 0. A leading space, no digit after
/// a sign, trailing junk or a value above u64::MAX is "ERR invalid cursor".
pub(crate) fn parse_scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let text = arg.split(|&b| b == 0).next().unwrap_or_default();
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    let signed_without_digits = digits.is_empty() && digits.len() != text.len();
    if signed_without_digits || !digits.iter().all(u8::is_ascii_digit) {
        return Err(CmdError::InvalidCursor);
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(CmdError::InvalidCursor)?;
    }
    Ok(if negative { n.wrapping_neg() } else { n })
}

/// Redis's default COUNT for the SCAN family.
pub(crate) const SCAN_COUNT_DEFAULT: usize = 10;

/// What the SCAN family takes after the cursor. A `MATCH *` is no pattern at all, as in Redis
/// (which is also what lets SCAN return the empty key).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ScanOptions {
    pub pattern: Option<Vec<u8>>,
    pub count: usize,
    /// SCAN's TYPE; never set for a key's collection (HSCAN, SSCAN, ZSCAN have no TYPE).
    pub type_name: Option<Vec<u8>>,
}

/// `[MATCH pattern] [COUNT count]` from argument 3 on, as scanGenericCommand reads them for a
/// key's collection (HSCAN, SSCAN, ZSCAN): see `parse_scan_options_from`.
pub(crate) fn parse_scan_options(argv: &Argv) -> Result<ScanOptions, CmdError> {
    parse_scan_options_from(argv, 3, false)
}

/// The SCAN family's options from argument `first` on, as scanGenericCommand reads them: each
/// option needs its value and may repeat (the last wins); a COUNT below 1 is a syntax error;
/// TYPE only where `with_type` (SCAN itself).
pub(crate) fn parse_scan_options_from(
    argv: &Argv,
    first: usize,
    with_type: bool,
) -> Result<ScanOptions, CmdError> {
    let mut parsed = ScanOptions {
        pattern: None,
        count: SCAN_COUNT_DEFAULT,
        type_name: None,
    };
    let mut args = Args::new(argv, first);
    while let Some(word) = args.next() {
        if args.is_done() {
            return Err(CmdError::Syntax);
        }
        if eq_word(word, "COUNT") {
            let n = args.next_i64()?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            parsed.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq_word(word, "MATCH") {
            let pattern = args.next_arg()?;
            parsed.pattern = (pattern != b"*").then(|| pattern.to_vec());
        } else if with_type && eq_word(word, "TYPE") {
            parsed.type_name = Some(args.next_arg()?.to_vec());
        } else {
            return Err(CmdError::Syntax);
        }
    }
    args.finish()?;
    Ok(parsed)
}

pub fn eq_word(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each case checked against redis-server 7.0.15's SCAN.
    #[test]
    fn scan_cursors_parse_like_redis_strtoul() {
        let ok: &[(&[u8], u64)] = &[
            (b"0", 0),
            (b"007", 7),
            (b"+5", 5),
            (b"-0", 0),
            (b"-1", u64::MAX),
            (b"18446744073709551615", u64::MAX),
            (b"-18446744073709551615", 1),
            (b"", 0),
            (b"5\0x", 5),
            (b"\0", 0),
        ];
        for &(arg, cursor) in ok {
            assert_eq!(parse_scan_cursor(arg), Ok(cursor), "{arg:?}");
        }
        let invalid: &[&[u8]] = &[
            b"18446744073709551616",
            b"-18446744073709551616",
            b"abc",
            b" 1",
            b"\t12",
            b"1 ",
            b"1.5",
            b"0x10",
            b"- 1",
            b"--1",
            b"+-1",
            b"+",
            b"-",
            b"-\0",
        ];
        for &arg in invalid {
            assert_eq!(
                parse_scan_cursor(arg),
                Err(CmdError::InvalidCursor),
                "{arg:?}"
            );
        }
    }
}
