//! `Codec`: the validated framing configuration, and its builder.

use crate::error::{Error, Fault, Result};
use crate::format::HeaderFormat;
use crate::varint;

/// Default largest payload: 8 MiB (8 388 608 bytes), header not counted.
/// On 16-bit targets (such as MSP430), where no buffer can be that large, it is
/// `usize::MAX` and the header format and buffer size are the limits.
pub const DEFAULT_MAX_FRAME_LEN: usize = if usize::BITS >= 32 {
    8 * 1024 * 1024
} else {
    usize::MAX
};

/// Longest header region (length-field offset + length field) a codec accepts.
pub const MAX_HEADER_LEN: usize = 64;

/// What the decoder does with a frame whose declared length is over the
/// maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Oversize {
    /// Return [`Error::FrameTooLarge`] and fail the stream: every later call
    /// returns the same error (the stream cannot be trusted to be aligned).
    #[default]
    Error,
    /// Return [`Error::FrameTooLarge`] once, then discard exactly the
    /// declared bytes as they arrive (never buffering them) and go on with
    /// the next frame.
    Skip,
}

/// A validated framing configuration: header format, limits, adjustment,
/// offset and strip. Cheap to copy; build it once with [`Codec::builder`]
/// (or take [`Codec::default`]) and hand it to decoders, readers and
/// writers.
///
/// Its constructors: [`Codec::new`], [`Codec::from_format`] (and
/// `"!I".parse()`), [`Codec::builder`], [`Codec::default`]. What it builds:
/// [`new_decoder`](Codec::new_decoder), [`new_read`](Codec::new_read),
/// [`new_write`](Codec::new_write), [`new_framed`](Codec::new_framed),
/// `new_tokio_codec` (feature `tokio`; the same `FrameCodec` serves
/// `futures-io` through `FrameCodec::new`).
///
/// A frame on the wire is a *header region* followed by the *payload*:
///
/// ```text
/// +---------------------+----------------+---------------------------+
/// | offset bytes (opt.) | length field   | payload                   |
/// | length_field_offset | format.size()  | header value - adjustment |
/// +---------------------+----------------+---------------------------+
/// |<------------- header_len ----------->|
/// ```
///
/// * **length adjustment**: header value = payload length + adjustment.
///   `length_includes_header(true)` adds the header length to it, for
///   protocols whose length counts the header. tokio-util's and Netty's
///   `length_adjustment` count differently, and tokio-util's also depends
///   on `num_skip`: the table under [`CodecBuilder`] gives their settings
///   for every configuration.
/// * **max_frame_len** counts payload bytes only. If the header cannot
///   express that much (e.g. `H` carries at most 65 535), the maximum is
///   clamped to what it can express; [`Codec::max_frame_len`] reports the
///   effective value.
/// * **num_skip**: how many leading bytes of header region are dropped
///   from each decoded frame; by default the whole header region, so frames
///   are just payloads. With `num_skip(0)` frames come back with their
///   header. When encoding, offset bytes are written as zeros.
///
/// # Examples
///
/// ```
/// use lenframe::{Codec, Oversize};
///
/// let codec = Codec::builder()
///     .format("<H".parse()?)
///     .max_frame_len(1024)
///     .oversize(Oversize::Skip)
///     .build()?;
/// assert_eq!(codec.header_len(), 2);
/// assert_eq!(codec.max_frame_len(), 1024);
///
/// // A header too narrow for the default maximum clamps it.
/// let narrow = Codec::builder().format("B".parse()?).build()?;
/// assert_eq!(narrow.max_frame_len(), 255);
/// # Ok::<(), lenframe::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Codec {
    pub(crate) format: HeaderFormat,
    pub(crate) offset: usize,
    pub(crate) header_len: usize,
    pub(crate) num_skip: usize,
    pub(crate) adjustment: i64,
    pub(crate) max_frame_len: usize,
    pub(crate) oversize: Oversize,
    /// Valid header values are `raw_lo ..= raw_lo + raw_span`: one compare
    /// on the hot path covers negative, too large and adjustment underflow.
    pub(crate) raw_lo: u64,
    pub(crate) raw_span: u64,
    /// Fewer buffered bytes than this send the decoder's header step off
    /// its fixed-size fast path: `header_len` for a fixed header,
    /// `usize::MAX` for a varint, whose every header takes the varint
    /// path (so fixed headers pay nothing for varints existing).
    pub(crate) head_min: usize,
    /// One more than the largest payload a one-byte varint header carries
    /// (the maximum, at most 127) for a varint codec; 0 for a fixed one,
    /// so that `len < varint_small_end` is the varint encoders' whole test
    /// of their commonest case.
    pub(crate) varint_small_end: usize,
}

/// `varint_small_end` for `format` with a maximum payload of `max`.
const fn varint_small_end(format: &HeaderFormat, max: usize) -> usize {
    if !format.is_varint() {
        return 0;
    }
    if max < 0x7f {
        max + 1
    } else {
        0x80
    }
}

/// `head_min` for a header region of `header_len` bytes in `format`.
const fn head_min(format: &HeaderFormat, header_len: usize) -> usize {
    if format.is_varint() {
        usize::MAX
    } else {
        header_len
    }
}

impl Default for Codec {
    fn default() -> Self {
        Codec::new(HeaderFormat::default())
    }
}

impl Codec {
    /// A codec with `format` and every other setting at its default.
    ///
    /// ```
    /// let codec = lenframe::Codec::new("i".parse()?);
    /// assert_eq!(codec.header_len(), 4);
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn new(format: HeaderFormat) -> Codec {
        // At most DEFAULT_MAX_FRAME_LEN (a usize): the casts are lossless, and
        // max is far below usize::MAX - header_len, as `build` guarantees.
        // Adjustment 0, so the valid header values are exactly 0..=max.
        let max = (DEFAULT_MAX_FRAME_LEN as u64).min(format.max_value()) as usize;
        Codec {
            format,
            offset: 0,
            header_len: format.size(),
            num_skip: format.size(),
            adjustment: 0,
            max_frame_len: max,
            oversize: Oversize::Error,
            raw_lo: 0,
            raw_span: max as u64,
            head_min: head_min(&format, format.size()),
            varint_small_end: varint_small_end(&format, max),
        }
    }

    /// A codec for the Python `struct` format `format` (`"i"`, `"!I"`,
    /// `"<H"`, ...) with every other setting at its default: the same as
    /// `Codec::new(format.parse()?)` and `format.parse::<Codec>()`.
    ///
    /// # Errors
    ///
    /// [`Error::BadFormat`] if `format` is not a one-integer `struct`
    /// format.
    ///
    /// ```
    /// use lenframe::Codec;
    ///
    /// // The tutorials' `struct.pack('i', len(data))`:
    /// let codec = Codec::from_format("i")?;
    /// assert_eq!(codec, Codec::new("i".parse()?));
    /// assert_eq!("<H".parse::<Codec>()?.header_len(), 2);
    /// assert!(Codec::from_format("ii").is_err());
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn from_format(format: &str) -> Result<Codec> {
        format.parse::<HeaderFormat>().map(Codec::new)
    }

    /// Starts a builder with every setting at its default.
    pub fn builder() -> CodecBuilder {
        CodecBuilder::default()
    }

    /// The header format of the length field.
    pub fn format(&self) -> HeaderFormat {
        self.format
    }

    /// Bytes before the length field.
    pub fn length_field_offset(&self) -> usize {
        self.offset
    }

    /// Length of the header region: offset plus the length field. For a
    /// varint header, the longest one (10, or 9 strict): each frame's
    /// header is as long as its length needs.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Bytes dropped from the front of each decoded frame. For a varint
    /// header: [`header_len`](Self::header_len) when each frame's header
    /// is dropped (the default), 0 when frames keep theirs.
    pub fn num_skip(&self) -> usize {
        self.num_skip
    }

    /// Header value minus payload length (see the type docs).
    pub fn length_adjustment(&self) -> i64 {
        self.adjustment
    }

    /// The effective largest payload length, header not counted.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// The oversize policy.
    pub fn oversize(&self) -> Oversize {
        self.oversize
    }

    /// This configuration with another maximum payload length (clamped to
    /// what the header can express, as in [`CodecBuilder::max_frame_len`]).
    /// Streamed frames use it: they may be far larger than what is buffered.
    ///
    /// # Errors
    ///
    /// [`Error::BadConfig`] as for [`CodecBuilder::build`].
    ///
    /// ```
    /// let big = lenframe::Codec::default().with_max_frame_len(usize::MAX)?;
    /// assert_eq!(big.max_frame_len(), u32::MAX as usize);
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn with_max_frame_len(&self, max: usize) -> Result<Codec> {
        CodecBuilder {
            format: self.format,
            offset: self.offset,
            num_skip: Some(self.num_skip),
            adjustment: self.adjustment,
            includes_header: false,
            max_frame_len: Some(max),
            oversize: self.oversize,
        }
        .build()
    }

    /// The payload length announced by the header at the front of `buf`,
    /// checked against the limits; `Ok(None)` if `buf` is shorter than
    /// [`header_len`](Self::header_len). The same check the decoder makes.
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLarge`], [`Error::NegativeLength`],
    /// [`Error::AdjustmentOverflow`].
    ///
    /// ```
    /// let codec = lenframe::Codec::default();
    /// assert_eq!(codec.payload_len_of(b"\0\0\x01\0rest")?, Some(256));
    /// assert_eq!(codec.payload_len_of(b"\0\0")?, None);
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn payload_len_of(&self, buf: &[u8]) -> Result<Option<u64>> {
        if let Some(rules) = self.format.varint_rules() {
            let len = match varint::read(buf, rules) {
                Ok(Some((len, _))) => len,
                Ok(None) => return Ok(None),
                Err(bad) => return Err(Fault::varint(bad, rules, buf).into()),
            };
            return self.varint_len(len).map(Some).map_err(Error::from);
        }
        if buf.len() < self.header_len {
            return Ok(None);
        }
        self.payload_len(buf).map(Some).map_err(Error::from)
    }

    /// The payload length a varint announces, checked against the
    /// maximum (a varint codec has no adjustment: raw_span is the maximum).
    #[inline(always)]
    pub(crate) fn varint_len(&self, len: u64) -> Result<u64, Fault> {
        if len > self.raw_span {
            return Err(Fault::TooLarge {
                len,
                max: self.raw_span,
            });
        }
        Ok(len)
    }

    /// The payload length a header region announces, checked against the
    /// limits. `header` must hold at least [`header_len`](Self::header_len)
    /// bytes (a shorter one panics on the slice).
    ///
    /// A returned length is at most `max_frame_len`, so `header_len + len`
    /// fits a usize (`build` clamps `max_frame_len` to `usize::MAX -
    /// header_len`).
    #[inline(always)]
    pub(crate) fn payload_len(&self, header: &[u8]) -> Result<u64, Fault> {
        let raw = self.format.decode_raw(&header[self.offset..]);
        if raw.wrapping_sub(self.raw_lo) <= self.raw_span {
            // raw is in raw_lo..=raw_hi, so raw - adjustment is in
            // 0..=max_frame_len: the true difference fits a u64, and the
            // wrapping subtraction (two's complement) gives exactly it.
            return Ok(raw.wrapping_sub(self.adjustment as u64));
        }
        Err(self.header_fault(header))
    }

    /// Why a header value is out of range.
    ///
    /// The fast check in `payload_len` and `checked_payload_len` accept the
    /// same values: raw_lo..=raw_hi is exactly the non-negative values `v`
    /// with `0 <= v - adjustment <= max_frame_len` (negative signed values
    /// decode above the field's max, which raw_hi never exceeds). So the
    /// slow path always finds the fault; tests/codec/config_extremes.rs checks it
    /// on extreme headers of every format.
    #[cold]
    fn header_fault(&self, header: &[u8]) -> Fault {
        match self.checked_payload_len(header) {
            Err(fault) => fault,
            Ok(len) => unreachable!("header value for {len} bytes is in range"),
        }
    }

    /// The slow, step-by-step check behind `payload_len`.
    fn checked_payload_len(&self, header: &[u8]) -> Result<u64, Fault> {
        // usize -> u64 is lossless: usize is at most 64 bits wide.
        self.payload_len_within(header, self.max_frame_len as u64)
    }

    /// The largest payload length the header can announce: the field's
    /// largest value minus the adjustment (`build` checked it is >= 0),
    /// saturated at `u64::MAX` (a `Q` field with a negative adjustment).
    pub(crate) fn expressible_len(&self) -> u64 {
        let expressible = i128::from(self.format.max_value()) - i128::from(self.adjustment);
        u64::try_from(expressible.max(0)).unwrap_or(u64::MAX)
    }

    /// The payload length a header region announces, checked step by step
    /// against `max` instead of `max_frame_len`: negative, then adjustment,
    /// then size. Streamed frames use it with their own limit.
    pub(crate) fn payload_len_within(&self, header: &[u8], max: u64) -> Result<u64, Fault> {
        let value = self
            .format
            .decode(&header[self.offset..])
            .map_err(|value| Fault::Negative { value })?;
        let len = if self.adjustment == 0 {
            value
        } else {
            // i128 holds any u64 minus any i64.
            let len = i128::from(value) - i128::from(self.adjustment);
            u64::try_from(len).map_err(|_| Fault::Adjustment {
                value,
                adjustment: self.adjustment,
            })?
        };
        if len > max {
            return Err(Fault::TooLarge { len, max });
        }
        Ok(len)
    }
}

/// `"i".parse::<Codec>()`: [`Codec::from_format`].
impl core::str::FromStr for Codec {
    type Err = Error;

    fn from_str(format: &str) -> Result<Codec> {
        Codec::from_format(format)
    }
}

/// Builds a [`Codec`], checking the whole configuration once in
/// [`build`](Self::build). Setters chain on `&mut self`, as in tokio-util.
///
/// # Examples
///
/// A protocol with a 2-byte type tag before a big-endian `u16` length that
/// counts the whole header, frames returned with their header:
///
/// ```
/// use lenframe::Codec;
///
/// let codec = Codec::builder()
///     .format("!H".parse()?)
///     .length_field_offset(2)
///     .length_includes_header(true)
///     .num_skip(0)
///     .build()?;
/// let mut dec = codec.new_decoder();
/// let wire = [0xCA, 0xFE, 0x00, 0x07, b'a', b'b', b'c'];
/// let frame = dec.decode_slice(&wire)?.frame.unwrap();
/// assert_eq!(frame, &[0xCA, 0xFE, 0x00, 0x07, b'a', b'b', b'c']);
/// # Ok::<(), lenframe::Error>(())
/// ```
///
/// # The same stream in tokio-util and Netty
///
/// Write `H` = [`Codec::header_len`] (`length_field_offset` + field
/// size), `S` = [`Codec::num_skip`] (default `H`), `A` =
/// [`Codec::length_adjustment`] (`length_adjustment`, plus `H` with
/// `length_includes_header(true)`) and `M` = [`Codec::max_frame_len`].
/// A frame whose header value is `v` is `H + v - A` bytes on the wire, and
/// the decoder returns all of them but the first `S`.
///
/// * tokio-util's `LengthDelimitedCodec` reads `v`, refuses it if over its
///   `max_frame_length` (checked *before* adjusting), drops `num_skip`
///   bytes and returns the next `v + length_adjustment`. So its
///   `length_adjustment` is `H - S - A`: the negation of ours only when
///   the whole header region is stripped (`S = H`, the default). Its
///   *encoder* writes `v` = payload length - `length_adjustment`, checks
///   the payload length against `max_frame_length`, writes no offset bytes
///   and ignores `num_skip`: it writes our bytes with `length_adjustment`
///   `-A` and only when `length_field_offset` is 0.
/// * Netty's `LengthFieldBasedFrameDecoder(maxFrameLength,
///   lengthFieldOffset, lengthFieldLength, lengthAdjustment,
///   initialBytesToStrip)` takes frames of `lengthFieldOffset +
///   lengthFieldLength + v + lengthAdjustment` bytes and drops the first
///   `initialBytesToStrip`; `maxFrameLength` counts the whole frame. So
///   `lengthAdjustment = -A`, `initialBytesToStrip = S`, `maxFrameLength =
///   M + H`. (Derived from Netty's documented formula, not run.)
///
/// | lenframe builder | `H`, `S`, `A` | tokio-util decoder | tokio-util encoder | Netty decoder |
/// |---|---|---|---|---|
/// | **any**: `length_field_offset(o)`, field of `n` bytes | `o + n`, `S`, `A` | `length_field_offset(o)`, `length_field_length(n)`, `num_skip(S)`, `length_adjustment(H - S - A)`, `max_frame_length(M + A)` | only if `o = 0`: `length_field_length(n)`, `length_adjustment(-A)`, `max_frame_length(M)` | `(M + H, o, n, -A, S)` |
/// | defaults (`!I`) | 4, 4, 0 | defaults | defaults | `(M + 4, 0, 4, 0, 4)` |
/// | `length_adjustment(a)` | 4, 4, `a` | `length_adjustment(-a)` | `length_adjustment(-a)`, as the decoder | `(M + 4, 0, 4, -a, 4)` |
/// | `length_includes_header(true)` | 4, 4, 4 | `length_adjustment(-4)` | `length_adjustment(-4)`, as the decoder | `(M + 4, 0, 4, -4, 4)` |
/// | `num_skip(0)` | 4, 0, 0 | `num_skip(0)`, `length_adjustment(4)` | strip count: decode only; encode with another codec, `length_adjustment(0)` | `(M + 4, 0, 4, 0, 0)` |
/// | `num_skip(0)`, `length_includes_header(true)` | 4, 0, 4 | `num_skip(0)`, `length_adjustment(0)` | strip count: decode only; encode with another codec, `length_adjustment(-4)` | `(M + 4, 0, 4, -4, 0)` |
/// | `length_field_offset(2)` | 6, 6, 0 | `length_field_offset(2)`, `length_adjustment(0)` | offset: decode only, no encoder | `(M + 6, 2, 4, 0, 6)` |
/// | `length_field_offset(2)`, `num_skip(2)` | 6, 2, 0 | `length_field_offset(2)`, `num_skip(2)`, `length_adjustment(4)` | offset: decode only, no encoder | `(M + 6, 2, 4, 0, 2)` |
/// | `"!H"`, `length_field_offset(2)`, `length_includes_header(true)`, `num_skip(0)` (the example above) | 4, 0, 4 | `length_field_offset(2)`, `length_field_length(2)`, `num_skip(0)`, `length_adjustment(0)` | offset: decode only, no encoder | `(M + 4, 2, 2, -4, 0)` |
///
/// Unlisted tokio-util settings are its defaults (`num_skip` = offset +
/// field length). In every row tokio-util's decoder takes
/// `max_frame_length(M + A)` (it bounds the header value) and its encoder
/// `max_frame_length(M)` (it bounds the payload), so one codec serves both
/// directions (rows with `S = H`) with the larger of the two.
/// Little-endian formats (`<`, or native on a little-endian target) add
/// tokio-util's `little_endian()` and Netty's `ByteOrder.LITTLE_ENDIAN`
/// first argument. Both read the field unsigned (Netty's 8-byte field
/// signed): a negative value in a signed format is an error here and a
/// (refused) huge length there; valid streams read the same.
/// `tests/codec/adjustment_equivalence.rs` runs every row, and random
/// configurations, through tokio-util.
///
/// One tokio-util quirk: `new_codec` lowers its `max_frame_length` to the
/// field's largest value + its `length_adjustment`, so when that adjustment
/// is negative it refuses the top header values, which lenframe accepts
/// (e.g. `"!B"` with `length_includes_header(true)`: tokio-util's
/// `length_adjustment(-1)` refuses the header value 255, a 254-byte
/// payload that lenframe reads).
#[derive(Debug, Clone, Default)]
pub struct CodecBuilder {
    format: HeaderFormat,
    offset: usize,
    num_skip: Option<usize>,
    adjustment: i64,
    includes_header: bool,
    max_frame_len: Option<usize>,
    oversize: Oversize,
}

impl CodecBuilder {
    /// The length field's format (default `!I`).
    pub fn format(&mut self, format: HeaderFormat) -> &mut Self {
        self.format = format;
        self
    }

    /// Largest payload in bytes, header not counted (default
    /// [`DEFAULT_MAX_FRAME_LEN`]). Clamped to what the header can express.
    pub fn max_frame_len(&mut self, max: usize) -> &mut Self {
        self.max_frame_len = Some(max);
        self
    }

    /// Header value = payload length + `adjustment` (default 0).
    pub fn length_adjustment(&mut self, adjustment: i64) -> &mut Self {
        self.adjustment = adjustment;
        self
    }

    /// If true, the header value also counts the header region: adds
    /// [`Codec::header_len`] to the adjustment.
    pub fn length_includes_header(&mut self, yes: bool) -> &mut Self {
        self.includes_header = yes;
        self
    }

    /// Bytes before the length field (default 0); they are part of the
    /// header region. At most [`MAX_HEADER_LEN`] minus the field size.
    /// A varint header takes none.
    pub fn length_field_offset(&mut self, offset: usize) -> &mut Self {
        self.offset = offset;
        self
    }

    /// Bytes dropped from the front of each decoded frame (default: the
    /// whole header region). At most the header length. For a varint
    /// header, 0 (frames keep their header) or the default.
    pub fn num_skip(&mut self, n: usize) -> &mut Self {
        self.num_skip = Some(n);
        self
    }

    /// What to do with an oversize frame (default [`Oversize::Error`]).
    pub fn oversize(&mut self, policy: Oversize) -> &mut Self {
        self.oversize = policy;
        self
    }

    /// Checks the configuration and returns the codec.
    ///
    /// # Errors
    ///
    /// [`Error::BadConfig`] if the header region is longer than
    /// [`MAX_HEADER_LEN`], `num_skip` is longer than the header region, or
    /// the adjustment leaves no length the header can express. With a
    /// varint header, also for any setting that needs a header of fixed
    /// length: a length field offset, a length adjustment,
    /// `length_includes_header(true)` (the header's length depends on the
    /// value it carries), and a `num_skip` other than 0 (keep the varint)
    /// or the whole header.
    ///
    /// ```
    /// use lenframe::{Codec, Error, HeaderFormat};
    /// let err = Codec::builder()
    ///     .format(HeaderFormat::VARINT)
    ///     .length_includes_header(true)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::BadConfig { .. }));
    /// // Frames that keep their varint prefix:
    /// let keep = Codec::builder().format(HeaderFormat::VARINT).num_skip(0).build()?;
    /// let mut dec = keep.new_decoder();
    /// assert_eq!(dec.decode_slice(b"\x02hi")?.frame, Some(&b"\x02hi"[..]));
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn build(&self) -> Result<Codec> {
        if self.format.is_varint() {
            self.check_varint()?;
        }
        // Every quantity below comes from the caller, so the arithmetic is
        // either bounded by an earlier check (said where it happens) or done
        // in i128, which holds any u64 plus or minus any i64.
        let size = self.format.size();
        // size <= 8 < MAX_HEADER_LEN: no underflow.
        if self.offset > MAX_HEADER_LEN - size {
            return Err(Error::BadConfig {
                reason: "length field offset leaves no room for the length field in MAX_HEADER_LEN (64) bytes",
                value: self.offset as u64,
                bound: (MAX_HEADER_LEN - size) as u64,
            });
        }
        // offset <= MAX_HEADER_LEN - size: no overflow, and header_len fits
        // the u8 that `Header` stores it in.
        let header_len = self.offset + size;
        let num_skip = self.num_skip.unwrap_or(header_len);
        if num_skip > header_len {
            return Err(Error::BadConfig {
                reason: "num_skip exceeds the header length",
                value: num_skip as u64,
                bound: header_len as u64,
            });
        }
        let extra = if self.includes_header {
            // header_len <= MAX_HEADER_LEN: lossless.
            header_len as i64
        } else {
            0
        };
        let adjustment = self.adjustment.checked_add(extra).ok_or(Error::BadConfig {
            reason:
                "length adjustment plus the header length (length_includes_header) overflows i64",
            // Only a positive adjustment overflows here: lossless.
            value: self.adjustment as u64,
            bound: (i64::MAX - extra) as u64,
        })?;
        let field_max = i128::from(self.format.max_value());
        let adj = i128::from(adjustment);
        // Largest payload the header can carry: field max - adjustment.
        let expressible = field_max - adj;
        if expressible < 0 {
            return Err(Error::BadConfig {
                reason: "length adjustment (plus the header length, with length_includes_header) exceeds the largest value the length field holds",
                // adj > field_max >= 0 here: both fit u64.
                value: adjustment as u64,
                bound: field_max as u64,
            });
        }
        let wanted = self.max_frame_len.unwrap_or(DEFAULT_MAX_FRAME_LEN);
        // The decoder computes header_len + payload length in usize.
        let in_memory = usize::MAX - header_len;
        // The minimum of three values of which one is a usize: fits usize.
        let max = wanted.min(in_memory);
        let max = usize::try_from(expressible).map_or(max, |e| max.min(e));
        // Header values that decode to a payload of 0..=max bytes:
        // 0 <= raw_lo and raw_hi <= field_max <= u64::MAX.
        let raw_lo = adj.max(0);
        let raw_hi = (max as i128 + adj).min(field_max);
        if raw_hi < raw_lo {
            // Only for a negative adjustment (otherwise max + adj = raw_hi
            // >= adj): its negation, in i128 so that i64::MIN has one.
            return Err(Error::BadConfig {
                reason: "max_frame_len is below the smallest payload length the negative length adjustment allows",
                value: max as u64,
                // -adj <= 2^63 here (adj < 0): fits u64.
                bound: (-adj) as u64,
            });
        }
        Ok(Codec {
            raw_lo: raw_lo as u64,
            raw_span: (raw_hi - raw_lo) as u64,
            format: self.format,
            offset: self.offset,
            header_len,
            num_skip,
            adjustment,
            max_frame_len: max,
            oversize: self.oversize,
            head_min: head_min(&self.format, header_len),
            varint_small_end: varint_small_end(&self.format, max),
        })
    }

    /// The settings a varint header refuses: everything that needs the
    /// header's length before its value is known.
    fn check_varint(&self) -> Result<()> {
        let size = self.format.size();
        let bad = |reason, value: u64, bound| {
            Err(Error::BadConfig {
                reason,
                value,
                bound,
            })
        };
        if self.offset != 0 {
            return bad(
                "a varint header takes no length field offset (it must start the frame)",
                self.offset as u64,
                0,
            );
        }
        if self.includes_header {
            return bad(
                "length_includes_header cannot apply to a varint header: its length depends on the value it carries",
                1,
                0,
            );
        }
        if self.adjustment != 0 {
            // The magnitude, in u64 so that i64::MIN has one.
            return bad(
                "a varint header takes no length adjustment: its value is the payload length",
                self.adjustment.unsigned_abs(),
                0,
            );
        }
        match self.num_skip {
            Some(n) if n != 0 && n != size => bad(
                "num_skip for a varint header is 0 (frames keep their header) or the whole header (the default)",
                n as u64,
                size as u64,
            ),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(s: &str) -> HeaderFormat {
        s.parse().unwrap()
    }

    #[test]
    fn defaults() {
        let c = Codec::default();
        assert_eq!(c, Codec::builder().build().unwrap());
        assert_eq!(c.max_frame_len(), 8_388_608);
        assert_eq!(c.header_len(), 4);
        assert_eq!(c.num_skip(), 4);
        assert_eq!(c.format().to_string(), "!I");
    }

    #[test]
    fn clamps_max_to_header() {
        for (f, max) in [
            ("B", 255),
            ("b", 127),
            ("<H", 65535),
            ("h", 32767),
            ("!I", 8 << 20),
        ] {
            assert_eq!(Codec::new(fmt(f)).max_frame_len(), max, "{f}");
            assert_eq!(
                Codec::builder()
                    .format(fmt(f))
                    .build()
                    .unwrap()
                    .max_frame_len(),
                max,
                "{f}"
            );
        }
        let c = Codec::builder()
            .format(fmt("B"))
            .length_includes_header(true)
            .build()
            .unwrap();
        assert_eq!(c.max_frame_len(), 254);
        assert_eq!(c.length_adjustment(), 1);
        let c = Codec::builder()
            .format(fmt("Q"))
            .max_frame_len(usize::MAX)
            .build()
            .unwrap();
        assert_eq!(c.max_frame_len(), usize::MAX - 8);
    }

    #[test]
    fn rejects_impossible_configs() {
        assert!(matches!(
            Codec::builder()
                .format(fmt("B"))
                .length_adjustment(256)
                .build(),
            Err(Error::BadConfig { .. })
        ));
        assert!(matches!(
            Codec::builder().num_skip(5).build(),
            Err(Error::BadConfig { .. })
        ));
        assert!(matches!(
            Codec::builder().length_field_offset(61).build(),
            Err(Error::BadConfig { .. })
        ));
        assert!(Codec::builder().length_field_offset(60).build().is_ok());
        assert!(matches!(
            Codec::builder()
                .length_adjustment(i64::MAX)
                .length_includes_header(true)
                .build(),
            Err(Error::BadConfig { .. })
        ));
    }

    #[test]
    fn payload_len_checks() {
        let c = Codec::builder()
            .format(fmt("<i"))
            .max_frame_len(100)
            .build()
            .unwrap();
        assert_eq!(c.payload_len(&100i32.to_le_bytes()), Ok(100));
        assert_eq!(
            c.payload_len(&101i32.to_le_bytes()),
            Err(Fault::TooLarge { len: 101, max: 100 })
        );
        assert_eq!(
            c.payload_len(&(-3i32).to_le_bytes()),
            Err(Fault::Negative { value: -3 })
        );
        let c = Codec::builder().length_adjustment(4).build().unwrap();
        assert_eq!(c.payload_len(&[0, 0, 0, 4]), Ok(0));
        assert_eq!(
            c.payload_len(&[0, 0, 0, 3]),
            Err(Fault::Adjustment {
                value: 3,
                adjustment: 4
            })
        );
        let c = Codec::builder().length_adjustment(-2).build().unwrap();
        assert_eq!(c.payload_len(&[0, 0, 0, 3]), Ok(5));
        assert_eq!(c.payload_len(&[0, 0, 0, 0]), Ok(2));
        assert!(matches!(
            Codec::builder()
                .length_adjustment(-2)
                .max_frame_len(1)
                .build(),
            Err(Error::BadConfig { .. })
        ));
    }

    #[test]
    fn fast_range_check_agrees_with_slow_path() {
        for f in ["b", "B", "<h", "!I", "i", "q", "Q"] {
            for adj in [-3i64, 0, 2] {
                for max in [0usize, 1, 5, 300] {
                    let Ok(c) = Codec::builder()
                        .format(fmt(f))
                        .length_adjustment(adj)
                        .max_frame_len(max)
                        .build()
                    else {
                        continue;
                    };
                    let size = c.format().size();
                    let mut values: Vec<u64> = (0..10).collect();
                    values.extend([c.format().max_value(), u64::MAX >> (64 - 8 * size)]);
                    values.extend([300, 301, 302, 303]);
                    for raw in values {
                        let bytes = raw.to_be_bytes();
                        let mut header = bytes[8 - size..].to_vec();
                        if !c.format().is_big_endian() {
                            header.reverse();
                        }
                        assert_eq!(
                            c.payload_len(&header),
                            c.checked_payload_len(&header),
                            "{f} adj {adj} max {max} raw {raw}"
                        );
                    }
                }
            }
        }
    }
}
