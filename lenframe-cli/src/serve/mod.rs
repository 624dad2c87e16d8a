//! A framed TCP echo server (and a UDP echo on the same address).
//!
//! ```text
//! cargo run --release --example echo_server -- [--addr HOST:PORT] [--header FMT]
//!     [--max-frame BYTES] [--max-conns N] [--idle-timeout SECS]
//!     [--conn-budget BYTES] [--max-memory BYTES]
//! ```
//!
//! Every TCP frame is echoed back as one frame in the same header format;
//! UDP datagrams to the same IP and port are echoed verbatim (RFC 862
//! style).
//!
//! # Design
//!
//! An event loop over nonblocking sockets (`mio`): one accepting thread
//! (which also echoes UDP and catches the signals), one worker thread per
//! core (`ECHO_SERVER_THREADS=N` overrides), each serving its share of the
//! connections, and one thread that writes the log lines. A connection is a state, not a thread: lenframe's sans-IO
//! [`FrameDecoder`](lenframe::FrameDecoder) over the bytes read, and the
//! encoded echoes not yet written (`common/server_conn.rs`). Frames cross
//! in batches: whatever one `read()` brought in is decoded where it lies
//! and its echoes are written with one `write()`; there is no lock, queue
//! or wake-up per frame.
//!
//! # Limits and backpressure
//!
//! * A connection may have `--conn-budget` bytes of echoes pending (8 MiB
//!   by default). A client that pipelines that much before reading any
//!   reply is served in full, whatever its own socket buffers. Past the
//!   budget the server **stops reading that connection** until the peer
//!   reads its echoes: the peer's writes then block (TCP flow control);
//!   nothing more is buffered.
//! * Over all connections, at most `--max-memory` bytes are buffered
//!   (default: a quarter of the available memory); when that is reached,
//!   no connection is read until memory frees. Connections stalled in the
//!   middle of a frame hold their partial frame: use `--idle-timeout` to
//!   free them.
//! * At most `--max-conns` connections are served at once (default: the
//!   open-file limit less a reserve, printed on the `limits:` line). Others
//!   are accepted and closed at once, with one stderr line each; so are
//!   connections that arrive when the process is out of file descriptors.
//!   The server never aborts for lack of resources.
//! * A bad peer (oversize or negative length, garbage, EOF or reset
//!   mid-frame) costs only its own connection and one line on stderr, with
//!   a hint when the other byte order explains its header.
//!
//! # Output
//!
//! stdout: `listening on ADDR`, then `limits: ...`, then one line per
//! `connected PEER` and `disconnected PEER: N frames, B bytes echoed
//! (REASON)`, and at shutdown the summary. A closed stdout never stops the
//! server. SIGINT or SIGTERM: stop accepting, deliver the echoes of frames
//! already received, close every connection, print the summary, exit 0,
//! all within 2 seconds.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener, UdpSocket as StdUdp};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use cli::ServerConfig as Config;
use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token, Waker};
use server_conn::{Conn, Memory, Paused, Scratch, Status};
use server_log::Log;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

#[path = "common/cli.rs"]
mod cli;
#[path = "common/server_conn.rs"]
mod server_conn;
#[path = "common/server_hint.rs"]
mod server_hint;
#[path = "common/server_log.rs"]
mod server_log;

/// File descriptors kept back from the connection limit: standard streams,
/// listener, UDP socket, epoll and wake-up descriptors, the signal pipe,
/// the spare descriptor.
const FD_RESERVE: usize = 32;
/// Bytes one `read()` may bring in.
const READ_SIZE: usize = 256 * 1024;
/// How long workers deliver echoes after a shutdown signal before they
/// close what is left (the summary follows within 2 s of the signal).
const DRAIN: Duration = Duration::from_millis(1500);
/// How long to stop accepting after an accept error that is not solved by
/// refusing one connection.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// How often a worker retries connections paused by `--max-memory`.
const MEMORY_RETRY: Duration = Duration::from_millis(20);
/// After this long stalled mid-frame, a connection whose header the other
/// byte order explains gets one stderr line (it is not closed).
const STALL_NOTICE: Duration = Duration::from_secs(2);

const LISTENER: Token = Token(0);
const UDP: Token = Token(1);
const SIGNALS: Token = Token(2);
const WAKE: Token = Token(usize::MAX);

/// The same state used by every thread.
struct Shared {
    config: Config,
    log: Log,
    memory: Memory,
    /// Connections open now.
    open: AtomicUsize,
    /// Totals for the summary.
    served: AtomicU64,
    frames: AtomicU64,
    bytes: AtomicU64,
    refused: AtomicU64,
}

fn main() -> ExitCode {
    let config = match cli::server_config("echo_server", default_max_conns()) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let log = match Log::start() {
        Ok(log) => log,
        Err(e) => {
            eprintln!("echo_server: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shared = Arc::new(Shared {
        memory: Memory::new(config.max_memory),
        config,
        log,
        open: AtomicUsize::new(0),
        served: AtomicU64::new(0),
        frames: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        refused: AtomicU64::new(0),
    });
    match run(&shared) {
        Ok(()) => {
            let s = &shared;
            s.log.out(format!(
                "shutdown: {} connections served, {} frames ({} bytes) echoed, {} refused",
                s.served.load(Ordering::Relaxed),
                s.frames.load(Ordering::Relaxed),
                s.bytes.load(Ordering::Relaxed),
                s.refused.load(Ordering::Relaxed),
            ));
            s.log.sync(Duration::from_millis(300));
            ExitCode::SUCCESS
        }
        Err(message) => {
            shared.log.err(format!("echo_server: {message}"));
            shared.log.sync(Duration::from_millis(300));
            ExitCode::FAILURE
        }
    }
}

/// The open-file limit less a reserve: each connection costs one
/// descriptor, and no thread.
fn default_max_conns() -> usize {
    cli::open_files_limit()
        .map_or(1 << 20, |n| n.saturating_sub(FD_RESERVE))
        .max(1)
}

/// Serves until SIGINT or SIGTERM.
fn run(shared: &Arc<Shared>) -> Result<(), String> {
    let config = &shared.config;
    let std_listener = StdListener::bind(&config.addr)
        .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let local = std_listener.local_addr().map_err(|e| e.to_string())?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| e.to_string())?;
    let mut poll = Poll::new().map_err(|e| format!("cannot poll: {e}"))?;
    let mut listener = TcpListener::from_std(std_listener);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|e| e.to_string())?;
    let mut udp = match udp_socket(local) {
        Ok(mut socket) => {
            poll.registry()
                .register(&mut socket, UDP, Interest::READABLE)
                .map_err(|e| e.to_string())?;
            Some(socket)
        }
        Err(e) => {
            shared
                .log
                .err(format!("echo_server: no UDP echo on {local}: {e}"));
            None
        }
    };
    let mut signals =
        Signals::new([SIGINT, SIGTERM]).map_err(|e| format!("cannot catch signals: {e}"))?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)
        .map_err(|e| e.to_string())?;
    let workers = start_workers(shared)?;
    shared.log.out(format!("listening on {local}"));
    shared.log.out(format!(
        "limits: max {} connections, {}-byte frames, {}-byte budget per connection, {} bytes in all",
        config.max_conns,
        config.codec.max_frame_len(),
        config.conn_budget,
        config.max_memory
    ));
    let mut acceptor = Acceptor {
        listener,
        shared: Arc::clone(shared),
        workers: &workers,
        spare: File::open("/dev/null").ok(),
        paused_until: None,
    };
    let mut events = Events::with_capacity(64);
    let mut datagram = vec![0u8; 65536];
    'serve: loop {
        let timeout = acceptor
            .paused_until
            .map(|t| t.saturating_duration_since(Instant::now()));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll failed: {e}"));
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => acceptor.paused_until = None,
                UDP => {
                    if let Some(socket) = &udp {
                        udp_echo(socket, &mut datagram, &shared.log);
                    }
                }
                SIGNALS if signals.pending().next().is_some() => break 'serve,
                _ => {}
            }
        }
        acceptor.accept_all();
    }
    // Stop accepting, then let every worker deliver what it has.
    let _ = poll.registry().deregister(&mut acceptor.listener);
    drop(acceptor);
    if let Some(mut socket) = udp.take() {
        let _ = poll.registry().deregister(&mut socket);
    }
    for w in &workers {
        let _ = w.inbox.send(Msg::Shutdown);
        let _ = w.waker.wake();
    }
    for w in workers {
        if w.thread.join().is_err() {
            shared.log.err("echo_server: a worker panicked".into());
        }
    }
    Ok(())
}

fn udp_socket(local: SocketAddr) -> io::Result<UdpSocket> {
    let socket = StdUdp::bind(local)?;
    socket.set_nonblocking(true)?;
    Ok(UdpSocket::from_std(socket))
}

/// Echoes every datagram waiting (the socket is edge-triggered).
fn udp_echo(socket: &UdpSocket, buf: &mut [u8], log: &Log) {
    loop {
        match socket.recv_from(buf) {
            Ok((n, peer)) => match socket.send_to(&buf[..n], peer) {
                Ok(_) => {}
                // UDP: a datagram the socket cannot take now is dropped.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => log.err(format!("{peer} (udp): {e}")),
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log.err(format!("echo_server: udp receive failed: {e}"));
                return;
            }
        }
    }
}

/// Accepts connections and hands them to the workers.
struct Acceptor<'a> {
    listener: TcpListener,
    shared: Arc<Shared>,
    workers: &'a [WorkerHandle],
    /// A descriptor given up to accept (and refuse) one connection when
    /// the process is out of descriptors.
    spare: Option<File>,
    /// Accepting stopped after an error, until then.
    paused_until: Option<Instant>,
}

/// `EMFILE` and `ENFILE` (Linux): out of file descriptors.
fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

impl Acceptor<'_> {
    /// Accepts until the backlog is empty (the listener is edge-triggered).
    fn accept_all(&mut self) {
        if let Some(until) = self.paused_until {
            if Instant::now() < until {
                return;
            }
            self.paused_until = None;
        }
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                Err(e) if out_of_descriptors(&e) && self.spare.is_some() => self.refuse_one(&e),
                Err(e) => {
                    self.shared.log.err(format!(
                        "echo_server: accept failed: {e}; accepting again in {} ms",
                        ACCEPT_PAUSE.as_millis()
                    ));
                    self.paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    return;
                }
            }
        }
    }

    /// Out of descriptors: frees the spare one to accept the waiting
    /// connection and close it at once, so the peer is refused rather than
    /// left waiting in the backlog.
    fn refuse_one(&mut self, cause: &io::Error) {
        self.spare = None;
        match self.listener.accept() {
            Ok((stream, peer)) => {
                self.refuse(stream, peer, format!("out of file descriptors ({cause})"));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                self.shared.log.err(format!(
                    "echo_server: accept failed: {e}; accepting again in {} ms",
                    ACCEPT_PAUSE.as_millis()
                ));
                self.paused_until = Some(Instant::now() + ACCEPT_PAUSE);
            }
        }
        self.spare = File::open("/dev/null").ok();
        if self.spare.is_none() {
            self.paused_until = Some(Instant::now() + ACCEPT_PAUSE);
        }
    }

    fn refuse(&self, stream: TcpStream, peer: SocketAddr, why: String) {
        self.shared.refused.fetch_add(1, Ordering::Relaxed);
        self.shared.log.err(format!("{peer}: refused: {why}"));
        drop(stream);
    }

    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) {
        let max = self.shared.config.max_conns;
        if self.shared.open.load(Ordering::Relaxed) >= max {
            let why = format!("{max} connections open (--max-conns)");
            return self.refuse(stream, peer, why);
        }
        self.shared.open.fetch_add(1, Ordering::Relaxed);
        self.shared.log.out(format!("connected {peer}"));
        let _ = stream.set_nodelay(true);
        // The least loaded worker takes it.
        let worker = self
            .workers
            .iter()
            .min_by_key(|w| w.load.load(Ordering::Relaxed))
            .expect("at least one worker");
        worker.load.fetch_add(1, Ordering::Relaxed);
        let _ = worker.inbox.send(Msg::Conn(stream, peer));
        if let Err(e) = worker.waker.wake() {
            self.shared
                .log
                .err(format!("echo_server: cannot wake a worker: {e}"));
        }
    }
}

/// What the acceptor tells a worker.
enum Msg {
    Conn(TcpStream, SocketAddr),
    Shutdown,
}

struct WorkerHandle {
    inbox: Sender<Msg>,
    waker: Arc<Waker>,
    /// Connections it serves.
    load: Arc<AtomicUsize>,
    thread: JoinHandle<()>,
}

/// One worker thread per core (the accepting thread is mostly asleep).
fn start_workers(shared: &Arc<Shared>) -> Result<Vec<WorkerHandle>, String> {
    let n = std::env::var("ECHO_SERVER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()));
    let mut workers = Vec::with_capacity(n);
    for i in 0..n {
        let poll = Poll::new().map_err(|e| format!("cannot poll: {e}"))?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE).map_err(|e| e.to_string())?);
        let (inbox, messages) = mpsc::channel();
        let load = Arc::new(AtomicUsize::new(0));
        let mut worker = Worker {
            poll,
            messages,
            shared: Arc::clone(shared),
            load: Arc::clone(&load),
            conns: Vec::new(),
            free: Vec::new(),
            scratch: Scratch::new(READ_SIZE),
            starved: Vec::new(),
            draining: None,
            next_sweep: Instant::now(),
        };
        let thread = thread::Builder::new()
            .name(format!("worker {i}"))
            .spawn(move || worker.run())
            .map_err(|e| format!("cannot start a worker thread: {e}"))?;
        workers.push(WorkerHandle {
            inbox,
            waker,
            load,
            thread,
        });
    }
    Ok(workers)
}

/// Why a connection ended, for its `disconnected` line.
#[derive(Clone, Copy)]
enum Reason {
    PeerClosed,
    IdleTimeout,
    Error,
    Shutdown,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::PeerClosed => "peer closed",
            Reason::IdleTimeout => "idle timeout",
            Reason::Error => "error, see stderr",
            Reason::Shutdown => "shutdown",
        }
    }
}

/// One event loop and the connections it serves.
struct Worker {
    poll: Poll,
    messages: Receiver<Msg>,
    shared: Arc<Shared>,
    load: Arc<AtomicUsize>,
    /// Connections by token; `free` lists the empty slots.
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    scratch: Scratch,
    /// Tokens of connections paused by `--max-memory` (some may be stale).
    starved: Vec<usize>,
    /// Set at shutdown: close what is left then.
    draining: Option<Instant>,
    /// Next look for stalled connections.
    next_sweep: Instant,
}

/// Set by the first worker that sees `--max-memory` reached, for one line.
static MEMORY_NOTED: AtomicBool = AtomicBool::new(false);

impl Worker {
    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.timeout();
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.shared
                        .log
                        .err(format!("echo_server: poll failed: {e}"));
                    thread::sleep(MEMORY_RETRY);
                }
                continue;
            }
            for event in events.iter() {
                if event.token() == WAKE {
                    self.take_messages();
                    continue;
                }
                let i = event.token().0;
                if let Some(Some(conn)) = self.conns.get_mut(i) {
                    conn.readable |= event.is_readable() || event.is_read_closed();
                    conn.writable |= event.is_writable() || event.is_write_closed();
                    if event.is_error() {
                        (conn.readable, conn.writable) = (true, true);
                    }
                    self.drive(i);
                }
            }
            let now = Instant::now();
            if !self.starved.is_empty() && self.shared.memory.has_room() {
                for i in std::mem::take(&mut self.starved) {
                    self.drive(i);
                }
            }
            if now >= self.next_sweep {
                self.sweep(now);
            }
            if let Some(deadline) = self.draining {
                if self.load.load(Ordering::Relaxed) == 0 || now >= deadline {
                    self.close_all(Reason::Shutdown);
                    return;
                }
            }
        }
    }

    /// How long the next poll may sleep.
    fn timeout(&self) -> Duration {
        let now = Instant::now();
        let mut until = self.next_sweep;
        if let Some(deadline) = self.draining {
            until = until.min(deadline);
        }
        let wait = until.saturating_duration_since(now);
        if self.starved.is_empty() {
            wait
        } else {
            wait.min(MEMORY_RETRY)
        }
    }

    fn take_messages(&mut self) {
        while let Ok(msg) = self.messages.try_recv() {
            match msg {
                Msg::Conn(stream, peer) => self.add(stream, peer),
                Msg::Shutdown => {
                    self.draining = Some(Instant::now() + DRAIN);
                    // Read what is there, deliver, close the quiet ones.
                    for i in 0..self.conns.len() {
                        if self.conns[i].is_some() {
                            if let Some(conn) = self.conns[i].as_mut() {
                                conn.readable = true;
                            }
                            self.drive(i);
                        }
                    }
                }
            }
        }
    }

    fn add(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        let i = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(i), interest)
        {
            self.shared.log.err(format!("{peer}: cannot poll: {e}"));
            self.conns[i] = Some(Conn::new(stream, peer, self.shared.config.codec));
            return self.close(i, Reason::Error);
        }
        self.conns[i] = Some(Conn::new(stream, peer, self.shared.config.codec));
        self.drive(i);
    }

    /// Lets connection `i` make progress, and closes it when it is done.
    fn drive(&mut self, i: usize) {
        let Some(Some(conn)) = self.conns.get_mut(i) else {
            return;
        };
        let shared = &*self.shared;
        let result = conn.drive(&mut self.scratch, &shared.memory, shared.config.conn_budget);
        match result {
            Ok(Status::Done) => self.close(i, Reason::PeerClosed),
            Ok(Status::Open) => {
                if conn.paused == Paused::Memory {
                    self.starved.push(i);
                    if !MEMORY_NOTED.swap(true, Ordering::Relaxed) {
                        shared.log.err(format!(
                            "echo_server: {} bytes buffered (--max-memory): reading paused until memory frees",
                            shared.memory.used()
                        ));
                    }
                } else if self.draining.is_some() && conn.is_quiet() {
                    self.close(i, Reason::Shutdown);
                }
            }
            Err(message) => {
                shared.log.err(format!("{}: {message}", conn.peer));
                self.close(i, Reason::Error);
            }
        }
    }

    /// Closes connections stalled mid-frame past `--idle-timeout`, and
    /// notes (once) those whose stall the other byte order explains.
    fn sweep(&mut self, now: Instant) {
        let idle = self.shared.config.idle_timeout;
        let every = idle.map_or(Duration::from_secs(1), |t| {
            (t / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
        });
        self.next_sweep = now + every;
        for i in 0..self.conns.len() {
            let Some(conn) = self.conns[i].as_mut() else {
                continue;
            };
            if !conn.is_stalled() {
                continue;
            }
            let stalled = now.saturating_duration_since(conn.last_read);
            if let Some(limit) = idle.filter(|&t| stalled >= t) {
                let hint = conn.stall_hint().unwrap_or_default();
                self.shared.log.err(format!(
                    "{}: stalled mid-frame for {}s, closing{hint}",
                    conn.peer,
                    limit.as_secs_f64()
                ));
                self.close(i, Reason::IdleTimeout);
            } else if stalled >= STALL_NOTICE && !conn.stall_noted {
                conn.stall_noted = true;
                if let Some(hint) = conn.stall_hint() {
                    self.shared.log.err(format!(
                        "{}: waiting {}s for the rest of a frame{hint}",
                        conn.peer,
                        stalled.as_secs()
                    ));
                }
            }
        }
    }

    fn close_all(&mut self, reason: Reason) {
        for i in 0..self.conns.len() {
            if self.conns[i].is_some() {
                self.close(i, reason);
            }
        }
    }

    /// Closes connection `i`: after a clean end, the write side is shut
    /// down first, so the peer sees every echo and then EOF.
    fn close(&mut self, i: usize, reason: Reason) {
        let Some(mut conn) = self.conns[i].take() else {
            return;
        };
        self.free.push(i);
        let _ = self.poll.registry().deregister(&mut conn.stream);
        if matches!(reason, Reason::PeerClosed | Reason::Shutdown) {
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
        }
        conn.release(&self.shared.memory);
        let s = &*self.shared;
        s.served.fetch_add(1, Ordering::Relaxed);
        s.frames.fetch_add(conn.frames, Ordering::Relaxed);
        s.bytes.fetch_add(conn.bytes, Ordering::Relaxed);
        s.open.fetch_sub(1, Ordering::Relaxed);
        self.load.fetch_sub(1, Ordering::Relaxed);
        s.log.out(format!(
            "disconnected {}: {} frames, {} bytes echoed ({})",
            conn.peer,
            conn.frames,
            conn.bytes,
            reason.as_str()
        ));
    }
}
