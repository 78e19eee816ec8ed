//! Share links over HTTP, for receivers with no account:
//!
//! ```text
//! GET /s/ID          the page (web/share.html + share.js): name, size,
//!                    BLAKE3, expiry, downloads left, a download button
//! GET /s/ID/info     the same as JSON (an end-to-end encrypted share
//!                    adds its sealed metadata, `e2e`; web/e2e.js opens it
//!                    with the key from the page's #fragment)
//! GET /s/ID/file     the content (share_file.rs): Range, attachment
//! GET /s/ID/files/N  a folder share's file N (share_dir.rs)
//! GET /s/ID/archive  a folder share as one tar stream (share_dir.rs)
//! ```
//! An ID never issued (or malformed, or past its tombstone) is 404; an
//! ended share is 410 with its state ("expired", "consumed", "revoked")
//! while its tombstone lasts. Every answer carries
//! `Referrer-Policy: no-referrer`, so the link never leaks to another
//! site through a `Referer` header, and `Cache-Control: no-store`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::WebState;
use super::api::ApiError;
use crate::service::shares::{ShareError, ShareInfo, Shares};
use crate::service::unix_now;
use crate::wire::ErrorCode;

/// The page's policy: its own script and style only, not framed by
/// anyone, no forms anywhere, no referrer; a worker and a frame only from
/// this origin (the download service worker, web/sw.js, which the share
/// page registers, and the hidden frame whose navigation it answers).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; worker-src 'self'; frame-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'none'";

/// The shares service, or 404 on a server without it.
pub(super) fn shares(state: &WebState) -> Result<Shares, ApiError> {
    state.services.shares.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "this server keeps no share links",
        )
    })
}

/// A shares error as an HTTP answer (404, 410 with the state, 429,
/// 500), through the session's one failure mapping.
pub(super) fn share_error(e: ShareError) -> ApiError {
    e.into()
}

/// The available share behind `id` (blocking lookup on the pool).
pub(super) async fn lookup(state: &WebState, id: &str) -> Result<ShareInfo, ApiError> {
    let shares = shares(state)?;
    let id = id.to_owned();
    // Ended end-to-end shares' ciphertext is the sweeper's (shares::e2e).
    let open = move || shares.open_link(&id, unix_now());
    match tokio::task::spawn_blocking(open).await {
        Ok(r) => r.map_err(share_error),
        Err(e) => Err(share_error(ShareError::Internal {
            doing: "looking up a share",
            source: Box::new(e),
        })),
    }
}

/// Adds the headers every `/s/` answer carries.
pub(super) fn private(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// The last component of a shared path: what the receiver sees and saves.
pub(super) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `GET /s/ID`: the page, or the error as plain text with its status.
pub async fn page(
    State(state): State<WebState>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = id else {
        return private((StatusCode::NOT_FOUND, "no such share").into_response());
    };
    page_or_error(
        lookup(&state, &id).await.map(drop),
        super::assets::SHARE_PAGE,
    )
}

/// A link's page (`html`, under the pages' CSP) when its lookup
/// succeeded, else the lookup's error; with the `/s/` headers either way.
pub(super) fn page_or_error(found: Result<(), ApiError>, html: &'static str) -> Response {
    match found {
        Ok(()) => private(
            (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CONTENT_SECURITY_POLICY, CSP),
                ],
                html,
            )
                .into_response(),
        ),
        Err(e) => private(e.into_response()),
    }
}

/// `GET /s/ID/info`: what the page shows, as JSON.
pub async fn info(
    State(state): State<WebState>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = id else {
        return private((StatusCode::NOT_FOUND, "no such share").into_response());
    };
    let r = async {
        let s = lookup(&state, &id).await?;
        let mut body = json!({
            "name": file_name(&s.path),
            "kind": if s.files.is_some() { "dir" } else { "file" },
            "file_size": s.size,
            "blake3": s.blake3,
            "expires": s.expires,
            "downloads_left": s.downloads_left(),
            "e2e": s.e2e,
        });
        if s.files.is_some() {
            body["files"] = json!(super::share_dir::snapshot(&state, &s).await?);
        }
        Ok::<_, ApiError>(Json(body).into_response())
    }
    .await;
    private(r.unwrap_or_else(IntoResponse::into_response))
}
