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
