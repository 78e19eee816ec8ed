//! The `login` family: log in, resume a session, log out, ask who you are.
//!
//! The messages only; the rules (hashing, throttling, tokens) live in
//! `service::accounts` and the per-connection state in `session`.

use serde::{Deserialize, Serialize};

use super::code::ErrorCode;
use super::frame::Frame;
use super::message::{MessageError, from_header, to_frame};

/// Error code for a request that needs a logged-in connection.
pub const UNAUTHENTICATED: ErrorCode = ErrorCode::Unauthenticated;

/// Longest password, in bytes. Hashing cost grows with the input, so a
/// login with a longer password is refused before hashing, cheaply; 1024
/// bytes leaves room for any passphrase. The client refuses one too, before
/// sending it.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A request of the `login` family; the frame's `"type"` names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthRequest {
    /// `login`: a name and password for a session token.
    Login {
        /// The account name (compared after Unicode NFC, ignoring case).
        name: String,
        /// The password, in the header: protect it with TLS off loopback.
        password: String,
    },
    /// `resume`: adopt an existing session on this connection.
    Resume {
        /// The token a previous `login` returned.
        token: String,
    },
    /// `logout`: revoke this connection's session token.
    Logout {},
    /// `whoami`: which account this connection speaks for.
    Whoami {},
    /// `passwd`: change this account's password; every other session of
    /// the account ends, this one stays.
    Passwd {
        /// The current password, checked (and throttled) as at `login`.
        password: String,
        /// The new password (8 to 1,024 bytes).
        new_password: String,
    },
}

impl AuthRequest {
    /// Reads a request of this family out of a frame.
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        from_header(frame)
    }

    /// A frame carrying this request.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        to_frame(self, id)
    }
}

/// A successful reply of the `login` family; failures are `error` frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthReply {
    /// `login`: the session now belongs to `user`.
    Login {
        /// The account name as registered.
        user: String,
        /// The session token (64 hex digits): present it with `resume` on
        /// later connections. Shown once; the server keeps only its hash.
        token: String,
        /// When the session ends, in Unix seconds.
        expires: u64,
    },
    /// `resume`: the connection now speaks for `user`.
    Resume {
        /// The account name as registered.
        user: String,
        /// When the session ends, in Unix seconds.
        expires: u64,
    },
    /// `logout`: the token is revoked and the connection is anonymous again.
    Logout {},
    /// `whoami`: the account this connection speaks for.
    Whoami {
        /// The account name as registered.
        user: String,
        /// When the session ends, in Unix seconds.
        expires: u64,
    },
    /// `passwd`: the new password is in force.
    Passwd {
        /// How many other sessions of the account were ended.
        ended: u64,
    },
}

impl AuthReply {
    /// Reads a reply of this family out of a frame.
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        from_header(frame)
    }

    /// A frame carrying this reply.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        to_frame(self, id)
    }
}
