//! Helpers of the process tests: the `lenframe` binary, a running server
//! whose stdout lines and stderr are collected, clients with small socket
//! buffers, `!I` frames, readings of /proc.
//!
//! Every process started here is killed when its handle drops (also when
//! a test fails); every wait has a timeout.
#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use lenframe::{Codec, FrameReader, FrameWriter};

/// How long the process tests wait for anything.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// How long a cargo build of an example may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// The `lenframe` binary cargo built for these tests.
pub fn lenframe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lenframe"))
}

/// Path of lenframe-cli's example `tokio_util_echo_server` (the six-line
/// reference).
pub fn reference_server() -> PathBuf {
    example_bin("lenframe-cli", "tokio_util_echo_server")
}

/// Path of `package`'s example `name` (the root package `lenframe` has
/// `echo_server`), built once per test process with the profile of these
/// tests (`cargo test` builds this package's examples, not the root's;
/// and a `cargo test --test X` may not have, or may have left a stale
/// one).
pub fn example_bin(package: &str, name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_lenframe"));
    let profile_dir = bin.parent().expect("the binary's directory").to_owned();
    let key = format!("{package}/{name}");
    // Held while building: two tests wanting it build it once.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.contains(&key) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
            "build",
            "--quiet",
            "-p",
            package,
            "--example",
            name,
        ]);
        if profile_dir.ends_with("release") {
            cmd.arg("--release");
        }
        // Cargo may wait for another build's lock: minutes, not seconds.
        let out = run_with_limit(cmd, b"", BUILD_TIMEOUT);
        assert!(
            out.status.success(),
            "cargo build -p {package} --example {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        built.push(key);
    }
    profile_dir.join("examples").join(name)
}

/// True if python3 runs; otherwise says why the test is skipped.
pub fn have_python() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: python3 is not on PATH, so the Python peer cannot run");
    }
    ok
}

/// A running server whose stdout lines and stderr are collected (on
/// threads of their own); killed on drop.
pub struct Server {
    pub child: Child,
    /// Where it listens, from its `listening on` line.
    pub addr: SocketAddr,
    /// Its stdout lines after `listening on`.
    pub lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `lenframe serve --addr 127.0.0.1:0` with `args`.
    pub fn start(args: &[&str]) -> Server {
        let mut cmd = lenframe();
        cmd.args(["serve", "--addr", "127.0.0.1:0"]).args(args);
        Server::spawn(cmd)
    }

    /// Runs `cmd`, a server that prints `listening on ADDR` first.
    pub fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut pipe = child.stderr.take().expect("piped stderr");
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        // Killed on drop from here on, even if the first line is wrong.
        let mut server = Server {
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            lines,
            stderr,
        };
        let first = server.lines.recv_timeout(TIMEOUT).unwrap_or_else(|_| {
            panic!(
                "no 'listening on' line in time; stderr: {}",
                server.stderr()
            )
        });
        server.addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line was {first:?}"))
            .parse()
            .expect("an address in the first line");
        server
    }

    /// The next stdout line, within the timeout.
    pub fn line(&self) -> String {
        self.lines
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("no stdout line in time; stderr: {}", self.stderr()))
    }

    /// Stdout lines up to and including the first that contains `needle`.
    pub fn line_with(&self, needle: &str) -> String {
        loop {
            let line = self.line();
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Stdout lines up to and including the first that starts with
    /// `prefix`.
    pub fn line_starting(&self, prefix: &str) -> String {
        loop {
            let line = self.line();
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Everything on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The whole lines on stderr once one contains `text` (or the timeout
    /// passed).
    pub fn stderr_with(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let err = self.stderr();
            // Only whole lines count: the pipe may deliver half a line.
            let complete = &err[..err.rfind('\n').map_or(0, |i| i + 1)];
            if complete.contains(text) || start.elapsed() > TIMEOUT {
                return complete.to_owned();
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until stderr has a whole line containing `needle`; returns it.
    pub fn stderr_line(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let text = self.stderr();
            if let Some(line) = text
                .lines()
                .take(text.matches('\n').count())
                .find(|l| l.contains(needle))
            {
                return line.to_owned();
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "stderr never had {needle:?}; it has:\n{text}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// A client socket with read and write timeouts.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.addr, TIMEOUT).expect("connect");
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.set_write_timeout(Some(TIMEOUT)).unwrap();
        s
    }

    /// Sends SIGINT as a user's `kill -INT` does (no unsafe code here).
    pub fn interrupt(&self) {
        self.signal("-INT");
    }

    /// Sends SIGTERM, as a service manager does.
    pub fn terminate(&self) {
        self.signal("-TERM");
    }

    /// Freezes the server (SIGSTOP): the kernel alone answers its
    /// listening socket, as it does for a server too busy to accept.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen server run again (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        let ok = Command::new("kill")
            .args([which, &self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill {which} failed");
    }

    /// Waits for the exit; returns the status and how long it took.
    pub fn wait_exit(&mut self) -> (ExitStatus, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, start.elapsed());
            }
            assert!(start.elapsed() < TIMEOUT, "server did not exit");
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Still running (not exited, not a zombie), from /proc (Linux).
    pub fn is_running(&self) -> bool {
        let path = format!("/proc/{}/stat", self.child.id());
        std::fs::read_to_string(path)
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
    }

    /// A fresh, well-behaved `!I` client is served.
    pub fn assert_serves(&self) {
        self.assert_serves_with(Codec::default());
    }

    /// A fresh, well-behaved client speaking `codec` is served.
    pub fn assert_serves_with(&self, codec: Codec) {
        let s = self.connect();
        let mut w = codec.new_write(&s);
        w.write_frame(b"still here?").unwrap();
        w.flush().unwrap();
        let mut r = codec.new_read(&s);
        assert_eq!(
            r.read_frame().unwrap().as_deref(),
            Some(&b"still here?"[..])
        );
        assert!(self.is_running(), "the server is gone");
    }

    /// A fresh `!I` client gets its echo (false if it was refused).
    pub fn serves(&self) -> bool {
        let s = self.connect();
        let mut w = FrameWriter::new(&s);
        let sent = w.write_frame(b"fresh").and_then(|()| w.flush());
        let got = FrameReader::new(&s).read_frame();
        sent.is_ok() && matches!(got, Ok(Some(f)) if f[..] == b"fresh"[..])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a process to completion with `stdin`, killing it (and failing) if
/// it outlives [`TIMEOUT`].
pub fn run_with_timeout(cmd: Command, stdin: &[u8]) -> Output {
    run_with_limit(cmd, stdin, TIMEOUT)
}

/// Runs a process to completion with `stdin`, killing it (and failing) if
/// it outlives `limit`.
fn run_with_limit(mut cmd: Command, stdin: &[u8], limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    wait_output(child, limit)
}

/// Waits for `child` to exit and collects what is left of its output,
/// killing it (and failing) if it outlives `limit`.
pub fn wait_output(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("process timed out");
        }
    }
}

/// `lenframe ARGS` run to completion, stdin empty.
pub fn run(args: &[&str]) -> Output {
    let mut cmd = lenframe();
    cmd.args(args);
    run_with_timeout(cmd, b"")
}

/// Runs `lenframe ARGS` with its stdout closed after `lines` lines were
/// read from it (0: before it prints a byte, as `| true` does; 1: as
/// `| head -1` does) and asserts that it ends quietly: exit 0, nothing on
/// stderr. Returns the lines read.
pub fn run_with_stdout_closed_after(args: &[&str], lines: usize) -> Vec<String> {
    let mut child = lenframe()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let read: Vec<String> = (0..lines)
        .map(|_| {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            line
        })
        .collect();
    drop(stdout);
    let out = wait_output(child, TIMEOUT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
    assert!(stderr.is_empty(), "{args:?}: {stderr}");
    read
}

/// Asserts exit 2 with exactly one stderr line and nothing on stdout;
/// returns that line.
pub fn usage_error(out: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: {err}");
    assert!(out.stdout.is_empty(), "{what}: stdout not empty");
    err.trim_end().to_owned()
}

/// A client socket with 64 KiB send and receive buffers, so the kernel
/// cannot hold a large pipelined burst (or its echoes) for it.
pub fn small_buffer_client(addr: SocketAddr) -> TcpStream {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    socket.connect_timeout(&addr.into(), TIMEOUT).unwrap();
    let s: TcpStream = socket.into();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// `n` frames of `size` bytes (`!I`), frame `i` stamped with `i`.
pub fn frames(n: usize, size: usize) -> Vec<u8> {
    let mut template = (size as u32).to_be_bytes().to_vec();
    template.extend((0..size).map(|j| (j as u8) ^ 0x5A));
    let mut wire = Vec::with_capacity(n * template.len());
    for i in 0..n {
        let start = wire.len() + 4;
        wire.extend_from_slice(&template);
        let stamp = (i as u64).to_le_bytes();
        let k = size.min(8);
        wire[start..start + k].copy_from_slice(&stamp[..k]);
    }
    wire
}

/// Writes `wire` until a write blocks for `patience`; returns the bytes
/// the socket took (the last frame may be cut short).
pub fn write_until_blocked(s: &TcpStream, wire: &[u8], patience: Duration) -> usize {
    s.set_write_timeout(Some(patience)).unwrap();
    let mut sent = 0;
    while sent < wire.len() {
        match (&*s).write(&wire[sent..]) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    sent
}

/// Reads exactly `expected.len()` bytes and compares them.
pub fn expect_echo(mut stream: &TcpStream, expected: &[u8]) {
    let mut got = vec![0u8; expected.len()];
    stream.read_exact(&mut got).expect("echoes");
    assert!(got == expected, "echo differs from what was sent");
}

/// Peak virtual memory of process `pid` (VmPeak): what it ever reserved,
/// touched or not. A `Vec::with_capacity` of what a header claims shows
/// here even when the resident set does not move.
pub fn vm_peak_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmPeak:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// Resident memory of a process, from /proc (Linux).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// Open file descriptors of a process, from /proc (Linux).
pub fn fd_count(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Threads of a process, from /proc (Linux).
pub fn thread_count(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.count())
}

/// Soft limit on open files of this process, from /proc (Linux).
pub fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The last number of a /proc/sys file (the maximum of tcp_rmem or
/// tcp_wmem).
pub fn sysctl_max(path: &str) -> usize {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.split_whitespace().last()?.parse().ok())
        .unwrap_or(8 << 20)
}
