//! The one error type of the crate. Without feature `std` it has no I/O
//! variant and carries no heap data (`&'static str` reasons, characters
//! and numbers), so it works with neither `std` nor an allocator.

use core::fmt;
#[cfg(feature = "std")]
use std::io;

mod fault;
pub(crate) mod hint;

pub(crate) use fault::Fault;

/// Which part of a frame the stream ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FramePart {
    /// The stream ended inside the length header.
    Header,
    /// The stream ended inside the payload.
    Payload,
}

impl fmt::Display for FramePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FramePart::Header => "header",
            FramePart::Payload => "payload",
        })
    }
}

/// Everything that can go wrong while configuring, decoding, encoding,
/// reading or writing frames.
///
/// Data errors carry the numbers that explain them. `Debug` shows the
/// variant and its fields followed by the message, so `fn main() ->
/// Result<(), Box<dyn Error>>` ending in an error prints the diagnosis too
/// (`Error: FrameTooLarge { len: 83886080, max: 8388608 }: frame of
/// 83886080 bytes exceeds ...`). `Error` converts into
/// [`io::Error`] with a natural [`io::ErrorKind`]:
///
/// | variant | `io::ErrorKind` |
/// |---|---|
/// | [`Error::Truncated`] | `UnexpectedEof` |
/// | [`Error::Io`] | the kind of the wrapped error (`WouldBlock`, `TimedOut`, ... pass through) |
/// | [`Error::WriterPoisoned`] | `BrokenPipe` |
/// | [`Error::BadFormat`], [`Error::BadConfig`], [`Error::BufferTooSmall`], [`Error::FrameTooLargeToSend`] | `InvalidInput` |
/// | every other variant | `InvalidData` |
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "std")]
/// # fn main() -> Result<(), lenframe::Error> {
/// use lenframe::{Codec, Error};
///
/// let codec = Codec::builder().max_frame_len(4).build()?;
/// let err = codec.encode_to_vec("hello", &mut Vec::new()).unwrap_err();
/// assert!(matches!(err, Error::FrameTooLargeToSend { len: 5, max: 4 }));
/// assert_eq!(
///     err.to_string(),
///     "cannot send a frame of 5 bytes: the maximum is 4 (Codec::max_frame_len)"
/// );
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
///
/// // Receiving, the message says what the header's bytes look like.
/// let mut dec = lenframe::FrameDecoder::default();
/// let err = dec.decode_slice(b"GET / HTTP/1.1\r\n").unwrap_err();
/// assert!(matches!(err, Error::FrameTooLarge { len: 1195725856, .. }));
/// assert!(err.to_string().ends_with(
///     "(the header bytes are \"GET \": the peer seems to speak HTTP, not length-prefixed frames)"
/// ));
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "std"))]
/// # fn main() {}
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A received frame's header declares a payload length over the
    /// configured maximum (decoding only; a payload too long to send is
    /// [`Error::FrameTooLargeToSend`]). Lengths count payload bytes, without
    /// the header.
    ///
    /// The message adds a hint when the value's bytes explain it: what it
    /// would be in the other byte order if that is within the maximum, or
    /// that the bytes are text (`"GET "`) or a TLS handshake.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes{}", hint::TooLarge(*.len, *.max))]
    FrameTooLarge {
        /// The payload length declared by the header.
        len: u64,
        /// The largest payload length allowed.
        max: u64,
    },
    /// A signed header format carried a negative length. The message adds
    /// the value the header would have in the other byte order when that is
    /// a plausible length.
    #[error("negative frame length {value} in header{}", hint::Negative(*.value))]
    NegativeLength {
        /// The value read from the header.
        value: i64,
    },
    /// Applying the length adjustment to a length gave a value below zero
    /// or above what the integer can hold.
    #[error("length {value} with length adjustment {adjustment} is out of range")]
    AdjustmentOverflow {
        /// The header value (decoding) or payload length (encoding).
        value: u64,
        /// The configured length adjustment.
        adjustment: i64,
    },
    /// The stream ended in the middle of a frame. Inside a payload, the
    /// message adds a hint when the header's bytes explain it: in the other
    /// byte order the frame would have been complete, or they are text or
    /// a TLS handshake.
    #[error(
        "stream ended inside a frame {part}: got {got} of {expected} bytes{}",
        hint::Cut(*.part, *.got, *.expected)
    )]
    Truncated {
        /// Whether the header or the payload was cut.
        part: FramePart,
        /// How many bytes of that part arrived.
        got: u64,
        /// How many bytes that part should have had. For a varint header
        /// cut short (every byte so far saying more follow), one more
        /// than arrived: the least it could still have needed.
        expected: u64,
    },
    /// A varint length header (format `"varint"` or `"varint-strict"`)
    /// that no varint writer produces: no end within 10 bytes (9 strict),
    /// a value over 64 bits, or (strict) a longer encoding than the value
    /// needs. Reported as soon as the header's bytes prove it, before any
    /// payload is buffered; the stream cannot be trusted after it. The
    /// message names the likely cause (a peer that writes fixed-size
    /// headers, or no frames at all).
    #[error("bad varint length header: {reason}")]
    BadVarint {
        /// What is wrong with it.
        reason: &'static str,
        /// How many header bytes were read when it proved bad.
        len: u64,
    },
    /// A payload to send is longer than [`Codec::max_frame_len`](crate::Codec::max_frame_len)
    /// (which never exceeds what the header can express; for
    /// [`FrameWriter::write_frame_from`](crate::FrameWriter::write_frame_from),
    /// what the header can express). Nothing was written.
    #[error("cannot send a frame of {len} bytes: the maximum is {max} (Codec::max_frame_len)")]
    FrameTooLargeToSend {
        /// The payload length offered to encode.
        len: u64,
        /// The largest payload length allowed.
        max: u64,
    },
    /// A header format string is not a Python `struct` format of one integer.
    #[error("bad header format: {reason}{}", FoundChar(*.found))]
    BadFormat {
        /// What is wrong with it.
        reason: &'static str,
        /// The character at fault, if one is: `Some('x')` for `"!x"`,
        /// `None` for an empty string.
        found: Option<char>,
    },
    /// A combination of settings given to [`CodecBuilder`](crate::CodecBuilder)
    /// cannot work: `value` breaks `bound` in the way `reason` says.
    #[error("bad codec configuration: {reason} (got {value}, bound {bound})")]
    BadConfig {
        /// Which rule the settings break.
        reason: &'static str,
        /// The offending quantity.
        value: u64,
        /// The limit it breaks.
        bound: u64,
    },
    /// A frame to encode does not fit in the caller's buffer
    /// ([`Codec::encode_to_slice`](crate::Codec::encode_to_slice)).
    #[error("cannot encode a frame of {needed} bytes (header included) into a buffer of {available} bytes")]
    BufferTooSmall {
        /// The frame's length, header included.
        needed: u64,
        /// The buffer's length.
        available: u64,
    },
    /// An earlier hard I/O error left a partly written frame behind; the
    /// writer refuses further frames rather than emit a misaligned stream.
    #[error("writer failed earlier and refuses further frames")]
    WriterPoisoned,
    /// An I/O error from the underlying reader or writer (feature `std`).
    #[cfg(feature = "std")]
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// The variant and its fields, as a derived `Debug` shows them, then `: `
/// and the message with its hint: what `main` returning `Err` prints.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::FrameTooLarge { len, max } => f
                .debug_struct("FrameTooLarge")
                .field("len", len)
                .field("max", max)
                .finish(),
            Error::NegativeLength { value } => f
                .debug_struct("NegativeLength")
                .field("value", value)
                .finish(),
            Error::AdjustmentOverflow { value, adjustment } => f
                .debug_struct("AdjustmentOverflow")
                .field("value", value)
                .field("adjustment", adjustment)
                .finish(),
            Error::Truncated {
                part,
                got,
                expected,
            } => f
                .debug_struct("Truncated")
                .field("part", part)
                .field("got", got)
                .field("expected", expected)
                .finish(),
            Error::BadVarint { reason, len } => f
                .debug_struct("BadVarint")
                .field("reason", reason)
                .field("len", len)
                .finish(),
            Error::FrameTooLargeToSend { len, max } => f
                .debug_struct("FrameTooLargeToSend")
                .field("len", len)
                .field("max", max)
                .finish(),
            Error::BadFormat { reason, found } => f
                .debug_struct("BadFormat")
                .field("reason", reason)
                .field("found", found)
                .finish(),
            Error::BadConfig {
                reason,
                value,
                bound,
            } => f
                .debug_struct("BadConfig")
                .field("reason", reason)
                .field("value", value)
                .field("bound", bound)
                .finish(),
            Error::BufferTooSmall { needed, available } => f
                .debug_struct("BufferTooSmall")
                .field("needed", needed)
                .field("available", available)
                .finish(),
            Error::WriterPoisoned => f.write_str("WriterPoisoned"),
            #[cfg(feature = "std")]
            Error::Io(e) => f.debug_tuple("Io").field(&e.kind()).finish(),
        }?;
        write!(f, ": {self}")
    }
}

/// Displays `, found 'x'` for a bad format's character, nothing for none.
struct FoundChar(Option<char>);

impl fmt::Display for FoundChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(c) => write!(f, ", found {c:?}"),
            None => Ok(()),
        }
    }
}

impl Error {
    /// True for a retryable I/O condition (`WouldBlock`, `TimedOut` or
    /// `Interrupted`): nothing was lost and the same call can be made again.
    /// (Feature `std`: without it there is no I/O.)
    ///
    /// ```
    /// use std::io;
    /// let e = lenframe::Error::from(io::Error::from(io::ErrorKind::WouldBlock));
    /// assert!(e.is_retryable());
    /// ```
    #[cfg(feature = "std")]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Io(e) if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
        ))
    }
}

#[cfg(feature = "std")]
impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        let kind = match &err {
            Error::Io(_) => {
                let Error::Io(e) = err else { unreachable!() };
                return e;
            }
            Error::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            Error::WriterPoisoned => io::ErrorKind::BrokenPipe,
            Error::BadFormat { .. }
            | Error::BadConfig { .. }
            | Error::BufferTooSmall { .. }
            | Error::FrameTooLargeToSend { .. } => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, err)
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn io_kinds() {
        let cases: Vec<(Error, io::ErrorKind)> = vec![
            (
                Error::FrameTooLarge { len: 2, max: 1 },
                io::ErrorKind::InvalidData,
            ),
            (
                Error::NegativeLength { value: -1 },
                io::ErrorKind::InvalidData,
            ),
            (
                Error::AdjustmentOverflow {
                    value: 1,
                    adjustment: 4,
                },
                io::ErrorKind::InvalidData,
            ),
            (
                Error::Truncated {
                    part: FramePart::Header,
                    got: 1,
                    expected: 4,
                },
                io::ErrorKind::UnexpectedEof,
            ),
            (Error::WriterPoisoned, io::ErrorKind::BrokenPipe),
            (
                Error::BadConfig {
                    reason: "x",
                    value: 2,
                    bound: 1,
                },
                io::ErrorKind::InvalidInput,
            ),
            (
                io::Error::from(io::ErrorKind::WouldBlock).into(),
                io::ErrorKind::WouldBlock,
            ),
            (
                io::Error::from(io::ErrorKind::TimedOut).into(),
                io::ErrorKind::TimedOut,
            ),
        ];
        for (err, kind) in cases {
            assert_eq!(io::Error::from(err).kind(), kind);
        }
    }

    /// Issue 19: `main` returning `Err` prints the `Debug` form, which
    /// dropped the hint that `Display` gives.
    #[test]
    fn debug_carries_the_diagnosis() {
        let err = Error::FrameTooLarge {
            len: 83_886_080,
            max: 8_388_608,
        };
        let shown = format!("{:?}", Box::<dyn std::error::Error>::from(err));
        assert!(
            shown.starts_with(
                "FrameTooLarge { len: 83886080, max: 8388608 }: frame of 83886080 bytes \
                 exceeds the maximum of 8388608 bytes (as a 4-byte length in the other byte \
                 order it would be 5"
            ),
            "{shown}"
        );
        assert!(shown.contains("struct.pack('i')"), "{shown}");
        let io = Error::Io(io::Error::new(io::ErrorKind::WouldBlock, "no bytes"));
        assert_eq!(format!("{io:?}"), "Io(WouldBlock): i/o error: no bytes");
        assert_eq!(
            format!("{:?}", Error::WriterPoisoned),
            "WriterPoisoned: writer failed earlier and refuses further frames"
        );
    }

    #[test]
    fn messages_are_lowercase_without_period() {
        let e = Error::Truncated {
            part: FramePart::Payload,
            got: 3,
            expected: 10,
        };
        assert_eq!(
            e.to_string(),
            "stream ended inside a frame payload: got 3 of 10 bytes"
        );
        for e in [
            Error::NegativeLength { value: -5 },
            Error::WriterPoisoned,
            Error::AdjustmentOverflow {
                value: 1,
                adjustment: 2,
            },
        ] {
            let s = e.to_string();
            assert!(s.chars().next().unwrap().is_lowercase(), "{s}");
            assert!(!s.ends_with('.'), "{s}");
        }
    }
}
