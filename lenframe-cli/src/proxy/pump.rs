//! One direction of a connection: read what the sender writes, forward it
//! at once, and find the frames in it.
//!
//! Watching (same header format both sides): each read is written as it
//! is, then fed to a [`Watcher`]; a frame's line is logged when its header
//! has arrived, with the payload bytes that came in the same read. When
//! the stream stops parsing, its diagnosis is logged once and the bytes
//! keep flowing unparsed.
//!
//! Translating: each frame's header is replaced by the receiver's header
//! for the same length ([`Codec::header`]), the payload bytes pass as they
//! arrive; what one read gives goes out in one write. A frame the receiver's
//! format cannot carry, a bad header, a stream cut inside a frame: an error
//! that ends the connection.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;

use lenframe::{Codec, Error, MAX_HEADER_LEN};

use super::hint::{other_byte_order, suggestion};
use super::report::{Dir, Frame, Report, Tally, Unparsed};
use crate::watch::{Event, Watcher};

/// Bytes read at a time.
pub const BUF: usize = 64 * 1024;

/// How a direction ended.
pub enum End {
    /// The sender closed between frames (or after the stream stopped
    /// parsing).
    Eof,
    /// The sender closed inside the frame that starts at this offset:
    /// the library's `Truncated` error.
    Cut(u64, Error),
    /// Reading from the sender failed (a reset).
    Read(io::Error),
    /// Writing to the receiver failed (it closed or reset).
    Write(io::Error),
    /// Translating: a frame that cannot be passed on (the library's
    /// error, and a suggestion).
    Bad(String),
}

/// A direction of connection `conn`.
pub struct Pump<'a> {
    pub conn: u64,
    pub dir: Dir,
    pub report: &'a Report,
    /// Frames as the sender writes them (`--max-frame` bounds them).
    pub codec: Codec,
    /// Translating: the receiver's frames.
    pub target: Option<Codec>,
}

/// A frame seen in the current read, waiting for its line.
struct Seen {
    offset: u64,
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    len: u64,
    shown: Vec<u8>,
    sent: Option<lenframe::Header>,
}

impl Pump<'_> {
    /// Forwards `from` to `to` until the sender closes or something fails;
    /// returns what the sender sent and how it ended. Does not shut either
    /// socket down: the caller does.
    pub fn run(&self, mut from: &TcpStream, mut to: &TcpStream) -> (Tally, End) {
        let mut buf = vec![0u8; BUF];
        let mut out = Vec::new();
        let mut watcher = Watcher::new(self.codec);
        let mut tally = Tally::default();
        // The last bytes before the current read: a header cut by a read's
        // end starts there (for the byte-order suggestion).
        let mut recent: Vec<u8> = Vec::with_capacity(2 * MAX_HEADER_LEN);
        let mut seen: Vec<Seen> = Vec::new();
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return (tally, End::Read(e)),
            };
            let piece = &buf[..n];
            let t = self.report.now();
            let start = tally.bytes;
            tally.bytes += n as u64;
            if self.target.is_none() {
                // Forward first: the frames are only looked at.
                if let Err(e) = to.write_all(piece) {
                    return (tally, End::Write(e));
                }
            }
            let was_broken = watcher.is_broken();
            let mut broken = None;
            let mut bad = None;
            out.clear();
            watcher.feed(piece, |event| {
                if bad.is_some() {
                    return;
                }
                match event {
                    Event::Header {
                        offset,
                        header,
                        len,
                    } => {
                        let sent = match self.target.as_ref().map(|c| header_for(c, len)) {
                            Some(Ok(h)) => {
                                out.extend_from_slice(&h);
                                Some(h)
                            }
                            Some(Err(e)) => {
                                bad = Some(self.unfit_message(offset, len, &e));
                                return;
                            }
                            None => None,
                        };
                        let mut copy = [0u8; MAX_HEADER_LEN];
                        copy[..header.len()].copy_from_slice(header);
                        seen.push(Seen {
                            offset,
                            header: copy,
                            header_len: header.len(),
                            len,
                            shown: Vec::new(),
                            sent,
                        });
                    }
                    Event::Payload(bytes) => {
                        if self.target.is_some() {
                            out.extend_from_slice(bytes);
                        }
                        if let Some(s) = seen.last_mut() {
                            let room = self.report.preview().saturating_sub(s.shown.len());
                            s.shown.extend_from_slice(&bytes[..bytes.len().min(room)]);
                        }
                    }
                    Event::Broken { offset, error } => broken = Some((offset, error)),
                }
            });
            tally.frames = watcher.frames();
            for s in seen.drain(..) {
                let frame = Frame {
                    offset: s.offset,
                    header: &s.header[..s.header_len],
                    len: s.len,
                    shown: &s.shown,
                    sent_header: s.sent.as_deref(),
                };
                self.report.frame(self.conn, self.dir, t, &frame);
            }
            if self.target.is_some() {
                // What the read held up to the first bad frame, in one write.
                if let Err(e) = to.write_all(&out) {
                    return (tally, End::Write(e));
                }
            }
            if let Some((offset, error)) = broken {
                let header = header_at(&recent, start, piece, offset);
                let suggest = other_byte_order(&self.codec, &error, &header);
                if self.target.is_some() {
                    return (tally, End::Bad(self.bad_message(offset, &error, suggest)));
                }
                let u = Unparsed {
                    offset,
                    error: &error,
                    suggest: suggest.as_deref(),
                };
                self.report.unparsed(self.conn, self.dir, t, &u);
            }
            if let Some(message) = bad {
                return (tally, End::Bad(message));
            }
            if !was_broken && !watcher.is_broken() {
                keep_recent(&mut recent, piece);
            }
        }
        // The sender closed: inside a frame?
        match watcher.finish() {
            Err((offset, error)) if !watcher.is_broken() => (tally, End::Cut(offset, error)),
            _ => (tally, End::Eof),
        }
    }

    /// The stderr message of a frame the receiver's format cannot carry.
    fn unfit_message(&self, offset: u64, len: u64, error: &Error) -> String {
        let receiver = self.dir.receiver();
        let format = self
            .target
            .map(|c| c.format().to_string())
            .unwrap_or_default();
        format!("a frame of {len} bytes at byte {offset} does not fit the {receiver}'s {format} header: {error}")
    }

    /// The stderr message of a bad header when translating.
    fn bad_message(&self, offset: u64, error: &Error, suggest: Option<String>) -> String {
        let suggest = suggest.map_or(String::new(), |f| {
            format!("; {}", suggestion(self.dir, &f, false))
        });
        format!("bad header at byte {offset}: {error}{suggest}")
    }
}

/// The receiver's header for a payload of `len` bytes.
fn header_for(codec: &Codec, len: u64) -> Result<lenframe::Header, Error> {
    let len = usize::try_from(len).map_err(|_| Error::FrameTooLargeToSend {
        len,
        max: codec.max_frame_len() as u64,
    })?;
    codec.header(len)
}

/// The bytes from stream offset `at` on (a header's worth at most), where
/// `piece` starts at stream offset `start` and `recent` holds the bytes
/// just before it.
fn header_at(recent: &[u8], start: u64, piece: &[u8], at: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(MAX_HEADER_LEN);
    if at < start {
        let back = usize::try_from(start - at).unwrap_or(usize::MAX);
        bytes.extend_from_slice(&recent[recent.len().saturating_sub(back)..]);
    }
    let from = usize::try_from(at.saturating_sub(start)).unwrap_or(usize::MAX);
    let piece = piece.get(from..).unwrap_or_default();
    let room = MAX_HEADER_LEN.saturating_sub(bytes.len());
    bytes.extend_from_slice(&piece[..piece.len().min(room)]);
    bytes
}

/// Keeps the last [`MAX_HEADER_LEN`] bytes of the stream in `recent`.
fn keep_recent(recent: &mut Vec<u8>, piece: &[u8]) {
    if piece.len() >= MAX_HEADER_LEN {
        recent.clear();
        recent.extend_from_slice(&piece[piece.len() - MAX_HEADER_LEN..]);
    } else {
        recent.extend_from_slice(piece);
        let extra = recent.len().saturating_sub(MAX_HEADER_LEN);
        recent.drain(..extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_of_a_header_cut_between_reads_are_found() {
        let mut recent = Vec::new();
        keep_recent(&mut recent, b"\0\0\0\x01x\x05\0");
        // The stream so far: 7 bytes; the next read starts at 7.
        let bytes = header_at(&recent, 7, b"\0\0hello", 5);
        assert_eq!(&bytes[..4], b"\x05\0\0\0");
        let bytes = header_at(&recent, 7, b"\x05\0\0\0hi", 7);
        assert_eq!(&bytes[..4], b"\x05\0\0\0");
        keep_recent(&mut recent, &[9u8; 100]);
        assert_eq!(recent, vec![9u8; MAX_HEADER_LEN]);
    }
}
