//! The writer's commit on PostgreSQL (see `writer` for the thread and
//! `publish_pg` for the transaction): the database gives the seqs, since
//! other nodes commit to the same rooms; the fan-out then merges by seq
//! (see `merge`), reading from history any message another node committed
//! in between, before the ack.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::error::ChatError;
use super::event::Message;
use super::history_pg;
use super::keys;
use super::merge;
use super::publish_pg::{self, NewMessage, Outcome};
use super::room::{Counters, Room, lock};
use super::writer::{Pending, fail, resent};
use crate::store::pg::PgConn;

/// Commits `batch` (emptying it) in one call (see `publish_pg`), merges
/// each room's new messages into its fan-out and acks them; or fails them
/// all with a retryable error (the server may be down).
pub(super) fn commit_pg(
    conn: &mut PgConn,
    batch: &mut Vec<Pending>,
    (ts, node): (u64, &str),
    page_max: usize,
    c: &Counters,
) {
    let leaders = keys::leaders(batch);
    // The publishes that are not resends of an earlier one in the batch,
    // by their index in it.
    let sent: Vec<usize> = (0..batch.len()).filter(|&i| leaders[i].is_none()).collect();
    let rows: Vec<NewMessage<'_>> = sent
        .iter()
        .map(|&i| NewMessage {
            room: &batch[i].room.name,
            name: &batch[i].name,
            guest: batch[i].guest,
            text: &batch[i].text,
            key: batch[i].key.as_deref(),
        })
        .collect();
    let expires = ts.saturating_add(keys::ttl_millis());
    let started = std::time::Instant::now();
    let done = conn.with_prepared(publish_pg::PUBLISH, |client, st| {
        publish_pg::publish(client, st, &rows, (ts, expires), node)
    });
    crate::ops::metrics::chat_commit(started.elapsed());
    drop(rows);
    let done = match done {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, messages = batch.len(), "chat commit to PostgreSQL failed");
            fail(
                batch,
                &ChatError::Store(Arc::from(format!("PostgreSQL: {e}"))),
            );
            return;
        }
    };
    c.commits.fetch_add(1, Ordering::Relaxed);
    let mut acks: Vec<Option<Arc<Message>>> = vec![None; batch.len()];
    // Each room's new messages, in seq order (a room's seqs follow the
    // batch's order), for the merge below.
    let mut fresh: Vec<(Arc<Room>, Vec<Arc<Message>>)> = Vec::new();
    for (&i, outcome) in sent.iter().zip(done) {
        let p = &mut batch[i];
        let m = match outcome {
            Some(Outcome::Fresh(seq)) => {
                let m = Arc::new(Message::new(
                    p.room.name.clone(),
                    seq,
                    ts,
                    p.name.clone(),
                    p.guest,
                    std::mem::take(&mut p.text),
                    Some(p.origin),
                ));
                match fresh.iter_mut().find(|(r, _)| Arc::ptr_eq(r, &p.room)) {
                    Some((_, ms)) => ms.push(m.clone()),
                    None => fresh.push((p.room.clone(), vec![m.clone()])),
                }
                m
            }
            Some(Outcome::Stored(seq)) => {
                let found = conn
                    .with(|client| history_pg::message_at(client, &p.room.name, seq))
                    .ok()
                    .flatten();
                resent(p, seq, found)
            }
            None => continue,
        };
        acks[i] = Some(m);
    }
    for (room, msgs) in &fresh {
        c.messages.fetch_add(msgs.len() as u64, Ordering::Relaxed);
        let merged =
            conn.with(|client| merge::deliver_in_order(client, room, msgs, 0, page_max, c));
        if let Err(e) = merged {
            // Committed: the ack stands; the members get the messages at
            // the cluster feed's next check.
            tracing::warn!(error = %e, room = %room.name, "reading history to merge a commit");
        }
    }
    for (i, p) in batch.drain(..).enumerate() {
        {
            let mut st = lock(&p.room.state);
            st.pending = st.pending.saturating_sub(1);
        }
        let m = match leaders[i] {
            Some(j) => acks[j].clone(),
            None => acks[i].clone(),
        };
        match m {
            Some(m) => {
                let _ = p.ack.send(Ok(m));
            }
            None => {
                let _ = p.ack.send(Err(ChatError::Store(Arc::from(
                    "the commit's result was lost",
                ))));
            }
        }
    }
}
