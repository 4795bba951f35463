//! Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBEs, PUBLISH, SPUBLISH and
//! PUBSUB's introspection: their rows. Subscriptions belong to connections and a message
//! crosses threads to reach them, so the node runs every one of these (`node/pubsub.rs`; the
//! design, and why PUBLISH fans out as it does, is in `papers/pubsub.md`).
//!
//! SSUBSCRIBE, SUNSUBSCRIBE and SPUBLISH carry Redis's `not_key` key specs: cluster mode routes
//! shard channels as keys, but no shard holds them, so they never reach a shard here.

use crate::cmd::{flag, keyflag, CommandSpec, ConnCmd, Docs, Exec, Family, KeySpec, NodeCmd};

/// The subscription commands: they change the calling connection's subscriptions and this
/// thread's registry of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubCmd {
    Subscribe,
    Unsubscribe,
    PSubscribe,
    PUnsubscribe,
    SSubscribe,
    SUnsubscribe,
}

const PUBSUB: Family = Family {
    group: "pubsub",
    acl: 0,
};

/// `pubsub noscript loading stale`: the (un)subscribe rows.
const SUB_FLAGS: u32 = flag::PUBSUB | flag::NOSCRIPT | flag::LOADING | flag::STALE;
/// `pubsub loading stale fast`: PUBLISH and SPUBLISH.
const PUBLISH_FLAGS: u32 = flag::PUBSUB | flag::LOADING | flag::STALE | flag::FAST;
/// `pubsub loading stale`: PUBSUB's introspection subcommands.
const INTROSPECT_FLAGS: u32 = flag::PUBSUB | flag::LOADING | flag::STALE;

const SHARD_CHANNELS: &[KeySpec] = &[KeySpec::all_from(keyflag::NOT_KEY, 1, 1)];
const SHARD_CHANNEL: &[KeySpec] = &[KeySpec::one(keyflag::NOT_KEY, 1)];

const fn docs(summary: &'static str, since: &'static str, complexity: &'static str) -> Docs {
    PUBSUB.docs(summary, since, complexity)
}

const fn sub_row(
    name: &'static str,
    arity: i16,
    keys: &'static [KeySpec],
    cmd: SubCmd,
    docs: Docs,
) -> CommandSpec {
    PUBSUB.row(name, arity, SUB_FLAGS, 0, keys, Exec::PubSub(cmd), docs)
}

const fn node_row(
    name: &'static str,
    arity: i16,
    flags: u32,
    keys: &'static [KeySpec],
    cmd: NodeCmd,
    docs: Docs,
) -> CommandSpec {
    PUBSUB.row(name, arity, flags, 0, keys, Exec::Node(cmd), docs)
}

pub static SPECS: &[CommandSpec] = &[
    sub_row(
        "subscribe",
        -2,
        &[],
        SubCmd::Subscribe,
        docs(
            "Listen for messages published to the given channels",
            "2.0.0",
            "O(N) where N is the number of channels to subscribe to.",
        ),
    ),
    sub_row(
        "unsubscribe",
        -1,
        &[],
        SubCmd::Unsubscribe,
        docs(
            "Stop listening for messages posted to the given channels",
            "2.0.0",
            "O(N) where N is the number of clients already subscribed to a channel.",
        ),
    ),
    sub_row(
        "psubscribe",
        -2,
        &[],
        SubCmd::PSubscribe,
        docs(
            "Listen for messages published to channels matching the given patterns",
            "2.0.0",
            "O(N) where N is the number of patterns the client is already subscribed to.",
        ),
    ),
    sub_row(
        "punsubscribe",
        -1,
        &[],
        SubCmd::PUnsubscribe,
        docs(
            "Stop listening for messages posted to channels matching the given patterns",
            "2.0.0",
            "O(N+M) where N is the number of patterns the client is already subscribed and M is \
             the number of total patterns subscribed in the system (by any client).",
        ),
    ),
    sub_row(
        "ssubscribe",
        -2,
        SHARD_CHANNELS,
        SubCmd::SSubscribe,
        docs(
            "Listen for messages published to the given shard channels",
            "7.0.0",
            "O(N) where N is the number of shard channels to subscribe to.",
        ),
    ),
    sub_row(
        "sunsubscribe",
        -1,
        SHARD_CHANNELS,
        SubCmd::SUnsubscribe,
        docs(
            "Stop listening for messages posted to the given shard channels",
            "7.0.0",
            "O(N) where N is the number of clients already subscribed to a shard channel.",
        ),
    ),
    node_row(
        "publish",
        3,
        PUBLISH_FLAGS,
        &[],
        NodeCmd::Publish,
        docs(
            "Post a message to a channel",
            "2.0.0",
            "O(N+M) where N is the number of clients subscribed to the receiving channel and M \
             is the total number of subscribed patterns (by any client).",
        ),
    ),
    node_row(
        "spublish",
        3,
        PUBLISH_FLAGS,
        SHARD_CHANNEL,
        NodeCmd::SPublish,
        docs(
            "Post a message to a shard channel",
            "7.0.0",
            "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        ),
    ),
    PUBSUB.container(
        "pubsub",
        -2,
        0,
        0,
        PUBSUB_SUBCOMMANDS,
        docs(
            "A container for Pub/Sub commands",
            "2.8.0",
            "Depends on subcommand.",
        ),
    ),
];

pub const PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    node_row(
        "pubsub|channels",
        -2,
        INTROSPECT_FLAGS,
        &[],
        NodeCmd::PubSubChannels,
        docs(
            "List active channels",
            "2.8.0",
            "O(N) where N is the number of active channels, and assuming constant time pattern \
             matching (relatively short channels and patterns)",
        ),
    ),
    node_row(
        "pubsub|numsub",
        -2,
        INTROSPECT_FLAGS,
        &[],
        NodeCmd::PubSubNumSub,
        docs(
            "Get the count of subscribers for channels",
            "2.8.0",
            "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        ),
    ),
    node_row(
        "pubsub|numpat",
        2,
        INTROSPECT_FLAGS,
        &[],
        NodeCmd::PubSubNumPat,
        docs(
            "Get the count of unique patterns pattern subscriptions",
            "2.8.0",
            "O(1)",
        ),
    ),
    node_row(
        "pubsub|shardchannels",
        -2,
        INTROSPECT_FLAGS,
        &[],
        NodeCmd::PubSubShardChannels,
        docs(
            "List active shard channels",
            "7.0.0",
            "O(N) where N is the number of active shard channels, and assuming constant time \
             pattern matching (relatively short shard channels).",
        ),
    ),
    node_row(
        "pubsub|shardnumsub",
        -2,
        INTROSPECT_FLAGS,
        &[],
        NodeCmd::PubSubShardNumSub,
        docs(
            "Get the count of subscribers for shard channels",
            "7.0.0",
            "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard \
             channels",
        ),
    ),
    PUBSUB.row(
        "pubsub|help",
        2,
        flag::LOADING | flag::STALE,
        0,
        &[],
        Exec::Conn(ConnCmd::PubSubHelp),
        docs(
            "Show helpful text about the different subcommands",
            "6.2.0",
            "O(1)",
        ),
    ),
];

/// PUBSUB HELP's lines, as Redis 7.0 prints them.
pub const HELP_LINES: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];
