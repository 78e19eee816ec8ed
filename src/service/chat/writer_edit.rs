//! The writer's commit of an edit or delete (see `edit`), on either store.
//! The writer commits each one alone, in its place in the queue: the rule
//! check reads the message it targets and must see every change committed
//! before it (a delete just ahead of an edit refuses the edit).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rusqlite::Connection;

use super::error::ChatError;
use super::event::{Event, Message};
use super::room::{Counters, lock};
use super::search_pg::{self, AmendRequest};
use super::writer::{Pending, fail};
use super::{edit, history_edit, merge};
use crate::store::pg::PgConn;

/// Checks and commits the edit or delete `p`, then fans it out and acks
/// it (or fails it with the reason).
pub(super) fn amend_sqlite(
    conn: &mut Connection,
    p: Pending,
    (ts, window): (u64, Duration),
    c: &Counters,
) {
    let Some(edit::Change {
        target,
        amend,
        since,
    }) = p.amend.clone()
    else {
        return;
    };
    let room = p.room.clone();
    let allowed = if matches!(amend, edit::Amend::Topic(_)) {
        edit::check_topic(p.guest)
    } else {
        match history_edit::target(conn, &room.name, target) {
            Ok(found) => {
                let who = (&*p.name, p.guest, since);
                edit::check(found.as_ref(), (&room.name, target), who, ts, window)
            }
            Err(e) => Err(ChatError::Store(Arc::from(e.to_string()))),
        }
    };
    if let Err(e) = allowed {
        return fail(&mut vec![p], &e);
    }
    // Only this thread raises a room's last id (see `writer::commit`).
    let id = lock(&room.state).last_id + 1;
    let m = entry(&p, id, ts, target, &amend);
    if let Err(e) = history_edit::commit(conn, &m, &amend) {
        tracing::error!(error = %e, room = %room.name, "chat edit commit failed");
        return fail(&mut vec![p], &ChatError::Store(Arc::from(e.to_string())));
    }
    c.commits.fetch_add(1, Ordering::Relaxed);
    c.messages.fetch_add(1, Ordering::Relaxed);
    let m = Arc::new(m);
    {
        let mut st = lock(&room.state);
        st.pending = st.pending.saturating_sub(1);
        st.last_id = m.id;
        st.deliver(&room.name, Event::Message(m.clone()), c);
    }
    let _ = p.ack.send(Ok(m));
}

/// [`amend_sqlite`] on PostgreSQL: the database checks and gives the seq
/// in one transaction; the entry is then merged into the room's fan-out
/// by seq like any message.
pub(super) fn amend_pg(
    conn: &mut PgConn,
    p: Pending,
    (ts, window, node): (u64, Duration, &str),
    page_max: usize,
    c: &Counters,
) {
    let Some(change) = p.amend.clone() else {
        return;
    };
    let (target, amend) = (change.target, change.amend);
    let room = p.room.clone();
    let req = AmendRequest {
        name: &p.name,
        guest: p.guest,
        since: change.since,
        target,
        amend: &amend,
    };
    let done = conn.with(|client| search_pg::amend(client, &room.name, &req, (ts, window), node));
    let seq = match done {
        Ok(Ok(seq)) => seq,
        Ok(Err(e)) => return fail(&mut vec![p], &e),
        Err(e) => {
            tracing::error!(error = %e, room = %room.name, "chat edit commit to PostgreSQL failed");
            let e = ChatError::Store(Arc::from(format!("PostgreSQL: {e}")));
            return fail(&mut vec![p], &e);
        }
    };
    c.commits.fetch_add(1, Ordering::Relaxed);
    c.messages.fetch_add(1, Ordering::Relaxed);
    let m = Arc::new(entry(&p, seq, ts, target, &amend));
    let merged = conn.with(|client| {
        merge::deliver_in_order(client, &room, std::slice::from_ref(&m), 0, page_max, c)
    });
    if let Err(e) = merged {
        // Committed: the cluster feed's next check delivers it.
        tracing::warn!(error = %e, room = %room.name, "reading history to merge an edit");
    }
    {
        let mut st = lock(&room.state);
        st.pending = st.pending.saturating_sub(1);
    }
    let _ = p.ack.send(Ok(m));
}

/// The log entry for `p`'s change of message `target`, numbered `id`.
fn entry(p: &Pending, id: u64, ts: u64, target: u64, amend: &edit::Amend) -> Message {
    Message::new(
        p.room.name.clone(),
        id,
        ts,
        p.name.clone(),
        p.guest,
        amend.text().to_owned(),
        Some(p.origin),
    )
    .with_revision(amend.revision(target))
}
