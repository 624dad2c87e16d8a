//! `lenframe serve` as a real process over loopback: its stdout lines,
//! clean shutdown on SIGINT (echoes in flight delivered) and SIGTERM (an
//! idle connection closed), a closed stdout, UDP echo, `--threads`,
//! hostile peers that hurt only themselves, the byte-order hint for a
//! Python `struct.pack('i')` peer, `--idle-timeout`, nonsensical flags.
//!
//! Limits and backpressure are in tests/serve_limits.rs. Every process
//! started here is killed when its handle drops; every wait has a timeout.

mod common;

use std::io::{BufRead, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{
    expect_echo, frames, lenframe, run, small_buffer_client, thread_count, usage_error, Server,
};
use lenframe::{Codec, FrameReader, FrameWriter, HeaderFormat};

#[test]
fn connect_and_disconnect_lines_and_the_summary() {
    let mut server = Server::start(&[]);
    let limits = server.line();
    assert!(
        limits.starts_with("limits: max ")
            && limits.contains(
                " connections, 8388608-byte frames, 8388608-byte budget per connection, "
            )
            && limits.ends_with(" bytes in all"),
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
    server.interrupt();
    assert_eq!(
        server.line(),
        "shutdown: 2 connections served, 10 frames (160 bytes) echoed, 0 refused"
    );
    let (status, _) = server.wait_exit();
    assert!(status.success(), "{status}");
}

#[test]
fn closed_stdout_does_not_stop_the_server() {
    let mut server = Server::start(&[]);
    // Close our end of its stdout: every later line meets a closed pipe.
    let (_, lines) = mpsc::channel();
    drop(std::mem::replace(&mut server.lines, lines));
    thread::sleep(Duration::from_millis(50));
    for _ in 0..20 {
        let client = server.connect();
        let wire = frames(4, 32);
        (&client).write_all(&wire).unwrap();
        expect_echo(&client, &wire);
    }
    server.interrupt();
    assert_eq!(server.wait_exit().0.code(), Some(0));
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn sigint_delivers_echoes_in_flight_then_exits() {
    let mut server = Server::start(&[]);
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

#[test]
fn sigterm_with_an_idle_connection_closes_it() {
    let mut server = Server::start(&[]);
    let client = server.connect();
    server.line_starting("connected ");
    server.terminate();
    let mut buf = [0u8; 1];
    assert_eq!((&client).read(&mut buf).unwrap(), 0, "closed by shutdown");
    let (status, _) = server.wait_exit();
    assert!(status.success(), "{status}");
    assert!(server.line_starting("disconnected").ends_with("(shutdown)"));
    assert!(server
        .line()
        .starts_with("shutdown: 1 connections served, 0 frames"));
}

#[test]
fn udp_echo_on_the_same_port() {
    let server = Server::start(&[]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 70_000];
    for size in [0usize, 1, 1400, 65_507] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        sock.send_to(&payload, server.addr).unwrap();
        let (n, from) = sock.recv_from(&mut buf).expect("udp echo");
        assert_eq!(from, server.addr);
        assert_eq!(&buf[..n], &payload[..], "size {size}");
    }
}

#[test]
fn threads_sets_the_worker_count() {
    // Threads: main (accepting, UDP, signals), the log writer, the workers.
    for workers in [1usize, 3] {
        let server = Server::start(&["--threads", &workers.to_string()]);
        server.assert_serves();
        if let Some(n) = thread_count(server.child.id()) {
            assert_eq!(n, 2 + workers, "--threads {workers}");
        }
        // Many clients on few workers are all served.
        let clients: Vec<TcpStream> = (0..20).map(|_| server.connect()).collect();
        for (i, c) in clients.iter().enumerate() {
            let wire = frames(3, 10 + i);
            (&*c).write_all(&wire).unwrap();
            expect_echo(c, &wire);
        }
    }
}

#[test]
fn other_header_formats_are_echoed_in_kind() {
    // The largest frame is what the header can say, if less than 8 MiB.
    for (fmt, max) in [("i", 8388608), ("<H", 65535), (">Q", 8388608), ("b", 127)] {
        let server = Server::start(&["--header", fmt]);
        let limits = server.line();
        assert!(
            limits.contains(&format!(" {max}-byte frames")),
            "{fmt}: {limits}"
        );
        let codec: Codec = fmt.parse::<HeaderFormat>().map(Codec::new).unwrap();
        let s = server.connect();
        let mut w = codec.new_write(&s);
        let sizes = [0usize, 1, 100, 127];
        for size in sizes {
            w.write_frame(vec![size as u8; size]).unwrap();
        }
        w.flush().unwrap();
        let mut r = codec.new_read(&s);
        for size in sizes {
            assert_eq!(
                r.read_frame().unwrap().unwrap(),
                vec![size as u8; size],
                "{fmt}"
            );
        }
    }
}

#[test]
fn hostile_peers_hurt_only_themselves() {
    let server = Server::start(&["--header", "i", "--max-frame", "1000"]);
    let codec = Codec::new("i".parse::<HeaderFormat>().unwrap());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "oversize",
            1001i32.to_ne_bytes().to_vec(),
            "exceeds the maximum",
        ),
        (
            "negative",
            (-5i32).to_ne_bytes().to_vec(),
            "negative frame length -5",
        ),
        (
            "garbage",
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            "exceeds the maximum",
        ),
        (
            "eof mid-header",
            vec![1, 0],
            "inside a frame header: got 2 of 4",
        ),
        (
            "eof mid-payload",
            [10i32.to_ne_bytes().as_slice(), b"abc"].concat(),
            "got 3 of 10",
        ),
    ];
    for (name, bytes, message) in cases {
        let s = server.connect();
        let peer = s.local_addr().unwrap().to_string();
        (&s).write_all(&bytes).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let line = server.stderr_line(&peer);
        assert!(line.contains(message), "{name}: {line}");
        server.assert_serves_with(codec);
    }
    // Reset in the middle of a frame: unread echo data makes close() send RST.
    let s = server.connect();
    let peer = s.local_addr().unwrap().to_string();
    let mut wire = Vec::new();
    codec.encode_to_vec(b"echo me", &mut wire).unwrap();
    wire.extend_from_slice(&100i32.to_ne_bytes());
    wire.extend_from_slice(b"partial");
    (&s).write_all(&wire).unwrap();
    thread::sleep(Duration::from_millis(100));
    drop(s);
    server.stderr_line(&peer);
    server.assert_serves_with(codec);
    // Half a header, then a stall: the others are still served meanwhile.
    let stalled = server.connect();
    let stalled_peer = stalled.local_addr().unwrap().to_string();
    (&stalled).write_all(&[1, 0]).unwrap();
    server.assert_serves_with(codec);
    drop(stalled); // the stream ends inside a header: its line comes last
    server.stderr_line(&stalled_peer);
    // One stderr line per bad peer, nothing else.
    let stderr = server.stderr();
    assert_eq!(stderr.lines().count(), 7, "{stderr}");
}

#[test]
fn a_python_struct_pack_i_peer_gets_the_byte_order_hint() {
    let server = Server::start(&[]);
    let good = server.connect();
    // A Python struct.pack('i', 5) header: little-endian, read as !I it
    // is 83 886 080 bytes, over the 8 MiB limit.
    let bad = server.connect();
    (&bad).write_all(&5u32.to_le_bytes()).unwrap();
    (&bad).write_all(b"hello").unwrap();
    let mut buf = [0u8; 1];
    assert!(
        matches!((&bad).read(&mut buf), Ok(0) | Err(_)),
        "bad peer is closed"
    );
    let line = server.line_starting("disconnected");
    assert!(line.ends_with("(error, see stderr)"), "{line}");
    let wire = frames(3, 100);
    (&good).write_all(&wire).unwrap();
    expect_echo(&good, &wire);
    let stderr = server.stderr_with("--header i");
    let bad_addr = bad.local_addr().unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with(&format!("{bad_addr}: ")), "{stderr}");
    assert!(lines[0].contains("--header i"), "{stderr}");
    assert!(lines[0].contains("struct.pack('i')"), "{stderr}");
    // 9 MiB: too large, and 0x9000 little-endian is 36864: a hint is right.
    let s = server.connect();
    (&s).write_all(&[0, 0x90, 0, 0]).unwrap();
    let line = server.stderr_line(&s.local_addr().unwrap().to_string());
    assert!(line.contains("--header i"), "{line}");
    // Too large both ways: no hint.
    let s = server.connect();
    (&s).write_all(&[1, 0, 0, 1]).unwrap();
    let line = server.stderr_line(&s.local_addr().unwrap().to_string());
    assert!(!line.contains("--header"), "{line}");
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
fn a_real_python_peer_gets_the_hint() {
    if !common::have_python() {
        return;
    }
    let server = Server::start(&[]);
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PY_CLIENT, &server.addr.port().to_string()]);
    let out = common::run_with_timeout(cmd, b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = server.stderr_line("exceeds the maximum");
    assert!(line.contains("--header i"), "{line}");
    assert!(line.contains("struct.pack('i')"), "{line}");
}

#[test]
fn idle_timeout_closes_a_peer_stalled_mid_frame() {
    let server = Server::start(&["--idle-timeout", "0.3"]);
    let stalled = server.connect();
    let peer = stalled.local_addr().unwrap().to_string();
    (&stalled).write_all(&[0, 0]).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(
        (&stalled).read(&mut buf).unwrap_or(0),
        0,
        "stalled peer is closed"
    );
    assert_eq!(
        server.line_starting("disconnected"),
        format!("disconnected {peer}: 0 frames, 0 bytes echoed (idle timeout)")
    );
    let line = server.stderr_line(&peer);
    assert!(
        line.contains("stalled mid-frame for 0.3s, closing"),
        "{line}"
    );
    // A quiet peer between frames is not stalled: it stays.
    let quiet = server.connect();
    thread::sleep(Duration::from_millis(800));
    let wire = frames(2, 5);
    (&quiet).write_all(&wire).unwrap();
    expect_echo(&quiet, &wire);
    server.assert_serves();
}

#[test]
fn restart_on_the_same_port_right_away() {
    let first = Server::start(&[]);
    let addr = first.addr.to_string();
    // A connection still open when the server goes: the server's side
    // closes first, so its port is left in FIN_WAIT/TIME_WAIT, which only
    // SO_REUSEADDR lets the next server bind past.
    let open = first.connect();
    first.assert_serves();
    drop(first);
    let mut buf = [0u8; 1];
    assert_eq!((&open).read(&mut buf).unwrap_or(0), 0, "the server closed");
    let mut cmd = common::lenframe();
    cmd.args(["serve", "--addr", &addr]);
    let second = Server::spawn(cmd);
    assert_eq!(second.addr.to_string(), addr);
    second.assert_serves();
    drop(open);
}

#[test]
fn an_address_in_use_fails_with_one_line() {
    let first = Server::start(&[]);
    let addr = first.addr.to_string();
    let out = run(&["serve", "--addr", &addr]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("lenframe serve: cannot listen on {addr}: ")),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn nonsensical_flags_exit_2_with_one_line() {
    for args in [
        &["--max-conns", "0"][..],
        &["--conn-budget", "0"],
        &["--max-memory", "0"],
        &["--max-memory", "lots"],
        &["--max-frame", "8X"],
        &["--bogus"],
        &["--idle-timeout", "-1"],
        &["--idle-timeout", "0"],
        &["--idle-timeout", "1e300"],
        &["--threads", "0"],
        &["--header", "!x"],
        &["--addr"],
        &["extra"],
    ] {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        let line = usage_error(&run(&all), &format!("{args:?}"));
        assert!(line.starts_with("lenframe: "), "{args:?}: {line}");
        assert!(line.ends_with(" (try --help)"), "{args:?}: {line}");
    }
}

#[test]
fn idle_timeouts_close_each_stalled_peer_within_a_tenth_of_its_time() {
    // Stalls that start at staggered moments: a server that looks for them
    // only every quarter of the timeout closes some of them up to 0.5 s late.
    let server = Server::start(&["--idle-timeout", "2"]);
    let due = Duration::from_secs(2);
    let slack = due / 10 + Duration::from_millis(100);
    let lateness: Vec<Duration> = thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                thread::sleep(Duration::from_millis(60));
                let s = server.connect();
                scope.spawn(move || {
                    (&s).write_all(&[0, 0, 1]).unwrap();
                    let stalled = Instant::now();
                    let mut buf = [0u8; 1];
                    let n = (&s).read(&mut buf);
                    let took = stalled.elapsed();
                    assert!(matches!(n, Ok(0)), "stall {i}: {n:?} after {took:?}");
                    assert!(took >= due, "stall {i} closed early, after {took:?}");
                    took - due
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, late) in lateness.iter().enumerate() {
        assert!(
            *late <= slack,
            "stall {i} was closed {late:?} late (at most {slack:?}); all: {lateness:?}"
        );
    }
}

#[test]
fn json_lines_say_what_the_text_lines_say() {
    let mut child = lenframe()
        .args(["--json", "serve", "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = move || -> serde_json::Value {
        let line = lines.next().expect("a line").expect("utf-8");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    };
    let listening = next();
    assert_eq!(listening["event"], "listening", "{listening}");
    let addr: std::net::SocketAddr = listening["addr"].as_str().unwrap().parse().unwrap();
    let limits = next();
    assert_eq!(limits["event"], "limits");
    assert_eq!(limits["max_frame"], 8_388_608);
    let s = TcpStream::connect(addr).unwrap();
    let peer = s.local_addr().unwrap().to_string();
    let connected = next();
    assert_eq!(
        (&connected["event"], &connected["peer"]),
        (&"connected".into(), &peer.clone().into())
    );
    let wire = frames(3, 10);
    (&s).write_all(&wire).unwrap();
    expect_echo(&s, &wire);
    drop(s);
    let gone = next();
    assert_eq!(gone["event"], "disconnected");
    assert_eq!(gone["peer"], peer);
    assert_eq!(
        (gone["frames"].as_u64(), gone["bytes"].as_u64()),
        (Some(3), Some(30))
    );
    assert_eq!(gone["reason"], "peer closed");
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let summary = next();
    assert_eq!(summary["event"], "shutdown");
    assert_eq!(
        (
            summary["served"].as_u64(),
            summary["frames"].as_u64(),
            summary["bytes"].as_u64(),
            summary["refused"].as_u64()
        ),
        (Some(1), Some(3), Some(30), Some(0))
    );
    assert!(child.wait().unwrap().success());
}

/// Frames of every size from 0 to 200 KiB, pipelined by a client with
/// small socket buffers that reads its echoes in small, slow pieces: every
/// path of the server's echo (whole frames written from the read buffer,
/// frames split across reads, echoes kept pending and input read in
/// behind them, partial vectored writes) under one stream, checked byte
/// for byte.
#[test]
fn mixed_sizes_through_a_slow_small_reader_come_back_exactly() {
    let server = Server::start(&["--conn-budget", "256K"]);
    let s = small_buffer_client(server.addr);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut wire = Vec::new();
    while wire.len() < 12 << 20 {
        let size = match next() % 4 {
            0 => next() % 16,
            1 => next() % 1500,
            2 => next() % 70_000,
            _ => next() % 200_000,
        } as usize;
        wire.extend_from_slice(&(size as u32).to_be_bytes());
        let fill = next() as u8;
        wire.extend((0..size).map(|j| fill.wrapping_add(j as u8)));
    }
    thread::scope(|scope| {
        scope.spawn(|| (&s).write_all(&wire).unwrap());
        let mut got = Vec::with_capacity(wire.len());
        let mut buf = vec![0u8; 8192];
        let mut rounds = 0u32;
        while got.len() < wire.len() {
            let n = (&s).read(&mut buf[..1 + (next() % 8192) as usize]).unwrap();
            assert!(
                n > 0,
                "EOF after {} of {} bytes; stderr: {}",
                got.len(),
                wire.len(),
                server.stderr()
            );
            got.extend_from_slice(&buf[..n]);
            rounds += 1;
            if rounds % 64 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
        }
        let first_bad = got.iter().zip(&wire).position(|(a, b)| a != b);
        assert!(first_bad.is_none(), "echo differs at byte {first_bad:?}");
    });
}
