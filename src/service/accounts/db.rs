//! The SQL of the accounts service: small blocking functions over one
//! connection, called from the hashing pool, `spawn_blocking` or the admin
//! API, never from an async worker.

use rusqlite::{Connection, OptionalExtension, params};

use super::UserInfo;

/// Sessions kept per user. Each login adds one; past this the oldest go, so
/// a script that logs in in a loop cannot grow the table without bound,
/// while a person with many devices stays signed in on all of them.
pub const MAX_SESSIONS_PER_USER: i64 = 64;

/// An account as a login needs it.
#[derive(Debug)]
pub struct UserRow {
    /// Row id.
    pub id: i64,
    /// Name as registered.
    pub name: String,
    /// argon2id PHC string.
    pub phc: String,
    /// Operator lock.
    pub locked: bool,
    /// Creation time, unix milliseconds (the start of its second for an
    /// account made before they were kept).
    pub created_ms: u64,
}

/// A session found by its token hash.
#[derive(Debug)]
pub struct SessionRow {
    /// The account.
    pub user_id: i64,
    /// Its name.
    pub name: String,
    /// Expiry, unix seconds.
    pub expires: u64,
}

/// Unix seconds as SQLite stores them; far-future values saturate.
pub fn to_sql(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// Unix seconds read back; a negative value (hand-edited file) reads as 0.
pub fn from_sql(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

/// The account whose key is `key`.
pub fn find_user(c: &Connection, key: &str) -> rusqlite::Result<Option<UserRow>> {
    c.query_row(
        "SELECT id, name, phc, locked, coalesce(created_ms, created * 1000)
         FROM users WHERE name_key = ?1",
        [key],
        |r| {
            Ok(UserRow {
                id: r.get(0)?,
                name: r.get(1)?,
                phc: r.get(2)?,
                locked: r.get(3)?,
                created_ms: from_sql(r.get(4)?),
            })
        },
    )
    .optional()
}

/// Inserts an account under the next never-used id, created at `now_ms`
/// (unix milliseconds); `Ok(false)` when the key is taken.
pub fn insert_user(
    c: &mut Connection,
    name: &str,
    key: &str,
    phc: &str,
    now_ms: u64,
) -> rusqlite::Result<bool> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // `max(..)` as well: a row inserted by an older sockit (which knew no
    // counter) must not be collided with.
    let id: i64 = tx.query_row(
        "SELECT max(next, coalesce((SELECT max(id) FROM users), 0) + 1) FROM user_ids",
        [],
        |r| r.get(0),
    )?;
    let n = tx.execute(
        "INSERT INTO users (id, name, name_key, phc, created, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name_key) DO NOTHING",
        params![id, name, key, phc, to_sql(now_ms / 1000), to_sql(now_ms)],
    )?;
    if n == 1 {
        tx.execute("UPDATE user_ids SET next = ?1", [id.saturating_add(1)])?;
    }
    tx.commit()?;
    Ok(n == 1)
}

/// Raises the next account id above `used` (an id the file store still
/// holds files under), so no new account inherits them.
pub fn reserve_ids_through(c: &Connection, used: i64) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE user_ids SET next = max(next, ?1)",
        [used.saturating_add(1)],
    )
    .map(drop)
}

/// Replaces the hash and ends every session of the account; `Ok(false)` if
/// there is no such account.
pub fn set_phc(c: &mut Connection, key: &str, phc: &str, now: u64) -> rusqlite::Result<bool> {
    let tx = c.transaction()?;
    log_revocation(&tx, key, now)?;
    let n = tx.execute(
        "UPDATE users SET phc = ?2 WHERE name_key = ?1",
        params![key, phc],
    )?;
    revoke_all(&tx, key)?;
    tx.commit()?;
    Ok(n == 1)
}

/// Replaces the hash of account `user_id` (unless it was locked or
/// deleted meanwhile) and ends its sessions but the one of `keep`; returns
/// how many ended, or `None` if the account is gone or locked.
pub fn set_phc_keeping(
    c: &mut Connection,
    user_id: i64,
    phc: &str,
    keep: &[u8; 32],
    now: u64,
) -> rusqlite::Result<Option<usize>> {
    let tx = c.transaction()?;
    let key: Option<String> = tx
        .query_row(
            "SELECT name_key FROM users WHERE id = ?1 AND locked = 0",
            [user_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(key) = key else {
        return Ok(None);
    };
    log_revocation(&tx, &key, now)?;
    tx.execute(
        "UPDATE users SET phc = ?2 WHERE id = ?1",
        params![user_id, phc],
    )?;
    let ended = tx.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND token_hash != ?2",
        params![user_id, &keep[..]],
    )?;
    tx.commit()?;
    Ok(Some(ended))
}

/// Sets or clears the operator lock; locking ends every session, unlocking
/// lifts any temporary lockout. `Ok(false)` if there is no such account.
pub fn set_locked(c: &mut Connection, key: &str, locked: bool, now: u64) -> rusqlite::Result<bool> {
    let tx = c.transaction()?;
    let n = if locked {
        let n = tx.execute("UPDATE users SET locked = 1 WHERE name_key = ?1", [key])?;
        revoke_all(&tx, key)?;
        log_revocation(&tx, key, now)?;
        n
    } else {
        tx.execute(
            "UPDATE users SET locked = 0, locked_until = NULL, unlocked_at = ?2 WHERE name_key = ?1",
            params![key, to_sql(now)],
        )?
    };
    tx.commit()?;
    Ok(n == 1)
}

/// Deletes an account and (by cascade) its sessions, logs the revocation
/// and queues the removal of its files; the account's id if it existed.
pub fn delete_user(c: &mut Connection, key: &str, now: u64) -> rusqlite::Result<Option<i64>> {
    let tx = c.transaction()?;
    let id: Option<i64> = tx
        .query_row("SELECT id FROM users WHERE name_key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(id) = id {
        log_revocation(&tx, key, now)?;
        tx.execute(
            "INSERT OR REPLACE INTO purges (user_id, at) VALUES (?1, ?2)",
            params![id, to_sql(now)],
        )?;
        tx.execute("DELETE FROM users WHERE id = ?1", [id])?;
    }
    tx.commit()?;
    Ok(id)
}

/// How long a revocation stays in the log: far longer than any server's
/// poll interval, so every running server sees it, and short enough that
/// the log stays small.
const REVOCATION_KEEP_SECS: u64 = 3600;

/// Records that the account holding `key` was revoked (servers polling the
/// log end its live sessions), and prunes old entries.
fn log_revocation(c: &Connection, key: &str, now: u64) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO revocations (user_id, at) SELECT id, ?2 FROM users WHERE name_key = ?1",
        params![key, to_sql(now)],
    )?;
    c.execute(
        "DELETE FROM revocations WHERE at < ?1",
        [to_sql(now.saturating_sub(REVOCATION_KEEP_SECS))],
    )
    .map(drop)
}

/// The newest revocation's sequence number (0 when none).
pub fn last_revocation(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("SELECT coalesce(max(seq), 0) FROM revocations", [], |r| {
        r.get(0)
    })
}

/// Revocations after `seq`, oldest first, as (seq, user id).
pub fn revocations_since(c: &Connection, seq: i64) -> rusqlite::Result<Vec<(i64, i64)>> {
    let mut st =
        c.prepare_cached("SELECT seq, user_id FROM revocations WHERE seq > ?1 ORDER BY seq")?;
    let rows = st.query_map([seq], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Whether the account is gone, locked, or was revoked at or after `since`.
pub fn revoked_since(c: &Connection, user_id: i64, since: u64) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND locked = 0)
             OR EXISTS (SELECT 1 FROM revocations WHERE user_id = ?1 AND at >= ?2)",
        params![user_id, to_sql(since)],
        |r| r.get(0),
    )
}

/// Deleted accounts whose files are still to be removed.
pub fn pending_purges(c: &Connection) -> rusqlite::Result<Vec<i64>> {
    let mut st = c.prepare_cached("SELECT user_id FROM purges ORDER BY user_id")?;
    let rows = st.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// The files of deleted account `id` are gone.
pub fn purge_done(c: &Connection, id: i64) -> rusqlite::Result<()> {
    c.execute("DELETE FROM purges WHERE user_id = ?1", [id])
        .map(drop)
}

fn revoke_all(c: &Connection, key: &str) -> rusqlite::Result<usize> {
    c.execute(
        "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name_key = ?1)",
        [key],
    )
}

/// Every account, by name; `locked_until` only while it lies ahead.
pub fn list_users(c: &Connection, now: u64) -> rusqlite::Result<Vec<UserInfo>> {
    let mut st = c.prepare(
        "SELECT name, created, last_login, locked, locked_until FROM users ORDER BY name_key",
    )?;
    let rows = st.query_map([], |r| {
        let until: Option<i64> = r.get(4)?;
        Ok(UserInfo {
            name: r.get(0)?,
            created: from_sql(r.get(1)?),
            last_login: r.get::<_, Option<i64>>(2)?.map(from_sql),
            locked: r.get(3)?,
            locked_until: until.map(from_sql).filter(|&t| t > now),
        })
    })?;
    rows.collect()
}

/// A successful login, in one transaction: the new session, `last_login`,
/// a rehash if due, the lockout column cleared, and the account's expired
/// and surplus sessions dropped.
pub fn record_login(
    c: &mut Connection,
    user_id: i64,
    token_hash: &[u8; 32],
    now: u64,
    expires: u64,
    new_phc: Option<&str>,
) -> rusqlite::Result<()> {
    let tx = c.transaction()?;
    tx.execute(
        "INSERT INTO sessions (token_hash, user_id, created, expires) VALUES (?1, ?2, ?3, ?4)",
        params![&token_hash[..], user_id, to_sql(now), to_sql(expires)],
    )?;
    tx.execute(
        "UPDATE users SET last_login = ?2, locked_until = NULL, phc = coalesce(?3, phc) WHERE id = ?1",
        params![user_id, to_sql(now), new_phc],
    )?;
    tx.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND (expires <= ?2 OR token_hash IN (
             SELECT token_hash FROM sessions WHERE user_id = ?1
             ORDER BY created DESC LIMIT -1 OFFSET ?3))",
        params![user_id, to_sql(now), MAX_SESSIONS_PER_USER],
    )?;
    tx.commit()
}

/// The session of a token hash, if any (expired or not), with its account
/// unless that account is locked.
pub fn find_session(c: &Connection, token_hash: &[u8; 32]) -> rusqlite::Result<Option<SessionRow>> {
    c.query_row(
        "SELECT s.user_id, u.name, s.expires FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND u.locked = 0",
        [&token_hash[..]],
        |r| {
            Ok(SessionRow {
                user_id: r.get(0)?,
                name: r.get(1)?,
                expires: from_sql(r.get(2)?),
            })
        },
    )
    .optional()
}

/// Ends one session; its account's id, or `None` if it did not exist.
pub fn delete_session(c: &Connection, token_hash: &[u8; 32]) -> rusqlite::Result<Option<i64>> {
    c.query_row(
        "DELETE FROM sessions WHERE token_hash = ?1 RETURNING user_id",
        [&token_hash[..]],
        |r| r.get(0),
    )
    .optional()
}

/// Drops every expired session (at open).
pub fn purge_expired(c: &Connection, now: u64) -> rusqlite::Result<usize> {
    c.execute("DELETE FROM sessions WHERE expires <= ?1", [to_sql(now)])
}

/// Shows a temporary lockout in `sockit user list` (no-op for unknown names).
pub fn note_lockout(c: &Connection, key: &str, until: u64) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE users SET locked_until = ?2 WHERE name_key = ?1",
        params![key, to_sql(until)],
    )
    .map(drop)
}

/// When the operator last unlocked the account, if ever.
pub fn unlocked_at(c: &Connection, key: &str) -> rusqlite::Result<Option<u64>> {
    let v: Option<Option<i64>> = c
        .query_row(
            "SELECT unlocked_at FROM users WHERE name_key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.flatten().map(from_sql))
}

/// Whether an account with this key exists.
pub fn exists(c: &Connection, key: &str) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE name_key = ?1)",
        [key],
        |r| r.get(0),
    )
}

/// The registered spelling of the account holding `key`.
pub fn name_of(c: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    c.query_row("SELECT name FROM users WHERE name_key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
}
