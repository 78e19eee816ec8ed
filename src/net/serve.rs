//! Accept loops and datagram loops shared by every door: connection limits,
//! a tracing span per connection, and graceful shutdown.
//!
//! Doors hand in a handler; the loops here never change when a service is
//! added. Every loop selects on the shutdown token, and every connection task
//! is tracked so `serve` can wait for in-flight work with a grace period.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket, UnixListener};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::conn::Conn;
use super::listen::{Bound, UnixPathGuard};
use super::shard::Shards;

/// Largest UDP payload over IPv4 (65535 - 8 UDP - 20 IP header bytes); IPv6
/// jumbograms aside, nothing larger can arrive, so this buffer never truncates.
pub const MAX_DATAGRAM: usize = 65_507;

/// How long a full process file table pauses the accept loop: long enough for
/// connections to close and free descriptors, short enough to go unnoticed.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Everything the loops share: the shutdown token, the task tracker and the
/// connection slots.
#[derive(Clone, Debug)]
pub struct Shared {
    /// Cancelled on SIGINT/SIGTERM: loops stop accepting, idle peers close.
    pub shutdown: CancellationToken,
    /// Tracks every connection task, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// One permit per open stream connection, across all listeners.
    slots: Arc<Semaphore>,
    /// Where connections run; `None` runs them on the caller's runtime.
    shards: Option<Arc<Shards>>,
}

impl Shared {
    /// Shared state allowing at most `max_conns` open stream connections,
    /// run on the caller's runtime.
    pub fn new(shutdown: CancellationToken, max_conns: usize) -> Shared {
        Shared {
            shutdown,
            tracker: TaskTracker::new(),
            slots: Arc::new(Semaphore::new(max_conns.max(1))),
            shards: None,
        }
    }

    /// Runs every accepted connection on one of `shards` (see `net::shard`).
    pub fn with_shards(mut self, shards: Arc<Shards>) -> Shared {
        self.shards = Some(shards);
        self
    }
}

/// A listening stream socket of either family.
#[derive(Debug)]
pub enum StreamListener {
    /// TCP.
    Tcp(TcpListener),
    /// Unix; the guard removes the socket file on drop.
    Unix(UnixListener, UnixPathGuard),
}

impl StreamListener {
    /// Takes the stream listener out of a bound socket (None for UDP).
    pub fn from_bound(b: Bound) -> Result<StreamListener, Bound> {
        match b {
            Bound::Tcp(l) => Ok(StreamListener::Tcp(l)),
            Bound::Unix(l, g) => Ok(StreamListener::Unix(l, g)),
            other => Err(other),
        }
    }

    async fn accept(&self) -> io::Result<(Conn, String)> {
        match self {
            StreamListener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                Ok((Conn::Tcp(s), peer.to_string()))
            }
            StreamListener::Unix(l, _) => {
                let (s, _) = l.accept().await?;
                Ok((Conn::Unix(s), "unix".to_string()))
            }
        }
    }
}

/// Accepts connections until shutdown and runs `handler` on each in its own
/// task. `door` names the service in logs.
pub async fn serve_stream<F, Fut>(
    listener: StreamListener,
    door: &'static str,
    shared: Shared,
    handler: F,
) where
    F: Fn(Conn) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    let handler = Arc::new(handler);
    loop {
        // Take a slot before accepting: at the limit, new peers wait in the
        // kernel's backlog instead of costing us memory.
        let permit = tokio::select! {
            p = shared.slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = shared.shutdown.cancelled() => return,
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shared.shutdown.cancelled() => return,
        };
        let (conn, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                accept_error(door, e).await;
                continue;
            }
        };
        let span = tracing::debug_span!("conn", door, peer = %peer);
        let Some(shards) = shared.shards.as_ref() else {
            let fut = handler(conn);
            shared.tracker.spawn(run_conn(permit, fut).instrument(span));
            continue;
        };
        let std_conn = match conn.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(door, error = %e, "cannot hand the connection to a shard");
                continue;
            }
        };
        let handler = handler.clone();
        // Registered with the shard's reactor on the shard's thread.
        let task = run_conn(
            permit,
            async move { handler(Conn::from_std(std_conn)?).await },
        );
        shards.spawn(shared.tracker.track_future(task.instrument(span)));
    }
}

/// One connection's task: holds its slot until the door is done, and logs
/// how it ended.
async fn run_conn(
    permit: tokio::sync::OwnedSemaphorePermit,
    fut: impl Future<Output = io::Result<()>>,
) {
    let _permit = permit;
    match fut.await {
        Ok(()) => tracing::debug!("closed"),
        Err(e) => tracing::debug!(error = %e, "closed with error"),
    }
}

async fn accept_error(door: &str, e: io::Error) {
    if !pause_if_exhausted(&e).await {
        // ECONNABORTED and friends concern one peer only.
        tracing::debug!(door, error = %e, "accept failed");
    }
}

/// After a failed accept: when descriptors or memory ran out (EMFILE,
/// ENFILE, ENOBUFS, ENOMEM), warns and pauses instead of spinning (the
/// condition clears as connections close) and returns true; otherwise
/// returns false at once, since the failure concerns one peer.
pub async fn pause_if_exhausted(e: &io::Error) -> bool {
    let exhausted = matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    );
    if exhausted {
        tracing::warn!(error = %e, "accept failed; pausing (raise `ulimit -n`?)");
        tokio::time::sleep(ACCEPT_BACKOFF).await;
    }
    exhausted
}

/// Serves a UDP socket: each datagram in, at most one datagram back.
///
/// `respond(payload, out)` fills `out` and returns whether to reply (an empty
/// reply is a real, empty datagram). One buffer serves the whole socket.
pub async fn serve_datagrams<F>(
    socket: UdpSocket,
    door: &'static str,
    shared: Shared,
    mut respond: F,
) where
    F: FnMut(&[u8], SocketAddr, &mut Vec<u8>) -> bool + Send + 'static,
{
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut out = Vec::with_capacity(MAX_DATAGRAM);
    loop {
        let (n, peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP errors from earlier replies surface here; they
                    // concern one peer, so log and keep serving.
                    tracing::debug!(door, error = %e, "recv failed");
                    continue;
                }
            },
            _ = shared.shutdown.cancelled() => return,
        };
        out.clear();
        if respond(&buf[..n], peer, &mut out) {
            if let Err(e) = socket.send_to(&out, peer).await {
                tracing::debug!(door, %peer, error = %e, "send failed");
            }
        }
    }
}

/// Resolves when the process gets SIGINT (Ctrl-C) or SIGTERM.
pub async fn stop_signal() -> io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    Ok(())
}
