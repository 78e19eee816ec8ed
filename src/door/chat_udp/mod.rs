//! The datagram chat door, the QQ-style UDP chat: `sockit serve --chat-udp`.
//!
//! In: one JSON object per datagram, `{"name": .., "msg": .., "room": ..}`
//! (see [`request`](Request) for the options). The source address is the
//! member: its first datagram connects it under `~name`, each datagram
//! renews its lease on the room it names (default [`DEFAULT_LEASE`]), and a
//! datagram with another name renames it. When a room's lease runs out the
//! member leaves that room; when its last datagram is a lease old, it is
//! gone.
//!
//! Out, one JSON object per datagram:
//! - a message from someone else: `{"name","msg","room","id","ts","guest"}`
//!   (`ts` in Unix milliseconds; the member's own messages are not echoed);
//! - a presence change: `{"event":"join"|"leave"|"rename"|"cutoff",
//!   "notice":"~bob joined lobby","name","room","door","guest"}` (and
//!   `"from"`, the old name, for a rename);
//! - a refusal: `{"error": TEXT, "code": CODE}`, for a malformed or
//!   oversized datagram, or a refused message (blocked word, flood limit).
//!
//! Bounds: at most [`MAX_MEMBERS`] addresses at once, and
//! [`MAX_MEMBERS_PER_IP`] per IPv4 address or IPv6 /64 (or
//! `--max-conns-per-ip`, when lower); past either, new addresses are
//! refused (not the oldest evicted: otherwise a flood of spoofed sources
//! would push every real member out). Each member has a queue of
//! [`MEMBER_QUEUE`] datagrams; the receive loop only ever `try_send`s, so
//! no member slows it. Error replies are rate-limited as a whole
//! ([`ERROR_REPLIES_PER_SEC`]) so the door cannot be used to reflect
//! traffic at a spoofed victim. Datagrams from addresses the access lists
//! deny, or larger than `--max-datagram`, are dropped before parsing.

mod member;
mod request;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::net::serve::{admit_datagram, datagram_buffer};
use crate::net::{Gate, PeerKey};
use crate::service::chat::{ChatHub, TokenBucket};

pub use member::MEMBER_QUEUE;
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
    let socket = Arc::new(socket);
    let mut door = Door {
        members: HashMap::new(),
        per_ip: HashMap::new(),
        errors: TokenBucket::new(ERROR_REPLIES_PER_SEC, ERROR_REPLIES_PER_SEC as u32),
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
    socket: Arc<UdpSocket>,
    opts: ChatUdpOpts,
}

/// One member as the receive loop sees it.
struct Slot {
    tx: mpsc::Sender<Request>,
    last: Instant,
}

impl Door {
    /// Handles one datagram without waiting on anything.
    fn datagram(&mut self, data: &[u8], peer: SocketAddr) {
        let refusal = match parse(data) {
            Ok(req) => self.route(peer, req).err(),
            Err(r) => Some(r),
        };
        if let Some(r) = refusal {
            tracing::debug!(%peer, code = r.code, "datagram refused");
            self.reply_error(peer, &r);
        }
    }

    /// Hands a request to its member's task, starting one for a new address.
    fn route(&mut self, peer: SocketAddr, req: Request) -> Result<(), Refusal> {
        if let Some(slot) = self.members.get_mut(&peer) {
            match slot.tx.try_send(req) {
                Ok(()) => {
                    slot.last = Instant::now();
                    return Ok(());
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    return Err(Refusal {
                        code: "rate_limited",
                        error: "slow down: too many datagrams waiting; send fewer".to_owned(),
                    });
                }
                // The member ended (cut off, refused name): start afresh.
                Err(mpsc::error::TrySendError::Closed(r)) => {
                    self.remove(peer);
                    return self.admit(peer, r);
                }
            }
        }
        self.admit(peer, req)
    }

    fn admit(&mut self, peer: SocketAddr, req: Request) -> Result<(), Refusal> {
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
        let tx = member::spawn(
            o.hub.clone(),
            self.socket.clone(),
            peer,
            o.lease,
            &o.tracker,
        );
        // A fresh queue has room.
        let _ = tx.try_send(req);
        let last = Instant::now();
        self.members.insert(peer, Slot { tx, last });
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

    /// Lets go of members whose lease ran out or whose task ended.
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
    }

    /// Sends an error reply if the budget allows, without waiting.
    fn reply_error(&mut self, peer: SocketAddr, r: &Refusal) {
        if self.errors.take().is_err() {
            return;
        }
        let reply = error_reply(r.code, &r.error);
        if let Err(e) = self.socket.try_send_to(&reply, peer) {
            tracing::debug!(%peer, error = %e, "error reply not sent");
        }
    }
}
