//! `lenframe inspect [FILE|-]`: the raw bytes of one direction of a
//! stream (a capture) split into frames, or, with `--guess`, the header
//! formats that split it exactly.
//!
//! NOT YET BUILT: the command line is settled, the behaviour is issue 21's
//! work in progress.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args as ClapArgs;
use lenframe::{HeaderFormat, DEFAULT_MAX_FRAME_LEN};

use crate::{limits, show};

/// Split a capture of one direction of a stream into frames, or guess its
/// header format.
#[derive(ClapArgs)]
pub struct Args {
    /// The raw stream bytes (`-` or nothing: stdin)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Python struct format of the length header, or varint
    #[arg(
        long,
        value_name = "FMT",
        default_value = "!I",
        conflicts_with = "guess"
    )]
    pub header: HeaderFormat,

    /// Try every header format and list those that split the whole input
    /// exactly, most plausible first
    #[arg(long)]
    pub guess: bool,

    /// Largest payload accepted
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME_LEN,
          value_parser = limits::byte_count)]
    pub max_frame: usize,

    /// Payload bytes shown in each frame's line
    #[arg(long, value_name = "BYTES", default_value_t = show::PREVIEW,
          value_parser = limits::byte_count)]
    pub preview: usize,
}

/// Runs `lenframe inspect`.
pub fn run(args: &Args, json: bool) -> ExitCode {
    let _ = (args, json);
    crate::runtime_error("inspect: not built yet (issue 21)")
}
