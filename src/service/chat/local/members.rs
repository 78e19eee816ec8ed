//! Members coming, renaming and going; who may hold which name.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::LocalHub;
use crate::service::chat::api::Connected;
use crate::service::chat::error::ChatError;
use crate::service::chat::event::{Change, DoorKind, Event, Presence, SessionId};
use crate::service::chat::flood::TokenBucket;
use crate::service::chat::inbox;
use crate::service::chat::names::{GUEST_MARK, Identity, account_name, guest_name, name_key};
use crate::service::chat::room::{Member, Profile, lock};

/// A checked identity: display name, guest flag, guest name key.
type Resolved = (Arc<str>, bool, Option<String>);

impl LocalHub {
    /// The member with this id, unless it is gone or was cut off.
    pub(super) fn member(&self, id: SessionId) -> Result<Arc<Member>, ChatError> {
        let m = lock(&self.members)
            .get(&id)
            .cloned()
            .ok_or(ChatError::Gone)?;
        if m.outbox.is_cut_off() {
            return Err(ChatError::Gone);
        }
        Ok(m)
    }

    pub(super) async fn connect_member(
        &self,
        who: Identity,
        door: DoorKind,
        peer: Option<IpAddr>,
    ) -> Result<Connected, ChatError> {
        let id = SessionId(self.next_session.fetch_add(1, Ordering::Relaxed));
        let (name, guest, key) = self.resolve(who).await?;
        // No await from here on: a cancelled connect leaves nothing behind.
        if let Some(k) = &key {
            self.claim(k, id, &name)?;
        }
        let (outbox, inbox) = inbox::channel(self.config.queue_capacity);
        let profile = Profile {
            name: name.clone(),
            guest,
            guest_key: key,
            rooms: Vec::new(),
            typed: Vec::new(),
            bucket: TokenBucket::new(self.config.rate_per_sec, self.config.burst),
        };
        let member = Member {
            id,
            door,
            peer,
            outbox,
            profile: Mutex::new(profile),
        };
        if let Some(ip) = peer {
            self.addresses.attach(ip);
        }
        let member = Arc::new(member);
        self.list_account(&member);
        lock(&self.members).insert(id, member);
        tracing::debug!(session = %id, name = %name, door = %door, "chat member connected");
        Ok(Connected { id, name, inbox })
    }

    pub(super) async fn rename_member(
        &self,
        id: SessionId,
        who: Identity,
    ) -> Result<Arc<str>, ChatError> {
        let member = self.member(id)?;
        // Every attempt costs a token, refused ones too: a rename is
        // announced to whole rooms, and probing names is a flood too.
        Self::charge(&mut lock(&member.profile))?;
        let (name, guest, key) = self.resolve(who).await?;
        if let Some(k) = &key {
            self.claim(k, id, &name)?;
        }
        let (old, old_key, rooms) = {
            let mut p = lock(&member.profile);
            self.unlist_account(&p.name, p.guest, id);
            let old = std::mem::replace(&mut p.name, name.clone());
            p.guest = guest;
            let old_key = std::mem::replace(&mut p.guest_key, key.clone());
            (old, old_key, p.rooms.clone())
        };
        self.list_account(&member);
        self.leave_foreign_dms(&member);
        if old_key.is_some() && old_key != key {
            self.release(old_key, id);
        }
        if !lock(&self.members).contains_key(&id) {
            // Disconnected meanwhile: do not keep the new name reserved.
            self.release(key, id);
            return Err(ChatError::Gone);
        }
        if old != name {
            for room in rooms {
                let mut st = lock(&room.state);
                if st.members.iter().any(|m| m.id == id) {
                    let change = Change::Renamed(old.clone());
                    let p =
                        Presence::new(room.name.clone(), name.clone(), guest, member.door, change);
                    let ev = Event::Presence(Arc::new(p));
                    if st.herald.is_announced(id) {
                        st.deliver(&room.name, ev, &self.counters);
                    } else {
                        // The room has not heard it come: only it is told.
                        let _ = member.outbox.offer(ev);
                    }
                }
            }
        }
        Ok(name)
    }

    pub(super) fn disconnect_member(&self, id: SessionId) {
        let Some(m) = lock(&self.members).remove(&id) else {
            return;
        };
        let (key, rooms, announce) = {
            let mut p = lock(&m.profile);
            self.unlist_account(&p.name, p.guest, id);
            // Leaving always works; over the flood limit it is not told.
            let announce = Self::charge(&mut p).is_ok();
            (p.guest_key.take(), std::mem::take(&mut p.rooms), announce)
        };
        self.release(key, id);
        if let Some(ip) = m.peer {
            self.addresses.detach(ip);
        }
        for room in rooms {
            self.remove_from_room(&room, &m, false, announce);
        }
        tracing::debug!(session = %id, "chat member disconnected");
    }

    /// Takes one token of a member's flood allowance (its profile locked
    /// as `p`) for a presence change: joins, leaves and renames are
    /// announced to whole rooms, so they count as messages do.
    pub(super) fn charge(p: &mut Profile) -> Result<(), ChatError> {
        p.bucket
            .take()
            .map_err(|retry_after| ChatError::RateLimited { retry_after })
    }

    /// Takes one token for a message: the member's own allowance and, for
    /// a guest with an address, the budget all guests from that address
    /// share.
    pub(super) fn charge_message(&self, member: &Member, p: &mut Profile) -> Result<(), ChatError> {
        Self::charge(p)?;
        if let (true, Some(ip)) = (p.guest, member.peer) {
            self.addresses
                .take_guest_message(ip)
                .map_err(|retry_after| ChatError::RateLimited { retry_after })?;
        }
        Ok(())
    }

    /// Checks an identity against the name rules and the account registry.
    pub(super) async fn resolve(&self, who: Identity) -> Result<Resolved, ChatError> {
        match who {
            Identity::Registered(n) => Ok((Arc::from(account_name(&n)?), false, None)),
            Identity::Guest(n) => {
                let n = guest_name(&n)?;
                let registry = self.registry.clone();
                let probe = n.clone();
                // The registry may query SQLite: keep it off the workers.
                let registered =
                    tokio::task::spawn_blocking(move || registry.is_registered(&probe))
                        .await
                        .map_err(|_| ChatError::Store(Arc::from("the account registry failed")))?;
                if registered {
                    // Shown as a guest name, as a taken guest name is.
                    return Err(ChatError::NameRegistered(format!("{GUEST_MARK}{n}")));
                }
                let key = name_key(&n);
                Ok((Arc::from(format!("{GUEST_MARK}{n}")), true, Some(key)))
            }
        }
    }

    /// Reserves a guest name key for `id` (already holding it is fine).
    fn claim(&self, key: &str, id: SessionId, name: &str) -> Result<(), ChatError> {
        let mut guests = lock(&self.guests);
        match guests.get(key) {
            Some(owner) if *owner != id => Err(ChatError::NameTaken(name.to_owned())),
            _ => {
                guests.insert(key.to_owned(), id);
                Ok(())
            }
        }
    }

    /// Frees a guest name key if `id` holds it.
    fn release(&self, key: Option<String>, id: SessionId) {
        let Some(key) = key else { return };
        let mut guests = lock(&self.guests);
        if guests.get(&key) == Some(&id) {
            guests.remove(&key);
        }
    }
}
