//! The `file` family on one connection: the uploads and downloads it holds
//! open, each named by a handle, and the store calls behind each request.
//! Frames reach it through [`FilesState::handle`]; the web door's uploads
//! use the same table through [`FilesState::begin_upload`],
//! [`FilesState::write`] and [`FilesState::finish_upload`], so both hold the
//! same limits, verify the same way and fail with the same [`Failure`]s.
//!
//! Every store call runs through `files::run_blocking`, moving the
//! upload or download into the blocking pool and back for each chunk, so
//! file I/O, fsync and hashing never stall the connection's runtime. The
//! limit per connection ([`MAX_OPEN_PER_CONN`]) is here, so every door
//! that carries transfers holds the same. When the transfers end
//! ([`FilesState::close`], or the state is dropped) the open uploads are
//! paused for a resume, or removed where the client cannot resume one
//! ([`Unfinished`]).
//!
//! `upload.rs` holds the upload steps, `download.rs` the download steps,
//! `tree.rs` the requests on names (stat, ls, rm, mkdir, mv).

mod download;
mod tree;
mod upload;

pub use upload::Expected;

use std::collections::HashMap;

use bytes::Bytes;

use super::Failure;
use crate::service::files::{Download, FileStore, Upload, run_blocking};
use crate::wire::{FileReply, FileRequest, Frame};

/// Transfers one connection may hold open at once. A client pipelining a
/// `put -r` needs a few; each holds a descriptor and (uploads) a hasher and
/// a store slot, so a small number bounds what one peer can pin.
pub const MAX_OPEN_PER_CONN: usize = 8;

/// What becomes of the uploads still open when the transfers end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfinished {
    /// Paused: everything received stays, and the next put of the same
    /// file resumes from it (frame clients resume).
    Resume,
    /// Removed with the quota they hold: a browser has no way to ask
    /// where to continue, so a partial would only hold quota.
    Remove,
}

/// An open upload, as this connection knows it.
struct OpenUpload {
    /// Whose it is: a handle never crosses to another login.
    user: i64,
    upload: Upload,
    /// Whether MD5 is computed (so the end may verify with it).
    md5: bool,
    /// SHA-256 of what arrived, when the upload began asking for it (the
    /// store keeps BLAKE3 and MD5; a browser can compute only SHA-256).
    sha256: Option<sha2::Sha256>,
}

/// An open download.
struct OpenDownload {
    user: i64,
    download: Download,
}

/// The transfers of one connection.
pub struct FilesState {
    store: FileStore,
    uploads: HashMap<u64, OpenUpload>,
    downloads: HashMap<u64, OpenDownload>,
    next_handle: u64,
    unfinished: Unfinished,
}

impl FilesState {
    /// No transfers open yet; uploads left open at the end are paused.
    pub fn new(store: FileStore) -> Self {
        Self::ending(store, Unfinished::Resume)
    }

    /// No transfers open yet; uploads left open at the end go as `unfinished` says.
    pub fn ending(store: FileStore, unfinished: Unfinished) -> Self {
        Self {
            store,
            uploads: HashMap::new(),
            downloads: HashMap::new(),
            next_handle: 1,
            unfinished,
        }
    }

    /// The store the transfers go to.
    pub fn store(&self) -> &FileStore {
        &self.store
    }

    /// Answers one request of the family for `user`; `body` is the frame's
    /// body (the chunk of a `file.write`).
    pub async fn handle(
        &mut self,
        user: i64,
        req: FileRequest,
        body: Bytes,
        id: Option<u64>,
    ) -> Frame {
        match self.dispatch(user, req, body).await {
            Ok((reply, body)) => reply.to_frame(id).with_body(body),
            Err(f) => f.to_frame(id),
        }
    }

    /// The transfers end: every open upload is paused (everything received
    /// becomes durable and resumable) or removed, as [`Unfinished`] says,
    /// and the downloads are dropped.
    pub async fn close(&mut self) {
        self.downloads.clear();
        let unfinished = self.unfinished;
        for (_, open) in self.uploads.drain() {
            let path = open.upload.path().to_string();
            let up = open.upload;
            match unfinished {
                Unfinished::Resume => match run_blocking(move || up.pause()).await {
                    Ok(offset) => {
                        tracing::info!(%path, offset, "upload paused; it resumes on the next put")
                    }
                    Err(e) => tracing::warn!(%path, error = %e, "could not pause an upload"),
                },
                Unfinished::Remove => {
                    if let Err(e) = run_blocking(move || up.abort()).await {
                        tracing::warn!(%path, error = %e, "could not remove an unfinished upload");
                    }
                }
            }
        }
    }

    fn open_slot(&mut self) -> Result<u64, Failure> {
        if self.uploads.len() + self.downloads.len() >= MAX_OPEN_PER_CONN {
            return Err(Failure::TooManyTransfers);
        }
        let h = self.next_handle;
        self.next_handle += 1;
        Ok(h)
    }

    async fn dispatch(
        &mut self,
        user: i64,
        req: FileRequest,
        body: Bytes,
    ) -> Result<(FileReply, Bytes), Failure> {
        let reply = match req {
            FileRequest::Put {
                path,
                size,
                fingerprint,
                force,
                md5,
            } => {
                let r = crate::service::files::UploadRequest {
                    path,
                    size,
                    fingerprint,
                    force,
                    md5,
                };
                let (handle, offset) = self.begin_upload(user, r, false).await?;
                FileReply::Put { handle, offset }
            }
            FileRequest::Write { handle, offset } => FileReply::Write {
                handle,
                offset: self.write(user, handle, offset, body).await?,
            },
            FileRequest::PutEnd {
                handle,
                blake3,
                md5,
            } => self.put_end(user, handle, blake3, md5).await?,
            FileRequest::Get { path, offset, md5 } => self.get(user, path, offset, md5).await?,
            FileRequest::Read {
                handle,
                offset,
                len,
            } => return self.read(user, handle, offset, len).await,
            FileRequest::Close { handle } => {
                if let Ok(open) = self.take_upload(user, handle) {
                    run_blocking(move || open.upload.pause()).await?;
                } else if self.downloads.get(&handle).is_some_and(|d| d.user == user) {
                    self.downloads.remove(&handle);
                } else {
                    return Err(Failure::BadHandle(handle));
                }
                FileReply::Close { handle }
            }
            FileRequest::PutCancel { handle, path } => self.cancel(user, handle, path).await?,
            FileRequest::Stat { path } => tree::stat(&self.store, user, path).await?,
            FileRequest::Ls {
                path,
                partial,
                after,
            } => tree::ls(&self.store, user, path, partial, after).await?,
            FileRequest::Rm { path, recursive } => {
                tree::rm(&self.store, user, path, recursive).await?
            }
            FileRequest::Mkdir { path, parents } => {
                tree::mkdir(&self.store, user, path, parents).await?
            }
            FileRequest::Mv { from, to } => tree::mv(&self.store, user, from, to).await?,
        };
        Ok((reply, Bytes::new()))
    }
}

impl Drop for FilesState {
    /// Uploads still open when the state goes without [`FilesState::close`]
    /// (a web request dropped as its browser left): removed ones are
    /// removed on the blocking pool; paused ones keep what reached the
    /// disk, as a dropped store upload does.
    fn drop(&mut self) {
        if self.unfinished == Unfinished::Resume || self.uploads.is_empty() {
            return;
        }
        let uploads: Vec<Upload> = self.uploads.drain().map(|(_, o)| o.upload).collect();
        let abort = move || {
            for up in uploads {
                if let Err(e) = up.abort() {
                    tracing::warn!(error = %e, "could not remove an unfinished upload");
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(abort)),
            Err(_) => abort(),
        }
    }
}

#[cfg(test)]
mod tests;
