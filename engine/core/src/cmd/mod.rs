//! The command table: one `CommandSpec` row per command (and per subcommand), the only list of
//! commands. Dispatch, arity checks, key routing, COMMAND INFO/DOCS/COUNT/LIST and the fuzzers'
//! coverage list all read it; a test checks the rows against each other and against Redis.
//!
//! Each family file (`family/`: strings, hash, set, keyspace, server…) holds its rows and its
//! handlers. Handlers
//! that run on a shard are `ShardFn`s: they see one shard's data through `ExecCx` and never see
//! RESP. Commands answered by the connection alone or coordinated across shards are named by
//! `ConnCmd`/`NodeCmd` variants that `node.rs` matches exhaustively.

pub mod args;
pub mod blocking;
pub mod command_args;
pub mod command_docs;
pub mod family;
pub mod names;

// The families keep their short paths (`cmd::strings`, `cmd::hash`…).
pub use family::pubsub;
pub use family::scripting;
pub use family::stream;
pub use family::{bitmap, hll};
pub use family::{
    expire, hash, keyspace, list, memory, object, server, set, strings, transactions, zset,
};
pub use family::{geo, sort};

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::error::CmdError;
use crate::reply::Reply;

pub use args::Args;

/// A handler that runs on the shard owning the command's keys.
pub type ShardFn = fn(&mut ExecCx, &Argv) -> Result<Reply, CmdError>;

/// Command flags, as Redis names them in COMMAND INFO (in Redis's order).
pub mod flag {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 4;
    pub const PUBSUB: u32 = 1 << 5;
    pub const NOSCRIPT: u32 = 1 << 6;
    pub const BLOCKING: u32 = 1 << 8;
    pub const LOADING: u32 = 1 << 9;
    pub const STALE: u32 = 1 << 10;
    pub const SKIP_MONITOR: u32 = 1 << 11;
    pub const SKIP_SLOWLOG: u32 = 1 << 12;
    pub const FAST: u32 = 1 << 14;
    pub const NO_AUTH: u32 = 1 << 15;
    pub const MAY_REPLICATE: u32 = 1 << 16;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 18;
    pub const NO_ASYNC_LOADING: u32 = 1 << 20;
    pub const NO_MULTI: u32 = 1 << 21;
    pub const ALLOW_BUSY: u32 = 1 << 24;

    /// Names in the order COMMAND INFO lists them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories. Rows list the type categories; `CommandSpec::acl_categories` adds those
/// Redis derives from flags (write, read, admin+dangerous, pubsub, fast or slow, blocking).
pub mod acl {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const READ: u32 = 1 << 1;
    pub const WRITE: u32 = 1 << 2;
    pub const SET: u32 = 1 << 3;
    pub const SORTEDSET: u32 = 1 << 4;
    pub const LIST: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const STRING: u32 = 1 << 7;
    pub const BITMAP: u32 = 1 << 8;
    pub const HYPERLOGLOG: u32 = 1 << 9;
    pub const GEO: u32 = 1 << 10;
    pub const STREAM: u32 = 1 << 11;
    pub const PUBSUB: u32 = 1 << 12;
    pub const ADMIN: u32 = 1 << 13;
    pub const FAST: u32 = 1 << 14;
    pub const SLOW: u32 = 1 << 15;
    pub const BLOCKING: u32 = 1 << 16;
    pub const DANGEROUS: u32 = 1 << 17;
    pub const CONNECTION: u32 = 1 << 18;
    pub const TRANSACTION: u32 = 1 << 19;
    pub const SCRIPTING: u32 = 1 << 20;

    /// Names in Redis's order (its category table).
    pub const NAMES: &[&str] = &[
        "keyspace",
        "read",
        "write",
        "set",
        "sortedset",
        "list",
        "hash",
        "string",
        "bitmap",
        "hyperloglog",
        "geo",
        "stream",
        "pubsub",
        "admin",
        "fast",
        "slow",
        "blocking",
        "dangerous",
        "connection",
        "transaction",
        "scripting",
    ];
}

/// Key-spec flags (Redis 7 key specifications), in Redis's order.
pub mod keyflag {
    pub const RO: u16 = 1 << 0;
    pub const RW: u16 = 1 << 1;
    pub const OW: u16 = 1 << 2;
    pub const RM: u16 = 1 << 3;
    pub const ACCESS: u16 = 1 << 4;
    pub const UPDATE: u16 = 1 << 5;
    pub const INSERT: u16 = 1 << 6;
    pub const DELETE: u16 = 1 << 7;
    pub const NOT_KEY: u16 = 1 << 8;
    pub const INCOMPLETE: u16 = 1 << 9;
    pub const VARIABLE_FLAGS: u16 = 1 << 10;

    pub const NAMES: &[(u16, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
}

/// Resolves a `VARIABLE_FLAGS` key spec's flags for one command line.
pub type KeyFlagsFn = fn(&[&[u8]]) -> u16;

/// Where a key spec's keys begin (Redis 7's begin_search).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeginSearch {
    /// At this argument.
    Index(u8),
    /// Just after `keyword` (matched without case), searched from argument `startfrom` towards
    /// the end, or when negative from that far from the end towards the start (XREAD's
    /// `STREAMS`, GEORADIUS's `STORE`). No keyword, no keys.
    Keyword {
        keyword: &'static str,
        startfrom: i8,
    },
    /// Redis's "unknown": no rule finds these keys (SORT's BY/GET patterns name keys derived
    /// from data; its STORE may appear anywhere). `KeySpec::keys_for` may still find them.
    Unknown,
}

impl BeginSearch {
    /// The argument the keys begin at in `line`, if the search finds one. As Redis's
    /// getKeysUsingKeySpecs: a forward search stops before the last argument (a keyword there
    /// has no keys after it), a backward one before the command name.
    pub fn locate<L: CommandLine + ?Sized>(&self, line: &L) -> Option<usize> {
        match *self {
            BeginSearch::Index(at) => Some(usize::from(at)),
            BeginSearch::Keyword { keyword, startfrom } => {
                let argc = line.argc();
                let is_keyword = |i: &usize| line.arg(*i).eq_ignore_ascii_case(keyword.as_bytes());
                let found = if startfrom > 0 {
                    (usize::from(startfrom.unsigned_abs())..argc.saturating_sub(1)).find(is_keyword)
                } else {
                    let start = argc.checked_sub(usize::from(startfrom.unsigned_abs()))?;
                    (1..=start).rev().find(is_keyword)
                };
                found.map(|i| i + 1)
            }
            BeginSearch::Unknown => None,
        }
    }
}

/// How a key spec finds its keys once it has found where they begin (Redis 7's find_keys).
#[derive(Clone, Copy, Debug)]
pub enum FindKeys {
    /// Keys run from `begin` to `last` (relative to `begin`; negative: counted from the end,
    /// -1 is the last argument) every `step` arguments. With `last` -1, a `limit` above 1 keeps
    /// only that fraction of the remaining arguments: XREAD's `STREAMS k1 k2 id1 id2` is keys
    /// with limit 2.
    Range { last: i8, step: u8, limit: u8 },
    /// The argument at `begin + keynum_index` counts the keys, which start at `begin + first`
    /// and follow every `step` arguments (SINTERCARD numkeys key…). A count that is not a
    /// non-negative integer, or keys past the end, find nothing (Redis's invalid spec).
    Keynum {
        keynum_index: u8,
        first: u8,
        step: u8,
    },
    /// Redis's "unknown" (see `BeginSearch::Unknown`).
    Unknown,
}

/// A command line as key specs read it: the argument count and, for keynum specs, one argument.
pub trait CommandLine {
    fn argc(&self) -> usize;
    fn arg(&self, index: usize) -> &[u8];
}

impl CommandLine for Argv {
    fn argc(&self) -> usize {
        self.len()
    }

    fn arg(&self, index: usize) -> &[u8] {
        &self[index]
    }
}

impl CommandLine for [&[u8]] {
    fn argc(&self) -> usize {
        self.len()
    }

    fn arg(&self, index: usize) -> &[u8] {
        self[index]
    }
}

/// One Redis 7 key specification: keys are searched from argument `begin` and found by `find`.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub flags: u16,
    pub begin: BeginSearch,
    pub find: FindKeys,
    /// Redis's free-text note on the spec (COMMAND INFO shows it first when present).
    pub notes: &'static str,
    /// For `VARIABLE_FLAGS` specs: the flags a given command line really uses (SET with or
    /// without GET), as COMMAND GETKEYSANDFLAGS reports them.
    pub flags_for: Option<KeyFlagsFn>,
    /// Keys the spec's own rule misses, as the command's parse finds them: an unknown spec's
    /// (SORT's STORE destination), or the last of repeated keywords where the rule stops at
    /// the first (GEORADIUS … STORE a STORE b writes b). Routing and locking read them, so a
    /// command never writes a key its shards do not hold.
    pub keys_for: Option<KeysForFn>,
}

/// Finds an unknown spec's keys in one command line (`KeySpec::keys_for`).
pub type KeysForFn = fn(&[&[u8]]) -> Vec<usize>;

impl KeySpec {
    pub const fn one(flags: u16, index: u8) -> KeySpec {
        KeySpec::range(flags, index, 0, 1)
    }

    /// Keys from `begin` to `last` every `step` (see `FindKeys::Range`).
    pub const fn range(flags: u16, begin: u8, last: i8, step: u8) -> KeySpec {
        KeySpec {
            flags,
            begin: BeginSearch::Index(begin),
            find: FindKeys::Range {
                last,
                step,
                limit: 0,
            },
            notes: "",
            flags_for: None,
            keys_for: None,
        }
    }

    /// A key count at `begin + keynum_index`, keys from `begin + first` (see `FindKeys::Keynum`).
    pub const fn keynum(flags: u16, begin: u8, keynum_index: u8, first: u8, step: u8) -> KeySpec {
        KeySpec {
            flags,
            begin: BeginSearch::Index(begin),
            find: FindKeys::Keynum {
                keynum_index,
                first,
                step,
            },
            notes: "",
            flags_for: None,
            keys_for: None,
        }
    }

    /// Keys after `keyword` (see `BeginSearch::Keyword`), found by `find`.
    pub const fn after_keyword(
        flags: u16,
        keyword: &'static str,
        startfrom: i8,
        find: FindKeys,
    ) -> KeySpec {
        KeySpec {
            flags,
            begin: BeginSearch::Keyword { keyword, startfrom },
            find,
            notes: "",
            flags_for: None,
            keys_for: None,
        }
    }

    /// A spec Redis marks unknown (begin and find), with `notes`; `keys_for`, when given, finds
    /// the keys a line names after all.
    pub const fn unknown(flags: u16, notes: &'static str, keys_for: Option<KeysForFn>) -> KeySpec {
        KeySpec {
            flags,
            begin: BeginSearch::Unknown,
            find: FindKeys::Unknown,
            notes,
            flags_for: None,
            keys_for,
        }
    }

    /// The argument keys begin at when it does not depend on the command line.
    pub const fn fixed_begin(&self) -> Option<u8> {
        match self.begin {
            BeginSearch::Index(at) => Some(at),
            BeginSearch::Keyword { .. } | BeginSearch::Unknown => None,
        }
    }

    /// The same spec with a resolver for its variable flags.
    pub const fn with_flags_for(self, flags_for: KeyFlagsFn) -> KeySpec {
        KeySpec {
            flags_for: Some(flags_for),
            ..self
        }
    }

    /// The same spec with a finder for the keys its rule misses (`keys_for`).
    pub const fn with_keys_for(self, keys_for: KeysForFn) -> KeySpec {
        KeySpec {
            keys_for: Some(keys_for),
            ..self
        }
    }

    /// The same spec with Redis's note attached.
    pub const fn with_notes(self, notes: &'static str) -> KeySpec {
        KeySpec { notes, ..self }
    }

    /// Every `step`-th argument from `begin` to the end.
    pub const fn all_from(flags: u16, begin: u8, step: u8) -> KeySpec {
        KeySpec::range(flags, begin, -1, step)
    }

    /// The step between keys (and their companions: MSET's values).
    pub const fn step(&self) -> u8 {
        match self.find {
            FindKeys::Range { step, .. } | FindKeys::Keynum { step, .. } => step,
            FindKeys::Unknown => 1,
        }
    }

    /// Argument indexes of the keys this spec finds in `line`.
    pub fn indexes<L: CommandLine + ?Sized>(&self, line: &L) -> impl Iterator<Item = usize> {
        let argc = line.argc();
        let resolved: Vec<usize> = match self.keys_for {
            Some(find) => {
                let args: Vec<&[u8]> = (0..argc).map(|i| line.arg(i)).collect();
                find(&args)
            }
            None => Vec::new(),
        };
        // A keyword that is not there finds nothing: begin past the end.
        let begin = self.begin.locate(line).unwrap_or(usize::MAX);
        let (first, last, step) = match self.find {
            _ if begin >= argc => (1, 0, 1),
            FindKeys::Range { last, step, limit } => {
                let last = if last >= 0 {
                    begin + last as usize
                } else if limit > 1 {
                    // Redis: first + (argc - first) / limit + lastkey, with lastkey -1.
                    (begin + (argc - begin) / usize::from(limit)).saturating_sub(1)
                } else {
                    argc.saturating_sub(last.unsigned_abs() as usize)
                };
                (begin, last.min(argc.saturating_sub(1)), step)
            }
            FindKeys::Keynum {
                keynum_index,
                first,
                step,
            } => keynum_range(line, begin, keynum_index, first, step),
            FindKeys::Unknown => (1, 0, 1),
        };
        (first..=last)
            .step_by(step.max(1) as usize)
            .chain(resolved)
            .filter(move |&i| i < argc)
    }
}

/// A keynum spec's (first, last, step); an empty range (first > last) when the count is not a
/// non-negative integer or the keys would run past the end, as Redis's getKeysUsingKeySpecs.
fn keynum_range<L: CommandLine + ?Sized>(
    line: &L,
    begin: usize,
    keynum_index: u8,
    first: u8,
    step: u8,
) -> (usize, usize, u8) {
    const NONE: (usize, usize, u8) = (1, 0, 1);
    let at = begin + usize::from(keynum_index);
    if at >= line.argc() {
        return NONE;
    }
    let Some(count) = crate::numfmt::parse_i64(line.arg(at)).and_then(|n| usize::try_from(n).ok())
    else {
        return NONE;
    };
    let first = begin + usize::from(first);
    let step_len = usize::from(step.max(1));
    let Some(last) = count
        .checked_sub(1)
        .and_then(|n| n.checked_mul(step_len))
        .and_then(|n| n.checked_add(first))
    else {
        return NONE;
    };
    if last >= line.argc() {
        return NONE;
    }
    (first, last, step)
}

/// How a keyed command's work combines when its keys live on several shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// The command has exactly one key, so it never spans shards.
    OneKey,
    /// Run per shard on the keys (with their `step` companions) that shard owns, then add the
    /// integer replies (DEL, EXISTS, TOUCH, UNLINK).
    SumInts,
    /// Run per shard; every part replies OK (MSET).
    AllOk,
    /// Run per shard; the array replies are put back in key order (MGET).
    KeyOrder,
    /// The coordinator fetches every key's entry, runs the handler on a scratch shard holding
    /// them, and stores changed entries back (RENAME, COPY, MSETNX, LCS…). `dbs` names which
    /// databases the keys are read from.
    Gather(GatherDbs),
    /// As `Gather` over the current database, for a line that may also read keys named by
    /// patterns over its first key's content (SORT's BY and GET, `sort::reads_pattern_keys`).
    /// Such a line, on a node of several shards, is a transaction over every key of every
    /// shard: it fetches the first key, then the keys `sort::pattern_keys` derives from it,
    /// then runs on the copies and stores what changed (`node::coord`).
    Patterns,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatherDbs {
    /// Every key in the connection's database.
    Current,
    /// COPY: the destination may be in the database named by its DB option.
    CopyDbOption,
}

/// Answered by the connection alone; `node.rs` matches these exhaustively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnCmd {
    Ping,
    Echo,
    Hello,
    Auth,
    Quit,
    Reset,
    Select,
    ClientId,
    ClientSetName,
    ClientGetName,
    ClientInfo,
    ClientNoEvict,
    ClientHelp,
    CommandCount,
    CommandInfo,
    CommandDocs,
    CommandList,
    CommandGetKeys,
    CommandGetKeysAndFlags,
    CommandHelp,
    CommandAll,
    ConfigGet,
    ConfigHelp,
    SlowlogHelp,
    Time,
    LastSave,
    DebugSleep,
    Shutdown,
    ObjectHelp,
    MemoryHelp,
    PubSubHelp,
    /// PFSELFTEST: keyless, so the connection's thread runs it.
    PfSelfTest,
    XGroupHelp,
    XInfoHelp,
    /// EVAL, EVALSHA, SCRIPT…: run by `node::script`.
    Script(scripting::ScriptCmd),
}

/// Coordinated across every shard (or node-wide state) by the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeCmd {
    DbSize,
    Keys,
    Scan,
    RandomKey,
    FlushDb,
    FlushAll,
    SwapDb,
    Info,
    ClientList,
    ClientKill,
    ClientUnblock,
    ConfigSet,
    ConfigResetStat,
    SlowlogGet,
    SlowlogLen,
    SlowlogReset,
    Publish,
    SPublish,
    PubSubChannels,
    PubSubShardChannels,
    PubSubNumSub,
    PubSubShardNumSub,
    PubSubNumPat,
    /// DEBUG DIGEST and DEBUG DIGEST-VALUE (reached through the DEBUG row).
    DebugDigest,
    /// SAVE and BGSAVE: a snapshot cut across every shard (`node::persist`).
    Save,
    BgSave,
    /// DEBUG RELOAD's load, after its save and read (`node::reload`).
    DebugReload,
    /// DEBUG SET-ACTIVE-EXPIRE, applied on every thread.
    DebugSetActiveExpire,
}

#[derive(Clone, Copy, Debug)]
pub enum Exec {
    Shard {
        run: ShardFn,
        merge: Merge,
    },
    Conn(ConnCmd),
    Node(NodeCmd),
    /// MULTI, EXEC, DISCARD, WATCH, UNWATCH (module `multi`).
    Multi(transactions::MultiCmd),
    /// A container (CLIENT, CONFIG…): dispatch goes to the subcommand named by argument 1.
    Container,
    /// (P|S)SUBSCRIBE and (P|S)UNSUBSCRIBE (module `node::pubsub`).
    PubSub(pubsub::SubCmd),
}

/// Documentation fields for COMMAND DOCS.
#[derive(Clone, Copy, Debug)]
pub struct Docs {
    pub summary: &'static str,
    pub since: &'static str,
    pub group: &'static str,
    pub complexity: &'static str,
}

#[derive(Clone, Copy, Debug)]
pub struct CommandSpec {
    /// Lower-case, as COMMAND INFO prints it; subcommands print as "parent|sub".
    pub name: &'static str,
    /// Redis arity: N means exactly N arguments (name included), -N at least N.
    pub arity: i16,
    pub flags: u32,
    /// Explicit ACL categories; flag-implied ones are added by `acl_categories`.
    pub acl: u32,
    pub keys: &'static [KeySpec],
    pub exec: Exec,
    pub subcommands: &'static [CommandSpec],
    pub docs: Docs,
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let arity = self.arity as isize;
        let argc = argc as isize;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// All ACL categories: the row's plus those Redis derives from its flags.
    pub fn acl_categories(&self) -> u32 {
        let mut cats = self.acl;
        if self.has(flag::WRITE) {
            cats |= acl::WRITE;
        }
        if self.has(flag::READONLY) && self.acl & acl::SCRIPTING == 0 {
            cats |= acl::READ;
        }
        if self.has(flag::ADMIN) {
            cats |= acl::ADMIN | acl::DANGEROUS;
        }
        if self.has(flag::PUBSUB) {
            cats |= acl::PUBSUB;
        }
        if self.has(flag::FAST) {
            cats |= acl::FAST;
        }
        if self.has(flag::BLOCKING) {
            cats |= acl::BLOCKING;
        }
        if cats & acl::FAST == 0 {
            cats |= acl::SLOW;
        }
        cats
    }

    /// Argument indexes of every key of this command in `line`, in argument order.
    pub fn key_indexes<L: CommandLine + ?Sized>(&self, line: &L) -> Vec<usize> {
        let mut indexes: Vec<usize> = self.keys.iter().flat_map(|k| k.indexes(line)).collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes
    }

    /// The bytes a command's write may add to its shard, for admission: 0 for a command that is
    /// not DENYOOM; else its arguments after the name, each by its allocator class. A write
    /// stores nothing it was not sent (a value, a field, a key, a number's text), so this bounds
    /// what it adds to the entries, though an overwrite or a command that writes less (SETNX of
    /// a present key) adds less: near the limit such commands are refused a little early, never
    /// late.
    pub fn incoming_bytes(&self, argv: &Argv) -> u64 {
        if !self.has(flag::DENYOOM) {
            return 0;
        }
        let args = argv.iter().skip(1);
        args.map(|arg| crate::size_class::class_bytes(arg.len()) as u64)
            .sum()
    }

    /// What the shard's memory step needs to know of this command line.
    pub fn admission<'a>(&self, argv: &'a Argv) -> crate::shard::Admission<'a> {
        crate::shard::Admission {
            near: self.key_indexes(argv).first().map_or(&[], |&i| &argv[i]),
            incoming_bytes: self.incoming_bytes(argv),
            deny_oom: self.has(flag::DENYOOM),
        }
    }

    /// The index of the command's one key when its key specs name exactly one argument (GET,
    /// SET, INCR…) and `argc` has it: `key_indexes` without the allocation, for the hot path.
    pub fn only_key_index(&self, argc: usize) -> Option<usize> {
        match self.keys {
            [KeySpec {
                begin: BeginSearch::Index(begin),
                find: FindKeys::Range { last: 0, .. },
                ..
            }] if usize::from(*begin) < argc => Some(usize::from(*begin)),
            _ => None,
        }
    }

    /// Whether the keys cannot be read off the legacy (first, last, step) triple: Redis's
    /// movablekeys flag, as its populateCommandLegacyRangeSpec sets it.
    pub fn movable_keys(&self) -> bool {
        self.legacy().1
    }

    /// The legacy (first, last, step) triple COMMAND INFO shows, derived from the key specs as
    /// Redis's populateCommandLegacyRangeSpec: the index+range specs at consecutive positions
    /// with step 1 (the others are left out and make the keys movable); (0, 0, 0) when none is.
    pub fn legacy_range(&self) -> (i64, i64, i64) {
        self.legacy().0
    }

    fn legacy(&self) -> ((i64, i64, i64), bool) {
        let index_range = |k: &KeySpec| match (k.begin, k.find) {
            (BeginSearch::Index(at), FindKeys::Range { last, step, .. }) => {
                Some((i64::from(at), i64::from(last), i64::from(step)))
            }
            _ => None,
        };
        if let [only] = self.keys {
            if let Some((first, last, step)) = index_range(only) {
                let last = if last < 0 { last } else { first + last };
                return ((first, last, step), only.flags & keyflag::INCOMPLETE != 0);
            }
        }
        let mut movable = false;
        let (mut first_key, mut last_key, mut previous_last) = (i64::MAX, 0i64, 0i64);
        for k in self.keys {
            let Some((start, last, step)) = index_range(k) else {
                movable = true;
                continue;
            };
            let stop = if last >= 0 { start + last } else { last };
            if step != 1 || (previous_last != 0 && previous_last != start - 1) {
                movable = true;
                continue;
            }
            first_key = first_key.min(start);
            // A spec running to the end (-1) makes the whole range run to the end.
            last_key = if stop < 0 || last_key < 0 {
                stop.min(last_key)
            } else {
                last_key.max(stop)
            };
            previous_last = last_key;
        }
        if first_key == i64::MAX {
            return ((0, 0, 0), !self.keys.is_empty());
        }
        ((first_key, last_key, 1), movable)
    }
}

/// What the rows of one family share: their COMMAND DOCS group and their type's ACL category.
/// Every family builds its rows through its `Family` (`HASH.keyed(…)`), the one row builder.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    pub group: &'static str,
    /// ACL categories every row of the family carries (`acl::HASH`…; 0 for none).
    pub acl: u32,
}

impl Family {
    pub const fn docs(
        self,
        summary: &'static str,
        since: &'static str,
        complexity: &'static str,
    ) -> Docs {
        Docs {
            summary,
            since,
            group: self.group,
            complexity,
        }
    }

    /// The general row: `acl` adds categories to the family's.
    #[allow(clippy::too_many_arguments)]
    pub const fn row(
        self,
        name: &'static str,
        arity: i16,
        flags: u32,
        acl: u32,
        keys: &'static [KeySpec],
        exec: Exec,
        docs: Docs,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            acl: self.acl | acl,
            keys,
            exec,
            subcommands: &[],
            docs,
        }
    }

    /// A row run on the shard(s) owning its keys.
    #[allow(clippy::too_many_arguments)]
    pub const fn keyed(
        self,
        name: &'static str,
        arity: i16,
        flags: u32,
        keys: &'static [KeySpec],
        run: ShardFn,
        merge: Merge,
        docs: Docs,
    ) -> CommandSpec {
        self.row(
            name,
            arity,
            flags,
            0,
            keys,
            Exec::Shard { run, merge },
            docs,
        )
    }

    /// A keyed row whose one key never spans shards.
    pub const fn one_key(
        self,
        name: &'static str,
        arity: i16,
        flags: u32,
        keys: &'static [KeySpec],
        run: ShardFn,
        docs: Docs,
    ) -> CommandSpec {
        self.keyed(name, arity, flags, keys, run, Merge::OneKey, docs)
    }

    /// A keyless row answered by the connection, the node or the transaction machinery.
    pub const fn keyless(
        self,
        name: &'static str,
        arity: i16,
        flags: u32,
        acl: u32,
        exec: Exec,
        docs: Docs,
    ) -> CommandSpec {
        self.row(name, arity, flags, acl, &[], exec, docs)
    }

    /// A container (CLIENT, CONFIG…): dispatch goes to the subcommand row.
    pub const fn container(
        self,
        name: &'static str,
        arity: i16,
        flags: u32,
        acl: u32,
        subcommands: &'static [CommandSpec],
        docs: Docs,
    ) -> CommandSpec {
        CommandSpec {
            subcommands,
            ..self.keyless(name, arity, flags, acl, Exec::Container, docs)
        }
    }
}

/// A one-key row as one line of what COMMAND INFO shows, in its order: name and arity, flags,
/// legacy key range, ACL categories (@read/@write, then `type_category`, then @fast/@slow) and
/// the key's flags. Family tests pin their rows with it.
#[cfg(test)]
pub(crate) fn info_line(spec: &CommandSpec, type_category: &str) -> String {
    let flags: Vec<&str> = flag::NAMES
        .iter()
        .filter(|f| spec.has(f.0))
        .map(|f| f.1)
        .collect();
    let (first, last, step) = spec.legacy_range();
    let cats = spec.acl_categories();
    let order = ["read", "write", type_category, "fast", "slow"];
    let cats: Vec<&str> = order
        .into_iter()
        .filter(|c| {
            let bit = acl::NAMES.iter().position(|n| n == c).expect("category");
            cats & (1 << bit) != 0
        })
        .collect();
    assert_eq!(spec.keys.len(), 1, "{}", spec.name);
    let key_flags: Vec<&str> = keyflag::NAMES
        .iter()
        .filter(|f| spec.keys[0].flags & f.0 != 0)
        .map(|f| f.1)
        .collect();
    format!(
        "{} {} | {} | {first} {last} {step} | {} | {}",
        spec.name,
        spec.arity,
        flags.join(" "),
        cats.join(" "),
        key_flags.join(" ")
    )
}

/// Every family's rows.
pub fn families() -> [&'static [CommandSpec]; 17] {
    [
        strings::SPECS,
        hash::SPECS,
        set::SPECS,
        zset::SPECS,
        keyspace::SPECS,
        server::SPECS,
        transactions::SPECS,
        memory::SPECS,
        list::SPECS,
        pubsub::SPECS,
        bitmap::SPECS,
        hll::SPECS,
        stream::SPECS,
        family::dump::SPECS,
        geo::SPECS,
        sort::SPECS,
        scripting::SPECS,
    ]
}

/// Case-insensitive lookup over the table, built once per node.
pub struct CommandTable {
    by_name: Vec<(Vec<u8>, &'static CommandSpec)>,
    /// `by_name` positions by name, without case: the dispatch lookup.
    index: names::NameIndex,
    /// Every command and subcommand by `StatSlot`: commands in `by_name` order, then each
    /// command's subcommands (INFO commandstats keeps a counter per slot).
    slots: Vec<&'static CommandSpec>,
    /// The slot of each `by_name` command's first subcommand.
    first_sub_slot: Vec<u32>,
}

/// A command's or subcommand's position in the table: an index for per-command counters that
/// the dispatch path reaches without a lookup by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatSlot(pub u32);

/// Longest command name the table knows; longer names are unknown without a lookup.
const NAME_LEN_MAX_BYTES: usize = 32;

impl CommandTable {
    pub fn new() -> CommandTable {
        let mut by_name: Vec<(Vec<u8>, &'static CommandSpec)> = families()
            .into_iter()
            .flatten()
            .map(|spec| (spec.name.to_ascii_uppercase().into_bytes(), spec))
            .collect();
        by_name.sort_by(|a, b| a.0.cmp(&b.0));
        for pair in by_name.windows(2) {
            assert_ne!(
                pair[0].0, pair[1].0,
                "command {} listed twice",
                pair[0].1.name
            );
        }
        let index = names::NameIndex::new(by_name.iter().map(|(name, _)| name.as_slice()));
        let mut slots: Vec<&'static CommandSpec> = by_name.iter().map(|(_, spec)| *spec).collect();
        let mut first_sub_slot = Vec::with_capacity(by_name.len());
        for (_, spec) in &by_name {
            first_sub_slot.push(slots.len() as u32);
            slots.extend(spec.subcommands.iter());
        }
        CommandTable {
            by_name,
            index,
            slots,
            first_sub_slot,
        }
    }

    /// `lookup` with the command's slot.
    pub fn lookup_slot(&self, name: &[u8]) -> Option<(StatSlot, &'static CommandSpec)> {
        if name.len() > NAME_LEN_MAX_BYTES {
            return None;
        }
        let i = self.index.find(name, |i| &self.by_name[i].0)?;
        Some((StatSlot(i as u32), self.by_name[i].1))
    }

    /// `subcommand` with its slot; `parent` is the container's slot.
    pub fn subcommand_slot(
        &self,
        parent: StatSlot,
        sub: &[u8],
    ) -> Option<(StatSlot, &'static CommandSpec)> {
        let spec = self.slots[parent.0 as usize];
        let parent_len = spec.name.len() + 1;
        let i = spec
            .subcommands
            .iter()
            .position(|s| s.name.as_bytes()[parent_len..].eq_ignore_ascii_case(sub))?;
        let slot = self.first_sub_slot[parent.0 as usize] + i as u32;
        Some((StatSlot(slot), &spec.subcommands[i]))
    }

    /// The slot of a spec from this table (a linear search: for the rare paths, like EXEC's
    /// queued commands, that kept the spec alone).
    pub fn slot_of(&self, spec: &'static CommandSpec) -> Option<StatSlot> {
        let i = self.slots.iter().position(|s| std::ptr::eq(*s, spec))?;
        Some(StatSlot(i as u32))
    }

    /// Commands and subcommands by slot.
    pub fn slots(&self) -> &[&'static CommandSpec] {
        &self.slots
    }

    pub fn lookup(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        if name.len() > NAME_LEN_MAX_BYTES {
            return None;
        }
        let i = self.index.find(name, |i| &self.by_name[i].0)?;
        Some(self.by_name[i].1)
    }

    pub fn subcommand(spec: &'static CommandSpec, sub: &[u8]) -> Option<&'static CommandSpec> {
        let parent_len = spec.name.len() + 1;
        spec.subcommands
            .iter()
            .find(|s| s.name.as_bytes()[parent_len..].eq_ignore_ascii_case(sub))
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.by_name.iter().map(|(_, spec)| *spec)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

impl Default for CommandTable {
    fn default() -> Self {
        CommandTable::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(spec: &KeySpec, line: &str) -> Vec<usize> {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        spec.indexes(args.as_slice()).collect()
    }

    /// XREAD's spec: keys after STREAMS, half of what follows (the other half are ids).
    const STREAMS: KeySpec = KeySpec::after_keyword(
        keyflag::RO,
        "STREAMS",
        1,
        FindKeys::Range {
            last: -1,
            step: 1,
            limit: 2,
        },
    );
    /// MIGRATE's KEYS: searched backwards from the second-to-last argument.
    const KEYS_BACKWARDS: KeySpec = KeySpec::after_keyword(
        keyflag::RW,
        "KEYS",
        -2,
        FindKeys::Range {
            last: -1,
            step: 1,
            limit: 0,
        },
    );

    #[test]
    fn keyword_specs_find_keys_after_their_keyword() {
        assert_eq!(found(&STREAMS, "XREAD COUNT 2 STREAMS a b 0 0"), [4, 5]);
        assert_eq!(found(&STREAMS, "XREAD streams a 0"), [2]);
        assert_eq!(found(&STREAMS, "XREAD COUNT 2 a 0"), Vec::<usize>::new());
        // A keyword in the last place has nothing after it: the forward search stops before.
        assert_eq!(found(&STREAMS, "XREAD COUNT STREAMS"), Vec::<usize>::new());
        assert_eq!(
            found(&KEYS_BACKWARDS, "MIGRATE h p \"\" 0 5000 KEYS a b"),
            [7, 8]
        );
        assert_eq!(
            found(&KEYS_BACKWARDS, "MIGRATE h p k 0 5000"),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn legacy_range_keeps_only_consecutive_index_ranges_as_redis() {
        let row = |keys: &'static [KeySpec]| CommandSpec {
            keys,
            ..*CommandTable::new().lookup(b"GET").expect("GET")
        };
        // ZUNIONSTORE: destination at 1, sources by keynum: 1 1 1, movable.
        let zunionstore = row(const {
            &[
                KeySpec::one(keyflag::OW, 1),
                KeySpec::keynum(keyflag::RO, 2, 0, 1, 1),
            ]
        });
        assert_eq!(zunionstore.legacy_range(), (1, 1, 1));
        assert!(zunionstore.movable_keys());
        // SINTERCARD: keynum only: 0 0 0, movable.
        let sintercard = row(const { &[KeySpec::keynum(keyflag::RO, 1, 0, 1, 1)] });
        assert_eq!(sintercard.legacy_range(), (0, 0, 0));
        assert!(sintercard.movable_keys());
        // ZRANGESTORE / BLMOVE: two consecutive index specs: 1 2 1, not movable.
        let zrangestore =
            row(const { &[KeySpec::one(keyflag::OW, 1), KeySpec::one(keyflag::RO, 2)] });
        assert_eq!(zrangestore.legacy_range(), (1, 2, 1));
        assert!(!zrangestore.movable_keys());
        // GEORADIUS: key at 1, STORE dest by keyword: 1 1 1, movable.
        let georadius = row(const { &[KeySpec::one(keyflag::RO, 1), STREAMS] });
        assert_eq!(georadius.legacy_range(), (1, 1, 1));
        assert!(georadius.movable_keys());
        // XREAD: keyword only: 0 0 0, movable.
        let xread = row(const { &[STREAMS] });
        assert_eq!(xread.legacy_range(), (0, 0, 0));
        assert!(xread.movable_keys());
    }

    fn all_rows() -> Vec<&'static CommandSpec> {
        families()
            .into_iter()
            .flatten()
            .flat_map(|s| std::iter::once(s).chain(s.subcommands))
            .collect()
    }

    #[test]
    fn table_rows_agree_with_themselves() {
        let table = CommandTable::new();
        assert!(table.len() > 50);
        for spec in all_rows() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase(), "{}", spec.name);
            assert!(
                !(spec.has(flag::WRITE) && spec.has(flag::READONLY)),
                "{} is both write and readonly",
                spec.name
            );
            assert_ne!(spec.arity, 0, "{} has arity 0", spec.name);
            for k in spec.keys {
                assert!(
                    spec.arity < 0 || k.fixed_begin().is_none_or(|at| i16::from(at) < spec.arity),
                    "{}: key position past arity",
                    spec.name
                );
            }
            // WATCH names keys but runs at the connection (it registers them on their shards);
            // so do scripts (`node::script` takes their keys); shard channels carry Redis's
            // not_key specs but no shard holds them.
            let keyed = matches!(
                spec.exec,
                Exec::Shard { .. } | Exec::Multi(transactions::MultiCmd::Watch)
            ) || matches!(spec.exec, Exec::Conn(ConnCmd::Script(cmd)) if cmd.runs_script())
                || spec.keys.iter().all(|k| k.flags & keyflag::NOT_KEY != 0)
                    && !spec.keys.is_empty();
            assert_eq!(
                keyed,
                !spec.keys.is_empty(),
                "{}: shard handlers need keys",
                spec.name
            );
            let is_container = matches!(spec.exec, Exec::Container);
            assert_eq!(is_container, !spec.subcommands.is_empty(), "{}", spec.name);
            for sub in spec.subcommands {
                assert!(
                    sub.name.starts_with(&format!("{}|", spec.name)),
                    "{}",
                    sub.name
                );
            }
        }
    }

    #[test]
    fn lookup_is_case_insensitive() {
        let table = CommandTable::new();
        assert_eq!(table.lookup(b"gEt").map(|s| s.name), Some("get"));
        assert!(table.lookup(b"nosuchcommand").is_none());
        assert!(table.lookup(&[b'a'; 100]).is_none());
        let client = table.lookup(b"client").unwrap();
        assert_eq!(
            CommandTable::subcommand(client, b"SETNAME").map(|s| s.name),
            Some("client|setname")
        );
    }

    #[test]
    fn key_indexes_follow_specs() {
        let table = CommandTable::new();
        let line = |words: &str| Argv::from_slices(&words.split(' ').collect::<Vec<_>>());
        let keys = |name: &[u8], words: &str| table.lookup(name).unwrap().key_indexes(&line(words));
        assert_eq!(keys(b"mset", "mset a 1 b 2"), vec![1, 3]);
        assert_eq!(keys(b"mget", "mget a b c"), vec![1, 2, 3]);
        assert_eq!(keys(b"rename", "rename a b"), vec![1, 2]);
        assert_eq!(table.lookup(b"get").unwrap().legacy_range(), (1, 1, 1));
        assert_eq!(table.lookup(b"mset").unwrap().legacy_range(), (1, -1, 2));
        assert_eq!(table.lookup(b"get").unwrap().only_key_index(2), Some(1));
        assert_eq!(table.lookup(b"mget").unwrap().only_key_index(2), None);
        assert_eq!(table.lookup(b"rename").unwrap().only_key_index(3), None);
        assert_eq!(table.lookup(b"ping").unwrap().only_key_index(1), None);
        for spec in table.iter() {
            for argc in 0..6 {
                if let Some(i) = spec.only_key_index(argc) {
                    let args = Argv::from_slices(&vec!["1"; argc]);
                    assert_eq!(spec.key_indexes(&args), vec![i], "{}", spec.name);
                }
            }
        }
    }
}
