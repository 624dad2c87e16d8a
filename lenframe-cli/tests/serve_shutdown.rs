//! `lenframe serve`'s shutdown loses nothing: clients that pipelined until
//! their writes blocked, then read everything after SIGINT, receive
//! exactly the echoes the summary line counts, every connection ends in
//! a FIN (never an RST), and the server exits 0 within its bound.
//!
//! Every process started here is killed when its handle drops; every wait
//! has a timeout.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{frames, write_until_blocked, Server, TIMEOUT};

/// Frames of this many payload bytes, as in the reproduction.
const SIZE: usize = 16 * 1024;

/// One test of this file at a time: each loads the machine with dozens of
/// client threads, and the shutdown bound is a wall-clock one. Run side by
/// side on two cores, the tests took each other's CPU from the server
/// (one CI run measured an exit 2.6 s after the signal, where alone it
/// takes 1.6 to 1.9 s).
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that failed (poisoning the lock) has already said so.
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads to EOF; returns how many whole frames of `wire` came back (every
/// byte is checked against `wire`). An RST (ECONNRESET) fails.
fn read_to_end_checked(mut s: &TcpStream, wire: &[u8], who: usize) -> u64 {
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = Vec::new();
    if let Err(e) = s.read_to_end(&mut got) {
        panic!(
            "client {who}: {e} after {} echoed bytes (a close that sent an RST?)",
            got.len()
        );
    }
    assert!(
        got.len() <= wire.len() && got[..] == wire[..got.len()],
        "client {who}: the echoes differ from what was sent"
    );
    let frame = 4 + SIZE;
    assert_eq!(got.len() % frame, 0, "client {who}: a frame echoed in part");
    (got.len() / frame) as u64
}

#[test]
fn sigint_delivers_every_counted_echo_and_no_connection_ends_in_a_reset() {
    let _alone = one_at_a_time();
    let mut server = Server::start(&["--conn-budget", "1M"]);
    let clients = 20;
    // Enough frames that every client's writes block: the budget, the
    // server's socket buffers and the client's own.
    let wire = frames(2_000, SIZE);
    let streams: Vec<TcpStream> = (0..clients).map(|_| server.connect()).collect();
    let written: Vec<usize> = thread::scope(|scope| {
        let handles: Vec<_> = streams
            .iter()
            .map(|s| scope.spawn(|| write_until_blocked(s, &wire, Duration::from_millis(500))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, &n) in written.iter().enumerate() {
        assert!(n < wire.len(), "client {i} never blocked ({n} bytes)");
    }
    server.interrupt();
    let signalled = Instant::now();
    let received: Vec<u64> = thread::scope(|scope| {
        let handles: Vec<_> = streams
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let wire = &wire[..written[i]];
                scope.spawn(move || read_to_end_checked(s, wire, i))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let (status, _) = server.wait_exit();
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "stderr: {}", server.stderr());
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    let total: u64 = received.iter().sum();
    let summary = server.line_starting("shutdown:");
    let bytes = total * SIZE as u64;
    assert_eq!(
        summary,
        format!(
            "shutdown: {clients} connections served, {total} frames ({bytes} bytes) echoed, 0 refused"
        ),
        "the clients received {received:?}"
    );
}

#[test]
fn at_shutdown_a_client_still_sending_is_read_until_it_has_its_echoes() {
    let _alone = one_at_a_time();
    // One client blocked in a long write when the signal comes: the server
    // reads (and drops) the rest, so the write completes and the client
    // then reads every echo counted, and EOF.
    let mut server = Server::start(&["--conn-budget", "64K"]);
    // Small socket buffers on the client (no autotuning): 16 MB cannot
    // all fit in the buffers on the way, however the kernel has tuned the
    // server's (one CI run saw a normal client's write complete).
    let s = common::small_buffer_client(server.addr);
    let wire = frames(1_000, SIZE);
    let writer = {
        let s = s.try_clone().unwrap();
        let wire = wire.clone();
        thread::spawn(move || {
            s.set_write_timeout(Some(TIMEOUT)).unwrap();
            (&s).write_all(&wire)
        })
    };
    // Let it block on the budget.
    thread::sleep(Duration::from_millis(500));
    assert!(!writer.is_finished(), "the write should be blocked by now");
    server.interrupt();
    writer
        .join()
        .unwrap()
        .expect("the server reads to the end of the write at shutdown");
    let got = read_to_end_checked(&s, &wire, 0);
    assert!(got > 0, "no echo before the signal");
    let (status, _) = server.wait_exit();
    assert_eq!(status.code(), Some(0));
    let summary = server.line_starting("shutdown:");
    assert!(
        summary.starts_with(&format!("shutdown: 1 connections served, {got} frames (")),
        "client received {got}: {summary}"
    );
}

#[test]
fn peers_that_never_stop_sending_do_not_hold_the_shutdown_past_its_bound() {
    let _alone = one_at_a_time();
    // Clients that write 1 MiB frames without pause and never read: the
    // server drops their input at most 1 MiB a turn and closes what is
    // left at its deadline, so it still exits 0 within its bound (2 s,
    // with 0.5 s here for the process to be reaped on a busy machine).
    let mut server = Server::start(&[]);
    let stop = std::sync::atomic::AtomicBool::new(false);
    thread::scope(|scope| {
        for _ in 0..32 {
            let s = server.connect();
            let stop = &stop;
            scope.spawn(move || {
                let frame = frames(1, 1 << 20);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if (&s).write_all(&frame).is_err() {
                        break;
                    }
                }
            });
        }
        thread::sleep(Duration::from_millis(500));
        server.interrupt();
        let signalled = Instant::now();
        let (status, _) = server.wait_exit();
        let took = signalled.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(status.code(), Some(0), "stderr: {}", server.stderr());
        assert!(
            took < Duration::from_millis(2500),
            "exit {took:?} after the signal"
        );
    });
    assert!(server
        .line_starting("shutdown:")
        .starts_with("shutdown: 32 connections served"));
}
