//! UDP echo on the server's TCP address: every datagram goes back as it
//! came (RFC 862 style), from the accepting thread.

use std::io;
use std::net::{SocketAddr, UdpSocket as StdUdp};

use mio::net::UdpSocket;

use crate::log::Log;

/// Room for the largest datagram.
pub const DATAGRAM: usize = 65536;

/// A nonblocking UDP socket on `local` (the TCP listener's address).
pub fn socket(local: SocketAddr) -> io::Result<UdpSocket> {
    let socket = StdUdp::bind(local)?;
    socket.set_nonblocking(true)?;
    Ok(UdpSocket::from_std(socket))
}

/// Echoes every datagram waiting (the socket is edge-triggered).
pub fn echo(socket: &UdpSocket, buf: &mut [u8], log: &Log) {
    loop {
        match socket.recv_from(buf) {
            Ok((n, peer)) => match socket.send_to(&buf[..n], peer) {
                Ok(_) => {}
                // UDP: a datagram the socket cannot take now is dropped.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => log.err(format!("{peer} (udp): {e}")),
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log.err(format!("lenframe serve: udp receive failed: {e}"));
                return;
            }
        }
    }
}
