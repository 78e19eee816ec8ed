//! [`ErrorCode`]: the `"code"` of every `error` frame (and of the web
//! door's JSON errors), one enum both ends match on.
//!
//! Each service's error maps to one code (`AuthError::code`,
//! `ChatError::code`, `FileError::code`); the session maps everything else
//! a request can fail on. A code never changes once published: clients
//! branch on it (exit codes, retries, resuming). On the wire it is the
//! snake_case string of its variant, exactly as before it was typed.

use std::fmt;
use std::str::FromStr;

use serde::de::IntoDeserializer;
use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::{Deserialize, Serialize};

/// A stable, machine-readable reason in an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // The frame layer: the stream cannot be split into frames any more.
    /// A header over the server's `max_header`.
    HeaderTooLarge,
    /// A body over the server's `max_body` (before login: the guest limit).
    BodyTooLarge,
    /// A header that is empty, not UTF-8, not JSON or not an object.
    BadHeader,
    /// A `"size"` that is not an unsigned integer.
    BadSize,
    /// The stream ended inside a frame.
    TruncatedFrame,
    /// The stream already failed to decode.
    StreamFailed,
    /// Reading or writing the transport failed.
    IoError,
    /// A frame that did not arrive whole within the frame timeout.
    FrameTimeout,
    /// Over the per-address connection cap.
    TooManyConnections,

    // Messages: well framed, but not a request this server can serve.
    /// Missing `"type"`, a bad `"id"`, or fields of the wrong shape.
    BadRequest,
    /// No request of this type (or its family is not offered here).
    UnknownType,
    /// The client's protocol version is too old.
    UnsupportedVersion,
    /// The memory budget (or the login hashing queue) is spent; retry.
    ServerBusy,

    // Accounts.
    /// The request needs a logged-in connection.
    Unauthenticated,
    /// Wrong name or password.
    InvalidCredentials,
    /// The account is locked by its operator.
    AccountLocked,
    /// Too many failed logins; the frame carries `retry_after`.
    TooManyAttempts,
    /// The token is unknown, expired or revoked.
    InvalidToken,
    /// The accounts store failed.
    InternalError,

    // Chat.
    /// A room name that breaks the naming rule.
    BadRoom,
    /// A display name that breaks the naming rule.
    BadName,
    /// The name is in use (or registered to an account).
    NameTaken,
    /// Sent to a room the member has not joined.
    NotInRoom,
    /// The member is in as many rooms as allowed.
    TooManyRooms,
    /// The server holds as many rooms as allowed.
    RoomsFull,
    /// The room's share of a budget is spent.
    RoomQuota,
    /// An empty message.
    Empty,
    /// A message over the length limit.
    TooLong,
    /// The word filter refused the message.
    Blocked,
    /// Faster than the flood limit.
    RateLimited,
    /// The member is no longer connected to the chat.
    Gone,
    /// The history database failed; the message was not stored.
    Store,
    /// The chat hub is shutting down.
    ShuttingDown,
    /// Pushed (with no id) to a member cut off for falling behind.
    SlowConsumer,
    /// `chat.history` with an epoch the room's history no longer has.
    StaleEpoch,

    // Files.
    /// No such file, directory or unfinished upload.
    NotFound,
    /// Exists already, is of the other kind, or is a non-empty directory.
    Conflict,
    /// Another upload of the path runs, or too many transfers are open.
    Busy,
    /// The path breaks a name rule (`wire::path`).
    BadPath,
    /// The user's quota (or unfinished-upload count) is spent.
    QuotaExceeded,
    /// A file, chunk or read over its limit.
    TooLarge,
    /// The server's disk is full; nothing was kept.
    DiskFull,
    /// The content does not hash to what the sender said.
    VerifyFailed,
    /// A chunk or read at the wrong offset; the frame carries `offset`.
    BadOffset,
    /// The file store failed; details are in the server's log.
    Internal,
    /// No transfer with this handle is open on the connection.
    BadHandle,

    // The web door's own.
    /// A state-changing request without the origin or CSRF header.
    Forbidden,

    // Chat, added later.
    /// An edit or delete of a message the room does not hold.
    NoSuchMessage,
    /// An edit or delete by anyone but the message's logged-in author.
    NotAuthor,
    /// An edit or delete after the edit window.
    EditWindow,
    /// An edit or delete of a deleted message.
    MessageDeleted,
    /// A search query with nothing to search for, or over its length limit.
    BadQuery,
}

impl ErrorCode {
    /// The code as it travels: the variant's snake_case name.
    pub const fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            HeaderTooLarge => "header_too_large",
            BodyTooLarge => "body_too_large",
            BadHeader => "bad_header",
            BadSize => "bad_size",
            TruncatedFrame => "truncated_frame",
            StreamFailed => "stream_failed",
            IoError => "io_error",
            FrameTimeout => "frame_timeout",
            TooManyConnections => "too_many_connections",
            BadRequest => "bad_request",
            UnknownType => "unknown_type",
            UnsupportedVersion => "unsupported_version",
            ServerBusy => "server_busy",
            Unauthenticated => "unauthenticated",
            InvalidCredentials => "invalid_credentials",
            AccountLocked => "account_locked",
            TooManyAttempts => "too_many_attempts",
            InvalidToken => "invalid_token",
            InternalError => "internal_error",
            BadRoom => "bad_room",
            BadName => "bad_name",
            NameTaken => "name_taken",
            NotInRoom => "not_in_room",
            TooManyRooms => "too_many_rooms",
            RoomsFull => "rooms_full",
            RoomQuota => "room_quota",
            Empty => "empty",
            TooLong => "too_long",
            Blocked => "blocked",
            RateLimited => "rate_limited",
            Gone => "gone",
            Store => "store",
            ShuttingDown => "shutting_down",
            SlowConsumer => "slow_consumer",
            StaleEpoch => "stale_epoch",
            NotFound => "not_found",
            Conflict => "conflict",
            Busy => "busy",
            BadPath => "bad_path",
            QuotaExceeded => "quota_exceeded",
            TooLarge => "too_large",
            DiskFull => "disk_full",
            VerifyFailed => "verify_failed",
            BadOffset => "bad_offset",
            Internal => "internal",
            BadHandle => "bad_handle",
            Forbidden => "forbidden",
            NoSuchMessage => "no_such_message",
            NotAuthor => "not_author",
            EditWindow => "edit_window",
            MessageDeleted => "message_deleted",
            BadQuery => "bad_query",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code this build does not know (a newer server's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error code {0:?}")]
pub struct UnknownCode(pub String);

impl FromStr for ErrorCode {
    type Err = UnknownCode;

    /// Reads a code through the same serde names it is written with.
    fn from_str(s: &str) -> Result<Self, UnknownCode> {
        let de: StrDeserializer<'_, ValueError> = s.into_deserializer();
        ErrorCode::deserialize(de).map_err(|_| UnknownCode(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code, to check `as_str` against serde's names.
    const ALL: &[ErrorCode] = &[
        ErrorCode::HeaderTooLarge,
        ErrorCode::BodyTooLarge,
        ErrorCode::BadHeader,
        ErrorCode::BadSize,
        ErrorCode::TruncatedFrame,
        ErrorCode::StreamFailed,
        ErrorCode::IoError,
        ErrorCode::FrameTimeout,
        ErrorCode::TooManyConnections,
        ErrorCode::BadRequest,
        ErrorCode::UnknownType,
        ErrorCode::UnsupportedVersion,
        ErrorCode::ServerBusy,
        ErrorCode::Unauthenticated,
        ErrorCode::InvalidCredentials,
        ErrorCode::AccountLocked,
        ErrorCode::TooManyAttempts,
        ErrorCode::InvalidToken,
        ErrorCode::InternalError,
        ErrorCode::BadRoom,
        ErrorCode::BadName,
        ErrorCode::NameTaken,
        ErrorCode::NotInRoom,
        ErrorCode::TooManyRooms,
        ErrorCode::RoomsFull,
        ErrorCode::RoomQuota,
        ErrorCode::Empty,
        ErrorCode::TooLong,
        ErrorCode::Blocked,
        ErrorCode::RateLimited,
        ErrorCode::Gone,
        ErrorCode::Store,
        ErrorCode::ShuttingDown,
        ErrorCode::SlowConsumer,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::Busy,
        ErrorCode::BadPath,
        ErrorCode::QuotaExceeded,
        ErrorCode::TooLarge,
        ErrorCode::DiskFull,
        ErrorCode::VerifyFailed,
        ErrorCode::BadOffset,
        ErrorCode::Internal,
        ErrorCode::BadHandle,
        ErrorCode::Forbidden,
        ErrorCode::NoSuchMessage,
        ErrorCode::NotAuthor,
        ErrorCode::EditWindow,
        ErrorCode::MessageDeleted,
        ErrorCode::BadQuery,
    ];

    #[test]
    fn codes_travel_as_their_snake_case_names() {
        for &code in ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::Value::from(code.as_str()));
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
        }
        let mut names: Vec<_> = ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert_eq!(
            "no_such_code".parse::<ErrorCode>(),
            Err(UnknownCode("no_such_code".into()))
        );
    }
}
