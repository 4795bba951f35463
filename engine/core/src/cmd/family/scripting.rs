//! Scripting rows: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and the SCRIPT container (LOAD, EXISTS,
//! FLUSH, HELP), as Redis 7.0.15 lists them. The node runs them (`node::script`): a script
//! reaches every shard its calls touch, so no single shard can answer it.

use crate::cmd::{acl, flag, keyflag, CommandSpec, ConnCmd, Exec, Family, KeySpec};

/// How the node runs each scripting row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptCmd {
    Eval,
    EvalSha,
    EvalRo,
    EvalShaRo,
    Load,
    Exists,
    Flush,
    Help,
    /// SCRIPT KILL.
    Kill,
    FCall,
    FCallRo,
    Function(FunctionCmd),
}

/// The FUNCTION subcommands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionCmd {
    Load,
    List,
    Delete,
    Flush,
    Dump,
    Restore,
    Stats,
    Kill,
    Help,
}

impl ScriptCmd {
    /// FCALL and FCALL_RO: a loaded function runs rather than a body.
    pub fn calls_function(self) -> bool {
        matches!(self, ScriptCmd::FCall | ScriptCmd::FCallRo)
    }

    /// The body comes from the cache by SHA1 rather than from the arguments.
    pub fn by_sha(self) -> bool {
        matches!(self, ScriptCmd::EvalSha | ScriptCmd::EvalShaRo)
    }

    /// EVAL and its variants, the rows that name keys.
    pub fn runs_script(self) -> bool {
        matches!(
            self,
            ScriptCmd::Eval
                | ScriptCmd::EvalSha
                | ScriptCmd::EvalRo
                | ScriptCmd::EvalShaRo
                | ScriptCmd::FCall
                | ScriptCmd::FCallRo
        )
    }

    /// The `_RO` variants: every write inside is refused.
    pub fn read_only(self) -> bool {
        matches!(
            self,
            ScriptCmd::EvalRo | ScriptCmd::EvalShaRo | ScriptCmd::FCallRo
        )
    }
}

const SCRIPTING: Family = Family {
    group: "scripting",
    acl: acl::SCRIPTING,
};

/// `noscript stale skip_monitor no_mandatory_keys`: the EVAL rows (movablekeys is derived).
const EVAL_FLAGS: u32 = flag::NOSCRIPT | flag::STALE | flag::SKIP_MONITOR | flag::NO_MANDATORY_KEYS;
const EVAL_KEYS: &[KeySpec] = &[KeySpec {
    notes: "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
    ..KeySpec::keynum(keyflag::RW | keyflag::ACCESS | keyflag::UPDATE, 2, 0, 1, 1)
}];
const EVALSHA_KEYS: &[KeySpec] = &[KeySpec::keynum(
    keyflag::RW | keyflag::ACCESS | keyflag::UPDATE,
    2,
    0,
    1,
    1,
)];
const EVAL_RO_KEYS: &[KeySpec] = &[KeySpec {
    notes: "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
    ..KeySpec::keynum(keyflag::RO | keyflag::ACCESS, 2, 0, 1, 1)
}];
const EVALSHA_RO_KEYS: &[KeySpec] = &[KeySpec::keynum(keyflag::RO | keyflag::ACCESS, 2, 0, 1, 1)];
const BODY_COMPLEXITY: &str = "Depends on the script that is executed.";

#[allow(clippy::too_many_arguments)]
const fn script_row(
    name: &'static str,
    arity: i16,
    flags: u32,
    keys: &'static [KeySpec],
    cmd: ScriptCmd,
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
) -> CommandSpec {
    SCRIPTING.row(
        name,
        arity,
        flags,
        0,
        keys,
        Exec::Conn(ConnCmd::Script(cmd)),
        SCRIPTING.docs(summary, since, complexity),
    )
}

pub const SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    script_row(
        "script|exists",
        -3,
        flag::NOSCRIPT,
        &[],
        ScriptCmd::Exists,
        "Check existence of scripts in the script cache.",
        "2.6.0",
        "O(N) with N being the number of scripts to check (so checking a single script is an \
         O(1) operation).",
    ),
    script_row(
        "script|flush",
        -2,
        flag::NOSCRIPT,
        &[],
        ScriptCmd::Flush,
        "Remove all the scripts from the script cache.",
        "2.6.0",
        "O(N) with N being the number of scripts in cache",
    ),
    script_row(
        "script|load",
        3,
        flag::NOSCRIPT | flag::STALE,
        &[],
        ScriptCmd::Load,
        "Load the specified Lua script into the script cache.",
        "2.6.0",
        "O(N) with N being the length in bytes of the script body.",
    ),
    script_row(
        "script|kill",
        2,
        flag::NOSCRIPT | flag::ALLOW_BUSY,
        &[],
        ScriptCmd::Kill,
        "Kill the script currently in execution.",
        "2.6.0",
        "O(1)",
    ),
    script_row(
        "script|help",
        2,
        flag::LOADING | flag::STALE,
        &[],
        ScriptCmd::Help,
        "Show helpful text about the different subcommands",
        "5.0.0",
        "O(1)",
    ),
];

const fn function_row(
    name: &'static str,
    arity: i16,
    flags: u32,
    cmd: FunctionCmd,
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
) -> CommandSpec {
    script_row(
        name,
        arity,
        flags,
        &[],
        ScriptCmd::Function(cmd),
        summary,
        since,
        complexity,
    )
}

#[rustfmt::skip]
pub const FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    function_row("function|load", -3, flag::WRITE | flag::DENYOOM | flag::NOSCRIPT,
        FunctionCmd::Load, "Create a function with the given arguments (name, code, \
        description)", "7.0.0", "O(1) (considering compilation time is redundant)"),
    function_row("function|list", -2, flag::NOSCRIPT, FunctionCmd::List,
        "List information about all the functions", "7.0.0", "O(N) where N is the number \
        of functions"),
    function_row("function|delete", 3, flag::WRITE | flag::NOSCRIPT, FunctionCmd::Delete,
        "Delete a function by name", "7.0.0", "O(1)"),
    function_row("function|flush", -2, flag::WRITE | flag::NOSCRIPT, FunctionCmd::Flush,
        "Deleting all functions", "7.0.0", "O(N) where N is the number of functions deleted"),
    function_row("function|dump", 2, flag::NOSCRIPT, FunctionCmd::Dump,
        "Dump all functions into a serialized binary payload", "7.0.0", "O(N) where N is \
        the number of functions"),
    function_row("function|restore", -3, flag::WRITE | flag::DENYOOM | flag::NOSCRIPT,
        FunctionCmd::Restore, "Restore all the functions on the given payload", "7.0.0",
        "O(N) where N is the number of functions on the payload"),
    function_row("function|stats", 2, flag::NOSCRIPT | flag::ALLOW_BUSY, FunctionCmd::Stats,
        "Return information about the function currently running (name, description, \
        duration)", "7.0.0", "O(1)"),
    function_row("function|kill", 2, flag::NOSCRIPT | flag::ALLOW_BUSY, FunctionCmd::Kill,
        "Kill the function currently in execution.", "7.0.0", "O(1)"),
    function_row("function|help", 2, flag::LOADING | flag::STALE, FunctionCmd::Help,
        "Show helpful text about the different subcommands", "7.0.0", "O(1)"),
];

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    script_row("eval", -3, EVAL_FLAGS, EVAL_KEYS, ScriptCmd::Eval,
        "Execute a Lua script server side", "2.6.0", BODY_COMPLEXITY),
    script_row("evalsha", -3, EVAL_FLAGS, EVALSHA_KEYS, ScriptCmd::EvalSha,
        "Execute a Lua script server side", "2.6.0", BODY_COMPLEXITY),
    script_row("eval_ro", -3, EVAL_FLAGS | flag::READONLY, EVAL_RO_KEYS, ScriptCmd::EvalRo,
        "Execute a read-only Lua script server side", "7.0.0", BODY_COMPLEXITY),
    script_row("evalsha_ro", -3, EVAL_FLAGS | flag::READONLY, EVALSHA_RO_KEYS,
        ScriptCmd::EvalShaRo, "Execute a read-only Lua script server side", "7.0.0",
        BODY_COMPLEXITY),
    script_row("fcall", -3, EVAL_FLAGS, EVAL_KEYS, ScriptCmd::FCall,
        "Invoke a function", "7.0.0", "Depends on the function that is executed."),
    script_row("fcall_ro", -3, EVAL_FLAGS | flag::READONLY, EVAL_RO_KEYS, ScriptCmd::FCallRo,
        "Invoke a read-only function", "7.0.0", "Depends on the function that is executed."),
    CommandSpec {
        acl: 0,
        ..SCRIPTING.container("function", -2, 0, 0, FUNCTION_SUBCOMMANDS,
            SCRIPTING.docs("A container for function commands", "7.0.0",
            "Depends on subcommand."))
    },
    CommandSpec {
        acl: 0,
        ..SCRIPTING.container("script", -2, 0, 0, SCRIPT_SUBCOMMANDS,
            SCRIPTING.docs("A container for Lua scripts management commands", "2.6.0",
            "Depends on subcommand."))
    },
];

/// SCRIPT HELP's lines, word for word as Redis 7.0.15 prints them (its text names DEBUG and
/// KILL, which are not in our table).
pub const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];
