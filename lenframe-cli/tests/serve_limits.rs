//! `lenframe serve`'s limits as a real process over loopback: the
//! per-connection budget (served in full through small client buffers,
//! not read past it), `--max-memory` (reading pauses until memory frees;
//! a frame in progress is finished),
//! `--max-conns` and the open-file limit (refused politely, counted, never
//! fatal), a thousand stalled max-size headers (RSS stays bounded), and
//! a listen backlog that holds thousands of connections while the server
//! cannot accept, and 10 000 connections opened in a burst and open at
//! once (no more memory than the six-line tokio-util server).
//!
//! Every process started here is killed when its handle drops; every wait
//! has a timeout.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::{
    expect_echo, frames, open_file_limit, reference_server, rss_bytes, small_buffer_client,
    sysctl_max, write_until_blocked, Server, TIMEOUT,
};
use lenframe::{Codec, FrameReader, FrameWriter};

#[test]
fn the_budget_pipelined_before_reading_is_served_with_small_client_buffers() {
    let server = Server::start(&[]);
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
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut echoed = Vec::with_capacity(wire.len());
        (&s).read_to_end(&mut echoed).unwrap();
        assert!(echoed == wire, "{payload}-byte frames: echoes differ");
    }
}

#[test]
fn past_its_budget_a_connection_is_not_read_until_the_client_reads() {
    let budget = 1 << 20;
    let server = Server::start(&["--conn-budget", "1M"]);
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
    assert!(
        written < 64 << 20,
        "{written} bytes accepted without reading"
    );
    if let Some(rss) = rss_bytes(server.child.id()) {
        assert!(rss < 64 << 20, "server RSS {rss} while paused");
    }
    // Reading the echoes lets it go on; everything comes back.
    client.set_write_timeout(Some(TIMEOUT)).unwrap();
    thread::scope(|s| {
        s.spawn(|| (&client).write_all(&wire[written..]).unwrap());
        expect_echo(&client, &wire);
    });
}

#[test]
fn at_max_memory_the_holder_waits_and_the_others_are_served() {
    let server = Server::start(&["--max-memory", "1048576"]);
    // A sends 3 MiB of a 4 MiB frame: the server buffers them, over its
    // global budget of 1 MiB.
    let hog = small_buffer_client(server.addr);
    let big = frames(1, 4 << 20);
    let sent = write_until_blocked(&hog, &big[..3 << 20], Duration::from_millis(300));
    assert!(sent > 0);
    let noted = server.stderr_line("--max-memory");
    assert!(
        noted.contains("reading paused until memory frees"),
        "{noted}"
    );
    // B holds nothing: its frames are read and echoed all the same, while
    // A holds the memory.
    let other = small_buffer_client(server.addr);
    let wire = frames(100, 16);
    (&other).write_all(&wire).unwrap();
    expect_echo(&other, &wire);
    // Once A is gone, memory frees.
    drop(hog);
    server.assert_serves();
}

/// A connection paused at `--max-memory` (holding its share, its peer not
/// reading) reads on as soon as memory frees elsewhere, without an event
/// of its own.
#[test]
fn a_paused_connection_reads_on_when_another_frees_the_memory() {
    let server = Server::start(&[
        "--max-memory",
        "4M",
        "--conn-budget",
        "64M",
        "--threads",
        "1",
    ]);
    // Four connections, a share of 1 MiB each: two idle, a hog that holds
    // 6 MiB of an 8 MiB frame, and a client that pipelines without reading.
    let _idle: Vec<TcpStream> = (0..2).map(|_| server.connect()).collect();
    let hog = small_buffer_client(server.addr);
    let big = frames(1, 8 << 20);
    write_until_blocked(&hog, &big[..6 << 20], Duration::from_millis(300));
    server.stderr_line("--max-memory");
    let piper = small_buffer_client(server.addr);
    let wire = frames(4096, 16 << 10);
    let before = write_until_blocked(&piper, &wire, Duration::from_millis(500));
    // The hog goes: its 6 MiB free, and the piper may hold more.
    let gone = hog.local_addr().unwrap().to_string();
    drop(hog);
    server.line_with(&format!("disconnected {gone}"));
    let after = write_until_blocked(&piper, &wire[before..], Duration::from_secs(2));
    assert!(
        after >= 1 << 20,
        "only {after} more bytes were read once memory freed ({before} before)"
    );
}

/// Half the clients pipeline and never read; they fill `--max-memory`.
/// The clients that read their echoes are all served to the end.
#[test]
fn at_max_memory_clients_that_read_are_served_while_others_never_read() {
    let server = Server::start(&["--max-memory", "8M"]);
    let hogs: Vec<TcpStream> = (0..10).map(|_| server.connect()).collect();
    let flood = frames(1024, 64 << 10); // 64 MiB each, far past the memory
    thread::scope(|scope| {
        for hog in &hogs {
            let flood = &flood;
            scope.spawn(move || write_until_blocked(hog, flood, Duration::from_millis(500)));
        }
    });
    server.stderr_line("--max-memory");
    let readers: Vec<TcpStream> = (0..10).map(|_| server.connect()).collect();
    let wire = frames(2_000, 1024);
    let start = Instant::now();
    thread::scope(|scope| {
        for (i, reader) in readers.iter().enumerate() {
            let wire = &wire;
            scope.spawn(move || {
                reader
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                thread::scope(|inner| {
                    inner.spawn(|| (&*reader).write_all(wire).unwrap());
                    let mut got = vec![0u8; wire.len()];
                    if let Err(e) = (&*reader).read_exact(&mut got) {
                        panic!("reading client {i} was not served: {e}");
                    }
                    assert!(got == *wire, "reading client {i}: wrong echoes");
                });
            });
        }
    });
    eprintln!("10 reading clients served in {:?}", start.elapsed());
    drop(hogs);
    server.assert_serves();
}

#[test]
fn a_frame_larger_than_max_memory_is_still_echoed() {
    let server = Server::start(&["--max-memory", "1M"]);
    let client = small_buffer_client(server.addr);
    // 4 MiB in one frame, 3 frames: each passes the 1 MiB budget alone, and
    // is finished (not paused for good) because it is the frame in progress.
    let wire = frames(3, 4 << 20);
    thread::scope(|s| {
        s.spawn(|| (&client).write_all(&wire).unwrap());
        expect_echo(&client, &wire);
    });
    // Memory frees after it: a small client is served.
    server.assert_serves();
}

/// A client that pipelines and never reads, with a per-connection budget
/// far above `--max-memory`: the server stops reading it at the memory
/// limit (passed by one frame at most, the frame it finishes), not at the
/// connection's budget.
#[test]
fn max_memory_bounds_a_pipelining_client_under_a_larger_budget() {
    let server = Server::start(&[
        "--max-memory",
        "1M",
        "--conn-budget",
        "64M",
        "--threads",
        "1",
    ]);
    let before = rss_bytes(server.child.id()).expect("VmRSS from /proc");
    let greedy = small_buffer_client(server.addr);
    greedy
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let wire = frames(768, 64 * 1024); // 48 MiB
    let mut sent = 0;
    while sent < wire.len() {
        match (&greedy).write(&wire[sent..]) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    let grew = rss_bytes(server.child.id())
        .expect("VmRSS from /proc")
        .saturating_sub(before);
    assert!(
        grew < 8 << 20,
        "the server took {sent} bytes and grew by {grew} bytes under --max-memory 1M"
    );
    assert!(sent < 16 << 20, "the server took {sent} bytes");
    // The others are still served once the greedy client goes.
    drop(greedy);
    server.assert_serves();
}

/// At `--max-memory`, a peer that goes silent in the middle of a large
/// frame cannot keep the others from finishing theirs: after a second
/// without a byte it gives its turn away, and another frame in progress is
/// finished and echoed.
#[test]
fn a_silent_peer_mid_frame_does_not_hold_the_others_back() {
    let server = Server::start(&["--max-memory", "1M", "--threads", "1"]);
    // The other client's frame of 256 KiB: its first 64 KiB now.
    let other = small_buffer_client(server.addr);
    let wire = frames(1, 256 << 10);
    (&other).write_all(&wire[..64 << 10]).unwrap();
    thread::sleep(Duration::from_millis(200));
    // 3 MiB of a 4 MiB frame fill the memory, then silence (the
    // connection stays open).
    let silent = small_buffer_client(server.addr);
    silent
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let big = frames(1, 4 << 20);
    let mut sent = 0;
    while sent < 3 << 20 {
        match (&silent).write(&big[sent..3 << 20]) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    server.stderr_line("--max-memory");
    // The rest of the other frame: finished and echoed all the same.
    let start = Instant::now();
    thread::scope(|s| {
        s.spawn(|| (&other).write_all(&wire[64 << 10..]).unwrap());
        expect_echo(&other, &wire);
    });
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "echoed after {:?}",
        start.elapsed()
    );
    drop(silent);
}

#[test]
fn over_max_conns_is_refused_politely_with_one_line_and_counted() {
    let mut server = Server::start(&["--max-conns", "2"]);
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
        "the refused connection is closed"
    );
    let line = server.stderr_line(&peer);
    assert_eq!(
        line,
        format!("{peer}: refused: 2 connections open (--max-conns)")
    );
    // The two served go on being served.
    let wire = frames(2, 8);
    (&a).write_all(&wire).unwrap();
    expect_echo(&a, &wire);
    // A slot frees when one leaves.
    let b_peer = b.local_addr().unwrap().to_string();
    drop(b);
    server.line_with(&format!("disconnected {b_peer}"));
    assert!(server.serves(), "no slot freed");
    server.interrupt();
    let summary = server.line_starting("shutdown:");
    assert!(summary.ends_with(", 1 refused"), "{summary}");
    assert!(server.wait_exit().0.success());
    assert_eq!(server.stderr().lines().count(), 1, "{}", server.stderr());
}

#[test]
fn a_flood_under_a_low_open_file_limit_is_refused_not_fatal() {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -n 256 && exec "$0" serve --addr 127.0.0.1:0 --max-conns 100000"#)
        .arg(env!("CARGO_BIN_EXE_lenframe"));
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
    assert!(server.is_running(), "the server died");
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
    while !server.serves() {
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
fn a_thousand_stalled_max_size_headers_keep_rss_bounded() {
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
    let rss = rss_bytes(pid).expect("VmRSS from /proc");
    eprintln!(
        "lenframe serve RSS with {n} stalled max-size headers: {} MB",
        rss / 1_000_000
    );
    assert!(rss < 200_000_000, "RSS {rss}");
    drop(hostile);
}

/// The server asks for a backlog of 4096 (the kernel caps it at
/// `net.core.somaxconn`). Frozen, it accepts nothing: every connection
/// that completes its handshake waits in that queue, and one that does not
/// fit has its SYN dropped (its connect would wait a second for the retry).
/// A backlog of 128, the common default, fails here at the 130th
/// connection (index 129).
#[test]
fn the_listen_backlog_holds_thousands_while_the_server_cannot_accept() {
    let somaxconn = sysctl_max("/proc/sys/net/core/somaxconn");
    let n = 3000usize;
    let need = n as u64 + 200;
    let have = rlimit::increase_nofile_limit(need).unwrap_or(0);
    if somaxconn < 4096 || have < need {
        eprintln!(
            "SKIPPED: needs net.core.somaxconn >= 4096 (it is {somaxconn}) and \
             {need} descriptors (RLIMIT_NOFILE allows {have})"
        );
        return;
    }
    let server = Server::start(&[]);
    server.freeze();
    let wire = frames(1, 16);
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        // A dropped SYN is retried after a second; a loopback handshake the
        // kernel answers takes microseconds.
        let c = TcpStream::connect_timeout(&server.addr, Duration::from_millis(900))
            .unwrap_or_else(|e| {
                server.thaw();
                panic!("connection {i} of {n} while the server is frozen: {e}: the backlog is too short")
            });
        (&c).write_all(&wire).unwrap();
        conns.push(c);
    }
    server.thaw();
    for (i, c) in conns.iter().enumerate() {
        expect_first_echo(i, c, &wire);
    }
}

const MANY: usize = 10_000;

/// Reads the one echo of `wire` that connection `i` is owed.
fn expect_first_echo(i: usize, c: &TcpStream, wire: &[u8]) {
    c.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = vec![0u8; wire.len()];
    let mut r: &TcpStream = c;
    r.read_exact(&mut got)
        .unwrap_or_else(|e| panic!("connection {i}: {e}"));
    assert_eq!(got[..], wire[..], "connection {i}");
}

/// Opens MANY connections to `addr`, each echoing one 16-byte frame, all
/// open at once. A burst opens them all, then reads the echoes; `paced`
/// reads each echo before the next connection opens.
fn many_echoing_connections(addr: SocketAddr, paced: bool) -> Vec<TcpStream> {
    let wire = frames(1, 16);
    let mut conns = Vec::with_capacity(MANY);
    for i in 0..MANY {
        let c = TcpStream::connect_timeout(&addr, TIMEOUT)
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
        (&c).write_all(&wire).unwrap();
        if paced {
            expect_first_echo(i, &c, &wire);
        }
        conns.push(c);
    }
    if !paced {
        for (i, c) in conns.iter().enumerate() {
            expect_first_echo(i, c, &wire);
        }
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
    let reference = reference_server();
    let server = Server::start(&[]);
    let conns = many_echoing_connections(server.addr, false);
    let ours = rss_bytes(server.child.id()).expect("VmRSS from /proc");
    // All still served: a fresh echo on the first and the last.
    for c in [&conns[0], &conns[MANY - 1]] {
        let wire = frames(2, 5);
        let mut w: &TcpStream = c;
        w.write_all(&wire).unwrap();
        expect_echo(c, &wire);
    }
    // The server closes first: the TIME_WAIT states stay on its side, not
    // on 10 000 of this machine's ephemeral ports.
    drop(server);
    drop(conns);
    // The same load on the six-line tokio-util server.
    let mut cmd = Command::new(reference);
    cmd.args(["--addr", "127.0.0.1:0"]);
    let reference = Server::spawn(cmd);
    // Paced: the reference listens with a backlog of 128, which a burst
    // overflows on a busy 2-core machine, and each dropped SYN costs its
    // client a second (a minute in all). Its memory is what is compared.
    let conns = many_echoing_connections(reference.addr, true);
    let theirs = rss_bytes(reference.child.id()).expect("VmRSS from /proc");
    drop(reference);
    drop(conns);
    eprintln!(
        "{MANY} connections open: lenframe serve RSS {} MB, tokio_util_echo_server {} MB",
        ours >> 20,
        theirs >> 20
    );
    assert!(
        ours <= theirs,
        "lenframe serve holds more than the reference: {ours} > {theirs} bytes"
    );
}

/// A `--max-memory` so small that each connection's fair share is less
/// than the buffer an idle connection may keep: the empty buffers go back
/// when memory is full, so the connections that read their echoes all
/// finish (they stalled for good, holding nothing but empty buffers).
#[test]
fn at_a_tiny_max_memory_every_reading_client_finishes() {
    let server = Server::start(&["--max-memory", "64K", "--threads", "1"]);
    thread::scope(|scope| {
        for k in 0..20u64 {
            let addr = server.addr;
            scope.spawn(move || {
                let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (k + 1);
                let mut wire = Vec::new();
                for _ in 0..20 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let size = (seed % 100_000) as usize;
                    wire.extend_from_slice(&(size as u32).to_be_bytes());
                    wire.extend(std::iter::repeat_n(seed as u8, size));
                }
                let s = small_buffer_client(addr);
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                thread::scope(|inner| {
                    inner.spawn(|| {
                        (&s).write_all(&wire).unwrap();
                        s.shutdown(std::net::Shutdown::Write).unwrap();
                    });
                    let mut got = Vec::new();
                    if let Err(e) = (&s).read_to_end(&mut got) {
                        panic!(
                            "client {k}: {e} after {} of {} bytes",
                            got.len(),
                            wire.len()
                        );
                    }
                    assert!(got == wire, "client {k}: echoes differ");
                });
            });
        }
    });
    server.assert_serves();
}
