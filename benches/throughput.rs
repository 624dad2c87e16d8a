//! lenframe side by side with tokio-util's `LengthDelimitedCodec`, the
//! seeds' idiom (`read_exact` header, `read_exact` payload into a new Vec)
//! and the physical limits (memcpy, a hand-written slice walker).
//!
//! `cargo bench` runs the full comparison (under 3 minutes on 2 cores);
//! without `--bench` (e.g. `cargo test --benches`) it runs a quick smoke
//! mode with tiny sizes. Every implementation's output is checked (frame
//! count, bytes, a checksum) before its time is reported. Results are
//! printed one line per scenario and written to
//! `target/lenframe-bench.json`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::{self, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use lenframe::{Codec, FrameReader, FrameWriter, HeaderFormat};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

// ---------------------------------------------------------------- allocator

struct CountingAlloc;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

// ---------------------------------------------------------------- results

/// What a decode produced: frames, payload bytes, checksum.
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

struct Measured {
    name: String,
    secs: f64,
    allocs_per_frame: f64,
}

struct Scenario {
    name: String,
    frames: u64,
    bytes: u64,
    results: Vec<Measured>,
    extra: Vec<(String, f64)>,
}

struct Bench {
    quick: bool,
    reps: usize,
    scenarios: Vec<Scenario>,
}

impl Bench {
    /// `LENFRAME_BENCH=substring` runs only the matching scenarios.
    fn wants(&self, label: &str) -> bool {
        std::env::var("LENFRAME_BENCH").map_or(true, |f| label.contains(&f))
    }

    /// Runs `f` `reps` times, checks its digest against `want`, returns the
    /// median seconds and allocations per frame.
    fn time(&self, name: &str, want: Digest, mut f: impl FnMut() -> Digest) -> Measured {
        self.time_with_setup(name, want, || (), |_| f())
    }

    /// Like `time`, with an untimed `setup` before each run.
    fn time_with_setup<S>(
        &self,
        name: &str,
        want: Digest,
        mut setup: impl FnMut() -> S,
        mut f: impl FnMut(&mut S) -> Digest,
    ) -> Measured {
        let mut times = Vec::new();
        let mut allocs = 0;
        for _ in 0..self.reps {
            let mut input = setup();
            let a0 = ALLOCS.load(Ordering::Relaxed);
            let t = Instant::now();
            let got = black_box(f(&mut input));
            times.push(t.elapsed().as_secs_f64());
            drop(input); // freeing the input is not part of the measurement
            allocs = ALLOCS.load(Ordering::Relaxed) - a0;
            assert_eq!(got, want, "{name} decoded the wrong frames");
        }
        times.sort_by(f64::total_cmp);
        Measured {
            name: name.to_owned(),
            secs: times[times.len() / 2],
            allocs_per_frame: allocs as f64 / want.frames.max(1) as f64,
        }
    }

    fn report(
        &mut self,
        name: &str,
        want: Digest,
        results: Vec<Measured>,
        extra: Vec<(String, f64)>,
    ) {
        let mut line = format!("{name:<34}");
        for r in &results {
            let fps = want.frames as f64 / r.secs;
            let gbs = want.bytes as f64 / r.secs / 1e9;
            let _ = write!(line, " | {}: {:.1} Mf/s {:.2} GB/s", r.name, fps / 1e6, gbs);
        }
        // Print the ratios a reader compares; the JSON has them all.
        let limit = if want.bytes / want.frames.max(1) < 1024 {
            "/walker"
        } else {
            "/memcpy"
        };
        for (k, v) in ratios(&results).into_iter().chain(extra.iter().cloned()) {
            if k.ends_with("/tokio-util") || k.ends_with(limit) || k.contains("/raw-tcp") {
                let _ = write!(line, " | {k} {v:.2}");
            }
        }
        println!("{line}");
        self.scenarios.push(Scenario {
            name: name.to_owned(),
            frames: want.frames,
            bytes: want.bytes,
            results,
            extra,
        });
    }
}

/// lenframe-vs-others ratios of throughput (higher is better for lenframe).
fn ratios(results: &[Measured]) -> Vec<(String, f64)> {
    let find = |n: &str| results.iter().find(|r| r.name == n).map(|r| r.secs);
    let mut out = Vec::new();
    for ours in results.iter().filter(|r| r.name.starts_with("lenframe")) {
        for other in ["tokio-util", "walker", "memcpy", "raw-tcp"] {
            if let Some(t) = find(other) {
                out.push((format!("{}/{other}", ours.name), t / ours.secs));
            }
        }
    }
    out
}

// ---------------------------------------------------------------- streams

fn frame_payload(i: usize, size: usize) -> Vec<u8> {
    (0..size).map(|j| (i.wrapping_mul(131) ^ j) as u8).collect()
}

fn make_stream(codec: &Codec, n: usize, size: usize) -> (Vec<u8>, Digest) {
    let mut wire = Vec::with_capacity(n * (size + codec.header_len()));
    let mut d = Digest::default();
    let distinct: Vec<Vec<u8>> = (0..64).map(|i| frame_payload(i, size)).collect();
    for i in 0..n {
        let p = &distinct[i % 64];
        codec.encode_to_vec(p, &mut wire).unwrap();
        d.add(p);
    }
    (wire, d)
}

fn tokio_codec(format: HeaderFormat) -> LengthDelimitedCodec {
    let mut b = LengthDelimitedCodec::builder();
    b.length_field_length(format.size())
        .max_frame_length(usize::MAX);
    if !format.is_big_endian() {
        b.little_endian();
    }
    b.new_codec()
}

// ---------------------------------------------------------------- decoders

fn lenframe_bytes_whole(codec: &Codec, buf: &mut BytesMut) -> Digest {
    let mut dec = codec.new_decoder();
    let mut d = Digest::default();
    while let Some(f) = dec.decode(buf).unwrap() {
        d.add(&f);
    }
    d
}

fn lenframe_bytes(codec: &Codec, wire: &[u8], chunk: usize) -> Digest {
    let mut dec = codec.new_decoder();
    let mut d = Digest::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    for piece in wire.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(f) = dec.decode(&mut buf).unwrap() {
            d.add(&f);
        }
        // Grow with what arrives, bounded: what a careful caller does.
        let want = dec.needed(buf.len()).min(buf.len().max(64 * 1024));
        buf.reserve(want);
    }
    d
}

fn lenframe_slices(codec: &Codec, wire: &[u8], chunk: usize) -> Digest {
    let mut dec = codec.new_decoder();
    let mut d = Digest::default();
    if chunk >= wire.len() {
        for f in dec.frames(wire) {
            d.add(f.unwrap());
        }
        return d;
    }
    // Chunked: a caller-owned buffer that keeps only the incomplete tail.
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    for piece in wire.chunks(chunk) {
        buf.extend_from_slice(piece);
        let mut it = dec.frames(&buf);
        for f in &mut it {
            d.add(f.unwrap());
        }
        let used = it.consumed();
        buf.drain(..used);
    }
    d
}

fn lenframe_reader(codec: &Codec, wire: &[u8], borrowed: bool) -> Digest {
    let mut r = codec.new_read(wire);
    let mut d = Digest::default();
    if borrowed {
        while let Some(f) = r.read_frame_ref().unwrap() {
            d.add(f);
        }
    } else {
        while let Some(f) = r.read_frame().unwrap() {
            d.add(&f);
        }
    }
    d
}

fn tokio_decode_whole(format: HeaderFormat, buf: &mut BytesMut) -> Digest {
    let mut codec = tokio_codec(format);
    let mut d = Digest::default();
    while let Some(f) = codec.decode(buf).unwrap() {
        d.add(&f);
    }
    d
}

fn tokio_decode(format: HeaderFormat, wire: &[u8], chunk: usize) -> Digest {
    let mut codec = tokio_codec(format);
    let mut d = Digest::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    for piece in wire.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            d.add(&f);
        }
    }
    d
}

/// The seeds' idiom in Rust: read_exact the header, then read_exact the
/// payload into a fresh Vec (over a BufReader).
fn seed_idiom(wire: &[u8]) -> Digest {
    let mut r = BufReader::new(wire);
    let mut d = Digest::default();
    let mut header = [0u8; 4];
    loop {
        match r.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return d,
            Err(e) => panic!("{e}"),
        }
        let mut payload = vec![0u8; u32::from_be_bytes(header) as usize];
        r.read_exact(&mut payload).unwrap();
        d.add(&payload);
    }
}

/// The limit: a hand-written walker over a slice, no checks beyond bounds.
fn walker(format: HeaderFormat, wire: &[u8]) -> Digest {
    let h = format.size();
    let mut d = Digest::default();
    let mut pos = 0;
    while pos + h <= wire.len() {
        let hdr = &wire[pos..pos + h];
        let n = match (h, format.is_big_endian()) {
            (2, false) => u16::from_le_bytes([hdr[0], hdr[1]]) as usize,
            (4, true) => u32::from_be_bytes(hdr.try_into().unwrap()) as usize,
            (8, false) => u64::from_le_bytes(hdr.try_into().unwrap()) as usize,
            _ => unreachable!(),
        };
        let start = pos + h;
        d.add(&wire[start..start + n]);
        pos = start + n;
    }
    d
}

/// The copy limit: every frame copied once, like a reader must, into a
/// reused buffer of one frame (so source and destination sit in the same
/// cache regime as a reader's).
fn memcpy(wire: &[u8], dst: &mut [u8], want: Digest) -> Digest {
    for piece in wire.chunks(dst.len()) {
        dst[..piece.len()].copy_from_slice(piece);
        black_box(&mut *dst);
    }
    want
}

/// Bytes each memcpy step copies: one frame, at least 64 KiB.
fn copy_unit(frames: u64, bytes: usize) -> usize {
    (bytes / frames.max(1) as usize)
        .max(64 * 1024)
        .min(bytes.max(1))
}

// ---------------------------------------------------------------- scenarios

fn decode_scenario(b: &mut Bench, label: &str, fmt: &str, n: usize, size: usize, chunk: usize) {
    if !b.wants(label) {
        return;
    }
    let format: HeaderFormat = fmt.parse().unwrap();
    let codec = Codec::builder()
        .format(format)
        .max_frame_len(usize::MAX)
        .build()
        .unwrap();
    let (wire, want) = make_stream(&codec, n, size);
    let whole = chunk >= wire.len();
    let mut results = if whole {
        let setup = || BytesMut::from(&wire[..]);
        vec![b.time_with_setup("lenframe-bytes", want, setup, |buf| {
            lenframe_bytes_whole(&codec, buf)
        })]
    } else {
        vec![b.time("lenframe-bytes", want, || {
            lenframe_bytes(&codec, &wire, chunk)
        })]
    };
    results.push(b.time("lenframe-slice", want, || {
        lenframe_slices(&codec, &wire, chunk)
    }));
    if whole {
        results.push(b.time("lenframe-reader", want, || {
            lenframe_reader(&codec, &wire, false)
        }));
        results.push(b.time("lenframe-reader-ref", want, || {
            lenframe_reader(&codec, &wire, true)
        }));
    }
    if whole {
        let setup = || BytesMut::from(&wire[..]);
        results.push(b.time_with_setup("tokio-util", want, setup, |buf| {
            tokio_decode_whole(format, buf)
        }));
    } else {
        results.push(b.time("tokio-util", want, || tokio_decode(format, &wire, chunk)));
    }
    if fmt == "!I" && whole {
        results.push(b.time("seed-idiom", want, || seed_idiom(&wire)));
    }
    if whole {
        results.push(b.time("walker", want, || walker(format, &wire)));
        let mut dst = vec![0u8; copy_unit(want.frames, wire.len())];
        results.push(b.time("memcpy", want, || memcpy(&wire, &mut dst, want)));
    }
    b.report(label, want, results, Vec::new());
}

fn encode_scenario(b: &mut Bench, n: usize, size: usize) {
    let codec = Codec::default();
    let payloads: Vec<Vec<u8>> = (0..64).map(|i| frame_payload(i, size)).collect();
    let (wire, want) = make_stream(&codec, n, size);
    let digest_of = |out: &[u8]| {
        assert_eq!(out, &wire[..], "encoded bytes differ");
        want
    };
    let mut out = BytesMut::with_capacity(wire.len());
    let ours = b.time("lenframe-encode", want, || {
        out.clear();
        for i in 0..n {
            codec.encode(&payloads[i % 64], &mut out).unwrap();
        }
        digest_of(&out)
    });
    let mut sink: Vec<u8> = Vec::with_capacity(wire.len());
    let writer = b.time("lenframe-writer", want, || {
        sink.clear();
        let mut w = FrameWriter::new(&mut sink);
        for i in 0..n {
            w.write_frame(&payloads[i % 64]).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        digest_of(&sink)
    });
    // tokio-util's fastest path for the same API shape: `Encoder<&[u8]>`
    // into a reused `BytesMut`, as `Codec::encode` above.
    let mut tokio = tokio_codec(HeaderFormat::default());
    let theirs = b.time("tokio-util", want, || {
        out.clear();
        for i in 0..n {
            tokio.encode(&payloads[i % 64][..], &mut out).unwrap();
        }
        digest_of(&out)
    });
    let mut dst = vec![0u8; copy_unit(want.frames, wire.len())];
    let limit = b.time("memcpy", want, || memcpy(&wire, &mut dst, want));
    b.report(
        &format!("encode {n} x {size} B !I"),
        want,
        vec![ours, writer, theirs, limit],
        Vec::new(),
    );
}

/// A `Write` that records how payload bytes arrive: a payload is
/// zero-copy if a slice handed to `write_vectored` points into it.
struct ZeroCopyProbe {
    payload_ptr: usize,
    payload_len: usize,
    saw_payload_slice: bool,
    bytes: usize,
}

impl Write for ZeroCopyProbe {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.bytes += b.len();
        Ok(b.len())
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            let p = b.as_ptr() as usize;
            if p >= self.payload_ptr && p < self.payload_ptr + self.payload_len {
                self.saw_payload_slice = true;
            }
            n += b.len();
        }
        self.bytes += n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn encode_large_scenario(b: &mut Bench, n: usize) {
    let payload = frame_payload(1, 1 << 20);
    let mut want = Digest::default();
    for _ in 0..n {
        want.add(&payload);
    }
    let mut zero_copy = true;
    let r = b.time("lenframe-writer", want, || {
        let probe = ZeroCopyProbe {
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
    b.report(
        &format!("write {n} x 1 MiB (payload copies)"),
        want,
        vec![r],
        vec![("payload-copies".into(), 0.0)],
    );
}

/// A `Read` or `Write` wrapper that counts calls.
struct Calls<T> {
    inner: T,
    calls: u64,
}

impl<R: Read> Read for Calls<R> {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        self.inner.read(b)
    }
}

impl<W: Write> Write for Calls<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        self.inner.write(b)
    }
    fn write_vectored(&mut self, b: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.calls += 1;
        self.inner.write_vectored(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn call_count_scenario(b: &mut Bench, n: usize) {
    let codec = Codec::default();
    let (wire, want) = make_stream(&codec, n, 16);
    let mut r = codec.new_read(Calls {
        inner: &wire[..],
        calls: 0,
    });
    let mut d = Digest::default();
    while let Some(f) = r.read_frame_ref().unwrap() {
        d.add(f);
    }
    assert_eq!(d, want);
    let reads = r.get_ref().calls as f64 / n as f64;
    let mut w = codec.new_write(Calls {
        inner: io::sink(),
        calls: 0,
    });
    let p = frame_payload(0, 16);
    for _ in 0..n {
        w.write_frame(&p).unwrap();
    }
    w.flush().unwrap();
    let writes = w.get_ref().calls as f64 / n as f64;
    // The seed idiom without buffering: read_exact straight on the source.
    let mut src = Calls {
        inner: &wire[..],
        calls: 0,
    };
    let mut header = [0u8; 4];
    let mut payload = [0u8; 16];
    for _ in 0..n {
        src.read_exact(&mut header).unwrap();
        src.read_exact(&mut payload).unwrap();
    }
    let seed_reads = src.calls as f64 / n as f64;
    let mut sink = Calls {
        inner: io::sink(),
        calls: 0,
    };
    for _ in 0..n {
        sink.write_all(&16u32.to_be_bytes()).unwrap();
        sink.write_all(&p).unwrap();
    }
    let seed_writes = sink.calls as f64 / n as f64;
    println!(
        "{:<34} | lenframe: {reads:.4} read()/frame {writes:.4} write()/frame | seed-idiom: {seed_reads:.1} read()/frame {seed_writes:.1} write()/frame",
        "calls per 16 B frame"
    );
    b.scenarios.push(Scenario {
        name: "calls per 16 B frame".into(),
        frames: n as u64,
        bytes: want.bytes,
        results: Vec::new(),
        extra: vec![
            ("lenframe_reads_per_frame".into(), reads),
            ("lenframe_writes_per_frame".into(), writes),
            ("seed_reads_per_frame".into(), seed_reads),
            ("seed_writes_per_frame".into(), seed_writes),
        ],
    });
}

fn alloc_scenario(b: &mut Bench, n: usize) {
    let codec = Codec::default();
    let (wire, want) = make_stream(&codec, n, 16);
    let mut line = format!("{:<34}", "allocations per 16 B frame");
    let mut extra = Vec::new();
    type Path<'a> = (&'a str, Box<dyn Fn() -> Digest + 'a>);
    let paths: Vec<Path<'_>> = vec![
        (
            "lenframe-bytes",
            Box::new(|| lenframe_bytes(&codec, &wire, usize::MAX)),
        ),
        (
            "lenframe-slice",
            Box::new(|| lenframe_slices(&codec, &wire, usize::MAX)),
        ),
        (
            "lenframe-reader",
            Box::new(|| lenframe_reader(&codec, &wire, false)),
        ),
        (
            "lenframe-reader-ref",
            Box::new(|| lenframe_reader(&codec, &wire, true)),
        ),
        (
            "tokio-util",
            Box::new(|| tokio_decode(HeaderFormat::default(), &wire, usize::MAX)),
        ),
        ("seed-idiom", Box::new(|| seed_idiom(&wire))),
    ];
    for (name, f) in paths {
        let a0 = ALLOCS.load(Ordering::Relaxed);
        assert_eq!(f(), want);
        let per = (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / n as f64;
        let _ = write!(line, " | {name}: {per:.4}");
        extra.push((format!("{name}_allocs_per_frame"), per));
    }
    println!("{line}");
    b.scenarios.push(Scenario {
        name: "allocations per 16 B frame".into(),
        frames: n as u64,
        bytes: want.bytes,
        results: Vec::new(),
        extra,
    });
}

// ---------------------------------------------------------------- loopback

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    a.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    b.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    (a, b)
}

/// Sends with `send` on one thread while `recv` reads on this one.
fn over_tcp(
    send: impl FnOnce(TcpStream) + Send + 'static,
    recv: impl FnOnce(TcpStream) -> Digest,
) -> Digest {
    let (tx, rx) = tcp_pair();
    let t = std::thread::spawn(move || send(tx));
    let d = recv(rx);
    t.join().unwrap();
    d
}

/// `n` copies of `payload` through FrameWriter -> loopback -> FrameReader.
fn framed_over_tcp(payload: Vec<u8>, n: usize) -> Digest {
    over_tcp(
        move |s| {
            let mut w = FrameWriter::new(s);
            for _ in 0..n {
                w.write_frame(&payload).unwrap();
            }
            w.flush().unwrap();
        },
        |s| {
            let mut r = FrameReader::new(s);
            let mut d = Digest::default();
            while let Some(f) = r.read_frame_ref().unwrap() {
                d.add(f);
            }
            d
        },
    )
}

fn loopback_scenarios(b: &mut Bench, total: usize, small: usize) {
    let chunk = 64 * 1024;
    let n = total / chunk;
    let payload: std::sync::Arc<Vec<u8>> = std::sync::Arc::new(frame_payload(3, chunk));
    let mut want = Digest::default();
    for _ in 0..n {
        want.add(&payload);
    }
    let raw_run = || {
        let sent = payload.clone();
        over_tcp(
            move |mut s| {
                for _ in 0..n {
                    s.write_all(&sent).unwrap();
                }
            },
            |mut s| {
                let mut buf = vec![0u8; chunk];
                let mut total_read = 0;
                // Unframed: count bytes, then report in frame-size units.
                loop {
                    let k = s.read(&mut buf).unwrap();
                    if k == 0 {
                        break;
                    }
                    total_read += k;
                }
                assert_eq!(total_read, n * chunk);
                want
            },
        )
    };
    let framed_run = || framed_over_tcp(payload.to_vec(), n);
    // Loopback is noisy: alternate the two in pairs and take medians,
    // including the median of the per-pair ratios.
    let pairs = if b.quick { 1 } else { 9 };
    let (mut raw_t, mut framed_t, mut paired) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..pairs {
        let t = Instant::now();
        assert_eq!(raw_run(), want);
        let r = t.elapsed().as_secs_f64();
        let t = Instant::now();
        assert_eq!(framed_run(), want, "framed loopback lost frames");
        let f = t.elapsed().as_secs_f64();
        raw_t.push(r);
        framed_t.push(f);
        paired.push(r / f);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let raw = Measured {
        name: "raw-tcp".into(),
        secs: median(&mut raw_t),
        allocs_per_frame: 0.0,
    };
    let framed = Measured {
        name: "lenframe".into(),
        secs: median(&mut framed_t),
        allocs_per_frame: 0.0,
    };
    b.report(
        &format!("loopback {n} x 64 KiB"),
        want,
        vec![framed, raw],
        vec![("lenframe/raw-tcp paired median".into(), median(&mut paired))],
    );

    let p16 = frame_payload(5, 16);
    let mut want16 = Digest::default();
    for _ in 0..small {
        want16.add(&p16);
    }
    let pipelined = b.time("lenframe", want16, || framed_over_tcp(p16.clone(), small));
    let seed_n = (small / 10).max(1);
    let mut want_seed = Digest::default();
    for _ in 0..seed_n {
        want_seed.add(&p16);
    }
    let pp = p16.clone();
    let seed = b.time("seed-idiom", want_seed, || {
        let pp = pp.clone();
        over_tcp(
            move |mut s| {
                s.set_nodelay(true).unwrap();
                for _ in 0..seed_n {
                    s.write_all(&16u32.to_be_bytes()).unwrap();
                    s.write_all(&pp).unwrap();
                }
            },
            |mut s| {
                let mut d = Digest::default();
                let mut h = [0u8; 4];
                while s.read_exact(&mut h).is_ok() {
                    let mut v = vec![0u8; u32::from_be_bytes(h) as usize];
                    s.read_exact(&mut v).unwrap();
                    d.add(&v);
                }
                d
            },
        )
    });
    let ratio = (small as f64 / pipelined.secs) / (seed_n as f64 / seed.secs);
    println!(
        "{:<34} | lenframe: {:.2} Mf/s | seed-idiom (2 writes + 2 reads per frame, {seed_n} frames): {:.2} Mf/s | lenframe/seed-idiom {ratio:.1}",
        format!("loopback pipelined {small} x 16 B"),
        small as f64 / pipelined.secs / 1e6,
        seed_n as f64 / seed.secs / 1e6,
    );
    b.scenarios.push(Scenario {
        name: format!("loopback pipelined {small} x 16 B"),
        frames: small as u64,
        bytes: want16.bytes,
        results: vec![
            pipelined,
            Measured {
                name: "seed-idiom".into(),
                // Normalise to the same frame count for the JSON consumer.
                secs: seed.secs * small as f64 / seed_n as f64,
                allocs_per_frame: seed.allocs_per_frame,
            },
        ],
        extra: vec![("lenframe/seed-idiom".into(), ratio)],
    });
}

// ---------------------------------------------------------------- output

fn json_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn write_json(b: &Bench) -> io::Result<std::path::PathBuf> {
    let mut out = String::from("{\n  \"mode\": ");
    let _ = write!(
        out,
        "\"{}\",\n  \"scenarios\": [\n",
        if b.quick { "quick" } else { "full" }
    );
    for (i, s) in b.scenarios.iter().enumerate() {
        let _ = write!(
            out,
            "    {{\"name\": \"{}\", \"frames\": {}, \"bytes\": {}, \"results\": {{",
            json_escape(&s.name),
            s.frames,
            s.bytes
        );
        for (j, r) in s.results.iter().enumerate() {
            let _ = write!(
                out,
                "{}\"{}\": {{\"seconds\": {:.9}, \"frames_per_sec\": {:.1}, \"gb_per_sec\": {:.4}, \"allocs_per_frame\": {:.4}}}",
                if j > 0 { ", " } else { "" },
                json_escape(&r.name),
                r.secs,
                s.frames as f64 / r.secs,
                s.bytes as f64 / r.secs / 1e9,
                r.allocs_per_frame
            );
        }
        out.push_str("}, \"ratios\": {");
        let all: Vec<(String, f64)> = ratios(&s.results)
            .into_iter()
            .chain(s.extra.iter().cloned())
            .collect();
        for (j, (k, v)) in all.iter().enumerate() {
            let _ = write!(
                out,
                "{}\"{}\": {:.4}",
                if j > 0 { ", " } else { "" },
                json_escape(k),
                v
            );
        }
        let _ = writeln!(
            out,
            "}}}}{}",
            if i + 1 < b.scenarios.len() { "," } else { "" }
        );
    }
    out.push_str("  ]\n}\n");
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("lenframe-bench.json");
    std::fs::write(&path, out)?;
    Ok(path)
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let mut b = Bench {
        quick,
        reps: if quick { 1 } else { 5 },
        scenarios: Vec::new(),
    };
    let k = |full: usize, q: usize| if quick { q } else { full };
    println!(
        "lenframe bench ({} mode): medians of {} runs; Mf/s = million frames per second",
        if quick { "quick" } else { "full" },
        b.reps
    );
    let whole = usize::MAX;
    decode_scenario(
        &mut b,
        "decode 16 B !I",
        "!I",
        k(1_000_000, 2_000),
        16,
        whole,
    );
    decode_scenario(
        &mut b,
        "decode 16 B <H",
        "<H",
        k(1_000_000, 2_000),
        16,
        whole,
    );
    decode_scenario(&mut b, "decode 16 B q", "q", k(1_000_000, 2_000), 16, whole);
    decode_scenario(&mut b, "decode 0 B !I", "!I", k(1_000_000, 2_000), 0, whole);
    decode_scenario(
        &mut b,
        "decode 64 KiB !I",
        "!I",
        k(4_096, 8),
        64 * 1024,
        whole,
    );
    decode_scenario(&mut b, "decode 1 MiB !I", "!I", k(256, 2), 1 << 20, whole);
    decode_scenario(
        &mut b,
        "decode 16 B !I, 1500 B chunks",
        "!I",
        k(1_000_000, 2_000),
        16,
        1500,
    );
    decode_scenario(
        &mut b,
        "decode 1 MiB !I, 1500 B chunks",
        "!I",
        k(256, 2),
        1 << 20,
        1500,
    );
    if b.wants("encode") {
        encode_scenario(&mut b, k(1_000_000, 2_000), 16);
        encode_large_scenario(&mut b, k(256, 2));
    }
    if b.wants("calls") {
        call_count_scenario(&mut b, k(1_000_000, 2_000));
        alloc_scenario(&mut b, k(1_000_000, 2_000));
    }
    if b.wants("loopback") {
        loopback_scenarios(&mut b, k(1 << 30, 4 << 20), k(2_000_000, 5_000));
    }
    match write_json(&b) {
        Ok(path) => println!("results written to {}", path.display()),
        Err(e) => eprintln!("could not write the JSON results: {e}"),
    }
}
