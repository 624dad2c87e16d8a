//! `echo_server` on tokio, for many thousands of connections: the same CLI
//! and behaviour (TCP framed echo, UDP echo on the same port), built on
//! lenframe's `FrameCodec` (feature `tokio`).
//!
//! ```text
//! cargo run --release --features tokio --example tokio_echo_server -- \
//!     [--addr HOST:PORT] [--header FMT] [--max-frame BYTES] [--max-conns N] [--idle-timeout SECS]
//! ```

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cli::ServerConfig as Config;
use futures_util::{SinkExt, StreamExt};
use lenframe::Error;

#[path = "common/cli.rs"]
mod cli;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

/// Echoes queued per connection before its reader waits for the writer.
const QUEUE_FRAMES: usize = 1024;

fn main() -> ExitCode {
    let config = match cli::server_config("tokio_echo_server", 16384) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio_echo_server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(Arc::new(config)))
}

async fn serve(config: Arc<Config>) -> ExitCode {
    let listener = match TcpListener::bind(&config.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tokio_echo_server: cannot listen on {}: {e}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().expect("bound address");
    match UdpSocket::bind(local).await {
        Ok(udp) => {
            tokio::spawn(udp_echo(udp));
        }
        Err(e) => eprintln!("tokio_echo_server: no UDP echo on {local}: {e}"),
    }
    println!("listening on {local}");
    let _ = std::io::stdout().flush();
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                eprintln!("tokio_echo_server: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if active.load(Ordering::SeqCst) >= config.max_conns {
            eprintln!(
                "{peer}: refused, {} connections already open",
                config.max_conns
            );
            continue; // dropping the stream closes it
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (config, active) = (Arc::clone(&config), Arc::clone(&active));
        tokio::spawn(async move {
            if let Err(e) = connection(stream, peer, &config).await {
                eprintln!("{peer}: {e}");
            }
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// One connection: a reader task feeding a writer task through a bounded
/// channel, so a client that pipelines before reading never deadlocks us.
async fn connection(stream: TcpStream, peer: SocketAddr, config: &Config) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let (read_half, write_half) = stream.into_split();
    let mut frames = FramedRead::new(read_half, config.codec.new_tokio_codec());
    let mut sink = FramedWrite::new(write_half, config.codec.new_tokio_codec());
    let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUE_FRAMES);
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            sink.feed(frame).await?;
            while let Ok(more) = rx.try_recv() {
                sink.feed(more).await?;
            }
            SinkExt::<Bytes>::flush(&mut sink).await?;
        }
        SinkExt::<Bytes>::close(&mut sink).await // flushes, then shuts down our write side
    });
    let result = loop {
        let next = match config.idle_timeout {
            None => frames.next().await,
            Some(limit) => match tokio::time::timeout(limit, frames.next()).await {
                Ok(item) => item,
                Err(_)
                    if frames.read_buffer().is_empty()
                        && frames.decoder().decoder().is_at_boundary() =>
                {
                    continue;
                }
                Err(_) => {
                    let msg = format!("stalled mid-frame for {}s, closing", limit.as_secs_f64());
                    break Err(std::io::Error::new(std::io::ErrorKind::TimedOut, msg).into());
                }
            },
        };
        match next {
            Some(Ok(frame)) => {
                if tx.send(frame).await.is_err() {
                    break Ok(()); // the writer failed; it reports why
                }
            }
            None => break Ok(()),
            Some(Err(e)) => break Err(e),
        }
    };
    drop(tx);
    if result.is_err() {
        writer.abort();
        return result;
    }
    match writer.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(e) => {
            eprintln!("{peer}: writer task failed: {e}");
            Ok(())
        }
    }
}

async fn udp_echo(socket: UdpSocket) {
    let mut buf = vec![0u8; 65536];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                if let Err(e) = socket.send_to(&buf[..n], peer).await {
                    eprintln!("{peer} (udp): {e}");
                }
            }
            Err(e) => {
                eprintln!("tokio_echo_server: udp receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
