//! Side-by-side echo bench: `echo_server`, `tokio_echo_server` and the
//! tokio-util reference (`tokio_util_echo_server`: `Framed` +
//! `LengthDelimitedCodec` + `forward`), driven by the same in-process load
//! generator (examples/common/load.rs), rounds alternating between servers.
//!
//! ```text
//! cargo build --release --all-features --examples
//! cargo run --release --all-features --example echo_bench -- [--quick] [--rounds N]
//!     [--scenario SUBSTR] [--server SUBSTR] [--extra NAME=PATH]
//! ```
//!
//! It builds nothing: it starts the example binaries found next to its own
//! executable (target/release/examples), each on a free loopback port. Per
//! scenario and server it prints one line: frames/s (median of the rounds),
//! the ratio to the reference, and the server's CPU time per frame
//! (utime + stime from /proc/PID/stat over the run), the steadier figure on
//! a busy machine where the client competes for the same cores.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

#[path = "common/cli.rs"]
mod cli;
#[path = "common/load.rs"]
mod load;

const USAGE: &str = "usage: echo_bench [--quick] [--rounds N] [--scenario SUBSTR] [--server SUBSTR] [--extra NAME=PATH]
  --quick            a fiftieth of the frames, one round (a smoke test)
  --rounds N         rounds per scenario, servers alternating (default 3; the median is shown)
  --scenario SUBSTR  only scenarios whose name contains SUBSTR (e.g. pipe, 64K, pingpong)
  --server SUBSTR    only servers whose name contains SUBSTR (the reference always runs)
  --extra NAME=PATH  also bench the server binary at PATH (it takes --addr 127.0.0.1:0
                     and prints `listening on ADDR` first)
Build the servers first: cargo build --release --all-features --examples";

const REFERENCE: &str = "tokio_util_echo_server";

struct Scenario {
    name: &'static str,
    conns: usize,
    frames: u64,
    size: usize,
    ping_pong: bool,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        name: "pipe 1x16B",
        conns: 1,
        frames: 1_000_000,
        size: 16,
        ping_pong: false,
    },
    Scenario {
        name: "pipe 50x16B",
        conns: 50,
        frames: 40_000,
        size: 16,
        ping_pong: false,
    },
    Scenario {
        name: "pipe 4x64K",
        conns: 4,
        frames: 2_000,
        size: 65536,
        ping_pong: false,
    },
    Scenario {
        name: "pingpong 10x64B",
        conns: 10,
        frames: 2_000,
        size: 64,
        ping_pong: true,
    },
];

struct Options {
    quick: bool,
    rounds: usize,
    scenario: Option<String>,
    server: Option<String>,
    extra: Vec<(String, PathBuf)>,
}

fn parse() -> Result<Options, ExitCode> {
    cli::parse_cli("echo_bench", USAGE, |flags| {
        let mut o = Options {
            quick: false,
            rounds: 3,
            scenario: None,
            server: None,
            extra: Vec::new(),
        };
        let mut rounds = None;
        while let Some(flag) = flags.next_flag() {
            match flag.as_str() {
                "--quick" => o.quick = true,
                "--rounds" => {
                    let n: usize = flags.value(&flag)?;
                    if n == 0 {
                        return Err("--rounds must be at least 1".into());
                    }
                    rounds = Some(n);
                }
                "--scenario" => o.scenario = Some(flags.value(&flag)?),
                "--server" => o.server = Some(flags.value(&flag)?),
                "--extra" => {
                    let spec: String = flags.value(&flag)?;
                    let (name, path) = spec
                        .split_once('=')
                        .ok_or_else(|| format!("--extra {spec:?}: expected NAME=PATH"))?;
                    o.extra.push((name.to_owned(), PathBuf::from(path)));
                }
                other => return Err(cli::unknown(other)),
            }
        }
        o.rounds = rounds.unwrap_or(if o.quick { 1 } else { 3 });
        if let Some(s) = &o.scenario {
            if !SCENARIOS.iter().any(|sc| sc.name.contains(s.as_str())) {
                return Err(format!("--scenario {s:?} matches no scenario"));
            }
        }
        Ok(o)
    })
}

/// A server process, killed on drop; its output is drained so a full pipe
/// never stalls it.
struct Server {
    name: String,
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(name: &str, path: &PathBuf) -> Result<Server, String> {
        let mut child = Command::new(path)
            .args(["--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok());
        drain(stdout, false);
        drain(child.stderr.take().expect("piped"), true);
        let Some(addr) = addr else {
            let _ = child.kill();
            return Err(format!("{name}: first line was {line:?}"));
        };
        Ok(Server {
            name: name.to_owned(),
            child,
            addr,
        })
    }

    /// utime + stime so far.
    fn cpu(&self) -> Duration {
        cpu_time(self.child.id()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `from` to its end on a thread (stderr lines are shown).
fn drain(from: impl Read + Send + 'static, show: bool) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            match line {
                Ok(l) if show => eprintln!("  server: {l}"),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
}

/// A process's user + system CPU time, from /proc/PID/stat (fields 14 and
/// 15, in clock ticks of 1/100 s, Linux's USER_HZ).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts with field 3 (state).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// One run's figures.
#[derive(Clone, Copy)]
struct Run {
    frames_per_sec: f64,
    cpu_per_frame: Duration,
    p50: Duration,
    p99: Duration,
}

fn median(mut runs: Vec<Run>) -> Run {
    let mid = runs.len() / 2;
    let by = |f: fn(&Run) -> f64, runs: &mut Vec<Run>| {
        runs.sort_by(|a, b| f(a).total_cmp(&f(b)));
        runs[mid]
    };
    let mut m = by(|r| r.frames_per_sec, &mut runs);
    m.cpu_per_frame = by(|r| r.cpu_per_frame.as_secs_f64(), &mut runs).cpu_per_frame;
    m.p50 = by(|r| r.p50.as_secs_f64(), &mut runs).p50;
    m.p99 = by(|r| r.p99.as_secs_f64(), &mut runs).p99;
    m
}

fn run_once(server: &Server, sc: &Scenario, scale: u64) -> Result<Run, String> {
    let frames = (sc.frames / scale).max(10);
    let before = server.cpu();
    let report = if sc.ping_pong {
        load::ping_pong(server.addr, sc.conns, frames, sc.size)?
    } else {
        load::pipelined(server.addr, sc.conns, frames, sc.size)?
    };
    // Let the server finish closing before reading its CPU time.
    std::thread::sleep(Duration::from_millis(20));
    let cpu = server.cpu().saturating_sub(before);
    Ok(Run {
        frames_per_sec: report.frames_per_sec(),
        cpu_per_frame: cpu / u32::try_from(report.frames).unwrap_or(u32::MAX).max(1),
        p50: report.percentile(50.0),
        p99: report.percentile(99.0),
    })
}

fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else {
        format!("{:.1} k/s", r / 1e3)
    }
}

fn fmt_dur(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns >= 1_000 {
        format!("{:.1} us", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
    }
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(exit) => return exit,
    };
    let dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_default();
    let mut wanted: Vec<(String, PathBuf)> = ["echo_server", "tokio_echo_server", REFERENCE]
        .iter()
        .map(|n| (n.to_string(), dir.join(n)))
        .chain(o.extra.iter().cloned())
        .filter(|(n, _)| n == REFERENCE || o.server.as_deref().map_or(true, |s| n.contains(s)))
        .collect();
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(_, p)| !p.exists())
        .map(|(n, _)| n.as_str())
        .collect();
    if !missing.is_empty() {
        let profile = if dir.ends_with("release/examples") {
            " --release"
        } else {
            ""
        };
        eprintln!(
            "echo_bench: not built: {} (in {}); build them first:\n  cargo build{profile} --all-features --examples",
            missing.join(", "),
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    let mut servers = Vec::new();
    for (name, path) in wanted.drain(..) {
        match Server::start(&name, &path) {
            Ok(s) => servers.push(s),
            Err(e) => {
                eprintln!("echo_bench: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let scale = if o.quick { 50 } else { 1 };
    let scenarios: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|sc| o.scenario.as_deref().map_or(true, |s| sc.name.contains(s)))
        .collect();
    println!(
        "echo_bench: {} round(s), median shown; cpu = server CPU time per frame",
        o.rounds
    );
    println!("ratio: frames/s over {REFERENCE}'s (ping-pong: p50 over its p50)");
    let mut failed = false;
    for sc in scenarios {
        let frames = (sc.frames / scale).max(10);
        println!(
            "{}: {} conn(s) x {} frames x {} B{}",
            sc.name,
            sc.conns,
            frames,
            sc.size,
            if sc.ping_pong {
                ", one in flight"
            } else {
                ", pipelined"
            }
        );
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); servers.len()];
        let mut errors: Vec<Option<String>> = vec![None; servers.len()];
        for round in 0..o.rounds {
            // Alternate the order so no server always runs first.
            for k in 0..servers.len() {
                let i = (k + round) % servers.len();
                if errors[i].is_some() {
                    continue;
                }
                match run_once(&servers[i], sc, scale) {
                    Ok(r) => runs[i].push(r),
                    Err(e) => errors[i] = Some(e),
                }
            }
        }
        let reference = servers
            .iter()
            .position(|s| s.name == REFERENCE)
            .filter(|&i| !runs[i].is_empty())
            .map(|i| median(runs[i].clone()));
        for (i, server) in servers.iter().enumerate() {
            if let Some(e) = &errors[i] {
                failed = true;
                let mut line = format!("  {:<22} FAILED: {e}", server.name);
                line.truncate(99);
                println!("{line}");
                continue;
            }
            let m = median(runs[i].clone());
            let line = if sc.ping_pong {
                let ratio = reference.map_or(f64::NAN, |r| {
                    m.p50.as_secs_f64() / r.p50.as_secs_f64().max(1e-12)
                });
                format!(
                    "  {:<22} p50 {:>8} p99 {:>8} {:>5.2}x  cpu {:>8}/frame",
                    server.name,
                    fmt_dur(m.p50),
                    fmt_dur(m.p99),
                    ratio,
                    fmt_dur(m.cpu_per_frame)
                )
            } else {
                let ratio = reference.map_or(f64::NAN, |r| m.frames_per_sec / r.frames_per_sec);
                format!(
                    "  {:<22} {:>11} {:>5.2}x  cpu {:>8}/frame",
                    server.name,
                    fmt_rate(m.frames_per_sec),
                    ratio,
                    fmt_dur(m.cpu_per_frame)
                )
            };
            println!("{line}");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
