//! A client for `echo_server`.
//!
//! ```text
//! cargo run --release --example echo_client -- [--addr HOST:PORT] [--header FMT]
//! cargo run --release --example echo_client -- --burst N [--size BYTES]
//! ```
//!
//! Interactive (default): each stdin line, newline stripped, is one frame;
//! each echoed frame prints as one line. An empty line is an empty frame.
//! At the end of stdin the remaining replies are printed and the client
//! exits 0.
//!
//! `--burst N`: N frames of varied content written back to back in ONE
//! write (sticky packets on purpose), N replies read and compared byte for
//! byte. Prints `N/N frames echoed intact`, or what went wrong and exits 1.

use std::io::{self, BufRead, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::thread;

use lenframe::{Codec, Error, HeaderFormat};

#[path = "common/cli.rs"]
mod cli;

const USAGE: &str =
    "usage: echo_client [--addr HOST:PORT] [--header FMT] [--burst N [--size BYTES]]
  --addr HOST:PORT   server address (default 127.0.0.1:9000)
  --header FMT       Python struct format of the length header (default !I)
  --burst N          send N frames in one write, check the N echoes, report
  --size BYTES       payload size of each burst frame (default 32)";

struct Config {
    addr: String,
    codec: Codec,
    burst: Option<usize>,
    size: usize,
}

fn parse_args() -> Result<Config, ExitCode> {
    cli::parse_cli("echo_client", USAGE, |flags| {
        let mut addr = "127.0.0.1:9000".to_owned();
        let mut format = HeaderFormat::default();
        let mut burst = None;
        let mut size = 32;
        while let Some(flag) = flags.next_flag() {
            match flag.as_str() {
                "--addr" => addr = flags.value(&flag)?,
                "--header" => format = flags.value(&flag)?,
                "--burst" => burst = Some(flags.value(&flag)?),
                "--size" => size = flags.value(&flag)?,
                other => return Err(cli::unknown(other)),
            }
        }
        let codec = Codec::builder()
            .format(format)
            .max_frame_len(usize::MAX)
            .build()
            .map_err(|e| e.to_string())?;
        if size > codec.max_frame_len() {
            return Err(format!("--size {size} exceeds what {format} can carry"));
        }
        Ok(Config {
            addr,
            codec,
            burst,
            size,
        })
    })
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let stream = match TcpStream::connect(&config.addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("echo_client: cannot connect to {}: {e}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    let result = match config.burst {
        Some(n) => burst(stream, &config, n),
        None => interactive(stream, config.codec),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_client: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Frame `i` of a burst: `size` bytes that differ from frame to frame.
fn burst_frame(i: usize, size: usize) -> Vec<u8> {
    let seed = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..size)
        .map(|j| (seed >> ((j % 8) * 8)) as u8 ^ j as u8)
        .collect()
}

fn burst(stream: TcpStream, config: &Config, n: usize) -> Result<(), Error> {
    let mut wire = Vec::new();
    for i in 0..n {
        config
            .codec
            .encode_to_vec(&burst_frame(i, config.size), &mut wire)?;
    }
    // Read replies concurrently so a big burst cannot fill both directions.
    let read_half = stream.try_clone()?;
    let codec = config.codec;
    let size = config.size;
    let checker = thread::spawn(move || -> Result<usize, String> {
        let mut reader = codec.new_read(read_half);
        for i in 0..n {
            match reader.read_frame() {
                Ok(Some(frame)) if frame[..] == burst_frame(i, size)[..] => {}
                Ok(Some(frame)) => {
                    return Err(format!(
                        "frame {i} came back changed ({} bytes)",
                        frame.len()
                    ));
                }
                Ok(None) => return Err(format!("server closed after {i}/{n} frames")),
                Err(e) => return Err(format!("after {i}/{n} frames: {e}")),
            }
        }
        Ok(n)
    });
    (&stream).write_all(&wire)?; // ONE write: every frame stuck together
    let _ = stream.shutdown(Shutdown::Write);
    match checker.join().expect("checker thread") {
        Ok(got) => {
            println!("{got}/{n} frames echoed intact");
            Ok(())
        }
        Err(msg) => Err(io::Error::other(msg).into()),
    }
}

fn interactive(stream: TcpStream, codec: Codec) -> Result<(), Error> {
    let read_half = stream.try_clone()?;
    let printer = thread::spawn(move || -> Result<(), Error> {
        let stdout = io::stdout();
        for frame in codec.new_read(read_half) {
            let frame = frame?;
            let mut out = stdout.lock();
            out.write_all(&frame)?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
        Ok(())
    });
    let mut writer = codec.new_write(&stream);
    for line in io::stdin().lock().split(b'\n') {
        let mut line = line?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        writer.write_frame(&line)?;
        writer.flush()?;
    }
    writer.flush()?;
    let _ = stream.shutdown(Shutdown::Write); // the server echoes the rest, then closes
    printer.join().expect("printer thread")
}
