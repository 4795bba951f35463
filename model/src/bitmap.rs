//! Bitmap commands: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO, on plain string
//! values, one bit at a time (bit 0 is the high bit of byte 0).
//!
//! Written from Redis 7.0's `bitops.c` rules, in the order of its checks: BITCOUNT and BITPOS
//! look the key up before reading their range; BITFIELD parses every operation first. Ranges
//! are resolved to a list of bit positions and searched one by one; the engine's word-at-a-time
//! code is checked against this.

use crate::args::{int_or_reply, is, string2ll, SYNTAX};
use crate::model::Ctx;
use crate::resp::Resp;

/// `proto-max-bulk-len`'s default: offsets must stay below this many bytes.
const BULK_LEN_MAX_BYTES: i64 = 512 * 1024 * 1024;
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";
const BAD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. \
    Note that u64 is not supported but i64 is.";

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

fn offset_arg(arg: &[u8], field_bits: Option<i64>) -> Result<u64, Resp> {
    let (digits, scale) = match field_bits {
        Some(bits) if arg.len() > 1 && arg[0] == b'#' => (&arg[1..], bits),
        _ => (arg, 1),
    };
    let n = string2ll(digits)
        .ok_or_else(|| Resp::err(BAD_OFFSET))?
        .wrapping_mul(scale);
    if n < 0 || n >> 3 >= BULK_LEN_MAX_BYTES {
        return Err(Resp::err(BAD_OFFSET));
    }
    Ok(n as u64)
}

fn bit(bytes: &[u8], i: u64) -> bool {
    let byte = usize::try_from(i / 8).ok().and_then(|b| bytes.get(b));
    byte.is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
}

fn put_bit(bytes: &mut Vec<u8>, i: u64, on: bool) {
    let byte = (i / 8) as usize;
    if bytes.len() <= byte {
        bytes.resize(byte + 1, 0);
    }
    if on {
        bytes[byte] |= 0x80 >> (i % 8);
    } else {
        bytes[byte] &= !(0x80 >> (i % 8));
    }
}

/// SETBIT key offset value
pub(crate) fn setbit(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let offset = tri!(offset_arg(&argv[2], None));
    let on = match string2ll(&argv[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Resp::err(BAD_BIT),
    };
    let existing = tri!(cx.string(&argv[1]));
    let created = existing.is_none();
    let mut value = existing.clone().unwrap_or_default();
    let old = bit(&value, offset);
    put_bit(&mut value, offset, on);
    // Redis 7.0.15 writes (and signals WATCH) only when the bytes changed or the key is new.
    if created || existing.as_ref() != Some(&value) {
        cx.overwrite_string(&argv[1], value);
    }
    Resp::Int(i64::from(old))
}

/// GETBIT key offset
pub(crate) fn getbit(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let offset = tri!(offset_arg(&argv[2], None));
    let value = tri!(cx.string(&argv[1])).unwrap_or_default();
    Resp::Int(i64::from(bit(&value, offset)))
}

/// Redis's start/end conversion over `len` units: negatives from the end, clamped; `None`
/// when the range is empty.
fn clamp(len: i64, start: i64, end: i64) -> Option<(i64, i64)> {
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { (len + end).max(0) } else { end };
    let end = end.min(len - 1);
    (start <= end).then_some((start, end))
}

/// The bit positions a start/end pair covers, `unit_bits` 8 for BYTE and 1 for BIT.
fn positions(len_bytes: usize, start: i64, end: i64, bit_unit: bool) -> Option<(u64, u64)> {
    if bit_unit {
        clamp(len_bytes as i64 * 8, start, end).map(|(s, e)| (s as u64, e as u64))
    } else {
        clamp(len_bytes as i64, start, end).map(|(s, e)| (s as u64 * 8, e as u64 * 8 + 7))
    }
}

fn unit_arg(arg: &[u8]) -> Result<bool, Resp> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(Resp::err(SYNTAX))
    }
}

/// BITCOUNT key [start end [BYTE|BIT]]
pub(crate) fn bitcount(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let Some(value) = tri!(cx.string(&argv[1])) else {
        return Resp::Int(0);
    };
    let range = match argv.len() {
        2 => positions(value.len(), 0, -1, false),
        4 | 5 => {
            let start = tri!(int_or_reply(&argv[2]));
            let end = tri!(int_or_reply(&argv[3]));
            if start < 0 && end < 0 && start > end {
                return Resp::Int(0);
            }
            let bit_unit = argv.len() == 5 && tri!(unit_arg(&argv[4]));
            positions(value.len(), start, end, bit_unit)
        }
        _ => return Resp::err(SYNTAX),
    };
    let count = range.map_or(0, |(first, last)| {
        (first..=last).filter(|&i| bit(&value, i)).count()
    });
    Resp::Int(count as i64)
}

/// BITPOS key bit [start [end [BYTE|BIT]]]
pub(crate) fn bitpos(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let wanted = match tri!(int_or_reply(&argv[2])) {
        0 => false,
        1 => true,
        _ => return Resp::err("ERR The bit argument must be 1 or 0."),
    };
    let Some(value) = tri!(cx.string(&argv[1])) else {
        return Resp::Int(if wanted { -1 } else { 0 });
    };
    let (range, end_given) = match argv.len() {
        3 => (positions(value.len(), 0, -1, false), false),
        4..=6 => {
            let start = tri!(int_or_reply(&argv[3]));
            let bit_unit = argv.len() == 6 && tri!(unit_arg(&argv[5]));
            let end = if argv.len() >= 5 {
                Some(tri!(int_or_reply(&argv[4])))
            } else {
                None
            };
            let range = positions(value.len(), start, end.unwrap_or(-1), bit_unit);
            (range, end.is_some())
        }
        _ => return Resp::err(SYNTAX),
    };
    let Some((first, last)) = range else {
        return Resp::Int(-1);
    };
    match (first..=last).find(|&i| bit(&value, i) == wanted) {
        Some(i) => Resp::Int(i as i64),
        // Zeros pad the string to the right of an open range.
        None if !wanted && !end_given => Resp::Int(((last / 8 + 1) * 8) as i64),
        None => Resp::Int(-1),
    }
}

/// BITOP op destkey key [key ...]
pub(crate) fn bitop(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let op = argv[1].to_ascii_lowercase();
    if !matches!(op.as_slice(), b"and" | b"or" | b"xor" | b"not") {
        return Resp::err(SYNTAX);
    }
    if op == b"not" && argv.len() != 4 {
        return Resp::err("ERR BITOP NOT must be called with a single source key.");
    }
    let mut sources = Vec::new();
    for key in &argv[3..] {
        sources.push(tri!(cx.string(key)).unwrap_or_default());
    }
    let len = sources.iter().map(Vec::len).max().unwrap_or(0);
    if len == 0 {
        cx.delete(&argv[2]);
        return Resp::Int(0);
    }
    let byte_at = |s: &Vec<u8>, i: usize| s.get(i).copied().unwrap_or(0);
    let result: Vec<u8> = (0..len)
        .map(|i| {
            let mut out = byte_at(&sources[0], i);
            for s in &sources[1..] {
                match op.as_slice() {
                    b"and" => out &= byte_at(s, i),
                    b"or" => out |= byte_at(s, i),
                    _ => out ^= byte_at(s, i),
                }
            }
            if op == b"not" {
                !out
            } else {
                out
            }
        })
        .collect();
    cx.set_string(&argv[2], result);
    Resp::Int(len as i64)
}

#[derive(Clone, Copy)]
enum Write {
    Set(i64),
    Incr(i64),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

struct FieldOp {
    signed: bool,
    bits: u32,
    offset: u64,
    write: Option<(Write, Overflow)>,
}

fn type_arg(arg: &[u8]) -> Result<(bool, u32), Resp> {
    let arg = crate::args::cstr(arg);
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(Resp::err(BAD_TYPE)),
    };
    match string2ll(&arg[1..]) {
        Some(n) if n >= 1 && n <= if signed { 64 } else { 63 } => Ok((signed, n as u32)),
        _ => Err(Resp::err(BAD_TYPE)),
    }
}

fn parse_ops(argv: &[Vec<u8>], read_only: bool) -> Result<Vec<FieldOp>, Resp> {
    let (mut ops, mut overflow, mut j) = (Vec::new(), Overflow::Wrap, 2);
    while j < argv.len() {
        let rest = argv.len() - j - 1;
        let word = &argv[j];
        let write = if is(word, "get") && rest >= 2 {
            false
        } else if (is(word, "set") || is(word, "incrby")) && rest >= 3 {
            true
        } else if is(word, "overflow") && rest >= 1 {
            let o = &argv[j + 1];
            overflow = if is(o, "wrap") {
                Overflow::Wrap
            } else if is(o, "sat") {
                Overflow::Sat
            } else if is(o, "fail") {
                Overflow::Fail
            } else {
                return Err(Resp::err("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(Resp::err(SYNTAX));
        };
        let (signed, bits) = type_arg(&argv[j + 1])?;
        let offset = offset_arg(&argv[j + 2], Some(i64::from(bits)))?;
        let mut op = FieldOp {
            signed,
            bits,
            offset,
            write: None,
        };
        if write {
            let n = int_or_reply(&argv[j + 3])?;
            let w = if is(word, "set") {
                Write::Set(n)
            } else {
                Write::Incr(n)
            };
            op.write = Some((w, overflow));
            j += 1;
        }
        ops.push(op);
        j += 3;
    }
    // Checked after every operation parsed (a bad type later in the line wins).
    if read_only && ops.iter().any(|op| op.write.is_some()) {
        return Err(Resp::err(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    Ok(ops)
}

/// The field as a signed value, computed in i128 (no overflow to think about).
fn read_field(bytes: &[u8], op: &FieldOp) -> i128 {
    let mut v: i128 = 0;
    for k in 0..u64::from(op.bits) {
        v = (v << 1) | i128::from(bit(bytes, op.offset + k));
    }
    if op.signed && v >= 1i128 << (op.bits - 1) {
        v -= 1i128 << op.bits;
    }
    v
}

fn write_field(bytes: &mut Vec<u8>, op: &FieldOp, v: i128) {
    for k in 0..u64::from(op.bits) {
        let on = (v >> (u64::from(op.bits) - 1 - k)) & 1 == 1;
        put_bit(bytes, op.offset + k, on);
    }
}

/// The value stored for `target` under the overflow rule; `None` on a FAILed overflow.
fn fit(op: &FieldOp, target: i128, overflow: Overflow) -> Option<i128> {
    let (min, max) = if op.signed {
        (-(1i128 << (op.bits - 1)), (1i128 << (op.bits - 1)) - 1)
    } else {
        (0, (1i128 << op.bits) - 1)
    };
    if (min..=max).contains(&target) {
        return Some(target);
    }
    match overflow {
        Overflow::Fail => None,
        Overflow::Sat => Some(if target > max { max } else { min }),
        Overflow::Wrap => {
            let span = 1i128 << op.bits;
            Some((target - min).rem_euclid(span) + min)
        }
    }
}

fn bitfield_generic(cx: &mut Ctx, argv: &[Vec<u8>], read_only: bool) -> Resp {
    let ops = tri!(parse_ops(argv, read_only));
    let writes = ops.iter().any(|op| op.write.is_some());
    let existing = tri!(cx.string(&argv[1]));
    let mut value = existing.clone().unwrap_or_default();
    let mut replies = Vec::new();
    for op in &ops {
        let old = read_field(&value, op);
        let Some((write, overflow)) = op.write else {
            replies.push(Resp::Int(old as i64));
            continue;
        };
        // An unsigned SET of a negative value is a huge u64, far over any u63 field.
        let target = match write {
            Write::Set(n) if !op.signed => i128::from(n as u64),
            Write::Set(n) => i128::from(n),
            Write::Incr(n) => old + i128::from(n),
        };
        match fit(op, target, overflow) {
            None => replies.push(Resp::Nil),
            Some(new) => {
                write_field(&mut value, op, new);
                replies.push(Resp::Int(match write {
                    Write::Set(_) => old as i64,
                    Write::Incr(_) => new as i64,
                }));
            }
        }
    }
    if writes {
        let reach = ops
            .iter()
            .filter(|op| op.write.is_some())
            .map(|op| (op.offset + u64::from(op.bits) - 1) / 8 + 1)
            .max()
            .unwrap_or(0);
        if (value.len() as u64) < reach {
            value.resize(reach as usize, 0);
        }
        if existing.as_ref() != Some(&value) {
            cx.overwrite_string(&argv[1], value);
        }
    }
    Resp::Array(replies)
}

/// BITFIELD key [GET type offset | [OVERFLOW WRAP|SAT|FAIL] SET type offset value | INCRBY ...]
pub(crate) fn bitfield(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    bitfield_generic(cx, argv, false)
}

/// BITFIELD_RO key [GET type offset ...]
pub(crate) fn bitfield_ro(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    bitfield_generic(cx, argv, true)
}
