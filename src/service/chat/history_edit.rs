//! Edits and deletes in SQLite: reading the message one targets, and
//! committing the change as a log entry of its own, in one transaction
//! with the rewrite of the message (see `edit`). Only the writer thread
//! calls these, so the check and the commit see the same row.

use rusqlite::{Connection, OptionalExtension, params};

use super::edit::{Amend, Target};
use super::event::{Message, Revision};
use super::history::{get_u64, new_epoch, sql_int};

/// Message `id` of `room` as history holds it.
pub(super) fn target(conn: &Connection, room: &str, id: u64) -> rusqlite::Result<Option<Target>> {
    conn.prepare_cached(
        "SELECT name, guest, ts, kind, target FROM messages WHERE room = ?1 AND id = ?2",
    )?
    .query_row(params![room, sql_int(id)], |r| {
        Ok(Target {
            name: r.get(0)?,
            guest: r.get(1)?,
            ts: get_u64(r, 2)?,
            revision: Revision::from_row(r.get(3)?, get_u64(r, 4)?),
        })
    })
    .optional()
}

/// Commits `entry` (an edit or delete of `entry.revision`'s target, with
/// its own id) and rewrites the message it changes: an edit replaces its
/// text; a delete erases it, and the text of every earlier edit of it.
pub(super) fn commit(
    conn: &mut Connection,
    entry: &Message,
    amend: &Amend,
) -> rusqlite::Result<()> {
    let target = entry.revision.target().unwrap_or(0);
    let (kind, _) = entry.revision.to_row();
    let tx = conn.transaction()?;
    tx.prepare_cached(
        "INSERT INTO messages (room, id, ts, name, guest, text, kind, target)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        &*entry.room,
        sql_int(entry.id),
        sql_int(entry.ts),
        &*entry.name,
        entry.guest,
        entry.text,
        kind,
        sql_int(target)
    ])?;
    tx.prepare_cached(
        "INSERT INTO rooms (name, last_id, epoch) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET last_id = max(last_id, excluded.last_id)",
    )?
    .execute(params![&*entry.room, sql_int(entry.id), new_epoch()])?;
    let room = &*entry.room;
    match amend {
        Amend::Topic(topic) => {
            tx.prepare_cached("UPDATE rooms SET topic = ?2 WHERE name = ?1")?
                .execute(params![room, topic])?;
        }
        Amend::Edit(text) => {
            tx.prepare_cached(
                "UPDATE messages SET text = ?3, kind = 1 WHERE room = ?1 AND id = ?2",
            )?
            .execute(params![room, sql_int(target), text])?;
        }
        Amend::Delete => {
            tx.prepare_cached(
                "UPDATE messages SET text = '', kind = 2 WHERE room = ?1 AND id = ?2",
            )?
            .execute(params![room, sql_int(target)])?;
            tx.prepare_cached(
                "UPDATE messages SET text = '' WHERE room = ?1 AND kind = 3 AND target = ?2",
            )?
            .execute(params![room, sql_int(target)])?;
        }
    }
    tx.commit()
}
