//! Accept loops and datagram loops shared by every door: connection limits,
//! access lists, a tracing span per connection, and graceful shutdown.
//!
//! Doors hand in a handler; the loops here never change when a service is
//! added. Every loop selects on the shutdown token, and every connection task
//! is tracked so `serve` can wait for in-flight work with a grace period.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, UdpSocket, UnixListener};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::conn::Conn;
use super::gate::{Gate, PeerSlot, Refused};
use super::listen::{Bound, UnixPathGuard};
use super::shard::Shards;
use super::tls::ServerTls;

/// Largest UDP payload over IPv4 (65535 - 8 UDP - 20 IP header bytes); IPv6
/// jumbograms aside, nothing larger can arrive, so this buffer never truncates.
pub const MAX_DATAGRAM: usize = 65_507;

/// How long a full process file table pauses the accept loop: long enough for
/// connections to close and free descriptors, short enough to go unnoticed.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Refused peers that may linger at once while their one-line refusal is
/// read (see [`Conn::linger_close`]); past this, refused peers are closed
/// at once, so a flood of them holds few descriptors.
const REFUSALS_LINGERING: usize = 64;

/// How long a refused peer may take to read its refusal and close.
const REFUSAL_LINGER: Duration = Duration::from_millis(500);

/// How long a refused peer of a tls:// listener has for the handshake
/// inside which it is told it was refused: short, since it holds no
/// connection slot, only one of the few lingering turns.
const REFUSAL_HANDSHAKE: Duration = Duration::from_secs(2);

/// What a peer over the per-IP cap is told before the close: the door's
/// own words, inside TLS on a tls:// listener (a TLS client reading
/// plaintext would report a corrupt record, not the refusal).
#[derive(Clone, Debug, Default)]
pub struct Busy {
    /// The door's refusal (an error frame, a line); empty: say nothing.
    msg: Bytes,
    /// The listener's TLS acceptor, when it speaks TLS.
    tls: Option<ServerTls>,
}

impl Busy {
    /// Says `msg`, inside TLS when `tls` is given.
    pub fn new(msg: Bytes, tls: Option<ServerTls>) -> Busy {
        Busy { msg, tls }
    }
}

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

    /// Runs every accepted connection on one of `shards` (see `net::shard`).
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
        let place = match shared.gate.admit(ip) {
            Ok(place) => place,
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
        };
        let span = tracing::debug_span!("conn", door, peer = %peer);
        let held = (permit, place);
        let Some(shards) = shared.shards.as_ref() else {
            // Boxed: the door's state lives in its own allocation, not
            // copied into every layer of wrapping future around it.
            let fut = Box::pin(handler(conn));
            shared.tracker.spawn(run_conn(held, fut).instrument(span));
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
        let task = run_conn(held, async move {
            Box::pin(handler(Conn::from_std(std_conn)?)).await
        });
        shards.spawn(shared.tracker.track_future(task.instrument(span)));
    }
}

/// Closes a connection the access lists deny with a reset (RST), not a
/// FIN: a client then reports "connection reset" instead of reading a
/// normal end of an empty reply and exiting as if all went well.
fn reset(conn: Conn) {
    if let Conn::Tcp(s) = &conn {
        let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
    }
}

/// Tells a refused peer `busy` (if the socket takes it at once; over TLS
/// after a short handshake) and closes, lingering briefly so the message
/// is read rather than lost to a reset, unless too many refused peers
/// linger already. Holds no connection slot.
fn refuse(conn: Conn, busy: &Busy, shared: &Shared) {
    if busy.msg.is_empty() {
        return;
    }
    if let Some(tls) = busy.tls.clone() {
        let Ok(turn) = shared.lingering.clone().try_acquire_owned() else {
            return;
        };
        let msg = busy.msg.clone();
        shared.tracker.spawn(async move {
            let _turn = turn;
            let told = async {
                use tokio::io::AsyncWriteExt;
                let mut s = tls.accept(conn).await?;
                s.write_all(&msg).await?;
                s.shutdown().await
            };
            let _ = tokio::time::timeout(REFUSAL_HANDSHAKE, told).await;
        });
        return;
    }
    if conn.try_write(&busy.msg).is_err() {
        return;
    }
    let Ok(turn) = shared.lingering.clone().try_acquire_owned() else {
        return;
    };
    shared.tracker.spawn(async move {
        let _turn = turn;
        let _ = conn.linger_close(REFUSAL_LINGER).await;
    });
}

/// One connection's task: holds its slot and its place in the per-IP
/// count until the door is done, and logs how it ended.
async fn run_conn(
    held: (tokio::sync::OwnedSemaphorePermit, PeerSlot),
    fut: impl Future<Output = io::Result<()>>,
) {
    let _held = held;
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

/// Whether a received datagram of `n` bytes from `peer` is served: it
/// must come from a permitted address and be at most
/// [`Gate::max_datagram`] bytes (the receive buffer holds one byte more,
/// so a larger one shows as too long instead of truncated; see
/// [`datagram_buffer`]). Others are dropped unanswered, logged at the
/// refusal log's pace, and counted.
pub fn admit_datagram(gate: &Gate, door: &'static str, n: usize, peer: SocketAddr) -> bool {
    if !gate.permits(peer.ip()) {
        gate.log_refusal(door, peer.ip(), Refused::Denied);
        return false;
    }
    if n > gate.max_datagram() {
        gate.note_oversize(door, peer.ip());
        return false;
    }
    true
}

/// The receive buffer a datagram door needs under `gate`.
pub fn datagram_buffer(gate: &Gate) -> Vec<u8> {
    vec![0u8; gate.max_datagram().saturating_add(1)]
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
    let mut buf = datagram_buffer(&shared.gate);
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
        if !admit_datagram(&shared.gate, door, n, peer) {
            continue;
        }
        out.clear();
        if respond(&buf[..n], peer, &mut out) {
            if let Err(e) = socket.send_to(&out, peer).await {
                tracing::debug!(door, %peer, error = %e, "send failed");
            }
        }
    }
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
