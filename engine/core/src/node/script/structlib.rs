//! Roberto Ierusalimschy's `struct` library as Redis ships it (`lua_struct.c` with Redis's
//! fixes): `struct.pack(fmt, ...)`, `struct.unpack(fmt, s [, pos])`, `struct.size(fmt)`.
//!
//! A format is read one option at a time: `<` `>` `!n` set byte order and alignment,
//! `b B h H l L T i[n] I[n]` are integers (sizes of x86-64: short 2, long and size_t 8, int 4,
//! `i`/`I` up to 32 bytes), `f` `d` floats, `s` a zero-terminated string, `c[n]` n bytes (`c0`:
//! the whole string, or on unpack the length given by the previous number), `x` a zero byte.
//! Integers travel through a 64-bit C long, as Redis's build does: wider sizes pad with zero
//! bytes, and numbers out of range convert as x86-64 converts them.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

use super::cmsgpack::check_string;
use super::vm::{lua_error, type_name};

/// MAXINTSIZE: the widest `i`/`I`.
const INT_SIZE_MAX: usize = 32;
/// MAXALIGN on x86-64: `!` alone aligns to 8.
const ALIGN_MAX: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

struct Header {
    endian: Endian,
    align: usize,
}

impl Default for Header {
    fn default() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set("unpack", lua.create_function(unpack)?)?;
    t.set("size", lua.create_function(size)?)?;
    Ok(t)
}

fn arg_error(lua: &Lua, n: usize, name: &str, msg: &str) -> mlua::Error {
    lua_error(lua, format!("bad argument #{n} to '{name}' ({msg})"))
}

/// The format's next number, or `default` when no digit follows.
fn number(lua: &Lua, fmt: &[u8], at: &mut usize, default: usize) -> mlua::Result<usize> {
    if !fmt.get(*at).is_some_and(u8::is_ascii_digit) {
        return Ok(default);
    }
    let mut n: usize = 0;
    while let Some(d) = fmt.get(*at).filter(|d| d.is_ascii_digit()) {
        let digit = usize::from(d - b'0');
        if n > (i32::MAX as usize) / 10 || n * 10 > i32::MAX as usize - digit {
            return Err(lua_error(lua, "integral size overflow"));
        }
        n = n * 10 + digit;
        *at += 1;
    }
    Ok(n)
}

/// The size of option `opt` (reading its number from the format).
fn option_size(lua: &Lua, opt: u8, fmt: &[u8], at: &mut usize) -> mlua::Result<usize> {
    Ok(match opt {
        b'B' | b'b' | b'x' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => number(lua, fmt, at, 1)?,
        b'i' | b'I' => {
            let size = number(lua, fmt, at, 4)?;
            if size > INT_SIZE_MAX {
                return Err(lua_error(
                    lua,
                    format!("integral size {size} is larger than limit of {INT_SIZE_MAX}"),
                ));
            }
            size
        }
        _ => 0,
    })
}

/// Padding before an item of `size` at offset `len`.
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

/// The options that set byte order and alignment; anything else is refused.
fn control(
    lua: &Lua,
    opt: u8,
    fmt: &[u8],
    at: &mut usize,
    h: &mut Header,
    name: &str,
) -> mlua::Result<()> {
    match opt {
        b' ' => {}
        b'>' => h.endian = Endian::Big,
        b'<' => h.endian = Endian::Little,
        b'!' => {
            let a = number(lua, fmt, at, ALIGN_MAX)?;
            if !a.is_power_of_two() {
                return Err(lua_error(lua, format!("alignment {a} is not a power of 2")));
            }
            h.align = a;
        }
        _ => {
            let msg = format!("invalid format option '{}'", opt as char);
            return Err(arg_error(lua, 1, name, &msg));
        }
    }
    Ok(())
}

/// A missing argument right after the last reads as nil in `pack`, which pushes a nil there
/// before it starts (Redis's texts say "got nil"); further ones as no value.
fn missing(args: &[Value], n: usize, name: &str) -> &'static str {
    if name == "pack" && n == args.len() + 1 {
        "nil"
    } else {
        "no value"
    }
}

fn check_number(lua: &Lua, args: &[Value], n: usize, name: &str) -> mlua::Result<f64> {
    let value = args.get(n - 1);
    let number = match value {
        Some(Value::Integer(i)) => Some(*i as f64),
        Some(Value::Number(f)) => Some(*f),
        Some(Value::String(s)) => s.to_str().ok().and_then(|s| s.trim().parse().ok()),
        _ => None,
    };
    number.ok_or_else(|| {
        let got = match value {
            None => missing(args, n, name),
            Some(Value::Nil) => "nil",
            Some(other) => type_name(Some(other)),
        };
        arg_error(lua, n, name, &format!("number expected, got {got}"))
    })
}

/// C's conversion of a double to the 64-bit unsigned value `putinteger` writes.
fn to_u64(n: f64) -> u64 {
    const TWO_POW_63: f64 = super::vm::TWO_POW_63;
    let signed = |x: f64| {
        if x.is_nan() || !(-TWO_POW_63..TWO_POW_63).contains(&x) {
            i64::MIN
        } else {
            x as i64
        }
    };
    // NaN goes the signed way too, as the C comparison `n < 0` then the cast do.
    if n < 0.0 || n.is_nan() || n < TWO_POW_63 {
        signed(n) as u64
    } else {
        (signed(n - TWO_POW_63) as u64) ^ (1 << 63)
    }
}

fn put_integer(out: &mut Vec<u8>, n: f64, endian: Endian, size: usize) {
    let mut value = to_u64(n);
    let mut bytes = vec![0u8; size];
    for b in bytes.iter_mut() {
        *b = value as u8;
        value = value.checked_shr(8).unwrap_or(0);
    }
    if endian == Endian::Big {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

fn ordered<const N: usize>(mut bytes: [u8; N], endian: Endian) -> [u8; N] {
    if endian == Endian::Big {
        bytes.reverse();
    }
    bytes
}

fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::LuaString> {
    let fmt = check_string(lua, &args, 1, "pack")?;
    let mut h = Header::default();
    let (mut out, mut at, mut arg) = (Vec::new(), 0, 2);
    while at < fmt.len() {
        let opt = fmt[at];
        at += 1;
        let mut size = option_size(lua, opt, &fmt, &mut at)?;
        let pad = to_align(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, &args, arg, "pack")?;
                arg += 1;
                put_integer(&mut out, n, h.endian, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(lua, &args, arg, "pack")? as f32;
                arg += 1;
                out.extend_from_slice(&ordered(f.to_le_bytes(), h.endian));
            }
            b'd' => {
                let d = check_number(lua, &args, arg, "pack")?;
                arg += 1;
                out.extend_from_slice(&ordered(d.to_le_bytes(), h.endian));
            }
            b'c' | b's' => {
                if arg > args.len() {
                    let got = missing(&args, arg, "pack");
                    let msg = format!("string expected, got {got}");
                    return Err(arg_error(lua, arg, "pack", &msg));
                }
                let s = check_string(lua, &args, arg, "pack")?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(arg_error(lua, arg, "pack", "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => control(lua, opt, &fmt, &mut at, &mut h, "pack")?,
        }
    }
    lua.create_string(out)
}

fn get_integer(bytes: &[u8], endian: Endian, signed: bool) -> f64 {
    let mut l: u64 = 0;
    let mut push = |b: u8| l = l.checked_shl(8).unwrap_or(0) | u64::from(b);
    match endian {
        Endian::Big => bytes.iter().for_each(|&b| push(b)),
        Endian::Little => bytes.iter().rev().for_each(|&b| push(b)),
    }
    if !signed {
        return l as f64;
    }
    let mask = (!0u64).checked_shl(bytes.len() as u32 * 8 - 1).unwrap_or(0);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<MultiValue> {
    let fmt = check_string(lua, &args, 1, "unpack")?;
    let data = check_string(lua, &args, 2, "unpack")?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1,
        Some(_) => check_number(lua, &args, 3, "unpack")? as i64,
    };
    // A size_t, as in Redis's C: a negative start wraps and fails the length check below.
    if start == 0 {
        return Err(arg_error(lua, 3, "unpack", "offset must be 1 or greater"));
    }
    let mut pos = (start as u64).wrapping_sub(1);
    let mut h = Header::default();
    let mut out = MultiValue::new();
    let mut at = 0;
    while at < fmt.len() {
        let opt = fmt[at];
        at += 1;
        let mut size = option_size(lua, opt, &fmt, &mut at)?;
        pos = pos.wrapping_add(to_align(pos as usize, &h, opt, size) as u64);
        let end = pos
            .checked_add(size as u64)
            .filter(|&e| e <= data.len() as u64);
        if end.is_none() {
            return Err(arg_error(lua, 2, "unpack", "data string too short"));
        }
        let pos_at = pos as usize;
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                let n = get_integer(&data[pos_at..pos_at + size], h.endian, signed);
                out.push_back(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let bytes: [u8; 4] = data[pos_at..pos_at + 4].try_into().expect("4 bytes");
                let f = f32::from_le_bytes(ordered(bytes, h.endian));
                out.push_back(Value::Number(f64::from(f)));
            }
            b'd' => {
                let bytes: [u8; 8] = data[pos_at..pos_at + 8].try_into().expect("8 bytes");
                let d = f64::from_le_bytes(ordered(bytes, h.endian));
                out.push_back(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let previous = match out.back() {
                        Some(Value::Number(n)) => Some(*n),
                        Some(Value::Integer(n)) => Some(*n as f64),
                        Some(Value::String(s)) => s.to_str().ok().and_then(|s| s.parse().ok()),
                        _ => None,
                    };
                    let Some(previous) = previous else {
                        return Err(lua_error(lua, "format 'c0' needs a previous size"));
                    };
                    out.pop_back();
                    size = previous as usize;
                    if size > data.len() - pos_at {
                        return Err(arg_error(lua, 2, "unpack", "data string too short"));
                    }
                }
                out.push_back(Value::String(
                    lua.create_string(&data[pos_at..pos_at + size])?,
                ));
            }
            b's' => {
                let Some(end) = data[pos_at..].iter().position(|&b| b == 0) else {
                    return Err(lua_error(lua, "unfinished string in data"));
                };
                out.push_back(Value::String(
                    lua.create_string(&data[pos_at..pos_at + end])?,
                ));
                size = end + 1;
            }
            _ => control(lua, opt, &fmt, &mut at, &mut h, "unpack")?,
        }
        pos += size as u64;
    }
    out.push_back(Value::Number(pos.wrapping_add(1) as i64 as f64));
    Ok(out)
}

fn size(lua: &Lua, args: Variadic<Value>) -> mlua::Result<f64> {
    let fmt = check_string(lua, &args, 1, "size")?;
    let mut h = Header::default();
    let (mut pos, mut at) = (0usize, 0);
    while at < fmt.len() {
        let opt = fmt[at];
        at += 1;
        let size = option_size(lua, opt, &fmt, &mut at)?;
        pos += to_align(pos, &h, opt, size);
        if opt == b's' {
            return Err(arg_error(lua, 1, "size", "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(arg_error(lua, 1, "size", "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            control(lua, opt, &fmt, &mut at, &mut h, "size")?;
        }
        pos += size;
    }
    Ok(pos as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> Result<String, String> {
        let lua = Lua::new();
        lua.globals().set("struct", table(&lua).unwrap()).unwrap();
        lua.load(code)
            .eval::<mlua::LuaString>()
            .map(|s| s.to_string_lossy())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integers_pack_in_either_order_with_alignment() {
        let hex = |code: &str| {
            let lua = Lua::new();
            lua.globals().set("struct", table(&lua).unwrap()).unwrap();
            let s: mlua::LuaString = lua.load(code).eval().unwrap();
            s.as_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        assert_eq!(hex("return struct.pack('>h<h', 1, 1)"), "00010100");
        assert_eq!(hex("return struct.pack('!4bi', 1, 2)"), "0100000002000000");
        assert_eq!(
            hex("return struct.pack('>i12', -1)"),
            "00000000ffffffffffffffff"
        );
        assert_eq!(hex("return struct.pack('B', 256)"), "00");
    }

    #[test]
    fn unpack_reads_back_and_names_the_next_position() {
        let got = eval(
            "local a, b, s, n = struct.unpack('>hBs', struct.pack('>hBs', -2, 200, 'hi')) \
             return a .. ',' .. b .. ',' .. s .. ',' .. n",
        );
        assert_eq!(got.unwrap(), "-2,200,hi,7");
        let got = eval("return struct.unpack('Bc0', '\\3abcd')");
        assert_eq!(got.unwrap(), "abc");
        assert!(eval("return struct.unpack('i', 'ab')")
            .unwrap_err()
            .contains("data string too short"));
        assert!(eval("return struct.size('s')")
            .unwrap_err()
            .contains("option 's' has no fixed size"));
        assert!(eval("return struct.pack('i33', 1)")
            .unwrap_err()
            .contains("integral size 33 is larger than limit of 32"));
    }
}
