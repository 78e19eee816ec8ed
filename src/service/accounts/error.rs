//! The two error types: [`AuthError`] for what a client is told, and
//! [`AccountsError`] for the operator's admin commands.

use std::path::PathBuf;
use std::time::Duration;

use crate::store::StoreError;
use crate::wire::ErrorCode;

/// Why a login, resume or logout failed. Each message is one line naming the
/// cause and the fix, and never carries the password or the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password: the same answer for both, so the
    /// reply does not reveal which names exist.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The operator locked the account. Only said when the password was
    /// right, so it too reveals nothing to someone guessing.
    #[error("this account is locked; ask the server's operator to unlock it")]
    AccountLocked,
    /// Too many failed logins for this name or from this address.
    #[error("too many failed logins; retry in {} s", retry_after.as_secs().max(1))]
    TooManyAttempts {
        /// How long until the lockout ends.
        retry_after: Duration,
    },
    /// The token is unknown, expired or revoked.
    #[error("invalid or expired session token; log in again")]
    InvalidToken,
    /// The request itself is malformed (name not valid, password too long).
    #[error("{0}")]
    BadInput(String),
    /// The hashing queue is full.
    #[error("the server is busy with other logins; retry in a moment")]
    Busy,
    /// The store failed; the details are in the server's log only.
    #[error("internal error ({0}); retry later or tell the server's operator")]
    Internal(String),
}

impl AuthError {
    /// The stable code a door sends next to the message.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::AccountLocked => ErrorCode::AccountLocked,
            Self::TooManyAttempts { .. } => ErrorCode::TooManyAttempts,
            Self::InvalidToken => ErrorCode::InvalidToken,
            Self::BadInput(_) => ErrorCode::BadRequest,
            Self::Busy => ErrorCode::ServerBusy,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// Logs a store failure in full and returns the short form for the client.
    pub(super) fn internal(what: &str, e: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %e, "accounts: {what}");
        Self::Internal(what.to_owned())
    }
}

/// Why an admin command (`sockit user ...`) failed; one line, cause and fix.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// The name (ignoring case) belongs to an existing account, spelled as given.
    #[error(
        "user {0} already exists (names ignore case); choose another name or `sockit user passwd {0}`"
    )]
    NameTaken(String),
    /// No account has this name.
    #[error("no user {0}; `sockit user list` shows who exists")]
    NoSuchUser(String),
    /// The name breaks the naming rule; the message says which part.
    #[error("invalid user name: {0}")]
    BadName(String),
    /// The password is too short or too long.
    #[error("invalid password: {0}")]
    BadPassword(String),
    /// The configuration cannot work (e.g. argon2 parameters out of range).
    #[error("invalid accounts configuration: {0}")]
    BadConfig(String),
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}; check its permissions or pass --data")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something else below us failed (OS random generator, thread spawn).
    #[error("{0}")]
    Internal(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        let all = [
            (AuthError::InvalidCredentials, "invalid_credentials"),
            (AuthError::AccountLocked, "account_locked"),
            (
                AuthError::TooManyAttempts {
                    retry_after: Duration::from_millis(1500),
                },
                "too_many_attempts",
            ),
            (AuthError::InvalidToken, "invalid_token"),
            (AuthError::BadInput("x".into()), "bad_request"),
            (AuthError::Busy, "server_busy"),
            (AuthError::Internal("x".into()), "internal_error"),
        ];
        for (e, code) in all {
            assert_eq!(e.code().as_str(), code);
            assert!(!e.to_string().contains('\n'));
        }
        let e = AuthError::TooManyAttempts {
            retry_after: Duration::from_millis(300),
        };
        assert_eq!(e.to_string(), "too many failed logins; retry in 1 s");
    }
}
