//! `--header varint` and `--header varint-strict` (protobuf-delimited
//! streams: an unsigned LEB128 length, 1 to 10 bytes, before each
//! payload) through `lenframe serve` and `lenframe load` as real
//! processes. The frames are built by hand here, not by lenframe, so the
//! server is checked against the wire format itself: echoes byte-exact
//! whatever the reads cut (inside a header, inside a payload, many frames
//! per read), the byte counts of its stdout lines, a hostile header that
//! costs its own connection only, and no byte-order hint (a varint has no
//! byte order).
//!
//! Every process started here is killed when its handle drops; every wait
//! has a timeout.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

use common::{run, Server};
use lenframe::Codec;

/// Payload sizes whose headers take 1, 2, 3 and 4 bytes, each side of the
/// boundaries.
const SIZES: [usize; 8] = [0, 1, 127, 128, 300, 16_384, 70_000, 1 << 20];

/// The shortest unsigned LEB128 of `n`, as protobuf writes it.
fn leb128(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

#[test]
fn leb128_is_protobufs() {
    assert_eq!(leb128(0), [0x00]);
    assert_eq!(leb128(127), [0x7f]);
    assert_eq!(leb128(128), [0x80, 0x01]);
    assert_eq!(leb128(300), [0xac, 0x02]);
    assert_eq!(leb128(16_384), [0x80, 0x80, 0x01]);
    assert_eq!(leb128(1 << 20), [0x80, 0x80, 0x40]);
}

/// Payload `i` of `size` bytes: differs from frame to frame.
fn payload(i: usize, size: usize) -> Vec<u8> {
    (0..size)
        .map(|j| (j as u8).wrapping_mul(31) ^ (i as u8).wrapping_mul(7))
        .collect()
}

/// One protobuf-delimited frame: its header and its payload, apart.
fn frame(i: usize, size: usize) -> (Vec<u8>, Vec<u8>) {
    (leb128(size as u64), payload(i, size))
}

/// Reads exactly `expected.len()` bytes on a thread of its own (the echoes
/// of 1 MiB frames must be read while more is written) and checks them.
fn check_echoes(s: &TcpStream, expected: Vec<u8>) -> thread::JoinHandle<()> {
    let mut s = s.try_clone().unwrap();
    thread::spawn(move || {
        let mut got = vec![0u8; expected.len()];
        s.read_exact(&mut got).expect("the echoes");
        let first = got.iter().zip(&expected).position(|(a, b)| a != b);
        assert!(first.is_none(), "echo differs at byte {first:?}");
    })
}

/// Sends every size as a frame, in pieces: each header cut after its
/// first byte and each payload in the middle, with a pause at each cut
/// (so the server's reads end there), then all of them again back to back
/// in one write (many frames per read). Checks the echo byte for byte
/// and the server's `disconnected` line (frames, payload bytes).
fn echo_everything(server: &Server) {
    let s = server.connect();
    s.set_nodelay(true).unwrap();
    let peer = s.local_addr().unwrap().to_string();
    assert_eq!(server.line_with(&peer), format!("connected {peer}"));
    let frames: Vec<_> = SIZES
        .iter()
        .enumerate()
        .map(|(i, &n)| frame(i, n))
        .collect();
    let once: Vec<u8> = frames
        .iter()
        .flat_map(|(h, p)| [&h[..], &p[..]].concat())
        .collect();
    let together = once.repeat(3);
    let reader = check_echoes(&s, [&once[..], &together[..]].concat());
    let mut w = &s;
    for (header, payload) in &frames {
        for piece in [&header[..1], &header[1..], &payload[..payload.len() / 2]] {
            w.write_all(piece).unwrap();
            thread::sleep(Duration::from_millis(3));
        }
        w.write_all(&payload[payload.len() / 2..]).unwrap();
    }
    w.write_all(&together).unwrap();
    reader.join().expect("every echo came back intact");
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    (&s).read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing after the echoes");
    let bytes: usize = SIZES.iter().sum::<usize>() * 4;
    assert_eq!(
        server.line_with(&format!("disconnected {peer}")),
        format!(
            "disconnected {peer}: {} frames, {bytes} bytes echoed (peer closed)",
            SIZES.len() * 4
        )
    );
}

#[test]
fn serve_varint_echoes_protobuf_delimited_frames_byte_exact() {
    for header in ["varint", "varint-strict"] {
        let server = Server::start(&["--header", header, "--max-frame", "2M"]);
        let limits = server.line();
        assert!(
            limits.contains(" 2097152-byte frames"),
            "{header}: {limits}"
        );
        echo_everything(&server);
        echo_everything(&server);
        server.assert_serves_with(Codec::from_format(header).unwrap());
        assert!(server.stderr().is_empty(), "{header}: {}", server.stderr());
    }
}

#[test]
fn serve_varint_echoes_a_non_minimal_header_as_it_came() {
    let server = Server::start(&["--header", "varint"]);
    let s = server.connect();
    let peer = s.local_addr().unwrap().to_string();
    // 0 in two bytes, 5 in three: protobuf's parsers take both.
    let wire = [
        &[0x80, 0x00][..],
        &[0x85, 0x80, 0x00],
        b"hello",
        &[0x01, b'!'],
    ]
    .concat();
    (&s).write_all(&wire).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut echo = Vec::new();
    (&s).read_to_end(&mut echo).unwrap();
    // A valid echo: the same payloads, in the same header bytes.
    assert_eq!(echo, wire);
    assert_eq!(
        server.line_with(&format!("disconnected {peer}")),
        format!("disconnected {peer}: 3 frames, 6 bytes echoed (peer closed)")
    );
    // varint-strict refuses them (a shorter encoding exists).
    let server = Server::start(&["--header", "varint-strict"]);
    let s = server.connect();
    let peer = s.local_addr().unwrap().to_string();
    (&s).write_all(&[0x85, 0x80, 0x00]).unwrap();
    let line = server.stderr_line(&peer);
    assert!(line.contains("bad varint length header"), "{line}");
    assert!(line.contains("not minimally encoded"), "{line}");
    server.assert_serves_with(Codec::from_format("varint-strict").unwrap());
}

#[test]
fn a_hostile_varint_costs_only_its_own_connection() {
    let server = Server::start(&["--header", "varint"]);
    let codec = Codec::from_format("varint").unwrap();
    let good = server.connect();
    let mut w = codec.new_write(&good);
    w.write_frame(b"before").unwrap();
    w.flush().unwrap();
    let mut r = codec.new_read(&good);
    assert_eq!(r.read_frame().unwrap().as_deref(), Some(&b"before"[..]));
    // Eleven bytes with the continuation bit set: no varint ends there.
    let bad = server.connect();
    let bad_peer = bad.local_addr().unwrap().to_string();
    (&bad).write_all(&[0xff; 11]).unwrap();
    let mut buf = [0u8; 1];
    assert!(
        matches!((&bad).read(&mut buf), Ok(0) | Err(_)),
        "the hostile peer is closed"
    );
    let line = server.stderr_line(&bad_peer);
    assert!(line.starts_with(&format!("{bad_peer}: ")), "{line}");
    assert!(line.contains("bad varint length header"), "{line}");
    assert!(line.contains("no end within 10 bytes"), "{line}");
    // A varint has no byte order: no hint about one.
    assert!(!line.contains("--header"), "{line}");
    assert!(!line.contains("endian"), "{line}");
    assert_eq!(
        server.line_with(&format!("disconnected {bad_peer}")),
        format!("disconnected {bad_peer}: 0 frames, 0 bytes echoed (error, see stderr)")
    );
    // The others are served, the one open before too.
    w.write_frame(b"after").unwrap();
    w.flush().unwrap();
    assert_eq!(r.read_frame().unwrap().as_deref(), Some(&b"after"[..]));
    server.assert_serves_with(codec);
    // Over the maximum (a 9 MiB length), and a stream that ends inside a
    // header: one line each, no hint.
    let s = server.connect();
    let peer = s.local_addr().unwrap().to_string();
    (&s).write_all(&leb128(9 << 20)).unwrap();
    let line = server.stderr_line(&peer);
    assert!(line.contains("exceeds the maximum"), "{line}");
    assert!(!line.contains("--header"), "{line}");
    let s = server.connect();
    let peer = s.local_addr().unwrap().to_string();
    (&s).write_all(&[0x80, 0x80]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let line = server.stderr_line(&peer);
    assert!(line.contains("header"), "{line}");
    assert!(!line.contains("--header"), "{line}");
    server.assert_serves_with(codec);
    assert_eq!(server.stderr().lines().count(), 3, "{}", server.stderr());
}

#[test]
fn a_varint_peer_stalled_mid_frame_gets_no_byte_order_hint() {
    let server = Server::start(&["--header", "varint", "--idle-timeout", "0.3"]);
    let s = server.connect();
    let peer = s.local_addr().unwrap().to_string();
    // 16 bytes announced, 12 sent: the first 10 bytes read big-endian as
    // a `Q` would be small, but a varint has no other byte order.
    (&s).write_all(&[&[16u8][..], &[0; 11]].concat()).unwrap();
    let line = server.stderr_line(&peer);
    assert!(line.contains("stalled mid-frame"), "{line}");
    assert!(!line.contains("--header"), "{line}");
    assert_eq!(
        server.line_with("disconnected"),
        format!("disconnected {peer}: 0 frames, 0 bytes echoed (idle timeout)")
    );
}

#[test]
fn load_varint_drives_serve_varint() {
    for header in ["varint", "varint-strict"] {
        let server = Server::start(&["--header", header]);
        let addr = server.addr.to_string();
        // 300-byte payloads: 2-byte headers.
        for extra in [&[][..], &["--pingpong"]] {
            let mut args = vec![
                "load", &addr, "--header", header, "--conns", "2", "--frames", "3000", "--size",
                "300",
            ];
            args.extend_from_slice(extra);
            let out = run(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{header} {extra:?}: {stderr}");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.starts_with("2 x 3000 "), "{header} {extra:?}: {text}");
            assert!(text.contains(" of 300 B"), "{header} {extra:?}: {text}");
        }
        let out = run(&[
            "--json", "load", &addr, "--header", header, "--conns", "1", "--frames", "50",
            "--size", "70000",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["frames_echoed"], 50, "{v}");
        assert_eq!(v["header"], header, "{v}");
        // Every frame went through the server as one varint frame.
        let mut total = 0;
        for _ in 0..5 {
            let line = server.line_starting("disconnected");
            let frames: u64 = line
                .split(": ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            total += frames;
        }
        assert_eq!(total, 2 * 3000 * 2 + 50, "{header}");
    }
}

#[test]
fn load_varint_against_a_fixed_header_server_fails_with_one_line() {
    // A `!I` server reads the varint bytes as a 4-byte length: far over
    // its maximum, so it closes, and load says the server closed.
    let server = Server::start(&[]);
    let out = run(&[
        "load",
        &server.addr.to_string(),
        "--header",
        "varint",
        "--conns",
        "1",
        "--frames",
        "10",
        "--size",
        "300",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
