//! Argument parsing exactly as Redis 7.0 does it (`util.c`, `object.c`).
//!
//! Redis compares option names with C string functions (`strcasecmp`, `opt[2] == '\0'`), so an
//! argument is effectively cut at its first NUL byte before comparison; `cstr` reproduces that.

use crate::resp::Resp;

/// Redis's `LONG_STR_SIZE`: strings this long or longer are never integers.
const LONG_STR_SIZE_BYTES: usize = 21;

/// The shared error for arguments that must be integers.
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// The shared syntax error.
pub const SYNTAX: &str = "ERR syntax error";

/// `string2ll`: strict base-10 `i64`. No sign `+`, no spaces, no leading zeros (except "0"),
/// "-0" is invalid, at most 20 characters.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= LONG_STR_SIZE_BYTES {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// `getLongLongFromObjectOrReply` with the default message.
pub fn int_or_reply(arg: &[u8]) -> Result<i64, Resp> {
    string2ll(arg).ok_or_else(|| Resp::err(NOT_INTEGER))
}

/// `getIntFromObjectOrReply(c, o, &v, NULL)`: an `i64` that must also fit a C `int`.
pub fn c_int_or_reply(arg: &[u8]) -> Result<i32, Resp> {
    let v = int_or_reply(arg)?;
    i32::try_from(v).map_err(|_| {
        Resp::err(format!(
            "ERR value is out of range, value must between {} and {}",
            i32::MIN,
            i32::MAX
        ))
    })
}

/// `getIntFromObjectOrReply(c, o, &v, msg)`: as above, but any failure replies `msg`.
pub fn c_int_or_msg(arg: &[u8], msg: &str) -> Result<i32, Resp> {
    string2ll(arg)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| Resp::err(format!("ERR {msg}")))
}

/// The argument as C sees it: everything before the first NUL byte.
pub fn cstr(arg: &[u8]) -> &[u8] {
    match arg.iter().position(|&b| b == 0) {
        Some(nul) => &arg[..nul],
        None => arg,
    }
}

/// `!strcasecmp(arg, word)` for an ASCII `word`.
pub fn is(arg: &[u8], word: &str) -> bool {
    cstr(arg).eq_ignore_ascii_case(word.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_is_strict() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"+1",
            b"01",
            b" 1",
            b"1 ",
            b"1.0",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(string2ll(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn c_strings_stop_at_nul() {
        assert!(is(b"nx\0junk", "NX"));
        assert!(!is(b"nxx", "NX"));
    }
}
