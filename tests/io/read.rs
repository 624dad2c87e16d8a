//! FrameReader: sticky/split streams, injected faults, EOF handling.
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

use crate::common;

use std::io::{self, Read};

use common::{all_formats, codec, encode_all, Act, FaultyReader};
use lenframe::{Codec, Error, FramePart, FrameReader};
use proptest::prelude::*;

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        6 => (1..2000usize).prop_map(Act::Short),
        1 => Just(Act::Interrupted),
        1 => Just(Act::WouldBlock),
        1 => Just(Act::TimedOut),
    ]
}

/// Reads every frame, retrying WouldBlock/TimedOut; alternates between the
/// owned and borrowed paths.
fn read_all<R: io::Read>(mut r: FrameReader<R>, borrowed: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let item = if borrowed {
            r.read_frame_ref().map(|f| f.map(<[u8]>::to_vec))
        } else {
            r.read_frame().map(|f| f.map(|b| b.to_vec()))
        };
        match item {
            Ok(Some(f)) => out.push(f),
            Ok(None) => return out,
            Err(e) if e.is_retryable() => continue,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 200 }))]

    /// (2) Sticky and split packets through FrameReader, and
    /// (3) injected Interrupted / WouldBlock / TimedOut / short reads: the
    /// frames come out exactly as sent, none lost, none duplicated.
    #[test]
    fn faults_lose_nothing(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 0..16),
        script in prop::collection::vec(act(), 1..12),
        fmt_idx in 0..60usize,
        borrowed in any::<bool>(),
    ) {
        let format = all_formats()[fmt_idx];
        let codec = codec(format, 1 << 20);
        let frames: Vec<Vec<u8>> = frames
            .into_iter()
            .map(|mut f| { f.truncate(codec.max_frame_len()); f })
            .collect();
        let wire = encode_all(&codec, &frames);
        let mut script = script;
        script.push(Act::Short(usize::MAX)); // guarantee progress each cycle
        let reader = codec.new_read(FaultyReader::new(wire, script));
        prop_assert_eq!(read_all(reader, borrowed), frames);
    }

    /// Large frames (past the 64 KiB large-read mode) with faults.
    #[test]
    fn large_frames_with_faults(
        sizes in prop::collection::vec(0..300_000usize, 1..4),
        script in prop::collection::vec(act(), 1..8),
    ) {
        let codec = codec("!I".parse().unwrap(), 1 << 20);
        let frames: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| (i * 31 + j * 7) as u8).collect())
            .collect();
        let wire = encode_all(&codec, &frames);
        let mut script = script;
        script.push(Act::Short(usize::MAX));
        let reader = codec.new_read(FaultyReader::new(wire, script));
        prop_assert_eq!(read_all(reader, false), frames);
    }
}

#[test]
fn iterator_yields_frames_then_none() {
    let codec = codec("<H".parse().unwrap(), 100);
    let frames = vec![b"a".to_vec(), vec![], b"ccc".to_vec()];
    let wire = encode_all(&codec, &frames);
    let got: Vec<Vec<u8>> = codec
        .new_read(&wire[..])
        .map(|f| f.unwrap().to_vec())
        .collect();
    assert_eq!(got, frames);
}

#[test]
fn truncation_reports_part_and_counts() {
    let codec = codec("!I".parse().unwrap(), 100);
    let wire = encode_all(&codec, &[b"hello".to_vec()]);
    for cut in 1..wire.len() {
        let mut r = codec.new_read(&wire[..cut]);
        let err = r.read_frame().unwrap_err();
        let want = if cut < 4 {
            (FramePart::Header, cut as u64, 4)
        } else {
            (FramePart::Payload, cut as u64 - 4, 5)
        };
        match err {
            Error::Truncated {
                part,
                got,
                expected,
            } => {
                assert_eq!((part, got, expected), want, "cut {cut}")
            }
            other => panic!("cut {cut}: {other}"),
        }
        let io_err: io::Error = r.read_frame().unwrap_err().into();
        assert_eq!(io_err.kind(), io::ErrorKind::UnexpectedEof);
    }
}

#[test]
fn into_parts_hands_back_unconsumed_bytes() {
    let wire = b"\0\0\0\x01a\0\0\0\x02bc\0\0\0\x09xy";
    let mut r = FrameReader::new(&wire[..]);
    assert_eq!(r.read_frame_ref().unwrap(), Some(&b"a"[..]));
    let (inner, rest) = r.into_parts();
    // The reader pulled everything in; the rest starts at the next frame.
    assert!(inner.is_empty());
    assert_eq!(&rest[..], &wire[5..]);
}

#[test]
fn hostile_headers_keep_memory_bounded() {
    // A header declaring the max then 10 bytes then a stall.
    let mut wire = vec![0, 0x80, 0, 0];
    wire.extend_from_slice(&[1; 10]);
    let mut r = FrameReader::new(FaultyReader::new(
        wire,
        vec![
            Act::Short(4),
            Act::Short(10),
            Act::WouldBlock,
            Act::WouldBlock,
            Act::WouldBlock,
        ],
    ));
    for _ in 0..3 {
        let e = r.read_frame().unwrap_err();
        assert!(e.is_retryable(), "{e}");
    }
    let (_, rest) = r.into_parts();
    assert_eq!(rest.len(), 14);
    assert!(rest.capacity() <= 64 * 1024, "capacity {}", rest.capacity());
}

/// Hands out a long wire at most `segment` bytes per `read()` (as loopback
/// TCP hands out about one 64 KiB segment), counting the calls.
struct Segments {
    wire: Vec<u8>,
    pos: usize,
    segment: usize,
    reads: usize,
}

impl Read for Segments {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        let n = out.len().min(self.segment).min(self.wire.len() - self.pos);
        out[..n].copy_from_slice(&self.wire[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn reads_per_frame(size: usize, frames: usize, segment: usize, borrowed: bool) -> f64 {
    let codec = Codec::default();
    let mut wire = Vec::new();
    let payload = vec![0x5A; size];
    for _ in 0..frames {
        codec.encode_to_vec(&payload, &mut wire).unwrap();
    }
    let source = Segments {
        wire,
        pos: 0,
        segment,
        reads: 0,
    };
    let mut r = FrameReader::new(source);
    let mut got = 0;
    loop {
        let len = if borrowed {
            r.read_frame_ref().unwrap().map(<[u8]>::len)
        } else {
            r.read_frame().unwrap().map(|f| f.len())
        };
        match len {
            Some(n) => assert_eq!(n, size),
            None => break,
        }
        got += 1;
    }
    assert_eq!(got, frames);
    r.get_ref().reads as f64 / frames as f64
}

/// Issue 10: 64 KiB frames cost at most 1.2 `read()` calls each when the
/// stream hands out 64 KiB segments (they cost 5 when the first read of a
/// frame was 1 KiB and `read_to_end` probed from 8 KiB up), and 16-byte
/// frames still come about 800 to a read.
#[test]
fn few_reads_per_frame_large_and_small() {
    for borrowed in [false, true] {
        for segment in [65_483, 1 << 20] {
            let large = reads_per_frame(64 * 1024, 500, segment, borrowed);
            eprintln!("64 KiB frames, {segment}-byte segments, borrowed {borrowed}: {large:.3} reads/frame");
            assert!(large <= 1.2, "{large} reads per 64 KiB frame");
            if segment == 1 << 20 {
                // Issue 19: with plenty queued, one read takes the rest of
                // a frame, the next one and the header after it (1.0 when
                // that header was left out and the next read was a small
                // one to learn the frame's length).
                assert!(large <= 0.55, "{large} reads per 64 KiB frame, much queued");
            }
        }
        let small = reads_per_frame(16, 200_000, 65_483, borrowed);
        eprintln!("16 B frames, borrowed {borrowed}: {small:.5} reads/frame");
        assert!(small <= 0.0015, "{small} reads per 16 B frame");
    }
}
