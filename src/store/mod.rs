//! Storage: SQLite databases (embedded, WAL) and blob files on disk; or,
//! for a cluster of nodes, PostgreSQL ([`pg`]).
//!
//! Each service owns one database file in the data directory (accounts in
//! `sockit.db`, chat history in its own file) so that one service's writes
//! never wait on another's: SQLite allows one writer per file. Every
//! database carries its schema as an ordered list of [`Migration`]s; the
//! version applied last is kept in `PRAGMA user_version`, so a newer sockit
//! opens an older file and upgrades it in place, and an older sockit refuses
//! a newer file instead of corrupting it.
//!
//! Everything here is blocking: callers run it on a dedicated thread or in
//! `spawn_blocking`, never on the async workers.

pub mod pg;
mod pg_tls;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long a writer waits for another process's write lock (`sockit user`
/// while the server runs) before giving up with "database is locked".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a node keeps its state, as the operator chose it (`--store`).
#[derive(Debug, Clone)]
pub enum Backend {
    /// SQLite files in the data directory: one node, nothing to set up.
    Sqlite,
    /// A PostgreSQL shared by every node of a cluster.
    Postgres(Box<pg::PgTarget>),
}

impl Backend {
    /// Parses `--store`: `sqlite`, or a `postgres://` URL.
    pub fn parse(s: &str) -> Result<Backend, pg::PgError> {
        if s == "sqlite" {
            return Ok(Backend::Sqlite);
        }
        if !(s.starts_with("postgres://") || s.starts_with("postgresql://")) {
            return Err(pg::PgError::BadUrl(s.to_owned()));
        }
        Ok(Backend::Postgres(Box::new(pg::PgTarget::parse(s)?)))
    }

    /// True for the cluster's store.
    pub fn is_shared(&self) -> bool {
        matches!(self, Backend::Postgres(_))
    }
}

/// One step of a schema: applied once, in order, inside a transaction.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The schema version this step produces (1, 2, 3, ...).
    pub version: u32,
    /// What it does, for the log.
    pub name: &'static str,
    /// The SQL, possibly several statements.
    pub sql: &'static str,
}

/// How hard a commit tries to survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: a committed transaction survives power loss.
    Full,
    /// `synchronous=NORMAL`: survives a process crash (kill -9); the last
    /// transactions may be lost on power loss. Cheaper per commit.
    Normal,
}

/// Why a database could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be created.
    #[error("creating database {path}: {source}; check the --data directory's permissions")]
    Create {
        /// The database file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed; the path says which file.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer sockit.
    #[error(
        "database {path} has schema version {found}, newer than this sockit knows ({known}); \
         upgrade sockit or use another --data directory"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Version found in the file.
        found: u32,
        /// Highest version this build knows.
        known: u32,
    },
    /// The PostgreSQL store (`--store postgres://...`) failed.
    #[error(transparent)]
    Pg(#[from] pg::PgError),
}

/// Opens (creating if needed) the database at `path`, sets WAL mode and the
/// pragmas every sockit database uses, and applies pending migrations.
pub fn open(
    path: &Path,
    migrations: &[Migration],
    durability: Durability,
) -> Result<Connection, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // Created private before SQLite opens it: SQLite would make it 0644
    // (less the umask), and gives its -wal and -shm files the same mode.
    crate::fsutil::touch_private(path).map_err(|e| StoreError::Create {
        path: path.to_owned(),
        source: e,
    })?;
    let mut conn = Connection::open_with_flags(path, flags).map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON;"
    ))
    .map_err(err)?;
    migrate(&mut conn, migrations).map_err(|e| match e {
        MigrateError::Sqlite(source) => err(source),
        MigrateError::TooNew { found, known } => StoreError::TooNew {
            path: path.to_owned(),
            found,
            known,
        },
    })?;
    Ok(conn)
}

/// Schema version recorded in the database.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

enum MigrateError {
    Sqlite(rusqlite::Error),
    TooNew { found: u32, known: u32 },
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

/// Applies every migration newer than the recorded version, each in its own
/// immediate transaction (so two processes opening the same old file at
/// once do not both apply a step).
fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<(), MigrateError> {
    let known = migrations.last().map_or(0, |m| m.version);
    let initial = schema_version(conn)?;
    for m in migrations {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found = schema_version(&tx)?;
        if found > known {
            return Err(MigrateError::TooNew { found, known });
        }
        if m.version <= found {
            continue;
        }
        tx.execute_batch(m.sql)?;
        tx.pragma_update(None, "user_version", m.version)?;
        tx.commit()?;
        if initial == 0 {
            // A new file: creating it is not news to the operator.
            tracing::debug!(
                version = m.version,
                step = m.name,
                "database schema created"
            );
        } else {
            tracing::info!(
                version = m.version,
                step = m.name,
                "database schema upgraded"
            );
        }
    }
    let found = schema_version(conn)?;
    if found > known {
        return Err(MigrateError::TooNew { found, known });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: Migration = Migration {
        version: 1,
        name: "t",
        sql: "CREATE TABLE t (a INTEGER);",
    };
    const V2: Migration = Migration {
        version: 2,
        name: "t.b",
        sql: "ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x';",
    };

    #[test]
    fn upgrades_an_older_file_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let c = open(&path, &[V1], Durability::Normal).unwrap();
        c.execute("INSERT INTO t (a) VALUES (7)", []).unwrap();
        drop(c);
        let c = open(&path, &[V1, V2], Durability::Full).unwrap();
        assert_eq!(schema_version(&c).unwrap(), 2);
        let (a, b): (i64, String) = c
            .query_row("SELECT a, b FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((a, b.as_str()), (7, "x"));
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn refuses_a_newer_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        drop(open(&path, &[V1, V2], Durability::Normal).unwrap());
        let e = open(&path, &[V1], Durability::Normal).unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::TooNew {
                    found: 2,
                    known: 1,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("upgrade sockit"));
    }
}
