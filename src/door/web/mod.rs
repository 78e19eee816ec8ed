//! The web door (B/S): a page embedded in the binary, a small JSON API for
//! logging in with a cookie, and a WebSocket that carries the frame
//! protocol's messages, so the browser speaks the same catalogue, through
//! the same [`Session`](crate::session::Session), as every other client.
//!
//! [`router`] is separate from binding, so handlers are tested with
//! `oneshot` requests; `sockit serve --web` binds it.
//!
//! CSRF: the session cookie is `HttpOnly; SameSite=Strict` (and `Secure`
//! under TLS), every state-changing request must be `application/json` or
//! (file uploads and deletes, whose bodies are raw bytes) carry
//! `X-Sockit: 1` — neither of which a cross-site form can send, nor a
//! cross-site script without a CORS preflight we never grant — and any
//! `Origin` header must match `Host`, on the API and on the WebSocket
//! upgrade alike (cross-site WebSocket hijacking).

mod api;
mod assets;
mod files;
pub mod host;
mod render;
pub mod session_idle;
mod share;
mod share_archive;
mod share_dir;
mod share_file;
mod share_range;
mod share_tar;
mod share_upload;
mod ws;

pub use render::{WEB_EVENTS, WebEvents};
pub use session_idle::{DEFAULT_SESSION_IDLE, SessionIdle};

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post, put};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::service::Services;
use crate::wire::ServerInfo;

/// Name of the session cookie over plain HTTP.
pub const COOKIE: &str = "sockit_session";

/// Name of the session cookie over HTTPS: browsers accept a `__Host-`
/// cookie only with `Secure`, `Path=/` and no `Domain`, so neither a
/// plain-HTTP page on the same host nor a sibling subdomain can set or
/// shadow it.
pub const SECURE_COOKIE: &str = "__Host-sockit_session";

/// `Strict-Transport-Security` of every HTTPS response: browsers that saw
/// it use HTTPS for this host for a year, so a network attacker cannot
/// downgrade a later visit to plain HTTP.
pub const HSTS: &str = "max-age=31536000";

/// Largest JSON request body the API reads: a login is a few hundred bytes;
/// 64 KiB matches the frame protocol's header limit.
const MAX_API_BODY: usize = 64 * 1024;

/// What every web handler shares.
#[derive(Debug, Clone)]
pub struct WebState {
    /// The services every door shares.
    pub services: Services,
    /// What `hello` answers (limits and features), as on the framed door.
    pub info: Arc<ServerInfo>,
    /// Served over TLS: cookies get `Secure`.
    pub secure: bool,
    /// How often a quiet WebSocket is pinged (zero: never); see `ws`.
    pub ping: std::time::Duration,
    /// When each session was last used, for `--web-session-idle`.
    pub idle: Arc<SessionIdle>,
    /// The `--web-host` names (normalised by [`host::HostRule::names`]),
    /// besides the listener's own address and `localhost`.
    pub hosts: Arc<[String]>,
}

impl WebState {
    /// The session cookie's name: `__Host-` prefixed under TLS.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure { SECURE_COOKIE } else { COOKIE }
    }
}

/// The client address of a request for per-address limits: `None` for
/// the unspecified address the server gives a Unix-socket peer that no
/// trusted proxy speaks for (see `net::forwarded`), so such clients share
/// no per-address login count.
pub fn client_ip(peer: std::net::SocketAddr) -> Option<std::net::IpAddr> {
    Some(peer.ip()).filter(|ip| !ip.is_unspecified())
}

/// Default of `serve --web-ping`: a dead peer is found within about a
/// minute and a half, for one small control frame per half minute.
pub const DEFAULT_PING: std::time::Duration = std::time::Duration::from_secs(30);

/// A share in the HTTP connection a request came on, put in each request's
/// extensions by the server. A WebSocket handler keeps it for the socket's
/// life: the connection's task waits until every share is dropped, so an
/// upgraded socket keeps its connection slot and per-IP place (axum runs
/// the socket in a task of its own, outside the connection's). It also
/// carries the shutdown token, so the socket can say goodbye at a stop.
#[derive(Debug, Clone)]
pub struct Lease {
    /// Counted by the connection's tracker until the last share drops.
    _share: TaskTrackerToken,
    /// Cancelled when the server stops.
    pub shutdown: CancellationToken,
}

impl Lease {
    /// A lease, and the (closed) tracker whose `wait()` ends once every
    /// copy of it is dropped.
    pub fn new(shutdown: CancellationToken) -> (Lease, TaskTracker) {
        let shares = TaskTracker::new();
        shares.close();
        let lease = Lease {
            _share: shares.token(),
            shutdown,
        };
        (lease, shares)
    }
}

/// The web door's routes.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{name}", get(assets::asset))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/whoami", get(api::whoami))
        .route("/ws", get(ws::upgrade))
        .route("/api/files", get(files::list))
        .route(
            "/api/files/{*path}",
            get(files::download)
                .delete(files::remove)
                // Uploads are streamed to disk with their own size checks
                // (`--max-file`, quota); the JSON body limit must not cap them.
                .merge(put(files::upload.layer(DefaultBodyLimit::disable()))),
        )
        .route("/dl/sw.js", get(assets::worker))
        .route("/dl/{token}", get(assets::worker_miss))
        .route("/s/{id}", get(share::page))
        .route("/s/{id}/info", get(share::info))
        .route("/s/{id}/file", get(share_file::file))
        .route("/s/{id}/files/{n}", get(share_dir::file))
        .route("/s/{id}/archive", get(share_dir::archive))
        .route("/u/{id}", get(share_upload::page))
        .route("/u/{id}/info", get(share_upload::info))
        .route("/u/{id}/files", post(share_upload::begin))
        .route(
            "/u/{id}/files/{name}",
            // Streamed with the link's and the store's own size checks.
            put(share_upload::put.layer(DefaultBodyLimit::disable())),
        )
        .layer(DefaultBodyLimit::max(MAX_API_BODY))
        .with_state(state)
}

/// The identity and token of the request's session cookie: refused when
/// missing, unknown, revoked, or unused for longer than the idle limit
/// (then also revoked, so it stays refused after a restart).
async fn resume(
    state: &WebState,
    headers: &HeaderMap,
) -> Result<(crate::service::accounts::Identity, String), api::ApiError> {
    use crate::service::accounts::AuthError;
    let token =
        session_token(headers, state.cookie_name()).ok_or_else(api::ApiError::unauthenticated)?;
    let accounts = api::accounts(state)?;
    if state.idle.expired(token) {
        state.idle.forget(token);
        let _ = accounts.logout(token).await;
        return Err(api::ApiError::new(
            StatusCode::UNAUTHORIZED,
            crate::wire::UNAUTHENTICATED,
            format!(
                "session unused for more than {} s; log in again",
                state.idle.limit().as_secs()
            ),
        ));
    }
    match accounts.resume(token).await {
        Ok(identity) => {
            state.idle.touch(token);
            Ok((identity, token.to_owned()))
        }
        Err(AuthError::InvalidToken) => Err(api::ApiError::unauthenticated()),
        Err(e) => Err(e.into()),
    }
}

/// The session token from the request's cookie `name`, if any.
fn session_token<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Refuses a request whose `Origin` is another site's. Browsers send
/// `Origin` on every cross-site POST and WebSocket upgrade, so a mismatch
/// is a forged request; same-origin requests and non-browser clients pass.
fn check_origin(headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err((
            StatusCode::FORBIDDEN,
            "cross-site request refused: Origin does not match Host",
        )),
    }
}

#[cfg(test)]
mod tests;
