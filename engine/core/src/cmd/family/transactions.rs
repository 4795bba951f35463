//! MULTI, EXEC, DISCARD, WATCH and UNWATCH: their rows. The node runs them (`multi.rs`): a
//! transaction spans connections, shards and the VLL queue, which live above the table.

use crate::cmd::{acl, flag, keyflag, CommandSpec, Docs, Exec, Family, KeySpec};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MultiCmd {
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
}

const NLS: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE;
const QUICK: u32 = NLS | flag::FAST | flag::ALLOW_BUSY;

const TRANSACTIONS: Family = Family {
    group: "transactions",
    acl: 0,
};

const fn row(
    name: &'static str,
    arity: i16,
    flags: u32,
    acl_cats: u32,
    keys: &'static [KeySpec],
    cmd: MultiCmd,
    docs: Docs,
) -> CommandSpec {
    TRANSACTIONS.row(name, arity, flags, acl_cats, keys, Exec::Multi(cmd), docs)
}

pub static SPECS: &[CommandSpec] = &[
    row(
        "multi",
        1,
        QUICK,
        acl::FAST | acl::TRANSACTION,
        &[],
        MultiCmd::Multi,
        TRANSACTIONS.docs("Mark the start of a transaction block", "1.2.0", "O(1)"),
    ),
    row(
        "exec",
        1,
        NLS | flag::SKIP_SLOWLOG,
        acl::SLOW | acl::TRANSACTION,
        &[],
        MultiCmd::Exec,
        TRANSACTIONS.docs(
            "Execute all commands issued after MULTI",
            "1.2.0",
            "Depends on commands in the transaction",
        ),
    ),
    row(
        "discard",
        1,
        QUICK,
        acl::FAST | acl::TRANSACTION,
        &[],
        MultiCmd::Discard,
        TRANSACTIONS.docs(
            "Discard all commands issued after MULTI",
            "2.0.0",
            "O(N), when N is the number of queued commands",
        ),
    ),
    row(
        "watch",
        -2,
        QUICK,
        acl::FAST | acl::TRANSACTION,
        &[KeySpec::all_from(keyflag::RO, 1, 1)],
        MultiCmd::Watch,
        TRANSACTIONS.docs(
            "Watch the given keys to determine execution of the MULTI/EXEC block",
            "2.2.0",
            "O(1) for every key.",
        ),
    ),
    row(
        "unwatch",
        1,
        QUICK,
        acl::FAST | acl::TRANSACTION,
        &[],
        MultiCmd::Unwatch,
        TRANSACTIONS.docs("Forget about all watched keys", "2.2.0", "O(1)"),
    ),
];
