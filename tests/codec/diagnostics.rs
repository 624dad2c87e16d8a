//! Error messages that diagnose a mismatched peer: the hint appears when the
//! header's bytes explain the error (the other byte order, text, TLS) and
//! never when they do not. Every check goes through the public entry points:
//! `FrameDecoder::decode`, `decode_slice` and `FrameReader` over a `&[u8]`.
#![cfg(feature = "std")]

use bytes::BytesMut;
use lenframe::{Codec, Error, FrameDecoder, FramePart, FrameReader};
use proptest::prelude::*;

use crate::common::ThenWouldBlock;

fn codec(format: &str, max: usize) -> Codec {
    Codec::builder()
        .format(format.parse().unwrap())
        .max_frame_len(max)
        .build()
        .unwrap()
}

/// The first error of each entry point on `wire` (with `wire` as the
/// whole stream: the reader and `decode_eof` see its end). All three must
/// agree.
fn errors(codec: Codec, wire: &[u8]) -> Error {
    let mut dec = FrameDecoder::new(codec);
    let mut buf = BytesMut::from(wire);
    let by_decode = loop {
        match dec.decode_eof(&mut buf) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no error in {wire:?}"),
            Err(e) => break e,
        }
    };
    let mut dec = FrameDecoder::new(codec);
    let mut rest = wire;
    let by_slice = loop {
        match dec.decode_slice(rest) {
            Ok(d) if d.consumed > 0 => rest = &rest[d.consumed..],
            Ok(_) => match dec.end_of_stream(rest) {
                Err(e) => break e,
                Ok(()) => panic!("no error in {wire:?}"),
            },
            Err(e) => break e,
        }
    };
    let mut reader = FrameReader::with_codec(wire, codec);
    let by_reader = loop {
        match reader.read_frame() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no error in {wire:?}"),
            Err(e) => break e,
        }
    };
    assert_eq!(by_decode.to_string(), by_slice.to_string());
    assert_eq!(by_decode.to_string(), by_reader.to_string());
    by_reader
}

/// A frame of `len` payload bytes with `format`'s header, written the way
/// Python's `struct.pack(format, len) + payload` would.
fn frame(format: &str, len: u64) -> Vec<u8> {
    let f: lenframe::HeaderFormat = format.parse().unwrap();
    let mut v = f.encode(len).unwrap().as_ref().to_vec();
    v.resize(v.len() + len as usize, b'x');
    v
}

/// Just the header of such a frame: enough for errors at the header.
fn header(format: &str, len: u64) -> Vec<u8> {
    let f: lenframe::HeaderFormat = format.parse().unwrap();
    f.encode(len).unwrap().as_ref().to_vec()
}

/// True if some `w`-byte window of the message's header looks like TLS
/// (16 03) in either order: such lengths get the TLS hint instead.
fn tls_like(v: u64, w: usize) -> bool {
    let be = &v.to_be_bytes()[8 - w..];
    let mut le = be.to_vec();
    le.reverse();
    [be, &le[..]].iter().any(|b| b[0] == 0x16 && b[1] == 0x03)
}

/// The message carries no hint: it is exactly the variant's plain text.
fn assert_no_hint(e: &Error) {
    let msg = e.to_string();
    assert!(!msg.contains(" ("), "unexpected hint: {msg}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Python's `struct.pack('i', n)` (little-endian on x86) read by the
    /// default `!I` codec: a huge length, and the message names `n`.
    #[test]
    fn little_endian_i_read_as_network_u32(len in 1u64..=8 << 20) {
        prop_assume!(len & 0xFF != 0); // else the big-endian value is small: a stall
        let misread = u64::from((len as u32).swap_bytes());
        prop_assume!(!tls_like(misread, 4));
        let e = errors(Codec::default(), &header("<i", len));
        prop_assert!(
            matches!(e, Error::FrameTooLarge { len: l, max: 8388608 } if l == misread),
            "{e:?}"
        );
        let msg = e.to_string();
        let want = format!(
            "as a 4-byte length in the other byte order it would be {len}: is the peer using \
             the other byte order? Python struct.pack('i') is little-endian on x86, \
             struct.pack('!I') big-endian"
        );
        prop_assert!(msg.contains(&want), "{}", msg);
    }

    /// The reverse: a big-endian peer and a little-endian reader.
    #[test]
    fn network_u32_read_as_little_endian(len in 1u64..=8 << 20) {
        prop_assume!(len & 0xFF != 0);
        let misread = u64::from((len as u32).swap_bytes());
        prop_assume!(!tls_like(misread, 4));
        let e = errors(Codec::new("<I".parse().unwrap()), &header("!I", len));
        prop_assert!(matches!(e, Error::FrameTooLarge { len: l, .. } if l == misread), "{e:?}");
        let want = format!("in the other byte order it would be {len}:");
        prop_assert!(e.to_string().contains(&want), "{}", e);
    }

    /// `<H` against `!H` with a maximum below the header's range.
    #[test]
    fn little_endian_h_read_as_network_u16(max in 256usize..=8192, len in 1u64..=8192) {
        prop_assume!(len <= max as u64);
        let misread = u64::from((len as u16).swap_bytes());
        // Past the eighth of slack a plausible header gets.
        prop_assume!(misread > max as u64 + max as u64 / 8);
        prop_assume!(!tls_like(misread, 2));
        let e = errors(codec("!H", max), &header("<H", len));
        prop_assert!(matches!(e, Error::FrameTooLarge { len: l, .. } if l == misread), "{e:?}");
        let want = format!(
            "as a 2-byte length in the other byte order it would be {len}: is the peer using \
             the other byte order? Python struct.pack('h')"
        );
        prop_assert!(e.to_string().contains(&want), "{}", e);
    }

    /// A little-endian length read by a signed big-endian format comes out
    /// negative: the message names the length.
    #[test]
    fn negative_from_the_other_byte_order(len in 1u64..=8 << 20) {
        prop_assume!(len & 0xFF >= 0x80);
        let e = errors(Codec::new("!i".parse().unwrap()), &header("<i", len));
        let value = i64::from((len as u32).swap_bytes() as i32);
        prop_assert!(matches!(e, Error::NegativeLength { value: v } if v == value), "{e:?}");
        let want = format!("as a 4-byte length in the other byte order it would be {len}:");
        prop_assert!(e.to_string().contains(&want), "{}", e);
    }

    /// A little-endian length whose big-endian reading is a valid, larger
    /// length: the reader waits, then the stream ends with the frame that
    /// the other byte order declares complete.
    #[test]
    fn truncated_at_eof_explained_by_the_other_byte_order(k in 1u64..=0x3FF) {
        let len = k << 8; // low byte 0: read big-endian it stays under the max
        let misread = u64::from((len as u32).swap_bytes());
        prop_assume!(misread > len && (1 << 16..=8 << 20).contains(&misread));
        let e = errors(Codec::default(), &frame("<I", len));
        prop_assert!(
            matches!(
                e,
                Error::Truncated { part: FramePart::Payload, got, expected }
                    if got == len && expected == misread
            ),
            "{e:?}"
        );
        let want = format!(
            "as a 4-byte length in the other byte order it would be {len}, and that many \
             bytes arrived: is the peer using the other byte order?"
        );
        prop_assert!(e.to_string().contains(&want), "{}", e);
    }

    /// With 2-byte values the width is unknown to the error (a 2-byte
    /// `00 01` may be the low half of a 4-byte field), so a cut stream gets
    /// no byte-order guess: `<H` frames read as `!H` end in a plain message.
    #[test]
    fn truncated_two_byte_headers_get_no_guess(lens in proptest::collection::vec(1u64..=255, 1..4)) {
        let wire: Vec<u8> = lens.iter().flat_map(|&l| frame("<H", l)).collect();
        let first = lens[0];
        prop_assume!(wire.len() < 2 + (first << 8) as usize);
        let e = errors(Codec::new("!H".parse().unwrap()), &wire);
        prop_assert!(
            matches!(e, Error::Truncated { part: FramePart::Payload, expected, .. } if expected == first << 8),
            "{e:?}"
        );
        assert_no_hint(&e);
    }

    /// A plausible header just over the maximum gets no hint, in whatever
    /// byte order it is read.
    #[test]
    fn plausible_header_just_over_the_max_gets_none(
        max in (1usize << 20)..=8 << 20,
        over in 1u64..=1 << 17,
        big in any::<bool>(),
        round in any::<bool>(),
    ) {
        let mut len = max as u64 + over.min(max as u64 / 8);
        if round && (len & !0xFF) > max as u64 {
            // Low byte 0: in the other byte order these are within the max.
            len &= !0xFF;
        }
        let (format, wire) = if big { ("!I", "!I") } else { ("<I", "<I") };
        let f: lenframe::HeaderFormat = wire.parse().unwrap();
        let header = f.encode(len).unwrap();
        let e = errors(codec(format, max), header.as_ref());
        prop_assert!(matches!(e, Error::FrameTooLarge { len: l, .. } if l == len), "{e:?}");
        assert_no_hint(&e);
        prop_assert_eq!(
            e.to_string(),
            format!("frame of {len} bytes exceeds the maximum of {max} bytes")
        );
    }

    /// Issue 19: the same rule for text and TLS. `"\r{gQ"` (226 191 185)
    /// over a maximum of 217 201 045 was called text.
    #[test]
    fn plausible_header_gets_no_text_or_tls_hint_either(
        text in proptest::array::uniform4(0x20u8..=0x7E),
        tls in any::<bool>(),
        big in any::<bool>(),
        below in 0u64..=1000,
    ) {
        let wire = if tls { [0x16, 0x03, 0x01, text[3]] } else { text };
        let len = u64::from(if big { u32::from_be_bytes(wire) } else { u32::from_le_bytes(wire) });
        // A maximum under len, with len at most an eighth above it.
        let max = len - 1 - (len / 9 - 1) * below / 1000;
        prop_assume!(max < len && len <= max + max / 8);
        let format = if big { "!I" } else { "<I" };
        let e = errors(codec(format, max as usize), &wire);
        prop_assert!(matches!(e, Error::FrameTooLarge { len: l, .. } if l == len), "{e:?}");
        assert_no_hint(&e);
    }

    /// Random headers over the maximum whose other byte order is over it
    /// too, and that are neither text nor TLS: no hint.
    #[test]
    fn random_uninformative_headers_get_none(v in any::<u32>()) {
        let max = 8u64 << 20;
        let v64 = u64::from(v);
        let swapped = u64::from(v.swap_bytes());
        prop_assume!(v64 > max && swapped > max);
        prop_assume!(!v.to_be_bytes().iter().all(|b| (0x20..0x7f).contains(b) || b"\t\r\n".contains(b)));
        prop_assume!(!tls_like(v64, 4));
        let e = errors(Codec::default(), &v.to_be_bytes());
        assert_no_hint(&e);
    }

    /// A legitimate frame cut part-way gets no hint, whatever its length:
    /// lengths that are multiples of 256 read small in the other byte order
    /// (512 as 2, 65 536 as 256), but the bytes that arrived do not end
    /// where such a frame would.
    #[test]
    fn plain_truncation_gets_none(
        len in prop_oneof![1u64..=60_000, (1u64..=128).prop_map(|k| k << 8), (1u64..=120).prop_map(|k| k << 16)],
        cut in 0u64..200_000,
    ) {
        let got = cut % len;
        let swapped = u64::from((len as u32).swap_bytes());
        // Exactly the other byte order's frame: that is the mismatch.
        prop_assume!(swapped != got);
        let mut wire = frame("!I", len);
        wire.truncate(4 + got as usize);
        let e = errors(Codec::default(), &wire);
        prop_assert!(matches!(e, Error::Truncated { got: g, .. } if g == got), "{e:?}");
        assert_no_hint(&e);
    }

    /// Genuine small negative lengths (-1 .. -255) are not called a byte
    /// order mismatch.
    #[test]
    fn small_negatives_get_none(value in -255i32..=-1, signed_big in any::<bool>()) {
        let (format, bytes) = if signed_big {
            ("!i", value.to_be_bytes())
        } else {
            ("<i", value.to_le_bytes())
        };
        let e = errors(Codec::new(format.parse().unwrap()), &bytes);
        prop_assert!(matches!(e, Error::NegativeLength { value: v } if v == i64::from(value)), "{e:?}");
        assert_no_hint(&e);
    }
}

const HTTP_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost:9000\r\n\r\n";

/// Issue 19, the reproduction: a legitimate 64 KiB zero-filled frame
/// whose header and first 1 460 bytes arrived, then `WouldBlock`.
#[test]
fn a_zero_filled_frame_in_progress_gets_no_byte_order_hint() {
    let mut wire = Vec::new();
    Codec::default()
        .encode_to_vec(vec![0u8; 65_536], &mut wire)
        .unwrap();
    wire.truncate(4 + 1460);
    let mut reader = FrameReader::new(ThenWouldBlock(&wire));
    let e = std::io::Error::from(reader.read_frame().unwrap_err());
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    assert_eq!(
        e.to_string(),
        "would block inside a frame: 1460 of 65536 payload bytes arrived"
    );
    // The reader goes on when the rest comes.
    assert!(reader.read_frame().unwrap_err().is_retryable());
}

/// Review of issue 19: a legitimate frame cut at the end of the stream,
/// whose header bytes happen to look like TLS (`16 03 01 00` is a `<I`
/// 66 326), gets no hint: the header was accepted, so its look proves
/// nothing; only the byte order with the exact arrival does.
#[test]
fn a_cut_frame_whose_header_looks_like_tls_gets_no_hint() {
    let mut wire = 66_326u32.to_le_bytes().to_vec();
    wire.extend([7u8; 1460]);
    let e = errors(codec("<I", 8 << 20), &wire);
    assert!(
        matches!(
            e,
            Error::Truncated {
                got: 1460,
                expected: 66_326,
                ..
            }
        ),
        "{e:?}"
    );
    assert_no_hint(&e);
    let mut wire = 0x4745_5420u32.to_be_bytes().to_vec(); // "GET "
    wire.extend(b"/ HTTP/1.1\r\n\r\n");
    let e = errors(codec("!I", 2 << 30), &wire);
    assert!(matches!(e, Error::Truncated { .. }), "{e:?}");
    assert_no_hint(&e);
}

#[test]
fn http_request_is_named() {
    let hint =
        "(the header bytes are \"GET \": the peer seems to speak HTTP, not length-prefixed frames)";
    for format in ["!I", "<I", "!i", "i", "!Q", "<q"] {
        let e = errors(Codec::new(format.parse().unwrap()), HTTP_GET);
        let msg = e.to_string();
        assert!(matches!(e, Error::FrameTooLarge { .. }), "{format}: {msg}");
        if format.ends_with(['Q', 'q']) {
            assert!(
                msg.contains("the header bytes are \"GET / HT\": the peer seems to speak HTTP"),
                "{format}: {msg}"
            );
        } else {
            assert!(msg.ends_with(hint), "{format}: {msg}");
        }
    }
    let e = errors(Codec::default(), HTTP_GET);
    assert_eq!(
        e.to_string(),
        format!("frame of 1195725856 bytes exceeds the maximum of 8388608 bytes {hint}")
    );
    // An HTTP response, an SSH banner, plain text.
    let e = errors(Codec::default(), b"HTTP/1.1 200 OK\r\n");
    assert!(
        e.to_string()
            .contains("\"HTTP\": the peer seems to speak HTTP"),
        "{e}"
    );
    let e = errors(Codec::default(), b"SSH-2.0-OpenSSH_9.6\r\n");
    assert!(
        e.to_string()
            .contains("\"SSH-\": the peer seems to speak SSH"),
        "{e}"
    );
    let e = errors(Codec::default(), b"hello world\n");
    assert!(
        e.to_string()
            .ends_with("(the header bytes are \"hell\": the peer seems to send text, not length-prefixed frames)"),
        "{e}"
    );
    // Two bytes ("GE" from `!H`) are not called text: a message cannot
    // tell them from the low half of a 4-byte header (the stall hint, which
    // knows the width, does; see src/diagnose.rs).
    let e = errors(Codec::new("!H".parse().unwrap()), HTTP_GET);
    assert!(
        matches!(
            e,
            Error::Truncated {
                expected: 0x4745,
                ..
            }
        ),
        "{e:?}"
    );
    assert_no_hint(&e);
}

/// The first bytes of a TLS 1.2/1.3 ClientHello record.
const CLIENT_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0xaa, 0xbb,
];

#[test]
fn tls_handshake_is_named() {
    for (format, bytes) in [
        ("!I", "16 03 01 02"),
        ("<I", "16 03 01 02"),
        ("!Q", "16 03 01 02 00 01 00 01"),
    ] {
        let e = errors(Codec::new(format.parse().unwrap()), CLIENT_HELLO);
        let msg = e.to_string();
        assert!(matches!(e, Error::FrameTooLarge { .. }), "{format}: {msg}");
        assert!(
            msg.ends_with(&format!(
                "(the header bytes {bytes} start a TLS handshake: the peer speaks TLS (https?) to a plain-TCP port)"
            )),
            "{format}: {msg}"
        );
    }
    // A short record (high length byte 0): in the other byte order the
    // header would be a valid length, but TLS is the better explanation.
    let mut short = CLIENT_HELLO.to_vec();
    short[3] = 0;
    let e = errors(Codec::default(), &short);
    assert!(e.to_string().contains("start a TLS handshake"), "{e}");
}

#[test]
fn cut_header_gets_none() {
    let e = errors(Codec::default(), b"\x05\0");
    assert!(matches!(
        e,
        Error::Truncated {
            part: FramePart::Header,
            ..
        }
    ));
    assert_no_hint(&e);
}

#[test]
fn encoding_too_much_says_send() {
    let codec = Codec::default();
    let payload = vec![0u8; 10_000_000];
    let err = codec.encode_to_vec(&payload, &mut Vec::new()).unwrap_err();
    assert!(matches!(
        err,
        Error::FrameTooLargeToSend {
            len: 10_000_000,
            max: 8_388_608
        }
    ));
    assert_eq!(
        err.to_string(),
        "cannot send a frame of 10000000 bytes: the maximum is 8388608 (Codec::max_frame_len)"
    );
    assert!(matches!(
        codec.encode(&payload, &mut BytesMut::new()),
        Err(Error::FrameTooLargeToSend { .. })
    ));
    assert!(matches!(
        codec.encode_to_slice(&payload, &mut [0u8; 16]),
        Err(Error::FrameTooLargeToSend { .. })
    ));
    assert!(matches!(
        codec.header(payload.len()),
        Err(Error::FrameTooLargeToSend { .. })
    ));
    assert!(matches!(
        codec.new_write(Vec::new()).write_frame(&payload),
        Err(Error::FrameTooLargeToSend { .. })
    ));
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn codec_from_a_format_string() {
    let c: Codec = "i".parse().unwrap();
    assert_eq!(c, Codec::new("i".parse().unwrap()));
    assert_eq!(Codec::from_format("<H").unwrap().header_len(), 2);
    assert!(matches!(
        Codec::from_format("!x"),
        Err(Error::BadFormat {
            found: Some('x'),
            ..
        })
    ));
    // &str, String, arrays and slices are all payloads.
    let mut v = Vec::new();
    c.encode_to_vec("ab", &mut v).unwrap();
    c.encode_to_vec(String::from("c"), &mut v).unwrap();
    c.encode_to_vec([b'd'], &mut v).unwrap();
    c.encode_to_vec(&b"e"[..], &mut v).unwrap();
    let frames: Vec<_> = c.new_read(&v[..]).collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(frames, ["ab", "c", "d", "e"]);
}
