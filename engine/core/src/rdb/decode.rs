//! Reading values: every type and encoding of RDB versions 1 through 12, built into our own
//! encodings under our thresholds.
//!
//! `Input` is a cursor over the bytes at hand. Running out of bytes is `RdbError::Truncated`
//! (the file reader then waits for more; a DUMP payload is bad); anything else wrong is
//! `Corrupt`. No length is trusted: bytes are checked to be there before they are taken, and
//! counts only bound a capacity by the bytes left.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::encode::{
    CONTAINER_PACKED, CONTAINER_PLAIN, ENC_INT16, ENC_INT32, ENC_INT8, ENC_LZF,
    STREAM_FLAG_DELETED, STREAM_FLAG_SAME_FIELDS,
};
use super::listpack::Elem;
use super::{intset, listpack, lzf, types, ziplist, zipmap, Crc64, RdbError, RDB_VERSION};
use crate::db::stream::{Consumer, Group, Pending, StreamId};
use crate::db::{
    Collection, CollectionLimits, End, HashValue, ListValue, SetValue, StrValue, StreamValue,
    Value, ZSetValue,
};
use crate::numfmt::parse_strtod;

/// What loading needs besides the bytes: our encoding thresholds, and the seed new
/// collections' tables are keyed with.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadCx {
    pub limits: CollectionLimits,
    pub seed: u64,
}

/// A decoded value, or the note that the file held an empty collection (Redis skips such keys
/// when loading a file and refuses them in RESTORE).
#[derive(Debug)]
pub enum Decoded {
    Value(Value),
    Empty,
}

fn corrupt(why: &'static str) -> RdbError {
    RdbError::Corrupt(why)
}

/// LZF expands a byte of input to at most this many bytes of output (a 3-byte back reference
/// copies 264): a declared length beyond is corrupt, and is never allocated.
const LZF_EXPANSION_MAX: u64 = 88;

/// A length prefix, or one of the special string encodings.
enum Len {
    Plain(u64),
    Special(u8),
}

pub(super) struct Input<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Input<'a> {
        Input { bytes, pos: 0 }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn take(&mut self, n: u64) -> Result<&'a [u8], RdbError> {
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            return Err(RdbError::Truncated);
        }
        let from = self.pos;
        self.pos += n as usize;
        Ok(&self.bytes[from..self.pos])
    }

    pub(super) fn u8(&mut self) -> Result<u8, RdbError> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u32_le(&mut self) -> Result<u32, RdbError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    pub(super) fn u64_le(&mut self) -> Result<u64, RdbError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    fn len_or_special(&mut self) -> Result<Len, RdbError> {
        let first = self.u8()?;
        Ok(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => Len::Plain(u64::from(first & 0x3f) << 8 | u64::from(self.u8()?)),
            2 => match first {
                0x80 => Len::Plain(u64::from(u32::from_be_bytes(
                    self.take(4)?.try_into().expect("4"),
                ))),
                0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().expect("8"))),
                _ => return Err(corrupt("unknown length encoding")),
            },
            _ => Len::Special(first & 0x3f),
        })
    }

    pub(super) fn len(&mut self) -> Result<u64, RdbError> {
        match self.len_or_special()? {
            Len::Plain(n) => Ok(n),
            Len::Special(_) => Err(corrupt("an encoded string where a length belongs")),
        }
    }

    /// A string in any of its encodings: integers come back as their decimal text, LZF
    /// decompressed.
    pub(super) fn string(&mut self) -> Result<Cow<'a, [u8]>, RdbError> {
        let int_text = |n: i64| Ok(Cow::Owned(n.to_string().into_bytes()));
        match self.len_or_special()? {
            Len::Plain(n) => Ok(Cow::Borrowed(self.take(n)?)),
            Len::Special(ENC_INT8) => int_text(i64::from(self.u8()? as i8)),
            Len::Special(ENC_INT16) => int_text(i64::from(i16::from_le_bytes(
                self.take(2)?.try_into().expect("2"),
            ))),
            Len::Special(ENC_INT32) => int_text(i64::from(self.u32_le()? as i32)),
            Len::Special(ENC_LZF) => {
                let packed_len = self.len()?;
                let len = self.len()?;
                let packed = self.take(packed_len)?;
                if len == 0 || len > packed_len.saturating_mul(LZF_EXPANSION_MAX) {
                    return Err(corrupt("invalid LZF lengths"));
                }
                lzf::decompress(packed, len as usize)
                    .map(Cow::Owned)
                    .ok_or(corrupt("invalid LZF compressed string"))
            }
            Len::Special(_) => Err(corrupt("unknown string encoding")),
        }
    }

    fn stream_id(&mut self) -> Result<StreamId, RdbError> {
        Ok(StreamId::new(self.len()?, self.len()?))
    }

    /// 16 raw bytes, big-endian ms then seq.
    fn raw_stream_id(&mut self) -> Result<StreamId, RdbError> {
        raw_id(self.take(16)?)
    }
}

fn raw_id(bytes: &[u8]) -> Result<StreamId, RdbError> {
    if bytes.len() != 16 {
        return Err(corrupt("stream ID of the wrong size"));
    }
    let ms = u64::from_be_bytes(bytes[..8].try_into().expect("8"));
    let seq = u64::from_be_bytes(bytes[8..].try_into().expect("8"));
    Ok(StreamId::new(ms, seq))
}

/// Whether `byte` is a value type of RDB `version`: 7.2 (version 11) added the set listpack
/// and stream listpacks 3, 7.4 (version 12) the hashes with field TTLs. (Redis 7.0 refuses a
/// type it does not know even in a payload claiming an old version.)
pub(super) fn is_value_type(byte: u8, version: u16) -> bool {
    match byte {
        0..=7 | 9..=19 => true,
        20..=21 => version >= 11,
        22..=25 => version >= 12,
        _ => false,
    }
}

/// Reads the value of type `type_byte`.
pub(super) fn read_value(
    input: &mut Input<'_>,
    type_byte: u8,
    cx: &LoadCx,
) -> Result<Decoded, RdbError> {
    use types::*;
    let coll = |c: Collection| Ok(Decoded::Value(Value::Coll(Box::new(c))));
    match type_byte {
        STRING => {
            let bytes = input.string()?.into_owned();
            Ok(Decoded::Value(Value::Str(StrValue::from_bytes(bytes))))
        }
        LIST => {
            let n = input.len()?;
            let mut list = ListBuilder::new(cx);
            for _ in 0..n {
                list.push(&input.string()?);
            }
            list.finish()
        }
        LIST_ZIPLIST => {
            let blob = input.string()?;
            let mut list = ListBuilder::new(cx);
            for e in ziplist::parse(&blob)? {
                list.push_elem(e);
            }
            list.finish()
        }
        LIST_QUICKLIST | LIST_QUICKLIST_2 => {
            read_quicklist(input, type_byte == LIST_QUICKLIST_2, cx)
        }
        SET => {
            let n = input.len()?;
            let mut set = SetBuilder::new(cx);
            for _ in 0..n {
                set.insert(&input.string()?)?;
            }
            set.finish()
        }
        SET_INTSET => {
            let blob = input.string()?;
            let mut set = SetBuilder::new(cx);
            for n in intset::parse(&blob)? {
                set.insert(n.to_string().as_bytes())?;
            }
            set.finish()
        }
        SET_LISTPACK => {
            let blob = input.string()?;
            let mut set = SetBuilder::new(cx);
            for e in listpack::parse(&blob)? {
                set.insert(&e.to_vec())?;
            }
            set.finish()
        }
        ZSET | ZSET_2 => {
            let n = input.len()?;
            let mut zset = ZSetBuilder::new(cx);
            for _ in 0..n {
                let member = input.string()?;
                let score = if type_byte == ZSET_2 {
                    f64::from_le_bytes(input.take(8)?.try_into().expect("8"))
                } else {
                    old_double(input)?
                };
                zset.insert(&member, score)?;
            }
            zset.finish()
        }
        ZSET_ZIPLIST | ZSET_LISTPACK => {
            let blob = input.string()?;
            let elems = if type_byte == ZSET_LISTPACK {
                listpack::parse(&blob)?
            } else {
                ziplist::parse(&blob)?
            };
            if elems.len() % 2 != 0 {
                return Err(corrupt("sorted set listpack of odd length"));
            }
            let mut zset = ZSetBuilder::new(cx);
            for pair in elems.chunks_exact(2) {
                zset.insert(&pair[0].to_vec(), packed_score(pair[1])?)?;
            }
            zset.finish()
        }
        HASH => {
            let n = input.len()?;
            let mut hash = HashBuilder::new(cx);
            for _ in 0..n {
                let field = input.string()?;
                let value = input.string()?;
                hash.insert(&field, &value)?;
            }
            hash.finish()
        }
        HASH_ZIPMAP => {
            let blob = input.string()?;
            let mut hash = HashBuilder::new(cx);
            for (field, value) in zipmap::parse(&blob)? {
                hash.insert(field, value)?;
            }
            hash.finish()
        }
        HASH_ZIPLIST | HASH_LISTPACK => {
            let blob = input.string()?;
            let elems = if type_byte == HASH_LISTPACK {
                listpack::parse(&blob)?
            } else {
                ziplist::parse(&blob)?
            };
            if elems.len() % 2 != 0 {
                return Err(corrupt("hash listpack of odd length"));
            }
            let mut hash = HashBuilder::new(cx);
            for pair in elems.chunks_exact(2) {
                hash.insert(&pair[0].to_vec(), &pair[1].to_vec())?;
            }
            hash.finish()
        }
        STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => {
            let version = match type_byte {
                STREAM_LISTPACKS => 1,
                STREAM_LISTPACKS_2 => 2,
                _ => 3,
            };
            coll(Collection::Stream(read_stream(input, version, cx)?))
        }
        MODULE_PRE_GA | MODULE_2 => Err(RdbError::Unsupported("module values")),
        HASH_METADATA_PRE_GA | HASH_LISTPACK_EX_PRE_GA | HASH_METADATA | HASH_LISTPACK_EX => {
            Err(RdbError::Unsupported("hash fields with TTLs (Redis 7.4)"))
        }
        _ => Err(corrupt("unknown value type")),
    }
}

/// RDB_TYPE_ZSET's scores: a length byte then text, or 253/254/255 for NaN/+inf/-inf.
fn old_double(input: &mut Input<'_>) -> Result<f64, RdbError> {
    match input.u8()? {
        253 => Err(corrupt("sorted set score is NaN")),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        len => {
            let text = input.take(u64::from(len))?;
            parse_strtod(text).ok_or(corrupt("sorted set score is not a number"))
        }
    }
}

/// A score as a packed sorted set holds it: an integer, or the text of a double.
fn packed_score(e: Elem<'_>) -> Result<f64, RdbError> {
    match e {
        Elem::Int(n) => Ok(n as f64),
        Elem::Str(s) => parse_strtod(s).ok_or(corrupt("sorted set score is not a number")),
    }
}

fn read_quicklist(input: &mut Input<'_>, v2: bool, cx: &LoadCx) -> Result<Decoded, RdbError> {
    let nodes = input.len()?;
    let mut list = ListBuilder::new(cx);
    for _ in 0..nodes {
        let container = if v2 { input.len()? } else { CONTAINER_PACKED };
        let blob = input.string()?;
        match container {
            CONTAINER_PLAIN => list.push(&blob),
            CONTAINER_PACKED => {
                let elems = if v2 {
                    listpack::parse(&blob)?
                } else {
                    ziplist::parse(&blob)?
                };
                // Redis skips empty nodes; an empty list as a whole is an empty key.
                for e in elems {
                    list.push_elem(e);
                }
            }
            _ => return Err(corrupt("unknown quicklist container")),
        }
    }
    list.finish()
}

struct ListBuilder<'c> {
    list: ListValue,
    cx: &'c LoadCx,
}

impl<'c> ListBuilder<'c> {
    fn new(cx: &'c LoadCx) -> Self {
        ListBuilder {
            list: ListValue::new(),
            cx,
        }
    }

    fn push(&mut self, elem: &[u8]) {
        self.list.push(End::Right, elem, &self.cx.limits.list);
    }

    fn push_elem(&mut self, e: Elem<'_>) {
        match e {
            Elem::Str(s) => self.push(s),
            Elem::Int(_) => self.push(&e.to_vec()),
        }
    }

    fn finish(self) -> Result<Decoded, RdbError> {
        if self.list.is_empty() {
            return Ok(Decoded::Empty);
        }
        Ok(Decoded::Value(Value::Coll(Box::new(Collection::List(
            self.list,
        )))))
    }
}

struct SetBuilder<'c> {
    set: Option<SetValue>,
    cx: &'c LoadCx,
}

impl<'c> SetBuilder<'c> {
    fn new(cx: &'c LoadCx) -> Self {
        SetBuilder { set: None, cx }
    }

    fn insert(&mut self, member: &[u8]) -> Result<(), RdbError> {
        let seed = self.cx.seed;
        let set = self
            .set
            .get_or_insert_with(|| SetValue::new_for(member, seed));
        if !set.insert(member, &self.cx.limits.set) {
            return Err(corrupt("duplicate set members"));
        }
        Ok(())
    }

    fn finish(self) -> Result<Decoded, RdbError> {
        Ok(match self.set {
            Some(s) if !s.is_empty() => Decoded::Value(Value::Coll(Box::new(Collection::Set(s)))),
            _ => Decoded::Empty,
        })
    }
}

struct ZSetBuilder<'c> {
    zset: ZSetValue,
    cx: &'c LoadCx,
}

impl<'c> ZSetBuilder<'c> {
    fn new(cx: &'c LoadCx) -> Self {
        ZSetBuilder {
            zset: ZSetValue::new(cx.seed),
            cx,
        }
    }

    fn insert(&mut self, member: &[u8], score: f64) -> Result<(), RdbError> {
        if score.is_nan() {
            return Err(corrupt("sorted set score is NaN"));
        }
        if self
            .zset
            .insert(member, score, &self.cx.limits.zset)
            .is_some()
        {
            return Err(corrupt("duplicate sorted set members"));
        }
        Ok(())
    }

    fn finish(self) -> Result<Decoded, RdbError> {
        if self.zset.is_empty() {
            return Ok(Decoded::Empty);
        }
        Ok(Decoded::Value(Value::Coll(Box::new(Collection::ZSet(
            self.zset,
        )))))
    }
}

struct HashBuilder<'c> {
    hash: HashValue,
    cx: &'c LoadCx,
}

impl<'c> HashBuilder<'c> {
    fn new(cx: &'c LoadCx) -> Self {
        HashBuilder {
            hash: HashValue::new(cx.seed),
            cx,
        }
    }

    fn insert(&mut self, field: &[u8], value: &[u8]) -> Result<(), RdbError> {
        if !self.hash.insert(field, value, &self.cx.limits.hash) {
            return Err(corrupt("duplicate hash fields"));
        }
        Ok(())
    }

    fn finish(self) -> Result<Decoded, RdbError> {
        if self.hash.is_empty() {
            return Ok(Decoded::Empty);
        }
        Ok(Decoded::Value(Value::Coll(Box::new(Collection::Hash(
            self.hash,
        )))))
    }
}

/// A stream entry read from a node: its ID and field-value pairs.
type StreamEntry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

/// One listpack element as an integer (a stream node's counts, flags and ID deltas).
fn lp_int(elems: &[Elem<'_>], at: usize) -> Result<i64, RdbError> {
    elems
        .get(at)
        .and_then(|e| e.as_int())
        .ok_or(corrupt("stream node field is not an integer"))
}

fn lp_count(elems: &[Elem<'_>], at: usize) -> Result<usize, RdbError> {
    usize::try_from(lp_int(elems, at)?).map_err(|_| corrupt("negative count in a stream node"))
}

/// The live entries of one stream node, checked: the master entry, then each entry's flags, ID
/// deltas, fields and values, and its closing element count.
fn node_entries(
    master: StreamId,
    elems: &[Elem<'_>],
    out: &mut Vec<StreamEntry>,
) -> Result<(), RdbError> {
    let live = lp_count(elems, 0)?;
    let deleted = lp_count(elems, 1)?;
    let master_fields_len = lp_count(elems, 2)?;
    let fields_end = 3usize
        .checked_add(master_fields_len)
        .filter(|&end| end < elems.len())
        .ok_or(corrupt("stream master entry cut short"))?;
    let master_fields = &elems[3..fields_end];
    if lp_int(elems, fields_end)? != 0 {
        return Err(corrupt("stream master entry not closed"));
    }
    let mut at = fields_end + 1;
    let (mut seen_live, mut seen_deleted) = (0usize, 0usize);
    while at < elems.len() {
        let start = at;
        let flags = lp_int(elems, at)?;
        let ms = master.ms.wrapping_add(lp_int(elems, at + 1)? as u64);
        let seq = master.seq.wrapping_add(lp_int(elems, at + 2)? as u64);
        at += 3;
        let mut pairs = Vec::new();
        if flags & STREAM_FLAG_SAME_FIELDS != 0 {
            let values = elems
                .get(at..at + master_fields.len())
                .ok_or(corrupt("stream entry cut short"))?;
            for (f, v) in master_fields.iter().zip(values) {
                pairs.push((f.to_vec(), v.to_vec()));
            }
            at += master_fields.len();
        } else {
            let n = lp_count(elems, at)?;
            at += 1;
            let body = n
                .checked_mul(2)
                .and_then(|len| at.checked_add(len))
                .and_then(|end| elems.get(at..end))
                .ok_or(corrupt("stream entry cut short"))?;
            for pair in body.chunks_exact(2) {
                pairs.push((pair[0].to_vec(), pair[1].to_vec()));
            }
            at += body.len();
        }
        let count = lp_count(elems, at)?;
        at += 1;
        if count != at - start - 1 {
            return Err(corrupt("stream entry count mismatch"));
        }
        let id = StreamId::new(ms, seq);
        if id.is_zero() || pairs.is_empty() {
            return Err(corrupt("stream entry with ID 0-0 or without fields"));
        }
        if id < master {
            return Err(corrupt("stream entry below its node's master ID"));
        }
        if flags & STREAM_FLAG_DELETED != 0 {
            seen_deleted += 1;
            continue;
        }
        seen_live += 1;
        if out.last().is_some_and(|(last, _)| *last >= id) {
            return Err(corrupt("stream entries out of order"));
        }
        out.push((id, pairs));
    }
    if seen_live != live || seen_deleted != deleted {
        return Err(corrupt("stream node counts differ from its entries"));
    }
    if live == 0 && deleted == 0 {
        return Err(corrupt("empty stream node"));
    }
    Ok(())
}

/// A stream of layout `version` (1: RDB_TYPE_STREAM_LISTPACKS, 2: _2 with the first and
/// max-deleted IDs, entries added and groups' read counts, 3: _3 with consumers' active time).
fn read_stream(input: &mut Input<'_>, version: u8, cx: &LoadCx) -> Result<StreamValue, RdbError> {
    let nodes = input.len()?;
    let mut entries = Vec::new();
    for _ in 0..nodes {
        let key = input.string()?;
        let master = raw_id(&key)?;
        let blob = input.string()?;
        let elems = listpack::parse(&blob)?;
        if elems.is_empty() {
            return Err(corrupt("empty listpack inside a stream"));
        }
        node_entries(master, &elems, &mut entries)?;
    }
    let length = input.len()?;
    let last_id = input.stream_id()?;
    let (max_deleted, entries_added) = if version >= 2 {
        let _first_id = input.stream_id()?;
        let max_deleted = input.stream_id()?;
        (max_deleted, input.len()?)
    } else {
        (StreamId::MIN, length)
    };
    if entries.len() as u64 != length {
        return Err(corrupt("stream length differs from its entries"));
    }
    if entries.last().is_some_and(|(top, _)| *top > last_id) {
        return Err(corrupt("stream entry above the last ID"));
    }
    let mut stream = StreamValue::new();
    for (id, pairs) in &entries {
        let borrowed: Vec<(&[u8], &[u8])> = pairs
            .iter()
            .map(|(f, v)| (f.as_slice(), v.as_slice()))
            .collect();
        stream.log_mut().append(*id, &borrowed, &cx.limits.stream);
    }
    stream
        .log_mut()
        .set_meta(last_id, entries_added, max_deleted);
    let groups = input.len()?;
    for _ in 0..groups {
        let name = input.string()?.into_owned();
        let group = read_group(input, version, &stream)?;
        if !stream.create_group(&name, group) {
            return Err(corrupt("duplicate consumer group name"));
        }
    }
    Ok(stream)
}

fn read_group(input: &mut Input<'_>, version: u8, stream: &StreamValue) -> Result<Group, RdbError> {
    let last_id = input.stream_id()?;
    let entries_read = if version >= 2 {
        input.len()? as i64
    } else {
        stream.log().estimate_entries_read(last_id)
    };
    let mut group = Group::new(last_id, entries_read);
    let pel_len = input.len()?;
    let mut pel: BTreeMap<StreamId, (u64, u64)> = BTreeMap::new();
    for _ in 0..pel_len {
        let id = input.raw_stream_id()?;
        let delivery_time_ms = input.u64_le()?;
        let delivery_count = input.len()?;
        if pel.insert(id, (delivery_time_ms, delivery_count)).is_some() {
            return Err(corrupt("duplicate entry in a group's pending list"));
        }
    }
    let consumers = input.len()?;
    for _ in 0..consumers {
        let name = input.string()?.into_owned();
        let seen_time_ms = input.u64_le()?;
        if version >= 3 {
            let _active_time_ms = input.u64_le()?;
        }
        let owned = input.len()?;
        let mut consumer = Consumer {
            seen_time_ms,
            pending: Default::default(),
        };
        for _ in 0..owned {
            let id = input.raw_stream_id()?;
            let Some(&(delivery_time_ms, delivery_count)) = pel.get(&id) else {
                return Err(corrupt("consumer pending entry missing from its group"));
            };
            let pending = Pending {
                consumer: name.clone(),
                delivery_time_ms,
                delivery_count,
            };
            if group.pending.insert(id, pending).is_some() {
                return Err(corrupt("pending entry owned twice"));
            }
            consumer.pending.insert(id);
        }
        if group.consumers.insert(name, consumer).is_some() {
            return Err(corrupt("duplicate consumer name"));
        }
    }
    if group.pending.len() != pel.len() {
        return Err(corrupt("pending entry without a consumer"));
    }
    Ok(group)
}

/// The value of a DUMP payload, checked as RESTORE does: at least the 10-byte footer, a version
/// no newer than `version_max`, the checksum, then the value (bytes after it are ignored, as
/// Redis ignores them).
pub fn parse_dump_payload(
    payload: &[u8],
    version_max: u16,
    cx: &LoadCx,
) -> Result<Value, RdbError> {
    let Some(body_len) = payload.len().checked_sub(10) else {
        return Err(RdbError::Truncated);
    };
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    if version > version_max {
        return Err(RdbError::Version(version));
    }
    let stored = u64::from_le_bytes(payload[body_len + 2..].try_into().expect("8"));
    let computed = Crc64::of(&payload[..body_len + 2]);
    if stored != computed {
        return Err(RdbError::Checksum { stored, computed });
    }
    // Redis reads the value from the whole payload, footer included: a value that runs into
    // the footer's bytes still loads there, so it does here.
    let mut input = Input::new(payload);
    let type_byte = input.u8()?;
    if !is_value_type(type_byte, version_max) {
        return Err(corrupt("unknown value type"));
    }
    match read_value(&mut input, type_byte, cx)? {
        Decoded::Value(v) => Ok(v),
        Decoded::Empty => Err(corrupt("empty collection")),
    }
}

/// The version RESTORE accepts: redis-server 7.0 refuses payloads of newer versions.
pub const DUMP_VERSION_MAX: u16 = RDB_VERSION;

/// Why FUNCTION RESTORE refuses a payload, in Redis's words (after "ERR ").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionsPayloadError {
    /// Too short, a newer version, or a checksum that does not match.
    VersionOrChecksum,
    /// A record that is not a library (a key's DUMP).
    NotAFunction,
    /// A library record of Redis 7.0's release candidates.
    PreGa,
    /// A record cut short or badly encoded.
    Corrupt,
}

impl FunctionsPayloadError {
    pub fn text(&self) -> &'static str {
        match self {
            FunctionsPayloadError::VersionOrChecksum => {
                "DUMP payload version or checksum are wrong"
            }
            FunctionsPayloadError::NotAFunction => "given type is not a function",
            FunctionsPayloadError::PreGa => "Pre-GA function format not supported",
            FunctionsPayloadError::Corrupt => "failed loading the given functions payload",
        }
    }
}

/// The library codes of a FUNCTION DUMP payload, checked as FUNCTION RESTORE checks it: the
/// footer first, then one FUNCTION2 record after another up to the footer.
pub fn parse_functions_payload(payload: &[u8]) -> Result<Vec<Vec<u8>>, FunctionsPayloadError> {
    let refused = FunctionsPayloadError::VersionOrChecksum;
    let body_len = payload.len().checked_sub(10).ok_or(refused.clone())?;
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    let stored = u64::from_le_bytes(payload[body_len + 2..].try_into().expect("8"));
    if version > DUMP_VERSION_MAX || stored != Crc64::of(&payload[..body_len + 2]) {
        return Err(refused);
    }
    let mut input = Input::new(&payload[..body_len]);
    let mut codes = Vec::new();
    while input.pos() < body_len {
        match input.u8() {
            Ok(super::opcodes::FUNCTION_2) => {}
            Ok(super::opcodes::FUNCTION_PRE_GA) => return Err(FunctionsPayloadError::PreGa),
            Ok(_) => return Err(FunctionsPayloadError::NotAFunction),
            Err(_) => return Err(FunctionsPayloadError::Corrupt),
        }
        let code = input.string().map_err(|_| FunctionsPayloadError::Corrupt)?;
        codes.push(code.into_owned());
    }
    Ok(codes)
}
