//! `lenframe load`: a load generator for any length-prefixed echo server
//! (`!I` by default: 4-byte big-endian length, then the payload; or any
//! `--header`, `varint` included): C connections, each a writer thread
//! pipelining N frames of B bytes and a reader thread checking every
//! echoed byte; or ping-pong (one frame in flight per connection) with
//! round-trip times. Blocking std I/O only, so it measures the servers,
//! not a runtime.
//!
//! Every frame of a run has the same payload size, so the same header
//! bytes ([`Codec::header`], for a varint its shortest form): the wire is
//! one template frame repeated, each stamped with its index, and an echo
//! is checked byte for byte against it (a server that echoes a varint in
//! another form fails the check).
//!
//! Latency goes into one `hdrhistogram` per connection (nanoseconds, 3
//! significant figures), merged at the end:
//!
//! * ping-pong: every round trip, from the write of a frame to the last
//!   byte of its echo;
//! * pipelined: one sample per write (up to [`CHUNK`] bytes). Before each
//!   write the writer sends the reader a [`Mark`] (the stream offset where
//!   the write ends, and the instant) over a channel; when the checked
//!   echoes pass that offset, the reader records now − instant. The mark
//!   goes out before the bytes do, so the reader always finds it in the
//!   channel by the time it needs it; it costs one `Instant::now()` and
//!   one channel message per 64 KiB on each side.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use lenframe::{Codec, Header};
use serde_json::{json, Value};

/// How long a read may wait before the run counts as failed.
const STALL: Duration = Duration::from_secs(30);
/// Bytes per write and per read.
const CHUNK: usize = 64 * 1024;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub addr: SocketAddr,
    /// The header format (and the maximum, which `size` is within).
    pub codec: Codec,
    /// Connections, at least 1.
    pub conns: usize,
    /// Frames per connection, at least 1.
    pub frames: u64,
    /// Payload bytes per frame (what the header can say).
    pub size: usize,
    /// One frame in flight per connection, round trips timed.
    pub ping_pong: bool,
}

impl Plan {
    /// Frames sent and checked over all connections.
    pub fn total_frames(&self) -> u64 {
        self.frames.saturating_mul(self.conns as u64)
    }

    /// Bytes of one frame on the wire: its header and the payload (0 if
    /// the header cannot say `size`; `run` refuses that plan).
    pub fn frame_len(&self) -> u64 {
        self.shape().map_or(0, |shape| shape.len() as u64)
    }

    /// Every frame of the run: its header bytes and payload size.
    fn shape(&self) -> Result<Shape, String> {
        let header = self
            .codec
            .header(self.size)
            .map_err(|e| format!("--size {}: {e}", self.size))?;
        Ok(Shape {
            header,
            size: self.size,
        })
    }
}

/// One frame of a run, every frame's: the header bytes (as the codec
/// writes them for `size`: for a varint, as long as `size` needs) and the
/// payload size.
#[derive(Clone, Copy)]
struct Shape {
    header: Header,
    size: usize,
}

impl Shape {
    /// Bytes on the wire.
    fn len(&self) -> usize {
        self.header.len() + self.size
    }
}

/// Runs `plan`: every echo is checked, and `checked` counts the bytes
/// checked so far (for a progress bar). An error is the message for the
/// one stderr line.
pub fn run(plan: &Plan, checked: &AtomicU64) -> Result<Report, String> {
    let shape = plan.shape()?;
    if plan.ping_pong {
        ping_pong(plan.addr, plan.conns, plan.frames, shape, checked)
    } else {
        pipelined(plan.addr, plan.conns, plan.frames, shape, checked)
    }
}

/// What one run measured.
pub struct Report {
    /// Frames echoed and checked.
    pub frames: u64,
    /// From the first connect to the last echo checked.
    pub elapsed: Duration,
    /// Nanoseconds: every round trip (ping-pong), or from every write to
    /// the echo of its last byte (pipelined).
    pub latency: Histogram<u32>,
}

/// The latency figures of a run, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    /// How many samples they come from.
    pub samples: u64,
}

impl Report {
    /// The one summary line of `plan`'s run.
    pub fn summary(&self, plan: &Plan) -> String {
        let Plan {
            conns,
            frames,
            size,
            ..
        } = plan;
        let p = self.percentiles();
        let format = plan.codec.format();
        // `!I` runs read as they always did; others name their header.
        let size = if format == lenframe::HeaderFormat::default() {
            format!("{size} B")
        } else {
            format!("{size} B ({format} header)")
        };
        let latency = format!(
            "p50 {:.1} us, p90 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us",
            micros(p.p50),
            micros(p.p90),
            micros(p.p99),
            micros(p.p999),
            micros(p.max),
        );
        if plan.ping_pong {
            format!(
                "{conns} x {frames} round trips of {size}: {:.0} frames/s, {latency}",
                self.frames_per_sec(),
            )
        } else {
            format!(
                "{conns} x {frames} frames of {size} pipelined, every echo checked: {:.0} frames/s in {:.3} s, latency {latency}",
                self.frames_per_sec(),
                self.elapsed.as_secs_f64(),
            )
        }
    }

    /// The same figures as one JSON object, `"event": "load"` (see
    /// `lenframe --help`).
    pub fn json(&self, plan: &Plan) -> Value {
        let p = self.percentiles();
        json!({
            "event": "load",
            "mode": if plan.ping_pong { "pingpong" } else { "pipelined" },
            "header": plan.codec.format().to_string(),
            "conns": plan.conns,
            "frames": plan.frames,
            "size": plan.size,
            "frames_echoed": self.frames,
            "elapsed_secs": rounded(self.elapsed.as_secs_f64(), 1e6),
            "frames_per_sec": rounded(self.frames_per_sec(), 10.0),
            "latency_samples": p.samples,
            "p50_us": micros(p.p50),
            "p90_us": micros(p.p90),
            "p99_us": micros(p.p99),
            "p999_us": micros(p.p999),
            "max_us": micros(p.max),
        })
    }

    pub fn frames_per_sec(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// p50, p90, p99, p99.9 and max of the latency (all 0 without
    /// samples).
    pub fn percentiles(&self) -> Percentiles {
        let h = &self.latency;
        if h.is_empty() {
            return Percentiles {
                p50: 0,
                p90: 0,
                p99: 0,
                p999: 0,
                max: 0,
                samples: 0,
            };
        }
        Percentiles {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            samples: h.len(),
        }
    }
}

/// Nanoseconds as microseconds.
fn micros(nanos: u64) -> f64 {
    nanos as f64 / 1e3
}

/// `x` rounded to a multiple of `1 / scale`, so JSON shows no noise
/// digits.
fn rounded(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

/// A histogram of nanoseconds, 2 significant figures (values within 1 %),
/// 32-bit counts, that grows to the largest value it sees: one per
/// connection, about 10 KiB each up to 100 ms latencies (3 figures and
/// 64-bit counts took 150 KB, 1.5 GB over 10 000 connections).
fn new_latency() -> Histogram<u32> {
    Histogram::new(2).expect("2 significant figures are in hdrhistogram's range")
}

/// Records `d` in nanoseconds. The histogram grows to take it (only a
/// size that does not fit a `usize` fails, and then it is clamped to the
/// largest value the histogram holds).
fn record(latency: &mut Histogram<u32>, d: Duration) {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    if latency.record(nanos).is_err() {
        latency.saturating_record(nanos);
    }
}

/// Merges the connections' histograms; the first connection that failed
/// fails the run.
fn merge(results: Vec<Result<Histogram<u32>, String>>) -> Result<Histogram<u32>, String> {
    let mut total = new_latency();
    for r in results {
        total
            .add(r?)
            .map_err(|e| format!("latency histogram: {e}"))?;
    }
    Ok(total)
}

/// Spawns a scoped thread; the error says the system refused it.
fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    name: &str,
    f: impl FnOnce() -> T + Send + 'scope,
) -> Result<ScopedJoinHandle<'scope, T>, String> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn_scoped(scope, f)
        .map_err(|e| format!("cannot start a {name} thread: {e}"))
}

/// The bytes connection `conn` sends: N frames of one [`Shape`], each
/// with its index in the first 8 bytes of its payload (as far as they go)
/// and a pattern of the connection after, so a lost, repeated or
/// reordered frame shows.
struct Wire {
    frame: Vec<u8>,
    /// Where the payload starts in `frame`: the header's length.
    head: usize,
    frames: u64,
    next: u64,
    pos: usize,
}

impl Wire {
    fn new(conn: usize, frames: u64, shape: Shape) -> Wire {
        let mut frame = shape.header.to_vec();
        frame.extend((0..shape.size).map(|i| (i as u8).wrapping_mul(31) ^ (conn as u8)));
        let mut wire = Wire {
            frame,
            head: shape.header.len(),
            frames,
            next: 0,
            pos: 0,
        };
        wire.stamp();
        wire
    }

    /// Writes frame `next`'s index into the template.
    fn stamp(&mut self) {
        let index = self.next.to_le_bytes();
        let room = (self.frame.len() - self.head).min(8);
        self.frame[self.head..self.head + room].copy_from_slice(&index[..room]);
    }

    /// Fills as much of `out` as the stream has left; returns how much.
    fn fill(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() && self.next < self.frames {
            let take = (self.frame.len() - self.pos).min(out.len() - n);
            out[n..n + take].copy_from_slice(&self.frame[self.pos..self.pos + take]);
            n += take;
            self.pos += take;
            if self.pos == self.frame.len() {
                self.pos = 0;
                self.next += 1;
                self.stamp();
            }
        }
        n
    }
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    // A server that stops reading (or answering) fails the run after
    // STALL, in either direction.
    stream
        .set_read_timeout(Some(STALL))
        .and_then(|()| stream.set_write_timeout(Some(STALL)))
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// A pipelined write as the writer tells the reader: the stream offset
/// where it ends and when it was handed to the socket.
struct Mark {
    end: u64,
    sent: Instant,
}

/// The reader's side of the marks: the latency of every write whose
/// echo has come back in full.
struct Marks {
    from_writer: Receiver<Mark>,
    /// The oldest mark not yet passed.
    next: Option<Mark>,
    latency: Histogram<u32>,
}

impl Marks {
    fn new(from_writer: Receiver<Mark>) -> Marks {
        Marks {
            from_writer,
            next: None,
            latency: new_latency(),
        }
    }

    /// `seen` bytes have come back and were checked: records every mark
    /// they pass. (A mark is sent before its bytes, so every mark up to
    /// `seen` is in the channel by now.)
    fn passed(&mut self, seen: u64) {
        let mut now = None;
        while let Some(mark) = self
            .next
            .take()
            .or_else(|| self.from_writer.try_recv().ok())
        {
            if mark.end > seen {
                self.next = Some(mark);
                return;
            }
            let now = *now.get_or_insert_with(Instant::now);
            record(&mut self.latency, now.saturating_duration_since(mark.sent));
        }
    }
}

/// Checks that what comes back is exactly what `Wire` sent, counting the
/// bytes in `checked` and passing the offsets to `marks`.
fn check_echoes(
    mut stream: &TcpStream,
    conn: usize,
    frames: u64,
    shape: Shape,
    marks: &mut Marks,
    checked: &AtomicU64,
) -> Result<(), String> {
    let mut expected = Wire::new(conn, frames, shape);
    let total = (shape.len() as u64).saturating_mul(frames);
    let mut got = vec![0u8; CHUNK];
    let mut want = vec![0u8; CHUNK];
    let mut seen = 0u64;
    while seen < total {
        let n = match stream.read(&mut got) {
            Ok(0) => {
                return Err(format!(
                    "connection {conn}: server closed after {seen} of {total} bytes"
                ))
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("connection {conn}: after {seen} bytes: {e}")),
        };
        let m = expected.fill(&mut want[..n]);
        if m != n || got[..n] != want[..n] {
            return Err(format!(
                "connection {conn}: echo differs from what was sent near byte {seen}"
            ));
        }
        seen += n as u64;
        marks.passed(seen);
        checked.fetch_add(n as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// `conns` connections, each pipelining `frames` frames of `shape`
/// from a writer thread while a reader thread checks the echoes.
fn pipelined(
    addr: SocketAddr,
    conns: usize,
    frames: u64,
    shape: Shape,
    checked: &AtomicU64,
) -> Result<Report, String> {
    let streams = (0..conns)
        .map(|_| connect(addr))
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let results: Vec<Result<Histogram<u32>, String>> = thread::scope(|s| {
        let handles: Vec<_> = streams
            .iter()
            .enumerate()
            .map(|(conn, stream)| {
                spawn(s, "reader", move || {
                    one_pipelined(stream, conn, frames, shape, checked)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h?.join().unwrap_or_else(|_| Err("reader panicked".into())))
            .collect()
    });
    let elapsed = start.elapsed();
    Ok(Report {
        frames: frames.saturating_mul(conns as u64),
        elapsed,
        latency: merge(results)?,
    })
}

/// One pipelined connection: a writer thread sends, this one checks;
/// returns the latency of its writes.
fn one_pipelined(
    stream: &TcpStream,
    conn: usize,
    frames: u64,
    shape: Shape,
    checked: &AtomicU64,
) -> Result<Histogram<u32>, String> {
    let (to_reader, from_writer) = mpsc::channel();
    let mut marks = Marks::new(from_writer);
    thread::scope(|s| {
        let writer = spawn(s, "writer", move || {
            send_marked(stream, conn, frames, shape, to_reader)
        });
        let writer = match writer {
            Ok(w) => w,
            Err(e) => {
                let _ = stream.shutdown(Shutdown::Both);
                return Err(e);
            }
        };
        let read = check_echoes(stream, conn, frames, shape, &mut marks, checked);
        // A failed check leaves the writer blocked on a full socket:
        // shutting the socket down lets it return.
        let _ = stream.shutdown(Shutdown::Both);
        let wrote = writer
            .join()
            .unwrap_or_else(|_| Err("writer panicked".into()));
        read.and(wrote)
    })?;
    Ok(marks.latency)
}

/// The writer of a pipelined connection: `Wire`'s bytes in writes of up
/// to [`CHUNK`], each announced to the reader by a [`Mark`] first.
fn send_marked(
    mut stream: &TcpStream,
    conn: usize,
    frames: u64,
    shape: Shape,
    to_reader: Sender<Mark>,
) -> Result<(), String> {
    let mut wire = Wire::new(conn, frames, shape);
    let mut buf = vec![0u8; CHUNK];
    let mut end = 0u64;
    loop {
        let n = wire.fill(&mut buf);
        if n == 0 {
            return Ok(());
        }
        end += n as u64;
        // A reader that is gone has failed, and says why.
        let _ = to_reader.send(Mark {
            end,
            sent: Instant::now(),
        });
        stream
            .write_all(&buf[..n])
            .map_err(|e| format!("connection {conn}: write: {e}"))?;
    }
}

/// `conns` connections, each sending `frames` frames of `shape` one at
/// a time, waiting for each echo (checked) before the next.
fn ping_pong(
    addr: SocketAddr,
    conns: usize,
    frames: u64,
    shape: Shape,
    checked: &AtomicU64,
) -> Result<Report, String> {
    let streams = (0..conns)
        .map(|_| connect(addr))
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let results: Vec<Result<Histogram<u32>, String>> = thread::scope(|s| {
        let handles: Vec<_> = streams
            .iter()
            .enumerate()
            .map(|(conn, stream)| {
                spawn(s, "client", move || {
                    one_ping_pong(stream, conn, frames, shape, checked)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h?.join()
                    .unwrap_or_else(|_| Err("client thread panicked".into()))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    Ok(Report {
        frames: frames.saturating_mul(conns as u64),
        elapsed,
        latency: merge(results)?,
    })
}

/// One ping-pong connection; returns its round trips.
fn one_ping_pong(
    stream: &TcpStream,
    conn: usize,
    frames: u64,
    shape: Shape,
    checked: &AtomicU64,
) -> Result<Histogram<u32>, String> {
    let mut wire = Wire::new(conn, frames, shape);
    let mut frame = vec![0u8; shape.len()];
    let mut echo = vec![0u8; frame.len()];
    let mut rtts = new_latency();
    let mut io: &TcpStream = stream;
    for i in 0..frames {
        wire.fill(&mut frame);
        let t = Instant::now();
        io.write_all(&frame)
            .and_then(|()| io.read_exact(&mut echo))
            .map_err(|e| format!("connection {conn}: frame {i}: {e}"))?;
        record(&mut rtts, t.elapsed());
        if echo != frame {
            return Err(format!("connection {conn}: echo {i} differs"));
        }
        checked.fetch_add(frame.len() as u64, Ordering::Relaxed);
    }
    let _ = stream.shutdown(Shutdown::Both);
    Ok(rtts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_record_the_writes_whose_echoes_came_back() {
        let (tx, rx) = mpsc::channel();
        let mut marks = Marks::new(rx);
        let sent = Instant::now();
        for end in [100, 200, 300] {
            tx.send(Mark { end, sent }).unwrap();
        }
        thread::sleep(Duration::from_millis(2));
        marks.passed(99);
        assert_eq!(marks.latency.len(), 0);
        marks.passed(200);
        assert_eq!(marks.latency.len(), 2);
        // Each sample is now - sent: at least the 2 ms slept.
        assert!(marks.latency.min() >= 2_000_000, "{}", marks.latency.min());
        assert_eq!(marks.next.as_ref().map(|m| m.end), Some(300));
        marks.passed(300);
        assert_eq!(marks.latency.len(), 3);
        // Nothing left: a later read records nothing more.
        marks.passed(400);
        assert_eq!(marks.latency.len(), 3);
    }

    /// The whole wire of `frames` frames of `size` bytes under `format`.
    fn wire(format: &str, frames: u64, size: usize) -> (Vec<u8>, Shape) {
        let plan = Plan {
            addr: SocketAddr::from(([127, 0, 0, 1], 9)),
            codec: Codec::from_format(format).unwrap(),
            conns: 1,
            frames,
            size,
            ping_pong: false,
        };
        let shape = plan.shape().unwrap();
        let mut out = vec![0u8; shape.len() * frames as usize + 1];
        let n = Wire::new(3, frames, shape).fill(&mut out);
        out.truncate(n);
        assert_eq!(n as u64, plan.frame_len() * frames, "{format}");
        (out, shape)
    }

    #[test]
    fn the_wire_is_frames_of_the_header_format_each_stamped() {
        for (format, size, header) in [
            ("!I", 300, &[0, 0, 1, 44][..]),
            ("<H", 300, &[44, 1]),
            ("varint", 0, &[0]),
            ("varint", 127, &[127]),
            ("varint", 300, &[0xac, 0x02]),
            ("varint-strict", 70_000, &[0xf0, 0xa2, 0x04]),
        ] {
            let (wire, shape) = wire(format, 4, size);
            assert_eq!(&shape.header[..], header, "{format} {size}");
            let mut dec = Codec::from_format(format).unwrap().new_decoder();
            let mut frames = dec.frames(&wire);
            for i in 0..4u64 {
                let frame = frames.next().unwrap().unwrap();
                assert_eq!(frame.len(), size, "{format}");
                let k = size.min(8);
                assert_eq!(frame[..k], i.to_le_bytes()[..k], "{format} frame {i}");
            }
            assert!(frames.next().is_none());
            assert_eq!(frames.consumed(), wire.len(), "{format}");
        }
    }

    #[test]
    fn percentiles_are_ordered_and_in_microseconds() {
        let mut latency = new_latency();
        for us in 1..=1000 {
            record(&mut latency, Duration::from_micros(us));
        }
        let report = Report {
            frames: 1000,
            elapsed: Duration::from_secs(1),
            latency,
        };
        let p = report.percentiles();
        assert!(p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.p999 && p.p999 <= p.max);
        assert_eq!(p.samples, 1000);
        let plan = Plan {
            addr: SocketAddr::from(([127, 0, 0, 1], 9)),
            codec: Codec::default(),
            conns: 1,
            frames: 1000,
            size: 16,
            ping_pong: true,
        };
        let v = report.json(&plan);
        assert_eq!(v["event"], "load");
        let p50 = v["p50_us"].as_f64().unwrap();
        assert!((495.0..=505.0).contains(&p50), "within 1 %: {v}");
        let max = v["max_us"].as_f64().unwrap();
        assert!((990.0..=1010.0).contains(&max), "within 1 %: {v}");
        assert_eq!(v["frames_per_sec"], 1000.0);
    }
}
