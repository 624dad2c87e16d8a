//! The client-side examples as a user meets them: echo_client's prompt,
//! refusals and diagnoses, file_transfer's receiver (missing directory,
//! overwrite, silent senders, oversize declarations), `--help` everywhere.
//!
//! Every process started here is killed when its handle drops (also when a
//! test fails); every wait has a timeout.
// The blocking adapters need the default feature `std`.
#![cfg(feature = "std")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{example, run_with_timeout as run, ExampleServer};
use lenframe::Codec;

const TIMEOUT: Duration = Duration::from_secs(30);

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// echo_client with `args` (and no --addr), stdin `input`.
fn client(args: &[&str], input: &[u8]) -> Output {
    let mut cmd = Command::new(example("echo_client"));
    cmd.args(args);
    run(cmd, input)
}

/// Asserts exit 2 and exactly one line on stderr; returns that line.
fn refused(out: &Output, what: &str) -> String {
    let err = stderr_of(out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: {err}");
    err.trim_end().to_owned()
}

// ---------------------------------------------------------------- echo_client

/// A pseudo-terminal: the client's stdin is its terminal end.
#[cfg(unix)]
fn pty() -> (std::fs::File, std::fs::File) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .expect("open the terminal end");
    (std::fs::File::from(master), terminal)
}

/// Stdout of a child, collected by a thread.
fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let text = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&text);
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    text
}

/// Waits until `text` is exactly `want`.
#[cfg(unix)]
fn wait_for(text: &Mutex<Vec<u8>>, want: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = String::from_utf8_lossy(&text.lock().unwrap()).into_owned();
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline && want.starts_with(&now),
            "stdout is {now:?}, expected {want:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(unix)]
/// A child process killed on drop (also when a test fails).
struct Killed(Child);

#[cfg(unix)]
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
#[test]
fn interactive_prompt_on_a_terminal() {
    let server = ExampleServer::start("echo_server", &[]);
    let (mut master, terminal) = pty();
    let mut child = Command::new(example("echo_client"))
        .args(["--addr", &server.addr.to_string()])
        .stdin(Stdio::from(terminal))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let mut child = Killed(child);
    // What the terminal echoes back to its master end is not the client's.
    let _echo = collect(master.try_clone().unwrap());
    // The prompt comes first, before any input; each line waits for its
    // echo, then the next prompt.
    wait_for(&stdout, "> ");
    master.write_all(b"hello\n").unwrap();
    wait_for(&stdout, "> hello\n> ");
    master.write_all("你好\n".as_bytes()).unwrap();
    wait_for(&stdout, "> hello\n> 你好\n> ");
    master.write_all(b"\x04").unwrap(); // Ctrl-D: end of input
    wait_for(&stdout, "> hello\n> 你好\n> \n");
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "echo_client did not exit at the end of input"
        );
        thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
}

#[test]
fn piped_stdin_gets_no_prompt() {
    let server = ExampleServer::start("echo_server", &[]);
    let out = client(&["--addr", &server.addr.to_string()], b"one\ntwo\n");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "one\ntwo\n");
}

#[test]
fn nonsensical_client_flags_exit_2_with_one_line() {
    let line = refused(&client(&["--size", "10"], b""), "--size alone");
    assert_eq!(
        line,
        "echo_client: --size sets the size of --burst frames: give --burst N too \
         (interactive frames are the lines you type)"
    );
    let line = refused(&client(&["--burst", "0"], b""), "--burst 0");
    assert_eq!(
        line,
        "echo_client: --burst 0 sends nothing: give at least 1"
    );
    let line = refused(
        &client(&["--header", "B", "--burst", "1", "--size", "300"], b""),
        "B header, 300 bytes",
    );
    assert!(line.ends_with("a `B` header cannot express it"), "{line}");
}

#[test]
fn a_burst_over_the_maximum_is_refused_locally() {
    // Nothing listens: the refusal must come before connecting.
    let expected = Codec::default().header(10_000_000).unwrap_err().to_string();
    let out = client(
        &[
            "--addr",
            "127.0.0.1:1",
            "--burst",
            "1",
            "--size",
            "10000000",
        ],
        b"",
    );
    let line = refused(&out, "10 MB burst");
    assert_eq!(
        line,
        format!(
            "echo_client: --size 10000000: {expected}; raise --max-frame here, and on the \
             server (the default echo_server takes at most 8388608)"
        )
    );
    assert!(!line.contains("Broken pipe"));
}

#[test]
fn a_burst_over_the_server_maximum_is_explained() {
    let server = ExampleServer::start("echo_server", &[]);
    let out = client(
        &[
            "--addr",
            &server.addr.to_string(),
            "--max-frame",
            "20000000",
            "--burst",
            "1",
            "--size",
            "10000000",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "echo_client: server closed the connection after 0/1 frames without answering: \
         its maximum frame may be lower than the 10000000 bytes sent (the default \
         echo_server takes at most 8388608; see its --max-frame)\n"
    );
}

#[test]
fn another_header_format_is_suspected() {
    let server = ExampleServer::start("echo_server", &[]);
    let addr = server.addr.to_string();
    let expected = "echo_client: server closed the connection after 0/10 frames without \
                    answering: it may expect another header format (this client sends `i`; \
                    the default echo_server reads `!I`)\n";
    let out = client(&["--addr", &addr, "--header", "i", "--burst", "10"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_of(&out), expected);
    // A length of 256 read in the other byte order is 65536: a valid
    // length, so the server waits, and closes only at the end of input.
    let out = client(
        &[
            "--addr", &addr, "--header", "<I", "--burst", "10", "--size", "256",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_of(&out), expected.replace("`i`", "`<I`"));
    // The same from piped lines.
    let out = client(&["--addr", &addr, "--header", "i"], b"hello\nworld\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_of(&out), expected.replace("0/10", "0/2"));
}

#[test]
fn a_reply_that_is_not_a_frame_is_named() {
    const HTTP: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let peer = thread::spawn(move || {
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            let mut first = [0u8; 4];
            s.read_exact(&mut first).unwrap();
            s.write_all(HTTP).unwrap();
            // Let the client read the reply before the close.
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let _ = s.read_to_end(&mut Vec::new());
        }
    });
    let why = Codec::default()
        .new_read(HTTP)
        .read_frame()
        .unwrap_err()
        .to_string();
    let expected = format!(
        "echo_client: the first bytes the server sent back do not parse as a `!I` frame: {why}\n"
    );
    let out = client(&["--addr", &addr, "--burst", "3"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_of(&out), expected);
    let out = client(&["--addr", &addr], b"hello\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_of(&out), expected);
    peer.join().unwrap();
}

#[test]
fn every_example_answers_help() {
    let mut names = vec!["echo_server", "echo_client", "file_transfer", "sticky_demo"];
    if cfg!(feature = "tokio") {
        names.push("tokio_echo_server");
    }
    for name in names {
        let out = run(
            {
                let mut cmd = Command::new(example(name));
                cmd.arg("--help");
                cmd
            },
            b"",
        );
        assert!(out.status.success(), "{name} --help: {}", stderr_of(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("usage: "), "{name}: {text}");
    }
}

#[test]
fn sticky_demo_help_and_unknown_flags() {
    let mut cmd = Command::new(example("sticky_demo"));
    cmd.arg("--help");
    let out = run(cmd, b"");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("usage: sticky_demo\n"), "{text}");
    // --help shows what it would do; it does not run the demo.
    assert!(!text.contains("recv(1024) ->"), "{text}");
    let mut cmd = Command::new(example("sticky_demo"));
    cmd.arg("--fast");
    let line = refused(&run(cmd, b""), "sticky_demo --fast");
    assert_eq!(
        line,
        "sticky_demo: unknown argument \"--fast\" (try --help)"
    );
}

// -------------------------------------------------------------- file_transfer

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("lenframe-tools-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(std::fs::canonicalize(dir).unwrap())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `file_transfer recv`, killed on drop; its stdout and stderr
/// collected.
struct Receiver {
    child: Child,
    port: u16,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Receiver {
    fn start(dir: &Path, args: &[&str]) -> Receiver {
        let mut child = Command::new(example("file_transfer"))
            .args(["recv", dir.to_str().unwrap(), "--addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("listening on 127.0.0.1:")
            .unwrap_or_else(|| panic!("first line was {line:?}"))
            .parse()
            .unwrap();
        let stderr = collect(child.stderr.take().unwrap());
        Receiver {
            child,
            port,
            stdout: collect(out),
            stderr,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Waits until stdout (or stderr) has a whole line containing `needle`.
    fn wait_line(&self, stderr: bool, needle: &str) -> String {
        let text = if stderr { &self.stderr } else { &self.stdout };
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let now = String::from_utf8_lossy(&text.lock().unwrap()).into_owned();
            if let Some(line) = now.lines().find(|l| l.contains(needle)) {
                if now.contains(&format!("{line}\n")) {
                    return line.to_owned();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?}; it has:\n{now}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn send(path: &Path, addr: &str) -> Output {
    let mut cmd = Command::new(example("file_transfer"));
    cmd.args(["send", path.to_str().unwrap(), "--addr", addr]);
    run(cmd, b"")
}

/// Names in `dir`, hidden ones too, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn file_transfer_creates_a_missing_directory_and_says_where() {
    let scratch = Scratch::new("missing");
    let src = scratch.0.join("report.txt");
    std::fs::write(&src, b"quarterly numbers").unwrap();
    let inbox = scratch.0.join("inbox").join("today");
    let receiver = Receiver::start(&inbox, &[]);
    receiver.wait_line(false, "saving files in");
    assert!(inbox.is_dir());
    let out = send(&src, &receiver.addr());
    assert!(out.status.success(), "{}", stderr_of(&out));
    let target = inbox.join("report.txt");
    let line = receiver.wait_line(false, "saved");
    assert!(
        line.ends_with(&format!(": saved {} (17 bytes)", target.display())),
        "{line}"
    );
    assert_eq!(
        receiver.stdout().lines().next(),
        Some(format!("saving files in {} (created)", inbox.display()).as_str())
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"quarterly numbers");
    assert_eq!(listing(&inbox), ["report.txt"]);
}

#[test]
fn file_transfer_refuses_to_overwrite_unless_forced() {
    let scratch = Scratch::new("overwrite");
    let src = scratch.0.join("notes.txt");
    std::fs::write(&src, b"new version").unwrap();
    let inbox = scratch.0.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let target = inbox.join("notes.txt");
    std::fs::write(&target, b"old version").unwrap();

    let receiver = Receiver::start(&inbox, &[]);
    let out = send(&src, &receiver.addr());
    assert_eq!(out.status.code(), Some(1));
    let refusal = format!(
        "refusing to overwrite {} (the receiver needs --force to replace files)",
        target.display()
    );
    assert_eq!(
        stderr_of(&out),
        format!("file_transfer: the receiver says: {refusal}\n")
    );
    let line = receiver.wait_line(true, "transfer failed");
    assert!(
        line.ends_with(&format!(": transfer failed: {refusal}")),
        "{line}"
    );
    // Refused on the metadata alone: the sender never gets a `go`.
    assert_eq!(
        declare(&receiver.addr(), "notes.txt", 11),
        format!("error: {refusal}")
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"old version");
    assert_eq!(listing(&inbox), ["notes.txt"]);
    drop(receiver);

    let receiver = Receiver::start(&inbox, &["--force"]);
    let out = send(&src, &receiver.addr());
    assert!(out.status.success(), "{}", stderr_of(&out));
    let line = receiver.wait_line(false, "saved");
    assert!(
        line.ends_with(&format!(
            ": saved {} (11 bytes, replaced the old file)",
            target.display()
        )),
        "{line}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"new version");
    assert_eq!(listing(&inbox), ["notes.txt"]);
}

#[test]
fn a_silent_sender_does_not_block_the_next_transfer() {
    let scratch = Scratch::new("silent");
    let src = scratch.0.join("next.bin");
    std::fs::write(&src, vec![7u8; 100_000]).unwrap();
    let inbox = scratch.0.join("inbox");
    // The default --timeout (60 s) is longer than this test's TIMEOUT: a
    // receiver that served one sender at a time would fail it.
    let receiver = Receiver::start(&inbox, &[]);
    let silent = TcpStream::connect(receiver.addr()).unwrap();
    let half_header = TcpStream::connect(receiver.addr()).unwrap();
    (&half_header).write_all(&[0, 0, 0, 0]).unwrap(); // 4 of the 8 header bytes
    thread::sleep(Duration::from_millis(200)); // both are accepted first
    let out = send(&src, &receiver.addr());
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        std::fs::read(inbox.join("next.bin")).unwrap().len(),
        100_000
    );
    // The silent senders are still connected, still waited for.
    for s in [&silent, &half_header] {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let err = (&*s).read(&mut [0u8; 1]).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{err}"
        );
    }
}

#[test]
fn a_silent_sender_is_dropped_after_the_timeout() {
    let scratch = Scratch::new("timeout");
    let receiver = Receiver::start(&scratch.0, &["--timeout", "0.5"]);
    let silent = TcpStream::connect(receiver.addr()).unwrap();
    silent.set_read_timeout(Some(TIMEOUT)).unwrap();
    // The receiver answers with an error frame and closes.
    let answer = Codec::new("!Q".parse().unwrap())
        .new_read(&silent)
        .read_frame()
        .unwrap()
        .expect("an answer");
    let want = "error: reading the metadata: the sender sent nothing for 0.5 s (--timeout): ";
    assert!(answer.starts_with(want.as_bytes()), "{answer:?}");
    receiver.wait_line(true, &want.replace("error: ", "transfer failed: "));
}

/// Sends only a metadata frame declaring `size` bytes; returns the answer.
fn declare(addr: &str, name: &str, size: u64) -> String {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let codec = Codec::new("!Q".parse().unwrap());
    let mut meta = size.to_be_bytes().to_vec();
    meta.extend_from_slice(name.as_bytes());
    let mut w = codec.new_write(&s);
    w.write_frame(&meta).unwrap();
    w.flush().unwrap();
    let answer = codec.new_read(&s).read_frame().unwrap().expect("an answer");
    String::from_utf8(answer.to_vec()).unwrap()
}

#[test]
fn an_oversize_declaration_is_refused_before_any_file_is_created() {
    let scratch = Scratch::new("oversize");
    let inbox = scratch.0.join("inbox");
    let receiver = Receiver::start(&inbox, &["--max-size", "1000"]);
    assert_eq!(
        declare(&receiver.addr(), "huge.iso", 1001),
        "error: refusing huge.iso: 1001 bytes is over the receiver's --max-size of 1000 bytes"
    );
    // The real sender gets the refusal before it sends its content.
    let src = scratch.0.join("big.bin");
    std::fs::write(&src, vec![1u8; 5000]).unwrap();
    let out = send(&src, &receiver.addr());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "file_transfer: the receiver says: refusing big.bin: 5000 bytes is over the \
         receiver's --max-size of 1000 bytes\n"
    );
    assert!(listing(&inbox).is_empty(), "{:?}", listing(&inbox));
    drop(receiver);

    // Within --max-size but over the directory's free space.
    let receiver = Receiver::start(&inbox, &["--max-size", &(1u64 << 62).to_string()]);
    let answer = declare(&receiver.addr(), "huge.iso", 1 << 61);
    let prefix = format!(
        "error: refusing huge.iso: {} bytes, but {} has only ",
        1u64 << 61,
        inbox.display()
    );
    assert!(
        answer.starts_with(&prefix) && answer.ends_with(" bytes free"),
        "{answer}"
    );
    assert!(listing(&inbox).is_empty(), "{:?}", listing(&inbox));
}

#[test]
fn nonsensical_file_transfer_flags_exit_2_with_one_line() {
    for (args, want) in [
        (
            &["send", "x", "--addr", "127.0.0.1:1", "--force"][..],
            "file_transfer: --force applies to recv, not send",
        ),
        (
            &["send", "x", "--addr", "127.0.0.1:1", "--max-size", "5"][..],
            "file_transfer: --max-size applies to recv, not send",
        ),
        (
            &["recv", "x", "--addr", "127.0.0.1:1", "--timeout", "0"][..],
            "file_transfer: --timeout must be a positive number of seconds",
        ),
        (
            &["recv", "x"][..],
            "file_transfer: --addr HOST:PORT is required (try --help)",
        ),
        (
            &["fetch", "x", "--addr", "127.0.0.1:1"][..],
            "file_transfer: unknown mode \"fetch\": send PATH or recv DIR (try --help)",
        ),
        (
            &["recv", "a", "b", "--addr", "127.0.0.1:1"][..],
            "file_transfer: unexpected argument \"b\" (try --help)",
        ),
    ] {
        let mut cmd = Command::new(example("file_transfer"));
        cmd.args(args);
        assert_eq!(refused(&run(cmd, b""), &format!("{args:?}")), want);
    }
}

/// `example | head -1`: once stdout is closed the examples end quietly,
/// without a panic on stderr.
#[test]
fn closed_stdout_ends_quietly() {
    use std::io::{BufRead, BufReader};
    for args in [&["--help"][..], &[][..]] {
        for name in ["sticky_demo", "file_transfer", "echo_client"] {
            if name != "sticky_demo" && args.is_empty() {
                continue; // they need flags to do anything
            }
            let mut child = Command::new(example(name))
                .args(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut first = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut first)
                .unwrap();
            assert!(!first.is_empty(), "{name} {args:?} printed nothing");
            // The reader is dropped: stdout is closed.
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{name} {args:?}: {stderr}");
            assert!(
                out.status.success(),
                "{name} {args:?}: {:?} {stderr}",
                out.status
            );
        }
    }
}

/// Load mode drives any `!I` echo server: pipelined with every echo
/// checked, and ping-pong with percentiles; its flags must come together.
#[test]
fn echo_client_load_mode() {
    let server = ExampleServer::start("echo_server", &[]);
    let addr = server.addr.to_string();
    let out = run(
        {
            let mut cmd = Command::new(example("echo_client"));
            cmd.args(["--addr", &addr, "--conns", "3", "--frames", "20000"]);
            cmd
        },
        b"",
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("3 x 20000 frames of 16 B pipelined, every echo checked: "),
        "{text}"
    );
    let out = run(
        {
            let mut cmd = Command::new(example("echo_client"));
            cmd.args(["--addr", &addr, "--conns", "2", "--frames", "50"]);
            cmd.args(["--size", "64", "--pingpong"]);
            cmd
        },
        b"",
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 x 50 round trips of 64 B") && text.contains("p99"),
        "{text}"
    );
    for args in [
        &["--conns", "2"][..],
        &["--pingpong"][..],
        &["--conns", "2", "--frames", "5", "--burst", "3"][..],
        &["--conns", "2", "--frames", "5", "--header", "i"][..],
        &["--conns", "0", "--frames", "5"][..],
    ] {
        let out = run(
            {
                let mut cmd = Command::new(example("echo_client"));
                cmd.args(["--addr", &addr]).args(args);
                cmd
            },
            b"",
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr_of(&out).lines().count(), 1, "{args:?}");
    }
}
