//! Full-text search over history: the query rules both stores share, the
//! SQLite index (FTS5) and its query; PostgreSQL's is in `search_pg`.
//!
//! The SQLite index is a contentless FTS5 table keyed by each message's
//! `doc` number (a column of `messages`, unique, in commit order): it
//! holds the words' postings, never a copy of the text. The writer indexes
//! each commit's new messages in one statement; triggers keep it in step
//! with every edit, delete and retention sweep.
//! `secure-delete` makes a removed message's words leave the index itself,
//! not only its results. Only messages are indexed (not edit or delete
//! entries); an edit re-indexes the message under its new text, a delete
//! removes it.
//!
//! A user's query is never handed to FTS5's query language: it is cut into
//! words, each quoted as a phrase (so `AND`, `NEAR`, `*`, `"` and `:` are
//! just text), all required; the last also matches as a prefix. So no
//! query is a syntax error.

use std::sync::Arc;

use rusqlite::{Connection, params};

use super::dm::may_read;
use super::error::ChatError;
use super::history::{get_u64, sql_int};
use super::names::Identity;

/// Longest query, in bytes: a sentence; a 10 KB paste is refused, not
/// run.
pub const QUERY_MAX_BYTES: usize = 256;
/// Most words a query may have: each is one more posting list to merge.
pub const QUERY_MAX_WORDS: usize = 16;
/// Results per page unless the client asks for fewer.
pub const DEFAULT_SEARCH_LIMIT: usize = 20;
/// Most results one page returns: bounds the answer (each carries a
/// snippet of at most [`SNIPPET_MAX_CHARS`]) and the rows read for it.
pub const SEARCH_LIMIT_MAX: usize = 100;
/// Longest snippet shown per result, in characters.
pub const SNIPPET_MAX_CHARS: usize = 160;
/// How many index rows one page may read to fill it, per result asked:
/// rows in conversations the user may not read are skipped, and the page
/// ends early (with a cursor to go on) rather than scanning without end.
const SCAN_FACTOR: usize = 4;

/// The schema step (SQLite migration 5): edit/delete columns, the search
/// index and the triggers that keep it in step, and the existing messages
/// numbered and indexed.
pub(super) const SQLITE_MIGRATION: &str = "
    ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN target INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN doc INTEGER;
    CREATE UNIQUE INDEX messages_doc ON messages (doc);
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        text, content = '', contentless_delete = 1,
        tokenize = 'unicode61 remove_diacritics 2');
    INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1);
    UPDATE messages SET doc = n.d FROM
        (SELECT room, id, row_number() OVER (ORDER BY ts, room, id) AS d FROM messages) AS n
        WHERE n.room = messages.room AND n.id = messages.id;
    INSERT INTO messages_fts (rowid, text) SELECT doc, text FROM messages;
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
        WHEN new.doc IS NOT NULL BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.doc, new.text);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
        WHEN old.doc IS NOT NULL BEGIN
        DELETE FROM messages_fts WHERE rowid = old.doc;
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages
        WHEN old.doc IS NOT NULL BEGIN
        DELETE FROM messages_fts WHERE rowid = old.doc;
        INSERT INTO messages_fts (rowid, text) SELECT new.doc, new.text WHERE new.kind <> 2;
    END;";

/// The schema step (SQLite migration 8): new messages are indexed by the
/// writer, one `INSERT ... SELECT` per commit (`history::insert_batch`),
/// rather than by a trigger per row. FTS5 flushes its in-memory postings
/// at the end of every statement that writes it, so the trigger wrote one
/// index segment per message and FTS5 then spent the commit merging them:
/// with it a single writer committed about 20,000 messages/s here and the
/// index's flushes and merges were the largest part of the writer's time
/// (`perf`; figures in docs/SCALING.md).
/// Deletes and edits still go through their triggers (one row each).
pub(super) const SQLITE_BATCH_INDEX: &str = "DROP TRIGGER messages_fts_insert;";

/// A search, as checked: its words, where, and which page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The words, each required (at least one, at most
    /// [`QUERY_MAX_WORDS`]); the last also matches as a prefix.
    pub words: Vec<String>,
    /// Only this room (normalised), or every room the user may read.
    pub room: Option<String>,
    /// Only results older than this cursor (from the previous page).
    pub before: Option<u64>,
    /// Most results (1 to [`SEARCH_LIMIT_MAX`]).
    pub limit: usize,
}

impl SearchQuery {
    /// Checks a query as a client sent it.
    pub fn parse(
        q: &str,
        room: Option<&str>,
        before: Option<u64>,
        limit: Option<usize>,
    ) -> Result<SearchQuery, ChatError> {
        if q.len() > QUERY_MAX_BYTES {
            return Err(ChatError::BadQuery(format!(
                "a query of {} bytes is over the {QUERY_MAX_BYTES}-byte limit; search for fewer words",
                q.len()
            )));
        }
        let words: Vec<String> = q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        if words.is_empty() {
            return Err(ChatError::BadQuery(
                "nothing to search for; give at least one word with letters or digits".into(),
            ));
        }
        if words.len() > QUERY_MAX_WORDS {
            return Err(ChatError::BadQuery(format!(
                "{} words is over the {QUERY_MAX_WORDS}-word limit; search for fewer words",
                words.len()
            )));
        }
        let room = room.map(super::names::room_name).transpose()?;
        let limit = limit
            .unwrap_or(DEFAULT_SEARCH_LIMIT)
            .clamp(1, SEARCH_LIMIT_MAX);
        Ok(SearchQuery {
            words,
            room,
            before,
            limit,
        })
    }

    /// The words as an FTS5 query: each a quoted phrase, the last a prefix.
    fn fts5(&self) -> String {
        let n = self.words.len();
        let mut out = String::new();
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push('"');
            out.push_str(&w.replace('"', "\"\""));
            out.push('"');
            if i + 1 == n {
                out.push('*');
            }
        }
        out
    }

    /// Index rows one page may read.
    pub(super) fn scan(&self) -> usize {
        self.limit.saturating_mul(SCAN_FACTOR)
    }
}

/// One message found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// Its room.
    pub room: Arc<str>,
    /// Its seq there (ask history around it to show it in context).
    pub seq: u64,
    /// Its commit time, Unix milliseconds.
    pub ts: u64,
    /// Its sender.
    pub name: Arc<str>,
    /// True when a guest sent it.
    pub guest: bool,
    /// The part of its text around the first word found.
    pub snippet: String,
    /// True when edited since it was sent (the text found is the new one).
    pub edited: bool,
}

/// One page of results, newest first.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    /// The results.
    pub hits: Vec<SearchHit>,
    /// Pass as `before` for the next (older) page; `None` at the end.
    pub next: Option<u64>,
}

/// The snippet shown for `text`: up to [`SNIPPET_MAX_CHARS`] characters
/// around the first of `words` it contains (case-insensitively), with an
/// ellipsis where text was cut.
pub(super) fn snippet(text: &str, words: &[String]) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= SNIPPET_MAX_CHARS {
        return text.to_owned();
    }
    let lower: Vec<char> = chars.iter().flat_map(|c| c.to_lowercase()).collect();
    // Lower-casing can change lengths; only a 1:1 mapping gives positions.
    let at = if lower.len() == chars.len() {
        let hay: String = lower.iter().collect();
        words
            .iter()
            .filter_map(|w| hay.find(w.as_str()).map(|b| hay[..b].chars().count()))
            .min()
            .unwrap_or(0)
    } else {
        0
    };
    let start = at.saturating_sub(SNIPPET_MAX_CHARS / 4);
    let end = (start + SNIPPET_MAX_CHARS).min(chars.len());
    let start = end.saturating_sub(SNIPPET_MAX_CHARS);
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// Keeps the rows `who` may read (the direct-message rule,
/// [`may_read`](super::may_read)), up to the page's limit; the cursor goes
/// on after the last row looked at when the scan was cut short. In direct
/// conversations, `who` reads only what was said from `from` on (unix
/// millis; see `dm_floor`).
pub(super) fn page(
    rows: Vec<(u64, SearchHit)>,
    q: &SearchQuery,
    (who, from): (&Identity, u64),
) -> SearchPage {
    let full = rows.len() >= q.scan();
    let mut hits = Vec::new();
    let mut last = None;
    for (doc, hit) in rows {
        last = Some(doc);
        if !may_read(who, &hit.room) || (super::dm::is_dm(&hit.room) && hit.ts < from) {
            continue;
        }
        hits.push(hit);
        if hits.len() == q.limit {
            return SearchPage { hits, next: last };
        }
    }
    SearchPage {
        hits,
        next: if full { last } else { None },
    }
}

/// Runs `q` for `who` on SQLite.
pub(super) fn query(
    conn: &Connection,
    q: &SearchQuery,
    who: (&Identity, u64),
) -> rusqlite::Result<SearchPage> {
    let mut st = conn.prepare_cached(
        "SELECT f.rowid, m.room, m.id, m.ts, m.name, m.guest, m.text, m.kind
         FROM messages_fts f JOIN messages m ON m.doc = f.rowid
         WHERE messages_fts MATCH ?1 AND f.rowid < ?2 AND (?3 IS NULL OR m.room = ?3)
           AND m.kind IN (0, 1)
         ORDER BY f.rowid DESC LIMIT ?4",
    )?;
    let before = sql_int(q.before.unwrap_or(u64::MAX));
    let rows = st.query_map(
        params![q.fts5(), before, q.room, sql_int(q.scan() as u64)],
        |r| {
            let text: String = r.get(6)?;
            Ok((
                get_u64(r, 0)?,
                SearchHit {
                    room: Arc::from(r.get::<_, String>(1)?),
                    seq: get_u64(r, 2)?,
                    ts: get_u64(r, 3)?,
                    name: Arc::from(r.get::<_, String>(4)?),
                    guest: r.get(5)?,
                    snippet: snippet(&text, &q.words),
                    edited: r.get::<_, i64>(7)? == 1,
                },
            ))
        },
    )?;
    let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(page(rows, q, who))
}
