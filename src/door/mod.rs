//! The ways in: each door speaks one format on one kind of socket and calls
//! the services.

/// How long a refused (or, at shutdown, quiet) peer may go on sending
/// before we drop it: a lingering close lets our last words reach it
/// instead of being wiped out by a reset.
const REFUSE_LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// Waits for input; `false` when the connection should end: idle for the
/// timeout, or quiet after a stop signal (see [`end_quiet`]). The echo and
/// upper doors call this between reads; the framed door, which also waits
/// for chat events and its first-frame deadline, polls the same parts.
async fn next_input(
    conn: &crate::net::Conn,
    idle: &mut crate::net::IdleTimer,
    shutdown: &tokio_util::sync::CancellationToken,
) -> std::io::Result<bool> {
    match crate::net::wait_input(conn, idle, shutdown).await? {
        crate::net::Wake::Readable => {
            idle.touch();
            Ok(true)
        }
        quiet => end_quiet(conn, quiet).await.map(|()| false),
    }
}

/// Ends a connection that fell quiet: after a stop signal with a linger,
/// so the peer sees a clean end rather than a reset; after the idle
/// timeout at once.
async fn end_quiet(conn: &crate::net::Conn, why: crate::net::Wake) -> std::io::Result<()> {
    if why == crate::net::Wake::Shutdown {
        return conn.linger_close(REFUSE_LINGER).await;
    }
    tracing::debug!("idle timeout");
    Ok(())
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
pub use echo::{StreamOpts, UPPER_BUSY, echo_datagram, echo_stream, upper_datagram, upper_stream};
pub use framed::{FramedOpts, TOO_MANY_CONNECTIONS, busy_frame, framed_stream};
pub use perf::perf_stream;
