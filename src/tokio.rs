//! `FrameCodec`: a tokio-util codec over the same sans-IO state machine
//! (feature `tokio`).

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
