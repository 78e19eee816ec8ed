//! The shares table in `DATA/shares.db` (SQLite, WAL, 0600), a file of
//! its own so that counting downloads never waits on the accounts' writes.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{ShareInfo, ShareState};
use crate::store::Migration;

/// Name of the database file in the data directory.
pub const SHARES_DB: &str = "shares.db";

/// The schema. `num` is the owner-facing number of a share (not secret:
/// only its owner can act on it by number); the link's ID and the revoke
/// token are kept as hashes only. `e2e` is an end-to-end encrypted share's
/// sealed metadata, opaque to the server (NULL for a plain share);
/// `e2e_purged` is 1 once its ciphertext was removed after it ended.
/// Step 3 adds directory shares: `files` (NULL for a file share) and their
/// snapshot in `share_files`, whose rows a trigger deletes as soon as the
/// share leaves `available`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "shares: links",
        sql: "CREATE TABLE shares (
              num           INTEGER PRIMARY KEY AUTOINCREMENT,
              id_hash       BLOB    NOT NULL UNIQUE,
              revoke_hash   BLOB    NOT NULL UNIQUE,
              owner         INTEGER NOT NULL,
              path          TEXT    NOT NULL,
              size          INTEGER NOT NULL,
              blake3        BLOB    NOT NULL,
              created       INTEGER NOT NULL,
              expires       INTEGER NOT NULL,
              downloads_max INTEGER NOT NULL,
              downloads     INTEGER NOT NULL DEFAULT 0,
              state         TEXT    NOT NULL DEFAULT 'available',
              ended         INTEGER
          );
          CREATE INDEX shares_owner ON shares (owner, created);
          CREATE INDEX shares_state ON shares (state, expires);",
    },
    Migration {
        version: 2,
        name: "shares: end-to-end encrypted metadata",
        sql: "ALTER TABLE shares ADD COLUMN e2e BLOB;
              ALTER TABLE shares ADD COLUMN e2e_purged INTEGER NOT NULL DEFAULT 0;",
    },
    Migration {
        version: 3,
        name: "shares: directory shares",
        sql: "ALTER TABLE shares ADD COLUMN files INTEGER;
              CREATE TABLE share_files (
                  num    INTEGER NOT NULL,
                  idx    INTEGER NOT NULL,
                  path   TEXT    NOT NULL,
                  size   INTEGER NOT NULL,
                  blake3 BLOB    NOT NULL,
                  PRIMARY KEY (num, idx)
              ) WITHOUT ROWID;
              CREATE TRIGGER share_files_ended AFTER UPDATE OF state ON shares
                  WHEN NEW.state != 'available'
                  BEGIN DELETE FROM share_files WHERE num = NEW.num; END;
              CREATE TRIGGER share_files_gone AFTER DELETE ON shares
                  BEGIN DELETE FROM share_files WHERE num = OLD.num; END;",
    },
    Migration {
        version: 4,
        name: "shares: upload links",
        sql: super::upload::MIGRATION,
    },
];

const COLUMNS: &str = "num, owner, path, size, blake3, created, expires, downloads_max, downloads, state, ended, e2e, files";

fn info(r: &Row<'_>) -> rusqlite::Result<ShareInfo> {
    let b3: Vec<u8> = r.get(4)?;
    let state: String = r.get(9)?;
    Ok(ShareInfo {
        num: r.get(0)?,
        owner: r.get(1)?,
        path: r.get(2)?,
        size: from_sql(r.get(3)?),
        blake3: hex::encode(b3),
        created: from_sql(r.get(5)?),
        expires: from_sql(r.get(6)?),
        downloads_max: from_sql(r.get(7)?),
        downloads: from_sql(r.get(8)?),
        state: ShareState::parse(&state),
        ended: r.get::<_, Option<i64>>(10)?.map(from_sql),
        e2e: r.get::<_, Option<Vec<u8>>>(11)?.map(hex::encode),
        files: r.get::<_, Option<i64>>(12)?.map(from_sql),
        upload: None,
    })
}

/// Times and counts are stored as SQLite's signed integers; none reaches
/// 2^63.
pub(crate) fn to_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn from_sql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Marks available shares past their expiry as expired (ended at their
/// expiry), and deletes tombstones older than `keep` seconds.
pub(crate) fn tidy(c: &Connection, now: u64, keep: u64) -> rusqlite::Result<()> {
    c.prepare_cached(
        "UPDATE shares SET state = 'expired', ended = expires
         WHERE state = 'available' AND expires <= ?1",
    )?
    .execute(params![to_sql(now)])?;
    c.prepare_cached("DELETE FROM shares WHERE state != 'available' AND ended < ?1")?
        .execute(params![to_sql(now.saturating_sub(keep))])?;
    Ok(())
}

/// A share's row as created (both stores take it).
#[derive(Debug)]
pub(crate) struct NewRow<'a> {
    /// BLAKE3 of the link's ID.
    pub(crate) id_hash: [u8; 32],
    /// BLAKE3 of the revoke token.
    pub(crate) revoke_hash: [u8; 32],
    /// The owner's account id.
    pub(crate) owner: i64,
    /// The file or folder, relative to the owner's root.
    pub(crate) path: &'a str,
    /// Its size (a folder's total).
    pub(crate) size: u64,
    /// Its BLAKE3 (a folder's snapshot hash).
    pub(crate) blake3: [u8; 32],
    /// Created, Unix seconds.
    pub(crate) created: u64,
    /// Expires, Unix seconds.
    pub(crate) expires: u64,
    /// Downloads allowed.
    pub(crate) downloads_max: u64,
    /// Sealed end-to-end metadata.
    pub(crate) e2e: Option<&'a [u8]>,
}

/// Inserts a share; returns its number.
pub(crate) fn insert(c: &Connection, row: &NewRow<'_>) -> rusqlite::Result<i64> {
    c.prepare_cached(
        "INSERT INTO shares (id_hash, revoke_hash, owner, path, size, blake3, created, expires, downloads_max, e2e)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        row.id_hash.as_slice(),
        row.revoke_hash.as_slice(),
        row.owner,
        row.path,
        to_sql(row.size),
        row.blake3.as_slice(),
        to_sql(row.created),
        to_sql(row.expires),
        to_sql(row.downloads_max),
        row.e2e,
    ])?;
    Ok(c.last_insert_rowid())
}

/// Shares `owner` created since `since`, whatever their state.
pub(crate) fn created_since(c: &Connection, owner: i64, since: u64) -> rusqlite::Result<u64> {
    c.prepare_cached("SELECT COUNT(*) FROM shares WHERE owner = ?1 AND created > ?2")?
        .query_row(params![owner, to_sql(since)], |r| r.get::<_, i64>(0))
        .map(from_sql)
}

/// Bytes of `owner`'s available shares.
pub(crate) fn shared_bytes(c: &Connection, owner: i64) -> rusqlite::Result<u64> {
    c.prepare_cached(
        "SELECT COALESCE(SUM(size), 0) FROM shares WHERE owner = ?1 AND state = 'available'",
    )?
    .query_row(params![owner], |r| r.get::<_, i64>(0))
    .map(from_sql)
}

/// The share whose ID hashes to `h`.
pub(crate) fn by_id(c: &Connection, h: &[u8; 32]) -> rusqlite::Result<Option<ShareInfo>> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM shares WHERE id_hash = ?1"))?
        .query_row(params![h.as_slice()], info)
        .optional()
}

/// The share whose revoke token hashes to `h`.
pub(crate) fn by_revoke(c: &Connection, h: &[u8; 32]) -> rusqlite::Result<Option<ShareInfo>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM shares WHERE revoke_hash = ?1"
    ))?
    .query_row(params![h.as_slice()], info)
    .optional()
}

/// The share numbered `num`.
pub(crate) fn by_num(c: &Connection, num: i64) -> rusqlite::Result<Option<ShareInfo>> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM shares WHERE num = ?1"))?
        .query_row(params![num], info)
        .optional()
}

/// Every share of `owner` still in the table, newest first.
pub(crate) fn list(c: &Connection, owner: i64) -> rusqlite::Result<Vec<ShareInfo>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM shares WHERE owner = ?1 ORDER BY num DESC"
    ))?
    .query_map(params![owner], info)?
    .collect()
}

/// Ends an available share as `state` at `now`; false when it was no
/// longer available.
pub(crate) fn end(c: &Connection, num: i64, state: ShareState, now: u64) -> rusqlite::Result<bool> {
    let n = c
        .prepare_cached(
            "UPDATE shares SET state = ?2, ended = ?3 WHERE num = ?1 AND state = 'available'",
        )?
        .execute(params![num, state.as_str(), to_sql(now)])?;
    Ok(n == 1)
}

/// Counts one completed download; the share is consumed by the last one.
pub(crate) fn count_download(c: &Connection, num: i64, now: u64) -> rusqlite::Result<()> {
    c.prepare_cached(
        "UPDATE shares SET downloads = downloads + 1,
             state = CASE WHEN downloads + 1 >= downloads_max THEN 'consumed' ELSE state END,
             ended = CASE WHEN downloads + 1 >= downloads_max THEN ?2 ELSE ended END
         WHERE num = ?1 AND state = 'available'",
    )?
    .execute(params![num, to_sql(now)])?;
    Ok(())
}

/// Ends every available share of `owner` (the account was deleted).
pub(crate) fn end_owner(c: &Connection, owner: i64, now: u64) -> rusqlite::Result<usize> {
    c.prepare_cached(
        "UPDATE shares SET state = 'revoked', ended = ?2 WHERE owner = ?1 AND state = 'available'",
    )?
    .execute(params![owner, to_sql(now)])
}

/// Ended end-to-end shares whose ciphertext is still in the owner's
/// store: `(num, owner, path)`.
pub(crate) fn ended_e2e(c: &Connection) -> rusqlite::Result<Vec<(i64, i64, String)>> {
    c.prepare_cached(
        "SELECT num, owner, path FROM shares
         WHERE e2e IS NOT NULL AND state != 'available' AND e2e_purged = 0",
    )?
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
    .collect()
}

/// Records that share `num`'s ciphertext is gone.
pub(crate) fn mark_purged(c: &Connection, num: i64) -> rusqlite::Result<()> {
    c.prepare_cached("UPDATE shares SET e2e_purged = 1 WHERE num = ?1")?
        .execute(params![num])?;
    Ok(())
}
