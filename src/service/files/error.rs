//! What can go wrong in the file store, with a stable code for the wire.

use std::io;

use super::paths::PathError;
use crate::wire::ErrorCode;

/// An error from the file store. Doors send [`FileError::code`] and the
/// `Display` line to the peer; `Internal` details stay in the server log.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// No such file or directory.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The path asked for (escaped).
        path: String,
    },
    /// The target exists and `force` was not given.
    #[error("{path} already exists; use --force to replace it")]
    Exists {
        /// The path (escaped).
        path: String,
    },
    /// A file is where a directory is needed, or the other way round.
    #[error("{path} is {found}, not {wanted}")]
    WrongKind {
        /// The path (escaped).
        path: String,
        /// What the operation needs ("a file", "a directory").
        wanted: &'static str,
        /// What is there.
        found: &'static str,
    },
    /// The destination of a new folder or a move exists (neither replaces).
    #[error("{path} already exists; choose another name or remove it first")]
    Taken {
        /// The path (escaped).
        path: String,
    },
    /// A directory was to move into itself or below itself.
    #[error("cannot move {path} into itself; choose a destination outside it")]
    IntoItself {
        /// The directory (escaped).
        path: String,
    },
    /// A directory with entries was removed without `recursive`.
    #[error("{path} is a non-empty directory; use -r to remove it with its contents")]
    NotEmpty {
        /// The path (escaped).
        path: String,
    },
    /// Another upload of the same path is running, or too many uploads.
    #[error("{path}: {why}; try again when it has finished")]
    Busy {
        /// The path (escaped).
        path: String,
        /// What is busy.
        why: &'static str,
    },
    /// The path breaks a safety rule.
    #[error("bad path {path}: {reason}")]
    BadPath {
        /// The path (escaped).
        path: String,
        /// The rule it breaks.
        reason: PathError,
    },
    /// The user's quota cannot hold this upload.
    #[error(
        "quota exceeded: {needed} more bytes needed, {used} of {quota} in use; remove files or cancel unfinished uploads (sockit ls --partial) first"
    )]
    QuotaExceeded {
        /// Bytes in use (published and reserved by unfinished uploads).
        used: u64,
        /// The quota.
        quota: u64,
        /// Bytes this upload needs.
        needed: u64,
    },
    /// No unfinished upload of this path to cancel.
    #[error("{path}: no unfinished upload of this path; sockit ls --partial lists them")]
    NoPartial {
        /// The path (escaped).
        path: String,
    },
    /// Too many unfinished uploads for one user.
    #[error(
        "{count} unfinished uploads; finish or cancel some first (sockit ls --partial, sockit rm --partial)"
    )]
    TooManyPartials {
        /// How many are kept.
        count: usize,
    },
    /// A file over the maximum size, a chunk over the chunk limit, or bytes
    /// beyond the declared size.
    #[error("too large: {what} is {size} bytes, the limit is {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The disk (or the filesystem quota) is full; the partial upload was
    /// removed.
    #[error("the server's disk is full; nothing was kept, try again later")]
    DiskFull,
    /// The content's hash is not the one the sender computed; nothing was
    /// published and the partial upload was removed.
    #[error("verification failed: received content hashes to {actual}, sender said {expected}")]
    VerifyFailed {
        /// The sender's hash (hex).
        expected: String,
        /// What the received bytes hash to (hex).
        actual: String,
    },
    /// A chunk for an offset other than the next one expected, or a finish
    /// before all bytes arrived.
    #[error("bad offset {got}: expected {expected}; resume from {expected}")]
    BadOffset {
        /// The offset the store expects.
        expected: u64,
        /// The offset given.
        got: u64,
    },
    /// An I/O or database failure on the server.
    #[error("internal error while {doing}: {source}")]
    Internal {
        /// What the store was doing.
        doing: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl FileError {
    /// The stable code sent on the wire; clients map these to exit codes.
    pub fn code(&self) -> ErrorCode {
        match self {
            FileError::NotFound { .. } | FileError::NoPartial { .. } => ErrorCode::NotFound,
            FileError::Exists { .. }
            | FileError::Taken { .. }
            | FileError::IntoItself { .. }
            | FileError::WrongKind { .. }
            | FileError::NotEmpty { .. } => ErrorCode::Conflict,
            FileError::Busy { .. } => ErrorCode::Busy,
            FileError::BadPath { .. } => ErrorCode::BadPath,
            FileError::QuotaExceeded { .. } | FileError::TooManyPartials { .. } => {
                ErrorCode::QuotaExceeded
            }
            FileError::TooLarge { .. } => ErrorCode::TooLarge,
            FileError::DiskFull => ErrorCode::DiskFull,
            FileError::VerifyFailed { .. } => ErrorCode::VerifyFailed,
            FileError::BadOffset { .. } => ErrorCode::BadOffset,
            FileError::Internal { .. } => ErrorCode::Internal,
        }
    }

    /// Wraps an I/O error, turning "no space" (ENOSPC, EDQUOT) into
    /// [`FileError::DiskFull`] so the peer gets a clear answer.
    pub(crate) fn io(doing: &'static str, source: io::Error) -> FileError {
        if is_disk_full(&source) {
            FileError::DiskFull
        } else {
            FileError::Internal { doing, source }
        }
    }

    pub(crate) fn bad_path(path: &str, reason: PathError) -> FileError {
        FileError::BadPath {
            path: super::escape_name(path).into_owned(),
            reason,
        }
    }
}

/// True for the errors a full disk or an exhausted filesystem quota give.
pub(crate) fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        || e.kind() == io::ErrorKind::StorageFull
}

/// Shorthand for results of this module.
pub type FileResult<T> = Result<T, FileError>;
