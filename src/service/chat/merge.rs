//! Merging by seq, for the cluster: a node's members get a room's messages
//! in seq order with no gap and no duplicate, whether a message comes from
//! this node's writer, the outbox feed, or the periodic top check.
//!
//! The rule (Centrifuge's recovery rule): a message one past the room's
//! last delivered seq is delivered; one at or below it is a duplicate and
//! dropped; one further ahead means something in between was missed, so
//! the gap is read from history first. A gap that history no longer holds
//! (pruned meanwhile) is skipped, so a room never stalls.

use std::sync::Arc;

use postgres::Client;

use super::event::{Event, Message};
use super::history::HistoryQuery;
use super::history_pg;
use super::room::{Counters, Room, lock};

/// Most history pages one catch-up reads before it gives the room up to
/// the next check: bounds the work one lost notification can cause.
const CATCH_UP_PAGES_MAX: usize = 64;

/// Delivers `msgs` (one room's, in seq order) to `room`'s members after
/// reading from history whatever lies between the room's last delivered
/// seq and the first of them. With no `msgs`, catches the room up to
/// `top` (the periodic check).
pub(super) fn deliver_in_order(
    c: &mut Client,
    room: &Arc<Room>,
    msgs: &[Arc<Message>],
    top: u64,
    page_max: usize,
    counters: &Counters,
) -> Result<(), postgres::Error> {
    let target = msgs.first().map_or(top, |m| m.id.saturating_sub(1));
    fill(c, room, target, page_max, counters)?;
    let mut st = lock(&room.state);
    if st.closed {
        return Ok(());
    }
    for m in msgs {
        if m.id <= st.last_id {
            continue; // a duplicate: already delivered
        }
        // Contiguous from here: `fill` reached the first one's predecessor
        // (or skipped what history no longer has).
        st.last_id = m.id;
        st.deliver(&room.name, Event::Message(m.clone()), counters);
    }
    Ok(())
}

/// Reads history after the room's last delivered seq and delivers it, up
/// to `target`; if history has nothing more below `target` (pruned), the
/// room's last seq jumps to `target`.
fn fill(
    c: &mut Client,
    room: &Arc<Room>,
    target: u64,
    page_max: usize,
    counters: &Counters,
) -> Result<(), postgres::Error> {
    for _ in 0..CATCH_UP_PAGES_MAX {
        let from = {
            let st = lock(&room.state);
            if st.closed || st.last_id >= target {
                return Ok(());
            }
            st.last_id
        };
        let page = history_pg::query(c, &room.name, HistoryQuery::After(from), page_max)?;
        let mut st = lock(&room.state);
        let mut progressed = false;
        for m in page.messages {
            if m.id > target {
                break;
            }
            if m.id <= st.last_id {
                continue;
            }
            st.last_id = m.id;
            st.deliver(&room.name, Event::Message(m), counters);
            progressed = true;
        }
        if !progressed {
            // History no longer holds the gap: skip it rather than stall.
            st.last_id = st.last_id.max(target);
            return Ok(());
        }
    }
    Ok(())
}
