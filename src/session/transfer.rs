//! The `file` family on one connection: the uploads and downloads it holds
//! open, each named by a handle, and the store calls behind each request.
//!
//! Every store call runs through `files::run_blocking`, moving the
//! [`Upload`] or [`Download`] into the blocking pool and back for each
//! chunk, so file I/O, fsync and hashing never stall the connection's
//! runtime. The limits per connection ([`MAX_OPEN_PER_CONN`]) are here, so
//! every door that carries the `file` family holds the same. When the connection ends, [`FilesState::close`] pauses every
//! open upload (fsync), so the next `file.put` of the same file resumes
//! from everything this connection delivered.

use std::collections::HashMap;

use bytes::Bytes;

use super::Failure;
use crate::service::files::{
    Download, Entry, EntryKind as StoreKind, FileError, FileStore, PartialInfo, Upload,
    UploadRequest, run_blocking,
};
use crate::wire::{EntryInfo, EntryKind, FileReply, FileRequest, Frame};

/// Transfers one connection may hold open at once. A client pipelining a
/// `put -r` needs a few; each holds a descriptor and (uploads) a hasher and
/// a store slot, so a small number bounds what one peer can pin.
pub const MAX_OPEN_PER_CONN: usize = 8;

/// An open upload, as this connection knows it.
struct OpenUpload {
    /// Whose it is: a handle never crosses to another login.
    user: i64,
    upload: Upload,
    /// Whether MD5 is computed (so `file.put.end` may verify with it).
    md5: bool,
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
}

/// Parses a hex digest of exactly `N` bytes.
fn digest<const N: usize>(what: &str, hex_text: &str) -> Result<[u8; N], Failure> {
    let mut out = [0u8; N];
    hex::decode_to_slice(hex_text, &mut out)
        .map_err(|_| Failure::BadRequest(format!("{what} must be {} hex digits", N * 2)))?;
    Ok(out)
}

fn info(e: Entry, name: String) -> EntryInfo {
    EntryInfo {
        name,
        kind: match e.kind {
            StoreKind::File => EntryKind::File,
            StoreKind::Dir => EntryKind::Dir,
        },
        size: e.size,
        mtime: e.mtime,
        blake3: e.blake3.map(|h| h.to_hex().to_string()),
        offset: None,
        running: None,
    }
}

fn partial_info(p: PartialInfo) -> EntryInfo {
    EntryInfo {
        name: p.path,
        kind: EntryKind::Partial,
        size: p.size,
        mtime: p.mtime,
        blake3: None,
        offset: Some(p.held),
        running: Some(p.running),
    }
}

impl FilesState {
    /// No transfers open yet.
    pub fn new(store: FileStore) -> Self {
        Self {
            store,
            uploads: HashMap::new(),
            downloads: HashMap::new(),
            next_handle: 1,
        }
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

    /// Pauses every open upload (everything received becomes durable and
    /// resumable) and drops the downloads: the connection is ending.
    pub async fn close(&mut self) {
        self.downloads.clear();
        for (_, open) in self.uploads.drain() {
            let path = open.upload.path().to_string();
            match run_blocking(move || open.upload.pause()).await {
                Ok(offset) => {
                    tracing::info!(%path, offset, "upload paused; it resumes on the next put")
                }
                Err(e) => tracing::warn!(%path, error = %e, "could not pause an upload"),
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
        let store = self.store.clone();
        let reply = match req {
            FileRequest::Put {
                path,
                size,
                fingerprint,
                force,
                md5,
            } => {
                let handle = self.open_slot()?;
                let r = UploadRequest {
                    path,
                    size,
                    fingerprint,
                    force,
                    md5,
                };
                let upload = run_blocking(move || store.begin_upload(user, &r)).await?;
                let offset = upload.offset();
                self.uploads
                    .insert(handle, OpenUpload { user, upload, md5 });
                FileReply::Put { handle, offset }
            }
            FileRequest::Write { handle, offset } => self.write(user, handle, offset, body).await?,
            FileRequest::PutEnd {
                handle,
                blake3,
                md5,
            } => {
                // Everything that can be refused is refused before the
                // upload is touched: it stays open, holding what arrived.
                if blake3.is_none() && md5.is_none() {
                    return Err(Failure::BadRequest(
                        "file.put.end needs blake3 (64 hex digits) or md5 (32 hex digits, \
                         uploads begun with \"md5\":true); nothing was discarded, the upload \
                         is still open"
                            .into(),
                    ));
                }
                let b3 = blake3.map(|h| digest::<32>("blake3", &h)).transpose()?;
                let m5 = md5.map(|h| digest::<16>("md5", &h)).transpose()?;
                let open = self.take_upload(user, handle)?;
                if m5.is_some() && !open.md5 {
                    self.uploads.insert(handle, open);
                    return Err(Failure::BadRequest(
                        "md5 given, but the upload was begun without \"md5\":true".into(),
                    ));
                }
                if open.upload.offset() < open.upload.size() {
                    let (offset, size) = (open.upload.offset(), open.upload.size());
                    self.uploads.insert(handle, open);
                    return Err(Failure::EarlyEnd {
                        handle,
                        offset,
                        size,
                    });
                }
                let upload = open.upload;
                let p = run_blocking(move || {
                    upload.finish_with(b3.map(blake3::Hash::from_bytes).as_ref(), m5.as_ref())
                })
                .await?;
                tracing::info!(path = %p.path, size = p.size, replaced = p.replaced, "file published");
                FileReply::PutEnd {
                    path: p.path.as_str().to_owned(),
                    size: p.size,
                    blake3: p.hashes.blake3.to_hex().to_string(),
                    md5: p.hashes.md5.map(hex::encode),
                    replaced: p.replaced,
                }
            }
            FileRequest::Get { path, offset, md5 } => {
                let handle = self.open_slot()?;
                let p = path.clone();
                let (download, hashes) = run_blocking(move || {
                    let mut d = store.download(user, &p, offset)?;
                    let h = d.hashes(md5)?;
                    Ok((d, h))
                })
                .await?;
                let reply = FileReply::Get {
                    handle,
                    path,
                    size: download.size(),
                    offset,
                    mtime: download.mtime(),
                    blake3: hashes.blake3.to_hex().to_string(),
                    md5: hashes.md5.filter(|_| md5).map(hex::encode),
                };
                self.downloads
                    .insert(handle, OpenDownload { user, download });
                reply
            }
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
            FileRequest::Stat { path } => {
                let p = path.clone();
                let e = run_blocking(move || store.stat(user, &p)).await?;
                FileReply::Stat(info(e, path))
            }
            FileRequest::Ls {
                path,
                partial: true,
                ..
            } => {
                let p = path.clone();
                let list = run_blocking(move || store.partials(user, &p)).await?;
                FileReply::Ls {
                    path,
                    entries: list.into_iter().map(partial_info).collect(),
                    truncated: false,
                    skipped: 0,
                    next: None,
                    partial: true,
                }
            }
            FileRequest::Ls { path, after, .. } => {
                let p = path.clone();
                let l = run_blocking(move || store.list_page(user, &p, after.as_deref())).await?;
                FileReply::Ls {
                    path,
                    entries: l
                        .entries
                        .into_iter()
                        .map(|e| {
                            let name = e.name.clone();
                            info(e, name)
                        })
                        .collect(),
                    truncated: l.truncated,
                    skipped: l.skipped,
                    next: l.next,
                    partial: false,
                }
            }
            FileRequest::PutCancel { handle, path } => self.cancel(user, handle, path).await?,
            FileRequest::Rm { path, recursive } => {
                let p = path.clone();
                let r = run_blocking(move || store.remove(user, &p, recursive)).await?;
                tracing::info!(path = %crate::service::files::escape_name(&path), files = r.files, dirs = r.dirs, "removed");
                FileReply::Rm {
                    path,
                    files: r.files,
                    dirs: r.dirs,
                    bytes: r.bytes,
                }
            }
            FileRequest::Mkdir { path, parents } => {
                let p = path.clone();
                let dirs = run_blocking(move || store.mkdir(user, &p, parents)).await?;
                tracing::info!(path = %crate::service::files::escape_name(&path), dirs, "directory created");
                FileReply::Mkdir { path, dirs }
            }
            FileRequest::Mv { from, to } => {
                let (f, t) = (from.clone(), to.clone());
                let moved = run_blocking(move || store.rename(user, &f, &t)).await?;
                tracing::info!(from = %crate::service::files::escape_name(&from), to = %crate::service::files::escape_name(&to), "moved");
                let kind = match moved.kind {
                    StoreKind::File => EntryKind::File,
                    StoreKind::Dir => EntryKind::Dir,
                };
                FileReply::Mv { from, to, kind }
            }
        };
        Ok((reply, Bytes::new()))
    }

    /// `file.put.cancel`: by handle (an upload open here) or by path (one
    /// not running anywhere).
    async fn cancel(
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

    fn take_upload(&mut self, user: i64, handle: u64) -> Result<OpenUpload, Failure> {
        match self.uploads.remove(&handle) {
            Some(open) if open.user == user => Ok(open),
            Some(open) => {
                self.uploads.insert(handle, open);
                Err(Failure::BadHandle(handle))
            }
            None => Err(Failure::BadHandle(handle)),
        }
    }

    /// One chunk into an upload. The upload survives a refused chunk (a
    /// wrong offset, too large) so the client can correct itself; a full
    /// disk discards it in the store, and then the handle goes too.
    async fn write(
        &mut self,
        user: i64,
        handle: u64,
        offset: u64,
        body: Bytes,
    ) -> Result<FileReply, Failure> {
        let mut open = self.take_upload(user, handle)?;
        let (open, result) = run_blocking(move || {
            let r = open.upload.write(offset, &body);
            Ok((open, r))
        })
        .await?;
        let keep = !matches!(result, Err(FileError::DiskFull));
        if keep {
            self.uploads.insert(handle, open);
        }
        Ok(FileReply::Write {
            handle,
            offset: result?,
        })
    }

    /// The next chunk of a download, in the reply's body. A download read
    /// to its end closes itself.
    async fn read(
        &mut self,
        user: i64,
        handle: u64,
        offset: u64,
        len: u64,
    ) -> Result<(FileReply, Bytes), Failure> {
        let max = self.store.config().max_chunk;
        let len = match usize::try_from(len) {
            Ok(n) if n <= max => n,
            _ => {
                return Err(Failure::Files(FileError::TooLarge {
                    what: "the read",
                    size: len,
                    max: max as u64,
                }));
            }
        };
        let mut open = match self.downloads.remove(&handle) {
            Some(d) if d.user == user => d,
            Some(d) => {
                self.downloads.insert(handle, d);
                return Err(Failure::BadHandle(handle));
            }
            None => return Err(Failure::BadHandle(handle)),
        };
        if offset != open.download.offset() {
            let expected = open.download.offset();
            self.downloads.insert(handle, open);
            return Err(Failure::Files(FileError::BadOffset {
                expected,
                got: offset,
            }));
        }
        // Never more than what is left: a request for 8 MiB of a 10-byte
        // file allocates 10 bytes.
        let want = len.min(usize::try_from(open.download.remaining()).unwrap_or(len));
        let (open, chunk) = run_blocking(move || {
            let mut buf = vec![0u8; want];
            let n = open.download.read_chunk(&mut buf)?;
            buf.truncate(n);
            Ok((open, buf))
        })
        .await?;
        let eof = open.download.remaining() == 0;
        if !eof {
            self.downloads.insert(handle, open);
        }
        Ok((
            FileReply::Read {
                handle,
                offset,
                eof,
            },
            Bytes::from(chunk),
        ))
    }
}
