//! `bench --sweep LO..HI`: open-loop runs at rising rates to find the knee,
//! the highest rate the target serves on schedule with its p99 under a
//! bound. Geometric steps find the bracket; bisection then narrows it.

use std::time::Duration;

use serde::Serialize;

use super::{BenchConfig, BenchError, Mode, bench};

/// Below this fraction of the intended rate a step fails: the target (or
/// this client) did not keep the schedule. As the single run's warning.
pub const ON_SCHEDULE: f64 = 0.95;

/// Bisection rounds after the bracket is found: each halves the gap, so
/// three turn a 1.5x step into a bracket under 6% wide.
pub const REFINE_ROUNDS: usize = 3;

/// One rate tried.
#[derive(Debug, Clone, Serialize)]
pub struct SweepStep {
    /// Intended messages per second.
    pub rate: f64,
    /// Completed over intended.
    pub achieved_fraction: f64,
    /// p99 latency in microseconds (from the intended send time).
    pub p99_us: Option<f64>,
    /// Errors and timeouts in the step.
    pub failures: u64,
    /// Whether the step kept its schedule with p99 under the bound.
    pub ok: bool,
}

/// The sweep's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    /// Every step, in the order run.
    pub steps: Vec<SweepStep>,
    /// The highest passing rate; `None` when even the lowest failed.
    pub knee: Option<f64>,
    /// The first failing rate above the knee; `None` when all passed.
    pub first_fail: Option<f64>,
    /// The p99 bound, microseconds.
    pub p99_bound_us: f64,
}

/// Parses `10k..200k` (suffixes k and M) into (low, high).
pub fn parse_range(text: &str) -> Result<(f64, f64), String> {
    let bad = || format!("--sweep {text}: give LOW..HIGH in messages/s, e.g. 10k..200k");
    let num = |t: &str| -> Option<f64> {
        let t = t.trim();
        let (digits, mult) = match t.chars().last()? {
            'k' | 'K' => (&t[..t.len() - 1], 1e3),
            'm' | 'M' => (&t[..t.len() - 1], 1e6),
            _ => (t, 1.0),
        };
        digits
            .parse::<f64>()
            .ok()
            .map(|v| v * mult)
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let (lo, hi) = text.split_once("..").ok_or_else(bad)?;
    match (num(lo), num(hi)) {
        (Some(l), Some(h)) if l < h => Ok((l, h)),
        _ => Err(bad()),
    }
}

/// `steps` rates from `lo` to `hi`, evenly spaced on a log scale.
pub fn rates(lo: f64, hi: f64, steps: usize) -> Vec<f64> {
    let n = steps.max(2);
    let ratio = (hi / lo).powf(1.0 / (n - 1) as f64);
    (0..n)
        .map(|i| (lo * ratio.powi(i as i32)).round())
        .collect()
}

/// Runs the sweep with `cfg`'s connections and durations, calling
/// `on_step` after each step.
pub async fn sweep(
    cfg: &BenchConfig,
    (lo, hi): (f64, f64),
    steps: usize,
    p99_bound: Duration,
    mut on_step: impl FnMut(&SweepStep),
) -> Result<SweepReport, BenchError> {
    let bound_us = p99_bound.as_secs_f64() * 1e6;
    let mut all = Vec::new();
    let mut step = async |rate: f64, all: &mut Vec<SweepStep>| -> Result<bool, BenchError> {
        let r = bench(&BenchConfig {
            mode: Mode::Open { rate },
            ..cfg.clone()
        })
        .await?;
        let p99 = r.latency_us.map(|l| l.p99);
        let frac = r.achieved_fraction.unwrap_or(0.0);
        let failures = r.errors + r.timeouts;
        let ok = frac >= ON_SCHEDULE && failures == 0 && p99.is_some_and(|p| p <= bound_us);
        let s = SweepStep {
            rate,
            achieved_fraction: frac,
            p99_us: p99,
            failures,
            ok,
        };
        on_step(&s);
        all.push(s);
        Ok(ok)
    };
    let (mut pass, mut fail) = (None, None);
    for rate in rates(lo, hi, steps) {
        if step(rate, &mut all).await? {
            pass = Some(rate);
        } else {
            fail = Some(rate);
            break;
        }
    }
    if let (Some(mut p), Some(mut f)) = (pass, fail) {
        for _ in 0..REFINE_ROUNDS {
            let mid = ((p * f).sqrt()).round();
            if mid <= p || mid >= f {
                break;
            }
            if step(mid, &mut all).await? {
                p = mid;
            } else {
                f = mid;
            }
        }
        (pass, fail) = (Some(p), Some(f));
    }
    Ok(SweepReport {
        steps: all,
        knee: pass,
        first_fail: fail,
        p99_bound_us: bound_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_rates() {
        assert_eq!(parse_range("10k..200k"), Ok((10_000.0, 200_000.0)));
        assert_eq!(parse_range("500..1.5M"), Ok((500.0, 1_500_000.0)));
        assert!(parse_range("200k..10k").is_err());
        assert!(parse_range("fast").is_err());
        let r = rates(1000.0, 8000.0, 4);
        assert_eq!(r, [1000.0, 2000.0, 4000.0, 8000.0]);
    }
}
