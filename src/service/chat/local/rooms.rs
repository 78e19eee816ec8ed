//! Joining and leaving rooms, and listing who is where.
//!
//! Rooms are in memory only while in use: a join loads a room's last id
//! from history (or creates the room, within the global room limit and
//! the joining address's creation budget), and a room with no members is
//! evicted after the configured idle time (see `prune`).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::LocalHub;
use crate::service::chat::api::Joined;
use crate::service::chat::config::{DEFAULT_ROOM, MAX_ROOMS_PER_MEMBER, ROOM_LIST_MAX};
use crate::service::chat::dm::is_dm;
use crate::service::chat::error::ChatError;
use crate::service::chat::event::{Change, Event, MemberInfo, Presence, RoomInfo, SessionId};
use crate::service::chat::names::room_name;
use crate::service::chat::room::{Member, Room, lock};

/// Times a join retries when the room it found was evicted under it: each
/// retry means another task evicted or loaded the room meanwhile, which
/// cannot go on for long.
const JOIN_TRIES: usize = 16;

impl LocalHub {
    pub(super) async fn join_room(&self, id: SessionId, room: &str) -> Result<Joined, ChatError> {
        let member = self.member(id)?;
        let name = self.conversation_of(&member, room)?;
        if is_dm(&name) && !lock(&member.profile).rooms.iter().any(|r| *r.name == *name) {
            self.admit_dm(&member, &name).await?;
        }
        let already = {
            let mut p = lock(&member.profile);
            let found = p.rooms.iter().find(|r| *r.name == *name).cloned();
            if found.is_none() {
                if p.rooms.len() >= MAX_ROOMS_PER_MEMBER {
                    return Err(ChatError::TooManyRooms(MAX_ROOMS_PER_MEMBER));
                }
                // A join is announced to the whole room: it costs a token.
                Self::charge(&mut p)?;
            }
            found
        };
        if let Some(r) = already {
            // The room's lock after the profile's is released (lock order).
            let last_id = lock(&r.state).last_id;
            return Ok(Joined {
                room: r.name.clone(),
                last_id,
                epoch: r.epoch.clone(),
            });
        }
        for _ in 0..JOIN_TRIES {
            let room = self.room(&name, member.peer).await?;
            let mut st = lock(&room.state);
            if st.closed {
                continue; // evicted between the lookup and the lock
            }
            let joined = Joined {
                room: room.name.clone(),
                last_id: st.last_id,
                epoch: room.epoch.clone(),
            };
            {
                let mut p = lock(&member.profile);
                if p.rooms.iter().any(|r| Arc::ptr_eq(r, &room)) {
                    return Ok(joined);
                }
                if p.rooms.len() >= MAX_ROOMS_PER_MEMBER {
                    return Err(ChatError::TooManyRooms(MAX_ROOMS_PER_MEMBER));
                }
                p.rooms.push(room.clone());
            }
            st.members.push(member.clone());
            st.idle_since = None;
            self.herald_join(&room, &mut st, &member);
            return Ok(joined);
        }
        Err(ChatError::Store(Arc::from(
            "the room kept being evicted while joining",
        )))
    }

    pub(super) fn leave_room(&self, id: SessionId, room: &str) -> Result<(), ChatError> {
        let member = self.member(id)?;
        let name = self.conversation_of(&member, room)?;
        let (room, announce) = {
            let mut p = lock(&member.profile);
            let pos = p.rooms.iter().position(|r| *r.name == *name);
            let room = pos.map(|i| p.rooms.swap_remove(i));
            // Leaving always works; over the flood limit it is not told.
            let announce = room.is_some() && Self::charge(&mut p).is_ok();
            (room, announce)
        };
        let room = room.ok_or(ChatError::NotInRoom(name))?;
        self.remove_from_room(&room, &member, true, announce);
        Ok(())
    }

    /// Takes `member` out of `room`, tells the room when `announce` (and
    /// the member itself when `tell_self`), and forgets the room at once
    /// if nothing keeps it (no members, nothing queued, no history).
    pub(super) fn remove_from_room(
        &self,
        room: &Arc<Room>,
        member: &Arc<Member>,
        tell_self: bool,
        announce: bool,
    ) {
        let forget = {
            let mut st = lock(&room.state);
            let Some(pos) = st.members.iter().position(|m| Arc::ptr_eq(m, member)) else {
                return; // already cut off, which removed it and told the room
            };
            if tell_self {
                self.herald_leave(room, &mut st, member, announce);
                if let Some(pos) = st.members.iter().position(|m| Arc::ptr_eq(m, member)) {
                    st.members.swap_remove(pos);
                }
            } else {
                st.members.swap_remove(pos);
                self.herald_leave(room, &mut st, member, announce);
            }
            if st.members.is_empty() {
                st.idle_since = Some(tokio::time::Instant::now());
            }
            st.forgettable()
        };
        if forget {
            // Lock order is map, then room: re-check under both.
            let mut rooms = lock(&self.rooms);
            let mut st = lock(&room.state);
            if st.forgettable() && !st.closed {
                st.closed = true;
                rooms.remove(&room.name);
                self.room_total.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    pub(super) fn list_members(&self, name: &str) -> Result<Vec<MemberInfo>, ChatError> {
        let Some(room) = lock(&self.rooms).get(name).cloned() else {
            return Ok(Vec::new());
        };
        let mut list: Vec<MemberInfo> =
            lock(&room.state).members.iter().map(|m| m.info()).collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    /// The members of `room` on this node and, in a cluster, on every
    /// other live node, sorted by name.
    pub(super) async fn list_all_members(&self, room: &str) -> Result<Vec<MemberInfo>, ChatError> {
        // Direct conversations are listed to their parties only (`who_for`).
        self.list_all_members_of(&room_name(room)?).await
    }

    /// [`LocalHub::list_all_members`] of a canonical room name.
    pub(super) async fn list_all_members_of(
        &self,
        room: &str,
    ) -> Result<Vec<MemberInfo>, ChatError> {
        let mut list = self.list_members(room)?;
        if let Some(node) = self.node.clone() {
            let name = room.to_owned();
            let remote = self.read(move |db| db.remote_members(&node, &name)).await?;
            list.extend(remote);
            list.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Ok(list)
    }

    /// Rooms in history and in memory, merged: members from memory, the
    /// newer last id of the two.
    pub(super) async fn list_rooms(&self) -> Result<Vec<RoomInfo>, ChatError> {
        let stored = self.read(|db| db.list_rooms(ROOM_LIST_MAX)).await?;
        let live: Vec<Arc<Room>> = lock(&self.rooms).values().cloned().collect();
        let mut list: Vec<RoomInfo> = stored
            .into_iter()
            .filter(|(name, _, _)| !is_dm(name))
            .map(|(name, last_id, topic)| RoomInfo {
                name: Arc::from(name),
                members: 0,
                last_id,
                topic,
            })
            .collect();
        for r in live.into_iter().filter(|r| !is_dm(&r.name)) {
            let (members, last_id) = {
                let st = lock(&r.state);
                (st.members.len(), st.last_id)
            };
            match list.iter_mut().find(|i| i.name == r.name) {
                Some(i) => {
                    i.members = members;
                    i.last_id = i.last_id.max(last_id);
                }
                None if members > 0 || last_id > 0 => list.push(RoomInfo {
                    name: r.name.clone(),
                    members,
                    last_id,
                    topic: String::new(),
                }),
                None => {}
            }
        }
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list.truncate(ROOM_LIST_MAX);
        Ok(list)
    }

    /// The room in memory called `name`, or loaded from history, or
    /// created: a new room must fit the global room limit and the budget
    /// of the address `peer` it is created from.
    pub(super) async fn room(
        &self,
        name: &str,
        peer: Option<IpAddr>,
    ) -> Result<Arc<Room>, ChatError> {
        if let Some(r) = lock(&self.rooms).get(name) {
            return Ok(r.clone());
        }
        // A new room is charged to the limits once, before its row is
        // written; the loop then loads it like any other.
        let mut charged = false;
        for _ in 0..JOIN_TRIES {
            // An eviction during the read may have raised the stored last
            // id past what was read: read again if one happened.
            let evictions = self.evictions.load(Ordering::Acquire);
            let key = name.to_owned();
            let stored = self.read(move |db| db.meta(&key)).await?;
            let create = {
                let mut rooms = lock(&self.rooms);
                if let Some(r) = rooms.get(name) {
                    return Ok(r.clone());
                }
                if self.evictions.load(Ordering::Acquire) != evictions {
                    continue;
                }
                // A row with no messages yet is a room without history.
                let historyless = stored.as_ref().is_none_or(|(last, _)| *last == 0);
                // The default room is where every door puts a newcomer: it
                // is always there to join, whatever the limits.
                // A direct conversation is bounded per account instead
                // (`admit_dm`): talking to people spends no room budget.
                if historyless && !charged && name != DEFAULT_ROOM {
                    let max = self.config.rooms_max;
                    if max > 0 && self.room_total.load(Ordering::Relaxed) >= max {
                        return Err(ChatError::RoomsFull(max));
                    }
                    if let Some(ip) = peer.filter(|_| !is_dm(name)) {
                        self.addresses
                            .take_creation(ip)
                            .map_err(|retry_after| ChatError::RoomQuota { retry_after })?;
                    }
                }
                charged = true;
                match stored {
                    Some((last_id, epoch)) => {
                        if historyless {
                            self.room_total.fetch_add(1, Ordering::Relaxed);
                        }
                        let name: Arc<str> = Arc::from(name);
                        let room = Arc::new(Room::new(name.clone(), last_id, Arc::from(epoch)));
                        if is_dm(&name) {
                            lock(&room.state).dm = Some(self.directory.clone());
                        }
                        rooms.insert(name, room.clone());
                        return Ok(room);
                    }
                    None => name.to_owned(),
                }
            };
            // The row carries the epoch: written first, so that every node
            // (and this one after a restart) reports the same one.
            self.read(move |db| db.create_room(&create)).await?;
        }
        Err(ChatError::Store(Arc::from(
            "rooms kept being evicted while loading one",
        )))
    }

    pub(super) fn presence(&self, room: &Room, member: &Member, change: Change) -> Event {
        let info = member.info();
        let p = Presence::new(
            room.name.clone(),
            info.name,
            info.guest,
            member.door,
            change,
        );
        Event::Presence(Arc::new(p))
    }
}
