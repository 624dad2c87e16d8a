//! `FrameCodec` and `FrameResultCodec`: tokio-util codecs over the same
//! sans-IO state machine (feature `tokio`).
//!
//! tokio-util's `FramedRead`/`Framed` end their stream after any decoder
//! error: they yield the `Err`, then `None`. So a recoverable report (an
//! oversize frame skipped under `Oversize::Skip`) cannot be a decoder error
//! if the stream is to go on; `FrameResultCodec` returns it as an item.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::codec::Codec;
use crate::decode::FrameDecoder;
use crate::error::Error;

/// Largest step the codec asks the read buffer to grow by at once.
const GROWTH_STEP: usize = 64 * 1024;

/// A [`tokio_util::codec::Decoder`] and [`Encoder`] with lenframe's rules,
/// for `FramedRead`, `FramedWrite` and `Framed` (feature `tokio`).
///
/// It drives the same [`FrameDecoder`] as the blocking
/// [`FrameReader`](crate::FrameReader): same header formats, limits and
/// typed errors (a clean end of stream vs [`Error::Truncated`] in header or
/// payload). Unlike tokio-util's `LengthDelimitedCodec`, which reserves the
/// whole declared length as soon as it reads a header, it asks the read
/// buffer to grow only with what arrives: at most max(64 KiB, what is
/// buffered) at a time.
///
/// # Oversize frames under `Oversize::Skip`
///
/// One difference from the blocking reader: `FramedRead` and `Framed` end
/// their stream after any error the decoder returns (tokio-util's rule).
/// Under [`Oversize::Skip`](crate::Oversize::Skip) this codec reports an
/// oversize frame as [`Error::FrameTooLarge`] like the blocking reader, but
/// the stream then ends, and the frames after it are never seen. To go on
/// past a skipped frame as [`FrameReader`](crate::FrameReader) does, use
/// [`FrameResultCodec`], which returns that report as an item.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use lenframe::FrameCodec;
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = FrameCodec::new(lenframe::Codec::new("<H".parse()?));
/// let mut buf = BytesMut::new();
/// codec.encode(&b"hello"[..], &mut buf)?;
/// assert_eq!(&buf[..], b"\x05\0hello");
/// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"hello"[..]));
/// # Ok::<(), lenframe::Error>(())
/// ```
///
/// With tokio: `Framed::new(tcp_stream, FrameCodec::default())` is a
/// `Stream` of `Result<Bytes, Error>` and a `Sink` of `Bytes` or `&[u8]`.
#[derive(Debug, Clone, Default)]
pub struct FrameCodec {
    decoder: FrameDecoder,
}

impl FrameCodec {
    /// A codec with `codec`'s configuration.
    pub fn new(codec: Codec) -> FrameCodec {
        FrameCodec {
            decoder: codec.new_decoder(),
        }
    }

    /// The configuration.
    pub fn codec(&self) -> &Codec {
        self.decoder.codec()
    }

    /// The state machine underneath.
    pub fn decoder(&self) -> &FrameDecoder {
        &self.decoder
    }
}

impl Codec {
    /// A tokio-util [`FrameCodec`] with this configuration (feature `tokio`).
    pub fn new_tokio_codec(&self) -> FrameCodec {
        FrameCodec::new(*self)
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        let frame = self.decoder.decode(src)?;
        if frame.is_none() {
            // Grow with what arrives, never to what the header claims.
            let step = self
                .decoder
                .needed(src.len())
                .min(src.len().max(GROWTH_STEP));
            src.reserve(step);
        }
        Ok(frame)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        self.decoder.decode_eof(src)
    }
}

impl Encoder<&[u8]> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
        self.decoder.codec().encode(item, dst)
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), Error> {
        self.decoder.codec().encode(&item, dst)
    }
}

impl Encoder<BytesMut> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, item: BytesMut, dst: &mut BytesMut) -> Result<(), Error> {
        self.decoder.codec().encode(&item, dst)
    }
}

/// A [`FrameCodec`] whose items are `Result<Bytes, Error>`, so that
/// `FramedRead` and `Framed` go on past an oversize frame skipped under
/// [`Oversize::Skip`](crate::Oversize::Skip), exactly as the blocking
/// [`FrameReader`](crate::FrameReader) does (feature `tokio`).
///
/// tokio-util ends a framed stream after any decoder error, so this codec
/// returns the recoverable report, [`Error::FrameTooLarge`] with the
/// decoder still going, as an item (`Ok(Err(..))` on the stream) and keeps
/// decoding. Every other error stays fatal and ends the stream (`Err(..)`):
/// a bad header that fails the [`FrameDecoder`] (including an oversize
/// frame under [`Oversize::Error`](crate::Oversize::Error)), a truncated
/// stream, an I/O error. `.and_then(|item| item)` (or `Result::flatten`)
/// turns the stream into the blocking reader's sequence of
/// `Result<Bytes, Error>`.
///
/// It drives the same one [`FrameDecoder`] through a [`FrameCodec`], and
/// encodes whatever [`FrameCodec`] encodes.
///
/// # Examples
///
/// Frames `a`, one over the maximum, then `b`: the stream reports the
/// oversize frame and goes on.
///
/// ```
/// use futures_util::StreamExt;
/// use lenframe::{Codec, Error, FrameResultCodec, Oversize};
/// use tokio_util::codec::FramedRead;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let codec = Codec::builder().max_frame_len(4).oversize(Oversize::Skip).build()?;
/// let wire: &[u8] = b"\0\0\0\x01a\0\0\0\x06abcdef\0\0\0\x01b";
/// // A `TcpStream` in real life.
/// let mut frames = FramedRead::new(wire, FrameResultCodec::new(codec)).map(|item| item.and_then(|frame| frame));
/// let mut got = Vec::new();
/// while let Some(item) = frames.next().await {
///     got.push(item);
/// }
/// assert!(matches!(&got[..], [
///     Ok(a),
///     Err(Error::FrameTooLarge { len: 6, max: 4 }),
///     Ok(b),
/// ] if a == "a" && b == "b"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct FrameResultCodec {
    inner: FrameCodec,
}

impl FrameResultCodec {
    /// A codec with `codec`'s configuration.
    pub fn new(codec: Codec) -> FrameResultCodec {
        FrameResultCodec {
            inner: FrameCodec::new(codec),
        }
    }

    /// The configuration.
    pub fn codec(&self) -> &Codec {
        self.inner.codec()
    }

    /// The state machine underneath.
    pub fn decoder(&self) -> &FrameDecoder {
        self.inner.decoder()
    }

    /// A skip report becomes an item (the next call discards the frame);
    /// every other error stays an error and ends the stream.
    fn as_item(
        &self,
        decoded: Result<Option<Bytes>, Error>,
    ) -> Result<Option<Result<Bytes, Error>>, Error> {
        match decoded {
            Ok(frame) => Ok(frame.map(Ok)),
            Err(e) if self.decoder().is_skip_report(&e) => Ok(Some(Err(e))),
            Err(e) => Err(e),
        }
    }
}

impl Decoder for FrameResultCodec {
    type Item = Result<Bytes, Error>;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Error> {
        let decoded = self.inner.decode(src);
        self.as_item(decoded)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Error> {
        let decoded = self.inner.decoder.decode_eof(src);
        self.as_item(decoded)
    }
}

impl<T> Encoder<T> for FrameResultCodec
where
    FrameCodec: Encoder<T, Error = Error>,
{
    type Error = Error;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), Error> {
        self.inner.encode(item, dst)
    }
}
