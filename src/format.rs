//! The length header's integer type, written as a Python `struct` format.

use core::fmt;
use core::str::FromStr;

use crate::error::Error;
use crate::varint::{self, Rules};

/// Byte order (and size convention) of a header format: Python's first
/// format character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ByteOrder {
    /// `@` or no prefix: native byte order and native sizes (`l`/`L` are the
    /// C `long`, 8 bytes on 64-bit Unix).
    Native,
    /// `=`: native byte order, standard sizes (`l`/`L` are 4 bytes).
    NativeStandard,
    /// `<`: little-endian, standard sizes.
    Little,
    /// `>`: big-endian, standard sizes.
    Big,
    /// `!`: network order (big-endian), standard sizes.
    Network,
}

impl ByteOrder {
    fn prefix(self) -> &'static str {
        match self {
            ByteOrder::Native => "",
            ByteOrder::NativeStandard => "=",
            ByteOrder::Little => "<",
            ByteOrder::Big => ">",
            ByteOrder::Network => "!",
        }
    }

    fn is_big_endian(self) -> bool {
        match self {
            ByteOrder::Native | ByteOrder::NativeStandard => cfg!(target_endian = "big"),
            ByteOrder::Little => false,
            ByteOrder::Big | ByteOrder::Network => true,
        }
    }
}

/// What kind of integer a [`HeaderFormat`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderKind {
    /// A fixed-size integer, written as a Python `struct` format (`"!I"`).
    Fixed,
    /// An unsigned LEB128 varint read by protobuf's rules (`"varint"`,
    /// [`HeaderFormat::VARINT`]).
    Varint,
    /// An unsigned LEB128 varint read by the multiformats unsigned-varint
    /// rules (`"varint-strict"`, [`HeaderFormat::VARINT_STRICT`]).
    StrictVarint,
}

/// The integer that carries a frame's length, as a Python `struct` format
/// of exactly one integer: an optional byte-order character (`@ = < > !`)
/// followed by one of `b B h H i I l L q Q`; or a variable-length
/// integer, `"varint"` (protobuf's delimited streams) or `"varint-strict"`
/// (see [`HeaderFormat::VARINT`]).
///
/// Sizes, byte order and signedness are exactly Python's for the target the
/// crate is built for, so `struct.pack(fmt, n)` and [`HeaderFormat::encode`]
/// produce the same bytes:
///
/// | char | C type | standard size (`= < > !`) | native size (`@`, none) | signed |
/// |---|---|---|---|---|
/// | `b` / `B` | `char` | 1 | 1 | yes / no |
/// | `h` / `H` | `short` | 2 | 2 | yes / no |
/// | `i` / `I` | `int` | 4 | 4 | yes / no |
/// | `l` / `L` | `long` | 4 | C `long` (8 on 64-bit Unix) | yes / no |
/// | `q` / `Q` | `long long` | 8 | 8 | yes / no |
/// | `varint` | unsigned LEB128 (protobuf) | 1 to 10 | 1 to 10 | no |
/// | `varint-strict` | unsigned LEB128 (multiformats) | 1 to 9 | 1 to 9 | no |
///
/// The default is `!I`: a big-endian `u32`, the same bytes as tokio-util's
/// `LengthDelimitedCodec`, Erlang `{packet,4}` and Twisted's
/// `Int32StringReceiver`. Python allows white space between format items;
/// so does this parser. Repeat counts and other format characters are
/// rejected with [`Error::BadFormat`].
///
/// For a varint format, [`size`](Self::size) is the longest header it
/// accepts (10 or 9 bytes); each frame's header is as long as its length
/// needs (1 byte up to 127, 2 up to 16 383, ...).
///
/// # Examples
///
/// ```
/// use lenframe::HeaderFormat;
///
/// let f: HeaderFormat = "<H".parse()?;
/// assert_eq!(f.size(), 2);
/// assert!(!f.is_signed());
/// assert_eq!(f.encode(258).unwrap().as_ref(), &[2, 1]);
/// assert_eq!(f.to_string(), "<H");
/// assert_eq!(HeaderFormat::default().to_string(), "!I");
/// assert!("!x".parse::<HeaderFormat>().is_err());
/// # Ok::<(), lenframe::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderFormat {
    order: ByteOrder,
    code: u8,
    size: u8,
    signed: bool,
    big: bool,
    /// `Some` for a varint header, with the rules it is read by.
    varint: Option<Rules>,
}

/// The bytes of one encoded integer (at most 10), from [`HeaderFormat::encode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntBytes {
    bytes: [u8; varint::MAX_LEN],
    len: u8,
}

impl AsRef<[u8]> for IntBytes {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Default for HeaderFormat {
    fn default() -> Self {
        HeaderFormat::NETWORK_U32
    }
}

impl HeaderFormat {
    /// `!I`: network order `u32`, the default.
    pub const NETWORK_U32: HeaderFormat = HeaderFormat::build(ByteOrder::Network, b'I');

    /// `"varint"`: an unsigned LEB128 varint, the length prefix of
    /// protobuf's delimited streams (`writeDelimitedTo` /
    /// `parseDelimitedFrom`, C++ `SerializeDelimitedToOstream`, Go
    /// `protodelim`, C# `WriteDelimitedTo`, prost's
    /// `encode_length_delimited`, Python's
    /// `google.protobuf.proto.serialize_length_prefixed`).
    ///
    /// Read as protobuf's parsers read it: 7 bits per byte, least
    /// significant group first, at most 10 bytes, the value within 64 bits
    /// (a 10th byte over 1 is [`Error::BadVarint`], as are 10 bytes that
    /// all have their continuation bit set); non-minimal encodings (`80
    /// 00` for 0) are accepted, as every protobuf parser accepts them.
    /// Written always in the shortest form. The length is then checked
    /// against [`Codec::max_frame_len`](crate::Codec::max_frame_len) like
    /// any other ([`Error::FrameTooLarge`]); lengths from 2^31 up (which
    /// some protobuf parsers misread) need a maximum raised that far.
    ///
    /// ```
    /// use lenframe::HeaderFormat;
    /// let f: HeaderFormat = "varint".parse()?;
    /// assert_eq!(f, HeaderFormat::VARINT);
    /// assert_eq!(f.encode(300).unwrap().as_ref(), &[0xac, 0x02]);
    /// assert_eq!(f.decode(&[0xac, 0x02, b'x']), Ok(300));
    /// assert_eq!(f.size(), 10); // the longest header
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub const VARINT: HeaderFormat = HeaderFormat::varint(Rules::Protobuf);

    /// `"varint-strict"`: an unsigned LEB128 varint read by the
    /// multiformats [unsigned-varint] rules that libp2p follows: like
    /// [`VARINT`](Self::VARINT), but at most 9 bytes (63 bits) and only
    /// the shortest encoding of each value (`80 00` is
    /// [`Error::BadVarint`]). What it writes is the same.
    ///
    /// [unsigned-varint]: https://github.com/multiformats/unsigned-varint
    ///
    /// ```
    /// let f: lenframe::HeaderFormat = "varint-strict".parse()?;
    /// assert_eq!(f.size(), 9);
    /// assert_eq!(f.max_value(), (1 << 63) - 1);
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub const VARINT_STRICT: HeaderFormat = HeaderFormat::varint(Rules::Strict);

    const fn varint(rules: Rules) -> HeaderFormat {
        HeaderFormat {
            order: ByteOrder::Little,
            code: b'v',
            // 10 or 9: fits a u8.
            size: rules.max_len() as u8,
            signed: false,
            big: false,
            varint: Some(rules),
        }
    }

    /// Builds a format from a byte order and a Python format character.
    ///
    /// # Errors
    ///
    /// [`Error::BadFormat`] if `code` is not one of `b B h H i I l L q Q`.
    ///
    /// ```
    /// use lenframe::{ByteOrder, HeaderFormat};
    /// let f = HeaderFormat::new(ByteOrder::Little, 'q')?;
    /// assert_eq!(f, "<q".parse()?);
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn new(order: ByteOrder, code: char) -> Result<HeaderFormat, Error> {
        match code {
            // ASCII, so `as u8` is lossless.
            'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'l' | 'L' | 'q' | 'Q' => {
                Ok(HeaderFormat::build(order, code as u8))
            }
            _ => Err(Error::BadFormat {
                reason: "expected one of b B h H i I l L q Q",
                found: Some(code),
            }),
        }
    }

    const fn build(order: ByteOrder, code: u8) -> HeaderFormat {
        let native = matches!(order, ByteOrder::Native);
        let size = match code.to_ascii_lowercase() {
            b'b' => 1,
            b'h' => 2,
            b'i' => 4,
            // C `long` is 4 or 8 bytes: lossless.
            b'l' if native => core::mem::size_of::<core::ffi::c_long>() as u8,
            b'l' => 4,
            _ => 8,
        };
        let big = match order {
            ByteOrder::Native | ByteOrder::NativeStandard => cfg!(target_endian = "big"),
            ByteOrder::Little => false,
            ByteOrder::Big | ByteOrder::Network => true,
        };
        HeaderFormat {
            order,
            code,
            size,
            signed: code.is_ascii_lowercase(),
            big,
            varint: None,
        }
    }

    /// Size of the integer in bytes (Python's `struct.calcsize`); for a
    /// varint format, the longest header it accepts (10, or 9 strict).
    pub fn size(&self) -> usize {
        usize::from(self.size)
    }

    /// Fixed-size integer or varint, and by which rules.
    ///
    /// ```
    /// use lenframe::{HeaderFormat, HeaderKind};
    /// assert_eq!(HeaderFormat::default().kind(), HeaderKind::Fixed);
    /// assert_eq!("varint".parse::<HeaderFormat>()?.kind(), HeaderKind::Varint);
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn kind(&self) -> HeaderKind {
        match self.varint {
            None => HeaderKind::Fixed,
            Some(Rules::Protobuf) => HeaderKind::Varint,
            Some(Rules::Strict) => HeaderKind::StrictVarint,
        }
    }

    /// True for `"varint"` and `"varint-strict"`: each header is as long
    /// as its value needs.
    #[inline(always)]
    pub const fn is_varint(&self) -> bool {
        self.varint.is_some()
    }

    /// The varint rules, for a varint format.
    #[inline(always)]
    pub(crate) fn varint_rules(&self) -> Option<Rules> {
        self.varint
    }

    /// True for `b h i l q`, false for `B H I L Q`.
    pub fn is_signed(&self) -> bool {
        self.signed
    }

    /// True if the most significant byte comes first on the wire.
    pub fn is_big_endian(&self) -> bool {
        debug_assert_eq!(self.big, self.order.is_big_endian());
        self.big
    }

    /// The byte order character this format was written with (for a
    /// varint, [`ByteOrder::Little`]: least significant group first).
    pub fn byte_order(&self) -> ByteOrder {
        self.order
    }

    /// The Python format character (`b B h H i I l L q Q`); `'v'` for a
    /// varint.
    pub fn code(&self) -> char {
        char::from(self.code)
    }

    /// The largest length this integer can carry (`i8::MAX` for `b`,
    /// `u64::MAX` for `Q`, ...).
    ///
    /// ```
    /// let f: lenframe::HeaderFormat = "b".parse()?;
    /// assert_eq!(f.max_value(), 127);
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn max_value(&self) -> u64 {
        if let Some(rules) = self.varint {
            return rules.max_value();
        }
        // size is 1, 2, 4 or 8: bits is 7..=64 and the shift below < 64.
        let bits = 8 * u32::from(self.size) - u32::from(self.signed);
        if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        }
    }

    /// Reads the integer from the first [`size`](Self::size) bytes of
    /// `bytes`. A non-negative value comes back as `Ok`, a negative one
    /// (signed formats only) as `Err` with the value. For a varint format,
    /// the varint at the front of `bytes` (never negative).
    ///
    /// # Panics
    ///
    /// If `bytes` is shorter than [`size`](Self::size); for a varint
    /// format, if `bytes` does not start with a whole valid varint. For
    /// bytes from a peer, [`Codec::payload_len_of`](crate::Codec::payload_len_of)
    /// is the checked form.
    ///
    /// ```
    /// let f: lenframe::HeaderFormat = ">h".parse()?;
    /// assert_eq!(f.decode(&[0x01, 0x00]), Ok(256));
    /// assert_eq!(f.decode(&[0xff, 0xfe]), Err(-2));
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    #[inline]
    pub fn decode(&self, bytes: &[u8]) -> Result<u64, i64> {
        if let Some(rules) = self.varint {
            return match varint::read(bytes, rules) {
                Ok(Some((value, _))) => Ok(value),
                Ok(None) => panic!("no whole varint in {} bytes", bytes.len()),
                Err(bad) => panic!("not a valid varint: {}", bad.reason(rules)),
            };
        }
        let raw = self.decode_raw(bytes);
        if !self.signed {
            return Ok(raw);
        }
        // Sign-extend: move the field's top bit to bit 63, reinterpret as
        // i64 (the `as` is the intended two's-complement cast), shift back
        // arithmetically. size is 1, 2, 4 or 8, so shift is 0..=56.
        let shift = 64 - 8 * u32::from(self.size);
        let value = ((raw << shift) as i64) >> shift;
        if value < 0 {
            Err(value)
        } else {
            Ok(raw)
        }
    }

    /// The integer's bits, zero-extended (a negative signed value comes
    /// back above [`max_value`](Self::max_value)).
    #[inline(always)]
    pub(crate) fn decode_raw(&self, bytes: &[u8]) -> u64 {
        use byteorder::{BigEndian, ByteOrder as _, LittleEndian};
        // Fast path: with 8 bytes at hand, one load and a shift or mask
        // serves every width (no dispatch on the size).
        if let Some(word) = bytes.first_chunk::<8>() {
            // bits is 8..=64, so both shifts are 0..=56.
            let bits = 8 * u32::from(self.size);
            return if self.big {
                u64::from_be_bytes(*word) >> (64 - bits)
            } else {
                u64::from_le_bytes(*word) & (u64::MAX >> (64 - bits))
            };
        }
        match (self.size, self.big) {
            (1, _) => u64::from(bytes[0]),
            (2, true) => u64::from(BigEndian::read_u16(bytes)),
            (2, false) => u64::from(LittleEndian::read_u16(bytes)),
            (4, true) => u64::from(BigEndian::read_u32(bytes)),
            (4, false) => u64::from(LittleEndian::read_u32(bytes)),
            (_, true) => BigEndian::read_u64(bytes),
            (_, false) => LittleEndian::read_u64(bytes),
        }
    }

    /// Encodes `value` as this integer, or `None` if it is over
    /// [`max_value`](Self::max_value).
    ///
    /// ```
    /// let f: lenframe::HeaderFormat = "!I".parse()?;
    /// assert_eq!(f.encode(5).unwrap().as_ref(), &[0, 0, 0, 5]);
    /// assert!(f.encode(1 << 32).is_none());
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    #[inline]
    pub fn encode(&self, value: u64) -> Option<IntBytes> {
        if self.varint.is_some() {
            return (value <= self.max_value()).then(|| {
                let v = varint::encode(value);
                IntBytes {
                    bytes: v.bytes,
                    // 1..=10: fits a u8.
                    len: v.len as u8,
                }
            });
        }
        (value <= self.max_value()).then(|| self.encode_in_range(value))
    }

    /// Encodes a value known to be at most [`max_value`](Self::max_value).
    #[inline(always)]
    pub(crate) fn encode_in_range(&self, value: u64) -> IntBytes {
        debug_assert!(self.varint.is_none(), "fixed-size formats only");
        // A larger value would lose its high bits silently.
        debug_assert!(
            value <= self.max_value(),
            "{value} over {}",
            self.max_value()
        );
        let bytes = if self.big {
            // Shift the value to the front so the first `size` bytes hold it.
            (value << (64 - 8 * u32::from(self.size))).to_be_bytes()
        } else {
            value.to_le_bytes()
        };
        let mut all = [0; varint::MAX_LEN];
        all[..8].copy_from_slice(&bytes);
        IntBytes {
            bytes: all,
            len: self.size,
        }
    }
}

impl FromStr for HeaderFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<HeaderFormat, Error> {
        let bad = |reason, found| Error::BadFormat { reason, found };
        match s.trim_matches(|c: char| c.is_ascii_whitespace()) {
            "varint" => return Ok(HeaderFormat::VARINT),
            "varint-strict" => return Ok(HeaderFormat::VARINT_STRICT),
            _ => {}
        }
        let mut chars = s.chars().peekable();
        let order = match chars.peek() {
            Some('@') => ByteOrder::Native,
            Some('=') => ByteOrder::NativeStandard,
            Some('<') => ByteOrder::Little,
            Some('>') => ByteOrder::Big,
            Some('!') => ByteOrder::Network,
            _ => ByteOrder::Native,
        };
        if s.starts_with(['@', '=', '<', '>', '!']) {
            chars.next();
        }
        let mut codes = chars.filter(|c| !c.is_ascii_whitespace());
        let code = codes
            .next()
            .ok_or_else(|| bad("no integer format character", None))?;
        if code.is_ascii_digit() {
            return Err(bad("repeat counts are not supported", Some(code)));
        }
        if let Some(extra) = codes.next() {
            let reason = if matches!(extra, '@' | '=' | '<' | '>' | '!') {
                "byte order character must come first"
            } else {
                "expected exactly one integer format character"
            };
            return Err(bad(reason, Some(extra)));
        }
        match code {
            // ASCII, so `as u8` is lossless.
            'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'l' | 'L' | 'q' | 'Q' => {
                Ok(HeaderFormat::build(order, code as u8))
            }
            '@' | '=' | '<' | '>' | '!' => {
                Err(bad("byte order character must come first", Some(code)))
            }
            'v' => Err(bad(
                "a varint header is written \"varint\" or \"varint-strict\"",
                Some(code),
            )),
            _ => Err(bad("expected one of b B h H i I l L q Q", Some(code))),
        }
    }
}

impl fmt::Display for HeaderFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.varint {
            Some(Rules::Protobuf) => return f.write_str("varint"),
            Some(Rules::Strict) => return f.write_str("varint-strict"),
            None => {}
        }
        write!(f, "{}{}", self.order.prefix(), char::from(self.code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: usize = core::mem::size_of::<core::ffi::c_long>();

    /// (format, size, signed, big endian)
    const TABLE: &[(&str, usize, bool, bool)] = &[
        ("!I", 4, false, true),
        ("!i", 4, true, true),
        (">Q", 8, false, true),
        (">q", 8, true, true),
        ("<H", 2, false, false),
        ("<h", 2, true, false),
        ("<b", 1, true, false),
        ("!B", 1, false, true),
        ("=l", 4, true, cfg!(target_endian = "big")),
        ("=L", 4, false, cfg!(target_endian = "big")),
        ("@l", LONG, true, cfg!(target_endian = "big")),
        ("l", LONG, true, cfg!(target_endian = "big")),
        ("<l", 4, true, false),
        ("i", 4, true, cfg!(target_endian = "big")),
        ("@Q", 8, false, cfg!(target_endian = "big")),
    ];

    #[test]
    fn sizes_order_and_sign() {
        for &(s, size, signed, big) in TABLE {
            let f: HeaderFormat = s.parse().unwrap();
            assert_eq!(f.size(), size, "{s}");
            assert_eq!(f.is_signed(), signed, "{s}");
            assert_eq!(f.is_big_endian(), big, "{s}");
            let again: HeaderFormat = f.to_string().parse().unwrap();
            assert_eq!(again, f, "{s}");
        }
    }

    #[test]
    fn whitespace_is_allowed_like_python() {
        assert_eq!(
            "! I ".parse::<HeaderFormat>().unwrap(),
            HeaderFormat::NETWORK_U32
        );
    }

    #[test]
    fn bad_strings_name_the_problem() {
        for (s, reason, found) in [
            ("", "no integer format character", None),
            ("!", "no integer format character", None),
            (
                "!II",
                "expected exactly one integer format character",
                Some('I'),
            ),
            ("!x", "expected one of b B h H i I l L q Q", Some('x')),
            ("f", "expected one of b B h H i I l L q Q", Some('f')),
            ("I!", "byte order character must come first", Some('!')),
            ("4I", "repeat counts are not supported", Some('4')),
            ("4", "repeat counts are not supported", Some('4')),
            ("!<", "byte order character must come first", Some('<')),
        ] {
            match s.parse::<HeaderFormat>() {
                Err(Error::BadFormat {
                    reason: r,
                    found: f,
                }) => {
                    assert_eq!(r, reason, "{s:?}");
                    assert_eq!(f, found, "{s:?}");
                }
                other => panic!("{s:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn max_values() {
        for (s, max) in [
            ("b", 127),
            ("B", 255),
            ("h", 32767),
            ("H", 65535),
            ("i", i32::MAX as u64),
            ("I", u32::MAX as u64),
            ("q", i64::MAX as u64),
            ("Q", u64::MAX),
            ("=l", i32::MAX as u64),
        ] {
            assert_eq!(s.parse::<HeaderFormat>().unwrap().max_value(), max, "{s}");
        }
    }

    #[test]
    fn encode_decode_extremes() {
        for &(s, ..) in TABLE {
            let f: HeaderFormat = s.parse().unwrap();
            for v in [0, 1, f.max_value() / 2, f.max_value()] {
                let b = f.encode(v).unwrap();
                assert_eq!(b.as_ref().len(), f.size());
                assert_eq!(f.decode(b.as_ref()), Ok(v), "{s} {v}");
            }
            if f.max_value() < u64::MAX {
                assert!(f.encode(f.max_value() + 1).is_none(), "{s}");
            }
        }
    }

    #[test]
    fn negative_values() {
        let f: HeaderFormat = "<i".parse().unwrap();
        assert_eq!(f.decode(&(-1i32).to_le_bytes()), Err(-1));
        assert_eq!(f.decode(&i32::MIN.to_le_bytes()), Err(i32::MIN as i64));
        let f: HeaderFormat = "b".parse().unwrap();
        assert_eq!(f.decode(&[0x80]), Err(-128));
        let f: HeaderFormat = ">q".parse().unwrap();
        assert_eq!(f.decode(&i64::MIN.to_be_bytes()), Err(i64::MIN));
        // The same bytes unsigned are a large positive length.
        let f: HeaderFormat = "<I".parse().unwrap();
        assert_eq!(f.decode(&(-1i32).to_le_bytes()), Ok(u32::MAX as u64));
    }
}
