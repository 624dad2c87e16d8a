//! The sans-IO `FrameDecoder`: the input fed in random chunks, with random
//! interleavings of every face (`decode`, `decode_slice`, `frames`,
//! `begin_stream` + `consume_stream`, `needed`, `end_of_stream`,
//! `decode_eof`), each result compared with the model.

use bytes::{Buf, BytesMut};
use lenframe::{Codec, Decoded, Error, FrameDecoder, Streamed};

use super::coverage::{hit, C};
use super::dice::Dice;
use super::reader::{count_fault, stream_max};
use super::source::scale;
use super::spec::{Cursor, Ev, Fault, Head, Limit, Phase, Wire};

/// A streamed frame being handed on: `input[start..start + len]`.
#[derive(Debug, Clone, Copy)]
struct Active {
    start: usize,
    len: u64,
}

struct Run<'w, 'a> {
    w: &'w Wire<'a>,
    dec: FrameDecoder,
    buf: BytesMut,
    /// Input offset of `buf[0]`.
    base: usize,
    /// Input bytes appended to `buf` so far.
    fed: usize,
    cur: Cursor,
    active: Option<Active>,
    /// The last step needed more input (and nothing changed since).
    waiting: bool,
    /// The last event was a skip.
    skipped: bool,
    trail: Vec<String>,
}

/// Runs one random sequence of decoder calls over `w.input`.
pub fn run(codec: &Codec, w: &Wire<'_>, d: &mut Dice<'_>) {
    let mut run = Run {
        w,
        dec: codec.new_decoder(),
        buf: BytesMut::new(),
        base: 0,
        fed: 0,
        cur: Cursor::new(),
        active: None,
        waiting: false,
        skipped: false,
        trail: Vec::new(),
    };
    for _ in 0..50_000 {
        let mut op = d.below(24);
        if run.active.is_some() && d.chance(128) {
            op = 17; // hand on a piece of the stream
        }
        let after_skip = std::mem::take(&mut run.skipped);
        if after_skip && d.chance(128) {
            op = 21; // end_of_stream right after a skip
        }
        let all_fed = run.fed == w.input.len();
        match op {
            0..=5 if !all_fed => run.feed(d),
            0..=5 | 23 if all_fed => {
                run.finish();
                return;
            }
            6..=8 => run.decode(),
            9..=11 => run.decode_slice(),
            12..=13 => run.frames(d),
            14..=16 => run.begin_stream(d),
            17..=18 => run.consume_stream(d),
            19 => run.stream_remaining(),
            20 => run.needed(),
            21 => run.end_of_stream(after_skip),
            _ => run.drain_clone(),
        }
        run.check_state();
    }
    panic!("no end after 50000 calls: {:?}", run.trail);
}

impl Run<'_, '_> {
    fn input(&self) -> &[u8] {
        self.w.input
    }

    fn fail(&self, what: &str) -> String {
        format!(
            "{what}\n  calls: {:?}\n  input ({} bytes, {} fed, buffer at {}): {:02x?}",
            self.trail,
            self.input().len(),
            self.fed,
            self.base,
            self.input()
        )
    }

    fn feed(&mut self, d: &mut Dice<'_>) {
        let scale = scale(self.input().len());
        let n = match d.below(4) {
            0 => (1 + d.below(64)) * scale,
            1 => scale,
            2 => (1 + d.below(8)) * scale,
            _ => usize::MAX,
        };
        let n = n.min(self.input().len() - self.fed);
        self.buf
            .extend_from_slice(&self.w.input[self.fed..self.fed + n]);
        self.fed += n;
        self.waiting = false;
        self.trail.push(format!("feed {n}"));
    }

    /// Drops `n` bytes from the front of the buffer.
    fn drop_front(&mut self, n: usize) {
        self.buf.advance(n);
        self.base += n;
    }

    /// The model's next event for a call with `limit` on what is fed.
    fn model(&mut self, limit: Limit) -> Ev {
        let ev = self.w.step(&mut self.cur, limit, self.fed, false);
        self.waiting = ev == Ev::NeedMore;
        ev
    }

    /// Compares an event with an error result.
    fn expect_err(&mut self, ev: Ev, e: &Error) {
        let ok = match ev {
            Ev::Skipped { len, max } => {
                hit(C::ev_skipped);
                self.skipped = true;
                matches!(*e, Error::FrameTooLarge { len: l, max: m } if (l, m) == (len, max))
            }
            Ev::Fail(f) => {
                count_fault(f, true);
                f.is(e)
            }
            _ => false,
        };
        assert!(
            ok,
            "{}",
            self.fail(&format!("model {ev:?}, lenframe {e:?}"))
        );
        // The public verdict a caller's loop goes by: skipped, or fatal.
        hit(C::d_is_skip_report);
        assert_eq!(
            self.dec.is_skip_report(e),
            matches!(ev, Ev::Skipped { .. }),
            "{}",
            self.fail(&format!("is_skip_report after {ev:?}"))
        );
    }

    /// Compares an event with a frame result.
    fn expect_frame(&mut self, ev: Ev, frame: &[u8]) {
        let Ev::Frame { start, end } = ev else {
            panic!("{}", self.fail(&format!("model {ev:?}, lenframe a frame")));
        };
        assert_eq!(frame, &self.input()[start..end], "{}", self.fail("frame"));
        hit(C::ev_frame);
    }

    /// The end of the frame being skipped or streamed, if one is.
    fn pass_end(&self) -> Option<usize> {
        if self.cur.phase == Phase::Boundary || self.cur.fatal.is_some() {
            return None;
        }
        let it = self.w.items[self.cur.next];
        let Head::Len(len) = it.head else {
            unreachable!()
        };
        Some(it.end(len).min(usize::MAX as u128) as usize)
    }

    /// Marks the frame being skipped or streamed done once all of it was
    /// dropped from the buffer.
    fn settle_pass(&mut self) {
        if self.pass_end().is_some_and(|end| self.base >= end) {
            self.cur.next += 1;
            self.cur.phase = Phase::Boundary;
            self.active = None;
        }
    }

    /// A buffered face is called: an unfinished stream is abandoned.
    fn abandon_stream(&mut self) {
        if self.active.take().is_some() {
            hit(C::d_decode_discards_stream);
        }
    }

    fn decode(&mut self) {
        hit(C::d_decode);
        self.trail.push("decode".into());
        self.abandon_stream();
        let before = self.buf.len();
        let res = self.dec.decode(&mut self.buf);
        self.base += before - self.buf.len();
        let ev = self.model(Limit::Buffered);
        match res {
            Ok(Some(f)) => self.expect_frame(ev, &f),
            Ok(None) => assert_eq!(ev, Ev::NeedMore, "{}", self.fail("decode: need more")),
            Err(e) => self.expect_err(ev, &e),
        }
        self.settle_pass();
    }

    /// For the faces that report discards in calls of their own: the
    /// discard the decoder must report now, if any (at most this many).
    fn discard_due(&self) -> Option<usize> {
        let end = self.pass_end()?;
        (self.base < end && !self.buf.is_empty()).then(|| (end - self.base).min(self.buf.len()))
    }

    fn check_discard(&mut self, consumed: usize, due: Option<usize>, what: &str) {
        let Some(most) = due else {
            panic!(
                "{}",
                self.fail(&format!("{what}: discard of {consumed} not due"))
            );
        };
        assert!(consumed <= most, "{}", self.fail(what));
        self.drop_front(consumed);
        self.settle_pass();
    }

    fn decode_slice(&mut self) {
        hit(C::d_decode_slice);
        self.trail.push("decode_slice".into());
        self.abandon_stream();
        self.settle_pass();
        let due = self.discard_due();
        let res = self.dec.decode_slice(&self.buf).map(|d| match d {
            Decoded {
                consumed,
                frame: Some(f),
            } => (
                consumed,
                Some((f.as_ptr() as usize - self.buf.as_ptr() as usize, f.len())),
            ),
            Decoded {
                consumed,
                frame: None,
            } => (consumed, None),
        });
        match res {
            Ok((consumed, None)) if consumed > 0 => {
                hit(C::d_decode_slice_discard);
                self.check_discard(consumed, due, "decode_slice");
            }
            _ if due.is_some() => {
                panic!(
                    "{}",
                    self.fail(&format!("decode_slice gave {res:?}, a discard is due"))
                )
            }
            Ok((_, None)) => {
                let ev = self.model(Limit::Buffered);
                assert_eq!(ev, Ev::NeedMore, "{}", self.fail("decode_slice: need more"));
            }
            Ok((consumed, Some((at, len)))) => {
                let ev = self.model(Limit::Buffered);
                assert_eq!(
                    at + len,
                    consumed,
                    "{}",
                    self.fail("frame ends the consumed bytes")
                );
                let frame = self.buf[at..at + len].to_vec();
                self.expect_frame(ev, &frame);
                self.drop_front(consumed);
            }
            Err(e) => {
                let ev = self.model(Limit::Buffered);
                self.expect_err(ev, &e);
            }
        }
    }

    fn frames(&mut self, d: &mut Dice<'_>) {
        hit(C::d_frames);
        let take = 1 + d.below(5);
        self.trail.push(format!("frames (take {take})"));
        self.abandon_stream();
        let mut items = Vec::new();
        let mut it = self.dec.frames(&self.buf);
        let mut stopped = false;
        for _ in 0..take {
            match it.next() {
                Some(Ok(f)) => items.push(Ok(f.to_vec())),
                Some(Err(e)) => {
                    items.push(Err(e));
                    assert!(it.next().is_none(), "frames goes on after an error");
                    break;
                }
                None => {
                    stopped = true;
                    break;
                }
            }
        }
        let consumed = it.consumed();
        assert_eq!(it.remainder(), &self.buf[consumed..]);
        for item in items {
            let ev = self.model(Limit::Buffered);
            match item {
                Ok(f) => self.expect_frame(ev, &f),
                Err(e) => self.expect_err(ev, &e),
            }
        }
        if stopped {
            let ev = self.model(Limit::Buffered);
            assert_eq!(ev, Ev::NeedMore, "{}", self.fail("frames stopped"));
        }
        self.drop_front(consumed);
        self.settle_pass();
    }

    fn begin_stream(&mut self, d: &mut Dice<'_>) {
        hit(C::d_begin_stream);
        let max_len = stream_max(d, self.w);
        self.trail.push(format!("begin_stream({max_len})"));
        let limit = Limit::Stream(max_len);
        self.abandon_stream();
        self.settle_pass();
        let due = self.discard_due();
        let res = self.dec.begin_stream(&self.buf, max_len);
        match res {
            Ok(Streamed {
                consumed,
                frame_len: None,
            }) if consumed > 0 => {
                hit(C::d_begin_stream_discard);
                self.check_discard(consumed, due, "begin_stream");
            }
            _ if due.is_some() => {
                panic!(
                    "{}",
                    self.fail(&format!("begin_stream gave {res:?}, a discard is due"))
                )
            }
            Ok(Streamed {
                frame_len: None, ..
            }) => {
                let ev = self.model(limit);
                assert_eq!(ev, Ev::NeedMore, "{}", self.fail("begin_stream: need more"));
            }
            Ok(Streamed {
                consumed,
                frame_len: Some(n),
            }) => {
                let ev = self.model(limit);
                let Ev::Stream { start, len } = ev else {
                    panic!(
                        "{}",
                        self.fail(&format!("model {ev:?}, lenframe a stream of {n}"))
                    );
                };
                hit(C::ev_stream);
                assert_eq!(n, len, "{}", self.fail("stream length"));
                assert_eq!(self.base + consumed, start, "{}", self.fail("stream start"));
                self.drop_front(consumed);
                self.active = Some(Active { start, len });
                self.settle_pass();
            }
            Err(e) => {
                let ev = self.model(limit);
                self.expect_err(ev, &e);
            }
        }
    }

    fn consume_stream(&mut self, d: &mut Dice<'_>) {
        let Some(a) = self.active else { return };
        hit(C::d_consume_stream);
        let Phase::Streaming { yielded } = self.cur.phase else {
            unreachable!("an active stream is the model's stream")
        };
        assert_eq!(self.base as u64, a.start as u64 + yielded);
        let left = a.len - yielded;
        let offer = match d.below(3) {
            0 => self.buf.len(),
            _ => d.below(self.buf.len() + 1),
        };
        self.trail.push(format!("consume_stream({offer})"));
        let took = self.dec.consume_stream(offer as u64);
        assert_eq!(
            took,
            left.min(offer as u64),
            "{}",
            self.fail("consume_stream")
        );
        if (offer as u64) > left {
            hit(C::d_consume_stream_clamped);
        }
        self.drop_front(took as usize);
        self.cur.phase = Phase::Streaming {
            yielded: yielded + took,
        };
        if yielded + took == a.len {
            assert!(self.dec.is_at_boundary(), "{}", self.fail("stream done"));
        }
        self.settle_pass();
    }

    fn stream_remaining(&mut self) {
        hit(C::d_stream_remaining);
        let got = self.dec.stream_remaining();
        match (self.active, self.cur.phase) {
            (Some(a), Phase::Streaming { yielded }) => {
                assert_eq!(
                    got,
                    Some(a.len - yielded),
                    "{}",
                    self.fail("stream_remaining")
                )
            }
            (None, Phase::Boundary) => assert_eq!(got, None, "{}", self.fail("no stream")),
            _ => {}
        }
    }

    fn needed(&mut self) {
        if let Some(f) = self.cur.fatal {
            assert_eq!(self.dec.needed(self.buf.len()), 0, "failed ({f:?})");
            return;
        }
        if !self.waiting || self.active.is_some() {
            return;
        }
        hit(C::d_needed);
        let want = self.w.needed(&self.cur, self.base, self.buf.len());
        let want = want.min(usize::MAX as u128) as usize;
        assert!(want > 0, "{}", self.fail("model needs nothing yet waits"));
        assert_eq!(
            self.dec.needed(self.buf.len()),
            want,
            "{}",
            self.fail("needed")
        );
    }

    /// The model's verdict if the input ended at what is fed: every frame
    /// and skip passed over, then the end or the first failure.
    fn eof_verdict(&self) -> Result<(), Fault> {
        let mut cur = self.cur;
        loop {
            match self.w.step(&mut cur, Limit::Buffered, self.fed, true) {
                Ev::Frame { .. } | Ev::Skipped { .. } => {}
                Ev::Clean => return Ok(()),
                Ev::Fail(f) => return Err(f),
                ev => unreachable!("{ev:?} at the end"),
            }
        }
    }

    fn end_of_stream(&mut self, after_skip: bool) {
        hit(C::d_end_of_stream);
        self.trail.push("end_of_stream".into());
        if after_skip
            && self
                .pass_end()
                .is_some_and(|end| end < self.base + self.buf.len())
        {
            hit(C::d_end_of_stream_after_skip);
        }
        let got = self.dec.end_of_stream(&self.buf);
        let ok = match (self.eof_verdict(), &got) {
            (Ok(()), Ok(())) => true,
            (Err(f), Err(e)) => f.is(e),
            _ => false,
        };
        assert!(
            ok,
            "{}",
            self.fail(&format!(
                "end_of_stream: {got:?}, model {:?}",
                self.eof_verdict()
            ))
        );
    }

    /// `decode_eof` to the end on clones: what lenframe would say if the
    /// input ended at what is fed.
    fn drain_clone(&mut self) {
        hit(C::d_eof_drain_clone);
        self.trail.push("decode_eof to the end, on a clone".into());
        let (mut dec, mut buf, mut cur) = (self.dec.clone(), self.buf.clone(), self.cur);
        let eof = |b: &mut BytesMut| dec.decode_eof(b);
        let end = drain(self.w, eof, &mut buf, &mut cur, self.fed, &self.trail);
        // end_of_stream's verdict is the one decode_eof ends with.
        let verdict = self.dec.end_of_stream(&self.buf);
        let same = match (end, &verdict) {
            (Ok(()), Ok(())) => true,
            (Err(f), Err(e)) => f.is(e),
            _ => false,
        };
        assert!(
            same,
            "{}",
            self.fail(&format!(
                "end_of_stream {verdict:?}, decode_eof ends {end:?}"
            ))
        );
    }

    fn finish(&mut self) {
        hit(C::d_decode_eof);
        self.trail.push("decode_eof to the end".into());
        let dec = &mut self.dec;
        let eof = |b: &mut BytesMut| dec.decode_eof(b);
        let end = drain(
            self.w,
            eof,
            &mut self.buf,
            &mut self.cur,
            self.fed,
            &self.trail,
        );
        // It stays at its end: the same verdict from every face.
        let mut buf = self.buf.clone();
        let again = self.dec.decode_eof(&mut buf);
        match end {
            Ok(()) => assert!(matches!(again, Ok(None)), "{again:?}"),
            Err(f) => assert!(again.as_ref().is_err_and(|e| f.is(e)), "{again:?} vs {f:?}"),
        }
        let Some(f) = self.cur.fatal else { return };
        hit(C::d_after_fatal);
        let rest = self.buf.to_vec();
        let e1 = self.dec.decode(&mut self.buf).unwrap_err();
        let e2 = self.dec.decode_slice(&rest).unwrap_err();
        let e3 = self.dec.frames(&rest).next().unwrap().unwrap_err();
        let e4 = self.dec.begin_stream(&rest, u64::MAX).unwrap_err();
        let e5 = self.dec.end_of_stream(&rest).unwrap_err();
        for e in [e1, e2, e3, e4, e5] {
            assert!(f.is(&e), "failed with {f:?}, then {e:?}");
        }
        assert_eq!(self.dec.needed(rest.len()), 0);
        assert!(self.dec.is_failed());
    }

    /// Buffer and position agree with the input and the model.
    fn check_state(&self) {
        assert_eq!(
            &self.buf[..],
            &self.input()[self.base..self.fed],
            "{}",
            self.fail("buffer")
        );
        let (lo, hi) = self.w.bounds(&self.cur);
        assert!(
            (lo..=hi).contains(&self.base),
            "{}",
            self.fail(&format!("model at {lo}..={hi}"))
        );
        assert_eq!(
            self.dec.is_failed(),
            self.cur.fatal.is_some(),
            "{}",
            self.fail("is_failed")
        );
    }
}

/// Calls `decode_eof` until the end, checking each result; returns the
/// end's verdict.
fn drain(
    w: &Wire<'_>,
    mut decode_eof: impl FnMut(&mut BytesMut) -> lenframe::Result<Option<bytes::Bytes>>,
    buf: &mut BytesMut,
    cur: &mut Cursor,
    fed: usize,
    trail: &[String],
) -> Result<(), Fault> {
    loop {
        let res = decode_eof(buf);
        let ev = w.step(cur, Limit::Buffered, fed, true);
        match (ev, res) {
            (Ev::Frame { start, end }, Ok(Some(f))) => {
                assert_eq!(&f[..], &w.input[start..end], "{trail:?}");
                hit(C::ev_frame);
            }
            (Ev::Clean, Ok(None)) => {
                hit(C::ev_clean);
                return Ok(());
            }
            (Ev::Skipped { len, max }, Err(Error::FrameTooLarge { len: l, max: m }))
                if (len, max) == (l, m) =>
            {
                hit(C::ev_skipped);
            }
            (Ev::Fail(f), Err(e)) if f.is(&e) => {
                count_fault(f, cur.fatal.is_some());
                return Err(f);
            }
            (ev, res) => panic!(
                "decode_eof: model {ev:?}, lenframe {res:?}\n  calls: {trail:?}\n  input: {:02x?}",
                w.input
            ),
        }
    }
}

/// What a tokio-util decoder call gave: a frame, nothing, or an error
/// (`true` if reported as an item rather than as the stream's error).
#[cfg(feature = "tokio")]
type TokioGot = Result<Option<bytes::Bytes>, (Error, bool)>;

/// The tokio-util `Decoder`s, `FrameCodec` and `FrameResultCodec`: the
/// same machine, checked with the input fed in chunks, then `decode_eof`
/// to the end. `FrameCodec` reports a skipped frame as an error,
/// `FrameResultCodec` as an item (so `FramedRead` goes on); a fatal error
/// is an error for both.
#[cfg(feature = "tokio")]
pub fn run_tokio(codec: &Codec, w: &Wire<'_>, d: &mut Dice<'_>) {
    use tokio_util::codec::Decoder;
    hit(C::tokio_decode);
    let chunk = 1 + d.below(16);
    let mut fc = lenframe::FrameCodec::new(*codec);
    tokio_one(w, chunk, false, |b, eof| {
        let res = if eof { fc.decode_eof(b) } else { fc.decode(b) };
        res.map_err(|e| (e, false))
    });
    let mut rc = lenframe::FrameResultCodec::new(*codec);
    tokio_one(w, chunk, true, |b, eof| {
        match if eof { rc.decode_eof(b) } else { rc.decode(b) } {
            Ok(Some(Err(e))) => Err((e, true)),
            Ok(other) => Ok(other.map(|f| f.expect("Ok items are frames"))),
            Err(e) => Err((e, false)),
        }
    });
}

#[cfg(feature = "tokio")]
fn tokio_one(
    w: &Wire<'_>,
    chunk: usize,
    skip_is_item: bool,
    mut call: impl FnMut(&mut BytesMut, bool) -> TokioGot,
) {
    let (mut buf, mut fed, mut cur) = (BytesMut::new(), 0, Cursor::new());
    loop {
        let eof = fed == w.input.len();
        let ev = w.step(&mut cur, Limit::Buffered, fed, eof);
        let res = call(&mut buf, eof);
        let ok = match (ev, &res) {
            (Ev::NeedMore, Ok(None)) => {
                let n = chunk.min(w.input.len() - fed);
                buf.extend_from_slice(&w.input[fed..fed + n]);
                fed += n;
                true
            }
            (Ev::Frame { start, end }, Ok(Some(f))) => f[..] == w.input[start..end],
            (Ev::Skipped { len, max }, Err((e, item))) => {
                *item == skip_is_item && Fault::TooLarge { len, max }.is(e)
            }
            (Ev::Clean, Ok(None)) => return,
            (Ev::Fail(f), Err((e, false))) if f.is(e) => return,
            _ => false,
        };
        assert!(
            ok,
            "tokio decoder: model {ev:?}, lenframe {res:?}: {:02x?}",
            w.input
        );
    }
}

/// What one `poll_next` of asynchronous-codec's `FramedRead` gave.
#[cfg(feature = "futures-io")]
#[derive(Debug)]
enum Polled<T, E = Error> {
    Item(T),
    Err(E),
    End,
}

/// asynchronous-codec 0.7's `FramedRead2::poll_next`, step for step, over
/// `input` delivered `chunk` bytes a read: decode what is buffered; else
/// read, decode again, and at end of input end cleanly on an empty
/// buffer, else ask `decode_eof` (a non-empty buffer left after it is
/// asynchronous-codec's own `UnexpectedEof`). Errors do not end the stream.
#[cfg(feature = "futures-io")]
fn futures_poll<D: asynchronous_codec::Decoder<Error = Error>>(
    dec: &mut D,
    buf: &mut BytesMut,
    input: &[u8],
    fed: &mut usize,
    chunk: usize,
) -> Polled<D::Item> {
    let lift = |r: Result<Option<D::Item>, Error>| match r {
        Ok(Some(item)) => Some(Polled::Item(item)),
        Ok(None) => None,
        Err(e) => Some(Polled::Err(e)),
    };
    if let Some(p) = lift(dec.decode(buf)) {
        return p;
    }
    loop {
        let n = chunk.min(input.len() - *fed);
        buf.extend_from_slice(&input[*fed..*fed + n]);
        *fed += n;
        if let Some(p) = lift(dec.decode(buf)) {
            return p;
        }
        if n == 0 {
            if buf.is_empty() {
                return Polled::End;
            }
            return match lift(dec.decode_eof(buf)) {
                Some(p) => p,
                None if buf.is_empty() => Polled::End,
                None => panic!("asynchronous-codec: bytes remaining in stream: {buf:02x?}"),
            };
        }
    }
}

/// The asynchronous-codec `Decoder`s (feature `futures-io`), driven as
/// its `FramedRead` drives them, against the model's events for the whole
/// input: every frame, each skipped frame reported once (an error of the
/// stream for `FrameCodec`, an item for `FrameResultCodec`), a fatal
/// error once and then nothing but the end, polled on past every error.
#[cfg(feature = "futures-io")]
pub fn run_futures_io(codec: &Codec, w: &Wire<'_>, d: &mut Dice<'_>) {
    hit(C::futures_decode);
    let chunk = 1 + d.below(16);
    let mut want = Vec::new();
    let mut cur = Cursor::new();
    loop {
        let ev = w.step(&mut cur, Limit::Buffered, w.input.len(), true);
        want.push(ev);
        match ev {
            Ev::Clean | Ev::Fail(_) => break,
            Ev::Frame { .. } | Ev::Skipped { .. } => {}
            other => panic!("model at end of input: {other:?}"),
        }
    }
    futures_one(
        lenframe::FrameCodec::new(*codec),
        w,
        chunk,
        &want,
        false,
        |p| match p {
            Polled::Item(f) => Polled::Item(f),
            Polled::Err(e) => Polled::Err((e, false)),
            Polled::End => Polled::End,
        },
    );
    futures_one(
        lenframe::FrameResultCodec::new(*codec),
        w,
        chunk,
        &want,
        true,
        |p| match p {
            Polled::Item(Ok(f)) => Polled::Item(f),
            Polled::Item(Err(e)) => Polled::Err((e, true)),
            Polled::Err(e) => Polled::Err((e, false)),
            Polled::End => Polled::End,
        },
    );
}

/// One codec through `futures_poll` against `want`, the model's events;
/// `lift` says whether an error came as an item (`true`) or as the
/// stream's error.
#[cfg(feature = "futures-io")]
fn futures_one<D: asynchronous_codec::Decoder<Error = Error>>(
    mut dec: D,
    w: &Wire<'_>,
    chunk: usize,
    want: &[Ev],
    skip_is_item: bool,
    lift: impl Fn(Polled<D::Item>) -> Polled<bytes::Bytes, (Error, bool)>,
) {
    let (mut buf, mut fed) = (BytesMut::new(), 0);
    for ev in want {
        let got = lift(futures_poll(&mut dec, &mut buf, w.input, &mut fed, chunk));
        let ok = match (ev, &got) {
            (Ev::Frame { start, end }, Polled::Item(f)) => f[..] == w.input[*start..*end],
            (Ev::Skipped { len, max }, Polled::Err((e, item))) => {
                *item == skip_is_item
                    && Fault::TooLarge {
                        len: *len,
                        max: *max,
                    }
                    .is(e)
            }
            (Ev::Fail(f), Polled::Err((e, false))) => f.is(e),
            (Ev::Clean, Polled::End) => true,
            _ => false,
        };
        assert!(
            ok,
            "futures-io decoder (skip as item {skip_is_item}): model {ev:?}, lenframe {got:?}: {:02x?}",
            w.input
        );
    }
    // After the end, or after a fatal error, polling on gives the end: the
    // error is not repeated.
    for _ in 0..2 {
        let got = lift(futures_poll(&mut dec, &mut buf, w.input, &mut fed, chunk));
        assert!(
            matches!(got, Polled::End),
            "futures-io: {got:?} after {:?}: {:02x?}",
            want.last(),
            w.input
        );
    }
}
