//! Which sessions each account has on this node: how a direct message
//! reaches a party that has not opened the conversation, and how a moved
//! read marker reaches the account's other clients.
//!
//! Lock order: a room's state, then the directory; the directory never
//! takes another lock while held (offers to a queue never wait).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::dm::dm_parties;
use super::event::{Event, SessionId};
use super::reads::ReadMark;
use super::room::{Member, lock};

/// Sessions by account key (see `reads::account_key`); guests are not in it.
#[derive(Debug, Default)]
pub(super) struct Directory {
    by_account: Mutex<HashMap<String, Vec<Arc<Member>>>>,
}

impl Directory {
    /// Lists `member` under the account `key`.
    pub fn add(&self, key: String, member: Arc<Member>) {
        lock(&self.by_account).entry(key).or_default().push(member);
    }

    /// Takes session `id` off the account `key`.
    pub fn remove(&self, key: &str, id: SessionId) {
        let mut map = lock(&self.by_account);
        if let Some(list) = map.get_mut(key) {
            list.retain(|m| m.id != id);
            if list.is_empty() {
                map.remove(key);
            }
        }
    }

    /// Offers a direct conversation's `event` (a message) to the sessions
    /// of its two accounts that are not among `members` (who have it
    /// already): a party learns of a message in a conversation it has not
    /// opened. A full queue cuts that session off, as in a room.
    pub fn offer_dm(&self, room: &str, event: &Event, members: &[Arc<Member>]) {
        let Some((a, b)) = dm_parties(room) else {
            return;
        };
        let map = lock(&self.by_account);
        for key in [a, b] {
            for m in map.get(key).into_iter().flatten() {
                if !members.iter().any(|x| x.id == m.id) {
                    let _ = m.outbox.offer(event.clone());
                }
            }
        }
    }

    /// Tells the sessions of account `key`, except `origin`, that its
    /// marker moved.
    pub fn offer_read(&self, key: &str, mark: ReadMark, origin: Option<SessionId>) {
        let map = lock(&self.by_account);
        let Some(list) = map.get(key) else { return };
        let ev = Event::Read(Arc::new(mark));
        for m in list.iter().filter(|m| Some(m.id) != origin) {
            let _ = m.outbox.offer(ev.clone());
        }
    }
}
