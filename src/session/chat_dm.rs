//! The chat requests of direct conversations and read markers:
//! `chat.dm`, `chat.dms`, `chat.read` and `chat.unread`.

use super::Failure;
use crate::service::chat::{self, Conversation, dm_peer};
use crate::wire::{ChatConversation, ChatReply, ChatRequest};

/// Answers one of the four requests (the caller routes only those here).
pub(super) async fn answer(me: &chat::Session, req: ChatRequest) -> Result<ChatReply, Failure> {
    Ok(match req {
        ChatRequest::Dm { to } => {
            let target = format!("{}{}", chat::DM_MARK, to.trim());
            let joined = me.join(&target).await?;
            let key = chat::account_key(me.name());
            ChatReply::Dm {
                with: dm_peer(&joined.room, &key).unwrap_or_default().to_owned(),
                room: joined.room.to_string(),
                last_seq: joined.last_id,
                epoch: joined.epoch.to_string(),
            }
        }
        ChatRequest::Dms {} => ChatReply::Dms {
            dms: me.dms().await?.iter().map(wire).collect(),
        },
        ChatRequest::Read { room, seq } => {
            let (room, seq) = me.mark_read(&room, seq).await?;
            ChatReply::Read {
                room: room.to_string(),
                seq,
            }
        }
        ChatRequest::Unread { rooms } => {
            if rooms.len() > chat::UNREAD_ROOMS_MAX {
                return Err(Failure::BadRequest(format!(
                    "chat.unread counts at most {} rooms at once; ask in several requests",
                    chat::UNREAD_ROOMS_MAX
                )));
            }
            ChatReply::Unread {
                rooms: me.unread(rooms).await?.iter().map(wire).collect(),
            }
        }
        other => {
            return Err(Failure::BadRequest(format!(
                "{other:?} is not a direct-message request"
            )));
        }
    })
}

/// A conversation as the wire lists it.
fn wire(c: &Conversation) -> ChatConversation {
    ChatConversation {
        room: c.room.to_string(),
        with: c.with.as_deref().map(str::to_owned),
        last_seq: c.last_id,
        ts: c.ts,
        read: c.read,
        unread: c.unread,
        mentions: c.mentions,
    }
}
