//! Budgets per address: what all members from one IPv4 address (or IPv6
//! /64) share, so that opening more connections does not buy more.
//!
//! Two token buckets per address: guest messages (on top of each member's
//! own flood limit) and room creations. An entry lives while a member
//! from its address is online or its buckets are not yet full again, and
//! the table holds at most [`ADDRESSES_MAX`] idle entries.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use crate::net::PeerKey;
use crate::service::chat::config::{ADDRESSES_MAX, ChatConfig};
use crate::service::chat::flood::TokenBucket;
use crate::service::chat::room::lock;

/// One address's budgets.
#[derive(Debug)]
struct Budget {
    guest_msgs: TokenBucket,
    creates: TokenBucket,
    /// Members from this address online now.
    online: usize,
}

impl Budget {
    /// True when nothing would be lost by forgetting it.
    fn forgettable(&mut self) -> bool {
        self.online == 0 && self.guest_msgs.is_full() && self.creates.is_full()
    }
}

/// The per-address budgets of one hub.
#[derive(Debug)]
pub(super) struct Addresses {
    map: Mutex<HashMap<PeerKey, Budget>>,
    guest_rate: f64,
    guest_burst: u32,
    create_rate: f64,
    create_burst: u32,
}

impl Addresses {
    pub fn new(config: &ChatConfig) -> Addresses {
        let guest_rate = if config.guest_ip_rate > 0.0 && config.guest_ip_rate.is_finite() {
            // Never below one member's allowance: raising --chat-rate
            // raises what one guest may say.
            config.guest_ip_rate.max(config.rate_per_sec)
        } else {
            0.0
        };
        Addresses {
            map: Mutex::new(HashMap::new()),
            guest_rate,
            guest_burst: config.guest_ip_burst.max(config.burst),
            create_rate: f64::from(config.room_creates_per_hour) / 3600.0,
            create_burst: config.room_creates_per_hour,
        }
    }

    fn budget(&self) -> Budget {
        Budget {
            guest_msgs: TokenBucket::new(self.guest_rate, self.guest_burst),
            creates: TokenBucket::new(self.create_rate, self.create_burst),
            online: 0,
        }
    }

    /// Runs `f` on `ip`'s budget, creating it (and making room) if needed.
    fn with<T>(&self, ip: IpAddr, f: impl FnOnce(&mut Budget) -> T) -> T {
        let key = PeerKey::of(ip);
        let mut map = lock(&self.map);
        if !map.contains_key(&key) && map.len() >= ADDRESSES_MAX {
            map.retain(|_, b| !b.forgettable());
        }
        let b = map.entry(key).or_insert_with(|| self.budget());
        f(b)
    }

    /// A member from `ip` came online.
    pub fn attach(&self, ip: IpAddr) {
        self.with(ip, |b| b.online += 1);
    }

    /// A member from `ip` went offline.
    pub fn detach(&self, ip: IpAddr) {
        let mut map = lock(&self.map);
        if let Some(b) = map.get_mut(&PeerKey::of(ip)) {
            b.online = b.online.saturating_sub(1);
        }
    }

    /// Takes one guest message from `ip`'s shared budget.
    pub fn take_guest_message(&self, ip: IpAddr) -> Result<(), Duration> {
        self.with(ip, |b| b.guest_msgs.take())
    }

    /// Takes one room creation from `ip`'s budget.
    pub fn take_creation(&self, ip: IpAddr) -> Result<(), Duration> {
        if self.create_burst == 0 {
            return Ok(());
        }
        self.with(ip, |b| b.creates.take())
    }

    /// Forgets the addresses with nobody online and full budgets.
    pub fn sweep(&self) {
        lock(&self.map).retain(|_, b| !b.forgettable());
    }

    /// Addresses tracked now.
    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }
}
