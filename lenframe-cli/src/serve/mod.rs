//! `lenframe serve`: a framed TCP echo server, and a UDP echo on the same
//! address.
//!
//! Every TCP frame is echoed back as one frame in the same header format
//! (a fixed-size `struct` integer, or a varint: protobuf's delimited
//! streams, each header as long as its length needs); UDP datagrams to
//! the same IP and port are echoed verbatim (RFC 862 style).
//!
//! # Design
//!
//! An event loop over nonblocking sockets (`mio`): one accepting thread
//! (which also echoes UDP and catches the signals, [`accept`], [`udp`]),
//! `--threads` worker threads (one per core by default, [`worker`]), each
//! serving its share of the connections, and one thread that writes the
//! log lines ([`log`]). A connection is a state, not a thread: lenframe's
//! sans-IO [`FrameDecoder`](lenframe::FrameDecoder) over the bytes read,
//! and the encoded echoes not yet written ([`conn`]). Frames cross in
//! batches: whatever one `read()` brought in is decoded where it lies and
//! its echoes are written with one `write()`; there is no lock, queue or
//! wake-up per frame.
//!
//! # Limits and backpressure
//!
//! * A connection may have `--conn-budget` bytes of echoes pending (8 MiB
//!   by default). A client that pipelines that much before reading any
//!   reply is served in full, whatever its own socket buffers. Past the
//!   budget the server **stops reading that connection** until the peer
//!   reads its echoes: the peer's writes then block (TCP flow control);
//!   nothing more is buffered.
//! * Over all connections, `--max-memory` bytes are buffered (default: a
//!   quarter of the available memory) before the server holds back the
//!   connections that hold the memory: once it is reached, a connection
//!   that holds its fair share (`--max-memory` / open connections) or more
//!   is not read until memory frees or its own peer reads its echoes;
//!   the others read on, up to their share. So clients that never read
//!   cannot stall those that do, and the bound is soft: at most about
//!   twice `--max-memory` (the budget plus a share each). A frame larger
//!   than a share is still served: one paused connection per worker, the
//!   one whose frame in progress needs the fewest bytes, reads on until
//!   that frame is complete, and not a byte further (one silent for a
//!   second gives its turn to another), so a peer that gives up mid-frame
//!   is noticed too. A peer that has closed its side is read to its end.
//!   Connections stalled in the middle of a frame hold their partial
//!   frame: use `--idle-timeout` to free them.
//! * At most `--max-conns` connections are served at once (default: the
//!   open-file limit less a reserve, printed on the `limits:` line). Others
//!   are accepted and closed at once, with one stderr line each; so are
//!   connections that arrive when the process is out of file descriptors.
//!   The server never aborts for lack of resources.
//! * A bad peer (oversize or negative length, garbage, EOF or reset
//!   mid-frame) costs only its own connection and one line on stderr, with
//!   a hint when the other byte order explains its header ([`hint`];
//!   fixed-size headers only, a varint has one byte order).
//!
//! # Output
//!
//! stdout: `listening on ADDR`, then `limits: ...`, then one line per
//! `connected PEER` and `disconnected PEER: N frames, B bytes echoed
//! (REASON)`, and at shutdown the summary. A closed stdout never stops the
//! server.
//!
//! # Shutdown
//!
//! SIGINT or SIGTERM: stop accepting and take no new frame (a frame still
//! incomplete is dropped, uncounted); deliver every echo already made,
//! then half-close (FIN); read and drop what each peer still sends (a
//! client blocked in a long write gets unblocked and can read its echoes)
//! until it closes, or is quiet for 0.3 s with every echo out, as nginx's
//! lingering close does. A socket closed with unread bytes would send an
//! RST, and an RST destroys the echoes still in flight to the peer. 1.5 s
//! after the signal whatever is left is closed (input read and dropped
//! first); the summary follows and the process exits 0 within 2 seconds
//! of the signal. The summary counts the frames whose echoes were written
//! in full, which is what the clients that read to the end receive.

mod accept;
mod conn;
mod event;
mod shared;
mod udp;
mod worker;

use std::io::{self, Write};
use std::net::{TcpListener as StdListener, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use socket2::{Domain, Protocol, Socket, Type};

use crate::log::Log;
use accept::Acceptor;
use event::Event;
pub use shared::Config;
use shared::Shared;
use worker::Msg;

/// Connections the kernel may hold for `accept` (capped by
/// net.core.somaxconn on Linux): with std's 128, a burst of connections
/// overflowed it, and each dropped SYN cost its client a second.
const BACKLOG: i32 = 4096;

const LISTENER: Token = Token(0);
const UDP: Token = Token(1);
const SIGNALS: Token = Token(2);
/// How long the last lines may take to reach stdout and stderr.
const LAST_LINES: Duration = Duration::from_millis(300);

/// Serves until SIGINT or SIGTERM, then prints the summary: exit 0; or
/// exit 1 with one stderr line if it cannot serve at all (the address is
/// taken, no threads).
pub fn run(config: Config) -> ExitCode {
    let log = match Log::start() {
        Ok(log) => log,
        Err(e) => {
            eprintln!("lenframe serve: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shared = Arc::new(Shared::new(config, log));
    let log = &shared.log;
    let result = serve(&shared);
    let exit = match result {
        Ok(()) => {
            shared.say(shared.summary());
            ExitCode::SUCCESS
        }
        Err(message) => {
            log.err(format!("lenframe serve: {message}"));
            ExitCode::FAILURE
        }
    };
    log.sync(LAST_LINES);
    // Straight to stderr: the queue that dropped them may still be full.
    let dropped = log.dropped();
    if dropped > 0 {
        let line =
            format!("lenframe serve: {dropped} log lines dropped (stdout or stderr blocked)");
        let _ = writeln!(io::stderr(), "{line}");
    }
    exit
}

/// A TCP listener on the first address `addr` resolves to that can be
/// bound, with [`BACKLOG`] and `SO_REUSEADDR` (a restart binds the port at
/// once, whatever connections of the last run linger).
fn listen(addr: &str) -> io::Result<StdListener> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        let socket = Socket::new(Domain::for_address(a), Type::STREAM, Some(Protocol::TCP))?;
        #[cfg(unix)]
        socket.set_reuse_address(true)?;
        match socket.bind(&a.into()).and_then(|()| socket.listen(BACKLOG)) {
            Ok(()) => return Ok(socket.into()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address")))
}

/// Listens, serves until a signal, then lets every worker deliver what it
/// holds and close.
fn serve(shared: &Arc<Shared>) -> Result<(), String> {
    let config = &shared.config;
    let std_listener =
        listen(&config.addr).map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let local = std_listener.local_addr().map_err(|e| e.to_string())?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| e.to_string())?;
    let mut poll = Poll::new().map_err(|e| format!("cannot poll: {e}"))?;
    let mut listener = TcpListener::from_std(std_listener);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|e| e.to_string())?;
    let mut udp = match udp::socket(local) {
        Ok(mut socket) => {
            poll.registry()
                .register(&mut socket, UDP, Interest::READABLE)
                .map_err(|e| e.to_string())?;
            Some(socket)
        }
        Err(e) => {
            shared
                .log
                .err(format!("lenframe serve: no UDP echo on {local}: {e}"));
            None
        }
    };
    let mut signals =
        Signals::new([SIGINT, SIGTERM]).map_err(|e| format!("cannot catch signals: {e}"))?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)
        .map_err(|e| e.to_string())?;
    let workers = worker::start_workers(shared)?;
    shared.say(Event::Listening { addr: local });
    shared.say(Event::Limits {
        max_conns: config.max_conns,
        max_frame: config.codec.max_frame_len(),
        conn_budget: config.conn_budget,
        max_memory: config.max_memory,
    });
    let mut acceptor = Acceptor::new(listener, Arc::clone(shared), &workers);
    let mut events = Events::with_capacity(64);
    let mut datagram = vec![0u8; udp::DATAGRAM];
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
                        udp::echo(socket, &mut datagram, &shared.log);
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
            shared.log.err("lenframe serve: a worker panicked".into());
        }
    }
    Ok(())
}
