//! Helpers shared by the integration tests: formats, fault-injecting I/O.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use lenframe::{Codec, HeaderFormat};

/// Every format character under every byte-order prefix.
pub fn all_formats() -> Vec<HeaderFormat> {
    let mut out = Vec::new();
    for prefix in ["", "@", "=", "<", ">", "!"] {
        for code in ["b", "B", "h", "H", "i", "I", "l", "L", "q", "Q"] {
            out.push(format!("{prefix}{code}").parse().unwrap());
        }
    }
    out
}

/// A codec for `format` whose max is at most `max`.
pub fn codec(format: HeaderFormat, max: usize) -> Codec {
    Codec::builder()
        .format(format)
        .max_frame_len(max)
        .build()
        .unwrap()
}

/// The one-shot encoding of `frames`.
pub fn encode_all(codec: &Codec, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut wire = Vec::new();
    for f in frames {
        codec.encode_to_vec(f, &mut wire).unwrap();
    }
    wire
}

/// What a fault-injecting reader or writer does on one call.
#[derive(Debug, Clone, Copy)]
pub enum Act {
    /// Move at most this many bytes (at least 1).
    Short(usize),
    Interrupted,
    WouldBlock,
    TimedOut,
}

impl Act {
    fn error(self) -> Option<io::Error> {
        match self {
            Act::Short(_) => None,
            Act::Interrupted => Some(io::ErrorKind::Interrupted.into()),
            Act::WouldBlock => Some(io::ErrorKind::WouldBlock.into()),
            Act::TimedOut => Some(io::ErrorKind::TimedOut.into()),
        }
    }
}

/// A reader over `data` that follows a script of acts (cycled), then EOF.
pub struct FaultyReader {
    data: VecDeque<u8>,
    script: Vec<Act>,
    call: usize,
}

impl FaultyReader {
    pub fn new(data: Vec<u8>, script: Vec<Act>) -> Self {
        assert!(!script.is_empty());
        FaultyReader {
            data: data.into(),
            script,
            call: 0,
        }
    }
}

impl Read for FaultyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let act = self.script[self.call % self.script.len()];
        self.call += 1;
        if let Some(e) = act.error() {
            return Err(e);
        }
        let Act::Short(max) = act else { unreachable!() };
        let n = max.max(1).min(out.len()).min(self.data.len());
        for (slot, b) in out[..n].iter_mut().zip(self.data.drain(..n)) {
            *slot = b;
        }
        Ok(n)
    }
}

/// A writer that follows a script of acts (cycled), collecting bytes.
pub struct FaultyWriter {
    pub out: Vec<u8>,
    script: Vec<Act>,
    call: usize,
}

impl FaultyWriter {
    pub fn new(script: Vec<Act>) -> Self {
        assert!(!script.is_empty());
        FaultyWriter {
            out: Vec::new(),
            script,
            call: 0,
        }
    }
}

impl Write for FaultyWriter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let act = self.script[self.call % self.script.len()];
        self.call += 1;
        if let Some(e) = act.error() {
            return Err(e);
        }
        let Act::Short(max) = act else { unreachable!() };
        let n = max.max(1).min(b.len());
        self.out.extend_from_slice(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
