//! Idempotency keys: a `chat.send` may carry a key, and a resend with the
//! same key (after a lost reply) is answered with the original message
//! (its seq) instead of posting it twice.
//!
//! A key is scoped by room and sender name, so one member's keys can
//! neither collide with nor reveal another's. It is remembered for
//! [`KEY_TTL`] in the same transaction that commits its message (SQLite's
//! `chat_keys`, or PostgreSQL's, looked up under the outbox lock so two
//! nodes never both post one key); a resend after that posts again.

use std::time::Duration;

use rusqlite::{Connection, params};

use super::error::ChatError;
use super::writer::Pending;

/// Longest key, in bytes: room for a UUID or a 32-byte hex digest.
pub const KEY_MAX_BYTES: usize = 64;

/// How long a key is remembered: a client resends within seconds of a
/// lost reply; ten minutes covers a reconnect through another node and
/// keeps the table small (one row per keyed message of the last ten
/// minutes).
pub const KEY_TTL: Duration = Duration::from_secs(10 * 60);

/// The TTL in milliseconds, the unit of the `expires` columns.
pub(super) fn ttl_millis() -> u64 {
    u64::try_from(KEY_TTL.as_millis()).unwrap_or(u64::MAX)
}

/// Checks a key's shape: 1 to [`KEY_MAX_BYTES`] ASCII letters, digits or
/// punctuation (no spaces, no control bytes).
pub(super) fn check(key: &str) -> Result<(), ChatError> {
    if key.is_empty() || key.len() > KEY_MAX_BYTES || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ChatError::BadKey(KEY_MAX_BYTES));
    }
    Ok(())
}

/// For each publish in `batch`, the index of an earlier one in the same
/// batch with the same room, sender and key (a resend that arrived before
/// the original was committed), if any.
pub(super) fn leaders(batch: &[Pending]) -> Vec<Option<usize>> {
    batch
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let key = p.key.as_deref()?;
            batch[..i].iter().position(|q| {
                q.key.as_deref() == Some(key)
                    && q.name == p.name
                    && std::sync::Arc::ptr_eq(&q.room, &p.room)
            })
        })
        .collect()
}

/// The id a live key of `name` in `room` was given, if any (SQLite).
pub(super) fn find(
    conn: &Connection,
    room: &str,
    name: &str,
    key: &str,
    now: u64,
) -> rusqlite::Result<Option<u64>> {
    let mut st = conn.prepare_cached(
        "SELECT id FROM chat_keys WHERE room = ?1 AND name = ?2 AND key = ?3 AND expires > ?4",
    )?;
    let mut rows = st.query_map(params![room, name, key, sql_int(now)], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(rows
        .next()
        .transpose()?
        .map(|v| u64::try_from(v).unwrap_or(0)))
}

/// The time and text of message `id` of `room`, if still in history
/// (SQLite).
pub(super) fn message_at(
    conn: &Connection,
    room: &str,
    id: u64,
) -> rusqlite::Result<Option<(u64, String)>> {
    let mut st =
        conn.prepare_cached("SELECT ts, text FROM messages WHERE room = ?1 AND id = ?2")?;
    let mut rows = st.query_map(params![room, sql_int(id)], |r| {
        Ok((u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0), r.get(1)?))
    })?;
    rows.next().transpose()
}

/// Deletes the keys that expired before `now` (SQLite); how many.
pub(super) fn forget_expired(conn: &Connection, now: u64) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM chat_keys WHERE expires <= ?1")?
        .execute([sql_int(now)])
}

fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
