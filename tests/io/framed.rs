//! `Framed`: the duplex framed stream over real sockets and scripted
//! streams. The reference model (`tests/model/`) drives it through random
//! interleavings; these tests pin the behaviour users see first.
#![cfg(feature = "std")]

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use lenframe::{Codec, Error, Framed};

/// A `TcpStream` that counts the `write()` calls made on it.
struct Counting {
    stream: TcpStream,
    writes: Arc<AtomicUsize>,
}

impl Counting {
    fn new(stream: TcpStream) -> (Counting, Arc<AtomicUsize>) {
        // A hang fails the test instead of hanging it.
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let writes = Arc::new(AtomicUsize::new(0));
        let counter = writes.clone();
        (Counting { stream, writes }, counter)
    }
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.stream.write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.stream.write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// The acceptance test: request/reply over a real `TcpStream`, both
/// sides using only the batching call (`feed`), never `flush` or `send`,
/// cannot hang (a hang would end in the 20 s read timeout and fail); and
/// pipelined 16-byte frames go out in at most 0.02 `write()` calls each.
#[test]
fn request_reply_without_flush_cannot_hang_and_pipelined_frames_coalesce() {
    let (client, server) = pair();
    let (server, server_writes) = Counting::new(server);
    let echo = thread::spawn(move || -> lenframe::Result<usize> {
        let mut conn = Framed::new(server);
        let mut frames = 0;
        while let Some(frame) = conn.recv()? {
            conn.feed(&frame)?; // goes out before the server next reads
            frames += 1;
        }
        Ok(frames)
    });
    let (client, client_writes) = Counting::new(client);
    let mut conn = Framed::new(client);

    // Request/reply: one frame out, its answer back, 300 times.
    for i in 0..300u32 {
        let request = format!("request {i}");
        conn.feed(&request).unwrap();
        let reply = conn.recv().unwrap().expect("an echo, not the end");
        assert_eq!(reply, request.as_bytes());
    }

    // Pipelined: windows of 1000 frames of 16 bytes fed back to back, then
    // their echoes read (the first read flushes what is still buffered).
    let before = client_writes.load(Ordering::Relaxed);
    let server_before = server_writes.load(Ordering::Relaxed);
    let (windows, per_window) = (100, 1000);
    for w in 0..windows {
        for i in 0..per_window {
            let frame = [(w + i) as u8; 16];
            conn.feed(frame).unwrap();
        }
        for i in 0..per_window {
            let echo = conn.recv().unwrap().expect("an echo");
            assert_eq!(echo, [(w + i) as u8; 16][..]);
        }
    }
    let frames = (windows * per_window) as f64;
    let client_per_frame = (client_writes.load(Ordering::Relaxed) - before) as f64 / frames;
    let server_per_frame = (server_writes.load(Ordering::Relaxed) - server_before) as f64 / frames;
    eprintln!(
        "write() calls per 16 B frame: client {client_per_frame:.4}, server {server_per_frame:.4}"
    );
    assert!(
        client_per_frame <= 0.02,
        "client: {client_per_frame} write() calls per frame"
    );
    assert!(
        server_per_frame <= 0.02,
        "server: {server_per_frame} write() calls per frame"
    );

    drop(conn); // the server reads the end of the stream
    assert_eq!(echo.join().unwrap().unwrap(), 300 + windows * per_window);
}

/// Half-close: feed the last frames, `shutdown_write`, then read every
/// echo still in flight until the server closes too.
#[test]
fn half_close_after_the_last_frame_still_reads_every_reply() {
    let (client, server) = pair();
    let echo = thread::spawn(move || {
        let mut conn = Framed::new(server);
        while let Some(frame) = conn.recv().unwrap() {
            conn.feed(&frame).unwrap();
        }
        // Dropping flushes the last echoes and closes.
    });
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut conn = Framed::new(client);
    for i in 0..50u8 {
        conn.feed(vec![i; usize::from(i) * 100]).unwrap();
    }
    conn.shutdown_write().unwrap();
    let echoes: Vec<_> = conn.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(echoes.len(), 50);
    for (i, e) in echoes.iter().enumerate() {
        assert_eq!(e, &vec![i as u8; i * 100]);
    }
    assert!(conn.send("after shutdown").is_err());
    echo.join().unwrap();
}

/// A read timeout set on the socket passes through as a retryable error
/// that loses nothing: the frame completes on the next call.
#[test]
fn read_timeout_mid_frame_loses_nothing() {
    let (client, mut server) = pair();
    let mut conn = Framed::new(&client);
    conn.get_ref()
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    server.write_all(b"\0\0\0\x05he").unwrap();
    let err = conn.recv().unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(conn.read_buffer(), b"\0\0\0\x05he");
    server.write_all(b"llo").unwrap();
    conn.get_ref().set_read_timeout(None).unwrap();
    assert_eq!(conn.recv().unwrap().as_deref(), Some(&b"hello"[..]));
}

/// `&TcpStream` twice (no E0382/E0499): `split` gives a reader and a
/// writer that keep what the framed stream had buffered.
#[test]
fn split_keeps_buffered_bytes() {
    let (client, mut server) = pair();
    server.write_all(b"\0\0\0\x01a\0\0\0\x01b").unwrap();
    let mut conn = Framed::new(&client);
    assert_eq!(conn.recv().unwrap().as_deref(), Some(&b"a"[..]));
    conn.feed("fed before the split").unwrap();
    let (mut reader, mut writer) = conn.split();
    assert_eq!(reader.read_frame().unwrap().as_deref(), Some(&b"b"[..]));
    assert_eq!(writer.buffered(), b"\0\0\0\x14fed before the split");
    writer.flush().unwrap();
    let mut peer = Framed::new(&server);
    assert_eq!(
        peer.recv().unwrap().as_deref(),
        Some(&b"fed before the split"[..])
    );
}

/// `try_split` over an owned socket: two halves that can move to two
/// threads, with the buffered bytes of both sides kept.
#[test]
fn try_split_moves_to_two_threads() {
    let (client, mut server) = pair();
    server.write_all(b"\0\0\0\x01a\0\0\0\x01b").unwrap();
    let mut conn = Framed::new(client);
    assert_eq!(conn.recv().unwrap().as_deref(), Some(&b"a"[..]));
    conn.feed("one").unwrap();
    let (mut reader, mut writer) = conn.try_split().unwrap();
    let writing = thread::spawn(move || {
        writer.write_frame("two").unwrap();
        writer.flush().unwrap();
    });
    assert_eq!(reader.read_frame().unwrap().as_deref(), Some(&b"b"[..]));
    writing.join().unwrap();
    let mut peer = Framed::new(&server);
    assert_eq!(peer.recv().unwrap().as_deref(), Some(&b"one"[..]));
    assert_eq!(peer.recv().unwrap().as_deref(), Some(&b"two"[..]));
}

/// A scripted duplex stream: reads hand out `input`; writes follow `mode`.
struct Scripted {
    input: Vec<u8>,
    out: Vec<u8>,
    mode: WriteMode,
    reads: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum WriteMode {
    Accept,
    WouldBlock,
    Reset,
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input.drain(..n);
        Ok(n)
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.mode {
            WriteMode::Accept => {
                self.out.extend_from_slice(buf);
                Ok(buf.len())
            }
            WriteMode::WouldBlock => Err(io::ErrorKind::WouldBlock.into()),
            WriteMode::Reset => Err(io::ErrorKind::ConnectionReset.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn scripted(input: &[u8], mode: WriteMode) -> Framed<Scripted> {
    Framed::new(Scripted {
        input: input.to_vec(),
        out: Vec::new(),
        mode,
        reads: 0,
    })
}

/// On a nonblocking socket whose send buffer is full, the flush before a
/// read meets `WouldBlock`: the read still happens, and the frame stays
/// buffered until a later flush.
#[test]
fn would_block_while_flushing_does_not_stop_reads() {
    let mut conn = scripted(b"\0\0\0\x02hi", WriteMode::WouldBlock);
    conn.feed("queued").unwrap();
    assert_eq!(conn.recv().unwrap().as_deref(), Some(&b"hi"[..]));
    assert_eq!(conn.write_buffer(), b"\0\0\0\x06queued");
    let err = conn.flush().unwrap_err();
    assert!(err.is_retryable(), "{err}");
    conn.get_mut().mode = WriteMode::Accept;
    conn.flush().unwrap();
    assert_eq!(conn.get_ref().out, b"\0\0\0\x06queued");
    assert!(conn.write_buffer().is_empty());
}

/// A hard error while flushing before a read is returned by that read,
/// once; then frames are refused (the stream may hold part of one) and
/// reading goes on.
#[test]
fn hard_error_while_flushing_is_reported_once_then_reads_go_on() {
    let mut conn = scripted(b"\0\0\0\x02hi", WriteMode::Reset);
    conn.feed("lost").unwrap();
    let err = conn.recv().unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == io::ErrorKind::ConnectionReset),
        "{err}"
    );
    assert_eq!(conn.get_ref().reads, 0, "nothing read yet");
    assert_eq!(conn.recv().unwrap().as_deref(), Some(&b"hi"[..]));
    assert!(matches!(conn.feed("x"), Err(Error::WriterPoisoned)));
    assert!(matches!(conn.send("x"), Err(Error::WriterPoisoned)));
    assert_eq!(conn.recv().unwrap(), None);
}

/// Frames already buffered are returned without reading (or flushing):
/// answers fed meanwhile go out in one batch at the next read.
#[test]
fn buffered_frames_are_returned_without_touching_the_stream() {
    let mut conn = scripted(b"\0\0\0\x01a\0\0\0\x01b\0\0\0\x01c", WriteMode::Accept);
    let mut seen = Vec::new();
    while let Some(frame) = conn.recv().unwrap() {
        assert!(conn.get_ref().out.is_empty() || seen.len() == 3);
        conn.feed(&frame).unwrap();
        seen.push(frame);
    }
    assert_eq!(seen, ["a", "b", "c"]);
    // One read brought all three frames; the end-of-stream read flushed
    // the three answers together.
    assert_eq!(conn.get_ref().reads, 2);
    assert_eq!(conn.get_ref().out, b"\0\0\0\x01a\0\0\0\x01b\0\0\0\x01c");
}

/// `&str`, `String`, `Vec<u8>`, arrays and `Bytes` are all payloads; the
/// codec applies to both directions; the iterator yields the frames.
#[test]
fn payload_types_codec_and_iterator() {
    let codec = Codec::new("<H".parse().unwrap());
    let mut conn = codec.new_framed(Scripted {
        input: b"\x01\0x\x02\0yz".to_vec(),
        out: Vec::new(),
        mode: WriteMode::Accept,
        reads: 0,
    });
    conn.feed("str").unwrap();
    conn.feed(String::from("string")).unwrap();
    conn.feed(vec![1u8, 2]).unwrap();
    conn.feed([3u8]).unwrap();
    conn.send(lenframe::bytes::Bytes::from_static(b"bytes"))
        .unwrap();
    assert_eq!(
        conn.get_ref().out,
        b"\x03\0str\x06\0string\x02\0\x01\x02\x01\0\x03\x05\0bytes"
    );
    let frames: Vec<_> = conn.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(frames, ["x", "yz"]);
    let stream = conn.into_inner().unwrap();
    assert!(stream.input.is_empty());
}

/// A peer that closes its reading side: our writes fail hard, reading the
/// frames it sent before still works.
#[test]
fn peer_that_stops_reading_does_not_hide_its_last_frames() {
    let (client, server) = pair();
    let mut peer = Framed::new(&server);
    peer.send("last words").unwrap();
    server.shutdown(Shutdown::Both).unwrap();
    let mut conn = Framed::new(client);
    assert_eq!(conn.recv().unwrap().as_deref(), Some(&b"last words"[..]));
    assert_eq!(conn.recv().unwrap(), None);
}

/// The tutorials' client sends `struct.pack('i', 256)` (little-endian) and
/// 256 bytes to a default (`!I`) reader, which reads a length of 65 536 and
/// waits. The read timeout's error keeps its kind (retryable) and says why.
#[test]
fn a_stall_the_other_byte_order_explains_says_so() {
    let mut wire = 256u32.to_le_bytes().to_vec();
    wire.extend_from_slice(&[b'x'; 256]);
    let msg = stall_message(&wire);
    eprintln!("{msg}");
    assert!(msg.contains("256 of 65536"), "{msg}");
    assert!(msg.contains("little-endian"), "{msg}");
    // Frames that are merely slow get no hint, even when their length read
    // the other way is small (65 536 reads as 256: 1000 bytes arrived, but
    // they do not end where such frames would).
    let mut wire = 65_536u32.to_be_bytes().to_vec();
    wire.extend_from_slice(&[b'y'; 1000]);
    let msg = stall_message(&wire);
    assert!(!msg.contains("endian"), "{msg}");
    let msg = stall_message(b"\0\0\x01\0partial");
    assert!(!msg.contains("byte order"), "{msg}");
    assert!(!msg.contains("endian"), "{msg}");
}

/// The message of the (retryable) error a `Framed` reading `wire` returns
/// when its 100 ms read timeout passes.
fn stall_message(wire: &[u8]) -> String {
    let (client, mut server) = pair();
    server.write_all(wire).unwrap();
    let mut conn = Framed::new(&client);
    conn.get_ref()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let err = conn.recv().unwrap_err();
    assert!(err.is_retryable(), "{err}");
    err.to_string()
}

/// The iterator too: a write error met while flushing is an item, and the
/// frames that follow are still read.
#[test]
fn iterator_goes_on_after_a_write_error() {
    let mut conn = scripted(b"\0\0\0\x01a\0\0\0\x01b", WriteMode::Reset);
    conn.feed("lost").unwrap();
    let items: Vec<_> = conn.by_ref().collect();
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(matches!(&items[0], Err(Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset));
    assert_eq!(items[1].as_ref().unwrap(), "a");
    assert_eq!(items[2].as_ref().unwrap(), "b");
    assert!(conn.next().is_none());
}

/// Unix sockets half-close and split as TCP sockets do.
#[cfg(unix)]
#[test]
fn unix_socket_half_closes_and_splits() {
    use std::os::unix::net::UnixStream;
    let (a, b) = UnixStream::pair().unwrap();
    let mut ours = Framed::new(a);
    let mut peer = Framed::new(b);
    ours.feed("last").unwrap();
    ours.shutdown_write().unwrap();
    assert_eq!(peer.recv().unwrap().as_deref(), Some(&b"last"[..]));
    assert_eq!(
        peer.recv().unwrap(),
        None,
        "end of stream after the half-close"
    );
    // The other direction still works; then split the peer's side.
    peer.send("reply").unwrap();
    assert_eq!(ours.recv().unwrap().as_deref(), Some(&b"reply"[..]));
    let (mut reader, mut writer) = peer.try_split().unwrap();
    writer.write_frame("from the split writer").unwrap();
    writer.flush().unwrap();
    assert_eq!(
        ours.recv().unwrap().as_deref(),
        Some(&b"from the split writer"[..])
    );
    drop(ours);
    assert_eq!(reader.read_frame().unwrap(), None);
}
