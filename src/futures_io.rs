//! Feature `futures-io`: asynchronous-codec's `Decoder` and `Encoder` for
//! [`FrameCodec`] and [`FrameResultCodec`], so that
//! `asynchronous_codec::{FramedRead, FramedWrite, Framed}` frame any
//! futures-io `AsyncRead`/`AsyncWrite` (smol, async-std, async-net,
//! libp2p's streams) with lenframe's rules.
//!
//! Like the tokio-util impls, these only forward to the logic the types
//! share (`framed_codec.rs`): one decoder, one growth rule, one encoder.
//!
//! What asynchronous-codec 0.7.0 does with a decoder (its
//! `src/framed_read.rs`, `FramedRead2::poll_next`), and what follows:
//!
//! * It reads through an 8 KiB stack array and appends what arrived to its
//!   read buffer (which starts at 8 KiB), so the buffer grows with the
//!   data, never with what a header claims.
//! * It does not end a stream after a decoder or I/O error: the next poll
//!   decodes (or reads) again. A skip report under `Oversize::Skip` is then
//!   followed by the next frame, with either codec. A fatal error would
//!   come on every poll (a failed decoder repeats its error), so the shared
//!   decode ends the stream after it: it returns it once, then discards
//!   what arrives until end of stream.
//! * At end of stream with an empty buffer it ends cleanly without calling
//!   `decode_eof`; the shared decode keeps a byte buffered while a frame is
//!   unfinished, so a stream cut inside a skipped frame still ends in
//!   `Error::Truncated`.
//! * Its `Encoder` takes one item type through a generic associated type
//!   (tokio-util's takes a type parameter, and there `FrameCodec` takes
//!   any `AsRef<[u8]>`): here `&[u8]`, the one type every byte container
//!   lends without a copy. At a call site the compiler knows that type, so
//!   `&[u8; N]`, `&Bytes` and `&Vec<u8>` coerce to it (`sink.send(b"hi")`,
//!   `sink.send(&frame)`); a `&str` or a `String` takes `.as_bytes()`.

use asynchronous_codec::{Decoder, Encoder};
use bytes::{Bytes, BytesMut};

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

impl Encoder for FrameCodec {
    type Item<'a> = &'a [u8];
    type Error = Error;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
        self.encode_frame(item, dst)
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

impl Encoder for FrameResultCodec {
    type Item<'a> = &'a [u8];
    type Error = Error;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
        self.encode_frame(item, dst)
    }
}
