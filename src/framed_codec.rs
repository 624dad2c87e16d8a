//! `FrameCodec` and `FrameResultCodec`: the codec types of the async
//! adapters (feature `tokio` or `futures-io`).
//!
//! The types, their constructors and all of their decoding, buffer growth
//! and encoding live here, once. `tokio.rs` (tokio-util's `Decoder` and
//! `Encoder`) and `futures_io.rs` (asynchronous-codec's) only forward to
//! the inherent methods below, so both ecosystems get the same frames and
//! errors from the same [`FrameDecoder`].
//!
//! Maintainer notes: what the two framing libraries do with a decoder, as
//! read in their sources (tokio-util 0.7 `src/codec/framed_impl.rs`,
//! asynchronous-codec 0.7.0 `src/framed_read.rs`, `FramedRead2::poll_next`):
//!
//! * Reading. tokio-util reads into the buffer's spare capacity, so the
//!   decoder's `reserve` decides how far it grows; asynchronous-codec reads
//!   through an 8 KiB stack array and appends what arrived
//!   (`extend_from_slice`), so its buffer grows with data whatever the
//!   decoder does, and our `reserve` only saves reallocations.
//! * End of stream. tokio-util always calls `decode_eof`. asynchronous-codec
//!   ends the stream cleanly, without calling `decode_eof`, when the buffer
//!   is empty, which would make a stream cut inside a skipped oversize
//!   frame (whose bytes are discarded as they arrive) look like a clean end.
//!   So `decode_frame` never empties the buffer in the middle of a frame:
//!   it holds the last buffered byte back (see `hold_back`), and
//!   `decode_eof` then reports the truncation.
//! * Errors. tokio-util ends the stream after any decoder error;
//!   asynchronous-codec polls the decoder again. See the type docs.

use bytes::{Buf, Bytes, BytesMut};

use crate::codec::Codec;
use crate::decode::FrameDecoder;
use crate::error::{Error, Result};

/// Largest step the codec asks the read buffer to grow by at once.
const GROWTH_STEP: usize = 64 * 1024;

/// Capacity of a read buffer given back after a large frame: the initial
/// capacity of tokio-util's `FramedRead`.
const IDLE_CAPACITY: usize = 8 * 1024;

/// After a frame of at least half [`GROWTH_STEP`] (its allocation may be
/// 64 KiB or more): if the read buffer holds less than [`IDLE_CAPACITY`],
/// moves what it holds to a fresh small buffer, so the large allocation is freed (once the frames sharing it are
/// dropped) instead of being kept by an idle connection.
fn shrink_if_drained(src: &mut BytesMut) {
    // Not `src.capacity()`: after a frame is split off, the buffer is a view
    // of the allocation's tail and says less than the allocation holds.
    if src.len() < IDLE_CAPACITY {
        let mut fresh = BytesMut::with_capacity(IDLE_CAPACITY.max(src.len()));
        fresh.extend_from_slice(src);
        *src = fresh;
    }
}

/// lenframe's rules as a codec for async framing: the `Decoder` and
/// `Encoder` of tokio-util (feature `tokio`) and of asynchronous-codec
/// (feature `futures-io`), for their `FramedRead`, `FramedWrite` and
/// `Framed`.
///
/// It drives the same [`FrameDecoder`] as the blocking
/// [`FrameReader`](crate::FrameReader): same header formats, limits and
/// typed errors (a clean end of stream vs [`Error::Truncated`] in header or
/// payload). Unlike tokio-util's `LengthDelimitedCodec`, which reserves the
/// whole declared length as soon as it reads a header, it asks the read
/// buffer to grow only with what arrives: at most max(64 KiB, what is
/// buffered) at a time. (asynchronous-codec's `FramedRead` appends each
/// read of at most 8 KiB to its buffer, so there the buffer grows with the
/// data anyway.)
///
/// Items are [`Bytes`] (zero-copy, sharing the read buffer). What a sink
/// takes depends on the library:
///
/// * tokio-util: the payload types of the blocking
///   [`Framed::send`](crate::Framed::send), anything `AsRef<[u8]>`: `&str`,
///   `&[u8]`, `&[u8; N]`, `String`, `Vec<u8>`, [`Bytes`], [`BytesMut`], and
///   references to them (`framed.send("hello").await`). With that many,
///   `flush` and `close`, which take no payload, need one named:
///   `SinkExt::<&[u8]>::close(&mut framed).await` (a bare `framed.close()`
///   is E0283, "type annotations needed"); `send` flushes by itself.
/// * asynchronous-codec: its `Encoder` has one item type, and here it is
///   `&[u8]`, which every byte container lends: `sink.send(b"hello")`,
///   `sink.send(&frame)` for a `Bytes` or a `Vec<u8>`, and
///   `sink.send(text.as_bytes())` for a `&str` or a `String`
///   (`sink.send("hello")` is E0308, "expected `&[u8]`, found `&str`").
///
/// # Errors and the end of the stream
///
/// The two libraries differ after the decoder returns an error:
///
/// * tokio-util's `FramedRead` and `Framed` end their stream after any
///   error: they yield the `Err`, then `None`. Under
///   [`Oversize::Skip`](crate::Oversize::Skip) this codec reports an
///   oversize frame as [`Error::FrameTooLarge`] like the blocking reader,
///   but the stream then ends and the frames after it are never seen; to go
///   on past a skipped frame, use [`FrameResultCodec`].
/// * asynchronous-codec 0.7's `FramedRead` and `Framed` never end a stream
///   on an error: the next poll calls the decoder (or reads) again. After a
///   skipped oversize frame that simply goes on with the next frame. After
///   a fatal error (a bad header that fails the decoder, a stream cut
///   inside a frame) this codec does not repeat the error (a loop that
///   skips errors would spin on a hostile peer): it discards whatever
///   arrives, and the stream yields `None` once the peer closes. A codec
///   cannot end an asynchronous-codec stream sooner, so to close the
///   connection at once, stop at the first fatal `Err` and drop the
///   stream. With [`FrameResultCodec`] every `Err` is fatal.
///
/// # Examples
///
/// The tokio-util traits, called by hand:
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use bytes::BytesMut;
/// use lenframe::FrameCodec;
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = FrameCodec::new(lenframe::Codec::new("<H".parse()?));
/// let mut buf = BytesMut::new();
/// codec.encode(&b"hello"[..], &mut buf)?;
/// assert_eq!(&buf[..], b"\x05\0hello");
/// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"hello"[..]));
/// # }
/// # Ok::<(), lenframe::Error>(())
/// ```
///
/// With tokio-util's `Framed` (over a tokio `TcpStream` in real life; an
/// in-memory pipe here), a `Stream` of `Result<Bytes, Error>` and a `Sink`
/// of `&str`, `&[u8]`, `Vec<u8>`, `Bytes`, ... (`SinkExt` is in
/// futures-util with its `sink` feature):
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lenframe::Error> {
/// use futures_util::{SinkExt, StreamExt};
/// use lenframe::FrameCodec;
/// use tokio_util::codec::Framed;
///
/// let (client, server) = tokio::io::duplex(64 * 1024);
/// let mut client = Framed::new(client, FrameCodec::default());
/// let mut server = Framed::new(server, FrameCodec::default());
///
/// client.send("hello").await?; // &str, like the blocking Framed::send
/// client.send(vec![1, 2, 3]).await?; // Vec<u8>
/// client.send(b"\0\0").await?; // &[u8; 2]
/// assert_eq!(server.next().await.unwrap()?, "hello");
/// assert_eq!(server.next().await.unwrap()?, [1, 2, 3][..]);
/// assert_eq!(server.next().await.unwrap()?, b"\0\0"[..]);
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
///
/// asynchronous-codec over any futures-io `AsyncRead`/`AsyncWrite` (an
/// in-memory one here; a smol or async-std `TcpStream` in real life):
///
/// ```
/// # #[cfg(feature = "futures-io")]
/// # smol::block_on(async {
/// use asynchronous_codec::{FramedRead, FramedWrite};
/// use futures_util::{SinkExt, TryStreamExt};
/// use lenframe::FrameCodec;
///
/// let mut sink = FramedWrite::new(Vec::new(), FrameCodec::default());
/// sink.send(b"hello").await?; // the sink takes &[u8]; &[u8; N] coerces
/// sink.send("".as_bytes()).await?; // a &str lends its bytes
/// let wire = sink.into_inner();
/// assert_eq!(wire, b"\0\0\0\x05hello\0\0\0\0");
///
/// let mut frames = FramedRead::new(&wire[..], FrameCodec::default());
/// assert_eq!(frames.try_next().await?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(frames.try_next().await?.as_deref(), Some(&b""[..]));
/// assert_eq!(frames.try_next().await?, None); // clean end of stream
/// # Ok::<(), lenframe::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct FrameCodec {
    decoder: FrameDecoder,
    /// A fatal error was returned: the stream is over.
    ended: bool,
}

impl From<Codec> for FrameCodec {
    fn from(codec: Codec) -> FrameCodec {
        FrameCodec::new(codec)
    }
}

impl FrameCodec {
    /// A codec with `codec`'s configuration.
    pub fn new(codec: Codec) -> FrameCodec {
        FrameCodec {
            decoder: codec.new_decoder(),
            ended: false,
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

    /// `Decoder::decode` of both libraries: the next frame, growing `src`
    /// with what arrives, never to what a header claims.
    pub(crate) fn decode_frame(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>> {
        if self.ended {
            src.clear();
            return Ok(None);
        }
        let frame = if self.hold_back(src) {
            None
        } else {
            let decoded = self.decoder.decode(src);
            self.end_on_fatal(decoded)?
        };
        match &frame {
            None => {
                let step = self
                    .decoder
                    .needed(src.len())
                    .min(src.len().max(GROWTH_STEP));
                src.reserve(step);
            }
            Some(frame) if frame.len() >= GROWTH_STEP / 2 => shrink_if_drained(src),
            Some(_) => {}
        }
        Ok(frame)
    }

    /// Mid-frame with too few bytes to finish it: discards what a skipped
    /// frame lets go of, but never the last buffered byte, so the buffer is
    /// not empty while a frame is unfinished (asynchronous-codec takes an
    /// empty buffer at end of stream for a clean end and never asks
    /// `decode_eof`). The byte held back is simply one that has not arrived
    /// yet as far as the decoder knows; `decode_eof` passes it on. Returns
    /// true if it did the call's work (no frame can come of it).
    fn hold_back(&mut self, src: &mut BytesMut) -> bool {
        // `needed > 0`: no frame is complete and no error is pending (a
        // failed decoder needs 0), so decoding one byte fewer only
        // discards, or does nothing.
        if src.is_empty() || self.decoder.is_at_boundary() || self.decoder.needed(src.len()) == 0 {
            return false;
        }
        // Neither a frame nor an error can come of it (see above); were
        // there an error, the decoder would have failed and say it again.
        let rest = src.len() - 1;
        if let Ok(done) = self.decoder.decode_slice(&src[..rest]) {
            src.advance(done.consumed);
        }
        true
    }

    /// `Decoder::decode_eof` of both libraries.
    pub(crate) fn decode_frame_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>> {
        if self.ended {
            src.clear();
            return Ok(None);
        }
        let decoded = self.decoder.decode_eof(src);
        self.end_on_fatal(decoded)
    }

    /// Passes `decoded` on, and ends the stream if it is a fatal error
    /// (anything but the report of a frame that `Oversize::Skip` skips):
    /// from then on the codec discards what is buffered and returns
    /// `Ok(None)`, so asynchronous-codec (which polls again after an
    /// error) never gets the same error twice; it ends at end of stream.
    fn end_on_fatal(&mut self, decoded: Result<Option<Bytes>>) -> Result<Option<Bytes>> {
        if let Err(err) = &decoded {
            self.ended = !self.decoder.is_skip_report(err);
        }
        decoded
    }

    /// `Encoder::encode` of both libraries.
    pub(crate) fn encode_frame(&self, item: &[u8], dst: &mut BytesMut) -> Result<()> {
        self.decoder.codec().encode(item, dst)
    }
}

/// A [`FrameCodec`] whose items are `Result<Bytes, Error>`, so that a
/// framed stream goes on past an oversize frame skipped under
/// [`Oversize::Skip`](crate::Oversize::Skip), exactly as the blocking
/// [`FrameReader`](crate::FrameReader) does, and every `Err` of the stream
/// is fatal (feature `tokio` or `futures-io`).
///
/// It returns the recoverable report, [`Error::FrameTooLarge`] with the
/// decoder still going, as an item (`Ok(Err(..))` on the stream) and keeps
/// decoding. Every other error stays an error of the stream (`Err(..)`): a
/// bad header that fails the [`FrameDecoder`] (including an oversize frame
/// under [`Oversize::Error`](crate::Oversize::Error)), a truncated stream,
/// an I/O error. The stream ends there (tokio-util), or yields nothing
/// more and ends when the peer closes (asynchronous-codec; see
/// [`FrameCodec`]); `TryStreamExt::try_next` stops at it. `.and_then(|item| item)` (or
/// `Result::flatten`) turns the stream into the blocking reader's sequence
/// of `Result<Bytes, Error>`.
///
/// It drives the same one [`FrameDecoder`] through a [`FrameCodec`], and
/// encodes whatever [`FrameCodec`] encodes.
///
/// # Examples
///
/// Frames `a`, one over the maximum, then `b`: the stream reports the
/// oversize frame and goes on. With tokio-util:
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lenframe::Error> {
/// use futures_util::StreamExt;
/// use lenframe::{Codec, Error, FrameResultCodec, Oversize};
/// use tokio_util::codec::FramedRead;
///
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
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
///
/// With asynchronous-codec, stopping at the first fatal error:
///
/// ```
/// # #[cfg(feature = "futures-io")]
/// # smol::block_on(async {
/// use asynchronous_codec::FramedRead;
/// use futures_util::TryStreamExt;
/// use lenframe::{Codec, Error, FrameResultCodec, Oversize};
///
/// let codec = Codec::builder().max_frame_len(4).oversize(Oversize::Skip).build()?;
/// // "a", an oversize frame, "b", then a stream cut inside a header.
/// let wire: &[u8] = b"\0\0\0\x01a\0\0\0\x06abcdef\0\0\0\x01b\0\0";
/// let mut frames = FramedRead::new(wire, FrameResultCodec::new(codec));
/// let mut got = Vec::new();
/// let fatal = loop {
///     match frames.try_next().await {
///         Ok(Some(item)) => got.push(item),
///         Ok(None) => break None,
///         Err(e) => break Some(e),
///     }
/// };
/// assert!(matches!(&got[..], [
///     Ok(a),
///     Err(Error::FrameTooLarge { len: 6, max: 4 }),
///     Ok(b),
/// ] if a == "a" && b == "b"));
/// assert!(matches!(fatal, Some(Error::Truncated { got: 2, expected: 4, .. })));
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct FrameResultCodec {
    inner: FrameCodec,
}

impl From<Codec> for FrameResultCodec {
    fn from(codec: Codec) -> FrameResultCodec {
        FrameResultCodec::new(codec)
    }
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

    /// `Decoder::decode` of both libraries.
    pub(crate) fn decode_item(
        &mut self,
        src: &mut BytesMut,
    ) -> Result<Option<Result<Bytes, Error>>> {
        let decoded = self.inner.decode_frame(src);
        self.as_item(decoded)
    }

    /// `Decoder::decode_eof` of both libraries.
    pub(crate) fn decode_item_eof(
        &mut self,
        src: &mut BytesMut,
    ) -> Result<Option<Result<Bytes, Error>>> {
        let decoded = self.inner.decode_frame_eof(src);
        self.as_item(decoded)
    }

    /// `Encoder::encode` of both libraries.
    pub(crate) fn encode_frame(&self, item: &[u8], dst: &mut BytesMut) -> Result<()> {
        self.inner.encode_frame(item, dst)
    }

    /// A skip report becomes an item (the next call discards the frame);
    /// every other error stays an error of the stream.
    fn as_item(&self, decoded: Result<Option<Bytes>>) -> Result<Option<Result<Bytes, Error>>> {
        match decoded {
            Ok(frame) => Ok(frame.map(Ok)),
            Err(e) if self.decoder().is_skip_report(&e) => Ok(Some(Err(e))),
            Err(e) => Err(e),
        }
    }
}
