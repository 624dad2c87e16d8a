//! `FrameReader`: random interleavings of every reading call (buffered,
//! borrowed, iterator, streamed with the `PayloadReader` read in every
//! way) over a source that splits the input and injects faults, each
//! result compared with the model.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;

use bytes::Bytes;
use lenframe::{Codec, Error, FrameDecoder, FramePart, FrameReader, Framed, PayloadReader};

use super::coverage::{hit, C};
use super::dice::Dice;
use super::source::{Log, Source};
use super::spec::{Bad, Cursor, Ev, Fault, Limit, Phase, Wire};

/// The reading side of a handle the model drives: a [`FrameReader`] over
/// any reader, or a [`Framed`] stream.
pub trait View {
    fn buffer(&self) -> &[u8];
    fn decoder(&self) -> &FrameDecoder;
}

impl<R: Read> View for FrameReader<R> {
    fn buffer(&self) -> &[u8] {
        FrameReader::buffer(self)
    }
    fn decoder(&self) -> &FrameDecoder {
        FrameReader::decoder(self)
    }
}

impl<S: Read + Write> View for Framed<S> {
    fn buffer(&self) -> &[u8] {
        self.read_buffer()
    }
    fn decoder(&self) -> &FrameDecoder {
        Framed::decoder(self)
    }
}

/// A hard error of the writing side, which a [`Framed`] stream returns
/// from the read whose flush met it.
pub fn is_write_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::WriteZero
    )
}

/// What a reading call returned, owned.
#[derive(Debug)]
pub enum Got {
    Frame(Vec<u8>),
    End,
    Err(Error),
}

impl Got {
    pub fn of<T: AsRef<[u8]>>(r: lenframe::Result<Option<T>>) -> Got {
        match r {
            Ok(Some(f)) => Got::Frame(f.as_ref().to_vec()),
            Ok(None) => Got::End,
            Err(e) => Got::Err(e),
        }
    }
}

/// One reading consumer checked against the model (shared with the
/// `Framed` run, which reads through the same calls).
pub struct Run<'w, 'a> {
    w: &'w Wire<'a>,
    cur: Cursor,
    pub log: Rc<RefCell<Log>>,
    /// The iterator returned its last item.
    iter_done: bool,
    /// The model reached its end (clean, truncated) or a fatal error.
    pub ended: bool,
    truncated: bool,
    /// A `PayloadReader` was dropped with bytes of its frame left.
    pub dropped_stream: bool,
    /// The last call stopped on WouldBlock/TimedOut with a whole header
    /// buffered (a frame begun by a buffered call).
    partial: bool,
    /// Hard write errors are passed on by reading calls (a `Framed`
    /// stream's flush before it reads).
    write_errors: bool,
    /// The kind of the hard write error the last reading call returned.
    pub write_error: Option<io::ErrorKind>,
    /// The calls so far, for failure messages.
    pub trail: Vec<String>,
}

/// Runs one random sequence of reading calls over `w.input`.
pub fn run(codec: &Codec, w: &Wire<'_>, d: &mut Dice<'_>) {
    let source = Source::new(w.input, d);
    let log = source.log.clone();
    let mut r = codec.new_read(source);
    // The buffer-giving-back policy changes no result: drive its extremes.
    let idle = [Some(0), Some(20), Some(usize::MAX), None][d.below(4)];
    if let Some(bytes) = idle {
        hit(C::r_idle_capacity);
        r.set_idle_capacity(bytes);
    }
    let mut run = Run::new(w, log, false);
    let mut after_end = None;
    for _ in 0..50_000 {
        if run.ended && after_end.is_none() {
            after_end = Some(1 + d.below(4));
        }
        let op = d.below(32);
        if op == 31 || after_end == Some(0) {
            run.end_with_into_parts(r);
            return;
        }
        if let Some(n) = after_end.as_mut() {
            *n -= 1;
            hit(C::r_call_after_end);
        }
        if std::mem::take(&mut run.dropped_stream) {
            hit(C::r_call_after_dropped_stream);
        }
        run.log.borrow_mut().mark();
        match op {
            0..=9 => {
                hit(C::r_read_frame);
                run.trail.push("read_frame".into());
                let got = Got::of(r.read_frame());
                run.settle(&r, got);
            }
            10..=15 => {
                hit(C::r_read_frame_ref);
                run.trail.push("read_frame_ref".into());
                let got = Got::of(r.read_frame_ref());
                run.settle(&r, got);
            }
            16..=21 => run.next(&mut r),
            30 if run.at_clean_boundary() => {
                // Taken apart and rebuilt at a boundary: nothing changes.
                hit(C::r_from_parts);
                run.trail.push("into_parts + from_parts".into());
                let (source, rest) = r.into_parts();
                r = FrameReader::from_parts(source, *codec, rest);
            }
            _ => run.stream(&mut r, d),
        }
        run.check_state(&r);
    }
    panic!("no end after 50000 calls: {:?}", run.trail);
}

/// A `max_len` for `read_frame_stream`: around `max_frame_len`, small,
/// zero or unlimited.
pub fn stream_max(d: &mut Dice<'_>, w: &Wire<'_>) -> u64 {
    match d.below(6) {
        0 => w.max,
        1 => d.below(30) as u64,
        2 => u64::MAX,
        3 => 0,
        4 => w.max.saturating_add(d.below(40) as u64),
        _ => d.below(300) as u64,
    }
}

impl<'w, 'a> Run<'w, 'a> {
    /// A consumer at the start of `w.input`, read through a `Source`
    /// logging to `log`; `write_errors`: reading calls may return the
    /// writing side's hard errors (a `Framed` stream).
    pub fn new(w: &'w Wire<'a>, log: Rc<RefCell<Log>>, write_errors: bool) -> Run<'w, 'a> {
        Run {
            w,
            cur: Cursor::new(),
            log,
            iter_done: false,
            ended: false,
            truncated: false,
            dropped_stream: false,
            partial: false,
            write_errors,
            write_error: None,
            trail: Vec::new(),
        }
    }
}

impl Run<'_, '_> {
    fn input(&self) -> &[u8] {
        self.w.input
    }

    /// Checks a buffered call's result (`read_frame`, `read_frame_ref`,
    /// `recv`) against the model; `None` for an I/O error the call can be
    /// made again after (the model does not move).
    pub fn settle(&mut self, r: &impl View, got: Got) -> Option<Ev> {
        self.settle_with(r, Limit::Buffered, got)
    }

    fn settle_with(&mut self, r: &impl View, limit: Limit, got: Got) -> Option<Ev> {
        self.write_error = None;
        let blocked = match &got {
            Got::Err(Error::Io(e)) if self.write_errors && is_write_error(e) => {
                assert_eq!(
                    self.log.borrow().blocked,
                    0,
                    "a write error after the source blocked: {}",
                    self.ctx(&got)
                );
                self.write_error = Some(e.kind());
                true
            }
            _ => self.check_io(&got),
        };
        if blocked {
            // Blocking is only right when what arrived decides nothing:
            // a frame (or error) at hand must be returned, or an event
            // loop waiting for readiness would wait for ever.
            let mut cur = self.cur;
            let have = self.log.borrow().pos;
            let ev = self.w.step(&mut cur, limit, have, false);
            assert_eq!(
                ev,
                Ev::NeedMore,
                "blocked with {have} bytes in: {}",
                self.ctx(&got)
            );
            self.partial = self
                .w
                .items
                .get(self.cur.next)
                .is_some_and(|it| r.buffer().len() >= it.hl)
                && self.cur.phase == Phase::Boundary
                && self.cur.fatal.is_none();
            return None;
        }
        self.partial = false;
        let ev = self.w.step(&mut self.cur, limit, self.w.input.len(), true);
        self.expect(ev, &got);
        let at_boundary = r.decoder().is_at_boundary();
        match ev {
            Ev::Frame { .. } | Ev::Clean => assert!(at_boundary, "{}", self.ctx(&got)),
            Ev::Skipped { .. } => assert!(!at_boundary, "{}", self.ctx(&got)),
            Ev::Fail(_) if self.cur.fatal.is_some() => {
                assert!(!at_boundary, "{}", self.ctx(&got))
            }
            _ => {}
        }
        Some(ev)
    }

    /// For an I/O error: checks it is the source's WouldBlock/TimedOut of
    /// this very call, and returns true. Otherwise checks the source did
    /// not block during the call.
    fn check_io(&self, got: &Got) -> bool {
        let log = self.log.borrow();
        if let Got::Err(Error::Io(e)) = got {
            let kind = e.kind();
            assert!(
                matches!(kind, io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut),
                "I/O error {e} passed on: {}",
                self.ctx(got)
            );
            assert_eq!(log.blocked, 1, "{}", self.ctx(got));
            assert_eq!(log.last_error, Some(kind), "{}", self.ctx(got));
            hit(if kind == io::ErrorKind::WouldBlock {
                C::io_would_block
            } else {
                C::io_timed_out
            });
            return true;
        }
        assert_eq!(
            log.blocked,
            0,
            "the source blocked but the call did not say so: {}",
            self.ctx(got)
        );
        false
    }

    fn expect(&mut self, ev: Ev, got: &Got) {
        let ok = match (ev, got) {
            (Ev::Frame { start, end }, Got::Frame(f)) => {
                hit(C::ev_frame);
                f[..] == self.input()[start..end]
            }
            (Ev::Clean, Got::End) => {
                hit(C::ev_clean);
                self.ended = true;
                true
            }
            (Ev::Skipped { len, max }, Got::Err(Error::FrameTooLarge { len: l, max: m })) => {
                hit(C::ev_skipped);
                (len, max) == (*l, *m)
            }
            (Ev::Fail(f), Got::Err(e)) => {
                count_fault(f, self.cur.fatal.is_some());
                self.ended = true;
                self.truncated = matches!(f, Fault::Truncated { .. });
                f.is(e)
            }
            _ => false,
        };
        assert!(ok, "model says {ev:?}: {}", self.ctx(got));
    }

    fn ctx(&self, got: &Got) -> String {
        format!(
            "lenframe gave {got:?}\n  calls: {:?}\n  input ({} bytes): {:02x?}",
            self.trail,
            self.input().len(),
            self.input()
        )
    }

    /// The reader's buffer is the input just before what the source handed
    /// out, its position is where the model is, and it is failed exactly
    /// when the model is.
    pub fn check_state(&self, r: &impl View) {
        let log = self.log.borrow();
        let buf = r.buffer();
        assert!(buf.len() <= log.pos, "more buffered than read");
        let pos = log.pos - buf.len();
        assert_eq!(buf, &self.input()[pos..log.pos], "buffer is not the input");
        let (lo, hi) = self.w.bounds(&self.cur);
        assert!(
            (lo..=hi).contains(&pos),
            "reader at {pos}, model at {lo}..={hi}: {:?}",
            self.trail
        );
        assert_eq!(
            r.decoder().is_failed(),
            self.cur.fatal.is_some(),
            "is_failed: {:?}",
            self.trail
        );
    }

    pub fn next<I>(&mut self, r: &mut I)
    where
        I: View + Iterator<Item = lenframe::Result<Bytes>>,
    {
        hit(C::r_iter_next);
        self.trail.push("next".into());
        let item = r.next();
        if self.iter_done {
            assert!(item.is_none(), "iterator goes on after its end: {item:?}");
            assert_eq!(self.log.borrow().reads, 0, "a finished iterator read");
            hit(C::r_iter_stopped);
            return;
        }
        let got = match item {
            None => Got::End,
            Some(Ok(f)) => Got::Frame(f.to_vec()),
            Some(Err(e)) => Got::Err(e),
        };
        match self.settle(r, got) {
            Some(Ev::Clean | Ev::Fail(_)) => self.iter_done = true,
            Some(Ev::Skipped { .. }) => hit(C::r_iter_continues_after_skip),
            // A write error met by the flush before a read: the item is
            // the error, and the iterator goes on (reading still works).
            None if self.write_error.is_some() => {}
            _ => {}
        }
    }

    pub fn stream<R: Read>(&mut self, r: &mut FrameReader<R>, d: &mut Dice<'_>) {
        hit(C::r_stream);
        let max_len = stream_max(d, self.w);
        let limit = Limit::Stream(max_len);
        self.trail.push(format!("read_frame_stream({max_len})"));
        if self.cur.phase == Phase::Skipping {
            hit(C::r_stream_while_skipping);
        }
        if self.cur.fatal.is_some() {
            hit(C::r_stream_after_fatal);
        }
        if self.truncated {
            hit(C::r_stream_after_truncated);
        }
        if self.partial {
            hit(C::r_stream_after_partial_frame);
        }
        let max_len = usize::try_from(max_len).unwrap_or(usize::MAX);
        let mut p = match r.read_frame_stream(max_len) {
            Ok(Some(p)) => p,
            other => {
                let got = Got::of(other.map(|p| p.map(|_| Vec::<u8>::new())));
                let ev = self.settle_with(r, limit, got);
                if let Some(Ev::Skipped { len, .. } | Ev::Fail(Fault::TooLarge { len, .. })) = ev {
                    if len <= self.w.max {
                        hit(C::r_stream_over_stream_max);
                    }
                }
                return;
            }
        };
        self.partial = false;
        assert_eq!(self.log.borrow().blocked, 0, "blocked, yet a stream began");
        let ev = self.w.step(&mut self.cur, limit, self.w.input.len(), true);
        let Ev::Stream { start, len } = ev else {
            panic!(
                "model says {ev:?}, lenframe began a stream: {:?}",
                self.trail
            );
        };
        hit(C::ev_stream);
        let kept = self.w.kept(&self.w.items[self.cur.next]) as u64;
        if len - kept > self.w.max {
            hit(C::r_stream_over_buffered_max);
        }
        if kept > 0 {
            hit(C::r_stream_with_header_bytes);
        }
        assert_eq!((p.len(), p.remaining()), (len, len), "{:?}", self.trail);
        let yielded = self.read_payload(&mut p, start, len, d);
        self.log.borrow_mut().mark();
        // PayloadReader has no Drop today; this guards that dropping one
        // part-way stays free of I/O.
        #[allow(clippy::drop_non_drop)]
        drop(p);
        assert_eq!(self.log.borrow().reads, 0, "dropping a PayloadReader read");
        if yielded == len {
            // The frame is done: the reader is between frames.
            assert!(r.decoder().is_at_boundary(), "{:?}", self.trail);
            self.cur.next += 1;
            self.cur.phase = Phase::Boundary;
        } else {
            assert!(!r.decoder().is_at_boundary(), "{:?}", self.trail);
            self.cur.phase = Phase::Streaming { yielded };
            self.dropped_stream = true;
        }
    }

    /// Reads a streamed frame (`input[start..start + len]`) in one of four
    /// ways; returns how many bytes were read.
    fn read_payload(
        &mut self,
        p: &mut PayloadReader<'_, impl Read>,
        start: usize,
        len: u64,
        d: &mut Dice<'_>,
    ) -> u64 {
        let mode = d.below(4);
        let target = match mode {
            1 => d.below(len.min(1000) as usize) as u64,
            2 => 0,
            _ => len,
        };
        self.trail
            .push(format!("  read {target} of {len} (mode {mode})"));
        let mut yielded = 0u64;
        let mut out = [0u8; 300];
        let mut blocked = false;
        while yielded < target {
            let mut cap = match d.below(8) {
                0..=4 => 1 + d.below(16),
                5 | 6 => 1 + d.below(300),
                _ => 0,
            };
            if mode == 1 && cap > 0 {
                cap = cap.min((target - yielded) as usize);
            }
            self.log.borrow_mut().mark();
            match p.read(&mut out[..cap]) {
                Ok(n) => {
                    assert_eq!(self.log.borrow().blocked, 0);
                    if cap == 0 {
                        assert_eq!(n, 0);
                        hit(C::r_stream_zero_read);
                        continue;
                    }
                    assert!(
                        n > 0 && n <= cap,
                        "read gave {n} of {cap} with {} left: {:?}",
                        len - yielded,
                        self.trail
                    );
                    let at = start + yielded as usize;
                    assert_eq!(&out[..n], &self.input()[at..at + n], "{:?}", self.trail);
                    yielded += n as u64;
                    assert_eq!(p.remaining(), len - yielded);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    let log = self.log.borrow();
                    assert_eq!((log.blocked, log.last_error), (1, Some(e.kind())));
                    // Only with none of the frame's bytes buffered.
                    assert_eq!(
                        log.pos,
                        start + yielded as usize,
                        "blocked with bytes at hand"
                    );
                    hit(C::r_stream_block_mid_payload);
                    blocked = true;
                    if mode == 3 {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.check_cut_stream(e, start, yielded, len);
                    // Again: the same.
                    let again = p.read(&mut out[..1]).unwrap_err();
                    self.check_cut_stream(again, start, yielded, len);
                    return yielded;
                }
                Err(e) => panic!("PayloadReader::read: {e:?}: {:?}", self.trail),
            }
        }
        if yielded == len {
            // Done: end of file, with no I/O.
            self.log.borrow_mut().mark();
            assert_eq!(p.read(&mut out).unwrap(), 0);
            assert_eq!(self.log.borrow().reads, 0);
        }
        hit(match (mode, yielded == len) {
            (_, true) => C::r_stream_read_whole,
            (2, false) => C::r_stream_drop_at_once,
            (3, false) if blocked => C::r_stream_drop_after_block,
            _ => C::r_stream_read_part_drop,
        });
        yielded
    }

    /// An `UnexpectedEof` from a streamed frame: only once every byte the
    /// input has was read, wrapping `Truncated` with the payload's numbers.
    fn check_cut_stream(&self, e: io::Error, start: usize, yielded: u64, len: u64) {
        hit(C::r_stream_unexpected_eof);
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(yielded < len);
        assert_eq!(
            start as u64 + yielded,
            self.input().len() as u64,
            "UnexpectedEof with input left: {:?}",
            self.trail
        );
        let inner = e.into_inner().expect("wraps the lenframe error");
        let inner = inner.downcast::<Error>().expect("a lenframe error");
        let it = self.w.items[self.cur.next];
        assert_eq!(start, it.start + self.w.skip_of(&it));
        let want = Fault::Truncated {
            part: FramePart::Payload,
            got: (self.input().len() - it.start - it.hl) as u64,
            expected: len - self.w.kept(&it) as u64,
        };
        assert!(want.is(&inner), "{inner:?}, model says {want:?}");
    }

    /// Between frames with nothing failed or ended: where a reader taken
    /// apart can be rebuilt from its parts.
    pub fn at_clean_boundary(&self) -> bool {
        self.cur.phase == Phase::Boundary
            && self.cur.fatal.is_none()
            && !self.ended
            && !self.iter_done
    }

    fn end_with_into_parts(&mut self, r: FrameReader<Source<'_>>) {
        let (source, rest) = r.into_parts();
        self.check_into_parts(&rest, source.rest());
    }

    /// What an `into_parts` returned: `rest`, the bytes read and not
    /// returned, and `unread`, what the source still holds.
    pub fn check_into_parts(&mut self, rest: &[u8], unread: &[u8]) {
        hit(C::r_into_parts);
        if self.cur.phase != Phase::Boundary {
            hit(C::r_into_parts_mid_frame);
        }
        let pos = self.log.borrow().pos;
        assert!(rest.len() <= pos);
        let at = pos - rest.len();
        assert_eq!(rest, &self.input()[at..pos], "{:?}", self.trail);
        assert_eq!(unread, &self.input()[pos..], "{:?}", self.trail);
        let (lo, hi) = self.w.bounds(&self.cur);
        assert!(
            (lo..=hi).contains(&at),
            "into_parts at {at}, model at {lo}..={hi}: {:?}",
            self.trail
        );
    }
}

/// Counts a model fault by kind.
pub fn count_fault(f: Fault, fatal: bool) {
    hit(match f {
        Fault::TooLarge { .. } => {
            assert!(fatal);
            C::ev_too_large_fatal
        }
        Fault::TooLargeToSend { .. } => unreachable!("an encoding fault while decoding"),
        Fault::Negative { .. } => C::ev_negative,
        Fault::Adjustment { .. } => C::ev_adjustment,
        Fault::Truncated {
            part: FramePart::Header,
            ..
        } => C::ev_truncated_header,
        Fault::Truncated { .. } => C::ev_truncated_payload,
        Fault::BadVarint { bad, .. } => {
            assert!(fatal);
            match bad {
                Bad::TooLong => C::varint_bad_too_long,
                Bad::Overflow => C::varint_bad_overflow,
                Bad::NotMinimal => C::varint_bad_not_minimal,
            }
        }
    });
}
