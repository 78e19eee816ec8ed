//! Read markers and direct-conversation listings in SQLite (`chat_reads`
//! in `chat.db`), and what both stores share: the schema steps and the
//! counting rules (`reads_pg` has the PostgreSQL queries).
//!
//! A marker row is (account key, room, seq, epoch); see `reads` for the
//! rules. Direct conversations are found by their names' shape
//! (`@key+...` or `@...+key`) with `substr`, which needs no escaping of
//! `_` in names.

use rusqlite::{Connection, OptionalExtension, params};

use super::dm::dm_peer;
use super::history::meta;
use super::reads::{COUNT_CAP, Conversation, MENTION_SCAN, mention_pattern, mentions};

/// The PostgreSQL channel a moved marker is announced on, with a JSON
/// payload `{"node","user","room","seq"}` (see `local::cluster`).
pub(super) const READ_CHANNEL: &str = "sockit_chat_read";

/// The SQLite schema step adding markers.
pub(super) const SQLITE_READS: &str = "CREATE TABLE chat_reads (
      user TEXT NOT NULL,
      room TEXT NOT NULL,
      seq INTEGER NOT NULL,
      epoch TEXT NOT NULL,
      PRIMARY KEY (user, room)
  ) WITHOUT ROWID;";

/// The PostgreSQL schema step adding markers.
pub(super) const PG_READS: &str = "CREATE TABLE chat_reads (
      user_key TEXT NOT NULL,
      room TEXT NOT NULL,
      seq BIGINT NOT NULL,
      epoch TEXT NOT NULL,
      PRIMARY KEY (user_key, room)
  );";

pub(super) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn nat(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The capped counts: `unread` as counted, and the mentions of `me`
/// among the `candidates` the `LIKE` prefilter found.
pub(super) fn counted(unread: u64, candidates: &[String], me: &str) -> (u64, u64) {
    let m = candidates.iter().filter(|t| mentions(t, me)).count() as u64;
    (unread.min(COUNT_CAP), m.min(COUNT_CAP))
}

/// Where mentions are looked for: after the marker, and within the last
/// [`MENTION_SCAN`] seqs.
pub(super) fn scan_from(read: u64, top: u64) -> u64 {
    read.max(top.saturating_sub(MENTION_SCAN))
}

// ---- SQLite ----

/// Moves `user`'s marker in `room` to `seq` (never back, never past the
/// room's last message, reset with the epoch); the marker now.
pub(super) fn set_read(c: &Connection, user: &str, room: &str, seq: u64) -> rusqlite::Result<u64> {
    let tx = c.unchecked_transaction()?;
    let Some((top, epoch)) = meta(&tx, room)? else {
        return Ok(0);
    };
    let seq = int(seq).min(int(top));
    tx.execute(
        "INSERT INTO chat_reads (user, room, seq, epoch) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (user, room) DO UPDATE SET
           seq = CASE WHEN epoch = excluded.epoch THEN max(seq, excluded.seq)
                 ELSE excluded.seq END,
           epoch = excluded.epoch",
        params![user, room, seq, epoch],
    )?;
    let now: i64 = tx.query_row(
        "SELECT seq FROM chat_reads WHERE user = ?1 AND room = ?2",
        params![user, room],
        |r| r.get(0),
    )?;
    tx.commit()?;
    Ok(nat(now))
}

/// `user`'s place in `room` (`me` is its display name, as messages carry it).
pub(super) fn conversation(
    c: &Connection,
    (user, me): (&str, &str),
    (room, floor): (&str, u64),
) -> rusqlite::Result<Conversation> {
    let tx = c.unchecked_transaction()?;
    let (top, epoch) = meta(&tx, room)?.unwrap_or_default();
    let read = tx
        .query_row(
            "SELECT seq FROM chat_reads WHERE user = ?1 AND room = ?2 AND epoch = ?3",
            params![user, room, epoch],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .map_or(0, nat)
        .max(floor);
    let unread: i64 = tx.query_row(
        "SELECT count(*) FROM (SELECT 1 FROM messages
         WHERE room = ?1 AND id > ?2 AND name <> ?3 LIMIT ?4)",
        params![room, int(read), me, int(COUNT_CAP)],
        |r| r.get(0),
    )?;
    let mut st = tx.prepare_cached(
        "SELECT text FROM messages WHERE room = ?1 AND id > ?2 AND name <> ?3
         AND text LIKE ?4 ESCAPE '\\' ORDER BY id DESC LIMIT ?5",
    )?;
    let texts = st
        .query_map(
            params![
                room,
                int(scan_from(read, top)),
                me,
                mention_pattern(me),
                int(COUNT_CAP)
            ],
            |r| r.get::<_, String>(0),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let ts: i64 = tx
        .query_row(
            "SELECT ts FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT 1",
            [room],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    drop(st);
    let (unread, mentions) = counted(nat(unread), &texts, me);
    Ok(Conversation {
        room: room.into(),
        with: dm_peer(room, user).map(Into::into),
        last_id: top,
        ts: nat(ts),
        read,
        unread,
        mentions,
    })
}

/// `user`'s direct conversations with messages, newest activity first, at
/// most `max`.
pub(super) fn dm_rooms(c: &Connection, user: &str, max: usize) -> rusqlite::Result<Vec<String>> {
    let mut st = c.prepare_cached(
        "SELECT name FROM rooms WHERE last_id > 0
         AND (substr(name, 1, length(?1)) = ?1 OR substr(name, -length(?2)) = ?2)
         AND substr(name, 1, 1) = '@'
         ORDER BY (SELECT ts FROM messages WHERE room = rooms.name ORDER BY id DESC LIMIT 1)
         DESC LIMIT ?3",
    )?;
    let rows = st.query_map(
        params![format!("@{user}+"), format!("+{user}"), int(max as u64)],
        |r| r.get(0),
    )?;
    rows.collect()
}

/// How many direct conversations (with messages or not) `user` is in.
pub(super) fn dm_count(c: &Connection, user: &str) -> rusqlite::Result<usize> {
    let n: i64 = c.query_row(
        "SELECT count(*) FROM rooms WHERE substr(name, 1, 1) = '@'
         AND (substr(name, 1, length(?1)) = ?1 OR substr(name, -length(?2)) = ?2)",
        params![format!("@{user}+"), format!("+{user}")],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}
