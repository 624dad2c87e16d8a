//! Frames over a serial-style byte source with a fixed stack buffer: no
//! `std`, no allocator. Linked for `thumbv7em-none-eabihf` by `.ci/run`.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::panic::PanicInfo;

use lenframe::{Codec, FrameDecoder, HeaderFormat};

/// Bytes as a UART might deliver them: two `<H` frames, split anywhere.
static WIRE: [u8; 11] = *b"\x05\0hello\x02\0hi";

/// What a device would do with a frame: here, sum its bytes.
fn handle(frame: &[u8]) -> u32 {
    frame.iter().map(|&b| u32::from(b)).sum()
}

fn run() -> u32 {
    let format: HeaderFormat = match "<H".parse() {
        Ok(f) => f,
        Err(_) => return 0,
    };
    let codec = match Codec::builder().format(format).max_frame_len(64).build() {
        Ok(c) => c,
        Err(_) => return 0,
    };
    let mut decoder = FrameDecoder::new(codec);
    let mut buf = [0u8; 64];
    let mut filled = 0;
    let mut total = 0;
    // Feed the "UART" three bytes at a time.
    for chunk in black_box(&WIRE[..]).chunks(3) {
        buf[filled..filled + chunk.len()].copy_from_slice(chunk);
        filled += chunk.len();
        loop {
            let consumed = match decoder.decode_slice(&buf[..filled]) {
                Ok(d) => {
                    if let Some(frame) = d.frame {
                        total += handle(frame);
                    }
                    d.consumed
                }
                Err(_) => return 0,
            };
            if consumed == 0 {
                break; // need more bytes
            }
            buf.copy_within(consumed..filled, 0);
            filled -= consumed;
        }
    }
    // Reply through a fixed transmit buffer, as a UART driver would send it.
    let mut tx = [0u8; 64];
    match codec.encode_to_slice(black_box(b"pong"), &mut tx) {
        Ok(n) => total + handle(&tx[..n]),
        Err(_) => 0,
    }
}

/// The entry point the linker looks for.
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let result = run();
    loop {
        black_box(result);
    }
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {}
}
