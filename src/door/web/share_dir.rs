//! A folder share over HTTP (`service::shares::dir`):
//!
//! ```text
//! GET /s/ID/files/N   file N of the snapshot (0-based, the order of
//!                     /s/ID/info's "files"): Range, attachment, verified
//! GET /s/ID/archive   all of it as one tar stream (share_tar.rs), with
//!                     Content-Length and Range, named NAME.tar
//! ```
//! Each file is checked against its snapshot size and BLAKE3 when opened;
//! one that changed or went away ends the share as revoked (410, or, in
//! the middle of an archive, a cut connection: the client sees a short
//! body). Memory per response is one read step, whatever the folder.
//! Every response records the span of file bytes it sent, so the download
//! counts once when one address was sent the whole set (see
//! `shares::dir`).

use std::net::SocketAddr;

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::WebState;
use super::api::ApiError;
use super::share::{lookup, private, share_error, shares};
use super::share_file::{Piece, send};
use crate::service::shares::dir::{join, offsets};
use crate::service::shares::{ShareError, ShareInfo, SharedFile};
use crate::service::unix_now;
use crate::wire::ErrorCode;

/// The snapshot of a folder share (blocking lookup on the pool); 404 for
/// a file share.
pub(super) async fn snapshot(
    state: &WebState,
    share: &ShareInfo,
) -> Result<Vec<SharedFile>, ApiError> {
    if share.files.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "this link is one file, not a folder: fetch /s/ID/file",
        ));
    }
    let (s, share) = (shares(state)?, share.clone());
    match tokio::task::spawn_blocking(move || s.dir_files(&share, unix_now())).await {
        Ok(r) => r.map_err(share_error),
        Err(e) => Err(share_error(ShareError::Internal {
            doing: "reading a folder share",
            source: Box::new(e),
        })),
    }
}

/// `GET /s/ID/files/N`.
pub async fn file(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    p: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let r = async {
        let Path((id, n)) = p.map_err(|_| share_error(ShareError::NotFound))?;
        let share = lookup(&state, &id).await?;
        let files = snapshot(&state, &share).await?;
        let at = offsets(&files);
        let i: usize = n.parse().map_err(|_| no_file(files.len()))?;
        let (Some(f), Some(&base)) = (files.get(i), at.get(i)) else {
            return Err(no_file(files.len()));
        };
        let piece = Piece {
            path: join(&share.path, &f.path),
            size: f.size,
            blake3: f.blake3.clone(),
            base,
        };
        send(&state, peer, &headers, share, piece).await
    }
    .await;
    private(r.unwrap_or_else(IntoResponse::into_response))
}

fn no_file(n: usize) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("no such file in this folder share: N runs from 0 to {n} - 1"),
    )
}

/// `GET /s/ID/archive`.
pub async fn archive(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let r = async {
        let Path(id) = id.map_err(|_| share_error(ShareError::NotFound))?;
        let share = lookup(&state, &id).await?;
        let files = snapshot(&state, &share).await?;
        super::share_archive::stream(&state, peer, &headers, share, files)
    }
    .await;
    private(r.unwrap_or_else(IntoResponse::into_response))
}
