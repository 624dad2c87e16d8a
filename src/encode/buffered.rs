//! Whole frames appended to growable buffers, `BytesMut` and `Vec<u8>`
//! (feature `alloc`).

use alloc::vec::Vec;

use bytes::{BufMut, BytesMut};

use crate::codec::Codec;
use crate::error::Result;

impl Codec {
    /// Appends one frame (header + `payload`) to `dst`. On error nothing is
    /// written.
    ///
    /// # Errors
    ///
    /// As [`header`](Self::header).
    ///
    /// ```
    /// let mut buf = bytes::BytesMut::new();
    /// lenframe::Codec::default().encode("hi", &mut buf)?;
    /// assert_eq!(&buf[..], b"\0\0\0\x02hi");
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    #[inline]
    pub fn encode(&self, payload: impl AsRef<[u8]>, dst: &mut BytesMut) -> Result<()> {
        self.encode_slice(payload.as_ref(), dst)
    }

    /// The body of [`encode`](Self::encode), not generic.
    #[inline]
    fn encode_slice(&self, payload: &[u8], dst: &mut BytesMut) -> Result<()> {
        let field = self.length_field(payload.len())?;
        // Room for a whole 8-byte word: writing it and trimming is one
        // fixed-size store instead of a variable-length copy. No overflow: a
        // slice holds at most isize::MAX bytes and header_len <= 64.
        dst.reserve(self.header_len + 8 + payload.len());
        dst.put_bytes(0, self.offset);
        let len = dst.len();
        dst.put_slice(field.word());
        dst.truncate(len + field.as_ref().len());
        dst.put_slice(payload);
        Ok(())
    }

    /// Appends one frame (header + `payload`) to `dst`. On error nothing is
    /// written.
    ///
    /// # Errors
    ///
    /// As [`header`](Self::header).
    ///
    /// ```
    /// let codec = lenframe::Codec::new("i".parse()?);
    /// let mut v = Vec::new();
    /// codec.encode_to_vec("abc", &mut v)?;
    /// assert_eq!(v, [3i32.to_ne_bytes().as_slice(), b"abc"].concat());
    /// codec.encode_to_vec(String::from("de"), &mut v)?; // any AsRef<[u8]>
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    #[inline]
    pub fn encode_to_vec(&self, payload: impl AsRef<[u8]>, dst: &mut Vec<u8>) -> Result<()> {
        self.encode_slice_to_vec(payload.as_ref(), dst)
    }

    /// The body of [`encode_to_vec`](Self::encode_to_vec), not generic.
    #[inline]
    fn encode_slice_to_vec(&self, payload: &[u8], dst: &mut Vec<u8>) -> Result<()> {
        let field = self.length_field(payload.len())?;
        // As in `encode`: a slice is at most isize::MAX bytes, no overflow.
        dst.reserve(self.header_len + 8 + payload.len());
        dst.resize(dst.len() + self.offset, 0);
        let len = dst.len();
        dst.extend_from_slice(field.word());
        dst.truncate(len + field.as_ref().len());
        dst.extend_from_slice(payload);
        Ok(())
    }
}
