//! The scenarios: each builds its input, runs the implementations that
//! apply, checks them, and says which one each is compared with. Names are
//! the README table's; `cargo bench -- FILTER` matches them by substring.

use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use lenframe::{Codec, FrameWriter, HeaderFormat};

use crate::impls;
use crate::measure::{allocations, median, Bench, Digest, Timing};
use crate::report::{Figure, Line, Scenario};

/// Measures the scenario of the given name.
type Run = Box<dyn Fn(&'static str, &Bench) -> Scenario>;

/// A scenario by name; `run` measures it.
pub struct Def {
    pub name: &'static str,
    run: Run,
}

impl Def {
    pub fn run(&self, b: &Bench) -> Scenario {
        (self.run)(self.name, b)
    }
}

fn def(name: &'static str, run: impl Fn(&'static str, &Bench) -> Scenario + 'static) -> Def {
    Def {
        name,
        run: Box::new(run),
    }
}

const WHOLE: usize = usize::MAX;
const KIB: usize = 1024;
const MIB: usize = 1 << 20;

/// Every scenario, in the order they run.
pub fn all() -> Vec<Def> {
    let decode = |fmt: &'static str, n: (usize, usize), size: usize, chunk: usize| {
        move |name, b: &Bench| decode_scenario(b, name, fmt, b.size(n.0, n.1), size, chunk)
    };
    let small = (1_000_000, 2_000);
    let large = (256, 2);
    vec![
        def("decode 16 B !I", decode("!I", small, 16, WHOLE)),
        def("decode 16 B <H", decode("<H", small, 16, WHOLE)),
        def("decode 16 B q", decode("q", small, 16, WHOLE)),
        def("decode 0 B !I", decode("!I", small, 0, WHOLE)),
        def(
            "decode 64 KiB !I",
            decode("!I", (4_096, 8), 64 * KIB, WHOLE),
        ),
        def("decode 1 MiB !I", decode("!I", large, MIB, WHOLE)),
        def(
            "decode 16 B !I, 1500 B chunks",
            decode("!I", small, 16, 1500),
        ),
        def(
            "decode 1 MiB !I, 1500 B chunks",
            decode("!I", large, MIB, 1500),
        ),
        def("encode 16 B !I", |name, b| {
            encode_scenario(b, name, b.size(1_000_000, 2_000))
        }),
        def("write 1 MiB !I", |name, b| {
            write_large_scenario(b, name, b.size(256, 2))
        }),
        def("calls per 16 B frame", |name, b| {
            calls_scenario(name, b.size(1_000_000, 2_000))
        }),
        def("allocations per 16 B frame", |name, b| {
            allocs_scenario(name, b.size(1_000_000, 2_000))
        }),
        def("loopback 64 KiB", |name, b| {
            loopback_scenario(b, name, b.size(16_384, 64))
        }),
        def("loopback pipelined 16 B", |name, b| {
            pipelined_scenario(b, name, b.size(2_000_000, 5_000))
        }),
    ]
}

// ------------------------------------------------------------- inputs

fn frame_payload(i: usize, size: usize) -> Vec<u8> {
    (0..size).map(|j| (i.wrapping_mul(131) ^ j) as u8).collect()
}

/// 64 distinct payloads of `size` bytes.
fn payloads(size: usize) -> Vec<Vec<u8>> {
    (0..64).map(|i| frame_payload(i, size)).collect()
}

/// `n` frames cycling through `payloads(size)`, and their digest.
fn make_stream(codec: &Codec, n: usize, size: usize) -> (Vec<u8>, Digest) {
    let mut wire = Vec::with_capacity(n * (size + codec.header_len()));
    let mut d = Digest::default();
    let distinct = payloads(size);
    for i in 0..n {
        let p = &distinct[i % distinct.len()];
        codec.encode_to_vec(p, &mut wire).unwrap();
        d.add(p);
    }
    (wire, d)
}

// ------------------------------------------------------------- building lines

/// A timed line for `want`'s frames.
fn timed(
    implementation: &'static str,
    want: Digest,
    t: Timing,
    moves_bytes: bool,
    vs: Option<&'static str>,
) -> Line {
    Line {
        implementation,
        frames: want.frames,
        bytes: want.bytes,
        figure: Figure::Timed {
            secs: t.secs,
            cpu_secs: t.cpu_secs,
            allocs_per_frame: t.allocs_per_frame,
            moves_bytes,
        },
        vs,
    }
}

fn counted(implementation: &'static str, frames: usize, counts: Vec<(&'static str, f64)>) -> Line {
    Line {
        implementation,
        frames: frames as u64,
        bytes: 16 * frames as u64,
        figure: Figure::Counts(counts),
        vs: None,
    }
}

// ------------------------------------------------------------- scenarios

/// Decoding `n` frames of `size` bytes in format `fmt`: the whole stream at
/// once (`chunk == WHOLE`) or fed `chunk` bytes at a time.
fn decode_scenario(
    b: &Bench,
    name: &'static str,
    fmt: &str,
    n: usize,
    size: usize,
    chunk: usize,
) -> Scenario {
    let format: HeaderFormat = fmt.parse().unwrap();
    let codec = Codec::builder()
        .format(format)
        .max_frame_len(usize::MAX)
        .build()
        .unwrap();
    let (wire, want) = make_stream(&codec, n, size);
    let whole = chunk >= wire.len();
    // Zero-copy lines are compared with tokio-util's zero-copy decode;
    // lines that copy large frames with memcpy, the copy limit.
    let tokio = Some("tokio-util");
    let copying = if size >= KIB && whole {
        Some("memcpy")
    } else {
        tokio
    };
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    if whole {
        // The stream in a buffer with room to spare, as a reader's buffer
        // has. (An exactly full buffer makes tokio-util's `reserve` of the
        // next header after each frame copy the whole tail while the frame
        // still shares the buffer: quadratic for large frames, and not what
        // `FramedRead` sees.)
        let setup = || {
            let mut buf = BytesMut::with_capacity(wire.len() + 1024);
            buf.extend_from_slice(&wire);
            buf
        };
        let t = b.time_with_setup("lenframe-bytes", want, setup, |buf| {
            impls::lenframe_bytes_whole(&codec, buf)
        });
        lines.push(timed("lenframe-bytes", want, t, false, tokio));
        let t = b.time("lenframe-slice", want, || {
            impls::lenframe_slices(&codec, &wire, chunk)
        });
        lines.push(timed("lenframe-slice", want, t, false, tokio));
        let t = b.time("lenframe-reader", want, || {
            impls::lenframe_reader(&codec, &wire, false)
        });
        lines.push(timed("lenframe-reader", want, t, true, copying));
        let t = b.time("lenframe-reader-ref", want, || {
            impls::lenframe_reader(&codec, &wire, true)
        });
        lines.push(timed("lenframe-reader-ref", want, t, true, copying));
        let t = b.time_with_setup("tokio-util", want, setup, |buf| {
            impls::tokio_decode_whole(format, buf)
        });
        lines.push(timed("tokio-util", want, t, false, None));
        if fmt == "!I" {
            let t = b.time("seed-idiom", want, || impls::seed_idiom(&wire));
            lines.push(timed("seed-idiom", want, t, true, None));
        }
        let t = b.time("walker", want, || impls::walker(format, &wire));
        lines.push(timed("walker", want, t, false, None));
        // `frames()` against the walker again, in alternating runs (see
        // `paired_speedup`); the walker's speed over lenframe's, inverted.
        let pairs = if b.quick { 1 } else { 31 };
        let slower = paired_speedup(
            pairs,
            || assert_eq!(impls::walker(format, &wire), want),
            || assert_eq!(impls::lenframe_slices(&codec, &wire, chunk), want),
        );
        notes.push(format!(
            "median of {pairs} alternating pairs: lenframe-slice {:.2}x walker",
            1.0 / slower
        ));
        if size >= KIB {
            let mut dst = vec![0u8; impls::copy_unit(want.frames, wire.len())];
            let t = b.time("memcpy", want, || impls::memcpy(&wire, &mut dst, want));
            lines.push(timed("memcpy", want, t, true, None));
        }
    } else {
        // Chunked: every implementation copies what arrives into a buffer.
        let t = b.time("lenframe-bytes", want, || {
            impls::lenframe_bytes(&codec, &wire, chunk)
        });
        lines.push(timed("lenframe-bytes", want, t, true, tokio));
        let t = b.time("lenframe-slice", want, || {
            impls::lenframe_slices(&codec, &wire, chunk)
        });
        lines.push(timed("lenframe-slice", want, t, true, tokio));
        let t = b.time("tokio-util", want, || {
            impls::tokio_decode(format, &wire, chunk)
        });
        lines.push(timed("tokio-util", want, t, true, None));
    }
    Scenario { name, lines, notes }
}

/// Encoding `n` 16-byte payloads, like for like: `&[u8]` into a reused
/// `BytesMut` on both sides; every output is compared with the expected wire.
/// Twice: with the codecs made where the compiler can see them, and chosen
/// at run time (lenframe's parsed from a string through `black_box`,
/// tokio-util's from its builder with `black_box` settings), as in a program
/// that reads its format from a flag, where nothing can be folded.
fn encode_scenario(b: &Bench, name: &'static str, n: usize) -> Scenario {
    let codec = Codec::default();
    let payloads = payloads(16);
    let (wire, want) = make_stream(&codec, n, 16);
    let check = |out: &[u8]| {
        assert_eq!(out, &wire[..], "encoded bytes differ");
        want
    };
    let tokio = Some("tokio-util");
    let mut out = BytesMut::with_capacity(wire.len());
    let mut lines = Vec::new();
    let t = b.time("lenframe-encode", want, || {
        impls::lenframe_encode_default(&payloads, n, &mut out);
        check(&out)
    });
    lines.push(timed("lenframe-encode", want, t, true, tokio));
    let t = b.time("lenframe-encode-rt", want, || {
        impls::lenframe_encode_runtime("!I", &payloads, n, &mut out);
        check(&out)
    });
    lines.push(timed(
        "lenframe-encode-rt",
        want,
        t,
        true,
        Some("tokio-util-rt"),
    ));
    let mut sink = Vec::with_capacity(wire.len());
    let t = b.time("lenframe-writer", want, || {
        impls::lenframe_writer(&payloads, n, &mut sink);
        check(&sink)
    });
    lines.push(timed(
        "lenframe-writer",
        want,
        t,
        true,
        Some("tokio-util-write"),
    ));
    let mut theirs = impls::tokio_codec(HeaderFormat::default());
    let t = b.time("tokio-util", want, || {
        impls::tokio_encode(&mut theirs, &payloads, n, &mut out);
        check(&out)
    });
    lines.push(timed("tokio-util", want, t, true, None));
    let mut theirs_rt = impls::tokio_codec_runtime(HeaderFormat::default());
    let t = b.time("tokio-util-rt", want, || {
        impls::tokio_encode(&mut theirs_rt, &payloads, n, &mut out);
        check(&out)
    });
    lines.push(timed("tokio-util-rt", want, t, true, None));
    let mut buf = BytesMut::with_capacity(32 * 1024);
    let t = b.time("tokio-util-write", want, || {
        impls::tokio_write(&mut theirs, &payloads, n, &mut buf, &mut sink);
        check(&sink)
    });
    lines.push(timed("tokio-util-write", want, t, true, None));
    // The two ratios again from alternating runs, each pair sharing the
    // machine's state: steadier than medians taken minutes apart when
    // other work shares the cores.
    let pairs = if b.quick { 1 } else { 31 };
    let mut theirs_out = BytesMut::with_capacity(wire.len());
    let paired = paired_speedup(
        pairs,
        || impls::lenframe_encode_default(&payloads, n, &mut out),
        || impls::tokio_encode(&mut theirs, &payloads, n, &mut theirs_out),
    );
    check(&out);
    check(&theirs_out);
    let paired_rt = paired_speedup(
        pairs,
        || impls::lenframe_encode_runtime("!I", &payloads, n, &mut out),
        || impls::tokio_encode(&mut theirs_rt, &payloads, n, &mut theirs_out),
    );
    check(&out);
    check(&theirs_out);
    Scenario {
        name,
        lines,
        notes: vec![
            "tokio-util: Encoder<&[u8]> into a reused BytesMut, as Codec::encode".into(),
            "-rt: the codec chosen at run time (lenframe: black_box(\"!I\").parse(); tokio-util: its builder with black_box settings)".into(),
            "tokio-util-write: the same, write_all to the sink every 16 KiB, as FrameWriter".into(),
            format!(
                "median of {pairs} alternating pairs: lenframe-encode {paired:.2}x tokio-util, \
                 lenframe-encode-rt {paired_rt:.2}x tokio-util-rt"
            ),
        ],
    }
}

/// The median, over `pairs` alternating runs of `ours` and `theirs`, of
/// `theirs`'s time over `ours`'s: how many times faster `ours` is.
fn paired_speedup(pairs: usize, mut ours: impl FnMut(), mut theirs: impl FnMut()) -> f64 {
    let mut ratios = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let t = Instant::now();
        ours();
        let a = t.elapsed().as_secs_f64();
        let t = Instant::now();
        theirs();
        ratios.push(t.elapsed().as_secs_f64() / a);
    }
    median(&mut ratios)
}

/// `FrameWriter` writing `n` 1 MiB frames: header and payload go out in one
/// vectored write, the payload never copied (checked by pointer).
fn write_large_scenario(b: &Bench, name: &'static str, n: usize) -> Scenario {
    let payload = frame_payload(1, MIB);
    let want = Digest::repeated(&payload, n);
    let mut zero_copy = true;
    let t = b.time("lenframe-writer", want, || {
        let probe = impls::ZeroCopyProbe {
            payload_ptr: payload.as_ptr() as usize,
            payload_len: payload.len(),
            saw_payload_slice: false,
            bytes: 0,
        };
        let mut w = FrameWriter::new(probe);
        for _ in 0..n {
            w.write_frame(&payload).unwrap();
        }
        let probe = w.into_inner().unwrap();
        zero_copy &= probe.saw_payload_slice;
        assert_eq!(probe.bytes, n * (payload.len() + 4));
        want
    });
    assert!(zero_copy, "FrameWriter copied a 1 MiB payload");
    Scenario {
        name,
        lines: vec![timed("lenframe-writer", want, t, false, None)],
        notes: vec!["payload copies: 0 (the payload itself reached write_vectored)".into()],
    }
}

/// `read()` and `write()` calls per 16-byte frame, lenframe's adapters
/// against the seeds' unbuffered `read_exact`/`write_all` pairs.
fn calls_scenario(name: &'static str, n: usize) -> Scenario {
    use std::io::{Read, Write};
    let codec = Codec::default();
    let (wire, want) = make_stream(&codec, n, 16);
    let mut r = codec.new_read(impls::Calls::new(&wire[..]));
    let mut d = Digest::default();
    while let Some(f) = r.read_frame_ref().unwrap() {
        d.add(f);
    }
    assert_eq!(d, want);
    let reads = r.get_ref().calls as f64 / n as f64;
    let mut w = codec.new_write(impls::Calls::new(std::io::sink()));
    let p = frame_payload(0, 16);
    for _ in 0..n {
        w.write_frame(&p).unwrap();
    }
    w.flush().unwrap();
    let writes = w.get_ref().calls as f64 / n as f64;
    // Buffered adapters: far fewer than one call per frame.
    assert!(
        reads < 0.1 && writes < 0.1,
        "{reads} reads, {writes} writes per frame"
    );
    let mut src = impls::Calls::new(&wire[..]);
    let (mut header, mut payload) = ([0u8; 4], [0u8; 16]);
    for _ in 0..n {
        src.read_exact(&mut header).unwrap();
        src.read_exact(&mut payload).unwrap();
    }
    let mut sink = impls::Calls::new(std::io::sink());
    for _ in 0..n {
        sink.write_all(&16u32.to_be_bytes()).unwrap();
        sink.write_all(&p).unwrap();
    }
    let per = |calls: u64| calls as f64 / n as f64;
    let counts = |r: f64, w: f64| vec![("read()/frame", r), ("write()/frame", w)];
    Scenario {
        name,
        lines: vec![
            counted("lenframe", n, counts(reads, writes)),
            counted("seed-idiom", n, counts(per(src.calls), per(sink.calls))),
        ],
        notes: Vec::new(),
    }
}

/// Allocations per 16-byte frame on each decoding path.
fn allocs_scenario(name: &'static str, n: usize) -> Scenario {
    let codec = Codec::default();
    let (wire, want) = make_stream(&codec, n, 16);
    let format = HeaderFormat::default();
    type Path<'a> = (&'static str, Box<dyn Fn() -> Digest + 'a>);
    let paths: Vec<Path<'_>> = vec![
        (
            "lenframe-bytes",
            Box::new(|| impls::lenframe_bytes(&codec, &wire, WHOLE)),
        ),
        (
            "lenframe-slice",
            Box::new(|| impls::lenframe_slices(&codec, &wire, WHOLE)),
        ),
        (
            "lenframe-reader",
            Box::new(|| impls::lenframe_reader(&codec, &wire, false)),
        ),
        (
            "lenframe-reader-ref",
            Box::new(|| impls::lenframe_reader(&codec, &wire, true)),
        ),
        (
            "tokio-util",
            Box::new(|| impls::tokio_decode(format, &wire, WHOLE)),
        ),
        ("seed-idiom", Box::new(|| impls::seed_idiom(&wire))),
    ];
    let mut lines = Vec::new();
    for (implementation, f) in paths {
        let a0 = allocations();
        assert_eq!(f(), want, "{implementation} produced the wrong frames");
        let per = (allocations() - a0) as f64 / n as f64;
        if implementation.starts_with("lenframe") {
            // Frames share their buffers: no allocation per frame.
            assert!(per < 0.01, "{implementation}: {per} allocations per frame");
        }
        lines.push(counted(implementation, n, vec![("allocations/frame", per)]));
    }
    Scenario {
        name,
        lines,
        notes: Vec::new(),
    }
}

/// `n` 64 KiB frames over loopback TCP, `FrameWriter` -> `FrameReader`,
/// against the same bytes unframed. Loopback is noisy: the two alternate
/// in pairs and the median of the per-pair ratios is given too.
fn loopback_scenario(b: &Bench, name: &'static str, n: usize) -> Scenario {
    let payload = Arc::new(frame_payload(3, 64 * KIB));
    let want = Digest::repeated(&payload, n);
    let pairs = if b.quick { 1 } else { 9 };
    let (mut raw, mut framed, mut paired) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..pairs {
        let t = Instant::now();
        assert_eq!(impls::raw_tcp(payload.clone(), n), want);
        let r = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let got = impls::lenframe_tcp(payload.to_vec(), n);
        let f = t.elapsed().as_secs_f64();
        assert_eq!(got, want, "framed loopback lost frames");
        raw.push(r);
        framed.push(f);
        paired.push(r / f);
    }
    let timing = |v: &mut Vec<f64>| Timing {
        secs: median(v),
        cpu_secs: None,
        allocs_per_frame: 0.0,
    };
    Scenario {
        name,
        lines: vec![
            timed("lenframe", want, timing(&mut framed), true, Some("raw-tcp")),
            timed("raw-tcp", want, timing(&mut raw), true, None),
        ],
        notes: vec![format!(
            "median of {pairs} alternating pairs; median paired ratio {:.2}",
            median(&mut paired)
        )],
    }
}

/// `n` pipelined 16-byte frames over loopback through lenframe's adapters,
/// against the seeds' idiom (two writes and two reads per frame) on a
/// tenth as many frames; the ratio is per frame.
fn pipelined_scenario(b: &Bench, name: &'static str, n: usize) -> Scenario {
    let p16 = frame_payload(5, 16);
    let want = Digest::repeated(&p16, n);
    let t = b.time("lenframe", want, || impls::lenframe_tcp(p16.clone(), n));
    let seed_n = (n / 10).max(1);
    let want_seed = Digest::repeated(&p16, seed_n);
    let seed = b.time("seed-idiom", want_seed, || {
        impls::seed_tcp(p16.clone(), seed_n)
    });
    Scenario {
        name,
        lines: vec![
            timed("lenframe", want, t, true, Some("seed-idiom")),
            timed("seed-idiom", want_seed, seed, true, None),
        ],
        notes: vec![format!(
            "seed-idiom sends {seed_n} frames (a tenth): 2 writes + 2 reads each"
        )],
    }
}
