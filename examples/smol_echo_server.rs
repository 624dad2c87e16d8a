//! A framed TCP echo server on smol: `asynchronous_codec::Framed` with
//! lenframe's `FrameCodec`, over any futures-io socket (feature
//! `futures-io`; the same code runs on async-std or a libp2p substream).
//!
//! ```text
//! cargo run --release --features futures-io --example smol_echo_server
//! cargo run --release --features futures-io --example smol_echo_server -- --header i
//! ```
//!
//! What it teaches:
//!
//! * `Framed::new(socket, FrameCodec::new(codec))` is a `Stream` of
//!   `Result<Bytes, lenframe::Error>` and a `Sink` of `&[u8]`.
//! * Echoes are fed (buffered) while more frames are ready, and flushed
//!   once none is (`now_or_never` polls the stream without waiting): the
//!   echoes of frames that arrived together leave in one write, and a
//!   client that pipelines is not slowed down by a flush per frame.
//! * asynchronous-codec, unlike tokio-util, does not end a stream after an
//!   error: stop at the first `Err` (the `?` below) and drop the
//!   connection, which closes it.
//!
//! stdout: `listening on ADDR`. stderr: one line per misbehaving peer.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use asynchronous_codec::Framed;
use clap::Parser;
use futures_util::{FutureExt, SinkExt, StreamExt};
use lenframe::{Codec, FrameCodec, HeaderFormat};
use smol::net::{TcpListener, TcpStream};

/// A framed TCP echo server on smol (a task per connection).
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
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Many sockets need more than the usual soft limit of 1,024 open
    // files: raise it to the hard limit.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let codec = Codec::builder()
        .format(args.header)
        .max_frame_len(args.max_frame)
        .build()
        .expect("a format and a maximum length always make a valid codec");
    smol::block_on(async {
        let listener = match TcpListener::bind(&args.addr).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("smol_echo_server: cannot listen on {}: {err}", args.addr);
                return ExitCode::FAILURE;
            }
        };
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        // A closed stdout is no reason to stop serving: errors are ignored.
        let _ = writeln!(std::io::stdout(), "listening on {addr}");
        loop {
            let (conn, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    // E.g. out of file descriptors: wait for some to close.
                    eprintln!("accept: {err}");
                    smol::Timer::after(Duration::from_millis(100)).await;
                    continue;
                }
            };
            smol::spawn(async move {
                if let Err(err) = echo(conn, codec).await {
                    eprintln!("{peer}: {err}");
                }
            })
            .detach();
        }
    })
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
                    framed.feed(&frame[..]).await?;
                    frame = next;
                }
                Err(err) => {
                    framed.send(&frame[..]).await?;
                    return Err(err);
                }
            }
        }
        framed.send(&frame[..]).await?;
    }
    Ok(())
}
