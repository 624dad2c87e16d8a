//! Helpers shared by the integration tests: formats, fault-injecting I/O.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use lenframe::{Codec, HeaderFormat};

/// Every format character under every byte-order prefix.
pub fn all_formats() -> Vec<HeaderFormat> {
    let mut out = Vec::new();
    for prefix in ["", "@", "=", "<", ">", "!"] {
        for code in ["b", "B", "h", "H", "i", "I", "l", "L", "q", "Q"] {
            out.push(format!("{prefix}{code}").parse().unwrap());
        }
    }
    out
}

/// A codec for `format` whose max is at most `max`.
pub fn codec(format: HeaderFormat, max: usize) -> Codec {
    Codec::builder()
        .format(format)
        .max_frame_len(max)
        .build()
        .unwrap()
}

/// The one-shot encoding of `frames`.
pub fn encode_all(codec: &Codec, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut wire = Vec::new();
    for f in frames {
        codec.encode_to_vec(f, &mut wire).unwrap();
    }
    wire
}

/// What a fault-injecting reader or writer does on one call.
#[derive(Debug, Clone, Copy)]
pub enum Act {
    /// Move at most this many bytes (at least 1).
    Short(usize),
    Interrupted,
    WouldBlock,
    TimedOut,
}

impl Act {
    fn error(self) -> Option<io::Error> {
        match self {
            Act::Short(_) => None,
            Act::Interrupted => Some(io::ErrorKind::Interrupted.into()),
            Act::WouldBlock => Some(io::ErrorKind::WouldBlock.into()),
            Act::TimedOut => Some(io::ErrorKind::TimedOut.into()),
        }
    }
}

/// A reader over `data` that follows a script of acts (cycled), then EOF.
pub struct FaultyReader {
    data: VecDeque<u8>,
    script: Vec<Act>,
    call: usize,
}

impl FaultyReader {
    pub fn new(data: Vec<u8>, script: Vec<Act>) -> Self {
        assert!(!script.is_empty());
        FaultyReader {
            data: data.into(),
            script,
            call: 0,
        }
    }
}

impl Read for FaultyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let act = self.script[self.call % self.script.len()];
        self.call += 1;
        if let Some(e) = act.error() {
            return Err(e);
        }
        let Act::Short(max) = act else { unreachable!() };
        let n = max.max(1).min(out.len()).min(self.data.len());
        for (slot, b) in out[..n].iter_mut().zip(self.data.drain(..n)) {
            *slot = b;
        }
        Ok(n)
    }
}

/// A writer that follows a script of acts (cycled), collecting bytes.
pub struct FaultyWriter {
    pub out: Vec<u8>,
    script: Vec<Act>,
    call: usize,
}

impl FaultyWriter {
    pub fn new(script: Vec<Act>) -> Self {
        assert!(!script.is_empty());
        FaultyWriter {
            out: Vec::new(),
            script,
            call: 0,
        }
    }
}

impl Write for FaultyWriter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let act = self.script[self.call % self.script.len()];
        self.call += 1;
        if let Some(e) = act.error() {
            return Err(e);
        }
        let Act::Short(max) = act else { unreachable!() };
        let n = max.max(1).min(b.len());
        self.out.extend_from_slice(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Path of a built example, building the examples first if needed (once,
/// whichever test asks first).
pub fn example(name: &str) -> std::path::PathBuf {
    use std::process::Command;
    use std::sync::OnceLock;

    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    // Once per test process: `cargo test --test X` builds no example, so an
    // example changed since its last build would run stale. With the
    // features this test was built with, the build is a no-op after
    // `cargo test`.
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--examples", "--quiet"]);
        if dir.parent().unwrap().ends_with("release") {
            cmd.arg("--release");
        }
        let features: Vec<&str> = [
            (cfg!(feature = "tokio"), "tokio"),
            (cfg!(feature = "futures-io"), "futures-io"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|&(_, f)| f)
        .collect();
        if !features.is_empty() {
            cmd.args(["--features", &features.join(",")]);
        }
        assert!(
            cmd.status().unwrap().success(),
            "cargo build --examples failed"
        );
    });
    dir.join(name)
}

/// A running example server on a free loopback port, killed on drop.
pub type ExampleServer = LoggedServer;

/// Frames `alpha`, a 300-byte frame over the max of 8, `beta`, `gamma`,
/// with the `!I` codec (`Oversize::Skip`) that reads them.
pub fn wire_with_an_oversize_frame() -> (Codec, Vec<u8>) {
    let c = Codec::builder()
        .max_frame_len(8)
        .oversize(lenframe::Oversize::Skip)
        .build()
        .unwrap();
    let mut wire = Vec::new();
    c.encode_to_vec(b"alpha", &mut wire).unwrap();
    wire.extend_from_slice(&300u32.to_be_bytes());
    wire.extend_from_slice(&[0xAB; 300]);
    c.encode_to_vec(b"beta", &mut wire).unwrap();
    c.encode_to_vec(b"gamma", &mut wire).unwrap();
    (c, wire)
}

/// What the blocking `FrameReader` yields for `wire`: the reference the
/// async codecs are compared with.
pub fn blocking_items(c: Codec, wire: &[u8]) -> Vec<Result<Vec<u8>, String>> {
    c.new_read(wire)
        .map(|f| f.map(|b| b.to_vec()).map_err(|e| e.to_string()))
        .collect()
}

/// How long the process tests wait for anything.
pub const PROCESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A running example server whose stdout lines and stderr are collected
/// (on threads of their own); killed on drop.
pub struct LoggedServer {
    pub child: std::process::Child,
    /// Where it listens, from its `listening on` line.
    pub addr: std::net::SocketAddr,
    /// Its stdout lines after `listening on`.
    pub lines: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl LoggedServer {
    /// Starts example `name` with `--addr 127.0.0.1:0` and `args`.
    pub fn start(name: &str, args: &[&str]) -> LoggedServer {
        let mut cmd = std::process::Command::new(example(name));
        cmd.args(["--addr", "127.0.0.1:0"]).args(args);
        LoggedServer::spawn(cmd)
    }

    /// Runs `cmd`, a server that prints `listening on ADDR` first.
    pub fn spawn(mut cmd: std::process::Command) -> LoggedServer {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;
        use std::sync::{mpsc, Arc, Mutex};

        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let first = lines.recv_timeout(PROCESS_TIMEOUT);
        let Some(addr) = first
            .as_ref()
            .ok()
            .and_then(|line| line.strip_prefix("listening on ")?.parse().ok())
        else {
            // Killed here: there is no handle yet to kill it on drop.
            let _ = child.kill();
            let _ = child.wait();
            panic!("expected 'listening on ADDR' first, got {first:?}");
        };
        LoggedServer {
            child,
            addr,
            lines,
            stderr,
        }
    }

    /// The next stdout line, within the timeout.
    pub fn line(&self) -> String {
        self.lines
            .recv_timeout(PROCESS_TIMEOUT)
            .unwrap_or_else(|_| panic!("no stdout line in time; stderr: {}", self.stderr()))
    }

    /// Stdout lines up to and including the first that contains `needle`.
    pub fn line_with(&self, needle: &str) -> String {
        loop {
            let line = self.line();
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Stdout lines up to and including the first that starts with
    /// `prefix`.
    pub fn line_starting(&self, prefix: &str) -> String {
        loop {
            let line = self.line();
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Everything on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Stderr once it contains `text` (or the timeout passed).
    pub fn stderr_with(&self, text: &str) -> String {
        let start = std::time::Instant::now();
        loop {
            let err = self.stderr();
            if err.contains(text) || start.elapsed() > PROCESS_TIMEOUT {
                return err;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Waits until stderr has a whole line containing `needle`; returns it.
    pub fn stderr_line(&self, needle: &str) -> String {
        let start = std::time::Instant::now();
        loop {
            let text = self.stderr();
            if let Some(line) = text
                .lines()
                .take(text.matches('\n').count())
                .find(|l| l.contains(needle))
            {
                return line.to_owned();
            }
            assert!(
                start.elapsed() < PROCESS_TIMEOUT,
                "stderr never had {needle:?}; it has:\n{text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// A client socket with read and write timeouts.
    pub fn connect(&self) -> std::net::TcpStream {
        let s = std::net::TcpStream::connect_timeout(&self.addr, PROCESS_TIMEOUT).expect("connect");
        s.set_read_timeout(Some(PROCESS_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(PROCESS_TIMEOUT)).unwrap();
        s
    }

    /// Waits for the exit; returns the status and how long it took.
    pub fn wait_exit(&mut self) -> (std::process::ExitStatus, std::time::Duration) {
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, start.elapsed());
            }
            assert!(start.elapsed() < PROCESS_TIMEOUT, "server did not exit");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a process to completion with `stdin`, killing it (and failing) if
/// it outlives [`PROCESS_TIMEOUT`].
pub fn run_with_timeout(mut cmd: std::process::Command, stdin: &[u8]) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(PROCESS_TIMEOUT) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            panic!("process timed out");
        }
    }
}

/// Raises this process's soft limit on open files to at least `want` (up
/// to the hard limit) and holds that room until the guard drops: the tests
/// of one binary that open thousands of sockets take turns, as the limit
/// is per process. `None`, saying why on stderr, if the hard limit is
/// lower.
pub fn room_for_files(want: u64) -> Option<std::sync::MutexGuard<'static, ()>> {
    static MANY_FILES: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let have = rlimit::increase_nofile_limit(want).unwrap_or(0);
    if have < want {
        eprintln!(
            "SKIPPED: the open-file limit allows {have} descriptors, {want} needed \
             (raise the hard limit: ulimit -Hn)"
        );
        return None;
    }
    // A test that failed while holding the room leaves it free all the same.
    Some(
        MANY_FILES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// Opens `n` connections to `addr`, each sending one 16-byte `!I` frame;
/// checks every echo and returns the connections, all still open.
///
/// They are opened 100 at a time, each batch echoed before the next: a
/// listener made by std's `TcpListener::bind` has a backlog of 128
/// connections waiting for `accept`, and a connection over it waits for
/// its SYN to be sent again (after 1 s, then 3 s, ...).
pub fn many_echoing_connections(addr: std::net::SocketAddr, n: usize) -> Vec<std::net::TcpStream> {
    use std::io::Read;
    let mut conns: Vec<std::net::TcpStream> = Vec::with_capacity(n);
    for batch in (0..n).collect::<Vec<_>>().chunks(100) {
        for &i in batch {
            let c = std::net::TcpStream::connect_timeout(&addr, PROCESS_TIMEOUT)
                .unwrap_or_else(|e| panic!("connection {i}: {e}"));
            let mut wire = 16u32.to_be_bytes().to_vec();
            wire.extend_from_slice(format!("connection {i:>5}").as_bytes());
            (&c).write_all(&wire).unwrap();
            conns.push(c);
        }
        for &i in batch {
            let c = &conns[i];
            c.set_read_timeout(Some(PROCESS_TIMEOUT)).unwrap();
            let mut got = [0u8; 20];
            (&*c)
                .read_exact(&mut got)
                .unwrap_or_else(|e| panic!("connection {i}: {e}"));
            assert_eq!(
                &got[4..],
                format!("connection {i:>5}").as_bytes(),
                "connection {i}"
            );
        }
    }
    conns
}

/// The tutorials' peer: Python's `socket` and `struct`, frames sent stuck
/// together (`sticky`: one `sendall`) or cut into 3-byte pieces (`split`),
/// then each echo read with a `recv_exact` loop and compared. Prints
/// `ok 5`.
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

/// Runs the Python tutorial-style peer, in both modes, against an echo
/// server at `port` that reads headers in `format`; asserts `ok 5`. False,
/// saying so, if python3 is missing.
pub fn python_peer_is_echoed(port: u16, format: &str) -> bool {
    let have = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("SKIPPED: python3 is not on PATH, so the Python peer cannot run");
        return false;
    }
    for mode in ["sticky", "split"] {
        let mut cmd = std::process::Command::new("python3");
        cmd.args(["-c", PY_PEER, format, &port.to_string(), mode]);
        let out = run_with_timeout(cmd, b"");
        assert!(
            out.status.success(),
            "{format} {mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "ok 5",
            "{format} {mode}"
        );
    }
    true
}

/// A tokio-util `LengthDelimitedCodec` client (the default `!I` framing):
/// writes `frames` in one go, half-closes, and returns every frame that
/// came back before the server closed.
pub fn length_delimited_client(addr: std::net::SocketAddr, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    use bytes::{Bytes, BytesMut};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(PROCESS_TIMEOUT, async {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (mut rx, mut tx) = stream.into_split();
            let mut codec = LengthDelimitedCodec::new();
            let mut out = BytesMut::new();
            for f in frames {
                codec.encode(Bytes::from(f.clone()), &mut out).unwrap();
            }
            // Written while the echoes are read: a blocking server stops
            // reading when its echoes are not taken.
            let writer = tokio::spawn(async move {
                tx.write_all(&out).await.unwrap();
                tx.shutdown().await.unwrap();
            });
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            loop {
                while let Some(frame) = codec.decode(&mut buf).unwrap() {
                    got.push(frame.to_vec());
                }
                if rx.read_buf(&mut buf).await.unwrap() == 0 {
                    assert!(codec.decode_eof(&mut buf).unwrap().is_none());
                    break;
                }
            }
            writer.await.unwrap();
            got
        })
        .await
        .expect("the tokio-util client timed out")
    })
}

/// Two good `!I` frames and then an HTTP request, in ONE write: asserts
/// that the server echoes both frames before it closes the connection (a
/// bad header must not cost the echoes of the good frames before it).
pub fn good_frames_before_a_bad_header_are_echoed(addr: std::net::SocketAddr) {
    let codec = Codec::default();
    let mut wire = Vec::new();
    codec.encode_to_vec("alpha", &mut wire).unwrap();
    codec.encode_to_vec("beta", &mut wire).unwrap();
    wire.extend_from_slice(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PROCESS_TIMEOUT)).unwrap();
    (&stream).write_all(&wire).unwrap();
    let mut reader = codec.new_read(&stream);
    for want in ["alpha", "beta"] {
        match reader.read_frame() {
            Ok(Some(frame)) => assert_eq!(frame, want),
            other => panic!("{addr}: expected the echo of {want:?}, got {other:?}"),
        }
    }
    match reader.read_frame() {
        Ok(None) => {}
        Ok(Some(frame)) => panic!("{addr}: expected the server to close, got {frame:?}"),
        Err(err) => {
            let err = io::Error::from(err);
            assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{addr}: {err}");
        }
    }
}

/// Reads its bytes, then `WouldBlock` for ever: a peer that sent what it
/// had and waits.
pub struct ThenWouldBlock<'a>(pub &'a [u8]);

impl Read for ThenWouldBlock<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.0.read(out)
    }
}
