//! What the hub delivers to members: messages, presence changes, and the
//! final notice that a member was cut off.
//!
//! Events hold `Arc`s: one message fanned out to 1,000 members is one
//! allocation and 1,000 pointer copies. Each carries a render cache: a door
//! encodes it with its [`Renderer`], once per event, not once per member.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use super::render::{RenderCache, RenderSlot};

/// Identifies one connected member inside a hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The way a member came in, shown by `who`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DoorKind {
    /// The sockit frame protocol (CLI, Python client).
    Frame,
    /// The nc/telnet line door.
    Line,
    /// The UDP JSON datagram door.
    Datagram,
    /// The web door (browser).
    Web,
}

impl DoorKind {
    /// Its name on the wire and in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            DoorKind::Frame => "frame",
            DoorKind::Line => "line",
            DoorKind::Datagram => "udp",
            DoorKind::Web => "web",
        }
    }
}

impl fmt::Display for DoorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event in a member's queue.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message committed to history in a room the member is in.
    Message(Arc<Message>),
    /// Someone joined, left or renamed in a room the member is in.
    Presence(Arc<Presence>),
    /// The member fell too far behind and was cut off: nothing more comes.
    /// The door tells the client why and disconnects it.
    Dropped,
    /// The member's account moved its read marker in a conversation, from
    /// another session (see `reads`): doors that show counts update them.
    Read(Arc<super::reads::ReadMark>),
}

/// A committed chat message.
#[derive(Debug)]
pub struct Message {
    /// The room it was said in.
    pub room: Arc<str>,
    /// Its id, monotonic per room, starting at 1.
    pub id: u64,
    /// When it was committed, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// Sender's display name (`~name` for guests).
    pub name: Arc<str>,
    /// True when the sender was a guest.
    pub guest: bool,
    /// The text, sanitised and filtered.
    pub text: String,
    /// The session that sent it, when it was sent live on this hub (`None`
    /// for history), so a door can skip echoing a member's own message.
    pub origin: Option<SessionId>,
    /// What it is in the room's log: a message (as first said, edited or
    /// deleted since), or an edit or delete of an earlier one.
    pub revision: Revision,
    pub(super) cache: RenderCache,
}

/// What one entry of a room's log is. Edits and deletes are entries of
/// their own (a seq each), so catch-up after a seq replays them in order;
/// the entry they change is rewritten in the same transaction, so history
/// shows it as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Revision {
    /// A message, never changed.
    #[default]
    Original,
    /// A message whose text a later edit replaced (history shows the new text).
    Edited,
    /// A message deleted since: its text is gone.
    Deleted,
    /// An edit of the message with this seq; the text is its new text.
    Edit(u64),
    /// The deletion of the message with this seq; no text.
    Delete(u64),
    /// The room's topic set to the text (cleared when empty).
    Topic,
}

impl Revision {
    /// How the stores keep it: a kind number and a target seq (0 for the
    /// first three).
    pub fn to_row(self) -> (i16, u64) {
        match self {
            Revision::Original => (0, 0),
            Revision::Edited => (1, 0),
            Revision::Deleted => (2, 0),
            Revision::Edit(t) => (3, t),
            Revision::Delete(t) => (4, t),
            Revision::Topic => (5, 0),
        }
    }

    /// Reads a stored kind and target back (an unknown kind, written by a
    /// newer node, reads as an original message).
    pub fn from_row(kind: i64, target: u64) -> Revision {
        match kind {
            1 => Revision::Edited,
            2 => Revision::Deleted,
            3 => Revision::Edit(target),
            4 => Revision::Delete(target),
            5 => Revision::Topic,
            _ => Revision::Original,
        }
    }

    /// True for an entry that is not a message (an edit, a delete, a
    /// topic): text doors show it as a notice.
    pub fn is_entry(self) -> bool {
        matches!(
            self,
            Revision::Edit(_) | Revision::Delete(_) | Revision::Topic
        )
    }

    /// The seq this entry edits or deletes, if it is an edit or a delete.
    pub fn target(self) -> Option<u64> {
        match self {
            Revision::Edit(t) | Revision::Delete(t) => Some(t),
            _ => None,
        }
    }
}

impl Message {
    /// Builds a message (for hub implementations and history).
    pub fn new(
        room: Arc<str>,
        id: u64,
        ts: u64,
        name: Arc<str>,
        guest: bool,
        text: String,
        origin: Option<SessionId>,
    ) -> Message {
        Message {
            room,
            id,
            ts,
            name,
            guest,
            text,
            origin,
            revision: Revision::Original,
            cache: RenderCache::default(),
        }
    }

    /// The same message as another kind of log entry (see [`Revision`]).
    pub fn with_revision(mut self, revision: Revision) -> Message {
        self.revision = revision;
        self
    }

    /// The line a text door shows for it, without the sender (see
    /// [`shown_text`](crate::wire::shown_text)).
    pub fn display_text(&self) -> std::borrow::Cow<'_, str> {
        crate::wire::shown_text(
            self.revision.wire_kind(),
            self.revision.target(),
            &self.text,
        )
    }
}

impl Message {
    /// The message as `renderer` encodes it, encoded the first time only.
    pub fn render<R: Renderer + ?Sized>(&self, renderer: &R) -> Bytes {
        self.cache
            .get_or(renderer.slot(), || renderer.message(self))
    }
}

/// A door's encoding of chat events, cached per event in its slot (see
/// [`RenderSlot::claim`]). Each door that sends events has one.
pub trait Renderer {
    /// The cache cell this renderer's encodings live in.
    fn slot(&self) -> RenderSlot;
    /// `m` in this door's format.
    fn message(&self, m: &Message) -> Bytes;
    /// `p` in this door's format.
    fn presence(&self, p: &Presence) -> Bytes;
}

/// A change in who is in a room.
#[derive(Debug)]
pub struct Presence {
    /// The room.
    pub room: Arc<str>,
    /// The member's display name (after the change, for a rename).
    pub name: Arc<str>,
    /// True for a guest.
    pub guest: bool,
    /// The door the member uses.
    pub door: DoorKind,
    /// What happened.
    pub change: Change,
    pub(super) cache: RenderCache,
}

impl Presence {
    /// Builds a presence event (for hub implementations).
    pub fn new(
        room: Arc<str>,
        name: Arc<str>,
        guest: bool,
        door: DoorKind,
        change: Change,
    ) -> Presence {
        Presence {
            room,
            name,
            guest,
            door,
            change,
            cache: RenderCache::default(),
        }
    }
}

impl Presence {
    /// Joins and leaves folded into one event (see `herald`): it names no
    /// one member, so `name` is empty and `door` means nothing.
    pub fn summary(room: Arc<str>, fold: super::herald::Summary) -> Presence {
        let name: Arc<str> = Arc::from("");
        Presence::new(
            room,
            name,
            false,
            DoorKind::Frame,
            Change::Summary(Arc::new(fold)),
        )
    }

    /// The folded joins and leaves, if this is a `summary`.
    pub fn summary_of(&self) -> Option<&super::herald::Summary> {
        match &self.change {
            Change::Summary(f) => Some(f),
            _ => None,
        }
    }

    /// The presence change as `renderer` encodes it, the first time only.
    pub fn render<R: Renderer + ?Sized>(&self, renderer: &R) -> Bytes {
        self.cache
            .get_or(renderer.slot(), || renderer.presence(self))
    }

    /// The human sentence, without the `* ` or line end: "alice joined lobby".
    pub fn notice(&self) -> String {
        match &self.change {
            Change::Joined => format!("{} joined {}", self.name, self.room),
            Change::Left => format!("{} left {}", self.name, self.room),
            Change::CutOff => format!("{} was cut off from {} (too slow)", self.name, self.room),
            Change::Renamed(from) => format!("{from} is now known as {}", self.name),
            Change::Typing(_) => format!("{} is typing in {}", self.name, self.room),
            Change::Summary(f) => f.notice(&self.room),
        }
    }

    /// The typist's session, when this is a typing notice.
    pub fn typist(&self) -> Option<SessionId> {
        match self.change {
            Change::Typing(id) => Some(id),
            _ => None,
        }
    }

    /// Its name on the wire: `join`, `leave`, `cutoff`, `rename` or
    /// `summary`.
    pub fn event_name(&self) -> &'static str {
        match self.change {
            Change::Joined => "join",
            Change::Left => "leave",
            Change::CutOff => "cutoff",
            Change::Renamed(_) => "rename",
            Change::Typing(_) => "typing",
            Change::Summary(_) => "summary",
        }
    }

    /// The name the member had before a rename, if this is one.
    pub fn renamed_from(&self) -> Option<&str> {
        match &self.change {
            Change::Renamed(from) => Some(from),
            _ => None,
        }
    }
}

/// The kinds of presence change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The member joined the room.
    Joined,
    /// The member left the room (or disconnected).
    Left,
    /// The member was cut off for falling behind.
    CutOff,
    /// The member changed name; this was the old one.
    Renamed(Arc<str>),
    /// The member (this session) is typing: ephemeral, never stored, not
    /// shown by the line and datagram doors, nor to the typist.
    Typing(SessionId),
    /// Several joins and leaves in one window, folded into one quiet line
    /// (see `herald`).
    Summary(Arc<super::herald::Summary>),
}

/// One member as `who` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Display name (`~name` for guests).
    pub name: Arc<str>,
    /// The door it uses.
    pub door: DoorKind,
    /// True for a guest.
    pub guest: bool,
}

/// One room as `rooms` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    /// The room's name.
    pub name: Arc<str>,
    /// Members in it now.
    pub members: usize,
    /// Id of its last committed message (0 when it has none).
    pub last_id: u64,
    /// Its topic (empty when none).
    pub topic: String,
}
