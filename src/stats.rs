//! Latency statistics shared by `sockit ping` and `sockit bench`.
//!
//! Percentiles come from an HDR histogram in nanoseconds (3 significant
//! digits: every percentile is within 0.1% of the true value); count, sum,
//! sum of squares, min and max are kept exactly beside it, so the mean,
//! stddev and extremes carry no histogram rounding at all.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Serialize, Serializer};

/// Significant decimal digits the histogram keeps: 0.1% relative error, and
/// a histogram of a few tens of KiB for latencies up to seconds.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Spectrum points per halving of the distance to 100%: HdrHistogram's
/// default for its percentile output (about 100 lines for a million samples).
const SPECTRUM_TICKS: u32 = 5;

/// Latency samples: an HDR histogram plus exact moments. One per connection
/// on the hot path, [`LatencyStats::merge`]d at the end, so no locks.
#[derive(Debug, Clone)]
pub struct LatencyStats {
    /// Nanoseconds; grows itself (auto-resize) to the largest value seen.
    hist: Histogram<u64>,
    count: u64,
    sum_ns: u128,
    sum_sq_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

/// A summary of latencies in microseconds, ready to print or serialise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Smallest sample (exact).
    pub min: f64,
    /// Arithmetic mean (exact).
    pub mean: f64,
    /// Median, from the histogram.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample (exact).
    pub max: f64,
    /// Population standard deviation (ping(8)'s `mdev` is the same measure).
    pub stddev: f64,
}

impl Default for LatencyStats {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyStats {
    /// Empty statistics.
    pub fn new() -> LatencyStats {
        LatencyStats {
            hist: Histogram::new(SIGNIFICANT_DIGITS)
                .expect("3 significant digits is a valid precision"),
            count: 0,
            sum_ns: 0,
            sum_sq_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }

    /// Records one sample in nanoseconds. No allocation once the histogram
    /// has grown to the range in use.
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        // `record` grows the histogram (auto-resize); saturating_record would
        // clamp to the current range instead. It fails only past usize.
        if self.hist.record(ns).is_err() {
            self.hist.saturating_record(ns);
        }
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.sum_sq_ns += u128::from(ns) * u128::from(ns);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Records one sample; durations beyond 584 years saturate.
    #[inline]
    pub fn record(&mut self, d: Duration) {
        self.record_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Adds every sample of `other` to `self`.
    pub fn merge(&mut self, other: &LatencyStats) {
        // Both histograms auto-resize, so adding cannot run out of range.
        let _ = self.hist.add(&other.hist);
        self.count += other.count;
        self.sum_ns += other.sum_ns;
        self.sum_sq_ns += other.sum_sq_ns;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The sample value (ns) at quantile `q` in 0..=1, kept within the exact
    /// [min, max] so that a histogram bucket's width never reports a p50
    /// above the largest sample.
    pub fn quantile_ns(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let v = self.hist.value_at_quantile(q);
        Some(v.clamp(self.min_ns, self.max_ns))
    }

    /// Exact mean in nanoseconds.
    pub fn mean_ns(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_ns as f64 / self.count as f64)
    }

    /// Population standard deviation in nanoseconds.
    pub fn stddev_ns(&self) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let n = u128::from(self.count);
        // n*Σx² - (Σx)² in integers: no cancellation error for tight samples.
        let exact = n
            .checked_mul(self.sum_sq_ns)
            .zip(self.sum_ns.checked_mul(self.sum_ns))
            .map(|(a, b)| a.saturating_sub(b) as f64 / (n as f64 * n as f64));
        let var = exact.unwrap_or_else(|| {
            let mean = self.sum_ns as f64 / n as f64;
            (self.sum_sq_ns as f64 / n as f64 - mean * mean).max(0.0)
        });
        Some(var.sqrt())
    }

    /// The latency at each point of the full percentile spectrum: five
    /// steps per halving of the distance to 100% (as HdrHistogram's own
    /// percentile output), as (quantile 0..=1, microseconds, samples up
    /// to here). Empty with no samples.
    pub fn spectrum(&self) -> Vec<(f64, f64, u64)> {
        if self.count == 0 {
            return Vec::new();
        }
        let mut total = 0;
        self.hist
            .iter_quantiles(SPECTRUM_TICKS)
            .map(|v| {
                total += v.count_since_last_iteration();
                let ns = v.value_iterated_to().clamp(self.min_ns, self.max_ns);
                (v.quantile_iterated_to(), ns as f64 / 1000.0, total)
            })
            .collect()
    }

    /// The spectrum in HdrHistogram's `.hgrm` text format (values in
    /// milliseconds), which HdrHistogram's plotter and wrk2's tooling read.
    pub fn hgrm(&self) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "{:>12} {:>14} {:>10} {:>14}\n\n",
            "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
        );
        for (q, us, total) in self.spectrum() {
            let ms = us / 1000.0;
            let _ = if q < 1.0 {
                writeln!(
                    out,
                    "{ms:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                )
            } else {
                writeln!(out, "{ms:12.3} {q:2.12} {total:10}")
            };
        }
        let ms = |ns: f64| ns / 1e6;
        let _ = writeln!(
            out,
            "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
            ms(self.mean_ns().unwrap_or(0.0)),
            ms(self.stddev_ns().unwrap_or(0.0))
        );
        let _ = writeln!(
            out,
            "#[Max     = {:12.3}, Total count    = {:12}]",
            ms(self.max_ns as f64),
            self.count
        );
        out
    }

    /// The summary in microseconds, or `None` with no samples.
    pub fn summary(&self) -> Option<Summary> {
        let us = |ns: u64| ns as f64 / 1000.0;
        let q = |p| self.quantile_ns(p).map(us);
        Some(Summary {
            min: us(self.min_ns),
            mean: self.mean_ns()? / 1000.0,
            p50: q(0.50)?,
            p90: q(0.90)?,
            p99: q(0.99)?,
            p999: q(0.999)?,
            max: us(self.max_ns),
            stddev: self.stddev_ns()? / 1000.0,
        })
    }
}

/// Serialises `Some(summary)` as the summary and `None` as the same object
/// with every field `null`, so readers of the JSON find the same keys always.
pub fn summary_or_nulls<S: Serializer>(s: &Option<Summary>, ser: S) -> Result<S::Ok, S::Error> {
    /// `()` serialises as `null`.
    #[derive(Serialize, Default)]
    struct Nulls {
        min: (),
        mean: (),
        p50: (),
        p90: (),
        p99: (),
        p999: (),
        max: (),
        stddev: (),
    }
    match s {
        Some(s) => s.serialize(ser),
        None => Nulls::default().serialize(ser),
    }
}

/// Formats microseconds for humans: `85.2 us`, `1.25 ms`, `2.00 s`.
pub fn fmt_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.1} us")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Within the histogram's 0.1% precision.
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b.abs() * 0.001 + 1e-9
    }

    #[test]
    fn one_to_a_thousand_microseconds() {
        let mut s = LatencyStats::new();
        for us in 1..=1000u64 {
            s.record(Duration::from_micros(us));
        }
        let m = s.summary().unwrap();
        assert_eq!(m.min, 1.0);
        assert_eq!(m.max, 1000.0);
        assert_eq!(m.mean, 500.5);
        assert!(close(m.p50, 500.0), "{m:?}");
        assert!(close(m.p90, 900.0), "{m:?}");
        assert!(close(m.p99, 990.0), "{m:?}");
        assert!(close(m.p999, 999.0), "{m:?}");
        // Population stddev of 1..=n is sqrt((n²-1)/12).
        assert!(
            close(m.stddev, ((1000.0f64 * 1000.0 - 1.0) / 12.0).sqrt()),
            "{m:?}"
        );
    }

    #[test]
    fn one_sample_percentiles_equal_the_sample() {
        let mut s = LatencyStats::new();
        s.record_ns(123_457);
        let m = s.summary().unwrap();
        // Clamped to the exact extremes, not the bucket's upper edge.
        for v in [m.min, m.p50, m.p90, m.p99, m.p999, m.max] {
            assert_eq!(v, 123.457);
        }
        assert_eq!(m.stddev, 0.0);
    }

    #[test]
    fn tight_samples_have_exact_stddev() {
        let mut s = LatencyStats::new();
        for ns in [1_000_000_000u64, 1_000_000_002] {
            s.record_ns(ns);
        }
        assert_eq!(s.stddev_ns(), Some(1.0));
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (
            LatencyStats::new(),
            LatencyStats::new(),
            LatencyStats::new(),
        );
        for ns in (1..5000u64).map(|i| i * 37 % 10_007 * 1000) {
            if ns % 3 == 0 { &mut a } else { &mut b }.record_ns(ns);
            all.record_ns(ns);
        }
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        assert_eq!(a.summary(), all.summary());
    }

    #[test]
    fn empty_is_none_and_serialises_as_nulls() {
        let s = LatencyStats::new();
        assert_eq!(s.summary(), None);
        let mut out = Vec::new();
        summary_or_nulls(&None, &mut serde_json::Serializer::new(&mut out)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert!(v["p50"].is_null() && v["stddev"].is_null() && v["min"].is_null());
    }

    #[test]
    fn human_units() {
        assert_eq!(fmt_us(85.24), "85.2 us");
        assert_eq!(fmt_us(1250.0), "1.25 ms");
        assert_eq!(fmt_us(2_000_000.0), "2.00 s");
    }
}
