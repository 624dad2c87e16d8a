//! The sticky-packet problem and its cure, in one run on loopback.
//!
//! ```text
//! cargo run --example sticky_demo
//! ```
//!
//! It takes no options (`--help` says what it shows). A closed stdout
//! (`| head -2`) ends it quietly.
//!
//! 1. A naive sender writes `jason`, `kevin`, `toney` as three `send`s; a
//!    naive receiver's single `recv(1024)` gets them merged.
//! 2. The same three messages through lenframe arrive as three.
//! 3. A 100 000-byte message: `recv(1024)` gets a piece; lenframe
//!    reassembles the whole of it.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use clap::Parser;
use lenframe::{FrameReader, FrameWriter};

const NAMES: [&str; 3] = ["jason", "kevin", "toney"];

/// Shows the sticky-packet problem (粘包) and its cure on loopback:
///   1. three send() calls, one recv(1024): the messages arrive stuck together
///   2. the same messages through lenframe: they arrive as three
///   3. a 100000-byte message: recv(1024) gets a piece, lenframe all of it
#[derive(Parser)]
#[command(verbatim_doc_comment)]
struct Args {}

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
    Args::parse();
    match demo(&mut io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        // stdout was closed (`| head`): nobody reads the rest.
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sticky_demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo(out: &mut impl Write) -> Result<(), Box<dyn std::error::Error>> {
    writeln!(
        out,
        "1. without framing: three send() calls, one recv(1024)"
    )?;
    let (mut tx, mut rx) = pair()?;
    for name in NAMES {
        writeln!(out, "   send {name:?}")?;
        tx.write_all(name.as_bytes())?;
    }
    wait_for(&rx, 15)?;
    let mut buf = [0u8; 1024];
    let n = rx.read(&mut buf)?;
    writeln!(
        out,
        "   recv(1024) -> {:?}   <- stuck together",
        String::from_utf8_lossy(&buf[..n])
    )?;

    writeln!(out, "2. with lenframe: the same three messages")?;
    let (tx, rx) = pair()?;
    let mut writer = FrameWriter::new(tx);
    for name in NAMES {
        writer.write_frame(name.as_bytes())?;
    }
    writer.flush()?;
    drop(writer); // closes the sender: end of stream after the third frame
    for frame in FrameReader::new(rx) {
        writeln!(
            out,
            "   read_frame() -> {:?}",
            String::from_utf8_lossy(&frame?)
        )?;
    }

    writeln!(out, "3. one large message (100000 bytes)")?;
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (mut tx, mut rx) = pair()?;
    tx.write_all(&big)?;
    wait_for(&rx, 2048)?;
    let n = rx.read(&mut buf)?;
    writeln!(
        out,
        "   without framing: recv(1024) -> {n} bytes, the rest is left for the next recv"
    )?;
    let (tx, rx) = pair()?;
    let sender = std::thread::spawn(move || -> lenframe::Result<()> {
        let mut writer = FrameWriter::new(tx);
        writer.write_frame(&big)?;
        writer.flush()
    });
    let mut reader = FrameReader::new(rx);
    let frame = reader.read_frame()?.ok_or("the sender closed early")?;
    sender.join().expect("sender")?;
    let intact = frame.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8);
    writeln!(
        out,
        "   with lenframe: read_frame() -> {} bytes, intact: {intact}",
        frame.len()
    )?;
    Ok(())
}
