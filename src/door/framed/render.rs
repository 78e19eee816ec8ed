//! The frame door's rendering of chat events: encoded `chat.message` and
//! `chat.presence` push frames (wire::chat), built once per event for
//! every framed member.

use std::sync::LazyLock;

use bytes::Bytes;

use crate::service::chat::{Message, Presence, RenderSlot, Renderer};
use crate::wire::{ChatEvent, ChatMessage};

/// The frame door's renderer; its slot is claimed on first use.
pub static FRAMES: LazyLock<Frames> = LazyLock::new(|| Frames {
    slot: RenderSlot::claim("frame"),
});

/// Renders events as encoded push frames.
#[derive(Debug)]
pub struct Frames {
    slot: RenderSlot,
}

impl Renderer for Frames {
    fn slot(&self) -> RenderSlot {
        self.slot
    }

    fn message(&self, m: &Message) -> Bytes {
        ChatEvent::Message(ChatMessage::from(m)).encoded()
    }

    fn presence(&self, p: &Presence) -> Bytes {
        ChatEvent::from(p).encoded()
    }
}
