//! The hash index: BLAKE3 (and MD5 when asked) of every published file,
//! recorded at publish so a download never re-reads a whole file first.
//!
//! Kept in SQLite (`DATA/files/index.db`) rather than in sidecar files
//! (which would sit in the user's tree) or xattrs (not on every
//! filesystem). A row is trusted only while the file's inode, size and
//! mtime still match: the row is written just before the publishing rename
//! (which keeps the inode and mtime), so a crash on either side of the
//! rename leaves either a correct row or one that no longer matches. A
//! missing or stale row costs one re-hash on the next download, which then
//! records it again: correctness never depends on this index.

use std::io;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::error::{FileError, FileResult};
use super::fsx::Meta;
use crate::store::{self, Durability, Migration};

/// The schema, one step so far.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "files: hash index",
    sql: "CREATE TABLE files (
              user_id  INTEGER NOT NULL,
              path     TEXT    NOT NULL,
              size     INTEGER NOT NULL,
              ino      INTEGER NOT NULL,
              mtime_ns INTEGER NOT NULL,
              blake3   BLOB    NOT NULL,
              md5      BLOB,
              PRIMARY KEY (user_id, path)
          ) WITHOUT ROWID;",
}];

/// The hashes known for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hashes {
    /// BLAKE3 of the whole content.
    pub blake3: blake3::Hash,
    /// MD5 of the whole content, when an upload or download asked for it.
    pub md5: Option<[u8; 16]>,
}

/// The open index.
pub(crate) struct Index {
    conn: Connection,
}

fn db_err(doing: &'static str) -> impl Fn(rusqlite::Error) -> FileError {
    move |e| FileError::Internal {
        doing,
        source: io::Error::other(e),
    }
}

/// Stored as INTEGER: SQLite integers are signed 64-bit; sizes and inode
/// numbers never reach 2^63, and a wrapped value would only make a row
/// look stale (a re-hash), never wrong.
fn int(v: u64) -> i64 {
    v as i64
}

impl Index {
    /// Opens (creating) the index at `path`. `Normal` durability: a row
    /// lost to a power cut only costs a re-hash.
    pub(crate) fn open(path: &Path) -> FileResult<Index> {
        let conn =
            store::open(path, MIGRATIONS, Durability::Normal).map_err(|e| FileError::Internal {
                doing: "opening the file index",
                source: io::Error::other(e),
            })?;
        Ok(Index { conn })
    }

    /// Records the hashes of the file at `path`, identified by `meta`.
    pub(crate) fn record(&self, user: i64, path: &str, meta: &Meta, h: &Hashes) -> FileResult<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO files (user_id, path, size, ino, mtime_ns, blake3, md5)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    user,
                    path,
                    int(meta.size),
                    int(meta.ino),
                    meta.mtime_ns,
                    h.blake3.as_bytes().as_slice(),
                    h.md5.as_ref().map(|m| m.as_slice()),
                ])
            })
            .map_err(db_err("recording a hash"))?;
        Ok(())
    }

    /// The hashes recorded for `path` if they still describe the file
    /// `meta` (same inode, size and mtime).
    pub(crate) fn lookup(&self, user: i64, path: &str, meta: &Meta) -> FileResult<Option<Hashes>> {
        type Row = (i64, i64, i64, Vec<u8>, Option<Vec<u8>>);
        let row: Option<Row> = self
            .conn
            .prepare_cached(
                "SELECT size, ino, mtime_ns, blake3, md5 FROM files WHERE user_id = ?1 AND path = ?2",
            )
            .and_then(|mut st| {
                st.query_row(params![user, path], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()
            })
            .map_err(db_err("looking up a hash"))?;
        let Some((size, ino, mtime_ns, b3, md5)) = row else {
            return Ok(None);
        };
        if size != int(meta.size) || ino != int(meta.ino) || mtime_ns != meta.mtime_ns {
            return Ok(None);
        }
        let Ok(b3) = <[u8; 32]>::try_from(b3.as_slice()) else {
            return Ok(None);
        };
        let md5 = md5.and_then(|m| <[u8; 16]>::try_from(m.as_slice()).ok());
        Ok(Some(Hashes {
            blake3: blake3::Hash::from_bytes(b3),
            md5,
        }))
    }

    /// Forgets every row of `user` (the account is being deleted).
    pub(crate) fn forget_user(&self, user: i64) -> FileResult<()> {
        self.conn
            .prepare_cached("DELETE FROM files WHERE user_id = ?1")
            .and_then(|mut st| st.execute(params![user]))
            .map_err(db_err("forgetting a user's hashes"))?;
        Ok(())
    }

    /// Moves the rows of `from` and everything below it to `to` (after a
    /// rename, which keeps inodes and mtimes, so the rows stay valid).
    pub(crate) fn rename(&self, user: i64, from: &str, to: &str) -> FileResult<()> {
        // The same range as `forget`; `to || substr(path, len(from) + 1)`
        // swaps the prefix.
        self.conn
            .prepare_cached(
                "UPDATE OR REPLACE files SET path = ?3 || substr(path, length(?2) + 1)
                 WHERE user_id = ?1
                 AND (path = ?2 OR (path > ?2 || '/' AND path < ?2 || '0'))",
            )
            .and_then(|mut st| st.execute(params![user, from, to]))
            .map_err(db_err("renaming a hash"))?;
        Ok(())
    }

    /// Forgets `path` and everything below it (after a removal).
    pub(crate) fn forget(&self, user: i64, path: &str) -> FileResult<()> {
        // `path/` .. `path0` is exactly the range of names below `path/`,
        // since '0' follows '/' in byte order; no LIKE escaping needed.
        self.conn
            .prepare_cached(
                "DELETE FROM files WHERE user_id = ?1
                 AND (path = ?2 OR (path > ?2 || '/' AND path < ?2 || '0'))",
            )
            .and_then(|mut st| st.execute(params![user, path]))
            .map_err(db_err("forgetting a hash"))?;
        Ok(())
    }
}
