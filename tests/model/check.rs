//! One model, every entry point: a reference model of the framing
//! (`spec`), and a differential check that drives lenframe's real types
//! through random interleavings of every public reading call (the
//! `FrameReader` calls and the `PayloadReader`, every `FrameDecoder` face,
//! the tokio codec), the writing side, and `Framed` (both at once over one
//! duplex stream), comparing each result with the model.
//!
//! Shared by `tests/model.rs` (proptest and a fixed-seed coverage run),
//! `tests/model/fuzz_replay.rs` (the corpus) and the `model` fuzz target, which
//! include this file by path: one copy of the logic. It lives under
//! `tests/` so the packaged crate (which leaves `fuzz/` out) still builds.
#![allow(dead_code)]

pub mod coverage;
mod decoder;
pub mod dice;
mod draw;
mod framed;
mod reader;
mod source;
pub mod spec;
mod writer;

use coverage::{hit, C};
use dice::Dice;
use lenframe::Oversize;

/// The whole check, driven by `data`: a configuration and an input drawn
/// from it, then the reader, the decoder faces (and the async codecs),
/// the writer and a `Framed` stream each run one random sequence against
/// the model. Panics on any disagreement.
pub fn check(data: &[u8]) {
    let mut d = Dice::new(data);
    let Some(codec) = draw::codec(&mut d) else {
        return;
    };
    hit(match codec.oversize() {
        Oversize::Skip => C::policy_skip,
        Oversize::Error => C::policy_error,
        other => panic!("a policy the model does not know: {other:?}"),
    });
    if codec.num_skip() < codec.header_len() {
        hit(C::header_with_kept_bytes);
    }
    if codec.length_adjustment() < 0 {
        hit(C::negative_adjustment);
    }
    if codec.format().is_varint() {
        hit(C::varint_codec);
        if codec.format().kind() == lenframe::HeaderKind::StrictVarint {
            hit(C::varint_strict);
        }
        if codec.num_skip() == 0 {
            hit(C::varint_kept_prefix);
        }
    }
    let shape = spec::Wire::parse(&codec, &[]);
    let input = draw::input(&mut d, &shape);
    let wire = spec::Wire::parse(&codec, &input);
    reader::run(&codec, &wire, &mut d);
    decoder::run(&codec, &wire, &mut d);
    #[cfg(feature = "tokio")]
    decoder::run_tokio(&codec, &wire, &mut d);
    #[cfg(feature = "futures-io")]
    decoder::run_futures_io(&codec, &wire, &mut d);
    writer::run(&codec, &wire, &mut d);
    framed::run(&codec, &wire, &mut d);
}

/// The bytes of a seeded run, for the fixed-seed coverage test.
pub fn seeded(seed: u64, len: usize) -> Vec<u8> {
    dice::Rng(seed).bytes(len)
}
