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
    // Inlined into the caller's crate with `next`: the iterator then lives
    // in registers, not in memory that every frame stores to and reloads.
    #[inline]
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
    fast: FastHead,
    /// The configuration's fast path, and the path to take now: `plain`
    /// while the decoder is between frames, `General` when it is not,
    /// `Done` once the iterator has ended.
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
    /// The largest length a one-byte varint header may declare: 127, or
    /// the maximum if that is smaller.
    varint_limit: u64,
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
    /// A varint header, dropped: one-byte headers (lengths up to 127) on
    /// the fast path, longer ones through the general step.
    Varint,
    /// A varint header kept in the frame (`num_skip(0)`).
    VarintKept,
    /// Another configuration: [`FastHead::frame`].
    Other,
    /// Not between frames: the decoder's general step.
    General,
    /// The iterator has ended (input exhausted or an error returned).
    Done,
}

/// A frame and the input after it.
type Split<'a> = (&'a [u8], &'a [u8]);

/// The frame at the front of `rest` for a varint header of one byte (a
/// length up to 127), if it is at most `limit` and all of the frame is
/// there, its header dropped or (`keep`) kept; and the input after it.
#[inline(always)]
fn varint_frame(rest: &[u8], keep: bool, limit: u64) -> Option<Split<'_>> {
    let (&len, after) = rest.split_first()?;
    // `limit` is at most 127 (see `FastHead::varint_limit`): one compare
    // refuses both a longer header and a length over the maximum.
    if u64::from(len) > limit {
        return None;
    }
    let (payload, after) = after.split_at_checked(usize::from(len))?;
    if keep {
        // The header byte and the payload.
        Some((&rest[..1 + payload.len()], after))
    } else {
        Some((payload, after))
    }
}

/// The frame at the front of `rest` for a plain configuration whose
/// length field is `N` bytes, if its value is at most `span` and all of it
/// is there, and the input after it: a hand-written walker's steps.
#[inline(always)]
fn plain_frame<const N: usize>(rest: &[u8], big: bool, span: u64) -> Option<Split<'_>> {
    let (field, after) = rest.split_first_chunk::<N>()?;
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
    after.split_at_checked(raw as usize)
}

impl FastHead {
    /// The frame at the front of `rest` and the input after it, through
    /// the path `mode` (the plain path chosen for this configuration, or
    /// the general fast path); `None` for the general step to decide.
    #[inline(always)]
    fn frame_of<'a>(&self, mode: Plain, rest: &'a [u8]) -> Option<Split<'a>> {
        let span = self.raw_span;
        match mode {
            Plain::Be4 => plain_frame::<4>(rest, true, span),
            Plain::Le4 => plain_frame::<4>(rest, false, span),
            Plain::Be2 => plain_frame::<2>(rest, true, span),
            Plain::Le2 => plain_frame::<2>(rest, false, span),
            Plain::Be8 => plain_frame::<8>(rest, true, span),
            Plain::Le8 => plain_frame::<8>(rest, false, span),
            Plain::Varint => varint_frame(rest, false, self.varint_limit),
            Plain::VarintKept => varint_frame(rest, true, self.varint_limit),
            Plain::Other => self.frame(rest),
            Plain::General | Plain::Done => None,
        }
    }

    /// Which plain path serves `codec`, if one does.
    #[inline]
    fn plain(codec: &Codec) -> Plain {
        if codec.format.is_varint() {
            return if codec.num_skip == 0 {
                Plain::VarintKept
            } else {
                Plain::Varint
            };
        }
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

    #[inline]
    fn of(codec: &Codec) -> FastHead {
        // 8..=64 (a varint's longest header, 10 bytes, is cut to 8: its
        // frames never take `FastHead::frame`).
        let bits = 8 * codec.format.size().min(8) as u32;
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
            varint_limit: codec.raw_span.min(0x7f),
        }
    }

    /// The whole frame at the front of `rest` (its first `num_skip` bytes
    /// dropped) and the input after it, if its header is valid and all of
    /// it is there; `None` otherwise (the general step decides). Exactly
    /// the general step's `Frame` result.
    #[inline(always)]
    fn frame<'a>(&self, rest: &'a [u8]) -> Option<Split<'a>> {
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
        let (whole, after) = rest.split_at_checked(end)?;
        // num_skip <= header_len <= end (checked by the builder).
        Some((&whole[self.num_skip..], after))
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
        if let Some((frame, after)) = self.fast.frame_of(self.mode, self.rest) {
            self.rest = after;
            return Some(Ok(frame));
        }
        // By value in and out, not `&mut self`: the iterator's address
        // never escapes into a call, so the caller's loop keeps it in
        // registers.
        let (item, rest, mode) = next_in_general(self.decoder, self.rest, self.mode, self.plain);
        self.rest = rest;
        self.mode = mode;
        item
    }
}

/// `next` for everything but a whole valid frame at a boundary: the
/// decoder's general step over `rest` until a frame, an error or the end.
/// Returns the item, the input left and the path for the next call (the
/// plain one once the decoder is between frames again). Kept out of line,
/// so the loop around the fast path stays small.
#[cold]
#[inline(never)]
fn next_in_general<'a>(
    decoder: &mut FrameDecoder,
    mut rest: &'a [u8],
    mode: Plain,
    plain: Plain,
) -> (Option<Result<&'a [u8]>>, &'a [u8], Plain) {
    if mode == Plain::Done {
        return (None, rest, Plain::Done);
    }
    loop {
        match decoder.step(rest) {
            Ok(Step::Frame { start, end }) => {
                // After a frame the decoder is between frames (`Head`).
                return (Some(Ok(&rest[start..end])), &rest[end..], plain);
            }
            Ok(Step::Discard(n)) => rest = &rest[n..],
            Ok(Step::Need) => return (None, rest, Plain::Done),
            Err(fault) => return (Some(Err(fault.into())), rest, Plain::Done),
        }
    }
}

/// The fast path against the general step: for every header format and
/// every option of [`CodecBuilder`](crate::CodecBuilder), over streams of
/// valid frames, headers at and around every limit, garbage and cuts, fed
/// whole or in random chunks, `frames()` must give exactly what the
/// decoder's general step (`decode_slice` in a loop) gives: the same
/// frames and errors in the same order, the same bytes consumed, the same
/// decoder state after every pass and the same end-of-stream verdict.
#[cfg(test)]
mod tests {
    use std::format;
    use std::string::String;
    use std::vec::Vec;

    use proptest::prelude::*;

    use crate::{Codec, FrameDecoder, Oversize, DEFAULT_MAX_FRAME_LEN};

    /// Every byte order character and every integer code the library takes.
    const ORDERS: [char; 5] = ['@', '=', '<', '>', '!'];
    const CODES: [char; 10] = ['b', 'B', 'h', 'H', 'i', 'I', 'l', 'L', 'q', 'Q'];

    /// One thing a pass over the buffer produced, or the decoder's state
    /// after it.
    #[derive(Debug, PartialEq)]
    enum Event {
        Frame(Vec<u8>),
        Error(String),
        /// End of one pass: bytes consumed, then `needed`, `is_failed` and
        /// `is_at_boundary` for what is left.
        Pass(usize, usize, bool, bool),
        /// The end-of-stream verdict on what is left at the end.
        End(String),
    }

    /// One pass of `frames()` over `buf`; returns the bytes consumed and
    /// whether it produced anything.
    fn pass_frames(dec: &mut FrameDecoder, buf: &[u8], log: &mut Vec<Event>) -> (usize, bool) {
        let mut it = dec.frames(buf);
        let mut any = false;
        for item in &mut it {
            any = true;
            log.push(match item {
                Ok(frame) => Event::Frame(frame.to_vec()),
                Err(e) => Event::Error(format!("{e:?}")),
            });
        }
        let consumed = it.consumed();
        assert_eq!(it.remainder(), &buf[consumed..]);
        (consumed, any)
    }

    /// The same pass through the general step: `decode_slice` until it
    /// needs more input or returns an error.
    fn pass_general(dec: &mut FrameDecoder, buf: &[u8], log: &mut Vec<Event>) -> (usize, bool) {
        let mut pos = 0;
        let mut any = false;
        loop {
            match dec.decode_slice(&buf[pos..]) {
                Ok(d) => {
                    pos += d.consumed;
                    match d.frame {
                        Some(frame) => {
                            any = true;
                            log.push(Event::Frame(frame.to_vec()));
                        }
                        None if d.consumed == 0 => return (pos, any),
                        None => {}
                    }
                }
                Err(e) => {
                    log.push(Event::Error(format!("{e:?}")));
                    return (pos, true);
                }
            }
        }
    }

    type Pass = fn(&mut FrameDecoder, &[u8], &mut Vec<Event>) -> (usize, bool);

    /// Feeds `wire` cut at `cuts` through passes of `pass` as a reader
    /// would: after each arrival, passes until one makes no progress or
    /// the decoder has failed; consumed bytes are dropped after each pass.
    fn run(codec: Codec, wire: &[u8], cuts: &[usize], pass: Pass) -> Vec<Event> {
        let mut dec = codec.new_decoder();
        let mut buf = Vec::new();
        let mut log = Vec::new();
        let mut from = 0;
        for &to in cuts.iter().chain([&wire.len()]) {
            let to = to.clamp(from, wire.len());
            buf.extend_from_slice(&wire[from..to]);
            from = to;
            loop {
                let (consumed, any) = pass(&mut dec, &buf, &mut log);
                buf.drain(..consumed);
                log.push(Event::Pass(
                    consumed,
                    dec.needed(buf.len()),
                    dec.is_failed(),
                    dec.is_at_boundary(),
                ));
                if dec.is_failed() || (!any && consumed == 0) {
                    break;
                }
            }
        }
        log.push(Event::End(format!("{:?}", dec.end_of_stream(&buf))));
        log
    }

    /// A small deterministic generator (xorshift64*), so one seed is one
    /// stream.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// A stream for `codec` from `seed`: valid frames, headers at and
    /// around the limits of the valid range (negative, too large,
    /// adjustment underflow), random headers and garbage, each header
    /// followed by up to 64 payload bytes (the declared length when it is
    /// that small, so valid frames dominate).
    fn stream(codec: &Codec, seed: u64) -> Vec<u8> {
        let mut rng = Rng(seed | 1);
        let size = codec.format.size();
        let bits = 8 * size as u32;
        let field_mask = u64::MAX >> (64 - bits);
        let (lo, span) = (codec.raw_lo, codec.raw_span);
        let mut wire = Vec::new();
        for _ in 0..rng.below(24) {
            let raw = match rng.below(16) {
                // A valid frame, short enough to be whole in the stream.
                0..=8 => lo + rng.below(span.min(40) + 1),
                9 => lo.wrapping_sub(1),
                10 => lo.wrapping_add(span),
                11 => lo.wrapping_add(span).wrapping_add(1),
                12 => field_mask,
                13 => 1 << (bits - 1),
                14 => {
                    // Raw garbage instead of a frame.
                    for _ in 0..rng.below(12) {
                        wire.push(rng.next() as u8);
                    }
                    continue;
                }
                _ => rng.next(),
            } & field_mask;
            for _ in 0..codec.offset {
                wire.push(rng.next() as u8);
            }
            let field = if codec.format.is_big_endian() {
                raw.to_be_bytes()[8 - size..].to_vec()
            } else {
                raw.to_le_bytes()[..size].to_vec()
            };
            wire.extend_from_slice(&field);
            let declared = raw.wrapping_sub(codec.adjustment as u64);
            let payload = if declared <= 64 && rng.below(8) != 0 {
                declared
            } else {
                rng.below(65)
            };
            for _ in 0..payload {
                wire.push(rng.next() as u8);
            }
        }
        wire
    }

    /// Cut points for `wire` from `seed`: none (the whole stream in one
    /// buffer, where the fast path does the most) or a few random ones.
    fn cuts(len: usize, seed: u64) -> Vec<usize> {
        let mut rng = Rng(seed.rotate_left(17) | 1);
        let mut cuts: Vec<usize> = match rng.below(3) {
            0 => Vec::new(),
            1 => (0..rng.below(6))
                .map(|_| rng.below(len as u64 + 1) as usize)
                .collect(),
            _ => (0..len).step_by(1 + rng.below(9) as usize).collect(),
        };
        cuts.sort_unstable();
        cuts
    }

    /// A configuration, or `None` if the builder refuses it.
    #[allow(clippy::too_many_arguments)]
    fn config(
        order: char,
        code: char,
        offset: usize,
        num_skip: Option<usize>,
        adjustment: i64,
        includes_header: bool,
        max: usize,
        oversize: Oversize,
    ) -> Option<Codec> {
        let format = format!("{order}{code}").parse().unwrap();
        let mut b = Codec::builder();
        b.format(format)
            .length_field_offset(offset)
            .length_adjustment(adjustment)
            .length_includes_header(includes_header)
            .max_frame_len(max)
            .oversize(oversize);
        if let Some(n) = num_skip {
            b.num_skip(n);
        }
        b.build().ok()
    }

    fn check(codec: Codec, seed: u64) {
        let wire = stream(&codec, seed);
        let cuts = cuts(wire.len(), seed);
        let fast = run(codec, &wire, &cuts, pass_frames);
        let general = run(codec, &wire, &cuts, pass_general);
        assert_eq!(
            fast, general,
            "{codec:?}, seed {seed}, wire {wire:02x?}, cuts {cuts:?}"
        );
    }

    const MAXES: [usize; 7] = [0, 1, 5, 40, 300, DEFAULT_MAX_FRAME_LEN, usize::MAX];

    /// The grid's settings besides the format: offset, num_skip (`None`:
    /// the default, the whole header), adjustment with
    /// `length_includes_header`, max_frame_len, oversize policy.
    const OFFSETS: [usize; 2] = [0, 3];
    const SKIPS: [Option<usize>; 3] = [None, Some(0), Some(1)];
    const ADJUSTMENTS: [(i64, bool); 4] = [(0, false), (-2, false), (3, false), (0, true)];
    const GRID_MAXES: [usize; 4] = [0, 5, 300, usize::MAX];
    const POLICIES: [Oversize; 2] = [Oversize::Error, Oversize::Skip];
    const GRID: usize = ORDERS.len()
        * CODES.len()
        * OFFSETS.len()
        * SKIPS.len()
        * ADJUSTMENTS.len()
        * GRID_MAXES.len()
        * POLICIES.len();

    /// Point `i` of the grid of every format with every setting above (in
    /// mixed radix), or `None` if the builder refuses that combination.
    fn grid_point(mut i: usize) -> Option<Codec> {
        let mut pick = |n: usize| {
            let k = i % n;
            i /= n;
            k
        };
        let order = ORDERS[pick(ORDERS.len())];
        let code = CODES[pick(CODES.len())];
        let offset = OFFSETS[pick(OFFSETS.len())];
        let num_skip = SKIPS[pick(SKIPS.len())];
        let (adjustment, includes_header) = ADJUSTMENTS[pick(ADJUSTMENTS.len())];
        let max = GRID_MAXES[pick(GRID_MAXES.len())];
        let oversize = POLICIES[pick(POLICIES.len())];
        config(
            order,
            code,
            offset,
            num_skip,
            adjustment,
            includes_header,
            max,
            oversize,
        )
    }

    /// Every format with every setting of the grid, a few streams each.
    #[test]
    fn frames_equal_the_general_step_for_every_format_and_option() {
        // Under Miri, one point in 97: about a hundred, every format among
        // them (97 is prime to the format's radix of 50).
        let (every, streams) = if cfg!(miri) { (97, 1) } else { (1, 3) };
        let mut seed = 1u64;
        let mut configs = 0;
        for codec in (0..GRID).step_by(every).filter_map(grid_point) {
            configs += 1;
            for _ in 0..streams {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005) + 1;
                check(codec, seed);
            }
        }
        // Refused combinations (a 1-byte field with max 0 and adjustment
        // -2, ...) are few: the grid is not hollow.
        assert!(cfg!(miri) || configs >= 9_000, "{configs} configurations");
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: if cfg!(miri) { 2 } else { 2_000 },
            max_global_rejects: 100_000,
            ..ProptestConfig::default()
        })]

        /// Random configurations, extreme ones included.
        #[test]
        fn frames_equal_the_general_step_for_random_configs(
            order in prop::sample::select(&ORDERS[..]),
            code in prop::sample::select(&CODES[..]),
            offset in prop_oneof![4 => 0usize..=2, 1 => 0usize..=56],
            num_skip in prop::option::of(0usize..=12),
            adjustment in prop_oneof![
                4 => -8i64..=8,
                1 => any::<i64>(),
                1 => prop::sample::select(&[i64::MIN, i64::MAX, -255, 255, -65_536][..]),
            ],
            includes_header in any::<bool>(),
            max in prop_oneof![
                2 => prop::sample::select(&MAXES[..]),
                1 => any::<usize>(),
            ],
            skip in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let oversize = if skip { Oversize::Skip } else { Oversize::Error };
            // A num_skip within the header, most of the time.
            let size = format!("{order}{code}").parse::<crate::HeaderFormat>().unwrap().size();
            let num_skip = num_skip.map(|n| if n > 10 { n } else { n % (offset + size + 1) });
            let codec = config(order, code, offset, num_skip, adjustment, includes_header, max, oversize);
            // Refused configurations (an adjustment out of the field's
            // range, ...) are skipped, not counted.
            prop_assume!(codec.is_some());
            check(codec.unwrap(), seed);
        }
    }
}
