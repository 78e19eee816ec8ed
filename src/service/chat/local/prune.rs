//! Retention and eviction: the pass that keeps history and memory within
//! their limits, run every [`prune_every`] on a thread of its own so it
//! never blocks the hub.
//!
//! One pass: evicts rooms idle for longer than [`room_idle`] from memory;
//! forgets idle address budgets; deletes messages older than
//! [`history_max_age`], then each room's messages beyond
//! [`history_room_max`], then the oldest messages anywhere while the
//! database uses more than [`history_max_bytes`]; forgets rooms left with
//! no messages; recounts the rooms for the room limit. Deletes go in
//! chunks of [`PRUNE_CHUNK`] rows, each its own short transaction, so the
//! writer thread never waits long for the database.
//!
//! On PostgreSQL every node runs the same pass on the shared tables (the
//! deletes are idempotent); the size cap, which measures the SQLite file,
//! does not apply there, and rooms are never forgotten, since another node
//! may hold one in memory and its seqs must go on from where they were.
//!
//! [`prune_every`]: crate::service::chat::ChatConfig::prune_every
//! [`room_idle`]: crate::service::chat::ChatConfig::room_idle
//! [`history_max_age`]: crate::service::chat::ChatConfig::history_max_age
//! [`history_room_max`]: crate::service::chat::ChatConfig::history_room_max
//! [`history_max_bytes`]: crate::service::chat::ChatConfig::history_max_bytes

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};

use rusqlite::Connection;

use super::LocalHub;
use crate::service::chat::config::PRUNE_CHUNK;
use crate::service::chat::db::{Db, DbError};
use crate::service::chat::error::ChatError;
use crate::service::chat::history;
use crate::service::chat::room::lock;
use crate::service::chat::writer::now_millis;

/// Most chunks the size cap deletes in one pass: bounds one pass's work
/// (2 million messages); the next pass goes on.
const SIZE_STEPS_MAX: usize = 2000;

/// What one pruning pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Rooms evicted from memory (their history stays).
    pub evicted: usize,
    /// Messages deleted from history.
    pub messages: usize,
    /// Rooms forgotten for good: no messages left, nobody in them.
    pub rooms: usize,
}

/// Starts the pruning thread; it ends when the hub is dropped.
pub(super) fn spawn(hub: Weak<LocalHub>, stopped: Receiver<()>) -> std::io::Result<()> {
    let every = match hub.upgrade() {
        Some(h) => h.config.prune_every,
        None => return Ok(()),
    };
    std::thread::Builder::new()
        .name("chat-pruner".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                let Some(hub) = hub.upgrade() else { return };
                match hub.prune() {
                    Ok(r) if r != PruneReport::default() => {
                        tracing::debug!(?r, "chat history pruned");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "pruning chat history"),
                }
            }
        })?;
    Ok(())
}

impl LocalHub {
    /// Runs one pruning pass now (see the module documentation). Blocks on
    /// SQLite: the hub's own thread calls it; tests may too.
    pub fn prune(&self) -> Result<PruneReport, ChatError> {
        let mut report = PruneReport {
            evicted: self.evict_idle(),
            ..PruneReport::default()
        };
        self.addresses.sweep();
        let mut db = lock(&self.pruner);
        report.messages = self.trim(&mut db)?;
        db.forget_expired_keys(now_millis())?;
        if let Db::Sqlite(conn) = &mut *db {
            report.rooms = self.forget_empty(conn).map_err(DbError::from)?;
        }
        let historyless = lock(&self.rooms)
            .values()
            .filter(|r| lock(&r.state).last_id == 0)
            .count();
        let total = db.count_rooms()? + historyless;
        self.room_total.store(total, Ordering::Relaxed);
        Ok(report)
    }

    /// Evicts the rooms idle for longer than the idle time; how many.
    fn evict_idle(&self) -> usize {
        let now = tokio::time::Instant::now();
        let idle = self.config.room_idle;
        let mut rooms = lock(&self.rooms);
        let before = rooms.len();
        rooms.retain(|_, room| {
            let mut st = lock(&room.state);
            if !st.evictable(now, idle) {
                return true;
            }
            st.closed = true;
            if st.last_id == 0 {
                self.room_total.fetch_sub(1, Ordering::Relaxed);
            } else {
                self.evictions.fetch_add(1, Ordering::AcqRel);
            }
            false
        });
        before - rooms.len()
    }

    /// Deletes messages past the age, per-room and size limits; how many.
    fn trim(&self, db: &mut Db) -> Result<usize, DbError> {
        let mut deleted = 0;
        if let Some(age) = self.config.history_max_age {
            let age = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
            let cutoff = now_millis().saturating_sub(age);
            loop {
                let n = db.delete_older(cutoff, PRUNE_CHUNK)?;
                deleted += n;
                if n < PRUNE_CHUNK {
                    break;
                }
            }
        }
        let keep = self.config.history_room_max;
        if keep > 0 {
            for (room, last) in db.rooms_over(keep)? {
                loop {
                    let n = db.delete_room_upto(&room, last - keep, PRUNE_CHUNK)?;
                    deleted += n;
                    if n < PRUNE_CHUNK {
                        break;
                    }
                }
            }
        }
        let max = self.config.history_max_bytes;
        if let (Db::Sqlite(conn), true) = (db, max > 0) {
            for _ in 0..SIZE_STEPS_MAX {
                if history::used_bytes(conn)? <= max {
                    break;
                }
                let n = history::delete_oldest(conn, PRUNE_CHUNK)?;
                deleted += n;
                if n == 0 {
                    break;
                }
            }
        }
        Ok(deleted)
    }

    /// Forgets the rooms with no messages left that are not in memory;
    /// how many.
    fn forget_empty(&self, conn: &mut Connection) -> rusqlite::Result<usize> {
        let mut forgotten = 0;
        loop {
            let empty = history::empty_rooms(conn, PRUNE_CHUNK)?;
            let full_chunk = empty.len() == PRUNE_CHUNK;
            let idle: Vec<String> = {
                let rooms = lock(&self.rooms);
                empty
                    .into_iter()
                    .filter(|n| !rooms.contains_key(n.as_str()))
                    .collect()
            };
            if idle.is_empty() {
                break;
            }
            forgotten += history::delete_rooms(conn, &idle)?;
            if !full_chunk {
                break;
            }
        }
        Ok(forgotten)
    }
}
