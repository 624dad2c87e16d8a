//! Replays every file of the fuzz corpus (`fuzz/corpus/<target>/`) through
//! the same checks the fuzz targets run, on stable Rust, so a regression
//! shows up in `cargo test` without nightly or cargo-fuzz.
//!
//! The checks live under `tests/model/` (the fuzz crate includes them from
//! there), so this module builds everywhere. The corpus does not: the
//! packaged crate leaves `fuzz/` out, and there each replay says so and
//! passes.

#[allow(dead_code, unreachable_pub)]
#[path = "fuzz_checks.rs"]
mod checks;

use std::path::Path;

use crate::check as model;

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
#[cfg_attr(miri, ignore = "the whole corpus: too slow under Miri")]
fn decode_corpus() {
    replay("decode", checks::decode);
}

#[test]
#[cfg_attr(miri, ignore = "the whole corpus: too slow under Miri")]
fn reader_corpus() {
    replay("reader", checks::reader);
}

#[test]
#[cfg_attr(miri, ignore = "the whole corpus: too slow under Miri")]
fn round_trip_corpus() {
    replay("round_trip", checks::round_trip);
}

#[test]
#[cfg_attr(miri, ignore = "the whole corpus: too slow under Miri")]
fn model_corpus() {
    replay("model", model::check);
}
