//! The blocking examples as real processes: `echo_server` against the
//! `echo_client`, a Python peer written like the tutorials, a tokio-util
//! `LengthDelimitedCodec` client, hostile and stalled peers, UDP, 1,000
//! concurrent clients and 10,000 open connections; `sticky_demo`;
//! `file_transfer` end to end.
//!
//! Every process started here is killed when its handle drops (also when a
//! test fails); every wait has a timeout.
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

use crate::common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    example, good_frames_before_a_bad_header_are_echoed, length_delimited_client,
    many_echoing_connections, python_peer_is_echoed, room_for_files, run_with_timeout,
    ExampleServer, LoggedServer, PROCESS_TIMEOUT as TIMEOUT,
};
use lenframe::{Codec, Framed};

/// A running echo_server whose stdout lines and stderr are kept.
fn start(args: &[&str]) -> LoggedServer {
    LoggedServer::start("echo_server", args)
}

/// A fresh, well-behaved `codec` client is served.
fn assert_serves(server: &LoggedServer, codec: Codec) {
    let mut framed = codec.new_framed(server.connect());
    framed.send("still here?").unwrap();
    assert_eq!(framed.recv().unwrap().as_deref(), Some(&b"still here?"[..]));
}

/// Asserts that the server closed `s` (the read sees the end or a reset).
fn assert_closed(s: &TcpStream) {
    let mut buf = [0u8; 1];
    match (&*s).read(&mut buf) {
        Ok(0) => {}
        Ok(_) => panic!("the server sent data instead of closing"),
        Err(e) => assert!(
            matches!(e.kind(), std::io::ErrorKind::ConnectionReset),
            "{e}"
        ),
    }
}

fn client(addr: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(example("echo_client"));
    cmd.args(["--addr", addr]).args(args);
    run_with_timeout(cmd, stdin)
}

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---------------------------------------------------------------- echo_server

#[test]
fn burst_mode_against_the_server() {
    let server = ExampleServer::start("echo_server", &[]);
    let addr = server.addr.to_string();
    for (n, size) in [
        ("1000", "100"),
        ("20000", "16"),
        ("3", "200000"),
        ("10", "0"),
    ] {
        let out = client(&addr, &["--burst", n, "--size", size], b"");
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(stdout_of(&out), format!("{n}/{n} frames echoed intact\n"));
    }
}

#[test]
fn burst_mode_in_other_header_formats() {
    for fmt in ["i", "<H", ">Q", "B"] {
        let server = ExampleServer::start("echo_server", &["--header", fmt]);
        let out = client(
            &server.addr.to_string(),
            &["--header", fmt, "--burst", "500", "--size", "100"],
            b"",
        );
        assert!(out.status.success(), "{fmt}: {}", stderr_of(&out));
        assert_eq!(stdout_of(&out), "500/500 frames echoed intact\n", "{fmt}");
    }
}

#[test]
fn piped_lines_come_back_as_lines() {
    let server = ExampleServer::start("echo_server", &[]);
    let addr = server.addr.to_string();
    let input = "hello\n\n你好，世界\r\nlast line without newline";
    let out = client(&addr, &[], input.as_bytes());
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        "hello\n\n你好，世界\nlast line without newline\n"
    );
    // More than the socket buffers hold: one thread writes while the other
    // reads, so the client never stalls against a server that waits for
    // its echoes to be read.
    let lines: String = (0..100_000).map(|i| format!("{i:>59}\n")).collect();
    let out = client(&addr, &[], lines.as_bytes());
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out) == lines, "6 MB of lines came back changed");
}

#[test]
fn connect_and_disconnect_lines() {
    let server = start(&[]);
    let mut framed = Framed::new(server.connect());
    let me = framed.get_ref().local_addr().unwrap();
    assert_eq!(server.line(), format!("connected {me}"));
    for i in 0..10 {
        framed.feed(format!("frame {i}")).unwrap();
    }
    for i in 0..10 {
        assert_eq!(framed.recv().unwrap().unwrap(), format!("frame {i}"));
    }
    drop(framed);
    assert_eq!(
        server.line(),
        format!("disconnected {me}: 10 frames echoed (peer closed)")
    );
    assert_eq!(server.stderr(), "");
}

#[test]
fn python_tutorial_style_peer() {
    for fmt in ["!I", "i", "<H", ">Q"] {
        let server = ExampleServer::start("echo_server", &["--header", fmt]);
        if !python_peer_is_echoed(server.addr.port(), fmt) {
            return;
        }
    }
}

#[test]
fn tokio_util_length_delimited_client() {
    let server = ExampleServer::start("echo_server", &[]);
    let frames: Vec<Vec<u8>> = (0..300).map(|i| vec![i as u8; (i * 37) % 5000]).collect();
    assert_eq!(length_delimited_client(server.addr, &frames), frames);
}

#[test]
fn half_close_still_gets_every_echo() {
    let server = start(&[]);
    let mut framed = Framed::new(server.connect());
    for i in 0..2000u32 {
        framed.feed(i.to_be_bytes()).unwrap();
    }
    framed.shutdown_write().unwrap();
    let got: Vec<u32> = framed
        .map(|f| u32::from_be_bytes(f.unwrap()[..].try_into().unwrap()))
        .collect();
    assert_eq!(got, (0..2000).collect::<Vec<_>>());
}

/// What the library says about `bytes` followed by the end of the stream,
/// read with `codec`: the server's stderr line must carry the same.
fn library_error(codec: Codec, bytes: &[u8]) -> String {
    codec.new_read(bytes).read_frame().unwrap_err().to_string()
}

#[test]
fn hostile_peers_cost_only_their_own_connection() {
    let server = start(&["--header", "i", "--max-frame", "1000"]);
    let codec = Codec::builder()
        .format("i".parse().unwrap())
        .max_frame_len(1000)
        .build()
        .unwrap();
    let good = server.connect();
    let mut good = codec.new_framed(&good);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("oversize", 1001i32.to_le_bytes().to_vec()),
        ("negative", (-5i32).to_le_bytes().to_vec()),
        ("http", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        (
            "tls",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        ),
        ("end mid-header", vec![1, 0]),
        (
            "end mid-payload",
            [&10i32.to_le_bytes()[..], b"abc"].concat(),
        ),
    ];
    for (name, bytes) in cases {
        let s = server.connect();
        let peer = s.local_addr().unwrap().to_string();
        (&s).write_all(&bytes).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let line = server.stderr_line(&peer);
        assert_eq!(
            line,
            format!("{peer}: {}", library_error(codec, &bytes)),
            "{name}"
        );
        assert_eq!(
            server.line_with(&format!("disconnected {peer}:")),
            format!("disconnected {peer}: 0 frames echoed (error, see stderr)"),
            "{name}"
        );
        assert_closed(&s);
        // The connection that was open all along is still served.
        good.send(name).unwrap();
        assert_eq!(good.recv().unwrap().unwrap(), name);
    }
    assert_serves(&server, codec);
    // One line per bad peer, nothing else.
    assert_eq!(server.stderr().lines().count(), 6, "{}", server.stderr());
}

#[test]
fn the_tutorials_header_against_a_network_order_server_gets_the_byte_order_hint() {
    let server = start(&[]);
    let s = server.connect();
    let peer = s.local_addr().unwrap().to_string();
    // Python: struct.pack('i', 5) + b'hello' (little-endian on x86).
    let wire = [&5i32.to_le_bytes()[..], b"hello"].concat();
    (&s).write_all(&wire).unwrap();
    let line = server.stderr_line(&peer);
    let expected = library_error(Codec::default(), &wire);
    assert!(expected.contains("other byte order"), "{expected}");
    assert_eq!(line, format!("{peer}: {expected}"));
    assert_closed(&s);
    assert_serves(&server, Codec::default());
}

#[test]
fn a_reset_in_the_middle_of_a_frame_costs_only_that_connection() {
    let server = start(&[]);
    let s = server.connect();
    let peer = s.local_addr().unwrap().to_string();
    let mut wire = Vec::new();
    Codec::default()
        .encode_to_vec("echo me", &mut wire)
        .unwrap();
    wire.extend_from_slice(&100u32.to_be_bytes());
    wire.extend_from_slice(b"partial");
    (&s).write_all(&wire).unwrap();
    thread::sleep(Duration::from_millis(100));
    drop(s); // the echo is unread: the close sends a reset
    server.line_with(&format!("disconnected {peer}:"));
    assert_serves(&server, Codec::default());
}

#[test]
fn idle_timeout_drops_a_peer_stalled_mid_frame_and_keeps_an_idle_one() {
    let timeout = 0.5;
    let server = start(&["--idle-timeout", "0.5"]);
    let idle = server.connect();
    let mut idle = Framed::new(&idle);
    idle.send("before").unwrap();
    assert_eq!(idle.recv().unwrap().unwrap(), "before");

    let stalled = server.connect();
    let peer = stalled.local_addr().unwrap().to_string();
    let start = Instant::now();
    (&stalled).write_all(&[0, 0]).unwrap(); // half a header, then nothing
    assert_closed(&stalled);
    let took = start.elapsed().as_secs_f64();
    assert!(
        took >= timeout * 0.9 && took < timeout + 1.5,
        "dropped after {took:.2}s, the timeout is {timeout}s"
    );
    let line = server.stderr_line(&peer);
    assert!(
        line.starts_with(&format!(
            "{peer}: stalled for 0.5s, inside a frame or not reading its echoes \
             (--idle-timeout): "
        )),
        "{line}"
    );

    // Idle between frames for three timeouts: still served.
    thread::sleep(Duration::from_secs_f64(timeout * 3.0));
    idle.send("after").unwrap();
    assert_eq!(idle.recv().unwrap().unwrap(), "after");
    assert_eq!(server.stderr().lines().count(), 1, "{}", server.stderr());
}

/// A client that sends and never reads fills the socket buffers until the
/// server's `write()` waits: `--idle-timeout` drops it and frees its place.
#[test]
fn idle_timeout_drops_a_peer_that_never_reads_its_echoes() {
    let server = start(&["--idle-timeout", "0.5", "--max-conns", "1"]);
    let greedy = server.connect();
    let peer = greedy.local_addr().unwrap().to_string();
    let writer = {
        let greedy = greedy.try_clone().unwrap();
        thread::spawn(move || {
            let mut framed = Framed::new(greedy);
            let frame = vec![7u8; 64 * 1024];
            // Until the server gives up on us (or 1 GiB, far more than any
            // socket buffers hold).
            for _ in 0..16 * 1024 {
                if framed.send(&frame).is_err() {
                    return true;
                }
            }
            false
        })
    };
    let line = server.stderr_line(&peer);
    assert!(line.contains("not reading its echoes"), "{line}");
    assert!(
        writer.join().unwrap(),
        "the server never dropped the writer"
    );
    // Its place is free again.
    server.line_with(&format!("disconnected {peer}:"));
    assert_serves(&server, Codec::default());
}

#[test]
fn a_stall_that_the_other_byte_order_explains_says_so() {
    let server = start(&["--idle-timeout", "0.3"]);
    let s = server.connect();
    let peer = s.local_addr().unwrap().to_string();
    // struct.pack('i', 256) + 256 bytes: read as !I, a frame of 65536 bytes
    // that never completes.
    (&s).write_all(&256i32.to_le_bytes()).unwrap();
    (&s).write_all(&[b'x'; 256]).unwrap();
    assert_closed(&s);
    let line = server.stderr_line(&peer);
    assert!(line.contains("stalled for 0.3s"), "{line}");
    assert!(
        line.contains("its header would declare 256 bytes, which arrived"),
        "{line}"
    );
}

#[test]
fn udp_echo_on_the_same_port() {
    let server = ExampleServer::start("echo_server", &[]);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 70_000];
    for size in [0usize, 1, 1400, 65_507] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        sock.send_to(&payload, server.addr).unwrap();
        let (n, from) = sock.recv_from(&mut buf).expect("udp echo");
        assert_eq!(from, server.addr);
        assert!(buf[..n] == payload[..], "size {size}");
    }
}

#[test]
fn a_thousand_concurrent_clients() {
    const CLIENTS: usize = 1000;
    let Some(_room) = room_for_files(CLIENTS as u64 + 200) else {
        return;
    };
    let server = ExampleServer::start("echo_server", &[]);
    let conns: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    // All connected first, then all talking at once.
    let go = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            let go = Arc::clone(&go);
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    conn.set_read_timeout(Some(TIMEOUT)).unwrap();
                    let mut framed = Framed::new(conn);
                    go.wait();
                    for round in 0..10 {
                        let msg = format!("client {i} round {round}");
                        framed.send(&msg).unwrap();
                        assert_eq!(framed.recv().unwrap().unwrap(), msg);
                    }
                })
                .unwrap()
        })
        .collect();
    for c in clients {
        c.join().expect("a client saw a wrong echo");
    }
}

#[test]
fn ten_thousand_connections_open_at_once() {
    const MANY: usize = 10_000;
    // This process holds MANY sockets, the server as many again (the
    // server raises its own limit to the hard one).
    let Some(_room) = room_for_files(MANY as u64 + 200) else {
        return;
    };
    let start_time = Instant::now();
    let server = start(&[]);
    let conns = many_echoing_connections(server.addr, MANY);
    // All still served: another echo on the first and the last.
    for c in [&conns[0], &conns[MANY - 1]] {
        let mut framed = Framed::new(c);
        framed.send("again").unwrap();
        assert_eq!(framed.recv().unwrap().unwrap(), "again");
    }
    assert_eq!(server.stderr(), "", "no accept error, no refusal");
    eprintln!(
        "echo_server: {MANY} connections open and echoed in {:.1}s",
        start_time.elapsed().as_secs_f64()
    );
}

#[cfg(unix)]
#[test]
fn out_of_file_descriptors_the_server_waits_and_goes_on() {
    // A hard limit of 32 open files (the server raises its soft limit to
    // the hard one): the server runs out of descriptors after 20-odd
    // connections.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -n 32 && exec \"$0\" \"$@\""])
        .arg(example("echo_server"))
        .args(["--addr", "127.0.0.1:0"]);
    let server = LoggedServer::spawn(cmd);
    let mut conns: Vec<TcpStream> = (0..40).map(|_| server.connect()).collect();
    let line = server.stderr_line("accept: ");
    assert!(line.contains("(os error 24)"), "{line}");
    // Closing connections frees descriptors: the waiting ones are served.
    let waiting = conns.split_off(30);
    drop(conns);
    for (i, c) in waiting.iter().enumerate() {
        let mut framed = Framed::new(c);
        framed.send(format!("waited {i}")).unwrap();
        assert_eq!(framed.recv().unwrap().unwrap(), format!("waited {i}"));
    }
    // Nothing but accept errors on stderr.
    let stderr = server.stderr();
    assert!(
        stderr.lines().all(|l| l.starts_with("accept: ")),
        "{stderr}"
    );
}

#[test]
fn over_max_conns_a_connection_is_refused_with_one_line() {
    let server = start(&["--max-conns", "2"]);
    let a = server.connect();
    let b = server.connect();
    for s in [&a, &b] {
        let mut framed = Framed::new(s);
        framed.send("x").unwrap();
        assert_eq!(framed.recv().unwrap().as_deref(), Some(&b"x"[..]));
    }
    let c = server.connect();
    let peer = c.local_addr().unwrap().to_string();
    assert_closed(&c);
    assert_eq!(
        server.stderr_line(&peer),
        format!("{peer}: refused: 2 connections open (--max-conns)")
    );
    // A place frees when a connection ends.
    drop(a);
    server.line_with("disconnected");
    assert_serves(&server, Codec::default());
}

#[test]
fn restart_on_the_same_port_right_away() {
    let first = start(&[]);
    let addr = first.addr.to_string();
    // A connection still open when the server goes: the server's side
    // closes first, so its port is left in FIN_WAIT/TIME_WAIT, which only
    // SO_REUSEADDR (std sets it on Unix) lets the next server bind past.
    let open = first.connect();
    assert_serves(&first, Codec::default());
    drop(first);
    let mut buf = [0u8; 1];
    assert_eq!((&open).read(&mut buf).unwrap_or(0), 0, "the server closed");
    let mut cmd = Command::new(example("echo_server"));
    cmd.args(["--addr", &addr]);
    let second = LoggedServer::spawn(cmd);
    assert_eq!(second.addr.to_string(), addr);
    assert_serves(&second, Codec::default());
    drop(open);
}

#[test]
fn a_closed_stdout_does_not_stop_the_server() {
    // Its stdout is closed after the first line: every connected line
    // after that fails to print.
    let mut child = Command::new(example("echo_server"))
        .args(["--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let server = Killed(child);
    let addr: std::net::SocketAddr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    for i in 0..20 {
        let mut framed = Framed::new(TcpStream::connect(addr).unwrap());
        framed.send(format!("{i}")).unwrap();
        assert_eq!(framed.recv().unwrap().unwrap(), format!("{i}"));
    }
    drop(server);
}

/// A child process killed on drop (also when a test fails).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------- sticky_demo

#[test]
fn sticky_demo_shows_the_problem_and_the_cure() {
    let out = run_with_timeout(Command::new(example("sticky_demo")), b"");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(text.contains("recv(1024) -> \"jasonkevintoney\""), "{text}");
    for name in ["jason", "kevin", "toney"] {
        assert!(
            text.contains(&format!("read_frame() -> \"{name}\"")),
            "{text}"
        );
    }
    assert!(
        text.contains("read_frame() -> 100000 bytes, intact: true"),
        "{text}"
    );
}

// -------------------------------------------------------------- file_transfer

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("lenframe-ft-{name}-{}", std::process::id()));
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

/// A running `file_transfer recv DIR`, killed on drop.
struct Receiver {
    server: LoggedServer,
}

impl Receiver {
    fn start(dir: &Path, args: &[&str]) -> Receiver {
        let mut cmd = Command::new(example("file_transfer"));
        cmd.args(["recv", dir.to_str().unwrap(), "--addr", "127.0.0.1:0"])
            .args(args);
        Receiver {
            server: LoggedServer::spawn(cmd),
        }
    }

    fn addr(&self) -> String {
        self.server.addr.to_string()
    }
}

fn send(path: &Path, addr: &str) -> Output {
    let mut cmd = Command::new(example("file_transfer"));
    cmd.args(["send", path.to_str().unwrap(), "--addr", addr]);
    run_with_timeout(cmd, b"")
}

/// Names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The `!Q` codec of file_transfer's protocol.
fn ft_codec() -> Codec {
    Codec::new("!Q".parse().unwrap())
}

/// Sends a metadata frame declaring `name` and `size`; returns the answer.
fn declare(s: &TcpStream, name: &str, size: u64) -> String {
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut framed = ft_codec().new_framed(s);
    framed
        .send([&size.to_be_bytes()[..], name.as_bytes()].concat())
        .unwrap();
    let answer = framed.recv().unwrap().expect("an answer");
    String::from_utf8(answer.to_vec()).unwrap()
}

/// Peak resident memory of a process (VmHWM), in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

#[test]
fn file_transfer_moves_a_file_intact_in_constant_memory() {
    let scratch = Scratch::new("intact");
    let content: Vec<u8> = (0..48_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let src = scratch.0.join("data.bin");
    std::fs::write(&src, &content).unwrap();
    let inbox = scratch.0.join("inbox").join("today"); // created by the receiver
    let receiver = Receiver::start(&inbox, &[]);
    let out = send(&src, &receiver.addr());
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).starts_with("sent data.bin: 48000000 bytes in "),
        "{}",
        stdout_of(&out)
    );
    let target = inbox.join("data.bin");
    let line = receiver.server.line_with("saved");
    assert!(
        line.ends_with(&format!(": saved {} (48000000 bytes)", target.display())),
        "{line}"
    );
    assert!(
        std::fs::read(&target).unwrap() == content,
        "content differs"
    );
    assert_eq!(listing(&inbox), ["data.bin"]);
    if let Some(peak) = peak_rss(receiver.server.child.id()) {
        assert!(
            peak < 16_000_000,
            "the receiver held {peak} bytes for a 48 MB file"
        );
    }
}

#[test]
fn file_transfer_refuses_names_that_leave_its_directory() {
    let scratch = Scratch::new("names");
    let inbox = scratch.0.join("inbox");
    let receiver = Receiver::start(&inbox, &[]);
    for evil in [
        "../escaped.txt",
        "/tmp/absolute.txt",
        "a/b.txt",
        "..",
        ".",
        "",
        "a\\b.txt",
    ] {
        let s = TcpStream::connect(receiver.addr()).unwrap();
        let answer = declare(&s, evil, 5);
        assert_eq!(
            answer,
            format!("error: refusing file name {evil:?}: not a plain file name")
        );
    }
    assert!(!scratch.0.join("escaped.txt").exists());
    assert!(!Path::new("/tmp/absolute.txt").exists());
    assert!(listing(&inbox).is_empty(), "{:?}", listing(&inbox));
}

#[test]
fn file_transfer_never_replaces_a_file() {
    let scratch = Scratch::new("exists");
    let src = scratch.0.join("notes.txt");
    std::fs::write(&src, b"new version").unwrap();
    let inbox = scratch.0.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let target = inbox.join("notes.txt");
    std::fs::write(&target, b"old version").unwrap();
    let receiver = Receiver::start(&inbox, &[]);
    let out = send(&src, &receiver.addr());
    assert_eq!(out.status.code(), Some(1));
    let refusal = format!("refusing notes.txt: {} already exists", target.display());
    assert_eq!(
        stderr_of(&out),
        format!("file_transfer: the receiver says: error: {refusal}\n")
    );
    assert!(receiver.server.stderr_line("refusing").ends_with(&refusal));
    assert_eq!(std::fs::read(&target).unwrap(), b"old version");
    assert_eq!(listing(&inbox), ["notes.txt"]);
}

#[test]
fn file_transfer_leaves_a_part_file_it_did_not_make_alone() {
    let scratch = Scratch::new("part");
    let src = scratch.0.join("notes");
    std::fs::write(&src, b"new version").unwrap();
    let inbox = scratch.0.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let part = inbox.join("notes.part");
    std::fs::write(&part, b"somebody's data").unwrap();
    let receiver = Receiver::start(&inbox, &[]);
    let out = send(&src, &receiver.addr());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.starts_with("file_transfer: the receiver says: error: refusing notes: cannot create"),
        "{err}"
    );
    assert_eq!(std::fs::read(&part).unwrap(), b"somebody's data");
    assert_eq!(listing(&inbox), ["notes.part"]);
}

/// The receiver fails after its `go`, while the sender is still sending
/// (here: a content frame of another size than declared). The sender still
/// gets the reason: the receiver reads what is left before it closes, so
/// the close does not reset the connection and destroy the answer.
#[test]
fn file_transfer_tells_the_sender_why_even_mid_content() {
    let scratch = Scratch::new("midway");
    let inbox = scratch.0.join("inbox");
    let receiver = Receiver::start(&inbox, &[]);
    let s = TcpStream::connect(receiver.addr()).unwrap();
    assert_eq!(declare(&s, "wrong.bin", 1000), "go");
    let content = vec![7u8; 4 << 20];
    let mut framed = ft_codec().new_framed(&s);
    framed.send(&content).unwrap();
    let answer = framed.recv().unwrap().expect("an answer");
    assert_eq!(
        answer,
        "error: receiving wrong.bin: the content frame has 4194304 bytes, not 1000"
    );
    assert!(listing(&inbox).is_empty(), "{:?}", listing(&inbox));
}

#[test]
fn file_transfer_refuses_a_file_over_max_size_before_it_is_sent() {
    let scratch = Scratch::new("oversize");
    let inbox = scratch.0.join("inbox");
    let receiver = Receiver::start(&inbox, &["--max-size", "1000"]);
    let src = scratch.0.join("big.bin");
    std::fs::write(&src, vec![1u8; 5000]).unwrap();
    let out = send(&src, &receiver.addr());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "file_transfer: the receiver says: error: refusing big.bin: 5000 bytes is over \
         --max-size 1000\n"
    );
    assert!(listing(&inbox).is_empty(), "{:?}", listing(&inbox));
}

#[test]
fn file_transfer_cut_short_leaves_no_file_and_once_exits_1() {
    let scratch = Scratch::new("cut");
    let inbox = scratch.0.join("inbox");
    let mut receiver = Receiver::start(&inbox, &["--once"]);
    let s = TcpStream::connect(receiver.addr()).unwrap();
    assert_eq!(declare(&s, "half.bin", 1000), "go");
    // The content frame's header says 1000 bytes; 10 come, then the end.
    let mut writer = ft_codec().new_write(&s);
    writer
        .write_frame_from(1000, &mut &[7u8; 10][..])
        .unwrap_err();
    s.shutdown(Shutdown::Write).unwrap();
    let (status, _) = receiver.server.wait_exit();
    assert_eq!(status.code(), Some(1));
    let line = receiver.server.stderr_line("half.bin");
    assert!(line.contains("receiving half.bin: "), "{line}");
    assert!(listing(&inbox).is_empty(), "{:?}", listing(&inbox));
}

#[test]
fn file_transfer_once_exits_0_after_one_file() {
    let scratch = Scratch::new("once");
    let src = scratch.0.join("one.txt");
    std::fs::write(&src, b"just one").unwrap();
    let inbox = scratch.0.join("inbox");
    let mut receiver = Receiver::start(&inbox, &["--once"]);
    let out = send(&src, &receiver.addr());
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (status, _) = receiver.server.wait_exit();
    assert!(status.success());
    assert_eq!(std::fs::read(inbox.join("one.txt")).unwrap(), b"just one");
}

/// The README walks `examples/echo_server.rs` in `rust,ignore` excerpts
/// (its section "echo_server, line by line"; other sections' `rust,ignore`
/// blocks are other programs): each excerpt must still be in the example,
/// line for line (indentation aside), so the walkthrough cannot drift from
/// the program it explains.
#[test]
fn the_readme_walkthrough_quotes_the_echo_server_as_it_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("### echo_server, line by line\n")
        .expect("the README's echo_server walkthrough");
    let section = &readme[start..];
    // Up to the next section (`##` or `###`; the `#` lines of its shell
    // blocks are comments).
    let end = ["\n## ", "\n### "]
        .iter()
        .filter_map(|h| section.find(h))
        .min()
        .unwrap_or(section.len());
    let source = std::fs::read_to_string(root.join("examples/echo_server.rs")).unwrap();
    let source: Vec<&str> = source.lines().map(str::trim).collect();
    let excerpts: Vec<Vec<&str>> = section[..end]
        .split("```rust,ignore\n")
        .skip(1)
        .map(|rest| {
            let block = &rest[..rest.find("```").expect("a closed code block")];
            block.lines().map(str::trim).collect()
        })
        .collect();
    assert!(
        excerpts.len() >= 2,
        "the README walks echo_server in excerpts"
    );
    for excerpt in excerpts {
        assert!(
            source.windows(excerpt.len()).any(|w| w == excerpt),
            "README excerpt not found in examples/echo_server.rs:\n{}",
            excerpt.join("\n")
        );
    }
}

#[test]
fn good_frames_before_a_bad_header_are_echoed_first() {
    let server = start(&[]);
    good_frames_before_a_bad_header_are_echoed(server.addr);
}
