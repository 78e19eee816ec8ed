//! The web door's rendering of chat events: the push frame's header as a
//! WebSocket text message, built once per event for every browser.

use std::sync::LazyLock;

use bytes::Bytes;

use crate::service::chat::{Message, Presence, RenderSlot, Renderer};
use crate::wire::{ChatEvent, ChatMessage};

/// The web door's renderer; its slot is claimed on first use.
pub static WEB_EVENTS: LazyLock<WebEvents> = LazyLock::new(|| WebEvents {
    slot: RenderSlot::claim("web"),
});

/// Renders events as the JSON texts the page reads.
#[derive(Debug)]
pub struct WebEvents {
    slot: RenderSlot,
}

impl Renderer for WebEvents {
    fn slot(&self) -> RenderSlot {
        self.slot
    }

    fn message(&self, m: &Message) -> Bytes {
        ChatEvent::Message(ChatMessage::from(m)).header_json()
    }

    fn presence(&self, p: &Presence) -> Bytes {
        ChatEvent::from(p).header_json()
    }
}
