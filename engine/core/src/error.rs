//! Every error a command can answer with. `CmdError::text` is the one place that owns Redis's
//! exact wording and prefix (ERR, WRONGTYPE, NOAUTH…); call sites name a variant, never a string.

use std::borrow::Cow;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmdError {
    // Generic argument errors.
    Syntax,
    NotInteger,
    NotFloat,
    OutOfRange,
    /// ERR value is out of range, must be positive
    NotPositive,
    Overflow,
    IncrOnNanOrInf,
    WrongType,
    NoSuchKey,
    /// Arity check failed; holds the command's full name ("get", "client|kill").
    WrongArity(String),
    /// The command name is not in the table; holds the name and the first arguments as sent.
    UnknownCommand {
        name: Vec<u8>,
        args: Vec<Vec<u8>>,
    },
    /// `container` is the upper-case parent command (CLIENT, CONFIG…).
    UnknownSubcommand {
        sub: Vec<u8>,
        container: &'static str,
    },
    /// `command` is the lower-case command name (set, getex, expire…).
    InvalidExpireTime(&'static str),
    DbIndexOutOfRange,
    InvalidFirstDbIndex,
    InvalidSecondDbIndex,
    InvalidCursor,
    SourceAndDestinationSame,
    StringTooLong,
    /// ERR offset is out of range (SETRANGE)
    OffsetOutOfRange,

    // Connection and server state.
    NoAuth,
    WrongPass,
    AuthNotConfigured,
    OutOfMemory,
    MaxClients,
    NoProto,
    ProtocolVersionNotInteger,
    /// An unknown or incomplete HELLO option; holds the option as sent.
    HelloSyntax(String),
    NoAuthHello,
    ProtectedMode,
    /// ERR Protocol error: …, sent just before the connection closes (raw bytes: Redis quotes
    /// the offending byte as it came).
    Protocol(&'static [u8]),
    InvalidClientName,
    NoSuchClient,
    ConfigUnknownOption(String),
    /// ERR CONFIG SET failed (possibly related to argument 'name') - reason
    ConfigSetFailed {
        name: String,
        reason: Cow<'static, str>,
    },
    UnsupportedConfigSubcommand,
    InvalidTimeout,
    /// A blocking command's timeout in seconds that is no number.
    TimeoutNotFloat,
    /// A blocking command's timeout below zero (or, as Redis 7.0 computes it, past i64 ms).
    TimeoutNegative,
    /// CLIENT UNBLOCK … ERROR.
    UnblockedByClient,
    /// CLIENT UNBLOCK's third argument is neither TIMEOUT nor ERROR.
    UnblockReason,
    MultiNested,
    ExecWithoutMulti,
    DiscardWithoutMulti,
    WatchInsideMulti,
    ExecAbort,
    /// The command is not allowed in a MULTI block or after a failed one.
    NotAllowedInMulti(String),
    /// ERR <command> is not allowed in this context (e.g. inside a script or a transaction).
    CommandNotAllowed(&'static str),
    /// The node is shutting down or otherwise refusing writes.
    Busy(Cow<'static, str>),
    /// An error text passed through verbatim from elsewhere (a Lua error, a loaded module).
    /// Never built from a literal at a call site.
    Relayed(String),

    // strings family
    /// DECRBY with i64::MIN, whose negation would overflow.
    DecrementOverflow,
    /// LCS on a key holding another type (Redis's own text, not WRONGTYPE).
    LcsKeysNotStrings,
    /// LCS with both IDX and LEN.
    LcsIdxWithLen,
    /// LCS whose (n+1)*(m+1) table of u32 would pass proto-max-bulk-len.
    LcsTableTooLarge,

    // hash family
    /// HINCRBY on a field whose value is not an integer.
    HashValueNotInteger,
    /// HINCRBYFLOAT on a field whose value is not a float.
    HashValueNotFloat,
    /// HINCRBYFLOAT with an increment of inf (checked before the key is looked up).
    IncrIsNanOrInfinity,
    /// ERR value is out of range, value must between <min> and <max> (getRangeLong…OrReply
    /// without a message: HRANDFIELD's count).
    ValueNotBetween {
        min: i64,
        max: i64,
    },
    // set family
    /// SINTERCARD numkeys not a positive integer.
    NumkeysNotPositive,
    /// SINTERCARD numkeys past the arguments given.
    NumkeysPastArgs,
    /// SINTERCARD LIMIT not a non-negative integer.
    LimitNegative,
    // list family
    /// LSET past the list's ends.
    IndexOutOfRange,
    /// LPOS RANK 0.
    RankZero,
    /// LPOS COUNT not a non-negative integer.
    CountNegative,
    /// LPOS MAXLEN not a non-negative integer.
    MaxlenNegative,
    /// LMPOP or ZMPOP COUNT not a positive integer.
    CountNotPositive,

    // sorted-set family
    /// ZADD with both XX and NX.
    ZaddXxAndNx,
    /// ZADD with two of GT, LT and NX.
    ZaddGtLtNx,
    /// ZADD INCR with more than one score-member pair.
    ZaddIncrOnePair,
    /// ZINCRBY or ZADD INCR whose sum is NaN (inf + -inf).
    ScoreIsNan,
    /// A score range bound that strtod refuses.
    MinMaxNotFloat,
    /// A lex range bound not starting with `(`, `[`, or being `-` or `+`.
    MinMaxNotLexItem,
    /// ZRANGE LIMIT without BYSCORE or BYLEX.
    RangeLimitNeedsBy,
    /// ZRANGE BYLEX WITHSCORES.
    RangeWithscoresByLex,
    /// ZUNION/ZINTER/ZDIFF(STORE)/ZINTERCARD numkeys below 1; holds the command's name.
    AtLeastOneInputKey(&'static str),
    /// A WEIGHTS value that is not a float.
    WeightNotFloat,

    // keyspace family
    /// ERR Unsupported option <opt> (EXPIRE and friends); holds the option as sent.
    UnsupportedExpireOption(Vec<u8>),
    ExpireNxConflict,
    ExpireGtLtConflict,
    /// OBJECT FREQ without an LFU maxmemory-policy.
    LfuPolicyNotSelected,
    // server family
    /// ERR Unknown client type '<type>' (CLIENT LIST/KILL TYPE)
    UnknownClientType(String),
    /// ERR Invalid client ID (CLIENT LIST ID)
    InvalidClientId,
    /// ERR client-id should be greater than 0 (CLIENT KILL ID)
    ClientIdNotPositive,
    /// ERR No such user '<name>' (CLIENT KILL USER)
    NoSuchUser(String),
    /// COMMAND GETKEYS on a name that is not a command.
    InvalidCommandSpecified,
    /// COMMAND GETKEYS on a command without key arguments.
    CommandHasNoKeys,
    /// COMMAND GETKEYS with an argument count the command's arity refuses.
    InvalidArgCountForCommand,
    /// COMMAND GETKEYS where the key specs find no key.
    InvalidArgsForCommand,
    /// Redis's generic subcommand error (DEBUG): the subcommand as sent, the container upper-case.
    SubcommandSyntax {
        sub: Vec<u8>,
        container: &'static str,
    },
    /// SHUTDOWN ABORT with no shutdown under way.
    NoShutdownInProgress,
    /// SAVE, BGSAVE, or a SHUTDOWN that would save: there is no persistence yet. Our own text
    /// (Redis always has persistence), saying what is missing rather than "unknown command".
    ShutdownSaveFailed,
    SaveFailed,
    SaveInProgress,
    /// DEBUG RELOAD with an option other than MERGE, NOFLUSH, NOSAVE.
    ReloadOptions,
    /// DEBUG RELOAD could not load the file (missing, corrupt, or a duplicate key without MERGE).
    ReloadFailed,
    // bitmap family
    /// A bit offset that is not an integer, negative, or past proto-max-bulk-len.
    BitOffsetOutOfRange,
    /// SETBIT's value other than 0 or 1.
    BitValueOutOfRange,
    /// BITPOS's bit other than 0 or 1.
    BitposBitNotBinary,
    /// BITOP NOT with other than one source.
    BitopNotOneSource,
    /// A BITFIELD type other than i1..i64 or u1..u63.
    BitfieldInvalidType,
    /// BITFIELD OVERFLOW with a word other than WRAP, SAT or FAIL.
    BitfieldInvalidOverflow,
    /// BITFIELD_RO with SET or INCRBY.
    BitfieldRoOnlyGet,
    // hyperloglog family
    /// A string that is not a HyperLogLog (bad header), or an integer-encoded string.
    HllNotValid,
    /// A HyperLogLog header over registers that do not add up.
    HllCorrupt,
    /// PFDEBUG on a missing key.
    PfdebugNoSuchKey,
    /// PFDEBUG DECODE on a dense HLL.
    PfdebugDecodeNeedsSparse,
    /// PFDEBUG with an unknown subcommand; holds it as sent.
    PfdebugUnknownSubcommand(Vec<u8>),
    /// PFSELFTEST found a fault; holds Redis's description ("TESTFAILED …").
    HllSelfTestFailed(String),
    // pub/sub
    /// A RESP2 connection with subscriptions ran something else; holds the command's full
    /// name ("get", "client|list").
    PubSubContext(&'static str),
    /// SSUBSCRIBE inside EXEC: Redis denies it to a client that expects one reply per command;
    /// holds the command name as Redis prints it (upper case).
    DenyBlockingClient(&'static str),
    // memory
    /// EXEC refused because used memory is over maxmemory and the body holds a write that
    /// needs memory; the transaction is discarded.
    ExecAbortOutOfMemory,
    // stream family
    Stream(StreamError),
    /// DUMP and RESTORE (`cmd::family::dump`).
    Restore(RestoreError),
    // geo family
    Geo(GeoError),
    // SORT
    /// A BY or element value that strtod refuses (SORT without ALPHA).
    SortScoreNotDouble,
    /// SLOWLOG GET with a count below -1 or not a number.
    SlowlogCount,
}

/// The geo family's errors (Redis 7.0's geo.c texts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GeoError {
    /// A longitude or latitude out of range; holds the pair as `%f,%f` prints it.
    InvalidLonLat(String),
    UnsupportedUnit,
    NeedNumericRadius,
    NeedNumericWidth,
    NeedNumericHeight,
    RadiusNegative,
    BoxNegative,
    CountNotPositive,
    AnyNeedsCount,
    /// STORE with WITHDIST/WITHHASH/WITHCOORD; holds what Redis names (STORE option in
    /// GEORADIUS, GEOSEARCHSTORE).
    StoreWithReplyOptions(&'static str),
    /// GEOSEARCH without FROMMEMBER or FROMLONLAT; holds the command name as sent.
    NeedFrom(String),
    /// GEOSEARCH without BYRADIUS or BYBOX; holds the command name as sent.
    NeedBy(String),
    MemberNotFound,
}

impl GeoError {
    fn text(&self) -> Cow<'static, str> {
        use GeoError::*;
        let s: &'static str = match self {
            InvalidLonLat(pair) => {
                return format!("ERR invalid longitude,latitude pair {pair}").into()
            }
            UnsupportedUnit => "ERR unsupported unit provided. please use M, KM, FT, MI",
            NeedNumericRadius => "ERR need numeric radius",
            NeedNumericWidth => "ERR need numeric width",
            NeedNumericHeight => "ERR need numeric height",
            RadiusNegative => "ERR radius cannot be negative",
            BoxNegative => "ERR height or width cannot be negative",
            CountNotPositive => "ERR COUNT must be > 0",
            AnyNeedsCount => "ERR the ANY argument requires COUNT argument",
            StoreWithReplyOptions(what) => {
                return format!(
                    "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
                )
                .into()
            }
            NeedFrom(name) => {
                return format!(
                    "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
                )
                .into()
            }
            NeedBy(name) => {
                return format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
                    .into()
            }
            MemberNotFound => "ERR could not decode requested zset member",
        };
        Cow::Borrowed(s)
    }
}

impl From<GeoError> for CmdError {
    fn from(e: GeoError) -> CmdError {
        CmdError::Geo(e)
    }
}

/// The stream family's errors (Redis 7.0's t_stream.c texts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamError {
    InvalidId,
    XaddIdNotAboveTop,
    XaddIdZero,
    IdsExhausted,
    MaxlenNegative,
    LimitNegative,
    MaxlenWithMinid,
    LimitWithoutStrategy,
    XtrimWithoutStrategy,
    LimitWithoutApprox,
    InvalidStartId,
    InvalidEndId,
    /// The command name as Redis prints it (XREAD, XREADGROUP) and the ID it suggests.
    Unbalanced(&'static str, char),
    NoackInXread,
    DollarInXreadgroup,
    GreaterInXread,
    GroupInXread,
    MissingGroup,
    TimeoutNegative,
    TimeoutNotInteger,
    /// A blocked XREADGROUP's stream was deleted (or replaced) while it waited.
    BlockedStreamGone,
    /// A blocked XREADGROUP's group was destroyed while it waited.
    BlockedGroupGone,
    /// NOGROUP from XREADGROUP: (key, group).
    NoGroupToRead(Vec<u8>, Vec<u8>),
    /// NOGROUP from XPENDING, XCLAIM, XAUTOCLAIM: (key, group).
    NoKeyOrGroup(Vec<u8>, Vec<u8>),
    /// NOGROUP from XGROUP and XINFO: (group, key).
    NoGroupForKey(Vec<u8>, Vec<u8>),
    BusyGroup,
    XgroupNeedsKey,
    EntriesReadNegative,
    /// XCLAIM or XAUTOCLAIM.
    MinIdleTime(&'static str),
    ClaimIdle,
    ClaimTime,
    ClaimRetryCount,
    ClaimUnknownOption(Vec<u8>),
    CountNotPositive,
    XsetidIdBelowTop,
    XsetidEntriesAddedBelowLength,
    XsetidIdBelowMaxDeleted,
    EntriesAddedNegative,
}

impl StreamError {
    fn text(&self) -> Cow<'static, str> {
        use StreamError::*;
        let q = |b: &[u8]| String::from_utf8_lossy(&quotable(b, usize::MAX)).into_owned();
        let s: &'static str = match self {
            InvalidId => "ERR Invalid stream ID specified as stream command argument",
            XaddIdNotAboveTop => {
                "ERR The ID specified in XADD is equal or smaller than the target stream top item"
            }
            XaddIdZero => "ERR The ID specified in XADD must be greater than 0-0",
            IdsExhausted => {
                "ERR The stream has exhausted the last possible ID, unable to add more items"
            }
            MaxlenNegative => "ERR The MAXLEN argument must be >= 0.",
            LimitNegative => "ERR The LIMIT argument must be >= 0.",
            MaxlenWithMinid => {
                "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
            }
            LimitWithoutStrategy => {
                "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
            }
            XtrimWithoutStrategy => {
                "ERR syntax error, XTRIM must be called with a trimming strategy"
            }
            LimitWithoutApprox => {
                "ERR syntax error, LIMIT cannot be used without the special ~ option"
            }
            InvalidStartId => "ERR invalid start ID for the interval",
            InvalidEndId => "ERR invalid end ID for the interval",
            Unbalanced(cmd, symbol) => {
                return format!(
                    "ERR Unbalanced {cmd} list of streams: for each stream key an ID or \
                     '{symbol}' must be specified."
                )
                .into()
            }
            DollarInXreadgroup => {
                "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the \
                 history of this consumer by specifying a proper ID, or use the > ID to get new \
                 messages. The $ ID would just return an empty result set."
            }
            GreaterInXread => {
                "ERR The > ID can be specified only when calling XREADGROUP using the GROUP \
                 <group> <consumer> option."
            }
            GroupInXread => {
                "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
            }
            MissingGroup => "ERR Missing GROUP option for XREADGROUP",
            NoackInXread => {
                "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."
            }
            TimeoutNegative => "ERR timeout is negative",
            TimeoutNotInteger => "ERR timeout is not an integer or out of range",
            BlockedStreamGone => "UNBLOCKED the stream key no longer exists",
            BlockedGroupGone => {
                "NOGROUP the consumer group this client was blocked on no longer exists"
            }
            NoGroupToRead(key, group) => {
                return format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP \
                     option",
                    q(key),
                    q(group)
                )
                .into()
            }
            NoKeyOrGroup(key, group) => {
                return format!(
                    "NOGROUP No such key '{}' or consumer group '{}'",
                    q(key),
                    q(group)
                )
                .into()
            }
            NoGroupForKey(group, key) => {
                return format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    q(group),
                    q(key)
                )
                .into()
            }
            BusyGroup => "BUSYGROUP Consumer Group name already exists",
            XgroupNeedsKey => {
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you \
                 may want to use the MKSTREAM option to create an empty stream automatically."
            }
            EntriesReadNegative => "ERR value for ENTRIESREAD must be positive or -1",
            MinIdleTime(cmd) => {
                return format!("ERR Invalid min-idle-time argument for {cmd}").into()
            }
            ClaimIdle => "ERR Invalid IDLE option argument for XCLAIM",
            ClaimTime => "ERR Invalid TIME option argument for XCLAIM",
            ClaimRetryCount => "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            ClaimUnknownOption(opt) => {
                return format!("ERR Unrecognized XCLAIM option '{}'", q(opt)).into()
            }
            CountNotPositive => "ERR COUNT must be > 0",
            XsetidIdBelowTop => {
                "ERR The ID specified in XSETID is smaller than the target stream top item"
            }
            XsetidEntriesAddedBelowLength => {
                "ERR The entries_added specified in XSETID is smaller than the target stream \
                 length"
            }
            XsetidIdBelowMaxDeleted => {
                "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
            }
            EntriesAddedNegative => "ERR entries_added must be positive",
        };
        Cow::Borrowed(s)
    }
}

impl From<StreamError> for CmdError {
    fn from(e: StreamError) -> CmdError {
        CmdError::Stream(e)
    }
}

impl CmdError {
    /// The error line as sent after `-`, without the trailing CRLF.
    pub fn text(&self) -> Cow<'static, str> {
        use CmdError::*;
        let s: &'static str = match self {
            Syntax => "ERR syntax error",
            NotInteger => "ERR value is not an integer or out of range",
            NotFloat => "ERR value is not a valid float",
            OutOfRange => "ERR value is out of range",
            NotPositive => "ERR value is out of range, must be positive",
            Overflow => "ERR increment or decrement would overflow",
            IncrOnNanOrInf => "ERR increment would produce NaN or Infinity",
            WrongType => "WRONGTYPE Operation against a key holding the wrong kind of value",
            NoSuchKey => "ERR no such key",
            WrongArity(name) => {
                return format!("ERR wrong number of arguments for '{name}' command").into()
            }
            UnknownCommand { .. }
            | UnknownSubcommand { .. }
            | UnsupportedExpireOption(_)
            | SubcommandSyntax { .. }
            | PfdebugUnknownSubcommand(_) => {
                return String::from_utf8_lossy(&self.wire()).into_owned().into()
            }
            InvalidExpireTime(cmd) => {
                return format!("ERR invalid expire time in '{cmd}' command").into()
            }
            DbIndexOutOfRange => "ERR DB index is out of range",
            InvalidFirstDbIndex => "ERR invalid first DB index",
            InvalidSecondDbIndex => "ERR invalid second DB index",
            InvalidCursor => "ERR invalid cursor",
            ZaddXxAndNx => "ERR XX and NX options at the same time are not compatible",
            ZaddGtLtNx => "ERR GT, LT, and/or NX options at the same time are not compatible",
            ZaddIncrOnePair => "ERR INCR option supports a single increment-element pair",
            ScoreIsNan => "ERR resulting score is not a number (NaN)",
            MinMaxNotFloat => "ERR min or max is not a float",
            MinMaxNotLexItem => "ERR min or max not valid string range item",
            RangeLimitNeedsBy => {
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or \
                 BYLEX"
            }
            RangeWithscoresByLex => {
                "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
            }
            AtLeastOneInputKey(cmd) => {
                return format!("ERR at least 1 input key is needed for '{cmd}' command").into()
            }
            WeightNotFloat => "ERR weight value is not a float",
            CountNotPositive => "ERR count should be greater than 0",
            SourceAndDestinationSame => "ERR source and destination objects are the same",
            StringTooLong => "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
            OffsetOutOfRange => "ERR offset is out of range",
            NoAuth => "NOAUTH Authentication required.",
            WrongPass => "WRONGPASS invalid username-password pair or user is disabled.",
            AuthNotConfigured => {
                "ERR AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?"
            }
            OutOfMemory => "OOM command not allowed when used memory > 'maxmemory'.",
            MaxClients => "ERR max number of clients reached",
            NoProto => "NOPROTO unsupported protocol version",
            ProtocolVersionNotInteger => "ERR Protocol version is not an integer or out of range",
            HelloSyntax(option) => {
                return format!("ERR Syntax error in HELLO option '{option}'").into()
            }
            NoAuthHello => {
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
                 HELLO AUTH <user> <pass> option can be used to authenticate the client and \
                 select the RESP protocol version at the same time"
            }
            ProtectedMode => {
                "DENIED Damselfly is in protected mode: no password is set and this connection is \
                 not from a loopback address. Set a password (--requirepass), or bind to loopback \
                 only, or start with --protected_mode=false if the network is trusted."
            }
            Protocol(_) => return String::from_utf8_lossy(&self.wire()).into_owned().into(),
            InvalidClientName => {
                "ERR Client names cannot contain spaces, newlines or special characters."
            }
            NoSuchClient => "ERR No such client",
            ConfigUnknownOption(name) => {
                return format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                )
                .into()
            }
            ConfigSetFailed { name, reason } => {
                return format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
                )
                .into()
            }
            UnsupportedConfigSubcommand => "ERR unsupported CONFIG subcommand",
            InvalidTimeout => "ERR timeout is not an integer or out of range",
            TimeoutNotFloat => "ERR timeout is not a float or out of range",
            TimeoutNegative => "ERR timeout is negative",
            UnblockedByClient => "UNBLOCKED client unblocked via CLIENT UNBLOCK",
            UnblockReason => "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            MultiNested => "ERR MULTI calls can not be nested",
            ExecWithoutMulti => "ERR EXEC without MULTI",
            DiscardWithoutMulti => "ERR DISCARD without MULTI",
            WatchInsideMulti => "ERR WATCH inside MULTI is not allowed",
            ExecAbort => "EXECABORT Transaction discarded because of previous errors.",
            NotAllowedInMulti(text) => return text.clone().into(),
            CommandNotAllowed(cmd) => {
                return format!("ERR {cmd} is not allowed in this context").into()
            }
            Busy(text) => return text.clone(),
            Relayed(text) => return text.clone().into(),
            DecrementOverflow => "ERR decrement would overflow",
            LcsKeysNotStrings => "ERR The specified keys must contain string values",
            LcsIdxWithLen => "ERR If you want both the length and indexes, please just use IDX.",
            LcsTableTooLarge => {
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
            }
            HashValueNotInteger => "ERR hash value is not an integer",
            HashValueNotFloat => "ERR hash value is not a float",
            IncrIsNanOrInfinity => "ERR value is NaN or Infinity",
            ValueNotBetween { min, max } => {
                return format!("ERR value is out of range, value must between {min} and {max}")
                    .into()
            }
            NumkeysNotPositive => "ERR numkeys should be greater than 0",
            NumkeysPastArgs => "ERR Number of keys can't be greater than number of args",
            LimitNegative => "ERR LIMIT can't be negative",
            IndexOutOfRange => "ERR index out of range",
            RankZero => {
                "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second \
                 ... or use negative to start from the end of the list"
            }
            CountNegative => "ERR COUNT can't be negative",
            MaxlenNegative => "ERR MAXLEN can't be negative",
            ExpireNxConflict => {
                "ERR NX and XX, GT or LT options at the same time are not compatible"
            }
            ExpireGtLtConflict => "ERR GT and LT options at the same time are not compatible",
            LfuPolicyNotSelected => {
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
                 Please note that when switching between policies at runtime LRU and LFU data \
                 will take some time to adjust."
            }
            UnknownClientType(name) => return format!("ERR Unknown client type '{name}'").into(),
            InvalidClientId => "ERR Invalid client ID",
            ClientIdNotPositive => "ERR client-id should be greater than 0",
            NoSuchUser(name) => return format!("ERR No such user '{name}'").into(),
            InvalidCommandSpecified => "ERR Invalid command specified",
            CommandHasNoKeys => "ERR The command has no key arguments",
            InvalidArgCountForCommand => "ERR Invalid number of arguments specified for command",
            InvalidArgsForCommand => "ERR Invalid arguments specified for command",
            NoShutdownInProgress => "ERR No shutdown in progress.",
            SaveInProgress => "ERR Background save already in progress",
            // Redis answers a failed SAVE with its bare shared error.
            SaveFailed => "ERR",
            ShutdownSaveFailed => "ERR Errors trying to SHUTDOWN. Check logs.",
            ReloadOptions => {
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."
            }
            ReloadFailed => "ERR Error trying to load the RDB dump",
            PubSubContext(name) => {
                return format!(
                    "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / \
                     QUIT / RESET are allowed in this context"
                )
                .into()
            }
            DenyBlockingClient(name) => {
                return format!("ERR {name} isn't allowed for a DENY BLOCKING client").into()
            }
            BitOffsetOutOfRange => "ERR bit offset is not an integer or out of range",
            BitValueOutOfRange => "ERR bit is not an integer or out of range",
            BitposBitNotBinary => "ERR The bit argument must be 1 or 0.",
            BitopNotOneSource => "ERR BITOP NOT must be called with a single source key.",
            BitfieldInvalidType => {
                "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not \
                 supported but i64 is."
            }
            BitfieldInvalidOverflow => "ERR Invalid OVERFLOW type specified",
            BitfieldRoOnlyGet => "ERR BITFIELD_RO only supports the GET subcommand",
            HllNotValid => "WRONGTYPE Key is not a valid HyperLogLog string value.",
            HllCorrupt => "INVALIDOBJ Corrupted HLL object detected",
            PfdebugNoSuchKey => "ERR The specified key does not exist",
            PfdebugDecodeNeedsSparse => "ERR HLL encoding is not sparse",
            HllSelfTestFailed(detail) => return format!("ERR {detail}").into(),
            ExecAbortOutOfMemory => {
                "EXECABORT Transaction discarded because of: OOM command not allowed when used \
                 memory > 'maxmemory'."
            }
            Stream(e) => return e.text(),
            Restore(e) => e.text(),
            Geo(e) => return e.text(),
            SortScoreNotDouble => "ERR One or more scores can't be converted into double",
            SlowlogCount => "ERR count should be greater than or equal to -1",
        };
        Cow::Borrowed(s)
    }
}

impl CmdError {
    /// The error line as sent, without `-` and CRLF. Errors that quote the client's bytes keep
    /// them raw, as Redis does (a non-UTF-8 command name comes back byte for byte).
    pub fn wire(&self) -> Cow<'static, [u8]> {
        let quoted = |parts: &[&[u8]]| -> Cow<'static, [u8]> { Cow::Owned(parts.concat()) };
        match self {
            CmdError::UnknownCommand { name, args } => {
                Cow::Owned(unknown_command_bytes(name, args))
            }
            CmdError::UnknownSubcommand { sub, container } => quoted(&[
                b"ERR unknown subcommand '",
                &quotable(sub, 128),
                b"'. Try ",
                container.as_bytes(),
                b" HELP.",
            ]),
            CmdError::UnsupportedExpireOption(option) => {
                quoted(&[b"ERR Unsupported option ", &quotable(option, usize::MAX)])
            }
            CmdError::Protocol(detail) => quoted(&[b"ERR Protocol error: ", detail]),
            CmdError::PfdebugUnknownSubcommand(sub) => quoted(&[
                b"ERR Unknown PFDEBUG subcommand '",
                &quotable(sub, usize::MAX),
                b"'",
            ]),
            CmdError::SubcommandSyntax { sub, container } => quoted(&[
                b"ERR unknown subcommand or wrong number of arguments for '",
                &quotable(sub, 128),
                b"'. Try ",
                container.as_bytes(),
                b" HELP.",
            ]),
            other => match other.text() {
                Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
                Cow::Owned(text) => Cow::Owned(text.into_bytes()),
            },
        }
    }
}

/// Redis quotes at most 128 bytes of the name and of each argument, and stops listing arguments
/// once their quoted text would pass 128 bytes.
fn unknown_command_bytes(name: &[u8], args: &[Vec<u8>]) -> Vec<u8> {
    let mut listed = Vec::new();
    for arg in args {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push(b'\'');
        listed.extend_from_slice(&quotable(arg, room));
        listed.extend_from_slice(b"' ");
    }
    [
        b"ERR unknown command '",
        &quotable(name, 128)[..],
        b"', with args beginning with: ",
        &listed,
    ]
    .concat()
}

/// Client bytes as Redis quotes them in an error: cut at a NUL (it formats with %s) and at
/// `max_len`, with CR and LF turned into spaces so the error stays one line.
fn quotable(bytes: &[u8], max_len: usize) -> Vec<u8> {
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or_default();
    let cut = &bytes[..bytes.len().min(max_len)];
    cut.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arity_and_unknown_texts_match_redis() {
        assert_eq!(
            CmdError::WrongArity("client|kill".into()).text(),
            "ERR wrong number of arguments for 'client|kill' command"
        );
        let err = CmdError::UnknownCommand {
            name: b"foo".to_vec(),
            args: vec![b"a".to_vec(), b"b".to_vec()],
        };
        assert_eq!(
            err.text(),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        let err = CmdError::UnknownSubcommand {
            sub: b"foo".to_vec(),
            container: "CLIENT",
        };
        assert_eq!(err.text(), "ERR unknown subcommand 'foo'. Try CLIENT HELP.");
        let err = CmdError::UnknownCommand {
            name: b"fo\0o".to_vec(),
            args: vec![b"a\0b".to_vec()],
        };
        assert_eq!(
            err.text(),
            "ERR unknown command 'fo', with args beginning with: 'a' "
        );
    }
}

/// RESTORE's refusals, with redis-server 7.0's texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreError {
    BusyKey,
    InvalidTtl,
    InvalidIdleTime,
    InvalidFreq,
    /// A payload too short to hold its footer, of a newer RDB version, or with a bad CRC.
    VersionOrChecksum,
    /// A payload whose value does not parse.
    BadDataFormat,
}

impl RestoreError {
    fn text(self) -> &'static str {
        match self {
            RestoreError::BusyKey => "BUSYKEY Target key name already exists.",
            RestoreError::InvalidTtl => "ERR Invalid TTL value, must be >= 0",
            RestoreError::InvalidIdleTime => "ERR Invalid IDLETIME value, must be >= 0",
            RestoreError::InvalidFreq => "ERR Invalid FREQ value, must be >= 0 and <= 255",
            RestoreError::VersionOrChecksum => "ERR DUMP payload version or checksum are wrong",
            RestoreError::BadDataFormat => "ERR Bad data format",
        }
    }
}

impl From<RestoreError> for CmdError {
    fn from(e: RestoreError) -> CmdError {
        CmdError::Restore(e)
    }
}
