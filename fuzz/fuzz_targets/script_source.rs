//! Runs arbitrary bytes as a Lua script body, as EVAL would compile and run it (the sandbox,
//! `bit`, `cjson`, `cmsgpack`, `struct`, the RESP conversion of whatever it returns), within an
//! instruction budget and a memory bound so that every source ends: no panic, and an error is
//! a reply, never a crash.
//!
//! Input layout: byte 0 is the number of ARGV entries (0..=3) split from the end, each one
//! byte long; the rest is the source.

#![no_main]

use damselfly_core::node::script::vm::run_bounded;
use libfuzzer_sys::fuzz_target;

/// Lua instructions one input may run: enough for real loops, small enough for many runs.
const INSTRUCTIONS_MAX: u64 = 2_000_000;
const MEMORY_MAX_BYTES: usize = 32 << 20;
const ARGS_MAX: usize = 3;

fuzz_target!(|data: &[u8]| {
    let Some((&args, rest)) = data.split_first() else {
        return;
    };
    let args = (args as usize % (ARGS_MAX + 1)).min(rest.len());
    let (source, argv) = rest.split_at(rest.len() - args);
    let argv: Vec<&[u8]> = argv.chunks(1).collect();
    let _ = run_bounded(source, &argv, INSTRUCTIONS_MAX, MEMORY_MAX_BYTES);
});
