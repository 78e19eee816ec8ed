//! The SQL of the accounts service on PostgreSQL, shared by every node of a
//! cluster: the counterpart of `db` (SQLite), same rules, same columns.
//!
//! Two logs are read as outboxes by every node (`seq > last seen`):
//! revocations and login-throttle events. A `BIGSERIAL` alone would let a
//! row with a smaller seq commit after a larger one (and be skipped), so
//! every insert into a log first takes that log's transaction-scoped
//! advisory lock: seq order is commit order. Each revoking transaction also
//! sends an empty `pg_notify` on [`NOTIFY_CHANNEL`] as a wake-up; nodes
//! poll as well, since notifications sent while a listener reconnects are
//! lost.

use postgres::{Client, Transaction};

use super::UserInfo;
use super::db::{MAX_SESSIONS_PER_USER, SessionRow, UserRow, from_sql, to_sql};
use crate::store::Migration;

pub use super::db_pg_logs::{
    KIND_LOGOUT, KIND_REVOKE, ThrottleEvent, last_revocation, last_throttle, log_revocation,
    log_throttle, pending_purges, purge_done, revocations_since, revoked_since, throttle_since,
};

/// The LISTEN/NOTIFY channel revocations wake the other nodes on.
pub const NOTIFY_CHANNEL: &str = "sockit_accounts";

/// Where the accounts schema's version is kept (apart from chat's).
pub const MIGRATIONS_TABLE: &str = "sockit_migrations_accounts";

/// The schema, one step per version (`sockit_migrations_accounts`). The
/// same tables as SQLite's `sockit.db` (prefixed `acct_`), plus the shared
/// throttle log.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts, sessions, revocations, purges, throttle log",
        sql: "CREATE TABLE acct_users (
              id           BIGINT PRIMARY KEY,
              name         TEXT NOT NULL,
              name_key     TEXT NOT NULL UNIQUE,
              phc          TEXT NOT NULL,
              created      BIGINT NOT NULL,
              locked       BOOLEAN NOT NULL DEFAULT false,
              last_login   BIGINT,
              locked_until BIGINT,
              unlocked_at  BIGINT
          );
          CREATE TABLE acct_user_ids (next BIGINT NOT NULL);
          INSERT INTO acct_user_ids (next) VALUES (1);
          CREATE TABLE acct_sessions (
              token_hash BYTEA PRIMARY KEY,
              user_id    BIGINT NOT NULL REFERENCES acct_users(id) ON DELETE CASCADE,
              created    BIGINT NOT NULL,
              expires    BIGINT NOT NULL
          );
          CREATE INDEX acct_sessions_by_user ON acct_sessions (user_id, created);
          CREATE INDEX acct_sessions_by_expiry ON acct_sessions (expires);
          CREATE TABLE acct_revocations (
              seq     BIGSERIAL PRIMARY KEY,
              user_id BIGINT NOT NULL,
              at      BIGINT NOT NULL,
              kind    TEXT NOT NULL
          );
          CREATE INDEX acct_revocations_by_user ON acct_revocations (user_id, at);
          CREATE TABLE acct_purges (
              user_id BIGINT PRIMARY KEY,
              at      BIGINT NOT NULL
          );
          CREATE TABLE acct_throttle (
              seq      BIGSERIAL PRIMARY KEY,
              node     TEXT NOT NULL,
              name_key TEXT NOT NULL,
              ip       TEXT,
              known    BOOLEAN NOT NULL,
              ok       BOOLEAN NOT NULL,
              at       BIGINT NOT NULL
          );",
    },
    Migration {
        version: 2,
        name: "accounts' creation in milliseconds",
        // See SQLite's step 5 (`schema::V5_CREATED_MS`).
        sql: "ALTER TABLE acct_users ADD COLUMN created_ms BIGINT;",
    },
];

fn user_row(r: &postgres::Row) -> UserRow {
    UserRow {
        id: r.get(0),
        name: r.get(1),
        phc: r.get(2),
        locked: r.get(3),
        created_ms: u64::try_from(r.get::<_, i64>(4)).unwrap_or(0),
    }
}

/// The account whose key is `key`.
pub fn find_user(c: &mut Client, key: &str) -> Result<Option<UserRow>, postgres::Error> {
    let r = c.query_opt(
        "SELECT id, name, phc, locked, coalesce(created_ms, created * 1000)
         FROM acct_users WHERE name_key = $1",
        &[&key],
    )?;
    Ok(r.as_ref().map(user_row))
}

/// Inserts an account under the next never-used id, created at `now_ms`
/// (unix milliseconds); `Ok(false)` when the key is taken (the id is then
/// not used up).
pub fn insert_user(
    c: &mut Client,
    name: &str,
    key: &str,
    phc: &str,
    now_ms: u64,
) -> Result<bool, postgres::Error> {
    let mut tx = c.transaction()?;
    // The row lock serialises id allocation across nodes.
    let id: i64 = tx
        .query_one(
            "UPDATE acct_user_ids SET next = greatest(next,
                 coalesce((SELECT max(id) FROM acct_users), 0) + 1) + 1
             RETURNING next - 1",
            &[],
        )?
        .get(0);
    let n = tx.execute(
        "INSERT INTO acct_users (id, name, name_key, phc, created, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name_key) DO NOTHING",
        &[
            &id,
            &name,
            &key,
            &phc,
            &to_sql(now_ms / 1000),
            &to_sql(now_ms),
        ],
    )?;
    if n == 1 {
        tx.commit()?;
    }
    Ok(n == 1)
}

/// Raises the next account id above `used`.
pub fn reserve_ids_through(c: &mut Client, used: i64) -> Result<(), postgres::Error> {
    c.execute(
        "UPDATE acct_user_ids SET next = greatest(next, $1)",
        &[&used.saturating_add(1)],
    )
    .map(drop)
}

/// Replaces the hash and ends every session; `Ok(false)` if no such account.
pub fn set_phc(c: &mut Client, key: &str, phc: &str, now: u64) -> Result<bool, postgres::Error> {
    let mut tx = c.transaction()?;
    let n = tx.execute(
        "UPDATE acct_users SET phc = $2 WHERE name_key = $1",
        &[&key, &phc],
    )?;
    revoke_all(&mut tx, key, now)?;
    tx.commit()?;
    Ok(n == 1)
}

/// Replaces the hash of account `user_id` (unless it was locked or
/// deleted meanwhile) and ends its sessions but the one of `keep`; returns
/// how many ended, or `None` if the account is gone or locked. The
/// revocation is logged, so the other nodes re-check their connections
/// of this account (the kept session still holds; the others do not).
pub fn set_phc_keeping(
    c: &mut Client,
    user_id: i64,
    phc: &str,
    keep: &[u8; 32],
    now: u64,
) -> Result<Option<usize>, postgres::Error> {
    let mut tx = c.transaction()?;
    let n = tx.execute(
        "UPDATE acct_users SET phc = $2 WHERE id = $1 AND NOT locked",
        &[&user_id, &phc],
    )?;
    if n != 1 {
        return Ok(None);
    }
    let keep = &keep[..];
    let ended = tx.execute(
        "DELETE FROM acct_sessions WHERE user_id = $1 AND token_hash <> $2",
        &[&user_id, &keep],
    )?;
    log_revocation(&mut tx, user_id, now, KIND_REVOKE)?;
    tx.commit()?;
    Ok(Some(usize::try_from(ended).unwrap_or(usize::MAX)))
}

/// Sets or clears the operator lock; locking ends every session, unlocking
/// lifts any temporary lockout. `Ok(false)` if there is no such account.
pub fn set_locked(
    c: &mut Client,
    key: &str,
    locked: bool,
    now: u64,
) -> Result<bool, postgres::Error> {
    let mut tx = c.transaction()?;
    let n = if locked {
        let n = tx.execute(
            "UPDATE acct_users SET locked = true WHERE name_key = $1",
            &[&key],
        )?;
        revoke_all(&mut tx, key, now)?;
        n
    } else {
        tx.execute(
            "UPDATE acct_users SET locked = false, locked_until = NULL, unlocked_at = $2
             WHERE name_key = $1",
            &[&key, &to_sql(now)],
        )?
    };
    tx.commit()?;
    Ok(n == 1)
}

/// Deletes an account (its sessions by cascade), logs the revocation and
/// queues the removal of its files; the account's id if it existed.
pub fn delete_user(c: &mut Client, key: &str, now: u64) -> Result<Option<i64>, postgres::Error> {
    let mut tx = c.transaction()?;
    let id: Option<i64> = tx
        .query_opt("SELECT id FROM acct_users WHERE name_key = $1", &[&key])?
        .map(|r| r.get(0));
    if let Some(id) = id {
        log_revocation(&mut tx, id, now, KIND_REVOKE)?;
        tx.execute(
            "INSERT INTO acct_purges (user_id, at) VALUES ($1, $2)
             ON CONFLICT (user_id) DO UPDATE SET at = excluded.at",
            &[&id, &to_sql(now)],
        )?;
        tx.execute("DELETE FROM acct_users WHERE id = $1", &[&id])?;
    }
    tx.commit()?;
    Ok(id)
}

/// Ends every session of the account holding `key` and logs it.
fn revoke_all(tx: &mut Transaction<'_>, key: &str, now: u64) -> Result<(), postgres::Error> {
    let id: Option<i64> = tx
        .query_opt("SELECT id FROM acct_users WHERE name_key = $1", &[&key])?
        .map(|r| r.get(0));
    if let Some(id) = id {
        tx.execute("DELETE FROM acct_sessions WHERE user_id = $1", &[&id])?;
        log_revocation(tx, id, now, KIND_REVOKE)?;
    }
    Ok(())
}

/// Every account, by name; `locked_until` only while it lies ahead.
pub fn list_users(c: &mut Client, now: u64) -> Result<Vec<UserInfo>, postgres::Error> {
    let rows = c.query(
        "SELECT name, created, last_login, locked, locked_until FROM acct_users
         ORDER BY name_key",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| UserInfo {
            name: r.get(0),
            created: from_sql(r.get(1)),
            last_login: r.get::<_, Option<i64>>(2).map(from_sql),
            locked: r.get(3),
            locked_until: r
                .get::<_, Option<i64>>(4)
                .map(from_sql)
                .filter(|&t| t > now),
        })
        .collect())
}

/// A successful login, in one transaction (see `db::record_login`).
pub fn record_login(
    c: &mut Client,
    user_id: i64,
    token_hash: &[u8; 32],
    now: u64,
    expires: u64,
    new_phc: Option<&str>,
) -> Result<(), postgres::Error> {
    let mut tx = c.transaction()?;
    let hash = &token_hash[..];
    tx.execute(
        "INSERT INTO acct_sessions (token_hash, user_id, created, expires) VALUES ($1, $2, $3, $4)",
        &[&hash, &user_id, &to_sql(now), &to_sql(expires)],
    )?;
    tx.execute(
        "UPDATE acct_users SET last_login = $2, locked_until = NULL, phc = coalesce($3, phc)
         WHERE id = $1",
        &[&user_id, &to_sql(now), &new_phc],
    )?;
    tx.execute(
        "DELETE FROM acct_sessions WHERE user_id = $1 AND (expires <= $2 OR token_hash IN (
             SELECT token_hash FROM acct_sessions WHERE user_id = $1
             ORDER BY created DESC OFFSET $3))",
        &[&user_id, &to_sql(now), &MAX_SESSIONS_PER_USER],
    )?;
    tx.commit()
}

/// The session of a token hash, if any, with its account unless locked.
pub fn find_session(
    c: &mut Client,
    token_hash: &[u8; 32],
) -> Result<Option<SessionRow>, postgres::Error> {
    let hash = &token_hash[..];
    let r = c.query_opt(
        "SELECT s.user_id, u.name, s.expires FROM acct_sessions s
         JOIN acct_users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND NOT u.locked",
        &[&hash],
    )?;
    Ok(r.map(|r| SessionRow {
        user_id: r.get(0),
        name: r.get(1),
        expires: from_sql(r.get(2)),
    }))
}

/// Ends one session (telling every node, whose connections using it then
/// re-check it); its account's id, or `None` if it did not exist.
pub fn delete_session(
    c: &mut Client,
    token_hash: &[u8; 32],
    now: u64,
) -> Result<Option<i64>, postgres::Error> {
    let mut tx = c.transaction()?;
    let hash = &token_hash[..];
    let id: Option<i64> = tx
        .query_opt(
            "DELETE FROM acct_sessions WHERE token_hash = $1 RETURNING user_id",
            &[&hash],
        )?
        .map(|r| r.get(0));
    if let Some(id) = id {
        log_revocation(&mut tx, id, now, KIND_LOGOUT)?;
    }
    tx.commit()?;
    Ok(id)
}

/// Ends an expired session found on resume (no other node holds it live).
pub fn drop_session(c: &mut Client, token_hash: &[u8; 32]) -> Result<(), postgres::Error> {
    let hash = &token_hash[..];
    c.execute("DELETE FROM acct_sessions WHERE token_hash = $1", &[&hash])
        .map(drop)
}

/// Drops every expired session (at open).
pub fn purge_expired(c: &mut Client, now: u64) -> Result<u64, postgres::Error> {
    c.execute(
        "DELETE FROM acct_sessions WHERE expires <= $1",
        &[&to_sql(now)],
    )
}

/// Shows a temporary lockout in `sockit user list`.
pub fn note_lockout(c: &mut Client, key: &str, until: u64) -> Result<(), postgres::Error> {
    c.execute(
        "UPDATE acct_users SET locked_until = $2 WHERE name_key = $1",
        &[&key, &to_sql(until)],
    )
    .map(drop)
}

/// When the operator last unlocked the account, if ever.
pub fn unlocked_at(c: &mut Client, key: &str) -> Result<Option<u64>, postgres::Error> {
    let r = c.query_opt(
        "SELECT unlocked_at FROM acct_users WHERE name_key = $1",
        &[&key],
    )?;
    Ok(r.and_then(|r| r.get::<_, Option<i64>>(0)).map(from_sql))
}

/// Whether an account with this key exists.
pub fn exists(c: &mut Client, key: &str) -> Result<bool, postgres::Error> {
    Ok(c.query_one(
        "SELECT EXISTS (SELECT 1 FROM acct_users WHERE name_key = $1)",
        &[&key],
    )?
    .get(0))
}

/// The registered spelling of the account holding `key`.
pub fn name_of(c: &mut Client, key: &str) -> Result<Option<String>, postgres::Error> {
    Ok(
        c.query_opt("SELECT name FROM acct_users WHERE name_key = $1", &[&key])?
            .map(|r| r.get(0)),
    )
}

/// Reads one row of the account table (the readiness probe).
pub fn check(c: &mut Client) -> Result<(), postgres::Error> {
    c.query("SELECT 1 FROM acct_users LIMIT 1", &[]).map(drop)
}
