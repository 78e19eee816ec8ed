//! Flood control: a token bucket per member.
//!
//! The bucket holds up to `burst` tokens and refills at `rate` tokens a
//! second; each message takes one. It reads the tokio clock, so tests move
//! time with `tokio::time::advance` instead of sleeping.

use std::time::Duration;

use tokio::time::Instant;

/// One member's message allowance.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilling at `rate` per second. A rate
    /// that is not positive and finite disables the limit.
    pub fn new(rate: f64, burst: u32) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// True when the limit is on (a positive, finite rate).
    fn limited(&self) -> bool {
        self.rate.is_finite() && self.rate > 0.0
    }

    /// Adds the tokens earned since the last look.
    fn refill(&mut self) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
    }

    /// True when the bucket is back to a full burst: forgetting it now
    /// gives its owner nothing a new bucket would not.
    pub fn is_full(&mut self) -> bool {
        if !self.limited() {
            return true;
        }
        self.refill();
        self.tokens >= self.burst
    }

    /// Takes a token, or says how long until one is available.
    pub fn take(&mut self) -> Result<(), Duration> {
        if !self.limited() {
            return Ok(());
        }
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_rate() {
        let mut b = TokenBucket::new(2.0, 3);
        for _ in 0..3 {
            b.take().unwrap();
        }
        let wait = b.take().unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        tokio::time::advance(Duration::from_millis(499)).await;
        assert!(b.take().is_err());
        tokio::time::advance(Duration::from_millis(2)).await;
        b.take().unwrap();
        // A long pause refills only up to the burst.
        tokio::time::advance(Duration::from_secs(60)).await;
        for _ in 0..3 {
            b.take().unwrap();
        }
        assert!(b.take().is_err());
    }

    #[test]
    fn zero_rate_means_unlimited() {
        let mut b = TokenBucket::new(0.0, 1);
        for _ in 0..1000 {
            b.take().unwrap();
        }
    }
}
