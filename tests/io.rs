//! The blocking adapters over `std::io`: `FrameReader`, `FrameWriter`,
//! streamed frames, `Framed`, varint headers through all of them, and the regressions of their streaming ×
//! skip × failure paths. One test binary; each module is one subject
//! (`tests/io/<module>.rs`).
// The blocking adapters need the default feature `std`.
#![cfg(feature = "std")]

mod common;

#[path = "io/framed.rs"]
mod framed;
#[path = "io/read.rs"]
mod read;
#[path = "io/regressions.rs"]
mod regressions;
#[path = "io/stream.rs"]
mod stream;
#[path = "io/varint.rs"]
mod varint;
#[path = "io/write.rs"]
mod write;
