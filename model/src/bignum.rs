//! A minimal unsigned big integer: just what exact float conversion needs (multiply by a small
//! number, shift, add, subtract, compare, long division, decimal printing). Little-endian `u32`
//! limbs with no high zero limbs, so derived equality is numeric equality. Clarity over speed.

use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Big(Vec<u32>);

impl Big {
    pub fn zero() -> Big {
        Big(Vec::new())
    }

    pub fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of significant bits (0 for zero).
    pub fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(top) => (self.0.len() as u64 - 1) * 32 + u64::from(32 - top.leading_zeros()),
        }
    }

    pub fn bit(&self, i: u64) -> bool {
        let limb = (i / 32) as usize;
        limb < self.0.len() && (self.0[limb] >> (i % 32)) & 1 == 1
    }

    /// True if any of the lowest `n` bits is set.
    pub fn any_below(&self, n: u64) -> bool {
        (0..n.min(self.bits())).any(|i| self.bit(i))
    }

    /// The value if it fits in 64 bits.
    pub fn to_u64(&self) -> Option<u64> {
        match self.0.len() {
            0 => Some(0),
            1 => Some(u64::from(self.0[0])),
            2 => Some(u64::from(self.0[0]) | (u64::from(self.0[1]) << 32)),
            _ => None,
        }
    }

    pub fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    pub fn add_small(&mut self, a: u32) {
        self.add_assign(&Big::from_u64(u64::from(a)));
    }

    pub fn add_assign(&mut self, other: &Big) {
        let mut carry = 0u64;
        for i in 0..self.0.len().max(other.0.len()) {
            if i == self.0.len() {
                self.0.push(0);
            }
            let v = u64::from(self.0[i]) + u64::from(*other.0.get(i).unwrap_or(&0)) + carry;
            self.0[i] = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    /// `self -= other`; requires `self >= other`.
    pub fn sub_assign(&mut self, other: &Big) {
        assert!(*self >= *other, "Big::sub_assign would go negative");
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let v = i64::from(self.0[i]) - i64::from(*other.0.get(i).unwrap_or(&0)) - borrow;
            borrow = i64::from(v < 0);
            self.0[i] = v.rem_euclid(1 << 32) as u32;
        }
        self.trim();
    }

    pub fn shl(&self, n: u64) -> Big {
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &limb in &self.0 {
            out.push((limb << bits) | carry);
            carry = if bits == 0 { 0 } else { limb >> (32 - bits) };
        }
        out.push(carry);
        let mut b = Big(out);
        b.trim();
        b
    }

    pub fn shr(&self, n: u64) -> Big {
        let mut out = Big::zero();
        for i in (n..self.bits()).rev() {
            out = out.shl(1);
            if self.bit(i) {
                out.add_small(1);
            }
        }
        out
    }

    /// Long division, one quotient bit at a time: `(self / d, self % d)`.
    pub fn div_rem(&self, d: &Big) -> (Big, Big) {
        assert!(!d.is_zero(), "Big::div_rem by zero");
        let mut rem = self.clone();
        let mut quot = Big::zero();
        if self.bits() < d.bits() {
            return (quot, rem);
        }
        for i in (0..=self.bits() - d.bits()).rev() {
            let shifted = d.shl(i);
            quot = quot.shl(1);
            if rem >= shifted {
                rem.sub_assign(&shifted);
                quot.add_small(1);
            }
        }
        (quot, rem)
    }

    /// Divides in place by a small divisor, returning the remainder.
    pub fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.0.iter_mut().rev() {
            let v = (rem << 32) | u64::from(*limb);
            *limb = (v / u64::from(d)) as u32;
            rem = v % u64::from(d);
        }
        self.trim();
        rem as u32
    }

    pub fn pow10(n: u64) -> Big {
        let mut b = Big::from_u64(1);
        (0..n).for_each(|_| b.mul_small(10));
        b
    }

    /// Decimal digits, "0" for zero.
    pub fn to_decimal(&self) -> String {
        let mut chunks = Vec::new();
        let mut n = self.clone();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut s = chunks.pop().map_or("0".to_string(), |c| c.to_string());
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

impl PartialOrd for Big {
    fn partial_cmp(&self, other: &Big) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Big {
    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_round_trips() {
        let a = Big::pow10(30);
        assert_eq!(a.to_decimal(), format!("1{}", "0".repeat(30)));
        let (q, r) = a.div_rem(&Big::from_u64(7));
        let mut back = q.clone();
        back.mul_small(7);
        back.add_assign(&r);
        assert_eq!(back, a);
        assert_eq!(
            r.to_u64(),
            Some(1_000_000_000_000_000_000_000_000_000_000u128.rem_euclid(7) as u64)
        );
        assert_eq!(a.shl(5).shr(5), a);
        assert_eq!(Big::from_u64(1).shl(64).bits(), 65);
        assert!(Big::from_u64(0b1000).any_below(4));
        assert!(!Big::from_u64(0b1000).any_below(3));
        let mut d = Big::from_u64(u64::MAX);
        d.sub_assign(&Big::from_u64(u64::MAX - 5));
        assert_eq!(d.to_u64(), Some(5));
        assert_eq!(Big::zero().to_decimal(), "0");
    }
}
