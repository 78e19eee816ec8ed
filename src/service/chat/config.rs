//! Settings of the chat hub, with the defaults `sockit serve` starts from.

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
        }
    }
}
