//! The ways in: each door speaks one format on one kind of socket and calls
//! the services.

pub mod echo;

pub use echo::{StreamOpts, echo_datagram, echo_stream, upper_datagram, upper_stream};
