//! Accept loops and datagram loops shared by every door: connection limits,
//! access lists, a tracing span per connection, and graceful shutdown.
//!
//! Doors hand in a handler; the loops here never change when a service is
//! added. Every loop selects on the shutdown token, and every connection task
//! is tracked so `serve` can wait for in-flight work with a grace period.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::conn::Conn;
use super::gate::{Gate, Refused};
use super::listen::{Bound, UnixPathGuard};
use super::tuning::shard::Shards;

mod datagram;
mod proxied;
mod refuse;

pub use datagram::{MAX_DATAGRAM, admit_datagram, datagram_buffer, serve_datagrams};
use proxied::{Proxied, ProxyHeader};
pub use refuse::Busy;
use refuse::{REFUSALS_LINGERING, refuse, reset};

/// How long a full process file table pauses the accept loop: long enough for
/// connections to close and free descriptors, short enough to go unnoticed.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Everything the loops share: the shutdown token, the task tracker, the
/// connection slots and the gate.
#[derive(Clone, Debug)]
pub struct Shared {
    /// Cancelled on SIGINT/SIGTERM: loops stop accepting, idle peers close.
    pub shutdown: CancellationToken,
    /// Tracks every connection task, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// Access lists, per-IP counts and live limits, for every listener.
    pub gate: Arc<Gate>,
    /// One permit per open stream connection, across all listeners.
    slots: Arc<Semaphore>,
    /// Refused peers lingering to read their refusal.
    lingering: Arc<Semaphore>,
    /// Where connections run; `None` runs them on the caller's runtime.
    shards: Option<Arc<Shards>>,
}

impl Shared {
    /// Shared state allowing at most `max_conns` open stream connections,
    /// run on the caller's runtime, with the default gate (no access lists,
    /// the default per-IP cap).
    pub fn new(shutdown: CancellationToken, max_conns: usize) -> Shared {
        Shared {
            shutdown,
            tracker: TaskTracker::new(),
            gate: Arc::new(Gate::default()),
            slots: Arc::new(Semaphore::new(max_conns.max(1))),
            lingering: Arc::new(Semaphore::new(REFUSALS_LINGERING)),
            shards: None,
        }
    }

    /// Runs every accepted connection on one of `shards` (see `net::tuning::shard`).
    pub fn with_shards(mut self, shards: Arc<Shards>) -> Shared {
        self.shards = Some(shards);
        self
    }

    /// Puts every listener behind `gate`.
    pub fn with_gate(mut self, gate: Arc<Gate>) -> Shared {
        self.gate = gate;
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

    /// The connection, the peer as logged, and its IP (None for Unix).
    async fn accept(&self) -> io::Result<(Conn, String, Option<IpAddr>)> {
        match self {
            StreamListener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                Ok((Conn::Tcp(s), peer.to_string(), Some(peer.ip())))
            }
            StreamListener::Unix(l, _) => {
                let (s, _) = l.accept().await?;
                Ok((Conn::Unix(s), "unix".to_string(), None))
            }
        }
    }
}

/// Accepts connections until shutdown and runs `handler` on each in its own
/// task. `door` names the service in logs. Peers over the per-IP cap are
/// closed at once, without a word; see [`serve_stream_with`].
pub async fn serve_stream<F, Fut>(
    listener: StreamListener,
    door: &'static str,
    shared: Shared,
    handler: F,
) where
    F: Fn(Conn) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    serve_stream_with(listener, door, Busy::default(), shared, handler).await
}

/// Like [`serve_stream`], telling a peer over the per-IP cap `busy` (the
/// door's own way of saying it: an error frame, a line) before closing.
/// Peers the access lists deny are closed before any byte is read or
/// written. Refusals are logged at most once per address per few seconds.
///
/// A peer inside a `--trusted-proxy` CIDR must start with a PROXY
/// protocol header (see `net::proxy_header`) within the first-frame
/// timeout, or is closed; the client it names is then admitted (access
/// lists, per-IP cap) and is the connection's peer address. Other peers
/// are never read for a header.
pub async fn serve_stream_with<F, Fut>(
    listener: StreamListener,
    door: &'static str,
    busy: Busy,
    shared: Shared,
    handler: F,
) where
    F: Fn(Conn) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    accept_loop(listener, door, busy, ProxyHeader::Required, shared, handler).await
}

/// Like [`serve_stream`] for HTTP: a trusted proxy's connection may start
/// with a PROXY protocol header (a TCP proxy) or not (an HTTP proxy, which
/// says who its client is in `X-Forwarded-For`); a request line never
/// looks like a header, so the first bytes tell which.
pub async fn serve_stream_http<F, Fut>(
    listener: StreamListener,
    door: &'static str,
    shared: Shared,
    handler: F,
) where
    F: Fn(Conn) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    let busy = Busy::default();
    accept_loop(listener, door, busy, ProxyHeader::Optional, shared, handler).await
}

async fn accept_loop<F, Fut>(
    listener: StreamListener,
    door: &'static str,
    busy: Busy,
    mode: ProxyHeader,
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
        let (conn, peer, ip) = match accepted {
            Ok(x) => x,
            Err(e) => {
                accept_error(door, e).await;
                continue;
            }
        };
        // A trusted proxy carries everyone: its own address is neither
        // capped nor checked; the client its header names is, in the task.
        let trusted = ip.is_some_and(|ip| shared.gate.trusts(ip));
        let (place, proxied) = if trusted {
            // Boxed: most connections come from no proxy, and their task
            // should not carry room for one.
            let proxied = Box::new(Proxied {
                door,
                busy: busy.clone(),
                shared: shared.clone(),
                mode,
            });
            (None, Some(proxied))
        } else {
            match shared.gate.admit(ip) {
                Ok(place) => (Some(place), None),
                Err(why) => {
                    if let Some(ip) = ip {
                        shared.gate.log_refusal(door, ip, why);
                    }
                    match why {
                        Refused::Busy => refuse(conn, &busy, &shared),
                        Refused::Denied => reset(conn),
                    }
                    continue;
                }
            }
        };
        let span = tracing::debug_span!("conn", door, peer = %peer, client = tracing::field::Empty);
        let handler = handler.clone();
        let open = move |conn: Conn| async move {
            let (conn, _place) = match (place, proxied) {
                (Some(place), _) => (conn, place),
                // Boxed: reading a PROXY header (its buffer, its timer)
                // happens once, and must not enlarge every task for its life.
                (None, Some(p)) => match Box::pin(p.open(conn)).await {
                    Some(opened) => opened,
                    None => return Ok(()),
                },
                (None, None) => return Ok(()),
            };
            let _open = crate::ops::metrics::conn_open(door);
            // Boxed: the door's state lives in its own allocation, not
            // copied into every layer of wrapping future around it.
            Box::pin(handler(conn)).await
        };
        let Some(shards) = shared.shards.as_ref() else {
            shared
                .tracker
                .spawn(run_conn(permit, open(conn)).instrument(span));
            continue;
        };
        let std_conn = match conn.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(door, error = %e, "cannot hand the connection to a shard");
                continue;
            }
        };
        // Registered with the shard's reactor on the shard's thread.
        let task = run_conn(permit, async move { open(Conn::from_std(std_conn)?).await });
        shards.spawn(shared.tracker.track_future(task.instrument(span)));
    }
}

/// One connection's task: holds its slot until the door is done (the
/// future holds its place in the per-IP count), and logs how it ended.
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

/// Watches for SIGINT (Ctrl-C) and SIGTERM: the handlers are in place when
/// this returns (so a server may say `ready` right after), and the future
/// resolves on the first of them.
pub fn stop_signal() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    })
}
