//! A log of refused peers that a flood cannot flood: at most one line per
//! address per [`REFUSAL_LOG_EVERY`], with a count of the refusals that
//! were not logged in between.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How often one address's refusals are logged: often enough that an
/// operator sees an attack as it goes on, rarely enough that 10,000
/// refusals a second from one host cost a line every few seconds.
pub const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(5);

/// Addresses remembered at once. Past this (a flood from many addresses,
/// or forged UDP sources) the log speaks for all the others together, at
/// the same pace, so its memory stays bounded whatever the flood forges.
const REMEMBERED: usize = 1024;

/// Per-address state: when we last logged, and what we kept quiet since.
#[derive(Debug, Clone, Copy)]
struct Seen {
    logged: Instant,
    quiet: u64,
}

/// What the caller should log for one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say {
    /// Nothing: this address was logged recently.
    Nothing,
    /// One line for this address; `quiet` refusals went unlogged before.
    Line {
        /// Refusals of this address since the last line.
        quiet: u64,
    },
    /// One line for "many addresses": the table is full.
    Many {
        /// Refusals of unremembered addresses since the last such line.
        quiet: u64,
    },
}

/// The rate limiter behind refusal log lines.
#[derive(Debug, Default)]
pub struct RefusalLog {
    seen: HashMap<IpAddr, Seen>,
    many: Option<Seen>,
}

impl RefusalLog {
    /// Records a refusal of `ip` at `now` and says what to log.
    pub fn note(&mut self, ip: IpAddr, now: Instant) -> Say {
        if let Some(s) = self.seen.get_mut(&ip) {
            return step(s, now, |quiet| Say::Line { quiet });
        }
        if self.seen.len() >= REMEMBERED {
            self.seen
                .retain(|_, s| now.saturating_duration_since(s.logged) < REFUSAL_LOG_EVERY);
        }
        if self.seen.len() < REMEMBERED {
            self.seen.insert(
                ip,
                Seen {
                    logged: now,
                    quiet: 0,
                },
            );
            return Say::Line { quiet: 0 };
        }
        match self.many.as_mut() {
            Some(s) => step(s, now, |quiet| Say::Many { quiet }),
            None => {
                self.many = Some(Seen {
                    logged: now,
                    quiet: 0,
                });
                Say::Many { quiet: 0 }
            }
        }
    }
}

/// Logs again once the period has passed, otherwise counts quietly.
fn step(s: &mut Seen, now: Instant, say: impl Fn(u64) -> Say) -> Say {
    if now.saturating_duration_since(s.logged) >= REFUSAL_LOG_EVERY {
        let quiet = std::mem::take(&mut s.quiet);
        s.logged = now;
        say(quiet)
    } else {
        s.quiet += 1;
        Say::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_address_per_period() {
        let mut log = RefusalLog::default();
        let t0 = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(log.note(a, t0), Say::Line { quiet: 0 });
        for _ in 0..1000 {
            assert_eq!(log.note(a, t0 + Duration::from_secs(1)), Say::Nothing);
        }
        assert_eq!(
            log.note(b, t0),
            Say::Line { quiet: 0 },
            "addresses are apart"
        );
        let later = t0 + REFUSAL_LOG_EVERY;
        assert_eq!(log.note(a, later), Say::Line { quiet: 1000 });
    }

    #[test]
    fn a_flood_of_addresses_stays_bounded() {
        let mut log = RefusalLog::default();
        let t0 = Instant::now();
        let mut lines = 0;
        for i in 0..100_000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            if log.note(ip, t0) != Say::Nothing {
                lines += 1;
            }
        }
        assert_eq!(
            lines,
            REMEMBERED + 1,
            "each remembered address, then one for the rest"
        );
        assert!(log.seen.len() <= REMEMBERED);
        // Once the period passes, old entries make room for new addresses.
        let later = t0 + REFUSAL_LOG_EVERY;
        assert_eq!(
            log.note("192.0.2.1".parse().unwrap(), later),
            Say::Line { quiet: 0 }
        );
    }
}
