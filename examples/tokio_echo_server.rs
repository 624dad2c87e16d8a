//! A framed TCP echo server on tokio: `tokio_util::codec::Framed` with
//! lenframe's `FrameCodec`, a task per connection (feature `tokio`).
//!
//! ```text
//! cargo run --release --features tokio --example tokio_echo_server
//! cargo run --release --features tokio --example tokio_echo_server -- --header i --addr 127.0.0.1:9001
//! ```
//!
//! What it teaches:
//!
//! * `Framed::new(socket, FrameCodec::new(codec))` is a `Stream` of
//!   `Result<Bytes, lenframe::Error>` and a `Sink` of what the blocking
//!   `send` takes (`Bytes`, `&str`, `Vec<u8>`, ...): the same frames,
//!   limits and errors as the blocking `Framed` of `echo_server`.
//! * Echoes are fed (buffered) while more frames are ready, and flushed
//!   once none is (`now_or_never` polls the stream without waiting): the
//!   echoes of frames that arrived together leave in one write, so a
//!   client that pipelines is not slowed down by a flush per frame.
//! * A peer's bad header ends its own task with an error whose message
//!   says what the bytes looked like; every other connection goes on.
//! * `--max-conns` is a semaphore: a connection over the limit is refused.
//!
//! stdout: `listening on ADDR`. stderr: one line per refused or
//! misbehaving peer. Ctrl-C ends it.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use futures_util::{FutureExt, SinkExt, StreamExt};
use lenframe::{Codec, FrameCodec, HeaderFormat};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::codec::Framed;

/// A framed TCP echo server on tokio (a task per connection).
#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: String,
    /// Python struct format of the length header (peers that send
    /// struct.pack('i', n) need i) or varint (protobuf-delimited)
    #[arg(long, value_name = "FMT", default_value = "!I")]
    header: HeaderFormat,
    /// Largest payload accepted, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = lenframe::DEFAULT_MAX_FRAME_LEN)]
    max_frame: usize,
    /// Connections served at once; more are refused
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_conns: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // 10,000 sockets need more than the usual soft limit of 1,024 open
    // files: raise it to the hard limit.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let listener = match TcpListener::bind(&args.addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("tokio_echo_server: cannot listen on {}: {err}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    // A closed stdout is no reason to stop serving: errors are ignored.
    let _ = writeln!(std::io::stdout(), "listening on {addr}");
    let codec = Codec::builder()
        .format(args.header)
        .max_frame_len(args.max_frame)
        .build()
        .expect("a format and a maximum length always make a valid codec");
    let slots = Arc::new(Semaphore::new(args.max_conns));
    loop {
        let (conn, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // E.g. out of file descriptors: wait for some to close.
                eprintln!("accept: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            eprintln!(
                "{peer}: refused: {} connections open (--max-conns)",
                args.max_conns
            );
            continue; // dropping `conn` closes it
        };
        tokio::spawn(async move {
            if let Err(err) = echo(conn, codec).await {
                eprintln!("{peer}: {err}");
            }
            drop(slot); // frees the connection's place
        });
    }
}

/// Echoes every frame of one connection until the peer closes it.
async fn echo(conn: TcpStream, codec: Codec) -> lenframe::Result<()> {
    let mut framed = Framed::new(conn, FrameCodec::new(codec));
    while let Some(frame) = framed.next().await {
        let mut frame = frame?;
        // Frames already here are fed (buffered); the last one is sent
        // (fed, then everything flushed in one write). A bad frame after
        // good ones: their echoes go out first, then the error ends it.
        while let Some(Some(next)) = framed.next().now_or_never() {
            match next {
                Ok(next) => {
                    framed.feed(frame).await?;
                    frame = next;
                }
                Err(err) => {
                    framed.send(frame).await?;
                    return Err(err);
                }
            }
        }
        framed.send(frame).await?;
    }
    Ok(())
}
