//! The server's stdout lines, as events: each is printed as text, or with
//! `--json` as one JSON object per line (JSON Lines) whose `"event"` key
//! names it, the style every subcommand of the tool uses.

use std::net::SocketAddr;

use serde_json::json;

/// One stdout line of `lenframe serve`.
pub enum Event<'a> {
    /// Bound and about to serve (always the first line).
    Listening { addr: SocketAddr },
    /// The limits in force (the second line).
    Limits {
        max_conns: usize,
        max_frame: usize,
        conn_budget: usize,
        max_memory: usize,
    },
    /// A connection was accepted.
    Connected { peer: SocketAddr },
    /// A connection ended.
    Disconnected {
        peer: SocketAddr,
        frames: u64,
        bytes: u64,
        reason: &'a str,
    },
    /// The summary after SIGINT or SIGTERM (the last line).
    Shutdown {
        served: u64,
        frames: u64,
        bytes: u64,
        refused: u64,
    },
}

impl Event<'_> {
    /// The line: text, or one JSON object with `json`.
    pub fn line(&self, json: bool) -> String {
        if json {
            self.json().to_string()
        } else {
            self.text()
        }
    }

    fn text(&self) -> String {
        match *self {
            Event::Listening { addr } => format!("listening on {addr}"),
            Event::Limits {
                max_conns,
                max_frame,
                conn_budget,
                max_memory,
            } => format!(
                "limits: max {max_conns} connections, {max_frame}-byte frames, \
                 {conn_budget}-byte budget per connection, {max_memory} bytes in all"
            ),
            Event::Connected { peer } => format!("connected {peer}"),
            Event::Disconnected {
                peer,
                frames,
                bytes,
                reason,
            } => format!("disconnected {peer}: {frames} frames, {bytes} bytes echoed ({reason})"),
            Event::Shutdown {
                served,
                frames,
                bytes,
                refused,
            } => format!(
                "shutdown: {served} connections served, {frames} frames ({bytes} bytes) \
                 echoed, {refused} refused"
            ),
        }
    }

    fn json(&self) -> serde_json::Value {
        match *self {
            Event::Listening { addr } => json!({"event": "listening", "addr": addr.to_string()}),
            Event::Limits {
                max_conns,
                max_frame,
                conn_budget,
                max_memory,
            } => json!({
                "event": "limits",
                "max_conns": max_conns,
                "max_frame": max_frame,
                "conn_budget": conn_budget,
                "max_memory": max_memory,
            }),
            Event::Connected { peer } => json!({"event": "connected", "peer": peer.to_string()}),
            Event::Disconnected {
                peer,
                frames,
                bytes,
                reason,
            } => json!({
                "event": "disconnected",
                "peer": peer.to_string(),
                "frames": frames,
                "bytes": bytes,
                "reason": reason,
            }),
            Event::Shutdown {
                served,
                frames,
                bytes,
                refused,
            } => json!({
                "event": "shutdown",
                "served": served,
                "frames": frames,
                "bytes": bytes,
                "refused": refused,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_say_the_same() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let e = Event::Disconnected {
            peer,
            frames: 3,
            bytes: 12,
            reason: "peer closed",
        };
        assert_eq!(
            e.line(false),
            "disconnected 127.0.0.1:5000: 3 frames, 12 bytes echoed (peer closed)"
        );
        let v: serde_json::Value = serde_json::from_str(&e.line(true)).unwrap();
        assert_eq!(v["event"], "disconnected");
        assert_eq!(v["peer"], "127.0.0.1:5000");
        assert_eq!(v["frames"], 3);
        assert_eq!(v["bytes"], 12);
        assert_eq!(v["reason"], "peer closed");
    }
}
