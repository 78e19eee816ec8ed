//! Typing notices: passed to a room's other members as they come, never
//! stored, at most one per member per room every [`TYPING_EVERY`].

use std::sync::Arc;

use super::LocalHub;
use crate::service::chat::config::TYPING_EVERY;
use crate::service::chat::error::ChatError;
use crate::service::chat::event::{Change, SessionId};
use crate::service::chat::room::lock;

impl LocalHub {
    /// Tells `room`'s members that member `id` is typing, unless it did so
    /// less than [`TYPING_EVERY`] ago (then nothing is sent: a typing
    /// notice is a hint, and a client repeats it while typing). The member
    /// must be in the room. Costs no flood token: it is paced here, and a
    /// full queue leaves it out (it travels as presence).
    pub(super) fn typing_in(&self, id: SessionId, room: &str) -> Result<(), ChatError> {
        let member = self.member(id)?;
        let name = self.conversation_of(&member, room)?;
        let now = tokio::time::Instant::now();
        let room = {
            let mut p = lock(&member.profile);
            let Some(room) = p.rooms.iter().find(|r| *r.name == *name).cloned() else {
                return Err(ChatError::NotInRoom(name));
            };
            let rooms = p.rooms.clone();
            // Forget rooms left since, so the list stays one per room.
            p.typed
                .retain(|(r, _)| rooms.iter().any(|x| Arc::ptr_eq(&x.name, r)));
            match p.typed.iter_mut().find(|(r, _)| Arc::ptr_eq(r, &room.name)) {
                Some((_, at)) if now.saturating_duration_since(*at) < TYPING_EVERY => {
                    return Ok(());
                }
                Some((_, at)) => *at = now,
                None => p.typed.push((room.name.clone(), now)),
            }
            room
        };
        let ev = self.presence(&room, &member, Change::Typing(id));
        lock(&room.state).deliver(&room.name, ev, &self.counters);
        Ok(())
    }
}
