//! What each connection of a bench is told (a [`Plan`]) and what it hands
//! back (a [`Tally`]): plain values, so connection tasks share nothing.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::stats::LatencyStats;

/// What one connection measured; merged at the end.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Latency of the replies completed in the measured window.
    pub(super) latency: LatencyStats,
    /// Replies completed in the measured window.
    pub(super) messages: u64,
    /// Payload bytes received in the measured window.
    pub(super) bytes: u64,
    /// Connection and send failures.
    pub(super) errors: u64,
    /// Messages unanswered after the timeout.
    pub(super) timeouts: u64,
    /// Replies whose bytes differ from the message.
    pub(super) mismatched: u64,
    /// The first failure, worded for the user.
    pub(super) first_error: Option<String>,
    /// Churn: connections opened.
    pub(super) connects: u64,
    /// Churn: connection attempts that failed (refused, timed out, handshake).
    pub(super) connect_failures: u64,
    /// Churn: connects that replaced a connection (all but each slot's first).
    pub(super) replacements: u64,
    /// Churn: how long each successful connect took (handshakes included).
    pub(super) connect_latency: LatencyStats,
    /// Churn: when the last connection was opened (the end of a ramp).
    pub(super) last_connect: Option<Instant>,
}

impl Tally {
    /// Counts a failure, keeping the first one's words.
    pub(super) fn fail(&mut self, what: impl std::fmt::Display) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| what.to_string());
    }

    /// Adds another connection's tally.
    pub(super) fn merge(&mut self, o: Tally) {
        self.latency.merge(&o.latency);
        self.messages += o.messages;
        self.bytes += o.bytes;
        self.errors += o.errors;
        self.timeouts += o.timeouts;
        self.mismatched += o.mismatched;
        self.connects += o.connects;
        self.connect_failures += o.connect_failures;
        self.replacements += o.replacements;
        self.connect_latency.merge(&o.connect_latency);
        self.last_connect = self.last_connect.max(o.last_connect);
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
}

/// What a connection shares while it runs: the current interval's
/// figures (with `--interval`; an uncontended lock per reply, taken by the
/// reporter once an interval) and the stop signal (Ctrl-C).
#[derive(Debug, Clone, Default)]
pub(super) struct Live {
    /// Replies of the interval under way, when intervals are reported.
    pub(super) window: Option<Arc<Mutex<Window>>>,
    /// Cancelled to end the run early; the connection then stops as at
    /// the plan's end.
    pub(super) stop: CancellationToken,
}

/// One connection's replies within the interval under way.
#[derive(Debug, Default)]
pub(super) struct Window {
    /// Their latencies.
    pub(super) latency: LatencyStats,
    /// How many.
    pub(super) messages: u64,
    /// Churn: connections opened.
    pub(super) connects: u64,
    /// Churn: connection attempts that failed.
    pub(super) connect_failures: u64,
}

impl Live {
    /// Counts a reply in the interval, if intervals are reported.
    pub(super) fn record(&self, latency: Duration) {
        if let Some(w) = &self.window {
            let mut w = w.lock().unwrap_or_else(PoisonError::into_inner);
            w.messages += 1;
            w.latency.record(latency);
        }
    }

    /// Counts a connect (or a failed one) in the interval.
    pub(super) fn record_connect(&self, ok: bool) {
        if let Some(w) = &self.window {
            let mut w = w.lock().unwrap_or_else(PoisonError::into_inner);
            if ok {
                w.connects += 1;
            } else {
                w.connect_failures += 1;
            }
        }
    }
}

/// One connection's instructions.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    /// Payload size in bytes.
    pub(super) size: usize,
    /// What a message looks like on the wire.
    pub(super) proto: crate::client::probe_format::Proto,
    /// How messages are issued.
    pub(super) mode: ConnMode,
    /// When an unanswered message counts as a timeout.
    pub(super) timeout: Duration,
    /// Replies completing at or after this instant are counted...
    pub(super) from: Instant,
    /// No message is issued from this instant on; the replies still owed
    /// are awaited until `until` (a churned connection's end of life; at the
    /// run's end the two are the same).
    pub(super) issue_until: Instant,
    /// ...until this one, when the connection stops.
    pub(super) until: Instant,
}

/// [`super::Mode`] as one connection sees it.
#[derive(Debug, Clone, Copy)]
pub(super) enum ConnMode {
    /// `depth` messages in flight.
    Closed {
        /// Messages in flight.
        depth: usize,
    },
    /// On this connection's share of the schedule.
    Open(Schedule),
    /// Continuous writing.
    Stream,
}

/// Intended send times of one open-loop connection: message `k` is due at
/// `first + k * interval`, so no queue of times is kept at all.
#[derive(Debug, Clone, Copy)]
pub(super) struct Schedule {
    /// When message 0 is due.
    pub(super) first: Instant,
    /// Nanoseconds between messages (fractional: rates need not divide 10^9).
    pub(super) interval_ns: f64,
}

impl Schedule {
    /// Messages due by `now`.
    pub(super) fn due(&self, now: Instant) -> u64 {
        if now < self.first {
            return 0;
        }
        ((now - self.first).as_nanos() as f64 / self.interval_ns) as u64 + 1
    }

    /// When message `k` was meant to leave.
    pub(super) fn at(&self, k: u64) -> Instant {
        self.first + Duration::from_nanos((k as f64 * self.interval_ns) as u64)
    }

    /// The time between messages.
    pub(super) fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_ns as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_counts_due_messages_and_their_times() {
        let t0 = Instant::now();
        let s = Schedule {
            first: t0,
            interval_ns: 2.5e6,
        };
        assert_eq!(s.due(t0 - Duration::from_millis(1)), 0);
        assert_eq!(s.due(t0), 1);
        assert_eq!(s.due(t0 + Duration::from_micros(2499)), 1);
        assert_eq!(s.due(t0 + Duration::from_micros(2500)), 2);
        assert_eq!(s.at(4), t0 + Duration::from_millis(10));
        assert_eq!(s.interval(), Duration::from_micros(2500));
    }

    #[test]
    fn tallies_merge_and_keep_the_first_error() {
        let mut a = Tally::default();
        let mut b = Tally {
            messages: 3,
            bytes: 192,
            ..Tally::default()
        };
        b.latency.record_ns(1000);
        b.fail("reset");
        b.fail("later");
        a.merge(b);
        assert_eq!((a.messages, a.bytes, a.errors), (3, 192, 2));
        assert_eq!(a.first_error.as_deref(), Some("reset"));
        assert_eq!(a.latency.count(), 1);
    }
}
