//! Send a file of any size over TCP in constant memory: a metadata frame
//! (size, name), then the content as ONE streamed frame.
//!
//! ```text
//! cargo run --release --example file_transfer -- recv DIR --addr HOST:PORT [--once] [--force] [--max-size BYTES] [--timeout SECS]
//! cargo run --release --example file_transfer -- send PATH --addr HOST:PORT [--timeout SECS]
//! ```
//!
//! Frames use an 8-byte big-endian length (`!Q`), so files over 4 GiB work
//! (give the receiver a `--max-size` above its 1 GiB default).
//!
//! The protocol: the sender's metadata frame is the file size (8 bytes,
//! big-endian) followed by the file name in UTF-8. The receiver answers
//! `go`, or `error: ...` and closes: it refuses names that are not one
//! plain file name (`../x`, `/etc/x`, `a/b`), a file that already exists
//! (unless it runs with `--force`), and a size over `--max-size` or over the
//! free space of its directory, all before writing a byte. After `go` the
//! sender sends the content as one frame; the receiver writes it to a
//! hidden `.NAME.*.part` file, checks the size, moves it into place and
//! answers `ok` (or `error: ...`) in a last frame; the sender exits 0 only
//! on `ok`.
//!
//! The receiver creates DIR if it is missing, prints where each file went
//! on stdout, and serves each sender on its own thread (at most
//! 64 at once), so a silent or slow sender delays nobody else; a sender
//! that sends nothing for `--timeout` seconds (default 60) is dropped. With
//! `--once` it exits after the first transfer ends: 0 if it succeeded, 1 if
//! not.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use lenframe::{Codec, FrameReader, FrameWriter};

#[path = "common/cli.rs"]
mod cli;

const USAGE: &str = "usage: file_transfer send PATH --addr HOST:PORT [--timeout SECS]
       file_transfer recv DIR --addr HOST:PORT [--once] [--force] [--max-size BYTES] [--timeout SECS]
  send PATH           send one file to a receiver
  recv DIR            receive files into DIR (created if missing)
  --addr HOST:PORT    receiver's address (send) or where to listen (recv; port 0 picks one)
  --timeout SECS      drop the peer if it sends nothing for this long (default 60)
  --once              recv: exit after the first transfer (0 if it succeeded)
  --force             recv: replace files that already exist (default: refuse them)
  --max-size BYTES    recv: largest file accepted (default 1073741824, 1 GiB)";

/// Largest metadata frame (size + name).
const MAX_META: usize = 8 + 4096;

/// Default `--max-size`: 1 GiB.
const DEFAULT_MAX_SIZE: u64 = 1 << 30;

/// Transfers served at once; more senders are refused.
const MAX_TRANSFERS: usize = 64;

fn codec() -> Codec {
    Codec::builder()
        .format("!Q".parse().expect("valid format"))
        .max_frame_len(MAX_META)
        .build()
        .expect("valid codec")
}

enum Mode {
    Send(PathBuf),
    Recv(Receiver),
}

struct Receiver {
    dir: PathBuf,
    once: bool,
    force: bool,
    max_size: u64,
    timeout: Duration,
}

fn parse_args() -> Result<(Mode, String, Duration), ExitCode> {
    cli::parse_cli("file_transfer", USAGE, |flags| {
        let mut addr = None;
        let mut once = false;
        let mut force = false;
        let mut max_size = None;
        let mut timeout = Duration::from_secs(60);
        let mut positional = Vec::new();
        while let Some(arg) = flags.next_flag() {
            match arg.as_str() {
                "--addr" => addr = Some(flags.value::<String>(&arg)?),
                "--once" => once = true,
                "--force" => force = true,
                "--max-size" => max_size = Some(flags.value::<u64>(&arg)?),
                "--timeout" => {
                    let secs: f64 = flags.value(&arg)?;
                    if !(secs > 0.0 && secs.is_finite() && secs < 1e9) {
                        return Err("--timeout must be a positive number of seconds".into());
                    }
                    timeout = Duration::from_secs_f64(secs);
                }
                flag if flag.starts_with('-') && flag.len() > 1 => return Err(cli::unknown(flag)),
                _ => positional.push(arg),
            }
        }
        let mode = match positional.as_slice() {
            [mode, path] if mode == "send" => {
                let recv_only = [
                    ("--once", once),
                    ("--force", force),
                    ("--max-size", max_size.is_some()),
                ];
                if let Some((flag, _)) = recv_only.iter().find(|(_, given)| *given) {
                    return Err(format!("{flag} applies to recv, not send"));
                }
                Mode::Send(PathBuf::from(path))
            }
            [mode, dir] if mode == "recv" => Mode::Recv(Receiver {
                dir: PathBuf::from(dir),
                once,
                force,
                max_size: max_size.unwrap_or(DEFAULT_MAX_SIZE),
                timeout,
            }),
            [mode, _] if mode != "send" && mode != "recv" => {
                return Err(format!(
                    "unknown mode {mode:?}: send PATH or recv DIR (try --help)"
                ))
            }
            [_, _, extra, ..] => return Err(format!("unexpected argument {extra:?} (try --help)")),
            _ => return Err("expected send PATH or recv DIR (try --help)".into()),
        };
        let addr = addr.ok_or("--addr HOST:PORT is required (try --help)")?;
        Ok((mode, addr, timeout))
    })
}

fn main() -> ExitCode {
    let (mode, addr, timeout) = match parse_args() {
        Ok(parsed) => parsed,
        Err(exit) => return exit,
    };
    let result = match mode {
        Mode::Send(path) => send(&path, &addr, timeout),
        Mode::Recv(receiver) => recv(receiver, &addr),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("file_transfer: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res<T> = Result<T, String>;

fn send(path: &Path, addr: &str, timeout: Duration) -> Res<()> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let size = file.metadata().map_err(|e| fail(&e))?.len();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the file name is not UTF-8")?;
    let stream = TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| fail(&e))?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| fail(&e))?;
    let mut writer = FrameWriter::with_codec(&stream, codec());
    let mut reader = FrameReader::with_codec(&stream, codec());
    let mut meta = size.to_be_bytes().to_vec();
    meta.extend_from_slice(name.as_bytes());
    writer
        .write_frame(&meta)
        .and_then(|()| writer.flush())
        .map_err(|e| fail(&e))?;
    // The receiver says `go` only if it will take the file.
    answer(&mut reader, b"go")?;
    let mut progress = Progress::new("sent", size);
    let sent = writer
        .write_frame_from(size, &mut (&mut file).inspect_bytes(|n| progress.add(n)))
        .and_then(|()| writer.flush());
    if let Err(e) = sent {
        // The receiver may have said why it stopped reading.
        return Err(match reader.read_frame() {
            Ok(Some(why)) => said(&why),
            _ => format!("sending {name}: {e}"),
        });
    }
    progress.done();
    answer(&mut reader, b"ok")?;
    eprintln!("{name}: {size} bytes delivered");
    Ok(())
}

/// Reads the receiver's next answer: Ok if it is `want`.
fn answer(reader: &mut FrameReader<&TcpStream>, want: &[u8]) -> Res<()> {
    match reader.read_frame() {
        Ok(Some(answer)) if answer[..] == *want => Ok(()),
        Ok(Some(answer)) => Err(said(&answer)),
        Ok(None) => Err("the receiver closed without an answer".into()),
        Err(e) => Err(format!("waiting for the receiver's answer: {e}")),
    }
}

/// The receiver's refusal, for the sender's user.
fn said(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    format!("the receiver says: {text}")
}

/// Writes one line to stdout; a closed stdout never stops the receiver.
fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn recv(receiver: Receiver, addr: &str) -> Res<()> {
    let created = !receiver.dir.exists();
    std::fs::create_dir_all(&receiver.dir)
        .map_err(|e| format!("cannot create {}: {e}", receiver.dir.display()))?;
    if !receiver.dir.is_dir() {
        return Err(format!("{} is not a directory", receiver.dir.display()));
    }
    // Absolute, so the lines below say exactly where files go.
    let dir = std::fs::canonicalize(&receiver.dir)
        .map_err(|e| format!("{}: {e}", receiver.dir.display()))?;
    let receiver = Arc::new(Receiver { dir, ..receiver });
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    say(&format!("listening on {local}"));
    say(&format!(
        "saving files in {}{}",
        receiver.dir.display(),
        if created { " (created)" } else { "" }
    ));
    let once = receiver.once;
    let (done_tx, done_rx) = mpsc::channel::<bool>();
    let active = Arc::new(AtomicUsize::new(0));
    thread::spawn(move || loop {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors, say: wait, then go on.
                eprintln!("accept: {e}");
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_TRANSFERS {
            active.fetch_sub(1, Ordering::SeqCst);
            eprintln!("{peer}: refused: {MAX_TRANSFERS} transfers in progress");
            let msg =
                format!("error: the receiver is busy ({MAX_TRANSFERS} transfers in progress)");
            let mut writer = FrameWriter::with_codec(&stream, codec());
            let _ = writer
                .write_frame(msg.as_bytes())
                .and_then(|()| writer.flush());
            continue;
        }
        let receiver = Arc::clone(&receiver);
        let active = Arc::clone(&active);
        let done = done_tx.clone();
        thread::spawn(move || {
            let ok = serve(&stream, peer, &receiver);
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = done.send(ok);
        });
    });
    for ok in done_rx {
        if once {
            return if ok {
                Ok(())
            } else {
                Err("the transfer failed".into())
            };
        }
    }
    Ok(())
}

/// Serves one sender; true if the file arrived.
fn serve(stream: &TcpStream, peer: SocketAddr, receiver: &Receiver) -> bool {
    let timeouts = stream
        .set_read_timeout(Some(receiver.timeout))
        .and_then(|()| stream.set_write_timeout(Some(receiver.timeout)));
    let mut writer = FrameWriter::with_codec(stream, codec());
    let result = timeouts
        .map_err(|e| e.to_string())
        .and_then(|()| receive_one(stream, &mut writer, receiver));
    let answer = match &result {
        Ok((path, size, replaced)) => {
            say(&format!(
                "{peer}: saved {} ({size} bytes{})",
                path.display(),
                if *replaced {
                    ", replaced the old file"
                } else {
                    ""
                }
            ));
            "ok".to_owned()
        }
        Err(e) => {
            eprintln!("{peer}: transfer failed: {e}");
            format!("error: {e}")
        }
    };
    let _ = writer
        .write_frame(answer.as_bytes())
        .and_then(|()| writer.flush());
    result.is_ok()
}

/// Receives one file; returns where it went, its size, and whether it
/// replaced a file (`--force`).
fn receive_one(
    stream: &TcpStream,
    writer: &mut FrameWriter<&TcpStream>,
    receiver: &Receiver,
) -> Res<(PathBuf, u64, bool)> {
    let dir = &receiver.dir;
    let mut reader = FrameReader::with_codec(stream, codec());
    let meta = reader
        .read_frame()
        .map_err(|e| read_failed("reading the metadata", e, receiver.timeout))?
        .ok_or("the sender closed before the metadata")?;
    if meta.len() < 8 {
        return Err("metadata frame too short".into());
    }
    let size = u64::from_be_bytes(meta[..8].try_into().expect("8 bytes"));
    let name = std::str::from_utf8(&meta[8..]).map_err(|_| "file name is not UTF-8")?;
    let mut parts = Path::new(name).components();
    let plain = matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    );
    if !plain || name.contains(['/', '\\']) {
        return Err(format!(
            "refusing file name {name:?}: not a plain file name"
        ));
    }
    let target = dir.join(name);
    let existed = target.exists();
    if existed && !receiver.force {
        return Err(format!(
            "refusing to overwrite {} (the receiver needs --force to replace files)",
            target.display()
        ));
    }
    if size > receiver.max_size {
        return Err(format!(
            "refusing {name}: {size} bytes is over the receiver's --max-size of {} bytes",
            receiver.max_size
        ));
    }
    // Where free space cannot be told, the write itself will fail instead.
    if let Ok(free) = fs4::available_space(dir) {
        if size > free {
            return Err(format!(
                "refusing {name}: {size} bytes, but {} has only {free} bytes free",
                dir.display()
            ));
        }
    }
    writer
        .write_frame(b"go")
        .and_then(|()| writer.flush())
        .map_err(|e| e.to_string())?;
    let mut payload = reader
        .read_frame_stream(usize::try_from(receiver.max_size).unwrap_or(usize::MAX))
        .map_err(|e| read_failed("reading the content", e, receiver.timeout))?
        .ok_or("the sender closed before the content")?;
    if payload.len() != size {
        return Err(format!(
            "content frame has {} bytes, metadata said {size}",
            payload.len()
        ));
    }
    static PART: AtomicUsize = AtomicUsize::new(0);
    let partial = dir.join(format!(
        ".{name}.{}-{}.part",
        std::process::id(),
        PART.fetch_add(1, Ordering::Relaxed)
    ));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(|e| format!("{}: {e}", partial.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut progress = Progress::new("received", size);
    let copied = io::copy(
        &mut (&mut payload).inspect_bytes(|n| progress.add(n)),
        &mut out,
    )
    .and_then(|n| out.flush().map(|()| n));
    drop(out);
    let placed = copied.map_err(|e| e.to_string()).and_then(|copied| {
        progress.done();
        let on_disk = std::fs::metadata(&partial)
            .map_err(|e| e.to_string())?
            .len();
        if copied != size || on_disk != size {
            return Err(format!("wrote {on_disk} bytes, expected {size}"));
        }
        place(&partial, &target, receiver.force)
    });
    if placed.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    placed.map(|()| (target, size, existed))
}

/// Why a read failed; a stall says which setting cut it short.
fn read_failed(what: &str, e: lenframe::Error, timeout: Duration) -> String {
    match &e {
        lenframe::Error::Io(io)
            if matches!(
                io.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            format!(
                "{what}: the sender sent nothing for {} s (--timeout): {e}",
                timeout.as_secs_f64()
            )
        }
        _ => format!("{what}: {e}"),
    }
}

/// Moves the finished file into place; without `force`, never over a file
/// that appeared in the meantime (a hard link fails if the name exists).
fn place(partial: &Path, target: &Path, force: bool) -> Res<()> {
    let refuse = || {
        format!(
            "refusing to overwrite {} (the receiver needs --force to replace files)",
            target.display()
        )
    };
    if force {
        return std::fs::rename(partial, target).map_err(|e| e.to_string());
    }
    match std::fs::hard_link(partial, target) {
        Ok(()) => std::fs::remove_file(partial).map_err(|e| e.to_string()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(refuse()),
        // A file system without hard links: check, then rename.
        Err(_) if target.exists() => Err(refuse()),
        Err(_) => std::fs::rename(partial, target).map_err(|e| e.to_string()),
    }
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
