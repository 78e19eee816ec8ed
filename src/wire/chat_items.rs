//! The records the `chat` family's replies and events carry: a message,
//! a member, a room in a list.

use serde::{Deserialize, Serialize};

/// One chat message, as `chat.message` events and `chat.history` carry it.
///
/// Its number in the room is `seq`, not `id`: in a frame header `id` is
/// the request id the frame layer copies into replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The room it was said in.
    pub room: String,
    /// Its number, monotonic per room from 1.
    pub seq: u64,
    /// When it was committed, in Unix milliseconds.
    pub ts: u64,
    /// The sender's name; guests' names start with `~`.
    pub name: String,
    /// True when the sender is a guest (no account).
    pub guest: bool,
    /// The text, sanitised and filtered.
    pub text: String,
}

/// One member, as `chat.who` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMember {
    /// Display name (`~name` for guests).
    pub name: String,
    /// The door they use: `frame`, `line`, `udp` or `web`.
    pub door: String,
    /// True for a guest.
    pub guest: bool,
}

/// One room, as `chat.rooms` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRoom {
    /// The room's name.
    pub name: String,
    /// Members in it now.
    pub members: usize,
    /// Number of its last message (0 when none).
    pub last_seq: u64,
}

/// One conversation in an account's reading, as `chat.dms` and
/// `chat.unread` list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatConversation {
    /// The room, or the direct conversation (`@a+b`).
    pub room: String,
    /// For a direct conversation, the other account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
    /// Its last seq (0 when it has no messages).
    pub last_seq: u64,
    /// When its last message was sent, Unix milliseconds (0 if none).
    pub ts: u64,
    /// The last seq this account read (0: none).
    pub read: u64,
    /// Messages after `read`, not this account's own; 100 means 100 or
    /// more ("99+").
    pub unread: u64,
    /// Of those, the ones that mention `@you`; capped at 100 too.
    pub mentions: u64,
}
