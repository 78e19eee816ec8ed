//! Brute-force throttle: failed logins counted per account name and per
//! client address in a sliding window; too many locks that key out for a
//! while, doubling on each repeat up to a cap.
//!
//! Pure: no clock, no I/O. Every call takes `now`, so tests drive time by
//! hand. Names are counted whether or not the account exists, so the
//! throttle's answers never reveal which names are registered.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Most keys tracked per table (names, addresses). A failure costs at most
/// `max_failures` instants of memory, so this caps the throttle at a few
/// MiB however many names or addresses an attacker tries; when full,
/// new keys go untracked until old ones expire (the other table still
/// counts them).
pub const MAX_TRACKED: usize = 65_536;

/// How often a full table may be swept for expired keys: sweeping is
/// linear, so it must not run on every failure during a flood.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// The longest lockout any configuration gets: `Instant + Duration` panics
/// on overflow, so a configured `Duration::MAX` must not reach it.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Longest lockout doubling goes to before the cap applies (2^20 x base).
const MAX_DOUBLINGS: u32 = 20;

/// The throttle's settings.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// Failures per account name within `window` that trigger a lockout.
    pub account_max_failures: u32,
    /// Failures per client address within `window` that trigger a lockout.
    pub ip_max_failures: u32,
    /// The sliding window failures are counted in.
    pub window: Duration,
    /// The first lockout; each repeat doubles it.
    pub lockout: Duration,
    /// The longest lockout. A key that stays quiet this long after its
    /// last lockout ended starts again from `lockout`.
    pub lockout_cap: Duration,
}

/// Why an attempt is refused before any hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// The client address is locked out.
    Ip {
        /// Time left.
        retry_after: Duration,
    },
    /// The account name is locked out.
    Account {
        /// Time left.
        retry_after: Duration,
        /// Wall-clock second the lockout began, as given to [`Throttle::failure`]:
        /// an operator unlock recorded later than this lifts it.
        since_unix: u64,
    },
}

/// A lockout that a failure just started, for the operator's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// True for an account name, false for a client address.
    pub account: bool,
    /// How long it lasts.
    pub retry_after: Duration,
}

/// Failure counts and lockouts for account names and client addresses.
#[derive(Debug)]
pub struct Throttle {
    cfg: ThrottleConfig,
    accounts: Table<String>,
    ips: Table<IpAddr>,
}

impl Throttle {
    /// An empty throttle; lockouts are clamped to [`MAX_LOCKOUT`].
    pub fn new(mut cfg: ThrottleConfig) -> Self {
        cfg.lockout_cap = cfg.lockout_cap.min(MAX_LOCKOUT);
        cfg.lockout = cfg.lockout.min(cfg.lockout_cap);
        Self {
            cfg,
            accounts: Table::new(cfg.account_max_failures),
            ips: Table::new(cfg.ip_max_failures),
        }
    }

    /// Whether an attempt on `name_key` from `ip` may go ahead. The address
    /// is checked first, so a locked-out address is refused on memory alone.
    pub fn check(&self, name_key: &str, ip: Option<IpAddr>, now: Instant) -> Result<(), Blocked> {
        if let Some((retry_after, _)) = ip.and_then(|ip| self.ips.blocked(&ip_key(ip), now)) {
            return Err(Blocked::Ip { retry_after });
        }
        match self.accounts.blocked(name_key, now) {
            Some((retry_after, since_unix)) => Err(Blocked::Account {
                retry_after,
                since_unix,
            }),
            None => Ok(()),
        }
    }

    /// Records a failed attempt; returns the lockouts it started.
    pub fn failure(
        &mut self,
        name_key: &str,
        ip: Option<IpAddr>,
        now: Instant,
        now_unix: u64,
    ) -> Vec<Lockout> {
        let mut started = Vec::new();
        if let Some(retry_after) = self.accounts.fail(name_key, now, now_unix, &self.cfg) {
            started.push(Lockout {
                account: true,
                retry_after,
            });
        }
        if let Some(ip) = ip
            && let Some(retry_after) = self.ips.fail(&ip_key(ip), now, now_unix, &self.cfg)
        {
            started.push(Lockout {
                account: false,
                retry_after,
            });
        }
        started
    }

    /// A successful login: the account's failures and lockout history are
    /// forgotten. The address keeps its count, or one valid account would
    /// let its owner reset the counter while guessing others.
    pub fn success(&mut self, name_key: &str) {
        self.accounts.entries.remove(name_key);
    }

    /// Operator unlock: forget everything about the account name.
    pub fn clear_account(&mut self, name_key: &str) {
        self.accounts.entries.remove(name_key);
    }
}

/// The unit an address is counted in: IPv4 addresses one by one, IPv6 by
/// /64 (one host usually owns a whole /64, so counting single addresses
/// would let it rotate past the limit). IPv4-mapped IPv6 counts as IPv4.
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let net = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(net))
            }
        },
    }
}

/// One key's history.
#[derive(Debug, Default)]
struct Entry {
    /// Failure times within the window, oldest first; never longer than the limit.
    failures: VecDeque<Instant>,
    /// When the current or last lockout ends.
    locked_until: Option<Instant>,
    /// Wall-clock second the current or last lockout began.
    locked_at_unix: u64,
    /// Lockouts so far: the next one lasts `lockout * 2^strikes`.
    strikes: u32,
}

impl Entry {
    /// Nothing worth keeping: no failure in the window, and the last
    /// lockout ended more than the cap ago (so its strikes are forgiven).
    fn expired(&self, now: Instant, cfg: &ThrottleConfig) -> bool {
        let quiet = self
            .failures
            .back()
            .is_none_or(|&t| now.saturating_duration_since(t) >= cfg.window);
        let forgiven = self.locked_until.is_none_or(|t| now >= t + cfg.lockout_cap);
        quiet && forgiven
    }
}

/// Entries for one kind of key.
#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Entry>,
    max_failures: usize,
    last_prune: Option<Instant>,
}

impl<K: Hash + Eq> Table<K> {
    fn new(max_failures: u32) -> Self {
        Self {
            entries: HashMap::new(),
            // Zero would lock out before any attempt; one failure is the least.
            max_failures: usize::try_from(max_failures.max(1)).unwrap_or(usize::MAX),
            last_prune: None,
        }
    }

    /// Time left on `key`'s lockout and when it began, if it is locked out.
    fn blocked<Q>(&self, key: &Q, now: Instant) -> Option<(Duration, u64)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let e = self.entries.get(key)?;
        let until = e.locked_until?;
        (until > now).then(|| (until - now, e.locked_at_unix))
    }

    /// Counts a failure; returns the lockout it starts, if any.
    fn fail<Q>(
        &mut self,
        key: &Q,
        now: Instant,
        now_unix: u64,
        cfg: &ThrottleConfig,
    ) -> Option<Duration>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if !self.entries.contains_key(key) && !self.make_room(now, cfg) {
            return None;
        }
        let e = self.entries.entry(key.to_owned()).or_default();
        if e.locked_until.is_some_and(|t| t > now) {
            // Raced past the check while already locked out: nothing to add.
            return None;
        }
        if e.locked_until.is_some_and(|t| now >= t + cfg.lockout_cap) {
            // Quiet for the whole cap since the last lockout: forgiven.
            e.strikes = 0;
        }
        while e
            .failures
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= cfg.window)
        {
            e.failures.pop_front();
        }
        e.failures.push_back(now);
        if e.failures.len() < self.max_failures {
            return None;
        }
        let factor = 1u32 << e.strikes.min(MAX_DOUBLINGS);
        let lockout = cfg.lockout.saturating_mul(factor).min(cfg.lockout_cap);
        e.failures.clear();
        e.strikes = e.strikes.saturating_add(1);
        e.locked_until = Some(now + lockout);
        e.locked_at_unix = now_unix;
        Some(lockout)
    }

    /// Whether a new key fits, sweeping expired keys if the table is full.
    fn make_room(&mut self, now: Instant, cfg: &ThrottleConfig) -> bool {
        if self.entries.len() < MAX_TRACKED {
            return true;
        }
        let due = self
            .last_prune
            .is_none_or(|t| now.saturating_duration_since(t) >= PRUNE_EVERY);
        if due {
            self.last_prune = Some(now);
            self.entries.retain(|_, e| !e.expired(now, cfg));
        }
        self.entries.len() < MAX_TRACKED
    }
}

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;
