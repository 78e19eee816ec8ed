//! The chat side of a session: membership through the hub, the requests
//! of the `chat` family, the queue of events the hub pushes, and the wire
//! shapes of hub messages. Each door renders the events itself.

use std::sync::Arc;

use super::{Failure, Session};
use crate::service::chat::{
    self, ChatHub, Event, HistoryQuery, Identity, Inbox, Message, Presence,
};
use crate::wire::{ChatMember, ChatMessage, ChatReply, ChatRequest, ChatRoom, SearchResult};

/// A connection's chat membership: its hub session and its event queue.
pub struct ChatState {
    session: chat::Session,
    inbox: Inbox,
}

impl Session {
    /// Answers a request of the chat family. Everything needs a login; the
    /// hub session opens on the first request and speaks for the account.
    pub(super) async fn chat(&mut self, req: ChatRequest) -> Result<ChatReply, Failure> {
        let hub = self.services.chat.clone().ok_or(Failure::NoChat)?;
        if self.chat.is_none() {
            // Re-checks the token: a revoked session never enters a room.
            let name = self.identity().await?.name.clone();
            let (session, inbox) = chat::Session::open_from(
                hub.clone(),
                Identity::Registered(name),
                self.door,
                self.peer,
            )
            .await?;
            self.chat = Some(ChatState { session, inbox });
        }
        let state = self.chat.as_ref().ok_or(Failure::NoChat)?;
        answer(&hub, &state.session, req).await
    }

    /// True when events may arrive (a chat session is open).
    pub fn listens(&self) -> bool {
        self.chat.is_some()
    }

    /// The next event for this connection; pending forever without chat.
    /// Cancel-safe: an event is only taken when this returns.
    pub async fn next_event(&mut self) -> Option<Event> {
        match self.chat.as_mut() {
            Some(c) => c.inbox.recv().await,
            None => std::future::pending().await,
        }
    }

    /// An event already queued, without waiting.
    pub fn try_next_event(&mut self) -> Option<Event> {
        self.chat.as_mut().and_then(|c| c.inbox.try_recv())
    }

    /// True when `m` was sent by this connection: doors skip it, since
    /// the `chat.send` reply already confirmed it to the sender.
    pub fn is_own(&self, m: &Message) -> bool {
        let own = self.chat.as_ref().map(|c| c.session.id());
        m.origin.is_some() && m.origin == own
    }

    /// True when `p` is this connection's own typing notice: not shown
    /// back to the typist.
    pub fn is_own_typing(&self, p: &Presence) -> bool {
        let own = self.chat.as_ref().map(|c| c.session.id());
        p.typist().is_some() && p.typist() == own
    }

    /// Ends the chat membership (the hub cut the member off, or went
    /// away): the door has pushed its last words and closes.
    pub fn end_chat(&mut self) {
        self.chat = None;
    }
}

async fn answer(
    hub: &Arc<dyn ChatHub>,
    me: &chat::Session,
    req: ChatRequest,
) -> Result<ChatReply, Failure> {
    Ok(match req {
        ChatRequest::Join { room } => {
            let joined = me.join(&room).await?;
            ChatReply::Join {
                room: joined.room.to_string(),
                last_seq: joined.last_id,
                epoch: joined.epoch.to_string(),
            }
        }
        ChatRequest::Leave { room } => {
            me.leave(&room).await?;
            ChatReply::Leave {
                room: canonical(me, &room),
            }
        }
        ChatRequest::Send { room, text, key } => {
            let m = me.publish_keyed(&room, &text, key.as_deref()).await?;
            ChatReply::Send {
                room: m.room.to_string(),
                seq: m.id,
                ts: m.ts,
                text: m.text.clone(),
            }
        }
        ChatRequest::History {
            room,
            last,
            after,
            before,
            epoch,
        } => {
            let page_max = chat::DEFAULT_HISTORY_PAGE_MAX;
            let query = match (last, after, before) {
                (_, Some(_), Some(_)) => {
                    return Err(Failure::BadRequest(
                        "chat.history takes after or before, not both; \
                         page forward with after, back with before"
                            .to_owned(),
                    ));
                }
                (_, Some(after), None) => HistoryQuery::After(after),
                (n, None, Some(before)) => HistoryQuery::Before(before, n.unwrap_or(page_max)),
                (Some(n), None, None) => HistoryQuery::Last(n),
                (None, None, None) => HistoryQuery::Last(page_max),
            };
            let page = me.history(&room, query).await?;
            let room = canonical(me, &room);
            if epoch.is_some_and(|e| *e != *page.epoch) {
                return Err(chat::ChatError::StaleEpoch(room).into());
            }
            ChatReply::History {
                room,
                messages: page
                    .messages
                    .iter()
                    .map(|m| ChatMessage::from(&**m))
                    .collect(),
                more: page.more,
                epoch: page.epoch.to_string(),
            }
        }
        ChatRequest::Who { room } => {
            let members = me.who(&room).await?;
            ChatReply::Who {
                room: canonical(me, &room),
                members: members
                    .into_iter()
                    .map(|m| ChatMember {
                        name: m.name.to_string(),
                        door: m.door.as_str().to_owned(),
                        guest: m.guest,
                    })
                    .collect(),
            }
        }
        ChatRequest::Rooms {} => ChatReply::Rooms {
            rooms: hub
                .rooms()
                .await?
                .into_iter()
                .map(|r| ChatRoom {
                    name: r.name.to_string(),
                    members: r.members,
                    last_seq: r.last_id,
                    topic: r.topic,
                })
                .collect(),
        },
        ChatRequest::Typing { room } => {
            me.typing(&room).await?;
            ChatReply::Typing {
                room: canonical(me, &room),
            }
        }
        req @ (ChatRequest::Dm { .. }
        | ChatRequest::Dms {}
        | ChatRequest::Read { .. }
        | ChatRequest::Unread { .. }) => super::chat_dm::answer(me, req).await?,
        ChatRequest::Edit { room, seq, text } => {
            let m = me.amend(&room, seq, chat::Amend::Edit(text)).await?;
            ChatReply::Edit(ChatMessage::from(&*m))
        }
        ChatRequest::Delete { room, seq } => {
            let m = me.amend(&room, seq, chat::Amend::Delete).await?;
            ChatReply::Delete(ChatMessage::from(&*m))
        }
        ChatRequest::Topic { room, topic } => {
            if let Some(topic) = topic {
                me.amend(&room, 0, chat::Amend::Topic(topic)).await?;
            }
            let room = chat::room_name(&room)?;
            ChatReply::Topic {
                topic: hub.topic(&room).await?,
                room,
            }
        }
        ChatRequest::Search {
            q,
            room,
            before,
            limit,
        } => {
            let query = chat::SearchQuery::parse(&q, room.as_deref(), before, limit)?;
            let page = me.search(query).await?;
            ChatReply::Search {
                results: page.hits.iter().map(SearchResult::from).collect(),
                before: page.next,
            }
        }
    })
}

/// The canonical name of the conversation `me` means by `room` (the
/// input, if it breaks the rules: the request failed already then).
fn canonical(me: &chat::Session, room: &str) -> String {
    chat::conversation(me.name(), false, room).unwrap_or_else(|_| room.to_owned())
}
