//! `lenframe connect ADDR`: netcat that speaks frames. Each stdin line
//! goes out as one frame; each frame received is printed as one line.
//!
//! Two threads share the socket: [`send`] turns stdin lines into frames
//! (flushing whenever stdin has nothing more buffered, half-closing at its
//! end), while this one runs [`recv`], which prints the frames and decides
//! how the run ends, so a large pipe to an echoing server cannot deadlock.
//! The exit status: 0 when the server closes between frames, `--count`
//! is reached, or `--timeout` passes between frames without `--count`; 1
//! for a refused connection, a broken stream (one stderr line with the
//! library's diagnosis), a bad input line in a pipe, or a `--count` not
//! reached; 2 for a usage error.

mod recv;
mod send;

use std::io::{self, ErrorKind, IsTerminal};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use clap::{Args as ClapArgs, ValueEnum};
use lenframe::{Codec, HeaderFormat, DEFAULT_MAX_FRAME_LEN};

use crate::limits;
use recv::{End, Printer, Receive};
use send::{Input, Outcome};

/// Send stdin lines as frames, print the frames that come back (a framed
/// netcat).
#[derive(ClapArgs)]
#[command(long_about = ABOUT)]
pub struct Args {
    /// The server (HOST:PORT)
    #[arg(value_name = "ADDR")]
    pub addr: String,

    /// Python struct format of the length header (`!I`, `i`, `<H`, ...)
    /// or varint: the server's
    #[arg(long, value_name = "FMT", default_value = "!I")]
    pub header: HeaderFormat,

    /// Largest payload sent or accepted
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME_LEN,
          value_parser = limits::byte_count)]
    pub max_frame: usize,

    /// How a stdin line becomes a payload
    #[arg(long = "in", value_name = "ENC", value_enum, default_value_t = In::Text)]
    pub input: In,

    /// How a received frame is printed (--json: json)
    #[arg(long = "out", value_name = "ENC", value_enum)]
    pub output: Option<Out>,

    /// Give up when nothing arrives for this long (also bounds the
    /// connect); exit 0 between frames without --count, 1 otherwise
    #[arg(short = 'w', long = "timeout", value_name = "SECS", value_parser = limits::seconds)]
    pub timeout: Option<Duration>,

    /// Exit 0 after N frames received (stdin still open or not); 1 if the
    /// server closes or --timeout passes before
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
}

/// `--in`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum In {
    /// The line's bytes, without its newline
    Text,
    /// Hex digits (spaces allowed): `00ff 10`
    Hex,
}

/// `--out`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum Out {
    /// The payload as one line, what is not printable escaped (`\xNN`)
    Text,
    /// The payload in hex
    Hex,
    /// One JSON object per frame: {"event":"frame","len":N,"text"|"hex":...}
    Json,
}

const ABOUT: &str = "\
Send stdin lines as frames, print the frames that come back (a framed
netcat).

Each stdin line, without its \\n, goes out as one frame in the --header
format (`!I` by default: a 4-byte big-endian length, then the payload).
--in text (default): the line's bytes exactly (a \\r is kept); --in hex:
hex digits, spaces ignored (`68 69` sends `hi`). Frames are written as
lines come and flushed whenever stdin has nothing more buffered: a typed
line goes out at once, a pipe in large writes. Sending and receiving run
at the same time, so a large pipe to an echo server cannot deadlock.

Each frame received is one stdout line: --out text (default) prints the
payload with what is not printable UTF-8 escaped (\\n, \\r, \\t, \\0, \\\\,
\\xNN for other bytes, \\u{85} for other control characters), so a frame
is always one line; --out hex prints lowercase hex; --out json (or
the global --json) prints one object per frame:
  {\"event\":\"frame\",\"len\":N,\"text\":\"...\"}   (UTF-8 payloads)
  {\"event\":\"frame\",\"hex\":\"...\",\"len\":N}    (others)
Nothing else goes to stdout: notes and errors go to stderr. When stdin is
a terminal, a `> ` prompt is written to stderr (if it is a terminal too);
never in a pipe.

At the end of stdin the connection is half-closed (the server sees the
end of the stream) and the replies still coming are printed; the run ends
when the server closes. Exit status:
  0  the server closed between frames (before or after the end of stdin,
     as nc); --count N frames were printed (the connection is closed then,
     stdin open or not); -w passed with nothing arriving, between frames
     and without --count (a note on stderr)
  1  the connection failed (refused, unresolvable, no answer within -w);
     the stream broke: bytes that are not frames of --header (an HTTP
     server, a little-endian peer read as `!I`: the message says which
     --header would read it), a frame over --max-frame, the server closing
     or -w passing inside a frame; the server closing or -w passing before
     --count frames; a bad input line; the connection reset (a server
     that closes with input of ours unread resets it, and replies still
     in flight are lost); stdout not writable (a full disk; a closed pipe,
     `| head`, is exit 0): one stderr line each, frames printed before
     it stay printed
  2  a usage error
A server that closes without replying to any frame sent is exit 0, as
with nc (a one-way protocol ends that way), with a note on stderr: it is
also what a server reading another header format does.
A bad input line (hex that is not hex or has an odd number of digits, a
line longer than the largest frame) is never sent: in a pipe, sending
stops there and the connection is half-closed as at the end of stdin (the
replies to the lines before it are printed, then exit 1); at a terminal
the line is skipped and you can type the next one.

Memory stays within a frame or two: a header claiming gigabytes costs
only the bytes that actually arrive (a length over --max-frame is an error
at once). A closed stdout
(`| head -1`) ends the run quietly.";

/// Runs `lenframe connect` (`json`: the global `--json`).
pub fn run(args: &Args, json: bool) -> ExitCode {
    let output =
        match (json, args.output) {
            (true, Some(out)) if out != Out::Json => return crate::usage_error(
                "--json prints frames as JSON objects: it cannot go with --out text or --out hex",
            ),
            (true, _) => Out::Json,
            (false, out) => out.unwrap_or(Out::Text),
        };
    let codec = match Codec::builder()
        .format(args.header)
        .max_frame_len(args.max_frame)
        .build()
    {
        Ok(codec) => codec,
        Err(e) => {
            let (header, max) = (args.header, args.max_frame);
            return crate::usage_error(&format!("--header {header} --max-frame {max}: {e}"));
        }
    };
    let stream = match connect(&args.addr, args.timeout) {
        Ok(stream) => stream,
        Err(message) => return crate::runtime_error(&message),
    };
    let peer = stream
        .peer_addr()
        .map_or_else(|_| args.addr.clone(), |a| a.to_string());
    if let Err(e) = stream.set_read_timeout(args.timeout) {
        return crate::runtime_error(&format!("setting the timeout on {peer}: {e}"));
    }
    let (mut reader, writer) = match codec.new_framed(stream).try_split() {
        Ok(halves) => halves,
        Err(e) => return crate::runtime_error(&format!("cannot share the socket: {e}")),
    };
    let interactive = io::stdin().is_terminal();
    let input = Input {
        encoding: args.input,
        max: codec.max_frame_len(),
        limit_name: limit_name(args.header, args.max_frame, codec.max_frame_len()),
        interactive,
    };
    let outcome = Arc::new(Outcome::default());
    let sending = Arc::clone(&outcome);
    let sender = thread::Builder::new()
        .name("send".into())
        .spawn(move || send::send_lines(io::stdin(), writer, input, &sending));
    if let Err(e) = sender {
        return crate::runtime_error(&format!("cannot start the sending thread: {e}"));
    }
    let mut printer = Printer::new(output, interactive && io::stderr().is_terminal());
    printer.prompt();
    let how = Receive {
        peer: &peer,
        header: args.header,
        count: args.count,
        timeout: args.timeout,
    };
    let (end, got) = recv::receive(&mut reader, &mut printer, &how);
    if interactive && io::stderr().is_terminal() {
        eprintln!(); // off the prompt's line
    }
    // The sending thread may still wait for stdin: returning ends it.
    verdict(end, got, &how, &outcome.get())
}

/// The exit status of a run that ended with `end` after `got` frames
/// (one stderr line when it failed, or a note).
fn verdict(end: End, got: u64, how: &Receive, sent: &send::Sent) -> ExitCode {
    let peer = how.peer;
    let wait = recv::seconds(how.timeout.unwrap_or_default());
    match (end, how.count) {
        (End::StdoutClosed, _) => return ExitCode::SUCCESS,
        (End::Failed(message), _) => return crate::runtime_error(&message),
        (End::Closed, Some(n)) if got < n => {
            return crate::runtime_error(&format!(
                "{peer} closed the connection after {got} of {n} frames (--count {n})"
            ))
        }
        (End::Idle, Some(n)) => {
            return crate::runtime_error(&format!(
                "nothing arrived for {wait}: {got} of {n} frames received (--count {n})"
            ))
        }
        (End::Idle, None) => {
            eprintln!("lenframe: nothing arrived for {wait}: closing after {got} frames");
        }
        (End::Closed, _) => {
            if got == 0 && sent.frames > 0 && !sent.bad_input {
                // What a server reading another format does (serve, the
                // examples): the length it misreads is over its maximum.
                let n = sent.frames;
                eprintln!(
                    "lenframe: {peer} closed the connection without a reply to the {n} \
                     frame{} sent: a server that reads another header format than `{}` \
                     (--header) or takes smaller frames closes like this",
                    if n == 1 { "" } else { "s" },
                    how.header
                );
            }
            if let (Some(line), false) = (sent.write_failed, sent.bad_input) {
                eprintln!(
                    "lenframe: {peer} closed the connection before taking all of stdin \
                     (a write failed at line {line})"
                );
            }
        }
        (End::Count, _) => {}
    }
    if sent.bad_input {
        ExitCode::FAILURE // its line is on stderr already
    } else {
        ExitCode::SUCCESS
    }
}

/// Connects to the first address of `addr` that answers, each attempt
/// bounded by `timeout`; the error is one line naming `addr`.
fn connect(addr: &str, timeout: Option<Duration>) -> Result<TcpStream, String> {
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?
        .collect();
    let mut last = None;
    for a in &addrs {
        let attempt = match timeout {
            Some(t) => TcpStream::connect_timeout(a, t),
            None => TcpStream::connect(a),
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    let Some(e) = last else {
        return Err(format!(
            "cannot connect to {addr}: it resolves to no address"
        ));
    };
    let why = match e.kind() {
        ErrorKind::ConnectionRefused => " (is a server listening there?)".to_owned(),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            format!(
                " (no answer within {})",
                recv::seconds(timeout.unwrap_or_default())
            )
        }
        _ => String::new(),
    };
    Err(format!("cannot connect to {addr}: {e}{why}"))
}

/// What limits a payload, for the messages on a line too long.
fn limit_name(header: HeaderFormat, asked: usize, max: usize) -> String {
    if asked > max {
        format!("a {header} header says at most {max}")
    } else {
        format!("--max-frame {max}")
    }
}
