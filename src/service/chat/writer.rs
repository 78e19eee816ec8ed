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
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::db::Db;
use super::edit::Change;
use super::error::ChatError;
use super::event::{Event, Message, SessionId};
use super::history;
use super::keys;
use super::room::{Counters, Room, lock};
use super::writer_edit::{amend_pg, amend_sqlite};
use super::writer_pg::commit_pg;

/// A publish waiting for the writer.
pub(super) struct Pending {
    pub room: Arc<Room>,
    pub name: Arc<str>,
    pub guest: bool,
    pub text: String,
    pub origin: SessionId,
    /// The sender's idempotency key (see `keys`).
    pub key: Option<String>,
    /// An edit, delete or topic change instead of a new message (see
    /// `edit`); `text` is then unused.
    pub amend: Option<Change>,
    pub ack: oneshot::Sender<Result<Arc<Message>, ChatError>>,
}

/// Starts the writer thread; it ends when every sender is dropped.
pub(super) fn spawn(
    conn: Db,
    rx: mpsc::Receiver<Pending>,
    limits: (usize, usize, Duration),
    node: Arc<str>,
    counters: Arc<Counters>,
) -> io::Result<JoinHandle<()>> {
    let (max_batch, page_max, window) = limits;
    std::thread::Builder::new()
        .name("chat-writer".into())
        .spawn(move || {
            run(
                conn,
                rx,
                (max_batch.max(1), page_max, window),
                &node,
                &counters,
            )
        })
}

/// `node` names this node in the cluster (empty on SQLite): its commits
/// carry it, so that its own cluster feed leaves them to this thread.
fn run(
    mut conn: Db,
    mut rx: mpsc::Receiver<Pending>,
    limits: (usize, usize, Duration),
    node: &str,
    c: &Counters,
) {
    let (max_batch, page_max, window) = limits;
    let mut batch = Vec::with_capacity(max_batch);
    let mut last_ts = 0;
    let mut last_size = 0;
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        take_queued(&mut rx, &mut batch, max_batch);
        if matches!(conn, Db::Pg(_)) {
            linger(&mut rx, &mut batch, (last_size, max_batch));
        }
        last_size = batch.len();
        // Timestamps never go backwards, even if the wall clock does.
        last_ts = now_millis().max(last_ts);
        // Edits and deletes are committed alone, in their place: runs of
        // messages between them go as one commit each.
        while !batch.is_empty() {
            let first_amend = batch.iter().position(|p| p.amend.is_some());
            let mut run = match first_amend {
                Some(0) => {
                    let p = batch.remove(0);
                    match &mut conn {
                        Db::Sqlite(conn) => amend_sqlite(conn, p, (last_ts, window), c),
                        Db::Pg(conn) => amend_pg(conn, p, (last_ts, window, node), page_max, c),
                    }
                    continue;
                }
                Some(k) => batch.drain(..k).collect(),
                None => std::mem::take(&mut batch),
            };
            match &mut conn {
                Db::Sqlite(conn) => commit(conn, &mut run, last_ts, c),
                Db::Pg(conn) => commit_pg(conn, &mut run, (last_ts, node), page_max, c),
            }
        }
    }
}

/// Longest the writer waits, on PostgreSQL, for a batch to grow back to
/// the size of the one before: a fraction of one WAL flush (about 4 ms on
/// this machine's disk, see docs/SCALING.md), which each message that
/// joins the batch instead of the next one saves.
const LINGER_MAX: Duration = Duration::from_micros(1000);

/// How often the writer looks for more publishes while it lingers; a look
/// that finds none ends the wait (the burst is over).
const LINGER_STEP: Duration = Duration::from_micros(100);

/// Moves publishes already queued into `batch`, up to `max` in all.
fn take_queued(rx: &mut mpsc::Receiver<Pending>, batch: &mut Vec<Pending>, max: usize) {
    while batch.len() < max {
        match rx.try_recv() {
            Ok(p) => batch.push(p),
            Err(_) => break,
        }
    }
}

/// Group commit under load, on PostgreSQL: when the batch is smaller than
/// `target` (the size of the one before; never more than `max`), waits up to [`LINGER_MAX`] for
/// the publishers acked by the last commit to send their next messages,
/// so that one flush carries them rather than two. Publishers have a
/// bounded number of messages in flight (64 per line connection), so a
/// commit started the moment the first of them came back would carry a
/// few and leave the rest to wait a whole flush. At idle (`target` 1 or
/// less) there is no wait.
fn linger(
    rx: &mut mpsc::Receiver<Pending>,
    batch: &mut Vec<Pending>,
    (target, max): (usize, usize),
) {
    let started = std::time::Instant::now();
    while batch.len() < target.min(max) && started.elapsed() < LINGER_MAX {
        std::thread::sleep(LINGER_STEP);
        let before = batch.len();
        take_queued(rx, batch, max);
        if batch.len() == before {
            return;
        }
    }
}

/// Fails every publish in `batch` (emptying it) with `e`.
pub(super) fn fail(batch: &mut Vec<Pending>, e: &ChatError) {
    for p in batch.drain(..) {
        let mut st = lock(&p.room.state);
        st.pending = st.pending.saturating_sub(1);
        drop(st);
        let _ = p.ack.send(Err(e.clone()));
    }
}

/// What becomes of one publish of a batch.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fate {
    /// Posted now.
    Fresh,
    /// A resend of the earlier publish at this index of the same batch.
    SameAs(usize),
    /// A resend of the message already committed with this id.
    Stored(u64),
}

/// Commits `batch` (emptying it), then acks and fans out, or fails them all.
fn commit(conn: &mut Connection, batch: &mut Vec<Pending>, ts: u64, c: &Counters) {
    // Resends first: only this thread writes keys, so reading them before
    // the transaction is safe.
    let mut fates: Vec<Fate> = Vec::with_capacity(batch.len());
    for (p, leader) in batch.iter().zip(keys::leaders(batch)) {
        let fate = match (leader, p.key.as_deref()) {
            (Some(j), _) => Fate::SameAs(j),
            (None, Some(k)) => match keys::find(conn, &p.room.name, &p.name, k, ts) {
                Ok(Some(id)) => Fate::Stored(id),
                Ok(None) => Fate::Fresh,
                Err(e) => {
                    fail(batch, &ChatError::Store(Arc::from(e.to_string())));
                    return;
                }
            },
            (None, None) => Fate::Fresh,
        };
        fates.push(fate);
    }
    // Next ids, per room in this batch. Only this thread raises a room's
    // last_id, so reading it now and raising it after the commit is safe.
    let mut next: Vec<(Arc<str>, u64)> = Vec::new();
    let msgs: Vec<Option<Arc<Message>>> = batch
        .iter_mut()
        .zip(&fates)
        .map(|(p, fate)| {
            if !matches!(fate, Fate::Fresh) {
                return None;
            }
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
            Some(Arc::new(m))
        })
        .collect();
    let fresh: Vec<Arc<Message>> = msgs.iter().flatten().cloned().collect();
    let key_rows: Vec<history::KeyRow<'_>> = batch
        .iter()
        .zip(&msgs)
        .filter_map(|(p, m)| Some((&*p.room.name, &*p.name, p.key.as_deref()?, m.as_ref()?.id)))
        .collect();
    let expires = ts.saturating_add(keys::ttl_millis());
    let started = std::time::Instant::now();
    let done = history::insert_batch(conn, &fresh, &key_rows, expires);
    crate::ops::metrics::chat_commit(started.elapsed());
    drop(key_rows);
    if let Err(e) = done {
        tracing::error!(error = %e, messages = batch.len(), "chat history commit failed");
        fail(batch, &ChatError::Store(Arc::from(e.to_string())));
        return;
    }
    c.commits.fetch_add(1, Ordering::Relaxed);
    c.messages.fetch_add(fresh.len() as u64, Ordering::Relaxed);
    let mut acks: Vec<Option<Arc<Message>>> = Vec::with_capacity(batch.len());
    for (i, p) in batch.drain(..).enumerate() {
        let mut st = lock(&p.room.state);
        st.pending = st.pending.saturating_sub(1);
        let m = match fates[i] {
            Fate::Fresh => msgs[i].clone().inspect(|m| {
                st.last_id = m.id;
                st.deliver(&p.room.name, Event::Message(m.clone()), c);
            }),
            Fate::SameAs(j) => acks.get(j).cloned().flatten(),
            Fate::Stored(id) => {
                drop(st);
                let found = keys::message_at(conn, &p.room.name, id).ok().flatten();
                Some(resent(&p, id, found))
            }
        };
        acks.push(m.clone());
        // Acked after the fan-out: when `publish` returns, the message is
        // in every member's queue, so a door (or test) that saw the ack
        // knows the room has it too.
        if let Some(m) = m {
            let _ = p.ack.send(Ok(m));
        }
    }
}

/// The answer to a resend of message `id`: the original as history holds
/// it, or (if pruned meanwhile) its id with the resent text.
pub(super) fn resent(p: &Pending, id: u64, found: Option<(u64, String)>) -> Arc<Message> {
    let (ts, text) = found.unwrap_or_else(|| (0, p.text.clone()));
    Arc::new(Message::new(
        p.room.name.clone(),
        id,
        ts,
        p.name.clone(),
        p.guest,
        text,
        None,
    ))
}

pub(super) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
