//! The proxy's lines: one per connection opened or closed, per frame seen,
//! per direction that stops parsing, per error; as text or, with `--json`,
//! as JSON objects. All go through [`Log`], so a slow or closed stdout
//! never slows the forwarding.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::hint::suggestion;
use crate::log::Log;
use crate::show;

/// A direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ClientToServer,
    ServerToClient,
}

impl Dir {
    /// `client->server` or `server->client`.
    pub fn name(self) -> &'static str {
        match self {
            Dir::ClientToServer => "client->server",
            Dir::ServerToClient => "server->client",
        }
    }

    /// Who writes this direction's bytes.
    pub fn sender(self) -> &'static str {
        match self {
            Dir::ClientToServer => "client",
            Dir::ServerToClient => "server",
        }
    }

    /// Who reads this direction's bytes.
    pub fn receiver(self) -> &'static str {
        match self {
            Dir::ClientToServer => "server",
            Dir::ServerToClient => "client",
        }
    }

    /// The flag that sets the sender's header format.
    pub fn flag(self) -> &'static str {
        match self {
            Dir::ClientToServer => "--client-header",
            Dir::ServerToClient => "--server-header",
        }
    }
}

/// Frames and bytes one side sent (headers counted in the bytes).
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub frames: u64,
    pub bytes: u64,
}

/// A frame whose header arrived, with the start of its payload that
/// arrived in the same read.
pub struct Frame<'a> {
    /// Where its header starts in the direction's stream.
    pub offset: u64,
    pub header: &'a [u8],
    pub len: u64,
    /// At most `--preview` bytes of the payload.
    pub shown: &'a [u8],
    /// Translating: the header sent instead.
    pub sent_header: Option<&'a [u8]>,
}

/// Where a direction stopped parsing, and why.
pub struct Unparsed<'a> {
    pub offset: u64,
    /// The library's diagnosis.
    pub error: &'a lenframe::Error,
    /// The sender's header format, if the other byte order explains the
    /// bytes (`i`).
    pub suggest: Option<&'a str>,
}

/// Writes the lines.
pub struct Report {
    log: Log,
    json: bool,
    start: Instant,
    preview: usize,
}

impl Report {
    pub fn new(log: Log, json: bool, preview: usize) -> Report {
        Report {
            log,
            json,
            start: Instant::now(),
            preview,
        }
    }

    /// Bytes of a payload a frame's line shows.
    pub fn preview(&self) -> usize {
        self.preview
    }

    /// Time since the proxy started.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    pub fn listening(&self, addr: SocketAddr, upstream: SocketAddr, client: &str, server: &str) {
        self.out(
            || format!("listening on {addr}"),
            || {
                json!({"event": "listening", "addr": addr.to_string(),
                       "upstream": upstream.to_string(), "client_header": client,
                       "server_header": server})
            },
        );
    }

    pub fn connected(&self, conn: u64, peer: SocketAddr) {
        let t = self.now();
        self.out(
            || format!("#{conn} connected {peer}"),
            || json!({"event": "connected", "conn": conn, "time_secs": secs(t), "peer": peer.to_string()}),
        );
    }

    pub fn frame(&self, conn: u64, dir: Dir, t: Duration, f: &Frame<'_>) {
        self.out(
            || {
                format!(
                    "#{conn} {:.6} {} {} B {}",
                    t.as_secs_f64(),
                    dir.name(),
                    f.len,
                    show::preview(f.shown, f.len, self.preview)
                )
            },
            || {
                let mut o = Map::new();
                o.insert("event".into(), "frame".into());
                o.insert("conn".into(), conn.into());
                o.insert("dir".into(), dir.name().into());
                o.insert("time_secs".into(), secs(t));
                o.insert("offset".into(), f.offset.into());
                o.insert("len".into(), f.len.into());
                o.insert("header".into(), show::hex(f.header).into());
                if let Some(sent) = f.sent_header {
                    o.insert("sent_header".into(), show::hex(sent).into());
                }
                show::payload_fields(f.shown, &mut o);
                o.insert("shown".into(), f.shown.len().into());
                Value::Object(o)
            },
        );
    }

    /// A watched direction stopped parsing: its bytes are forwarded raw.
    pub fn unparsed(&self, conn: u64, dir: Dir, t: Duration, u: &Unparsed<'_>) {
        self.out(
            || {
                let suggest = u
                    .suggest
                    .map_or(String::new(), |f| format!("; {}", suggestion(dir, f, true)));
                format!(
                    "#{conn} {:.6} {} stopped parsing at byte {}: {}{suggest}; forwarding the raw bytes",
                    t.as_secs_f64(),
                    dir.name(),
                    u.offset,
                    u.error
                )
            },
            || {
                let mut o = json!({"event": "unparsed", "conn": conn, "dir": dir.name(),
                                   "time_secs": secs(t), "offset": u.offset,
                                   "error": u.error.to_string()});
                if let Some(f) = u.suggest {
                    o["suggest"] = format!("{} {f}", dir.flag()).into();
                }
                o
            },
        );
    }

    /// A watched direction ended inside a frame (the bytes were forwarded
    /// as they were).
    pub fn truncated(
        &self,
        conn: u64,
        dir: Dir,
        t: Duration,
        offset: u64,
        error: &lenframe::Error,
    ) {
        self.out(
            || {
                format!(
                    "#{conn} {:.6} {} ended inside the frame at byte {offset}: {error}",
                    t.as_secs_f64(),
                    dir.name()
                )
            },
            || {
                json!({"event": "truncated", "conn": conn, "dir": dir.name(),
                       "time_secs": secs(t), "offset": offset, "error": error.to_string()})
            },
        );
    }

    /// A connection's error: one stderr line (and a JSON object on stdout
    /// with `--json`).
    pub fn error(&self, conn: u64, dir: Option<Dir>, message: &str) {
        let t = self.now();
        let at = dir.map_or(String::new(), |d| format!(" {}", d.name()));
        self.log
            .err(format!("lenframe: proxy: #{conn}{at}: {message}"));
        if self.json {
            let mut o = json!({"event": "error", "conn": conn, "time_secs": secs(t),
                               "error": message});
            if let Some(d) = dir {
                o["dir"] = d.name().into();
            }
            self.log.out(o.to_string());
        }
    }

    /// A connection closed: what each side sent, and why it ended if not
    /// by both sides closing.
    pub fn closed(&self, conn: u64, client: Tally, server: Tally, reason: Option<&str>) {
        let t = self.now();
        self.out(
            || {
                let why = reason.map_or(String::new(), |r| format!(" ({r})"));
                format!(
                    "#{conn} closed: client->server {} frames {} B, server->client {} frames {} B{why}",
                    client.frames, client.bytes, server.frames, server.bytes
                )
            },
            || {
                let mut o = json!({"event": "closed", "conn": conn, "time_secs": secs(t),
                                   "client_frames": client.frames, "client_bytes": client.bytes,
                                   "server_frames": server.frames, "server_bytes": server.bytes});
                if let Some(r) = reason {
                    o["reason"] = r.into();
                }
                o
            },
        );
    }

    /// Queues the text line or the JSON object; builds only the one needed.
    fn out(&self, text: impl FnOnce() -> String, json: impl FnOnce() -> Value) {
        let line = if self.json {
            json().to_string()
        } else {
            text()
        };
        self.log.out(line);
    }
}

/// Seconds as a JSON number, to the microsecond.
fn secs(t: Duration) -> Value {
    Value::from(t.as_micros() as f64 / 1e6)
}
