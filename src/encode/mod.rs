//! Encoding: header bytes for a length on the stack (no allocator needed),
//! and whole frames into growable buffers (`buffered`, feature `alloc`).

#[cfg(feature = "alloc")]
mod buffered;
#[cfg(feature = "std")]
pub(crate) use buffered::SLACK;

use crate::codec::{Codec, MAX_HEADER_LEN};
use crate::error::{Error, Result};
use crate::format::IntBytes;

/// The header region for one frame, on the stack; from [`Codec::header`].
/// Dereferences to its bytes.
#[derive(Clone, Copy)]
pub struct Header {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl core::fmt::Debug for Header {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Header").field(&&self[..]).finish()
    }
}

impl core::ops::Deref for Header {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for Header {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Codec {
    /// The header region for a payload of `payload_len` bytes: offset bytes
    /// (zeros) and the length field. Write it, then the payload, and the
    /// payload is never copied.
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLargeToSend`] if `payload_len` is over
    /// [`max_frame_len`](Codec::max_frame_len) (which never exceeds what the
    /// header can express); [`Error::AdjustmentOverflow`] if a negative
    /// adjustment would make the header value negative.
    ///
    /// ```
    /// let codec = lenframe::Codec::new("<H".parse()?);
    /// assert_eq!(&codec.header(300)?[..], &[0x2c, 0x01]);
    /// assert!(codec.header(70_000).is_err());
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    #[inline]
    pub fn header(&self, payload_len: usize) -> Result<Header> {
        let mut bytes = [0u8; MAX_HEADER_LEN];
        let len = if let Some((word, len)) = self.header_word(payload_len) {
            // The whole region in one fixed-size store (the rest is zeros).
            bytes[..8].copy_from_slice(&word);
            len
        } else {
            let field = self.length_field(payload_len)?;
            let field = field.as_ref();
            // `build` checked offset + field size = header_len <=
            // MAX_HEADER_LEN (64), and a varint has no offset and at most
            // header_len bytes: the slice is in bounds.
            bytes[self.offset..self.offset + field.len()].copy_from_slice(field);
            self.offset + field.len()
        };
        Ok(Header {
            bytes,
            // At most MAX_HEADER_LEN (64): fits a u8.
            len: len as u8,
        })
    }

    /// Writes one frame (header + `payload`) to the front of `dst` and
    /// returns its length, with no allocator: for a fixed transmit buffer
    /// (a UART's, a DMA's). On error nothing is written.
    ///
    /// # Errors
    ///
    /// As [`header`](Self::header), and [`Error::BufferTooSmall`] if the
    /// frame does not fit in `dst`.
    ///
    /// ```
    /// let codec = lenframe::Codec::new("<H".parse()?);
    /// let mut tx = [0u8; 16];
    /// let n = codec.encode_to_slice("pong", &mut tx)?;
    /// assert_eq!(&tx[..n], b"\x04\x00pong");
    /// assert!(codec.encode_to_slice([0; 15], &mut tx).is_err()); // 17 bytes
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    #[inline]
    pub fn encode_to_slice(&self, payload: impl AsRef<[u8]>, dst: &mut [u8]) -> Result<usize> {
        self.encode_slice_to_slice(payload.as_ref(), dst)
    }

    /// The body of [`encode_to_slice`](Self::encode_to_slice), not generic.
    #[inline]
    fn encode_slice_to_slice(&self, payload: &[u8], dst: &mut [u8]) -> Result<usize> {
        let header = self.header(payload.len())?;
        // No overflow: a slice holds at most isize::MAX bytes, a header 64.
        let total = header.len() + payload.len();
        let Some(out) = dst.get_mut(..total) else {
            return Err(Error::BufferTooSmall {
                needed: total as u64,
                available: dst.len() as u64,
            });
        };
        match out.first_chunk_mut::<8>() {
            // The header region as one fixed-size store; the payload then
            // overwrites the word's bytes past the header (the frame is at
            // least 8 bytes, so no byte after it is touched).
            Some(word) if header.len() <= 8 => word.copy_from_slice(&header.bytes[..8]),
            _ => out[..header.len()].copy_from_slice(&header),
        }
        out[header.len()..].copy_from_slice(payload);
        Ok(total)
    }

    /// The length field's bytes for a payload of `payload_len` bytes.
    #[inline(always)]
    pub(super) fn length_field(&self, payload_len: usize) -> Result<IntBytes> {
        match self.field_for(payload_len) {
            Some(field) => Ok(field),
            None => Err(self.unencodable(payload_len)),
        }
    }

    /// The header value for a payload of `payload_len` bytes, if it can be
    /// sent: one compare, no other check.
    ///
    /// Computed modulo 2^64, then given the range check decoding makes
    /// (raw_lo..=raw_hi, inside 0..=field max), which alone is exact:
    /// `build` clamps max_frame_len to what the header can express, so the
    /// valid values are exactly payload lengths 0..=max_frame_len plus the
    /// adjustment. With an adjustment >= 0, `value - raw_lo` is the payload
    /// length itself and raw_span is max_frame_len. With a negative one
    /// (raw_lo = 0), a payload shorter than the adjustment wraps to 2^64 +
    /// payload_len + adjustment, above raw_span <= max + adjustment since
    /// 2^64 > max; any other is in range exactly when payload_len <= max.
    /// tests/codec/config_extremes.rs checks this exhaustively against exact
    /// arithmetic at the extremes.
    #[inline(always)]
    fn header_value(&self, payload_len: usize) -> Option<u64> {
        let value = (payload_len as u64).wrapping_add(self.adjustment as u64);
        let ok = value.wrapping_sub(self.raw_lo) <= self.raw_span;
        debug_assert_eq!(
            ok,
            payload_len <= self.max_frame_len
                && i128::from(self.adjustment) + payload_len as i128 >= 0,
            "the range check is exact"
        );
        ok.then_some(value)
    }

    /// [`length_field`](Self::length_field) without the error: `None` if
    /// the length cannot be sent (for fast paths that fall back to the
    /// general one, which reports why).
    #[inline(always)]
    pub(crate) fn field_for(&self, payload_len: usize) -> Option<IntBytes> {
        let value = self.header_value(payload_len)?;
        if self.format.is_varint() {
            return self.format.encode(value);
        }
        Some(self.format.encode_in_range(value))
    }

    /// The whole header region (offset zeros, then the length field) for a
    /// payload of `payload_len` bytes as one 8-byte word, its first `len`
    /// bytes the header and the rest zeros, and `len`: written with one
    /// fixed-size store whatever the format. `None` if the length cannot be
    /// sent or the header region is longer than 8 bytes (an offset before
    /// the field) or varies (a varint): the general path then writes it, or
    /// says why not.
    #[inline(always)]
    pub(crate) fn header_word(&self, payload_len: usize) -> Option<([u8; 8], usize)> {
        // The header's length first: a varint (or an offset header) skips
        // the value's computation on its way to its callers' own paths.
        if self.header_len > 8 {
            // Varint headers (header_len 10 or 9) come this way. (A call
            // here, whose result joins the fixed-size path, cost that path
            // 2 instructions a frame: benches/guard.py.)
            return None;
        }
        let value = self.header_value(payload_len)?;
        // header_len is 1..=8 (offset + a field of 1 to 8 bytes), so both
        // shifts are 0..=56; the value fits its field, so no bit is lost.
        let word = if self.format.is_big_endian() {
            // The field ends the header region: the top header_len bytes
            // of a big-endian word, the offset bytes above it zero.
            (value << (64 - 8 * self.header_len as u32)).to_be_bytes()
        } else {
            // The field starts after the offset bytes, least significant
            // byte first.
            (value << (8 * self.offset as u32)).to_le_bytes()
        };
        Some((word, self.header_len))
    }

    #[cold]
    fn unencodable(&self, payload_len: usize) -> Error {
        if payload_len > self.max_frame_len {
            Error::FrameTooLargeToSend {
                len: payload_len as u64,
                max: self.max_frame_len as u64,
            }
        } else {
            Error::AdjustmentOverflow {
                value: payload_len as u64,
                adjustment: self.adjustment,
            }
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::HeaderFormat;

    fn codec(f: &str) -> Codec {
        Codec::new(f.parse::<HeaderFormat>().unwrap())
    }

    #[test]
    fn headers_for_every_format() {
        let long = core::mem::size_of::<core::ffi::c_long>();
        let cases: &[(&str, usize, Vec<u8>)] = &[
            ("!I", 5, vec![0, 0, 0, 5]),
            ("<I", 5, vec![5, 0, 0, 0]),
            (">H", 258, vec![1, 2]),
            ("<h", 258, vec![2, 1]),
            ("b", 127, vec![127]),
            ("B", 255, vec![255]),
            (">Q", 1, vec![0, 0, 0, 0, 0, 0, 0, 1]),
            ("<q", 1, vec![1, 0, 0, 0, 0, 0, 0, 0]),
            ("=l", 7, 7i32.to_ne_bytes().to_vec()),
            ("@l", 7, (7 as core::ffi::c_long).to_ne_bytes().to_vec()),
            ("i", 0, vec![0; 4]),
        ];
        for (f, len, want) in cases {
            assert_eq!(&codec(f).header(*len).unwrap()[..], &want[..], "{f}");
        }
        assert_eq!(codec("@l").header(0).unwrap().len(), long);
    }

    #[test]
    fn too_large_writes_nothing() {
        for (f, max) in [("b", 127usize), ("B", 255), ("<H", 65535), ("h", 32767)] {
            let c = codec(f);
            assert!(c.header(max).is_ok(), "{f}");
            let mut v = b"keep".to_vec();
            let err = c.encode_to_vec(vec![0; max + 1], &mut v).unwrap_err();
            assert!(
                matches!(err, Error::FrameTooLargeToSend { len, max: m } if len == max as u64 + 1 && m == max as u64),
                "{f}: {err}"
            );
            assert_eq!(v, b"keep");
            let mut b = BytesMut::from(&b"keep"[..]);
            assert!(c.encode(vec![0; max + 1], &mut b).is_err());
            assert_eq!(&b[..], b"keep");
        }
    }

    #[test]
    fn encode_to_slice_writes_the_frame_or_nothing() {
        let c = codec("<H");
        let mut tx = [0xaa; 8];
        assert_eq!(c.encode_to_slice(b"abc", &mut tx).unwrap(), 5);
        assert_eq!(tx, [3, 0, b'a', b'b', b'c', 0xaa, 0xaa, 0xaa]);
        let mut tx = [0xaa; 4];
        let err = c.encode_to_slice(b"abc", &mut tx).unwrap_err();
        assert!(matches!(
            err,
            Error::BufferTooSmall {
                needed: 5,
                available: 4
            }
        ));
        assert_eq!(tx, [0xaa; 4]);
        let c = Codec::builder().max_frame_len(2).build().unwrap();
        let mut tx = [0xaa; 16];
        assert!(matches!(
            c.encode_to_slice(b"abc", &mut tx),
            Err(Error::FrameTooLargeToSend { len: 3, max: 2 })
        ));
        assert_eq!(tx, [0xaa; 16]);
        let mut v = Vec::new();
        for payload in [&b""[..], b"x", b"hello"] {
            let mut tx = [0; 16];
            let n = c
                .with_max_frame_len(8)
                .unwrap()
                .encode_to_slice(payload, &mut tx)
                .unwrap();
            v.clear();
            c.with_max_frame_len(8)
                .unwrap()
                .encode_to_vec(payload, &mut v)
                .unwrap();
            assert_eq!(&tx[..n], &v[..]);
        }
    }

    #[test]
    fn adjustment_and_offset() {
        let c = Codec::builder()
            .length_includes_header(true)
            .build()
            .unwrap();
        assert_eq!(&c.header(3).unwrap()[..], &[0, 0, 0, 7]);
        let c = Codec::builder().length_adjustment(-2).build().unwrap();
        assert_eq!(&c.header(3).unwrap()[..], &[0, 0, 0, 1]);
        assert!(matches!(
            c.header(1),
            Err(Error::AdjustmentOverflow {
                value: 1,
                adjustment: -2
            })
        ));
        let c = Codec::builder()
            .format(">H".parse().unwrap())
            .length_field_offset(3)
            .build()
            .unwrap();
        assert_eq!(&c.header(2).unwrap()[..], &[0, 0, 0, 0, 2]);
    }
}
