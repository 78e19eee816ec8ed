//! Listing, inspecting and removing what a user holds in PostgreSQL;
//! usage and purge.

use postgres::Transaction;

use super::super::config::{ENTRY_CHARGE, MAX_LIST_ENTRIES};
use super::super::error::{FileError, FileResult};
use super::super::paths::RelPath;
use super::super::purge::Purged;
use super::super::quota::Usage;
use super::super::tree::{Entry, EntryKind, Listing, Removed};
use super::{PgStore, dberr, int, lock_user, uint};

/// Bytes charged for a user's published files and directories.
pub(crate) fn published_bytes(tx: &mut Transaction<'_>, user: i64) -> FileResult<u64> {
    let row = tx
        .query_one(
            "SELECT coalesce(sum(CASE WHEN is_dir THEN $2 ELSE greatest(size, $2) END), 0)::BIGINT
             FROM files_entries WHERE user_id = $1",
            &[&user, &int(ENTRY_CHARGE)],
        )
        .map_err(dberr("computing usage"))?;
    Ok(uint(row.get(0)))
}

/// Bytes reserved by a user's unfinished uploads (each at least one
/// entry's charge, plus the directories its publish will create).
pub(crate) fn staged_bytes(tx: &mut Transaction<'_>, user: i64) -> FileResult<u64> {
    let row = tx
        .query_one(
            "SELECT coalesce(sum(greatest(size, $2) + dirs * $2), 0)::BIGINT
             FROM files_uploads WHERE user_id = $1",
            &[&user, &int(ENTRY_CHARGE)],
        )
        .map_err(dberr("computing usage"))?;
    Ok(uint(row.get(0)))
}

fn entry(r: &postgres::Row) -> Entry {
    let is_dir: bool = r.get(1);
    let b3: Option<Vec<u8>> = r.get(4);
    Entry {
        name: r.get(0),
        kind: if is_dir {
            EntryKind::Dir
        } else {
            EntryKind::File
        },
        size: uint(r.get(2)),
        mtime: r.get(3),
        blake3: b3
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .map(blake3::Hash::from_bytes),
    }
}

fn parse(path: &str) -> FileResult<RelPath> {
    RelPath::parse(path).map_err(|e| FileError::bad_path(path, e))
}

impl PgStore {
    /// One page of a directory, as [`DiskStore::list_page`].
    ///
    /// [`DiskStore::list_page`]: super::super::DiskStore::list_page
    pub fn list_page(&self, user: i64, dir: &str, after: Option<&str>) -> FileResult<Listing> {
        if !dir.is_empty() {
            let e = self.stat(user, dir)?;
            if e.kind != EntryKind::Dir {
                return Err(FileError::WrongKind {
                    path: dir.to_owned(),
                    wanted: "a directory",
                    found: "a file",
                });
            }
        }
        let base = if dir.is_empty() {
            String::new()
        } else {
            parse(dir)?.as_str().to_owned()
        };
        let limit = i64::try_from(MAX_LIST_ENTRIES + 1).unwrap_or(i64::MAX);
        let mut conn = self.inner.pool.get()?;
        let rows = conn.run("listing a directory", |c| {
            c.query(
                "SELECT name, is_dir, size, mtime, blake3 FROM files_entries
                 WHERE user_id = $1 AND parent = $2 AND name > $3 ORDER BY name LIMIT $4",
                &[&user, &base, &after.unwrap_or(""), &limit],
            )
            .map_err(dberr("listing a directory"))
        })?;
        let mut out = Listing::default();
        for r in rows.iter().take(MAX_LIST_ENTRIES) {
            out.entries.push(entry(r));
        }
        if rows.len() > MAX_LIST_ENTRIES {
            out.truncated = true;
            out.next = out.entries.last().map(|e| e.name.clone());
        }
        Ok(out)
    }

    /// Describes one path; `""` is the user's root.
    pub fn stat(&self, user: i64, path: &str) -> FileResult<Entry> {
        if path.is_empty() {
            return Ok(Entry {
                name: String::new(),
                kind: EntryKind::Dir,
                size: 0,
                mtime: 0,
                blake3: None,
            });
        }
        let rel = parse(path)?;
        let mut conn = self.inner.pool.get()?;
        let row = conn.run("inspecting a path", |c| {
            c.query_opt(
                "SELECT name, is_dir, size, mtime, blake3 FROM files_entries
                 WHERE user_id = $1 AND path = $2",
                &[&user, &rel.as_str()],
            )
            .map_err(dberr("inspecting a path"))
        })?;
        row.map(|r| entry(&r)).ok_or_else(|| FileError::NotFound {
            path: rel.to_string(),
        })
    }

    /// Removes a file, or a directory (a non-empty one only with
    /// `recursive`), with its content, in one transaction.
    pub fn remove(&self, user: i64, path: &str, recursive: bool) -> FileResult<Removed> {
        let rel = parse(path)?;
        let p = rel.as_str();
        let mut conn = self.inner.pool.get()?;
        conn.run("removing", |c| {
            let err = dberr("removing");
            let mut tx = c.transaction().map_err(&err)?;
            lock_user(&mut tx, user).map_err(&err)?;
            let Some(top) = tx
                .query_opt(
                    "SELECT is_dir FROM files_entries WHERE user_id = $1 AND path = $2",
                    &[&user, &p],
                )
                .map_err(&err)?
            else {
                return Err(FileError::NotFound {
                    path: rel.to_string(),
                });
            };
            let below = "(path > $2 || '/' AND path < $2 || '0')";
            if top.get::<_, bool>(0) && !recursive {
                let child = tx
                    .query_opt(
                        &format!(
                            "SELECT 1 FROM files_entries WHERE user_id = $1 AND {below} LIMIT 1"
                        ),
                        &[&user, &p],
                    )
                    .map_err(&err)?;
                if child.is_some() {
                    return Err(FileError::NotEmpty {
                        path: rel.to_string(),
                    });
                }
            }
            // `path/` .. `path0` is exactly the names below `path/` ('0'
            // follows '/'; the columns sort by bytes).
            let gone = tx
                .query(
                    &format!(
                        "DELETE FROM files_entries WHERE user_id = $1 AND (path = $2 OR {below})
                         RETURNING is_dir, size, content"
                    ),
                    &[&user, &p],
                )
                .map_err(&err)?;
            let mut removed = Removed::default();
            let mut contents = Vec::new();
            for r in &gone {
                if r.get::<_, bool>(0) {
                    removed.dirs += 1;
                } else {
                    removed.files += 1;
                    removed.bytes += uint(r.get(1));
                    if let Some(c) = r.get::<_, Option<i64>>(2) {
                        contents.push(c);
                    }
                }
            }
            tx.execute(
                "DELETE FROM files_chunks WHERE content = ANY($1)",
                &[&contents],
            )
            .map_err(&err)?;
            tx.commit().map_err(&err)?;
            Ok(removed)
        })
    }

    /// A user's usage against their quota.
    pub fn usage(&self, user: i64) -> FileResult<Usage> {
        let quota = self.inner.config.quota;
        let mut conn = self.inner.pool.get()?;
        conn.run("computing usage", |c| {
            let err = dberr("computing usage");
            let mut tx = c.transaction().map_err(&err)?;
            let published = published_bytes(&mut tx, user)?;
            let staged = staged_bytes(&mut tx, user)?;
            Ok(Usage {
                published,
                staged,
                quota,
            })
        })
    }

    /// Deletes every file, directory and unfinished upload of `user`.
    pub fn purge_user(&self, user: i64) -> FileResult<Purged> {
        let mut conn = self.inner.pool.get()?;
        conn.run("removing a user's files", |c| {
            let err = dberr("removing a user's files");
            let mut tx = c.transaction().map_err(&err)?;
            lock_user(&mut tx, user).map_err(&err)?;
            let row = tx
                .query_one(
                    "WITH e AS (DELETE FROM files_entries WHERE user_id = $1
                                RETURNING is_dir, size, content),
                          u AS (DELETE FROM files_uploads WHERE user_id = $1 RETURNING content),
                          c AS (DELETE FROM files_chunks WHERE content IN
                                (SELECT content FROM e WHERE content IS NOT NULL
                                 UNION ALL SELECT content FROM u))
                     SELECT (SELECT count(*) FILTER (WHERE NOT is_dir) FROM e),
                            (SELECT count(*) FILTER (WHERE is_dir) FROM e),
                            (SELECT coalesce(sum(size) FILTER (WHERE NOT is_dir), 0)::BIGINT FROM e),
                            (SELECT count(*) FROM u)",
                    &[&user],
                )
                .map_err(&err)?;
            tx.commit().map_err(&err)?;
            Ok(Purged {
                files: Removed {
                    files: uint(row.get(0)),
                    dirs: uint(row.get(1)),
                    bytes: uint(row.get(2)),
                },
                partials: uint(row.get(3)),
            })
        })
    }
}
