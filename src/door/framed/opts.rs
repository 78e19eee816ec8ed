//! The framed door's settings and limits: [`FramedOpts`], the defaults
//! of its `serve` flags, the sizes its loop reads and writes in, and the
//! frame a peer over the per-IP cap reads before the server closes.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio_util::codec::Encoder;
use tokio_util::sync::CancellationToken;

use crate::net::{Gate, MemBudget};
use crate::service::Services;
use crate::wire::{ErrorCode, FrameCodec, ServerInfo, error_frame};

/// Replies buffered past this many bytes are written at once rather than
/// at the end of the batch: a pipelined download's chunks then leave one by
/// one, so the write buffer holds about one chunk, not a whole window.
pub(super) const FLUSH_AT: usize = 256 * 1024;

/// Reply bodies from this size on are written straight from their own
/// buffer, beside the queued replies and the head in one vectored write,
/// rather than copied into the write buffer: a 64 KiB copy costs more
/// than handing the kernel (or rustls) one more piece.
pub(super) const DIRECT_BODY: usize = 64 * 1024;

/// Read reservation of a connection that just woke: a request frame (a
/// ping is ~40 bytes) arrives whole in one read of this size. The buffer
/// usually comes from the thread's spares (`net::tuning::bufpool`); a new one this
/// small stays within glibc's per-thread cache (up to 1,032 bytes).
pub(super) const READ_FIRST: usize = 1008;

/// Largest read reservation: while reads keep filling the buffer (a burst
/// of pipelined requests, a body), each doubles the next, up to this.
pub(super) const READ_MAX: usize = 64 * 1024;

/// Settings of the framed door.
#[derive(Debug, Clone)]
pub struct FramedOpts {
    /// What `hello` answers, including the limits the codec enforces.
    pub info: Arc<ServerInfo>,
    /// Close a connection after this long without input.
    pub idle: Duration,
    /// Cancelled at shutdown: idle connections close, busy ones finish.
    pub shutdown: CancellationToken,
    /// The services stateful requests go to.
    pub services: Services,
    /// The gate: its first-frame timeout is read as each connection opens,
    /// so a reload applies to new connections.
    pub gate: Arc<Gate>,
    /// Bytes of large bodies and their replies held at once, in total and
    /// per address (see `net::budget`).
    pub memory: Arc<MemBudget>,
    /// Once a frame's first byte has arrived, the rest must arrive within
    /// this long.
    pub frame_timeout: Duration,
    /// Largest body accepted before a login (the codec's `max_body`
    /// applies after it).
    pub guest_max_body: usize,
    /// A reply must be written whole within this long, or the peer (which
    /// is not reading) is cut off.
    pub write_timeout: Duration,
}

/// Default of `serve --frame-timeout`: a request frame arrives in
/// milliseconds even on a slow link (large bodies get a second per
/// 16 KiB on top), while a peer that stops one byte short of a
/// frame holds its buffer for seconds, not for the five-minute idle
/// timeout.
pub const DEFAULT_FRAME_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes per second a large frame body must average, on top of the frame
/// timeout: 16 KiB/s (128 kbit/s) is a poor uplink; a 4 MiB file chunk
/// (the client's default) then gets 30 s + 256 s, while a guest's largest
/// body (64 KiB) gets 4 s more.
pub(super) const FRAME_MIN_RATE: u64 = 16 * 1024;

/// Default of `serve --write-timeout`: a peer that has not taken a whole
/// reply (at most one 8 MiB body) in this long is not reading; it is cut
/// and what we buffered for it is freed.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Default of `serve --max-body-guest`: a request before login (hello,
/// ping, login, an echo) needs a few hundred bytes; only file writes need
/// megabytes, and they need a login.
pub const DEFAULT_GUEST_MAX_BODY: usize = 64 * 1024;

/// Bodies from this size on are charged to the memory budget when their
/// header arrives; smaller ones (every request but file chunks and big
/// echoes) cost at most a read buffer, bounded per connection.
pub(super) const CHARGE_FROM: usize = 16 * 1024;

/// The error code of a frame refused because the memory budget is spent.
pub const SERVER_BUSY: ErrorCode = ErrorCode::ServerBusy;

/// The error code of a frame that did not arrive whole within the frame
/// timeout.
pub const FRAME_TIMEOUT: ErrorCode = ErrorCode::FrameTimeout;

/// The error code a peer over the per-IP connection cap gets.
pub const TOO_MANY_CONNECTIONS: ErrorCode = ErrorCode::TooManyConnections;

/// The error frame a peer over the per-IP connection cap reads before the
/// server closes (see `net::serve::serve_stream_with`).
pub fn busy_frame() -> bytes::Bytes {
    let frame = error_frame(
        TOO_MANY_CONNECTIONS,
        "too many connections from your address; close some and try again",
        None,
    );
    let mut out = BytesMut::new();
    // A fixed, small frame: it always fits the default limits.
    let _ = FrameCodec::new().encode(frame, &mut out);
    out.freeze()
}
