//! The datagram chat door, the QQ-style UDP chat: `sockit serve --chat-udp`.
//!
//! In: one JSON object per datagram, `{"name": .., "msg": .., "room": ..}`
//! (see [`request`](Request) for the options). UDP source addresses can be
//! forged, so the door never lets an address it has not verified turn it
//! into a reflector (docs/PROTOCOL.md, "The datagram chat door"):
//!
//! - **Unverified** (any source): each datagram earns the source three
//!   times its length in credit ([`budget`]); nothing is ever sent to it
//!   beyond that. A datagram with a `msg` posts it to the room without
//!   joining ([`visitor`]): no member entry, no presence, no name held,
//!   and the reply is what others said since, or the message itself. A
//!   datagram without `msg` (a join) or with a stale `cookie` is answered
//!   with `{"cookie": C}` ([`cookie`]), no more.
//! - **Verified**: a datagram that echoes a valid cookie makes its source
//!   a member: its first datagram connects it under `~name`, each datagram
//!   renews its lease on the room it names (default [`DEFAULT_LEASE`]),
//!   another name renames it, `{"leave": true}` ends it; it gets every
//!   message and presence of its rooms. A verified client that comes back
//!   from the same IP address on a new port takes its name back from its
//!   earlier self.
//!
//! Out, one JSON object per datagram:
//! - a message from someone else: `{"name","msg","room","id","ts","guest"}`
//!   (`ts` in Unix milliseconds; the member's own messages are not echoed);
//!   unverified sources get the short `{"name","msg"}`;
//! - a presence change (members only): `{"event":"join"|"leave"|"rename"|
//!   "cutoff", "notice":"~bob joined lobby","name","room","door","guest"}`
//!   (and `"from"`, the old name, for a rename);
//! - `{"cookie": C}`: echo C in your next datagrams to become a member;
//! - a refusal: `{"error": TEXT, "code": CODE}`, for a malformed or
//!   oversized datagram, or a refused message (blocked word, flood limit).
//!
//! Bounds: at most [`MAX_MEMBERS`] members at once, and
//! [`MAX_MEMBERS_PER_IP`] per IPv4 address or IPv6 /64 (or
//! `--max-conns-per-ip`, when lower); past either, new addresses are
//! refused (not the oldest evicted). Only verified sources become members,
//! so forged joins cannot fill the table. Unverified sources cost an entry
//! in a bounded budget table ([`budget::MAX_SOURCES`]) and at most
//! [`visitor::VISITOR_TASKS`] posts in flight. Each member has a queue of
//! [`MEMBER_QUEUE`] datagrams; the receive loop only ever `try_send`s, so
//! no member slows it. Error replies are rate-limited as a whole
//! ([`ERROR_REPLIES_PER_SEC`]) and, to unverified sources, paid from their
//! budget. Datagrams from addresses the access lists deny, or larger than
//! `--max-datagram`, are dropped before parsing.

pub mod budget;
pub mod cookie;
mod member;
mod render;
mod request;
pub mod visitor;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::net::serve::{admit_datagram, datagram_buffer};
use crate::net::{Gate, PeerKey};
use crate::service::chat::{ChatHub, TokenBucket, guest_name, name_key};

use budget::Budgets;
use cookie::Cookies;
use visitor::VISITOR_TASKS;

pub use member::MEMBER_QUEUE;
pub use render::{DATAGRAMS, Datagrams};
pub use request::{DATAGRAM_MAX, Refusal, Request, error_reply, parse};

/// Default lease: a member who sent nothing for ten minutes is taken out
/// of the room (UDP has no close to tell us it left).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(600);

/// Most datagram members at once. Each costs a task, a session and a
/// queue (a few KiB), so this caps the door at a few tens of MiB however
/// many source addresses a flood forges.
pub const MAX_MEMBERS: usize = 4096;

/// Most members from one IP address: a household or office behind one NAT
/// fits, one host cycling source ports cannot fill the door.
pub const MAX_MEMBERS_PER_IP: usize = 64;

/// Error replies per second, across all peers (and their burst). Enough
/// for every honest mistake; a flood of garbage gets silence past it,
/// so forged sources cannot turn the door into a reflector.
pub const ERROR_REPLIES_PER_SEC: f64 = 200.0;

/// Settings of the datagram chat door.
#[derive(Clone)]
pub struct ChatUdpOpts {
    /// The chat hub.
    pub hub: Arc<dyn ChatHub>,
    /// How long a member stays in a room after its last datagram to it.
    pub lease: Duration,
    /// Cancelled at shutdown: the loop stops and every member leaves.
    pub shutdown: CancellationToken,
    /// Tracks member tasks, so shutdown waits for them to leave.
    pub tracker: TaskTracker,
    /// Access lists, the datagram size limit, and the per-IP cap (members
    /// per address are capped at the lower of it and [`MAX_MEMBERS_PER_IP`]).
    pub gate: Arc<Gate>,
}

impl std::fmt::Debug for ChatUdpOpts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatUdpOpts")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// How often leases are checked: a quarter of the lease, so a member
/// leaves at most 25% late, and at least every 30 s.
fn sweep_period(lease: Duration) -> Duration {
    (lease / 4).clamp(Duration::from_millis(50), Duration::from_secs(30))
}

/// Serves the datagram chat door on `socket` until shutdown.
pub async fn serve_chat_udp(socket: UdpSocket, opts: ChatUdpOpts) {
    let cookies = match Cookies::new() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "chat-udp: no OS randomness for cookies; not serving it");
            return;
        }
    };
    let socket = Arc::new(socket);
    let mut door = Door {
        members: HashMap::new(),
        per_ip: HashMap::new(),
        errors: TokenBucket::new(ERROR_REPLIES_PER_SEC, ERROR_REPLIES_PER_SEC as u32),
        out: Arc::new(visitor::Out {
            socket: socket.clone(),
            budgets: Arc::new(Mutex::new(Budgets::default())),
        }),
        cookies,
        visitors: Arc::new(Semaphore::new(VISITOR_TASKS)),
        socket: socket.clone(),
        opts: opts.clone(),
    };
    let mut sweep = tokio::time::interval(sweep_period(opts.lease));
    let mut buf = datagram_buffer(&opts.gate);
    loop {
        tokio::select! {
            _ = opts.shutdown.cancelled() => return, // dropping queues ends members
            _ = sweep.tick() => door.sweep(),
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, peer)) if admit_datagram(&opts.gate, "chat-udp", n, peer) => {
                    door.datagram(&buf[..n], peer)
                }
                Ok(_) => {}
                // Errors concern one earlier peer; keep serving.
                Err(e) => tracing::debug!(door = "chat-udp", error = %e, "recv failed"),
            },
        }
    }
}

/// The receive loop's state: who is a member, and the error budget.
struct Door {
    members: HashMap<SocketAddr, Slot>,
    per_ip: HashMap<PeerKey, usize>,
    errors: TokenBucket,
    /// Replies to unverified sources, paid from their budget.
    out: Arc<visitor::Out>,
    cookies: Cookies,
    /// Permits for unverified posts in flight.
    visitors: Arc<Semaphore>,
    socket: Arc<UdpSocket>,
    opts: ChatUdpOpts,
}

/// One member as the receive loop sees it.
struct Slot {
    tx: mpsc::Sender<Request>,
    last: Instant,
    /// The key of the name it last asked for, to let its owner reclaim it.
    key: String,
    /// Cancelled once the member's task has let go of its session.
    gone: CancellationToken,
}

/// The key a requested guest name collides on ("" if it is no valid name).
fn key_of(name: &str) -> String {
    guest_name(name).map(|n| name_key(&n)).unwrap_or_default()
}

impl Door {
    /// Handles one datagram without waiting on anything.
    fn datagram(&mut self, data: &[u8], peer: SocketAddr) {
        if let Some(slot) = self.members.get(&peer) {
            if !slot.tx.is_closed() {
                let refusal = match parse(data) {
                    Ok(req) => self.route(peer, req).err(),
                    Err(r) => Some(r),
                };
                if let Some(r) = refusal {
                    tracing::debug!(%peer, code = r.code, "datagram refused");
                    self.reply_error(peer, &r);
                }
                return;
            }
            // The member ended (cut off, refused name): verify afresh.
            self.remove(peer);
        }
        self.unverified(data, peer);
    }

    /// A datagram from a source that is not a member.
    fn unverified(&mut self, data: &[u8], peer: SocketAddr) {
        visitor::lock(&self.out.budgets).earn(peer, data.len());
        let req = match parse(data) {
            Ok(req) => req,
            Err(r) => {
                tracing::debug!(%peer, code = r.code, "datagram refused");
                return self.reply_error(peer, &r);
            }
        };
        if req.leave {
            return; // not a member: nothing to leave
        }
        match req.cookie.as_deref() {
            Some(c) if self.cookies.check(peer, c) => {
                match self.admit(peer, req) {
                    Ok(()) => visitor::lock(&self.out.budgets).forget(peer),
                    Err(r) => self.reply_error(peer, &r),
                }
                return;
            }
            // A stale cookie, or a join: the answer is a cookie.
            Some(_) => return self.offer_cookie(peer),
            None if req.msg.is_none() => return self.offer_cookie(peer),
            None => {}
        }
        let paced = match visitor::lock(&self.out.budgets).get_mut(peer) {
            Some(s) => s.posts.take(),
            None => return,
        };
        if let Err(retry_after) = paced {
            let e = crate::service::chat::ChatError::RateLimited { retry_after };
            let r = Refusal {
                code: e.code().as_str(),
                error: e.to_string(),
            };
            return self.reply_error(peer, &r);
        }
        let Ok(permit) = self.visitors.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "too many unverified posts in flight; dropped");
            return;
        };
        let (hub, out) = (self.opts.hub.clone(), self.out.clone());
        self.opts.tracker.spawn(async move {
            visitor::post(hub, out, peer, req).await;
            drop(permit);
        });
    }

    /// Sends `{"cookie": C}` if the source's budget pays for it.
    fn offer_cookie(&mut self, peer: SocketAddr) {
        let reply = serde_json::json!({ "cookie": self.cookies.issue(peer) }).to_string();
        self.out.send(peer, reply.as_bytes());
    }

    /// Hands a request to its member's task (a leave ends the member).
    fn route(&mut self, peer: SocketAddr, req: Request) -> Result<(), Refusal> {
        if req.leave {
            self.remove(peer); // the task drains its queue, then leaves
            return Ok(());
        }
        let Some(slot) = self.members.get_mut(&peer) else {
            return Ok(());
        };
        let key = key_of(&req.name);
        match slot.tx.try_send(req) {
            Ok(()) => {
                slot.last = Instant::now();
                slot.key = key;
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(Refusal {
                code: "rate_limited",
                error: "slow down: too many datagrams waiting; send fewer".to_owned(),
            }),
            // Ended meanwhile; the next datagram verifies afresh.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.remove(peer);
                Ok(())
            }
        }
    }

    /// Makes a verified source a member. A member from the same IP address
    /// that last asked for the same name is taken out first: that is the
    /// same client back on a new port, reclaiming its name.
    fn admit(&mut self, peer: SocketAddr, req: Request) -> Result<(), Refusal> {
        let key = key_of(&req.name);
        let prior = self
            .members
            .iter()
            .find(|(p, s)| p.ip() == peer.ip() && !key.is_empty() && s.key == key)
            .map(|(p, s)| (*p, s.gone.clone()));
        let prior = prior.map(|(p, gone)| {
            tracing::debug!(%peer, old = %p, "name reclaimed by its address");
            self.remove(p);
            gone
        });
        let full = |what: &str| Refusal {
            code: "full",
            error: format!("the datagram chat is full ({what}); try again later"),
        };
        if self.members.len() >= MAX_MEMBERS {
            return Err(full("too many members"));
        }
        let from_ip = self.per_ip.entry(PeerKey::of(peer.ip())).or_default();
        if *from_ip >= self.opts.gate.member_cap(MAX_MEMBERS_PER_IP) {
            return Err(full("too many members from your address"));
        }
        *from_ip += 1;
        let o = &self.opts;
        let started = member::spawn(
            o.hub.clone(),
            self.socket.clone(),
            peer,
            o.lease,
            &o.tracker,
            prior,
        );
        // A fresh queue has room.
        let _ = started.tx.try_send(req);
        let slot = Slot {
            tx: started.tx,
            last: Instant::now(),
            key,
            gone: started.gone,
        };
        self.members.insert(peer, slot);
        Ok(())
    }

    fn remove(&mut self, peer: SocketAddr) {
        if self.members.remove(&peer).is_none() {
            return;
        }
        if let Entry::Occupied(mut e) = self.per_ip.entry(PeerKey::of(peer.ip())) {
            *e.get_mut() -= 1;
            if *e.get() == 0 {
                e.remove();
            }
        }
    }

    /// Lets go of members whose lease ran out or whose task ended, and of
    /// unverified sources silent for a lease.
    fn sweep(&mut self) {
        let now = Instant::now();
        let lease = self.opts.lease;
        let gone: Vec<SocketAddr> = self
            .members
            .iter()
            .filter(|(_, s)| s.tx.is_closed() || now.saturating_duration_since(s.last) >= lease)
            .map(|(p, _)| *p)
            .collect();
        for peer in gone {
            self.remove(peer);
        }
        visitor::lock(&self.out.budgets).sweep(lease);
    }

    /// Sends an error reply if the global budget allows and, for a source
    /// that is not a member, if its own budget pays for it.
    fn reply_error(&mut self, peer: SocketAddr, r: &Refusal) {
        if self.errors.take().is_err() {
            return;
        }
        let reply = error_reply(r.code, &r.error);
        if !self.members.contains_key(&peer) {
            self.out.send(peer, &reply);
            return;
        }
        if let Err(e) = self.socket.try_send_to(&reply, peer) {
            tracing::debug!(%peer, error = %e, "error reply not sent");
        }
    }
}
