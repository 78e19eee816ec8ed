//! Edits, deletes and search in PostgreSQL (a cluster's history): the
//! schema step, the edit/delete transaction and the search query, the
//! counterparts of `history_edit` and `search` on SQLite.
//!
//! Search uses PostgreSQL's own text search: a GIN index over
//! `to_tsvector('simple', text)` of the messages (not of edit and delete
//! entries), queried with `to_tsquery` over the words `SearchQuery` kept
//! (letters and digits only, quoted), so no query is a syntax error. The `simple` configuration
//! lower-cases and splits words without stemming, as SQLite's unicode61
//! tokenizer does, so both stores find the same messages.

use std::sync::Arc;
use std::time::Duration;

use postgres::Client;

use super::edit::{self, Amend, Target};
use super::error::ChatError;
use super::history_pg::{NOTIFY_CHANNEL, get_u64, revision, sql_int};
use super::names::Identity;
use super::search::{SearchHit, SearchPage, SearchQuery, page, snippet};

/// The schema step (PostgreSQL migration 5).
pub(super) const MIGRATION: &str = "
    ALTER TABLE chat_messages ADD COLUMN kind SMALLINT NOT NULL DEFAULT 0;
    ALTER TABLE chat_messages ADD COLUMN target BIGINT NOT NULL DEFAULT 0;
    CREATE INDEX chat_messages_search ON chat_messages
        USING GIN (to_tsvector('simple', text)) WHERE kind IN (0, 1);";

/// Who asks for a change, and which: the sender's display name, guest
/// flag and account creation (unix millis, see `edit`), the target seq
/// and the change.
pub(super) struct AmendRequest<'a> {
    pub name: &'a str,
    pub guest: bool,
    pub since: u64,
    pub target: u64,
    pub amend: &'a Amend,
}

/// Checks and commits an edit or delete of a message of `room` as a log
/// entry of its own, in one transaction under the outbox lock (so the seq
/// order and the outbox order agree, as for messages); the entry's seq,
/// or why it was refused.
pub(super) fn amend(
    c: &mut Client,
    room: &str,
    req: &AmendRequest<'_>,
    (ts, window): (u64, Duration),
    node: &str,
) -> Result<Result<u64, ChatError>, postgres::Error> {
    let mut tx = c.transaction()?;
    tx.execute(
        "SELECT 1 FROM chat_outbox_lock WHERE id = 1 FOR UPDATE",
        &[],
    )?;
    let target = tx
        .query_opt(
            "SELECT name, guest, ts, kind, target FROM chat_messages
             WHERE room = $1 AND seq = $2 FOR UPDATE",
            &[&room, &sql_int(req.target)],
        )?
        .map(|r| Target {
            name: r.get(0),
            guest: r.get(1),
            ts: get_u64(r.get(2)),
            revision: revision(r.get(3), r.get(4)),
        });
    let allowed = match req.amend {
        Amend::Topic(_) => edit::check_topic(req.guest),
        _ => edit::check(
            target.as_ref(),
            (room, req.target),
            (req.name, req.guest, req.since),
            ts,
            window,
        ),
    };
    if let Err(e) = allowed {
        return Ok(Err(e));
    }
    let seq: i64 = tx
        .query_one(
            "INSERT INTO chat_rooms AS r (name, top, epoch) VALUES ($1, 1, $2)
             ON CONFLICT (name) DO UPDATE SET top = r.top + 1 RETURNING r.top",
            &[&room, &super::history::new_epoch()],
        )?
        .get(0);
    let (kind, target) = req.amend.revision(req.target).to_row();
    tx.execute(
        "INSERT INTO chat_messages (room, seq, ts, name, guest, text, node, kind, target)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &room,
            &seq,
            &sql_int(ts),
            &req.name,
            &req.guest,
            &req.amend.text(),
            &node,
            &kind,
            &sql_int(target),
        ],
    )?;
    let t = sql_int(req.target);
    match req.amend {
        Amend::Topic(topic) => {
            tx.execute(
                "UPDATE chat_rooms SET topic = $2 WHERE name = $1",
                &[&room, topic],
            )?;
        }
        Amend::Edit(text) => {
            tx.execute(
                "UPDATE chat_messages SET text = $3, kind = 1 WHERE room = $1 AND seq = $2",
                &[&room, &t, text],
            )?;
        }
        Amend::Delete => {
            tx.execute(
                "UPDATE chat_messages SET text = '', kind = 2 WHERE room = $1 AND seq = $2",
                &[&room, &t],
            )?;
            tx.execute(
                "UPDATE chat_messages SET text = '' WHERE room = $1 AND kind = 3 AND target = $2",
                &[&room, &t],
            )?;
        }
    }
    tx.execute("SELECT pg_notify($1, '')", &[&NOTIFY_CHANNEL])?;
    tx.commit()?;
    Ok(Ok(get_u64(seq)))
}

/// Runs `q` for `who` (newest first, by outbox id).
pub(super) fn search(
    c: &mut Client,
    q: &SearchQuery,
    who: (&Identity, u64),
) -> Result<SearchPage, postgres::Error> {
    // Words are letters and digits only (see `SearchQuery::parse`), so
    // quoting them is enough to keep them lexemes; the last is a prefix.
    let words = q
        .words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" & ")
        + ":*";
    let before = sql_int(q.before.unwrap_or(u64::MAX));
    let rows = c.query(
        "SELECT id, room, seq, ts, name, guest, text, kind FROM chat_messages
         WHERE to_tsvector('simple', text) @@ to_tsquery('simple', $1)
           AND kind IN (0, 1) AND id < $2 AND ($3::text IS NULL OR room = $3)
         ORDER BY id DESC LIMIT $4",
        &[&words, &before, &q.room, &sql_int(q.scan() as u64)],
    )?;
    let rows = rows
        .iter()
        .map(|r| {
            let text: String = r.get(6);
            (
                get_u64(r.get(0)),
                SearchHit {
                    room: Arc::from(r.get::<_, String>(1)),
                    seq: get_u64(r.get(2)),
                    ts: get_u64(r.get(3)),
                    name: Arc::from(r.get::<_, String>(4)),
                    guest: r.get(5),
                    snippet: snippet(&text, &q.words),
                    edited: r.get::<_, i16>(7) == 1,
                },
            )
        })
        .collect();
    Ok(page(rows, q, who))
}
