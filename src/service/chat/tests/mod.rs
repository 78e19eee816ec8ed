//! Hub tests: a real `LocalHub` on a temporary data directory, no sockets.

mod dm;
mod durability;
mod edits;
mod fanout;
mod limits;
mod members;
mod presence;
mod rules;
mod typing;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::*;

/// A guard against hangs, not a readiness wait: every awaited event is
/// expected promptly, and a test only takes this long when it fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// Settings with flood control off, so tests can publish freely, and
/// every join and leave announced at once (as tests of other features
/// read them; `presence` tests the grace period).
fn unlimited() -> ChatConfig {
    ChatConfig {
        rate_per_sec: 0.0,
        presence_grace: Duration::ZERO,
        ..ChatConfig::default()
    }
}

fn open(dir: &Path, config: ChatConfig) -> Arc<LocalHub> {
    LocalHub::open(dir, config, Arc::new(NoAccounts)).unwrap()
}

fn dyn_hub(hub: &Arc<LocalHub>) -> Arc<dyn ChatHub> {
    hub.clone()
}

/// A guest on the line door, already in `room`.
async fn guest_in(hub: &Arc<LocalHub>, name: &str, room: &str) -> (Session, Inbox) {
    let (s, inbox) = Session::open(dyn_hub(hub), Identity::Guest(name.into()), DoorKind::Line)
        .await
        .unwrap();
    s.join(room).await.unwrap();
    (s, inbox)
}

/// The next event, or a panic if none comes.
async fn next(inbox: &mut Inbox) -> Event {
    tokio::time::timeout(PATIENCE, inbox.recv())
        .await
        .expect("an event in time")
        .expect("the inbox is open")
}

/// The next message, skipping presence events.
async fn next_message(inbox: &mut Inbox) -> Arc<Message> {
    loop {
        match next(inbox).await {
            Event::Message(m) => return m,
            Event::Presence(_) | Event::Read(_) => {}
            Event::Dropped => panic!("cut off"),
        }
    }
}

/// The next presence event, skipping messages.
async fn next_presence(inbox: &mut Inbox) -> Arc<Presence> {
    loop {
        match next(inbox).await {
            Event::Presence(p) => return p,
            Event::Message(_) | Event::Read(_) => {}
            Event::Dropped => panic!("cut off"),
        }
    }
}

/// Ids and texts of a history page.
fn texts(page: &HistoryPage) -> Vec<(u64, String)> {
    page.messages
        .iter()
        .map(|m| (m.id, m.text.clone()))
        .collect()
}
