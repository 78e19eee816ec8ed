//! `PUT /api/files/PATH`: the request body streamed into the file store a
//! chunk at a time, never held whole in memory, through the session's
//! transfer table (`session::FilesState`): the same limits, verification
//! and failures as a frame client's `file.put`.
//!
//! Integrity: the store hashes what it writes and publishes only a body
//! whose length is the declared `Content-Length`, written in order. A
//! browser cannot compute BLAKE3 cheaply, and WebCrypto's SHA-256 needs
//! the whole file in memory, so the page adds `X-Sockit-Sha256` for small
//! files only; when present the session hashes SHA-256 as the chunks pass
//! and checks it end to end (the browser's bytes, not just ours).
//!
//! An interrupted web upload is not resumable (the browser has no way to
//! ask where to continue), so its partial is removed rather than kept to
//! hold quota ([`Unfinished::Remove`]): every failure, and a dropped
//! connection, removes it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::super::WebState;
use super::super::api::ApiError;
use super::{bad_request, check_mutation, session};
use crate::service::files::UploadRequest;
use crate::session::{Expected, FilesState, Unfinished};
use crate::wire::ErrorCode;

/// The optional request header with the SHA-256 (hex) of the whole body.
pub const SHA256_HEADER: &str = "x-sockit-sha256";

/// Bytes handed to the store per write: 1 MiB amortises the hop to the
/// blocking pool (hyper delivers frames of a few KiB) while one upload
/// holds about one chunk of memory. Capped by the store's chunk limit.
pub(in crate::door::web) const UPLOAD_CHUNK: usize = 1 << 20;

/// Longest wait for the next piece of a body: a stalled browser must not
/// hold the path's upload slot (and quota) forever; a minute rides out a
/// network blip.
const BODY_IDLE: Duration = Duration::from_secs(60);

/// `?replace=true` replaces an existing file.
#[derive(Debug, Deserialize)]
pub struct PutQuery {
    #[serde(default)]
    replace: bool,
}

/// A fingerprint no earlier partial has: a web upload always starts at 0
/// (see the module doc), so a partial left for this path by a crash or a
/// CLI is discarded, never resumed with bytes the browser did not send.
fn fresh_fingerprint() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut r = [0u8; 8];
    if getrandom::fill(&mut r).is_err() {
        // Unique in this process is enough: the nanoseconds add the rest.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        r = (t.as_nanos() as u64).to_le_bytes();
    }
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("web:{}:{n}", hex::encode(r))
}

pub(in crate::door::web) fn content_length(headers: &HeaderMap) -> Result<u64, ApiError> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::LENGTH_REQUIRED,
                ErrorCode::BadRequest,
                "an upload needs a Content-Length (the store reserves quota for the whole file)",
            )
        })
}

fn expected_sha256(headers: &HeaderMap) -> Result<Option<[u8; 32]>, ApiError> {
    let Some(v) = headers.get(SHA256_HEADER) else {
        return Ok(None);
    };
    let mut out = [0u8; 32];
    v.to_str()
        .ok()
        .and_then(|s| hex::decode_to_slice(s.trim(), &mut out).ok())
        .ok_or_else(|| bad_request("X-Sockit-Sha256 must be 64 hex digits"))?;
    Ok(Some(out))
}

/// `PUT /api/files/PATH[?replace=true]` with the file as the body.
pub async fn upload(
    State(state): State<WebState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<PutQuery>, QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    check_mutation(&headers)?;
    let (store, user) = session(&state, &headers).await?;
    let Path(path) = path.map_err(bad_request)?;
    let Query(q) = query.map_err(bad_request)?;
    let size = content_length(&headers)?;
    let want_sha = expected_sha256(&headers)?;
    let chunk = UPLOAD_CHUNK.min(store.config().max_chunk).max(1);
    let mut files = FilesState::ending(store, Unfinished::Remove);
    // Path, size, quota, conflict and busy are all checked here, before
    // the first byte of the body is read.
    let req = UploadRequest {
        path,
        size,
        fingerprint: fresh_fingerprint(),
        force: q.replace,
        md5: false,
    };
    let (handle, _) = files.begin_upload(user, req, want_sha.is_some()).await?;
    let mut up = WebUpload {
        files,
        user,
        handle,
        resumable: false,
    };
    match up.run(body, chunk, size, want_sha).await {
        Ok(res) => Ok(res),
        Err(e) => {
            // The partial goes before the answer, so the quota it held is
            // free when the browser sees the error.
            up.files.close().await;
            Err(e)
        }
    }
}

/// One HTTP upload: its own transfer table with its one handle (also an
/// upload link's, `share_upload.rs`).
pub(in crate::door::web) struct WebUpload {
    pub(in crate::door::web) files: FilesState,
    pub(in crate::door::web) user: i64,
    pub(in crate::door::web) handle: u64,
    /// Whether what arrived is kept for a resume when the body breaks off.
    pub(in crate::door::web) resumable: bool,
}

impl WebUpload {
    async fn run(
        &mut self,
        body: Body,
        chunk: usize,
        size: u64,
        want_sha: Option<[u8; 32]>,
    ) -> Result<Response, ApiError> {
        self.receive(body, chunk, 0, size).await?;
        let expected = Expected {
            sha256: want_sha,
            ..Expected::default()
        };
        let p = self
            .files
            .finish_upload(self.user, self.handle, expected)
            .await?;
        let status = if p.replaced {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        let body = json!({
            "path": p.path.as_str(),
            "size": p.size,
            "blake3": p.hashes.blake3.to_hex().to_string(),
            "replaced": p.replaced,
        });
        Ok((status, Json(body)).into_response())
    }

    /// Reads the body (the bytes from `start` to `size`) into the upload,
    /// `chunk` bytes per write.
    pub(in crate::door::web) async fn receive(
        &mut self,
        body: Body,
        chunk: usize,
        start: u64,
        size: u64,
    ) -> Result<(), ApiError> {
        let mut stream = body.into_data_stream();
        let mut pending = BytesMut::new();
        let (mut received, mut offset) = (start, start);
        let resumable = self.resumable;
        let short = |received, why: &str| cut_short(received, size, why, resumable);
        loop {
            let next = match tokio::time::timeout(BODY_IDLE, stream.next()).await {
                Ok(next) => next,
                Err(_) => Some(Err(axum::Error::new("the sender went quiet"))),
            };
            match next {
                None => break,
                Some(Err(e)) => {
                    if resumable && !pending.is_empty() {
                        // What arrived is kept for the resume, to the byte.
                        self.files
                            .write(self.user, self.handle, offset, pending.freeze())
                            .await?;
                    }
                    return Err(short(received, &e.to_string()));
                }
                Some(Ok(bytes)) => {
                    received = received.saturating_add(bytes.len() as u64);
                    pending.extend_from_slice(&bytes);
                    while pending.len() >= chunk {
                        let c = pending.split_to(chunk).freeze();
                        offset = self.files.write(self.user, self.handle, offset, c).await?;
                    }
                }
            }
        }
        if !pending.is_empty() {
            let c = pending.freeze();
            self.files.write(self.user, self.handle, offset, c).await?;
        }
        if received != size {
            return Err(short(received, "the body ended early"));
        }
        Ok(())
    }
}

fn cut_short(received: u64, size: u64, why: &str, resumable: bool) -> ApiError {
    let then = if resumable {
        "send again to resume"
    } else {
        "nothing was kept"
    };
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::BadRequest,
        format!("upload cut short after {received} of {size} bytes ({why}); {then}"),
    )
}
