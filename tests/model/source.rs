//! A `Read` over the input that splits it at scripted points and injects
//! `Interrupted`, `WouldBlock` and `TimedOut`, and logs what it did so the
//! check can tell which errors a call must have passed on.

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

use super::coverage::{hit, C};
use super::dice::Dice;

/// How much larger than usual the pieces of an input of `len` bytes are
/// handed out: 1 up to 2 KiB (every fixed-header input), more for the
/// varint inputs with 16 KiB frames, so that a consumer fed a few bytes a
/// call, blocked between, still ends within its 50 000 calls.
pub fn scale(len: usize) -> usize {
    (len / 2048).max(1)
}

#[derive(Debug, Clone, Copy)]
enum Act {
    Chunk(usize),
    Interrupted,
    WouldBlock,
    TimedOut,
}

/// What the source did, shared with the check (a `PayloadReader` holds
/// the reader, and through it the source, while the check looks).
#[derive(Debug, Default)]
pub struct Log {
    /// Bytes handed out so far.
    pub pos: usize,
    /// `read` calls since the last `mark`.
    pub reads: usize,
    /// WouldBlock/TimedOut returned since the last `mark`.
    pub blocked: usize,
    /// The kind of the last call's error, if it was one.
    pub last_error: Option<io::ErrorKind>,
}

impl Log {
    /// Starts a new call's log.
    pub fn mark(&mut self) {
        self.reads = 0;
        self.blocked = 0;
    }
}

#[derive(Debug)]
pub struct Source<'a> {
    input: &'a [u8],
    /// Set once it returned end of file: from then on it always does (a
    /// closed socket).
    closed: bool,
    script: Vec<Act>,
    call: usize,
    pub log: Rc<RefCell<Log>>,
}

impl<'a> Source<'a> {
    pub fn new(input: &'a [u8], d: &mut Dice<'_>) -> Source<'a> {
        let scale = scale(input.len());
        let n = 1 + d.below(12);
        let mut script: Vec<Act> = (0..n)
            .map(|_| match d.below(16) {
                0..=5 => Act::Chunk((1 + d.below(8)) * scale),
                6 => Act::Chunk((1 + d.below(64)) * scale),
                7 => Act::Chunk(usize::MAX),
                8..=9 => Act::Interrupted,
                10..=12 => Act::WouldBlock,
                _ => Act::TimedOut,
            })
            .collect();
        // Every cycle of the script makes progress.
        script.push(Act::Chunk(if d.chance(128) { scale } else { usize::MAX }));
        Source {
            input,
            closed: false,
            script,
            call: 0,
            log: Rc::default(),
        }
    }

    /// What it has not handed out yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.input[self.log.borrow().pos..]
    }
}

impl Read for Source<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut log = self.log.borrow_mut();
        log.reads += 1;
        log.last_error = None;
        if self.closed {
            return Ok(0);
        }
        let act = self.script[self.call % self.script.len()];
        self.call += 1;
        let kind = match act {
            Act::Chunk(max) => {
                let pos = log.pos;
                let n = max.min(out.len()).min(self.input.len() - pos);
                out[..n].copy_from_slice(&self.input[pos..pos + n]);
                log.pos += n;
                // A zero-length read is end of file only for a real buffer.
                self.closed = n == 0 && !out.is_empty();
                return Ok(n);
            }
            Act::Interrupted => {
                hit(C::io_interrupted);
                io::ErrorKind::Interrupted
            }
            Act::WouldBlock => io::ErrorKind::WouldBlock,
            Act::TimedOut => io::ErrorKind::TimedOut,
        };
        if kind != io::ErrorKind::Interrupted {
            log.blocked += 1;
        }
        log.last_error = Some(kind);
        Err(kind.into())
    }
}
