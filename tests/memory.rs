//! Memory bounds measured exactly with a counting global allocator: a
//! hostile length header must not make us allocate what it claims.
//!
//! The tests in this binary run one at a time (a mutex) because the
//! allocator's counters are global.
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Mutex;

use lenframe::{Codec, FrameReader, Oversize};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// Only threads that opt in are counted: the test harness allocates on
    /// its own threads while a test measures.
    static TRACKED: Cell<bool> = const { Cell::new(false) };
}

fn tracked() -> bool {
    TRACKED.try_with(Cell::get).unwrap_or(false)
}

fn track_this_thread(on: bool) {
    TRACKED.with(|t| t.set(on));
}

fn grow(n: usize) {
    if tracked() {
        let live = LIVE.fetch_add(n as isize, Ordering::SeqCst) + n as isize;
        PEAK.fetch_max(live, Ordering::SeqCst);
    }
}

fn shrink(n: usize) {
    if tracked() {
        LIVE.fetch_sub(n as isize, Ordering::SeqCst);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            grow(new_size - layout.size());
        } else {
            shrink(layout.size() - new_size);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

static SERIAL: Mutex<()> = Mutex::new(());

/// Bytes allocated (live) by `f`'s result, measured around its creation,
/// and the peak above the starting point.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    // Warm up: std initialises some global state (e.g. on its first I/O
    // error) that is not the reader's and must not be counted.
    drop(stalled_reader(&[0, 0, 0, 100], Codec::default()));
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    track_this_thread(true);
    let value = f();
    track_this_thread(false);
    let live = (LIVE.load(Ordering::SeqCst) - base).max(0) as usize;
    let peak = (PEAK.load(Ordering::SeqCst) - base).max(0) as usize;
    (value, live, peak)
}

/// Yields its bytes (inline, so the source itself allocates nothing), then
/// `WouldBlock` forever: a peer that stalls.
struct Stalling {
    data: [u8; 32],
    pos: usize,
    len: usize,
}

impl Read for Stalling {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn stalled_reader(header: &[u8], codec: Codec) -> FrameReader<Stalling> {
    let mut data = [0x55; 32];
    data[..header.len()].copy_from_slice(header);
    let source = Stalling {
        data,
        pos: 0,
        len: header.len() + 10,
    };
    let mut r = codec.new_read(source);
    let err = r.read_frame().unwrap_err();
    assert!(err.is_retryable(), "{err}");
    r
}

const KIB64: usize = 64 * 1024;

#[test]
fn max_header_then_ten_bytes_holds_at_most_64k() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let codec = Codec::default();
    let header = (codec.max_frame_len() as u32).to_be_bytes();
    let (reader, live, peak) = measure(|| stalled_reader(&header, codec));
    eprintln!("one stalled reader: live {live} B, peak {peak} B");
    assert!(live <= KIB64, "live {live}");
    assert!(peak <= KIB64 + 16 * 1024, "peak {peak}");
    drop(reader);
}

#[test]
fn thousand_stalled_readers_hold_at_most_64m() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let codec = Codec::default();
    let header = (codec.max_frame_len() as u32).to_be_bytes();
    let (readers, live, _) = measure(|| {
        (0..1000)
            .map(|_| stalled_reader(&header, codec))
            .collect::<Vec<_>>()
    });
    eprintln!("1000 stalled readers: live {live} B");
    assert!(live <= 64 * 1024 * 1024, "live {live}");
    assert_eq!(readers.len(), 1000);
}

#[test]
fn u32_max_limit_and_huge_header_still_bounded() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let codec = Codec::builder()
        .max_frame_len(u32::MAX as usize)
        .build()
        .unwrap();
    let (reader, live, peak) = measure(|| stalled_reader(&0xFFFF_FFF0u32.to_be_bytes(), codec));
    eprintln!("0xFFFFFFF0 header: live {live} B, peak {peak} B");
    assert!(live <= KIB64, "live {live}");
    drop(reader);
}

/// Yields a header declaring `declared` bytes, then that many bytes of
/// filler in 64 KiB reads, then one small frame.
struct HugeFrame {
    header: Vec<u8>,
    left: u64,
    tail: Vec<u8>,
}

impl Read for HugeFrame {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.header.is_empty() {
            let n = out.len().min(self.header.len());
            out[..n].copy_from_slice(&self.header[..n]);
            self.header.drain(..n);
            return Ok(n);
        }
        if self.left > 0 {
            let n = (out.len() as u64).min(self.left).min(65536) as usize;
            out[..n].fill(0xEE);
            self.left -= n as u64;
            return Ok(n);
        }
        let n = out.len().min(self.tail.len());
        out[..n].copy_from_slice(&self.tail[..n]);
        self.tail.drain(..n);
        Ok(n)
    }
}

#[test]
fn skip_one_gib_frame_with_bounded_memory() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let codec = Codec::builder().oversize(Oversize::Skip).build().unwrap();
    let declared: u64 = 1 << 30;
    let src = HugeFrame {
        header: (declared as u32).to_be_bytes().to_vec(),
        left: declared,
        tail: b"\0\0\0\x02ok".to_vec(),
    };
    let ((), live, peak) = measure(|| {
        let mut r = codec.new_read(src);
        assert!(matches!(
            r.read_frame(),
            Err(lenframe::Error::FrameTooLarge { len, .. }) if len == declared
        ));
        assert_eq!(r.read_frame().unwrap().as_deref(), Some(&b"ok"[..]));
        assert_eq!(r.read_frame().unwrap(), None);
    });
    eprintln!("skip 1 GiB: peak {peak} B, live after {live} B");
    assert!(peak <= 256 * 1024, "peak {peak}");
}

#[test]
fn one_gib_frame_streams_through_a_socket_in_bounded_memory() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const GIB: u64 = 1 << 30;
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let ((), _live, peak) = measure(|| {
        let sender = std::thread::spawn(move || {
            track_this_thread(true); // the sender's memory counts too
            let mut w = lenframe::FrameWriter::new(a);
            let mut source = io::repeat(0x5A).take(GIB);
            w.write_frame_from(GIB, &mut source).unwrap();
            w.write_frame(b"after").unwrap();
            w.flush().unwrap();
        });
        let mut r = FrameReader::new(b);
        let mut payload = r.read_frame_stream(usize::MAX).unwrap().unwrap();
        assert_eq!(payload.len(), GIB);
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = payload.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&x| x == 0x5A));
            total += n as u64;
        }
        assert_eq!(total, GIB);
        assert_eq!(r.read_frame().unwrap().as_deref(), Some(&b"after"[..]));
        sender.join().unwrap();
    });
    eprintln!("1 GiB streamed frame: peak {peak} B");
    assert!(peak < 16 * 1024 * 1024, "peak {peak}");
}

/// One frame of `big` bytes (filler made on the fly, so the source
/// allocates nothing), then the frame "tail!", then `WouldBlock` forever: a
/// peer that sent one large message and went quiet.
struct BigThenIdle {
    header: [u8; 4],
    big: usize,
    pos: usize,
    tail: &'static [u8],
}

const TAIL: &[u8] = b"\0\0\0\x05tail!";

impl BigThenIdle {
    fn new(big: usize) -> BigThenIdle {
        BigThenIdle::with_tail(big, TAIL)
    }

    /// The big frame, then `tail`, then `WouldBlock`.
    fn with_tail(big: usize, tail: &'static [u8]) -> BigThenIdle {
        BigThenIdle {
            header: (big as u32).to_be_bytes(),
            big,
            pos: 0,
            tail,
        }
    }
}

impl Read for BigThenIdle {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let total = 4 + self.big + self.tail.len();
        if self.pos == total {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut n = 0;
        while n < out.len() && self.pos < total {
            let p = self.pos;
            let chunk = if p < 4 {
                let k = (4 - p).min(out.len() - n);
                out[n..n + k].copy_from_slice(&self.header[p..p + k]);
                k
            } else if p < 4 + self.big {
                let k = (4 + self.big - p).min(out.len() - n);
                out[n..n + k].fill(0xAB);
                k
            } else {
                let t = p - 4 - self.big;
                let k = (self.tail.len() - t).min(out.len() - n);
                out[n..n + k].copy_from_slice(&self.tail[t..t + k]);
                k
            };
            n += chunk;
            self.pos += chunk;
        }
        Ok(n)
    }
}

/// The reads of one idle peer through `next` (a reader's `read_frame` or
/// equivalent): the big frame (checked, then dropped), "tail!", then a
/// retryable error.
fn big_frame_then_idle(
    big: usize,
    mut next: impl FnMut() -> lenframe::Result<Option<lenframe::bytes::Bytes>>,
) {
    let frame = next().unwrap().unwrap();
    assert_eq!(frame.len(), big);
    // Spot checks: a full scan of 8 GB is slow in a debug build.
    assert!([0, big / 2, big - 1].iter().all(|&i| frame[i] == 0xAB));
    drop(frame);
    assert_eq!(next().unwrap().as_deref(), Some(&b"tail!"[..]));
    let err = next().unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

const MIB8: usize = 8 * 1024 * 1024;

/// Issue 10: 1000 readers that each received one 8 MiB frame and went
/// idle (kept alive) hold less than 100 MB in all: each buffer returns to
/// at most 64 KiB once the large frame has left it.
#[test]
fn thousand_readers_idle_after_an_8_mib_frame_hold_under_100_mb() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (readers, live, peak) = measure(|| {
        (0..1000)
            .map(|_| {
                let mut r = FrameReader::new(BigThenIdle::new(MIB8));
                big_frame_then_idle(MIB8, || r.read_frame());
                r
            })
            .collect::<Vec<_>>()
    });
    eprintln!(
        "1000 FrameReaders idle after an 8 MiB frame: {live} B live ({} B each), peak {peak} B",
        live / 1000
    );
    assert!(live < 100_000_000, "live {live}");
    assert_eq!(readers.len(), 1000);
}

/// The same through the borrowed path, through `Framed`, and with
/// `set_idle_capacity(usize::MAX)`, which keeps the buffer on purpose.
#[test]
fn borrowed_path_and_framed_give_memory_back_too() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (kept, live, _) = measure(|| {
        (0..100)
            .map(|_| {
                let mut r = FrameReader::new(BigThenIdle::new(MIB8));
                big_frame_then_idle(MIB8, || {
                    Ok(r.read_frame_ref()?
                        .map(lenframe::bytes::Bytes::copy_from_slice))
                });
                r
            })
            .collect::<Vec<_>>()
    });
    eprintln!("100 FrameReaders (read_frame_ref) idle after 8 MiB: {live} B live");
    assert!(live < 100 * 2 * KIB64, "live {live}");
    drop(kept);

    let (kept, live, _) = measure(|| {
        (0..100)
            .map(|_| {
                let mut f = lenframe::Framed::new(Duplex(BigThenIdle::new(MIB8)));
                big_frame_then_idle(MIB8, || f.recv());
                f
            })
            .collect::<Vec<_>>()
    });
    eprintln!("100 Framed idle after 8 MiB: {live} B live");
    assert!(live < 100 * 3 * KIB64, "live {live}");
    drop(kept);

    // The check can fail: a reader told to keep its buffer holds megabytes.
    let (kept, live, _) = measure(|| {
        let mut r = FrameReader::new(BigThenIdle::new(MIB8));
        r.set_idle_capacity(usize::MAX);
        big_frame_then_idle(MIB8, || r.read_frame());
        r
    });
    eprintln!("1 FrameReader keeping its buffer: {live} B live");
    assert!(live >= MIB8, "live {live}");
    drop(kept);
}

/// Issue 19: after an 8 MiB frame, the start of the next (`00 00 00 10 61
/// 62`, or only part of its header), then `WouldBlock`: an idle reader
/// holds its 16 KiB buffer, as `set_idle_capacity` promises, on every read
/// path (it held 65 560 bytes: the read ahead for large frames reserved
/// 64 KiB for a frame whose header said 16 bytes).
#[test]
fn idle_after_a_large_frame_and_the_start_of_a_small_one_holds_16_kib() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The read buffer, plus the reader and its place in the Vec (and, for
    // `Framed`, its writer's buffer, 16 KiB when it never grew).
    const ONE: usize = 16 * 1024 + 1024;
    for (big, tail) in [MIB8, 100_000]
        .into_iter()
        .flat_map(|big| [&b"\0\0\0\x10ab"[..], b"\0\0", b""].map(|t| (big, t)))
    {
        // `read_frame`, `read_frame_ref`, `Framed::recv`, and a streamed
        // big frame followed by `read_frame`.
        for path in 0..4 {
            let (kept, live, _) = measure(|| {
                (0..20)
                    .map(|_| {
                        let source = BigThenIdle::with_tail(big, tail);
                        let mut f = lenframe::Framed::new(Duplex(source));
                        let mut r = FrameReader::new(BigThenIdle::with_tail(big, tail));
                        let n = match path {
                            0 => r.read_frame().unwrap().unwrap().len(),
                            1 => r.read_frame_ref().unwrap().unwrap().len(),
                            2 => f.recv().unwrap().unwrap().len(),
                            _ => {
                                let mut s = r.read_frame_stream(big).unwrap().unwrap();
                                io::copy(&mut s, &mut io::sink()).unwrap() as usize
                            }
                        };
                        assert_eq!(n, big);
                        let err = match path {
                            1 => r.read_frame_ref().map(|_| ()).unwrap_err(),
                            2 => f.recv().map(|_| ()).unwrap_err(),
                            _ => r.read_frame().map(|_| ()).unwrap_err(),
                        };
                        assert!(err.is_retryable(), "{err}");
                        // The one that was used (the other is 16 KiB too).
                        if path == 2 {
                            drop(r);
                            (None, Some(f))
                        } else {
                            drop(f);
                            (Some(r), None)
                        }
                    })
                    .collect::<Vec<_>>()
            });
            eprintln!(
                "20 readers idle after {big} B (path {path}, tail {tail:?}): {} B each",
                live / 20
            );
            let one = if path == 2 { ONE + 16 * 1024 } else { ONE };
            assert!(
                live <= 20 * one,
                "{big} B, path {path}, tail {tail:?}: {} B each",
                live / 20
            );
            drop(kept);
        }
    }
}

/// A duplex stream for `Framed`: reads from the inner source, writes
/// nowhere.
struct Duplex(BigThenIdle);

impl Read for Duplex {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.0.read(out)
    }
}

impl io::Write for Duplex {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A `FrameWriter` whose inner writer took part of an 8 MiB frame and
/// then blocked keeps the rest; once it is out, the buffer is small again.
#[test]
fn writer_gives_memory_back_after_a_large_partial_write() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    struct Stingy {
        blocked_once: bool,
        taken: usize,
    }
    impl io::Write for Stingy {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if !self.blocked_once && self.taken > 0 {
                self.blocked_once = true;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = b.len().min(64 * 1024);
            self.taken += n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let payload = vec![7u8; MIB8];
    let (w, live, peak) = measure(|| {
        let mut w = lenframe::FrameWriter::new(Stingy {
            blocked_once: false,
            taken: 0,
        });
        w.write_frame(&payload).unwrap(); // accepted; most of it kept
        assert!(w.buffered().len() > MIB8 / 2);
        w.flush().unwrap();
        assert_eq!(w.get_ref().taken, MIB8 + 4);
        w
    });
    eprintln!("FrameWriter after a blocked 8 MiB write: {live} B live, peak {peak} B");
    assert!(peak >= MIB8 / 2, "the rest was kept: peak {peak}");
    assert!(live <= KIB64, "live {live}");
    drop(w);
}

/// Reads like tokio-util's `FramedRead` (0.7.20, `framed_impl.rs`): decode;
/// if no frame, `reserve(1)` and read into all the spare capacity.
#[cfg(feature = "tokio")]
fn framed_read_next<D>(
    codec: &mut D,
    buf: &mut bytes::BytesMut,
    src: &mut BigThenIdle,
) -> lenframe::Result<Option<bytes::Bytes>>
where
    D: tokio_util::codec::Decoder,
    D::Item: Into<bytes::Bytes>,
    D::Error: std::fmt::Debug,
{
    loop {
        if let Some(frame) = codec.decode(buf).unwrap() {
            return Ok(Some(frame.into()));
        }
        buf.reserve(1);
        let len = buf.len();
        let spare = buf.capacity() - len;
        buf.resize(len + spare, 0);
        let got = src.read(&mut buf[len..]);
        buf.truncate(len + *got.as_ref().unwrap_or(&0));
        got?;
    }
}

/// `FrameCodec` under a `FramedRead`-style loop gives its buffer back
/// after an 8 MiB frame; tokio-util's `LengthDelimitedCodec` in the same
/// loop is measured beside it (printed, not asserted: it is not ours).
#[cfg(feature = "tokio")]
#[test]
fn frame_codec_gives_memory_back_and_length_delimited_codec_is_measured() {
    use tokio_util::codec::LengthDelimitedCodec;
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const CONNS: usize = 100;
    let (kept, ours, _) = measure(|| {
        (0..CONNS)
            .map(|_| {
                let mut codec = lenframe::FrameCodec::new(Codec::default());
                let mut buf = bytes::BytesMut::with_capacity(8 * 1024);
                let mut src = BigThenIdle::new(MIB8);
                big_frame_then_idle(MIB8, || framed_read_next(&mut codec, &mut buf, &mut src));
                (codec, buf)
            })
            .collect::<Vec<_>>()
    });
    drop(kept);
    let (kept, theirs, _) = measure(|| {
        (0..CONNS)
            .map(|_| {
                let mut codec = LengthDelimitedCodec::builder()
                    .max_frame_length(MIB8)
                    .new_codec();
                let mut buf = bytes::BytesMut::with_capacity(8 * 1024);
                let mut src = BigThenIdle::new(MIB8);
                big_frame_then_idle(MIB8, || framed_read_next(&mut codec, &mut buf, &mut src));
                (codec, buf)
            })
            .collect::<Vec<_>>()
    });
    drop(kept);
    eprintln!(
        "{CONNS} codecs idle after an 8 MiB frame: FrameCodec {ours} B ({} B each), \
         tokio-util LengthDelimitedCodec {theirs} B ({} B each)",
        ours / CONNS,
        theirs / CONNS
    );
    assert!(ours <= CONNS * 2 * KIB64, "FrameCodec keeps {ours} B");
}

/// Frames between 64 KiB and 256 KiB too: each idle reader, `Framed` and
/// `FrameCodec` is back to at most 64 KiB (the allocation behind a buffer
/// view split off a large frame counts in full here).
#[test]
fn medium_frames_give_memory_back_too() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const N: usize = 50;
    for size in [70 * 1024, 100 * 1024, 200 * 1024] {
        let (kept, live, _) = measure(|| {
            (0..N)
                .map(|_| {
                    let mut r = FrameReader::new(BigThenIdle::new(size));
                    big_frame_then_idle(size, || r.read_frame());
                    r
                })
                .collect::<Vec<_>>()
        });
        eprintln!(
            "{N} FrameReaders idle after a {size}-byte frame: {} B each",
            live / N
        );
        assert!(live <= N * KIB64, "{size}: {live}");
        drop(kept);
        let (kept, live, _) = measure(|| {
            (0..N)
                .map(|_| {
                    let mut f = lenframe::Framed::new(Duplex(BigThenIdle::new(size)));
                    big_frame_then_idle(size, || f.recv());
                    f
                })
                .collect::<Vec<_>>()
        });
        eprintln!(
            "{N} Framed idle after a {size}-byte frame: {} B each",
            live / N
        );
        assert!(live <= N * (KIB64 + 32 * 1024), "{size}: {live}");
        drop(kept);
        #[cfg(feature = "tokio")]
        {
            let (kept, live, _) = measure(|| {
                (0..N)
                    .map(|_| {
                        let mut codec = lenframe::FrameCodec::new(Codec::default());
                        let mut buf = bytes::BytesMut::with_capacity(8 * 1024);
                        let mut src = BigThenIdle::new(size);
                        big_frame_then_idle(size, || {
                            framed_read_next(&mut codec, &mut buf, &mut src)
                        });
                        (codec, buf)
                    })
                    .collect::<Vec<_>>()
            });
            eprintln!(
                "{N} FrameCodecs idle after a {size}-byte frame: {} B each",
                live / N
            );
            assert!(live <= N * KIB64, "{size}: {live}");
            drop(kept);
        }
    }
}
