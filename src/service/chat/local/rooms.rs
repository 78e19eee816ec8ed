//! Joining and leaving rooms, and listing who is where.

use std::sync::Arc;

use super::LocalHub;
use crate::service::chat::api::Joined;
use crate::service::chat::config::{MAX_ROOMS_PER_MEMBER, ROOM_LIST_MAX};
use crate::service::chat::error::ChatError;
use crate::service::chat::event::{Change, Event, MemberInfo, Presence, RoomInfo, SessionId};
use crate::service::chat::names::room_name;
use crate::service::chat::room::{Member, Room, lock};

impl LocalHub {
    pub(super) fn join_room(&self, id: SessionId, room: &str) -> Result<Joined, ChatError> {
        let name = room_name(room)?;
        let member = self.member(id)?;
        loop {
            let room = self.room(&name);
            let mut st = lock(&room.state);
            if st.closed {
                continue; // forgotten between the lookup and the lock
            }
            let joined = Joined {
                room: room.name.clone(),
                last_id: st.last_id,
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
            let ev = self.presence(&room, &member, Change::Joined);
            st.deliver(&room.name, ev, &self.counters);
            return Ok(joined);
        }
    }

    pub(super) fn leave_room(&self, id: SessionId, room: &str) -> Result<(), ChatError> {
        let name = room_name(room)?;
        let member = self.member(id)?;
        let room = {
            let mut p = lock(&member.profile);
            let pos = p.rooms.iter().position(|r| *r.name == *name);
            pos.map(|i| p.rooms.swap_remove(i))
        };
        let room = room.ok_or(ChatError::NotInRoom(name))?;
        self.remove_from_room(&room, &member, true);
        Ok(())
    }

    /// Takes `member` out of `room`, tells the room (and the member itself
    /// when `tell_self`), and forgets the room if nothing keeps it.
    pub(super) fn remove_from_room(&self, room: &Arc<Room>, member: &Arc<Member>, tell_self: bool) {
        let forget = {
            let mut st = lock(&room.state);
            let Some(pos) = st.members.iter().position(|m| Arc::ptr_eq(m, member)) else {
                return; // already cut off, which removed it and told the room
            };
            let ev = self.presence(room, member, Change::Left);
            if tell_self {
                st.deliver(&room.name, ev, &self.counters);
                if let Some(pos) = st.members.iter().position(|m| Arc::ptr_eq(m, member)) {
                    st.members.swap_remove(pos);
                }
            } else {
                st.members.swap_remove(pos);
                st.deliver(&room.name, ev, &self.counters);
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
            }
        }
    }

    pub(super) fn list_members(&self, room: &str) -> Result<Vec<MemberInfo>, ChatError> {
        let name = room_name(room)?;
        let Some(room) = lock(&self.rooms).get(name.as_str()).cloned() else {
            return Ok(Vec::new());
        };
        let mut list: Vec<MemberInfo> =
            lock(&room.state).members.iter().map(|m| m.info()).collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    pub(super) fn list_rooms(&self) -> Vec<RoomInfo> {
        let rooms: Vec<Arc<Room>> = lock(&self.rooms).values().cloned().collect();
        let mut list: Vec<RoomInfo> = rooms
            .iter()
            .filter_map(|r| {
                let st = lock(&r.state);
                let info = RoomInfo {
                    name: r.name.clone(),
                    members: st.members.len(),
                    last_id: st.last_id,
                };
                (info.members > 0 || info.last_id > 0).then_some(info)
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list.truncate(ROOM_LIST_MAX);
        list
    }

    /// The live room called `name`, created if needed.
    pub(super) fn room(&self, name: &str) -> Arc<Room> {
        let mut rooms = lock(&self.rooms);
        if let Some(r) = rooms.get(name) {
            return r.clone();
        }
        let name: Arc<str> = Arc::from(name);
        let room = Arc::new(Room::new(name.clone(), 0));
        rooms.insert(name, room.clone());
        room
    }

    fn presence(&self, room: &Room, member: &Member, change: Change) -> Event {
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
