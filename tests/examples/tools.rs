//! The client-side examples as a user meets them: echo_client's prompt on a
//! terminal and none on a pipe, its usage errors and its one-line
//! diagnoses, `--help` for every example, and quiet ends on a closed
//! stdout.
//!
//! Every process started here is killed when its handle drops (also when a
//! test fails); every wait has a timeout.
// The blocking adapters need the default feature `std`.
#![cfg(feature = "std")]

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::thread;

use common::{example, run_with_timeout as run, ExampleServer};
use lenframe::Codec;

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// echo_client with `args`, stdin `input`.
fn client(args: &[&str], input: &[u8]) -> Output {
    let mut cmd = Command::new(example("echo_client"));
    cmd.args(args);
    run(cmd, input)
}

/// Asserts a usage error: exit 2, nothing on stdout, clap's message on
/// stderr (which points to --help). Returns the message.
fn usage_error(out: &Output, what: &str) -> String {
    let err = stderr_of(out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(err.contains("--help"), "{what}: {err}");
    assert!(out.stdout.is_empty(), "{what}");
    err
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

/// What a pipe carries, collected by a thread.
#[cfg(unix)]
fn collect(mut pipe: impl Read + Send + 'static) -> Collected {
    let text = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&text);
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

/// Waits until `text` is exactly `want` (failing as soon as it cannot be).
#[cfg(unix)]
fn wait_for(text: &std::sync::Mutex<Vec<u8>>, want: &str) {
    let start = std::time::Instant::now();
    loop {
        let now = String::from_utf8_lossy(&text.lock().unwrap()).into_owned();
        if now == want {
            return;
        }
        assert!(
            start.elapsed() < common::PROCESS_TIMEOUT && want.starts_with(&now),
            "stdout is {now:?}, expected {want:?}"
        );
        thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[cfg(unix)]
#[test]
fn at_a_terminal_each_echo_is_followed_by_a_prompt() {
    let server = ExampleServer::start("echo_server", &[]);
    let (child, mut master, stdout, _stderr) = client_at_a_terminal(&server, &[]);
    // The prompt comes first, before any input; then each echo and a new
    // prompt.
    wait_for(&stdout, "> ");
    master.write_all(b"hello\n").unwrap();
    wait_for(&stdout, "> hello\n> ");
    master.write_all("你好\n".as_bytes()).unwrap();
    wait_for(&stdout, "> hello\n> 你好\n> ");
    master.write_all(b"\x04").unwrap(); // Ctrl-D: the end of input
    wait_for(&stdout, "> hello\n> 你好\n> \n");
    assert!(child.wait().success());
}

/// The server closes at the first line (another header format): the
/// client says so at once, without waiting for more input.
#[cfg(unix)]
#[test]
fn at_a_terminal_a_server_that_closes_is_reported_at_once() {
    let server = ExampleServer::start("echo_server", &[]);
    let (child, mut master, stdout, stderr) = client_at_a_terminal(&server, &["--header", "i"]);
    wait_for(&stdout, "> ");
    master.write_all(b"hello\n").unwrap();
    assert_eq!(child.wait().code(), Some(1));
    wait_for(
        &stderr,
        "echo_client: the server closed the connection after 0/1 echoes: it may expect \
         another header format (this client sends `i`; give --header the server's)\n",
    );
}

/// Collected output of a child process.
type Collected = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

/// `echo_client --addr SERVER ARGS` with a pseudo-terminal as its stdin:
/// the client, the terminal's master end (what a user types), and its
/// stdout and stderr as they arrive.
#[cfg(unix)]
fn client_at_a_terminal(
    server: &ExampleServer,
    args: &[&str],
) -> (Killed, std::fs::File, Collected, Collected) {
    let (master, terminal) = pty();
    let mut child = Command::new(example("echo_client"))
        .args(["--addr", &server.addr.to_string()])
        .args(args)
        .stdin(Stdio::from(terminal))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    // What the terminal echoes back to its master end is not the client's:
    // read and ignored, so the terminal never blocks on it.
    drop(collect(master.try_clone().unwrap()));
    (Killed(child), master, stdout, stderr)
}

/// A child process killed on drop (also when a test fails).
struct Killed(std::process::Child);

impl Killed {
    /// Waits for the exit, failing after the timeout.
    fn wait(mut self) -> std::process::ExitStatus {
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < common::PROCESS_TIMEOUT,
                "the process did not exit"
            );
            thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn from_a_pipe_there_is_no_prompt() {
    let server = ExampleServer::start("echo_server", &[]);
    let out = client(&["--addr", &server.addr.to_string()], b"one\ntwo\n");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "one\ntwo\n");
}

#[test]
fn client_usage_errors_exit_2() {
    let err = usage_error(&client(&["--size", "10"], b""), "--size alone");
    assert!(err.contains("--burst <N>"), "{err}");
    usage_error(&client(&["--burst", "0"], b""), "--burst 0");
    usage_error(&client(&["--header", "!x"], b""), "bad header");
    usage_error(&client(&["--nope"], b""), "unknown flag");
    // Over this client's own maximum: refused before connecting (nothing
    // listens on port 1), exit 2 and one line.
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
    let why = Codec::default().header(10_000_000).unwrap_err().to_string();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_of(&out),
        format!("echo_client: --size 10000000: {why}; raise --max-frame, here and on the server\n")
    );
}

/// A typed line over this client's `--max-frame` is its own refusal: it
/// says so, and does not blame the server.
#[test]
fn a_line_over_the_client_maximum_is_its_own_refusal() {
    let server = ExampleServer::start("echo_server", &[]);
    let out = client(
        &["--addr", &server.addr.to_string(), "--max-frame", "4"],
        b"ok\ntoo long\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let why = Codec::builder()
        .max_frame_len(4)
        .build()
        .unwrap()
        .header(8)
        .unwrap_err();
    assert_eq!(
        stderr_of(&out),
        format!(
            "echo_client: a line of 8 bytes: {why}; raise --max-frame, here and on the server\n"
        )
    );
}

#[test]
fn a_missing_server_is_one_line() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let out = client(&["--addr", &addr, "--burst", "1"], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.starts_with(&format!("echo_client: cannot connect to {addr}: "))
            && err.lines().count() == 1,
        "{err}"
    );
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
        "echo_client: the server closed the connection after 0/1 echoes: its maximum frame \
         may be lower than the 10000000 bytes sent (see its --max-frame)\n"
    );
}

#[test]
fn another_header_format_is_suspected() {
    let server = ExampleServer::start("echo_server", &[]);
    let addr = server.addr.to_string();
    let expected = "echo_client: the server closed the connection after 0/10 echoes: it may \
                    expect another header format (this client sends `i`; give --header the \
                    server's)\n";
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
    // The same from piped lines. The client says so as soon as the server
    // closes, which may be before it sent the second line.
    let out = client(&["--addr", &addr, "--header", "i"], b"hello\nworld\n");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err == expected.replace("0/10", "0/2") || err == expected.replace("0/10", "0/1"),
        "{err}"
    );
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
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let _ = s.read_to_end(&mut Vec::new());
        }
    });
    let why = Codec::default()
        .new_read(HTTP)
        .read_frame()
        .unwrap_err()
        .to_string();
    assert!(why.contains("HTTP"), "{why}");
    let expected = format!("echo_client: echo 1 is not a `!I` frame: {why}\n");
    let out = client(&["--addr", &addr, "--burst", "3"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_of(&out), expected);
    let out = client(&["--addr", &addr], b"hello\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_of(&out), expected);
    peer.join().unwrap();
}

// ------------------------------------------------------------------ all of them

/// The examples this build has (the async servers need their features).
fn examples() -> Vec<&'static str> {
    let mut names = vec!["echo_server", "echo_client", "file_transfer", "sticky_demo"];
    if cfg!(feature = "tokio") {
        names.push("tokio_echo_server");
    }
    if cfg!(feature = "futures-io") {
        names.push("smol_echo_server");
    }
    names
}

#[test]
fn every_example_answers_help() {
    for name in examples() {
        let mut cmd = Command::new(example(name));
        cmd.arg("--help");
        let out = run(cmd, b"");
        assert!(out.status.success(), "{name} --help: {}", stderr_of(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("Usage: {name}")), "{name}: {text}");
        assert!(out.stderr.is_empty(), "{name}: {}", stderr_of(&out));
    }
    // The servers document their flags.
    let mut cmd = Command::new(example("echo_server"));
    cmd.arg("--help");
    let text = String::from_utf8(run(cmd, b"").stdout).unwrap();
    for flag in [
        "--addr",
        "--header",
        "--max-frame",
        "--max-conns",
        "--idle-timeout",
    ] {
        assert!(text.contains(flag), "{flag}: {text}");
    }
    // file_transfer's modes have help of their own.
    for mode in ["send", "recv"] {
        let mut cmd = Command::new(example("file_transfer"));
        cmd.args([mode, "--help"]);
        let out = run(cmd, b"");
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(&format!("Usage: file_transfer {mode}")),
            "{text}"
        );
    }
}

#[test]
fn usage_errors_exit_2_everywhere() {
    for name in examples() {
        let mut cmd = Command::new(example(name));
        cmd.arg("--no-such-flag");
        usage_error(&run(cmd, b""), name);
    }
    for args in [
        &["--idle-timeout", "0"][..],
        &["--idle-timeout", "-1"],
        &["--max-conns", "many"],
    ] {
        let mut cmd = Command::new(example("echo_server"));
        cmd.args(args);
        usage_error(&run(cmd, b""), &format!("echo_server {args:?}"));
    }
    for args in [&[][..], &["fetch", "x"], &["recv"], &["send", "a", "b"]] {
        let mut cmd = Command::new(example("file_transfer"));
        cmd.args(args);
        usage_error(&run(cmd, b""), &format!("file_transfer {args:?}"));
    }
}

/// `example | head -1`: once stdout is closed the examples end quietly,
/// without a panic on stderr.
#[test]
fn a_closed_stdout_ends_quietly() {
    let server = ExampleServer::start("echo_server", &[]);
    let addr = server.addr.to_string();
    let mut runs: Vec<(&str, Vec<&str>, Vec<u8>)> = vec![
        ("sticky_demo", vec![], vec![]),
        ("echo_client", vec!["--addr", &addr], b"1\n".repeat(200_000)),
    ];
    for name in examples() {
        runs.push((name, vec!["--help"], vec![]));
    }
    for (name, args, input) in runs {
        let mut child = Killed(
            Command::new(example(name))
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut stdin = child.0.stdin.take().unwrap();
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let mut first = String::new();
        BufReader::new(child.0.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty(), "{name} {args:?} printed nothing");
        // The reader is dropped: stdout is closed.
        let mut stderr = String::new();
        child
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait();
        assert!(!stderr.contains("panicked"), "{name} {args:?}: {stderr}");
        assert!(status.success(), "{name} {args:?}: {status:?} {stderr}");
    }
}
