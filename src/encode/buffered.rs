//! Whole frames appended to growable buffers, `BytesMut` and `Vec<u8>`
//! (feature `alloc`).

use alloc::vec::Vec;

use bytes::{BufMut, BytesMut};

use crate::codec::Codec;
use crate::error::Result;

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
    #[inline(always)]
    pub fn encode(&self, payload: impl AsRef<[u8]>, dst: &mut BytesMut) -> Result<()> {
        self.encode_slice(payload.as_ref(), dst)
    }

    /// The body of [`encode`](Self::encode), not generic. Inlined into
    /// the caller's loop (in the caller's crate): a call and its `Result`
    /// in memory would cost about as much as the frame.
    #[inline(always)]
    fn encode_slice(&self, payload: &[u8], dst: &mut BytesMut) -> Result<()> {
        let Some((word, len)) = self.header_word(payload.len()) else {
            if payload.len() < self.varint_small_end {
                // A varint header of one byte: the byte is the length.
                dst.put_u8(payload.len() as u8);
                dst.extend_from_slice(payload);
                return Ok(());
            }
            if self.format.is_varint() && payload.len() <= self.max_frame_len {
                // A varint of 2 to 10 bytes (one byte was the case above).
                // usize -> u64 is lossless; no overflow: a slice holds at
                // most isize::MAX bytes.
                let header = crate::varint::encode(payload.len() as u64);
                dst.reserve(header.len + payload.len());
                dst.extend_from_slice(header.as_ref());
                dst.extend_from_slice(payload);
                return Ok(());
            }
            // The codec by value: its address never escapes into a call,
            // so the caller's loop may keep its settings in registers.
            return Self::encode_slice_long(*self, payload, dst);
        };
        // Room for the whole word: it is written whole and then trimmed to
        // the header (one fixed-size store instead of a variable-length
        // copy). No overflow: a slice holds at most isize::MAX bytes.
        dst.reserve(SLACK + payload.len());
        let end = dst.len() + len;
        dst.extend_from_slice(&word);
        dst.truncate(end);
        dst.extend_from_slice(payload);
        Ok(())
    }

    /// `encode_slice` for a varint header, a header region longer than 8
    /// bytes, and the errors.
    #[inline(never)]
    fn encode_slice_long(codec: Codec, payload: &[u8], dst: &mut BytesMut) -> Result<()> {
        let field = codec.length_field(payload.len())?;
        // As above; header_len <= 64.
        dst.reserve(codec.header_len + payload.len());
        dst.put_bytes(0, codec.offset);
        dst.extend_from_slice(field.as_ref());
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
    #[inline(always)]
    pub fn encode_to_vec(&self, payload: impl AsRef<[u8]>, dst: &mut Vec<u8>) -> Result<()> {
        self.encode_slice_to_vec(payload.as_ref(), dst)
    }

    /// The body of [`encode_to_vec`](Self::encode_to_vec), not generic,
    /// inlined as `encode_slice` is.
    #[inline(always)]
    fn encode_slice_to_vec(&self, payload: &[u8], dst: &mut Vec<u8>) -> Result<()> {
        if !self.try_encode_to_vec(payload, dst) {
            // The codec by value, as in `encode_slice`.
            return Self::encode_slice_to_vec_long(*self, payload, dst);
        }
        Ok(())
    }

    /// `encode_slice_to_vec` for a varint header, a header region longer
    /// than 8 bytes, and the errors.
    #[inline(never)]
    fn encode_slice_to_vec_long(codec: Codec, payload: &[u8], dst: &mut Vec<u8>) -> Result<()> {
        let field = codec.length_field(payload.len())?;
        // As in `encode`; header_len <= 64.
        dst.reserve(codec.header_len + payload.len());
        dst.resize(dst.len() + codec.offset, 0);
        dst.extend_from_slice(field.as_ref());
        dst.extend_from_slice(payload);
        Ok(())
    }

    /// Appends a frame whose length is sendable and whose header region is
    /// at most 8 bytes, or returns false (and writes nothing): the fast
    /// path of `encode_to_vec` and `FrameWriter::write_frame`.
    #[inline(always)]
    pub(crate) fn try_encode_to_vec(&self, payload: &[u8], dst: &mut Vec<u8>) -> bool {
        let Some((word, len)) = self.header_word(payload.len()) else {
            if payload.len() < self.varint_small_end {
                // A varint header of one byte: the byte is the length.
                dst.push(payload.len() as u8);
                dst.extend_from_slice(payload);
                return true;
            }
            if self.format.is_varint() && payload.len() <= self.max_frame_len {
                // A varint of 2 to 10 bytes (one byte was the case above).
                // usize -> u64 is lossless; no overflow: a slice holds at
                // most isize::MAX bytes.
                let header = crate::varint::encode(payload.len() as u64);
                dst.reserve(header.len + payload.len());
                dst.extend_from_slice(header.as_ref());
                dst.extend_from_slice(payload);
                return true;
            }
            return false;
        };
        // As in `encode`: a slice is at most isize::MAX bytes, no overflow.
        dst.reserve(SLACK + payload.len());
        let end = dst.len() + len;
        dst.extend_from_slice(&word);
        dst.truncate(end);
        dst.extend_from_slice(payload);
        true
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
