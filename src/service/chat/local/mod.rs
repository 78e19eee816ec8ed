//! The in-process hub: every room on this node, history in `DATA/chat.db`
//! or, for a cluster, in PostgreSQL (see `cluster` for how the other
//! nodes' messages reach this node's members).
//!
//! State is a few maps behind short `std` mutexes (never held across an
//! await): rooms by name, members by id, online guest names. Publishing
//! hands the message to the writer thread (see `writer`), which commits,
//! acks and fans out; history reads use their own connection on the
//! blocking pool, which WAL lets run beside the writer.

mod addresses;
mod cluster;
mod dm;
mod herald;
mod members;
mod prune;
mod publish;
mod rooms;
mod typing;

pub use prune::PruneReport;

pub(crate) use publish::message_text;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::api::Ticket;
use super::api::{ChatHub, Connected, HubFuture, Joined};
use super::config::{ChatConfig, WRITE_QUEUE_CAPACITY};
use super::db::{Db, DbError, OpenStoreError};
use super::directory::Directory;
use super::edit::Amend;
use super::error::ChatError;
use super::event::{DoorKind, MemberInfo, RoomInfo, SessionId};
use super::filter::WordFilter;
use super::history::{HistoryPage, HistoryQuery};
use super::names::{Identity, NameRegistry};
use super::reads::Conversation;
use super::room::{Counters, HubStats, Member, Room, lock};
use super::search::{SearchPage, SearchQuery};
use super::writer::{self, Pending};
use crate::store::Backend;
use crate::store::pg::PgError;

/// The one-node chat hub.
pub struct LocalHub {
    config: ChatConfig,
    filter: WordFilter,
    registry: Arc<dyn NameRegistry>,
    rooms: Mutex<HashMap<Arc<str>, Arc<Room>>>,
    members: Mutex<HashMap<SessionId, Arc<Member>>>,
    /// Sessions by account, for direct messages and read markers.
    directory: Arc<Directory>,
    /// Online guests' name keys (see `names::name_key`).
    guests: Mutex<HashMap<String, SessionId>>,
    writer: mpsc::Sender<Pending>,
    reader: Arc<Mutex<Db>>,
    /// The pruning pass's own connection (see `prune`).
    pruner: Mutex<Db>,

    counters: Arc<Counters>,
    next_session: AtomicU64,
    /// Guest-message and room-creation budgets per address.
    addresses: addresses::Addresses,
    /// Rooms with history or members: checked against the room limit.
    /// Raised by each creation, lowered when a historyless room goes;
    /// recounted by each pruning pass.
    room_total: AtomicUsize,
    /// Rooms evicted so far: a join that read a room's last id from
    /// history reads again if an eviction happened meanwhile.
    evictions: AtomicU64,
    /// This node's name in the cluster's presence table (random, new at
    /// each start); `None` on SQLite.
    node: Option<Arc<str>>,
    /// This node's typing notices on their way to the other nodes (see
    /// `typing`); `None` on SQLite.
    typing_out: Option<std::sync::mpsc::SyncSender<String>>,
    /// The runtime the hub was opened in, if any: the cluster feed's
    /// thread starts the heralds' flush tasks on it.
    runtime: Option<tokio::runtime::Handle>,
    /// Dropped with the hub, which wakes the pruning thread to end.
    _stop_pruner: std::sync::mpsc::SyncSender<()>,
}

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The history database could not be opened.
    #[error(transparent)]
    Store(#[from] OpenStoreError),
    /// Reading the rooms at startup failed.
    #[error("reading chat rooms: {0}")]
    Load(String),
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
        Self::open_store(dir, Backend::Sqlite, config, registry)
    }

    /// Like [`LocalHub::open`], with the history in `store`: on
    /// PostgreSQL, this node joins the cluster sharing that database (its
    /// members see every node's messages; see `cluster`). `dir` is used
    /// only for SQLite.
    pub fn open_store(
        dir: &Path,
        store: Backend,
        config: ChatConfig,
        registry: Arc<dyn NameRegistry>,
    ) -> Result<Arc<LocalHub>, OpenError> {
        let mut conn = Db::open(&store, dir, config.durability)?;
        if let Db::Pg(c) = &mut conn {
            // The writer's commits only: reads and other services keep
            // PostgreSQL's default.
            c.set_sync_commit(config.sync_commit)
                .map_err(|e| OpenStoreError::Pg(PgError::Db(e)))?;
        }
        let reader = Db::open(&store, dir, config.durability)?;
        let pruner = Db::open(&store, dir, config.durability)?;
        // Rooms are loaded when joined, not here: only their number.
        let total = conn
            .count_rooms()
            .map_err(|e| OpenError::Load(e.to_string()))?;
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::channel(WRITE_QUEUE_CAPACITY);
        // Detached: the thread ends when the hub (the last sender) is
        // dropped, after committing whatever was still queued.
        let limits = (
            config.max_batch,
            config.history_page_max,
            config.edit_window,
        );
        let node: Option<Arc<str>> = store.is_shared().then(|| {
            let mut b = [0u8; 8];
            let _ = getrandom::fill(&mut b);
            Arc::from(hex::encode(b))
        });
        let writer_node = node.clone().unwrap_or_else(|| Arc::from(""));
        writer::spawn(conn, rx, limits, writer_node, counters.clone())?;
        let (stop, stopped) = std::sync::mpsc::sync_channel(1);
        let typing_out = match &store {
            Backend::Postgres(cfg) => Some(typing::spawn((**cfg).clone())?),
            Backend::Sqlite => None,
        };
        let hub = Arc::new(LocalHub {
            filter: WordFilter::new(&config.filter),
            addresses: addresses::Addresses::new(&config),
            config,
            registry,
            rooms: Mutex::new(HashMap::new()),
            members: Mutex::new(HashMap::new()),
            guests: Mutex::new(HashMap::new()),
            directory: Arc::new(Directory::default()),
            writer: tx,
            reader: Arc::new(Mutex::new(reader)),
            pruner: Mutex::new(pruner),
            counters,
            next_session: AtomicU64::new(1),
            room_total: AtomicUsize::new(total),
            evictions: AtomicU64::new(0),
            node,
            typing_out,
            runtime: tokio::runtime::Handle::try_current().ok(),
            _stop_pruner: stop,
        });
        prune::spawn(Arc::downgrade(&hub), stopped)?;
        if let (Backend::Postgres(cfg), Some(node)) = (store, hub.node.clone()) {
            cluster::spawn(Arc::downgrade(&hub), *cfg, node)?;
        }
        Ok(hub)
    }

    /// Runs `f` on the history reader, on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, ChatError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
    {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&reader)))
            .await
            .map_err(|_| ChatError::Store(Arc::from("history reader failed")))?
            .map_err(ChatError::from)
    }

    /// Rooms in memory now (in use, or idle for less than the idle time).
    pub fn live_rooms(&self) -> usize {
        lock(&self.rooms).len()
    }

    /// Addresses whose budgets are tracked now.
    pub fn tracked_addresses(&self) -> usize {
        self.addresses.len()
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

/// The figures `/metrics` reads at each scrape: the hub's own counters,
/// and the members' queue depths looked at now.
impl crate::ops::ChatSource for LocalHub {
    fn counts(&self) -> crate::ops::ChatCounts {
        let stats = self.stats();
        let members = lock(&self.members);
        let mut c = crate::ops::ChatCounts {
            committed: stats.messages,
            cut_off: stats.cut_off,
            members: members.len() as u64,
            ..Default::default()
        };
        for m in members.values() {
            let depth = m.outbox.depth() as u64;
            c.queued += depth;
            c.max_depth = c.max_depth.max(depth);
        }
        c
    }
}

impl ChatHub for LocalHub {
    fn connect(
        &self,
        who: Identity,
        door: DoorKind,
        peer: Option<IpAddr>,
    ) -> HubFuture<'_, Connected> {
        Box::pin(self.connect_member(who, door, peer))
    }
    fn join<'a>(&'a self, id: SessionId, room: &'a str) -> HubFuture<'a, Joined> {
        Box::pin(self.join_room(id, room))
    }
    fn leave<'a>(&'a self, id: SessionId, room: &'a str) -> HubFuture<'a, ()> {
        Box::pin(std::future::ready(self.leave_room(id, room)))
    }
    fn submit<'a>(&'a self, id: SessionId, room: &'a str, text: &'a str) -> HubFuture<'a, Ticket> {
        Box::pin(self.submit_message(id, room, text, None))
    }
    fn submit_keyed<'a>(
        &'a self,
        id: SessionId,
        room: &'a str,
        text: &'a str,
        key: Option<&'a str>,
    ) -> HubFuture<'a, Ticket> {
        Box::pin(self.submit_message(id, room, text, key))
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
        Box::pin(self.list_all_members(room))
    }
    fn rooms(&self) -> HubFuture<'_, Vec<RoomInfo>> {
        Box::pin(self.list_rooms())
    }
    fn typing<'a>(&'a self, id: SessionId, room: &'a str) -> HubFuture<'a, ()> {
        Box::pin(std::future::ready(self.typing_in(id, room)))
    }
    fn disconnect(&self, id: SessionId) {
        self.disconnect_member(id);
    }
    fn history_for<'a>(
        &'a self,
        id: SessionId,
        room: &'a str,
        query: HistoryQuery,
    ) -> HubFuture<'a, HistoryPage> {
        Box::pin(self.history_for(id, room, query))
    }
    fn who_for<'a>(&'a self, id: SessionId, room: &'a str) -> HubFuture<'a, Vec<MemberInfo>> {
        Box::pin(self.who_for(id, room))
    }
    fn dms(&self, id: SessionId) -> HubFuture<'_, Vec<Conversation>> {
        Box::pin(self.list_dms(id))
    }
    fn unread(&self, id: SessionId, rooms: Vec<String>) -> HubFuture<'_, Vec<Conversation>> {
        Box::pin(self.unread_in(id, rooms))
    }
    fn mark_read<'a>(
        &'a self,
        id: SessionId,
        room: &'a str,
        seq: u64,
    ) -> HubFuture<'a, (Arc<str>, u64)> {
        Box::pin(self.mark_read(id, room, seq))
    }
    fn amend<'a>(
        &'a self,
        id: SessionId,
        room: &'a str,
        seq: u64,
        change: Amend,
    ) -> HubFuture<'a, Ticket> {
        Box::pin(self.amend_message(id, room, seq, change))
    }
    fn search<'a>(&'a self, who: &'a Identity, query: SearchQuery) -> HubFuture<'a, SearchPage> {
        let (who, registry) = (who.clone(), self.registry.clone());
        Box::pin(self.read(move |db| {
            // A guest reads no direct message; an account from its creation on.
            let from = match &who {
                Identity::Guest(_) => u64::MAX,
                Identity::Registered(name) => registry.reads_from(name),
            };
            db.search(&query, (&who, from))
        }))
    }
    fn topic<'a>(&'a self, room: &'a str) -> HubFuture<'a, String> {
        let room = room.to_owned();
        Box::pin(self.read(move |db| db.topic(&room)))
    }
}
