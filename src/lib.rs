//! Length-prefixed framing that ends TCP "sticky packets" (粘包): every
//! message is sent as a fixed-size length header followed by the payload,
//! and read back exactly, whatever the stream does to message boundaries.
//!
//! A TCP stream has no message boundaries: `recv(1024)` may return two
//! messages stuck together, or half of one. The cure taught in socket
//! tutorials is Python's `struct.pack('i', len(data)) + data` on one side
//! and "read 4 bytes, then exactly that many" on the other. lenframe is that
//! cure done right: correct under every partial read, bounded in memory
//! against hostile peers, fast, and byte-compatible with Python `struct`,
//! tokio-util's `LengthDelimitedCodec`, Erlang `{packet,4}` and Twisted.
//!
//! [`Framed`] is one framed, duplex connection: [`send`](Framed::send) a
//! frame, [`recv`](Framed::recv) the next one. **Frames you
//! [`feed`](Framed::feed) are written out before `Framed` reads from the
//! socket, so request/reply code cannot hang on a forgotten flush, and
//! frames fed back to back still go out together, in as few `write()`
//! calls as the buffer allows.**
//!
//! # Quick start: a TCP server and a client
//!
//! A server that echoes every frame, with a thread per connection, and a
//! client that talks to it, in one program:
//!
//! ```
//! # #[cfg(feature = "std")]
//! use std::net::{TcpListener, TcpStream};
//! # #[cfg(feature = "std")]
//! use std::thread;
//! # #[cfg(feature = "std")]
//! use std::time::Duration;
//!
//! # #[cfg(feature = "std")]
//! use lenframe::Framed;
//!
//! /// Echoes every frame of one connection until the peer closes it.
//! # #[cfg(feature = "std")]
//! fn echo(conn: TcpStream) -> lenframe::Result<()> {
//!     let mut framed = Framed::new(conn); // header "!I", frames up to 8 MiB
//!     while let Some(frame) = framed.recv()? {
//!         // `feed` only buffers: the echoes of frames that arrived together
//!         // go out in one write(), before `recv` waits for more.
//!         framed.feed(frame)?;
//!     }
//!     Ok(()) // the peer closed between two frames
//! }
//!
//! /// Accepts connections forever; an error ends its own connection only.
//! # #[cfg(feature = "std")]
//! fn serve(listener: TcpListener) {
//!     loop {
//!         let (conn, peer) = match listener.accept() {
//!             Ok(accepted) => accepted,
//!             Err(err) => {
//!                 eprintln!("accept: {err}"); // e.g. out of file descriptors
//!                 thread::sleep(Duration::from_millis(100));
//!                 continue;
//!             }
//!         };
//!         thread::spawn(move || {
//!             if let Err(err) = echo(conn) {
//!                 // e.g. "127.0.0.1:53122: frame of 83886080 bytes exceeds ..."
//!                 eprintln!("{peer}: {err}");
//!             }
//!         });
//!     }
//! }
//!
//! # #[cfg(feature = "std")]
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Port 0 lets the system pick a free port; a real server binds a fixed
//!     // one, such as "127.0.0.1:9000".
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     thread::spawn(move || serve(listener));
//!
//!     let mut client = Framed::new(TcpStream::connect(addr)?);
//!
//!     // Request, reply: `send` writes the frame now, like Python's sendall.
//!     client.send("jason")?;
//!     let reply = client.recv()?.ok_or("server closed")?; // exactly one frame
//!     assert_eq!(reply, "jason");
//!
//!     // Batched: `feed` buffers, and `recv` writes both frames out before it
//!     // waits for the first echo. No `flush` anywhere, and no deadlock.
//!     client.feed("kevin")?;
//!     client.feed("toney")?;
//!     assert_eq!(client.recv()?.ok_or("server closed")?, "kevin");
//!     assert_eq!(client.recv()?.ok_or("server closed")?, "toney");
//!
//!     // Half-close: no more requests. The server sees the end of the stream,
//!     // finishes, and closes its side; `recv` then says `None` (a clean end).
//!     client.shutdown_write()?;
//!     assert!(client.recv()?.is_none());
//!     Ok(())
//! }
//! # #[cfg(not(feature = "std"))]
//! # fn main() {}
//! ```
//!
//! [`recv`](Framed::recv) returns `Ok(None)` when the peer closed between
//! frames (Python's `recv` returning `b''`), [`Error::Truncated`] when it
//! closed in the middle of one, and typed errors for headers that cannot be
//! right ([`Error::FrameTooLarge`], [`Error::NegativeLength`]). `Framed` is
//! also an `Iterator` of frames; [`Framed::with_codec`] and
//! [`Codec::new_framed`] take another header format.
//!
//! # One socket, two threads
//!
//! A reader thread and a writer thread on one `TcpStream` is the other common
//! shape: a chat client, or a sender that may write more than the socket
//! buffers hold before it reads (one thread doing both can then block in
//! `write` while the peer blocks writing back). Moving the stream into a
//! [`FrameReader`] and then into a [`FrameWriter`] does not compile (E0382,
//! use of a moved value), nor does `&mut stream` twice (E0499). Borrow it
//! twice instead: std implements `Read` and `Write` for `&TcpStream`, so
//! `FrameReader::new(&stream)` and `FrameWriter::new(&stream)` share it, and
//! the shared borrow can cross into a scoped thread. [`Framed::split`] does
//! the same for a `Framed<&TcpStream>`; [`Framed::try_split`] gives owned
//! halves of a `Framed<TcpStream>` (with `TcpStream::try_clone`) for
//! `thread::spawn`. A `FrameWriter`, unlike `Framed`, writes only when its
//! buffer fills or on [`flush`](FrameWriter::flush).
//!
//! ```
//! # #[cfg(feature = "std")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::net::{Shutdown, TcpListener, TcpStream};
//! use std::thread;
//!
//! use lenframe::{FrameReader, FrameWriter, Framed};
//!
//! # let listener = TcpListener::bind("127.0.0.1:0")?;
//! # let addr = listener.local_addr()?;
//! # thread::spawn(move || {
//! #     for conn in listener.incoming().take(2).flatten() {
//! #         thread::spawn(move || -> lenframe::Result<()> {
//! #             let mut framed = Framed::new(conn);
//! #             while let Some(frame) = framed.recv()? {
//! #                 framed.feed(frame)?;
//! #             }
//! #             Ok(())
//! #         });
//! #     }
//! # });
//! // `addr` is an echo server's address, such as the quick start's.
//! let stream = TcpStream::connect(addr)?;
//! let mut reader = FrameReader::new(&stream);
//! let mut writer = FrameWriter::new(&stream);
//! thread::scope(|scope| -> lenframe::Result<()> {
//!     let sender = scope.spawn(move || -> lenframe::Result<()> {
//!         for i in 0..10_000 {
//!             writer.write_frame(format!("request {i}"))?;
//!         }
//!         writer.flush()?;
//!         writer.get_ref().shutdown(Shutdown::Write)?; // "no more requests"
//!         Ok(())
//!     });
//!     // This thread reads the echoes while the other one is still writing,
//!     // so neither side's socket buffer can fill up and stall.
//!     let mut echoed = 0;
//!     while let Some(frame) = reader.read_frame()? {
//!         assert_eq!(frame, format!("request {echoed}"));
//!         echoed += 1;
//!     }
//!     assert_eq!(echoed, 10_000);
//!     sender.join().expect("sender thread panicked")
//! })?;
//!
//! // The same from a `Framed` over `&TcpStream`.
//! let stream = TcpStream::connect(addr)?;
//! let (reader, mut writer) = Framed::new(&stream).split();
//! thread::scope(|scope| -> lenframe::Result<()> {
//!     let sender = scope.spawn(move || -> lenframe::Result<()> {
//!         for msg in ["jason", "kevin", "toney"] {
//!             writer.write_frame(msg)?;
//!         }
//!         writer.flush()?;
//!         writer.get_ref().shutdown(Shutdown::Write)?;
//!         Ok(())
//!     });
//!     let echoes = reader.collect::<Result<Vec<_>, _>>()?;
//!     assert_eq!(echoes, ["jason", "kevin", "toney"]);
//!     sender.join().expect("sender thread panicked")
//! })?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "std"))]
//! # fn main() {}
//! ```
//!
//! # Coming from Python `struct`
//!
//! | Python | lenframe |
//! |---|---|
//! | `struct.pack('i', len(data)) + data` | the format `"i"`: `"i".parse::<Codec>()?` or `Codec::from_format("i")?`, then [`Codec::new_framed`] (`--header i` in the examples) |
//! | `struct.pack('!I', len(data)) + data` | the default: [`Framed::new`] |
//! | `sock.sendall(header + data)` | [`Framed::send`] (or [`Framed::feed`] several) |
//! | `recv_exact(sock, 4)`, `struct.unpack`, `recv_exact(sock, n)` | [`Framed::recv`] |
//!
//! `!I` is big-endian (network order), `i` native (little-endian on x86 and
//! ARM as usually run) and signed: the same length is different bytes, so
//! both peers must use one format. `sock.recv(n)` returns *up to* `n` bytes,
//! so the tutorials' "receive the header, then `length` bytes" breaks when a
//! header or payload arrives in pieces; lenframe loops like `recv_exact`
//! and `sendall`. A negative length (possible with `i`) is refused with
//! [`Error::NegativeLength`]. When a header is rejected, or the stream stalls
//! or ends inside a frame, and the bytes read in the other byte order (or as
//! text, such as `GET `) explain it, the error message says so.
//!
//! # Any `Read` and `Write`
//!
//! The adapters work over any `std::io` stream, a `Vec` included:
//!
//! ```
//! # #[cfg(feature = "std")]
//! # fn main() -> Result<(), lenframe::Error> {
//! use lenframe::{FrameReader, FrameWriter};
//!
//! // Sender: any `Write` (a TcpStream in real life).
//! let mut writer = FrameWriter::new(Vec::new());
//! for msg in ["jason", "kevin", "toney"] {
//!     writer.write_frame(msg)?;
//! }
//! let wire = writer.into_inner()?; // flushes
//!
//! // Receiver: any `Read`. The three messages stay three, however the
//! // stream chops or merges them.
//! let reader = FrameReader::new(&wire[..]);
//! let msgs = reader.collect::<Result<Vec<_>, _>>()?;
//! assert_eq!(msgs, ["jason", "kevin", "toney"]);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "std"))]
//! # fn main() {}
//! ```
//!
//! # Wire format
//!
//! With the default header `!I` (big-endian `u32`), the messages `"hello"`
//! and `""` are these bytes:
//!
//! ```text
//! +----+----+----+----+----+----+----+----+----+----+----+----+----+
//! | 00 | 00 | 00 | 05 | h  | e  | l  | l  | o  | 00 | 00 | 00 | 00 |
//! +----+----+----+----+----+----+----+----+----+----+----+----+----+
//! |   length = 5      |      payload           |   length = 0      |
//! ```
//!
//! The header is any one-integer Python `struct` format (see
//! [`HeaderFormat`]):
//!
//! | prefix | byte order | sizes |
//! |---|---|---|
//! | `@` or none | native | native (`l`/`L` = C `long`) |
//! | `=` | native | standard |
//! | `<` | little-endian | standard |
//! | `>` / `!` | big-endian (network) | standard |
//!
//! | char | `b` `B` | `h` `H` | `i` `I` | `l` `L` | `q` `Q` |
//! |---|---|---|---|---|---|
//! | standard size | 1 | 2 | 4 | 4 | 8 |
//! | signed | `b` yes, `B` no | `h` / `H` | `i` / `I` | `l` / `L` | `q` / `Q` |
//!
//! A [`Codec`] adds the limits and options of tokio-util and Netty: a
//! maximum payload length ([`DEFAULT_MAX_FRAME_LEN`] = 8 MiB), a length
//! adjustment, a length-field offset, bytes to strip, and what to do with
//! oversize frames ([`Oversize`]).
//!
//! # Layers
//!
//! ```text
//!   HeaderFormat  ("!I".parse())         the integer on the wire
//!        |
//!   Codec / CodecBuilder                  validated configuration, encoding
//!        |
//!   FrameDecoder  (sans-IO)               bytes in -> frames out, no I/O
//!        |
//!   FrameReader<R: Read> / FrameWriter<W: Write>   blocking adapters
//!   Framed<S: Read + Write>           both over one stream (feature std)
//!   FrameCodec / FrameResultCodec     async codecs (features tokio, futures-io)
//! ```
//!
//! The decoder does no I/O: you hand it bytes, it hands back frames (as
//! zero-copy [`bytes::Bytes`] or borrowed slices) and says how many more
//! bytes it needs. Every adapter drives this one state machine.
//!
//! # Frames larger than memory
//!
//! [`FrameReader::read_frame_stream`] returns the next frame as a bounded
//! [`std::io::Read`] ([`PayloadReader`], the same bytes `read_frame` would
//! return) with its own size limit, and
//! [`FrameWriter::write_frame_from`] writes a frame of known length from any
//! `Read`: a multi-GB frame passes through a few KiB of memory (a 1 GiB
//! frame streamed through a socket pair peaks at about 165 KB of heap).
//!
//! # Features
//!
//! | feature | default | what it adds | needs |
//! |---|---|---|---|
//! | `std` | yes | [`Framed`], [`FrameReader`], [`FrameWriter`], streamed frames, `Error::Io`, `From<Error> for io::Error` | `std`, `alloc` |
//! | `alloc` | with `std` | the `BytesMut`/`Bytes` and `Vec` faces ([`FrameDecoder::decode`], [`Codec::encode`]), `lenframe::bytes` | an allocator |
//! | `tokio` | no | [`FrameCodec`], [`FrameResultCodec`] for tokio-util | `std`, tokio-util 0.7 (0.7.19 builds on Rust 1.81, checked by CI; 0.7.20 needs 1.85) |
//! | `futures-io` | no | the same [`FrameCodec`], [`FrameResultCodec`] for asynchronous-codec 0.7 (smol, async-std, libp2p) | `std`, asynchronous-codec 0.7 (builds on Rust 1.81, checked by CI) |
//!
//! A local `cargo doc --open` documents the default features only, and
//! leaves [`FrameCodec`] out: `cargo doc --all-features --open` shows
//! every item, as docs.rs does.
//!
//! With `default-features = false` the core needs neither `std` nor an
//! allocator: [`HeaderFormat`], [`Codec`] and its builder, header encoding
//! into a stack buffer ([`Codec::header`]), and the decoder's borrowed-slice
//! face ([`FrameDecoder::decode_slice`], [`FrameDecoder::frames`]) and
//! streaming face. [`Error`] is the same type everywhere; it carries no
//! heap data, and only its I/O variant needs `std`.
//!
//! # Without `std`: a serial port and a stack buffer
//!
//! A length header read by Python `struct` on the host is as common over a
//! UART as over TCP. On a microcontroller (`lenframe = { version = "0.2",
//! default-features = false }`), frame into a fixed-size buffer: it needs to
//! hold one header plus [`Codec::max_frame_len`] bytes; a longer frame is
//! [`Error::FrameTooLarge`] (or skipped as it arrives, under
//! [`Oversize::Skip`]), never a buffer overrun.
//!
//! ```
//! use lenframe::{Codec, Error, FrameDecoder};
//!
//! /// A stand-in for a UART driver: copies what "arrived" into `buf`, a few
//! /// bytes at a time, as a serial port does. Returns 0 when nothing is left.
//! fn uart_read(rx: &mut &[u8], buf: &mut [u8]) -> usize {
//!     let n = rx.len().min(buf.len()).min(3);
//!     buf[..n].copy_from_slice(&rx[..n]);
//!     *rx = &rx[n..];
//!     n
//! }
//!
//! // The host sends struct.pack('<H', len(data)) + data; frames of at most
//! // 60 bytes, so a 64-byte buffer on the stack holds any header + frame.
//! let codec = Codec::builder().format("<H".parse()?).max_frame_len(60).build()?;
//! let mut decoder = FrameDecoder::new(codec);
//! let mut buf = [0u8; 64];
//! let mut filled = 0;
//!
//! let mut rx: &[u8] = b"\x04\x00ping\x05\x00hello\x00\x00";
//! let expected: [&[u8]; 3] = [b"ping", b"hello", b""];
//! let mut seen = 0;
//! loop {
//!     let n = uart_read(&mut rx, &mut buf[filled..]);
//!     if n == 0 {
//!         decoder.end_of_stream(&buf[..filled])?; // a cut frame is Error::Truncated
//!         break;
//!     }
//!     filled += n;
//!     // Take every complete frame, then move the rest to the front.
//!     let mut frames = decoder.frames(&buf[..filled]);
//!     for frame in &mut frames {
//!         assert_eq!(frame?, expected[seen]);
//!         seen += 1;
//!     }
//!     let consumed = frames.consumed();
//!     buf.copy_within(consumed..filled, 0);
//!     filled -= consumed;
//! }
//! assert_eq!(seen, 3);
//!
//! // Sending: encode into a fixed transmit buffer, then hand it to the UART
//! // (or write `codec.header(len)?` and then the payload, with no copy).
//! let mut tx = [0u8; 64];
//! let n = codec.encode_to_slice(b"pong", &mut tx)?;
//! assert_eq!(&tx[..n], b"\x04\x00pong");
//! # Ok::<(), Error>(())
//! ```
//!
//! # Minimum supported Rust version
//!
//! Rust 1.81 for the default features and for `no_std` (1.81 brings
//! `core::error::Error`). The MSRV is at least 12 months old, and raising
//! it is a minor-version change, never a patch release. Optional features
//! need what their dependency needs (see the table above). Our dependency
//! ranges admit releases that build on 1.81, and cargo's MSRV-aware
//! resolver (Rust 1.84 and newer, on by default with `resolver = "3"` or
//! edition 2024) picks them for a project that declares its
//! `rust-version`. On an older cargo, let a newer one write the lockfile:
//! `cargo +stable generate-lockfile --config
//! 'resolver.incompatible-rust-versions="fallback"'`. CI checks exactly
//! that: the packaged crate on Rust 1.81 with such a lockfile, with and
//! without `std`, with `tokio` and with `futures-io`, and runs the unit
//! tests there. The repository's full test suite (its dev-dependencies)
//! needs a recent stable Rust.
//!
//! # Feature `tokio`
//!
//! Off by default. Adds [`FrameCodec`] and [`FrameResultCodec`] (shown only
//! when this feature or `futures-io` is on): `tokio_util::codec::Decoder` +
//! `Encoder`s that drive the same [`FrameDecoder`], so
//! `FramedRead`/`FramedWrite`/`Framed` over a tokio `TcpStream` follow the
//! blocking adapters' rules, limits and errors, and grow their buffer
//! lazily.
//!
//! One difference comes from tokio-util, which ends a framed stream after
//! any error the decoder returns: under [`Oversize::Skip`], a `FrameCodec`
//! stream yields the [`Error::FrameTooLarge`] report and then ends, so the
//! frames after the skipped one are never seen. [`FrameResultCodec`] yields
//! that report as an item instead (`Ok(Err(..))`) and goes on, exactly as a
//! [`FrameReader`] does; `.and_then(|item| item)` (`Result::flatten` from
//! Rust 1.89) gives the blocking reader's sequence. Every other error stays
//! fatal with both codecs.
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), lenframe::Error> {
//! use futures_util::StreamExt;
//! use lenframe::{Codec, Error, FrameResultCodec, Oversize};
//! use tokio_util::codec::FramedRead;
//!
//! let codec = Codec::builder().max_frame_len(4).oversize(Oversize::Skip).build()?;
//! // Frames "a", one of 6 bytes (over the max), "b". A TcpStream in real life.
//! let wire: &[u8] = b"\0\0\0\x01a\0\0\0\x06abcdef\0\0\0\x01b";
//! let mut frames = FramedRead::new(wire, FrameResultCodec::new(codec)).map(|item| item.and_then(|frame| frame));
//! assert_eq!(frames.next().await.unwrap()?, "a");
//! let err = frames.next().await.unwrap().unwrap_err();
//! assert!(matches!(err, Error::FrameTooLarge { len: 6, max: 4 }));
//! assert_eq!(frames.next().await.unwrap()?, "b"); // goes on
//! assert!(frames.next().await.is_none());
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```
//!
//! # Feature `futures-io`
//!
//! Off by default. Implements asynchronous-codec 0.7's `Decoder` and
//! `Encoder` for the same [`FrameCodec`] and [`FrameResultCodec`], so
//! `asynchronous_codec::Framed` (and `FramedRead`/`FramedWrite`) over any
//! futures-io `AsyncRead + AsyncWrite` (a smol, async-std or async-net
//! `TcpStream`, a libp2p substream) follows the same rules, limits and
//! errors. Frames come out as [`bytes::Bytes`]; the sink takes `&[u8]`
//! (asynchronous-codec's `Encoder` has one item type): `&[u8; N]`,
//! `&Vec<u8>` and `&Bytes` coerce to it, a `&str` is sent as
//! `text.as_bytes()`. tokio-util's sink takes every `AsRef<[u8]>`.
//! The feature builds with this crate's minimum Rust, 1.81
//! (asynchronous-codec's `Encoder` uses generic associated types, Rust
//! 1.65 and later).
//!
//! asynchronous-codec, unlike tokio-util, does not end a stream after an
//! error: a skipped oversize frame ([`Oversize::Skip`]) is followed by the
//! next frame with either codec. A fatal decode error (a bad header, a
//! stream cut inside a frame) comes once: polled again, the stream yields
//! nothing more (the codec discards what arrives) and ends when the peer
//! closes; drop the stream to close at once. With [`FrameResultCodec`]
//! every `Err` of the stream is fatal and skip reports are items, so
//! `try_next()` stops exactly where a [`FrameReader`] does.
//!
//! ```
//! # #[cfg(feature = "futures-io")]
//! # smol::block_on(async {
//! use asynchronous_codec::{FramedRead, FramedWrite};
//! use futures_util::{SinkExt, TryStreamExt};
//! use lenframe::{Codec, FrameCodec};
//!
//! let codec = Codec::new("<H".parse()?);
//! // Any futures-io AsyncWrite / AsyncRead: a smol TcpStream in real life.
//! let mut sink = FramedWrite::new(Vec::new(), FrameCodec::new(codec));
//! for msg in ["jason", "kevin", "toney"] {
//!     sink.send(msg.as_bytes()).await?;
//! }
//! let wire = sink.into_inner();
//! let frames: Vec<_> = FramedRead::new(&wire[..], FrameCodec::new(codec)).try_collect().await?;
//! assert_eq!(frames, ["jason", "kevin", "toney"]);
//! # Ok::<(), lenframe::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Limits and errors
//!
//! * A header over [`Codec::max_frame_len`] is [`Error::FrameTooLarge`];
//!   with [`Oversize::Skip`] it is reported once and its bytes are
//!   discarded as they arrive. A negative length (signed formats) is
//!   [`Error::NegativeLength`], always fatal.
//! * Memory grows with bytes received, never with what a header claims: a
//!   header announcing 8 MiB followed by 10 bytes costs a [`FrameReader`]
//!   at most 64 KiB.
//! * End of stream between frames is a clean end; inside a frame it is
//!   [`Error::Truncated`] with the bytes received and expected.
//! * `WouldBlock` and `TimedOut` lose nothing: call again and the reader or
//!   writer resumes where it stopped.
//! * Nothing panics on bad input. [`Error`] converts into [`std::io::Error`].
//!
//! # Compatibility
//!
//! | peer | lenframe header |
//! |---|---|
//! | Python `struct.pack('!I', n)` | `!I` (default) |
//! | Python `struct.pack('i', n)` (the tutorials) | `i` |
//! | tokio-util `LengthDelimitedCodec` default | `!I` (default) |
//! | Erlang `{packet,1}`, `{packet,2}`, `{packet,4}` | `!B`, `!H`, `!I` |
//! | Twisted `Int32StringReceiver` / `Int16StringReceiver` | `!I` / `!H` |
//! | Netty `LengthFieldBasedFrameDecoder(max, 0, 4, 0, 4)` | `!I` |
//!
//! tokio-util's and Netty's `length_adjustment` differ from
//! [`CodecBuilder::length_adjustment`]; the [`CodecBuilder`] docs give the
//! equivalent settings for every combination of offset, strip count and
//! adjustment.
// Without either async feature the codec types do not exist: point their
// links at the section that says so, instead of leaving them unresolved.
#![cfg_attr(
    not(any(feature = "tokio", feature = "futures-io")),
    doc = "",
    doc = "[`FrameCodec`]: #feature-tokio",
    doc = "[`FrameResultCodec`]: #feature-tokio"
)]
#![cfg_attr(not(any(feature = "std", test)), no_std)]
// The docs are written for the default build (docs.rs documents every
// feature); without `std` the links to the std adapters have no target.
#![cfg_attr(not(feature = "std"), allow(rustdoc::broken_intra_doc_links))]
// On docs.rs, every item says which features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

// The core: no `std`, no allocator (the `alloc` faces are submodules of
// `decode` and `encode`, gated there).
mod adapters;
mod codec;
mod decode;
mod encode;
mod error;
mod format;
mod varint;

// Blocking adapters over `std::io` (feature `std`).
#[cfg(feature = "std")]
mod framed;
#[cfg(feature = "std")]
mod read;
#[cfg(feature = "std")]
mod stream;
#[cfg(feature = "std")]
mod write;

// The async codecs (features `tokio` and `futures-io`, which imply `std`):
// one pair of types, one trait impl module per ecosystem.
#[cfg(any(feature = "tokio", feature = "futures-io"))]
mod framed_codec;
#[cfg(feature = "futures-io")]
mod futures_io;
#[cfg(feature = "tokio")]
mod tokio;

/// The `bytes` crate, whose [`Bytes`](bytes::Bytes) and
/// [`BytesMut`](bytes::BytesMut) the decoder and encoder use (feature
/// `alloc`): `lenframe::bytes::Bytes` needs no dependency of your own.
#[cfg(feature = "alloc")]
pub use bytes;

pub use codec::{Codec, CodecBuilder, Oversize, DEFAULT_MAX_FRAME_LEN, MAX_HEADER_LEN};
pub use decode::{Decoded, FrameDecoder, SliceFrames, Streamed};
pub use encode::Header;
pub use error::{Error, FramePart, Result};
pub use format::{ByteOrder, HeaderFormat, HeaderKind, IntBytes};
#[cfg(feature = "std")]
pub use framed::Framed;
#[cfg(any(feature = "tokio", feature = "futures-io"))]
pub use framed_codec::{FrameCodec, FrameResultCodec};
#[cfg(feature = "std")]
pub use read::FrameReader;
#[cfg(feature = "std")]
pub use stream::PayloadReader;
#[cfg(feature = "std")]
pub use write::FrameWriter;

/// The README's examples, compiled and run as doctests. Each README block
/// is a complete program with no hidden lines, and the README shows the
/// tokio and futures-io codecs too, so it is tested with both features
/// (`cargo test --all-features`); the crate docs above carry its blocking
/// examples for the default features.
#[cfg(all(doctest, feature = "tokio", feature = "futures-io"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The Chinese guide's examples (README.zh-CN.md), compiled and run as
/// doctests like the README's.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.zh-CN.md")]
pub struct ReadmeZhCnDoctests;
