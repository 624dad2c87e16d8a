//! `lenframe connect` as a real process over loopback, against
//! `lenframe serve` and small servers written here: lines out and frames
//! back in every encoding and header format, sticky and split frames,
//! half-close, --count, -w, every kind of bad peer and bad input (one
//! stderr line, exit 1, never a panic), a large pipe, a closed stdout.
//!
//! Every process started here is killed when its handle drops or when it
//! outlives its timeout.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{lenframe, run_with_timeout, usage_error, wait_output, Server, TIMEOUT};
use lenframe::Codec;

/// `lenframe connect ARGS ADDR` with `stdin`, run to completion.
fn connect(addr: SocketAddr, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = lenframe();
    cmd.arg("connect").args(args).arg(addr.to_string());
    run_with_timeout(cmd, stdin)
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 0 and nothing on stderr.
fn assert_clean(out: &Output, what: &str) {
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{what}: {:?} {}",
        out.status,
        stderr(out)
    );
}

/// Exit 1 with exactly one stderr line that contains every needle and no
/// panic; returns the line.
fn one_error(out: &Output, needles: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("lenframe: "), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
    err.trim_end().to_owned()
}

/// `lenframe ARGS` started with stdin a pipe the caller holds open
/// (as a terminal's stays open) and stdout and stderr collected.
fn spawn_connect(args: &[&str]) -> (Child, ChildStdin) {
    let mut child = lenframe()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

/// A server of one connection, run by `serve` on a thread of its own.
fn one_shot(serve: impl FnOnce(TcpStream) + Send + 'static) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        serve(stream);
    });
    (addr, handle)
}

/// A `!I` frame.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    Codec::default().encode_to_vec(payload, &mut wire).unwrap();
    wire
}

#[test]
fn lines_go_out_as_frames_and_replies_come_back_in_order() {
    let server = Server::start(&[]);
    // A \r is kept, an empty line is an empty frame, a last line without
    // its newline is a line.
    let out = connect(
        server.addr,
        &[],
        b"hello\nwor\rld\n\n\xe4\xbd\xa0\xe5\xa5\xbd\nlast",
    );
    assert_clean(&out, "text");
    assert_eq!(stdout(&out), "hello\nwor\\rld\n\n你好\nlast\n");
}

#[test]
fn hex_in_and_every_out() {
    let server = Server::start(&[]);
    let input = b"68 69\n00ff\n\n61 0a 62\n  4 1\t42\r\n";
    let out = connect(server.addr, &["--in", "hex"], input);
    assert_clean(&out, "hex in, text out");
    // Non-UTF-8 and newlines are escaped: one line per frame.
    assert_eq!(stdout(&out), "hi\n\\0\\xff\n\na\\nb\nAB\n");
    let out = connect(server.addr, &["--in", "hex", "--out", "hex"], input);
    assert_clean(&out, "hex out");
    assert_eq!(stdout(&out), "6869\n00ff\n\n610a62\n4142\n");
    let json = "{\"event\":\"frame\",\"len\":2,\"text\":\"hi\"}\n\
                {\"event\":\"frame\",\"hex\":\"00ff\",\"len\":2}\n\
                {\"event\":\"frame\",\"len\":0,\"text\":\"\"}\n\
                {\"event\":\"frame\",\"len\":3,\"text\":\"a\\nb\"}\n\
                {\"event\":\"frame\",\"len\":2,\"text\":\"AB\"}\n";
    let out = connect(server.addr, &["--in", "hex", "--out", "json"], input);
    assert_clean(&out, "json out");
    assert_eq!(stdout(&out), json);
    // The global --json means --out json, before or after the command.
    let mut cmd = lenframe();
    cmd.args(["--json", "connect", "--in", "hex"])
        .arg(server.addr.to_string());
    let out = run_with_timeout(cmd, input);
    assert_clean(&out, "--json");
    assert_eq!(stdout(&out), json);
    let out = connect(
        server.addr,
        &["--in", "hex", "--json", "--out", "json"],
        input,
    );
    assert_clean(&out, "--json --out json");
    assert_eq!(stdout(&out), json);
}

#[test]
fn json_with_another_out_is_a_usage_error() {
    let server = Server::start(&[]);
    for out_flag in ["text", "hex"] {
        let out = connect(server.addr, &["--json", "--out", out_flag], b"x\n");
        let line = usage_error(&out, out_flag);
        assert!(line.contains("--json"), "{line}");
    }
}

#[test]
fn every_header_format_against_serve() {
    for format in ["i", "<H", "!H", ">Q", "B", "varint", "varint-strict"] {
        let server = Server::start(&["--header", format]);
        let out = connect(server.addr, &["--header", format], b"one\ntwo\n\nthree\n");
        assert_clean(&out, format);
        assert_eq!(stdout(&out), "one\ntwo\n\nthree\n", "{format}");
    }
}

#[test]
fn sticky_and_split_frames_are_all_printed() {
    let (addr, server) = one_shot(|mut s| {
        // Three frames in one write.
        let mut sticky = frame(b"one");
        sticky.extend(frame(b"two"));
        sticky.extend(frame(b""));
        s.write_all(&sticky).unwrap();
        // One frame a byte at a time.
        for b in frame(b"split into bytes") {
            s.write_all(&[b]).unwrap();
            s.flush().unwrap();
            thread::sleep(Duration::from_millis(5));
        }
    });
    let out = connect(addr, &[], b"");
    server.join().unwrap();
    assert_clean(&out, "sticky and split");
    assert_eq!(stdout(&out), "one\ntwo\n\nsplit into bytes\n");
}

#[test]
fn end_of_stdin_half_closes_and_the_replies_still_come() {
    // The server answers only once it has read to the end of the stream:
    // without the half-close it would wait for ever.
    let (addr, server) = one_shot(|mut s| {
        let mut wire = Vec::new();
        s.read_to_end(&mut wire).unwrap();
        let mut reader = lenframe::FrameReader::new(&wire[..]);
        let mut n = 0;
        while let Some(f) = reader.read_frame().unwrap() {
            n += 1;
            s.write_all(&frame(&[&f[..], b"!"].concat())).unwrap();
        }
        s.write_all(&frame(format!("{n} frames").as_bytes()))
            .unwrap();
    });
    let out = connect(addr, &[], b"a\nb\nc\n");
    server.join().unwrap();
    assert_clean(&out, "half-close");
    assert_eq!(stdout(&out), "a!\nb!\nc!\n3 frames\n");
}

#[test]
fn the_server_closing_first_is_a_clean_end() {
    // It answers one frame and closes, while stdin stays open.
    let (addr, server) = one_shot(|s| {
        let mut r = lenframe::FrameReader::new(&s);
        let f = r.read_frame().unwrap().unwrap();
        (&s).write_all(&frame(&f)).unwrap();
    });
    let (child, mut stdin) = spawn_connect(&["connect", &addr.to_string()]);
    stdin.write_all(b"only\n").unwrap();
    let out = wait_output(child, TIMEOUT);
    drop(stdin);
    server.join().unwrap();
    assert_clean(&out, "server closed first");
    assert_eq!(stdout(&out), "only\n");
}

#[test]
fn a_server_that_closes_without_a_reply_gets_a_note() {
    // `serve` reads `!I`: the `i` header of "hi" says 33554432 to it, over
    // its maximum, so it closes without a word. Like nc, exit 0; unlike
    // nc, one line says what such a silent close usually means.
    let server = Server::start(&[]);
    let out = connect(server.addr, &["--header", "i"], b"hi\n");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains("without a reply to the 1 frame sent") && err.contains("`i` (--header)"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn count_exits_after_n_frames_with_stdin_still_open() {
    let server = Server::start(&[]);
    let (child, mut stdin) = spawn_connect(&["connect", "--count", "2", &server.addr.to_string()]);
    stdin.write_all(b"a\nb\nc\n").unwrap();
    // stdin stays open (as a terminal's would) until the process is done.
    let out = wait_output(child, TIMEOUT);
    drop(stdin);
    assert_clean(&out, "--count");
    assert_eq!(stdout(&out), "a\nb\n", "exactly 2 frames");
}

#[test]
fn count_not_reached_when_the_server_closes_is_a_failure() {
    let server = Server::start(&[]);
    let out = connect(server.addr, &["--count", "3"], b"a\n");
    assert_eq!(stdout(&out), "a\n");
    one_error(&out, &["closed the connection after 1 of 3 frames"]);
}

/// A server that reads everything and never answers nor closes (until
/// the test ends).
fn silent_server(hold: Duration) -> (SocketAddr, JoinHandle<()>) {
    one_shot(move |mut s| {
        s.set_read_timeout(Some(hold)).unwrap();
        let mut sink = [0u8; 1024];
        let start = Instant::now();
        while start.elapsed() < hold {
            match s.read(&mut sink) {
                Ok(0) => thread::sleep(Duration::from_millis(10)),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    })
}

#[test]
fn timeout_between_frames_ends_cleanly_with_a_note() {
    let (addr, _server) = silent_server(Duration::from_secs(10));
    let start = Instant::now();
    let out = connect(addr, &["-w", "0.5"], b"anyone?\n");
    let took = start.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("nothing arrived for 0.5 s: closing after 0 frames"),
        "{err}"
    );
}

#[test]
fn timeout_before_count_is_a_failure() {
    let (addr, _server) = silent_server(Duration::from_secs(10));
    let start = Instant::now();
    let out = connect(addr, &["--timeout", "0.3", "--count", "1"], b"x\n");
    assert!(start.elapsed() < Duration::from_secs(5));
    one_error(&out, &["nothing arrived for 0.3 s", "0 of 1 frames"]);
}

#[test]
fn timeout_inside_a_frame_says_where_it_stalled() {
    let (addr, _server) = one_shot(|mut s| {
        s.write_all(&frame(b"whole")).unwrap();
        s.write_all(&frame(b"0123456789")[..7]).unwrap();
        thread::sleep(Duration::from_secs(10));
    });
    let start = Instant::now();
    let out = connect(addr, &["-w", "0.5"], b"");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(stdout(&out), "whole\n", "the frame before it stays printed");
    one_error(
        &out,
        &[
            "nothing arrived for 0.5 s inside frame 2",
            "3 of 10 payload bytes",
        ],
    );
}

#[test]
fn a_refused_connection_is_one_line() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let out = connect(addr, &[], b"x\n");
    one_error(
        &out,
        &[
            &format!("cannot connect to 127.0.0.1:{port}: "),
            "(is a server listening there?)",
        ],
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unresolvable_address_is_one_line() {
    let mut cmd = lenframe();
    cmd.args(["connect", "nosuchhost.invalid:9000"]);
    let out = run_with_timeout(cmd, b"x\n");
    one_error(&out, &["cannot connect to nosuchhost.invalid:9000: "]);
}

/// Runs connect (`args`) against a server that writes `wire` and closes.
fn against(wire: Vec<u8>, args: &[&str]) -> Output {
    let (addr, server) = one_shot(move |mut s| {
        let _ = s.write_all(&wire);
    });
    let out = connect(addr, args, b"");
    server.join().unwrap();
    out
}

#[test]
fn an_http_server_is_named() {
    let out = against(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec(),
        &[],
    );
    assert!(out.stdout.is_empty());
    one_error(&out, &["bad frame 1 from", "`!I`", "HTTP"]);
}

#[test]
fn a_little_endian_server_read_as_network_order_gets_its_header() {
    // What Python's struct.pack('i', 5) + b"hello" sends.
    let mut wire = 5i32.to_le_bytes().to_vec();
    wire.extend_from_slice(b"hello");
    let out = against(wire.clone(), &[]);
    let line = one_error(&out, &["little-endian", "says 5", "--header i"]);
    assert!(line.contains("83886080"), "{line}");
    // And with it, the frame reads.
    let out = against(wire, &["--header", "i"]);
    assert_clean(&out, "--header i");
    assert_eq!(stdout(&out), "hello\n");
}

#[test]
fn a_close_inside_a_frame_is_a_failure_after_the_frames_before() {
    let mut wire = frame(b"ok");
    wire.extend_from_slice(&frame(b"0123456789")[..7]);
    let out = against(wire, &[]);
    assert_eq!(stdout(&out), "ok\n");
    one_error(
        &out,
        &["closed the connection inside frame 2", "got 3 of 10 bytes"],
    );
    // Inside the header too.
    let out = against(vec![0, 0], &[]);
    one_error(&out, &["inside frame 1", "header"]);
}

#[test]
fn an_oversize_frame_is_refused_without_allocating_it() {
    // 100 000 bytes claimed, over --max-frame 1000: an error at once.
    let mut wire = 100_000u32.to_be_bytes().to_vec();
    wire.extend_from_slice(b"abc");
    let out = against(wire, &["--max-frame", "1000"]);
    one_error(
        &out,
        &[
            "exceeds the maximum of 1000 bytes",
            "raise --max-frame if frames that large are expected",
        ],
    );
    // 4 GiB claimed (the most a !I says) over a 4 GiB maximum: nothing
    // is allocated for it, the bytes that come are all it costs, and the
    // close inside it is the error.
    let mut wire = u32::MAX.to_be_bytes().to_vec();
    wire.extend_from_slice(b"abc");
    let out = against(wire, &["--max-frame", "4G"]);
    one_error(&out, &["inside frame 1", "got 3 of 4294967295 bytes"]);
}

#[test]
fn bad_hex_input_stops_sending_there() {
    let server = Server::start(&[]);
    // Line 2 is not hex: line 1's reply is printed, line 3 is never sent.
    let out = connect(server.addr, &["--in", "hex"], b"6869\nzz\n6869\n");
    assert_eq!(stdout(&out), "hi\n");
    one_error(&out, &["stdin line 2:", "'z' (byte 1) is not a hex digit"]);
    let out = connect(server.addr, &["--in", "hex"], b"6869\n6\n");
    assert_eq!(stdout(&out), "hi\n");
    one_error(&out, &["stdin line 2:", "odd number of hex digits (1)"]);
}

#[test]
fn a_line_over_the_largest_frame_is_not_sent() {
    let server = Server::start(&[]);
    let out = connect(server.addr, &["--max-frame", "4"], b"abcd\nabcde\nnever\n");
    assert_eq!(stdout(&out), "abcd\n");
    one_error(
        &out,
        &["stdin line 2: longer than 4 bytes", "--max-frame 4"],
    );
    // The header's own limit.
    let server = Server::start(&["--header", "B"]);
    let long = format!("{}\n", "x".repeat(300));
    let out = connect(server.addr, &["--header", "B"], long.as_bytes());
    assert!(out.stdout.is_empty());
    one_error(
        &out,
        &[
            "stdin line 1: longer than 255 bytes",
            "a B header says at most 255",
        ],
    );
}

#[test]
fn a_large_pipe_does_not_deadlock() {
    let server = Server::start(&[]);
    // 20 000 lines of 100 bytes: 2 MB each way, more than the socket
    // buffers hold, so sending and receiving must run at once.
    let lines: Vec<String> = (0..20_000).map(|i| format!("{i:0>100}")).collect();
    let input = lines.join("\n") + "\n";
    let start = Instant::now();
    let out = connect(server.addr, &[], input.as_bytes());
    assert_clean(&out, "20 000 lines");
    assert!(stdout(&out) == input, "every reply, in order");
    eprintln!("20 000 lines in {:?}", start.elapsed());
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let server = Server::start(&[]);
    let input: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    let (mut child, mut stdin) = spawn_connect(&["connect", &server.addr.to_string()]);
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "line 0\n");
    drop(stdout); // as `| head -1` does
    let out = wait_output(child, TIMEOUT);
    writer.join().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

#[test]
fn a_stdout_that_cannot_be_written_is_a_failure() {
    // A closed pipe is the reader's choice; a full disk loses the frames,
    // which must not look like success.
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("SKIPPED: no /dev/full on this machine");
        return;
    };
    let server = Server::start(&[]);
    let mut cmd = lenframe();
    cmd.args(["connect", &server.addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(full)
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = wait_output(child, TIMEOUT);
    one_error(&out, &["cannot write to stdout", "No space left"]);
}

#[test]
fn at_a_terminal_there_is_a_prompt_and_in_a_pipe_none() {
    // In a pipe (every test above): stdout holds only the frames, and
    // stderr nothing. At a terminal, `script` gives connect one.
    let server = Server::start(&[]);
    let out = connect(server.addr, &[], b"x\n");
    assert_clean(&out, "pipe");
    assert_eq!(stdout(&out), "x\n");
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: the terminal half needs `script` (util-linux)");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_lenframe");
    let line = format!("{bin} connect --count 1 {}", server.addr);
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]);
    let out = run_with_timeout(cmd, b"typed\n");
    let all = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("> "), "a prompt: {all:?}");
    assert!(all.contains("typed"), "{all:?}");
}

#[test]
fn a_header_claiming_gigabytes_costs_nothing_until_its_bytes_come() {
    // 4 GiB claimed and allowed (--max-frame 4G), 3 bytes sent, then the
    // server waits: connect's memory stays small while it waits for them.
    let (addr, _server) = one_shot(|mut s| {
        let mut wire = u32::MAX.to_be_bytes().to_vec();
        wire.extend_from_slice(b"abc");
        s.write_all(&wire).unwrap();
        thread::sleep(Duration::from_secs(10));
    });
    let mut child = lenframe()
        .args(["connect", "--max-frame", "4G", &addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(500));
    let rss = common::rss_bytes(child.id());
    // Reserving the claim (untouched pages) shows here, not in the RSS.
    let peak = common::vm_peak_bytes(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let Some(rss) = rss else {
        eprintln!("SKIPPED: no /proc to read the resident memory from");
        return;
    };
    eprintln!("connect waiting inside a 4 GiB frame: {rss} bytes resident");
    assert!(rss < 32 << 20, "{rss} bytes resident");
    let peak = peak.unwrap();
    assert!(peak < 1 << 30, "{peak} bytes of virtual memory");
    eprintln!("connect waiting inside a 4 GiB frame: VmPeak {peak} bytes");
}
