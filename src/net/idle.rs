//! A cheap idle timer for connection loops.
//!
//! Resetting a tokio timer on every message costs a trip through the timer
//! wheel; here activity only stores the current instant, and the single timer
//! re-arms itself lazily when it fires early.

use std::pin::Pin;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Fires once `dur` has passed with no call to [`IdleTimer::touch`].
#[derive(Debug)]
pub struct IdleTimer {
    sleep: Pin<Box<Sleep>>,
    last: Instant,
    dur: Duration,
}

impl IdleTimer {
    /// A timer that expires `dur` after the last activity.
    pub fn new(dur: Duration) -> IdleTimer {
        let now = Instant::now();
        IdleTimer {
            sleep: Box::pin(tokio::time::sleep_until(now + dur)),
            last: now,
            dur,
        }
    }

    /// Records activity now.
    pub fn touch(&mut self) {
        self.last = Instant::now();
    }

    /// Resolves when the connection has been idle for the whole duration.
    /// Cancel-safe: dropping it loses nothing.
    pub async fn expired(&mut self) {
        loop {
            self.sleep.as_mut().await;
            let due = self.last + self.dur;
            if due <= Instant::now() {
                return;
            }
            self.sleep.as_mut().reset(due);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn touch_postpones_expiry() {
        let mut t = IdleTimer::new(Duration::from_secs(10));
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(6)).await;
        t.touch();
        t.expired().await;
        assert_eq!(start.elapsed(), Duration::from_secs(16));
    }
}
