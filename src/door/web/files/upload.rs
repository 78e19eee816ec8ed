//! `PUT /api/files/PATH`: the request body streamed into the file store a
//! chunk at a time, never held whole in memory.
//!
//! Integrity: the door hashes the bytes with BLAKE3 as they come off the
//! connection and `finish_with` verifies the store's own hash of what it
//! wrote against it, so a file is published only if every byte the
//! browser sent reached the disk in order. A browser cannot compute
//! BLAKE3 cheaply, and WebCrypto's SHA-256 needs the whole file in memory,
//! so the page adds `X-Sockit-Sha256` for small files only; when present
//! it is checked end to end (the browser's bytes, not just ours). The
//! length is the declared `Content-Length`; a body that ends short is
//! refused and its partial removed.
//!
//! An interrupted web upload is not resumable (the browser has no way to
//! ask where to continue), so its partial is removed rather than kept to
//! hold quota: every failure, and a dropped connection, aborts it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::super::WebState;
use super::super::api::ApiError;
use super::{bad_request, check_mutation, file_error, session};
use crate::service::files::{FileError, Upload, UploadRequest, run_blocking};
use crate::wire::ErrorCode;

/// The optional request header with the SHA-256 (hex) of the whole body.
pub const SHA256_HEADER: &str = "x-sockit-sha256";

/// Bytes handed to the store per write: 1 MiB amortises the hop to the
/// blocking pool (hyper delivers frames of a few KiB) while one upload
/// holds about one chunk of memory. Capped by the store's chunk limit.
const UPLOAD_CHUNK: usize = 1 << 20;

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

/// An upload that is removed (partial and quota reservation) unless it is
/// taken out to be finished: covers errors and a handler dropped
/// mid-upload when the browser goes away.
struct Abort(Option<Upload>);

impl Drop for Abort {
    fn drop(&mut self) {
        let Some(up) = self.0.take() else { return };
        let abort = move || {
            if let Err(e) = up.abort() {
                tracing::warn!(error = %e, "could not remove an unfinished web upload");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(abort)),
            Err(_) => abort(),
        }
    }
}

/// The upload, moved to the blocking pool and back for each chunk, with
/// the door's own hashes of what came off the wire.
struct Sink {
    upload: Abort,
    blake3: blake3::Hasher,
    sha256: Option<Sha256>,
}

impl Sink {
    /// Writes one chunk on the blocking pool; on error the partial is
    /// removed there and then.
    async fn write(mut self, bytes: Bytes) -> Result<Sink, FileError> {
        run_blocking(move || match self.put(&bytes) {
            Ok(()) => Ok(self),
            Err(e) => {
                self.discard();
                Err(e)
            }
        })
        .await
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), FileError> {
        let up = self
            .upload
            .0
            .as_mut()
            .ok_or_else(|| FileError::io("writing an upload", gone()))?;
        up.write(up.offset(), bytes)?;
        self.blake3.update(bytes);
        if let Some(s) = self.sha256.as_mut() {
            s.update(bytes);
        }
        Ok(())
    }

    /// Removes the partial (blocking).
    fn discard(&mut self) {
        if let Some(up) = self.upload.0.take() {
            if let Err(e) = up.abort() {
                tracing::warn!(error = %e, "could not remove an unfinished web upload");
            }
        }
    }

    /// Removes the partial before answering, so the quota it reserved is
    /// free when the browser sees the error.
    async fn abort(mut self, e: ApiError) -> ApiError {
        let _ = run_blocking(move || {
            self.discard();
            Ok(())
        })
        .await;
        e
    }
}

fn gone() -> std::io::Error {
    std::io::Error::other("the upload was already finished")
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

fn content_length(headers: &HeaderMap) -> Result<u64, ApiError> {
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
    // Path, size, quota, conflict and busy are all checked here, before
    // the first byte of the body is read.
    let req = UploadRequest {
        path,
        size,
        fingerprint: fresh_fingerprint(),
        force: q.replace,
        md5: false,
    };
    let upload = run_blocking(move || store.begin_upload(user, &req))
        .await
        .map_err(file_error)?;
    let sink = Sink {
        upload: Abort(Some(upload)),
        blake3: blake3::Hasher::new(),
        sha256: want_sha.map(|_| Sha256::new()),
    };
    let sink = receive(sink, body, chunk, size).await?;
    finish(sink, want_sha).await
}

/// Reads the body into the sink, `chunk` bytes per write.
async fn receive(mut sink: Sink, body: Body, chunk: usize, size: u64) -> Result<Sink, ApiError> {
    let mut stream = body.into_data_stream();
    let mut pending = BytesMut::new();
    let mut received = 0u64;
    loop {
        let next = match tokio::time::timeout(BODY_IDLE, stream.next()).await {
            Ok(n) => n,
            Err(_) => {
                let e = cut_short(received, size, "the browser went quiet");
                return Err(sink.abort(e).await);
            }
        };
        match next {
            None => break,
            Some(Err(e)) => {
                return Err(sink.abort(cut_short(received, size, &e.to_string())).await);
            }
            Some(Ok(bytes)) => {
                received = received.saturating_add(bytes.len() as u64);
                pending.extend_from_slice(&bytes);
                while pending.len() >= chunk {
                    let c = pending.split_to(chunk).freeze();
                    sink = sink.write(c).await.map_err(file_error)?;
                }
            }
        }
    }
    if !pending.is_empty() {
        sink = sink.write(pending.freeze()).await.map_err(file_error)?;
    }
    if received != size {
        return Err(sink
            .abort(cut_short(received, size, "the body ended early"))
            .await);
    }
    Ok(sink)
}

fn cut_short(received: u64, size: u64, why: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::BadRequest,
        format!("upload cut short after {received} of {size} bytes ({why}); nothing was kept"),
    )
}

/// Verifies and publishes.
async fn finish(mut sink: Sink, want_sha: Option<[u8; 32]>) -> Result<Response, ApiError> {
    if let (Some(want), Some(s)) = (want_sha, sink.sha256.take()) {
        let got: [u8; 32] = s.finalize().into();
        if got != want {
            let e = file_error(FileError::VerifyFailed {
                expected: hex::encode(want),
                actual: hex::encode(got),
            });
            return Err(sink.abort(e).await);
        }
    }
    let ours = sink.blake3.finalize();
    let upload = sink
        .upload
        .0
        .take()
        .ok_or_else(|| file_error(FileError::io("finishing an upload", gone())))?;
    let p = run_blocking(move || upload.finish_with(Some(&ours), None))
        .await
        .map_err(file_error)?;
    tracing::info!(path = %p.path, size = p.size, replaced = p.replaced, door = "web", "file published");
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
