//! `cargo bench -p lenframe-interop --bench varint`: 16-byte frames with a
//! varint (protobuf-delimited) header, lenframe side by side with the
//! competitors: `unsigned_varint::codec::UviBytes` (tokio-util codec) and
//! hand loops over `prost::encoding::{decode_varint, encode_varint}`.
//!
//! ```text
//! cargo bench -p lenframe-interop --bench varint            # full run (about 20 s)
//! cargo bench -p lenframe-interop --bench varint -- encode  # scenarios whose name contains it
//! cargo test -p lenframe-interop --benches                  # quick mode: tiny sizes, a smoke test
//! ```
//!
//! Cargo passes `--bench` under `cargo bench`: that selects the full run.
//! In each scenario the implementations take turns, round after round (the
//! order rotating), so a slow spell of the machine hits all of them; a line
//! reports the median round's frames/s, and lenframe's lines their ratio to
//! each competitor. Every round's output is checked (frame count, bytes, a
//! checksum; encoded buffers byte for byte) before its time counts.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use lenframe::{Codec, HeaderFormat};
use tokio_util::codec::{Decoder, Encoder};
use unsigned_varint::codec::UviBytes;

/// Payload bytes per frame.
const FRAME: usize = 16;
/// The frame limit every implementation checks.
const MAX: usize = 8 << 20;

/// What a run produced; compared with the expected digest every round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Digest {
    frames: u64,
    bytes: u64,
    sum: u64,
}

impl Digest {
    #[inline]
    fn add(&mut self, frame: &[u8]) {
        self.frames += 1;
        self.bytes += frame.len() as u64;
        if let (Some(&a), Some(&b)) = (frame.first(), frame.last()) {
            self.sum = self
                .sum
                .wrapping_mul(31)
                .wrapping_add(u64::from(a) ^ u64::from(b) << 8);
        }
    }
}

/// The inputs of every scenario.
struct Input {
    codec: Codec,
    frames: usize,
    /// `frames` frames of FRAME bytes, each different, varint headers.
    wire: Vec<u8>,
    /// The digest of decoding `wire`.
    want: Digest,
    /// The payload every encoder writes `frames` times.
    payload: [u8; FRAME],
    /// What the encoders must produce.
    encoded: Vec<u8>,
    /// The same frames with lenframe's default `"!I"` header, for the
    /// reference lines: what the varint header costs over a fixed one.
    fixed: Codec,
    fixed_wire: Vec<u8>,
    fixed_encoded: Vec<u8>,
}

impl Input {
    fn new(frames: usize) -> Input {
        let codec = Codec::builder()
            .format(HeaderFormat::VARINT)
            .max_frame_len(MAX)
            .build()
            .expect("the varint codec");
        let fixed = Codec::from_format("!I")
            .and_then(|c| c.with_max_frame_len(MAX))
            .expect("the !I codec");
        let mut wire = Vec::new();
        let mut fixed_wire = Vec::new();
        let mut want = Digest::default();
        for i in 0..frames {
            let p: Vec<u8> = (0..FRAME).map(|j| (i * 7 + j) as u8).collect();
            prost::encoding::encode_varint(p.len() as u64, &mut wire);
            wire.extend_from_slice(&p);
            fixed_wire.extend_from_slice(&(FRAME as u32).to_be_bytes());
            fixed_wire.extend_from_slice(&p);
            want.add(&p);
        }
        let payload: [u8; FRAME] = core::array::from_fn(|j| j as u8 * 3 + 1);
        let mut encoded = Vec::new();
        let mut fixed_encoded = Vec::new();
        for _ in 0..frames {
            prost::encoding::encode_varint(FRAME as u64, &mut encoded);
            encoded.extend_from_slice(&payload);
            fixed_encoded.extend_from_slice(&(FRAME as u32).to_be_bytes());
            fixed_encoded.extend_from_slice(&payload);
        }
        Input {
            codec,
            frames,
            wire,
            want,
            payload,
            encoded,
            fixed,
            fixed_wire,
            fixed_encoded,
        }
    }
}

/// One implementation: its name, and a run that returns its digest and
/// the seconds its timed part took (setup, such as copying the input
/// into a fresh buffer, and checks are outside it).
struct Imp<'a> {
    name: &'static str,
    run: Box<dyn FnMut() -> f64 + 'a>,
}

/// A scenario: implementations and which ratios to report.
struct Scenario<'a> {
    name: &'static str,
    imps: Vec<Imp<'a>>,
    /// (lenframe's line, the competitor's line, the target ratio).
    ratios: Vec<(&'static str, &'static str, f64)>,
}

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = black_box(f());
    (out, t.elapsed().as_secs_f64())
}

fn check(name: &str, got: Digest, want: Digest) {
    assert_eq!(got, want, "{name} produced the wrong frames");
}

/// The reference line's name: lenframe with its default fixed header.
const FIXED: &str = "(reference) lenframe, \"!I\" header";

/// lenframe's `decode` over a `BytesMut` holding all of `wire`.
fn lenframe_decode<'a>(input: &'a Input, codec: Codec, wire: &'a [u8]) -> impl FnMut() -> f64 + 'a {
    move || {
        let mut buf = BytesMut::from(wire);
        let mut dec = codec.new_decoder();
        let (d, secs) = time(|| {
            let mut d = Digest::default();
            while let Some(f) = dec.decode(black_box(&mut buf)).expect("lenframe decode") {
                d.add(&f);
            }
            d
        });
        assert!(buf.is_empty());
        check("lenframe decode", d, input.want);
        secs
    }
}

/// lenframe's `frames` over all of `wire`.
fn lenframe_frames<'a>(input: &'a Input, codec: Codec, wire: &'a [u8]) -> impl FnMut() -> f64 + 'a {
    move || {
        let mut dec = codec.new_decoder();
        let (d, secs) = time(|| {
            let mut d = Digest::default();
            let mut it = dec.frames(black_box(wire));
            for f in it.by_ref() {
                d.add(f.expect("lenframe frames"));
            }
            assert_eq!(it.consumed(), wire.len());
            d
        });
        check("lenframe frames", d, input.want);
        secs
    }
}

/// lenframe's `encode` of `frames` payloads into a reused, cleared
/// `BytesMut`, which must then hold `expected`.
fn lenframe_encode<'a>(
    input: &'a Input,
    codec: Codec,
    expected: &'a [u8],
) -> impl FnMut() -> f64 + 'a {
    let mut buf = BytesMut::with_capacity(expected.len());
    move || {
        buf.clear();
        let payload = &input.payload[..];
        let ((), secs) = time(|| {
            let buf = black_box(&mut buf);
            for _ in 0..input.frames {
                codec
                    .encode(black_box(payload), buf)
                    .expect("lenframe encode");
            }
        });
        assert!(
            buf[..] == expected[..],
            "lenframe encode wrote the wrong bytes"
        );
        secs
    }
}

/// Decoders over a `BytesMut` holding every frame.
fn decode_bytes_mut(input: &Input) -> Scenario<'_> {
    let uvi = move || {
        let mut buf = BytesMut::from(&input.wire[..]);
        let mut dec = UviBytes::<Bytes>::default();
        dec.set_max_len(MAX);
        let (d, secs) = time(|| {
            let mut d = Digest::default();
            while let Some(f) = dec.decode(black_box(&mut buf)).expect("UviBytes decode") {
                d.add(&f);
            }
            d
        });
        assert!(buf.is_empty());
        check("UviBytes decode", d, input.want);
        secs
    };
    Scenario {
        name: "decode BytesMut",
        imps: vec![
            Imp {
                name: "lenframe FrameDecoder::decode",
                run: Box::new(lenframe_decode(input, input.codec, &input.wire)),
            },
            Imp {
                name: "unsigned-varint UviBytes::decode",
                run: Box::new(uvi),
            },
            Imp {
                name: FIXED,
                run: Box::new(lenframe_decode(input, input.fixed, &input.fixed_wire)),
            },
        ],
        ratios: vec![(
            "lenframe FrameDecoder::decode",
            "unsigned-varint UviBytes::decode",
            1.5,
        )],
    }
}

/// Borrowed frames out of a `&[u8]`.
fn decode_slice(input: &Input) -> Scenario<'_> {
    let prost = move || {
        let wire = &input.wire[..];
        let (d, secs) = time(|| {
            let mut d = Digest::default();
            let mut buf: &[u8] = black_box(wire);
            while buf.has_remaining() {
                let len = prost::encoding::decode_varint(&mut buf).expect("prost varint");
                if len > MAX as u64 {
                    panic!("frame of {len} bytes");
                }
                let len = len as usize;
                if buf.len() < len {
                    break;
                }
                let (frame, rest) = buf.split_at(len);
                d.add(frame);
                buf = rest;
            }
            d
        });
        check("prost decode_varint on &[u8]", d, input.want);
        secs
    };
    Scenario {
        name: "decode &[u8]",
        imps: vec![
            Imp {
                name: "lenframe FrameDecoder::frames",
                run: Box::new(lenframe_frames(input, input.codec, &input.wire)),
            },
            Imp {
                name: "prost decode_varint loop (&[u8])",
                run: Box::new(prost),
            },
            Imp {
                name: FIXED,
                run: Box::new(lenframe_frames(input, input.fixed, &input.fixed_wire)),
            },
        ],
        ratios: vec![(
            "lenframe FrameDecoder::frames",
            "prost decode_varint loop (&[u8])",
            1.0,
        )],
    }
}

/// Owned, reference-counted frames (`Bytes`): lenframe's `decode` over a
/// `BytesMut` against prost's varint and `BytesMut::split_to` + `freeze`
/// over the same `BytesMut` (the same shape: a read buffer in, `Bytes`
/// frames out, what a reader does), and, for information only, prost's
/// varint and `Bytes::split_to` over input already frozen into one
/// `Bytes` (no read buffer could be: it is filled after frames are split
/// off it).
fn decode_bytes(input: &Input) -> Scenario<'_> {
    let prost_mut = move || {
        let mut buf = BytesMut::from(&input.wire[..]);
        let (d, secs) = time(|| {
            let mut d = Digest::default();
            let buf = black_box(&mut buf);
            while buf.has_remaining() {
                let len = prost::encoding::decode_varint(buf).expect("prost varint");
                if len > MAX as u64 {
                    panic!("frame of {len} bytes");
                }
                let len = len as usize;
                if buf.len() < len {
                    break;
                }
                let frame = buf.split_to(len).freeze();
                d.add(&frame);
            }
            d
        });
        check("prost decode_varint on BytesMut", d, input.want);
        secs
    };
    let prost = move || {
        let mut buf = Bytes::copy_from_slice(&input.wire);
        let (d, secs) = time(|| {
            let mut d = Digest::default();
            let buf = black_box(&mut buf);
            while buf.has_remaining() {
                let len = prost::encoding::decode_varint(buf).expect("prost varint");
                if len > MAX as u64 {
                    panic!("frame of {len} bytes");
                }
                let len = len as usize;
                if buf.len() < len {
                    break;
                }
                let frame = buf.split_to(len);
                d.add(&frame);
            }
            d
        });
        check("prost decode_varint on Bytes", d, input.want);
        secs
    };
    Scenario {
        name: "decode to Bytes",
        imps: vec![
            Imp {
                name: "lenframe FrameDecoder::decode",
                run: Box::new(lenframe_decode(input, input.codec, &input.wire)),
            },
            Imp {
                name: "prost decode_varint + BytesMut::split_to + freeze",
                run: Box::new(prost_mut),
            },
            Imp {
                name: "(information) prost decode_varint + Bytes::split_to",
                run: Box::new(prost),
            },
            Imp {
                name: FIXED,
                run: Box::new(lenframe_decode(input, input.fixed, &input.fixed_wire)),
            },
        ],
        ratios: vec![(
            "lenframe FrameDecoder::decode",
            "prost decode_varint + BytesMut::split_to + freeze",
            1.0,
        )],
    }
}

/// Frames into a reused, cleared `BytesMut`.
fn encode(input: &Input) -> Scenario<'_> {
    let n = input.frames;
    let cap = input.encoded.len();
    let mut uvi_buf = BytesMut::with_capacity(cap);
    let uvi = move || {
        uvi_buf.clear();
        // `&[u8]` is a `Buf`: the frame is copied from the payload once, as
        // lenframe copies it; `Bytes` would cost a clone per frame.
        let mut enc = UviBytes::<&[u8]>::default();
        enc.set_max_len(MAX);
        let payload = &input.payload[..];
        let ((), secs) = time(|| {
            let buf = black_box(&mut uvi_buf);
            for _ in 0..n {
                enc.encode(black_box(payload), buf)
                    .expect("UviBytes encode");
            }
        });
        assert!(
            uvi_buf[..] == input.encoded[..],
            "UviBytes wrote the wrong bytes"
        );
        secs
    };
    let mut prost_buf = BytesMut::with_capacity(cap);
    let prost = move || {
        prost_buf.clear();
        let payload = &input.payload[..];
        let ((), secs) = time(|| {
            let buf = black_box(&mut prost_buf);
            for _ in 0..n {
                let p = black_box(payload);
                prost::encoding::encode_varint(p.len() as u64, buf);
                buf.put_slice(p);
            }
        });
        assert!(
            prost_buf[..] == input.encoded[..],
            "prost wrote the wrong bytes"
        );
        secs
    };
    Scenario {
        name: "encode BytesMut",
        imps: vec![
            Imp {
                name: "lenframe Codec::encode",
                run: Box::new(lenframe_encode(input, input.codec, &input.encoded)),
            },
            Imp {
                name: "unsigned-varint UviBytes::encode",
                run: Box::new(uvi),
            },
            Imp {
                name: "prost encode_varint + put_slice",
                run: Box::new(prost),
            },
            Imp {
                name: FIXED,
                run: Box::new(lenframe_encode(input, input.fixed, &input.fixed_encoded)),
            },
        ],
        ratios: vec![
            (
                "lenframe Codec::encode",
                "unsigned-varint UviBytes::encode",
                1.5,
            ),
            (
                "lenframe Codec::encode",
                "prost encode_varint + put_slice",
                1.0,
            ),
        ],
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `s`'s implementations in turn for `rounds` rounds and prints its
/// lines. Returns the ratios as (lenframe, competitor, ratio, target).
fn run(s: &mut Scenario<'_>, rounds: usize, frames: usize, full: bool) -> Vec<String> {
    let k = s.imps.len();
    let mut secs = vec![Vec::new(); k];
    // One untimed warm-up round (page faults, caches, the allocator).
    for imp in &mut s.imps {
        (imp.run)();
    }
    for round in 0..rounds {
        for i in 0..k {
            let j = (i + round) % k;
            secs[j].push((s.imps[j].run)());
        }
    }
    let rate: Vec<f64> = secs.iter_mut().map(|v| frames as f64 / median(v)).collect();
    println!("{}", s.name);
    for (imp, r) in s.imps.iter().zip(&rate) {
        println!("  {:<42} {:>8.1} M frames/s", imp.name, r / 1e6);
    }
    let rate_of = |name: &str| {
        s.imps
            .iter()
            .position(|i| i.name == name)
            .map(|i| rate[i])
            .expect("a named implementation")
    };
    let mut summary = Vec::new();
    for &(ours, theirs, target) in &s.ratios {
        let ratio = rate_of(ours) / rate_of(theirs);
        let verdict = match (full, ratio >= target) {
            // An unoptimized build of 1,000 frames says nothing of speed.
            (false, _) => "no verdict in quick mode",
            (true, true) => "met",
            (true, false) => "MISSED",
        };
        let line = format!(
            "{:<16} {ours} / {theirs}: {ratio:.2}x (target >= {target:.1}x: {verdict})",
            s.name
        );
        println!("  ratio {ours} / {theirs}: {ratio:.2}x (target >= {target:.1}x: {verdict})");
        summary.push(line);
    }
    summary
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let (frames, rounds) = if full { (1_000_000, 15) } else { (1_000, 1) };
    let input = Input::new(frames);
    let mut scenarios = [
        decode_bytes_mut(&input),
        decode_slice(&input),
        decode_bytes(&input),
        encode(&input),
    ];
    let chosen: Vec<usize> = (0..scenarios.len())
        .filter(|&i| filters.is_empty() || filters.iter().any(|f| scenarios[i].name.contains(f)))
        .collect();
    if chosen.is_empty() {
        eprintln!("no scenario name contains {filters:?}; the scenarios are:");
        for s in &scenarios {
            eprintln!("  {}", s.name);
        }
        return ExitCode::from(2);
    }
    println!(
        "varint bench ({}): {frames} frames of {FRAME} B + a 1-byte varint header, {rounds} rounds alternating, median round",
        if full { "full" } else { "quick" },
    );
    let mut summary = Vec::new();
    for i in chosen {
        summary.extend(run(&mut scenarios[i], rounds, frames, full));
    }
    println!("summary (lenframe / competitor, frames/s):");
    for line in summary {
        println!("  {line}");
    }
    ExitCode::SUCCESS
}
