//! The anti-amplification budget of unverified sources (RFC 9000 §8.1):
//! what the door may still send to an address that has not proved it
//! receives what is sent to it.
//!
//! Every datagram from an unverified source earns it [`AMPLIFICATION`]
//! times its length in credit; every byte sent to it spends credit, and a
//! reply that does not fit is not sent. So however a forger chooses its
//! datagrams, the victim whose address it forges receives at most three
//! times what the forger sent. Pure: no sockets, no tasks.
//!
//! The table is bounded ([`MAX_SOURCES`]): when it is full, an arbitrary
//! entry is dropped (O(1), where finding the oldest would cost a scan per
//! forged datagram). Losing an entry only loses
//! credit (and the source's place in the room's history), so a flood of
//! forged sources cannot raise anyone's budget, only lower it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::service::chat::TokenBucket;

/// Most bytes sent to an unverified source per byte it sent (QUIC's rule).
pub const AMPLIFICATION: usize = 3;

/// Most unspent credit one source may hold, in bytes: three of the largest
/// datagrams. Enough to receive a long message after a few short ones.
pub const CREDIT_MAX: usize = AMPLIFICATION * super::DATAGRAM_MAX;

/// Most unverified sources tracked at once. An entry is about 150 bytes,
/// so the table stays near 1 MiB however many addresses a flood forges.
pub const MAX_SOURCES: usize = 8192;

/// Messages an unverified source may post per second, and its burst: a
/// person typing fits, a script flooding the room through forged
/// addresses gets refusals (which it cannot read anyway).
pub const POSTS_PER_SEC: f64 = 1.0;
/// See [`POSTS_PER_SEC`].
pub const POST_BURST: u32 = 5;

/// What the door knows about one unverified source.
#[derive(Debug)]
pub struct Source {
    /// Bytes it may still be sent.
    credit: usize,
    /// When its last datagram came.
    last: Instant,
    /// The room it posts to and the id of the last message of that room
    /// it was sent or skipped: the next reply starts after it.
    pub cursor: Option<(Arc<str>, u64)>,
    /// Its posting allowance.
    pub posts: TokenBucket,
}

/// The table of unverified sources.
#[derive(Debug, Default)]
pub struct Budgets {
    sources: HashMap<SocketAddr, Source>,
}

impl Budgets {
    /// Credits `peer` for a datagram of `len` bytes; returns its entry.
    pub fn earn(&mut self, peer: SocketAddr, len: usize) -> &mut Source {
        if !self.sources.contains_key(&peer) && self.sources.len() >= MAX_SOURCES {
            if let Some(k) = self.sources.keys().next().copied() {
                self.sources.remove(&k);
            }
        }
        let s = self.sources.entry(peer).or_insert_with(|| Source {
            credit: 0,
            last: Instant::now(),
            cursor: None,
            posts: TokenBucket::new(POSTS_PER_SEC, POST_BURST),
        });
        s.credit = s
            .credit
            .saturating_add(len.saturating_mul(AMPLIFICATION))
            .min(CREDIT_MAX);
        s.last = Instant::now();
        s
    }

    /// Takes `len` bytes of `peer`'s credit if it has that many; false
    /// (and nothing taken) if not: the reply must not be sent.
    pub fn spend(&mut self, peer: SocketAddr, len: usize) -> bool {
        match self.sources.get_mut(&peer) {
            Some(s) if s.credit >= len => {
                s.credit -= len;
                true
            }
            _ => false,
        }
    }

    /// The entry of `peer`, if tracked.
    pub fn get_mut(&mut self, peer: SocketAddr) -> Option<&mut Source> {
        self.sources.get_mut(&peer)
    }

    /// Forgets `peer` (it became a verified member).
    pub fn forget(&mut self, peer: SocketAddr) {
        self.sources.remove(&peer);
    }

    /// Forgets sources silent for `idle`.
    pub fn sweep(&mut self, idle: Duration) {
        let now = Instant::now();
        self.sources
            .retain(|_, s| now.saturating_duration_since(s.last) < idle);
    }

    /// Sources tracked now.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// True when no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: usize) -> SocketAddr {
        SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 4000))
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_three_times_what_came_in() {
        let mut b = Budgets::default();
        let bob = addr(1);
        assert!(!b.spend(bob, 1), "nothing earned, nothing sent");
        b.earn(bob, 12);
        assert!(b.spend(bob, 33));
        assert!(!b.spend(bob, 4), "3 left");
        assert!(b.spend(bob, 3));
        // Credit carries over, up to the cap.
        for _ in 0..100 {
            b.earn(bob, super::super::DATAGRAM_MAX);
        }
        assert!(b.spend(bob, CREDIT_MAX));
        assert!(!b.spend(bob, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_is_bounded_and_forgets_the_silent() {
        let mut b = Budgets::default();
        for i in 0..MAX_SOURCES + 100 {
            b.earn(addr(i), 10);
        }
        assert_eq!(b.len(), MAX_SOURCES);
        tokio::time::advance(Duration::from_secs(61)).await;
        b.earn(addr(1), 10);
        b.sweep(Duration::from_secs(60));
        assert_eq!(b.len(), 1);
    }
}
