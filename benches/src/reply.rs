//! A minimal RESP reply scanner: finds where one reply ends and what kind it is, without
//! copying or allocating. The load generator only needs to check replies (SET gives `+OK`, GET a
//! bulk string or nil) and count them, so payloads are skipped, not decoded.
//!
//! Aggregates are not expected from SET, GET or PING; `scan` reports an array as `Malformed` so a
//! surprise fails the run instead of desynchronising the pipeline. MGET's flat array of bulk
//! strings and nils has its own scanner, `scan_array`, used only where one is expected.

/// What kind of reply was scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    /// `+OK`.
    Ok,
    /// Any other simple string (`+PONG`).
    Simple,
    /// `-ERR ...`: `start..end` of the buffer holds the text, for the error report.
    Error {
        start: usize,
        end: usize,
    },
    Int,
    Bulk,
    /// `$-1` (RESP2) or `_` (RESP3).
    Nil,
    /// A flat array of `len` bulk strings or nils (MGET); from `scan_array` only.
    Array {
        len: usize,
    },
}

/// The outcome of scanning the front of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    /// A whole reply of `len_bytes` bytes.
    Reply { kind: ReplyKind, len_bytes: usize },
    /// The reply is not all here yet; read more.
    Incomplete,
    /// Not a reply this client can ever have asked for.
    Malformed,
}

/// Scans the reply at the front of `buf`.
pub fn scan(buf: &[u8]) -> Scan {
    let Some(line_end) = buf.iter().position(|&b| b == b'\n') else {
        return Scan::Incomplete;
    };
    // `line_end` indexes the `\n`; the line's text stops before the `\r`.
    if line_end == 0 || buf[line_end - 1] != b'\r' {
        return Scan::Malformed;
    }
    let text = &buf[1..line_end - 1];
    let line_len_bytes = line_end + 1;
    let kind = match buf[0] {
        b'+' if text == b"OK" => ReplyKind::Ok,
        b'+' => ReplyKind::Simple,
        b'-' => ReplyKind::Error {
            start: 1,
            end: line_end - 1,
        },
        b':' => ReplyKind::Int,
        b'_' => ReplyKind::Nil,
        b'$' => return scan_bulk(buf, text, line_len_bytes),
        _ => return Scan::Malformed,
    };
    Scan::Reply {
        kind,
        len_bytes: line_len_bytes,
    }
}

/// Scans an array of bulk strings and nils at the front of `buf` (any other reply, an error
/// included, is scanned as `scan` does). Nested aggregates are `Malformed`.
pub fn scan_array(buf: &[u8]) -> Scan {
    if buf.first() != Some(&b'*') {
        return scan(buf);
    }
    let Some(line_end) = buf.iter().position(|&b| b == b'\n') else {
        return Scan::Incomplete;
    };
    if line_end < 2 || buf[line_end - 1] != b'\r' {
        return Scan::Malformed;
    }
    let Some(len) = parse_len(&buf[1..line_end - 1]) else {
        return Scan::Malformed;
    };
    let mut pos = line_end + 1;
    for _ in 0..len {
        match scan(&buf[pos..]) {
            Scan::Reply {
                kind: ReplyKind::Bulk | ReplyKind::Nil,
                len_bytes,
            } => pos += len_bytes,
            Scan::Incomplete => return Scan::Incomplete,
            Scan::Reply { .. } | Scan::Malformed => return Scan::Malformed,
        }
    }
    Scan::Reply {
        kind: ReplyKind::Array { len },
        len_bytes: pos,
    }
}

fn scan_bulk(buf: &[u8], len_text: &[u8], header_len_bytes: usize) -> Scan {
    if len_text == b"-1" {
        return Scan::Reply {
            kind: ReplyKind::Nil,
            len_bytes: header_len_bytes,
        };
    }
    let Some(payload_len_bytes) = parse_len(len_text) else {
        return Scan::Malformed;
    };
    let len_bytes = header_len_bytes + payload_len_bytes + 2;
    if buf.len() < len_bytes {
        return Scan::Incomplete;
    }
    if &buf[len_bytes - 2..len_bytes] != b"\r\n" {
        return Scan::Malformed;
    }
    Scan::Reply {
        kind: ReplyKind::Bulk,
        len_bytes,
    }
}

/// A non-negative decimal length of at most 12 digits (a bulk reply larger than a terabyte is
/// no reply of ours).
fn parse_len(text: &[u8]) -> Option<usize> {
    const DIGITS_MAX: usize = 12;
    if text.is_empty() || text.len() > DIGITS_MAX || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0, |n, &d| n * 10 + usize::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(kind: ReplyKind, len_bytes: usize) -> Scan {
        Scan::Reply { kind, len_bytes }
    }

    #[test]
    fn simple_int_nil() {
        assert_eq!(scan(b"+OK\r\n"), reply(ReplyKind::Ok, 5));
        assert_eq!(scan(b"+PONG\r\n+OK"), reply(ReplyKind::Simple, 7));
        assert_eq!(scan(b":12\r\n"), reply(ReplyKind::Int, 5));
        assert_eq!(scan(b"$-1\r\n"), reply(ReplyKind::Nil, 5));
        assert_eq!(scan(b"_\r\n"), reply(ReplyKind::Nil, 3));
        let err = ReplyKind::Error { start: 1, end: 4 };
        assert_eq!(scan(b"-ERR\r\n"), reply(err, 6));
    }

    #[test]
    fn bulk_whole_and_split() {
        let bytes = b"$5\r\nhello\r\n";
        assert_eq!(scan(bytes), reply(ReplyKind::Bulk, bytes.len()));
        for cut in 0..bytes.len() {
            assert_eq!(scan(&bytes[..cut]), Scan::Incomplete, "cut at {cut}");
        }
        assert_eq!(scan(b"$0\r\n\r\n"), reply(ReplyKind::Bulk, 6));
    }

    #[test]
    fn arrays_of_bulks_and_nils() {
        let bytes = b"*3\r\n$1\r\na\r\n$-1\r\n$0\r\n\r\n";
        let whole = reply(ReplyKind::Array { len: 3 }, bytes.len());
        assert_eq!(scan_array(bytes), whole);
        for cut in 0..bytes.len() {
            assert_eq!(scan_array(&bytes[..cut]), Scan::Incomplete, "cut at {cut}");
        }
        assert_eq!(
            scan_array(b"*0\r\n+OK"),
            reply(ReplyKind::Array { len: 0 }, 4)
        );
        let err = ReplyKind::Error { start: 1, end: 4 };
        assert_eq!(scan_array(b"-ERR\r\n"), reply(err, 6));
        assert_eq!(scan_array(b"*1\r\n*1\r\n$1\r\na\r\n"), Scan::Malformed);
        assert_eq!(scan_array(b"*1\r\n:1\r\n"), Scan::Malformed);
        assert_eq!(scan_array(b"*-1\r\n"), Scan::Malformed);
    }

    #[test]
    fn malformed() {
        assert_eq!(scan(b"*1\r\n$1\r\na\r\n"), Scan::Malformed);
        assert_eq!(scan(b"+OK\n"), Scan::Malformed);
        assert_eq!(scan(b"$x\r\n"), Scan::Malformed);
        assert_eq!(scan(b"$1\r\nab\r\n"), Scan::Malformed);
    }
}
