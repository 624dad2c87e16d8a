//! Whole frames appended to growable buffers, `BytesMut` and `Vec<u8>`
//! (feature `alloc`).

use alloc::vec::Vec;

use bytes::{BufMut, BytesMut};

use crate::codec::Codec;
use crate::error::Result;
use crate::format::IntBytes;

/// Spare room an append asks for beyond the header and payload: the length
/// field is stored as a whole 8-byte word and then trimmed (one fixed-size
/// store instead of a variable-length copy).
pub(crate) const SLACK: usize = 8;

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
        dst.reserve(self.header_len + SLACK + payload.len());
        if self.offset > 0 {
            dst.put_bytes(0, self.offset);
        }
        let end = dst.len() + self.header_len - self.offset;
        dst.extend_from_slice(field.word());
        dst.truncate(end);
        dst.extend_from_slice(payload);
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
        self.append_to_vec(field, payload, dst);
        Ok(())
    }

    /// Appends a frame whose length is sendable, or returns false (and
    /// writes nothing): the fast path of `FrameWriter::write_frame`.
    #[cfg(feature = "std")]
    #[inline(always)]
    pub(crate) fn try_encode_to_vec(&self, payload: &[u8], dst: &mut Vec<u8>) -> bool {
        match self.field_for(payload.len()) {
            Some(field) => {
                self.append_to_vec(field, payload, dst);
                true
            }
            None => false,
        }
    }

    /// Appends the header (offset bytes and `field`) and `payload`.
    #[inline(always)]
    fn append_to_vec(&self, field: IntBytes, payload: &[u8], dst: &mut Vec<u8>) {
        // As in `encode`: a slice is at most isize::MAX bytes, no overflow.
        dst.reserve(self.header_len + SLACK + payload.len());
        if self.offset > 0 {
            dst.resize(dst.len() + self.offset, 0);
        }
        let end = dst.len() + self.header_len - self.offset;
        dst.extend_from_slice(field.word());
        dst.truncate(end);
        dst.extend_from_slice(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Payloads of every length up to 40 bytes, through both buffers,
    /// against header bytes + payload.
    #[test]
    fn small_and_large_payloads_are_copied_exactly() {
        let codec = Codec::default();
        for n in 0..=40usize {
            let payload: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37) ^ 0x5A).collect();
            let mut want = (n as u32).to_be_bytes().to_vec();
            want.extend_from_slice(&payload);
            let mut b = BytesMut::from(&b"xy"[..]);
            codec.encode(&payload, &mut b).unwrap();
            assert_eq!(&b[2..], &want[..], "{n}");
            let mut v = b"xy".to_vec();
            codec.encode_to_vec(&payload, &mut v).unwrap();
            assert_eq!(&v[2..], &want[..], "{n}");
        }
    }
}
