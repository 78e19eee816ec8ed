//! The framed door's rendering of chat events: each hub message or
//! presence change as an encoded frame, built once per event for every
//! framed member (the hub's render cache), and the last words of a member
//! cut off for falling behind.

use bytes::BytesMut;

use super::render::FRAMES;
use crate::service::chat::Event;
use crate::session::Session;
use crate::wire::{ChatEvent, SLOW_CONSUMER, encode_to_vec, error_frame};

/// What the door does after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Written to the buffer (or skipped); carry on.
    Continue,
    /// The member was cut off; the buffer holds the last words: send them
    /// and close.
    Close,
}

/// Appends `ev`'s frame to `wbuf` (a member's own messages are skipped:
/// its `chat.send` reply already confirmed them).
pub fn push_event(session: &mut Session, ev: Option<Event>, wbuf: &mut BytesMut) -> Pushed {
    match ev {
        Some(Event::Message(m)) if session.is_own(&m) => Pushed::Continue,
        Some(Event::Message(m)) => {
            wbuf.extend_from_slice(&m.render(&*FRAMES));
            Pushed::Continue
        }
        Some(Event::Presence(p)) if session.is_own_typing(&p) => Pushed::Continue,
        Some(Event::Presence(p)) => {
            wbuf.extend_from_slice(&p.render(&*FRAMES));
            Pushed::Continue
        }
        Some(Event::Read(r)) => {
            let ev = ChatEvent::Read {
                room: r.room.to_string(),
                seq: r.seq,
            };
            wbuf.extend_from_slice(&ev.encoded());
            Pushed::Continue
        }
        // Cut off for falling behind (or the hub went away): say so,
        // without an id since it answers no request, then hang up.
        Some(Event::Dropped) | None => {
            session.end_chat();
            let msg = "you fell too far behind the room's messages and were disconnected; \
                       read events as they come, then reconnect and catch up with chat.history";
            if let Ok(bytes) = encode_to_vec(&error_frame(SLOW_CONSUMER, msg, None)) {
                wbuf.extend_from_slice(&bytes);
            }
            Pushed::Close
        }
    }
}
