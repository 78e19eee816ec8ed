//! The page and its assets, embedded in the binary at build time: a
//! machine without Node (or without the source tree) serves the same page.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `(name, content type, bytes)` of every asset under `/assets/`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/app.js"),
    ),
    (
        "files.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/files.js"),
    ),
    (
        "share.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/share.js"),
    ),
    (
        "e2e.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/e2e.js"),
    ),
    (
        "hash.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/hash.js"),
    ),
    (
        "e2e_send.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/e2e_send.js"),
    ),
    (
        "share_e2e.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/share_e2e.js"),
    ),
    (
        "shares.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/shares.js"),
    ),
    (
        "uploads.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/uploads.js"),
    ),
    (
        "blake3.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/blake3.js"),
    ),
    (
        "upload.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/upload.js"),
    ),
    (
        "chat.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/chat.js"),
    ),
    (
        "dm.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/dm.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../../web/style.css"),
    ),
];

/// The page's security headers: no framing (clickjacking), no sniffing,
/// scripts and styles from this origin only.
const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `GET /`.
pub async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        include_str!("../../../web/index.html"),
    )
        .into_response()
}

/// The worker's own policy: it fetches nothing and runs no other script;
/// the responses it builds carry their own headers.
const WORKER_CSP: &str = "default-src 'none'";

/// `GET /dl/sw.js`: the download service worker (web/sw.js). Served from
/// `/dl/`, so its scope can be `/dl/` and nothing wider: it answers only
/// navigations to `/dl/TOKEN` (the downloads the share page streams
/// through it) and controls no page.
pub async fn worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, WORKER_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // Browsers check a worker for updates at least daily; this
            // keeps an old copy from outliving a new binary by more.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../../../web/sw.js"),
    )
        .into_response()
}

/// `GET /dl/TOKEN` when the download worker did not take the navigation
/// (none registered, or it was stopped): `204 No Content`, so the browser
/// stays on the share page, which then falls back to a Blob. The server
/// never has the bytes of such a download.
pub async fn worker_miss() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "no-store")],
    )
        .into_response()
}

/// The `<head>` the link pages (share.html, upload.html) have in common:
/// each page's file starts with its own title and scripts after it.
macro_rules! link_page {
    ($file:literal) => {
        concat!(
            include_str!("../../../web/link_head.html"),
            include_str!(concat!("../../../web/", $file))
        )
    };
}

/// `GET /s/ID`'s page: web/link_head.html + web/share.html.
pub const SHARE_PAGE: &str = link_page!("share.html");

/// `GET /u/ID`'s page: web/link_head.html + web/upload.html.
pub const UPLOAD_PAGE: &str = link_page!("upload.html");

/// `GET /assets/NAME`.
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
