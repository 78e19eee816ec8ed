//! Performance tuning behind the stream abstraction: none of it shapes a
//! door or `net::Stream`, and each part can be turned off without changing
//! what a peer sees. What each part buys on which machine is measured in
//! docs/PERFORMANCE.md, not asserted here.
//!
//! - [`shard`]: one single-threaded runtime per serving thread
//!   (`serve --threads`), so a connection's wake-ups stay on one CPU.
//! - [`spin`]: busy polling before a shard sleeps (`serve --busy-poll`,
//!   `0` turns it off); a door opts in by wrapping its stream in
//!   [`spin::Spinning`] (echo, upper and framed do).
//! - [`bufpool`]: spare read/write buffers kept per thread, so a quiet
//!   connection gives its buffers back and a waking one gets them again
//!   without a malloc/free pair per request.

pub mod bufpool;
pub mod shard;
pub mod spin;
