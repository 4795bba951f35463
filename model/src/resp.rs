//! The model's reply type and its exact RESP2/RESP3 wire encodings.
//!
//! `Resp` is protocol-neutral: a command produces one value, and the connection's protocol
//! version only decides how it is written. The encoders follow Redis 7.0's `networking.c`:
//! RESP2 has no maps, sets, doubles or booleans, so maps become flat arrays, sets become arrays,
//! doubles become bulk strings and booleans become `:1`/`:0`; RESP3 writes `_` for both nils.
//! Doubles are printed like Redis 7.0's `addReplyDouble`: `"%.17g"`, with `inf`/`-inf` spelled
//! out explicitly.

/// One reply, as Redis would send it. `Error` holds the full text including its code
/// (`"ERR syntax error"`, `"WRONGTYPE ..."`), without the leading `-`.
#[derive(Clone, Debug, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// The null bulk string (`$-1` in RESP2).
    Nil,
    /// The null array (`*-1` in RESP2).
    NilArray,
    Array(Vec<Resp>),
    Map(Vec<(Resp, Resp)>),
    Set(Vec<Resp>),
    Double(f64),
    Bool(bool),
}

impl Resp {
    /// `+OK`, the most common reply.
    pub fn ok() -> Resp {
        Resp::Simple("OK".to_string())
    }

    /// An error reply; `text` includes the code (`"ERR ..."`).
    pub fn err(text: impl Into<String>) -> Resp {
        Resp::Error(text.into())
    }

    /// A bulk string reply from anything byte-like.
    pub fn bulk(bytes: impl AsRef<[u8]>) -> Resp {
        Resp::Bulk(bytes.as_ref().to_vec())
    }

    /// True for `Error` replies.
    pub fn is_error(&self) -> bool {
        matches!(self, Resp::Error(_))
    }

    /// The exact bytes Redis 7.0 sends to a RESP2 client.
    pub fn to_resp2_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode(self, Proto::Resp2, &mut out);
        out
    }

    /// The exact bytes Redis 7.0 sends to a RESP3 client.
    pub fn to_resp3_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode(self, Proto::Resp3, &mut out);
        out
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Resp2,
    Resp3,
}

fn header(out: &mut Vec<u8>, prefix: u8, n: usize) {
    out.push(prefix);
    out.extend_from_slice(n.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn line(out: &mut Vec<u8>, prefix: u8, text: &[u8]) {
    out.push(prefix);
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

fn encode(r: &Resp, proto: Proto, out: &mut Vec<u8>) {
    match r {
        Resp::Simple(s) => line(out, b'+', s.as_bytes()),
        Resp::Error(s) => line(out, b'-', s.as_bytes()),
        Resp::Int(n) => line(out, b':', n.to_string().as_bytes()),
        Resp::Bulk(b) => {
            header(out, b'$', b.len());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Resp::Nil => match proto {
            Proto::Resp2 => out.extend_from_slice(b"$-1\r\n"),
            Proto::Resp3 => out.extend_from_slice(b"_\r\n"),
        },
        Resp::NilArray => match proto {
            Proto::Resp2 => out.extend_from_slice(b"*-1\r\n"),
            Proto::Resp3 => out.extend_from_slice(b"_\r\n"),
        },
        Resp::Array(items) => {
            header(out, b'*', items.len());
            items.iter().for_each(|i| encode(i, proto, out));
        }
        Resp::Set(items) => {
            let prefix = if proto == Proto::Resp3 { b'~' } else { b'*' };
            header(out, prefix, items.len());
            items.iter().for_each(|i| encode(i, proto, out));
        }
        Resp::Map(pairs) => {
            match proto {
                Proto::Resp2 => header(out, b'*', pairs.len() * 2),
                Proto::Resp3 => header(out, b'%', pairs.len()),
            }
            for (k, v) in pairs {
                encode(k, proto, out);
                encode(v, proto, out);
            }
        }
        Resp::Double(d) => encode_double(*d, proto, out),
        Resp::Bool(b) => match proto {
            Proto::Resp2 => line(out, b':', if *b { b"1" } else { b"0" }),
            Proto::Resp3 => line(out, b'#', if *b { b"t" } else { b"f" }),
        },
    }
}

fn encode_double(d: f64, proto: Proto, out: &mut Vec<u8>) {
    let text = if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format_g17(d)
    };
    match proto {
        Proto::Resp2 => encode(&Resp::Bulk(text.into_bytes()), proto, out),
        Proto::Resp3 => line(out, b',', text.as_bytes()),
    }
}

/// C's `printf("%.17g", d)`, as glibc prints it (`inf`, `-inf`, `nan` spelled out).
///
/// `%g` with precision P=17: take the decimal exponent X of the value rounded to 17 significant
/// digits; if `X < -4 || X >= 17` use `%e` style with 16 fractional digits, else `%f` style with
/// `16 - X` fractional digits; then drop trailing zeros and a trailing point. Rust's `{:e}`
/// rounds the exact binary value correctly (half to even), as glibc does.
pub fn format_g17(d: f64) -> String {
    if d.is_nan() {
        return if d.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let sci = format!("{:.16e}", d);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    if !(-4..17).contains(&exp) {
        let m = strip_fraction_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let frac_digits = (16 - exp) as usize;
    strip_fraction_zeros(&format!("{:.*}", frac_digits, d)).to_string()
}

fn strip_fraction_zeros(s: &str) -> &str {
    if !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.')
}

/// Parses one whole reply, RESP2 or RESP3, into the model's reply type: how a recorded server
/// reply is read back (the simulator's histories, the comparison with redis-server). RESP3's
/// attribute, push and verbatim types are not read: no command the model knows answers them.
pub fn parse(bytes: &[u8]) -> Result<Resp, String> {
    let mut pos = 0;
    let reply = parse_at(bytes, &mut pos, 0)?;
    if pos != bytes.len() {
        return Err(format!(
            "trailing bytes after a reply: {:?}",
            String::from_utf8_lossy(bytes)
        ));
    }
    Ok(reply)
}

/// Nesting depth the parser follows: replies the model compares are at most a few arrays deep
/// (an EXEC holding HRANDFIELD's RESP3 pairs).
const REPLY_DEPTH_MAX: usize = 8;

fn parse_at(bytes: &[u8], pos: &mut usize, depth: usize) -> Result<Resp, String> {
    if depth > REPLY_DEPTH_MAX {
        return Err("reply nested too deep".into());
    }
    let rest = &bytes[*pos..];
    let end = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or("reply line without CRLF")?;
    let line = String::from_utf8_lossy(&rest[1..end]).into_owned();
    *pos += end + 2;
    let number = || {
        line.parse::<i64>()
            .map_err(|_| format!("bad number {line:?}"))
    };
    let items = |len: i64, pos: &mut usize| -> Result<Vec<Resp>, String> {
        let mut items = Vec::with_capacity(len.clamp(0, 64) as usize);
        for _ in 0..len {
            items.push(parse_at(bytes, pos, depth + 1)?);
        }
        Ok(items)
    };
    Ok(match rest.first() {
        Some(b'+') => Resp::Simple(line),
        Some(b'-') => Resp::Error(line),
        Some(b':') => Resp::Int(number()?),
        Some(b'_') => Resp::Nil,
        Some(b'#') => Resp::Bool(line == "t"),
        Some(b',') => Resp::Double(match line.as_str() {
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => other.parse().map_err(|_| format!("bad double {other:?}"))?,
        }),
        Some(b'$') => match number()? {
            -1 => Resp::Nil,
            len => {
                let len = len as usize;
                let body = bytes
                    .get(*pos..*pos + len)
                    .ok_or("short bulk string")?
                    .to_vec();
                *pos += len + 2;
                Resp::Bulk(body)
            }
        },
        Some(b'*') => match number()? {
            -1 => Resp::NilArray,
            len => Resp::Array(items(len, pos)?),
        },
        Some(b'~') => Resp::Set(items(number()?, pos)?),
        Some(b'%') => {
            let flat = items(2 * number()?, pos)?;
            let mut pairs = Vec::with_capacity(flat.len() / 2);
            let mut flat = flat.into_iter();
            while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                pairs.push((k, v));
            }
            Resp::Map(pairs)
        }
        other => return Err(format!("unexpected reply type {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_encodings() {
        assert_eq!(Resp::ok().to_resp2_bytes(), b"+OK\r\n");
        assert_eq!(Resp::err("ERR x").to_resp2_bytes(), b"-ERR x\r\n");
        assert_eq!(Resp::Int(-3).to_resp2_bytes(), b":-3\r\n");
        assert_eq!(Resp::bulk("ab").to_resp2_bytes(), b"$2\r\nab\r\n");
        assert_eq!(Resp::bulk("").to_resp2_bytes(), b"$0\r\n\r\n");
        assert_eq!(Resp::Nil.to_resp2_bytes(), b"$-1\r\n");
        assert_eq!(Resp::NilArray.to_resp2_bytes(), b"*-1\r\n");
        let map = Resp::Map(vec![(Resp::bulk("k"), Resp::Int(1))]);
        assert_eq!(map.to_resp2_bytes(), b"*2\r\n$1\r\nk\r\n:1\r\n");
        assert_eq!(
            Resp::Set(vec![Resp::Int(1)]).to_resp2_bytes(),
            b"*1\r\n:1\r\n"
        );
        assert_eq!(Resp::Double(1.5).to_resp2_bytes(), b"$3\r\n1.5\r\n");
        assert_eq!(Resp::Bool(true).to_resp2_bytes(), b":1\r\n");
    }

    #[test]
    fn resp3_encodings() {
        assert_eq!(Resp::Nil.to_resp3_bytes(), b"_\r\n");
        assert_eq!(Resp::NilArray.to_resp3_bytes(), b"_\r\n");
        let map = Resp::Map(vec![(Resp::bulk("k"), Resp::Int(1))]);
        assert_eq!(map.to_resp3_bytes(), b"%1\r\n$1\r\nk\r\n:1\r\n");
        assert_eq!(Resp::Set(vec![]).to_resp3_bytes(), b"~0\r\n");
        assert_eq!(
            Resp::Double(f64::NEG_INFINITY).to_resp3_bytes(),
            b",-inf\r\n"
        );
        assert_eq!(
            Resp::Double(f64::INFINITY).to_resp2_bytes(),
            b"$3\r\ninf\r\n"
        );
        assert_eq!(Resp::Bool(false).to_resp3_bytes(), b"#f\r\n");
    }

    #[test]
    fn g17_matches_glibc() {
        assert_eq!(format_g17(0.0), "0");
        assert_eq!(format_g17(-0.0), "-0");
        assert_eq!(format_g17(1.5), "1.5");
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(3.0), "3");
        assert_eq!(format_g17(1e17), "1e+17");
        assert_eq!(format_g17(1e16), "10000000000000000");
        assert_eq!(format_g17(0.0001), "0.0001");
        assert_eq!(format_g17(0.00001), "1.0000000000000001e-05");
        assert_eq!(format_g17(123456789.125), "123456789.125");
        assert_eq!(format_g17(1e300), "1.0000000000000001e+300");
        assert_eq!(format_g17(f64::INFINITY), "inf");
        assert_eq!(format_g17(f64::NEG_INFINITY), "-inf");
    }
}
