//! The async echo servers as real processes: `tokio_echo_server` (feature
//! `tokio`) and `smol_echo_server` (feature `futures-io`) against the
//! `echo_client`, a Python peer written like the tutorials, a tokio-util
//! `LengthDelimitedCodec` client and hostile peers; `--max-conns`; 10,000
//! connections open at once.
//!
//! Every process started here is killed when its handle drops; every wait
//! has a timeout.
#![cfg(any(feature = "tokio", feature = "futures-io"))]

use crate::common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::time::Instant;

use common::{
    example, good_frames_before_a_bad_header_are_echoed, length_delimited_client,
    many_echoing_connections, python_peer_is_echoed, room_for_files, run_with_timeout,
    ExampleServer, LoggedServer,
};
use lenframe::{Codec, Framed};

/// The async servers of this build.
fn servers() -> Vec<&'static str> {
    let mut names = Vec::new();
    if cfg!(feature = "tokio") {
        names.push("tokio_echo_server");
    }
    if cfg!(feature = "futures-io") {
        names.push("smol_echo_server");
    }
    names
}

/// Asserts that the server closed `s` (the read sees the end or a reset).
fn assert_closed(s: &TcpStream) {
    let mut buf = [0u8; 1];
    match (&*s).read(&mut buf) {
        Ok(0) => {}
        Ok(_) => panic!("the server sent data instead of closing"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
}

#[test]
fn the_echo_client_bursts_through_both() {
    for name in servers() {
        for (fmt, n, size) in [
            ("!I", "100000", "16"),
            ("i", "3", "200000"),
            ("<H", "500", "0"),
        ] {
            let server = ExampleServer::start(name, &["--header", fmt]);
            let mut cmd = Command::new(example("echo_client"));
            cmd.args(["--addr", &server.addr.to_string(), "--header", fmt]);
            cmd.args(["--burst", n, "--size", size]);
            let out = run_with_timeout(cmd, b"");
            assert!(
                out.status.success(),
                "{name} {fmt}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("{n}/{n} frames echoed intact\n"),
                "{name} {fmt}"
            );
        }
    }
}

#[test]
fn python_tutorial_style_peer() {
    for name in servers() {
        for fmt in ["!I", "i", ">Q"] {
            let server = ExampleServer::start(name, &["--header", fmt]);
            if !python_peer_is_echoed(server.addr.port(), fmt) {
                return;
            }
        }
    }
}

#[test]
fn tokio_util_length_delimited_client() {
    let frames: Vec<Vec<u8>> = (0..300).map(|i| vec![i as u8; (i * 37) % 5000]).collect();
    for name in servers() {
        let server = ExampleServer::start(name, &[]);
        assert_eq!(
            length_delimited_client(server.addr, &frames),
            frames,
            "{name}"
        );
    }
}

#[test]
fn a_hostile_peer_gets_one_stderr_line_and_the_others_are_served() {
    let codec = Codec::builder().max_frame_len(100).build().unwrap();
    for name in servers() {
        let server = LoggedServer::start(name, &["--max-frame", "100"]);
        let good = server.connect();
        let mut good = Framed::new(&good);
        good.send("before").unwrap();
        assert_eq!(good.recv().unwrap().unwrap(), "before");
        let cases: [&[u8]; 4] = [
            // Python's struct.pack('i', 5) + b'hello': read as !I, 83886080.
            b"\x05\0\0\0hello",
            b"GET / HTTP/1.1\r\n\r\n",
            // One byte over --max-frame.
            &[&101u32.to_be_bytes()[..], &[b'x'; 101]].concat(),
            // A frame cut short.
            b"\0\0\0\x10only part",
        ];
        for (i, bytes) in cases.into_iter().enumerate() {
            let bad = server.connect();
            let peer = bad.local_addr().unwrap().to_string();
            (&bad).write_all(bytes).unwrap();
            bad.shutdown(Shutdown::Write).unwrap();
            // The library's own message, byte-order or protocol hint included.
            let why = codec.new_read(bytes).read_frame().unwrap_err().to_string();
            assert_eq!(
                server.stderr_line(&peer),
                format!("{peer}: {why}"),
                "{name} case {i}"
            );
            assert_closed(&bad);
            good.send("still here?").unwrap();
            assert_eq!(good.recv().unwrap().unwrap(), "still here?", "{name}");
        }
        assert_eq!(
            server.stderr().lines().count(),
            4,
            "{name}: {}",
            server.stderr()
        );
    }
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_over_max_conns_a_connection_is_refused_with_one_line() {
    let server = LoggedServer::start("tokio_echo_server", &["--max-conns", "1"]);
    let first = server.connect();
    let mut first = Framed::new(&first);
    first.send("one").unwrap();
    assert_eq!(first.recv().unwrap().unwrap(), "one");
    let second = server.connect();
    let peer = second.local_addr().unwrap().to_string();
    assert_closed(&second);
    assert_eq!(
        server.stderr_line(&peer),
        format!("{peer}: refused: 1 connections open (--max-conns)")
    );
    // The first is still served; once it closes, its place is free.
    first.send("two").unwrap();
    assert_eq!(first.recv().unwrap().unwrap(), "two");
    first.shutdown_write().unwrap();
    assert!(first.recv().unwrap().is_none());
    let start = Instant::now();
    loop {
        let mut third = Framed::new(server.connect());
        if third.send("three").is_ok() {
            if let Ok(Some(echo)) = third.recv() {
                assert_eq!(echo, "three");
                break;
            }
        }
        // The server may not have seen the first one go yet.
        assert!(
            start.elapsed() < common::PROCESS_TIMEOUT,
            "never served again"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn ten_thousand_connections_open_at_once() {
    const MANY: usize = 10_000;
    let Some(_room) = room_for_files(MANY as u64 + 200) else {
        return;
    };
    for name in servers() {
        let start = Instant::now();
        let server = LoggedServer::start(name, &[]);
        let conns = many_echoing_connections(server.addr, MANY);
        for c in [&conns[0], &conns[MANY - 1]] {
            let mut framed = Framed::new(c);
            framed.send("again").unwrap();
            assert_eq!(framed.recv().unwrap().unwrap(), "again", "{name}");
        }
        assert_eq!(server.stderr(), "", "{name}: no accept error, no refusal");
        eprintln!(
            "{name}: {MANY} connections open and echoed in {:.1}s",
            start.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn good_frames_before_a_bad_header_are_echoed_first() {
    for name in servers() {
        let server = ExampleServer::start(name, &[]);
        good_frames_before_a_bad_header_are_echoed(server.addr);
    }
}
