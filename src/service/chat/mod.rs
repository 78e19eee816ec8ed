//! The chat hub: rooms, members, presence, history, filter and flood
//! control, with no sockets. Every door (frame protocol, nc/telnet lines,
//! UDP JSON datagrams, web) calls the same [`ChatHub`], so all meet in the
//! same rooms under the same rules.
//!
//! A message's path: a door calls [`Session::publish`]; the hub checks
//! membership and the member's [flood limit](TokenBucket), [sanitises] the
//! text, applies the [word filter](WordFilter) and the length limit, and
//! queues it for the writer thread, which commits a whole batch in one
//! transaction, then fans each message out to the room's members' bounded
//! queues and acks its sender. Invariant: a message acknowledged to its
//! sender, or seen by anyone, is committed.
//!
//! ```no_run
//! # async fn demo(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use sockit::service::chat::*;
//!
//! let hub: Arc<dyn ChatHub> = LocalHub::open(dir, ChatConfig::default(), Arc::new(NoAccounts))?;
//! let (me, mut inbox) = Session::open(hub, Identity::Guest("ann".into()), DoorKind::Line).await?;
//! me.join(DEFAULT_ROOM).await?;
//! me.publish(DEFAULT_ROOM, "hello").await?;
//! while let Some(ev) = inbox.recv().await {
//!     match ev {
//!         Event::Message(m) => println!("<{}> {}", m.name, m.text),
//!         Event::Presence(p) => println!("* {}", p.notice()),
//!         Event::Dropped => break, // cut off: tell the client and hang up
//!         Event::Read(_) => {}      // a read marker moved elsewhere
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! [sanitises]: sanitize

mod api;
mod config;
mod db;
mod directory;
mod dm;
mod dm_floor;
mod edit;
mod error;
mod event;
mod filter;
mod flood;
mod fold;
mod herald;
mod history;
mod history_edit;
mod history_pg;
mod inbox;
mod keys;
mod local;
mod merge;
mod migrate;
mod names;
mod presence_pg;
mod publish_pg;
mod reads;
mod reads_db;
mod reads_pg;
mod render;
mod room;
mod sanitize;
mod search;
mod search_pg;
mod wire;
mod writer;
mod writer_edit;
mod writer_pg;

#[cfg(test)]
mod tests;

pub use api::{ChatHub, Connected, HubFuture, Joined, Session, Ticket};
pub use config::{
    ADDRESSES_MAX, ChatConfig, DEFAULT_BURST, DEFAULT_GUEST_IP_BURST, DEFAULT_GUEST_IP_RATE,
    DEFAULT_HISTORY_MAX_AGE, DEFAULT_HISTORY_MAX_BYTES, DEFAULT_HISTORY_PAGE_MAX,
    DEFAULT_HISTORY_ROOM_MAX, DEFAULT_MAX_BATCH, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_PRUNE_EVERY,
    DEFAULT_QUEUE_CAPACITY, DEFAULT_RATE_PER_SEC, DEFAULT_ROOM, DEFAULT_ROOM_CREATES_PER_HOUR,
    DEFAULT_ROOM_IDLE, DEFAULT_ROOMS_MAX, MAX_ROOMS_PER_MEMBER, PRUNE_CHUNK, ROOM_LIST_MAX,
    TYPING_EVERY, TYPING_EXPIRES, WRITE_QUEUE_CAPACITY,
};
pub use db::{OpenStoreError, PRESENCE_TTL};
pub use dm::{
    DM_MARK, DM_MAX_PER_ACCOUNT, Recipient, conversation, dm_parties, dm_peer, dm_room, is_dm,
    may_read,
};
pub use edit::{Amend, DEFAULT_EDIT_WINDOW, TOPIC_MAX_BYTES};
pub use error::ChatError;
pub use event::{
    Change, DoorKind, Event, MemberInfo, Message, Presence, Renderer, Revision, RoomInfo, SessionId,
};
pub use filter::{FilterAction, FilterRule, FilterRuleError, WordFilter};
pub use flood::TokenBucket;
pub use herald::{DEFAULT_PRESENCE_GRACE, FOLD_NAMES_MAX, Summary};
pub use history::{DB_FILE, HistoryPage, HistoryQuery};
pub use inbox::{Inbox, Offer, Outbox, channel};
pub use keys::{KEY_MAX_BYTES, KEY_TTL};
pub(crate) use local::message_text;
pub use local::{LocalHub, OpenError, PruneReport};
pub use migrate::{ChatCopied, CopyError, copy_to_pg};
pub use names::{
    GUEST_MARK, Identity, NAME_MAX_CHARS, NameRegistry, NoAccounts, ROOM_MAX_CHARS, account_name,
    guest_name, name_key, room_name,
};
pub use reads::{
    COUNT_CAP, Conversation, MENTION_SCAN, ReadMark, UNREAD_ROOMS_MAX, account_key, mentions,
};
pub use render::{RENDER_SLOTS, RenderSlot};
pub use room::{HubStats, PRESENCE_ROOM_MAX};
pub use sanitize::sanitize;
pub use search::{
    DEFAULT_SEARCH_LIMIT, QUERY_MAX_BYTES, QUERY_MAX_WORDS, SEARCH_LIMIT_MAX, SNIPPET_MAX_CHARS,
    SearchHit, SearchPage, SearchQuery,
};
