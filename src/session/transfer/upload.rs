//! Uploads: begin (every check that needs no byte), write chunk by chunk
//! at the offset the store holds, finish (verify, publish) or cancel.
//!
//! Verification: the store hashes what it writes (BLAKE3, and MD5 when
//! asked at the start); at the end the sender's hash must match. Frame
//! clients must send a BLAKE3 or an MD5 (`file.put.end`). A browser can
//! compute neither cheaply, so an upload may also be begun with SHA-256,
//! hashed here as the chunks pass, or verified by its declared length
//! alone ([`Expected::default`]): the store then publishes what it hashed.

use bytes::Bytes;
use sha2::Digest;

use super::{FilesState, OpenUpload};
use crate::service::files::{FileError, Published, UploadRequest, run_blocking};
use crate::session::Failure;
use crate::wire::FileReply;

/// What the sender says the whole content hashes to; every hash given
/// must match, or nothing is published and the upload is removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected {
    /// BLAKE3.
    pub blake3: Option<[u8; 32]>,
    /// MD5, for an upload begun with `md5`.
    pub md5: Option<[u8; 16]>,
    /// SHA-256, for an upload begun with `sha256`.
    pub sha256: Option<[u8; 32]>,
}

/// Parses a hex digest of exactly `N` bytes.
fn digest<const N: usize>(what: &str, hex_text: &str) -> Result<[u8; N], Failure> {
    let mut out = [0u8; N];
    hex::decode_to_slice(hex_text, &mut out)
        .map_err(|_| Failure::BadRequest(format!("{what} must be {} hex digits", N * 2)))?;
    Ok(out)
}

impl FilesState {
    /// Starts (or resumes) an upload under a new handle; returns the handle
    /// and the offset the sender continues from. `sha256` hashes the
    /// content here as it arrives, so the end may verify a SHA-256; such an
    /// upload must start at 0 (a resumed prefix was never hashed here).
    pub async fn begin_upload(
        &mut self,
        user: i64,
        req: UploadRequest,
        sha256: bool,
    ) -> Result<(u64, u64), Failure> {
        let handle = self.open_slot()?;
        let store = self.store.clone();
        let md5 = req.md5;
        let upload = run_blocking(move || store.begin_upload(user, &req)).await?;
        let offset = upload.offset();
        if sha256 && offset != 0 {
            run_blocking(move || upload.pause()).await?;
            return Err(Failure::BadRequest(
                "a SHA-256-verified upload cannot resume a partial; upload under a new \
                 fingerprint"
                    .into(),
            ));
        }
        let sha256 = sha256.then(sha2::Sha256::new);
        self.uploads.insert(
            handle,
            OpenUpload {
                user,
                upload,
                md5,
                sha256,
            },
        );
        Ok((handle, offset))
    }

    /// One chunk into an upload at `offset`; returns the new offset. The
    /// upload survives a refused chunk (a wrong offset, too large) so the
    /// client can correct itself; a full disk discards it in the store,
    /// and then the handle goes too.
    pub async fn write(
        &mut self,
        user: i64,
        handle: u64,
        offset: u64,
        body: Bytes,
    ) -> Result<u64, Failure> {
        let mut open = self.take_upload(user, handle)?;
        let (open, result) = run_blocking(move || {
            let r = open.upload.write(offset, &body);
            if let (Ok(_), Some(h)) = (&r, open.sha256.as_mut()) {
                h.update(&body);
            }
            Ok((open, r))
        })
        .await?;
        if !matches!(result, Err(FileError::DiskFull)) {
            self.uploads.insert(handle, open);
        }
        Ok(result?)
    }

    /// Verifies and publishes an upload whose every byte arrived. What can
    /// be refused without touching the upload (a hash it was not begun
    /// for, bytes missing) leaves it open, holding what arrived; a hash
    /// that does not match removes it.
    pub async fn finish_upload(
        &mut self,
        user: i64,
        handle: u64,
        expected: Expected,
    ) -> Result<Published, Failure> {
        let mut open = self.take_upload(user, handle)?;
        let refusal = if expected.md5.is_some() && !open.md5 {
            Some(Failure::BadRequest(
                "md5 given, but the upload was begun without \"md5\":true".into(),
            ))
        } else if expected.sha256.is_some() && open.sha256.is_none() {
            Some(Failure::BadRequest(
                "sha256 given, but the upload was begun without asking for it".into(),
            ))
        } else if open.upload.offset() < open.upload.size() {
            Some(Failure::EarlyEnd {
                handle,
                offset: open.upload.offset(),
                size: open.upload.size(),
            })
        } else {
            None
        };
        if let Some(f) = refusal {
            self.uploads.insert(handle, open);
            return Err(f);
        }
        let sha256 = open.sha256.take().map(|h| <[u8; 32]>::from(h.finalize()));
        let upload = open.upload;
        let p = run_blocking(move || {
            if let (Some(want), Some(got)) = (expected.sha256, sha256) {
                if want != got {
                    upload.abort()?;
                    return Err(FileError::VerifyFailed {
                        expected: hex::encode(want),
                        actual: hex::encode(got),
                    });
                }
            }
            let b3 = expected.blake3.map(blake3::Hash::from_bytes);
            // Neither BLAKE3 nor MD5 from the sender: the length (and a
            // SHA-256, checked above) is all it proves; the store's hash
            // of what it wrote is recorded.
            let own = (b3.is_none() && expected.md5.is_none()).then(|| upload.content_blake3());
            upload.finish_with(b3.as_ref().or(own.as_ref()), expected.md5.as_ref())
        })
        .await?;
        tracing::info!(path = %p.path, size = p.size, replaced = p.replaced, "file published");
        Ok(p)
    }

    /// `file.put.end`: a BLAKE3 or an MD5 is required of a frame client.
    pub(super) async fn put_end(
        &mut self,
        user: i64,
        handle: u64,
        blake3: Option<String>,
        md5: Option<String>,
    ) -> Result<FileReply, Failure> {
        if blake3.is_none() && md5.is_none() {
            return Err(Failure::BadRequest(
                "file.put.end needs blake3 (64 hex digits) or md5 (32 hex digits, \
                 uploads begun with \"md5\":true); nothing was discarded, the upload \
                 is still open"
                    .into(),
            ));
        }
        let expected = Expected {
            blake3: blake3.map(|h| digest::<32>("blake3", &h)).transpose()?,
            md5: md5.map(|h| digest::<16>("md5", &h)).transpose()?,
            sha256: None,
        };
        let p = self.finish_upload(user, handle, expected).await?;
        Ok(FileReply::PutEnd {
            path: p.path.as_str().to_owned(),
            size: p.size,
            blake3: p.hashes.blake3.to_hex().to_string(),
            md5: p.hashes.md5.map(hex::encode),
            replaced: p.replaced,
        })
    }

    /// `file.put.cancel`: by handle (an upload open here) or by path (one
    /// not running anywhere).
    pub(super) async fn cancel(
        &mut self,
        user: i64,
        handle: Option<u64>,
        path: Option<String>,
    ) -> Result<FileReply, Failure> {
        let store = self.store.clone();
        match (handle, path) {
            (Some(h), None) => {
                let open = self.take_upload(user, h)?;
                let path = open.upload.path().to_string();
                let bytes = open.upload.reserved();
                run_blocking(move || open.upload.abort()).await?;
                tracing::info!(%path, "unfinished upload cancelled");
                Ok(FileReply::PutCancel { path, bytes })
            }
            (None, Some(path)) => {
                let p = path.clone();
                let bytes = run_blocking(move || store.cancel_upload(user, &p)).await?;
                tracing::info!(path = %crate::service::files::escape_name(&path), "unfinished upload cancelled");
                Ok(FileReply::PutCancel { path, bytes })
            }
            _ => Err(Failure::BadRequest(
                "file.put.cancel takes either handle (an upload open on this connection) \
                 or path (an unfinished upload), not both or neither"
                    .into(),
            )),
        }
    }

    pub(super) fn take_upload(&mut self, user: i64, handle: u64) -> Result<OpenUpload, Failure> {
        match self.uploads.remove(&handle) {
            Some(open) if open.user == user => Ok(open),
            Some(open) => {
                self.uploads.insert(handle, open);
                Err(Failure::BadHandle(handle))
            }
            None => Err(Failure::BadHandle(handle)),
        }
    }
}
