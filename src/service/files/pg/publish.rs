//! Finishing an upload on PostgreSQL: verify the hash computed while
//! streaming, then one transaction creates the missing directories, points
//! the entry at the upload's content and deletes the upload row. Until it
//! commits no node lists or serves the file; after, every node does.

use super::super::publish::verify;
use postgres::Transaction;

use super::super::error::{FileError, FileResult};
use super::super::index::Hashes;
use super::super::paths::RelPath;
use super::super::publish::Published;
use super::upload::PgUpload;
use super::write::taken_over;
use super::{dberr, int, now_secs, parent_of, uint};

/// A published file being replaced.
pub(crate) struct Replaced {
    pub size: u64,
    pub content: Option<i64>,
}

/// Refuses a destination that is a directory, under a file, or an existing
/// file without `force`; returns what is replaced and the directories a
/// publish must create (outermost first).
pub(crate) fn check_destination(
    tx: &mut Transaction<'_>,
    user: i64,
    path: &RelPath,
    force: bool,
) -> FileResult<(Option<Replaced>, Vec<String>)> {
    let err = dberr("checking the destination");
    let mut ancestors = Vec::new();
    let mut at = parent_of(path.as_str());
    while !at.is_empty() {
        ancestors.push(at.to_owned());
        at = parent_of(at);
    }
    ancestors.reverse();
    let rows = tx
        .query(
            "SELECT path, is_dir FROM files_entries WHERE user_id = $1 AND path = ANY($2)",
            &[&user, &ancestors],
        )
        .map_err(&err)?;
    let mut missing = Vec::new();
    for a in ancestors {
        match rows.iter().find(|r| r.get::<_, &str>(0) == a) {
            Some(r) if !r.get::<_, bool>(1) => {
                return Err(FileError::WrongKind {
                    path: super::super::escape_name(&a).into_owned(),
                    wanted: "a directory",
                    found: "a file",
                });
            }
            Some(_) => {}
            None => missing.push(a),
        }
    }
    let existing = tx
        .query_opt(
            "SELECT is_dir, size, content FROM files_entries WHERE user_id = $1 AND path = $2",
            &[&user, &path.as_str()],
        )
        .map_err(&err)?;
    let replaced = match existing {
        None => None,
        Some(r) if r.get::<_, bool>(0) => {
            return Err(FileError::WrongKind {
                path: path.to_string(),
                wanted: "a file",
                found: "a directory",
            });
        }
        Some(_) if !force => {
            return Err(FileError::Exists {
                path: path.to_string(),
            });
        }
        Some(r) => Some(Replaced {
            size: uint(r.get(1)),
            content: r.get(2),
        }),
    };
    Ok((replaced, missing))
}

/// Creates directory entries (their parents exist or come first).
pub(crate) fn create_dirs(tx: &mut Transaction<'_>, user: i64, dirs: &[String]) -> FileResult<()> {
    for d in dirs {
        let name = d.rsplit_once('/').map_or(d.as_str(), |(_, n)| n);
        tx.execute(
            "INSERT INTO files_entries (user_id, path, parent, name, is_dir, size, mtime)
             VALUES ($1, $2, $3, $4, true, 0, $5) ON CONFLICT DO NOTHING",
            &[&user, &d.as_str(), &parent_of(d), &name, &now_secs()],
        )
        .map_err(dberr("creating a directory"))?;
    }
    Ok(())
}

impl PgUpload {
    /// Completes the upload, as [`DiskUpload::finish_with`]: all bytes
    /// in, and the content hashes to what the sender said, or nothing is
    /// published (a mismatch deletes the upload).
    ///
    /// [`DiskUpload::finish_with`]: super::super::DiskUpload::finish_with
    pub fn finish_with(
        mut self,
        blake3: Option<&blake3::Hash>,
        md5: Option<&[u8; 16]>,
    ) -> FileResult<Published> {
        self.alive()?;
        if self.offset != self.size {
            return Err(FileError::BadOffset {
                expected: self.offset,
                got: self.size,
            });
        }
        let (actual, actual_md5, mismatch) = verify(&self.blake3, self.md5.take(), blake3, md5)?;
        if let Some((expected, actual)) = mismatch {
            self.dead = true;
            self.discard()?;
            return Err(FileError::VerifyFailed { expected, actual });
        }
        let hashes = Hashes {
            blake3: actual,
            md5: actual_md5,
        };
        self.flush()?;
        match self.publish(&hashes) {
            Ok(replaced) => Ok(Published {
                path: self.path.clone(),
                size: self.size,
                hashes,
                replaced,
            }),
            Err(e) => {
                // Every byte is committed: a retry (with force, or after the
                // user moved things) resumes at the end.
                if let Err(err) = self.release() {
                    tracing::warn!(error = %err, "could not release a verified upload");
                }
                Err(e)
            }
        }
    }

    /// The publishing transaction; returns whether a file was replaced.
    fn publish(&mut self, hashes: &Hashes) -> FileResult<bool> {
        let inner = std::sync::Arc::clone(&self.inner);
        let mut conn = inner.pool.get()?;
        conn.run("publishing an upload", |c| {
            let err = dberr("publishing an upload");
            let mut tx = c.transaction().map_err(&err)?;
            super::lock_user(&mut tx, self.user).map_err(&err)?;
            let n = tx
                .execute(
                    "DELETE FROM files_uploads
                     WHERE user_id = $1 AND path = $2 AND content = $3 AND lease = $4
                       AND held = $5",
                    &[
                        &self.user,
                        &self.path.as_str(),
                        &self.content,
                        &self.token,
                        &int(self.size),
                    ],
                )
                .map_err(&err)?;
            if n != 1 {
                return Err(taken_over(&self.path));
            }
            let (replaced, missing) =
                check_destination(&mut tx, self.user, &self.path, self.force)?;
            create_dirs(&mut tx, self.user, &missing)?;
            let name = self.path.file_name();
            tx.execute(
                "INSERT INTO files_entries
                     (user_id, path, parent, name, is_dir, size, mtime, content, blake3, md5)
                 VALUES ($1, $2, $3, $4, false, $5, $6, $7, $8, $9)
                 ON CONFLICT (user_id, path) DO UPDATE SET
                     size = EXCLUDED.size, mtime = EXCLUDED.mtime, content = EXCLUDED.content,
                     blake3 = EXCLUDED.blake3, md5 = EXCLUDED.md5",
                &[
                    &self.user,
                    &self.path.as_str(),
                    &parent_of(self.path.as_str()),
                    &name,
                    &int(self.size),
                    &now_secs(),
                    &self.content,
                    &hashes.blake3.as_bytes().as_slice(),
                    &hashes.md5.as_ref().map(|m| m.as_slice()),
                ],
            )
            .map_err(&err)?;
            if let Some(old) = replaced.as_ref().and_then(|r| r.content) {
                tx.execute("DELETE FROM files_chunks WHERE content = $1", &[&old])
                    .map_err(&err)?;
            }
            tx.commit().map_err(&err)?;
            self.dead = true;
            Ok(replaced.is_some())
        })
    }
}
