//! Connection churn, as tcpkali's `--connect-rate` and `--conn-lifetime`:
//! each of the `--conns` slots opens a connection, loads it as the mode
//! says, closes it at the end of its life and opens the next, so the
//! server's accept, handshake and teardown paths are measured along with
//! its replies.
//!
//! New connections start at most `connect_rate` per second across all
//! slots (a shared `Gate`); a connection lives `lifetime`, then stops
//! issuing, waits up to the message timeout for the replies it is owed,
//! and closes. The first lives of the slots are staggered over one
//! lifetime, so replacements are spread evenly instead of all at once.
//! In the open loop a slot keeps one schedule across its connections:
//! messages due while it reconnects leave on the next connection, their
//! latency still counted from when they were due (a slow accept shows up
//! as latency, never as a lighter load).

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::plan::{ConnMode, Live, Plan, Schedule, Tally};
use super::{BenchConfig, Mode};

/// After a failed connect with no `--connect-rate` to pace retries, a slot
/// waits this long, so a refusing target is retried 100 times a second per
/// slot instead of in a tight loop that would burn the client's CPU.
pub const FAILED_CONNECT_PAUSE: Duration = Duration::from_millis(10);

/// How connections come and go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Churn {
    /// New connections per second, across all slots (`None`: as fast as
    /// the slots want them).
    pub connect_rate: Option<f64>,
    /// How long each connection lives before it is replaced (`None`: for
    /// the whole run; then `connect_rate` only paces the ramp up).
    pub lifetime: Option<Duration>,
}

impl Churn {
    /// The intended connects per second: the replacement rate that keeps
    /// `conns` open with this lifetime, capped at `connect_rate`; without a
    /// lifetime, the ramp's `connect_rate`.
    pub fn intended(&self, conns: usize) -> Option<f64> {
        let replace = self.lifetime.map(|l| conns as f64 / l.as_secs_f64());
        match (replace, self.connect_rate) {
            (Some(r), Some(cap)) => Some(r.min(cap)),
            (r, cap) => r.or(cap),
        }
    }
}

/// Start times for connects, at most one per `interval` across all slots.
#[derive(Debug)]
pub(super) struct Gate {
    next: Mutex<Instant>,
    interval: Option<Duration>,
}

impl Gate {
    /// A gate letting `rate` connects a second through (`None`: all at once).
    pub(super) fn new(rate: Option<f64>, start: Instant) -> Gate {
        Gate {
            next: Mutex::new(start),
            interval: rate.map(|r| Duration::from_secs_f64(1.0 / r)),
        }
    }

    /// When a connect wanted at `now` may start.
    pub(super) fn take(&self, now: Instant) -> Instant {
        let Some(interval) = self.interval else {
            return now;
        };
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let at = (*next).max(now);
        *next = at + interval;
        at
    }

    fn paced(&self) -> bool {
        self.interval.is_some()
    }
}

/// One slot of a churned run.
pub(super) struct Slot {
    /// Which slot (0-based), for staggering.
    pub(super) index: usize,
    /// The run.
    pub(super) cfg: Arc<BenchConfig>,
    /// How connections come and go.
    pub(super) churn: Churn,
    /// Start of the measured window.
    pub(super) from: Instant,
    /// End of the run.
    pub(super) until: Instant,
    /// This slot's share of the open-loop schedule.
    pub(super) schedule: Option<Schedule>,
    /// Shared connect pacing.
    pub(super) gate: Arc<Gate>,
    /// Intervals and Ctrl-C.
    pub(super) live: Live,
}

impl Slot {
    /// Opens, loads and replaces connections until the run ends.
    pub(super) async fn run(self) -> io::Result<Tally> {
        let mut tally = Tally::default();
        // Open loop: the first message of the slot's schedule not yet issued.
        let mut next_k = None;
        let mut first_life = true;
        loop {
            let wanted = Instant::now();
            let at = self.gate.take(wanted);
            if at >= self.until || self.live.stop.is_cancelled() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = self.live.stop.cancelled() => break,
            }
            let start = Instant::now();
            let sock = tokio::select! {
                s = super::dial_one(&self.cfg) => s,
                () = self.live.stop.cancelled() => break,
            };
            let sock = match sock {
                Ok(s) => s,
                Err(e) => {
                    tally.connect_failures += 1;
                    tally.first_error.get_or_insert_with(|| e.to_string());
                    if Instant::now() >= self.from {
                        self.live.record_connect(false);
                    }
                    if !self.gate.paced() {
                        tokio::select! {
                            () = tokio::time::sleep(FAILED_CONNECT_PAUSE) => {}
                            () = self.live.stop.cancelled() => break,
                        }
                    }
                    continue;
                }
            };
            tally.connects += 1;
            tally.replacements += u64::from(!first_life);
            tally.connect_latency.record(start.elapsed());
            let now = Instant::now();
            tally.last_connect = Some(now);
            if now >= self.from {
                self.live.record_connect(true);
            }
            // A slot's messages are due from its first connect on when a
            // --connect-rate ramp delays it: before, it had no connection
            // to load. Later connects inherit what the last one left.
            let k = *next_k.get_or_insert(match self.schedule {
                Some(s) if self.gate.paced() => s.due(start),
                _ => 0,
            });
            let life = self.churn.lifetime.map(|l| {
                if std::mem::take(&mut first_life) {
                    l.mul_f64((self.index + 1) as f64 / self.cfg.conns as f64)
                } else {
                    l
                }
            });
            let issue_until = life.map_or(self.until, |l| (start + l).min(self.until));
            let mode = match (self.cfg.mode, self.schedule) {
                (Mode::Open { .. }, Some(s)) => ConnMode::Open(Schedule {
                    first: s.at(k),
                    interval_ns: s.interval_ns,
                }),
                (Mode::Closed { depth }, _) => ConnMode::Closed { depth },
                _ => ConnMode::Stream,
            };
            let plan = Plan {
                size: self.cfg.size,
                proto: self.cfg.proto,
                mode,
                timeout: self.cfg.timeout,
                from: self.from,
                issue_until,
                until: (issue_until + self.cfg.timeout).min(self.until),
            };
            tally.merge(super::run_conn(sock, plan, self.live.clone()).await?);
            if let Some(s) = self.schedule {
                next_k = Some(k.max(s.due(issue_until.min(Instant::now()))));
            }
        }
        Ok(tally)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_spaces_connects_and_the_intended_rate_is_the_smaller() {
        let t0 = Instant::now();
        let g = Gate::new(Some(1000.0), t0);
        assert_eq!(g.take(t0), t0);
        assert_eq!(g.take(t0), t0 + Duration::from_millis(1));
        // A late asker starts now, and the one after it 1 ms later.
        let late = t0 + Duration::from_secs(1);
        assert_eq!(g.take(late), late);
        assert_eq!(g.take(late), late + Duration::from_millis(1));
        assert_eq!(Gate::new(None, t0).take(late), late);
        let c = |rate, life: Option<u64>| Churn {
            connect_rate: rate,
            lifetime: life.map(Duration::from_secs),
        };
        assert_eq!(c(None, Some(2)).intended(100), Some(50.0));
        assert_eq!(c(Some(20.0), Some(2)).intended(100), Some(20.0));
        assert_eq!(c(Some(20.0), None).intended(100), Some(20.0));
        assert_eq!(c(None, None).intended(100), None);
    }
}
