//! One datagram member: a task per source address that owns the chat
//! session, takes the member's parsed datagrams from a small queue, and
//! sends it what the hub delivers.
//!
//! The receive loop never waits on a member: it hands datagrams over with
//! `try_send`, and everything that can wait (naming, commits, sends) waits
//! here, for this member only. The task ends when the receive loop drops
//! its queue (the lease ran out, or the server stops), when the hub cuts
//! the member off, or when sending to it fails; dropping the session then
//! takes the member out of its rooms.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::render::DATAGRAMS;
use super::request::{Request, error_reply};
use super::transmit::{Transmit, send_to};
use crate::service::chat::{
    ChatError, ChatHub, DEFAULT_ROOM, DoorKind, Event, Identity, Session, room_name,
};

/// Datagrams waiting for one member's task. A person sends a few a
/// minute; a full queue means a script outpacing the hub's flood limit,
/// and its extra datagrams are refused with an error instead of queued.
pub const MEMBER_QUEUE: usize = 16;

/// How long one send may wait for room in the socket's send buffer
/// before that datagram is skipped (UDP promises no delivery; the member
/// stays). Only this member's task waits.
const SEND_STALL: Duration = Duration::from_secs(1);

/// How long a member reclaiming its name from its own earlier address
/// waits for that member to let go of it: the old task only has to drop
/// its session, so this is a bound, not a delay.
const RECLAIM_WAIT: Duration = Duration::from_secs(2);

/// A started member: its queue, and a token cancelled once its task has
/// ended and its session (name, rooms) is let go.
pub struct Started {
    /// The member's queue.
    pub tx: mpsc::Sender<Request>,
    /// Cancelled when the member is gone.
    pub gone: CancellationToken,
}

/// Starts a member's task. With `prior`, the task first waits (at most
/// [`RECLAIM_WAIT`]) for that earlier member to be gone, so that its name
/// is free to take.
pub fn spawn(
    hub: Arc<dyn ChatHub>,
    socket: Arc<dyn Transmit>,
    peer: SocketAddr,
    lease: Duration,
    tracker: &tokio_util::task::TaskTracker,
    prior: Option<CancellationToken>,
) -> Started {
    let (tx, rx) = mpsc::channel(MEMBER_QUEUE);
    let gone = CancellationToken::new();
    let guard = gone.clone().drop_guard();
    let span = tracing::debug_span!("udp member", door = "chat-udp", %peer);
    let out = Out { socket, peer };
    tracker.spawn(tracing::Instrument::instrument(
        async move {
            if let Some(p) = prior {
                let _ = tokio::time::timeout(RECLAIM_WAIT, p.cancelled()).await;
            }
            run(hub, out, lease, rx).await;
            // The session is dropped by now: the name is free.
            drop(guard);
        },
        span,
    ));
    Started { tx, gone }
}

/// The way back to the member.
struct Out {
    socket: Arc<dyn Transmit>,
    peer: SocketAddr,
}

/// The member's socket failed: drop the member.
struct SendFailed;

impl Out {
    async fn send(&self, bytes: &[u8]) -> Result<(), SendFailed> {
        match tokio::time::timeout(SEND_STALL, send_to(&*self.socket, bytes, self.peer)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "send failed; dropping the member");
                Err(SendFailed)
            }
            Err(_) => {
                tracing::debug!("send buffer full; one datagram skipped");
                Ok(())
            }
        }
    }

    async fn error(&self, e: &ChatError) -> Result<(), SendFailed> {
        self.send(&error_reply(e.code().as_str(), &e.to_string()))
            .await
    }
}

/// A connected member's state.
struct Member {
    session: Session,
    out: Out,
    /// The name as last asked for (without `~`), to notice a new one.
    asked: String,
    /// Rooms the member is in, with the time of its last datagram to each:
    /// a room's lease runs out on its own.
    rooms: HashMap<Arc<str>, Instant>,
    lease: Duration,
}

async fn run(hub: Arc<dyn ChatHub>, out: Out, lease: Duration, mut rx: mpsc::Receiver<Request>) {
    let Some(first) = rx.recv().await else { return };
    let who = Identity::Guest(first.name.clone());
    let peer = Some(out.peer.ip());
    let (session, mut inbox) = match Session::open_from(hub, who, DoorKind::Datagram, peer).await {
        Ok(s) => s,
        Err(e) => {
            let _ = out.error(&e).await;
            return;
        }
    };
    tracing::debug!(name = %session.name(), "udp chat member in");
    let mut m = Member {
        session,
        out,
        asked: first.name.clone(),
        rooms: HashMap::new(),
        lease,
    };
    if m.handle(first).await.is_err() {
        return;
    }
    let mut sweep = tokio::time::interval(super::sweep_period(lease));
    loop {
        let step = tokio::select! {
            req = rx.recv() => match req {
                Some(r) => m.handle(r).await,
                None => return, // lease over, or the server stops
            },
            ev = inbox.recv() => match ev {
                Some(ev) => m.deliver(ev).await,
                None => return,
            },
            _ = sweep.tick() => {
                m.expire_rooms().await;
                Ok(())
            }
        };
        if step.is_err() {
            return;
        }
    }
}

impl Member {
    /// Carries out one datagram: rename if the name changed, join or renew
    /// the room, publish the message. Refusals go back as error replies.
    async fn handle(&mut self, req: Request) -> Result<(), SendFailed> {
        if let Err(e) = self.apply(req).await {
            self.out.error(&e).await?;
        }
        Ok(())
    }

    async fn apply(&mut self, req: Request) -> Result<(), ChatError> {
        if req.name != self.asked {
            self.session
                .rename(Identity::Guest(req.name.clone()))
                .await?;
            self.asked = req.name;
        }
        let room = room_name(req.room.as_deref().unwrap_or(DEFAULT_ROOM))?;
        let now = Instant::now();
        let room = match self.rooms.get_key_value(room.as_str()) {
            Some((name, _)) => name.clone(),
            None => self.session.join(&room).await?.room,
        };
        self.rooms.insert(room.clone(), now);
        if let Some(msg) = req.msg {
            // Refusals (rate, filter, length) come back from submit; the
            // commit itself is not waited for: a datagram sender gets no
            // acknowledgement anyway, and a fast sender flows at the hub's
            // group-commit speed instead of one commit per datagram. The
            // hub commits in submission order.
            drop(self.session.submit(&room, &msg).await?);
        }
        Ok(())
    }

    /// Sends one event. Own messages are not echoed; a cut-off is
    /// reported and ends the member.
    async fn deliver(&mut self, ev: Event) -> Result<(), SendFailed> {
        let bytes: Bytes = match ev {
            Event::Message(m) if m.origin == Some(self.session.id()) => return Ok(()),
            Event::Message(m) => m.render(&*DATAGRAMS),
            // Typing notices are for clients that show them; not sent here.
            Event::Presence(p) if p.typist().is_some() => return Ok(()),
            Event::Presence(p) => p.render(&*DATAGRAMS),
            // Read markers belong to accounts, which this door has not.
            Event::Read(_) => return Ok(()),
            Event::Dropped => {
                tracing::info!(name = %self.session.name(), "udp chat member cut off");
                let reply = error_reply(
                    "cut_off",
                    "you were cut off: too many messages for you were waiting; send again to rejoin",
                );
                let _ = self.out.send(&reply).await;
                return Err(SendFailed);
            }
        };
        self.out.send(&bytes).await
    }

    /// Leaves the rooms whose lease ran out.
    async fn expire_rooms(&mut self) {
        let now = Instant::now();
        let lease = self.lease;
        let expired: Vec<Arc<str>> = self
            .rooms
            .iter()
            .filter(|(_, last)| now.saturating_duration_since(**last) >= lease)
            .map(|(r, _)| r.clone())
            .collect();
        for room in expired {
            self.rooms.remove(&room);
            if let Err(e) = self.session.leave(&room).await {
                tracing::debug!(error = %e, %room, "leaving an expired room");
            }
        }
    }
}
