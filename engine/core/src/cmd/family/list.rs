//! Lists: Redis 7.0's list family (LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN, LINDEX,
//! LINSERT, LRANGE, LREM, LSET, LTRIM, LPOS, RPOPLPUSH, LMOVE, LMPOP and the blocking BLPOP,
//! BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP), written against `db::ListValue` through the typed lookup
//! and write paths of `access.rs`.
//!
//! A blocking command's row runs its first attempt (the timeout is checked first, then the keys
//! in order, as Redis does); `BLOCKING` tells the node how to serve it from the key that became
//! ready once it blocks (`cmd::blocking`, `node::blocking`).
//!
//! Multi-key commands (RPOPLPUSH, LMOVE, LMPOP) run on gathered copies of their keys
//! (`Merge::Gather`), so across shards they read and write as one step.
//!
//! Order of checks, each as redis-server 7.0 does it:
//! - LPOP/RPOP parse the count (any non-integer or negative: "must be positive") before the
//!   lookup; a missing key answers a nil array with a count, and count 0 an empty array.
//! - LINDEX and LSET look the key up (LSET: "no such key") and check its type before parsing
//!   the index; LRANGE, LTRIM, LREM, LPOS and LINSERT parse first.
//! - LMOVE/RPOPLPUSH answer nil for a missing source before checking the destination's type;
//!   with source == destination they rotate the list.
//! - LPOS: RANK 0 is an error, RANK i64::MIN reads as -1 (Redis negates it and gets itself,
//!   which every match passes); COUNT 0 is every match, MAXLEN 0 no limit.
//! - LMPOP: numkeys, then the direction (missing: syntax error), then one optional COUNT.
//!
//! Keyspace hits and misses: LLEN, LINDEX, LRANGE and LPOS count them (lookupKeyRead); the
//! writes look up for writing and count nothing, as Redis does.

use crate::access::ExecCx;
use crate::access::{Change, IfAbsent};
use crate::argv::Argv;
use crate::cmd::args::{eq_word, parse_i64, Args};
use crate::cmd::blocking::{
    first_arg_timeout, last_arg_timeout, without_first_arg_timeout, Blocking, WaitsOn,
};
use crate::cmd::Family;
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, GatherDbs, KeySpec, Merge};
use crate::db::{End, Kind, ListValue};
use crate::error::CmdError;
use crate::reply::Reply;

const LIST: Family = Family {
    group: "list",
    acl: acl::LIST,
};

const PUSH_KEYS: &[KeySpec] = &[KeySpec::one(kf::RW | kf::INSERT, 1)];
const POP_KEYS: &[KeySpec] = &[KeySpec::one(kf::RW | kf::ACCESS | kf::DELETE, 1)];
const RO: &[KeySpec] = &[KeySpec::one(kf::RO, 1)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(kf::RO | kf::ACCESS, 1)];
const MOVE_KEYS: &[KeySpec] = &[
    KeySpec::one(kf::RW | kf::ACCESS | kf::DELETE, 1),
    KeySpec::one(kf::RW | kf::INSERT, 2),
];
const GATHER: Merge = Merge::Gather(GatherDbs::Current);
const W_DENYOOM_FAST: u32 = flag::WRITE | flag::DENYOOM | flag::FAST;
const W_DENYOOM: u32 = flag::WRITE | flag::DENYOOM;
const PUSH_COMPLEXITY: &str = "O(1) for each element added, so O(N) to add N elements when the \
    command is called with multiple arguments.";
const POP_COMPLEXITY: &str = "O(N) where N is the number of elements returned";

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    LIST.one_key("lpush", -3, W_DENYOOM_FAST, PUSH_KEYS, lpush,
        LIST.docs("Prepend one or multiple elements to a list", "1.0.0", PUSH_COMPLEXITY)),
    LIST.one_key("rpush", -3, W_DENYOOM_FAST, PUSH_KEYS, rpush,
        LIST.docs("Append one or multiple elements to a list", "1.0.0", PUSH_COMPLEXITY)),
    LIST.one_key("lpushx", -3, W_DENYOOM_FAST, PUSH_KEYS, lpushx,
        LIST.docs("Prepend an element to a list, only if the list exists", "2.2.0",
        PUSH_COMPLEXITY)),
    LIST.one_key("rpushx", -3, W_DENYOOM_FAST, PUSH_KEYS, rpushx,
        LIST.docs("Append an element to a list, only if the list exists", "2.2.0",
        PUSH_COMPLEXITY)),
    LIST.one_key("lpop", -2, flag::WRITE | flag::FAST, POP_KEYS, lpop,
        LIST.docs("Remove and get the first elements in a list", "1.0.0", POP_COMPLEXITY)),
    LIST.one_key("rpop", -2, flag::WRITE | flag::FAST, POP_KEYS, rpop,
        LIST.docs("Remove and get the last elements in a list", "1.0.0", POP_COMPLEXITY)),
    LIST.one_key("llen", 2, flag::READONLY | flag::FAST, RO, llen,
        LIST.docs("Get the length of a list", "1.0.0", "O(1)")),
    LIST.one_key("lindex", 3, flag::READONLY, RO_ACCESS, lindex,
        LIST.docs("Get an element from a list by its index", "1.0.0", "O(N) where N is the \
        number of elements to traverse to get to the element at index. This makes asking for \
        the first or the last element of the list O(1).")),
    LIST.one_key("linsert", 5, W_DENYOOM, PUSH_KEYS, linsert,
        LIST.docs("Insert an element before or after another element in a list", "2.2.0",
        "O(N) where N is the number of elements to traverse before seeing the value pivot. This \
        means that inserting somewhere on the left end on the list (head) can be considered \
        O(1) and inserting somewhere on the right end (tail) is O(N).")),
    LIST.one_key("lrange", 4, flag::READONLY, RO_ACCESS, lrange,
        LIST.docs("Get a range of elements from a list", "1.0.0", "O(S+N) where S is the \
        distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for \
        large lists; and N is the number of elements in the specified range.")),
    LIST.one_key("lrem", 4, flag::WRITE, &[KeySpec::one(kf::RW | kf::DELETE, 1)], lrem,
        LIST.docs("Remove elements from a list", "1.0.0", "O(N+M) where N is the length of the \
        list and M is the number of elements removed.")),
    LIST.one_key("lset", 4, W_DENYOOM, &[KeySpec::one(kf::RW | kf::UPDATE, 1)], lset,
        LIST.docs("Set the value of an element in a list by its index", "1.0.0", "O(N) where N \
        is the length of the list. Setting either the first or the last element of the list is \
        O(1).")),
    LIST.one_key("ltrim", 4, flag::WRITE, &[KeySpec::one(kf::RW | kf::DELETE, 1)], ltrim,
        LIST.docs("Trim a list to the specified range", "1.0.0", "O(N) where N is the number of \
        elements to be removed by the operation.")),
    LIST.one_key("lpos", -3, flag::READONLY, RO_ACCESS, lpos,
        LIST.docs("Return the index of matching elements on a list", "6.0.6", "O(N) where N is \
        the number of elements in the list, for the average case. When searching for elements \
        near the head or the tail of the list, or when the MAXLEN option is provided, the \
        command may run in constant time.")),
    LIST.keyed("rpoplpush", 3, W_DENYOOM, MOVE_KEYS, rpoplpush, GATHER,
        LIST.docs("Remove the last element in a list, prepend it to another list and return it",
        "1.2.0", "O(1)")),
    LIST.keyed("lmove", 5, W_DENYOOM, MOVE_KEYS, lmove, GATHER,
        LIST.docs("Pop an element from a list, push it to another list and return it", "6.2.0",
        "O(1)")),
    LIST.keyed("lmpop", -4, flag::WRITE,
        &[KeySpec::keynum(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1, 1)], lmpop, GATHER,
        LIST.docs("Pop elements from a list", "7.0.0", "O(N+M) where N is the number of \
        provided keys and M is the number of elements returned.")),
    LIST.keyed("blpop", -3, flag::WRITE | flag::NOSCRIPT | flag::BLOCKING, BLOCKING_POP_KEYS,
        blpop, GATHER,
        LIST.docs("Remove and get the first element in a list, or block until one is available",
        "2.0.0", "O(N) where N is the number of provided keys.")),
    LIST.keyed("brpop", -3, flag::WRITE | flag::NOSCRIPT | flag::BLOCKING, BLOCKING_POP_KEYS,
        brpop, GATHER,
        LIST.docs("Remove and get the last element in a list, or block until one is available",
        "2.0.0", "O(N) where N is the number of provided keys.")),
    LIST.keyed("brpoplpush", 4, W_DENYOOM | flag::NOSCRIPT | flag::BLOCKING, MOVE_KEYS,
        brpoplpush, GATHER,
        LIST.docs("Pop an element from a list, push it to another list and return it; or block \
        until one is available", "2.2.0", "O(1)")),
    LIST.keyed("blmove", 6, W_DENYOOM | flag::NOSCRIPT | flag::BLOCKING, MOVE_KEYS, blmove,
        GATHER,
        LIST.docs("Pop an element from a list, push it to another list and return it; or block \
        until one is available", "6.2.0", "O(1)")),
    LIST.keyed("blmpop", -5, flag::WRITE | flag::BLOCKING,
        &[KeySpec::keynum(kf::RW | kf::ACCESS | kf::DELETE, 2, 0, 1, 1)], blmpop, GATHER,
        LIST.docs("Pop elements from a list, or block until one is available", "7.0.0",
        "O(N+M) where N is the number of provided keys and M is the number of elements \
        returned.")),
];

/// BLPOP and BRPOP: every argument but the first and the last (the timeout) is a key.
const BLOCKING_POP_KEYS: &[KeySpec] = &[KeySpec::range(kf::RW | kf::ACCESS | kf::DELETE, 1, -2, 1)];

/// How the node serves each blocking list command once it blocks (`cmd::blocking`).
pub const BLOCKING: &[(&str, Blocking)] = &[
    (
        "blpop",
        Blocking::pop(last_arg_timeout, serve_blpop, Kind::List),
    ),
    (
        "brpop",
        Blocking::pop(last_arg_timeout, serve_brpop, Kind::List),
    ),
    (
        "brpoplpush",
        Blocking {
            waits_on: WaitsOn::FirstKey,
            ..Blocking::pop(last_arg_timeout, serve_brpoplpush, Kind::List)
        },
    ),
    (
        "blmove",
        Blocking {
            waits_on: WaitsOn::FirstKey,
            ..Blocking::pop(last_arg_timeout, serve_blmove, Kind::List)
        },
    ),
    (
        "blmpop",
        Blocking::pop(first_arg_timeout, serve_blmpop, Kind::List),
    ),
];

// ---------------------------------------------------------------------------------------------
// Parsers.

/// LEFT or RIGHT (LMOVE, LMPOP); anything else is a syntax error.
pub(crate) fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if eq_word(arg, "LEFT") {
        Ok(End::Left)
    } else if eq_word(arg, "RIGHT") {
        Ok(End::Right)
    } else {
        Err(CmdError::Syntax)
    }
}

/// LPOP/RPOP's optional count: any non-integer or negative count is "must be positive".
fn parse_pop_count(argv: &Argv) -> Result<Option<usize>, CmdError> {
    let Some(arg) = argv.get(2) else {
        return Ok(None);
    };
    let n = parse_i64(arg).map_err(|_| CmdError::NotPositive)?;
    usize::try_from(n)
        .map(Some)
        .map_err(|_| CmdError::NotPositive)
}

/// A Redis list range (LRANGE, LTRIM) resolved against `len`: the first index and how many.
fn resolve_range(start: i64, stop: i64, len: usize) -> (usize, usize) {
    let len = len as i128;
    let (mut start, mut stop) = (i128::from(start), i128::from(stop));
    if start < 0 {
        start += len;
    }
    if stop < 0 {
        stop += len;
    }
    start = start.max(0);
    if start > stop || start >= len {
        return (0, 0);
    }
    stop = stop.min(len - 1);
    (start as usize, (stop - start + 1) as usize)
}

/// A Redis index (negative from the end) resolved against `len`.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        i128::from(index) + len as i128
    } else {
        i128::from(index)
    };
    (0..len as i128).contains(&i).then_some(i as usize)
}

/// LPOS's options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LposArgs {
    /// Scan from this end.
    from: End,
    /// Matches to skip before the first reported (RANK's magnitude minus one).
    skip: u64,
    /// `None`: one position or nil; `Some(0)`: every match.
    count: Option<u64>,
    /// Elements to examine (0: all).
    maxlen: u64,
}

fn parse_lpos(argv: &Argv) -> Result<LposArgs, CmdError> {
    let mut out = LposArgs {
        from: End::Left,
        skip: 0,
        count: None,
        maxlen: 0,
    };
    let mut args = Args::new(argv, 3);
    while let Some(word) = args.next() {
        let Some(value) = args.next() else {
            return Err(CmdError::Syntax);
        };
        if eq_word(word, "RANK") {
            let rank = parse_i64(value)?;
            if rank == 0 {
                return Err(CmdError::RankZero);
            }
            out.from = if rank < 0 { End::Right } else { End::Left };
            // i64::MIN: Redis's negation leaves it negative, so every match passes (as -1).
            out.skip = match rank {
                i64::MIN => 0,
                r => r.unsigned_abs() - 1,
            };
        } else if eq_word(word, "COUNT") {
            let n = parse_i64(value).map_err(|_| CmdError::CountNegative)?;
            out.count = Some(u64::try_from(n).map_err(|_| CmdError::CountNegative)?);
        } else if eq_word(word, "MAXLEN") {
            let n = parse_i64(value).map_err(|_| CmdError::MaxlenNegative)?;
            out.maxlen = u64::try_from(n).map_err(|_| CmdError::MaxlenNegative)?;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(out)
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`: the key count, the end, the count.
fn parse_lmpop(argv: &Argv) -> Result<(usize, End, usize), CmdError> {
    let numkeys = parse_i64(&argv[1]).map_err(|_| CmdError::NumkeysNotPositive)?;
    if numkeys < 1 {
        return Err(CmdError::NumkeysNotPositive);
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    let end_at = numkeys.saturating_add(2);
    if end_at >= argv.len() {
        return Err(CmdError::Syntax);
    }
    let end = parse_end(&argv[end_at])?;
    let mut args = Args::new(argv, end_at + 1);
    let mut count = None;
    while let Some(word) = args.next() {
        if count.is_some() || !eq_word(word, "COUNT") || args.is_done() {
            return Err(CmdError::Syntax);
        }
        let n = parse_i64(args.next_arg()?).map_err(|_| CmdError::CountNotPositive)?;
        if n < 1 {
            return Err(CmdError::CountNotPositive);
        }
        count = Some(usize::try_from(n).unwrap_or(usize::MAX));
    }
    Ok((numkeys, end, count.unwrap_or(1)))
}

// ---------------------------------------------------------------------------------------------
// Shared operations (the blocking commands use these too).

fn changed(yes: bool) -> Change {
    if yes {
        Change::Modified
    } else {
        Change::Unchanged
    }
}

fn bulks(elems: Vec<Vec<u8>>) -> Reply {
    Reply::Array(elems.into_iter().map(Reply::Bulk).collect())
}

/// Pushes `elems` in order at `end` of the list under `key`; the new length, or `None` when
/// the key is absent and `if_absent` is `Skip` (LPUSHX).
pub(crate) fn push(
    ecx: &mut ExecCx,
    key: &[u8],
    end: End,
    elems: &[&[u8]],
    if_absent: IfAbsent,
) -> Result<Option<usize>, CmdError> {
    ecx.edit_list(key, if_absent, |list, limits| {
        list.push_all(end, elems, limits);
        Ok((list.len(), Change::Modified))
    })
}

/// Pops up to `count` elements from `end` of the list under `key` (deleting it when emptied);
/// `None` when there is no list there.
pub(crate) fn pop(
    ecx: &mut ExecCx,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<Vec<u8>>>, CmdError> {
    ecx.edit_list(key, IfAbsent::Skip, |list, _| {
        let n = count.min(list.len());
        let popped: Vec<Vec<u8>> = (0..n).filter_map(|_| list.pop(end)).collect();
        Ok((popped, changed(n > 0)))
    })
}

/// LMOVE's step: pops from `from` of `src` and pushes at `to` of `dst`; the element, or
/// `None` when `src` holds no list. WRONGTYPE for a destination of another type, checked only
/// when the source is there (Redis's order).
pub(crate) fn move_element(
    ecx: &mut ExecCx,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Vec<u8>>, CmdError> {
    if !ecx.check_type(src, Kind::List)? {
        return Ok(None);
    }
    ecx.check_type(dst, Kind::List)?;
    if src == dst {
        return ecx.edit_list(src, IfAbsent::Skip, |list, limits| {
            let elem = list.pop(from).expect("a stored list is not empty");
            list.push(to, &elem, limits);
            Ok((elem, Change::Modified))
        });
    }
    let Some(mut popped) = pop(ecx, src, from, 1)? else {
        return Ok(None);
    };
    let elem = popped.pop().expect("a stored list is not empty");
    push(ecx, dst, to, &[&elem], IfAbsent::Create)?;
    Ok(Some(elem))
}

/// A key and the elements popped from it (LMPOP).
pub(crate) type Popped = (Vec<u8>, Vec<Vec<u8>>);

/// LMPOP's step: pops up to `count` from `end` of the first of `keys` holding a list; that
/// key and the elements, or `None` when none does. WRONGTYPE for a key of another type met
/// before a list.
pub(crate) fn mpop(
    ecx: &mut ExecCx,
    keys: &[&[u8]],
    end: End,
    count: usize,
) -> Result<Option<Popped>, CmdError> {
    for key in keys {
        if let Some(elems) = pop(ecx, key, end, count)? {
            return Ok(Some((key.to_vec(), elems)));
        }
    }
    Ok(None)
}

/// LMPOP's (and BLMPOP's) reply: [key, [elements…]].
pub(crate) fn mpop_reply(popped: Option<Popped>) -> Reply {
    match popped {
        None => Reply::NilArray,
        Some((key, elems)) => Reply::Array(vec![Reply::Bulk(key), bulks(elems)]),
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers.

fn elements(argv: &Argv) -> Vec<&[u8]> {
    argv.iter().skip(2).collect()
}

fn push_reply(len: Option<usize>) -> Reply {
    Reply::Int(len.unwrap_or(0) as i64)
}

fn lpush(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    push(ecx, &argv[1], End::Left, &elements(argv), IfAbsent::Create).map(push_reply)
}

fn rpush(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    push(ecx, &argv[1], End::Right, &elements(argv), IfAbsent::Create).map(push_reply)
}

fn lpushx(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    push(ecx, &argv[1], End::Left, &elements(argv), IfAbsent::Skip).map(push_reply)
}

fn rpushx(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    push(ecx, &argv[1], End::Right, &elements(argv), IfAbsent::Skip).map(push_reply)
}

/// LPOP/RPOP: one element (nil when absent), or with a count an array (nil array when absent).
fn pop_command(ecx: &mut ExecCx, argv: &Argv, name: &str, end: End) -> Result<Reply, CmdError> {
    // The arity (-2) admits any count of arguments; Redis refuses more than a count after.
    if argv.len() > 3 {
        return Err(CmdError::WrongArity(name.into()));
    }
    match parse_pop_count(argv)? {
        None => {
            let popped = pop(ecx, &argv[1], end, 1)?;
            Ok(Reply::opt_bulk(popped.and_then(|mut p| p.pop())))
        }
        Some(count) => Ok(pop(ecx, &argv[1], end, count)?.map_or(Reply::NilArray, bulks)),
    }
}

fn lpop(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    pop_command(ecx, argv, "lpop", End::Left)
}

fn rpop(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    pop_command(ecx, argv, "rpop", End::Right)
}

fn llen(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let len = ecx.read_list(&argv[1])?.map_or(0, ListValue::len);
    Ok(Reply::Int(len as i64))
}

fn lindex(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let Some(list) = ecx.read_list(&argv[1])? else {
        return Ok(Reply::Nil);
    };
    let index = parse_i64(&argv[2])?;
    let elem = resolve_index(index, list.len()).and_then(|i| list.get(i));
    Ok(Reply::opt_bulk(elem.map(<[u8]>::to_vec)))
}

fn linsert(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let after = if eq_word(&argv[2], "AFTER") {
        true
    } else if eq_word(&argv[2], "BEFORE") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let (pivot, elem) = (&argv[3], &argv[4]);
    let len = ecx.edit_list(&argv[1], IfAbsent::Skip, |list, limits| {
        let Some(at) = list.iter().position(|e| e == pivot) else {
            return Ok((-1, Change::Unchanged));
        };
        list.insert(at + usize::from(after), elem, limits);
        Ok((list.len() as i64, Change::Modified))
    })?;
    Ok(Reply::Int(len.unwrap_or(0)))
}

fn lrange(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let start = parse_i64(&argv[2])?;
    let stop = parse_i64(&argv[3])?;
    let Some(list) = ecx.read_list(&argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let (from, n) = resolve_range(start, stop, list.len());
    if n == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let elems = list
        .iter_from(from)
        .take(n)
        .map(|e| Reply::Bulk(e.to_vec()))
        .collect();
    Ok(Reply::Array(elems))
}

fn lrem(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let count = parse_i64(&argv[2])?;
    let elem = &argv[3];
    let from = if count < 0 { End::Right } else { End::Left };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = ecx.edit_list(&argv[1], IfAbsent::Skip, |list, limits| {
        let removed = list.remove_matching(elem, from, limit, limits);
        Ok((removed, changed(removed > 0)))
    })?;
    Ok(Reply::Int(removed.unwrap_or(0) as i64))
}

fn lset(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let done = ecx.edit_list(&argv[1], IfAbsent::Skip, |list, limits| {
        let index = parse_i64(&argv[2])?;
        let at = resolve_index(index, list.len()).ok_or(CmdError::IndexOutOfRange)?;
        list.set(at, &argv[3], limits);
        Ok(((), Change::Modified))
    })?;
    done.map(|()| Reply::OK).ok_or(CmdError::NoSuchKey)
}

fn ltrim(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let start = parse_i64(&argv[2])?;
    let stop = parse_i64(&argv[3])?;
    ecx.edit_list(&argv[1], IfAbsent::Skip, |list, limits| {
        let len = list.len();
        let (from, n) = resolve_range(start, stop, len);
        let right = len - from - n;
        // n == 0 drops everything: the left trim takes it all.
        let left = if n == 0 { len } else { from };
        list.remove_end(End::Left, left, limits);
        list.remove_end(End::Right, right.min(list.len()), limits);
        // Redis signals the key whatever was trimmed.
        Ok(((), Change::Modified))
    })?;
    Ok(Reply::OK)
}

fn lpos(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let opts = parse_lpos(argv)?;
    let elem: &[u8] = &argv[2];
    let Some(list) = ecx.read_list(&argv[1])? else {
        return Ok(match opts.count {
            None => Reply::Nil,
            Some(_) => Reply::Array(Vec::new()),
        });
    };
    let len = list.len();
    let scan: Box<dyn Iterator<Item = &[u8]>> = match opts.from {
        End::Left => Box::new(list.iter()),
        End::Right => Box::new(list.iter().rev()),
    };
    let mut found = Vec::new();
    let mut matches = 0u64;
    for (examined, e) in scan.enumerate() {
        if opts.maxlen != 0 && examined as u64 >= opts.maxlen {
            break;
        }
        if e != elem {
            continue;
        }
        matches += 1;
        if matches <= opts.skip {
            continue;
        }
        let at = match opts.from {
            End::Left => examined,
            End::Right => len - 1 - examined,
        };
        found.push(at as i64);
        match opts.count {
            None => break,
            Some(c) if c != 0 && found.len() as u64 >= c => break,
            Some(_) => {}
        }
    }
    Ok(match opts.count {
        None => found.first().map_or(Reply::Nil, |&i| Reply::Int(i)),
        Some(_) => Reply::Array(found.into_iter().map(Reply::Int).collect()),
    })
}

fn rpoplpush(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let moved = move_element(ecx, &argv[1], &argv[2], End::Right, End::Left)?;
    Ok(Reply::opt_bulk(moved))
}

fn lmove(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    let moved = move_element(ecx, &argv[1], &argv[2], from, to)?;
    Ok(Reply::opt_bulk(moved))
}

fn lmpop(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (numkeys, end, count) = parse_lmpop(argv)?;
    let keys: Vec<&[u8]> = argv.iter().skip(2).take(numkeys).collect();
    Ok(mpop_reply(mpop(ecx, &keys, end, count)?))
}

// ---------------------------------------------------------------------------------------------
// Blocking commands: the attempt (the row's handler) and the serve from a ready key.

/// BLPOP/BRPOP's attempt: the timeout, then the first key holding a list (WRONGTYPE for a key
/// of another type met before one).
fn blocking_pop(ecx: &mut ExecCx, argv: &Argv, end: End) -> Result<Reply, CmdError> {
    last_arg_timeout(argv)?;
    let keys: Vec<&[u8]> = argv.iter().skip(1).take(argv.len() - 2).collect();
    Ok(match mpop(ecx, &keys, end, 1)? {
        None => Reply::NilArray,
        Some((key, mut elems)) => {
            let elem = elems.pop().expect("a pop from a list yields one");
            Reply::Array(vec![Reply::Bulk(key), Reply::Bulk(elem)])
        }
    })
}

fn blpop(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    blocking_pop(ecx, argv, End::Left)
}

fn brpop(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    blocking_pop(ecx, argv, End::Right)
}

/// Whether `key` holds a list now; another type leaves a blocked client waiting (Redis 7.0).
fn holds_list(ecx: &mut ExecCx, key: &[u8]) -> bool {
    matches!(ecx.check_type(key, Kind::List), Ok(true))
}

fn serve_pop(ecx: &mut ExecCx, key: &[u8], end: End) -> Result<Reply, CmdError> {
    if !holds_list(ecx, key) {
        return Ok(Reply::NilArray);
    }
    let mut elems = pop(ecx, key, end, 1)?.expect("a list is there");
    let elem = elems.pop().expect("a stored list is not empty");
    Ok(Reply::Array(vec![Reply::bulk(key), Reply::Bulk(elem)]))
}

fn serve_blpop(ecx: &mut ExecCx, _argv: &Argv, key: &[u8]) -> Result<Reply, CmdError> {
    serve_pop(ecx, key, End::Left)
}

fn serve_brpop(ecx: &mut ExecCx, _argv: &Argv, key: &[u8]) -> Result<Reply, CmdError> {
    serve_pop(ecx, key, End::Right)
}

fn brpoplpush(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    last_arg_timeout(argv)?;
    rpoplpush(ecx, argv)
}

/// BLMOVE's ends, then its timeout (Redis parses them in that order).
fn parse_blmove(argv: &Argv) -> Result<(End, End), CmdError> {
    let ends = (parse_end(&argv[3])?, parse_end(&argv[4])?);
    last_arg_timeout(argv)?;
    Ok(ends)
}

fn blmove(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (from, to) = parse_blmove(argv)?;
    let moved = move_element(ecx, &argv[1], &argv[2], from, to)?;
    Ok(Reply::opt_bulk(moved))
}

/// A woken BLMOVE: the source must hold a list; a destination of another type answers
/// WRONGTYPE and unblocks the client, the element staying in the source (as Redis).
fn serve_move(ecx: &mut ExecCx, argv: &Argv, from: End, to: End) -> Result<Reply, CmdError> {
    if !holds_list(ecx, &argv[1]) {
        return Ok(Reply::Nil);
    }
    let moved = move_element(ecx, &argv[1], &argv[2], from, to)?;
    Ok(Reply::opt_bulk(moved))
}

fn serve_brpoplpush(ecx: &mut ExecCx, argv: &Argv, _key: &[u8]) -> Result<Reply, CmdError> {
    serve_move(ecx, argv, End::Right, End::Left)
}

fn serve_blmove(ecx: &mut ExecCx, argv: &Argv, _key: &[u8]) -> Result<Reply, CmdError> {
    let (from, to) = parse_blmove(argv)?;
    serve_move(ecx, argv, from, to)
}

fn blmpop(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    first_arg_timeout(argv)?;
    lmpop(ecx, &without_first_arg_timeout(argv))
}

fn serve_blmpop(ecx: &mut ExecCx, argv: &Argv, key: &[u8]) -> Result<Reply, CmdError> {
    let (_, end, count) = parse_lmpop(&without_first_arg_timeout(argv))?;
    if !holds_list(ecx, key) {
        return Ok(Reply::NilArray);
    }
    Ok(mpop_reply(mpop(ecx, &[key], end, count)?))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::node::shard_of;
    use crate::testkit::each;

    const OK: &str = "+OK\r\n";
    const NIL: &str = "$-1\r\n";
    const NIL_ARRAY: &str = "*-1\r\n";
    const WRONGTYPE: &str =
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

    fn int(n: i64) -> String {
        format!(":{n}\r\n")
    }

    fn bulk(s: &str) -> String {
        format!("${}\r\n{s}\r\n", s.len())
    }

    fn arr(items: &[&str]) -> String {
        let mut out = format!("*{}\r\n", items.len());
        for s in items {
            out.push_str(&bulk(s));
        }
        out
    }

    fn assert_spread(keys: &[&str]) {
        let shards: BTreeSet<_> = keys.iter().map(|k| shard_of(k.as_bytes(), 3)).collect();
        assert!(shards.len() > 1, "{keys:?} all hash to one shard");
    }

    #[test]
    fn pushes_pops_and_ranges() {
        each(|t| {
            t.check(&[
                (&["RPUSH", "l", "a", "b", "c"], &int(3)),
                (&["LPUSH", "l", "z"], &int(4)),
                (&["LRANGE", "l", "0", "-1"], &arr(&["z", "a", "b", "c"])),
                (&["LPOP", "l", "0"], "*0\r\n"),
                (&["LPOP", "nosuch", "0"], NIL_ARRAY),
                (&["LPOP", "nosuch"], NIL),
                (&["RPOP", "l", "2"], &arr(&["c", "b"])),
                (
                    &["LPOP", "l", "1", "2"],
                    "-ERR wrong number of arguments for 'lpop' command\r\n",
                ),
                (&["LINDEX", "l", "-1"], &bulk("a")),
                (&["LPOP", "l", "9"], &arr(&["z", "a"])),
                (&["EXISTS", "l"], &int(0)),
                (&["OBJECT", "ENCODING", "nosuch"], NIL),
            ]);
            t.run(&["RPUSH", "l", "x"]);
            t.check(&[
                (&["OBJECT", "ENCODING", "l"], &bulk("quicklist")),
                (&["TYPE", "l"], "+list\r\n"),
            ]);
        });
    }

    #[test]
    fn moves_across_shards_are_one_step() {
        assert_spread(&["src", "dst"]);
        each(|t| {
            t.check(&[
                (&["RPUSH", "src", "a", "b", "c"], &int(3)),
                (&["RPOPLPUSH", "src", "dst"], &bulk("c")),
                (&["LMOVE", "src", "dst", "LEFT", "RIGHT"], &bulk("a")),
                (&["LRANGE", "dst", "0", "-1"], &arr(&["c", "a"])),
                (&["SET", "str", "x"], OK),
                (&["LMOVE", "src", "str", "LEFT", "LEFT"], WRONGTYPE),
                (&["LMOVE", "nosuch", "str", "LEFT", "LEFT"], NIL),
                (&["LMOVE", "src", "src", "LEFT", "RIGHT"], &bulk("b")),
                (
                    &["LMPOP", "3", "nosuch", "src", "dst", "RIGHT", "COUNT", "5"],
                    "*2\r\n$3\r\nsrc\r\n*1\r\n$1\r\nb\r\n",
                ),
                (&["EXISTS", "src"], &int(0)),
                (&["MULTI"], OK),
                (&["LMOVE", "dst", "src", "RIGHT", "LEFT"], "+QUEUED\r\n"),
                (&["LMPOP", "2", "dst", "src", "LEFT"], "+QUEUED\r\n"),
                (
                    &["EXEC"],
                    "*2\r\n$1\r\na\r\n*2\r\n$3\r\ndst\r\n*1\r\n$1\r\nc\r\n",
                ),
                (&["LRANGE", "src", "0", "-1"], &arr(&["a"])),
                (&["EXISTS", "dst"], &int(0)),
            ]);
        });
    }

    #[test]
    fn reads_count_keyspace_hits_and_writes_do_not() {
        each(|t| {
            t.run(&["RPUSH", "l", "a"]);
            t.run(&["CONFIG", "RESETSTAT"]);
            t.run(&["LRANGE", "l", "0", "-1"]);
            t.run(&["LLEN", "nosuch"]);
            t.run(&["LPOP", "nosuch"]);
            t.run(&["RPUSH", "l", "b"]);
            let info = t.run(&["INFO", "stats"]);
            assert!(info.contains("keyspace_hits:1\r\n"), "{info}");
            assert!(info.contains("keyspace_misses:1\r\n"), "{info}");
        });
    }

    #[test]
    fn parsers_are_typed() {
        assert_eq!(resolve_range(-100, 100, 3), (0, 3));
        assert_eq!(resolve_range(i64::MIN, i64::MAX, 3), (0, 3));
        assert_eq!(resolve_range(2, 1, 3), (0, 0));
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(i64::MIN, 3), None);
        let argv = Argv::from_slices(&["LPOS", "l", "a", "RANK", "-9223372036854775808"]);
        let opts = parse_lpos(&argv).expect("parses");
        assert_eq!((opts.from, opts.skip), (End::Right, 0));
        let argv = Argv::from_slices(&["LMPOP", "2", "a", "b", "left", "COUNT", "3"]);
        assert_eq!(parse_lmpop(&argv), Ok((2, End::Left, 3)));
        let argv = Argv::from_slices(&["LMPOP", "5", "a", "b", "LEFT"]);
        assert_eq!(parse_lmpop(&argv), Err(CmdError::Syntax));
    }
}
