//! The RESP2 and RESP3 encoders.
//!
//! One walk over the `Reply` tree writes it in either version. RESP3-only types degrade to RESP2
//! the way Redis 7.0's `addReply*` functions do: a map becomes a flat array of 2N, a set or a push
//! an array, a double a bulk string, a boolean the integer 1 or 0, a verbatim string a plain bulk
//! string of its text, and both nils `$-1`/`*-1`; in RESP3 both nils are `_`.
//!
//! Invariants: every line the encoder writes is one line. Error and simple-string texts have any
//! `\r` or `\n` turned into a space (what Redis does to error texts), so a reply can never split
//! into two on the wire. Nesting is walked with an explicit stack, never recursion. Scalars are
//! formatted in stack buffers: encoding allocates nothing beyond `out` and, for an aggregate, the
//! walk's stack.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::slice;

use crate::reply::Reply;

use super::RespVersion;

/// The longest `%.17g` text: a sign, 17 digits, a point and `e-308`, with room to spare.
const DOUBLE_TEXT_MAX_BYTES: usize = 32;

/// `%.17g`: seventeen significant digits, enough to round-trip any `f64`.
const DOUBLE_SIGNIFICANT_DIGITS: i32 = 17;

/// `%g` switches to exponent notation below this decimal exponent.
const DOUBLE_FIXED_EXPONENT_MIN: i32 = -4;

/// RESP3's verbatim format tag is exactly this long (`txt`, `mkd`).
const VERBATIM_FORMAT_LEN_BYTES: usize = 3;

/// Appends the encoding of `reply` in `version` to `out`.
pub fn encode(reply: &Reply, version: RespVersion, out: &mut Vec<u8>) {
    if let Reply::Bulk(bytes) = reply {
        // The commonest reply (GET), without the walk.
        return bulk(out, b'$', bytes);
    }
    // Children still to write, innermost aggregate last. Empty (no allocation) for a scalar.
    let mut stack: Vec<Children<'_>> = Vec::new();
    let mut next = Some(reply);
    while let Some(reply) = next {
        if let Some(children) = encode_one(reply, version, out) {
            stack.push(children);
        }
        next = None;
        while let Some(top) = stack.last_mut() {
            if let Some(child) = top.next(out) {
                next = Some(child);
                break;
            }
            stack.pop();
        }
    }
}

/// The elements of an aggregate, in wire order.
enum Children<'a> {
    Items(slice::Iter<'a, Reply>),
    /// Map entries; the value of the entry whose key was just handed out waits in the second
    /// field.
    Pairs(slice::Iter<'a, (Reply, Reply)>, Option<&'a Reply>),
    /// `Reply::Pairs` in RESP3: as `Pairs`, with a 2-element array header before each key.
    NestedPairs(slice::Iter<'a, (Reply, Reply)>, Option<&'a Reply>),
}

impl<'a> Children<'a> {
    /// The next child to write; a nested pair's header is written to `out` first.
    fn next(&mut self, out: &mut Vec<u8>) -> Option<&'a Reply> {
        match self {
            Children::Items(items) => items.next(),
            Children::Pairs(pairs, value) => match value.take() {
                Some(value) => Some(value),
                None => {
                    let (key, pending) = pairs.next()?;
                    *value = Some(pending);
                    Some(key)
                }
            },
            Children::NestedPairs(pairs, value) => match value.take() {
                Some(value) => Some(value),
                None => {
                    let (key, pending) = pairs.next()?;
                    count_line(out, b'*', 2);
                    *value = Some(pending);
                    Some(key)
                }
            },
        }
    }
}

/// Writes one reply, or an aggregate's header and returns its children.
fn encode_one<'a>(
    reply: &'a Reply,
    version: RespVersion,
    out: &mut Vec<u8>,
) -> Option<Children<'a>> {
    use RespVersion::{Resp2, Resp3};
    match (reply, version) {
        (Reply::Simple(Cow::Borrowed(text)), _) => static_line(out, b'+', text),
        (Reply::Simple(text), _) => line(out, b'+', text.as_bytes()),
        (Reply::Error(err), _) => line(out, b'-', &err.wire()),
        (Reply::Int(n), _) => int_line(out, b':', *n),
        (Reply::Bulk(bytes), _) => bulk(out, b'$', bytes),
        (Reply::Nil, Resp2) => out.extend_from_slice(b"$-1\r\n"),
        (Reply::NilArray, Resp2) => out.extend_from_slice(b"*-1\r\n"),
        (Reply::Nil | Reply::NilArray, Resp3) => out.extend_from_slice(b"_\r\n"),
        (Reply::Array(items), _) => return Some(items_header(out, b'*', items)),
        (Reply::Frames(items), _) => return Some(Children::Items(items.iter())),
        (Reply::Map(pairs), Resp2) => return Some(pairs_header(out, b'*', 2, pairs)),
        (Reply::Map(pairs), Resp3) => return Some(pairs_header(out, b'%', 1, pairs)),
        (Reply::Pairs(pairs), Resp2) => return Some(pairs_header(out, b'*', 2, pairs)),
        (Reply::Pairs(pairs), Resp3) => {
            count_line(out, b'*', pairs.len());
            return Some(Children::NestedPairs(pairs.iter(), None));
        }
        (Reply::MapOrPairs(pairs), Resp2) => {
            count_line(out, b'*', pairs.len());
            return Some(Children::NestedPairs(pairs.iter(), None));
        }
        (Reply::MapOrPairs(pairs), Resp3) => return Some(pairs_header(out, b'%', 1, pairs)),
        (Reply::Set(items), Resp2) | (Reply::Push(items), Resp2) => {
            return Some(items_header(out, b'*', items))
        }
        (Reply::Set(items), Resp3) => return Some(items_header(out, b'~', items)),
        (Reply::Push(items), Resp3) => return Some(items_header(out, b'>', items)),
        (Reply::Double(value), Resp2) => bulk(out, b'$', fmt_double_g17(*value).as_bytes()),
        (Reply::Double(value), Resp3) => line(out, b',', fmt_double_g17(*value).as_bytes()),
        (Reply::DoubleText(text), Resp2) => bulk(out, b'$', text),
        (Reply::DoubleText(text), Resp3) => line(out, b',', text),
        (Reply::Bool(value), Resp2) => int_line(out, b':', i64::from(*value)),
        (Reply::Bool(true), Resp3) => out.extend_from_slice(b"#t\r\n"),
        (Reply::Bool(false), Resp3) => out.extend_from_slice(b"#f\r\n"),
        (Reply::Verbatim { text, .. }, Resp2) => bulk(out, b'$', text),
        (Reply::Verbatim { format, text }, Resp3) => verbatim(out, format, text),
    }
    None
}

fn items_header<'a>(out: &mut Vec<u8>, kind: u8, items: &'a [Reply]) -> Children<'a> {
    count_line(out, kind, items.len());
    Children::Items(items.iter())
}

/// `per_pair` is 2 when a map is sent as a flat RESP2 array, 1 for a RESP3 map.
fn pairs_header<'a>(
    out: &mut Vec<u8>,
    kind: u8,
    per_pair: usize,
    pairs: &'a [(Reply, Reply)],
) -> Children<'a> {
    count_line(out, kind, pairs.len() * per_pair);
    Children::Pairs(pairs.iter(), None)
}

/// `=<len>\r\n<fmt>:<text>\r\n`.
fn verbatim(out: &mut Vec<u8>, format: &str, text: &[u8]) {
    assert_eq!(
        format.len(),
        VERBATIM_FORMAT_LEN_BYTES,
        "verbatim format {format:?} must be {VERBATIM_FORMAT_LEN_BYTES} bytes"
    );
    count_line(out, b'=', format.len() + 1 + text.len());
    out.extend_from_slice(format.as_bytes());
    out.push(b':');
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// `<kind><text>\r\n` for a text of our own (OK, PONG, QUEUED…), which never holds CR or LF:
/// no scan for them on the most common reply.
fn static_line(out: &mut Vec<u8>, kind: u8, text: &'static str) {
    debug_assert!(
        !text.contains(['\r', '\n']),
        "{text:?} would split its line"
    );
    out.reserve(text.len() + 3);
    out.push(kind);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `<kind><text>\r\n`, with CR and LF inside `text` turned into spaces so the line stays one.
fn line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.push(kind);
    let start = out.len();
    out.extend_from_slice(text);
    for byte in &mut out[start..] {
        if *byte == b'\r' || *byte == b'\n' {
            *byte = b' ';
        }
    }
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, kind: u8, bytes: &[u8]) {
    out.reserve(NUMBER_LINE_MAX_BYTES + bytes.len() + 2);
    count_line(out, kind, bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

fn count_line(out: &mut Vec<u8>, kind: u8, count: usize) {
    number_line(out, kind, count as u64, false);
}

fn int_line(out: &mut Vec<u8>, kind: u8, n: i64) {
    number_line(out, kind, n.unsigned_abs(), n < 0);
}

/// The longest number line: a kind byte, a sign, the 20 digits of `u64::MAX`, CR LF.
const NUMBER_LINE_MAX_BYTES: usize = 1 + 1 + 20 + 2;

/// `<kind>[-]<digits>\r\n`, built backwards on the stack and appended with one copy, without
/// going through `fmt`: this runs for every reply.
fn number_line(out: &mut Vec<u8>, kind: u8, mut magnitude: u64, negative: bool) {
    let mut line = [0u8; NUMBER_LINE_MAX_BYTES];
    let mut start = NUMBER_LINE_MAX_BYTES - 2;
    line[start..].copy_from_slice(b"\r\n");
    loop {
        start -= 1;
        line[start] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if negative {
        start -= 1;
        line[start] = b'-';
    }
    start -= 1;
    line[start] = kind;
    out.extend_from_slice(&line[start..]);
}

/// A formatted double, held on the stack.
struct DoubleText {
    bytes: [u8; DOUBLE_TEXT_MAX_BYTES],
    len: usize,
}

impl DoubleText {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

impl std::fmt::Write for DoubleText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if self.len + text.len() > DOUBLE_TEXT_MAX_BYTES {
            return Err(std::fmt::Error);
        }
        self.push(text.as_bytes());
        Ok(())
    }
}

/// C's `printf("%.17g", value)` as glibc prints it, which is what Redis 7.0 sends for a double
/// in both versions: `1.1000000000000001`, `3`, `1e+20`, `1.0000000000000001e-05`, `-0`, `inf`,
/// `-inf`, `nan`.
///
/// Rust's `{:.16e}` rounds exactly like glibc (correctly, to 17 significant digits), so the
/// digits and the decimal exponent come from it; `%g`'s rules then pick fixed or exponent
/// notation and drop trailing zeros.
fn fmt_double_g17(value: f64) -> DoubleText {
    let mut text = DoubleText {
        bytes: [0; DOUBLE_TEXT_MAX_BYTES],
        len: 0,
    };
    if value.is_sign_negative() && !value.is_nan() {
        text.push(b"-");
    }
    if value.is_nan() {
        // glibc prints the NaN's sign too; Redis never replies with a NaN of either sign.
        text.push(if value.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
        return text;
    }
    if value.is_infinite() {
        text.push(b"inf");
        return text;
    }
    let mut scientific = DoubleText {
        bytes: [0; DOUBLE_TEXT_MAX_BYTES],
        len: 0,
    };
    write!(scientific, "{:.16e}", value.abs()).expect("an f64 in {:.16e} fits 32 bytes");
    let (mantissa, exponent) = split_scientific(scientific.as_bytes());
    // The 17 significant digits, without the point.
    let mut digits = [0u8; DOUBLE_SIGNIFICANT_DIGITS as usize];
    digits[0] = mantissa[0];
    digits[1..].copy_from_slice(&mantissa[2..]);
    let kept = digits.len() - digits.iter().rev().take_while(|&&d| d == b'0').count();
    if (DOUBLE_FIXED_EXPONENT_MIN..DOUBLE_SIGNIFICANT_DIGITS).contains(&exponent) {
        push_fixed(&mut text, &digits[..kept.max(1)], exponent);
    } else {
        push_exponent(&mut text, &digits[..kept.max(1)], exponent);
    }
    text
}

/// Splits Rust's `d.dddde<exp>` into the mantissa text and the exponent.
fn split_scientific(scientific: &[u8]) -> (&[u8], i32) {
    let e = scientific
        .iter()
        .position(|&b| b == b'e')
        .expect("{:e} always has an exponent");
    let exponent = std::str::from_utf8(&scientific[e + 1..])
        .ok()
        .and_then(|exp| exp.parse().ok())
        .expect("{:e} writes a decimal exponent");
    (&scientific[..e], exponent)
}

/// `%f`-style: `digits` (no trailing zeros) with the point after `exponent + 1` of them.
fn push_fixed(text: &mut DoubleText, digits: &[u8], exponent: i32) {
    if exponent < 0 {
        text.push(b"0.");
        for _ in 0..(-exponent - 1) {
            text.push(b"0");
        }
        text.push(digits);
        return;
    }
    let int_len = exponent as usize + 1;
    if digits.len() <= int_len {
        text.push(digits);
        for _ in digits.len()..int_len {
            text.push(b"0");
        }
    } else {
        text.push(&digits[..int_len]);
        text.push(b".");
        text.push(&digits[int_len..]);
    }
}

/// `%e`-style: `d[.ddd]e±XX`, at least two exponent digits.
fn push_exponent(text: &mut DoubleText, digits: &[u8], exponent: i32) {
    text.push(&digits[..1]);
    if digits.len() > 1 {
        text.push(b".");
        text.push(&digits[1..]);
    }
    text.push(if exponent < 0 { b"e-" } else { b"e+" });
    let magnitude = exponent.unsigned_abs();
    if magnitude < 10 {
        text.push(b"0");
    }
    write!(text, "{magnitude}").expect("an exponent fits");
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::error::CmdError;

    fn resp2(reply: &Reply) -> Vec<u8> {
        let mut out = Vec::new();
        encode(reply, RespVersion::Resp2, &mut out);
        out
    }

    fn resp3(reply: &Reply) -> Vec<u8> {
        let mut out = Vec::new();
        encode(reply, RespVersion::Resp3, &mut out);
        out
    }

    fn g17(value: f64) -> String {
        String::from_utf8(fmt_double_g17(value).as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn scalars() {
        let cases: &[(Reply, &[u8], &[u8])] = &[
            (Reply::OK, b"+OK\r\n", b"+OK\r\n"),
            (Reply::Int(0), b":0\r\n", b":0\r\n"),
            (Reply::Int(-42), b":-42\r\n", b":-42\r\n"),
            (
                Reply::Int(i64::MIN),
                b":-9223372036854775808\r\n",
                b":-9223372036854775808\r\n",
            ),
            (
                Reply::Int(i64::MAX),
                b":9223372036854775807\r\n",
                b":9223372036854775807\r\n",
            ),
            (Reply::bulk("hi"), b"$2\r\nhi\r\n", b"$2\r\nhi\r\n"),
            (Reply::bulk(""), b"$0\r\n\r\n", b"$0\r\n\r\n"),
            (Reply::Nil, b"$-1\r\n", b"_\r\n"),
            (Reply::NilArray, b"*-1\r\n", b"_\r\n"),
            (Reply::Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n"),
            (Reply::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n"),
            (
                Reply::Double(f64::NEG_INFINITY),
                b"$4\r\n-inf\r\n",
                b",-inf\r\n",
            ),
            (Reply::Double(f64::NAN), b"$3\r\nnan\r\n", b",nan\r\n"),
            (Reply::Bool(true), b":1\r\n", b"#t\r\n"),
            (Reply::Bool(false), b":0\r\n", b"#f\r\n"),
            (
                Reply::Verbatim {
                    format: "txt",
                    text: b"hello".to_vec(),
                },
                b"$5\r\nhello\r\n",
                b"=9\r\ntxt:hello\r\n",
            ),
            (
                Reply::Error(CmdError::Syntax),
                b"-ERR syntax error\r\n",
                b"-ERR syntax error\r\n",
            ),
        ];
        for (reply, two, three) in cases {
            assert_eq!(resp2(reply), *two, "{reply:?} in RESP2");
            assert_eq!(resp3(reply), *three, "{reply:?} in RESP3");
        }
    }

    #[test]
    fn aggregates() {
        let map = Reply::Map(vec![
            (Reply::bulk("a"), Reply::Int(1)),
            (Reply::bulk("b"), Reply::Array(vec![Reply::Nil])),
        ]);
        assert_eq!(
            resp2(&map),
            b"*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*1\r\n$-1\r\n"
        );
        assert_eq!(
            resp3(&map),
            b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*1\r\n_\r\n"
        );

        let pairs = Reply::Pairs(vec![
            (Reply::bulk("a"), Reply::bulk("1")),
            (Reply::bulk("b"), Reply::Array(vec![])),
        ]);
        assert_eq!(
            resp2(&pairs),
            b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n*0\r\n"
        );
        assert_eq!(
            resp3(&pairs),
            b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n*0\r\n"
        );
        assert_eq!(resp3(&Reply::Pairs(vec![])), b"*0\r\n");

        let set = Reply::Set(vec![Reply::bulk("x"), Reply::Double(2.0)]);
        assert_eq!(resp2(&set), b"*2\r\n$1\r\nx\r\n$1\r\n2\r\n");
        assert_eq!(resp3(&set), b"~2\r\n$1\r\nx\r\n,2\r\n");

        let push = Reply::Push(vec![Reply::bulk("message"), Reply::Bool(true)]);
        assert_eq!(resp2(&push), b"*2\r\n$7\r\nmessage\r\n:1\r\n");
        assert_eq!(resp3(&push), b">2\r\n$7\r\nmessage\r\n#t\r\n");

        let empty = Reply::Array(vec![Reply::Map(vec![]), Reply::Set(vec![])]);
        assert_eq!(resp2(&empty), b"*2\r\n*0\r\n*0\r\n");
        assert_eq!(resp3(&empty), b"*2\r\n%0\r\n~0\r\n");
    }

    #[test]
    fn deep_nesting_needs_no_recursion() {
        let mut reply = Reply::Int(7);
        for _ in 0..100_000 {
            reply = Reply::Array(vec![reply]);
        }
        let out = resp2(&reply);
        assert_eq!(out.len(), 100_000 * 4 + 4);
        assert!(out.ends_with(b"*1\r\n:7\r\n"));
        // Dropping so deep a tree is itself recursive; unwind it by hand.
        while let Reply::Array(mut items) = reply {
            reply = items.pop().unwrap();
        }
    }

    #[test]
    fn texts_never_break_the_line() {
        let err = Reply::Error(CmdError::Relayed("ERR bad\r\nthing\n".into()));
        assert_eq!(resp2(&err), b"-ERR bad  thing \r\n");
        let simple = Reply::Simple(Cow::Owned("a\rb".into()));
        assert_eq!(resp3(&simple), b"+a b\r\n");
    }

    /// Each expectation is what redis-server 7.0.15 answers to ZSCORE for that score, in RESP2
    /// (bulk) and after HELLO 3 (`,`): both print `%.17g`.
    #[test]
    fn doubles_print_like_redis() {
        let cases: &[(f64, &str)] = &[
            (1.1, "1.1000000000000001"),
            (0.5, "0.5"),
            (1e20, "1e+20"),
            (1e-5, "1.0000000000000001e-05"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (-0.0, "-0"),
            (0.0, "0"),
            (3.0, "3"),
            (0.1, "0.10000000000000001"),
            (1e300, "1.0000000000000001e+300"),
            (5e-324, "4.9406564584124654e-324"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (123456.789, "123456.789"),
            (-1.5e-7, "-1.4999999999999999e-07"),
            (2.5e15, "2500000000000000"),
            (1e21, "1e+21"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (-2.0, "-2"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (-f64::NAN, "-nan"),
        ];
        for &(value, expected) in cases {
            assert_eq!(g17(value), expected, "{value:e}");
        }
    }

    #[test]
    #[should_panic(expected = "verbatim format")]
    fn verbatim_format_must_be_three_bytes() {
        resp3(&Reply::Verbatim {
            format: "text",
            text: Vec::new(),
        });
    }
}
