//! A framed TCP echo server (and a UDP echo on the same address).
//!
//! ```text
//! cargo run --release --example echo_server -- [--addr HOST:PORT] [--header FMT]
//!     [--max-frame BYTES] [--max-conns N] [--idle-timeout SECS]
//! ```
//!
//! Every TCP frame is echoed back as one frame in the same header format.
//! Each connection has a reader thread and a writer thread joined by a
//! queue bounded in bytes, so a client that pipelines thousands of frames
//! before reading any reply never deadlocks the server. A bad peer (oversize
//! or negative length, garbage, EOF or reset mid-frame) costs only its own
//! connection and one line on stderr. UDP datagrams to the same IP and port
//! are echoed verbatim (RFC 862 style).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use cli::ServerConfig as Config;
use lenframe::{Codec, Error};

#[path = "common/cli.rs"]
mod cli;

/// Bytes of echoes a connection may have queued before its reader waits.
const QUEUE_BUDGET: usize = 4 * 1024 * 1024;
/// Stack size of connection threads: they hold little on the stack.
const STACK: usize = 128 * 1024;

fn main() -> ExitCode {
    let config = match cli::server_config("echo_server", 4096) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let listener = match TcpListener::bind(&config.addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("echo_server: cannot listen on {}: {e}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().expect("bound address");
    match UdpSocket::bind(local) {
        Ok(udp) => {
            thread::spawn(move || udp_echo(udp));
        }
        Err(e) => eprintln!("echo_server: no UDP echo on {local}: {e}"),
    }
    println!("listening on {local}");
    let _ = io::stdout().flush();
    serve(listener, Arc::new(config));
    ExitCode::SUCCESS
}

fn serve(listener: TcpListener, config: Arc<Config>) {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: wait and go on.
                eprintln!("echo_server: accept failed: {e}");
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if active.load(Ordering::SeqCst) >= config.max_conns {
            eprintln!(
                "{peer}: refused, {} connections already open",
                config.max_conns
            );
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (config, active2) = (Arc::clone(&config), Arc::clone(&active));
        let spawned = thread::Builder::new().stack_size(STACK).spawn(move || {
            if let Err(e) = connection(stream, peer, &config) {
                eprintln!("{peer}: {e}");
            }
            active2.fetch_sub(1, Ordering::SeqCst);
        });
        if let Err(e) = spawned {
            eprintln!("{peer}: cannot start a thread: {e}");
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Serves one connection: this thread reads frames, a second thread writes
/// the echoes. Returns the error that ended the connection, if any.
fn connection(stream: TcpStream, peer: SocketAddr, config: &Config) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(config.idle_timeout)?;
    let queue = Arc::new(Queue::default());
    let write_half = stream.try_clone()?;
    let writer = {
        let (queue, codec) = (Arc::clone(&queue), config.codec);
        thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || write_echoes(write_half, codec, &queue))?
    };
    let mut reader = config.codec.new_read(&stream);
    let result = loop {
        match reader.read_frame() {
            Ok(Some(frame)) => {
                if !queue.push(frame) {
                    break Ok(()); // writer gone (peer stopped reading and reset)
                }
            }
            Ok(None) => break Ok(()),
            Err(e) if e.is_retryable() => {
                let stalled = !reader.decoder().is_at_boundary() || !reader.buffer().is_empty();
                if stalled {
                    let secs = config.idle_timeout.unwrap_or_default().as_secs_f64();
                    let msg = format!("stalled mid-frame for {secs}s, closing");
                    break Err(io::Error::new(io::ErrorKind::TimedOut, msg).into());
                }
            }
            Err(e) => break Err(e),
        }
    };
    queue.close();
    if result.is_err() {
        // A bad peer: drop it now rather than wait for its echoes to drain.
        queue.abandon();
        let _ = stream.shutdown(Shutdown::Both);
    }
    let wrote = writer
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("writer panicked").into()));
    if let (Ok(()), Err(e)) = (&result, wrote) {
        eprintln!("{peer}: {e}");
    }
    result
}

/// Writes queued frames, flushing whenever the queue runs dry; at the end
/// (reader done), shuts down the write side so the peer sees EOF after the
/// last echo.
fn write_echoes(stream: TcpStream, codec: Codec, queue: &Queue) -> Result<(), Error> {
    let mut writer = codec.new_write(&stream);
    let result = (|| {
        while let Some(batch) = queue.pop_all() {
            for frame in &batch {
                writer.write_frame(frame)?;
            }
            if queue.is_empty() {
                writer.flush()?;
            }
        }
        writer.flush()
    })();
    if result.is_err() {
        queue.abandon();
        let _ = stream.shutdown(Shutdown::Both);
    } else {
        let _ = stream.shutdown(Shutdown::Write);
    }
    result
}

/// Frames waiting to be echoed, bounded in bytes (a single frame larger
/// than the budget is still admitted when the queue is empty).
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    changed: Condvar,
}

#[derive(Default)]
struct QueueState {
    frames: VecDeque<Bytes>,
    bytes: usize,
    closed: bool,
    abandoned: bool,
}

impl Queue {
    /// Waits for room, then queues `frame`; false if the writer has gone.
    fn push(&self, frame: Bytes) -> bool {
        let mut s = self.state.lock().unwrap();
        while !s.abandoned && s.bytes > 0 && s.bytes + frame.len() > QUEUE_BUDGET {
            s = self.changed.wait(s).unwrap();
        }
        if s.abandoned {
            return false;
        }
        s.bytes += frame.len();
        s.frames.push_back(frame);
        self.changed.notify_all();
        true
    }

    /// Waits for frames and takes them all; `None` once closed and empty.
    fn pop_all(&self) -> Option<VecDeque<Bytes>> {
        let mut s = self.state.lock().unwrap();
        while s.frames.is_empty() && !s.closed && !s.abandoned {
            s = self.changed.wait(s).unwrap();
        }
        if s.frames.is_empty() || s.abandoned {
            return None;
        }
        s.bytes = 0;
        let batch = std::mem::take(&mut s.frames);
        self.changed.notify_all();
        Some(batch)
    }

    fn is_empty(&self) -> bool {
        self.state.lock().unwrap().frames.is_empty()
    }

    fn close(&self) {
        self.state.lock().unwrap().closed = true;
        self.changed.notify_all();
    }

    fn abandon(&self) {
        self.state.lock().unwrap().abandoned = true;
        self.changed.notify_all();
    }
}

fn udp_echo(socket: UdpSocket) {
    let mut buf = vec![0u8; 65536];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, peer)) => {
                if let Err(e) = socket.send_to(&buf[..n], peer) {
                    eprintln!("{peer} (udp): {e}");
                }
            }
            Err(e) => {
                eprintln!("echo_server: udp receive failed: {e}");
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
