//! `Framed`: one duplex framed stream (a `TcpStream`) that flushes what it
//! was fed before it reads.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
#[cfg(unix)]
use std::os::unix::net::UnixStream;

use bytes::{Bytes, BytesMut};

use crate::codec::Codec;
use crate::decode::FrameDecoder;
use crate::error::{Error, Result};
use crate::read::FrameReader;
use crate::write::FrameWriter;

/// Frames in both directions over one stream that is [`Read`] + [`Write`]
/// (a [`TcpStream`], a `&TcpStream`, a Unix socket, ...).
///
/// **Frames fed and not yet flushed are written out before every read from
/// the stream**, as C's stdio flushes `stdout` before it reads `stdin`: a
/// request/reply loop cannot hang on a forgotten [`flush`](Self::flush),
/// while frames fed back to back still go out together, in as few `write()`
/// calls as the buffer allows. Frames already buffered are returned without
/// touching the stream, so a server that answers each frame with
/// [`feed`](Self::feed) writes its answers in one batch when it next needs
/// bytes.
///
/// * [`send`](Self::send) writes a frame now; [`feed`](Self::feed) (alias
///   [`write_frame`](Self::write_frame)) buffers it; [`recv`](Self::recv)
///   (alias [`read_frame`](Self::read_frame)) returns the next frame, or
///   `None` when the peer has closed; the stream is also an [`Iterator`],
///   for loops that only read: a loop that replies to each frame cannot
///   borrow `framed` for the iterator and for `send` at once (`for frame
///   in &mut framed { framed.send(..)? }` is E0499), and is written
///   `while let Some(frame) = framed.recv()? { framed.send(..)?; }`.
/// * The reading side is a [`FrameReader`] and the writing side a
///   [`FrameWriter`], with their rules: `WouldBlock` and `TimedOut` (a read
///   or write timeout set on the socket) lose nothing, so the same call can
///   be made again; after a hard write error the writer refuses frames
///   ([`Error::WriterPoisoned`]) and reading goes on.
/// * On a nonblocking socket, a `WouldBlock` while flushing does not stop
///   the read that follows it: the frames stay buffered until the next
///   [`flush`](Self::flush) or read. A hard error while flushing is returned
///   by that read, once.
/// * [`split`](Self::split) / [`try_split`](Framed::try_split) turn it into
///   a [`FrameReader`] and a [`FrameWriter`] for two threads;
///   [`shutdown_write`](Framed::shutdown_write) half-closes after the last
///   frame, and the replies still in flight can then be read.
///
/// One thread both writing and reading a blocking socket can deadlock if
/// the peer does the same with frames larger than the socket buffers; for
/// such peers, split the stream between two threads or use nonblocking I/O.
///
/// # Examples
///
/// A request/reply client that never calls `flush`:
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use lenframe::Framed;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = std::thread::spawn(move || -> lenframe::Result<()> {
///     let (stream, _) = listener.accept()?;
///     let mut conn = Framed::new(stream);
///     while let Some(frame) = conn.recv()? {
///         conn.feed(&frame)?; // echoes go out when the server next reads
///     }
///     Ok(())
/// });
///
/// let mut client = Framed::new(TcpStream::connect(addr)?);
/// for question in ["ping", "hello"] {
///     client.feed(question)?; // buffered ...
///     let answer = client.recv()?; // ... and flushed before this read
///     assert_eq!(answer.as_deref(), Some(question.as_bytes()));
/// }
/// drop(client); // closes the connection: the server's loop ends
/// server.join().unwrap()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Framed<S: Read + Write> {
    /// The reading side; its inner reader holds the stream and the writing
    /// side, and flushes the latter before every read.
    reader: FrameReader<FlushBeforeRead<S>>,
    /// The iterator returned its last item.
    done: bool,
}

/// The stream and the writing side of a [`Framed`]: reading from it first
/// writes out the frames fed so far.
#[derive(Debug)]
struct FlushBeforeRead<S: Write> {
    writer: FrameWriter<S>,
    /// The last read failed because its flush did (a write error).
    flush_failed: bool,
}

impl<S: Read + Write> Read for FlushBeforeRead<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.flush_failed = false;
        if let Err(e) = self.flush_pending() {
            self.flush_failed = true;
            return Err(e);
        }
        self.writer.get_mut().read(buf)
    }
}

impl<S: Write> FlushBeforeRead<S> {
    /// Flushes the fed frames, if any. `WouldBlock`/`TimedOut` are not
    /// errors here (the read goes on, the frames stay buffered); a hard
    /// error poisons the writer and is returned, once.
    fn flush_pending(&mut self) -> io::Result<()> {
        if self.writer.buffered().is_empty() || self.writer.is_poisoned() {
            return Ok(());
        }
        match self.writer.flush() {
            Ok(()) => Ok(()),
            Err(Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl<S: Read + Write> Framed<S> {
    /// A framed stream with the default [`Codec`] (`!I`, 8 MiB max).
    pub fn new(stream: S) -> Framed<S> {
        Framed::with_codec(stream, Codec::default())
    }

    /// A framed stream with `codec` for both directions.
    pub fn with_codec(stream: S, codec: Codec) -> Framed<S> {
        Framed::from_parts(stream, codec, BytesMut::new(), Vec::new())
    }

    fn writer(&mut self) -> &mut FrameWriter<S> {
        &mut self.reader.get_mut().writer
    }

    /// Writes one frame now: [`feed`](Self::feed), then
    /// [`flush`](Self::flush).
    ///
    /// # Errors
    ///
    /// As [`FrameWriter::write_frame`] and [`FrameWriter::flush`]. After a
    /// `WouldBlock` the frame may have been accepted (it is buffered): call
    /// [`flush`](Self::flush) again, not `send`.
    #[inline]
    pub fn send<P: AsRef<[u8]>>(&mut self, payload: P) -> Result<()> {
        self.feed(payload)?;
        self.flush()
    }

    /// Buffers one frame; small frames go out together when the buffer
    /// fills, on [`flush`](Self::flush), or before the next read from the
    /// stream. A frame too large for the buffer is written at once.
    ///
    /// # Errors
    ///
    /// As [`FrameWriter::write_frame`]: nothing of the frame is accepted
    /// when it returns an error.
    #[inline]
    pub fn feed<P: AsRef<[u8]>>(&mut self, payload: P) -> Result<()> {
        self.writer().write_frame(payload)
    }

    /// The same as [`feed`](Self::feed), named like
    /// [`FrameWriter::write_frame`].
    #[inline]
    pub fn write_frame<P: AsRef<[u8]>>(&mut self, payload: P) -> Result<()> {
        self.feed(payload)
    }

    /// Writes out every buffered frame and flushes the stream.
    ///
    /// # Errors
    ///
    /// As [`FrameWriter::flush`].
    pub fn flush(&mut self) -> Result<()> {
        self.writer().flush()
    }

    /// The next frame, or `None` once the peer has closed its side between
    /// frames. Frames fed so far are flushed first if the stream must be
    /// read.
    ///
    /// # Errors
    ///
    /// As [`FrameReader::read_frame`]; and a hard error met while flushing
    /// the fed frames (returned once; the writer then refuses frames).
    pub fn recv(&mut self) -> Result<Option<Bytes>> {
        self.reader.read_frame()
    }

    /// The same as [`recv`](Self::recv), named like
    /// [`FrameReader::read_frame`].
    pub fn read_frame(&mut self) -> Result<Option<Bytes>> {
        self.recv()
    }

    /// The next frame borrowed from the read buffer, with no allocation,
    /// valid until the next call; as [`FrameReader::read_frame_ref`].
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    pub fn read_frame_ref(&mut self) -> Result<Option<&[u8]>> {
        self.reader.read_frame_ref()
    }

    /// The codec of both directions.
    pub fn codec(&self) -> &Codec {
        self.reader.get_ref().writer.codec()
    }

    /// The decoder of the reading side.
    pub fn decoder(&self) -> &FrameDecoder {
        self.reader.decoder()
    }

    /// Bytes read but not yet returned as frames.
    pub fn read_buffer(&self) -> &[u8] {
        self.reader.buffer()
    }

    /// Frames fed but not yet written to the stream.
    pub fn write_buffer(&self) -> &[u8] {
        self.reader.get_ref().writer.buffered()
    }

    /// Gets a reference to the stream (to set timeouts, for example).
    pub fn get_ref(&self) -> &S {
        self.reader.get_ref().writer.get_ref()
    }

    /// Gets a mutable reference to the stream. Reading or writing it
    /// directly desynchronises the frames.
    pub fn get_mut(&mut self) -> &mut S {
        self.writer().get_mut()
    }

    /// Flushes, then unwraps the stream; bytes read but not yet returned
    /// as frames are lost (see [`into_parts`](Self::into_parts)).
    ///
    /// # Errors
    ///
    /// As [`flush`](Self::flush).
    pub fn into_inner(self) -> Result<S> {
        let (duplex, _reader) = self.reader.replace_inner(());
        duplex.writer.into_inner()
    }

    /// Unwraps the stream, the bytes read but not yet returned as frames,
    /// and the bytes fed but not yet written, with no I/O.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut peer = TcpStream::connect(listener.local_addr()?)?;
    /// let mut conn = lenframe::Framed::new(listener.accept()?.0);
    /// peer.write_all(b"\0\0\0\x01a")?;
    /// assert_eq!(conn.recv()?.as_deref(), Some(&b"a"[..]));
    /// conn.feed("y")?;
    /// let (_stream, unread, unsent) = conn.into_parts();
    /// assert!(unread.is_empty()); // bytes that came after "a" would be here
    /// assert_eq!(unsent, b"\0\0\0\x01y");
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_parts(self) -> (S, BytesMut, Vec<u8>) {
        let (duplex, reader) = self.reader.replace_inner(());
        let (_, unread) = reader.into_parts_any();
        let (stream, unsent) = duplex.writer.into_parts();
        (stream, unread, unsent)
    }

    /// Rebuilds a framed stream from what [`into_parts`](Self::into_parts)
    /// handed back: `unread` is decoded first (from a frame boundary, see
    /// [`FrameReader::from_parts`]), `unsent` goes out before any new frame
    /// (the writer is not poisoned, see [`FrameWriter::from_parts`]).
    ///
    /// ```
    /// use std::io::Cursor;
    /// use lenframe::{Codec, Framed};
    ///
    /// let mut conn = Framed::new(Cursor::new(b"\0\0\0\x01a\0\0\0\x01b".to_vec()));
    /// assert_eq!(conn.recv()?.as_deref(), Some(&b"a"[..]));
    /// conn.feed("y")?;
    /// let (stream, unread, unsent) = conn.into_parts();
    /// let mut conn = Framed::from_parts(stream, Codec::default(), unread, unsent);
    /// assert_eq!(conn.recv()?.as_deref(), Some(&b"b"[..]));
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn from_parts(stream: S, codec: Codec, unread: BytesMut, unsent: Vec<u8>) -> Framed<S> {
        let writer = FrameWriter::from_parts(stream, codec, unsent);
        let duplex = FlushBeforeRead {
            writer,
            flush_failed: false,
        };
        let mut reader = FrameReader::from_parts(duplex, codec, unread);
        reader.set_flush_advice(false);
        Framed {
            reader,
            done: false,
        }
    }

    /// True once a write failed with a hard I/O error: every further frame
    /// is refused (see [`FrameWriter::is_poisoned`]). Reading goes on.
    pub fn is_poisoned(&self) -> bool {
        self.reader.get_ref().writer.is_poisoned()
    }

    /// Splits into a reader and a writer over the stream and a copy of it,
    /// keeping the buffered bytes of both sides (and a poisoned writer's
    /// refusal).
    fn split_with<T: Read + Write>(self, copy: T) -> (FrameReader<S>, FrameWriter<T>) {
        let done = self.done;
        let (duplex, mut reader) = self.reader.replace_inner(());
        if done {
            reader.end_iteration(); // the iterator had ended: it stays so
        }
        reader.set_flush_advice(true); // its writer is separate now
        let poisoned = duplex.writer.is_poisoned();
        let codec = *duplex.writer.codec();
        let (stream, unsent) = duplex.writer.into_parts();
        let mut writer = FrameWriter::from_parts(copy, codec, unsent);
        if poisoned {
            writer.set_poisoned();
        }
        (reader.replace_inner(stream).1, writer)
    }
}

impl<S: Read + Write + Copy> Framed<S> {
    /// Splits into a [`FrameReader`] and a [`FrameWriter`] over the same
    /// stream, for a stream that is a shared reference such as
    /// `&TcpStream` (reading and writing one socket from two threads, as
    /// `std` allows). Buffered bytes of both sides are kept.
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?)?;
    /// let (server, _) = listener.accept()?;
    /// let (mut reader, mut writer) = lenframe::Framed::new(&client).split();
    /// std::thread::scope(|s| {
    ///     s.spawn(move || -> lenframe::Result<()> {
    ///         for n in 0..3u8 {
    ///             writer.write_frame([n])?;
    ///         }
    ///         writer.flush()
    ///     });
    ///     let mut echo = lenframe::Framed::new(&server);
    ///     for _ in 0..3 {
    ///         let frame = echo.recv()?.unwrap();
    ///         echo.send(&frame)?;
    ///     }
    ///     for n in 0..3u8 {
    ///         assert_eq!(reader.read_frame()?.as_deref(), Some(&[n][..]));
    ///     }
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn split(self) -> (FrameReader<S>, FrameWriter<S>) {
        let copy = *self.get_ref();
        self.split_with(copy)
    }
}

impl Framed<TcpStream> {
    /// Splits into a [`FrameReader`] and a [`FrameWriter`] over this socket
    /// and a [`TcpStream::try_clone`] of it, each of which can move to its
    /// own thread. Buffered bytes of both sides are kept.
    ///
    /// # Errors
    ///
    /// The error of `try_clone` (the framed stream is then dropped).
    pub fn try_split(self) -> io::Result<(FrameReader<TcpStream>, FrameWriter<TcpStream>)> {
        let copy = self.get_ref().try_clone()?;
        Ok(self.split_with(copy))
    }
}

/// `shutdown_write` for the socket types that can half-close.
macro_rules! shutdown_write {
    ($($socket:ty => $doc:literal),* $(,)?) => {$(
        impl Framed<$socket> {
            #[doc = concat!("Flushes, then shuts down the writing half of the ", $doc, " (half-close):")]
            /// the peer reads the end of the stream after the last frame,
            /// and the frames it still sends can be read.
            ///
            /// # Errors
            ///
            /// As [`flush`](Self::flush), or the error of `shutdown`.
            pub fn shutdown_write(&mut self) -> Result<()> {
                self.flush()?;
                Ok(self.get_ref().shutdown(Shutdown::Write)?)
            }
        }
    )*};
}

shutdown_write!(TcpStream => "TCP socket", &TcpStream => "TCP socket");
#[cfg(unix)]
shutdown_write!(UnixStream => "Unix socket", &UnixStream => "Unix socket");

#[cfg(unix)]
impl Framed<UnixStream> {
    /// Splits into a [`FrameReader`] and a [`FrameWriter`] over this socket
    /// and a [`UnixStream::try_clone`] of it, as
    /// [`Framed::<TcpStream>::try_split`](Framed::try_split) does.
    ///
    /// # Errors
    ///
    /// The error of `try_clone` (the framed stream is then dropped).
    pub fn try_split(self) -> io::Result<(FrameReader<UnixStream>, FrameWriter<UnixStream>)> {
        let copy = self.get_ref().try_clone()?;
        Ok(self.split_with(copy))
    }
}

impl<S: Read + Write> Iterator for Framed<S> {
    type Item = Result<Bytes>;

    /// The next frame, as [`FrameReader`]'s iterator: `None` after the
    /// peer closed or after a read error that cannot be resumed from. A
    /// write error met while flushing before a read is an item, and
    /// iteration goes on (the writer refuses frames from then on).
    fn next(&mut self) -> Option<Result<Bytes>> {
        if self.done {
            return None;
        }
        match self.reader.read_frame() {
            Ok(Some(frame)) => Some(Ok(frame)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                let flush_failed = std::mem::take(&mut self.reader.get_mut().flush_failed);
                self.done =
                    !(flush_failed || e.is_retryable() || self.reader.decoder().is_skip_report(&e));
                Some(Err(e))
            }
        }
    }
}
