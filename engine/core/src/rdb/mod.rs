//! Redis's RDB format: the codec of snapshot files and of DUMP/RESTORE payloads, byte for byte
//! what redis-server 7.0 writes (RDB version 10), and a reader of versions 1 through 12 (Redis
//! up to 7.4) with every encoding they contain.
//!
//! Writing (`encode`): free functions appending to a caller's buffer, with no state of their own,
//! so that each shard can serialize its part of a snapshot in chunks and a sink can concatenate
//! the chunks and run the checksum (`Crc64`) over them. A file is `write_header`, then per
//! database `write_select_db`, `write_resize_db` and `write_entry` per key, then `write_eof`.
//!
//! Reading (`file::RdbReader`): resumable; bytes are pushed as they arrive and records come out
//! one at a time, `Ok(None)` meaning "push more". Values come out built in OUR encodings under
//! OUR thresholds (`CollectionLimits`): the file's encoding says how the bytes are laid out, not
//! what the value becomes. Everything is checked as Redis's `sanitize-dump-payload yes` does
//! (and more: every packed blob is walked in full), every length is checked against the bytes
//! at hand before use, and nothing is allocated from a length the input has not backed; so a
//! corrupt input is an error, never a panic or an unbounded allocation.
//!
//! DUMP payloads (`dump_payload`, `parse_dump_payload`) are one value's encoding, the RDB
//! version (2 bytes, little-endian) and the CRC-64 of all that (8 bytes, little-endian).
//! `digest` computes DEBUG DIGEST and DEBUG DIGEST-VALUE as redis-server 7.0 does.

mod crc64;
mod decode;
pub mod digest;
mod encode;
mod file;
mod intset;
mod listpack;
mod lzf;
mod ziplist;
mod zipmap;

pub use crc64::Crc64;
pub use decode::{parse_dump_payload, Decoded, LoadCx, DUMP_VERSION_MAX};
pub use decode::{parse_functions_payload, FunctionsPayloadError};
pub use encode::functions_payload;
pub use encode::{
    dump_payload, write_aux, write_entry, write_entry_with, write_eof, write_freq, write_header,
    write_idle, write_resize_db, write_select_db, EncodeOptions,
};
pub use file::{RdbReader, Record};

/// The version we write, redis-server 7.0's.
pub const RDB_VERSION: u16 = 10;
/// The newest version we read (Redis 7.4).
pub const RDB_VERSION_READ_MAX: u16 = 12;
/// RDB files open with this and the version as four ASCII digits.
pub const MAGIC: &[u8; 5] = b"REDIS";

/// Value type bytes (RDB_TYPE_*).
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
    /// Redis 7.4's hashes with field TTLs (pre-GA and GA forms): refused.
    pub const HASH_METADATA_PRE_GA: u8 = 22;
    pub const HASH_LISTPACK_EX_PRE_GA: u8 = 23;
    pub const HASH_METADATA: u8 = 24;
    pub const HASH_LISTPACK_EX: u8 = 25;
}

/// Opcodes between values (RDB_OPCODE_*).
pub mod opcodes {
    pub const SLOT_INFO: u8 = 244;
    pub const FUNCTION_2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZE_DB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECT_DB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Why an RDB input was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RdbError {
    /// The input ended inside a record: a payload cut short, or a file whose end came first.
    Truncated,
    /// A file that does not open with `REDIS` and four digits.
    BadMagic,
    /// A version this reader does not know.
    Version(u16),
    /// The trailer's CRC-64 is not the checksum of the bytes before it.
    Checksum { stored: u64, computed: u64 },
    /// Bytes that break the format; says what was wrong.
    Corrupt(&'static str),
    /// Valid RDB that holds what we do not support (modules, functions, field TTLs).
    Unsupported(&'static str),
}

impl std::fmt::Display for RdbError {
    /// The texts of Redis's loader log where it has one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RdbError::Truncated => write!(f, "Short read or OOM loading DB"),
            RdbError::BadMagic => write!(f, "Wrong signature trying to load DB from file"),
            RdbError::Version(v) => write!(f, "Can't handle RDB format version {v}"),
            RdbError::Checksum { stored, computed } => write!(
                f,
                "Wrong RDB checksum expected: ({computed:x}) got ({stored:x})"
            ),
            RdbError::Corrupt(why) => write!(f, "Bad RDB data: {why}"),
            RdbError::Unsupported(what) => write!(f, "Unsupported in RDB: {what}"),
        }
    }
}

impl std::error::Error for RdbError {}

#[cfg(test)]
mod tests;
