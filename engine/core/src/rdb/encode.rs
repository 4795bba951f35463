//! Writing RDB: values exactly as redis-server 7.0's rdbSaveObject lays them out, and the
//! opcodes around them. Every function appends to the caller's buffer and keeps no state.
//!
//! Where our in-memory layout differs from Redis's (quicklist nodes, stream nodes), the nodes are
//! cut again here by Redis's own append rules, so a list built by RPUSH or a stream built by XADD
//! serializes to the bytes Redis writes for it. Hashtable-encoded sets, hashes and skiplist
//! sorted sets come out in our table's order (Redis's is its dict's): the same value, other
//! bytes, which is all RDB promises.

use super::listpack::ListpackWriter;
use super::{intset, lzf, opcodes, types, Crc64, MAGIC, RDB_VERSION};
use crate::db::stream::{Group, StreamId};
use crate::db::{
    Collection, HashValue, ListValue, Member, SetValue, StrRef, StreamLimits, StreamValue,
    ValueRef, ZSetValue,
};
use crate::numfmt::{fmt_double, parse_i64};

/// What a value's bytes depend on besides the value: the settings redis-server reads when it
/// saves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeOptions {
    /// `rdbcompression`: LZF for strings longer than 20 bytes when it saves bytes.
    pub compression: bool,
    /// `list-max-listpack-size`: how quicklist nodes are cut.
    pub list_fill: i64,
    /// `stream-node-max-bytes` / `stream-node-max-entries`: how stream nodes are cut.
    pub stream: StreamLimits,
}

impl Default for EncodeOptions {
    fn default() -> EncodeOptions {
        EncodeOptions {
            compression: true,
            list_fill: -2,
            stream: StreamLimits::default(),
        }
    }
}

/// Length prefixes: 6 bits, 14 bits, 32 or 64 bits (big-endian).
pub(super) fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// The special encodings of the length byte's `11` form.
pub(super) const ENC_INT8: u8 = 0;
pub(super) const ENC_INT16: u8 = 1;
pub(super) const ENC_INT32: u8 = 2;
pub(super) const ENC_LZF: u8 = 3;

/// An integer in the narrowest of the 8/16/32-bit encodings; false when it needs more.
fn write_small_int(out: &mut Vec<u8>, n: i64) -> bool {
    if let Ok(v) = i8::try_from(n) {
        out.push(0xC0 | ENC_INT8);
        out.push(v as u8);
    } else if let Ok(v) = i16::try_from(n) {
        out.push(0xC0 | ENC_INT16);
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(n) {
        out.push(0xC0 | ENC_INT32);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Strings this short may be stored as integers (rdbTryIntegerEncoding).
const INT_ENCODING_TEXT_MAX_BYTES: usize = 11;
/// Strings longer than this are offered to LZF.
const COMPRESS_FROM_BYTES: usize = 21;
/// LZF must save more than this many bytes to be used.
const COMPRESS_SAVING_MIN_BYTES: usize = 4;

/// A string as rdbSaveRawString writes it: an integer encoding when it is a short canonical
/// integer, LZF when enabled and worth it, else length and bytes.
pub(super) fn write_string(out: &mut Vec<u8>, s: &[u8], opts: &EncodeOptions) {
    if s.len() <= INT_ENCODING_TEXT_MAX_BYTES {
        if let Some(n) = parse_i64(s) {
            if write_small_int(out, n) {
                return;
            }
        }
    }
    if opts.compression && s.len() >= COMPRESS_FROM_BYTES {
        if let Some(packed) = lzf::compress(s, s.len() - COMPRESS_SAVING_MIN_BYTES) {
            out.push(0xC0 | ENC_LZF);
            write_len(out, packed.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&packed);
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// An integer-encoded string object (rdbSaveLongLongAsStringObject): a small-int encoding
/// when it fits 32 bits, else its decimal text, never compressed.
fn write_int_string(out: &mut Vec<u8>, n: i64) {
    if !write_small_int(out, n) {
        let text = n.to_string();
        write_len(out, text.len() as u64);
        out.extend_from_slice(text.as_bytes());
    }
}

/// `REDIS0010` and the aux fields.
pub fn write_header(out: &mut Vec<u8>, aux: &[(&str, &[u8])]) {
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(format!("{RDB_VERSION:04}").as_bytes());
    for (key, value) in aux {
        write_aux(out, key, value);
    }
}

/// One aux field (`redis-ver`, `ctime`, …); values that are integers are stored as such, as
/// Redis's rdbSaveAuxField does.
pub fn write_aux(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let opts = EncodeOptions::default();
    out.push(opcodes::AUX);
    write_string(out, key.as_bytes(), &opts);
    write_string(out, value, &opts);
}

pub fn write_select_db(out: &mut Vec<u8>, db: u32) {
    out.push(opcodes::SELECT_DB);
    write_len(out, u64::from(db));
}

/// Sizing hints for the loader: keys in the database and how many carry a TTL.
pub fn write_resize_db(out: &mut Vec<u8>, keys: u64, expires: u64) {
    out.push(opcodes::RESIZE_DB);
    write_len(out, keys);
    write_len(out, expires);
}

/// LRU idle seconds of the next entry (written by Redis under an LRU maxmemory policy).
pub fn write_idle(out: &mut Vec<u8>, idle_s: u64) {
    out.push(opcodes::IDLE);
    write_len(out, idle_s);
}

/// LFU counter of the next entry (written by Redis under an LFU maxmemory policy).
pub fn write_freq(out: &mut Vec<u8>, freq: u8) {
    out.push(opcodes::FREQ);
    out.push(freq);
}

/// One key: its deadline when it has one, then type, key and value, with Redis's default
/// settings.
pub fn write_entry(out: &mut Vec<u8>, key: &[u8], value: ValueRef<'_>, expire_at_ms: Option<u64>) {
    write_entry_with(out, key, value, expire_at_ms, &EncodeOptions::default());
}

pub fn write_entry_with(
    out: &mut Vec<u8>,
    key: &[u8],
    value: ValueRef<'_>,
    expire_at_ms: Option<u64>,
    opts: &EncodeOptions,
) {
    if let Some(at_ms) = expire_at_ms {
        out.push(opcodes::EXPIRETIME_MS);
        out.extend_from_slice(&at_ms.to_le_bytes());
    }
    out.push(value_type(value));
    write_string(out, key, opts);
    write_value(out, value, opts);
}

/// The end of the file: the EOF opcode and the CRC-64 of everything before the checksum.
/// `crc_before` is the running checksum of all the bytes written before this call (the EOF
/// byte itself is folded in here).
pub fn write_eof(out: &mut Vec<u8>, crc_before: u64) {
    out.push(opcodes::EOF);
    let mut crc = Crc64::resume(crc_before);
    crc.update(&[opcodes::EOF]);
    out.extend_from_slice(&crc.value().to_le_bytes());
}

/// A DUMP payload: type, value, RDB version and the CRC-64 of those bytes.
pub fn dump_payload(value: ValueRef<'_>, opts: &EncodeOptions) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(value_type(value));
    write_value(&mut out, value, opts);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = Crc64::of(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The type byte redis-server 7.0 writes for a value in its encoding.
pub(super) fn value_type(value: ValueRef<'_>) -> u8 {
    match value {
        ValueRef::Str(_) => types::STRING,
        ValueRef::Coll(c) => match c {
            Collection::List(_) => types::LIST_QUICKLIST_2,
            Collection::Set(s) if s.encoding() == "intset" => types::SET_INTSET,
            Collection::Set(_) => types::SET,
            Collection::ZSet(z) if z.encoding() == "listpack" => types::ZSET_LISTPACK,
            Collection::ZSet(_) => types::ZSET_2,
            Collection::Hash(h) if h.encoding() == "listpack" => types::HASH_LISTPACK,
            Collection::Hash(_) => types::HASH,
            Collection::Stream(_) => types::STREAM_LISTPACKS_2,
        },
    }
}

pub(super) fn write_value(out: &mut Vec<u8>, value: ValueRef<'_>, opts: &EncodeOptions) {
    match value {
        ValueRef::Str(StrRef::Int(n)) => write_int_string(out, n),
        ValueRef::Str(StrRef::Bytes { bytes, .. }) => write_string(out, bytes, opts),
        ValueRef::Coll(c) => match c {
            Collection::List(l) => write_list(out, l, opts),
            Collection::Set(s) => write_set(out, s, opts),
            Collection::ZSet(z) => write_zset(out, z, opts),
            Collection::Hash(h) => write_hash(out, h, opts),
            Collection::Stream(s) => write_stream(out, s, opts),
        },
    }
}

/// Quicklist node containers.
pub(super) const CONTAINER_PLAIN: u64 = 1;
pub(super) const CONTAINER_PACKED: u64 = 2;
/// Elements this big get a plain node of their own (quicklist's packed_threshold, 1 GiB).
const PLAIN_ELEMENT_FROM_BYTES: usize = 1 << 30;
/// A positive fill still keeps nodes under this many bytes (SIZE_SAFETY_LIMIT).
const NODE_SAFETY_LIMIT_BYTES: usize = 8192;
/// Node byte bounds of fills -1 to -5 (optimization_level).
const NODE_LEVEL_BYTES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// What redis-server 7.0.15 adds to an element's length to estimate its cost in a node.
const NODE_ENTRY_OVERHEAD_BYTES: usize = 8;

/// Whether a quicklist node of `count` elements and `node_bytes` takes one more of
/// `elem_len` bytes, by Redis's estimate (the element's length plus 8) checked against the
/// fill's bound: bytes for a negative fill, else entries within the safety limit's bytes.
fn node_takes(node_bytes: usize, count: usize, elem_len: usize, fill: i64) -> bool {
    let new_bytes = node_bytes + elem_len + NODE_ENTRY_OVERHEAD_BYTES;
    if fill < 0 {
        let level = (fill.unsigned_abs() - 1) as usize;
        let max = NODE_LEVEL_BYTES
            .get(level)
            .copied()
            .unwrap_or(NODE_LEVEL_BYTES[4]);
        return new_bytes <= max;
    }
    new_bytes <= NODE_SAFETY_LIMIT_BYTES && (count as i64) < fill
}

/// A list as quicklist 2: the node count, then per node its container and its listpack (or
/// the element itself, for a plain node).
fn write_list(out: &mut Vec<u8>, list: &ListValue, opts: &EncodeOptions) {
    enum Node<'a> {
        Packed(ListpackWriter),
        Plain(&'a [u8]),
    }
    let mut nodes: Vec<Node<'_>> = Vec::new();
    for elem in list.iter() {
        if elem.len() >= PLAIN_ELEMENT_FROM_BYTES {
            nodes.push(Node::Plain(elem));
            continue;
        }
        if let Some(Node::Packed(lp)) = nodes.last_mut() {
            if node_takes(lp.bytes_len(), lp.len(), elem.len(), opts.list_fill) {
                lp.push(elem);
                continue;
            }
        }
        let mut lp = ListpackWriter::new();
        lp.push(elem);
        nodes.push(Node::Packed(lp));
    }
    write_len(out, nodes.len() as u64);
    for node in nodes {
        match node {
            Node::Packed(lp) => {
                write_len(out, CONTAINER_PACKED);
                write_string(out, &lp.finish(), opts);
            }
            Node::Plain(elem) => {
                write_len(out, CONTAINER_PLAIN);
                write_string(out, elem, opts);
            }
        }
    }
}

fn write_set(out: &mut Vec<u8>, set: &SetValue, opts: &EncodeOptions) {
    if set.encoding() == "intset" {
        let members: Vec<i64> = set
            .iter()
            .map(|m| match m {
                Member::Int(n) => n,
                Member::Bytes(b) => parse_i64(b).expect("an intset holds integers"),
            })
            .collect();
        write_string(out, &intset::build(&members), opts);
        return;
    }
    write_len(out, set.len() as u64);
    for m in set.iter() {
        match m {
            Member::Int(n) => write_string(out, n.to_string().as_bytes(), opts),
            Member::Bytes(b) => write_string(out, b, opts),
        }
    }
}

/// A score as a zset listpack holds it (Redis's d2string): integral values in ±2^52 as
/// integers, the rest as `%.17g` text.
pub(super) fn score_text(score: f64, out: &mut Vec<u8>) {
    const SAFE: f64 = 4_503_599_627_370_496.0;
    if score != 0.0 && score.is_finite() && score > -SAFE && score < SAFE && score.fract() == 0.0 {
        out.extend_from_slice((score as i64).to_string().as_bytes());
    } else {
        fmt_double(score, out);
    }
}

fn write_zset(out: &mut Vec<u8>, zset: &ZSetValue, opts: &EncodeOptions) {
    if zset.encoding() == "listpack" {
        let mut lp = ListpackWriter::new();
        let mut text = Vec::with_capacity(32);
        zset.visit_range(0, zset.len(), false, &mut |member, score| {
            lp.push(member);
            text.clear();
            score_text(score, &mut text);
            lp.push(&text);
            true
        });
        write_string(out, &lp.finish(), opts);
        return;
    }
    // Greatest first, so that Redis's loader always inserts at the skiplist's head.
    write_len(out, zset.len() as u64);
    zset.visit_range(0, zset.len(), true, &mut |member, score| {
        write_string(out, member, opts);
        out.extend_from_slice(&score.to_le_bytes());
        true
    });
}

fn write_hash(out: &mut Vec<u8>, hash: &HashValue, opts: &EncodeOptions) {
    if hash.encoding() == "listpack" {
        let mut lp = ListpackWriter::new();
        for (field, value) in hash.iter() {
            lp.push(field);
            lp.push(value);
        }
        write_string(out, &lp.finish(), opts);
        return;
    }
    write_len(out, hash.len() as u64);
    for (field, value) in hash.iter() {
        write_string(out, field, opts);
        write_string(out, value, opts);
    }
}

/// Stream entry flags inside a node.
pub(super) const STREAM_FLAG_DELETED: i64 = 1;
pub(super) const STREAM_FLAG_SAME_FIELDS: i64 = 2;
/// Redis's STREAM_LISTPACK_MAX_SIZE.
const STREAM_NODE_BYTES_CAP: usize = 1 << 30;

/// 16 bytes, big-endian ms then seq: a stream node's key and a PEL entry's ID.
pub(super) fn stream_id_bytes(id: StreamId) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&id.ms.to_be_bytes());
    key[8..].copy_from_slice(&id.seq.to_be_bytes());
    key
}

/// One stream node being built: its master ID and fields, and its entries packed so far.
struct StreamNode {
    master: StreamId,
    master_fields: Vec<Vec<u8>>,
    entries: ListpackWriter,
    entries_len: usize,
}

impl StreamNode {
    fn new(master: StreamId, master_fields: Vec<Vec<u8>>) -> StreamNode {
        StreamNode {
            master,
            master_fields,
            entries: ListpackWriter::new(),
            entries_len: 0,
        }
    }

    /// The master entry: live count, deleted count, the fields, and a 0 closing it.
    fn master_entry(&self) -> ListpackWriter {
        let mut lp = ListpackWriter::new();
        lp.push_int(self.entries_len as i64);
        lp.push_int(0);
        lp.push_int(self.master_fields.len() as i64);
        for f in &self.master_fields {
            lp.push(f);
        }
        lp.push_int(0);
        lp
    }

    /// The bytes the node's listpack takes now (Redis's lpBytes, for the cut rule).
    fn lp_bytes(&self) -> usize {
        self.master_entry().bytes_len() + self.entries.bytes_len() - LISTPACK_HEADER_BYTES
    }

    /// Appends an entry: flags, ID deltas from the master, the values alone when the fields
    /// are the master's (else the count and the pairs), and the entry's element count.
    fn push(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])]) {
        let same = pairs.len() == self.master_fields.len()
            && pairs
                .iter()
                .zip(&self.master_fields)
                .all(|(p, m)| p.0 == m.as_slice());
        let lp = &mut self.entries;
        lp.push_int(if same { STREAM_FLAG_SAME_FIELDS } else { 0 });
        lp.push_int(id.ms.wrapping_sub(self.master.ms) as i64);
        lp.push_int(id.seq.wrapping_sub(self.master.seq) as i64);
        if same {
            for (_, v) in pairs {
                lp.push(v);
            }
        } else {
            lp.push_int(pairs.len() as i64);
            for (f, v) in pairs {
                lp.push(f);
                lp.push(v);
            }
        }
        let lp_count = if same {
            pairs.len() + 3
        } else {
            pairs.len() * 2 + 4
        };
        lp.push_int(lp_count as i64);
        self.entries_len += 1;
    }

    fn listpack(self) -> Vec<u8> {
        let mut lp = self.master_entry();
        lp.append(self.entries);
        lp.finish()
    }
}

const LISTPACK_HEADER_BYTES: usize = 6;

/// Cuts the entries into nodes as XADD does: a new node when the open one's bytes plus the
/// entry's field and value bytes reach `stream-node-max-bytes`, or it holds
/// `stream-node-max-entries` entries.
fn stream_nodes(stream: &StreamValue, limits: &StreamLimits) -> Vec<StreamNode> {
    let bytes_max = match limits.node_bytes_max {
        0 => STREAM_NODE_BYTES_CAP,
        n => n.min(STREAM_NODE_BYTES_CAP),
    };
    let mut nodes: Vec<StreamNode> = Vec::new();
    stream
        .log()
        .range(StreamId::MIN, StreamId::MAX, false, |entry| {
            let pairs = entry.pairs();
            let raw_bytes: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
            let open = nodes.last().is_some_and(|node| {
                node.lp_bytes() + raw_bytes < bytes_max
                    && (limits.node_entries_max == 0 || node.entries_len < limits.node_entries_max)
            });
            if !open {
                let fields = pairs.iter().map(|(f, _)| f.to_vec()).collect();
                nodes.push(StreamNode::new(entry.id, fields));
            }
            let node = nodes.last_mut().expect("a node is open");
            node.push(entry.id, &pairs);
            true
        });
    nodes
}

fn write_stream_id(out: &mut Vec<u8>, id: StreamId) {
    write_len(out, id.ms);
    write_len(out, id.seq);
}

fn write_stream(out: &mut Vec<u8>, stream: &StreamValue, opts: &EncodeOptions) {
    let nodes = stream_nodes(stream, &opts.stream);
    write_len(out, nodes.len() as u64);
    for node in nodes {
        write_string(out, &stream_id_bytes(node.master), opts);
        write_string(out, &node.listpack(), opts);
    }
    let log = stream.log();
    write_len(out, log.len());
    write_stream_id(out, log.last_id());
    write_stream_id(out, log.first_id());
    write_stream_id(out, log.max_deleted_id());
    write_len(out, log.entries_added());
    write_len(out, stream.groups().len() as u64);
    for (name, group) in stream.groups() {
        write_string(out, name, opts);
        write_group(out, group, opts);
    }
}

fn write_group(out: &mut Vec<u8>, group: &Group, opts: &EncodeOptions) {
    write_stream_id(out, group.last_id);
    // -1 ("unknown") is stored as its 64-bit two's complement, as Redis's rdbSaveLen does.
    write_len(out, group.entries_read as u64);
    write_len(out, group.pending.len() as u64);
    for (id, p) in &group.pending {
        out.extend_from_slice(&stream_id_bytes(*id));
        out.extend_from_slice(&p.delivery_time_ms.to_le_bytes());
        write_len(out, p.delivery_count);
    }
    write_len(out, group.consumers.len() as u64);
    for (name, consumer) in &group.consumers {
        write_string(out, name, opts);
        out.extend_from_slice(&consumer.seen_time_ms.to_le_bytes());
        write_len(out, consumer.pending.len() as u64);
        for id in &consumer.pending {
            out.extend_from_slice(&stream_id_bytes(*id));
        }
    }
}

/// FUNCTION DUMP's payload: each library's code as a FUNCTION2 record, then the RDB version
/// and the CRC-64. The codes are compressed with liblzf's exact choices, so the payload is
/// redis-server's byte for byte and a library moves between the two either way.
pub fn functions_payload(codes: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(super::opcodes::FUNCTION_2);
        let packed = (code.len() >= COMPRESS_FROM_BYTES)
            .then(|| lzf::compress(code, code.len() - COMPRESS_SAVING_MIN_BYTES))
            .flatten();
        match packed {
            Some(packed) => {
                out.push(0xC0 | ENC_LZF);
                write_len(&mut out, packed.len() as u64);
                write_len(&mut out, code.len() as u64);
                out.extend_from_slice(&packed);
            }
            None => {
                write_len(&mut out, code.len() as u64);
                out.extend_from_slice(code);
            }
        }
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = Crc64::of(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}
