//! lenframe's varint headers against the `unsigned-varint` crate (libp2p's
//! multiformats varints), the bench's competitor: `UviBytes` writes the
//! same frames and reads lenframe's; `"varint-strict"` accepts and rejects
//! headers as `unsigned_varint::decode::u64` does (minimal, and at most 9
//! bytes: the multiformats limit, which that function does not enforce
//! for a 10th byte that ends the varint).

mod common;

use bytes::BytesMut;
use common::{codecs, BOUNDARIES};
use lenframe::{Codec, Error};
use tokio_util::codec::{Decoder, Encoder};
use unsigned_varint::codec::UviBytes;

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

fn payloads() -> Vec<Vec<u8>> {
    BOUNDARIES
        .iter()
        .chain(&[5, 300, 70_000])
        .enumerate()
        .map(|(i, &n)| payload(n, i as u8))
        .collect()
}

#[test]
fn uvi_bytes_writes_lenframe_bytes() {
    let ps = payloads();
    let mut uvi = UviBytes::<&[u8]>::default();
    uvi.set_max_len(common::MAX);
    let mut want = BytesMut::new();
    for p in &ps {
        uvi.encode(&p[..], &mut want).unwrap();
    }
    for (name, codec) in codecs() {
        let mut got = BytesMut::new();
        for p in &ps {
            codec.encode(p, &mut got).unwrap();
        }
        assert!(got == want, "{name}: not UviBytes' bytes");

        // And each reads the other's stream.
        let mut dec = codec.new_decoder();
        let mut buf = want.clone();
        for p in &ps {
            assert_eq!(dec.decode(&mut buf).unwrap().as_deref(), Some(&p[..]));
        }
        let mut uvi = UviBytes::<&[u8]>::default();
        uvi.set_max_len(common::MAX);
        let mut buf = got.clone();
        for p in &ps {
            assert_eq!(uvi.decode(&mut buf).unwrap().as_deref(), Some(&p[..]));
        }
        assert!(buf.is_empty());
    }
}

/// Headers of up to 9 bytes: `"varint-strict"` reads a length where
/// `unsigned_varint::decode::u64` does, waits where it wants more bytes,
/// and fails where it fails (not minimal, over 9 bytes). 10-byte headers
/// fail under `"varint-strict"`.
#[test]
fn strict_headers_read_as_unsigned_varint_reads_them() {
    let max = 1 << 20;
    let codec = Codec::from_format("varint-strict")
        .unwrap()
        .with_max_frame_len(max)
        .unwrap();
    let mut hs: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    hs.extend((0..=u16::MAX).map(|w| w.to_le_bytes().to_vec()));
    let mut s = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200_000 {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let r = s.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let len = 1 + (r % 10) as usize;
        let h: Vec<u8> = (0..len)
            .map(|i| {
                let b = (r >> (8 + i * 5)) as u8 ^ (i as u8).wrapping_mul(37);
                // Mostly continuation bytes, and zero last bytes often.
                match (i + 1 < len, r >> (60 - i) & 1) {
                    (true, _) => b | 0x80,
                    (false, 1) => 0,
                    (false, _) => b & 0x7f,
                }
            })
            .collect();
        hs.push(h);
    }
    for h in hs {
        let mut dec = codec.new_decoder();
        let uv = unsigned_varint::decode::u64(&h);
        let ten = h.len() >= 10 && h[..9].iter().all(|b| b & 0x80 != 0);
        match uv {
            Ok((v, rest)) if !ten => {
                let header = &h[..h.len() - rest.len()];
                let mut buf = BytesMut::from(header);
                if v <= 4096 {
                    buf.extend((0..v).map(|i| i as u8));
                }
                match dec.decode(&mut buf) {
                    Ok(Some(f)) if v <= max as u64 => assert_eq!(f.len() as u64, v),
                    Ok(None) if v > 4096 && v <= max as u64 => {}
                    Err(Error::FrameTooLarge { len, .. }) if v > max as u64 => assert_eq!(len, v),
                    other => panic!("header {header:02x?}: unsigned-varint reads {v}, strict lenframe gives {other:?}"),
                }
            }
            Err(unsigned_varint::decode::Error::Insufficient) => {
                let mut buf = BytesMut::from(&h[..]);
                match dec.decode(&mut buf) {
                    Ok(None) => {}
                    other => panic!("header {h:02x?}: unsigned-varint needs more, strict lenframe gives {other:?}"),
                }
            }
            _ => {
                let mut buf = BytesMut::from(&h[..]);
                if let Ok(got) = dec.decode(&mut buf) {
                    panic!("header {h:02x?}: unsigned-varint gives {uv:?}, strict lenframe Ok({got:?})");
                }
            }
        }
    }
    // Ten bytes: past the multiformats limit whatever the 10th byte.
    for last in [0x00, 0x01, 0x7f] {
        let mut h = vec![0x80; 9];
        h.push(last);
        h[0] = 0x81;
        let mut buf = BytesMut::from(&h[..]);
        let got = codec.new_decoder().decode(&mut buf);
        assert!(got.is_err(), "10-byte header {h:02x?}: {got:?}");
    }
}

/// The protobuf-rules codec reads non-minimal headers that strict rejects,
/// e.g. 1 written as `81 00` (protobuf parsers read it).
#[test]
fn non_minimal_headers_protobuf_rules_vs_strict() {
    let wire = [0x81, 0x00, 0x2a];
    let mut prost_read = &wire[..];
    assert_eq!(prost::decode_length_delimiter(&mut prost_read).unwrap(), 1);
    for (name, codec) in codecs() {
        let mut buf = BytesMut::from(&wire[..]);
        let got = codec.new_decoder().decode(&mut buf);
        match name {
            "varint" => assert_eq!(got.unwrap().as_deref(), Some(&[0x2a][..])),
            _ => assert!(got.is_err(), "{name}: {got:?}"),
        }
    }
}
