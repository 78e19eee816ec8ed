//! Chat history in SQLite (`DATA/chat.db`): schema and queries.
//!
//! Messages are keyed by (room, id) in a `WITHOUT ROWID` table, so a room's
//! history is one contiguous range of the primary key: "last N" and "after
//! id" are a single index range scan. The `rooms` table keeps each room's
//! last id, updated in the same transaction as the messages, so opening the
//! hub reads one row per room instead of scanning every message.
//!
//! Everything here blocks: the writer thread and `spawn_blocking` call it.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, params};

use crate::store::{self, Durability, Migration, StoreError};

use super::event::Message;

/// The history database's file name inside the data directory.
pub const DB_FILE: &str = "chat.db";

/// The schema, one step per version.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "chat rooms and messages",
    sql: "CREATE TABLE rooms (
              name TEXT PRIMARY KEY,
              last_id INTEGER NOT NULL
          ) WITHOUT ROWID;
          CREATE TABLE messages (
              room TEXT NOT NULL,
              id INTEGER NOT NULL,
              ts INTEGER NOT NULL,
              name TEXT NOT NULL,
              guest INTEGER NOT NULL,
              text TEXT NOT NULL,
              PRIMARY KEY (room, id)
          ) WITHOUT ROWID;",
}];

/// Which part of a room's history to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryQuery {
    /// The last N messages (capped at the page maximum).
    Last(usize),
    /// Messages with an id greater than this one, oldest first, one page at
    /// a time: a reconnecting client passes the last id it saw.
    After(u64),
}

/// One page of history, oldest message first.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The messages, in id order.
    pub messages: Vec<Arc<Message>>,
    /// True when more messages exist beyond this page: older ones for
    /// [`HistoryQuery::Last`], newer ones for [`HistoryQuery::After`] (ask
    /// again after the last id here).
    pub more: bool,
}

/// Opens (creating or upgrading) the history database in `dir`.
pub(super) fn open(dir: &Path, durability: Durability) -> Result<Connection, StoreError> {
    store::open(&dir.join(DB_FILE), MIGRATIONS, durability)
}

/// Every room with history, and its last message id.
pub(super) fn load_rooms(conn: &Connection) -> rusqlite::Result<Vec<(String, u64)>> {
    let mut st = conn.prepare("SELECT name, last_id FROM rooms")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, get_u64(r, 1)?)))?;
    rows.collect()
}

/// Commits `batch` in one transaction, with each room's new last id.
pub(super) fn insert_batch(conn: &mut Connection, batch: &[Arc<Message>]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO messages (room, id, ts, name, guest, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut last = tx.prepare_cached(
            "INSERT INTO rooms (name, last_id) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET last_id = max(last_id, excluded.last_id)",
        )?;
        for (i, m) in batch.iter().enumerate() {
            ins.execute(params![
                &*m.room,
                sql_int(m.id),
                sql_int(m.ts),
                &*m.name,
                m.guest,
                m.text
            ])?;
            // One rooms row per room per batch: at its last message here.
            if !batch[i + 1..].iter().any(|n| n.room == m.room) {
                last.execute(params![&*m.room, sql_int(m.id)])?;
            }
        }
    }
    tx.commit()
}

/// Reads one page of a room's history.
pub(super) fn query(
    conn: &Connection,
    room: &Arc<str>,
    q: HistoryQuery,
    page_max: usize,
) -> rusqlite::Result<HistoryPage> {
    let (sql, key, want) = match q {
        HistoryQuery::Last(n) => (
            "SELECT id, ts, name, guest, text FROM messages WHERE room = ?1
             ORDER BY id DESC LIMIT ?3",
            0,
            n.min(page_max),
        ),
        HistoryQuery::After(id) => (
            "SELECT id, ts, name, guest, text FROM messages WHERE room = ?1 AND id > ?2
             ORDER BY id ASC LIMIT ?3",
            id,
            page_max,
        ),
    };
    let mut st = conn.prepare_cached(sql)?;
    // One row more than asked tells whether there is more.
    let limit = i64::try_from(want.saturating_add(1)).unwrap_or(i64::MAX);
    let rows = st.query_map(params![&**room, sql_int(key), limit], |r| {
        Ok(Arc::new(Message::new(
            room.clone(),
            get_u64(r, 0)?,
            get_u64(r, 1)?,
            Arc::from(r.get::<_, String>(2)?),
            r.get(3)?,
            r.get(4)?,
            None,
        )))
    })?;
    let mut messages = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let more = messages.len() > want;
    messages.truncate(want);
    if matches!(q, HistoryQuery::Last(_)) {
        messages.reverse();
    }
    Ok(HistoryPage { messages, more })
}

/// SQLite integers are signed; ids and timestamps stay far below 2^63.
fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Reads an id or timestamp column; a negative value (never written by
/// sockit) reads as 0.
fn get_u64(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(row.get::<_, i64>(i)?).unwrap_or(0))
}
