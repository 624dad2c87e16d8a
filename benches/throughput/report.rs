//! What a scenario reports, printed one line per implementation and
//! written to `target/lenframe-bench.json` (serde_json).
//!
//! A line's figure is frames/s, or GB/s when the implementation moves the
//! payload bytes and frames are at least 1 KiB: a zero-copy decode of
//! 1 MiB frames hands out frames in place, so it is reported in frames/s
//! (a GB/s figure would count bytes nobody touched). Its ratio is its
//! frames/s over that of the implementation it is compared with, named on
//! the line.

use std::path::PathBuf;

use serde_json::{json, Value};

/// One scenario's results, in the order they are printed.
pub struct Scenario {
    pub name: &'static str,
    pub lines: Vec<Line>,
    /// Printed under the lines, indented.
    pub notes: Vec<String>,
}

/// One implementation in one scenario.
pub struct Line {
    pub implementation: &'static str,
    pub frames: u64,
    /// Payload bytes.
    pub bytes: u64,
    pub figure: Figure,
    /// The implementation this one's ratio is taken against.
    pub vs: Option<&'static str>,
}

pub enum Figure {
    Timed {
        secs: f64,
        cpu_secs: Option<f64>,
        allocs_per_frame: f64,
        /// The payload bytes are copied (so GB/s means something).
        moves_bytes: bool,
    },
    /// Per-frame counts, e.g. `("read() per frame", 0.0012)`.
    Counts(Vec<(&'static str, f64)>),
}

impl Line {
    fn frames_per_sec(&self) -> Option<f64> {
        match self.figure {
            Figure::Timed { secs, .. } => Some(self.frames as f64 / secs),
            Figure::Counts(_) => None,
        }
    }

    /// GB/s, for lines that copy frames of at least 1 KiB.
    fn gb_per_sec(&self) -> Option<f64> {
        match self.figure {
            Figure::Timed {
                secs,
                moves_bytes: true,
                ..
            } if self.bytes >= 1024 * self.frames => Some(self.bytes as f64 / secs / 1e9),
            _ => None,
        }
    }

    fn zero_copy_large(&self) -> bool {
        matches!(self.figure, Figure::Timed { .. })
            && self.gb_per_sec().is_none()
            && self.bytes >= 1024 * self.frames.max(1)
    }
}

impl Scenario {
    /// `line`'s frames/s over its counterpart's.
    fn ratio(&self, line: &Line) -> Option<(&'static str, f64)> {
        let vs = line.vs?;
        let other = self.lines.iter().find(|l| l.implementation == vs)?;
        Some((vs, line.frames_per_sec()? / other.frames_per_sec()?))
    }

    fn is_reference(&self, line: &Line) -> bool {
        self.lines.iter().any(|l| l.vs == Some(line.implementation))
    }
}

const SCENARIO_W: usize = 30;
const IMPL_W: usize = 19;

pub fn print_header(mode: &str, reps: usize) {
    println!("lenframe bench, {mode} mode: median of {reps} run(s) per line.");
    println!("Figures are frames/s (M = million), or GB/s where payload bytes are copied;");
    println!("ratio = frames/s over the named implementation's (higher is better).");
    println!(
        "Limits: walker = a slice loop trusting every header; memcpy = one copy of the stream."
    );
    println!(
        "{:<SCENARIO_W$} {:<IMPL_W$} {:>16}  ratio",
        "scenario", "implementation", "throughput"
    );
}

/// Prints one line per implementation, then the scenario's notes.
pub fn print_scenario(s: &Scenario) {
    for line in &s.lines {
        let text = match &line.figure {
            Figure::Counts(counts) => counts
                .iter()
                .map(|(what, v)| format!("{} {what}", number(*v)))
                .collect::<Vec<_>>()
                .join(", "),
            Figure::Timed { .. } => {
                let figure = match line.gb_per_sec() {
                    Some(gbs) => format!("{gbs:.2} GB/s"),
                    None => rate(line.frames_per_sec().unwrap_or(0.0)),
                };
                let ratio = match s.ratio(line) {
                    Some((vs, r)) => format!("{r:.2}x {vs}"),
                    None if s.is_reference(line) => "(reference)".into(),
                    None => String::new(),
                };
                format!("{figure:>16}  {ratio}")
            }
        };
        let out = format!(
            "{:<SCENARIO_W$} {:<IMPL_W$} {text}",
            s.name, line.implementation
        );
        let out = out.trim_end();
        assert!(out.len() < 100, "a line of {} characters: {out}", out.len());
        println!("{out}");
    }
    if s.lines.iter().any(Line::zero_copy_large) {
        println!("  note: frames/s on large frames = zero-copy, no payload bytes move");
    }
    for note in &s.notes {
        println!("  note: {note}");
    }
}

fn rate(fps: f64) -> String {
    if fps >= 1e6 {
        format!("{:.1} M frames/s", fps / 1e6)
    } else {
        format!("{:.1} k frames/s", fps / 1e3)
    }
}

fn number(v: f64) -> String {
    match v.abs() {
        0.0 => "0".into(),
        a if a < 0.001 => format!("{v:.6}"),
        a if a < 0.1 => format!("{v:.4}"),
        _ => format!("{v:.1}"),
    }
}

fn line_json(s: &Scenario, line: &Line) -> Value {
    let mut v = json!({
        "implementation": line.implementation,
        "frames": line.frames,
        "bytes": line.bytes,
    });
    match &line.figure {
        Figure::Timed {
            secs,
            cpu_secs,
            allocs_per_frame,
            moves_bytes,
        } => {
            v["seconds"] = json!(secs);
            v["frames_per_sec"] = json!(line.frames_per_sec());
            v["gb_per_sec"] = json!(line.gb_per_sec());
            v["copies_payload"] = json!(moves_bytes);
            v["cpu_seconds"] = json!(cpu_secs);
            v["cpu_ns_per_frame"] = json!(cpu_secs.map(|c| c * 1e9 / line.frames.max(1) as f64));
            v["allocs_per_frame"] = json!(allocs_per_frame);
        }
        Figure::Counts(counts) => {
            for (what, n) in counts {
                v[*what] = json!(n);
            }
        }
    }
    if let Some((vs, r)) = s.ratio(line) {
        v["compared_with"] = json!(vs);
        v["ratio"] = json!(r);
    }
    v
}

/// The whole run as JSON; returns where it went.
pub fn write_json(mode: &str, reps: usize, scenarios: &[Scenario]) -> std::io::Result<PathBuf> {
    let doc = json!({
        "mode": mode,
        "runs_per_line": reps,
        "scenarios": scenarios.iter().map(|s| json!({
            "name": s.name,
            "lines": s.lines.iter().map(|l| line_json(s, l)).collect::<Vec<_>>(),
            "notes": s.notes,
        })).collect::<Vec<_>>(),
    });
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("lenframe-bench.json");
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    std::fs::write(&path, text + "\n")?;
    Ok(path)
}
