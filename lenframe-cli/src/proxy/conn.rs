//! One client connection: connect to the upstream, pump both directions
//! (one thread each), propagate half-closes, and close both sides when
//! either fails.

use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use lenframe::Codec;
use socket2::SockRef;

use super::pump::{End, Pump};
use super::report::{Dir, Report, Tally};

/// How long to wait for the upstream to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection shares.
pub struct Setup {
    pub upstream: SocketAddr,
    /// The clients' frames.
    pub client: Codec,
    /// The server's frames.
    pub server: Codec,
    /// Re-frame between the two (the formats differ).
    pub translate: bool,
    pub report: Report,
}

/// Serves connection `conn` from `peer` until both sides are done.
pub fn serve(setup: &Setup, conn: u64, client: TcpStream, peer: SocketAddr) {
    let report = &setup.report;
    report.connected(conn, peer);
    let server = match TcpStream::connect_timeout(&setup.upstream, CONNECT_TIMEOUT) {
        Ok(server) => server,
        Err(e) => {
            let message = format!(
                "cannot connect to the upstream {}: {e}; closing the client",
                setup.upstream
            );
            report.error(conn, None, &message);
            report.closed(
                conn,
                Tally::default(),
                Tally::default(),
                Some("upstream unreachable"),
            );
            return;
        }
    };
    // Each write goes out as it is made: the proxy adds no delay.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let state = State {
        setup,
        conn,
        client: &client,
        server: &server,
        failed: AtomicBool::new(false),
        reason: OnceLock::new(),
    };
    let (up, down) = thread::scope(|s| {
        let down = s.spawn(|| state.pump(Dir::ServerToClient));
        let up = state.pump(Dir::ClientToServer);
        // A panic in the other thread is a bug; its direction counts nothing.
        (up, down.join().unwrap_or_default())
    });
    report.closed(conn, up, down, state.reason.get().map(String::as_str));
}

/// A connection being pumped.
struct State<'a> {
    setup: &'a Setup,
    conn: u64,
    client: &'a TcpStream,
    server: &'a TcpStream,
    /// A direction failed and closed both sides: the other direction's
    /// end is a consequence, not news.
    failed: AtomicBool,
    /// Why the connection ended, if not by both sides closing.
    reason: OnceLock<String>,
}

impl State<'_> {
    /// Pumps direction `dir` to its end, then half-closes (the sender
    /// closed) or closes both sides (an error).
    fn pump(&self, dir: Dir) -> Tally {
        let setup = self.setup;
        let (from, to, codec, target) = match dir {
            Dir::ClientToServer => (self.client, self.server, setup.client, setup.server),
            Dir::ServerToClient => (self.server, self.client, setup.server, setup.client),
        };
        let pump = Pump {
            conn: self.conn,
            dir,
            report: &setup.report,
            codec,
            target: setup.translate.then_some(target),
        };
        let (tally, end) = pump.run(from, to);
        // A side that reset the connection: the other side is reset too.
        let mut reset = None;
        let failure = match end {
            End::Eof => None,
            End::Cut(offset, error) => {
                if setup.translate {
                    Some((format!("cut short at byte {offset}: {error}"), true))
                } else {
                    if !self.failed.load(Ordering::SeqCst) {
                        let t = setup.report.now();
                        setup.report.truncated(self.conn, dir, t, offset, &error);
                    }
                    None
                }
            }
            End::Read(e) => {
                if e.kind() == ErrorKind::ConnectionReset {
                    reset = Some(to);
                }
                Some((format!("cannot read from the {}: {e}", dir.sender()), false))
            }
            End::Write(e) => {
                if e.kind() == ErrorKind::ConnectionReset {
                    reset = Some(from);
                }
                Some((
                    format!("cannot write to the {}: {e}", dir.receiver()),
                    false,
                ))
            }
            End::Bad(message) => Some((message, true)),
        };
        match failure {
            None => {
                // The sender is done: the receiver reads EOF after the rest.
                let _ = to.shutdown(Shutdown::Write);
            }
            Some((message, is_error)) => {
                let first = !self.failed.swap(true, Ordering::SeqCst);
                if first {
                    if is_error {
                        setup.report.error(self.conn, Some(dir), &message);
                    }
                    let _ = self.reason.set(format!("{}: {message}", dir.name()));
                }
                match reset {
                    // The proxy never turns a reset into a clean end: the
                    // other side's socket closes with SO_LINGER 0 (a reset)
                    // when the connection is dropped. A shutdown now would
                    // send it a FIN first; only its reading half is shut,
                    // which sends nothing and wakes the thread reading it.
                    Some(other) => {
                        let _ = SockRef::from(other).set_linger(Some(Duration::ZERO));
                        let _ = other.shutdown(Shutdown::Read);
                        let dead = if std::ptr::eq(other, self.client) {
                            self.server
                        } else {
                            self.client
                        };
                        let _ = dead.shutdown(Shutdown::Both);
                    }
                    None => {
                        let _ = self.client.shutdown(Shutdown::Both);
                        let _ = self.server.shutdown(Shutdown::Both);
                    }
                }
            }
        }
        tally
    }
}
