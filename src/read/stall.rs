//! The stall annotation: a `WouldBlock` or `TimedOut` met by a
//! [`FrameReader`](crate::FrameReader) says where in the stream it
//! happened and, when the bytes that arrived explain it, why.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use crate::decode::FrameDecoder;
use crate::error::hint;
use crate::format::HeaderFormat;

/// The message of a stall inside a frame that the other byte order
/// explains (or whose header looks like text or TLS).
#[derive(Debug)]
struct StallHint {
    source: io::Error,
    timed_out: bool,
    got: u64,
    expected: u64,
    format: HeaderFormat,
    what: What,
}

#[derive(Debug)]
enum What {
    /// The header read in the other byte order declares `len` bytes,
    /// which arrived.
    Order { len: u64 },
    /// The header's bytes look like text or TLS.
    Looks(hint::Looks),
}

impl fmt::Display for StallHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.timed_out {
            "timed out"
        } else {
            "would block"
        };
        write!(
            f,
            "{verb} inside a frame: {} of {} payload bytes arrived",
            self.got, self.expected
        )?;
        match &self.what {
            What::Order { len } => {
                let size = self.format.size();
                let code = match (size, self.format.is_signed()) {
                    (2, true) => 'h',
                    (2, false) => 'H',
                    (4, true) => 'i',
                    (4, false) => 'I',
                    (_, true) => 'q',
                    (_, false) => 'Q',
                };
                let (le, _) = hint::python_formats(size);
                if self.format.is_big_endian() {
                    write!(
                        f,
                        "; read little-endian, its header would declare {len} bytes, which \
                         arrived: is the peer writing little-endian headers (Python \
                         struct.pack('{le}') on x86)? try the `<{code}` format"
                    )?;
                } else {
                    write!(
                        f,
                        "; read big-endian, its header would declare {len} bytes, which \
                         arrived: is the peer writing big-endian headers (Python \
                         struct.pack('!{code}'))? try the `!{code}` format"
                    )?;
                }
            }
            What::Looks(l) => write!(f, "; {l}")?,
        }
        // The underlying error's own text, unless it is only its kind.
        if self.source.get_ref().is_some() || self.source.raw_os_error().is_some() {
            write!(f, " [{}]", self.source)?;
        }
        Ok(())
    }
}

impl StdError for StallHint {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

/// Adds a hint to a `WouldBlock` or `TimedOut` error met while the
/// decoder waits inside a frame, when the frame's header, read in the
/// other byte order, declares a frame that `buffered` (the reader's
/// buffer, starting at the frame) already holds whole, or when the
/// header's bytes look like text or TLS. The kind is kept, so retrying
/// works as before. Any other error, or no hint: `err` itself, with no
/// allocation.
pub(crate) fn annotate_stall(decoder: &FrameDecoder, buffered: &[u8], err: io::Error) -> io::Error {
    let timed_out = match err.kind() {
        io::ErrorKind::TimedOut => true,
        io::ErrorKind::WouldBlock => false,
        _ => return err,
    };
    if err.get_ref().is_some_and(|inner| inner.is::<StallHint>()) {
        return err; // already says it
    }
    let Some(end) = decoder.frame_end() else {
        return err;
    };
    let codec = decoder.codec();
    let (offset, size, header_len) = (
        codec.length_field_offset(),
        codec.format().size(),
        codec.header_len(),
    );
    let Some(field) = buffered.get(offset..offset + size) else {
        return err;
    };
    let got = (buffered.len().min(end) - header_len) as u64;
    let expected = (end - header_len) as u64;
    let what = match other_order_len(codec, field) {
        Some(len) if len < expected && ends_on_other_order_frames(codec, buffered) => {
            What::Order { len }
        }
        _ => {
            let raw = codec.format().decode_raw(field);
            match size {
                2 | 4 | 8 => match hint::looks(raw, size) {
                    Some(l) => What::Looks(l),
                    None => return err,
                },
                _ => return err,
            }
        }
    };
    io::Error::new(
        err.kind(),
        StallHint {
            source: err,
            timed_out,
            got,
            expected,
            format: codec.format(),
            what,
        },
    )
}

/// True when `buffered` is one or more whole frames read in the other
/// byte order, ending exactly at its end: what a peer that wrote its
/// frames that way and then waited leaves behind. (A legitimate 64 KiB
/// frame still arriving reads as 256 bytes the other way too, but its
/// bytes do not end on such a boundary.)
fn ends_on_other_order_frames(codec: &crate::Codec, buffered: &[u8]) -> bool {
    let (offset, size, header_len) = (
        codec.length_field_offset(),
        codec.format().size(),
        codec.header_len(),
    );
    let mut pos = 0usize;
    while pos < buffered.len() {
        let Some(field) = buffered.get(pos + offset..pos + offset + size) else {
            return false;
        };
        let Some(len) = other_order_len(codec, field) else {
            return false;
        };
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|len| (pos + header_len).checked_add(len))
        else {
            return false;
        };
        pos = end;
    }
    pos == buffered.len() && pos > 0
}

/// The payload length the length field declares when read in the other
/// byte order, if the codec would accept it.
fn other_order_len(codec: &crate::Codec, field: &[u8]) -> Option<u64> {
    let mut reversed = [0u8; 8];
    let reversed = &mut reversed[..field.len()];
    reversed.copy_from_slice(field);
    reversed.reverse();
    let value = codec.format().decode(reversed).ok()?;
    let len = i128::from(value) - i128::from(codec.length_adjustment());
    let len = u64::try_from(len).ok()?;
    (len <= codec.max_frame_len() as u64).then_some(len)
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read};

    use super::annotate_stall;
    use crate::Codec;

    /// Hands out its bytes, then fails every read with `kind`.
    struct Stalls {
        data: Vec<u8>,
        kind: io::ErrorKind,
    }

    impl Read for Stalls {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.data.is_empty() {
                return Err(self.kind.into());
            }
            let n = out.len().min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data.drain(..n);
            Ok(n)
        }
    }

    /// A `FrameReader` over `data`, stalling with `kind` once it is read:
    /// the reader's error, annotated as its fill path will annotate it.
    fn stall(codec: Codec, data: Vec<u8>, kind: io::ErrorKind) -> io::Error {
        let mut reader = crate::FrameReader::with_codec(Stalls { data, kind }, codec);
        let err = match reader.read_frame() {
            Err(crate::Error::Io(e)) => e,
            other => panic!("expected the stall, got {other:?}"),
        };
        annotate_stall(reader.decoder(), reader.buffer(), err)
    }

    fn frame_le(len: u32) -> Vec<u8> {
        let mut v = len.to_le_bytes().to_vec();
        v.extend(std::iter::repeat(7u8).take(len as usize));
        v
    }

    #[test]
    fn little_endian_header_read_big_endian_stalls_with_a_hint() {
        for kind in [io::ErrorKind::TimedOut, io::ErrorKind::WouldBlock] {
            let e = stall(Codec::default(), frame_le(256), kind);
            assert_eq!(e.kind(), kind);
            let msg = e.to_string();
            let verb = if kind == io::ErrorKind::TimedOut {
                "timed out"
            } else {
                "would block"
            };
            assert_eq!(
                msg,
                format!(
                    "{verb} inside a frame: 256 of 65536 payload bytes arrived; read \
                     little-endian, its header would declare 256 bytes, which arrived: is the \
                     peer writing little-endian headers (Python struct.pack('i') on x86)? try \
                     the `<I` format"
                )
            );
            assert!(std::error::Error::source(e.get_ref().unwrap()).is_some());
        }
        // The other way round: a big-endian peer and an `<I` reader.
        let mut data = 256u32.to_be_bytes().to_vec();
        data.extend([0u8; 256]);
        let e = stall(
            Codec::new("<I".parse().unwrap()),
            data,
            io::ErrorKind::TimedOut,
        );
        let msg = e.to_string();
        assert!(
            msg.contains("read big-endian, its header would declare 256 bytes"),
            "{msg}"
        );
        assert!(msg.contains("try the `!I` format"), "{msg}");
    }

    #[test]
    fn no_hint_when_the_other_order_does_not_explain_it() {
        let plain = |e: &io::Error| e.get_ref().is_none();
        // Fewer bytes than the other order declares.
        let mut short = frame_le(256);
        short.truncate(4 + 255);
        assert!(plain(&stall(
            Codec::default(),
            short,
            io::ErrorKind::TimedOut
        )));
        // A big-endian frame simply not complete yet.
        let mut data = 1000u32.to_be_bytes().to_vec();
        data.extend([1u8; 300]);
        assert!(plain(&stall(
            Codec::default(),
            data,
            io::ErrorKind::TimedOut
        )));
        // Between frames (only part of a header).
        assert!(plain(&stall(
            Codec::default(),
            vec![0, 0],
            io::ErrorKind::TimedOut
        )));
        // Other kinds pass through untouched.
        let e = stall(
            Codec::default(),
            frame_le(256),
            io::ErrorKind::ConnectionReset,
        );
        assert!(plain(&e));
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    }

    #[test]
    fn text_header_stall_says_so() {
        // An HTTP request to a `!H` port with room for 18 245 bytes ("GE").
        let codec = Codec::new("!H".parse().unwrap());
        let e = stall(
            codec,
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            io::ErrorKind::TimedOut,
        );
        assert_eq!(
            e.to_string(),
            "timed out inside a frame: 25 of 18245 payload bytes arrived; the header bytes \
             are \"GE\": the peer seems to speak HTTP, not length-prefixed frames"
        );
    }
}
