//! `Fault`: the decoder's failure, small and `Copy`, and its conversion
//! into [`Error`].

use super::{Error, FramePart};
use crate::varint::{Bad, Rules};

/// A decode failure, small and `Copy` so a failed decoder can repeat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    TooLarge {
        len: u64,
        max: u64,
    },
    Negative {
        value: i64,
    },
    Adjustment {
        value: u64,
        adjustment: i64,
    },
    Truncated {
        part: FramePart,
        got: u64,
        expected: u64,
    },
    /// `Error::BadVarint`, with the same fields in the same place (the
    /// conversion then compiles to a copy: a different shape cost the
    /// fixed-header decode loop 13 instructions a frame, benches/guard.py).
    Varint {
        reason: &'static str,
        /// Header bytes read when the varint proved bad (at most 10).
        len: u64,
    },
}

impl Fault {
    /// The fault for a varint at the front of `buf` that `rules` refuse.
    #[cold]
    pub(crate) fn varint(bad: Bad, rules: Rules, buf: &[u8]) -> Fault {
        let len = match bad {
            // Up to and including the first byte without a continuation bit.
            Bad::NotMinimal => buf.iter().position(|&b| b < 0x80).map_or(0, |i| i + 1),
            Bad::TooLong | Bad::Overflow => rules.max_len(),
        };
        Fault::Varint {
            reason: bad.reason(rules),
            // At most 10: lossless.
            len: len as u64,
        }
    }
}

impl From<Fault> for Error {
    // The error path: cold, so that the decode loops are laid out for the
    // frames (callgrind: benches/per_frame.sh).
    #[cold]
    fn from(f: Fault) -> Error {
        match f {
            Fault::TooLarge { len, max } => Error::FrameTooLarge { len, max },
            Fault::Negative { value } => Error::NegativeLength { value },
            Fault::Adjustment { value, adjustment } => {
                Error::AdjustmentOverflow { value, adjustment }
            }
            Fault::Truncated {
                part,
                got,
                expected,
            } => Error::Truncated {
                part,
                got,
                expected,
            },
            Fault::Varint { reason, len } => Error::BadVarint { reason, len },
        }
    }
}
