//! The open-loop pacer: a periodic wake-up with microsecond precision.
//!
//! tokio's timers tick in whole milliseconds, so pacing `--rate 50000` with
//! them would send in 1 ms bursts and add up to a millisecond of our own
//! delay to every latency measured from the intended send time. On Linux a
//! periodic timerfd is armed once per connection and wakes the task through
//! the same epoll as its socket: no timer registration per message. Which
//! messages are due is computed from the clock, so a late wake-up sends the
//! overdue ones at once and their latency still counts from when they were due.

use std::time::Duration;

/// Shortest period: a kernel timer firing more often costs more in
/// interrupts than batching a few messages per wake-up costs in latency.
pub const MIN_PERIOD: Duration = Duration::from_micros(50);

#[cfg(target_os = "linux")]
mod imp {
    use std::fs::File;
    use std::io::{self, Read};
    use std::time::Duration;

    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// A periodic timerfd registered with the runtime.
    #[derive(Debug)]
    pub struct Pacer {
        fd: AsyncFd<File>,
    }

    fn timespec(d: Duration) -> Timespec {
        Timespec {
            tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: d.subsec_nanos().into(),
        }
    }

    impl Pacer {
        /// Fires `first_in` from now (at least 1 ns: zero would disarm it),
        /// then every `period`.
        // tokio's registration of a raw descriptor is an `unsafe fn` (the
        // safe constructors are deprecated as unsound): it trusts the caller
        // that the descriptor stays open and the same while registered.
        #[allow(unsafe_code)]
        pub fn new(first_in: Duration, period: Duration) -> io::Result<Pacer> {
            let file = File::from(timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )?);
            let spec = Itimerspec {
                it_interval: timespec(period),
                it_value: timespec(first_in.max(Duration::from_nanos(1))),
            };
            timerfd_settime(&file, TimerfdTimerFlags::empty(), &spec)?;
            // SAFETY: `file` owns the descriptor and moves into the AsyncFd,
            // so it stays open and the same for the AsyncFd's whole life.
            let fd = unsafe { AsyncFd::register_with_interest(file, Interest::READABLE) }?;
            Ok(Pacer { fd })
        }

        /// Waits for the next expiry (returns at once if one is pending).
        pub async fn tick(&mut self) -> io::Result<()> {
            loop {
                let mut guard = self.fd.readable().await?;
                let mut expirations = [0u8; 8];
                match guard.try_io(|f| f.get_ref().read(&mut expirations)) {
                    Ok(r) => {
                        // The read reset the expiry count, so the fd is no
                        // longer readable; saying so saves a read that would
                        // only return "would block". The next expiry raises
                        // a fresh event.
                        guard.clear_ready();
                        return r.map(|_| ());
                    }
                    Err(_would_block) => continue,
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::time::Duration;

    use tokio::time::{Instant, Interval, MissedTickBehavior};

    /// Millisecond-grained fallback where there is no timerfd.
    #[derive(Debug)]
    pub struct Pacer {
        interval: Interval,
    }

    impl Pacer {
        /// Fires `first_in` from now, then every `period`.
        pub fn new(first_in: Duration, period: Duration) -> io::Result<Pacer> {
            let mut interval = tokio::time::interval_at(Instant::now() + first_in, period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
            Ok(Pacer { interval })
        }

        /// Waits for the next tick.
        pub async fn tick(&mut self) -> io::Result<()> {
            self.interval.tick().await;
            Ok(())
        }
    }
}

pub use imp::Pacer;

/// The pacer period for one message every `interval`.
pub fn period(interval: Duration) -> Duration {
    interval.max(MIN_PERIOD)
}

/// Waits for the pacer, or forever without one (closed loop).
pub(super) async fn tick(pacer: &mut Option<&mut Pacer>) -> std::io::Result<()> {
    match pacer {
        Some(p) => p.tick().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ticks_repeatedly_at_about_the_period() {
        let t = std::time::Instant::now();
        let mut p = Pacer::new(Duration::from_millis(2), Duration::from_millis(2)).unwrap();
        for _ in 0..5 {
            p.tick().await.unwrap();
        }
        let e = t.elapsed();
        assert!(
            e >= Duration::from_millis(10) && e < Duration::from_secs(2),
            "{e:?}"
        );
        assert_eq!(period(Duration::from_nanos(10)), MIN_PERIOD);
    }
}
