//! Reading an RDB file as a stream of records, from bytes pushed in any pieces.
//!
//! `next_record` parses one record from where the last one ended; when the bytes at hand end
//! inside it, it rewinds to the record's start and answers `Ok(None)` ("push more"). So that a
//! big record arriving in small pieces is not parsed again on every push, a failed attempt is
//! retried only once the unparsed bytes have doubled (or the input was declared complete):
//! total parsing work stays linear in the file's size. The CRC-64 runs over the bytes of each
//! record as it is taken, and is checked at EOF (a stored zero means "not checked", as Redis).

use super::decode::{is_value_type, read_value, Decoded, Input, LoadCx};
use super::{opcodes, Crc64, RdbError, MAGIC, RDB_VERSION_READ_MAX};
use crate::db::Value;

/// The version that added the CRC-64 trailer.
const CHECKSUM_FROM_VERSION: u16 = 5;
const HEADER_BYTES: u64 = 9;

/// One record of an RDB file.
#[derive(Debug)]
pub enum Record {
    /// The file's version, from its header: always the first record.
    Version(u16),
    Aux {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    SelectDb(u32),
    /// Sizing hints: the next database's keys, and how many carry a TTL.
    ResizeDb {
        keys: u64,
        expires: u64,
    },
    Entry {
        key: Vec<u8>,
        value: Value,
        expire_at_ms: Option<u64>,
        /// LRU idle seconds, when the file carries them.
        idle_s: Option<u64>,
        /// LFU counter, when the file carries it.
        freq: Option<u8>,
    },
    /// A function library (FUNCTION LOAD's source): we have no functions, so the loader
    /// decides whether to skip it or refuse the file.
    Function {
        code: Vec<u8>,
    },
    /// A key whose collection was empty: Redis skips these when loading.
    EmptyKeySkipped {
        key: Vec<u8>,
    },
    /// The end; the checksum matched (or was zero, "not checked").
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Header,
    Body { version: u16 },
    Done,
}

#[derive(Debug)]
pub struct RdbReader {
    buf: Vec<u8>,
    /// Where the next record starts in `buf`.
    pos: usize,
    stage: Stage,
    /// Over every byte taken so far.
    crc: Crc64,
    /// Unparsed bytes needed before the next attempt (0: try now).
    retry_at_bytes: usize,
    input_complete: bool,
}

impl Default for RdbReader {
    fn default() -> Self {
        RdbReader::new()
    }
}

/// What one parse attempt found.
enum Step {
    Record(Record),
    /// Consumed bytes that make no record (an opcode we pass over).
    Skip,
}

impl RdbReader {
    pub fn new() -> RdbReader {
        RdbReader {
            buf: Vec::new(),
            pos: 0,
            stage: Stage::Header,
            crc: Crc64::new(),
            retry_at_bytes: 0,
            input_complete: false,
        }
    }

    /// Adds the next bytes of the file.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Declares that no more bytes will come: a record cut short is then `Truncated`.
    pub fn finish_input(&mut self) {
        self.input_complete = true;
    }

    /// Whether the EOF record was read.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Bytes pushed but not yet consumed.
    pub fn unparsed_bytes(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next record; `Ok(None)` when more bytes are needed (or after EOF).
    pub fn next_record(&mut self, cx: &LoadCx) -> Result<Option<Record>, RdbError> {
        loop {
            if self.stage == Stage::Done {
                return Ok(None);
            }
            let unparsed = self.unparsed_bytes();
            if !self.input_complete && unparsed < self.retry_at_bytes {
                return Ok(None);
            }
            let mut input = Input::new(&self.buf[self.pos..]);
            let attempt = match self.stage {
                Stage::Header => read_header(&mut input),
                Stage::Body { version } => read_body_record(&mut input, version, cx),
                Stage::Done => unreachable!("handled above"),
            };
            match attempt {
                Err(RdbError::Truncated) if !self.input_complete => {
                    self.retry_at_bytes = unparsed.saturating_mul(2).max(unparsed + 1);
                    return Ok(None);
                }
                Err(err) => return Err(err),
                Ok(step) => {
                    let taken = input.pos();
                    self.retry_at_bytes = 0;
                    let end = self.pos + taken;
                    let record = self.commit(end, step)?;
                    if let Some(record) = record {
                        return Ok(Some(record));
                    }
                }
            }
        }
    }

    /// Takes the bytes up to `end` into the checksum and moves past them; checks the trailer at
    /// EOF.
    fn commit(&mut self, end: usize, step: Step) -> Result<Option<Record>, RdbError> {
        let record = match step {
            Step::Skip => None,
            Step::Record(r) => Some(r),
        };
        match (&record, self.stage) {
            (Some(Record::Version(version)), _) => {
                self.crc.update(&self.buf[self.pos..end]);
                self.stage = Stage::Body { version: *version };
            }
            (Some(Record::Eof), Stage::Body { version }) => {
                if version >= CHECKSUM_FROM_VERSION {
                    // The record is the EOF byte and the 8-byte checksum over all before it.
                    let sum_at = end - 8;
                    self.crc.update(&self.buf[self.pos..sum_at]);
                    let stored =
                        u64::from_le_bytes(self.buf[sum_at..end].try_into().expect("8 bytes"));
                    let computed = self.crc.value();
                    if stored != 0 && stored != computed {
                        return Err(RdbError::Checksum { stored, computed });
                    }
                } else {
                    self.crc.update(&self.buf[self.pos..end]);
                }
                self.stage = Stage::Done;
            }
            _ => self.crc.update(&self.buf[self.pos..end]),
        }
        self.pos = end;
        Ok(record)
    }
}

fn read_header(input: &mut Input<'_>) -> Result<Step, RdbError> {
    let header = input.take(HEADER_BYTES)?;
    if &header[..5] != MAGIC || !header[5..].iter().all(u8::is_ascii_digit) {
        return Err(RdbError::BadMagic);
    }
    let version = std::str::from_utf8(&header[5..])
        .ok()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(RdbError::BadMagic)?;
    if version == 0 || version > RDB_VERSION_READ_MAX {
        return Err(RdbError::Version(version));
    }
    Ok(Step::Record(Record::Version(version)))
}

/// One record after the header: the opcodes that prefix a key (deadline, idle, freq) are read
/// with the key, so that a rewind takes them too.
fn read_body_record(input: &mut Input<'_>, version: u16, cx: &LoadCx) -> Result<Step, RdbError> {
    let (mut expire_at_ms, mut idle_s, mut freq) = (None, None, None);
    loop {
        let op = input.u8()?;
        match op {
            opcodes::EOF => {
                if version >= CHECKSUM_FROM_VERSION {
                    input.take(8)?;
                }
                return Ok(Step::Record(Record::Eof));
            }
            opcodes::SELECT_DB => {
                let db = u32::try_from(input.len()?)
                    .map_err(|_| RdbError::Corrupt("database number out of range"))?;
                return Ok(Step::Record(Record::SelectDb(db)));
            }
            opcodes::RESIZE_DB => {
                let keys = input.len()?;
                let expires = input.len()?;
                return Ok(Step::Record(Record::ResizeDb { keys, expires }));
            }
            opcodes::AUX => {
                let key = input.string()?.into_owned();
                let value = input.string()?.into_owned();
                return Ok(Step::Record(Record::Aux { key, value }));
            }
            opcodes::EXPIRETIME => expire_at_ms = Some(u64::from(input.u32_le()?) * 1000),
            opcodes::EXPIRETIME_MS => expire_at_ms = Some(input.u64_le()?),
            opcodes::IDLE => idle_s = Some(input.len()?),
            opcodes::FREQ => freq = Some(input.u8()?),
            opcodes::SLOT_INFO => {
                // Slot id, keys in it, keys with a TTL in it: cluster hints we do not need.
                for _ in 0..3 {
                    input.len()?;
                }
                return Ok(Step::Skip);
            }
            opcodes::MODULE_AUX => return Err(RdbError::Unsupported("module aux data")),
            opcodes::FUNCTION_2 => {
                let code = input.string()?.into_owned();
                return Ok(Step::Record(Record::Function { code }));
            }
            opcodes::FUNCTION_PRE_GA => {
                return Err(RdbError::Unsupported(
                    "function libraries of Redis 7.0's release candidates",
                ))
            }
            type_byte if is_value_type(type_byte, version) => {
                let key = input.string()?.into_owned();
                return Ok(Step::Record(match read_value(input, type_byte, cx)? {
                    Decoded::Value(value) => Record::Entry {
                        key,
                        value,
                        expire_at_ms,
                        idle_s,
                        freq,
                    },
                    Decoded::Empty => Record::EmptyKeySkipped { key },
                }));
            }
            _ => return Err(RdbError::Corrupt("unknown opcode")),
        }
    }
}
