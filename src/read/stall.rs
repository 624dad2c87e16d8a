//! The stall annotation: a `WouldBlock` or `TimedOut` met by a
//! [`FrameReader`](crate::FrameReader) says where in the stream it
//! happened and, when the bytes that arrived explain it, why.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use crate::decode::FrameDecoder;
use crate::error::hint;
use crate::format::HeaderFormat;
use crate::varint::Rules;

/// What a `WouldBlock` or `TimedOut` from the inner reader says once the
/// reader has annotated it: where in the stream it came, and why when the
/// bytes that arrived explain it.
struct Stall {
    source: io::Error,
    at: Where,
    /// Whether the peer may be waiting for frames of ours that a
    /// `FrameWriter` still holds (`Framed` flushes before every read, so
    /// not there).
    flush_advice: bool,
}

/// Where the reader stood in the stream.
#[derive(Debug)]
enum Where {
    /// At a frame boundary, nothing of the next frame buffered.
    Between,
    /// Inside a header: `got` of its `len` bytes arrived; `varint`: the
    /// bytes are whole varint-prefixed frames (a fixed header's reader
    /// fed a varint writer's frames).
    Header {
        got: usize,
        len: usize,
        varint: Option<usize>,
    },
    /// Inside a varint header: `got` bytes arrived, each with its
    /// continuation bit set.
    VarintHeader { got: usize },
    /// Inside a payload, with the hint the bytes support, if any.
    Payload {
        got: u64,
        expected: u64,
        format: HeaderFormat,
        hint: Option<What>,
    },
    /// Inside a frame being streamed or skipped: `left` bytes to come.
    Passing { left: usize, streamed: bool },
}

#[derive(Debug)]
enum What {
    /// The header read in the other byte order declares `len` bytes,
    /// which arrived.
    Order { len: u64 },
    /// The header's bytes look like text or TLS, and the bytes after
    /// them agree.
    Looks(hint::Looks),
    /// The bytes that arrived are `frames` whole frames with varint
    /// length prefixes, ending where the stall came.
    Varint { frames: usize },
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.source.kind() == io::ErrorKind::TimedOut {
            "timed out"
        } else {
            "would block"
        };
        match &self.at {
            Where::Between => {
                write!(
                    f,
                    "{verb} between frames: no byte of the next frame has arrived (a read \
                     timeout expired, or a nonblocking socket has nothing to read yet)"
                )?;
                if self.flush_advice {
                    f.write_str(
                        "; if the peer waits for frames of yours, were they flushed? \
                         (a FrameWriter sends only on flush, or when its buffer fills)",
                    )?;
                }
            }
            Where::Header { got, len, varint } => {
                write!(
                    f,
                    "{verb} inside a frame header: {got} of its {len} bytes arrived"
                )?;
                if let Some(frames) = varint {
                    varint_hint(f, *frames)?;
                }
            }
            Where::VarintHeader { got } => write!(
                f,
                "{verb} inside a varint frame header: {got} bytes arrived, each saying \
                 that more follow"
            )?,
            Where::Payload {
                got,
                expected,
                format,
                hint,
            } => {
                write!(
                    f,
                    "{verb} inside a frame: {got} of {expected} payload bytes arrived"
                )?;
                match hint {
                    Some(What::Order { len }) => order_hint(f, *format, *len)?,
                    Some(What::Looks(l)) => write!(f, "; {l}")?,
                    Some(What::Varint { frames }) => varint_hint(f, *frames)?,
                    None => {}
                }
            }
            Where::Passing { left, streamed } => {
                let what = if *streamed {
                    "a streamed frame"
                } else {
                    "an oversize frame being skipped"
                };
                write!(f, "{verb} inside {what}: {left} of its bytes still to come")?;
            }
        }
        // The underlying error's own text, unless it is only its kind.
        if self.source.get_ref().is_some() || self.source.raw_os_error().is_some() {
            write!(f, " [{}]", self.source)?;
        }
        Ok(())
    }
}

/// "; read little-endian, its header would declare ...".
fn order_hint(f: &mut fmt::Formatter<'_>, format: HeaderFormat, len: u64) -> fmt::Result {
    let size = format.size();
    let code = match (size, format.is_signed()) {
        (2, true) => 'h',
        (2, false) => 'H',
        (4, true) => 'i',
        (4, false) => 'I',
        (_, true) => 'q',
        (_, false) => 'Q',
    };
    let (le, _) = hint::python_formats(size);
    if format.is_big_endian() {
        write!(
            f,
            "; read little-endian, its header would declare {len} bytes, which \
             arrived: is the peer writing little-endian headers (Python \
             struct.pack('{le}') on x86)? try the `<{code}` format"
        )
    } else {
        write!(
            f,
            "; read big-endian, its header would declare {len} bytes, which \
             arrived: is the peer writing big-endian headers (Python \
             struct.pack('!{code}'))? try the `!{code}` format"
        )
    }
}

/// "; the bytes that arrived are whole varint-prefixed frames ...".
fn varint_hint(f: &mut fmt::Formatter<'_>, frames: usize) -> fmt::Result {
    let (count, are) = if frames == 1 {
        ("one whole frame", "is")
    } else {
        ("whole frames", "are")
    };
    write!(
        f,
        "; the bytes that arrived {are} {count} with a varint length prefix, \
         ending where the stall came: is the peer writing varint \
         (protobuf-delimited) headers, as writeDelimitedTo or \
         serialize_length_prefixed do? try the `varint` format"
    )
}

/// The message, as `io::Error::new(kind, "message")` shows its own: what
/// `main` returning an `io::Error` prints.
impl fmt::Debug for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl StdError for Stall {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

/// Says where a `WouldBlock` or `TimedOut` error met by the reader came:
/// between frames, inside a header, inside a payload (with a hint when the
/// bytes support one: see [`payload_hint`]) or inside a streamed or skipped
/// frame. `buffered` is the reader's buffer, starting at the frame in
/// progress. The kind is kept, so retrying works as before. Any other
/// error is returned untouched.
pub(crate) fn annotate_stall(
    decoder: &FrameDecoder,
    buffered: &[u8],
    err: io::Error,
    flush_advice: bool,
) -> io::Error {
    if !matches!(
        err.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) || err.get_ref().is_some_and(|inner| inner.is::<Stall>())
    {
        return err;
    }
    let codec = decoder.codec();
    let at =
        if let (Some(end), Some(header_len)) = (decoder.frame_end(), decoder.frame_header_len()) {
            Where::Payload {
                got: (buffered.len().min(end) - header_len) as u64,
                expected: (end - header_len) as u64,
                format: codec.format(),
                hint: payload_hint(decoder, buffered, end),
            }
        } else if decoder.is_at_boundary() {
            match buffered.len() {
                0 => Where::Between,
                got if codec.format().is_varint() => Where::VarintHeader { got },
                got => Where::Header {
                    got,
                    len: codec.header_len(),
                    varint: varint_frames(buffered),
                },
            }
        } else if decoder.is_failed() {
            return err;
        } else {
            Where::Passing {
                left: decoder.needed(buffered.len()),
                streamed: decoder.stream_remaining().is_some(),
            }
        };
    io::Error::new(
        err.kind(),
        Stall {
            source: err,
            at,
            flush_advice,
        },
    )
}

/// The hint for a stall inside the payload of the frame that ends at
/// `end` in `buffered`, when the bytes that arrived support it:
///
/// * the byte order: the header read the other way declares a shorter
///   frame, and the bytes are whole frames read that way, ending where the
///   stall came (see [`ends_on_other_order_frames`]);
/// * text: the header's bytes are text, and so is every byte that arrived
///   (a protocol's known prefix must be the first bytes on the wire);
/// * TLS: the bytes are one whole TLS record (a client waiting for the
///   server's hello).
///
/// A header alone is never enough: every header the codec accepted may be
/// a legitimate frame's.
fn payload_hint(decoder: &FrameDecoder, buffered: &[u8], end: usize) -> Option<What> {
    let codec = decoder.codec();
    if codec.format().is_varint() {
        // What a varint reader fed fixed headers stalls on starts inside
        // the fixed frame it misread: no boundary to check from.
        return None;
    }
    let (offset, size, header_len) = (
        codec.length_field_offset(),
        codec.format().size(),
        codec.header_len(),
    );
    let field = buffered.get(offset..offset + size)?;
    let expected = (end - header_len) as u64;
    match other_order_len(codec, field) {
        Some(len) if len < expected && ends_on_other_order_frames(codec, buffered) => {
            return Some(What::Order { len });
        }
        _ => {}
    }
    if let Some(frames) = varint_frames(buffered) {
        return Some(What::Varint { frames });
    }
    if !matches!(size, 2 | 4 | 8) {
        return None;
    }
    let looks = hint::looks(codec.format().decode_raw(field), size)?;
    looks.confirmed_by(buffered).then_some(What::Looks(looks))
}

/// How many frames `buffered` holds if it is whole frames with varint
/// length prefixes (shortest encodings), none of them empty, each
/// starting as a protobuf message does (a field tag), ending exactly at
/// its end, and not one byte repeated: what a peer writing
/// protobuf-delimited frames to a fixed-header reader, and then waiting,
/// leaves behind. An empty frame is no evidence (a fixed header's zero
/// bytes read as a run of them), and neither is a first byte of 0 (every
/// big-endian header of a length below 16 MiB starts with one).
fn varint_frames(buffered: &[u8]) -> Option<usize> {
    let mut pos = 0;
    let mut frames = 0;
    let mut first_header = None;
    while pos < buffered.len() {
        let Ok(Some((len, header))) = crate::varint::read(&buffered[pos..], Rules::Strict) else {
            return None;
        };
        // A protobuf message starts with a field's tag: a field number of
        // 1 or more and a wire type of 0, 1, 2 or 5.
        let tag = *buffered.get(pos + header)?;
        if len == 0 || tag < 8 || !matches!(tag & 7, 0 | 1 | 2 | 5) {
            return None;
        }
        pos = usize::try_from(len)
            .ok()
            .and_then(|len| (pos + header).checked_add(len))?;
        first_header.get_or_insert(header);
        frames += 1;
    }
    // A payload of one byte repeated (zeros, or any tag-like byte) reads
    // as a run of equal frames: no evidence.
    let payload = &buffered[first_header?..];
    (pos == buffered.len() && payload.iter().any(|&b| b != payload[0])).then_some(frames)
}

/// True when `buffered` is one or more whole frames read in the other
/// byte order, ending exactly at its end: what a peer that wrote its
/// frames that way and then waited leaves behind. (A legitimate 64 KiB
/// frame still arriving reads as 256 bytes the other way too, but its
/// bytes rarely end on such a boundary.)
///
/// Every header after the first must read differently reversed: one
/// whose bytes are the same both ways (all zeros, say) is no evidence of
/// the byte order, and a zero-filled payload reads as a run of such empty
/// frames, so a legitimate zero-filled frame stalled at any multiple of
/// the header's size would otherwise match. For the same reason a payload
/// that arrived as zeros only is no evidence either.
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
        if pos > 0 && field.iter().eq(field.iter().rev()) {
            return false;
        }
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
    pos == buffered.len() && pos > 0 && buffered[header_len..].iter().any(|&b| b != 0)
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

    /// The error of a `FrameReader` over `data` that stalls with `kind`
    /// once `data` is read.
    fn stall(codec: Codec, data: Vec<u8>, kind: io::ErrorKind) -> io::Error {
        let mut reader = crate::FrameReader::with_codec(Stalls { data, kind }, codec);
        match reader.read_frame() {
            Err(crate::Error::Io(e)) => e,
            other => panic!("expected the stall, got {other:?}"),
        }
    }

    /// True if the message carries a hint (byte order, text or TLS).
    fn hinted(e: &io::Error) -> bool {
        let msg = e.to_string();
        msg.contains("header would declare") || msg.contains("the header bytes")
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
        data.extend([b'x'; 256]);
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
        // Two little-endian frames, then the stall.
        let mut two = frame_le(256);
        two.extend(frame_le(3));
        assert!(hinted(&stall(
            Codec::default(),
            two,
            io::ErrorKind::WouldBlock
        )));
    }

    #[test]
    fn no_hint_when_the_other_order_does_not_explain_it() {
        // Fewer bytes than the other order declares.
        let mut short = frame_le(256);
        short.truncate(4 + 255);
        assert!(!hinted(&stall(
            Codec::default(),
            short,
            io::ErrorKind::TimedOut
        )));
        // A big-endian frame simply not complete yet.
        let mut data = 1000u32.to_be_bytes().to_vec();
        data.extend([1u8; 300]);
        let e = stall(Codec::default(), data, io::ErrorKind::TimedOut);
        assert_eq!(
            e.to_string(),
            "timed out inside a frame: 300 of 1000 payload bytes arrived"
        );
        // Other kinds pass through untouched.
        let e = stall(
            Codec::default(),
            frame_le(256),
            io::ErrorKind::ConnectionReset,
        );
        assert!(e.get_ref().is_none());
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    }

    /// Issue 19: a legitimate zero-filled frame (padding, images, sparse
    /// files) reads as a run of empty frames in the other byte order, so
    /// any stall at a multiple of 4 bytes after the first 260 matched.
    #[test]
    fn a_zero_filled_frame_stalled_anywhere_gets_no_byte_order_hint() {
        // Under Miri, a sample: one length, every 97th stall.
        let (step, lens): (usize, &[u32]) = if cfg!(miri) {
            (97, &[65_536])
        } else {
            (1, &[65_536, 131_072, 196_608, 1 << 20])
        };
        for &len in lens {
            let mut frame = len.to_be_bytes().to_vec();
            frame.resize(4 + len as usize, 0);
            for arrived in (0..=3000)
                .step_by(step)
                .chain([256, 1460, 2920, 8192, 65_535])
            {
                let data = frame[..4 + arrived].to_vec();
                let e = stall(Codec::default(), data, io::ErrorKind::WouldBlock);
                assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                assert!(!hinted(&e), "{len} B frame, {arrived} arrived: {e}");
            }
        }
        // Every constant fill, at the 1460 bytes.
        for byte in (0..=255u8).step_by(step) {
            let mut data = 65_536u32.to_be_bytes().to_vec();
            data.resize(4 + 1460, byte);
            let e = stall(Codec::default(), data, io::ErrorKind::WouldBlock);
            assert!(!hinted(&e), "fill {byte:#04x}: {e}");
        }
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
        // A legitimate 18 245-byte binary frame, whose header happens to be
        // "GE", gets none.
        let mut data = b"GE".to_vec();
        data.extend([0x80; 300]);
        let e = stall(codec, data, io::ErrorKind::TimedOut);
        assert!(!hinted(&e), "{e}");
        // Nor does a text frame not starting with the protocol's prefix.
        let mut data = b"GE".to_vec();
        data.extend(b"nerated report: all good");
        assert!(!hinted(&stall(codec, data, io::ErrorKind::TimedOut)));
    }

    #[test]
    fn a_tls_hello_that_arrived_whole_says_so() {
        // A 4-byte little-endian reader with room for a TLS record's
        // header read as a length (0x0201_0316 = 33 MiB).
        let codec = Codec::builder()
            .format("<I".parse().unwrap())
            .max_frame_len(64 << 20)
            .build()
            .unwrap();
        // A record of 0x200 bytes: a ClientHello of 0x1fc.
        let mut hello = vec![
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ];
        hello.resize(5 + 0x200, 0x5a);
        let e = stall(codec, hello.clone(), io::ErrorKind::WouldBlock);
        assert!(e.to_string().contains("start a TLS handshake"), "{e}");
        // Part of the record, or more than it: a legitimate frame could
        // look like that.
        let mut part = hello.clone();
        part.truncate(300);
        assert!(!hinted(&stall(codec, part, io::ErrorKind::WouldBlock)));
        let mut more = hello.clone();
        more.push(0);
        assert!(!hinted(&stall(codec, more, io::ErrorKind::WouldBlock)));
        // Review of issue 19: legitimate `<I` frames of 0x0X0316 bytes
        // (header 16 03 0X 00) with zero or constant payloads.
        for (len, fill) in [(0x0316u32, 0u8), (0x01_0316, 7), (0x04_0316, 0)] {
            let mut data = len.to_le_bytes().to_vec();
            data.extend(std::iter::repeat(fill).take(1460.min(len as usize - 1)));
            let e = stall(codec, data, io::ErrorKind::WouldBlock);
            assert!(!hinted(&e), "{len} bytes of {fill}: {e}");
        }
        // `!H` 5 635 (16 03), zeros.
        let mut data = vec![0x16, 0x03];
        data.extend([0; 100]);
        let e = stall(
            Codec::new("!H".parse().unwrap()),
            data,
            io::ErrorKind::WouldBlock,
        );
        assert!(!hinted(&e), "{e}");
    }

    #[test]
    fn a_stall_says_where_it_came() {
        let e = stall(Codec::default(), vec![], io::ErrorKind::WouldBlock);
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(
            e.to_string(),
            "would block between frames: no byte of the next frame has arrived (a read \
             timeout expired, or a nonblocking socket has nothing to read yet); if the peer \
             waits for frames of yours, were they flushed? (a FrameWriter sends only on \
             flush, or when its buffer fills)"
        );
        let e = stall(Codec::default(), vec![0, 0], io::ErrorKind::TimedOut);
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            e.to_string(),
            "timed out inside a frame header: 2 of its 4 bytes arrived"
        );
        // The OS's own words follow.
        let mut reader = crate::FrameReader::new(OsStall);
        let e = io::Error::from(reader.read_frame().unwrap_err());
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(
            e.to_string().starts_with("would block between frames")
                && e.to_string().ends_with("(os error 11)]"),
            "{e}"
        );
        // `io::Error`'s Debug (what `main` returning `io::Result` prints)
        // carries the message too.
        let shown = format!("{e:?}");
        assert!(
            shown.starts_with("Custom { kind: WouldBlock, error: \"would block between frames"),
            "{shown}"
        );
        // Annotated once: a retry after the stall says it the same way.
        assert!(reader
            .read_frame()
            .unwrap_err()
            .to_string()
            .starts_with("i/o error: would block between"));
    }

    /// Review of issue 19: a stall inside a streamed frame says so too.
    #[test]
    fn a_streamed_frame_stall_says_where_it_came() {
        use std::io::Read as _;
        let mut data = 100u32.to_be_bytes().to_vec();
        data.extend([b'x'; 30]);
        let source = Stalls {
            data,
            kind: io::ErrorKind::WouldBlock,
        };
        let mut reader = crate::FrameReader::new(source);
        let mut payload = reader.read_frame_stream(1 << 20).unwrap().unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(payload.read(&mut buf).unwrap(), 30);
        let e = payload.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(
            e.to_string(),
            "would block inside a streamed frame: 70 of its bytes still to come"
        );
    }

    /// Fails every read with EAGAIN, as a socket with a read timeout does.
    struct OsStall;

    impl Read for OsStall {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(11))
        }
    }

    #[test]
    fn framed_does_not_advise_flushing() {
        struct Duplex(Stalls);
        impl Read for Duplex {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                self.0.read(out)
            }
        }
        impl io::Write for Duplex {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let stalls = || {
            Duplex(Stalls {
                data: vec![],
                kind: io::ErrorKind::WouldBlock,
            })
        };
        let mut framed = crate::Framed::new(stalls());
        let msg = framed.recv().unwrap_err().to_string();
        assert!(
            msg.contains("between frames") && !msg.contains("flushed"),
            "{msg}"
        );
    }

    /// Split off a `Framed`, the reader has a writer of its own again: the
    /// advice comes back.
    #[cfg(unix)]
    #[test]
    #[cfg_attr(miri, ignore = "Miri has no nonblocking socketpair")]
    fn a_reader_split_off_framed_advises_flushing_again() {
        let (ours, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let mut framed = crate::Framed::new(&ours);
        let msg = framed.recv().unwrap_err().to_string();
        assert!(!msg.contains("flushed"), "{msg}");
        let (mut reader, _writer) = framed.split();
        let e = reader.read_frame().unwrap_err();
        assert!(e.is_retryable(), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("between frames") && msg.contains("flushed"),
            "{msg}"
        );
    }
}
