//! Unverified sources: a message posted without membership, and replies
//! paid for by the source's budget.
//!
//! A source that has not echoed a cookie may still chat the classic way:
//! it sends `{"name", "msg"}`, the message goes to the room (no join, no
//! presence, no name held), and it is sent back, oldest first, what others
//! said in that room since its previous message, as much as its credit
//! pays for, in the short form `{"name", "msg"}`; when there is nothing
//! new (or nothing affordable), the message it just posted, as posted. So
//! every message gets one reply with `name` and `msg`, and an alternating
//! client (send one, read one) works within three times what it sends.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Serialize;

use super::budget::Budgets;
use super::request::{Request, error_reply};
use super::transmit::Transmit;
use crate::service::chat::{ChatError, ChatHub, DEFAULT_ROOM, HistoryQuery, Message};

/// Posting tasks for unverified sources at once, across all of them: each
/// may wait on the account registry, a commit and a history read. Past it,
/// unverified datagrams with a message are dropped unanswered, so forged
/// traffic cannot queue work without bound.
pub const VISITOR_TASKS: usize = 32;

/// What unverified replies need: the way out and the budget table.
pub struct Out {
    /// The door's way out.
    pub socket: Arc<dyn Transmit>,
    /// Credit per unverified source.
    pub budgets: Arc<Mutex<Budgets>>,
}

impl Out {
    /// Sends `bytes` to `peer` if its credit pays for them; false if not.
    pub fn send(&self, peer: SocketAddr, bytes: &[u8]) -> bool {
        let paid = lock(&self.budgets).spend(peer, bytes.len());
        if !paid {
            tracing::debug!(%peer, len = bytes.len(), "reply over the unverified budget; not sent");
            return false;
        }
        if let Err(e) = self.socket.try_send_to(bytes, peer) {
            tracing::debug!(%peer, error = %e, "reply not sent");
        }
        true
    }
}

/// The table's lock; a panic while holding it cannot leave credit wrong
/// in a way that raises it, so a poisoned lock is used as is.
pub fn lock(b: &Mutex<Budgets>) -> std::sync::MutexGuard<'_, Budgets> {
    b.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The short reply form: `{"name": .., "msg": ..}`.
fn short(name: &str, msg: &str) -> Bytes {
    #[derive(Serialize)]
    struct Short<'a> {
        name: &'a str,
        msg: &'a str,
    }
    Bytes::from(serde_json::to_vec(&Short { name, msg }).unwrap_or_default())
}

/// Posts an unverified source's message and replies within its budget.
pub async fn post(hub: Arc<dyn ChatHub>, out: Arc<Out>, peer: SocketAddr, req: Request) {
    let room = req.room.as_deref().unwrap_or(DEFAULT_ROOM);
    let msg = req.msg.as_deref().unwrap_or_default();
    let posted = match hub.post_unjoined(&req.name, room, msg).await {
        Ok(ticket) => ticket.ack().await,
        Err(e) => Err(e),
    };
    let mine = match posted {
        Ok(m) => m,
        Err(e) => {
            refuse(&out, peer, &e);
            return;
        }
    };
    let cursor = {
        let mut b = lock(&out.budgets);
        let Some(s) = b.get_mut(peer) else { return };
        match &s.cursor {
            Some((r, id)) if **r == *mine.room => Some(*id),
            _ => None,
        }
    };
    let others = match cursor {
        Some(after) => match hub.history(&mine.room, HistoryQuery::After(after)).await {
            Ok(page) => page.messages,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "history for an unverified source");
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let next = reply(&out, peer, &mine, &others);
    if let Some(s) = lock(&out.budgets).get_mut(peer) {
        s.cursor = Some((mine.room.clone(), next));
    }
}

/// Sends what others said after the cursor, oldest first, while the credit
/// pays; else the poster's own message. Returns the new cursor.
fn reply(out: &Out, peer: SocketAddr, mine: &Message, others: &[Arc<Message>]) -> u64 {
    let mut cursor = None;
    let mut sent = 0;
    for m in others.iter().filter(|m| m.id < mine.id) {
        if m.name == mine.name {
            cursor = Some(m.id); // its own earlier message: skip
            continue;
        }
        if !out.send(peer, &short(&m.name, &m.text)) {
            break;
        }
        sent += 1;
        cursor = Some(m.id);
    }
    let caught_up = others
        .iter()
        .filter(|m| m.id < mine.id)
        .all(|m| cursor.is_some_and(|c| m.id <= c));
    if sent == 0 {
        out.send(peer, &short(&mine.name, &mine.text));
    }
    if caught_up {
        mine.id
    } else {
        cursor.unwrap_or_else(|| others.first().map_or(mine.id, |m| m.id.saturating_sub(1)))
    }
}

/// Sends the refusal if the budget pays for it.
fn refuse(out: &Out, peer: SocketAddr, e: &ChatError) {
    tracing::debug!(%peer, code = e.code().as_str(), "unverified post refused");
    out.send(peer, &error_reply(e.code().as_str(), &e.to_string()));
}
