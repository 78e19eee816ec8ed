//! The web door on the shared accept loop (`net::serve_stream`): so web
//! connections take the same connection slots, run on the same shards and
//! pass the same access rules as every other door, and may come over TLS.
//!
//! Each connection is served by hyper (HTTP/1.1 with upgrades, for the
//! WebSocket); hyper reads the TLS stream directly, no relay. The peer's
//! address reaches handlers as axum's `ConnectInfo<SocketAddr>`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use crate::door;
use crate::net::tls::ServerTls;
use crate::net::{Conn, Shared, StreamListener, serve_stream};

/// Serves the web page, its API and WebSocket on `listener` until shutdown.
pub(super) async fn serve(
    listener: StreamListener,
    state: door::web::WebState,
    tls: Option<ServerTls>,
    shared: Shared,
) {
    let app = door::web::router(state);
    let shutdown = shared.shutdown.clone();
    serve_stream(listener, "web", shared, move |conn| {
        connection(conn, app.clone(), tls.clone(), shutdown.clone())
    })
    .await;
}

/// One HTTP connection, after the TLS handshake when there is one.
async fn connection(
    conn: Conn,
    app: Router,
    tls: Option<ServerTls>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let peer = match &conn {
        Conn::Tcp(s) => s.peer_addr()?,
        // A Unix listener serves a reverse proxy on this machine.
        Conn::Unix(_) | Conn::Tls(_) => SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    };
    match tls {
        Some(t) => http(TokioIo::new(t.accept(conn).await?), app, peer, shutdown).await,
        None => http(TokioIo::new(conn), app, peer, shutdown).await,
    }
}

/// Serves requests on `io` until the peer closes, or until shutdown lets
/// the request in flight finish (graceful, as `axum::serve` does).
async fn http<I>(
    io: I,
    app: Router,
    peer: SocketAddr,
    shutdown: CancellationToken,
) -> io::Result<()>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        // The router is always ready (no poll_ready needed), and cheap to clone.
        let mut app = app.clone();
        async move { app.call(req).await }
    });
    let builder = Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(io, svc);
    tokio::pin!(conn);
    let r = tokio::select! {
        r = conn.as_mut() => r,
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    r.map_err(io::Error::other)
}
