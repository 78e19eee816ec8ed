//! `ping` against any echo service, over UDP, TCP or Unix streams.
//!
//! Probes leave on a fixed schedule (like ping(8), not one after the other),
//! each carrying its sequence number ([`super::probe`]), so replies are
//! matched by content: over UDP that finds duplicates, reordering and late
//! replies; over a stream every reply is read as exactly `size` bytes, so a
//! timed-out probe's late bytes are recognised by their sequence number
//! instead of being taken for the next probe's reply.

mod link;

use std::io;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::link::{Incoming, Link};
use super::probe::{self, SizeError};
use super::probe_format::Proto;
use super::track::{Event, MAX_WINDOW, Tracker};
use crate::net::DialError as ConnectError;
use crate::net::{Endpoint, Transport};
use crate::stats::{Summary, summary_or_nulls};

/// What to ping and how.
#[derive(Debug, Clone)]
pub struct PingConfig {
    /// The echo service.
    pub target: Endpoint,
    /// Probes to send; `None` until stopped.
    pub count: Option<u64>,
    /// Time between probes.
    pub interval: Duration,
    /// Probe size in bytes (at least [`probe::SEQ_LEN`]).
    pub size: usize,
    /// How long to wait for each reply before counting the probe lost.
    pub timeout: Duration,
    /// How long a TCP or Unix connect may take.
    pub connect_timeout: Duration,
    /// Raw echo, or probes inside sockit `echo` frames (`Proto::Frame`).
    pub proto: Proto,
    /// How a tls:// target's certificate is checked.
    pub trust: crate::net::tls::Trust,
}

/// Something worth a line of output, reported as it happens.
#[derive(Debug)]
pub enum Progress {
    /// The socket is set up; the first probe leaves now.
    Ready {
        /// Stream connect time (TCP, Unix); `None` over UDP.
        connect: Option<Duration>,
    },
    /// A probe was answered, lost, duplicated... (see [`Event`]).
    Probe(Event),
    /// The host said nobody listens on that UDP port (ICMP port unreachable).
    Unreachable,
}

/// The outcome of a run; serialised as `sockit ping --json`.
#[derive(Debug, Clone, Serialize)]
pub struct PingReport {
    /// Probes sent.
    pub sent: u64,
    /// Probes answered on time with the exact bytes sent.
    pub received: u64,
    /// `sent - received`: timed out, corrupt, or unanswered when stopped.
    pub lost: u64,
    /// Round trips of on-time replies in microseconds (fields `null` when none).
    #[serde(serialize_with = "summary_or_nulls")]
    pub rtt_us: Option<Summary>,
    /// `lost` as a percentage of `sent`.
    pub loss_pct: f64,
    /// Extra replies to answered probes.
    pub duplicates: u64,
    /// Replies that overtook a later probe's reply.
    pub out_of_order: u64,
    /// Replies after the timeout (not in `received`).
    pub late: u64,
    /// Replies that matched no probe byte for byte.
    pub mismatched: u64,
    /// ICMP port-unreachable reports (UDP).
    pub unreachable: u64,
    /// Stream connect time in microseconds; `null` over UDP.
    pub connect_us: Option<f64>,
    /// The address pinged.
    pub target: String,
    /// `tcp`, `udp` or `unix`.
    pub transport: &'static str,
    /// Probe size in bytes.
    pub size: usize,
    /// Wall time from the first probe to the end, in seconds.
    pub elapsed_s: f64,
    /// Why the run ended early, if it did (`interrupted`, connection closed).
    pub ended_by: Option<String>,
}

/// Why a ping could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    /// The probe size does not fit the transport.
    #[error(transparent)]
    Size(#[from] SizeError),
    /// The socket could not be set up.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A wire format ping cannot use here.
    #[error(
        "ping speaks --proto echo (any transport) or frame (tcp:// or unix:// to `sockit serve --listen`), not {0}"
    )]
    Proto(Proto),
    /// Stopped (Ctrl-C) before the socket was set up.
    #[error("interrupted while connecting to {0}")]
    Interrupted(String),
    /// Sending failed for a reason no later probe will fix.
    #[error("sending to {addr}")]
    Send {
        /// The target.
        addr: String,
        /// The underlying error.
        source: io::Error,
    },
}

/// How many probes to remember: enough to cover every probe that can still
/// be within its timeout, and no more than will ever be sent.
fn window(cfg: &PingConfig) -> usize {
    let in_flight = cfg.timeout.as_secs_f64() / cfg.interval.as_secs_f64().max(1e-9);
    let w = (in_flight.ceil() as usize)
        .saturating_add(2)
        .clamp(16, MAX_WINDOW);
    cfg.count
        .map_or(w, |c| w.min(usize::try_from(c).unwrap_or(w)).max(1))
}

/// Pings until `count` probes are resolved or `stop` is cancelled, calling
/// `on` for every [`Progress`] as it happens.
pub async fn ping(
    cfg: &PingConfig,
    stop: CancellationToken,
    mut on: impl FnMut(&Progress),
) -> Result<PingReport, PingError> {
    let udp = cfg.target.transport() == Transport::Udp;
    probe::check_size(cfg.size, udp)?;
    if !matches!(cfg.proto, Proto::Echo | Proto::Frame) || (udp && cfg.proto != Proto::Echo) {
        return Err(PingError::Proto(cfg.proto));
    }
    let t = Instant::now();
    let setup = async {
        Ok::<_, PingError>(if udp {
            (Link::udp(crate::net::dial_udp(&cfg.target).await?), None)
        } else {
            let conn = crate::net::dial_with(&cfg.target, cfg.connect_timeout, &cfg.trust).await?;
            let prefix = cfg.proto.prefix(cfg.size);
            (Link::stream(conn, cfg.size, prefix), Some(t.elapsed()))
        })
    };
    // Ctrl-C must work during a slow connect too (the handler replaced the
    // default action of SIGINT).
    let (mut link, connect) = tokio::select! {
        r = setup => r?,
        _ = stop.cancelled() => return Err(PingError::Interrupted(cfg.target.to_string())),
    };
    on(&Progress::Ready { connect });
    let start = Instant::now();
    let mut tracker = Tracker::new(cfg.size, cfg.timeout, window(cfg), start);
    let mut run = Run {
        cfg,
        link: &mut link,
        tracker: &mut tracker,
        unreachable: 0,
        on: &mut on,
    };
    let ended_by = run.drive(start, &stop).await?;
    let unreachable = run.unreachable;
    // Whatever is still out when we stop counts as lost, silently: after a
    // Ctrl-C no "no reply within 1 s" can be claimed for it.
    tracker.expire(None, &mut Vec::new());
    let c = tracker.counts;
    let lost = tracker.lost();
    Ok(PingReport {
        sent: c.sent,
        received: c.received,
        lost,
        rtt_us: tracker.rtt.summary(),
        loss_pct: if c.sent == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / c.sent as f64
        },
        duplicates: c.duplicates,
        out_of_order: c.out_of_order,
        late: c.late,
        mismatched: c.mismatched,
        unreachable,
        connect_us: connect.map(|d| d.as_secs_f64() * 1e6),
        target: cfg.target.to_string(),
        transport: cfg.target.transport().scheme(),
        size: cfg.size,
        elapsed_s: start.elapsed().as_secs_f64(),
        ended_by,
    })
}

/// One ping run's moving parts, so the loop's steps can be small methods.
struct Run<'a, F: FnMut(&Progress)> {
    cfg: &'a PingConfig,
    link: &'a mut Link,
    tracker: &'a mut Tracker,
    unreachable: u64,
    on: &'a mut F,
}

impl<F: FnMut(&Progress)> Run<'_, F> {
    /// The event loop; returns why it ended early, if it did.
    async fn drive(
        &mut self,
        start: Instant,
        stop: &CancellationToken,
    ) -> Result<Option<String>, PingError> {
        let mut next_send = start;
        let mut sending = self.cfg.count != Some(0);
        let mut events = Vec::new();
        let sleep = tokio::time::sleep_until(start);
        tokio::pin!(sleep);
        loop {
            let now = Instant::now();
            // A stream probe waits until the previous one is fully written, so
            // a stalled server cannot make us buffer without bound.
            if sending && now >= next_send && !self.link.has_output() {
                let seq = self.tracker.send(now, &mut events);
                self.send(seq).await?;
                // Keep the schedule, but never fire a burst to catch up.
                next_send = (next_send + self.cfg.interval).max(now);
                sending = self.cfg.count.is_none_or(|c| self.tracker.counts.sent < c);
            }
            self.tracker.expire(Some(now), &mut events);
            for e in events.drain(..) {
                (self.on)(&Progress::Probe(e));
            }
            let deadline = self.tracker.next_deadline();
            if !sending && deadline.is_none() {
                return Ok(None);
            }
            let send_at = (sending && !self.link.has_output()).then_some(next_send);
            let wake = [send_at, deadline].into_iter().flatten().min();
            // Something always wakes us: a send, a deadline, or pending output.
            sleep.as_mut().reset(wake.unwrap_or(now + self.cfg.timeout));
            tokio::select! {
                biased;
                _ = stop.cancelled() => return Ok(Some("interrupted".into())),
                r = self.link.wait() => {
                    let r = r.map_err(|e| format!("connection lost: {e}"));
                    if let Err(end) = r.and_then(|()| self.receive()) {
                        return Ok(Some(end));
                    }
                }
                _ = &mut sleep => {}
            }
        }
    }

    async fn send(&mut self, seq: u64) -> Result<(), PingError> {
        match self.link.send(seq, self.cfg.size).await {
            Ok(false) => {}
            Ok(true) => self.unreachable(),
            Err(source) => {
                let addr = self.cfg.target.to_string();
                return Err(PingError::Send { addr, source });
            }
        }
        Ok(())
    }

    fn unreachable(&mut self) {
        self.unreachable += 1;
        (self.on)(&Progress::Unreachable);
    }

    /// Hands on every reply already there; `Err` says why the run must end.
    fn receive(&mut self) -> Result<(), String> {
        let now = Instant::now();
        let (tracker, on, unreachable) = (&mut *self.tracker, &mut *self.on, &mut self.unreachable);
        self.link.receive(|incoming| match incoming {
            Incoming::Reply(data) => on(&Progress::Probe(tracker.reply(data, now))),
            Incoming::Unreachable => {
                *unreachable += 1;
                on(&Progress::Unreachable);
            }
        })
    }
}
