//! Arbitrary bytes as an RDB file and as a DUMP payload: `RdbReader` fed the whole input and
//! in pieces must agree (same records, same first error), never panic, never allocate beyond
//! what the input backs; `parse_dump_payload` must never panic, and a value it accepts must
//! encode to a payload that parses back to an equal value.
//!
//! Input layout: byte 0 picks the piece size for the second feeding (1..=256 bytes); the rest is
//! the file. The same rest, with a valid footer added, is the DUMP payload (so corrupt values
//! get past the checksum).

#![no_main]

use damselfly_core::rdb::{
    dump_payload, parse_dump_payload, Crc64, EncodeOptions, LoadCx, RdbReader, RDB_VERSION,
    RDB_VERSION_READ_MAX,
};
use libfuzzer_sys::fuzz_target;

/// What a reader produced: each record's debug text, then the error if any.
fn read_all(data: &[u8], piece: usize) -> (Vec<String>, Option<String>) {
    let cx = LoadCx::default();
    let mut reader = RdbReader::new();
    let mut records = Vec::new();
    for chunk in data.chunks(piece.max(1)) {
        reader.push(chunk);
        loop {
            match reader.next_record(&cx) {
                Ok(Some(r)) => records.push(format!("{r:?}")),
                Ok(None) => break,
                Err(e) => return (records, Some(e.to_string())),
            }
        }
    }
    reader.finish_input();
    loop {
        match reader.next_record(&cx) {
            Ok(Some(r)) => records.push(format!("{r:?}")),
            Ok(None) => return (records, None),
            Err(e) => return (records, Some(e.to_string())),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece, rest)) = data.split_first() else {
        return;
    };
    let mut file = b"REDIS0010".to_vec();
    file.extend_from_slice(rest);
    let whole = read_all(&file, file.len());
    let pieces = read_all(&file, usize::from(piece) + 1);
    assert_eq!(whole, pieces, "feeding in pieces changed the outcome");

    let mut payload = rest.to_vec();
    payload.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = Crc64::of(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    if let Ok(value) = parse_dump_payload(&payload, RDB_VERSION_READ_MAX, &LoadCx::default()) {
        let again = dump_payload(value.as_ref(), &EncodeOptions::default());
        let back = parse_dump_payload(&again, RDB_VERSION_READ_MAX, &LoadCx::default())
            .expect("our own payload parses");
        assert_eq!(back, value, "a value changed through our encoding");
    }
});
