//! Regression tests for the streaming × skip × failure bugs: each test is
//! named after the promise it protects.
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

use crate::common;

use std::io::{self, Read};

use bytes::BytesMut;
use common::{Act, FaultyReader};
use lenframe::{Codec, Error, FrameReader, Oversize};

fn skip_codec(max: usize) -> Codec {
    Codec::builder()
        .max_frame_len(max)
        .oversize(Oversize::Skip)
        .build()
        .unwrap()
}

fn wire(codec: &Codec, frames: &[&[u8]]) -> Vec<u8> {
    let big = codec.with_max_frame_len(usize::MAX).unwrap();
    let mut out = Vec::new();
    for f in frames {
        big.encode_to_vec(f, &mut out).unwrap();
    }
    out
}

/// Bug 1: `end_of_stream` right after an oversize report, with more bytes
/// buffered than the discard still needs, must not panic or wrap; it gives
/// the verdict `decode_eof` would reach.
#[test]
fn end_of_stream_never_panics_after_an_oversize_skip() {
    let codec = skip_codec(4);
    let big = codec.with_max_frame_len(100).unwrap();
    // A 5-byte oversize frame (9 bytes with its header), then 5 bytes:
    // `tail`, a header and payload bytes of the next frame, which is
    // oversize too (`then`) or not.
    for (tail, then) in [
        (
            &b"\0\0\0\x0ax"[..],
            "Truncated { part: Payload, got: 1, expected: 10 }",
        ),
        (
            b"\0\0\0\x03x",
            "Truncated { part: Payload, got: 1, expected: 3 }",
        ),
        (b"\0\0\0\x01x", "Ok(())"),
        (b"\0\0\0", "Truncated { part: Header, got: 3, expected: 4 }"),
        (b"", "Ok(())"),
    ] {
        let mut input = Vec::new();
        big.encode_to_vec(b"hello", &mut input).unwrap();
        input.extend_from_slice(tail);
        let mut dec = codec.new_decoder();
        let mut buf = BytesMut::from(&input[..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(Error::FrameTooLarge { len: 5, max: 4 })
        ));
        let verdict = format!("{:?}", dec.end_of_stream(&buf));
        assert!(verdict.contains(then), "{verdict} for tail {tail:?}");
        // The verdict decode_eof reaches after every frame and report.
        let mut last = String::new();
        for _ in 0..10 {
            match dec.decode_eof(&mut buf) {
                Ok(Some(_)) => continue,
                Err(Error::FrameTooLarge { .. }) => continue,
                end => {
                    last = format!("{:?}", end.map(|_| ()));
                    break;
                }
            }
        }
        assert_eq!(verdict, last);
    }
}

/// Bug 2: after an oversize report under `Oversize::Skip`, streaming goes
/// on with the frames that follow the skipped one.
#[test]
fn read_frame_stream_stays_aligned_after_an_oversize_skip() {
    let codec = skip_codec(4);
    let input = wire(&codec, &[b"0123456789", b"abcdefgh", b"xy"]);
    let mut r = codec.new_read(&input[..]);
    assert!(matches!(
        r.read_frame_stream(4),
        Err(Error::FrameTooLarge { len: 10, max: 4 })
    ));
    let mut got = Vec::new();
    r.read_frame_stream(100)
        .unwrap()
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, b"abcdefgh");
    assert_eq!(r.read_frame().unwrap().as_deref(), Some(&b"xy"[..]));
    assert!(r.read_frame_stream(100).unwrap().is_none());
}

/// Bug 3: streaming while a skip is still in progress finishes the skip
/// first instead of taking skipped payload bytes for a header.
#[test]
fn read_frame_stream_finishes_a_skip_in_progress() {
    let codec = skip_codec(4);
    let big = vec![0x35u8; 3000];
    let input = wire(&codec, &[&big, b"after"]);
    let mut r = codec.new_read(FaultyReader::new(input, vec![Act::Short(100)]));
    assert!(matches!(
        r.read_frame(),
        Err(Error::FrameTooLarge { len: 3000, .. })
    ));
    // The skip has barely started: most of the big frame is still unread.
    let mut got = Vec::new();
    let mut p = r.read_frame_stream(1 << 20).unwrap().unwrap();
    assert_eq!(p.len(), 5);
    p.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"after");
}

/// Bug 4: a failed reader returns its error again from every call,
/// streaming included, even when the stream's own limit would accept the
/// header that failed it.
#[test]
fn read_frame_stream_on_a_failed_reader_repeats_the_error() {
    let codec = Codec::builder().max_frame_len(4).build().unwrap();
    let input = wire(&codec, &[b"too long", b"ok"]);
    let mut r = codec.new_read(&input[..]);
    for _ in 0..2 {
        assert!(matches!(
            r.read_frame(),
            Err(Error::FrameTooLarge { len: 8, max: 4 })
        ));
        assert!(matches!(
            r.read_frame_stream(100),
            Err(Error::FrameTooLarge { len: 8, max: 4 })
        ));
    }
}

/// Bug 4, the negative-length case.
#[test]
fn read_frame_stream_after_a_negative_length_repeats_the_error() {
    let codec = Codec::builder()
        .format("i".parse().unwrap())
        .build()
        .unwrap();
    let mut input = (-1i32).to_ne_bytes().to_vec();
    input.extend_from_slice(&wire(&codec, &[b"ok"]));
    let mut r = codec.new_read(&input[..]);
    assert!(matches!(
        r.read_frame(),
        Err(Error::NegativeLength { value: -1 })
    ));
    assert!(matches!(
        r.read_frame_stream(100),
        Err(Error::NegativeLength { value: -1 })
    ));
    assert!(matches!(
        r.read_frame(),
        Err(Error::NegativeLength { value: -1 })
    ));
}

/// Bug 6: under `Oversize::Skip` a streamed oversize frame is reported
/// once, then skipped, so a loop that goes on after the error ends.
#[test]
fn read_frame_stream_reports_oversize_once_then_skips() {
    let codec = skip_codec(1000);
    let input = wire(&codec, &[&[7u8; 100], b"next"]);
    let mut r = codec.new_read(&input[..]);
    let mut errors = 0;
    let mut frames = Vec::new();
    for _ in 0..10 {
        match r.read_frame_stream(10) {
            Err(Error::FrameTooLarge { len: 100, max: 10 }) => errors += 1,
            Err(e) => panic!("{e}"),
            Ok(Some(mut p)) => {
                let mut f = Vec::new();
                p.read_to_end(&mut f).unwrap();
                frames.push(f);
            }
            Ok(None) => break,
        }
    }
    assert_eq!(errors, 1);
    assert_eq!(frames, [b"next".to_vec()]);
}

/// Bug 8: a streamed frame reads exactly as `read_frame` returns it, header
/// bytes beyond `num_skip` included.
#[test]
fn read_frame_stream_returns_the_same_bytes_as_read_frame() {
    let codec = Codec::builder()
        .format("!H".parse().unwrap())
        .length_field_offset(1)
        .num_skip(1)
        .build()
        .unwrap();
    let input = wire(&codec, &[b"abc", b"de"]);
    let buffered: Vec<Vec<u8>> = codec
        .new_read(&input[..])
        .map(|f| f.unwrap().to_vec())
        .collect();
    assert_eq!(buffered, [b"\0\x03abc".to_vec(), b"\0\x02de".to_vec()]);
    let mut r = codec.new_read(&input[..]);
    let mut streamed = Vec::new();
    while let Some(mut p) = r.read_frame_stream(100).unwrap() {
        let mut f = Vec::new();
        p.read_to_end(&mut f).unwrap();
        assert_eq!(p.len(), f.len() as u64);
        streamed.push(f);
    }
    assert_eq!(streamed, buffered);
}

/// A streamed frame dropped after a `WouldBlock` is drained by the next
/// call instead of leaving the reader misaligned for good.
#[test]
fn dropped_stream_after_would_block_is_drained_by_the_next_call() {
    let input = wire(&Codec::default(), &[b"0123456789", b"next"]);
    let mut r = FrameReader::new(FaultyReader::new(
        input,
        vec![
            Act::Short(7), // header and "012"
            Act::WouldBlock,
            Act::WouldBlock, // met by the next call: dropping does no I/O
            Act::Short(usize::MAX),
        ],
    ));
    {
        let mut p = r.read_frame_stream(100).unwrap().unwrap();
        let mut first = [0u8; 3];
        p.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"012");
        let e = p.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }
    assert!(matches!(r.read_frame(), Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock));
    assert_eq!(r.read_frame().unwrap().as_deref(), Some(&b"next"[..]));
    assert_eq!(r.read_frame().unwrap(), None);
}

/// A `Q` header with a negative adjustment can announce more than
/// `u64::MAX`: the streamed frame's limit saturates instead of collapsing
/// (found by the model corpus while refactoring the limit).
#[test]
fn stream_limit_saturates_for_a_q_header_with_negative_adjustment() {
    let codec = Codec::builder()
        .format("<Q".parse().unwrap())
        .length_adjustment(-3)
        .build()
        .unwrap();
    let input = wire(&codec, &[b"hello"]);
    let mut r = codec.new_read(&input[..]);
    let mut got = Vec::new();
    r.read_frame_stream(usize::MAX)
        .unwrap()
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, b"hello");
}
