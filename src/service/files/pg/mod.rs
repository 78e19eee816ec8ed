//! The file store on PostgreSQL: the same rules as the disk store (paths,
//! quotas, resumable verified uploads, atomic publish), with the index and
//! the content in tables every node of a cluster shares (see `schema.rs`).
//!
//! - Content: each upload's bytes go into `files_chunks` rows: a wire
//!   chunk of at least [`MIN_ROW`] bytes is one row as it came (the CLI's
//!   4 MiB chunks), smaller ones are gathered up to that; each row is
//!   written in the same transaction that advances the upload's offset
//!   (`held`): a resumed upload, on this node or another, continues
//!   exactly after the last row. Chunk commits do not wait for the WAL
//!   flush (as the disk store fsyncs only every 64 MiB); pause and publish
//!   do, which makes every earlier chunk durable too.
//! - Publish: after the BLAKE3 (and MD5) computed while streaming matches
//!   the sender's, one transaction deletes the upload row and writes the
//!   entry pointing at the upload's content: visible whole or not at all.
//! - Running uploads: a row's `lease` names the connection writing it
//!   until `lease_until` ([`LEASE`], renewed by every write); another node
//!   answers `busy` meanwhile, and a node killed mid-upload lets it expire.
//! - Quota: checked and reserved in one transaction holding the user's
//!   advisory lock, so uploads on two nodes cannot both fit the same room.
//! - Sweep: one node at a time (an advisory lock) removes unfinished
//!   uploads idle past the retention.
//!
//! Blocking, like the disk store: callers use `run_blocking`.

mod download;
mod organize;
mod pool;
mod publish;
mod schema;
mod sweep;
mod tree;
mod unfinished;
mod upload;
mod write;

use std::sync::Arc;
use std::time::Duration;

use postgres::Transaction;

use super::config::FilesConfig;
use super::error::{FileError, FileResult};
use super::sweep::SweepReport;
use crate::store::pg::{PgConn, PgTarget};

pub use download::PgDownload;
pub use pool::{MAX_CONNS, WAIT};
pub use upload::PgUpload;

use pool::{Pool, db};

/// The smallest content row: 1 MiB. A wire chunk this large or larger is
/// stored as one row as it came (the CLI sends 4 MiB,
/// `client::transfer::CHUNK`: one row and one round trip per chunk);
/// smaller writes (a web page's, a hostile peer's one-byte chunks) are
/// gathered up to this first, so rows never multiply per byte. It is also
/// what an upload holds in memory between two chunks at most, so a
/// connection's eight open uploads pin under 8 MiB.
pub const MIN_ROW: usize = 1 << 20;

/// How long an upload stays claimed by the connection writing it after
/// its last write: a client that pauses longer may find another node
/// resumed its upload (and its own next write is then refused).
pub const LEASE: Duration = Duration::from_secs(60);

/// Advisory-lock class of per-user locks ("file" in ASCII).
const USER_LOCK: i32 = 0x6669_6c65;

/// The store: a connection pool and the configuration. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) inner: Arc<PgInner>,
}

pub(crate) struct PgInner {
    pub pool: Pool,
    pub config: FilesConfig,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, creates or upgrades the tables, and sweeps expired
    /// unfinished uploads (unless another node is sweeping).
    pub fn open(cfg: PgTarget, config: FilesConfig) -> FileResult<(PgStore, SweepReport)> {
        let mut first = PgConn::open(cfg.clone()).map_err(|e| FileError::Internal {
            doing: "connecting to PostgreSQL for files",
            source: std::io::Error::other(e),
        })?;
        schema::migrate(&mut first)?;
        drop(first);
        let store = PgStore {
            inner: Arc::new(PgInner {
                pool: Pool::new(cfg),
                config,
            }),
        };
        let report = store.sweep()?;
        Ok((store, report))
    }

    /// The configuration in force.
    pub fn config(&self) -> &FilesConfig {
        &self.inner.config
    }
}

/// Serialises, across every node, the changes of one user's tree and
/// quota (begin, publish, remove) until the transaction ends.
pub(crate) fn lock_user(tx: &mut Transaction<'_>, user: i64) -> Result<(), postgres::Error> {
    let key = i32::try_from(user.rem_euclid(i64::from(i32::MAX))).unwrap_or(0);
    tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&USER_LOCK, &key])?;
    Ok(())
}

/// Seconds since the epoch, as entries record times.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A size as PostgreSQL stores it (BIGINT); sizes never reach 2^63.
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A size read back (never negative when sockit wrote it).
pub(crate) fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The parent directory of a normalised path (`""` for the root).
pub(crate) fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// What a database error means for step `doing` (re-exported for the
/// submodules).
pub(crate) fn dberr(doing: &'static str) -> impl Fn(postgres::Error) -> FileError {
    db(doing)
}
