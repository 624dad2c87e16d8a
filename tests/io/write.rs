//! FrameWriter: short writes and WouldBlock give the one-shot encoding.
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

use crate::common;

use common::{all_formats, codec, encode_all, Act, FaultyWriter};
use lenframe::{Error, FrameWriter};
use proptest::prelude::*;

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        6 => (1..5000usize).prop_map(Act::Short),
        1 => Just(Act::Interrupted),
        1 => Just(Act::WouldBlock),
        1 => Just(Act::TimedOut),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 200 }))]

    /// (4) A writer that takes random short writes and returns WouldBlock /
    /// TimedOut / Interrupted produces byte for byte the one-shot encoding.
    #[test]
    fn short_writes_match_one_shot(
        sizes in prop::collection::vec(0..40_000usize, 0..12),
        script in prop::collection::vec(act(), 1..10),
        capacity in 1..20_000usize,
        fmt_idx in 0..60usize,
    ) {
        let format = all_formats()[fmt_idx];
        let codec = codec(format, 1 << 20);
        let frames: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n.min(codec.max_frame_len())).map(|j| (i + j * 13) as u8).collect())
            .collect();
        let mut script = script;
        script.push(Act::Short(usize::MAX));
        let mut w = FrameWriter::with_capacity(capacity, FaultyWriter::new(script), codec);
        for f in &frames {
            loop {
                match w.write_frame(f) {
                    Ok(()) => break,
                    Err(e) if e.is_retryable() => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        loop {
            match w.flush() {
                Ok(()) => break,
                Err(e) if e.is_retryable() => continue,
                Err(e) => panic!("{e}"),
            }
        }
        let (inner, rest) = w.into_parts();
        prop_assert!(rest.is_empty());
        prop_assert_eq!(inner.out, encode_all(&codec, &frames));
    }
}

#[test]
fn too_large_payload_writes_nothing() {
    let codec = codec("B".parse().unwrap(), usize::MAX);
    let mut w = codec.new_write(Vec::new());
    w.write_frame(b"ok").unwrap();
    let err = w.write_frame([0; 256]).unwrap_err();
    assert!(
        matches!(err, Error::FrameTooLargeToSend { len: 256, max: 255 }),
        "{err}"
    );
    w.write_frame(b"!").unwrap();
    assert_eq!(w.into_inner().unwrap(), b"\x02ok\x01!");
}

/// Counts `write`/`write_vectored` calls and whether the payload was copied.
struct Counting {
    calls: usize,
    out: Vec<u8>,
}

impl std::io::Write for Counting {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.calls += 1;
        self.out.extend_from_slice(b);
        Ok(b.len())
    }
    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        self.calls += 1;
        let mut n = 0;
        for b in bufs {
            self.out.extend_from_slice(b);
            n += b.len();
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn large_payload_goes_out_in_one_vectored_write() {
    let payload = vec![9u8; 1 << 20];
    let mut w = FrameWriter::new(Counting {
        calls: 0,
        out: Vec::new(),
    });
    w.write_frame(&payload).unwrap();
    assert_eq!(w.get_ref().calls, 1);
    assert!(w.buffered().is_empty());
    assert_eq!(w.get_ref().out.len(), 4 + payload.len());
}

#[test]
fn small_frames_need_few_writes() {
    let mut w = FrameWriter::new(Counting {
        calls: 0,
        out: Vec::new(),
    });
    for _ in 0..10_000 {
        w.write_frame([1; 16]).unwrap();
    }
    w.flush().unwrap();
    let calls = w.get_ref().calls;
    assert!(calls * 50 <= 10_000, "{calls} write calls for 10000 frames");
}
