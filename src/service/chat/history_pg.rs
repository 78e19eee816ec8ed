//! Chat history in PostgreSQL, shared by every node of a cluster: schema
//! and queries, the counterpart of `history` (SQLite).
//!
//! Each room has a meta row in `chat_rooms` (its top seq and epoch). A
//! commit (`publish_pg`, one call of a server-side function) locks the
//! outbox row, then each room's meta row (an upsert `RETURNING` the top),
//! takes the next seqs, inserts the messages and sends a `pg_notify`
//! naming the node as a wake-up, all in one transaction: so a room's
//! seqs are contiguous and commit in seq order, and the messages' global
//! `id` (a sequence) commits in id order too, which is what lets every
//! node read the table as an outbox (`id > cursor`) without missing a row
//! that committed late. The one outbox lock serialises the commits of all
//! nodes; each commit carries a whole batch (see `writer`), so it is held
//! once per batch, not per message (docs/SCALING.md).

use std::sync::Arc;
use std::time::Duration;

use postgres::Client;

use crate::store::Migration;

use super::event::{DoorKind, MemberInfo, Message, Revision};
use super::history::{HistoryPage, HistoryQuery, StoredRoom, new_epoch};

/// The LISTEN/NOTIFY channel commits wake the other nodes on. Only a
/// wake-up: notifications sent while a node reconnects are lost, so nodes
/// also poll (see `local::cluster`).
pub(super) const NOTIFY_CHANNEL: &str = "sockit_chat";

/// The schema, one step per version (`sockit_migrations`).
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "chat rooms, messages and the outbox lock",
        sql: "CREATE TABLE chat_rooms (
              name TEXT PRIMARY KEY,
              top BIGINT NOT NULL DEFAULT 0,
              epoch TEXT NOT NULL
          );
          CREATE TABLE chat_messages (
              id BIGSERIAL PRIMARY KEY,
              room TEXT NOT NULL,
              seq BIGINT NOT NULL,
              ts BIGINT NOT NULL,
              name TEXT NOT NULL,
              guest BOOLEAN NOT NULL,
              text TEXT NOT NULL,
              UNIQUE (room, seq)
          );
          CREATE INDEX chat_messages_ts ON chat_messages (ts);
          CREATE TABLE chat_outbox_lock (id INTEGER PRIMARY KEY);
          INSERT INTO chat_outbox_lock VALUES (1);",
    },
    Migration {
        version: 2,
        name: "chat idempotency keys",
        sql: "CREATE TABLE chat_keys (
              room TEXT NOT NULL,
              name TEXT NOT NULL,
              key TEXT NOT NULL,
              seq BIGINT NOT NULL,
              expires BIGINT NOT NULL,
              PRIMARY KEY (room, name, key)
          );
          CREATE INDEX chat_keys_expires ON chat_keys (expires);",
    },
    Migration {
        version: 3,
        name: "chat presence per node, with a heartbeat",
        sql: "CREATE TABLE chat_nodes (
              node TEXT PRIMARY KEY,
              seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
          );
          CREATE TABLE chat_presence (
              node TEXT NOT NULL REFERENCES chat_nodes ON DELETE CASCADE,
              room TEXT NOT NULL,
              name TEXT NOT NULL,
              door TEXT NOT NULL,
              guest BOOLEAN NOT NULL
          );
          CREATE INDEX chat_presence_node ON chat_presence (node);
          CREATE INDEX chat_presence_room ON chat_presence (room);",
    },
    Migration {
        version: 4,
        name: "chat messages name the node that committed them",
        sql: "ALTER TABLE chat_messages ADD COLUMN node TEXT NOT NULL DEFAULT '';",
    },
    Migration {
        version: 5,
        name: "chat read markers",
        sql: super::reads_db::PG_READS,
    },
    Migration {
        version: 6,
        name: "chat edits, deletes and full-text search",
        sql: super::search_pg::MIGRATION,
    },
    Migration {
        version: 7,
        name: "chat room topics",
        sql: "ALTER TABLE chat_rooms ADD COLUMN topic TEXT NOT NULL DEFAULT '';",
    },
    Migration {
        version: 8,
        name: "chat publish in one call",
        sql: super::publish_pg::MIGRATION,
    },
];

/// The time and text of message `seq` of `room`, if still in history.
pub(super) fn message_at(
    c: &mut Client,
    room: &str,
    seq: u64,
) -> Result<Option<(u64, String)>, postgres::Error> {
    let row = c.query_opt(
        "SELECT ts, text FROM chat_messages WHERE room = $1 AND seq = $2",
        &[&room, &sql_int(seq)],
    )?;
    Ok(row.map(|r| (get_u64(r.get(0)), r.get(1))))
}

/// Deletes the keys that expired before `now` (unix millis); how many.
pub(super) fn forget_expired_keys(c: &mut Client, now: u64) -> Result<usize, postgres::Error> {
    let n = c.execute(
        "DELETE FROM chat_keys WHERE expires <= $1",
        &[&sql_int(now)],
    )?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// One member of one room on this node, as presence lists it.
pub(super) type PresenceRow = (Arc<str>, MemberInfo);

/// Marks `node` alive now; with `members`, replaces its presence rows by
/// them. Also forgets nodes silent for longer than `forget_after` (their
/// rows go with them), so dead nodes do not pile up.
pub(super) fn heartbeat(
    c: &mut Client,
    node: &str,
    members: Option<&[PresenceRow]>,
    forget_after: Duration,
) -> Result<(), postgres::Error> {
    let mut tx = c.transaction()?;
    tx.execute(
        "INSERT INTO chat_nodes (node, seen_at) VALUES ($1, now())
         ON CONFLICT (node) DO UPDATE SET seen_at = now()",
        &[&node],
    )?;
    if let Some(members) = members {
        tx.execute("DELETE FROM chat_presence WHERE node = $1", &[&node])?;
        let rooms: Vec<&str> = members.iter().map(|(r, _)| &**r).collect();
        let names: Vec<&str> = members.iter().map(|(_, m)| &*m.name).collect();
        let doors: Vec<&str> = members.iter().map(|(_, m)| m.door.as_str()).collect();
        let guests: Vec<bool> = members.iter().map(|(_, m)| m.guest).collect();
        tx.execute(
            "INSERT INTO chat_presence (node, room, name, door, guest)
             SELECT $1, r, n, d, g
             FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[]) AS u(r, n, d, g)",
            &[&node, &rooms, &names, &doors, &guests],
        )?;
    }
    tx.execute(
        "DELETE FROM chat_nodes WHERE seen_at < now() - make_interval(secs => $1)",
        &[&forget_after.as_secs_f64()],
    )?;
    tx.commit()
}

/// Forgets `node` and its presence (a clean stop).
pub(super) fn leave_cluster(c: &mut Client, node: &str) -> Result<(), postgres::Error> {
    c.execute("DELETE FROM chat_nodes WHERE node = $1", &[&node])
        .map(drop)
}

/// The members of `room` on nodes other than `node` that were heard from
/// within `ttl`.
pub(super) fn remote_members(
    c: &mut Client,
    node: &str,
    room: &str,
    ttl: Duration,
) -> Result<Vec<MemberInfo>, postgres::Error> {
    let rows = c.query(
        "SELECT p.name, p.door, p.guest FROM chat_presence p JOIN chat_nodes n USING (node)
         WHERE p.room = $1 AND p.node <> $2 AND n.seen_at > now() - make_interval(secs => $3)",
        &[&room, &node, &ttl.as_secs_f64()],
    )?;
    Ok(rows
        .iter()
        .map(|r| MemberInfo {
            name: Arc::from(r.get::<_, String>(0)),
            door: door_kind(r.get(1)),
            guest: r.get(2),
        })
        .collect())
}

/// A door's name as stored back to its kind (an unknown one, written by a
/// newer node, shows as a frame member).
pub(super) fn door_kind(s: &str) -> DoorKind {
    [DoorKind::Line, DoorKind::Datagram, DoorKind::Web]
        .into_iter()
        .find(|d| d.as_str() == s)
        .unwrap_or(DoorKind::Frame)
}

/// How many rooms have a meta row.
pub(super) fn count_rooms(c: &mut Client) -> Result<usize, postgres::Error> {
    let n: i64 = c
        .query_one("SELECT count(*) FROM chat_rooms WHERE top > 0", &[])?
        .get(0);
    Ok(usize::try_from(n).unwrap_or(0))
}

/// The top seq of `room`, if it has a meta row.
pub(super) fn stored_last_id(c: &mut Client, room: &str) -> Result<Option<u64>, postgres::Error> {
    let row = c.query_opt("SELECT top FROM chat_rooms WHERE name = $1", &[&room])?;
    Ok(row.map(|r| get_u64(r.get(0))))
}

/// The top seq and epoch of `room`, if it has a meta row.
pub(super) fn meta(c: &mut Client, room: &str) -> Result<Option<(u64, String)>, postgres::Error> {
    let row = c.query_opt(
        "SELECT top, epoch FROM chat_rooms WHERE name = $1",
        &[&room],
    )?;
    Ok(row.map(|r| (get_u64(r.get(0)), r.get(1))))
}

/// Gives `room` a meta row (top 0, a fresh epoch) unless it has one: every
/// node then reports the epoch of the first row written.
pub(super) fn create_room(c: &mut Client, room: &str) -> Result<(), postgres::Error> {
    c.execute(
        "INSERT INTO chat_rooms (name, top, epoch) VALUES ($1, 0, $2)
         ON CONFLICT (name) DO NOTHING",
        &[&room, &new_epoch()],
    )
    .map(drop)
}

/// The top seqs of the rooms named, for the rooms that have one.
pub(super) fn tops(c: &mut Client, rooms: &[&str]) -> Result<Vec<(String, u64)>, postgres::Error> {
    let rows = c.query(
        "SELECT name, top FROM chat_rooms WHERE name = ANY($1)",
        &[&rooms],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), get_u64(r.get(1)))).collect())
}

/// The first `max` rooms by name, with their top seqs.
pub(super) fn list_rooms(c: &mut Client, max: usize) -> Result<Vec<StoredRoom>, postgres::Error> {
    let limit = sql_int(max as u64);
    let rows = c.query(
        "SELECT name, top, topic FROM chat_rooms WHERE top > 0 AND name NOT LIKE '@%' ORDER BY name LIMIT $1",
        &[&limit],
    )?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), get_u64(r.get(1)), r.get(2)))
        .collect())
}

/// The topic of `room` (empty when none).
pub(super) fn topic(c: &mut Client, room: &str) -> Result<String, postgres::Error> {
    let row = c.query_opt("SELECT topic FROM chat_rooms WHERE name = $1", &[&room])?;
    Ok(row.map(|r| r.get(0)).unwrap_or_default())
}

/// The outbox's current end: the highest message id committed.
pub(super) fn outbox_end(c: &mut Client) -> Result<i64, postgres::Error> {
    c.query_one("SELECT coalesce(max(id), 0) FROM chat_messages", &[])
        .map(|r| r.get(0))
}

/// Up to `max` messages committed by nodes other than `node` after
/// outbox position `cursor`, in id (so commit) order, with their ids. A
/// node's own commits are its writer's to deliver (with their sender, so
/// that nobody is sent their own message back).
pub(super) fn outbox_after(
    c: &mut Client,
    cursor: i64,
    node: &str,
    max: usize,
) -> Result<Vec<(i64, Message)>, postgres::Error> {
    let rows = c.query(
        "SELECT id, room, seq, ts, name, guest, text, kind, target FROM chat_messages
         WHERE id > $1 AND node <> $2 ORDER BY id LIMIT $3",
        &[&cursor, &node, &sql_int(max as u64)],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let room: String = r.get(1);
            let m = Message::new(
                Arc::from(room),
                get_u64(r.get(2)),
                get_u64(r.get(3)),
                Arc::from(r.get::<_, String>(4)),
                r.get(5),
                r.get(6),
                None,
            )
            .with_revision(revision(r.get(7), r.get(8)));
            (r.get(0), m)
        })
        .collect())
}

/// Reads one page of a room's history (as `history::query`).
pub(super) fn query(
    c: &mut Client,
    room: &Arc<str>,
    q: HistoryQuery,
    page_max: usize,
) -> Result<HistoryPage, postgres::Error> {
    let (sql, key, want) = match q {
        HistoryQuery::Last(n) => (
            "SELECT seq, ts, name, guest, text, kind, target FROM chat_messages WHERE room = $1 AND $2::bigint >= 0
             ORDER BY seq DESC LIMIT $3",
            0,
            n.min(page_max),
        ),
        HistoryQuery::After(id) => (
            "SELECT seq, ts, name, guest, text, kind, target FROM chat_messages WHERE room = $1 AND seq > $2
             ORDER BY seq ASC LIMIT $3",
            id,
            page_max,
        ),
        HistoryQuery::Before(id, n) => (
            "SELECT seq, ts, name, guest, text, kind, target FROM chat_messages WHERE room = $1 AND seq < $2
             ORDER BY seq DESC LIMIT $3",
            id,
            n.min(page_max),
        ),
    };
    let limit = sql_int(want.saturating_add(1) as u64);
    // One snapshot for the page and the epoch (see `history::query`).
    let mut tx = c
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let rows = tx.query(sql, &[&&**room, &sql_int(key), &limit])?;
    let epoch: String = tx
        .query_opt("SELECT epoch FROM chat_rooms WHERE name = $1", &[&&**room])?
        .map_or_else(String::new, |r| r.get(0));
    tx.commit()?;
    let mut messages: Vec<Arc<Message>> = rows
        .iter()
        .map(|r| {
            Arc::new(
                Message::new(
                    room.clone(),
                    get_u64(r.get(0)),
                    get_u64(r.get(1)),
                    Arc::from(r.get::<_, String>(2)),
                    r.get(3),
                    r.get(4),
                    None,
                )
                .with_revision(revision(r.get(5), r.get(6))),
            )
        })
        .collect();
    let more = messages.len() > want;
    messages.truncate(want);
    if q.backwards() {
        messages.reverse();
    }
    Ok(HistoryPage {
        messages,
        more,
        epoch: Arc::from(epoch),
    })
}

/// Deletes up to `chunk` messages older than `cutoff` (unix millis).
pub(super) fn delete_older(
    c: &mut Client,
    cutoff: u64,
    chunk: usize,
) -> Result<usize, postgres::Error> {
    let n = c.execute(
        "DELETE FROM chat_messages WHERE id IN
         (SELECT id FROM chat_messages WHERE ts < $1 ORDER BY ts LIMIT $2)",
        &[&sql_int(cutoff), &sql_int(chunk as u64)],
    )?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Rooms whose seqs run past `keep`, with their tops.
pub(super) fn rooms_over(c: &mut Client, keep: u64) -> Result<Vec<(String, u64)>, postgres::Error> {
    let rows = c.query(
        "SELECT name, top FROM chat_rooms WHERE top > $1",
        &[&sql_int(keep)],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), get_u64(r.get(1)))).collect())
}

/// Deletes up to `chunk` of `room`'s messages with seqs up to `upto`.
pub(super) fn delete_room_upto(
    c: &mut Client,
    room: &str,
    upto: u64,
    chunk: usize,
) -> Result<usize, postgres::Error> {
    let n = c.execute(
        "DELETE FROM chat_messages WHERE id IN
         (SELECT id FROM chat_messages WHERE room = $1 AND seq <= $2 ORDER BY seq LIMIT $3)",
        &[&room, &sql_int(upto), &sql_int(chunk as u64)],
    )?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// A stored kind and target as the entry's [`Revision`].
pub(super) fn revision(kind: i16, target: i64) -> Revision {
    Revision::from_row(i64::from(kind), get_u64(target))
}

/// PostgreSQL integers are signed; seqs and timestamps stay far below 2^63.
pub(super) fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A seq or timestamp column; a negative value (never written) reads as 0.
pub(super) fn get_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
