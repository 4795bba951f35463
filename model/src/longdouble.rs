//! Emulation of the x86-64 C `long double` (x87 80-bit extended: 64-bit significand with an
//! explicit integer bit, 15-bit exponent, subnormals) for INCRBYFLOAT.
//!
//! Redis 7.0 parses both operands with `strtold`, adds them in `long double` and prints the sum
//! with `"%.17Lf"` before stripping trailing zeros (`ld2string`, `LD_STR_HUMAN`). That is why
//! `0.1 + 0.2` gives `0.3` there: 64 significand bits plus 17 printed decimals hide the error.
//!
//! We do not approximate: every value is held exactly as `±mant · 2^exp`, each operation is done
//! in exact big-integer arithmetic, and the result is rounded once, to nearest with ties to
//! even, exactly as the x87 unit (addition) and glibc (`strtold`, `printf`) do. The remaining
//! differences from glibc are deliberate simplifications: `nan(...)` spellings are all rejected
//! as a whole (Redis rejects NaN anyway), and we assume the default rounding mode.

use crate::bignum::Big;

/// Smallest exponent of the last significand bit (subnormal minimum is 2^-16445).
const LSB_EXP_MIN: i64 = -16445;
/// Largest exponent of the last significand bit of a finite value (2^16383 · 1.xx).
const LSB_EXP_MAX: i64 = 16383 - 63;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer inputs are rejected and longer outputs become "".
pub const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;
/// Decimal exponents beyond these are certainly overflow / underflow (max ≈ 1.19e4932,
/// min subnormal ≈ 3.6e-4951); inside them we compute exactly.
const DEC_EXP_OVERFLOW: i64 = 4940;
const DEC_EXP_UNDERFLOW: i64 = -4970;

/// A `long double` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ld {
    /// `±mant · 2^exp`; zero when `mant == 0` (the sign is kept for -0).
    Finite {
        neg: bool,
        mant: u64,
        exp: i64,
    },
    Inf {
        neg: bool,
    },
    Nan,
}

impl Ld {
    pub fn is_finite(self) -> bool {
        matches!(self, Ld::Finite { .. })
    }
}

/// Rounds the exact value `±mag · 2^exp2` (plus a nonzero amount below its last bit when
/// `sticky`) to the nearest `long double`, ties to even, with subnormals and overflow to inf.
fn round(neg: bool, mag: &Big, exp2: i64, sticky: bool) -> Ld {
    if mag.is_zero() {
        assert!(!sticky, "sticky bits below a zero magnitude");
        return Ld::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    let top = exp2 + mag.bits() as i64;
    let lsb = (top - 64).max(LSB_EXP_MIN);
    let shift = lsb - exp2;
    let (mant, lsb) = if shift <= 0 {
        assert!(!sticky, "an inexact value must carry guard bits");
        let mant = mag
            .shl(shift.unsigned_abs())
            .to_u64()
            .expect("fits in 64 bits");
        (mant, lsb)
    } else {
        let s = shift as u64;
        let kept = u128::from(mag.shr(s).to_u64().expect("fits in 64 bits"));
        let half = mag.bit(s - 1);
        let rest = sticky || mag.any_below(s - 1);
        let rounded = kept + u128::from(half && (rest || kept & 1 == 1));
        if rounded == 1 << 64 {
            (1 << 63, lsb + 1) // rounding carried into the next binade
        } else {
            (rounded as u64, lsb)
        }
    };
    if mant == 0 {
        return Ld::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    if lsb > LSB_EXP_MAX {
        return Ld::Inf { neg };
    }
    Ld::Finite {
        neg,
        mant,
        exp: lsb,
    }
}

/// `string2ld`: what Redis accepts as a `long double` argument, or `None`.
pub fn parse(s: &[u8]) -> Option<Ld> {
    if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS {
        return None;
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        return Some(Ld::Inf { neg });
    }
    let value = if lower.starts_with(b"0x") {
        parse_hex(neg, &body[2..])?
    } else {
        parse_decimal(neg, body)?
    };
    let nonzero_input = !matches!(value, Exact::Zero);
    let ld = match value {
        Exact::Zero => Ld::Finite {
            neg,
            mant: 0,
            exp: 0,
        },
        Exact::Overflow => Ld::Inf { neg },
        Exact::Underflow => Ld::Finite {
            neg,
            mant: 0,
            exp: 0,
        },
        Exact::Value { mag, exp2, sticky } => round(neg, &mag, exp2, sticky),
    };
    // ERANGE with a result of ±HUGE_VALL or zero is a rejection (string2ld).
    match ld {
        Ld::Inf { .. } => None,
        Ld::Finite { mant: 0, .. } if nonzero_input => None,
        other => Some(other),
    }
}

enum Exact {
    Zero,
    Overflow,
    Underflow,
    Value { mag: Big, exp2: i64, sticky: bool },
}

/// Splits `digits[.digits]` (at least one digit in all) followed by an exponent introduced by
/// `marker`. Returns (all digits, number of fraction digits, exponent) or `None` if malformed.
fn split_number(s: &[u8], is_digit: fn(u8) -> bool, marker: u8) -> Option<(Vec<u8>, i64, i64)> {
    let int_len = s.iter().take_while(|&&c| is_digit(c)).count();
    let mut digits = s[..int_len].to_vec();
    let mut rest = &s[int_len..];
    let mut frac_len = 0;
    if let Some((b'.', after)) = rest.split_first() {
        frac_len = after.iter().take_while(|&&c| is_digit(c)).count();
        digits.extend_from_slice(&after[..frac_len]);
        rest = &after[frac_len..];
    }
    if digits.is_empty() {
        return None;
    }
    let mut exp = 0i64;
    if let Some((&m, after)) = rest.split_first() {
        if m.to_ascii_lowercase() != marker {
            return None;
        }
        exp = parse_exponent(after)?;
    }
    Some((digits, frac_len as i64, exp))
}

/// `[+-]digits`, saturated far beyond any representable exponent.
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', r)) => (true, r),
        Some((b'+', r)) => (false, r),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().fold(0i64, |acc, &d| {
        (acc * 10 + i64::from(d - b'0')).min(1 << 40)
    });
    Some(if neg { -v } else { v })
}

fn parse_decimal(_neg: bool, s: &[u8]) -> Option<Exact> {
    let (digits, frac_len, exp) = split_number(s, |c| c.is_ascii_digit(), b'e')?;
    let first = digits.iter().position(|&d| d != b'0');
    let Some(first) = first else {
        return Some(Exact::Zero);
    };
    let significant = &digits[first..];
    let e10 = exp - frac_len;
    let magnitude = e10 + significant.len() as i64;
    if magnitude > DEC_EXP_OVERFLOW {
        return Some(Exact::Overflow);
    }
    if magnitude < DEC_EXP_UNDERFLOW {
        return Some(Exact::Underflow);
    }
    let mut m = Big::zero();
    for &d in significant {
        m.mul_small(10);
        m.add_small(u32::from(d - b'0'));
    }
    if e10 >= 0 {
        let mut mag = m;
        (0..e10).for_each(|_| mag.mul_small(10));
        return Some(Exact::Value {
            mag,
            exp2: 0,
            sticky: false,
        });
    }
    let d = Big::pow10(e10.unsigned_abs());
    let s = (d.bits() + 66).saturating_sub(m.bits());
    let (q, r) = m.shl(s).div_rem(&d);
    Some(Exact::Value {
        mag: q,
        exp2: -(s as i64),
        sticky: !r.is_zero(),
    })
}

fn parse_hex(_neg: bool, s: &[u8]) -> Option<Exact> {
    let (digits, frac_len, exp) = split_number(s, |c| c.is_ascii_hexdigit(), b'p')?;
    let mut m = Big::zero();
    for &d in &digits {
        m.mul_small(16);
        m.add_small(char::from(d).to_digit(16).expect("hex digit"));
    }
    if m.is_zero() {
        return Some(Exact::Zero);
    }
    let exp2 = exp - 4 * frac_len;
    let top = exp2 + m.bits() as i64;
    if top > LSB_EXP_MAX + 70 {
        return Some(Exact::Overflow);
    }
    if top < LSB_EXP_MIN - 2 {
        return Some(Exact::Underflow);
    }
    Some(Exact::Value {
        mag: m,
        exp2,
        sticky: false,
    })
}

/// `a + b` in `long double`, rounded to nearest even.
pub fn add(a: Ld, b: Ld) -> Ld {
    match (a, b) {
        (Ld::Nan, _) | (_, Ld::Nan) => Ld::Nan,
        (Ld::Inf { neg: x }, Ld::Inf { neg: y }) if x != y => Ld::Nan,
        (Ld::Inf { neg }, _) | (_, Ld::Inf { neg }) => Ld::Inf { neg },
        (
            Ld::Finite {
                neg: an,
                mant: am,
                exp: ae,
            },
            Ld::Finite {
                neg: bn,
                mant: bm,
                exp: be,
            },
        ) => add_finite((an, am, ae), (bn, bm, be)),
    }
}

fn add_finite(a: (bool, u64, i64), b: (bool, u64, i64)) -> Ld {
    let ((an, am, ae), (bn, bm, be)) = (a, b);
    if am == 0 && bm == 0 {
        return Ld::Finite {
            neg: an && bn,
            mant: 0,
            exp: 0,
        };
    }
    if am == 0 {
        return Ld::Finite {
            neg: bn,
            mant: bm,
            exp: be,
        };
    }
    if bm == 0 {
        return Ld::Finite {
            neg: an,
            mant: am,
            exp: ae,
        };
    }
    // With more than ~130 bits between them, the smaller operand is far below half an ulp of
    // the larger (which is then necessarily normalised), so the sum rounds to the larger.
    if ae - be > 200 {
        return Ld::Finite {
            neg: an,
            mant: am,
            exp: ae,
        };
    }
    if be - ae > 200 {
        return Ld::Finite {
            neg: bn,
            mant: bm,
            exp: be,
        };
    }
    let e = ae.min(be);
    let x = Big::from_u64(am).shl((ae - e) as u64);
    let y = Big::from_u64(bm).shl((be - e) as u64);
    if an == bn {
        let mut sum = x;
        sum.add_assign(&y);
        return round(an, &sum, e, false);
    }
    match x.cmp(&y) {
        std::cmp::Ordering::Equal => Ld::Finite {
            neg: false,
            mant: 0,
            exp: 0,
        },
        std::cmp::Ordering::Greater => {
            let mut d = x;
            d.sub_assign(&y);
            round(an, &d, e, false)
        }
        std::cmp::Ordering::Less => {
            let mut d = y;
            d.sub_assign(&x);
            round(bn, &d, e, false)
        }
    }
}

/// `ld2string(..., LD_STR_HUMAN)`: `"%.17Lf"`, trailing zeros and point stripped, "-0" → "0".
/// An output that would not fit Redis's buffer becomes the empty string, as in Redis.
pub fn to_human_string(v: Ld) -> Vec<u8> {
    let Ld::Finite { neg, mant, exp } = v else {
        panic!("to_human_string of a non-finite value {v:?}; callers reject those first");
    };
    let mut scaled = Big::from_u64(mant);
    (0..17).for_each(|_| scaled.mul_small(10));
    let n = if exp >= 0 {
        scaled.shl(exp as u64)
    } else {
        let s = exp.unsigned_abs();
        let mut q = scaled.shr(s);
        let half = scaled.bit(s - 1);
        if half && (scaled.any_below(s - 1) || q.bit(0)) {
            q.add_small(1);
        }
        q
    };
    let digits = format!("{:0>18}", n.to_decimal());
    let (int_part, frac) = digits.split_at(digits.len() - 17);
    let full = format!("{}{int_part}.{frac}", if neg { "-" } else { "" });
    if full.len() + 1 > MAX_LONG_DOUBLE_CHARS {
        return Vec::new();
    }
    let stripped = full.trim_end_matches('0').trim_end_matches('.');
    if stripped == "-0" {
        return b"0".to_vec();
    }
    stripped.as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        let sum = add(parse(a.as_bytes()).unwrap(), parse(b.as_bytes()).unwrap());
        String::from_utf8(to_human_string(sum)).unwrap()
    }

    #[test]
    fn sums_print_like_redis() {
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("10.50", "0.1"), "10.6");
        assert_eq!(incr("5.0e3", "2.0e2"), "5200");
        assert_eq!(incr("0", "-0"), "0");
        assert_eq!(incr("-0", "-0"), "0");
        assert_eq!(incr("1", "-1.5"), "-0.5");
        assert_eq!(
            incr("100000000000000000000", "0.1"),
            "100000000000000000000"
        );
        assert_eq!(incr("0x10", "0x1p-1"), "16.5");
        assert_eq!(incr("3", "1e-30"), "3");
        assert_eq!(incr("-1e-30", "0"), "0");
    }

    #[test]
    fn huge_values_print_in_full() {
        let s = incr("1e400", "0");
        assert_eq!(s.len(), 401);
        assert!(s.starts_with("10000000000000000000281880683947586514586453433629"));
    }

    #[test]
    fn parse_rejects_what_strtold_or_redis_rejects() {
        for bad in [
            "", " 1", "1 ", "1e", "e1", ".", "-", "0x", "nan", "NaN", "1e5000", "-1e5000",
            "1e-5000", "infx", "1.2.3", "1,5", "0x1p", "--1",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad:?}");
        }
        for good in [
            "1",
            "+1",
            "-1.5",
            ".5",
            "5.",
            "1E3",
            "0x1P3",
            "inf",
            "-Infinity",
            "0e9999",
        ] {
            assert!(parse(good.as_bytes()).is_some(), "{good:?}");
        }
        assert_eq!(
            add(parse(b"inf").unwrap(), parse(b"-inf").unwrap()),
            Ld::Nan
        );
    }

    #[test]
    fn rounding_is_to_nearest_even() {
        // 2^64 + 1 is a tie between 2^64 and 2^64 + 2; even wins.
        let v = parse(b"18446744073709551617").unwrap();
        assert_eq!(
            v,
            Ld::Finite {
                neg: false,
                mant: 1 << 63,
                exp: 1
            }
        );
        // 2^64 + 3 rounds up to 2^64 + 4.
        let v = parse(b"18446744073709551619").unwrap();
        assert_eq!(
            v,
            Ld::Finite {
                neg: false,
                mant: (1 << 63) + 2,
                exp: 1
            }
        );
        let max = parse(b"18446744073709551615").unwrap();
        assert_eq!(
            max,
            Ld::Finite {
                neg: false,
                mant: u64::MAX,
                exp: 0
            }
        );
        // The largest 64-bit significand plus a half ulp carries into a new binade.
        let carried = parse(b"18446744073709551615.5").unwrap();
        assert_eq!(
            carried,
            Ld::Finite {
                neg: false,
                mant: 1 << 63,
                exp: 1
            }
        );
    }
}
