//! PostgreSQL, the cluster's shared store: a connection that reconnects by
//! itself, and schema migrations kept in a table.
//!
//! Several nodes share one database, so a migration step runs inside a
//! transaction holding an advisory lock: two nodes starting at once apply
//! each step once. A database written by a newer sockit is refused, as
//! with SQLite.
//!
//! Like the SQLite side this is blocking (the `postgres` crate, the
//! synchronous face of `tokio-postgres`): callers run it on their own
//! thread or in `spawn_blocking`, never on the async workers.

use std::time::Duration;

use postgres::{Client, Config};

pub use super::pg_tls::connect;
use super::{Migration, pg_tls};

/// How long connecting may take before the caller gets an error: a client
/// waiting on a publish while PostgreSQL is down is told within this, never
/// left hanging.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest one statement may run: a lock held by a stuck node, or a server
/// that stopped answering, turns into an error the client can retry.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Key of the advisory lock migrations hold (any constant; "sockit" in
/// ASCII), so that nodes starting together migrate one at a time.
const MIGRATION_LOCK: i64 = 0x736f_636b_6974;

/// Why the PostgreSQL store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL does not parse.
    #[error(
        "--store {0:?} is not a PostgreSQL URL; give postgres://USER@HOST/DB \
         (or postgres://USER@localhost/DB?host=/run/postgresql for a Unix socket)"
    )]
    BadUrl(String),
    /// The URL's TLS parameters (`sslmode`, `sslrootcert`) cannot be used.
    #[error("--store: {0}")]
    Tls(String),
    /// The server could not be reached or failed a statement.
    #[error("PostgreSQL: {0}")]
    Db(#[from] postgres::Error),
    /// The database was migrated by a newer sockit.
    #[error(
        "the PostgreSQL schema is at version {found}, newer than this sockit knows ({known}); \
         upgrade sockit on this node"
    )]
    TooNew {
        /// Version found in the database.
        found: u32,
        /// Highest version this build knows.
        known: u32,
    },
}

/// Parses a `postgres://` URL (or key=value string), sets the timeouts,
/// and keeps its TLS policy for every connection to that server
/// (`store::pg_tls`: `sslmode`, including `verify-ca` and `verify-full`, and
/// `sslrootcert=FILE`, which is read now).
pub fn config(url: &str) -> Result<Config, PgError> {
    let split = pg_tls::split(url).map_err(PgError::Tls)?;
    let mut cfg: Config = split
        .url
        .parse()
        .map_err(|_| PgError::BadUrl(url.to_owned()))?;
    pg_tls::register(&cfg, &split.check).map_err(PgError::Tls)?;
    cfg.connect_timeout(CONNECT_TIMEOUT);
    cfg.application_name("sockit");
    Ok(cfg)
}

/// One connection that is opened on first use and opened again after it
/// broke (PostgreSQL restarted, network cut): the caller's current request
/// fails, the next one reconnects.
pub struct PgConn {
    cfg: Config,
    client: Option<Client>,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn")
            .field("connected", &self.client.is_some())
            .finish()
    }
}

impl Drop for PgConn {
    /// The blocking `postgres::Client` closes itself by running a small
    /// runtime of its own, which panics inside tokio's (a node stopped with
    /// SIGTERM aborted while dropping its services). So when dropped on a
    /// runtime thread, the client is closed on a plain thread instead.
    fn drop(&mut self) {
        close(self.client.take());
    }
}

/// Closes `client`, off the runtime when called on one (see `Drop`).
fn close(client: Option<Client>) {
    if let Some(client) = client {
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::spawn(move || drop(client));
        }
    }
}

impl PgConn {
    /// A connection to `cfg`, not yet opened.
    pub fn new(cfg: Config) -> PgConn {
        PgConn { cfg, client: None }
    }

    /// Opens it now, so that a wrong URL or a server that is down is
    /// reported at start rather than at the first message.
    pub fn open(cfg: Config) -> Result<PgConn, PgError> {
        let mut c = PgConn::new(cfg);
        c.client()?;
        Ok(c)
    }

    /// The client, connecting first if there is none or it broke.
    pub fn client(&mut self) -> Result<&mut Client, postgres::Error> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            close(self.client.take());
        }
        match &mut self.client {
            Some(c) => Ok(c),
            slot @ None => {
                let mut c = connect(&self.cfg)?;
                let ms = STATEMENT_TIMEOUT.as_millis();
                c.batch_execute(&format!("SET statement_timeout = {ms}"))?;
                Ok(slot.insert(c))
            }
        }
    }

    /// Runs `f` on the client; after an error the connection is dropped if
    /// it broke, so that the next call reconnects.
    pub fn with<T>(
        &mut self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        let r = f(self.client()?);
        if r.is_err() && self.client.as_ref().is_some_and(Client::is_closed) {
            close(self.client.take());
        }
        r
    }

    /// Whether a connection is open (it may still turn out dead at its
    /// next use: a PostgreSQL restart is only noticed then).
    pub fn is_open(&self) -> bool {
        self.client.is_some()
    }

    /// Forgets the connection (after an error that may have left it in an
    /// unknown state).
    pub fn reset(&mut self) {
        close(self.client.take());
    }
}

/// Applies every migration newer than the one recorded in
/// `sockit_migrations`, each in its own transaction under the migration
/// lock.
pub fn migrate(conn: &mut PgConn, migrations: &[Migration]) -> Result<(), PgError> {
    migrate_in(conn, "sockit_migrations", migrations)
}

/// [`migrate`] with the versions kept in `table` (a constant naming one
/// service's schema, e.g. `sockit_migrations_accounts`): each service
/// numbers its own steps, so one service's new step never collides with
/// another's.
pub fn migrate_in(conn: &mut PgConn, table: &str, migrations: &[Migration]) -> Result<(), PgError> {
    let known = migrations.last().map_or(0, |m| m.version);
    let c = conn.client()?;
    c.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (
             version INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )"
    ))?;
    for m in migrations {
        let mut tx = c.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        let found: i32 = tx
            .query_one(
                &format!("SELECT coalesce(max(version), 0) FROM {table}"),
                &[],
            )?
            .get(0);
        let found = u32::try_from(found).unwrap_or(0);
        if found > known {
            return Err(PgError::TooNew { found, known });
        }
        if m.version <= found {
            continue;
        }
        tx.batch_execute(m.sql)?;
        let version = i32::try_from(m.version).unwrap_or(i32::MAX);
        tx.execute(
            &format!("INSERT INTO {table} (version, name) VALUES ($1, $2)"),
            &[&version, &m.name],
        )?;
        tx.commit()?;
        tracing::info!(
            version = m.version,
            step = m.name,
            "PostgreSQL schema upgraded"
        );
    }
    Ok(())
}
