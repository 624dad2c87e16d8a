//! `lenframe connect ADDR`: netcat that speaks frames. Each stdin line
//! goes out as one frame; each frame received is printed as one line.
//!
//! NOT YET BUILT: the command line is settled, the behaviour is issue 21's
//! work in progress.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args as ClapArgs, ValueEnum};
use lenframe::{HeaderFormat, DEFAULT_MAX_FRAME_LEN};

use crate::limits;

/// Send stdin lines as frames, print the frames that come back (a framed
/// netcat).
#[derive(ClapArgs)]
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

    /// Give up when nothing arrives for this long
    #[arg(short = 'w', long = "timeout", value_name = "SECS", value_parser = limits::seconds)]
    pub timeout: Option<Duration>,

    /// Exit after N frames received
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

/// Runs `lenframe connect`.
pub fn run(args: &Args, json: bool) -> ExitCode {
    let _ = (args, json);
    crate::runtime_error("connect: not built yet (issue 21)")
}
