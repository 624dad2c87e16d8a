//! The sticky-packet problem and its cure, in one run on loopback.
//!
//! ```text
//! cargo run --example sticky_demo
//! ```
//!
//! It takes no options: `--help` prints what it shows; anything else is
//! refused (exit 2).
//!
//! 1. A naive sender writes `jason`, `kevin`, `toney` as three `send`s; a
//!    naive receiver's single `recv(1024)` gets them merged.
//! 2. The same three messages through lenframe arrive as three.
//! 3. A 100 000-byte message: `recv(1024)` gets a piece; lenframe
//!    reassembles the whole of it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use lenframe::{FrameReader, FrameWriter};

#[path = "common/cli.rs"]
mod cli;

const NAMES: [&str; 3] = ["jason", "kevin", "toney"];

const USAGE: &str = "usage: sticky_demo
Shows the sticky-packet problem and its cure on loopback, in three steps:
  1. three send() calls, one recv(1024): the messages arrive stuck together
  2. the same messages through lenframe: they arrive as three
  3. a 100000-byte message: recv(1024) gets a piece, lenframe all of it
It takes no options.";

/// A connected loopback pair: (sender, receiver).
fn pair() -> std::io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let sender = TcpStream::connect(listener.local_addr()?)?;
    let (receiver, _) = listener.accept()?;
    Ok((sender, receiver))
}

/// Reads until `want` bytes have arrived, so the demo output does not
/// depend on timing (the naive receiver below still sees them merged).
fn wait_for(stream: &TcpStream, want: usize) -> std::io::Result<()> {
    let mut probe = vec![0u8; want];
    while stream.peek(&mut probe)? < want {
        std::thread::yield_now();
    }
    Ok(())
}

fn main() -> ExitCode {
    if let Err(exit) = cli::parse_cli("sticky_demo", USAGE, |flags| match flags.next_flag() {
        Some(flag) => Err(cli::unknown(&flag)),
        None => Ok(()),
    }) {
        return exit;
    }
    match demo() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sticky_demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo() -> Result<(), Box<dyn std::error::Error>> {
    cli::say!("1. without framing: three send() calls, one recv(1024)");
    let (mut tx, mut rx) = pair()?;
    for name in NAMES {
        cli::say!("   send {name:?}");
        tx.write_all(name.as_bytes())?;
    }
    wait_for(&rx, 15)?;
    let mut buf = [0u8; 1024];
    let n = rx.read(&mut buf)?;
    cli::say!(
        "   recv(1024) -> {:?}   <- stuck together",
        String::from_utf8_lossy(&buf[..n])
    );

    cli::say!("2. with lenframe: the same three messages");
    let (tx, rx) = pair()?;
    let mut writer = FrameWriter::new(tx);
    for name in NAMES {
        writer.write_frame(name.as_bytes())?;
    }
    writer.flush()?;
    drop(writer); // closes the sender: end of stream after the third frame
    for frame in FrameReader::new(rx) {
        cli::say!("   read_frame() -> {:?}", String::from_utf8_lossy(&frame?));
    }

    cli::say!("3. one large message (100000 bytes)");
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (mut tx, mut rx) = pair()?;
    tx.write_all(&big)?;
    wait_for(&rx, 2048)?;
    let n = rx.read(&mut buf)?;
    cli::say!("   without framing: recv(1024) -> {n} bytes, the rest is left for the next recv");
    let (tx, rx) = pair()?;
    let sender = std::thread::spawn(move || -> lenframe::Result<()> {
        let mut writer = FrameWriter::new(tx);
        writer.write_frame(&big)?;
        writer.flush()
    });
    let mut reader = FrameReader::new(rx);
    let frame = reader.read_frame()?.expect("one frame");
    sender.join().expect("sender")?;
    let intact = frame.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8);
    cli::say!(
        "   with lenframe: read_frame() -> {} bytes, intact: {intact}",
        frame.len()
    );
    Ok(())
}
