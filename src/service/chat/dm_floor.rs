//! A name registered again does not inherit the old holder's direct
//! messages.
//!
//! Direct conversations are named by account names (`@ann+bob`), and a
//! deleted account's name may be registered again. The new `bob` reads a
//! conversation only from when its account was created
//! ([`NameRegistry::reads_from`](super::NameRegistry::reads_from)): the
//! conversation's *floor* is its last seq committed before that, and
//! history, unread counts, the conversation list and search leave out
//! everything at or below it. The other party keeps the whole history.
//! The floor is read where it is used (one indexed query per direct
//! conversation read), so it holds on every node and needs nothing done
//! when an account is deleted.

use std::sync::Arc;

use rusqlite::{Connection, params};

use super::db::{Db, DbError};
use super::history::sql_int;
use super::history::{HistoryPage, HistoryQuery};
use super::names::NameRegistry;

impl Db {
    /// The last seq of `room` committed before `from` (unix millis): what
    /// an account that reads from then may not see; 0 when none.
    pub(super) fn dm_floor(&mut self, room: &str, from: u64) -> Result<u64, DbError> {
        if from == 0 {
            return Ok(0);
        }
        Ok(match self {
            Db::Sqlite(c) => floor_sqlite(c, room, from)?,
            Db::Pg(c) => c.with(|c| {
                let r = c.query_one(
                    "SELECT coalesce(max(seq), 0) FROM chat_messages WHERE room = $1 AND ts < $2",
                    &[&room, &sql_int(from)],
                )?;
                Ok::<_, postgres::Error>(u64::try_from(r.get::<_, i64>(0)).unwrap_or(0))
            })?,
        })
    }

    /// One page of `room`'s history above `floor` (see the module doc).
    pub(super) fn query_above(
        &mut self,
        room: &Arc<str>,
        q: HistoryQuery,
        (page_max, floor): (usize, u64),
    ) -> Result<HistoryPage, DbError> {
        if floor == 0 {
            return self.query(room, q, page_max);
        }
        let q = match q {
            HistoryQuery::After(id) => HistoryQuery::After(id.max(floor)),
            other => other,
        };
        let mut page = self.query(room, q, page_max)?;
        let before = page.messages.len();
        page.messages.retain(|m| m.id > floor);
        if q.backwards() && page.messages.len() < before {
            page.more = false; // the floor is the beginning
        }
        Ok(page)
    }
}

fn floor_sqlite(c: &Connection, room: &str, from: u64) -> rusqlite::Result<u64> {
    let n: i64 = c.query_row(
        "SELECT coalesce(max(id), 0) FROM messages WHERE room = ?1 AND ts < ?2",
        params![room, sql_int(from)],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// From when the member called `user` reads direct messages: a guest
/// reads none (see `dm`), an account from its creation on.
pub(super) fn reads_from(registry: &dyn NameRegistry, user: &str) -> u64 {
    match user.strip_prefix(super::names::GUEST_MARK) {
        Some(_) => u64::MAX,
        None => registry.reads_from(user),
    }
}
