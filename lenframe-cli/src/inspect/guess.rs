//! `inspect --guess`: every header format the library takes, tried side
//! by side in one pass over the input (stdin cannot be read twice), one
//! [`Watcher`] per distinct format. Those that split the whole input
//! exactly are grouped by the split they give (a running hash of every
//! frame's offset and header size, plus the frame count: `!I` and `>I`
//! give the same split, and so do `!I` and `!i` when no length is
//! negative), then ranked (see [`rank`]).

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::io::Read;

use lenframe::HeaderFormat;
use serde_json::json;

use super::out::Out;
use super::{break_of, codec, read_pieces, Magic, Stop, Verdict};
use crate::watch::{Event, Watcher};

/// Every way to write a header format, commonest first (what an entry is
/// named by): 4-byte headers, then 2-byte, 8-byte, varint, and 1-byte
/// ones last (rare, and they split almost anything with small lengths).
#[rustfmt::skip]
pub const NAMES: [&str; 62] = [
    "!I", "i", "I", "<I", ">I", "!i", "<i", ">i", "=I", "=i", "@I", "@i",
    "!H", "H", "<H", ">H", "h", "!h", "<h", ">h", "=H", "=h", "@H", "@h",
    "!Q", "Q", "<Q", ">Q", "q", "!q", "<q", ">q", "=Q", "=q", "@Q", "@q",
    "L", "l", "<L", "<l", "!L", ">L", "!l", ">l", "=L", "=l", "@L", "@l",
    "varint", "varint-strict",
    "B", "b", "!B", "<B", ">B", "=B", "@B", "!b", "<b", ">b", "=b", "@b",
];

/// The formats whose breaks are told when no format splits the input.
const DIAGNOSED: [&str; 2] = ["!I", "i"];

/// One distinct format being tried.
struct Candidate {
    /// Its names, commonest first (`I` and `@I` are the same format).
    names: Vec<&'static str>,
    watcher: Watcher,
    /// Over every frame's (offset, header size).
    hash: DefaultHasher,
    empty: u64,
}

/// A split that explains the whole input, and the formats that give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub names: Vec<&'static str>,
    pub frames: u64,
    pub empty: u64,
}

/// Tries every format on `input`, lists the exact splits.
pub fn run(input: &mut dyn Read, max_frame: usize, out: &mut Out) -> Result<Verdict, Stop> {
    let mut candidates = candidates(max_frame);
    let mut magic = Magic::default();
    let total = read_pieces(input, |piece| {
        magic.see(piece);
        for c in &mut candidates {
            feed(c, piece);
        }
        Ok(())
    })?;
    if total == 0 {
        return Ok(Err("the input is empty: nothing to guess".into()));
    }
    let entries = rank(group(&candidates));
    if entries.is_empty() {
        return no_format(&candidates, total, &magic, out).map(Err);
    }
    if !out.json {
        out.line(&format!(
            "{} header format{} split{} all {total} bytes exactly, most plausible first:",
            entries.len(),
            if entries.len() == 1 { "" } else { "s" },
            if entries.len() == 1 { "s" } else { "" },
        ))?;
    }
    for (i, entry) in entries.iter().enumerate() {
        let rank = i + 1;
        if out.json {
            out.object(&json!({
                "event": "guess",
                "rank": rank,
                "formats": entry.names,
                "frames": entry.frames,
                "empty_frames": entry.empty,
            }))?;
        } else {
            out.line(&entry_line(rank, entry))?;
        }
    }
    Ok(Ok(()))
}

/// `RANK. NAME: N frames[, E empty][ (same split: ALIASES)]`.
pub fn entry_line(rank: usize, entry: &Entry) -> String {
    let mut line = format!(
        "{rank}. {}: {} frame{}",
        entry.names[0],
        entry.frames,
        if entry.frames == 1 { "" } else { "s" }
    );
    if entry.empty > 0 {
        line.push_str(&format!(", {} empty", entry.empty));
    }
    if entry.names.len() > 1 {
        line.push_str(&format!(" (same split: {})", entry.names[1..].join(" ")));
    }
    line
}

/// One candidate per distinct format, each with all its names.
fn candidates(max_frame: usize) -> Vec<Candidate> {
    let mut out: Vec<(HeaderFormat, Candidate)> = Vec::new();
    for name in NAMES {
        let format: HeaderFormat = name.parse().expect("every listed name parses");
        if let Some((_, c)) = out.iter_mut().find(|(f, _)| *f == format) {
            c.names.push(name);
            continue;
        }
        // The builder clamps the maximum to what the header can say.
        let codec = codec(format, max_frame).expect("every format builds");
        out.push((
            format,
            Candidate {
                names: vec![name],
                watcher: Watcher::new(codec),
                hash: DefaultHasher::new(),
                empty: 0,
            },
        ));
    }
    out.into_iter().map(|(_, c)| c).collect()
}

fn feed(c: &mut Candidate, piece: &[u8]) {
    if c.watcher.is_broken() {
        return;
    }
    let Candidate {
        watcher,
        hash,
        empty,
        ..
    } = c;
    watcher.feed(piece, |event| {
        if let Event::Header {
            offset,
            header,
            len,
        } = event
        {
            hash.write_u64(offset);
            hash.write_usize(header.len());
            if len == 0 {
                *empty += 1;
            }
        }
    });
}

/// The exact splits, one entry per distinct split, each entry's names
/// commonest first.
fn group(candidates: &[Candidate]) -> Vec<Entry> {
    let mut entries: Vec<(u64, Entry)> = Vec::new();
    for c in candidates {
        if c.watcher.finish().is_err() {
            continue;
        }
        let key = c.hash.finish();
        let frames = c.watcher.frames();
        match entries
            .iter_mut()
            .find(|(k, e)| *k == key && e.frames == frames)
        {
            Some((_, e)) => e.names.extend(&c.names),
            None => entries.push((
                key,
                Entry {
                    names: c.names.clone(),
                    frames,
                    empty: c.empty,
                },
            )),
        }
    }
    let popularity = |name: &&str| NAMES.iter().position(|n| n == name);
    entries
        .into_iter()
        .map(|(_, mut e)| {
            e.names.sort_by_key(popularity);
            e
        })
        .collect()
}

/// Most plausible first: the smallest share of empty frames (`00 00 00
/// 05 hello` read as `B` is three empty frames and one real one), then
/// several frames before one spanning the whole input, then more frames
/// (every frame boundary that lands exactly is evidence), then the
/// commoner name.
pub fn rank(mut entries: Vec<Entry>) -> Vec<Entry> {
    let popularity = |e: &Entry| NAMES.iter().position(|n| *n == e.names[0]);
    entries.sort_by(|a, b| {
        // empty/frames compared as fractions; frames >= 1 for an entry of
        // a non-empty input.
        let share_a = u128::from(a.empty) * u128::from(b.frames);
        let share_b = u128::from(b.empty) * u128::from(a.frames);
        share_a
            .cmp(&share_b)
            .then((a.frames == 1).cmp(&(b.frames == 1)))
            .then(b.frames.cmp(&a.frames))
            .then(popularity(a).cmp(&popularity(b)))
    });
    entries
}

/// The verdict when no format splits the input: where and why the
/// commonest formats break.
fn no_format(
    candidates: &[Candidate],
    total: u64,
    magic: &Magic,
    out: &mut Out,
) -> Result<String, Stop> {
    let mut message = format!("no header format splits all {total} bytes exactly");
    if let Some(note) = magic.note() {
        message = format!("{message}: {note}");
    }
    for name in DIAGNOSED {
        let Some(c) = candidates.iter().find(|c| c.names.contains(&name)) else {
            continue;
        };
        let Some((offset, frame, error)) = break_of(&c.watcher) else {
            continue;
        };
        if out.json {
            out.object(&json!({
                "event": "break",
                "format": name,
                "offset": offset,
                "frame": frame,
                "error": error.to_string(),
            }))?;
        }
        message.push_str(&format!(
            "; as {name} it breaks at byte {offset}, frame {frame}: {error}"
        ));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(names: &[&'static str], frames: u64, empty: u64) -> Entry {
        Entry {
            names: names.to_vec(),
            frames,
            empty,
        }
    }

    #[test]
    fn every_name_is_listed_once() {
        for (i, a) in NAMES.iter().enumerate() {
            assert!(!NAMES[i + 1..].contains(a), "{a} twice");
            a.parse::<HeaderFormat>().unwrap();
        }
        // 5 byte orders (none and @ are one) x 10 codes, and 2 varints.
        assert_eq!(candidates(1 << 20).len(), 52);
    }

    #[test]
    fn empty_frames_and_one_big_frame_rank_low() {
        let ranked = rank(vec![
            entry(&["B"], 8, 6),
            entry(&["!H"], 4, 2),
            entry(&["Q"], 1, 0),
            entry(&["!I"], 2, 0),
        ]);
        let names: Vec<_> = ranked.iter().map(|e| e.names[0]).collect();
        assert_eq!(names, ["!I", "Q", "!H", "B"]);
    }

    #[test]
    fn entry_lines() {
        assert_eq!(
            entry_line(1, &entry(&["!I", ">I"], 2, 0)),
            "1. !I: 2 frames (same split: >I)"
        );
        assert_eq!(
            entry_line(3, &entry(&["B"], 1, 1)),
            "3. B: 1 frame, 1 empty"
        );
    }
}
