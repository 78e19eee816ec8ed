//! What a bench run reports: the summary ([`BenchReport`], `--json`'s last
//! line) and each `--interval` line ([`IntervalReport`]), built from the
//! connections' merged tallies.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::plan::{Tally, Window};
use super::{BenchConfig, Mode};
use crate::stats::{Summary, summary_or_nulls};

/// The outcome of a run; serialised as `sockit bench --json`.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Connections.
    pub conns: usize,
    /// Message size in bytes.
    pub size: usize,
    /// Measured seconds (warm-up excluded).
    pub duration_s: f64,
    /// Messages echoed completely within the measured window.
    pub messages: u64,
    /// `messages / duration_s`.
    pub msgs_per_s: f64,
    /// Payload bytes echoed per second, each byte counted once, in MB (10^6).
    pub mb_per_s: f64,
    /// Latency in microseconds (fields `null` in stream mode or with no reply).
    #[serde(serialize_with = "summary_or_nulls")]
    pub latency_us: Option<Summary>,
    /// Connection failures, send failures and corrupt replies.
    pub errors: u64,
    /// Messages unanswered after the timeout (UDP: lost datagrams).
    pub timeouts: u64,
    /// Replies whose bytes differ from what was sent (also in `errors`).
    pub mismatched: u64,
    /// Payload bytes echoed within the measured window.
    pub bytes: u64,
    /// `closed`, `open` or `stream`.
    pub mode: &'static str,
    /// Messages in flight per connection (closed loop).
    pub pipeline: Option<usize>,
    /// Target rate in messages/s (open loop).
    pub rate: Option<f64>,
    /// Warm-up seconds.
    pub warmup_s: f64,
    /// The address loaded.
    pub target: String,
    /// `tcp`, `udp` or `unix`.
    pub transport: &'static str,
    /// The wire format: `echo`, `frame`, `frame-ping`, `redis` or `nats`.
    pub proto: String,
    /// The first error seen, for the one-line diagnosis.
    pub first_error: Option<String>,
    /// Open loop: completed messages per second against `rate`, as a
    /// fraction (1.0 = on schedule).
    pub achieved_fraction: Option<f64>,
    /// The full percentile spectrum: (quantile, microseconds, samples).
    pub percentiles_us: Vec<(f64, f64, u64)>,
    /// The run was stopped early (Ctrl-C): `duration_s` is what ran.
    pub interrupted: bool,
    /// Churn: connections opened, warm-up included (a ramp is part of the load).
    pub connects: Option<u64>,
    /// Churn: connection attempts that failed (refused, timed out, a failed handshake).
    pub connect_failures: Option<u64>,
    /// Churn: connects per second achieved: with `--conn-lifetime`, the
    /// replacements (each slot's first connect excluded) over the whole
    /// run; without, the ramp's connects from the start to the last one.
    pub connects_per_s: Option<f64>,
    /// Churn: connects per second intended: `conns / conn_lifetime_s`
    /// capped at `--connect-rate`, or the ramp's `--connect-rate`.
    pub connect_rate: Option<f64>,
    /// Churn: `--conn-lifetime` in seconds.
    pub conn_lifetime_s: Option<f64>,
    /// Churn: how long a connect took (TCP, TLS and protocol handshakes), microseconds.
    pub connect_latency_us: Option<Summary>,
    /// The merged histogram, for `--hgrm` and `--plot`.
    #[serde(skip)]
    pub latency: crate::stats::LatencyStats,
}

/// One interval of a run (`sockit bench --interval`), from the replies
/// completed in it.
#[derive(Debug, Clone, Serialize)]
pub struct IntervalReport {
    /// Seconds from the end of the warm-up.
    pub start: f64,
    /// Seconds from the end of the warm-up.
    pub end: f64,
    /// Replies completed in the interval.
    pub messages: u64,
    /// `messages` per second.
    pub msgs_per_s: f64,
    /// Open loop: the intended rate, messages/s.
    pub rate: Option<f64>,
    /// Open loop: `msgs_per_s / rate` (1.0 = on schedule).
    pub achieved_fraction: Option<f64>,
    /// Median latency of the interval's replies, microseconds.
    pub p50_us: Option<f64>,
    /// 99th percentile, microseconds.
    pub p99_us: Option<f64>,
    /// Churn: connections opened in the interval.
    pub connects: Option<u64>,
    /// Churn: connection attempts that failed in the interval.
    pub connect_failures: Option<u64>,
}

/// Empties every connection's window into one interval's figures.
pub(super) fn take_interval(
    windows: &[Arc<Mutex<Window>>],
    start: f64,
    end: f64,
    cfg: &BenchConfig,
) -> IntervalReport {
    let mode = cfg.mode;
    let mut sum = Window::default();
    for w in windows {
        let w = std::mem::take(&mut *w.lock().unwrap_or_else(PoisonError::into_inner));
        sum.messages += w.messages;
        sum.latency.merge(&w.latency);
        sum.connects += w.connects;
        sum.connect_failures += w.connect_failures;
    }
    let secs = end - start;
    let msgs_per_s = if secs > 0.0 {
        sum.messages as f64 / secs
    } else {
        0.0
    };
    let rate = match mode {
        Mode::Open { rate } => Some(rate),
        _ => None,
    };
    let us = |q| sum.latency.quantile_ns(q).map(|ns| ns as f64 / 1e3);
    IntervalReport {
        start,
        end,
        messages: sum.messages,
        msgs_per_s,
        rate,
        achieved_fraction: rate.map(|r| msgs_per_s / r),
        p50_us: us(0.5),
        p99_us: us(0.99),
        connects: cfg.churn.map(|_| sum.connects),
        connect_failures: cfg.churn.map(|_| sum.connect_failures),
    }
}

/// The report of a run; `ran` is the measured time when it was stopped early.
pub(super) fn report(
    cfg: &BenchConfig,
    t: Tally,
    ran: Option<Duration>,
    t0: Instant,
) -> BenchReport {
    // A run stopped in its warm-up measured nothing; avoid dividing by 0.
    let secs = ran
        .map_or(cfg.duration, |r| r.max(Duration::from_millis(1)))
        .as_secs_f64();
    let (mode, pipeline, rate) = match cfg.mode {
        Mode::Closed { depth } => ("closed", Some(depth), None),
        Mode::Open { rate } => ("open", None, Some(rate)),
        Mode::Stream => ("stream", None, None),
    };
    BenchReport {
        conns: cfg.conns,
        size: cfg.size,
        duration_s: secs,
        messages: t.messages,
        msgs_per_s: t.messages as f64 / secs,
        mb_per_s: t.bytes as f64 / secs / 1e6,
        latency_us: t.latency.summary(),
        errors: t.errors + t.mismatched,
        timeouts: t.timeouts,
        mismatched: t.mismatched,
        bytes: t.bytes,
        mode,
        pipeline,
        rate,
        warmup_s: cfg.warmup.as_secs_f64(),
        target: cfg
            .web
            .as_ref()
            .map_or_else(|| cfg.target.to_string(), |w| w.url.clone()),
        transport: match &cfg.web {
            Some(w) if w.secure() => "wss",
            Some(_) => "ws",
            None => cfg.target.transport().scheme(),
        },
        proto: match cfg.web {
            Some(_) => "ws-ping".to_string(),
            None => cfg.proto.to_string(),
        },
        first_error: t.first_error,
        achieved_fraction: rate.map(|r| t.messages as f64 / secs / r),
        percentiles_us: t.latency.spectrum(),
        interrupted: ran.is_some(),
        connects: cfg.churn.map(|_| t.connects),
        connect_failures: cfg.churn.map(|_| t.connect_failures),
        connects_per_s: cfg.churn.map(|c| {
            // With lifetimes, replacements go on all run long (each slot's
            // first connect opens, it replaces nothing); without, connects
            // are a ramp that ends at the last one.
            let (n, end) = match (c.lifetime, t.last_connect) {
                (None, Some(last)) => (t.connects, last),
                (None, None) => (0, Instant::now()),
                (Some(_), _) => (t.replacements, Instant::now()),
            };
            n as f64 / end.saturating_duration_since(t0).as_secs_f64().max(1e-3)
        }),
        connect_rate: cfg.churn.and_then(|c| c.intended(cfg.conns)),
        conn_lifetime_s: cfg.churn.and_then(|c| c.lifetime).map(|l| l.as_secs_f64()),
        connect_latency_us: cfg.churn.and_then(|_| t.connect_latency.summary()),
        latency: t.latency,
    }
}
