//! The line chat door (nc/telnet) and the UDP JSON datagram chat door over
//! real sockets, as nc and a QQ-style UDP client would use them.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod changes;
mod clients;
mod conversations;
mod guards;
mod lifecycle;
mod load;
mod reflect;
mod rooms;
mod udp;
