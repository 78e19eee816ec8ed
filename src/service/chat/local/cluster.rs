//! The cluster feed: how messages committed on other nodes reach this
//! node's members, when the history is in PostgreSQL.
//!
//! Modelled on Centrifugo's PostgreSQL stream broker: `chat_messages` is
//! read as an outbox, every [`POLL_EVERY`] and whenever another node's
//! `pg_notify` wakes the feed (LISTEN/NOTIFY is only a wake-up: notifications sent
//! while the feed reconnects are lost, the poll is not). Rows come in id
//! order, which is commit order (see `history_pg`); each one for a room
//! this node holds in memory is merged by seq (see `merge`): duplicates
//! dropped, gaps read from history first. Rows this node committed are
//! left out: its writer delivers them, with their sender, so that a
//! member is never sent its own message back.
//!
//! At a join the room's last seq is read first and the room goes into
//! this node's map (subscribed) after, so a row committed in between is
//! not fed to it by the outbox read. It is not lost: the room's next row
//! shows a gap, read from history before it is delivered, and every
//! [`CHECK_EVERY`] the feed compares each room's last delivered seq with
//! the room's top in PostgreSQL and catches up from history, which also
//! covers the last message of a burst whose wake-up was lost.
//!
//! Presence: with the same period the feed sends this node's heartbeat
//! and, when they changed, its members per room (`chat_presence`); `who`
//! adds the members of nodes heard from within
//! [`PRESENCE_TTL`](crate::service::chat::PRESENCE_TTL), so a node killed
//! with `kill -9` vanishes from every list within that, plus a second.
//! Then it reads the other nodes' members of the rooms held here, from
//! which each room's herald announces their joins and leaves to the
//! members here (`herald::remote`).
//!
//! When PostgreSQL goes away the feed reconnects every [`RETRY_EVERY`]
//! and goes on from its cursor, so nothing committed meanwhile is missed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Weak;
use std::time::{Duration, Instant};

use postgres::Client;
use postgres::fallible_iterator::FallibleIterator;

use super::LocalHub;
use super::typing::TYPING_CHANNEL;
use crate::service::chat::dm::is_dm;
use crate::service::chat::event::{Event, Message};
use crate::service::chat::history_pg::{self, NOTIFY_CHANNEL, PresenceRow};
use crate::service::chat::merge;
use crate::service::chat::reads_db::READ_CHANNEL;
use crate::service::chat::room::{Room, lock};
use crate::service::chat::writer::now_millis;
use crate::store::pg::{PgConn, PgTarget};

/// Longest a committed message waits for the feed when its wake-up is
/// lost: Centrifugo's default outbox poll.
pub const POLL_EVERY: Duration = Duration::from_millis(100);

/// How often each room in memory has its top seq checked against
/// PostgreSQL: one cheap indexed query per node per period, and the bound
/// on how late a lost last message arrives.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Pause between two attempts to reach PostgreSQL while it is down.
pub const RETRY_EVERY: Duration = Duration::from_millis(250);

/// A node not heard from for this long is deleted from the presence
/// tables by the others (its members stopped being listed after
/// [`PRESENCE_TTL`](crate::service::chat::PRESENCE_TTL) already).
const FORGET_NODE_AFTER: Duration = Duration::from_secs(3600);

/// Most outbox rows read at once; a longer backlog is read in several
/// rounds without waiting in between.
const OUTBOX_BATCH: usize = 1000;

/// Starts the feed thread; it ends when the hub is dropped.
pub(super) fn spawn(hub: Weak<LocalHub>, cfg: PgTarget, node: Arc<str>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("chat-cluster".into())
        .spawn(move || run(&hub, cfg, &node))?;
    Ok(())
}

fn run(hub: &Weak<LocalHub>, cfg: PgTarget, node: &str) {
    // LISTENs: it finds a restart in its own wait, and reconnects below.
    let mut conn = PgConn::listening(cfg);
    let mut presence = Presence::default();
    let mut cursor: Option<i64> = None;
    let mut listening = false;
    let mut last_check = Instant::now();
    let mut down_since: Option<Instant> = None;
    loop {
        if hub.strong_count() == 0 {
            // A clean stop: this node's members leave every list now.
            let _ = conn.with(|c| history_pg::leave_cluster(c, node));
            return;
        }
        let r = conn.with(|c| {
            if !listening {
                c.batch_execute(&format!(
                    "LISTEN {NOTIFY_CHANNEL}; LISTEN {READ_CHANNEL}; LISTEN {TYPING_CHANNEL}"
                ))?;
                listening = true;
            }
            let start = match cursor {
                Some(at) => at,
                None => *cursor.insert(history_pg::outbox_end(c)?),
            };
            let full = round(hub, c, (start, node), &mut cursor)?;
            if last_check.elapsed() >= CHECK_EVERY {
                last_check = Instant::now();
                check_tops(hub, c)?;
                presence.beat(hub, c, node)?;
                super::herald::look_around(hub, c, node)?;
            }
            if !full {
                wait(hub, c, node)?;
            }
            Ok(())
        });
        match r {
            Ok(()) => {
                if let Some(t) = down_since.take() {
                    tracing::info!(after = ?t.elapsed(), "chat cluster feed: PostgreSQL back");
                }
            }
            Err(e) => {
                listening = false;
                presence.written = None;
                conn.reset();
                if down_since.is_none() {
                    down_since = Some(Instant::now());
                    tracing::warn!(error = %e, "chat cluster feed: PostgreSQL unreachable; retrying");
                }
                std::thread::sleep(RETRY_EVERY);
            }
        }
    }
}

/// Waits for another node's commit to wake the feed, or for the poll
/// period, whichever comes first; read markers and typing notices that
/// arrive meanwhile are passed on as they come. A commit's wake-up carries
/// the committing node's name (see `publish_pg`), and this node's own do
/// not wake it: its writer delivered those, and the outbox read would
/// leave them out. An empty payload (an edit's) wakes every node.
fn wait(hub: &Weak<LocalHub>, c: &mut Client, node: &str) -> Result<(), postgres::Error> {
    let until = Instant::now() + POLL_EVERY;
    let mut n = c.notifications();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let Some(note) = n.timeout_iter(left).next()? else {
            return Ok(());
        };
        let mut woken = pass_on(hub, node, &note);
        // Then every other notification already here.
        while let Some(note) = n.iter().next()? {
            woken |= pass_on(hub, node, &note);
        }
        if woken {
            return Ok(());
        }
    }
}

/// Passes a read marker or typing notice on; true for another node's
/// commit (a reason to read the outbox now).
fn pass_on(hub: &Weak<LocalHub>, node: &str, note: &postgres::Notification) -> bool {
    match note.channel() {
        READ_CHANNEL => remote_read(hub, node, note.payload()),
        TYPING_CHANNEL => remote_typing(hub, node, note.payload()),
        _ => return note.payload() != node,
    }
    false
}

/// This node's side of presence: its members, written to PostgreSQL with
/// every heartbeat when they changed, and the heartbeat itself.
#[derive(Default)]
struct Presence {
    /// What the table holds for this node, as last written (`None`: not
    /// known, e.g. after a reconnect: write again).
    written: Option<Vec<PresenceRow>>,
}

impl Presence {
    fn beat(
        &mut self,
        hub: &Weak<LocalHub>,
        c: &mut Client,
        node: &str,
    ) -> Result<(), postgres::Error> {
        let Some(hub) = hub.upgrade() else {
            return Ok(());
        };
        let rooms: Vec<Arc<Room>> = lock(&hub.rooms).values().cloned().collect();
        drop(hub);
        let mut now: Vec<PresenceRow> = Vec::new();
        for r in rooms {
            let members: Vec<_> = lock(&r.state).members.clone();
            now.extend(members.iter().map(|m| (r.name.clone(), m.info())));
        }
        now.sort_by(|a, b| (&a.0, &a.1.name).cmp(&(&b.0, &b.1.name)));
        let changed = self.written.as_ref() != Some(&now);
        history_pg::heartbeat(c, node, changed.then_some(&now[..]), FORGET_NODE_AFTER)?;
        if changed {
            self.written = Some(now);
        }
        Ok(())
    }
}

/// Reads one batch of the outbox after `start` and merges it into the
/// rooms in memory; true when the batch was full (more may wait).
fn round(
    hub: &Weak<LocalHub>,
    c: &mut Client,
    (start, node): (i64, &str),
    cursor: &mut Option<i64>,
) -> Result<bool, postgres::Error> {
    let rows = history_pg::outbox_after(c, start, node, OUTBOX_BATCH)?;
    let Some(&(end, _)) = rows.last() else {
        return Ok(false);
    };
    let full = rows.len() == OUTBOX_BATCH;
    let Some(hub) = hub.upgrade() else {
        return Ok(false);
    };
    // One room's rows stay in seq order (they commit in seq order).
    let mut by_room: HashMap<Arc<str>, Vec<Arc<Message>>> = HashMap::new();
    for (_, m) in rows {
        by_room.entry(m.room.clone()).or_default().push(Arc::new(m));
    }
    for (name, msgs) in by_room {
        let room = lock(&hub.rooms).get(&name).cloned();
        if room.is_none() && is_dm(&name) {
            // A direct message no session here opened: its parties'
            // sessions here still learn of it.
            for m in &msgs {
                hub.directory
                    .offer_dm(&name, &Event::Message(m.clone()), &[]);
            }
        }
        if let Some(room) = room {
            merge::deliver_in_order(
                c,
                &room,
                &msgs,
                0,
                hub.config.history_page_max,
                &hub.counters,
            )?;
        }
    }
    *cursor = Some(end);
    Ok(full)
}

/// Delivers a read marker another node announced (`{"node","user","room",
/// "seq"}`) to the account's sessions here; this node's own are skipped
/// (delivered when set), and an unreadable payload is ignored.
fn remote_read(hub: &Weak<LocalHub>, node: &str, payload: &str) {
    #[derive(serde::Deserialize)]
    struct Note {
        node: String,
        user: String,
        room: String,
        seq: u64,
    }
    let Ok(n) = serde_json::from_str::<Note>(payload) else {
        return;
    };
    if let (false, Some(hub)) = (n.node == node, hub.upgrade()) {
        hub.remote_read(&n.user, &n.room, n.seq);
    }
}

/// Passes a typing notice another node sent to the room's members here
/// (see `typing`).
fn remote_typing(hub: &Weak<LocalHub>, node: &str, payload: &str) {
    if let Some(hub) = hub.upgrade() {
        hub.remote_typing(node, payload, now_millis());
    }
}

/// Catches up every room in memory whose top in PostgreSQL is past its
/// last delivered seq.
fn check_tops(hub: &Weak<LocalHub>, c: &mut Client) -> Result<(), postgres::Error> {
    let Some(hub) = hub.upgrade() else {
        return Ok(());
    };
    let rooms: Vec<Arc<Room>> = lock(&hub.rooms).values().cloned().collect();
    if rooms.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = rooms.iter().map(|r| &*r.name).collect();
    for (name, top) in history_pg::tops(c, &names)? {
        let Some(room) = rooms.iter().find(|r| *r.name == *name) else {
            continue;
        };
        if lock(&room.state).last_id < top {
            let page_max = hub.config.history_page_max;
            merge::deliver_in_order(c, room, &[], top, page_max, &hub.counters)?;
        }
    }
    Ok(())
}
