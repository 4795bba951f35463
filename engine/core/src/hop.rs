//! Hops: work a coordinator sends to a shard, and the results that come back.

use crate::cx::{ConnId, ThreadId};

#[derive(Debug)]
pub struct Hop {
    pub from: ThreadId,
    pub conn: ConnId,
}

#[derive(Debug)]
pub struct HopDone {
    pub conn: ConnId,
}
