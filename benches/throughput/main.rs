//! `cargo bench`: lenframe side by side with tokio-util's
//! `LengthDelimitedCodec`, the seeds' idiom and the physical limits
//! (memcpy, a hand-written slice walker, raw TCP), one line per scenario
//! and implementation, every output checked before its time is reported.
//!
//! ```text
//! cargo bench --bench throughput                     # full run (about 30 s)
//! cargo bench --bench throughput -- "decode 16"      # scenarios whose name contains it
//! cargo test --benches                               # quick mode: tiny sizes, a smoke test
//! ```
//!
//! Cargo passes `--bench` under `cargo bench`: that selects the full run.
//! Results also go to `target/lenframe-bench.json` (`$CARGO_TARGET_DIR`).
//!
//! The files, one job each: `impls.rs` (the implementations
//! under test), `scenarios.rs` (inputs, which implementations
//! run, what each is compared with), `measure.rs` (timing,
//! checking, allocation counting), `report.rs` (the printed
//! lines and the JSON).

mod impls;
mod measure;
mod report;
mod scenarios;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let bench = measure::Bench::new(full);
    let mode = if bench.quick { "quick" } else { "full" };
    let defs = scenarios::all();
    let chosen: Vec<&scenarios::Def> = defs
        .iter()
        .filter(|d| filters.is_empty() || filters.iter().any(|f| d.name.contains(f)))
        .collect();
    if chosen.is_empty() {
        eprintln!("no scenario name contains {filters:?}; the scenarios are:");
        for d in &defs {
            eprintln!("  {}", d.name);
        }
        return ExitCode::from(2);
    }
    report::print_header(mode, bench.reps);
    let mut done = Vec::new();
    for def in chosen {
        let s = def.run(&bench);
        report::print_scenario(&s);
        done.push(s);
    }
    match report::write_json(mode, bench.reps, &done) {
        Ok(path) => {
            // The file must read back as the scenarios just run.
            let text = std::fs::read_to_string(&path).expect("JSON results readable");
            let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
            assert_eq!(doc["scenarios"].as_array().map(Vec::len), Some(done.len()));
            println!("results written to {}", path.display());
        }
        Err(e) => eprintln!("could not write the JSON results: {e}"),
    }
    ExitCode::SUCCESS
}
