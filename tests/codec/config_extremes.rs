//! Extreme builder input: every setter at its limits gives a codec or
//! `Error::BadConfig`, never a panic, and a codec built from extreme
//! settings encodes and checks headers without panicking, with exactly the
//! documented errors.
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

use lenframe::{Codec, Error, HeaderFormat, MAX_HEADER_LEN};
use proptest::prelude::*;

/// Every format character under every byte-order prefix.
fn all_formats() -> Vec<HeaderFormat> {
    let mut out = Vec::new();
    for prefix in ["", "@", "=", "<", ">", "!"] {
        for code in ["b", "B", "h", "H", "i", "I", "l", "L", "q", "Q"] {
            out.push(format!("{prefix}{code}").parse().unwrap());
        }
    }
    out
}

const ADJUSTMENTS: &[i64] = &[
    i64::MIN,
    i64::MIN + 1,
    -(1 << 32),
    -65_536,
    -1,
    0,
    1,
    255,
    65_536,
    u32::MAX as i64,
    i64::MAX - 64,
    i64::MAX - 1,
    i64::MAX,
];

const MAXES: &[Option<usize>] = &[
    None,
    Some(0),
    Some(1),
    Some(255),
    Some(1 << 20),
    Some(u32::MAX as usize),
    Some(usize::MAX / 2),
    Some(usize::MAX - MAX_HEADER_LEN),
    Some(usize::MAX - 1),
    Some(usize::MAX),
];

const OFFSETS: &[usize] = &[
    0,
    1,
    MAX_HEADER_LEN - 8,
    MAX_HEADER_LEN - 1,
    MAX_HEADER_LEN,
    MAX_HEADER_LEN + 1,
    usize::MAX - 8,
    usize::MAX - 1,
    usize::MAX,
];

const SKIPS: &[Option<usize>] = &[
    None,
    Some(0),
    Some(1),
    Some(MAX_HEADER_LEN),
    Some(MAX_HEADER_LEN + 1),
    Some(usize::MAX),
];

/// One builder configuration.
#[derive(Debug, Clone, Copy)]
struct Settings {
    format: HeaderFormat,
    adjustment: i64,
    includes_header: bool,
    max: Option<usize>,
    offset: usize,
    skip: Option<usize>,
}

impl Settings {
    fn build(&self) -> lenframe::Result<Codec> {
        let mut b = Codec::builder();
        b.format(self.format)
            .length_adjustment(self.adjustment)
            .length_includes_header(self.includes_header)
            .length_field_offset(self.offset);
        if let Some(max) = self.max {
            b.max_frame_len(max);
        }
        if let Some(n) = self.skip {
            b.num_skip(n);
        }
        b.build()
    }
}

/// Builds `s` and checks everything a codec built from it promises.
fn check(s: &Settings) -> Result<(), TestCaseError> {
    let codec = match s.build() {
        Err(Error::BadConfig {
            reason,
            value,
            bound,
        }) => {
            prop_assert!(!reason.is_empty());
            // The numbers show the rule broken: a lower bound for
            // max_frame_len, an upper bound for everything else.
            if reason.starts_with("max_frame_len") {
                prop_assert!(value < bound, "{reason}: {value} vs {bound}");
            } else {
                prop_assert!(value > bound, "{reason}: {value} vs {bound}");
            }
            return Ok(());
        }
        Err(other) => return Err(TestCaseError::fail(format!("{s:?}: {other:?}"))),
        Ok(codec) => codec,
    };
    check_settings(s, &codec)?;
    for len in lengths(&codec) {
        check_header(&codec, len)?;
    }
    for header in extreme_headers(codec.header_len()) {
        check_payload_len_of(&codec, &header)?;
    }
    // Re-limiting an extreme codec is the same kind of call.
    for max in [0, 1, usize::MAX] {
        match codec.with_max_frame_len(max) {
            Ok(c) => prop_assert!(c.max_frame_len() <= max),
            Err(Error::BadConfig { .. }) => {}
            Err(other) => return Err(TestCaseError::fail(format!("{s:?}: {other:?}"))),
        }
    }
    Ok(())
}

/// The settings a built codec reports, and the bounds the decoder relies on.
fn check_settings(s: &Settings, c: &Codec) -> Result<(), TestCaseError> {
    let size = s.format.size();
    prop_assert_eq!(c.header_len(), s.offset + size);
    prop_assert!(c.header_len() <= MAX_HEADER_LEN);
    prop_assert_eq!(c.num_skip(), s.skip.unwrap_or(c.header_len()));
    prop_assert!(c.num_skip() <= c.header_len());
    let extra = if s.includes_header { c.header_len() } else { 0 };
    prop_assert_eq!(
        i128::from(c.length_adjustment()),
        i128::from(s.adjustment) + extra as i128
    );
    let max = c.max_frame_len();
    // Header region + payload always fits a usize.
    prop_assert!(max <= usize::MAX - c.header_len());
    prop_assert!(max <= s.max.unwrap_or(lenframe::DEFAULT_MAX_FRAME_LEN));
    // The largest payload's header value fits the field.
    let top = max as i128 + i128::from(c.length_adjustment());
    prop_assert!(top <= i128::from(s.format.max_value()), "{:?}", s);
    prop_assert!(top >= 0, "no payload length is encodable: {:?}", s);
    Ok(())
}

/// Payload lengths worth trying on `c`.
fn lengths(c: &Codec) -> Vec<usize> {
    let max = c.max_frame_len();
    let smallest = usize::try_from((-i128::from(c.length_adjustment())).max(0)).unwrap_or(0);
    let mut out = vec![0, 1, max, max.saturating_add(1), usize::MAX, smallest];
    out.push(smallest.saturating_sub(1));
    out
}

/// The header value for a payload of `len` bytes, if any.
fn model_value(c: &Codec, len: usize) -> Result<u64, &'static str> {
    if len > c.max_frame_len() {
        return Err("too large");
    }
    let value = len as i128 + i128::from(c.length_adjustment());
    if value < 0 || value > i128::from(c.format().max_value()) {
        return Err("adjustment");
    }
    Ok(value as u64)
}

/// `header` and `encode_to_vec` for a payload of `len` bytes.
fn check_header(c: &Codec, len: usize) -> Result<(), TestCaseError> {
    let got = c.header(len);
    match (model_value(c, len), &got) {
        (Ok(value), Ok(h)) => {
            prop_assert_eq!(h.len(), c.header_len());
            prop_assert!(h[..c.length_field_offset()].iter().all(|&b| b == 0));
            let field = c.format().encode(value).unwrap();
            prop_assert_eq!(&h[c.length_field_offset()..], field.as_ref());
            // What the header says is what the decoder's check reads back.
            prop_assert_eq!(c.payload_len_of(h).unwrap(), Some(len as u64));
        }
        (Err("too large"), Err(Error::FrameTooLargeToSend { len: l, max })) => {
            prop_assert_eq!(*l, len as u64);
            prop_assert_eq!(*max, c.max_frame_len() as u64);
        }
        (Err("adjustment"), Err(Error::AdjustmentOverflow { value, adjustment })) => {
            prop_assert_eq!(*value, len as u64);
            prop_assert_eq!(*adjustment, c.length_adjustment());
        }
        (want, got) => {
            return Err(TestCaseError::fail(format!(
                "{c:?} len {len}: want {want:?}, got {got:?}"
            )));
        }
    }
    // A real payload, when it is small enough to allocate.
    if len <= 1 << 24 {
        let payload = vec![0xA5; len];
        let mut dst = b"keep".to_vec();
        match (c.encode_to_vec(&payload, &mut dst), got) {
            (Ok(()), Ok(h)) => {
                prop_assert_eq!(&dst[..4], b"keep");
                prop_assert_eq!(&dst[4..4 + h.len()], &h[..]);
                prop_assert_eq!(dst.len(), 4 + h.len() + len);
            }
            (Err(e), Err(want)) => {
                prop_assert_eq!(e.to_string(), want.to_string());
                prop_assert_eq!(&dst[..], b"keep");
            }
            (a, b) => return Err(TestCaseError::fail(format!("{a:?} vs {b:?}"))),
        }
    }
    Ok(())
}

/// Header regions of `len` bytes with extreme values: all 0x00, all 0xFF,
/// and 0x80 / 0x7F at either end (the sign bit for both byte orders).
fn extreme_headers(len: usize) -> Vec<Vec<u8>> {
    let mut out = vec![vec![0x00; len], vec![0xFF; len]];
    for (top, fill) in [(0x80, 0x00), (0x7F, 0xFF), (0x80, 0xFF), (0x7F, 0x00)] {
        let mut h = vec![fill; len];
        h[0] = top;
        out.push(h.clone());
        h.reverse();
        out.push(h);
    }
    out
}

/// The length field of `header` read the slow way: `Err` for negative.
fn model_field(c: &Codec, header: &[u8]) -> Result<u64, i64> {
    let f = c.format();
    let mut field = header[c.length_field_offset()..c.header_len()].to_vec();
    if !f.is_big_endian() {
        field.reverse();
    }
    let raw = field.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let bits = 8 * f.size() as u32;
    if f.is_signed() && raw >> (bits - 1) == 1 {
        let value = i128::from(raw) - (1i128 << bits);
        return Err(value as i64);
    }
    Ok(raw)
}

fn check_payload_len_of(c: &Codec, header: &[u8]) -> Result<(), TestCaseError> {
    prop_assert_eq!(c.payload_len_of(&header[..header.len() - 1]).unwrap(), None);
    let got = c.payload_len_of(header);
    let fail = || TestCaseError::fail(format!("{c:?} {header:02x?}: got {got:?}"));
    match model_field(c, header) {
        Err(negative) => match got {
            Err(Error::NegativeLength { value }) if value == negative => {}
            _ => return Err(fail()),
        },
        Ok(value) => {
            let len = i128::from(value) - i128::from(c.length_adjustment());
            match &got {
                Ok(Some(l)) if i128::from(*l) == len && *l <= c.max_frame_len() as u64 => {}
                Err(Error::AdjustmentOverflow {
                    value: v,
                    adjustment,
                }) if (len < 0 || len > i128::from(u64::MAX))
                    && *v == value
                    && *adjustment == c.length_adjustment() => {}
                Err(Error::FrameTooLarge { len: l, max })
                    if i128::from(*l) == len
                        && *max == c.max_frame_len() as u64
                        && len > *max as i128 => {}
                _ => return Err(fail()),
            }
        }
    }
    Ok(())
}

/// BUG 5: `length_adjustment(i64::MIN)` overflowed (a panic in debug, a wrong
/// number in release) while formatting its own `BadConfig` message. Every
/// setter at every extreme, in every format: a codec or `BadConfig`, and a
/// codec that keeps its promises.
#[test]
fn extreme_builder_input_never_panics() {
    for format in all_formats() {
        for &adjustment in ADJUSTMENTS {
            for includes_header in [false, true] {
                for &max in MAXES {
                    for &offset in OFFSETS {
                        for &skip in SKIPS {
                            let s = Settings {
                                format,
                                adjustment,
                                includes_header,
                                max,
                                offset,
                                skip,
                            };
                            if let Err(e) = check(&s) {
                                panic!("{s:?}: {e}");
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The smallest payload an adjustment of `i64::MIN` allows is 2^63 bytes:
/// the error says so, with the right sign.
#[test]
fn bad_config_message_for_most_negative_adjustment() {
    let err = Codec::builder()
        .length_adjustment(i64::MIN)
        .build()
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::BadConfig { .. }), "{msg}");
    assert!(msg.contains("9223372036854775808"), "{msg}");
    assert!(!msg.contains("(-9223372036854775808)"), "{msg}");
}

/// An adjustment so negative that only payloads of 2^63 bytes or more can
/// be described is a valid (if useless) codec with a `Q` header, and its
/// arithmetic stays exact at the edges.
#[test]
fn most_negative_adjustment_with_u64_header() {
    let c = Codec::builder()
        .format("!Q".parse().unwrap())
        .length_adjustment(i64::MIN)
        .max_frame_len(usize::MAX)
        .build();
    if usize::BITS < 64 {
        assert!(matches!(c, Err(Error::BadConfig { .. })));
        return;
    }
    let c = c.unwrap();
    assert_eq!(c.max_frame_len(), usize::MAX - 8);
    assert_eq!(c.payload_len_of(&[0; 8]).unwrap(), Some(1 << 63));
    assert!(matches!(
        c.header(0),
        Err(Error::AdjustmentOverflow { value: 0, .. })
    ));
    assert_eq!(&c.header(1 << 63).unwrap()[..], &[0; 8]);
    assert!(matches!(
        c.payload_len_of(&[0xFF; 8]),
        Err(Error::AdjustmentOverflow { .. } | Error::FrameTooLarge { .. })
    ));
}

fn extreme_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        prop::sample::select(ADJUSTMENTS),
        any::<i64>(),
        -300i64..300,
        (0u32..64, any::<bool>()).prop_map(|(bits, neg)| {
            let v = (1i64 << bits.min(62)) - 1;
            if neg {
                -v - 1
            } else {
                v
            }
        }),
    ]
}

fn extreme_usize() -> impl Strategy<Value = usize> {
    prop_oneof![
        prop::sample::select(
            &[
                0usize,
                1,
                63,
                64,
                65,
                usize::MAX - 64,
                usize::MAX - 1,
                usize::MAX
            ][..]
        ),
        any::<usize>(),
        0usize..80,
        (0u32..usize::BITS).prop_map(|bits| usize::MAX >> bits),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random and extreme values of every setter, every format, both
    /// `length_includes_header`: never a panic, only documented results.
    #[test]
    fn any_builder_input_gives_codec_or_bad_config(
        format in prop::sample::select(all_formats()),
        adjustment in extreme_i64(),
        includes_header in any::<bool>(),
        max in prop::option::of(extreme_usize()),
        offset in extreme_usize(),
        skip in prop::option::of(extreme_usize()),
    ) {
        check(&Settings { format, adjustment, includes_header, max, offset, skip })?;
    }

    /// Extreme values that do build: small offsets and skips, so most cases
    /// reach the header and payload-length checks.
    #[test]
    fn buildable_extremes_keep_their_promises(
        format in prop::sample::select(all_formats()),
        adjustment in extreme_i64(),
        includes_header in any::<bool>(),
        max in prop::option::of(extreme_usize()),
        offset in 0usize..=MAX_HEADER_LEN - 8,
        skip in prop::option::of(0usize..=MAX_HEADER_LEN),
    ) {
        check(&Settings { format, adjustment, includes_header, max, offset, skip })?;
    }
}
