//! `inspect --header FMT`: one line per frame, a summary, and where and
//! why the input stops splitting.
//!
//! A frame's line waits until its preview is full or the frame is
//! complete (the preview's bytes may come in several pieces); memory is
//! one header and one preview.

use std::collections::BTreeMap;
use std::io::Read;

use hdrhistogram::Histogram;
use lenframe::Codec;
use serde_json::{json, Map, Value};

use super::out::Out;
use super::{break_of, read_pieces, Magic, Stop, Verdict};
use crate::show;
use crate::watch::{Event, Watcher};

/// Splits `input` with `codec`, printing each frame (`preview` payload
/// bytes of it) and the summary.
pub fn run(
    input: &mut dyn Read,
    codec: Codec,
    preview: usize,
    out: &mut Out,
) -> Result<Verdict, Stop> {
    let mut split = Split::new(codec, preview);
    let mut magic = Magic::default();
    let total = read_pieces(input, |piece| {
        magic.see(piece);
        split.feed(piece, out)?;
        out.flush()
    })?;
    // A frame cut by the end of the input: its line, with what came.
    if let Some(frame) = split.pending.take() {
        frame.print(out)?;
    }
    let broken = break_of(&split.watcher);
    split.stats.print(total, broken.is_none(), out)?;
    let Some((offset, frame, error)) = broken else {
        return Ok(Ok(()));
    };
    if out.json {
        out.object(&json!({
            "event": "break",
            "offset": offset,
            "frame": frame,
            "error": error.to_string(),
        }))?;
    }
    let mut message = format!("the input breaks at byte {offset}, frame {frame}: {error}");
    if let Some(note) = magic.note() {
        message = format!("{message}; {note}");
    } else if !matches!(error, lenframe::Error::Truncated { .. }) {
        message.push_str("; `lenframe inspect --guess` tries every header format");
    }
    Ok(Err(message))
}

/// The frames found so far.
struct Split {
    watcher: Watcher,
    preview: usize,
    /// The frame whose line is not printed yet.
    pending: Option<Frame>,
    /// Header size and payload length of the current frame.
    current: (usize, u64),
    /// Payload bytes of the current frame still to come.
    left: u64,
    stats: Stats,
}

/// A frame whose line waits for its preview.
struct Frame {
    offset: u64,
    header: Vec<u8>,
    len: u64,
    /// Its first payload bytes, at most the preview's worth.
    shown: Vec<u8>,
    /// How many bytes the preview takes: min(len, --preview).
    want: usize,
}

impl Split {
    fn new(codec: Codec, preview: usize) -> Split {
        Split {
            watcher: Watcher::new(codec),
            preview,
            pending: None,
            current: (0, 0),
            left: 0,
            stats: Stats::new(),
        }
    }

    fn feed(&mut self, piece: &[u8], out: &mut Out) -> Result<(), Stop> {
        let Split {
            watcher,
            preview,
            pending,
            current,
            left,
            stats,
        } = self;
        let mut result = Ok(());
        watcher.feed(piece, |event| {
            if result.is_err() {
                return;
            }
            match event {
                Event::Header {
                    offset,
                    header,
                    len,
                } => {
                    // usize -> u64 lossless; the min fits usize.
                    let want = len.min(*preview as u64) as usize;
                    *pending = Some(Frame {
                        offset,
                        header: header.to_vec(),
                        len,
                        shown: Vec::with_capacity(want.min(super::CHUNK)),
                        want,
                    });
                    *current = (header.len(), len);
                    *left = len;
                    if len == 0 {
                        stats.frame(header.len(), 0);
                    }
                }
                Event::Payload(bytes) => {
                    if let Some(frame) = pending.as_mut() {
                        let take = bytes.len().min(frame.want - frame.shown.len());
                        frame.shown.extend_from_slice(&bytes[..take]);
                    }
                    *left -= bytes.len() as u64;
                    if *left == 0 {
                        stats.frame(current.0, current.1);
                    }
                }
                Event::Broken { .. } => {}
            }
            if let Some(frame) = pending.as_ref() {
                if frame.shown.len() == frame.want {
                    result = pending.take().expect("a pending frame").print(out);
                }
            }
        });
        result
    }
}

impl Frame {
    fn print(&self, out: &mut Out) -> Result<(), Stop> {
        if out.json {
            let mut o = Map::new();
            o.insert("event".into(), Value::from("frame"));
            o.insert("offset".into(), Value::from(self.offset));
            o.insert("header".into(), Value::from(show::hex(&self.header)));
            o.insert("len".into(), Value::from(self.len));
            show::payload_fields(&self.shown, &mut o);
            o.insert("shown".into(), Value::from(self.shown.len()));
            out.object(&Value::Object(o))
        } else {
            out.line(&frame_line(
                self.offset,
                &self.header,
                self.len,
                &self.shown,
            ))
        }
    }
}

/// A frame's text line: `OFFSET  HEADER  LENGTH  PREVIEW`, the offset
/// right-aligned in 8 columns, the header's hex left-aligned in the width
/// of a 4-byte header (wider ones take what they need), the length
/// right-aligned in 8.
pub fn frame_line(offset: u64, header: &[u8], len: u64, shown: &[u8]) -> String {
    format!(
        "{offset:>8}  {:<11}  {len:>8}  {}",
        show::spaced_hex(header),
        show::preview(shown, len, shown.len())
    )
}

/// What the whole frames add up to.
struct Stats {
    frames: u64,
    header_bytes: u64,
    payload_bytes: u64,
    min: u64,
    max: u64,
    /// How many frames had each payload size, while there are at most
    /// [`EXACT_SIZES`] distinct sizes: the median is exact.
    exact: Option<BTreeMap<u64, u64>>,
    /// Payload sizes, for the median once there are more distinct sizes
    /// (3 significant figures: exact up to 2048, within 0.1% above; it
    /// grows to the largest size seen, at most a few hundred KiB).
    sizes: Histogram<u64>,
}

/// Distinct payload sizes counted exactly (a few hundred KiB at most).
const EXACT_SIZES: usize = 4096;

impl Stats {
    fn new() -> Stats {
        Stats {
            frames: 0,
            header_bytes: 0,
            payload_bytes: 0,
            min: u64::MAX,
            max: 0,
            exact: Some(BTreeMap::new()),
            sizes: Histogram::new(3).expect("3 significant figures are valid"),
        }
    }

    /// One more whole frame.
    fn frame(&mut self, header_len: usize, len: u64) {
        self.frames += 1;
        self.header_bytes += header_len as u64;
        self.payload_bytes = self.payload_bytes.saturating_add(len);
        self.min = self.min.min(len);
        self.max = self.max.max(len);
        // `record` grows the histogram to the value (an auto-resizing
        // one); `saturating_record` would clamp it to the current range.
        if self.sizes.record(len).is_err() {
            self.sizes.saturating_record(len);
        }
        if let Some(exact) = &mut self.exact {
            *exact.entry(len).or_default() += 1;
            if exact.len() > EXACT_SIZES {
                self.exact = None;
            }
        }
    }

    /// The lower middle payload size (of the whole frames, at least one).
    fn median(&self) -> u64 {
        let Some(exact) = &self.exact else {
            // The histogram gives the top of the median's bucket.
            return self.sizes.value_at_quantile(0.5).clamp(self.min, self.max);
        };
        // The ((frames + 1) / 2)-th size in order.
        let mut rank = self.frames.div_ceil(2);
        for (&len, &count) in exact {
            if rank <= count {
                return len;
            }
            rank -= count;
        }
        self.max
    }

    fn print(&self, input_bytes: u64, complete: bool, out: &mut Out) -> Result<(), Stop> {
        let bytes = self.header_bytes + self.payload_bytes;
        let any = self.frames > 0;
        if out.json {
            let size = |v: u64| if any { Value::from(v) } else { Value::Null };
            return out.object(&json!({
                "event": "summary",
                "complete": complete,
                "input_bytes": input_bytes,
                "frames": self.frames,
                "bytes": bytes,
                "header_bytes": self.header_bytes,
                "payload_bytes": self.payload_bytes,
                "min_len": size(self.min),
                "median_len": size(self.median()),
                "max_len": size(self.max),
            }));
        }
        let mut line = format!(
            "summary: {} frame{}, {bytes} bytes ({} header + {} payload)",
            self.frames,
            if self.frames == 1 { "" } else { "s" },
            self.header_bytes,
            self.payload_bytes
        );
        if !complete {
            line.push_str(" before the break");
        }
        if any {
            line.push_str(&format!(
                ", payload sizes min {} / median {} / max {}",
                self.min,
                self.median(),
                self.max
            ));
        } else if input_bytes == 0 {
            line.push_str(", the input is empty");
        }
        out.line(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lines_line_up() {
        assert_eq!(
            frame_line(0, &[0, 0, 0, 5], 5, b"hello"),
            "       0  00 00 00 05         5  \"hello\""
        );
        assert_eq!(
            frame_line(9, &[3], 300, b"ab"),
            "       9  03                300  \"ab\"..."
        );
    }

    #[test]
    fn the_median_is_the_lower_middle() {
        let mut s = Stats::new();
        for len in [5, 3] {
            s.frame(4, len);
        }
        assert_eq!((s.min, s.median(), s.max), (3, 3, 5));
        s.frame(4, 4);
        assert_eq!(s.median(), 4);
        // Larger sizes grow the histogram (within 0.1%).
        let mut s = Stats::new();
        for len in [65_532, 65_532, 1 << 40] {
            s.frame(4, len);
        }
        assert_eq!(s.median() / 100, 65_532 / 100);
        s.frame(4, u64::MAX >> 1);
        s.frame(4, u64::MAX >> 1);
        assert_eq!(s.max, u64::MAX >> 1);
        assert_eq!(s.median(), 1 << 40);
        // Past EXACT_SIZES distinct sizes, the histogram: within 0.1%,
        // and never outside min..=max.
        let mut s = Stats::new();
        for len in 0..=EXACT_SIZES as u64 * 2 {
            s.frame(1, 100_000 + len);
        }
        assert!(s.exact.is_none());
        let m = s.median();
        assert!(m.abs_diff(100_000 + EXACT_SIZES as u64) <= 110, "{m}");
        let mut s = Stats::new();
        for len in 0..=EXACT_SIZES as u64 {
            s.frame(1, 65_532);
            s.frame(1, 1_000_000 + len);
        }
        assert!(s.median() >= s.min && s.median() <= s.max);
    }
}
