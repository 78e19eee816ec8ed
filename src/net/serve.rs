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
use super::proxy_header;
use super::tls::ServerTls;
use super::tuning::shard::Shards;

/// Largest UDP payload over IPv4 (65535 - 8 UDP - 20 IP header bytes); IPv6
/// jumbograms aside, nothing larger can arrive, so this buffer never truncates.
pub const MAX_DATAGRAM: usize = 65_507;

/// How long a full process file table pauses the accept loop: long enough for
/// connections to close and free descriptors, short enough to go unnoticed.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Refused peers that may linger at once while their one-line refusal is
/// read (see [`super::stream::linger_close`]); past this, refused peers are closed
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

/// Whether a trusted proxy's connection must start with a PROXY header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProxyHeader {
    /// Stream doors: no header, no service.
    Required,
    /// The web door: a header if the first bytes start one.
    Optional,
}

/// What a trusted proxy's connection needs to be admitted after its
/// header is read.
struct Proxied {
    door: &'static str,
    busy: Busy,
    shared: Shared,
    mode: ProxyHeader,
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
            let proxied = Proxied {
                door,
                busy: busy.clone(),
                shared: shared.clone(),
                mode,
            };
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
                (None, Some(p)) => match p.open(conn).await {
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

/// How long the web door waits before looking again at a trusted peer's
/// first bytes when too few have come to tell a PROXY header from a
/// request (rare: both arrive whole in the first segment).
const PEEK_AGAIN: Duration = Duration::from_millis(5);

impl Proxied {
    /// Reads the PROXY header of a trusted proxy's connection, within the
    /// first-frame timeout, and admits the client it names; `None` when the
    /// connection was closed instead (no valid header, or the client is
    /// refused).
    async fn open(self, conn: Conn) -> Option<(Conn, PeerSlot)> {
        let Conn::Tcp(mut s) = conn else {
            return None;
        };
        let proxy = s.peer_addr().ok()?;
        let gate = &self.shared.gate;
        let within = gate.first_frame_timeout();
        let read = async {
            if self.mode == ProxyHeader::Optional && !starts_with_header(&s).await? {
                return Ok(proxy_header::Origin::Local);
            }
            proxy_header::read(&mut s).await
        };
        let origin = match tokio::time::timeout(within, read).await {
            Ok(Ok(origin)) => origin,
            // Nothing sent at all: a connect-only health check, not news.
            Ok(Err(proxy_header::ReadError::Bad(proxy_header::BadHeader::Empty))) => {
                tracing::debug!("closed before a PROXY header");
                return None;
            }
            Ok(Err(e)) => {
                gate.log_bad_proxy(self.door, proxy.ip(), &e);
                return None;
            }
            Err(_) => {
                let e = "no PROXY protocol header within the first-frame timeout";
                gate.log_bad_proxy(self.door, proxy.ip(), &e);
                return None;
            }
        };
        let client = match origin {
            proxy_header::Origin::Client(a) => a,
            proxy_header::Origin::Local => proxy,
        };
        tracing::Span::current().record("client", tracing::field::display(client));
        let conn = Conn::Proxied(s, client);
        match gate.admit(Some(client.ip())) {
            Ok(place) => Some((conn, place)),
            Err(why) => {
                gate.log_refusal(self.door, client.ip(), why);
                match why {
                    Refused::Busy => refuse(conn, &self.busy, &self.shared),
                    Refused::Denied => reset(conn),
                }
                None
            }
        }
    }
}

/// Whether a connection's first bytes start a PROXY header (looked at, not
/// taken). `false` at once for anything else, such as an HTTP request or
/// a TLS hello.
async fn starts_with_header(s: &tokio::net::TcpStream) -> io::Result<bool> {
    let mut first = [0u8; proxy_header::V2_SIGNATURE.len()];
    loop {
        let n = s.peek(&mut first).await?;
        if n == 0 || !proxy_header::looks_like_header(&first[..n]) {
            return Ok(false);
        }
        // "PROXY " takes 6 bytes to tell from "POST /"; the v2 signature
        // 5 to tell from blank lines ("\r\n\r\n\0").
        let need = if first[0] == b'\r' { 5 } else { 6 };
        if n >= need {
            return Ok(true);
        }
        tokio::time::sleep(PEEK_AGAIN).await;
    }
}

/// Closes a connection the access lists deny with a reset (RST), not a
/// FIN: a client then reports "connection reset" instead of reading a
/// normal end of an empty reply and exiting as if all went well.
fn reset(conn: Conn) {
    if let Conn::Tcp(s) | Conn::Proxied(s, _) = &conn {
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
        let mut conn = conn;
        let _ = super::stream::linger_close(&mut conn, REFUSAL_LINGER).await;
    });
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
