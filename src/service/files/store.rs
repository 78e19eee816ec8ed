//! The open store: directory handles on its areas, the hash index, the set
//! of running uploads and the per-user usage cache.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rustix::fs::{FlockOperation, Mode, OFlags};

use super::config::{FilesConfig, MAX_ACTIVE_PER_USER};
use super::error::{FileError, FileResult};
use super::fsx;
use super::index::Index;
use super::sweep::SweepReport;

/// Directory of the store inside the data directory.
pub const FILES_DIR: &str = "files";
/// Users' trees, one directory per user id.
pub const USERS_DIR: &str = "u";
/// Unfinished uploads, one directory per user id.
pub const STAGING_DIR: &str = "staging";
/// The hash index database.
pub const INDEX_DB: &str = "index.db";
/// Held (flock) while a store is open: one process per data directory.
pub const LOCK_FILE: &str = ".lock";

/// The per-user file store. Cheap to clone (shared state); every method is
/// blocking: doors call it through `spawn_blocking` (see the module docs).
#[derive(Clone)]
pub struct DiskStore {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for DiskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskStore")
            .field("root", &self.inner.root)
            .finish()
    }
}

pub(crate) struct Inner {
    /// `DATA/files`, for messages.
    pub root: PathBuf,
    /// Handle on `DATA/files/u`.
    pub users: OwnedFd,
    /// Handle on `DATA/files/staging`.
    pub staging: OwnedFd,
    pub config: FilesConfig,
    pub index: Mutex<Index>,
    pub state: Mutex<State>,
    /// Keeps the flock on [`LOCK_FILE`] for the store's lifetime.
    _lock: OwnedFd,
}

/// Mutable bookkeeping shared by all operations.
#[derive(Default)]
pub(crate) struct State {
    /// Running uploads as (user, staging key).
    pub active: HashSet<(i64, String)>,
    /// Running uploads per user.
    pub active_count: HashMap<i64, usize>,
    /// Bytes of published files per user, once computed.
    pub published: HashMap<i64, u64>,
    /// One lock per user who uploaded since start, held from a quota check
    /// to the reservation it allows (see `quota.rs`); bounded by accounts.
    pub quota_locks: HashMap<i64, Arc<Mutex<()>>>,
    /// Bumped on every change of a user's published bytes, so a usage walk
    /// that raced with a change is not cached.
    pub epoch: HashMap<i64, u64>,
}

impl DiskStore {
    /// Opens (creating) the store in `DATA/files`, takes its lock, opens
    /// the hash index and sweeps stale temporaries, returning what the
    /// sweep removed for the log.
    pub fn open(data_dir: &Path, config: FilesConfig) -> FileResult<(DiskStore, SweepReport)> {
        let root = data_dir.join(FILES_DIR);
        let err = |doing| move |e| FileError::io(doing, e);
        crate::fsutil::create_private_dir_all(&root)
            .map_err(err("creating the files directory"))?;
        // The root itself is opened normally: the operator may point the
        // data directory anywhere, links included. Below it, nothing is
        // followed.
        let root_fd: OwnedFd = std::fs::File::open(&root)
            .map_err(err("opening the files directory"))?
            .into();
        let lock = lock(&root_fd)?;
        let users = fsx::ensure_dir_at(root_fd.as_fd(), USERS_DIR).map_err(err("opening u/"))?;
        let staging =
            fsx::ensure_dir_at(root_fd.as_fd(), STAGING_DIR).map_err(err("opening staging/"))?;
        let index = Index::open(&root.join(INDEX_DB))?;
        let store = DiskStore {
            inner: Arc::new(Inner {
                root,
                users,
                staging,
                config,
                index: Mutex::new(index),
                state: Mutex::new(State::default()),
                _lock: lock,
            }),
        };
        let report = store.sweep()?;
        Ok((store, report))
    }

    /// The configuration in force.
    pub fn config(&self) -> &FilesConfig {
        &self.inner.config
    }

    /// Where the store lives (`DATA/files`).
    pub fn root(&self) -> &Path {
        &self.inner.root
    }
}

fn lock(root: &OwnedFd) -> FileResult<OwnedFd> {
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let fd = rustix::fs::openat(root, LOCK_FILE, flags, Mode::from_raw_mode(0o600))
        .map_err(|e| FileError::io("opening the lock file", e.into()))?;
    match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(fd),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(FileError::Busy {
            path: "the files directory".into(),
            why: "another sockit process is using it",
        }),
        Err(e) => Err(FileError::io("locking the files directory", e.into())),
    }
}

impl Inner {
    /// Locks the shared state; a panic elsewhere while holding it leaves
    /// plain bookkeeping, so a poisoned lock is still used.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Locks the index.
    pub(crate) fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A handle on the user's tree, created on first use.
    pub(crate) fn user_root(&self, user: i64) -> FileResult<OwnedFd> {
        fsx::ensure_dir_at(self.users.as_fd(), &user.to_string())
            .map_err(|e| FileError::io("opening a user's files", e))
    }

    /// A handle on the user's staging directory, created on first use.
    pub(crate) fn user_staging(&self, user: i64) -> FileResult<OwnedFd> {
        fsx::ensure_dir_at(self.staging.as_fd(), &user.to_string())
            .map_err(|e| FileError::io("opening a user's staging area", e))
    }
}

/// Marks an upload as running until dropped; a second upload of the same
/// path gets [`FileError::Busy`] (documented choice: refuse, not queue, so
/// a client never waits on a stalled peer's transfer).
pub(crate) struct Claim {
    inner: Arc<Inner>,
    user: i64,
    key: String,
}

impl Claim {
    pub(crate) fn take(inner: &Arc<Inner>, user: i64, key: &str, path: &str) -> FileResult<Claim> {
        let mut st = inner.state();
        let busy = |why| FileError::Busy {
            path: super::escape_name(path).into_owned(),
            why,
        };
        if st.active.contains(&(user, key.to_owned())) {
            return Err(busy("another upload of this path is running"));
        }
        let count = st.active_count.entry(user).or_default();
        if *count >= MAX_ACTIVE_PER_USER {
            return Err(busy("too many uploads running for this user"));
        }
        *count += 1;
        st.active.insert((user, key.to_owned()));
        Ok(Claim {
            inner: Arc::clone(inner),
            user,
            key: key.to_owned(),
        })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut st = self.inner.state();
        st.active
            .remove(&(self.user, std::mem::take(&mut self.key)));
        if let Some(c) = st.active_count.get_mut(&self.user) {
            *c = c.saturating_sub(1);
        }
    }
}
