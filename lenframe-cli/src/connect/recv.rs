//! The receiving half of `lenframe connect`: frames from the server, one
//! stdout line each, until the server closes, `--count` is reached,
//! `--timeout` passes with nothing arriving, or the stream breaks.
//!
//! The [`FrameReader`] never allocates what a header claims (a hostile
//! length costs nothing until its bytes arrive, and a length over
//! `--max-frame` is an error at once). Stdout is flushed whenever no
//! further frame is buffered: the next read may wait, so what was printed
//! shows now; a burst of frames is printed in large writes.

use std::io::{self, BufWriter, ErrorKind, Write};
use std::net::TcpStream;
use std::time::Duration;

use lenframe::{Codec, Error, FrameReader, HeaderFormat};
use serde_json::{Map, Value};

use super::Out;
use crate::show;

/// Why receiving stopped.
pub enum End {
    /// `--count` frames were printed.
    Count,
    /// The server closed the connection between frames.
    Closed,
    /// Nothing arrived for the timeout, between frames.
    Idle,
    /// Stdout is closed (`| head`): nobody reads what follows.
    StdoutClosed,
    /// The stream broke: the message of one stderr line.
    Failed(String),
}

/// Prints frames on stdout, each on one line; at a terminal a `> ` prompt
/// on stderr whenever the frames so far are shown.
pub struct Printer {
    out: BufWriter<io::Stdout>,
    mode: Out,
    prompt: bool,
}

impl Printer {
    pub fn new(mode: Out, prompt: bool) -> Printer {
        Printer {
            out: BufWriter::with_capacity(64 * 1024, io::stdout()),
            mode,
            prompt,
        }
    }

    fn frame(&mut self, payload: &[u8]) -> io::Result<()> {
        match self.mode {
            Out::Text => writeln!(self.out, "{}", show::escape(payload)),
            Out::Hex => writeln!(self.out, "{}", show::hex(payload)),
            Out::Json => writeln!(self.out, "{}", frame_json(payload)),
        }
    }

    /// Shows what was printed (and the prompt).
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.prompt();
        Ok(())
    }

    /// The prompt, at a terminal.
    pub fn prompt(&self) {
        if self.prompt {
            let mut err = io::stderr().lock();
            let _ = err.write_all(b"> ").and_then(|()| err.flush());
        }
    }
}

/// `{"event":"frame","len":N,"text":...}` (or `"hex"` when the payload is
/// not UTF-8).
pub fn frame_json(payload: &[u8]) -> Value {
    let mut object = Map::new();
    object.insert("event".into(), Value::from("frame"));
    object.insert("len".into(), Value::from(payload.len()));
    show::payload_fields(payload, &mut object);
    Value::Object(object)
}

/// What receiving needs besides the reader and the printer.
pub struct Receive<'a> {
    /// The server, for messages.
    pub peer: &'a str,
    /// `--header`, for messages.
    pub header: HeaderFormat,
    pub count: Option<u64>,
    pub timeout: Option<Duration>,
}

/// Reads and prints frames until one of the [`End`]s; returns it and the
/// frames printed.
pub fn receive(
    reader: &mut FrameReader<TcpStream>,
    printer: &mut Printer,
    how: &Receive,
) -> (End, u64) {
    let mut got = 0u64;
    let end = loop {
        match reader.read_frame_ref() {
            Ok(Some(payload)) => {
                if let Err(e) = printer.frame(payload) {
                    break stdout_failed(&e);
                }
                got += 1;
                if how.count == Some(got) {
                    break End::Count;
                }
                if !frame_buffered(reader) {
                    if let Err(e) = printer.flush() {
                        break stdout_failed(&e);
                    }
                }
            }
            Ok(None) => break End::Closed,
            Err(e) => break failure(e, reader, how, got),
        }
    };
    // Whatever was printed before the end stays printed.
    match printer.out.flush() {
        Err(e) if !matches!(end, End::StdoutClosed | End::Failed(_)) => (stdout_failed(&e), got),
        _ => (end, got),
    }
}

/// A write to stdout failed: a closed pipe (`| head`) ends the run
/// quietly; anything else (a full disk) is a failure, or frames would be
/// lost with exit 0.
fn stdout_failed(e: &io::Error) -> End {
    if e.kind() == io::ErrorKind::BrokenPipe {
        End::StdoutClosed
    } else {
        End::Failed(format!("cannot write to stdout: {e}"))
    }
}

/// Whether the reader holds a whole frame already (no read needed).
fn frame_buffered(reader: &FrameReader<TcpStream>) -> bool {
    let buffered = reader.buffer();
    !buffered.is_empty()
        && matches!(reader.decoder().clone().decode_slice(buffered), Ok(d) if d.frame.is_some())
}

/// The end a read error means, after `got` frames.
fn failure(e: Error, reader: &FrameReader<TcpStream>, how: &Receive, got: u64) -> End {
    let peer = how.peer;
    let next = got + 1;
    let codec = reader.decoder().codec();
    match e {
        Error::Io(io) if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            if reader.decoder().is_at_boundary() && reader.buffer().is_empty() {
                End::Idle
            } else {
                let wait = seconds(how.timeout.unwrap_or_default());
                End::Failed(format!(
                    "nothing arrived for {wait} inside frame {next} from {peer}: {io}"
                ))
            }
        }
        Error::Io(io) => End::Failed(format!("reading from {peer} after {got} frames: {io}")),
        e @ Error::Truncated { .. } => End::Failed(format!(
            "{peer} closed the connection inside frame {next}: {e}"
        )),
        e => {
            let format = codec.format();
            let mut message =
                format!("bad frame {next} from {peer} (reading `{format}` frames): {e}");
            match other_order_hint(codec, reader.buffer()) {
                Some(hint) => message.push_str(&hint),
                // A length over the maximum that nothing explains may be
                // a real frame.
                None if matches!(e, Error::FrameTooLarge { .. }) && !message.ends_with(')') => {
                    message.push_str("; raise --max-frame if frames that large are expected");
                }
                None => {}
            }
            End::Failed(message)
        }
    }
}

/// `2 s`, `0.5 s`.
pub fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// If the rejected header at the front of `buffered`, read in the other
/// byte order, says a length within the maximum: which `--header` reads
/// the server's frames. Fixed-size headers of 2 bytes or more only.
fn other_order_hint(codec: &Codec, buffered: &[u8]) -> Option<String> {
    let other = crate::hint::other_byte_order(codec, buffered, None)?;
    let (name, len, flag) = (other.theirs, other.len, other.format);
    Some(format!(
        "; read {name} this header says {len}: if the server writes {name} headers, \
         connect with --header {flag}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_frames() {
        assert_eq!(
            frame_json(b"hi").to_string(),
            r#"{"event":"frame","len":2,"text":"hi"}"#
        );
    }

    #[test]
    fn other_byte_order_hints() {
        let hint = other_order_hint(&Codec::default(), &5u32.to_le_bytes()).unwrap();
        assert!(hint.contains("little-endian this header says 5"), "{hint}");
        assert!(hint.contains("--header i"), "{hint}");
        let codec = Codec::from_format("<H").unwrap();
        let hint = other_order_hint(&codec, &5u16.to_be_bytes()).unwrap();
        assert!(
            hint.contains("--header >H") || hint.contains("--header !H"),
            "{hint}"
        );
        // Text read backwards is no plausible length.
        assert_eq!(other_order_hint(&Codec::default(), b"HTTP/1.1"), None);
        let varint = Codec::from_format("varint").unwrap();
        assert_eq!(other_order_hint(&varint, &[0, 0, 0, 5]), None);
    }
}
