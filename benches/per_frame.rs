//! Instruction counts per frame, for `valgrind --tool=callgrind`.
//!
//! Timings on a shared 2-core machine are noisy; callgrind counts
//! instructions exactly. This binary runs one workload `n` times so that
//! two runs (`n` and `10 n`) give the cost of one frame as the difference
//! divided by the difference in frames, free of start-up costs:
//!
//! ```text
//! cargo bench --bench per_frame --no-run   # prints the binary's path
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/deps/per_frame-HASH decode 10000
//! ```
//!
//! Workloads: `decode` (16-byte `!I` frames through
//! `FrameDecoder::decode` over one `BytesMut`), `decode_slice` (the same
//! through the borrowed face), `frames` (the same through the borrowed
//! iterator `FrameDecoder::frames`), `walker` (a hand-written `!I` loop
//! over the slice: the floor), `encode` (`Codec::encode` of a 16-byte
//! payload into a reused `BytesMut`), `encode_rt` (the same with the codec
//! parsed at run time from a string the compiler cannot see), `read`
//! (`FrameReader::read_frame_ref` over a `&[u8]`). Their tokio-util
//! counterparts, same shapes, for benches/guard.py: `tokio_decode`
//! (`LengthDelimitedCodec::decode` over one `BytesMut`), `tokio_encode`
//! (`Encoder<&[u8]>::encode` into a reused `BytesMut`), `tokio_encode_rt`
//! (the same, its codec configured at run time through its builder),
//! `tokio_read` (a `FramedRead` over a `&[u8]`, polled
//! directly with a no-op waker: what its `Stream` does per frame, without a
//! runtime). The decoders and readers are fed rounds of 1024 frames, so `n`
//! counts in whole rounds. Without a workload argument (as
//! `cargo test --benches` and `cargo bench` run it) it runs each once with
//! a small `n` and checks the results.

use std::hint::black_box;

use bytes::BytesMut;
use futures_util::StreamExt as _;
use lenframe::{Codec, FrameDecoder, FrameReader};
use tokio_util::codec::{Decoder as _, Encoder as _, FramedRead, LengthDelimitedCodec};

const PAYLOAD: [u8; 16] = *b"0123456789abcdef";

/// Frames per round: the wire of one round is built once, outside the
/// counted loop's growth, and fed again every round.
const ROUND: usize = 1024;

fn wire() -> Vec<u8> {
    let codec = Codec::default();
    let mut out = Vec::with_capacity(ROUND * 20);
    for _ in 0..ROUND {
        codec
            .encode_to_vec(PAYLOAD, &mut out)
            .expect("16 bytes fit");
    }
    out
}

/// Decodes `n` frames (rounded up to whole rounds) through
/// `FrameDecoder::decode`, refilling one `BytesMut` each round as a reader
/// would; returns how many payload bytes came out.
#[inline(never)]
fn decode(n: usize) -> usize {
    let mut dec = FrameDecoder::default();
    decode_rounds(n, |buf| dec.decode(buf).expect("valid wire"))
}

/// Feeds the wire to `next_frame` in rounds of [`ROUND`] frames through one
/// `BytesMut`, refilled each round; returns the payload bytes that came out.
#[inline(always)]
fn decode_rounds<F: AsRef<[u8]>>(
    n: usize,
    mut next_frame: impl FnMut(&mut BytesMut) -> Option<F>,
) -> usize {
    let wire = wire();
    let mut buf = BytesMut::with_capacity(wire.len());
    let mut total = 0;
    for _ in 0..n.div_ceil(ROUND) {
        buf.extend_from_slice(black_box(&wire));
        while let Some(frame) = next_frame(black_box(&mut buf)) {
            total += black_box(frame).as_ref().len();
        }
    }
    total
}

/// The same frames through the borrowed face, `FrameDecoder::decode_slice`.
#[inline(never)]
fn decode_slice(n: usize) -> usize {
    let wire = wire();
    let mut dec = FrameDecoder::default();
    let mut total = 0;
    for _ in 0..n.div_ceil(ROUND) {
        let mut rest = black_box(&wire[..]);
        loop {
            let d = dec.decode_slice(black_box(rest)).expect("valid wire");
            match d.frame {
                Some(frame) => total += black_box(frame).len(),
                None if d.consumed == 0 => break,
                None => {}
            }
            rest = &rest[d.consumed..];
        }
    }
    total
}

/// The same frames through the borrowed iterator, `FrameDecoder::frames`.
#[inline(never)]
fn frames(n: usize) -> usize {
    let wire = wire();
    let mut dec = FrameDecoder::default();
    let mut total = 0;
    for _ in 0..n.div_ceil(ROUND) {
        for frame in dec.frames(black_box(&wire[..])) {
            total += black_box(frame.expect("valid wire")).len();
        }
    }
    total
}

/// The hand-written walker lenframe is compared with: read a `!I` header,
/// check it against the maximum, slice the payload. No state, no errors
/// kept: the floor for the borrowed path.
#[inline(never)]
fn walker(n: usize) -> usize {
    let wire = wire();
    let max = lenframe::DEFAULT_MAX_FRAME_LEN;
    let mut total = 0;
    for _ in 0..n.div_ceil(ROUND) {
        let mut rest = black_box(&wire[..]);
        while let Some((header, after)) = rest.split_first_chunk::<4>() {
            let len = u32::from_be_bytes(*header) as usize;
            assert!(len <= max, "valid wire");
            let Some(frame) = after.get(..len) else { break };
            total += black_box(frame).len();
            rest = &after[len..];
        }
    }
    total
}

/// Encodes `n` frames into a buffer cleared every 1024 frames; returns the
/// bytes written.
#[inline(never)]
fn encode(n: usize) -> usize {
    encode_with(&Codec::default(), n)
}

/// `encode` with the codec chosen at run time (parsed from a string the
/// compiler cannot see), as a program that reads its format from a flag or
/// a config file has it.
#[inline(never)]
fn encode_rt(n: usize) -> usize {
    let codec: Codec = black_box("!I").parse().expect("a valid format");
    encode_with(&codec, n)
}

/// The loop of `encode` for a given codec.
#[inline(always)]
fn encode_with(codec: &Codec, n: usize) -> usize {
    let mut buf = BytesMut::with_capacity(1024 * 20);
    let mut total = 0;
    for i in 0..n {
        codec
            .encode(black_box(&PAYLOAD), &mut buf)
            .expect("16 bytes fit");
        if i % 1024 == 1023 {
            total += buf.len();
            buf.clear();
        }
    }
    total + buf.len()
}

/// The same frames through `FrameReader::read_frame_ref` over a `&[u8]`,
/// one reader per round (its buffer set-up is shared by 1024 frames).
#[inline(never)]
fn read(n: usize) -> usize {
    let wire = wire();
    let mut total = 0;
    for _ in 0..n.div_ceil(ROUND) {
        let mut r = FrameReader::new(black_box(&wire[..]));
        while let Some(frame) = r.read_frame_ref().expect("valid wire") {
            total += black_box(frame).len();
        }
    }
    total
}

/// tokio-util's counterpart of `decode`: `LengthDelimitedCodec::decode`
/// (default: 4-byte big-endian header, 8 MiB maximum, as `Codec::default()`)
/// over one `BytesMut` refilled each round.
#[inline(never)]
fn tokio_decode(n: usize) -> usize {
    let mut codec = LengthDelimitedCodec::new();
    decode_rounds(n, |buf| codec.decode(buf).expect("valid wire"))
}

/// tokio-util's counterpart of `encode`: `Encoder<&[u8]>` into a reused
/// `BytesMut` (no `Bytes` clone per frame).
#[inline(never)]
fn tokio_encode(n: usize) -> usize {
    tokio_encode_with(LengthDelimitedCodec::new(), n)
}

/// tokio-util's counterpart of `encode_rt`: its codec configured at run
/// time through its builder (field length and byte order from values the
/// compiler cannot see).
#[inline(never)]
fn tokio_encode_rt(n: usize) -> usize {
    let mut b = LengthDelimitedCodec::builder();
    b.length_field_length(black_box(4));
    if black_box(false) {
        b.little_endian();
    }
    tokio_encode_with(b.new_codec(), n)
}

/// The loop of `tokio_encode` for a given codec.
#[inline(always)]
fn tokio_encode_with(mut codec: LengthDelimitedCodec, n: usize) -> usize {
    let mut buf = BytesMut::with_capacity(1024 * 20);
    let mut total = 0;
    for i in 0..n {
        codec
            .encode(black_box(&PAYLOAD[..]), &mut buf)
            .expect("16 bytes fit");
        if i % 1024 == 1023 {
            total += buf.len();
            buf.clear();
        }
    }
    total + buf.len()
}

/// tokio-util's counterpart of `read`: a `FramedRead` over a `&[u8]` (tokio
/// implements `AsyncRead` for it), one per round, its `Stream` polled with a
/// no-op waker. The source is always ready, so each poll is what an
/// executor's `next().await` costs per frame minus the executor.
#[inline(never)]
fn tokio_read(n: usize) -> usize {
    let wire = wire();
    let mut cx = std::task::Context::from_waker(futures_util::task::noop_waker_ref());
    let mut total = 0;
    for _ in 0..n.div_ceil(ROUND) {
        let mut r = FramedRead::new(black_box(&wire[..]), LengthDelimitedCodec::new());
        loop {
            match r.poll_next_unpin(&mut cx) {
                std::task::Poll::Ready(Some(frame)) => {
                    total += black_box(frame.expect("valid wire")).len();
                }
                std::task::Poll::Ready(None) => break,
                std::task::Poll::Pending => unreachable!("a &[u8] is always ready"),
            }
        }
    }
    total
}

/// A workload: runs `n` frames, returns the bytes that came out.
type Workload = fn(usize) -> usize;

/// Every workload, by the name the command line takes.
const WORKLOADS: [(&str, Workload); 11] = [
    ("decode", decode),
    ("decode_slice", decode_slice),
    ("frames", frames),
    ("walker", walker),
    ("encode", encode),
    ("encode_rt", encode_rt),
    ("read", read),
    ("tokio_decode", tokio_decode),
    ("tokio_encode", tokio_encode),
    ("tokio_encode_rt", tokio_encode_rt),
    ("tokio_read", tokio_read),
];

fn run(workload: &str, n: usize) -> usize {
    match WORKLOADS.iter().find(|(name, _)| *name == workload) {
        Some((_, f)) => f(n),
        None => {
            let names: Vec<&str> = WORKLOADS.iter().map(|(name, _)| *name).collect();
            eprintln!(
                "unknown workload {workload:?}: use one of {}",
                names.join(", ")
            );
            std::process::exit(2);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.as_slice() {
        [workload, n] => {
            let n: usize = n.parse().expect("n is a number");
            println!("{workload} {n}: {}", run(workload, n));
        }
        _ => {
            // Smoke test: each workload does what it says (payload bytes
            // out of a decoder or reader, wire bytes out of an encoder).
            for (name, f) in WORKLOADS {
                if name.contains("encode") {
                    assert_eq!(f(3000), 3000 * 20, "{name}");
                } else {
                    assert_eq!(f(2 * ROUND), 2 * ROUND * 16, "{name}");
                }
            }
            println!("per_frame: workloads checked (run under callgrind for instruction counts)");
        }
    }
}
