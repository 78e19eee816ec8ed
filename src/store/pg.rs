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

use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::{Client, Config, Statement};
use rustls::ClientConfig;

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

/// A PostgreSQL server to connect to: the parsed URL with its timeouts,
/// and the TLS policy its `sslmode` and `sslrootcert` asked for
/// (`store::pg_tls`). Every connection a node opens is made from this one
/// value, so no connection can miss the policy.
#[derive(Clone)]
pub struct PgTarget {
    cfg: Config,
    tls: Arc<ClientConfig>,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Config`'s own Debug hides the password.
        f.debug_struct("PgTarget")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl PgTarget {
    /// Parses a `postgres://` URL (or key=value string), sets the timeouts,
    /// and builds its TLS policy (`sslmode`, including `verify-ca` and
    /// `verify-full`, and `sslrootcert=FILE`, which is read now, so a bad
    /// file is reported at start).
    pub fn parse(url: &str) -> Result<PgTarget, PgError> {
        let split = pg_tls::split(url).map_err(PgError::Tls)?;
        let mut cfg: Config = split
            .url
            .parse()
            .map_err(|_| PgError::BadUrl(url.to_owned()))?;
        let tls = pg_tls::policy(&split.check).map_err(PgError::Tls)?;
        cfg.connect_timeout(CONNECT_TIMEOUT);
        cfg.application_name("sockit");
        Ok(PgTarget { cfg, tls })
    }

    /// Opens a connection to the server, with its TLS policy.
    pub fn connect(&self) -> Result<Client, postgres::Error> {
        pg_tls::connect(&self.cfg, &self.tls)
    }
}

/// One connection that is opened on first use and opened again after it
/// broke.
///
/// The one stale-connection rule of every PostgreSQL user (chat, accounts,
/// shares, files): a connection that sat idle for [`IDLE_CHECK`] or
/// longer is checked with an empty query before it is handed out, and
/// replaced if it is dead (a PostgreSQL restart ends every session, and
/// the old connection would fail its first use afterwards). So the call
/// runs on a live connection, and nothing is ever run twice, which makes
/// the rule safe for writes too. A connection that breaks during a call
/// fails that call (its transaction did not commit, or its outcome is
/// unknown: the caller decides), and the next call reconnects.
pub struct PgConn {
    target: PgTarget,
    client: Option<Client>,
    /// Statements prepared on this connection, by their text: a hot
    /// statement costs one round trip (bind and execute) instead of two
    /// (parse, then bind and execute). Emptied with the connection.
    prepared: Vec<(&'static str, Statement)>,
    /// `synchronous_commit` for this connection's transactions (`on`,
    /// PostgreSQL's default, unless [`PgConn::set_sync_commit`] said off).
    sync_commit: bool,
    /// When the client was last handed out (see [`IDLE_CHECK`]).
    used: Instant,
    /// Whether the idle check is skipped (see [`PgConn::listening`]).
    listens: bool,
}

/// How long a connection may sit unused before it is checked (one empty
/// query) before its next use. A busy connection (a writer under load)
/// rarely pays for the check; PostgreSQL cannot restart in less (a stop
/// and start of a small idle one was seen to take under 100 ms here).
pub const IDLE_CHECK: Duration = Duration::from_millis(10);

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

/// The statement that sets `synchronous_commit` for a session.
fn sync_commit_sql(on: bool) -> &'static str {
    if on {
        "SET synchronous_commit = on"
    } else {
        "SET synchronous_commit = off"
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
    /// A connection to `target`, not yet opened.
    pub fn new(target: PgTarget) -> PgConn {
        PgConn {
            target,
            client: None,
            prepared: Vec::new(),
            sync_commit: true,
            used: Instant::now(),
            listens: false,
        }
    }

    /// A connection, not yet opened, on which the caller will LISTEN and
    /// wait: it is never idle for long, the wait itself finds a dead
    /// server, and the caller reconnects by itself, so it is handed out
    /// without the idle check.
    pub fn listening(target: PgTarget) -> PgConn {
        let mut c = PgConn::new(target);
        c.listens = true;
        c
    }

    /// Sets `synchronous_commit` for this connection's transactions, now
    /// and after every reconnect. Off, a commit returns before its WAL
    /// record is flushed: much cheaper per commit, and a commit that was
    /// acknowledged can be lost if PostgreSQL itself crashes (at most
    /// `wal_writer_delay` x 3 of them); a crash of this process loses
    /// nothing (docs/OPERATIONS.md).
    pub fn set_sync_commit(&mut self, on: bool) -> Result<(), postgres::Error> {
        self.sync_commit = on;
        match &mut self.client {
            Some(c) => c.batch_execute(sync_commit_sql(on)),
            None => Ok(()),
        }
    }

    /// Opens it now, so that a wrong URL or a server that is down is
    /// reported at start rather than at the first message.
    pub fn open(target: PgTarget) -> Result<PgConn, PgError> {
        let mut c = PgConn::new(target);
        c.client()?;
        Ok(c)
    }

    /// The client, connecting first if there is none, it broke, or it sat
    /// idle for [`IDLE_CHECK`] and no longer answers (see [`PgConn`]).
    pub fn client(&mut self) -> Result<&mut Client, postgres::Error> {
        let check = !self.listens && self.used.elapsed() >= IDLE_CHECK;
        self.used = Instant::now();
        if let Some(c) = &mut self.client {
            if c.is_closed() {
                self.reset();
            } else if check && let Err(e) = c.is_valid(CONNECT_TIMEOUT) {
                tracing::debug!(error = %e, "an idle PostgreSQL connection is dead (a restart?); reconnecting");
                self.reset();
            }
        }
        match &mut self.client {
            Some(c) => Ok(c),
            slot @ None => {
                let mut c = self.target.connect()?;
                let ms = STATEMENT_TIMEOUT.as_millis();
                c.batch_execute(&format!("SET statement_timeout = {ms}"))?;
                if !self.sync_commit {
                    c.batch_execute(sync_commit_sql(false))?;
                }
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
        self.run(|e| e, f)
    }

    /// [`PgConn::with`] for a caller with errors of its own: `connecting`
    /// turns a failure to (re)connect into one.
    pub fn run<T, E>(
        &mut self,
        connecting: impl FnOnce(postgres::Error) -> E,
        f: impl FnOnce(&mut Client) -> Result<T, E>,
    ) -> Result<T, E> {
        let r = f(self.client().map_err(connecting)?);
        if r.is_err() && self.client.as_ref().is_some_and(Client::is_closed) {
            self.reset();
        }
        r
    }

    /// Runs `f` with `sql` prepared on this connection (once per
    /// connection: see `prepared`), for statements run at every commit or
    /// wake-up. After an error the statement is prepared again next time
    /// (the schema may have changed under it), and the connection dropped
    /// if it broke.
    pub fn with_prepared<T>(
        &mut self,
        sql: &'static str,
        f: impl FnOnce(&mut Client, &Statement) -> Result<T, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        // The connection first: replacing a dead one forgets its statements.
        self.client()?;
        let found = self
            .prepared
            .iter()
            .find(|(s, _)| *s == sql)
            .map(|(_, st)| st.clone());
        let st = match found {
            Some(st) => st,
            None => {
                let st = self.with(|c| c.prepare(sql))?;
                self.prepared.push((sql, st.clone()));
                st
            }
        };
        let r = self.with(|c| f(c, &st));
        if r.is_err() {
            self.prepared.retain(|(s, _)| *s != sql);
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
        self.prepared.clear();
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
