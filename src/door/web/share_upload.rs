//! Upload links over HTTP, for uploaders with no account:
//!
//! ```text
//! GET  /u/ID              the page (web/upload.html + upload.js): drop files
//! GET  /u/ID/info         what the link still takes, as JSON
//! POST /u/ID/files        {name, file_size, blake3} -> {name, offset}: where
//!                         this file lands and how much of it is held
//! PUT  /u/ID/files/NAME   the bytes from X-Sockit-Offset to the end, with
//!                         X-Sockit-Size and X-Sockit-Blake3 of the whole file
//! ```
//! Files land in the link's folder of the owner's store, through the file
//! store's upload (name rules, the owner's quota, the largest file, a
//! partial held for a resume, BLAKE3 checked before the atomic publish).
//! A name already taken (a file, or another upload's partial) is never
//! overwritten: the begin picks `name (1).ext`, `name (2).ext`, ... and
//! says so. A partial is begun with a fingerprint of the link and the
//! content's BLAKE3, so the same content resumes it (from any address: the
//! link is the credential) and other content never touches it.
//!
//! Each request passes the shares gate (`Shares::admit_uploader`): a rate
//! per client address, and a PUT holds one of a few running places per
//! address and of a total. Unfinished uploads are the owner's partials:
//! they hold the owner's quota, count within the store's partials per
//! user, and are swept after the store's partial retention.
//! Statuses: 404 no such link, 403 its owner's account is locked, 410
//! ended (state in the message), 409 the
//! offset or name moved (begin again), 413 no room in the link, 429 the
//! gate, 507 the owner's quota; every answer carries the `/s/` headers.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::WebState;
use super::api::ApiError;
use super::files::upload::{UPLOAD_CHUNK, WebUpload, content_length};
use super::share::{file_name, page_or_error, private, share_error, shares};
use crate::service::files::{
    FileError, FileStore, RelPath, UploadRequest, check_entry_name, run_blocking,
};
use crate::service::shares::{ShareError, ShareInfo, Shares, UploadRecord, upload_fingerprint};
use crate::service::unix_now;
use crate::session::{Expected, Failure, FilesState, Unfinished};
use crate::wire::ErrorCode;

/// Header of a PUT: the offset its body starts at.
pub const OFFSET_HEADER: &str = "x-sockit-offset";
/// Header of a PUT: the whole file's size.
pub const SIZE_HEADER: &str = "x-sockit-size";
/// Header of a PUT: the whole file's BLAKE3 (hex).
pub const BLAKE3_HEADER: &str = "x-sockit-blake3";

/// Names tried for one file: `name`, then `name (1).ext` to `name (99).ext`.
const MAX_RENAMES: u32 = 99;

/// The available upload link behind `id` (blocking lookup on the pool).
async fn lookup(state: &WebState, id: &str) -> Result<(Shares, ShareInfo), ApiError> {
    let shares = shares(state)?;
    let s = shares.clone();
    let id = id.to_owned();
    match tokio::task::spawn_blocking(move || s.open_upload(&id, unix_now())).await {
        Ok(r) => r.map(|info| (shares, info)).map_err(share_error),
        Err(e) => Err(share_error(ShareError::Internal {
            doing: "looking up an upload link",
            source: Box::new(e),
        })),
    }
}

/// The file store uploads land in.
fn store(state: &WebState) -> Result<FileStore, ApiError> {
    state.services.files.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "this server keeps no files",
        )
    })
}

/// Counts a request from `peer` at the gate; a PUT (`run`) holds a place.
async fn admit(
    shares: &Shares,
    peer: SocketAddr,
    run: bool,
) -> Result<Option<crate::service::shares::UploaderPass>, ApiError> {
    let s = shares.clone();
    let ip = super::client_ip(peer);
    let r = tokio::task::spawn_blocking(move || s.admit_uploader(ip, run, unix_now())).await;
    match r {
        Ok(r) => r.map_err(share_error),
        Err(e) => Err(share_error(ShareError::Internal {
            doing: "admitting an uploader",
            source: Box::new(e),
        })),
    }
}

/// A file-store failure as the uploader sees it: the owner's quota and
/// usage are the owner's business, so a full store is one plain line.
fn store_error(f: Failure) -> ApiError {
    match f {
        Failure::Files(FileError::QuotaExceeded { .. }) => ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            ErrorCode::QuotaExceeded,
            "the link's owner has no room left for this file; ask them to free space",
        ),
        Failure::Files(FileError::TooManyPartials { .. }) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many unfinished uploads wait in the link owner's store; finish one or try later",
        ),
        Failure::Files(FileError::Exists { .. }) => {
            conflict("a file of that name is there now; begin again (POST) for a free name")
        }
        Failure::Files(FileError::Busy { .. }) => conflict(
            "this file is being sent by another connection right now; try again in a moment",
        ),
        f => f.into(),
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
}

/// A limit of the link itself: 413 rather than the gate's 429.
fn link_error(e: ShareError) -> ApiError {
    match e {
        ShareError::Limit(m) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, m)
        }
        e => share_error(e),
    }
}

/// A BLAKE3 in hex, lowercased; refused unless 64 hex digits.
fn blake3_hex(s: &str) -> Result<String, ApiError> {
    let s = s.trim().to_ascii_lowercase();
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s)
    } else {
        Err(bad("blake3 must be 64 hex digits"))
    }
}

/// `NAME`, or `NAME (k).EXT` for the k-th try (the extension is what
/// follows the last dot, unless the name starts with it).
fn renamed(name: &str, k: u32) -> String {
    if k == 0 {
        return name.to_owned();
    }
    match name.rfind('.').filter(|&i| i > 0) {
        Some(i) => format!("{} ({k}){}", &name[..i], &name[i..]),
        None => format!("{name} ({k})"),
    }
}

/// Where content `fp` of file `name` lands in `dir`: the first of its
/// names with neither a file nor another upload's partial; with the bytes
/// already held when its own partial is there. Blocking.
fn place(
    store: &FileStore,
    owner: i64,
    dir: &str,
    name: &str,
    fp: &str,
) -> Result<(String, u64), FileError> {
    let partials = store.partials(owner, dir)?;
    for k in 0..=MAX_RENAMES {
        let cand = renamed(name, k);
        let path = format!("{dir}/{cand}");
        if RelPath::parse(&path).is_err() {
            // A suffix made it too long: no later one is shorter.
            break;
        }
        if let Some(p) = partials.iter().find(|p| p.path == path) {
            if !p.resumes(fp) {
                continue;
            }
            match store.stat(owner, &path) {
                Err(FileError::NotFound { .. }) => return Ok((cand, p.held)),
                Ok(_) => {
                    // A file took the name after this partial began (the
                    // publish refused it): the partial can never land here.
                    if let Err(e) = store.cancel_upload(owner, &path) {
                        tracing::warn!(error = %e, "removing an upload whose name was taken");
                    }
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        match store.stat(owner, &path) {
            Err(FileError::NotFound { .. }) => return Ok((cand, 0)),
            Ok(_) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(FileError::Exists {
        path: crate::service::files::escape_name(name).into_owned(),
    })
}

/// `GET /u/ID`: the page, or the error as plain text with its status.
pub async fn page(
    State(state): State<WebState>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = id else {
        return private((StatusCode::NOT_FOUND, "no such share").into_response());
    };
    page_or_error(
        lookup(&state, &id).await.map(drop),
        super::assets::UPLOAD_PAGE,
    )
}

/// `GET /u/ID/info`: the folder's name and what the link still takes.
pub async fn info(
    State(state): State<WebState>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = id else {
        return private((StatusCode::NOT_FOUND, "no such share").into_response());
    };
    let r = async {
        let (_, s) = lookup(&state, &id).await?;
        let max_file = store(&state)?.config().max_file;
        let u = s.upload.ok_or_else(|| share_error(ShareError::NotFound))?;
        Ok::<_, ApiError>(
            Json(json!({
                "kind": "upload",
                "name": file_name(&s.path),
                "expires": s.expires,
                "files_left": u.files_left(),
                "bytes_left": u.bytes_left(),
                "max_file": max_file,
            }))
            .into_response(),
        )
    }
    .await;
    private(r.unwrap_or_else(IntoResponse::into_response))
}

/// The body of `POST /u/ID/files`.
#[derive(Debug, Deserialize)]
pub struct Begin {
    name: String,
    file_size: u64,
    blake3: String,
}

/// `POST /u/ID/files`: where a file lands and where its bytes continue.
pub async fn begin(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<Begin>, JsonRejection>,
) -> Response {
    let r = async {
        let Path(id) = id.map_err(|_| share_error(ShareError::NotFound))?;
        let (shares, share) = lookup(&state, &id).await?;
        admit(&shares, peer, false).await?;
        let Json(b) = body.map_err(|e| bad(e.body_text()))?;
        check_entry_name(&b.name).map_err(|e| {
            bad(format!(
                "{}: {e}",
                crate::service::files::escape_name(&b.name)
            ))
        })?;
        let blake3 = blake3_hex(&b.blake3)?;
        shares.check_room(&share, b.file_size).map_err(link_error)?;
        let store = store(&state)?;
        if b.file_size > store.config().max_file {
            return Err(store_error(Failure::Files(FileError::TooLarge {
                what: "the file",
                size: b.file_size,
                max: store.config().max_file,
            })));
        }
        let fp = upload_fingerprint(share.num, &blake3);
        let (owner, dir) = (share.owner, share.path.clone());
        let (name, offset) = run_blocking(move || place(&store, owner, &dir, &b.name, &fp))
            .await
            .map_err(|e| store_error(Failure::Files(e)))?;
        Ok::<_, ApiError>(Json(json!({"name": name, "offset": offset})).into_response())
    }
    .await;
    private(r.unwrap_or_else(IntoResponse::into_response))
}

/// A header's value as a number.
fn header_u64(headers: &HeaderMap, name: &str) -> Result<u64, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| bad(format!("{name} must be a number of bytes")))
}

/// `PUT /u/ID/files/NAME`: the bytes from the offset to the end; the file
/// is published once they are all there and hash to the BLAKE3 given.
pub async fn put(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    params: Result<Path<(String, String)>, PathRejection>,
    body: Body,
) -> Response {
    let r = async {
        let Path((id, name)) = params.map_err(|_| share_error(ShareError::NotFound))?;
        let (shares, share) = lookup(&state, &id).await?;
        let _pass = admit(&shares, peer, true).await?;
        check_entry_name(&name).map_err(|e| {
            bad(format!(
                "{}: {e}",
                crate::service::files::escape_name(&name)
            ))
        })?;
        let size = header_u64(&headers, SIZE_HEADER)?;
        let offset = header_u64(&headers, OFFSET_HEADER)?;
        let blake3 = blake3_hex(
            headers
                .get(BLAKE3_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default(),
        )?;
        if content_length(&headers)? != size.saturating_sub(offset) || offset > size {
            return Err(bad(format!(
                "Content-Length must be X-Sockit-Size minus X-Sockit-Offset ({size} - {offset})"
            )));
        }
        shares.check_room(&share, size).map_err(link_error)?;
        let store = store(&state)?;
        let path = format!("{}/{name}", share.path);
        let fp = upload_fingerprint(share.num, &blake3);
        // Another upload's partial under this name is never resumed or
        // discarded: the sender begins again and gets another name.
        let (s2, o2, p2, f2) = (store.clone(), share.owner, path.clone(), fp.clone());
        let theirs = run_blocking(move || {
            Ok(s2
                .partials(o2, &p2)?
                .iter()
                .any(|p| p.path == p2 && !p.resumes(&f2)))
        })
        .await
        .map_err(|e| store_error(Failure::Files(e)))?;
        if theirs {
            return Err(conflict(format!(
                "another upload holds {}; begin again (POST) for a free name",
                crate::service::files::escape_name(&name)
            )));
        }
        let chunk = UPLOAD_CHUNK.min(store.config().max_chunk).max(1);
        let mut files = FilesState::ending(store, Unfinished::Resume);
        let req = UploadRequest {
            path: path.clone(),
            size,
            fingerprint: fp,
            force: false,
            md5: false,
        };
        let (handle, held) = files
            .begin_upload(share.owner, req, false)
            .await
            .map_err(store_error)?;
        let mut up = WebUpload {
            files,
            user: share.owner,
            handle,
            resumable: true,
        };
        if held != offset {
            up.files.close().await;
            let mut res = conflict(format!(
                "the server holds {held} bytes of this file; send from there"
            ))
            .into_response();
            with_offset(&mut res, held);
            return Ok(res);
        }
        let r = receive_and_publish(
            &mut up, &shares, &share, body, chunk, offset, size, &path, &blake3, peer,
        )
        .await;
        up.files.close().await;
        r
    }
    .await;
    private(r.unwrap_or_else(IntoResponse::into_response))
}

/// Streams the body in, claims the file's place in the link, publishes.
#[allow(clippy::too_many_arguments)]
async fn receive_and_publish(
    up: &mut WebUpload,
    shares: &Shares,
    share: &ShareInfo,
    body: Body,
    chunk: usize,
    offset: u64,
    size: u64,
    path: &str,
    blake3: &str,
    peer: SocketAddr,
) -> Result<Response, ApiError> {
    up.receive(body, chunk, offset, size).await?;
    let rec = UploadRecord {
        path: path.to_owned(),
        size,
        blake3: blake3.to_owned(),
        addr: super::client_ip(peer).map_or_else(|| "local".to_owned(), |ip| ip.to_string()),
        at: unix_now(),
    };
    let (s, num, r2) = (shares.clone(), share.num, rec.clone());
    let seq = blocking(move || s.claim_upload(num, &r2, unix_now()))
        .await
        .map_err(link_error)?;
    let mut want = [0u8; 32];
    hex::decode_to_slice(blake3, &mut want).map_err(|_| bad("blake3 must be 64 hex digits"))?;
    let expected = Expected {
        blake3: Some(want),
        ..Expected::default()
    };
    match up.files.finish_upload(up.user, up.handle, expected).await {
        Ok(p) => {
            let s = shares.clone();
            if let Err(e) = blocking(move || s.settle_upload(num, unix_now())).await {
                tracing::warn!(error = %e, share = num, "ending a full upload link");
            }
            tracing::info!(
                share = num,
                size = p.size,
                door = "web",
                "file uploaded through a link"
            );
            Ok((
                StatusCode::CREATED,
                Json(json!({
                    "name": file_name(p.path.as_str()),
                    "file_size": p.size,
                    "blake3": p.hashes.blake3.to_hex().to_string(),
                })),
            )
                .into_response())
        }
        Err(f) => {
            let s = shares.clone();
            if let Err(e) = blocking(move || s.release_upload(num, seq)).await {
                tracing::warn!(error = %e, share = num, "releasing an upload's place");
            }
            Err(store_error(f))
        }
    }
}

/// Runs a shares call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::service::shares::ShareResult<T> + Send + 'static,
) -> Result<T, ShareError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(ShareError::Internal {
            doing: "an upload link",
            source: Box::new(e),
        }),
    }
}

/// Adds `offset` to a 409, so a sender knows where to continue.
fn with_offset(res: &mut Response, offset: u64) {
    if let Ok(v) = HeaderValue::from_str(&offset.to_string()) {
        res.headers_mut().insert(OFFSET_HEADER, v);
    }
}

#[cfg(test)]
mod tests {
    use super::renamed;

    #[test]
    fn clashing_names_get_a_number_before_the_extension() {
        assert_eq!(renamed("a.txt", 0), "a.txt");
        assert_eq!(renamed("a.txt", 1), "a (1).txt");
        assert_eq!(renamed("a.tar.gz", 2), "a.tar (2).gz");
        assert_eq!(renamed(".bashrc", 1), ".bashrc (1)");
        assert_eq!(renamed("README", 3), "README (3)");
    }
}
