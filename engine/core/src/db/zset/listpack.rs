//! A small sorted set's compact encoding ("listpack"): its (member, score) pairs in key order in
//! one buffer, each member front-coded against the one before it.
//!
//! ```text
//!  record: [varint shared][varint suffix len][suffix…][score]     (score: record.rs)
//!  member = previous member[..shared] ++ suffix                    (the first shares 0)
//! ```
//!
//! Why: neighbours in score order often share a prefix (`member:12`, `member:13`; `user:1000:…`),
//! and a small set is read by a linear scan anyway, so the prefix costs nothing to rebuild. For
//! members with nothing in common a record pays one byte more than a plain one. Writes rewrite
//! only the records next to the change: an insert re-encodes its successor against the new
//! member, a removal re-encodes the successor against the removed record's predecessor.

use std::ops::ControlFlow;

use super::record::{self, cmp_key};
use crate::db::packed::{get_varint, put_varint, reserve_class, varint_len, vec_bytes};

#[derive(Clone, Debug, Default)]
pub struct Listpack {
    bytes: Vec<u8>,
    len: u32,
}

/// One decoded record: where its bytes lie and its score (the member is in the walker's buffer).
#[derive(Clone, Copy, Debug)]
struct Rec {
    at: usize,
    end: usize,
    score: f64,
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("a member's length fits u32")
}

/// Appends `member`'s record front-coded against `prev`.
fn put(out: &mut Vec<u8>, prev: &[u8], member: &[u8], score: f64) {
    let shared = common_prefix(prev, member);
    put_varint(out, len32(shared));
    let suffix = &member[shared..];
    // The suffix and score are a plain record (length, bytes, score).
    record::put(out, suffix, score);
}

fn encoded_len(prev: &[u8], member: &[u8], score: f64) -> usize {
    let shared = common_prefix(prev, member);
    varint_len(len32(shared)) + record::len(&member[shared..], score)
}

impl Listpack {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn heap_bytes(&self) -> usize {
        vec_bytes(&self.bytes)
    }

    /// Walks the records in order with the member rebuilt in `member`, until `f` breaks.
    fn walk<B>(&self, mut f: impl FnMut(usize, &[u8], Rec) -> ControlFlow<B>) -> Option<B> {
        let mut member: Vec<u8> = Vec::new();
        let mut at = 0;
        let mut index = 0;
        while at < self.bytes.len() {
            let (shared, read) = get_varint(&self.bytes, at);
            let (suffix, score, end) = record::get(&self.bytes, at + read);
            member.truncate(shared as usize);
            member.extend_from_slice(suffix);
            if let ControlFlow::Break(b) = f(index, &member, Rec { at, end, score }) {
                return Some(b);
            }
            at = end;
            index += 1;
        }
        None
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.rank(member).map(|(_, s)| s)
    }

    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        self.walk(|i, m, r| {
            if m == member {
                ControlFlow::Break((i, r.score))
            } else {
                ControlFlow::Continue(())
            }
        })
    }

    pub fn nth(&self, rank: usize) -> (Vec<u8>, f64) {
        self.walk(|i, m, r| {
            if i == rank {
                ControlFlow::Break((m.to_vec(), r.score))
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("rank below len")
    }

    pub fn count_below(&self, below: &dyn Fn(f64, &[u8]) -> bool) -> usize {
        let mut count = 0;
        self.walk(|_, m, r| {
            if below(r.score, m) {
                count += 1;
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        });
        count
    }

    /// Visits ranks `start..end` (end <= len) ascending, or descending when `rev`.
    pub fn visit_range(
        &self,
        start: usize,
        end: usize,
        rev: bool,
        visit: &mut dyn FnMut(&[u8], f64) -> bool,
    ) {
        if !rev {
            self.walk(|i, m, r| {
                if i >= end || (i >= start && !visit(m, r.score)) {
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            });
            return;
        }
        let mut picked = Vec::with_capacity(end.saturating_sub(start));
        self.walk(|i, m, r| {
            if i >= end {
                return ControlFlow::Break(());
            }
            if i >= start {
                picked.push((m.to_vec(), r.score));
            }
            ControlFlow::Continue(())
        });
        for (m, s) in picked.iter().rev() {
            if !visit(m, *s) {
                return;
            }
        }
    }

    /// Inserts (member, score), which must be absent, at its place in key order.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let mut prev: Vec<u8> = Vec::new();
        let next = self.walk(|_, m, r| {
            if cmp_key(r.score, m, score, member).is_gt() {
                return ControlFlow::Break((m.to_vec(), r));
            }
            prev.clear();
            prev.extend_from_slice(m);
            ControlFlow::Continue(())
        });
        let mut encoded = Vec::with_capacity(encoded_len(&prev, member, score) + 16);
        put(&mut encoded, &prev, member, score);
        let (from, to) = match next {
            Some((next_member, r)) => {
                put(&mut encoded, member, &next_member, r.score);
                (r.at, r.end)
            }
            None => (self.bytes.len(), self.bytes.len()),
        };
        self.splice(from, to, encoded);
        self.len += 1;
    }

    fn splice(&mut self, from: usize, to: usize, encoded: Vec<u8>) {
        if encoded.len() > to - from {
            reserve_class(&mut self.bytes, encoded.len() - (to - from));
        }
        self.bytes.splice(from..to, encoded);
    }

    /// Removes ranks `start..end` (end <= len); the record after them is re-encoded against
    /// the one before.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        if start >= end {
            return 0;
        }
        let mut prev: Vec<u8> = Vec::new();
        let mut from = 0;
        let after = self.walk(|i, m, r| {
            if i < start {
                prev.clear();
                prev.extend_from_slice(m);
            }
            if i == start {
                from = r.at;
            }
            if i == end {
                return ControlFlow::Break((m.to_vec(), r));
            }
            ControlFlow::Continue(())
        });
        match after {
            Some((next_member, r)) => {
                let mut encoded = Vec::with_capacity(encoded_len(&prev, &next_member, r.score));
                put(&mut encoded, &prev, &next_member, r.score);
                self.splice(from, r.end, encoded);
            }
            None => self.bytes.truncate(from),
        }
        self.len -= (end - start) as u32;
        end - start
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.rank(member) {
            Some((rank, _)) => self.remove_range(rank, rank + 1) == 1,
            None => false,
        }
    }

    /// Every pair in order, copied.
    pub fn to_pairs(&self) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::with_capacity(self.len());
        self.walk::<()>(|_, m, r| {
            out.push((m.to_vec(), r.score));
            ControlFlow::Continue(())
        });
        out
    }

    /// Recounts the records and checks their order and encoding (each shares exactly the
    /// common prefix with its predecessor, so an edit never leaves a stale encoding).
    pub fn check_invariants(&self) {
        let pairs = self.to_pairs();
        assert_eq!(pairs.len(), self.len(), "listpack count");
        for w in pairs.windows(2) {
            assert!(
                cmp_key(w[0].1, &w[0].0, w[1].1, &w[1].0).is_lt(),
                "listpack order"
            );
        }
        let mut rebuilt = Vec::new();
        let mut prev: &[u8] = &[];
        for (m, s) in &pairs {
            assert!(!s.is_nan());
            put(&mut rebuilt, prev, m, *s);
            prev = m;
        }
        assert_eq!(rebuilt, self.bytes, "listpack encoding");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_share_their_prefix() {
        let mut lp = Listpack::default();
        for j in 0..100 {
            lp.insert(format!("member:{j}").as_bytes(), f64::from(j));
        }
        lp.check_invariants();
        assert!(lp.bytes.len() < 520, "{} bytes", lp.bytes.len());
        assert_eq!(lp.nth(57), (b"member:57".to_vec(), 57.0));
        lp.remove_range(10, 20);
        lp.check_invariants();
        assert_eq!(lp.nth(10).0, b"member:20".to_vec());
        assert!(lp.remove(b"member:0"));
        lp.insert(b"member:0", -1.0);
        lp.check_invariants();
        assert_eq!(lp.rank(b"member:0"), Some((0, -1.0)));
    }
}
