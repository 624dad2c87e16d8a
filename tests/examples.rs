//! The examples as real processes against real peers: the echo_client in
//! both modes, a Python `struct` peer written like the seeds, a tokio-util
//! `LengthDelimitedCodec` client, hostile peers, many concurrent clients.
//!
//! Every process started here is killed when its handle drops (also when a
//! test fails); every wait has a timeout.
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{example, run_with_timeout};
use lenframe::{Codec, FrameReader, FrameWriter, HeaderFormat};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A running echo_server, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut all = vec!["--addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Server::start_raw(&all)
    }

    fn start_raw(args: &[&str]) -> Server {
        let mut child = Command::new(example("echo_server"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn echo_server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut err_pipe = child.stderr.take().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut server = Server {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            stderr,
        };
        let line = rx
            .recv_timeout(TIMEOUT)
            .expect("no 'listening on' line in time");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line was {line:?}"));
        server.addr = addr.parse().expect("address in the listening line");
        server
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.addr, TIMEOUT).expect("connect");
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.set_write_timeout(Some(TIMEOUT)).unwrap();
        s
    }

    /// Waits until stderr contains `needle`.
    fn wait_stderr(&self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let text = self.stderr.lock().unwrap().clone();
            // Only whole lines count: the pipe may deliver half a line.
            let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
            if complete.contains(needle) {
                return complete.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "stderr never had {needle:?}; it has:\n{text}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// A fresh, well-behaved client is served.
    fn assert_serves(&self) {
        let s = self.connect();
        let mut w = FrameWriter::new(&s);
        w.write_frame(b"still here?").unwrap();
        w.flush().unwrap();
        let mut r = FrameReader::new(&s);
        assert_eq!(
            r.read_frame().unwrap().as_deref(),
            Some(&b"still here?"[..])
        );
        assert!(self.is_running());
    }

    fn is_running(&self) -> bool {
        // try_wait needs &mut; a still-running server has no exit status.
        let path = format!("/proc/{}/stat", self.child.id());
        std::fs::read_to_string(path)
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(server: &Server, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(example("echo_client"));
    cmd.arg("--addr").arg(server.addr.to_string()).args(args);
    run_with_timeout(cmd, stdin)
}

#[test]
fn burst_mode_against_server() {
    let server = Server::start(&[]);
    for (n, size) in [
        ("1000", "100"),
        ("20000", "16"),
        ("3", "200000"),
        ("10", "0"),
    ] {
        let out = client(&server, &["--burst", n, "--size", size], b"");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout.trim(), format!("{n}/{n} frames echoed intact"));
    }
}

#[test]
fn burst_mode_in_other_header_formats() {
    for fmt in ["i", "<H", ">Q"] {
        let server = Server::start(&["--header", fmt]);
        let out = client(&server, &["--header", fmt, "--burst", "500"], b"");
        assert!(
            out.status.success(),
            "{fmt}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "500/500 frames echoed intact"
        );
    }
}

#[test]
fn interactive_mode_lines_round_trip() {
    let server = Server::start(&[]);
    let input = "hello\n\n你好，世界\nlast line without newline";
    let out = client(&server, &[], input.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "hello\n\n你好，世界\nlast line without newline\n"
    );
}

#[test]
fn client_without_server_fails_cleanly() {
    let server = Server::start(&[]);
    let addr = server.addr.to_string();
    drop(server);
    let mut cmd = Command::new(example("echo_client"));
    cmd.args(["--addr", &addr, "--burst", "1"]);
    let out = run_with_timeout(cmd, b"");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn flags_help_and_bad_input() {
    for bin in ["echo_server", "echo_client"] {
        let mut cmd = Command::new(example(bin));
        cmd.arg("--help");
        let out = run_with_timeout(cmd, b"");
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("usage:"));
        for bad in [&["--nope"][..], &["--header", "!x"][..], &["--addr"][..]] {
            let mut cmd = Command::new(example(bin));
            cmd.args(bad);
            let out = run_with_timeout(cmd, b"");
            assert_eq!(out.status.code(), Some(2), "{bin} {bad:?}");
            assert_eq!(
                String::from_utf8_lossy(&out.stderr).lines().count(),
                1,
                "{bin} {bad:?}"
            );
        }
    }
}

#[test]
fn sticky_demo_shows_problem_and_cure() {
    let out = run_with_timeout(Command::new(example("sticky_demo")), b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
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

/// The seeds' peer: stdlib `socket` + `struct`, sticky or split sends.
const PY_PEER: &str = r#"
import socket, struct, sys
fmt, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
size = struct.calcsize(fmt)
msgs = [b'jason', b'', b'kevin' * 50, 'toney 你好'.encode('utf-8'), bytes(range(256)) * 4]
limit = 2 ** (8 * size - (1 if fmt[-1].islower() else 0)) - 1
msgs = [m[:limit] for m in msgs]
client = socket.socket()
client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
client.settimeout(20)
client.connect(('127.0.0.1', port))
wire = b''.join(struct.pack(fmt, len(m)) + m for m in msgs)
if mode == 'sticky':
    client.sendall(wire)
else:
    for i in range(0, len(wire), 3):
        client.sendall(wire[i:i + 3])
def recv_exact(n):
    data = b''
    while len(data) < n:
        chunk = client.recv(n - len(data))
        if not chunk:
            raise SystemExit('server closed early')
        data += chunk
    return data
for m in msgs:
    (n,) = struct.unpack(fmt, recv_exact(size))
    got = recv_exact(n)
    assert got == m, (got[:20], m[:20])
client.close()
print('ok', len(msgs))
"#;

fn have_python() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: python3 is not on PATH, so the Python peer tests cannot run");
    }
    ok
}

#[test]
fn python_seed_style_peer() {
    if !have_python() {
        return;
    }
    for fmt in ["!I", "i", "<H", ">Q"] {
        let server = Server::start(&["--header", fmt]);
        for mode in ["sticky", "split"] {
            let mut cmd = Command::new("python3");
            cmd.args(["-c", PY_PEER, fmt, &server.addr.port().to_string(), mode]);
            let out = run_with_timeout(cmd, b"");
            assert!(
                out.status.success(),
                "{fmt} {mode}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                "ok 5",
                "{fmt} {mode}"
            );
        }
    }
}

#[test]
fn tokio_util_length_delimited_client() {
    use bytes::{Bytes, BytesMut};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

    let server = Server::start(&[]);
    let addr = server.addr;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let frames: Vec<Vec<u8>> = (0..300).map(|i| vec![i as u8; (i * 37) % 5000]).collect();
    let got = rt.block_on(async {
        tokio::time::timeout(TIMEOUT, async {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut codec = LengthDelimitedCodec::new();
            let mut out = BytesMut::new();
            for f in &frames {
                codec.encode(Bytes::from(f.clone()), &mut out).unwrap();
            }
            stream.write_all(&out).await.unwrap();
            stream.shutdown().await.unwrap();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            loop {
                while let Some(frame) = codec.decode(&mut buf).unwrap() {
                    got.push(frame.to_vec());
                }
                if stream.read_buf(&mut buf).await.unwrap() == 0 {
                    assert!(codec.decode_eof(&mut buf).unwrap().is_none());
                    break;
                }
            }
            got
        })
        .await
        .expect("tokio client timed out")
    });
    assert_eq!(got, frames);
}

#[test]
fn half_close_still_gets_every_echo() {
    let server = Server::start(&[]);
    let s = server.connect();
    let mut w = FrameWriter::new(&s);
    for i in 0..2000u32 {
        w.write_frame(i.to_be_bytes()).unwrap();
    }
    w.flush().unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let got: Vec<u32> = FrameReader::new(&s)
        .map(|f| u32::from_be_bytes(f.unwrap()[..].try_into().unwrap()))
        .collect();
    assert_eq!(got, (0..2000).collect::<Vec<_>>());
}

#[test]
fn pipelined_client_that_reads_late_does_not_deadlock() {
    let server = Server::start(&[]);
    let s = server.connect();
    let n = 30_000u32;
    let payload = [7u8; 200];
    let mut w = FrameWriter::new(&s);
    for _ in 0..n {
        w.write_frame(payload).unwrap(); // 6 MB written before reading anything
    }
    w.flush().unwrap();
    let mut r = FrameReader::new(&s);
    for i in 0..n {
        let f = r
            .read_frame()
            .unwrap()
            .unwrap_or_else(|| panic!("eof at {i}"));
        assert_eq!(&f[..], &payload[..]);
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
        let text = server.wait_stderr(&peer);
        let line = text.lines().find(|l| l.contains(&peer)).unwrap();
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
    server.wait_stderr(&peer);
    server.assert_serves_with(codec);
    // Half a header, then a stall: the others are still served meanwhile.
    let stalled = server.connect();
    (&stalled).write_all(&[1, 0]).unwrap();
    server.assert_serves_with(codec);
    drop(stalled);
}

impl Server {
    fn assert_serves_with(&self, codec: Codec) {
        let s = self.connect();
        let mut w = codec.new_write(&s);
        w.write_frame(b"still here?").unwrap();
        w.flush().unwrap();
        let mut r = codec.new_read(&s);
        assert_eq!(
            r.read_frame().unwrap().as_deref(),
            Some(&b"still here?"[..])
        );
        assert!(self.is_running());
    }
}

#[test]
fn idle_timeout_closes_stalled_peer() {
    let server = Server::start(&["--idle-timeout", "0.3"]);
    let s = server.connect();
    let peer = s.local_addr().unwrap().to_string();
    (&s).write_all(&[0, 0]).unwrap();
    let line = server.wait_stderr(&peer);
    assert!(line.contains("stalled mid-frame"), "{line}");
    let mut buf = [0u8; 1];
    assert_eq!(
        (&s).read(&mut buf).unwrap_or(0),
        0,
        "stalled peer is closed"
    );
    server.assert_serves();
}

/// Soft limit on open files, from /proc (Linux); None elsewhere.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[test]
fn thousand_concurrent_clients() {
    let mut n = 1000;
    if let Some(limit) = open_file_limit() {
        // The server needs two descriptors per connection, this test one.
        let fit = limit.saturating_sub(64) / 2;
        if fit < n {
            eprintln!("open-file limit {limit}: testing {fit} concurrent clients, not {n}");
            n = fit;
        }
    }
    let server = Server::start(&[]);
    let clients: Vec<TcpStream> = (0..n).map(|_| server.connect()).collect();
    for (i, s) in clients.iter().enumerate() {
        let mut w = FrameWriter::new(s);
        w.write_frame(format!("client {i}").as_bytes()).unwrap();
        w.flush().unwrap();
    }
    for (i, s) in clients.iter().enumerate() {
        let mut r = FrameReader::new(s);
        let f = r.read_frame().unwrap().unwrap();
        assert_eq!(f, format!("client {i}").as_bytes());
    }
    server.assert_serves();
}

#[test]
fn restart_on_same_port_right_away() {
    let first = Server::start(&[]);
    let addr = first.addr.to_string();
    // Leave a connection behind so the port has TIME_WAIT state.
    first.assert_serves();
    drop(first);
    let second = Server::start_raw(&["--addr", &addr]);
    assert_eq!(second.addr.to_string(), addr);
    second.assert_serves();
}

#[test]
fn udp_echo_on_same_port() {
    let server = Server::start(&[]);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
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

/// Resident memory of a process, from /proc (Linux).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// Open file descriptors of a process, from /proc (Linux).
fn fd_count(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

#[test]
fn thousand_stalled_max_headers_keep_rss_bounded() {
    let mut n = 1000;
    if let Some(limit) = open_file_limit() {
        n = n.min(limit.saturating_sub(64) / 2);
    }
    let server = Server::start(&[]);
    let pid = server.child.id();
    let mut hostile = Vec::new();
    for _ in 0..n {
        let s = server.connect();
        // Declares the maximum (8 MiB), sends 10 bytes of it, then stalls.
        (&s).write_all(&[0, 0x80, 0, 0]).unwrap();
        (&s).write_all(&[7; 10]).unwrap();
        hostile.push(s);
    }
    server.assert_serves();
    thread::sleep(Duration::from_millis(300));
    server.assert_serves();
    if let Some(rss) = rss_bytes(pid) {
        eprintln!(
            "echo_server RSS with {n} stalled max-size headers: {} MB",
            rss / 1_000_000
        );
        assert!(rss < 200_000_000, "RSS {rss}");
    }
    drop(hostile);
}

#[test]
fn connections_over_the_limit_are_refused_politely() {
    let server = Server::start(&["--max-conns", "2"]);
    let a = server.connect();
    let b = server.connect();
    for s in [&a, &b] {
        let mut w = FrameWriter::new(s);
        w.write_frame(b"x").unwrap();
        w.flush().unwrap();
        assert_eq!(
            FrameReader::new(s).read_frame().unwrap().as_deref(),
            Some(&b"x"[..])
        );
    }
    let c = server.connect();
    let peer = c.local_addr().unwrap().to_string();
    let mut buf = [0u8; 1];
    assert_eq!(
        (&c).read(&mut buf).unwrap_or(0),
        0,
        "refused connection is closed"
    );
    let text = server.wait_stderr(&peer);
    assert!(text.contains("refused"), "{text}");
    drop((a, b));
}

/// Bounded soak of echo_server on loopback: well-behaved clients (burst,
/// pipelined, interactive-sized), hostile clients (oversize, negative,
/// garbage, reset mid-frame, stall) and reconnect churn, for SOAK_SECS
/// seconds (default 60). Run with
/// `cargo test --release --test examples -- --ignored soak --nocapture`.
#[test]
#[ignore = "soak: runs for SOAK_SECS (default 60) seconds"]
fn soak() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let server = Server::start(&["--header", "i", "--idle-timeout", "2"]);
    let pid = server.child.id();
    let codec = Codec::new("i".parse::<HeaderFormat>().unwrap());
    thread::sleep(Duration::from_millis(200));
    let fd_base = fd_count(pid).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let addr = server.addr;
    let good_frames = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let hostile_conns = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut workers = Vec::new();
    for kind in 0..6u32 {
        let (good, bad) = (Arc::clone(&good_frames), Arc::clone(&hostile_conns));
        workers.push(thread::spawn(move || {
            let mut round = 0u32;
            while Instant::now() < deadline {
                round += 1;
                let s = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
                s.set_read_timeout(Some(TIMEOUT)).unwrap();
                match kind {
                    // Well-behaved: burst, pipelined, interactive-sized.
                    0..=2 => {
                        let (count, size) = [(2000, 16), (200, 20_000), (20, 300)][kind as usize];
                        let mut w = codec.new_write(&s);
                        let mut r = codec.new_read(s.try_clone().unwrap());
                        let payload = move |i: usize| vec![(i as u32 ^ round) as u8; size];
                        if kind == 2 {
                            for i in 0..count {
                                w.write_frame(payload(i)).unwrap();
                                w.flush().unwrap();
                                assert_eq!(r.read_frame().unwrap().unwrap(), payload(i));
                            }
                        } else {
                            let reader = thread::spawn(move || {
                                for i in 0..count {
                                    assert_eq!(r.read_frame().unwrap().unwrap(), payload(i));
                                }
                            });
                            for i in 0..count {
                                w.write_frame(payload(i)).unwrap();
                            }
                            w.flush().unwrap();
                            reader.join().expect("echoes intact");
                        }
                        good.fetch_add(count as u64, Ordering::Relaxed);
                    }
                    // Hostile: oversize / negative / garbage, then EOF.
                    3 => {
                        let bytes: [&[u8]; 3] = [
                            &i32::MAX.to_ne_bytes(),
                            &(-7i32).to_ne_bytes(),
                            b"\xde\xad\xbe\xefjunk",
                        ];
                        let _ = (&s).write_all(bytes[round as usize % 3]);
                        let _ = (&s).read(&mut [0u8; 16]);
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                    // Hostile: reset mid-frame (unread echo data + close = RST).
                    4 => {
                        let mut wire = Vec::new();
                        codec.encode_to_vec(b"echo", &mut wire).unwrap();
                        wire.extend_from_slice(&100i32.to_ne_bytes());
                        let _ = (&s).write_all(&wire);
                        thread::sleep(Duration::from_millis(5));
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                    // Hostile: stall mid-header until the idle timeout.
                    _ => {
                        let _ = (&s).write_all(&[1, 0]);
                        let _ = (&s).read(&mut [0u8; 1]); // closed by the server
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let mut rss_samples = Vec::new();
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(500));
        if let Some(rss) = rss_bytes(pid) {
            rss_samples.push(rss);
        }
    }
    for w in workers {
        w.join().expect("a well-behaved client saw a bad echo");
    }
    assert!(server.is_running(), "server died");
    server.assert_serves_with(codec);
    // Let the server close what the clients left behind.
    let mut fds = usize::MAX;
    for _ in 0..50 {
        fds = fd_count(pid).unwrap_or(0);
        if fds <= fd_base {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let plateau = rss_samples.get(rss_samples.len() / 2).copied().unwrap_or(0);
    let end = rss_bytes(pid).unwrap_or(0);
    println!(
        "soak {secs}s: {} good frames echoed intact, {} hostile connections, 0 server crashes, \
         rss plateau {} KB end {} KB, fds {fds} (baseline {fd_base})",
        good_frames.load(Ordering::Relaxed),
        hostile_conns.load(Ordering::Relaxed),
        plateau / 1024,
        end / 1024
    );
    assert!(
        end as f64 <= plateau as f64 * 1.10 + 1_000_000.0,
        "rss grew: {plateau} -> {end}"
    );
    assert!(
        fds <= fd_base,
        "file descriptors leaked: {fd_base} -> {fds}"
    );
}

/// Starts `file_transfer recv DIR --once` on port 0; returns it and its port.
fn start_receiver(dir: &std::path::Path) -> (Child, u16) {
    let mut child = Command::new(example("file_transfer"))
        .args([
            "recv",
            dir.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
            "--once",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .expect("listening line");
    (child, port)
}

fn wait_child(mut child: Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("receiver did not exit");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lenframe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn file_transfer_moves_a_file_intact() {
    let src_dir = temp_dir("ft-src");
    let dst_dir = temp_dir("ft-dst");
    let content: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let src = src_dir.join("data.bin");
    std::fs::write(&src, &content).unwrap();
    let (receiver, port) = start_receiver(&dst_dir);
    let mut cmd = Command::new(example("file_transfer"));
    cmd.args([
        "send",
        src.to_str().unwrap(),
        "--addr",
        &format!("127.0.0.1:{port}"),
    ]);
    let out = run_with_timeout(cmd, b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wait_child(receiver).success());
    assert_eq!(std::fs::read(dst_dir.join("data.bin")).unwrap(), content);
    let _ = std::fs::remove_dir_all(&src_dir);
    let _ = std::fs::remove_dir_all(&dst_dir);
}

#[test]
fn file_transfer_refuses_path_traversal() {
    let root = temp_dir("ft-trav");
    let dst_dir = root.join("inbox");
    std::fs::create_dir_all(&dst_dir).unwrap();
    for evil in ["../escaped.txt", "/tmp/absolute.txt", "a/b.txt", "..", ""] {
        let (receiver, port) = start_receiver(&dst_dir);
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let codec = Codec::new("!Q".parse().unwrap());
        let mut w = codec.new_write(&s);
        let mut meta = 5u64.to_be_bytes().to_vec();
        meta.extend_from_slice(evil.as_bytes());
        w.write_frame(&meta).unwrap();
        w.write_frame(b"pwned").unwrap();
        w.flush().unwrap();
        let answer = codec.new_read(&s).read_frame().unwrap().unwrap();
        assert!(
            answer.starts_with(b"error: refusing file name"),
            "{evil:?}: {answer:?}"
        );
        assert!(!wait_child(receiver).success(), "{evil:?}");
    }
    assert!(!root.join("escaped.txt").exists());
    assert!(!std::path::Path::new("/tmp/absolute.txt").exists());
    let left: Vec<_> = std::fs::read_dir(&dst_dir).unwrap().collect();
    assert!(left.is_empty(), "receiver wrote {left:?}");
    let _ = std::fs::remove_dir_all(&root);
}
