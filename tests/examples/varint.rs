//! `--header varint` and `--header varint-strict` (protobuf-delimited
//! streams) through the examples as real processes: `echo_client` against
//! `echo_server` (and the async servers of this build), frames built by
//! hand against `echo_server`, a hostile varint, and the client's one-line
//! diagnosis of an echo that is not a varint frame.
//!
//! Every process started here is killed when its handle drops; every wait
//! has a timeout.
#![cfg(feature = "std")]

use crate::common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::process::{Command, Output};
use std::thread;

use common::{example, run_with_timeout, ExampleServer, LoggedServer};
use lenframe::Codec;

const VARINTS: [&str; 2] = ["varint", "varint-strict"];

fn client(addr: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(example("echo_client"));
    cmd.args(["--addr", addr]).args(args);
    run_with_timeout(cmd, stdin)
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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

/// The async servers of this build, then `echo_server`.
fn servers() -> Vec<&'static str> {
    let mut names = vec!["echo_server"];
    if cfg!(feature = "tokio") {
        names.push("tokio_echo_server");
    }
    if cfg!(feature = "futures-io") {
        names.push("smol_echo_server");
    }
    names
}

#[test]
fn echo_client_and_the_servers_round_trip_varint_frames() {
    for name in servers() {
        for header in VARINTS {
            let server = ExampleServer::start(name, &["--header", header]);
            let addr = server.addr.to_string();
            // Headers of 1 (0, 100), 2 (300) and 3 bytes (200000).
            for (n, size) in [
                ("2000", "0"),
                ("2000", "100"),
                ("500", "300"),
                ("3", "200000"),
            ] {
                let out = client(
                    &addr,
                    &["--header", header, "--burst", n, "--size", size],
                    b"",
                );
                assert!(
                    out.status.success(),
                    "{name} {header} {size}: {}",
                    stderr_of(&out)
                );
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    format!("{n}/{n} frames echoed intact\n"),
                    "{name} {header} {size}"
                );
            }
            // Lines, one of them 200 bytes long (a 2-byte header).
            let long = "x".repeat(200);
            let input = format!("hello\n\n{long}\nlast");
            let out = client(&addr, &["--header", header], input.as_bytes());
            assert!(out.status.success(), "{name} {header}: {}", stderr_of(&out));
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("hello\n\n{long}\nlast\n"),
                "{name} {header}"
            );
        }
    }
}

#[test]
fn echo_server_echoes_hand_built_protobuf_delimited_frames() {
    for header in VARINTS {
        let server = ExampleServer::start("echo_server", &["--header", header]);
        let s = server.connect();
        let sizes = [0usize, 1, 127, 128, 300, 16_384, 70_000];
        let mut wire = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            wire.extend(leb128(size as u64));
            wire.extend((0..size).map(|j| (j as u8) ^ (i as u8)));
        }
        let mut reader = s.try_clone().unwrap();
        let expected = wire.clone();
        let echoes = thread::spawn(move || {
            let mut got = Vec::new();
            reader.read_to_end(&mut got).unwrap();
            got == expected
        });
        (&s).write_all(&wire).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        assert!(echoes.join().unwrap(), "{header}: the echoes differ");
    }
}

#[test]
fn a_hostile_varint_costs_only_its_own_connection() {
    let server = LoggedServer::start("echo_server", &["--header", "varint"]);
    let codec = Codec::from_format("varint").unwrap();
    let mut good = codec.new_framed(server.connect());
    good.send("before").unwrap();
    assert_eq!(good.recv().unwrap().as_deref(), Some(&b"before"[..]));
    let bytes = [0xffu8; 11];
    let s = server.connect();
    let peer = s.local_addr().unwrap().to_string();
    (&s).write_all(&bytes).unwrap();
    let line = server.stderr_line(&peer);
    let why = codec
        .new_read(&bytes[..])
        .read_frame()
        .unwrap_err()
        .to_string();
    assert!(why.contains("bad varint length header"), "{why}");
    assert_eq!(line, format!("{peer}: {why}"));
    assert_eq!(
        server.line_with(&format!("disconnected {peer}:")),
        format!("disconnected {peer}: 0 frames echoed (error, see stderr)")
    );
    good.send("after").unwrap();
    assert_eq!(good.recv().unwrap().as_deref(), Some(&b"after"[..]));
}

#[test]
fn an_echo_that_is_no_varint_frame_is_named() {
    const NOT_A_VARINT: [u8; 11] = [0xff; 11];
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let peer = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut first = [0u8; 1];
        s.read_exact(&mut first).unwrap();
        s.write_all(&NOT_A_VARINT).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let _ = s.read_to_end(&mut Vec::new());
    });
    let why = Codec::from_format("varint")
        .unwrap()
        .new_read(&NOT_A_VARINT[..])
        .read_frame()
        .unwrap_err()
        .to_string();
    let out = client(&addr, &["--header", "varint", "--burst", "3"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        format!("echo_client: echo 1 is not a `varint` frame: {why}\n")
    );
    peer.join().unwrap();
}

#[test]
fn a_varint_client_against_a_fixed_header_server_is_told_so() {
    let server = ExampleServer::start("echo_server", &[]);
    let out = client(
        &server.addr.to_string(),
        &["--header", "varint", "--burst", "10", "--size", "300"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "echo_client: the server closed the connection after 0/10 echoes: it may expect \
         another header format (this client sends `varint`; give --header the server's)\n"
    );
}

#[test]
fn every_header_flag_names_varint() {
    for name in servers() {
        let mut cmd = Command::new(example(name));
        cmd.arg("--help");
        let out = run_with_timeout(cmd, b"");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("varint (protobuf-delimited"),
            "{name}: {text}"
        );
    }
    let out = client("127.0.0.1:9", &["--help"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("varint (protobuf-delimited"), "{text}");
}
