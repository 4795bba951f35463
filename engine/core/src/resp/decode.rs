//! The incremental request decoder: bytes in through `feed`, argument vectors out through
//! `next_command`.
//!
//! Design. The decoder owns one byte buffer and a cursor `pos` into it. A request is either a
//! multibulk (`*<count>\r\n` then `count` times `$<len>\r\n<payload>\r\n`) or, when its first
//! byte is not `*`, an inline line. The state between calls is an enum holding only what is
//! valid in it: `Idle`, or `Multibulk` with the `Argv` being filled, the arguments still owed,
//! and where we are in the current bulk string (header, payload, trailer).
//!
//! Redis quirks kept on purpose, each checked against redis-server 7.0.15:
//! - Lines are found like `strchr` finds them: the search stops at a NUL, so a line holding a NUL
//!   never ends and the request is eventually "too big". `PI\0NG\r\n` answers nothing.
//! - A `*`/`$` line ends at `\r`; the byte after it is skipped unread. The two bytes after a
//!   payload are skipped unread too: `*1\r\n$4\r\nPINGxy` is PING.
//! - `*0`, `*-1` and any negative count are no command; `$0` is an empty argument.
//! - The too-big checks use `INLINE_LEN_MAX_BYTES` against the line end's offset, so the outcome
//!   does not depend on how the stream was cut (Redis looks at what one `read` brought).
//!
//! Cost. Each line is scanned once: `scanned_len_bytes` remembers how far the search for its end
//! got, so a line trickling in byte by byte costs linear time. Consumed bytes are dropped in
//! `feed` only once they outnumber the bytes kept, so each byte is moved at most once on
//! average. A payload that is already buffered is copied into the `Argv` in one piece; a long one
//! streams into it as it arrives, so the buffer stays small. Nothing is reserved on the peer's
//! word alone: an `Argv` is sized exactly from bytes at hand, or grows as bytes come.

use std::cmp::min;

use crate::argv::Argv;

use super::inline::split_inline;
use super::{
    Limits, ProtocolError, ARGV_LEN_MAX_BYTES, INLINE_LEN_MAX_BYTES, MULTIBULK_ARGS_MAX,
    UNAUTHENTICATED_ARGS_MAX, UNAUTHENTICATED_BULK_LEN_MAX_BYTES,
};

/// Redis's `min(multibulklen, 1024)`: the most argument slots reserved before they arrive.
const ARGS_PREALLOC_MAX: usize = 1024;

/// How far past the bytes at hand a long bulk string may reserve room in its `Argv`.
const RESERVE_AHEAD_MAX_BYTES: usize = 64 * 1024;

/// A multibulk with at most this many arguments, wholly buffered, gets an exactly sized `Argv`
/// (one allocation per vector); the look-ahead stays cheap because it is bounded.
const LOOKAHEAD_ARGS_MAX: u32 = 64;

/// The longest `$<len>` line the look-ahead reads: `$`, a sign, 19 digits and `\r`.
const LOOKAHEAD_HEADER_MAX_BYTES: usize = 22;

/// Consumed bytes are moved out of the buffer only once there are this many, so a pipeline of
/// tiny commands does not shift the buffer on every `feed`.
const COMPACT_MIN_BYTES: usize = 4 * 1024;

/// An emptied buffer keeps at most this much capacity (or what the next `feed` needs).
const BUF_RETAIN_MAX_BYTES: usize = 256 * 1024;

/// The two bytes after a payload, meant to be `\r\n`; Redis skips them without looking.
const BULK_TRAILER_LEN_BYTES: usize = 2;

const _: () = assert!(LOOKAHEAD_ARGS_MAX as usize <= ARGS_PREALLOC_MAX);
const _: () = assert!(COMPACT_MIN_BYTES <= BUF_RETAIN_MAX_BYTES);
const _: () = assert!(LOOKAHEAD_HEADER_MAX_BYTES < INLINE_LEN_MAX_BYTES);

/// One connection's request decoder.
///
/// Inputs: `feed` (bytes from the socket), `set_authenticated`, `set_limits`. Output: call
/// `next_command` until it returns `Ok(None)` (feed more) or an error (reply with
/// `CmdError::Protocol`, then close). Getter: `buffered_len_bytes`, for the driver's query-buffer
/// accounting and backpressure.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    /// Before AUTH the pre-authentication limits apply.
    authenticated: bool,
    buf: Vec<u8>,
    /// The first byte not yet consumed.
    pos: usize,
    /// Bytes from `pos` known to hold no end for the line being looked for.
    scanned_len_bytes: usize,
    state: State,
}

#[derive(Debug, Default)]
enum State {
    /// Between requests: the next byte tells multibulk from inline.
    #[default]
    Idle,
    Multibulk(Multibulk),
}

#[derive(Debug)]
struct Multibulk {
    argv: Argv,
    /// Arguments announced and not yet complete; the command is done at zero.
    args_left: u32,
    bulk: Bulk,
}

/// Where the decoder is inside the current bulk string of a multibulk.
#[derive(Clone, Copy, Debug)]
enum Bulk {
    /// Waiting for `$<len>\r` and the byte after it.
    Header,
    /// Copying payload bytes into the last argument.
    Payload { left_bytes: usize },
    /// Skipping the bytes after the payload.
    Trailer { left_bytes: usize },
}

/// What one step of decoding did.
enum Step {
    Command(Argv),
    /// The command is in the caller's argv.
    InPlace,
    /// State changed; step again.
    Continue,
    NeedMore,
}

/// Whether a step inside a bulk string got anywhere.
enum Progress {
    Advanced,
    Blocked,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new(Limits::default())
    }
}

impl Decoder {
    /// A decoder for an authenticated connection; call `set_authenticated(false)` when the
    /// connection must AUTH first.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            authenticated: true,
            buf: Vec::new(),
            pos: 0,
            scanned_len_bytes: 0,
            state: State::Idle,
        }
    }

    /// Before AUTH, Redis accepts only small requests.
    pub fn set_authenticated(&mut self, authenticated: bool) {
        self.authenticated = authenticated;
    }

    /// New limits apply from the next `*` or `$` line on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.compact(bytes.len());
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete command, `Ok(None)` when more bytes are needed. After an error the
    /// connection must close: the decoder's state is then unspecified (though never unsafe).
    pub fn next_command(&mut self) -> Result<Option<Argv>, ProtocolError> {
        let mut argv = Argv::new();
        Ok(self.next_command_into(&mut argv)?.then_some(argv))
    }

    /// `next_command` into the caller's `argv`, whose buffers it reuses: true when a command is
    /// there, false when more bytes are needed (`argv` is then unspecified). A caller that keeps
    /// one `Argv` across commands allocates nothing once its buffers are big enough.
    pub fn next_command_into(&mut self, argv: &mut Argv) -> Result<bool, ProtocolError> {
        if let State::Idle = self.state {
            if self.whole_multibulk(argv) {
                return Ok(true);
            }
        }
        loop {
            let step = match std::mem::take(&mut self.state) {
                State::Idle => self.start_request(argv)?,
                State::Multibulk(multibulk) => self.continue_multibulk(multibulk)?,
            };
            match step {
                Step::Command(done) => {
                    *argv = done;
                    return Ok(true);
                }
                Step::InPlace => return Ok(true),
                Step::NeedMore => return Ok(false),
                Step::Continue => {}
            }
        }
    }

    /// Bytes received and not yet returned as commands: the unread buffer plus the arguments of
    /// a command in progress (its `*`/`$` lines are no longer counted).
    pub fn buffered_len_bytes(&self) -> usize {
        let partial = match &self.state {
            State::Idle => 0,
            State::Multibulk(multibulk) => multibulk.argv.bytes_len(),
        };
        self.buf.len() - self.pos + partial
    }

    /// The fast path: a multibulk wholly buffered, of at most `LOOKAHEAD_ARGS_MAX` arguments,
    /// within every limit, decoded into `argv` in one walk. Anything else (a partial request,
    /// an inline one, an error, a limit) consumes nothing and returns false (`argv` is then
    /// unspecified), and the state machine decides: the fast path only takes what the state
    /// machine would take the same way. A failed try costs at most one pass over the buffered
    /// bytes, and is not repeated for the same request: the state machine then consumes its
    /// `*` line (or waits for it, which the fast path rejects after a few bytes).
    fn whole_multibulk(&mut self, argv: &mut Argv) -> bool {
        let bytes = &self.buf[self.pos..];
        let Some((count, mut at)) = short_header(bytes, b'*') else {
            return false;
        };
        let (args_max, len_max_bytes) = if self.authenticated {
            (LOOKAHEAD_ARGS_MAX, self.limits.bulk_len_max_bytes)
        } else {
            let len_max_bytes = self.limits.bulk_len_max_bytes;
            (
                UNAUTHENTICATED_ARGS_MAX,
                len_max_bytes.min(UNAUTHENTICATED_BULK_LEN_MAX_BYTES),
            )
        };
        if !(1..=u64::from(args_max)).contains(&count) {
            return false;
        }
        argv.clear();
        for _ in 0..count {
            let Some((len_bytes, payload_at)) = short_header(&bytes[at..], b'$') else {
                return false;
            };
            let argv_len_bytes = argv.bytes_len() as u64 + len_bytes;
            if len_bytes > len_max_bytes || argv_len_bytes > ARGV_LEN_MAX_BYTES {
                return false;
            }
            let start = at + payload_at;
            // At most ARGV_LEN_MAX_BYTES, so it fits a usize.
            let end = start + len_bytes as usize;
            if end + BULK_TRAILER_LEN_BYTES > bytes.len() {
                return false;
            }
            argv.push(&bytes[start..end]);
            at = end + BULK_TRAILER_LEN_BYTES;
        }
        self.consume(at);
        true
    }

    /// Starts a request; `argv` is the caller's, whose buffers the command may reuse (it is
    /// left alone when there is nothing to start yet).
    fn start_request(&mut self, argv: &mut Argv) -> Result<Step, ProtocolError> {
        match self.buf.get(self.pos) {
            None => Ok(Step::NeedMore),
            Some(b'*') => self.multibulk_header(argv),
            Some(_) => self.inline_request(argv),
        }
    }

    /// An inline request, split straight into `argv` (`Step::InPlace`).
    fn inline_request(&mut self, argv: &mut Argv) -> Result<Step, ProtocolError> {
        let Some(lf) = self.find_line_end(b'\n') else {
            return if self.inline_known_too_long() {
                Err(ProtocolError::INLINE_TOO_BIG)
            } else {
                Ok(Step::NeedMore)
            };
        };
        let line = &self.buf[self.pos..self.pos + lf];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > INLINE_LEN_MAX_BYTES {
            return Err(ProtocolError::INLINE_TOO_BIG);
        }
        argv.clear();
        split_inline(line, argv)?;
        self.consume(lf + 1);
        // Redis skips an empty or blank line without a reply.
        Ok(if argv.is_empty() {
            Step::Continue
        } else {
            Step::InPlace
        })
    }

    /// Whether the unfinished inline line at `pos` is sure to exceed `INLINE_LEN_MAX_BYTES`
    /// without its line end. A line of exactly the maximum may still be followed by `\r\n`.
    /// Redis instead errs once one `read` leaves more than the maximum without a `\n`, which
    /// depends on how the stream was cut; this rule does not.
    fn inline_known_too_long(&self) -> bool {
        let buffered = self.buf.len() - self.pos;
        buffered > INLINE_LEN_MAX_BYTES + 1
            || (buffered == INLINE_LEN_MAX_BYTES + 1
                && self.buf[self.pos + INLINE_LEN_MAX_BYTES] != b'\r')
    }

    /// A `*` line; the arguments then fill `argv`'s buffers, held in the state until done.
    fn multibulk_header(&mut self, argv: &mut Argv) -> Result<Step, ProtocolError> {
        let Some(cr) = self.header_line(ProtocolError::MULTIBULK_COUNT_TOO_BIG)? else {
            return Ok(Step::NeedMore);
        };
        let count = match parse_string2ll(&self.buf[self.pos + 1..self.pos + cr]) {
            Some(count) if count <= i64::from(MULTIBULK_ARGS_MAX) => count,
            _ => return Err(ProtocolError::MULTIBULK_LEN_INVALID),
        };
        if count > i64::from(UNAUTHENTICATED_ARGS_MAX) && !self.authenticated {
            return Err(ProtocolError::MULTIBULK_LEN_UNAUTHENTICATED);
        }
        self.consume(cr + 2);
        // Redis skips `*0`, `*-1` and every other count below one without a reply.
        let Ok(args @ 1..) = u32::try_from(count) else {
            return Ok(Step::Continue);
        };
        let payload_len_bytes = buffered_payload_len_bytes(&self.buf[self.pos..], args);
        let mut spare = std::mem::take(argv);
        spare.clear();
        spare.reserve(
            min(args as usize, ARGS_PREALLOC_MAX),
            payload_len_bytes.unwrap_or(0),
        );
        self.state = State::Multibulk(Multibulk {
            argv: spare,
            args_left: args,
            bulk: Bulk::Header,
        });
        Ok(Step::Continue)
    }

    fn continue_multibulk(&mut self, mut multibulk: Multibulk) -> Result<Step, ProtocolError> {
        loop {
            let progress = match multibulk.bulk {
                Bulk::Header => self.bulk_header(&mut multibulk)?,
                Bulk::Payload { left_bytes } => self.bulk_payload(&mut multibulk, left_bytes),
                Bulk::Trailer { left_bytes } => self.bulk_trailer(&mut multibulk, left_bytes),
            };
            if multibulk.args_left == 0 {
                return Ok(Step::Command(multibulk.argv));
            }
            match progress {
                Progress::Advanced => {}
                Progress::Blocked => {
                    self.state = State::Multibulk(multibulk);
                    return Ok(Step::NeedMore);
                }
            }
        }
    }

    fn bulk_header(&mut self, multibulk: &mut Multibulk) -> Result<Progress, ProtocolError> {
        let Some(cr) = self.header_line(ProtocolError::BULK_COUNT_TOO_BIG)? else {
            return Ok(Progress::Blocked);
        };
        // Redis looks at the first byte only once the whole line is in.
        let first = self.buf[self.pos];
        if first != b'$' {
            return Err(ProtocolError::expected_dollar(first));
        }
        let digits = &self.buf[self.pos + 1..self.pos + cr];
        let len_bytes = self.bulk_len_bytes(digits, multibulk.argv.bytes_len())?;
        self.consume(cr + 2);
        let buffered = self.buf.len() - self.pos;
        if buffered >= len_bytes {
            // The common case: the whole payload is here; one copy, no reserve on credit.
            multibulk
                .argv
                .push(&self.buf[self.pos..self.pos + len_bytes]);
            self.consume(len_bytes);
            multibulk.bulk = Bulk::Trailer {
                left_bytes: BULK_TRAILER_LEN_BYTES,
            };
        } else {
            multibulk.argv.push(b"");
            multibulk
                .argv
                .reserve_bytes(reserve_len_bytes(len_bytes, buffered));
            multibulk.bulk = Bulk::Payload {
                left_bytes: len_bytes,
            };
        }
        Ok(Progress::Advanced)
    }

    /// Checks a `$<len>` line's length in Redis's order: malformed, negative or too long first,
    /// then the pre-AUTH bound.
    fn bulk_len_bytes(&self, digits: &[u8], argv_len_bytes: usize) -> Result<usize, ProtocolError> {
        let len_bytes = match parse_string2ll(digits).map(u64::try_from) {
            Some(Ok(len_bytes)) => len_bytes,
            Some(Err(_)) | None => return Err(ProtocolError::BULK_LEN_INVALID),
        };
        if len_bytes > self.limits.bulk_len_max_bytes
            || argv_len_bytes as u64 + len_bytes > ARGV_LEN_MAX_BYTES
        {
            return Err(ProtocolError::BULK_LEN_INVALID);
        }
        if len_bytes > UNAUTHENTICATED_BULK_LEN_MAX_BYTES && !self.authenticated {
            return Err(ProtocolError::BULK_LEN_UNAUTHENTICATED);
        }
        Ok(usize::try_from(len_bytes).expect("ARGV_LEN_MAX_BYTES fits in usize"))
    }

    fn bulk_payload(&mut self, multibulk: &mut Multibulk, left_bytes: usize) -> Progress {
        let taken = min(left_bytes, self.buf.len() - self.pos);
        multibulk
            .argv
            .extend_last(&self.buf[self.pos..self.pos + taken]);
        self.consume(taken);
        if taken == left_bytes {
            multibulk.bulk = Bulk::Trailer {
                left_bytes: BULK_TRAILER_LEN_BYTES,
            };
            Progress::Advanced
        } else {
            multibulk.bulk = Bulk::Payload {
                left_bytes: left_bytes - taken,
            };
            Progress::Blocked
        }
    }

    fn bulk_trailer(&mut self, multibulk: &mut Multibulk, left_bytes: usize) -> Progress {
        let skipped = min(left_bytes, self.buf.len() - self.pos);
        self.consume(skipped);
        if skipped == left_bytes {
            multibulk.args_left -= 1;
            multibulk.bulk = Bulk::Header;
            Progress::Advanced
        } else {
            multibulk.bulk = Bulk::Trailer {
                left_bytes: left_bytes - skipped,
            };
            Progress::Blocked
        }
    }

    /// The `\r` offset of a `*` or `$` line, once the byte after it (skipped unread, like
    /// Redis) has arrived too. The line may hold at most `INLINE_LEN_MAX_BYTES` before its `\r`,
    /// judged on the `\r`'s offset rather than on what one read brought, as Redis does, so that
    /// every split of the stream gives the same verdict.
    fn header_line(&mut self, too_long: ProtocolError) -> Result<Option<usize>, ProtocolError> {
        let buffered = self.buf.len() - self.pos;
        match self.find_line_end(b'\r') {
            Some(cr) if cr > INLINE_LEN_MAX_BYTES => Err(too_long),
            Some(cr) if cr + 1 < buffered => Ok(Some(cr)),
            Some(_) => Ok(None),
            None if buffered > INLINE_LEN_MAX_BYTES => Err(too_long),
            None => Ok(None),
        }
    }

    /// The offset from `pos` of the first `delim`, resuming where the last search stopped.
    /// Like Redis's `strchr`, the search stops at a NUL: such a line ends only by being too long.
    fn find_line_end(&mut self, delim: u8) -> Option<usize> {
        let from = self.pos + self.scanned_len_bytes;
        let hit = self.buf[from..]
            .iter()
            .position(|&byte| byte == delim || byte == 0);
        match hit {
            Some(offset) => self.scanned_len_bytes += offset,
            None => self.scanned_len_bytes = self.buf.len() - self.pos,
        }
        let found = hit.is_some() && self.buf[self.pos + self.scanned_len_bytes] == delim;
        found.then_some(self.scanned_len_bytes)
    }

    fn consume(&mut self, len_bytes: usize) {
        debug_assert!(self.pos + len_bytes <= self.buf.len());
        self.pos += len_bytes;
        self.scanned_len_bytes = 0;
    }

    /// Drops consumed bytes before `incoming_len_bytes` more arrive: at once when all are
    /// consumed, otherwise only when the consumed ones outnumber those that must move.
    fn compact(&mut self, incoming_len_bytes: usize) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            let keep_bytes = BUF_RETAIN_MAX_BYTES.max(incoming_len_bytes);
            if self.buf.capacity() > keep_bytes {
                self.buf.shrink_to(keep_bytes);
            }
        } else if self.pos >= COMPACT_MIN_BYTES && self.pos >= self.buf.len() - self.pos {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }
}

/// A `*<n>` or `$<n>` line (`kind` is its first byte) at the start of `bytes` with `n` a
/// canonical non-negative number (one `parse_string2ll` accepts) followed by `\r` and one more
/// byte: `n` and where the next line starts. `None` for anything else (a sign, a leading zero,
/// a NUL, a partial line), which the state machine then judges.
fn short_header(bytes: &[u8], kind: u8) -> Option<(u64, usize)> {
    match bytes {
        // One digit: most counts and key lengths.
        [k, digit @ b'0'..=b'9', b'\r', _, ..] if *k == kind => {
            return Some((u64::from(digit - b'0'), 4))
        }
        [k, b'1'..=b'9', ..] if *k == kind => {}
        _ => return None,
    }
    let mut n = 0u64;
    let mut at = 1;
    while let Some(digit @ b'0'..=b'9') = bytes.get(at) {
        n = n.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
        at += 1;
    }
    if n > i64::MAX as u64 || bytes.get(at) != Some(&b'\r') || at + 1 >= bytes.len() {
        return None;
    }
    Some((n, at + 2))
}

/// Room to reserve for a payload of `len_bytes` of which `buffered` bytes are here: never more
/// than `RESERVE_AHEAD_MAX_BYTES` beyond them, so a `$536870912` header alone costs nothing.
fn reserve_len_bytes(len_bytes: usize, buffered: usize) -> usize {
    min(len_bytes, buffered.saturating_add(RESERVE_AHEAD_MAX_BYTES))
}

/// The payload bytes of a multibulk of `args` arguments if all of them are in `bytes`; `None`
/// when anything is missing or odd (the parse proper then finds the error or waits).
fn buffered_payload_len_bytes(bytes: &[u8], args: u32) -> Option<usize> {
    if args > LOOKAHEAD_ARGS_MAX {
        return None;
    }
    let mut at = 0usize;
    let mut payload_len_bytes = 0usize;
    for _ in 0..args {
        let header = bytes.get(at..)?;
        let window = &header[..min(header.len(), LOOKAHEAD_HEADER_MAX_BYTES)];
        let cr = window.iter().position(|&byte| byte == b'\r')?;
        let len_bytes = match window {
            [b'$', ..] => usize::try_from(parse_string2ll(&window[1..cr])?).ok()?,
            _ => return None,
        };
        payload_len_bytes = payload_len_bytes.checked_add(len_bytes)?;
        at = at
            .checked_add(cr + 2)?
            .checked_add(len_bytes)?
            .checked_add(BULK_TRAILER_LEN_BYTES)?;
    }
    (at <= bytes.len()).then_some(payload_len_bytes)
}

/// Redis's `string2ll`: an optional `-`, then `0` alone or a digit 1-9 and more digits; no `+`,
/// no blanks, no leading zeros, no `-0`; the value must fit an `i64`.
fn parse_string2ll(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', digits @ ..] => (true, digits),
        digits => (false, digits),
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut magnitude = 0u64;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

#[cfg(test)]
mod tests {
    use quickcheck::{Arbitrary, Gen, QuickCheck};

    use super::*;
    use crate::reply::Reply;
    use crate::resp::{encode, RespVersion, PROTO_MAX_BULK_LEN_BYTES};

    /// Commands decoded, and the error that ended the stream if any.
    type Outcome = (Vec<Argv>, Option<ProtocolError>);

    fn drive<'a>(decoder: &mut Decoder, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
        let mut commands = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk);
            loop {
                match decoder.next_command() {
                    Ok(Some(argv)) => commands.push(argv),
                    Ok(None) => break,
                    Err(err) => return (commands, Some(err)),
                }
            }
        }
        (commands, None)
    }

    /// `drive` through `next_command_into` with one argv for the whole stream, as a node does.
    fn drive_into<'a>(
        decoder: &mut Decoder,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Outcome {
        let mut commands = Vec::new();
        let mut argv = Argv::from_slices(&["left", "over"]);
        for chunk in chunks {
            decoder.feed(chunk);
            loop {
                match decoder.next_command_into(&mut argv) {
                    Ok(true) => commands.push(argv.clone()),
                    Ok(false) => break,
                    Err(err) => return (commands, Some(err)),
                }
            }
        }
        (commands, None)
    }

    /// Decodes `bytes` whole, and in chunks of several sizes, and checks they agree.
    fn decode_with(decoder: impl Fn() -> Decoder, bytes: &[u8]) -> Outcome {
        let whole = drive(&mut decoder(), [bytes]);
        for chunk_len in [1, 2, 3, 7, 4096, 16 * 1024] {
            let chunked = drive(&mut decoder(), bytes.chunks(chunk_len));
            assert_eq!(chunked, whole, "chunks of {chunk_len} disagree");
        }
        whole
    }

    fn decode(bytes: &[u8]) -> Outcome {
        decode_with(Decoder::default, bytes)
    }

    fn unauthenticated() -> Decoder {
        let mut decoder = Decoder::default();
        decoder.set_authenticated(false);
        decoder
    }

    fn commands(list: &[&[&str]]) -> Vec<Argv> {
        list.iter().map(|args| Argv::from_slices(args)).collect()
    }

    fn ok(list: &[&[&str]]) -> Outcome {
        (commands(list), None)
    }

    fn err(list: &[&[&str]], err: ProtocolError) -> Outcome {
        (commands(list), Some(err))
    }

    #[test]
    fn multibulk_and_inline_pipeline() {
        let bytes =
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nPING\r\nGET k\n*1\r\n$4\r\nPING\r\n";
        let expected = ok(&[&["SET", "k", "hello"], &["PING"], &["GET", "k"], &["PING"]]);
        assert_eq!(decode(bytes), expected);
    }

    #[test]
    fn empty_lines_and_empty_multibulks_are_skipped() {
        assert_eq!(decode(b"\r\n\r\nPING\r\n"), ok(&[&["PING"]]));
        assert_eq!(decode(b"\n\nPING\n"), ok(&[&["PING"]]));
        assert_eq!(decode(b"  \t \r\nPING\r\n"), ok(&[&["PING"]]));
        assert_eq!(decode(b"*0\r\n*-1\r\n*-5\r\nPING\r\n"), ok(&[&["PING"]]));
    }

    #[test]
    fn inline_line_ends() {
        // `\r` alone does not end a line; inside it, it separates arguments.
        assert_eq!(decode(b"PING\rPING\r\n"), ok(&[&["PING", "PING"]]));
        assert_eq!(decode(b"PING\r\r\n"), ok(&[&["PING"]]));
        assert_eq!(decode(b"\x0bPING\r\n"), ok(&[&["PING"]]));
        assert_eq!(decode(b"SET \"a b\" 'c'\r\n"), ok(&[&["SET", "a b", "c"]]));
        assert_eq!(
            decode(b"GET \"k\r\n"),
            err(&[], ProtocolError::UNBALANCED_QUOTES)
        );
    }

    #[test]
    fn empty_argument_is_kept() {
        // Redis answers `*1\r\n$0\r\n\r\n` with "unknown command ''": the argument exists.
        assert_eq!(decode(b"*1\r\n$0\r\n\r\n"), ok(&[&[""]]));
        assert_eq!(decode(b"*2\r\n$0\r\n\r\n$1\r\nx\r\n"), ok(&[&["", "x"]]));
    }

    #[test]
    fn bytes_after_cr_and_after_payload_are_not_checked() {
        assert_eq!(decode(b"*1\r\n$4\r\nPINGxy"), ok(&[&["PING"]]));
        assert_eq!(decode(b"*1\rX$4\r\nPING\r\n"), ok(&[&["PING"]]));
        assert_eq!(decode(b"*1\r\n$4\rXPINGab"), ok(&[&["PING"]]));
    }

    #[test]
    fn nul_hides_the_line_end() {
        assert_eq!(decode(b"PI\0NG\r\nPING\r\n"), ok(&[]));
        assert_eq!(decode(b"*1\0\r\n$4\r\nPING\r\n"), ok(&[]));
        assert_eq!(decode(b"*1\r\n$1\0\r\n"), ok(&[]));
        assert_eq!(decode(b"\0PING\r\n"), ok(&[]));
        // Such a line only ends by growing too long.
        let mut bytes = b"PI\0NG\r\n".to_vec();
        bytes.resize(INLINE_LEN_MAX_BYTES, b'a');
        assert_eq!(decode(&bytes), ok(&[]));
        bytes.push(b'a');
        assert_eq!(decode(&bytes), err(&[], ProtocolError::INLINE_TOO_BIG));
    }

    #[test]
    fn counts_and_lengths_parse_like_string2ll() {
        for bad in [
            "*-0",
            "*01",
            "*+1",
            "* 1",
            "*1 ",
            "*",
            "*x",
            "*99999999999999999999",
        ] {
            let bytes = format!("{bad}\r\n");
            let expected = err(&[], ProtocolError::MULTIBULK_LEN_INVALID);
            assert_eq!(decode(bytes.as_bytes()), expected, "{bad}");
        }
        for bad in [
            "$-1",
            "$-0",
            "$01",
            "$+1",
            "$",
            "$1x",
            "$-9223372036854775809",
        ] {
            let bytes = format!("*1\r\n{bad}\r\n");
            let expected = err(&[], ProtocolError::BULK_LEN_INVALID);
            assert_eq!(decode(bytes.as_bytes()), expected, "{bad}");
        }
        assert_eq!(parse_string2ll(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_string2ll(b"9223372036854775808"), None);
        assert_eq!(parse_string2ll(b"0"), Some(0));
        assert_eq!(parse_string2ll(b"-"), None);
        assert_eq!(parse_string2ll(b""), None);
    }

    #[test]
    fn multibulk_count_max_is_int_max() {
        assert_eq!(decode(b"*2147483647\r\n"), ok(&[]));
        let expected = err(&[], ProtocolError::MULTIBULK_LEN_INVALID);
        assert_eq!(decode(b"*2147483648\r\n"), expected);
        // Redis 6 capped the count at 1024 * 1024; 7.0 does not.
        assert_eq!(decode(b"*1048577\r\n"), ok(&[]));
    }

    #[test]
    fn bulk_len_max_is_proto_max_bulk_len() {
        let at_max = format!("*1\r\n${PROTO_MAX_BULK_LEN_BYTES}\r\n");
        let mut decoder = Decoder::default();
        assert_eq!(drive(&mut decoder, [at_max.as_bytes()]), ok(&[]));
        // The header alone reserves nothing like 512 MiB.
        assert_eq!(
            reserve_len_bytes(PROTO_MAX_BULK_LEN_BYTES as usize, 0),
            RESERVE_AHEAD_MAX_BYTES
        );
        let past_max = format!("*1\r\n${}\r\n", PROTO_MAX_BULK_LEN_BYTES + 1);
        let expected = err(&[], ProtocolError::BULK_LEN_INVALID);
        assert_eq!(decode(past_max.as_bytes()), expected);

        let small = || {
            let mut decoder = Decoder::default();
            decoder.set_limits(Limits {
                bulk_len_max_bytes: 3,
            });
            decoder
        };
        assert_eq!(decode_with(small, b"*1\r\n$3\r\nabc\r\n"), ok(&[&["abc"]]));
        assert_eq!(decode_with(small, b"*1\r\n$4\r\nabcd\r\n"), expected);
    }

    #[test]
    fn argv_len_max_is_enforced() {
        let unlimited = || {
            Decoder::new(Limits {
                bulk_len_max_bytes: u64::MAX,
            })
        };
        let at_max = format!("*1\r\n${ARGV_LEN_MAX_BYTES}\r\n");
        assert_eq!(decode_with(unlimited, at_max.as_bytes()), ok(&[]));
        let past_max = format!("*2\r\n$1\r\nx\r\n${ARGV_LEN_MAX_BYTES}\r\n");
        let expected = err(&[], ProtocolError::BULK_LEN_INVALID);
        assert_eq!(decode_with(unlimited, past_max.as_bytes()), expected);
    }

    #[test]
    fn unauthenticated_limits() {
        let count_at_max = format!("*{UNAUTHENTICATED_ARGS_MAX}\r\n");
        assert_eq!(
            decode_with(unauthenticated, count_at_max.as_bytes()),
            ok(&[])
        );
        let count_past_max = format!("*{}\r\n", UNAUTHENTICATED_ARGS_MAX + 1);
        let expected = err(&[], ProtocolError::MULTIBULK_LEN_UNAUTHENTICATED);
        assert_eq!(
            decode_with(unauthenticated, count_past_max.as_bytes()),
            expected
        );
        // Negative counts are skipped before the check, as in Redis.
        assert_eq!(
            decode_with(unauthenticated, b"*-20\r\nPING\r\n"),
            ok(&[&["PING"]])
        );
        // An invalid count is reported as invalid, not as unauthenticated.
        let expected = err(&[], ProtocolError::MULTIBULK_LEN_INVALID);
        assert_eq!(decode_with(unauthenticated, b"*2147483648\r\n"), expected);

        let len_at_max = format!("*1\r\n${UNAUTHENTICATED_BULK_LEN_MAX_BYTES}\r\n");
        assert_eq!(decode_with(unauthenticated, len_at_max.as_bytes()), ok(&[]));
        let len_past_max = format!("*1\r\n${}\r\n", UNAUTHENTICATED_BULK_LEN_MAX_BYTES + 1);
        let expected = err(&[], ProtocolError::BULK_LEN_UNAUTHENTICATED);
        assert_eq!(
            decode_with(unauthenticated, len_past_max.as_bytes()),
            expected
        );

        // Authenticated by default, and again once told so.
        assert_eq!(decode(count_past_max.as_bytes()), ok(&[]));
        let mut decoder = unauthenticated();
        decoder.set_authenticated(true);
        assert_eq!(drive(&mut decoder, [count_past_max.as_bytes()]), ok(&[]));
    }

    #[test]
    fn expected_dollar() {
        let got = |byte| err(&[], ProtocolError::expected_dollar(byte));
        assert_eq!(decode(b"*1\r\nX\r\n"), got(b'X'));
        assert_eq!(decode(b"*1\r\nX"), ok(&[]));
        assert_eq!(decode(b"*1\r\n\r\n"), got(b'\r'));
        assert_eq!(decode(b"*1\r\n\n\r\n"), got(b'\n'));
        assert_eq!(decode(b"*1\r\n\xff\r\n"), got(0xff));
        assert_eq!(decode(b"*2\r\n$1\r\na\r\n:1\r\n"), got(b':'));
    }

    #[test]
    fn inline_len_max() {
        let mut line = vec![b'a'; INLINE_LEN_MAX_BYTES];
        assert_eq!(decode(&line), ok(&[]));
        line.push(b'\r');
        assert_eq!(decode(&line), ok(&[]));
        line.push(b'\n');
        let (commands, error) = decode(&line);
        assert_eq!((commands[0][0].len(), error), (INLINE_LEN_MAX_BYTES, None));
        line[INLINE_LEN_MAX_BYTES] = b'\n';
        line.pop();
        let (commands, error) = decode(&line);
        assert_eq!((commands[0][0].len(), error), (INLINE_LEN_MAX_BYTES, None));

        let too_big = err(&[], ProtocolError::INLINE_TOO_BIG);
        let mut line = vec![b'a'; INLINE_LEN_MAX_BYTES + 1];
        assert_eq!(decode(&line), too_big);
        // Even with its end in the same read: the verdict may not depend on the split.
        line.push(b'\n');
        assert_eq!(decode(&line), too_big);
        let mut line = vec![b'a'; INLINE_LEN_MAX_BYTES];
        line.extend_from_slice(b"\rx");
        assert_eq!(decode(&line), too_big);
    }

    #[test]
    fn count_lines_len_max() {
        let mut count = b"*".to_vec();
        count.resize(INLINE_LEN_MAX_BYTES, b'1');
        assert_eq!(decode(&count), ok(&[]));
        count.push(b'1');
        assert_eq!(
            decode(&count),
            err(&[], ProtocolError::MULTIBULK_COUNT_TOO_BIG)
        );

        let mut len = b"*1\r\n$".to_vec();
        len.resize(4 + INLINE_LEN_MAX_BYTES, b'1');
        assert_eq!(decode(&len), ok(&[]));
        len.push(b'1');
        assert_eq!(decode(&len), err(&[], ProtocolError::BULK_COUNT_TOO_BIG));
        len.extend_from_slice(b"\r\n");
        assert_eq!(decode(&len), err(&[], ProtocolError::BULK_COUNT_TOO_BIG));
    }

    #[test]
    fn line_search_resumes_where_it_stopped() {
        let mut decoder = Decoder::default();
        decoder.feed(b"GET some");
        assert_eq!(decoder.next_command(), Ok(None));
        assert_eq!(decoder.scanned_len_bytes, 8);
        decoder.feed(b"key");
        assert_eq!(decoder.next_command(), Ok(None));
        assert_eq!(decoder.scanned_len_bytes, 11);
        decoder.feed(b"\r\n");
        assert_eq!(
            decoder.next_command(),
            Ok(Some(Argv::from_slices(&["GET", "somekey"])))
        );
        assert_eq!(decoder.scanned_len_bytes, 0);
    }

    #[test]
    fn long_payload_streams_into_the_argv() {
        let mut decoder = Decoder::default();
        decoder.feed(b"*2\r\n$3\r\nSET\r\n$100000\r\n");
        assert_eq!(decoder.next_command(), Ok(None));
        for _ in 0..10 {
            decoder.feed(&[b'v'; 10_000]);
            assert_eq!(decoder.next_command(), Ok(None));
            // The payload moved out of the buffer as it came.
            assert_eq!(decoder.buf.len() - decoder.pos, 0);
        }
        assert_eq!(decoder.buffered_len_bytes(), 100_003);
        decoder.feed(b"\r\n");
        let argv = decoder.next_command().unwrap().unwrap();
        assert_eq!((argv.len(), argv[1].len()), (2, 100_000));
        assert_eq!(decoder.buffered_len_bytes(), 0);
    }

    #[test]
    fn buffer_is_compacted() {
        let mut decoder = Decoder::default();
        for _ in 0..10_000 {
            decoder.feed(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI");
            assert!(decoder.next_command().unwrap().is_some());
            assert_eq!(decoder.next_command(), Ok(None));
            decoder.feed(b"NG\r\n");
            assert!(decoder.next_command().unwrap().is_some());
            assert!(
                decoder.buf.len() <= 2 * COMPACT_MIN_BYTES,
                "{}",
                decoder.buf.len()
            );
        }
    }

    #[test]
    fn whole_requests_take_the_fast_path_and_reuse_the_argv() {
        let mut decoder = Decoder::default();
        let mut argv = Argv::new();
        decoder.feed(b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
        assert_eq!(decoder.next_command_into(&mut argv), Ok(true));
        assert_eq!(argv, Argv::from_slices(&["GET", "key"]));
        assert!(matches!(decoder.state, State::Idle), "decoded in one piece");
        let first = argv.get(0).unwrap().as_ptr();
        for _ in 0..100 {
            decoder.feed(b"*2\r\n$3\r\nGET\r\n$3\r\nyek\r\n");
            assert_eq!(decoder.next_command_into(&mut argv), Ok(true));
            assert_eq!(argv.get(0).unwrap().as_ptr(), first, "same buffer");
            // Asking again with nothing buffered keeps the buffers too.
            assert_eq!(decoder.next_command_into(&mut argv), Ok(false));
        }
        decoder.feed(b"GET key\r\n");
        assert_eq!(decoder.next_command_into(&mut argv), Ok(true));
        assert_eq!(
            argv.get(0).unwrap().as_ptr(),
            first,
            "inline requests reuse it too"
        );

        // The last byte missing: the state machine takes over, then finishes it.
        decoder.feed(b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r");
        assert_eq!(decoder.next_command_into(&mut argv), Ok(false));
        assert!(matches!(decoder.state, State::Multibulk(_)));
        decoder.feed(b"\n");
        assert_eq!(decoder.next_command_into(&mut argv), Ok(true));
        assert_eq!(argv, Argv::from_slices(&["GET", "key"]));
    }

    #[test]
    fn fast_path_leaves_limits_and_errors_to_the_state_machine() {
        let mut many = format!("*{}\r\n", LOOKAHEAD_ARGS_MAX + 1).into_bytes();
        for _ in 0..=LOOKAHEAD_ARGS_MAX {
            many.extend_from_slice(b"$1\r\nx\r\n");
        }
        let (commands, error) = decode(&many);
        assert_eq!(
            (commands[0].len(), error),
            (LOOKAHEAD_ARGS_MAX as usize + 1, None)
        );
        let eleven = b"*11\r\n$1\r\nx\r\n";
        let expected = err(&[], ProtocolError::MULTIBULK_LEN_UNAUTHENTICATED);
        assert_eq!(decode_with(unauthenticated, eleven), expected);
        assert_eq!(
            short_header(b"$3\r\n", b'$'),
            Some((3, 4)),
            "a header with the byte after its CR"
        );
        assert_eq!(short_header(b"$3\r", b'$'), None);
        assert_eq!(short_header(b"$0\r\n", b'$'), Some((0, 4)));
        assert_eq!(short_header(b"$0\r", b'$'), None);
        assert_eq!(short_header(b"$01\r\n", b'$'), None);
        assert_eq!(short_header(b"$-1\r\n", b'$'), None);
        assert_eq!(short_header(b"$12x\r\n", b'$'), None);
        assert_eq!(
            short_header(b"$9223372036854775807\r\n", b'$'),
            Some((i64::MAX as u64, 22))
        );
        assert_eq!(short_header(b"$9223372036854775808\r\n", b'$'), None);
        assert_eq!(short_header(b"$99999999999999999999\r\n", b'$'), None);
        assert_eq!(short_header(b"$3\0\r\n", b'$'), None);
        assert_eq!(short_header(b"*3\r\n", b'$'), None);
    }

    #[test]
    fn lookahead_sizes_only_whole_buffered_multibulks() {
        let bytes = b"$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        assert_eq!(buffered_payload_len_bytes(bytes, 3), Some(9));
        assert_eq!(
            buffered_payload_len_bytes(&bytes[..bytes.len() - 1], 3),
            None
        );
        assert_eq!(buffered_payload_len_bytes(bytes, 4), None);
        assert_eq!(buffered_payload_len_bytes(b"$999999\r\nab\r\n", 1), None);
        assert_eq!(buffered_payload_len_bytes(b"X3\r\nSET\r\n", 1), None);
    }

    /// A byte stream made of RESP-ish pieces, and where to cut it.
    #[derive(Clone, Debug)]
    struct Stream {
        bytes: Vec<u8>,
        cuts: Vec<usize>,
        authenticated: bool,
        bulk_len_max_bytes: u64,
    }

    const NOISE: &[u8] = b"*$\r\n\r\n0123456789-+ \"'\\x\0\tabAF\x0b";

    fn noise(g: &mut Gen, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| *g.choose(NOISE).expect("not empty"))
            .collect()
    }

    fn piece(g: &mut Gen) -> Vec<u8> {
        let len = usize::arbitrary(g) % 12;
        match u8::arbitrary(g) % 6 {
            0 | 1 => {
                let args: Vec<Vec<u8>> = (0..1 + len % 5).map(|_| noise(g, len)).collect();
                let mut out = Vec::new();
                encode(&Reply::bulk_array(args), RespVersion::Resp2, &mut out);
                out
            }
            2 => [&noise(g, len)[..], b"\r\n"].concat(),
            3 => g
                .choose(&[&b"*0\r\n"[..], b"*-1\r\n", b"\r\n", b"\n"])
                .unwrap()
                .to_vec(),
            4 => {
                let mut out = piece(g);
                if !out.is_empty() {
                    let at = usize::arbitrary(g) % out.len();
                    out[at] = *g.choose(NOISE).unwrap();
                }
                out
            }
            _ => noise(g, len),
        }
    }

    impl Arbitrary for Stream {
        fn arbitrary(g: &mut Gen) -> Stream {
            let pieces = usize::arbitrary(g) % 8;
            let bytes: Vec<u8> = (0..pieces).flat_map(|_| piece(g)).collect();
            let mut cuts: Vec<usize> = Vec::arbitrary(g);
            for cut in &mut cuts {
                *cut %= bytes.len() + 1;
            }
            cuts.sort_unstable();
            Stream {
                bytes,
                cuts,
                authenticated: u8::arbitrary(g) % 4 != 0,
                bulk_len_max_bytes: *g.choose(&[PROTO_MAX_BULK_LEN_BYTES, 4, 0]).unwrap(),
            }
        }
    }

    impl Stream {
        fn decoder(&self) -> Decoder {
            let mut decoder = Decoder::new(Limits {
                bulk_len_max_bytes: self.bulk_len_max_bytes,
            });
            decoder.set_authenticated(self.authenticated);
            decoder
        }

        fn chunks(&self) -> Vec<&[u8]> {
            let mut bounds = vec![0];
            bounds.extend_from_slice(&self.cuts);
            bounds.push(self.bytes.len());
            bounds.windows(2).map(|w| &self.bytes[w[0]..w[1]]).collect()
        }
    }

    #[test]
    fn any_split_gives_the_same_commands_and_error() {
        fn prop(stream: Stream) -> bool {
            let whole = drive(&mut stream.decoder(), [&stream.bytes[..]]);
            let chunked = drive(&mut stream.decoder(), stream.chunks());
            let bytewise = drive(&mut stream.decoder(), stream.bytes.chunks(1));
            let reused = drive_into(&mut stream.decoder(), stream.chunks());
            whole == chunked && whole == bytewise && whole == reused
        }
        QuickCheck::new()
            .tests(2000)
            .quickcheck(prop as fn(Stream) -> bool);
    }

    #[test]
    fn random_bytes_never_panic() {
        fn prop(bytes: Vec<u8>, cuts: Vec<usize>, authenticated: bool) -> bool {
            let mut decoder = Decoder::default();
            decoder.set_authenticated(authenticated);
            let mut from = 0;
            for cut in cuts {
                let to = from + cut % (bytes.len() - from + 1);
                drive(&mut decoder, [&bytes[from..to]]);
                from = to;
            }
            drive(&mut decoder, [&bytes[from..]]);
            // Keep feeding after an error: undefined, but never a panic.
            decoder.feed(b"*1\r\n$1\r\nx\r\n");
            let _ = decoder.next_command();
            true
        }
        QuickCheck::new()
            .tests(2000)
            .quickcheck(prop as fn(Vec<u8>, Vec<usize>, bool) -> bool);
    }

    #[test]
    fn encoded_multibulk_decodes_to_the_same_argv() {
        fn prop(args: Vec<Vec<u8>>) -> bool {
            if args.is_empty() {
                return true;
            }
            let mut bytes = Vec::new();
            encode(
                &Reply::bulk_array(args.clone()),
                RespVersion::Resp2,
                &mut bytes,
            );
            let expected = (vec![Argv::from_slices(&args)], None);
            drive(&mut Decoder::default(), [&bytes[..]]) == expected
                && drive(&mut Decoder::default(), bytes.chunks(3)) == expected
        }
        QuickCheck::new()
            .tests(1000)
            .quickcheck(prop as fn(Vec<Vec<u8>>) -> bool);
    }
}
