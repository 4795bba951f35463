//! Feeds arbitrary bytes to the RESP decoder, whole and cut into arbitrary chunks, and checks
//! that it never panics and that both feedings give the same commands and the same first error.
//!
//! Input layout: byte 0 picks the decoder's settings (authenticated or not, a tiny or the
//! default bulk length limit); bytes 1..9 seed the chunk sizes; the rest is the stream.

#![no_main]

use damselfly_core::argv::Argv;
use damselfly_core::resp::{Decoder, Limits, ProtocolError};
use libfuzzer_sys::fuzz_target;

/// Commands decoded, and the error that ended the stream if any.
type Outcome = (Vec<Argv>, Option<ProtocolError>);

/// The most bytes one chunk may hold; small, so that cuts land inside lines and payloads.
const CHUNK_LEN_MAX_BYTES: u64 = 64;

fn decoder(settings: u8) -> Decoder {
    let bulk_len_max_bytes = if settings & 2 == 0 {
        512 * 1024 * 1024
    } else {
        8
    };
    let mut decoder = Decoder::new(Limits { bulk_len_max_bytes });
    decoder.set_authenticated(settings & 1 == 0);
    decoder
}

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

/// Cuts `stream` into chunks whose sizes come from a small xorshift generator seeded by `seed`.
fn chunks(stream: &[u8], seed: u64) -> Vec<&[u8]> {
    let mut state = seed | 1;
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % CHUNK_LEN_MAX_BYTES) as usize;
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        out.push(chunk);
        rest = tail;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&settings, rest)) = data.split_first() else {
        return;
    };
    let (seed, stream) = rest.split_at(rest.len().min(8));
    let mut seed_bytes = [0u8; 8];
    seed_bytes[..seed.len()].copy_from_slice(seed);
    let seed = u64::from_le_bytes(seed_bytes);

    let whole = drive(&mut decoder(settings), [stream]);
    let chunked = drive(&mut decoder(settings), chunks(stream, seed));
    assert_eq!(whole, chunked, "whole and chunked feeding disagree");
});
