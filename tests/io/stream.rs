//! Streaming frames: bounded payload readers, frames written from a `Read`.
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

use std::io::{self, Read};

use lenframe::{Codec, Error, FrameReader, FrameWriter};

#[test]
fn stream_then_buffered_frames_stay_aligned() {
    let mut w = FrameWriter::new(Vec::new());
    w.write_frame(b"first").unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    w.write_frame_from(big.len() as u64, &mut &big[..]).unwrap();
    w.write_frame(b"last").unwrap();
    let wire = w.into_inner().unwrap();

    // Limit buffered frames to 16 bytes: the big one only passes streamed.
    let codec = Codec::builder().max_frame_len(16).build().unwrap();
    let mut r = codec.new_read(&wire[..]);
    assert_eq!(r.read_frame().unwrap().as_deref(), Some(&b"first"[..]));
    let mut payload = r.read_frame_stream(1 << 20).unwrap().unwrap();
    assert_eq!(payload.len(), big.len() as u64);
    let mut got = Vec::new();
    payload.read_to_end(&mut got).unwrap();
    assert_eq!(got, big);
    assert_eq!(r.read_frame().unwrap().as_deref(), Some(&b"last"[..]));
    assert!(r.read_frame_stream(1 << 20).unwrap().is_none());
}

#[test]
fn dropping_mid_frame_drains_to_the_next_frame() {
    let mut w = FrameWriter::new(Vec::new());
    w.write_frame(vec![9u8; 100_000]).unwrap();
    w.write_frame(b"next").unwrap();
    let wire = w.into_inner().unwrap();
    let mut r = FrameReader::new(&wire[..]);
    {
        let mut p = r.read_frame_stream(1 << 20).unwrap().unwrap();
        let mut some = [0u8; 10];
        p.read_exact(&mut some).unwrap();
        assert_eq!(p.remaining(), 99_990);
    }
    assert_eq!(r.read_frame().unwrap().as_deref(), Some(&b"next"[..]));
}

#[test]
fn stream_limit_applies() {
    let wire = b"\0\0\x10\0";
    let mut r = FrameReader::new(&wire[..]);
    assert!(matches!(
        r.read_frame_stream(100),
        Err(Error::FrameTooLarge {
            len: 4096,
            max: 100
        })
    ));
}

#[test]
fn stream_ending_inside_streamed_payload_is_unexpected_eof() {
    let wire = b"\0\0\0\x0aabc";
    let mut r = FrameReader::new(&wire[..]);
    let mut p = r.read_frame_stream(100).unwrap().unwrap();
    let mut got = Vec::new();
    let err = p.read_to_end(&mut got).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(got, b"abc");
    // The stream ended 7 bytes short of the frame: the reader says so again.
    assert!(matches!(
        r.read_frame(),
        Err(Error::Truncated {
            part: lenframe::FramePart::Payload,
            got: 3,
            expected: 10
        })
    ));
}

#[test]
fn short_source_is_an_error_and_poisons() {
    let mut w = FrameWriter::new(Vec::new());
    let err = w.write_frame_from(10, &mut &b"abc"[..]).unwrap_err();
    match err {
        Error::Io(e) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
        other => panic!("{other}"),
    }
    assert!(matches!(w.write_frame(b"x"), Err(Error::WriterPoisoned)));
}

#[test]
fn long_source_is_an_error_and_poisons() {
    let mut w = FrameWriter::new(Vec::new());
    let err = w.write_frame_from(3, &mut &b"abcdef"[..]).unwrap_err();
    match err {
        Error::Io(e) => assert_eq!(e.kind(), io::ErrorKind::InvalidInput),
        other => panic!("{other}"),
    }
    assert!(matches!(w.write_frame(b"x"), Err(Error::WriterPoisoned)));
}

#[test]
fn streamed_length_must_fit_the_header() {
    let codec = Codec::new("<H".parse().unwrap());
    let mut w = codec.new_write(Vec::new());
    assert!(matches!(
        w.write_frame_from(70_000, &mut io::repeat(0)),
        Err(Error::FrameTooLargeToSend {
            len: 70_000,
            max: 65_535
        })
    ));
    w.write_frame(b"ok").unwrap(); // nothing was written, not poisoned
    assert_eq!(w.into_inner().unwrap(), b"\x02\0ok");
}
