//! A client for `echo_server` (or any length-prefixed echo server), with
//! lenframe's `Framed`.
//!
//! ```text
//! cargo run --example echo_client                          # type lines; each is one frame
//! printf 'jason\nkevin\n' | cargo run --example echo_client
//! cargo run --example echo_client -- --burst 100000 --size 16
//! ```
//!
//! What it teaches:
//!
//! * One socket, two threads (`Framed::try_split`): one thread sends, this
//!   one reads the echoes at the same time, so neither side can fill its
//!   socket buffers and wait for the other, however much is sent.
//! * Each line of stdin is one frame, each echo one line of stdout. At a
//!   terminal a `> ` prompt follows each echo; from a pipe there is none,
//!   so stdout holds only the echoes.
//! * At the end of input (Ctrl-D, or the end of the pipe) the sender
//!   half-closes the connection (`shutdown(Write)`): the server sees the
//!   end of the stream, echoes what it still has, and closes its side,
//!   which ends the reading loop (`read_frame` returns `None`).
//! * `--burst N` makes sticky packets on purpose: N frames encoded into one
//!   buffer and sent with ONE `write_all`; every echo is checked byte for
//!   byte, then `N/N frames echoed intact` is printed.
//! * When the server closes without answering, one line says what most
//!   likely happened: another header format, or a frame over its maximum.

use std::io::{self, BufRead, IsTerminal, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use clap::Parser;
use lenframe::{Codec, Error, FrameReader, FrameWriter, HeaderFormat, DEFAULT_MAX_FRAME_LEN};

/// A client for a length-prefixed echo server: each line of stdin is sent
/// as one frame and each echo printed as one line (with a `> ` prompt when
/// stdin is a terminal); or --burst.
#[derive(Parser)]
struct Args {
    /// Server address
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: String,
    /// Python struct format of the length header (the server's) or varint
    /// (protobuf-delimited)
    #[arg(long, value_name = "FMT", default_value = "!I")]
    header: HeaderFormat,
    /// Largest payload sent or accepted back, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME_LEN)]
    max_frame: usize,
    /// Send N frames in ONE write (sticky packets on purpose) and check
    /// every echo
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    burst: Option<u64>,
    /// Payload size of each --burst frame, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 32, requires = "burst")]
    size: usize,
}

fn main() {
    let args = Args::parse();
    let codec = Codec::builder()
        .format(args.header)
        .max_frame_len(args.max_frame)
        .build()
        .expect("a format and a maximum length always make a valid codec");
    if let (Some(_), Err(err)) = (args.burst, codec.header(args.size)) {
        let size = args.size;
        eprintln!("echo_client: --size {size}: {err}; raise --max-frame, here and on the server");
        std::process::exit(2); // a usage error, found before connecting
    }
    match TcpStream::connect(&args.addr) {
        Ok(stream) => talk(stream, codec, args.burst, args.size),
        Err(err) => fail(format!("cannot connect to {}: {err}", args.addr)),
    }
}

/// This thread sends (the lines of stdin, or the burst) while another one
/// reads the echoes and prints (or checks) them.
fn talk(stream: TcpStream, codec: Codec, burst: Option<u64>, size: usize) {
    let tty = burst.is_none() && io::stdin().is_terminal();
    let Ok((reader, writer)) = codec.new_framed(stream).try_split() else {
        fail("cannot clone the socket for a second thread".into());
    };
    let sent = Arc::new(Sent::default());
    let echoes = {
        let sent = Arc::clone(&sent);
        thread::spawn(move || read_echoes(reader, codec, burst, size, tty, &sent))
    };
    if tty {
        print(b"> ");
    }
    match burst {
        Some(n) => send_burst(writer, n, size, &sent),
        None => send_lines(writer, &sent),
    }
    echoes.join().expect("the reading thread panicked");
    if tty {
        print(b"\n"); // leave the terminal on a new line
    }
    if let Some(n) = burst {
        print(format!("{n}/{n} frames echoed intact\n").as_bytes());
    }
}

/// What the sending thread has done, for the reading one.
#[derive(Default)]
struct Sent {
    frames: AtomicU64,
    all: AtomicBool,
}

/// Sends each line of stdin as one frame (without its `\n` or `\r\n`), then
/// half-closes.
fn send_lines(mut writer: FrameWriter<TcpStream>, sent: &Sent) {
    for line in io::stdin().lock().split(b'\n') {
        let mut line = line.unwrap_or_else(|err| fail(format!("reading stdin: {err}")));
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        // A line over --max-frame is this client's own refusal, not the
        // server's: say so.
        if let Err(err) = writer.codec().header(line.len()) {
            fail(format!(
                "a line of {} bytes: {err}; raise --max-frame, here and on the server",
                line.len()
            ));
        }
        // Counted before the echo can come back.
        sent.frames.fetch_add(1, Ordering::SeqCst);
        // A write fails once the server has closed: the reader says why.
        let written = writer.write_frame(line).and_then(|()| writer.flush());
        if written.is_err() {
            break;
        }
    }
    sent.all.store(true, Ordering::SeqCst);
    let _ = writer.get_ref().shutdown(Shutdown::Write);
}

/// `--burst N`: N frames encoded into one buffer, sent with ONE write.
fn send_burst(mut writer: FrameWriter<TcpStream>, n: u64, size: usize, sent: &Sent) {
    let (codec, mut wire) = (*writer.codec(), Vec::new());
    for i in 0..n {
        let frame = payload(i, size);
        codec
            .encode_to_vec(frame, &mut wire)
            .expect("within the maximum, checked in main");
    }
    sent.frames.store(n, Ordering::SeqCst);
    sent.all.store(true, Ordering::SeqCst);
    // Straight to the socket. If it fails, the server closed: the reader
    // says why.
    let _ = writer.get_mut().write_all(&wire);
    let _ = writer.get_ref().shutdown(Shutdown::Write);
}

/// Reads the echoes until the server closes, printing them (or checking
/// them, for --burst). If the server closes too early, says why and ends
/// the program at once (the other thread may be waiting for stdin).
fn read_echoes(
    mut reader: FrameReader<TcpStream>,
    codec: Codec,
    burst: Option<u64>,
    size: usize,
    tty: bool,
    sent: &Sent,
) {
    let mut got = 0;
    let err = loop {
        match reader.read_frame() {
            Ok(Some(echo)) if burst.is_some() && echo != payload(got, size) => {
                fail(format!("echo {} came back changed", got + 1));
            }
            Ok(Some(_)) if burst.is_some() => {}
            Ok(Some(echo)) => print(&[&echo[..], if tty { b"\n> " } else { b"\n" }].concat()),
            Ok(None) => break None, // the server closed
            Err(err) => break Some(err),
        }
        got += 1;
    };
    let all = sent.all.load(Ordering::SeqCst);
    let sent = sent.frames.load(Ordering::SeqCst);
    if err.is_some() || !all || got < sent {
        let largest = burst.map_or(0, |_| size);
        fail(stopped(got, sent, err, codec, largest));
    }
}

/// Frame `i` of a burst: `size` bytes that differ from frame to frame.
fn payload(i: u64, size: usize) -> Vec<u8> {
    let seed = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..size)
        .map(|j| (seed >> (j % 8 * 8)) as u8 ^ j as u8)
        .collect()
}

/// One line on why the echoes stopped after `got` of `sent` frames: `err`
/// is the read error (`None`: the server closed), `largest` the largest
/// frame sent, if known.
fn stopped(got: u64, sent: u64, err: Option<Error>, codec: Codec, largest: usize) -> String {
    let format = codec.format();
    let closed = format!("the server closed the connection after {got}/{sent} echoes");
    match err {
        // Bytes came back that are not a frame (an HTTP error page, say).
        Some(
            err @ (Error::FrameTooLarge { .. }
            | Error::NegativeLength { .. }
            | Error::BadVarint { .. }),
        ) => {
            format!("echo {} is not a `{format}` frame: {err}", got + 1)
        }
        _ if largest > DEFAULT_MAX_FRAME_LEN => format!(
            "{closed}: its maximum frame may be lower than the {largest} bytes sent (see its --max-frame)"
        ),
        _ if got == 0 => format!(
            "{closed}: it may expect another header format (this client sends `{format}`; \
             give --header the server's)"
        ),
        _ => closed,
    }
}

/// Says what went wrong, on stderr, and ends the program with exit code 1.
fn fail(msg: String) -> ! {
    eprintln!("echo_client: {msg}");
    std::process::exit(1)
}

/// Writes `bytes` to stdout now. Once stdout is closed (`| head`), nobody
/// reads what follows: end quietly, as a program killed by SIGPIPE would.
fn print(bytes: &[u8]) {
    let mut out = io::stdout().lock();
    if out.write_all(bytes).and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}
