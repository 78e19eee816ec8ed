//! Removing everything of a deleted account: its tree, its unfinished
//! uploads and its index rows. Account ids are never reused, so this is
//! about disk space and the account's data not outliving it, not about
//! another account seeing it.

use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use super::FileStore;
use super::error::{FileError, FileResult};
use super::fsx;
use super::store::{FILES_DIR, STAGING_DIR, USERS_DIR};
use super::tree::{Removed, remove_tree};

impl FileStore {
    /// Removes every file, directory and partial upload of `user`, and its
    /// hash index rows. Idempotent: a user with nothing stored is a no-op.
    /// An upload still running for the user fails at its publish (its
    /// directory is gone). Blocking.
    pub fn purge_user(&self, user: i64) -> FileResult<Removed> {
        let name = user.to_string();
        let mut removed = Removed::default();
        for (area, doing) in [
            (self.inner.users.as_fd(), "removing a deleted user's files"),
            (
                self.inner.staging.as_fd(),
                "removing a deleted user's partial uploads",
            ),
        ] {
            match fsx::stat_at(area, name.as_str()).map_err(|e| FileError::io(doing, e))? {
                Some(_) => remove_tree(area, name.as_bytes(), 0, &mut removed)
                    .map_err(|e| FileError::io(doing, e))?,
                None => continue,
            }
            fsx::fsync_dir(area).map_err(|e| FileError::io(doing, e))?;
        }
        self.inner.published_forget(user);
        self.inner.index().forget_user(user)?;
        Ok(removed)
    }
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
