//! How payload bytes are shown: escaped text that is always one line, hex,
//! short previews, and the JSON fields of a payload. Shared by `connect`,
//! `proxy` and `inspect`, so a frame looks the same in each.
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Bytes of a payload that a preview shows unless told otherwise.
pub const PREVIEW: usize = 32;

/// `bytes` as one line of text: printable UTF-8 as it is, `\\` for a
/// backslash, `\n` `\r` `\t` `\0`, `\xNN` for every other control byte and
/// every byte that is not part of valid UTF-8, and `\u{NNNN}` for other
/// control characters (U+0085, U+2028, ...), so a frame never breaks the
/// line it is printed on.
///
/// A UTF-8 character cut by the end of `bytes` is shown as `\xNN` bytes.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\0' => out.push_str("\\0"),
                c if c.is_ascii_control() => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// `bytes` in lowercase hex, two digits a byte, nothing between them.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `bytes` in hex, a space between bytes (`00 00 00 05`): for a reader.
pub fn spaced_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Whether `bytes` read as text: valid UTF-8 (a character cut by their
/// end allowed) and at least three quarters printable characters or
/// whitespace. Empty bytes are text.
pub fn is_text(bytes: &[u8]) -> bool {
    let mut printable = 0usize;
    let mut total = 0usize;
    let mut chunks = bytes.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        for c in chunk.valid().chars() {
            total += 1;
            if !c.is_control() || matches!(c, '\n' | '\r' | '\t') {
                printable += 1;
            }
        }
        // Invalid bytes: only a character cut by the end is allowed.
        if !chunk.invalid().is_empty() && (chunks.peek().is_some() || !cut_char(chunk.invalid())) {
            return false;
        }
    }
    printable * 4 >= total * 3
}

/// Whether `bytes` (1 to 3 of them) are the start of a UTF-8 character.
fn cut_char(bytes: &[u8]) -> bool {
    let need = match bytes[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return false,
    };
    bytes.len() < need && bytes[1..].iter().all(|b| b & 0xc0 == 0x80)
}

/// A short look at a payload of `len` bytes whose first bytes are
/// `start` (all of it, or what has arrived): at most `limit` bytes of it,
/// quoted and escaped if they read as text (`"hello"`), spaced hex
/// otherwise (`ff d8 ff e0`), followed by `...` when the payload is longer
/// than what is shown. An empty payload is `""`.
pub fn preview(start: &[u8], len: u64, limit: usize) -> String {
    let shown = &start[..start.len().min(limit)];
    let mut out = if is_text(shown) {
        format!("\"{}\"", escape(shown).replace('"', "\\\""))
    } else {
        spaced_hex(shown)
    };
    if (shown.len() as u64) < len {
        out.push_str("...");
    }
    out
}

/// Puts a payload's bytes into a JSON object: `"text"` (a string) when
/// they are valid UTF-8, `"hex"` (lowercase, no spaces) otherwise. Scripts
/// read whichever key is present.
pub fn payload_fields(bytes: &[u8], object: &mut Map<String, Value>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => object.insert("text".into(), Value::from(text)),
        Err(_) => object.insert("hex".into(), Value::from(hex(bytes))),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_is_one_line_and_keeps_what_is_printable() {
        assert_eq!(escape(b"hello"), "hello");
        assert_eq!(escape("你好 naïve".as_bytes()), "你好 naïve");
        assert_eq!(escape(b"a\nb\r\tc\0"), "a\\nb\\r\\tc\\0");
        assert_eq!(escape(b"back\\slash"), "back\\\\slash");
        assert_eq!(escape(b"\x01\x7f\xff\xfe"), "\\x01\\x7f\\xff\\xfe");
        assert_eq!(escape("\u{85}\u{2028}".as_bytes()), "\\u{85}\\u{2028}");
        // A cut character: its bytes.
        assert_eq!(escape(&"你".as_bytes()[..2]), "\\xe4\\xbd");
        for bytes in [&b"\n\r\x0b\x0c\x1c"[..], "\u{2029}\u{85}".as_bytes()] {
            let line = escape(bytes);
            assert_eq!(line.lines().count(), 1, "{line}");
        }
    }

    #[test]
    fn hex_forms() {
        assert_eq!(hex(b"\x00\x0a\xff"), "000aff");
        assert_eq!(spaced_hex(b"\x00\x0a\xff"), "00 0a ff");
        assert_eq!(hex(b""), "");
    }

    #[test]
    fn text_or_not() {
        assert!(is_text(b""));
        assert!(is_text(b"hello world\n"));
        assert!(is_text(&"你好".as_bytes()[..4])); // cut inside the second
        assert!(!is_text(b"\x00\x00\x00\x05"));
        assert!(!is_text(b"ab\xffcd"));
        assert!(!is_text(b"\x16\x03\x01\x02\x00"));
    }

    #[test]
    fn previews() {
        assert_eq!(preview(b"hello", 5, 32), "\"hello\"");
        assert_eq!(preview(b"hello", 500, 32), "\"hello\"...");
        assert_eq!(preview(b"hello world", 11, 5), "\"hello\"...");
        assert_eq!(preview(b"say \"hi\"", 8, 32), "\"say \\\"hi\\\"\"");
        assert_eq!(preview(b"\xff\xd8\xff\xe0", 4, 32), "ff d8 ff e0");
        assert_eq!(preview(b"", 0, 32), "\"\"");
        assert_eq!(preview(b"", 9, 32), "\"\"...");
    }

    #[test]
    fn json_payloads() {
        let mut o = Map::new();
        payload_fields("héllo".as_bytes(), &mut o);
        assert_eq!(Value::Object(o).to_string(), r#"{"text":"héllo"}"#);
        let mut o = Map::new();
        payload_fields(b"\xff\x00", &mut o);
        assert_eq!(Value::Object(o).to_string(), r#"{"hex":"ff00"}"#);
    }
}
