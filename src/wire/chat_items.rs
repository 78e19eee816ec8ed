//! The records the `chat` family's replies and events carry: a message
//! (or an edit or delete of one), a member, a room and a direct-message
//! conversation in a list.

use serde::{Deserialize, Serialize};

/// One chat message, as `chat.message` events and `chat.history` carry it.
///
/// Its number in the room is `seq`, not `id`: in a frame header `id` is
/// the request id the frame layer copies into replies. An edit or a
/// delete is a message of its own (with `kind` and `target`), numbered in
/// the same log, so history and catch-up replay it exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The room it was said in (`@alice+bob` for a direct conversation).
    pub room: String,
    /// Its number, monotonic per room from 1.
    pub seq: u64,
    /// When it was committed, in Unix milliseconds.
    pub ts: u64,
    /// The sender's name; guests' names start with `~`.
    pub name: String,
    /// True when the sender is a guest (no account).
    pub guest: bool,
    /// The text, sanitised and filtered (empty for a delete).
    pub text: String,
    /// Absent for a plain message; `edit` (message `target` now reads
    /// `text`) or `delete` (message `target` is withdrawn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The seq of the message an edit or delete applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<u64>,
    /// The account names `@mentioned` in the text (lowercase, each once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
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
    /// When its last message was committed, Unix milliseconds (0: none).
    #[serde(default)]
    pub last_ts: u64,
    /// Its topic (empty when none was set).
    #[serde(default)]
    pub topic: String,
    /// The asking account's read marker in it (0: nothing read).
    #[serde(default)]
    pub read_seq: u64,
    /// Messages of others above `read_seq`.
    #[serde(default)]
    pub unread: u64,
    /// Of those, how many mention the asking account.
    #[serde(default)]
    pub mentions: u64,
}

/// One direct conversation of the asking account, as `chat.dms` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatDm {
    /// The conversation's name, `@a+b` (the two account names, sorted).
    pub room: String,
    /// The other account's name.
    pub with: String,
    /// Number of its last message.
    pub last_seq: u64,
    /// When its last message was committed, Unix milliseconds.
    pub last_ts: u64,
    /// The asking account's read marker in it.
    pub read_seq: u64,
    /// Messages of the other account above `read_seq`.
    pub unread: u64,
}
