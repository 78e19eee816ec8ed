//! The client side of sockit: everything the client commands run, with no
//! flag parsing or printing (that is `src/cli`).
//!
//! - [`typed`]: the typed client of the frame protocol ([`Client`]), used by
//!   `sockit call`, the framed modes of `ping` and `bench`, and the tests.
//! - [`ping`] (round trips, loss, reordering) and [`mod@bench`] (load,
//!   throughput, latency) against any echo service; [`probe_format`] is what
//!   they put on the wire (raw echo, sockit frames, Redis or NATS PING),
//!   [`probe`] the sequence number each probe carries, and [`track`] the
//!   bookkeeping that classifies replies, run without sockets or a clock so
//!   its rules are unit-tested with made-up times.
//! - [`perf`] and [`perf_udp`]: iperf-style throughput tests.
//! - [`pipe`]: nc-style pipes (`connect`, `listen`, `relay`); [`sticky`]: the
//!   sticky-packet lab.
//! - [`e2e`]: end-to-end encrypted shares (the sealed format, sender, receiver).
//! - [`transfer`]: `put`, `get`, `ls`, `rm` against the file store; [`chat`]:
//!   a chat connection; [`credentials`] and [`config_dir`]: saved logins;
//!   [`known_hosts`]: pinned TLS certificates; [`failover`]: several server
//!   addresses tried in turn.
//!
//! The engines hand back plain reports; `src/cli` parses flags and prints.

pub mod bench;
pub mod chat;
pub mod config_dir;
pub mod credentials;
pub mod e2e;
pub mod failover;
pub mod known_hosts;
pub mod perf;
pub mod perf_udp;
pub mod ping;
pub mod pipe;
pub mod probe;
pub mod probe_format;
#[cfg(test)]
mod scripted;
pub mod share_link;
pub mod sticky;
pub mod track;
pub mod transfer;
pub mod typed;

pub use typed::{Client, ClientError, server_error};
