//! `FrameWriter` over a writer that takes random amounts and injects
//! `Interrupted`, `WouldBlock`, `TimedOut` and hard errors: the wire is
//! always a prefix of the frames it accepted (encoded by the model), in
//! order; after a hard error it refuses everything and writes nothing.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;

use lenframe::{Codec, Error, FrameWriter};

use super::coverage::{hit, C};
use super::dice::{Dice, Rng};
use super::spec::{Fault, Head, Wire};

#[derive(Debug, Clone, Copy)]
enum Act {
    Take(usize),
    Interrupted,
    WouldBlock,
    TimedOut,
    Hard,
    Zero,
}

/// The inner writer; its bytes are shared so the check sees them even
/// while the `FrameWriter` owns it, and after the writer is dropped.
pub struct Sink {
    pub out: Rc<RefCell<Vec<u8>>>,
    script: Vec<Act>,
    /// `write` calls so far.
    pub call: usize,
    /// The error of the last `write` call, if it was one.
    pub last_error: Option<io::ErrorKind>,
    /// A hard error (or a zero-length write) was returned: the writer
    /// above is poisoned.
    pub hard: bool,
}

impl Sink {
    /// A sink with a random script of short writes and faults; hard errors
    /// (and zero-length writes) only if `hard`.
    pub fn new(d: &mut Dice<'_>, hard: bool) -> Sink {
        let n = 1 + d.below(10);
        let mut script: Vec<Act> = (0..n)
            .map(|_| match d.below(24) {
                0..=9 => Act::Take(1 + d.below(8)),
                10..=13 => Act::Take(usize::MAX),
                14..=15 => Act::Interrupted,
                16..=18 => Act::WouldBlock,
                19..=20 => Act::TimedOut,
                21..=22 if hard => Act::Hard,
                _ if hard => Act::Zero,
                _ => Act::Take(usize::MAX),
            })
            .collect();
        script.push(Act::Take(usize::MAX));
        Sink {
            out: Rc::default(),
            script,
            call: 0,
            last_error: None,
            hard: false,
        }
    }
}

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let act = self.script[self.call % self.script.len()];
        self.call += 1;
        self.last_error = None;
        let kind = match act {
            Act::Take(n) => {
                let n = n.min(b.len());
                self.out.borrow_mut().extend_from_slice(&b[..n]);
                return Ok(n);
            }
            Act::Zero => {
                self.hard |= !b.is_empty();
                return Ok(0);
            }
            Act::Interrupted => io::ErrorKind::Interrupted,
            Act::WouldBlock => io::ErrorKind::WouldBlock,
            Act::TimedOut => io::ErrorKind::TimedOut,
            Act::Hard => io::ErrorKind::ConnectionReset,
        };
        self.hard |= kind == io::ErrorKind::ConnectionReset;
        self.last_error = Some(kind);
        Err(kind.into())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A `write_frame_from` source: short reads and `Interrupted`.
struct Feed {
    data: Vec<u8>,
    pos: usize,
    step: usize,
    every: usize,
}

impl Read for Feed {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.step += 1;
        if self.every > 0 && self.step % self.every == 0 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = out
            .len()
            .min(self.data.len() - self.pos)
            .min(1 + self.step % 7);
        out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// One writing side checked against the model (shared with the `Framed`
/// run, which writes through the same calls).
pub struct Run<'w, 'a> {
    pub w: &'w Wire<'a>,
    pub wire: Rc<RefCell<Vec<u8>>>,
    /// The model's encoding of every accepted frame, in order.
    pub expected: Vec<u8>,
    /// The accepted payloads, in order.
    accepted: Vec<Vec<u8>>,
    /// A frame that may be partly on the wire after a failed call.
    pub tentative: Vec<u8>,
    /// `None`: unknown (a streamed write blocked before any of its bytes
    /// went out, either before or after it began).
    pub poisoned: Option<bool>,
    pub trail: Vec<String>,
}

/// A frame drawn for a writing call: the payload, the model's encoding
/// of it, and why there is none if the codec must refuse it.
pub struct Plan {
    pub payload: Vec<u8>,
    pub frame: Option<Vec<u8>>,
    pub refusal: Option<Fault>,
}

/// Runs one random sequence of writer calls.
pub fn run(codec: &Codec, w: &Wire<'_>, d: &mut Dice<'_>) {
    let sink = Sink::new(d, true);
    let wire = sink.out.clone();
    let capacity = match d.below(3) {
        0 => 16 * 1024,
        _ => d.below(64),
    };
    let mut fw = FrameWriter::with_capacity(capacity, sink, *codec);
    let mut run = Run::new(w, wire);
    run.trail.push(format!("capacity {capacity}"));
    let mut rng = Rng(d.seed());
    for _ in 0..d.below(24) {
        match d.below(16) {
            0..=8 => run.write_frame(&mut fw, d, &mut rng),
            9..=11 => run.write_frame_from(&mut fw, d, &mut rng),
            12 if run.poisoned == Some(false) => {
                // Taken apart and rebuilt: the unsent bytes go out first.
                hit(C::w_from_parts);
                run.trail.push("into_parts + from_parts".into());
                let (sink, unsent) = fw.into_parts();
                fw = FrameWriter::from_parts(sink, *codec, unsent);
            }
            _ => {
                run.flush(&mut fw);
            }
        }
        if let Some(poisoned) = run.poisoned {
            hit(C::w_is_poisoned);
            assert_eq!(fw.is_poisoned(), poisoned, "is_poisoned: {:?}", run.trail);
        }
    }
    match d.below(3) {
        0 => {
            hit(C::w_into_parts);
            let (_sink, rest) = fw.into_parts();
            if run.poisoned == Some(false) {
                let mut all = run.wire.borrow().clone();
                all.extend_from_slice(&rest);
                assert_eq!(all, run.expected, "wire + rest: {:?}", run.trail);
            }
        }
        1 => {
            for _ in 0..1000 {
                if run.flush(&mut fw) {
                    break;
                }
            }
        }
        _ => drop(fw),
    }
    run.check_prefix();
    run.check_model_reads_back(codec);
}

impl<'w, 'a> Run<'w, 'a> {
    /// A writing side with nothing accepted yet, writing to `wire`.
    pub fn new(w: &'w Wire<'a>, wire: Rc<RefCell<Vec<u8>>>) -> Run<'w, 'a> {
        Run {
            w,
            wire,
            expected: Vec::new(),
            accepted: Vec::new(),
            tentative: Vec::new(),
            poisoned: Some(false),
            trail: Vec::new(),
        }
    }
}

impl Run<'_, '_> {
    /// The model's own round trip: its encoding of the accepted frames
    /// parses back into exactly those payloads.
    pub fn check_model_reads_back(&self, codec: &Codec) {
        let back = Wire::parse(codec, &self.expected);
        assert_eq!(back.tail, self.expected.len());
        assert_eq!(back.items.len(), self.accepted.len());
        for (it, payload) in back.items.iter().zip(&self.accepted) {
            assert_eq!(it.head, Head::Len(payload.len() as u64));
            let at = it.start + it.hl;
            assert_eq!(&self.expected[at..at + payload.len()], &payload[..]);
        }
    }

    pub fn check_prefix(&self) {
        let wire = self.wire.borrow();
        let mut valid = self.expected.clone();
        valid.extend_from_slice(&self.tentative);
        assert!(
            wire.len() <= valid.len() && wire[..] == valid[..wire.len()],
            "wire is not a prefix of the accepted frames: {:?}\n  wire     {:02x?}\n  accepted {:02x?}",
            self.trail,
            &wire[..],
            valid
        );
    }

    /// A call on a writer that may be poisoned: true if it was refused.
    fn refused(&mut self, res: &lenframe::Result<()>, before: usize) -> bool {
        if let Err(Error::WriterPoisoned) = res {
            assert_ne!(self.poisoned, Some(false), "refused: {:?}", self.trail);
            assert_eq!(self.wire.borrow().len(), before, "a refused call wrote");
            self.poisoned = Some(true);
            hit(C::w_after_poison);
            return true;
        }
        assert_ne!(
            self.poisoned,
            Some(true),
            "poisoned, yet {res:?}: {:?}",
            self.trail
        );
        if self.poisoned.is_none() {
            // Not refused: the blocked streamed write had not begun.
            self.poisoned = Some(false);
            self.tentative.clear();
        }
        false
    }

    /// After a hard error: poisoned, and `frame` (if any) may be part-way.
    /// `whole` is the frame's full length (more than `frame` holds when its
    /// source was short): never all of it is out.
    pub fn poison(&mut self, frame: Vec<u8>, whole: usize) {
        hit(C::w_poisoned);
        self.poisoned = Some(true);
        self.tentative = frame;
        let wire = self.wire.borrow().len();
        assert!(
            whole == 0 || wire < self.expected.len() + whole,
            "a failed call put its whole frame out: {:?}",
            self.trail
        );
    }

    fn write_frame(&mut self, fw: &mut FrameWriter<Sink>, d: &mut Dice<'_>, rng: &mut Rng) {
        let plan = self.plan(d, rng, "write_frame");
        check_encode_faces(
            fw.codec(),
            &plan.payload,
            plan.frame.as_deref(),
            plan.refusal,
            d,
        );
        let before = self.wire.borrow().len();
        let res = fw.write_frame(&plan.payload);
        self.settle_frame(&plan, &res, before);
    }

    /// Draws a frame for a writing call named `call`.
    pub fn plan(&mut self, d: &mut Dice<'_>, rng: &mut Rng, call: &str) -> Plan {
        let max = self.w.max;
        let len = match d.below(8) {
            0..=5 => d.below(max.min(40) as usize + 1),
            6 => max.saturating_add(1 + d.below(4) as u64).min(400) as usize,
            // Varint headers of 2 and 3 bytes, and lengths at their edges.
            _ if self.w.varint.is_some() => match d.below(4) {
                0 => d.below(max.min(300) as usize + 1),
                1 => 124 + d.below(8),
                2 if max >= 16_376 => 16_376 + d.below(16),
                _ => d.below(4),
            },
            _ => d.below(4),
        };
        let payload = rng.bytes(len);
        self.trail.push(format!("{call}({len})"));
        let frame = self.w.header_for(len as u64, &[]).map(|mut h| {
            h.extend_from_slice(&payload);
            h
        });
        let refusal = if len as u64 > max {
            Some(Fault::TooLargeToSend {
                len: len as u64,
                max,
            })
        } else if frame.is_none() {
            Some(Fault::Adjustment {
                value: len as u64,
                adjustment: self.w.adj,
            })
        } else {
            None
        };
        Plan {
            payload,
            frame,
            refusal,
        }
    }

    /// Checks a `write_frame` (or `feed`) result for `plan`'s frame, with
    /// `before` bytes on the wire before the call, and records it.
    pub fn settle_frame(&mut self, plan: &Plan, res: &lenframe::Result<()>, before: usize) {
        let Plan {
            payload,
            frame,
            refusal,
        } = plan;
        let refusal = *refusal;
        if !self.refused(res, before) {
            match (res, refusal) {
                (Ok(()), None) => {
                    let start = self.expected.len();
                    let frame = frame.clone().expect("encodable");
                    if self.w.varint.is_some() && frame.len() - payload.len() > 1 {
                        // Checked byte for byte: the wire is compared with
                        // `expected`, the model's own LEB128.
                        hit(C::varint_encoded_multi_byte);
                    }
                    self.expected.extend(frame);
                    self.accepted.push(payload.clone());
                    let wire = self.wire.borrow().len();
                    if wire > start && wire < self.expected.len() {
                        hit(C::w_accepted_partly_buffered);
                    }
                    hit(C::w_write_frame);
                }
                (Err(e), Some(f)) if f.is(e) => hit(C::w_write_frame_refused),
                (Err(Error::Io(e)), _) if is_retryable(e) => hit(C::w_would_block),
                (Err(Error::Io(e)), _) if e.kind() != io::ErrorKind::Interrupted => {
                    let frame = frame.clone().unwrap_or_default();
                    let whole = frame.len();
                    self.poison(frame, whole)
                }
                _ => panic!("write_frame: {res:?}, model {refusal:?}: {:?}", self.trail),
            }
        }
        self.check_prefix();
    }

    fn write_frame_from(&mut self, fw: &mut FrameWriter<Sink>, d: &mut Dice<'_>, rng: &mut Rng) {
        let limit = self
            .w
            .stream_limit(u64::MAX)
            .min((usize::MAX - self.w.hl) as u64);
        let len = match d.below(8) {
            0 => limit.saturating_add(1 + d.below(3) as u64),
            _ => d.below(300) as u64,
        };
        if len > 400 {
            return;
        }
        let have = match d.below(3) {
            0 => len,
            1 => len.saturating_sub(1 + d.below(4) as u64),
            _ => len + 1 + d.below(4) as u64,
        };
        let mut feed = Feed {
            data: rng.bytes(have as usize),
            pos: 0,
            step: 0,
            every: [0, 2, 3, 5][d.below(4)],
        };
        self.trail
            .push(format!("write_frame_from({len}, {have} bytes)"));
        let frame = self.w.header_for(len, &[]).map(|mut h| {
            let n = have.min(len) as usize;
            h.extend_from_slice(&feed.data[..n]);
            h
        });
        let refusal = if len > limit {
            Some(Fault::TooLargeToSend { len, max: limit })
        } else if frame.is_none() {
            Some(Fault::Adjustment {
                value: len,
                adjustment: self.w.adj,
            })
        } else {
            None
        };
        let head = self.w.header_for(len, &[]).map_or(self.w.hl, |h| h.len());
        let whole = head + len as usize;
        let before = self.wire.borrow().len();
        let res = fw.write_frame_from(len, &mut feed);
        if !self.refused(&res, before) {
            let short = have < len;
            match &res {
                Err(e) if refusal.is_some_and(|f| f.is(e)) => {
                    assert_eq!(self.wire.borrow().len(), before, "a refused frame wrote");
                    hit(C::w_write_frame_from_refused);
                }
                _ if refusal.is_some() => panic!("write_frame_from: {res:?}, model {refusal:?}"),
                Ok(()) => {
                    assert_eq!(have, len, "a wrong-length source was accepted");
                    self.expected.extend(frame.expect("encodable"));
                    self.accepted.push(feed.data[..len as usize].to_vec());
                    assert_eq!(*self.wire.borrow(), self.expected, "{:?}", self.trail);
                    self.poisoned = Some(false);
                    hit(C::w_write_frame_from_exact);
                }
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::InvalidInput && have > len => {
                    // The frame is whole on the wire; the writer refuses more.
                    self.expected.extend(frame.expect("encodable"));
                    self.accepted.push(feed.data[..len as usize].to_vec());
                    assert_eq!(*self.wire.borrow(), self.expected, "{:?}", self.trail);
                    self.poisoned = Some(true);
                    self.tentative.clear();
                    hit(C::w_write_frame_from_long);
                }
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof && short => {
                    self.poison(frame.expect("encodable"), whole);
                    hit(C::w_write_frame_from_short);
                }
                Err(Error::Io(e)) if is_retryable(e) => {
                    hit(C::w_would_block);
                    self.tentative = frame.expect("encodable");
                    // Poisoned once any of the frame went out.
                    let wire = self.wire.borrow().len();
                    self.poisoned = if wire > self.expected.len() {
                        Some(true)
                    } else {
                        None
                    };
                }
                Err(Error::Io(e)) if e.kind() != io::ErrorKind::Interrupted => {
                    self.poison(frame.expect("encodable"), whole)
                }
                _ => panic!("write_frame_from: {res:?}: {:?}", self.trail),
            }
        }
        self.check_prefix();
    }

    /// Returns true once everything accepted is on the wire.
    fn flush(&mut self, fw: &mut FrameWriter<Sink>) -> bool {
        self.trail.push("flush".into());
        let before = self.wire.borrow().len();
        let res = fw.flush();
        self.settle_flush(&res, before)
    }

    /// Checks a `flush` result, with `before` bytes on the wire before the
    /// call; returns true once everything accepted is on the wire.
    pub fn settle_flush(&mut self, res: &lenframe::Result<()>, before: usize) -> bool {
        hit(C::w_flush);
        let done = match res {
            _ if self.refused(res, before) => true,
            Ok(()) => {
                assert_eq!(
                    *self.wire.borrow(),
                    self.expected,
                    "flushed: {:?}",
                    self.trail
                );
                self.poisoned = Some(false);
                self.tentative.clear();
                true
            }
            Err(Error::Io(e)) if is_retryable(e) => {
                hit(C::w_would_block);
                false
            }
            Err(Error::Io(e)) if e.kind() != io::ErrorKind::Interrupted => {
                self.poison(Vec::new(), 0);
                true
            }
            _ => panic!("flush: {res:?}: {:?}", self.trail),
        };
        self.check_prefix();
        done
    }
}

/// The codec's own encoders, each against the model: the header on the
/// stack (`header`), whole frames into a `BytesMut`, a `Vec` and a caller's
/// slice (`encode`, `encode_to_vec`, `encode_to_slice`, the slice drawn
/// too short now and then). `frame` is the model's encoding of `payload`,
/// `refusal` why there is none. A refused or unfitting frame writes
/// nothing anywhere.
fn check_encode_faces(
    codec: &Codec,
    payload: &[u8],
    frame: Option<&[u8]>,
    refusal: Option<Fault>,
    d: &mut Dice<'_>,
) {
    hit(C::e_encode_faces);
    // The model encodes any length the header can carry; past the max
    // there is a refusal and no frame.
    let frame = frame.filter(|_| refusal.is_none());
    let agree = |res: &lenframe::Result<()>| match (res, refusal) {
        (Ok(()), None) => true,
        (Err(e), Some(f)) => f.is(e),
        _ => false,
    };
    let header = codec.header(payload.len());
    let header_ok = match (&header, frame) {
        (Ok(h), Some(f)) => f.starts_with(h) && h.len() == f.len() - payload.len(),
        (Err(e), None) => refusal.is_some_and(|f| f.is(e)),
        _ => false,
    };
    assert!(
        header_ok,
        "header({}): {header:?}, model {frame:?}",
        payload.len()
    );

    let mut bm = bytes::BytesMut::from(&b"keep"[..]);
    let res = codec.encode(payload, &mut bm);
    assert!(agree(&res), "encode: {res:?}, model {refusal:?}");
    let mut v = b"keep".to_vec();
    let res = codec.encode_to_vec(payload, &mut v);
    assert!(agree(&res), "encode_to_vec: {res:?}, model {refusal:?}");
    let want: Vec<u8> = [&b"keep"[..], frame.unwrap_or_default()].concat();
    assert_eq!(&bm[..], &want[..], "encode");
    assert_eq!(v, want, "encode_to_vec");

    let whole = frame.map_or(0, <[u8]>::len);
    let room = match d.below(4) {
        0 => d.below(whole.max(1)),
        _ => whole + d.below(8),
    };
    let mut dst = vec![0xEE; room];
    let res = codec.encode_to_slice(payload, &mut dst);
    match (&res, frame) {
        (Ok(n), Some(f)) => {
            assert_eq!(&dst[..*n], f, "encode_to_slice");
            assert!(dst[*n..].iter().all(|&b| b == 0xEE), "wrote past the frame");
        }
        (Err(Error::BufferTooSmall { needed, available }), Some(f)) if room < f.len() => {
            hit(C::e_encode_to_slice_too_small);
            assert_eq!((*needed, *available), (f.len() as u64, room as u64));
        }
        (Err(e), None) if refusal.is_some_and(|f| f.is(e)) => {}
        _ => panic!("encode_to_slice into {room}: {res:?}, model {frame:?} {refusal:?}"),
    }
    if res.is_err() {
        assert!(
            dst.iter().all(|&b| b == 0xEE),
            "a failed encode_to_slice wrote"
        );
    }
}

fn is_retryable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
