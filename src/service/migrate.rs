//! `sockit admin migrate`: moves a single node's data directory into the
//! cluster's PostgreSQL, so a team goes from one node to several without
//! losing an account, a session, a message, an idempotency key, a file or
//! a share link.
//!
//! Idempotent throughout: what PostgreSQL already holds is left alone and
//! counted as present, so running it twice copies nothing the second time
//! (and says so). Run it before the nodes start on PostgreSQL.

use std::path::Path;

use serde::Serialize;

use super::accounts::{self, AccountsCopied};
use super::chat::{self, ChatCopied};
use super::files::{FileError, FileStore, FilesConfig, import_dir};
use super::shares::{self, SharesCopied};
use crate::store::pg::{PgConn, PgError, PgTarget};

/// Everything one run copied.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Copied {
    /// Accounts and sessions.
    pub accounts: AccountsCopied,
    /// Chat rooms, messages and idempotency keys.
    pub chat: ChatCopied,
    /// Files: their index and content.
    pub files: FilesCopied,
    /// Share links and folder shares' snapshots.
    pub shares: SharesCopied,
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
            && self.files.files == 0
            && self.shares.shares == 0
    }
}

/// What the files part copied.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct FilesCopied {
    /// Files copied (new, or changed since a previous run).
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files PostgreSQL already held with the same content.
    pub present: u64,
    /// Links, special files, bad names and empty directories not copied.
    pub skipped: u64,
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
    /// The files could not be read or written.
    #[error("copying files: {0}")]
    Files(#[from] FileError),
    /// The share links could not be read or written.
    #[error("copying share links: {0}")]
    Shares(crate::store::StoreError),
}

/// Copies `data_dir` into the PostgreSQL `cfg` names. Blocking.
pub fn migrate(data_dir: &Path, cfg: &PgTarget) -> Result<Copied, MigrateError> {
    let mut conn = PgConn::open(cfg.clone())?;
    let accounts = accounts::copy_to_pg(data_dir, &mut conn)?;
    let chat = chat::copy_to_pg(data_dir, &mut conn)?;
    let files = migrate_files(data_dir, cfg)?;
    let shares = shares::copy_to_pg(data_dir, &mut conn).map_err(MigrateError::Shares)?;
    Ok(Copied {
        accounts,
        chat,
        files,
        shares,
    })
}

/// The files part: `DATA/files` (every user's tree, with its hashes)
/// into the file store kept in PostgreSQL. Account ids are kept by the
/// accounts part, so each tree lands under the same owner. The store is
/// opened without quota or size limits: what the node held is copied
/// whole, and the nodes apply their limits to what comes after.
pub fn migrate_files(data_dir: &Path, cfg: &PgTarget) -> Result<FilesCopied, MigrateError> {
    let config = FilesConfig {
        quota: u64::MAX,
        max_file: u64::MAX,
        ..FilesConfig::default()
    };
    let (store, _swept) = FileStore::open_pg(cfg.clone(), config)?;
    let i = import_dir(data_dir, &store)?;
    Ok(FilesCopied {
        files: i.files,
        bytes: i.bytes,
        present: i.unchanged,
        skipped: i.skipped,
    })
}
