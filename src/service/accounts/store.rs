//! The account store behind one small interface: SQLite (`db`, one node)
//! or PostgreSQL (`db_pg`, a cluster), a local swap. Every method is one
//! rule of the store with the same meaning on both; the service above
//! never knows which it has.
//!
//! Blocking, like both drivers: called from the hashing pool,
//! `spawn_blocking` or the admin API.

use std::net::IpAddr;
use std::path::PathBuf;

use rusqlite::Connection;

use super::db::{self, SessionRow, UserRow};
use super::db_pg::ThrottleEvent;
use super::{UserInfo, db_pg};
use crate::store::StoreError;
use crate::store::pg::{PgConn, PgError};

/// Most throttle events one poll applies (a flood is applied over several
/// polls rather than as one unbounded read).
const THROTTLE_BATCH: i64 = 4096;

/// One node's connection to the account store.
pub(super) enum Store {
    /// `DATA/sockit.db`.
    Sqlite {
        /// The connection.
        conn: Connection,
        /// The file, for errors.
        path: PathBuf,
    },
    /// The cluster's PostgreSQL.
    Pg(Box<PgConn>),
}

type R<T> = Result<T, StoreError>;

impl Store {
    /// Runs the SQLite or the PostgreSQL form of one rule.
    fn run<T>(
        &mut self,
        lite: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
        pg: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> R<T> {
        match self {
            Store::Sqlite { conn, path } => lite(conn).map_err(|source| StoreError::Sqlite {
                path: path.clone(),
                source,
            }),
            Store::Pg(c) => c.with(pg).map_err(|e| StoreError::Pg(PgError::Db(e))),
        }
    }

    pub(super) fn find_user(&mut self, key: &str) -> R<Option<UserRow>> {
        self.run(|c| db::find_user(c, key), |c| db_pg::find_user(c, key))
    }

    pub(super) fn insert_user(&mut self, name: &str, key: &str, phc: &str, now_ms: u64) -> R<bool> {
        self.run(
            |c| db::insert_user(c, name, key, phc, now_ms),
            |c| db_pg::insert_user(c, name, key, phc, now_ms),
        )
    }

    pub(super) fn reserve_ids_through(&mut self, used: i64) -> R<()> {
        self.run(
            |c| db::reserve_ids_through(c, used),
            |c| db_pg::reserve_ids_through(c, used),
        )
    }

    pub(super) fn set_phc(&mut self, key: &str, phc: &str, now: u64) -> R<bool> {
        self.run(
            |c| db::set_phc(c, key, phc, now),
            |c| db_pg::set_phc(c, key, phc, now),
        )
    }

    pub(super) fn set_phc_keeping(
        &mut self,
        user_id: i64,
        phc: &str,
        keep: &[u8; 32],
        now: u64,
    ) -> R<Option<usize>> {
        self.run(
            |c| db::set_phc_keeping(c, user_id, phc, keep, now),
            |c| db_pg::set_phc_keeping(c, user_id, phc, keep, now),
        )
    }

    pub(super) fn set_locked(&mut self, key: &str, locked: bool, now: u64) -> R<bool> {
        self.run(
            |c| db::set_locked(c, key, locked, now),
            |c| db_pg::set_locked(c, key, locked, now),
        )
    }

    pub(super) fn delete_user(&mut self, key: &str, now: u64) -> R<Option<i64>> {
        self.run(
            |c| db::delete_user(c, key, now),
            |c| db_pg::delete_user(c, key, now),
        )
    }

    pub(super) fn last_revocation(&mut self) -> R<i64> {
        self.run(|c| db::last_revocation(c), db_pg::last_revocation)
    }

    pub(super) fn revocations_since(&mut self, seq: i64) -> R<Vec<(i64, i64)>> {
        self.run(
            |c| db::revocations_since(c, seq),
            |c| db_pg::revocations_since(c, seq),
        )
    }

    pub(super) fn revoked_since(&mut self, user_id: i64, since: u64) -> R<bool> {
        self.run(
            |c| db::revoked_since(c, user_id, since),
            |c| db_pg::revoked_since(c, user_id, since),
        )
    }

    pub(super) fn pending_purges(&mut self) -> R<Vec<i64>> {
        self.run(|c| db::pending_purges(c), db_pg::pending_purges)
    }

    pub(super) fn purge_done(&mut self, id: i64) -> R<()> {
        self.run(|c| db::purge_done(c, id), |c| db_pg::purge_done(c, id))
    }

    pub(super) fn list_users(&mut self, now: u64) -> R<Vec<UserInfo>> {
        self.run(|c| db::list_users(c, now), |c| db_pg::list_users(c, now))
    }

    pub(super) fn record_login(
        &mut self,
        user_id: i64,
        token_hash: &[u8; 32],
        now: u64,
        expires: u64,
        new_phc: Option<&str>,
    ) -> R<()> {
        self.run(
            |c| db::record_login(c, user_id, token_hash, now, expires, new_phc),
            |c| db_pg::record_login(c, user_id, token_hash, now, expires, new_phc),
        )
    }

    pub(super) fn find_session(&mut self, token_hash: &[u8; 32]) -> R<Option<SessionRow>> {
        self.run(
            |c| db::find_session(c, token_hash),
            |c| db_pg::find_session(c, token_hash),
        )
    }

    /// Ends a session by logout (on a cluster, every node hears of it).
    pub(super) fn delete_session(&mut self, token_hash: &[u8; 32], now: u64) -> R<Option<i64>> {
        self.run(
            |c| db::delete_session(c, token_hash),
            |c| db_pg::delete_session(c, token_hash, now),
        )
    }

    /// Drops an expired session found on resume.
    pub(super) fn drop_session(&mut self, token_hash: &[u8; 32]) -> R<()> {
        self.run(
            |c| db::delete_session(c, token_hash).map(drop),
            |c| db_pg::drop_session(c, token_hash),
        )
    }

    pub(super) fn purge_expired(&mut self, now: u64) -> R<()> {
        self.run(
            |c| db::purge_expired(c, now).map(drop),
            |c| db_pg::purge_expired(c, now).map(drop),
        )
    }

    pub(super) fn note_lockout(&mut self, key: &str, until: u64) -> R<()> {
        self.run(
            |c| db::note_lockout(c, key, until),
            |c| db_pg::note_lockout(c, key, until),
        )
    }

    pub(super) fn unlocked_at(&mut self, key: &str) -> R<Option<u64>> {
        self.run(|c| db::unlocked_at(c, key), |c| db_pg::unlocked_at(c, key))
    }

    pub(super) fn exists(&mut self, key: &str) -> R<bool> {
        self.run(|c| db::exists(c, key), |c| db_pg::exists(c, key))
    }

    pub(super) fn name_of(&mut self, key: &str) -> R<Option<String>> {
        self.run(|c| db::name_of(c, key), |c| db_pg::name_of(c, key))
    }

    /// Reads one row of the account table.
    pub(super) fn check(&mut self) -> R<()> {
        self.run(
            |c| {
                c.query_row(
                    "SELECT count(*) FROM (SELECT 1 FROM users LIMIT 1)",
                    [],
                    |_| Ok(()),
                )
            },
            db_pg::check,
        )
    }

    /// Shares a login outcome with the other nodes' throttles (a no-op on
    /// one node: its throttle is the only one).
    pub(super) fn log_throttle(
        &mut self,
        node: &str,
        key: &str,
        ip: Option<IpAddr>,
        known: bool,
        ok: bool,
        now: u64,
    ) -> R<()> {
        self.run(
            |_| Ok(()),
            |c| db_pg::log_throttle(c, node, key, ip, known, ok, now),
        )
    }

    /// The newest throttle event (0 on SQLite, which has no log).
    pub(super) fn last_throttle(&mut self) -> R<i64> {
        self.run(|_| Ok(0), db_pg::last_throttle)
    }

    /// Other nodes' throttle events after `seq`: the new cursor and the events.
    pub(super) fn throttle_since(&mut self, seq: i64, node: &str) -> R<(i64, Vec<ThrottleEvent>)> {
        self.run(
            |_| Ok((seq, Vec::new())),
            |c| db_pg::throttle_since(c, seq, node, THROTTLE_BATCH),
        )
    }
}
