//! The ways in: each door speaks one format on one kind of socket and calls
//! the services.

/// How long a refused (or, at shutdown, quiet) peer may go on sending
/// before we drop it: a lingering close lets our last words reach it
/// instead of being wiped out by a reset.
const REFUSE_LINGER: std::time::Duration = std::time::Duration::from_secs(1);

pub mod echo;
pub mod framed;

pub use echo::{StreamOpts, echo_datagram, echo_stream, upper_datagram, upper_stream};
pub use framed::{FramedOpts, framed_stream};
