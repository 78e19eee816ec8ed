//! Read markers and direct-conversation listings in PostgreSQL: the same
//! `chat_reads` table and rules as `reads_db` (SQLite), in the cluster's
//! database, with each moved marker announced to the other nodes.

use postgres::Client;

use super::dm::dm_peer;
use super::reads::{COUNT_CAP, Conversation, mention_pattern};
use super::reads_db::{READ_CHANNEL, counted, int, nat, scan_from};

/// `reads_db::set_read` on PostgreSQL, announcing the marker to the other nodes
/// (`node` names this one, whose feed leaves its own announcements out).
pub(super) fn set_read_pg(
    c: &mut Client,
    (user, node): (&str, &str),
    room: &str,
    seq: u64,
) -> Result<u64, postgres::Error> {
    let mut tx = c.transaction()?;
    let Some(meta) = tx.query_opt(
        "SELECT top, epoch FROM chat_rooms WHERE name = $1",
        &[&room],
    )?
    else {
        return Ok(0);
    };
    let (top, epoch): (i64, String) = (meta.get(0), meta.get(1));
    let seq = int(seq).min(top);
    let row = tx.query_one(
        "INSERT INTO chat_reads (user_key, room, seq, epoch) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_key, room) DO UPDATE SET
           seq = CASE WHEN chat_reads.epoch = EXCLUDED.epoch
                 THEN greatest(chat_reads.seq, EXCLUDED.seq) ELSE EXCLUDED.seq END,
           epoch = EXCLUDED.epoch
         RETURNING seq",
        &[&user, &room, &seq, &epoch],
    )?;
    let now: i64 = row.get(0);
    let payload = serde_json::json!({"node": node, "user": user, "room": room, "seq": now});
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&READ_CHANNEL, &payload.to_string()],
    )?;
    tx.commit()?;
    Ok(nat(now))
}

/// `reads_db::conversation` on PostgreSQL.
pub(super) fn conversation_pg(
    c: &mut Client,
    (user, me): (&str, &str),
    (room, floor): (&str, u64),
) -> Result<Conversation, postgres::Error> {
    let mut tx = c.build_transaction().read_only(true).start()?;
    let meta = tx.query_opt(
        "SELECT top, epoch FROM chat_rooms WHERE name = $1",
        &[&room],
    )?;
    let (top, epoch): (i64, String) = meta.map_or((0, String::new()), |r| (r.get(0), r.get(1)));
    let read = tx
        .query_opt(
            "SELECT seq FROM chat_reads WHERE user_key = $1 AND room = $2 AND epoch = $3",
            &[&user, &room, &epoch],
        )?
        .map_or(0, |r| r.get::<_, i64>(0))
        .max(int(floor));
    let unread: i64 = tx
        .query_one(
            "SELECT count(*) FROM (SELECT 1 FROM chat_messages
             WHERE room = $1 AND seq > $2 AND name <> $3 LIMIT $4) t",
            &[&room, &read, &me, &int(COUNT_CAP)],
        )?
        .get(0);
    let texts: Vec<String> = tx
        .query(
            "SELECT text FROM chat_messages WHERE room = $1 AND seq > $2 AND name <> $3
             AND text ILIKE $4 ESCAPE '\\' ORDER BY seq DESC LIMIT $5",
            &[
                &room,
                &int(scan_from(nat(read), nat(top))),
                &me,
                &mention_pattern(me),
                &int(COUNT_CAP),
            ],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let ts = tx
        .query_opt(
            "SELECT ts FROM chat_messages WHERE room = $1 ORDER BY seq DESC LIMIT 1",
            &[&room],
        )?
        .map_or(0, |r| r.get::<_, i64>(0));
    tx.commit()?;
    let (unread, mentions) = counted(nat(unread), &texts, me);
    Ok(Conversation {
        room: room.into(),
        with: dm_peer(room, user).map(Into::into),
        last_id: nat(top),
        ts: nat(ts),
        read: nat(read),
        unread,
        mentions,
    })
}

/// `reads_db::dm_rooms` on PostgreSQL.
pub(super) fn dm_rooms_pg(
    c: &mut Client,
    user: &str,
    max: usize,
) -> Result<Vec<String>, postgres::Error> {
    let rows = c.query(
        "SELECT name FROM chat_rooms WHERE top > 0 AND left(name, 1) = '@'
         AND (left(name, length($1)) = $1 OR right(name, length($2)) = $2)
         ORDER BY (SELECT ts FROM chat_messages m WHERE m.room = chat_rooms.name
                   ORDER BY seq DESC LIMIT 1) DESC LIMIT $3",
        &[&format!("@{user}+"), &format!("+{user}"), &int(max as u64)],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// `reads_db::dm_count` on PostgreSQL.
pub(super) fn dm_count_pg(c: &mut Client, user: &str) -> Result<usize, postgres::Error> {
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM chat_rooms WHERE left(name, 1) = '@'
             AND (left(name, length($1)) = $1 OR right(name, length($2)) = $2)",
            &[&format!("@{user}+"), &format!("+{user}")],
        )?
        .get(0);
    Ok(usize::try_from(n).unwrap_or(0))
}
