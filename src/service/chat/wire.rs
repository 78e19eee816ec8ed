//! The hub's events in the frame protocol's shape ([`crate::wire`]'s
//! `chat.message` and `chat.presence`), which the frame door, the web door
//! and history replies all send. Each door still renders the bytes itself.

use super::event::{Message, Presence, Revision};
use super::search::SearchHit;
use crate::wire::{ChatEvent, ChatMessage, MessageKind, SearchResult};

impl From<&Message> for ChatMessage {
    fn from(m: &Message) -> ChatMessage {
        ChatMessage {
            room: m.room.to_string(),
            seq: m.id,
            ts: m.ts,
            name: m.name.to_string(),
            guest: m.guest,
            text: m.text.clone(),
            kind: m.revision.wire_kind(),
            target: m.revision.target(),
        }
    }
}

impl Revision {
    /// Its `kind` on the wire (absent for a message as first said).
    pub fn wire_kind(self) -> Option<MessageKind> {
        match self {
            Revision::Original => None,
            Revision::Edited => Some(MessageKind::Edited),
            Revision::Deleted => Some(MessageKind::Deleted),
            Revision::Edit(_) => Some(MessageKind::Edit),
            Revision::Delete(_) => Some(MessageKind::Delete),
            Revision::Topic => Some(MessageKind::Topic),
        }
    }
}

impl From<&Presence> for ChatEvent {
    fn from(p: &Presence) -> ChatEvent {
        if p.typist().is_some() {
            return ChatEvent::Typing {
                room: p.room.to_string(),
                name: p.name.to_string(),
                guest: p.guest,
            };
        }
        let summary = p.summary_of();
        let names = |v: &[std::sync::Arc<str>]| v.iter().map(|n| n.to_string()).collect();
        ChatEvent::Presence {
            room: p.room.to_string(),
            name: p.name.to_string(),
            guest: p.guest,
            door: match summary {
                Some(_) => String::new(),
                None => p.door.as_str().to_owned(),
            },
            event: p.event_name().to_owned(),
            from: p.renamed_from().map(str::to_owned),
            joined: summary.map(|s| names(&s.joined)).unwrap_or_default(),
            others_joined: summary.map_or(0, |s| s.joined_more),
            left: summary.map(|s| names(&s.left)).unwrap_or_default(),
            others_left: summary.map_or(0, |s| s.left_more),
            notice: p.notice(),
        }
    }
}

impl From<&SearchHit> for SearchResult {
    fn from(h: &SearchHit) -> SearchResult {
        SearchResult {
            room: h.room.to_string(),
            seq: h.seq,
            ts: h.ts,
            name: h.name.to_string(),
            guest: h.guest,
            text: h.snippet.clone(),
            edited: h.edited,
        }
    }
}
