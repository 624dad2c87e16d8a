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
//! ```
//!
//! The decoder does no I/O: you hand it bytes, it hands back frames (as
//! zero-copy [`bytes::Bytes`] or borrowed slices) and says how many more
//! bytes it needs. Every adapter drives this one state machine.
//!
//! # Quick start
//!
//! ```
//! use lenframe::{FrameReader, FrameWriter};
//!
//! // Sender: any `Write` (a TcpStream in real life).
//! let mut writer = FrameWriter::new(Vec::new());
//! for msg in ["jason", "kevin", "toney"] {
//!     writer.write_frame(msg.as_bytes())?;
//! }
//! let wire = writer.into_inner()?; // flushes
//!
//! // Receiver: any `Read`. The three messages stay three, however the
//! // stream chops or merges them.
//! let reader = FrameReader::new(&wire[..]);
//! let msgs = reader.collect::<Result<Vec<_>, _>>()?;
//! assert_eq!(msgs, ["jason", "kevin", "toney"]);
//! # Ok::<(), lenframe::Error>(())
//! ```
//!
//! With the Python seeds' `struct.pack('i', len(data))` (native `int`), use
//! `Codec::new("i".parse()?)` and [`Codec::new_read`] / [`Codec::new_write`].
//!
//! # Frames larger than memory
//!
//! [`FrameReader::read_frame_stream`] returns the next frame's payload as a
//! bounded [`std::io::Read`] ([`PayloadReader`]) with its own size limit, and
//! [`FrameWriter::write_frame_from`] writes a frame of known length from any
//! `Read`: a multi-GB frame passes through a few KiB of memory (a 1 GiB
//! frame streamed through a socket pair peaks at about 165 KB of heap).
//!
//! # Feature `tokio`
//!
//! Off by default. Adds [`FrameCodec`] (shown only when the feature is on),
//! a `tokio_util::codec::Decoder` + `Encoder` that drives the same
//! [`FrameDecoder`], so `FramedRead`/`FramedWrite`/`Framed` over a tokio
//! `TcpStream` follow exactly the blocking adapters' rules, limits and
//! errors, and grow their buffer lazily.
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
//! | Erlang `{packet,1|2|4}` | `!B`, `!H`, `!I` |
//! | Twisted `Int32StringReceiver` / `Int16StringReceiver` | `!I` / `!H` |
//! | Netty `LengthFieldBasedFrameDecoder(max, 0, 4, 0, 4)` | `!I` |
//!
//! tokio-util and Netty's `length_adjustment` is the negation of
//! [`CodecBuilder::length_adjustment`] (here: header value = payload length
//! + adjustment).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod codec;
mod decode;
mod encode;
mod error;
mod format;
mod read;
mod stream;
#[cfg(feature = "tokio")]
mod tokio;
mod write;

pub use codec::{Codec, CodecBuilder, DEFAULT_MAX_FRAME_LEN, MAX_HEADER_LEN, Oversize};
pub use decode::{Decoded, FrameDecoder, SliceFrames, Streamed};
pub use encode::Header;
pub use error::{Error, FramePart, Result};
pub use format::{ByteOrder, HeaderFormat, IntBytes};
pub use read::FrameReader;
pub use stream::PayloadReader;
#[cfg(feature = "tokio")]
pub use tokio::FrameCodec;
pub use write::FrameWriter;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
