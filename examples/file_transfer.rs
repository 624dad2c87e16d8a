//! Send a file of any size over TCP in constant memory: the tutorials'
//! header lesson (报头), a metadata frame first, then the content as ONE
//! streamed frame.
//!
//! ```text
//! cargo run --release --example file_transfer -- recv ./inbox --addr 127.0.0.1:9100 --once
//! cargo run --release --example file_transfer -- send ./dump.bin --addr 127.0.0.1:9100
//! ```
//!
//! What it teaches:
//!
//! * The header lesson with lenframe doing the framing: the sender's first
//!   frame is the metadata (the size as 8 big-endian bytes, then the file
//!   name), its second frame is the file. Headers are `!Q` (8 bytes), so a
//!   frame can hold more than 4 GiB.
//! * Constant memory on both sides: `FrameWriter::write_frame_from` writes
//!   a frame of known length from any `Read` (the open file), and
//!   `FrameReader::read_frame_stream` hands out a frame as a `Read` that
//!   `io::copy` drains into a file. Neither side ever holds the file.
//! * Never trust a peer's file name: the receiver takes a plain name only
//!   (it refuses `../x`, `/etc/x`, `a/b`) and never replaces a file. It
//!   answers `go` (or `error: ...`) before the content is sent, writes
//!   `NAME.part`, checks the size, renames it into place, and answers `ok`.
//!
//! The receiver serves one sender at a time, as the tutorials' servers do;
//! a sender silent for 60 seconds is dropped. With `--once` it exits after
//! the first transfer: 0 if the file arrived, 1 if not.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use lenframe::{Codec, FrameReader};

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// Send a file over TCP in constant memory: a metadata frame, then the
/// content as one streamed frame.
#[derive(Parser)]
enum Args {
    /// Send one file to a receiver
    Send {
        /// The file to send
        path: PathBuf,
        /// The receiver's address
        #[arg(long, default_value = "127.0.0.1:9100")]
        addr: String,
    },
    /// Receive files into DIR (created if missing)
    Recv {
        /// Where files go
        dir: PathBuf,
        /// Address to listen on (port 0 picks a free port)
        #[arg(long, default_value = "127.0.0.1:9100")]
        addr: String,
        /// Exit after the first transfer (0 if the file arrived)
        #[arg(long)]
        once: bool,
        /// Largest file accepted, in bytes
        #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
        max_size: u64,
    },
}

/// 8-byte headers (`!Q`); frames read whole (the metadata, the answers) of
/// at most 8 MiB. The content is streamed, with a limit of its own.
fn codec() -> Codec {
    Codec::from_format("!Q").expect("a valid format")
}

fn main() -> ExitCode {
    let result = match Args::parse() {
        Args::Send { path, addr } => send(&path, &addr),
        Args::Recv {
            dir,
            addr,
            once,
            max_size,
        } => recv(&dir, &addr, once, max_size),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("file_transfer: {err}");
            ExitCode::FAILURE
        }
    }
}

fn send(path: &Path, addr: &str) -> Result<()> {
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let size = file.metadata()?.len();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the file name is not UTF-8")?;
    let stream = TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    // One socket, two borrows: a reader for the answers, a writer for the rest.
    let mut reader = codec().new_read(&stream);
    let mut writer = codec().new_write(&stream);
    writer.write_frame([&size.to_be_bytes(), name.as_bytes()].concat())?;
    writer.flush()?;
    answer(&mut reader, "go")?; // the receiver takes the file, or says why not
    let start = Instant::now();
    writer.write_frame_from(size, &mut file)?; // from the file, a buffer at a time
    writer.flush()?;
    answer(&mut reader, "ok")?;
    let secs = start.elapsed().as_secs_f64();
    let _ = writeln!(io::stdout(), "sent {name}: {size} bytes in {secs:.1}s");
    Ok(())
}

/// Reads the receiver's next answer; Ok if it is `want`.
fn answer(reader: &mut FrameReader<&TcpStream>, want: &str) -> Result<()> {
    match reader.read_frame()? {
        Some(answer) if answer == want => Ok(()),
        Some(answer) => {
            Err(format!("the receiver says: {}", String::from_utf8_lossy(&answer)).into())
        }
        None => Err("the receiver closed the connection without an answer".into()),
    }
}

/// Serves one sender at a time, as the tutorials' servers do.
fn recv(dir: &Path, addr: &str, once: bool, max_size: u64) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    // Output to a closed stdout (`| head`) is not worth stopping for.
    let _ = writeln!(io::stdout(), "listening on {}", listener.local_addr()?);
    loop {
        let (conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                // E.g. out of file descriptors: wait for some to close.
                eprintln!("accept: {err}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let received = receive(&conn, dir, max_size);
        let reply = match &received {
            Ok((path, size)) => {
                let _ = writeln!(
                    io::stdout(),
                    "{peer}: saved {} ({size} bytes)",
                    path.display()
                );
                "ok".to_owned()
            }
            Err(err) => {
                eprintln!("{peer}: {err}");
                format!("error: {err}")
            }
        };
        let mut writer = codec().new_write(&conn);
        let _ = writer.write_frame(reply).and_then(|()| writer.flush());
        if received.is_err() {
            // The sender may still be sending: read and discard the rest
            // (a few seconds of silence at most), so that closing with
            // unread bytes does not reset the connection and destroy the
            // answer before the sender reads it.
            let _ = conn.shutdown(Shutdown::Write);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = io::copy(&mut (&conn).take(max_size), &mut io::sink());
        }
        if once {
            return received.map(drop).map_err(|_| "the transfer failed".into());
        }
    }
}

/// Receives one file from `conn` into `dir`: where it went, and its size.
fn receive(conn: &TcpStream, dir: &Path, max_size: u64) -> Result<(PathBuf, u64)> {
    conn.set_read_timeout(Some(Duration::from_secs(60)))?; // a silent sender
    let mut reader = codec().new_read(conn);
    let mut writer = codec().new_write(conn);
    let meta = reader
        .read_frame()?
        .ok_or("the sender closed before the metadata")?;
    let (size, name) = meta
        .split_at_checked(8)
        .ok_or("the metadata frame is too short")?;
    let size = u64::from_be_bytes(size.try_into()?);
    let name = std::str::from_utf8(name).map_err(|_| "the file name is not UTF-8")?;
    // One plain name: not `..`, not `/etc/x`, not `a/b`.
    let mut parts = Path::new(name).components();
    let plain = matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    );
    if !plain || name.contains(['/', '\\']) {
        return Err(format!("refusing file name {name:?}: not a plain file name").into());
    }
    let target = dir.join(name);
    if target.exists() {
        return Err(format!("refusing {name}: {} already exists", target.display()).into());
    }
    if size > max_size {
        return Err(format!("refusing {name}: {size} bytes is over --max-size {max_size}").into());
    }
    // Into NAME.part first, so a cut transfer never leaves a file that looks
    // whole; `create_new`: a NAME.part that is already there is not ours.
    let part = dir.join(format!("{name}.part"));
    let mut file = File::create_new(&part)
        .map_err(|e| format!("refusing {name}: cannot create {}: {e}", part.display()))?;
    writer.write_frame("go")?;
    writer.flush()?;
    if let Err(err) = receive_content(&mut reader, &mut file, size, max_size) {
        let _ = fs::remove_file(&part);
        return Err(format!("receiving {name}: {err}").into());
    }
    fs::rename(&part, &target)?;
    Ok((target, size))
}

/// The content frame, `size` bytes, streamed into `file`.
fn receive_content(
    reader: &mut FrameReader<&TcpStream>,
    file: &mut File,
    size: u64,
    max_size: u64,
) -> Result<()> {
    let limit = usize::try_from(max_size).unwrap_or(usize::MAX);
    let mut content = reader
        .read_frame_stream(limit)?
        .ok_or("the sender closed before the content")?;
    if content.len() != size {
        return Err(format!("the content frame has {} bytes, not {size}", content.len()).into());
    }
    io::copy(&mut content, file)?; // ends at the frame's end: all `size` bytes
    Ok(())
}
