//! sockit: a client/server socket toolkit.
//!
//! The library carries what the `sockit` binary is made of, layer by layer:
//! [`wire`] (the frame protocol, pure), [`net`] (endpoints, listeners, serving
//! loops), [`service`] (the rules, no sockets), [`session`] (the per-connection
//! protocol engine every door shares, no sockets), [`door`] (the ways in),
//! [`server`] (assembling `sockit serve`) and [`ops`] (metrics, health and
//! JSON logs for operators). [`client`] is the client side (the typed
//! client of the frame protocol, ping, bench, pipes, transfers, chat,
//! credentials, known hosts) and [`stats`] its latency statistics.
//!
//! ```
//! let ep: sockit::net::Endpoint = "udp://[::1]:8888".parse().unwrap();
//! assert_eq!(ep.transport(), sockit::net::Transport::Udp);
//! ```

// No `unsafe` outside the few functions that call into C or tokio's raw
// descriptor registration; each says why with its own `allow`.
#![deny(unsafe_code)]

pub mod client;
pub mod door;
pub mod fsutil;
pub mod net;
pub mod ops;
pub mod server;
pub mod service;
pub mod session;
pub mod stats;
pub mod store;
pub mod wire;
