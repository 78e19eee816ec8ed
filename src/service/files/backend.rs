//! The file store as doors see it: one of two backends behind the same
//! methods. [`DiskStore`] keeps files under the data directory (one node);
//! [`PgStore`] keeps index and content in PostgreSQL (every node of a
//! cluster). Both follow the same rules and return the same errors, so a
//! door, the session and the CLI never know which one they talk to.
//!
//! Every method blocks; call them through [`run_blocking`](super::run_blocking).

use std::path::Path;

use super::config::FilesConfig;
use super::download::DiskDownload;
use super::error::FileResult;
use super::index::Hashes;
use super::organize::Moved;
use super::paths::RelPath;
use super::pg::{PgDownload, PgStore, PgUpload};
use super::publish::Published;
use super::purge::Purged;
use super::quota::Usage;
use super::store::DiskStore;
use super::sweep::SweepReport;
use super::tree::{Entry, Listing, Removed};
use super::unfinished::PartialInfo;
use super::upload::{DiskUpload, UploadRequest};
use crate::store::pg::PgTarget;

/// The per-user file store, on disk or on PostgreSQL. Cheap to clone.
#[derive(Debug, Clone)]
pub enum FileStore {
    /// Files under `DATA/files` (see the module docs of `service::files`).
    Disk(DiskStore),
    /// Index and content in a PostgreSQL shared by the cluster.
    Pg(PgStore),
}

/// An upload in progress (see [`DiskUpload`] and [`PgUpload`]).
#[derive(Debug)]
pub enum Upload {
    /// On disk.
    Disk(Box<DiskUpload>),
    /// On PostgreSQL.
    Pg(Box<PgUpload>),
}

/// An open published file (see [`DiskDownload`] and [`PgDownload`]).
#[derive(Debug)]
pub enum Download {
    /// On disk.
    Disk(Box<DiskDownload>),
    /// On PostgreSQL.
    Pg(Box<PgDownload>),
}

/// Calls `$m` on whichever backend `$s` is.
macro_rules! either {
    ($s:expr, $v:ident => $e:expr) => {
        match $s {
            FileStore::Disk($v) => $e,
            FileStore::Pg($v) => $e,
        }
    };
}

macro_rules! each {
    ($t:ident, $s:expr, $v:ident => $e:expr) => {
        match $s {
            $t::Disk($v) => $e,
            $t::Pg($v) => $e,
        }
    };
}

impl FileStore {
    /// Opens (creating) the disk store in `DATA/files`; see
    /// [`DiskStore::open`].
    pub fn open(data_dir: &Path, config: FilesConfig) -> FileResult<(FileStore, SweepReport)> {
        DiskStore::open(data_dir, config).map(|(s, r)| (FileStore::Disk(s), r))
    }

    /// Opens the PostgreSQL store; see [`PgStore::open`].
    pub fn open_pg(cfg: PgTarget, config: FilesConfig) -> FileResult<(FileStore, SweepReport)> {
        PgStore::open(cfg, config).map(|(s, r)| (FileStore::Pg(s), r))
    }

    /// The configuration in force.
    pub fn config(&self) -> &FilesConfig {
        either!(self, s => s.config())
    }

    /// Starts or resumes an upload.
    pub fn begin_upload(&self, user: i64, req: &UploadRequest) -> FileResult<Upload> {
        match self {
            FileStore::Disk(s) => s.begin_upload(user, req).map(|u| Upload::Disk(Box::new(u))),
            FileStore::Pg(s) => s.begin_upload(user, req).map(|u| Upload::Pg(Box::new(u))),
        }
    }

    /// Opens a published file for reading from `offset`.
    pub fn download(&self, user: i64, path: &str, offset: u64) -> FileResult<Download> {
        match self {
            FileStore::Disk(s) => s
                .download(user, path, offset)
                .map(|d| Download::Disk(Box::new(d))),
            FileStore::Pg(s) => s
                .download(user, path, offset)
                .map(|d| Download::Pg(Box::new(d))),
        }
    }

    /// Lists a directory (the first page); `""` is the user's root.
    pub fn list(&self, user: i64, dir: &str) -> FileResult<Listing> {
        self.list_page(user, dir, None)
    }

    /// One page of a directory: names after `after`, sorted by bytes.
    pub fn list_page(&self, user: i64, dir: &str, after: Option<&str>) -> FileResult<Listing> {
        either!(self, s => s.list_page(user, dir, after))
    }

    /// Describes one path; `""` is the user's root.
    pub fn stat(&self, user: i64, path: &str) -> FileResult<Entry> {
        either!(self, s => s.stat(user, path))
    }

    /// Removes a file or a directory (non-empty only with `recursive`).
    pub fn remove(&self, user: i64, path: &str, recursive: bool) -> FileResult<Removed> {
        either!(self, s => s.remove(user, path, recursive))
    }

    /// Creates the directory `path` (see [`DiskStore::mkdir`]).
    pub fn mkdir(&self, user: i64, path: &str, parents: bool) -> FileResult<u64> {
        either!(self, s => s.mkdir(user, path, parents))
    }

    /// Moves or renames `from` to `to` (see [`DiskStore::rename`]).
    pub fn rename(&self, user: i64, from: &str, to: &str) -> FileResult<Moved> {
        either!(self, s => s.rename(user, from, to))
    }

    /// The user's unfinished uploads under `under`.
    pub fn partials(&self, user: i64, under: &str) -> FileResult<Vec<PartialInfo>> {
        either!(self, s => s.partials(user, under))
    }

    /// Cancels the unfinished upload of `path`; returns the bytes freed.
    pub fn cancel_upload(&self, user: i64, path: &str) -> FileResult<u64> {
        either!(self, s => s.cancel_upload(user, path))
    }

    /// A user's usage against their quota.
    pub fn usage(&self, user: i64) -> FileResult<Usage> {
        either!(self, s => s.usage(user))
    }

    /// Deletes everything `user` stores.
    pub fn purge_user(&self, user: i64) -> FileResult<Purged> {
        either!(self, s => s.purge_user(user))
    }

    /// Removes unfinished uploads that can never be resumed or are past
    /// the retention.
    pub fn sweep(&self) -> FileResult<SweepReport> {
        either!(self, s => s.sweep())
    }
}

impl Upload {
    /// Where the client continues: bytes held so far.
    pub fn offset(&self) -> u64 {
        each!(Upload, self, u => u.offset())
    }

    /// Bytes found held when this upload began (0 when new).
    pub fn resumed_from(&self) -> u64 {
        each!(Upload, self, u => u.resumed_from())
    }

    /// The declared size.
    pub fn size(&self) -> u64 {
        each!(Upload, self, u => u.size())
    }

    /// The destination path.
    pub fn path(&self) -> &RelPath {
        each!(Upload, self, u => u.path())
    }

    /// Bytes this upload holds of the quota.
    pub fn reserved(&self) -> u64 {
        each!(Upload, self, u => u.reserved())
    }

    /// The BLAKE3 of everything written so far, as the store hashed it
    /// (what publishing records when the sender gave no hash of its own).
    pub fn content_blake3(&self) -> blake3::Hash {
        each!(Upload, self, u => u.content_blake3())
    }

    /// Appends `bytes` at `offset`; returns the new offset.
    pub fn write(&mut self, offset: u64, bytes: &[u8]) -> FileResult<u64> {
        each!(Upload, self, u => u.write(offset, bytes))
    }

    /// Stops for now, keeping everything received for a resume.
    pub fn pause(self) -> FileResult<u64> {
        each!(Upload, self, u => u.pause())
    }

    /// Gives up: the partial and its reservation go.
    pub fn abort(self) -> FileResult<()> {
        each!(Upload, self, u => u.abort())
    }

    /// Completes the upload, verifying against the sender's BLAKE3.
    pub fn finish(self, expected: &blake3::Hash) -> FileResult<Published> {
        self.finish_with(Some(expected), None)
    }

    /// Completes the upload, verifying against the BLAKE3 and/or MD5 the
    /// sender computed; on a mismatch nothing is published.
    pub fn finish_with(
        self,
        blake3: Option<&blake3::Hash>,
        md5: Option<&[u8; 16]>,
    ) -> FileResult<Published> {
        each!(Upload, self, u => u.finish_with(blake3, md5))
    }
}

impl Download {
    /// The file's size.
    pub fn size(&self) -> u64 {
        each!(Download, self, d => d.size())
    }

    /// The next offset read.
    pub fn offset(&self) -> u64 {
        each!(Download, self, d => d.offset())
    }

    /// Bytes left from the current offset.
    pub fn remaining(&self) -> u64 {
        each!(Download, self, d => d.remaining())
    }

    /// The path opened.
    pub fn path(&self) -> &RelPath {
        each!(Download, self, d => d.path())
    }

    /// Modification time, seconds since the epoch.
    pub fn mtime(&self) -> i64 {
        each!(Download, self, d => d.mtime())
    }

    /// Hashes recorded at publish, if known.
    pub fn recorded_hashes(&self) -> Option<Hashes> {
        each!(Download, self, d => d.recorded_hashes())
    }

    /// The file's hashes, computing what is not recorded.
    pub fn hashes(&mut self, md5: bool) -> FileResult<Hashes> {
        each!(Download, self, d => d.hashes(md5))
    }

    /// Reads the next bytes into `buf`; 0 means the end.
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> FileResult<usize> {
        each!(Download, self, d => d.read_chunk(buf))
    }
}

impl std::io::Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.read_chunk(buf).map_err(std::io::Error::other)
    }
}
