//! lenframe's varint header against Python's `protobuf` (>= 5.28) over a
//! real TCP socket: `google.protobuf.proto.serialize_length_prefixed` on
//! one side, lenframe on the other, and `parse_length_prefixed` back. The
//! messages are well-known types that need no protoc (`Timestamp`,
//! `Struct`, `FileDescriptorProto`), built by the same recipe on both
//! sides (prost-types here); their headers take 1 to 4 bytes.
//!
//! The interpreter: `$LENFRAME_PROTOBUF_PYTHON`, else
//! `<workspace root>/target/protobuf-venv/bin/python`. Without one that
//! imports `google.protobuf.proto` at version >= 5.28 each test says why
//! on stderr and returns; the tests never install anything
//! (`interop/install-protobuf.sh` does, and `.ci/run` runs it).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::{blob_struct, descriptor, sample_struct, timestamp, Msg, Tee};
use lenframe::Codec;
use prost_types::Timestamp;

const TIMEOUT: Duration = Duration::from_secs(120);

/// The descriptor's size: about 40 KB (a 3-byte header).
const DESCRIPTOR_MESSAGES: usize = 100;
const DESCRIPTOR_FIELDS: usize = 20;
/// The nested string of the small `Struct`: over 127 bytes in all (a
/// 2-byte header).
const NESTED_LEN: usize = 200;
/// The string of the large `Struct`: over 2 MiB (a 4-byte header).
const BLOB_LEN: usize = 3_000_000;

/// The messages, in order; the Python recipe (`PY_MESSAGES`) builds the
/// same ones from the same constants.
fn messages() -> Vec<Msg> {
    vec![
        Msg::Timestamp(timestamp()),
        Msg::Timestamp(Timestamp::default()),
        Msg::Struct(sample_struct(NESTED_LEN)),
        Msg::Descriptor(Box::new(descriptor(DESCRIPTOR_MESSAGES, DESCRIPTOR_FIELDS))),
        Msg::Struct(blob_struct(BLOB_LEN)),
        Msg::Timestamp(timestamp()),
    ]
}

/// The Python side of `messages()`: a list of (class, message).
fn py_messages() -> String {
    format!(
        r#"
from google.protobuf import descriptor_pb2, proto, struct_pb2, timestamp_pb2

def messages():
    ts = timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=123_456_789)
    small = struct_pb2.Struct()
    small.update({{"name": "lenframe", "count": 3, "ok": True, "none": None,
                   "list": [1, "two", False], "nested": {{"k": "v" * {NESTED_LEN}}}}})
    big = descriptor_pb2.FileDescriptorProto(name="big.proto", package="lenframe.interop")
    F = descriptor_pb2.FieldDescriptorProto
    for i in range({DESCRIPTOR_MESSAGES}):
        m = big.message_type.add(name=f"M{{i}}")
        for j in range({DESCRIPTOR_FIELDS}):
            m.field.add(name=f"field_{{j}}", number=j + 1, label=F.LABEL_OPTIONAL, type=F.TYPE_STRING)
    blob = struct_pb2.Struct()
    blob.update({{"blob": "x" * {BLOB_LEN}}})
    T, S, D = timestamp_pb2.Timestamp, struct_pb2.Struct, descriptor_pb2.FileDescriptorProto
    return [(T, ts), (T, T()), (S, small), (D, big), (S, blob), (T, ts)]
"#
    )
}

/// Listens on 127.0.0.1, prints the port, serves one connection:
/// `send` writes every message with `serialize_length_prefixed`; `echo`
/// reads messages with `parse_length_prefixed` to EOF, checks them against
/// its own, then writes them back. Prints `ok N` at the end.
const PY_MAIN: &str = r#"
import socket, sys

mode = sys.argv[1]
msgs = messages()
srv = socket.create_server(("127.0.0.1", 0))
print(srv.getsockname()[1], flush=True)
srv.settimeout(120)
conn, _ = srv.accept()
conn.settimeout(120)
if mode == "echo":
    inp = conn.makefile("rb")
    got = []
    while True:
        cls = msgs[len(got)][0] if len(got) < len(msgs) else msgs[0][0]
        m = proto.parse_length_prefixed(cls, inp)
        if m is None:
            break
        got.append(m)
    assert len(got) == len(msgs), f"python parsed {len(got)} messages, want {len(msgs)}"
    for i, (m, (_, want)) in enumerate(zip(got, msgs)):
        assert m == want, f"message {i} ({type(m).__name__}) differs"
    msgs = [(type(m), m) for m in got]
out = conn.makefile("wb")
for _, m in msgs:
    proto.serialize_length_prefixed(m, out)
out.flush()
conn.shutdown(socket.SHUT_WR)
conn.recv(1)  # until lenframe closes
print("ok", len(msgs), flush=True)
"#;

/// The interpreter to use, or why there is none.
fn protobuf_python() -> Result<&'static Path, &'static str> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(find_protobuf_python)
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(String::as_str)
}

fn find_protobuf_python() -> Result<PathBuf, String> {
    let (python, from) = match std::env::var_os("LENFRAME_PROTOBUF_PYTHON") {
        Some(p) if !p.is_empty() => (PathBuf::from(p), "LENFRAME_PROTOBUF_PYTHON"),
        _ => {
            // The workspace root: this package's parent directory.
            let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let root = manifest.parent().unwrap_or(&manifest);
            let venv = root.join("target/protobuf-venv/bin/python");
            if !venv.exists() {
                return Err(format!(
                    "LENFRAME_PROTOBUF_PYTHON is not set and there is no {}",
                    venv.display()
                ));
            }
            (venv, "the workspace venv")
        }
    };
    let shown = python.display();
    let out = Command::new(&python)
        .args([
            "-c",
            "import google.protobuf as p, google.protobuf.proto; print(p.__version__)",
        ])
        .output()
        .map_err(|e| format!("{shown} ({from}) does not run: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("no message");
        return Err(format!(
            "{shown} ({from}) cannot import google.protobuf.proto: {last}"
        ));
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (5, 28) {
        return Err(format!(
            "{shown} ({from}) has protobuf {version}, older than 5.28 (no proto.serialize_length_prefixed)"
        ));
    }
    Ok(python)
}

/// The interpreter, or `None` after printing why the test is skipped.
fn python_or_skip() -> Option<&'static Path> {
    match protobuf_python() {
        Ok(p) => Some(p),
        Err(why) => {
            // Straight to stderr: the test harness would hide `eprintln!`
            // of a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED python protobuf interop: {why}; .ci/run installs protobuf>=5.28 into a venv (or run interop/install-protobuf.sh)"
            );
            None
        }
    }
}

/// A Python peer listening on a port, and a connection to it.
struct Peer {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
    conn: TcpStream,
}

impl Peer {
    fn start(python: &Path, mode: &str) -> Peer {
        let script = format!("{}\n{PY_MAIN}", py_messages());
        let mut child = Command::new(python)
            .args(["-c", &script, mode])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Ok(port) = line.trim().parse::<u16>() else {
            let stderr = stderr_of(&mut child);
            panic!("python printed {line:?} instead of its port: {stderr}");
        };
        let conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.set_read_timeout(Some(TIMEOUT)).unwrap();
        conn.set_write_timeout(Some(TIMEOUT)).unwrap();
        Peer {
            child,
            stdout,
            conn,
        }
    }

    /// Closes the connection and waits for Python: what it printed after
    /// the port, its exit status and its stderr.
    fn close(mut self) -> (String, ExitStatus, String) {
        drop(self.conn);
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        let status = self.child.wait().unwrap();
        (rest, status, stderr_of(&mut self.child))
    }
}

/// Runs `rust_side` against a Python peer in `mode` (on a clone of the
/// connection, closed when it returns), then checks that Python printed
/// `ok n`. If the Rust side panics, Python's stderr is shown first: its
/// assertion is usually why.
fn with_python<T>(
    python: &Path,
    mode: &str,
    n: usize,
    rust_side: impl FnOnce(TcpStream) -> T,
) -> T {
    let peer = Peer::start(python, mode);
    let conn = peer.conn.try_clone().unwrap();
    let out = panic::catch_unwind(AssertUnwindSafe(|| rust_side(conn)));
    let (said, status, stderr) = peer.close();
    match out {
        Ok(value) => {
            assert!(status.success(), "python failed ({status}): {stderr}");
            assert_eq!(said.trim(), format!("ok {n}"), "python said: {stderr}");
            value
        }
        Err(p) => {
            eprintln!("python ({status}) said on stderr:\n{stderr}");
            panic::resume_unwind(p)
        }
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

/// The header lengths of `wire`'s frames.
fn header_lens(codec: Codec, wire: &[u8]) -> Vec<usize> {
    let mut dec = codec.new_decoder();
    let mut pos = 0;
    let mut lens = Vec::new();
    while pos < wire.len() {
        let d = dec.decode_slice(&wire[pos..]).unwrap();
        let frame = d.frame.expect("a whole frame");
        lens.push(d.consumed - frame.len());
        pos += d.consumed;
    }
    lens
}

/// Python writes with `serialize_length_prefixed`; lenframe's
/// `FrameReader` reads off TCP, prost decodes; the raw wire is exactly
/// lenframe's encoding of the payloads it returned.
#[test]
fn python_serializes_lenframe_reads() {
    let Some(python) = python_or_skip() else {
        return;
    };
    let msgs = messages();
    for name in ["varint", "varint-strict"] {
        let codec = Codec::from_format(name)
            .unwrap()
            .with_max_frame_len(common::MAX)
            .unwrap();
        let (got, again, wire) = with_python(python, "send", msgs.len(), |conn| {
            let mut r = codec.new_read(Tee {
                inner: conn,
                seen: Vec::new(),
            });
            let mut got = Vec::new();
            let mut again = Vec::new();
            while let Some(frame) = r.read_frame().unwrap() {
                let like = msgs.get(got.len()).expect("more frames than messages");
                got.push(like.decode_like(&frame));
                codec.encode_to_vec(&frame, &mut again).unwrap();
            }
            (got, again, r.into_inner().seen)
        });
        assert_eq!(got, msgs, "{name}: the messages from Python");
        assert!(
            again == wire,
            "{name}: lenframe would not write Python's bytes"
        );
        assert_eq!(header_lens(codec, &wire), [1, 1, 2, 3, 4, 1], "{name}");
    }
}

/// lenframe writes (`Framed::send`), Python reads with
/// `parse_length_prefixed` and checks every message against its own, then
/// writes them back with `serialize_length_prefixed`; lenframe reads them.
#[test]
fn lenframe_sends_python_parses_and_echoes() {
    let Some(python) = python_or_skip() else {
        return;
    };
    let msgs = messages();
    for name in ["varint", "varint-strict"] {
        let codec = Codec::from_format(name)
            .unwrap()
            .with_max_frame_len(common::MAX)
            .unwrap();
        let got = with_python(python, "echo", msgs.len(), |conn| {
            let mut framed = codec.new_framed(conn);
            for m in &msgs {
                framed.send(m.encode_to_vec()).unwrap();
            }
            framed.get_ref().shutdown(Shutdown::Write).unwrap();
            let mut got = Vec::new();
            while let Some(frame) = framed.recv().unwrap() {
                let like = msgs.get(got.len()).expect("more frames than messages");
                got.push(like.decode_like(&frame));
            }
            got
        });
        assert_eq!(got, msgs, "{name}: the messages Python echoed");
    }
}

/// The bytes Python writes for a `Timestamp` and a `FileDescriptorProto`
/// are prost's (both write fields in number order); the `Struct`s are
/// maps, whose order may differ, so only the header matters there.
#[test]
fn python_bytes_are_prosts_for_ordered_messages() {
    let Some(python) = python_or_skip() else {
        return;
    };
    let msgs = messages();
    let wire = with_python(python, "send", msgs.len(), |mut conn| {
        let mut wire = Vec::new();
        conn.read_to_end(&mut wire).unwrap();
        wire
    });
    let codec = common::varint();
    let mut dec = codec.new_decoder();
    let frames: Vec<&[u8]> = dec.frames(&wire).map(Result::unwrap).collect();
    assert_eq!(frames.len(), msgs.len());
    for (frame, m) in frames.iter().zip(&msgs) {
        assert_eq!(frame.len(), m.encoded_len(), "{} length", m.type_name());
        if !matches!(m, Msg::Struct(_)) {
            assert!(
                *frame == &m.encode_to_vec()[..],
                "{}: Python's bytes differ from prost's",
                m.type_name()
            );
        }
    }
}
