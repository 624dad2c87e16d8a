//! Protobuf over TCP: prost messages sent and received over `Framed`, each
//! prefixed by its varint length (protobuf's delimited format, the bytes
//! of Java's `writeDelimitedTo` and Python's `serialize_length_prefixed`).
use std::net::{TcpListener, TcpStream};
use std::thread;

use lenframe::{Codec, Framed};
use prost::Message;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, PartialEq, prost::Message)]
struct Greeting {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(uint32, tag = "2")]
    count: u32,
}

/// Answers each greeting with its count plus one, until the peer closes.
fn serve(mut conn: Framed<TcpStream>) -> Result<(), Error> {
    while let Some(frame) = conn.recv()? {
        let mut greeting = Greeting::decode(frame)?; // a whole message: Bytes is a Buf
        greeting.count += 1;
        conn.send(greeting.encode_to_vec())?;
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    // "varint": protobuf's length prefix. Frames up to 8 MiB by default;
    // Codec::builder().max_frame_len(..) raises it.
    let codec = Codec::from_format("varint")?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = thread::spawn(move || -> Result<(), Error> {
        let (conn, _) = listener.accept()?;
        serve(codec.new_framed(conn))
    });

    let mut conn = codec.new_framed(TcpStream::connect(addr)?);
    for count in 0..3 {
        let name = "lenframe".to_string();
        conn.send(Greeting { name, count }.encode_to_vec())?;
        let reply = conn.recv()?.ok_or("the server closed")?;
        let reply = Greeting::decode(reply)?;
        assert_eq!(reply.count, count + 1);
        println!("{reply:?}");
    }
    drop(conn); // the server's recv() returns None
    server.join().expect("the server thread")?;
    Ok(())
}
