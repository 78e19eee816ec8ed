//! The in-process hub: every room on this node, history in `DATA/chat.db`.
//!
//! State is a few maps behind short `std` mutexes (never held across an
//! await): rooms by name, members by id, online guest names. Publishing
//! hands the message to the writer thread (see `writer`), which commits,
//! acks and fans out; history reads use their own connection on the
//! blocking pool, which WAL lets run beside the writer.

mod members;
mod publish;
mod rooms;

pub(crate) use publish::message_text;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::mpsc;

use super::api::Ticket;
use super::api::{ChatHub, Connected, HubFuture, Joined};
use super::config::{ChatConfig, WRITE_QUEUE_CAPACITY};
use super::event::{DoorKind, MemberInfo, RoomInfo, SessionId};
use super::filter::WordFilter;
use super::history::{self, HistoryPage, HistoryQuery};
use super::names::{Identity, NameRegistry};
use super::room::{Counters, HubStats, Member, Room};
use super::writer::{self, Pending};
use crate::store::StoreError;

/// The one-node chat hub.
pub struct LocalHub {
    config: ChatConfig,
    filter: WordFilter,
    registry: Arc<dyn NameRegistry>,
    rooms: Mutex<HashMap<Arc<str>, Arc<Room>>>,
    members: Mutex<HashMap<SessionId, Arc<Member>>>,
    /// Online guests' name keys (see `names::name_key`).
    guests: Mutex<HashMap<String, SessionId>>,
    writer: mpsc::Sender<Pending>,
    reader: Arc<Mutex<Connection>>,
    counters: Arc<Counters>,
    next_session: AtomicU64,
}

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The history database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading the rooms at startup failed.
    #[error("reading chat rooms from {}: {source}", history::DB_FILE)]
    Load {
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The writer thread could not be started.
    #[error("starting the chat writer thread: {0}")]
    Thread(#[from] std::io::Error),
}

impl std::fmt::Debug for LocalHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalHub")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl LocalHub {
    /// Opens (creating or upgrading) `dir/chat.db`, loads every room's last
    /// id so ids continue after a restart, and starts the writer thread.
    /// Blocking: call it before serving or in `spawn_blocking`.
    pub fn open(
        dir: &Path,
        config: ChatConfig,
        registry: Arc<dyn NameRegistry>,
    ) -> Result<Arc<LocalHub>, OpenError> {
        let conn = history::open(dir, config.durability)?;
        let reader = history::open(dir, config.durability)?;
        let loaded = history::load_rooms(&conn).map_err(|source| OpenError::Load { source })?;
        let rooms = loaded
            .into_iter()
            .map(|(name, last_id)| {
                let name: Arc<str> = Arc::from(name);
                (name.clone(), Arc::new(Room::new(name, last_id)))
            })
            .collect();
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::channel(WRITE_QUEUE_CAPACITY);
        // Detached: the thread ends when the hub (the last sender) is
        // dropped, after committing whatever was still queued.
        writer::spawn(conn, rx, config.max_batch, counters.clone())?;
        Ok(Arc::new(LocalHub {
            filter: WordFilter::new(&config.filter),
            config,
            registry,
            rooms: Mutex::new(rooms),
            members: Mutex::new(HashMap::new()),
            guests: Mutex::new(HashMap::new()),
            writer: tx,
            reader: Arc::new(Mutex::new(reader)),
            counters,
            next_session: AtomicU64::new(1),
        }))
    }

    /// Counters: commits, messages, members cut off.
    pub fn stats(&self) -> HubStats {
        self.counters.snapshot()
    }

    /// The settings it runs with.
    pub fn config(&self) -> &ChatConfig {
        &self.config
    }
}

impl ChatHub for LocalHub {
    fn connect(&self, who: Identity, door: DoorKind) -> HubFuture<'_, Connected> {
        Box::pin(self.connect_member(who, door))
    }
    fn join<'a>(&'a self, id: SessionId, room: &'a str) -> HubFuture<'a, Joined> {
        Box::pin(std::future::ready(self.join_room(id, room)))
    }
    fn leave<'a>(&'a self, id: SessionId, room: &'a str) -> HubFuture<'a, ()> {
        Box::pin(std::future::ready(self.leave_room(id, room)))
    }
    fn submit<'a>(&'a self, id: SessionId, room: &'a str, text: &'a str) -> HubFuture<'a, Ticket> {
        Box::pin(self.submit_message(id, room, text))
    }
    fn post_unjoined<'a>(
        &'a self,
        name: &'a str,
        room: &'a str,
        text: &'a str,
    ) -> HubFuture<'a, Ticket> {
        Box::pin(self.post_unjoined_message(name, room, text))
    }
    fn rename(&self, id: SessionId, who: Identity) -> HubFuture<'_, Arc<str>> {
        Box::pin(self.rename_member(id, who))
    }
    fn history<'a>(&'a self, room: &'a str, query: HistoryQuery) -> HubFuture<'a, HistoryPage> {
        Box::pin(self.read_history(room, query))
    }
    fn who<'a>(&'a self, room: &'a str) -> HubFuture<'a, Vec<MemberInfo>> {
        Box::pin(std::future::ready(self.list_members(room)))
    }
    fn rooms(&self) -> HubFuture<'_, Vec<RoomInfo>> {
        Box::pin(std::future::ready(Ok(self.list_rooms())))
    }
    fn disconnect(&self, id: SessionId) {
        self.disconnect_member(id);
    }
}
