//! `lenframe load`: a load generator for any `!I` framed echo server
//! (4-byte big-endian length, then the payload): C connections, each a
//! writer thread pipelining N frames of B bytes and a reader thread
//! checking every echoed byte; or ping-pong (one frame in flight per
//! connection) with round-trip times. Blocking std I/O only, so it
//! measures the servers, not a runtime.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

/// How long a read may wait before the run counts as failed.
const STALL: Duration = Duration::from_secs(30);
/// Bytes per write and per read.
const CHUNK: usize = 64 * 1024;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub addr: SocketAddr,
    /// Connections, at least 1.
    pub conns: usize,
    /// Frames per connection, at least 1.
    pub frames: u64,
    /// Payload bytes per frame (what a `!I` header can say).
    pub size: usize,
    /// One frame in flight per connection, round trips timed.
    pub ping_pong: bool,
}

/// Runs `plan`: every echo is checked. An error is the message for the one
/// stderr line.
pub fn run(plan: &Plan) -> Result<Report, String> {
    let size = u32::try_from(plan.size).map_err(|_| {
        format!(
            "--size {}: a !I header says at most {}",
            plan.size,
            u32::MAX
        )
    })?;
    if plan.ping_pong {
        ping_pong(plan.addr, plan.conns, plan.frames, size)
    } else {
        pipelined(plan.addr, plan.conns, plan.frames, size)
    }
}

/// What one run measured.
pub struct Report {
    /// Frames echoed and checked.
    pub frames: u64,
    /// From the first connect to the last echo checked.
    pub elapsed: Duration,
    /// Round trips (ping-pong only), sorted.
    pub rtts: Vec<Duration>,
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
        if plan.ping_pong {
            format!(
                "{conns} x {frames} round trips of {size} B: {:.0} frames/s, p50 {:.1} us, p99 {:.1} us",
                self.frames_per_sec(),
                micros(self.percentile(50.0)),
                micros(self.percentile(99.0)),
            )
        } else {
            format!(
                "{conns} x {frames} frames of {size} B pipelined, every echo checked: {:.0} frames/s in {:.3} s",
                self.frames_per_sec(),
                self.elapsed.as_secs_f64(),
            )
        }
    }

    /// The same figures as one JSON object (`p50_us`/`p99_us` are `null`
    /// when pipelined).
    pub fn json(&self, plan: &Plan) -> String {
        let (mode, p50, p99) = if plan.ping_pong {
            (
                "pingpong",
                format!("{:.3}", micros(self.percentile(50.0))),
                format!("{:.3}", micros(self.percentile(99.0))),
            )
        } else {
            ("pipelined", "null".into(), "null".into())
        };
        format!(
            "{{\"mode\":\"{mode}\",\"conns\":{},\"frames\":{},\"size\":{},\"frames_echoed\":{},\
             \"elapsed_secs\":{:.6},\"frames_per_sec\":{:.1},\"p50_us\":{p50},\"p99_us\":{p99}}}",
            plan.conns,
            plan.frames,
            plan.size,
            self.frames,
            self.elapsed.as_secs_f64(),
            self.frames_per_sec(),
        )
    }

    pub fn frames_per_sec(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-th percentile round trip (0..=100).
    pub fn percentile(&self, p: f64) -> Duration {
        if self.rtts.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.rtts.len() - 1) as f64 * p / 100.0).round() as usize;
        self.rtts[i]
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
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

/// The bytes connection `conn` sends: N frames of `size` bytes, each with
/// its index in its first 8 bytes (as far as they go) and a pattern of the
/// connection after, so a lost, repeated or reordered frame shows.
struct Wire {
    frame: Vec<u8>,
    frames: u64,
    next: u64,
    pos: usize,
}

impl Wire {
    fn new(conn: usize, frames: u64, size: u32) -> Wire {
        let mut frame = size.to_be_bytes().to_vec();
        frame.extend((0..size).map(|i| (i as u8).wrapping_mul(31) ^ (conn as u8)));
        let mut wire = Wire {
            frame,
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
        let room = (self.frame.len() - 4).min(8);
        self.frame[4..4 + room].copy_from_slice(&index[..room]);
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

/// Checks that what comes back is exactly what `Wire` sent.
fn check_echoes(mut stream: &TcpStream, conn: usize, frames: u64, size: u32) -> Result<(), String> {
    let mut expected = Wire::new(conn, frames, size);
    let total = (4 + u64::from(size)).saturating_mul(frames);
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
    }
    Ok(())
}

/// `conns` connections, each pipelining `frames` frames of `size` bytes
/// from a writer thread while a reader thread checks the echoes.
fn pipelined(addr: SocketAddr, conns: usize, frames: u64, size: u32) -> Result<Report, String> {
    let streams = (0..conns)
        .map(|_| connect(addr))
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let results: Vec<Result<(), String>> = thread::scope(|s| {
        let handles: Vec<_> = streams
            .iter()
            .enumerate()
            .map(|(conn, stream)| {
                spawn(s, "reader", move || {
                    one_pipelined(stream, conn, frames, size)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h?.join().unwrap_or_else(|_| Err("reader panicked".into())))
            .collect()
    });
    let elapsed = start.elapsed();
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    Ok(Report {
        frames: frames.saturating_mul(conns as u64),
        elapsed,
        rtts: Vec::new(),
    })
}

/// One pipelined connection: a writer thread sends, this one checks.
fn one_pipelined(stream: &TcpStream, conn: usize, frames: u64, size: u32) -> Result<(), String> {
    thread::scope(|s| {
        let writer = spawn(s, "writer", move || -> Result<(), String> {
            let mut wire = Wire::new(conn, frames, size);
            let mut buf = vec![0u8; CHUNK];
            let mut w: &TcpStream = stream;
            loop {
                let n = wire.fill(&mut buf);
                if n == 0 {
                    return Ok(());
                }
                w.write_all(&buf[..n])
                    .map_err(|e| format!("connection {conn}: write: {e}"))?;
            }
        });
        let writer = match writer {
            Ok(w) => w,
            Err(e) => {
                let _ = stream.shutdown(Shutdown::Both);
                return Err(e);
            }
        };
        let read = check_echoes(stream, conn, frames, size);
        // A failed check leaves the writer blocked on a full socket:
        // shutting the socket down lets it return.
        let _ = stream.shutdown(Shutdown::Both);
        let wrote = writer
            .join()
            .unwrap_or_else(|_| Err("writer panicked".into()));
        read.and(wrote)
    })
}

/// `conns` connections, each sending `frames` frames of `size` bytes one at
/// a time, waiting for each echo (checked) before the next.
fn ping_pong(addr: SocketAddr, conns: usize, frames: u64, size: u32) -> Result<Report, String> {
    let streams = (0..conns)
        .map(|_| connect(addr))
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let results: Vec<Result<Vec<Duration>, String>> = thread::scope(|s| {
        let handles: Vec<_> = streams
            .iter()
            .enumerate()
            .map(|(conn, stream)| {
                spawn(s, "client", move || {
                    one_ping_pong(stream, conn, frames, size)
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
    let mut rtts = Vec::new();
    for r in results {
        rtts.extend(r?);
    }
    rtts.sort_unstable();
    Ok(Report {
        frames: frames.saturating_mul(conns as u64),
        elapsed,
        rtts,
    })
}

/// One ping-pong connection; returns its round trips.
fn one_ping_pong(
    stream: &TcpStream,
    conn: usize,
    frames: u64,
    size: u32,
) -> Result<Vec<Duration>, String> {
    let mut wire = Wire::new(conn, frames, size);
    let mut frame = vec![0u8; 4 + size as usize];
    let mut echo = vec![0u8; frame.len()];
    // Room for the round trips up front, within reason.
    let mut rtts = Vec::with_capacity(frames.min(1 << 20) as usize);
    let mut io: &TcpStream = stream;
    for i in 0..frames {
        wire.fill(&mut frame);
        let t = Instant::now();
        io.write_all(&frame)
            .and_then(|()| io.read_exact(&mut echo))
            .map_err(|e| format!("connection {conn}: frame {i}: {e}"))?;
        rtts.push(t.elapsed());
        if echo != frame {
            return Err(format!("connection {conn}: echo {i} differs"));
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    Ok(rtts)
}
