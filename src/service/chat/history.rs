//! Chat history in SQLite (`DATA/chat.db`): schema and queries.
//!
//! Messages are keyed by (room, id) in a `WITHOUT ROWID` table, so a room's
//! history is one contiguous range of the primary key: "last N" and "after
//! id" are a single index range scan. The `rooms` table keeps each room's
//! last id, updated in the same transaction as the messages, so opening the
//! hub reads one row per room instead of scanning every message, and its
//! epoch: written with the row (when the room is created, or its first
//! message), kept while the row lives, new when a room forgotten empty is
//! created again and its ids restart (see `chat.history`'s `stale_epoch`).
//!
//! Everything here blocks: the writer thread and `spawn_blocking` call it.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, params};

use crate::store::{self, Durability, Migration, StoreError};

use super::event::{Message, Revision};

/// The history database's file name inside the data directory.
pub const DB_FILE: &str = "chat.db";

/// The schema, one step per version.
const MIGRATIONS: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2,
        name: "chat messages by age, for retention",
        sql: "CREATE INDEX messages_ts ON messages (ts);",
    },
    Migration {
        version: 3,
        name: "chat idempotency keys",
        sql: "CREATE TABLE chat_keys (
              room TEXT NOT NULL,
              name TEXT NOT NULL,
              key TEXT NOT NULL,
              id INTEGER NOT NULL,
              expires INTEGER NOT NULL,
              PRIMARY KEY (room, name, key)
          ) WITHOUT ROWID;
          CREATE INDEX chat_keys_expires ON chat_keys (expires);",
    },
    Migration {
        version: 4,
        name: "chat room epochs",
        sql: "ALTER TABLE rooms ADD COLUMN epoch TEXT NOT NULL DEFAULT '';
          UPDATE rooms SET epoch = lower(hex(randomblob(8)));",
    },
    Migration {
        version: 5,
        name: "chat read markers",
        sql: super::reads_db::SQLITE_READS,
    },
    Migration {
        version: 6,
        name: "chat edits, deletes and full-text search",
        sql: super::search::SQLITE_MIGRATION,
    },
    Migration {
        version: 7,
        name: "chat room topics",
        sql: "ALTER TABLE rooms ADD COLUMN topic TEXT NOT NULL DEFAULT '';",
    },
    Migration {
        version: 8,
        name: "chat search index filled once per commit, not per message",
        sql: super::search::SQLITE_BATCH_INDEX,
    },
];

/// A fresh epoch for a room whose history starts (again): 16 random hex
/// digits. A room keeps it while its row lives; a room forgotten and
/// created again (its ids restart) gets a new one, so a client holding the
/// old one is told its history is stale instead of missing messages.
pub(super) fn new_epoch() -> String {
    let mut b = [0u8; 8];
    // Failing randomness leaves zeros: still a valid epoch, only a weaker
    // guard against a room reset to the same value.
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

/// An idempotency key to remember with its message: room, sender, key, id.
pub(super) type KeyRow<'a> = (&'a str, &'a str, &'a str, u64);

/// Which part of a room's history to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryQuery {
    /// The last N messages (capped at the page maximum).
    Last(usize),
    /// Messages with an id greater than this one, oldest first, one page at
    /// a time: a reconnecting client passes the last id it saw.
    After(u64),
    /// Scroll-back: the last N (capped at the page maximum) of the messages
    /// with an id below this one; a client scrolling up passes the first id
    /// of the page it holds.
    Before(u64, usize),
}

impl HistoryQuery {
    /// True for the queries read newest first (then reversed): `more`
    /// means older messages exist.
    pub(super) fn backwards(self) -> bool {
        !matches!(self, HistoryQuery::After(_))
    }
}

/// One page of history, oldest message first.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The messages, in id order.
    pub messages: Vec<Arc<Message>>,
    /// True when more messages exist beyond this page: older ones for
    /// [`HistoryQuery::Last`] and [`HistoryQuery::Before`], newer ones for [`HistoryQuery::After`] (ask
    /// again after the last id here).
    pub more: bool,
    /// The room's epoch (see [`Joined::epoch`](super::Joined::epoch));
    /// empty when the room does not exist.
    pub epoch: Arc<str>,
}

/// Opens (creating or upgrading) the history database in `dir`.
pub(super) fn open(dir: &Path, durability: Durability) -> Result<Connection, StoreError> {
    store::open(&dir.join(DB_FILE), MIGRATIONS, durability)
}

/// How many rooms have history.
pub(super) fn count_rooms(conn: &Connection) -> rusqlite::Result<usize> {
    let n: i64 = conn.query_row("SELECT count(*) FROM rooms WHERE last_id > 0", [], |r| {
        r.get(0)
    })?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// The last message id of `room`, if it has history.
pub(super) fn stored_last_id(conn: &Connection, room: &str) -> rusqlite::Result<Option<u64>> {
    let mut st = conn.prepare_cached("SELECT last_id FROM rooms WHERE name = ?1")?;
    let mut rows = st.query_map([room], |r| get_u64(r, 0))?;
    rows.next().transpose()
}

/// The last id and epoch of `room`, if it has a row (history, or
/// members since it was created).
pub(super) fn meta(conn: &Connection, room: &str) -> rusqlite::Result<Option<(u64, String)>> {
    let mut st = conn.prepare_cached("SELECT last_id, epoch FROM rooms WHERE name = ?1")?;
    let mut rows = st.query_map([room], |r| Ok((get_u64(r, 0)?, r.get(1)?)))?;
    rows.next().transpose()
}

/// Gives `room` a row (no messages yet, a fresh epoch) unless it has one.
pub(super) fn create_room(conn: &Connection, room: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO rooms (name, last_id, epoch) VALUES (?1, 0, ?2)")?
        .execute(params![room, new_epoch()])
        .map(drop)
}

/// The first `max` rooms with history by name, with their last ids and
/// topics.
pub(super) fn list_rooms(conn: &Connection, max: usize) -> rusqlite::Result<Vec<StoredRoom>> {
    let mut st = conn.prepare_cached(
        "SELECT name, last_id, topic FROM rooms WHERE last_id > 0 AND name NOT LIKE '@%' ORDER BY name LIMIT ?1",
    )?;
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let rows = st.query_map([limit], |r| Ok((r.get(0)?, get_u64(r, 1)?, r.get(2)?)))?;
    rows.collect()
}

/// A room as the stores list it: name, last id, topic.
pub(super) type StoredRoom = (String, u64, String);

/// The topic of `room` (empty when it has none, or no row).
pub(super) fn topic(conn: &Connection, room: &str) -> rusqlite::Result<String> {
    let mut st = conn.prepare_cached("SELECT topic FROM rooms WHERE name = ?1")?;
    let mut rows = st.query_map([room], |r| r.get(0))?;
    Ok(rows.next().transpose()?.unwrap_or_default())
}

/// Bytes the database's live pages take (its file, less free pages).
pub(super) fn used_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(u64::try_from(pages.saturating_sub(free).saturating_mul(size)).unwrap_or(0))
}

/// Deletes up to `chunk` messages older than `cutoff` (unix millis),
/// oldest first; how many went.
pub(super) fn delete_older(
    conn: &Connection,
    cutoff: u64,
    chunk: usize,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM messages WHERE (room, id) IN
         (SELECT room, id FROM messages WHERE ts < ?1 ORDER BY ts LIMIT ?2)",
    )?
    .execute(params![sql_int(cutoff), sql_int(chunk as u64)])
}

/// Deletes up to `chunk` of the oldest messages, in any room.
pub(super) fn delete_oldest(conn: &Connection, chunk: usize) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM messages WHERE (room, id) IN
         (SELECT room, id FROM messages ORDER BY ts LIMIT ?1)",
    )?
    .execute(params![sql_int(chunk as u64)])
}

/// Rooms whose ids run past `keep` messages, with their last ids: their
/// messages up to `last_id - keep` may have to go.
pub(super) fn rooms_over(conn: &Connection, keep: u64) -> rusqlite::Result<Vec<(String, u64)>> {
    let mut st = conn.prepare_cached("SELECT name, last_id FROM rooms WHERE last_id > ?1")?;
    let rows = st.query_map([sql_int(keep)], |r| Ok((r.get(0)?, get_u64(r, 1)?)))?;
    rows.collect()
}

/// Deletes up to `chunk` of `room`'s messages with ids up to `upto`.
pub(super) fn delete_room_upto(
    conn: &Connection,
    room: &str,
    upto: u64,
    chunk: usize,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM messages WHERE room = ?1 AND id IN
         (SELECT id FROM messages WHERE room = ?1 AND id <= ?2 ORDER BY id LIMIT ?3)",
    )?
    .execute(params![room, sql_int(upto), sql_int(chunk as u64)])
}

/// Up to `chunk` rooms left with no messages at all.
pub(super) fn empty_rooms(conn: &Connection, chunk: usize) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare_cached(
        "SELECT name FROM rooms WHERE NOT EXISTS
         (SELECT 1 FROM messages WHERE messages.room = rooms.name) LIMIT ?1",
    )?;
    let rows = st.query_map([sql_int(chunk as u64)], |r| r.get(0))?;
    rows.collect()
}

/// Forgets the rooms named in `names`, if they still have no messages.
pub(super) fn delete_rooms(conn: &mut Connection, names: &[String]) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    let mut n = 0;
    {
        let mut del = tx.prepare_cached(
            "DELETE FROM rooms WHERE name = ?1 AND NOT EXISTS
             (SELECT 1 FROM messages WHERE messages.room = ?1)",
        )?;
        // A forgotten room's read markers go with it.
        let mut marks = tx.prepare_cached(
            "DELETE FROM chat_reads WHERE room = ?1 AND NOT EXISTS
             (SELECT 1 FROM rooms WHERE name = ?1)",
        )?;
        for name in names {
            n += del.execute([name])?;
            marks.execute([name])?;
        }
    }
    tx.commit()?;
    Ok(n)
}

/// Commits `batch` in one transaction, with each room's new last id and
/// the idempotency `keys` of its keyed messages (kept until `expires`).
pub(super) fn insert_batch(
    conn: &mut Connection,
    batch: &[Arc<Message>],
    keys: &[KeyRow<'_>],
    expires: u64,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    // The search index is filled once for the whole batch, after its
    // messages: a trigger per row made FTS5 flush its pending postings at
    // every statement (one index segment per message, then merges): the
    // largest single cost of a commit (see `search::SQLITE_BATCH_INDEX`).
    let first_doc: i64 = tx.query_row("SELECT coalesce(max(doc), 0) FROM messages", [], |r| {
        r.get(0)
    })?;
    {
        let mut key = tx.prepare_cached(
            "INSERT OR REPLACE INTO chat_keys (room, name, key, id, expires)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (room, name, k, id) in keys {
            key.execute(params![room, name, k, sql_int(*id), sql_int(expires)])?;
        }
        // `doc` numbers the message for the search index (see `search`).
        let mut ins = tx.prepare_cached(
            "INSERT INTO messages (room, id, ts, name, guest, text, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT coalesce(max(doc), 0) + 1 FROM messages))",
        )?;
        let mut last = tx.prepare_cached(
            "INSERT INTO rooms (name, last_id, epoch) VALUES (?1, ?2, ?3)
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
                last.execute(params![&*m.room, sql_int(m.id), new_epoch()])?;
            }
        }
        tx.prepare_cached(
            "INSERT INTO messages_fts (rowid, text) SELECT doc, text FROM messages WHERE doc > ?1",
        )?
        .execute([first_doc])?;
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
            "SELECT id, ts, name, guest, text, kind, target FROM messages WHERE room = ?1
             ORDER BY id DESC LIMIT ?3",
            0,
            n.min(page_max),
        ),
        HistoryQuery::After(id) => (
            "SELECT id, ts, name, guest, text, kind, target FROM messages WHERE room = ?1 AND id > ?2
             ORDER BY id ASC LIMIT ?3",
            id,
            page_max,
        ),
        HistoryQuery::Before(id, n) => (
            "SELECT id, ts, name, guest, text, kind, target FROM messages WHERE room = ?1 AND id < ?2
             ORDER BY id DESC LIMIT ?3",
            id,
            n.min(page_max),
        ),
    };
    // One snapshot for the page and the epoch: a reset between the two
    // reads cannot pair one epoch's messages with the other's epoch.
    let tx = conn.unchecked_transaction()?;
    let mut st = tx.prepare_cached(sql)?;
    // One row more than asked tells whether there is more.
    let limit = i64::try_from(want.saturating_add(1)).unwrap_or(i64::MAX);
    let rows = st.query_map(params![&**room, sql_int(key), limit], |r| {
        Ok(Arc::new(
            Message::new(
                room.clone(),
                get_u64(r, 0)?,
                get_u64(r, 1)?,
                Arc::from(r.get::<_, String>(2)?),
                r.get(3)?,
                r.get(4)?,
                None,
            )
            .with_revision(Revision::from_row(r.get(5)?, get_u64(r, 6)?)),
        ))
    })?;
    let mut messages = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let more = messages.len() > want;
    messages.truncate(want);
    if q.backwards() {
        messages.reverse();
    }
    drop(st);
    let epoch = meta(&tx, room)?.map_or_else(String::new, |(_, e)| e);
    Ok(HistoryPage {
        messages,
        more,
        epoch: Arc::from(epoch),
    })
}

/// SQLite integers are signed; ids and timestamps stay far below 2^63.
pub(super) fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Reads an id or timestamp column; a negative value (never written by
/// sockit) reads as 0.
pub(super) fn get_u64(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(row.get::<_, i64>(i)?).unwrap_or(0))
}
