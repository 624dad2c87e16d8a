//! A bounded soak of `lenframe serve` (ignored by default: it runs for a
//! minute): good and hostile clients and reconnect churn at once; the
//! server must echo every good frame intact, keep its memory flat and leak
//! no file descriptor. Prints one summary line.
//!
//! ```text
//! cargo test --release -p lenframe-cli --test soak -- --ignored --nocapture
//! SOAK_SECS=600 cargo test --release -p lenframe-cli --test soak -- --ignored --nocapture
//! ```

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{fd_count, rss_bytes, Server, TIMEOUT};
use lenframe::{Codec, HeaderFormat};

/// Bounded soak of `lenframe serve` on loopback: well-behaved clients (burst,
/// pipelined, interactive-sized), hostile clients (oversize, negative,
/// garbage, reset mid-frame, stall) and reconnect churn, for SOAK_SECS
/// seconds (default 60). Run with
/// `cargo test --release -p lenframe-cli --test soak -- --ignored --nocapture`.
#[test]
#[ignore = "soak: runs for SOAK_SECS (default 60) seconds"]
fn soak() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let server = Server::start(&["--header", "i", "--idle-timeout", "2"]);
    let pid = server.child.id();
    let codec = Codec::new("i".parse::<HeaderFormat>().unwrap());
    thread::sleep(Duration::from_millis(200));
    let fd_base = fd_count(pid).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let addr = server.addr;
    let good_frames = Arc::new(AtomicU64::new(0));
    let hostile_conns = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for kind in 0..6u32 {
        let (good, bad) = (Arc::clone(&good_frames), Arc::clone(&hostile_conns));
        workers.push(thread::spawn(move || {
            let mut round = 0u32;
            while Instant::now() < deadline {
                round += 1;
                let s = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
                s.set_read_timeout(Some(TIMEOUT)).unwrap();
                match kind {
                    // Well-behaved: burst, pipelined, interactive-sized.
                    0..=2 => {
                        let (count, size) = [(2000, 16), (200, 20_000), (20, 300)][kind as usize];
                        let mut w = codec.new_write(&s);
                        let mut r = codec.new_read(s.try_clone().unwrap());
                        let payload = move |i: usize| vec![(i as u32 ^ round) as u8; size];
                        if kind == 2 {
                            for i in 0..count {
                                w.write_frame(payload(i)).unwrap();
                                w.flush().unwrap();
                                assert_eq!(r.read_frame().unwrap().unwrap(), payload(i));
                            }
                        } else {
                            let reader = thread::spawn(move || {
                                for i in 0..count {
                                    assert_eq!(r.read_frame().unwrap().unwrap(), payload(i));
                                }
                            });
                            for i in 0..count {
                                w.write_frame(payload(i)).unwrap();
                            }
                            w.flush().unwrap();
                            reader.join().expect("echoes intact");
                        }
                        good.fetch_add(count as u64, Ordering::Relaxed);
                    }
                    // Hostile: oversize / negative / garbage, then EOF.
                    3 => {
                        let bytes: [&[u8]; 3] = [
                            &i32::MAX.to_ne_bytes(),
                            &(-7i32).to_ne_bytes(),
                            b"\xde\xad\xbe\xefjunk",
                        ];
                        let _ = (&s).write_all(bytes[round as usize % 3]);
                        let _ = (&s).read(&mut [0u8; 16]);
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                    // Hostile: reset mid-frame (unread echo data + close = RST).
                    4 => {
                        let mut wire = Vec::new();
                        codec.encode_to_vec(b"echo", &mut wire).unwrap();
                        wire.extend_from_slice(&100i32.to_ne_bytes());
                        let _ = (&s).write_all(&wire);
                        thread::sleep(Duration::from_millis(5));
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                    // Hostile: stall mid-header until the idle timeout.
                    _ => {
                        let _ = (&s).write_all(&[1, 0]);
                        let _ = (&s).read(&mut [0u8; 1]); // closed by the server
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let mut rss_samples = Vec::new();
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(500));
        if let Some(rss) = rss_bytes(pid) {
            rss_samples.push(rss);
        }
    }
    for w in workers {
        w.join().expect("a well-behaved client saw a bad echo");
    }
    assert!(server.is_running(), "server died");
    server.assert_serves_with(codec);
    // Let the server close what the clients left behind.
    let mut fds = usize::MAX;
    for _ in 0..50 {
        fds = fd_count(pid).unwrap_or(0);
        if fds <= fd_base {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let plateau = rss_samples.get(rss_samples.len() / 2).copied().unwrap_or(0);
    let end = rss_bytes(pid).unwrap_or(0);
    println!(
        "soak {secs}s: {} good frames echoed intact, {} hostile connections, 0 server crashes, \
         rss plateau {} KB end {} KB, fds {fds} (baseline {fd_base})",
        good_frames.load(Ordering::Relaxed),
        hostile_conns.load(Ordering::Relaxed),
        plateau / 1024,
        end / 1024
    );
    assert!(
        end as f64 <= plateau as f64 * 1.10 + 1_000_000.0,
        "rss grew: {plateau} -> {end}"
    );
    assert!(
        fds <= fd_base,
        "file descriptors leaked: {fd_base} -> {fds}"
    );
}
