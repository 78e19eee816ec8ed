//! A cheap idle timer for connection loops.
//!
//! Resetting a tokio timer on every message costs a trip through the timer
//! wheel; here activity only stores the current instant, and the single timer
//! re-arms itself lazily when it fires early.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFuture;

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

    /// Lowers the allowed idle time to `dur` (never raises it), counting
    /// from the last activity.
    pub fn shorten(&mut self, dur: Duration) {
        if dur < self.dur {
            self.dur = dur;
            self.sleep.as_mut().reset(self.last + dur);
        }
    }

    /// Records activity now.
    pub fn touch(&mut self) {
        self.last = Instant::now();
    }

    /// Resolves when the connection has been idle for the whole duration.
    /// Cancel-safe: dropping it loses nothing.
    pub async fn expired(&mut self) {
        std::future::poll_fn(|cx| self.poll_expired(cx)).await
    }

    /// [`IdleTimer::expired`] as a poll function, for hand-written waits.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let due = self.last + self.dur;
            if due <= Instant::now() {
                return Poll::Ready(());
            }
            self.sleep.as_mut().reset(due);
        }
    }
}

/// How long a connection may stay quiet after a stop signal before it is
/// closed: a peer in the middle of a transfer keeps going (until the grace
/// period ends), an idle one is let go at once.
pub const SHUTDOWN_QUIET: Duration = Duration::from_millis(300);

/// Why a connection waiting for input is to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Nothing arrived for the idle time.
    Idle,
    /// The server is stopping and the peer has been quiet.
    Shutdown,
}

/// The quiet half of waiting for input: resolves when `idle` expires, as
/// [`Wake::Idle`], or after `shutdown` as [`Wake::Shutdown`] once the peer
/// has been quiet for [`SHUTDOWN_QUIET`]. `stopping` records that the
/// shutdown fired (it starts `false`; a token cancelled before the first
/// poll fires at once).
///
/// A connection loop keeps one pinned `shutdown` future for its whole life
/// and polls it here on every wait: the registration with the token is made
/// once, not made and undone per message.
pub fn poll_quiet(
    cx: &mut Context<'_>,
    idle: &mut IdleTimer,
    shutdown: Pin<&mut WaitForCancellationFuture<'_>>,
    stopping: &mut bool,
) -> Poll<Wake> {
    if !*stopping && shutdown.poll(cx).is_ready() {
        *stopping = true;
        idle.shorten(SHUTDOWN_QUIET);
    }
    idle.poll_expired(cx).map(|()| {
        if *stopping {
            Wake::Shutdown
        } else {
            Wake::Idle
        }
    })
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
