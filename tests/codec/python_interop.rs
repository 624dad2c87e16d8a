//! Interop with Python's `struct` module, the seeds' peers: Python packs
//! `struct.pack(fmt, len(p)) + p`, lenframe decodes; lenframe encodes,
//! Python unpacks. Skipped (saying so on stderr) when python3 is missing.
// The blocking adapters (and `bytes`) need the default feature `std`.
#![cfg(feature = "std")]

use std::io::Write;
use std::process::{Command, Stdio};

use lenframe::{Codec, FrameReader};

const FORMATS: &[&str] = &["!I", "i", "<H", ">Q", "b", "@l", "=l", "!q", "<B", ">h"];
const LENS: &[usize] = &[0, 1, 5, 100, 127, 0, 3];

/// Payload `i` of length `n`: the same bytes the Python side builds.
fn payload(i: usize, n: usize) -> Vec<u8> {
    (0..n).map(|j| ((i * 7 + j * 3) % 256) as u8).collect()
}

const PY_HELPERS: &str = r#"
import struct, sys
LENS = [0, 1, 5, 100, 127, 0, 3]
def payload(i, n):
    return bytes(((i * 7 + j * 3) % 256) for j in range(n))
"#;

fn python() -> Option<&'static str> {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Some("python3")
    } else {
        eprintln!("SKIPPED python interop: python3 is not on PATH");
        None
    }
}

fn run_python(script: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn python_packs_lenframe_decodes() {
    let Some(_) = python() else { return };
    for fmt in FORMATS {
        let script = format!(
            "{PY_HELPERS}\nfmt = {fmt:?}\nwire = b''.join(struct.pack(fmt, n) + payload(i, n) for i, n in enumerate(LENS))\nsys.stdout.buffer.write(wire)\n"
        );
        let wire = run_python(&script, b"");
        let codec = Codec::new(fmt.parse().unwrap());
        // Fed one byte at a time to make every read a split packet.
        let frames: Vec<Vec<u8>> = FrameReader::with_codec(OneByte(&wire), codec)
            .map(|f| f.unwrap().to_vec())
            .collect();
        let want: Vec<Vec<u8>> = LENS
            .iter()
            .enumerate()
            .map(|(i, &n)| payload(i, n))
            .collect();
        assert_eq!(frames, want, "format {fmt}");
    }
}

#[test]
fn lenframe_encodes_python_unpacks() {
    let Some(_) = python() else { return };
    for fmt in FORMATS {
        let codec = Codec::new(fmt.parse().unwrap());
        let mut w = codec.new_write(Vec::new());
        for (i, &n) in LENS.iter().enumerate() {
            w.write_frame(payload(i, n)).unwrap();
        }
        let wire = w.into_inner().unwrap();
        let script = format!(
            "{PY_HELPERS}\nfmt = {fmt:?}\ndata = sys.stdin.buffer.read()\nsize = struct.calcsize(fmt)\npos = 0\ni = 0\nwhile pos < len(data):\n    (n,) = struct.unpack(fmt, data[pos:pos + size])\n    pos += size\n    assert data[pos:pos + n] == payload(i, LENS[i]), (i, n)\n    pos += n\n    i += 1\nassert i == len(LENS), i\nprint('ok', i)\n"
        );
        let out = run_python(&script, &wire);
        assert_eq!(
            String::from_utf8(out).unwrap().trim(),
            format!("ok {}", LENS.len()),
            "{fmt}"
        );
    }
}

#[test]
fn header_sizes_match_python_calcsize() {
    let Some(_) = python() else { return };
    let all: Vec<String> = ["", "@", "=", "<", ">", "!"]
        .iter()
        .flat_map(|p| "bBhHiIlLqQ".chars().map(move |c| format!("{p}{c}")))
        .collect();
    let script = format!(
        "import struct\nfor f in {all:?}:\n    print(f, struct.calcsize(f), struct.pack(f, 1).hex())\n"
    );
    let out = String::from_utf8(run_python(&script, b"")).unwrap();
    let mut checked = 0;
    for line in out.lines() {
        let mut parts = line.split_whitespace();
        let (f, size, hex) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let format: lenframe::HeaderFormat = f.parse().unwrap();
        assert_eq!(format.size().to_string(), size, "{f}");
        let ours: String = format
            .encode(1)
            .unwrap()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(ours, hex, "{f}");
        checked += 1;
    }
    assert_eq!(checked, 60);
}

/// A reader that hands out one byte per call.
struct OneByte<'a>(&'a [u8]);

impl std::io::Read for OneByte<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() || out.is_empty() {
            return Ok(0);
        }
        out[0] = self.0[0];
        self.0 = &self.0[1..];
        Ok(1)
    }
}
