//! The file store's tables in PostgreSQL, and their migrations.
//!
//! The versions are kept in their own table (`sockit_files_schema`), not in
//! the chat's `sockit_migrations`, so each service's schema grows on its
//! own numbering: a node that knows newer chat tables but the same file
//! tables never refuses the database for the wrong reason.
//!
//! ```text
//! files_entries  (user_id, path) -> parent, name, is_dir, size, mtime,
//!                content, blake3, md5         published files and dirs
//! files_uploads  (user_id, path) -> content, size, fingerprint, held,
//!                dirs, lease, lease_until, updated    unfinished uploads
//! files_chunks   (content, off)  -> bytes     the content, one row per
//!                                             wire chunk (>= MIN_ROW bytes)
//! ```
//! A content id comes from `files_content_ids` when an upload starts; the
//! rows of its chunks are written under it and never move: publishing
//! points an entry at that id (one transaction deletes the upload row and
//! writes the entry), so no byte is copied to make a file visible.

use crate::store::pg::PgConn;

use super::super::error::FileResult;
use super::pool::db;

/// Key of the advisory lock migrations hold ("files" in ASCII), so nodes
/// starting together apply each step once.
const MIGRATION_LOCK: i64 = 0x0066_696c_6573;

/// The steps, in order.
const STEPS: &[(i32, &str)] = &[(
    1,
    "CREATE TABLE files_entries (
         user_id BIGINT NOT NULL,
         path    TEXT COLLATE \"C\" NOT NULL,
         parent  TEXT COLLATE \"C\" NOT NULL,
         name    TEXT COLLATE \"C\" NOT NULL,
         is_dir  BOOLEAN NOT NULL,
         size    BIGINT NOT NULL,
         mtime   BIGINT NOT NULL,
         content BIGINT,
         blake3  BYTEA,
         md5     BYTEA,
         PRIMARY KEY (user_id, path)
     );
     CREATE INDEX files_entries_parent ON files_entries (user_id, parent, name);
     CREATE SEQUENCE files_content_ids;
     CREATE TABLE files_uploads (
         user_id     BIGINT NOT NULL,
         path        TEXT COLLATE \"C\" NOT NULL,
         content     BIGINT NOT NULL,
         size        BIGINT NOT NULL,
         fingerprint TEXT NOT NULL,
         held        BIGINT NOT NULL DEFAULT 0,
         dirs        BIGINT NOT NULL DEFAULT 0,
         lease       TEXT,
         lease_until TIMESTAMPTZ,
         updated     TIMESTAMPTZ NOT NULL DEFAULT now(),
         PRIMARY KEY (user_id, path)
     );
     CREATE TABLE files_chunks (
         content BIGINT NOT NULL,
         off     BIGINT NOT NULL,
         bytes   BYTEA NOT NULL,
         PRIMARY KEY (content, off)
     );
     -- Uploaded files are mostly compressed already: store the bytes as
     -- they are instead of trying pglz on every chunk.
     ALTER TABLE files_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;",
)];

/// Applies every step newer than the one recorded, each in a transaction
/// under the migration lock.
pub(crate) fn migrate(conn: &mut PgConn) -> FileResult<()> {
    let c = conn.client().map_err(db("connecting to PostgreSQL"))?;
    let err = db("upgrading the file tables");
    c.batch_execute(
        "CREATE TABLE IF NOT EXISTS sockit_files_schema (
             version INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .map_err(&err)?;
    let known = STEPS.last().map_or(0, |s| s.0);
    for (version, sql) in STEPS {
        let mut tx = c.transaction().map_err(&err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(&err)?;
        let found: i32 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM sockit_files_schema",
                &[],
            )
            .map_err(&err)?
            .get(0);
        if found > known {
            return Err(super::super::error::FileError::Internal {
                doing: "opening the file tables",
                source: std::io::Error::other(format!(
                    "their schema is at version {found}, newer than this sockit knows \
                     ({known}); upgrade sockit on this node"
                )),
            });
        }
        if *version <= found {
            continue;
        }
        tx.batch_execute(sql).map_err(&err)?;
        tx.execute(
            "INSERT INTO sockit_files_schema (version) VALUES ($1)",
            &[version],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        tracing::info!(version, "PostgreSQL file tables upgraded");
    }
    Ok(())
}
