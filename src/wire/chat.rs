//! The `chat` family: join, leave, send, history (and scroll-back), who,
//! rooms, typing, and the events the server pushes (`chat.message`,
//! `chat.presence`, `chat.typing`).
//!
//! The messages only; the rules live in `service::chat` and the
//! per-connection state in `session`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use super::chat_items::{
    ChatConversation, ChatMember, ChatMessage, ChatRoom, MessageKind, SearchResult, shown_text,
};
use super::code::ErrorCode;
use super::encode::encode_to_vec;
use super::frame::Frame;
use super::message::{MessageError, from_header, to_frame};

/// Type of the event carrying a chat message.
pub const CHAT_MESSAGE: &str = "chat.message";
/// Type of the event carrying a presence change.
pub const CHAT_PRESENCE: &str = "chat.presence";
/// Error code sent (without an id) to a member cut off for falling behind,
/// just before the server closes the connection.
pub const SLOW_CONSUMER: ErrorCode = ErrorCode::SlowConsumer;

/// A request of the `chat` family; the frame's `"type"` names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ChatRequest {
    /// `chat.join`: become a member of `room` (created on first join).
    #[serde(rename = "chat.join")]
    Join {
        /// The room.
        room: String,
    },
    /// `chat.leave`: stop being a member of `room`.
    #[serde(rename = "chat.leave")]
    Leave {
        /// The room.
        room: String,
    },
    /// `chat.send`: say `text` in `room` (a room this connection joined).
    #[serde(rename = "chat.send")]
    Send {
        /// The room.
        room: String,
        /// The message.
        text: String,
        /// An idempotency key (1 to 64 ASCII letters, digits or punctuation,
        /// no spaces; e.g. a random hex string per message): a resend with
        /// the same key, after a lost reply, is answered with the original
        /// `seq` instead of posting twice.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// `chat.history`: the last `last` messages, or those after the
    /// message numbered `after` (a reconnecting client's last `seq`).
    #[serde(rename = "chat.history")]
    History {
        /// The room.
        room: String,
        /// The last N messages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last: Option<usize>,
        /// Messages numbered above this one, oldest first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<u64>,
        /// Scroll-back: the `last` (or a page of) messages numbered below
        /// this one, oldest first; `more` tells whether older ones exist.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        /// The room's epoch the client last saw (from `chat.join` or
        /// `chat.history`): when the room's differs, the answer is the
        /// error `stale_epoch` instead of a page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<String>,
    },
    /// `chat.who`: the members of `room`, across every door.
    #[serde(rename = "chat.who")]
    Who {
        /// The room.
        room: String,
    },
    /// `chat.rooms`: every room, with its member count and last id.
    #[serde(rename = "chat.rooms")]
    Rooms {},
    /// `chat.typing`: this member is typing in `room` (send at most once
    /// every 3 seconds while typing; it expires after 6).
    #[serde(rename = "chat.typing")]
    Typing {
        /// The room or direct conversation.
        room: String,
    },
    /// `chat.dm`: open (join) the direct conversation with account `to`.
    #[serde(rename = "chat.dm")]
    Dm {
        /// The other account's name.
        to: String,
    },
    /// `chat.dms`: my direct conversations, newest first, with counts.
    #[serde(rename = "chat.dms")]
    Dms {},
    /// `chat.read`: I have read `room` up to `seq` (never moves back).
    #[serde(rename = "chat.read")]
    Read {
        /// The room or direct conversation.
        room: String,
        /// The last seq read.
        seq: u64,
    },
    /// `chat.unread`: my read marker and counts in each of `rooms`.
    #[serde(rename = "chat.unread")]
    Unread {
        /// Rooms or direct conversations (at most 64 are counted).
        rooms: Vec<String>,
    },
    /// `chat.edit`: replace the text of one's own message `seq` in `room`
    /// (within the server's edit window; not a guest's).
    #[serde(rename = "chat.edit")]
    Edit {
        /// The room (joined).
        room: String,
        /// The message to edit.
        seq: u64,
        /// Its new text (checked as a message is).
        text: String,
    },
    /// `chat.delete`: delete one's own message `seq` in `room` (within
    /// the edit window); its text is erased from history and search.
    #[serde(rename = "chat.delete")]
    Delete {
        /// The room (joined).
        room: String,
        /// The message to delete.
        seq: u64,
    },
    /// `chat.topic`: the topic of `room`; with `topic`, set it first (an
    /// account member of the room; empty clears it).
    #[serde(rename = "chat.topic")]
    Topic {
        /// The room (joined, to set it).
        room: String,
        /// The new topic (at most 250 bytes, cleaned as a message).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
    },
    /// `chat.search`: messages containing every word of `q` (the last
    /// also as a prefix), newest first, in the rooms one may read.
    #[serde(rename = "chat.search")]
    Search {
        /// The words (at most 256 bytes, 16 words).
        q: String,
        /// Only this room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// The `before` cursor of the previous page, for the next one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        /// Most results (default 20, at most 100).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
    },
}

impl ChatRequest {
    /// Reads a request of this family out of a frame.
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        from_header(frame)
    }

    /// A frame carrying this request.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        to_frame(self, id)
    }
}

/// A successful reply of the `chat` family; failures are `error` frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ChatReply {
    /// `chat.join`: joined; messages after `last_seq` arrive as events,
    /// those up to it are in history (so nothing is missed or doubled).
    #[serde(rename = "chat.join")]
    Join {
        /// The room's canonical name.
        room: String,
        /// Number of the room's last message at the moment of joining.
        last_seq: u64,
        /// The epoch of the room's history (changes when it is reset).
        epoch: String,
    },
    /// `chat.leave`: left.
    #[serde(rename = "chat.leave")]
    Leave {
        /// The room.
        room: String,
    },
    /// `chat.send`: committed to history, then delivered to the room.
    #[serde(rename = "chat.send")]
    Send {
        /// The room.
        room: String,
        /// The message's number in the room.
        seq: u64,
        /// Its commit time, Unix milliseconds.
        ts: u64,
        /// The text as stored (sanitised and filtered).
        text: String,
    },
    /// `chat.history`: one page, oldest first.
    #[serde(rename = "chat.history")]
    History {
        /// The room.
        room: String,
        /// The messages.
        messages: Vec<ChatMessage>,
        /// True when more exist beyond this page.
        more: bool,
        /// The epoch of the room's history; empty for a room that does not
        /// exist.
        epoch: String,
    },
    /// `chat.who`: the room's members.
    #[serde(rename = "chat.who")]
    Who {
        /// The room.
        room: String,
        /// Its members.
        members: Vec<ChatMember>,
    },
    /// `chat.rooms`: the rooms.
    #[serde(rename = "chat.rooms")]
    Rooms {
        /// The rooms.
        rooms: Vec<ChatRoom>,
    },
    /// `chat.typing`: noted (or dropped, when sooner than 3 s after the
    /// last one).
    #[serde(rename = "chat.typing")]
    Typing {
        /// The room or conversation.
        room: String,
    },
    /// `chat.dm`: joined the direct conversation, as `chat.join` does.
    #[serde(rename = "chat.dm")]
    Dm {
        /// The conversation's name (`@a+b`).
        room: String,
        /// The other account (its name, lowercase).
        with: String,
        /// Its last seq at the moment of joining.
        last_seq: u64,
        /// Its history's epoch.
        epoch: String,
    },
    /// `chat.dms`: the direct conversations with messages.
    #[serde(rename = "chat.dms")]
    Dms {
        /// Newest activity first.
        dms: Vec<ChatConversation>,
    },
    /// `chat.read`: the marker now (the larger of the old and the given).
    #[serde(rename = "chat.read")]
    Read {
        /// The conversation's canonical name.
        room: String,
        /// The last read seq.
        seq: u64,
    },
    /// `chat.unread`: one entry per room asked.
    #[serde(rename = "chat.unread")]
    Unread {
        /// The counts.
        rooms: Vec<ChatConversation>,
    },
    /// `chat.edit` and `chat.delete`: committed as a log entry of its own
    /// (also pushed to the room's members as a `chat.message`).
    #[serde(rename = "chat.edit")]
    Edit(ChatMessage),
    /// `chat.delete`: committed (see `chat.edit`).
    #[serde(rename = "chat.delete")]
    Delete(ChatMessage),
    /// `chat.topic`: the room's topic now (empty when none).
    #[serde(rename = "chat.topic")]
    Topic {
        /// The room.
        room: String,
        /// Its topic.
        topic: String,
    },
    /// `chat.search`: one page of results, newest first.
    #[serde(rename = "chat.search")]
    Search {
        /// The messages found.
        results: Vec<SearchResult>,
        /// Pass as `before` for the next page; absent at the end.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
    },
}

impl ChatReply {
    /// Reads a reply of this family out of a frame.
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        from_header(frame)
    }

    /// A frame carrying this reply.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        to_frame(self, id)
    }
}

/// An event the server pushes (never carries an `id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ChatEvent {
    /// `chat.message`: someone said something in a room you are in.
    #[serde(rename = "chat.message")]
    Message(ChatMessage),
    /// `chat.presence`: someone joined, left, was cut off or renamed.
    #[serde(rename = "chat.presence")]
    Presence {
        /// The room.
        room: String,
        /// The member's name (the new one, for a rename); absent in a
        /// `summary`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        name: String,
        /// True for a guest (false in a `summary`).
        #[serde(default)]
        guest: bool,
        /// The door they use; absent in a `summary`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        door: String,
        /// `join`, `leave`, `cutoff`, `rename`, or `summary` (several joins
        /// and leaves folded into one line).
        event: String,
        /// The old name, for a rename.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// For a `summary`: who joined (at most 20 names).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        joined: Vec<String>,
        /// For a `summary`: how many more joined than `joined` names.
        #[serde(default, skip_serializing_if = "is_zero")]
        others_joined: usize,
        /// For a `summary`: who left (at most 20 names).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        left: Vec<String>,
        /// For a `summary`: how many more left than `left` names.
        #[serde(default, skip_serializing_if = "is_zero")]
        others_left: usize,
        /// The change as a sentence: "alice joined lobby".
        notice: String,
    },
    /// `chat.typing`: someone is typing; forget it after 6 seconds
    /// without another.
    #[serde(rename = "chat.typing")]
    Typing {
        /// The room or conversation.
        room: String,
        /// Who.
        name: String,
        /// True for a guest.
        guest: bool,
    },
    /// `chat.read`: your account read `room` up to `seq` on another
    /// connection.
    #[serde(rename = "chat.read")]
    Read {
        /// The conversation.
        room: String,
        /// The last read seq now.
        seq: u64,
    },
}

impl ChatEvent {
    /// Reads an event out of a frame.
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        from_header(frame)
    }

    /// A frame carrying this event (events have no id).
    pub fn to_frame(&self) -> Frame {
        to_frame(self, None)
    }

    /// The push frame's bytes, ready to write. An event carries at most a
    /// stored message (a few KiB), always within the default limits, so
    /// encoding cannot fail; were it to, the bytes are empty and nothing is
    /// sent.
    pub fn encoded(&self) -> Bytes {
        encode_to_vec(&self.to_frame())
            .map(Bytes::from)
            .unwrap_or_default()
    }

    /// The event as the web door sends it: the frame's header, as JSON text.
    pub fn header_json(&self) -> Bytes {
        Bytes::from(serde_json::Value::Object(self.to_frame().header).to_string())
    }
}

/// True for zero, which a count on the wire leaves out.
fn is_zero(n: &usize) -> bool {
    *n == 0
}
