//! Sweeping unfinished uploads on PostgreSQL: those idle past the
//! retention and not claimed by a live connection are deleted with their
//! content. One node sweeps at a time (a transaction-level advisory lock);
//! a node that finds the lock taken skips, since the other is doing it.

use super::super::error::FileResult;
use super::super::sweep::SweepReport;
use super::{PgStore, dberr, uint};

/// Key of the sweep's advisory lock ("fsweep" in ASCII).
const SWEEP_LOCK: i64 = 0x6673_7765_6570;

impl PgStore {
    /// Removes expired unfinished uploads (see the module docs).
    pub fn sweep(&self) -> FileResult<SweepReport> {
        let retention = self.inner.config.partial_retention.as_secs_f64();
        let mut conn = self.inner.pool.get()?;
        conn.run("sweeping unfinished uploads", |c| {
            let err = dberr("sweeping unfinished uploads");
            let mut tx = c.transaction().map_err(&err)?;
            let mine: bool = tx
                .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&SWEEP_LOCK])
                .map_err(&err)?
                .get(0);
            if !mine {
                return Ok(SweepReport::default());
            }
            let row = tx
                .query_one(
                    "WITH x AS (DELETE FROM files_uploads
                                WHERE updated < now() - make_interval(secs => $1)
                                  AND (lease_until IS NULL OR lease_until < now())
                                RETURNING content, held),
                          c AS (DELETE FROM files_chunks WHERE content IN (SELECT content FROM x))
                     SELECT count(*), coalesce(sum(held), 0)::BIGINT FROM x",
                    &[&retention],
                )
                .map_err(&err)?;
            let kept: i64 = tx
                .query_one("SELECT count(*) FROM files_uploads", &[])
                .map_err(&err)?
                .get(0);
            tx.commit().map_err(&err)?;
            let expired: i64 = row.get(0);
            Ok(SweepReport {
                expired: usize::try_from(expired).unwrap_or(0),
                expired_bytes: uint(row.get(1)),
                kept: usize::try_from(kept).unwrap_or(0),
                ..SweepReport::default()
            })
        })
    }
}
