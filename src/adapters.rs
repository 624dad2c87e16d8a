//! Every adapter a `Codec` builds, in one place: `new_decoder`,
//! `new_read`, `new_write`, `new_framed` and `new_tokio_codec`. The codec's own
//! constructors (`new`, `from_format`, `builder`, `FromStr`) are in
//! `codec.rs`. This file sits at the top of the module graph: it uses the
//! adapters, nothing uses it.

#[cfg(feature = "std")]
use std::io::{Read, Write};

use crate::codec::Codec;
use crate::decode::FrameDecoder;
#[cfg(feature = "tokio")]
use crate::framed_codec::FrameCodec;
#[cfg(feature = "std")]
use crate::{framed::Framed, read::FrameReader, write::FrameWriter};

impl Codec {
    /// A fresh [`FrameDecoder`] for this configuration (no `std` needed).
    ///
    /// ```
    /// let codec: lenframe::Codec = "<H".parse()?;
    /// let mut dec = codec.new_decoder();
    /// assert_eq!(dec.decode_slice(b"\x02\0hi")?.frame, Some(&b"hi"[..]));
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn new_decoder(&self) -> FrameDecoder {
        FrameDecoder::new(*self)
    }

    /// A [`FrameReader`] over `inner` with this configuration.
    ///
    /// ```
    /// let codec = lenframe::Codec::builder().format("B".parse()?).build()?;
    /// let mut r = codec.new_read(&b"\x01z"[..]);
    /// assert_eq!(r.read_frame()?.as_deref(), Some(&b"z"[..]));
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn new_read<R: Read>(&self, inner: R) -> FrameReader<R> {
        FrameReader::with_codec(inner, *self)
    }

    /// A [`FrameWriter`] over `inner` with this configuration.
    ///
    /// ```
    /// let codec = lenframe::Codec::builder().format("B".parse()?).build()?;
    /// let mut w = codec.new_write(Vec::new());
    /// w.write_frame(b"z")?;
    /// assert_eq!(w.into_inner()?, b"\x01z");
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn new_write<W: Write>(&self, inner: W) -> FrameWriter<W> {
        FrameWriter::with_codec(inner, *self)
    }

    /// A [`Framed`] over `stream` with this configuration.
    ///
    /// ```
    /// # fn main() -> Result<(), lenframe::Error> {
    /// // struct.pack('i', len(data)), as in the Python tutorials.
    /// let codec = lenframe::Codec::new("i".parse()?);
    /// let mut conn = codec.new_framed(std::io::Cursor::new(Vec::new()));
    /// conn.send("hi")?;
    /// assert_eq!(conn.get_ref().get_ref(), b"\x02\0\0\0hi");
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "std")]
    pub fn new_framed<S: Read + Write>(&self, stream: S) -> Framed<S> {
        Framed::with_codec(stream, *self)
    }

    /// A tokio-util [`FrameCodec`] with this configuration (feature `tokio`).
    #[cfg(feature = "tokio")]
    pub fn new_tokio_codec(&self) -> FrameCodec {
        FrameCodec::new(*self)
    }
}
