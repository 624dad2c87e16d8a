//! The event-loop `echo_server` example as a real process: its stdout lines,
//! clean shutdown on SIGINT with echoes in flight, the byte-order hint for
//! a Python `struct.pack('i')` peer, the per-connection budget against a
//! client with small socket buffers, backpressure past it, a flood of
//! connections under a low open-file limit, nonsensical flags.
//!
//! Every process started here is killed when its handle drops; every wait
//! has a timeout.
#![cfg(feature = "std")]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{example, LoggedServer, PROCESS_TIMEOUT as TIMEOUT};
use lenframe::{Codec, FrameReader, FrameWriter};

/// A running echo_server whose stdout lines and stderr are collected;
/// killed on drop.
type Server = LoggedServer;

fn start(args: &[&str]) -> Server {
    Server::start("echo_server", args)
}

/// A fresh client gets its echo (false if it was refused).
fn serves(server: &Server) -> bool {
    let s = server.connect();
    let mut w = FrameWriter::new(&s);
    let sent = w.write_frame(b"fresh").and_then(|()| w.flush());
    let got = FrameReader::new(&s).read_frame();
    sent.is_ok() && matches!(got, Ok(Some(f)) if f[..] == b"fresh"[..])
}

fn assert_serves(server: &Server) {
    let s = server.connect();
    let mut w = FrameWriter::new(&s);
    w.write_frame(b"still here?").unwrap();
    w.flush().unwrap();
    assert_eq!(
        FrameReader::new(&s).read_frame().unwrap().as_deref(),
        Some(&b"still here?"[..])
    );
}

#[test]
fn connect_and_disconnect_lines() {
    let server = start(&[]);
    let limits = server.line();
    assert!(
        limits.starts_with("limits: max ") && limits.contains("connections, 8388608-byte frames"),
        "{limits}"
    );
    let s = server.connect();
    let peer = s.local_addr().unwrap().to_string();
    assert_eq!(server.line(), format!("connected {peer}"));
    let mut w = FrameWriter::new(&s);
    for _ in 0..10 {
        w.write_frame([7u8; 16]).unwrap();
    }
    w.flush().unwrap();
    let mut r = FrameReader::new(&s);
    for _ in 0..10 {
        assert_eq!(r.read_frame().unwrap().unwrap(), [7u8; 16][..]);
    }
    s.shutdown(Shutdown::Write).unwrap();
    assert!(r.read_frame().unwrap().is_none(), "EOF after the echoes");
    assert_eq!(
        server.line(),
        format!("disconnected {peer}: 10 frames, 160 bytes echoed (peer closed)")
    );
    // A peer that breaks the protocol: its line says why it ended.
    let bad = server.connect();
    let peer = bad.local_addr().unwrap().to_string();
    (&bad).write_all(&[0xff; 8]).unwrap();
    assert_eq!(server.line_with(&peer), format!("connected {peer}"));
    assert_eq!(
        server.line_with(&peer),
        format!("disconnected {peer}: 0 frames, 0 bytes echoed (error, see stderr)")
    );
    assert!(server.stderr_line(&peer).contains("exceeds the maximum"));
}

#[test]
fn closed_stdout_does_not_stop_the_server() {
    let mut server = start(&[]);
    // Close our end of its stdout: every later line meets a closed pipe.
    let (_, lines) = mpsc::channel();
    drop(std::mem::replace(&mut server.lines, lines));
    thread::sleep(Duration::from_millis(50));
    for _ in 0..20 {
        assert_serves(&server);
    }
    server.interrupt();
    assert_eq!(server.wait_exit().0.code(), Some(0));
}

#[test]
fn sigint_delivers_echoes_in_flight_then_exits() {
    let mut server = start(&[]);
    // Small client buffers: most echoes are still in the server at the signal.
    let s = small_buffer_client(server.addr);
    let n = 250_000u32;
    let mut w = FrameWriter::new(&s);
    // One round trip first, so the connection is being served.
    w.write_frame(u32::MAX.to_be_bytes()).unwrap();
    w.flush().unwrap();
    let mut r = FrameReader::new(&s);
    assert_eq!(r.read_frame().unwrap().unwrap(), u32::MAX.to_be_bytes()[..]);
    // 250 000 frames (3 MB, within the budget), none of their echoes read yet.
    for i in 0..n {
        w.write_frame([i.to_be_bytes(), [0xEE; 4]].concat())
            .unwrap();
    }
    w.flush().unwrap();
    thread::sleep(Duration::from_millis(200));
    server.interrupt();
    let signalled = Instant::now();
    for i in 0..n {
        let f = r
            .read_frame()
            .unwrap()
            .unwrap_or_else(|| panic!("EOF after {i} of {n} echoes"));
        assert_eq!(f[..4], i.to_be_bytes(), "echo {i}");
    }
    assert!(r.read_frame().unwrap().is_none(), "closed after the echoes");
    let (status, _) = server.wait_exit();
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    let closed = server.line_with("disconnected");
    assert!(
        closed.ends_with(&format!(
            ": {} frames, {} bytes echoed (shutdown)",
            n + 1,
            n * 8 + 4
        )),
        "{closed}"
    );
    assert_eq!(
        server.line(),
        format!(
            "shutdown: 1 connections served, {} frames ({} bytes) echoed, 0 refused",
            n + 1,
            n * 8 + 4
        )
    );
}

/// True if python3 runs; otherwise says why the test is skipped.
fn have_python() -> bool {
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

/// The tutorials' client: a 4-byte native `struct.pack('i')` header.
const PY_CLIENT: &str = r#"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
msg = b"hello"
s.sendall(struct.pack("i", len(msg)) + msg)
try:
    print(repr(s.recv(100)))
except ConnectionResetError:
    print("reset")
"#;

#[test]
fn python_struct_pack_i_peer_gets_the_byte_order_hint() {
    if !have_python() {
        return;
    }
    let server = start(&[]);
    let out = Command::new("python3")
        .args(["-c", PY_CLIENT, &server.addr.port().to_string()])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = server.stderr_line("exceeds the maximum");
    assert!(line.contains("--header i"), "{line}");
    assert!(line.contains("struct.pack('i')"), "{line}");
    // A well-formed `!I` header gets no hint.
    let s = server.connect();
    (&s).write_all(&[0, 0x90, 0, 0]).unwrap(); // 9 MiB: too large, and
    let peer = s.local_addr().unwrap().to_string(); // 0x9000 little-endian
    let line = server.stderr_line(&peer); // is 36864: a hint is right
    assert!(line.contains("--header i"), "{line}");
    let s = server.connect();
    (&s).write_all(&[1, 0, 0, 1]).unwrap(); // too large both ways
    let peer = s.local_addr().unwrap().to_string();
    let line = server.stderr_line(&peer);
    assert!(!line.contains("--header"), "{line}");
}

/// A client socket with 64 KiB send and receive buffers, so the kernel
/// cannot hold the echoes for it.
fn small_buffer_client(addr: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    socket.connect_timeout(&addr.into(), TIMEOUT).unwrap();
    let s: TcpStream = socket.into();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s
}

#[test]
fn budget_pipelined_before_reading_is_served_with_small_client_buffers() {
    let server = start(&[]);
    let codec = Codec::default();
    for payload in [16_380usize, 12] {
        let s = small_buffer_client(server.addr);
        // Exactly 8 MiB (the default --conn-budget) of frames on the wire,
        // all written before a single echo is read.
        let frame_len = payload + 4;
        let count = (8 << 20) / frame_len;
        let mut wire = Vec::with_capacity(8 << 20);
        for i in 0..count {
            let mut p = vec![(i % 251) as u8; payload];
            p[..4].copy_from_slice(&(i as u32).to_be_bytes());
            codec.encode_to_vec(&p, &mut wire).unwrap();
        }
        (&s).write_all(&wire)
            .expect("the server kept reading up to its budget");
        s.shutdown(Shutdown::Write).unwrap();
        let mut echoed = Vec::with_capacity(wire.len());
        (&s).read_to_end(&mut echoed).unwrap();
        assert!(echoed == wire, "{payload}-byte frames: echoes differ");
    }
}

#[test]
fn past_the_budget_the_server_stops_reading() {
    let server = start(&["--conn-budget", "1M"]);
    let pid = server.child.id();
    let s = small_buffer_client(server.addr);
    let frame = {
        let mut wire = Vec::new();
        Codec::default()
            .encode_to_vec(vec![0x5A; 65_532], &mut wire)
            .unwrap();
        wire
    };
    let total_frames = 2048; // 128 MiB
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (s, frame, written) = (s.try_clone().unwrap(), frame.clone(), Arc::clone(&written));
        thread::spawn(move || {
            s.set_write_timeout(Some(Duration::from_secs(120))).unwrap();
            for _ in 0..total_frames {
                (&s).write_all(&frame).unwrap();
                written.fetch_add(frame.len() as u64, Ordering::SeqCst);
            }
        })
    };
    // Wait until the writer stops making progress: blocked by TCP flow
    // control because the server stopped reading.
    let mut last = u64::MAX;
    loop {
        thread::sleep(Duration::from_millis(500));
        let now = written.load(Ordering::SeqCst);
        if now == last {
            break;
        }
        assert!(
            !writer.is_finished(),
            "the writer finished: no backpressure"
        );
        last = now;
    }
    assert!(last < 64 << 20, "{last} bytes accepted without reading");
    if let Some(rss) = rss_bytes(pid) {
        assert!(rss < 64 << 20, "server RSS {rss} while paused");
    }
    // Reading resumes the flow: every echo arrives.
    let mut r = FrameReader::new(&s);
    for i in 0..total_frames {
        let f = r
            .read_frame()
            .unwrap()
            .unwrap_or_else(|| panic!("EOF at {i}"));
        assert!(
            f.len() == 65_532 && f.iter().all(|&b| b == 0x5A),
            "frame {i}"
        );
    }
    writer.join().unwrap();
}

/// Resident memory of a process, from /proc (Linux).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

#[test]
fn flood_under_a_low_open_file_limit_is_refused_not_fatal() {
    let exe = example("echo_server");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -n 256 && exec "$0" --addr 127.0.0.1:0 --max-conns 100000"#)
        .arg(&exe);
    let mut server = Server::spawn(cmd);
    let limits = server.line();
    assert!(limits.contains("max 100000 connections"), "{limits}");
    // 600 connections at once: more than 256 descriptors allow.
    let mut flood = Vec::new();
    for i in 0..600u32 {
        let s = server.connect();
        let _ = send_one(&s, i);
        flood.push(s);
    }
    let line = server.stderr_line("refused: out of file descriptors");
    assert!(line.starts_with("127.0.0.1:"), "{line}");
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );
    // The connections that were taken are served.
    let mut served = 0;
    for (i, s) in flood.iter().enumerate() {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        if let Ok(Some(f)) = FrameReader::new(s).read_frame() {
            assert_eq!(f[..], (i as u32).to_be_bytes());
            served += 1;
        }
    }
    assert!(served > 100, "only {served} of the flood served");
    drop(flood);
    // Once the server has seen the flood go, a fresh client is served.
    let deadline = Instant::now() + TIMEOUT;
    while !serves(&server) {
        assert!(
            Instant::now() < deadline,
            "no fresh client served after the flood"
        );
        thread::sleep(Duration::from_millis(100));
    }
    server.interrupt();
    assert_eq!(server.wait_exit().0.code(), Some(0));
    let summary = server.line_with("shutdown:");
    let refused: u64 = summary
        .rsplit(", ")
        .next()
        .and_then(|s| s.strip_suffix(" refused"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(refused > 0, "{summary}");
}

/// Writes one 4-byte frame and flushes.
fn send_one(s: &TcpStream, i: u32) -> lenframe::Result<()> {
    let mut w = FrameWriter::new(s);
    w.write_frame(i.to_be_bytes())?;
    w.flush()
}

#[test]
fn nonsensical_flags_exit_2_with_one_line() {
    for args in [
        &["--max-conns", "0"][..],
        &["--conn-budget", "0"][..],
        &["--max-memory", "0"][..],
        &["--max-memory", "lots"][..],
    ] {
        let out = Command::new(example("echo_server"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
