//! Direct conversations and read markers on the hub: who may open, read
//! and list a conversation, the account's markers and counts, and the
//! sessions each account has here (see `directory`).

use std::sync::Arc;

use super::LocalHub;
use crate::service::chat::dm::is_dm;
use crate::service::chat::dm::{DM_MAX_PER_ACCOUNT, Recipient, conversation, dm_peer, may_read};
use crate::service::chat::dm_floor::reads_from;
use crate::service::chat::error::ChatError;
use crate::service::chat::event::{MemberInfo, SessionId};
use crate::service::chat::history::{HistoryPage, HistoryQuery};
use crate::service::chat::names::Identity;
use crate::service::chat::reads::{Conversation, ReadMark, UNREAD_ROOMS_MAX, account_key};
use crate::service::chat::room::{Member, lock};

/// A member's account: its key and display name (`None` for a guest).
type Account = (String, Arc<str>);

impl LocalHub {
    /// The canonical conversation `member` means by `input` (see
    /// [`conversation`]).
    pub(super) fn conversation_of(
        &self,
        member: &Member,
        input: &str,
    ) -> Result<String, ChatError> {
        let p = lock(&member.profile);
        conversation(&p.name, p.guest, input)
    }

    /// The member's account, or the guest refusal.
    fn account(&self, id: SessionId) -> Result<(Arc<Member>, Account), ChatError> {
        let member = self.member(id)?;
        let p = lock(&member.profile);
        if p.guest {
            return Err(ChatError::DmNeedsAccount);
        }
        let acc = (account_key(&p.name), p.name.clone());
        drop(p);
        Ok((member, acc))
    }

    /// Before `member` joins the direct conversation `room`: the other
    /// account must exist and not be locked, and a conversation not yet
    /// created must fit the member's [`DM_MAX_PER_ACCOUNT`].
    pub(super) async fn admit_dm(&self, member: &Member, room: &str) -> Result<(), ChatError> {
        self.check_recipient(member, room).await?;
        if lock(&self.rooms).contains_key(room) {
            return Ok(());
        }
        let (key, name) = (account_key(&lock(&member.profile).name), room.to_owned());
        let (exists, count) = self
            .read(move |db| Ok((db.meta(&name)?.is_some(), db.dm_count(&key)?)))
            .await?;
        if !exists && count >= DM_MAX_PER_ACCOUNT {
            return Err(ChatError::DmQuota(DM_MAX_PER_ACCOUNT));
        }
        Ok(())
    }

    /// The other party of the direct conversation `room` can receive.
    pub(super) async fn check_recipient(
        &self,
        member: &Member,
        room: &str,
    ) -> Result<(), ChatError> {
        let me = account_key(&lock(&member.profile).name);
        let Some(peer) = dm_peer(room, &me).map(str::to_owned) else {
            return Err(ChatError::NotInRoom(room.to_owned()));
        };
        let registry = self.registry.clone();
        let probe = peer.clone();
        let state = tokio::task::spawn_blocking(move || registry.recipient(&probe))
            .await
            .map_err(|_| ChatError::Store(Arc::from("the account registry failed")))?;
        match state {
            Recipient::Open => Ok(()),
            Recipient::Locked => Err(ChatError::DmLocked(peer)),
            Recipient::Unknown => Err(ChatError::DmNoAccount(peer)),
        }
    }

    /// One page of history, for member `id`, who must be allowed to read it.
    pub(super) async fn history_for(
        &self,
        id: SessionId,
        room: &str,
        query: HistoryQuery,
    ) -> Result<HistoryPage, ChatError> {
        let member = self.member(id)?;
        let room: Arc<str> = Arc::from(self.conversation_of(&member, room)?);
        let page_max = self.config.history_page_max;
        if !is_dm(&room) {
            return self.read(move |db| db.query(&room, query, page_max)).await;
        }
        let (registry, me) = (self.registry.clone(), member.info().name);
        self.read(move |db| {
            let floor = db.dm_floor(&room, reads_from(&*registry, &me))?;
            db.query_above(&room, query, (page_max, floor))
        })
        .await
    }

    /// Who is in `room`, for member `id`, who must be allowed to read it.
    pub(super) async fn who_for(
        &self,
        id: SessionId,
        room: &str,
    ) -> Result<Vec<MemberInfo>, ChatError> {
        let room = self.conversation_of(&*self.member(id)?, room)?;
        self.list_all_members_of(&room).await
    }

    /// The member's direct conversations with messages, newest first, with
    /// its counts in each (at most [`UNREAD_ROOMS_MAX`]).
    pub(super) async fn list_dms(&self, id: SessionId) -> Result<Vec<Conversation>, ChatError> {
        let (_, (key, name)) = self.account(id)?;
        let registry = self.registry.clone();
        self.read(move |db| {
            let from = reads_from(&*registry, &name);
            let mut rooms = Vec::new();
            for room in db.dm_rooms(&key, UNREAD_ROOMS_MAX)? {
                // One all said before this account existed is not its own.
                let top = db.meta(&room)?.map_or(0, |(top, _)| top);
                if top > db.dm_floor(&room, from)? {
                    rooms.push(room);
                }
            }
            db.conversations((&key, &name), &rooms, from)
        })
        .await
    }

    /// The member's counts in each of `rooms` (at most
    /// [`UNREAD_ROOMS_MAX`]; each must be one it may read).
    pub(super) async fn unread_in(
        &self,
        id: SessionId,
        rooms: Vec<String>,
    ) -> Result<Vec<Conversation>, ChatError> {
        let (member, (key, name)) = self.account(id)?;
        let mut names = Vec::with_capacity(rooms.len().min(UNREAD_ROOMS_MAX));
        for r in rooms.iter().take(UNREAD_ROOMS_MAX) {
            let c = self.conversation_of(&member, r)?;
            if !names.contains(&c) {
                names.push(c);
            }
        }
        let registry = self.registry.clone();
        self.read(move |db| {
            let from = reads_from(&*registry, &name);
            db.conversations((&key, &name), &names, from)
        })
        .await
    }

    /// Moves the member's read marker in `room` forward to `seq`; tells
    /// its account's other sessions, here and (PostgreSQL) on every node.
    pub(super) async fn mark_read(
        &self,
        id: SessionId,
        room: &str,
        seq: u64,
    ) -> Result<(Arc<str>, u64), ChatError> {
        let (member, (key, _)) = self.account(id)?;
        let room: Arc<str> = Arc::from(self.conversation_of(&member, room)?);
        let node = self.node.clone().unwrap_or_else(|| Arc::from(""));
        let (k, r) = (key.clone(), room.clone());
        let now = self
            .read(move |db| db.set_read((&k, &node), &r, seq))
            .await?;
        let mark = ReadMark {
            room: room.clone(),
            seq: now,
        };
        self.directory.offer_read(&key, mark, Some(id));
        Ok((room, now))
    }

    /// A marker another node moved (from its announcement).
    pub(super) fn remote_read(&self, key: &str, room: &str, seq: u64) {
        let mark = ReadMark {
            room: Arc::from(room),
            seq,
        };
        self.directory.offer_read(key, mark, None);
    }

    /// Lists `member` under its account, unless it is a guest.
    pub(super) fn list_account(&self, member: &Arc<Member>) {
        let p = lock(&member.profile);
        if !p.guest {
            let key = account_key(&p.name);
            drop(p);
            self.directory.add(key, member.clone());
        }
    }

    /// Takes `member` off the account it was listed under as `name`.
    pub(super) fn unlist_account(&self, name: &str, guest: bool, id: SessionId) {
        if !guest {
            self.directory.remove(&account_key(name), id);
        }
    }

    /// After a rename: takes `member` out of the direct conversations its
    /// new name may not read (an account's session that became a guest, or
    /// another account), so it neither sends nor receives there any more.
    pub(super) fn leave_foreign_dms(&self, member: &Arc<Member>) {
        let foreign: Vec<_> = {
            let mut p = lock(&member.profile);
            let who = if p.guest {
                Identity::Guest(p.name.to_string())
            } else {
                Identity::Registered(p.name.to_string())
            };
            let (keep, gone) = std::mem::take(&mut p.rooms)
                .into_iter()
                .partition(|r| may_read(&who, &r.name));
            p.rooms = keep;
            gone
        };
        for room in foreign {
            self.remove_from_room(&room, member, false, true);
        }
    }
}
