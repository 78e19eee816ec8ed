//! Removing everything a user holds, for `sockit user del`: their tree,
//! their unfinished uploads and their rows in the hash index, so nothing of
//! a deleted account outlives it (issue 16 item 2).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use super::DiskStore;
use super::error::{FileError, FileResult};
use super::fsx::{self, Kind};
use super::store::{FILES_DIR, STAGING_DIR, USERS_DIR};
use super::tree::{Removed, remove_tree};

/// What [`DiskStore::purge_user`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// The user's published files and directories.
    pub files: Removed,
    /// Unfinished uploads (each a data and a meta file).
    pub partials: u64,
}

impl DiskStore {
    /// Deletes every file, directory and unfinished upload of `user`, and
    /// forgets their recorded hashes. Idempotent: a user with nothing
    /// stored purges to zeros. End the account's sessions first: an upload
    /// still running would publish into a fresh, empty tree of an id that
    /// no account will ever have again (ids are never reused).
    pub fn purge_user(&self, user: i64) -> FileResult<Purged> {
        let name = user.to_string();
        let inner = &self.inner;
        let mut out = Purged::default();
        remove_area(inner.users.as_fd(), &name, &mut out.files)?;
        let mut staged = Removed::default();
        remove_area(inner.staging.as_fd(), &name, &mut staged)?;
        // Each partial is a `.part` and a `.meta` (a stray temporary at
        // most adds one): count the metas' partners.
        out.partials = staged.files / 2;
        inner.index().forget_user(user)?;
        inner.published_forget(user);
        Ok(out)
    }
}

/// Removes `name` (a user's directory) from `area`, whatever it holds,
/// never following a link.
fn remove_area(area: BorrowedFd<'_>, name: &str, out: &mut Removed) -> FileResult<()> {
    let io = |e| FileError::io("removing a user's files", e);
    match fsx::stat_at(area, name).map_err(io)? {
        None => return Ok(()),
        Some(m) if m.kind == Kind::Dir => {
            remove_tree(area, name.as_bytes(), 0, out).map_err(io)?;
            // The user's root itself is not one of their directories.
            out.dirs = out.dirs.saturating_sub(1);
        }
        Some(_) => fsx::unlink_at(area, name).map_err(io)?,
    }
    fsx::fsync_dir(area).map_err(io)
}

/// The highest user id `DATA/files` holds a tree or partial uploads for (0
/// if none), read without the store's lock (so also beside a running
/// server): account ids must stay above it, or a new account would
/// inherit files left by a deleted one (stores from before ids were
/// reserved).
pub fn highest_user_id(data_dir: &Path) -> io::Result<i64> {
    let mut high = 0i64;
    for area in [USERS_DIR, STAGING_DIR] {
        let dir = data_dir.join(FILES_DIR).join(area);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            if let Some(id) = entry?
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i64>().ok())
            {
                high = high.max(id);
            }
        }
    }
    Ok(high)
}
