//! The async codecs: `FrameCodec` and `FrameResultCodec` under tokio-util
//! (feature `tokio`) and asynchronous-codec (feature `futures-io`). One
//! test binary; each module is one feature (`tests/async_codecs/<module>.rs`).
#![cfg(any(feature = "tokio", feature = "futures-io"))]

mod common;

#[path = "async_codecs/futures_io.rs"]
mod futures_io;
#[path = "async_codecs/tokio_codec.rs"]
mod tokio_codec;
