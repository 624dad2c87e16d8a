//! Streaming frames too large to buffer: a frame's payload as a bounded
//! `Read`, and a frame written from any `Read` of known length.

use std::io::{self, Read, Write};

use crate::error::Result;
use crate::read::FrameReader;
use crate::write::FrameWriter;

/// Copy buffer of streamed writes and drains.
const CHUNK: usize = 64 * 1024;

impl<R: Read> FrameReader<R> {
    /// The next frame as a [`Read`] that yields exactly its bytes and then
    /// end of file, instead of a buffer: a 4 GiB frame passes through a few
    /// KiB of memory. The bytes are the ones [`read_frame`](Self::read_frame)
    /// would return for the frame (the payload, preceded by any header bytes
    /// beyond [`Codec::num_skip`](crate::Codec::num_skip)). `Ok(None)` at a
    /// clean end of stream.
    ///
    /// `max_len` limits the streamed frame's payload separately from
    /// [`Codec::max_frame_len`](crate::Codec::max_frame_len) (which limits
    /// buffered frames); it is clamped to what the header can express. Under
    /// [`Oversize::Error`](crate::Oversize::Error), a frame over `max_len`
    /// fails the reader for good, even if `read_frame` would have taken it:
    /// pick `max_len` at least as large as the codec's maximum.
    ///
    /// The frame's progress is a state of the reader's
    /// [`FrameDecoder`](crate::FrameDecoder), so streaming mixes freely with
    /// the other calls: a [`PayloadReader`] dropped part-way (even after a
    /// `WouldBlock`) does no I/O, and the next call on the reader discards
    /// the rest of that frame as it arrives, then goes on with the next one.
    ///
    /// # Errors
    ///
    /// The header errors of [`read_frame`](Self::read_frame), with `max_len`
    /// as the limit: under [`Oversize::Skip`](crate::Oversize::Skip) an
    /// oversize frame is reported once, and the next call skips it; any
    /// other bad header fails the reader, which then returns that error
    /// from every call (streaming or not). [`Error::Truncated`] if the
    /// stream ends in the header; I/O errors (retryable ones can be
    /// retried). Reading the frame returns an `UnexpectedEof` I/O error
    /// (wrapping [`Error::Truncated`]) if the stream ends inside it.
    ///
    /// [`Error::Truncated`]: crate::Error::Truncated
    ///
    /// ```
    /// use std::io::Read;
    /// let mut r = lenframe::FrameReader::new(&b"\0\0\0\x05hello\0\0\0\x01!"[..]);
    /// let mut payload = r.read_frame_stream(1 << 40)?.unwrap();
    /// let mut first = [0u8; 2];
    /// payload.read_exact(&mut first)?;
    /// assert_eq!(&first, b"he");
    /// drop(payload); // "llo" is discarded by the next call
    /// assert_eq!(r.read_frame()?.as_deref(), Some(&b"!"[..]));
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn read_frame_stream(&mut self, max_len: usize) -> Result<Option<PayloadReader<'_, R>>> {
        Ok(self
            .begin_stream(max_len as u64)?
            .map(|len| PayloadReader { reader: self, len }))
    }
}

/// One frame as a bounded [`Read`], from
/// [`FrameReader::read_frame_stream`]. Yields exactly the frame's bytes,
/// then end of file. Dropping it part-way leaves the rest of the frame to
/// be discarded by the reader's next call.
#[derive(Debug)]
pub struct PayloadReader<'a, R: Read> {
    reader: &'a mut FrameReader<R>,
    len: u64,
}

impl<R: Read> PayloadReader<'_, R> {
    /// The frame's length in bytes: the payload length the header declared,
    /// plus any header bytes kept (see
    /// [`Codec::num_skip`](crate::Codec::num_skip)).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty frame.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the frame not yet read.
    pub fn remaining(&self) -> u64 {
        self.reader.decoder().stream_remaining().unwrap_or(0)
    }
}

impl<R: Read> Read for PayloadReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.reader.read_stream(out)
    }
}

impl<W: Write> FrameWriter<W> {
    /// Writes one frame of `len` payload bytes taken from `source` (a file,
    /// a socket, ...) in bounded memory: buffered frames are flushed, then
    /// the header and the payload go out in 64 KiB pieces. Streamed frames
    /// are limited only by what the header can express (the receiver sets
    /// its own limit), not by [`Codec::max_frame_len`](crate::Codec::max_frame_len).
    ///
    /// Meant for blocking writers: any error of the inner writer
    /// (`WouldBlock` included) part-way leaves a partial frame on the wire,
    /// so the writer then refuses further frames. If `source` ends before
    /// `len` bytes, or has more than `len`, the error says so and the writer
    /// refuses further frames too (on early end the stream is cut short).
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLargeToSend`] if the header cannot express `len` (nothing
    /// written); [`Error::Io`] with `UnexpectedEof` (source too short) or
    /// `InvalidInput` (source too long), or from either side's I/O;
    /// [`Error::WriterPoisoned`] after an earlier failure.
    ///
    /// [`Error::FrameTooLargeToSend`]: crate::Error::FrameTooLargeToSend
    /// [`Error::Io`]: crate::Error::Io
    /// [`Error::WriterPoisoned`]: crate::Error::WriterPoisoned
    ///
    /// ```
    /// let mut w = lenframe::FrameWriter::new(Vec::new());
    /// let mut file: &[u8] = b"contents";
    /// w.write_frame_from(8, &mut file)?;
    /// assert_eq!(w.into_inner()?, b"\0\0\0\x08contents");
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn write_frame_from<S: Read>(&mut self, len: u64, source: &mut S) -> Result<()> {
        self.check_poison()?;
        let stream_codec = self.codec().with_max_frame_len(usize::MAX)?;
        let header = stream_codec.header(usize::try_from(len).unwrap_or(usize::MAX))?;
        self.flush_buf()?;
        let result = self.copy_frame(&header, len, source);
        if result.is_err() {
            self.set_poisoned();
        }
        result
    }

    /// Writes the header, then `len` bytes of `source`, straight through.
    fn copy_frame<S: Read>(&mut self, header: &[u8], len: u64, source: &mut S) -> Result<()> {
        self.write_through(header)?;
        let chunk_len = usize::try_from(len).map_or(CHUNK, |len| len.clamp(1, CHUNK));
        let mut chunk = vec![0u8; chunk_len];
        let mut left = len;
        while left > 0 {
            // At most chunk.len(), so it fits usize.
            let want = (chunk.len() as u64).min(left) as usize;
            let n = match source.read(&mut chunk[..want]) {
                Ok(0) => {
                    let msg = format!("source ended after {} of {len} bytes", len - left);
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg).into());
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            self.write_through(&chunk[..n])?;
            left -= n as u64;
        }
        // The frame is complete and aligned; a longer source is still a
        // caller error worth reporting.
        let mut probe = [0u8; 1];
        loop {
            match source.read(&mut probe) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    let msg = format!("source is longer than the declared {len} bytes");
                    return Err(io::Error::new(io::ErrorKind::InvalidInput, msg).into());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
