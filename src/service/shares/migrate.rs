//! `sockit admin migrate`, the shares part: copies `DATA/shares.db` (every
//! share still on record, with its state, counts and tombstone, and the
//! snapshots of folder shares) into the cluster's PostgreSQL, in one
//! transaction, idempotently: a share already there (the same link ID
//! hash) is left alone and counted as present, so a second run copies
//! nothing. A share keeps its number unless PostgreSQL already gave that
//! number to another share; then it gets a new one (counted as
//! renumbered: its owner sees it under the new number in `share ls`).
//! Download coverage is not copied: a download in progress during the
//! move starts its count afresh, in the receivers' favour.
//!
//! Upload links go with their share's row: their limits and counts
//! (`upload_links`) and their log of what they took in (`uploads`, in
//! order), so the owner's `share log` reads the same on the cluster. A
//! link already there is left alone with its log.
//!
//! The ciphertext of end-to-end shares is a file of its owner's store
//! (`.e2e-shares/`), copied by the files part, as are the files upload
//! links took in.

use std::path::Path;

use postgres::Client;
use rusqlite::params;
use serde::Serialize;

use super::{SHARES_DB, db, db_pg};
use crate::store::pg::{self, PgConn};
use crate::store::{Durability, StoreError};

/// What the shares part copied.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SharesCopied {
    /// Shares copied.
    pub shares: usize,
    /// Of those, how many got a new number (theirs was taken).
    pub renumbered: usize,
    /// Shares PostgreSQL already held: left alone.
    pub present: usize,
    /// Files of copied folder shares' snapshots.
    pub files: usize,
    /// Of the shares copied, how many are upload links.
    pub upload_links: usize,
    /// Rows of copied upload links' logs.
    pub uploads: usize,
}

/// One `shares` row as `shares.db` has it, in `db::MIGRATIONS`' columns.
struct Row {
    num: i64,
    id_hash: Vec<u8>,
    revoke_hash: Vec<u8>,
    owner: i64,
    path: String,
    size: i64,
    blake3: Vec<u8>,
    created: i64,
    expires: i64,
    downloads_max: i64,
    downloads: i64,
    state: String,
    ended: Option<i64>,
    e2e: Option<Vec<u8>>,
    e2e_purged: bool,
    files: Option<i64>,
}

/// (num, idx, path, size, blake3) of one snapshot file.
type FileRow = (i64, i64, String, i64, Vec<u8>);

/// (num, max_bytes, max_files, bytes, files) of one upload link.
type LinkRow = (i64, i64, i64, i64, i64);

/// (num, path, size, blake3, addr, at) of one upload log row, in order.
type LogRow = (i64, String, i64, Vec<u8>, String, i64);

/// What `shares.db` holds besides the shares' rows.
struct Extra {
    files: Vec<FileRow>,
    links: Vec<LinkRow>,
    log: Vec<LogRow>,
}

/// Copies the shares of `data_dir` into `conn` (migrating its tables
/// first). A data directory without `shares.db` copies nothing.
pub fn copy_to_pg(data_dir: &Path, conn: &mut PgConn) -> Result<SharesCopied, StoreError> {
    let path = data_dir.join(SHARES_DB);
    if !path.exists() {
        return Ok(SharesCopied::default());
    }
    let lite = crate::store::open(&path, db::MIGRATIONS, Durability::Full)?;
    let err = |source| StoreError::Sqlite {
        path: path.clone(),
        source,
    };
    let rows = read_rows(&lite).map_err(err)?;
    let extra = Extra {
        files: read_files(&lite).map_err(err)?,
        links: read_links(&lite).map_err(err)?,
        log: read_log(&lite).map_err(err)?,
    };
    pg::migrate_in(conn, db_pg::MIGRATIONS_TABLE, db_pg::MIGRATIONS)?;
    conn.with(|c| write(c, &rows, &extra))
        .map_err(|e| StoreError::Pg(pg::PgError::Db(e)))
}

fn read_rows(c: &rusqlite::Connection) -> rusqlite::Result<Vec<Row>> {
    let mut st = c.prepare(
        "SELECT num, id_hash, revoke_hash, owner, path, size, blake3, created, expires,
                downloads_max, downloads, state, ended, e2e, e2e_purged, files
         FROM shares ORDER BY num",
    )?;
    let rows = st.query_map([], |r| {
        Ok(Row {
            num: r.get(0)?,
            id_hash: r.get(1)?,
            revoke_hash: r.get(2)?,
            owner: r.get(3)?,
            path: r.get(4)?,
            size: r.get(5)?,
            blake3: r.get(6)?,
            created: r.get(7)?,
            expires: r.get(8)?,
            downloads_max: r.get(9)?,
            downloads: r.get(10)?,
            state: r.get(11)?,
            ended: r.get(12)?,
            e2e: r.get(13)?,
            e2e_purged: r.get::<_, i64>(14)? != 0,
            files: r.get(15)?,
        })
    })?;
    rows.collect()
}

fn read_files(c: &rusqlite::Connection) -> rusqlite::Result<Vec<FileRow>> {
    let mut st =
        c.prepare("SELECT num, idx, path, size, blake3 FROM share_files ORDER BY num, idx")?;
    let rows = st.query_map(params![], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    rows.collect()
}

fn read_links(c: &rusqlite::Connection) -> rusqlite::Result<Vec<LinkRow>> {
    let mut st =
        c.prepare("SELECT num, max_bytes, max_files, bytes, files FROM upload_links ORDER BY num")?;
    let rows = st.query_map(params![], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    rows.collect()
}

fn read_log(c: &rusqlite::Connection) -> rusqlite::Result<Vec<LogRow>> {
    let mut st = c.prepare("SELECT num, path, size, blake3, addr, at FROM uploads ORDER BY seq")?;
    let rows = st.query_map(params![], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })?;
    rows.collect()
}

const INSERT: &str = "INSERT INTO share_links (num, id_hash, revoke_hash, owner, path, size,
        blake3, created, expires, downloads_max, downloads, state, ended, e2e, e2e_purged, files)
    VALUES (COALESCE($1, nextval(pg_get_serial_sequence('share_links', 'num'))),
            $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
    ON CONFLICT DO NOTHING RETURNING num";

fn write(c: &mut Client, rows: &[Row], extra: &Extra) -> Result<SharesCopied, postgres::Error> {
    let mut tx = c.transaction()?;
    let mut out = SharesCopied::default();
    // Numbers a copied folder share has in PostgreSQL, by its number here.
    let mut moved = std::collections::HashMap::new();
    // A share that cannot keep its number takes one past every number in
    // either store, never one a later row of this run still wants.
    let top = rows.iter().map(|r| r.num).max().unwrap_or(0);
    tx.execute(
        "SELECT setval(pg_get_serial_sequence('share_links', 'num'),
                GREATEST((SELECT max(num) FROM share_links), $1, 1))",
        &[&top],
    )?;
    for r in rows {
        let there = tx.query_opt(
            "SELECT 1 FROM share_links WHERE id_hash = $1",
            &[&r.id_hash],
        )?;
        if there.is_some() {
            out.present += 1;
            continue;
        }
        // Its own number if free, else the next one.
        let mut num = None;
        for want in [Some(r.num), None] {
            let got = tx.query_opt(
                INSERT,
                &[
                    &want,
                    &r.id_hash,
                    &r.revoke_hash,
                    &r.owner,
                    &r.path,
                    &r.size,
                    &r.blake3,
                    &r.created,
                    &r.expires,
                    &r.downloads_max,
                    &r.downloads,
                    &r.state,
                    &r.ended,
                    &r.e2e,
                    &r.e2e_purged,
                    &r.files,
                ],
            )?;
            if let Some(got) = got {
                num = Some(got.try_get::<_, i64>(0)?);
                break;
            }
        }
        let Some(num) = num else {
            // Only a revoke token hash already there stops both tries:
            // the same share, under another link ID hash it cannot have.
            out.present += 1;
            continue;
        };
        out.shares += 1;
        if num != r.num {
            out.renumbered += 1;
        }
        moved.insert(r.num, num);
    }
    for (num, idx, path, size, blake3) in &extra.files {
        let Some(to) = moved.get(num) else { continue };
        out.files += usize::try_from(tx.execute(
            "INSERT INTO share_files (num, idx, path, size, blake3) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[to, idx, path, size, blake3],
        )?)
        .unwrap_or(0);
    }
    for (num, max_bytes, max_files, bytes, files) in &extra.links {
        let Some(to) = moved.get(num) else { continue };
        out.upload_links += usize::try_from(tx.execute(
            "INSERT INTO share_upload_links (num, max_bytes, max_files, bytes, files)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[to, max_bytes, max_files, bytes, files],
        )?)
        .unwrap_or(0);
    }
    for (num, path, size, blake3, addr, at) in &extra.log {
        let Some(to) = moved.get(num) else { continue };
        out.uploads += usize::try_from(tx.execute(
            "INSERT INTO share_uploads (num, path, size, blake3, addr, at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[to, path, size, blake3, addr, at],
        )?)
        .unwrap_or(0);
    }
    // Numbers handed out from now on follow every copied one.
    tx.execute(
        "SELECT setval(pg_get_serial_sequence('share_links', 'num'),
                GREATEST((SELECT max(num) FROM share_links), 1))",
        &[],
    )?;
    tx.commit()?;
    Ok(out)
}
