//! `Framed`: random interleavings of its reading calls (`recv`,
//! `read_frame`, `read_frame_ref`, the iterator) and writing calls (`feed`,
//! `write_frame`, `send`, `flush`), ended by `into_parts`, `into_inner`,
//! a drop or a `split` (whose reader and writer then go on), over one
//! duplex stream: the model's faulty `Source` for reading, a faulty `Sink`
//! for writing.
//!
//! The reading results are checked by the reader's run, the writing
//! results by the writer's run, against the same model; on top of them:
//! * the flush-before-read rule: at every `read()` on the stream, nothing
//!   fed is unflushed, unless the flush attempted just before that read
//!   met `WouldBlock`/`TimedOut`, or the writer is poisoned;
//! * a reading call that does not read the stream does not write it
//!   either (frames already buffered come back without I/O, and fed
//!   frames wait to coalesce);
//! * the wire plus the write buffer is exactly the encoding of the frames
//!   accepted, in order (after a hard error: perhaps with the frame of
//!   the failed call); a hard error met by the flush of a reading call is
//!   returned by that call, the writer then refuses frames
//!   (`WriterPoisoned`) and reading goes on;
//! * `into_parts` and `split` hand over the unread and unsent bytes the
//!   model expects.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};

use lenframe::{Codec, Error, FrameWriter, Framed};

use super::coverage::{hit, C};
use super::dice::{Dice, Rng};
use super::reader::{self, Got};
use super::source::Source;
use super::spec::Wire;
use super::writer::{self, Sink};

/// The stream: one source to read, one sink to write, and what the check
/// needs to see between the two.
struct Duplex<'a> {
    source: RefCell<Source<'a>>,
    sink: RefCell<Sink>,
    /// Bytes of the frames accepted so far (the writer run's `expected`).
    fed: Cell<usize>,
    /// The sink's `write` calls before the current reading attempt: the
    /// writes since then are the flush made for it.
    writes_before: Cell<usize>,
    /// The flush-before-read rule applies (not after `split`).
    rule: Cell<bool>,
    /// Breaches of the rule, for the check to report with its trail.
    breaches: RefCell<Vec<String>>,
}

/// A handle on the duplex: `Copy`, as `&TcpStream` is, so `split` works.
#[derive(Clone, Copy)]
struct Port<'d, 'a>(&'d Duplex<'a>);

impl Read for Port<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let d = self.0;
        if d.rule.get() {
            let sink = d.sink.borrow();
            let unflushed = d.fed.get().saturating_sub(sink.out.borrow().len());
            let flushed_now = sink.call > d.writes_before.get();
            let blocked = flushed_now
                && matches!(
                    sink.last_error,
                    Some(io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
                );
            if unflushed > 0 {
                if blocked {
                    hit(C::framed_flush_would_block_then_read);
                } else if sink.hard {
                    hit(C::framed_read_with_poisoned_unsent);
                } else {
                    d.breaches.borrow_mut().push(format!(
                        "read() with {unflushed} fed bytes unflushed (flush tried: {flushed_now}, \
                         last write error: {:?})",
                        sink.last_error
                    ));
                }
            } else if flushed_now && sink.last_error.is_none() {
                hit(C::framed_flushed_before_read);
            }
            d.writes_before.set(sink.call);
        }
        d.source.borrow_mut().read(buf)
    }
}

impl Write for Port<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.sink.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.sink.borrow_mut().flush()
    }
}

impl Duplex<'_> {
    /// Starts a call: writes before it are not a flush made for its reads.
    fn mark(&self) {
        self.writes_before.set(self.sink.borrow().call);
    }
}

struct Run<'r, 'w, 'a> {
    duplex: &'r Duplex<'a>,
    read: reader::Run<'w, 'a>,
    write: writer::Run<'w, 'a>,
    /// A reading call's flush met the hard error that poisoned the writer.
    poisoned_by_read: bool,
    /// The frame whose call poisoned the writer was too large for the
    /// write buffer, so it went out directly: part of it may be on the
    /// wire, and the rest is not kept.
    direct_failed: bool,
}

/// `Framed`'s write buffer (`FrameWriter`'s default capacity): a frame
/// whose header region (the longest header, for a varint) and payload
/// exceed it is written directly, not buffered.
const WRITE_CAPACITY: usize = 16 * 1024;

/// Runs one random sequence of `Framed` calls over `w.input`.
pub fn run(codec: &Codec, w: &Wire<'_>, d: &mut Dice<'_>) {
    let source = Source::new(w.input, d);
    let log = source.log.clone();
    let hard = d.chance(80);
    let sink = Sink::new(d, hard);
    let wire = sink.out.clone();
    let duplex = Duplex {
        source: RefCell::new(source),
        sink: RefCell::new(sink),
        fed: Cell::new(0),
        writes_before: Cell::new(0),
        rule: Cell::new(true),
        breaches: RefCell::default(),
    };
    let mut run = Run {
        duplex: &duplex,
        read: reader::Run::new(w, log, true),
        write: writer::Run::new(w, wire),
        poisoned_by_read: false,
        direct_failed: false,
    };
    let mut rng = Rng(d.seed());
    let mut framed = codec.new_framed(Port(&duplex));
    let mut after_end = None;
    for _ in 0..50_000 {
        if run.read.ended && after_end.is_none() {
            after_end = Some(1 + d.below(6));
        }
        let op = d.below(32);
        if op == 31 || after_end == Some(0) {
            run.end(framed, d);
            break;
        }
        if let Some(n) = after_end.as_mut() {
            *n -= 1;
        }
        duplex.mark();
        run.read.log.borrow_mut().mark();
        let writes = duplex.sink.borrow().call;
        let reading = op <= 13;
        match op {
            0..=5 => {
                hit(C::framed_recv);
                run.trail("recv");
                let got = Got::of(framed.recv());
                run.read.settle(&framed, got);
            }
            6..=7 => {
                hit(C::framed_read_frame);
                run.trail("read_frame");
                let got = Got::of(framed.read_frame());
                run.read.settle(&framed, got);
            }
            8..=10 => {
                hit(C::framed_read_frame_ref);
                run.trail("read_frame_ref");
                let got = Got::of(framed.read_frame_ref());
                run.read.settle(&framed, got);
            }
            11..=13 => {
                hit(C::framed_iter_next);
                run.trail("next");
                run.read.next(&mut framed);
            }
            14..=18 => {
                hit(C::framed_feed);
                let plan = run.plan(d, &mut rng, "feed");
                let before = run.write.wire.borrow().len();
                let res = framed.feed(&plan.payload);
                run.settle_frame(&plan, &res, before);
            }
            19..=20 => {
                hit(C::framed_write_frame);
                let plan = run.plan(d, &mut rng, "write_frame");
                let before = run.write.wire.borrow().len();
                let res = framed.write_frame(&plan.payload);
                run.settle_frame(&plan, &res, before);
            }
            21..=23 => run.send(&mut framed, d, &mut rng),
            29 if run.read.at_clean_boundary() && run.write.poisoned == Some(false) => {
                // Taken apart and rebuilt: nothing changes.
                hit(C::framed_from_parts);
                run.trail("into_parts + from_parts");
                let (port, unread, unsent) = framed.into_parts();
                framed = Framed::from_parts(port, *codec, unread, unsent);
            }
            24..=29 => {
                hit(C::framed_flush);
                run.trail("flush");
                let before = run.write.wire.borrow().len();
                let res = framed.flush();
                run.write.settle_flush(&res, before);
            }
            _ => {
                hit(C::framed_split);
                run.split(framed, d, &mut rng);
                break;
            }
        }
        if reading {
            run.after_read(writes);
            run.read.check_state(&framed);
        } else {
            assert_eq!(run.read.log.borrow().reads, 0, "a writing call read");
        }
        run.check_write_side(framed.write_buffer());
        if let Some(poisoned) = run.write.poisoned {
            assert_eq!(framed.is_poisoned(), poisoned, "{:?}", run.write.trail);
        }
    }
    run.write.check_prefix();
    run.write.check_model_reads_back(codec);
}

impl Run<'_, '_, '_> {
    fn trail(&mut self, call: &str) {
        self.read.trail.push(call.into());
        self.write.trail.push(call.into());
    }

    /// Draws a frame for a writing call, in both trails.
    fn plan(&mut self, d: &mut Dice<'_>, rng: &mut Rng, call: &str) -> writer::Plan {
        let plan = self.write.plan(d, rng, call);
        let said = self.write.trail.last().cloned().unwrap_or_default();
        self.read.trail.push(said);
        plan
    }

    /// Checks a `feed`/`write_frame` result (or `send`'s, when it did not
    /// get as far as its flush).
    fn settle_frame(&mut self, plan: &writer::Plan, res: &lenframe::Result<()>, before: usize) {
        if self.poisoned_by_read && matches!(res, Err(Error::WriterPoisoned)) {
            hit(C::framed_refused_after_read_poison);
        }
        let was = self.write.poisoned;
        self.write.settle_frame(plan, res, before);
        if was == Some(false) && self.write.poisoned == Some(true) {
            self.direct_failed = self.write.w.hl + plan.payload.len() > WRITE_CAPACITY;
        }
    }

    /// After a reading call: the flush-before-read rule held, a call that
    /// did not read did not write, and a hard write error the call met was
    /// returned (and poisons the writer).
    fn after_read(&mut self, writes_before: usize) {
        let breaches = std::mem::take(&mut *self.duplex.breaches.borrow_mut());
        assert!(breaches.is_empty(), "{breaches:?}: {:?}", self.read.trail);
        let sink = self.duplex.sink.borrow();
        // (A hard error stops the read its flush was for.)
        if self.read.log.borrow().reads == 0 && self.read.write_error.is_none() {
            assert_eq!(
                sink.call, writes_before,
                "a reading call that did not read wrote: {:?}",
                self.read.trail
            );
        }
        if let Some(kind) = self.read.write_error.take() {
            hit(C::framed_read_reports_write_error);
            assert!(
                sink.hard && self.write.poisoned == Some(false),
                "{kind:?} from a reading call: {:?}",
                self.read.trail
            );
            assert!(sink.call > writes_before, "{:?}", self.read.trail);
            drop(sink);
            self.write.poison(Vec::new(), 0);
            self.poisoned_by_read = true;
        } else if self.write.poisoned == Some(true) {
            hit(C::framed_read_after_poison);
        }
    }

    /// The wire and the unsent bytes (`buffered`) are the frames accepted;
    /// after a hard error, perhaps with the frame of the failed call. The
    /// sink failed hard exactly when the writer is poisoned.
    fn check_write_side(&self, buffered: &[u8]) {
        let hard = self.duplex.sink.borrow().hard;
        assert_eq!(
            self.write.poisoned,
            Some(hard),
            "poisoned, or not: {:?}",
            self.write.trail
        );
        let wire = self.write.wire.borrow();
        let (expected, failed) = (&self.write.expected[..], &self.write.tentative[..]);
        assert!(
            concat_is(&wire, buffered, expected, &[])
                || (hard && concat_is(&wire, buffered, expected, failed))
                || (hard && self.direct_failed && concat_is_prefix(&wire, buffered, expected, failed)),
            "wire + unsent is not the accepted frames: {:?}\n  wire     {:02x?}\n  unsent   {buffered:02x?}\n  accepted {expected:02x?}",
            self.write.trail,
            &wire[..],
        );
        self.duplex.fed.set(self.write.expected.len());
    }

    /// `send`: `feed`, then `flush`. After `WouldBlock`/`TimedOut` the
    /// frame may have been accepted (the flush blocked): the write buffer
    /// tells, and the wire check after the call holds it to that.
    fn send(&mut self, framed: &mut Framed<Port<'_, '_>>, d: &mut Dice<'_>, rng: &mut Rng) {
        hit(C::framed_send);
        let plan = self.plan(d, rng, "send");
        let before = self.write.wire.borrow().len();
        let res = framed.send(&plan.payload);
        let blocked = matches!(&res, Err(Error::Io(e))
            if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut));
        let mut all = self.write.wire.borrow().clone();
        all.extend_from_slice(framed.write_buffer());
        let accepted = plan
            .frame
            .as_ref()
            .is_some_and(|f| all.len() == self.write.expected.len() + f.len());
        if res.is_ok() || (blocked && accepted) {
            self.settle_frame(&plan, &Ok(()), before);
            if blocked {
                hit(C::framed_send_blocked_accepted);
            }
            self.write.settle_flush(&res, before);
        } else {
            self.settle_frame(&plan, &res, before);
        }
    }

    /// Ends the run: `into_parts`, `into_inner` or a drop.
    fn end(&mut self, framed: Framed<Port<'_, '_>>, d: &mut Dice<'_>) {
        self.duplex.mark();
        match d.below(3) {
            0 => {
                hit(C::framed_into_parts);
                let buffered = framed.write_buffer().to_vec();
                let writes = self.duplex.sink.borrow().call;
                self.read.log.borrow_mut().mark();
                let (_port, unread, unsent) = framed.into_parts();
                assert_eq!(self.duplex.sink.borrow().call, writes, "into_parts wrote");
                assert_eq!(self.read.log.borrow().reads, 0, "into_parts read");
                assert_eq!(unsent, buffered, "{:?}", self.write.trail);
                if !unsent.is_empty() {
                    hit(C::framed_into_parts_unsent);
                }
                self.check_write_side(&unsent);
                let rest = self.duplex.source.borrow().rest();
                self.read.check_into_parts(&unread, rest);
            }
            1 => {
                hit(C::framed_into_inner);
                self.trail("into_inner");
                let before = self.write.wire.borrow().len();
                let res = framed.into_inner().map(drop);
                self.write.settle_flush(&res, before);
            }
            _ => drop(framed),
        }
    }

    /// `split`, and random calls on the reader and writer it gives.
    fn split(&mut self, framed: Framed<Port<'_, '_>>, d: &mut Dice<'_>, rng: &mut Rng) {
        self.trail("split");
        let unread = framed.read_buffer().to_vec();
        let unsent = framed.write_buffer().to_vec();
        let (mut r, mut w) = framed.split();
        self.duplex.rule.set(false);
        if self.write.poisoned == Some(true) {
            hit(C::framed_split_poisoned);
        }
        assert_eq!(r.buffer(), &unread[..], "split lost read bytes");
        assert_eq!(w.buffered(), &unsent[..], "split lost unsent bytes");
        self.read.check_state(&r);
        let mut after_end = None;
        for _ in 0..50_000 {
            if self.read.ended && after_end.is_none() {
                after_end = Some(1 + d.below(4));
            }
            let op = d.below(16);
            // (Out of dice, every op is 0: a read, until the end.)
            if op == 15 || after_end == Some(0) {
                break;
            }
            if let Some(n) = after_end.as_mut() {
                *n -= 1;
            }
            self.read.log.borrow_mut().mark();
            match op {
                0..=2 => {
                    self.trail("split read_frame");
                    let got = Got::of(r.read_frame());
                    self.read.settle(&r, got);
                }
                3 => {
                    self.trail("split next");
                    self.read.next(&mut r);
                }
                4..=5 => {
                    hit(C::framed_split_stream);
                    self.read.stream(&mut r, d);
                }
                6..=10 => self.split_write(&mut w, d, rng),
                _ => {
                    self.trail("split flush");
                    let before = self.write.wire.borrow().len();
                    let res = w.flush();
                    self.write.settle_flush(&res, before);
                }
            }
            std::mem::take(&mut self.read.dropped_stream);
            self.read.check_state(&r);
            self.check_write_side(w.buffered());
        }
        let (_port, rest) = r.into_parts();
        let unread = self.duplex.source.borrow().rest();
        self.read.check_into_parts(&rest, unread);
        let (_port, unsent) = w.into_parts();
        self.check_write_side(&unsent);
    }

    fn split_write(&mut self, w: &mut FrameWriter<Port<'_, '_>>, d: &mut Dice<'_>, rng: &mut Rng) {
        hit(C::framed_split_write);
        let plan = self.plan(d, rng, "split write_frame");
        let before = self.write.wire.borrow().len();
        let res = w.write_frame(&plan.payload);
        self.settle_frame(&plan, &res, before);
    }
}

/// `a ++ b` is `c` followed by a prefix of `d`.
fn concat_is_prefix(a: &[u8], b: &[u8], c: &[u8], d: &[u8]) -> bool {
    let n = a.len() + b.len();
    (c.len()..=c.len() + d.len()).contains(&n) && a.iter().chain(b).eq(c.iter().chain(d).take(n))
}

/// `a ++ b == c ++ d`, without allocating.
fn concat_is(a: &[u8], b: &[u8], c: &[u8], d: &[u8]) -> bool {
    if a.len() + b.len() != c.len() + d.len() {
        return false;
    }
    if a.len() <= c.len() {
        let (c1, c2) = c.split_at(a.len());
        let (b1, b2) = b.split_at(c2.len());
        a == c1 && b1 == c2 && b2 == d
    } else {
        let (a1, a2) = a.split_at(c.len());
        let (d1, d2) = d.split_at(a2.len());
        a1 == c && a2 == d1 && b == d2
    }
}
