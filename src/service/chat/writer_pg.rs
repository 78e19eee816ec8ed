//! The writer's commit on PostgreSQL (see `writer` for the thread and
//! `history_pg` for the transaction): the database gives the seqs, since
//! other nodes commit to the same rooms; the fan-out then merges by seq
//! (see `merge`), reading from history any message another node committed
//! in between, before the ack.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::error::ChatError;
use super::event::Message;
use super::history_pg::{self, NewMessage};
use super::keys;
use super::merge;
use super::room::{Counters, Room, lock};
use super::writer::{Pending, fail, resent};
use crate::store::pg::PgConn;

/// Commits `batch` (emptying it), merges each room's new messages into its
/// fan-out and acks them; or fails them all with a retryable error (the
/// server may be down).
pub(super) fn commit_pg(
    conn: &mut PgConn,
    batch: &mut Vec<Pending>,
    (ts, node): (u64, &str),
    page_max: usize,
    c: &Counters,
) {
    let leaders = keys::leaders(batch);
    // The batch's rooms in first-seen order, each with its publishes that
    // are not resends of an earlier one in the batch.
    let mut groups: Vec<(Arc<Room>, Vec<usize>)> = Vec::new();
    for (i, p) in batch.iter().enumerate() {
        if leaders[i].is_some() {
            continue;
        }
        match groups.iter_mut().find(|(r, _)| Arc::ptr_eq(r, &p.room)) {
            Some((_, idx)) => idx.push(i),
            None => groups.push((p.room.clone(), vec![i])),
        }
    }
    let rows: Vec<(&str, Vec<NewMessage<'_>>)> = groups
        .iter()
        .map(|(room, idx)| {
            let msgs = idx
                .iter()
                .map(|&i| NewMessage {
                    name: &batch[i].name,
                    guest: batch[i].guest,
                    text: &batch[i].text,
                    key: batch[i].key.as_deref(),
                })
                .collect();
            (&*room.name, msgs)
        })
        .collect();
    let expires = ts.saturating_add(keys::ttl_millis());
    let started = std::time::Instant::now();
    let done = conn.with(|client| history_pg::publish(client, &rows, (ts, expires), node));
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
    for ((room, idx), published) in groups.iter().zip(done) {
        let mut fresh = Vec::with_capacity(idx.len());
        for (&i, outcome) in idx.iter().zip(&published.outcomes) {
            let p = &mut batch[i];
            let m = match *outcome {
                history_pg::Outcome::Fresh(seq) => {
                    let m = Arc::new(Message::new(
                        room.name.clone(),
                        seq,
                        ts,
                        p.name.clone(),
                        p.guest,
                        std::mem::take(&mut p.text),
                        Some(p.origin),
                    ));
                    fresh.push(m.clone());
                    m
                }
                history_pg::Outcome::Stored(seq) => {
                    let found = conn
                        .with(|client| history_pg::message_at(client, &room.name, seq))
                        .ok()
                        .flatten();
                    resent(p, seq, found)
                }
            };
            acks[i] = Some(m);
        }
        c.messages.fetch_add(fresh.len() as u64, Ordering::Relaxed);
        let merged =
            conn.with(|client| merge::deliver_in_order(client, room, &fresh, 0, page_max, c));
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
