//! The echo bench: `lenframe serve` side by side with the root package's
//! `echo_server` and `tokio_echo_server` examples, the six-line tokio-util
//! reference (`Framed` + `LengthDelimitedCodec` + `forward`, lenframe-cli's
//! example `tokio_util_echo_server`) and the byte-copy limit (lenframe-cli's
//! example `byte_copy_echo_server`: for `!I` frames the echo of a frame is
//! its own bytes, so a server that copies bytes back unframed is the
//! ceiling of every framed one). Every server is driven by the same client,
//! `lenframe load --json`, rounds alternating between servers.
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
//! --example ...` and `cargo build -p lenframe-cli --example ...`, in the
//! bench's own profile); one that does not build is named in one line and
//! left out. Each server starts on a free loopback port.
//!
//! Per scenario and server the bench prints one line as it goes: frames/s
//! (median of the rounds; p50/p99 round trips for ping-pong), the ratios
//! to the byte-copy limit and to the reference, and the server's CPU time
//! per frame (utime + stime from /proc/PID/stat over the run, Linux; `n/a`
//! elsewhere; its clock ticks are 10 ms, so a run that used under 0.1 s of
//! server CPU gets an upper bound, `<20 ns`), the steadier figure on a
//! busy machine where the client competes for the same cores. At the end
//! it prints the same figures as one markdown table (a scenario a row, a
//! server a column), under a line naming the load generator and its
//! version. `lenframe load` checks every echo; a run that fails makes its
//! line and cell say FAILED and the bench exit 1.

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
/// The ceiling: a server that copies bytes back, unframed.
const LIMIT: &str = "byte-copy limit";
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

    /// Only servers whose name contains SUBSTR (the reference and the
    /// byte-copy limit always run)
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

impl Scenario {
    /// Frames per connection at `scale` (1 in a full run).
    fn frames(&self, scale: u64) -> u64 {
        (self.frames / scale).max(10)
    }
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        name: "pipe 1x16B",
        conns: 1,
        frames: 10_000_000,
        size: 16,
        ping_pong: false,
    },
    Scenario {
        name: "pipe 50x16B",
        conns: 50,
        frames: 200_000,
        size: 16,
        ping_pong: false,
    },
    Scenario {
        name: "pipe 4x64K",
        conns: 4,
        frames: 10_000,
        size: 65536,
        ping_pong: false,
    },
    Scenario {
        name: "pingpong 10x64B",
        conns: 10,
        frames: 5_000,
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
    let generator = generator();
    println!(
        "echo bench{}: {rounds} round(s), median shown; load generator: {generator}",
        if o.quick { " (quick)" } else { "" }
    );
    println!(
        "xlim / xref: frames/s over the {LIMIT}'s / the {REFERENCE}'s; cpu: server CPU per frame"
    );
    let mut table = Vec::new();
    for sc in scenarios {
        let results = run_scenario(&servers, sc, scale, rounds);
        failed |= results.iter().any(Result::is_err);
        table.push((sc, results));
    }
    println!();
    print_table(&servers, &table, rounds, scale, &generator);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `lenframe load`'s name and version, as `lenframe --version` says them,
/// and the commit it was built from (the version stays the same between
/// releases while the generator changes).
fn generator() -> String {
    let version = Command::new(LENFRAME)
        .arg("--version")
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .and_then(|line| line.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "(version unknown)".into());
    let commit = commit().unwrap_or_else(|| "commit unknown".into());
    format!("`lenframe load` {version} ({commit}, --json)")
}

/// The commit of this checkout, and whether lenframe-cli's `src/` differs
/// from it.
fn commit() -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .output()
            .ok()
    };
    let head = git(&["rev-parse", "--short", "HEAD"]).filter(|o| o.status.success())?;
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    let changed =
        git(&["diff", "--quiet", "HEAD", "--", "src"]).is_some_and(|o| o.status.code() == Some(1));
    Some(format!(
        "commit {head}{}",
        if changed { " with src/ changed" } else { "" }
    ))
}

/// The servers to compare, built as needed, those `--server` names first,
/// then the reference and the byte-copy limit.
fn candidates(o: &Options) -> Vec<Candidate> {
    let profile_dir = Path::new(LENFRAME)
        .parent()
        .unwrap_or(Path::new("."))
        .to_owned();
    let wanted = |name: &str| {
        name == REFERENCE || name == LIMIT || o.server.as_deref().is_none_or(|s| name.contains(s))
    };
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
    list.push(Candidate {
        name: LIMIT.into(),
        binary: build_example(&profile_dir, "lenframe-cli", None, "byte_copy_echo_server"),
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

/// Runs `sc` on every server for `rounds` rounds (servers alternating),
/// prints a line per server, and returns each server's medians (or why
/// its run failed), in the order of `servers`.
fn run_scenario(
    servers: &[Server],
    sc: &Scenario,
    scale: u64,
    rounds: u32,
) -> Vec<Result<Run, String>> {
    let frames = sc.frames(scale);
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
    let results: Vec<Result<Run, String>> = runs
        .iter()
        .zip(errors)
        .map(|(r, e)| e.map_or_else(|| Ok(median(r)), Err))
        .collect();
    let bases = Bases::of(servers, &results);
    for (server, result) in servers.iter().zip(&results) {
        match result {
            Ok(m) => println!("  {:<22} {}", server.name, row(sc, m, &bases)),
            Err(e) => println!("  {:<22} FAILED: {e}", server.name),
        }
    }
    results
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
    let v = summary(&out.stdout).ok_or("lenframe load printed no JSON summary")?;
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

/// The last JSON object on `stdout` that has `frames_per_sec` (`lenframe
/// load --json` may print other lines, and other keys, before and in it).
fn summary(stdout: &[u8]) -> Option<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("frames_per_sec").is_some_and(|f| f.is_number()))
}

impl Run {
    /// The server's CPU time per frame, as shown.
    fn cpu(&self) -> String {
        self.cpu_per_frame.map_or("n/a".into(), Cpu::show)
    }
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

/// The medians a scenario's ratios divide by.
struct Bases {
    limit: Option<f64>,
    reference: Option<f64>,
}

impl Bases {
    fn of(servers: &[Server], results: &[Result<Run, String>]) -> Bases {
        let rate = |name: &str| {
            let i = servers.iter().position(|s| s.name == name)?;
            results[i].as_ref().ok().map(|r| r.frames_per_sec)
        };
        Bases {
            limit: rate(LIMIT),
            reference: rate(REFERENCE),
        }
    }

    /// `m`'s frames/s over the limit's and over the reference's.
    fn ratios(&self, m: &Run) -> (String, String) {
        let over = |base: Option<f64>| fmt_ratio(base.map(|b| m.frames_per_sec / b.max(1e-12)));
        (over(self.limit), over(self.reference))
    }
}

/// One result line, after the server's name (under 80 characters).
fn row(sc: &Scenario, m: &Run, bases: &Bases) -> String {
    let (lim, reference) = bases.ratios(m);
    let line = format!(
        "{:>11} {lim:>6} xlim {reference:>6} xref  cpu {:>8} {}",
        fmt_rate(m.frames_per_sec),
        m.cpu(),
        round_trips(sc, m),
    );
    line.trim_end().to_owned()
}

/// One scenario's figures for one server, as a markdown table cell.
fn cell(sc: &Scenario, result: &Result<Run, String>, bases: &Bases) -> String {
    let Ok(m) = result else {
        return "FAILED".into();
    };
    let (lim, reference) = bases.ratios(m);
    let rtt = round_trips(sc, m);
    format!(
        "{}{}{rtt} ({lim} lim, {reference} ref), cpu {}",
        fmt_rate(m.frames_per_sec),
        if rtt.is_empty() { "" } else { ", " },
        m.cpu(),
    )
}

/// A ping-pong run's p50 and p99 round trips ("" for a pipelined run).
fn round_trips(sc: &Scenario, m: &Run) -> String {
    if sc.ping_pong {
        format!("p50 {} p99 {}", fmt_dur(m.p50), fmt_dur(m.p99))
    } else {
        String::new()
    }
}

/// Every scenario's figures as one markdown table: a scenario a row, a
/// server a column.
fn print_table(
    servers: &[Server],
    table: &[(&Scenario, Vec<Result<Run, String>>)],
    rounds: u32,
    scale: u64,
    generator: &str,
) {
    println!(
        "Figures from {generator}, client and servers on the same {} core(s); \
         median of {rounds} round(s), servers alternating. frames/s (for ping-pong also \
         the p50/p99 round trip), its ratio to the {LIMIT} (lim) and to the {REFERENCE} \
         (ref), and the server's CPU time per frame.",
        thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    println!("| scenario | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    for (sc, results) in table {
        let bases = Bases::of(servers, results);
        let cells: Vec<String> = results.iter().map(|r| cell(sc, r, &bases)).collect();
        println!(
            "| {} ({} x {} x {} B{}) | {} |",
            sc.name,
            sc.conns,
            fmt_count(sc.frames(scale)),
            sc.size,
            if sc.ping_pong { ", one in flight" } else { "" },
            cells.join(" | ")
        );
    }
}

/// `n` with its thousands grouped: 1,000,000.
fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
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
