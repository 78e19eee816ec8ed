//! Ping's bookkeeping, with no sockets and no clock: which probes are out,
//! and what each reply means (on time, duplicate, out of order, late, corrupt).
//!
//! The caller passes the current instant in, so every rule here is tested
//! with made-up times.

use std::time::Duration;

use tokio::time::Instant;

use super::probe;
use crate::stats::LatencyStats;

/// Most probes remembered at once: bounds memory for an endless `ping -i 0.0001`.
pub const MAX_WINDOW: usize = 65_536;

/// What happened to a probe, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A reply on time; `out_of_order` when a later probe was answered first.
    Reply {
        /// Sequence number.
        seq: u64,
        /// Reply length.
        bytes: usize,
        /// Round-trip time.
        rtt: Duration,
        /// A higher sequence number had already been answered.
        out_of_order: bool,
    },
    /// A second (or later) reply to an answered probe.
    Duplicate {
        /// Sequence number.
        seq: u64,
        /// Time since the probe was sent.
        rtt: Duration,
    },
    /// A reply after the probe had been declared lost.
    Late {
        /// Sequence number.
        seq: u64,
        /// Time since the probe was sent, when still remembered.
        rtt: Option<Duration>,
    },
    /// No reply within the timeout.
    Lost {
        /// Sequence number.
        seq: u64,
    },
    /// A reply that is no probe we sent, or whose bytes differ from it.
    Mismatch {
        /// The sequence number it claims, if it carries one.
        seq: Option<u64>,
        /// Reply length.
        bytes: usize,
    },
}

/// Counters of a ping run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Probes sent.
    pub sent: u64,
    /// Probes answered on time (each counted once).
    pub received: u64,
    /// Extra replies to answered probes.
    pub duplicates: u64,
    /// On-time replies that overtook a later probe's reply.
    pub out_of_order: u64,
    /// Replies after the timeout.
    pub late: u64,
    /// Replies that matched no probe byte for byte.
    pub mismatched: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Received,
    Lost,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u64,
    sent_at: Instant,
    state: State,
}

/// The probes in flight and the statistics so far.
#[derive(Debug)]
pub struct Tracker {
    size: usize,
    timeout: Duration,
    /// Ring indexed by `seq % len`.
    slots: Vec<Slot>,
    /// Next sequence number to send (= probes sent).
    next: u64,
    /// No probe below this one is pending.
    oldest: u64,
    highest_received: Option<u64>,
    /// The counters.
    pub counts: Counts,
    /// Round-trip times of on-time replies.
    pub rtt: LatencyStats,
}

impl Tracker {
    /// A tracker for probes of `size` bytes, lost after `timeout`, remembering
    /// `window` probes (clamped to 1..=[`MAX_WINDOW`]).
    pub fn new(size: usize, timeout: Duration, window: usize, now: Instant) -> Tracker {
        let empty = Slot {
            seq: u64::MAX,
            sent_at: now,
            state: State::Lost,
        };
        Tracker {
            size,
            timeout,
            slots: vec![empty; window.clamp(1, MAX_WINDOW)],
            next: 0,
            oldest: 0,
            highest_received: None,
            counts: Counts::default(),
            rtt: LatencyStats::new(),
        }
    }

    fn slot(&mut self, seq: u64) -> &mut Slot {
        let len = self.slots.len() as u64;
        &mut self.slots[(seq % len) as usize]
    }

    /// Registers the next probe as sent at `now` and returns its sequence
    /// number. A probe still pending in the slot it reuses is declared lost.
    pub fn send(&mut self, now: Instant, events: &mut Vec<Event>) -> u64 {
        let seq = self.next;
        let old = *self.slot(seq);
        if old.seq != u64::MAX && old.state == State::Pending {
            self.slot(old.seq).state = State::Lost;
            events.push(Event::Lost { seq: old.seq });
        }
        *self.slot(seq) = Slot {
            seq,
            sent_at: now,
            state: State::Pending,
        };
        self.next += 1;
        self.counts.sent += 1;
        seq
    }

    /// Classifies one reply received at `now`.
    pub fn reply(&mut self, data: &[u8], now: Instant) -> Event {
        let (size, timeout) = (self.size, self.timeout);
        let mismatch = |seq| Event::Mismatch {
            seq,
            bytes: data.len(),
        };
        // Not even a sequence number we have sent: no probe of ours.
        let Some(seq) = probe::seq_of(data).filter(|&seq| seq < self.next) else {
            self.counts.mismatched += 1;
            return mismatch(None);
        };
        if !probe::matches(seq, size, data) {
            self.counts.mismatched += 1;
            return mismatch(Some(seq));
        }
        if self.slot(seq).seq != seq {
            // Sent so long ago that its slot was reused.
            self.counts.late += 1;
            return Event::Late { seq, rtt: None };
        }
        let Slot { sent_at, state, .. } = *self.slot(seq);
        let rtt = now.saturating_duration_since(sent_at);
        match state {
            State::Pending if rtt <= timeout => {
                self.slot(seq).state = State::Received;
                let out_of_order = self.highest_received.is_some_and(|h| h > seq);
                self.highest_received = self.highest_received.max(Some(seq));
                self.counts.received += 1;
                self.counts.out_of_order += u64::from(out_of_order);
                self.rtt.record(rtt);
                Event::Reply {
                    seq,
                    bytes: data.len(),
                    rtt,
                    out_of_order,
                }
            }
            State::Received => {
                self.counts.duplicates += 1;
                Event::Duplicate { seq, rtt }
            }
            // Pending past its timeout (the timer had not fired yet) or lost.
            State::Pending | State::Lost => {
                self.slot(seq).state = State::Lost;
                self.counts.late += 1;
                Event::Late {
                    seq,
                    rtt: Some(rtt),
                }
            }
        }
    }

    /// Declares lost every pending probe whose timeout has passed at `now`
    /// (all of them when `now` is `None`, at the end of a run).
    pub fn expire(&mut self, now: Option<Instant>, events: &mut Vec<Event>) {
        let timeout = self.timeout;
        let window = self.slots.len() as u64;
        self.oldest = self.oldest.max(self.next.saturating_sub(window));
        while self.oldest < self.next {
            let seq = self.oldest;
            let slot = self.slot(seq);
            if slot.seq == seq && slot.state == State::Pending {
                if now.is_some_and(|now| now < slot.sent_at + timeout) {
                    return;
                }
                slot.state = State::Lost;
                events.push(Event::Lost { seq });
            }
            self.oldest += 1;
        }
    }

    /// When the oldest pending probe times out, if any is pending.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let mut seq = self
            .oldest
            .max(self.next.saturating_sub(self.slots.len() as u64));
        while seq < self.next {
            let (timeout, slot) = (self.timeout, *self.slot(seq));
            if slot.seq == seq && slot.state == State::Pending {
                return Some(slot.sent_at + timeout);
            }
            seq += 1;
        }
        None
    }

    /// Probes sent and not yet answered or lost.
    pub fn pending(&mut self) -> bool {
        self.next_deadline().is_some()
    }

    /// Probes sent minus probes answered on time.
    pub fn lost(&self) -> u64 {
        self.counts.sent - self.counts.received
    }
}

#[cfg(test)]
mod tests;
