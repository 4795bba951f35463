//! A list value (LPUSH and friends): Redis 7.0's quicklist, a deque of packed nodes.
//!
//! Redis 7.0 creates every list as a quicklist (OBJECT ENCODING says "quicklist" for a list of
//! one element as for a million; 7.2 added a plain listpack encoding for small lists). So the
//! node layout is ours to choose: clients see it only through memory.
//!
//! A node packs its elements into one buffer, data first, lengths after:
//!
//! ```text
//!  [e0 bytes][e1 bytes]…[en bytes] [len e0][len e1]…[len en]      (len: LEB128, packed.rs)
//!  ^0                              ^data_bytes                  ^buf.len()
//! ```
//!
//! Why this shape: one byte of length per short element (a 16-byte element costs 17 bytes,
//! Redis's listpack spends 18), yet both ends are found in O(1): the first length opens the
//! lengths region, and LEB128 parses backwards too (a number's last byte is the only one below
//! 0x80), so the last length ends the buffer. RPUSH and RPOP move only the lengths region;
//! LPUSH and LPOP move the node, at most `list-max-listpack-size` bytes, as Redis's listpack
//! inserts do. Middle edits (LINSERT, LSET, LREM, LTRIM's edges) rebuild the nodes they touch.
//!
//! Nodes are bounded by `list-max-listpack-size` (`ListLimits`): a push that would pass the
//! bound opens a new node at that end; an element bigger than the bound gets a node of its own.
//! No node is ever empty. `heap_bytes` is O(1): the list keeps the sum over its nodes.

use std::collections::VecDeque;

use super::packed::{get_varint, put_varint, reserve_class, varint_len, vec_bytes};
use super::size_class::class_bytes;

/// Redis's quicklist fill bounds: a positive fill is capped at FILL_MAX entries, a negative one
/// at -5 (64 KiB).
const FILL_MAX: i64 = 1 << 15;
const FILL_MIN: i64 = -5;
/// With a positive fill a node still stays under Redis's SIZE_SAFETY_LIMIT bytes.
const NODE_SAFETY_LIMIT_BYTES: usize = 8192;
/// Bytes of a node at fill -1; each step down doubles it (Redis's optimization_level).
const NODE_LEVEL_BASE_BYTES: usize = 4096;

/// Redis's `list-max-listpack-size` (alias `list-max-ziplist-size`): positive, the most
/// elements per node; -1..-5, at most 4/8/16/32/64 KiB per node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListLimits {
    pub fill: i64,
}

impl Default for ListLimits {
    fn default() -> ListLimits {
        ListLimits { fill: -2 }
    }
}

/// A list of at least this many nodes opens each new node at its full byte bound at once: a
/// long list fills its nodes, and growing each through every size class left the allocator's
/// pages fragmented (RSS 20.2 B/element for 1,000,000 × 16 B against 17.1 counted).
const PRESIZE_FROM_NODES: usize = 4;

impl ListLimits {
    /// The byte bound of a node, when the fill sets one below the safety limit's (negative
    /// fills); a positive fill bounds entries, and its nodes grow as they fill.
    fn node_bytes(&self) -> Option<usize> {
        let fill = self.fill.clamp(FILL_MIN, FILL_MAX);
        (fill < 0).then(|| NODE_LEVEL_BASE_BYTES << (fill.unsigned_abs() - 1))
    }

    /// Whether a node of `len` elements and `bytes` bytes takes one more of `add_bytes`.
    fn accepts(&self, len: usize, bytes: usize, add_bytes: usize) -> bool {
        let fill = self.fill.clamp(FILL_MIN, FILL_MAX);
        let new_bytes = bytes + add_bytes;
        if fill >= 0 {
            (len as i64) < fill && new_bytes <= NODE_SAFETY_LIMIT_BYTES
        } else {
            new_bytes <= NODE_LEVEL_BASE_BYTES << (fill.unsigned_abs() - 1)
        }
    }
}

/// Which end of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

/// One packed node (see the module doc).
#[derive(Debug, Default)]
struct Node {
    buf: Vec<u8>,
    data_bytes: u32,
    len: u32,
}

impl Clone for Node {
    /// Keeps the buffer's capacity: the list's byte sum counts it (a derived clone would
    /// allocate only the length, and the copy's count would be off).
    fn clone(&self) -> Node {
        let mut buf = Vec::with_capacity(self.buf.capacity());
        buf.extend_from_slice(&self.buf);
        Node {
            buf,
            data_bytes: self.data_bytes,
            len: self.len,
        }
    }
}

fn packed_len(elem: &[u8]) -> usize {
    elem.len() + varint_len(u32::try_from(elem.len()).expect("element length fits u32"))
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a node holds fewer than 2^32 bytes")
}

impl Node {
    fn heap_bytes(&self) -> usize {
        vec_bytes(&self.buf)
    }

    fn data_end(&self) -> usize {
        self.data_bytes as usize
    }

    fn push_back(&mut self, elem: &[u8]) {
        let (old, d, e) = (self.buf.len(), self.data_end(), elem.len());
        reserve_class(&mut self.buf, packed_len(elem));
        self.buf.resize(old + e, 0);
        self.buf.copy_within(d..old, d + e);
        self.buf[d..d + e].copy_from_slice(elem);
        put_varint(&mut self.buf, to_u32(e));
        self.data_bytes = to_u32(d + e);
        self.len += 1;
    }

    fn push_front(&mut self, elem: &[u8]) {
        let (old, d, e) = (self.buf.len(), self.data_end(), elem.len());
        let mut head = Vec::with_capacity(5);
        put_varint(&mut head, to_u32(e));
        let v = head.len();
        reserve_class(&mut self.buf, e + v);
        self.buf.resize(old + e + v, 0);
        self.buf.copy_within(d..old, d + e + v);
        self.buf.copy_within(0..d, e);
        self.buf[..e].copy_from_slice(elem);
        self.buf[d + e..d + e + v].copy_from_slice(&head);
        self.data_bytes = to_u32(d + e);
        self.len += 1;
    }

    /// Where the last length starts: LEB128 read backwards (see the module doc).
    fn last_len_at(&self) -> usize {
        let end = self.buf.len();
        debug_assert!(end > self.data_end() && self.buf[end - 1] < 0x80);
        let mut at = end - 1;
        while at > self.data_end() && self.buf[at - 1] >= 0x80 {
            at -= 1;
        }
        at
    }

    fn pop_back(&mut self) -> Vec<u8> {
        let at = self.last_len_at();
        let (len, _) = get_varint(&self.buf, at);
        let d = self.data_end();
        let start = d - len as usize;
        let elem = self.buf[start..d].to_vec();
        self.buf.truncate(at);
        self.buf.drain(start..d);
        self.data_bytes = to_u32(start);
        self.len -= 1;
        self.shrink();
        elem
    }

    fn pop_front(&mut self) -> Vec<u8> {
        let d = self.data_end();
        let (len, v) = get_varint(&self.buf, d);
        let e = len as usize;
        let elem = self.buf[..e].to_vec();
        let old = self.buf.len();
        self.buf.copy_within(e..d, 0);
        self.buf.copy_within(d + v..old, d - e);
        self.buf.truncate(old - e - v);
        self.data_bytes = to_u32(d - e);
        self.len -= 1;
        self.shrink();
        elem
    }

    /// Gives memory back once the buffer is less than half used (amortised: the next shrink
    /// needs the contents to halve again).
    fn shrink(&mut self) {
        let used = self.buf.len();
        if self.buf.capacity() > 2 * used + 64 {
            self.buf.shrink_to(class_bytes(used + used / 8));
        }
    }

    fn from_elems<'a>(elems: impl Iterator<Item = &'a [u8]> + Clone) -> Node {
        let bytes: usize = elems.clone().map(packed_len).sum();
        let mut buf = Vec::with_capacity(class_bytes(bytes));
        let mut len = 0;
        for e in elems.clone() {
            buf.extend_from_slice(e);
            len += 1;
        }
        let data_bytes = to_u32(buf.len());
        for e in elems {
            put_varint(&mut buf, to_u32(e.len()));
        }
        Node {
            buf,
            data_bytes,
            len,
        }
    }

    fn iter(&self) -> NodeIter<'_> {
        NodeIter {
            node: self,
            front_data: 0,
            front_len: self.data_end(),
            back_data: self.data_end(),
            back_len: self.buf.len(),
            left: self.len as usize,
        }
    }
}

/// A node's elements, from either end.
#[derive(Clone)]
struct NodeIter<'a> {
    node: &'a Node,
    front_data: usize,
    front_len: usize,
    back_data: usize,
    back_len: usize,
    left: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (len, v) = get_varint(&self.node.buf, self.front_len);
        let start = self.front_data;
        self.front_data += len as usize;
        self.front_len += v;
        Some(&self.node.buf[start..self.front_data])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for NodeIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let buf = &self.node.buf;
        let mut at = self.back_len - 1;
        while at > self.node.data_end() && buf[at - 1] >= 0x80 {
            at -= 1;
        }
        let (len, _) = get_varint(buf, at);
        self.back_len = at;
        let end = self.back_data;
        self.back_data -= len as usize;
        Some(&buf[self.back_data..end])
    }
}

impl ExactSizeIterator for NodeIter<'_> {}

/// The list behind its one pointer (a `Collection` stays small for every type).
#[derive(Clone, Debug, Default)]
struct Quick {
    nodes: VecDeque<Node>,
    len: usize,
    /// Sum of the nodes' `heap_bytes`.
    nodes_bytes: usize,
}

#[derive(Clone, Debug, Default)]
pub struct ListValue {
    q: Box<Quick>,
}

impl PartialEq for ListValue {
    fn eq(&self, other: &ListValue) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl ListValue {
    pub fn new() -> ListValue {
        ListValue::default()
    }

    pub fn len(&self) -> usize {
        self.q.len
    }

    pub fn is_empty(&self) -> bool {
        self.q.len == 0
    }

    /// OBJECT ENCODING's name: always "quicklist" in Redis 7.0.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes this value owns, by allocator class (not the value's own box). O(1).
    pub fn heap_bytes(&self) -> usize {
        let deque = class_bytes(self.q.nodes.capacity() * std::mem::size_of::<Node>());
        class_bytes(std::mem::size_of::<Quick>()) + deque + self.q.nodes_bytes
    }

    /// Makes room for one more node: grows by half (the deque's own doubling would leave up to
    /// half its buffer unused in a list of one node).
    fn reserve_node(&mut self) {
        let nodes = &mut self.q.nodes;
        if nodes.len() == nodes.capacity() {
            nodes.reserve_exact((nodes.len() / 2).max(1));
        }
    }

    /// Gives the deque's memory back once it is less than half used.
    fn shrink_nodes(&mut self) {
        let nodes = &mut self.q.nodes;
        if nodes.capacity() > 2 * nodes.len() + 2 {
            nodes.shrink_to(nodes.len() + nodes.len() / 2);
        }
    }

    /// Runs `edit` on node `at`, keeping the byte count.
    fn edit_node<R>(&mut self, at: usize, edit: impl FnOnce(&mut Node) -> R) -> R {
        let q = &mut *self.q;
        let node = &mut q.nodes[at];
        q.nodes_bytes -= node.heap_bytes();
        let r = edit(node);
        q.nodes_bytes += node.heap_bytes();
        r
    }

    fn end_node(&self, end: End) -> Option<usize> {
        let n = self.q.nodes.len();
        match (end, n) {
            (_, 0) => None,
            (End::Left, _) => Some(0),
            (End::Right, _) => Some(n - 1),
        }
    }

    /// Pushes `elem` at `end`.
    pub fn push(&mut self, end: End, elem: &[u8], limits: &ListLimits) {
        let add = packed_len(elem);
        let room = self.end_node(end).filter(|&at| {
            let node = &self.q.nodes[at];
            limits.accepts(node.len as usize, node.buf.len(), add)
        });
        match room {
            Some(at) => self.edit_node(at, |node| match end {
                End::Left => node.push_front(elem),
                End::Right => node.push_back(elem),
            }),
            None => {
                let mut node = Node::from_elems(std::iter::once(elem));
                if self.q.nodes.len() >= PRESIZE_FROM_NODES {
                    if let Some(bytes) = limits.node_bytes() {
                        let extra = bytes.saturating_sub(node.buf.len());
                        reserve_class(&mut node.buf, extra);
                    }
                }
                self.q.nodes_bytes += node.heap_bytes();
                self.reserve_node();
                match end {
                    End::Left => self.q.nodes.push_front(node),
                    End::Right => self.q.nodes.push_back(node),
                }
            }
        }
        self.q.len += 1;
    }

    /// Pushes `elems` in order at `end` (LPUSH a b c leaves c first). When they all fit the end
    /// node (or one new node), its buffer grows once, not through every size class on the way.
    pub fn push_all(&mut self, end: End, elems: &[&[u8]], limits: &ListLimits) {
        let Some(last) = elems.len().checked_sub(1) else {
            return;
        };
        let bytes: usize = elems.iter().map(|e| packed_len(e)).sum();
        match self.end_node(end) {
            Some(at) => {
                let node = &self.q.nodes[at];
                if limits.accepts(node.len as usize + last, node.buf.len(), bytes) {
                    self.edit_node(at, |node| reserve_class(&mut node.buf, bytes));
                }
            }
            None if limits.accepts(last, 0, bytes) => {
                let node = match end {
                    End::Left => Node::from_elems(elems.iter().rev().copied()),
                    End::Right => Node::from_elems(elems.iter().copied()),
                };
                self.q.nodes_bytes += node.heap_bytes();
                self.reserve_node();
                self.q.nodes.push_back(node);
                self.q.len += elems.len();
                return;
            }
            None => {}
        }
        for e in elems {
            self.push(end, e, limits);
        }
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let at = self.end_node(end)?;
        let elem = self.edit_node(at, |node| match end {
            End::Left => node.pop_front(),
            End::Right => node.pop_back(),
        });
        self.q.len -= 1;
        if self.q.nodes[at].len == 0 {
            self.remove_node(at);
        }
        Some(elem)
    }

    fn remove_node(&mut self, at: usize) {
        let node = self.q.nodes.remove(at).expect("node index in range");
        self.q.nodes_bytes -= node.heap_bytes();
        self.shrink_nodes();
    }

    /// The node holding element `index` and the element's index inside it, walking from the
    /// nearer end.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.q.len {
            return None;
        }
        let nodes = &self.q.nodes;
        if index < self.q.len / 2 {
            let mut skipped = 0;
            for (at, node) in nodes.iter().enumerate() {
                let n = node.len as usize;
                if index < skipped + n {
                    return Some((at, index - skipped));
                }
                skipped += n;
            }
        } else {
            let mut first = self.q.len;
            for (at, node) in nodes.iter().enumerate().rev() {
                first -= node.len as usize;
                if index >= first {
                    return Some((at, index - first));
                }
            }
        }
        unreachable!("index {index} below len {} is in a node", self.q.len)
    }

    /// The element at `index` (0 is the left end).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let (at, i) = self.locate(index)?;
        let node = &self.q.nodes[at];
        if i < node.len as usize / 2 {
            node.iter().nth(i)
        } else {
            node.iter().nth_back(node.len as usize - 1 - i)
        }
    }

    /// Every element, left to right.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.q.nodes.iter().flat_map(Node::iter)
    }

    /// The elements from `index` rightwards (LRANGE), starting at its node.
    pub fn iter_from(&self, index: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let (at, skip) = self.locate(index).unwrap_or((self.q.nodes.len(), 0));
        self.q.nodes.range(at..).flat_map(Node::iter).skip(skip)
    }

    /// Replaces node `at` with nodes holding `elems`, split by `limits`.
    fn rebuild_node(&mut self, at: usize, elems: &[&[u8]], limits: &ListLimits) {
        let old = self.q.nodes.remove(at).expect("node index in range");
        self.q.nodes_bytes -= old.heap_bytes();
        self.q.len = self.q.len - old.len as usize + elems.len();
        let mut at = at;
        let mut from = 0;
        while from < elems.len() {
            let (mut to, mut bytes) = (from, 0);
            while to < elems.len()
                && (to == from || limits.accepts(to - from, bytes, packed_len(elems[to])))
            {
                bytes += packed_len(elems[to]);
                to += 1;
            }
            let node = Node::from_elems(elems[from..to].iter().copied());
            self.q.nodes_bytes += node.heap_bytes();
            self.reserve_node();
            self.q.nodes.insert(at, node);
            at += 1;
            from = to;
        }
        self.shrink_nodes();
    }

    /// Replaces the element at `index`; false when out of range.
    pub fn set(&mut self, index: usize, elem: &[u8], limits: &ListLimits) -> bool {
        let Some((at, i)) = self.locate(index) else {
            return false;
        };
        let old = self.q.nodes[at].clone();
        let mut elems: Vec<&[u8]> = old.iter().collect();
        elems[i] = elem;
        self.rebuild_node(at, &elems, limits);
        true
    }

    /// Inserts `elem` so that it becomes element `index` (index <= len).
    pub fn insert(&mut self, index: usize, elem: &[u8], limits: &ListLimits) {
        match index {
            0 => return self.push(End::Left, elem, limits),
            i if i == self.q.len => return self.push(End::Right, elem, limits),
            _ => {}
        }
        let (at, i) = self.locate(index).expect("insert index within the list");
        let old = self.q.nodes[at].clone();
        let mut elems: Vec<&[u8]> = old.iter().collect();
        elems.insert(i, elem);
        self.rebuild_node(at, &elems, limits);
    }

    /// Removes `n` elements from `end` (LTRIM): whole nodes drop, the edge node is rebuilt.
    pub fn remove_end(&mut self, end: End, n: usize, limits: &ListLimits) {
        let mut left = n.min(self.q.len);
        while left > 0 {
            let at = self.end_node(end).expect("elements left to remove");
            let node_len = self.q.nodes[at].len as usize;
            if node_len <= left {
                self.q.len -= node_len;
                self.remove_node(at);
                left -= node_len;
                continue;
            }
            let old = self.q.nodes[at].clone();
            let elems: Vec<&[u8]> = match end {
                End::Left => old.iter().skip(left).collect(),
                End::Right => old.iter().take(node_len - left).collect(),
            };
            self.rebuild_node(at, &elems, limits);
            left = 0;
        }
    }

    /// Removes up to `limit` elements equal to `elem` (0: all), scanning from `from`; returns
    /// how many went (LREM).
    pub fn remove_matching(
        &mut self,
        elem: &[u8],
        from: End,
        limit: usize,
        limits: &ListLimits,
    ) -> usize {
        let mut removed = 0;
        let n = self.q.nodes.len();
        let order: Vec<usize> = match from {
            End::Left => (0..n).collect(),
            End::Right => (0..n).rev().collect(),
        };
        // Right to left removal keeps the indexes of nodes not yet visited valid; left to right
        // rebuilds are applied afterwards, from the last node back, for the same reason.
        let mut rebuilt: Vec<(usize, Vec<Vec<u8>>)> = Vec::new();
        for at in order {
            if limit != 0 && removed >= limit {
                break;
            }
            let node = &self.q.nodes[at];
            if !node.iter().any(|e| e == elem) {
                continue;
            }
            let mut keep_flags = vec![true; node.len as usize];
            let positions: Vec<usize> = match from {
                End::Left => (0..node.len as usize).collect(),
                End::Right => (0..node.len as usize).rev().collect(),
            };
            let elems: Vec<&[u8]> = node.iter().collect();
            for i in positions {
                if limit != 0 && removed >= limit {
                    break;
                }
                if elems[i] == elem {
                    keep_flags[i] = false;
                    removed += 1;
                }
            }
            let kept = elems
                .iter()
                .zip(&keep_flags)
                .filter(|(_, keep)| **keep)
                .map(|(e, _)| e.to_vec())
                .collect();
            rebuilt.push((at, kept));
        }
        rebuilt.sort_by_key(|r| std::cmp::Reverse(r.0));
        for (at, kept) in rebuilt {
            if kept.is_empty() {
                self.q.len -= self.q.nodes[at].len as usize;
                self.remove_node(at);
            } else {
                let slices: Vec<&[u8]> = kept.iter().map(Vec::as_slice).collect();
                self.rebuild_node(at, &slices, limits);
            }
        }
        removed
    }

    /// Recounts elements and bytes the slow way; no node is empty or past a sane layout.
    pub fn check_invariants(&self) {
        let mut len = 0;
        let mut bytes = 0;
        for node in &self.q.nodes {
            assert!(node.len > 0, "an empty list node");
            let elems: Vec<&[u8]> = node.iter().collect();
            assert_eq!(elems.len(), node.len as usize, "node element count");
            let data: usize = elems.iter().map(|e| e.len()).sum();
            assert_eq!(data, node.data_end(), "node data region");
            let packed: usize = elems.iter().map(|e| packed_len(e)).sum();
            assert_eq!(packed, node.buf.len(), "node bytes");
            let back: Vec<&[u8]> = node.iter().rev().collect();
            assert!(back.iter().rev().eq(elems.iter()), "node read backwards");
            len += node.len as usize;
            bytes += node.heap_bytes();
        }
        assert_eq!(len, self.q.len, "list length");
        assert_eq!(bytes, self.q.nodes_bytes, "list node bytes");
    }

    /// Nodes in the list (tests and memory figures).
    pub fn nodes_len(&self) -> usize {
        self.q.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn elem(n: u16, wide: bool) -> Vec<u8> {
        let mut e = format!("e{n}").into_bytes();
        if wide {
            e.extend(std::iter::repeat_n(b'w', 150 + usize::from(n % 50)));
        }
        e
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(bool, u16, bool),
        PushAll(bool, Vec<u16>),
        Pop(bool),
        Set(usize, u16),
        Insert(usize, u16),
        RemoveEnd(bool, usize),
        RemoveMatching(u16, bool, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<bool>(), 0u16..20, prop::bool::weighted(0.1))
                .prop_map(|(l, n, w)| Op::Push(l, n, w)),
            2 => (any::<bool>(), proptest::collection::vec(0u16..20, 0..30))
                .prop_map(|(l, ns)| Op::PushAll(l, ns)),
            3 => any::<bool>().prop_map(Op::Pop),
            1 => (0usize..300, 0u16..20).prop_map(|(i, n)| Op::Set(i, n)),
            1 => (0usize..300, 0u16..20).prop_map(|(i, n)| Op::Insert(i, n)),
            1 => (any::<bool>(), 0usize..40).prop_map(|(l, n)| Op::RemoveEnd(l, n)),
            1 => (0u16..20, any::<bool>(), 0usize..4)
                .prop_map(|(n, l, c)| Op::RemoveMatching(n, l, c)),
        ]
    }

    fn end(left: bool) -> End {
        if left {
            End::Left
        } else {
            End::Right
        }
    }

    fn apply(list: &mut ListValue, model: &mut VecDeque<Vec<u8>>, op: &Op, lim: &ListLimits) {
        match *op {
            Op::Push(left, n, wide) => {
                let e = elem(n, wide);
                list.push(end(left), &e, lim);
                if left {
                    model.push_front(e);
                } else {
                    model.push_back(e);
                }
            }
            Op::PushAll(left, ref ns) => {
                let es: Vec<Vec<u8>> = ns.iter().map(|&n| elem(n, false)).collect();
                let slices: Vec<&[u8]> = es.iter().map(Vec::as_slice).collect();
                list.push_all(end(left), &slices, lim);
                for e in es {
                    if left {
                        model.push_front(e);
                    } else {
                        model.push_back(e);
                    }
                }
            }
            Op::Pop(left) => {
                let want = if left {
                    model.pop_front()
                } else {
                    model.pop_back()
                };
                assert_eq!(list.pop(end(left)), want);
            }
            Op::Set(i, n) => {
                let e = elem(n, false);
                assert_eq!(list.set(i, &e, lim), i < model.len());
                if i < model.len() {
                    model[i] = e;
                }
            }
            Op::Insert(i, n) => {
                let i = i.min(model.len());
                let e = elem(n, false);
                list.insert(i, &e, lim);
                model.insert(i, e);
            }
            Op::RemoveEnd(left, n) => {
                list.remove_end(end(left), n, lim);
                for _ in 0..n.min(model.len()) {
                    if left {
                        model.pop_front();
                    } else {
                        model.pop_back();
                    }
                }
            }
            Op::RemoveMatching(n, left, limit) => {
                let e = elem(n, false);
                let got = list.remove_matching(&e, end(left), limit, lim);
                let mut removed = 0;
                let mut positions: Vec<usize> = (0..model.len()).collect();
                if !left {
                    positions.reverse();
                }
                let mut drop = vec![false; model.len()];
                for i in positions {
                    if (limit == 0 || removed < limit) && model[i] == e {
                        drop[i] = true;
                        removed += 1;
                    }
                }
                let mut i = 0;
                model.retain(|_| {
                    i += 1;
                    !drop[i - 1]
                });
                assert_eq!(got, removed);
            }
        }
    }

    proptest! {
        #[test]
        fn list_follows_a_deque(
            ops in proptest::collection::vec(op(), 1..400),
            fill in prop_oneof![Just(-2i64), Just(-1), Just(1), Just(3), Just(0), Just(-9)],
        ) {
            let lim = ListLimits { fill };
            let mut list = ListValue::new();
            let mut model = VecDeque::new();
            for op in &ops {
                apply(&mut list, &mut model, op, &lim);
                list.check_invariants();
                prop_assert_eq!(list.len(), model.len());
            }
            let got: Vec<&[u8]> = list.iter().collect();
            let want: Vec<&[u8]> = model.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(&got, &want);
            let back: Vec<&[u8]> = list.iter().rev().collect();
            prop_assert!(back.into_iter().rev().eq(want.iter().copied()));
            for (i, e) in want.iter().enumerate() {
                prop_assert_eq!(list.get(i), Some(*e));
                prop_assert!(list.iter_from(i).eq(want[i..].iter().copied()));
            }
            prop_assert_eq!(list.get(want.len()), None);
        }
    }

    #[test]
    fn nodes_follow_the_fill() {
        let mut list = ListValue::new();
        let lim = ListLimits { fill: 3 };
        for i in 0..10u16 {
            list.push(End::Right, &elem(i, false), &lim);
        }
        assert_eq!(list.nodes_len(), 4);
        let lim = ListLimits::default();
        let mut list = ListValue::new();
        for _ in 0..1000 {
            list.push(End::Left, &[b'x'; 16], &lim);
        }
        // 8 KiB nodes of 17-byte records.
        assert_eq!(list.nodes_len(), 1000usize.div_ceil(8192 / 17));
        list.check_invariants();
        // A long element gets a node of its own.
        let mut list = ListValue::new();
        list.push(End::Right, b"a", &lim);
        list.push(End::Right, &vec![b'y'; 10_000], &lim);
        list.push(End::Right, b"b", &lim);
        assert_eq!(list.nodes_len(), 3);
        list.check_invariants();
    }

    /// Regression (sim seed 3351): a copied list (COPY, a gathered multi-key command) kept the
    /// original's byte sum while a derived clone shrank its buffers.
    #[test]
    fn a_clone_keeps_its_byte_count() {
        let mut list = ListValue::new();
        for i in 0..3u16 {
            list.push(End::Right, &elem(i, false), &ListLimits::default());
        }
        list.pop(End::Right);
        let copy = list.clone();
        copy.check_invariants();
        assert_eq!(copy.heap_bytes(), list.heap_bytes());
    }

    #[test]
    fn long_lengths_read_backwards() {
        let lim = ListLimits { fill: -5 };
        let mut list = ListValue::new();
        for n in [0usize, 127, 128, 300, 16_383, 16_384, 5] {
            list.push(End::Right, &vec![b'a'; n], &lim);
        }
        list.check_invariants();
        for n in [5usize, 16_384, 16_383, 300, 128, 127, 0] {
            assert_eq!(list.pop(End::Right).map(|e| e.len()), Some(n));
            list.check_invariants();
        }
        assert!(list.is_empty());
    }
}
