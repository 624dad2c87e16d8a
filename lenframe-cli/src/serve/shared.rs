//! The server's settings and the state all its threads share: the log,
//! the memory count, the open connections and the totals of the summary.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lenframe::Codec;

use super::conn::Memory;
use super::event::Event;
use crate::log::Log;

/// Settings of `lenframe serve`, checked by the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address for TCP and UDP (`HOST:PORT`; port 0 picks one).
    pub addr: String,
    /// The header format and the largest frame.
    pub codec: Codec,
    /// Connections served at once; more are refused.
    pub max_conns: usize,
    /// Close a peer stalled mid-frame this long.
    pub idle_timeout: Option<Duration>,
    /// Bytes of echoes one connection may have pending (written by the
    /// server, not yet taken by the peer) before the server stops reading
    /// that connection.
    pub conn_budget: usize,
    /// Bytes the server may hold buffered over all connections before it
    /// stops reading from any of them.
    pub max_memory: usize,
    /// Worker threads (event loops).
    pub threads: usize,
    /// `--json`: stdout lines are JSON objects, one per line.
    pub json: bool,
}

/// The same state used by every thread.
pub struct Shared {
    pub config: Config,
    pub log: Log,
    pub memory: Arc<Memory>,
    /// Connections open now.
    pub open: AtomicUsize,
    /// Totals for the summary.
    pub served: AtomicU64,
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    pub refused: AtomicU64,
}

impl Shared {
    pub fn new(config: Config, log: Log) -> Shared {
        Shared {
            memory: Arc::new(Memory::new(config.max_memory)),
            config,
            log,
            open: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Queues the stdout line of `event` (text, or JSON with `--json`).
    pub fn say(&self, event: Event) {
        self.log.out(event.line(self.config.json));
    }

    /// The summary: the `shutdown: ...` line.
    pub fn summary(&self) -> Event<'static> {
        Event::Shutdown {
            served: self.served.load(Ordering::Relaxed),
            frames: self.frames.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}
