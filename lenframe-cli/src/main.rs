//! `lenframe`: the command-line tool of the lenframe crate.
//!
//! * `lenframe serve`: a production length-prefixed echo server (an event
//!   loop over nonblocking sockets, with limits, backpressure and a clean
//!   shutdown), see [`serve`].
//! * `lenframe load ADDR`: a load generator for any length-prefixed echo
//!   server (`!I` unless `--header` says otherwise) that checks every echo
//!   and reports latency percentiles, see [`load`] (and [`progress`], its
//!   bar on a terminal).
//! * `lenframe connect ADDR`: netcat that speaks frames, see [`connect`].
//! * `lenframe proxy --listen ADDR --upstream ADDR`: a man-in-the-middle
//!   that logs every frame each way (and re-frames between two header
//!   formats), see [`proxy`].
//! * `lenframe inspect [FILE]`: a capture of one direction split into
//!   frames, or `--guess` its header format, see [`inspect`].
//!
//! [`show`] renders payloads the same way for all three; [`watch`] finds
//! frames in a stream that arrives in pieces, for `proxy` and `inspect`;
//! [`log`] writes stdout and stderr lines from a thread of its own;
//! [`hint`] names the `--header` a peer with the other byte order needs.
//!
//! This file holds the command line (clap) and the dispatch; results go to
//! stdout (JSON Lines with the global `--json`), diagnostics to stderr,
//! usage errors exit 2 with one line.
#![forbid(unsafe_code)]

mod connect;
mod hint;
mod inspect;
mod limits;
mod load;
mod log;
mod progress;
mod proxy;
mod serve;
mod show;
mod watch;

use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand};
use lenframe::{Codec, HeaderFormat, DEFAULT_MAX_FRAME_LEN};

/// Length-prefixed framing on the command line: an echo server, a load
/// generator, and tools to see the frames on the wire.
#[derive(Parser)]
#[command(name = "lenframe", version, propagate_version = true)]
#[command(arg_required_else_help = true, long_about = ABOUT)]
struct Cli {
    /// Stdout lines are JSON objects, one per line (JSON Lines)
    ///
    /// Each object has an "event" key saying what the line reports; see
    /// `lenframe --help`. Goes before or after the command.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

const ABOUT: &str = "\
Length-prefixed framing on the command line: an echo server (serve), a
load generator (load), and tools to see the frames on the wire: a framed
netcat (connect), a logging and translating proxy (proxy), and a capture
splitter and header-format guesser (inspect).

Results go to stdout, diagnostics to stderr (text, one line each); a usage
error exits 2, a failed run 1. A progress bar is drawn on stderr only when
stderr is a terminal.

--json (before or after the command: `lenframe --json load ...` or
`lenframe load --json ...`): every stdout line is one JSON object (JSON
Lines), for scripts and `jq`. Every object has an \"event\" key naming what
the line reports: `load` prints one {\"event\":\"load\", ...} object when the
run ends; `serve` prints one object for each line it prints as text;
`connect`, `proxy` and `inspect` print one object per frame and one per
other line (each command's --help lists them). A payload is a \"text\"
string when it is valid UTF-8, \"hex\" otherwise.
Numbers are plain JSON numbers: times with their unit in the key (`_us`
microseconds, `_secs` seconds), sizes in bytes, counts as integers. stderr
stays text in every mode.";

#[derive(Subcommand)]
enum Command {
    Serve(ServeArgs),
    Load(LoadArgs),
    Connect(connect::Args),
    Proxy(proxy::Args),
    Inspect(inspect::Args),
}

/// Echo length-prefixed frames over TCP (and datagrams over UDP).
#[derive(Args)]
#[command(long_about = SERVE_ABOUT)]
struct ServeArgs {
    /// Address for TCP and UDP (port 0 picks a free port; the first stdout
    /// line says which)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9000")]
    addr: String,

    /// Python struct format of the length header (`!I`, `i`, `<H`, `>Q`,
    /// ...) or varint (protobuf-delimited; varint-strict: minimal varints
    /// only); a peer using struct.pack('i') needs `i`
    #[arg(long, value_name = "FMT", default_value = "!I")]
    header: HeaderFormat,

    /// Largest payload accepted; a larger length closes that connection
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME_LEN,
          value_parser = limits::byte_count)]
    max_frame: usize,

    /// Connections served at once; more are accepted and closed at once
    /// (default: the open-file limit less 32)
    #[arg(long, value_name = "N", default_value_t = limits::default_max_conns(),
          value_parser = limits::at_least_one)]
    max_conns: usize,

    /// Close a peer that stalls this long in the middle of a frame (within
    /// a tenth of it, at most 100 ms, late; default: never)
    #[arg(long, value_name = "SECS", value_parser = limits::seconds,
          allow_negative_numbers = true)]
    idle_timeout: Option<Duration>,

    /// Echoes a connection may have pending before the server stops
    /// reading it until the peer reads them
    #[arg(long, value_name = "BYTES", default_value_t = limits::DEFAULT_CONN_BUDGET,
          value_parser = limits::positive_byte_count)]
    conn_budget: usize,

    /// Bytes buffered over all connections before the server holds back the
    /// connections that hold them (default: a quarter of the available
    /// memory): those holding a fair share (this / open connections) wait
    /// until memory frees or their peer reads; the others are served. A
    /// soft bound: at most about twice this, plus a frame in progress per
    /// worker thread
    #[arg(long, value_name = "BYTES", default_value_t = limits::default_max_memory(),
          value_parser = limits::positive_byte_count)]
    max_memory: usize,

    /// Worker threads (event loops) serving the connections (default: one
    /// per core)
    #[arg(long, value_name = "N", default_value_t = limits::default_threads(),
          value_parser = limits::at_least_one)]
    threads: usize,
}

const SERVE_ABOUT: &str = "\
Echo length-prefixed frames over TCP (and datagrams over UDP).

Every TCP frame comes back as one frame in the same header format (with
`--header varint`, protobuf-delimited streams, each frame's bytes as they
came, a non-minimal varint included); UDP datagrams to the same address
come back as they are. stdout gets
`listening on ADDR` first, then `limits: ...`, then `connected PEER` and
`disconnected PEER: N frames, B bytes echoed (REASON)` for every client. A
peer that sends an oversize or negative length, garbage, or disconnects
mid-frame loses only its own connection, and stderr gets one line saying
what its bytes looked like.

Ctrl-C (SIGINT) or SIGTERM: stop accepting and taking frames (an incomplete
one is dropped), deliver every echo already made, half-close, and read and
drop what each peer still sends until it closes or is quiet for 0.3 s, so
that no close turns into a reset that destroys echoes in flight; 1.5 s
after the signal the rest are closed. Then a `shutdown: ...` summary (the
frames whose echoes were written in full: what clients that read to the
end receive) and exit 0, within 2 s of the signal.

BYTES take a K, M or G suffix (powers of 1024).

Platforms: Unix (it catches SIGINT and SIGTERM through a signal pipe; it
does not build on Windows). The defaults of --max-conns and --max-memory
are read from /proc on Linux (the open-file limit, MemAvailable). Elsewhere
/proc is absent and the fallbacks apply: --max-conns 1048576, so the real
bound is the open-file limit (a connection past it is accepted and closed
at once, with one stderr line, and the server goes on), and --max-memory
1 GiB. Give both flags there.";

/// Drive a length-prefixed echo server and check every echo.
#[derive(Args)]
#[command(long_about = LOAD_ABOUT)]
struct LoadArgs {
    /// The echo server (HOST:PORT)
    #[arg(value_name = "ADDR")]
    addr: String,

    /// Python struct format of the length header (`!I`, `i`, `<H`, `>Q`,
    /// ...) or varint (protobuf-delimited; varint-strict sends the same
    /// bytes): the server's
    #[arg(long, value_name = "FMT", default_value = "!I")]
    header: HeaderFormat,

    /// Connections, each with its own writer and reader threads
    #[arg(long, value_name = "C", value_parser = limits::at_least_one)]
    conns: usize,

    /// Frames per connection
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    frames: u64,

    /// Payload bytes of every frame
    #[arg(long, value_name = "BYTES", default_value = "16", value_parser = limits::byte_count)]
    size: usize,

    /// One frame in flight per connection; the latency is every round trip
    #[arg(long)]
    pingpong: bool,

    /// Largest --size accepted (what the server accepts: `lenframe serve`
    /// takes 8388608 unless told otherwise)
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME_LEN,
          value_parser = limits::byte_count)]
    max_frame: usize,
}

const LOAD_ABOUT: &str = "\
Drive a length-prefixed echo server and check every echo.

C connections to ADDR, each pipelining N frames of --size bytes from a
writer thread while a reader thread checks every echoed byte. With
--pingpong each connection keeps one frame in flight instead. The frames
are `!I` (4-byte big-endian length, then the payload), what `lenframe
serve` speaks by default, or what --header says: `--header varint` sends
protobuf-delimited frames (an unsigned LEB128 length, in its shortest
form, then the payload), for `lenframe serve --header varint`.

One stdout line when the run ends: frames per second, and the latency's
p50, p90, p99, p99.9 and max (an HdrHistogram, 3 significant figures).
Ping-pong: every round trip, from writing a frame to reading the last byte
of its echo. Pipelined: one sample per write of up to 64 KiB, from
handing it to the socket (waiting for room included) to reading the echo
of its last byte. With --json the line is
  {\"event\":\"load\", \"mode\":\"pipelined\"|\"pingpong\", \"header\", \"conns\",
   \"frames\", \"size\", \"frames_echoed\", \"elapsed_secs\", \"frames_per_sec\",
   \"latency_samples\", \"p50_us\", \"p90_us\", \"p99_us\", \"p999_us\", \"max_us\"}

A progress bar on stderr while it runs, only when stderr is a terminal.
An echo that differs, a server that closes early or does not answer
within 30 s: one stderr line, exit 1.";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(&e),
    };
    match cli.command {
        Command::Serve(args) => match serve_config(args, cli.json) {
            Ok(config) => serve::run(config),
            Err(message) => usage_error(&message),
        },
        Command::Load(args) => run_load(&args, cli.json),
        Command::Connect(args) => connect::run(&args, cli.json),
        Command::Proxy(args) => proxy::run(&args, cli.json),
        Command::Inspect(args) => inspect::run(&args, cli.json),
    }
}

/// The server's settings (`json`: the global `--json`); an error is a
/// usage error.
fn serve_config(args: ServeArgs, json: bool) -> Result<serve::Config, String> {
    let codec = Codec::builder()
        .format(args.header)
        .max_frame_len(args.max_frame)
        .build()
        .map_err(|e| {
            format!(
                "--header {} --max-frame {}: {e}",
                args.header, args.max_frame
            )
        })?;
    Ok(serve::Config {
        addr: args.addr,
        codec,
        max_conns: args.max_conns,
        idle_timeout: args.idle_timeout,
        conn_budget: args.conn_budget,
        max_memory: args.max_memory,
        threads: args.threads,
        json,
    })
}

/// Checks `--size` against `--header` and `--max-frame`, resolves ADDR,
/// runs the load (a bar on a terminal's stderr) and prints its one line,
/// JSON if `json`.
fn run_load(args: &LoadArgs, json: bool) -> ExitCode {
    let codec = match load_codec(args.header, args.size, args.max_frame) {
        Ok(codec) => codec,
        Err(message) => return usage_error(&message),
    };
    let addr = match resolve(&args.addr) {
        Ok(addr) => addr,
        Err(message) => return runtime_error(&message),
    };
    let plan = load::Plan {
        addr,
        codec,
        conns: args.conns,
        frames: args.frames,
        size: args.size,
        ping_pong: args.pingpong,
    };
    let result = progress::frames(plan.total_frames(), plan.frame_len(), |checked| {
        load::run(&plan, checked)
    });
    match result {
        Ok(report) if json => say(&report.json(&plan).to_string()),
        Ok(report) => say(&report.summary(&plan)),
        Err(message) => runtime_error(&message),
    }
}

/// The codec of `--header` and `--max-frame`. Refuses a `--size` before
/// connecting: a server would only close the connection, and the run
/// would fail with a bare "Broken pipe".
fn load_codec(header: HeaderFormat, size: usize, max_frame: usize) -> Result<Codec, String> {
    // usize -> u64 is lossless.
    if size as u64 > header.max_value() {
        return Err(format!(
            "--size {size}: a {header} header says at most {} bytes",
            header.max_value()
        ));
    }
    if size > max_frame {
        return Err(format!(
            "--size {size} is over --max-frame {max_frame}: raise --max-frame here, and on the server"
        ));
    }
    let codec = Codec::builder()
        .format(header)
        .max_frame_len(max_frame)
        .build()
        .map_err(|e| format!("--header {header} --max-frame {max_frame}: {e}"))?;
    codec
        .header(size)
        .map_err(|e| format!("--size {size}: {e}"))?;
    Ok(codec)
}

pub(crate) fn resolve(addr: &str) -> Result<SocketAddr, String> {
    match addr.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(addr)) => Ok(addr),
        Ok(None) => Err(format!("cannot resolve {addr}: no address")),
        Err(e) => Err(format!("cannot resolve {addr}: {e}")),
    }
}

/// Prints a result line. A closed stdout (`| head`) is not an error: the
/// line had nowhere to go, and the program ends quietly with 0.
pub(crate) fn say(line: &str) -> ExitCode {
    let _ = writeln!(io::stdout(), "{line}");
    ExitCode::SUCCESS
}

/// A failure at run time: one stderr line, exit 1.
pub(crate) fn runtime_error(message: &str) -> ExitCode {
    eprintln!("lenframe: {message}");
    ExitCode::FAILURE
}

/// A usage error: one stderr line, exit 2.
pub(crate) fn usage_error(message: &str) -> ExitCode {
    eprintln!("lenframe: {message} (try --help)");
    ExitCode::from(2)
}

/// `--help` and `--version` print to stdout and exit 0 (quietly if stdout
/// is closed); `lenframe` alone prints the help to stderr and exits 2;
/// any other error is a usage error on one line.
fn clap_error(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => usage_error(&one_line(&e.to_string())),
    }
}

/// clap's error message on one line: its paragraphs (`; ` between them)
/// but the usage and the pointer to --help, each line trimmed, without the
/// `error: ` prefix.
fn one_line(rendered: &str) -> String {
    rendered
        .split("\n\n")
        .filter(|p| !p.starts_with("Usage:") && !p.starts_with("For more information"))
        .map(|p| {
            let lines: Vec<&str> = p.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            lines.join(" ")
        })
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
        .trim_start_matches("error: ")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn clap_errors_fit_one_line() {
        let rendered = "error: the following required arguments were not provided:\n  \
                        --conns <C>\n  --frames <N>\n\nUsage: lenframe load --conns <C> \
                        --frames <N> <ADDR>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(rendered),
            "the following required arguments were not provided: --conns <C> --frames <N>"
        );
        let rendered = "error: unexpected argument '--adr' found\n\n  tip: a similar argument \
                        exists: '--addr'\n\nUsage: lenframe serve --addr <HOST:PORT>\n\n\
                        For more information, try '--help'.\n";
        assert_eq!(
            one_line(rendered),
            "unexpected argument '--adr' found; tip: a similar argument exists: '--addr'"
        );
    }
}
