//! What can go wrong with a share, with a stable code for the wire and a
//! status for HTTP.

use crate::wire::ErrorCode;

use super::ShareState;

/// An error from the shares service; `Display` is the one line the peer
/// sees (naming cause and fix), `Internal` details stay in the log.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    /// No such share (or not the asker's, or a malformed ID: all alike).
    #[error("no such share; check the link or the number (sockit share ls)")]
    NotFound,
    /// The share ended; its tombstone says how.
    #[error("this share is {}; ask its owner for a new link", .0.as_str())]
    Ended(ShareState),
    /// The owner's account is locked by the operator: the link is
    /// refused while it is, and works again (if still unexpired) once it
    /// is unlocked, so this is "forbidden for now" (403), not "gone" (410).
    #[error(
        "the owner's account is locked; this link works again only if the server's operator unlocks it"
    )]
    OwnerLocked,
    /// A limit the server forces.
    #[error("{0}")]
    Limit(String),
    /// The user's shares already hold their quota's worth of bytes.
    #[error(
        "sharing {size} more bytes would pass your quota ({shared} of {quota} already shared); revoke shares first (sockit share rm)"
    )]
    Quota {
        /// Bytes asked for.
        size: u64,
        /// Bytes of the user's available shares.
        shared: u64,
        /// The quota.
        quota: u64,
    },
    /// The store failed.
    #[error("the shares store failed ({doing}); the server's log has the details")]
    Internal {
        /// What was being done.
        doing: &'static str,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ShareError {
    /// The wire code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ShareError::NotFound => ErrorCode::NotFound,
            ShareError::Ended(_) => ErrorCode::Gone,
            ShareError::OwnerLocked => ErrorCode::Forbidden,
            ShareError::Limit(_) => ErrorCode::RateLimited,
            ShareError::Quota { .. } => ErrorCode::QuotaExceeded,
            ShareError::Internal { .. } => ErrorCode::Internal,
        }
    }

    pub(crate) fn db(doing: &'static str) -> impl Fn(rusqlite::Error) -> ShareError {
        move |e| ShareError::Internal {
            doing,
            source: Box::new(e),
        }
    }
}

/// Results of the shares service.
pub type ShareResult<T> = Result<T, ShareError>;
