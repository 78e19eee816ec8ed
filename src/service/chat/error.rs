//! Why the hub refused a request: one line naming the cause and the fix,
//! which every door shows as a notice, plus a stable code for the wire.

use std::sync::Arc;
use std::time::Duration;

use crate::wire::ErrorCode;

/// A refused chat request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChatError {
    /// The room name breaks the room rule.
    #[error("bad room name {name:?}: {why}")]
    BadRoom {
        /// The name as given (sanitised for display).
        name: String,
        /// Which part of the rule it breaks.
        why: &'static str,
    },
    /// The member name breaks the name rule.
    #[error("bad name {name:?}: {why}")]
    BadName {
        /// The name as given (sanitised for display).
        name: String,
        /// Which part of the rule it breaks.
        why: &'static str,
    },
    /// An online guest already uses the name.
    #[error("the name {0} is taken; pick another")]
    NameTaken(String),
    /// The name belongs to a registered account. A guest is told exactly
    /// what [`ChatError::NameTaken`] tells it (same text, same code), so
    /// trying names reveals no accounts; the variant stays apart for logs.
    #[error("the name {0} is taken; pick another")]
    NameRegistered(String),
    /// The member is not in the room it addressed.
    #[error("you are not in room {0}; join it first")]
    NotInRoom(String),
    /// The member is in as many rooms as allowed.
    #[error("you are in {0} rooms already, the most allowed; leave one first")]
    TooManyRooms(usize),
    /// The server holds as many rooms as allowed.
    #[error("the server holds {0} rooms, its limit; join an existing room (/rooms lists them)")]
    RoomsFull(usize),
    /// This address created as many new rooms as allowed for now.
    #[error("too many new rooms from your address; join an existing room or try again in {:.0} s", .retry_after.as_secs_f64().ceil())]
    RoomQuota {
        /// When the next creation would be accepted.
        retry_after: Duration,
    },
    /// Nothing left to say after sanitising.
    #[error("empty message; type some text")]
    Empty,
    /// The message is longer than the limit.
    #[error("message of {len} bytes is over the {max}-byte limit; send a shorter one")]
    TooLong {
        /// Its length in UTF-8 bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The word filter blocks a word in the message.
    #[error("message refused: the word {0:?} is not allowed here")]
    Blocked(String),
    /// The member sends faster than the flood limit.
    #[error("slow down: too many messages; try again in {:.1} s", .retry_after.as_secs_f64())]
    RateLimited {
        /// When the next message would be accepted.
        retry_after: Duration,
    },
    /// The member was cut off (its queue filled) or has disconnected.
    #[error("you are no longer connected to the chat; reconnect")]
    Gone,
    /// The idempotency key breaks the key rule.
    #[error("bad idempotency key: give 1 to {0} ASCII letters, digits or punctuation, no spaces")]
    BadKey(usize),
    /// The history database failed; the message was not stored.
    #[error("chat history database: {0}; the message was not stored, try again")]
    Store(Arc<str>),
    /// The hub is shutting down.
    #[error("chat is shutting down; reconnect in a moment")]
    ShuttingDown,
    /// A history request named an epoch the room's history no longer has.
    #[error(
        "the history of room {0} was reset since you read it; reload it from the start \
         (ask for the last messages, without after or epoch)"
    )]
    StaleEpoch(String),
    /// A guest asked for a direct message (see `dm`).
    #[error(
        "direct messages and read markers belong to accounts; log in first (sockit login, or the page's login)"
    )]
    DmNeedsAccount,
    /// A direct message to a name no account holds.
    #[error("no account is called {0}; check the name (sockit chat, /who lists who is online)")]
    DmNoAccount(String),
    /// A direct message to an account its operator locked.
    #[error("the account {0} is locked; your message was not sent")]
    DmLocked(String),
    /// The account started as many direct conversations as allowed.
    #[error("you started {0} direct conversations, the most allowed; write in one you have")]
    DmQuota(usize),
    /// An edit or delete of a message the room's history does not hold
    /// (never sent, pruned, or an edit entry rather than a message).
    #[error("room {0} has no message #{1} to change; check the seq in its history")]
    NoSuchMessage(String, u64),
    /// An edit or delete by someone other than the message's author (or
    /// by a guest: guest names are not identities).
    #[error(
        "message #{0} is not yours to change; only its author, logged in, may edit or delete it"
    )]
    NotAuthor(u64),
    /// An edit or delete of a message said under the asker's name by an
    /// earlier account of that name (deleted since, the name registered
    /// again): the same code as [`ChatError::NotAuthor`].
    #[error(
        "message #{0} was said by an earlier account of your name, deleted since; \
         only the account that said it may edit or delete it"
    )]
    EarlierAccount(u64),
    /// An edit or delete after the edit window.
    #[error(
        "message #{seq} is older than the {}-minute edit window; send a new message instead",
        .window.as_secs().div_ceil(60)
    )]
    EditWindow {
        /// The message.
        seq: u64,
        /// The window the server allows.
        window: Duration,
    },
    /// An edit or delete of a deleted message.
    #[error("message #{0} was deleted; it cannot be changed any more")]
    MessageDeleted(u64),
    /// A search query with nothing to search for or over a limit; the
    /// text names which and the fix.
    #[error("bad search: {0}")]
    BadQuery(String),
    /// A guest tried to set a room's topic.
    #[error("guests cannot set a room's topic; log in to an account first")]
    TopicNeedsAccount,
}

impl ChatError {
    /// A stable machine-readable code for wire replies.
    pub fn code(&self) -> ErrorCode {
        match self {
            ChatError::BadRoom { .. } => ErrorCode::BadRoom,
            ChatError::BadName { .. } => ErrorCode::BadName,
            ChatError::NameTaken(_) => ErrorCode::NameTaken,
            // Not "name_registered": that would tell guests who has an account.
            ChatError::NameRegistered(_) => ErrorCode::NameTaken,
            ChatError::NotInRoom(_) => ErrorCode::NotInRoom,
            ChatError::TooManyRooms(_) => ErrorCode::TooManyRooms,
            ChatError::RoomsFull(_) => ErrorCode::RoomsFull,
            ChatError::RoomQuota { .. } => ErrorCode::RoomQuota,
            ChatError::Empty => ErrorCode::Empty,
            ChatError::TooLong { .. } => ErrorCode::TooLong,
            ChatError::Blocked(_) => ErrorCode::Blocked,
            ChatError::RateLimited { .. } => ErrorCode::RateLimited,
            ChatError::Gone => ErrorCode::Gone,
            ChatError::BadKey(_) => ErrorCode::BadRequest,
            ChatError::Store(_) => ErrorCode::Store,
            ChatError::ShuttingDown => ErrorCode::ShuttingDown,
            ChatError::StaleEpoch(_) => ErrorCode::StaleEpoch,
            ChatError::DmNeedsAccount => ErrorCode::Unauthenticated,
            ChatError::DmNoAccount(_) => ErrorCode::NotFound,
            ChatError::DmLocked(_) => ErrorCode::AccountLocked,
            ChatError::DmQuota(_) => ErrorCode::RoomQuota,
            ChatError::NoSuchMessage(..) => ErrorCode::NoSuchMessage,
            ChatError::NotAuthor(_) | ChatError::EarlierAccount(_) => ErrorCode::NotAuthor,
            ChatError::EditWindow { .. } => ErrorCode::EditWindow,
            ChatError::MessageDeleted(_) => ErrorCode::MessageDeleted,
            ChatError::BadQuery(_) => ErrorCode::BadQuery,
            ChatError::TopicNeedsAccount => ErrorCode::NotAuthor,
        }
    }
}
