//! Client tools: `ping` (round trips, loss, reordering) and `bench` (load,
//! throughput, latency) against any echo service, nc-style pipes, and the
//! sticky-packet lab.
//!
//! The engines live here and hand back plain reports; `src/cli` parses flags
//! and prints. Probes carry their sequence number ([`probe`]), and the
//! bookkeeping that classifies replies ([`track`]) runs without sockets or a
//! clock, so its rules are unit-tested with made-up times.

pub mod bench;
pub mod chat;
pub mod config_dir;
pub mod credentials;
pub mod failover;
pub mod known_hosts;
pub mod perf;
pub mod perf_udp;
pub mod ping;
pub mod pipe;
pub mod probe;
pub mod proto;
pub mod sticky;
pub mod track;
pub mod transfer;
