//! Feature `tokio`: `FrameCodec` agrees with the blocking `FrameReader` on
//! the same inputs, lazy buffer growth, and async/blocking peers talking to
//! each other's echo servers.
#![cfg(feature = "tokio")]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{all_formats, codec, encode_all};
use futures_util::{SinkExt, StreamExt};
use lenframe::{Codec, Error, FrameCodec, FramePart};
use proptest::prelude::*;
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

/// A running example server, killed on drop.
struct Server(Child, SocketAddr);

impl Server {
    fn start(name: &str) -> Server {
        let exe = std::env::current_exe().unwrap();
        let path = exe
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("examples")
            .join(name);
        let mut child = Command::new(&path)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (built by cargo test --all-features)",
                    path.display()
                )
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening line")
            .parse()
            .unwrap();
        Server(child, addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn async_client_against_blocking_echo_server() {
    let server = Server::start("echo_server");
    let stream = tokio::net::TcpStream::connect(server.1).await.unwrap();
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
    let server = Server::start("tokio_echo_server");
    let s = std::net::TcpStream::connect(server.1).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = lenframe::FrameWriter::new(&s);
    for i in 0..5000u32 {
        w.write_frame(&i.to_be_bytes()).unwrap();
    }
    w.flush().unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let got: Vec<u32> = lenframe::FrameReader::new(&s)
        .map(|f| u32::from_be_bytes(f.unwrap()[..].try_into().unwrap()))
        .collect();
    assert_eq!(got, (0..5000).collect::<Vec<_>>());
}
