//! Finishing an upload: verify, fsync, record the hash, rename into place,
//! fsync the directory. Until the rename the file exists only in the
//! staging area; the rename is atomic, so a crash at any moment leaves
//! either no file (and a resumable partial) or the complete, verified one.

use std::os::fd::AsFd;

use md5::Digest;

use super::config::{ENTRY_CHARGE, charge};
use super::error::{FileError, FileResult};
use super::fsx::{self, Kind};
use super::index::Hashes;
use super::partial::{self, PART};
use super::paths::RelPath;
use super::upload::DiskUpload;

/// A published file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Where it is, relative to the user's root.
    pub path: RelPath,
    /// Its size.
    pub size: u64,
    /// Its hashes (MD5 when the upload asked for it).
    pub hashes: Hashes,
    /// True when it replaced an existing file (`force`).
    pub replaced: bool,
}

impl DiskUpload {
    /// Completes the upload: every byte must have arrived, and the content
    /// must hash to `expected` (BLAKE3, computed by the sender while
    /// reading). On a mismatch nothing is published and the partial is
    /// removed ([`FileError::VerifyFailed`]). A destination that appeared
    /// meanwhile is a conflict unless `force` (the partial is kept, so a
    /// retry with `force` publishes it at once).
    pub fn finish(self, expected: &blake3::Hash) -> FileResult<Published> {
        self.finish_with(Some(expected), None)
    }

    /// Like [`DiskUpload::finish`], verifying against the BLAKE3 and/or the MD5
    /// the sender computed: a client without BLAKE3 (the stdlib Python
    /// client) verifies with the MD5 of an upload begun with `md5`. At least
    /// one hash must be given, and an MD5 only for such an upload; either
    /// mismatch fails the upload like a BLAKE3 mismatch.
    pub fn finish_with(
        mut self,
        blake3: Option<&blake3::Hash>,
        md5: Option<&[u8; 16]>,
    ) -> FileResult<Published> {
        self.alive()?;
        if self.offset != self.meta.size {
            return Err(FileError::BadOffset {
                expected: self.offset,
                got: self.meta.size,
            });
        }
        let (actual, actual_md5, mismatch) = verify(&self.blake3, self.md5.take(), blake3, md5)?;
        if let Some((expected, actual)) = mismatch {
            self.dead = true;
            partial::discard(self.staging.as_fd(), &self.key)
                .map_err(|e| FileError::io("discarding a failed upload", e))?;
            return Err(FileError::VerifyFailed { expected, actual });
        }
        let hashes = Hashes {
            blake3: actual,
            md5: actual_md5,
        };
        match self.publish(&hashes) {
            Ok(replaced) => Ok(Published {
                path: self.path.clone(),
                size: self.meta.size,
                hashes,
                replaced,
            }),
            Err(e) => {
                if matches!(e, FileError::Exists { .. } | FileError::WrongKind { .. }) {
                    // Record the verified bytes as durable, so a retry
                    // (with force, or after the user moved things) resumes
                    // at the end instead of resending.
                    if let Err(err) = self.sync() {
                        tracing::warn!(error = %err, "could not keep a verified upload");
                    }
                }
                Err(self.fail(e))
            }
        }
    }

    /// Steps after verification; returns whether a file was replaced.
    fn publish(&mut self, hashes: &Hashes) -> FileResult<bool> {
        let io = |doing| move |e| FileError::io(doing, e);
        self.out
            .make_durable()
            .and_then(|()| self.out.file().sync_all())
            .map_err(io("syncing an upload"))?;
        let root = self.inner.user_root(self.user)?;
        let (parent, created) = fsx::walk_parent_creating(root.as_fd(), &self.path)?;
        // The directories exist from now on, whatever happens next.
        if created > 0 {
            self.inner
                .published_changed(self.user, created.saturating_mul(ENTRY_CHARGE), 0);
        }
        let name = self.path.file_name();
        let existing =
            fsx::stat_at(parent.as_fd(), name).map_err(io("checking the destination"))?;
        let replaced = match existing {
            Some(m) if m.kind == Kind::Dir => {
                return Err(FileError::WrongKind {
                    path: self.path.to_string(),
                    wanted: "a file",
                    found: "a directory",
                });
            }
            Some(_) if !self.force => {
                return Err(FileError::Exists {
                    path: self.path.to_string(),
                });
            }
            Some(m) if m.kind == Kind::File => Some(m.size),
            Some(_) => Some(0),
            None => None,
        };
        // Recorded before the rename, which keeps inode and mtime: after a
        // crash the row either matches the published file or no file.
        let meta = fsx::stat_fd(self.out.file().as_fd()).map_err(io("checking an upload"))?;
        self.inner
            .index()
            .record(self.user, self.path.as_str(), &meta, hashes)?;
        let part = format!("{}{PART}", self.key);
        match fsx::rename_at(
            self.staging.as_fd(),
            &part,
            parent.as_fd(),
            name,
            self.force,
        ) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                return Err(FileError::Exists {
                    path: self.path.to_string(),
                });
            }
            Err(e) => return Err(FileError::io("publishing an upload", e)),
        }
        self.dead = true;
        // Counted before the reservation (the meta) goes, so a concurrent
        // quota check sees the bytes twice for a moment, never not at all.
        self.inner.published_changed(
            self.user,
            charge(self.meta.size),
            replaced.map_or(0, charge),
        );
        fsx::fsync_dir(parent.as_fd()).map_err(io("syncing a directory"))?;
        fsx::fsync_dir(self.staging.as_fd()).map_err(io("syncing the staging area"))?;
        // The data file is gone from staging; drop its meta too. A failure
        // here only leaves a meta the next sweep removes.
        if let Err(e) = partial::discard(self.staging.as_fd(), &self.key) {
            tracing::warn!(error = %e, "could not remove an upload's meta file");
        }
        Ok(replaced.is_some())
    }
}

/// A mismatch: what was expected and what arrived, as hex.
type Mismatch = Option<(String, String)>;

/// The check every store makes before publishing: the content's BLAKE3
/// (and MD5, for an upload begun with `md5`) against what the sender
/// computed. At least one hash must be given, and an MD5 only for such an
/// upload. Returns the content's hashes and, if they differ from the
/// sender's, the mismatch to report.
pub(super) fn verify(
    hasher: &blake3::Hasher,
    md5_hasher: Option<md5::Md5>,
    blake3: Option<&blake3::Hash>,
    md5: Option<&[u8; 16]>,
) -> FileResult<(blake3::Hash, Option<[u8; 16]>, Mismatch)> {
    if blake3.is_none() && (md5.is_none() || md5_hasher.is_none()) {
        return Err(FileError::VerifyFailed {
            expected: "a BLAKE3 (or the MD5 of an upload begun with md5)".into(),
            actual: "nothing to compare".into(),
        });
    }
    let actual = hasher.finalize();
    let actual_md5 = md5_hasher.map(|m| <[u8; 16]>::from(m.finalize()));
    let mismatch = match (blake3, md5, actual_md5) {
        (Some(e), _, _) if *e != actual => {
            Some((e.to_hex().to_string(), actual.to_hex().to_string()))
        }
        (_, Some(e), Some(a)) if *e != a => Some((hex::encode(e), hex::encode(a))),
        (_, Some(e), None) => Some((hex::encode(e), "no MD5 (not asked at begin)".into())),
        _ => None,
    };
    Ok((actual, actual_md5, mismatch))
}
