//! What the runs exercised: one counter per call kind and per state the
//! model check means to reach. The fixed-seed test asserts every counter
//! moved, so the check cannot quietly test less.

use std::cell::RefCell;

macro_rules! counters {
    ($($name:ident: $doc:literal,)*) => {
        /// A call kind or state reached.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        pub enum C {
            $(#[doc = $doc] $name,)*
        }

        /// Every counter, in table order.
        pub const ALL: &[C] = &[$(C::$name,)*];

        impl C {
            pub fn name(self) -> &'static str {
                match self {
                    $(C::$name => stringify!($name),)*
                }
            }

            pub fn doc(self) -> &'static str {
                match self {
                    $(C::$name => $doc,)*
                }
            }
        }
    };
}

counters! {
    config_rejected: "a generated configuration failed to build (BadConfig)",
    policy_skip: "a run under Oversize::Skip",
    policy_error: "a run under Oversize::Error",
    header_with_kept_bytes: "a run with num_skip < header_len",
    negative_adjustment: "a run with a negative length adjustment",
    varint_codec: "a run with a varint length header",
    varint_strict: "a run with varint-strict (unsigned-varint) rules",
    varint_kept_prefix: "a varint run whose frames keep their prefix (num_skip 0)",
    varint_config_refused: "a varint codec with a fixed-header setting refused (BadConfig)",
    varint_multi_byte_frame: "a varint frame (buffered or streamed) with a header of 2 bytes or more",
    varint_non_minimal_accepted: "a frame with a non-minimal varint header accepted (protobuf rules)",
    varint_stream: "a varint frame streamed",
    varint_bad_too_long: "BadVarint: no end within 10 bytes (9 strict)",
    varint_bad_overflow: "BadVarint: a value over 64 bits (10th byte over 1)",
    varint_bad_not_minimal: "BadVarint: a non-minimal header under strict rules",
    varint_truncated_header: "the input ending inside a varint header",
    varint_oversize_skip: "an oversize varint frame reported and skipped",
    varint_encoded_multi_byte: "a varint frame with a header of 2 bytes or more encoded, byte-exact against the model",
    ev_frame: "a buffered frame returned",
    ev_stream: "a streamed frame begun",
    ev_skipped: "an oversize frame reported and skipped",
    ev_too_large_fatal: "an oversize frame failing the stream",
    ev_negative: "a negative length",
    ev_adjustment: "an adjustment out of range",
    ev_truncated_header: "the input ending inside a header",
    ev_truncated_payload: "the input ending inside a payload",
    ev_clean: "a clean end",
    io_would_block: "WouldBlock returned by a reading call",
    io_timed_out: "TimedOut returned by a reading call",
    io_interrupted: "Interrupted injected (and retried inside)",
    r_read_frame: "FrameReader::read_frame",
    r_read_frame_ref: "FrameReader::read_frame_ref",
    r_iter_next: "FrameReader as Iterator",
    r_idle_capacity: "a FrameReader with set_idle_capacity (0, 20 or usize::MAX): buffers given back at every chance, or never",
    r_iter_continues_after_skip: "the iterator going on after a skipped oversize frame",
    r_iter_stopped: "the iterator returning None after its end",
    r_stream: "FrameReader::read_frame_stream",
    r_stream_read_whole: "a PayloadReader read to its end",
    r_stream_read_part_drop: "a PayloadReader read in part, then dropped",
    r_stream_drop_at_once: "a PayloadReader dropped unread",
    r_stream_drop_after_block: "a PayloadReader dropped right after a WouldBlock/TimedOut",
    r_stream_block_mid_payload: "WouldBlock/TimedOut from PayloadReader::read",
    r_stream_unexpected_eof: "PayloadReader::read past a stream that ends early",
    r_stream_zero_read: "PayloadReader::read into an empty buffer",
    r_stream_with_header_bytes: "a streamed frame that starts with kept header bytes",
    r_call_after_dropped_stream: "a reading call discarding the rest of a dropped stream",
    r_stream_while_skipping: "read_frame_stream called while an oversize frame is being skipped",
    r_stream_after_fatal: "read_frame_stream on a failed reader",
    r_stream_after_truncated: "read_frame_stream after the truncated end",
    r_stream_over_buffered_max: "a frame over max_frame_len that streams (stream limit larger)",
    r_stream_over_stream_max: "a frame within max_frame_len but over the stream limit",
    r_stream_after_partial_frame: "read_frame_stream after a buffered call stopped mid-frame",
    r_call_after_end: "a reading call after the clean or truncated end",
    r_into_parts: "FrameReader::into_parts",
    r_into_parts_mid_frame: "into_parts inside a skipped or streamed frame",
    r_from_parts: "FrameReader::from_parts of a reader taken apart at a boundary",
    d_decode: "FrameDecoder::decode",
    d_decode_slice: "FrameDecoder::decode_slice",
    d_decode_slice_discard: "decode_slice reporting discarded bytes",
    d_frames: "FrameDecoder::frames",
    d_begin_stream: "FrameDecoder::begin_stream",
    d_begin_stream_discard: "begin_stream reporting discarded bytes",
    d_consume_stream: "FrameDecoder::consume_stream",
    d_consume_stream_clamped: "consume_stream offered more than the frame has",
    d_stream_remaining: "FrameDecoder::stream_remaining",
    d_decode_discards_stream: "a buffered decode call discarding an unfinished stream",
    d_needed: "FrameDecoder::needed after a call that needed more",
    d_is_skip_report: "FrameDecoder::is_skip_report after an error, against the model",
    d_end_of_stream: "end_of_stream compared with the model's verdict",
    d_end_of_stream_after_skip: "end_of_stream right after a skip, with more buffered than the discard",
    d_decode_eof: "FrameDecoder::decode_eof at the end",
    d_eof_drain_clone: "decode_eof to the end on a clone, mid-stream",
    d_after_fatal: "a decoder call after a fatal error",
    tokio_decode: "FrameCodec (tokio_util Decoder) decode / decode_eof",
    futures_decode: "FrameCodec, FrameResultCodec as asynchronous-codec's FramedRead drives them",
    w_write_frame: "FrameWriter::write_frame accepted",
    w_write_frame_refused: "write_frame refusing an unencodable frame",
    w_write_frame_from_exact: "write_frame_from with an exact source",
    w_write_frame_from_short: "write_frame_from with a short source",
    w_write_frame_from_long: "write_frame_from with a long source",
    w_write_frame_from_refused: "write_frame_from refusing a length the header cannot carry",
    w_would_block: "a writer call returning WouldBlock/TimedOut",
    w_accepted_partly_buffered: "a frame accepted with part of it still buffered",
    w_poisoned: "a hard error poisoning the writer",
    w_after_poison: "a writer call refused after poison",
    w_flush: "FrameWriter::flush",
    w_into_parts: "FrameWriter::into_parts",
    w_from_parts: "FrameWriter::from_parts of a writer taken apart",
    w_is_poisoned: "FrameWriter::is_poisoned compared with the model",
    e_encode_faces: "Codec::header, encode, encode_to_vec and encode_to_slice",
    e_encode_to_slice_too_small: "encode_to_slice into a buffer too short",
    framed_recv: "Framed::recv",
    framed_read_frame: "Framed::read_frame",
    framed_read_frame_ref: "Framed::read_frame_ref",
    framed_iter_next: "Framed as Iterator",
    framed_feed: "Framed::feed",
    framed_write_frame: "Framed::write_frame",
    framed_send: "Framed::send",
    framed_send_blocked_accepted: "send blocking in its flush, the frame accepted",
    framed_flush: "Framed::flush",
    framed_flushed_before_read: "a read() on the stream after a reading call flushed the fed frames",
    framed_flush_would_block_then_read: "a read() on the stream with frames unflushed, its flush having blocked",
    framed_read_with_poisoned_unsent: "a read() on the stream with the unsent frames of a poisoned writer",
    framed_read_reports_write_error: "a reading call returning the hard error its flush met",
    framed_read_after_poison: "a reading call (checked by the model) after the writer was poisoned",
    framed_refused_after_read_poison: "a frame refused (WriterPoisoned) after a reading call's flush failed",
    framed_into_parts: "Framed::into_parts",
    framed_into_parts_unsent: "Framed::into_parts with unsent bytes",
    framed_into_inner: "Framed::into_inner",
    framed_split: "Framed::split",
    framed_from_parts: "Framed::from_parts of a stream taken apart at a boundary",
    framed_split_poisoned: "Framed::split of a poisoned writer",
    framed_split_stream: "read_frame_stream on the reader of a split",
    framed_split_write: "write_frame on the writer of a split",
}

thread_local! {
    static COUNTS: RefCell<Vec<u64>> = RefCell::new(vec![0; ALL.len()]);
}

/// Counts one occurrence.
pub fn hit(c: C) {
    COUNTS.with(|v| v.borrow_mut()[c as usize] += 1);
}

/// The counts of this thread, and resets them.
pub fn take() -> Vec<u64> {
    COUNTS.with(|v| std::mem::replace(&mut *v.borrow_mut(), vec![0; ALL.len()]))
}
