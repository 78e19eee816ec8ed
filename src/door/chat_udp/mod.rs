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
mod receive;
mod render;
mod request;
#[cfg(test)]
mod tests;
mod transmit;
pub mod visitor;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::net::Gate;
use crate::net::serve::{admit_datagram, datagram_buffer};
use crate::service::chat::ChatHub;

use cookie::Cookies;
use receive::Door;

pub use member::MEMBER_QUEUE;
pub use render::{DATAGRAMS, Datagrams};
pub use request::{DATAGRAM_MAX, Refusal, Request, error_reply, parse};
pub use transmit::Transmit;

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
    let mut door = Door::new(socket.clone(), cookies, opts.clone());
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
