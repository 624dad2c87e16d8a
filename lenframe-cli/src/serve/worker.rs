//! The worker threads: one event loop each over the connections it was
//! given. A worker drives each ready connection ([`Conn::drive`]), closes
//! those that are done, stalled past `--idle-timeout` or broken, retries
//! those paused by `--max-memory`, and at shutdown delivers what it holds
//! before closing everything.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

use super::conn::{spare_max, Conn, Paused, Scratch, Spare, Status};
use super::event::Event;
use super::shared::Shared;

/// Bytes one `read()` may bring in.
const READ_SIZE: usize = 256 * 1024;
/// How long workers deliver echoes and linger after a shutdown signal
/// before they close what is left (the summary follows within 2 s of the
/// signal).
const DRAIN: Duration = Duration::from_millis(1500);
/// At shutdown, a connection whose echoes are all out and whose peer has
/// sent nothing for this long is closed without waiting for its EOF.
const LINGER_QUIET: Duration = Duration::from_millis(300);
/// How often a worker looks at its lingering connections at shutdown.
const LINGER_CHECK: Duration = Duration::from_millis(25);
/// At most this much input is read and dropped from one connection just
/// before a forced close (so that the close sends a FIN, not an RST)...
const LAST_DISCARD: usize = 1 << 20;
/// ...and for at most this long over all the connections of a worker
/// (then the rest are closed as they are).
const LAST_DISCARD_TIME: Duration = Duration::from_millis(150);
/// How often a worker retries connections paused by `--max-memory`.
const MEMORY_RETRY: Duration = Duration::from_millis(20);
/// After this long stalled mid-frame, a connection whose header the other
/// byte order explains gets one stderr line (it is not closed).
const STALL_NOTICE: Duration = Duration::from_secs(2);
/// A connection finishing its frame past `--max-memory` that receives
/// nothing for this long gives its turn to another.
const FINISH_STALL: Duration = Duration::from_secs(1);
/// How often a worker looks for connections stalled past
/// `--idle-timeout` (at most; a tenth of the timeout when that is less):
/// each is closed within a tenth of the timeout, and 100 ms, of its due.
const IDLE_CHECK: Duration = Duration::from_millis(100);
/// How often it looks for stalls to note, without `--idle-timeout`.
const STALL_CHECK: Duration = Duration::from_secs(1);
/// The token of a worker's waker (connections count up from 0).
const WAKE: Token = Token(usize::MAX);

/// What the acceptor tells a worker.
pub enum Msg {
    Conn(TcpStream, SocketAddr),
    Shutdown,
}

pub struct WorkerHandle {
    pub inbox: Sender<Msg>,
    pub waker: Arc<Waker>,
    /// Connections it serves.
    pub load: Arc<AtomicUsize>,
    pub thread: JoinHandle<()>,
}

/// Starts `--threads` workers (by default one per core: the accepting
/// thread is mostly asleep), at least one.
pub fn start_workers(shared: &Arc<Shared>) -> Result<Vec<WorkerHandle>, String> {
    let n = shared.config.threads.max(1);
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
            scratch: Scratch::new(
                READ_SIZE,
                Spare::new(
                    Arc::clone(&shared.memory),
                    spare_max(shared.config.conn_budget),
                ),
            ),
            starved: Vec::new(),
            finisher: None,
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
    /// The connection allowed to finish its frame past `--max-memory`.
    finisher: Option<usize>,
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
                        .err(format!("lenframe serve: poll failed: {e}"));
                    thread::sleep(MEMORY_RETRY);
                }
                continue;
            }
            if let Some(deadline) = self.draining {
                if Instant::now() >= deadline {
                    self.close_all(Reason::Shutdown);
                    return;
                }
            }
            for event in events.iter() {
                if event.token() == WAKE {
                    self.take_messages();
                    continue;
                }
                let i = event.token().0;
                if let Some(Some(conn)) = self.conns.get_mut(i) {
                    conn.readable |= event.is_readable() || event.is_read_closed();
                    conn.hung_up |= event.is_read_closed();
                    conn.writable |= event.is_writable() || event.is_write_closed();
                    if event.is_error() {
                        (conn.readable, conn.writable, conn.hung_up) = (true, true, true);
                    }
                    self.drive(i);
                }
            }
            let now = Instant::now();
            if !self.starved.is_empty() {
                self.retry_starved();
            }
            if now >= self.next_sweep {
                self.sweep(now);
            }
            if !self.shared.memory.has_room() {
                // Memory is needed: the kept buffer goes (whichever worker
                // is short of it).
                self.scratch.spare.clear();
            }
            if let Some(deadline) = self.draining {
                if now >= deadline {
                    self.close_all(Reason::Shutdown);
                }
                self.close_quiet();
                if self.load.load(Ordering::Relaxed) == 0 {
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
            until = until.min(deadline).min(now + LINGER_CHECK);
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
                    self.starved.clear();
                    self.finisher = None;
                    // No new frames; deliver, half-close, linger.
                    for i in 0..self.conns.len() {
                        if let Some(conn) = self.conns[i].as_mut() {
                            conn.begin_close();
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
        let mut conn = Conn::new(stream, peer, self.shared.config.codec);
        if self.draining.is_some() {
            conn.begin_close();
        }
        self.conns[i] = Some(conn);
        self.drive(i);
    }

    /// Lets connection `i` make progress, and closes it when it is done.
    fn drive(&mut self, i: usize) {
        let Some(Some(conn)) = self.conns.get_mut(i) else {
            return;
        };
        let shared = &*self.shared;
        let share = shared
            .memory
            .fair_share(shared.open.load(Ordering::Relaxed));
        let result = conn.drive(
            &mut self.scratch,
            &shared.memory,
            shared.config.conn_budget,
            share,
        );
        match result {
            Ok(Status::Done) if conn.closing => self.close(i, Reason::Shutdown),
            Ok(Status::Done) => self.close(i, Reason::PeerClosed),
            Ok(Status::Open) => {
                if conn.paused == Paused::Memory {
                    if !conn.starved {
                        conn.starved = true;
                        self.starved.push(i);
                    }
                    if !MEMORY_NOTED.swap(true, Ordering::Relaxed) {
                        shared.log.err(format!(
                            "lenframe serve: {} bytes buffered (--max-memory): reading paused until memory frees",
                            shared.memory.used()
                        ));
                    }
                }
            }
            Err(message) => {
                shared.log.err(format!("{}: {message}", conn.peer));
                self.close(i, Reason::Error);
            }
        }
    }

    /// Drives again the connections paused by `--max-memory` that may read
    /// now: all of them when memory has room, else those under their fair
    /// share (it grows as connections close); then lets one finish its
    /// frame in progress if memory is still full.
    fn retry_starved(&mut self) {
        let memory = &self.shared.memory;
        let room = memory.has_room();
        if !room {
            self.scratch.spare.clear();
        }
        let share = memory.fair_share(self.shared.open.load(Ordering::Relaxed));
        let mut ready = Vec::new();
        let mut waiting = std::mem::take(&mut self.starved);
        waiting.retain(|&i| match self.conns.get_mut(i) {
            Some(Some(conn)) if conn.starved => {
                let go = room || conn.held() < share;
                if go {
                    conn.starved = false;
                    ready.push(i);
                }
                !go
            }
            _ => false,
        });
        self.starved = waiting;
        for i in ready {
            self.drive(i);
        }
        if !self.shared.memory.has_room() {
            self.finish_one();
        }
    }

    /// Memory is full: lets one paused connection per worker read on until
    /// its frame in progress is complete (and not a byte beyond it), the
    /// one that needs the fewest bytes to get there. Memory can then free
    /// (the frame is echoed), and a peer that gave up is noticed (its close
    /// waits behind the bytes it sent); every other connection waits.
    /// `--max-memory` may thus be passed by up to one frame per worker. A
    /// finisher that receives nothing for `FINISH_STALL` gives its turn to
    /// another (it waits in the list again).
    fn finish_one(&mut self) {
        let mut passed_over = None;
        if let Some(i) = self.finisher.take() {
            if let Some(Some(conn)) = self.conns.get_mut(i) {
                if conn.finishing && conn.last_read.elapsed() < FINISH_STALL {
                    self.finisher = Some(i);
                    return;
                }
                if conn.finishing {
                    conn.finishing = false;
                    conn.starved = true;
                    self.starved.push(i);
                    passed_over = Some(i);
                }
            }
        }
        let candidates = self.starved.iter().filter_map(|&i| {
            let conn = self.conns.get(i)?.as_ref()?;
            conn.is_mid_frame().then(|| (conn.still_needed(), i))
        });
        let next = candidates
            .clone()
            .filter(|&(_, i)| Some(i) != passed_over)
            .min()
            .or_else(|| candidates.min());
        let Some((_, i)) = next else {
            return;
        };
        self.starved.retain(|&j| j != i);
        if let Some(Some(conn)) = self.conns.get_mut(i) {
            conn.starved = false;
            conn.finishing = true;
            conn.last_read = Instant::now();
        }
        self.finisher = Some(i);
        self.drive(i);
    }

    /// Closes connections stalled mid-frame past `--idle-timeout`, and
    /// notes (once) those whose stall the other byte order explains.
    fn sweep(&mut self, now: Instant) {
        let idle = self.shared.config.idle_timeout;
        let every = idle.map_or(STALL_CHECK, |t| {
            (t / 10).clamp(Duration::from_millis(10), IDLE_CHECK)
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

    /// At shutdown: closes the connections whose echoes are all out and
    /// whose peers have gone quiet (nothing unread: the close sends a FIN).
    /// Also gives another turn to those with input left to drop.
    fn close_quiet(&mut self) {
        for i in 0..self.conns.len() {
            if let Some(conn) = self.conns[i].as_ref() {
                if conn.has_input_left() {
                    self.drive(i);
                } else if conn.is_lingering_quietly(LINGER_QUIET) {
                    self.close(i, Reason::Shutdown);
                }
            }
        }
    }

    /// The shutdown deadline: closes every connection, each after reading
    /// and dropping what its peer has sent (a close with unread bytes
    /// would send an RST, destroying echoes still in flight).
    fn close_all(&mut self, reason: Reason) {
        let until = Instant::now() + LAST_DISCARD_TIME;
        for i in 0..self.conns.len() {
            if let Some(conn) = self.conns[i].as_mut() {
                if Instant::now() < until {
                    // Whatever has arrived since the last event, too.
                    conn.readable = true;
                    let _ = conn.discard_input(&mut self.scratch, LAST_DISCARD);
                }
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
        conn.release(&self.shared.memory, &mut self.scratch.spare);
        let s = &*self.shared;
        s.served.fetch_add(1, Ordering::Relaxed);
        s.frames.fetch_add(conn.frames, Ordering::Relaxed);
        s.bytes.fetch_add(conn.bytes, Ordering::Relaxed);
        s.open.fetch_sub(1, Ordering::Relaxed);
        self.load.fetch_sub(1, Ordering::Relaxed);
        s.say(Event::Disconnected {
            peer: conn.peer,
            frames: conn.frames,
            bytes: conn.bytes,
            reason: reason.as_str(),
        });
    }
}
