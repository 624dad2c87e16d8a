//! `lenframe load` as a real process against `lenframe serve` and against
//! servers that misbehave: its summary lines (pipelined, ping-pong, JSON
//! Lines with the global `--json` before or after the command), latency
//! percentiles, a progress bar only on a terminal, a failed check as one
//! stderr line and a non-zero exit, usage errors, a closed stdout.
//!
//! Every process started here is killed when its handle drops; every wait
//! has a timeout.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::thread;

use common::{run, run_with_stdout_closed_after, run_with_timeout, usage_error, Server};

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A successful run's stdout: one JSON object on one line, nothing on
/// stderr (no progress bar: stderr is a pipe here).
fn json_line(out: &Output, what: &str) -> serde_json::Value {
    assert!(out.status.success(), "{what}: {}", stderr_of(out));
    assert!(out.stderr.is_empty(), "{what}: stderr {:?}", stderr_of(out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "{what}: {text}");
    assert!(text.ends_with('\n'), "{what}: {text:?}");
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"));
    assert!(v.is_object(), "{what}: {v}");
    v
}

/// The latency figures of a JSON line, checked: all there, above 1 us (no
/// round trip over TCP is faster), and in order. Returns them.
fn percentiles(v: &serde_json::Value) -> [f64; 5] {
    let keys = ["p50_us", "p90_us", "p99_us", "p999_us", "max_us"];
    let p = keys.map(|k| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("{k} is not a number: {v}"))
    });
    assert!(p[0] >= 1.0, "p50 under 1 us: {v}");
    assert!(p.windows(2).all(|w| w[0] <= w[1]), "not in order: {v}");
    p
}

/// The five figures of a summary line (`p50 X us, ..., max Y us`),
/// checked as [`percentiles`] checks them.
fn percentiles_of_line(line: &str) -> [f64; 5] {
    let p = ["p50 ", "p90 ", "p99 ", "p99.9 ", "max "].map(|label| {
        let at = line
            .find(&format!(" {label}"))
            .unwrap_or_else(|| panic!("no {label:?} in {line}"));
        let rest = &line[at + 1 + label.len()..];
        let number = rest.split(' ').next().unwrap();
        assert!(rest[number.len()..].starts_with(" us"), "{line}");
        number
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("{label:?} is not a number in {line}"))
    });
    assert!(p[0] >= 1.0, "p50 under 1 us: {line}");
    assert!(p.windows(2).all(|w| w[0] <= w[1]), "not in order: {line}");
    p
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
    assert!(text.contains(" frames/s in "), "{text}");
    assert!(text.contains(" s, latency p50 "), "{text}");
    percentiles_of_line(text.trim_end());
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
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
    percentiles_of_line(text.trim_end());
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
    let v = json_line(&out, "pipelined");
    assert_eq!(v["event"], "load");
    assert_eq!(v["mode"], "pipelined");
    assert_eq!(v["conns"], 2);
    assert_eq!(v["frames"], 100);
    assert_eq!(v["size"], 16);
    assert_eq!(v["frames_echoed"], 200);
    assert!(v["frames_per_sec"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["elapsed_secs"].as_f64().unwrap() > 0.0, "{v}");
    // 2 000 bytes per connection: one write, one sample, each.
    assert_eq!(v["latency_samples"], 2, "{v}");
    percentiles(&v);
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
    let v = json_line(&out, "pingpong");
    assert_eq!(v["event"], "load");
    assert_eq!(v["mode"], "pingpong");
    // Every round trip is a sample.
    assert_eq!(v["latency_samples"], 30, "{v}");
    percentiles(&v);
}

#[test]
fn pipelined_latency_has_a_sample_per_write_of_64k() {
    let server = Server::start(&[]);
    let addr = server.addr.to_string();
    // 20 000 frames of 20 bytes: 400 000 bytes per connection, 7 writes
    // of up to 64 KiB.
    let out = run(&["load", &addr, "--conns", "3", "--frames", "20000", "--json"]);
    let v = json_line(&out, "3 x 20000");
    assert_eq!(v["latency_samples"], 3 * 7, "{v}");
    percentiles(&v);
    // Frames larger than a write: 4 x (300 KiB + 4) bytes, 19 writes.
    let out = run(&[
        "load", &addr, "--conns", "1", "--frames", "4", "--size", "300K", "--json",
    ]);
    let v = json_line(&out, "300K");
    assert_eq!(v["latency_samples"], 19, "{v}");
    percentiles(&v);
}

#[test]
fn json_goes_before_or_after_the_command() {
    let server = Server::start(&[]);
    let addr = server.addr.to_string();
    let load = ["--conns", "2", "--frames", "50"];
    for (before, after) in [
        (&["--json", "load"][..], &[][..]),
        (&["load", "--json"], &[]),
        (&["load"], &["--json"]),
        (&["--json", "load"], &["--pingpong"]),
        (&["load", "--json"], &["--pingpong"]),
        (&["load"], &["--pingpong", "--json"]),
    ] {
        let mut args: Vec<&str> = before.to_vec();
        args.push(&addr);
        args.extend_from_slice(&load);
        args.extend_from_slice(after);
        let v = json_line(&run(&args), &format!("{args:?}"));
        assert_eq!(v["event"], "load", "{args:?}: {v}");
        assert_eq!(v["frames_echoed"], 100, "{args:?}: {v}");
        percentiles(&v);
    }
    // Without it: text, not JSON.
    let out = run(&["load", &addr, "--conns", "1", "--frames", "5"]);
    assert!(out.status.success());
    assert!(serde_json::from_slice::<serde_json::Value>(&out.stdout).is_err());
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let server = Server::start(&[]);
    let addr = server.addr.to_string();
    // Long enough for a bar to be drawn several times (ten a second) had
    // stderr been a terminal.
    for extra in [&[][..], &["--json"], &["--pingpong"]] {
        let frames = if extra == ["--pingpong"] {
            "5000"
        } else {
            "2000000"
        };
        let mut args = vec!["load", &addr, "--conns", "2", "--frames", frames];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
        assert!(out.stderr.is_empty(), "{args:?}: {:?}", stderr_of(&out));
        assert!(!out.stdout.contains(&b'\r'), "{args:?}");
        assert!(!out.stdout.contains(&0x1b), "{args:?}");
    }
}

/// On a terminal (a pseudo-terminal from util-linux `script`), the bar is
/// drawn on stderr, and cleared before the result line. Skipped where
/// `script` is missing.
#[test]
fn a_progress_bar_on_a_terminal() {
    let has_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("skipped: no util-linux `script` for a pseudo-terminal");
        return;
    }
    let server = Server::start(&[]);
    let bin = env!("CARGO_BIN_EXE_lenframe");
    let line = format!("{bin} load {} --conns 1 --frames 1000", server.addr);
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]);
    let out = run_with_timeout(cmd, b"");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" frames echoed, "), "no bar: {text:?}");
    // Cleared (erase line), then the result line.
    let cleared = text.rfind("\x1b[2K").expect("the bar is cleared");
    assert!(
        text[cleared..].contains("1 x 1000 frames of 16 B pipelined"),
        "{text:?}"
    );
    // Not a terminal, same run: no bar.
    let out = run(&[
        "load",
        &server.addr.to_string(),
        "--conns",
        "1",
        "--frames",
        "1000",
    ]);
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
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
            "x",
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
    // What the header cannot say, before connecting.
    let line = usage_error(
        &run(&[
            "load",
            "127.0.0.1:9",
            "--conns",
            "1",
            "--frames",
            "1",
            "--header",
            "<H",
            "--size",
            "65536",
        ]),
        "--header <H --size 65536",
    );
    assert!(
        line.contains("a <H header says at most 65535 bytes"),
        "{line}"
    );
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
