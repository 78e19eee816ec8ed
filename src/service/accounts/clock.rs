//! The accounts' calendar: unix seconds, the unit of every time in the
//! store (session expiry, lockout records, revocations). The real time,
//! plus an offset that only moves forward: a test jumps past a session's
//! expiry with [`UnixClock::advance`] instead of waiting for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Unix seconds as the accounts service sees them. Clones share the
/// offset, so a test moving its copy moves the server's.
#[derive(Debug, Clone, Default)]
pub struct UnixClock {
    /// Seconds added to the real time (0 outside tests).
    ahead: Arc<AtomicU64>,
}

impl UnixClock {
    /// Seconds since the Unix epoch, now on this clock.
    pub fn now(&self) -> u64 {
        super::token::unix_now().saturating_add(self.ahead.load(Ordering::Relaxed))
    }

    /// Milliseconds since the Unix epoch, now on this clock (an account's
    /// creation is kept to the millisecond: see `schema::V5_CREATED_MS`).
    pub fn now_millis(&self) -> u64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let ahead = self.ahead.load(Ordering::Relaxed).saturating_mul(1000);
        real.saturating_add(ahead)
    }

    /// Moves this clock (and every clone) forward by `by`, whole seconds.
    pub fn advance(&self, by: Duration) {
        self.ahead.fetch_add(by.as_secs(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_a_clone_moves_the_original() {
        let clock = UnixClock::default();
        let before = clock.now();
        clock.clone().advance(Duration::from_secs(3600));
        let after = clock.now();
        assert!(
            (3600..3700).contains(&(after - before)),
            "{after} - {before}"
        );
    }
}
