//! Bitmaps: Redis 7.0's bit commands on string values (SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD, BITFIELD_RO). The bit algorithms are `db::bits`; this file parses, looks
//! keys up and writes through `access.rs`.
//!
//! A bitmap is a plain string, kept as the strings family keeps it (`db::StrValue`): reads of
//! an integer-encoded string see its digits; a write makes the value raw bytes, grown with zero
//! bytes to reach the highest bit written (Redis's lookupStringForBitCommand); it signals a
//! change only when a bit flipped or the string grew (7.0.15 leaves a WATCH alone when SETBIT
//! or BITFIELD writes what was there, or every BITFIELD write FAILs). BITOP stores its
//! result raw and deletes the destination when every source is empty or missing; it runs on
//! gathered copies of all its keys (`Merge::Gather`), so across shards it is one atomic step.
//!
//! Quirks of redis-server 7.0.15 we keep, each checked against it (`cases/bitmap.txt`):
//! - Bit offsets are integers below proto-max-bulk-len × 8 (2^32 by default); BITFIELD's
//!   `#n` form multiplies by the field width first, wrapping as C does.
//! - BITCOUNT and BITPOS look the key up before they read their range: a missing key answers
//!   0 (BITPOS: -1 for a one, 0 for a zero) whatever the range arguments. BITPOS checks its bit
//!   argument first.
//! - BITCOUNT answers 0 for two negative indexes in the wrong order before converting them
//!   (and before reading its BYTE|BIT word);
//!   BITPOS converts them first (so `-1 -5` on a short string may still search byte 0).
//! - BITPOS looking for a zero past a range whose end was not given answers the bit right
//!   after the range (the string is padded with zeros); with an explicit end it answers -1.
//! - BITFIELD parses every operation before looking the key up (BITFIELD_RO refuses a SET or
//!   INCRBY only after that, so a bad type or value later in the line is the error); with only
//!   GETs it reads (a missing key is zeros and is not created); with a write it creates and
//!   grows the key even when every write FAILs.

use crate::access::{Change, ExecCx};
use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64};
use crate::cmd::Family;
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, GatherDbs, KeySpec, Merge};
use crate::db::bits::{self, BitRange, FieldType, Overflow, RangeUnit};
use crate::db::{StrRef, StrValue, Value, ValueRef};
use crate::error::CmdError;
use crate::numfmt;
use crate::reply::Reply;

const BITMAP: Family = Family {
    group: "bitmap",
    acl: acl::BITMAP,
};

const RO_ACCESS: &[KeySpec] = &[KeySpec::one(kf::RO | kf::ACCESS, 1)];
const BITOP_KEYS: &[KeySpec] = &[
    KeySpec::one(kf::OW | kf::UPDATE, 2),
    KeySpec::range(kf::RO | kf::ACCESS, 3, -1, 1),
];
const BITFIELD_KEYS: &[KeySpec] =
    &[
        KeySpec::one(kf::RW | kf::ACCESS | kf::UPDATE | kf::VARIABLE_FLAGS, 1)
            .with_notes("This command allows both access and modification of the key")
            .with_flags_for(bitfield_key_flags),
    ];
const FIELD_COMPLEXITY: &str = "O(1) for each subcommand specified";

/// BITFIELD writes only when it has a SET or INCRBY (Redis's bitfieldGetKeys walk).
fn bitfield_key_flags(argv: &[&[u8]]) -> u16 {
    let mut i = 2;
    while i < argv.len() {
        let rest = argv.len() - i - 1;
        let word = argv[i];
        if word.eq_ignore_ascii_case(b"GET") && rest >= 2 {
            i += 2;
        } else if (word.eq_ignore_ascii_case(b"SET") || word.eq_ignore_ascii_case(b"INCRBY"))
            && rest >= 3
        {
            return kf::RW | kf::ACCESS | kf::UPDATE;
        } else if word.eq_ignore_ascii_case(b"OVERFLOW") && rest >= 1 {
            i += 1;
        }
        i += 1;
    }
    kf::RO | kf::ACCESS
}

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    BITMAP.one_key("setbit", 4, flag::WRITE | flag::DENYOOM,
        &[KeySpec::one(kf::RW | kf::ACCESS | kf::UPDATE, 1)], setbit,
        BITMAP.docs("Sets or clears the bit at offset in the string value stored at key", "2.2.0",
        "O(1)")),
    BITMAP.one_key("getbit", 3, flag::READONLY | flag::FAST, RO_ACCESS, getbit,
        BITMAP.docs("Returns the bit value at offset in the string value stored at key", "2.2.0",
        "O(1)")),
    BITMAP.one_key("bitcount", -2, flag::READONLY, RO_ACCESS, bitcount,
        BITMAP.docs("Count set bits in a string", "2.6.0", "O(N)")),
    BITMAP.one_key("bitpos", -3, flag::READONLY, RO_ACCESS, bitpos,
        BITMAP.docs("Find first bit set or clear in a string", "2.8.7", "O(N)")),
    BITMAP.keyed("bitop", -4, flag::WRITE | flag::DENYOOM, BITOP_KEYS, bitop,
        Merge::Gather(GatherDbs::Current),
        BITMAP.docs("Perform bitwise operations between strings", "2.6.0", "O(N)")),
    BITMAP.one_key("bitfield", -2, flag::WRITE | flag::DENYOOM, BITFIELD_KEYS, bitfield,
        BITMAP.docs("Perform arbitrary bitfield integer operations on strings", "3.2.0",
        FIELD_COMPLEXITY)),
    BITMAP.one_key("bitfield_ro", -2, flag::READONLY | flag::FAST, RO_ACCESS, bitfield_ro,
        BITMAP.docs("Perform arbitrary bitfield integer operations on strings. Read-only variant \
        of BITFIELD", "6.0.0", FIELD_COMPLEXITY)),
];

// ---------------------------------------------------------------------------------------------
// Lookups, writes and argument parsers.

/// Redis's lookupKeyRead for a string, as a copy of its bytes (an integer reads as its
/// digits): BITOP's sources.
fn read_bytes(ecx: &mut ExecCx, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    read_with(ecx, key, |bytes| Ok(bytes.to_vec()))
}

/// Redis's lookupKeyRead for a string, then `read` on its bytes where they lie (a bitmap may
/// be 512 MB: the reads never copy it); `None` when the key is missing.
fn read_with<R>(
    ecx: &mut ExecCx,
    key: &[u8],
    read: impl FnOnce(&[u8]) -> Result<R, CmdError>,
) -> Result<Option<R>, CmdError> {
    match ecx.read_entry(key).map(|e| e.value()) {
        None => Ok(None),
        Some(ValueRef::Coll(_)) => Err(CmdError::WrongType),
        Some(ValueRef::Str(StrRef::Bytes { bytes, .. })) => read(bytes).map(Some),
        Some(ValueRef::Str(s @ StrRef::Int(_))) => read(&s.to_bytes()).map(Some),
    }
}

/// Redis's lookupStringForBitCommand, then `edit` on the bytes: the string (created when
/// missing) made raw and grown with zeros to hold bit `bit_max`. `edit` answers whether it
/// changed a bit; a change, a growth or a new key signals (7.0.15 leaves a WATCH alone when
/// SETBIT or BITFIELD rewrites the bits that were there).
fn edit_bits<R>(
    ecx: &mut ExecCx,
    key: &[u8],
    bit_max: u64,
    edit: impl FnOnce(&mut Vec<u8>) -> (R, bool),
) -> Result<R, CmdError> {
    let len_bytes = usize::try_from((bit_max >> 3) + 1).expect("offsets are bounded");
    let grow = |bytes: &mut Vec<u8>| {
        let short = bytes.len() < len_bytes;
        if short {
            bytes.resize(len_bytes, 0);
        }
        short
    };
    let mut edit = Some(edit);
    let edited = ecx.edit_str(key, |entry| {
        let edit = edit.take().expect("edited once");
        let (result, changed) = entry.edit_raw(|bytes| {
            let grew = grow(bytes);
            let (result, flipped) = edit(bytes);
            (result, grew || flipped)
        });
        let change = if changed {
            Change::Modified
        } else {
            Change::Unchanged
        };
        Ok((result, change))
    })?;
    if let Some(result) = edited {
        return Ok(result);
    }
    let edit = edit.take().expect("not edited yet");
    let mut bytes = Vec::new();
    grow(&mut bytes);
    let (result, _) = edit(&mut bytes);
    ecx.put(key, Value::Str(StrValue::raw(bytes)), None);
    Ok(result)
}

/// Redis's getBitOffsetFromArgument. `field_bits` allows the `#n` form (n fields of that
/// width); the offset must stay below proto-max-bulk-len bytes.
fn parse_bit_offset(ecx: &ExecCx, arg: &[u8], field_bits: Option<u32>) -> Result<u64, CmdError> {
    let (digits, scale) = match field_bits {
        Some(bits) if arg.len() > 1 && arg[0] == b'#' => (&arg[1..], i64::from(bits)),
        Some(_) | None => (arg, 1),
    };
    let offset = numfmt::parse_i64(digits)
        .ok_or(CmdError::BitOffsetOutOfRange)?
        .wrapping_mul(scale);
    let bulk_len_max = ecx.limits().strings.proto_max_bulk_len_bytes;
    match u64::try_from(offset) {
        Ok(offset) if (offset >> 3) < bulk_len_max => Ok(offset),
        Ok(_) | Err(_) => Err(CmdError::BitOffsetOutOfRange),
    }
}

/// A BITCOUNT/BITPOS unit word.
fn parse_unit(arg: &[u8]) -> Result<RangeUnit, CmdError> {
    if eq_word(arg, "BIT") {
        Ok(RangeUnit::Bit)
    } else if eq_word(arg, "BYTE") {
        Ok(RangeUnit::Byte)
    } else {
        Err(CmdError::Syntax)
    }
}

// ---------------------------------------------------------------------------------------------
// SETBIT, GETBIT, BITCOUNT, BITPOS.

/// SETBIT key offset value
fn setbit(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let offset = parse_bit_offset(ecx, &argv[2], None)?;
    let on = match numfmt::parse_i64(&argv[3]) {
        Some(0) => false,
        Some(1) => true,
        Some(_) | None => return Err(CmdError::BitValueOutOfRange),
    };
    let old = edit_bits(ecx, &argv[1], offset, |bytes| {
        let old = bits::set_bit(bytes, offset, on);
        (old, old != on)
    })?;
    Ok(Reply::Int(i64::from(old)))
}

/// GETBIT key offset
fn getbit(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let offset = parse_bit_offset(ecx, &argv[2], None)?;
    let on = read_with(ecx, &argv[1], |bytes| Ok(bits::get_bit(bytes, offset)))?;
    Ok(Reply::Int(i64::from(on.unwrap_or(false))))
}

/// BITCOUNT key [start end [BYTE | BIT]]
fn bitcount(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let counted = read_with(ecx, &argv[1], |bytes| count_in(bytes, argv))?;
    Ok(counted.unwrap_or(Reply::Int(0)))
}

/// BITCOUNT's range arguments, read after the lookup, and the count over `bytes`.
fn count_in(bytes: &[u8], argv: &Argv) -> Result<Reply, CmdError> {
    let range = match argv.len() {
        2 => bits::whole(bytes.len()),
        4 | 5 => {
            let start = parse_i64(&argv[2])?;
            let end = parse_i64(&argv[3])?;
            // Before the unit is read: `-1 -5 junk` answers 0.
            if start < 0 && end < 0 && start > end {
                return Ok(Reply::Int(0));
            }
            let unit = match argv.len() {
                5 => parse_unit(&argv[4])?,
                _ => RangeUnit::Byte,
            };
            bits::resolve_range(bytes.len(), start, end, unit)
        }
        _ => return Err(CmdError::Syntax),
    };
    let ones = range.map_or(0, |range| bits::count_ones(bytes, range));
    Ok(Reply::Int(ones as i64))
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
fn bitpos(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let bit = match parse_i64(&argv[2])? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::BitposBitNotBinary),
    };
    let found = read_with(ecx, &argv[1], |bytes| find_in(bytes, bit, argv))?;
    // A missing key reads as endless zeros.
    Ok(found.unwrap_or(Reply::Int(if bit { -1 } else { 0 })))
}

/// BITPOS's range arguments, read after the lookup, and the search over `bytes`.
fn find_in(bytes: &[u8], bit: bool, argv: &Argv) -> Result<Reply, CmdError> {
    let (range, end_given) = match argv.len() {
        3 => (bits::whole(bytes.len()), false),
        4..=6 => {
            let start = parse_i64(&argv[3])?;
            let unit = match argv.len() {
                6 => parse_unit(&argv[5])?,
                _ => RangeUnit::Byte,
            };
            let end = match argv.len() {
                4 => None,
                _ => Some(parse_i64(&argv[4])?),
            };
            let range = bits::resolve_range(bytes.len(), start, end.unwrap_or(i64::MAX), unit);
            (range, end.is_some())
        }
        _ => return Err(CmdError::Syntax),
    };
    let Some(range) = range else {
        return Ok(Reply::Int(-1));
    };
    let pos = match bits::find_bit(bytes, bit, range) {
        Some(pos) => pos as i64,
        // Past an open end the string reads as zeros: the first of them is a zero bit.
        None if !bit && !end_given => range_end_bytes(range) as i64 * 8,
        None => -1,
    };
    Ok(Reply::Int(pos))
}

/// The byte after the range's last one.
fn range_end_bytes(range: BitRange) -> u64 {
    range.last / 8 + 1
}

// ---------------------------------------------------------------------------------------------
// BITOP.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]
fn bitop(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let op = [
        ("AND", BitOp::And),
        ("OR", BitOp::Or),
        ("XOR", BitOp::Xor),
        ("NOT", BitOp::Not),
    ]
    .into_iter()
    .find_map(|(name, op)| eq_word(&argv[1], name).then_some(op))
    .ok_or(CmdError::Syntax)?;
    if op == BitOp::Not && argv.len() != 4 {
        return Err(CmdError::BitopNotOneSource);
    }
    let mut sources = Vec::with_capacity(argv.len() - 3);
    for key in argv.iter().skip(3) {
        sources.push(read_bytes(ecx, key)?.unwrap_or_default());
    }
    let len_max = sources.iter().map(Vec::len).max().unwrap_or(0);
    let dst = &argv[2];
    if len_max == 0 {
        ecx.delete(dst);
        return Ok(Reply::Int(0));
    }
    let result = combine(op, &sources, len_max);
    ecx.put(dst, Value::Str(StrValue::raw(result)), None);
    Ok(Reply::Int(len_max as i64))
}

/// The sources combined byte by byte, each read as zeros past its end.
fn combine(op: BitOp, sources: &[Vec<u8>], len: usize) -> Vec<u8> {
    let (first, rest) = sources.split_first().expect("BITOP has a source");
    let mut out = first.clone();
    out.resize(len, 0);
    match op {
        BitOp::Not => out.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for source in rest {
                for (i, b) in out.iter_mut().enumerate() {
                    *b &= source.get(i).copied().unwrap_or(0);
                }
            }
        }
        BitOp::Or | BitOp::Xor => {
            for source in rest {
                for (b, s) in out.iter_mut().zip(source) {
                    *b = if op == BitOp::Or { *b | s } else { *b ^ s };
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// BITFIELD and BITFIELD_RO.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldWrite {
    Set(i64),
    IncrBy(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldOp {
    Get {
        ty: FieldType,
        offset: u64,
    },
    Write {
        ty: FieldType,
        offset: u64,
        write: FieldWrite,
        overflow: Overflow,
    },
}

/// Redis's getBitfieldTypeFromArgument: `i1`..`i64` or `u1`..`u63` (the text ends at a NUL).
fn parse_field_type(arg: &[u8]) -> Result<FieldType, CmdError> {
    let arg = arg.split(|&b| b == 0).next().unwrap_or_default();
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(CmdError::BitfieldInvalidType),
    };
    let bits_max = if signed {
        bits::SIGNED_BITS_MAX
    } else {
        bits::UNSIGNED_BITS_MAX
    };
    match numfmt::parse_i64(&arg[1..]) {
        Some(n) if n >= 1 && n <= i64::from(bits_max) => Ok(FieldType {
            signed,
            bits: n as u32,
        }),
        Some(_) | None => Err(CmdError::BitfieldInvalidType),
    }
}

/// Whether a command may only read (BITFIELD_RO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldAccess {
    ReadWrite,
    ReadOnly,
}

/// The operations of BITFIELD key [GET type offset | [OVERFLOW WRAP|SAT|FAIL]
/// SET type offset value | INCRBY type offset increment ...], checked in Redis's order.
fn parse_field_ops(
    ecx: &ExecCx,
    argv: &Argv,
    access: FieldAccess,
) -> Result<Vec<FieldOp>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 2;
    while i < argv.len() {
        let rest = argv.len() - i - 1;
        let word = &argv[i];
        let write = if eq_word(word, "GET") && rest >= 2 {
            false
        } else if (eq_word(word, "SET") || eq_word(word, "INCRBY")) && rest >= 3 {
            true
        } else if eq_word(word, "OVERFLOW") && rest >= 1 {
            overflow = parse_overflow(&argv[i + 1])?;
            i += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let ty = parse_field_type(&argv[i + 1])?;
        let offset = parse_bit_offset(ecx, &argv[i + 2], Some(ty.bits))?;
        if !write {
            ops.push(FieldOp::Get { ty, offset });
            i += 3;
            continue;
        }
        let n = parse_i64(&argv[i + 3])?;
        let write = if eq_word(word, "SET") {
            FieldWrite::Set(n)
        } else {
            FieldWrite::IncrBy(n)
        };
        ops.push(FieldOp::Write {
            ty,
            offset,
            write,
            overflow,
        });
        i += 4;
    }
    // Checked after every operation parsed (a bad type later in the line wins).
    let writes = ops.iter().any(|op| matches!(op, FieldOp::Write { .. }));
    if writes && access == FieldAccess::ReadOnly {
        return Err(CmdError::BitfieldRoOnlyGet);
    }
    Ok(ops)
}

fn parse_overflow(arg: &[u8]) -> Result<Overflow, CmdError> {
    [
        ("WRAP", Overflow::Wrap),
        ("SAT", Overflow::Sat),
        ("FAIL", Overflow::Fail),
    ]
    .into_iter()
    .find_map(|(name, o)| eq_word(arg, name).then_some(o))
    .ok_or(CmdError::BitfieldInvalidOverflow)
}

fn get_field(bytes: &[u8], ty: FieldType, offset: u64) -> i64 {
    if ty.signed {
        bits::get_signed(bytes, offset, ty.bits)
    } else {
        bits::get_unsigned(bytes, offset, ty.bits) as i64
    }
}

/// One write: the reply (the new value for INCRBY, the old for SET; nil when it FAILs) and
/// whether the field's bits changed.
fn write_field(
    bytes: &mut [u8],
    ty: FieldType,
    offset: u64,
    write: FieldWrite,
    overflow: Overflow,
) -> (Reply, bool) {
    let old = get_field(bytes, ty, offset);
    // SET is an add of nothing to the new value, so it overflows as a value out of range.
    let (base, incr) = match write {
        FieldWrite::Set(value) => (value, 0),
        FieldWrite::IncrBy(incr) => (old, incr),
    };
    let new = if ty.signed {
        bits::signed_add(base, incr, ty.bits, overflow)
    } else {
        bits::unsigned_add(base as u64, incr, ty.bits, overflow).map(|v| v as i64)
    };
    let Some(new) = new else {
        return (Reply::Nil, false);
    };
    let before = bits::get_unsigned(bytes, offset, ty.bits);
    bits::set_unsigned(bytes, offset, ty.bits, new as u64);
    let changed = bits::get_unsigned(bytes, offset, ty.bits) != before;
    let reply = match write {
        FieldWrite::Set(_) => Reply::Int(old),
        FieldWrite::IncrBy(_) => Reply::Int(new),
    };
    (reply, changed)
}

/// The replies of GET-only `ops`, reading in place.
fn get_fields(bytes: &[u8], ops: &[FieldOp]) -> Reply {
    Reply::Array(
        ops.iter()
            .map(|op| match *op {
                FieldOp::Get { ty, offset } => Reply::Int(get_field(bytes, ty, offset)),
                FieldOp::Write { .. } => unreachable!("a read-only BITFIELD has no write"),
            })
            .collect(),
    )
}

/// The replies of `ops` in order, and whether any write changed a bit.
fn run_fields(bytes: &mut [u8], ops: &[FieldOp]) -> (Reply, bool) {
    let mut changed = false;
    let replies = ops
        .iter()
        .map(|op| match *op {
            FieldOp::Get { ty, offset } => Reply::Int(get_field(bytes, ty, offset)),
            FieldOp::Write {
                ty,
                offset,
                write,
                overflow,
            } => {
                let (reply, flipped) = write_field(bytes, ty, offset, write, overflow);
                changed |= flipped;
                reply
            }
        })
        .collect();
    (Reply::Array(replies), changed)
}

fn bitfield(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    bitfield_generic(ecx, argv, FieldAccess::ReadWrite)
}

fn bitfield_ro(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    bitfield_generic(ecx, argv, FieldAccess::ReadOnly)
}

fn bitfield_generic(ecx: &mut ExecCx, argv: &Argv, access: FieldAccess) -> Result<Reply, CmdError> {
    let ops = parse_field_ops(ecx, argv, access)?;
    let bit_max = ops
        .iter()
        .filter_map(|op| match *op {
            FieldOp::Get { .. } => None,
            FieldOp::Write { ty, offset, .. } => Some(offset + u64::from(ty.bits) - 1),
        })
        .max();
    match bit_max {
        None => {
            let replies = read_with(ecx, &argv[1], |bytes| Ok(get_fields(bytes, &ops)))?;
            Ok(replies.unwrap_or_else(|| get_fields(&[], &ops)))
        }
        Some(bit_max) => edit_bits(ecx, &argv[1], bit_max, |bytes| run_fields(bytes, &ops)),
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::info_line;
    use crate::testkit::TestCluster;

    /// The one-key rows as redis-server 7.0.15's COMMAND INFO shows them.
    #[test]
    fn rows_match_redis_command_info() {
        let want = [
            "setbit 4 | write denyoom | 1 1 1 | write bitmap slow | RW access update",
            "getbit 3 | readonly fast | 1 1 1 | read bitmap fast | RO access",
            "bitcount -2 | readonly | 1 1 1 | read bitmap slow | RO access",
            "bitpos -3 | readonly | 1 1 1 | read bitmap slow | RO access",
            "bitfield -2 | write denyoom | 1 1 1 | write bitmap slow | RW access update \
             variable_flags",
            "bitfield_ro -2 | readonly fast | 1 1 1 | read bitmap fast | RO access",
        ];
        let got: Vec<String> = super::SPECS
            .iter()
            .filter(|s| s.name != "bitop")
            .map(|s| info_line(s, "bitmap"))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bitop_runs_across_shards_and_deletes_on_empty() {
        let mut c = TestCluster::new(3);
        let conn = c.connect(0);
        c.cmd(conn, &["SET", "a", "\u{1}\u{2}"]);
        c.cmd(conn, &["SET", "b", "\u{3}"]);
        assert_eq!(c.cmd_text(conn, &["BITOP", "OR", "d", "a", "b"]), ":2\r\n");
        assert_eq!(c.cmd_text(conn, &["GET", "d"]), "$2\r\n\u{3}\u{2}\r\n");
        assert_eq!(c.cmd_text(conn, &["BITOP", "AND", "d", "x", "y"]), ":0\r\n");
        assert_eq!(c.cmd_text(conn, &["EXISTS", "d"]), ":0\r\n");
    }

    #[test]
    fn integer_strings_read_as_digits() {
        let mut c = TestCluster::new(1);
        let conn = c.connect(0);
        c.cmd(conn, &["SET", "n", "1"]);
        // "1" is 0x31: bits 2, 3 and 7 are set.
        assert_eq!(c.cmd_text(conn, &["BITCOUNT", "n"]), ":3\r\n");
        assert_eq!(c.cmd_text(conn, &["GETBIT", "n", "7"]), ":1\r\n");
        assert_eq!(c.cmd_text(conn, &["SETBIT", "n", "6", "1"]), ":0\r\n");
        assert_eq!(c.cmd_text(conn, &["GET", "n"]), "$1\r\n3\r\n");
        assert_eq!(
            c.cmd_text(conn, &["OBJECT", "ENCODING", "n"]),
            "$3\r\nraw\r\n"
        );
    }

    /// A WATCH is spoiled only by a write that changed the bits or grew the string, as in
    /// redis-server 7.0.15 (checked there with two clients); BITOP always writes.
    #[test]
    fn only_a_changed_bit_signals_watch() {
        let cases: [(&[&str], bool); 8] = [
            (&["SETBIT", "w", "1", "0"], true),
            (&["SETBIT", "w", "100", "0"], true),
            (&["SETBIT", "w", "1", "1"], false),
            (&["BITFIELD", "w", "SET", "u8", "0", "64"], false),
            (&["BITFIELD", "w", "INCRBY", "u8", "0", "0"], false),
            (
                &[
                    "BITFIELD", "w", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "100",
                ],
                false,
            ),
            (&["BITFIELD", "w", "SET", "u8", "200", "0"], true),
            (&["BITOP", "AND", "w", "w"], true),
        ];
        for (write, aborts) in cases {
            let mut c = TestCluster::new(1);
            let (watcher, writer) = (c.connect(0), c.connect(0));
            c.cmd(writer, &["SET", "w", "@"]);
            c.cmd(watcher, &["WATCH", "w"]);
            c.cmd(writer, write);
            c.cmd(watcher, &["MULTI"]);
            c.cmd(watcher, &["PING"]);
            let want = if aborts { "*-1\r\n" } else { "*1\r\n+PONG\r\n" };
            assert_eq!(c.cmd_text(watcher, &["EXEC"]), want, "{write:?}");
        }
    }
}
