//! `FrameDecoder`: the one sans-IO state machine that every adapter drives.
//!
//! This module needs neither `std` nor an allocator: the borrowed-slice
//! face (`decode_slice`, `frames`) and the streaming face work on any
//! target. The `BytesMut` face lives in `buffered` (feature `alloc`), the
//! `frames` iterator and its fast path in `slice_frames`.

#[cfg(feature = "alloc")]
mod buffered;
mod slice_frames;

pub use slice_frames::SliceFrames;

use crate::codec::{Codec, Oversize};
use crate::error::{Fault, FramePart, Result};
use crate::varint;

/// Splits a byte stream into frames without doing any I/O: bytes in, frames
/// out. Every adapter of this crate ([`FrameReader`](crate::FrameReader),
/// the async codecs of features `tokio` and `futures-io`) drives this one
/// state machine.
///
/// It has three faces over the same state:
///
/// * [`decode`](Self::decode): `BytesMut` in, zero-copy [`Bytes`](bytes::Bytes) frames out
///   (feature `alloc`, on by default)
///   (the frame shares the buffer's memory).
/// * [`decode_slice`](Self::decode_slice): `&[u8]` in, borrowed `&[u8]`
///   frames out, no allocation at all.
/// * [`begin_stream`](Self::begin_stream) /
///   [`consume_stream`](Self::consume_stream): a frame too large to buffer
///   passes through in pieces, its progress kept by the same machine.
///
/// Every way, the caller owns the buffer, and the decoder never copies or
/// allocates for it: memory grows with what the caller buffers, never with
/// what a header claims. [`needed`](Self::needed) says how many more bytes
/// the next frame needs, so an I/O layer can read just enough.
///
/// # Examples
///
/// Two frames that arrived stuck together and split in odd places:
///
/// ```
/// # #[cfg(feature = "alloc")]
/// # fn main() -> Result<(), lenframe::Error> {
/// use bytes::BytesMut;
/// use lenframe::FrameDecoder;
///
/// let mut dec = FrameDecoder::default();
/// let mut buf = BytesMut::from(&b"\0\0\0\x05hel"[..]);
/// assert_eq!(dec.decode(&mut buf)?, None); // need more
/// assert_eq!(dec.needed(buf.len()), 2);
/// buf.extend_from_slice(b"lo\0\0\0\x02hi");
/// assert_eq!(dec.decode(&mut buf)?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(dec.decode(&mut buf)?.as_deref(), Some(&b"hi"[..]));
/// assert_eq!(dec.decode_eof(&mut buf)?, None); // clean end
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "alloc"))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    codec: Codec,
    state: State,
}

/// The outcome of [`FrameDecoder::decode_slice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// How many bytes of the input the decoder is done with; the caller
    /// drops them before the next call.
    pub consumed: usize,
    /// The frame, if one was complete. It is the last part of the consumed
    /// bytes: `input[consumed - frame.len()..consumed]`. `None` with
    /// `consumed == 0` means the decoder needs more input; `None` with
    /// `consumed > 0` means it discarded bytes of an oversize frame
    /// ([`Oversize::Skip`]) or the unread rest of an abandoned streamed
    /// frame: drop them and call again.
    pub frame: Option<&'a [u8]>,
}

/// The outcome of [`FrameDecoder::begin_stream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streamed {
    /// How many bytes at the front of the input the decoder is done with;
    /// the caller drops them before anything else.
    pub consumed: usize,
    /// `Some(n)`: a streamed frame of `n` bytes starts right after the
    /// consumed bytes. They are the bytes [`FrameDecoder::decode`] would
    /// return for it (header bytes beyond
    /// [`num_skip`](crate::Codec::num_skip), then the payload); report each
    /// piece handed on with [`FrameDecoder::consume_stream`]. `None` with
    /// `consumed == 0`: more input is needed; `None` with `consumed > 0`:
    /// bytes were discarded, call again.
    pub frame_len: Option<u64>,
}

// Maintainer notes: the state machine.
//
// The caller's buffer always starts at a frame boundary while in `Head` or
// `Body`: a frame is consumed only once all of it is buffered, so a
// partial frame is never split across two buffers and frames that keep
// part of their header (`num_skip` < header_len) need no copying.
//
//   Head --(header_len bytes buffered, length ok)------------> Body { header, end }
//   Head --(length > max, Oversize::Skip; error returned)----> Pass (discard)
//   Head --(any other bad header; error returned)-----------> Failed(fault)
//   Head | Body --(begin_stream, length ok for its limit)----> Pass (stream)
//   Body { .. } --(end bytes buffered; frame returned)-------> Head
//   Pass { remaining } --(bytes passed on or discarded)-----> Pass | Head
//   Failed(fault): every call returns the same error again.
//
// `Pass` is a frame whose bytes go through without ever being buffered
// whole: an oversize frame discarded under `Oversize::Skip`, or a streamed
// frame whose pieces the caller reports with `consume_stream`. A streamed
// frame abandoned part-way (its reader dropped) is simply discarded by
// the next `decode`/`decode_slice`/`begin_stream` call, like a skip.
//
// `Body::end` is header length + payload length (fits usize: the codec
// clamps max_frame_len below usize::MAX - header_len). `Body::header` is
// this frame's header length: header_len, or a varint's own length.
//
// `Pass::remaining` counts every byte of the frame not yet passed, header
// bytes included, and can exceed u64 (a `Q` header declaring 2^64-1 plus
// the header), so it is a u128. End of stream (`end_of_stream`) is clean only in `Head` with
// nothing buffered; anything else is `Truncated`.
//
// A varint header (`codec.head_min` is usize::MAX) always leaves `step`'s
// fixed-size path for `step_varint`, which reads it afresh from the front
// of the buffer until it is whole (at most 10 bytes, so re-reading a
// header split across reads costs nothing worth keeping state for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body {
        header: usize,
        end: usize,
    },
    Pass {
        remaining: u128,
        /// The frame's declared payload length, for truncation reports.
        payload: u64,
        /// A streamed frame (vs an oversize frame being discarded).
        streaming: bool,
    },
    Failed(Fault),
}

/// One step of the machine over a buffer.
enum Step {
    Frame { start: usize, end: usize },
    Discard(usize),
    Need,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(Codec::default())
    }
}

impl FrameDecoder {
    /// A decoder for `codec`, waiting for the first header.
    pub fn new(codec: Codec) -> FrameDecoder {
        FrameDecoder {
            codec,
            state: State::Head,
        }
    }

    /// The configuration.
    pub fn codec(&self) -> &Codec {
        &self.codec
    }

    /// True once a bad header (negative length, adjustment out of range, or
    /// an oversize frame under [`Oversize::Error`]) has failed the stream.
    /// A failed decoder returns that same error from every call.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed(_))
    }

    /// True if `err`, just returned by this decoder, reports an oversize
    /// frame that [`Oversize::Skip`] skips: decoding goes on after it (the
    /// frame's bytes are discarded as they arrive). Every other decode
    /// error is fatal (the decoder repeats it) or an end of stream. What a
    /// loop over [`decode_slice`](Self::decode_slice),
    /// [`frames`](Self::frames) or [`begin_stream`](Self::begin_stream)
    /// asks to know whether to go on.
    ///
    /// ```
    /// use lenframe::{Codec, FrameDecoder, Oversize};
    ///
    /// let codec = Codec::builder().max_frame_len(3).oversize(Oversize::Skip).build()?;
    /// let mut dec = FrameDecoder::new(codec);
    /// let mut wire = &b"\0\0\0\x05hello\0\0\0\x02ok"[..];
    /// let mut frames = Vec::new();
    /// loop {
    ///     match dec.decode_slice(wire) {
    ///         Ok(d) if d.consumed == 0 => break, // needs more bytes
    ///         Ok(d) => {
    ///             frames.extend(d.frame.map(<[u8]>::to_vec));
    ///             wire = &wire[d.consumed..];
    ///         }
    ///         Err(e) if dec.is_skip_report(&e) => continue, // "hello", over the max
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// assert_eq!(frames, [b"ok".to_vec()]);
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn is_skip_report(&self, err: &crate::Error) -> bool {
        matches!(err, crate::Error::FrameTooLarge { .. }) && !self.is_failed()
    }

    /// The end of the frame being buffered (header length + payload
    /// length, counted from the front of the caller's buffer) while the
    /// decoder waits for the rest of its payload; `None` in any other
    /// state. For the stall annotation of `read/stall.rs`.
    #[cfg(feature = "std")]
    pub(crate) fn frame_end(&self) -> Option<usize> {
        match self.state {
            State::Body { end, .. } => Some(end),
            _ => None,
        }
    }

    /// The header length of the frame being buffered (as `frame_end`):
    /// `header_len`, or the varint's own length.
    #[cfg(feature = "std")]
    pub(crate) fn frame_header_len(&self) -> Option<usize> {
        match self.state {
            State::Body { header, .. } => Some(header),
            _ => None,
        }
    }

    /// Where a frame whose header is `header` bytes starts once
    /// `num_skip` bytes are dropped: the whole header when the codec drops
    /// its whole header (a varint's own length), else `num_skip`.
    #[inline(always)]
    fn frame_start(&self, header: usize) -> usize {
        if self.codec.num_skip == self.codec.header_len {
            header
        } else {
            self.codec.num_skip
        }
    }

    /// True between frames: no header, payload or discard is in progress.
    pub fn is_at_boundary(&self) -> bool {
        self.state == State::Head
    }

    /// One step over `buf`. The hot path (between frames, a whole frame
    /// buffered) never touches `self.state`.
    #[inline(always)]
    fn step(&mut self, buf: &[u8]) -> Result<Step, Fault> {
        if !matches!(self.state, State::Head) {
            return self.step_in_frame(buf);
        }
        if buf.len() < self.codec.head_min {
            if let Some(rules) = self.codec.format.varint_rules() {
                return self.step_varint(buf, rules);
            }
            return Ok(Step::Need);
        }
        let header_len = self.codec.header_len;
        let end = match self.codec.payload_len(buf) {
            // Fits usize: max_frame_len <= usize::MAX - header_len.
            Ok(len) => header_len + len as usize,
            Err(fault) => return Err(self.bad_header(fault, header_len)),
        };
        if buf.len() >= end {
            return Ok(Step::Frame {
                start: self.codec.num_skip,
                end,
            });
        }
        self.state = State::Body {
            header: header_len,
            end,
        };
        Ok(Step::Need)
    }

    /// `step` between frames for a varint header.
    #[inline]
    fn step_varint(&mut self, buf: &[u8], rules: varint::Rules) -> Result<Step, Fault> {
        let (len, header) = match self.read_varint(buf, rules)? {
            Some(read) => read,
            None => return Ok(Step::Need),
        };
        // Fits usize: len <= max_frame_len <= usize::MAX - header_len, and
        // header <= header_len.
        let end = header + len as usize;
        if buf.len() >= end {
            return Ok(Step::Frame {
                start: self.frame_start(header),
                end,
            });
        }
        self.state = State::Body { header, end };
        Ok(Step::Need)
    }

    /// The varint header at the front of `buf`, checked against the
    /// maximum: `(payload length, header length)`, `None` if it is not
    /// whole yet, or the fault (the decoder's state set as for any bad
    /// header).
    #[inline]
    fn read_varint(
        &mut self,
        buf: &[u8],
        rules: varint::Rules,
    ) -> Result<Option<(u64, usize)>, Fault> {
        match varint::read(buf, rules) {
            Ok(Some((len, header))) => match self.codec.varint_len(len) {
                Ok(len) => Ok(Some((len, header))),
                Err(fault) => Err(self.bad_header(fault, header)),
            },
            Ok(None) => Ok(None),
            Err(bad) => Err(self.bad_header(Fault::varint(bad, rules, buf), 0)),
        }
    }

    /// A bad header of `header` bytes: under `Oversize::Skip` an oversize
    /// frame starts a discard, anything else fails the decoder.
    #[cold]
    fn bad_header(&mut self, fault: Fault, header: usize) -> Fault {
        self.state = match fault {
            Fault::TooLarge { len, .. } if self.codec.oversize == Oversize::Skip => State::Pass {
                remaining: header as u128 + u128::from(len),
                payload: len,
                streaming: false,
            },
            _ => State::Failed(fault),
        };
        fault
    }

    /// The step for every state but `Head`.
    fn step_in_frame(&mut self, buf: &[u8]) -> Result<Step, Fault> {
        match self.state {
            State::Head => self.step(buf),
            State::Body { header, end } => {
                if buf.len() < end {
                    return Ok(Step::Need);
                }
                self.state = State::Head;
                Ok(Step::Frame {
                    start: self.frame_start(header),
                    end,
                })
            }
            State::Pass { .. } => {
                if buf.is_empty() {
                    return Ok(Step::Need);
                }
                // Fits usize: at most buf.len().
                Ok(Step::Discard(self.pass(buf.len() as u128) as usize))
            }
            State::Failed(fault) => Err(fault),
        }
    }

    /// Takes the next frame off the front of `src` as a borrowed slice,
    /// with no allocation. See [`Decoded`] for what to do with the result:
    /// drop `consumed` bytes from the front of the buffer before the next
    /// call. Errors are those of [`decode`](Self::decode); an error
    /// consumes nothing (discarded bytes are always reported in a call of
    /// their own, before any error that follows them).
    ///
    /// ```
    /// let mut dec = lenframe::FrameDecoder::default();
    /// let input = b"\0\0\0\x01a\0\0\0\x02bc\0";
    /// let mut pos = 0;
    /// let mut frames = Vec::new();
    /// loop {
    ///     let d = dec.decode_slice(&input[pos..])?;
    ///     pos += d.consumed;
    ///     match d.frame {
    ///         Some(f) => frames.push(f),
    ///         None if d.consumed == 0 => break, // need more input
    ///         None => {}                        // skipped oversize bytes
    ///     }
    /// }
    /// assert_eq!(frames, [&b"a"[..], &b"bc"[..]]);
    /// assert_eq!(&input[pos..], b"\0"); // start of the next header
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    #[inline]
    pub fn decode_slice<'a>(&mut self, src: &'a [u8]) -> Result<Decoded<'a>> {
        Ok(match self.step(src)? {
            Step::Frame { start, end } => Decoded {
                consumed: end,
                frame: Some(&src[start..end]),
            },
            // Returned at once, so an error in the next header can never
            // hide bytes this call already discarded.
            Step::Discard(n) => Decoded {
                consumed: n,
                frame: None,
            },
            Step::Need => Decoded {
                consumed: 0,
                frame: None,
            },
        })
    }

    /// How many more bytes must be buffered before the decoder can make
    /// progress, given that `buffered` bytes are buffered now and the last
    /// call returned no frame: the rest of the header, the rest of the
    /// frame, or the rest of a discard. 0 if a call can make progress now
    /// (or the decoder has failed).
    ///
    /// ```
    /// let mut dec = lenframe::FrameDecoder::default();
    /// assert_eq!(dec.needed(1), 3); // rest of the 4-byte header
    /// let buf = b"\0\0\x10\0ab"; // a 4096-byte frame, 2 bytes of it here
    /// assert_eq!(dec.decode_slice(buf)?.consumed, 0); // no frame yet
    /// assert_eq!(dec.needed(buf.len()), 4096 - 2);
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn needed(&self, buffered: usize) -> usize {
        match self.state {
            // A varint's length shows only as its bytes arrive: one more.
            State::Head if self.codec.format.is_varint() => 1,
            State::Head => self.codec.header_len.saturating_sub(buffered),
            State::Body { end, .. } => end.saturating_sub(buffered),
            State::Pass { remaining, .. } => remaining
                .saturating_sub(buffered as u128)
                .min(usize::MAX as u128) as usize,
            State::Failed(_) => 0,
        }
    }

    /// Checks that the stream may end here with `rest` still buffered (what
    /// [`decode`](Self::decode) left): `Ok` only between frames with
    /// nothing left, else [`Error::Truncated`](crate::Error::Truncated) (or
    /// the error of a failed decoder). Used by I/O layers at end of stream.
    ///
    /// The verdict is the one [`decode_eof`](Self::decode_eof) would end
    /// with after returning every frame: a discard still pending is applied
    /// to `rest` first, and frames still complete in `rest` (and oversize
    /// frames that [`Oversize::Skip`] skips) are passed over; take them with
    /// `decode` first. The decoder itself is not changed.
    ///
    /// ```
    /// use lenframe::{Error, FramePart};
    /// let dec = lenframe::FrameDecoder::default();
    /// assert!(dec.end_of_stream(b"").is_ok());
    /// assert!(matches!(
    ///     dec.end_of_stream(b"\0\0"),
    ///     Err(Error::Truncated { part: FramePart::Header, got: 2, expected: 4 })
    /// ));
    /// ```
    pub fn end_of_stream(&self, rest: &[u8]) -> Result<()> {
        let mut probe = self.clone();
        let mut rest = rest;
        loop {
            match probe.step(rest) {
                Ok(Step::Frame { end, .. }) => rest = &rest[end..],
                Ok(Step::Discard(n)) => rest = &rest[n..],
                Ok(Step::Need) => return probe.truncation(rest),
                // An oversize frame under `Oversize::Skip`: reported by
                // `decode`, then skipped; the end comes after it.
                Err(Fault::TooLarge { .. }) if !probe.is_failed() => {}
                Err(fault) => return Err(fault.into()),
            }
        }
    }

    /// The end-of-stream verdict once no step can make progress on `rest`.
    fn truncation(&self, rest: &[u8]) -> Result<()> {
        let len = rest.len() as u64;
        let fault = match self.state {
            State::Head if rest.is_empty() => return Ok(()),
            // `Need` in `Head`: fewer than header_len bytes, or a varint
            // whose every byte so far said more follow: at least one did.
            State::Head => Fault::Truncated {
                part: FramePart::Header,
                got: len,
                expected: if self.codec.format.is_varint() {
                    len + 1
                } else {
                    self.codec.header_len as u64
                },
            },
            // `Need` in `Body`: the header is buffered, the end is not.
            State::Body { header, end } => Fault::Truncated {
                part: FramePart::Payload,
                got: len.saturating_sub(header as u64),
                expected: (end - header) as u64,
            },
            // `Need` in `Pass`: nothing buffered; what is still missing is
            // payload (the header bytes were passed first).
            State::Pass {
                remaining, payload, ..
            } => Fault::Truncated {
                part: FramePart::Payload,
                got: u128::from(payload).saturating_sub(remaining) as u64,
                expected: payload,
            },
            State::Failed(fault) => fault,
        };
        Err(fault.into())
    }

    /// Starts streaming the frame at the front of `src` instead of
    /// buffering it: its header is checked against `max_len` (a limit of
    /// its own, clamped to what the header can express and so that the
    /// frame's length, kept header bytes included, fits a `u64`) rather than
    /// [`Codec::max_frame_len`], and its bytes are then handed on by the
    /// caller in pieces of any size, each reported with
    /// [`consume_stream`](Self::consume_stream). A pending discard is
    /// finished first (`frame_len: None`, `consumed > 0`: drop the bytes and
    /// call again). See [`Streamed`].
    ///
    /// A streamed frame left unfinished is discarded by the next call to
    /// `decode`, `decode_slice` or `begin_stream`, as its bytes arrive.
    ///
    /// # Errors
    ///
    /// The header errors of [`decode`](Self::decode), with `max_len` as the
    /// limit: under [`Oversize::Skip`] an oversize frame is reported once and
    /// then skipped; any other bad header fails the decoder, and a failed
    /// decoder returns its error again.
    ///
    /// ```
    /// let mut dec = lenframe::FrameDecoder::default();
    /// let input = b"\0\0\0\x05hello\0\0\0\x01!";
    /// let s = dec.begin_stream(input, 1 << 30)?;
    /// assert_eq!((s.consumed, s.frame_len), (4, Some(5)));
    /// let piece = &input[4..7]; // hand on "hel"
    /// assert_eq!(dec.consume_stream(piece.len() as u64), 3);
    /// assert_eq!(dec.stream_remaining(), Some(2));
    /// dec.consume_stream(2); // "lo": the frame is done
    /// assert!(dec.is_at_boundary());
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn begin_stream(&mut self, src: &[u8], max_len: u64) -> Result<Streamed> {
        if !matches!(self.state, State::Head | State::Body { .. }) {
            let consumed = match self.step_in_frame(src)? {
                Step::Discard(n) => n,
                // `Pass` and `Failed` never yield frames.
                Step::Frame { .. } | Step::Need => 0,
            };
            return Ok(Streamed {
                consumed,
                frame_len: None,
            });
        }
        let need = Streamed {
            consumed: 0,
            frame_len: None,
        };
        // The header's length, and a varint's value.
        let (header_len, value) = match self.codec.format.varint_rules() {
            None if src.len() < self.codec.header_len => return Ok(need),
            None => (self.codec.header_len, None),
            Some(rules) => match varint::read(src, rules) {
                Ok(Some((value, header))) => (header, Some(value)),
                Ok(None) => return Ok(need),
                Err(bad) => return Err(self.bad_header(Fault::varint(bad, rules, src), 0).into()),
            },
        };
        let skip = self.frame_start(header_len);
        // skip <= header_len (checked by the builder). The limit leaves
        // room for the kept header bytes, so the frame length fits u64.
        let kept = (header_len - skip) as u64;
        let limit = max_len
            .min(self.codec.expressible_len())
            .min(u64::MAX - kept);
        let payload = match value {
            Some(len) if len > limit => Err(Fault::TooLarge { len, max: limit }),
            Some(len) => Ok(len),
            None => self.codec.payload_len_within(src, limit),
        };
        let payload = match payload {
            Ok(len) => len,
            Err(fault) => return Err(self.bad_header(fault, header_len).into()),
        };
        let frame_len = kept + payload;
        self.state = if frame_len == 0 {
            State::Head
        } else {
            State::Pass {
                remaining: u128::from(frame_len),
                payload,
                streaming: true,
            }
        };
        Ok(Streamed {
            consumed: skip,
            frame_len: Some(frame_len),
        })
    }

    /// Bytes of the streamed frame not yet handed on, or `None` when no
    /// streamed frame is in progress.
    pub fn stream_remaining(&self) -> Option<u64> {
        match self.state {
            // A streamed frame's length fits u64 (see `begin_stream`).
            State::Pass {
                remaining,
                streaming: true,
                ..
            } => Some(remaining as u64),
            _ => None,
        }
    }

    /// Records that the caller handed on `n` more bytes of the streamed
    /// frame; returns how many of them belonged to it (at most
    /// [`stream_remaining`](Self::stream_remaining); 0 when no streamed
    /// frame is in progress). The frame ends when its last byte is passed.
    pub fn consume_stream(&mut self, n: u64) -> u64 {
        match self.state {
            State::Pass {
                streaming: true, ..
            } => self.pass(u128::from(n)) as u64,
            _ => 0,
        }
    }

    /// Passes up to `n` bytes of the frame in `Pass`; returns how many.
    fn pass(&mut self, n: u128) -> u128 {
        let State::Pass {
            remaining,
            payload,
            streaming,
        } = self.state
        else {
            return 0;
        };
        let n = n.min(remaining);
        let left = remaining - n;
        self.state = if left == 0 {
            State::Head
        } else {
            State::Pass {
                remaining: left,
                payload,
                streaming,
            }
        };
        n
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::Error;

    fn codec(f: &str, max: usize) -> Codec {
        Codec::builder()
            .format(f.parse().unwrap())
            .max_frame_len(max)
            .build()
            .unwrap()
    }

    /// Feeds `input` one byte at a time through both faces; returns frames
    /// and the first error.
    fn run(codec: Codec, input: &[u8]) -> (Vec<Vec<u8>>, Option<String>) {
        let mut dec = codec.new_decoder();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut sdec = codec.new_decoder();
        let mut sbuf: Vec<u8> = Vec::new();
        let mut sout: Vec<Vec<u8>> = Vec::new();
        for &b in input {
            buf.extend_from_slice(&[b]);
            sbuf.push(b);
            loop {
                match dec.decode(&mut buf) {
                    Ok(Some(f)) => out.push(f.to_vec()),
                    Ok(None) => break,
                    Err(e) => return (out, Some(e.to_string())),
                }
            }
            loop {
                let d = sdec.decode_slice(&sbuf).unwrap();
                let (f, consumed) = (d.frame.map(<[u8]>::to_vec), d.consumed);
                sbuf.drain(..consumed);
                match f {
                    Some(f) => sout.push(f),
                    None if consumed == 0 => break,
                    None => {}
                }
            }
        }
        assert_eq!(out, sout);
        let eof = dec.decode_eof(&mut buf).err().map(|e| e.to_string());
        (out, eof)
    }

    macro_rules! decodes_to {
        ($name:ident, $fmt:expr, $max:expr, $input:expr, $frames:expr, $err:expr) => {
            #[test]
            fn $name() {
                let (frames, err) = run(codec($fmt, $max), $input);
                let want: Vec<&[u8]> = $frames;
                assert_eq!(frames, want);
                assert_eq!(err.as_deref(), $err);
            }
        };
    }

    decodes_to!(empty_stream, "!I", 10, b"", vec![], None);
    decodes_to!(zero_len, "!I", 10, b"\0\0\0\0", vec![b""], None);
    decodes_to!(at_max, "<H", 3, b"\x03\0abc", vec![b"abc"], None);
    decodes_to!(
        over_max,
        "<H",
        3,
        b"\x04\0abcd",
        vec![],
        Some("frame of 4 bytes exceeds the maximum of 3 bytes")
    );
    decodes_to!(
        negative_b,
        "b",
        10,
        b"\xff",
        vec![],
        Some("negative frame length -1 in header")
    );
    decodes_to!(
        negative_q,
        ">q",
        10,
        b"\x80\0\0\0\0\0\0\0",
        vec![],
        // 80 00 .. 00 is also 128 written little-endian: the message says so.
        Some(
            "negative frame length -9223372036854775808 in header (as an 8-byte length in \
             the other byte order it would be 128: is the peer using the other byte order? \
             Python struct.pack('q') is little-endian on x86, struct.pack('!Q') big-endian: \
             use the same format on both sides)"
        )
    );
    decodes_to!(
        unsigned_b,
        "B",
        300,
        b"\x02hi\xff",
        vec![b"hi"],
        Some("stream ended inside a frame payload: got 0 of 255 bytes")
    );
    decodes_to!(
        cut_header,
        "!Q",
        10,
        b"\0\0\0",
        vec![],
        Some("stream ended inside a frame header: got 3 of 8 bytes")
    );
    decodes_to!(
        cut_payload,
        "i",
        10,
        b"\x05\0\0\0ab",
        vec![],
        Some("stream ended inside a frame payload: got 2 of 5 bytes")
    );
    decodes_to!(
        sticky,
        "!h",
        10,
        b"\0\x01a\0\0\0\x02bc",
        vec![b"a", b"", b"bc"],
        None
    );

    #[test]
    fn long_formats_native_vs_standard() {
        let long = core::mem::size_of::<core::ffi::c_long>();
        let mut native = (3 as core::ffi::c_long).to_ne_bytes().to_vec();
        native.extend_from_slice(b"abc");
        let (f, e) = run(codec("@l", 10), &native);
        assert_eq!((f, e), (vec![b"abc".to_vec()], None));
        let mut standard = 3i32.to_ne_bytes().to_vec();
        standard.extend_from_slice(b"abc");
        let (f, e) = run(codec("=l", 10), &standard);
        assert_eq!((f, e), (vec![b"abc".to_vec()], None));
        assert_eq!(codec("@l", 1).header_len(), long);
        assert_eq!(codec("=l", 1).header_len(), 4);
    }

    #[test]
    fn header_cut_at_every_byte() {
        for f in ["b", "B", "<h", ">H", "i", "!I", "=l", "@l", "<q", "!Q"] {
            let c = codec(f, 100);
            let mut frame = Vec::new();
            c.encode_to_vec(b"xyz", &mut frame).unwrap();
            for cut in 0..frame.len() {
                let (frames, err) = run(c, &frame[..cut]);
                assert!(frames.is_empty());
                let hl = c.header_len();
                let want = if cut == 0 {
                    None
                } else if cut < hl {
                    Some(format!(
                        "stream ended inside a frame header: got {cut} of {hl} bytes"
                    ))
                } else {
                    Some(format!(
                        "stream ended inside a frame payload: got {} of 3 bytes",
                        cut - hl
                    ))
                };
                assert_eq!(err, want, "{f} cut at {cut}");
            }
            assert_eq!(run(c, &frame), (vec![b"xyz".to_vec()], None));
        }
    }

    #[test]
    fn failed_decoder_repeats_error() {
        let mut dec = codec("!I", 4).new_decoder();
        let mut buf = BytesMut::from(&b"\0\0\0\x05hello\0\0\0\x01a"[..]);
        for _ in 0..3 {
            assert!(matches!(
                dec.decode(&mut buf),
                Err(Error::FrameTooLarge { len: 5, max: 4 })
            ));
        }
        assert!(dec.is_failed());
    }

    #[test]
    fn slice_face_reports_discards_before_a_following_error() {
        // Regression (found by the `reader` fuzz target): bytes discarded
        // in the same call as a later header error were lost to the caller.
        let c = Codec::builder()
            .max_frame_len(2)
            .oversize(Oversize::Skip)
            .build()
            .unwrap();
        let mut dec = c.new_decoder();
        let input = b"\0\0\0\x05hello\0\0\0\x09abc";
        assert!(matches!(
            dec.decode_slice(input),
            Err(Error::FrameTooLarge { len: 5, .. })
        ));
        let d = dec.decode_slice(input).unwrap();
        assert_eq!((d.consumed, d.frame), (9, None));
        let rest = &input[9..];
        assert!(matches!(
            dec.decode_slice(rest),
            Err(Error::FrameTooLarge { len: 9, .. })
        ));
        let d = dec.decode_slice(rest).unwrap();
        assert_eq!((d.consumed, d.frame), (7, None));
        match dec.end_of_stream(&rest[7..]) {
            Err(Error::Truncated {
                got: 3,
                expected: 9,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn skip_resyncs() {
        let c = Codec::builder()
            .max_frame_len(2)
            .oversize(Oversize::Skip)
            .build()
            .unwrap();
        let mut dec = c.new_decoder();
        let mut buf = BytesMut::from(&b"\0\0\0\x01a\0\0\0\x05hello\0\0\0\x02bc"[..]);
        assert_eq!(dec.decode(&mut buf).unwrap().as_deref(), Some(&b"a"[..]));
        assert!(matches!(
            dec.decode(&mut buf),
            Err(Error::FrameTooLarge { len: 5, max: 2 })
        ));
        assert_eq!(dec.decode(&mut buf).unwrap().as_deref(), Some(&b"bc"[..]));
        assert_eq!(dec.decode_eof(&mut buf).unwrap(), None);
    }

    #[test]
    fn skip_huge_declared_len_discards_without_buffering() {
        let c = Codec::builder()
            .format("!Q".parse().unwrap())
            .oversize(Oversize::Skip)
            .build()
            .unwrap();
        let mut dec = c.new_decoder();
        let mut buf = BytesMut::from(&[0xff; 8][..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(Error::FrameTooLarge { len: u64::MAX, .. })
        ));
        buf.extend_from_slice(&[7; 100]);
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
        assert!(buf.is_empty());
        assert_eq!(dec.needed(0), (u64::MAX - 100) as usize);
        match dec.end_of_stream(&buf) {
            Err(Error::Truncated {
                part: FramePart::Payload,
                got: 100,
                expected: u64::MAX,
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn strip_and_offset() {
        let c = Codec::builder()
            .format("B".parse().unwrap())
            .length_field_offset(1)
            .num_skip(1)
            .build()
            .unwrap();
        let (f, e) = run(c, b"T\x02hiU\x00");
        assert_eq!(f, vec![b"\x02hi".to_vec(), b"\x00".to_vec()]);
        assert_eq!(e, None);
    }

    #[test]
    fn needed_counts_down() {
        let mut dec = FrameDecoder::default();
        let mut buf = BytesMut::new();
        assert_eq!(dec.needed(0), 4);
        buf.extend_from_slice(b"\0\0\0\x03a");
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
        assert_eq!(dec.needed(buf.len()), 2);
        buf.extend_from_slice(b"bc");
        assert!(dec.decode(&mut buf).unwrap().is_some());
        assert_eq!(dec.needed(0), 4);
    }
}
