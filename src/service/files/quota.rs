//! Quota accounting: a user's usage is the bytes of their published files
//! plus the declared sizes of their unfinished uploads (a partial will grow
//! to its declared size, so it holds that much of the quota from the start),
//! every file counting at least [`ENTRY_CHARGE`] and every directory (and
//! anything else in the tree) exactly that.
//!
//! The check and the reservation are one step: `begin_upload` holds the
//! user's [`Inner::quota_lock`] from reading the usage until the partial's
//! meta file (the reservation) is written, so two uploads can never both
//! fit into the same free space.
//!
//! Published bytes are computed once per user by walking their tree (so
//! files placed by an operator count too), cached, and adjusted on each
//! publish and removal.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex};

use super::DiskStore;
use super::config::{ENTRY_CHARGE, charge};
use super::error::{FileError, FileResult};
use super::fsx::{self, Kind};
use super::partial::{self, PartialMeta};
use super::paths::MAX_DEPTH;
use super::store::Inner;

/// How many times a usage walk is retried when publishes race with it
/// before its (slightly stale) result is used anyway.
const WALK_RETRIES: usize = 3;

/// What a user holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes charged for published files and directories.
    pub published: u64,
    /// Bytes charged for unfinished uploads (declared sizes, and the
    /// directories their publish will create).
    pub staged: u64,
    /// The user's quota.
    pub quota: u64,
}

impl DiskStore {
    /// A user's usage against their quota.
    pub fn usage(&self, user: i64) -> FileResult<Usage> {
        let published = self.inner.published_bytes(user)?;
        let staging = self.inner.user_staging(user)?;
        let partials = partial::list(staging.as_fd())
            .map_err(|e| FileError::io("listing unfinished uploads", e))?;
        Ok(Usage {
            published,
            staged: staged_bytes(&partials, ""),
            quota: self.inner.config.quota,
        })
    }
}

impl Inner {
    /// Bytes of the user's published files (cached after the first walk).
    pub(crate) fn published_bytes(&self, user: i64) -> FileResult<u64> {
        let mut bytes = 0;
        for _ in 0..WALK_RETRIES {
            let epoch = {
                let st = self.state();
                if let Some(&b) = st.published.get(&user) {
                    return Ok(b);
                }
                st.epoch.get(&user).copied().unwrap_or(0)
            };
            let root = self.user_root(user)?;
            bytes = tree_bytes(root.as_fd(), 0)
                .map_err(|e| FileError::io("measuring a user's files", e))?;
            let mut st = self.state();
            if st.epoch.get(&user).copied().unwrap_or(0) == epoch {
                st.published.insert(user, bytes);
                return Ok(bytes);
            }
        }
        Ok(bytes)
    }

    /// Adjusts the cached usage after a publish (`added`, replacing a file
    /// of `removed` bytes).
    pub(crate) fn published_changed(&self, user: i64, added: u64, removed: u64) {
        let mut st = self.state();
        if let Some(b) = st.published.get_mut(&user) {
            *b = b.saturating_add(added).saturating_sub(removed);
        }
        *st.epoch.entry(user).or_default() += 1;
    }

    /// The lock that makes a user's quota check and reservation one step.
    pub(crate) fn quota_lock(&self, user: i64) -> Arc<Mutex<()>> {
        let mut st = self.state();
        Arc::clone(st.quota_locks.entry(user).or_default())
    }

    /// Drops the cached usage (after a removal): the next check walks.
    pub(crate) fn published_forget(&self, user: i64) {
        let mut st = self.state();
        st.published.remove(&user);
        *st.epoch.entry(user).or_default() += 1;
    }
}

/// Bytes reserved by the partials other than `except` (a staging key).
pub(crate) fn staged_bytes(partials: &[(String, Option<PartialMeta>)], except: &str) -> u64 {
    partials
        .iter()
        .filter(|(k, _)| k != except)
        .filter_map(|(_, m)| m.as_ref().map(PartialMeta::reserved))
        .fold(0u64, u64::saturating_add)
}

/// What the entries below `dir` are charged (file sizes, at least
/// [`ENTRY_CHARGE`] each; each directory and other entry
/// [`ENTRY_CHARGE`]), never following links.
pub(crate) fn tree_bytes(dir: BorrowedFd<'_>, depth: usize) -> io::Result<u64> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(
            "directory tree deeper than the path limit",
        ));
    }
    let mut total = 0u64;
    fsx::for_each_name(dir, |name| {
        match fsx::stat_at(dir, name)? {
            Some(m) if m.kind == Kind::File => total = total.saturating_add(charge(m.size)),
            Some(m) if m.kind == Kind::Dir => {
                let sub = fsx::open_dir_at(dir, name)?;
                let below = tree_bytes(sub.as_fd(), depth + 1)?;
                total = total.saturating_add(ENTRY_CHARGE).saturating_add(below);
            }
            Some(_) => total = total.saturating_add(ENTRY_CHARGE),
            None => {}
        }
        Ok(true)
    })?;
    Ok(total)
}
