//! Publishing (check, filter, hand to the writer, wait for the commit) and
//! reading history.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::oneshot;

use super::LocalHub;
use crate::service::chat::api::Ticket;
use crate::service::chat::config::DEFAULT_ROOM;
use crate::service::chat::dm::is_dm;
use crate::service::chat::edit::{Amend, Change, TOPIC_MAX_BYTES};
use crate::service::chat::error::ChatError;
use crate::service::chat::event::SessionId;
use crate::service::chat::filter::WordFilter;
use crate::service::chat::history::{HistoryPage, HistoryQuery};
use crate::service::chat::keys;
use crate::service::chat::names::{Identity, room_name};
use crate::service::chat::room::{Room, lock};
use crate::service::chat::sanitize::sanitize;
use crate::service::chat::writer::Pending;

/// How much longer than the limit raw input may be before it is refused
/// unread: escapes that sanitising removes may pad a message, but a text
/// this much over the limit cannot come out under it.
const RAW_SLACK: usize = 4;

/// The text a message is stored and fanned out with: `text` sanitised,
/// filtered and checked against the `max`-byte limit; or why it is
/// refused. Pure, so the fuzz targets run every door's input through it.
pub(crate) fn message_text(
    text: &str,
    max: usize,
    filter: &WordFilter,
) -> Result<String, ChatError> {
    if text.len() > max.saturating_mul(RAW_SLACK) {
        return Err(ChatError::TooLong {
            len: text.len(),
            max,
        });
    }
    let clean = sanitize(text);
    if clean.is_empty() {
        return Err(ChatError::Empty);
    }
    let text = filter.apply(&clean)?.into_owned();
    if text.trim().is_empty() {
        return Err(ChatError::Empty);
    }
    if text.len() > max {
        return Err(ChatError::TooLong {
            len: text.len(),
            max,
        });
    }
    Ok(text)
}

/// What `submit_entry` queues: a message, or a change (of message
/// `seq`, or of the room's topic).
enum Entry<'a> {
    Message(&'a str),
    Change(u64, Amend),
}

impl LocalHub {
    /// Checks, cleans and queues a message for the writer; the ticket
    /// resolves once it is committed and fanned out.
    pub(super) async fn submit_message(
        &self,
        id: SessionId,
        room: &str,
        text: &str,
        key: Option<&str>,
    ) -> Result<Ticket, ChatError> {
        if let Some(k) = key {
            keys::check(k)?;
        }
        self.submit_entry(id, room, Entry::Message(text), key).await
    }

    /// See [`ChatHub::amend`](crate::service::chat::ChatHub::amend): an
    /// edit goes through every check a message does, a topic the same
    /// with its own length limit; the writer then checks the rules of
    /// `edit` against the stored message.
    pub(super) async fn amend_message(
        &self,
        id: SessionId,
        room: &str,
        seq: u64,
        change: Amend,
    ) -> Result<Ticket, ChatError> {
        self.submit_entry(id, room, Entry::Change(seq, change), None)
            .await
    }

    /// A message or a change, checked, cleaned and queued.
    async fn submit_entry(
        &self,
        id: SessionId,
        room: &str,
        entry: Entry<'_>,
        key: Option<&str>,
    ) -> Result<Ticket, ChatError> {
        let max = self.config.max_message_bytes;
        let member = self.member(id)?;
        let room = self.conversation_of(&member, room)?;
        let (room, name, guest) = {
            let mut p = lock(&member.profile);
            let r = p.rooms.iter().find(|r| *r.name == *room).cloned();
            let r = r.ok_or(ChatError::NotInRoom(room))?;
            // Every attempt costs a token, refused ones too: a flood of
            // garbage is a flood.
            self.charge_message(&member, &mut p)?;
            (r, p.name.clone(), p.guest)
        };
        let (text, amend) = match entry {
            Entry::Message(t) => (message_text(t, max, &self.filter)?, None),
            Entry::Change(seq, Amend::Edit(t)) => {
                let clean = message_text(&t, max, &self.filter)?;
                (String::new(), Some((seq, Amend::Edit(clean))))
            }
            Entry::Change(seq, Amend::Delete) => (String::new(), Some((seq, Amend::Delete))),
            Entry::Change(seq, Amend::Topic(t)) => {
                // An empty topic clears it.
                let clean = if sanitize(&t).is_empty() {
                    String::new()
                } else {
                    message_text(&t, TOPIC_MAX_BYTES, &self.filter)?
                };
                (String::new(), Some((seq, Amend::Topic(clean))))
            }
        };
        let amend = match amend {
            Some((target, amend)) => {
                let since = self.author_since(&name, guest, &amend).await?;
                Some(Change {
                    target,
                    amend,
                    since,
                })
            }
            None => None,
        };
        if is_dm(&room.name) {
            // The other party may have been deleted or locked since.
            self.check_recipient(&member, &room.name).await?;
        }
        {
            // Membership is checked where the writer will look, and the
            // pending count keeps the room (and its ids) alive until commit.
            let mut st = lock(&room.state);
            if st.closed || !st.members.iter().any(|m| m.id == id) {
                return Err(ChatError::NotInRoom(room.name.to_string()));
            }
            st.pending += 1;
        }
        let key = key.map(str::to_owned);
        self.queue(room, (name, guest), text, id, key, amend).await
    }

    /// When the account `name` asking for `amend` was created (unix
    /// millis; see `edit`): read for edits and deletes by accounts only,
    /// on the blocking pool (the registry may query its store).
    async fn author_since(&self, name: &str, guest: bool, amend: &Amend) -> Result<u64, ChatError> {
        if guest || matches!(amend, Amend::Topic(_)) {
            return Ok(0); // refused for guests, and no author to check
        }
        let (registry, name) = (self.registry.clone(), name.to_owned());
        tokio::task::spawn_blocking(move || registry.reads_from(&name))
            .await
            .map_err(|_| ChatError::Store(Arc::from("the account registry failed")))
    }

    /// See [`ChatHub::post_unjoined`](crate::service::chat::ChatHub::post_unjoined).
    pub(super) async fn post_unjoined_message(
        &self,
        name: &str,
        room: &str,
        text: &str,
    ) -> Result<Ticket, ChatError> {
        let max = self.config.max_message_bytes;
        let room = room_name(room)?;
        let (name, guest, key) = self.resolve(Identity::Guest(name.to_owned())).await?;
        if key.is_some_and(|k| lock(&self.guests).contains_key(&k)) {
            return Err(ChatError::NameTaken(name.to_string()));
        }
        let text = message_text(text, max, &self.filter)?;
        let live = lock(&self.rooms).get(room.as_str()).cloned();
        let room = match live {
            Some(r) => r,
            None => {
                // A room with history is loaded; only the default room is
                // made for a poster: anything else would let forged
                // datagrams create rooms without end.
                let key = room.clone();
                let stored = self.read(move |db| db.stored_last_id(&key)).await?;
                // A row without messages (a room joined, then left) is
                // no history either.
                if stored.is_none_or(|last| last == 0) && room != DEFAULT_ROOM {
                    return Err(ChatError::NotInRoom(room));
                }
                self.room(&room, None).await?
            }
        };
        {
            let mut st = lock(&room.state);
            if st.closed {
                return Err(ChatError::NotInRoom(room.name.to_string()));
            }
            st.pending += 1;
        }
        // An id no member has: every member, the poster's namesakes
        // included, is sent the message.
        let origin = SessionId(self.next_session.fetch_add(1, Ordering::Relaxed));
        self.queue(room, (name, guest), text, origin, None, None)
            .await
    }

    /// Hands a checked message to the writer; the caller has counted it in
    /// the room's `pending` (which keeps the room alive until the commit),
    /// and this takes it back if the writer is gone.
    pub(super) async fn queue(
        &self,
        room: Arc<Room>,
        (name, guest): (Arc<str>, bool),
        text: String,
        origin: SessionId,
        key: Option<String>,
        amend: Option<Change>,
    ) -> Result<Ticket, ChatError> {
        let (ack, done) = oneshot::channel();
        let pending = Pending {
            room: room.clone(),
            name,
            guest,
            text,
            origin,
            key,
            amend,
            ack,
        };
        if self.writer.send(pending).await.is_err() {
            let mut st = lock(&room.state);
            st.pending = st.pending.saturating_sub(1);
            return Err(ChatError::ShuttingDown);
        }
        Ok(Ticket(done))
    }

    pub(super) async fn read_history(
        &self,
        room: &str,
        query: HistoryQuery,
    ) -> Result<HistoryPage, ChatError> {
        // Direct conversations only through `history_for`, which knows
        // who asks: `room_name` refuses their names.
        let room: Arc<str> = Arc::from(room_name(room)?);
        let page_max = self.config.history_page_max;
        self.read(move |db| db.query(&room, query, page_max)).await
    }
}
