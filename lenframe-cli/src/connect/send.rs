//! The sending half of `lenframe connect`: stdin lines become frames.
//!
//! Lines are split by hand over a 64 KiB stdin buffer so that memory stays
//! within one frame (a line longer than the largest frame is refused as
//! soon as it grows past it, never buffered whole) and so that the frames
//! are flushed exactly when stdin has nothing more buffered: a pipe of
//! 100 000 lines goes out in large writes, a line typed at a terminal goes
//! out at once.

use std::io::{self, BufRead, BufReader, ErrorKind, IsTerminal, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};

use lenframe::FrameWriter;

use super::In;
use crate::show;

/// Bytes of stdin read at once.
const STDIN_BUFFER: usize = 64 * 1024;

/// What the sending thread tells the receiving one (which decides the
/// exit status): set before the half-close, so the receiver, which sees
/// the server close only after it, always finds it.
#[derive(Default)]
pub struct Outcome {
    inner: Mutex<Sent>,
}

#[derive(Default, Clone)]
pub struct Sent {
    /// Frames handed to the socket (flushed or not).
    pub frames: u64,
    /// A bad input line in a pipe: sending stopped there (its message is
    /// already on stderr).
    pub bad_input: bool,
    /// A write failed (the server stopped reading): the line it was.
    pub write_failed: Option<u64>,
}

impl Outcome {
    pub fn get(&self) -> Sent {
        self.inner.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut Sent)) {
        if let Ok(mut sent) = self.inner.lock() {
            f(&mut sent);
        }
    }
}

/// How the payloads are checked: `--in`, and the largest payload.
pub struct Input {
    pub encoding: In,
    /// The largest payload the codec sends.
    pub max: usize,
    /// Why `max` is the limit, for messages: `--max-frame 1024`, or `a <H
    /// header says at most 65535`.
    pub limit_name: String,
    /// stdin is a terminal: a bad line is reported and skipped, not fatal.
    pub interactive: bool,
}

/// Sends every line of `stdin` as one frame, then flushes and half-closes.
/// A bad line (bad hex, too long): one stderr line; at a terminal it is
/// skipped, in a pipe sending stops there (nothing after it is sent) and
/// the connection is half-closed as at the end of input.
pub fn send_lines<R: Read>(
    stdin: R,
    mut writer: FrameWriter<TcpStream>,
    input: Input,
    outcome: &Arc<Outcome>,
) {
    let mut stdin = BufReader::with_capacity(STDIN_BUFFER, stdin);
    let input = Arc::new(input);
    let mut line = Line::new(Arc::clone(&input));
    let mut number = 1u64;
    loop {
        // Nothing more buffered: the next read may wait, so what is
        // written goes out now.
        if stdin.buffer().is_empty() && writer.flush().is_err() {
            outcome.update(|s| s.write_failed = Some(number));
            return;
        }
        let buf = match stdin.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("lenframe: reading stdin: {e}");
                outcome.update(|s| s.bad_input = true);
                break;
            }
        };
        if buf.is_empty() {
            // End of input; a last line without its newline is a line.
            if !line.pending {
                break;
            }
        }
        let (piece, used, ends) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), buf.is_empty()),
        };
        line.push(piece);
        stdin.consume(used);
        if !ends {
            continue;
        }
        let payload = line.finish();
        let this = number;
        number += 1;
        match payload {
            Ok(payload) => {
                if writer.write_frame(&payload).is_err() {
                    outcome.update(|s| s.write_failed = Some(this));
                    return;
                }
                outcome.update(|s| s.frames += 1);
            }
            Err(message) => {
                eprintln!("lenframe: stdin line {this}: {message}");
                if input.interactive && io::stderr().is_terminal() {
                    eprint!("> "); // the line is skipped: type the next
                }
                if !input.interactive {
                    let _ = writer.flush();
                    outcome.update(|s| s.bad_input = true);
                    break;
                }
            }
        }
        if used == 0 {
            break; // the end of input, after its last line
        }
    }
    if writer.flush().is_err() {
        outcome.update(|s| s.write_failed = Some(number));
        return;
    }
    let _ = writer.get_ref().shutdown(Shutdown::Write);
}

/// One input line as it arrives in pieces, decoded into its payload.
struct Line {
    input: Arc<Input>,
    bytes: Vec<u8>,
    /// A hex digit waiting for its pair.
    nibble: Option<u8>,
    /// Hex digits seen.
    digits: u64,
    /// Bytes of the line seen (for the column of a bad one).
    seen: u64,
    /// The first thing wrong with the line, if any.
    error: Option<String>,
    /// Some of the line has been seen.
    pending: bool,
}

impl Line {
    fn new(input: Arc<Input>) -> Line {
        Line {
            input,
            bytes: Vec::new(),
            nibble: None,
            digits: 0,
            seen: 0,
            error: None,
            pending: false,
        }
    }

    fn push(&mut self, piece: &[u8]) {
        self.pending = true;
        if self.error.is_some() {
            self.seen += piece.len() as u64;
            return;
        }
        match self.input.encoding {
            In::Text => {
                if self.bytes.len() + piece.len() > self.input.max {
                    self.too_long();
                } else {
                    self.bytes.extend_from_slice(piece);
                }
            }
            In::Hex => {
                for &b in piece {
                    self.seen += 1;
                    if b.is_ascii_whitespace() {
                        continue;
                    }
                    let Some(value) = hex_value(b) else {
                        self.error = Some(format!(
                            "'{}' (byte {}) is not a hex digit (--in hex: digits 0-9 a-f, \
                             spaces allowed)",
                            show::escape(&[b]),
                            self.seen
                        ));
                        return;
                    };
                    self.digits += 1;
                    match self.nibble.take() {
                        None => self.nibble = Some(value),
                        Some(high) => {
                            if self.bytes.len() == self.input.max {
                                self.too_long();
                                return;
                            }
                            self.bytes.push(high << 4 | value);
                        }
                    }
                }
                return;
            }
        }
        self.seen += piece.len() as u64;
    }

    fn too_long(&mut self) {
        self.error = Some(format!(
            "longer than {} bytes, the largest frame ({}); not sent",
            self.input.max, self.input.limit_name
        ));
    }

    /// The payload of the line, and a fresh line for the next.
    fn finish(&mut self) -> Result<Vec<u8>, String> {
        let done = std::mem::replace(self, Line::new(Arc::clone(&self.input)));
        if let Some(error) = done.error {
            return Err(error);
        }
        if done.nibble.is_some() {
            return Err(format!(
                "an odd number of hex digits ({}): a byte is two digits; not sent",
                done.digits
            ));
        }
        Ok(done.bytes)
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(encoding: In, max: usize) -> Arc<Input> {
        Arc::new(Input {
            encoding,
            max,
            limit_name: "--max-frame".into(),
            interactive: false,
        })
    }

    fn line(encoding: In, max: usize, pieces: &[&[u8]]) -> Result<Vec<u8>, String> {
        let mut line = Line::new(input(encoding, max));
        for piece in pieces {
            line.push(piece);
        }
        line.finish()
    }

    #[test]
    fn text_lines_are_their_bytes() {
        assert_eq!(line(In::Text, 10, &[b"ab\r", b"c"]), Ok(b"ab\rc".to_vec()));
        assert_eq!(line(In::Text, 10, &[]), Ok(vec![]));
        assert_eq!(line(In::Text, 4, &[b"abcd"]), Ok(b"abcd".to_vec()));
        let err = line(In::Text, 4, &[b"abc", b"de"]).unwrap_err();
        assert!(err.contains("longer than 4 bytes"), "{err}");
    }

    #[test]
    fn hex_lines_decode_across_pieces() {
        assert_eq!(
            line(In::Hex, 10, &[b"00 f", b"F\t1", b"0\r"]),
            Ok(vec![0, 0xff, 0x10])
        );
        let err = line(In::Hex, 10, &[b"0a1"]).unwrap_err();
        assert!(err.contains("odd number of hex digits (3)"), "{err}");
        let err = line(In::Hex, 10, &[b"0a zz"]).unwrap_err();
        assert!(err.contains("'z' (byte 4) is not a hex digit"), "{err}");
        let err = line(In::Hex, 10, &[b"0a\xff"]).unwrap_err();
        assert!(err.contains("'\\xff' (byte 3)"), "{err}");
        assert_eq!(line(In::Hex, 2, &[b"0102"]), Ok(vec![1, 2]));
        let err = line(In::Hex, 2, &[b"010203"]).unwrap_err();
        assert!(err.contains("longer than 2 bytes"), "{err}");
    }

    #[test]
    fn a_bad_line_leaves_the_next_one_clean() {
        let mut l = Line::new(input(In::Hex, 10));
        l.push(b"xy");
        assert!(l.finish().is_err());
        l.push(b"41");
        assert_eq!(l.finish(), Ok(b"A".to_vec()));
    }
}
