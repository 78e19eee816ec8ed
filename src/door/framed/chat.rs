//! The chat side of a framed (or WebSocket) session: membership through
//! the hub, and the events it pushes, encoded once per message for every
//! member of this door kind (the hub's render cache).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::render::FRAMES;
use super::session::{Failure, Session};
use crate::service::chat::{self, ChatHub, Event, HistoryQuery, Identity, Inbox, Renderer};
use crate::wire::{
    ChatMember, ChatMessage, ChatReply, ChatRequest, ChatRoom, Frame, SLOW_CONSUMER, encode_to_vec,
    error_frame,
};

/// A connection's chat membership: its hub session and its event queue.
pub struct ChatState {
    session: chat::Session,
    inbox: Inbox,
}

/// What the door does after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Written to the buffer (or skipped); carry on.
    Continue,
    /// The member was cut off; the buffer holds the last words: send them
    /// and close.
    Close,
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

    /// Appends `ev`'s frame to `wbuf` (a member's own messages are skipped:
    /// its `chat.send` reply already confirmed them).
    pub fn push_event(&mut self, ev: Option<Event>, wbuf: &mut BytesMut) -> Pushed {
        let own = self.chat.as_ref().map(|c| c.session.id());
        match ev {
            Some(Event::Message(m)) if m.origin.is_some() && m.origin == own => Pushed::Continue,
            Some(Event::Message(m)) => {
                wbuf.extend_from_slice(&m.render(&*FRAMES));
                Pushed::Continue
            }
            Some(Event::Presence(p)) => {
                wbuf.extend_from_slice(&p.render(&*FRAMES));
                Pushed::Continue
            }
            // Cut off for falling behind (or the hub went away): say so,
            // without an id since it answers no request, then hang up.
            Some(Event::Dropped) | None => {
                self.chat = None;
                let msg = "you fell too far behind the room's messages and were disconnected; \
                           read events as they come, then reconnect and catch up with chat.history";
                if let Ok(bytes) = encode_to_vec(&error_frame(SLOW_CONSUMER, msg, None)) {
                    wbuf.extend_from_slice(&bytes);
                }
                Pushed::Close
            }
        }
    }
}

impl Session {
    /// `ev` as the web door's WebSocket text, rendered by the web door's
    /// `web` renderer (once per message for all browsers); `None` for a
    /// member's own message. On [`Pushed::Close`] the text is the last words.
    pub fn web_event<R: Renderer + ?Sized>(
        &mut self,
        ev: Option<Event>,
        web: &R,
    ) -> (Option<Bytes>, Pushed) {
        let own = self.chat.as_ref().map(|c| c.session.id());
        let json = |f: Frame| Bytes::from(serde_json::Value::Object(f.header).to_string());
        match ev {
            Some(Event::Message(m)) if m.origin.is_some() && m.origin == own => {
                (None, Pushed::Continue)
            }
            Some(Event::Message(m)) => (Some(m.render(web)), Pushed::Continue),
            Some(Event::Presence(p)) => (Some(p.render(web)), Pushed::Continue),
            Some(Event::Dropped) | None => {
                self.chat = None;
                let msg = "you fell too far behind the room's messages; reload to catch up";
                (
                    Some(json(error_frame(SLOW_CONSUMER, msg, None))),
                    Pushed::Close,
                )
            }
        }
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
            }
        }
        ChatRequest::Leave { room } => {
            me.leave(&room).await?;
            ChatReply::Leave {
                room: chat::room_name(&room).unwrap_or(room),
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
        ChatRequest::History { room, last, after } => {
            let query = match (last, after) {
                (_, Some(after)) => HistoryQuery::After(after),
                (Some(n), None) => HistoryQuery::Last(n),
                (None, None) => HistoryQuery::Last(chat::DEFAULT_HISTORY_PAGE_MAX),
            };
            let page = hub.history(&room, query).await?;
            ChatReply::History {
                room: chat::room_name(&room).unwrap_or(room),
                messages: page
                    .messages
                    .iter()
                    .map(|m| ChatMessage::from(&**m))
                    .collect(),
                more: page.more,
            }
        }
        ChatRequest::Who { room } => {
            let members = hub.who(&room).await?;
            ChatReply::Who {
                room: chat::room_name(&room).unwrap_or(room),
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
                })
                .collect(),
        },
    })
}
