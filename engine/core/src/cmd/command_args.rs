//! The parts of COMMAND DOCS that the table rows do not carry: each command's argument tree,
//! its history, and its doc flags (deprecated, syscmd), keyed by full command name.
//!
//! The data is Redis 7.0.15's public command metadata. It lives in one keyed table beside the
//! rows, not in them, so adding a command's docs never touches a family file; `EXTRA_DOCS` is
//! regenerated from a live redis-server by `tools/gen_command_args.py`, and the test
//! `command_docs_equals_live_redis_for_every_row` (in `command_docs`) compares every row's
//! COMMAND DOCS reply with the server's, so the two cannot drift apart unnoticed.
//!
//! An argument reads as a constructor naming its type (`key`, `integer`, `pure_token`,
//! `oneof`…) followed by modifiers in any order (`.token("EX")`, `.since("6.2.0")`,
//! `.optional()`); the reply lists the fields in Redis's order whatever the order here.

/// An argument's type, as COMMAND DOCS names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgType {
    String,
    Integer,
    Double,
    /// A key; `Arg::key_spec_index` says which of the row's key specs finds it.
    Key,
    Pattern,
    UnixTime,
    /// A bare keyword such as NX: its `token` is all there is.
    PureToken,
    /// Exactly one of the nested arguments.
    OneOf,
    /// The nested arguments, in sequence.
    Block,
}

impl ArgType {
    pub const fn name(self) -> &'static str {
        match self {
            ArgType::String => "string",
            ArgType::Integer => "integer",
            ArgType::Double => "double",
            ArgType::Key => "key",
            ArgType::Pattern => "pattern",
            ArgType::UnixTime => "unix-time",
            ArgType::PureToken => "pure-token",
            ArgType::OneOf => "oneof",
            ArgType::Block => "block",
        }
    }

    /// Whether the type nests arguments (Redis then always sends an `arguments` field).
    pub const fn nests(self) -> bool {
        matches!(self, ArgType::OneOf | ArgType::Block)
    }
}

/// Argument flags, in the order COMMAND DOCS lists them.
pub mod argflag {
    pub const OPTIONAL: u8 = 1 << 0;
    pub const MULTIPLE: u8 = 1 << 1;
    /// The token repeats with each value (`GET pattern [GET pattern …]`).
    pub const MULTIPLE_TOKEN: u8 = 1 << 2;

    pub const NAMES: &[(u8, &str)] = &[
        (OPTIONAL, "optional"),
        (MULTIPLE, "multiple"),
        (MULTIPLE_TOKEN, "multiple_token"),
    ];
}

/// Command doc flags, in the order COMMAND DOCS lists them.
pub mod docflag {
    pub const DEPRECATED: u8 = 1 << 0;
    /// A system command (DEBUG…), not meant for applications.
    pub const SYSCMD: u8 = 1 << 1;

    pub const NAMES: &[(u8, &str)] = &[(DEPRECATED, "deprecated"), (SYSCMD, "syscmd")];
}

/// One node of a command's argument tree.
#[derive(Clone, Copy, Debug)]
pub struct Arg {
    pub name: &'static str,
    pub kind: ArgType,
    /// For a key: the index of the key spec (COMMAND INFO's ninth field) that finds it.
    pub key_spec_index: Option<u8>,
    /// The keyword that introduces the argument (EX before seconds).
    pub token: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    /// `argflag` bits.
    pub flags: u8,
    /// A `OneOf` or `Block`'s members; empty for the other types.
    pub args: &'static [Arg],
}

const fn leaf(name: &'static str, kind: ArgType) -> Arg {
    Arg {
        name,
        kind,
        key_spec_index: None,
        token: None,
        since: None,
        deprecated_since: None,
        flags: 0,
        args: &[],
    }
}

pub const fn string(name: &'static str) -> Arg {
    leaf(name, ArgType::String)
}

pub const fn integer(name: &'static str) -> Arg {
    leaf(name, ArgType::Integer)
}

pub const fn double(name: &'static str) -> Arg {
    leaf(name, ArgType::Double)
}

pub const fn pattern(name: &'static str) -> Arg {
    leaf(name, ArgType::Pattern)
}

pub const fn unix_time(name: &'static str) -> Arg {
    leaf(name, ArgType::UnixTime)
}

pub const fn key(name: &'static str, key_spec_index: u8) -> Arg {
    Arg {
        key_spec_index: Some(key_spec_index),
        ..leaf(name, ArgType::Key)
    }
}

pub const fn pure_token(name: &'static str, token: &'static str) -> Arg {
    leaf(name, ArgType::PureToken).token(token)
}

pub const fn oneof(name: &'static str, args: &'static [Arg]) -> Arg {
    Arg {
        args,
        ..leaf(name, ArgType::OneOf)
    }
}

pub const fn block(name: &'static str, args: &'static [Arg]) -> Arg {
    Arg {
        args,
        ..leaf(name, ArgType::Block)
    }
}

impl Arg {
    pub const fn token(self, token: &'static str) -> Arg {
        Arg {
            token: Some(token),
            ..self
        }
    }

    pub const fn since(self, version: &'static str) -> Arg {
        Arg {
            since: Some(version),
            ..self
        }
    }

    pub const fn deprecated_since(self, version: &'static str) -> Arg {
        Arg {
            deprecated_since: Some(version),
            ..self
        }
    }

    /// The key spec that finds the keys a non-key argument names (SORT's BY/GET patterns).
    pub const fn key_spec(self, key_spec_index: u8) -> Arg {
        Arg {
            key_spec_index: Some(key_spec_index),
            ..self
        }
    }

    pub const fn optional(self) -> Arg {
        self.flag(argflag::OPTIONAL)
    }

    pub const fn multiple(self) -> Arg {
        self.flag(argflag::MULTIPLE)
    }

    pub const fn multiple_token(self) -> Arg {
        self.flag(argflag::MULTIPLE_TOKEN)
    }

    const fn flag(self, bit: u8) -> Arg {
        Arg {
            flags: self.flags | bit,
            ..self
        }
    }
}

/// What COMMAND DOCS says about a command beyond the row's `Docs`.
#[derive(Clone, Copy, Debug)]
pub struct ExtraDocs {
    /// `docflag` bits.
    pub doc_flags: u8,
    pub deprecated_since: Option<&'static str>,
    /// What to use instead of a deprecated command.
    pub replaced_by: Option<&'static str>,
    /// (version, change) pairs, oldest first.
    pub history: &'static [(&'static str, &'static str)],
    pub args: &'static [Arg],
}

impl ExtraDocs {
    /// A command that takes no arguments and has no history or doc flags.
    pub const EMPTY: ExtraDocs = ExtraDocs {
        doc_flags: 0,
        deprecated_since: None,
        replaced_by: None,
        history: &[],
        args: &[],
    };

    pub const fn history(self, history: &'static [(&'static str, &'static str)]) -> ExtraDocs {
        ExtraDocs { history, ..self }
    }

    pub const fn deprecated(self, since: &'static str, replaced_by: &'static str) -> ExtraDocs {
        ExtraDocs {
            doc_flags: self.doc_flags | docflag::DEPRECATED,
            deprecated_since: Some(since),
            replaced_by: Some(replaced_by),
            ..self
        }
    }

    pub const fn syscmd(self) -> ExtraDocs {
        ExtraDocs {
            doc_flags: self.doc_flags | docflag::SYSCMD,
            ..self
        }
    }
}

/// A command's argument tree, with no history or doc flags yet.
pub const fn args(args: &'static [Arg]) -> ExtraDocs {
    ExtraDocs {
        args,
        ..ExtraDocs::EMPTY
    }
}

/// The extra docs of a command or subcommand ("set", "client|kill"); `EMPTY` when it has none.
pub fn extra_docs(name: &str) -> &'static ExtraDocs {
    EXTRA_DOCS
        .binary_search_by(|(n, _)| n.cmp(&name))
        .map_or(&ExtraDocs::EMPTY, |i| &EXTRA_DOCS[i].1)
}

// The table below is Redis 7.0.15's metadata for our rows, sorted by name; rows with nothing
// to add (CLIENT ID, TIME…) are absent.
// BEGIN generated by tools/gen_command_args.py
#[rustfmt::skip]
pub const EXTRA_DOCS: &[(&str, ExtraDocs)] = &[
    ("append", args(&[key("key", 0), string("value")])),
    ("auth", args(&[string("username").since("6.0.0").optional(), string("password")]).history(&[
        ("6.0.0", "Added ACL style (username and password)."),
    ])),
    ("bgsave", args(&[pure_token("schedule", "SCHEDULE").since("3.2.2").optional()]).history(&[
        ("3.2.2", "Added the `SCHEDULE` option."),
    ])),
    ("bitcount", args(&[
        key("key", 0),
        block("index", &[
            integer("start"),
            integer("end"),
            oneof("index_unit", &[
                pure_token("byte", "BYTE"),
                pure_token("bit", "BIT"),
            ]).since("7.0.0").optional(),
        ]).optional(),
    ]).history(&[
        ("7.0.0", "Added the `BYTE|BIT` option."),
    ])),
    ("bitfield", args(&[
        key("key", 0),
        oneof("operation", &[
            block("encoding_offset", &[string("encoding"), integer("offset")]).token("GET"),
            block("write", &[
                oneof("wrap_sat_fail", &[
                    pure_token("wrap", "WRAP"),
                    pure_token("sat", "SAT"),
                    pure_token("fail", "FAIL"),
                ]).token("OVERFLOW").optional(),
                oneof("write_operation", &[
                    block("encoding_offset_value", &[
                        string("encoding"),
                        integer("offset"),
                        integer("value"),
                    ]).token("SET"),
                    block("encoding_offset_increment", &[
                        string("encoding"),
                        integer("offset"),
                        integer("increment"),
                    ]).token("INCRBY"),
                ]),
            ]),
        ]).optional().multiple(),
    ])),
    ("bitfield_ro", args(&[
        key("key", 0),
        block("encoding_offset", &[
            string("encoding"),
            integer("offset"),
        ]).token("GET").optional().multiple().multiple_token(),
    ])),
    ("bitop", args(&[string("operation"), key("destkey", 0), key("key", 1).multiple()])),
    ("bitpos", args(&[
        key("key", 0),
        integer("bit"),
        block("index", &[
            integer("start"),
            block("end_index", &[
                integer("end"),
                oneof("index_unit", &[
                    pure_token("byte", "BYTE"),
                    pure_token("bit", "BIT"),
                ]).since("7.0.0").optional(),
            ]).optional(),
        ]).optional(),
    ]).history(&[
        ("7.0.0", "Added the `BYTE|BIT` option."),
    ])),
    ("blmove", args(&[
        key("source", 0),
        key("destination", 1),
        oneof("wherefrom", &[pure_token("left", "LEFT"), pure_token("right", "RIGHT")]),
        oneof("whereto", &[pure_token("left", "LEFT"), pure_token("right", "RIGHT")]),
        double("timeout"),
    ])),
    ("blmpop", args(&[
        double("timeout"),
        integer("numkeys"),
        key("key", 0).multiple(),
        oneof("where", &[pure_token("left", "LEFT"), pure_token("right", "RIGHT")]),
        integer("count").token("COUNT").optional(),
    ])),
    ("blpop", args(&[key("key", 0).multiple(), double("timeout")]).history(&[
        ("6.0.0", "`timeout` is interpreted as a double instead of an integer."),
    ])),
    ("brpop", args(&[key("key", 0).multiple(), double("timeout")]).history(&[
        ("6.0.0", "`timeout` is interpreted as a double instead of an integer."),
    ])),
    ("brpoplpush", args(&[key("source", 0), key("destination", 1), double("timeout")]).history(&[
        ("6.0.0", "`timeout` is interpreted as a double instead of an integer."),
    ]).deprecated("6.2.0", "`BLMOVE` with the `RIGHT` and `LEFT` arguments")),
    ("bzmpop", args(&[
        double("timeout"),
        integer("numkeys"),
        key("key", 0).multiple(),
        oneof("where", &[pure_token("min", "MIN"), pure_token("max", "MAX")]),
        integer("count").token("COUNT").optional(),
    ])),
    ("bzpopmax", args(&[key("key", 0).multiple(), double("timeout")]).history(&[
        ("6.0.0", "`timeout` is interpreted as a double instead of an integer."),
    ])),
    ("bzpopmin", args(&[key("key", 0).multiple(), double("timeout")]).history(&[
        ("6.0.0", "`timeout` is interpreted as a double instead of an integer."),
    ])),
    ("client|kill", args(&[
        oneof("filter", &[
            string("ip:port").deprecated_since("2.8.12"),
            oneof("new-format", &[
                integer("client-id").token("ID").since("2.8.12").optional(),
                oneof("normal_master_slave_pubsub", &[
                    pure_token("normal", "NORMAL"),
                    pure_token("master", "MASTER").since("3.2.0"),
                    pure_token("slave", "SLAVE"),
                    pure_token("replica", "REPLICA").since("5.0.0"),
                    pure_token("pubsub", "PUBSUB"),
                ]).token("TYPE").since("2.8.12").optional(),
                string("username").token("USER").optional(),
                string("ip:port").token("ADDR").optional(),
                string("ip:port").token("LADDR").since("6.2.0").optional(),
                string("yes/no").token("SKIPME").optional(),
            ]).multiple(),
        ]),
    ]).history(&[
        ("2.8.12", "Added new filter format."),
        ("2.8.12", "`ID` option."),
        ("3.2.0", "Added `master` type in for `TYPE` option."),
        ("5.0.0", concat!(
            "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward ",
            "compatibility.",
        )),
        ("6.2.0", "`LADDR` option."),
    ])),
    ("client|list", args(&[
        oneof("normal_master_replica_pubsub", &[
            pure_token("normal", "NORMAL"),
            pure_token("master", "MASTER"),
            pure_token("replica", "REPLICA"),
            pure_token("pubsub", "PUBSUB"),
        ]).token("TYPE").since("5.0.0").optional(),
        block("id", &[integer("client-id").multiple()]).token("ID").since("6.2.0").optional(),
    ]).history(&[
        ("2.8.12", "Added unique client `id` field."),
        ("5.0.0", "Added optional `TYPE` filter."),
        ("6.0.0", "Added `user` field."),
        ("6.2.0", concat!(
            "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` ",
            "filter.",
        )),
        ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."),
        ("7.0.3", "Added `ssub` field."),
    ])),
    ("client|no-evict", args(&[
        oneof("enabled", &[pure_token("on", "ON"), pure_token("off", "OFF")]),
    ])),
    ("client|setname", args(&[string("connection-name")])),
    ("client|unblock", args(&[
        integer("client-id"),
        oneof("timeout_error", &[
            pure_token("timeout", "TIMEOUT"),
            pure_token("error", "ERROR"),
        ]).optional(),
    ])),
    ("command|docs", args(&[string("command-name").optional().multiple()])),
    ("command|info", args(&[string("command-name").optional().multiple()]).history(&[
        ("7.0.0", "Allowed to be called with no argument to get info on all commands."),
    ])),
    ("command|list", args(&[
        oneof("filterby", &[
            string("module-name").token("MODULE"),
            string("category").token("ACLCAT"),
            pattern("pattern").token("PATTERN"),
        ]).token("FILTERBY").optional(),
    ])),
    ("config|get", args(&[block("parameter", &[string("parameter")]).multiple()]).history(&[
        ("7.0.0", "Added the ability to pass multiple pattern parameters in one call"),
    ])),
    ("config|set", args(&[
        block("parameter_value", &[string("parameter"), string("value")]).multiple(),
    ]).history(&[
        ("7.0.0", "Added the ability to set multiple parameters in one call."),
    ])),
    ("copy", args(&[
        key("source", 0),
        key("destination", 1),
        integer("destination-db").token("DB").optional(),
        pure_token("replace", "REPLACE").optional(),
    ])),
    ("debug", ExtraDocs::EMPTY.syscmd()),
    ("decr", args(&[key("key", 0)])),
    ("decrby", args(&[key("key", 0), integer("decrement")])),
    ("del", args(&[key("key", 0).multiple()])),
    ("dump", args(&[key("key", 0)])),
    ("echo", args(&[string("message")])),
    ("eval", args(&[
        string("script"),
        integer("numkeys"),
        key("key", 0).optional().multiple(),
        string("arg").optional().multiple(),
    ])),
    ("eval_ro", args(&[
        string("script"),
        integer("numkeys"),
        key("key", 0).optional().multiple(),
        string("arg").optional().multiple(),
    ])),
    ("evalsha", args(&[
        string("sha1"),
        integer("numkeys"),
        key("key", 0).optional().multiple(),
        string("arg").optional().multiple(),
    ])),
    ("evalsha_ro", args(&[
        string("sha1"),
        integer("numkeys"),
        key("key", 0).optional().multiple(),
        string("arg").optional().multiple(),
    ])),
    ("exists", args(&[key("key", 0).multiple()]).history(&[
        ("3.0.3", "Accepts multiple `key` arguments."),
    ])),
    ("expire", args(&[
        key("key", 0),
        integer("seconds"),
        oneof("condition", &[
            pure_token("nx", "NX"),
            pure_token("xx", "XX"),
            pure_token("gt", "GT"),
            pure_token("lt", "LT"),
        ]).since("7.0.0").optional(),
    ]).history(&[
        ("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),
    ])),
    ("expireat", args(&[
        key("key", 0),
        unix_time("unix-time-seconds"),
        oneof("condition", &[
            pure_token("nx", "NX"),
            pure_token("xx", "XX"),
            pure_token("gt", "GT"),
            pure_token("lt", "LT"),
        ]).since("7.0.0").optional(),
    ]).history(&[
        ("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),
    ])),
    ("expiretime", args(&[key("key", 0)])),
    ("fcall", args(&[
        string("function"),
        integer("numkeys"),
        key("key", 0).optional().multiple(),
        string("arg").optional().multiple(),
    ])),
    ("fcall_ro", args(&[
        string("function"),
        integer("numkeys"),
        key("key", 0).optional().multiple(),
        string("arg").optional().multiple(),
    ])),
    ("flushall", args(&[
        oneof("async", &[
            pure_token("async", "ASYNC").since("4.0.0"),
            pure_token("sync", "SYNC").since("6.2.0"),
        ]).optional(),
    ]).history(&[
        ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
        ("6.2.0", "Added the `SYNC` flushing mode modifier."),
    ])),
    ("flushdb", args(&[
        oneof("async", &[
            pure_token("async", "ASYNC").since("4.0.0"),
            pure_token("sync", "SYNC").since("6.2.0"),
        ]).optional(),
    ]).history(&[
        ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
        ("6.2.0", "Added the `SYNC` flushing mode modifier."),
    ])),
    ("function|delete", args(&[string("library-name")])),
    ("function|flush", args(&[
        oneof("async", &[
            pure_token("async", "ASYNC"),
            pure_token("sync", "SYNC"),
        ]).optional(),
    ])),
    ("function|list", args(&[
        string("library-name-pattern").token("LIBRARYNAME").optional(),
        pure_token("withcode", "WITHCODE").optional(),
    ])),
    ("function|load", args(&[
        pure_token("replace", "REPLACE").optional(),
        string("function-code"),
    ])),
    ("function|restore", args(&[
        string("serialized-value"),
        oneof("policy", &[
            pure_token("flush", "FLUSH"),
            pure_token("append", "APPEND"),
            pure_token("replace", "REPLACE"),
        ]).optional(),
    ])),
    ("geoadd", args(&[
        key("key", 0),
        oneof("condition", &[
            pure_token("nx", "NX"),
            pure_token("xx", "XX"),
        ]).since("6.2.0").optional(),
        pure_token("change", "CH").since("6.2.0").optional(),
        block("longitude_latitude_member", &[
            double("longitude"),
            double("latitude"),
            string("member"),
        ]).multiple(),
    ]).history(&[
        ("6.2.0", "Added the `CH`, `NX` and `XX` options."),
    ])),
    ("geodist", args(&[
        key("key", 0),
        string("member1"),
        string("member2"),
        oneof("unit", &[
            pure_token("m", "M"),
            pure_token("km", "KM"),
            pure_token("ft", "FT"),
            pure_token("mi", "MI"),
        ]).optional(),
    ])),
    ("geohash", args(&[key("key", 0), string("member").multiple()])),
    ("geopos", args(&[key("key", 0), string("member").multiple()])),
    ("georadius", args(&[
        key("key", 0),
        double("longitude"),
        double("latitude"),
        double("radius"),
        oneof("unit", &[
            pure_token("m", "M"),
            pure_token("km", "KM"),
            pure_token("ft", "FT"),
            pure_token("mi", "MI"),
        ]),
        pure_token("withcoord", "WITHCOORD").optional(),
        pure_token("withdist", "WITHDIST").optional(),
        pure_token("withhash", "WITHHASH").optional(),
        block("count", &[
            integer("count").token("COUNT"),
            pure_token("any", "ANY").since("6.2.0").optional(),
        ]).optional(),
        oneof("order", &[pure_token("asc", "ASC"), pure_token("desc", "DESC")]).optional(),
        key("key", 1).token("STORE").optional(),
        key("key", 2).token("STOREDIST").optional(),
    ]).history(&[
        ("6.2.0", "Added the `ANY` option for `COUNT`."),
        ("7.0.0", "Added support for uppercase unit names."),
    ]).deprecated("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument")),
    ("georadius_ro", args(&[
        key("key", 0),
        double("longitude"),
        double("latitude"),
        double("radius"),
        oneof("unit", &[
            pure_token("m", "M"),
            pure_token("km", "KM"),
            pure_token("ft", "FT"),
            pure_token("mi", "MI"),
        ]),
        pure_token("withcoord", "WITHCOORD").optional(),
        pure_token("withdist", "WITHDIST").optional(),
        pure_token("withhash", "WITHHASH").optional(),
        block("count", &[
            integer("count").token("COUNT"),
            pure_token("any", "ANY").since("6.2.0").optional(),
        ]).optional(),
        oneof("order", &[pure_token("asc", "ASC"), pure_token("desc", "DESC")]).optional(),
    ]).history(&[
        ("6.2.0", "Added the `ANY` option for `COUNT`."),
    ]).deprecated("6.2.0", "`GEOSEARCH` with the `BYRADIUS` argument")),
    ("georadiusbymember", args(&[
        key("key", 0),
        string("member"),
        double("radius"),
        oneof("unit", &[
            pure_token("m", "M"),
            pure_token("km", "KM"),
            pure_token("ft", "FT"),
            pure_token("mi", "MI"),
        ]),
        pure_token("withcoord", "WITHCOORD").optional(),
        pure_token("withdist", "WITHDIST").optional(),
        pure_token("withhash", "WITHHASH").optional(),
        block("count", &[
            integer("count").token("COUNT"),
            pure_token("any", "ANY").optional(),
        ]).optional(),
        oneof("order", &[pure_token("asc", "ASC"), pure_token("desc", "DESC")]).optional(),
        key("key", 1).token("STORE").optional(),
        key("key", 2).token("STOREDIST").optional(),
    ]).history(&[
        ("7.0.0", "Added support for uppercase unit names."),
    ])
        .deprecated("6.2.0",
            "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments")),
    ("georadiusbymember_ro", args(&[
        key("key", 0),
        string("member"),
        double("radius"),
        oneof("unit", &[
            pure_token("m", "M"),
            pure_token("km", "KM"),
            pure_token("ft", "FT"),
            pure_token("mi", "MI"),
        ]),
        pure_token("withcoord", "WITHCOORD").optional(),
        pure_token("withdist", "WITHDIST").optional(),
        pure_token("withhash", "WITHHASH").optional(),
        block("count", &[
            integer("count").token("COUNT"),
            pure_token("any", "ANY").optional(),
        ]).optional(),
        oneof("order", &[pure_token("asc", "ASC"), pure_token("desc", "DESC")]).optional(),
    ]).deprecated("6.2.0", "`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments")),
    ("geosearch", args(&[
        key("key", 0),
        oneof("from", &[
            string("member").token("FROMMEMBER"),
            block("longitude_latitude", &[
                double("longitude"),
                double("latitude"),
            ]).token("FROMLONLAT"),
        ]),
        oneof("by", &[
            block("circle", &[
                double("radius").token("BYRADIUS"),
                oneof("unit", &[
                    pure_token("m", "M"),
                    pure_token("km", "KM"),
                    pure_token("ft", "FT"),
                    pure_token("mi", "MI"),
                ]),
            ]),
            block("box", &[
                double("width").token("BYBOX"),
                double("height"),
                oneof("unit", &[
                    pure_token("m", "M"),
                    pure_token("km", "KM"),
                    pure_token("ft", "FT"),
                    pure_token("mi", "MI"),
                ]),
            ]),
        ]),
        oneof("order", &[pure_token("asc", "ASC"), pure_token("desc", "DESC")]).optional(),
        block("count", &[
            integer("count").token("COUNT"),
            pure_token("any", "ANY").optional(),
        ]).optional(),
        pure_token("withcoord", "WITHCOORD").optional(),
        pure_token("withdist", "WITHDIST").optional(),
        pure_token("withhash", "WITHHASH").optional(),
    ]).history(&[
        ("7.0.0", "Added support for uppercase unit names."),
    ])),
    ("geosearchstore", args(&[
        key("destination", 0),
        key("source", 1),
        oneof("from", &[
            string("member").token("FROMMEMBER"),
            block("longitude_latitude", &[
                double("longitude"),
                double("latitude"),
            ]).token("FROMLONLAT"),
        ]),
        oneof("by", &[
            block("circle", &[
                double("radius").token("BYRADIUS"),
                oneof("unit", &[
                    pure_token("m", "M"),
                    pure_token("km", "KM"),
                    pure_token("ft", "FT"),
                    pure_token("mi", "MI"),
                ]),
            ]),
            block("box", &[
                double("width").token("BYBOX"),
                double("height"),
                oneof("unit", &[
                    pure_token("m", "M"),
                    pure_token("km", "KM"),
                    pure_token("ft", "FT"),
                    pure_token("mi", "MI"),
                ]),
            ]),
        ]),
        oneof("order", &[pure_token("asc", "ASC"), pure_token("desc", "DESC")]).optional(),
        block("count", &[
            integer("count").token("COUNT"),
            pure_token("any", "ANY").optional(),
        ]).optional(),
        pure_token("storedist", "STOREDIST").optional(),
    ]).history(&[
        ("7.0.0", "Added support for uppercase unit names."),
    ])),
    ("get", args(&[key("key", 0)])),
    ("getbit", args(&[key("key", 0), integer("offset")])),
    ("getdel", args(&[key("key", 0)])),
    ("getex", args(&[
        key("key", 0),
        oneof("expiration", &[
            integer("seconds").token("EX"),
            integer("milliseconds").token("PX"),
            unix_time("unix-time-seconds").token("EXAT"),
            unix_time("unix-time-milliseconds").token("PXAT"),
            pure_token("persist", "PERSIST"),
        ]).optional(),
    ])),
    ("getrange", args(&[key("key", 0), integer("start"), integer("end")])),
    ("getset", args(&[key("key", 0), string("value")])
        .deprecated("6.2.0", "`SET` with the `!GET` argument")),
    ("hdel", args(&[key("key", 0), string("field").multiple()]).history(&[
        ("2.4.0", "Accepts multiple `field` arguments."),
    ])),
    ("hello", args(&[
        block("arguments", &[
            integer("protover"),
            block("username_password", &[
                string("username"),
                string("password"),
            ]).token("AUTH").optional(),
            string("clientname").token("SETNAME").optional(),
        ]).optional(),
    ]).history(&[
        ("6.2.0", concat!(
            "`protover` made optional; when called without arguments the command reports the ",
            "current connection's context.",
        )),
    ])),
    ("hexists", args(&[key("key", 0), string("field")])),
    ("hget", args(&[key("key", 0), string("field")])),
    ("hgetall", args(&[key("key", 0)])),
    ("hincrby", args(&[key("key", 0), string("field"), integer("increment")])),
    ("hincrbyfloat", args(&[key("key", 0), string("field"), double("increment")])),
    ("hkeys", args(&[key("key", 0)])),
    ("hlen", args(&[key("key", 0)])),
    ("hmget", args(&[key("key", 0), string("field").multiple()])),
    ("hmset", args(&[
        key("key", 0),
        block("field_value", &[string("field"), string("value")]).multiple(),
    ]).deprecated("4.0.0", "`HSET` with multiple field-value pairs")),
    ("hrandfield", args(&[
        key("key", 0),
        block("options", &[
            integer("count"),
            pure_token("withvalues", "WITHVALUES").optional(),
        ]).optional(),
    ])),
    ("hscan", args(&[
        key("key", 0),
        integer("cursor"),
        pattern("pattern").token("MATCH").optional(),
        integer("count").token("COUNT").optional(),
    ])),
    ("hset", args(&[
        key("key", 0),
        block("field_value", &[string("field"), string("value")]).multiple(),
    ]).history(&[
        ("4.0.0", "Accepts multiple `field` and `value` arguments."),
    ])),
    ("hsetnx", args(&[key("key", 0), string("field"), string("value")])),
    ("hstrlen", args(&[key("key", 0), string("field")])),
    ("hvals", args(&[key("key", 0)])),
    ("incr", args(&[key("key", 0)])),
    ("incrby", args(&[key("key", 0), integer("increment")])),
    ("incrbyfloat", args(&[key("key", 0), double("increment")])),
    ("info", args(&[string("section").optional().multiple()]).history(&[
        ("7.0.0", "Added support for taking multiple section arguments."),
    ])),
    ("keys", args(&[pattern("pattern")])),
    ("lcs", args(&[
        key("key1", 0),
        key("key2", 0),
        pure_token("len", "LEN").optional(),
        pure_token("idx", "IDX").optional(),
        integer("len").token("MINMATCHLEN").optional(),
        pure_token("withmatchlen", "WITHMATCHLEN").optional(),
    ])),
    ("lindex", args(&[key("key", 0), integer("index")])),
    ("linsert", args(&[
        key("key", 0),
        oneof("where", &[pure_token("before", "BEFORE"), pure_token("after", "AFTER")]),
        string("pivot"),
        string("element"),
    ])),
    ("llen", args(&[key("key", 0)])),
    ("lmove", args(&[
        key("source", 0),
        key("destination", 1),
        oneof("wherefrom", &[pure_token("left", "LEFT"), pure_token("right", "RIGHT")]),
        oneof("whereto", &[pure_token("left", "LEFT"), pure_token("right", "RIGHT")]),
    ])),
    ("lmpop", args(&[
        integer("numkeys"),
        key("key", 0).multiple(),
        oneof("where", &[pure_token("left", "LEFT"), pure_token("right", "RIGHT")]),
        integer("count").token("COUNT").optional(),
    ])),
    ("lpop", args(&[key("key", 0), integer("count").since("6.2.0").optional()]).history(&[
        ("6.2.0", "Added the `count` argument."),
    ])),
    ("lpos", args(&[
        key("key", 0),
        string("element"),
        integer("rank").token("RANK").optional(),
        integer("num-matches").token("COUNT").optional(),
        integer("len").token("MAXLEN").optional(),
    ])),
    ("lpush", args(&[key("key", 0), string("element").multiple()]).history(&[
        ("2.4.0", "Accepts multiple `element` arguments."),
    ])),
    ("lpushx", args(&[key("key", 0), string("element").multiple()]).history(&[
        ("4.0.0", "Accepts multiple `element` arguments."),
    ])),
    ("lrange", args(&[key("key", 0), integer("start"), integer("stop")])),
    ("lrem", args(&[key("key", 0), integer("count"), string("element")])),
    ("lset", args(&[key("key", 0), integer("index"), string("element")])),
    ("ltrim", args(&[key("key", 0), integer("start"), integer("stop")])),
    ("memory|usage", args(&[key("key", 0), integer("count").token("SAMPLES").optional()])),
    ("mget", args(&[key("key", 0).multiple()])),
    ("move", args(&[key("key", 0), integer("db")])),
    ("mset", args(&[block("key_value", &[key("key", 0), string("value")]).multiple()])),
    ("msetnx", args(&[block("key_value", &[key("key", 0), string("value")]).multiple()])),
    ("object|encoding", args(&[key("key", 0)])),
    ("object|freq", args(&[key("key", 0)])),
    ("object|idletime", args(&[key("key", 0)])),
    ("object|refcount", args(&[key("key", 0)])),
    ("persist", args(&[key("key", 0)])),
    ("pexpire", args(&[
        key("key", 0),
        integer("milliseconds"),
        oneof("condition", &[
            pure_token("nx", "NX"),
            pure_token("xx", "XX"),
            pure_token("gt", "GT"),
            pure_token("lt", "LT"),
        ]).since("7.0.0").optional(),
    ]).history(&[
        ("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),
    ])),
    ("pexpireat", args(&[
        key("key", 0),
        unix_time("unix-time-milliseconds"),
        oneof("condition", &[
            pure_token("nx", "NX"),
            pure_token("xx", "XX"),
            pure_token("gt", "GT"),
            pure_token("lt", "LT"),
        ]).since("7.0.0").optional(),
    ]).history(&[
        ("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),
    ])),
    ("pexpiretime", args(&[key("key", 0)])),
    ("pfadd", args(&[key("key", 0), string("element").optional().multiple()])),
    ("pfcount", args(&[key("key", 0).multiple()])),
    ("pfdebug", args(&[string("subcommand"), key("key", 0)]).syscmd()),
    ("pfmerge", args(&[key("destkey", 0), key("sourcekey", 1).multiple()])),
    ("pfselftest", ExtraDocs::EMPTY.syscmd()),
    ("ping", args(&[string("message").optional()])),
    ("psetex", args(&[key("key", 0), integer("milliseconds"), string("value")])),
    ("psubscribe", args(&[block("pattern", &[pattern("pattern")]).multiple()])),
    ("pttl", args(&[key("key", 0)]).history(&[
        ("2.8.0", "Added the -2 reply."),
    ])),
    ("publish", args(&[string("channel"), string("message")])),
    ("pubsub|channels", args(&[pattern("pattern").optional()])),
    ("pubsub|numsub", args(&[string("channel").optional().multiple()])),
    ("pubsub|shardchannels", args(&[pattern("pattern").optional()])),
    ("pubsub|shardnumsub", args(&[string("shardchannel").optional().multiple()])),
    ("punsubscribe", args(&[pattern("pattern").optional().multiple()])),
    ("rename", args(&[key("key", 0), key("newkey", 1)])),
    ("renamenx", args(&[key("key", 0), key("newkey", 1)]).history(&[
        ("3.2.0", concat!(
            "The command no longer returns an error when source and destination names are ",
            "the same.",
        )),
    ])),
    ("restore", args(&[
        key("key", 0),
        integer("ttl"),
        string("serialized-value"),
        pure_token("replace", "REPLACE").since("3.0.0").optional(),
        pure_token("absttl", "ABSTTL").since("5.0.0").optional(),
        integer("seconds").token("IDLETIME").since("5.0.0").optional(),
        integer("frequency").token("FREQ").since("5.0.0").optional(),
    ]).history(&[
        ("3.0.0", "Added the `REPLACE` modifier."),
        ("5.0.0", "Added the `ABSTTL` modifier."),
        ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
    ])),
    ("rpop", args(&[key("key", 0), integer("count").since("6.2.0").optional()]).history(&[
        ("6.2.0", "Added the `count` argument."),
    ])),
    ("rpoplpush", args(&[key("source", 0), key("destination", 1)])
        .deprecated("6.2.0", "`LMOVE` with the `RIGHT` and `LEFT` arguments")),
    ("rpush", args(&[key("key", 0), string("element").multiple()]).history(&[
        ("2.4.0", "Accepts multiple `element` arguments."),
    ])),
    ("rpushx", args(&[key("key", 0), string("element").multiple()]).history(&[
        ("4.0.0", "Accepts multiple `element` arguments."),
    ])),
    ("sadd", args(&[key("key", 0), string("member").multiple()]).history(&[
        ("2.4.0", "Accepts multiple `member` arguments."),
    ])),
    ("scan", args(&[
        integer("cursor"),
        pattern("pattern").token("MATCH").optional(),
        integer("count").token("COUNT").optional(),
        string("type").token("TYPE").since("6.0.0").optional(),
    ]).history(&[
        ("6.0.0", "Added the `TYPE` subcommand."),
    ])),
    ("scard", args(&[key("key", 0)])),
    ("script|exists", args(&[string("sha1").multiple()])),
    ("script|flush", args(&[
        oneof("async", &[
            pure_token("async", "ASYNC"),
            pure_token("sync", "SYNC"),
        ]).since("6.2.0").optional(),
    ]).history(&[
        ("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers."),
    ])),
    ("script|load", args(&[string("script")])),
    ("sdiff", args(&[key("key", 0).multiple()])),
    ("sdiffstore", args(&[key("destination", 0), key("key", 1).multiple()])),
    ("select", args(&[integer("index")])),
    ("set", args(&[
        key("key", 0),
        string("value"),
        oneof("condition", &[
            pure_token("nx", "NX"),
            pure_token("xx", "XX"),
        ]).since("2.6.12").optional(),
        pure_token("get", "GET").since("6.2.0").optional(),
        oneof("expiration", &[
            integer("seconds").token("EX").since("2.6.12"),
            integer("milliseconds").token("PX").since("2.6.12"),
            unix_time("unix-time-seconds").token("EXAT").since("6.2.0"),
            unix_time("unix-time-milliseconds").token("PXAT").since("6.2.0"),
            pure_token("keepttl", "KEEPTTL").since("6.0.0"),
        ]).optional(),
    ]).history(&[
        ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
        ("6.0.0", "Added the `KEEPTTL` option."),
        ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
        ("7.0.0", "Allowed the `NX` and `GET` options to be used together."),
    ])),
    ("setbit", args(&[key("key", 0), integer("offset"), integer("value")])),
    ("setex", args(&[key("key", 0), integer("seconds"), string("value")])),
    ("setnx", args(&[key("key", 0), string("value")])),
    ("setrange", args(&[key("key", 0), integer("offset"), string("value")])),
    ("shutdown", args(&[
        oneof("nosave_save", &[
            pure_token("nosave", "NOSAVE"),
            pure_token("save", "SAVE"),
        ]).optional(),
        pure_token("now", "NOW").since("7.0.0").optional(),
        pure_token("force", "FORCE").since("7.0.0").optional(),
        pure_token("abort", "ABORT").since("7.0.0").optional(),
    ]).history(&[
        ("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers."),
    ])),
    ("sinter", args(&[key("key", 0).multiple()])),
    ("sintercard", args(&[
        integer("numkeys"),
        key("key", 0).multiple(),
        integer("limit").token("LIMIT").optional(),
    ])),
    ("sinterstore", args(&[key("destination", 0), key("key", 1).multiple()])),
    ("sismember", args(&[key("key", 0), string("member")])),
    ("slowlog|get", args(&[integer("count").optional()]).history(&[
        ("4.0.0", "Added client IP address, port and name to the reply."),
    ])),
    ("smembers", args(&[key("key", 0)])),
    ("smismember", args(&[key("key", 0), string("member").multiple()])),
    ("smove", args(&[key("source", 0), key("destination", 1), string("member")])),
    ("sort", args(&[
        key("key", 0),
        pattern("pattern").key_spec(1).token("BY").optional(),
        block("offset_count", &[integer("offset"), integer("count")]).token("LIMIT").optional(),
        pattern("pattern").key_spec(1).token("GET").optional().multiple().multiple_token(),
        oneof("order", &[pure_token("asc", "ASC"), pure_token("desc", "DESC")]).optional(),
        pure_token("sorting", "ALPHA").optional(),
        key("destination", 2).token("STORE").optional(),
    ])),
    ("sort_ro", args(&[
        key("key", 0),
        pattern("pattern").key_spec(1).token("BY").optional(),
        block("offset_count", &[integer("offset"), integer("count")]).token("LIMIT").optional(),
        pattern("pattern").key_spec(1).token("GET").optional().multiple().multiple_token(),
        oneof("order", &[pure_token("asc", "ASC"), pure_token("desc", "DESC")]).optional(),
        pure_token("sorting", "ALPHA").optional(),
    ])),
    ("spop", args(&[key("key", 0), integer("count").since("3.2.0").optional()]).history(&[
        ("3.2.0", "Added the `count` argument."),
    ])),
    ("spublish", args(&[string("shardchannel"), string("message")])),
    ("srandmember", args(&[key("key", 0), integer("count").since("2.6.0").optional()]).history(&[
        ("2.6.0", "Added the optional `count` argument."),
    ])),
    ("srem", args(&[key("key", 0), string("member").multiple()]).history(&[
        ("2.4.0", "Accepts multiple `member` arguments."),
    ])),
    ("sscan", args(&[
        key("key", 0),
        integer("cursor"),
        pattern("pattern").token("MATCH").optional(),
        integer("count").token("COUNT").optional(),
    ])),
    ("ssubscribe", args(&[string("shardchannel").multiple()])),
    ("strlen", args(&[key("key", 0)])),
    ("subscribe", args(&[string("channel").multiple()])),
    ("substr", args(&[key("key", 0), integer("start"), integer("end")])
        .deprecated("2.0.0", "`GETRANGE`")),
    ("sunion", args(&[key("key", 0).multiple()])),
    ("sunionstore", args(&[key("destination", 0), key("key", 1).multiple()])),
    ("sunsubscribe", args(&[string("shardchannel").optional().multiple()])),
    ("swapdb", args(&[integer("index1"), integer("index2")])),
    ("touch", args(&[key("key", 0).multiple()])),
    ("ttl", args(&[key("key", 0)]).history(&[
        ("2.8.0", "Added the -2 reply."),
    ])),
    ("type", args(&[key("key", 0)])),
    ("unlink", args(&[key("key", 0).multiple()])),
    ("unsubscribe", args(&[string("channel").optional().multiple()])),
    ("watch", args(&[key("key", 0).multiple()])),
    ("xack", args(&[key("key", 0), string("group"), string("id").multiple()])),
    ("xadd", args(&[
        key("key", 0),
        pure_token("nomkstream", "NOMKSTREAM").since("6.2.0").optional(),
        block("trim", &[
            oneof("strategy", &[
                pure_token("maxlen", "MAXLEN"),
                pure_token("minid", "MINID").since("6.2.0"),
            ]),
            oneof("operator", &[
                pure_token("equal", "="),
                pure_token("approximately", "~"),
            ]).optional(),
            string("threshold"),
            integer("count").token("LIMIT").since("6.2.0").optional(),
        ]).optional(),
        oneof("id_or_auto", &[pure_token("auto_id", "*"), string("id")]),
        block("field_value", &[string("field"), string("value")]).multiple(),
    ]).history(&[
        ("6.2.0", concat!(
            "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` ",
            "option.",
        )),
        ("7.0.0", "Added support for the `<ms>-*` explicit ID form."),
    ])),
    ("xautoclaim", args(&[
        key("key", 0),
        string("group"),
        string("consumer"),
        string("min-idle-time"),
        string("start"),
        integer("count").token("COUNT").optional(),
        pure_token("justid", "JUSTID").optional(),
    ]).history(&[
        ("7.0.0", concat!(
            "Added an element to the reply array, containing deleted entries the command ",
            "cleared from the PEL",
        )),
    ])),
    ("xclaim", args(&[
        key("key", 0),
        string("group"),
        string("consumer"),
        string("min-idle-time"),
        string("id").multiple(),
        integer("ms").token("IDLE").optional(),
        unix_time("unix-time-milliseconds").token("TIME").optional(),
        integer("count").token("RETRYCOUNT").optional(),
        pure_token("force", "FORCE").optional(),
        pure_token("justid", "JUSTID").optional(),
        string("id").token("LASTID").optional(),
    ])),
    ("xdel", args(&[key("key", 0), string("id").multiple()])),
    ("xgroup|create", args(&[
        key("key", 0),
        string("groupname"),
        oneof("id", &[string("id"), pure_token("new_id", "$")]),
        pure_token("mkstream", "MKSTREAM").optional(),
        integer("entries_read").token("ENTRIESREAD").optional(),
    ]).history(&[
        ("7.0.0", "Added the `entries_read` named argument."),
    ])),
    ("xgroup|createconsumer", args(&[key("key", 0), string("groupname"), string("consumername")])),
    ("xgroup|delconsumer", args(&[key("key", 0), string("groupname"), string("consumername")])),
    ("xgroup|destroy", args(&[key("key", 0), string("groupname")])),
    ("xgroup|setid", args(&[
        key("key", 0),
        string("groupname"),
        oneof("id", &[string("id"), pure_token("new_id", "$")]),
        integer("entries_read").token("ENTRIESREAD").optional(),
    ]).history(&[
        ("7.0.0", "Added the optional `entries_read` argument."),
    ])),
    ("xinfo|consumers", args(&[key("key", 0), string("groupname")])),
    ("xinfo|groups", args(&[key("key", 0)]).history(&[
        ("7.0.0", "Added the `entries-read` and `lag` fields"),
    ])),
    ("xinfo|stream", args(&[
        key("key", 0),
        block("full", &[integer("count").token("COUNT").optional()]).token("FULL").optional(),
    ]).history(&[
        ("6.0.0", "Added the `FULL` modifier."),
        ("7.0.0", concat!(
            "Added the `max-deleted-entry-id`, `entries-added`, `recorded-first-entry-id`, ",
            "`entries-read` and `lag` fields",
        )),
    ])),
    ("xlen", args(&[key("key", 0)])),
    ("xpending", args(&[
        key("key", 0),
        string("group"),
        block("filters", &[
            integer("min-idle-time").token("IDLE").since("6.2.0").optional(),
            string("start"),
            string("end"),
            integer("count"),
            string("consumer").optional(),
        ]).optional(),
    ]).history(&[
        ("6.2.0", "Added the `IDLE` option and exclusive range intervals."),
    ])),
    ("xrange", args(&[
        key("key", 0),
        string("start"),
        string("end"),
        integer("count").token("COUNT").optional(),
    ]).history(&[
        ("6.2.0", "Added exclusive ranges."),
    ])),
    ("xread", args(&[
        integer("count").token("COUNT").optional(),
        integer("milliseconds").token("BLOCK").optional(),
        block("streams", &[key("key", 0).multiple(), string("id").multiple()]).token("STREAMS"),
    ])),
    ("xreadgroup", args(&[
        block("group_consumer", &[string("group"), string("consumer")]).token("GROUP"),
        integer("count").token("COUNT").optional(),
        integer("milliseconds").token("BLOCK").optional(),
        pure_token("noack", "NOACK").optional(),
        block("streams", &[key("key", 0).multiple(), string("id").multiple()]).token("STREAMS"),
    ])),
    ("xrevrange", args(&[
        key("key", 0),
        string("end"),
        string("start"),
        integer("count").token("COUNT").optional(),
    ]).history(&[
        ("6.2.0", "Added exclusive ranges."),
    ])),
    ("xsetid", args(&[
        key("key", 0),
        string("last-id"),
        integer("entries_added").token("ENTRIESADDED").since("7.0.0").optional(),
        string("max_deleted_entry_id").token("MAXDELETEDID").since("7.0.0").optional(),
    ]).history(&[
        ("7.0.0", "Added the `entries_added` and `max_deleted_entry_id` arguments."),
    ])),
    ("xtrim", args(&[
        key("key", 0),
        block("trim", &[
            oneof("strategy", &[
                pure_token("maxlen", "MAXLEN"),
                pure_token("minid", "MINID").since("6.2.0"),
            ]),
            oneof("operator", &[
                pure_token("equal", "="),
                pure_token("approximately", "~"),
            ]).optional(),
            string("threshold"),
            integer("count").token("LIMIT").since("6.2.0").optional(),
        ]),
    ]).history(&[
        ("6.2.0", "Added the `MINID` trimming strategy and the `LIMIT` option."),
    ])),
    ("zadd", args(&[
        key("key", 0),
        oneof("condition", &[
            pure_token("nx", "NX"),
            pure_token("xx", "XX"),
        ]).since("3.0.2").optional(),
        oneof("comparison", &[
            pure_token("gt", "GT"),
            pure_token("lt", "LT"),
        ]).since("6.2.0").optional(),
        pure_token("change", "CH").since("3.0.2").optional(),
        pure_token("increment", "INCR").since("3.0.2").optional(),
        block("score_member", &[double("score"), string("member")]).multiple(),
    ]).history(&[
        ("2.4.0", "Accepts multiple elements."),
        ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."),
        ("6.2.0", "Added the `GT` and `LT` options."),
    ])),
    ("zcard", args(&[key("key", 0)])),
    ("zcount", args(&[key("key", 0), double("min"), double("max")])),
    ("zdiff", args(&[
        integer("numkeys"),
        key("key", 0).multiple(),
        pure_token("withscores", "WITHSCORES").optional(),
    ])),
    ("zdiffstore", args(&[key("destination", 0), integer("numkeys"), key("key", 1).multiple()])),
    ("zincrby", args(&[key("key", 0), integer("increment"), string("member")])),
    ("zinter", args(&[
        integer("numkeys"),
        key("key", 0).multiple(),
        integer("weight").token("WEIGHTS").optional().multiple(),
        oneof("aggregate", &[
            pure_token("sum", "SUM"),
            pure_token("min", "MIN"),
            pure_token("max", "MAX"),
        ]).token("AGGREGATE").optional(),
        pure_token("withscores", "WITHSCORES").optional(),
    ])),
    ("zintercard", args(&[
        integer("numkeys"),
        key("key", 0).multiple(),
        integer("limit").token("LIMIT").optional(),
    ])),
    ("zinterstore", args(&[
        key("destination", 0),
        integer("numkeys"),
        key("key", 1).multiple(),
        integer("weight").token("WEIGHTS").optional().multiple(),
        oneof("aggregate", &[
            pure_token("sum", "SUM"),
            pure_token("min", "MIN"),
            pure_token("max", "MAX"),
        ]).token("AGGREGATE").optional(),
    ])),
    ("zlexcount", args(&[key("key", 0), string("min"), string("max")])),
    ("zmpop", args(&[
        integer("numkeys"),
        key("key", 0).multiple(),
        oneof("where", &[pure_token("min", "MIN"), pure_token("max", "MAX")]),
        integer("count").token("COUNT").optional(),
    ])),
    ("zmscore", args(&[key("key", 0), string("member").multiple()])),
    ("zpopmax", args(&[key("key", 0), integer("count").optional()])),
    ("zpopmin", args(&[key("key", 0), integer("count").optional()])),
    ("zrandmember", args(&[
        key("key", 0),
        block("options", &[
            integer("count"),
            pure_token("withscores", "WITHSCORES").optional(),
        ]).optional(),
    ])),
    ("zrange", args(&[
        key("key", 0),
        string("start"),
        string("stop"),
        oneof("sortby", &[
            pure_token("byscore", "BYSCORE"),
            pure_token("bylex", "BYLEX"),
        ]).since("6.2.0").optional(),
        pure_token("rev", "REV").since("6.2.0").optional(),
        block("offset_count", &[
            integer("offset"),
            integer("count"),
        ]).token("LIMIT").since("6.2.0").optional(),
        pure_token("withscores", "WITHSCORES").optional(),
    ]).history(&[
        ("6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options."),
    ])),
    ("zrangebylex", args(&[
        key("key", 0),
        string("min"),
        string("max"),
        block("offset_count", &[integer("offset"), integer("count")]).token("LIMIT").optional(),
    ]).deprecated("6.2.0", "`ZRANGE` with the `BYLEX` argument")),
    ("zrangebyscore", args(&[
        key("key", 0),
        double("min"),
        double("max"),
        pure_token("withscores", "WITHSCORES").since("2.0.0").optional(),
        block("offset_count", &[integer("offset"), integer("count")]).token("LIMIT").optional(),
    ]).history(&[
        ("2.0.0", "Added the `WITHSCORES` modifier."),
    ]).deprecated("6.2.0", "`ZRANGE` with the `BYSCORE` argument")),
    ("zrangestore", args(&[
        key("dst", 0),
        key("src", 1),
        string("min"),
        string("max"),
        oneof("sortby", &[
            pure_token("byscore", "BYSCORE"),
            pure_token("bylex", "BYLEX"),
        ]).optional(),
        pure_token("rev", "REV").optional(),
        block("offset_count", &[integer("offset"), integer("count")]).token("LIMIT").optional(),
    ])),
    ("zrank", args(&[key("key", 0), string("member")])),
    ("zrem", args(&[key("key", 0), string("member").multiple()]).history(&[
        ("2.4.0", "Accepts multiple elements."),
    ])),
    ("zremrangebylex", args(&[key("key", 0), string("min"), string("max")])),
    ("zremrangebyrank", args(&[key("key", 0), integer("start"), integer("stop")])),
    ("zremrangebyscore", args(&[key("key", 0), double("min"), double("max")])),
    ("zrevrange", args(&[
        key("key", 0),
        integer("start"),
        integer("stop"),
        pure_token("withscores", "WITHSCORES").optional(),
    ]).deprecated("6.2.0", "`ZRANGE` with the `REV` argument")),
    ("zrevrangebylex", args(&[
        key("key", 0),
        string("max"),
        string("min"),
        block("offset_count", &[integer("offset"), integer("count")]).token("LIMIT").optional(),
    ]).deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYLEX` arguments")),
    ("zrevrangebyscore", args(&[
        key("key", 0),
        double("max"),
        double("min"),
        pure_token("withscores", "WITHSCORES").optional(),
        block("offset_count", &[integer("offset"), integer("count")]).token("LIMIT").optional(),
    ]).history(&[
        ("2.1.6", "`min` and `max` can be exclusive."),
    ]).deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYSCORE` arguments")),
    ("zrevrank", args(&[key("key", 0), string("member")])),
    ("zscan", args(&[
        key("key", 0),
        integer("cursor"),
        pattern("pattern").token("MATCH").optional(),
        integer("count").token("COUNT").optional(),
    ])),
    ("zscore", args(&[key("key", 0), string("member")])),
    ("zunion", args(&[
        integer("numkeys"),
        key("key", 0).multiple(),
        integer("weight").token("WEIGHTS").optional().multiple(),
        oneof("aggregate", &[
            pure_token("sum", "SUM"),
            pure_token("min", "MIN"),
            pure_token("max", "MAX"),
        ]).token("AGGREGATE").optional(),
        pure_token("withscores", "WITHSCORES").optional(),
    ])),
    ("zunionstore", args(&[
        key("destination", 0),
        integer("numkeys"),
        key("key", 1).multiple(),
        integer("weight").token("WEIGHTS").optional().multiple(),
        oneof("aggregate", &[
            pure_token("sum", "SUM"),
            pure_token("min", "MIN"),
            pure_token("max", "MAX"),
        ]).token("AGGREGATE").optional(),
    ])),
];
// END generated

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::CommandTable;

    fn walk(args: &[Arg], visit: &mut impl FnMut(&Arg)) {
        for arg in args {
            visit(arg);
            walk(arg.args, visit);
        }
    }

    #[test]
    fn table_is_sorted_and_names_rows() {
        let table = CommandTable::new();
        for pair in EXTRA_DOCS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} out of order", pair[1].0);
        }
        for (name, docs) in EXTRA_DOCS {
            let (parent, sub) = name
                .split_once('|')
                .map_or((*name, None), |(p, s)| (p, Some(s)));
            let row = table.lookup(parent.as_bytes()).expect(name);
            let row = sub.map_or(Some(row), |s| CommandTable::subcommand(row, s.as_bytes()));
            let row = row.unwrap_or_else(|| panic!("{name} is not a table row"));
            walk(docs.args, &mut |arg| {
                assert_eq!(
                    arg.kind.nests(),
                    !arg.args.is_empty(),
                    "{name}: {}",
                    arg.name
                );
                // Keys name their key spec; a pattern may (SORT's BY and GET).
                if arg.kind != ArgType::Pattern {
                    assert_eq!(
                        arg.kind == ArgType::Key,
                        arg.key_spec_index.is_some(),
                        "{name}"
                    );
                }
                if let Some(index) = arg.key_spec_index {
                    assert!(usize::from(index) < row.keys.len(), "{name}: {}", arg.name);
                }
                if arg.kind == ArgType::PureToken {
                    assert!(arg.token.is_some(), "{name}: {}", arg.name);
                }
            });
            let deprecated = docs.doc_flags & docflag::DEPRECATED != 0;
            assert_eq!(deprecated, docs.deprecated_since.is_some(), "{name}");
            assert_eq!(deprecated, docs.replaced_by.is_some(), "{name}");
        }
    }

    #[test]
    fn lookup_by_full_name() {
        assert_eq!(extra_docs("set").args[0].name, "key");
        assert!(extra_docs("client|kill").history.len() > 1);
        assert!(extra_docs("client|id").args.is_empty());
        assert_eq!(extra_docs("getset").doc_flags, docflag::DEPRECATED);
        assert!(extra_docs("nosuch").args.is_empty());
    }
}
