//! Property tests of the sans-IO decoder and encoder: round trip, sticky and
//! split packets, arbitrary input, oversize skipping; every fixed-size
//! format and both varint ones.
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

mod common;

use bytes::BytesMut;
use common::{all_formats, codec, encode_all};
use lenframe::{Codec, Error, FrameDecoder, HeaderFormat, Oversize};
use proptest::prelude::*;

/// Every fixed-size format, then the two varint ones.
fn formats() -> Vec<HeaderFormat> {
    let mut out = all_formats();
    out.extend([HeaderFormat::VARINT, HeaderFormat::VARINT_STRICT]);
    out
}

/// How many formats `formats` has.
const FORMATS: usize = 62;

fn frames_strategy(max_len: usize) -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..max_len), 0..24)
}

/// Decodes `wire` fed in chunks of the given sizes (cycled) through the
/// `BytesMut` face.
fn decode_bytes(codec: Codec, wire: &[u8], chunks: &[usize]) -> Vec<Vec<u8>> {
    let mut dec = codec.new_decoder();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < wire.len() {
        let n = chunks[i % chunks.len()].clamp(1, wire.len() - pos);
        i += 1;
        buf.extend_from_slice(&wire[pos..pos + n]);
        pos += n;
        while let Some(f) = dec.decode(&mut buf).unwrap() {
            out.push(f.to_vec());
        }
    }
    assert_eq!(dec.decode_eof(&mut buf).unwrap(), None);
    out
}

/// The same through the borrowed-slice face.
fn decode_slices(codec: Codec, wire: &[u8], chunks: &[usize]) -> Vec<Vec<u8>> {
    let mut dec = codec.new_decoder();
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < wire.len() {
        let n = chunks[i % chunks.len()].clamp(1, wire.len() - pos);
        i += 1;
        buf.extend_from_slice(&wire[pos..pos + n]);
        pos += n;
        let mut it = dec.frames(&buf);
        for f in &mut it {
            out.push(f.unwrap().to_vec());
        }
        let used = it.consumed();
        buf.drain(..used);
    }
    dec.end_of_stream(&buf).unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 2 } else { 256 }))]

    /// (1) Round trip for every format, random payloads including empty.
    #[test]
    fn round_trip_every_format(frames in frames_strategy(200), fmt_idx in 0..FORMATS) {
        let format = formats()[fmt_idx];
        let codec = codec(format, 1 << 20);
        let frames: Vec<Vec<u8>> = frames
            .into_iter()
            .map(|mut f| { f.truncate(codec.max_frame_len()); f })
            .collect();
        let wire = encode_all(&codec, &frames);
        prop_assert_eq!(decode_bytes(codec, &wire, &[wire.len().max(1)]), frames.clone());
        prop_assert_eq!(decode_slices(codec, &wire, &[wire.len().max(1)]), frames);
    }

    /// (2) Sticky packets: frames concatenated, cut anywhere, fed in chunks
    /// of 1 byte to everything, decode to exactly the frames sent.
    #[test]
    fn sticky_and_split(
        frames in frames_strategy(300),
        chunks in prop::collection::vec(1..600usize, 1..20),
        fmt_idx in 0..FORMATS,
    ) {
        let format = formats()[fmt_idx];
        let codec = codec(format, 1 << 20);
        let frames: Vec<Vec<u8>> = frames
            .into_iter()
            .map(|mut f| { f.truncate(codec.max_frame_len()); f })
            .collect();
        let wire = encode_all(&codec, &frames);
        prop_assert_eq!(decode_bytes(codec, &wire, &chunks), frames.clone());
        prop_assert_eq!(decode_slices(codec, &wire, &chunks), frames.clone());
        prop_assert_eq!(decode_bytes(codec, &wire, &[1]), frames);
    }

    /// (5) Arbitrary bytes under arbitrary configurations never panic and
    /// only produce documented errors; a failed decoder stays failed.
    #[test]
    fn arbitrary_bytes_never_panic(
        input in prop::collection::vec(any::<u8>(), 0..400),
        fmt_idx in 0..FORMATS,
        max in 0..300usize,
        adjustment in -20i64..20,
        offset in 0..4usize,
        skip in any::<bool>(),
        chunk in 1..64usize,
    ) {
        let format = formats()[fmt_idx];
        // A varint header takes neither (the builder refuses them).
        let (adjustment, offset) = if format.is_varint() { (0, 0) } else { (adjustment, offset) };
        let Ok(codec) = Codec::builder()
            .format(format)
            .max_frame_len(max)
            .length_adjustment(adjustment)
            .length_field_offset(offset)
            .oversize(if skip { Oversize::Skip } else { Oversize::Error })
            .build()
        else {
            return Ok(());
        };
        let mut dec = codec.new_decoder();
        let mut buf = BytesMut::new();
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match dec.decode(&mut buf) {
                    Ok(Some(f)) => prop_assert!(f.len() <= max + offset + 8),
                    Ok(None) => break,
                    Err(Error::FrameTooLarge { len, max: m }) => {
                        prop_assert!(len > m);
                        prop_assert_eq!(m, codec.max_frame_len() as u64);
                        if !skip { prop_assert!(dec.is_failed()); break; }
                    }
                    Err(Error::NegativeLength { value }) => {
                        prop_assert!(value < 0);
                        prop_assert!(format.is_signed());
                        prop_assert!(dec.is_failed());
                        break;
                    }
                    Err(Error::AdjustmentOverflow { adjustment: a, .. }) => {
                        prop_assert_eq!(a, adjustment);
                        prop_assert!(dec.is_failed());
                        break;
                    }
                    Err(Error::BadVarint { len, .. }) => {
                        prop_assert!(format.is_varint());
                        prop_assert!((2..=10).contains(&len), "{}", len);
                        prop_assert!(dec.is_failed());
                        break;
                    }
                    Err(e) => prop_assert!(false, "undocumented error {e}"),
                }
            }
        }
        match dec.decode_eof(&mut buf) {
            Ok(_) | Err(Error::Truncated { .. }) => {}
            Err(_) => prop_assert!(dec.is_failed()),
        }
    }

    /// (6) Under `Oversize::Skip`, every oversize frame is reported once and
    /// decoding resumes at exactly the next frame, in any chunking.
    #[test]
    fn skip_resyncs_to_next_frame(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..20),
        chunk in 1..100usize,
        format in prop::sample::select(vec![
            HeaderFormat::NETWORK_U32,
            HeaderFormat::VARINT,
            HeaderFormat::VARINT_STRICT,
        ]),
    ) {
        let max = 30;
        let big = Codec::builder().format(format).max_frame_len(1000).build().unwrap();
        let small = Codec::builder()
            .format(format)
            .max_frame_len(max)
            .oversize(Oversize::Skip)
            .build()
            .unwrap();
        let wire = encode_all(&big, &frames);
        let mut dec = small.new_decoder();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut oversize = Vec::new();
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match dec.decode(&mut buf) {
                    Ok(Some(f)) => got.push(f.to_vec()),
                    Ok(None) => break,
                    Err(Error::FrameTooLarge { len, max: m }) => {
                        prop_assert_eq!(m, max as u64);
                        oversize.push(len as usize);
                    }
                    Err(e) => prop_assert!(false, "{e}"),
                }
            }
        }
        prop_assert_eq!(dec.decode_eof(&mut buf).unwrap(), None);
        let want: Vec<Vec<u8>> = frames.iter().filter(|f| f.len() <= max).cloned().collect();
        let want_over: Vec<usize> =
            frames.iter().filter(|f| f.len() > max).map(Vec::len).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(oversize, want_over);
    }
}

#[test]
fn every_format_zero_max_and_over_max() {
    for format in formats() {
        let codec = Codec::new(format);
        let max = codec.max_frame_len();
        let mut wire = Vec::new();
        codec.encode_to_vec(b"", &mut wire).unwrap();
        let mut at_max = vec![0xAB; max.min(70_000)];
        if max <= 70_000 {
            codec.encode_to_vec(&at_max, &mut wire).unwrap();
        } else {
            at_max.clear();
            codec.encode_to_vec(&at_max, &mut wire).unwrap();
        }
        let frames = decode_bytes(codec, &wire, &[7]);
        assert_eq!(frames, vec![Vec::new(), at_max], "{format}");
        // max + 1 in the header is rejected before any payload arrives.
        let header = format.encode(max as u64 + 1);
        if let Some(header) = header {
            let mut dec = FrameDecoder::new(codec);
            let mut buf = BytesMut::from(header.as_ref());
            match dec.decode(&mut buf) {
                Err(Error::FrameTooLarge { len, max: m }) => {
                    assert_eq!((len, m), (max as u64 + 1, max as u64), "{format}");
                }
                other => panic!("{format}: {other:?}"),
            }
        }
    }
}
