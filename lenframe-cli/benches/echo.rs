//! The echo bench: `lenframe serve` side by side with the root package's
//! `echo_server` and `tokio_echo_server` examples and the six-line
//! tokio-util reference (`Framed` + `LengthDelimitedCodec` + `forward`,
//! lenframe-cli's example `tokio_util_echo_server`), every server driven by
//! the same client, `lenframe load --json`, rounds alternating between
//! servers.
//!
//! ```text
//! cargo bench -p lenframe-cli                          # full run, median of 3 rounds
//! cargo bench -p lenframe-cli -- pipe 64K              # scenarios whose name has "pipe" or "64K"
//! cargo bench -p lenframe-cli -- --rounds 5 --server tokio
//! cargo test -p lenframe-cli --benches                 # quick mode: tiny loads, checked
//! ```
//!
//! `cargo bench` passes `--bench`; without it (`cargo test --benches`)
//! the bench runs in quick mode and ignores its arguments (and fails if a
//! server does not build, where a full run leaves it out). It builds the
//! examples it compares with (`cargo build -p lenframe --features tokio
//! --example ...` and `cargo build -p lenframe-cli --example
//! tokio_util_echo_server`, in the bench's own profile); one that does not
//! build is named in one line and left out. Each server starts on a free
//! loopback port. Per scenario and server the bench prints one line:
//! frames/s (median of the rounds; p50/p99 round trips for ping-pong), the
//! ratio to the reference, and the server's CPU time per frame (utime +
//! stime from /proc/PID/stat over the run, Linux; `n/a` elsewhere; its
//! clock ticks are 10 ms, so a run that used under 0.1 s of server CPU
//! gets an upper bound, `<20 ns`), the steadier figure on a busy machine
//! where the client competes for the same cores. `lenframe load` checks every echo; a run that fails makes
//! its line say FAILED and the bench exit 1.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use clap::Parser;

/// The `lenframe` binary cargo built for this bench.
const LENFRAME: &str = env!("CARGO_BIN_EXE_lenframe");
/// The server the others are compared with.
const REFERENCE: &str = "tokio-util reference";
/// How long a cargo build may take (it may wait for another build).
const BUILD_LIMIT: Duration = Duration::from_secs(900);
/// How long a server may take to print `listening on`.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long one `lenframe load` run may take.
const RUN_LIMIT: Duration = Duration::from_secs(600);
/// The resolution of /proc/PID/stat's CPU times (USER_HZ = 100).
const TICK: Duration = Duration::from_millis(10);
/// The least server CPU time a run must use for a CPU-per-frame figure;
/// below it, the figure is an upper bound (`<20 ns`).
const MIN_CPU: Duration = Duration::from_millis(100);
/// Quick mode runs this fraction of each scenario's frames (at least 10).
const QUICK_SCALE: u64 = 500;

/// Side-by-side echo bench (run by `cargo bench -p lenframe-cli`).
#[derive(Parser)]
#[command(name = "echo bench")]
struct Options {
    /// Only scenarios whose name contains one of these (e.g. pipe, 64K,
    /// pingpong)
    #[arg(value_name = "SCENARIO")]
    scenarios: Vec<String>,

    /// Rounds per scenario, servers alternating; the median is shown
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,

    /// Only servers whose name contains SUBSTR (the reference always runs)
    #[arg(long, value_name = "SUBSTR")]
    server: Option<String>,

    /// Also bench the server binary at PATH (it takes --addr 127.0.0.1:0
    /// and prints `listening on ADDR` first)
    #[arg(long, value_name = "NAME=PATH", value_parser = name_and_path)]
    extra: Vec<(String, PathBuf)>,

    /// Tiny loads, one round: a smoke test
    #[arg(long)]
    quick: bool,

    /// Set by `cargo bench`
    #[arg(long, hide = true)]
    bench: bool,
}

fn name_and_path(raw: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = raw.split_once('=').ok_or("expected NAME=PATH")?;
    Ok((name.to_owned(), PathBuf::from(path)))
}

struct Scenario {
    name: &'static str,
    conns: u64,
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

/// A server to compare, and how to run it.
struct Candidate {
    name: String,
    /// The binary, or why there is none.
    binary: Result<PathBuf, String>,
    /// Arguments before `--addr 127.0.0.1:0`.
    args: Vec<&'static str>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let options = if args.iter().any(|a| a == "--bench") {
        match Options::try_parse_from(&args) {
            Ok(o) => o,
            Err(e) => {
                let _ = e.print();
                return ExitCode::from(2);
            }
        }
    } else {
        // `cargo test --benches`: quick mode, whatever the test runner's
        // arguments.
        Options::parse_from(["echo bench", "--quick"])
    };
    run(&options)
}

fn run(o: &Options) -> ExitCode {
    let rounds = if o.quick { 1 } else { o.rounds };
    let scale = if o.quick { QUICK_SCALE } else { 1 };
    let scenarios: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|sc| o.scenarios.is_empty() || o.scenarios.iter().any(|s| sc.name.contains(s)))
        .collect();
    if scenarios.is_empty() {
        eprintln!("echo bench: no scenario matches {:?}", o.scenarios);
        return ExitCode::from(2);
    }
    let mut failed = false;
    let mut servers = Vec::new();
    for c in candidates(o) {
        let started = c
            .binary
            .and_then(|path| Server::start(&c.name, &path, &c.args));
        match started {
            Ok(s) => servers.push(s),
            // A full run goes on without a server that does not build; the
            // quick run (CI) fails, so a broken server cannot go unnoticed.
            Err(e) if e.starts_with("not built") && !o.quick => {
                eprintln!("echo bench: {}: {e}", c.name)
            }
            Err(e) => {
                eprintln!("echo bench: {}: {e}", c.name);
                failed = true;
            }
        }
    }
    println!(
        "echo bench{}: {rounds} round(s), median shown; cpu = server CPU time per frame",
        if o.quick { " (quick)" } else { "" }
    );
    println!("ratio: frames/s over the {REFERENCE}'s (ping-pong: p50 over its p50)");
    for sc in scenarios {
        failed |= !run_scenario(&servers, sc, scale, rounds);
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The servers to compare, built as needed, those `--server` names first,
/// the reference last.
fn candidates(o: &Options) -> Vec<Candidate> {
    let profile_dir = Path::new(LENFRAME)
        .parent()
        .unwrap_or(Path::new("."))
        .to_owned();
    let wanted =
        |name: &str| name == REFERENCE || o.server.as_deref().is_none_or(|s| name.contains(s));
    let mut list = Vec::new();
    if wanted("lenframe serve") {
        list.push(Candidate {
            name: "lenframe serve".into(),
            binary: Ok(PathBuf::from(LENFRAME)),
            args: vec!["serve"],
        });
    }
    for example in ["echo_server", "tokio_echo_server"] {
        if wanted(example) {
            list.push(Candidate {
                name: example.into(),
                binary: build_example(&profile_dir, "lenframe", Some("tokio"), example),
                args: Vec::new(),
            });
        }
    }
    for (name, path) in &o.extra {
        if wanted(name) {
            list.push(Candidate {
                name: name.clone(),
                binary: Ok(path.clone()),
                args: Vec::new(),
            });
        }
    }
    list.push(Candidate {
        name: REFERENCE.into(),
        binary: build_example(&profile_dir, "lenframe-cli", None, "tokio_util_echo_server"),
        args: Vec::new(),
    });
    list
}

/// Builds `example` of `package` in the profile whose binaries are in
/// `profile_dir` (target/release for `cargo bench`, target/debug for
/// `cargo test --benches`), from the workspace root; returns its path.
fn build_example(
    profile_dir: &Path,
    package: &str,
    features: Option<&str>,
    example: &str,
) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    cmd.current_dir(root)
        .args(["build", "--quiet", "-p", package, "--example", example]);
    if let Some(target) = profile_dir.parent() {
        cmd.arg("--target-dir").arg(target);
    }
    if let Some(f) = features {
        cmd.args(["--features", f]);
    }
    if profile_dir.ends_with("release") {
        cmd.arg("--release");
    }
    let shown = format!(
        "cargo build{} -p {package}{} --example {example}",
        if profile_dir.ends_with("release") {
            " --release"
        } else {
            ""
        },
        features
            .map(|f| format!(" --features {f}"))
            .unwrap_or_default()
    );
    let out = run_limited(cmd, BUILD_LIMIT).map_err(|e| format!("not built ({shown}: {e})"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or("no error line");
        return Err(format!("not built ({shown} failed: {first})"));
    }
    Ok(profile_dir.join("examples").join(example))
}

/// Runs `cmd` to its end within `limit` (killed otherwise).
fn run_limited(mut cmd: Command, limit: Duration) -> Result<Output, String> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.map_err(|e| e.to_string()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            Err(format!("still running after {} s, killed", limit.as_secs()))
        }
    }
}

/// A server process, killed on drop; its output is drained so a full pipe
/// never stalls it (its stderr lines are shown).
struct Server {
    name: String,
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(name: &str, path: &Path, args: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(path)
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let mut server = Server {
            name: name.to_owned(),
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        if let Some(stderr) = stderr {
            drain(stderr, Some(name.to_owned()));
        }
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = stdout {
            thread::spawn(move || {
                let mut stdout = BufReader::new(stdout);
                let mut line = String::new();
                let _ = stdout.read_line(&mut line);
                let _ = tx.send(line);
                drain(stdout, None);
            });
        }
        let line = rx
            .recv_timeout(START_LIMIT)
            .map_err(|_| "no `listening on` line in time".to_owned())?;
        server.addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("first line was {line:?}"))?;
        Ok(server)
    }

    /// utime + stime so far (Linux).
    fn cpu(&self) -> Option<Duration> {
        cpu_time(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `from` to its end on a thread; shows its lines under `label`.
fn drain(from: impl Read + Send + 'static, label: Option<String>) {
    thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            match (line, &label) {
                (Ok(l), Some(name)) => eprintln!("  {name}: {l}"),
                (Ok(_), None) => {}
                (Err(_), _) => break,
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

/// Server CPU time per frame: measured, or (when the run used too little
/// CPU for the 10 ms clock ticks) an upper bound.
#[derive(Clone, Copy)]
enum Cpu {
    About(Duration),
    Below(Duration),
}

impl Cpu {
    fn per_frame(total: Duration, frames: u64) -> Cpu {
        let n = u32::try_from(frames).unwrap_or(u32::MAX).max(1);
        if total >= MIN_CPU {
            Cpu::About(total / n)
        } else {
            Cpu::Below((total + TICK) / n)
        }
    }

    fn value(self) -> Duration {
        match self {
            Cpu::About(d) | Cpu::Below(d) => d,
        }
    }

    fn show(self) -> String {
        match self {
            Cpu::About(d) => fmt_dur(d),
            Cpu::Below(d) => format!("<{}", fmt_dur(d)),
        }
    }
}

/// One run's figures.
#[derive(Clone, Copy)]
struct Run {
    frames_per_sec: f64,
    cpu_per_frame: Option<Cpu>,
    p50: Duration,
    p99: Duration,
}

/// Runs `sc` on every server for `rounds` rounds (servers alternating)
/// and prints a line per server; false if one failed.
fn run_scenario(servers: &[Server], sc: &Scenario, scale: u64, rounds: u32) -> bool {
    let frames = (sc.frames / scale).max(10);
    println!(
        "{}: {} conn(s) x {frames} frames x {} B, {}",
        sc.name,
        sc.conns,
        sc.size,
        if sc.ping_pong {
            "one in flight"
        } else {
            "pipelined"
        }
    );
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); servers.len()];
    let mut errors: Vec<Option<String>> = vec![None; servers.len()];
    for round in 0..rounds as usize {
        // Alternate the order so no server always runs first.
        for k in 0..servers.len() {
            let i = (k + round) % servers.len();
            if errors[i].is_none() {
                match run_once(&servers[i], sc, frames) {
                    Ok(r) => runs[i].push(r),
                    Err(e) => errors[i] = Some(e),
                }
            }
        }
    }
    let reference = servers
        .iter()
        .position(|s| s.name == REFERENCE)
        .filter(|&i| errors[i].is_none())
        .map(|i| median(&runs[i]));
    let mut ok = true;
    for (i, server) in servers.iter().enumerate() {
        let line = match &errors[i] {
            Some(e) => {
                ok = false;
                format!("  {:<22} FAILED: {e}", server.name)
            }
            None => row(&server.name, sc, &median(&runs[i]), reference.as_ref()),
        };
        println!("{line}");
    }
    ok
}

/// One `lenframe load --json` run against `server`, its result checked.
fn run_once(server: &Server, sc: &Scenario, frames: u64) -> Result<Run, String> {
    let mut cmd = Command::new(LENFRAME);
    cmd.arg("load")
        .arg(server.addr.to_string())
        .args(["--conns", &sc.conns.to_string()])
        .args(["--frames", &frames.to_string()])
        .args(["--size", &sc.size.to_string(), "--json"]);
    if sc.ping_pong {
        cmd.arg("--pingpong");
    }
    let before = server.cpu();
    let out = run_limited(cmd, RUN_LIMIT)?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err
            .lines()
            .next()
            .unwrap_or("lenframe load failed")
            .to_owned());
    }
    // Let the server finish closing before reading its CPU time.
    thread::sleep(Duration::from_millis(20));
    let cpu = server.cpu().zip(before).map(|(a, b)| a.saturating_sub(b));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("lenframe load printed no JSON: {e}"))?;
    let echoed = v["frames_echoed"].as_u64().unwrap_or(0);
    if echoed != sc.conns * frames {
        return Err(format!(
            "{echoed} frames echoed, {} sent",
            sc.conns * frames
        ));
    }
    let micros = |key: &str| Duration::from_secs_f64(v[key].as_f64().unwrap_or(0.0) / 1e6);
    Ok(Run {
        frames_per_sec: v["frames_per_sec"].as_f64().unwrap_or(0.0),
        cpu_per_frame: cpu.map(|c| Cpu::per_frame(c, echoed)),
        p50: micros("p50_us"),
        p99: micros("p99_us"),
    })
}

/// The median of each figure on its own.
fn median(runs: &[Run]) -> Run {
    let mid = runs.len() / 2;
    let pick = |f: &dyn Fn(&Run) -> f64| {
        let mut v: Vec<Run> = runs.to_vec();
        v.sort_by(|a, b| f(a).total_cmp(&f(b)));
        v[mid]
    };
    let mut m = pick(&|r| r.frames_per_sec);
    m.cpu_per_frame = pick(&|r| {
        r.cpu_per_frame
            .map_or(f64::NAN, |c| c.value().as_secs_f64())
    })
    .cpu_per_frame;
    m.p50 = pick(&|r| r.p50.as_secs_f64()).p50;
    m.p99 = pick(&|r| r.p99.as_secs_f64()).p99;
    m
}

/// One result line (under 100 characters).
fn row(name: &str, sc: &Scenario, m: &Run, reference: Option<&Run>) -> String {
    let cpu = m.cpu_per_frame.map_or("n/a".into(), Cpu::show);
    if sc.ping_pong {
        let ratio = reference.map(|r| m.p50.as_secs_f64() / r.p50.as_secs_f64().max(1e-12));
        format!(
            "  {name:<22} p50 {:>8} p99 {:>8} {:>6}  cpu {cpu:>8}/frame",
            fmt_dur(m.p50),
            fmt_dur(m.p99),
            fmt_ratio(ratio),
        )
    } else {
        let ratio = reference.map(|r| m.frames_per_sec / r.frames_per_sec.max(1e-12));
        format!(
            "  {name:<22} {:>11} {:>6}  cpu {cpu:>8}/frame",
            fmt_rate(m.frames_per_sec),
            fmt_ratio(ratio),
        )
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("n/a".into(), |r| format!("{r:.2}x"))
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
