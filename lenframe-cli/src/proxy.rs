//! `lenframe proxy --listen ADDR --upstream ADDR`: a man-in-the-middle
//! that logs every frame in each direction, forwarding the bytes as they
//! arrive; with two different header formats it re-frames between them.
//!
//! NOT YET BUILT: the command line is settled, the behaviour is issue 21's
//! work in progress.

use std::process::ExitCode;

use clap::Args as ClapArgs;
use lenframe::{HeaderFormat, DEFAULT_MAX_FRAME_LEN};

use crate::{limits, show};

/// Forward TCP connections to a server and log every frame each way (a
/// framed man-in-the-middle).
#[derive(ClapArgs)]
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

/// Runs `lenframe proxy`.
pub fn run(args: &Args, json: bool) -> ExitCode {
    let _ = (args, json);
    crate::runtime_error("proxy: not built yet (issue 21)")
}
