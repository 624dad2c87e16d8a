//! The accepting side: takes connections off the listener, refuses those
//! over `--max-conns` (or past the open-file limit) with one stderr line
//! each, and hands the others to the least loaded worker.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};

use super::event::Event;
use super::shared::Shared;
use super::worker::{Msg, WorkerHandle};

/// How long to stop accepting after an accept error that is not solved by
/// refusing one connection.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Accepts connections and hands them to the workers.
pub struct Acceptor<'a> {
    pub listener: TcpListener,
    shared: Arc<Shared>,
    workers: &'a [WorkerHandle],
    /// A descriptor given up to accept (and refuse) one connection when
    /// the process is out of descriptors.
    spare: Option<File>,
    /// Accepting stopped after an error, until then.
    pub paused_until: Option<Instant>,
}

/// `EMFILE` and `ENFILE` (the same numbers on Linux, macOS and the BSDs):
/// out of file descriptors.
fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

impl<'a> Acceptor<'a> {
    /// `workers` is never empty.
    pub fn new(listener: TcpListener, shared: Arc<Shared>, workers: &'a [WorkerHandle]) -> Self {
        Acceptor {
            listener,
            shared,
            workers,
            spare: File::open("/dev/null").ok(),
            paused_until: None,
        }
    }

    /// Accepts until the backlog is empty (the listener is edge-triggered).
    pub fn accept_all(&mut self) {
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
                Err(e) => return self.pause(&e),
            }
        }
    }

    /// Stops accepting for [`ACCEPT_PAUSE`] after `e`.
    fn pause(&mut self, e: &io::Error) {
        self.shared.log.err(format!(
            "lenframe serve: accept failed: {e}; accepting again in {} ms",
            ACCEPT_PAUSE.as_millis()
        ));
        self.paused_until = Some(Instant::now() + ACCEPT_PAUSE);
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
            Err(e) => self.pause(&e),
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
        // The least loaded worker takes it.
        let Some(worker) = self
            .workers
            .iter()
            .min_by_key(|w| w.load.load(Ordering::Relaxed))
        else {
            return self.refuse(stream, peer, "no worker thread".into());
        };
        self.shared.open.fetch_add(1, Ordering::Relaxed);
        self.shared.say(Event::Connected { peer });
        let _ = stream.set_nodelay(true);
        worker.load.fetch_add(1, Ordering::Relaxed);
        let _ = worker.inbox.send(Msg::Conn(stream, peer));
        if let Err(e) = worker.waker.wake() {
            self.shared
                .log
                .err(format!("lenframe serve: cannot wake a worker: {e}"));
        }
    }
}
