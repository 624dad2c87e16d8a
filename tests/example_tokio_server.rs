//! `tokio_echo_server` (and `echo_bench`) as real processes: connect and
//! disconnect lines, a clean SIGINT with echoes in flight, a client that
//! pipelines 8 MiB before reading through 64 KiB socket buffers, the
//! per-connection budget, hostile peers, 10 000 connections at once.
//!
//! Every process started here is killed when its handle drops; every wait
//! has a timeout.
// The example needs feature `tokio`.
#![cfg(feature = "tokio")]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{example, ExampleServer, LoggedServer, PROCESS_TIMEOUT as TIMEOUT};

/// A running tokio_echo_server whose stdout lines and stderr are kept.
type Server = LoggedServer;

fn start(args: &[&str]) -> Server {
    Server::start("tokio_echo_server", args)
}

/// `n` frames of `size` bytes (`!I`), frame `i` stamped with `i`.
fn frames(n: usize, size: usize) -> Vec<u8> {
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

/// The last number of a /proc/sys file (the maximum of tcp_rmem or
/// tcp_wmem).
fn sysctl_max(path: &str) -> usize {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.split_whitespace().last()?.parse().ok())
        .unwrap_or(8 << 20)
}

/// A client socket with 64 KiB kernel buffers each way, so the kernel
/// cannot hold a large pipelined burst for the server.
fn small_buffer_client(addr: SocketAddr) -> TcpStream {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// Reads exactly `expected.len()` bytes and compares them.
fn expect_echo(mut stream: &TcpStream, expected: &[u8]) {
    let mut got = vec![0u8; expected.len()];
    stream.read_exact(&mut got).expect("echoes");
    assert!(got == expected, "echo differs from what was sent");
}

#[test]
fn connect_and_disconnect_lines_and_the_summary() {
    let mut server = start(&[]);
    let limits = server.line();
    assert!(
        limits.starts_with("limits: max ")
            && limits.contains(
                " connections, 8388608-byte frames, 8388608-byte budget per connection, "
            )
            && limits.ends_with(" bytes in all"),
        "{limits}"
    );
    let client = server.connect();
    let me = client.local_addr().unwrap();
    assert_eq!(server.line(), format!("connected {me}"));
    let wire = frames(10, 16);
    (&client).write_all(&wire).unwrap();
    expect_echo(&client, &wire);
    drop(client);
    assert_eq!(
        server.line(),
        format!("disconnected {me}: 10 frames, 160 bytes echoed (peer closed)")
    );
    server.interrupt();
    assert_eq!(
        server.line(),
        "shutdown: 1 connections served, 10 frames (160 bytes) echoed, 0 refused"
    );
    let (status, _) = server.wait_exit();
    assert!(status.success(), "{status}");
}

#[test]
fn sigint_delivers_the_echoes_in_flight_then_exits_0() {
    let mut server = start(&[]);
    let client = small_buffer_client(server.addr);
    let me = client.local_addr().unwrap();
    server.line_starting("connected ");
    // 100 000 frames (2 MB) pipelined without reading: the server reads
    // them all (its budget is 8 MiB) but can deliver only what the socket
    // buffers hold until the client reads.
    let wire = frames(100_000, 16);
    (&client).write_all(&wire).unwrap();
    // Let the last bytes reach the server: they are "in flight" once it
    // has them, whether read already or still in its socket buffer.
    thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    server.interrupt();
    expect_echo(&client, &wire);
    let mut rest = [0u8; 1];
    assert_eq!(
        (&client).read(&mut rest).unwrap(),
        0,
        "server closes after the last echo"
    );
    let (status, _) = server.wait_exit();
    let took = sent.elapsed();
    assert!(status.success(), "{status}; stderr: {}", server.stderr());
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    assert_eq!(
        server.line_starting("disconnected"),
        format!("disconnected {me}: 100000 frames, 1600000 bytes echoed (shutdown)")
    );
    assert_eq!(
        server.line(),
        "shutdown: 1 connections served, 100000 frames (1600000 bytes) echoed, 0 refused"
    );
}

#[test]
fn sigterm_with_an_idle_connection_closes_it() {
    let mut server = start(&[]);
    let client = server.connect();
    server.line_starting("connected ");
    let ok = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let mut buf = [0u8; 1];
    assert_eq!((&client).read(&mut buf).unwrap(), 0, "closed by shutdown");
    let (status, _) = server.wait_exit();
    assert!(status.success());
    assert!(server.line_starting("disconnected").ends_with("(shutdown)"));
    assert!(server
        .line()
        .starts_with("shutdown: 1 connections served, 0 frames"));
}

#[test]
fn pipelining_8_mib_before_reading_through_64k_socket_buffers_is_served() {
    let server = ExampleServer::start("tokio_echo_server", &[]);
    let client = small_buffer_client(server.addr);
    // 512 frames of 16 380 bytes + header: 8 MiB, all written before a
    // byte is read. The write only completes if the server keeps reading
    // while its own writes are blocked.
    let wire = frames(512, 16_380);
    assert_eq!(wire.len(), 8 << 20);
    (&client).write_all(&wire).expect("server kept reading");
    expect_echo(&client, &wire);
}

#[test]
fn past_its_budget_a_connection_is_not_read_until_the_client_reads() {
    let budget = 1 << 20;
    let server = ExampleServer::start("tokio_echo_server", &["--conn-budget", &budget.to_string()]);
    let client = small_buffer_client(server.addr);
    client
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // What the kernel may hold besides the server's budget: the server's
    // receive buffer (autotuned up to tcp_rmem's max), its send buffer, the
    // client's two 64 KiB buffers, and a read's worth of slack.
    let kernel = sysctl_max("/proc/sys/net/ipv4/tcp_rmem")
        + sysctl_max("/proc/sys/net/ipv4/tcp_wmem")
        + (2 << 20);
    // Never reading, the client tries to write 16 MiB more than all that:
    // the writes must block before.
    let wire = frames((budget + kernel + (16 << 20)) / 16_384 + 1, 16_380);
    let mut written = 0;
    while written < wire.len() {
        match (&client).write(&wire[written..(written + 65536).min(wire.len())]) {
            Ok(n) => written += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    assert!(
        written < budget + kernel,
        "the server kept reading past its {budget}-byte budget: it took {written} of {} bytes",
        wire.len()
    );
    // Reading the echoes lets it go on; everything comes back.
    client.set_write_timeout(Some(TIMEOUT)).unwrap();
    thread::scope(|s| {
        s.spawn(|| (&client).write_all(&wire[written..]).unwrap());
        expect_echo(&client, &wire);
    });
}

#[test]
fn at_max_memory_reading_stops_until_memory_frees() {
    let server = ExampleServer::start("tokio_echo_server", &["--max-memory", "1048576"]);
    // A sends what it can of a 4 MiB frame: the server reserves the
    // frame's buffer, over its global budget of 1 MiB, then stops reading.
    let hog = small_buffer_client(server.addr);
    hog.set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let big = frames(1, 4 << 20);
    let mut sent = 0;
    while sent < 3 << 20 {
        match (&hog).write(&big[sent..3 << 20]) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    assert!(sent > 0);
    // B's frames are not read while memory is full...
    let other = small_buffer_client(server.addr);
    let wire = frames(100, 16);
    (&other).write_all(&wire).unwrap();
    other
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 1];
    let early = (&other).read(&mut buf);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "echoed while memory was full: {early:?}"
    );
    // ...and are once A's buffer is freed.
    drop(hog);
    other.set_read_timeout(Some(TIMEOUT)).unwrap();
    expect_echo(&other, &wire);
}

#[test]
fn a_hostile_peer_gets_one_stderr_line_and_others_are_served() {
    let server = start(&[]);
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
}

#[test]
fn idle_timeout_closes_a_peer_stalled_mid_frame() {
    let server = start(&["--idle-timeout", "0.3"]);
    let stalled = server.connect();
    (&stalled).write_all(&[0, 0]).unwrap();
    let mut buf = [0u8; 1];
    assert!(matches!((&stalled).read(&mut buf), Ok(0) | Err(_)));
    assert!(server
        .line_starting("disconnected")
        .ends_with("(idle timeout)"));
    let stderr = server.stderr_with("stalled");
    assert!(
        stderr.contains("stalled mid-frame for 0.3s, closing"),
        "{stderr}"
    );
}

#[test]
fn over_max_conns_is_refused_with_one_line_and_counted() {
    let mut server = start(&["--max-conns", "1"]);
    let first = server.connect();
    server.line_starting("connected ");
    let second = server.connect();
    let mut buf = [0u8; 1];
    assert!(
        matches!((&second).read(&mut buf), Ok(0) | Err(_)),
        "refused is closed"
    );
    let wire = frames(2, 8);
    (&first).write_all(&wire).unwrap();
    expect_echo(&first, &wire);
    let stderr = server.stderr_with("refused");
    assert!(
        stderr.contains(": refused: 1 connections open (--max-conns)"),
        "{stderr}"
    );
    server.interrupt();
    assert!(server.line_starting("shutdown:").ends_with(", 1 refused"));
    assert!(server.wait_exit().0.success());
}

#[test]
fn a_closed_stdout_does_not_stop_the_server() {
    // ExampleServer closes the server's stdout after the first line.
    let server = ExampleServer::start("tokio_echo_server", &[]);
    for _ in 0..20 {
        let client = TcpStream::connect(server.addr).unwrap();
        client.set_read_timeout(Some(TIMEOUT)).unwrap();
        let wire = frames(4, 32);
        (&client).write_all(&wire).unwrap();
        expect_echo(&client, &wire);
    }
}

#[test]
fn udp_datagrams_are_echoed() {
    let server = ExampleServer::start("tokio_echo_server", &[]);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(TIMEOUT)).unwrap();
    udp.send_to(b"no frames here", server.addr).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = udp.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"no frames here"[..], server.addr));
}

#[test]
fn nonsensical_flags_exit_2_with_one_line_and_help_exits_0() {
    let run = |args: &[&str]| {
        Command::new(example("tokio_echo_server"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    for args in [
        &["--max-conns", "0"][..],
        &["--conn-budget", "0"],
        &["--max-memory", "lots"],
        &["--bogus"],
        &["--idle-timeout", "-1"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
    let help = run(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--conn-budget") && text.contains("--max-memory"),
        "{text}"
    );
}

/// VmRSS of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib * 1024
}

const MANY: usize = 10_000;

/// Opens MANY connections to `addr`, each echoing one 16-byte frame, all
/// open at once; returns them.
fn many_echoing_connections(addr: SocketAddr) -> Vec<TcpStream> {
    let wire = frames(1, 16);
    let mut conns = Vec::with_capacity(MANY);
    for i in 0..MANY {
        let c = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        (&c).write_all(&wire).unwrap();
        conns.push(c);
    }
    for (i, c) in conns.iter().enumerate() {
        c.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut got = [0u8; 20];
        let mut r: &TcpStream = c;
        r.read_exact(&mut got)
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(got[..], wire[..], "connection {i}");
    }
    conns
}

#[test]
fn ten_thousand_connections_open_at_once_are_all_echoed() {
    // This process holds MANY sockets, the server as many again.
    let need = MANY as u64 + 200;
    let have = rlimit::increase_nofile_limit(need).unwrap_or(0);
    if have < need {
        eprintln!(
            "SKIPPED: RLIMIT_NOFILE hard limit allows {have} descriptors, {need} needed \
             (raise it with ulimit -Hn)"
        );
        return;
    }
    let server = start(&[]);
    let conns = many_echoing_connections(server.addr);
    let ours = rss(server.child.id());
    // All still served: a fresh echo on the first and the last.
    for c in [&conns[0], &conns[MANY - 1]] {
        let wire = frames(2, 5);
        let mut w: &TcpStream = c;
        w.write_all(&wire).unwrap();
        expect_echo(c, &wire);
    }
    drop(conns);
    drop(server);
    // The same load on the six-line tokio-util server.
    let reference = Server::start("tokio_util_echo_server", &[]);
    let conns = many_echoing_connections(reference.addr);
    let theirs = rss(reference.child.id());
    drop(conns);
    eprintln!(
        "{MANY} connections open: tokio_echo_server RSS {} MB, tokio_util_echo_server {} MB",
        ours >> 20,
        theirs >> 20
    );
    assert!(
        ours <= theirs,
        "tokio_echo_server holds more than the reference: {ours} > {theirs} bytes"
    );
}

#[test]
fn echo_bench_quick_prints_a_line_per_scenario_and_server() {
    let out = Command::new(example("echo_bench"))
        .args(["--quick"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["echo_server", "tokio_echo_server", "tokio_util_echo_server"] {
        let rows = text
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("{name} ")))
            .count();
        assert_eq!(rows, 4, "{name}: {text}");
    }
    assert!(text.lines().all(|l| l.len() < 100), "{text}");
}
