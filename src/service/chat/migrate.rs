//! `sockit admin migrate`, the chat part: copies `DATA/chat.db` (rooms
//! with their seq, epoch and topic; messages with their edits and deletes,
//! direct conversations among them; idempotency keys; read markers) into
//! the cluster's PostgreSQL, idempotently. The search index needs no copy:
//! PostgreSQL's is built from the messages (see `search_pg`).
//!
//! A room PostgreSQL does not have yet is copied whole, keeping its epoch,
//! so clients that knew it see no change. A room it has under the same
//! epoch (an earlier run) only gets the messages it lacks: none on a
//! second run. A room it has under another epoch is a different history
//! (the cluster already used that name): it is left alone and reported.
//! Each room is copied in its own transaction, in chunks, so memory stays
//! bounded however long the history.

use std::path::Path;

use serde::Serialize;

use super::{history, history_pg};
use crate::store::pg::{self, PgConn, PgError};
use crate::store::{Durability, StoreError};

/// Messages read and written per statement.
const CHUNK: i64 = 1000;

/// What the chat part copied.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ChatCopied {
    /// Rooms created in PostgreSQL.
    pub rooms: usize,
    /// Rooms already there with the same epoch (only missing messages copied).
    pub rooms_present: usize,
    /// Rooms PostgreSQL holds under another epoch: left alone.
    pub conflicts: Vec<String>,
    /// Messages copied.
    pub messages: u64,
    /// Idempotency keys copied (a resend after the move still posts once).
    pub keys: u64,
    /// Read markers copied or moved forward (unread counts stay as they were).
    pub reads: u64,
}

/// Why the chat history could not be copied.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Reading `chat.db`.
    #[error(transparent)]
    Sqlite(#[from] StoreError),
    /// Writing PostgreSQL.
    #[error(transparent)]
    Pg(#[from] PgError),
}

fn lite_err(path: &Path) -> impl Fn(rusqlite::Error) -> CopyError + '_ {
    move |source| {
        CopyError::Sqlite(StoreError::Sqlite {
            path: path.to_owned(),
            source,
        })
    }
}

fn pg_err(e: postgres::Error) -> CopyError {
    CopyError::Pg(PgError::Db(e))
}

/// Copies the chat history of `data_dir` into `conn` (migrating its schema
/// first). A data directory without `chat.db` copies nothing.
pub fn copy_to_pg(data_dir: &Path, conn: &mut PgConn) -> Result<ChatCopied, CopyError> {
    let path = data_dir.join(history::DB_FILE);
    if !path.exists() {
        return Ok(ChatCopied::default());
    }
    let lite = history::open(data_dir, Durability::Full)?;
    let le = lite_err(&path);
    pg::migrate(conn, history_pg::MIGRATIONS)?;
    let rooms: Vec<(String, i64, String, String)> = {
        let mut st = lite
            .prepare("SELECT name, last_id, epoch, topic FROM rooms ORDER BY name")
            .map_err(&le)?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(&le)?;
        rows.collect::<rusqlite::Result<_>>().map_err(&le)?
    };
    let mut out = ChatCopied::default();
    for (room, last, epoch, topic) in rooms {
        let c = conn.client().map_err(pg_err)?;
        let mut tx = c.transaction().map_err(pg_err)?;
        // Commits of live nodes wait: ids stay in commit order.
        tx.execute("SELECT id FROM chat_outbox_lock FOR UPDATE", &[])
            .map_err(pg_err)?;
        let there: Option<String> = tx
            .query_opt("SELECT epoch FROM chat_rooms WHERE name = $1", &[&room])
            .map_err(pg_err)?
            .map(|r| r.get(0));
        match there {
            None => out.rooms += 1,
            Some(e) if e == epoch => out.rooms_present += 1,
            Some(_) => {
                out.conflicts.push(room);
                continue;
            }
        }
        tx.execute(
            "INSERT INTO chat_rooms (name, top, epoch, topic) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET top = greatest(chat_rooms.top, excluded.top)",
            &[&room, &last, &epoch, &topic],
        )
        .map_err(pg_err)?;
        out.messages += copy_messages(&lite, &mut tx, &room).map_err(|e| match e {
            Either::Lite(e) => le(e),
            Either::Pg(e) => pg_err(e),
        })?;
        out.keys += copy_keys(&lite, &mut tx, &room).map_err(|e| match e {
            Either::Lite(e) => le(e),
            Either::Pg(e) => pg_err(e),
        })?;
        out.reads += copy_reads(&lite, &mut tx, &room).map_err(|e| match e {
            Either::Lite(e) => le(e),
            Either::Pg(e) => pg_err(e),
        })?;
        tx.commit().map_err(pg_err)?;
    }
    Ok(out)
}

enum Either {
    Lite(rusqlite::Error),
    Pg(postgres::Error),
}

impl From<rusqlite::Error> for Either {
    fn from(e: rusqlite::Error) -> Self {
        Either::Lite(e)
    }
}

impl From<postgres::Error> for Either {
    fn from(e: postgres::Error) -> Self {
        Either::Pg(e)
    }
}

/// One message row: seq, ts, name, guest, text, kind, target (see
/// `Revision::to_row`).
type Row = (i64, i64, String, bool, String, i16, i64);

fn copy_messages(
    lite: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    room: &str,
) -> Result<u64, Either> {
    let mut st = lite.prepare(
        "SELECT id, ts, name, guest, text, kind, target FROM messages
         WHERE room = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
    )?;
    let mut after = 0i64;
    let mut copied = 0;
    loop {
        let rows: Vec<Row> = st
            .query_map(rusqlite::params![room, after, CHUNK], |r| {
                let kind = i16::try_from(r.get::<_, i64>(5)?).unwrap_or(0);
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    kind,
                    r.get(6)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let Some(last) = rows.last() else {
            return Ok(copied);
        };
        after = last.0;
        let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let ts: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let names: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
        let guests: Vec<bool> = rows.iter().map(|r| r.3).collect();
        let texts: Vec<&str> = rows.iter().map(|r| r.4.as_str()).collect();
        let kinds: Vec<i16> = rows.iter().map(|r| r.5).collect();
        let targets: Vec<i64> = rows.iter().map(|r| r.6).collect();
        copied += tx.execute(
            "INSERT INTO chat_messages (room, seq, ts, name, guest, text, kind, target)
             SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bool[],
                                      $6::text[], $7::smallint[], $8::bigint[])
             ON CONFLICT (room, seq) DO NOTHING",
            &[&room, &seqs, &ts, &names, &guests, &texts, &kinds, &targets],
        )?;
    }
}

fn copy_keys(
    lite: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    room: &str,
) -> Result<u64, Either> {
    let mut st = lite.prepare("SELECT name, key, id, expires FROM chat_keys WHERE room = ?1")?;
    let rows: Vec<(String, String, i64, i64)> = st
        .query_map([room], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut copied = 0;
    for (name, key, seq, expires) in rows {
        copied += tx.execute(
            "INSERT INTO chat_keys (room, name, key, seq, expires) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[&room, &name, &key, &seq, &expires],
        )?;
    }
    Ok(copied)
}

/// Copies `room`'s read markers; one already in PostgreSQL for the same
/// epoch moves forward only (a marker never goes back).
fn copy_reads(
    lite: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    room: &str,
) -> Result<u64, Either> {
    let mut st = lite.prepare("SELECT user, seq, epoch FROM chat_reads WHERE room = ?1")?;
    let rows: Vec<(String, i64, String)> = st
        .query_map([room], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut copied = 0;
    for (user, seq, epoch) in rows {
        copied += tx.execute(
            "INSERT INTO chat_reads (user_key, room, seq, epoch) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_key, room) DO UPDATE SET seq = excluded.seq
             WHERE chat_reads.epoch = excluded.epoch AND chat_reads.seq < excluded.seq",
            &[&user, &room, &seq, &epoch],
        )?;
    }
    Ok(copied)
}
