//! `GET /s/ID/archive`'s body: a folder share's files as one tar stream
//! (layout in share_tar.rs), produced a step at a time from any offset a
//! `Range` asks for. Each file is opened, and checked against its
//! snapshot, when the stream reaches its content; one that changed ends
//! the share and cuts the stream (the client sees a short body). The file
//! bytes sent are one contiguous run of the counted span (the archive
//! holds the files in snapshot order), recorded when the response ends.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;

use super::WebState;
use super::api::ApiError;
use super::share::{file_name, shares};
use super::share_file::{Piece, STEP, Sent, gone, open, store};
use super::share_range::{range, respond};
use super::share_tar::{TRAILER, header as tar_header, header_len, member_len, padding};
use crate::service::files::{Download, FileError, FileStore, run_blocking};
use crate::service::shares::dir::{join, offsets};
use crate::service::shares::{ShareInfo, SharedFile};
use crate::wire::ErrorCode;

/// The archive's member names: the folder's own name, then the path.
fn member_name(share: &ShareInfo, f: &SharedFile) -> String {
    join(file_name(&share.path), &f.path)
}

/// The archive of `files`, whole or the asked range.
pub(super) fn stream(
    state: &WebState,
    peer: SocketAddr,
    headers: &HeaderMap,
    share: ShareInfo,
    files: Vec<SharedFile>,
) -> Result<Response, ApiError> {
    let total = files
        .iter()
        .map(|f| member_len(&member_name(&share, f), f.size))
        .fold(TRAILER, u64::saturating_add);
    let span = match range(headers, total) {
        Ok(r) => r,
        Err(()) => {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::BadOffset,
                format!("the range lies outside the archive's {total} bytes"),
            ));
        }
    };
    let (start, end) = span.unwrap_or((0, total));
    let who = super::client_ip(peer).map_or_else(|| "local".to_owned(), |ip| ip.to_string());
    let name = format!("{}.tar", file_name(&share.path));
    let tar = Tar {
        store: store(state)?,
        bases: offsets(&files),
        files,
        i: 0,
        member_at: 0,
        pos: start,
        end,
        d: None,
        sent: Sent {
            shares: shares(state)?,
            share,
            who,
            start: 0,
            sent: 0,
            done: false,
        },
    };
    let body = Body::from_stream(futures_util::stream::unfold(Some(tar), next));
    Ok(respond(
        body,
        span.is_some(),
        (start, end, total),
        &name,
        "application/x-tar",
    ))
}

/// An archive being sent: the member under way and where in the archive
/// the next byte is.
struct Tar {
    store: FileStore,
    files: Vec<SharedFile>,
    /// Where each file starts in the counted span.
    bases: Vec<u64>,
    /// The member under way, and the archive offset of its header.
    i: usize,
    member_at: u64,
    /// The next archive byte to send, and the end of what was asked.
    pos: u64,
    end: u64,
    /// Member `i`'s content, once opened (and verified).
    d: Option<Download>,
    /// The file bytes sent, for counting.
    sent: Sent,
}

async fn next(t: Option<Tar>) -> Option<(Result<Bytes, FileError>, Option<Tar>)> {
    let mut t = t?;
    if t.pos >= t.end {
        let _ = tokio::task::spawn_blocking(move || t.sent.record()).await;
        return None;
    }
    match step(t).await {
        Ok((b, t)) => Some((Ok(b), Some(t))),
        Err(e) => {
            tracing::warn!(error = %e, door = "web", "share archive cut short");
            Some((Err(e), None))
        }
    }
}

/// Produces the bytes at `t.pos` (at most one read step).
async fn step(mut t: Tar) -> Result<(Bytes, Tar), FileError> {
    loop {
        let Some(f) = t.files.get(t.i) else {
            // The trailer: zeros to the end asked for.
            let n = want(t.end - t.pos);
            t.pos += n as u64;
            return Ok((Bytes::from(vec![0u8; n]), t));
        };
        let name = member_name(&t.sent.share, f);
        let (hlen, size) = (header_len(&name, f.size), f.size);
        let rel = t.pos - t.member_at;
        if rel < hlen {
            let h = tar_header(&name, size, t.sent.share.created);
            let upto = usize::try_from((t.end - t.member_at).min(hlen)).unwrap_or(usize::MAX);
            let from = usize::try_from(rel).unwrap_or(usize::MAX);
            let b = Bytes::from(h.get(from..upto).unwrap_or_default().to_vec());
            t.pos += b.len() as u64;
            return Ok((b, t));
        }
        if rel < hlen + size {
            return content(t, rel - hlen).await;
        }
        let pad = padding(size);
        if rel < hlen + size + pad {
            let n = want((hlen + size + pad - rel).min(t.end - t.pos));
            t.pos += n as u64;
            return Ok((Bytes::from(vec![0u8; n]), t));
        }
        // On to the next member.
        t.d = None;
        t.member_at += hlen + size + pad;
        t.i += 1;
    }
}

/// At most one step's bytes of `left`.
fn want(left: u64) -> usize {
    usize::try_from(left).map_or(STEP, |l| l.min(STEP))
}

/// Content of member `t.i` from `offset` in it.
async fn content(mut t: Tar, offset: u64) -> Result<(Bytes, Tar), FileError> {
    let f = t.files.get(t.i).cloned().ok_or_else(changed)?;
    let base = t.bases.get(t.i).copied().unwrap_or(0);
    if t.d.is_none() {
        let piece = Piece {
            path: join(&t.sent.share.path, &f.path),
            size: f.size,
            blake3: f.blake3.clone(),
            base,
        };
        match open(&t.store, t.sent.share.owner, &piece, offset).await? {
            Some(d) => t.d = Some(d),
            None => {
                let _ = gone(&t.sent.shares, &t.sent.share).await;
                return Err(changed());
            }
        }
        if t.sent.sent == 0 {
            t.sent.start = base + offset;
        }
    }
    let n = want((f.size - offset).min(t.end - t.pos));
    let read = run_blocking(move || {
        let mut buf = vec![0u8; n];
        let got = match t.d.as_mut() {
            Some(d) => d.read_chunk(&mut buf)?,
            None => 0,
        };
        buf.truncate(got);
        Ok((t, buf))
    })
    .await;
    let (mut t, buf) = read?;
    if buf.is_empty() {
        return Err(changed());
    }
    t.pos += buf.len() as u64;
    t.sent.sent += buf.len() as u64;
    Ok((Bytes::from(buf), t))
}

/// Why an archive stops part-way: a file no longer matches its snapshot.
fn changed() -> FileError {
    FileError::Internal {
        doing: "sending a shared folder",
        source: std::io::Error::other("a file changed or went away since it was shared"),
    }
}
