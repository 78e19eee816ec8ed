//! Share links: a logged-in user hands out `/s/ID` for one of their
//! files, and anyone holding the link downloads it with no account, a
//! limited number of times, until it expires or its owner revokes it.
//!
//! The rules only, with no sockets and no clock: every method takes `now`
//! (Unix seconds), so tests move time by hand. Doors and the session call
//! them through `spawn_blocking`. The rows live in `DATA/shares.db` on one
//! node, or in the cluster's PostgreSQL (`--store postgres://...`), where
//! a link made on one node opens, counts and ends on every node (`store`).
//!
//! # Rules
//! - IDs and revoke tokens are 128 random bits ([`ids`]); only their
//!   BLAKE3 is stored. The revoke token is separate from the link, so a
//!   receiver cannot revoke and a revoker need not be able to download.
//! - States: `available` -> `consumed` (downloads spent) | `revoked`
//!   (owner or revoke token) | `expired`. An ended share keeps a tombstone
//!   for [`SharesConfig::tombstone`], answering 410 with its state; then
//!   the row goes and the link answers 404 like one never issued.
//! - A share references the owner's file, it does not pin a copy: the
//!   size and BLAKE3 at creation are recorded, and a download of a file
//!   that changed since (or was removed, or whose account was deleted)
//!   ends the share as revoked. So ending a share frees nothing on disk,
//!   and no byte outlives the owner's own file.
//! - A download counts once, when the bytes sent to one client address
//!   cover the whole file (`coverage`): resumes and ranges inside one
//!   download do not count again, a 1-byte range never burns one.
//! - An end-to-end encrypted share (`--e2e`) is a share of a file of
//!   ciphertext the sender uploaded, with sealed metadata the server keeps
//!   unread (`e2e`): the server never holds the key, the name or a byte
//!   of plaintext. All the rules above apply to it, and since that file
//!   exists only to be shared, it is removed when the share ends.
//! - Limits the server forces ([`SharesConfig`]): longest expiry, most
//!   downloads (defaults 1 day and 1 download), creates per user per hour,
//!   and the bytes of a user's available shares within their file quota.
//! - Upload links (`/u/ID`, `upload.rs`) are shares the other way: anyone
//!   holding one adds files to one folder of the owner's store. They live
//!   in the same table (IDs, states, expiry, tombstones, revoking and the
//!   creates per hour are shared) with their limits, counts and log in
//!   their own tables; the gate (`gate.rs`) bounds anonymous senders per
//!   address and in total.

mod config;
mod coverage;
mod coverage_pg;
mod db;
mod db_pg;
pub mod dir;
mod e2e;
mod error;
mod gate;
pub mod ids;
mod migrate;
mod store;
#[cfg(test)]
mod tests;
mod types;
mod upload;
mod upload_pg;

pub use config::{
    DEFAULT_CREATES_PER_HOUR, DEFAULT_DOWNLOADS, DEFAULT_EXPIRY, DEFAULT_MAX_DOWNLOADS,
    DEFAULT_MAX_EXPIRY, DEFAULT_TOMBSTONE, DEFAULT_UPLOAD_MAX_BYTES, DEFAULT_UPLOAD_MAX_FILES,
    DEFAULT_UPLOAD_RATE, DEFAULT_UPLOADS_PER_IP, DEFAULT_UPLOADS_TOTAL, SharesConfig,
    parse_duration,
};
pub use coverage::{MAX_RANGES, MAX_TRACKED};
pub use db::SHARES_DB;
pub use dir::{MAX_DIR_FILES, SharedFile};
pub use e2e::SWEEP_PERIOD;
pub use error::{ShareError, ShareResult};
pub use gate::{MAX_TRACKED_UPLOADERS, UploaderPass};
pub use migrate::{SharesCopied, copy_to_pg};
pub use types::{Created, NewShare, ShareInfo, ShareState};
pub use upload::{NewUploadLink, UploadRecord, UploadStats, fingerprint as upload_fingerprint};

/// Largest sealed metadata of an end-to-end encrypted share, in bytes:
/// the server stores it unread, so it is only bounded (the sender's
/// format stays well under it: `client::e2e::MAX_SEALED_META`).
pub const MAX_E2E_META: usize = 2048;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::store::Backend;
use store::Store;

/// The shares service. Cheap to clone; every method blocks (SQLite or
/// PostgreSQL).
#[derive(Clone)]
pub struct Shares {
    inner: Arc<Inner>,
}

struct Inner {
    /// One connection per node: every call is a statement or two (a
    /// response records its span once, when it ends), not a stream.
    store: Mutex<Store>,
    config: SharesConfig,
    /// `http(s)://HOST[:PORT]` that links start with, once the web door
    /// is bound (or as the operator set it).
    base_url: RwLock<Option<String>>,
    /// Anonymous uploaders through upload links, per address.
    gate: Mutex<gate::Gate>,
    /// Whether an owner's account is locked (set by the server, from the
    /// accounts store); without it no owner is.
    owner_locked: RwLock<Option<OwnerLocked>>,
}

/// Answers whether account `id` is locked by the operator (`Err`: the
/// accounts store failed, and the link is refused, not served).
pub type OwnerLocked = Arc<dyn Fn(i64) -> Result<bool, String> + Send + Sync>;

impl std::fmt::Debug for Shares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shares")
            .field("config", &self.inner.config)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain bookkeeping: a panic elsewhere leaves it usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shares {
    /// Opens (creating, 0600) `DATA/shares.db`.
    pub fn open(data_dir: &Path, config: SharesConfig) -> ShareResult<Shares> {
        Self::open_store(data_dir, &Backend::Sqlite, config)
    }

    /// Opens the store `backend` names: `DATA/shares.db`, or the cluster's
    /// PostgreSQL (migrating its tables; `data_dir` is then not touched).
    pub fn open_store(
        data_dir: &Path,
        backend: &Backend,
        config: SharesConfig,
    ) -> ShareResult<Shares> {
        let store = Store::open(data_dir, backend)?;
        Ok(Shares {
            inner: Arc::new(Inner {
                store: Mutex::new(store),
                config: config.normalized(),
                base_url: RwLock::new(None),
                gate: Mutex::new(gate::Gate::default()),
                owner_locked: RwLock::new(None),
            }),
        })
    }

    /// The limits in force.
    pub fn config(&self) -> &SharesConfig {
        &self.inner.config
    }

    /// Sets what links start with (`http://127.0.0.1:8080`), once the web
    /// door is bound; a trailing `/` is dropped.
    pub fn set_base_url(&self, base: &str) {
        let mut b = self
            .inner
            .base_url
            .write()
            .unwrap_or_else(|p| p.into_inner());
        *b = Some(base.trim_end_matches('/').to_owned());
    }

    /// The full link of `id`, when the server has a web door.
    pub fn link(&self, id: &str) -> Option<String> {
        self.link_under("s", id)
    }

    /// The full link of `id` under `/ROUTE/` (`s`: a download share, `u`:
    /// an upload link).
    fn link_under(&self, route: &str, id: &str) -> Option<String> {
        let b = self
            .inner
            .base_url
            .read()
            .unwrap_or_else(|p| p.into_inner());
        b.as_ref().map(|b| format!("{b}/{route}/{id}"))
    }

    /// The store. No housekeeping runs here: a lookup sees a share past
    /// its expiry as expired itself ([`ShareInfo::seen_at`]), and the
    /// sweeper ([`Shares::tidy`]) records it and drops old tombstones.
    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.inner.store)
    }

    /// Housekeeping, for the sweeper (every [`SWEEP_PERIOD`] on every
    /// node): shares past their expiry by `now` end as expired, and
    /// tombstones older than the configured time go.
    pub fn tidy(&self, now: u64) -> ShareResult<()> {
        self.store().tidy(now, self.inner.config.tombstone)
    }

    /// Sets how to tell whether an owner's account is locked: while it
    /// is, its download shares and upload links answer
    /// [`ShareError::OwnerLocked`], and once unlocked the unexpired ones
    /// work again.
    pub fn set_owner_locked(&self, check: OwnerLocked) {
        let mut g = self
            .inner
            .owner_locked
            .write()
            .unwrap_or_else(|p| p.into_inner());
        *g = Some(check);
    }

    /// Refuses a link whose owner is locked.
    fn check_owner(&self, owner: i64) -> ShareResult<()> {
        let check = self
            .inner
            .owner_locked
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match check.map(|f| f(owner)) {
            None | Some(Ok(false)) => Ok(()),
            Some(Ok(true)) => Err(ShareError::OwnerLocked),
            Some(Err(e)) => Err(ShareError::Internal {
                doing: "checking the owner's account",
                source: e.into(),
            }),
        }
    }

    /// `share` if its owner is not locked.
    fn owner_open(&self, share: ShareInfo) -> ShareResult<ShareInfo> {
        self.check_owner(share.owner).map(|()| share)
    }

    /// Creates a share of a file, within the server's limits.
    pub fn create(&self, new: NewShare, now: u64) -> ShareResult<Created> {
        self.create_with(new, Kind::File, now)
    }

    /// Creates a share of `kind`.
    fn create_with(&self, new: NewShare, kind: Kind<'_>, now: u64) -> ShareResult<Created> {
        let cfg = &self.inner.config;
        let expires_in = new.expires_in.unwrap_or(cfg.default_expiry);
        if expires_in == 0 || expires_in > cfg.max_expiry {
            return Err(ShareError::Limit(format!(
                "an expiry of {expires_in} s is outside this server's limit of 1 to {} s; ask for less (--expires)",
                cfg.max_expiry
            )));
        }
        let downloads = match kind {
            // An upload link is never downloaded.
            Kind::Upload(_) => 0,
            _ => new.downloads.unwrap_or(cfg.default_downloads),
        };
        let upload = matches!(kind, Kind::Upload(_));
        if !upload && (downloads == 0 || downloads > cfg.max_downloads) {
            return Err(ShareError::Limit(format!(
                "{downloads} downloads is outside this server's limit of 1 to {}; ask for fewer (--downloads)",
                cfg.max_downloads
            )));
        }
        if new
            .e2e
            .as_ref()
            .is_some_and(|m| m.is_empty() || m.len() > MAX_E2E_META)
        {
            return Err(ShareError::Limit(format!(
                "sealed metadata of 1 to {MAX_E2E_META} bytes only; a name that long cannot be shared end to end"
            )));
        }
        let id = ids::new_id().map_err(rng_error)?;
        let revoke = ids::new_id().map_err(rng_error)?;
        let row = db::NewRow {
            id_hash: ids::id_hash(&id),
            revoke_hash: ids::id_hash(&revoke),
            owner: new.owner,
            path: &new.path,
            size: new.size,
            blake3: new.blake3,
            created: now,
            expires: now.saturating_add(expires_in),
            downloads_max: downloads,
            e2e: new.e2e.as_deref(),
        };
        let check = |recent: u64, shared: u64| {
            if recent >= cfg.creates_per_hour {
                return Err(ShareError::Limit(format!(
                    "you created {recent} shares in the last hour, this server's limit; try again later"
                )));
            }
            if shared.saturating_add(new.size) > new.quota {
                return Err(ShareError::Quota {
                    size: new.size,
                    shared,
                    quota: new.quota,
                });
            }
            Ok(())
        };
        // A create is no lookup: it brings the store up to date first, so
        // its counts never include a share that just ran out.
        let mut st = self.store();
        st.tidy(now, cfg.tombstone)?;
        let info = st.create(&row, &kind, now.saturating_sub(3600), check)?;
        Ok(Created { id, revoke, info })
    }

    /// The owner's shares still on record (ended ones until their
    /// tombstone goes), newest first.
    pub fn list(&self, owner: i64, now: u64) -> ShareResult<Vec<ShareInfo>> {
        let list = self.store().list(owner)?;
        Ok(list.into_iter().map(|s| s.seen_at(now)).collect())
    }

    /// Revokes a share named by `which`: its number or its link ID (only
    /// by its owner: another user gets the same "no such share" as for a
    /// number never issued), or its revoke token (by anyone holding it).
    pub fn revoke(&self, owner: Option<i64>, which: &str, now: u64) -> ShareResult<ShareInfo> {
        let mut st = self.store();
        let which = which.trim();
        let which = which.rsplit('/').next().unwrap_or(which);
        let found = if let Ok(num) = which.parse::<i64>() {
            st.by_num(num)?.filter(|s| Some(s.owner) == owner)
        } else if ids::well_formed(which) {
            let h = ids::id_hash(which);
            match st.by_id(&h)? {
                Some(s) if Some(s.owner) == owner => Some(s),
                _ => st.by_revoke(&h)?,
            }
        } else {
            None
        };
        let mut share = found.ok_or(ShareError::NotFound)?.seen_at(now);
        st.fill(&mut share)?;
        if share.state != ShareState::Available {
            return Err(ShareError::Ended(share.state));
        }
        st.end(share.num, ShareState::Revoked, now)?;
        Ok(ShareInfo {
            state: ShareState::Revoked,
            ended: Some(now),
            ..share
        })
    }

    /// The share behind a link's ID: `NotFound` for an ID never issued
    /// (or malformed, or past its tombstone), `Ended` for a tombstone.
    pub fn open_link(&self, id: &str, now: u64) -> ShareResult<ShareInfo> {
        if !ids::well_formed(id) {
            return Err(ShareError::NotFound);
        }
        let mut st = self.store();
        let share = st
            .by_id(&ids::id_hash(id))?
            .ok_or(ShareError::NotFound)?
            .seen_at(now);
        // An upload link is not downloaded: /s/ID of one is "no such share".
        if st.is_upload(share.num)? {
            return Err(ShareError::NotFound);
        }
        drop(st);
        match share.state {
            ShareState::Available => self.owner_open(share),
            s => Err(ShareError::Ended(s)),
        }
    }

    /// Ends a share whose file changed or went away since it was shared.
    pub fn file_gone(&self, num: i64, now: u64) -> ShareResult<()> {
        self.store().end(num, ShareState::Revoked, now)?;
        Ok(())
    }

    /// Ends every share of a deleted account.
    pub fn forget_owner(&self, owner: i64, now: u64) -> ShareResult<usize> {
        self.store().end_owner(owner, now)
    }

    /// Records that bytes `[start, end)` of `share` were sent to `who` (a
    /// client address); true when that completed a download, which is
    /// then counted (and may consume the share).
    pub fn served(
        &self,
        share: &ShareInfo,
        who: &str,
        start: u64,
        end: u64,
        now: u64,
    ) -> ShareResult<bool> {
        // A share past its expiry counts nothing, swept or not.
        if (end <= start && share.size > 0) || share.expires <= now {
            return Ok(false);
        }
        self.store()
            .served(share.num, who, (start, end), share.size, now)
    }
}

/// What a share is of, with what its kind records besides the row.
pub(super) enum Kind<'a> {
    /// One file.
    File,
    /// A folder: the snapshot of its files.
    Dir(&'a [SharedFile]),
    /// An upload link: its limits.
    Upload(UploadStats),
}

fn rng_error(e: getrandom::Error) -> ShareError {
    ShareError::Internal {
        doing: "drawing a random ID",
        source: Box::new(std::io::Error::other(e.to_string())),
    }
}
