//! The throttle's parts: a table of failure histories per key (sliding
//! window, lockouts, least-recently-failed eviction) and the global
//! failure budget.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use super::{
    GLOBAL_FAILURE_BURST, GLOBAL_FAILURE_RATE, MAX_DOUBLINGS, PRUNE_EVERY, ThrottleConfig,
};

/// A token bucket of failures: [`GLOBAL_FAILURE_BURST`] deep, refilled at
/// [`GLOBAL_FAILURE_RATE`] per second.
#[derive(Debug)]
pub(super) struct Budget {
    pub(super) tokens: f64,
    last: Option<Instant>,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            tokens: f64::from(GLOBAL_FAILURE_BURST),
            last: None,
        }
    }
}

impl Budget {
    pub(super) fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let secs = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + secs * f64::from(GLOBAL_FAILURE_RATE))
                .min(f64::from(GLOBAL_FAILURE_BURST));
        }
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
    }
}

/// One key's history.
#[derive(Debug, Default)]
pub(super) struct Entry {
    /// Its place in the table's eviction order.
    order: (Option<Instant>, u64),
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
pub(super) struct Table<K> {
    pub(super) entries: HashMap<K, Entry>,
    /// Keys by last failure, oldest first: the eviction order when full.
    order: BTreeMap<(Option<Instant>, u64), K>,
    /// Tie-breaker of `order` (failures at the same instant).
    next_seq: u64,
    max_failures: usize,
    /// Most keys held; the least recently failed goes to make room.
    capacity: usize,
    last_prune: Option<Instant>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    pub(super) fn new(max_failures: u32, capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            // Zero would lock out before any attempt; one failure is the least.
            max_failures: usize::try_from(max_failures.max(1)).unwrap_or(usize::MAX),
            capacity,
            last_prune: None,
        }
    }

    pub(super) fn remove<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(e) = self.entries.remove(key) {
            self.order.remove(&e.order);
        }
    }

    /// Time left on `key`'s lockout and when it began, if it is locked out.
    pub(super) fn blocked<Q>(&self, key: &Q, now: Instant) -> Option<(Duration, u64)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let e = self.entries.get(key)?;
        let until = e.locked_until?;
        (until > now).then(|| (until - now, e.locked_at_unix))
    }

    /// Counts a failure; returns the lockout it starts, if any.
    pub(super) fn fail<Q>(
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
        if !self.entries.contains_key(key) {
            self.make_room(now, cfg);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let e = self.entries.entry(key.to_owned()).or_default();
        // Moved to the back of the eviction order: it failed just now.
        self.order.remove(&e.order);
        e.order = (Some(now), seq);
        self.order.insert(e.order, key.to_owned());
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

    /// Makes room for a new key when the table is full: sweeps expired
    /// keys (at most every [`PRUNE_EVERY`]), then forgets the least
    /// recently failed ones. Tracking never stops: an attacker filling the
    /// table only pushes out its own oldest keys.
    fn make_room(&mut self, now: Instant, cfg: &ThrottleConfig) {
        if self.entries.len() < self.capacity {
            return;
        }
        let due = self
            .last_prune
            .is_none_or(|t| now.saturating_duration_since(t) >= PRUNE_EVERY);
        if due {
            self.last_prune = Some(now);
            let order = &mut self.order;
            self.entries.retain(|_, e| {
                let keep = !e.expired(now, cfg);
                if !keep {
                    order.remove(&e.order);
                }
                keep
            });
        }
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }
}
