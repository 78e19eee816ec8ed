//! The store flag of `sockit serve`: one node on SQLite files, or a
//! member of a cluster sharing one PostgreSQL.

use sockit::store::Backend;

/// Where the node keeps its state.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Where accounts, sessions, chat rooms, history and files live:
    /// `sqlite` (files in the data directory, one node, the default) or a
    /// PostgreSQL URL shared by several nodes, e.g.
    /// postgres://sockit@db.internal/sockit, or
    /// postgres://sockit@localhost/sockit?host=/run/postgresql for a Unix
    /// socket: members on every node sharing it meet in the same rooms,
    /// see the same files, and a login on one node is valid on all. Over
    /// TCP add ?sslmode=verify-full&sslrootcert=CA.pem to check the
    /// server's certificate (as libpq: disable, prefer, require,
    /// verify-ca, verify-full).
    #[arg(long, alias = "chat-store", value_name = "URL", value_parser = parse_store)]
    store: Option<Backend>,
    /// With a PostgreSQL --store: `on` acknowledges a chat message once
    /// PostgreSQL has flushed its commit to disk; `off` sets
    /// synchronous_commit=off on this node's chat writer only, so a commit
    /// returns without waiting for the flush. Off, an acknowledged message
    /// can be lost if PostgreSQL itself crashes (at most wal_writer_delay
    /// x 3, 600 ms by default, of messages); a crash of the node loses
    /// nothing. Accounts, shares and files always commit synchronously.
    /// See docs/OPERATIONS.md.
    #[arg(long, value_name = "on|off", value_enum, default_value_t = SyncCommit::On)]
    store_sync_commit: SyncCommit,
}

/// Whether the chat writer waits for PostgreSQL's WAL flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncCommit {
    /// Acknowledge once the commit is on PostgreSQL's disk.
    On,
    /// Acknowledge once committed; the flush follows within
    /// wal_writer_delay x 3.
    Off,
}

fn parse_store(s: &str) -> Result<Backend, String> {
    Backend::parse(s).map_err(|e| e.to_string())
}

impl StoreArgs {
    /// The store chosen, SQLite when none is.
    pub fn backend(&self) -> Backend {
        self.store.clone().unwrap_or(Backend::Sqlite)
    }

    /// Whether the chat writer's commits wait for PostgreSQL's flush; off
    /// is refused without a PostgreSQL store, where it would mean nothing.
    pub fn sync_commit(&self) -> anyhow::Result<bool> {
        let on = self.store_sync_commit == SyncCommit::On;
        anyhow::ensure!(
            on || self.backend().is_shared(),
            "--store-sync-commit off needs a PostgreSQL --store: it sets PostgreSQL's \
             synchronous_commit for the chat writer"
        );
        Ok(on)
    }
}
