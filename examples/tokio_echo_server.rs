//! `echo_server` on tokio, for many thousands of connections: the same CLI,
//! output and behaviour (TCP framed echo, UDP echo on the same port), built
//! on lenframe's [`FrameDecoder`] (feature `tokio`).
//!
//! ```text
//! cargo run --release --features tokio --example tokio_echo_server -- \
//!     [--addr HOST:PORT] [--header FMT] [--max-frame BYTES] [--max-conns N] \
//!     [--idle-timeout SECS] [--conn-budget BYTES] [--max-memory BYTES]
//! ```
//!
//! How a connection is served: one task owns the socket and moves frames
//! in batches. Whatever one `read()` brought in is decoded with one pass of
//! the decoder and echoed with one `write()`; frames never cross tasks one
//! at a time. With the default `!I` codec an echo is byte for byte the
//! frame that came in, so the batch is written straight from the buffer it
//! was read into. The task keeps reading while its writes are blocked
//! (a client may pipeline before it reads anything) until the echoes it
//! holds reach `--conn-budget` bytes; then it stops reading that connection
//! (backpressure: the client's writes block) until the client reads. A
//! connection holds no buffer while it is idle: reads land in a buffer of
//! the worker thread, and only a partial frame or echoes the client has not
//! read yet are kept per connection, in buffers that are freed once
//! drained. All connections together keep at most `--max-memory` bytes
//! buffered: past that, they stop reading until memory frees.
//!
//! Output: `listening on ADDR`, a `limits:` line, one line per connect and
//! disconnect on stdout (a closed stdout never stops the server), one line
//! per misbehaving peer on stderr. SIGINT or SIGTERM: stop accepting, deliver
//! the echoes of frames already received, close every connection within
//! 2 s, print a summary, exit 0.

use std::future::{poll_fn, Future};
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use lenframe::{Codec, Error, FrameDecoder};
use tokio::io::{AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

#[path = "common/cli.rs"]
mod cli;
#[path = "common/server_hint.rs"]
mod server_hint;

/// Bytes asked of one `read()`.
const READ_CHUNK: usize = 256 * 1024;
/// File descriptors kept for everything but connections (stdio, listener,
/// UDP socket, the runtime's epoll and wakers).
const RESERVED_FDS: u64 = 32;
/// How long connections get to deliver their echoes after SIGINT/SIGTERM.
const DRAIN_TIME: Duration = Duration::from_millis(1500);
/// The whole shutdown stays under this, whatever a connection does.
const SHUTDOWN_LIMIT: Duration = Duration::from_millis(1900);

thread_local! {
    /// Where reads land (after the partial frame a connection kept, copied
    /// in): one buffer per worker thread, not per connection.
    static SCRATCH: std::cell::RefCell<BytesMut> = std::cell::RefCell::new(BytesMut::new());
}

fn main() -> ExitCode {
    let config = match parse_config() {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let (log, log_done) = Log::start();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            log.err(format!("tokio_echo_server: cannot start the runtime: {e}"));
            drop(log);
            log_done.wait();
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(config, log));
    // Connections still open past SHUTDOWN_LIMIT are dropped here, and
    // with them the last `Log`s.
    runtime.shutdown_timeout(Duration::from_millis(50));
    log_done.wait();
    code
}

// ---------------------------------------------------------------------------
// Configuration

/// The servers' shared settings (`--help` lists the flags).
use cli::ServerConfig as Config;

/// Parses the command line shared with `echo_server`.
fn parse_config() -> Result<Config, ExitCode> {
    cli::server_config("tokio_echo_server", default_max_conns())
}

/// The default connection limit: the open-file limit (its soft value raised
/// to the hard one, as a server needs) less a few descriptors for the rest;
/// 1000 if the limit cannot be read.
fn default_max_conns() -> usize {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => usize::try_from(n.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(usize::MAX),
        Err(_) => 1000,
    }
}

// ---------------------------------------------------------------------------
// Output: one thread writes every line, so a slow or closed stdout never
// stalls a worker, and a write error is ignored.

enum Line {
    Out(String),
    Err(String),
}

#[derive(Clone)]
struct Log {
    tx: mpsc::Sender<Line>,
}

/// The end of the writer thread: told once every line is written.
struct LogDone(mpsc::Receiver<()>);

impl Log {
    fn start() -> (Log, LogDone) {
        let (tx, rx) = mpsc::channel::<Line>();
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in rx {
                // Write errors (a closed stdout or stderr) are ignored.
                let _ = match line {
                    Line::Out(s) => {
                        let mut out = io::stdout().lock();
                        writeln!(out, "{s}").and_then(|()| out.flush())
                    }
                    Line::Err(s) => writeln!(io::stderr().lock(), "{s}"),
                };
            }
            let _ = done_tx.send(());
        });
        (Log { tx }, LogDone(done_rx))
    }

    fn out(&self, s: String) {
        let _ = self.tx.send(Line::Out(s));
    }

    fn err(&self, s: String) {
        let _ = self.tx.send(Line::Err(s));
    }
}

impl LogDone {
    /// Waits (a while at most: stdout may be a pipe nobody reads) until
    /// every line is written; every `Log` must be dropped first.
    fn wait(self) {
        let _ = self.0.recv_timeout(Duration::from_secs(1));
    }
}

// ---------------------------------------------------------------------------
// The server

/// State shared by every task.
struct Shared {
    config: Config,
    log: Log,
    open: AtomicUsize,
    served: AtomicU64,
    refused: AtomicU64,
    frames: AtomicU64,
    bytes: AtomicU64,
    /// Bytes held in per-connection buffers, against `config.max_memory`.
    memory: AtomicUsize,
    memory_freed: Notify,
    /// Connections waiting on `memory_freed`.
    memory_waiters: AtomicUsize,
    /// The last connection closed (while shutting down).
    all_closed: Notify,
    stop: watch::Receiver<bool>,
}

async fn serve(config: Config, log: Log) -> ExitCode {
    let listener = match TcpListener::bind(&config.addr).await {
        Ok(l) => l,
        Err(e) => {
            log.err(format!(
                "tokio_echo_server: cannot listen on {}: {e}",
                config.addr
            ));
            return ExitCode::FAILURE;
        }
    };
    let local = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            log.err(format!("tokio_echo_server: no local address: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match UdpSocket::bind(local).await {
        Ok(udp) => {
            tokio::spawn(udp_echo(udp, log.clone()));
        }
        Err(e) => log.err(format!("tokio_echo_server: no UDP echo on {local}: {e}")),
    }
    log.out(format!("listening on {local}"));
    log.out(format!(
        "limits: max {} connections, {}-byte frames, {}-byte budget per connection, {} bytes in all",
        config.max_conns,
        config.codec.max_frame_len(),
        config.conn_budget,
        config.max_memory
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        config,
        log,
        open: AtomicUsize::new(0),
        served: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        frames: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        memory: AtomicUsize::new(0),
        memory_freed: Notify::new(),
        memory_waiters: AtomicUsize::new(0),
        all_closed: Notify::new(),
        stop: stop_rx,
    });
    let mut signal = pin!(shutdown_signal());
    let mut last_accept_error: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut signal => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Typically out of file descriptors: say so once a second.
                if last_accept_error.map_or(true, |t| t.elapsed() > Duration::from_secs(1)) {
                    shared.log.err(format!(
                        "tokio_echo_server: accept failed: {e} ({} connections open)",
                        shared.open.load(Ordering::SeqCst)
                    ));
                    last_accept_error = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if shared.open.load(Ordering::SeqCst) >= shared.config.max_conns {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            shared.log.err(format!(
                "{peer}: refused: {} connections open (--max-conns)",
                shared.config.max_conns
            ));
            continue; // dropping the stream closes it
        }
        shared.open.fetch_add(1, Ordering::SeqCst);
        shared.served.fetch_add(1, Ordering::Relaxed);
        shared.log.out(format!("connected {peer}"));
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let end = connection(stream, peer, &shared).await;
            shared.log.out(format!(
                "disconnected {peer}: {} frames, {} bytes echoed ({})",
                end.frames, end.bytes, end.reason
            ));
            if shared.open.fetch_sub(1, Ordering::SeqCst) == 1 {
                shared.all_closed.notify_one();
            }
        });
    }
    // Stop accepting, tell every connection, give them DRAIN_TIME.
    drop(listener);
    let _ = stop_tx.send(true);
    let wait_all = async {
        while shared.open.load(Ordering::SeqCst) > 0 {
            shared.all_closed.notified().await;
        }
    };
    let _ = tokio::time::timeout(SHUTDOWN_LIMIT, wait_all).await;
    shared.log.out(format!(
        "shutdown: {} connections served, {} frames ({} bytes) echoed, {} refused",
        shared.served.load(Ordering::SeqCst),
        shared.frames.load(Ordering::SeqCst),
        shared.bytes.load(Ordering::SeqCst),
        shared.refused.load(Ordering::SeqCst)
    ));
    ExitCode::SUCCESS
}

/// Completes on SIGINT or SIGTERM (Ctrl-C elsewhere).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

// ---------------------------------------------------------------------------
// One connection

/// How a connection ended, for its `disconnected` line.
struct End {
    frames: u64,
    bytes: u64,
    reason: &'static str,
}

/// Why the I/O loop handed control back.
enum Event {
    /// The peer closed its side and every echo was written.
    Closed,
    /// Reading would exceed `--max-memory`; nothing else to do.
    MemoryFull,
    /// Shutting down: nothing more to read now and every echo written.
    Drained,
}

/// Whether the I/O loop may read.
#[derive(Clone, Copy, PartialEq)]
enum Reading {
    Yes,
    /// Not while memory is full (writes go on).
    NoMemory,
    /// Shutting down: read what has arrived, then stop.
    UntilBlocked,
}

struct Conn<'a> {
    shared: &'a Shared,
    dec: FrameDecoder,
    /// The echo of a batch is the batch itself (the default `!I` codec).
    identity: bool,
    /// Bytes of a partial frame (empty between frames; no capacity while
    /// idle).
    inbuf: BytesMut,
    /// The bytes of a frame the connection failed on, for the server's hint.
    bad: Vec<u8>,
    /// Echoes the peer has not taken yet.
    out: BytesMut,
    eof: bool,
    /// No more reads (shutdown, once the socket had nothing more).
    read_done: bool,
    frames: u64,
    bytes: u64,
    /// Bytes of `inbuf` and `out` capacity counted in `shared.memory`.
    held: usize,
    /// Bytes moved since the idle timer last looked.
    moved: bool,
}

async fn connection(mut stream: TcpStream, peer: SocketAddr, shared: &Shared) -> End {
    let _ = stream.set_nodelay(true);
    let codec = shared.config.codec;
    let mut conn = Conn {
        shared,
        dec: codec.new_decoder(),
        identity: codec.length_field_offset() == 0
            && codec.length_adjustment() == 0
            && codec.num_skip() == codec.header_len(),
        inbuf: BytesMut::new(),
        out: BytesMut::new(),
        bad: Vec::new(),
        eof: false,
        read_done: false,
        frames: 0,
        bytes: 0,
        held: 0,
        moved: false,
    };
    let result = conn.run(&mut stream, peer).await;
    conn.release(true);
    let reason = match result {
        Ok(reason) => reason,
        Err(e) => {
            shared
                .log
                .err(format!("{peer}: {e}{}", hint(&e, &codec, &conn.bad)));
            "error, see stderr"
        }
    };
    shared.frames.fetch_add(conn.frames, Ordering::Relaxed);
    shared.bytes.fetch_add(conn.bytes, Ordering::Relaxed);
    End {
        frames: conn.frames,
        bytes: conn.bytes,
        reason,
    }
}

/// The server's own hint for a header this server could not read:
/// which `--header` the peer needs, when the bytes read in the other byte
/// order make sense (`bytes`: the frame's start, as far as it arrived).
fn hint(e: &Error, codec: &Codec, bytes: &[u8]) -> String {
    let complete_within = match e {
        Error::FrameTooLarge { .. } | Error::NegativeLength { .. } => None,
        Error::Truncated { .. } => Some(bytes.len()),
        _ => return String::new(),
    };
    server_hint::byte_order_hint(codec, bytes, complete_within).unwrap_or_default()
}

impl Conn<'_> {
    async fn run(
        &mut self,
        stream: &mut TcpStream,
        peer: SocketAddr,
    ) -> Result<&'static str, Error> {
        let shared = self.shared;
        let config = &shared.config;
        let mut stop = shared.stop.clone();
        let mut stopping = *stop.borrow();
        let mut drain_deadline = stopping.then(|| Instant::now() + DRAIN_TIME);
        let idle = config.idle_timeout;
        let far = Duration::from_secs(86400 * 365);
        let mut idle_timer = pin!(tokio::time::sleep(idle.unwrap_or(far)));
        let mut memory_full = false;
        loop {
            let reading = if stopping {
                Reading::UntilBlocked
            } else if memory_full {
                Reading::NoMemory
            } else {
                Reading::Yes
            };
            let deadline = drain_deadline.unwrap_or_else(|| Instant::now() + far);
            tokio::select! {
                biased;
                event = poll_fn(|cx| self.poll_io(cx, stream, reading)) => match event? {
                    Event::Closed => return Ok("peer closed"),
                    Event::Drained => {
                        // Every echo is out: close our side, done.
                        let _ = poll_fn(|cx| Pin::new(&mut *stream).poll_shutdown(cx)).await;
                        return Ok("shutdown");
                    }
                    Event::MemoryFull => memory_full = true,
                },
                () = wait_for_memory(shared), if memory_full => {
                    memory_full = shared.memory.load(Ordering::Relaxed) >= config.max_memory;
                }
                _ = stop.changed(), if !stopping => {
                    stopping = true;
                    drain_deadline = Some(Instant::now() + DRAIN_TIME);
                }
                () = tokio::time::sleep_until(deadline), if drain_deadline.is_some() => {
                    return Ok("shutdown");
                }
                () = &mut idle_timer, if idle.is_some() => {
                    let limit = idle.unwrap_or(far);
                    idle_timer.as_mut().reset(Instant::now() + limit);
                    if std::mem::take(&mut self.moved) {
                        continue;
                    }
                    let secs = limit.as_secs_f64();
                    if !self.out.is_empty() {
                        self.shared.log.err(format!(
                            "{}: did not read its echoes for {secs}s, closing",
                            peer
                        ));
                        return Ok("idle timeout");
                    }
                    if !self.inbuf.is_empty() || !self.dec.is_at_boundary() {
                        let hint = server_hint::byte_order_hint(
                            &self.shared.config.codec,
                            &self.inbuf,
                            Some(self.inbuf.len()),
                        );
                        self.shared.log.err(format!(
                            "{}: stalled mid-frame for {secs}s, closing{}",
                            peer,
                            hint.unwrap_or_default()
                        ));
                        return Ok("idle timeout");
                    }
                }
            }
        }
    }

    /// True if the next read goes into a large frame's buffer that already
    /// has room for the rest of the frame (it allocates nothing).
    fn has_reserved_room(&self) -> bool {
        let needed = self.dec.needed(self.inbuf.len());
        self.inbuf.len() + needed > READ_CHUNK && self.inbuf.capacity() - self.inbuf.len() >= needed
    }

    fn memory_is_full(&self) -> bool {
        self.shared.memory.load(Ordering::Relaxed) >= self.shared.config.max_memory
    }

    /// Moves bytes until nothing can move: writes pending echoes, reads
    /// what is allowed, decodes and echoes it as one batch. Returns Pending
    /// with the wakers of every direction it waits for registered.
    fn poll_io(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut TcpStream,
        reading: Reading,
    ) -> Poll<Result<Event, Error>> {
        loop {
            let mut moved = false;
            if !self.out.is_empty() {
                match Pin::new(&mut *stream).poll_write(cx, &self.out) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()))
                    }
                    Poll::Ready(Ok(n)) => {
                        self.out.advance(n);
                        moved = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                    Poll::Pending => {}
                }
            }
            if self.out.is_empty() {
                if self.eof {
                    return Poll::Ready(Ok(Event::Closed));
                }
                if self.read_done {
                    return Poll::Ready(Ok(Event::Drained));
                }
            }
            let mut may_read =
                !self.eof && !self.read_done && self.out.len() < self.shared.config.conn_budget;
            // Memory already reserved for a large frame may always fill
            // (else a full budget could never free); new memory only while
            // the global budget allows.
            if may_read && reading != Reading::UntilBlocked && !self.has_reserved_room() {
                let full = reading == Reading::NoMemory || self.memory_is_full();
                if full && reading == Reading::Yes && !moved {
                    self.release(false);
                    return Poll::Ready(Ok(Event::MemoryFull));
                }
                may_read = !full;
            }
            if may_read {
                match self.poll_read_batch(cx, stream) {
                    Poll::Ready(Ok(())) => moved = true,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending if reading == Reading::UntilBlocked => {
                        self.read_done = true;
                        moved = true; // look again: maybe Drained
                    }
                    Poll::Pending => {}
                }
            }
            if !moved {
                self.release(false);
                return Poll::Pending;
            }
            self.moved = true;
            self.account();
        }
    }

    /// One `read()`, then every complete frame echoed: straight from the
    /// read buffer when the peer takes it, else into `out`.
    fn poll_read_batch(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut TcpStream,
    ) -> Poll<Result<(), Error>> {
        let needed = self.dec.needed(self.inbuf.len());
        if self.inbuf.len() + needed > READ_CHUNK {
            // A frame larger than the worker's buffer grows a buffer of its
            // own, to the frame's size.
            self.inbuf.reserve(needed);
            return match poll_read_into(cx, stream, &mut self.inbuf) {
                Poll::Ready(Ok(0)) => Poll::Ready(self.end_of_input()),
                Poll::Ready(Ok(_)) => {
                    let inbuf = std::mem::take(&mut self.inbuf);
                    let used = self.echo(cx, stream, &inbuf);
                    self.inbuf = inbuf;
                    self.inbuf.advance(used?);
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
                Poll::Pending => Poll::Pending,
            };
        }
        // The common case: read into the worker's buffer, after the partial
        // frame this connection kept, and keep only the new partial frame.
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            scratch.clear();
            scratch.reserve(READ_CHUNK);
            scratch.extend_from_slice(&self.inbuf);
            match poll_read_into(cx, stream, &mut scratch) {
                Poll::Ready(Ok(0)) => Poll::Ready(self.end_of_input()),
                Poll::Ready(Ok(_)) => {
                    let used = self.echo(cx, stream, &scratch)?;
                    self.inbuf = BytesMut::from(&scratch[used..]);
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
                Poll::Pending => Poll::Pending,
            }
        })
    }

    /// The peer closed its side: fine between frames; inside one, the
    /// error (with the frame's bytes kept for the server's hint).
    fn end_of_input(&mut self) -> Result<(), Error> {
        self.eof = true;
        self.dec
            .end_of_stream(&self.inbuf)
            .inspect_err(|_| self.bad = self.inbuf.to_vec())
    }

    /// Echoes the complete frames at the front of `data`; returns how many
    /// bytes they took.
    fn echo(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut TcpStream,
        data: &[u8],
    ) -> Result<usize, Error> {
        let codec = self.shared.config.codec;
        let mut frames = self.dec.frames(data);
        if self.identity {
            let mut n = 0u64;
            while let Some(frame) = frames.next() {
                if let Err(e) = frame {
                    self.bad = frames.remainder()[..frames.remainder().len().min(16)].to_vec();
                    return Err(e);
                }
                n += 1;
            }
            let used = frames.consumed();
            self.frames += n;
            self.bytes += used as u64 - n * codec.header_len() as u64;
            let mut batch = &data[..used];
            if self.out.is_empty() && !batch.is_empty() {
                // The common case: the echo goes out from the read buffer.
                if let Poll::Ready(written) = Pin::new(&mut *stream).poll_write(cx, batch) {
                    batch = &batch[written?.min(batch.len())..];
                }
            }
            self.out.extend_from_slice(batch);
            Ok(used)
        } else {
            while let Some(frame) = frames.next() {
                let frame = match frame {
                    Ok(frame) => frame,
                    Err(e) => {
                        self.bad = frames.remainder()[..frames.remainder().len().min(16)].to_vec();
                        return Err(e);
                    }
                };
                codec.encode(frame, &mut self.out)?;
                self.frames += 1;
                self.bytes += frame.len() as u64;
            }
            Ok(frames.consumed())
        }
    }

    /// Frees the buffers that are empty (all of them with `all`) and
    /// updates the memory count.
    fn release(&mut self, all: bool) {
        if all || self.inbuf.is_empty() {
            self.inbuf = BytesMut::new();
        }
        if all || self.out.is_empty() {
            self.out = BytesMut::new();
        }
        self.account();
    }

    /// Brings `shared.memory` in line with what this connection holds.
    fn account(&mut self) {
        let now = self.inbuf.capacity() + self.out.capacity();
        if now > self.held {
            self.shared
                .memory
                .fetch_add(now - self.held, Ordering::Relaxed);
        } else if now < self.held {
            self.shared
                .memory
                .fetch_sub(self.held - now, Ordering::Relaxed);
            if self.shared.memory_waiters.load(Ordering::Relaxed) > 0 {
                self.shared.memory_freed.notify_waiters();
            }
        }
        self.held = now;
    }
}

/// Completes when a connection frees memory, or after 20 ms.
async fn wait_for_memory(shared: &Shared) {
    shared.memory_waiters.fetch_add(1, Ordering::SeqCst);
    let _ = tokio::time::timeout(Duration::from_millis(20), shared.memory_freed.notified()).await;
    shared.memory_waiters.fetch_sub(1, Ordering::SeqCst);
}

/// One `read()` into the spare capacity of `buf`.
fn poll_read_into(
    cx: &mut Context<'_>,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    // `read_buf` is one poll_read into the buffer's spare capacity; polled
    // once here and dropped, it loses nothing when it is Pending.
    pin!(stream.read_buf(buf)).poll(cx)
}

// ---------------------------------------------------------------------------
// UDP: every datagram is echoed as it is (UDP keeps message boundaries).

async fn udp_echo(socket: UdpSocket, log: Log) {
    let mut buf = vec![0u8; 65536];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                if let Err(e) = socket.send_to(&buf[..n], peer).await {
                    log.err(format!("{peer} (udp): {e}"));
                }
            }
            Err(e) => {
                log.err(format!("tokio_echo_server: udp receive failed: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
