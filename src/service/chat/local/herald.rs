//! The hub's side of presence (see `service::chat::herald` for the rule):
//! telling a room's herald of joins and leaves, here and (on a cluster)
//! on the other nodes, and the one task per room that flushes it when its
//! window ends.

use std::sync::{Arc, Weak};
use std::time::Duration;

use postgres::Client;
use tokio::time::Instant;

use super::LocalHub;
use super::cluster::CHECK_EVERY;
use crate::service::chat::PRESENCE_TTL;
use crate::service::chat::event::Change;
use crate::service::chat::herald::Step;
use crate::service::chat::presence_pg::{self, RemoteView};
use crate::service::chat::room::{Counters, Member, PRESENCE_ROOM_MAX, Room, RoomState, lock};

/// How much later than its own node this node sees a member of another:
/// that node writes its presence at most one heartbeat after the change,
/// and this node reads it at most one heartbeat after that. Arrivals seen
/// on other nodes wait this much beyond the grace (see `herald::remote`).
pub(super) const REMOTE_LAG: Duration = CHECK_EVERY.saturating_mul(2);

/// Reads who of each room held here is on the other nodes, and tells
/// each room's herald (the cluster feed calls it after each heartbeat).
pub(super) fn look_around(
    hub: &Weak<LocalHub>,
    c: &mut Client,
    node: &str,
) -> Result<(), postgres::Error> {
    let Some(hub) = hub.upgrade() else {
        return Ok(());
    };
    let rooms: Vec<Arc<Room>> = lock(&hub.rooms).values().cloned().collect();
    if rooms.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = rooms.iter().map(|r| &*r.name).collect();
    let bound = (PRESENCE_TTL, PRESENCE_ROOM_MAX + 1);
    let mut views = presence_pg::remote_views(c, node, &names, bound)?;
    for room in &rooms {
        let view = views.remove(&room.name).unwrap_or_default();
        hub.seen_far(room, view);
    }
    Ok(())
}

impl LocalHub {
    /// Tells `room` (its state locked as `st`) that `member` joined.
    pub(super) fn herald_join(&self, room: &Arc<Room>, st: &mut RoomState, member: &Member) {
        let grace = self.config.presence_grace;
        let step = st.herald.joined(&room.name, member, Instant::now(), grace);
        if !matches!(step, Step::Now(_)) {
            // The member is told its own join at once; the room later.
            let _ = member
                .outbox
                .offer(self.presence(room, member, Change::Joined));
        }
        self.herald_step(room, st, step);
    }

    /// Tells `room` (its state locked as `st`) that `member` left; the
    /// leave is told only when `announce` (see `charge`).
    pub(super) fn herald_leave(
        &self,
        room: &Arc<Room>,
        st: &mut RoomState,
        member: &Member,
        announce: bool,
    ) {
        let at = (Instant::now(), self.config.presence_grace);
        let step = st.herald.left(&room.name, member, at, announce);
        self.herald_step(room, st, step);
    }

    /// Tells `room`'s herald who of it is on the other nodes now (`view`).
    /// Counted with this node's members for the large-room rule; over it
    /// the herald forgets them, and starts afresh when the room is under
    /// the limit again (announcing nobody who was there meanwhile).
    fn seen_far(&self, room: &Arc<Room>, view: RemoteView) {
        let mut st = lock(&room.state);
        if st.closed {
            return;
        }
        st.remote = view.sessions;
        if st.members.len() + view.sessions > PRESENCE_ROOM_MAX {
            st.herald.forget_far();
            return;
        }
        let members = st.members.clone();
        let at = (Instant::now(), self.config.presence_grace, REMOTE_LAG);
        let step = st.herald.remote(&room.name, view.members, &members, at);
        self.herald_step(room, &mut st, step);
    }

    /// [`LocalHub::seen_far`] for the room called `room`, if held here:
    /// what the cluster feed does, for tests with a paused clock.
    #[cfg(test)]
    pub(in crate::service::chat) fn seen_far_in(&self, room: &str, view: RemoteView) {
        let room = lock(&self.rooms).get(room).cloned();
        if let Some(room) = room {
            self.seen_far(&room, view);
        }
    }

    fn herald_step(&self, room: &Arc<Room>, st: &mut RoomState, step: Step) {
        match step {
            Step::Now(ev) => st.deliver(&room.name, ev, &self.counters),
            Step::Quiet => {}
            Step::FlushAt(at) => {
                let grace = self.config.presence_grace;
                let task = flush_at(room.clone(), self.counters.clone(), grace, at);
                // The cluster feed's thread has no runtime of its own: the
                // hub's, kept from when it opened.
                let rt = tokio::runtime::Handle::try_current()
                    .or_else(|_| self.runtime.clone().ok_or(()));
                match rt {
                    Ok(rt) => drop(rt.spawn(task)),
                    // No runtime to wait on (a hub used from plain
                    // threads): nothing is announced, and the next change
                    // tries again.
                    Err(_) => st.herald.unschedule(),
                }
            }
        }
    }
}

/// The room's flush task: wakes when its window ends, announces what fell
/// due, and sleeps again while joins still wait; ends when none do, or
/// when the room is forgotten.
async fn flush_at(
    room: Arc<Room>,
    counters: Arc<Counters>,
    grace: std::time::Duration,
    mut at: Instant,
) {
    loop {
        tokio::time::sleep_until(at).await;
        let mut st = lock(&room.state);
        if st.closed {
            return;
        }
        let st = &mut *st;
        let out = st
            .herald
            .flush(&room.name, &st.members, Instant::now(), grace);
        if let Some(ev) = out.event {
            st.deliver_skipping(&room.name, ev, &counters, &out.told);
        }
        match out.next {
            Some(t) => at = t,
            None => return,
        }
    }
}
