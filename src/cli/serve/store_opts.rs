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
}

fn parse_store(s: &str) -> Result<Backend, String> {
    Backend::parse(s).map_err(|e| e.to_string())
}

impl StoreArgs {
    /// The store chosen, SQLite when none is.
    pub fn backend(&self) -> Backend {
        self.store.clone().unwrap_or(Backend::Sqlite)
    }
}
