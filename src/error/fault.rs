//! `Fault`: the decoder's failure, small and `Copy`, and its conversion
//! into [`Error`].

use super::{Error, FramePart};

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
        }
    }
}
