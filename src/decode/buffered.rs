//! The `BytesMut` face of [`FrameDecoder`]: zero-copy [`Bytes`] frames out
//! of a caller's buffer (feature `alloc`).

use bytes::{Buf, Bytes, BytesMut};

use super::{FrameDecoder, Step};
use crate::error::Result;

impl FrameDecoder {
    /// Takes the next frame off the front of `src` as zero-copy [`Bytes`].
    ///
    /// Returns `Ok(None)` when `src` does not yet hold a whole frame; the
    /// bytes stay in `src` (apart from discarded oversize bytes under
    /// [`Oversize::Skip`](crate::Oversize::Skip), or the rest of an abandoned streamed frame) and
    /// the call resumes where it stopped once more
    /// bytes are appended. `src` is never grown by the decoder.
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLarge`](crate::Error::FrameTooLarge),
    /// [`Error::NegativeLength`](crate::Error::NegativeLength),
    /// [`Error::AdjustmentOverflow`](crate::Error::AdjustmentOverflow) for a
    /// bad header. Under [`Oversize::Skip`](crate::Oversize::Skip) an oversize frame is reported
    /// once and the next call skips it; any other bad header fails the
    /// decoder for good.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// let mut dec = lenframe::FrameDecoder::default();
    /// let mut buf = BytesMut::from(&b"\0\0\0\x02hi\0\0"[..]);
    /// let frame = dec.decode(&mut buf)?.unwrap();
    /// assert_eq!(&frame[..], b"hi");
    /// assert_eq!(&buf[..], b"\0\0"); // the next header, kept
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    #[inline]
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>> {
        loop {
            match self.step(src)? {
                Step::Frame { start, end } => {
                    let mut frame = src.split_to(end);
                    frame.advance(start);
                    return Ok(Some(frame.freeze()));
                }
                Step::Discard(n) => src.advance(n),
                Step::Need => return Ok(None),
            }
        }
    }

    /// Like [`decode`](Self::decode), for when the stream has ended: a
    /// frame if one is complete, `Ok(None)` at a clean end (between frames,
    /// nothing left), or [`Error::Truncated`](crate::Error::Truncated) with
    /// how many bytes of the header or payload arrived.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use lenframe::{Error, FramePart};
    /// let mut dec = lenframe::FrameDecoder::default();
    /// let mut buf = BytesMut::from(&b"\0\0\0\x09abc"[..]);
    /// let err = dec.decode_eof(&mut buf).unwrap_err();
    /// assert!(matches!(err, Error::Truncated { part: FramePart::Payload, got: 3, expected: 9 }));
    /// ```
    pub fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None => self.end_of_stream(src).map(|()| None),
        }
    }
}
