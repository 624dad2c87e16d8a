//! `FrameDecoder::frames`: the borrowed iterator over the frames of a
//! slice, and its fast path.
//!
//! Between frames, with a whole valid frame buffered (nearly every frame
//! of a buffer), the iterator reads the header itself, with the codec's
//! rules unpacked once per `frames` call ([`FastHead`]) and the commonest
//! configurations' field width and byte order fixed in the code
//! ([`Plain`]). Everything else (a short buffer, a bad header, a frame in
//! progress, a discard) goes through the decoder's general step, so the
//! state machine stays the one authority: the fast path only ever returns
//! what the general step would have returned, and the tests below check
//! that for every format and option.

use super::{FrameDecoder, State, Step};
use crate::codec::Codec;
use crate::error::Result;

impl FrameDecoder {
    /// Iterates over the complete frames at the front of `src`, borrowed,
    /// with no allocation. Stops at the first incomplete frame (see
    /// [`SliceFrames::consumed`]) or after the first error.
    ///
    /// ```
    /// let mut dec = lenframe::FrameDecoder::default();
    /// let input = b"\0\0\0\x01a\0\0\0\x02bc\0\0";
    /// let mut it = dec.frames(input);
    /// assert_eq!(it.next().unwrap()?, b"a");
    /// assert_eq!(it.next().unwrap()?, b"bc");
    /// assert!(it.next().is_none());
    /// assert_eq!(it.consumed(), 11);
    /// # Ok::<(), lenframe::Error>(())
    /// ```
    pub fn frames<'d, 'a>(&'d mut self, src: &'a [u8]) -> SliceFrames<'d, 'a> {
        let fast = FastHead::of(&self.codec);
        let plain = FastHead::plain(&self.codec);
        let mode = if self.state == State::Head {
            plain
        } else {
            Plain::General
        };
        SliceFrames {
            fast,
            plain,
            mode,
            decoder: self,
            rest: src,
            len: src.len(),
            done: false,
        }
    }
}

/// Iterator over the complete frames at the front of a slice, from
/// [`FrameDecoder::frames`].
#[derive(Debug)]
pub struct SliceFrames<'d, 'a> {
    decoder: &'d mut FrameDecoder,
    /// The input not consumed yet, of `len` bytes in all.
    rest: &'a [u8],
    len: usize,
    done: bool,
    fast: FastHead,
    /// The configuration's fast path, and the one to take now: `plain`
    /// while the decoder is between frames, `General` otherwise.
    plain: Plain,
    mode: Plain,
}

/// The codec's header rules unpacked once per [`FrameDecoder::frames`]
/// call, for the iterator's fast path: a whole, valid frame at a boundary
/// with 8 bytes readable at the length field (nearly every frame of a
/// buffer). Anything else (a short buffer, a bad header, a frame in
/// progress) takes the decoder's general step.
#[derive(Debug, Clone, Copy)]
struct FastHead {
    offset: usize,
    header_len: usize,
    num_skip: usize,
    /// Big-endian: the field is the top `bits` of a big-endian word (shift
    /// right by `shift`); little-endian: the bottom ones (mask).
    big: bool,
    shift: u32,
    mask: u64,
    raw_lo: u64,
    raw_span: u64,
    adjustment: u64,
}

/// The most common configurations (the whole header is the length field,
/// no adjustment: `!I`, `<H`, `i`, ...) with the field's width and byte
/// order fixed in the code, so a frame costs about what a hand-written
/// walker pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plain {
    Be2,
    Le2,
    Be4,
    Le4,
    Be8,
    Le8,
    /// Another configuration: [`FastHead::frame`].
    Other,
    /// Not between frames, or done: the decoder's general step.
    General,
}

/// `(start, end)` of the whole frame at the front of `rest` for a plain
/// configuration whose length field is `N` bytes, if its value is at most
/// `span` and all of it is there.
#[inline(always)]
fn plain_frame<const N: usize>(rest: &[u8], big: bool, span: u64) -> Option<(usize, usize)> {
    let field = rest.first_chunk::<N>()?;
    let mut raw = 0u64;
    if big {
        for &b in field {
            raw = raw << 8 | u64::from(b);
        }
    } else {
        for &b in field.iter().rev() {
            raw = raw << 8 | u64::from(b);
        }
    }
    if raw > span {
        return None;
    }
    // Fits usize: at most max_frame_len <= usize::MAX - N.
    let end = N + raw as usize;
    (end <= rest.len()).then_some((N, end))
}

impl FastHead {
    /// The frame at the front of `rest` through the plain path chosen for
    /// this configuration, or the general fast path.
    #[inline(always)]
    fn frame_of(&self, plain: Plain, rest: &[u8]) -> Option<(usize, usize)> {
        let span = self.raw_span;
        // The default `!I` first, with a plain compare (no jump table).
        if plain == Plain::Be4 {
            return plain_frame::<4>(rest, true, span);
        }
        match plain {
            Plain::Be4 => plain_frame::<4>(rest, true, span),
            Plain::Le4 => plain_frame::<4>(rest, false, span),
            Plain::Be2 => plain_frame::<2>(rest, true, span),
            Plain::Le2 => plain_frame::<2>(rest, false, span),
            Plain::Be8 => plain_frame::<8>(rest, true, span),
            Plain::Le8 => plain_frame::<8>(rest, false, span),
            Plain::Other => self.frame(rest),
            Plain::General => None,
        }
    }

    /// Which plain path serves `codec`, if one does.
    fn plain(codec: &Codec) -> Plain {
        let plain = codec.offset == 0
            && codec.adjustment == 0
            && codec.raw_lo == 0
            && codec.num_skip == codec.header_len;
        match (plain, codec.format.size(), codec.format.is_big_endian()) {
            (true, 2, true) => Plain::Be2,
            (true, 2, false) => Plain::Le2,
            (true, 4, true) => Plain::Be4,
            (true, 4, false) => Plain::Le4,
            (true, 8, true) => Plain::Be8,
            (true, 8, false) => Plain::Le8,
            _ => Plain::Other,
        }
    }

    fn of(codec: &Codec) -> FastHead {
        let bits = 8 * codec.format.size() as u32; // 8..=64
        FastHead {
            offset: codec.offset,
            header_len: codec.header_len,
            num_skip: codec.num_skip,
            big: codec.format.is_big_endian(),
            shift: 64 - bits,
            mask: u64::MAX >> (64 - bits),
            raw_lo: codec.raw_lo,
            raw_span: codec.raw_span,
            // Two's complement: `raw - adjustment` wraps to the true length
            // for every raw value in range (see `Codec::payload_len`).
            adjustment: codec.adjustment as u64,
        }
    }

    /// `(start, end)` of the whole frame at the front of `rest`, if its
    /// header is valid and all of it is there; `None` otherwise (the
    /// general step decides). Exactly the general step's `Frame` result.
    #[inline(always)]
    fn frame(&self, rest: &[u8]) -> Option<(usize, usize)> {
        let word = rest.get(self.offset..)?.first_chunk::<8>()?;
        let raw = if self.big {
            u64::from_be_bytes(*word) >> self.shift
        } else {
            u64::from_le_bytes(*word) & self.mask
        };
        if raw.wrapping_sub(self.raw_lo) > self.raw_span {
            return None;
        }
        // Fits usize: the length is at most max_frame_len <= usize::MAX -
        // header_len.
        let end = self.header_len + raw.wrapping_sub(self.adjustment) as usize;
        (end <= rest.len()).then_some((self.num_skip, end))
    }
}

impl<'a> SliceFrames<'_, 'a> {
    /// Bytes of the input consumed so far; `input[consumed()..]` is the
    /// start of an incomplete frame to keep for later.
    pub fn consumed(&self) -> usize {
        self.len - self.rest.len()
    }

    /// The unconsumed rest of the input.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for SliceFrames<'_, 'a> {
    type Item = Result<&'a [u8]>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest;
        if let Some((start, end)) = self.fast.frame_of(self.mode, rest) {
            self.rest = &rest[end..];
            return Some(Ok(&rest[start..end]));
        }
        self.next_in_general()
    }
}

impl<'a> SliceFrames<'_, 'a> {
    /// `next` for everything but a whole valid frame at a boundary: kept
    /// out of line, so the loop around the fast path stays small.
    #[cold]
    #[inline(never)]
    fn next_in_general(&mut self) -> Option<Result<&'a [u8]>> {
        let item = self.step_general();
        self.mode = if self.done || self.decoder.state != State::Head {
            Plain::General
        } else {
            self.plain
        };
        item
    }

    /// The decoder's general step until a frame, an error or the end.
    fn step_general(&mut self) -> Option<Result<&'a [u8]>> {
        while !self.done {
            let rest = self.rest;
            match self.decoder.step(rest) {
                Ok(Step::Frame { start, end }) => {
                    self.rest = &rest[end..];
                    return Some(Ok(&rest[start..end]));
                }
                Ok(Step::Discard(n)) => self.rest = &rest[n..],
                Ok(Step::Need) => self.done = true,
                Err(fault) => {
                    self.done = true;
                    return Some(Err(fault.into()));
                }
            }
        }
        None
    }
}
