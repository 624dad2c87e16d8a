//! Which header format a sender whose header was rejected probably
//! writes ([`crate::hint`]), worded for `--client-header` or
//! `--server-header`.

use lenframe::{Codec, Error, HeaderFormat};

use super::report::Dir;

/// If `error` rejected a length (too large, negative) and the header at
/// the start of `bytes`, read in the other byte order, gives a length
/// `codec` accepts: the format the sender most likely packs with (`i` for
/// a little-endian 4-byte header on a little-endian machine, as Python's
/// `struct.pack('i')` writes; `!I` for a big-endian one; `<h`, `!Q`, ...).
/// Fixed-size headers only: a varint has no byte order.
pub fn other_byte_order(codec: &Codec, error: &Error, bytes: &[u8]) -> Option<String> {
    if !matches!(
        error,
        Error::FrameTooLarge { .. } | Error::NegativeLength { .. }
    ) {
        return None;
    }
    crate::hint::other_byte_order(codec, bytes, None).map(|other| other.format)
}

/// What a line says about a sender that `format` (from
/// [`other_byte_order`]) explains: `the client writes little-endian
/// headers: try --client-header i`. Watching (both sides read with one
/// format), the receiver likely writes the same way, and the flag for
/// one side alone would turn on a translation it does not want: `(or
/// --header i if the server writes them too)` follows.
pub fn suggestion(dir: Dir, format: &str, watching: bool) -> String {
    let order = match format.parse::<HeaderFormat>() {
        Ok(f) if f.is_big_endian() => "big-endian",
        _ => "little-endian",
    };
    let both = if watching {
        format!(
            " (or --header {format} if the {} writes them too)",
            dir.receiver()
        )
    } else {
        String::new()
    };
    format!(
        "the {} writes {order} headers: try {} {format}{both}",
        dir.sender(),
        dir.flag()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(codec: &Codec, bytes: &[u8]) -> Error {
        codec.payload_len_of(bytes).unwrap_err()
    }

    #[test]
    fn the_tutorials_client_needs_i() {
        let codec = Codec::default();
        let wire = [5, 0, 0, 0, b'h', b'e', b'l', b'l', b'o'];
        let error = rejected(&codec, &wire);
        assert_eq!(
            other_byte_order(&codec, &error, &wire).as_deref(),
            Some("i")
        );
    }

    #[test]
    fn a_big_endian_sender_to_a_little_endian_reader_needs_network_order() {
        let codec = Codec::from_format("<I").unwrap();
        let wire = 5u32.to_be_bytes();
        let error = rejected(&codec, &wire);
        assert_eq!(
            other_byte_order(&codec, &error, &wire).as_deref(),
            Some("!I")
        );
        let codec = Codec::from_format("<H").unwrap();
        let codec = Codec::builder()
            .format(codec.format())
            .max_frame_len(100)
            .build()
            .unwrap();
        let wire = 7u16.to_be_bytes();
        let error = rejected(&codec, &wire);
        assert_eq!(
            other_byte_order(&codec, &error, &wire).as_deref(),
            Some("!H")
        );
    }

    #[test]
    fn no_suggestion_when_the_other_order_makes_no_sense_either() {
        let codec = Codec::default();
        let wire = [0x7f, 0xff, 0xff, 0x7f];
        let error = rejected(&codec, &wire);
        assert_eq!(other_byte_order(&codec, &error, &wire), None);
        let varint = Codec::from_format("varint").unwrap();
        let wire = [0xff, 0xff, 0xff, 0xff, 0x0f];
        let error = rejected(&varint, &wire);
        assert_eq!(other_byte_order(&varint, &error, &wire), None);
        // Text (an HTTP request) is not a byte order question.
        let wire = b"GET / HTTP/1.1\r\n";
        let error = rejected(&codec, wire);
        assert_eq!(other_byte_order(&codec, &error, wire), None);
    }
}
