//! The hub's side of presence (see `service::chat::herald` for the rule):
//! telling a room's herald of joins and leaves, and the one task per room
//! that flushes it when its window ends.

use std::sync::Arc;

use tokio::time::Instant;

use super::LocalHub;
use crate::service::chat::event::Change;
use crate::service::chat::herald::Step;
use crate::service::chat::room::{Counters, Member, Room, RoomState, lock};

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

    fn herald_step(&self, room: &Arc<Room>, st: &mut RoomState, step: Step) {
        match step {
            Step::Now(ev) => st.deliver(&room.name, ev, &self.counters),
            Step::Quiet => {}
            Step::FlushAt(at) => {
                let grace = self.config.presence_grace;
                let task = flush_at(room.clone(), self.counters.clone(), grace, at);
                match tokio::runtime::Handle::try_current() {
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
