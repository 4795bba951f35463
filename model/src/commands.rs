//! The command table: name, arity, which keys a command touches, and its handler. It is the
//! only list of commands in the model; dispatch and the linearizability checker's key
//! partitioning both read it.
//!
//! Like Redis's `processCommand`, dispatch first looks the name up (case-insensitively), then
//! checks arity once for every command, and only then runs the handler, so handlers never
//! count arguments beyond what their own grammar needs.

use crate::args;
use crate::bitmap;
use crate::draws;
use crate::hash;
use crate::hll;
use crate::keyspace;
use crate::list;
use crate::model::{ConnState, Ctx};
use crate::multi::{self, InMulti};
use crate::resp::Resp;
use crate::set;
use crate::sort;
use crate::stream;
use crate::strings;
use crate::zset;

/// A command handler: `argv[0]` is the command name, arity already checked.
pub(crate) type Handler = fn(&mut Ctx, &[Vec<u8>]) -> Resp;

/// Which keys a command reads or writes, for partitioning histories by key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeySpec {
    /// Touches no key and no shared state (PING, ECHO, SELECT).
    None,
    /// `argv[1]`.
    First,
    /// `argv[1]` and `argv[2]` (RENAME).
    FirstTwo,
    /// Every argument from `argv[1]` on (DEL, MGET).
    All,
    /// `argv[1], argv[3], ...` (MSET).
    Pairs,
    /// `argv[2]` to `argv[1 + numkeys]`, `numkeys` being `argv[1]` (SINTERCARD); a count that
    /// is not a usable integer touches no key (the command fails before any lookup).
    Keynum,
    /// `argv[1]` in this db and in the db named by `argv[2]` (MOVE).
    Move,
    /// `argv[1]` here, `argv[2]` here or in the db named after `DB` (COPY).
    Copy,
    /// A whole database or the whole server (KEYS, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB).
    Everything,
    /// `argv[2]` (XGROUP's key, after the subcommand).
    Third,
    /// The argument before the last (XREADGROUP … STREAMS key id, one key).
    LastButOne,
}

pub(crate) struct Spec {
    /// Lower-case, as Redis prints it in arity errors.
    pub name: &'static str,
    /// Redis arity: `n` means exactly `n` arguments (with the name), `-n` at least `n`.
    pub arity: i32,
    pub keys: KeySpec,
    pub run: Handler,
    /// Queued after MULTI, or run at once (the transaction commands themselves).
    pub in_multi: InMulti,
}

const fn spec(name: &'static str, arity: i32, keys: KeySpec, run: Handler) -> Spec {
    Spec {
        name,
        arity,
        keys,
        run,
        in_multi: InMulti::Queue,
    }
}

/// A command that runs at once even between MULTI and EXEC.
const fn control(name: &'static str, arity: i32, keys: KeySpec, run: Handler) -> Spec {
    Spec {
        in_multi: InMulti::Run,
        ..spec(name, arity, keys, run)
    }
}

use KeySpec as K;

/// Every modelled command.
pub(crate) const SPECS: &[Spec] = &[
    spec("get", 2, K::First, strings::get),
    spec("set", -3, K::First, strings::set),
    spec("setnx", 3, K::First, strings::setnx),
    spec("setex", 4, K::First, strings::setex),
    spec("psetex", 4, K::First, strings::psetex),
    spec("mget", -2, K::All, strings::mget),
    spec("mset", -3, K::Pairs, strings::mset),
    spec("msetnx", -3, K::Pairs, strings::msetnx),
    spec("getset", 3, K::First, strings::getset),
    spec("getdel", 2, K::First, strings::getdel),
    spec("getex", -2, K::First, strings::getex),
    spec("append", 3, K::First, strings::append),
    spec("strlen", 2, K::First, strings::strlen),
    spec("getrange", 4, K::First, strings::getrange),
    spec("substr", 4, K::First, strings::getrange),
    spec("setrange", 4, K::First, strings::setrange),
    spec("incr", 2, K::First, strings::incr),
    spec("decr", 2, K::First, strings::decr),
    spec("incrby", 3, K::First, strings::incrby),
    spec("decrby", 3, K::First, strings::decrby),
    spec("incrbyfloat", 3, K::First, strings::incrbyfloat),
    spec("hset", -4, K::First, hash::hset),
    spec("hmset", -4, K::First, hash::hmset),
    spec("hsetnx", 4, K::First, hash::hsetnx),
    spec("hget", 3, K::First, hash::hget),
    spec("hmget", -3, K::First, hash::hmget),
    spec("hdel", -3, K::First, hash::hdel),
    spec("hlen", 2, K::First, hash::hlen),
    spec("hstrlen", 3, K::First, hash::hstrlen),
    spec("hexists", 3, K::First, hash::hexists),
    spec("hkeys", 2, K::First, hash::hkeys),
    spec("hvals", 2, K::First, hash::hvals),
    spec("hgetall", 2, K::First, hash::hgetall),
    spec("hrandfield", -2, K::First, draws::hrandfield),
    spec("hscan", -3, K::First, draws::hscan),
    spec("spop", -2, K::First, draws::spop),
    spec("srandmember", -2, K::First, draws::srandmember),
    spec("sscan", -3, K::First, draws::sscan),
    spec("zrandmember", -2, K::First, draws::zrandmember),
    spec("zscan", -3, K::First, draws::zscan),
    spec("hincrby", 4, K::First, hash::hincrby),
    spec("hincrbyfloat", 4, K::First, hash::hincrbyfloat),
    spec("sadd", -3, K::First, set::sadd),
    spec("srem", -3, K::First, set::srem),
    spec("smembers", 2, K::First, set::smembers),
    spec("sismember", 3, K::First, set::sismember),
    spec("smismember", -3, K::First, set::smismember),
    spec("scard", 2, K::First, set::scard),
    spec("smove", 4, K::FirstTwo, set::smove),
    spec("sinter", -2, K::All, set::sinter),
    spec("sintercard", -3, K::Keynum, set::sintercard),
    spec("sinterstore", -3, K::All, set::sinterstore),
    spec("sunion", -2, K::All, set::sunion),
    spec("sunionstore", -3, K::All, set::sunionstore),
    spec("sdiff", -2, K::All, set::sdiff),
    spec("sdiffstore", -3, K::All, set::sdiffstore),
    spec("lpush", -3, K::First, list::lpush),
    spec("rpush", -3, K::First, list::rpush),
    spec("lpushx", -3, K::First, list::lpushx),
    spec("rpushx", -3, K::First, list::rpushx),
    spec("lpop", -2, K::First, list::lpop),
    spec("rpop", -2, K::First, list::rpop),
    spec("llen", 2, K::First, list::llen),
    spec("lindex", 3, K::First, list::lindex),
    spec("linsert", 5, K::First, list::linsert),
    spec("lrange", 4, K::First, list::lrange),
    spec("lrem", 4, K::First, list::lrem),
    spec("lset", 4, K::First, list::lset),
    spec("ltrim", 4, K::First, list::ltrim),
    spec("lpos", -3, K::First, list::lpos),
    spec("rpoplpush", 3, K::FirstTwo, list::rpoplpush),
    spec("lmove", 5, K::FirstTwo, list::lmove),
    spec("lmpop", -4, K::Keynum, list::lmpop),
    spec("zadd", -4, K::First, zset::zadd),
    spec("zincrby", 4, K::First, zset::zincrby),
    spec("zrem", -3, K::First, zset::zrem),
    spec("zcard", 2, K::First, zset::zcard),
    spec("zscore", 3, K::First, zset::zscore),
    spec("zmscore", -3, K::First, zset::zmscore),
    spec("zrank", 3, K::First, zset::zrank),
    spec("zrevrank", 3, K::First, zset::zrevrank),
    spec("zcount", 4, K::First, zset::zcount),
    spec("zrange", -4, K::First, zset::zrange),
    spec("zremrangebyrank", 4, K::First, zset::zremrangebyrank),
    spec("zpopmin", -2, K::First, zset::zpopmin),
    spec("zpopmax", -2, K::First, zset::zpopmax),
    spec("zunionstore", -4, K::All, zset::zunionstore),
    spec("zinterstore", -4, K::All, zset::zinterstore),
    // BY/GET patterns read keys named by the data: any key of the database.
    spec("sort", -2, K::Everything, sort::sort),
    spec("sort_ro", -2, K::Everything, sort::sort_ro),
    spec("setbit", 4, K::First, bitmap::setbit),
    spec("getbit", 3, K::First, bitmap::getbit),
    spec("bitcount", -2, K::First, bitmap::bitcount),
    spec("bitpos", -3, K::First, bitmap::bitpos),
    spec("bitop", -4, K::All, bitmap::bitop),
    spec("bitfield", -2, K::First, bitmap::bitfield),
    spec("bitfield_ro", -2, K::First, bitmap::bitfield_ro),
    spec("pfadd", -2, K::First, hll::pfadd),
    spec("pfcount", -2, K::All, hll::pfcount),
    spec("pfmerge", -2, K::All, hll::pfmerge),
    spec("xadd", -5, K::First, stream::xadd),
    spec("xlen", 2, K::First, stream::xlen),
    spec("xrange", -4, K::First, stream::xrange),
    spec("xrevrange", -4, K::First, stream::xrevrange),
    spec("xdel", -3, K::First, stream::xdel),
    spec("xtrim", -4, K::First, stream::xtrim),
    spec("xgroup", -2, K::Third, stream::xgroup),
    spec("xreadgroup", -7, K::LastButOne, stream::xreadgroup),
    spec("xack", -4, K::First, stream::xack),
    spec("xclaim", -6, K::First, stream::xclaim),
    spec("xpending", -3, K::First, stream::xpending),
    spec("del", -2, K::All, keyspace::del),
    spec("unlink", -2, K::All, keyspace::del),
    spec("exists", -2, K::All, keyspace::exists),
    spec("type", 2, K::First, keyspace::type_),
    spec("rename", 3, K::FirstTwo, keyspace::rename),
    spec("renamenx", 3, K::FirstTwo, keyspace::renamenx),
    spec("copy", -3, K::Copy, keyspace::copy),
    spec("move", 3, K::Move, keyspace::move_),
    spec("touch", -2, K::All, keyspace::exists),
    spec("expire", -3, K::First, keyspace::expire),
    spec("pexpire", -3, K::First, keyspace::pexpire),
    spec("expireat", -3, K::First, keyspace::expireat),
    spec("pexpireat", -3, K::First, keyspace::pexpireat),
    spec("ttl", 2, K::First, keyspace::ttl),
    spec("pttl", 2, K::First, keyspace::pttl),
    spec("expiretime", 2, K::First, keyspace::expiretime),
    spec("pexpiretime", 2, K::First, keyspace::pexpiretime),
    spec("persist", 2, K::First, keyspace::persist),
    spec("dbsize", 1, K::Everything, keyspace::dbsize),
    spec("flushdb", -1, K::Everything, keyspace::flushdb),
    spec("flushall", -1, K::Everything, keyspace::flushall),
    spec("select", 2, K::None, keyspace::select),
    spec("swapdb", 3, K::Everything, keyspace::swapdb),
    spec("keys", 2, K::Everything, keyspace::keys),
    spec("ping", -1, K::None, keyspace::ping),
    spec("echo", 2, K::None, keyspace::echo),
    control("multi", 1, K::None, multi::multi),
    control("exec", 1, K::None, multi::exec),
    control("discard", 1, K::None, multi::discard),
    control("watch", -2, K::All, multi::watch),
    spec("unwatch", 1, K::None, multi::unwatch),
    control("reset", 1, K::None, multi::reset),
];

/// The spec for a command name, case-insensitively (C-string compare, like Redis's dict).
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    SPECS
        .iter()
        .find(|s| name.eq_ignore_ascii_case(s.name.as_bytes()))
}

pub(crate) fn arity_ok(spec: &Spec, argc: usize) -> bool {
    let argc = argc as i64;
    let arity = i64::from(spec.arity);
    if arity > 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

/// Redis 7.0's `denyoom` commands among ours (COMMAND INFO's flags): refused when used memory
/// is over `maxmemory`.
const DENYOOM: &[&str] = &[
    "set",
    "setnx",
    "setex",
    "psetex",
    "mset",
    "msetnx",
    "getset",
    "append",
    "setrange",
    "incr",
    "decr",
    "incrby",
    "decrby",
    "incrbyfloat",
    "copy",
    "hset",
    "hmset",
    "hsetnx",
    "hincrby",
    "hincrbyfloat",
    "sadd",
    "sinterstore",
    "sunionstore",
    "sdiffstore",
    "lpush",
    "rpush",
    "lpushx",
    "rpushx",
    "linsert",
    "lset",
    "rpoplpush",
    "lmove",
    "zadd",
    "zincrby",
    "zunionstore",
    "zinterstore",
    "sort",
    "setbit",
    "bitop",
    "bitfield",
    "pfadd",
    "pfmerge",
    "xadd",
    // XGROUP CREATE, the one subcommand modelled, is denyoom.
    "xgroup",
];

/// Commands whose array or set reply lists members in the server's iteration order, which the
/// model does not claim: their replies are compared as multisets.
pub fn unordered_reply(argv: &[Vec<u8>]) -> bool {
    const UNORDERED: &[&str] = &[
        "keys", "smembers", "sinter", "sunion", "sdiff", "hkeys", "hvals",
    ];
    argv.first().is_some_and(|name| {
        UNORDERED
            .iter()
            .any(|u| name.eq_ignore_ascii_case(u.as_bytes()))
    })
}

pub(crate) fn denies_when_out_of_memory(spec: &Spec) -> bool {
    DENYOOM.contains(&spec.name)
}

/// `addReplyErrorArity`.
pub(crate) fn arity_error(name: &str) -> Resp {
    Resp::err(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// Runs a command: lookup, arity, then the handler, or the queue after MULTI.
pub(crate) fn dispatch(cx: &mut Ctx, argv: &[Vec<u8>]) -> Resp {
    let Some(spec) = lookup(&argv[0]) else {
        return multi::reject(cx, None, unknown_command(argv));
    };
    if !arity_ok(spec, argv.len()) {
        return multi::reject(cx, Some(spec), arity_error(spec.name));
    }
    if let Some(queued) = multi::queue(cx, spec, argv) {
        return queued;
    }
    (spec.run)(cx, argv)
}

/// Redis 7.0's reply to an unknown command: the name cut to 128 bytes, then quoted arguments
/// while fewer than 128 bytes of them have been written, each cut to what is left of those 128;
/// arguments are C strings (cut at NUL) and CR/LF become spaces.
fn unknown_command(argv: &[Vec<u8>]) -> Resp {
    const ARGS_BYTES_MAX: usize = 128;
    let name = args::cstr(&argv[0]);
    let mut listed: Vec<u8> = Vec::new();
    for arg in &argv[1..] {
        if listed.len() >= ARGS_BYTES_MAX {
            break;
        }
        let room = ARGS_BYTES_MAX - listed.len();
        let arg = args::cstr(arg);
        listed.push(b'\'');
        listed.extend_from_slice(&arg[..arg.len().min(room)]);
        listed.extend_from_slice(b"' ");
    }
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(&name[..name.len().min(128)]);
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend_from_slice(&listed);
    let text: Vec<u8> = text
        .into_iter()
        .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect();
    Resp::Error(String::from_utf8_lossy(&text).into_owned())
}

/// What a command touches, for partitioning a history (see `linearizability`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Touch {
    /// No shared state: the reply depends only on the arguments and the connection.
    Nothing,
    /// Exactly these `(db, key)` pairs (possibly an over-approximation).
    Keys(Vec<(usize, Vec<u8>)>),
    /// Possibly any key of any database.
    Everything,
}

/// The keys `argv` would touch when sent on `conn` to a server with `dbs` databases.
/// Unknown commands and wrong arity touch nothing (Redis rejects them before any lookup).
pub fn touched(conn: &ConnState, argv: &[Vec<u8>], dbs: usize) -> Touch {
    let Some(spec) = argv.first().and_then(|name| lookup(name)) else {
        return Touch::Nothing;
    };
    if !arity_ok(spec, argv.len()) {
        return Touch::Nothing;
    }
    let here = |k: &Vec<u8>| (conn.db, k.clone());
    let keys = match spec.keys {
        K::None => return Touch::Nothing,
        K::Everything => return Touch::Everything,
        K::First => vec![here(&argv[1])],
        K::FirstTwo => vec![here(&argv[1]), here(&argv[2])],
        K::Third => vec![here(&argv[2])],
        K::LastButOne => vec![here(&argv[argv.len() - 2])],
        K::All => argv[1..].iter().map(here).collect(),
        K::Pairs => argv[1..].iter().step_by(2).map(here).collect(),
        K::Keynum => {
            let numkeys = crate::args::string2ll(&argv[1])
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n <= argv.len() - 2)
                .unwrap_or(0);
            argv[2..2 + numkeys].iter().map(here).collect()
        }
        K::Move => {
            let mut keys = vec![here(&argv[1])];
            keys.extend(db_index(&argv[2], dbs).map(|db| (db, argv[1].clone())));
            keys
        }
        K::Copy => {
            let mut keys = vec![here(&argv[1]), here(&argv[2])];
            let named = argv[3..].windows(2).filter(|w| args::is(&w[0], "db"));
            keys.extend(
                named
                    .filter_map(|w| db_index(&w[1], dbs))
                    .map(|db| (db, argv[2].clone())),
            );
            keys
        }
    };
    Touch::Keys(keys)
}

fn db_index(arg: &[u8], dbs: usize) -> Option<usize> {
    args::string2ll(arg)
        .and_then(|v| usize::try_from(v).ok())
        .filter(|&v| v < dbs)
}

/// Whether `argv`, outside MULTI, with this reply (`None`: whatever it replied), can have
/// changed nothing at all: no key, no TTL, no WATCH count, not its connection. True for
/// commands that only read, and for a few writes whose reply says they did nothing (SETNX
/// and friends replying 0, GETDEL replying nil, an error from any data command: every handler
/// checks before it writes). The linearizability checker may place such an op as soon as it
/// can take effect, because wherever else it went it would have changed nothing either.
/// `false` is always safe (it only costs the checker time).
pub fn leaves_state_alone(argv: &[Vec<u8>], reply: Option<&Resp>) -> bool {
    let Some(spec) = argv.first().and_then(|name| lookup(name)) else {
        return false;
    };
    if !arity_ok(spec, argv.len()) {
        return false;
    }
    const READS: &[&str] = &[
        "get",
        "srandmember",
        "sscan",
        "hrandfield",
        "hscan",
        "zrandmember",
        "zscan",
        "smembers",
        "sismember",
        "smismember",
        "scard",
        "sinter",
        "sintercard",
        "sunion",
        "sdiff",
        "mget",
        "strlen",
        "getrange",
        "substr",
        "exists",
        "touch",
        "type",
        "ttl",
        "pttl",
        "expiretime",
        "pexpiretime",
        "dbsize",
        "keys",
        "ping",
        "echo",
        "xlen",
        "xrange",
        "xrevrange",
        "xpending",
    ];
    const NOTHING_DONE_IS_0: &[&str] = &[
        "sadd",
        "srem",
        "smove",
        "setnx",
        "msetnx",
        "del",
        "unlink",
        "persist",
        "expire",
        "pexpire",
        "expireat",
        "pexpireat",
        "renamenx",
        "copy",
        "move",
    ];
    if READS.contains(&spec.name) {
        return true;
    }
    match reply {
        Some(Resp::Int(0)) => NOTHING_DONE_IS_0.contains(&spec.name),
        Some(Resp::Nil) => spec.name == "getdel",
        // The connection commands change the connection even when they fail (EXEC's
        // EXECABORT ends the transaction).
        Some(Resp::Error(_)) => spec.in_multi == InMulti::Queue && spec.name != "unwatch",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    const NOW_MS: u64 = 1_700_000_000_000;

    fn argv(cmd: &str) -> Vec<Vec<u8>> {
        cmd.split(' ').map(|a| a.as_bytes().to_vec()).collect()
    }

    /// Start states: empty, `k` a number, `k` text with a TTL and `j` set, `k` expired; each
    /// with `k` and `j` watched by another connection, so a write that signals shows up.
    fn states() -> Vec<(Model, ConnState)> {
        let setups: [&[&str]; 5] = [
            &[],
            &["SET k 5"],
            &["SET k abc PX 5000", "SET j 1"],
            &["SET k gone PX 1"],
            &["SADD k a b 1", "SADD j b"],
        ];
        setups
            .iter()
            .map(|setup| {
                let (mut m, mut own, mut watcher) =
                    (Model::default(), ConnState::default(), ConnState::default());
                for cmd in *setup {
                    m.apply(&mut own, &argv(cmd), NOW_MS);
                }
                m.apply(&mut watcher, &argv("WATCH k j"), NOW_MS);
                (m, own)
            })
            .collect()
    }

    /// Every command the checker trusts to change nothing (given its reply) really changes
    /// nothing, from every start state: the claim `leaves_state_alone` makes.
    #[test]
    fn commands_said_to_leave_state_alone_do() {
        let commands = [
            "SMEMBERS k",
            "SISMEMBER k a",
            "SMISMEMBER k a b",
            "SCARD k",
            "SINTER k j",
            "SINTERCARD 2 k j LIMIT 1",
            "SUNION k j",
            "SDIFF k j",
            "SADD k a",
            "SREM k zz",
            "SMOVE k j zz",
            "SMOVE k k a",
            "GET k",
            "MGET k j x",
            "STRLEN k",
            "GETRANGE k 0 1",
            "SUBSTR k 0 1",
            "EXISTS k j",
            "TOUCH k",
            "TYPE k",
            "TTL k",
            "PTTL k",
            "EXPIRETIME k",
            "PEXPIRETIME k",
            "DBSIZE",
            "KEYS *",
            "PING",
            "ECHO hi",
            "SETNX k 1",
            "MSETNX k 1 x 2",
            "MSETNX x 1",
            "DEL k",
            "DEL x",
            "UNLINK k j",
            "PERSIST k",
            "EXPIRE k 10",
            "EXPIRE k 10 NX",
            "PEXPIRE x 10",
            "EXPIREAT k 1",
            "PEXPIREAT k 1700000009000 XX",
            "PEXPIREAT k 1700000009000 GT",
            "RENAMENX k j",
            "RENAMENX j k",
            "RENAME x k",
            "RENAME k k",
            "COPY k j",
            "COPY k x",
            "MOVE k 1",
            "GETDEL k",
            "GETDEL x",
            "INCR k",
            "INCRBY k x",
            "INCRBYFLOAT k nan",
            "DECR k",
            "APPEND k z",
            "SETRANGE k 0 z",
            "SETRANGE k 999999999999 z",
            "SET k v NX",
            "SET k v XX GET",
            "SET k v EX 0",
            "GETEX k PERSIST",
            "GETSET k v",
            "MSET k 1",
            "SELECT 99",
            "SWAPDB 0 99",
        ];
        let mut trusted = 0;
        for cmd in commands {
            let argv = argv(cmd);
            for (before, conn) in states() {
                let (mut after, mut after_conn) = (before.clone(), conn.clone());
                let reply = after.apply(&mut after_conn, &argv, NOW_MS + 10);
                // Keys already expired at NOW_MS + 10 are gone either way.
                let mut purged = before.clone();
                purged.expire_all(NOW_MS + 10);
                for claimed in [None, Some(&reply)] {
                    if leaves_state_alone(&argv, claimed) {
                        trusted += 1;
                        assert_eq!(
                            (&after, &after_conn),
                            (&purged, &conn),
                            "{cmd} -> {reply:?} changed the state"
                        );
                    }
                }
            }
        }
        assert!(trusted > 100, "only {trusted} cases exercised the claim");
    }

    #[test]
    fn writes_are_not_said_to_leave_state_alone() {
        for (cmd, reply) in [
            ("SET k v", Resp::ok()),
            ("SETNX k v", Resp::Int(1)),
            ("DEL k", Resp::Int(1)),
            ("GETDEL k", Resp::bulk("v")),
            ("RENAME k k", Resp::ok()),
            ("APPEND k", Resp::Int(0)),
            ("EXEC", Resp::err("EXECABORT Transaction discarded")),
            (
                "WATCH k",
                Resp::err("ERR WATCH inside MULTI is not allowed"),
            ),
            ("NOSUCH k", Resp::err("ERR unknown command")),
        ] {
            assert!(!leaves_state_alone(&argv(cmd), Some(&reply)), "{cmd}");
            assert!(!leaves_state_alone(&argv(cmd), None), "{cmd}");
        }
    }
}
