//! Finding the frames in a byte stream that arrives in pieces of any size,
//! without holding a frame: the library's [`FrameDecoder`] in streaming
//! mode (`begin_stream` / `consume_stream`), plus the few header bytes a
//! piece may end inside. Sans-IO: `proxy` feeds it what it forwards,
//! `inspect` what it reads from a capture.
//!
//! Memory is a header's worth (at most [`MAX_HEADER_LEN`] bytes), whatever
//! lengths the headers claim: payload bytes are only counted.
use lenframe::{Codec, Error, FrameDecoder, MAX_HEADER_LEN};

/// What a piece of the stream held, in stream order.
#[derive(Debug)]
pub enum Event<'a> {
    /// A frame's header is complete: it starts `offset` bytes into the
    /// stream, its header bytes are `header`, and `len` payload bytes
    /// follow (given as [`Event::Payload`] pieces as they arrive).
    Header {
        offset: u64,
        header: &'a [u8],
        len: u64,
    },
    /// Payload bytes of the current frame (never empty).
    Payload(&'a [u8]),
    /// The stream stops making sense at `offset` (where the bad frame's
    /// header starts): `error` is the library's diagnosis. No event
    /// follows; later pieces are ignored.
    Broken { offset: u64, error: Error },
}

/// Splits a stream into frames, one piece at a time.
#[derive(Debug, Clone)]
pub struct Watcher {
    decoder: FrameDecoder,
    /// A header cut by the end of a piece: its bytes so far.
    head: Vec<u8>,
    /// Stream offset of the first byte not yet accounted for (the start of
    /// `head` while it holds bytes).
    offset: u64,
    /// Stream offset of the header of the frame in progress (or of the
    /// last one).
    frame_start: u64,
    frames: u64,
    broken: bool,
}

impl Watcher {
    /// A watcher for frames of `codec` (its `max_frame_len` bounds the
    /// lengths it accepts).
    pub fn new(codec: Codec) -> Watcher {
        Watcher {
            decoder: FrameDecoder::new(codec),
            head: Vec::with_capacity(MAX_HEADER_LEN),
            offset: 0,
            frame_start: 0,
            frames: 0,
            broken: false,
        }
    }

    /// Frames whose header has been seen.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Whether the stream stopped making sense ([`Event::Broken`] was
    /// given).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Payload bytes of the current frame still to come, or `None` between
    /// frames (or inside a header).
    pub fn remaining(&self) -> Option<u64> {
        self.decoder.stream_remaining()
    }

    /// Feeds the next piece of the stream; `on` gets what it held, in
    /// order.
    pub fn feed(&mut self, mut piece: &[u8], mut on: impl FnMut(Event<'_>)) {
        while !piece.is_empty() && !self.broken {
            if self.decoder.stream_remaining().is_some() {
                let n = self.decoder.consume_stream(piece.len() as u64) as usize;
                on(Event::Payload(&piece[..n]));
                self.offset += n as u64;
                piece = &piece[n..];
                continue;
            }
            if self.head.is_empty() {
                // Fast path: the whole header is in this piece.
                match self.begin(piece) {
                    Begun::Frame { header_len, len } => {
                        on(Event::Header {
                            offset: self.offset,
                            header: &piece[..header_len],
                            len,
                        });
                        self.offset += header_len as u64;
                        piece = &piece[header_len..];
                    }
                    Begun::Need => {
                        self.head.extend_from_slice(piece);
                        piece = &[];
                    }
                    Begun::Broken(error) => {
                        on(Event::Broken {
                            offset: self.offset,
                            error,
                        });
                    }
                }
                continue;
            }
            // A header cut by the end of an earlier piece: complete it from
            // this one, a header's worth at most.
            let had = self.head.len();
            let take = piece.len().min(MAX_HEADER_LEN - had);
            self.head.extend_from_slice(&piece[..take]);
            let head = std::mem::take(&mut self.head);
            match self.begin(&head) {
                Begun::Frame { header_len, len } => {
                    on(Event::Header {
                        offset: self.offset,
                        header: &head[..header_len],
                        len,
                    });
                    self.offset += header_len as u64;
                    piece = &piece[header_len - had..];
                    self.head = head;
                    self.head.clear();
                }
                Begun::Need => {
                    self.head = head;
                    piece = &piece[take..];
                }
                Begun::Broken(error) => {
                    on(Event::Broken {
                        offset: self.offset,
                        error,
                    });
                }
            }
        }
    }

    /// The verdict at the end of the stream: `Ok` between frames, else
    /// the offset where the last frame (or the broken one) starts and the
    /// library's error: `Truncated` for a cut header or payload, with its
    /// hint, or the error that broke the stream.
    pub fn finish(&self) -> Result<(), (u64, Error)> {
        match self.decoder.end_of_stream(&self.head) {
            Ok(()) => Ok(()),
            Err(error) => Err((self.frame_start, error)),
        }
    }

    fn begin(&mut self, src: &[u8]) -> Begun {
        self.frame_start = self.offset;
        let max = self.decoder.codec().max_frame_len() as u64;
        match self.decoder.begin_stream(src, max) {
            Ok(s) => match s.frame_len {
                Some(len) => {
                    self.frames += 1;
                    Begun::Frame {
                        header_len: s.consumed,
                        len,
                    }
                }
                // `consumed > 0` without a frame is a discard, which only
                // `Oversize::Skip` makes; the tool's codecs fail instead.
                None => Begun::Need,
            },
            Err(error) => {
                self.broken = true;
                Begun::Broken(error)
            }
        }
    }
}

enum Begun {
    Frame { header_len: usize, len: u64 },
    Need,
    Broken(Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (offset, header, payload) of every frame, and how the stream ends,
    /// feeding `wire` in pieces of `size` bytes.
    type Seen = (Vec<(u64, Vec<u8>, Vec<u8>)>, Option<(u64, String)>);

    fn watch(codec: &Codec, wire: &[u8], size: usize) -> Seen {
        let mut w = Watcher::new(*codec);
        let mut frames: Vec<(u64, Vec<u8>, Vec<u8>)> = Vec::new();
        let mut broken = None;
        for piece in wire.chunks(size) {
            w.feed(piece, |event| match event {
                Event::Header {
                    offset,
                    header,
                    len,
                } => {
                    assert!(len <= codec.max_frame_len() as u64);
                    frames.push((offset, header.to_vec(), Vec::new()));
                }
                Event::Payload(bytes) => {
                    assert!(!bytes.is_empty());
                    frames.last_mut().unwrap().2.extend_from_slice(bytes);
                }
                Event::Broken { offset, error } => {
                    assert!(broken.is_none(), "one Broken at most");
                    broken = Some((offset, error.to_string()));
                }
            });
        }
        assert_eq!(w.frames(), frames.len() as u64);
        let end = w.finish().err().map(|(at, e)| (at, e.to_string()));
        if broken.is_some() {
            assert!(w.is_broken());
            assert_eq!(end, broken, "finish repeats the break");
        }
        (frames, end)
    }

    #[test]
    fn pieces_of_every_size_give_the_same_frames() {
        for format in ["!I", "<H", "B", ">Q", "varint", "varint-strict"] {
            let codec = Codec::from_format(format).unwrap();
            let payloads: [&[u8]; 4] = [b"hello", b"", &[7u8; 200], b"!"];
            let mut wire = Vec::new();
            let mut expected = Vec::new();
            for p in payloads {
                let at = wire.len() as u64;
                codec.encode_to_vec(p, &mut wire).unwrap();
                let header_end = wire.len() - p.len();
                expected.push((at, wire[at as usize..header_end].to_vec(), p.to_vec()));
            }
            for size in 1..=wire.len() {
                assert_eq!(
                    watch(&codec, &wire, size),
                    (expected.clone(), None),
                    "{format} in pieces of {size}"
                );
            }
        }
    }

    #[test]
    fn a_cut_stream_and_a_bad_header_say_where() {
        let codec = Codec::default();
        let (frames, end) = watch(&codec, b"\0\0\0\x02hi\0\0\0\x09abc", 3);
        assert_eq!(frames.len(), 2);
        let (at, why) = end.unwrap();
        assert_eq!(at, 6);
        assert!(why.contains("got 3 of 9"), "{why}");
        let (_, end) = watch(&codec, b"\0\0\0\x02hi\0\0", 1);
        assert_eq!(end.unwrap().0, 6);
        // A little-endian header read as `!I`, in pieces of 2.
        let (frames, end) = watch(&codec, b"\x05\0\0\0hello", 2);
        assert!(frames.is_empty());
        let (at, why) = end.unwrap();
        assert_eq!(at, 0);
        assert!(
            why.contains("little-endian") || why.contains("'<I'") || why.contains("('i')"),
            "{why}"
        );
        // After the break, nothing more is reported.
        let (frames, end) = watch(&codec, b"\0\0\0\x01xGET / HTTP/1.1\r\n\0\0\0\x01y", 5);
        assert_eq!(frames.len(), 1);
        let (at, why) = end.unwrap();
        assert_eq!(at, 5);
        assert!(why.contains("HTTP"), "{why}");
    }

    #[test]
    fn a_hostile_length_is_counted_not_held() {
        let codec = Codec::builder()
            .max_frame_len(usize::MAX - 16)
            .build()
            .unwrap();
        let mut w = Watcher::new(codec);
        let mut payload = 0u64;
        let chunk = vec![0u8; 1 << 16];
        w.feed(&[0xff; 4], |_| {});
        for _ in 0..16 {
            w.feed(&chunk, |e| {
                if let Event::Payload(b) = e {
                    payload += b.len() as u64;
                }
            });
        }
        assert_eq!(payload, 16 << 16);
        assert_eq!(w.remaining(), Some(u64::from(u32::MAX) - (16 << 16)));
        assert!(w.head.capacity() <= MAX_HEADER_LEN);
    }
}
