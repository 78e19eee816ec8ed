//! Unfinished uploads on PostgreSQL as a user sees them: listed (`ls
//! --partial`) and cancelled (`rm --partial`), which deletes the content
//! and frees the reservation, from any node.

use super::super::config::{ENTRY_CHARGE, charge};
use super::super::error::{FileError, FileResult};
use super::super::paths::RelPath;
use super::super::unfinished::PartialInfo;
use super::{PgStore, dberr, uint};

fn parse(path: &str) -> FileResult<RelPath> {
    RelPath::parse(path).map_err(|e| FileError::bad_path(path, e))
}

impl PgStore {
    /// The user's unfinished uploads under `under` (`""`: all), by path.
    pub fn partials(&self, user: i64, under: &str) -> FileResult<Vec<PartialInfo>> {
        let dir = if under.is_empty() {
            None
        } else {
            Some(parse(under)?)
        };
        let mut conn = self.inner.pool.get()?;
        let rows = conn.run("listing unfinished uploads", |c| {
            c.query(
                "SELECT path, size, held, dirs, extract(epoch FROM updated)::BIGINT,
                        coalesce(lease_until > now(), false), fingerprint
                 FROM files_uploads WHERE user_id = $1 ORDER BY path",
                &[&user],
            )
            .map_err(dberr("listing unfinished uploads"))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let path: String = r.get(0);
            let Ok(p) = RelPath::parse(&path) else {
                continue;
            };
            if dir.as_ref().is_some_and(|d| !p.starts_with(d)) {
                continue;
            }
            let size = uint(r.get(1));
            out.push(PartialInfo {
                path,
                size,
                held: uint(r.get(2)).min(size),
                reserved: charge(size).saturating_add(uint(r.get(3)).saturating_mul(ENTRY_CHARGE)),
                mtime: r.get(4),
                running: r.get(5),
                fingerprint: r.get(6),
            });
        }
        Ok(out)
    }

    /// Cancels the unfinished upload of `path`, freeing its reservation
    /// (returned); `busy` while a connection on any node is writing it.
    pub fn cancel_upload(&self, user: i64, path: &str) -> FileResult<u64> {
        let rel = parse(path)?;
        let mut conn = self.inner.pool.get()?;
        conn.run("cancelling an upload", |c| {
            let err = dberr("cancelling an upload");
            let mut tx = c.transaction().map_err(&err)?;
            let row = tx
                .query_opt(
                    "SELECT content, size, dirs, coalesce(lease_until > now(), false)
                     FROM files_uploads WHERE user_id = $1 AND path = $2 FOR UPDATE",
                    &[&user, &rel.as_str()],
                )
                .map_err(&err)?;
            let Some(row) = row else {
                return Err(FileError::NoPartial {
                    path: rel.to_string(),
                });
            };
            if row.get::<_, bool>(3) {
                return Err(FileError::Busy {
                    path: rel.to_string(),
                    why: "another upload of this path is running",
                });
            }
            let content: i64 = row.get(0);
            tx.execute(
                "DELETE FROM files_uploads WHERE user_id = $1 AND path = $2",
                &[&user, &rel.as_str()],
            )
            .map_err(&err)?;
            tx.execute("DELETE FROM files_chunks WHERE content = $1", &[&content])
                .map_err(&err)?;
            tx.commit().map_err(&err)?;
            Ok(charge(uint(row.get(1)))
                .saturating_add(uint(row.get(2)).saturating_mul(ENTRY_CHARGE)))
        })
    }
}
