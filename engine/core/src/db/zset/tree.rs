//! The order-statistic B+tree of a large sorted set: (score, member) pairs in key order, with
//! each inner node keeping the element count of every child, so a rank is found in O(log n).
//!
//! ```text
//!  inner: children [node u32 | count u32]…   seps: records for children 1..n (record.rs)
//!  leaf:  records [len][member][score]…       packed, in key order, at most LEAF_BYTES_MAX
//! ```
//!
//! Why: Redis's skiplist spends a node per element (a header, a level array of 16 bytes per
//! level, a backward pointer) plus an sds per member: about 60 bytes before the data. A leaf
//! here packs its records back to back (a length byte, the member, one to nine score bytes), and
//! the inner nodes cost a few bytes per leaf, so the tree adds little to the data itself.
//!
//! Invariants (`check_invariants`): every leaf sits at depth `height`; a child's count is the
//! number of records under it, `len` their sum; records are in strictly increasing key order
//! across leaves; separator `i` of an inner node is no greater than every key under child `i` and
//! greater than every key under child `i - 1` (a separator is a copy of a key, which may since
//! have been removed); `bytes` is the sum of the nodes' buffers by allocator class.
//!
//! Navigation takes a monotone predicate `below(score, member)` (true on a prefix of the keys):
//! at an inner node it enters the last child whose separator is below, having counted the
//! children before it. So one descent answers "how many keys are below X" for a score bound, a
//! lex bound or a key. A leaf splits when its bytes pass `LEAF_BYTES_MAX` (at the insertion point
//! when the insert was at either end, so ascending or descending loads leave full leaves), an
//! inner node when its children pass `FANOUT_MAX`. A removal merges an underfull node into a
//! sibling when both fit in one, and the root steps down while it has a single child.

use std::cmp::Ordering;

use super::record::{self, cmp_key, records};
use crate::db::packed::{reserve_class, vec_bytes};

/// A leaf splits when its records pass this many bytes (a leaf keeps at least one record).
const LEAF_BYTES_MAX: usize = 512;
/// A leaf below this many bytes merges into a sibling when they fit together.
const LEAF_BYTES_MIN: usize = LEAF_BYTES_MAX / 4;
/// An inner node splits when its children pass this many.
const FANOUT_MAX: usize = 48;
/// An inner node below this many children merges into a sibling when they fit together.
const FANOUT_MIN: usize = FANOUT_MAX / 4;
/// Deepest tree: a tree of `FANOUT_MAX / 2`-way inner nodes this deep holds more than 2^32 keys.
const HEIGHT_MAX: usize = 16;
const NIL: u32 = u32::MAX;

const _: () = assert!(FANOUT_MIN >= 2 && FANOUT_MAX >= 4 * FANOUT_MIN);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Child {
    node: u32,
    count: u32,
}

#[derive(Clone, Debug)]
enum Node {
    Leaf { recs: Vec<u8>, len: u32 },
    Inner { children: Vec<Child>, seps: Vec<u8> },
    Free { next: u32 },
}

fn node_bytes(node: &Node) -> usize {
    match node {
        Node::Leaf { recs, .. } => vec_bytes(recs),
        Node::Inner { children, seps } => vec_bytes(children) + vec_bytes(seps),
        Node::Free { .. } => 0,
    }
}

/// The way down to a leaf: at each inner level the node and the child taken.
struct Descent {
    path: [(u32, usize); HEIGHT_MAX],
    depth: usize,
    leaf: u32,
    /// Keys left of the leaf.
    before: usize,
}

#[derive(Clone, Debug)]
pub struct Tree {
    nodes: Vec<Node>,
    free_head: u32,
    root: u32,
    height: usize,
    len: usize,
    /// Sum of `node_bytes` over the nodes.
    bytes: usize,
}

/// Byte offset of separator `index` (of child `index`, from 1) in `seps`.
fn sep_offset(seps: &[u8], index: usize) -> usize {
    records(seps)
        .nth(index - 1)
        .map_or(seps.len(), |found| found.at)
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            nodes: vec![Node::Leaf {
                recs: Vec::new(),
                len: 0,
            }],
            free_head: NIL,
            root: 0,
            height: 0,
            len: 0,
            bytes: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The nodes' buffers and the node array, by class. O(1).
    pub fn heap_bytes(&self) -> usize {
        self.bytes + vec_bytes(&self.nodes)
    }

    fn leaf(&self, id: u32) -> (&[u8], usize) {
        match &self.nodes[id as usize] {
            Node::Leaf { recs, len } => (recs, *len as usize),
            other => unreachable!("node {id} is not a leaf: {other:?}"),
        }
    }

    fn inner(&self, id: u32) -> (&[Child], &[u8]) {
        match &self.nodes[id as usize] {
            Node::Inner { children, seps } => (children, seps),
            other => unreachable!("node {id} is not inner: {other:?}"),
        }
    }

    /// Runs `f` on node `id`, keeping `bytes` exact however `f` resizes its buffers.
    fn edit<R>(&mut self, id: u32, f: impl FnOnce(&mut Node) -> R) -> R {
        let node = &mut self.nodes[id as usize];
        let before = node_bytes(node);
        let result = f(node);
        self.bytes = self.bytes - before + node_bytes(&self.nodes[id as usize]);
        result
    }

    fn alloc(&mut self, node: Node) -> u32 {
        self.bytes += node_bytes(&node);
        if self.free_head != NIL {
            let id = self.free_head;
            let Node::Free { next } = self.nodes[id as usize] else {
                unreachable!("the free list holds free nodes");
            };
            self.free_head = next;
            self.nodes[id as usize] = node;
            return id;
        }
        reserve_class(&mut self.nodes, 1);
        self.nodes.push(node);
        u32::try_from(self.nodes.len() - 1).expect("node ids fit u32")
    }

    fn release(&mut self, id: u32) {
        self.bytes -= node_bytes(&self.nodes[id as usize]);
        self.nodes[id as usize] = Node::Free {
            next: self.free_head,
        };
        self.free_head = id;
    }

    /// Descends into the last child whose separator is `below`.
    fn descend_by(&self, below: &dyn Fn(f64, &[u8]) -> bool) -> Descent {
        let mut d = Descent {
            path: [(NIL, 0); HEIGHT_MAX],
            depth: 0,
            leaf: self.root,
            before: 0,
        };
        for _ in 0..self.height {
            let (children, seps) = self.inner(d.leaf);
            let mut taken = 0;
            for (i, sep) in records(seps).enumerate() {
                if !below(sep.score, sep.member) {
                    break;
                }
                taken = i + 1;
            }
            d.before += children[..taken]
                .iter()
                .map(|c| c.count as usize)
                .sum::<usize>();
            d.path[d.depth] = (d.leaf, taken);
            d.depth += 1;
            d.leaf = children[taken].node;
        }
        d
    }

    /// Descends to the leaf holding rank `rank` (< len).
    fn descend_rank(&self, rank: usize) -> Descent {
        assert!(rank < self.len, "rank {rank} of {}", self.len);
        let mut d = Descent {
            path: [(NIL, 0); HEIGHT_MAX],
            depth: 0,
            leaf: self.root,
            before: 0,
        };
        for _ in 0..self.height {
            let (children, _) = self.inner(d.leaf);
            let mut taken = children.len() - 1;
            for (i, child) in children.iter().enumerate() {
                if rank < d.before + child.count as usize {
                    taken = i;
                    break;
                }
                d.before += child.count as usize;
            }
            d.path[d.depth] = (d.leaf, taken);
            d.depth += 1;
            d.leaf = children[taken].node;
        }
        d
    }

    /// How many keys are `below` (a monotone predicate: true on a prefix of the keys).
    pub fn count_below(&self, below: &dyn Fn(f64, &[u8]) -> bool) -> usize {
        let d = self.descend_by(below);
        let (recs, _) = self.leaf(d.leaf);
        d.before
            + records(recs)
                .take_while(|r| below(r.score, r.member))
                .count()
    }

    /// The rank of (score, member) when present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let at_most = |s: f64, m: &[u8]| cmp_key(s, m, score, member) != Ordering::Greater;
        let d = self.descend_by(&at_most);
        let (recs, _) = self.leaf(d.leaf);
        for (i, r) in records(recs).enumerate() {
            match cmp_key(r.score, r.member, score, member) {
                Ordering::Less => {}
                Ordering::Equal => return Some(d.before + i),
                Ordering::Greater => return None,
            }
        }
        None
    }

    /// The pair at `rank` (< len).
    pub fn nth(&self, rank: usize) -> (&[u8], f64) {
        let d = self.descend_rank(rank);
        let (recs, _) = self.leaf(d.leaf);
        let r = records(recs)
            .nth(rank - d.before)
            .expect("counts lead to the rank");
        (r.member, r.score)
    }

    /// Visits ranks `start..end` (clamped to len) in order, or in reverse from `end - 1`, until
    /// `visit` answers false. One descent per leaf visited.
    pub fn visit_range(
        &self,
        start: usize,
        end: usize,
        rev: bool,
        visit: &mut dyn FnMut(&[u8], f64) -> bool,
    ) {
        let end = end.min(self.len);
        if start >= end {
            return;
        }
        if !rev {
            let mut rank = start;
            while rank < end {
                let d = self.descend_rank(rank);
                let (recs, _) = self.leaf(d.leaf);
                for r in records(recs).skip(rank - d.before) {
                    if rank >= end || !visit(r.member, r.score) {
                        return;
                    }
                    rank += 1;
                }
            }
            return;
        }
        let mut last = end - 1; // the next rank to visit, going down
        loop {
            let d = self.descend_rank(last);
            let (recs, _) = self.leaf(d.leaf);
            let from = start.saturating_sub(d.before);
            let upto = last - d.before;
            let offsets: Vec<usize> = records(recs)
                .take(upto + 1)
                .skip(from)
                .map(|r| r.at)
                .collect();
            for &at in offsets.iter().rev() {
                let (member, score, _) = record::get(recs, at);
                if !visit(member, score) {
                    return;
                }
            }
            if d.before <= start {
                return;
            }
            last = d.before - 1;
        }
    }

    /// Inserts (score, member), which must be absent (the caller's index says so).
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let at_most = |s: f64, m: &[u8]| cmp_key(s, m, score, member) != Ordering::Greater;
        let d = self.descend_by(&at_most);
        let (recs, _) = self.leaf(d.leaf);
        let mut index = 0;
        let mut at = recs.len();
        for r in records(recs) {
            match cmp_key(r.score, r.member, score, member) {
                Ordering::Less => index += 1,
                Ordering::Equal => panic!("insert of a present key"),
                Ordering::Greater => {
                    at = r.at;
                    break;
                }
            }
        }
        let (leaf_bytes, leaf_len) = self.edit(d.leaf, |node| {
            let Node::Leaf { recs, len } = node else {
                unreachable!("a leaf")
            };
            let mut encoded = Vec::with_capacity(record::len(member, score));
            record::put(&mut encoded, member, score);
            reserve_class(recs, encoded.len());
            recs.splice(at..at, encoded);
            *len += 1;
            (recs.len(), *len as usize)
        });
        self.adjust_counts(&d, 1);
        self.len += 1;
        if leaf_bytes > LEAF_BYTES_MAX && leaf_len > 1 {
            let split_at = if index + 1 == leaf_len {
                index
            } else if index == 0 {
                1
            } else {
                leaf_len / 2
            };
            self.split_leaf(&d, split_at);
        }
    }

    fn adjust_counts(&mut self, d: &Descent, delta: i64) {
        for &(id, taken) in &d.path[..d.depth] {
            if let Node::Inner { children, .. } = &mut self.nodes[id as usize] {
                let count = i64::from(children[taken].count) + delta;
                children[taken].count = u32::try_from(count).expect("counts fit u32");
            }
        }
    }

    /// Moves the leaf's records from index `split_at` on into a new right sibling.
    fn split_leaf(&mut self, d: &Descent, split_at: usize) {
        let (moved, moved_len, sep) = self.edit(d.leaf, |node| {
            let Node::Leaf { recs, len } = node else {
                unreachable!("a leaf")
            };
            let at = records(recs)
                .nth(split_at)
                .expect("split inside the leaf")
                .at;
            let moved: Vec<u8> = recs[at..].to_vec();
            recs.truncate(at);
            recs.shrink_to_fit();
            let moved_len = *len - split_at as u32;
            *len = split_at as u32;
            let sep = moved[..record::get(&moved, 0).2].to_vec();
            (moved, moved_len, sep)
        });
        let right = self.alloc(Node::Leaf {
            recs: moved,
            len: moved_len,
        });
        self.insert_child(d, d.depth, right, moved_len, sep);
    }

    /// Adds `right` (holding `count` keys, first key `sep`) after the child taken at `level - 1`
    /// of the path, whose node it was split from; splits upward as needed.
    fn insert_child(&mut self, d: &Descent, level: usize, right: u32, count: u32, sep: Vec<u8>) {
        if level == 0 {
            let left = self.root;
            let total = u32::try_from(self.len).expect("a tree holds fewer than 2^32 keys");
            self.root = self.alloc(Node::Inner {
                children: vec![
                    Child {
                        node: left,
                        count: total - count,
                    },
                    Child { node: right, count },
                ],
                seps: sep,
            });
            self.height += 1;
            assert!(self.height < HEIGHT_MAX, "tree height {}", self.height);
            return;
        }
        let (parent, taken) = d.path[level - 1];
        let fanout = self.edit(parent, |node| {
            let Node::Inner { children, seps } = node else {
                unreachable!("inner")
            };
            children[taken].count -= count;
            reserve_class(children, 1);
            children.insert(taken + 1, Child { node: right, count });
            let at = sep_offset(seps, taken + 1);
            reserve_class(seps, sep.len());
            seps.splice(at..at, sep);
            children.len()
        });
        if fanout > FANOUT_MAX {
            self.split_inner(d, level - 1);
        }
    }

    /// Splits the inner node at `level` of the path in two halves.
    fn split_inner(&mut self, d: &Descent, level: usize) {
        let (id, _) = d.path[level];
        let (children, seps, up, count) = self.edit(id, |node| {
            let Node::Inner { children, seps } = node else {
                unreachable!("inner")
            };
            let half = children.len() / 2;
            let right_children = children.split_off(half);
            children.shrink_to_fit();
            let up_at = sep_offset(seps, half);
            let up_end = record::get(seps, up_at).2;
            let right_seps = seps[up_end..].to_vec();
            let up = seps[up_at..up_end].to_vec();
            seps.truncate(up_at);
            seps.shrink_to_fit();
            let count: u32 = right_children.iter().map(|c| c.count).sum();
            (right_children, right_seps, up, count)
        });
        let right = self.alloc(Node::Inner { children, seps });
        self.insert_child(d, level, right, count, up);
    }

    /// Removes (score, member); false when absent.
    pub fn remove(&mut self, member: &[u8], score: f64) -> bool {
        let at_most = |s: f64, m: &[u8]| cmp_key(s, m, score, member) != Ordering::Greater;
        let d = self.descend_by(&at_most);
        let (recs, _) = self.leaf(d.leaf);
        let Some(found) = records(recs)
            .find(|r| cmp_key(r.score, r.member, score, member) != Ordering::Less)
            .filter(|r| r.score == score && r.member == member)
        else {
            return false;
        };
        self.edit(d.leaf, |node| {
            let Node::Leaf { recs, len } = node else {
                unreachable!("a leaf")
            };
            recs.drain(found.at..found.end);
            *len -= 1;
        });
        self.adjust_counts(&d, -1);
        self.len -= 1;
        self.rebalance(&d);
        true
    }

    /// After a removal: merges underfull nodes on the path into a sibling, bottom up, then
    /// lowers the root while it has a single child.
    fn rebalance(&mut self, d: &Descent) {
        for level in (0..d.depth).rev() {
            let (parent, taken) = d.path[level];
            let child = self.inner(parent).0[taken].node;
            if !self.underfull(child) || !self.merge_with_sibling(parent, taken) {
                break;
            }
        }
        while self.height > 0 {
            let (children, _) = self.inner(self.root);
            if children.len() > 1 {
                break;
            }
            let only = children[0].node;
            self.release(self.root);
            self.root = only;
            self.height -= 1;
        }
    }

    fn underfull(&self, id: u32) -> bool {
        match &self.nodes[id as usize] {
            Node::Leaf { recs, .. } => recs.len() < LEAF_BYTES_MIN,
            Node::Inner { children, .. } => children.len() < FANOUT_MIN,
            Node::Free { .. } => unreachable!("a live node"),
        }
    }

    /// Merges child `taken` of `parent` with a neighbour when the two fit in one node; true
    /// when it did (the parent lost a child).
    fn merge_with_sibling(&mut self, parent: u32, taken: usize) -> bool {
        let (children, seps) = self.inner(parent);
        if children.len() < 2 {
            return false;
        }
        let left_at = if taken + 1 < children.len() {
            taken
        } else {
            taken - 1
        };
        let (left, right) = (children[left_at].node, children[left_at + 1].node);
        let sep_at = sep_offset(seps, left_at + 1);
        let sep_end = record::get(seps, sep_at).2;
        let sep = seps[sep_at..sep_end].to_vec();
        let fits = match (&self.nodes[left as usize], &self.nodes[right as usize]) {
            (Node::Leaf { recs: a, .. }, Node::Leaf { recs: b, .. }) => {
                a.len() + b.len() <= LEAF_BYTES_MAX
            }
            (Node::Inner { children: a, .. }, Node::Inner { children: b, .. }) => {
                a.len() + b.len() <= FANOUT_MAX
            }
            _ => unreachable!("siblings are at one depth"),
        };
        if !fits {
            return false;
        }
        let taken_right =
            std::mem::replace(&mut self.nodes[right as usize], Node::Free { next: NIL });
        self.bytes -= node_bytes(&taken_right);
        self.nodes[right as usize] = Node::Free {
            next: self.free_head,
        };
        self.free_head = right;
        self.edit(left, |node| match (node, taken_right) {
            (
                Node::Leaf { recs, len },
                Node::Leaf {
                    recs: more,
                    len: more_len,
                },
            ) => {
                reserve_class(recs, more.len());
                recs.extend_from_slice(&more);
                *len += more_len;
            }
            (
                Node::Inner { children, seps },
                Node::Inner {
                    children: more,
                    seps: more_seps,
                },
            ) => {
                reserve_class(children, more.len());
                children.extend_from_slice(&more);
                reserve_class(seps, sep.len() + more_seps.len());
                seps.extend_from_slice(&sep);
                seps.extend_from_slice(&more_seps);
            }
            _ => unreachable!("siblings are at one depth"),
        });
        self.edit(parent, |node| {
            let Node::Inner { children, seps } = node else {
                unreachable!("inner")
            };
            let moved = children.remove(left_at + 1).count;
            children[left_at].count += moved;
            seps.drain(sep_at..sep_end);
        });
        true
    }

    /// Recounts everything the slow way and checks the invariants in the module doc.
    pub fn check_invariants(&self) {
        type Key = Option<(f64, Vec<u8>)>;
        let mut bytes = 0;
        let mut live = 0;
        let mut prev: Key = None;
        let mut counted = 0;
        // (node, depth, every key under it is >= low and < high)
        let mut stack: Vec<(u32, usize, Key, Key)> = vec![(self.root, 0, None, None)];
        while let Some((id, depth, low, high)) = stack.pop() {
            live += 1;
            let node = &self.nodes[id as usize];
            bytes += node_bytes(node);
            match node {
                Node::Leaf { recs, len } => {
                    assert_eq!(depth, self.height, "leaf {id} depth");
                    let mut n = 0;
                    for r in records(recs) {
                        let key = Some((r.score, r.member.to_vec()));
                        if let Some((s, m)) = &prev {
                            assert_eq!(cmp_key(*s, m, r.score, r.member), Ordering::Less);
                        }
                        if let Some((s, m)) = &low {
                            assert_ne!(cmp_key(*s, m, r.score, r.member), Ordering::Greater);
                        }
                        if let Some((s, m)) = &high {
                            assert_eq!(cmp_key(r.score, r.member, *s, m), Ordering::Less);
                        }
                        prev = key;
                        n += 1;
                    }
                    assert_eq!(n, *len as usize, "leaf {id} count");
                    counted += n;
                }
                Node::Inner { children, seps } => {
                    assert!(depth < self.height && !children.is_empty());
                    let sep_list: Vec<Key> = records(seps)
                        .map(|r| Some((r.score, r.member.to_vec())))
                        .collect();
                    assert_eq!(sep_list.len() + 1, children.len(), "inner {id} separators");
                    for c in children {
                        assert_eq!(c.count as usize, self.count_under(c.node), "child count");
                    }
                    // Depth first, left to right: pushed in reverse.
                    for (i, c) in children.iter().enumerate().rev() {
                        let low = if i == 0 {
                            low.clone()
                        } else {
                            sep_list[i - 1].clone()
                        };
                        let high = sep_list.get(i).cloned().unwrap_or_else(|| high.clone());
                        stack.push((c.node, depth + 1, low, high));
                    }
                }
                Node::Free { .. } => panic!("free node {id} in the tree"),
            }
        }
        assert_eq!(counted, self.len, "len");
        let mut free = 0;
        let mut at = self.free_head;
        while at != NIL {
            let Node::Free { next } = self.nodes[at as usize] else {
                panic!("live node {at} on the free list");
            };
            free += 1;
            assert!(free <= self.nodes.len(), "the free list loops");
            at = next;
        }
        assert_eq!(live + free, self.nodes.len(), "every node is live or free");
        assert_eq!(bytes, self.bytes, "bytes");
    }

    fn count_under(&self, id: u32) -> usize {
        let mut total = 0;
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            match &self.nodes[id as usize] {
                Node::Leaf { len, .. } => total += *len as usize,
                Node::Inner { children, .. } => stack.extend(children.iter().map(|c| c.node)),
                Node::Free { .. } => panic!("free node {id} under a live one"),
            }
        }
        total
    }

    #[cfg(test)]
    pub fn height(&self) -> usize {
        self.height
    }
}

impl Default for Tree {
    fn default() -> Tree {
        Tree::new()
    }
}
