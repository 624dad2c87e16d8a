//! The server's stdout and stderr lines, written by a thread of their own
//! so that a slow, full or closed stdout never stops the event loops.
//!
//! Every line is written and flushed on its own; write errors are ignored
//! (a closed stdout must never stop the server). Lines that find the queue
//! full (stdout blocked for a long time) are dropped and counted; the count
//! is reported on stderr at shutdown.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Lines queued before new ones are dropped.
const QUEUE: usize = 1 << 16;

enum Line {
    Out(String),
    Err(String),
    /// Answered once every line before it is written.
    Sync(SyncSender<()>),
}

/// A handle on the log thread; clone it into every thread that logs.
#[derive(Clone)]
pub struct Log {
    tx: SyncSender<Line>,
    dropped: Arc<AtomicU64>,
}

impl Log {
    /// Starts the log thread.
    pub fn start() -> io::Result<Log> {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        thread::Builder::new()
            .name("log".into())
            .spawn(move || write_lines(rx))?;
        Ok(Log {
            tx,
            dropped: Arc::default(),
        })
    }

    /// Queues a line for stdout.
    pub fn out(&self, line: String) {
        self.send(Line::Out(line));
    }

    /// Queues a line for stderr.
    pub fn err(&self, line: String) {
        self.send(Line::Err(line));
    }

    /// Waits at most `limit` for the lines queued so far to be written.
    pub fn sync(&self, limit: Duration) {
        let (tx, rx) = mpsc::sync_channel(1);
        if self.tx.try_send(Line::Sync(tx)).is_ok() {
            let _ = rx.recv_timeout(limit);
        }
    }

    /// Lines dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn send(&self, line: Line) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(line) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn write_lines(rx: Receiver<Line>) {
    for line in rx {
        match line {
            Line::Out(text) => {
                let mut out = io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
            Line::Err(text) => {
                let _ = writeln!(io::stderr().lock(), "{text}");
            }
            Line::Sync(done) => {
                let _ = done.send(());
            }
        }
    }
}
