//! DEBUG DIGEST and DEBUG DIGEST-VALUE across the shards (the algorithm: `rdb::digest`).
//!
//! DIGEST asks every shard for, per database holding live keys, the XOR of its keys' digests;
//! the coordinator XORs those per database and folds the databases in order, which gives the
//! digest one server holding all the keys computes. DIGEST-VALUE sends the keys to every shard;
//! each answers the digest of the keys it holds and zeros for the rest (a key lives on one
//! shard), so the XOR over shards is each key's digest. Keys whose deadline has passed count as
//! gone.

use std::collections::BTreeMap;

use crate::argv::Argv;
use crate::cmd::args::eq_word;
use crate::coord::{CmdErrorOrReply, Targets};
use crate::hop::{NodeOp, NodeResult};
use crate::node::Node;
use crate::rdb::digest::{self, Digest};
use crate::reply::Reply;

/// Whether DEBUG's subcommand is one of these (the node runs them, not the connection):
/// DIGEST alone, or DIGEST-VALUE with any number of keys.
pub fn is_digest_subcommand(argv: &Argv) -> bool {
    argv.len() >= 2
        && ((eq_word(&argv[1], "DIGEST") && argv.len() == 2) || eq_word(&argv[1], "DIGEST-VALUE"))
}

pub(crate) fn plan_node_cmd(argv: &Argv, db: usize) -> Result<(NodeOp, Targets), CmdErrorOrReply> {
    let keys = eq_word(&argv[1], "DIGEST-VALUE")
        .then(|| (2..argv.len()).map(|i| argv[i].to_vec()).collect());
    Ok((
        NodeOp::Digest {
            db: db as u16,
            keys,
        },
        Targets::All,
    ))
}

pub(crate) fn run_node_op(node: &mut Node, op: NodeOp, now_ms: u64) -> NodeResult {
    let NodeOp::Digest { db, keys } = op else {
        unreachable!("{op:?} is not a digest op");
    };
    let shard = node.shard_mut();
    match keys {
        None => {
            let mut dbs = Vec::new();
            for index in 0..shard.dbs_len() {
                let mut acc = [0u8; 20];
                let mut live = false;
                for e in shard.db_ref(index).iter() {
                    if e.is_expired(now_ms) {
                        continue;
                    }
                    live = true;
                    let d = digest::key_share(e.key(), e.value(), e.expire_at_ms().is_some());
                    digest::combine(&mut acc, &d);
                }
                if live {
                    dbs.push((index as u32, acc));
                }
            }
            NodeResult::DbDigests(dbs)
        }
        Some(keys) => {
            let table = shard.db(db as usize);
            let digests = keys
                .iter()
                .map(|key| match table.peek(key, now_ms) {
                    Some(e) => digest::value_digest(e.value(), e.expire_at_ms().is_some()),
                    None => [0u8; 20],
                })
                .collect();
            NodeResult::KeyDigests(digests)
        }
    }
}

pub(crate) fn finish_node_cmd(
    argv: &Argv,
    results: Vec<(crate::cx::ThreadId, NodeResult)>,
) -> Reply {
    if eq_word(&argv[1], "DIGEST-VALUE") {
        let mut per_key: Vec<Digest> = vec![[0u8; 20]; argv.len() - 2];
        for (_, result) in results {
            let NodeResult::KeyDigests(digests) = result else {
                unreachable!("DIGEST-VALUE parts are key digests");
            };
            for (acc, d) in per_key.iter_mut().zip(&digests) {
                digest::combine(acc, d);
            }
        }
        return Reply::Array(
            per_key
                .iter()
                .map(|d| Reply::Simple(digest::to_hex(d).into()))
                .collect(),
        );
    }
    let mut per_db: BTreeMap<u32, Digest> = BTreeMap::new();
    for (_, result) in results {
        let NodeResult::DbDigests(dbs) = result else {
            unreachable!("DIGEST parts are database digests");
        };
        for (db, d) in dbs {
            digest::combine(per_db.entry(db).or_insert([0u8; 20]), &d);
        }
    }
    let dbs: Vec<(u32, Digest)> = per_db.into_iter().collect();
    Reply::Simple(digest::to_hex(&digest::dataset(&dbs)).into())
}

#[cfg(test)]
mod tests {
    use crate::testkit::TestCluster;

    fn fill(c: &mut TestCluster, conn: crate::cx::ConnId) {
        for line in [
            &["SET", "s", "v"][..],
            &["RPUSH", "l", "a", "b"],
            &["SADD", "set", "x", "1"],
            &["HSET", "h", "f", "v"],
            &["ZADD", "z", "0.1", "m"],
            &["XADD", "x", "1-1", "f", "v"],
            &["SET", "t", "v", "PX", "100000"],
            &["SELECT", "3"],
            &["SET", "other", "db"],
            &["SELECT", "0"],
        ] {
            c.cmd_text(conn, line);
        }
    }

    /// The dataset digest does not depend on how keys spread over shards, and answers the same
    /// inside EXEC; DIGEST-VALUE finds each key on its shard.
    #[test]
    fn digests_are_the_same_on_one_shard_and_on_three() {
        let mut answers = Vec::new();
        for threads in [1, 3] {
            let mut c = TestCluster::new(threads);
            let conn = c.connect(0);
            let empty = c.cmd_text(conn, &["DEBUG", "DIGEST"]);
            assert_eq!(empty, format!("+{}\r\n", "0".repeat(40)));
            fill(&mut c, conn);
            let digest = c.cmd_text(conn, &["DEBUG", "DIGEST"]);
            let values = c.cmd_text(conn, &["DEBUG", "DIGEST-VALUE", "s", "l", "nope", "z", "t"]);
            assert!(values.starts_with("*5\r\n+"), "{values}");
            c.cmd_text(conn, &["MULTI"]);
            c.cmd_text(conn, &["DEBUG", "DIGEST"]);
            let exec = c.cmd_text(conn, &["EXEC"]);
            assert_eq!(exec, format!("*1\r\n{digest}"));
            answers.push((digest, values));
        }
        assert_eq!(answers[0], answers[1]);
        assert_ne!(answers[0].0, format!("+{}\r\n", "0".repeat(40)));
    }
}
