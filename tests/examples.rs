//! The examples as real processes: the blocking ones (`blocking`), the
//! async echo servers (`async_servers`), the client-side tools as a
//! user meets them (`tools`), and `--header varint` through them
//! (`varint`). One test binary (`tests/examples/<module>.rs`);
//! every process started here is killed when its handle drops, and every
//! wait has a timeout.
// Every example needs the default feature `std`.
#![cfg(feature = "std")]

mod common;

#[path = "examples/async_servers.rs"]
mod async_servers;
#[path = "examples/blocking.rs"]
mod blocking;
#[path = "examples/tools.rs"]
mod tools;
#[path = "examples/varint.rs"]
mod varint;
