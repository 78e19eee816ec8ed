//! Unfinished uploads as a user sees them: listed (`ls --partial`,
//! `file.ls` with `partial`) and cancelled (`rm --partial`,
//! `file.put.cancel`), which deletes the partial and frees its quota.

use std::os::fd::AsFd;

use super::DiskStore;
use super::error::{FileError, FileResult};
use super::fsx;
use super::partial::{self, PART};
use super::paths::RelPath;
use super::store::Claim;

/// An unfinished upload, as `ls --partial` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialInfo {
    /// Its destination, relative to the user's root.
    pub path: String,
    /// The declared size of the whole file.
    pub size: u64,
    /// Bytes held durably: where a resume continues.
    pub held: u64,
    /// Bytes it holds of the quota (its declared size, at least 4 KiB, plus the directories its publish creates).
    pub reserved: u64,
    /// Last write, seconds since the epoch.
    pub mtime: i64,
    /// True while a connection is uploading it.
    pub running: bool,
    /// The BLAKE3 (hex) of the source fingerprint it was begun with.
    pub fingerprint: String,
}

impl PartialInfo {
    /// Whether an upload begun with `fingerprint` would resume this
    /// partial (rather than discard it).
    pub fn resumes(&self, fingerprint: &str) -> bool {
        !fingerprint.is_empty() && self.fingerprint == super::partial::fingerprint_key(fingerprint)
    }
}

impl DiskStore {
    /// The user's unfinished uploads whose destination is `under` or below
    /// it (`""`: all), sorted by path. At most
    /// [`MAX_PARTIALS_PER_USER`](super::MAX_PARTIALS_PER_USER) exist.
    pub fn partials(&self, user: i64, under: &str) -> FileResult<Vec<PartialInfo>> {
        let dir = if under.is_empty() {
            None
        } else {
            Some(RelPath::parse(under).map_err(|e| FileError::bad_path(under, e))?)
        };
        let staging = self.inner.user_staging(user)?;
        let io = |e| FileError::io("listing unfinished uploads", e);
        let list = partial::list(staging.as_fd()).map_err(io)?;
        let mut out = Vec::new();
        for (key, meta) in list {
            let Some(m) = meta else { continue };
            let Ok(p) = RelPath::parse(&m.path) else {
                continue;
            };
            if dir.as_ref().is_some_and(|d| !p.starts_with(d)) {
                continue;
            }
            let mtime = fsx::stat_at(staging.as_fd(), format!("{key}{PART}").as_str())
                .map_err(io)?
                .map_or(0, |s| s.mtime_ns.div_euclid(1_000_000_000));
            let running = self.inner.state().active.contains(&(user, key.clone()));
            out.push(PartialInfo {
                path: m.path.clone(),
                size: m.size,
                held: m.synced.min(m.size),
                reserved: m.reserved(),
                mtime,
                running,
                fingerprint: m.fingerprint.clone(),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Cancels the unfinished upload of `path`: its bytes are deleted and
    /// its reservation freed (returned, in bytes). `busy` while a
    /// connection is uploading it (that connection cancels by handle).
    pub fn cancel_upload(&self, user: i64, path: &str) -> FileResult<u64> {
        let rel = RelPath::parse(path).map_err(|e| FileError::bad_path(path, e))?;
        let key = partial::key_of(&rel);
        let _claim = Claim::take(&self.inner, user, &key, rel.as_str())?;
        let staging = self.inner.user_staging(user)?;
        let io = |doing| move |e| FileError::io(doing, e);
        let meta = partial::read_meta(staging.as_fd(), &key).map_err(io("reading a partial"))?;
        let Some(meta) = meta.filter(|m| m.path == rel.as_str()) else {
            return Err(FileError::NoPartial {
                path: rel.to_string(),
            });
        };
        partial::discard(staging.as_fd(), &key).map_err(io("discarding a partial"))?;
        fsx::fsync_dir(staging.as_fd()).map_err(io("syncing the staging area"))?;
        Ok(meta.reserved())
    }
}
