//! The hub's interface: what every door calls, and nothing else.
//!
//! [`ChatHub`] is object-safe (its async methods return boxed futures), so
//! the server holds one `Arc<dyn ChatHub>` and every door takes it without
//! a type parameter; a multi-node hub (a NATS subject per room, history in
//! PostgreSQL) can replace [`LocalHub`](super::LocalHub) by implementing
//! the same nine methods. One box per call is noise next to a commit, and
//! the hot path, delivery, does not go through the trait at all: members
//! read their [`Inbox`] directly.
//!
//! Doors normally use [`Session`], which carries the hub and the member's
//! id and disconnects the member when dropped.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use super::edit::Amend;
use super::error::ChatError;
use super::event::{DoorKind, MemberInfo, Message, RoomInfo, SessionId};
use super::history::{HistoryPage, HistoryQuery};
use super::inbox::Inbox;
use super::names::Identity;
use super::reads::Conversation;
use super::search::{SearchPage, SearchQuery};

/// What the hub's async methods return.
pub type HubFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ChatError>> + Send + 'a>>;

/// A newly connected member.
#[derive(Debug)]
pub struct Connected {
    /// Its id, for every later call.
    pub id: SessionId,
    /// Its display name (`~name` for a guest).
    pub name: Arc<str>,
    /// The events for it: messages and presence in its rooms.
    pub inbox: Inbox,
}

/// The answer to a join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The room's normalised name.
    pub room: Arc<str>,
    /// The id of the last message committed before the join took effect:
    /// every message after it arrives in the inbox, every one up to it is
    /// in history. A reconnecting client that saw up to id `k` asks for
    /// [`HistoryQuery::After`]`(k)` until it reaches `last_id`, and misses
    /// nothing and sees nothing twice.
    pub last_id: u64,
    /// The epoch of the room's history: it changes when the history is
    /// reset (the room forgotten and created again, its ids restarting),
    /// so a client whose last id belongs to another epoch knows to reload
    /// instead of asking for messages after an id that means nothing now.
    pub epoch: Arc<str>,
}

/// A room hub: rooms, members, presence, publish and history.
pub trait ChatHub: Send + Sync {
    /// Admits a member under `who`'s name, with its own bounded queue.
    /// `peer` is the address it connects from (`None` for Unix sockets
    /// and in-process members): members from one address share its
    /// budgets for guest messages and room creation.
    fn connect(
        &self,
        who: Identity,
        door: DoorKind,
        peer: Option<IpAddr>,
    ) -> HubFuture<'_, Connected>;
    /// Puts the member in `room` (created on first join, within the
    /// room limits); joining a room it is already in is not an error. Its
    /// members see a join event. A join costs a token of the member's
    /// flood allowance, as a message does.
    fn join<'a>(&'a self, id: SessionId, room: &'a str) -> HubFuture<'a, Joined>;
    /// Takes the member out of `room`; its members see a leave event,
    /// unless the member is over its flood allowance (the leave happens,
    /// its announcement is dropped).
    fn leave<'a>(&'a self, id: SessionId, room: &'a str) -> HubFuture<'a, ()>;
    /// Sanitises, limits and filters a message to a room the member is in,
    /// and queues it for commit; refusals (rate, filter, length) come back
    /// here. The [`Ticket`] resolves only once the message is committed and
    /// queued for every member of the room (the sender included: compare
    /// [`Message::origin`]); nobody sees it before the commit.
    fn submit<'a>(&'a self, id: SessionId, room: &'a str, text: &'a str) -> HubFuture<'a, Ticket>;
    /// [`ChatHub::submit`] with an idempotency key: a message whose key the
    /// same sender already used in the room (within
    /// [`KEY_TTL`](super::KEY_TTL)) is not posted again; its ticket gives
    /// the original message (its seq), and nobody sees it twice.
    fn submit_keyed<'a>(
        &'a self,
        id: SessionId,
        room: &'a str,
        text: &'a str,
        key: Option<&'a str>,
    ) -> HubFuture<'a, Ticket>;
    /// Posts a message from a guest who is not a member: an unverified
    /// datagram source, which must never join, hold a name or cause
    /// presence. The name follows the guest rules and may be neither an
    /// account's nor an online guest's; the room must exist (have members
    /// or history), except the default room. The caller paces the poster:
    /// there is no member whose flood bucket this could take from.
    fn post_unjoined<'a>(
        &'a self,
        name: &'a str,
        room: &'a str,
        text: &'a str,
    ) -> HubFuture<'a, Ticket>;
    /// Changes the member's identity: `/nick` (a guest name) or a login
    /// (an authenticated account name). Returns the new display name; its
    /// rooms see a rename event. Each attempt costs a flood token.
    fn rename(&self, id: SessionId, who: Identity) -> HubFuture<'_, Arc<str>>;
    /// One page of a room's history.
    fn history<'a>(&'a self, room: &'a str, query: HistoryQuery) -> HubFuture<'a, HistoryPage>;
    /// The members of `room` now, across all doors, sorted by name.
    fn who<'a>(&'a self, room: &'a str) -> HubFuture<'a, Vec<MemberInfo>>;
    /// Rooms with members or history, sorted by name (at most
    /// [`ROOM_LIST_MAX`](super::ROOM_LIST_MAX)), read from history for the
    /// rooms not in memory.
    fn rooms(&self) -> HubFuture<'_, Vec<RoomInfo>>;
    /// Tells the room's other members that this member is typing: at most
    /// once per [`TYPING_EVERY`](super::TYPING_EVERY) per room (sooner ones
    /// are dropped and still succeed); `NotInRoom` unless it is in it.
    fn typing<'a>(&'a self, id: SessionId, room: &'a str) -> HubFuture<'a, ()>;
    /// Lets the member go: it leaves every room and frees its name. Not
    /// async, so that it can run from `Drop`.
    fn disconnect(&self, id: SessionId);
    /// One page of a conversation's history for member `id`: a room, or
    /// its own direct conversation (`@other` or `@a+b`), which
    /// [`ChatHub::history`] never reads.
    fn history_for<'a>(
        &'a self,
        id: SessionId,
        room: &'a str,
        query: HistoryQuery,
    ) -> HubFuture<'a, HistoryPage>;
    /// [`ChatHub::who`] for member `id`, which may name its own direct
    /// conversations.
    fn who_for<'a>(&'a self, id: SessionId, room: &'a str) -> HubFuture<'a, Vec<MemberInfo>>;
    /// The member's direct conversations with messages, newest activity
    /// first, with its read marker and counts in each (accounts only).
    fn dms(&self, id: SessionId) -> HubFuture<'_, Vec<Conversation>>;
    /// The member's read marker and counts in each of `rooms` (the first
    /// [`UNREAD_ROOMS_MAX`](super::UNREAD_ROOMS_MAX); accounts only).
    fn unread(&self, id: SessionId, rooms: Vec<String>) -> HubFuture<'_, Vec<Conversation>>;
    /// Moves the member's account's read marker in `room` forward to
    /// `seq` (never back, never past the last message); its other
    /// sessions, on every node, get an [`Event::Read`](super::Event::Read).
    /// Returns the room's canonical name and the marker now.
    fn mark_read<'a>(
        &'a self,
        id: SessionId,
        room: &'a str,
        seq: u64,
    ) -> HubFuture<'a, (Arc<str>, u64)>;
    /// Edits or deletes message `seq` of `room`, which the member is in:
    /// only the message's author (an account, not a guest), within the
    /// edit window, and not once deleted. An edit's text goes through every
    /// check a message does, and each attempt costs a flood token. The
    /// change is a log entry of its own (see [`Revision`](super::Revision)):
    /// the ticket gives it, once committed and fanned out.
    fn amend<'a>(
        &'a self,
        id: SessionId,
        room: &'a str,
        seq: u64,
        change: Amend,
    ) -> HubFuture<'a, Ticket>;
    /// Searches the history of the rooms `who` may read (see
    /// [`may_read`](super::may_read)), newest first: access is decided
    /// from the identity the member connected as, never from a display
    /// name (a guest called `ann` is not the account `ann`).
    fn search<'a>(&'a self, who: &'a Identity, query: SearchQuery) -> HubFuture<'a, SearchPage>;
    /// The topic of `room` (empty when it has none); set it with
    /// [`ChatHub::amend`] and [`Amend::Topic`].
    fn topic<'a>(&'a self, room: &'a str) -> HubFuture<'a, String>;
}

/// A message accepted by [`ChatHub::submit`]: checked, cleaned and queued
/// for commit. Awaiting [`Ticket::ack`] gives the committed message (with
/// its number), once it is in history and in every member's queue.
///
/// Tickets let one door keep several messages in flight (a pasted block of
/// lines, a fast publisher) while their order is kept: messages are
/// committed in the order they were submitted.
#[derive(Debug)]
pub struct Ticket(pub tokio::sync::oneshot::Receiver<Result<Arc<Message>, ChatError>>);

impl Ticket {
    /// Waits for the commit.
    pub async fn ack(self) -> Result<Arc<Message>, ChatError> {
        self.0.await.map_err(|_| ChatError::ShuttingDown)?
    }

    /// The outcome if already known, without waiting; `Err(self)` if not.
    pub fn try_ack(mut self) -> Result<Result<Arc<Message>, ChatError>, Ticket> {
        match self.0.try_recv() {
            Ok(r) => Ok(r),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => Err(self),
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                Ok(Err(ChatError::ShuttingDown))
            }
        }
    }
}

/// A member's handle: the hub plus its id. Dropping it disconnects.
pub struct Session {
    hub: Arc<dyn ChatHub>,
    id: SessionId,
    name: Arc<str>,
    /// Who the member connected (or last renamed) as: what decides which
    /// rooms its searches may read.
    who: Identity,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}

impl Session {
    /// Connects to `hub` as `who` through `door`, from no address (Unix
    /// sockets, in-process): the handle, and the inbox its door drains.
    pub async fn open(
        hub: Arc<dyn ChatHub>,
        who: Identity,
        door: DoorKind,
    ) -> Result<(Session, Inbox), ChatError> {
        Session::open_from(hub, who, door, None).await
    }

    /// Connects to `hub` as `who` through `door` from `peer`, whose
    /// per-address budgets the member then shares (see [`ChatHub::connect`]).
    pub async fn open_from(
        hub: Arc<dyn ChatHub>,
        who: Identity,
        door: DoorKind,
        peer: Option<IpAddr>,
    ) -> Result<(Session, Inbox), ChatError> {
        let c = hub.connect(who.clone(), door, peer).await?;
        let s = Session {
            hub,
            id: c.id,
            name: c.name,
            who,
        };
        Ok((s, c.inbox))
    }

    /// The member's id.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The member's display name now.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The hub, for calls that need no member (history, who, rooms).
    pub fn hub(&self) -> &Arc<dyn ChatHub> {
        &self.hub
    }

    /// See [`ChatHub::join`].
    pub async fn join(&self, room: &str) -> Result<Joined, ChatError> {
        self.hub.join(self.id, room).await
    }

    /// See [`ChatHub::history_for`].
    pub async fn history(&self, room: &str, query: HistoryQuery) -> Result<HistoryPage, ChatError> {
        self.hub.history_for(self.id, room, query).await
    }

    /// See [`ChatHub::who_for`].
    pub async fn who(&self, room: &str) -> Result<Vec<MemberInfo>, ChatError> {
        self.hub.who_for(self.id, room).await
    }

    /// See [`ChatHub::dms`].
    pub async fn dms(&self) -> Result<Vec<Conversation>, ChatError> {
        self.hub.dms(self.id).await
    }

    /// See [`ChatHub::unread`].
    pub async fn unread(&self, rooms: Vec<String>) -> Result<Vec<Conversation>, ChatError> {
        self.hub.unread(self.id, rooms).await
    }

    /// See [`ChatHub::mark_read`].
    pub async fn mark_read(&self, room: &str, seq: u64) -> Result<(Arc<str>, u64), ChatError> {
        self.hub.mark_read(self.id, room, seq).await
    }

    /// See [`ChatHub::typing`].
    pub async fn typing(&self, room: &str) -> Result<(), ChatError> {
        self.hub.typing(self.id, room).await
    }

    /// See [`ChatHub::amend`]; waits for the commit.
    pub async fn amend(
        &self,
        room: &str,
        seq: u64,
        change: Amend,
    ) -> Result<Arc<Message>, ChatError> {
        self.hub
            .amend(self.id, room, seq, change)
            .await?
            .ack()
            .await
    }

    /// See [`ChatHub::search`], as this member.
    pub async fn search(&self, query: SearchQuery) -> Result<SearchPage, ChatError> {
        self.hub.search(&self.who, query).await
    }

    /// See [`ChatHub::leave`].
    pub async fn leave(&self, room: &str) -> Result<(), ChatError> {
        self.hub.leave(self.id, room).await
    }

    /// Submits a message and waits for its commit (see [`ChatHub::submit`]).
    pub async fn publish(&self, room: &str, text: &str) -> Result<Arc<Message>, ChatError> {
        self.hub.submit(self.id, room, text).await?.ack().await
    }

    /// [`Session::publish`] with an idempotency key (see
    /// [`ChatHub::submit_keyed`]): a resend after a lost reply returns the
    /// original message instead of posting it twice.
    pub async fn publish_keyed(
        &self,
        room: &str,
        text: &str,
        key: Option<&str>,
    ) -> Result<Arc<Message>, ChatError> {
        self.hub
            .submit_keyed(self.id, room, text, key)
            .await?
            .ack()
            .await
    }

    /// Queues a message for commit without waiting for it (see [`Ticket`]).
    pub async fn submit(&self, room: &str, text: &str) -> Result<Ticket, ChatError> {
        self.hub.submit(self.id, room, text).await
    }

    /// See [`ChatHub::rename`]; the handle's name follows.
    pub async fn rename(&mut self, who: Identity) -> Result<Arc<str>, ChatError> {
        let name = self.hub.rename(self.id, who.clone()).await?;
        self.name = name.clone();
        self.who = who;
        Ok(name)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.hub.disconnect(self.id);
    }
}
