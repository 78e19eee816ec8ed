//! End-to-end encrypted shares own their content: the ciphertext the
//! sender uploaded (under `.e2e-shares/`) exists only to be shared, so it
//! is removed from the owner's store once the share ends (consumed,
//! revoked or expired), by the next share request or link visit.

use super::{ShareError, ShareResult, Shares, db, lock};
use crate::service::files::{FileError, FileStore};

impl Shares {
    /// Removes the ciphertext of every ended end-to-end share that still
    /// has it; returns how many were removed. A file already gone (the
    /// owner removed it, or the account was deleted) counts as removed.
    pub fn purge_ended_e2e(&self, files: &FileStore, now: u64) -> ShareResult<usize> {
        let ended =
            db::ended_e2e(&*self.conn(now)?).map_err(ShareError::db("finding ended shares"))?;
        let mut removed = 0;
        for (num, owner, path) in ended {
            match files.remove(owner, &path, false) {
                Ok(_) | Err(FileError::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(share = num, error = %e, "removing an ended share's ciphertext");
                    continue;
                }
            }
            db::mark_purged(&lock(&self.inner.conn), num)
                .map_err(ShareError::db("recording a removal"))?;
            removed += 1;
        }
        Ok(removed)
    }
}
