//! HyperLogLog commands: PFADD PFCOUNT PFMERGE, on string values in Redis 7.0's byte layout
//! (`hyperloglog.c`), so that GET of an HLL answers Redis's exact bytes.
//!
//! The model keeps no HLL state of its own: each command decodes the string into a header and
//! either 16384 plain registers (dense) or a list of sparse opcodes, edits that, and encodes it
//! back. The sparse edit follows Redis's steps on the opcode list (split the covering opcode,
//! merge equal VAL neighbours within five opcodes, turn dense past `hll-sparse-max-bytes` or a
//! register over 32), because the sparse code is not canonical and only the same steps give
//! the same bytes. Corrupt values (opcodes that do not cover 16384 registers) are refused
//! whole; the engine reproduces Redis's partial effects there, which the simulator never
//! produces (its workload writes no hand-made HLL strings).

use crate::model::Ctx;
use crate::resp::Resp;

const REGISTERS: usize = 16384;
const HEADER_BYTES: usize = 16;
const DENSE_BYTES: usize = HEADER_BYTES + REGISTERS * 6 / 8;
/// Redis's `hll-sparse-max-bytes` default (the model does not follow CONFIG SET).
const SPARSE_MAX_BYTES: usize = 3000;
const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Zero(usize),
    XZero(usize),
    /// An XZERO whose second byte is past the end (APPEND can make one): Redis reads its NUL
    /// terminator there, a zero; it is kept as its one byte.
    XZeroCut(usize),
    Val(u8, usize),
}

impl Op {
    fn len(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::XZeroCut(n) | Op::Val(_, n) => n,
        }
    }
    fn bytes(self) -> usize {
        if matches!(self, Op::XZero(_)) {
            2
        } else {
            1
        }
    }
}

/// A zero run as Redis writes it: ZERO up to 64 registers, XZERO beyond.
fn zero_run(len: usize) -> Op {
    if len > 64 {
        Op::XZero(len)
    } else {
        Op::Zero(len)
    }
}

#[derive(Clone, Debug)]
enum Registers {
    Dense(Vec<u8>),
    Sparse(Vec<Op>),
}

#[derive(Clone, Debug)]
struct Hll {
    header: [u8; HEADER_BYTES],
    registers: Registers,
}

/// `isHLLObjectOrReply`, then the registers (`Err` with Redis's error).
fn decode(bytes: &[u8]) -> Result<Hll, Resp> {
    if bytes.len() < HEADER_BYTES || &bytes[..4] != b"HYLL" {
        return Err(Resp::err(NOT_HLL));
    }
    let header: [u8; HEADER_BYTES] = bytes[..HEADER_BYTES].try_into().expect("16 bytes");
    let body = &bytes[HEADER_BYTES..];
    let registers = match bytes[4] {
        0 if bytes.len() == DENSE_BYTES => {
            let bit = |i: usize| (body[i / 8] >> (i % 8)) & 1;
            Registers::Dense(
                (0..REGISTERS)
                    .map(|r| (0..6).map(|k| bit(r * 6 + k) << k).sum())
                    .collect(),
            )
        }
        1 => {
            let mut ops = Vec::new();
            let mut i = 0;
            while i < body.len() {
                let b = body[i];
                let op = match b >> 6 {
                    0 => Op::Zero(usize::from(b & 63) + 1),
                    1 => match body.get(i + 1) {
                        Some(&low) => Op::XZero(usize::from(b & 63) * 256 + usize::from(low) + 1),
                        None => Op::XZeroCut(usize::from(b & 63) * 256 + 1),
                    },
                    _ => Op::Val(((b >> 2) & 31) + 1, usize::from(b & 3) + 1),
                };
                i += op.bytes();
                ops.push(op);
            }
            // Not checked here: Redis walks the opcodes only as far as each command needs, so
            // a body that does not add up fails only the commands that read past it.
            Registers::Sparse(ops)
        }
        _ => return Err(Resp::err(NOT_HLL)),
    };
    Ok(Hll { header, registers })
}

fn encode(hll: &Hll) -> Vec<u8> {
    let mut out = hll.header.to_vec();
    match &hll.registers {
        Registers::Dense(regs) => {
            out[4] = 0;
            let mut body = vec![0u8; REGISTERS * 6 / 8];
            for (r, &v) in regs.iter().enumerate() {
                for k in 0..6 {
                    if (v >> k) & 1 == 1 {
                        let bit = r * 6 + k;
                        body[bit / 8] |= 1 << (bit % 8);
                    }
                }
            }
            out.extend(body);
        }
        Registers::Sparse(ops) => {
            out[4] = 1;
            for op in ops {
                match *op {
                    Op::Zero(n) => out.push((n - 1) as u8),
                    Op::XZero(n) => out.extend([0x40 | ((n - 1) >> 8) as u8, (n - 1) as u8]),
                    Op::XZeroCut(n) => out.push(0x40 | ((n - 1) >> 8) as u8),
                    Op::Val(v, n) => out.push(0x80 | ((v - 1) << 2) | (n - 1) as u8),
                }
            }
        }
    }
    out
}

fn sparse_bytes(ops: &[Op]) -> usize {
    HEADER_BYTES + ops.iter().map(|o| o.bytes()).sum::<usize>()
}

/// Every register of a sparse body; corrupt unless the opcodes cover exactly 16384.
fn to_dense(ops: &[Op]) -> Result<Vec<u8>, Resp> {
    let mut regs = Vec::with_capacity(REGISTERS);
    for op in ops {
        let v = if let Op::Val(v, _) = op { *v } else { 0 };
        regs.extend(std::iter::repeat_n(v, op.len()));
    }
    if regs.len() != REGISTERS {
        return Err(Resp::err(CORRUPT));
    }
    Ok(regs)
}

impl Hll {
    fn new() -> Hll {
        let mut header = [0u8; HEADER_BYTES];
        header[..4].copy_from_slice(b"HYLL");
        header[4] = 1;
        Hll {
            header,
            registers: Registers::Sparse(vec![Op::XZero(REGISTERS)]),
        }
    }

    fn dense(&mut self) -> Result<&mut Vec<u8>, Resp> {
        if let Registers::Sparse(ops) = &self.registers {
            self.registers = Registers::Dense(to_dense(ops)?);
        }
        match &mut self.registers {
            Registers::Dense(regs) => Ok(regs),
            Registers::Sparse(_) => unreachable!("just made dense"),
        }
    }

    fn is_dense(&self) -> bool {
        matches!(self.registers, Registers::Dense(_))
    }

    /// Raises register `index` to `count`; true when it grew.
    fn raise(&mut self, index: usize, count: u8) -> Result<bool, Resp> {
        let ops = match &mut self.registers {
            Registers::Dense(regs) => {
                let grew = regs[index] < count;
                regs[index] = regs[index].max(count);
                return Ok(grew);
            }
            Registers::Sparse(ops) => ops,
        };
        if count > 32 {
            return self.promote(index, count);
        }
        let (mut at, mut first) = (0, 0);
        while first + ops.get(at).ok_or_else(|| Resp::err(CORRUPT))?.len() <= index {
            first += ops[at].len();
            at += 1;
        }
        let op = ops[at];
        let last = first + op.len() - 1;
        let replacement = match op {
            Op::Val(v, _) if v >= count => return Ok(false),
            // Redis would write past the string's end here; the engine refuses, so do we.
            Op::XZeroCut(_) => return Err(Resp::err(CORRUPT)),
            Op::Val(_, 1) | Op::Zero(1) => vec![Op::Val(count, 1)],
            Op::Zero(_) | Op::XZero(_) => {
                let mut seq = Vec::new();
                if index > first {
                    seq.push(zero_run(index - first));
                }
                seq.push(Op::Val(count, 1));
                if index < last {
                    seq.push(zero_run(last - index));
                }
                seq
            }
            Op::Val(v, _) => {
                let mut seq = Vec::new();
                if index > first {
                    seq.push(Op::Val(v, index - first));
                }
                seq.push(Op::Val(count, 1));
                if index < last {
                    seq.push(Op::Val(v, last - index));
                }
                seq
            }
        };
        let new_bytes: usize = replacement.iter().map(|o| o.bytes()).sum();
        if new_bytes > op.bytes() && sparse_bytes(ops) - op.bytes() + new_bytes > SPARSE_MAX_BYTES {
            return self.promote(index, count);
        }
        ops.splice(at..=at, replacement);
        // Merge equal VAL neighbours, looking at five opcodes from the one before the edit.
        let mut k = at.saturating_sub(1);
        for _ in 0..5 {
            if k >= ops.len() {
                break;
            }
            if let (Op::Val(v1, n1), Some(&Op::Val(v2, n2))) = (ops[k], ops.get(k + 1)) {
                if v1 == v2 && n1 + n2 <= 4 {
                    ops[k] = Op::Val(v1, n1 + n2);
                    ops.remove(k + 1);
                    continue;
                }
            }
            k += 1;
        }
        Ok(true)
    }

    fn promote(&mut self, index: usize, count: u8) -> Result<bool, Resp> {
        let regs = self.dense()?;
        regs[index] = count;
        Ok(true)
    }

    fn registers(&self) -> Result<Vec<u8>, Resp> {
        match &self.registers {
            Registers::Dense(regs) => Ok(regs.clone()),
            Registers::Sparse(ops) => to_dense(ops),
        }
    }

    fn cached(&self) -> Option<u64> {
        (self.header[15] & 0x80 == 0)
            .then(|| u64::from_le_bytes(self.header[8..16].try_into().expect("8 bytes")))
    }
}

/// MurmurHash64A, seed 0xadc83b19, 8-byte words little-endian (Redis's hash for elements).
fn murmur(data: &[u8]) -> u64 {
    const M: u64 = 0xc6a4a7935bd1e995;
    let mut h: u64 = 0xadc83b19 ^ (data.len() as u64).wrapping_mul(M);
    let whole = data.len() / 8 * 8;
    for word in data[..whole].chunks(8) {
        let mut k = word
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        k = k.wrapping_mul(M);
        k ^= k >> 47;
        k = k.wrapping_mul(M);
        h = (h ^ k).wrapping_mul(M);
    }
    let tail = &data[whole..];
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 47;
    h = h.wrapping_mul(M);
    h ^ (h >> 47)
}

/// The register and run length an element sets (Redis's hllPatLen).
fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur(element);
    let mut rest = hash >> 14;
    let mut count = 1u8;
    while count <= 50 && rest & 1 == 0 {
        count += 1;
        rest >>= 1;
    }
    ((hash % REGISTERS as u64) as usize, count)
}

/// Ertl's estimator as Redis 7.0 computes it (hllCount with hllTau and hllSigma).
fn estimate(registers: &[u8]) -> u64 {
    let mut histogram = [0u32; 64];
    for &r in registers {
        histogram[usize::from(r)] += 1;
    }
    let m = REGISTERS as f64;
    let tau = |mut x: f64| {
        if x == 0.0 || x == 1.0 {
            return 0.0;
        }
        let (mut y, mut z) = (1.0, 1.0 - x);
        loop {
            x = x.sqrt();
            let prev = z;
            y *= 0.5;
            z -= (1.0 - x).powf(2.0) * y;
            if prev == z {
                return z / 3.0;
            }
        }
    };
    let sigma = |mut x: f64| {
        if x == 1.0 {
            return f64::INFINITY;
        }
        let (mut y, mut z) = (1.0, x);
        loop {
            x *= x;
            let prev = z;
            z += x * y;
            y += y;
            if prev == z {
                return z;
            }
        }
    };
    let mut z = m * tau((m - f64::from(histogram[51])) / m);
    for j in (1..=50).rev() {
        z += f64::from(histogram[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    (0.721_347_520_444_481_7 * m * m / z).round() as u64
}

fn read(cx: &Ctx, key: &[u8]) -> Result<Option<Hll>, Resp> {
    match cx.string(key)? {
        None => Ok(None),
        // An integer-encoded string is shorter than a header, so this refuses it too.
        Some(s) => decode(&s).map(Some),
    }
}

/// PFADD key [element ...]
pub(crate) fn pfadd(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let key = &argv[1];
    let existing = tri!(read(cx, key));
    let created = existing.is_none();
    let mut hll = existing.unwrap_or_else(Hll::new);
    let mut updated = created;
    for element in &argv[2..] {
        let (index, count) = pattern(element);
        match hll.raise(index, count) {
            Ok(grew) => updated |= grew,
            Err(corrupt) => {
                // Redis keeps the registers raised before the error.
                cx.overwrite_string(key, encode(&hll));
                return corrupt;
            }
        }
    }
    if updated {
        hll.header[15] |= 0x80;
        cx.overwrite_string(key, encode(&hll));
    }
    Resp::Int(i64::from(updated))
}

/// PFCOUNT key [key ...]
pub(crate) fn pfcount(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    if argv.len() > 2 {
        let mut max = vec![0u8; REGISTERS];
        for key in &argv[1..] {
            if let Some(hll) = tri!(read(cx, key)) {
                for (m, r) in max.iter_mut().zip(tri!(hll.registers())) {
                    *m = (*m).max(r);
                }
            }
        }
        return Resp::Int(estimate(&max) as i64);
    }
    let Some(mut hll) = tri!(read(cx, &argv[1])) else {
        return Resp::Int(0);
    };
    if let Some(card) = hll.cached() {
        return Resp::Int(card as i64);
    }
    let card = estimate(&tri!(hll.registers()));
    hll.header[8..16].copy_from_slice(&card.to_le_bytes());
    cx.overwrite_string(&argv[1], encode(&hll));
    Resp::Int(card as i64)
}

/// PFMERGE destkey [sourcekey ...]
pub(crate) fn pfmerge(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let mut max = vec![0u8; REGISTERS];
    let mut any_dense = false;
    for key in &argv[1..] {
        if let Some(hll) = tri!(read(cx, key)) {
            any_dense |= hll.is_dense();
            for (m, r) in max.iter_mut().zip(tri!(hll.registers())) {
                *m = (*m).max(r);
            }
        }
    }
    let mut dst = tri!(read(cx, &argv[1])).unwrap_or_else(Hll::new);
    if any_dense {
        tri!(dst.dense());
    }
    for (index, &count) in max.iter().enumerate() {
        if count > 0 {
            tri!(dst.raise(index, count));
        }
    }
    dst.header[15] |= 0x80;
    cx.overwrite_string(&argv[1], encode(&dst));
    Resp::Simple("OK".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value redis-server 7.0.15 stores after PFADD h a b c (GET h).
    #[test]
    fn three_elements_match_redis_bytes() {
        let mut hll = Hll::new();
        for e in [b"a", b"b", b"c"] {
            let (index, count) = pattern(e);
            hll.raise(index, count).expect("a new HLL");
        }
        hll.header[15] |= 0x80;
        let want: &[u8] =
            b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a";
        assert_eq!(encode(&hll), want);
        assert_eq!(estimate(&hll.registers().expect("valid")), 3);
        let round = decode(&encode(&hll)).expect("valid");
        assert_eq!(encode(&round), want);
    }
}
