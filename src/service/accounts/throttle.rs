//! Brute-force throttle: failed logins counted per account name and per
//! client address in a sliding window; too many locks that key out for a
//! while, doubling on each repeat up to a cap.
//!
//! Pure: no clock, no I/O. Every call takes `now`, so tests drive time by
//! hand. Names are counted whether or not the account exists, so the
//! throttle's answers never reveal which names are registered.
//!
//! Under a flood it fails closed, never open:
//! - Existing accounts are counted in their own table, which unknown
//!   names (an attacker can invent any number) can never crowd out.
//! - A full table evicts its least recently failed key instead of
//!   refusing to track a new one.
//! - A global failure budget ([`GLOBAL_FAILURE_BURST`],
//!   [`GLOBAL_FAILURE_RATE`]) tells the caller to slow every login down
//!   while failures spike ([`Throttle::spiking`]).
//!
//! A lockout cannot keep the real owner out: an address that logged in to
//! the account successfully (one of its last [`GOOD_ADDRS_PER_ACCOUNT`],
//! remembered while the server runs) is still admitted while the name is
//! locked out; only its own per-address count can stop it.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Most keys tracked per table (unknown names, addresses; existing
/// accounts are bounded by the operator). A failure costs at most
/// `max_failures` instants of memory, so this caps the throttle at a few
/// MiB however many names or addresses an attacker tries; when full, the
/// least recently failed key is forgotten to make room.
pub const MAX_TRACKED: usize = 65_536;

/// Addresses remembered per account as having logged in successfully:
/// enough for a person's devices and networks, few enough to cost nothing.
pub const GOOD_ADDRS_PER_ACCOUNT: usize = 8;

/// Failed logins, across every name and address, the server absorbs at
/// full speed: a burst far above what a team's typos produce.
pub const GLOBAL_FAILURE_BURST: u32 = 200;

/// Failed logins per second the global budget regains: two a second
/// (7,200 an hour) is more than any honest population of users fails.
pub const GLOBAL_FAILURE_RATE: u32 = 2;

/// How long each login waits before its password is checked while the
/// global budget is spent: a flood from many addresses (which the per-key
/// counts cannot see as one attacker) then runs at one guess per second per
/// connection, while a real user only waits a second.
pub const SPIKE_DELAY: Duration = Duration::from_secs(1);

/// How often a full table may be swept for expired keys: sweeping is
/// linear, so it must not run on every failure during a flood.
pub(super) const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// The longest lockout any configuration gets: `Instant + Duration` panics
/// on overflow, so a configured `Duration::MAX` must not reach it.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Longest lockout doubling goes to before the cap applies (2^20 x base).
pub(super) const MAX_DOUBLINGS: u32 = 20;

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
    /// Names of existing accounts (never evicted by unknown names).
    accounts: Table<String>,
    /// Names no account holds.
    unknown: Table<String>,
    ips: Table<IpAddr>,
    /// Per account: the address units that logged in successfully, newest last.
    good: HashMap<String, VecDeque<IpAddr>>,
    /// The global failure budget (a token bucket).
    budget: Budget,
}

impl Throttle {
    /// An empty throttle; lockouts are clamped to [`MAX_LOCKOUT`].
    pub fn new(mut cfg: ThrottleConfig) -> Self {
        cfg.lockout_cap = cfg.lockout_cap.min(MAX_LOCKOUT);
        cfg.lockout = cfg.lockout.min(cfg.lockout_cap);
        Self {
            cfg,
            accounts: Table::new(cfg.account_max_failures, usize::MAX),
            unknown: Table::new(cfg.account_max_failures, MAX_TRACKED),
            ips: Table::new(cfg.ip_max_failures, MAX_TRACKED),
            good: HashMap::new(),
            budget: Budget::default(),
        }
    }

    /// Whether failures are spiking (the global budget is spent): the
    /// caller then waits [`SPIKE_DELAY`] before checking a password.
    pub fn spiking(&mut self, now: Instant) -> bool {
        self.budget.refill(now);
        self.budget.tokens < 1.0
    }

    /// Whether an attempt on `name_key` from `ip` may go ahead. The address
    /// is checked first, so a locked-out address is refused on memory alone.
    /// An address that logged in to this account before passes the name's
    /// lockout.
    pub fn check(&self, name_key: &str, ip: Option<IpAddr>, now: Instant) -> Result<(), Blocked> {
        if let Some((retry_after, _)) = ip.and_then(|ip| self.ips.blocked(&ip_key(ip), now)) {
            return Err(Blocked::Ip { retry_after });
        }
        if ip.is_some_and(|ip| self.is_good(name_key, ip)) {
            return Ok(());
        }
        let blocked = self
            .accounts
            .blocked(name_key, now)
            .or_else(|| self.unknown.blocked(name_key, now));
        match blocked {
            Some((retry_after, since_unix)) => Err(Blocked::Account {
                retry_after,
                since_unix,
            }),
            None => Ok(()),
        }
    }

    /// Whether `ip` logged in to the account successfully before.
    fn is_good(&self, name_key: &str, ip: IpAddr) -> bool {
        let unit = ip_key(ip);
        self.good
            .get(name_key)
            .is_some_and(|addrs| addrs.contains(&unit))
    }

    /// Records a failed attempt on `name_key` (held by an account when
    /// `exists`); returns the lockouts it started.
    pub fn failure(
        &mut self,
        name_key: &str,
        exists: bool,
        ip: Option<IpAddr>,
        now: Instant,
        now_unix: u64,
    ) -> Vec<Lockout> {
        self.budget.refill(now);
        self.budget.tokens = (self.budget.tokens - 1.0).max(0.0);
        let mut started = Vec::new();
        let names = if exists {
            &mut self.accounts
        } else {
            &mut self.unknown
        };
        if let Some(retry_after) = names.fail(name_key, now, now_unix, &self.cfg) {
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

    /// A successful login from `ip`: the account's failures and lockout
    /// history are forgotten, and the address is remembered as the
    /// owner's. The address keeps its count, or one valid account would
    /// let its owner reset the counter while guessing others.
    pub fn success(&mut self, name_key: &str, ip: Option<IpAddr>) {
        self.clear_account(name_key);
        let Some(ip) = ip else { return };
        let unit = ip_key(ip);
        if !self.good.contains_key(name_key) && self.good.len() >= MAX_TRACKED {
            // Only real accounts get here, so this is a server with more
            // than MAX_TRACKED of them logging in: start over.
            self.good.clear();
        }
        let addrs = self.good.entry(name_key.to_owned()).or_default();
        addrs.retain(|a| *a != unit);
        if addrs.len() >= GOOD_ADDRS_PER_ACCOUNT {
            addrs.pop_front();
        }
        addrs.push_back(unit);
    }

    /// Operator unlock: forget the name's failures and lockouts.
    pub fn clear_account(&mut self, name_key: &str) {
        self.accounts.remove(name_key);
        self.unknown.remove(name_key);
    }

    /// A deleted account: forget everything about the name, its good
    /// addresses included (a new account of that name is someone else).
    pub fn forget_account(&mut self, name_key: &str) {
        self.clear_account(name_key);
        self.good.remove(name_key);
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

#[path = "throttle_table.rs"]
mod table;
use table::{Budget, Table};

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;
