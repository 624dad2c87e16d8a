//! A client for `echo_server`.
//!
//! ```text
//! cargo run --release --example echo_client -- [--addr HOST:PORT] [--header FMT] [--max-frame BYTES]
//! cargo run --release --example echo_client -- --burst N [--size BYTES]
//! cargo run --release --example echo_client -- --conns C --frames N [--size BYTES] [--pingpong]
//! ```
//!
//! Interactive (default): each stdin line, newline stripped, is one frame;
//! each echoed frame prints as one line. An empty line is an empty frame.
//! When stdin is a terminal the client shows a `> ` prompt on stdout and
//! waits for each echo before the next prompt (as the tutorials' clients
//! do). When stdin is a pipe or a file there is no prompt: lines are sent
//! as they are read and stdout holds only the echoes, one per line, so it
//! can be compared or parsed. At the end of stdin the remaining replies are
//! printed and the client exits 0.
//!
//! `--burst N`: N frames of varied content written back to back in ONE
//! write (sticky packets on purpose), N replies read and compared byte for
//! byte. Prints `N/N frames echoed intact`, or what went wrong and exits 1.
//!
//! `--conns C --frames N`: a load generator for any `!I` echo server. C
//! connections, each a writer thread pipelining N frames of `--size` bytes
//! (default 16) and a reader thread checking every echoed byte; prints
//! frames/s. With `--pingpong` each connection keeps one frame in flight and
//! the client prints the round trips' p50 and p99. (`echo_bench` runs the
//! same load against the three example servers side by side.)
//!
//! When the server closes the connection before answering everything, the
//! client says what most likely happened: another header format (the
//! server read a length it refused), or a frame over the server's maximum.
//! A frame over this client's own `--max-frame` is refused before
//! connecting. Flags that make no sense together exit 2 with one line.

use std::io::{self, BufRead, IsTerminal, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::thread;

use lenframe::{Codec, Error, HeaderFormat, DEFAULT_MAX_FRAME_LEN};

#[path = "common/cli.rs"]
mod cli;
#[path = "common/load.rs"]
mod load;

const USAGE: &str = "usage: echo_client [--addr HOST:PORT] [--header FMT] [--max-frame BYTES] [--burst N [--size BYTES]]
       echo_client [--addr HOST:PORT] --conns C --frames N [--size BYTES] [--pingpong]
  --addr HOST:PORT    server address (default 127.0.0.1:9000)
  --header FMT        Python struct format of the length header (default !I, as echo_server)
  --max-frame BYTES   largest payload sent or accepted back (default 8388608, as echo_server)
  --burst N           send N frames in one write, check the N echoes, report
  --size BYTES        payload size of each burst or load frame (default 32 for --burst,
                      16 for --conns)
  --conns C           load mode (!I frames): C connections, each pipelining --frames N
                      frames from a writer thread while a reader thread checks every echo;
                      prints frames/s
  --frames N          frames per connection in load mode
  --pingpong          load mode with one frame in flight per connection: prints the
                      round trips' p50 and p99
Without --burst, each line of stdin is one frame and each echo prints as one
line. On a terminal a \"> \" prompt is shown and each line waits for its echo;
from a pipe or file there is no prompt and stdout holds only the echoes.";

struct Config {
    addr: String,
    codec: Codec,
    burst: Option<usize>,
    size: usize,
    /// Load mode: connections, frames per connection, ping-pong.
    load: Option<(usize, u64, bool)>,
}

fn parse_args() -> Result<Config, ExitCode> {
    cli::parse_cli("echo_client", USAGE, |flags| {
        let mut addr = "127.0.0.1:9000".to_owned();
        let mut format = HeaderFormat::default();
        let mut max_frame = DEFAULT_MAX_FRAME_LEN;
        let mut burst = None;
        let mut size = None;
        let mut conns: Option<usize> = None;
        let mut frames: Option<u64> = None;
        let mut pingpong = false;
        let mut header_given = false;
        while let Some(flag) = flags.next_flag() {
            match flag.as_str() {
                "--addr" => addr = flags.value(&flag)?,
                "--header" => {
                    format = flags.value(&flag)?;
                    header_given = true;
                }
                "--conns" => conns = Some(flags.value(&flag)?),
                "--frames" => frames = Some(flags.value(&flag)?),
                "--pingpong" => pingpong = true,
                "--max-frame" => max_frame = flags.value(&flag)?,
                "--burst" => burst = Some(flags.value(&flag)?),
                "--size" => size = Some(flags.value::<usize>(&flag)?),
                other => return Err(cli::unknown(other)),
            }
        }
        let load = match (conns, frames) {
            (Some(c), Some(n)) => {
                if c == 0 || n == 0 {
                    return Err("--conns and --frames need at least 1".into());
                }
                if burst.is_some() {
                    return Err("--burst and --conns are two different modes: give one".into());
                }
                if header_given && format != HeaderFormat::default() {
                    return Err("load mode (--conns) speaks !I frames only".into());
                }
                Some((c, n, pingpong))
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err("load mode needs both --conns C and --frames N".into())
            }
            (None, None) if pingpong => {
                return Err("--pingpong is a load mode: give --conns C --frames N too".into())
            }
            (None, None) => None,
        };
        match (burst, size) {
            (None, Some(_)) if load.is_some() => {}
            (None, Some(_)) => {
                return Err(
                    "--size sets the size of --burst frames: give --burst N too \
                            (interactive frames are the lines you type)"
                        .into(),
                )
            }
            (Some(0), _) => return Err("--burst 0 sends nothing: give at least 1".into()),
            _ => {}
        }
        let codec = Codec::builder()
            .format(format)
            .max_frame_len(max_frame)
            .build()
            .map_err(|e| e.to_string())?;
        let size = size.unwrap_or(if load.is_some() { 16 } else { 32 });
        // Refuse locally, before connecting: a server would only close the
        // connection, and the client would see a bare "Broken pipe".
        if let Err(e) = codec.header(size) {
            let why = if size as u64 > format.max_value() {
                format!("a `{format}` header cannot express it")
            } else {
                format!(
                    "raise --max-frame here, and on the server (the default echo_server takes at most {DEFAULT_MAX_FRAME_LEN})"
                )
            };
            return Err(format!("--size {size}: {e}; {why}"));
        }
        Ok(Config {
            addr,
            codec,
            burst,
            size,
            load,
        })
    })
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    if let Some((conns, frames, pingpong)) = config.load {
        return run_load(&config, conns, frames, pingpong);
    }
    let stream = match TcpStream::connect(&config.addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("echo_client: cannot connect to {}: {e}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    let result = match config.burst {
        Some(n) => burst(stream, &config, n),
        None if io::stdin().is_terminal() => prompted(stream, &config),
        None => piped(stream, &config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("echo_client: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Load mode: drives the server and prints one line of results.
fn run_load(config: &Config, conns: usize, frames: u64, pingpong: bool) -> ExitCode {
    use std::net::ToSocketAddrs;
    let addr = match config.addr.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(addr)) => addr,
        Ok(None) | Err(_) => {
            eprintln!("echo_client: cannot resolve {}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    let size = config.size;
    let run = if pingpong {
        load::ping_pong(addr, conns, frames, size)
    } else {
        load::pipelined(addr, conns, frames, size)
    };
    match run {
        Ok(report) if pingpong => {
            cli::say!(
                "{conns} x {frames} round trips of {size} B: {:.0} frames/s, p50 {:.1} us, p99 {:.1} us",
                report.frames_per_sec(),
                report.percentile(50.0).as_secs_f64() * 1e6,
                report.percentile(99.0).as_secs_f64() * 1e6,
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            cli::say!(
                "{conns} x {frames} frames of {size} B pipelined, every echo checked: {:.0} frames/s in {:.3} s",
                report.frames_per_sec(),
                report.elapsed.as_secs_f64(),
            );
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("echo_client: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// How reading the replies ended early.
enum Ended {
    /// The server closed (or reset) the connection after `got` replies.
    Closed { got: usize },
    /// The server closed the connection inside reply `got + 1`.
    Cut { got: usize, err: Error },
    /// Reply `got + 1` does not parse as a frame in this client's format.
    Unparsable { got: usize, err: Error },
    /// Reply `got + 1` is not what was sent.
    Changed { got: usize, len: usize },
    /// Any other failure.
    Failed { got: usize, err: Error },
}

/// Sorts a read error after `got` good replies.
fn ended_by(err: Error, got: usize) -> Ended {
    match err {
        Error::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            ) =>
        {
            Ended::Closed { got }
        }
        err @ Error::Io(_) => Ended::Failed { got, err },
        err @ Error::Truncated { .. } => Ended::Cut { got, err },
        err => Ended::Unparsable { got, err },
    }
}

/// One line that says what happened and, when it can, why.
/// `sent` frames were sent, the largest of `largest` bytes.
fn explain(ended: Ended, sent: usize, largest: usize, codec: &Codec) -> String {
    let format = codec.format();
    let closed = |got: usize, detail: String| {
        let mut msg = format!("server closed the connection after {got}/{sent} frames");
        if got == 0 {
            msg.push_str(" without answering");
        }
        msg.push_str(&detail);
        if largest > DEFAULT_MAX_FRAME_LEN {
            msg.push_str(&format!(
                ": its maximum frame may be lower than the {largest} bytes sent \
                 (the default echo_server takes at most {DEFAULT_MAX_FRAME_LEN}; see its --max-frame)"
            ));
        } else if got == 0 && format != HeaderFormat::default() {
            msg.push_str(&format!(
                ": it may expect another header format (this client sends `{format}`; \
                 the default echo_server reads `{}`)",
                HeaderFormat::default()
            ));
        } else if got == 0 {
            msg.push_str(&format!(
                ": it may expect another header format (this client sends `{format}`; \
                 use --header with the server's format)"
            ));
        }
        msg
    };
    match ended {
        Ended::Closed { got } => closed(got, String::new()),
        Ended::Cut { got, err } => closed(got, format!(" in the middle of a reply ({err})")),
        Ended::Unparsable { got: 0, err } => {
            format!("the first bytes the server sent back do not parse as a `{format}` frame: {err}")
        }
        Ended::Unparsable { got, err } => format!(
            "after {got}/{sent} good replies, the next bytes do not parse as a `{format}` frame: {err}"
        ),
        Ended::Changed { got, len } => format!("frame {got} came back changed ({len} bytes)"),
        Ended::Failed { got, err } => format!("after {got}/{sent} frames: {err}"),
    }
}

/// Frame `i` of a burst: `size` bytes that differ from frame to frame.
fn burst_frame(i: usize, size: usize) -> Vec<u8> {
    let seed = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..size)
        .map(|j| (seed >> ((j % 8) * 8)) as u8 ^ j as u8)
        .collect()
}

fn burst(stream: TcpStream, config: &Config, n: usize) -> Result<(), String> {
    let mut wire = Vec::new();
    for i in 0..n {
        config
            .codec
            .encode_to_vec(burst_frame(i, config.size), &mut wire)
            .map_err(|e| e.to_string())?;
    }
    // Read replies concurrently so a big burst cannot fill both directions.
    let read_half = stream.try_clone().map_err(|e| e.to_string())?;
    let codec = config.codec;
    let size = config.size;
    let checker = thread::spawn(move || -> Result<usize, Ended> {
        let mut reader = codec.new_read(read_half);
        for i in 0..n {
            match reader.read_frame() {
                Ok(Some(frame)) if frame[..] == burst_frame(i, size)[..] => {}
                Ok(Some(frame)) => {
                    return Err(Ended::Changed {
                        got: i,
                        len: frame.len(),
                    })
                }
                Ok(None) => return Err(Ended::Closed { got: i }),
                Err(e) => return Err(ended_by(e, i)),
            }
        }
        Ok(n)
    });
    // ONE write: every frame stuck together.
    let written = (&stream).write_all(&wire);
    if written.is_err() {
        // The connection is dead: make sure the checker sees its end.
        let _ = stream.shutdown(Shutdown::Both);
    } else {
        let _ = stream.shutdown(Shutdown::Write);
    }
    match checker.join().expect("checker thread") {
        Ok(got) => {
            cli::say!("{got}/{n} frames echoed intact");
            Ok(())
        }
        // The reading side knows best why the server stopped; a failed
        // write (Broken pipe, Connection reset) only says that it did.
        Err(ended) => Err(explain(ended, n, size, &config.codec)),
    }
}

/// Stdin from a terminal: prompt, send one line, wait for its echo.
fn prompted(stream: TcpStream, config: &Config) -> Result<(), String> {
    let codec = config.codec;
    let mut reader = codec.new_read(&stream);
    let mut writer = codec.new_write(&stream);
    let stdin = io::stdin();
    let mut sent = 0;
    let mut largest = 0;
    loop {
        prompt("> ");
        let mut line = Vec::new();
        if stdin
            .lock()
            .read_until(b'\n', &mut line)
            .map_err(|e| e.to_string())?
            == 0
        {
            prompt("\n"); // end of input (Ctrl-D): leave the terminal on a new line
            break;
        }
        strip_newline(&mut line);
        if let Err(e) = codec.header(line.len()) {
            eprintln!("echo_client: line not sent: {e}");
            continue;
        }
        let sent_ok = writer.write_frame(&line).and_then(|()| writer.flush());
        sent += 1;
        largest = largest.max(line.len());
        let reply = match sent_ok {
            Ok(()) => reader.read_frame(),
            // Broken pipe: the server is gone; its reply (if any) says why.
            Err(_) => reader.read_frame().and(Ok(None)),
        };
        match reply {
            Ok(Some(frame)) => print_line(&frame).map_err(|e| e.to_string())?,
            Ok(None) => {
                return Err(explain(
                    Ended::Closed { got: sent - 1 },
                    sent,
                    largest,
                    &codec,
                ))
            }
            Err(e) => return Err(explain(ended_by(e, sent - 1), sent, largest, &codec)),
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

/// Stdin from a pipe or file: lines go out as they are read, echoes print
/// as they come back; no prompt.
fn piped(stream: TcpStream, config: &Config) -> Result<(), String> {
    let codec = config.codec;
    let read_half = stream.try_clone().map_err(|e| e.to_string())?;
    let printer = thread::spawn(move || -> Result<usize, Ended> {
        let mut got = 0;
        for frame in codec.new_read(read_half) {
            let frame = frame.map_err(|e| ended_by(e, got))?;
            print_line(&frame).map_err(|e| Ended::Failed { got, err: e.into() })?;
            got += 1;
        }
        Ok(got)
    });
    let mut writer = codec.new_write(&stream);
    let mut sent = 0;
    let mut largest = 0;
    let mut failure = None;
    for line in io::stdin().lock().split(b'\n') {
        let mut line = match line {
            Ok(line) => line,
            Err(e) => {
                failure = Some(format!("reading stdin: {e}"));
                break;
            }
        };
        strip_newline(&mut line);
        if let Err(e) = codec.header(line.len()) {
            failure = Some(format!("line {} not sent: {e}", sent + 1));
            break;
        }
        sent += 1;
        largest = largest.max(line.len());
        if writer
            .write_frame(&line)
            .and_then(|()| writer.flush())
            .is_err()
        {
            // The server closed: the printer's side says why.
            break;
        }
    }
    let _ = writer.flush();
    // The server echoes the rest, then closes.
    let _ = stream.shutdown(Shutdown::Write);
    let replies = printer.join().expect("printer thread");
    if let Some(msg) = failure {
        return Err(msg);
    }
    match replies {
        Ok(got) if got == sent => Ok(()),
        Ok(got) => Err(explain(Ended::Closed { got }, sent, largest, &codec)),
        Err(ended) => Err(explain(ended, sent, largest, &codec)),
    }
}

fn strip_newline(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
}

/// Writes `text` to stdout now (no newline added).
fn prompt(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// One echo as one line.
fn print_line(frame: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(frame)?;
    out.write_all(b"\n")?;
    out.flush()
}
