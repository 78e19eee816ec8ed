//! Why a request failed, whatever its family: one enum, one mapping to an
//! [`ErrorCode`] ([`Failure::code`]), one error frame ([`Failure::to_frame`]).
//! The web door maps the same codes to HTTP statuses.

use super::transfer::MAX_OPEN_PER_CONN;
use crate::service::accounts::AuthError;
use crate::service::chat::ChatError;
use crate::service::files::FileError;
use crate::service::shares::ShareError;
use crate::wire::{ErrorCode, Frame, MessageError, UNAUTHENTICATED, error_frame};

/// Why a stateful request failed; each maps to one error code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The accounts service said no.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The chat hub said no.
    #[error(transparent)]
    Chat(#[from] ChatError),
    /// The file store refused or failed.
    #[error(transparent)]
    Files(#[from] FileError),
    /// The shares service refused or failed.
    #[error(transparent)]
    Shares(#[from] ShareError),
    /// The request needs a login first.
    #[error("this connection is not logged in; send login (or resume with a token) first")]
    Unauthenticated,
    /// The session ended since this connection logged in.
    #[error("the session has expired or was revoked; log in again")]
    Revoked,
    /// This server runs without accounts.
    #[error("{}", MessageError::UnknownType("login".to_owned()))]
    NoAccounts,
    /// This server runs without chat.
    #[error("{}", MessageError::UnknownType("chat".to_owned()))]
    NoChat,
    /// No such open transfer on this connection.
    #[error("no open transfer {0} on this connection; open one with file.put or file.get")]
    BadHandle(u64),
    /// Fields that parse but make no sense (a hash that is not hex).
    #[error("{0}")]
    BadRequest(String),
    /// [`MAX_OPEN_PER_CONN`] transfers are open already.
    #[error("{MAX_OPEN_PER_CONN} transfers are open on this connection; finish or close one first")]
    TooManyTransfers,
    /// `file.put.end` before every byte arrived; the upload stays open.
    #[error(
        "file.put.end before all bytes: {offset} of {size} received and kept; \
         send the rest with file.write from offset {offset} on handle {handle}, \
         then file.put.end again"
    )]
    EarlyEnd {
        /// The upload.
        handle: u64,
        /// Bytes received: where the client continues.
        offset: u64,
        /// The declared size.
        size: u64,
    },
}

impl Failure {
    /// The one code each failure travels as (frames, and through the web
    /// door's status mapping, HTTP).
    pub fn code(&self) -> ErrorCode {
        match self {
            Failure::Auth(e) => e.code(),
            Failure::Chat(e) => e.code(),
            Failure::Files(e) => e.code(),
            Failure::Shares(e) => e.code(),
            Failure::Unauthenticated | Failure::Revoked => UNAUTHENTICATED,
            Failure::NoAccounts | Failure::NoChat => ErrorCode::UnknownType,
            Failure::BadHandle(_) => ErrorCode::BadHandle,
            Failure::BadRequest(_) => ErrorCode::BadRequest,
            Failure::TooManyTransfers => ErrorCode::Busy,
            Failure::EarlyEnd { .. } => ErrorCode::BadOffset,
        }
    }

    /// The message a peer is told: the failure itself, except that the
    /// server paths and OS details of an internal error stay in our log.
    pub fn public_message(&self) -> String {
        match self {
            Failure::Files(e @ FileError::Internal { .. }) => {
                tracing::warn!(error = %e, "file request failed");
                "internal error on the server; its log has the details".to_owned()
            }
            Failure::Shares(e @ ShareError::Internal { .. }) => {
                tracing::warn!(error = %e, "share request failed");
                e.to_string()
            }
            _ => self.to_string(),
        }
    }

    /// Whole seconds until a refused login may be retried, rounded up:
    /// retrying at the given second never lands inside the lockout.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Failure::Auth(AuthError::TooManyAttempts { retry_after }) => {
                Some(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0))
            }
            _ => None,
        }
    }

    /// The error frame answering request `id`. Where a client continues
    /// (`offset`) or may retry (`retry_after`) travels as a field too, so
    /// it need not parse the message.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        let frame = error_frame(self.code(), &self.public_message(), id);
        let frame = match self {
            Failure::Files(FileError::BadOffset { expected, .. }) => frame.set("offset", *expected),
            Failure::EarlyEnd { offset, .. } => frame.set("offset", *offset),
            _ => frame,
        };
        match self.retry_after() {
            Some(secs) => frame.set("retry_after", secs),
            None => frame,
        }
    }
}
