//! The shares store behind one small interface: SQLite (`db`, one node:
//! `DATA/shares.db`, download coverage in this node's memory) or
//! PostgreSQL (`db_pg`, a cluster: every table, coverage included, shared
//! by every node). Each method is one step with the same meaning on both;
//! the rules in `shares` never know which they have.
//!
//! Blocking, like both drivers: called from `spawn_blocking`.

use std::path::Path;

use rusqlite::Connection;

use super::coverage::Coverage;
use super::db::NewRow;
use super::{
    Kind, SHARES_DB, ShareError, ShareInfo, ShareResult, ShareState, SharedFile, UploadRecord,
    UploadStats, coverage_pg, db, db_pg, upload, upload_pg,
};
use crate::store::Backend;
use crate::store::pg::{self, PgConn};

/// Advisory lock class ("shar" in ASCII) that a create holds for its
/// owner on PostgreSQL, so two nodes' creates for one user count each
/// other (the per-hour limit, the shared bytes) as SQLite's immediate
/// transaction does on one node.
const CREATE_LOCK: i32 = 0x7368_6172;

/// One node's connection to the shares store.
pub(super) enum Store {
    /// `DATA/shares.db`, and the coverage of this node's downloads.
    Sqlite {
        /// The connection.
        conn: Connection,
        /// Bytes sent per downloader (`coverage`).
        coverage: Coverage,
    },
    /// The cluster's PostgreSQL.
    Pg(Box<PgConn>),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Store::Sqlite { .. } => "Store::Sqlite",
            Store::Pg(_) => "Store::Pg",
        })
    }
}

fn pg_err(doing: &'static str) -> impl Fn(postgres::Error) -> ShareError {
    move |e| ShareError::Internal {
        doing,
        source: Box::new(e),
    }
}

impl Store {
    /// Opens the store `backend` names: `DATA/shares.db` (created 0600),
    /// or the cluster's PostgreSQL, migrating its tables (`data_dir` is
    /// then not touched).
    pub(super) fn open(data_dir: &Path, backend: &Backend) -> ShareResult<Store> {
        match backend {
            Backend::Sqlite => {
                let conn = crate::store::open(
                    &data_dir.join(SHARES_DB),
                    db::MIGRATIONS,
                    crate::store::Durability::Full,
                )
                .map_err(|e| ShareError::Internal {
                    doing: "opening shares.db",
                    source: Box::new(e),
                })?;
                Ok(Store::Sqlite {
                    conn,
                    coverage: Coverage::default(),
                })
            }
            Backend::Postgres(cfg) => {
                let internal = |e: pg::PgError| ShareError::Internal {
                    doing: "opening the shares tables in PostgreSQL",
                    source: Box::new(e),
                };
                let mut c = PgConn::open((**cfg).clone()).map_err(internal)?;
                pg::migrate_in(&mut c, db_pg::MIGRATIONS_TABLE, db_pg::MIGRATIONS)
                    .map_err(internal)?;
                Ok(Store::Pg(Box::new(c)))
            }
        }
    }

    /// Runs the SQLite or the PostgreSQL form of one step; `doing` names
    /// it for the error.
    fn run<T>(
        &mut self,
        doing: &'static str,
        lite: impl FnOnce(&Connection) -> rusqlite::Result<T>,
        pg: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> ShareResult<T> {
        match self {
            Store::Sqlite { conn, .. } => lite(conn).map_err(ShareError::db(doing)),
            Store::Pg(c) => c.with(pg).map_err(pg_err(doing)),
        }
    }

    pub(super) fn tidy(&mut self, now: u64, keep: u64) -> ShareResult<()> {
        self.run(
            "tidying",
            |c| db::tidy(c, now, keep),
            |c| db_pg::tidy(c, now, keep),
        )
    }

    /// Records a share (and a folder's snapshot) in one transaction, after
    /// `check` accepted the owner's shares created since `since` and the
    /// bytes of their available shares (the limits are the caller's).
    pub(super) fn create(
        &mut self,
        row: &NewRow<'_>,
        kind: &Kind<'_>,
        since: u64,
        check: impl FnOnce(u64, u64) -> ShareResult<()>,
    ) -> ShareResult<ShareInfo> {
        match self {
            Store::Sqlite { conn, .. } => {
                let e = ShareError::db;
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(e("starting a create"))?;
                let recent =
                    db::created_since(&tx, row.owner, since).map_err(e("counting creates"))?;
                let shared = db::shared_bytes(&tx, row.owner).map_err(e("summing shared bytes"))?;
                check(recent, shared)?;
                let num = db::insert(&tx, row).map_err(e("recording a share"))?;
                match kind {
                    Kind::File => {}
                    Kind::Dir(files) => super::dir::insert(&tx, num, files)
                        .map_err(e("recording a folder share"))?,
                    Kind::Upload(stats) => upload::insert_link(&tx, num, stats)
                        .map_err(e("recording an upload link"))?,
                }
                let mut info = db::by_num(&tx, num)
                    .map_err(e("reading a share"))?
                    .ok_or(ShareError::NotFound)?;
                info.upload = upload::stats(&tx, num).map_err(e("reading an upload link"))?;
                tx.commit().map_err(e("committing a share"))?;
                Ok(info)
            }
            Store::Pg(c) => {
                let e = pg_err;
                let client = c.client().map_err(e("connecting to PostgreSQL"))?;
                let mut tx = client.transaction().map_err(e("starting a create"))?;
                let key =
                    i32::try_from(row.owner.rem_euclid(i64::from(i32::MAX))).unwrap_or_default();
                tx.execute(
                    "SELECT pg_advisory_xact_lock($1, $2)",
                    &[&CREATE_LOCK, &key],
                )
                .map_err(e("locking the owner's shares"))?;
                let recent = db_pg::created_since(&mut tx, row.owner, since)
                    .map_err(e("counting creates"))?;
                let shared =
                    db_pg::shared_bytes(&mut tx, row.owner).map_err(e("summing shared bytes"))?;
                check(recent, shared)?;
                let num = db_pg::insert(&mut tx, row).map_err(e("recording a share"))?;
                match kind {
                    Kind::File => {}
                    Kind::Dir(files) => db_pg::insert_files(&mut tx, num, files)
                        .map_err(e("recording a folder share"))?,
                    Kind::Upload(stats) => upload_pg::insert_link(&mut tx, num, stats)
                        .map_err(e("recording an upload link"))?,
                }
                let mut info = db_pg::by_num(&mut tx, num)
                    .map_err(e("reading a share"))?
                    .ok_or(ShareError::NotFound)?;
                info.upload =
                    upload_pg::stats(&mut tx, num).map_err(e("reading an upload link"))?;
                tx.commit().map_err(e("committing a share"))?;
                Ok(info)
            }
        }
    }

    pub(super) fn list(&mut self, owner: i64) -> ShareResult<Vec<ShareInfo>> {
        let mut list = self.run(
            "listing shares",
            |c| db::list(c, owner),
            |c| db_pg::list(c, owner),
        )?;
        for s in &mut list {
            self.fill(s)?;
        }
        Ok(list)
    }

    /// Link `num`'s limits and counts; `None` for a download share.
    pub(super) fn upload_stats(&mut self, num: i64) -> ShareResult<Option<UploadStats>> {
        self.run(
            "reading an upload link",
            |c| upload::stats(c, num),
            |c| upload_pg::stats(c, num),
        )
    }

    /// Adds an upload link's details to `share`.
    pub(super) fn fill(&mut self, share: &mut ShareInfo) -> ShareResult<()> {
        share.upload = self.upload_stats(share.num)?;
        Ok(())
    }

    /// Whether share `num` is an upload link.
    pub(super) fn is_upload(&mut self, num: i64) -> ShareResult<bool> {
        Ok(self.upload_stats(num)?.is_some())
    }

    /// In one transaction, with link `num`'s row locked: reads it (its
    /// `upload` filled in), lets `check` refuse, then counts `rec` in its
    /// limits and logs it; the log row's `seq`.
    pub(super) fn claim_upload(
        &mut self,
        num: i64,
        rec: &UploadRecord,
        b3: &[u8; 32],
        check: impl FnOnce(&ShareInfo) -> ShareResult<()>,
    ) -> ShareResult<i64> {
        match self {
            Store::Sqlite { conn, .. } => {
                let e = ShareError::db;
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(e("starting an upload's claim"))?;
                let mut share = db::by_num(&tx, num)
                    .map_err(e("finding an upload link"))?
                    .ok_or(ShareError::NotFound)?;
                share.upload = upload::stats(&tx, num).map_err(e("reading an upload link"))?;
                check(&share)?;
                let seq = upload::take(&tx, num, rec, b3).map_err(e("logging an upload"))?;
                tx.commit().map_err(e("committing an upload's claim"))?;
                Ok(seq)
            }
            Store::Pg(c) => {
                let e = pg_err;
                let client = c.client().map_err(e("connecting to PostgreSQL"))?;
                let mut tx = client
                    .transaction()
                    .map_err(e("starting an upload's claim"))?;
                upload_pg::lock_link(&mut tx, num).map_err(e("locking an upload link"))?;
                let mut share = db_pg::by_num(&mut tx, num)
                    .map_err(e("finding an upload link"))?
                    .ok_or(ShareError::NotFound)?;
                share.upload =
                    upload_pg::stats(&mut tx, num).map_err(e("reading an upload link"))?;
                check(&share)?;
                let seq = upload_pg::take(&mut tx, num, rec, b3).map_err(e("logging an upload"))?;
                tx.commit().map_err(e("committing an upload's claim"))?;
                Ok(seq)
            }
        }
    }

    /// Deletes log row `seq` of link `num` and gives its place back.
    pub(super) fn release_upload(&mut self, num: i64, seq: i64) -> ShareResult<()> {
        self.run(
            "releasing an upload",
            |c| upload::release(c, num, seq),
            |c| upload_pg::release(c, num, seq),
        )
    }

    /// What link `num` took in, oldest first.
    pub(super) fn upload_records(&mut self, num: i64) -> ShareResult<Vec<UploadRecord>> {
        self.run(
            "reading an upload log",
            |c| upload::records(c, num),
            |c| upload_pg::records(c, num),
        )
    }

    pub(super) fn by_num(&mut self, num: i64) -> ShareResult<Option<ShareInfo>> {
        self.run(
            "finding a share",
            |c| db::by_num(c, num),
            |c| db_pg::by_num(c, num),
        )
    }

    pub(super) fn by_id(&mut self, h: &[u8; 32]) -> ShareResult<Option<ShareInfo>> {
        self.run(
            "finding a share",
            |c| db::by_id(c, h),
            |c| db_pg::by_id(c, h),
        )
    }

    pub(super) fn by_revoke(&mut self, h: &[u8; 32]) -> ShareResult<Option<ShareInfo>> {
        self.run(
            "finding a share",
            |c| db::by_revoke(c, h),
            |c| db_pg::by_revoke(c, h),
        )
    }

    /// Ends an available share; false when it had already ended. Its
    /// downloads in progress are forgotten.
    pub(super) fn end(&mut self, num: i64, state: ShareState, now: u64) -> ShareResult<bool> {
        if let Store::Sqlite { coverage, .. } = self {
            coverage.forget(num);
        }
        self.run(
            "ending a share",
            |c| db::end(c, num, state, now),
            |c| db_pg::end(c, num, state, now),
        )
    }

    pub(super) fn end_owner(&mut self, owner: i64, now: u64) -> ShareResult<usize> {
        self.run(
            "ending shares",
            |c| db::end_owner(c, owner, now),
            |c| db_pg::end_owner(c, owner, now),
        )
    }

    /// Records `span` of share `num` (of `size` bytes) as sent to `who`;
    /// true when that completed a download, which is then counted.
    pub(super) fn served(
        &mut self,
        num: i64,
        who: &str,
        span: (u64, u64),
        size: u64,
        now: u64,
    ) -> ShareResult<bool> {
        let doing = "counting a download";
        match self {
            Store::Sqlite { conn, coverage } => {
                let complete = coverage.record(num, who, span.0, span.1, size);
                if complete {
                    db::count_download(conn, num, now).map_err(ShareError::db(doing))?;
                }
                Ok(complete)
            }
            Store::Pg(c) => c
                .with(|c| coverage_pg::served(c, num, who, span, size, now))
                .map_err(pg_err(doing)),
        }
    }

    pub(super) fn files(&mut self, num: i64) -> ShareResult<Vec<SharedFile>> {
        self.run(
            "reading a folder share",
            |c| super::dir::load(c, num),
            |c| db_pg::files(c, num),
        )
    }

    pub(super) fn ended_e2e(&mut self) -> ShareResult<Vec<(i64, i64, String)>> {
        self.run("finding ended shares", db::ended_e2e, db_pg::ended_e2e)
    }

    pub(super) fn mark_purged(&mut self, num: i64) -> ShareResult<()> {
        self.run(
            "recording a removal",
            |c| db::mark_purged(c, num),
            |c| db_pg::mark_purged(c, num),
        )
    }
}
