//! A framed TCP echo server, with a UDP echo on the same port: the Python
//! socket tutorials' connection loop (连接循环) and communication loop
//! (通信循环), in Rust, with lenframe's `Framed` and a thread per
//! connection.
//!
//! ```text
//! cargo run --example echo_server                    # 127.0.0.1:9000, !I headers
//! cargo run --example echo_server -- --header i      # peers that send struct.pack('i', n)
//! cargo run --example echo_server -- --header varint # protobuf writeDelimitedTo peers
//! cargo run --example echo_server -- --help
//! ```
//!
//! What it teaches:
//!
//! * The communication loop is `while let Some(frame) = framed.recv()?`:
//!   `recv` returns exactly one frame however TCP cut or merged the bytes,
//!   and `None` when the peer closed between two frames (Python's `b''`).
//!   `feed` only buffers the echo: the echoes of frames that arrived
//!   together leave in one `write()`, before `recv` waits for more bytes.
//! * A peer that sends a bad header (too long, negative, an HTTP request,
//!   the wrong byte order) gets an error from `recv`; the server prints it
//!   on stderr, closes that connection only, and goes on serving the rest.
//!   The error's message already says what the bytes looked like.
//! * `--idle-timeout SECS` is a read and write timeout on the socket: when
//!   it fires between frames with every echo written, the peer is idle and
//!   is kept; inside a frame, or with echoes the peer does not read, the
//!   peer stalled and is dropped.
//! * UDP keeps message boundaries by itself: a datagram is echoed as it is,
//!   with no header (the tutorials' UDP lesson).
//!
//! stdout: `listening on ADDR`, then `connected PEER` and `disconnected
//! PEER: ...` lines. stderr: one line per refused or misbehaving peer.
//! Ctrl-C ends it, as the tutorials' servers end.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use clap::Parser;
use lenframe::bytes::Bytes;
use lenframe::{Codec, Framed, HeaderFormat};

/// A framed TCP echo server (one thread per connection), with a UDP echo on
/// the same port.
#[derive(Parser)]
struct Args {
    /// Address for TCP and UDP (port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: String,
    /// Python struct format of the length header (peers that send
    /// struct.pack('i', n) need i) or varint (protobuf-delimited)
    #[arg(long, value_name = "FMT", default_value = "!I")]
    header: HeaderFormat,
    /// Largest payload accepted, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = lenframe::DEFAULT_MAX_FRAME_LEN)]
    max_frame: usize,
    /// Connections served at once; more are refused
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_conns: usize,
    /// Drop a peer that stalls this long inside a frame or without reading
    /// its echoes (idle peers between frames are kept)
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    idle_timeout: Option<Duration>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // A thread and a socket per connection: 10,000 sockets need more than
    // the usual soft limit of 1,024 open files, so raise it to the hard one.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let listener = match TcpListener::bind(&args.addr) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("echo_server: cannot listen on {}: {err}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    match UdpSocket::bind(addr) {
        Ok(udp) => drop(thread::spawn(move || udp_echo(udp))),
        Err(err) => eprintln!("echo_server: no UDP echo on {addr}: {err}"),
    }
    // Both sockets are bound: say where (a script may wait for this line).
    let mut out = io::stdout();
    let _ = writeln!(out, "listening on {addr}").and_then(|()| out.flush());
    let codec = Codec::builder()
        .format(args.header)
        .max_frame_len(args.max_frame)
        .build()
        .expect("a format and a maximum length always make a valid codec");
    serve(listener, codec, &args);
    ExitCode::SUCCESS
}

/// The connection loop: accepts forever, a thread per connection.
fn serve(listener: TcpListener, codec: Codec, args: &Args) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let (conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                // E.g. out of file descriptors: wait for some to close.
                eprintln!("accept: {err}");
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if open.fetch_add(1, Ordering::SeqCst) >= args.max_conns {
            open.fetch_sub(1, Ordering::SeqCst);
            eprintln!(
                "{peer}: refused: {} connections open (--max-conns)",
                args.max_conns
            );
            continue; // dropping `conn` closes it
        }
        let (idle_timeout, place) = (args.idle_timeout, Arc::clone(&open));
        // Small stacks: a connection needs little, and 10,000 threads with
        // the default 2 MiB each would reserve 20 GB of address space.
        let spawned = thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || connection(conn, peer, codec, idle_timeout, &place));
        if let Err(err) = spawned {
            eprintln!("{peer}: refused: cannot start a thread: {err}");
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Serves one connection, saying when it starts and how it ended, and
/// frees its place.
fn connection(
    conn: TcpStream,
    peer: SocketAddr,
    codec: Codec,
    idle_timeout: Option<Duration>,
    open: &AtomicUsize,
) {
    say(&format!("connected {peer}"));
    let mut frames = 0;
    let end = match echo(conn, codec, idle_timeout, &mut frames) {
        Ok(()) => "peer closed",
        Err(err) if err.is_retryable() => {
            let secs = idle_timeout.unwrap_or_default().as_secs_f64();
            eprintln!(
                "{peer}: stalled for {secs}s, inside a frame or not reading its echoes \
                 (--idle-timeout): {err}"
            );
            "stalled, see stderr"
        }
        Err(err) => {
            eprintln!("{peer}: {err}");
            "error, see stderr"
        }
    };
    open.fetch_sub(1, Ordering::SeqCst); // its place is free
    say(&format!(
        "disconnected {peer}: {frames} frames echoed ({end})"
    ));
}

/// The communication loop of one connection: echoes every frame until the
/// peer closes, counting them in `frames`.
fn echo(
    conn: TcpStream,
    codec: Codec,
    idle_timeout: Option<Duration>,
    frames: &mut u64,
) -> lenframe::Result<()> {
    // The same timeout on writes: a peer that stops reading its echoes
    // makes write() wait once the socket buffers are full.
    conn.set_read_timeout(idle_timeout)?;
    conn.set_write_timeout(idle_timeout)?;
    let mut framed = codec.new_framed(conn);
    while let Some(frame) = recv(&mut framed)? {
        // `feed` buffers: the echoes of frames that arrived together go out
        // in one write(), before `recv` waits for more.
        framed.feed(frame)?;
        *frames += 1;
    }
    Ok(()) // the peer closed between two frames
}

/// `framed.recv()`, waiting on when the read timeout fires while the peer
/// is idle: between frames, with every echo taken, a peer may send the next
/// frame whenever it likes. A timeout inside a frame, or with echoes the
/// peer has not taken, is an error: the peer stalled.
fn recv(framed: &mut Framed<TcpStream>) -> lenframe::Result<Option<Bytes>> {
    loop {
        match framed.recv() {
            Err(err) if err.is_retryable() && is_idle(framed) => continue,
            result => return result,
        }
    }
}

/// Between frames (nothing of the next one read) and every echo written.
fn is_idle(framed: &Framed<TcpStream>) -> bool {
    framed.decoder().is_at_boundary()
        && framed.read_buffer().is_empty()
        && framed.write_buffer().is_empty()
}

/// UDP needs no framing: each datagram is one message. Echo it as it is.
fn udp_echo(socket: UdpSocket) {
    let mut buf = vec![0; 65_536];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, peer)) => {
                let _ = socket.send_to(&buf[..n], peer);
            }
            Err(err) => {
                eprintln!("udp: {err}");
                thread::sleep(Duration::from_millis(100)); // no busy loop
            }
        }
    }
}

/// Prints one line on stdout. A closed stdout (`| head`) is no reason to
/// stop serving, so errors are ignored.
fn say(line: &str) {
    let _ = writeln!(io::stdout(), "{line}");
}

/// Parses `--idle-timeout`: seconds, fractions allowed, more than zero.
fn seconds(arg: &str) -> Result<Duration, String> {
    let secs: f64 = arg.parse().map_err(|err| format!("{err}"))?;
    match Duration::try_from_secs_f64(secs) {
        Ok(timeout) if !timeout.is_zero() => Ok(timeout),
        _ => Err("expected a number of seconds above 0".into()),
    }
}
