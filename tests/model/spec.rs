//! The reference model: what a byte stream means under a `Codec`, written
//! from the wire format's definition and never calling lenframe's decoder.
//!
//! Only the codec's accessors are used (the format's kind, size, signedness
//! and byte order, the offset, `num_skip`, the adjustment, the maximum and
//! the policy): the header parsing (fixed-size integers and LEB128
//! varints), the limits, the event sequence and the end-of-stream verdicts
//! are all computed here.
//!
//! The input is parsed once into [`Item`]s (one per complete header); a
//! [`Cursor`] then walks them, one call at a time, with the limit of the
//! call that makes the step (`max_frame_len` for buffered frames, the
//! stream limit for streamed ones).

use lenframe::{Codec, Error, FramePart, HeaderKind, Oversize};

use super::coverage::{hit, C};

/// What one complete header says, whatever the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// A payload of this many bytes.
    Len(u64),
    /// A negative value in a signed format.
    Negative(i64),
    /// Value minus adjustment is below zero or above `u64::MAX`.
    Adjustment { value: u64, adjustment: i64 },
    /// A varint header no varint writer produces, proven so by its first
    /// `len` bytes.
    BadVarint { bad: Bad, len: u64 },
}

/// Why a varint header is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// Every byte up to the longest header (10, or 9 strict) says more follow.
    TooLong,
    /// The value needs more than 64 bits (protobuf rules, 10th byte).
    Overflow,
    /// Strict rules: a last byte of 0 after others.
    NotMinimal,
}

/// The rules a varint header is read by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// protobuf: at most 10 bytes, a value within 64 bits, any encoding.
    Protobuf,
    /// multiformats unsigned-varint: at most 9 bytes, minimal encoding.
    Strict,
}

impl Rules {
    /// The longest header the rules accept.
    pub fn max_len(self) -> usize {
        match self {
            Rules::Protobuf => 10,
            Rules::Strict => 9,
        }
    }
}

/// A complete header found in the input at `start`: `hl` bytes (the
/// codec's header region for a fixed format; for a varint, the bytes that
/// decide it: the whole varint, or as far as it is proven bad).
#[derive(Debug, Clone, Copy)]
pub struct Item {
    pub start: usize,
    pub hl: usize,
    pub head: Head,
}

impl Item {
    /// The end of this frame if it carries `len` payload bytes.
    pub fn end(&self, len: u64) -> u128 {
        self.start as u128 + self.hl as u128 + u128::from(len)
    }
}

/// The shortest unsigned LEB128 of `value`: the model's own encoder.
pub fn leb128(value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = u128::from(value);
    loop {
        let group = (rest % 128) as u8;
        rest /= 128;
        if rest == 0 {
            out.push(group);
            return out;
        }
        out.push(group | 0x80);
    }
}

/// How `bytes` starts as a varint under `rules`: `Some((head, bytes that
/// decide it))`, or `None` if more bytes are needed to tell. Written from
/// the definition (a sum of 7-bit groups in a u128), not as lenframe's
/// shift-and-mask loop.
pub fn read_varint(bytes: &[u8], rules: Rules) -> Option<(Head, usize)> {
    let most = rules.max_len();
    let mut value: u128 = 0;
    let mut scale: u128 = 1;
    for (i, &b) in bytes.iter().enumerate().take(most) {
        let n = i + 1;
        let more = b >= 128;
        value += u128::from(b % 128) * scale;
        scale *= 128;
        if more {
            if n == most {
                return Some((bad(Bad::TooLong, n), n));
            }
            continue;
        }
        if value > u128::from(u64::MAX) {
            return Some((bad(Bad::Overflow, n), n));
        }
        if rules == Rules::Strict && n > 1 && b == 0 {
            return Some((bad(Bad::NotMinimal, n), n));
        }
        return Some((Head::Len(value as u64), n));
    }
    None
}

fn bad(bad: Bad, len: usize) -> Head {
    Head::BadVarint {
        bad,
        len: len as u64,
    }
}

/// A decoding failure the model predicts, in the numbers lenframe reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    TooLarge {
        len: u64,
        max: u64,
    },
    /// Encoding: a payload over the limit (`Error::FrameTooLargeToSend`).
    TooLargeToSend {
        len: u64,
        max: u64,
    },
    Negative {
        value: i64,
    },
    Adjustment {
        value: u64,
        adjustment: i64,
    },
    Truncated {
        part: FramePart,
        got: u64,
        expected: u64,
    },
    BadVarint {
        bad: Bad,
        len: u64,
    },
}

impl Fault {
    /// True if `e` is exactly this fault.
    pub fn is(&self, e: &Error) -> bool {
        match (*self, e) {
            (Fault::TooLarge { len, max }, Error::FrameTooLarge { len: l, max: m }) => {
                (len, max) == (*l, *m)
            }
            (Fault::TooLargeToSend { len, max }, Error::FrameTooLargeToSend { len: l, max: m }) => {
                (len, max) == (*l, *m)
            }
            (Fault::Negative { value }, Error::NegativeLength { value: v }) => value == *v,
            (
                Fault::Adjustment { value, adjustment },
                Error::AdjustmentOverflow {
                    value: v,
                    adjustment: a,
                },
            ) => (value, adjustment) == (*v, *a),
            (
                Fault::Truncated {
                    part,
                    got,
                    expected,
                },
                Error::Truncated {
                    part: p,
                    got: g,
                    expected: x,
                },
            ) => (part, got, expected) == (*p, *g, *x),
            // The reason is prose: only its gist is compared.
            (Fault::BadVarint { bad, len }, Error::BadVarint { reason, len: l }) => {
                let gist = match bad {
                    Bad::TooLong => "no end within",
                    Bad::Overflow => "64 bits",
                    Bad::NotMinimal => "not minimal",
                };
                len == *l && reason.contains(gist)
            }
            _ => false,
        }
    }
}

/// What the next call must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ev {
    /// A buffered frame: `input[start..end]` (header bytes after
    /// `num_skip`, then the payload).
    Frame { start: usize, end: usize },
    /// A streamed frame begins: its bytes are `input[start..start + len]`
    /// (they may run past the end of the input: the stream is then cut).
    Stream { start: usize, len: u64 },
    /// An oversize frame under `Oversize::Skip`: reported once, skipped.
    Skipped { len: u64, max: u64 },
    /// A fatal error, or the truncated end (both repeat on later calls).
    Fail(Fault),
    /// The input ends cleanly here.
    Clean,
    /// Not decidable from the bytes available yet (decoder faces only).
    NeedMore,
}

/// Which limit a call applies to the header it meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `max_frame_len`: buffered frames (every face but the streaming one).
    Buffered,
    /// A streamed frame with this `max_len` (clamped per frame by
    /// `stream_limit_at`).
    Stream(u64),
}

/// Where a consumer is between two calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// At the start of `items[next]` (or of the tail).
    Boundary,
    /// `items[next]` was reported oversize: its bytes are being discarded.
    Skipping,
    /// `items[next]` is being streamed; `yielded` of its bytes were passed.
    Streaming { yielded: u64 },
}

/// One consumer's progress through the model.
#[derive(Debug, Clone, Copy)]
pub struct Cursor {
    pub next: usize,
    pub phase: Phase,
    /// A fatal error, returned by every later call.
    pub fatal: Option<Fault>,
}

impl Cursor {
    pub fn new() -> Cursor {
        Cursor {
            next: 0,
            phase: Phase::Boundary,
            fatal: None,
        }
    }
}

/// The input, parsed.
#[derive(Debug)]
pub struct Wire<'a> {
    pub input: &'a [u8],
    pub items: Vec<Item>,
    /// Where parsing stopped: the start of an incomplete header (or the end
    /// of the input) unless the last item is fatal or cut short.
    pub tail: usize,
    pub hl: usize,
    pub skip: usize,
    offset: usize,
    size: usize,
    signed: bool,
    big: bool,
    pub adj: i64,
    pub max: u64,
    pub policy: Oversize,
    /// `Some` for a varint header, with its rules.
    pub varint: Option<Rules>,
}

impl<'a> Wire<'a> {
    /// Parses `input` under `codec`.
    pub fn parse(codec: &Codec, input: &'a [u8]) -> Wire<'a> {
        let f = codec.format();
        let mut w = Wire {
            input,
            items: Vec::new(),
            tail: 0,
            hl: codec.length_field_offset() + f.size(),
            skip: codec.num_skip(),
            offset: codec.length_field_offset(),
            size: f.size(),
            signed: f.is_signed(),
            big: f.is_big_endian(),
            adj: codec.length_adjustment(),
            max: codec.max_frame_len() as u64,
            policy: codec.oversize(),
            varint: match f.kind() {
                HeaderKind::Fixed => None,
                HeaderKind::Varint => Some(Rules::Protobuf),
                HeaderKind::StrictVarint => Some(Rules::Strict),
                other => panic!("a header kind the model does not know: {other:?}"),
            },
        };
        assert_eq!(w.hl, codec.header_len(), "header region = offset + field");
        if let Some(rules) = w.varint {
            // The longest header, dropped whole or kept whole.
            assert_eq!(w.hl, rules.max_len(), "a varint's header_len");
            assert!(w.skip == 0 || w.skip == w.hl, "varint num_skip {}", w.skip);
            assert_eq!(
                (w.offset, w.adj),
                (0, 0),
                "a varint has no offset or adjustment"
            );
        }
        let mut pos = 0usize;
        while let Some((head, hl)) = w.item_at(&input[pos..]) {
            let item = Item {
                start: pos,
                hl,
                head,
            };
            w.items.push(item);
            let Head::Len(len) = head else { break };
            let end = item.end(len);
            if end > input.len() as u128 {
                break;
            }
            pos = end as usize;
        }
        w.tail = pos;
        w
    }

    /// The header at the front of `bytes` and how many bytes decide it;
    /// `None` if they are too few.
    fn item_at(&self, bytes: &[u8]) -> Option<(Head, usize)> {
        match self.varint {
            Some(rules) => read_varint(bytes, rules),
            None if bytes.len() >= self.hl => Some((self.head(&bytes[..self.hl]), self.hl)),
            None => None,
        }
    }

    /// Header bytes of `it` dropped from its frame: `num_skip` for a
    /// fixed header; all or none of a varint.
    pub fn skip_of(&self, it: &Item) -> usize {
        match self.varint {
            Some(_) if self.skip == 0 => 0,
            Some(_) => it.hl,
            None => self.skip,
        }
    }

    /// Header bytes of `it` kept in its frame.
    pub fn kept(&self, it: &Item) -> usize {
        it.hl - self.skip_of(it)
    }

    /// Largest value the length field can hold.
    pub fn field_max(&self) -> u64 {
        match self.varint {
            Some(Rules::Protobuf) => return u64::MAX,
            Some(Rules::Strict) => return (1 << 63) - 1,
            None => {}
        }
        let bits = 8 * self.size as u32 - u32::from(self.signed);
        if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        }
    }

    /// The limit of a streamed frame with `kept` header bytes: `max_len`,
    /// but no more than the largest payload the header can express with
    /// the adjustment, nor more than leaves the frame's length (kept
    /// header bytes + payload) a `u64`.
    pub fn stream_limit_at(&self, max_len: u64, kept: usize) -> u64 {
        let expressible = i128::from(self.field_max()) - i128::from(self.adj);
        let room = i128::from(u64::MAX) - kept as i128;
        i128::from(max_len).min(expressible).min(room) as u64
    }

    /// `stream_limit_at` for the codec's header region (for a varint,
    /// whose frames keep 0 to 10 bytes, with none kept).
    pub fn stream_limit(&self, max_len: u64) -> u64 {
        let kept = if self.varint.is_some() {
            0
        } else {
            self.hl - self.skip
        };
        self.stream_limit_at(max_len, kept)
    }

    /// What a header region says.
    pub fn head(&self, header: &[u8]) -> Head {
        let field = &header[self.offset..self.offset + self.size];
        let mut raw = 0u64;
        if self.big {
            for &b in field {
                raw = raw << 8 | u64::from(b);
            }
        } else {
            for &b in field.iter().rev() {
                raw = raw << 8 | u64::from(b);
            }
        }
        let bits = 8 * self.size as u32;
        if self.signed && (raw >> (bits - 1)) & 1 == 1 {
            // Sign-extend.
            let ext = if bits == 64 {
                raw
            } else {
                raw | (u64::MAX << bits)
            };
            return Head::Negative(ext as i64);
        }
        let len = i128::from(raw) - i128::from(self.adj);
        match u64::try_from(len) {
            Ok(len) => Head::Len(len),
            Err(_) => Head::Adjustment {
                value: raw,
                adjustment: self.adj,
            },
        }
    }

    /// Bytes of a frame that the caller gets (header after `num_skip`,
    /// then the payload).
    pub fn frame_bytes(&self, it: &Item, len: u64) -> u64 {
        self.kept(it) as u64 + len
    }

    /// The header region for a payload of `len` bytes, offset bytes taken
    /// from `fill` (zeros on the writing side); `None` if the field cannot
    /// carry `len + adjustment`.
    pub fn header_for(&self, len: u64, fill: &[u8]) -> Option<Vec<u8>> {
        let value = i128::from(len) + i128::from(self.adj);
        let value = u64::try_from(value)
            .ok()
            .filter(|&v| v <= self.field_max())?;
        Some(self.header_raw(value, fill))
    }

    /// A header region carrying the raw bits `value` (any value: negative
    /// signed values are passed as their two's complement bits; for a
    /// varint, its shortest encoding).
    pub fn header_raw(&self, value: u64, fill: &[u8]) -> Vec<u8> {
        if self.varint.is_some() {
            return leb128(value);
        }
        let mut out: Vec<u8> = (0..self.offset)
            .map(|i| fill.get(i).copied().unwrap_or(0))
            .collect();
        let bytes = value.to_le_bytes();
        let field = &bytes[..self.size];
        if self.big {
            out.extend(field.iter().rev());
        } else {
            out.extend_from_slice(field);
        }
        out
    }

    /// The limit value of a call, for the frame `it`.
    pub fn limit(&self, limit: Limit, it: &Item) -> u64 {
        match limit {
            Limit::Buffered => self.max,
            Limit::Stream(m) => self.stream_limit_at(m, self.kept(it)),
        }
    }

    /// The start of what `cur` looks at next.
    pub fn start_of(&self, cur: &Cursor) -> usize {
        self.items.get(cur.next).map_or(self.tail, |it| it.start)
    }

    /// Inclusive bounds of a consumer's position in the input between
    /// calls: exact at a boundary, anywhere inside a frame being discarded
    /// or streamed.
    pub fn bounds(&self, cur: &Cursor) -> (usize, usize) {
        let start = self.start_of(cur);
        match (cur.phase, self.items.get(cur.next)) {
            (Phase::Skipping | Phase::Streaming { .. }, Some(it)) => {
                let Head::Len(len) = it.head else {
                    unreachable!("only frames are skipped or streamed")
                };
                let end = it.end(len).min(self.input.len() as u128);
                (start, end as usize)
            }
            _ => (start, start),
        }
    }

    /// The next event for a call with `limit`, when `avail` bytes of the
    /// input have arrived and `eof` says whether that is all. Advances
    /// `cur` past what the call consumes.
    pub fn step(&self, cur: &mut Cursor, limit: Limit, avail: usize, eof: bool) -> Ev {
        if let Some(f) = cur.fatal {
            return Ev::Fail(f);
        }
        loop {
            let item = self.items.get(cur.next).copied();
            if cur.phase != Phase::Boundary {
                // Finish discarding the frame skipped or abandoned.
                let it = item.expect("a skipped or streamed frame is an item");
                let Head::Len(len) = it.head else {
                    unreachable!()
                };
                if it.end(len) <= avail as u128 {
                    cur.next += 1;
                    cur.phase = Phase::Boundary;
                    continue;
                }
                return self.cut_payload(&it, len, avail, eof);
            }
            let start = item.map_or(self.tail, |it| it.start);
            debug_assert!(start <= avail);
            let Some(it) = item.filter(|it| avail - start >= it.hl) else {
                if !eof {
                    return Ev::NeedMore;
                }
                if avail == start {
                    return Ev::Clean;
                }
                let got = (avail - start) as u64;
                // A varint cut short: every byte so far said one more follows.
                let expected = match self.varint {
                    Some(_) => {
                        hit(C::varint_truncated_header);
                        got + 1
                    }
                    None => self.hl as u64,
                };
                return Ev::Fail(Fault::Truncated {
                    part: FramePart::Header,
                    got,
                    expected,
                });
            };
            let len = match it.head {
                Head::Negative(value) => return self.fatal(cur, Fault::Negative { value }),
                Head::Adjustment { value, adjustment } => {
                    return self.fatal(cur, Fault::Adjustment { value, adjustment });
                }
                Head::BadVarint { bad, len } => {
                    return self.fatal(cur, Fault::BadVarint { bad, len });
                }
                Head::Len(len) => len,
            };
            let max = self.limit(limit, &it);
            if len > max {
                if self.policy == Oversize::Skip {
                    if self.varint.is_some() {
                        hit(C::varint_oversize_skip);
                    }
                    cur.phase = Phase::Skipping;
                    return Ev::Skipped { len, max };
                }
                return self.fatal(cur, Fault::TooLarge { len, max });
            }
            if let Limit::Stream(_) = limit {
                self.count_varint_frame(&it, len);
                if self.varint.is_some() {
                    hit(C::varint_stream);
                }
                cur.phase = Phase::Streaming { yielded: 0 };
                return Ev::Stream {
                    start: start + self.skip_of(&it),
                    len: self.frame_bytes(&it, len),
                };
            }
            let end = it.end(len);
            if end <= avail as u128 {
                self.count_varint_frame(&it, len);
                cur.next += 1;
                return Ev::Frame {
                    start: start + self.skip_of(&it),
                    end: end as usize,
                };
            }
            return self.cut_payload(&it, len, avail, eof);
        }
    }

    /// Counts what a varint frame handed out exercised.
    fn count_varint_frame(&self, it: &Item, len: u64) {
        if self.varint.is_none() {
            return;
        }
        if it.hl > 1 {
            hit(C::varint_multi_byte_frame);
        }
        if it.hl > leb128(len).len() {
            hit(C::varint_non_minimal_accepted);
        }
    }

    fn fatal(&self, cur: &mut Cursor, f: Fault) -> Ev {
        cur.fatal = Some(f);
        Ev::Fail(f)
    }

    /// A frame whose payload has not all arrived.
    fn cut_payload(&self, it: &Item, len: u64, avail: usize, eof: bool) -> Ev {
        if !eof {
            return Ev::NeedMore;
        }
        Ev::Fail(Fault::Truncated {
            part: FramePart::Payload,
            got: (avail - it.start - it.hl) as u64,
            expected: len,
        })
    }

    /// How many more bytes a decoder waiting at `pos` (with `buffered`
    /// bytes) needs before its next step: the rest of the header (for a
    /// varint, whose length shows only as its bytes arrive, one more
    /// byte), of the frame, or of the discard. Only meaningful right after
    /// a step that needed more.
    pub fn needed(&self, cur: &Cursor, pos: usize, buffered: usize) -> u128 {
        let have = (pos + buffered) as u128;
        let start = self.start_of(cur) as u128;
        let target = match self.items.get(cur.next) {
            Some(it) if have >= it.end(0) => match it.head {
                Head::Len(len) => it.end(len),
                // (A bad header fails at once: no call waits on it.)
                _ => it.end(0),
            },
            _ if self.varint.is_some() => have + 1,
            _ => start + self.hl as u128,
        };
        target.saturating_sub(have)
    }
}
