//! A stream value (XADD and friends): Redis 7.0's radix tree of packed nodes, as an ordered map
//! from each node's master ID to a buffer of delta-encoded entries, plus consumer groups.
//!
//! An entry is an ID (`ms-seq`, two u64) and an ordered list of field-value pairs. Entries are
//! never stored one heap object each: a node packs up to `stream-node-max-entries` entries (or
//! about `stream-node-max-bytes` bytes) into one buffer:
//!
//! ```text
//!  header:  [nfields][field]…            the master fields: those of the node's first entry
//!  entry:   [flags][ms delta][seq][values…]          flags has SAME_FIELDS: one value per
//!           [flags][ms delta][seq][n][field value]…  master field; otherwise its own pairs
//! ```
//!
//! Numbers are LEB128; `ms delta` is the entry's ms minus the master's, `seq` is the seq minus
//! the master's when the ms is the master's, else the seq itself (so both are 1 byte for `*` IDs
//! in the common case). Strings are length-prefixed (packed.rs). A deleted entry keeps its bytes
//! with the DELETED flag set, as Redis marks listpack entries, so node boundaries (which XTRIM
//! `~` and LIMIT see) move as they do in Redis: XDEL drops a node with its last live entry, a
//! trim drops whole nodes from the head (and, like Redis, may leave one with none live). A node
//! closes where Redis's listpack would reach `stream-node-max-bytes` (its byte count is
//! emulated, `lp_size`) or `stream-node-max-entries`. The node's key in the map is the ID of the
//! first entry ever appended to it.
//!
//! The stream keeps Redis's metadata: length, last generated ID, first live ID, the largest
//! deleted ID (`max-deleted-entry-id`) and the count of entries ever added, from which consumer
//! groups' `entries-read` and lag are derived exactly as Redis 7.0 does
//! (`estimate_entries_read`, `range_has_tombstones`).
//!
//! Consumer groups are ordered by name (XINFO lists them so), each with its pending entries list
//! (ID → owner, delivery time, delivery count) and its consumers, each with its own pending IDs.
//!
//! `heap_bytes` is O(1): nodes and groups keep running sums, recounted by `check_invariants`.

use std::collections::{BTreeMap, BTreeSet};

use super::packed::{get_str, put_str, reserve_class, str_len};
use super::size_class::class_bytes;

/// A stream entry ID. Ordered by ms, then seq.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The ID right after this one; `None` after `MAX`.
    pub fn next(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 }),
        }
    }

    /// The ID right before this one; `None` before `MIN`.
    pub fn prev(self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self
                .ms
                .checked_sub(1)
                .map(|ms| StreamId { ms, seq: u64::MAX }),
        }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// `ms-seq`, as every reply writes an ID.
    pub fn to_bytes(self) -> Vec<u8> {
        format!("{}-{}", self.ms, self.seq).into_bytes()
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Redis's node bounds: `stream-node-max-bytes` (0: no bound) and `stream-node-max-entries`
/// (0: no bound).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamLimits {
    pub node_bytes_max: usize,
    pub node_entries_max: usize,
}

pub const STREAM_NODE_MAX_BYTES_DEFAULT: usize = 4096;
pub const STREAM_NODE_MAX_ENTRIES_DEFAULT: usize = 100;
/// Redis's STREAM_LISTPACK_MAX_SIZE: a node never grows past 1 GiB, whatever the config says.
const NODE_BYTES_CAP: usize = 1 << 30;

impl Default for StreamLimits {
    fn default() -> StreamLimits {
        StreamLimits {
            node_bytes_max: STREAM_NODE_MAX_BYTES_DEFAULT,
            node_entries_max: STREAM_NODE_MAX_ENTRIES_DEFAULT,
        }
    }
}

const FLAG_DELETED: u8 = 1;
const FLAG_SAME_FIELDS: u8 = 2;

fn put_varint64(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint64(bytes: &[u8], at: usize) -> (u64, usize) {
    let (mut n, mut shift, mut read) = (0u64, 0, 0);
    loop {
        let b = bytes[at + read];
        read += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return (n, read);
        }
        shift += 7;
    }
}

fn get_count(bytes: &[u8], at: usize) -> (usize, usize) {
    let (n, read) = get_varint64(bytes, at);
    (n as usize, read)
}

/// Bytes a BTreeMap spends per element beyond the element itself (its nodes hold up to 11 and
/// are at least half full): an estimate, fixed so the accounting is deterministic.
const fn map_slot_bytes(elem_bytes: usize) -> usize {
    elem_bytes * 3 / 2
}

/// Redis's listpack byte counts, so that a node closes when Redis's would
/// (`stream-node-max-bytes` bounds Redis's listpack, not our buffer): a listpack header and end
/// byte, and per element its encoding, data and back-length.
mod lp_size {
    pub const EMPTY_BYTES: usize = 7;

    fn backlen(l: usize) -> usize {
        match l {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2_097_150 => 3,
            2_097_151..=268_435_454 => 4,
            _ => 5,
        }
    }

    pub fn int(n: i64) -> usize {
        let enc = match n {
            0..=127 => 1,
            -4096..=4095 => 2,
            -32768..=32767 => 3,
            -8_388_608..=8_388_607 => 4,
            -2_147_483_648..=2_147_483_647 => 5,
            _ => 9,
        };
        enc + backlen(enc)
    }

    /// A string element: stored as an integer when it reads as one (lpStringToInt64).
    pub fn string(s: &[u8]) -> usize {
        if let Some(n) = crate::numfmt::parse_i64(s) {
            return int(n);
        }
        let enc = match s.len() {
            0..=63 => 1 + s.len(),
            64..=4095 => 2 + s.len(),
            _ => 5 + s.len(),
        };
        enc + backlen(enc)
    }
}

/// One packed node (see the module doc).
#[derive(Debug, PartialEq)]
struct Node {
    buf: Vec<u8>,
    /// Where the first entry starts (after the master fields).
    entries_at: u32,
    master_fields: u32,
    live: u32,
    /// Live and deleted entries.
    total: u32,
    /// The last entry's ID, deleted or not.
    last: StreamId,
    /// The bytes Redis's listpack for this node would take (`lp_size`).
    lp_bytes: u32,
}

/// An entry decoded in place.
#[derive(Clone, Copy, Debug)]
struct Slot {
    id: StreamId,
    flags: u8,
    /// Where the entry starts (its flags byte).
    at: usize,
    /// Where its fields start.
    body_at: usize,
    end: usize,
}

/// A copy keeps the buffer's capacity, so that it accounts the bytes the original does (a
/// derived clone would allocate only the length: COPY and gathered copies would then be
/// counted apart from their originals).
impl Clone for Node {
    fn clone(&self) -> Node {
        let mut buf = Vec::with_capacity(self.buf.capacity());
        buf.extend_from_slice(&self.buf);
        Node { buf, ..*self }
    }
}

impl Node {
    fn heap_bytes(&self) -> usize {
        class_bytes(self.buf.capacity()) + map_slot_bytes(NODE_SLOT_BYTES)
    }

    fn decode(&self, master: StreamId, at: usize) -> Slot {
        let buf = &self.buf;
        let flags = buf[at];
        let (ms_delta, r1) = get_varint64(buf, at + 1);
        let (seq_raw, r2) = get_varint64(buf, at + 1 + r1);
        let id = if ms_delta == 0 {
            StreamId::new(master.ms, master.seq + seq_raw)
        } else {
            StreamId::new(master.ms + ms_delta, seq_raw)
        };
        let body_at = at + 1 + r1 + r2;
        let mut p = body_at;
        if flags & FLAG_SAME_FIELDS != 0 {
            for _ in 0..self.master_fields {
                p = get_str(buf, p).1;
            }
        } else {
            let (n, r) = get_count(buf, p);
            p += r;
            for _ in 0..n * 2 {
                p = get_str(buf, p).1;
            }
        }
        Slot {
            id,
            flags,
            at,
            body_at,
            end: p,
        }
    }

    /// Every entry's slot, deleted ones too, in order.
    fn slots(&self, master: StreamId) -> impl Iterator<Item = Slot> + '_ {
        let mut at = self.entries_at as usize;
        std::iter::from_fn(move || {
            if at >= self.buf.len() {
                return None;
            }
            let slot = self.decode(master, at);
            at = slot.end;
            Some(slot)
        })
    }

    fn pairs(&self, slot: &Slot) -> Vec<(&[u8], &[u8])> {
        let buf = &self.buf;
        let mut out = Vec::new();
        let mut p = slot.body_at;
        if slot.flags & FLAG_SAME_FIELDS != 0 {
            let mut f = 0;
            out.reserve(self.master_fields as usize);
            let mut fp = get_count(buf, 0).1;
            while f < self.master_fields {
                let (field, next_f) = get_str(buf, fp);
                let (value, next_v) = get_str(buf, p);
                out.push((field, value));
                fp = next_f;
                p = next_v;
                f += 1;
            }
        } else {
            let (n, r) = get_count(buf, p);
            p += r;
            out.reserve(n);
            for _ in 0..n {
                let (field, after_field) = get_str(buf, p);
                let (value, after_value) = get_str(buf, after_field);
                out.push((field, value));
                p = after_value;
            }
        }
        out
    }

    fn same_fields_as_master(&self, pairs: &[(&[u8], &[u8])]) -> bool {
        if pairs.len() != self.master_fields as usize {
            return false;
        }
        let mut fp = get_count(&self.buf, 0).1;
        for (field, _) in pairs {
            let (master_field, next) = get_str(&self.buf, fp);
            if master_field != *field {
                return false;
            }
            fp = next;
        }
        true
    }

    fn new_for(id: StreamId, pairs: &[(&[u8], &[u8])], capacity: usize) -> Node {
        let mut buf = Vec::with_capacity(class_bytes(capacity.max(16)));
        put_varint64(&mut buf, pairs.len() as u64);
        for (field, _) in pairs {
            put_str(&mut buf, field);
        }
        // The master entry: live count, deleted count, field count, fields, terminator.
        let master_bytes = lp_size::int(0)
            + lp_size::int(0)
            + lp_size::int(pairs.len() as i64)
            + pairs.iter().map(|(f, _)| lp_size::string(f)).sum::<usize>()
            + lp_size::int(0);
        Node {
            entries_at: buf.len() as u32,
            buf,
            master_fields: pairs.len() as u32,
            live: 0,
            total: 0,
            last: id,
            lp_bytes: (lp_size::EMPTY_BYTES + master_bytes) as u32,
        }
    }

    /// Sets the live and deleted counts, keeping `lp_bytes` in step with their encodings.
    fn set_counts(&mut self, live: u32, total: u32) {
        let deleted = |n: &Node| i64::from(n.total - n.live);
        let before = lp_size::int(i64::from(self.live)) + lp_size::int(deleted(self));
        self.live = live;
        self.total = total;
        let after = lp_size::int(i64::from(self.live)) + lp_size::int(deleted(self));
        self.lp_bytes = (self.lp_bytes as usize + after - before) as u32;
    }

    /// Redis's listpack bytes of one entry.
    fn entry_lp_bytes(
        master: StreamId,
        id: StreamId,
        pairs: &[(&[u8], &[u8])],
        same: bool,
    ) -> usize {
        let ms_diff = (id.ms as i64).wrapping_sub(master.ms as i64);
        let seq_diff = (id.seq as i64).wrapping_sub(master.seq as i64);
        let flags = if same { i64::from(FLAG_SAME_FIELDS) } else { 0 };
        let mut bytes = lp_size::int(flags) + lp_size::int(ms_diff) + lp_size::int(seq_diff);
        let mut lp_count = pairs.len() as i64 + 3;
        if !same {
            bytes += lp_size::int(pairs.len() as i64);
            bytes += pairs.iter().map(|(f, _)| lp_size::string(f)).sum::<usize>();
            lp_count += pairs.len() as i64 + 1;
        }
        bytes += pairs.iter().map(|(_, v)| lp_size::string(v)).sum::<usize>();
        bytes + lp_size::int(lp_count)
    }

    fn append(&mut self, master: StreamId, id: StreamId, pairs: &[(&[u8], &[u8])]) {
        let same = self.same_fields_as_master(pairs);
        let mut bytes = 1 + 20;
        bytes += pairs
            .iter()
            .map(|(f, v)| if same { 0 } else { str_len(f) } + str_len(v))
            .sum::<usize>();
        reserve_class(&mut self.buf, bytes);
        let buf = &mut self.buf;
        buf.push(if same { FLAG_SAME_FIELDS } else { 0 });
        let ms_delta = id.ms - master.ms;
        put_varint64(buf, ms_delta);
        put_varint64(
            buf,
            if ms_delta == 0 {
                id.seq - master.seq
            } else {
                id.seq
            },
        );
        if !same {
            put_varint64(buf, pairs.len() as u64);
        }
        for (field, value) in pairs {
            if !same {
                put_str(buf, field);
            }
            put_str(buf, value);
        }
        self.set_counts(self.live + 1, self.total + 1);
        self.lp_bytes += Node::entry_lp_bytes(master, id, pairs, same) as u32;
        self.last = id;
    }
}

const NODE_SLOT_BYTES: usize = std::mem::size_of::<StreamId>() + std::mem::size_of::<Node>();
const STREAM_BYTES: usize = std::mem::size_of::<Stream>();
const GROUP_BYTES: usize = std::mem::size_of::<Group>() + std::mem::size_of::<Vec<u8>>();
const CONSUMER_BYTES: usize = std::mem::size_of::<Consumer>() + std::mem::size_of::<Vec<u8>>();
const PENDING_BYTES: usize = std::mem::size_of::<StreamId>() + std::mem::size_of::<Pending>();
const CONSUMER_PENDING_BYTES: usize = std::mem::size_of::<StreamId>();

/// An entry as a range read lends it.
pub struct EntryView<'a> {
    pub id: StreamId,
    node: &'a Node,
    slot: Slot,
}

impl<'a> EntryView<'a> {
    /// The field-value pairs, in the order they were added.
    pub fn pairs(&self) -> Vec<(&'a [u8], &'a [u8])> {
        self.node.pairs(&self.slot)
    }
}

/// The entries and their metadata (everything but the groups).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamLog {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    last_id: StreamId,
    first_id: StreamId,
    max_deleted_id: StreamId,
    entries_added: u64,
    nodes_bytes: usize,
}

/// How XADD and XTRIM trim (Redis's trim strategy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// Redis's SCG_INVALID_ENTRIES_READ: a group whose read count is unknown.
pub const ENTRIES_READ_INVALID: i64 = -1;

impl StreamLog {
    fn new() -> StreamLog {
        StreamLog {
            nodes: BTreeMap::new(),
            length: 0,
            last_id: StreamId::MIN,
            first_id: StreamId::MIN,
            max_deleted_id: StreamId::MIN,
            entries_added: 0,
            nodes_bytes: 0,
        }
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// Redis's `first_id`: the first live entry's ID (0-0 when empty).
    pub fn first_id(&self) -> StreamId {
        self.first_id
    }

    pub fn max_deleted_id(&self) -> StreamId {
        self.max_deleted_id
    }

    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// Nodes (XINFO's radix-tree-keys).
    pub fn nodes_len(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes a Redis rax holding these keys (16-byte big-endian master IDs) would have:
    /// the root, every key's leaf, every branching prefix and every child of one (XINFO's
    /// radix-tree-nodes).
    pub fn radix_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self
            .nodes
            .keys()
            .map(|id| {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&id.ms.to_be_bytes());
                k[8..].copy_from_slice(&id.seq.to_be_bytes());
                k
            })
            .collect();
        let mut prefixes: BTreeSet<Vec<u8>> = BTreeSet::new();
        prefixes.insert(Vec::new());
        for k in &keys {
            prefixes.insert(k.to_vec());
        }
        for pair in keys.windows(2) {
            let lcp = pair[0]
                .iter()
                .zip(pair[1].iter())
                .take_while(|(a, b)| a == b)
                .count();
            prefixes.insert(pair[0][..lcp].to_vec());
            prefixes.insert(pair[0][..=lcp].to_vec());
            prefixes.insert(pair[1][..=lcp].to_vec());
        }
        prefixes.len()
    }

    /// Sets the metadata XSETID may change.
    pub fn set_meta(&mut self, last_id: StreamId, entries_added: u64, max_deleted: StreamId) {
        self.last_id = last_id;
        self.entries_added = entries_added;
        self.max_deleted_id = max_deleted;
    }

    /// Appends an entry with `id`, which the caller checked is above `last_id`.
    pub fn append(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])], limits: &StreamLimits) {
        assert!(
            id > self.last_id,
            "{id} is not above the top {}",
            self.last_id
        );
        let entry_bytes: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
        let bytes_max = match limits.node_bytes_max {
            0 => NODE_BYTES_CAP,
            n => n.min(NODE_BYTES_CAP),
        };
        let mut next_capacity = 64;
        let reuse = match self.nodes.last_key_value() {
            Some((_, node)) => {
                next_capacity = node.buf.len();
                let full_bytes = node.lp_bytes as usize + entry_bytes >= bytes_max;
                let full_entries =
                    limits.node_entries_max != 0 && node.total as usize >= limits.node_entries_max;
                !full_bytes && !full_entries
            }
            None => false,
        };
        if reuse {
            let (master, node) = self.nodes.last_key_value().expect("a last node");
            let master = *master;
            let before = node.heap_bytes();
            let node = self.nodes.get_mut(&master).expect("the last node");
            node.append(master, id, pairs);
            self.nodes_bytes = self.nodes_bytes - before + node.heap_bytes();
        } else {
            if let Some(mut last) = self.nodes.last_entry() {
                // A closed node never grows again: give back its slack.
                let node = last.get_mut();
                let before = node.heap_bytes();
                node.buf.shrink_to_fit();
                self.nodes_bytes = self.nodes_bytes - before + node.heap_bytes();
            }
            let mut node = Node::new_for(id, pairs, next_capacity);
            node.append(id, id, pairs);
            self.nodes_bytes += node.heap_bytes();
            self.nodes.insert(id, node);
        }
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// Visits the live entries with IDs in `start..=end`, ascending (or descending when `rev`),
    /// until `visit` answers false.
    pub fn range<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut visit: impl FnMut(EntryView<'a>) -> bool,
    ) {
        if start > end {
            return;
        }
        if !rev {
            let from = self
                .nodes
                .range(..=start)
                .next_back()
                .map_or(start, |(k, _)| *k);
            for (master, node) in self.nodes.range(from..) {
                if *master > end {
                    return;
                }
                for slot in node.slots(*master) {
                    if slot.id > end {
                        return;
                    }
                    if slot.id < start || slot.flags & FLAG_DELETED != 0 {
                        continue;
                    }
                    if !visit(EntryView {
                        id: slot.id,
                        node,
                        slot,
                    }) {
                        return;
                    }
                }
            }
        } else {
            for (master, node) in self.nodes.range(..=end).rev() {
                if node.last < start {
                    return;
                }
                let slots: Vec<Slot> = node.slots(*master).collect();
                for slot in slots.into_iter().rev() {
                    if slot.id < start {
                        return;
                    }
                    if slot.id > end || slot.flags & FLAG_DELETED != 0 {
                        continue;
                    }
                    if !visit(EntryView {
                        id: slot.id,
                        node,
                        slot,
                    }) {
                        return;
                    }
                }
            }
        }
    }

    /// The live entry `id`, if any.
    pub fn get(&self, id: StreamId) -> Option<EntryView<'_>> {
        let mut found = None;
        self.range(id, id, false, |e| {
            found = Some(e);
            false
        });
        found
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// The first (or last) live entry.
    pub fn edge(&self, last: bool) -> Option<EntryView<'_>> {
        let mut found = None;
        self.range(StreamId::MIN, StreamId::MAX, last, |e| {
            found = Some(e);
            false
        });
        found
    }

    fn refresh_first_id(&mut self) {
        self.first_id = self.edge(false).map_or(StreamId::MIN, |e| e.id);
    }

    /// Marks the live entry `id` deleted (XDEL); false when there is none. Updates the first
    /// ID and the largest deleted ID as Redis's XDEL does.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, _)) = self.nodes.range(..=id).next_back() else {
            return false;
        };
        let node = self.nodes.get_mut(&master).expect("the node");
        let Some(slot) = node
            .slots(master)
            .take_while(|s| s.id <= id)
            .find(|s| s.id == id && s.flags & FLAG_DELETED == 0)
        else {
            return false;
        };
        node.buf[slot.at] |= FLAG_DELETED;
        node.set_counts(node.live - 1, node.total);
        if node.live == 0 {
            let node = self.nodes.remove(&master).expect("the node");
            self.nodes_bytes -= node.heap_bytes();
        }
        self.length -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.refresh_first_id();
        }
        true
    }

    /// Redis's streamTrim: drops whole nodes from the head while the strategy allows, then
    /// (unless `approx`) marks entries deleted inside the next node. `limit` (0: none) bounds
    /// the entries removed, counted in whole nodes. Returns how many entries went.
    pub fn trim(&mut self, trim: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        loop {
            if let Trim::MaxLen(max) = trim {
                if self.length <= max {
                    break;
                }
            }
            let Some(mut first) = self.nodes.first_entry() else {
                break;
            };
            let master = *first.key();
            let node = first.get_mut();
            let entries = u64::from(node.live);
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match trim {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => node.last < min,
            };
            if remove_node {
                let node = first.remove();
                self.nodes_bytes -= node.heap_bytes();
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let slots: Vec<Slot> = node.slots(master).collect();
            for slot in slots {
                let stop = match trim {
                    Trim::MaxLen(max) => self.length <= max,
                    Trim::MinId(min) => slot.id >= min,
                };
                if stop {
                    break;
                }
                if slot.flags & FLAG_DELETED == 0 {
                    node.buf[slot.at] |= FLAG_DELETED;
                    node.set_counts(node.live - 1, node.total);
                    self.length -= 1;
                    deleted += 1;
                }
            }
            // A node can end here with no live entry (MINID, its last entry deleted before):
            // Redis keeps such a node too, and so do we, so node boundaries stay Redis's.
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else {
            self.refresh_first_id();
        }
        deleted
    }

    /// Redis's streamRangeHasTombstones: whether an entry deleted by XDEL may lie in
    /// `start..=end` (`None`: unbounded).
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        let start = start.unwrap_or(StreamId::MIN);
        let end = end.unwrap_or(StreamId::MAX);
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// Redis's streamEstimateDistanceFromFirstEverEntry: the number of entries up to `id` since
    /// the stream began, or `ENTRIES_READ_INVALID` when it cannot be known.
    pub fn estimate_entries_read(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        let added = self.entries_added as i64;
        if self.length == 0 && id <= self.last_id {
            return added;
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return added,
            std::cmp::Ordering::Greater => return ENTRIES_READ_INVALID,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return added - self.length as i64,
                std::cmp::Ordering::Equal => return added - self.length as i64 + 1,
                std::cmp::Ordering::Greater => {}
            }
        }
        ENTRIES_READ_INVALID
    }

    fn check_invariants(&self) {
        let (mut live, mut bytes) = (0u64, 0usize);
        let mut previous: Option<StreamId> = None;
        for (master, node) in &self.nodes {
            let slots: Vec<Slot> = node.slots(*master).collect();
            assert_eq!(slots.len(), node.total as usize);
            assert_eq!(slots.first().map(|s| s.id), Some(*master));
            let node_live = slots.iter().filter(|s| s.flags & FLAG_DELETED == 0).count();
            assert_eq!(node_live, node.live as usize);
            assert_eq!(slots.last().map(|s| s.id), Some(node.last));
            for s in &slots {
                assert!(previous.is_none_or(|p| p < s.id), "IDs out of order");
                previous = Some(s.id);
            }
            live += node_live as u64;
            bytes += node.heap_bytes();
        }
        assert_eq!(live, self.length);
        assert_eq!(bytes, self.nodes_bytes);
        assert!(previous.is_none_or(|p| p <= self.last_id));
        assert_eq!(
            self.edge(false).map_or(StreamId::MIN, |e| e.id),
            self.first_id
        );
    }
}

/// One pending entry of a group (Redis's NACK).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub consumer: Vec<u8>,
    pub delivery_time_ms: u64,
    pub delivery_count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Consumer {
    pub seen_time_ms: u64,
    pub pending: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub last_id: StreamId,
    /// `ENTRIES_READ_INVALID` when unknown.
    pub entries_read: i64,
    pub pending: BTreeMap<StreamId, Pending>,
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pending: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// The consumer `name`, created (seen now) when new; true when it was created.
    pub fn consumer_or_create(&mut self, name: &[u8], now_ms: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self
            .consumers
            .entry(name.to_vec())
            .or_insert_with(|| Consumer {
                seen_time_ms: now_ms,
                pending: BTreeSet::new(),
            });
        (c, created)
    }

    /// Gives the pending entry `id` to `consumer` (which exists), with a new delivery time and
    /// count; creates it when absent.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], time_ms: u64, count: u64) {
        if let Some(old) = self.pending.get(&id) {
            if old.consumer != consumer {
                let owner = old.consumer.clone();
                if let Some(c) = self.consumers.get_mut(&owner) {
                    c.pending.remove(&id);
                }
            }
        }
        self.pending.insert(
            id,
            Pending {
                consumer: consumer.to_vec(),
                delivery_time_ms: time_ms,
                delivery_count: count,
            },
        );
        self.consumers
            .get_mut(consumer)
            .expect("the consumer exists")
            .pending
            .insert(id);
    }

    /// Removes the pending entry `id` from the group and its owner; false when not pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(p) = self.pending.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&p.consumer) {
            c.pending.remove(&id);
        }
        true
    }

    /// Deletes a consumer and its pending entries; how many it had.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pending {
            self.pending.remove(id);
        }
        Some(c.pending.len())
    }

    fn heap_bytes(&self, name: &[u8]) -> usize {
        let mut bytes = map_slot_bytes(GROUP_BYTES) + class_bytes(name.len());
        for (cname, c) in &self.consumers {
            let name_bytes = class_bytes(cname.len());
            bytes += map_slot_bytes(CONSUMER_BYTES) + name_bytes;
            bytes += c.pending.len()
                * (map_slot_bytes(PENDING_BYTES + CONSUMER_PENDING_BYTES) + name_bytes);
        }
        bytes
    }

    fn check_invariants(&self) {
        let mut owned = 0;
        for (name, c) in &self.consumers {
            for id in &c.pending {
                assert_eq!(
                    self.pending.get(id).map(|p| p.consumer.as_slice()),
                    Some(name.as_slice())
                );
            }
            owned += c.pending.len();
        }
        assert_eq!(
            owned,
            self.pending.len(),
            "a pending entry without its owner"
        );
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Stream {
    log: StreamLog,
    groups: BTreeMap<Vec<u8>, Group>,
    groups_bytes: usize,
}

/// A stream: its entries (`log`) and its consumer groups. Boxed: one pointer in `Collection`.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamValue(Box<Stream>);

impl Default for StreamValue {
    fn default() -> Self {
        StreamValue::new()
    }
}

impl StreamValue {
    pub fn new() -> StreamValue {
        StreamValue(Box::new(Stream {
            log: StreamLog::new(),
            groups: BTreeMap::new(),
            groups_bytes: 0,
        }))
    }

    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    pub fn len(&self) -> usize {
        self.0.log.length as usize
    }

    pub fn is_empty(&self) -> bool {
        self.0.log.length == 0
    }

    pub fn heap_bytes(&self) -> usize {
        class_bytes(STREAM_BYTES) + self.0.log.nodes_bytes + self.0.groups_bytes
    }

    pub fn log(&self) -> &StreamLog {
        &self.0.log
    }

    pub fn log_mut(&mut self) -> &mut StreamLog {
        &mut self.0.log
    }

    pub fn groups(&self) -> &BTreeMap<Vec<u8>, Group> {
        &self.0.groups
    }

    pub fn group(&self, name: &[u8]) -> Option<&Group> {
        self.0.groups.get(name)
    }

    /// Adds a group; false when one of that name exists.
    pub fn create_group(&mut self, name: &[u8], group: Group) -> bool {
        if self.0.groups.contains_key(name) {
            return false;
        }
        self.0.groups_bytes += group.heap_bytes(name);
        self.0.groups.insert(name.to_vec(), group);
        true
    }

    pub fn destroy_group(&mut self, name: &[u8]) -> bool {
        match self.0.groups.remove(name) {
            Some(g) => {
                self.0.groups_bytes -= g.heap_bytes(name);
                true
            }
            None => false,
        }
    }

    /// Lends the log (read-only) and the group `name` (for changing); `None` when there is no
    /// such group. Recounts the group's bytes after.
    pub fn with_group<R>(
        &mut self,
        name: &[u8],
        edit: impl FnOnce(&StreamLog, &mut Group) -> R,
    ) -> Option<R> {
        let stream = &mut *self.0;
        let group = stream.groups.get_mut(name)?;
        let before = group.heap_bytes(name);
        let result = edit(&stream.log, group);
        stream.groups_bytes = stream.groups_bytes - before + group.heap_bytes(name);
        Some(result)
    }

    pub fn check_invariants(&self) {
        self.0.log.check_invariants();
        let mut bytes = 0;
        for (name, g) in &self.0.groups {
            g.check_invariants();
            bytes += g.heap_bytes(name);
        }
        assert_eq!(bytes, self.0.groups_bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limits(entries: usize) -> StreamLimits {
        StreamLimits {
            node_bytes_max: 4096,
            node_entries_max: entries,
        }
    }

    fn ids(log: &StreamLog, start: StreamId, end: StreamId, rev: bool) -> Vec<StreamId> {
        let mut out = Vec::new();
        log.range(start, end, rev, |e| {
            out.push(e.id);
            true
        });
        out
    }

    #[test]
    fn entries_keep_their_fields_shared_or_not() {
        let mut s = StreamValue::new();
        let l = limits(3);
        let log = s.log_mut();
        log.append(StreamId::new(1, 0), &[(b"a", b"1"), (b"b", b"2")], &l);
        log.append(StreamId::new(1, 1), &[(b"a", b"3"), (b"b", b"4")], &l);
        log.append(StreamId::new(5, 0), &[(b"x", b"")], &l);
        log.append(StreamId::new(9, 7), &[(b"a", b"5"), (b"b", b"6")], &l);
        assert_eq!(log.nodes_len(), 2);
        type Pairs = Vec<(Vec<u8>, Vec<u8>)>;
        let got: Vec<(StreamId, Pairs)> = {
            let mut out = Vec::new();
            log.range(StreamId::MIN, StreamId::MAX, false, |e| {
                let pairs = e.pairs().into_iter().map(|(f, v)| (f.to_vec(), v.to_vec()));
                out.push((e.id, pairs.collect()));
                true
            });
            out
        };
        assert_eq!(got.len(), 4);
        assert_eq!(
            got[1].1,
            vec![
                (b"a".to_vec(), b"3".to_vec()),
                (b"b".to_vec(), b"4".to_vec())
            ]
        );
        assert_eq!(got[2].1, vec![(b"x".to_vec(), b"".to_vec())]);
        assert_eq!(got[3].0, StreamId::new(9, 7));
        s.check_invariants();
    }

    #[test]
    fn a_copy_accounts_the_bytes_of_its_original() {
        let mut s = StreamValue::new();
        for i in 1..300 {
            s.log_mut()
                .append(StreamId::new(i, 0), &[(b"f", b"value")], &limits(100));
        }
        let copy = s.clone();
        copy.check_invariants();
        assert_eq!(copy.heap_bytes(), s.heap_bytes());
    }

    #[test]
    fn ids_step_and_compare() {
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.prev(), None);
        assert!(StreamId::new(1, 9) < StreamId::new(2, 0));
    }

    #[test]
    fn radix_nodes_count_as_redis_rax() {
        let mut s = StreamValue::new();
        assert_eq!(s.log().radix_nodes(), 1);
        s.log_mut()
            .append(StreamId::new(1, 1), &[(b"a", b"1")], &limits(100));
        assert_eq!(s.log().radix_nodes(), 2);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Add { ms_step: u8, width: u8, same: bool },
        Del { pick: u16 },
        Trim { maxlen: u8, approx: bool, limit: u8 },
        TrimMin { pick: u16, approx: bool },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u8..3, 0u8..40, any::<bool>())
                .prop_map(|(ms_step, width, same)| Op::Add { ms_step, width, same }),
            2 => any::<u16>().prop_map(|pick| Op::Del { pick }),
            1 => (0u8..30, any::<bool>(), 0u8..12)
                .prop_map(|(maxlen, approx, limit)| Op::Trim { maxlen, approx, limit }),
            1 => (any::<u16>(), any::<bool>()).prop_map(|(pick, approx)| Op::TrimMin { pick, approx }),
        ]
    }

    proptest! {
        /// The packed log reads back what a plain ordered map holds, in both directions, after
        /// appends, deletes and trims (exact ones: approximate trims may keep more, never
        /// fewer, and only whole-node prefixes go).
        #[test]
        fn packed_log_matches_an_ordered_map(ops in proptest::collection::vec(op(), 1..300)) {
            let l = limits(5);
            let mut s = StreamValue::new();
            let mut model: BTreeMap<StreamId, Vec<u8>> = BTreeMap::new();
            let mut next = StreamId::new(1, 0);
            for op in ops {
                let log = s.log_mut();
                match op {
                    Op::Add { ms_step, width, same } => {
                        let value = vec![b'v'; width as usize];
                        let field: &[u8] = if same { b"f" } else { b"g" };
                        log.append(next, &[(field, &value)], &l);
                        model.insert(next, value);
                        next = if ms_step == 0 { next.next().unwrap() } else {
                            StreamId::new(next.ms + u64::from(ms_step), 0)
                        };
                    }
                    Op::Del { pick } => {
                        let keys: Vec<StreamId> = model.keys().copied().collect();
                        if !keys.is_empty() {
                            let id = keys[pick as usize % keys.len()];
                            prop_assert!(log.delete(id));
                            prop_assert!(!log.delete(id));
                            model.remove(&id);
                        }
                    }
                    Op::Trim { maxlen, approx, limit } => {
                        let before = model.len() as u64;
                        let went = log.trim(Trim::MaxLen(u64::from(maxlen)), approx, u64::from(limit));
                        prop_assert_eq!(before - went, log.len());
                        if !approx && limit == 0 {
                            prop_assert!(log.len() <= u64::from(maxlen));
                        }
                        for _ in 0..went {
                            let first = *model.keys().next().unwrap();
                            model.remove(&first);
                        }
                    }
                    Op::TrimMin { pick, approx } => {
                        let min = StreamId::new(u64::from(pick % 64), 0);
                        let went = log.trim(Trim::MinId(min), approx, 0);
                        for _ in 0..went {
                            let first = *model.keys().next().unwrap();
                            prop_assert!(first < min);
                            model.remove(&first);
                        }
                        if !approx {
                            prop_assert!(model.keys().next().is_none_or(|k| *k >= min));
                        }
                    }
                }
                s.check_invariants();
                let want: Vec<StreamId> = model.keys().copied().collect();
                prop_assert_eq!(ids(s.log(), StreamId::MIN, StreamId::MAX, false), want.clone());
                let mut rev = want.clone();
                rev.reverse();
                prop_assert_eq!(ids(s.log(), StreamId::MIN, StreamId::MAX, true), rev);
                if want.len() > 2 {
                    let (a, b) = (want[1], want[want.len() - 2]);
                    prop_assert_eq!(ids(s.log(), a, b, false), want[1..want.len() - 1].to_vec());
                }
                for (id, value) in &model {
                    let e = s.log().get(*id).unwrap();
                    prop_assert_eq!(e.pairs()[0].1, value.as_slice());
                }
            }
        }
    }
}
