//! The codec as configured and as seen from outside: extreme builder
//! settings, the tokio-util and Netty equivalence table, the error
//! messages that diagnose a mismatched peer, and interop with Python's
//! `struct`. One test binary; each module is one subject
//! (`tests/codec/<module>.rs`).
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

mod common;

#[path = "codec/adjustment_equivalence.rs"]
mod adjustment_equivalence;
#[path = "codec/config_extremes.rs"]
mod config_extremes;
#[path = "codec/diagnostics.rs"]
mod diagnostics;
#[path = "codec/python_interop.rs"]
mod python_interop;
#[path = "codec/varint_split_merge.rs"]
mod varint_split_merge;
