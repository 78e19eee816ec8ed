//! A few PostgreSQL connections shared by every transfer of a node.
//!
//! Each store call borrows one connection for the statements it runs (a
//! chunk's insert, a listing) and gives it back, so an upload that sits
//! idle between chunks holds none. The number open is capped: a burst of
//! transfers waits up to [`WAIT`] for a free one, then gets a `busy`
//! error it may retry, rather than opening connections without bound.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::store::pg::{PgConn, PgTarget};

use super::super::error::{FileError, FileResult};

/// Connections one node opens for files at most: transfers beyond this
/// wait. Eight keeps PostgreSQL's per-node share small (a 100-node cluster
/// needs 800 of them, see docs/SCALING.md) while two CPUs cannot keep more
/// statements busy anyway.
pub const MAX_CONNS: usize = 8;

/// How long a call waits for a free connection before answering `busy`.
pub const WAIT: Duration = Duration::from_secs(10);

/// The pool: idle connections and how many exist.
pub(crate) struct Pool {
    cfg: PgTarget,
    state: Mutex<PoolState>,
    freed: Condvar,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<PgConn>,
    open: usize,
}

/// A borrowed connection, given back when dropped.
pub(crate) struct Conn<'a> {
    pool: &'a Pool,
    conn: Option<PgConn>,
}

impl Pool {
    /// A pool that connects on first use.
    pub(crate) fn new(cfg: PgTarget) -> Pool {
        Pool {
            cfg,
            state: Mutex::new(PoolState::default()),
            freed: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Borrows a connection, waiting up to [`WAIT`] when all are in use.
    pub(crate) fn get(&self) -> FileResult<Conn<'_>> {
        let mut st = self.state();
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(c) = st.idle.pop() {
                return Ok(self.conn(c));
            }
            if st.open < MAX_CONNS {
                st.open += 1;
                return Ok(self.conn(PgConn::new(self.cfg.clone())));
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(FileError::Busy {
                    path: "the file store".into(),
                    why: "every database connection of this node is in use",
                });
            }
            st = self
                .freed
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn conn(&self, c: PgConn) -> Conn<'_> {
        Conn {
            pool: self,
            conn: Some(c),
        }
    }
}

impl Conn<'_> {
    /// Runs `f` on the client (connecting first if needed); a broken
    /// connection is reopened by the next call. `doing` names the step for
    /// the error. A connection that sat in the pool across a PostgreSQL
    /// restart is replaced before use (`PgConn`'s stale-connection rule).
    pub(crate) fn run<T>(
        &mut self,
        doing: &'static str,
        f: impl FnOnce(&mut postgres::Client) -> FileResult<T>,
    ) -> FileResult<T> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(FileError::io(doing, std::io::Error::other("no connection")));
        };
        conn.run(db(doing), f)
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let mut st = self.pool.state();
        if let Some(c) = self.conn.take() {
            st.idle.push(c);
        }
        self.pool.freed.notify_one();
    }
}

/// Turns a database error into the store's error for step `doing`: the
/// client sees `internal error while <doing>: PostgreSQL ...`, which it
/// may retry once the database is back.
pub(crate) fn db(doing: &'static str) -> impl Fn(postgres::Error) -> FileError {
    move |e| FileError::Internal {
        doing,
        source: std::io::Error::other(format!("PostgreSQL: {e}")),
    }
}
