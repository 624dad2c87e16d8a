//! Feature `futures-io`: `FrameCodec` and `FrameResultCodec` as
//! asynchronous-codec codecs over real loopback TCP on smol's executor:
//! round trips (empty to several MiB, split and merged at random points),
//! hostile and negative headers, truncated streams, `Oversize::Skip`, and
//! interop with blocking peers (a `FrameReader`/`FrameWriter` thread and
//! the `echo_server` example).
#![cfg(feature = "futures-io")]

use crate::common;

use std::future::Future;
use std::thread;
use std::time::Duration;

use asynchronous_codec::{Framed, FramedRead, FramedWrite};
use bytes::Bytes;
use common::{all_formats, blocking_items, encode_all, wire_with_an_oversize_frame, ExampleServer};
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use lenframe::{
    Codec, Error, FrameCodec, FramePart, FrameReader, FrameResultCodec, FrameWriter, Oversize,
    DEFAULT_MAX_FRAME_LEN,
};
use smol::io::{AsyncRead, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `fut` on smol's executor (async-io's reactor), failing after
/// `TIMEOUT`.
fn run<T>(fut: impl Future<Output = T>) -> T {
    smol::block_on(smol::future::or(fut, async {
        smol::Timer::after(TIMEOUT).await;
        panic!("timed out after {TIMEOUT:?}")
    }))
}

/// A connected loopback pair: (client, accepted).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = smol::future::zip(TcpStream::connect(addr), listener.accept()).await;
    let client = client.unwrap();
    client.set_nodelay(true).unwrap();
    (client, accepted.unwrap().0)
}

/// xorshift64*: reproducible chunk sizes and frames without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Writes `wire` raw, in chunks of 1..=`max_chunk` bytes (each flushed,
/// sometimes yielding), then shuts the write side down: frames arrive split
/// and merged at arbitrary points. Stops writing if the reader has gone.
async fn write_in_chunks(mut tx: TcpStream, wire: &[u8], seed: u64, max_chunk: usize) {
    let mut rng = Rng(seed | 1);
    let mut pos = 0;
    while pos < wire.len() {
        let end = (pos + 1 + rng.below(max_chunk)).min(wire.len());
        // A reader that stopped at a fatal error may have closed already.
        if tx.write_all(&wire[pos..end]).await.is_err() || tx.flush().await.is_err() {
            return;
        }
        if rng.below(4) == 0 {
            smol::future::yield_now().await;
        }
        pos = end;
    }
    let _ = tx.close().await;
}

/// Every frame of a `FrameCodec` stream, panicking on an error.
async fn frames_of<R: AsyncRead + Unpin>(rx: R, c: Codec) -> Vec<Vec<u8>> {
    FramedRead::new(rx, FrameCodec::new(c))
        .map(|f| f.expect("frame").to_vec())
        .collect()
        .await
}

/// A `FrameResultCodec` stream read up to its end or its first fatal
/// error (included), each item flattened as the blocking reader yields it.
async fn items_of<R: AsyncRead + Unpin>(rx: R, c: Codec) -> Vec<Result<Vec<u8>, String>> {
    let mut frames = FramedRead::new(rx, FrameResultCodec::new(c));
    let mut out = Vec::new();
    loop {
        match frames.next().await {
            Some(Ok(item)) => out.push(item.map(|b| b.to_vec()).map_err(|e| e.to_string())),
            Some(Err(e)) => {
                out.push(Err(e.to_string()));
                return out;
            }
            None => return out,
        }
    }
}

fn assert_same_frames(got: &[Vec<u8>], want: &[Vec<u8>]) {
    let lens = |v: &[Vec<u8>]| v.iter().map(Vec::len).collect::<Vec<_>>();
    assert_eq!(lens(got), lens(want), "frame lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(g == w, "frame {i} ({} bytes) differs", w.len());
    }
}

/// Empty, small, and several-MiB frames through `FramedWrite` →
/// `FramedRead` over TCP.
#[test]
fn frames_round_trip_over_tcp() {
    let mut frames: Vec<Vec<u8>> = (0..300).map(|i| vec![i as u8; i * 37 % 5000]).collect();
    frames.insert(10, Vec::new());
    frames.push(vec![0xA5; 3 << 20]);
    frames.push(Vec::new());
    frames.push((0..6 << 20).map(|i| (i % 251) as u8).collect());
    frames.push(vec![7]);
    assert!(frames.iter().filter(|f| f.is_empty()).count() >= 3);
    let got = run(async {
        let (client, server) = pair().await;
        let send = async {
            let mut sink = FramedWrite::new(client, FrameCodec::default());
            for f in &frames {
                sink.feed(&f[..]).await.unwrap();
            }
            sink.close().await.unwrap();
        };
        let ((), got) = smol::future::zip(send, frames_of(server, Codec::default())).await;
        got
    });
    assert_same_frames(&got, &frames);
}

/// The same frames, written as raw bytes in random chunks from 1 byte up,
/// in several header formats: every split and merge decodes the same.
#[test]
fn raw_bytes_in_random_chunks_decode_to_the_same_frames() {
    for (seed, fmt, max_chunk) in [
        (1, "!I", 1),
        (2, "<H", 7),
        (3, "B", 3),
        (4, "=q", 1500),
        (5, "!I", 70_000),
        (6, ">h", 64),
    ] {
        let c = Codec::builder()
            .format(fmt.parse().unwrap())
            .max_frame_len(1 << 20)
            .build()
            .unwrap();
        let mut rng = Rng(seed);
        let count = if max_chunk < 10 { 300 } else { 2000 };
        let frames: Vec<Vec<u8>> = (0..count)
            .map(|i| {
                let len = rng.below(c.max_frame_len().min(300) + 1);
                vec![i as u8; if rng.below(8) == 0 { 0 } else { len }]
            })
            .collect();
        let mut frames = frames;
        if max_chunk > 1000 {
            frames.push(vec![9; c.max_frame_len()]);
        }
        let wire = encode_all(&c, &frames);
        let got = run(async {
            let (client, server) = pair().await;
            let ((), got) = smol::future::zip(
                write_in_chunks(client, &wire, seed, max_chunk),
                frames_of(server, c),
            )
            .await;
            got
        });
        assert_same_frames(&got, &frames);
    }
}

/// `FrameResultCodec` over TCP yields, item for item, what the blocking
/// reader yields, on random streams with oversize frames under
/// `Oversize::Skip`, trailing garbage and cuts at random points.
#[test]
fn result_codec_and_blocking_reader_agree_on_random_streams() {
    let formats = all_formats();
    for seed in 1..=40u64 {
        let mut rng = Rng(seed * 7919);
        let fmt = formats[rng.below(formats.len())];
        let c = Codec::builder()
            .format(fmt)
            .max_frame_len(200)
            .oversize(Oversize::Skip)
            .build()
            .unwrap();
        let cap = usize::try_from(c.format().max_value()).unwrap_or(usize::MAX);
        let frames: Vec<Vec<u8>> = (0..rng.below(30))
            .map(|i| vec![i as u8; rng.below(500).min(cap)])
            .collect();
        let mut wire = encode_all(&c.with_max_frame_len(usize::MAX).unwrap(), &frames);
        match rng.below(3) {
            0 => {}
            1 => wire.extend((0..rng.below(40)).map(|_| rng.next() as u8)),
            _ => wire.truncate(rng.below(wire.len() + 1)),
        }
        let want = blocking_items(c, &wire);
        let got = run(async {
            let (client, server) = pair().await;
            let ((), got) = smol::future::zip(
                write_in_chunks(client, &wire, seed, 1 + rng.below(40)),
                items_of(server, c),
            )
            .await;
            got
        });
        assert_eq!(got, want, "seed {seed}, format {fmt}");
    }
}

/// A header declaring 4 GiB fails the stream with `FrameTooLarge` at once;
/// the read buffer stays at asynchronous-codec's initial 8 KiB.
#[test]
fn hostile_4_gib_header_is_frame_too_large_without_allocating_it() {
    let max = DEFAULT_MAX_FRAME_LEN as u64;
    for (fmt, header, len) in [
        ("!I", vec![0xff; 4], u64::from(u32::MAX)),
        ("!Q", (1u64 << 32).to_be_bytes().to_vec(), 1 << 32),
    ] {
        let c = Codec::new(fmt.parse().unwrap());
        run(async {
            let (mut client, server) = pair().await;
            let mut wire = Vec::new();
            c.encode_to_vec(b"ok", &mut wire).unwrap();
            wire.extend_from_slice(&header);
            wire.extend_from_slice(&[0x41; 1000]);
            client.write_all(&wire).await.unwrap(); // and stays open
            let mut frames = FramedRead::new(server, FrameCodec::new(c));
            assert_eq!(frames.next().await.unwrap().unwrap(), "ok");
            match frames.next().await {
                Some(Err(Error::FrameTooLarge { len: l, max: m })) if l == len && m == max => {}
                other => panic!("{fmt}: {other:?}"),
            }
            let cap = frames.read_buffer().capacity();
            assert!(cap <= 16 * 1024, "{fmt}: read buffer capacity {cap}");
            assert!(frames.decoder().decoder().is_failed());
            // The error is not repeated: the codec discards what follows
            // (asynchronous-codec would poll the failed decoder again),
            // and the stream ends once the peer closes.
            client.write_all(&[0x41; 5000]).await.unwrap();
            drop(client);
            assert!(frames.next().await.is_none(), "{fmt}: not ended");
            assert!(frames.next().await.is_none(), "{fmt}: not ended");
            assert!(frames.read_buffer().is_empty());
        });
    }
}

/// Under `Oversize::Skip` a 4 GiB frame is discarded as it arrives: 1 MiB
/// of it passes through a buffer of well under 1 MiB, and a stream cut
/// inside it is `Truncated` with the bytes counted (even though the buffer
/// is drained as the bytes are discarded).
#[test]
fn skipped_4_gib_frame_is_discarded_in_small_steps_and_its_cut_reported() {
    let c = Codec::builder()
        .format("!Q".parse().unwrap())
        .oversize(Oversize::Skip)
        .build()
        .unwrap();
    run(async {
        let (client, server) = pair().await;
        let mut wire = (1u64 << 32).to_be_bytes().to_vec();
        wire.extend(std::iter::repeat(0x42).take(1 << 20));
        let read = async {
            let mut frames = FramedRead::new(server, FrameResultCodec::new(c));
            assert!(matches!(
                frames.next().await,
                Some(Ok(Err(Error::FrameTooLarge { len, .. }))) if len == 1 << 32
            ));
            match frames.next().await {
                Some(Err(Error::Truncated {
                    part: FramePart::Payload,
                    got,
                    expected,
                })) if got == 1 << 20 && expected == 1 << 32 => {}
                other => panic!("{other:?}"),
            }
            let cap = frames.read_buffer().capacity();
            assert!(cap <= 96 * 1024, "read buffer capacity {cap}");
            // Everything was discarded: the stream now ends.
            assert!(frames.next().await.is_none());
        };
        smol::future::zip(write_in_chunks(client, &wire, 9, 20_000), read).await;
    });
}

/// A header declaring the maximum (8 MiB), then 1000 bytes and the end:
/// the buffer grows with what arrived, not to 8 MiB, and the cut is
/// reported with both numbers.
#[test]
fn read_buffer_grows_with_data_not_with_the_declared_length() {
    run(async {
        let (client, server) = pair().await;
        let mut wire = (DEFAULT_MAX_FRAME_LEN as u32).to_be_bytes().to_vec();
        wire.extend_from_slice(&[1; 1000]);
        let read = async {
            let mut frames = FramedRead::new(server, FrameCodec::default());
            match frames.next().await {
                Some(Err(Error::Truncated {
                    part: FramePart::Payload,
                    got: 1000,
                    expected,
                })) if expected == DEFAULT_MAX_FRAME_LEN as u64 => {}
                other => panic!("{other:?}"),
            }
            // Steps of at most 64 KiB, each of which may double the
            // allocation: far from the 8 MiB declared.
            let cap = frames.read_buffer().capacity();
            assert!(cap <= 160 * 1024, "read buffer capacity {cap}");
        };
        smol::future::zip(write_in_chunks(client, &wire, 3, 100), read).await;
    });
}

#[test]
fn negative_length_in_a_signed_format() {
    for (fmt, header, value) in [
        ("!i", (-5i32).to_be_bytes().to_vec(), -5),
        ("b", vec![0x80], -128),
    ] {
        let c = Codec::new(fmt.parse().unwrap());
        run(async {
            let (mut client, server) = pair().await;
            let mut wire = Vec::new();
            c.encode_to_vec(b"fine", &mut wire).unwrap();
            wire.extend_from_slice(&header);
            wire.extend_from_slice(b"more bytes");
            client.write_all(&wire).await.unwrap();
            let mut frames = FramedRead::new(server, FrameResultCodec::new(c));
            assert_eq!(frames.try_next().await.unwrap().unwrap().unwrap(), "fine");
            match frames.try_next().await {
                Err(Error::NegativeLength { value: v }) if v == value => {}
                other => panic!("{fmt}: {other:?}"),
            }
        });
    }
}

/// A stream cut inside a header or a payload: the frames before it, then
/// `Truncated` with the part and both counts.
#[test]
fn truncated_stream_inside_header_and_payload() {
    let cases: [(&str, &[u8], FramePart, u64, u64); 4] = [
        ("!I", b"\0\0", FramePart::Header, 2, 4),
        ("!Q", b"\0\0\0\0\0", FramePart::Header, 5, 8),
        ("!I", b"\0\0\0\x09abc", FramePart::Payload, 3, 9),
        ("<H", b"\x10\0", FramePart::Payload, 0, 16),
    ];
    for (fmt, tail, part, got, expected) in cases {
        let c = Codec::new(fmt.parse().unwrap());
        let mut wire = Vec::new();
        c.encode_to_vec(b"first", &mut wire).unwrap();
        c.encode_to_vec(b"", &mut wire).unwrap();
        wire.extend_from_slice(tail);
        run(async {
            let (client, server) = pair().await;
            let read = async {
                let mut frames = FramedRead::new(server, FrameCodec::new(c));
                assert_eq!(frames.next().await.unwrap().unwrap(), "first");
                assert_eq!(frames.next().await.unwrap().unwrap(), "");
                let want = |r: &Option<Result<Bytes, Error>>| {
                    matches!(r, Some(Err(Error::Truncated { part: p, got: g, expected: e }))
                        if *p == part && *g == got && *e == expected)
                };
                let first = frames.next().await;
                assert!(want(&first), "{fmt} {tail:?}: {first:?}");
                // Polled again, the stream is over (asynchronous-codec
                // would ask `decode_eof` again; the codec ends it).
                let again = frames.next().await;
                assert!(again.is_none(), "{fmt} {tail:?} again: {again:?}");
            };
            smol::future::zip(write_in_chunks(client, &wire, 5, 3), read).await;
        });
    }
}

/// End of stream between frames is a clean end: `None`, and `None` again.
#[test]
fn clean_eof_between_frames_ends_the_stream() {
    run(async {
        let (mut client, server) = pair().await;
        let mut sink = FramedWrite::new(&mut client, FrameCodec::default());
        for msg in ["jason", "kevin", "toney"] {
            sink.send(msg.as_bytes()).await.unwrap();
        }
        client.close().await.unwrap();
        let mut frames = FramedRead::new(server, FrameCodec::default());
        for msg in ["jason", "kevin", "toney"] {
            assert_eq!(frames.next().await.unwrap().unwrap(), msg);
        }
        assert!(frames.next().await.is_none());
        assert!(frames.next().await.is_none());
        assert!(frames.decoder().decoder().is_at_boundary());
    });
}

/// Under `Oversize::Skip`, `FrameResultCodec` reports the oversize frame as
/// an item and goes on, as the blocking reader does.
#[test]
fn frame_result_codec_continues_past_a_skipped_frame() {
    let (c, wire) = wire_with_an_oversize_frame();
    let want = vec![
        Ok(b"alpha".to_vec()),
        Err("frame of 300 bytes exceeds the maximum of 8 bytes".to_string()),
        Ok(b"beta".to_vec()),
        Ok(b"gamma".to_vec()),
    ];
    assert_eq!(
        blocking_items(c, &wire),
        want,
        "the blocking reader's rules"
    );
    run(async {
        let (client, server) = pair().await;
        let read = async {
            let mut frames = FramedRead::new(server, FrameResultCodec::new(c));
            assert_eq!(frames.try_next().await.unwrap().unwrap().unwrap(), "alpha");
            assert!(matches!(
                frames.try_next().await,
                Ok(Some(Err(Error::FrameTooLarge { len: 300, max: 8 })))
            ));
            assert_eq!(frames.try_next().await.unwrap().unwrap().unwrap(), "beta");
            assert_eq!(frames.try_next().await.unwrap().unwrap().unwrap(), "gamma");
            assert!(frames.try_next().await.unwrap().is_none());
        };
        smol::future::zip(write_in_chunks(client, &wire, 11, 7), read).await;
    });
}

/// Unlike tokio-util, asynchronous-codec does not end the stream at a
/// decoder error, so a plain `FrameCodec` goes on past the skip report too.
#[test]
fn frame_codec_goes_on_after_a_skip_report() {
    let (c, wire) = wire_with_an_oversize_frame();
    run(async {
        let (client, server) = pair().await;
        let read = async {
            let mut frames = FramedRead::new(server, FrameCodec::new(c));
            assert_eq!(frames.next().await.unwrap().unwrap(), "alpha");
            assert!(matches!(
                frames.next().await,
                Some(Err(Error::FrameTooLarge { len: 300, max: 8 }))
            ));
            assert_eq!(frames.next().await.unwrap().unwrap(), "beta");
            assert_eq!(frames.next().await.unwrap().unwrap(), "gamma");
            assert!(frames.next().await.is_none());
        };
        smol::future::zip(write_in_chunks(client, &wire, 13, 16), read).await;
    });
}

/// asynchronous-codec's `Encoder` has one item type, `&[u8]`: what the
/// docs say reaches it from each payload type compiles and sends the
/// payload byte for byte, with `FrameCodec` and `FrameResultCodec`.
#[test]
fn the_sink_takes_byte_slices_and_what_coerces_to_them() {
    let c = Codec::new("<H".parse().unwrap());
    let string = String::from("kevin");
    let vec = vec![0u8, 1, 255];
    let bytes = Bytes::from_static(b"shared");
    let sent: Vec<Vec<u8>> = [&b"jason"[..], b"kevin", b"toney", &vec, b"shared", b"abc"]
        .iter()
        .map(|p| p.to_vec())
        .collect();
    run(async {
        let mut sink = FramedWrite::new(Vec::new(), FrameCodec::new(c));
        sink.send("jason".as_bytes()).await.unwrap(); // &str
        sink.send(string.as_bytes()).await.unwrap(); // String
        sink.send(b"toney").await.unwrap(); // &[u8; 5] coerces
        sink.send(&vec).await.unwrap(); // &Vec<u8> coerces
        sink.send(&bytes).await.unwrap(); // &Bytes coerces
        sink.send(&vec![b'a', b'b', b'c'][..]).await.unwrap(); // &[u8]
        sink.close().await.unwrap(); // one item type: no annotation needed
        assert_eq!(sink.into_inner(), encode_all(&c, &sent));

        let mut sink = FramedWrite::new(Vec::new(), FrameResultCodec::new(c));
        sink.send("jason".as_bytes()).await.unwrap();
        sink.send(&bytes).await.unwrap();
        assert_eq!(
            sink.into_inner(),
            encode_all(&c, &[b"jason".to_vec(), b"shared".to_vec()])
        );
    });
}

/// A payload the header cannot express is a typed encode error that
/// writes nothing: the next frame goes out intact.
#[test]
fn unencodable_frame_is_a_typed_error_and_writes_nothing() {
    let c = Codec::new("!B".parse().unwrap());
    run(async {
        let (mut client, server) = pair().await;
        let mut sink = FramedWrite::new(&mut client, FrameCodec::new(c));
        match sink.send(&[0u8; 300][..]).await {
            Err(Error::FrameTooLargeToSend { len: 300, max: 255 }) => {}
            other => panic!("{other:?}"),
        }
        sink.send(&b"next"[..]).await.unwrap();
        client.close().await.unwrap();
        assert_eq!(frames_of(server, c).await, [b"next".to_vec()]);
    });
}

/// A blocking peer: a std `TcpListener` thread echoing every frame with
/// `FrameReader`/`FrameWriter`; the futures-io client sends with `Framed`
/// and reads the echoes concurrently.
#[test]
fn futures_io_client_against_a_blocking_frame_reader_writer_thread() {
    let c = Codec::builder()
        .format("<i".parse().unwrap())
        .max_frame_len(2 << 20)
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || -> lenframe::Result<usize> {
        let (s, _) = listener.accept()?;
        s.set_read_timeout(Some(TIMEOUT))?;
        let mut writer = FrameWriter::with_codec(&s, c);
        let mut echoed = 0;
        for frame in FrameReader::with_codec(&s, c) {
            writer.write_frame(&frame?)?;
            writer.flush()?;
            echoed += 1;
        }
        Ok(echoed)
    });
    let mut frames: Vec<Vec<u8>> = (0..1000)
        .map(|i| vec![(i % 256) as u8; i * 7 % 900])
        .collect();
    frames.push(vec![0x5A; 2 << 20]);
    frames.push(Vec::new());
    let got = run(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sink, stream) = Framed::new(stream, FrameCodec::new(c)).split();
        let send = async {
            for f in &frames {
                sink.feed(&f[..]).await.unwrap();
            }
            sink.flush().await.unwrap();
        };
        let recv = stream
            .take(frames.len())
            .map(|f| f.unwrap().to_vec())
            .collect::<Vec<_>>();
        let ((), got) = smol::future::zip(send, recv).await;
        sink.close().await.unwrap();
        got
    });
    assert_same_frames(&got, &frames);
    assert_eq!(server.join().unwrap().unwrap(), frames.len());
}

/// The real blocking `echo_server` example (header `<H`), with one
/// `Framed` over a smol `TcpStream`: pipelined frames, then every echo.
#[test]
fn futures_io_client_against_the_blocking_echo_server_example() {
    let server = ExampleServer::start("echo_server", &["--header", "<H"]);
    let c = Codec::new("<H".parse().unwrap());
    let frames: Vec<Vec<u8>> = (0..500)
        .map(|i| vec![i as u8; i * 131 % 1200])
        .chain([Vec::new(), vec![0xEE; 65_535]])
        .collect();
    run(async {
        let stream = TcpStream::connect(server.addr).await.unwrap();
        let mut framed = Framed::new(stream, FrameCodec::new(c));
        for f in &frames {
            framed.feed(&f[..]).await.unwrap();
        }
        SinkExt::<&[u8]>::flush(&mut framed).await.unwrap();
        for (i, f) in frames.iter().enumerate() {
            let echo = framed.next().await.unwrap().unwrap();
            assert!(echo == f[..], "echo {i} ({} bytes) differs", f.len());
        }
        framed.close().await.unwrap();
        assert!(framed.next().await.is_none(), "server closes after us");
    });
}

/// A loop that skips errors (as a server under `Oversize::Skip` might)
/// must not spin on a hostile peer that sends one bad header and stays
/// connected: the fatal error comes once, what follows is discarded, and
/// the stream ends when the peer closes, with both codecs.
#[test]
fn a_loop_that_skips_errors_gets_one_fatal_error_then_the_end() {
    let c = Codec::builder()
        .format("!i".parse().unwrap())
        .oversize(Oversize::Skip)
        .build()
        .unwrap();
    for result_codec in [false, true] {
        run(async {
            let (mut client, server) = pair().await;
            client.write_all(b"\xff\xff\xff\xff").await.unwrap(); // length -1
            let peer = async move {
                // Stays open a while, sends more, then closes.
                smol::Timer::after(Duration::from_millis(200)).await;
                client
                    .write_all(&encode_all(&c, &[b"late".to_vec()]))
                    .await
                    .unwrap();
                smol::Timer::after(Duration::from_millis(200)).await;
                drop(client);
            };
            let reader = async {
                let mut errors = Vec::new();
                let mut frames = 0;
                if result_codec {
                    let mut s = FramedRead::new(server, FrameResultCodec::new(c));
                    while let Some(item) = s.next().await {
                        match item {
                            Ok(_) => frames += 1,
                            Err(e) => errors.push(e),
                        }
                        assert!(errors.len() < 100, "spinning");
                    }
                } else {
                    let mut s = FramedRead::new(server, FrameCodec::new(c));
                    while let Some(item) = s.next().await {
                        match item {
                            Ok(_) => frames += 1,
                            Err(e) => errors.push(e),
                        }
                        assert!(errors.len() < 100, "spinning");
                    }
                }
                assert_eq!(frames, 0, "a frame after a fatal error");
                assert!(
                    matches!(errors[..], [Error::NegativeLength { value: -1 }]),
                    "{errors:?}"
                );
            };
            smol::future::zip(peer, reader).await;
        });
    }
}
