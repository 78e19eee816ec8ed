//! Quota accounting: a user's usage is the bytes of their published files
//! plus the declared sizes of their unfinished uploads (a partial will grow
//! to its declared size, so it holds that much of the quota from the start).
//!
//! Published bytes are computed once per user by walking their tree (so
//! files placed by an operator count too), cached, and adjusted on each
//! publish and removal.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use super::FileStore;
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
    /// Bytes of published files.
    pub published: u64,
    /// Declared bytes of unfinished uploads.
    pub staged: u64,
    /// The user's quota.
    pub quota: u64,
}

impl FileStore {
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

    /// Drops the cached usage (after a removal): the next check walks.
    pub(crate) fn published_forget(&self, user: i64) {
        let mut st = self.state();
        st.published.remove(&user);
        *st.epoch.entry(user).or_default() += 1;
    }
}

/// Declared bytes of the partials other than `except` (a staging key).
pub(crate) fn staged_bytes(partials: &[(String, Option<PartialMeta>)], except: &str) -> u64 {
    partials
        .iter()
        .filter(|(k, _)| k != except)
        .filter_map(|(_, m)| m.as_ref().map(|m| m.size))
        .fold(0u64, u64::saturating_add)
}

/// Sum of regular file sizes below `dir`, never following links.
pub(crate) fn tree_bytes(dir: BorrowedFd<'_>, depth: usize) -> io::Result<u64> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(
            "directory tree deeper than the path limit",
        ));
    }
    let mut total = 0u64;
    fsx::for_each_name(dir, |name| {
        match fsx::stat_at(dir, name)? {
            Some(m) if m.kind == Kind::File => total = total.saturating_add(m.size),
            Some(m) if m.kind == Kind::Dir => {
                let sub = fsx::open_dir_at(dir, name)?;
                total = total.saturating_add(tree_bytes(sub.as_fd(), depth + 1)?);
            }
            _ => {}
        }
        Ok(true)
    })?;
    Ok(total)
}
