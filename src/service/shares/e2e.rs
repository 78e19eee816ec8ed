//! End-to-end encrypted shares own their content: the ciphertext the
//! sender uploaded (under `.e2e-shares/`) exists only to be shared, so it
//! is removed from the owner's store once the share ends (consumed,
//! revoked or expired): at once when its owner revokes it, and otherwise
//! by the server's sweeper every [`SWEEP_PERIOD`], whether or not anyone
//! visits a link. On a cluster the ciphertext is a file of the owner's
//! store in PostgreSQL (`files_chunks`), so every node serves it; every
//! node sweeps, and a file another node removed first counts as removed.

use std::time::Duration;

use super::{ShareResult, Shares, lock};
use crate::service::files::{FileError, FileStore};

/// How often the running server looks for ended shares to clean up: an
/// ended end-to-end share's ciphertext is gone within this. Each sweep is
/// three indexed statements (expire, drop old tombstones, find ended
/// end-to-end shares), so a few seconds costs nothing measurable.
pub const SWEEP_PERIOD: Duration = Duration::from_secs(5);

impl Shares {
    /// One sweep: [`Shares::tidy`] (expire what ran out by `now`, drop
    /// old tombstones), then [`Shares::purge_ended_e2e`]; how many
    /// ciphertexts were removed.
    pub fn sweep(&self, files: &FileStore, now: u64) -> ShareResult<usize> {
        self.tidy(now)?;
        self.purge_ended_e2e(files)
    }

    /// Removes the ciphertext of every ended end-to-end share that still
    /// has it; returns how many were removed. A file already gone (the
    /// owner removed it, or the account was deleted) counts as removed.
    pub fn purge_ended_e2e(&self, files: &FileStore) -> ShareResult<usize> {
        let ended = self.store().ended_e2e()?;
        let mut removed = 0;
        for (num, owner, path) in ended {
            match files.remove(owner, &path, false) {
                Ok(_) | Err(FileError::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(share = num, error = %e, "removing an ended share's ciphertext");
                    continue;
                }
            }
            lock(&self.inner.store).mark_purged(num)?;
            removed += 1;
        }
        Ok(removed)
    }
}
