//! One connection of the event-loop echo server, as a state: the sans-IO
//! [`FrameDecoder`] over the bytes read, and the encoded echoes not yet
//! written. It does no waiting: [`Conn::drive`] reads and writes until the
//! socket would block (or a budget says stop) and returns.
//!
//! Frames cross in batches. Whatever one `read()` brought in (up to the
//! worker's read buffer) is decoded where it lies, and the echoes of all
//! its complete frames are encoded into one buffer and written with one
//! `write()`. Only what the socket does not take at once is kept, in the
//! connection's own `out`; only the incomplete frame at the end of a read
//! is kept, in `partial`. An idle connection holds no buffer at all.

use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use lenframe::{Codec, Error, FrameDecoder};
use mio::net::TcpStream;

use crate::hint::byte_order_hint;

/// Capacity a buffer may keep while its connection is idle (nothing
/// pending, nothing more to read); a larger one is freed then, so memory
/// goes back after large frames.
const KEEP: usize = 16 * 1024;
/// Capacity a drained buffer may keep while its connection is busy.
const KEEP_BUSY: usize = 1024 * 1024;
/// A frame begun by one read and finished by later ones gets a buffer of
/// its whole size at once up to this size (no regrowth for each read);
/// larger ones grow with the bytes that actually arrive.
const RESERVE_WHOLE: usize = 256 * 1024;
/// Bytes one turn may read and drop from a peer at shutdown.
const LINGER_READ: usize = 1 << 20;
/// Bytes one read may bring in behind pending echoes (see
/// [`Conn::read_behind_echoes`]).
const BEHIND: usize = 256 * 1024;

/// Buffers one worker thread lends to all its connections in turn.
pub struct Scratch {
    /// Where every `read()` lands.
    read: Vec<u8>,
    /// Where the echoes of one read are encoded, when none are pending.
    echo: Vec<u8>,
    /// Echo buffers connections gave back, for the next that needs one.
    pub spare: Spare,
}

/// Echo buffers that connections gave back, kept by their worker for the
/// next connection that needs one: a pipelining connection drains its
/// echoes and fills them again many times a second, and a buffer freed
/// and allocated each time costs page faults and zeroing. At most
/// [`SPARES`] buffers per worker, none larger than a connection's buffer
/// can grow ([`spare_max`]); they count in `--max-memory`.
pub struct Spare {
    bufs: Vec<Vec<u8>>,
    memory: Arc<Memory>,
    max: usize,
}

/// Buffers a worker keeps for its connections.
const SPARES: usize = 1;

/// The largest echo buffer a connection with `budget` can grow: its
/// pending echoes reach the budget plus one read, and the buffer grows by
/// doubling.
pub fn spare_max(budget: usize) -> usize {
    budget.saturating_add(BEHIND).saturating_mul(2)
}

impl Spare {
    /// Keeps buffers of at most `max` bytes, counted in `memory`.
    pub fn new(memory: Arc<Memory>, max: usize) -> Spare {
        Spare {
            bufs: Vec::new(),
            memory,
            max,
        }
    }

    /// A buffer given back, or a new empty one. Its length is memory
    /// already initialized (free room, not data).
    fn take(&mut self) -> Vec<u8> {
        let buf = self.bufs.pop().unwrap_or_default();
        self.memory.adjust(buf.capacity(), 0);
        buf
    }

    /// Keeps `buf` for the next connection, if there is room for it (and
    /// in memory: it leaves half of `--max-memory` free).
    fn give(&mut self, buf: Vec<u8>) {
        let size = buf.capacity();
        let room = self.memory.used().saturating_add(size) <= self.memory.max / 2;
        if size > KEEP && size <= self.max && self.bufs.len() < SPARES && room {
            self.memory.adjust(0, size);
            self.bufs.push(buf);
        }
    }

    /// Frees the buffers kept (memory is needed).
    pub fn clear(&mut self) {
        while !self.bufs.is_empty() {
            drop(self.take());
        }
    }
}

impl Scratch {
    /// Reads of up to `read_size` bytes.
    pub fn new(read_size: usize, spare: Spare) -> Scratch {
        Scratch {
            read: vec![0; read_size],
            echo: Vec::with_capacity(read_size + read_size / 2),
            spare,
        }
    }
}

impl Scratch {
    /// Frees an echo buffer that one huge frame grew.
    fn trim(&mut self) {
        if self.echo.capacity() > 4 * self.read.len() {
            self.echo = Vec::with_capacity(self.read.len() + self.read.len() / 2);
        }
    }
}

/// Bytes buffered over all connections, against `--max-memory`.
pub struct Memory {
    used: AtomicUsize,
    max: usize,
}

impl Memory {
    pub fn new(max: usize) -> Memory {
        Memory {
            used: AtomicUsize::new(0),
            max,
        }
    }

    /// True while the buffered bytes are under the budget.
    pub fn has_room(&self) -> bool {
        self.used.load(Ordering::Relaxed) < self.max
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// What each of `open` connections may hold once the budget is
    /// reached: an equal part of it.
    pub fn fair_share(&self, open: usize) -> usize {
        self.max / open.max(1)
    }

    fn adjust(&self, was: usize, now: usize) {
        if now > was {
            self.used.fetch_add(now - was, Ordering::Relaxed);
        } else if was > now {
            self.used.fetch_sub(was - now, Ordering::Relaxed);
        }
    }
}

/// What a connection is doing after [`Conn::drive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for the socket (or for room in a budget).
    Open,
    /// The peer closed its side and every echo is written: close it.
    Done,
}

/// Why the connection was not read, the last time it could have been.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paused {
    /// Reading until the socket would block.
    No,
    /// `--conn-budget` of echoes pending: waits for the peer to read.
    Budget,
    /// `--max-memory` reached and this connection holds its share of it:
    /// waits for memory to free (or for its peer to read its echoes).
    Memory,
}

/// One connection.
pub struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    decoder: FrameDecoder,
    /// The start of an incomplete frame (a frame boundary first).
    partial: Vec<u8>,
    /// Echoes not yet written: `out[sent..end]`; `out[end..]` is free
    /// room (initialized, so that reads can land there: see
    /// [`Conn::read_behind_echoes`]).
    out: Vec<u8>,
    sent: usize,
    end: usize,
    /// Edge-triggered readiness: true until an operation would block.
    pub readable: bool,
    pub writable: bool,
    /// The peer has closed its side (read to the end).
    eof: bool,
    /// The poller says the peer has closed its side: what is left to read
    /// is bounded by the socket's receive buffer, so it is read even when
    /// `--max-memory` is reached, to find the end and free the memory.
    pub hung_up: bool,
    /// May read past `--max-memory` until its frame in progress is
    /// complete, and no further (see the worker's `finish_one`).
    pub finishing: bool,
    /// In the worker's list of connections paused by `--max-memory`.
    pub starved: bool,
    pub paused: Paused,
    /// Frames and payload bytes whose echoes were written in full.
    pub frames: u64,
    pub bytes: u64,
    /// Frames and payload bytes whose echoes are (partly) in `out`.
    pending_frames: u64,
    pending_bytes: u64,
    /// When bytes last came in (or the connection last paused itself).
    pub last_read: Instant,
    /// A stall notice has been logged (once per connection).
    pub stall_noted: bool,
    /// Buffer capacity counted in [`Memory`].
    held: usize,
    /// The echo of a frame is the frame itself (see [`echo_is_input`]).
    identity: bool,
    /// Shutting down ([`Conn::begin_close`]): no new frames; what the peer
    /// sends is read and dropped while the echoes already made go out.
    pub closing: bool,
    /// Our side is shut down for writing (FIN sent after the last echo).
    write_shut: bool,
}

/// Frames and payload bytes echoed by one batch.
#[derive(Default)]
struct Tally {
    frames: u64,
    bytes: u64,
}

impl Conn {
    pub fn new(stream: TcpStream, peer: SocketAddr, codec: Codec) -> Conn {
        Conn {
            stream,
            peer,
            decoder: codec.new_decoder(),
            partial: Vec::new(),
            out: Vec::new(),
            sent: 0,
            end: 0,
            readable: true,
            writable: true,
            eof: false,
            hung_up: false,
            finishing: false,
            starved: false,
            paused: Paused::No,
            frames: 0,
            bytes: 0,
            pending_frames: 0,
            pending_bytes: 0,
            last_read: Instant::now(),
            stall_noted: false,
            held: 0,
            identity: echo_is_input(&codec),
            closing: false,
            write_shut: false,
        }
    }

    /// Shutdown: takes no new frame (the incomplete one is dropped, its
    /// echo was never counted); from now on [`Conn::drive`] delivers the
    /// echoes already made, then shuts down the write side, and reads and
    /// drops what the peer still sends until it closes: a close with
    /// unread bytes would send an RST, and an RST destroys the echoes
    /// still in flight to the peer.
    pub fn begin_close(&mut self) {
        self.closing = true;
        self.finishing = false;
        self.starved = false;
        self.paused = Paused::No;
        self.decoder = self.decoder.codec().new_decoder();
        self.partial = Vec::new();
        self.readable = true;
        self.last_read = Instant::now();
    }

    /// Shutting down, every echo is written and the peer has sent nothing
    /// for `quiet`: it can be closed without an RST (nothing unread).
    pub fn is_lingering_quietly(&self, quiet: std::time::Duration) -> bool {
        self.closing && self.write_shut && !self.readable && self.last_read.elapsed() >= quiet
    }

    /// Shutting down with input left to read (a turn of
    /// [`Conn::drive`] stopped at its limit).
    pub fn has_input_left(&self) -> bool {
        self.closing && self.readable && !self.eof
    }

    /// Reads and drops what the peer has sent, at most `limit` bytes, until
    /// the socket would block or the peer has closed (`eof`), so that a
    /// close sends a FIN, not an RST. False if the peer reset the
    /// connection (nothing more can be delivered).
    pub fn discard_input(&mut self, scratch: &mut Scratch, limit: usize) -> bool {
        let mut dropped = 0;
        while self.readable && !self.eof && dropped < limit {
            match (&self.stream).read(&mut scratch.read) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    dropped += n;
                    self.last_read = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Bytes of echoes waiting for the peer.
    pub fn pending(&self) -> usize {
        self.end - self.sent
    }

    /// In the middle of a frame, waiting for the peer to send the rest.
    pub fn is_stalled(&self) -> bool {
        !self.closing
            && !self.readable
            && !self.eof
            && self.paused == Paused::No
            && self.is_mid_frame()
    }

    /// Part of a frame has been read, not the whole.
    pub fn is_mid_frame(&self) -> bool {
        !self.partial.is_empty() || !self.decoder.is_at_boundary()
    }

    /// Bytes still to come before the frame in progress is complete.
    pub fn still_needed(&self) -> usize {
        self.decoder.needed(self.partial.len())
    }

    /// The server's hint for a connection stalled mid-frame, if the bytes
    /// read in the other byte order would make a complete frame.
    pub fn stall_hint(&self) -> Option<String> {
        byte_order_hint(
            self.decoder.codec(),
            &self.partial,
            Some(self.partial.len()),
        )
    }

    /// Buffer capacity this connection holds (counted in [`Memory`]).
    pub fn held(&self) -> usize {
        self.held
    }

    /// Reads, decodes, echoes and writes until the socket would block, the
    /// peer has closed and every echo is out, or a budget says stop: its
    /// own `budget` of pending echoes, or `--max-memory` once it holds its
    /// `share` of it. An error is the message for the one stderr line (the
    /// connection is done for).
    pub fn drive(
        &mut self,
        scratch: &mut Scratch,
        memory: &Memory,
        budget: usize,
        share: usize,
    ) -> Result<Status, String> {
        let result = self.run(scratch, memory, budget, share);
        self.account(memory);
        result
    }

    fn run(
        &mut self,
        scratch: &mut Scratch,
        memory: &Memory,
        budget: usize,
        share: usize,
    ) -> Result<Status, String> {
        loop {
            self.flush(&mut scratch.spare)?;
            if self.closing {
                return Ok(self.linger(scratch));
            }
            if !self.readable || self.eof {
                break;
            }
            // Memory is full: a connection that holds less than its share
            // reads on, up to its share (those that hold the memory wait).
            let mut limit = scratch.read.len();
            let full = !memory.has_room() && !self.hung_up && !self.finishing;
            if full {
                // What it holds and does not use goes back, whatever its
                // size: an empty buffer must not count against its share
                // (`spare` keeps nothing while memory is full).
                self.release_unused(0, &mut scratch.spare);
                self.account(memory);
                limit = limit.min(share.saturating_sub(self.held));
            }
            self.paused = if self.pending() >= budget {
                Paused::Budget
            } else if limit == 0 {
                Paused::Memory
            } else {
                Paused::No
            };
            if self.paused == Paused::Budget {
                // Its own peer does not read: it cannot finish a frame for
                // the others (the worker picks another).
                self.finishing = false;
            }
            if self.paused != Paused::No {
                self.last_read = Instant::now();
                // Not reading for a while: what it holds and does not use
                // goes back (else its own empty buffer could keep memory
                // full, and it paused, for good).
                self.release_unused(KEEP, &mut scratch.spare);
                break;
            }
            // Finishing a frame past `--max-memory`: not a byte beyond it.
            let room = if self.finishing {
                let needed = self.decoder.needed(self.partial.len());
                needed.clamp(1, scratch.read.len())
            } else {
                limit
            };
            // Echoes are waiting and they are the input itself: the input
            // lands right behind them, and is not copied again.
            // (Not for a large frame in progress: it would be copied in and
            // out again with each read.)
            let behind = self.identity && self.pending() > 0 && self.partial.len() <= BEHIND / 4;
            let read = if behind {
                self.read_behind_echoes(room, &mut scratch.spare)
            } else {
                (&self.stream).read(&mut scratch.read[..room])
            };
            match read {
                Ok(0) => self.end_of_input()?,
                Ok(n) => {
                    self.last_read = Instant::now();
                    if behind {
                        self.take_behind_echoes(n)?;
                    } else {
                        self.take(&scratch.read[..n], &mut scratch.echo, &mut scratch.spare)?;
                    }
                    if self.finishing && !self.is_mid_frame() {
                        self.finishing = false;
                    }
                    self.account(memory);
                    scratch.trim();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    self.release_unused(KEEP, &mut scratch.spare);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::from(e).to_string()),
            }
        }
        Ok(if self.eof && self.pending() == 0 {
            Status::Done
        } else {
            Status::Open
        })
    }

    /// Shutting down (see [`Conn::begin_close`]): once every echo is out,
    /// shuts down the write side; reads and drops input until the socket
    /// would block. Done when the peer has closed too (or reset).
    fn linger(&mut self, scratch: &mut Scratch) -> Status {
        if self.pending() == 0 && !self.write_shut {
            let _ = self.stream.shutdown(std::net::Shutdown::Write);
            self.write_shut = true;
        }
        // A peer that never stops sending cannot keep the worker here: at
        // most LINGER_READ bytes a turn (the worker comes back for more).
        let alive = self.discard_input(scratch, LINGER_READ);
        if !alive || (self.eof && self.write_shut) {
            Status::Done
        } else {
            Status::Open
        }
    }

    /// The peer closed its side: fine between frames, an error inside one.
    fn end_of_input(&mut self) -> Result<(), String> {
        self.eof = true;
        self.decoder.end_of_stream(&self.partial).map_err(|e| {
            let hint = byte_order_hint(
                self.decoder.codec(),
                &self.partial,
                Some(self.partial.len()),
            );
            format!("{e}{}", hint.unwrap_or_default())
        })
    }

    /// Reads at most `room` bytes into `out` right behind the pending
    /// echoes, after a copy of `partial` (the frame an earlier read began),
    /// for [`Conn::take_behind_echoes`]. Only when the echo of a frame is
    /// the frame itself.
    fn read_behind_echoes(&mut self, room: usize, spare: &mut Spare) -> io::Result<usize> {
        let begun = self.partial.len();
        let room = room.min(BEHIND);
        self.make_room(begun + room, spare);
        let start = self.end + begun;
        self.out[self.end..start].copy_from_slice(&self.partial);
        (&self.stream).read(&mut self.out[start..start + room])
    }

    /// Counts the whole frames among the `n` bytes [`Conn::read_behind_echoes`]
    /// brought in (after the copy of `partial`): they join the pending
    /// echoes where they lie; the incomplete rest goes to `partial`.
    fn take_behind_echoes(&mut self, n: usize) -> Result<(), String> {
        let begun = self.partial.len();
        let new = self.end..self.end + begun + n;
        let mut tally = Tally::default();
        let used = count_frames(&mut self.decoder, &self.out[new.clone()], &mut tally)?;
        self.partial.clear();
        keep_rest(
            &self.decoder,
            &mut self.partial,
            &self.out[new.start + used..new.end],
        );
        self.end += used;
        self.pending_frames += tally.frames;
        self.pending_bytes += tally.bytes;
        Ok(())
    }

    /// Makes `out[end..]` at least `need` bytes long: moves the pending
    /// echoes to the front when at least half of the buffer is already
    /// written, else grows it (doubling, so each byte moves rarely).
    fn make_room(&mut self, need: usize, spare: &mut Spare) {
        if self.out.len() - self.end >= need {
            return;
        }
        if self.out.capacity() == 0 {
            self.out = spare.take();
        }
        if self.sent > 0 && self.sent >= self.end / 2 {
            self.out.copy_within(self.sent..self.end, 0);
            self.end -= self.sent;
            self.sent = 0;
        }
        if self.out.len() - self.end < need {
            // A fresh zeroed allocation (pages the kernel zeroes as they are
            // touched), and only the pending echoes copied: `resize` would
            // zero the new room byte by byte in a debug build.
            let len = (self.end + need).max(2 * self.out.len());
            let mut grown = vec![0u8; len];
            grown[..self.end].copy_from_slice(&self.out[..self.end]);
            self.out = grown;
        }
    }

    /// Decodes the bytes of one read and echoes its frames as one batch.
    fn take(&mut self, data: &[u8], echo: &mut Vec<u8>, spare: &mut Spare) -> Result<(), String> {
        let mut tally = Tally::default();
        if self.pending() > 0 {
            // Echoes are waiting: these go behind them.
            self.out.truncate(self.end);
            if self.sent >= self.end / 2 {
                self.out.drain(..self.sent);
                self.sent = 0;
            }
            decode(
                &mut self.decoder,
                self.identity,
                &mut self.partial,
                data,
                &mut self.out,
                &mut tally,
            )?;
            self.end = self.out.len();
            self.pending_frames += tally.frames;
            self.pending_bytes += tally.bytes;
            return Ok(());
        }
        echo.clear();
        if self.identity {
            let need = self.decoder.needed(self.partial.len());
            let begun_len = begun_payload_len(self.decoder.codec(), &self.partial);
            if let Some(len) = begun_len.filter(|_| need <= data.len()) {
                // The frame begun earlier is its start (`partial`, whose
                // header was checked when it came) and `data[..need]`:
                // written as they are, with the whole frames behind them.
                let begun = std::mem::take(&mut self.partial);
                let mut tally = Tally {
                    frames: 1,
                    bytes: len,
                };
                // The decoder waits for that frame to come whole: it has,
                // and the next one starts at a boundary.
                self.decoder = self.decoder.codec().new_decoder();
                let rest = &data[need..];
                let used = count_frames(&mut self.decoder, rest, &mut tally)?;
                let written = self.write_batch(&begun, &data[..need + used], tally, spare);
                self.partial = begun;
                self.partial.clear();
                keep_rest(&self.decoder, &mut self.partial, &rest[used..]);
                return written;
            }
            // Zero-copy: the echoes of whole frames are the very bytes that
            // came in, written from the read buffer; only the frame an
            // earlier read began is copied (finished in `partial`), and
            // both go out with one vectored write.
            let rest = finish_partial(
                &mut self.decoder,
                true,
                &mut self.partial,
                data,
                echo,
                &mut tally,
            )?;
            let used = count_frames(&mut self.decoder, rest, &mut tally)?;
            keep_rest(&self.decoder, &mut self.partial, &rest[used..]);
            return self.write_batch(echo, &rest[..used], tally, spare);
        }
        decode(
            &mut self.decoder,
            self.identity,
            &mut self.partial,
            data,
            echo,
            &mut tally,
        )?;
        self.write_batch(echo, &[], tally, spare)
    }

    /// Writes a batch of echoes, `head` then `body`, now; keeps what the
    /// socket does not take.
    fn write_batch(
        &mut self,
        head: &[u8],
        body: &[u8],
        tally: Tally,
        spare: &mut Spare,
    ) -> Result<(), String> {
        let written = self.write_parts(head, body)?;
        if written == head.len() + body.len() {
            self.frames += tally.frames;
            self.bytes += tally.bytes;
        } else {
            // Keep what the socket did not take (`out` is empty).
            let (head, body) = (
                &head[written.min(head.len())..],
                &body[written.saturating_sub(head.len())..],
            );
            self.sent = 0;
            self.end = 0;
            self.make_room(head.len() + body.len(), spare);
            self.out[..head.len()].copy_from_slice(head);
            self.out[head.len()..head.len() + body.len()].copy_from_slice(body);
            self.end = head.len() + body.len();
            self.pending_frames = tally.frames;
            self.pending_bytes = tally.bytes;
        }
        Ok(())
    }

    /// Writes as much of `head` then `body` as the socket takes now (one
    /// vectored write for both).
    fn write_parts(&mut self, head: &[u8], body: &[u8]) -> Result<usize, String> {
        if head.is_empty() {
            return self.write_some(body);
        }
        let total = head.len() + body.len();
        let mut done = 0;
        while self.writable && done < head.len() {
            let parts = [IoSlice::new(&head[done..]), IoSlice::new(body)];
            match (&self.stream).write_vectored(&parts) {
                Ok(0) => return Err("i/o error: the socket took no bytes".into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::from(e).to_string()),
            }
        }
        if done >= head.len() && done < total {
            done += self.write_some(&body[done - head.len()..])?;
        }
        Ok(done)
    }

    /// Writes `out[sent..]` until done or the socket would block.
    fn flush(&mut self, spare: &mut Spare) -> Result<(), String> {
        if self.pending() == 0 {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let written = self.write_some(&out[self.sent..self.end]);
        self.out = out;
        self.sent += written?;
        if self.sent == self.end {
            self.sent = 0;
            self.end = 0;
            self.frames += std::mem::take(&mut self.pending_frames);
            self.bytes += std::mem::take(&mut self.pending_bytes);
            if self.out.capacity() > KEEP_BUSY {
                spare.give(std::mem::take(&mut self.out));
            }
        }
        Ok(())
    }

    /// Writes as much of `data` as the socket takes now.
    fn write_some(&mut self, data: &[u8]) -> Result<usize, String> {
        let mut done = 0;
        while self.writable && done < data.len() {
            match (&self.stream).write(&data[done..]) {
                Ok(0) => return Err("i/o error: the socket took no bytes".into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::from(e).to_string()),
            }
        }
        Ok(done)
    }

    /// Nothing more to read now: frees the buffers that hold nothing and
    /// more than `keep` bytes (an empty `partial`, an `out` with no echo
    /// pending; `out` goes to `spare` if it has room for it).
    fn release_unused(&mut self, keep: usize, spare: &mut Spare) {
        if self.partial.is_empty() && self.partial.capacity() > keep {
            self.partial = Vec::new();
        }
        if self.pending() == 0 && self.out.capacity() > keep {
            spare.give(std::mem::take(&mut self.out));
            self.sent = 0;
            self.end = 0;
        }
    }

    /// Reports this connection's buffers to the global count.
    fn account(&mut self, memory: &Memory) {
        let now = self.partial.capacity() + self.out.capacity();
        memory.adjust(self.held, now);
        self.held = now;
    }

    /// Gives the buffers back (the connection is closing).
    pub fn release(&mut self, memory: &Memory, spare: &mut Spare) {
        self.partial = Vec::new();
        spare.give(std::mem::take(&mut self.out));
        self.sent = 0;
        self.end = 0;
        self.account(memory);
    }
}

/// Decodes `data` (after what `partial` holds) and encodes the echo of
/// every complete frame into `out`; keeps the incomplete rest in `partial`.
fn decode(
    decoder: &mut FrameDecoder,
    identity: bool,
    partial: &mut Vec<u8>,
    data: &[u8],
    out: &mut Vec<u8>,
    tally: &mut Tally,
) -> Result<(), String> {
    let rest = finish_partial(decoder, identity, partial, data, out, tally)?;
    // The rest is decoded where it lies.
    let used = echo_frames(decoder, identity, rest, out, tally)?;
    keep_rest(decoder, partial, &rest[used..]);
    Ok(())
}

/// Finishes the frame begun by an earlier read (in `partial`), taking
/// from `data` only the bytes it still needs, and encodes its echo into
/// `out`. Returns the bytes of `data` after it: a frame boundary (or
/// nothing, when `partial` is still incomplete).
fn finish_partial<'d>(
    decoder: &mut FrameDecoder,
    identity: bool,
    partial: &mut Vec<u8>,
    mut data: &'d [u8],
    out: &mut Vec<u8>,
    tally: &mut Tally,
) -> Result<&'d [u8], String> {
    while !partial.is_empty() {
        let used = echo_frames(decoder, identity, partial, out, tally)?;
        partial.drain(..used);
        if partial.is_empty() {
            break;
        }
        if data.is_empty() {
            return Ok(data);
        }
        let take = decoder.needed(partial.len()).clamp(1, data.len());
        partial.extend_from_slice(&data[..take]);
        data = &data[take..];
    }
    Ok(data)
}

/// Keeps `rest`, the start of an incomplete frame, in `partial` (empty),
/// with room for the whole frame when it is not too large.
fn keep_rest(decoder: &FrameDecoder, partial: &mut Vec<u8>, rest: &[u8]) {
    if !rest.is_empty() {
        let whole = rest.len() + decoder.needed(rest.len());
        if whole <= RESERVE_WHOLE {
            partial.reserve_exact(whole);
        }
        partial.extend_from_slice(rest);
    }
}

/// The payload length of the frame that `partial` begins, once its
/// header is whole (`None` before). Not `partial.len()` less
/// `header_len()`: a varint header is as long as its value needs (1 to
/// 10 bytes), and `header_len()` is then the longest one.
fn begun_payload_len(codec: &Codec, partial: &[u8]) -> Option<u64> {
    if partial.is_empty() {
        return None;
    }
    // The header was checked when it came: no error here.
    codec.payload_len_of(partial).ok().flatten()
}

/// True when the echo of a frame is byte for byte the frame that came in:
/// the header is exactly the length field, with no adjustment (the
/// default `!I`, and `i`, `<H`, ..., and `varint`). Then echoing needs no
/// encoding. A varint header goes back as it came, so a non-minimal one
/// (`80 00` for 0, which protobuf's parsers accept) stays non-minimal:
/// the peer decodes the same payloads. Frame boundaries come from the
/// decoder alone, with each frame's own header length.
fn echo_is_input(codec: &Codec) -> bool {
    codec.length_field_offset() == 0
        && codec.num_skip() == codec.header_len()
        && codec.length_adjustment() == 0
}

/// Checks every complete frame at the front of `src` (their echoes are
/// `src[..used]` itself, see [`echo_is_input`]); returns the bytes used.
fn count_frames(
    decoder: &mut FrameDecoder,
    src: &[u8],
    tally: &mut Tally,
) -> Result<usize, String> {
    let codec = *decoder.codec();
    let mut frames = decoder.frames(src);
    while let Some(frame) = frames.next() {
        let payload = frame.map_err(|e| rejected(&codec, &e, frames.remainder()))?;
        tally.frames += 1;
        tally.bytes += payload.len() as u64;
    }
    Ok(frames.consumed())
}

/// Echoes every complete frame at the front of `src` into `out`; returns
/// the bytes used.
fn echo_frames(
    decoder: &mut FrameDecoder,
    identity: bool,
    src: &[u8],
    out: &mut Vec<u8>,
    tally: &mut Tally,
) -> Result<usize, String> {
    if identity {
        let used = count_frames(decoder, src, tally)?;
        out.extend_from_slice(&src[..used]);
        return Ok(used);
    }
    let codec = *decoder.codec();
    let mut frames = decoder.frames(src);
    while let Some(frame) = frames.next() {
        let payload = frame.map_err(|e| rejected(&codec, &e, frames.remainder()))?;
        codec
            .encode_to_vec(payload, out)
            .map_err(|e| e.to_string())?;
        tally.frames += 1;
        tally.bytes += payload.len() as u64;
    }
    Ok(frames.consumed())
}

/// The stderr message for a rejected header: the error's Display, and the
/// server's own hint when the other byte order explains the bytes.
#[cold]
fn rejected(codec: &Codec, error: &Error, header: &[u8]) -> String {
    let hint = match error {
        Error::FrameTooLarge { .. } | Error::NegativeLength { .. } => {
            byte_order_hint(codec, header, None)
        }
        _ => None,
    };
    format!("{error}{}", hint.unwrap_or_default())
}
