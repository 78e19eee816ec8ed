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
    /// The text, sanitised and filtered (empty for a deleted message and
    /// a delete entry).
    pub text: String,
    /// Absent for a message as first said; otherwise what this entry is
    /// (see [`MessageKind`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MessageKind>,
    /// For an `edit` or `delete` entry: the seq of the message it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<u64>,
}

/// What a `chat.message` is, when not a message as first said. Edits and
/// deletes are entries of the room's log with their own seq, so a client
/// following a room applies them in order: an `edit` entry replaces the
/// text of message `target` with its own, a `delete` entry blanks it.
/// History returns the messages already changed (`edited`, `deleted`)
/// as well as the entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// A message whose text was edited since (the text is the new one).
    Edited,
    /// A message deleted since (no text).
    Deleted,
    /// An edit of message `target`; the text is its new text.
    Edit,
    /// The deletion of message `target`.
    Delete,
    /// The room's topic set to `text` (cleared when empty).
    Topic,
}

impl ChatMessage {
    /// True for an `edit` or `delete` entry (shown as a notice, not as a
    /// message of its sender).
    pub fn is_change(&self) -> bool {
        matches!(
            self.kind,
            Some(MessageKind::Edit | MessageKind::Delete | MessageKind::Topic)
        )
    }

    /// The text a text client shows (see [`shown_text`]).
    pub fn shown(&self) -> std::borrow::Cow<'_, str> {
        shown_text(self.kind, self.target, &self.text)
    }
}

/// The text a text client shows for an entry: the text, marked
/// "(edited)" when edited; "(message deleted)"; or what an entry did,
/// "edited #12: new text" or "deleted #12". Every text door shows entries
/// this way, so a terminal, nc and the CLI read alike.
pub fn shown_text(
    kind: Option<MessageKind>,
    target: Option<u64>,
    text: &str,
) -> std::borrow::Cow<'_, str> {
    let t = target.unwrap_or(0);
    match kind {
        None => text.into(),
        Some(MessageKind::Edited) => format!("{text} (edited)").into(),
        Some(MessageKind::Deleted) => "(message deleted)".into(),
        // An edit of a message deleted since has lost its text too.
        Some(MessageKind::Edit) if text.is_empty() => format!("edited #{t}").into(),
        Some(MessageKind::Edit) => format!("edited #{t}: {text}").into(),
        Some(MessageKind::Delete) => format!("deleted #{t}").into(),
        Some(MessageKind::Topic) if text.is_empty() => "cleared the topic".into(),
        Some(MessageKind::Topic) => format!("set the topic: {text}").into(),
    }
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
    /// Its topic (absent when none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub topic: String,
}

/// One message `chat.search` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    /// Its room.
    pub room: String,
    /// Its seq there: `chat.history` with `before` = seq + 1 shows it in
    /// context.
    pub seq: u64,
    /// Its commit time, Unix milliseconds.
    pub ts: u64,
    /// Its sender.
    pub name: String,
    /// True when a guest sent it.
    pub guest: bool,
    /// Up to 160 characters of its text around the first word found.
    pub text: String,
    /// True when edited since it was sent (the text found is the new one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub edited: bool,
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
