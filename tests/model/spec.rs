//! The reference model: what a byte stream means under a `Codec`, written
//! from the wire format's definition and never calling lenframe's decoder.
//!
//! Only the codec's accessors are used (the format's size, signedness and
//! byte order, the offset, `num_skip`, the adjustment, the maximum and the
//! policy): the header parsing, the limits, the event sequence and the
//! end-of-stream verdicts are all computed here.
//!
//! The input is parsed once into [`Item`]s (one per complete header); a
//! [`Cursor`] then walks them, one call at a time, with the limit of the
//! call that makes the step (`max_frame_len` for buffered frames, the
//! stream limit for streamed ones).

use lenframe::{Codec, Error, FramePart, Oversize};

/// What one complete header says, whatever the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// A payload of this many bytes.
    Len(u64),
    /// A negative value in a signed format.
    Negative(i64),
    /// Value minus adjustment is below zero or above `u64::MAX`.
    Adjustment { value: u64, adjustment: i64 },
}

/// A complete header found in the input at `start`.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    pub start: usize,
    pub head: Head,
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
    /// A streamed frame with this limit (already clamped by `stream_limit`).
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
        };
        assert_eq!(w.hl, codec.header_len(), "header region = offset + field");
        let mut pos = 0usize;
        while input.len() - pos >= w.hl {
            let head = w.head(&input[pos..pos + w.hl]);
            w.items.push(Item { start: pos, head });
            let Head::Len(len) = head else { break };
            let end = w.end_of(pos, len);
            if end > input.len() as u128 {
                break;
            }
            pos = end as usize;
        }
        w.tail = pos;
        w
    }

    /// Largest value the length field can hold.
    pub fn field_max(&self) -> u64 {
        let bits = 8 * self.size as u32 - u32::from(self.signed);
        if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        }
    }

    /// The limit of a streamed frame: `max_len`, but no more than the
    /// largest payload the header can express with the adjustment, nor
    /// more than leaves the frame's length (kept header bytes + payload)
    /// a `u64`.
    pub fn stream_limit(&self, max_len: u64) -> u64 {
        let expressible = i128::from(self.field_max()) - i128::from(self.adj);
        let room = i128::from(u64::MAX) - (self.hl - self.skip) as i128;
        i128::from(max_len).min(expressible).min(room) as u64
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

    /// The end of a frame of `len` payload bytes starting at `start`.
    pub fn end_of(&self, start: usize, len: u64) -> u128 {
        start as u128 + self.hl as u128 + u128::from(len)
    }

    /// Bytes of a frame that the caller gets (header after `num_skip`,
    /// then the payload).
    pub fn frame_bytes(&self, len: u64) -> u64 {
        (self.hl - self.skip) as u64 + len
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
    /// signed values are passed as their two's complement bits).
    pub fn header_raw(&self, value: u64, fill: &[u8]) -> Vec<u8> {
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

    /// The limit value of a call.
    pub fn limit(&self, limit: Limit) -> u64 {
        match limit {
            Limit::Buffered => self.max,
            Limit::Stream(m) => m,
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
                let end = self.end_of(it.start, len).min(self.input.len() as u128);
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
        let hl = self.hl as u64;
        loop {
            let item = self.items.get(cur.next).copied();
            if cur.phase != Phase::Boundary {
                // Finish discarding the frame skipped or abandoned.
                let it = item.expect("a skipped or streamed frame is an item");
                let Head::Len(len) = it.head else {
                    unreachable!()
                };
                if self.end_of(it.start, len) <= avail as u128 {
                    cur.next += 1;
                    cur.phase = Phase::Boundary;
                    continue;
                }
                return self.cut_payload(it.start, len, avail, eof);
            }
            let start = item.map_or(self.tail, |it| it.start);
            debug_assert!(start <= avail);
            let Some(it) = item.filter(|_| avail - start >= self.hl) else {
                if !eof {
                    return Ev::NeedMore;
                }
                if avail == start {
                    return Ev::Clean;
                }
                return Ev::Fail(Fault::Truncated {
                    part: FramePart::Header,
                    got: (avail - start) as u64,
                    expected: hl,
                });
            };
            let len = match it.head {
                Head::Negative(value) => return self.fatal(cur, Fault::Negative { value }),
                Head::Adjustment { value, adjustment } => {
                    return self.fatal(cur, Fault::Adjustment { value, adjustment });
                }
                Head::Len(len) => len,
            };
            let max = self.limit(limit);
            if len > max {
                if self.policy == Oversize::Skip {
                    cur.phase = Phase::Skipping;
                    return Ev::Skipped { len, max };
                }
                return self.fatal(cur, Fault::TooLarge { len, max });
            }
            if let Limit::Stream(_) = limit {
                cur.phase = Phase::Streaming { yielded: 0 };
                return Ev::Stream {
                    start: start + self.skip,
                    len: self.frame_bytes(len),
                };
            }
            let end = self.end_of(start, len);
            if end <= avail as u128 {
                cur.next += 1;
                return Ev::Frame {
                    start: start + self.skip,
                    end: end as usize,
                };
            }
            return self.cut_payload(start, len, avail, eof);
        }
    }

    fn fatal(&self, cur: &mut Cursor, f: Fault) -> Ev {
        cur.fatal = Some(f);
        Ev::Fail(f)
    }

    /// A frame whose payload has not all arrived.
    fn cut_payload(&self, start: usize, len: u64, avail: usize, eof: bool) -> Ev {
        if !eof {
            return Ev::NeedMore;
        }
        Ev::Fail(Fault::Truncated {
            part: FramePart::Payload,
            got: (avail - start - self.hl) as u64,
            expected: len,
        })
    }

    /// How many more bytes a decoder waiting at `pos` (with `buffered`
    /// bytes) needs before its next step: the rest of the header, of the
    /// frame, or of the discard. Only meaningful right after a step that
    /// needed more.
    pub fn needed(&self, cur: &Cursor, pos: usize, buffered: usize) -> u128 {
        let have = (pos + buffered) as u128;
        let item = self.items.get(cur.next);
        let start = self.start_of(cur) as u128;
        let target = match item.map(|it| it.head) {
            Some(Head::Len(len)) if have >= start + self.hl as u128 => {
                self.end_of(start as usize, len)
            }
            _ => start + self.hl as u128,
        };
        target.saturating_sub(have)
    }
}
