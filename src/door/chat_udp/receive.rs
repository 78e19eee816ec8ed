//! The receive loop's state and rules ([`Door`]): each datagram from a
//! member goes to its task; one from any other source is paid for from
//! its budget, answered with a cookie, or posted as a visitor; members
//! are admitted under the caps and let go when their lease runs out.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::budget::Budgets;
use super::cookie::Cookies;
use super::transmit::Transmit;
use super::visitor::{self, VISITOR_TASKS};
use super::{
    ChatUdpOpts, ERROR_REPLIES_PER_SEC, MAX_MEMBERS, MAX_MEMBERS_PER_IP, Refusal, Request,
    error_reply, member, parse,
};
use crate::net::PeerKey;
use crate::service::chat::{TokenBucket, guest_name, name_key};

/// The receive loop's state: who is a member, and the error budget.
pub(super) struct Door {
    pub(super) members: HashMap<SocketAddr, Slot>,
    per_ip: HashMap<PeerKey, usize>,
    errors: TokenBucket,
    /// Replies to unverified sources, paid from their budget.
    out: Arc<visitor::Out>,
    cookies: Cookies,
    /// Permits for unverified posts in flight.
    visitors: Arc<Semaphore>,
    socket: Arc<dyn Transmit>,
    pub(super) opts: ChatUdpOpts,
}

/// One member as the receive loop sees it.
pub(super) struct Slot {
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
    /// No members yet; replies go out through `socket`.
    pub(super) fn new(socket: Arc<dyn Transmit>, cookies: Cookies, opts: ChatUdpOpts) -> Door {
        Door {
            members: HashMap::new(),
            per_ip: HashMap::new(),
            errors: TokenBucket::new(ERROR_REPLIES_PER_SEC, ERROR_REPLIES_PER_SEC as u32),
            out: Arc::new(visitor::Out {
                socket: socket.clone(),
                budgets: Arc::new(Mutex::new(Budgets::default())),
            }),
            cookies,
            visitors: Arc::new(Semaphore::new(VISITOR_TASKS)),
            socket,
            opts,
        }
    }

    /// Handles one datagram without waiting on anything.
    pub(super) fn datagram(&mut self, data: &[u8], peer: SocketAddr) {
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
    pub(super) fn sweep(&mut self) {
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
