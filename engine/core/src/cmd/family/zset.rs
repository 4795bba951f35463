//! Sorted sets: Redis 7.0's zset family (ZADD, ZINCRBY, ZREM, ZCARD, ZCOUNT, ZLEXCOUNT, ZSCORE,
//! ZMSCORE, ZRANK, ZREVRANK, ZRANGE and its BYSCORE/BYLEX/REV/LIMIT forms, ZRANGESTORE, the
//! ZRANGEBY*/ZREVRANGE* commands, ZREMRANGEBY*, ZPOPMIN, ZPOPMAX, ZMPOP, ZRANDMEMBER, ZUNION,
//! ZINTER, ZDIFF and their STORE forms, ZINTERCARD, ZSCAN, and the blocking BZPOPMIN, BZPOPMAX,
//! BZMPOP), written against `db::ZSetValue` through the typed lookup and write paths of
//! `access.rs`. The blocking rows run their first attempt; `BLOCKING` tells the node how to
//! serve them from a ready key (`node::blocking`).
//!
//! Every range is positional: a score or lex range becomes a rank interval by two
//! `count_below` descents, then a walk between them (forward, or backward for REV). Scores are
//! read as Redis reads them: ZADD/ZINCRBY/WEIGHTS with string2d (`numfmt::parse_score`), range
//! bounds with a bare strtod (`numfmt::parse_strtod`: spaces, overflow and "" are accepted), and
//! replied as doubles (RESP3 `,`, RESP2 `%.17g` bulk); ZSCAN answers scores as bulk text.
//!
//! Multi-key commands (Z*STORE, ZRANGESTORE, ZUNION/ZINTER/ZDIFF, ZINTERCARD, ZMPOP) run on
//! gathered copies of all their keys (`Merge::Gather`), so across shards they read and write as
//! one step. Their sources may be plain sets (every member scores 1), as in Redis.
//!
//! Quirks of redis-server 7.0 we keep, each checked against it:
//! - ZADD checks pairs, then NX/XX, then GT/LT/NX, then INCR's single pair, then every score;
//!   XX on a missing key creates nothing. A listpack reads a stored -0 back as 0.
//! - Z*STORE and ZRANGESTORE overwrite any type and TTL; an empty result deletes the key.
//! - ZUNION/ZINTER/ZDIFF check every source's type before parsing WEIGHTS/AGGREGATE/WITHSCORES;
//!   a weighted score that is NaN (0 * inf) counts as 0, and so does a NaN sum.
//! - ZPOPMIN without a count answers a flat pair; with one, pairs (RESP3 nested); ZMPOP nests
//!   its pairs in both protocols.
//! - Lex ranges assume equal scores (as Redis documents); with mixed scores Redis's answer
//!   depends on its skiplist's random levels, so no implementation can match it there.
//!
//! Deliberate bounds and differences: ZRANDMEMBER with a negative count past
//! `RANDOM_REPEATS_MAX` is refused with "value is out of range" (Redis would try to build the
//! reply). ZSCAN over a large set walks it in score order and its cursor is the score to resume
//! at (a listpack answers whole, cursor 0, as Redis does): every member present with an unchanged
//! score for the whole scan is returned; one whose score moves below the cursor mid-scan may be
//! missed, where Redis's hash-table cursor would not miss it.

use std::collections::BTreeMap;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::access::ExecCx;
use crate::access::{Change, IfAbsent};
use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64, parse_scan_cursor, parse_scan_options, Args};
use crate::cmd::blocking::{first_arg_timeout, last_arg_timeout, Blocking};
use crate::cmd::Family;
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, GatherDbs, KeySpec, Merge};
use crate::db::{cmp_zset_entries, Collection, Kind, Member, Value, ValueRef, ZSetValue};
use crate::error::CmdError;
use crate::glob::glob_match;
use crate::numfmt;
use crate::reply::Reply;

/// The most members ZRANDMEMBER with a negative count answers (see the module doc).
const RANDOM_REPEATS_MAX: u64 = 1 << 24;
/// ZRANDMEMBER with a positive count removes random members from a copy when count passes
/// size / this, else draws until it has `count` distinct ones (ZRANDMEMBER_SUB_STRATEGY_MUL).
const RANDMEMBER_SUB_STRATEGY_MUL: usize = 3;

/// BZPOPMIN and BZPOPMAX: every argument but the first and the last (the timeout) is a key.
const BLOCKING_POP_KEYS: &[KeySpec] = &[KeySpec::range(kf::RW | kf::ACCESS | kf::DELETE, 1, -2, 1)];

/// How the node serves each blocking sorted-set command once it blocks (`cmd::blocking`).
pub const BLOCKING: &[(&str, Blocking)] = &[
    (
        "bzpopmin",
        Blocking::pop(last_arg_timeout, serve_bzpopmin, Kind::ZSet),
    ),
    (
        "bzpopmax",
        Blocking::pop(last_arg_timeout, serve_bzpopmax, Kind::ZSet),
    ),
    (
        "bzmpop",
        Blocking::pop(first_arg_timeout, serve_bzmpop, Kind::ZSet),
    ),
];

const ZSET: Family = Family {
    group: "sorted-set",
    acl: acl::SORTEDSET,
};

const RO: &[KeySpec] = &[KeySpec::one(kf::RO, 1)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(kf::RO | kf::ACCESS, 1)];
const RW_UPDATE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::UPDATE, 1)];
const RW_ACCESS_UPDATE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::ACCESS | kf::UPDATE, 1)];
const RW_DELETE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::DELETE, 1)];
const RW_POP: &[KeySpec] = &[KeySpec::one(kf::RW | kf::ACCESS | kf::DELETE, 1)];
const KEYNUM_RO: &[KeySpec] = &[KeySpec::keynum(kf::RO | kf::ACCESS, 1, 0, 1, 1)];
const STORE_KEYS: &[KeySpec] = &[
    KeySpec::one(kf::OW | kf::UPDATE, 1),
    KeySpec::keynum(kf::RO | kf::ACCESS, 2, 0, 1, 1),
];
const RANGESTORE_KEYS: &[KeySpec] = &[
    KeySpec::one(kf::OW | kf::UPDATE, 1),
    KeySpec::one(kf::RO | kf::ACCESS, 2),
];
const ZMPOP_KEYS: &[KeySpec] = &[KeySpec::keynum(
    kf::RW | kf::ACCESS | kf::DELETE,
    1,
    0,
    1,
    1,
)];
const GATHER: Merge = Merge::Gather(GatherDbs::Current);
const R_FAST: u32 = flag::READONLY | flag::FAST;
const W_FAST: u32 = flag::WRITE | flag::FAST;
const W_DENYOOM: u32 = flag::WRITE | flag::DENYOOM;

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    ZSET.keyed("zadd", -4, W_DENYOOM | flag::FAST, RW_UPDATE, zadd, Merge::OneKey,
        ZSET.docs(
        "Add one or more members to a sorted set, or update its score if it already exists",
        "1.2.0",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.")),
    ZSET.keyed("zincrby", 4, W_DENYOOM | flag::FAST, RW_ACCESS_UPDATE, zincrby, Merge::OneKey,
        ZSET.docs(
        "Increment the score of a member in a sorted set",
        "1.2.0",
        "O(log(N)) where N is the number of elements in the sorted set.")),
    ZSET.keyed("zrem", -3, W_FAST, RW_DELETE, zrem, Merge::OneKey,
        ZSET.docs(
        "Remove one or more members from a sorted set",
        "1.2.0",
        "O(M*log(N)) with N being the number of elements in the sorted set and M the number of \
        elements to be removed.")),
    ZSET.keyed("zcard", 2, R_FAST, RO, zcard, Merge::OneKey,
        ZSET.docs(
        "Get the number of members in a sorted set",
        "1.2.0",
        "O(1)")),
    ZSET.keyed("zcount", 4, R_FAST, RO_ACCESS, zcount, Merge::OneKey,
        ZSET.docs(
        "Count the members in a sorted set with scores within the given values",
        "2.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.")),
    ZSET.keyed("zlexcount", 4, R_FAST, RO_ACCESS, zlexcount, Merge::OneKey,
        ZSET.docs(
        "Count the number of members in a sorted set between a given lexicographical range",
        "2.8.9",
        "O(log(N)) with N being the number of elements in the sorted set.")),
    ZSET.keyed("zscore", 3, R_FAST, RO_ACCESS, zscore, Merge::OneKey,
        ZSET.docs(
        "Get the score associated with the given member in a sorted set",
        "1.2.0",
        "O(1)")),
    ZSET.keyed("zmscore", -3, R_FAST, RO_ACCESS, zmscore, Merge::OneKey,
        ZSET.docs(
        "Get the score associated with the given members in a sorted set",
        "6.2.0",
        "O(N) where N is the number of members being requested.")),
    ZSET.keyed("zrank", 3, R_FAST, RO_ACCESS, zrank, Merge::OneKey,
        ZSET.docs(
        "Determine the index of a member in a sorted set",
        "2.0.0",
        "O(log(N))")),
    ZSET.keyed("zrevrank", 3, R_FAST, RO_ACCESS, zrevrank, Merge::OneKey,
        ZSET.docs(
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
        "2.0.0",
        "O(log(N))")),
    ZSET.keyed("zrange", -4, flag::READONLY, RO_ACCESS, zrange, Merge::OneKey,
        ZSET.docs(
        "Return a range of members in a sorted set",
        "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of \
        elements returned.")),
    ZSET.keyed("zrangestore", -5, W_DENYOOM, RANGESTORE_KEYS, zrangestore, GATHER,
        ZSET.docs(
        "Store a range of members from sorted set into another key",
        "6.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of \
        elements stored into the destination key.")),
    ZSET.keyed("zrangebyscore", -4, flag::READONLY, RO_ACCESS, zrangebyscore, Merge::OneKey,
        ZSET.docs(
        "Return a range of members in a sorted set, by score",
        "1.0.5",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of \
        elements being returned. If M is constant (e.g. always asking for the first 10 elements \
        with LIMIT), you can consider it O(log(N)).")),
    ZSET.keyed("zrevrangebyscore", -4, flag::READONLY, RO_ACCESS, zrevrangebyscore,
        Merge::OneKey, ZSET.docs(
        "Return a range of members in a sorted set, by score, with scores ordered from high to \
        low",
        "2.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of \
        elements being returned. If M is constant (e.g. always asking for the first 10 elements \
        with LIMIT), you can consider it O(log(N)).")),
    ZSET.keyed("zrangebylex", -4, flag::READONLY, RO_ACCESS, zrangebylex, Merge::OneKey,
        ZSET.docs(
        "Return a range of members in a sorted set, by lexicographical range",
        "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of \
        elements being returned. If M is constant (e.g. always asking for the first 10 elements \
        with LIMIT), you can consider it O(log(N)).")),
    ZSET.keyed("zrevrangebylex", -4, flag::READONLY, RO_ACCESS, zrevrangebylex, Merge::OneKey,
        ZSET.docs(
        "Return a range of members in a sorted set, by lexicographical range, ordered from \
        higher to lower strings.",
        "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of \
        elements being returned. If M is constant (e.g. always asking for the first 10 elements \
        with LIMIT), you can consider it O(log(N)).")),
    ZSET.keyed("zrevrange", -4, flag::READONLY, RO_ACCESS, zrevrange, Merge::OneKey,
        ZSET.docs(
        "Return a range of members in a sorted set, by index, with scores ordered from high to \
        low",
        "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of \
        elements returned.")),
    ZSET.keyed("zremrangebyrank", 4, flag::WRITE, RW_DELETE, zremrangebyrank, Merge::OneKey,
        ZSET.docs(
        "Remove all members in a sorted set within the given indexes",
        "2.0.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of \
        elements removed by the operation.")),
    ZSET.keyed("zremrangebyscore", 4, flag::WRITE, RW_DELETE, zremrangebyscore, Merge::OneKey,
        ZSET.docs(
        "Remove all members in a sorted set within the given scores",
        "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of \
        elements removed by the operation.")),
    ZSET.keyed("zremrangebylex", 4, flag::WRITE, RW_DELETE, zremrangebylex, Merge::OneKey,
        ZSET.docs(
        "Remove all members in a sorted set between the given lexicographical range",
        "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of \
        elements removed by the operation.")),
    ZSET.keyed("zpopmin", -2, W_FAST, RW_POP, zpopmin, Merge::OneKey,
        ZSET.docs(
        "Remove and return members with the lowest scores in a sorted set",
        "5.0.0",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the \
        number of elements popped.")),
    ZSET.keyed("zpopmax", -2, W_FAST, RW_POP, zpopmax, Merge::OneKey,
        ZSET.docs(
        "Remove and return members with the highest scores in a sorted set",
        "5.0.0",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the \
        number of elements popped.")),
    ZSET.keyed("zmpop", -4, flag::WRITE, ZMPOP_KEYS, zmpop, GATHER,
        ZSET.docs(
        "Remove and return members with scores in a sorted set",
        "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of \
        elements in the sorted set, and M being the number of elements popped.")),
    ZSET.keyed("bzpopmin", -3, W_FAST | flag::NOSCRIPT | flag::BLOCKING, BLOCKING_POP_KEYS,
        bzpopmin, GATHER,
        ZSET.docs(
        "Remove and return the member with the lowest score from one or more sorted sets, or \
        block until one is available",
        "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.")),
    ZSET.keyed("bzpopmax", -3, W_FAST | flag::NOSCRIPT | flag::BLOCKING, BLOCKING_POP_KEYS,
        bzpopmax, GATHER,
        ZSET.docs(
        "Remove and return the member with the highest score from one or more sorted sets, or \
        block until one is available",
        "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.")),
    ZSET.keyed("bzmpop", -5, flag::WRITE | flag::BLOCKING,
        &[KeySpec::keynum(kf::RW | kf::ACCESS | kf::DELETE, 2, 0, 1, 1)], bzmpop, GATHER,
        ZSET.docs(
        "Remove and return members with scores in a sorted set or block until one is available",
        "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of \
        elements in the sorted set, and M being the number of elements popped.")),
    ZSET.keyed("zrandmember", -2, flag::READONLY, RO_ACCESS, zrandmember, Merge::OneKey,
        ZSET.docs(
        "Get one or multiple random elements from a sorted set",
        "6.2.0",
        "O(N) where N is the number of elements returned")),
    ZSET.keyed("zunion", -3, flag::READONLY, KEYNUM_RO, zunion, GATHER,
        ZSET.docs(
        "Add multiple sorted sets",
        "6.2.0",
        "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M \
        being the number of elements in the resulting sorted set.")),
    ZSET.keyed("zinter", -3, flag::READONLY, KEYNUM_RO, zinter, GATHER,
        ZSET.docs(
        "Intersect multiple sorted sets",
        "6.2.0",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the \
        number of input sorted sets and M being the number of elements in the resulting sorted \
        set.")),
    ZSET.keyed("zdiff", -3, flag::READONLY, KEYNUM_RO, zdiff, GATHER,
        ZSET.docs(
        "Subtract multiple sorted sets",
        "6.2.0",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, \
        N is the size of the first set, and K is the size of the result set.")),
    ZSET.keyed("zunionstore", -4, W_DENYOOM, STORE_KEYS, zunionstore, GATHER,
        ZSET.docs(
        "Add multiple sorted sets and store the resulting sorted set in a new key",
        "2.0.0",
        "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M \
        being the number of elements in the resulting sorted set.")),
    ZSET.keyed("zinterstore", -4, W_DENYOOM, STORE_KEYS, zinterstore, GATHER,
        ZSET.docs(
        "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        "2.0.0",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the \
        number of input sorted sets and M being the number of elements in the resulting sorted \
        set.")),
    ZSET.keyed("zdiffstore", -4, W_DENYOOM, STORE_KEYS, zdiffstore, GATHER,
        ZSET.docs(
        "Subtract multiple sorted sets and store the resulting sorted set in a new key",
        "6.2.0",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, \
        N is the size of the first set, and K is the size of the result set.")),
    ZSET.keyed("zintercard", -3, flag::READONLY, KEYNUM_RO, zintercard, GATHER,
        ZSET.docs(
        "Intersect multiple sorted sets and return the cardinality of the result",
        "7.0.0",
        "O(N*K) worst case with N being the smallest input sorted set, K being the number of \
        input sorted sets.")),
    ZSET.keyed("zscan", -3, flag::READONLY, RO_ACCESS, zscan, Merge::OneKey,
        ZSET.docs(
        "Incrementally iterate sorted sets elements and associated scores",
        "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for \
        the cursor to return back to 0. N is the number of elements inside the collection..")),
];

mod ops;
mod range;

use self::ops::*;
pub(crate) use self::ops::{store_pairs, zadd};
use self::range::*;

#[cfg(test)]
mod tests {
    use crate::testkit::each;

    fn int(n: i64) -> String {
        format!(":{n}\r\n")
    }

    #[test]
    fn cross_shard_zunionstore_inside_multi_is_atomic() {
        each(|t| {
            t.check(&[
                (&["ZADD", "a", "1", "x", "2", "y"], &int(2)),
                (&["ZADD", "b", "3", "y", "4", "z"], &int(2)),
                (&["MULTI"], "+OK\r\n"),
                (
                    &["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
                    "+QUEUED\r\n",
                ),
                (&["ZINTERCARD", "2", "a", "b"], "+QUEUED\r\n"),
                (&["ZMPOP", "2", "nosuch", "d", "MAX"], "+QUEUED\r\n"),
                (
                    &["EXEC"],
                    "*3\r\n:3\r\n:1\r\n*2\r\n$1\r\nd\r\n*1\r\n*2\r\n$1\r\nz\r\n$1\r\n8\r\n",
                ),
                (
                    &["ZRANGE", "d", "0", "-1", "WITHSCORES"],
                    "*4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n8\r\n",
                ),
            ]);
        });
    }

    #[test]
    fn a_large_set_converts_and_answers_ranks() {
        each(|t| {
            for j in 0..300 {
                let (s, m) = (j.to_string(), format!("member:{j}"));
                t.run(&["ZADD", "big", &s, &m]);
            }
            t.check(&[
                (&["OBJECT", "ENCODING", "big"], "$8\r\nskiplist\r\n"),
                (&["ZCARD", "big"], &int(300)),
                (&["ZRANK", "big", "member:250"], &int(250)),
                (&["ZREVRANK", "big", "member:250"], &int(49)),
                (&["ZCOUNT", "big", "(10", "20"], &int(10)),
                (&["ZREMRANGEBYRANK", "big", "0", "99"], &int(100)),
                (&["ZRANK", "big", "member:250"], &int(150)),
                (&["TYPE", "big"], "+zset\r\n"),
            ]);
        });
    }
}
