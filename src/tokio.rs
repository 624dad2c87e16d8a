//! Feature `tokio`: tokio-util's `Decoder` and `Encoder` for
//! [`FrameCodec`] and [`FrameResultCodec`], forwarding to the logic the
//! types share with the asynchronous-codec impls (`framed_codec.rs`).
//! The encoders take what the blocking faces take: any `T: AsRef<[u8]>`
//! (`framed.send("jason")`, as with the blocking `Framed::send`).
//!
//! tokio-util's `FramedRead`/`Framed` end their stream after any decoder
//! error: they yield the `Err`, then `None`. So a recoverable report (an
//! oversize frame skipped under `Oversize::Skip`) cannot be a decoder error
//! if the stream is to go on; `FrameResultCodec` returns it as an item.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::Error;
use crate::framed_codec::{FrameCodec, FrameResultCodec};

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        self.decode_frame(src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        self.decode_frame_eof(src)
    }
}

/// The payload types of the blocking faces (`Framed::send`,
/// `FrameWriter::write_frame`): anything `AsRef<[u8]>`, such as `&str`,
/// `&[u8]`, `&[u8; N]`, `String`, `Vec<u8>`, `Bytes`, `BytesMut` and
/// references to them. The payload is copied into the write buffer after
/// its header, whatever its type.
impl<T: AsRef<[u8]>> Encoder<T> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), Error> {
        self.encode_frame(item.as_ref(), dst)
    }
}

impl Decoder for FrameResultCodec {
    type Item = Result<Bytes, Error>;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Error> {
        self.decode_item(src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Error> {
        self.decode_item_eof(src)
    }
}

/// The same payload types as [`FrameCodec`]'s: anything `AsRef<[u8]>`.
impl<T: AsRef<[u8]>> Encoder<T> for FrameResultCodec {
    type Error = Error;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), Error> {
        self.encode_frame(item.as_ref(), dst)
    }
}
