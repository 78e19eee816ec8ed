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

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::error::ChatError;
use super::event::{Event, Message, SessionId};
use super::history;
use super::room::{Counters, Room, lock};

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
    conn: Connection,
    rx: mpsc::Receiver<Pending>,
    max_batch: usize,
    counters: Arc<Counters>,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("chat-writer".into())
        .spawn(move || run(conn, rx, max_batch.max(1), &counters))
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Pending>, max_batch: usize, c: &Counters) {
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
        commit(&mut conn, &mut batch, last_ts, c);
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
    let started = std::time::Instant::now();
    let stored = history::insert_batch(conn, &msgs);
    crate::ops::metrics::chat_commit(started.elapsed());
    match stored {
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
            let e = ChatError::Store(Arc::from(e.to_string()));
            for p in batch.drain(..) {
                let mut st = lock(&p.room.state);
                st.pending = st.pending.saturating_sub(1);
                drop(st);
                let _ = p.ack.send(Err(e.clone()));
            }
        }
    }
}

pub(super) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
