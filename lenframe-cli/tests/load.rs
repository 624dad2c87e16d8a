//! `lenframe load` as a real process against `lenframe serve` and against
//! servers that misbehave: its summary lines (pipelined, ping-pong, JSON),
//! a failed check as one stderr line and a non-zero exit, usage errors,
//! a closed stdout.
//!
//! Every process started here is killed when its handle drops; every wait
//! has a timeout.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use common::{run, run_with_stdout_closed_after, usage_error, Server};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn pipelined_and_ping_pong_against_lenframe_serve() {
    let server = Server::start(&[]);
    let addr = server.addr.to_string();
    let out = run(&["load", &addr, "--conns", "3", "--frames", "20000"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("3 x 20000 frames of 16 B pipelined, every echo checked: "),
        "{text}"
    );
    assert!(text.trim_end().ends_with(" s"), "{text}");
    let out = run(&[
        "load",
        &addr,
        "--conns",
        "2",
        "--frames",
        "50",
        "--size",
        "64",
        "--pingpong",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("2 x 50 round trips of 64 B: ")
            && text.contains(" frames/s, p50 ")
            && text.contains(" us, p99 "),
        "{text}"
    );
    // Large frames, K suffix.
    let out = run(&[
        "load", &addr, "--conns", "2", "--frames", "20", "--size", "300K",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("2 x 20 frames of 307200 B pipelined"),
        "{text}"
    );
}

#[test]
fn json_has_the_figures() {
    let server = Server::start(&[]);
    let addr = server.addr.to_string();
    let out = run(&["load", &addr, "--conns", "2", "--frames", "100", "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["mode"], "pipelined");
    assert_eq!(v["conns"], 2);
    assert_eq!(v["frames"], 100);
    assert_eq!(v["size"], 16);
    assert_eq!(v["frames_echoed"], 200);
    assert!(v["frames_per_sec"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["p50_us"].is_null(), "{v}");
    let out = run(&[
        "load",
        &addr,
        "--conns",
        "1",
        "--frames",
        "30",
        "--pingpong",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["mode"], "pingpong");
    let (p50, p99) = (v["p50_us"].as_f64().unwrap(), v["p99_us"].as_f64().unwrap());
    assert!(0.0 < p50 && p50 <= p99, "{v}");
}

/// A server on a free port that answers each connection with `reply`
/// (given what the client sent so far) and then closes it.
fn misbehaving_server(reply: fn(&[u8]) -> Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            thread::spawn(move || {
                let mut buf = vec![0u8; 64];
                let n = s.read(&mut buf).unwrap_or(0);
                let _ = s.write_all(&reply(&buf[..n]));
            });
        }
    });
    addr
}

#[test]
fn a_wrong_echo_fails_with_one_stderr_line() {
    let flipped = misbehaving_server(|got| {
        let mut echo = got.to_vec();
        if let Some(last) = echo.last_mut() {
            *last ^= 1;
        }
        echo
    });
    let closes = misbehaving_server(|_| Vec::new());
    for (addr, pingpong, want) in [
        (&flipped, false, "echo differs from what was sent"),
        (&flipped, true, "echo 0 differs"),
        (&closes, false, "server closed after 0 of 20 bytes"),
        (&closes, true, "frame 0: "),
    ] {
        let mut args = vec!["load", addr.as_str(), "--conns", "1", "--frames", "1"];
        if pingpong {
            args.push("--pingpong");
        }
        let out = run(&args);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("lenframe: connection 0: "),
            "{args:?}: {err}"
        );
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn no_server_fails_with_one_stderr_line() {
    // A port that was free a moment ago.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    for addr in [addr.as_str(), "nowhere.invalid:9000"] {
        let out = run(&["load", addr, "--conns", "2", "--frames", "5"]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{addr}: {err}");
        assert_eq!(err.lines().count(), 1, "{addr}: {err}");
        assert!(err.starts_with("lenframe: "), "{err}");
    }
}

#[test]
fn nonsensical_flags_exit_2_with_one_line() {
    for args in [
        &["127.0.0.1:9"][..],
        &["127.0.0.1:9", "--conns", "2"],
        &["127.0.0.1:9", "--frames", "2"],
        &["127.0.0.1:9", "--pingpong"],
        &["--conns", "2", "--frames", "5"],
        &["127.0.0.1:9", "--conns", "0", "--frames", "5"],
        &["127.0.0.1:9", "--conns", "2", "--frames", "0"],
        &[
            "127.0.0.1:9",
            "--conns",
            "2",
            "--frames",
            "5",
            "--size",
            "9M",
        ],
        &[
            "127.0.0.1:9",
            "--conns",
            "2",
            "--frames",
            "5",
            "--size",
            "5G",
            "--max-frame",
            "6G",
        ],
        &[
            "127.0.0.1:9",
            "--conns",
            "2",
            "--frames",
            "5",
            "--size",
            "-1",
        ],
        &[
            "127.0.0.1:9",
            "--conns",
            "2",
            "--frames",
            "5",
            "--burst",
            "3",
        ],
        &[
            "127.0.0.1:9",
            "--conns",
            "2",
            "--frames",
            "5",
            "--header",
            "i",
        ],
    ] {
        let mut all = vec!["load"];
        all.extend_from_slice(args);
        let line = usage_error(&run(&all), &format!("{args:?}"));
        assert!(line.starts_with("lenframe: "), "{args:?}: {line}");
    }
    // Over 8 MiB takes --max-frame, and says so.
    let line = usage_error(
        &run(&[
            "load",
            "127.0.0.1:9",
            "--conns",
            "1",
            "--frames",
            "1",
            "--size",
            "9M",
        ]),
        "--size 9M",
    );
    assert!(line.contains("raise --max-frame"), "{line}");
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let server = Server::start(&[]);
    let addr = server.addr.to_string();
    let args = ["load", &addr, "--conns", "1", "--frames", "10"];
    // Closed before it prints.
    run_with_stdout_closed_after(&args, 0);
    // And as `| head -1` would: the line is read, the pipe closed.
    let first = run_with_stdout_closed_after(&args, 1);
    assert!(first[0].starts_with("1 x 10 frames"), "{}", first[0]);
}
