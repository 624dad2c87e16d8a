//! `lenframe inspect [FILE|-]`: the raw bytes of one direction of a
//! stream (a capture) split into frames ([`split`]), or, with `--guess`,
//! the header formats that split it exactly ([`guess`]).
//!
//! The input is read in pieces of [`CHUNK`] bytes and fed to
//! [`Watcher`](crate::watch::Watcher)s: memory is a header's worth per
//! format tried plus the previews, whatever the input's size and whatever
//! its headers claim. [`out`] writes stdout (a closed stdout ends the run
//! quietly).

mod guess;
mod out;
mod split;

use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args as ClapArgs;
use lenframe::{Codec, Error, HeaderFormat, DEFAULT_MAX_FRAME_LEN};

use crate::watch::Watcher;
use crate::{limits, show};

/// Bytes read at a time.
pub const CHUNK: usize = 64 * 1024;

/// Split a capture of one direction of a stream into frames, or guess its
/// header format.
#[derive(ClapArgs)]
#[command(long_about = ABOUT)]
pub struct Args {
    /// The raw stream bytes (`-` or nothing: stdin)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Python struct format of the length header (`!I`, `i`, `<H`, `>Q`,
    /// ...) or varint (protobuf-delimited; varint-strict: minimal varints
    /// only)
    #[arg(
        long,
        value_name = "FMT",
        default_value = "!I",
        conflicts_with = "guess"
    )]
    pub header: HeaderFormat,

    /// Try every header format and list those that split the whole input
    /// exactly, most plausible first
    #[arg(long)]
    pub guess: bool,

    /// Largest payload accepted (a larger length breaks the split)
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME_LEN,
          value_parser = limits::byte_count)]
    pub max_frame: usize,

    /// Payload bytes shown in each frame's line
    #[arg(long, value_name = "BYTES", default_value_t = show::PREVIEW,
          value_parser = limits::byte_count)]
    pub preview: usize,
}

const ABOUT: &str = "\
Split a capture of one direction of a stream into frames, or guess its
header format.

The input (FILE, or stdin for `-` or no FILE) is the raw bytes one side
sent, in order, and nothing else. It is read 64 KiB at a time: any size
works, in bounded memory, whatever lengths its headers claim.

Getting those bytes:
  * Wireshark: select a packet of the connection, Analyze > Follow >
    TCP Stream; in the drop-down at the bottom left choose the one
    direction you want (not \"Entire conversation\"); \"Show data as\":
    Raw; \"Save as...\".
  * tcpflow -r capture.pcap (or -i IFACE live) writes one file per
    direction of every connection (SRCIP.SRCPORT-DSTIP.DSTPORT).
  * tshark -r capture.pcap -qz follow,tcp,raw,0 prints TCP stream 0 as
    hex between `====` lines, the second side's lines indented by a tab:
    keep one side's lines, and `xxd -r -p` turns them into bytes.
  * A hex dump: `xxd -r -p dump.hex > capture.bin` (plain hex digits;
    `xxd -r` for xxd's own format).
A pcap or pcapng file itself is not read (no TCP reassembly here): fed
one, the command says that it is one.

With --header FMT (default !I): one stdout line per frame, columns
separated by two spaces (offset and length right-aligned):
  OFFSET  HEADER  LENGTH  PREVIEW
as in
         0  00 00 00 05         5  \"hello\"
         9  00 00 00 03         3  \"abc\"
OFFSET is the byte offset of the frame's header in the input (from 0),
HEADER its bytes in hex, LENGTH the payload's, PREVIEW its first
--preview bytes (quoted and escaped text, or hex; `...` when there is
more). Then
  summary: N frames, B bytes (H header + P payload), payload sizes min X / median Y / max Z
(the median is the lower middle one: exact while there are at most 4096
distinct sizes, then within 0.1%).
Exit 0 when the input splits exactly into frames. Otherwise the frames
before the break are printed (a cut last frame too, with its header), the
summary counts the whole frames before it and says `before the break`,
and one stderr line says where (byte offset, frame number from 1) and why:
the library's diagnosis (the other byte order, HTTP, TLS, text, a frame
over --max-frame, a truncated last frame); exit 1.

With --guess: every format the library takes (byte orders none, @, =, <,
>, ! with b B h H i I l L q Q, and varint, varint-strict) is tried in one
pass, with --max-frame as the bound. The formats that split the whole
input exactly are listed, one line each:
  RANK. FORMAT: N frames[, E empty] (same split: ALIASES)
where formats that read the input the same way (the same frame boundaries)
are one entry, named by the commonest way to write it (!I, i, I, <I, >I,
...: 4-byte, then 2-byte, then 8-byte, varint, then 1-byte headers). Most
plausible first: the fewest empty frames (as a share of the frames), then
several frames before one spanning the whole input, then more frames,
then the commoner format. An input no format explains (exit 1) gets one
stderr line with where and why !I and i break; an empty input has nothing
to guess (exit 1).

With --json, one object per line:
  {\"event\":\"frame\", \"offset\", \"header\" (hex), \"len\", \"text\"|\"hex\" (the
   previewed bytes), \"shown\" (how many)}
  {\"event\":\"summary\", \"complete\" (true: split exactly), \"input_bytes\",
   \"frames\", \"bytes\", \"header_bytes\", \"payload_bytes\", \"min_len\",
   \"median_len\", \"max_len\" (null without frames)}
  {\"event\":\"break\", \"offset\", \"frame\", \"error\"}  (--guess: and \"format\")
  {\"event\":\"guess\", \"rank\", \"formats\" (the name first), \"frames\",
   \"empty_frames\"}
stderr still gets its one line.";

/// Runs `lenframe inspect`.
pub fn run(args: &Args, json: bool) -> ExitCode {
    let mut input: Box<dyn Read> = match &args.file {
        None => Box::new(io::stdin().lock()),
        Some(path) if path.as_os_str() == "-" => Box::new(io::stdin().lock()),
        Some(path) => match File::open(path) {
            Ok(file) => Box::new(file),
            Err(e) => {
                return crate::runtime_error(&format!(
                    "inspect: cannot open {}: {e}",
                    path.display()
                ))
            }
        },
    };
    let name = match &args.file {
        Some(path) if path.as_os_str() != "-" => path.display().to_string(),
        _ => "stdin".to_owned(),
    };
    let mut out = out::Out::new(json);
    let result = if args.guess {
        guess::run(&mut *input, args.max_frame, &mut out)
    } else {
        let codec = match codec(args.header, args.max_frame) {
            Ok(codec) => codec,
            Err(message) => return crate::usage_error(&message),
        };
        split::run(&mut *input, codec, args.preview, &mut out)
    };
    let result = result.and_then(|verdict| out.finish().map(|()| verdict));
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(message)) => crate::runtime_error(&format!("inspect: {message}")),
        Err(Stop::StdoutClosed) => ExitCode::SUCCESS,
        Err(Stop::Stdout(e)) => crate::runtime_error(&format!("inspect: cannot write stdout: {e}")),
        Err(Stop::Read(e)) => crate::runtime_error(&format!("inspect: cannot read {name}: {e}")),
    }
}

/// Why a run stopped before its verdict.
#[derive(Debug)]
pub enum Stop {
    /// stdout was closed (`| head`): end quietly.
    StdoutClosed,
    /// Another write error on stdout.
    Stdout(io::Error),
    /// The input could not be read.
    Read(io::Error),
}

/// What a run ends with when it was not stopped: `Err` is the stderr line
/// (the input does not split).
pub type Verdict = Result<(), String>;

/// The codec of `format` with `max_frame` as its bound.
pub fn codec(format: HeaderFormat, max_frame: usize) -> Result<Codec, String> {
    Codec::builder()
        .format(format)
        .max_frame_len(max_frame)
        .build()
        .map_err(|e| format!("--header {format} --max-frame {max_frame}: {e}"))
}

/// Reads `input` to its end in pieces of up to [`CHUNK`] bytes, giving
/// each to `on` (which may stop the run); returns the bytes read.
pub fn read_pieces(
    input: &mut dyn Read,
    mut on: impl FnMut(&[u8]) -> Result<(), Stop>,
) -> Result<u64, Stop> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        match input.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                total += n as u64;
                on(&buf[..n])?;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Stop::Read(e)),
        }
    }
}

/// Where a watcher's stream breaks, if it does: the byte offset where the
/// bad (or cut) frame starts, its number (from 1) and the library's
/// diagnosis. Called after the last piece.
pub fn break_of(watcher: &Watcher) -> Option<(u64, u64, Error)> {
    let (offset, error) = watcher.finish().err()?;
    // Inside a payload the cut frame's header was counted; otherwise the
    // broken (or cut) header is the next frame.
    let frame = match watcher.remaining() {
        Some(_) => watcher.frames(),
        None => watcher.frames() + 1,
    };
    Some((offset, frame, error))
}

/// The first bytes of the input (up to 4), to recognise a pcap file.
#[derive(Default)]
pub struct Magic(Vec<u8>);

impl Magic {
    /// Keeps what the first 4 bytes need of `piece`.
    pub fn see(&mut self, piece: &[u8]) {
        let take = piece.len().min(4 - self.0.len());
        self.0.extend_from_slice(&piece[..take]);
    }

    /// A note for a break when the input is a pcap or pcapng file.
    pub fn note(&self) -> Option<&'static str> {
        match self.0.as_slice() {
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d] => Some(
                "this is a pcap file, not a stream's bytes: export the raw bytes of one \
                 direction first (see lenframe inspect --help)",
            ),
            [0x0a, 0x0d, 0x0d, 0x0a] => Some(
                "this is a pcapng file, not a stream's bytes: export the raw bytes of one \
                 direction first (see lenframe inspect --help)",
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_files_are_recognised_from_pieces() {
        let mut m = Magic::default();
        m.see(&[0xd4]);
        m.see(&[0xc3, 0xb2]);
        m.see(&[0xa1, 0x02, 0x00]);
        assert!(m.note().unwrap().contains("pcap file"));
        let mut m = Magic::default();
        m.see(b"\x0a\x0d\x0d\x0a\x00");
        assert!(m.note().unwrap().contains("pcapng"));
        let mut m = Magic::default();
        m.see(b"\0\0\0\x05hello");
        assert_eq!(m.note(), None);
    }
}
