//! HyperLogLog in Redis 7.0's exact byte layout, so that a value moves between Redis and
//! Damselfly unchanged and PFCOUNT answers the same number on both.
//!
//! A value is a string: a 16-byte header ("HYLL", an encoding byte, three unused bytes, the
//! cached cardinality as 8 little-endian bytes whose top bit marks it stale) and 16384 registers
//! of 6 bits. Dense: the registers packed least significant bit first, 12288 bytes. Sparse: a
//! run-length code of opcodes: ZERO `00xxxxxx` (1..64 zero registers), XZERO `01xxxxxx
//! yyyyyyyy` (1..16384 zero registers), VAL `1vvvvvxx` (1..4 registers of value 1..32). A sparse
//! value turns dense when a register needs more than 32 or when an edit would grow it past
//! `hll-sparse-max-bytes`; never back.
//!
//! Edits follow Redis's hllSparseSet step by step (which opcode splits into which, the merge of
//! equal neighbours within five opcodes of the edit), because the sparse code is not canonical:
//! only the same steps give the same bytes. The estimator is Ertl's improved one (tau/sigma)
//! that Redis 7.0 uses, computed in the same floating-point order.
//!
//! Every input is untrusted (a client may SET any bytes, RESTORE will bring more): every walk
//! bounds-checks and reports `HllError::Corrupt`, never panics. Where Redis reads one byte past
//! the end (an XZERO cut in half reads the string's NUL terminator), reads here see a zero too;
//! an edit at such an opcode is refused as corrupt (Redis would write past its length).

/// Register-index bits (Redis's HLL_P).
pub const P: u32 = 14;
/// Bits of the hash left for the run of zeros (HLL_Q).
const Q: u32 = 64 - P;
pub const REGISTERS: usize = 1 << P;
const REGISTER_BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << REGISTER_BITS) - 1;
pub const HEADER_BYTES: usize = 16;
pub const DENSE_BYTES: usize = HEADER_BYTES + (REGISTERS * REGISTER_BITS).div_ceil(8);
const MAGIC: &[u8; 4] = b"HYLL";
const ENCODING_AT: usize = 4;
const CARD_AT: usize = 8;
const ENCODING_DENSE: u8 = 0;
const ENCODING_SPARSE: u8 = 1;
/// The top bit of the cardinality's last byte: set when the cached value is stale.
const CARD_STALE_BIT: u8 = 0x80;
const ZERO_LEN_MAX: usize = 64;
const XZERO_LEN_MAX: usize = 16384;
const VAL_VALUE_MAX: u8 = 32;
const VAL_LEN_MAX: usize = 4;
/// How many opcodes after an edit Redis tries to merge with their neighbours.
const MERGE_SCAN_OPCODES: usize = 5;
/// Redis's `hll-sparse-max-bytes` default.
pub const SPARSE_MAX_BYTES_DEFAULT: u64 = 3000;
/// The seed of MurmurHash64A for elements (HLL_HASH_SEED).
const HASH_SEED: u64 = 0xadc8_3b19;
/// 1 / (2 ln 2): Ertl's alpha for an infinite register count.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const _: () = assert!(DENSE_BYTES == 12304);
const _: () = assert!(XZERO_LEN_MAX == REGISTERS);
const _: () = assert!((Q + 1) as u8 <= REGISTER_MAX);

/// Why a string is not a usable HyperLogLog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HllError {
    /// Not an HLL at all (Redis: "WRONGTYPE Key is not a valid HyperLogLog string value.").
    NotHll,
    /// An HLL header over registers that do not add up (Redis: "INVALIDOBJ Corrupted HLL").
    Corrupt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Dense,
    Sparse,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Dense => "dense",
            Encoding::Sparse => "sparse",
        }
    }
}

/// Redis's isHLLObjectOrReply for a byte string: the header's magic and encoding, and the
/// exact length of a dense value. (An integer-encoded string is never an HLL: callers check.)
pub fn check(value: &[u8]) -> Result<Encoding, HllError> {
    if value.len() < HEADER_BYTES || &value[..4] != MAGIC {
        return Err(HllError::NotHll);
    }
    match value[ENCODING_AT] {
        ENCODING_DENSE if value.len() == DENSE_BYTES => Ok(Encoding::Dense),
        ENCODING_SPARSE => Ok(Encoding::Sparse),
        _ => Err(HllError::NotHll),
    }
}

/// A new, empty HLL: sparse, one XZERO over every register, a cached cardinality of 0.
pub fn new_sparse() -> Vec<u8> {
    let mut value = vec![0u8; HEADER_BYTES];
    value[..4].copy_from_slice(MAGIC);
    value[ENCODING_AT] = ENCODING_SPARSE;
    push_zero_run(&mut value, REGISTERS);
    value
}

/// The cached cardinality, when it is not stale.
pub fn cached_card(value: &[u8]) -> Option<u64> {
    let card: [u8; 8] = value[CARD_AT..CARD_AT + 8].try_into().expect("8 bytes");
    (card[7] & CARD_STALE_BIT == 0).then(|| u64::from_le_bytes(card))
}

pub fn set_cached_card(value: &mut [u8], card: u64) {
    value[CARD_AT..CARD_AT + 8].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate_cache(value: &mut [u8]) {
    value[CARD_AT + 7] |= CARD_STALE_BIT;
}

/// MurmurHash64A (Austin Appleby) as Redis runs it: 8-byte blocks read little-endian.
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut blocks = key.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().expect("8-byte block"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the length of its run of zeros plus one (hllPatLen).
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, HASH_SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // A sentinel bit bounds the run at Q zeros.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------------------------
// Registers and opcodes.

fn dense_get(registers: &[u8], index: usize) -> u8 {
    let bit = index * REGISTER_BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let low = u16::from(registers[byte]);
    let high = u16::from(registers.get(byte + 1).copied().unwrap_or(0));
    (((low | (high << 8)) >> shift) as u8) & REGISTER_MAX
}

fn dense_set(registers: &mut [u8], index: usize, value: u8) {
    let bit = index * REGISTER_BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let mask = u16::from(REGISTER_MAX) << shift;
    let bits = u16::from(value & REGISTER_MAX) << shift;
    registers[byte] = (registers[byte] & !(mask as u8)) | bits as u8;
    if let Some(next) = registers.get_mut(byte + 1) {
        *next = (*next & !((mask >> 8) as u8)) | (bits >> 8) as u8;
    }
}

/// One sparse opcode as read at some position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val { value: u8, len: usize },
}

impl Op {
    /// The opcode at `at`; the byte after the end reads as zero (Redis's NUL terminator).
    fn read(sparse: &[u8], at: usize) -> Op {
        let b = sparse[at];
        if b & 0xc0 == 0 {
            Op::Zero(usize::from(b & 0x3f) + 1)
        } else if b & 0xc0 == 0x40 {
            let low = usize::from(sparse.get(at + 1).copied().unwrap_or(0));
            Op::XZero(((usize::from(b & 0x3f) << 8) | low) + 1)
        } else {
            Op::Val {
                value: ((b >> 2) & 0x1f) + 1,
                len: usize::from(b & 0x3) + 1,
            }
        }
    }

    fn bytes(self) -> usize {
        match self {
            Op::XZero(_) => 2,
            Op::Zero(_) | Op::Val { .. } => 1,
        }
    }

    fn span(self) -> usize {
        match self {
            Op::Zero(len) | Op::XZero(len) | Op::Val { len, .. } => len,
        }
    }
}

fn val_byte(value: u8, len: usize) -> u8 {
    debug_assert!((1..=VAL_VALUE_MAX).contains(&value) && (1..=VAL_LEN_MAX).contains(&len));
    0x80 | ((value - 1) << 2) | (len as u8 - 1)
}

/// A run of `len` zero registers as one opcode: ZERO when it fits, else XZERO.
fn push_zero_run(out: &mut Vec<u8>, len: usize) {
    debug_assert!((1..=XZERO_LEN_MAX).contains(&len));
    if len > ZERO_LEN_MAX {
        let l = len - 1;
        out.push(0x40 | (l >> 8) as u8);
        out.push((l & 0xff) as u8);
    } else {
        out.push((len - 1) as u8);
    }
}

/// Calls `visit(first_register, op)` for each opcode of the sparse body, in order.
fn walk(value: &[u8], mut visit: impl FnMut(usize, Op)) {
    let (mut at, mut first) = (HEADER_BYTES, 0usize);
    while at < value.len() {
        let op = Op::read(value, at);
        visit(first, op);
        first = first.saturating_add(op.span());
        at += op.bytes();
    }
}

// ---------------------------------------------------------------------------------------------
// Conversions, reads and merges.

/// Redis's hllSparseToDense: true when it converted, false when already dense; `Corrupt` (and
/// the value unchanged) when the opcodes do not cover exactly 16384 registers.
pub fn to_dense(value: &mut Vec<u8>) -> Result<bool, HllError> {
    if check(value)? == Encoding::Dense {
        return Ok(false);
    }
    let mut dense = vec![0u8; DENSE_BYTES];
    dense[..HEADER_BYTES].copy_from_slice(&value[..HEADER_BYTES]);
    dense[ENCODING_AT] = ENCODING_DENSE;
    let (mut index, mut overflow) = (0usize, false);
    walk(value, |_, op| {
        if overflow {
            return;
        }
        match op {
            Op::Zero(len) | Op::XZero(len) => index = index.saturating_add(len),
            Op::Val { value, len } => {
                if index + len > REGISTERS {
                    overflow = true;
                    return;
                }
                for i in index..index + len {
                    dense_set(&mut dense[HEADER_BYTES..], i, value);
                }
                index += len;
            }
        }
    });
    if overflow || index != REGISTERS {
        return Err(HllError::Corrupt);
    }
    *value = dense;
    Ok(true)
}

/// Folds the registers of `value` into `max` (register-wise maximum, Redis's hllMerge).
pub fn merge_into(max: &mut [u8; REGISTERS], value: &[u8]) -> Result<(), HllError> {
    match check(value)? {
        Encoding::Dense => {
            let registers = &value[HEADER_BYTES..];
            for (i, slot) in max.iter_mut().enumerate() {
                *slot = (*slot).max(dense_get(registers, i));
            }
            Ok(())
        }
        Encoding::Sparse => {
            let (mut index, mut overflow) = (0usize, false);
            walk(value, |_, op| {
                if overflow {
                    return;
                }
                match op {
                    Op::Zero(len) | Op::XZero(len) => index = index.saturating_add(len),
                    Op::Val { value, len } => {
                        if index + len > REGISTERS {
                            overflow = true;
                            return;
                        }
                        for slot in &mut max[index..index + len] {
                            *slot = (*slot).max(value);
                        }
                        index += len;
                    }
                }
            });
            if overflow || index != REGISTERS {
                return Err(HllError::Corrupt);
            }
            Ok(())
        }
    }
}

/// How many registers hold each value (Redis's reghisto; dense registers reach 63).
type Histogram = [u64; 64];

/// The estimate of an HLL value (hllCount); `Corrupt` when a sparse body does not cover
/// exactly 16384 registers.
pub fn count(value: &[u8]) -> Result<u64, HllError> {
    let mut histogram: Histogram = [0; 64];
    match check(value)? {
        Encoding::Dense => {
            let registers = &value[HEADER_BYTES..];
            for i in 0..REGISTERS {
                histogram[usize::from(dense_get(registers, i))] += 1;
            }
        }
        Encoding::Sparse => {
            let mut index = 0usize;
            walk(value, |_, op| {
                let (register, len) = match op {
                    Op::Zero(len) | Op::XZero(len) => (0, len),
                    Op::Val { value, len } => (usize::from(value), len),
                };
                index = index.saturating_add(len);
                histogram[register] += len as u64;
            });
            if index != REGISTERS {
                return Err(HllError::Corrupt);
            }
        }
    }
    Ok(estimate(&histogram))
}

/// The estimate of merged registers (PFCOUNT of several keys).
pub fn count_registers(registers: &[u8; REGISTERS]) -> u64 {
    let mut histogram: Histogram = [0; 64];
    for &r in registers {
        histogram[usize::from(r & REGISTER_MAX)] += 1;
    }
    estimate(&histogram)
}

/// Ertl's sigma, summed until it stops changing (hllSigma).
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0f64, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

/// Ertl's tau (hllTau).
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0f64, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powf(2.0) * y;
        if z == before {
            return z / 3.0;
        }
    }
}

/// Ertl's improved estimator over the register histogram, in Redis's operation order.
fn estimate(histogram: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - histogram[q + 1] as f64) / m);
    for j in (1..=q).rev() {
        z += histogram[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histogram[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// Every register of a dense value (PFDEBUG GETREG).
pub fn dense_registers(value: &[u8]) -> Vec<u8> {
    assert_eq!(
        value.len(),
        DENSE_BYTES,
        "dense_registers of a sparse value"
    );
    (0..REGISTERS)
        .map(|i| dense_get(&value[HEADER_BYTES..], i))
        .collect()
}

/// The opcodes of a sparse value as PFDEBUG DECODE prints them ("Z:8436 v:1,1 z:3").
pub fn decode_sparse(value: &[u8]) -> String {
    let mut words = Vec::new();
    walk(value, |_, op| {
        words.push(match op {
            Op::Zero(len) => format!("z:{len}"),
            Op::XZero(len) => format!("Z:{len}"),
            Op::Val { value, len } => format!("v:{value},{len}"),
        })
    });
    words.join(" ")
}

// ---------------------------------------------------------------------------------------------
// Writes.

/// Adds an element (hllAdd): true when a register grew. The cache is the caller's: PFADD
/// invalidates it once for all its elements.
pub fn add(value: &mut Vec<u8>, element: &[u8], sparse_max_bytes: u64) -> Result<bool, HllError> {
    let (index, count) = pattern(element);
    set_register(value, index, count, sparse_max_bytes)
}

/// Raises register `index` to `count` if it is lower; true when it did.
pub fn set_register(
    value: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max_bytes: u64,
) -> Result<bool, HllError> {
    assert!(index < REGISTERS && count <= REGISTER_MAX);
    match check(value)? {
        Encoding::Dense => {
            let registers = &mut value[HEADER_BYTES..];
            if dense_get(registers, index) >= count {
                return Ok(false);
            }
            dense_set(registers, index, count);
            Ok(true)
        }
        Encoding::Sparse => sparse_set(value, index, count, sparse_max_bytes),
    }
}

/// Converts to dense and sets the register (hllSparseSet's `promote`).
fn promote(value: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, HllError> {
    to_dense(value)?;
    let registers = &mut value[HEADER_BYTES..];
    // Redis asserts the register was lower; a body that passed the conversion always is.
    if dense_get(registers, index) >= count {
        return Err(HllError::Corrupt);
    }
    dense_set(registers, index, count);
    Ok(true)
}

/// Redis's hllSparseSet: find the opcode covering `index`, rewrite it as up to three opcodes
/// (or in place), then merge equal VAL neighbours near the edit.
fn sparse_set(
    value: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max_bytes: u64,
) -> Result<bool, HllError> {
    if count > VAL_VALUE_MAX {
        return promote(value, index, count);
    }
    let (mut at, mut first, mut prev) = (HEADER_BYTES, 0usize, None);
    let mut found = None;
    while at < value.len() {
        let op = Op::read(value, at);
        if index < first.saturating_add(op.span()) {
            found = Some(op);
            break;
        }
        prev = Some(at);
        at += op.bytes();
        first = first.saturating_add(op.span());
    }
    let Some(op) = found else {
        return Err(HllError::Corrupt);
    };
    if at + op.bytes() > value.len() {
        // An XZERO cut in half by the end of the string (see the module doc).
        return Err(HllError::Corrupt);
    }
    match op {
        Op::Val { value: old, .. } if old >= count => return Ok(false),
        Op::Val { len: 1, .. } | Op::Zero(1) => value[at] = val_byte(count, 1),
        Op::Zero(_) | Op::XZero(_) | Op::Val { .. } => {
            let last = first + op.span() - 1;
            let mut seq = Vec::with_capacity(5);
            match op {
                Op::Zero(_) | Op::XZero(_) => {
                    if index != first {
                        push_zero_run(&mut seq, index - first);
                    }
                    seq.push(val_byte(count, 1));
                    if index != last {
                        push_zero_run(&mut seq, last - index);
                    }
                }
                Op::Val { value: old, .. } => {
                    if index != first {
                        seq.push(val_byte(old, index - first));
                    }
                    seq.push(val_byte(count, 1));
                    if index != last {
                        seq.push(val_byte(old, last - index));
                    }
                }
            }
            let grows = seq.len() > op.bytes();
            let new_len = (value.len() + seq.len() - op.bytes()) as u64;
            if grows && new_len > sparse_max_bytes {
                return promote(value, index, count);
            }
            value.splice(at..at + op.bytes(), seq);
        }
    }
    merge_neighbours(value, prev.unwrap_or(HEADER_BYTES));
    Ok(true)
}

/// Merges adjacent VAL opcodes of equal value while their run fits one opcode, scanning at most
/// five opcodes from `at` (the opcode before the edit).
fn merge_neighbours(value: &mut Vec<u8>, mut at: usize) {
    let mut scans_left = MERGE_SCAN_OPCODES;
    while at < value.len() && scans_left > 0 {
        scans_left -= 1;
        match Op::read(value, at) {
            Op::XZero(_) => at += 2,
            Op::Zero(_) => at += 1,
            Op::Val { value: v1, len: l1 } => {
                if at + 1 < value.len() {
                    if let Op::Val { value: v2, len: l2 } = Op::read(value, at + 1) {
                        if v1 == v2 && l1 + l2 <= VAL_LEN_MAX {
                            value[at + 1] = val_byte(v1, l1 + l2);
                            value.remove(at);
                            // Try the merged opcode against its right neighbour too.
                            continue;
                        }
                    }
                }
                at += 1;
            }
        }
    }
}

/// Redis's PFSELFTEST: registers keep what is written without touching their neighbours, a
/// sparse and a dense HLL fed the same elements agree, the sparse one stays sparse while small,
/// and the error stays within six standard errors at each power of ten up to `elements_max`.
/// `random` supplies register values and the elements' seed.
pub fn self_test(
    register_cycles: usize,
    elements_max: u64,
    sparse_max_bytes: u64,
    mut random: impl FnMut() -> u64,
) -> Result<(), String> {
    let mut dense = new_sparse();
    to_dense(&mut dense).expect("a new HLL converts");
    let mut expected = vec![0u8; REGISTERS];
    for _ in 0..register_cycles {
        for (i, slot) in expected.iter_mut().enumerate() {
            *slot = (random() as u8) & REGISTER_MAX;
            dense_set(&mut dense[HEADER_BYTES..], i, *slot);
        }
        for (i, &want) in expected.iter().enumerate() {
            let got = dense_get(&dense[HEADER_BYTES..], i);
            if got != want {
                return Err(format!(
                    "TESTFAILED Register error, counter {i} should be {want} but is {got}"
                ));
            }
        }
    }
    let mut dense = new_sparse();
    to_dense(&mut dense).expect("a new HLL converts");
    let mut sparse = new_sparse();
    let relative_error = 1.04 / (REGISTERS as f64).sqrt();
    let seed = random();
    let mut checkpoint = 1u64;
    for j in 1..=elements_max {
        let element = (j ^ seed).to_le_bytes();
        add(&mut dense, &element, sparse_max_bytes).map_err(|e| format!("{e:?}"))?;
        add(&mut sparse, &element, sparse_max_bytes).map_err(|e| format!("{e:?}"))?;
        if j != checkpoint {
            continue;
        }
        if j < sparse_max_bytes / 2 && check(&sparse) != Ok(Encoding::Sparse) {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = count(&dense).map_err(|e| format!("{e:?}"))?;
        if count(&sparse).map_err(|e| format!("{e:?}"))? != card {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let error = checkpoint.abs_diff(card);
        let mut error_max = (relative_error * 6.0 * checkpoint as f64).ceil() as u64;
        if j == 10 {
            error_max = 1;
        }
        if error > error_max {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{error}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes redis-server 7.0.15 stored after `PFADD h` then `PFADD h a b c` (GET h).
    const REDIS_ABC: &[u8] = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\
        \x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a";

    fn with(elements: &[&[u8]]) -> Vec<u8> {
        let mut value = new_sparse();
        for e in elements {
            add(&mut value, e, SPARSE_MAX_BYTES_DEFAULT).unwrap();
        }
        value
    }

    #[test]
    fn matches_redis_bytes_and_count() {
        let mut value = with(&[b"a", b"b", b"c"]);
        invalidate_cache(&mut value);
        assert_eq!(value, REDIS_ABC);
        assert_eq!(count(&value), Ok(3));
        assert_eq!(
            decode_sparse(&value),
            "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
        );
    }

    #[test]
    fn new_hll_is_one_xzero_with_a_valid_zero_cache() {
        let value = new_sparse();
        assert_eq!(&value[HEADER_BYTES..], &[0x7f, 0xff]);
        assert_eq!(cached_card(&value), Some(0));
        assert_eq!(count(&value), Ok(0));
    }

    #[test]
    fn dense_registers_round_trip_without_touching_neighbours() {
        let mut registers = vec![0u8; DENSE_BYTES - HEADER_BYTES];
        for i in 0..REGISTERS {
            dense_set(&mut registers, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&registers, i), (i % 64) as u8, "register {i}");
        }
    }

    #[test]
    fn sparse_and_dense_agree_and_promotion_happens_at_the_limit() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        for n in 0..20_000u32 {
            let e = n.to_string();
            let a = add(&mut sparse, e.as_bytes(), SPARSE_MAX_BYTES_DEFAULT).unwrap();
            let b = add(&mut dense, e.as_bytes(), SPARSE_MAX_BYTES_DEFAULT).unwrap();
            assert_eq!(a, b, "element {n}");
            if check(&sparse) == Ok(Encoding::Sparse) {
                assert!(sparse.len() as u64 <= SPARSE_MAX_BYTES_DEFAULT);
            }
        }
        assert_eq!(check(&sparse), Ok(Encoding::Dense));
        assert_eq!(sparse, dense);
        let card = count(&dense).unwrap();
        assert!(card.abs_diff(20_000) < 20_000 / 50, "estimate {card}");
    }

    #[test]
    fn corrupt_sparse_bodies_are_refused() {
        let mut short = new_sparse();
        short.truncate(HEADER_BYTES + 1);
        short.push(0x00);
        assert_eq!(count(&short), Err(HllError::Corrupt));
        let mut merged = [0u8; REGISTERS];
        assert_eq!(merge_into(&mut merged, &short), Err(HllError::Corrupt));
        assert_eq!(to_dense(&mut short.clone()), Err(HllError::Corrupt));
        assert_eq!(check(b"HYLL\x00"), Err(HllError::NotHll));
        assert_eq!(
            check(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0"),
            Err(HllError::NotHll)
        );
    }

    /// Random bytes behind a valid header never panic any entry point.
    #[test]
    fn random_corrupt_bodies_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..3000 {
            let len = (next() % 64) as usize;
            let mut value = new_sparse();
            value.truncate(HEADER_BYTES);
            if round % 7 == 0 {
                value[ENCODING_AT] = ENCODING_DENSE;
            }
            value.extend((0..len).map(|_| next() as u8));
            exercise(&value, &mut next);
        }
    }

    /// Every decoder entry point on `value`; results are whatever they are, never a panic.
    pub(crate) fn exercise(value: &[u8], next: &mut impl FnMut() -> u64) {
        let _ = check(value);
        let _ = cached_card(value.get(..HEADER_BYTES).unwrap_or(&[0; HEADER_BYTES]));
        let _ = count(value);
        let mut max = [0u8; REGISTERS];
        let _ = merge_into(&mut max, value);
        if check(value) == Ok(Encoding::Sparse) {
            let _ = decode_sparse(value);
        }
        let mut copy = value.to_vec();
        let _ = to_dense(&mut copy);
        let mut copy = value.to_vec();
        for _ in 0..4 {
            let element = next().to_le_bytes();
            let _ = add(&mut copy, &element, 200);
        }
    }

    #[test]
    fn self_test_passes_at_small_size() {
        let mut state = 7u64;
        let random = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 11
        };
        assert_eq!(
            self_test(3, 100_000, SPARSE_MAX_BYTES_DEFAULT, random),
            Ok(())
        );
    }
}
