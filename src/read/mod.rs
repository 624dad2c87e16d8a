//! `FrameReader`: frames from any `std::io::Read`.

use std::io::{self, Read};

use bytes::{Buf, Bytes, BytesMut};

use crate::codec::Codec;
use crate::decode::FrameDecoder;
use crate::error::Result;

mod stall;

/// Read size while frames are small; also the initial buffer capacity.
const READ_CHUNK: usize = 16 * 1024;
/// Growth step of the buffer for a large frame: it grows to at most
/// max(`LARGE_STEP`, 2 x what it holds) (plus read-ahead, see
/// `FrameReader::fill_rest`), never to what the header claims.
const LARGE_STEP: usize = 64 * 1024;
/// Frames of at least this many bytes are "large": while they come, each
/// read takes the rest of a frame and reads ahead into the next one.
const DIRECT_MIN: usize = 4 * 1024;
/// Most bytes one read is offered (and zeroed for) while frames are large.
const ONE_READ_MAX: usize = 256 * 1024;
/// Default capacity above which a drained buffer is given back after a
/// large frame (see [`FrameReader::set_idle_capacity`]).
pub(crate) const IDLE_CAPACITY: usize = 64 * 1024;

/// Reads frames from any [`Read`], buffered: one `read()` call brings in
/// as many frames as fit in the buffer.
///
/// * [`read_frame`](Self::read_frame) returns each frame as an owned,
///   zero-copy [`Bytes`]; [`read_frame_ref`](Self::read_frame_ref) lends it
///   as a `&[u8]` with no allocation; the reader is also an [`Iterator`].
/// * `Interrupted` is retried. `WouldBlock` and `TimedOut` are returned with
///   every byte read so far kept: the next call resumes exactly where this
///   one stopped (unlike `read_exact`, which loses them).
/// * End of stream between frames is a clean `Ok(None)`; inside a header
///   or payload it is [`Error::Truncated`](crate::Error::Truncated).
/// * Memory grows with the bytes that arrive, never with what a header
///   claims: the buffer's allocation stays within max(64 KiB, 4 x the bytes
///   received of the current frame) plus what was already buffered (it
///   doubles as it grows), plus, inside a frame of 4 KiB or more that
///   follows another, room to read the next one ahead (at most 64 KiB and
///   three headers), and returns to 16 KiB once a frame larger than 64 KiB
///   has left it (see [`set_idle_capacity`](Self::set_idle_capacity)). It
///   grows only inside a frame whose header declared it large: a reader
///   idle between frames, inside a header or inside a small frame holds
///   16 KiB.
///
/// # Examples
///
/// ```
/// use lenframe::FrameReader;
///
/// let wire: &[u8] = b"\0\0\0\x05hello\0\0\0\x00\0\0\0\x05world";
/// let mut reader = FrameReader::new(wire);
/// assert_eq!(reader.read_frame()?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(reader.read_frame_ref()?, Some(&b""[..]));
/// let rest: Vec<_> = reader.collect::<Result<_, _>>()?;
/// assert_eq!(rest, [bytes::Bytes::from_static(b"world")]);
/// # Ok::<(), lenframe::Error>(())
/// ```
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: BytesMut,
    decoder: FrameDecoder,
    /// Bytes at the front of `buf` lent out by `read_frame_ref`, dropped on
    /// the next call.
    lent: usize,
    /// Length of the last frame returned: an estimate of the next one's.
    /// While it is large (`large_frames`), reads take the rest
    /// of a frame and read ahead into the next.
    last_len: usize,
    /// Set once iteration must stop (clean end or a fatal error).
    done: bool,
    /// A buffer larger than this is replaced by a small one once a large
    /// frame has left it.
    idle_capacity: usize,
    /// The largest capacity the buffer reached since it was last given
    /// back (`BytesMut::capacity` of a view split off a large allocation
    /// says less than the allocation holds).
    peak: usize,
    /// Whether a stall between frames may be the peer waiting for frames
    /// a `FrameWriter` still holds (not under `Framed`, which flushes
    /// before every read).
    flush_advice: bool,
}

impl<R: Read> FrameReader<R> {
    /// A reader with the default [`Codec`] (`!I`, 8 MiB max).
    pub fn new(inner: R) -> FrameReader<R> {
        FrameReader::with_codec(inner, Codec::default())
    }

    /// A reader with `codec`.
    ///
    /// ```
    /// let codec = lenframe::Codec::new("<H".parse()?);
    /// let mut r = lenframe::FrameReader::with_codec(&b"\x02\0hi"[..], codec);
    /// assert_eq!(r.read_frame()?.as_deref(), Some(&b"hi"[..]));
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn with_codec(inner: R, codec: Codec) -> FrameReader<R> {
        FrameReader {
            inner,
            buf: BytesMut::with_capacity(READ_CHUNK),
            decoder: codec.new_decoder(),
            lent: 0,
            last_len: 0,
            done: false,
            idle_capacity: IDLE_CAPACITY,
            peak: READ_CHUNK,
            flush_advice: true,
        }
    }

    /// Sets the capacity above which the read buffer is given back once a
    /// large frame has left it (default 64 KiB): after a frame of 100 KiB or
    /// 8 MiB, an idle reader holds a 16 KiB buffer again, not megabytes. It
    /// happens at the next read that needs only a header (or right away
    /// after a frame over 256 KiB), never while small frames flow.
    /// `usize::MAX` keeps every buffer (no reallocation when large frames
    /// follow each other).
    ///
    /// ```
    /// let mut r = lenframe::FrameReader::new(&b""[..]);
    /// r.set_idle_capacity(1 << 20);
    /// ```
    pub fn set_idle_capacity(&mut self, bytes: usize) {
        self.idle_capacity = bytes;
    }

    /// The next frame as an owned [`Bytes`] sharing the read buffer's
    /// memory, or `None` at a clean end of stream.
    ///
    /// # Errors
    ///
    /// The decoder's errors for a bad header; [`Error::Truncated`] if the
    /// stream ends inside a frame; [`Error::Io`] for I/O errors, after
    /// which (for `WouldBlock`/`TimedOut`) the call can simply be made
    /// again.
    ///
    /// [`Error::Truncated`]: crate::Error::Truncated
    /// [`Error::Io`]: crate::Error::Io
    pub fn read_frame(&mut self) -> Result<Option<Bytes>> {
        self.release_lent();
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf)? {
                self.last_len = frame.len();
                if frame.len() > ONE_READ_MAX {
                    self.shrink_if_drained();
                }
                return Ok(Some(frame));
            }
            if self.fill()? == 0 {
                return self.decoder.decode_eof(&mut self.buf);
            }
        }
    }

    /// The next frame borrowed from the read buffer, with no allocation, or
    /// `None` at a clean end of stream. The frame stays valid until the
    /// next call on the reader. Errors as [`read_frame`](Self::read_frame).
    ///
    /// ```
    /// let mut r = lenframe::FrameReader::new(&b"\0\0\0\x01a\0\0\0\x01b"[..]);
    /// let mut seen = Vec::new();
    /// while let Some(frame) = r.read_frame_ref()? {
    ///     seen.extend_from_slice(frame);
    /// }
    /// assert_eq!(seen, b"ab");
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn read_frame_ref(&mut self) -> Result<Option<&[u8]>> {
        self.release_lent();
        loop {
            let decoded = self.decoder.decode_slice(&self.buf)?;
            let (consumed, frame_len) = (decoded.consumed, decoded.frame.map(<[u8]>::len));
            if let Some(len) = frame_len {
                self.lent = consumed;
                self.last_len = len;
                return Ok(Some(&self.buf[consumed - len..consumed]));
            }
            self.buf.advance(consumed);
            if consumed > 0 {
                continue; // discarded oversize bytes; decode again
            }
            if self.fill()? == 0 {
                self.decoder.end_of_stream(&self.buf)?;
                return Ok(None);
            }
        }
    }

    /// Starts streaming the next frame (see
    /// [`read_frame_stream`](Self::read_frame_stream)): `Some(frame length)`,
    /// or `None` at a clean end of stream.
    pub(crate) fn begin_stream(&mut self, max_len: u64) -> Result<Option<u64>> {
        self.release_lent();
        loop {
            let started = self.decoder.begin_stream(&self.buf, max_len)?;
            self.buf.advance(started.consumed);
            if started.frame_len.is_some() {
                return Ok(started.frame_len);
            }
            if started.consumed > 0 {
                continue; // discarded bytes of a skipped or abandoned frame
            }
            if self.fill()? == 0 {
                return self.decoder.end_of_stream(&self.buf).map(|()| None);
            }
        }
    }

    /// Reads the next piece of the streamed frame into `out`: buffered
    /// bytes first, then straight from the inner reader. `Ok(0)` once the
    /// frame is done (or none is in progress); `UnexpectedEof` if the stream
    /// ends inside it.
    pub(crate) fn read_stream(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let remaining = self.decoder.stream_remaining().unwrap_or(0);
        if remaining == 0 || out.is_empty() {
            return Ok(0);
        }
        let want = (out.len() as u64).min(remaining) as usize;
        let n = if self.buf.is_empty() {
            let read = loop {
                match self.inner.read(&mut out[..want]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            // A stall inside the streamed frame says so, as in `fill`.
            let n = read.map_err(|e| {
                stall::annotate_stall(&self.decoder, &self.buf, e, self.flush_advice)
            })?;
            if n == 0 {
                // Truncated, with the frame's numbers.
                self.decoder.end_of_stream(&[])?;
            }
            n
        } else {
            let n = want.min(self.buf.len());
            out[..n].copy_from_slice(&self.buf[..n]);
            self.buf.advance(n);
            n
        };
        self.decoder.consume_stream(n as u64);
        Ok(n)
    }

    /// Drops the frame lent out last by `read_frame_ref`.
    fn release_lent(&mut self) {
        let lent = std::mem::take(&mut self.lent);
        self.buf.advance(lent);
        if lent > ONE_READ_MAX {
            self.shrink_if_drained();
        }
    }

    /// If the buffer grew over the idle capacity and holds little, moves
    /// what it holds to a fresh small buffer, so the large allocation is
    /// freed (once the frames sharing it are dropped). Called after a frame
    /// over 256 KiB, and before a read that needs little: between large
    /// frames, while each read ends inside the next one, the buffer is
    /// kept.
    fn shrink_if_drained(&mut self) {
        let peak = self.peak.max(self.buf.capacity());
        if peak > self.idle_capacity && self.buf.len() <= READ_CHUNK {
            let mut fresh = BytesMut::with_capacity(READ_CHUNK);
            fresh.extend_from_slice(&self.buf);
            self.buf = fresh;
            self.peak = READ_CHUNK;
        }
    }

    /// The last frame was large (>= `DIRECT_MIN`): the next is likely
    /// large too.
    fn large_frames(&self) -> bool {
        self.last_len >= DIRECT_MIN
    }

    /// The frame in progress declared a large payload (>= `DIRECT_MIN`),
    /// or an oversize frame is being skipped.
    fn in_large_frame(&self) -> bool {
        match (self.decoder.frame_end(), self.decoder.frame_header_len()) {
            (Some(end), Some(header)) => end - header >= DIRECT_MIN,
            _ => !self.decoder.is_at_boundary(),
        }
    }

    /// Notes the buffer's capacity after it grew.
    fn grew(&mut self) {
        self.peak = self.peak.max(self.buf.capacity());
    }

    /// Reads once from the inner reader (retrying `Interrupted`), sized by
    /// what the decoder still needs. Returns 0 at end of stream.
    fn fill(&mut self) -> io::Result<usize> {
        let needed = self.decoder.needed(self.buf.len()).max(1);
        if self.buf.is_empty() {
            // Start again at the front of the allocation when nothing is
            // buffered (free if no frame still shares it).
            let _reclaimed = self.buf.try_reclaim(READ_CHUNK);
        }
        if needed < DIRECT_MIN {
            self.shrink_if_drained();
        }
        // The buffer grows for reading ahead only inside a frame whose
        // header declared it large: an idle reader waiting for a header,
        // or inside a small frame, keeps the small buffer it was given back
        // (after large frames too).
        let read = if needed < DIRECT_MIN && !(self.large_frames() && self.in_large_frame()) {
            self.fill_small(needed)
        } else {
            self.fill_rest(needed)
        };
        // A stall inside a frame that the other byte order explains says so.
        read.map_err(|e| stall::annotate_stall(&self.decoder, &self.buf, e, self.flush_advice))
    }

    /// One `read()` for the rest of a frame, the header after it and, when
    /// frames are large, as much of the next frame as the last one was long
    /// and the header after that: the read takes whatever the socket has
    /// queued, so 64 KiB frames cost about half a `read()` each, the next
    /// frame starts in room of its own (no copy when the frame is split
    /// off), and the read after it knows the frame it reads (the buffer
    /// grows only inside a frame whose header declared it large: see
    /// `fill`). The room is zeroed first. The buffer grows to at most
    /// max(64 KiB, 2 x what it holds), plus, while frames are large, the
    /// last frame's length (at most 64 KiB) and three headers: never to what
    /// a header claims. One read is offered at most 256 KiB.
    fn fill_rest(&mut self, needed: usize) -> io::Result<usize> {
        let len = self.buf.len();
        let header = self.decoder.codec().header_len();
        // Read-ahead: the next header, and the next frame and the header
        // after it if they are large.
        let (next, ahead) = if self.large_frames() {
            let next = self.last_len.min(LARGE_STEP) + 2 * header;
            // The frame in progress has its header too.
            (next, next + header)
        } else {
            (header, 0)
        };
        let limit = LARGE_STEP.max(len.saturating_mul(2)) + ahead;
        let room = needed
            .saturating_add(next)
            .min(ONE_READ_MAX)
            .min(limit - len);
        if self.buf.capacity() - len < room {
            self.buf.reserve(room);
            self.grew();
        }
        self.read_into_spare(room)
    }

    /// One `read()` into zeroed spare room: at least [`READ_CHUNK`] bytes,
    /// more (up to [`LARGE_STEP`]) if the frame in progress needs it.
    fn fill_small(&mut self, needed: usize) -> io::Result<usize> {
        let len = self.buf.len();
        let want = needed.clamp(READ_CHUNK, LARGE_STEP);
        if self.buf.capacity() - len < want.min(READ_CHUNK / 4).max(needed) {
            self.buf.reserve(want);
            self.grew();
        }
        self.read_into_spare(want)
    }

    /// One `read()` into at most `want` bytes of the buffer's spare room,
    /// zeroed first (only what this read is offered).
    fn read_into_spare(&mut self, want: usize) -> io::Result<usize> {
        let len = self.buf.len();
        let spare = (self.buf.capacity() - len).min(want);
        self.buf.resize(len + spare, 0);
        let result = loop {
            match self.inner.read(&mut self.buf[len..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = *result.as_ref().unwrap_or(&0);
        self.buf.truncate(len + n);
        result
    }

    /// Gets a reference to the inner reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Gets a mutable reference to the inner reader. Reading from it
    /// directly will desynchronise the frames.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The decoder (and through it, the codec).
    pub fn decoder(&self) -> &FrameDecoder {
        &self.decoder
    }

    /// Bytes read but not yet returned as frames.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.lent..]
    }

    /// Unwraps the inner reader; buffered bytes are lost (see
    /// [`into_parts`](Self::into_parts)).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Unwraps the inner reader and the bytes read but not yet returned as
    /// frames. They start at a frame boundary unless an oversize frame is
    /// being skipped or a streamed frame was left unfinished.
    ///
    /// ```
    /// let mut r = lenframe::FrameReader::new(&b"\0\0\0\x01a\0\0"[..]);
    /// r.read_frame()?;
    /// assert!(r.read_frame().is_err()); // truncated header
    /// let (_inner, rest) = r.into_parts();
    /// assert_eq!(&rest[..], b"\0\0");
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn into_parts(self) -> (R, BytesMut) {
        self.into_parts_any()
    }

    /// Rebuilds a reader from what [`into_parts`](Self::into_parts) (or
    /// [`Framed::into_parts`](crate::Framed::into_parts)) handed back:
    /// `buffered` is decoded first, from a frame boundary, before anything
    /// is read from `inner`. Take a reader apart only at a boundary
    /// (`decoder().is_at_boundary()`): the state of an oversize frame being
    /// skipped or a streamed frame left unfinished is not in the parts, and
    /// a reader rebuilt from them reads the rest of that frame as headers.
    ///
    /// ```
    /// use lenframe::{Codec, FrameReader};
    ///
    /// let mut r = FrameReader::new(&b"\0\0\0\x01a\0\0\0\x01b"[..]);
    /// assert_eq!(r.read_frame()?.as_deref(), Some(&b"a"[..]));
    /// let (inner, buffered) = r.into_parts();
    /// let mut r = FrameReader::from_parts(inner, Codec::default(), buffered);
    /// assert_eq!(r.read_frame()?.as_deref(), Some(&b"b"[..]));
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn from_parts(inner: R, codec: Codec, buffered: BytesMut) -> FrameReader<R> {
        let mut reader = FrameReader::with_codec(inner, codec);
        if !buffered.is_empty() {
            reader.peak = reader.peak.max(buffered.capacity());
            reader.buf = buffered;
        }
        reader
    }
}

impl<R> FrameReader<R> {
    /// Whether the message of a stall between frames advises flushing
    /// (`Framed` flushes its own frames before every read: not there).
    pub(crate) fn set_flush_advice(&mut self, on: bool) {
        self.flush_advice = on;
    }

    /// Moves the reader's state (buffered bytes, decoder, frame in
    /// progress) over to `inner`, handing back the old inner reader.
    pub(crate) fn replace_inner<R2>(self, inner: R2) -> (R, FrameReader<R2>) {
        let moved = FrameReader {
            inner,
            buf: self.buf,
            decoder: self.decoder,
            lent: self.lent,
            last_len: self.last_len,
            done: self.done,
            idle_capacity: self.idle_capacity,
            peak: self.peak,
            flush_advice: self.flush_advice,
        };
        (self.inner, moved)
    }

    /// Ends iteration: `next` returns `None` from now on.
    pub(crate) fn end_iteration(&mut self) {
        self.done = true;
    }

    /// [`into_parts`](FrameReader::into_parts) for any inner type.
    pub(crate) fn into_parts_any(mut self) -> (R, BytesMut) {
        self.buf.advance(std::mem::take(&mut self.lent));
        (self.inner, self.buf)
    }
}

impl<R: Read> Iterator for FrameReader<R> {
    type Item = Result<Bytes>;

    /// The next frame; `None` after a clean end of stream or after an error
    /// that cannot be resumed from (anything but a retryable I/O error or
    /// an oversize frame skipped under [`Oversize::Skip`](crate::Oversize)).
    fn next(&mut self) -> Option<Result<Bytes>> {
        if self.done {
            return None;
        }
        match self.read_frame() {
            Ok(Some(frame)) => Some(Ok(frame)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = !(e.is_retryable() || self.decoder.is_skip_report(&e));
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    /// A reader handing out `chunks` one per call, then the given errors.
    struct Scripted(Vec<io::Result<Vec<u8>>>);

    impl Read for Scripted {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            match self.0.remove(0) {
                Ok(mut chunk) => {
                    let n = chunk.len().min(out.len());
                    out[..n].copy_from_slice(&chunk[..n]);
                    if n < chunk.len() {
                        self.0.insert(0, Ok(chunk.split_off(n)));
                    }
                    Ok(n)
                }
                Err(e) => Err(e),
            }
        }
    }

    fn kind(k: io::ErrorKind) -> io::Result<Vec<u8>> {
        Err(io::Error::from(k))
    }

    #[test]
    fn would_block_mid_header_and_payload_resumes() {
        let mut r = FrameReader::new(Scripted(vec![
            Ok(b"\0\0".to_vec()),
            kind(io::ErrorKind::WouldBlock),
            Ok(b"\0\x03a".to_vec()),
            kind(io::ErrorKind::Interrupted),
            kind(io::ErrorKind::TimedOut),
            Ok(b"bc".to_vec()),
        ]));
        let e = r.read_frame().unwrap_err();
        assert!(matches!(&e, Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock));
        let e = r.read_frame().unwrap_err();
        assert!(matches!(&e, Error::Io(e) if e.kind() == io::ErrorKind::TimedOut));
        assert_eq!(r.read_frame().unwrap().as_deref(), Some(&b"abc"[..]));
        assert_eq!(r.read_frame().unwrap(), None);
    }

    #[test]
    fn eof_inside_frame_is_truncated() {
        let mut r = FrameReader::new(&b"\0\0\0\x05ab"[..]);
        assert!(matches!(
            r.read_frame(),
            Err(Error::Truncated {
                part: crate::FramePart::Payload,
                got: 2,
                expected: 5
            })
        ));
        let mut r = FrameReader::new(&b"\0\0"[..]);
        assert!(matches!(
            r.read_frame_ref(),
            Err(Error::Truncated {
                part: crate::FramePart::Header,
                got: 2,
                expected: 4
            })
        ));
    }

    #[test]
    fn large_frame_across_many_reads() {
        let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7) as u8).collect();
        let mut wire = Vec::new();
        Codec::default().encode_to_vec(&payload, &mut wire).unwrap();
        Codec::default().encode_to_vec(b"tail", &mut wire).unwrap();
        let chunks = wire.chunks(1500).map(|c| Ok(c.to_vec())).collect();
        let mut r = FrameReader::new(Scripted(chunks));
        assert_eq!(r.read_frame().unwrap().as_deref(), Some(&payload[..]));
        assert_eq!(r.read_frame().unwrap().as_deref(), Some(&b"tail"[..]));
        assert_eq!(r.read_frame().unwrap(), None);
    }

    #[test]
    fn hostile_header_does_not_allocate_claim() {
        let mut r = FrameReader::new(Scripted(vec![
            Ok(b"\0\x80\0\0".to_vec()), // 8 MiB
            Ok(vec![1; 10]),
            kind(io::ErrorKind::WouldBlock),
        ]));
        assert!(r.read_frame().is_err());
        assert!(r.buf.capacity() <= 64 * 1024, "{}", r.buf.capacity());
    }

    #[test]
    fn iterator_stops_after_fatal_error() {
        let codec = Codec::builder().max_frame_len(1).build().unwrap();
        let r = FrameReader::with_codec(&b"\0\0\0\x01a\0\0\0\x09"[..], codec);
        let items: Vec<_> = r.collect();
        assert_eq!(items.len(), 2);
        assert!(matches!(
            items[1],
            Err(Error::FrameTooLarge { len: 9, max: 1 })
        ));
    }
}
