//! The text protocol's decoder: memcached 1.6's `process_command_ascii` and the storage
//! commands' data read (`conn_nread`, `conn_swallow`) as a state machine over an owned buffer.
//! Any split of a byte stream into `feed` calls yields the same requests, answers and close.

use super::{
    meta, parse_i32, parse_u32_truncating, parse_u64, Head, Op, GET_LINE_LEN_MAX_BYTES,
    ITEM_FLAGS_BYTES, ITEM_HEADER_BYTES, KEY_LEN_MAX_BYTES, LINE_LEN_MAX_BYTES, LINE_TOKENS_MAX,
    LONG_LINE_LEADING_SPACES_MAX,
};
use crate::argv::Argv;

/// Consumed input is dropped once it is at least this much and outweighs what must move.
const COMPACT_MIN_BYTES: usize = 16 * 1024;

/// What the decoder found next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A request, in the caller's `Argv` (see the module doc of `memcache`).
    Request,
    /// More bytes are needed.
    NeedMore,
    /// The request was refused before it ran: answer `line` unless `silent` (its `noreply`).
    Refused { line: &'static str, silent: bool },
    /// Close the connection without an answer (garbage, or `HTTP/…`).
    Close,
}

/// Where the decoder is between `feed`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Line,
    /// A storage command's data block: `len_bytes` of data plus `\r\n`; argv holds the head
    /// and the key.
    Data { len_bytes: usize, noreply: bool },
    /// Dropping the data block of a refused storage command.
    Swallow { left_bytes: usize },
}

pub struct Decoder {
    buf: Vec<u8>,
    pos: usize,
    state: State,
    item_size_max_bytes: usize,
    /// The storage request whose data block is awaited (head and key).
    pending: Argv,
}

impl Decoder {
    pub fn new(item_size_max_bytes: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            pos: 0,
            state: State::Line,
            item_size_max_bytes,
            pending: Argv::new(),
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos >= COMPACT_MIN_BYTES && self.pos >= self.buf.len() - self.pos {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet returned as requests.
    pub fn buffered_len_bytes(&self) -> usize {
        self.buf.len() - self.pos + self.pending.bytes_len()
    }

    /// `next_into` with refusals and closes as requests too (`Op::Refuse`, `Op::Close`), so
    /// they keep their place among the requests: true when `argv` holds one.
    pub fn next_request_into(&mut self, argv: &mut Argv) -> bool {
        match self.next_into(argv) {
            Decoded::Request => true,
            Decoded::NeedMore => false,
            Decoded::Refused { line, silent } => {
                let mut head = Head::new(Op::Refuse);
                head.noreply = silent;
                request(head, &[line.as_bytes()], argv);
                true
            }
            Decoded::Close => {
                request(Head::new(Op::Close), &[], argv);
                true
            }
        }
    }

    /// The next request into `argv` (whose buffers it reuses), or what else came.
    pub fn next_into(&mut self, argv: &mut Argv) -> Decoded {
        loop {
            match self.state {
                State::Line => {
                    let decoded = self.next_line(argv);
                    // A storage line: its data block may be buffered already.
                    if decoded != Decoded::NeedMore || self.state == State::Line {
                        return decoded;
                    }
                }
                State::Data { len_bytes, noreply } => return self.data(argv, len_bytes, noreply),
                State::Swallow { left_bytes } => {
                    let taken = left_bytes.min(self.buf.len() - self.pos);
                    self.pos += taken;
                    if taken < left_bytes {
                        self.state = State::Swallow {
                            left_bytes: left_bytes - taken,
                        };
                        return Decoded::NeedMore;
                    }
                    self.state = State::Line;
                }
            }
        }
    }

    fn next_line(&mut self, argv: &mut Argv) -> Decoded {
        let rest = &self.buf[self.pos..];
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            return self.partial_line();
        };
        let mut line_end = lf;
        if line_end > 0 && rest[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        let start = self.pos;
        self.pos += lf + 1;
        let line = &self.buf[start..start + line_end];
        let mut data = DataRead {
            state: &mut self.state,
            pending: &mut self.pending,
            item_size_max_bytes: self.item_size_max_bytes,
        };
        command(line, &mut data, argv)
    }

    /// No `\n` yet: wait, unless the line is already too long to be a command (memcached lets
    /// only a multiget run long).
    fn partial_line(&mut self) -> Decoded {
        let rest = &self.buf[self.pos..];
        if rest.len() <= LINE_LEN_MAX_BYTES {
            return Decoded::NeedMore;
        }
        let spaces = rest.iter().take_while(|&&b| b == b' ').count();
        let word = &rest[spaces..];
        let multiget = word.starts_with(b"get ") || word.starts_with(b"gets ");
        if spaces > LONG_LINE_LEADING_SPACES_MAX || !multiget || rest.len() > GET_LINE_LEN_MAX_BYTES
        {
            self.pos = self.buf.len();
            return Decoded::Close;
        }
        Decoded::NeedMore
    }

    fn data(&mut self, argv: &mut Argv, len_bytes: usize, noreply: bool) -> Decoded {
        let block_len = len_bytes + 2;
        if self.buf.len() - self.pos < block_len {
            return Decoded::NeedMore;
        }
        let block = &self.buf[self.pos..self.pos + block_len];
        self.pos += block_len;
        self.state = State::Line;
        if &block[len_bytes..] != b"\r\n" {
            self.pending.clear();
            return refused(BAD_CHUNK, noreply);
        }
        std::mem::swap(argv, &mut self.pending);
        self.pending.clear();
        argv.push(&block[..len_bytes]);
        Decoded::Request
    }
}

/// Where a storage command's line leaves the decoder: awaiting its data block, or
/// swallowing it.
struct DataRead<'a> {
    state: &'a mut State,
    pending: &'a mut Argv,
    item_size_max_bytes: usize,
}

fn command(bytes: &[u8], data: &mut DataRead<'_>, argv: &mut Argv) -> Decoded {
    let tokens: Vec<&[u8]> = bytes
        .split(|&b| b == b' ')
        .filter(|t| !t.is_empty())
        .collect();
    // memcached counts a terminal token after the words.
    let ntokens = tokens.len() + 1;
    let Some(&name) = tokens.first() else {
        return refused(ERROR, false);
    };
    if name.len() < 2 {
        return refused(ERROR, false);
    }
    if name.len() == 2 && name[0] == b'm' {
        let (decoded, block) = meta::command(name[1], &tokens, argv);
        match block {
            Some((len_bytes, false)) => {
                let key_len = argv.get(1).map_or(0, <[u8]>::len);
                let item_bytes = ITEM_HEADER_BYTES + key_len + 1 + len_bytes + 2;
                if item_bytes > data.item_size_max_bytes {
                    *data.state = State::Swallow {
                        left_bytes: len_bytes + 2,
                    };
                    // Whatever its mode, an `ms` too large unlinks the old item (memcached
                    // leaves no stale value after a failed store).
                    let key = argv[1].to_vec();
                    return request(Head::new(Op::SetTooLarge), &[&key], argv);
                }
                std::mem::swap(data.pending, argv);
                *data.state = State::Data {
                    len_bytes,
                    noreply: false,
                };
            }
            Some((len_bytes, true)) => {
                *data.state = State::Swallow {
                    left_bytes: len_bytes + 2,
                };
            }
            None => {}
        }
        return decoded;
    }
    match name {
        b"get" | b"gets" | b"gat" | b"gats" => {
            if ntokens < 3 {
                return refused(ERROR, false);
            }
            let op = match name {
                b"gets" => Op::Gets,
                b"gat" => Op::Gat,
                b"gats" => Op::Gats,
                _ => Op::Get,
            };
            retrieval(op, &tokens, argv)
        }
        b"set" | b"add" | b"replace" | b"append" | b"prepend" if matches!(ntokens, 6 | 7) => {
            let op = match name {
                b"set" => Op::Set,
                b"add" => Op::Add,
                b"replace" => Op::Replace,
                b"append" => Op::Append,
                _ => Op::Prepend,
            };
            storage(data, op, &tokens, argv)
        }
        b"cas" if matches!(ntokens, 7 | 8) => storage(data, Op::Cas, &tokens, argv),
        b"incr" | b"decr" if matches!(ntokens, 4 | 5) => {
            let op = if name == b"incr" { Op::Incr } else { Op::Decr };
            arithmetic(op, &tokens, argv)
        }
        b"delete" if (3..=5).contains(&ntokens) => delete(&tokens, argv),
        b"touch" if matches!(ntokens, 4 | 5) => touch(&tokens, argv),
        b"flush_all" if (2..=4).contains(&ntokens) => flush_all(&tokens, argv),
        b"verbosity" if matches!(ntokens, 3 | 4) => verbosity(&tokens, argv),
        b"version" => request(Head::new(Op::Version), &[], argv),
        b"quit" => request(Head::new(Op::Quit), &[], argv),
        b"shutdown" => refused(SHUTDOWN_DISABLED, false),
        b"stats" => request(Head::new(Op::Stats), &tokens[1..], argv),
        _ if tokens.last().is_some_and(|t| t.starts_with(b"HTTP/")) => Decoded::Close,
        _ => refused(ERROR, false),
    }
}

/// set/add/replace/append/prepend/cas: the line is read; the data block follows.
fn storage(data: &mut DataRead<'_>, op: Op, tokens: &[&[u8]], argv: &mut Argv) -> Decoded {
    let noreply = ends_in_noreply(tokens);
    let key = tokens[1];
    let bad = refused(BAD_FORMAT, noreply);
    if key.len() > KEY_LEN_MAX_BYTES {
        return bad;
    }
    let (Some(flags), Some(exptime_s), Some(len)) = (
        parse_u32_truncating(tokens[2]),
        parse_i32(tokens[3]),
        parse_i32(tokens[4]),
    ) else {
        return bad;
    };
    let mut head = Head::new(op);
    if op == Op::Cas {
        let Some(cas) = parse_u64(tokens[5]) else {
            return bad;
        };
        head.number = cas;
    }
    let Ok(len_bytes) = usize::try_from(len) else {
        return bad;
    };
    if len > i32::MAX - 2 {
        return bad;
    }
    head.noreply = noreply;
    head.flags = flags;
    head.exptime_s = i64::from(exptime_s);
    let flags_bytes = if flags == 0 { 0 } else { ITEM_FLAGS_BYTES };
    let item_bytes = ITEM_HEADER_BYTES + flags_bytes + key.len() + 1 + len_bytes + 2;
    if item_bytes > data.item_size_max_bytes {
        *data.state = State::Swallow {
            left_bytes: len_bytes + 2,
        };
        if op == Op::Set {
            // The old item goes too (no stale data after a failed set), and the shard
            // answers the error.
            let mut refusal = Head::new(Op::SetTooLarge);
            refusal.noreply = noreply;
            return request(refusal, &[key], argv);
        }
        return refused(TOO_LARGE, noreply);
    }
    data.pending.clear();
    data.pending.push(&head.encode());
    data.pending.push(key);
    *data.state = State::Data { len_bytes, noreply };
    Decoded::NeedMore
}

pub(super) const ERROR: &str = "ERROR";
pub(super) const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format";
const BAD_CHUNK: &str = "CLIENT_ERROR bad data chunk";
const TOO_LARGE: &str = "SERVER_ERROR object too large for cache";
const BAD_EXPTIME: &str = "CLIENT_ERROR invalid exptime argument";
const BAD_DELTA: &str = "CLIENT_ERROR invalid numeric delta argument";
/// memcached answers this unless started with -A; Damselfly stops through RESP's SHUTDOWN.
const SHUTDOWN_DISABLED: &str = "ERROR: shutdown not enabled";
const DELETE_USAGE: &str = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";

pub(super) fn refused(line: &'static str, silent: bool) -> Decoded {
    Decoded::Refused { line, silent }
}

/// Fills `argv` with `head` and `args`.
pub(super) fn request(head: Head, args: &[&[u8]], argv: &mut Argv) -> Decoded {
    argv.clear();
    argv.push(&head.encode());
    for arg in args {
        argv.push(arg);
    }
    Decoded::Request
}

/// memcached's `set_noreply_maybe`: the last word is `noreply`.
fn ends_in_noreply(tokens: &[&[u8]]) -> bool {
    tokens.last().is_some_and(|t| *t == b"noreply")
}

/// get/gets (keys from token 1) and gat/gats (exptime, then keys). Any key too long fails the
/// whole request, with nothing of it answered.
fn retrieval(op: Op, tokens: &[&[u8]], argv: &mut Argv) -> Decoded {
    let mut head = Head::new(op);
    let mut keys = &tokens[1..];
    if matches!(op, Op::Gat | Op::Gats) {
        let Some(exptime_s) = parse_i32(tokens[1]) else {
            return refused(BAD_EXPTIME, false);
        };
        head.exptime_s = i64::from(exptime_s);
        keys = &tokens[2..];
    }
    if keys.iter().any(|k| k.len() > KEY_LEN_MAX_BYTES) {
        return refused(BAD_FORMAT, false);
    }
    request(head, keys, argv)
}

fn arithmetic(op: Op, tokens: &[&[u8]], argv: &mut Argv) -> Decoded {
    let noreply = ends_in_noreply(tokens);
    if tokens[1].len() > KEY_LEN_MAX_BYTES {
        return refused(BAD_FORMAT, noreply);
    }
    let Some(delta) = parse_u64(tokens[2]) else {
        return refused(BAD_DELTA, noreply);
    };
    let mut head = Head::new(op);
    head.noreply = noreply;
    head.number = delta;
    request(head, &[tokens[1]], argv)
}

fn delete(tokens: &[&[u8]], argv: &mut Argv) -> Decoded {
    let ntokens = tokens.len() + 1;
    let mut noreply = false;
    if ntokens > 3 {
        let hold_is_zero = tokens[2] == b"0";
        noreply = ends_in_noreply(tokens);
        let valid = (ntokens == 4 && (hold_is_zero || noreply))
            || (ntokens == 5 && hold_is_zero && noreply);
        if !valid {
            return refused(DELETE_USAGE, noreply);
        }
    }
    if tokens[1].len() > KEY_LEN_MAX_BYTES {
        return refused(BAD_FORMAT, noreply);
    }
    let mut head = Head::new(Op::Delete);
    head.noreply = noreply;
    request(head, &[tokens[1]], argv)
}

fn touch(tokens: &[&[u8]], argv: &mut Argv) -> Decoded {
    let noreply = ends_in_noreply(tokens);
    if tokens[1].len() > KEY_LEN_MAX_BYTES {
        return refused(BAD_FORMAT, noreply);
    }
    let Some(exptime_s) = parse_i32(tokens[2]) else {
        return refused(BAD_EXPTIME, noreply);
    };
    let mut head = Head::new(Op::Touch);
    head.noreply = noreply;
    head.exptime_s = i64::from(exptime_s);
    request(head, &[tokens[1]], argv)
}

fn flush_all(tokens: &[&[u8]], argv: &mut Argv) -> Decoded {
    let noreply = ends_in_noreply(tokens);
    let mut head = Head::new(Op::FlushAll);
    head.noreply = noreply;
    let bare_ntokens = if noreply { 3 } else { 2 };
    if tokens.len() + 1 != bare_ntokens {
        let Some(delay_s) = parse_i32(tokens[1]) else {
            return refused(BAD_EXPTIME, noreply);
        };
        head.exptime_s = i64::from(delay_s);
    }
    request(head, &[], argv)
}

fn verbosity(tokens: &[&[u8]], argv: &mut Argv) -> Decoded {
    let noreply = ends_in_noreply(tokens);
    if parse_u32_truncating(tokens[1]).is_none() {
        return refused(BAD_FORMAT, noreply);
    }
    let mut head = Head::new(Op::Verbosity);
    head.noreply = noreply;
    request(head, &[], argv)
}

/// memcached tokenizes at most `LINE_TOKENS_MAX` tokens; no command but `get` takes that many,
/// so counting them all answers the same.
const _: () = assert!(LINE_TOKENS_MAX > 8);

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], chunk: usize) -> Vec<String> {
        let mut decoder = Decoder::new(super::super::ITEM_SIZE_MAX_BYTES_DEFAULT);
        let mut argv = Argv::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            decoder.feed(piece);
            loop {
                match decoder.next_into(&mut argv) {
                    Decoded::NeedMore => break,
                    Decoded::Request => {
                        let head = Head::decode(&argv[0]).unwrap();
                        let args: Vec<String> = argv
                            .iter()
                            .skip(1)
                            .map(|a| String::from_utf8_lossy(a).into_owned())
                            .collect();
                        out.push(format!("{:?} {}", head.op, args.join(",")));
                    }
                    Decoded::Refused { line, silent } => out.push(format!("{line} {silent}")),
                    Decoded::Close => {
                        out.push("close".into());
                        return out;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn any_split_decodes_the_same() {
        let input = b"set a 1 0 3\r\nabc\r\nget a b\nset b 0 0 2 noreply\r\nabc\r\n\
            incr a 1\r\ndelete a 0 noreply\r\nbogus\r\nset a 0 0 -1\r\ngat x a\r\n";
        let whole = decode_all(input, input.len());
        assert_eq!(
            whole,
            [
                "Set a,abc",
                "Get a,b",
                "CLIENT_ERROR bad data chunk true",
                "ERROR false",
                "Incr a",
                "Delete a",
                "ERROR false",
                "CLIENT_ERROR bad command line format false",
                "CLIENT_ERROR invalid exptime argument false",
            ]
        );
        for chunk in 1..input.len() {
            assert_eq!(decode_all(input, chunk), whole, "chunk {chunk}");
        }
    }

    #[test]
    fn too_large_items_are_swallowed() {
        let max = super::super::ITEM_SIZE_MAX_BYTES_DEFAULT;
        let fits = max - ITEM_HEADER_BYTES - 1 - 1 - 2;
        let mut input = format!("set k 0 0 {fits}\r\n").into_bytes();
        input.extend(std::iter::repeat_n(b'v', fits));
        input.extend_from_slice(b"\r\n");
        let over = fits + 1;
        input.extend_from_slice(format!("add k 0 0 {over}\r\n").as_bytes());
        input.extend(std::iter::repeat_n(b'v', over));
        input.extend_from_slice(b"\r\nversion\r\n");
        let out = decode_all(&input, 4096);
        assert_eq!(out.len(), 3, "{:?}", &out[1..]);
        assert!(out[0].starts_with("Set k,vvv"));
        assert_eq!(out[1], "SERVER_ERROR object too large for cache false");
        assert_eq!(out[2], "Version ");
    }

    #[test]
    fn long_lines_close_unless_a_multiget() {
        let junk = vec![b'x'; LINE_LEN_MAX_BYTES + 1];
        assert_eq!(decode_all(&junk, junk.len()), ["close"]);
        let mut get = b"get ".to_vec();
        get.extend(std::iter::repeat_n(b'k', LINE_LEN_MAX_BYTES));
        assert!(decode_all(&get, get.len()).is_empty());
        get.extend_from_slice(b"\r\n");
        assert_eq!(
            decode_all(&get, 100),
            ["CLIENT_ERROR bad command line format false"]
        );
    }
}
