//! `sockit admin migrate`: moves a single node's data directory into the
//! cluster's PostgreSQL, so a team goes from one node to several without
//! losing an account, a session, a message or an idempotency key.
//!
//! Idempotent throughout: what PostgreSQL already holds is left alone and
//! counted as present, so running it twice copies nothing the second time
//! (and says so). Run it before the nodes start on PostgreSQL.

use std::path::Path;

use serde::Serialize;

use super::accounts::{self, AccountsCopied};
use super::chat::{self, ChatCopied};
use crate::store::pg::{PgConn, PgError};

/// Everything one run copied.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Copied {
    /// Accounts and sessions.
    pub accounts: AccountsCopied,
    /// Chat rooms, messages and idempotency keys.
    pub chat: ChatCopied,
    /// Files, when this build stores them in PostgreSQL (see [`migrate_files`]).
    pub files: Option<FilesCopied>,
}

impl Copied {
    /// Whether this run copied nothing (everything was already there).
    pub fn is_empty(&self) -> bool {
        let a = &self.accounts;
        let c = &self.chat;
        a.accounts == 0
            && a.sessions == 0
            && c.rooms == 0
            && c.messages == 0
            && c.keys == 0
            && self.files.as_ref().is_none_or(|f| f.files == 0)
    }
}

/// What the files part copied.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct FilesCopied {
    /// Files copied.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Why a migration stopped (what was committed before stays: a rerun
/// goes on from there).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// PostgreSQL could not be reached or refused a statement.
    #[error(transparent)]
    Pg(#[from] PgError),
    /// The accounts could not be read or written.
    #[error("copying accounts: {0}")]
    Accounts(#[from] crate::store::StoreError),
    /// The chat history could not be read or written.
    #[error("copying chat history: {0}")]
    Chat(#[from] chat::CopyError),
}

/// Copies `data_dir` into the PostgreSQL `cfg` names. Blocking.
pub fn migrate(data_dir: &Path, cfg: &postgres::Config) -> Result<Copied, MigrateError> {
    let mut conn = PgConn::open(cfg.clone())?;
    let accounts = accounts::copy_to_pg(data_dir, &mut conn)?;
    let chat = chat::copy_to_pg(data_dir, &mut conn)?;
    let files = migrate_files(data_dir, &mut conn)?;
    Ok(Copied {
        accounts,
        chat,
        files,
    })
}

/// The files part: the hook where a file store kept in PostgreSQL imports
/// `DATA/files` (its `import_dir`). This build keeps files on each node's
/// disk, so there is nothing to copy into PostgreSQL and it returns `None`
/// (the report says the files stay in the data directory).
pub fn migrate_files(
    _data_dir: &Path,
    _conn: &mut PgConn,
) -> Result<Option<FilesCopied>, MigrateError> {
    Ok(None)
}
