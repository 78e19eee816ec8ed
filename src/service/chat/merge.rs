//! Merging by seq, for the cluster: a node's members get a room's messages
//! in seq order with no gap and no duplicate, whether a message comes from
//! this node's writer, the outbox feed, or the periodic top check.
//!
//! The rule (Centrifuge's recovery rule): a message one past the room's
//! last delivered seq is delivered; one at or below it is a duplicate and
//! dropped; one further ahead means something in between was missed, so
//! the gap is read from history first. It is applied to *each* message,
//! not only the first of a batch: the outbox feed leaves out the rows this
//! node committed (its writer delivers those), so one room's rows in one
//! outbox read can have holes that only history fills. A gap that history
//! no longer holds (pruned meanwhile) is skipped, so a room never stalls.

use std::sync::Arc;

use postgres::Client;

use super::event::{Event, Message};
use super::history::HistoryQuery;
use super::history_pg;
use super::room::{Counters, Room, lock};

/// Most history pages one catch-up reads before it gives the room up to
/// the next check: bounds the work one lost notification can cause.
const CATCH_UP_PAGES_MAX: usize = 64;

/// Delivers `msgs` (one room's, in seq order) to `room`'s members, reading
/// from history whatever lies between the room's last delivered seq and
/// each of them. With no `msgs`, catches the room up to `top` (the
/// periodic check).
pub(super) fn deliver_in_order(
    c: &mut Client,
    room: &Arc<Room>,
    msgs: &[Arc<Message>],
    top: u64,
    page_max: usize,
    counters: &Counters,
) -> Result<(), postgres::Error> {
    merge(
        |after| {
            Ok(history_pg::query(c, &room.name, HistoryQuery::After(after), page_max)?.messages)
        },
        room,
        msgs,
        top,
        counters,
    )
}

/// [`deliver_in_order`] over any history: `read(after)` returns the room's
/// stored messages after seq `after`, in seq order (one page).
fn merge<E>(
    mut read: impl FnMut(u64) -> Result<Vec<Arc<Message>>, E>,
    room: &Arc<Room>,
    msgs: &[Arc<Message>],
    top: u64,
    counters: &Counters,
) -> Result<(), E> {
    if msgs.is_empty() {
        return fill(&mut read, room, top, counters);
    }
    for m in msgs {
        fill(&mut read, room, m.id.saturating_sub(1), counters)?;
        let mut st = lock(&room.state);
        if st.closed {
            return Ok(());
        }
        if m.id <= st.last_id {
            continue; // a duplicate: already delivered
        }
        // Contiguous: `fill` reached its predecessor (or skipped what
        // history no longer has).
        st.last_id = m.id;
        st.deliver(&room.name, Event::Message(m.clone()), counters);
    }
    Ok(())
}

/// Reads history after the room's last delivered seq and delivers it, up
/// to `target`; if history has nothing more up to `target` (pruned), the
/// room's last seq jumps to `target`.
fn fill<E>(
    read: &mut impl FnMut(u64) -> Result<Vec<Arc<Message>>, E>,
    room: &Arc<Room>,
    target: u64,
    counters: &Counters,
) -> Result<(), E> {
    for _ in 0..CATCH_UP_PAGES_MAX {
        let from = {
            let st = lock(&room.state);
            if st.closed || st.last_id >= target {
                return Ok(());
            }
            st.last_id
        };
        let page = read(from)?;
        let mut st = lock(&room.state);
        // Whether history holds anything in (from, target]: if it does not,
        // the gap was pruned. Rows another thread delivered while this one
        // read count too: they are there, so nothing is skipped for them.
        let mut held = false;
        for m in page {
            if m.id > target {
                break;
            }
            if m.id <= from {
                continue;
            }
            held = true;
            if m.id <= st.last_id {
                continue; // delivered meanwhile by the writer or the feed
            }
            st.last_id = m.id;
            st.deliver(&room.name, Event::Message(m), counters);
        }
        if !held {
            // History no longer holds the gap: skip it rather than stall.
            st.last_id = st.last_id.max(target);
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::chat::event::{DoorKind, Event, SessionId};
    use crate::service::chat::flood::TokenBucket;
    use crate::service::chat::inbox::{self, Inbox};
    use crate::service::chat::room::{Member, Profile};

    fn msg(id: u64) -> Arc<Message> {
        Arc::new(Message::new(
            Arc::from("ops"),
            id,
            0,
            Arc::from("ann"),
            false,
            format!("m{id}"),
            None,
        ))
    }

    fn room_with_member(last_id: u64) -> (Arc<Room>, Inbox) {
        let room = Arc::new(Room::new(Arc::from("ops"), last_id, Arc::from("e")));
        let (outbox, inbox) = inbox::channel(1024);
        let member = Arc::new(Member {
            id: SessionId(1),
            door: DoorKind::Frame,
            peer: None,
            outbox,
            profile: std::sync::Mutex::new(Profile {
                typed: Vec::new(),
                name: Arc::from("dan"),
                guest: false,
                guest_key: None,
                rooms: Vec::new(),
                bucket: TokenBucket::new(1.0, 1),
            }),
        });
        lock(&room.state).members.push(member);
        (room, inbox)
    }

    fn seen(inbox: &mut Inbox) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some(ev) = inbox.try_recv() {
            if let Event::Message(m) = ev {
                out.push(m.id);
            }
        }
        out
    }

    /// The outbox feed leaves out this node's own rows, so one read can be
    /// 285, 287 with 286 (committed here, not yet delivered by the writer)
    /// only in history: 286 must come from history before 287, and the
    /// writer's late delivery of 286 is then a duplicate.
    #[test]
    fn a_hole_inside_one_outbox_batch_is_filled_from_history_before_what_follows_it() {
        let history: Vec<Arc<Message>> = (285..=287).map(msg).collect();
        let read = |after: u64| -> Result<_, ()> {
            Ok(history.iter().filter(|m| m.id > after).cloned().collect())
        };
        let (room, mut inbox) = room_with_member(284);
        let counters = Counters::default();
        merge(read, &room, &[msg(285), msg(287)], 0, &counters).unwrap();
        merge(read, &room, &[msg(286)], 0, &counters).unwrap();
        assert_eq!(seen(&mut inbox), [285, 286, 287]);
    }

    /// The history `(1..=top)` as a reader over pages of `page` rows.
    fn pages(top: u64, page: usize) -> impl Fn(u64) -> Result<Vec<Arc<Message>>, ()> {
        move |after| Ok((after + 1..=top).take(page).map(msg).collect())
    }

    /// Recovery of N+1 in flight on one thread (the feed read N+2 with a
    /// hole before it, this node's own N+1, and is reading the hole from
    /// history) while the live N+2 reaches the room on another (the
    /// writer, or the next outbox read): the live N+2 waits for N+1, and
    /// neither is delivered twice. Each place the other thread can come
    /// in: before the recovering thread reads its page, and after it read
    /// the page but before it takes the room's lock to apply it.
    #[test]
    fn a_live_message_two_ahead_while_recovery_of_the_one_before_is_in_flight() {
        for other_first in [true, false] {
            let (room, mut inbox) = room_with_member(10);
            let counters = Counters::default();
            let mut other_ran = false;
            let recovering = |after: u64| -> Result<_, ()> {
                let other = |r: &Arc<Room>| merge(pages(12, 100), r, &[msg(12)], 0, &counters);
                if other_first && !other_ran {
                    other_ran = true;
                    other(&room)?;
                }
                let page = pages(12, 100)(after)?;
                if !other_ran {
                    other_ran = true;
                    other(&room)?;
                }
                Ok(page)
            };
            merge(recovering, &room, &[msg(12)], 0, &counters).unwrap();
            assert_eq!(
                seen(&mut inbox),
                [11, 12],
                "other thread first: {other_first}"
            );
            assert_eq!(lock(&room.state).last_id, 12);
        }
    }

    /// The periodic top check recovering N+1..=N+3 while the writer merges
    /// its own N+2 (whose predecessor it must read itself): each message
    /// once, in order, whichever thread delivers it.
    #[test]
    fn the_top_check_and_the_writer_recovering_the_same_gap_deliver_each_once_in_order() {
        let (room, mut inbox) = room_with_member(10);
        let counters = Counters::default();
        let mut other_ran = false;
        let checking = |after: u64| -> Result<_, ()> {
            if !other_ran {
                other_ran = true;
                merge(pages(13, 1), &room, &[msg(12)], 0, &counters)?;
            }
            pages(13, 1)(after)
        };
        merge(checking, &room, &[], 13, &counters).unwrap();
        assert_eq!(seen(&mut inbox), [11, 12, 13]);
    }

    #[test]
    fn a_gap_history_no_longer_holds_is_skipped_and_the_rest_delivered() {
        let read = |_after: u64| -> Result<Vec<Arc<Message>>, ()> { Ok(Vec::new()) };
        let (room, mut inbox) = room_with_member(10);
        merge(read, &room, &[msg(14), msg(15)], 0, &Counters::default()).unwrap();
        assert_eq!(seen(&mut inbox), [14, 15]);
    }

    /// A page whose rows up to the target were all delivered meanwhile by
    /// the other thread is not a pruned gap: what lies after them in the
    /// next page is still read, not skipped.
    #[test]
    fn rows_delivered_meanwhile_by_the_other_thread_do_not_count_as_a_pruned_gap() {
        let history: Vec<Arc<Message>> = (1..=6).map(msg).collect();
        let (room, mut inbox) = room_with_member(0);
        let counters = Counters::default();
        let mut reads = 0;
        let read = |after: u64| -> Result<_, ()> {
            reads += 1;
            if reads == 1 {
                // The other thread delivers 1..=3 while this page is read.
                let mut st = lock(&room.state);
                for m in &history[..3] {
                    st.last_id = m.id;
                    st.deliver(&room.name, Event::Message(m.clone()), &counters);
                }
            }
            // Pages of three rows.
            Ok(history
                .iter()
                .filter(|m| m.id > after)
                .take(3)
                .cloned()
                .collect())
        };
        merge(read, &room, &[], 6, &counters).unwrap();
        assert_eq!(seen(&mut inbox), [1, 2, 3, 4, 5, 6]);
    }
}
