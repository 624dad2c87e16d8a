//! `FrameWriter`: frames to any `std::io::Write`.

use std::io::{self, IoSlice, Write};

use crate::codec::Codec;
use crate::error::{Error, Result};

/// Default coalescing buffer capacity.
const DEFAULT_CAPACITY: usize = 16 * 1024;
/// A buffer that grew over max(this, the configured capacity) to hold a
/// large frame's unsent rest is given back once that rest is out.
const IDLE_CAPACITY: usize = 64 * 1024;

/// Writes frames to any [`Write`].
///
/// * Small frames (header + payload fitting the buffer) are coalesced in a
///   buffer and go out in one `write()` when the buffer fills or on
///   [`flush`](Self::flush).
/// * Larger payloads go out as header + payload with vectored writes; the
///   payload is never copied (unless the writer blocks part-way, below).
/// * Partial writes are continued. If the inner writer returns `WouldBlock`
///   or `TimedOut` after part of a frame went out, the rest of that frame is
///   kept and written first next time, and the call returns `Ok`: the frame
///   was accepted and must not be sent again. A call that returns
///   `WouldBlock` accepted nothing of its frame; retry it.
/// * After a hard I/O error the stream may hold part of a frame, so the
///   writer refuses further frames with [`Error::WriterPoisoned`].
///
/// Dropping the writer flushes it, ignoring errors (like
/// [`std::io::BufWriter`]); call [`flush`](Self::flush) or
/// [`into_inner`](Self::into_inner) to see them.
///
/// # Examples
///
/// ```
/// use lenframe::FrameWriter;
///
/// let mut w = FrameWriter::new(Vec::new());
/// w.write_frame(b"hello")?;
/// w.write_frame(b"")?;
/// let wire = w.into_inner()?;
/// assert_eq!(wire, b"\0\0\0\x05hello\0\0\0\0");
/// # Ok::<(), lenframe::Error>(())
/// ```
#[derive(Debug)]
pub struct FrameWriter<W: Write> {
    /// `None` only inside `into_inner`/`into_parts`, so `Drop` can tell.
    inner: Option<W>,
    codec: Codec,
    /// Bytes accepted but not yet written: `buf[written..]`.
    buf: Vec<u8>,
    written: usize,
    capacity: usize,
    poisoned: bool,
}

impl<W: Write> FrameWriter<W> {
    /// A writer with the default [`Codec`] (`!I`, 8 MiB max).
    pub fn new(inner: W) -> FrameWriter<W> {
        FrameWriter::with_codec(inner, Codec::default())
    }

    /// A writer with `codec`.
    ///
    /// ```
    /// let codec = lenframe::Codec::new("<H".parse()?);
    /// let mut w = lenframe::FrameWriter::with_codec(Vec::new(), codec);
    /// w.write_frame(b"hi")?;
    /// assert_eq!(w.into_inner()?, b"\x02\0hi");
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn with_codec(inner: W, codec: Codec) -> FrameWriter<W> {
        FrameWriter::with_capacity(DEFAULT_CAPACITY, inner, codec)
    }

    /// A writer whose coalescing buffer holds `capacity` bytes.
    pub fn with_capacity(capacity: usize, inner: W, codec: Codec) -> FrameWriter<W> {
        FrameWriter {
            inner: Some(inner),
            codec,
            // Room for the whole-word stores of the last frame that fits.
            buf: Vec::with_capacity(capacity.saturating_add(crate::encode::SLACK)),
            written: 0,
            capacity,
            poisoned: false,
        }
    }

    /// Rebuilds a writer from what [`into_parts`](Self::into_parts) handed
    /// back: `unsent` (frames accepted but not yet written, the first of
    /// them perhaps in part after a `WouldBlock`) goes out first, before
    /// any new frame. The rebuilt writer is never poisoned: parts of a
    /// poisoned writer (see [`is_poisoned`](Self::is_poisoned)) continue a
    /// stream that may hold part of a frame already, so close that stream
    /// instead.
    ///
    /// ```
    /// use lenframe::{Codec, FrameWriter};
    ///
    /// let mut w = FrameWriter::new(Vec::new());
    /// w.write_frame("a")?; // buffered until a flush
    /// let (inner, unsent) = w.into_parts();
    /// assert!(inner.is_empty());
    /// let mut w = FrameWriter::from_parts(inner, Codec::default(), unsent);
    /// w.write_frame("b")?;
    /// assert_eq!(w.into_inner()?, b"\0\0\0\x01a\0\0\0\x01b");
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn from_parts(inner: W, codec: Codec, unsent: Vec<u8>) -> FrameWriter<W> {
        let mut writer = FrameWriter::with_codec(inner, codec);
        // Into the writer's own buffer, which keeps its room for the
        // whole-word stores of the encoder.
        writer.buf.extend_from_slice(&unsent);
        writer
    }

    /// True once a write failed with a hard I/O error (not `WouldBlock`,
    /// `TimedOut` or `Interrupted`): how much of the frame reached the wire
    /// is unknown, so every further frame is refused with
    /// [`Error::WriterPoisoned`] rather than risk a misaligned stream. The
    /// connection is lost for framing; close it.
    ///
    /// ```
    /// use std::io::{self, Write};
    ///
    /// struct Broken;
    /// impl Write for Broken {
    ///     fn write(&mut self, _: &[u8]) -> io::Result<usize> {
    ///         Err(io::ErrorKind::BrokenPipe.into())
    ///     }
    ///     fn flush(&mut self) -> io::Result<()> {
    ///         Ok(())
    ///     }
    /// }
    /// let mut w = lenframe::FrameWriter::new(Broken);
    /// assert!(!w.is_poisoned());
    /// w.write_frame("hi")?; // buffered
    /// assert!(w.flush().is_err()); // the write fails
    /// assert!(w.is_poisoned());
    /// assert!(matches!(w.write_frame("again"), Err(lenframe::Error::WriterPoisoned)));
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    fn inner_mut(&mut self) -> &mut W {
        self.inner
            .as_mut()
            .expect("inner writer is present until into_inner")
    }

    /// Writes one frame: header, then `payload` (anything that is
    /// `AsRef<[u8]>`: `&[u8]`, `&str`, `Vec<u8>`, `String`, `Bytes`, ...).
    /// Small frames wait in the buffer until it fills or
    /// [`flush`](Self::flush): before reading a reply, flush (or use
    /// [`Framed`](crate::Framed), which flushes before it reads).
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLargeToSend`] / [`Error::AdjustmentOverflow`] if the
    /// payload cannot be framed (nothing written);
    /// [`Error::WriterPoisoned`] after an earlier hard error; [`Error::Io`]
    /// from the inner writer. A `WouldBlock`/`TimedOut` error means this
    /// frame was not accepted: call again with the same frame.
    #[inline]
    pub fn write_frame<P: AsRef<[u8]>>(&mut self, payload: P) -> Result<()> {
        let payload = payload.as_ref();
        // The common case, inlined: a frame that fits the buffer's room.
        if !self.poisoned
            && self.buf.len() + self.codec.header_len + payload.len() <= self.capacity
            && self.codec.try_encode_to_vec(payload, &mut self.buf)
        {
            return Ok(());
        }
        self.write_payload(payload)
    }

    /// [`write_frame`](Self::write_frame) for a slice (not generic, so
    /// written once).
    fn write_payload(&mut self, payload: &[u8]) -> Result<()> {
        if self.poisoned {
            return Err(Error::WriterPoisoned);
        }
        let total = self.codec.header_len() + payload.len();
        if self.buf.len() + total > self.capacity {
            if payload.len() > self.codec.max_frame_len() {
                // Refuse before flushing anything.
                self.codec.header(payload.len())?;
            }
            self.flush_buf()?;
        }
        if total <= self.capacity {
            return self.codec.encode_to_vec(payload, &mut self.buf);
        }
        let header = self.codec.header(payload.len())?;
        self.write_direct(&header, payload)
    }

    /// Writes header + payload with vectored writes, the buffer being empty.
    fn write_direct(&mut self, header: &[u8], payload: &[u8]) -> Result<()> {
        let mut storage = [IoSlice::new(header), IoSlice::new(payload)];
        let mut slices: &mut [IoSlice<'_>] = &mut storage;
        let mut sent = 0;
        let total = header.len() + payload.len();
        while sent < total {
            match self.inner.as_mut().expect("present").write_vectored(slices) {
                Ok(0) => return Err(self.poison(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    sent += n;
                    IoSlice::advance_slices(&mut slices, n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_would_block(&e) && sent == 0 => return Err(e.into()),
                Err(e) if is_would_block(&e) => {
                    // Part of the frame is out: keep the rest, the frame is accepted.
                    for s in slices.iter() {
                        self.buf.extend_from_slice(s);
                    }
                    return Ok(());
                }
                Err(e) => return Err(self.poison(e)),
            }
        }
        Ok(())
    }

    fn poison(&mut self, e: io::Error) -> Error {
        self.poisoned = true;
        Error::Io(e)
    }

    /// Refuses further frames: part of a frame may be on the wire.
    pub(crate) fn set_poisoned(&mut self) {
        self.poisoned = true;
    }

    /// [`Error::WriterPoisoned`] after an earlier hard error.
    pub(crate) fn check_poison(&self) -> Result<()> {
        if self.poisoned {
            return Err(Error::WriterPoisoned);
        }
        Ok(())
    }

    /// Writes `bytes` straight to the inner writer, all of them, bypassing
    /// the (empty) buffer: for streamed frames. Any error poisons.
    pub(crate) fn write_through(&mut self, bytes: &[u8]) -> Result<()> {
        match self.inner_mut().write_all(bytes) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.poison(e)),
        }
    }

    /// Writes out the buffered bytes, keeping what could not be written.
    pub(crate) fn flush_buf(&mut self) -> Result<()> {
        if self.poisoned {
            return Err(Error::WriterPoisoned);
        }
        while self.written < self.buf.len() {
            let (buf, written) = (&self.buf, self.written);
            match self.inner.as_mut().expect("present").write(&buf[written..]) {
                Ok(0) => return Err(self.poison(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_would_block(&e) => {
                    self.buf.drain(..self.written);
                    self.written = 0;
                    return Err(e.into());
                }
                Err(e) => return Err(self.poison(e)),
            }
        }
        self.buf.clear();
        self.written = 0;
        if self.buf.capacity() > self.capacity.max(IDLE_CAPACITY) {
            // A large frame's rest was kept after a partial write: give
            // the memory back now that it is out.
            self.buf = Vec::with_capacity(self.capacity);
        }
        Ok(())
    }

    /// Writes out every buffered byte and flushes the inner writer.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] from the inner writer (after `WouldBlock`, call again:
    /// unwritten bytes are kept); [`Error::WriterPoisoned`] after an
    /// earlier hard error.
    ///
    /// ```
    /// let mut w = lenframe::FrameWriter::new(Vec::new());
    /// w.write_frame(b"x")?;
    /// assert!(w.get_ref().is_empty()); // still buffered
    /// w.flush()?;
    /// assert_eq!(w.get_ref().len(), 5);
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn flush(&mut self) -> Result<()> {
        self.flush_buf()?;
        self.inner_mut().flush().map_err(Error::Io)
    }

    /// Bytes accepted but not yet handed to the inner writer.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.written..]
    }

    /// The codec.
    pub fn codec(&self) -> &Codec {
        &self.codec
    }

    /// Gets a reference to the inner writer.
    pub fn get_ref(&self) -> &W {
        self.inner.as_ref().expect("present")
    }

    /// Gets a mutable reference to the inner writer. Writing to it directly
    /// while frames are buffered will corrupt the stream.
    pub fn get_mut(&mut self) -> &mut W {
        self.inner_mut()
    }

    /// Flushes, then unwraps the inner writer.
    ///
    /// # Errors
    ///
    /// As [`flush`](Self::flush); the writer (and its buffered bytes) is
    /// then dropped without another flush attempt.
    pub fn into_inner(mut self) -> Result<W> {
        let flushed = self.flush();
        let inner = self.inner.take().expect("present");
        flushed.map(|()| inner)
    }

    /// Unwraps the inner writer and the bytes not yet written to it,
    /// without writing anything.
    pub fn into_parts(mut self) -> (W, Vec<u8>) {
        let rest = self.buf.split_off(self.written);
        (self.inner.take().expect("present"), rest)
    }
}

impl<W: Write> Drop for FrameWriter<W> {
    fn drop(&mut self) {
        if self.inner.is_some() && !self.poisoned && !std::thread::panicking() {
            let _ = self.flush_buf();
        }
    }
}

fn is_would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts at most `max` bytes per call; every `block_every`-th call
    /// returns WouldBlock; fails hard once `fail_after` bytes are in.
    #[derive(Default)]
    struct Stingy {
        out: Vec<u8>,
        max: usize,
        calls: usize,
        block_every: usize,
        fail_after: Option<usize>,
    }

    impl Write for Stingy {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.block_every > 0 && self.calls % self.block_every == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if self.fail_after.is_some_and(|limit| self.out.len() >= limit) {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            let n = b.len().min(self.max);
            self.out.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn large_frame_with_short_writes_and_would_block() {
        let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut expected = Vec::new();
        Codec::default()
            .encode_to_vec(&payload, &mut expected)
            .unwrap();
        Codec::default()
            .encode_to_vec(b"after", &mut expected)
            .unwrap();

        let inner = Stingy {
            max: 777,
            block_every: 5,
            ..Default::default()
        };
        let mut w = FrameWriter::new(inner);
        loop {
            match w.write_frame(&payload) {
                Ok(()) => break,
                Err(e) if e.is_retryable() => continue,
                Err(e) => panic!("{e}"),
            }
        }
        loop {
            match w.write_frame(b"after") {
                Ok(()) => break,
                Err(e) if e.is_retryable() => continue,
                Err(e) => panic!("{e}"),
            }
        }
        while let Err(e) = w.flush() {
            assert!(e.is_retryable(), "{e}");
        }
        assert_eq!(w.get_ref().out, expected);
    }

    #[test]
    fn hard_error_poisons() {
        let inner = Stingy {
            max: 3,
            fail_after: Some(6),
            ..Default::default()
        };
        let mut w = FrameWriter::with_capacity(4, inner, Codec::default());
        assert!(matches!(w.write_frame(b"abcdefgh"), Err(Error::Io(_))));
        assert!(matches!(w.write_frame(b"x"), Err(Error::WriterPoisoned)));
        assert!(matches!(w.flush(), Err(Error::WriterPoisoned)));
    }

    #[test]
    fn small_frames_coalesce() {
        let inner = Stingy {
            max: usize::MAX,
            ..Default::default()
        };
        let mut w = FrameWriter::new(inner);
        for _ in 0..1000 {
            w.write_frame([7; 16]).unwrap();
        }
        w.flush().unwrap();
        assert_eq!(w.get_ref().out.len(), 20_000);
        assert!(w.get_ref().calls <= 2, "{} write calls", w.get_ref().calls);
    }

    #[test]
    fn oversize_writes_nothing() {
        let codec = Codec::builder().max_frame_len(3).build().unwrap();
        let mut w = FrameWriter::with_codec(Vec::new(), codec);
        assert!(matches!(
            w.write_frame(b"abcd"),
            Err(Error::FrameTooLargeToSend { len: 4, max: 3 })
        ));
        w.write_frame(b"abc").unwrap();
        assert_eq!(w.into_inner().unwrap(), b"\0\0\0\x03abc");
    }

    #[test]
    fn drop_flushes() {
        let mut out = Vec::new();
        {
            let mut w = FrameWriter::new(&mut out);
            w.write_frame(b"z").unwrap();
        }
        assert_eq!(out, b"\0\0\0\x01z");
    }
}
