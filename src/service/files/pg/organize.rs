//! New folders and moves on the PostgreSQL store: the same rules as the
//! disk store's (`files::organize`), each one transaction under the user's
//! lock, so two nodes organising one user's tree take turns.

use postgres::Transaction;

use super::super::config::ENTRY_CHARGE;
use super::super::error::{FileError, FileResult};
use super::super::organize::Moved;
use super::super::paths::RelPath;
use super::super::tree::EntryKind;
use super::publish::create_dirs;
use super::tree::{published_bytes, staged_bytes};
use super::{PgStore, dberr, lock_user, parent_of};

fn parse(path: &str) -> FileResult<RelPath> {
    RelPath::parse(path).map_err(|e| FileError::bad_path(path, e))
}

fn esc(p: &str) -> String {
    super::super::escape_name(p).into_owned()
}

/// Whether `path` is there: `Some(true)` a directory, `Some(false)` a file.
fn kind_at(tx: &mut Transaction<'_>, user: i64, path: &str) -> FileResult<Option<bool>> {
    Ok(tx
        .query_opt(
            "SELECT is_dir FROM files_entries WHERE user_id = $1 AND path = $2",
            &[&user, &path],
        )
        .map_err(dberr("inspecting a path"))?
        .map(|r| r.get(0)))
}

impl PgStore {
    /// Creates the directory `path`, as [`DiskStore::mkdir`]: its parent
    /// must exist unless `parents`; each directory made is charged
    /// [`ENTRY_CHARGE`] against the quota, checked before any is made.
    ///
    /// [`DiskStore::mkdir`]: super::super::DiskStore::mkdir
    pub fn mkdir(&self, user: i64, path: &str, parents: bool) -> FileResult<u64> {
        let rel = parse(path)?;
        let quota = self.inner.config.quota;
        let mut conn = self.inner.pool.get()?;
        conn.run("creating a directory", |c| {
            let err = dberr("creating a directory");
            let mut tx = c.transaction().map_err(&err)?;
            lock_user(&mut tx, user).map_err(&err)?;
            let mut missing = Vec::new();
            let mut at = parent_of(rel.as_str());
            while !at.is_empty() {
                match kind_at(&mut tx, user, at)? {
                    Some(true) => break,
                    Some(false) => {
                        return Err(FileError::WrongKind {
                            path: esc(at),
                            wanted: "a directory",
                            found: "a file",
                        });
                    }
                    None => missing.push(at.to_owned()),
                }
                at = parent_of(at);
            }
            if !missing.is_empty() && !parents {
                return Err(FileError::NotFound {
                    path: esc(parent_of(rel.as_str())),
                });
            }
            match kind_at(&mut tx, user, rel.as_str())? {
                Some(true) if parents => return Ok(0),
                Some(_) => {
                    return Err(FileError::Taken {
                        path: rel.to_string(),
                    });
                }
                None => {}
            }
            let used = published_bytes(&mut tx, user)?.saturating_add(staged_bytes(&mut tx, user)?);
            let made = missing.len() as u64 + 1;
            let needed = made.saturating_mul(ENTRY_CHARGE);
            if used.saturating_add(needed) > quota {
                return Err(FileError::QuotaExceeded {
                    used,
                    quota,
                    needed,
                });
            }
            missing.reverse();
            missing.push(rel.as_str().to_owned());
            create_dirs(&mut tx, user, &missing)?;
            tx.commit().map_err(&err)?;
            Ok(made)
        })
    }

    /// Moves (or renames) `from` to `to`, as [`DiskStore::rename`]: `to`'s
    /// parent must exist, nothing is replaced, a directory cannot move into
    /// itself; a directory moves with everything below it.
    ///
    /// [`DiskStore::rename`]: super::super::DiskStore::rename
    pub fn rename(&self, user: i64, from: &str, to: &str) -> FileResult<Moved> {
        let src = parse(from)?;
        let dst = parse(to)?;
        let mut conn = self.inner.pool.get()?;
        conn.run("moving", |c| {
            let err = dberr("moving");
            let mut tx = c.transaction().map_err(&err)?;
            lock_user(&mut tx, user).map_err(&err)?;
            let kind = match kind_at(&mut tx, user, src.as_str())? {
                None => {
                    return Err(FileError::NotFound {
                        path: src.to_string(),
                    });
                }
                Some(true) => EntryKind::Dir,
                Some(false) => EntryKind::File,
            };
            if src == dst {
                return Ok(Moved { kind });
            }
            let below = format!("{}/", src.as_str());
            if kind == EntryKind::Dir && dst.as_str().starts_with(&below) {
                return Err(FileError::IntoItself {
                    path: src.to_string(),
                });
            }
            let parent = parent_of(dst.as_str());
            if !parent.is_empty() {
                match kind_at(&mut tx, user, parent)? {
                    Some(true) => {}
                    Some(false) => {
                        return Err(FileError::WrongKind {
                            path: esc(parent),
                            wanted: "a directory",
                            found: "a file",
                        });
                    }
                    None => return Err(FileError::NotFound { path: esc(parent) }),
                }
            }
            if kind_at(&mut tx, user, dst.as_str())?.is_some() {
                return Err(FileError::Taken {
                    path: dst.to_string(),
                });
            }
            let (s, d) = (src.as_str(), dst.as_str());
            let name = d.rsplit_once('/').map_or(d, |(_, n)| n);
            tx.execute(
                "UPDATE files_entries SET path = $3, parent = $4, name = $5
                 WHERE user_id = $1 AND path = $2",
                &[&user, &s, &d, &parent, &name],
            )
            .map_err(&err)?;
            if kind == EntryKind::Dir {
                // `s/` .. `s0` is exactly the names below `s/` (see remove).
                let cut = i32::try_from(s.len() + 1).unwrap_or(i32::MAX);
                tx.execute(
                    "UPDATE files_entries
                     SET path = $3 || substr(path, $4), parent = $3 || substr(parent, $4)
                     WHERE user_id = $1 AND path > $2 || '/' AND path < $2 || '0'",
                    &[&user, &s, &d, &cut],
                )
                .map_err(&err)?;
            }
            tx.commit().map_err(&err)?;
            Ok(Moved { kind })
        })
    }
}
