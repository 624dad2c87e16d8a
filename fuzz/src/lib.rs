//! The fuzz targets' checks. They live in the main crate's `tests/model/`
//! and are included here by path, so the one copy serves libFuzzer and the
//! corpus replay in `cargo test` (`tests/model/fuzz_replay.rs`), and the packaged
//! crate (which leaves `fuzz/` out) still builds its tests.

#[path = "../../tests/model/fuzz_checks.rs"]
mod checks;

pub use checks::*;

/// The `model` target: one model of the framing, every entry point.
#[path = "../../tests/model/check.rs"]
pub mod model;
