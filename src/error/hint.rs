//! Hints in error messages: what the bytes of a rejected header look like,
//! when that explains the error.
//!
//! The error variants keep their fields (`FrameTooLarge { len, max }`, ...),
//! so a hint is computed in `Display` from those fields alone, on the error
//! path: nothing is stored, nothing is allocated, nothing is added to the
//! per-frame work, and it works without `std` (only `core::fmt`).
//!
//! `Display` knows the value, not the header format it came from, so the
//! heuristics look at the value's own bytes:
//!
//! * **Other byte order.** Take the smallest width `W` of 2, 4 or 8 bytes
//!   that holds the value (for a negative value, the smallest signed width,
//!   with its two's-complement bits) and reverse those `W` bytes. The hint
//!   appears if the result would have been accepted: at most `max` for
//!   [`FrameTooLarge`](crate::Error::FrameTooLarge), a non-negative length
//!   of at most [`PLAUSIBLE_LEN`] for
//!   [`NegativeLength`](crate::Error::NegativeLength) (and, for 2 bytes,
//!   smaller than the value's magnitude: -200 is `ff 38`, not a
//!   little-endian 14 591), at most the bytes
//!   that arrived for a [`Truncated`](crate::Error::Truncated) payload (the
//!   frame would have been complete).
//! * **Text.** The `W` bytes are printable ASCII: a text protocol (HTTP,
//!   SSH, ...) is talking to a framed port. A known prefix (`GET `,
//!   `HTTP`, `SSH-`, ...) is looked for in both byte orders; other text is
//!   shown in big-endian order.
//! * **TLS.** The bytes start with `16 03 0x` (a TLS handshake record) in
//!   either order.
//!
//! Text and TLS need `W` of 4 or 8 in messages (2 bytes are too often the
//! low half of a wider header); the stall hint, which knows the header's
//! width, also looks at 2-byte headers.
//!
//! # The plausibility rule
//!
//! One rule decides whether any hint (byte order, text or TLS) may
//! appear: **the bytes must be evidence that no legitimate frame gives.**
//!
//! * [`FrameTooLarge`](crate::Error::FrameTooLarge): a length at most an
//!   eighth above the maximum is plausibly a real frame slightly too big,
//!   and gets no hint of any kind.
//! * [`NegativeLength`](crate::Error::NegativeLength): no legitimate header
//!   is negative, so the value may be looked at (with the limits above).
//! * [`Truncated`](crate::Error::Truncated): only inside a payload, only
//!   the byte order, and only when the stream ended exactly where the
//!   other byte order's frame would end (the header was accepted: its
//!   bytes looking like text or TLS prove nothing).
//! * A stall inside a frame (`WouldBlock` or `TimedOut`, see
//!   `read/stall.rs`): the codec accepted the header, so it may be a
//!   legitimate frame's, and the bytes after it must bear the hint out:
//!   whole frames in the other byte order ending where the stall came
//!   (later headers that read the same reversed, as a zero-filled payload
//!   does, are no evidence), text throughout with the protocol's known
//!   prefix first, or one whole TLS record holding one whole ClientHello.
//!
//! Known ambiguities, accepted because the hint is worded as a condition
//! ("as a 4-byte length in the other byte order it would be 5"):
//!
//! * A header wider than the value's smallest width (`!Q` carrying a small
//!   value, or `!I` carrying a multiple of 65 536) is reversed at the
//!   smaller width, which is not what the peer's other-order header says.
//! * With a length adjustment the errors carry the adjusted length, not
//!   the header's value, and the reversal is of the adjusted length.
//! * A legitimate payload that is itself a run of frames in the other byte
//!   order (nested length-prefixed records) reads, after its header, as
//!   exactly what a peer of the other byte order sends: stalled where one
//!   of those inner records ends, it gets the byte-order question. The
//!   bytes cannot tell the two apart.
//! * A legitimate frame far over the maximum can read as a small length
//!   in the other byte order: a 16 MiB frame over an 8 MiB limit
//!   (`01 00 00 00`) reads as 1, and gets the byte-order question.
//! * A varint header has no byte order, but its length over the maximum
//!   is the same `FrameTooLarge { len, max }`, and `Display` cannot tell
//!   it from a fixed header's: a round length (10 MiB, whose bytes read
//!   backwards are 40 960) gets the byte-order question too.

use core::fmt;

use crate::error::FramePart;

/// The largest length taken as plausible when a negative header, read in
/// the other byte order, becomes non-negative: 8 MiB, the default maximum
/// on 32- and 64-bit targets (the error carries no maximum of its own).
pub(crate) const PLAUSIBLE_LEN: u64 = 8 * 1024 * 1024;

/// Protocols recognised by the first bytes they send.
const TEXT_PREFIXES: &[(&[u8; 4], &str)] = &[
    (b"GET ", "HTTP"),
    (b"POST", "HTTP"),
    (b"PUT ", "HTTP"),
    (b"HEAD", "HTTP"),
    (b"HTTP", "HTTP"),
    (b"DELE", "HTTP"),
    (b"OPTI", "HTTP"),
    (b"PATC", "HTTP"),
    (b"CONN", "HTTP"),
    (b"TRAC", "HTTP"),
    (b"PRI ", "HTTP/2"),
    (b"SSH-", "SSH"),
    (b"EHLO", "SMTP"),
    (b"HELO", "SMTP"),
    (b"220 ", "SMTP or FTP"),
    (b"+OK ", "POP3"),
];

/// The smallest of 2, 4 or 8 bytes that holds `v`.
fn width(v: u64) -> usize {
    if v <= 0xFFFF {
        2
    } else if v <= 0xFFFF_FFFF {
        4
    } else {
        8
    }
}

/// The smallest of 2, 4 or 8 bytes that holds the signed `v`.
fn signed_width(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// The low `w` bytes of `v` in reverse order (`w` is 2, 4 or 8).
fn swap(v: u64, w: usize) -> u64 {
    v.swap_bytes() >> (64 - 8 * w)
}

/// The low `w` bytes of `v` (`w` is 2, 4 or 8), most significant first.
fn be_bytes(v: u64, w: usize) -> [u8; 8] {
    (v << (64 - 8 * w)).to_be_bytes()
}

/// Python `struct` formats of a `w`-byte length: (little-endian on x86,
/// big-endian).
pub(crate) fn python_formats(w: usize) -> (&'static str, &'static str) {
    match w {
        2 => ("h", "!H"),
        4 => ("i", "!I"),
        _ => ("q", "!Q"),
    }
}

fn is_text(b: u8) -> bool {
    matches!(b, 0x20..=0x7E | b'\t' | b'\r' | b'\n')
}

/// What the `w` bytes of a header look like, if anything telling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Looks {
    /// A TLS record header: the bytes in the order they arrived.
    Tls([u8; 8], usize),
    /// Text, in the order most likely to be the wire order, and the
    /// protocol its prefix names.
    Text([u8; 8], usize, Option<&'static str>),
}

/// Looks at the `w` bytes of `v` in both byte orders.
pub(crate) fn looks(v: u64, w: usize) -> Option<Looks> {
    let be = be_bytes(v, w);
    let le = be_bytes(swap(v, w), w);
    for bytes in [be, le] {
        // 16 03 xx: a TLS handshake record, version 3.x (SSL 3 to TLS 1.3
        // all use 03 00..=04 on the wire).
        if bytes[0] == 0x16 && bytes[1] == 0x03 && (w == 2 || bytes[2] <= 0x04) {
            return Some(Looks::Tls(bytes, w));
        }
    }
    if !be[..w].iter().all(|&b| is_text(b)) {
        return None;
    }
    // Both orders are text (the same bytes). A known prefix picks the
    // order; 2 bytes are only telling with one.
    for bytes in [be, le] {
        let n = w.min(4);
        if let Some((_, proto)) = TEXT_PREFIXES.iter().find(|(p, _)| p[..n] == bytes[..n]) {
            return Some(Looks::Text(bytes, w, Some(proto)));
        }
    }
    (w >= 4 && be[..w].iter().any(u8::is_ascii_alphanumeric)).then_some(Looks::Text(be, w, None))
}

impl Looks {
    /// Whether `wire`, the bytes that arrived from the frame's first byte
    /// on, bear the look out: one TLS record holding one ClientHello that
    /// arrived whole and nothing after it (a client waiting for the
    /// server's hello), or text throughout (at most its
    /// first KiB is looked at) that starts with the protocol's known
    /// prefix when one was named. For a stall, where the header was
    /// accepted and may be a legitimate frame's.
    #[cfg(feature = "std")]
    pub(crate) fn confirmed_by(&self, wire: &[u8]) -> bool {
        match *self {
            // One whole handshake record holding one whole ClientHello (type
            // 1, its 3-byte length four less than the record's), ending
            // where the bytes end: a client waiting for the server's hello.
            Looks::Tls(..) => match wire {
                [0x16, 0x03, minor, hi, lo, 0x01, h0, h1, h2, ..] if *minor <= 0x04 => {
                    let record = usize::from(u16::from_be_bytes([*hi, *lo]));
                    let hello = u32::from_be_bytes([0, *h0, *h1, *h2]) as usize;
                    record >= 4 + 34 && hello + 4 == record && wire.len() == 5 + record
                }
                _ => false,
            },
            Looks::Text(_, _, proto) => {
                let prefix_ok = match proto {
                    None => true,
                    Some(_) => wire
                        .get(..4)
                        .is_some_and(|start| TEXT_PREFIXES.iter().any(|(p, _)| p[..] == *start)),
                };
                prefix_ok && wire.len() > 4 && wire.iter().take(1024).all(|&b| is_text(b))
            }
        }
    }
}

impl fmt::Display for Looks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Looks::Tls(bytes, w) => {
                f.write_str("the header bytes")?;
                for b in &bytes[..w] {
                    write!(f, " {b:02x}")?;
                }
                f.write_str(
                    " start a TLS handshake: the peer speaks TLS (https?) to a plain-TCP port",
                )
            }
            Looks::Text(bytes, w, proto) => {
                f.write_str("the header bytes are \"")?;
                for &b in &bytes[..w] {
                    write!(f, "{}", char::from(b).escape_debug())?;
                }
                match proto {
                    Some(p) => write!(
                        f,
                        "\": the peer seems to speak {p}, not length-prefixed frames"
                    ),
                    None => {
                        f.write_str("\": the peer seems to send text, not length-prefixed frames")
                    }
                }
            }
        }
    }
}

/// The byte-order hint: "as a `w`-byte length in the other byte order it
/// would be `value`".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OtherOrder {
    w: usize,
    value: u64,
    /// The bytes that arrived complete the frame it declares.
    arrived: bool,
}

impl fmt::Display for OtherOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (le, be) = python_formats(self.w);
        let article = if self.w == 8 { "an" } else { "a" };
        write!(
            f,
            " (as {article} {}-byte length in the other byte order it would be {}",
            self.w, self.value
        )?;
        if self.arrived {
            f.write_str(", and that many bytes arrived")?;
        }
        write!(
            f,
            ": is the peer using the other byte order? Python struct.pack('{le}') is \
             little-endian on x86, struct.pack('{be}') big-endian: use the same format on both sides)"
        )
    }
}

/// One hint, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    None,
    Looks(Looks),
    Order(OtherOrder),
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::None => Ok(()),
            Hint::Looks(l) => write!(f, " ({l})"),
            Hint::Order(o) => o.fmt(f),
        }
    }
}

/// The hint for a positive length `v`: what its bytes look like, else the
/// other byte order if `accept` takes the reversed value.
fn hint_for(v: u64, accept: impl Fn(u64) -> bool) -> Hint {
    let w = width(v);
    // Two bytes are only telling when the header is known to be two bytes
    // wide (the stall hint): here 790 (`03 16`) is far more often a 4-byte
    // `00 00 03 16` than a `<H` reading a TLS record.
    if let Some(l) = looks(v, w).filter(|_| w >= 4) {
        return Hint::Looks(l);
    }
    let value = swap(v, w);
    if accept(value) {
        Hint::Order(OtherOrder {
            w,
            value,
            arrived: false,
        })
    } else {
        Hint::None
    }
}

/// The hint of [`Error::FrameTooLarge`](crate::Error::FrameTooLarge)
/// (decoding): displays as nothing or as " (...)".
pub(crate) struct TooLarge(pub(crate) u64, pub(crate) u64);

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let TooLarge(len, max) = *self;
        // The plausibility rule: a length at most an eighth above the
        // maximum is plausibly a real frame slightly too big, and gets no
        // hint of any kind (byte order, text or TLS).
        if len <= max.saturating_add(max / 8) {
            return Ok(());
        }
        hint_for(len, |v| v <= max).fmt(f)
    }
}

/// The hint of [`Error::NegativeLength`](crate::Error::NegativeLength).
pub(crate) struct Negative(pub(crate) i64);

impl fmt::Display for Negative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0;
        let w = signed_width(value);
        // The two's-complement bits of the w-byte field (the `as` is the
        // intended reinterpretation), reversed, then read signed again.
        let bits = (value as u64) & (u64::MAX >> (64 - 8 * w));
        let shift = 64 - 8 * w as u32;
        let other = ((swap(bits, w) << shift) as i64) >> shift;
        // A genuine small negative (-1, -200: 2 bytes) reverses to a value
        // larger than its magnitude; a 2-byte length in the other byte order
        // reverses to a smaller one. Wider genuine negatives (-100 000)
        // reverse to values far above PLAUSIBLE_LEN.
        let plausible = other >= 0
            && other as u64 <= PLAUSIBLE_LEN
            && (w > 2 || (other as u64) < value.unsigned_abs());
        if plausible {
            OtherOrder {
                w,
                value: other as u64,
                arrived: false,
            }
            .fmt(f)
        } else {
            Ok(())
        }
    }
}

/// The hint of [`Error::Truncated`](crate::Error::Truncated): only for a
/// payload, since a cut header has no value to look at.
pub(crate) struct Cut(pub(crate) FramePart, pub(crate) u64, pub(crate) u64);

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Cut(part, got, expected) = *self;
        // Only a declared length of 4 or 8 bytes' width (a 2-byte value
        // may as well be the low half of a 4-byte field), and only when the
        // stream ended exactly where the other byte order's frame ends: a
        // legitimate frame of 512 bytes cut after 100 is not blamed on the
        // byte order.
        if part != FramePart::Payload || width(expected) < 4 {
            return Ok(());
        }
        // The byte order only: the header was accepted, so its value may be
        // a legitimate frame's, whatever its bytes look like; the stream
        // ending exactly where the other order's frame ends is the
        // evidence.
        let w = width(expected);
        let value = swap(expected, w);
        if value == got {
            OtherOrder {
                w,
                value,
                arrived: true,
            }
            .fmt(f)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_swaps() {
        assert_eq!(width(0xFFFF), 2);
        assert_eq!(width(0x1_0000), 4);
        assert_eq!(width(1 << 32), 8);
        assert_eq!(swap(0x0500_0000, 4), 5);
        assert_eq!(swap(0x0100, 2), 1);
        assert_eq!(signed_width(-32768), 2);
        assert_eq!(signed_width(-32769), 4);
        assert_eq!(signed_width(i64::from(i32::MIN) - 1), 8);
    }

    #[test]
    fn looks_prefers_a_known_prefix() {
        let get = u64::from(u32::from_be_bytes(*b"GET "));
        assert!(
            matches!(looks(get, 4), Some(Looks::Text(b, 4, Some("HTTP"))) if &b[..4] == b"GET ")
        );
        let teg = u64::from(u32::from_le_bytes(*b"GET "));
        assert!(
            matches!(looks(teg, 4), Some(Looks::Text(b, 4, Some("HTTP"))) if &b[..4] == b"GET ")
        );
        assert!(matches!(looks(0x1603_0102, 4), Some(Looks::Tls(..))));
        assert!(
            matches!(looks(0x0201_0316, 4), Some(Looks::Tls(b, 4, )) if b[..4] == [0x16, 3, 1, 2])
        );
        // Two bytes of text without a known prefix tell nothing.
        assert_eq!(looks(0x7a7a, 2), None);
        assert_eq!(looks(0x0500_0000, 4), None);
    }
}
