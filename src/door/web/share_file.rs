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
use crate::service::files::{Download, FileError, FileStore, run_blocking};
use crate::service::shares::{ShareError, ShareInfo, ShareState, Shares};
use crate::service::unix_now;
use crate::wire::ErrorCode;

/// Bytes read per step: as the files route (see `files::DOWNLOAD_CHUNK`).
const STEP: usize = 256 * 1024;

/// A `Range: bytes=...` header read against `size`: `Ok(None)` for no
/// header or one we serve whole (several ranges, another unit: RFC 9110
/// allows ignoring it), `Err` for a range that lies outside the file.
fn range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(v) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        // The last N bytes.
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            size
        } else {
            let last: u64 = b.parse().map_err(|_| ())?;
            if last < start {
                return Err(());
            }
            last.saturating_add(1).min(size)
        };
        (start, end)
    };
    if start >= size {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// What a response has sent, recorded against the share when it ends.
struct Sent {
    shares: Shares,
    share: ShareInfo,
    who: String,
    start: u64,
    sent: u64,
    done: bool,
}

impl Sent {
    /// Records the span sent; blocking (SQLite when it completes a download).
    fn record(&mut self) {
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

/// One open response body: the file and how far it may read.
struct Open {
    d: Download,
    end: u64,
    sent: Sent,
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
    let shares = shares(state)?;
    let store: FileStore = state.services.files.clone().ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no file store")
    })?;
    let span = match range(headers, share.size) {
        Ok(r) => r,
        Err(()) => {
            let mut res = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::BadOffset,
                format!("the range lies outside the file's {} bytes", share.size),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", share.size)) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(res);
        }
    };
    let (start, end) = span.unwrap_or((0, share.size));
    let (owner, path, want) = (share.owner, share.path.clone(), share.clone());
    let opened = run_blocking(move || {
        let mut d = store.download(owner, &path, start)?;
        let h = d.hashes(false)?;
        let same = d.size() == want.size && h.blake3.to_hex().as_str() == want.blake3;
        Ok((d, same))
    })
    .await;
    let d = match opened {
        Ok((d, true)) => d,
        Ok((_, false)) | Err(FileError::NotFound { .. } | FileError::WrongKind { .. }) => {
            let (s, num) = (shares.clone(), share.num);
            let _ = tokio::task::spawn_blocking(move || s.file_gone(num, unix_now())).await;
            return Err(share_error(ShareError::Ended(ShareState::Revoked)));
        }
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
            start,
            sent: 0,
            done: false,
        },
    };
    let mut res = Body::from_stream(futures_util::stream::unfold(Some(body), next)).into_response();
    if span.is_some() {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    let h = res.headers_mut();
    let mut set = |name, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_LENGTH, (end - start).to_string());
    if span.is_some() {
        set(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{}", end.saturating_sub(1), share.size),
        );
    }
    set(header::ACCEPT_RANGES, "bytes".into());
    set(
        header::CONTENT_DISPOSITION,
        super::files::content_disposition(file_name(&share.path)),
    );
    set(
        header::HeaderName::from_static(super::files::BLAKE3_HEADER),
        share.blake3.clone(),
    );
    set(header::CONTENT_TYPE, "application/octet-stream".into());
    set(
        header::CONTENT_SECURITY_POLICY,
        "sandbox; default-src 'none'".into(),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        range(&h, size)
    }

    #[test]
    fn ranges_people_send() {
        assert_eq!(range(&HeaderMap::new(), 10), Ok(None));
        assert_eq!(r("bytes=0-", 10), Ok(Some((0, 10))));
        assert_eq!(r("bytes=4-", 10), Ok(Some((4, 10))));
        assert_eq!(r("bytes=2-5", 10), Ok(Some((2, 6))));
        assert_eq!(r("bytes=9-9", 10), Ok(Some((9, 10))));
        assert_eq!(r("bytes=5-100", 10), Ok(Some((5, 10))));
        assert_eq!(r("bytes=-3", 10), Ok(Some((7, 10))));
        assert_eq!(r("bytes=0-1,4-5", 10), Ok(None));
        assert_eq!(r("items=0-1", 10), Ok(None));
        assert_eq!(r("bytes=10-", 10), Err(()));
        assert_eq!(r("bytes=5-2", 10), Err(()));
        assert_eq!(r("bytes=-0", 10), Err(()));
        assert_eq!(r("bytes=x-", 10), Err(()));
    }
}
