//! The group-commit writer: one thread owns the history connection.
//!
//! It blocks for the first pending publish, takes every other one already
//! queued (up to the batch limit), gives each its room's next id and one
//! timestamp, commits them all in one transaction, and only then fans each
//! message out and acks its sender. So a message is never seen by anyone
//! before it is durable, and under load one commit carries hundreds of
//! messages: durability costs one commit per batch, not per message.
//! Because this single thread assigns ids and fans out in commit order,
//! every member sees a room's messages in id order with no gap.
//!
//! On PostgreSQL (a cluster) the database assigns the ids (seqs) inside
//! the batch's transaction, since other nodes commit to the same rooms;
//! the fan-out then merges by seq (see `merge`), reading from history any
//! message another node committed in between, before the ack.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::db::Db;
use super::error::ChatError;
use super::event::{Event, Message, SessionId};
use super::history;
use super::history_pg::{self, NewMessage};
use super::merge;
use super::room::{Counters, Room, lock};
use crate::store::pg::PgConn;

/// A publish waiting for the writer.
pub(super) struct Pending {
    pub room: Arc<Room>,
    pub name: Arc<str>,
    pub guest: bool,
    pub text: String,
    pub origin: SessionId,
    pub ack: oneshot::Sender<Result<Arc<Message>, ChatError>>,
}

/// Starts the writer thread; it ends when every sender is dropped.
pub(super) fn spawn(
    conn: Db,
    rx: mpsc::Receiver<Pending>,
    limits: (usize, usize),
    counters: Arc<Counters>,
) -> io::Result<JoinHandle<()>> {
    let (max_batch, page_max) = limits;
    std::thread::Builder::new()
        .name("chat-writer".into())
        .spawn(move || run(conn, rx, (max_batch.max(1), page_max), &counters))
}

fn run(mut conn: Db, mut rx: mpsc::Receiver<Pending>, limits: (usize, usize), c: &Counters) {
    let (max_batch, page_max) = limits;
    let mut batch = Vec::with_capacity(max_batch);
    let mut last_ts = 0;
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        // Timestamps never go backwards, even if the wall clock does.
        last_ts = now_millis().max(last_ts);
        match &mut conn {
            Db::Sqlite(conn) => commit(conn, &mut batch, last_ts, c),
            Db::Pg(conn) => commit_pg(conn, &mut batch, last_ts, page_max, c),
        }
    }
}

/// Commits `batch` (emptying it) to PostgreSQL, where the ids are given,
/// then merges each room's new messages into its fan-out and acks them;
/// or fails them all with a retryable error (the server may be down).
fn commit_pg(conn: &mut PgConn, batch: &mut Vec<Pending>, ts: u64, page_max: usize, c: &Counters) {
    // The batch's rooms in first-seen order, each with its publishes.
    let mut groups: Vec<(Arc<Room>, Vec<usize>)> = Vec::new();
    for (i, p) in batch.iter().enumerate() {
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
                })
                .collect();
            (&*room.name, msgs)
        })
        .collect();
    let firsts = conn.with(|client| history_pg::publish(client, &rows, ts));
    drop(rows);
    let firsts = match firsts {
        Ok(f) => f,
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
    c.messages.fetch_add(batch.len() as u64, Ordering::Relaxed);
    let mut acks: Vec<Option<Pending>> = batch.drain(..).map(Some).collect();
    for ((room, idx), (first, _epoch)) in groups.iter().zip(firsts) {
        let mut msgs = Vec::with_capacity(idx.len());
        for (k, &i) in idx.iter().enumerate() {
            let Some(p) = acks[i].as_mut() else { continue };
            let m = Message::new(
                room.name.clone(),
                first + k as u64,
                ts,
                p.name.clone(),
                p.guest,
                std::mem::take(&mut p.text),
                Some(p.origin),
            );
            msgs.push(Arc::new(m));
        }
        let merged =
            conn.with(|client| merge::deliver_in_order(client, room, &msgs, 0, page_max, c));
        if let Err(e) = merged {
            // Committed: the ack stands; the members get the messages at
            // the cluster feed's next check.
            tracing::warn!(error = %e, room = %room.name, "reading history to merge a commit");
        }
        {
            let mut st = lock(&room.state);
            st.pending = st.pending.saturating_sub(idx.len());
        }
        for (&i, m) in idx.iter().zip(msgs) {
            if let Some(p) = acks[i].take() {
                let _ = p.ack.send(Ok(m));
            }
        }
    }
}

/// Fails every publish in `batch` (emptying it) with `e`.
fn fail(batch: &mut Vec<Pending>, e: &ChatError) {
    for p in batch.drain(..) {
        let mut st = lock(&p.room.state);
        st.pending = st.pending.saturating_sub(1);
        drop(st);
        let _ = p.ack.send(Err(e.clone()));
    }
}

/// Commits `batch` (emptying it), then acks and fans out, or fails them all.
fn commit(conn: &mut Connection, batch: &mut Vec<Pending>, ts: u64, c: &Counters) {
    // Next ids, per room in this batch. Only this thread raises a room's
    // last_id, so reading it now and raising it after the commit is safe.
    let mut next: Vec<(Arc<str>, u64)> = Vec::new();
    let msgs: Vec<Arc<Message>> = batch
        .iter_mut()
        .map(|p| {
            let id = match next.iter_mut().find(|(r, _)| *r == p.room.name) {
                Some((_, id)) => {
                    *id += 1;
                    *id
                }
                None => {
                    let id = lock(&p.room.state).last_id + 1;
                    next.push((p.room.name.clone(), id));
                    id
                }
            };
            let text = std::mem::take(&mut p.text);
            let m = Message::new(
                p.room.name.clone(),
                id,
                ts,
                p.name.clone(),
                p.guest,
                text,
                Some(p.origin),
            );
            Arc::new(m)
        })
        .collect();
    match history::insert_batch(conn, &msgs) {
        Ok(()) => {
            c.commits.fetch_add(1, Ordering::Relaxed);
            c.messages.fetch_add(msgs.len() as u64, Ordering::Relaxed);
            for (p, m) in batch.drain(..).zip(msgs) {
                {
                    let mut st = lock(&p.room.state);
                    st.pending = st.pending.saturating_sub(1);
                    st.last_id = m.id;
                    st.deliver(&p.room.name, Event::Message(m.clone()), c);
                }
                // Acked after the fan-out: when `publish` returns, the
                // message is in every member's queue, so a door (or test)
                // that saw the ack knows the room has it too.
                let _ = p.ack.send(Ok(m));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, messages = batch.len(), "chat history commit failed");
            fail(batch, &ChatError::Store(Arc::from(e.to_string())));
        }
    }
}

pub(super) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
