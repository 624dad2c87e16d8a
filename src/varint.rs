//! Unsigned LEB128 ("varint") length prefixes, as protobuf writes them
//! before each message of a delimited stream: 7 bits per byte, least
//! significant group first, the top bit set on every byte but the last.
//!
//! The rules a header is read by ([`Rules`]) are written out in the docs
//! of [`HeaderFormat::VARINT`](crate::HeaderFormat::VARINT). This module
//! only reads and writes the integer; the decoder applies the limits.

/// The rules a varint header is read by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Rules {
    /// protobuf's parsers: up to 10 bytes, the value within 64 bits,
    /// non-minimal encodings (`0x80 0x00` for 0) accepted.
    Protobuf,
    /// The multiformats unsigned-varint spec (libp2p): minimal encoding
    /// only, at most 9 bytes (63 bits).
    Strict,
}

impl Rules {
    /// The longest header these rules accept.
    pub(crate) const fn max_len(self) -> usize {
        match self {
            Rules::Protobuf => MAX_LEN,
            Rules::Strict => 9,
        }
    }

    /// The largest value these rules can carry.
    pub(crate) const fn max_value(self) -> u64 {
        match self {
            Rules::Protobuf => u64::MAX,
            Rules::Strict => (1 << 63) - 1,
        }
    }
}

/// The longest varint of a 64-bit value.
pub(crate) const MAX_LEN: usize = 10;

/// Why a varint header can never be valid, whatever bytes follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bad {
    /// Every byte up to the rules' longest header had the continuation
    /// bit set.
    TooLong,
    /// The value does not fit 64 bits (the 10th byte is over 1).
    Overflow,
    /// Strict rules: a last byte of 0 after others (a shorter encoding of
    /// the same value exists).
    NotMinimal,
}

impl Bad {
    /// The reason, as `Error::BadVarint` shows it.
    pub(crate) fn reason(self, rules: Rules) -> &'static str {
        match (self, rules) {
            (Bad::TooLong, Rules::Protobuf) => {
                "no end within 10 bytes (every byte has its continuation bit set); \
                 the peer does not seem to write varint (protobuf-delimited) length \
                 prefixes: is it sending fixed-size headers, such as struct.pack('!I'), \
                 or unframed data? (or the stream lost its alignment)"
            }
            (Bad::TooLong, Rules::Strict) => {
                "no end within 9 bytes (every byte has its continuation bit set; \
                 unsigned-varint allows 9 at most); the peer does not seem to write \
                 varint length prefixes: is it sending fixed-size headers, such as \
                 struct.pack('!I'), or unframed data? (or the stream lost its alignment)"
            }
            (Bad::Overflow, _) => {
                "the value does not fit in 64 bits (the 10th byte is over 1); the \
                 peer does not seem to write varint (protobuf-delimited) length \
                 prefixes: is it sending fixed-size headers, such as struct.pack('!I'), \
                 or unframed data? (or the stream lost its alignment)"
            }
            (Bad::NotMinimal, _) => {
                "not minimally encoded (it ends in a zero byte after others), which \
                 unsigned-varint forbids; protobuf's parsers accept it: read such a \
                 peer with the format \"varint\""
            }
        }
    }
}

/// Reads the varint at the front of `buf`: `Ok(Some((value, len)))` for a
/// complete one of `len` bytes, `Ok(None)` if `buf` ends before it does
/// (and nothing so far proves it bad), `Err` as soon as the bytes prove
/// that no valid varint starts here.
#[inline]
pub(crate) fn read(buf: &[u8], rules: Rules) -> Result<Option<(u64, usize)>, Bad> {
    match buf.first() {
        Some(&b) if b < 0x80 => Ok(Some((u64::from(b), 1))),
        Some(_) => read_long(buf, rules),
        None => Ok(None),
    }
}

/// [`read`] for a header of two bytes or more.
#[inline(never)]
fn read_long(buf: &[u8], rules: Rules) -> Result<Option<(u64, usize)>, Bad> {
    let max = rules.max_len();
    let mut value = 0u64;
    for (i, &b) in buf.iter().take(max).enumerate() {
        // i <= 9, so the shift is at most 63.
        if i == MAX_LEN - 1 && b > 1 {
            // Bit 63 is the only one the 10th byte may set, and it must
            // be the last.
            return Err(if b >= 0x80 {
                Bad::TooLong
            } else {
                Bad::Overflow
            });
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            if rules == Rules::Strict && b == 0 && i > 0 {
                return Err(Bad::NotMinimal);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= max {
        Err(Bad::TooLong)
    } else {
        Ok(None)
    }
}

/// The bytes of a varint, on the stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Encoded {
    pub(crate) bytes: [u8; MAX_LEN],
    pub(crate) len: usize,
}

/// The shortest varint of `value`.
#[inline]
pub(crate) fn encode(mut value: u64) -> Encoded {
    let mut bytes = [0u8; MAX_LEN];
    let mut len = 0;
    while value >= 0x80 {
        // Truncation to the low 7 bits is the point.
        bytes[len] = (value as u8) | 0x80;
        value >>= 7;
        len += 1;
    }
    bytes[len] = value as u8;
    Encoded {
        bytes,
        len: len + 1,
    }
}

impl AsRef<[u8]> for Encoded {
    #[inline(always)]
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The length of the shortest varint of `value` (1 to 10).
#[cfg(test)]
const fn encoded_len(value: u64) -> usize {
    // Significant bits (at least 1), 7 per byte, rounded up.
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        for (value, bytes) in [
            (0u64, &[0x00][..]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ] {
            let e = encode(value);
            assert_eq!(e.as_ref(), bytes, "{value}");
            assert_eq!(encoded_len(value), bytes.len(), "{value}");
            assert_eq!(read(bytes, Rules::Protobuf), Ok(Some((value, bytes.len()))));
            for cut in 0..bytes.len() {
                assert_eq!(read(&bytes[..cut], Rules::Protobuf), Ok(None), "{value}");
            }
        }
    }

    #[test]
    fn protobuf_rules() {
        // Non-minimal: accepted, as protobuf's parsers do.
        assert_eq!(read(&[0x80, 0x00], Rules::Protobuf), Ok(Some((0, 2))));
        assert_eq!(
            read(&[0x85, 0x80, 0x80, 0x00], Rules::Protobuf),
            Ok(Some((5, 4)))
        );
        // 10 bytes, the last 0x01: 2^63.
        let mut b = [0x80u8; 10];
        b[9] = 0x01;
        assert_eq!(read(&b, Rules::Protobuf), Ok(Some((1 << 63, 10))));
        b[9] = 0x02;
        assert_eq!(read(&b, Rules::Protobuf), Err(Bad::Overflow));
        // Ten continuation bytes: proven bad at the tenth.
        assert_eq!(read(&[0xff; 9], Rules::Protobuf), Ok(None));
        assert_eq!(read(&[0xff; 10], Rules::Protobuf), Err(Bad::TooLong));
        assert_eq!(read(&[0x80; 11], Rules::Protobuf), Err(Bad::TooLong));
        let mut b = [0xffu8; 10];
        b[9] = 0x7f;
        assert_eq!(read(&b, Rules::Protobuf), Err(Bad::Overflow));
    }

    #[test]
    fn strict_rules() {
        assert_eq!(read(&[0x80, 0x00], Rules::Strict), Err(Bad::NotMinimal));
        assert_eq!(read(&[0x00], Rules::Strict), Ok(Some((0, 1))));
        assert_eq!(read(&[0x80, 0x01], Rules::Strict), Ok(Some((128, 2))));
        let mut b = [0xffu8; 9];
        assert_eq!(read(&b[..8], Rules::Strict), Ok(None));
        assert_eq!(read(&b, Rules::Strict), Err(Bad::TooLong));
        b[8] = 0x7f;
        assert_eq!(read(&b, Rules::Strict), Ok(Some(((1 << 63) - 1, 9))));
    }

    #[test]
    fn every_length_round_trips() {
        for bits in 0..64 {
            for value in [1u64 << bits, (1u64 << bits) - 1, (1u64 << bits) + 1] {
                let e = encode(value);
                assert_eq!(e.len, encoded_len(value));
                assert_eq!(read(e.as_ref(), Rules::Protobuf), Ok(Some((value, e.len))));
                if value <= Rules::Strict.max_value() {
                    assert_eq!(read(e.as_ref(), Rules::Strict), Ok(Some((value, e.len))));
                }
            }
        }
    }
}
