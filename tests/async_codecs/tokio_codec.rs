//! Feature `tokio`: `FrameCodec` agrees with the blocking `FrameReader` on
//! the same inputs, `FrameResultCodec` goes on past a frame skipped under
//! `Oversize::Skip` as the reader does, lazy buffer growth, and
//! async/blocking peers talking to each other's echo servers.
#![cfg(feature = "tokio")]

use crate::common;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{
    all_formats, blocking_items, codec, encode_all, wire_with_an_oversize_frame, ExampleServer,
};
use futures_util::{SinkExt, StreamExt};
use lenframe::{Codec, Error, FrameCodec, FramePart, FrameResultCodec, Oversize};
use proptest::prelude::*;
use tokio::io::AsyncReadExt;
use tokio_util::codec::{Decoder, Framed, FramedRead};

/// Decodes `wire` through FrameCodec in chunks, like FramedRead does.
fn codec_decode(c: Codec, wire: &[u8], chunk: usize) -> Result<Vec<Vec<u8>>, String> {
    let mut fc = FrameCodec::new(c);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in wire.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        while let Some(f) = fc.decode(&mut buf).map_err(|e| e.to_string())? {
            out.push(f.to_vec());
        }
    }
    while let Some(f) = fc.decode_eof(&mut buf).map_err(|e| e.to_string())? {
        out.push(f.to_vec());
    }
    Ok(out)
}

fn reader_decode(c: Codec, wire: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    c.new_read(wire)
        .map(|f| f.map(|b| b.to_vec()).map_err(|e| e.to_string()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Same frames, or the same error, from the async codec and the
    /// blocking reader, on valid streams and on arbitrary bytes.
    #[test]
    fn codec_and_reader_agree(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..500), 0..12),
        noise in prop::collection::vec(any::<u8>(), 0..64),
        fmt_idx in 0..60usize,
        chunk in 1..700usize,
        corrupt in any::<bool>(),
    ) {
        let c = codec(all_formats()[fmt_idx], 300);
        let frames: Vec<Vec<u8>> = frames.into_iter().map(|mut f| { f.truncate(c.max_frame_len()); f }).collect();
        let mut wire = encode_all(&c, &frames);
        if corrupt {
            wire.extend_from_slice(&noise);
        }
        let a = codec_decode(c, &wire, chunk);
        let b = reader_decode(c, &wire);
        prop_assert_eq!(&a, &b);
        if !corrupt {
            prop_assert_eq!(a.unwrap(), frames);
        }
    }
}

/// Decodes `wire` through FrameResultCodec in chunks, as FramedRead does:
/// every item (flattened) until the first decoder error, which ends it.
fn result_codec_items(c: Codec, wire: &[u8], chunk: usize) -> Vec<Result<Vec<u8>, String>> {
    let mut fc = FrameResultCodec::new(c);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let item = |r: Result<Bytes, Error>| r.map(|b| b.to_vec()).map_err(|e| e.to_string());
    for piece in wire.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match fc.decode(&mut buf) {
                Ok(Some(r)) => out.push(item(r)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }
    loop {
        match fc.decode_eof(&mut buf) {
            Ok(Some(r)) => out.push(item(r)),
            Ok(None) => return out,
            Err(e) => {
                out.push(Err(e.to_string()));
                return out;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Under `Oversize::Skip`, FrameResultCodec yields item for item what
    /// the blocking reader's iterator yields, oversize reports included.
    #[test]
    fn result_codec_and_reader_agree_under_skip(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..500), 0..12),
        noise in prop::collection::vec(any::<u8>(), 0..64),
        fmt_idx in 0..60usize,
        chunk in 1..700usize,
        corrupt in any::<bool>(),
    ) {
        let c = Codec::builder()
            .format(all_formats()[fmt_idx])
            .max_frame_len(300)
            .oversize(Oversize::Skip)
            .build()
            .unwrap();
        let frames: Vec<Vec<u8>> = frames
            .into_iter()
            .map(|mut f| { f.truncate(c.format().max_value() as usize); f })
            .collect();
        let mut wire = encode_all(&c.with_max_frame_len(usize::MAX).unwrap(), &frames);
        if corrupt {
            wire.extend_from_slice(&noise);
        }
        let reader: Vec<_> = c
            .new_read(&wire[..])
            .map(|f| f.map(|b| b.to_vec()).map_err(|e| e.to_string()))
            .collect();
        prop_assert_eq!(result_codec_items(c, &wire, chunk), reader);
    }
}

#[test]
fn grows_lazily_unlike_declared_length() {
    let mut fc = FrameCodec::default();
    let mut buf = BytesMut::from(&[0x00, 0x80, 0x00, 0x00, 1, 2, 3][..]); // 8 MiB declared
    assert!(fc.decode(&mut buf).unwrap().is_none());
    assert!(
        buf.capacity() <= 64 * 1024 + 64,
        "capacity {}",
        buf.capacity()
    );
}

#[tokio::test]
async fn framed_read_over_chunked_async_reads() {
    let c = Codec::default();
    let frames: Vec<Vec<u8>> = (0..200).map(|i| vec![i as u8; i * 13 % 3000]).collect();
    let wire = encode_all(&c, &frames);
    let (mut tx, rx) = tokio::io::duplex(97); // tiny pipe: every read is partial
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        for piece in wire.chunks(333) {
            tx.write_all(piece).await.unwrap();
        }
    });
    let got: Vec<Vec<u8>> = FramedRead::new(rx, FrameCodec::new(c))
        .map(|f| f.unwrap().to_vec())
        .collect()
        .await;
    writer.await.unwrap();
    assert_eq!(got, frames);
}

#[tokio::test]
async fn truncated_stream_is_a_typed_error() {
    let (mut tx, rx) = tokio::io::duplex(64);
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        tx.write_all(b"\0\0\0\x09abc").await.unwrap();
    });
    let mut frames = FramedRead::new(rx, FrameCodec::default());
    match frames.next().await {
        Some(Err(Error::Truncated {
            part: FramePart::Payload,
            got: 3,
            expected: 9,
        })) => {}
        other => panic!("{other:?}"),
    }
}

/// Writes `wire` 7 bytes at a time, so the oversize frame arrives in many
/// reads, then closes.
async fn write_in_pieces<W: tokio::io::AsyncWrite + Unpin>(mut tx: W, wire: Vec<u8>) {
    use tokio::io::AsyncWriteExt;
    for piece in wire.chunks(7) {
        tx.write_all(piece).await.unwrap();
        tx.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    tx.shutdown().await.unwrap();
}

fn check_skip_items(got: Vec<Result<Bytes, Error>>, c: Codec, wire: &[u8]) {
    assert!(
        matches!(
            got.get(1),
            Some(Err(Error::FrameTooLarge { len: 300, max: 8 }))
        ),
        "{got:?}"
    );
    let got: Vec<Result<Vec<u8>, String>> = got
        .into_iter()
        .map(|f| f.map(|b| b.to_vec()).map_err(|e| e.to_string()))
        .collect();
    let want = vec![
        Ok(b"alpha".to_vec()),
        Err("frame of 300 bytes exceeds the maximum of 8 bytes".to_string()),
        Ok(b"beta".to_vec()),
        Ok(b"gamma".to_vec()),
    ];
    assert_eq!(got, want);
    assert_eq!(blocking_items(c, wire), want, "the blocking reader's rules");
}

/// The crate docs' promise: under `Oversize::Skip`, `FramedRead` reports an
/// oversize frame once and goes on with the frames after it, as the
/// blocking `FrameReader` does.
#[tokio::test]
async fn framed_read_continues_past_a_skipped_oversize_frame() {
    let (c, wire) = wire_with_an_oversize_frame();
    let (tx, rx) = tokio::io::duplex(16); // every read is at most 16 bytes
    let writer = tokio::spawn(write_in_pieces(tx, wire.clone()));
    let mut framed = FramedRead::new(rx, FrameResultCodec::new(c)).map(Result::flatten);
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(item) = framed.next().await {
            got.push(item);
        }
    })
    .await
    .expect("timed out");
    check_skip_items(got, c, &wire);
    writer.await.unwrap();
}

/// The same over a real TCP socket with `Framed`.
#[tokio::test]
async fn framed_over_tcp_continues_past_a_skipped_oversize_frame() {
    let (c, wire) = wire_with_an_oversize_frame();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = wire.clone();
    let writer = tokio::spawn(async move {
        let (tx, _) = listener.accept().await.unwrap();
        tx.set_nodelay(true).unwrap();
        write_in_pieces(tx, sent).await;
    });
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut framed = Framed::new(stream, FrameResultCodec::new(c));
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(item) = framed.next().await {
            got.push(item.flatten());
        }
    })
    .await
    .expect("timed out");
    check_skip_items(got, c, &wire);
    writer.await.unwrap();
}

/// `FrameCodec` reports the skipped frame as a decoder error, after which
/// tokio-util ends the stream: the documented difference that
/// `FrameResultCodec` exists for.
#[tokio::test]
async fn frame_codec_stream_ends_at_a_skipped_frame() {
    let (c, wire) = wire_with_an_oversize_frame();
    let mut framed = FramedRead::new(&wire[..], FrameCodec::new(c));
    assert_eq!(framed.next().await.unwrap().unwrap(), "alpha");
    assert!(matches!(
        framed.next().await,
        Some(Err(Error::FrameTooLarge { len: 300, max: 8 }))
    ));
    assert!(framed.next().await.is_none());
}

/// Under `Oversize::Error` the oversize frame stays fatal, and a stream cut
/// inside a skipped frame ends with `Truncated`, as in the blocking reader.
#[tokio::test]
async fn frame_result_codec_keeps_fatal_errors_fatal() {
    let (skip, wire) = wire_with_an_oversize_frame();
    let fatal = Codec::builder().max_frame_len(8).build().unwrap();
    let mut framed = FramedRead::new(&wire[..], FrameResultCodec::new(fatal));
    assert_eq!(framed.next().await.unwrap().unwrap().unwrap(), "alpha");
    assert!(matches!(
        framed.next().await,
        Some(Err(Error::FrameTooLarge { len: 300, max: 8 }))
    ));
    assert!(framed.next().await.is_none());

    let cut = &wire[..9 + 4 + 100]; // "alpha", then 100 of 300 oversize bytes
    let mut framed = FramedRead::new(cut, FrameResultCodec::new(skip));
    assert_eq!(framed.next().await.unwrap().unwrap().unwrap(), "alpha");
    assert!(matches!(
        framed.next().await,
        Some(Ok(Err(Error::FrameTooLarge { len: 300, max: 8 })))
    ));
    assert!(matches!(
        framed.next().await,
        Some(Err(Error::Truncated {
            part: FramePart::Payload,
            got: 100,
            expected: 300
        }))
    ));
    assert!(framed.next().await.is_none());
}

/// Sends every payload type of the blocking `Framed::send` through
/// tokio-util's `Framed` with the codec `$codec`, over an in-memory pipe;
/// evaluates to the payloads sent and the bytes that went on the wire.
/// Each `send` or `feed` compiles only because the codec implements
/// `Encoder<T>` for its `T` (a macro, not a generic function, so that it
/// says nothing about which types these are).
macro_rules! send_every_payload_type {
    ($codec:expr) => {{
        let (tx, mut rx) = tokio::io::duplex(1024);
        let reading = tokio::spawn(async move {
            let mut wire = Vec::new();
            rx.read_to_end(&mut wire).await.unwrap();
            wire
        });
        let mut framed = Framed::new(tx, $codec);
        let string = String::from("kevin");
        let vec = vec![0u8, 1, 2, 255];
        let bytes = Bytes::from_static(b"shared bytes");
        framed.send("jason").await.unwrap(); // &str
        framed.send("").await.unwrap(); // an empty frame
        framed.send(&string).await.unwrap(); // &String
        framed.send(string.clone()).await.unwrap(); // String
        framed.send(&vec).await.unwrap(); // &Vec<u8>
        framed.send(vec.clone()).await.unwrap(); // Vec<u8>
        framed.send(&vec[1..]).await.unwrap(); // &[u8]
        framed.send(b"toney").await.unwrap(); // &[u8; 5]
        framed.send([7u8; 3]).await.unwrap(); // [u8; 3]
        framed.send(&bytes).await.unwrap(); // &Bytes
        framed.send(bytes.clone()).await.unwrap(); // Bytes
        framed.feed(BytesMut::from(&b"mut"[..])).await.unwrap(); // BytesMut
        for name in ["a", "bc"].iter() {
            framed.feed(name).await.unwrap(); // &&str, from iter()
        }
        framed.feed(Box::<[u8]>::from(&b"boxed"[..])).await.unwrap(); // Box<[u8]>
        framed.feed(Arc::<[u8]>::from(&b"arc"[..])).await.unwrap(); // Arc<[u8]>
        framed.send(Cow::Borrowed(&b"cow"[..])).await.unwrap(); // Cow<[u8]>
        SinkExt::<&[u8]>::close(&mut framed).await.unwrap();
        drop(framed);
        let sent: Vec<Vec<u8>> = [
            &b"jason"[..],
            b"",
            b"kevin",
            b"kevin",
            &vec,
            &vec,
            &vec[1..],
            b"toney",
            &[7; 3],
            b"shared bytes",
            b"shared bytes",
            b"mut",
            b"a",
            b"bc",
            b"boxed",
            b"arc",
            b"cow",
        ]
        .iter()
        .map(|p| p.to_vec())
        .collect();
        (sent, reading.await.unwrap())
    }};
}

#[tokio::test]
async fn frame_codec_sink_takes_the_payload_types_of_the_blocking_send() {
    for format in ["!I", "<H", "b"] {
        let c = Codec::new(format.parse().unwrap());
        let (sent, wire) = send_every_payload_type!(FrameCodec::new(c));
        // Byte-exact: the wire is the one-shot encoding of the payloads.
        assert_eq!(wire, encode_all(&c, &sent), "format {format}");
        let got: Vec<Vec<u8>> = FramedRead::new(&wire[..], FrameCodec::new(c))
            .map(|f| f.unwrap().to_vec())
            .collect()
            .await;
        assert_eq!(got, sent, "format {format}");
    }
}

#[tokio::test]
async fn frame_result_codec_sink_takes_the_same_payload_types() {
    let c = Codec::new("<H".parse().unwrap());
    let (sent, wire) = send_every_payload_type!(FrameResultCodec::new(c));
    assert_eq!(wire, encode_all(&c, &sent));
}

#[tokio::test]
async fn str_payloads_round_trip_through_framed_over_a_duplex() {
    // What a first tokio program does: the blocking Framed's `send("jason")`,
    // on tokio-util's Framed, both ends framed.
    let (a, b) = tokio::io::duplex(64);
    let mut client = Framed::new(a, FrameCodec::default());
    let mut server = Framed::new(b, FrameCodec::default());
    let echo = tokio::spawn(async move {
        while let Some(frame) = server.next().await {
            server.send(frame.unwrap()).await.unwrap();
        }
    });
    for msg in ["jason", "kevin", "toney"] {
        client.send(msg).await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap(), msg);
    }
    let reply = format!("{}!", "x".repeat(200)); // larger than the pipe
    client.send(&reply).await.unwrap();
    assert_eq!(client.next().await.unwrap().unwrap(), reply);
    drop(client);
    echo.await.unwrap();
}

#[tokio::test]
async fn async_client_against_blocking_echo_server() {
    let server = ExampleServer::start("echo_server", &[]);
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut framed = Framed::new(stream, FrameCodec::default());
    let frames: Vec<Bytes> = (0..500)
        .map(|i| Bytes::from(vec![i as u8; i % 700]))
        .collect();
    tokio::time::timeout(Duration::from_secs(30), async {
        for f in &frames {
            framed.feed(f.clone()).await.unwrap();
        }
        SinkExt::<Bytes>::flush(&mut framed).await.unwrap();
        for f in &frames {
            assert_eq!(&framed.next().await.unwrap().unwrap(), f);
        }
    })
    .await
    .expect("timed out");
}

#[test]
fn blocking_client_against_tokio_echo_server() {
    let server = ExampleServer::start("tokio_echo_server", &[]);
    let s = std::net::TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = lenframe::FrameWriter::new(&s);
    for i in 0..5000u32 {
        w.write_frame(i.to_be_bytes()).unwrap();
    }
    w.flush().unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let got: Vec<u32> = lenframe::FrameReader::new(&s)
        .map(|f| u32::from_be_bytes(f.unwrap()[..].try_into().unwrap()))
        .collect();
    assert_eq!(got, (0..5000).collect::<Vec<_>>());
}
