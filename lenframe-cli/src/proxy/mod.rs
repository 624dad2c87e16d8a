//! `lenframe proxy --listen ADDR --upstream ADDR`: a man-in-the-middle
//! that logs every frame in each direction, forwarding the bytes as they
//! arrive; with two different header formats it re-frames between them.
//!
//! A thread per direction per connection (a debugging tool, not a
//! server): [`conn`] connects to the upstream and closes both sides
//! together, [`pump`] forwards one direction and finds its frames (with
//! [`crate::watch`]), [`report`] writes the lines (through
//! [`crate::log::Log`], so stdout never slows the forwarding), [`hint`]
//! names the header format of a sender whose header was rejected.

mod conn;
mod hint;
mod pump;
mod report;

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use clap::Args as ClapArgs;
use lenframe::{Codec, HeaderFormat, DEFAULT_MAX_FRAME_LEN};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::log::Log;
use crate::{limits, show};

use conn::Setup;
use report::Report;

/// Forward TCP connections to a server and log every frame each way (a
/// framed man-in-the-middle).
#[derive(ClapArgs)]
#[command(long_about = ABOUT)]
pub struct Args {
    /// Where clients connect (HOST:PORT; port 0 picks a free port, the
    /// first stdout line says which)
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: String,

    /// The server the clients' connections are forwarded to (HOST:PORT)
    #[arg(long, value_name = "HOST:PORT")]
    pub upstream: String,

    /// Header format of both sides (Python struct format or varint)
    #[arg(long, value_name = "FMT", default_value = "!I")]
    pub header: HeaderFormat,

    /// The clients' header format (default: --header)
    #[arg(long, value_name = "FMT")]
    pub client_header: Option<HeaderFormat>,

    /// The server's header format (default: --header)
    #[arg(long, value_name = "FMT")]
    pub server_header: Option<HeaderFormat>,

    /// Largest payload accepted (translating: a larger frame closes the
    /// connection; watching: a larger length stops the parsing)
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME_LEN,
          value_parser = limits::byte_count)]
    pub max_frame: usize,

    /// Payload bytes shown in each frame's line
    #[arg(long, value_name = "BYTES", default_value_t = show::PREVIEW,
          value_parser = limits::byte_count)]
    pub preview: usize,
}

const ABOUT: &str = "\
Forward TCP connections to a server and log every frame each way (a
framed man-in-the-middle).

Every client that connects to --listen gets its own connection to
--upstream; the bytes each side writes are forwarded as they arrive, in
both directions (a frame is forwarded before it is complete), and a side's
close is passed on as a half-close. A reset or an error on one side closes
both. Many connections at once; each line names its connection (#1, #2,
... in the order they were accepted).

stdout gets `listening on ADDR` first, then:
  #3 connected 127.0.0.1:53122
  #3 0.001234 client->server 5 B \"hello\"
  #3 0.001610 server->client 5 B \"hello\"
  #3 closed: client->server 1 frames 9 B, server->client 1 frames 9 B
A frame's line comes when its header has arrived: the time (seconds since
the proxy started), the direction, the payload's length, and a preview of
at most --preview payload bytes that came with the header in the same read
(quoted text, or hex; `...` when there is more). The closed line counts
the frames and bytes (headers included) each side sent, and ends with
`(REASON)` when the connection did not end by both sides closing.

Watching (the same format both ways, --header, default !I): the stream is
never altered. When a direction stops making sense (a header the format
cannot accept), one line gives the library's diagnosis and, when the other
byte order explains the bytes, the flag to try:
  #1 0.000510 client->server stopped parsing at byte 0: frame of 83886080
  bytes exceeds the maximum ...; the client writes little-endian headers:
  try --client-header i (or --header i if the server writes them too);
  forwarding the raw bytes
(one line), and the bytes keep flowing unparsed, so the application keeps
working. A side that closes inside a frame gets `#1 ... ended inside the
frame at byte N: ...`.

Translating (--client-header and --server-header differ): each frame's
header is re-encoded in the receiver's format, so a Python
struct.pack('i') client can talk to a !I server; the payload bytes pass as
they arrive. A frame over --max-frame or too long for the receiver's header
(70000 bytes into H), a bad header, or a side that closes inside a frame is
an error on that connection: one stderr line, both sides closed, the other
connections go on.

An upstream that cannot be reached (10 s to connect): one stderr line, the
client is closed, the proxy goes on serving.

--json: one object per line, each with \"event\":
  {\"event\":\"listening\", \"addr\", \"upstream\", \"client_header\", \"server_header\"}
  {\"event\":\"connected\", \"conn\", \"time_secs\", \"peer\"}
  {\"event\":\"frame\", \"conn\", \"dir\", \"time_secs\", \"offset\", \"len\",
   \"header\" (hex), \"sent_header\" (hex, translating), \"text\"|\"hex\" (the
   previewed bytes), \"shown\" (how many)}
  {\"event\":\"unparsed\", \"conn\", \"dir\", \"time_secs\", \"offset\", \"error\",
   \"suggest\" (e.g. \"--client-header i\", when known)}
  {\"event\":\"truncated\", \"conn\", \"dir\", \"time_secs\", \"offset\", \"error\"}
  {\"event\":\"error\", \"conn\", \"dir\" (if one), \"time_secs\", \"error\"}
  {\"event\":\"closed\", \"conn\", \"time_secs\", \"client_frames\",
   \"client_bytes\", \"server_frames\", \"server_bytes\", \"reason\" (if any)}
\"dir\" is \"client->server\" or \"server->client\"; offsets count the bytes of
that direction's stream. Errors are also one stderr line each.

Lines are written by a thread of their own: a slow or closed stdout
(`| head`) never slows the forwarding; lines that find its queue full are
dropped, and their count is reported on stderr when the proxy ends.
Memory: 64 KiB buffers per direction, whatever lengths the headers claim.
Ctrl-C (SIGINT) or SIGTERM ends it at once.";

/// Runs `lenframe proxy`.
pub fn run(args: &Args, json: bool) -> ExitCode {
    let client_format = args.client_header.unwrap_or(args.header);
    let server_format = args.server_header.unwrap_or(args.header);
    let (client, server) = match (
        codec(client_format, args.max_frame),
        codec(server_format, args.max_frame),
    ) {
        (Ok(c), Ok(s)) => (c, s),
        (Err(message), _) | (_, Err(message)) => return crate::usage_error(&message),
    };
    let upstream = match crate::resolve(&args.upstream) {
        Ok(addr) => addr,
        Err(message) => return crate::runtime_error(&message),
    };
    let listener = match TcpListener::bind(&args.listen) {
        Ok(l) => l,
        Err(e) => return crate::runtime_error(&format!("cannot listen on {}: {e}", args.listen)),
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => return crate::runtime_error(&format!("cannot listen on {}: {e}", args.listen)),
    };
    let log = match Log::start() {
        Ok(log) => log,
        Err(e) => return crate::runtime_error(&format!("cannot start the log thread: {e}")),
    };
    if let Err(message) = exit_on_signal(log.clone()) {
        return crate::runtime_error(&message);
    }
    let report = Report::new(log, json, args.preview);
    report.listening(
        addr,
        upstream,
        &client_format.to_string(),
        &server_format.to_string(),
    );
    let setup = Arc::new(Setup {
        upstream,
        client,
        server,
        translate: !same_wire(client_format, server_format),
        report,
    });
    let mut next = 0u64;
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, most likely: wait for some to close.
                setup
                    .report
                    .log()
                    .err(format!("lenframe: proxy: cannot accept: {e}"));
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        next += 1;
        let conn = next;
        let shared = Arc::clone(&setup);
        let spawned = thread::Builder::new()
            .name(format!("conn {conn}"))
            .spawn(move || conn::serve(&shared, conn, stream, peer));
        if let Err(e) = spawned {
            setup.report.error(
                conn,
                None,
                &format!("cannot start a thread: {e}; closing the client"),
            );
        }
    }
}

/// The codec of one side.
fn codec(format: HeaderFormat, max_frame: usize) -> Result<Codec, String> {
    Codec::builder()
        .format(format)
        .max_frame_len(max_frame)
        .build()
        .map_err(|e| format!("--header {format} --max-frame {max_frame}: {e}"))
}

/// Whether two formats write every length the same way (`!I` and `>I`,
/// `i` and `<i` on a little-endian machine): then the proxy only watches.
fn same_wire(a: HeaderFormat, b: HeaderFormat) -> bool {
    a == b
        || (!a.is_varint()
            && !b.is_varint()
            && a.size() == b.size()
            && a.is_signed() == b.is_signed()
            && (a.size() == 1 || a.is_big_endian() == b.is_big_endian()))
}

/// On SIGINT or SIGTERM: report the lines dropped (if any), exit 0.
fn exit_on_signal(log: Log) -> Result<(), String> {
    let mut signals =
        Signals::new([SIGINT, SIGTERM]).map_err(|e| format!("cannot catch signals: {e}"))?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                log.sync(Duration::from_millis(200));
                let dropped = log.dropped();
                if dropped > 0 {
                    log.err(format!(
                        "lenframe: proxy: {dropped} lines were dropped (stdout did not keep up)"
                    ));
                    log.sync(Duration::from_millis(200));
                }
                std::process::exit(0);
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_that_write_alike_are_watched_not_translated() {
        let f = |s: &str| s.parse::<HeaderFormat>().unwrap();
        assert!(same_wire(f("!I"), f(">I")));
        assert!(same_wire(f("B"), f("<B")));
        assert!(!same_wire(f("!I"), f("<I")));
        assert!(!same_wire(f("!I"), f("!H")));
        assert!(!same_wire(f("!I"), f("!i")));
        assert!(!same_wire(f("varint"), f("!I")));
        assert!(same_wire(f("varint"), f("varint")));
        assert!(!same_wire(f("varint"), f("varint-strict")));
        if cfg!(target_endian = "little") {
            assert!(same_wire(f("i"), f("<i")));
        }
    }
}
