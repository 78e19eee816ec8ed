//! A room's live state (members, last id) and a member's shared state, with
//! the fan-out loop that applies the cut-off policy.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::event::{Change, DoorKind, Event, MemberInfo, Presence, SessionId};
use super::flood::TokenBucket;
use super::inbox::{Offer, Outbox};

/// Rooms with more members than this (on all nodes of a cluster) do not
/// announce joins, leaves and renames, as large IRC channels and chat
/// platforms do: with N members, announcing every arrival costs N²
/// deliveries (50 million for a room of 10,000 filling up). `who` still
/// lists everyone.
pub const PRESENCE_ROOM_MAX: usize = 500;

/// Counters the hub exposes (see [`HubStats`]).
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub commits: AtomicU64,
    pub messages: AtomicU64,
    pub cut_off: AtomicU64,
    /// Presence events left out of nearly full queues.
    pub presence_skipped: AtomicU64,
}

/// A snapshot of the hub's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HubStats {
    /// Transactions committed by the writer (one per group commit).
    pub commits: u64,
    /// Messages committed.
    pub messages: u64,
    /// Members cut off because their outgoing queue was full.
    pub cut_off: u64,
    /// Presence events left out of nearly full queues.
    pub presence_skipped: u64,
}

impl Counters {
    pub fn snapshot(&self) -> HubStats {
        HubStats {
            commits: self.commits.load(Ordering::Relaxed),
            messages: self.messages.load(Ordering::Relaxed),
            cut_off: self.cut_off.load(Ordering::Relaxed),
            presence_skipped: self.presence_skipped.load(Ordering::Relaxed),
        }
    }
}

/// Locks `m`, carrying on after a panic elsewhere: every critical section
/// leaves the state consistent, so a poisoned lock holds nothing broken.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One connected member, shared by every room it is in.
#[derive(Debug)]
pub(super) struct Member {
    pub id: SessionId,
    pub door: DoorKind,
    /// The address it connected from, for the per-address budgets; `None`
    /// for Unix sockets and in-process members.
    pub peer: Option<std::net::IpAddr>,
    pub outbox: Outbox,
    pub profile: Mutex<Profile>,
}

/// The mutable part of a member. Lock order: a room's state, then a
/// member's profile; never the other way round.
#[derive(Debug)]
pub(super) struct Profile {
    pub name: Arc<str>,
    pub guest: bool,
    /// Key of the guest name it holds in the hub's name table.
    pub guest_key: Option<String>,
    pub rooms: Vec<Arc<Room>>,
    pub bucket: TokenBucket,
    /// When it last told each room it was typing (at most one entry per
    /// room it is in): notices sooner than `TYPING_EVERY` are dropped.
    pub typed: Vec<(Arc<str>, tokio::time::Instant)>,
}

impl Member {
    pub fn info(&self) -> MemberInfo {
        let p = lock(&self.profile);
        MemberInfo {
            name: p.name.clone(),
            door: self.door,
            guest: p.guest,
        }
    }
}

/// A room: its members now and its last committed id.
#[derive(Debug)]
pub(super) struct Room {
    pub name: Arc<str>,
    /// Its history's epoch, read from (or first written to) its row when
    /// the room was loaded: fixed while the room is in memory.
    pub epoch: Arc<str>,
    pub state: Mutex<RoomState>,
}

/// What a room's lock protects.
#[derive(Debug, Default)]
pub(super) struct RoomState {
    pub members: Vec<Arc<Member>>,
    /// Last id fanned out; every later message reaches current members.
    /// Only the writer thread raises it, after the commit.
    pub last_id: u64,
    /// Publishes queued for the writer: the room may not be forgotten while
    /// there are any, or its ids would restart.
    pub pending: usize,
    /// Set when the hub forgot this room (evicted from memory); a join
    /// that raced with that retries with a fresh room.
    pub closed: bool,
    /// Since when the room has had no members (`None` while it has some):
    /// rooms idle longer than the configured time are evicted.
    pub idle_since: Option<tokio::time::Instant>,
    /// For a direct conversation: where its parties' other sessions are,
    /// so each message also reaches those that have not opened it.
    pub dm: Option<Arc<super::directory::Directory>>,
    /// Who the room heard come, and the joins and leaves not told yet.
    pub herald: super::herald::Herald,
    /// Sessions in the room on the other nodes of a cluster, as last read
    /// (0 on one node): they count towards [`PRESENCE_ROOM_MAX`] too.
    pub remote: usize,
}

impl Room {
    pub fn new(name: Arc<str>, last_id: u64, epoch: Arc<str>) -> Room {
        Room {
            name,
            epoch,
            state: Mutex::new(RoomState {
                last_id,
                idle_since: Some(tokio::time::Instant::now()),
                ..RoomState::default()
            }),
        }
    }
}

impl RoomState {
    /// Offers `event` to every member. Members whose queue is full are cut
    /// off, removed from the room, logged and counted, and the others are
    /// told (which may cut off more; each member is cut at most once).
    pub fn deliver(&mut self, room: &Arc<str>, event: Event, counters: &Counters) {
        self.deliver_skipping(room, event, counters, &[]);
    }

    /// [`RoomState::deliver`], leaving out the members `skip` (who were
    /// told already); the cut-off notices it causes go to everyone.
    pub fn deliver_skipping(
        &mut self,
        room: &Arc<str>,
        event: Event,
        counters: &Counters,
        mut skip: &[SessionId],
    ) {
        let mut queue = VecDeque::from([event]);
        while let Some(ev) = queue.pop_front() {
            let everyone = self.members.len() + self.remote;
            if matches!(ev, Event::Presence(_)) && everyone > PRESENCE_ROOM_MAX {
                counters.presence_skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let mut cut = Vec::new();
            let mut dead = false;
            let mut queued = 0;
            for m in self.members.iter().filter(|m| !skip.contains(&m.id)) {
                match m.outbox.offer(ev.clone()) {
                    Offer::Queued => queued += 1,
                    Offer::Skipped => {
                        counters.presence_skipped.fetch_add(1, Ordering::Relaxed);
                    }
                    Offer::CutOff => cut.push(m.clone()),
                    Offer::Gone => dead = true,
                }
            }
            if matches!(ev, Event::Message(_)) {
                crate::ops::metrics::chat_delivered(queued);
                if let Some(dir) = &self.dm {
                    dir.offer_dm(room, &ev, &self.members);
                }
            }
            skip = &[];
            if cut.is_empty() && !dead {
                continue;
            }
            // Cut-off members, and members whose door let go of the inbox
            // without disconnecting, leave the room here.
            self.members.retain(|m| !m.outbox.is_dead());
            for m in cut {
                let info = m.info();
                counters.cut_off.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    room = %room, member = %info.name, session = %m.id, door = %m.door,
                    "chat member cut off: outgoing queue full"
                );
                if !self.herald.cut(m.id) {
                    continue; // the room never heard it come
                }
                let p = Presence::new(room.clone(), info.name, info.guest, m.door, Change::CutOff);
                queue.push_back(Event::Presence(Arc::new(p)));
            }
        }
    }

    /// True when the room can be forgotten: nobody in it, nothing queued,
    /// no history (a room with history stays, so its ids continue).
    pub fn forgettable(&self) -> bool {
        self.members.is_empty() && self.pending == 0 && self.last_id == 0
    }

    /// True when the room may be evicted from memory now: nobody in it,
    /// nothing queued, and idle for at least `idle`. Its history stays on
    /// disk; the next join loads it again.
    pub fn evictable(&self, now: tokio::time::Instant, idle: std::time::Duration) -> bool {
        self.members.is_empty()
            && self.pending == 0
            && self
                .idle_since
                .is_some_and(|t| now.saturating_duration_since(t) >= idle)
    }
}
