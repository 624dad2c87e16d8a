//! The tool's hint for a peer whose header, read in the other byte order,
//! makes sense: which format it writes, for the flag that reads it
//! (`serve`'s and `connect`'s `--header`, `proxy`'s `--client-header` and
//! `--server-header`). Fixed-size headers only: a varint has one byte
//! order.

use lenframe::{ByteOrder, Codec, HeaderFormat};

/// A header that makes sense in the other byte order.
pub struct OtherOrder {
    /// The payload length it says read that way.
    pub len: u64,
    /// The format the peer most likely packs with, as a flag takes it
    /// (`i` for Python's `struct.pack('i')` on a little-endian machine,
    /// `!I`, `<h`, ...).
    pub format: String,
    /// The peer's byte order: `little-endian` or `big-endian`.
    pub theirs: &'static str,
    /// The byte order `codec` reads.
    pub ours: &'static str,
}

/// If `bytes` start with a header that, read in the other byte order,
/// gives a length `codec` accepts (and, with `complete_within`, a frame
/// complete within that many bytes, every frame read that way ending
/// exactly there): what the peer writes. Fixed-size headers of 2 bytes or
/// more only: a varint, or one byte, has no byte order.
pub fn other_byte_order(
    codec: &Codec,
    bytes: &[u8],
    complete_within: Option<usize>,
) -> Option<OtherOrder> {
    let ours = codec.format();
    if ours.is_varint() {
        return None; // 7 bits per byte, least significant first: no other order
    }
    let size = ours.size();
    let start = codec.length_field_offset();
    let field = bytes.get(start..start + size)?;
    if size == 1 {
        return None; // one byte has no byte order
    }
    let (order, name) = if ours.is_big_endian() {
        (ByteOrder::Little, "little-endian")
    } else {
        (ByteOrder::Big, "big-endian")
    };
    let theirs = HeaderFormat::new(order, code_of_size(size, ours.is_signed())).ok()?;
    let value = theirs.decode(field).ok()?;
    let len = i128::from(value) - i128::from(codec.length_adjustment());
    if len < 0 || len > codec.max_frame_len() as i128 {
        return None;
    }
    if let Some(buffered) = complete_within {
        // The bytes must end exactly where frames read that way end (a
        // legitimate 64 KiB frame still arriving reads as 256 the other
        // way, but its bytes do not end on such a boundary).
        let mut pos = 0usize;
        while pos < buffered {
            let field = bytes.get(pos + start..pos + start + size)?;
            let value = theirs.decode(field).ok()?;
            let len = i128::from(value) - i128::from(codec.length_adjustment());
            if len < 0 || len > codec.max_frame_len() as i128 {
                return None;
            }
            pos += codec.header_len() + len as usize;
        }
        if pos != buffered {
            return None;
        }
    }
    let ours_name = if ours.is_big_endian() {
        "big-endian"
    } else {
        "little-endian"
    };
    Some(OtherOrder {
        len: len as u64,
        format: peer_format(order, size, ours.code()),
        theirs: name,
        ours: ours_name,
    })
}

/// [`other_byte_order`] worded for `serve`: e.g. `; this server reads !I
/// headers (big-endian); read little-endian this one says 5: a Python
/// struct.pack('i') peer needs --header i`.
pub fn byte_order_hint(
    codec: &Codec,
    bytes: &[u8],
    complete_within: Option<usize>,
) -> Option<String> {
    let OtherOrder {
        len,
        format,
        theirs,
        ours,
    } = other_byte_order(codec, bytes, complete_within)?;
    let reads = codec.format();
    Some(format!(
        "; this server reads {reads} headers ({ours}); read {theirs} this one says {len}: \
         a Python struct.pack('{format}') peer needs --header {format}"
    ))
}

/// The integer code of `size` bytes (standard sizes).
fn code_of_size(size: usize, signed: bool) -> char {
    let code = match size {
        2 => 'h',
        4 => 'i',
        _ => 'q',
    };
    if signed {
        code
    } else {
        code.to_ascii_uppercase()
    }
}

/// The format a peer of that byte order most likely packs with: the
/// tutorials' native `i` for little-endian 4-byte headers (on a
/// little-endian machine), network order `!` for big-endian ones.
fn peer_format(order: ByteOrder, size: usize, code: char) -> String {
    let native_little = cfg!(target_endian = "little");
    match (order, size) {
        (ByteOrder::Little, 4) if native_little => "i".into(),
        (ByteOrder::Little, _) if native_little && !matches!(code, 'l' | 'L') => code.to_string(),
        (ByteOrder::Little, _) => format!("<{}", code_of_size(size, code.is_ascii_lowercase())),
        (_, 4) => "!I".into(),
        _ => format!("!{}", code_of_size(size, code.is_ascii_lowercase())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_python_struct_pack_i_header_gets_the_hint() {
        let codec = Codec::default();
        let hint = byte_order_hint(&codec, &5u32.to_le_bytes(), None).unwrap();
        assert!(hint.contains("--header i"), "{hint}");
    }

    #[test]
    fn a_varint_header_never_gets_a_byte_order_hint() {
        // Read as a big-endian `Q` (what the fixed-size path would make of
        // a 10-byte "header"), these bytes say 5: a plausible length.
        let bytes = [0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5];
        for format in ["varint", "varint-strict"] {
            let codec = Codec::from_format(format).unwrap();
            assert_eq!(byte_order_hint(&codec, &bytes, None), None, "{format}");
            assert_eq!(
                byte_order_hint(&codec, &bytes, Some(bytes.len())),
                None,
                "{format}"
            );
        }
    }
}
