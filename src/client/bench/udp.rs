//! The UDP engine of `bench`: one connected socket per "connection", each
//! datagram numbered ([`probe`]) because datagrams get lost and reordered.
//!
//! Sent messages sit in a ring indexed by sequence number: a reply finds its
//! send time in one lookup, and the oldest unanswered message is found by
//! walking forward from the last one known. A single timer per socket fires
//! at the oldest message's deadline and re-arms itself lazily, so losses are
//! counted without registering a timer per message.

use std::io;
use std::pin::Pin;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::time::{Instant, Sleep};

use super::pace::{self, Pacer};
use super::plan::{ConnMode, Live, Plan, Tally};
use crate::client::probe::{self, SEQ_LEN};

/// Receive buffer asked of the kernel: room for a deep pipeline of large
/// datagrams, which the default (~200 KiB) would drop. The kernel caps it at
/// `net.core.rmem_max`.
const RECV_BUFFER: usize = 4 << 20;

/// Most datagrams in flight per socket in open loop.
const MAX_IN_FLIGHT: usize = 65_536;

/// Sends or receives per turn, so neither direction starves the other.
const CALLS_PER_TURN: usize = 32;

/// A slot whose message was answered or given up on.
const FREE: u64 = u64::MAX;

#[derive(Clone, Copy)]
struct Slot {
    seq: u64,
    /// Sent (closed loop) or due (open loop).
    at: Instant,
}

/// Runs one socket until the plan's end; returns what it measured.
pub(super) async fn run(sock: UdpSocket, plan: Plan, live: Live) -> io::Result<Tally> {
    let _ = socket2::SockRef::from(&sock).set_recv_buffer_size(RECV_BUFFER);
    let (cap, mut pacer) = match plan.mode {
        ConnMode::Closed { depth } => (depth, None),
        ConnMode::Open(s) => {
            // In flight at most: everything sent within one timeout.
            let cap = (plan.timeout.as_secs_f64() * 1e9 / s.interval_ns).ceil() as usize + 16;
            let first_in = s.first.saturating_duration_since(Instant::now());
            (
                cap.min(MAX_IN_FLIGHT),
                Some(Pacer::new(first_in, pace::period(s.interval()))?),
            )
        }
        ConnMode::Stream => (1, None),
    };
    let mut out = vec![0u8; plan.size];
    probe::fill(0, &mut out);
    let mut d = Dgram {
        sock,
        plan,
        out,
        slots: vec![
            Slot {
                seq: FREE,
                at: plan.from
            };
            cap.max(1)
        ],
        next: 0,
        oldest: 0,
        timer: Box::pin(tokio::time::sleep_until(plan.until)),
        armed: false,
        tally: Tally::default(),
        live,
    };
    let mut inbuf = vec![0u8; plan.size + 1];
    if let Err(e) = d.drive(&mut inbuf, pacer.as_mut()).await {
        d.tally.fail(e);
    }
    Ok(d.finish())
}

struct Dgram {
    sock: UdpSocket,
    plan: Plan,
    /// The message; its first 8 bytes are overwritten with each sequence number.
    out: Vec<u8>,
    /// Ring of messages in flight, at `seq % len`.
    slots: Vec<Slot>,
    /// Next sequence number (= messages sent).
    next: u64,
    /// No message below this one is in flight.
    oldest: u64,
    /// Fires at (or before) the oldest message's deadline.
    timer: Pin<Box<Sleep>>,
    armed: bool,
    tally: Tally,
    live: Live,
}

impl Dgram {
    async fn drive(&mut self, inbuf: &mut [u8], mut pacer: Option<&mut Pacer>) -> io::Result<()> {
        let end = tokio::time::sleep_until(self.plan.until);
        tokio::pin!(end);
        loop {
            self.receive(inbuf)?;
            let now = Instant::now();
            if now >= self.plan.until {
                return Ok(());
            }
            if self.armed && now >= self.timer.deadline() {
                self.expire(now);
            }
            let blocked = self.send(now)?;
            tokio::select! {
                biased;
                _ = &mut end => return Ok(()),
                // Ctrl-C: the run ends now, as if planned so.
                () = self.live.stop.cancelled() => {
                    self.plan.until = Instant::now();
                    return Ok(());
                }
                r = self.sock.readable() => r?,
                r = self.sock.writable(), if blocked => r?,
                _ = &mut self.timer, if self.armed => {}
                r = pace::tick(&mut pacer) => r?,
            }
        }
    }

    fn slot(&mut self, seq: u64) -> &mut Slot {
        let len = self.slots.len() as u64;
        &mut self.slots[(seq % len) as usize]
    }

    /// Sends what the mode allows now; `true` when sends remain (the socket
    /// would block, or the turn ended).
    fn send(&mut self, now: Instant) -> io::Result<bool> {
        let room = self.slots.len() as u64;
        for _ in 0..CALLS_PER_TURN {
            let at = match self.plan.mode {
                ConnMode::Open(s) if self.next < s.due(now) => s.at(self.next),
                ConnMode::Closed { .. } => now,
                _ => return Ok(false),
            };
            if self.next - self.oldest >= room {
                return Ok(false);
            }
            self.out[..SEQ_LEN].copy_from_slice(&self.next.to_be_bytes());
            match self.sock.try_send(&self.out) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                // An ICMP report about an earlier datagram (which will time out).
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    self.tally
                        .fail("port unreachable (ICMP); is a server listening there?");
                    continue;
                }
                Err(e) => return Err(e),
            }
            let seq = self.next;
            *self.slot(seq) = Slot { seq, at };
            self.next += 1;
            if !self.armed {
                self.arm(at);
            }
        }
        // The turn ended with sends still allowed: come straight back (the
        // socket is writable, so the wait returns at once).
        Ok(true)
    }

    fn arm(&mut self, sent: Instant) {
        self.timer.as_mut().reset(sent + self.plan.timeout);
        self.armed = true;
    }

    /// Receives what has arrived (a bounded number of datagrams).
    fn receive(&mut self, inbuf: &mut [u8]) -> io::Result<()> {
        for _ in 0..CALLS_PER_TURN {
            let (n, drained) = match self.recv_one(inbuf) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    self.tally
                        .fail("port unreachable (ICMP); is a server listening there?");
                    continue;
                }
                Err(e) => return Err(e),
            };
            self.reply(&inbuf[..n], Instant::now());
            if drained {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Receives one datagram; `true` beside its length when it answers the
    /// only message in flight. Then nothing we wait for can be queued behind
    /// it, so tokio is told the socket is drained (through `try_io`), which
    /// saves a receive that would only say "would block". A stray datagram
    /// left queued is read with the next reply, whose arrival wakes us.
    fn recv_one(&self, inbuf: &mut [u8]) -> io::Result<(usize, bool)> {
        let last = (self.next - self.oldest == 1).then_some(self.oldest);
        let mut got = None;
        let r = self.sock.try_io(Interest::READABLE, || {
            let n = self.sock.try_recv(inbuf)?;
            if last.is_some() && probe::seq_of(&inbuf[..n]) == last {
                got = Some(n);
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        });
        match (r, got) {
            (_, Some(n)) => Ok((n, true)),
            (r, None) => r.map(|n| (n, false)),
        }
    }

    fn reply(&mut self, data: &[u8], now: Instant) {
        let seq = match probe::seq_of(data) {
            Some(seq) if data.len() == self.plan.size && data[SEQ_LEN..] == self.out[SEQ_LEN..] => {
                seq
            }
            _ => {
                self.tally.mismatched += 1;
                return;
            }
        };
        // Late replies to messages already counted as lost, and duplicates,
        // find their slot free (or reused) and are ignored.
        if seq < self.oldest || seq >= self.next || self.slot(seq).seq != seq {
            return;
        }
        let at = self.slot(seq).at;
        self.slot(seq).seq = FREE;
        if now >= self.plan.from {
            self.tally.messages += 1;
            self.tally.bytes += data.len() as u64;
            let latency = now.saturating_duration_since(at);
            self.tally.latency.record(latency);
            self.live.record(latency);
        }
        self.advance();
    }

    /// Moves `oldest` past answered and expired messages.
    fn advance(&mut self) {
        while self.oldest < self.next {
            let oldest = self.oldest;
            if self.slot(oldest).seq == oldest {
                return;
            }
            self.oldest += 1;
        }
    }

    /// Counts as lost the messages past their deadline, then re-arms the
    /// timer for the oldest one left.
    fn expire(&mut self, now: Instant) {
        self.armed = false;
        while self.oldest < self.next {
            let oldest = self.oldest;
            let Slot { seq, at } = *self.slot(oldest);
            if seq == oldest {
                if now < at + self.plan.timeout {
                    self.arm(at);
                    return;
                }
                self.slot(oldest).seq = FREE;
                self.tally.timeouts += u64::from(at + self.plan.timeout >= self.plan.from);
            }
            self.oldest += 1;
        }
    }

    /// Counts as timeouts the messages unanswered `timeout` after they were
    /// sent (or due) when the run ended.
    fn finish(mut self) -> Tally {
        let stale = self.plan.until.checked_sub(self.plan.timeout);
        for seq in self.oldest..self.next {
            let slot = *self.slot(seq);
            self.tally.timeouts +=
                u64::from(slot.seq == seq && stale.is_some_and(|s| slot.at <= s));
        }
        self.tally
    }
}
