//! The web door on the shared accept loop (`net::serve_stream`): so web
//! connections take the same connection slots, run on the same shards and
//! pass the same access rules as every other door, and may come over TLS.
//!
//! Each connection is served by hyper (HTTP/1.1 with upgrades, for the
//! WebSocket); hyper reads the TLS stream directly, no relay. The peer's
//! address reaches handlers as axum's `ConnectInfo<SocketAddr>`.
//!
//! Two things keep a web connection inside the same limits as the others:
//! - every request head must arrive within the first-frame timeout (hyper's
//!   header-read timeout), and a connection on which no byte has moved
//!   for that long is closed at its next quiet point, so a silent,
//!   trickling or idle keep-alive peer is let go (slowloris);
//! - an upgraded WebSocket keeps the connection's task, and with it its
//!   connection slot and per-IP place, until the socket closes, through the
//!   [`Lease`](door::web::Lease) its handler holds.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use crate::door;
use crate::door::web::host::HostRule;
use crate::net::tls::ServerTls;
use crate::net::{Conn, Gate, Shared, StreamListener, forwarded, serve_stream_http, watch};

/// Serves the web page, its API and WebSocket on `listener` until shutdown.
pub(super) async fn serve(
    listener: StreamListener,
    state: door::web::WebState,
    tls: Option<ServerTls>,
    shared: Shared,
) {
    let hosts = state.hosts.clone();
    let app = door::web::router(state);
    let shutdown = shared.shutdown.clone();
    let gate = shared.gate.clone();
    serve_stream_http(listener, "web", shared, move |conn| {
        // Read as the connection opens, so a reload applies to new ones.
        let head_timeout = gate.first_frame_timeout();
        connection(
            conn,
            app.clone(),
            tls.clone(),
            shutdown.clone(),
            head_timeout,
            gate.clone(),
            hosts.clone(),
        )
    })
    .await;
}

/// What every request on one connection is checked and given.
#[derive(Clone)]
struct PerRequest {
    /// The names the request may address.
    hosts: HostRule,
    /// Served over TLS: responses carry HSTS.
    tls: bool,
    /// The body deadline before its rate allowance (the first-frame timeout).
    body_base: Duration,
}

/// One HTTP connection, after the TLS handshake when there is one.
async fn connection(
    conn: Conn,
    app: Router,
    tls: Option<ServerTls>,
    shutdown: CancellationToken,
    head_timeout: Duration,
    gate: Arc<Gate>,
    hosts: Arc<[String]>,
) -> io::Result<()> {
    // A Unix listener serves a reverse proxy on this machine: no address.
    let (peer, local) = match &conn {
        Conn::Tcp(s) => (Some(s.peer_addr()?), Some(s.local_addr()?.ip())),
        Conn::Proxied(s, client) => (Some(*client), Some(s.local_addr()?.ip())),
        Conn::Unix(_) => (None, None),
    };
    let each = PerRequest {
        hosts: HostRule::new(local, hosts),
        tls: tls.is_some(),
        body_base: head_timeout,
    };
    let peer = Peer { addr: peer, gate };
    match tls {
        Some(t) => {
            http(
                t.accept(conn).await?,
                app,
                peer,
                shutdown,
                head_timeout,
                each,
            )
            .await
        }
        None => http(conn, app, peer, shutdown, head_timeout, each).await,
    }
}

/// Where a connection's requests come from, before `X-Forwarded-For`.
struct Peer {
    /// The immediate peer; `None` on a Unix socket.
    addr: Option<SocketAddr>,
    /// The trusted proxies are read from its current rules per request.
    gate: Arc<Gate>,
}

impl Peer {
    /// The client of one request, as handlers see it in `ConnectInfo`: the
    /// forwarded address when a trusted proxy sent it, else the peer; the
    /// unspecified address (0.0.0.0:0) when there is none (a Unix peer
    /// without a trusted proxy), which the doors treat as "no address".
    fn client(&self, headers: &hyper::HeaderMap) -> SocketAddr {
        let xff = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let trusted = &self.gate.rules().trusted_proxies;
        let ip = forwarded::client_ip(self.addr.map(|a| a.ip()), xff, trusted);
        match ip {
            Some(ip) if Some(ip) == self.addr.map(|a| a.ip()) => {
                self.addr.unwrap_or_else(|| SocketAddr::new(ip, 0))
            }
            Some(ip) => SocketAddr::new(ip, 0),
            None => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        }
    }
}

/// Serves requests on `io` until the peer closes, a request head is late
/// or the connection has been quiet for `head_timeout`, or shutdown; the
/// last two let the request in flight finish (graceful, as `axum::serve`
/// does). Then waits for a WebSocket upgraded from this connection to end.
async fn http<I>(
    io: I,
    app: Router,
    peer: Peer,
    shutdown: CancellationToken,
    head_timeout: Duration,
    each: PerRequest,
) -> io::Result<()>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (io, activity) = watch(io);
    let (lease, shares) = door::web::Lease::new(shutdown.clone());
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let host = req.uri().authority().map(|a| a.as_str()).or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
        });
        let refused = each.hosts.check(host).err();
        let client = peer.client(req.headers());
        let mut req = req.map(|b| TimedBody::new(b, each.body_base));
        req.extensions_mut().insert(ConnectInfo(client));
        req.extensions_mut().insert(lease.clone());
        // The router is always ready (no poll_ready needed), and cheap to clone.
        let mut app = app.clone();
        let tls = each.tls;
        async move {
            let mut res = match refused {
                Some(why) => {
                    tracing::debug!(%why, "refusing a request for another host name");
                    (StatusCode::MISDIRECTED_REQUEST, format!("{why}\n")).into_response()
                }
                None => app.call(req).await?,
            };
            if tls {
                res.headers_mut().insert(
                    header::STRICT_TRANSPORT_SECURITY,
                    HeaderValue::from_static(door::web::HSTS),
                );
            }
            Ok::<_, std::convert::Infallible>(res)
        }
    });
    let mut builder = Builder::new(TokioExecutor::new());
    // hyper runs this timer from the first byte of each request head (and
    // from connecting): a trickled head is cut off. It does not run while
    // a keep-alive connection waits for its next request; `activity` does.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    let r = {
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
        tokio::pin!(conn);
        // Once asked to end (stop signal or quiet), hyper closes an idle
        // connection at once and a busy one after its current response.
        let mut ending = false;
        loop {
            let quiet_at = Instant::now() + head_timeout.saturating_sub(activity.quiet_for());
            tokio::select! {
                r = conn.as_mut() => break r,
                () = shutdown.cancelled(), if !ending => {
                    ending = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = tokio::time::sleep_until(quiet_at), if !ending => {
                    if activity.quiet_for() >= head_timeout {
                        tracing::debug!("quiet for the first-frame timeout; closing");
                        ending = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
        // The connection, its service and the service's lease end here.
    };
    // Then only a WebSocket upgraded from this connection may hold a share.
    shares.wait().await;
    match r {
        // A late request head: the peer is told nothing more, as for a
        // framed peer past its first-frame timeout.
        Err(e) if is_header_timeout(e.as_ref()) => {
            tracing::debug!("no whole request head within the first-frame timeout; closing");
            Ok(())
        }
        r => r.map_err(io::Error::other),
    }
}

/// Whether hyper gave up waiting for a request head.
fn is_header_timeout(e: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    e.downcast_ref::<hyper::Error>()
        .is_some_and(|e| e.is_timeout())
}

/// Bytes per second a request body must average, beyond its base
/// deadline: 16 KiB/s (128 kbit/s) is a poor mobile link; a body trickled
/// slower than that (slowloris on the body, not the head) is cut off.
const BODY_MIN_RATE: u64 = 16 * 1024;

/// A request body that must arrive by a deadline: the base (the
/// first-frame timeout) from when its head was read, pushed back by one
/// second per [`BODY_MIN_RATE`] bytes received, so an upload that keeps
/// moving is never cut while a trickled login is cut after the base.
struct TimedBody {
    inner: Incoming,
    due: Pin<Box<Sleep>>,
}

impl TimedBody {
    fn new(inner: Incoming, base: Duration) -> TimedBody {
        TimedBody {
            inner,
            due: Box::pin(tokio::time::sleep(base)),
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let more = Duration::from_secs_f64(data.len() as f64 / BODY_MIN_RATE as f64);
                    let due = self.due.deadline() + more;
                    self.due.as_mut().reset(due);
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(other) => return Poll::Ready(other.map(|r| r.map_err(Into::into))),
            Poll::Pending => {}
        }
        match self.due.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(
                "the request body did not arrive in time; send it at once".into(),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
