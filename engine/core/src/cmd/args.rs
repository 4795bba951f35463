//! A cursor over a command's arguments so each parser reads like its grammar, ending in
//! `finish()`, which rejects anything left over.

use crate::argv::Argv;
use crate::error::CmdError;
use crate::numfmt;

pub struct Args<'a> {
    argv: &'a Argv,
    pos: usize,
}

impl<'a> Args<'a> {
    /// A cursor starting at argument `pos` (1 skips the command name).
    pub fn new(argv: &'a Argv, pos: usize) -> Args<'a> {
        Args { argv, pos }
    }

    pub fn remaining(&self) -> usize {
        self.argv.len().saturating_sub(self.pos)
    }

    pub fn is_done(&self) -> bool {
        self.remaining() == 0
    }

    pub fn peek(&self) -> Option<&'a [u8]> {
        self.argv.get(self.pos)
    }

    /// The next argument, or a syntax error when there is none.
    pub fn next_arg(&mut self) -> Result<&'a [u8], CmdError> {
        self.next().ok_or(CmdError::Syntax)
    }

    /// Consumes the next argument when it equals `word` (case-insensitive).
    pub fn eat(&mut self, word: &str) -> bool {
        let hit = self
            .peek()
            .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()));
        if hit {
            self.pos += 1;
        }
        hit
    }

    pub fn next_i64(&mut self) -> Result<i64, CmdError> {
        parse_i64(self.next_arg()?)
    }

    pub fn finish(&self) -> Result<(), CmdError> {
        if self.is_done() {
            Ok(())
        } else {
            Err(CmdError::Syntax)
        }
    }
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let arg = self.argv.get(self.pos)?;
        self.pos += 1;
        Some(arg)
    }
}

/// An integer argument with Redis's strictness (string2ll).
pub fn parse_i64(arg: &[u8]) -> Result<i64, CmdError> {
    numfmt::parse_i64(arg).ok_or(CmdError::NotInteger)
}

pub fn eq_word(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}
