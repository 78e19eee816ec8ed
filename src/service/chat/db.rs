//! Where a hub keeps its history: one node's SQLite file or the cluster's
//! PostgreSQL. Each of the hub's connections (writer, reader, pruner,
//! cluster feed) is a [`Db`]; the hub calls the same few operations on
//! either and never names the engine outside this file, the writer and
//! the cluster feed.

use std::path::Path;
use std::sync::Arc;

use rusqlite::Connection;

use crate::store::pg::{self, PgConn, PgError};
use crate::store::{Backend, Durability, StoreError};

use super::dm::is_dm;
use super::error::ChatError;
use super::event::MemberInfo;
use super::history::{self, HistoryPage, HistoryQuery};
use super::history_pg;
use super::names::Identity;
use super::reads::Conversation;
use super::search::{self, SearchPage, SearchQuery};
use super::{reads_db, reads_pg, search_pg};

/// How long a node's members stay listed by `who` on the other nodes after
/// its last heartbeat (sent every second, see `local::cluster`): a node
/// killed with `kill -9` has its members vanish within this, plus one
/// heartbeat.
pub const PRESENCE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// One connection to the history.
pub(super) enum Db {
    Sqlite(Connection),
    Pg(Box<PgConn>),
}

/// A failed history operation.
#[derive(Debug, thiserror::Error)]
pub(super) enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Pg(#[from] postgres::Error),
}

impl From<DbError> for ChatError {
    fn from(e: DbError) -> ChatError {
        ChatError::Store(Arc::from(e.to_string()))
    }
}

/// Why the history could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenStoreError {
    /// The SQLite file.
    #[error(transparent)]
    Sqlite(#[from] StoreError),
    /// The PostgreSQL server.
    #[error(transparent)]
    Pg(#[from] PgError),
}

impl Db {
    /// Opens one connection to `store` (migrating the schema first).
    pub(super) fn open(
        store: &Backend,
        dir: &Path,
        durability: Durability,
    ) -> Result<Db, OpenStoreError> {
        Ok(match store {
            Backend::Sqlite => Db::Sqlite(history::open(dir, durability)?),
            Backend::Postgres(cfg) => {
                let mut c = PgConn::open((**cfg).clone())?;
                pg::migrate(&mut c, history_pg::MIGRATIONS)?;
                Db::Pg(Box::new(c))
            }
        })
    }

    /// How many rooms have history.
    pub(super) fn count_rooms(&mut self) -> Result<usize, DbError> {
        Ok(match self {
            Db::Sqlite(c) => history::count_rooms(c)?,
            Db::Pg(c) => c.with(history_pg::count_rooms)?,
        })
    }

    /// The last id (seq) of `room`, if it has history.
    pub(super) fn stored_last_id(&mut self, room: &str) -> Result<Option<u64>, DbError> {
        Ok(match self {
            Db::Sqlite(c) => history::stored_last_id(c, room)?,
            Db::Pg(c) => c.with(|c| history_pg::stored_last_id(c, room))?,
        })
    }

    /// The last id (seq) and epoch of `room`, if it has a row.
    pub(super) fn meta(&mut self, room: &str) -> Result<Option<(u64, String)>, DbError> {
        Ok(match self {
            Db::Sqlite(c) => history::meta(c, room)?,
            Db::Pg(c) => c.with(|c| history_pg::meta(c, room))?,
        })
    }

    /// Gives `room` a row with a fresh epoch, unless it has one.
    pub(super) fn create_room(&mut self, room: &str) -> Result<(), DbError> {
        match self {
            Db::Sqlite(c) => history::create_room(c, room)?,
            Db::Pg(c) => c.with(|c| history_pg::create_room(c, room))?,
        }
        Ok(())
    }

    /// The topic of `room` (empty when none).
    pub(super) fn topic(&mut self, room: &str) -> Result<String, DbError> {
        Ok(match self {
            Db::Sqlite(c) => history::topic(c, room)?,
            Db::Pg(c) => c.with(|c| history_pg::topic(c, room))?,
        })
    }

    /// The first `max` rooms with history, with their last ids and topics.
    pub(super) fn list_rooms(&mut self, max: usize) -> Result<Vec<history::StoredRoom>, DbError> {
        Ok(match self {
            Db::Sqlite(c) => history::list_rooms(c, max)?,
            Db::Pg(c) => c.with(|c| history_pg::list_rooms(c, max))?,
        })
    }

    /// One page of a room's history.
    pub(super) fn query(
        &mut self,
        room: &Arc<str>,
        q: HistoryQuery,
        page_max: usize,
    ) -> Result<HistoryPage, DbError> {
        Ok(match self {
            Db::Sqlite(c) => history::query(c, room, q, page_max)?,
            Db::Pg(c) => c.with(|c| history_pg::query(c, room, q, page_max))?,
        })
    }

    /// One page of `who`'s search.
    /// `from`: when `who` began to read direct messages (see `dm_floor`).
    pub(super) fn search(
        &mut self,
        q: &SearchQuery,
        who: (&Identity, u64),
    ) -> Result<SearchPage, DbError> {
        Ok(match self {
            Db::Sqlite(c) => search::query(c, q, who)?,
            Db::Pg(c) => c.with(|c| search_pg::search(c, q, who))?,
        })
    }

    /// Deletes up to `chunk` messages older than `cutoff` (unix millis).
    pub(super) fn delete_older(&mut self, cutoff: u64, chunk: usize) -> Result<usize, DbError> {
        Ok(match self {
            Db::Sqlite(c) => history::delete_older(c, cutoff, chunk)?,
            Db::Pg(c) => c.with(|c| history_pg::delete_older(c, cutoff, chunk))?,
        })
    }

    /// The members of `room` on the other live nodes of the cluster (none
    /// on SQLite: one node).
    pub(super) fn remote_members(
        &mut self,
        node: &str,
        room: &str,
    ) -> Result<Vec<MemberInfo>, DbError> {
        Ok(match self {
            Db::Sqlite(_) => Vec::new(),
            Db::Pg(c) => c.with(|c| history_pg::remote_members(c, node, room, PRESENCE_TTL))?,
        })
    }

    /// Forgets the idempotency keys that expired before `now`; how many.
    pub(super) fn forget_expired_keys(&mut self, now: u64) -> Result<usize, DbError> {
        Ok(match self {
            Db::Sqlite(c) => super::keys::forget_expired(c, now)?,
            Db::Pg(c) => c.with(|c| history_pg::forget_expired_keys(c, now))?,
        })
    }

    /// Rooms whose ids run past `keep`, with their last ids.
    pub(super) fn rooms_over(&mut self, keep: u64) -> Result<Vec<(String, u64)>, DbError> {
        Ok(match self {
            Db::Sqlite(c) => history::rooms_over(c, keep)?,
            Db::Pg(c) => c.with(|c| history_pg::rooms_over(c, keep))?,
        })
    }

    /// Deletes up to `chunk` of `room`'s messages with ids up to `upto`.
    pub(super) fn delete_room_upto(
        &mut self,
        room: &str,
        upto: u64,
        chunk: usize,
    ) -> Result<usize, DbError> {
        Ok(match self {
            Db::Sqlite(c) => history::delete_room_upto(c, room, upto, chunk)?,
            Db::Pg(c) => c.with(|c| history_pg::delete_room_upto(c, room, upto, chunk))?,
        })
    }

    /// Moves `user`'s read marker in `room` forward to `seq` (announced to
    /// the cluster's other nodes from `node`); the marker now.
    pub(super) fn set_read(
        &mut self,
        (user, node): (&str, &str),
        room: &str,
        seq: u64,
    ) -> Result<u64, DbError> {
        Ok(match self {
            Db::Sqlite(c) => reads_db::set_read(c, user, room, seq)?,
            Db::Pg(c) => c.with(|c| reads_pg::set_read_pg(c, (user, node), room, seq))?,
        })
    }

    /// Account `user`'s (display name `me`) place in each of `rooms`.
    /// In a direct conversation, nothing at or below its floor for an
    /// account reading `from` (unix millis; see `dm_floor`) counts.
    pub(super) fn conversations(
        &mut self,
        (user, me): (&str, &str),
        rooms: &[String],
        from: u64,
    ) -> Result<Vec<Conversation>, DbError> {
        let mut out = Vec::with_capacity(rooms.len());
        for room in rooms {
            let floor = match is_dm(room) {
                true => self.dm_floor(room, from)?,
                false => 0,
            };
            out.push(match self {
                Db::Sqlite(c) => reads_db::conversation(c, (user, me), (room, floor))?,
                Db::Pg(c) => c.with(|c| reads_pg::conversation_pg(c, (user, me), (room, floor)))?,
            });
        }
        Ok(out)
    }

    /// `user`'s direct conversations with messages, newest first, at most `max`.
    pub(super) fn dm_rooms(&mut self, user: &str, max: usize) -> Result<Vec<String>, DbError> {
        Ok(match self {
            Db::Sqlite(c) => reads_db::dm_rooms(c, user, max)?,
            Db::Pg(c) => c.with(|c| reads_pg::dm_rooms_pg(c, user, max))?,
        })
    }

    /// How many direct conversations `user` is in.
    pub(super) fn dm_count(&mut self, user: &str) -> Result<usize, DbError> {
        Ok(match self {
            Db::Sqlite(c) => reads_db::dm_count(c, user)?,
            Db::Pg(c) => c.with(|c| reads_pg::dm_count_pg(c, user))?,
        })
    }
}
