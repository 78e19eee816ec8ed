//! The hub's events in the frame protocol's shape ([`crate::wire`]'s
//! `chat.message` and `chat.presence`), which the frame door, the web door
//! and history replies all send. Each door still renders the bytes itself.

use super::event::{Message, Presence};
use crate::wire::{ChatEvent, ChatMessage};

impl From<&Message> for ChatMessage {
    fn from(m: &Message) -> ChatMessage {
        ChatMessage {
            room: m.room.to_string(),
            seq: m.id,
            ts: m.ts,
            name: m.name.to_string(),
            guest: m.guest,
            text: m.text.clone(),
            kind: None,
            target: None,
            mentions: Vec::new(),
        }
    }
}

impl From<&Presence> for ChatEvent {
    fn from(p: &Presence) -> ChatEvent {
        ChatEvent::Presence {
            room: p.room.to_string(),
            name: p.name.to_string(),
            guest: p.guest,
            door: p.door.as_str().to_owned(),
            event: p.event_name().to_owned(),
            from: p.renamed_from().map(str::to_owned),
            notice: p.notice(),
        }
    }
}
