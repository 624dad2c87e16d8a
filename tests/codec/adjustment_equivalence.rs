//! The `CodecBuilder` table of equivalent tokio-util (and Netty) settings,
//! checked against tokio-util's real `LengthDelimitedCodec`: for every row
//! and for random configurations, lenframe's bytes decode to the same
//! frames through tokio-util configured per the table, and where
//! tokio-util's encoder can write the format (no offset), its bytes are
//! lenframe's bytes. Netty columns are checked against a model of Netty's
//! documented formula only (no JVM here).
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

use bytes::{Bytes, BytesMut};
use lenframe::{Codec, CodecBuilder, HeaderFormat};
use proptest::prelude::*;
use tokio_util::codec::length_delimited::Builder;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

// ---------------------------------------------------------------------------
// The general formula row, as the table writes it.

/// H, S and A of the table.
fn hsa(c: &Codec) -> (usize, usize, i64) {
    (c.header_len(), c.num_skip(), c.length_adjustment())
}

/// tokio-util's decoder settings for `c`: the table's general row.
fn tokio_decoder_for(c: &Codec) -> LengthDelimitedCodec {
    let (h, s, a) = hsa(c);
    let adj = isize::try_from(h as i128 - s as i128 - i128::from(a)).unwrap();
    let max = usize::try_from(c.max_frame_len() as i128 + i128::from(a)).unwrap();
    let mut b = LengthDelimitedCodec::builder();
    b.length_field_offset(c.length_field_offset())
        .length_field_length(c.format().size())
        .num_skip(s)
        .length_adjustment(adj)
        .max_frame_length(max);
    endian(&mut b, c.format());
    b.new_codec()
}

/// tokio-util's encoder settings for `c`, if it has one (offset 0).
fn tokio_encoder_for(c: &Codec) -> Option<LengthDelimitedCodec> {
    if c.length_field_offset() != 0 {
        return None;
    }
    let adj = isize::try_from(-i128::from(c.length_adjustment())).unwrap();
    let mut b = LengthDelimitedCodec::builder();
    b.length_field_length(c.format().size())
        .length_adjustment(adj)
        .max_frame_length(c.max_frame_len());
    endian(&mut b, c.format());
    Some(b.new_codec())
}

fn endian(b: &mut Builder, f: HeaderFormat) {
    if f.is_big_endian() {
        b.big_endian();
    } else {
        b.little_endian();
    }
}

/// Netty's settings for `c`: `(maxFrameLength, lengthFieldOffset,
/// lengthFieldLength, lengthAdjustment, initialBytesToStrip)`.
fn netty_for(c: &Codec) -> (u128, usize, usize, i128, usize) {
    let (h, s, a) = hsa(c);
    let max = c.max_frame_len() as u128 + h as u128;
    (
        max,
        c.length_field_offset(),
        c.format().size(),
        -i128::from(a),
        s,
    )
}

// ---------------------------------------------------------------------------
// Decoding whole streams, in one piece or in chunks.

fn lenframe_frames(c: &Codec, wire: &[u8], chunk: usize) -> Vec<Bytes> {
    let mut dec = c.new_decoder();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in wire.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        while let Some(frame) = dec.decode(&mut buf).unwrap() {
            out.push(frame);
        }
    }
    assert_eq!(dec.decode_eof(&mut buf).unwrap(), None);
    assert!(buf.is_empty());
    out
}

fn tokio_frames(mut dec: LengthDelimitedCodec, wire: &[u8], chunk: usize) -> Vec<Bytes> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in wire.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        while let Some(frame) = dec.decode(&mut buf).unwrap() {
            out.push(frame.freeze());
        }
    }
    assert_eq!(dec.decode_eof(&mut buf).unwrap(), None);
    out
}

/// A model of Netty's `LengthFieldBasedFrameDecoder` from its documented
/// formula: frame length = offset + field length + value + adjustment,
/// then `initialBytesToStrip` dropped. Unsigned fields except 8 bytes.
fn netty_frames(
    (max, offset, len, adj, strip): (u128, usize, usize, i128, usize),
    big: bool,
    mut wire: &[u8],
) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    while wire.len() >= offset + len {
        let mut field = wire[offset..offset + len].to_vec();
        if !big {
            field.reverse();
        }
        let raw = field.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let value = if len == 8 {
            i128::from(raw as i64)
        } else {
            i128::from(raw)
        };
        if value < 0 {
            return Err(format!("negative pre-adjustment length field {value}"));
        }
        let frame_len = (offset + len) as i128 + value + adj;
        if frame_len < (offset + len) as i128 {
            return Err(format!("adjusted frame length {frame_len} too small"));
        }
        if frame_len as u128 > max {
            return Err(format!("frame length {frame_len} over {max}"));
        }
        let frame_len = frame_len as usize;
        if wire.len() < frame_len {
            break;
        }
        out.push(wire[strip..frame_len].to_vec());
        wire = &wire[frame_len..];
    }
    if wire.is_empty() {
        Ok(out)
    } else {
        Err(format!("{} bytes left", wire.len()))
    }
}

// ---------------------------------------------------------------------------
// The checks, for one codec and its payloads.

/// Payload lengths every decoder in the table reads: lenframe's range
/// `max(-A, 0) ..= M`, less tokio-util's quirk (it lowers its
/// `max_frame_length` to field max + its adjustment).
fn payload_range(c: &Codec) -> Option<(usize, usize)> {
    let (h, s, a) = hsa(c);
    let a = i128::from(a);
    let lo = (-a).max(0);
    // tokio-util's field max is the unsigned one.
    let field_max = (1i128 << (8 * c.format().size())) - 1;
    let tokio_adj = h as i128 - s as i128 - a;
    let hi = (c.max_frame_len() as i128).min(field_max + tokio_adj.min(0) - a);
    (lo <= hi).then_some((lo as usize, hi as usize))
}

/// Fits `raw` into `lo..=hi` bytes, keeping its bytes where it can.
fn fit(raw: &[u8], lo: usize, hi: usize) -> Vec<u8> {
    let len = lo + raw.len() % (hi - lo + 1);
    raw.iter()
        .copied()
        .cycle()
        .chain(std::iter::repeat(0xEE))
        .take(len)
        .collect()
}

fn check_codec(c: &Codec, payloads: &[Vec<u8>], chunk: usize) {
    let ctx = format!("{c:?}");
    // lenframe's bytes, and the frames the table promises.
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for p in payloads {
        let start = wire.len();
        c.encode_to_vec(p, &mut wire).unwrap();
        expected.push(Bytes::copy_from_slice(&wire[start + c.num_skip()..]));
    }
    for chunk in [wire.len(), chunk] {
        // (a) lenframe's bytes through tokio-util's decoder, per the table.
        assert_eq!(lenframe_frames(c, &wire, chunk), expected, "{ctx}");
        assert_eq!(
            tokio_frames(tokio_decoder_for(c), &wire, chunk),
            expected,
            "tokio decoder, chunk {chunk}: {ctx}"
        );
    }
    let netty = netty_frames(netty_for(c), c.format().is_big_endian(), &wire).unwrap();
    assert_eq!(netty, expected, "netty model: {ctx}");

    // (b) tokio-util's encoder, where it can write the format.
    let Some(mut enc) = tokio_encoder_for(c) else {
        return;
    };
    let mut tokio_wire = BytesMut::new();
    for p in payloads {
        enc.encode(Bytes::copy_from_slice(p), &mut tokio_wire)
            .unwrap();
    }
    assert_eq!(&tokio_wire[..], &wire[..], "tokio encoder: {ctx}");
    assert_eq!(lenframe_frames(c, &tokio_wire, chunk), expected, "{ctx}");
    // Below the smallest length, both encoders refuse.
    let (lo, _) = payload_range(c).unwrap();
    if lo > 0 {
        let short = vec![0; lo - 1];
        assert!(c.encode_to_vec(&short, &mut Vec::new()).is_err(), "{ctx}");
        assert!(
            enc.encode(&short[..], &mut BytesMut::new()).is_err(),
            "{ctx}"
        );
    }
    // With the whole header stripped, one tokio-util codec does both, if
    // its max_frame_length lets through both M (payloads, encoding) and
    // M + A (header values, decoding).
    let (h, s, a) = hsa(c);
    if s == h {
        let mut both = LengthDelimitedCodec::builder();
        both.length_field_length(c.format().size())
            .length_adjustment(-a as isize)
            .max_frame_length(c.max_frame_len() + a.max(0) as usize);
        endian(&mut both, c.format());
        let mut both = both.new_codec();
        let mut buf = BytesMut::new();
        for p in payloads {
            both.encode(&p[..], &mut buf).unwrap();
        }
        assert_eq!(&buf[..], &wire[..], "{ctx}");
        assert_eq!(tokio_frames(both, &buf, chunk), expected, "{ctx}");
    }
}

// ---------------------------------------------------------------------------
// The table's concrete rows, with their literal numbers.

/// The tokio-util encoder column.
#[derive(Debug, Clone, Copy)]
enum Enc {
    /// The decoder's codec also encodes.
    Same,
    /// Decode only: another codec with this `length_adjustment` encodes.
    Other(isize),
    /// No tokio-util encoder (offset bytes).
    None,
}

struct Row {
    name: &'static str,
    lenframe: fn(&mut CodecBuilder),
    hsa: (usize, usize, i64),
    /// The tokio-util decoder column (besides `max_frame_length`).
    tokio: fn(&mut Builder),
    enc: Enc,
    /// Netty's `(lengthFieldOffset, lengthFieldLength, lengthAdjustment,
    /// initialBytesToStrip)`; `maxFrameLength` is `M + H`.
    netty: (usize, usize, i128, usize),
}

const ROWS: &[Row] = &[
    Row {
        name: "defaults",
        lenframe: |_| {},
        hsa: (4, 4, 0),
        tokio: |_| {},
        enc: Enc::Same,
        netty: (0, 4, 0, 4),
    },
    Row {
        name: "length_adjustment(a), a = 5",
        lenframe: |b| {
            b.length_adjustment(5);
        },
        hsa: (4, 4, 5),
        tokio: |b| {
            b.length_adjustment(-5);
        },
        enc: Enc::Same,
        netty: (0, 4, -5, 4),
    },
    Row {
        name: "length_adjustment(a), a = -3",
        lenframe: |b| {
            b.length_adjustment(-3);
        },
        hsa: (4, 4, -3),
        tokio: |b| {
            b.length_adjustment(3);
        },
        enc: Enc::Same,
        netty: (0, 4, 3, 4),
    },
    Row {
        name: "length_includes_header(true)",
        lenframe: |b| {
            b.length_includes_header(true);
        },
        hsa: (4, 4, 4),
        tokio: |b| {
            b.length_adjustment(-4);
        },
        enc: Enc::Same,
        netty: (0, 4, -4, 4),
    },
    Row {
        name: "num_skip(0)",
        lenframe: |b| {
            b.num_skip(0);
        },
        hsa: (4, 0, 0),
        tokio: |b| {
            b.num_skip(0).length_adjustment(4);
        },
        enc: Enc::Other(0),
        netty: (0, 4, 0, 0),
    },
    Row {
        name: "num_skip(0), length_includes_header(true)",
        lenframe: |b| {
            b.num_skip(0).length_includes_header(true);
        },
        hsa: (4, 0, 4),
        tokio: |b| {
            b.num_skip(0).length_adjustment(0);
        },
        enc: Enc::Other(-4),
        netty: (0, 4, -4, 0),
    },
    Row {
        name: "length_field_offset(2)",
        lenframe: |b| {
            b.length_field_offset(2);
        },
        hsa: (6, 6, 0),
        tokio: |b| {
            b.length_field_offset(2).length_adjustment(0);
        },
        enc: Enc::None,
        netty: (2, 4, 0, 6),
    },
    Row {
        name: "length_field_offset(2), num_skip(2)",
        lenframe: |b| {
            b.length_field_offset(2).num_skip(2);
        },
        hsa: (6, 2, 0),
        tokio: |b| {
            b.length_field_offset(2).num_skip(2).length_adjustment(4);
        },
        enc: Enc::None,
        netty: (2, 4, 0, 2),
    },
    Row {
        name: "!H, length_field_offset(2), length_includes_header(true), num_skip(0)",
        lenframe: |b| {
            b.format("!H".parse().unwrap())
                .length_field_offset(2)
                .length_includes_header(true)
                .num_skip(0);
        },
        hsa: (4, 0, 4),
        tokio: |b| {
            b.length_field_offset(2)
                .length_field_length(2)
                .num_skip(0)
                .length_adjustment(0);
        },
        enc: Enc::None,
        netty: (2, 2, -4, 0),
    },
];

fn row_codec(row: &Row) -> Codec {
    let mut b = Codec::builder();
    (row.lenframe)(&mut b);
    b.build().unwrap()
}

fn row_payloads(c: &Codec) -> Vec<Vec<u8>> {
    let (lo, _) = payload_range(c).unwrap();
    [0usize, 1, 2, 7, 0, 300, 3, 1000]
        .iter()
        .enumerate()
        .map(|(i, &n)| (0..lo + n).map(|j| (i * 31 + j * 7) as u8).collect())
        .collect()
}

/// Every concrete row of the table: its H, S, A; its literal tokio-util
/// settings read lenframe's bytes as lenframe does (and equal the general
/// row); its encoder column writes lenframe's bytes; its Netty numbers
/// equal the general row and read the same frames through Netty's formula.
#[test]
fn table_rows_read_the_same_frames_as_tokio_util() {
    for row in ROWS {
        let c = row_codec(row);
        let m = c.max_frame_len();
        assert_eq!(hsa(&c), row.hsa, "{}", row.name);
        let (h, _, a) = row.hsa;
        let payloads = row_payloads(&c);
        check_codec(&c, &payloads, 3);

        // The row's literal tokio-util decoder.
        let mut b = LengthDelimitedCodec::builder();
        (row.tokio)(&mut b);
        b.max_frame_length((m as i64 + a) as usize);
        let mut wire = Vec::new();
        for p in &payloads {
            c.encode_to_vec(p, &mut wire).unwrap();
        }
        let want = lenframe_frames(&c, &wire, wire.len());
        for chunk in [wire.len(), 1, 2, 5] {
            let got = tokio_frames(b.new_codec(), &wire, chunk);
            assert_eq!(got, want, "{} chunk {chunk}", row.name);
        }

        // The row's literal encoder column (tokio-util's encoder checks the
        // payload length against max_frame_length: M).
        let enc = match row.enc {
            Enc::Same => {
                assert_eq!(c.num_skip(), h, "{}", row.name);
                Some(b)
            }
            Enc::Other(adj) => {
                assert!(c.num_skip() < h, "{}", row.name);
                let mut e = b;
                e.length_adjustment(adj);
                Some(e)
            }
            Enc::None => {
                assert!(c.length_field_offset() > 0, "{}", row.name);
                None
            }
        };
        if let Some(mut enc) = enc {
            let mut enc = enc.max_frame_length(m).new_codec();
            let mut out = BytesMut::new();
            for p in &payloads {
                enc.encode(&p[..], &mut out).unwrap();
            }
            assert_eq!(&out[..], &wire[..], "{} encoder", row.name);
        }

        // Netty: the row's numbers, run through the formula.
        let (off, len, adj, strip) = row.netty;
        let netty = (m as u128 + h as u128, off, len, adj, strip);
        assert_eq!(netty, netty_for(&c), "{}", row.name);
        let got = netty_frames(netty, true, &wire).unwrap();
        assert_eq!(got, want, "{} netty", row.name);
    }
}

/// BUG 9: "tokio-util's adjustment is the negation of ours" holds only when
/// the whole header is stripped. With `num_skip(0)` and
/// `length_includes_header(true)` (whole frames, header included) the
/// negation (-4) misreads the stream, and the table's value (0) reads it.
#[test]
fn negated_adjustment_is_wrong_when_frames_keep_their_header() {
    let c = Codec::builder()
        .num_skip(0)
        .length_includes_header(true)
        .build()
        .unwrap();
    let mut wire = Vec::new();
    c.encode_to_vec(b"hello", &mut wire).unwrap();
    c.encode_to_vec(b"world!", &mut wire).unwrap();
    let want = lenframe_frames(&c, &wire, 1);
    assert_eq!(&want[0][..], b"\0\0\0\x09hello");

    let naive = LengthDelimitedCodec::builder()
        .num_skip(0)
        .length_adjustment(-c.length_adjustment() as isize)
        .new_codec();
    let mut buf = BytesMut::from(&wire[..]);
    let mut naive = naive;
    let first = naive.decode(&mut buf).unwrap().unwrap();
    assert_ne!(&first[..], &want[0][..]);

    let table = LengthDelimitedCodec::builder()
        .num_skip(0)
        .length_adjustment(0)
        .new_codec();
    assert_eq!(tokio_frames(table, &wire, 2), want);
}

/// The quirk the table notes: tokio-util lowers its `max_frame_length` to
/// field max + its adjustment, so with `"!B"` and
/// `length_includes_header(true)` it refuses the header value 255 that
/// lenframe reads as a 254-byte payload.
#[test]
fn tokio_util_refuses_top_header_values_with_negative_adjustment() {
    let c = Codec::builder()
        .format("!B".parse().unwrap())
        .length_includes_header(true)
        .build()
        .unwrap();
    assert_eq!(c.max_frame_len(), 254);
    let mut wire = Vec::new();
    c.encode_to_vec([7; 254], &mut wire).unwrap();
    assert_eq!(wire[0], 255);
    assert_eq!(lenframe_frames(&c, &wire, 16)[0].len(), 254);
    let mut tokio = tokio_decoder_for(&c);
    assert!(tokio.decode(&mut BytesMut::from(&wire[..])).is_err());
    // One byte less, and both read it.
    let mut wire = Vec::new();
    c.encode_to_vec([7; 253], &mut wire).unwrap();
    assert_eq!(tokio_frames(tokio_decoder_for(&c), &wire, 16)[0].len(), 253);
}

// ---------------------------------------------------------------------------
// Random configurations.

/// Field sizes 1, 2, 4 and 8, signed and unsigned, both byte orders.
const FORMATS: &[&str] = &[
    "<b", ">b", "<B", ">B", "<h", ">h", "<H", ">H", "<i", ">i", "<I", ">I", "<q", ">q", "<Q", ">Q",
    "=L", "@Q",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 2 } else { 512 }))]

    /// The general row, on random configurations and payloads: lenframe's
    /// bytes read the same through tokio-util (and Netty's formula), in
    /// one piece and in small chunks; with no offset, tokio-util's encoder
    /// writes lenframe's bytes.
    #[test]
    fn general_row_reads_the_same_frames_as_tokio_util(
        format in prop::sample::select(FORMATS),
        offset in 0usize..4,
        skip in prop::option::of(0usize..=12),
        includes_header in any::<bool>(),
        adjustment in prop_oneof![-20i64..20, -300i64..300],
        max in prop::option::of(0usize..600),
        raw in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..90), 0..6),
        chunk in 1usize..8,
    ) {
        let format: HeaderFormat = format.parse().unwrap();
        let mut b = Codec::builder();
        b.format(format)
            .length_field_offset(offset)
            .length_includes_header(includes_header)
            .length_adjustment(adjustment);
        if let Some(max) = max {
            b.max_frame_len(max);
        }
        if let Some(skip) = skip {
            // num_skip 0..=header_len.
            b.num_skip(skip % (offset + format.size() + 1));
        }
        let Ok(c) = b.build() else {
            return Err(TestCaseError::reject("no payload length is valid"));
        };
        let Some((lo, hi)) = payload_range(&c) else {
            return Err(TestCaseError::reject("no payload length reads in both"));
        };
        let payloads: Vec<Vec<u8>> = raw.iter().map(|p| fit(p, lo, hi)).collect();
        check_codec(&c, &payloads, chunk);
    }
}
