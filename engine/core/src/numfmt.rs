//! Number parsing and formatting with redis-server 7.0's exact acceptance rules and bytes.
//!
//! Redis has three number parsers for command arguments and they disagree; we keep all three:
//! - `parse_i64` is `string2ll` (INCRBY, EXPIRE, LRANGE…): optional `-`, then digits with no
//!   leading zero, at most 20 bytes. No `+`, no spaces, and `-0` is rejected.
//! - `parse_score` is `string2d`, a checked `strtod` (ZADD, ZINCRBY scores): C float syntax
//!   including `0x` hex floats and `inf`/`infinity`, with `+`; rejects a leading space, any
//!   trailing byte, NaN, overflow to infinity, and underflow to zero (`1e-400`).
//! - `parse_long_double` is `string2ld`, a checked `strtold` (INCRBYFLOAT, HINCRBYFLOAT).
//!   Same syntax and checks, but the range is x87 80-bit `long double` (`1e400` is fine) and
//!   the input must be under 5120 bytes. An embedded NUL is rejected, as in 7.0.15, which
//!   checks that strtold consumed every byte and not just up to the C string's end.
//!
//! INCRBYFLOAT adds in x87 extended precision and replies `%.17Lf` with trailing zeros and a
//! trailing `.` removed (`ld2string`, LD_STR_HUMAN), so `0.1 + 0.2` is `0.3`, not the binary64
//! answer. We emulate the 64-bit-significand format exactly instead of approximating it:
//! parsing rounds the exact decimal value (held in a small big integer) to nearest-even, as glibc
//! does; the sum is one exactly rounded add in u128, as the x87 FPU does with precision control
//! at 64 bits (Linux's default); and printing rounds the exact binary value to 17 decimals,
//! ties to even, as glibc's printf does. So results match bit for bit, not nearly; the model
//! assumes glibc's strtold/printf and the FPU's default rounding mode. One glibc bug is kept
//! on purpose: a hex float that lands in the subnormal range loses the bit just past the
//! significand before rounding (`drop_glibc_lost_bit`); it shows only at exact ties.
//! Not modelled: x87 pseudo-denormals and unnormals (strtold never makes them).
//!
//! Callers should know: a zset stored as a listpack keeps scores as text, and 7.0 reads a
//! stored `-0` back as integer 0, so ZSCORE answers `0` there and `-0` for a skiplist;
//! `fmt_double(-0.0)` is `-0`, the `%.17g` answer, and the zset code owns that quirk.
//!
//! `fmt_double` is `%.17g` (ZSCORE, ZRANGE WITHSCORES, ZINCRBY replies in 7.0), built from the
//! standard library's exactly rounded `{:.16e}` (17 significant digits, ties to even) and then
//! laid out by C's `%g` rules.

use crate::error::CmdError;

/// Redis's LONG_STR_SIZE is 21 bytes including the NUL: `string2ll` takes at most 20.
pub const LONG_STR_LEN_MAX_BYTES: usize = 20;
/// Redis's MAX_LONG_DOUBLE_CHARS: `string2ld` copies into a buffer this big, NUL included.
pub const LONG_DOUBLE_BUF_BYTES: usize = 5 * 1024;
/// Digits after the point in INCRBYFLOAT's `%.17Lf`.
const HUMAN_FRACTION_DIGITS: usize = 17;
/// Significant digits of `%.17g`.
const G_DIGITS: i32 = 17;

/// `string2ll`: a strict signed 64-bit decimal integer.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > LONG_STR_LEN_MAX_BYTES {
        return None;
    }
    if bytes == b"0" {
        return Some(0);
    }
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        // -(2^63) is the one magnitude that only fits negated.
        (v <= 1u64 << 63).then(|| (v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// `string2d`: a ZADD-style score. Accepts `inf`, `-inf`, `+inf`, hex floats; rejects NaN,
/// spaces, trailing bytes, and finite input that overflows or underflows to zero.
pub fn parse_score(bytes: &[u8]) -> Option<f64> {
    if bytes.first().is_some_and(|&b| is_c_space(b)) {
        return None;
    }
    let value = match scan_c_float(bytes)? {
        CFloat::Infinite { negative } => signed(f64::INFINITY, negative),
        CFloat::Decimal { negative, .. } => {
            // The scan proved the syntax; std's parser rounds exactly like strtod.
            let text = std::str::from_utf8(bytes).ok()?;
            let v: f64 = text.parse().ok()?;
            debug_assert_eq!(v.is_sign_negative(), negative);
            if v.is_infinite() || (v == 0.0 && has_nonzero_digit(bytes)) {
                return None; // ERANGE: overflow, or underflow to zero.
            }
            v
        }
        CFloat::Hex {
            negative,
            int,
            frac,
            exp2,
        } => {
            let (n, exp2) = hex_significand(int, frac, exp2, &F64);
            match round_big(&n, exp2, false, &F64) {
                Rounded::Zero if !n.is_zero() => return None,
                Rounded::Zero => signed(0.0, negative),
                Rounded::Overflow => return None,
                Rounded::Finite { mant, exp2 } => signed(f64_from_parts(mant, exp2), negative),
            }
        }
    };
    Some(value)
}

/// A whole-argument `strtod` as Redis's zslParseRange uses it (ZCOUNT, ZRANGEBYSCORE bounds):
/// the text ends at the first NUL (C string); leading spaces are skipped; overflow gives an
/// infinity and underflow zero (no ERANGE check); nothing at all is 0 (no conversion, and the
/// end pointer sits on the NUL). NaN, a space-only text and any trailing byte are refused.
pub fn parse_strtod(bytes: &[u8]) -> Option<f64> {
    let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
    if text.is_empty() {
        return Some(0.0);
    }
    let start = text.iter().position(|&b| !is_c_space(b))?;
    let text = &text[start..];
    let value = match scan_c_float(text)? {
        CFloat::Infinite { negative } => signed(f64::INFINITY, negative),
        CFloat::Decimal { .. } => std::str::from_utf8(text).ok()?.parse().ok()?,
        CFloat::Hex {
            negative,
            int,
            frac,
            exp2,
        } => {
            let (n, exp2) = hex_significand(int, frac, exp2, &F64);
            match round_big(&n, exp2, false, &F64) {
                Rounded::Zero => signed(0.0, negative),
                Rounded::Overflow => signed(f64::INFINITY, negative),
                Rounded::Finite { mant, exp2 } => signed(f64_from_parts(mant, exp2), negative),
            }
        }
    };
    Some(value)
}

/// An x87 80-bit extended value, the `long double` redis-server 7.0 uses on x86-64.
/// A finite value is `mant × 2^exp2`; `mant` has its top bit set unless the value is subnormal
/// (`exp2 == X87.exp2_min`) or zero (`mant == 0`, `exp2 == 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongDouble {
    Finite {
        negative: bool,
        mant: u64,
        exp2: i64,
    },
    Infinite {
        negative: bool,
    },
}

/// `string2ld`: an INCRBYFLOAT argument or stored value. `inf` parses (the add then fails);
/// NaN, a leading space, any trailing byte, overflow and underflow to zero do not.
pub fn parse_long_double(bytes: &[u8]) -> Option<LongDouble> {
    if bytes.is_empty() || bytes.len() >= LONG_DOUBLE_BUF_BYTES {
        return None;
    }
    if is_c_space(bytes[0]) {
        return None;
    }
    let (negative, n, exp2, sticky) = match scan_c_float(bytes)? {
        CFloat::Infinite { negative } => return Some(LongDouble::Infinite { negative }),
        CFloat::Decimal {
            negative,
            int,
            frac,
            exp10,
        } => {
            let (n, exp2, sticky) = decimal_to_binary(int, frac, exp10, &X87)?;
            (negative, n, exp2, sticky)
        }
        CFloat::Hex {
            negative,
            int,
            frac,
            exp2,
        } => {
            let (n, exp2) = hex_significand(int, frac, exp2, &X87);
            (negative, n, exp2, false)
        }
    };
    match round_big(&n, exp2, sticky, &X87) {
        Rounded::Zero if !n.is_zero() => None, // ERANGE with a zero result.
        Rounded::Overflow => None,             // ERANGE with HUGE_VALL.
        r => rounded_to_ld(r, negative),
    }
}

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble::Finite {
        negative: false,
        mant: 0,
        exp2: 0,
    };
}

/// INCRBYFLOAT / HINCRBYFLOAT: `current` is the stored string (`None` when the key or field
/// is missing, which Redis reads as 0). Returns the reply bytes, which are also what Redis
/// stores. Errors in Redis's order: either operand not a float, then a non-finite sum.
pub fn incr_by_float(current: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, CmdError> {
    let value = match current {
        Some(bytes) => parse_long_double(bytes).ok_or(CmdError::NotFloat)?,
        None => LongDouble::ZERO,
    };
    let incr = parse_long_double(incr).ok_or(CmdError::NotFloat)?;
    let sum = add_long_double(value, incr).ok_or(CmdError::IncrOnNanOrInf)?;
    let mut out = Vec::with_capacity(24);
    fmt_long_double_human(sum, &mut out);
    Ok(out)
}

/// One x87 add rounded to nearest-even at 64 bits. `None` when the sum is NaN or infinite.
/// Operands must be canonical (as `parse_long_double` and this function produce them).
pub fn add_long_double(a: LongDouble, b: LongDouble) -> Option<LongDouble> {
    let (LongDouble::Finite { .. }, LongDouble::Finite { .. }) = (a, b) else {
        return None; // inf + x is inf or NaN: Redis refuses both.
    };
    let (a_neg, a_mant, a_exp2) = a.parts();
    let (b_neg, b_mant, b_exp2) = b.parts();
    if b_mant == 0 {
        return Some(if a_mant == 0 {
            LongDouble::zero_sum(a_neg, b_neg)
        } else {
            a
        });
    }
    if a_mant == 0 {
        return Some(b);
    }
    // Order by magnitude: (exp2, mant) is lexicographic because only subnormals, which share
    // the minimum exponent, lack the top bit.
    let ((big_neg, big_mant, big_exp2), (small_neg, small_mant, small_exp2)) =
        if (a_exp2, a_mant) >= (b_exp2, b_mant) {
            ((a_neg, a_mant, a_exp2), (b_neg, b_mant, b_exp2))
        } else {
            ((b_neg, b_mant, b_exp2), (a_neg, a_mant, a_exp2))
        };
    // 62 guard bits below the 64-bit significand; bits shifted out of the small operand are
    // jammed into bit 0, which lies far below the rounding position after any cancellation
    // that can happen once a shift loses bits (distance >= 2 means at most one bit cancels).
    const GUARD_BITS: u32 = 62;
    let big = u128::from(big_mant) << GUARD_BITS;
    let shift = u64::try_from(big_exp2 - small_exp2).expect("ordered by magnitude");
    let small_full = u128::from(small_mant) << GUARD_BITS;
    let small = if shift >= 127 {
        u128::from(small_full != 0)
    } else {
        let kept = small_full >> shift;
        kept | u128::from(kept << shift != small_full)
    };
    let sum = if big_neg == small_neg {
        big + small
    } else {
        big - small
    };
    if sum == 0 {
        return Some(LongDouble::ZERO); // x - x is +0 when rounding to nearest.
    }
    let exp2 = big_exp2 - i64::from(GUARD_BITS);
    rounded_to_ld(round_big(&Big::from_u128(sum), exp2, false, &X87), big_neg)
}

impl LongDouble {
    fn parts(self) -> (bool, u64, i64) {
        match self {
            LongDouble::Finite {
                negative,
                mant,
                exp2,
            } => (negative, mant, exp2),
            LongDouble::Infinite { .. } => unreachable!("callers handle infinities first"),
        }
    }

    /// IEEE: the sum of two zeros is -0 only when both are -0.
    fn zero_sum(a_negative: bool, b_negative: bool) -> LongDouble {
        LongDouble::Finite {
            negative: a_negative && b_negative,
            mant: 0,
            exp2: 0,
        }
    }
}

/// `ld2string(.., LD_STR_HUMAN)` for a finite value: `%.17Lf`, then trailing zeros and a bare
/// trailing `.` dropped, and `-0` written as `0`.
pub fn fmt_long_double_human(value: LongDouble, out: &mut Vec<u8>) {
    let (negative, mant, exp2) = match value {
        LongDouble::Finite {
            negative,
            mant,
            exp2,
        } => (negative, mant, exp2),
        LongDouble::Infinite { negative } => {
            // Redis writes these as "inf"/"-inf"; INCRBYFLOAT never stores one.
            out.extend_from_slice(if negative { b"-inf" } else { b"inf" });
            return;
        }
    };
    let start = out.len();
    if negative {
        out.push(b'-');
    }
    // The value times 10^17, rounded to an integer with ties to even.
    let scale = 10u128.pow(HUMAN_FRACTION_DIGITS as u32);
    let scaled = u128::from(mant) * scale; // < 2^64 * 2^57.
    let digits = if exp2 >= 0 {
        let mut n = Big::from_u128(scaled);
        n.shl(exp2.unsigned_abs());
        n.into_decimal()
    } else {
        let q = shr_round_half_even(scaled, exp2.unsigned_abs());
        q.to_string().into_bytes()
    };
    let int_len = digits.len().saturating_sub(HUMAN_FRACTION_DIGITS);
    if int_len == 0 {
        out.push(b'0');
    }
    out.extend_from_slice(&digits[..int_len]);
    out.push(b'.');
    out.resize(
        out.len() + HUMAN_FRACTION_DIGITS - (digits.len() - int_len),
        b'0',
    );
    out.extend_from_slice(&digits[int_len..]);
    while out.last() == Some(&b'0') {
        out.pop();
    }
    if out.last() == Some(&b'.') {
        out.pop();
    }
    if &out[start..] == b"-0" {
        out.truncate(start);
        out.push(b'0');
    }
}

/// `v / 2^shift` rounded to nearest, ties to even.
fn shr_round_half_even(v: u128, shift: u64) -> u128 {
    if shift >= 128 {
        return 0; // v < 2^127 here, so below half of 2^128.
    }
    let q = v >> shift;
    let rem = v - (q << shift);
    let half = 1u128 << (shift.max(1) - 1);
    if shift > 0 && (rem > half || (rem == half && q & 1 == 1)) {
        q + 1
    } else {
        q
    }
}

/// `%.17g` as redis-server 7.0 replies doubles (`addReplyDouble`), with Redis's own `inf`.
pub fn fmt_double(f: f64, out: &mut Vec<u8>) {
    if f.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if f == 0.0 {
        out.extend_from_slice(if f.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    // "-d.dddddddddddddddde-N": at most 1 + 18 + 2 + 3 = 24 bytes.
    let mut buf = [0u8; 32];
    let len = {
        let mut cursor: &mut [u8] = &mut buf;
        std::io::Write::write_fmt(&mut cursor, format_args!("{:.16e}", f.abs()))
            .expect("32 bytes hold any f64 in {:.16e}");
        32 - cursor.len()
    };
    let text = &buf[..len];
    let e_at = text
        .iter()
        .position(|&b| b == b'e')
        .expect("{:e} writes an exponent");
    let exp10: i32 = std::str::from_utf8(&text[e_at + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("{:e} writes a decimal exponent");
    let mut digits = [0u8; G_DIGITS as usize];
    let mut n = 0;
    for &b in text[..e_at].iter().filter(|b| b.is_ascii_digit()) {
        digits[n] = b;
        n += 1;
    }
    assert_eq!(
        n, G_DIGITS as usize,
        "{{:.16e}} writes 17 significant digits"
    );
    if f < 0.0 {
        out.push(b'-');
    }
    layout_g(&digits, exp10, out);
}

/// C's `%g` layout of 17 significant `digits` with decimal exponent `exp10`.
fn layout_g(digits: &[u8], exp10: i32, out: &mut Vec<u8>) {
    let significant = digits.len() - digits.iter().rev().take_while(|&&d| d == b'0').count();
    let digits = &digits[..significant.max(1)];
    if !(-4..G_DIGITS).contains(&exp10) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp10 < 0 { b'-' } else { b'+' });
        let magnitude = exp10.unsigned_abs();
        if magnitude < 10 {
            out.push(b'0');
        }
        fmt_i64(i64::from(magnitude), out);
    } else if exp10 < 0 {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + (exp10.unsigned_abs() as usize - 1), b'0');
        out.extend_from_slice(digits);
    } else {
        let int_len = exp10 as usize + 1;
        let int_part = &digits[..int_len.min(digits.len())];
        out.extend_from_slice(int_part);
        out.resize(out.len() + (int_len - int_part.len()), b'0');
        if digits.len() > int_len {
            out.push(b'.');
            out.extend_from_slice(&digits[int_len..]);
        }
    }
}

/// Decimal `n`, as Redis's `ll2string`.
pub fn fmt_i64(n: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(i64_text(n, &mut [0u8; LONG_STR_LEN_MAX_BYTES]));
}

/// Decimal `n` written into `buf`, without allocating: the digits are the returned tail.
pub fn i64_text(n: i64, buf: &mut [u8; LONG_STR_LEN_MAX_BYTES]) -> &[u8] {
    let mut at = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

// ---------------------------------------------------------------------------------------------
// C float syntax.

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn signed(v: f64, negative: bool) -> f64 {
    if negative {
        -v
    } else {
        v
    }
}

/// Input that `strtod`/`strtold` would consume whole. Slices hold ASCII digits only.
enum CFloat<'a> {
    Infinite {
        negative: bool,
    },
    Decimal {
        negative: bool,
        int: &'a [u8],
        frac: &'a [u8],
        exp10: i64,
    },
    Hex {
        negative: bool,
        int: &'a [u8],
        frac: &'a [u8],
        exp2: i64,
    },
}

/// Exponents are saturated here; anything this big has long since overflowed or underflowed.
const EXPONENT_SATURATE: i64 = 1 << 40;

/// Scans the whole input as a C float; `None` if strtod would stop early, fail, or read NaN.
fn scan_c_float(bytes: &[u8]) -> Option<CFloat<'_>> {
    let (negative, rest) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return Some(CFloat::Infinite { negative });
    }
    let hex = rest.len() > 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x';
    let (rest, is_digit): (&[u8], fn(&u8) -> bool) = if hex {
        (&rest[2..], u8::is_ascii_hexdigit)
    } else {
        (rest, u8::is_ascii_digit)
    };
    let int_len = rest.iter().take_while(|b| is_digit(b)).count();
    let (int, rest) = rest.split_at(int_len);
    let (frac, rest) = match rest.split_first() {
        Some((b'.', after)) => after.split_at(after.iter().take_while(|b| is_digit(b)).count()),
        _ => (&rest[..0], rest),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let exp_marker = if hex { b'p' } else { b'e' };
    let exp = match rest.split_first() {
        None => 0,
        Some((&m, digits)) if (m | 0x20) == exp_marker => scan_exponent(digits)?,
        Some(_) => return None,
    };
    Some(if hex {
        CFloat::Hex {
            negative,
            int,
            frac,
            exp2: exp,
        }
    } else {
        let frac_len = i64::try_from(frac.len()).expect("input is short");
        CFloat::Decimal {
            negative,
            int,
            frac,
            exp10: exp - frac_len,
        }
    })
}

/// `[+-]digits`, the whole input, saturated.
fn scan_exponent(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = (v * 10 + i64::from(d - b'0')).min(EXPONENT_SATURATE);
    }
    Some(if negative { -v } else { v })
}

/// True if the significand (the part before any exponent) has a digit 1-9.
fn has_nonzero_digit(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .take_while(|&&b| (b | 0x20) != b'e')
        .any(|b| (b'1'..=b'9').contains(b))
}

fn hex_significand(int: &[u8], frac: &[u8], exp2: i64, fmt: &BinFormat) -> (Big, i64) {
    let mut n = Big::default();
    for &h in int.iter().chain(frac) {
        let nibble = (h as char).to_digit(16).expect("scanned as hex");
        n.mul_add_small(16, nibble);
    }
    let frac_len = i64::try_from(frac.len()).expect("input is short");
    let exp2 = exp2 - 4 * frac_len;
    drop_glibc_lost_bit(&mut n, exp2, fmt);
    (n, exp2)
}

/// glibc's strtod and strtold lose one bit of a hex float whose result is subnormal: the
/// first bit past the significand (2^-bits below the leading one) never reaches the sticky
/// bit. It only shows when the rest is an exact rounding tie. Verified on 7.0.15: ZADD
/// `0x1.40000000000008p-1073` stores 2 × 2^-1074 (3 is nearest), `0x1.40000000000004p-1073`
/// stores 3 × 2^-1074, and INCRBYFLOAT rejects `0x1.0000000000000001p-16446` as underflow.
fn drop_glibc_lost_bit(n: &mut Big, exp2: i64, fmt: &BinFormat) {
    let len = i64::try_from(n.bit_len()).expect("short input");
    let bits = i64::from(fmt.bits);
    if len == 0 || exp2 + len - bits >= fmt.exp2_min {
        return; // Zero, or normal: glibc rounds those exactly.
    }
    if let Ok(lost) = u64::try_from(len - 1 - bits) {
        n.clear_bit(lost);
    }
}

fn f64_from_parts(mant: u64, exp2: i64) -> f64 {
    debug_assert!(mant < 1 << 53 && (F64.exp2_min..=F64.exp2_max).contains(&exp2));
    let pow2 = if exp2 >= -1022 {
        f64::from_bits(((exp2 + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (exp2 + 1074))
    };
    mant as f64 * pow2 // Exact: the product is representable by construction.
}

fn rounded_to_ld(r: Rounded, negative: bool) -> Option<LongDouble> {
    match r {
        Rounded::Zero => Some(LongDouble::Finite {
            negative,
            mant: 0,
            exp2: 0,
        }),
        Rounded::Overflow => None,
        Rounded::Finite { mant, exp2 } => Some(LongDouble::Finite {
            negative,
            mant,
            exp2,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Exact decimal to binary.

/// A binary floating-point format: `bits` of significand, exponent range of `mant × 2^exp2`.
struct BinFormat {
    bits: u32,
    exp2_min: i64,
    exp2_max: i64,
}

/// x87 extended: 64-bit significand with explicit integer bit, exponents -16382..=16383.
const X87: BinFormat = BinFormat {
    bits: 64,
    exp2_min: -16382 - 63,
    exp2_max: 16383 - 63,
};
/// IEEE binary64.
const F64: BinFormat = BinFormat {
    bits: 53,
    exp2_min: -1022 - 52,
    exp2_max: 1023 - 52,
};

enum Rounded {
    Zero,
    Finite { mant: u64, exp2: i64 },
    Overflow,
}

/// log2(10), rounded up, for sizing only.
const LOG2_10_UP: f64 = 3.321_928_094_887_363;

/// The decimal `int.frac × 10^exp10` as `n × 2^exp2` plus a sticky bit for a nonzero
/// remainder, with enough bits for exact rounding into `fmt`. `None` when the value is
/// certainly out of range (overflow, or nonzero underflowing to zero: both ERANGE).
fn decimal_to_binary(
    int: &[u8],
    frac: &[u8],
    exp10: i64,
    fmt: &BinFormat,
) -> Option<(Big, i64, bool)> {
    let all = int.iter().chain(frac).skip_while(|&&d| d == b'0');
    let mut n = Big::default();
    let mut digit_count: i64 = 0;
    for &d in all {
        n.mul_add_small(10, u32::from(d - b'0'));
        digit_count += 1;
    }
    if n.is_zero() {
        return Some((n, 0, false));
    }
    // value in [10^(digit_count-1+exp10), 10^(digit_count+exp10)).
    let top_bit_estimate = (digit_count + exp10) as f64 * LOG2_10_UP;
    if (digit_count - 1 + exp10) as f64 * 3.3 > (fmt.exp2_max + i64::from(fmt.bits) + 2) as f64 {
        return None;
    }
    if top_bit_estimate < (fmt.exp2_min - 2) as f64 {
        return None;
    }
    if exp10 >= 0 {
        mul_pow10(&mut n, exp10.unsigned_abs());
        return Some((n, 0, false));
    }
    let k = exp10.unsigned_abs();
    // Shift so the quotient keeps >= 66 bits (two below the rounding bit), and at least two
    // bits below the subnormal rounding position.
    let pow10_bits = (k as f64 * LOG2_10_UP) as i64 + 2;
    let wide = 66 + pow10_bits - i64::try_from(n.bit_len()).expect("short input");
    // value >= 10^(digit_count - 1 + exp10); below the normal range, the rounding position is
    // fixed at exp2_min instead, so shift far enough to keep two bits under it.
    let low_bit_estimate = (digit_count - 1 + exp10) as f64 * LOG2_10_UP;
    let surely_normal = low_bit_estimate >= (fmt.exp2_min + i64::from(fmt.bits) + 2) as f64;
    let shift = if surely_normal {
        wide
    } else {
        wide.max(2 - fmt.exp2_min)
    }
    .max(0);
    n.shl(shift.unsigned_abs());
    let sticky = div_pow10(&mut n, k);
    Some((n, -shift, sticky))
}

fn mul_pow10(n: &mut Big, mut k: u64) {
    while k > 0 {
        let step = k.min(9);
        n.mul_add_small(10u32.pow(step as u32), 0);
        k -= step;
    }
}

/// `n /= 10^k`, flooring; true if anything was lost. Floors compose: ⌊⌊x/a⌋/b⌋ = ⌊x/(ab)⌋.
fn div_pow10(n: &mut Big, mut k: u64) -> bool {
    let mut lost = false;
    while k > 0 {
        let step = k.min(9);
        lost |= n.div_small(10u32.pow(step as u32)) != 0;
        k -= step;
    }
    lost
}

/// Rounds `n × 2^exp2` (+ sticky, strictly below n's last bit) to nearest-even in `fmt`,
/// with gradual underflow.
fn round_big(n: &Big, exp2: i64, sticky: bool, fmt: &BinFormat) -> Rounded {
    let len = i64::try_from(n.bit_len()).expect("bounded input");
    if len == 0 {
        debug_assert!(!sticky, "callers keep the significant bits");
        return Rounded::Zero;
    }
    let bits = i64::from(fmt.bits);
    let mut exp_r = (exp2 + len - bits).max(fmt.exp2_min);
    let drop = exp_r - exp2;
    let mut mant: u128 = if drop <= 0 {
        debug_assert!(!sticky);
        u128::from(n.bits_at(0)) << drop.unsigned_abs()
    } else {
        let d = drop.unsigned_abs();
        let kept = u128::from(n.bits_at(d));
        let half = n.bit(d - 1);
        let rest = sticky || n.any_below(d - 1);
        kept + u128::from(half && (rest || kept & 1 == 1))
    };
    if mant == 1u128 << bits {
        mant >>= 1;
        exp_r += 1;
    }
    if mant == 0 {
        return Rounded::Zero;
    }
    if exp_r > fmt.exp2_max {
        return Rounded::Overflow;
    }
    let mant = u64::try_from(mant).expect("at most 64 significand bits");
    Rounded::Finite { mant, exp2: exp_r }
}

/// A little unsigned big integer: little-endian u32 limbs, no zero limb on top.
#[derive(Default)]
struct Big {
    limbs: Vec<u32>,
}

impl Big {
    fn from_u128(mut v: u128) -> Big {
        let mut limbs = Vec::with_capacity(4);
        while v != 0 {
            limbs.push(v as u32);
            v >>= 32;
        }
        Big { limbs }
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn bit_len(&self) -> u64 {
        match self.limbs.last() {
            None => 0,
            Some(&top) => self.limbs.len() as u64 * 32 - u64::from(top.leading_zeros()),
        }
    }

    fn bit(&self, i: u64) -> bool {
        let limb = self.limbs.get((i / 32) as usize).copied().unwrap_or(0);
        limb >> (i % 32) & 1 == 1
    }

    /// The 64 bits starting at bit `lo` (zero above the top).
    fn bits_at(&self, lo: u64) -> u64 {
        let limb = |j: u64| u128::from(self.limbs.get(j as usize).copied().unwrap_or(0));
        let first = lo / 32;
        let window = limb(first) | limb(first + 1) << 32 | limb(first + 2) << 64;
        (window >> (lo % 32)) as u64
    }

    /// Any set bit strictly below bit `i`.
    fn any_below(&self, i: u64) -> bool {
        let whole = ((i / 32) as usize).min(self.limbs.len());
        if self.limbs[..whole].iter().any(|&l| l != 0) {
            return true;
        }
        let part = i % 32;
        part != 0 && whole < self.limbs.len() && self.limbs[whole] & ((1 << part) - 1) != 0
    }

    /// Clears bit `i`, which must lie below the top bit.
    fn clear_bit(&mut self, i: u64) {
        assert!(
            i + 1 < self.bit_len(),
            "clearing the top bit would denormalize"
        );
        self.limbs[(i / 32) as usize] &= !(1u32 << (i % 32));
    }

    fn mul_add_small(&mut self, m: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.limbs {
            let t = u64::from(*limb) * u64::from(m) + carry;
            *limb = t as u32;
            carry = t >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
    }

    /// `self /= d`, returning the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem: u64 = 0;
        for limb in self.limbs.iter_mut().rev() {
            let cur = rem << 32 | u64::from(*limb);
            *limb = (cur / u64::from(d)) as u32;
            rem = cur % u64::from(d);
        }
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
        rem as u32
    }

    fn shl(&mut self, bits: u64) {
        if self.is_zero() {
            return;
        }
        let (words, part) = ((bits / 32) as usize, (bits % 32) as u32);
        if part != 0 {
            let mut carry = 0u32;
            for limb in &mut self.limbs {
                let next = *limb >> (32 - part);
                *limb = *limb << part | carry;
                carry = next;
            }
            if carry != 0 {
                self.limbs.push(carry);
            }
        }
        self.limbs.splice(0..0, std::iter::repeat_n(0, words));
    }

    /// Decimal digits, most significant first ("0" for zero).
    fn into_decimal(mut self) -> Vec<u8> {
        const CHUNK: u32 = 1_000_000_000;
        let mut chunks = Vec::new();
        while !self.is_zero() {
            chunks.push(self.div_small(CHUNK));
        }
        let mut out = Vec::with_capacity(chunks.len() * 9 + 1);
        match chunks.pop() {
            None => out.push(b'0'),
            Some(top) => fmt_i64(i64::from(top), &mut out),
        }
        for chunk in chunks.iter().rev() {
            let start = out.len();
            fmt_i64(i64::from(*chunk), &mut out);
            let width = out.len() - start;
            out.splice(start..start, std::iter::repeat_n(b'0', 9 - width));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (argument, INCRBY result from 0), from redis-server 7.0.15; `None` was
    /// "ERR value is not an integer or out of range".
    const INCRBY_VERIFIED: &[(&[u8], Option<i64>)] = &[
        (b"0", Some(0)),
        (b"1", Some(1)),
        (b"-1", Some(-1)),
        (b"-0", None),
        (b"+1", None),
        (b" 1", None),
        (b"1 ", None),
        (b"01", None),
        (b"00", None),
        (b"-01", None),
        (b"", None),
        (b"-", None),
        (b"9223372036854775807", Some(9223372036854775807)),
        (b"9223372036854775808", None),
        (b"-9223372036854775808", Some(-9223372036854775808)),
        (b"-9223372036854775809", None),
        (b"00000000000000000001", None),
        (b"1e3", None),
        (b"1.0", None),
        (b"0x10", None),
        (b"12a", None),
        (b"\x001", None),
        (b"18446744073709551616", None),
        (b"99999999999999999999", None),
        (b"123456789012345678901", None),
        (b"-1234567890123456789", Some(-1234567890123456789)),
    ];

    /// (ZADD score argument, ZSCORE reply), from redis-server 7.0.15 with a skiplist-encoded
    /// zset; `None` was "ERR value is not a valid float".
    const ZSCORE_VERIFIED: &[(&[u8], Option<&[u8]>)] = &[
        (b"1", Some(b"1")),
        (b"1.1", Some(b"1.1000000000000001")),
        (b"3.0", Some(b"3")),
        (b"-3", Some(b"-3")),
        (b"0.1", Some(b"0.10000000000000001")),
        (b"1e20", Some(b"1e+20")),
        (b"1e-5", Some(b"1.0000000000000001e-05")),
        (b"0.0001", Some(b"0.0001")),
        (b"0.00001", Some(b"1.0000000000000001e-05")),
        (b"123456789012345678", Some(b"1.2345678901234568e+17")),
        (b"1e16", Some(b"10000000000000000")),
        (b"1e17", Some(b"1e+17")),
        (b"12345678901234567", Some(b"12345678901234568")),
        (b"1.5e300", Some(b"1.5000000000000001e+300")),
        (b"-0", Some(b"-0")),
        (b"0", Some(b"0")),
        (b"inf", Some(b"inf")),
        (b"+inf", Some(b"inf")),
        (b"-inf", Some(b"-inf")),
        (b"INF", Some(b"inf")),
        (b"Infinity", Some(b"inf")),
        (b"-infinity", Some(b"-inf")),
        (b"infin", None),
        (b"nan", None),
        (b"NaN", None),
        (b" 1", None),
        (b"1 ", None),
        (b"0x10", Some(b"16")),
        (b"0X1p-2", Some(b"0.25")),
        (b"0x1.8p1", Some(b"3")),
        (b"0x", None),
        (b"0x.8", Some(b"0.5")),
        (b"1e400", None),
        (b"-1e400", None),
        (b"1e-400", None),
        (b"4e-320", Some(b"3.999955468730732e-320")),
        (b"5e-324", Some(b"4.9406564584124654e-324")),
        (b"2e-324", None),
        (b"1e5", Some(b"100000")),
        (b".5", Some(b"0.5")),
        (b"5.", Some(b"5")),
        (b".", None),
        (b"", None),
        (b"+1.5", Some(b"1.5")),
        (b"1e", None),
        (b"1e+", None),
        (b"1e+2", Some(b"100")),
        (b"1E2", Some(b"100")),
        (b"1.e2", Some(b"100")),
        (b"+.5", Some(b"0.5")),
        (b"-.5e-1", Some(b"-0.050000000000000003")),
        (b"1_000", None),
        (b"\x091", None),
        (b"1\x00", None),
        (b"2251799813685247.75", Some(b"2251799813685247.8")),
        (b"0.30000000000000004", Some(b"0.30000000000000004")),
        (b"100", Some(b"100")),
        (b"4503599627370496", Some(b"4503599627370496")),
        (b"9007199254740993", Some(b"9007199254740992")),
        (b"1.7976931348623157e308", Some(b"1.7976931348623157e+308")),
        (b"2.2250738585072014e-308", Some(b"2.2250738585072014e-308")),
        (b"123.456", Some(b"123.456")),
        (b"-0.000123456", Some(b"-0.00012345600000000001")),
        (b"1234567.125", Some(b"1234567.125")),
        (b"3.14159265358979", Some(b"3.14159265358979")),
    ];

    type IncrCase = (
        Option<&'static str>,
        &'static [u8],
        Result<&'static str, CmdError>,
    );

    /// (stored value, INCRBYFLOAT argument, reply), from redis-server 7.0.15.
    const INCRBYFLOAT_VERIFIED: &[IncrCase] = &[
        (None, b"0.1", Ok("0.1")),
        (Some("0"), b"0.1", Ok("0.1")),
        (Some("0.1"), b"0.2", Ok("0.3")),
        (Some("10.5"), b"0.1", Ok("10.6")),
        (Some("5.0e3"), b"2.0e2", Ok("5200")),
        (Some("1"), b"-1", Ok("0")),
        (Some("1e17"), b"1", Ok("100000000000000001")),
        (Some("0"), b"1e-20", Ok("0")),
        (Some("0"), b"-1e-20", Ok("0")),
        (Some("0"), b"1e-17", Ok("0.00000000000000001")),
        (Some("0"), b"5e-18", Ok("0")),
        (Some("0"), b"1.5e-17", Ok("0.00000000000000002")),
        (Some("0"), b"2.5e-17", Ok("0.00000000000000002")),
        (Some("3"), b"1.5", Ok("4.5")),
        (
            Some("0"),
            b"1e400",
            Ok(concat!(
                "10000000000000000000281880683947586514586453433629052038625910693539685534008629",
                "86203936399484832416052209405392731761620029582277725925573402382897659334066101",
                "77974474345461739178624481166749717237789438243915933380474706750262466844013592",
                "37513603830343735485505244955964979021825038280091068414947402456898653040951017",
                "51265809261582758892018347251164331659136266413817630973480634373249743022194688",
                "0",
            )),
        ),
        (Some("1e4932"), b"1e4932", Err(CmdError::IncrOnNanOrInf)),
        (Some("0"), b"1e5000", Err(CmdError::NotFloat)),
        (Some("0"), b"1e-5000", Err(CmdError::NotFloat)),
        (Some("0"), b"inf", Err(CmdError::IncrOnNanOrInf)),
        (Some("0"), b"-inf", Err(CmdError::IncrOnNanOrInf)),
        (Some("0"), b"nan", Err(CmdError::NotFloat)),
        (Some("0"), b" 1", Err(CmdError::NotFloat)),
        (Some("0"), b"1 ", Err(CmdError::NotFloat)),
        (Some("0"), b"0x10", Ok("16")),
        (Some("0x10"), b"0x.8", Ok("16.5")),
        (Some("0"), b"+1", Ok("1")),
        (Some("0"), b"", Err(CmdError::NotFloat)),
        (Some("abc"), b"1", Err(CmdError::NotFloat)),
        (Some("1"), b"abc", Err(CmdError::NotFloat)),
        (Some("0"), b"1\x00", Err(CmdError::NotFloat)),
        (Some("0"), b".5", Ok("0.5")),
        (Some("0"), b"5.", Ok("5")),
        (Some("-0"), b"0", Ok("0")),
        (Some("0"), b"-0", Ok("0")),
        (Some("1.1"), b"2.2", Ok("3.3")),
        (Some("9223372036854775807"), b"1", Ok("9223372036854775808")),
        (Some("0"), b"9007199254740993", Ok("9007199254740993")),
        (
            Some("0"),
            b"18446744073709551617",
            Ok("18446744073709551616"),
        ),
        (Some("0"), b"3.0000000000000000000001", Ok("3")),
        (Some("1e17"), b"0.5", Ok("100000000000000000.5")),
        (Some("0"), b"0.1e1", Ok("1")),
        (
            Some("100"),
            b"-100.0000000000000001",
            Ok("-0.0000000000000001"),
        ),
        (
            Some("0"),
            b"123456789.123456789",
            Ok("123456789.12345678899873747"),
        ),
        (Some("1e-4950"), b"0", Ok("0")),
        (Some("0"), b"1e-4960", Err(CmdError::NotFloat)),
        (Some("0.3"), b"-0.1", Ok("0.2")),
        (Some("1e19"), b"1", Ok("10000000000000000001")),
        (Some("1e20"), b"1", Ok("100000000000000000000")),
        (Some("-5"), b"2.25", Ok("-2.75")),
        (Some("2.5e-17"), b"0", Ok("0.00000000000000002")),
        (Some("0"), b"1.25e-16", Ok("0.00000000000000012")),
        (Some("3.0"), b"INF", Err(CmdError::IncrOnNanOrInf)),
        (Some("0"), b"0x1p63", Ok("9223372036854775808")),
        (Some("0"), b"1e-4951", Err(CmdError::NotFloat)),
        (Some("0"), b"1e-4952", Err(CmdError::NotFloat)),
    ];

    fn show(b: &[u8]) -> String {
        b.escape_ascii().to_string()
    }

    #[test]
    fn parse_i64_matches_redis() {
        for &(arg, want) in INCRBY_VERIFIED {
            assert_eq!(parse_i64(arg), want, "{}", show(arg));
        }
    }

    #[test]
    fn score_parse_and_format_match_redis() {
        for &(arg, want) in ZSCORE_VERIFIED {
            let got = parse_score(arg).map(|f| {
                let mut out = Vec::new();
                fmt_double(f, &mut out);
                out
            });
            assert_eq!(got.as_deref(), want, "{}", show(arg));
        }
    }

    #[test]
    fn incr_by_float_matches_redis() {
        for (current, incr, want) in INCRBYFLOAT_VERIFIED {
            let got = incr_by_float(current.map(str::as_bytes), incr);
            let want = want.clone().map(|s| s.as_bytes().to_vec());
            assert_eq!(got, want, "{current:?} + {}", show(incr));
        }
    }

    /// glibc's %.17g rounds the exact binary value with ties to even; so must we.
    #[test]
    fn fmt_double_ties_to_even() {
        let mut out = Vec::new();
        fmt_double(((1u64 << 53) - 1) as f64 / 4.0, &mut out); // 2251799813685247.75
        assert_eq!(out, b"2251799813685247.8");
        out.clear();
        fmt_double(((1u64 << 53) - 7) as f64 / 4.0, &mut out); // 2251799813685246.25
        assert_eq!(out, b"2251799813685246.2");
    }

    /// glibc drops the bit just past the significand of a subnormal hex float (see
    /// `drop_glibc_lost_bit`); each answer here is redis-server 7.0.15's.
    #[test]
    fn hex_subnormal_keeps_glibc_lost_bit() {
        let min_sub = f64::from_bits(1);
        assert_eq!(
            parse_score(b"0x1.40000000000008p-1073"),
            Some(2.0 * min_sub)
        );
        assert_eq!(
            parse_score(b"0x1.40000000000004p-1073"),
            Some(3.0 * min_sub)
        );
        assert_eq!(parse_score(b"0x1.4000000000001p-1073"), Some(3.0 * min_sub));
        assert_eq!(parse_score(b"0x1.4p-1073"), Some(2.0 * min_sub));
        assert_eq!(parse_score(b"0x1.00000000000008p-1075"), None);
        assert_eq!(parse_score(b"0x1.0000000000001p-1075"), Some(min_sub));
        assert_eq!(parse_long_double(b"0x1.0000000000000001p-16446"), None);
        assert!(parse_long_double(b"0x1.00000000000008p-16446").is_some());
        assert!(parse_long_double(b"0x2.000000000000001p-16447").is_some());
    }

    #[test]
    fn fmt_i64_edges() {
        for n in [0, 1, -1, 9, 10, -10, i64::MAX, i64::MIN, 1_000_000_007] {
            let mut out = Vec::new();
            fmt_i64(n, &mut out);
            assert_eq!(out, n.to_string().into_bytes());
            assert_eq!(parse_i64(&out), Some(n));
        }
    }

    #[test]
    fn long_double_parse_is_exactly_rounded() {
        // 0.1 in x87 extended is 0xCCCCCCCCCCCCCCCD × 2^-67 (round to nearest, up here).
        let want = LongDouble::Finite {
            negative: false,
            mant: 0xCCCC_CCCC_CCCC_CCCD,
            exp2: -67,
        };
        assert_eq!(parse_long_double(b"0.1"), Some(want));
        assert_eq!(parse_long_double(b"0x1.999999999999999ap-4"), Some(want));
        // 2^64 + 1 is a tie between 2^64 and 2^64 + 2: ties go to the even significand.
        let two_64 = LongDouble::Finite {
            negative: false,
            mant: 1 << 63,
            exp2: 1,
        };
        assert_eq!(parse_long_double(b"18446744073709551617"), Some(two_64));
        // The smallest subnormal, and half of it (a tie to even: zero, so ERANGE).
        let min_sub = LongDouble::Finite {
            negative: false,
            mant: 1,
            exp2: X87.exp2_min,
        };
        assert_eq!(parse_long_double(b"0x1p-16445"), Some(min_sub));
        assert_eq!(parse_long_double(b"0x1p-16446"), None);
        assert_eq!(parse_long_double(b"0x1.8p-16446"), Some(min_sub));
        assert_eq!(
            parse_long_double(b"0e999999999999999999999"),
            Some(LongDouble::ZERO)
        );
        assert_eq!(parse_long_double(&vec![b'1'; LONG_DOUBLE_BUF_BYTES]), None);
    }

    #[test]
    fn long_double_add_rounds_to_nearest_even() {
        let ld = |b: &[u8]| parse_long_double(b).unwrap();
        // 2^64 + 1 is not representable: the sum ties and stays at 2^64.
        let sum = add_long_double(ld(b"18446744073709551616"), ld(b"1")).unwrap();
        assert_eq!(sum, ld(b"18446744073709551616"));
        let sum = add_long_double(ld(b"18446744073709551616"), ld(b"3")).unwrap();
        assert_eq!(sum, ld(b"18446744073709551620"));
        // A far smaller addend only sets the sticky bit.
        let sum = add_long_double(ld(b"1"), ld(b"1e-300")).unwrap();
        assert_eq!(sum, ld(b"1"));
        let sum = add_long_double(ld(b"1"), ld(b"-1e-300")).unwrap();
        assert_eq!(sum, ld(b"1"));
        // Below 1 the spacing is 2^-64: 1 - 1.5 × 2^-65 is nearer 1 - 2^-64 than 1.
        let below_one = LongDouble::Finite {
            negative: false,
            mant: u64::MAX,
            exp2: -64,
        };
        assert_eq!(add_long_double(ld(b"1"), ld(b"-0x1p-64")), Some(below_one));
        assert_eq!(
            add_long_double(ld(b"1"), ld(b"-0x1.8p-65")),
            Some(below_one)
        );
        assert_eq!(add_long_double(ld(b"1"), ld(b"-0x1p-66")), Some(ld(b"1")));
        assert_eq!(add_long_double(ld(b"inf"), ld(b"1")), None);
        assert_eq!(add_long_double(ld(b"1e4932"), ld(b"1e4932")), None);
    }
}
