//! Cuts a client's incoming byte stream into whole replies (RESP2 and RESP3), without
//! interpreting them: the checks compare reply bytes with the model's encoding.

/// Nesting the reader follows at most; deeper input is a broken reply.
const DEPTH_MAX: usize = 64;

/// Length of the first complete reply in `buf`, `Ok(None)` if it is not all here yet.
pub fn reply_len(buf: &[u8]) -> Result<Option<usize>, String> {
    // Explicit stack of aggregate element counts still to read: no recursion over peer bytes.
    let mut pending: Vec<u64> = Vec::new();
    let mut pos = 0;
    loop {
        let Some(line_end) = find_crlf(&buf[pos..]) else {
            return Ok(None);
        };
        let line = &buf[pos..pos + line_end];
        let Some((&kind, rest)) = line.split_first() else {
            return Err("empty reply line".into());
        };
        pos += line_end + 2;
        let children = match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => 0,
            b'$' | b'=' | b'!' => {
                let len = parse_len(rest)?;
                if len >= 0 {
                    let need = len as usize + 2;
                    if buf.len() < pos + need {
                        return Ok(None);
                    }
                    pos += need;
                }
                0
            }
            b'*' | b'~' | b'>' => parse_len(rest)?.max(0) as u64,
            b'%' | b'|' => parse_len(rest)?.max(0) as u64 * 2,
            other => return Err(format!("unexpected reply type byte {other:#x}")),
        };
        if children > 0 {
            if pending.len() == DEPTH_MAX {
                return Err("reply nested too deep".into());
            }
            pending.push(children);
            continue;
        }
        // A leaf finished: pop every aggregate it completes.
        loop {
            match pending.last_mut() {
                None => return Ok(Some(pos)),
                Some(left) => {
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                    pending.pop();
                }
            }
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn parse_len(digits: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad length {:?}", String::from_utf8_lossy(digits)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_and_partial_replies() {
        assert_eq!(reply_len(b"+OK\r\n+PONG\r\n"), Ok(Some(5)));
        assert_eq!(reply_len(b"$3\r\nab"), Ok(None));
        assert_eq!(reply_len(b"$-1\r\n"), Ok(Some(5)));
        assert_eq!(reply_len(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n"), Ok(Some(19)));
        assert_eq!(reply_len(b"*2\r\n$1\r\na\r\n"), Ok(None));
        assert_eq!(reply_len(b"*0\r\n"), Ok(Some(4)));
        assert_eq!(reply_len(b"%1\r\n+a\r\n:1\r\n"), Ok(Some(12)));
        assert!(reply_len(b"?\r\n").is_err());
    }
}
