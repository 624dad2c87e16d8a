//! Varint headers split and merged: random sequences of payloads whose
//! headers are 1, 2 and 3 bytes long, encoded by lenframe under both rules
//! (`"varint"`, `"varint-strict"`) and by a LEB128 encoder written here
//! (byte for byte the same), then fed to every decoding face cut at random
//! byte boundaries, several frames a chunk: every face returns exactly the
//! payloads (with their prefix when `num_skip` is 0). Then every cut of one
//! frame whose header is 3 bytes, and non-minimal headers: protobuf rules
//! read them, strict rules refuse them with `BadVarint`.

use std::io::Read;

use bytes::BytesMut;
use lenframe::{Codec, Error, FrameDecoder, HeaderFormat};
use proptest::prelude::*;

use crate::common::{Act, FaultyReader};

/// Large enough for the ~70 000-byte payloads.
const MAX: usize = 1 << 20;

/// The shortest unsigned LEB128 of `value`, written here from the
/// definition: 7 bits a byte, least significant group first, the top bit
/// set on every byte but the last.
fn leb128(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let group = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(group);
            return out;
        }
        out.push(group | 0x80);
    }
}

/// `value` written in exactly `n` bytes (`n` at least its shortest
/// length): the shortest form, its last byte given a continuation bit,
/// then `0x80` bytes and a final `0x00`.
fn padded(value: u64, n: usize) -> Vec<u8> {
    let mut h = leb128(value);
    if n > h.len() {
        *h.last_mut().unwrap() |= 0x80;
        h.resize(n - 1, 0x80);
        h.push(0);
    }
    assert_eq!(h.len(), n);
    h
}

/// A payload of `len` bytes, its contents from `seed`.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The four varint codecs: both rules, the prefix dropped or kept.
fn codecs() -> Vec<Codec> {
    let mut out = Vec::new();
    for format in [HeaderFormat::VARINT, HeaderFormat::VARINT_STRICT] {
        for keep in [false, true] {
            let mut b = Codec::builder();
            b.format(format).max_frame_len(MAX);
            if keep {
                b.num_skip(0);
            }
            out.push(b.build().unwrap());
        }
    }
    out
}

/// What a face must return for `payloads` written with `headers`.
fn expected(codec: &Codec, headers: &[Vec<u8>], payloads: &[Vec<u8>]) -> Vec<Vec<u8>> {
    headers
        .iter()
        .zip(payloads)
        .map(|(h, p)| {
            if codec.num_skip() == 0 {
                [&h[..], p].concat()
            } else {
                p.clone()
            }
        })
        .collect()
}

/// `wire` cut into chunks of the sizes of `cuts` (cycled).
fn chunks<'a>(wire: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = wire;
    let mut i = 0;
    while !rest.is_empty() {
        let n = cuts[i % cuts.len()].clamp(1, rest.len());
        i += 1;
        let (chunk, after) = rest.split_at(n);
        out.push(chunk);
        rest = after;
    }
    out
}

/// `FrameDecoder::decode` on a `BytesMut`, then `decode_eof`.
fn via_decode(codec: &Codec, parts: &[&[u8]]) -> lenframe::Result<Vec<Vec<u8>>> {
    let mut dec = codec.new_decoder();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for part in parts {
        buf.extend_from_slice(part);
        while let Some(f) = dec.decode(&mut buf)? {
            out.push(f.to_vec());
        }
        // Between frames, a varint needs one more byte at a time.
        if dec.is_at_boundary() {
            assert_eq!(dec.needed(buf.len()), 1);
        }
    }
    while let Some(f) = dec.decode_eof(&mut buf)? {
        out.push(f.to_vec());
    }
    Ok(out)
}

/// `decode_slice` over a buffer the caller drains, then `end_of_stream`.
fn via_decode_slice(codec: &Codec, parts: &[&[u8]]) -> lenframe::Result<Vec<Vec<u8>>> {
    let mut dec = codec.new_decoder();
    let mut held = Vec::new();
    let mut out = Vec::new();
    for part in parts {
        held.extend_from_slice(part);
        loop {
            let d = dec.decode_slice(&held)?;
            let (frame, consumed) = (d.frame.map(<[u8]>::to_vec), d.consumed);
            held.drain(..consumed);
            match frame {
                Some(f) => out.push(f),
                None if consumed == 0 => break,
                None => {}
            }
        }
    }
    dec.end_of_stream(&held)?;
    Ok(out)
}

/// The `frames()` iterator, draining what it consumed.
fn via_frames(codec: &Codec, parts: &[&[u8]]) -> lenframe::Result<Vec<Vec<u8>>> {
    let mut dec = codec.new_decoder();
    let mut held = Vec::new();
    let mut out = Vec::new();
    for part in parts {
        held.extend_from_slice(part);
        let mut it = dec.frames(&held);
        for f in &mut it {
            out.push(f?.to_vec());
        }
        let used = it.consumed();
        held.drain(..used);
    }
    dec.end_of_stream(&held)?;
    Ok(out)
}

/// `begin_stream` + `consume_stream`, each frame handed on in the pieces
/// that arrive.
fn via_stream(codec: &Codec, parts: &[&[u8]]) -> lenframe::Result<Vec<Vec<u8>>> {
    let mut dec = codec.new_decoder();
    let mut held: Vec<u8> = Vec::new();
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut open = false;
    for part in parts {
        held.extend_from_slice(part);
        loop {
            if let Some(left) = dec.stream_remaining() {
                let n = (left.min(held.len() as u64)) as usize;
                if n == 0 {
                    break;
                }
                assert!(open);
                out.last_mut().unwrap().extend(held.drain(..n));
                assert_eq!(dec.consume_stream(n as u64), n as u64);
                continue;
            }
            open = false;
            let s = dec.begin_stream(&held, u64::MAX)?;
            held.drain(..s.consumed);
            match s.frame_len {
                Some(n) => {
                    out.push(Vec::with_capacity(n as usize));
                    open = n > 0;
                }
                None if s.consumed == 0 => break,
                None => {}
            }
        }
    }
    assert_eq!(dec.stream_remaining(), None, "a frame cut short");
    dec.end_of_stream(&held)?;
    Ok(out)
}

/// A reader that hands out `wire` in the sizes of `cuts` (cycled), with an
/// `Interrupted` now and then.
fn short_reads(wire: &[u8], cuts: &[usize]) -> FaultyReader {
    let mut script: Vec<Act> = cuts.iter().map(|&n| Act::Short(n)).collect();
    script.insert(script.len() / 2, Act::Interrupted);
    FaultyReader::new(wire.to_vec(), script)
}

/// `FrameReader::read_frame` and `read_frame_ref`, alternately.
fn via_reader(codec: &Codec, wire: &[u8], cuts: &[usize]) -> lenframe::Result<Vec<Vec<u8>>> {
    let mut r = codec.new_read(short_reads(wire, cuts));
    let mut out = Vec::new();
    loop {
        let frame = if out.len() % 2 == 0 {
            r.read_frame()?.map(|f| f.to_vec())
        } else {
            r.read_frame_ref()?.map(<[u8]>::to_vec)
        };
        match frame {
            Some(f) => out.push(f),
            None => return Ok(out),
        }
    }
}

/// `FrameReader::read_frame_stream`, each `PayloadReader` read to its end.
fn via_reader_stream(codec: &Codec, wire: &[u8], cuts: &[usize]) -> lenframe::Result<Vec<Vec<u8>>> {
    let mut r = codec.new_read(short_reads(wire, cuts));
    let mut out = Vec::new();
    while let Some(mut p) = r.read_frame_stream(usize::MAX)? {
        let mut f = Vec::new();
        p.read_to_end(&mut f)?;
        out.push(f);
    }
    Ok(out)
}

/// Every face over `wire` cut as `cuts` says, each checked against `want`.
fn check_faces(codec: &Codec, wire: &[u8], cuts: &[usize], want: &[Vec<u8>]) {
    let parts = chunks(wire, cuts);
    let faces: [(&str, lenframe::Result<Vec<Vec<u8>>>); 6] = [
        ("decode", via_decode(codec, &parts)),
        ("decode_slice", via_decode_slice(codec, &parts)),
        ("frames", via_frames(codec, &parts)),
        ("begin_stream", via_stream(codec, &parts)),
        ("FrameReader", via_reader(codec, wire, cuts)),
        ("read_frame_stream", via_reader_stream(codec, wire, cuts)),
    ];
    for (face, got) in faces {
        let got = got.unwrap_or_else(|e| panic!("{face} ({}): {e:?}", codec.format()));
        assert!(
            got == want,
            "{face} ({}, num_skip {}): {} frames of {:?} bytes, want {} of {:?}",
            codec.format(),
            codec.num_skip(),
            got.len(),
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            want.len(),
            want.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }
}

/// lenframe's encoders, each against `wire` (the LEB128 encoding here):
/// `header`, `encode`, `encode_to_vec`, `encode_to_slice` and
/// `FrameWriter::write_frame`.
fn check_encoders(codec: &Codec, payloads: &[Vec<u8>], wire: &[u8]) {
    let mut bm = BytesMut::new();
    let mut v = Vec::new();
    let mut sliced = Vec::new();
    let mut w = codec.new_write(Vec::new());
    for p in payloads {
        let header = codec.header(p.len()).unwrap();
        assert_eq!(
            &header[..],
            &leb128(p.len() as u64)[..],
            "header({})",
            p.len()
        );
        codec.encode(p, &mut bm).unwrap();
        codec.encode_to_vec(p, &mut v).unwrap();
        let whole = header.len() + p.len();
        let mut dst = vec![0xEE; whole + 3];
        let err = codec.encode_to_slice(p, &mut dst[..whole - 1]).unwrap_err();
        assert!(matches!(err, Error::BufferTooSmall { .. }), "{err:?}");
        assert_eq!(codec.encode_to_slice(p, &mut dst).unwrap(), whole);
        sliced.extend_from_slice(&dst[..whole]);
        w.write_frame(p).unwrap();
    }
    let written = w.into_inner().unwrap();
    for (face, bytes) in [
        ("encode", &bm[..]),
        ("encode_to_vec", &v[..]),
        ("encode_to_slice", &sliced[..]),
        ("FrameWriter", &written[..]),
    ] {
        assert!(
            bytes == wire,
            "{face} ({}) differs from LEB128",
            codec.format()
        );
    }
}

/// Payload lengths: every header length (1, 2 and 3 bytes) and its edges,
/// and now and then one of about 70 000 bytes.
fn len_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0..8usize,
        4 => prop::sample::select(vec![0usize, 1, 126, 127, 128, 129, 16_383, 16_384, 16_385]),
        4 => 0..400usize,
        2 => 16_000..17_000usize,
        1 => 69_990..70_010usize,
    ]
}

/// Chunk sizes: single bytes, small reads, and large ones that hold several
/// frames; always one read of 1 000 or more, so a cycle moves the stream on.
fn cuts_strategy() -> impl Strategy<Value = Vec<usize>> {
    (
        prop::collection::vec(prop_oneof![1..4usize, 1..40usize, 1..100_000usize], 1..6),
        1_000..100_000usize,
    )
        .prop_map(|(mut cuts, big)| {
            cuts.push(big);
            cuts
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 128 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random payloads, encoded by lenframe and by hand (the same bytes),
    /// decoded by every face whatever the cuts.
    #[test]
    fn every_face_returns_the_payloads(
        lens in prop::collection::vec(len_strategy(), 0..8),
        seed in any::<u8>(),
        cuts in cuts_strategy(),
    ) {
        let payloads: Vec<Vec<u8>> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| payload(n, seed.wrapping_add(i as u8)))
            .collect();
        let headers: Vec<Vec<u8>> = lens.iter().map(|&n| leb128(n as u64)).collect();
        let wire: Vec<u8> = headers
            .iter()
            .zip(&payloads)
            .flat_map(|(h, p)| h.iter().chain(p))
            .copied()
            .collect();
        for codec in codecs() {
            check_encoders(&codec, &payloads, &wire);
            check_faces(&codec, &wire, &cuts, &expected(&codec, &headers, &payloads));
        }
    }

    /// Non-minimal headers (padded up to 10 bytes): protobuf rules read the
    /// same payloads; strict rules return the frames before the first one,
    /// then `BadVarint` with its length (9 for a 10-byte one, whose first 9
    /// bytes all say more follow).
    #[test]
    fn non_minimal_headers(
        frames in prop::collection::vec((len_strategy(), prop_oneof![Just(0usize), 1..10usize]), 1..6),
        seed in any::<u8>(),
        cuts in cuts_strategy(),
    ) {
        let payloads: Vec<Vec<u8>> = frames
            .iter()
            .enumerate()
            .map(|(i, &(n, _))| payload(n, seed.wrapping_add(i as u8)))
            .collect();
        // Each header padded by `extra` bytes, at most 10 in all (0: shortest).
        let headers: Vec<Vec<u8>> = frames
            .iter()
            .map(|&(n, extra)| {
                let short = leb128(n as u64).len();
                padded(n as u64, (short + extra).min(10))
            })
            .collect();
        let wire: Vec<u8> = headers
            .iter()
            .zip(&payloads)
            .flat_map(|(h, p)| h.iter().chain(p))
            .copied()
            .collect();
        let first_padded = frames
            .iter()
            .zip(&headers)
            .position(|(&(n, _), h)| h.len() > leb128(n as u64).len());
        for codec in codecs() {
            let want = expected(&codec, &headers, &payloads);
            if codec.format() == HeaderFormat::VARINT || first_padded.is_none() {
                check_faces(&codec, &wire, &cuts, &want);
                continue;
            }
            // Strict: the frames before it, then BadVarint.
            let bad = first_padded.unwrap();
            let len = headers[bad].len().min(9) as u64;
            let parts = chunks(&wire, &cuts);
            let mut dec = codec.new_decoder();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut err = None;
            'feed: for part in parts {
                buf.extend_from_slice(part);
                loop {
                    match dec.decode(&mut buf) {
                        Ok(Some(f)) => got.push(f.to_vec()),
                        Ok(None) => break,
                        Err(e) => {
                            err = Some(e);
                            break 'feed;
                        }
                    }
                }
            }
            prop_assert_eq!(&got[..], &want[..bad]);
            let err = err.expect("strict rules refuse a padded header");
            prop_assert!(
                matches!(err, Error::BadVarint { len: l, .. } if l == len),
                "{:?}, want BadVarint {{ len: {} }}", err, len
            );
            prop_assert!(dec.is_failed());
            // The slice face and the reader say the same.
            let mut r = codec.new_read(short_reads(&wire, &cuts));
            let mut read = Vec::new();
            let err = loop {
                match r.read_frame() {
                    Ok(Some(f)) => read.push(f.to_vec()),
                    Ok(None) => panic!("the reader ended cleanly past a padded header"),
                    Err(e) => break e,
                }
            };
            prop_assert_eq!(&read[..], &want[..bad]);
            prop_assert!(matches!(err, Error::BadVarint { len: l, .. } if l == len), "{:?}", err);
            let e = via_decode_slice(&codec, &chunks(&wire, &cuts)).unwrap_err();
            prop_assert!(matches!(e, Error::BadVarint { len: l, .. } if l == len), "{:?}", e);
        }
    }
}

/// `decode_slice` over `wire` arriving in two parts (`cut` bytes, then
/// the rest), the caller keeping its buffer (no copy): the frames.
fn slices_cut_at<'a>(codec: &Codec, wire: &'a [u8], cut: usize) -> Vec<&'a [u8]> {
    let mut dec = codec.new_decoder();
    let mut frames = Vec::new();
    let mut pos = 0;
    for avail in [cut, wire.len()] {
        loop {
            let d = dec.decode_slice(&wire[pos..avail]).unwrap();
            pos += d.consumed;
            match d.frame {
                Some(f) => frames.push(f),
                None if d.consumed == 0 => break,
                None => {}
            }
        }
    }
    dec.end_of_stream(&wire[pos..]).unwrap();
    frames
}

/// `begin_stream` + `consume_stream` over `wire` arriving in two parts,
/// each frame handed on as far as it has arrived: the frames' ranges.
fn streams_cut_at(codec: &Codec, wire: &[u8], cut: usize) -> Vec<(usize, usize)> {
    let mut dec = codec.new_decoder();
    let mut frames = Vec::new();
    let mut pos = 0;
    for avail in [cut, wire.len()] {
        loop {
            if let Some(left) = dec.stream_remaining() {
                let n = left.min((avail - pos) as u64);
                if n == 0 {
                    break;
                }
                assert_eq!(dec.consume_stream(n), n);
                pos += n as usize;
                continue;
            }
            let s = dec.begin_stream(&wire[pos..avail], u64::MAX).unwrap();
            pos += s.consumed;
            match s.frame_len {
                Some(n) => frames.push((pos, pos + n as usize)),
                None if s.consumed == 0 => break,
                None => {}
            }
        }
    }
    assert_eq!(dec.stream_remaining(), None);
    dec.end_of_stream(&wire[pos..]).unwrap();
    frames
}

/// One frame whose header is 3 bytes (`80 80 01`, 16 384), then a frame
/// of one byte: cut in two at every point, each face returns the same
/// frames (the borrowing faces at every cut; every face in and around the
/// header, at the end and every 997th byte).
#[test]
#[cfg_attr(miri, ignore = "16 000 cut points")]
fn every_cut_of_a_three_byte_header_frame() {
    let big = payload(16_384, 7);
    let payloads = vec![big, b"!".to_vec()];
    let headers: Vec<Vec<u8>> = payloads.iter().map(|p| leb128(p.len() as u64)).collect();
    assert_eq!(headers[0], [0x80, 0x80, 0x01]);
    let wire: Vec<u8> = [&headers[0][..], &payloads[0], &headers[1], &payloads[1]].concat();
    for codec in codecs() {
        let want = expected(&codec, &headers, &payloads);
        for cut in 1..wire.len() {
            let got = slices_cut_at(&codec, &wire, cut);
            assert!(got == want, "decode_slice, cut at {cut}");
            let got: Vec<&[u8]> = streams_cut_at(&codec, &wire, cut)
                .into_iter()
                .map(|(a, b)| &wire[a..b])
                .collect();
            assert!(got == want, "begin_stream, cut at {cut}");
            if cut <= 8 || cut >= wire.len() - 8 || cut % 997 == 0 {
                check_faces(&codec, &wire, &[cut, wire.len()], &want);
            }
        }
    }
}

/// The boundary payloads in one stream, byte by byte and all at once.
#[test]
fn boundary_lengths_one_byte_at_a_time_and_whole() {
    let lens = [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000];
    let payloads: Vec<Vec<u8>> = lens.iter().map(|&n| payload(n, n as u8)).collect();
    let headers: Vec<Vec<u8>> = lens.iter().map(|&n| leb128(n as u64)).collect();
    let sizes: Vec<usize> = headers.iter().map(Vec::len).collect();
    assert_eq!(sizes, [1, 1, 1, 2, 2, 2, 3, 3]);
    let wire: Vec<u8> = headers
        .iter()
        .zip(&payloads)
        .flat_map(|(h, p)| h.iter().chain(p))
        .copied()
        .collect();
    for codec in codecs() {
        check_encoders(&codec, &payloads, &wire);
        let want = expected(&codec, &headers, &payloads);
        check_faces(&codec, &wire, &[wire.len()], &want);
        let ones = chunks(&wire, &[1]);
        assert!(
            via_decode(&codec, &ones).unwrap() == want,
            "decode, 1 byte a call"
        );
        assert!(
            via_decode_slice(&codec, &ones).unwrap() == want,
            "decode_slice, 1 byte"
        );
        assert!(
            via_stream(&codec, &ones).unwrap() == want,
            "begin_stream, 1 byte"
        );
        assert!(
            via_reader(&codec, &wire, &[1]).unwrap() == want,
            "FrameReader, 1 byte"
        );
    }
}

/// A stream cut inside a varint header ends `Truncated` with the bytes of
/// the header that came, and one more expected; a cut inside a payload
/// says how much of it came.
#[test]
fn cut_inside_a_header_or_a_payload() {
    let p = payload(16_384, 1);
    let wire: Vec<u8> = [&leb128(16_384)[..], &p].concat();
    for codec in codecs() {
        for cut in 1..=2 {
            let e = via_decode(&codec, &[&wire[..cut]]).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::Truncated { part: lenframe::FramePart::Header, got, expected }
                        if (got, expected) == (cut as u64, cut as u64 + 1)
                ),
                "cut at {cut}: {e:?}"
            );
        }
        let e = via_decode_slice(&codec, &[&wire[..3 + 100]]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Truncated {
                    part: lenframe::FramePart::Payload,
                    got: 100,
                    expected: 16_384
                }
            ),
            "{e:?}"
        );
    }
    // The decoder needs one byte at a time between frames.
    let dec = FrameDecoder::new(codecs()[0]);
    assert_eq!(dec.needed(0), 1);
}
