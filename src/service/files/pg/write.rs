//! Streaming into an upload on PostgreSQL: chunks at exactly the expected
//! offset, hashed as they arrive, each row committed with the offset it
//! advances to; pausing, cancelling and losing the claim.

use md5::Digest;

use super::super::error::{FileError, FileResult};
use super::super::paths::RelPath;
use super::super::write::check_chunk;
use super::upload::PgUpload;
use super::{LEASE, MIN_ROW, dberr, int};

impl PgUpload {
    /// Appends `bytes` at `offset` (which must be [`PgUpload::offset`]),
    /// as [`DiskUpload::write`]; returns the new offset.
    ///
    /// [`DiskUpload::write`]: super::super::DiskUpload::write
    pub fn write(&mut self, offset: u64, bytes: &[u8]) -> FileResult<u64> {
        self.alive()?;
        let end = check_chunk(
            self.inner.config.max_chunk,
            self.offset,
            self.size,
            offset,
            bytes,
        )?;
        self.blake3.update(bytes);
        if let Some(m) = self.md5.as_mut() {
            m.update(bytes);
        }
        // A whole chunk with nothing pending goes straight into its row.
        let r = if self.pending.is_empty() && bytes.len() >= MIN_ROW {
            self.commit_row(bytes)
        } else {
            self.pending.extend_from_slice(bytes);
            if self.pending.len() >= MIN_ROW {
                self.flush()
            } else {
                Ok(())
            }
        };
        if let Err(e) = r {
            // The hashers saw these bytes: this upload cannot go on, but
            // its committed rows stay for a resume.
            self.dead = true;
            return Err(e);
        }
        self.offset = end;
        crate::ops::metrics::file_bytes_in(bytes.len());
        Ok(self.offset)
    }

    /// Commits what is pending.
    pub(crate) fn flush(&mut self) -> FileResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        self.commit_row(&pending)
    }

    /// Inserts one row at `held` and advances `held` past it, in one
    /// transaction that also renews the claim; refused when another
    /// connection took the upload over.
    fn commit_row(&mut self, bytes: &[u8]) -> FileResult<()> {
        let new_held = self.held + bytes.len() as u64;
        let mut conn = self.inner.pool.get()?;
        conn.run("storing a chunk", |c| {
            let err = dberr("storing a chunk");
            let mut tx = c.transaction().map_err(&err)?;
            // Like the disk store's fsync every 64 MiB: a chunk's commit
            // does not wait for its WAL flush. A PostgreSQL crash may lose
            // the last few chunks, never part of one (the offset commits
            // with its row); pause and publish commit synchronously, which
            // flushes every earlier chunk too.
            tx.batch_execute("SET LOCAL synchronous_commit = off")
                .map_err(&err)?;
            let n = tx
                .execute(
                    "UPDATE files_uploads SET held = $5, updated = now(),
                         lease_until = now() + make_interval(secs => $6)
                     WHERE user_id = $1 AND path = $2 AND content = $3 AND lease = $4
                       AND held = $7",
                    &[
                        &self.user,
                        &self.path.as_str(),
                        &self.content,
                        &self.token,
                        &int(new_held),
                        &LEASE.as_secs_f64(),
                        &int(self.held),
                    ],
                )
                .map_err(&err)?;
            if n != 1 {
                return Err(taken_over(&self.path));
            }
            tx.execute(
                "INSERT INTO files_chunks (content, off, bytes) VALUES ($1, $2, $3)",
                &[&self.content, &int(self.held), &bytes],
            )
            .map_err(&err)?;
            tx.commit().map_err(&err)
        })?;
        self.held = new_held;
        Ok(())
    }

    /// Stops for now: everything received is committed (durably: the
    /// release is a synchronous commit, which flushes the chunks' WAL
    /// before it) and the claim released, so the next put of this file, on
    /// any node, resumes at the returned offset.
    pub fn pause(mut self) -> FileResult<u64> {
        self.alive()?;
        self.flush()?;
        self.release()?;
        Ok(self.offset)
    }

    /// Releases the claim (keeping the rows).
    pub(crate) fn release(&mut self) -> FileResult<()> {
        let mut conn = self.inner.pool.get()?;
        conn.run("pausing an upload", |c| {
            c.execute(
                "UPDATE files_uploads SET lease = NULL, lease_until = NULL, updated = now()
                 WHERE user_id = $1 AND path = $2 AND lease = $3",
                &[&self.user, &self.path.as_str(), &self.token],
            )
            .map_err(dberr("pausing an upload"))
        })?;
        Ok(())
    }

    /// Gives up: the rows and the reservation are deleted.
    pub fn abort(mut self) -> FileResult<()> {
        self.dead = true;
        self.discard()
    }

    /// Deletes this upload's row and content (if still ours).
    pub(crate) fn discard(&mut self) -> FileResult<()> {
        let mut conn = self.inner.pool.get()?;
        conn.run("discarding an upload", |c| {
            let err = dberr("discarding an upload");
            let mut tx = c.transaction().map_err(&err)?;
            let n = tx
                .execute(
                    "DELETE FROM files_uploads
                     WHERE user_id = $1 AND path = $2 AND content = $3 AND lease = $4",
                    &[&self.user, &self.path.as_str(), &self.content, &self.token],
                )
                .map_err(&err)?;
            if n == 1 {
                tx.execute(
                    "DELETE FROM files_chunks WHERE content = $1",
                    &[&self.content],
                )
                .map_err(&err)?;
            }
            tx.commit().map_err(&err)
        })
    }

    pub(crate) fn alive(&self) -> FileResult<()> {
        if self.dead {
            return Err(FileError::io(
                "using an upload",
                std::io::Error::other("this upload already failed; put the file again to resume"),
            ));
        }
        Ok(())
    }
}

/// The upload row is no longer this connection's.
pub(crate) fn taken_over(path: &RelPath) -> FileError {
    FileError::Busy {
        path: super::super::escape_name(path.as_str()).into_owned(),
        why: "another connection took this upload over after it stalled",
    }
}
