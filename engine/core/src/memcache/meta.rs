//! The meta protocol (`mg ms md ma mn me`): memcached 1.6's two-letter commands with flags.

use super::decode::{refused, request, ERROR};
use super::{Head, Op};
use crate::argv::Argv;

use super::Decoded;

/// A two-letter command `m<which>`, its words in `tokens`.
pub(super) fn command(which: u8, _tokens: &[&[u8]], argv: &mut Argv) -> Decoded {
    match which {
        b'n' => request(Head::new(Op::MetaNoop), &[], argv),
        _ => refused(ERROR, false),
    }
}
