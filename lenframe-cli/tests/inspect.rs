//! `lenframe inspect` as a real process, on files the tests write and on
//! stdin: captures made with every header format the library takes (split
//! exactly with --header, found by --guess with their aliases), every kind
//! of break (byte order, HTTP, TLS, text, a cut header or payload,
//! oversize, a pcap file), hostile headers and large inputs in bounded
//! memory, the --guess ranking, JSON output, a closed stdout.

mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    frames, lenframe, rss_bytes, run_with_stdout_closed_after, run_with_timeout, usage_error,
    TIMEOUT,
};
use lenframe::{Codec, HeaderFormat};
use serde_json::Value;

/// Every way to write a header format the library takes.
fn all_formats() -> Vec<String> {
    let mut out = Vec::new();
    for order in ["", "@", "=", "<", ">", "!"] {
        for code in ["b", "B", "h", "H", "i", "I", "l", "L", "q", "Q"] {
            out.push(format!("{order}{code}"));
        }
    }
    out.push("varint".into());
    out.push("varint-strict".into());
    out
}

/// A file with `bytes` in a directory of its own under the temp dir
/// (unique per test process and call); removed with the directory when
/// the returned guard drops.
struct TempFile {
    dir: PathBuf,
    path: PathBuf,
}

impl TempFile {
    fn new(bytes: &[u8]) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lenframe-inspect-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("capture.bin");
        std::fs::write(&path, bytes).unwrap();
        TempFile { dir, path }
    }

    fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `lenframe ARGS` with `stdin`.
fn inspect(args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = lenframe();
    cmd.args(args);
    run_with_timeout(cmd, stdin)
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every stdout line as a JSON object with an "event" key.
fn objects(out: &Output) -> Vec<Value> {
    stdout_lines(out)
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert!(v["event"].is_string(), "no event: {l}");
            v
        })
        .collect()
}

/// Asserts exit 1 with exactly one stderr line, no panic; returns it.
fn one_error_line(out: &Output, what: &str) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: {err}");
    assert!(err.starts_with("lenframe: inspect: "), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    err.trim_end().to_owned()
}

/// The frame's text line, as --help documents it.
fn frame_line(offset: usize, header: &[u8], len: usize, preview: &str) -> String {
    let hex: Vec<String> = header.iter().map(|b| format!("{b:02x}")).collect();
    format!("{offset:>8}  {:<11}  {len:>8}  {preview}", hex.join(" "))
}

/// `payloads` framed with `codec`: the wire and each frame's (offset,
/// header bytes).
fn capture(codec: &Codec, payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<(usize, Vec<u8>)>) {
    let mut wire = Vec::new();
    let mut frames = Vec::new();
    for p in payloads {
        let at = wire.len();
        codec.encode_to_vec(p, &mut wire).unwrap();
        frames.push((at, wire[at..wire.len() - p.len()].to_vec()));
    }
    (wire, frames)
}

/// Payloads every format can carry: text, an empty one, 100 `a`s (over
/// the 32-byte preview), one byte; and 200 `z`s where the header holds
/// more than 127 (so a 1-byte or varint reading differs from wider ones).
fn payloads_for(format: &HeaderFormat) -> Vec<Vec<u8>> {
    let mut p = vec![
        b"hello".to_vec(),
        Vec::new(),
        vec![b'a'; 100],
        b"!".to_vec(),
    ];
    if format.max_value() > 255 {
        p.push(vec![b'z'; 200]);
    }
    p
}

fn preview_of(p: &[u8]) -> String {
    if p.len() > 32 {
        format!("\"{}\"...", String::from_utf8_lossy(&p[..32]))
    } else {
        format!("\"{}\"", String::from_utf8_lossy(p))
    }
}

#[test]
fn every_format_splits_its_own_capture_exactly() {
    for name in all_formats() {
        let format: HeaderFormat = name.parse().unwrap();
        let codec = Codec::new(format);
        let payloads = payloads_for(&format);
        let (wire, frames) = capture(&codec, &payloads);
        let file = TempFile::new(&wire);

        let out = inspect(&["inspect", "--header", &name, file.arg()], b"");
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(out.stderr.is_empty(), "{name}: {}", stderr(&out));
        let mut expected: Vec<String> = frames
            .iter()
            .zip(&payloads)
            .map(|((at, header), p)| frame_line(*at, header, p.len(), &preview_of(p)))
            .collect();
        let header_bytes: usize = frames.iter().map(|(_, h)| h.len()).sum();
        let payload_bytes: usize = payloads.iter().map(Vec::len).sum();
        let mut sizes: Vec<usize> = payloads.iter().map(Vec::len).collect();
        sizes.sort();
        expected.push(format!(
            "summary: {} frames, {} bytes ({header_bytes} header + {payload_bytes} payload), \
             payload sizes min 0 / median {} / max {}",
            payloads.len(),
            wire.len(),
            sizes[(sizes.len() - 1) / 2],
            sizes.last().unwrap()
        ));
        assert_eq!(stdout_lines(&out), expected, "{name}");

        // The same through stdin, as JSON.
        let out = inspect(&["--json", "inspect", "--header", &name, "-"], &wire);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let objs = objects(&out);
        assert_eq!(objs.len(), payloads.len() + 1, "{name}");
        for (o, ((at, header), p)) in objs.iter().zip(frames.iter().zip(&payloads)) {
            let hex: String = header.iter().map(|b| format!("{b:02x}")).collect();
            let shown = p.len().min(32);
            assert_eq!(o["event"], "frame", "{name}");
            assert_eq!(o["offset"], *at as u64, "{name}");
            assert_eq!(o["header"], hex, "{name}");
            assert_eq!(o["len"], p.len() as u64, "{name}");
            assert_eq!(o["shown"], shown as u64, "{name}");
            assert_eq!(
                o["text"].as_str(),
                std::str::from_utf8(&p[..shown]).ok(),
                "{name}"
            );
        }
        let summary = objs.last().unwrap();
        assert_eq!(summary["event"], "summary");
        assert_eq!(summary["complete"], true);
        assert_eq!(summary["frames"], payloads.len() as u64);
        assert_eq!(summary["bytes"], wire.len() as u64);
        assert_eq!(summary["input_bytes"], wire.len() as u64);
        assert_eq!(summary["header_bytes"], header_bytes as u64);
        assert_eq!(summary["min_len"], 0);

        // --guess finds it, with every format that writes the same bytes.
        let out = inspect(&["--json", "inspect", "--guess", file.arg()], b"");
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let guesses = objects(&out);
        let entry = guesses
            .iter()
            .find(|g| g["formats"].as_array().unwrap().iter().any(|f| f == &name))
            .unwrap_or_else(|| panic!("{name} not among {guesses:?}"));
        assert_eq!(entry["frames"], payloads.len() as u64, "{name}");
        assert_eq!(entry["rank"], 1, "{name}: {guesses:?}");
        for other in all_formats() {
            let other_codec = Codec::new(other.parse().unwrap());
            let same = payloads
                .iter()
                .try_fold(Vec::new(), |mut w, p| {
                    other_codec.encode_to_vec(p, &mut w).map(|_| w)
                })
                .is_ok_and(|w| w == wire);
            if same {
                assert!(
                    entry["formats"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|f| f == &other),
                    "{name}: {other} writes the same bytes but is not in {entry}"
                );
            }
        }
    }
}

#[test]
fn aliases_are_grouped_and_named_the_way_users_write_them() {
    let payloads = [b"hello".to_vec(), vec![b'x'; 300]];
    let (wire, _) = capture(&Codec::new("!I".parse().unwrap()), &payloads);
    let out = inspect(&["inspect", "--guess", "-"], &wire);
    let lines = stdout_lines(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        lines[1], "1. !I: 2 frames (same split: >I !i >i !L >L !l >l)",
        "{lines:?}"
    );
    let (wire, _) = capture(&Codec::new("<I".parse().unwrap()), &payloads);
    let out = inspect(&["inspect", "--guess", "-"], &wire);
    let lines = stdout_lines(&out);
    if cfg!(target_endian = "little") {
        assert!(
            lines[1].starts_with("1. i: 2 frames (same split: I <I <i =I =i @I @i "),
            "{lines:?}"
        );
    }
    // Varint and 1-byte headers: the same split while every length is
    // under 128, not beyond.
    let (wire, _) = capture(&Codec::new(HeaderFormat::VARINT), &[b"ab".to_vec()]);
    let out = inspect(&["--json", "inspect", "--guess", "-"], &wire);
    let first = &objects(&out)[0];
    let formats: Vec<&str> = first["formats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(&formats[..4], ["varint", "varint-strict", "B", "b"]);
    let (wire, _) = capture(&Codec::new(HeaderFormat::VARINT), &[vec![1u8; 200]]);
    let out = inspect(&["inspect", "--guess", "-"], &wire);
    assert_eq!(
        stdout_lines(&out)[1],
        "1. varint: 1 frame (same split: varint-strict)"
    );
}

#[test]
fn guess_ranks_real_frames_above_empty_ones() {
    let wire = b"\0\0\0\x05hello\0\0\0\x03abc";
    let out = inspect(&["inspect", "--guess"], wire);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = stdout_lines(&out);
    assert_eq!(
        lines,
        [
            "3 header formats split all 16 bytes exactly, most plausible first:",
            "1. !I: 2 frames (same split: >I !i >i !L >L !l >l)",
            "2. !H: 4 frames, 2 empty (same split: >H !h >h)",
            "3. varint: 8 frames, 6 empty (same split: varint-strict B b !B <B >B =B @B !b \
             <b >b =b @b)",
        ]
    );
    // One frame spanning the input beats frames that are half empty.
    let out = inspect(&["inspect", "--guess"], b"\0\0\0\x05hello");
    assert_eq!(
        stdout_lines(&out)[1..3],
        [
            "1. !I: 1 frame (same split: >I !i >i !L >L !l >l)",
            "2. !H: 2 frames, 1 empty (same split: >H !h >h)"
        ]
    );
}

#[test]
fn guess_on_input_no_format_explains_says_why() {
    let http = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let out = inspect(&["inspect", "--guess"], http);
    assert!(out.stdout.is_empty());
    let err = one_error_line(&out, "http");
    assert!(
        err.contains("no header format splits all 47 bytes exactly")
            && err.contains("as !I it breaks at byte 0, frame 1")
            && err.contains("as i it breaks at byte 0, frame 1")
            && err.contains("HTTP"),
        "{err}"
    );
    let out = inspect(&["--json", "inspect", "--guess"], http);
    one_error_line(&out, "http, json");
    let breaks = objects(&out);
    assert_eq!(breaks.len(), 2);
    assert_eq!(breaks[0]["event"], "break");
    assert_eq!(breaks[0]["format"], "!I");
    assert_eq!(breaks[1]["format"], "i");
    assert_eq!(breaks[0]["offset"], 0);
    assert!(breaks[0]["error"].as_str().unwrap().contains("HTTP"));

    // A pcap file is named as one.
    let mut pcap = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    pcap.extend_from_slice(&[0; 16]);
    pcap.extend_from_slice(&[0x01, 0, 0, 0]);
    let out = inspect(&["inspect", "--guess"], &pcap);
    let err = one_error_line(&out, "pcap");
    assert!(err.contains("this is a pcap file"), "{err}");
    let out = inspect(&["inspect"], &pcap);
    let err = one_error_line(&out, "pcap");
    assert!(
        err.contains("at byte 0, frame 1") && err.contains("this is a pcap file"),
        "{err}"
    );
}

#[test]
fn empty_input() {
    let out = inspect(&["inspect", "--guess"], b"");
    let err = one_error_line(&out, "empty --guess");
    assert!(
        err.contains("the input is empty: nothing to guess"),
        "{err}"
    );
    // Zero frames split an empty input exactly.
    let out = inspect(&["inspect"], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout_lines(&out),
        ["summary: 0 frames, 0 bytes (0 header + 0 payload), the input is empty"]
    );
    let out = inspect(&["--json", "inspect"], b"");
    let o = &objects(&out)[0];
    assert_eq!(o["frames"], 0);
    assert_eq!(o["complete"], true);
    assert!(o["median_len"].is_null());
}

/// `frames` 3-byte `!I` frames ("f0", "f1", ...) then `tail`, read as `!I`:
/// stdout lines, the one stderr line, and the JSON break object.
fn broken(tail: &[u8], extra: &[&str]) -> (Vec<String>, String, Value) {
    let mut wire = Vec::new();
    for p in [&b"one"[..], b"two"] {
        wire.extend_from_slice(&(p.len() as u32).to_be_bytes());
        wire.extend_from_slice(p);
    }
    wire.extend_from_slice(tail);
    let mut args = vec!["inspect"];
    args.extend_from_slice(extra);
    let out = inspect(&args, &wire);
    let err = one_error_line(&out, &format!("{tail:?}"));
    let lines = stdout_lines(&out);
    assert_eq!(lines[0], frame_line(0, &[0, 0, 0, 3], 3, "\"one\""));
    assert_eq!(lines[1], frame_line(7, &[0, 0, 0, 3], 3, "\"two\""));
    let mut json_args = vec!["--json"];
    json_args.extend_from_slice(&args);
    let out = inspect(&json_args, &wire);
    assert_eq!(one_error_line(&out, "json"), err);
    let objs = objects(&out);
    let summary = objs.iter().find(|o| o["event"] == "summary").unwrap();
    assert_eq!(summary["complete"], false);
    assert_eq!(summary["frames"], 2);
    assert_eq!(summary["bytes"], 14);
    assert_eq!(summary["input_bytes"], wire.len() as u64);
    let brk = objs.last().unwrap().clone();
    assert_eq!(brk["event"], "break");
    (lines, err, brk)
}

#[test]
fn where_and_why_a_capture_breaks() {
    let summary = "summary: 2 frames, 14 bytes (8 header + 6 payload) before the break, \
                   payload sizes min 3 / median 3 / max 3";
    // HTTP after two frames.
    let (lines, err, brk) = broken(b"GET / HTTP/1.1\r\n\r\n", &[]);
    assert_eq!(lines[2..], [summary]);
    assert!(
        err.contains("breaks at byte 14, frame 3: ") && err.contains("HTTP"),
        "{err}"
    );
    assert!(err.contains("--guess"), "{err}");
    assert_eq!(
        (brk["offset"].as_u64(), brk["frame"].as_u64()),
        (Some(14), Some(3))
    );
    // A TLS ClientHello.
    let (_, err, _) = broken(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", &[]);
    assert!(
        err.contains("byte 14, frame 3") && err.contains("TLS"),
        "{err}"
    );
    // Plain text.
    let (_, err, _) = broken(b"hello there, this is plain text\n", &[]);
    assert!(
        err.contains("byte 14, frame 3") && err.contains("text"),
        "{err}"
    );
    // A cut header.
    let (lines, err, _) = broken(b"\0\0", &[]);
    assert_eq!(lines[2..], [summary]);
    assert!(
        err.contains("byte 14, frame 3") && err.contains("header: got 2 of 4 bytes"),
        "{err}"
    );
    assert!(!err.contains("--guess"), "{err}");
    // A cut payload: the cut frame's line, with what came.
    let (lines, err, _) = broken(b"\0\0\0\x09abc", &[]);
    assert_eq!(lines[2], frame_line(14, &[0, 0, 0, 9], 9, "\"abc\"..."));
    assert_eq!(lines[3..], [summary]);
    assert!(
        err.contains("byte 14, frame 3") && err.contains("payload: got 3 of 9 bytes"),
        "{err}"
    );
    // Oversize.
    let mut big = 200u32.to_be_bytes().to_vec();
    big.extend_from_slice(&[7; 200]);
    let (_, err, _) = broken(&big, &["--max-frame", "100"]);
    assert!(
        err.contains("byte 14, frame 3: frame of 200 bytes exceeds the maximum of 100 bytes"),
        "{err}"
    );
    // A negative length in a signed header.
    let mut wire = 3i32.to_be_bytes().to_vec();
    wire.extend_from_slice(b"abc");
    wire.extend_from_slice(&(-2i32).to_be_bytes());
    let out = inspect(&["inspect", "--header", "!i"], &wire);
    let err = one_error_line(&out, "negative");
    assert!(
        err.contains("byte 7, frame 2: negative frame length -2"),
        "{err}"
    );
}

#[test]
fn a_little_endian_capture_read_as_network_order_names_the_byte_order() {
    // The tutorials' client: struct.pack('i', len) on x86.
    let mut wire = Vec::new();
    for p in [&b"hello"[..], b"world!"] {
        wire.extend_from_slice(&(p.len() as i32).to_le_bytes());
        wire.extend_from_slice(p);
    }
    let out = inspect(&["inspect"], &wire);
    let err = one_error_line(&out, "little-endian");
    assert!(
        err.contains("breaks at byte 0, frame 1")
            && err.contains("other byte order it would be 5")
            && err.contains("struct.pack('i')"),
        "{err}"
    );
    assert_eq!(
        stdout_lines(&out),
        ["summary: 0 frames, 0 bytes (0 header + 0 payload) before the break"]
    );
    // And `--header i` reads it.
    let out = inspect(&["inspect", "--header", "<i"], &wire);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_lines(&out).len(), 3);
}

#[test]
fn previews_are_whole_across_reads_and_follow_preview() {
    // The second frame's header and preview straddle the first 64 KiB.
    let first = vec![b'.'; 65_530];
    let second = b"the quick brown fox jumps over the lazy dog";
    let mut wire = Vec::new();
    for p in [&first[..], &second[..]] {
        wire.extend_from_slice(&(p.len() as u32).to_be_bytes());
        wire.extend_from_slice(p);
    }
    let file = TempFile::new(&wire);
    let out = inspect(&["inspect", file.arg()], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = stdout_lines(&out);
    assert_eq!(
        lines[1],
        frame_line(
            65_534,
            &[0, 0, 0, 43],
            43,
            "\"the quick brown fox jumps over t\"..."
        )
    );
    let out = inspect(&["inspect", "--preview", "3", file.arg()], b"");
    assert_eq!(
        stdout_lines(&out)[1],
        frame_line(65_534, &[0, 0, 0, 43], 43, "\"the\"...")
    );
    let out = inspect(&["--json", "inspect", "--preview", "0", file.arg()], b"");
    let o = &objects(&out)[1];
    assert_eq!(
        (o["shown"].as_u64(), o["text"].as_str()),
        (Some(0), Some(""))
    );
    // Binary payloads are hex; in JSON too.
    let out = inspect(&["inspect"], b"\0\0\0\x03\xff\x00\x01");
    assert_eq!(
        stdout_lines(&out)[0],
        frame_line(0, &[0, 0, 0, 3], 3, "ff 00 01")
    );
    let out = inspect(&["--json", "inspect"], b"\0\0\0\x03\xff\x00\x01");
    assert_eq!(objects(&out)[0]["hex"], "ff0001");
}

/// Runs `lenframe ARGS` with `total` bytes from `produce` streamed into
/// its stdin; returns its output and the largest RSS seen while it ran.
fn streamed(
    args: &[&str],
    total: usize,
    produce: impl Fn(&mut Vec<u8>) + Send + 'static,
) -> (Output, u64) {
    let mut child = lenframe()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        let mut sent = 0;
        let mut buf = Vec::new();
        while sent < total {
            buf.clear();
            produce(&mut buf);
            if stdin.write_all(&buf).is_err() {
                break;
            }
            sent += buf.len();
        }
    });
    let mut stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        let mut all = Vec::new();
        stdout.read_to_end(&mut all).unwrap();
        all
    });
    let start = Instant::now();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < TIMEOUT, "{args:?} took too long");
        peak = peak.max(rss_bytes(pid).unwrap_or(0));
        thread::sleep(Duration::from_millis(5));
    }
    writer.join().unwrap();
    let stdout = reader.join().unwrap();
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    (
        Output {
            status,
            stdout,
            stderr,
        },
        peak,
    )
}

#[test]
fn a_large_input_streams_in_bounded_memory() {
    // 64 MiB of 64 KiB frames through stdin.
    let chunk = frames(16, 65_532);
    let total = 64 << 20;
    let (out, peak) = streamed(&["inspect", "--preview", "4"], total, move |buf| {
        buf.extend_from_slice(&chunk)
    });
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 1025);
    assert_eq!(
        lines[1024],
        "summary: 1024 frames, 67108864 bytes (4096 header + 67104768 payload), \
         payload sizes min 65532 / median 65532 / max 65532"
    );
    assert!(peak < 32 << 20, "peak RSS {peak}");

    // --guess: every format side by side, on 64 MiB.
    let chunk = frames(16, 65_532);
    let (out, peak) = streamed(&["--json", "inspect", "--guess"], total, move |buf| {
        buf.extend_from_slice(&chunk)
    });
    assert!(out.status.success(), "{}", stderr(&out));
    let first = &objects(&out)[0];
    assert_eq!(first["formats"][0], "!I");
    assert_eq!(first["frames"], 1024);
    assert!(peak < 32 << 20, "peak RSS {peak}");
}

#[test]
fn a_hostile_length_is_counted_not_allocated() {
    // A `!Q` header claiming 2^63 bytes with every maximum lifted, then
    // 64 MiB: the frame is cut, and nothing near its size is held.
    let total = 64 << 20;
    let sent = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let (out, peak) = streamed(
        &[
            "inspect",
            "--header",
            "!Q",
            "--max-frame",
            &usize::MAX.to_string(),
        ],
        total,
        move |buf| {
            if counter.fetch_add(1, Ordering::Relaxed) == 0 {
                buf.extend_from_slice(&(1u64 << 63).to_be_bytes());
            }
            buf.resize(buf.len() + (1 << 20), 0xab);
        },
    );
    let err = one_error_line(&out, "hostile !Q");
    assert!(
        err.contains("byte 0, frame 1")
            && err.contains(&format!("got 67108864 of {} bytes", 1u64 << 63)),
        "{err}"
    );
    assert_eq!(
        stdout_lines(&out)[0],
        frame_line(0, &[0x80, 0, 0, 0, 0, 0, 0, 0], 1 << 63, "ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab...")
    );
    assert!(peak < 32 << 20, "peak RSS {peak}");
    // A varint claiming 2^63 - 1, within the same lifted maximum.
    let mut wire = vec![0xff; 8];
    wire.push(0x7f);
    wire.extend_from_slice(b"xyz");
    let out = inspect(
        &[
            "inspect",
            "--header",
            "varint",
            "--max-frame",
            &usize::MAX.to_string(),
        ],
        &wire,
    );
    let err = one_error_line(&out, "hostile varint");
    assert!(
        err.contains(&format!("got 3 of {} bytes", u64::MAX >> 1)),
        "{err}"
    );
    // With the default maximum, the header alone is refused.
    let out = inspect(&["inspect", "--header", "varint"], &wire);
    let err = one_error_line(&out, "hostile varint, default max");
    assert!(
        err.contains("exceeds the maximum of 8388608 bytes"),
        "{err}"
    );
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let file = TempFile::new(&frames(100_000, 3));
    let lines = run_with_stdout_closed_after(&["inspect", file.arg()], 1);
    assert_eq!(
        lines[0].trim_end(),
        frame_line(0, &[0, 0, 0, 3], 3, "00 00 00")
    );
    run_with_stdout_closed_after(&["inspect", file.arg()], 0);
    run_with_stdout_closed_after(&["--json", "inspect", file.arg()], 2);
    run_with_stdout_closed_after(&["inspect", "--guess", file.arg()], 0);
}

#[test]
fn bad_command_lines() {
    let out = inspect(&["inspect", "--header", "!x"], b"");
    let err = usage_error(&out, "bad format");
    assert!(err.contains("--header"), "{err}");
    let out = inspect(&["inspect", "--guess", "--header", "!I"], b"");
    usage_error(&out, "--guess and --header");
    let out = inspect(&["inspect", "/nonexistent/capture.bin"], b"");
    let err = one_error_line(&out, "missing file");
    assert!(
        err.contains("cannot open /nonexistent/capture.bin"),
        "{err}"
    );
}
