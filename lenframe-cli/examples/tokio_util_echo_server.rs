//! The reference of the echo bench (`cargo bench -p lenframe-cli`): the echo server a tokio user writes
//! without lenframe, in the six lines that matter (tokio-util's
//! `Framed<TcpStream, LengthDelimitedCodec>`, split, `stream.forward(sink)`).
//! It reads and writes `!I` frames (4-byte big-endian length, 8 MiB max, as
//! `LengthDelimitedCodec::new()` does). Nothing more: no limits, no logging
//! beyond the `listening on` line, no shutdown handling.
//!
//! ```text
//! cargo run --release -p lenframe-cli --example tokio_util_echo_server -- [--addr HOST:PORT]
//! ```

use std::io::Write as _;
use std::process::ExitCode;

use futures_util::StreamExt;
use tokio::net::TcpListener;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:9000".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(a)) => addr = a,
            ("--help" | "-h", _) => {
                println!("usage: tokio_util_echo_server [--addr HOST:PORT]");
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("tokio_util_echo_server: unknown argument {arg:?} (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio_util_echo_server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match TcpListener::bind(&addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("tokio_util_echo_server: cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let local = listener.local_addr().expect("bound address");
        let _ = writeln!(std::io::stdout(), "listening on {local}");
        // The six lines.
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let (sink, stream) = Framed::new(socket, LengthDelimitedCodec::new()).split();
                let _ = stream
                    .map(|frame| frame.map(|f| f.freeze()))
                    .forward(sink)
                    .await;
            });
        }
    })
}
