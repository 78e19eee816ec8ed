//! Settings of the chat hub, with the defaults `sockit serve` starts from.

use std::time::Duration;

use crate::store::Durability;

use super::filter::FilterRule;

/// Default room every door puts a newcomer in.
pub const DEFAULT_ROOM: &str = "lobby";

/// Default capacity of a member's outgoing queue, in events. A member that
/// falls this far behind is cut off (see [`ChatConfig::queue_capacity`]).
/// 4,096 events (under 1 MiB of shared messages; NATS allows a slow
/// consumer 64 MiB) absorbs a busy room's bursts while a reader's thread
/// is descheduled, and the queue grows only while its member lags: an idle
/// member holds none of it.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;

/// Shortest gap between two typing notices of one member in one room that
/// are passed on (IRCv3's `+typing` asks clients for one every 3 seconds
/// while typing); sooner ones are dropped, so a client cannot flood.
pub const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// How long a typing notice stands: clients are told it expires after 6
/// seconds (twice [`TYPING_EVERY`], so one lost notice does not blink the
/// indicator off); a notice that reaches another node of a cluster later
/// than this after it was sent is dropped there.
pub const TYPING_EXPIRES: std::time::Duration = std::time::Duration::from_secs(6);

/// Default largest history page: enough to fill a terminal several times,
/// small enough that one request cannot make the server build megabytes.
pub const DEFAULT_HISTORY_PAGE_MAX: usize = 500;

/// Default largest message, in UTF-8 bytes: a long paragraph, far below a
/// frame or datagram limit, so every door can carry any stored message.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024;

/// Default sustained message rate per member, per second: faster than anyone
/// types, slow enough that a script cannot flood a room.
pub const DEFAULT_RATE_PER_SEC: f64 = 5.0;

/// Default burst per member: a pasted handful of lines goes through at once.
pub const DEFAULT_BURST: u32 = 10;

/// Default largest group commit: bounds one transaction's latency (and the
/// memory held for it) while still amortising the commit over many messages.
pub const DEFAULT_MAX_BATCH: usize = 512;

/// Capacity of the queue of publishes waiting for the writer thread. When it
/// is full, publishers wait (backpressure) instead of growing memory;
/// at the default 4 KiB per message this holds at most 16 MiB of text.
pub const WRITE_QUEUE_CAPACITY: usize = 4096;

/// Most rooms one member may be in at once: each room costs a queue entry
/// per event, so this bounds how much one member can make the hub do.
pub const MAX_ROOMS_PER_MEMBER: usize = 32;

/// Most rooms [`rooms`](super::ChatHub::rooms) lists, so the answer fits in
/// one frame or datagram however many rooms history holds.
pub const ROOM_LIST_MAX: usize = 1000;

/// Default sustained message rate shared by all guests from one address
/// (an IPv4 address or an IPv6 /64), per second: four guests typing fast,
/// while 300 scripted guests from one host get 20 messages a second in
/// all instead of 1,500. Never below one member's own allowance.
pub const DEFAULT_GUEST_IP_RATE: f64 = 20.0;

/// Default burst of the per-address guest budget.
pub const DEFAULT_GUEST_IP_BURST: u32 = 60;

/// Default most rooms the server holds (with history or members): far
/// more than a team uses, few enough that the room list and the per-room
/// rows stay small. A join that would create one more is refused
/// (`rooms_full`).
pub const DEFAULT_ROOMS_MAX: usize = 10_000;

/// Default new rooms one address may create per hour (and at once): a
/// person opens a handful; a script creating thousands is refused
/// (`room_quota`) and must join existing rooms.
pub const DEFAULT_ROOM_CREATES_PER_HOUR: u32 = 30;

/// Default time a room with no members stays in memory before it is
/// evicted (it is loaded again from history on the next join): long
/// enough that a reconnect does not reload it, short enough that memory
/// follows the rooms in use, not every room ever used.
pub const DEFAULT_ROOM_IDLE: Duration = Duration::from_secs(5 * 60);

/// Default age after which messages are deleted from history: a month
/// of scrollback, as chat services keep on their free tiers; longer
/// needs an operator's choice, not a guest's.
pub const DEFAULT_HISTORY_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Default most messages kept per room: a long scrollback (at most
/// 40 MiB of 4 KiB messages), so no single room can take the whole
/// global budget.
pub const DEFAULT_HISTORY_ROOM_MAX: u64 = 10_000;

/// Default most bytes the history database may use; past it the oldest
/// messages, in any room, go first. 256 MiB holds about a million typical
/// messages and fits a small VPS's disk.
pub const DEFAULT_HISTORY_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Default time between two pruning passes (retention and idle rooms).
/// Limits are enforced to within this period.
pub const DEFAULT_PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Most rows one pruning step deletes in one transaction: short enough
/// that the writer thread never waits long for the database lock.
pub const PRUNE_CHUNK: usize = 1000;

/// Most addresses the hub tracks budgets for: far more than the
/// connection limits let connect at once; when full, addresses with no
/// member online and a full budget are forgotten first.
pub const ADDRESSES_MAX: usize = 65_536;

/// How the hub behaves; `Default` gives the values above.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// Capacity of each member's outgoing queue, in events. Policy when it
    /// is full: the member is cut off (it receives [`Event::Dropped`] and
    /// nothing more; its door disconnects it with a notice), as NATS does for
    /// slow consumers and IRC servers for a full send queue. The room never
    /// waits for it and its memory never grows past this many events.
    ///
    /// [`Event::Dropped`]: super::Event::Dropped
    pub queue_capacity: usize,
    /// Largest number of messages one history request returns.
    pub history_page_max: usize,
    /// Sustained messages per second per member (token bucket refill).
    pub rate_per_sec: f64,
    /// Messages a member may send at once before the rate applies.
    pub burst: u32,
    /// Largest message in UTF-8 bytes, checked before and after filtering.
    pub max_message_bytes: usize,
    /// Word filter rules, applied in order of appearance (see
    /// [`FilterRule::parse`] for the `FROM=TO` / `FROM=!block` syntax).
    pub filter: Vec<FilterRule>,
    /// Most publishes committed in one transaction.
    pub max_batch: usize,
    /// How hard each commit tries to survive a crash. Default
    /// [`Durability::Normal`]: with WAL, a commit is in the OS once it
    /// returns, so kill -9 loses nothing acknowledged; only a power cut can
    /// lose the last commits, and skipping the fsync per commit is what lets
    /// one writer keep up with hundreds of thousands of messages a second.
    pub durability: Durability,
    /// On PostgreSQL, whether the writer's commits wait for the WAL flush
    /// (`synchronous_commit`, on by default). Off, a commit that was
    /// acknowledged can be lost if PostgreSQL itself crashes (at most
    /// `wal_writer_delay` x 3 of them); a crash of this node loses nothing.
    /// Only the writer's connection is affected.
    pub sync_commit: bool,
    /// Messages per second shared by all guests from one address (an IPv4
    /// address or IPv6 /64), on top of each member's own limit; not
    /// positive turns it off.
    pub guest_ip_rate: f64,
    /// Burst of the per-address guest budget.
    pub guest_ip_burst: u32,
    /// Most rooms the hub holds, in memory and in history; 0: no limit.
    pub rooms_max: usize,
    /// New rooms one address may create per hour (and at once); 0: no
    /// limit. Members with no address (Unix sockets, in-process) are not
    /// counted per address.
    pub room_creates_per_hour: u32,
    /// A room with no members is evicted from memory after this long.
    pub room_idle: Duration,
    /// Messages older than this are deleted; `None` keeps them forever.
    pub history_max_age: Option<Duration>,
    /// Most messages kept per room (oldest go first); 0: no limit.
    pub history_room_max: u64,
    /// Most bytes the history database may use (oldest messages go
    /// first); 0: no limit.
    pub history_max_bytes: u64,
    /// Time between pruning passes, run on a thread of their own.
    pub prune_every: Duration,
    /// How long after sending its author may edit or delete a message.
    pub edit_window: Duration,
    /// How long a member must stay in a room before its join is
    /// announced; joins and leaves within one such window are folded into
    /// one line (see `herald`). Zero announces each at once.
    pub presence_grace: Duration,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            history_page_max: DEFAULT_HISTORY_PAGE_MAX,
            rate_per_sec: DEFAULT_RATE_PER_SEC,
            burst: DEFAULT_BURST,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            filter: Vec::new(),
            max_batch: DEFAULT_MAX_BATCH,
            durability: Durability::Normal,
            sync_commit: true,
            guest_ip_rate: DEFAULT_GUEST_IP_RATE,
            guest_ip_burst: DEFAULT_GUEST_IP_BURST,
            rooms_max: DEFAULT_ROOMS_MAX,
            room_creates_per_hour: DEFAULT_ROOM_CREATES_PER_HOUR,
            room_idle: DEFAULT_ROOM_IDLE,
            history_max_age: Some(DEFAULT_HISTORY_MAX_AGE),
            history_room_max: DEFAULT_HISTORY_ROOM_MAX,
            history_max_bytes: DEFAULT_HISTORY_MAX_BYTES,
            prune_every: DEFAULT_PRUNE_EVERY,
            edit_window: super::edit::DEFAULT_EDIT_WINDOW,
            presence_grace: super::herald::DEFAULT_PRESENCE_GRACE,
        }
    }
}
