//! Replies, independent of the wire version. `resp::encode` writes them as RESP2 or RESP3; the
//! RESP3 types (maps, sets, doubles, booleans, verbatim strings) degrade to RESP2 as Redis does.

use std::borrow::Cow;

use crate::error::CmdError;

#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+text`: OK, PONG, QUEUED, a TYPE name.
    Simple(Cow<'static, str>),
    Error(CmdError),
    Int(i64),
    Bulk(Vec<u8>),
    /// A missing bulk string: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// A missing array: `*-1` in RESP2, `_` in RESP3.
    NilArray,
    Array(Vec<Reply>),
    /// RESP3 map; a flat array of key, value, key, value… in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// Pairs sent as an array of 2-element arrays in RESP3 and as one flat array in RESP2
    /// (HRANDFIELD WITHVALUES; Redis writes such replies pair by pair).
    Pairs(Vec<(Reply, Reply)>),
    /// A RESP3 map sent as an array of 2-element arrays in RESP2 (XREAD, XREADGROUP).
    MapOrPairs(Vec<(Reply, Reply)>),
    /// RESP3 set; an array in RESP2.
    Set(Vec<Reply>),
    /// RESP3 double; a bulk string in RESP2.
    Double(f64),
    /// A RESP3 double already formatted (Redis's addReplyHumanLongDouble: GEOPOS coordinates);
    /// the same text as a bulk string in RESP2.
    DoubleText(Vec<u8>),
    /// RESP3 boolean; the integer 1 or 0 in RESP2.
    Bool(bool),
    /// RESP3 verbatim string with its three-letter format; a bulk string in RESP2.
    Verbatim {
        format: &'static str,
        text: Vec<u8>,
    },
    /// RESP3 push (pub/sub messages); an array in RESP2.
    Push(Vec<Reply>),
    /// Replies written back to back with no header: what one command answers with several
    /// frames (SUBSCRIBE a b) leaves inside an EXEC array, as in Redis.
    Frames(Vec<Reply>),
}

impl Reply {
    pub const OK: Reply = Reply::Simple(Cow::Borrowed("OK"));

    pub fn simple(text: &'static str) -> Reply {
        Reply::Simple(Cow::Borrowed(text))
    }

    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply::Bulk(bytes.into())
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_int(n: i64) -> Reply {
        Reply::Bulk(n.to_string().into_bytes())
    }

    pub fn opt_bulk(bytes: Option<Vec<u8>>) -> Reply {
        bytes.map_or(Reply::Nil, Reply::Bulk)
    }

    pub fn bulk_array<I, B>(items: I) -> Reply
    where
        I: IntoIterator<Item = B>,
        B: Into<Vec<u8>>,
    {
        Reply::Array(items.into_iter().map(|b| Reply::Bulk(b.into())).collect())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

impl From<CmdError> for Reply {
    fn from(err: CmdError) -> Reply {
        Reply::Error(err)
    }
}

impl From<Result<Reply, CmdError>> for Reply {
    fn from(result: Result<Reply, CmdError>) -> Reply {
        result.unwrap_or_else(Reply::Error)
    }
}
