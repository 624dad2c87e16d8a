//! One model, every entry point: lenframe's readers, decoder faces, async
//! codecs (tokio-util and asynchronous-codec), encoders, writer and
//! `Framed` duplex stream, driven through random interleavings of their
//! calls and compared with a reference model of the framing written from
//! the wire format (see `tests/model/check.rs`).
//!
//! The same check runs as the `model` fuzz target; its corpus (and those
//! of the other fuzz targets) is replayed by `fuzz_replay`
//! (`tests/model/fuzz_replay.rs`), in this binary. A failing case here
//! prints its bytes: saved as a file under `fuzz/corpus/model/`, it stays
//! a regression test.
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

#[path = "model/check.rs"]
mod check;
#[path = "model/fuzz_replay.rs"]
mod fuzz_replay;

use check::coverage::{self, ALL};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 16_000 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random runs: every disagreement with the model fails.
    #[test]
    fn lenframe_agrees_with_the_model(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check::check(&data);
    }
}

/// A fixed set of seeded runs, which must between them reach every call
/// kind and state in the coverage table: the model check cannot quietly
/// test less.
#[test]
#[cfg_attr(miri, ignore = "hundreds of runs; Miri runs the proptest cases")]
fn fixed_seeds_reach_every_state() {
    coverage::take();
    for seed in 0..3000 {
        check::check(&check::seeded(seed, 2048));
    }
    let counts = coverage::take();
    let mut missed = Vec::new();
    for (&c, &n) in ALL.iter().zip(&counts) {
        eprintln!("{n:>8}  {:<34} {}", c.name(), c.doc());
        let gated = (c == coverage::C::tokio_decode && !cfg!(feature = "tokio"))
            || (c == coverage::C::futures_decode && !cfg!(feature = "futures-io"));
        if n == 0 && !gated {
            missed.push(c.name());
        }
    }
    if !cfg!(feature = "tokio") {
        eprintln!("tokio_decode not required: built without the `tokio` feature");
    }
    if !cfg!(feature = "futures-io") {
        eprintln!("futures_decode not required: built without the `futures-io` feature");
    }
    assert!(missed.is_empty(), "never reached: {missed:?}");
}

/// Runs the seeded cases `MODEL_SEEDS` (`a..b`, default `0..3000`) one by
/// one, saying which: `MODEL_SEEDS=17..18 cargo test --test model
/// seeds_one_by_one -- --ignored --nocapture` replays one.
#[test]
#[ignore = "a debugging aid"]
fn seeds_one_by_one() {
    let range = std::env::var("MODEL_SEEDS").unwrap_or_else(|_| "0..3000".into());
    let (a, b) = range.split_once("..").expect("a..b");
    for seed in a.parse::<u64>().unwrap()..b.parse().unwrap() {
        eprintln!("seed {seed}");
        check::check(&check::seeded(seed, 2048));
    }
}

/// Runs the model check on one file (`MODEL_FILE`), such as a fuzz
/// crash: `MODEL_FILE=fuzz/artifacts/model/crash-... cargo test --test
/// model one_file -- --ignored --nocapture`.
#[test]
#[ignore = "a debugging aid"]
fn one_file() {
    let path = std::env::var("MODEL_FILE").expect("MODEL_FILE=path");
    check::check(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")));
}
