//! lenframe's varint header against prost, the Rust protobuf peer: the
//! bytes of `encode_length_delimited` exactly, both ways, in memory, over
//! blocking TCP (`Framed`, `FrameReader`), over tokio TCP (`FrameCodec` in
//! tokio-util's `Framed`), split at every byte, and header by header
//! against prost's own varint reader (non-minimal and 10-byte headers).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{
    codecs, corpus, many_messages, prost_wire, varint, Chunked, Msg, Tee, BOUNDARIES, MAX,
};
use futures_util::{SinkExt, StreamExt};
use lenframe::{Codec, Error, FrameCodec};

const TIMEOUT: Duration = Duration::from_secs(120);

/// The payloads of `msgs`, as prost encodes them.
fn payloads(msgs: &[Msg]) -> Vec<Vec<u8>> {
    msgs.iter().map(Msg::encode_to_vec).collect()
}

/// Every frame of `wire` through `decode(&mut BytesMut)`, fed `chunk` bytes
/// at a time; the buffer must be empty at the end.
fn decode_in_chunks(codec: Codec, wire: &[u8], chunk: usize) -> Vec<Bytes> {
    let mut dec = codec.new_decoder();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in wire.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(frame) = dec.decode(&mut buf).expect("decode") {
            frames.push(frame);
        }
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    assert!(dec.is_at_boundary());
    frames
}

/// prost's `decode_length_delimited` in a loop over `wire`, each message
/// decoded as the type of its counterpart in `like`.
fn prost_decode_all(wire: &[u8], like: &[Msg]) -> Vec<Msg> {
    let mut rest = wire;
    let got: Vec<Msg> = like
        .iter()
        .map(|m| m.decode_length_delimited_like(&mut rest))
        .collect();
    assert!(
        rest.is_empty(),
        "{} bytes after the last message",
        rest.len()
    );
    got
}

#[test]
fn messages_at_every_boundary_exist() {
    for &n in BOUNDARIES {
        match common::blob_of_len(n, 0) {
            Some(b) => assert_eq!(prost::Message::encoded_len(&b), n),
            None => assert_eq!(n, 1, "no message of {n} bytes"),
        }
    }
}

#[test]
fn encode_matches_prost_byte_for_byte() {
    let msgs = corpus();
    for (name, codec) in codecs() {
        let mut stream = Vec::new();
        let mut stream_bm = BytesMut::new();
        for m in &msgs {
            let payload = m.encode_to_vec();
            let want = m.encode_length_delimited_to_vec();
            let what = format!("{name}: {} of {} bytes", m.type_name(), payload.len());

            let mut v = Vec::new();
            codec.encode_to_vec(&payload, &mut v).expect(&what);
            assert_eq!(v.len(), want.len(), "{what}: frame length");
            assert!(v == want, "{what}: encode_to_vec differs from prost");

            let mut bm = BytesMut::new();
            codec.encode(&payload, &mut bm).expect(&what);
            assert!(bm[..] == want[..], "{what}: encode differs from prost");

            let header = codec.header(payload.len()).expect(&what);
            assert_eq!(
                &header[..],
                &want[..want.len() - payload.len()],
                "{what}: header"
            );

            codec.encode_to_vec(&payload, &mut stream).expect(&what);
            codec.encode(&payload, &mut stream_bm).expect(&what);
        }
        let want = prost_wire(&msgs);
        assert!(stream == want, "{name}: the stream differs from prost's");
        assert!(
            stream_bm[..] == want[..],
            "{name}: the BytesMut stream differs"
        );
    }
}

/// A 1-byte payload (no protobuf message is 1 byte long): prost's framing
/// primitive `encode_length_delimiter` writes the header.
#[test]
fn one_byte_payload_matches_prost_delimiter() {
    for (name, codec) in codecs() {
        let mut want = Vec::new();
        prost::encode_length_delimiter(1, &mut want).unwrap();
        want.push(0x2a);
        let mut got = Vec::new();
        codec.encode_to_vec([0x2a], &mut got).unwrap();
        assert_eq!(got, want, "{name}");
        let mut dec = codec.new_decoder();
        let mut buf = BytesMut::from(&want[..]);
        assert_eq!(dec.decode(&mut buf).unwrap().as_deref(), Some(&[0x2a][..]));
    }
}

/// The header of every length up to 70,000 and of every length 2^(7k)
/// -1, 2^(7k), 2^(7k)+1 up to `MAX`, as prost's `encode_length_delimiter`.
#[test]
fn every_header_matches_prost() {
    let mut lens: Vec<usize> = (0..70_000).collect();
    for k in 1..=4 {
        let b = 1usize << (7 * k);
        lens.extend([b - 1, b, b + 1]);
    }
    lens.extend([MAX - 1, MAX]);
    for (name, codec) in codecs() {
        for &len in lens.iter().filter(|&&l| l <= MAX) {
            let mut want = Vec::new();
            prost::encode_length_delimiter(len, &mut want).unwrap();
            let header = codec
                .header(len)
                .unwrap_or_else(|e| panic!("{name} {len}: {e}"));
            assert_eq!(&header[..], &want[..], "{name}: header of {len}");
        }
        match codec.header(MAX + 1) {
            Err(Error::FrameTooLargeToSend { len, max }) => {
                assert_eq!((len, max), (MAX as u64 + 1, MAX as u64))
            }
            other => panic!("{name}: header(MAX + 1) gave {other:?}"),
        }
    }
}

#[test]
fn prost_stream_decodes_with_every_face() {
    let msgs = corpus();
    let wire = prost_wire(&msgs);
    let want = payloads(&msgs);
    for (name, codec) in codecs() {
        // decode(&mut BytesMut), all at once.
        let frames = decode_in_chunks(codec, &wire, wire.len());
        assert_eq!(frames.len(), msgs.len(), "{name}");
        for ((f, w), m) in frames.iter().zip(&want).zip(&msgs) {
            assert!(f[..] == w[..], "{name}: {} payload", m.type_name());
            assert_eq!(&m.decode_like(f), m, "{name}");
        }

        // frames(&[u8]).
        let mut dec = codec.new_decoder();
        let mut it = dec.frames(&wire);
        let mut n = 0;
        for (frame, w) in it.by_ref().zip(&want) {
            assert!(frame.expect(name) == &w[..], "{name}: frames() #{n}");
            n += 1;
        }
        assert_eq!(n, msgs.len(), "{name}: frames()");
        assert!(it.next().is_none());
        assert_eq!(it.consumed(), wire.len(), "{name}: frames() consumed");

        // decode_slice.
        let mut dec = codec.new_decoder();
        let mut pos = 0;
        for w in &want {
            let d = dec.decode_slice(&wire[pos..]).expect(name);
            assert_eq!(d.frame, Some(&w[..]), "{name}: decode_slice");
            pos += d.consumed;
        }
        assert_eq!(pos, wire.len());

        // FrameReader over a reader that hands out 1000 bytes per read
        // (one byte per read: `split_at_every_byte`).
        let mut r = codec.new_read(Chunked {
            rest: &wire,
            max: 1000,
        });
        for w in &want {
            let f = r.read_frame().expect(name).expect("a frame");
            assert!(f[..] == w[..], "{name}: FrameReader, 1000 bytes per read");
        }
        assert!(r.read_frame().expect(name).is_none());
    }
}

#[test]
fn lenframe_stream_decodes_with_prost() {
    let msgs = corpus();
    for (name, codec) in codecs() {
        let mut w = codec.new_write(Vec::new());
        for m in &msgs {
            w.write_frame(m.encode_to_vec()).expect(name);
        }
        let wire = w.into_inner().expect(name);
        assert_eq!(prost_decode_all(&wire, &msgs), msgs, "{name}");
    }
}

/// Many messages in one buffer, fed to the decoder and read by a
/// `FrameReader` one byte at a time, and a shorter stream cut in two at
/// every byte.
#[test]
fn split_at_every_byte() {
    let msgs = many_messages();
    let wire = prost_wire(&msgs);
    let want = payloads(&msgs);
    assert!(wire.len() > 90_000, "{} bytes", wire.len());
    for (name, codec) in codecs() {
        let frames = decode_in_chunks(codec, &wire, 1);
        assert_eq!(frames.len(), want.len(), "{name}");
        assert!(
            frames.iter().zip(&want).all(|(f, w)| f[..] == w[..]),
            "{name}"
        );
    }

    // Every cut of a stream whose headers take 1, 2 and 3 bytes.
    let short: Vec<Msg> = [0, 5, 126, 127, 128, 200, 16384, 3]
        .iter()
        .filter_map(|&n| common::blob_of_len(n, 9).map(Msg::Blob))
        .collect();
    let short_wire = prost_wire(&short);
    let short_want = payloads(&short);
    for (name, codec) in codecs() {
        for cut in 0..=short_wire.len() {
            let mut dec = codec.new_decoder();
            let mut buf = BytesMut::from(&short_wire[..cut]);
            let mut frames = Vec::new();
            while let Some(f) = dec.decode(&mut buf).expect(name) {
                frames.push(f);
            }
            buf.extend_from_slice(&short_wire[cut..]);
            while let Some(f) = dec.decode(&mut buf).expect(name) {
                frames.push(f);
            }
            assert!(buf.is_empty(), "{name}: cut at {cut}");
            assert_eq!(frames.len(), short_want.len(), "{name}: cut at {cut}");
            assert!(
                frames.iter().zip(&short_want).all(|(f, w)| f[..] == w[..]),
                "{name}: cut at {cut}"
            );
        }
    }
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    for s in [&client, &server] {
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.set_write_timeout(Some(TIMEOUT)).unwrap();
    }
    (client, server)
}

/// prost's delimited bytes written raw by a thread, in one write; read by
/// `Framed::recv` and by `FrameReader::read_frame`, decoded by prost.
#[test]
fn tcp_prost_writes_lenframe_reads() {
    let msgs = corpus();
    let wire = prost_wire(&msgs);
    for (name, codec) in codecs() {
        for face in ["Framed", "FrameReader"] {
            let (mut tx, rx) = tcp_pair();
            let bytes = wire.clone();
            let writer = thread::spawn(move || {
                tx.write_all(&bytes).unwrap();
                tx.shutdown(Shutdown::Write).unwrap();
            });
            let got: Vec<Msg> = match face {
                "Framed" => {
                    let mut framed = codec.new_framed(rx);
                    let got = msgs
                        .iter()
                        .map(|m| m.decode_like(&framed.recv().expect(name).expect("a frame")))
                        .collect();
                    assert!(framed.recv().expect(name).is_none(), "{name}: EOF");
                    got
                }
                _ => {
                    let mut r = codec.new_read(rx);
                    let got = msgs
                        .iter()
                        .map(|m| m.decode_like(&r.read_frame().expect(name).expect("a frame")))
                        .collect();
                    assert!(r.read_frame().expect(name).is_none(), "{name}: EOF");
                    got
                }
            };
            writer.join().unwrap();
            assert_eq!(got, msgs, "{name} {face}");
        }
    }
}

/// `Framed::send` (and `FrameWriter::write_frame`) on one side; the other
/// reads the raw bytes to EOF and decodes them with prost.
#[test]
fn tcp_lenframe_writes_prost_reads() {
    let msgs = corpus();
    let want = prost_wire(&msgs);
    for (name, codec) in codecs() {
        for face in ["Framed", "FrameWriter"] {
            let (tx, mut rx) = tcp_pair();
            let to_send = payloads(&msgs);
            let writer = thread::spawn(move || {
                let stream = match face {
                    "Framed" => {
                        let mut framed = codec.new_framed(tx);
                        for p in &to_send {
                            framed.send(p).unwrap();
                        }
                        framed.into_inner().unwrap()
                    }
                    _ => {
                        let mut w = codec.new_write(tx);
                        for p in &to_send {
                            w.write_frame(p).unwrap();
                        }
                        w.into_inner().unwrap()
                    }
                };
                stream.shutdown(Shutdown::Write).unwrap();
            });
            let mut wire = Vec::new();
            rx.read_to_end(&mut wire).unwrap();
            writer.join().unwrap();
            assert!(wire == want, "{name} {face}: not prost's bytes");
            assert_eq!(prost_decode_all(&wire, &msgs), msgs, "{name} {face}");
        }
    }
}

/// The bytes a `FrameReader` reads off TCP are exactly prost's, and the
/// frames it returns re-encode to them (a Tee records the raw wire).
#[test]
fn tcp_wire_reencodes_exactly() {
    let msgs = many_messages();
    let wire = prost_wire(&msgs);
    let codec = varint();
    let (mut tx, rx) = tcp_pair();
    let bytes = wire.clone();
    let writer = thread::spawn(move || {
        // Many small writes: frames arrive split and merged.
        for piece in bytes.chunks(1000) {
            tx.write_all(piece).unwrap();
        }
    });
    let mut r = codec.new_read(Tee {
        inner: rx,
        seen: Vec::new(),
    });
    let mut again = Vec::new();
    while let Some(f) = r.read_frame().unwrap() {
        codec.encode_to_vec(&f, &mut again).unwrap();
    }
    writer.join().unwrap();
    assert!(r.get_ref().seen == wire);
    assert!(again == wire);
}

async fn tokio_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

/// The tokio `FrameCodec` in tokio-util's `Framed`: prost's raw bytes in,
/// frames out; frames in, prost's bytes out.
#[tokio::test]
async fn tokio_framed_both_ways() {
    tokio::time::timeout(TIMEOUT, tokio_both_ways())
        .await
        .expect("timed out");
}

async fn tokio_both_ways() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let msgs = corpus();
    let wire = prost_wire(&msgs);
    for (name, codec) in codecs() {
        // prost -> lenframe
        let (mut raw, peer) = tokio_pair().await;
        let bytes = wire.clone();
        let writer = tokio::spawn(async move {
            raw.write_all(&bytes).await.unwrap();
            raw.shutdown().await.unwrap();
        });
        let mut framed = tokio_util::codec::Framed::new(peer, FrameCodec::new(codec));
        let mut got = Vec::new();
        while let Some(frame) = framed.next().await {
            let frame = frame.expect(name);
            got.push(msgs[got.len()].decode_like(&frame));
        }
        writer.await.unwrap();
        assert_eq!(got, msgs, "{name}: tokio prost -> lenframe");

        // lenframe -> prost
        let (sender, mut raw) = tokio_pair().await;
        let to_send = payloads(&msgs);
        let writer = tokio::spawn(async move {
            let mut framed = tokio_util::codec::Framed::new(sender, FrameCodec::new(codec));
            for p in to_send {
                framed.feed(Bytes::from(p)).await.unwrap();
            }
            SinkExt::<Bytes>::close(&mut framed).await.unwrap();
        });
        let mut got_wire = Vec::new();
        raw.read_to_end(&mut got_wire).await.unwrap();
        writer.await.unwrap();
        assert!(got_wire == wire, "{name}: tokio lenframe -> prost bytes");
        assert_eq!(prost_decode_all(&got_wire, &msgs), msgs, "{name}");
    }
}

/// Header by header, lenframe reads what prost's varint reader reads:
/// every 1- and 2-byte header, non-minimal and 10-byte ones, and 200,000
/// pseudo-random ones of 1 to 11 bytes. With `"varint"` (protobuf rules):
/// where prost reads a length, lenframe reads the same length (or says it
/// is too large); where prost runs out of bytes before 10, lenframe waits
/// for more; where prost fails (a 10th byte over 1, or 11 bytes), lenframe
/// fails too.
#[test]
fn headers_read_as_prost_reads_them() {
    let max = 1 << 20;
    let codec = Codec::from_format("varint")
        .unwrap()
        .with_max_frame_len(max)
        .unwrap();
    let mut checked = 0;
    for h in header_corpus() {
        let mut cursor = &h[..];
        let prost = prost::encoding::decode_varint(&mut cursor);
        let used = h.len() - cursor.len();
        let truncated = h.len() < 10 && h.iter().all(|b| b & 0x80 != 0);
        let mut dec = codec.new_decoder();
        match prost {
            Ok(v) => {
                // Only what prost read, then the payload (if small enough).
                let header = &h[..used];
                let mut buf = BytesMut::from(header);
                if v <= 4096 {
                    buf.extend((0..v).map(|i| i as u8));
                }
                let got = dec.decode(&mut buf);
                match got {
                    Ok(Some(f)) if v <= max as u64 => {
                        assert_eq!(f.len() as u64, v, "header {header:02x?}");
                        assert!(buf.is_empty());
                    }
                    // Waiting for the payload.
                    Ok(None) if v > 4096 && v <= max as u64 => {}
                    Err(Error::FrameTooLarge { len, .. }) if v > max as u64 => {
                        assert_eq!(len, v, "header {header:02x?}")
                    }
                    other => {
                        panic!("header {header:02x?}: prost reads {v}, lenframe gives {other:?}")
                    }
                }
            }
            Err(_) if truncated => {
                let mut buf = BytesMut::from(&h[..]);
                match dec.decode(&mut buf) {
                    Ok(None) => {}
                    other => {
                        panic!("header {h:02x?}: prost needs more bytes, lenframe gives {other:?}")
                    }
                }
            }
            Err(e) => {
                let mut buf = BytesMut::from(&h[..]);
                if let Ok(got) = dec.decode(&mut buf) {
                    panic!("header {h:02x?}: prost fails ({e}), lenframe gives Ok({got:?})")
                }
            }
        }
        checked += 1;
    }
    assert!(checked > 250_000, "{checked}");
}

/// Headers to compare: every 1- and 2-byte sequence, minimal and padded
/// encodings of boundary values, 10- and 11-byte ones, and random ones.
fn header_corpus() -> Vec<Vec<u8>> {
    let mut hs: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    hs.extend((0..=u16::MAX).map(|w| w.to_le_bytes().to_vec()));
    let values = [
        0u64,
        1,
        127,
        128,
        16383,
        16384,
        4096,
        4097,
        (1 << 20) - 1,
        1 << 20,
        (1 << 20) + 1,
        u32::MAX as u64,
        1 << 35,
        (1 << 63) - 1,
        1 << 63,
        u64::MAX,
    ];
    for v in values {
        let mut minimal = Vec::new();
        prost::encoding::encode_varint(v, &mut minimal);
        // Padded to every length up to 11 bytes with 0x80 .. 0x00.
        for len in minimal.len()..=11 {
            let mut h = minimal.clone();
            if len > h.len() {
                *h.last_mut().unwrap() |= 0x80;
                h.resize(len - 1, 0x80);
                h.push(0x00);
            }
            hs.push(h);
        }
    }
    // 10th bytes of every value after nine continuation bytes.
    for last in 0..=255u8 {
        let mut h = vec![0x80; 9];
        h.push(last);
        hs.push(h.clone());
        h[0] = 0x85;
        hs.push(h);
    }
    // Pseudo-random, mostly continuation bytes (xorshift64*).
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for _ in 0..200_000 {
        let len = 1 + (next() % 11) as usize;
        let h: Vec<u8> = (0..len)
            .map(|i| {
                let r = next();
                let b = (r >> 8) as u8;
                if i + 1 < len && r % 8 != 0 {
                    b | 0x80
                } else {
                    b
                }
            })
            .collect();
        hs.push(h);
    }
    hs
}
