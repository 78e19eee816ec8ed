//! The ways in: each door speaks one format (frames, lines, datagrams,
//! HTTP) over any byte stream or a datagram socket, hands requests to the
//! protocol session (`crate::session`) or the services, and renders its
//! own replies and chat events. No door imports another; what several
//! share (the stream options, the lingering close) is here.

/// How long a refused (or, at shutdown, quiet) peer may go on sending
/// before we drop it: a lingering close lets our last words reach it
/// instead of being wiped out by a reset.
const REFUSE_LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// Ends a connection that fell quiet: after a stop signal with a linger,
/// so the peer sees a clean end rather than a reset; after the idle
/// timeout at once.
async fn end_quiet<S: crate::net::AsyncStream>(
    s: &mut S,
    why: crate::net::Wake,
) -> std::io::Result<()> {
    if why == crate::net::Wake::Shutdown {
        return crate::net::linger_close(s, REFUSE_LINGER).await;
    }
    tracing::debug!("idle timeout");
    Ok(())
}

/// Settings of a byte-stream connection (echo, upper, perf): the doors
/// that share them take them from here, not from one another.
#[derive(Debug, Clone)]
pub struct StreamOpts {
    /// Close a connection after this long without input.
    pub idle: std::time::Duration,
    /// Longest line the upper service buffers (excluding the newline).
    pub max_line: usize,
    /// Cancelled at shutdown: idle connections close, busy ones finish.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Output the socket did not take at once must be written within this
    /// long, or the peer (which is not reading) is cut off.
    pub write_timeout: std::time::Duration,
}

pub mod chat_lines;
pub mod chat_udp;
pub mod echo;
pub mod framed;
#[doc(hidden)]
pub mod fuzzing;
pub mod perf;
pub mod perf_udp;
pub mod web;

pub use chat_lines::{BUSY_LINE, CHAT_IDLE_TIMEOUT, ChatLineOpts, chat_lines_stream};
pub use chat_udp::{ChatUdpOpts, DEFAULT_LEASE, serve_chat_udp};
pub use echo::{UPPER_BUSY, echo_datagram, echo_stream, upper_datagram, upper_stream};
pub use framed::{FramedOpts, TOO_MANY_CONNECTIONS, busy_frame, framed_stream};
pub use perf::perf_stream;
