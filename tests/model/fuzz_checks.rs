//! The checks behind the `decode`, `reader` and `round_trip` fuzz
//! targets, shared with the stable replay test (`tests/model/fuzz_replay.rs`
//! includes this file), so a corpus file means the same thing under
//! libFuzzer and under `cargo test`. It lives under `tests/` (the fuzz
//! crate includes it by path) so the packaged crate, which leaves `fuzz/`
//! out, still builds its tests.
//!
//! Each check takes arbitrary bytes, derives a configuration and an input
//! from them, and panics only if lenframe breaks a promise.

use std::io::{self, Read};

use bytes::BytesMut;
use lenframe::{Codec, Error, FrameReader, HeaderFormat, Oversize};

const CODES: &[u8] = b"bBhHiIlLqQ";
const ORDERS: &[&str] = &["", "@", "=", "<", ">", "!"];

/// Splits off a configuration from the first 6 bytes (missing bytes are 0).
pub fn config(data: &[u8]) -> (Codec, &[u8]) {
    let mut head = [0u8; 6];
    let n = data.len().min(6);
    head[..n].copy_from_slice(&data[..n]);
    let code = char::from(CODES[usize::from(head[0]) % CODES.len()]);
    let order = ORDERS[usize::from(head[0] / 10) % ORDERS.len()];
    let format: HeaderFormat = format!("{order}{code}").parse().expect("valid format");
    let max = usize::from(u16::from_le_bytes([head[1], head[2]]));
    let adjustment = i64::from(head[3] as i8 % 9);
    let offset = usize::from(head[4] % 4);
    let skip = head[5] & 1 == 1;
    let includes_header = head[5] & 2 == 2;
    let num_skip = (head[5] & 4 == 4).then_some(0);
    let mut b = Codec::builder();
    b.format(format)
        .max_frame_len(max)
        .length_adjustment(adjustment)
        .length_includes_header(includes_header)
        .length_field_offset(offset)
        .oversize(if skip {
            Oversize::Skip
        } else {
            Oversize::Error
        });
    if let Some(n) = num_skip {
        b.num_skip(n);
    }
    let codec = b.build().unwrap_or_else(|_| Codec::new(format));
    (codec, &data[n..])
}

/// What a decode produced: the frames, then how it ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub frames: Vec<Vec<u8>>,
    /// Oversize frames skipped (Oversize::Skip), as (len, max).
    pub skipped: Vec<(u64, u64)>,
    /// `None`: clean end. Otherwise the final error's message.
    pub end: Option<String>,
}

/// Checks that an error is one the decoder documents, with sane numbers.
fn check_error(codec: &Codec, e: &Error) {
    match *e {
        Error::FrameTooLarge { len, max } => {
            assert!(len > max);
            assert_eq!(max, codec.max_frame_len() as u64);
        }
        Error::NegativeLength { value } => {
            assert!(value < 0);
            assert!(codec.format().is_signed());
        }
        Error::AdjustmentOverflow { adjustment, .. } => {
            assert_eq!(adjustment, codec.length_adjustment())
        }
        Error::Truncated { got, expected, .. } => assert!(got < expected),
        ref other => panic!("undocumented decode error: {other}"),
    }
}

/// The reference: the whole input at once through the `BytesMut` face.
pub fn one_shot(codec: &Codec, input: &[u8]) -> Outcome {
    let mut dec = codec.new_decoder();
    let mut buf = BytesMut::from(input);
    let mut out = Outcome {
        frames: Vec::new(),
        skipped: Vec::new(),
        end: None,
    };
    loop {
        match dec.decode_eof(&mut buf) {
            Ok(Some(f)) => {
                assert!(f.len() <= codec.max_frame_len() + codec.header_len());
                out.frames.push(f.to_vec());
            }
            Ok(None) => return out,
            Err(Error::FrameTooLarge { len, max })
                if codec.oversize() == Oversize::Skip && !dec.is_failed() =>
            {
                out.skipped.push((len, max));
            }
            Err(e) => {
                check_error(codec, &e);
                out.end = Some(e.to_string());
                return out;
            }
        }
    }
}

/// Fuzz target `decode`: arbitrary bytes, arbitrary configuration and
/// chunking; the `BytesMut` and slice faces must agree with the one-shot
/// decode, and nothing may panic.
pub fn decode(data: &[u8]) {
    let (codec, rest) = config(data);
    let (chunking, input) = rest.split_at(rest.len().min(4));
    let reference = one_shot(&codec, input);
    let sizes: Vec<usize> = chunking.iter().map(|&c| usize::from(c) + 1).collect();
    let sizes = if sizes.is_empty() { vec![1] } else { sizes };
    // Chunked, BytesMut face.
    let mut dec = codec.new_decoder();
    let mut buf = BytesMut::new();
    let mut got = Outcome {
        frames: Vec::new(),
        skipped: Vec::new(),
        end: None,
    };
    let mut pos = 0;
    let mut i = 0;
    'feed: while pos < input.len() {
        let n = sizes[i % sizes.len()].min(input.len() - pos);
        i += 1;
        buf.extend_from_slice(&input[pos..pos + n]);
        pos += n;
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(f)) => got.frames.push(f.to_vec()),
                Ok(None) => break,
                Err(Error::FrameTooLarge { len, max })
                    if codec.oversize() == Oversize::Skip && !dec.is_failed() =>
                {
                    got.skipped.push((len, max))
                }
                Err(e) => {
                    got.end = Some(e.to_string());
                    break 'feed;
                }
            }
        }
    }
    if got.end.is_none() {
        got.end = dec.end_of_stream(&buf).err().map(|e| e.to_string());
    }
    assert_eq!(got, reference, "chunked decode differs from one-shot");
    // Slice face, byte by byte.
    let mut dec = codec.new_decoder();
    let mut held: Vec<u8> = Vec::new();
    let mut frames = Vec::new();
    for &b in input {
        held.push(b);
        loop {
            match dec.decode_slice(&held) {
                Ok(d) => {
                    let (f, consumed) = (d.frame.map(<[u8]>::to_vec), d.consumed);
                    held.drain(..consumed);
                    match f {
                        Some(f) => frames.push(f),
                        None if consumed == 0 => break,
                        None => {}
                    }
                }
                Err(_) if !dec.is_failed() => {} // oversize reported, skip next
                Err(_) => break,
            }
        }
        if dec.is_failed() {
            break;
        }
    }
    assert_eq!(frames, reference.frames, "slice face differs from one-shot");
}

/// A reader whose chunk sizes and injected `Interrupted` / `WouldBlock` /
/// `TimedOut` come from a script.
pub struct ScriptedReader<'a> {
    data: &'a [u8],
    script: &'a [u8],
    step: usize,
}

impl Read for ScriptedReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let s = if self.script.is_empty() {
            255
        } else {
            self.script[self.step % self.script.len()]
        };
        self.step += 1;
        match s {
            0 => return Err(io::ErrorKind::Interrupted.into()),
            1 => return Err(io::ErrorKind::WouldBlock.into()),
            2 => return Err(io::ErrorKind::TimedOut.into()),
            _ => {}
        }
        let n = usize::from(s).min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Fuzz target `reader`: `FrameReader` over a scripted reader must yield
/// exactly the one-shot decode (differential), whatever the chunking and
/// injected errors.
pub fn reader(data: &[u8]) {
    let (codec, rest) = config(data);
    let script_len = rest.first().map_or(0, |&b| usize::from(b % 8));
    let rest = rest.get(1..).unwrap_or(&[]);
    let (script, input) = rest.split_at(script_len.min(rest.len()));
    // Every cycle of the script must make progress.
    let mut script = script.to_vec();
    script.push(255);
    let reference = one_shot(&codec, input);
    let source = ScriptedReader {
        data: input,
        script: &script,
        step: 0,
    };
    let mut r = FrameReader::with_codec(source, codec);
    let mut got = Outcome {
        frames: Vec::new(),
        skipped: Vec::new(),
        end: None,
    };
    let borrowed = data.first().is_some_and(|b| b & 0x80 != 0);
    let mut retries = 0;
    loop {
        let item = if borrowed {
            r.read_frame_ref().map(|f| f.map(<[u8]>::to_vec))
        } else {
            r.read_frame().map(|f| f.map(|b| b.to_vec()))
        };
        match item {
            Ok(Some(f)) => got.frames.push(f),
            Ok(None) => break,
            Err(e) if e.is_retryable() => {
                retries += 1;
                assert!(retries < 1_000_000, "no progress");
            }
            Err(Error::FrameTooLarge { len, max })
                if codec.oversize() == Oversize::Skip && !r.decoder().is_failed() =>
            {
                got.skipped.push((len, max))
            }
            Err(e) => {
                got.end = Some(e.to_string());
                break;
            }
        }
    }
    assert_eq!(got, reference, "FrameReader differs from one-shot decode");
}

/// Fuzz target `round_trip`: payloads cut from the input, encoded with
/// `Codec::encode` and `FrameWriter`, decode back to themselves.
pub fn round_trip(data: &[u8]) {
    let (codec, rest) = config(data);
    let mut payloads = Vec::new();
    let mut rest = rest;
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n).min(tail.len());
        payloads.push(tail[..n].to_vec());
        rest = &tail[n..];
    }
    let mut wire = BytesMut::new();
    let mut writer = codec.new_write(Vec::new());
    let mut sent = Vec::new();
    for p in &payloads {
        let a = codec.encode(p, &mut wire);
        let b = writer.write_frame(p);
        assert_eq!(a.is_ok(), b.is_ok());
        match a {
            Ok(()) => sent.push(p.clone()),
            Err(Error::FrameTooLargeToSend { len, max }) => {
                assert_eq!(len, p.len() as u64);
                assert!(len > max);
            }
            Err(Error::AdjustmentOverflow { .. }) => assert!(codec.length_adjustment() < 0),
            Err(e) => panic!("undocumented encode error {e}"),
        }
    }
    let written = writer.into_inner().expect("Vec never fails");
    assert_eq!(&wire[..], &written[..], "encode and FrameWriter differ");
    let out = one_shot(&codec, &wire);
    assert_eq!(out.end, None);
    let skip = codec.num_skip();
    let header = codec.header_len();
    let got: Vec<Vec<u8>> = out
        .frames
        .iter()
        .map(|f| f[header - skip..].to_vec())
        .collect();
    assert_eq!(got, sent);
}
