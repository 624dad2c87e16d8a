//! What the interop tests share: the codecs under test, protobuf messages
//! of exact encoded sizes (at the varint boundaries), well-known-type
//! messages that Python's protobuf can build too, and small I/O helpers.
// Each test binary uses part of it.
#![allow(dead_code)]

use std::io::{self, Read};

use lenframe::{Codec, HeaderFormat};
use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    value, DescriptorProto, FieldDescriptorProto, FileDescriptorProto, ListValue, Struct,
    Timestamp, Value,
};

/// The largest message the codecs accept: room for the ~3 MiB ones.
pub const MAX: usize = 8 << 20;

/// Lengths where the varint header gains a byte (1, 2, 3 and 4 bytes).
pub const BOUNDARIES: &[usize] = &[0, 1, 127, 128, 16383, 16384, 2_097_151, 2_097_152];

/// Both varint codecs, built each way the library offers, with `MAX`:
/// `(name, codec)`. They must write the same bytes (protobuf's encoders
/// write minimal varints, which both rule sets read).
pub fn codecs() -> Vec<(&'static str, Codec)> {
    let varint = Codec::from_format("varint")
        .and_then(|c| c.with_max_frame_len(MAX))
        .expect("the varint format");
    let strict = Codec::from_format("varint-strict")
        .and_then(|c| c.with_max_frame_len(MAX))
        .expect("the varint-strict format");
    let parsed: HeaderFormat = "varint".parse().expect("\"varint\".parse()");
    let built = Codec::builder()
        .format(HeaderFormat::VARINT)
        .max_frame_len(MAX)
        .build()
        .expect("a builder with HeaderFormat::VARINT");
    assert_eq!(parsed, HeaderFormat::VARINT);
    assert_eq!(built, varint, "builder and from_format disagree");
    vec![("varint", varint), ("varint-strict", strict)]
}

/// The protobuf-rules codec (`"varint"`) with `MAX`.
pub fn varint() -> Codec {
    codecs()[0].1
}

/// A message whose encoded size can be set to any length but 1: a bytes
/// field and a varint padding field (each omitted when zero, proto3).
#[derive(Clone, PartialEq, Message)]
pub struct Blob {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
    #[prost(uint64, tag = "2")]
    pub pad: u64,
}

/// Bytes a varint of `v` takes.
pub fn varint_len(v: u64) -> usize {
    prost::encoding::encoded_len_varint(v)
}

/// A `Blob` that encodes to exactly `n` bytes, or `None` for `n == 1`: every
/// protobuf field takes at least two bytes (key and value), so no message
/// encodes to one byte.
pub fn blob_of_len(n: usize, seed: u8) -> Option<Blob> {
    if n == 0 {
        return Some(Blob::default());
    }
    // The largest data field that leaves 0 or 2..=11 bytes for the padding
    // field (key + a varint of 1..=10 bytes); found within a few steps.
    for d in (0..n).rev() {
        let field = if d == 0 {
            0
        } else {
            1 + varint_len(d as u64) + d
        };
        let Some(rest) = n.checked_sub(field) else {
            continue;
        };
        let pad = match rest {
            0 => 0,
            // A value of exactly rest - 1 varint bytes.
            2..=11 => 1u64 << (7 * (rest - 2)),
            _ => continue,
        };
        let data = (0..d)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        let blob = Blob { data, pad };
        assert_eq!(blob.encoded_len(), n, "blob of {n} bytes");
        return Some(blob);
    }
    None
}

/// The timestamp the Python recipe also builds.
pub fn timestamp() -> Timestamp {
    Timestamp {
        seconds: 1_700_000_000,
        nanos: 123_456_789,
    }
}

fn string(s: &str) -> Value {
    Value {
        kind: Some(value::Kind::StringValue(s.to_string())),
    }
}

fn number(n: f64) -> Value {
    Value {
        kind: Some(value::Kind::NumberValue(n)),
    }
}

fn boolean(b: bool) -> Value {
    Value {
        kind: Some(value::Kind::BoolValue(b)),
    }
}

/// The `Struct` of the Python recipe's `s.update({...})` with a `nested`
/// string of `nested_len` bytes (Python's `update` turns ints into
/// doubles, as here).
pub fn sample_struct(nested_len: usize) -> Struct {
    let nested = Struct {
        fields: [("k".to_string(), string(&"v".repeat(nested_len)))].into(),
    };
    let list = ListValue {
        values: vec![number(1.0), string("two"), boolean(false)],
    };
    let fields = [
        ("name", string("lenframe")),
        ("count", number(3.0)),
        ("ok", boolean(true)),
        (
            "none",
            Value {
                kind: Some(value::Kind::NullValue(0)),
            },
        ),
        (
            "list",
            Value {
                kind: Some(value::Kind::ListValue(list)),
            },
        ),
        (
            "nested",
            Value {
                kind: Some(value::Kind::StructValue(nested)),
            },
        ),
    ];
    Struct {
        fields: fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    }
}

/// A `Struct` holding one string of `len` bytes: `{"blob": "x" * len}`.
pub fn blob_struct(len: usize) -> Struct {
    Struct {
        fields: [("blob".to_string(), string(&"x".repeat(len)))].into(),
    }
}

/// A descriptor of `messages` messages of `fields` optional string fields
/// each, as the Python recipe builds it.
pub fn descriptor(messages: usize, fields: usize) -> FileDescriptorProto {
    let message_type = (0..messages)
        .map(|i| DescriptorProto {
            name: Some(format!("M{i}")),
            field: (0..fields)
                .map(|j| FieldDescriptorProto {
                    name: Some(format!("field_{j}")),
                    number: Some(j as i32 + 1),
                    label: Some(Label::Optional as i32),
                    r#type: Some(Type::String as i32),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    FileDescriptorProto {
        name: Some("big.proto".to_string()),
        package: Some("lenframe.interop".to_string()),
        message_type,
        ..Default::default()
    }
}

/// One message of any of the types the tests send, decoded by its type.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Blob(Blob),
    Timestamp(Timestamp),
    Struct(Struct),
    /// Boxed: a descriptor is over 500 bytes, the others at most 48.
    Descriptor(Box<FileDescriptorProto>),
}

impl Msg {
    pub fn encode_to_vec(&self) -> Vec<u8> {
        match self {
            Msg::Blob(m) => m.encode_to_vec(),
            Msg::Timestamp(m) => m.encode_to_vec(),
            Msg::Struct(m) => m.encode_to_vec(),
            Msg::Descriptor(m) => m.encode_to_vec(),
        }
    }

    /// prost's own framing: `encode_length_delimited_to_vec`.
    pub fn encode_length_delimited_to_vec(&self) -> Vec<u8> {
        match self {
            Msg::Blob(m) => m.encode_length_delimited_to_vec(),
            Msg::Timestamp(m) => m.encode_length_delimited_to_vec(),
            Msg::Struct(m) => m.encode_length_delimited_to_vec(),
            Msg::Descriptor(m) => m.encode_length_delimited_to_vec(),
        }
    }

    /// `payload` decoded as a message of the same type as `self`.
    pub fn decode_like(&self, payload: &[u8]) -> Msg {
        let what = self.type_name();
        match self {
            Msg::Blob(_) => Msg::Blob(ok(what, Blob::decode(payload))),
            Msg::Timestamp(_) => Msg::Timestamp(ok(what, Timestamp::decode(payload))),
            Msg::Struct(_) => Msg::Struct(ok(what, Struct::decode(payload))),
            Msg::Descriptor(_) => {
                Msg::Descriptor(Box::new(ok(what, FileDescriptorProto::decode(payload))))
            }
        }
    }

    /// The next length-delimited message of `self`'s type off the front of
    /// `buf`: prost's `decode_length_delimited`.
    pub fn decode_length_delimited_like(&self, buf: &mut &[u8]) -> Msg {
        let what = self.type_name();
        match self {
            Msg::Blob(_) => Msg::Blob(ok(what, Blob::decode_length_delimited(buf))),
            Msg::Timestamp(_) => Msg::Timestamp(ok(what, Timestamp::decode_length_delimited(buf))),
            Msg::Struct(_) => Msg::Struct(ok(what, Struct::decode_length_delimited(buf))),
            Msg::Descriptor(_) => Msg::Descriptor(Box::new(ok(
                what,
                FileDescriptorProto::decode_length_delimited(buf),
            ))),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Msg::Blob(_) => "Blob",
            Msg::Timestamp(_) => "Timestamp",
            Msg::Struct(_) => "Struct",
            Msg::Descriptor(_) => "FileDescriptorProto",
        }
    }

    pub fn encoded_len(&self) -> usize {
        match self {
            Msg::Blob(m) => m.encoded_len(),
            Msg::Timestamp(m) => m.encoded_len(),
            Msg::Struct(m) => m.encoded_len(),
            Msg::Descriptor(m) => m.encoded_len(),
        }
    }
}

/// The decoded message, or a panic naming its type.
fn ok<M>(what: &str, decoded: Result<M, prost::DecodeError>) -> M {
    decoded.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Messages of every boundary size (but 1, which no message has), the
/// well-known types and a descriptor of about 1 MiB.
pub fn corpus() -> Vec<Msg> {
    let mut msgs: Vec<Msg> = BOUNDARIES
        .iter()
        .enumerate()
        .filter_map(|(i, &n)| blob_of_len(n, i as u8).map(Msg::Blob))
        .collect();
    msgs.push(Msg::Timestamp(timestamp()));
    msgs.push(Msg::Timestamp(Timestamp::default())); // 0 bytes
    msgs.push(Msg::Struct(sample_struct(200)));
    let big = descriptor(1900, 32);
    assert!(
        (1 << 20..2 << 20).contains(&big.encoded_len()),
        "the ~1 MiB descriptor has {} bytes",
        big.encoded_len()
    );
    msgs.push(Msg::Descriptor(Box::new(big)));
    msgs
}

/// Many small and middle-sized messages (about 100 KB in all): their
/// headers take 1, 2 and 3 bytes.
pub fn many_messages() -> Vec<Msg> {
    let mut msgs = Vec::new();
    for n in (0..300).chain([16383, 16384, 20000, 2, 3]) {
        if let Some(b) = blob_of_len(n, n as u8) {
            msgs.push(Msg::Blob(b));
        }
        if n % 50 == 0 {
            msgs.push(Msg::Timestamp(timestamp()));
            msgs.push(Msg::Struct(sample_struct(n)));
            msgs.push(Msg::Timestamp(Timestamp::default()));
        }
    }
    msgs.push(Msg::Descriptor(Box::new(descriptor(3, 4))));
    msgs
}

/// prost's framing of all of `msgs`, one after the other.
pub fn prost_wire(msgs: &[Msg]) -> Vec<u8> {
    msgs.iter()
        .flat_map(|m| m.encode_length_delimited_to_vec())
        .collect()
}

/// A reader that hands out at most `max` bytes per `read`: with `max` 1,
/// every header and payload arrives split at every byte boundary.
pub struct Chunked<'a> {
    pub rest: &'a [u8],
    pub max: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.rest.len().min(buf.len()).min(self.max);
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// A reader that records every byte it passes on (the raw wire).
pub struct Tee<R> {
    pub inner: R,
    pub seen: Vec<u8>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}
