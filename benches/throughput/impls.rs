//! The implementations under test. Each takes its input the way a user's
//! code would and returns the `Digest` of what it produced, so the
//! scenarios can check it before trusting its time.
//!
//! lenframe's faces, tokio-util's `LengthDelimitedCodec` on its fastest
//! idiomatic path for the same API shape (`decode` on the same `BytesMut`;
//! `Encoder<&[u8]>` into a reused `BytesMut`), the seeds' idiom
//! (`read_exact` header, `read_exact` payload into a new `Vec`), and the
//! limits (a hand-written slice walker, memcpy, raw TCP).

use std::hint::black_box;
use std::io::{self, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use bytes::BytesMut;
use lenframe::{Codec, FrameReader, FrameWriter, HeaderFormat};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

use crate::measure::Digest;

// ------------------------------------------------------------- lenframe

/// `FrameDecoder::decode` over one `BytesMut` holding the whole stream:
/// each frame is split off the buffer (zero-copy).
pub fn lenframe_bytes_whole(codec: &Codec, buf: &mut BytesMut) -> Digest {
    let mut dec = codec.new_decoder();
    let mut d = Digest::default();
    while let Some(f) = dec.decode(buf).unwrap() {
        d.add(&f);
    }
    d
}

/// `FrameDecoder::decode` fed `chunk` bytes at a time, as from a socket.
pub fn lenframe_bytes(codec: &Codec, wire: &[u8], chunk: usize) -> Digest {
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

/// The borrowed face, `FrameDecoder::frames`: over the whole slice
/// (zero-copy), or chunked through a caller-owned buffer that keeps only
/// the incomplete tail.
pub fn lenframe_slices(codec: &Codec, wire: &[u8], chunk: usize) -> Digest {
    let mut dec = codec.new_decoder();
    let mut d = Digest::default();
    if chunk >= wire.len() {
        for f in dec.frames(wire) {
            d.add(f.unwrap());
        }
        return d;
    }
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

/// `FrameReader` over a `&[u8]` (copies from the source into its buffer):
/// owned `read_frame` or borrowed `read_frame_ref`.
pub fn lenframe_reader(codec: &Codec, wire: &[u8], borrowed: bool) -> Digest {
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

/// `Codec::encode` of each payload into a reused `BytesMut`.
#[inline(always)]
pub fn lenframe_encode(codec: &Codec, payloads: &[Vec<u8>], n: usize, out: &mut BytesMut) {
    out.clear();
    for i in 0..n {
        codec.encode(&payloads[i % payloads.len()], out).unwrap();
    }
}

/// `lenframe_encode` with `Codec::default()` made in the same function as
/// the loop, so that the compiler may know the configuration (the
/// project's usual measurement).
#[inline(never)]
pub fn lenframe_encode_default(payloads: &[Vec<u8>], n: usize, out: &mut BytesMut) {
    lenframe_encode(&Codec::default(), payloads, n, out);
}

/// `lenframe_encode` with the codec chosen at run time: parsed from
/// `format` through `black_box`, so the compiler knows nothing of it, as in
/// a program that reads its format from a flag or a file.
#[inline(never)]
pub fn lenframe_encode_runtime(format: &str, payloads: &[Vec<u8>], n: usize, out: &mut BytesMut) {
    let codec: Codec = black_box(format).parse().unwrap();
    lenframe_encode(&codec, payloads, n, out);
}

/// `FrameWriter::write_frame` of each payload into a reused `Vec`.
pub fn lenframe_writer(payloads: &[Vec<u8>], n: usize, sink: &mut Vec<u8>) {
    sink.clear();
    let mut w = FrameWriter::new(&mut *sink);
    for i in 0..n {
        w.write_frame(&payloads[i % payloads.len()]).unwrap();
    }
    w.flush().unwrap();
}

// ------------------------------------------------------------- tokio-util

/// tokio-util's codec for the same header format and no frame limit.
pub fn tokio_codec(format: HeaderFormat) -> LengthDelimitedCodec {
    let mut b = LengthDelimitedCodec::builder();
    b.length_field_length(format.size())
        .max_frame_length(usize::MAX);
    if !format.is_big_endian() {
        b.little_endian();
    }
    b.new_codec()
}

/// `LengthDelimitedCodec::decode` over one `BytesMut` holding the whole
/// stream (zero-copy, as `lenframe_bytes_whole`).
pub fn tokio_decode_whole(format: HeaderFormat, buf: &mut BytesMut) -> Digest {
    let mut codec = tokio_codec(format);
    let mut d = Digest::default();
    while let Some(f) = codec.decode(buf).unwrap() {
        d.add(&f);
    }
    d
}

/// `LengthDelimitedCodec::decode` fed `chunk` bytes at a time into one
/// `BytesMut` (it reserves room for a known frame itself).
pub fn tokio_decode(format: HeaderFormat, wire: &[u8], chunk: usize) -> Digest {
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

/// tokio-util's codec for `format` configured at run time through its
/// builder, every setting passed through `black_box`: the counterpart of
/// `lenframe_encode_runtime`'s parsed codec.
pub fn tokio_codec_runtime(format: HeaderFormat) -> LengthDelimitedCodec {
    let mut b = LengthDelimitedCodec::builder();
    b.length_field_length(black_box(format.size()))
        .max_frame_length(black_box(usize::MAX));
    if black_box(!format.is_big_endian()) {
        b.little_endian();
    }
    b.new_codec()
}

/// `Encoder<&[u8]>` into a reused `BytesMut`: the same shape as
/// `lenframe_encode` (no `Bytes` clone per frame).
#[inline(never)]
pub fn tokio_encode(
    codec: &mut LengthDelimitedCodec,
    payloads: &[Vec<u8>],
    n: usize,
    out: &mut BytesMut,
) {
    out.clear();
    for i in 0..n {
        codec
            .encode(&payloads[i % payloads.len()][..], out)
            .unwrap();
    }
}

/// What a tokio-util user writes for frames to a blocking `Write`, the
/// shape of `FrameWriter`: `Encoder<&[u8]>` into a `BytesMut`, handed to the
/// writer (`write_all`) whenever 16 KiB (`FrameWriter`'s buffer) are ready.
pub fn tokio_write(
    codec: &mut LengthDelimitedCodec,
    payloads: &[Vec<u8>],
    n: usize,
    buf: &mut BytesMut,
    sink: &mut Vec<u8>,
) {
    use std::io::Write as _;
    sink.clear();
    buf.clear();
    for i in 0..n {
        codec
            .encode(&payloads[i % payloads.len()][..], buf)
            .unwrap();
        if buf.len() >= 16 * 1024 {
            sink.write_all(buf).unwrap();
            buf.clear();
        }
    }
    sink.write_all(buf).unwrap();
}

// ------------------------------------------------------------- the seeds' idiom and the limits

/// The seeds' idiom in Rust: `read_exact` the header, then `read_exact` the
/// payload into a fresh `Vec` (over a `BufReader`).
pub fn seed_idiom(wire: &[u8]) -> Digest {
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

/// The borrowed limit: a hand-written walker over a slice that trusts
/// every header (zero-copy).
pub fn walker(format: HeaderFormat, wire: &[u8]) -> Digest {
    let h = format.size();
    let mut d = Digest::default();
    let mut pos = 0;
    while pos + h <= wire.len() {
        let hdr = &wire[pos..pos + h];
        let n = match (h, format.is_big_endian()) {
            (2, false) => u16::from_le_bytes([hdr[0], hdr[1]]) as usize,
            (4, true) => u32::from_be_bytes(hdr.try_into().unwrap()) as usize,
            (8, false) => u64::from_le_bytes(hdr.try_into().unwrap()) as usize,
            _ => unreachable!("the scenarios use <H, !I and q"),
        };
        let start = pos + h;
        d.add(&wire[start..start + n]);
        pos = start + n;
    }
    d
}

/// The copy limit: the stream copied once, a frame (at least 64 KiB) at a
/// time, into a reused buffer of that size, so source and destination sit
/// in the same cache regime as a reader's. Returns `want`: there is
/// nothing to parse.
pub fn memcpy(wire: &[u8], dst: &mut [u8], want: Digest) -> Digest {
    for piece in wire.chunks(dst.len()) {
        dst[..piece.len()].copy_from_slice(piece);
        black_box(&mut *dst);
    }
    want
}

/// The size of `memcpy`'s destination: one frame, at least 64 KiB.
pub fn copy_unit(frames: u64, bytes: usize) -> usize {
    (bytes / frames.max(1) as usize)
        .max(64 * 1024)
        .min(bytes.max(1))
}

// ------------------------------------------------------------- probes

/// A `Write` that records whether a slice handed to `write_vectored`
/// points into the payload: then the payload was not copied.
pub struct ZeroCopyProbe {
    pub payload_ptr: usize,
    pub payload_len: usize,
    pub saw_payload_slice: bool,
    pub bytes: usize,
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

/// A `Read` or `Write` that counts calls.
pub struct Calls<T> {
    pub inner: T,
    pub calls: u64,
}

impl<T> Calls<T> {
    pub fn new(inner: T) -> Calls<T> {
        Calls { inner, calls: 0 }
    }
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

// ------------------------------------------------------------- loopback TCP

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

/// `n` copies of `payload` through `FrameWriter` -> loopback ->
/// `FrameReader::read_frame_ref`.
pub fn lenframe_tcp(payload: Vec<u8>, n: usize) -> Digest {
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

/// `n` copies of `payload` written raw (no header) and read in reads of
/// `payload.len()` bytes; returns the digest of `n` payloads once every
/// byte has arrived.
pub fn raw_tcp(payload: std::sync::Arc<Vec<u8>>, n: usize) -> Digest {
    let want = Digest::repeated(&payload, n);
    let size = payload.len();
    over_tcp(
        move |mut s| {
            for _ in 0..n {
                s.write_all(&payload).unwrap();
            }
        },
        |mut s| {
            let mut buf = vec![0u8; size];
            let mut total = 0;
            loop {
                let k = s.read(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                total += k;
            }
            assert_eq!(total, n * size, "raw TCP lost bytes");
            want
        },
    )
}

/// The seeds' idiom over loopback: two `write_all` per frame (nodelay), two
/// `read_exact` per frame and a new `Vec` per payload.
pub fn seed_tcp(payload: Vec<u8>, n: usize) -> Digest {
    over_tcp(
        move |mut s| {
            s.set_nodelay(true).unwrap();
            for _ in 0..n {
                s.write_all(&(payload.len() as u32).to_be_bytes()).unwrap();
                s.write_all(&payload).unwrap();
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
}
