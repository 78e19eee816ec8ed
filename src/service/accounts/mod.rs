//! Accounts: users with argon2id passwords, session tokens and brute-force
//! lockouts, kept in `DATA/sockit.db`, or in PostgreSQL shared by every
//! node of a cluster (`store`: the same rules on either).
//!
//! Two faces: an async API for doors ([`Accounts::login`], [`Accounts::resume`],
//! [`Accounts::logout`], [`Accounts::is_registered`]) that never blocks the
//! calling worker, and a blocking admin API for `sockit user` and tests.
//! Both work on the same file while another process uses it (WAL, busy
//! timeout), so `sockit user` runs beside a live server.
//!
//! Where the work runs: password hashing (and the store work of a login)
//! on a small pool of niced threads behind a bounded queue (full ->
//! [`AuthError::Busy`]); token checks in `spawn_blocking`; throttle checks
//! in memory, on the caller, before anything costly.

mod admin;
mod clock;
mod db;
mod db_pg;
mod db_pg_logs;
mod error;
mod listen;
mod login;
mod migrate;
mod names;
mod passwd;
mod password;
mod pool;
mod revoke;
mod schema;
mod store;
mod throttle;
mod token;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;

pub use clock::UnixClock;
pub use error::{AccountsError, AuthError};
pub use migrate::{AccountsCopied, copy_to_pg};
pub use names::{MAX_NAME_CHARS, NameError, name_key, validate_name};
pub use password::{HashParams, MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES, check_new_password};
pub use revoke::{REVOCATION_POLL, RevokeWatch, revoked};
pub use schema::MIGRATIONS;
pub use throttle::{
    Blocked, GLOBAL_FAILURE_BURST, GLOBAL_FAILURE_RATE, GOOD_ADDRS_PER_ACCOUNT, Lockout,
    MAX_LOCKOUT, MAX_TRACKED, SPIKE_DELAY, Throttle, ThrottleConfig,
};
pub use token::TOKEN_HEX_LEN;

use crate::store::pg::{self, PgConn};
use crate::store::{Backend, Durability, StoreError};
use password::Hasher;
use pool::HashPool;
use store::Store;

/// The database file in the data directory.
pub const DB_FILE: &str = "sockit.db";

/// Settings of the accounts service.
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    /// How long a session token stays valid after login (default 7 days).
    pub session_ttl: Duration,
    /// argon2id cost for new hashes (default OWASP: m=19456 KiB, t=2, p=1).
    pub hash: HashParams,
    /// Failures per account name within `failure_window` before a lockout (default 5).
    pub account_max_failures: u32,
    /// Failures per client address within `failure_window` before a lockout (default 20).
    pub ip_max_failures: u32,
    /// The sliding window failures are counted in (default 15 minutes).
    pub failure_window: Duration,
    /// The first temporary lockout (default 1 minute); doubles per repeat.
    pub lockout: Duration,
    /// The longest temporary lockout (default 1 hour).
    pub lockout_cap: Duration,
    /// Hashing threads (default half the CPUs, at least one): logins may
    /// take that share of the machine and no more.
    pub hash_threads: usize,
    /// Logins waiting for a hashing thread before new ones get
    /// [`AuthError::Busy`] (default 1,024: a burst of a thousand logins
    /// (a team's clients reconnecting after a restart) waits its turn
    /// rather than failing; a queued login costs a few hundred bytes, and
    /// the hashing itself stays capped by `hash_threads`).
    pub hash_queue: usize,
    /// Unix time for sessions and the store's records: the real time,
    /// which a test may move forward ([`UnixClock::advance`]).
    pub clock: UnixClock,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            session_ttl: Duration::from_secs(7 * 24 * 3600),
            hash: HashParams::default(),
            account_max_failures: 5,
            ip_max_failures: 20,
            failure_window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(60),
            lockout_cap: Duration::from_secs(3600),
            hash_threads: (cpus / 2).max(1),
            hash_queue: 1024,
            clock: UnixClock::default(),
        }
    }
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The account's row id (stable for the account's life).
    pub user_id: i64,
    /// The name as registered (NFC, original case).
    pub name: String,
    /// When the session expires, unix seconds.
    pub expires: u64,
}

/// A successful login.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// Who logged in.
    pub identity: Identity,
    /// The session token, 64 lowercase hex characters (256 bits). Shown to
    /// the client once; the store keeps only its SHA-256.
    pub token: String,
}

/// `Debug` without the token, so a stray `{:?}` never logs it.
impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("identity", &self.identity)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// An account as `sockit user list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// Name as registered.
    pub name: String,
    /// Creation time, unix seconds.
    pub created: u64,
    /// Last successful login, unix seconds.
    pub last_login: Option<u64>,
    /// Locked by the operator (`sockit user lock`).
    pub locked: bool,
    /// End of a temporary lockout after failed logins, unix seconds, while
    /// one is in force (as last recorded by a server).
    pub locked_until: Option<u64>,
}

/// The accounts service; cheap to clone (one shared state).
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("db", &self.inner.path)
            .field("shared", &self.inner.backend.is_shared())
            .finish()
    }
}

struct Inner {
    /// One connection: SQLite allows one writer per file anyway, and every
    /// statement here is short (on PostgreSQL too: hashing, the slow part
    /// of a login, runs outside it).
    conn: Mutex<Store>,
    /// The SQLite file (unused on PostgreSQL).
    path: PathBuf,
    /// Where the store is: the revocation listener opens its own
    /// connection to PostgreSQL from it.
    backend: Backend,
    /// This process's name in the shared throttle log, so a node skips
    /// its own events (random; a restarted node is a new one).
    node: String,
    cfg: AccountsConfig,
    hasher: Hasher,
    /// A hash of a random password with the current parameters: unknown
    /// names are verified against it so they cost what a wrong password costs.
    dummy_phc: String,
    throttle: Mutex<Throttle>,
    pool: HashPool,
    /// Per-account signals that end live sessions.
    revocations: revoke::Revocations,
}

impl Accounts {
    /// Opens (creating if needed) `DATA/sockit.db`, upgrades its schema,
    /// drops expired sessions and starts the hashing threads. Blocking.
    pub fn open(data_dir: &Path, cfg: AccountsConfig) -> Result<Accounts, AccountsError> {
        Self::open_store(data_dir, &Backend::Sqlite, cfg)
    }

    /// Opens the account store `backend` names: `DATA/sockit.db`, or the
    /// cluster's PostgreSQL (migrating its schema; `data_dir` is then not
    /// touched). Blocking.
    pub fn open_store(
        data_dir: &Path,
        backend: &Backend,
        cfg: AccountsConfig,
    ) -> Result<Accounts, AccountsError> {
        let hasher = Hasher::new(cfg.hash).map_err(AccountsError::BadConfig)?;
        let path = data_dir.join(DB_FILE);
        let mut conn = match backend {
            Backend::Sqlite => {
                crate::fsutil::create_private_dir_all(data_dir).map_err(|source| {
                    AccountsError::DataDir {
                        path: data_dir.to_owned(),
                        source,
                    }
                })?;
                let conn = crate::store::open(&path, MIGRATIONS, Durability::Full)?;
                Store::Sqlite {
                    conn,
                    path: path.clone(),
                }
            }
            Backend::Postgres(cfg) => {
                let mut c = PgConn::open((**cfg).clone()).map_err(StoreError::Pg)?;
                pg::migrate_in(&mut c, db_pg::MIGRATIONS_TABLE, db_pg::MIGRATIONS)
                    .map_err(StoreError::Pg)?;
                Store::Pg(Box::new(c))
            }
        };
        conn.purge_expired(cfg.clock.now())?;
        let node = token::new_token()
            .map_err(|e| AccountsError::Internal(format!("OS random generator: {e}")))?;
        let dummy = token::new_token()
            .map_err(|e| AccountsError::Internal(format!("OS random generator: {e}")))?;
        let dummy_phc = hasher.hash(&dummy).map_err(AccountsError::Internal)?;
        let pool = HashPool::new(cfg.hash_threads, cfg.hash_queue)
            .map_err(|e| AccountsError::Internal(format!("cannot start hashing threads: {e}")))?;
        let throttle = Throttle::new(ThrottleConfig {
            account_max_failures: cfg.account_max_failures,
            ip_max_failures: cfg.ip_max_failures,
            window: cfg.failure_window,
            lockout: cfg.lockout,
            lockout_cap: cfg.lockout_cap,
        });
        Ok(Accounts {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                path,
                backend: backend.clone(),
                node: node[..16].to_owned(),
                cfg,
                hasher,
                dummy_phc,
                throttle: Mutex::new(throttle),
                pool,
                revocations: revoke::Revocations::default(),
            }),
        })
    }

    /// The database file (SQLite).
    pub fn db_path(&self) -> &Path {
        &self.inner.path
    }

    /// Whether the store is shared with other nodes (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.inner.backend.is_shared()
    }
}

impl Inner {
    /// Runs `f` on the store (blocking).
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut c = lock(&self.conn);
        f(&mut c)
    }

    /// Unix seconds now, on the configured clock.
    fn now_unix(&self) -> u64 {
        self.cfg.clock.now()
    }

    fn throttle(&self) -> MutexGuard<'_, Throttle> {
        lock(&self.throttle)
    }
}

/// A poisoned lock still guards consistent data here (every critical
/// section is a single call), so carry on rather than fail every login.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
