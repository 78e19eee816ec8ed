//! Typing notices: passed to a room's other members as they come, never
//! stored, at most one per member per room every [`TYPING_EVERY`].
//!
//! On a cluster a notice also goes to the other nodes as a `pg_notify`
//! on [`TYPING_CHANNEL`] (a payload, never a row): a thread of its own
//! sends them, from a bounded queue that drops what does not fit (a
//! typing notice is a hint, and the typist's client repeats it). The
//! other nodes' cluster feeds pass each one to the room's members there,
//! unless it is older than [`TYPING_EXPIRES`] (a feed that was behind).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use super::LocalHub;
use crate::service::chat::config::{TYPING_EVERY, TYPING_EXPIRES};
use crate::service::chat::error::ChatError;
use crate::service::chat::event::{Change, Event, Presence, SessionId};
use crate::service::chat::history_pg::door_kind;
use crate::service::chat::room::lock;
use crate::service::chat::writer::now_millis;
use crate::store::pg::{PgConn, PgTarget};

/// The LISTEN/NOTIFY channel typing notices cross nodes on.
pub(super) const TYPING_CHANNEL: &str = "sockit_chat_typing";

/// Notices waiting to be sent to the other nodes: at most this many
/// (each under a kilobyte), the rest dropped while PostgreSQL is slow.
const TYPING_QUEUE: usize = 1024;

/// Most notices one `pg_notify` statement carries.
const TYPING_BATCH: usize = 256;

/// The typist of a notice from another node: no session on this node has
/// id 0 (they count from 1), so no member here takes it for its own.
const REMOTE_TYPIST: SessionId = SessionId(0);

/// A typing notice as it crosses nodes.
#[derive(serde::Serialize, serde::Deserialize)]
struct Note {
    /// The sending node, whose own feed leaves the notice out.
    node: String,
    room: String,
    name: String,
    guest: bool,
    door: String,
    /// When it was sent, unix millis.
    at: u64,
}

/// Starts the thread that sends this node's typing notices to the other
/// nodes; the sender is dropped with the hub, which ends it.
pub(super) fn spawn(cfg: PgTarget) -> std::io::Result<SyncSender<String>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(TYPING_QUEUE);
    std::thread::Builder::new()
        .name("chat-typing".into())
        .spawn(move || send_all(PgConn::new(cfg), &rx))?;
    Ok(tx)
}

/// Sends every queued notice, several per statement; a failure drops them
/// (PostgreSQL down: the notices are stale by the time it is back).
fn send_all(mut conn: PgConn, rx: &Receiver<String>) {
    const SQL: &str = "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p";
    while let Ok(first) = rx.recv() {
        let mut notes = vec![first];
        while notes.len() < TYPING_BATCH {
            match rx.try_recv() {
                Ok(n) => notes.push(n),
                Err(_) => break,
            }
        }
        let sent = conn.with_prepared(SQL, |c, st| c.execute(st, &[&TYPING_CHANNEL, &notes]));
        if let Err(e) = sent {
            tracing::debug!(error = %e, dropped = notes.len(), "typing notices not sent to the other nodes");
        }
    }
}

impl LocalHub {
    /// Tells `room`'s members that member `id` is typing, unless it did so
    /// less than [`TYPING_EVERY`] ago (then nothing is sent: a typing
    /// notice is a hint, and a client repeats it while typing). The member
    /// must be in the room. Costs no flood token: it is paced here, and a
    /// full queue leaves it out (it travels as presence). On a cluster the
    /// other nodes' members of the room get it too.
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
        if let (Some(out), Some(node), Event::Presence(p)) = (&self.typing_out, &self.node, &ev) {
            let note = Note {
                node: node.to_string(),
                room: p.room.to_string(),
                name: p.name.to_string(),
                guest: p.guest,
                door: p.door.as_str().to_owned(),
                at: now_millis(),
            };
            if let Ok(payload) = serde_json::to_string(&note) {
                if let Err(TrySendError::Full(_)) = out.try_send(payload) {
                    tracing::debug!("typing queue full: a notice stays on this node");
                }
            }
        }
        lock(&room.state).deliver(&room.name, ev, &self.counters);
        Ok(())
    }

    /// Passes a typing notice another node sent (`payload`, see [`Note`])
    /// to the room's members here, unless this node sent it, it is older
    /// than [`TYPING_EXPIRES`] at `now` (unix millis), it does not parse,
    /// or nobody here is in the room. True when it was passed on.
    pub(in crate::service::chat) fn remote_typing(
        &self,
        node: &str,
        payload: &str,
        now: u64,
    ) -> bool {
        let Ok(n) = serde_json::from_str::<Note>(payload) else {
            return false;
        };
        let expires = TYPING_EXPIRES.as_millis() as u64;
        if n.node == node || now.saturating_sub(n.at) > expires {
            return false;
        }
        let Some(room) = lock(&self.rooms).get(n.room.as_str()).cloned() else {
            return false;
        };
        let p = Presence::new(
            room.name.clone(),
            Arc::from(n.name),
            n.guest,
            door_kind(&n.door),
            Change::Typing(REMOTE_TYPIST),
        );
        lock(&room.state).deliver(&room.name, Event::Presence(Arc::new(p)), &self.counters);
        true
    }
}
