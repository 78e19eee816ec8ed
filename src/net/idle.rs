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

/// How long a connection may stay quiet after a stop signal before it is
/// closed: a peer in the middle of a transfer keeps going (until the grace
/// period ends), an idle one is let go at once.
pub const SHUTDOWN_QUIET: Duration = Duration::from_millis(300);

/// What waiting for input ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Input (or EOF) is there to read.
    Readable,
    /// Nothing arrived for the idle time.
    Idle,
    /// The server is stopping and the peer has been quiet.
    Shutdown,
}

/// Waits for input on `conn`, the idle timeout, or (after `shutdown`) a
/// short quiet spell. Once `shutdown` fires, the idle timer shrinks to
/// [`SHUTDOWN_QUIET`], so busy peers are served on and quiet ones closed.
pub async fn wait_input(
    conn: &super::Conn,
    idle: &mut IdleTimer,
    shutdown: &tokio_util::sync::CancellationToken,
) -> std::io::Result<Wake> {
    let mut stopping = shutdown.is_cancelled();
    if stopping {
        idle.shorten(SHUTDOWN_QUIET);
    }
    loop {
        tokio::select! {
            biased;
            r = conn.readable() => return r.map(|()| Wake::Readable),
            _ = idle.expired() => return Ok(if stopping { Wake::Shutdown } else { Wake::Idle }),
            _ = shutdown.cancelled(), if !stopping => {
                stopping = true;
                idle.shorten(SHUTDOWN_QUIET);
            }
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
