//! Random configurations and inputs, drawn from the dice.

use lenframe::{Codec, Error, HeaderFormat, Oversize, DEFAULT_MAX_FRAME_LEN};

use super::coverage::{hit, C};
use super::dice::{Dice, Rng};
use super::spec::{leb128, Rules, Wire};

const PREFIXES: [&str; 6] = ["", "@", "=", "<", ">", "!"];
const CODES: [&str; 10] = ["b", "B", "h", "H", "i", "I", "l", "L", "q", "Q"];

/// A codec of any format, offset, strip, adjustment, limit and policy;
/// `None` if the drawn settings do not build (they must fail as BadConfig).
///
/// The first decision byte picks the header: 64 to 127 (a quarter of the
/// runs) a varint; any other, the fixed format's byte order as before the
/// varint existed (`byte % 6`), so those runs keep their meaning byte for
/// byte. (The fuzz corpus was grown before the varint: 62 of its 1347
/// model files start in 64..=127 and became varint runs; a range over 192
/// would have turned 883 of them.)
pub fn codec(d: &mut Dice<'_>) -> Option<Codec> {
    let first = d.byte();
    if (64..128).contains(&first) {
        return varint_codec(d, first);
    }
    let prefix = PREFIXES[usize::from(first) % PREFIXES.len()];
    let format = format!("{prefix}{}", CODES[d.below(10)]);
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

/// A varint codec (protobuf or strict rules, from `first`): its frames
/// keep their prefix or not, any limit (small, around the 1/2- and
/// 2/3-byte header edges, huge) and either policy. Now and then a setting
/// only a fixed-size header takes, which the builder must refuse.
fn varint_codec(d: &mut Dice<'_>, first: u8) -> Option<Codec> {
    let format = if first & 1 == 1 {
        HeaderFormat::VARINT_STRICT
    } else {
        HeaderFormat::VARINT
    };
    let hl = format.size();
    let mut b = Codec::builder();
    b.format(format);
    let refuse = match d.below(16) {
        0..=8 => false,
        9..=12 => {
            b.num_skip(0);
            false
        }
        13 => {
            b.num_skip(hl);
            false
        }
        // Part of a header whose length varies: no such setting.
        14 => {
            b.num_skip(1 + d.below(hl - 1));
            true
        }
        _ => {
            match d.below(4) {
                0 => b.length_field_offset(1 + d.below(3)),
                1 => {
                    let a = 1 + d.below(4) as i64;
                    b.length_adjustment(if d.chance(128) { -a } else { a })
                }
                2 => b.length_includes_header(true),
                _ => b.num_skip(hl + 1 + d.below(2)),
            };
            true
        }
    };
    b.max_frame_len(match d.below(8) {
        0 | 1 => d.below(25),
        2 | 7 => d.below(300),
        // Around the edge of 1- and 2-byte headers (127 / 128).
        3 => 120 + d.below(16),
        // Around the edge of 2- and 3-byte headers (16 383 / 16 384).
        4 => 16_376 + d.below(16),
        5 => usize::MAX,
        _ => DEFAULT_MAX_FRAME_LEN,
    });
    b.oversize(if d.chance(128) {
        Oversize::Skip
    } else {
        Oversize::Error
    });
    match (b.build(), refuse) {
        (Ok(codec), false) => Some(codec),
        (Err(Error::BadConfig { .. }), true) => {
            hit(C::config_rejected);
            hit(C::varint_config_refused);
            None
        }
        (got, refuse) => panic!("{format} codec: {got:?}, but the model says refused: {refuse}"),
    }
}

/// An input mostly of frames (valid, oversize, huge, bad headers) with an
/// optional cut tail, or pure garbage.
pub fn input(d: &mut Dice<'_>, w: &Wire<'_>) -> Vec<u8> {
    if let Some(rules) = w.varint {
        return varint_input(d, w, rules);
    }
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

/// The most bytes a varint input holds (about two frames of 16 KiB).
const VARINT_INPUT_BUDGET: u64 = 40_000;

/// A payload length at the edge of the 1-, 2- or 3-byte varint headers
/// (the 16 KiB ones an eighth of the time: they cost the most to run).
fn edge(d: &mut Dice<'_>) -> u64 {
    if d.chance(32) {
        [16_383, 16_384, 16_385][d.below(3)]
    } else {
        [0, 1, 126, 127, 128, 129][d.below(6)]
    }
}

/// A varint header for `value` padded to `n` bytes (`n` over its shortest
/// length): the same value, written longer than it needs (continuation
/// bytes of 0, then a last byte of 0). Protobuf reads it back up to 10
/// bytes; strict rules refuse it.
fn padded(value: u64, n: usize) -> Vec<u8> {
    let mut h = leb128(value);
    let last = h.len() - 1;
    h[last] |= 0x80;
    while h.len() < n - 1 {
        h.push(0x80);
    }
    h.push(0);
    h
}

/// `n` bytes that all say "more follows", their low bits random.
fn continuation(rng: &mut Rng, n: usize) -> Vec<u8> {
    rng.bytes(n).into_iter().map(|b| b | 0x80).collect()
}

/// A varint stream: frames within the limit (shortest headers of 1 to 3
/// bytes, and non-minimal ones), frames over it by a little, huge
/// declared lengths, runs of 9 to 11 continuation bytes, a 10th byte over
/// 1, 9-byte headers, stray bytes; then perhaps a frame cut anywhere (in
/// its header too). Or pure garbage.
fn varint_input(d: &mut Dice<'_>, w: &Wire<'_>, rules: Rules) -> Vec<u8> {
    let mut rng = Rng(d.seed());
    if d.chance(24) {
        let n = d.below(48);
        let mut out = rng.bytes(n);
        if d.chance(128) {
            // Mostly continuation bits: long headers.
            for b in &mut out {
                *b |= 0x80 * u8::from(rng.next_u64() % 4 != 0);
            }
        }
        return out;
    }
    let max = w.max;
    let most = rules.max_len();
    let mut out = Vec::new();
    for _ in 0..d.below(16) {
        let (header, len) = match d.below(32) {
            0..=13 => {
                let len = d.below(max.min(40) as usize + 1) as u64;
                (leb128(len), len)
            }
            14..=16 => {
                // Non-minimal: protobuf accepts it up to 10 bytes.
                let len = d.below(max.min(300) as usize + 1) as u64;
                let short = leb128(len).len();
                let n = short + 1 + d.below(most - short + 1);
                (padded(len, n), len)
            }
            17..=19 => {
                let len = max.saturating_add(1 + d.below(12) as u64);
                (leb128(len), len)
            }
            20 => {
                // A huge declared length: skipped or fatal, then cut.
                let len = match d.below(6) {
                    0 => u64::MAX - d.below(300) as u64,
                    1 => 1 << 63,
                    2 => (1 << 63) - 1 - d.below(4) as u64,
                    3 => max.saturating_add(1 << (d.below(40) + 6)),
                    _ => rng.next_u64() >> d.below(64),
                };
                let len = len.min(w.field_max());
                (leb128(len), len)
            }
            21 => {
                // No end within the longest header (or one byte past it).
                out.extend(continuation(&mut rng, most + d.below(2)));
                out.extend(rng.bytes(d.below(4)));
                return out;
            }
            22 => {
                // A 10th byte over 1 (strict rules stop at the 9th).
                out.extend(continuation(&mut rng, 9));
                out.push(2 + d.below(126) as u8);
                out.extend(rng.bytes(d.below(4)));
                return out;
            }
            23 => {
                // 9 or 10 bytes ending well: huge values, or the last
                // byte 0 (non-minimal), or a 10th byte of 0 or 1.
                let n = 9 + d.below(2);
                out.extend(continuation(&mut rng, n - 1));
                out.push(match d.below(3) {
                    0 => 0,
                    1 => 1,
                    _ => d.below(128) as u8,
                });
                out.extend(rng.bytes(d.below(8)));
                return out;
            }
            24 => {
                // Stray bytes: what follows is read out of step.
                out.extend(rng.bytes(1 + d.below(4)));
                continue;
            }
            25..=27 => {
                let len = edge(d);
                (leb128(len), len)
            }
            _ => {
                let len = d.below(max.min(300) as usize + 1) as u64;
                (leb128(len), len)
            }
        };
        out.extend(header);
        // Huge frames are cut: only a few bytes follow. So is a frame
        // past the input's budget (a consumer fed one byte a call must
        // reach the end within its 50 000 calls).
        let whole = (out.len() as u64).saturating_add(len) <= VARINT_INPUT_BUDGET;
        let body = if whole { len } else { len.min(60) };
        out.extend(rng.bytes(body as usize));
        if body != len {
            return out;
        }
    }
    if d.chance(90) && out.len() < VARINT_INPUT_BUDGET as usize {
        // A cut tail: part of one more frame, perhaps inside its header.
        let len = match d.below(4) {
            0 => 100 + d.below(300) as u64,
            1 => edge(d),
            _ => d.below(20) as u64,
        };
        let header = leb128(len);
        let cut = if d.chance(96) {
            d.below(header.len())
        } else {
            d.below(header.len() + len as usize)
        };
        let mut frame = header;
        frame.extend(rng.bytes(cut.saturating_sub(frame.len())));
        frame.truncate(cut);
        out.extend(frame);
    }
    out
}
