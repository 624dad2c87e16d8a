//! Replays every file of the fuzz corpus (`fuzz/corpus/<target>/`) through
//! the same checks the fuzz targets run, on stable Rust, so a regression
//! shows up in `cargo test` without nightly or cargo-fuzz.
//!
//! The checks live under `tests/model/` (the fuzz crate includes them from
//! there), so this file builds everywhere. The corpus does not: the
//! packaged crate leaves `fuzz/` out, and there each replay says so and
//! passes.
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

#[allow(dead_code, unreachable_pub)]
#[path = "model/fuzz_checks.rs"]
mod checks;
#[path = "model/check.rs"]
mod model;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    if !fuzz.is_dir() {
        eprintln!(
            "skipped: no {} (the packaged crate leaves fuzz/ out), so no {target} corpus to replay",
            fuzz.display()
        );
        return;
    }
    let dir = fuzz.join("corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus files in {}", dir.display());
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{} fails its check", path.display());
    }
    eprintln!("replayed {} corpus files for {target}", files.len());
}

#[test]
fn decode_corpus() {
    replay("decode", checks::decode);
}

#[test]
fn reader_corpus() {
    replay("reader", checks::reader);
}

#[test]
fn round_trip_corpus() {
    replay("round_trip", checks::round_trip);
}

#[test]
fn model_corpus() {
    replay("model", model::check);
}
