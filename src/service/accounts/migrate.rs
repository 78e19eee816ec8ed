//! `sockit admin migrate`, the accounts part: copies `DATA/sockit.db`
//! (accounts with their hashes and ids, unexpired sessions, the id
//! counter, queued file purges) into the cluster's PostgreSQL, in one
//! transaction, idempotently: a row already there is left alone and
//! counted as such, so a second run copies nothing.

use std::path::Path;

use postgres::Client;
use serde::Serialize;

use super::token::unix_now;
use super::{DB_FILE, MIGRATIONS, db_pg};
use crate::store::pg::{self, PgConn};
use crate::store::{Durability, StoreError};

/// What the accounts part copied.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct AccountsCopied {
    /// Accounts copied.
    pub accounts: usize,
    /// Accounts already in PostgreSQL (same id and name): left alone.
    pub accounts_present: usize,
    /// Accounts not copied because PostgreSQL holds another account under
    /// their name or id (the operator decides; nothing is overwritten).
    pub conflicts: Vec<String>,
    /// Unexpired sessions copied (their owners stay logged in).
    pub sessions: usize,
}

/// Copies the accounts of `data_dir` into `conn` (migrating its schema
/// first). A data directory without `sockit.db` copies nothing.
pub fn copy_to_pg(data_dir: &Path, conn: &mut PgConn) -> Result<AccountsCopied, StoreError> {
    let path = data_dir.join(DB_FILE);
    if !path.exists() {
        return Ok(AccountsCopied::default());
    }
    let lite = crate::store::open(&path, MIGRATIONS, Durability::Full)?;
    let err = |source| StoreError::Sqlite {
        path: path.clone(),
        source,
    };
    let users = read_users(&lite).map_err(err)?;
    let sessions = read_sessions(&lite, unix_now()).map_err(err)?;
    let next: i64 = lite
        .query_row("SELECT next FROM user_ids", [], |r| r.get(0))
        .map_err(err)?;
    let purges = read_purges(&lite).map_err(err)?;
    pg::migrate_in(conn, db_pg::MIGRATIONS_TABLE, db_pg::MIGRATIONS)?;
    conn.with(|c| write(c, &users, &sessions, next, &purges))
        .map_err(|e| StoreError::Pg(pg::PgError::Db(e)))
}

/// One account row as `sockit.db` has it.
struct UserRow {
    id: i64,
    name: String,
    key: String,
    phc: String,
    created: i64,
    created_ms: Option<i64>,
    locked: bool,
    last_login: Option<i64>,
    locked_until: Option<i64>,
    unlocked_at: Option<i64>,
}

fn read_users(c: &rusqlite::Connection) -> rusqlite::Result<Vec<UserRow>> {
    let mut st = c.prepare(
        "SELECT id, name, name_key, phc, created, locked, last_login, locked_until, unlocked_at,
                created_ms
         FROM users ORDER BY id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(UserRow {
            id: r.get(0)?,
            name: r.get(1)?,
            key: r.get(2)?,
            phc: r.get(3)?,
            created: r.get(4)?,
            locked: r.get(5)?,
            last_login: r.get(6)?,
            locked_until: r.get(7)?,
            unlocked_at: r.get(8)?,
            created_ms: r.get(9)?,
        })
    })?;
    rows.collect()
}

/// (token hash, user id, created, expires) of every unexpired session.
type SessionRow = (Vec<u8>, i64, i64, i64);

fn read_sessions(c: &rusqlite::Connection, now: u64) -> rusqlite::Result<Vec<SessionRow>> {
    let mut st =
        c.prepare("SELECT token_hash, user_id, created, expires FROM sessions WHERE expires > ?1")?;
    let rows = st.query_map([super::db::to_sql(now)], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    rows.collect()
}

fn read_purges(c: &rusqlite::Connection) -> rusqlite::Result<Vec<(i64, i64)>> {
    let mut st = c.prepare("SELECT user_id, at FROM purges")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

fn write(
    c: &mut Client,
    users: &[UserRow],
    sessions: &[SessionRow],
    next: i64,
    purges: &[(i64, i64)],
) -> Result<AccountsCopied, postgres::Error> {
    let mut tx = c.transaction()?;
    let mut out = AccountsCopied::default();
    // Ids whose account in PostgreSQL is this one (copied now or before):
    // only their sessions may follow.
    let mut same = std::collections::HashSet::new();
    for u in users {
        let n = tx.execute(
            "INSERT INTO acct_users (id, name, name_key, phc, created, locked, last_login,
                                     locked_until, unlocked_at, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            &[
                &u.id,
                &u.name,
                &u.key,
                &u.phc,
                &u.created,
                &u.locked,
                &u.last_login,
                &u.locked_until,
                &u.unlocked_at,
                &u.created_ms,
            ],
        )?;
        if n == 1 {
            out.accounts += 1;
            same.insert(u.id);
            continue;
        }
        let there = tx.query_opt(
            "SELECT 1 FROM acct_users WHERE id = $1 AND name_key = $2",
            &[&u.id, &u.key],
        )?;
        if there.is_some() {
            out.accounts_present += 1;
            same.insert(u.id);
        } else {
            out.conflicts.push(u.name.clone());
        }
    }
    for (hash, user_id, created, expires) in sessions {
        if !same.contains(user_id) {
            continue;
        }
        out.sessions += usize::try_from(tx.execute(
            "INSERT INTO acct_sessions (token_hash, user_id, created, expires)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[hash, user_id, created, expires],
        )?)
        .unwrap_or(0);
    }
    // No id the single node ever gave out is given out again.
    tx.execute(
        "UPDATE acct_user_ids SET next = greatest(next, $1,
             coalesce((SELECT max(id) FROM acct_users), 0) + 1)",
        &[&next],
    )?;
    for (user_id, at) in purges {
        tx.execute(
            "INSERT INTO acct_purges (user_id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[user_id, at],
        )?;
    }
    tx.commit()?;
    Ok(out)
}
