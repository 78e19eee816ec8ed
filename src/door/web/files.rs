//! The logged-in user's files over HTTP: list a directory, upload
//! (`upload.rs`, through the session's transfer table like a frame
//! client's `file.put`), download and delete, through the same file store
//! and rules as the framed door's `file` family; every failure reaches
//! HTTP through the session's one failure -> code mapping.
//!
//! ```text
//! GET    /api/files?dir=DIR[&after=NAME]        listing (JSON, a page), usage, limits
//! GET    /api/files/PATH                        the content, streamed
//! PUT    /api/files/PATH[?replace=true]         upload (body = the bytes)
//! DELETE /api/files/PATH[?recursive=true]       remove
//! ```
//! `PUT` and `DELETE` change state, so they must pass `check_origin` and
//! carry `X-Sockit: 1`: a plain HTML form can send neither that header nor
//! those methods, and a cross-site script would need a CORS preflight we
//! never grant. The cookie is `SameSite=Strict` besides.

#[cfg(test)]
mod tests;
pub(super) mod upload;

pub use upload::upload;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::api::{ApiError, forbidden};
use super::{WebState, check_origin};
use crate::service::files::{Download, EntryKind as StoreKind, FileError, FileStore, run_blocking};
use crate::wire::{EntryKind, ErrorCode};

/// The header every state-changing files request carries (`X-Sockit: 1`).
pub const CSRF_HEADER: &str = "x-sockit";

/// The response header holding a download's BLAKE3 (hex).
pub const BLAKE3_HEADER: &str = "x-sockit-blake3";

/// Bytes read from disk per step of a download: large enough that the
/// blocking-pool hop per step is noise next to the copy, small enough that
/// many parallel downloads hold little memory (one step each).
const DOWNLOAD_CHUNK: usize = 256 * 1024;

/// `?dir=` of a listing (absent is the user's root), and `?after=` for
/// the page after a truncated one (its `next`).
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    dir: String,
    #[serde(default)]
    after: Option<String>,
}

/// `?recursive=true` of a delete.
#[derive(Debug, Deserialize)]
pub struct RemoveQuery {
    #[serde(default)]
    recursive: bool,
}

/// A 400 for a URL that does not parse (bad percent-encoding, a query
/// flag that is not `true`/`false`).
fn bad_request(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::BadRequest,
        e.to_string(),
    )
}

/// The store's error as an HTTP answer, through the session's one
/// failure mapping (see `ApiError`'s `From<Failure>`).
pub(super) fn file_error(e: FileError) -> ApiError {
    e.into()
}

/// The file store and the user id the session cookie speaks for.
async fn session(state: &WebState, headers: &HeaderMap) -> Result<(FileStore, i64), ApiError> {
    let (identity, _) = super::resume(state, headers).await?;
    let store = state.services.files.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "this server keeps no files (it runs with --no-files)",
        )
    })?;
    Ok((store, identity.user_id))
}

/// Refuses a state-changing request another site could have forged.
fn check_mutation(headers: &HeaderMap) -> Result<(), ApiError> {
    check_origin(headers).map_err(forbidden)?;
    if headers.get(CSRF_HEADER).is_none_or(|v| v != "1") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "missing the X-Sockit: 1 header that uploads and deletes need (CSRF guard)",
        ));
    }
    Ok(())
}

/// `GET /api/files?dir=DIR`: the directory's entries, the user's usage
/// and the largest file accepted (so the page refuses early).
pub async fn list(
    State(state): State<WebState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (store, user) = session(&state, &headers).await?;
    let Query(q) = query.map_err(bad_request)?;
    let dir = q.dir.trim_matches('/').to_owned();
    let max_file = store.config().max_file;
    let d = dir.clone();
    let after = q.after.filter(|a| !a.is_empty());
    let (listing, usage) = run_blocking(move || {
        let listing = store.list_page(user, &d, after.as_deref())?;
        Ok((listing, store.usage(user)?))
    })
    .await
    .map_err(file_error)?;
    let entries: Vec<_> = listing
        .entries
        .into_iter()
        .map(|e| {
            json!({
                "name": e.name,
                "kind": match e.kind { StoreKind::File => EntryKind::File, StoreKind::Dir => EntryKind::Dir },
                "size": e.size,
                "mtime": e.mtime,
                "blake3": e.blake3.map(|h| h.to_hex().to_string()),
            })
        })
        .collect();
    let body = json!({
        "dir": dir,
        "entries": entries,
        "truncated": listing.truncated,
        "next": listing.next,
        "skipped": listing.skipped,
        "used": usage.published.saturating_add(usage.staged),
        "quota": usage.quota,
        "max_file": max_file,
    });
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// `GET /api/files/PATH`: the file as an attachment, streamed from disk a
/// step at a time, with its length and BLAKE3 in the headers.
pub async fn download(
    State(state): State<WebState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let (store, user) = session(&state, &headers).await?;
    let Path(path) = path.map_err(bad_request)?;
    let (d, hashes) = run_blocking(move || {
        let mut d = store.download(user, &path, 0)?;
        let h = d.hashes(false)?;
        Ok((d, h))
    })
    .await
    .map_err(file_error)?;
    let size = d.size();
    let disposition = content_disposition(d.path().file_name());
    let mut res =
        Body::from_stream(futures_util::stream::unfold(Some(d), next_chunk)).into_response();
    let h = res.headers_mut();
    let mut set = |name, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_LENGTH, size.to_string());
    set(header::CONTENT_DISPOSITION, disposition);
    set(
        header::HeaderName::from_static(BLAKE3_HEADER),
        hashes.blake3.to_hex().to_string(),
    );
    set(header::CONTENT_TYPE, "application/octet-stream".into());
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    set(header::CACHE_CONTROL, "private, no-store".into());
    // Should a browser ever render it anyway: no scripts, no origin.
    set(
        header::CONTENT_SECURITY_POLICY,
        "sandbox; default-src 'none'".into(),
    );
    Ok(res)
}

/// One step of a download's body. An error mid-way ends the body early,
/// so the client sees fewer bytes than `Content-Length`, never wrong ones.
async fn next_chunk(d: Option<Download>) -> Option<(Result<Bytes, FileError>, Option<Download>)> {
    let mut d = d?;
    let left = d.remaining();
    if left == 0 {
        return None;
    }
    let want = usize::try_from(left).map_or(DOWNLOAD_CHUNK, |l| l.min(DOWNLOAD_CHUNK));
    let step = run_blocking(move || {
        let mut buf = vec![0u8; want];
        let n = d.read_chunk(&mut buf)?;
        buf.truncate(n);
        Ok((d, buf))
    })
    .await;
    match step {
        Ok((d, buf)) => Some((Ok(Bytes::from(buf)), Some(d))),
        Err(e) => {
            tracing::warn!(error = %e, door = "web", "download cut short");
            Some((Err(e), None))
        }
    }
}

/// `DELETE /api/files/PATH[?recursive=true]`.
pub async fn remove(
    State(state): State<WebState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<RemoveQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    check_mutation(&headers)?;
    let (store, user) = session(&state, &headers).await?;
    let Path(path) = path.map_err(bad_request)?;
    let Query(q) = query.map_err(bad_request)?;
    let p = path.clone();
    let r = run_blocking(move || store.remove(user, &p, q.recursive))
        .await
        .map_err(file_error)?;
    tracing::info!(path = %crate::service::files::escape_name(&path), files = r.files, door = "web", "removed");
    let body = json!({"path": path, "files": r.files, "dirs": r.dirs, "bytes": r.bytes});
    Ok(Json(body).into_response())
}

/// `Content-Disposition: attachment` naming the file safely: an ASCII
/// fallback with anything unusual replaced, and the exact UTF-8 name
/// percent-encoded (RFC 6266 / RFC 8187), so no name can end the header
/// value, inject a parameter or smuggle a path.
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if !matches!(c, '"' | '\\' | '%' | ';' | '/') => c,
            _ => '_',
        })
        .collect();
    let mut exact = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            exact.push(char::from(b));
        } else {
            exact.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}")
}
