//! Idle expiry of web sessions: a session cookie unused for longer than
//! `--web-session-idle` is refused (and revoked), so a browser left logged
//! in on a shared machine does not stay logged in for the token's week.
//!
//! Last use is kept in memory, keyed by a hash of the token, and recorded
//! only for tokens the account store has just accepted, so the table holds
//! at most one entry per live session. After a restart every session's
//! clock starts again from its next use.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::time::Instant;

/// Default of `serve --web-session-idle`: a working day. A tab in use
/// (page loads, API calls, WebSocket traffic) never reaches it; one left
/// overnight is logged out.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);

/// Entries past which the table is swept of idle ones on the next use.
const SWEEP_AT: usize = 4096;

/// When each live web session was last used.
#[derive(Debug)]
pub struct SessionIdle {
    /// Longest a session may go unused.
    limit: Duration,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    last: HashMap<[u8; 32], Instant>,
    /// Table size after the last sweep; the next comes at twice it.
    swept_at: usize,
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl SessionIdle {
    /// Sessions expire after `limit` unused.
    pub fn new(limit: Duration) -> SessionIdle {
        SessionIdle {
            limit,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// The idle limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Whether `token` was last used longer ago than the limit.
    pub fn expired(&self, token: &str) -> bool {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.last
            .get(&key(token))
            .is_some_and(|t| t.elapsed() > self.limit)
    }

    /// Records a use of `token`, which the account store has accepted.
    pub fn touch(&self, token: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        seen.last.insert(key(token), now);
        if seen.last.len() >= SWEEP_AT.max(seen.swept_at * 2) {
            let limit = self.limit;
            seen.last.retain(|_, t| now.duration_since(*t) <= limit);
            seen.swept_at = seen.last.len();
        }
    }

    /// Forgets `token` (logged out or expired).
    pub fn forget(&self, token: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.last.remove(&key(token));
    }
}

impl Default for SessionIdle {
    fn default() -> Self {
        SessionIdle::new(DEFAULT_SESSION_IDLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_token_unused_past_the_limit_is_expired_and_use_renews_it() {
        let idle = SessionIdle::new(Duration::from_secs(60));
        assert!(!idle.expired("t"), "unknown tokens are not idle");
        idle.touch("t");
        tokio::time::advance(Duration::from_secs(50)).await;
        assert!(!idle.expired("t"));
        idle.touch("t");
        tokio::time::advance(Duration::from_secs(50)).await;
        assert!(!idle.expired("t"), "renewed by use");
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(idle.expired("t"));
        idle.forget("t");
        assert!(!idle.expired("t"));
    }
}
