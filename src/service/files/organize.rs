//! New folders and moves: `mkdir` and `mv` in a user's tree, with the same
//! path rules, link refusal and quota as uploads.
//!
//! A new directory is charged [`ENTRY_CHARGE`] like every directory, so
//! `mkdir` checks the quota under the user's quota lock (the one uploads
//! reserve under), and no run of `mkdir` can grow a tree past it. A move
//! is one `rename` with `RENAME_NOREPLACE`: it never replaces anything
//! (an existing destination is [`FileError::Taken`]), changes no usage,
//! and keeps the hash index rows (renamed with the file, whose inode and
//! mtime a rename keeps). Unfinished uploads are keyed by their
//! destination path and are not moved: they publish where they were
//! headed.

use std::os::fd::AsFd;

use super::DiskStore;
use super::config::ENTRY_CHARGE;
use super::error::{FileError, FileResult};
use super::fsx::{self, Kind};
use super::partial;
use super::paths::{PathError, RelPath};
use super::quota::staged_bytes;

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// What was moved: a file or a directory.
    pub kind: super::EntryKind,
}

impl DiskStore {
    /// Creates the directory `path`. Its parent must exist unless
    /// `parents`, which creates the missing ones too (and then an existing
    /// directory at `path` is no error, as `mkdir -p`). Returns how many
    /// directories were created. Each is charged [`ENTRY_CHARGE`] against
    /// the quota, checked before any is created.
    pub fn mkdir(&self, user: i64, path: &str, parents: bool) -> FileResult<u64> {
        let rel = RelPath::parse(path).map_err(|e| FileError::bad_path(path, e))?;
        let inner = &self.inner;
        let root = inner.user_root(user)?;
        let staging = inner.user_staging(user)?;
        let io = |doing| move |e| FileError::io(doing, e);
        let lock = inner.quota_lock(user);
        let _reserving = lock.lock().unwrap_or_else(|p| p.into_inner());
        let above = fsx::missing_parents(root.as_fd(), &rel)?;
        if above > 0 && !parents {
            let parent: Vec<&str> = rel.parent_components().collect();
            return Err(FileError::NotFound {
                path: super::escape_name(&parent.join("/")).into_owned(),
            });
        }
        // Whether `path` itself is there, once its parents are.
        let here = if above == 0 {
            let parent = fsx::walk_parent(root.as_fd(), &rel, false)?;
            fsx::stat_at(parent.as_fd(), rel.file_name()).map_err(io("inspecting a path"))?
        } else {
            None
        };
        match here.map(|m| m.kind) {
            Some(Kind::Dir) if parents => return Ok(0),
            Some(Kind::Dir) | Some(Kind::File) => return Err(FileError::Taken { path: esc(&rel) }),
            Some(_) => {
                return Err(FileError::bad_path(rel.as_str(), PathError::Symlink));
            }
            None => {}
        }
        let partials = partial::list(staging.as_fd()).map_err(io("listing unfinished uploads"))?;
        let used = inner
            .published_bytes(user)?
            .saturating_add(staged_bytes(&partials, ""));
        let needed = (above + 1).saturating_mul(ENTRY_CHARGE);
        if used.saturating_add(needed) > inner.config.quota {
            return Err(FileError::QuotaExceeded {
                used,
                quota: inner.config.quota,
                needed,
            });
        }
        let (parent, made) = fsx::walk_parent_creating(root.as_fd(), &rel)?;
        let mode = rustix::fs::Mode::from_raw_mode(crate::fsutil::PRIVATE_DIR as _);
        let created = match rustix::fs::mkdirat(parent.as_fd(), rel.file_name(), mode) {
            Ok(()) => 1,
            Err(rustix::io::Errno::EXIST) if parents => 0,
            Err(rustix::io::Errno::EXIST) => {
                inner.published_changed(user, made.saturating_mul(ENTRY_CHARGE), 0);
                return Err(FileError::Taken { path: esc(&rel) });
            }
            Err(e) => {
                inner.published_changed(user, made.saturating_mul(ENTRY_CHARGE), 0);
                return Err(FileError::io("creating a directory", e.into()));
            }
        };
        fsx::fsync_dir(parent.as_fd()).map_err(io("syncing a directory"))?;
        let total = made + created;
        inner.published_changed(user, total.saturating_mul(ENTRY_CHARGE), 0);
        Ok(total)
    }

    /// Moves (or renames) the file or directory `from` to `to`, whose
    /// parent must exist. Never replaces: an existing `to` is
    /// [`FileError::Taken`]. A directory cannot move into itself; a link
    /// at `from` is a bad path, never followed.
    pub fn rename(&self, user: i64, from: &str, to: &str) -> FileResult<Moved> {
        let src = RelPath::parse(from).map_err(|e| FileError::bad_path(from, e))?;
        let dst = RelPath::parse(to).map_err(|e| FileError::bad_path(to, e))?;
        let io = |doing| move |e| FileError::io(doing, e);
        let root = self.inner.user_root(user)?;
        let src_dir = fsx::walk_parent(root.as_fd(), &src, false)?;
        let meta = fsx::stat_at(src_dir.as_fd(), src.file_name())
            .map_err(io("inspecting a path"))?
            .ok_or_else(|| fsx::not_found(&src))?;
        let kind = match meta.kind {
            Kind::File => super::EntryKind::File,
            Kind::Dir => super::EntryKind::Dir,
            Kind::Symlink => return Err(FileError::bad_path(from, PathError::Symlink)),
            Kind::Other => return Err(fsx::not_found(&src)),
        };
        if src == dst {
            return Ok(Moved { kind });
        }
        let below = format!("{}/", src.as_str());
        if kind == super::EntryKind::Dir && dst.as_str().starts_with(&below) {
            return Err(FileError::IntoItself { path: esc(&src) });
        }
        let dst_dir = fsx::walk_parent(root.as_fd(), &dst, false)?;
        match fsx::rename_at(
            src_dir.as_fd(),
            src.file_name(),
            dst_dir.as_fd(),
            dst.file_name(),
            false,
        ) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                return Err(FileError::Taken { path: esc(&dst) });
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Err(fsx::not_found(&src)),
            Err(e) => return Err(FileError::io("moving", e)),
        }
        fsx::fsync_dir(dst_dir.as_fd()).map_err(io("syncing a directory"))?;
        fsx::fsync_dir(src_dir.as_fd()).map_err(io("syncing a directory"))?;
        // A stale row would only cost a re-hash; keep them anyway.
        self.inner
            .index()
            .rename(user, src.as_str(), dst.as_str())?;
        Ok(Moved { kind })
    }
}

fn esc(p: &RelPath) -> String {
    super::escape_name(p.as_str()).into_owned()
}
