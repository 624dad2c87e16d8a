//! `lenframe-interop` (unpublished): proof that lenframe's varint header
//! (`Codec::from_format("varint")`, protobuf's length-delimited framing)
//! is byte-exact with protobuf peers, and a bench of its speed.
//!
//! The library is empty; the package is its tests, its bench and one
//! example:
//!
//! - `tests/prost_interop.rs`: lenframe against prost's
//!   `encode_length_delimited` / `decode_length_delimited`, byte for byte,
//!   in memory, over blocking and tokio TCP, split at every byte;
//! - `tests/python_protobuf.rs`: lenframe against Python's `protobuf`
//!   (`proto.serialize_length_prefixed` / `parse_length_prefixed`) over a
//!   TCP socket, both ways (skipped, saying why, without a Python
//!   protobuf >= 5.28: `interop/install-protobuf.sh` installs one);
//! - `benches/varint.rs`: 16-byte frames decoded and encoded by lenframe,
//!   by `unsigned_varint::codec::UviBytes` and by a hand loop over
//!   `prost::encoding`, side by side (`cargo bench -p lenframe-interop`).
//! - `examples/protobuf_over_tcp.rs`: the README's "Protobuf over TCP"
//!   program, run as the doctest below (`tests/readme.rs` checks that the
//!   README shows it as it is).

/// The README's "Protobuf over TCP" program (`examples/protobuf_over_tcp.rs`),
/// run as a doctest.
#[doc = "```rust"]
#[doc = include_str!("../examples/protobuf_over_tcp.rs")]
#[doc = "```"]
pub mod protobuf_over_tcp {}
