//! Send a file of any size over TCP in constant memory: a metadata frame
//! (size, name), then the content as ONE streamed frame.
//!
//! ```text
//! cargo run --release --example file_transfer -- recv DIR --addr HOST:PORT [--once]
//! cargo run --release --example file_transfer -- send PATH --addr HOST:PORT
//! ```
//!
//! Frames use an 8-byte big-endian length (`!Q`), so files over 4 GiB work.
//! The metadata frame is the file size (8 bytes, big-endian) followed by the
//! file name in UTF-8. The receiver refuses names that are not one plain
//! file name (`../x`, `/etc/x`, `a/b`), writes `DIR/NAME.part`, checks the
//! size, renames it into place and answers `ok` (or `error: ...`) in a
//! last frame; the sender exits 0 only on `ok`. With `--once` the receiver
//! exits after the first transfer: 0 if it succeeded, 1 if not.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use lenframe::{Codec, FrameReader, FrameWriter};

const USAGE: &str = "usage: file_transfer send PATH --addr HOST:PORT
       file_transfer recv DIR --addr HOST:PORT [--once]";

/// Largest metadata frame (size + name).
const MAX_META: usize = 8 + 4096;

fn codec() -> Codec {
    Codec::builder()
        .format("!Q".parse().expect("valid format"))
        .max_frame_len(MAX_META)
        .build()
        .expect("valid codec")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let mut addr = None;
    let mut once = false;
    let mut positional = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--addr" => addr = it.next(),
            "--once" => once = true,
            s if s.starts_with("--") => {
                eprintln!("file_transfer: unknown argument {s:?} (try --help)");
                return ExitCode::from(2);
            }
            _ => positional.push(a),
        }
    }
    let (Some(addr), [mode, path]) = (addr, positional.as_slice()) else {
        eprintln!("file_transfer: expected send PATH or recv DIR, and --addr (try --help)");
        return ExitCode::from(2);
    };
    let result = match mode.as_str() {
        "send" => send(Path::new(path), &addr),
        "recv" => recv(Path::new(path), &addr, once),
        other => {
            eprintln!("file_transfer: unknown mode {other:?} (send or recv)");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("file_transfer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn send(path: &Path, addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let size = file.metadata()?.len();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the file name is not UTF-8")?;
    let stream = TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let mut writer = FrameWriter::with_codec(&stream, codec());
    let mut meta = size.to_be_bytes().to_vec();
    meta.extend_from_slice(name.as_bytes());
    writer.write_frame(&meta)?;
    let mut progress = Progress::new("sent", size);
    writer.write_frame_from(size, &mut (&mut file).inspect_bytes(|n| progress.add(n)))?;
    writer.flush()?;
    progress.done();
    let mut reader = FrameReader::with_codec(&stream, codec());
    match reader.read_frame()? {
        Some(answer) if &answer[..] == b"ok" => {
            eprintln!("{name}: {size} bytes delivered");
            Ok(())
        }
        Some(answer) => Err(String::from_utf8_lossy(&answer).into_owned().into()),
        None => Err("the receiver closed without an answer".into()),
    }
}

fn recv(dir: &Path, addr: &str, once: bool) -> Result<(), Box<dyn std::error::Error>> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()).into());
    }
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("listening on {}", listener.local_addr()?);
    io::stdout().flush()?;
    loop {
        let (stream, peer) = listener.accept()?;
        let result = receive_one(&stream, dir);
        let answer = match &result {
            Ok(path) => {
                eprintln!("{peer}: received {}", path.display());
                b"ok".to_vec()
            }
            Err(e) => {
                eprintln!("{peer}: transfer failed: {e}");
                format!("error: {e}").into_bytes()
            }
        };
        let mut writer = FrameWriter::with_codec(&stream, codec());
        let _ = writer.write_frame(&answer).and_then(|()| writer.flush());
        if once {
            return result.map(|_| ());
        }
    }
}

/// Receives one file; returns where it was written.
fn receive_one(stream: &TcpStream, dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let mut reader = FrameReader::with_codec(stream, codec());
    let meta = reader
        .read_frame()?
        .ok_or("the sender closed before the metadata")?;
    if meta.len() < 8 {
        return Err("metadata frame too short".into());
    }
    let size = u64::from_be_bytes(meta[..8].try_into()?);
    let name = std::str::from_utf8(&meta[8..]).map_err(|_| "file name is not UTF-8")?;
    let mut parts = Path::new(name).components();
    let plain = matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    );
    if !plain || name.contains(['/', '\\']) {
        return Err(format!("refusing file name {name:?}: not a plain file name").into());
    }
    let target = dir.join(name);
    let partial = dir.join(format!("{name}.part"));
    let mut payload = reader
        .read_frame_stream(usize::MAX)?
        .ok_or("the sender closed before the content")?;
    if payload.len() != size {
        return Err(format!(
            "content frame has {} bytes, metadata said {size}",
            payload.len()
        )
        .into());
    }
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&partial)?);
    let mut progress = Progress::new("received", size);
    let copied = io::copy(
        &mut (&mut payload).inspect_bytes(|n| progress.add(n)),
        &mut out,
    );
    let copied = match copied {
        Ok(n) => n,
        Err(e) => {
            drop(out);
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
    };
    out.flush()?;
    drop(out);
    progress.done();
    let on_disk = std::fs::metadata(&partial)?.len();
    if copied != size || on_disk != size {
        let _ = std::fs::remove_file(&partial);
        return Err(format!("wrote {on_disk} bytes, expected {size}").into());
    }
    std::fs::rename(&partial, &target)?;
    Ok(target)
}

/// A progress line on stderr for large files (every 5 %).
struct Progress {
    what: &'static str,
    total: u64,
    done: u64,
    next: u64,
    start: Instant,
}

impl Progress {
    fn new(what: &'static str, total: u64) -> Progress {
        Progress {
            what,
            total,
            done: 0,
            next: total / 20,
            start: Instant::now(),
        }
    }

    fn add(&mut self, n: usize) {
        self.done += n as u64;
        if self.total >= 64 << 20 && self.done >= self.next {
            let secs = self.start.elapsed().as_secs_f64().max(1e-9);
            eprintln!(
                "{} {} / {} MiB ({:.0}%, {:.0} MiB/s)",
                self.what,
                self.done >> 20,
                self.total >> 20,
                100.0 * self.done as f64 / self.total as f64,
                self.done as f64 / secs / (1 << 20) as f64
            );
            self.next = self.done + self.total / 20;
        }
    }

    fn done(&self) {
        if self.total >= 64 << 20 {
            eprintln!(
                "{} {} bytes in {:.1}s",
                self.what,
                self.done,
                self.start.elapsed().as_secs_f64()
            );
        }
    }
}

/// `Read` adapter that reports how many bytes pass.
struct Inspect<R, F> {
    inner: R,
    f: F,
}

impl<R: Read, F: FnMut(usize)> Read for Inspect<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.f)(n);
        Ok(n)
    }
}

trait InspectExt: Read + Sized {
    fn inspect_bytes<F: FnMut(usize)>(self, f: F) -> Inspect<Self, F> {
        Inspect { inner: self, f }
    }
}

impl<R: Read> InspectExt for R {}
