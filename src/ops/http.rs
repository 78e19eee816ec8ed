//! The operator's listener (`serve --metrics ADDR`): `/healthz`, `/readyz`
//! and `/metrics` over plain HTTP/1.1.
//!
//! It runs on the shared accept loop (`net::serve_stream_http`) behind the
//! same gate as every door (access lists, per-IP cap, PROXY headers from
//! trusted proxies), with its own few connection slots so a flood of
//! scrapes never takes a slot from a user, and its own shutdown token so
//! `/readyz` keeps answering "draining" while the doors drain. Each
//! connection carries one request (no keep-alive): its head must arrive
//! within the first-frame timeout and hold at most [`MAX_REQUEST_HEAD`]
//! bytes, and the whole exchange end within [`EXCHANGE_DEADLINE`], so a
//! silent, endless or never-reading peer holds next to nothing.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_util::sync::CancellationToken;

use super::metrics::METRICS;
use super::ready::Readiness;
use crate::net::{Conn, Gate, Shared, StreamListener, serve_stream_http};

/// Connections the listener serves at once: a few scrapers and load
/// balancer probes need a handful; past this, peers wait in the backlog.
pub const MAX_OPS_CONNS: usize = 64;

/// Longest a connection may take from accept to the last byte of its
/// reply: a scrape of a few KiB takes milliseconds; a peer that never
/// reads its reply is cut here.
pub const EXCHANGE_DEADLINE: Duration = Duration::from_secs(30);

/// Largest request head read, in bytes: a scrape or a health check sends
/// a few hundred; hyper's default (about 400 KiB) would let 64 peers pin
/// 25 MiB. A larger head is answered 431 and the connection closed.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// The content type of `/metrics`: OpenMetrics text, which Prometheus
/// negotiates and reads.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The door name in logs, refusal counts and connection series.
pub const DOOR: &str = "metrics";

/// Serves `listener` until `stop`, behind `gate`, answering `/readyz`
/// from `ready`.
pub async fn serve(
    listener: StreamListener,
    gate: Arc<Gate>,
    ready: Readiness,
    stop: CancellationToken,
) {
    let shared = Shared::new(stop, MAX_OPS_CONNS).with_gate(gate.clone());
    let ready = Arc::new(ready);
    serve_stream_http(listener, DOOR, shared, move |conn| {
        connection(conn, ready.clone(), gate.first_frame_timeout())
    })
    .await;
}

/// One request on `conn`, within the deadlines.
async fn connection(conn: Conn, ready: Arc<Readiness>, head: Duration) -> io::Result<()> {
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let ready = ready.clone();
        async move { Ok::<_, Infallible>(respond(req.method(), req.uri().path(), &ready).await) }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(head)
        .max_buf_size(MAX_REQUEST_HEAD)
        .keep_alive(false);
    let served = http.serve_connection(TokioIo::new(conn), svc);
    match tokio::time::timeout(EXCHANGE_DEADLINE, served).await {
        Ok(r) => r.map_err(io::Error::other),
        Err(_) => {
            tracing::debug!("request not done within the deadline; closing");
            Ok(())
        }
    }
}

/// The reply to `method path`.
async fn respond(method: &Method, path: &str, ready: &Readiness) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n".into());
    }
    match path {
        "/healthz" => text(StatusCode::OK, "ok\n".into()),
        "/readyz" => match ready.check().await {
            Ok(()) => text(StatusCode::OK, "ready\n".into()),
            Err(why) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
            ),
        },
        "/metrics" => reply(StatusCode::OK, OPENMETRICS, METRICS.encode()),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found; try /metrics, /healthz or /readyz\n".into(),
        ),
    }
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    reply(status, "text/plain; charset=utf-8", body)
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}
