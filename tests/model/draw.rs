//! Random configurations and inputs, drawn from the dice.

use lenframe::{Codec, Error, Oversize, DEFAULT_MAX_FRAME_LEN};

use super::coverage::{hit, C};
use super::dice::{Dice, Rng};
use super::spec::Wire;

const PREFIXES: [&str; 6] = ["", "@", "=", "<", ">", "!"];
const CODES: [&str; 10] = ["b", "B", "h", "H", "i", "I", "l", "L", "q", "Q"];

/// A codec of any format, offset, strip, adjustment, limit and policy;
/// `None` if the drawn settings do not build (they must fail as BadConfig).
pub fn codec(d: &mut Dice<'_>) -> Option<Codec> {
    let format = format!("{}{}", PREFIXES[d.below(6)], CODES[d.below(10)]);
    let format: lenframe::HeaderFormat = format.parse().expect("every prefix and code parses");
    let offset = d.below(4);
    let header_len = offset + format.size();
    let mut b = Codec::builder();
    b.format(format).length_field_offset(offset);
    match d.below(8) {
        0..=3 => {}
        4..=6 => {
            b.num_skip(d.below(header_len + 1));
        }
        _ => {
            b.num_skip(header_len + 1 + d.below(2));
        }
    }
    b.length_adjustment(d.below(9) as i64 - 4)
        .length_includes_header(d.chance(64));
    b.max_frame_len(match d.below(8) {
        0..=4 => d.below(25),
        5 => d.below(300),
        6 => usize::MAX,
        _ => DEFAULT_MAX_FRAME_LEN,
    });
    b.oversize(if d.chance(128) {
        Oversize::Skip
    } else {
        Oversize::Error
    });
    match b.build() {
        Ok(codec) => Some(codec),
        Err(Error::BadConfig { .. }) => {
            hit(C::config_rejected);
            None
        }
        Err(e) => panic!("build failed with {e:?}, not BadConfig"),
    }
}

/// An input mostly of frames (valid, oversize, huge, bad headers) with an
/// optional cut tail, or pure garbage.
pub fn input(d: &mut Dice<'_>, w: &Wire<'_>) -> Vec<u8> {
    let mut rng = Rng(d.seed());
    if d.chance(24) {
        let n = d.below(48);
        return rng.bytes(n);
    }
    let mut out = Vec::new();
    let smallest = (-w.adj).max(0) as u64;
    let expressible = w.stream_limit(u64::MAX);
    let items = d.below(16);
    for _ in 0..items {
        let fill = rng.bytes(w.hl);
        let kind = d.below(32);
        let len = match kind {
            // Over max_frame_len, by a little.
            24..=26 => w.max.saturating_add(1 + d.below(12) as u64),
            // A huge declared length: skipped or fatal, then cut.
            27 => expressible.min(w.max.saturating_add(1 << (d.below(40) + 6))),
            28 => {
                // A random header region and a few bytes.
                out.extend(rng.bytes(w.hl + d.below(4)));
                continue;
            }
            29 => {
                // Negative (signed formats) or just random bits.
                let value = u64::MAX - d.below(300) as u64;
                out.extend(w.header_raw(value, &fill));
                continue;
            }
            30 => {
                // A header value below the adjustment (if there is room).
                let value = d.below(w.adj.max(0) as usize + 1) as u64;
                out.extend(w.header_raw(value, &fill));
                continue;
            }
            // Within max_frame_len.
            _ => smallest + d.below(w.max.min(40).saturating_sub(smallest) as usize + 1) as u64,
        };
        let Some(header) = w.header_for(len, &fill) else {
            continue;
        };
        out.extend(header);
        // Huge frames are cut: only a few bytes follow.
        let body = len.min(60) as usize;
        out.extend(rng.bytes(body));
        if body as u64 != len {
            return out;
        }
    }
    if d.chance(90) {
        // A cut tail: part of one more frame.
        let len = smallest + d.below(20) as u64;
        if let Some(header) = w.header_for(len, &rng.bytes(w.hl)) {
            let mut frame = header;
            frame.extend(rng.bytes(len as usize));
            let cut = d.below(frame.len());
            out.extend_from_slice(&frame[..cut]);
        }
    }
    out
}
