//! Varint headers (`"varint"`, `"varint-strict"`) through the blocking
//! faces and at their edges: the configuration they accept and refuse,
//! readers, writers, `Framed` over a real socket, streamed frames,
//! `Oversize::Skip`, hostile headers (bounded memory, typed errors as soon
//! as the bytes prove them) and the stall hints that name a varint peer.
//! The split-and-merge property tests live in
//! `tests/codec/varint_split_merge.rs`, the reference model in
//! `tests/model/`.

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::thread;

use lenframe::{Codec, Error, FramePart, Framed, HeaderFormat, HeaderKind, Oversize};

use crate::common::{Act, FaultyReader, ThenWouldBlock};

/// The shortest LEB128 of `v`, written here from the definition.
fn leb128(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let low = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(low);
            return out;
        }
        out.push(low | 0x80);
    }
}

/// A protobuf-delimited stream of `payloads`, built by hand.
fn delimited(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut wire = Vec::new();
    for p in payloads {
        wire.extend(leb128(p.len() as u64));
        wire.extend_from_slice(p);
    }
    wire
}

/// Payloads whose headers are 1, 2 and 3 bytes, at every boundary.
fn boundary_payloads() -> Vec<Vec<u8>> {
    [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000]
        .iter()
        .map(|&n| (0..n).map(|i| (i * 31 % 251) as u8).collect())
        .collect()
}

fn varint(max: usize) -> Codec {
    Codec::builder()
        .format(HeaderFormat::VARINT)
        .max_frame_len(max)
        .build()
        .unwrap()
}

#[test]
fn the_format_is_selectable_every_way() {
    let f: HeaderFormat = "varint".parse().unwrap();
    assert_eq!(f, HeaderFormat::VARINT);
    assert_eq!(f.kind(), HeaderKind::Varint);
    assert!(f.is_varint());
    assert_eq!(f.to_string(), "varint");
    assert_eq!(" varint ".parse::<HeaderFormat>().unwrap(), f);
    let s: HeaderFormat = "varint-strict".parse().unwrap();
    assert_eq!(s, HeaderFormat::VARINT_STRICT);
    assert_eq!(s.kind(), HeaderKind::StrictVarint);
    assert_eq!(s.to_string().parse::<HeaderFormat>().unwrap(), s);
    assert_eq!(HeaderFormat::default().kind(), HeaderKind::Fixed);
    assert!(!HeaderFormat::default().is_varint());
    let c = Codec::from_format("varint").unwrap();
    assert_eq!(c, "varint".parse::<Codec>().unwrap());
    assert_eq!(c, Codec::new(HeaderFormat::VARINT));
    assert_eq!(
        c,
        Codec::builder()
            .format("varint".parse().unwrap())
            .build()
            .unwrap()
    );
    assert_eq!(c.header_len(), 10);
    assert_eq!(c.num_skip(), 10);
    assert_eq!(c.length_field_offset(), 0);
    assert_eq!(c.max_frame_len(), lenframe::DEFAULT_MAX_FRAME_LEN);
    // The maximum can go past 2^32, which protobuf's C++ parser misreads.
    let big = c.with_max_frame_len(usize::MAX).unwrap();
    assert_eq!(big.max_frame_len(), usize::MAX - 10);
    for bad in ["Varint", "varint!", "!varint", "v", "varint-loose"] {
        assert!(
            matches!(bad.parse::<HeaderFormat>(), Err(Error::BadFormat { .. })),
            "{bad}"
        );
    }
}

#[test]
fn options_that_need_a_fixed_header_are_refused() {
    let b = || {
        let mut b = Codec::builder();
        b.format(HeaderFormat::VARINT);
        b
    };
    for (what, built) in [
        ("offset", b().length_field_offset(2).build()),
        ("includes header", b().length_includes_header(true).build()),
        ("adjustment", b().length_adjustment(-1).build()),
        ("adjustment", b().length_adjustment(4).build()),
        ("num_skip 1", b().num_skip(1).build()),
        ("num_skip 11", b().num_skip(11).build()),
    ] {
        match built {
            Err(Error::BadConfig { reason, .. }) => {
                assert!(reason.contains("varint"), "{what}: {reason}")
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // 0 keeps the varint, the whole header strips it.
    assert_eq!(b().num_skip(0).build().unwrap().num_skip(), 0);
    assert_eq!(b().num_skip(10).build().unwrap(), b().build().unwrap());
    let strict = Codec::builder()
        .format(HeaderFormat::VARINT_STRICT)
        .num_skip(9)
        .build()
        .unwrap();
    assert_eq!(strict.header_len(), 9);
}

#[test]
fn encoders_write_the_shortest_varint() {
    let c = varint(1 << 20);
    for p in boundary_payloads() {
        let want = delimited(std::slice::from_ref(&p));
        let mut v = Vec::new();
        c.encode_to_vec(&p, &mut v).unwrap();
        assert_eq!(v, want, "{}", p.len());
        let mut b = bytes::BytesMut::new();
        c.encode(&p, &mut b).unwrap();
        assert_eq!(&b[..], &want[..]);
        assert_eq!(&c.header(p.len()).unwrap()[..], &leb128(p.len() as u64)[..]);
        // The no-std face: exactly the frame's bytes are needed.
        let mut tx = vec![0u8; want.len()];
        assert_eq!(c.encode_to_slice(&p, &mut tx).unwrap(), want.len());
        assert_eq!(tx, want);
        let mut short = vec![0u8; want.len() - 1];
        assert!(matches!(
            c.encode_to_slice(&p, &mut short),
            Err(Error::BufferTooSmall { .. })
        ));
        assert_eq!(c.payload_len_of(&want).unwrap(), Some(p.len() as u64));
    }
    assert!(matches!(
        varint(5).header(6),
        Err(Error::FrameTooLargeToSend { len: 6, max: 5 })
    ));
    let f = HeaderFormat::VARINT;
    assert_eq!(f.encode(u64::MAX).unwrap().as_ref().len(), 10);
    assert!(HeaderFormat::VARINT_STRICT.encode(1 << 63).is_none());
}

#[test]
fn reader_writer_and_framed_over_a_socket() {
    let payloads = boundary_payloads();
    let codec = varint(1 << 20);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut framed = codec.new_framed(conn);
        let mut n = 0;
        while let Some(frame) = framed.recv().unwrap() {
            framed.feed(frame).unwrap();
            n += 1;
        }
        n
    });
    let conn = TcpStream::connect(addr).unwrap();
    let mut reader = codec.new_read(conn.try_clone().unwrap());
    let mut writer = codec.new_write(conn);
    // The bytes a protobuf peer writes, through the writer...
    for p in &payloads {
        writer.write_frame(p).unwrap();
    }
    writer.flush().unwrap();
    for p in &payloads {
        assert_eq!(reader.read_frame().unwrap().unwrap(), &p[..]);
    }
    // ... and as raw delimited bytes, one byte per write.
    let raw = delimited(&payloads);
    let inner = writer.get_mut();
    for b in raw.chunks(1).take(400) {
        io::Write::write_all(inner, b).unwrap();
    }
    io::Write::write_all(inner, &raw[400..]).unwrap();
    for p in &payloads {
        assert_eq!(reader.read_frame().unwrap().unwrap(), &p[..]);
    }
    writer
        .get_ref()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    assert!(reader.read_frame().unwrap().is_none());
    assert_eq!(echo.join().unwrap(), 2 * payloads.len());
}

#[test]
fn headers_split_at_every_byte_read_the_same() {
    let payloads = boundary_payloads();
    let wire = delimited(&payloads);
    for script in [
        vec![Act::Short(1)],
        vec![Act::Short(2), Act::WouldBlock, Act::Short(3)],
    ] {
        let codec = varint(1 << 20);
        let mut reader = codec.new_read(FaultyReader::new(wire.clone(), script));
        let mut got = Vec::new();
        loop {
            match reader.read_frame() {
                Ok(Some(f)) => got.push(f.to_vec()),
                Ok(None) => break,
                Err(e) if e.is_retryable() => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, payloads);
    }
}

#[test]
fn kept_prefixes_and_non_minimal_headers() {
    let keep = Codec::builder()
        .format(HeaderFormat::VARINT)
        .num_skip(0)
        .build()
        .unwrap();
    let payloads = boundary_payloads();
    let wire = delimited(&payloads);
    let mut r = keep.new_read(&wire[..]);
    for p in &payloads {
        let f = r.read_frame().unwrap().unwrap();
        let mut want = leb128(p.len() as u64);
        want.extend_from_slice(p);
        assert_eq!(f, want);
    }
    // protobuf's parsers accept a longer encoding than needed; so does
    // "varint", "varint-strict" does not.
    let padded = [0x83, 0x80, 0x80, 0x00, b'a', b'b', b'c', 0x80, 0x00];
    let mut r = Codec::from_format("varint").unwrap().new_read(&padded[..]);
    assert_eq!(r.read_frame().unwrap().unwrap(), &b"abc"[..]);
    assert_eq!(r.read_frame().unwrap().unwrap(), &b""[..]);
    assert!(r.read_frame().unwrap().is_none());
    let mut r = Codec::from_format("varint-strict")
        .unwrap()
        .new_read(&padded[..]);
    match r.read_frame() {
        Err(Error::BadVarint { len: 4, reason }) => assert!(reason.contains("minimal"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// A reader that counts how many bytes were asked of it.
struct Counting<R> {
    inner: R,
    read: usize,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        self.read += n;
        Ok(n)
    }
}

#[test]
fn hostile_headers_fail_typed_before_any_payload_is_buffered() {
    let mut ten_bytes_over_64_bits = [0xffu8; 10];
    ten_bytes_over_64_bits[9] = 0x02;
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("11 continuation bytes", vec![0xff; 11], "within 10 bytes"),
        ("10 bytes, continuing", vec![0x80; 10], "within 10 bytes"),
        ("over 64 bits", ten_bytes_over_64_bits.to_vec(), "64 bits"),
        (
            "2^63 over the max",
            [&[0x80u8; 9][..], &[0x01]].concat(),
            "",
        ),
        ("one byte over a max of 100", vec![101], ""),
    ];
    for (what, header, reason_part) in cases {
        let mut wire = header.clone();
        wire.extend(std::iter::repeat(7u8).take(1 << 20));
        let codec = varint(100);
        // The decoder: the error comes from the header alone.
        let mut dec = codec.new_decoder();
        let e = dec.decode_slice(&header).unwrap_err();
        match &e {
            Error::BadVarint { reason, len } => {
                assert!(reason.contains(reason_part), "{what}: {reason}");
                assert_eq!(*len, 10, "{what}");
                assert!(dec.is_failed());
            }
            Error::FrameTooLarge { max: 100, .. } => assert!(reason_part.is_empty(), "{what}"),
            other => panic!("{what}: {other:?}"),
        }
        // The header check on its own says the same.
        let peek = codec.payload_len_of(&header).unwrap_err();
        assert_eq!(peek.to_string(), e.to_string(), "{what}");
        // The reader: same error, its buffer never near what was claimed.
        let mut r = codec.new_read(Counting {
            inner: &wire[..],
            read: 0,
        });
        let e2 = r.read_frame().unwrap_err();
        assert_eq!(e2.to_string(), e.to_string(), "{what}");
        let (inner, buf) = r.into_parts();
        assert!(buf.capacity() <= 64 * 1024, "{what}: {}", buf.capacity());
        assert!(inner.read <= 64 * 1024, "{what}: read {}", inner.read);
        let io: io::Error = e2.into();
        assert_eq!(io.kind(), io::ErrorKind::InvalidData, "{what}");
    }
    // 2^63 is a valid length, just over the max.
    let mut dec = varint(100).new_decoder();
    let header = [&[0x80u8; 9][..], &[0x01]].concat();
    assert!(matches!(
        dec.decode_slice(&header),
        Err(Error::FrameTooLarge { len, max: 100 }) if len == 1 << 63
    ));
}

#[test]
fn oversize_skip_goes_on_with_the_next_frame() {
    let codec = Codec::builder()
        .format(HeaderFormat::VARINT)
        .max_frame_len(200)
        .oversize(Oversize::Skip)
        .build()
        .unwrap();
    let payloads = [
        vec![1u8; 10],
        vec![2u8; 300],
        vec![3u8; 200],
        vec![4u8; 70_000],
        vec![],
    ];
    let wire = delimited(&payloads);
    let mut r = codec.new_read(FaultyReader::new(wire, vec![Act::Short(7)]));
    let mut got = Vec::new();
    let mut skipped = Vec::new();
    loop {
        match r.read_frame() {
            Ok(Some(f)) => got.push(f.to_vec()),
            Ok(None) => break,
            Err(Error::FrameTooLarge { len, max: 200 }) => skipped.push(len),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, [vec![1u8; 10], vec![3u8; 200], vec![]]);
    assert_eq!(skipped, [300, 70_000]);
}

#[test]
fn a_huge_frame_streams_through_a_small_buffer() {
    let codec = varint(1024);
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let wire = delimited(&[big.clone(), b"after".to_vec()]);
    let mut r = codec.new_read(&wire[..]);
    let mut s = r.read_frame_stream(4 << 20).unwrap().unwrap();
    assert_eq!(s.len(), big.len() as u64);
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert!(out == big);
    assert_eq!(r.read_frame().unwrap().unwrap(), &b"after"[..]);
    // The writer's streaming face writes the same bytes.
    let mut w = codec.new_write(Vec::new());
    w.write_frame_from(big.len() as u64, &mut &big[..]).unwrap();
    w.write_frame(b"after").unwrap();
    assert!(w.into_inner().unwrap() == wire);
    // A streamed frame over its own limit is refused from the header.
    let mut r = codec.new_read(&wire[..]);
    assert!(matches!(
        r.read_frame_stream(1 << 20),
        Err(Error::FrameTooLarge {
            len: 3_000_000,
            max: 1_048_576
        })
    ));
}

#[test]
fn a_stream_cut_inside_a_varint_says_so() {
    let codec = varint(1 << 20);
    let mut r = codec.new_read(&[0x05, b'h', b'e', b'l', b'l', b'o', 0x80, 0x80][..]);
    assert_eq!(r.read_frame().unwrap().unwrap(), &b"hello"[..]);
    match r.read_frame() {
        Err(Error::Truncated {
            part: FramePart::Header,
            got: 2,
            expected: 3,
        }) => {}
        other => panic!("{other:?}"),
    }
    let mut r = codec.new_read(&[0xac, 0x02, b'x'][..]);
    match r.read_frame() {
        Err(Error::Truncated {
            part: FramePart::Payload,
            got: 1,
            expected: 300,
        }) => {}
        other => panic!("{other:?}"),
    }
}

fn stall_message(codec: Codec, wire: &[u8]) -> String {
    let mut r = codec.new_read(ThenWouldBlock(wire));
    loop {
        match r.read_frame() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no stall"),
            Err(e) => {
                let e = io::Error::from(e);
                assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
                return e.to_string();
            }
        }
    }
}

/// A protobuf message: field 1 (a string) "hello world".
fn message() -> Vec<u8> {
    let mut m = vec![0x0a, 11];
    m.extend_from_slice(b"hello world");
    m
}

#[test]
fn a_fixed_header_reader_fed_varint_frames_names_the_mismatch() {
    // `!H` reads `0d 0a` as 3 338 bytes: the 14 that came are one whole
    // varint-prefixed protobuf message.
    let one = delimited(&[message()]);
    let msg = stall_message(Codec::from_format("!H").unwrap(), &one);
    assert!(msg.contains("3338 payload bytes"), "{msg}");
    assert!(msg.contains("varint"), "{msg}");
    // Two of them, after a `<H` header that reads them as 2 573 bytes.
    let two = delimited(&[message(), message()]);
    let msg = stall_message(Codec::from_format("<H").unwrap(), &two);
    assert!(msg.contains("try the `varint` format"), "{msg}");
    // A short one stalls inside a `!I` header.
    let short = delimited(&[vec![0x08, 0x01]]);
    let msg = stall_message(Codec::default(), &short);
    assert!(
        msg.contains("inside a frame header: 3 of its 4 bytes"),
        "{msg}"
    );
    assert!(msg.contains("varint"), "{msg}");
    // The other way round, a varint reader fed a fixed header stalls
    // inside its (misread) payload with nothing to go on: no hint. (Its
    // header `00 00 03 e8` is two empty frames and a 3-byte one; then
    // `7f` declares 127 bytes.)
    let mut fixed = Vec::new();
    Codec::default()
        .encode_to_vec(vec![0x7f; 1000], &mut fixed)
        .unwrap();
    let msg = stall_message(varint(1 << 20), &fixed[..600]);
    assert!(!msg.contains("format"), "{msg}");
}

#[test]
fn legitimate_fixed_frames_stalled_anywhere_get_no_varint_hint() {
    for format in ["!I", "!H", "<I", "<H", "!Q"] {
        let codec = Codec::builder()
            .format(format.parse().unwrap())
            .max_frame_len(60_000)
            .build()
            .unwrap();
        for (len, fill) in [
            (20_000usize, 0u8),
            (3_000, b'a'),
            (300, 0x0a),
            (40_000, 0x08),
        ] {
            let mut wire = Vec::new();
            codec.encode_to_vec(vec![fill; len], &mut wire).unwrap();
            for cut in (0..wire.len()).step_by(97).chain([1, 2, 3, 1460, 2920]) {
                let cut = cut.min(wire.len() - 1);
                let msg = stall_message(codec, &wire[..cut]);
                assert!(
                    !msg.contains("varint"),
                    "{format} {len} {fill} cut {cut}: {msg}"
                );
            }
        }
    }
}

#[test]
fn a_varint_reader_fed_fixed_headers_reads_empty_frames_as_documented() {
    // `00 00 00 05 hello` parses cleanly as three empty frames and one of
    // five bytes: nothing to attach a hint to.
    let mut r = varint(100).new_read(&b"\0\0\0\x05hello"[..]);
    let mut got = Vec::new();
    while let Some(f) = r.read_frame().unwrap() {
        got.push(f.to_vec());
    }
    assert_eq!(got, [vec![], vec![], vec![], b"hello".to_vec()]);
}

#[test]
#[cfg(unix)]
fn framed_send_and_recv_with_protobuf_bytes() {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let codec = Codec::from_format("varint").unwrap();
    let mut left = Framed::with_codec(a, codec);
    let mut right = Framed::with_codec(b, codec);
    left.send(message()).unwrap();
    assert_eq!(right.recv().unwrap().unwrap(), &message()[..]);
    right.send(b"").unwrap();
    assert_eq!(left.recv().unwrap().unwrap(), &b""[..]);
}
