//! The physical limit of the echo bench (`cargo bench -p lenframe-cli`):
//! an echo server that does not frame at all. For `!I` frames the echo of
//! a frame is its own bytes, so copying every byte back as it arrives is a
//! correct echo server, and no framed server can do less work per byte:
//! its frames/s is the ceiling the framed servers are measured against.
//!
//! One event loop (`mio`, epoll on Linux) per core, connections dealt to
//! them in turn, TCP_NODELAY on; a loop reads what a socket has into a
//! 256 KiB buffer and writes it straight back, keeping only what the
//! socket would not take yet (and reading no more from that connection
//! until it has gone). That is `lenframe serve`'s shape minus the framing.
//! It is the fastest of the obvious designs, measured on a 2-core VM with
//! `lenframe load` on the same cores (medians of 9 rounds, `cargo bench -p
//! lenframe-cli -- pipe --extra NAME=PATH`, several runs each): a thread per
//! connection (blocking `read`/`write_all`) gave 0.85-0.99x these frames/s
//! with 50 connections x 16 B (fifty threads taking turns on two cores)
//! and 0.97-1.12x, within the runs' noise, with 1 connection x 16 B and
//! with 4 x 64 KiB; a single event loop gave 0.94-1.08x with 50
//! connections but 0.69-0.90x with 4 x 64 KiB, where one core copying
//! every byte is the bottleneck.
//!
//! Nothing more: no limits, no logging beyond the `listening on` line, no
//! shutdown handling.
//!
//! ```text
//! cargo run --release -p lenframe-cli --example byte_copy_echo_server -- [--addr HOST:PORT]
//! ```

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{self, TcpListener};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

/// Bytes per read.
const BUF: usize = 256 * 1024;
/// A loop's waker: new connections wait in its channel.
const NEW: Token = Token(usize::MAX);

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:9000".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(a)) => addr = a,
            ("--help" | "-h", _) => {
                println!("usage: byte_copy_echo_server [--addr HOST:PORT]");
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("byte_copy_echo_server: unknown argument {arg:?} (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    let listener = match TcpListener::bind(&addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("byte_copy_echo_server: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let loops = match (0..cores)
        .map(|_| start_loop())
        .collect::<io::Result<Vec<_>>>()
    {
        Ok(loops) => loops,
        Err(e) => {
            eprintln!("byte_copy_echo_server: cannot start an event loop: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().expect("bound address");
    let _ = writeln!(io::stdout(), "listening on {local}");
    for (i, stream) in listener.incoming().flatten().enumerate() {
        let (new, waker) = &loops[i % loops.len()];
        if new.send(stream).is_ok() {
            let _ = waker.wake();
        }
    }
    ExitCode::SUCCESS
}

/// Starts an event loop on its own thread; returns how to hand it a
/// connection.
fn start_loop() -> io::Result<(Sender<net::TcpStream>, Waker)> {
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), NEW)?;
    let (new, incoming) = mpsc::channel();
    thread::Builder::new().spawn(move || event_loop(poll, incoming))?;
    Ok((new, waker))
}

/// A connection and the echoed bytes its socket did not take yet.
struct Conn {
    stream: TcpStream,
    unsent: Vec<u8>,
}

fn event_loop(mut poll: Poll, incoming: Receiver<net::TcpStream>) {
    let mut events = Events::with_capacity(1024);
    let mut conns = HashMap::new();
    let mut next = 0;
    let mut buf = vec![0u8; BUF];
    loop {
        match poll.poll(&mut events, None) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
            Ok(()) => {}
        }
        for event in &events {
            let token = event.token();
            if token == NEW {
                for stream in incoming.try_iter() {
                    let _ = stream.set_nodelay(true);
                    let _ = stream.set_nonblocking(true);
                    let mut stream = TcpStream::from_std(stream);
                    next += 1;
                    let both = Interest::READABLE | Interest::WRITABLE;
                    if poll
                        .registry()
                        .register(&mut stream, Token(next), both)
                        .is_ok()
                    {
                        let unsent = Vec::new();
                        conns.insert(next, Conn { stream, unsent });
                    }
                }
            } else if let Some(conn) = conns.get_mut(&token.0) {
                if !echo(conn, &mut buf) {
                    // Dropping the socket closes it and leaves the poll.
                    conns.remove(&token.0);
                }
            }
        }
    }
}

/// Echoes until the socket would block (true) or the connection is over
/// (false).
fn echo(conn: &mut Conn, buf: &mut [u8]) -> bool {
    loop {
        match copy(conn, buf) {
            Ok(()) => return false,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return e.kind() == ErrorKind::WouldBlock,
        }
    }
}

/// Writes what is unsent, then reads and writes back, until an error
/// (WouldBlock included) or the peer closes (`Ok`).
fn copy(conn: &mut Conn, buf: &mut [u8]) -> io::Result<()> {
    loop {
        while !conn.unsent.is_empty() {
            let n = conn.stream.write(&conn.unsent)?;
            conn.unsent.drain(..n);
        }
        let n = conn.stream.read(buf)?;
        if n == 0 {
            return Ok(());
        }
        let sent = match conn.stream.write(&buf[..n]) {
            Ok(sent) => sent,
            Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        conn.unsent.extend_from_slice(&buf[sent..n]);
    }
}
