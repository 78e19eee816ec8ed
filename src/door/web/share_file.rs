//! `GET /s/ID/file`: a share's content for anyone holding the link,
//! streamed from the owner's file a step at a time, with `Range` for
//! resuming. A download counts once, when the bytes sent to one client
//! address cover the whole file (`service::shares` coverage): each
//! response records the span it actually sent when it ends, whether it
//! finished or the peer went away, so a resume completes the count and a
//! 1-byte range never burns a download.
//!
//! A share references the owner's file: if its size or BLAKE3 no longer
//! match what was shared (the owner replaced or removed it, or the account
//! was deleted), the share ends as revoked and the answer is 410.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::WebState;
use super::api::ApiError;
use super::share::{file_name, lookup, private, share_error, shares};
use super::share_range::{range, respond};
use crate::service::files::{Download, FileError, FileStore, run_blocking};
use crate::service::shares::{ShareError, ShareInfo, ShareState, Shares};
use crate::service::unix_now;
use crate::wire::ErrorCode;

/// Bytes read per step: as the files route (see `files::DOWNLOAD_CHUNK`).
pub(super) const STEP: usize = 256 * 1024;

/// What a response has sent, recorded against the share when it ends:
/// `[start, start + sent)` of the span the download is counted over (the
/// file's bytes, or a folder's files end to end, see `shares::dir`).
pub(super) struct Sent {
    pub(super) shares: Shares,
    pub(super) share: ShareInfo,
    pub(super) who: String,
    pub(super) start: u64,
    pub(super) sent: u64,
    pub(super) done: bool,
}

impl Sent {
    /// Records the span sent; blocking (SQLite when it completes a download).
    pub(super) fn record(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let end = self.start + self.sent;
        match self
            .shares
            .served(&self.share, &self.who, self.start, end, unix_now())
        {
            Ok(true) => tracing::info!(share = self.share.num, door = "web", "share downloaded"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "counting a share download"),
        }
    }
}

impl Drop for Sent {
    fn drop(&mut self) {
        // A response dropped part-way (the peer left): record what went out.
        if !self.done && self.sent > 0 {
            let mut me = Sent {
                shares: self.shares.clone(),
                share: self.share.clone(),
                who: std::mem::take(&mut self.who),
                start: self.start,
                sent: self.sent,
                done: false,
            };
            self.done = true;
            match tokio::runtime::Handle::try_current() {
                Ok(h) => drop(h.spawn_blocking(move || me.record())),
                Err(_) => me.record(),
            }
        }
    }
}

/// One open response body: the file, how far it may read, and where its
/// bytes lie in the counted span (`base`: 0 for a file share).
struct Open {
    d: Download,
    end: u64,
    sent: Sent,
}

/// One file a share hands out: where it is in the owner's store and what
/// it must still be (the size and BLAKE3 it was shared with).
pub(super) struct Piece {
    /// The path in the owner's store.
    pub(super) path: String,
    /// Its size when shared.
    pub(super) size: u64,
    /// Its BLAKE3 when shared (hex).
    pub(super) blake3: String,
    /// Where its first byte lies in the counted span.
    pub(super) base: u64,
}

async fn next(b: Option<Open>) -> Option<(Result<Bytes, FileError>, Option<Open>)> {
    let mut b = b?;
    let left = b.end.saturating_sub(b.d.offset());
    if left == 0 {
        // Every byte was handed to the connection: the span is complete.
        let _ = tokio::task::spawn_blocking(move || {
            b.sent.record();
        })
        .await;
        return None;
    }
    let want = usize::try_from(left).map_or(STEP, |l| l.min(STEP));
    let step = run_blocking(move || {
        let mut buf = vec![0u8; want];
        let n = b.d.read_chunk(&mut buf)?;
        buf.truncate(n);
        Ok((b, buf))
    })
    .await;
    match step {
        Ok((mut b, buf)) => {
            b.sent.sent += buf.len() as u64;
            Some((Ok(Bytes::from(buf)), Some(b)))
        }
        Err(e) => {
            tracing::warn!(error = %e, door = "web", "share download cut short");
            Some((Err(e), None))
        }
    }
}

/// Opens `piece` at `offset`, checked against what was shared: `None`
/// when it changed or went away (the share must end).
pub(super) async fn open(
    store: &FileStore,
    owner: i64,
    piece: &Piece,
    offset: u64,
) -> Result<Option<Download>, FileError> {
    let (store, path, size, b3) = (
        store.clone(),
        piece.path.clone(),
        piece.size,
        piece.blake3.clone(),
    );
    let opened = run_blocking(move || {
        let mut d = store.download(owner, &path, offset)?;
        let h = d.hashes(false)?;
        let same = d.size() == size && h.blake3.to_hex().as_str() == b3;
        Ok((d, same))
    })
    .await;
    match opened {
        Ok((d, true)) => Ok(Some(d)),
        Ok((_, false)) | Err(FileError::NotFound { .. } | FileError::WrongKind { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `GET /s/ID/file`.
pub async fn file(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    match serve(&state, peer, &headers, id).await {
        Ok(r) => private(r),
        Err(e) => private(e.into_response()),
    }
}

async fn serve(
    state: &WebState,
    peer: SocketAddr,
    headers: &HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id.map_err(|_| share_error(ShareError::NotFound))?;
    let share = lookup(state, &id).await?;
    if share.files.is_some() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "this link is a folder: fetch /s/ID/archive (all of it) or /s/ID/files/N (one file)",
        ));
    }
    let piece = Piece {
        path: share.path.clone(),
        size: share.size,
        blake3: share.blake3.clone(),
        base: 0,
    };
    send(state, peer, headers, share, piece).await
}

/// The file store, or 404 on a server without one.
pub(super) fn store(state: &WebState) -> Result<FileStore, ApiError> {
    state
        .services
        .files
        .clone()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no file store"))
}

/// Ends `share` as revoked (a file of it changed or went away); the 410.
pub(super) async fn gone(shares: &Shares, share: &ShareInfo) -> ApiError {
    let (s, num) = (shares.clone(), share.num);
    let _ = tokio::task::spawn_blocking(move || s.file_gone(num, unix_now())).await;
    share_error(ShareError::Ended(ShareState::Revoked))
}

/// Sends `piece` of `share` (whole or the asked `Range`), verified first.
pub(super) async fn send(
    state: &WebState,
    peer: SocketAddr,
    headers: &HeaderMap,
    share: ShareInfo,
    piece: Piece,
) -> Result<Response, ApiError> {
    let shares = shares(state)?;
    let store = store(state)?;
    let span = match range(headers, piece.size) {
        Ok(r) => r,
        Err(()) => {
            let mut res = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::BadOffset,
                format!("the range lies outside the file's {} bytes", piece.size),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", piece.size)) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(res);
        }
    };
    let (start, end) = span.unwrap_or((0, piece.size));
    let d = match open(&store, share.owner, &piece, start).await {
        Ok(Some(d)) => d,
        Ok(None) => return Err(gone(&shares, &share).await),
        Err(e) => return Err(super::files::file_error(e)),
    };
    let who = super::client_ip(peer).map_or_else(|| "local".to_owned(), |ip| ip.to_string());
    let body = Open {
        d,
        end,
        sent: Sent {
            shares,
            share: share.clone(),
            who,
            start: piece.base + start,
            sent: 0,
            done: false,
        },
    };
    let body = Body::from_stream(futures_util::stream::unfold(Some(body), next));
    let mut res = respond(
        body,
        span.is_some(),
        (start, end, piece.size),
        file_name(&piece.path),
        "application/octet-stream",
    );
    if let Ok(v) = HeaderValue::from_str(&piece.blake3) {
        res.headers_mut().insert(
            header::HeaderName::from_static(super::files::BLAKE3_HEADER),
            v,
        );
    }
    Ok(res)
}
