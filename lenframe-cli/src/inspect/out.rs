//! stdout for `inspect`: buffered lines, flushed before each read (so a
//! live stdin shows its frames as they come), and a closed stdout
//! (`| head`) turned into a quiet stop.

use std::io::{self, BufWriter, ErrorKind, StdoutLock, Write};

use serde_json::Value;

use super::Stop;

/// Where the lines go.
pub struct Out {
    w: BufWriter<StdoutLock<'static>>,
    /// `--json`: objects, not text.
    pub json: bool,
}

impl Out {
    pub fn new(json: bool) -> Out {
        Out {
            w: BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
            json,
        }
    }

    /// Writes one line.
    pub fn line(&mut self, line: &str) -> Result<(), Stop> {
        self.w
            .write_all(line.as_bytes())
            .and_then(|()| self.w.write_all(b"\n"))
            .map_err(stop)
    }

    /// Writes one JSON object as a line.
    pub fn object(&mut self, object: &Value) -> Result<(), Stop> {
        self.line(&object.to_string())
    }

    /// Hands what is buffered to stdout.
    pub fn flush(&mut self) -> Result<(), Stop> {
        self.w.flush().map_err(stop)
    }

    /// The last flush, at the end of the run.
    pub fn finish(&mut self) -> Result<(), Stop> {
        self.flush()
    }
}

fn stop(e: io::Error) -> Stop {
    if e.kind() == ErrorKind::BrokenPipe {
        Stop::StdoutClosed
    } else {
        Stop::Stdout(e)
    }
}
