//! `sockit bench`'s human-readable output: the summary and the
//! `--interval` lines.

use std::io::{self, Write};

use sockit::client::bench::{BenchReport, IntervalReport};
use sockit::stats::fmt_us;

/// One `--interval` line, human or JSON.
pub(super) fn print_interval(i: &IntervalReport, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "interval": i }));
        return;
    }
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), fmt_us);
    let of = match (i.rate, i.achieved_fraction) {
        (Some(r), Some(f)) => format!(" ({:.0}% of {r})", f * 100.0),
        _ => String::new(),
    };
    let churn = match (i.connects, i.connect_failures) {
        (Some(c), Some(0)) => format!("  {c} connects"),
        (Some(c), Some(f)) => format!("  {c} connects, {f} failed"),
        _ => String::new(),
    };
    println!(
        "{:7.2}-{:<7.2} s {:>8} msgs {:>10.0} msg/s{of}  p50 {}  p99 {}{churn}",
        i.start,
        i.end,
        i.messages,
        i.msgs_per_s,
        pct(i.p50_us),
        pct(i.p99_us)
    );
}

pub(super) fn print_report(out: &mut impl Write, r: &BenchReport) -> io::Result<()> {
    writeln!(
        out,
        "messages    {} in {} s ({:.0} msg/s)",
        r.messages, r.duration_s, r.msgs_per_s
    )?;
    // Ping protocols carry no payload: a throughput of 0 MB/s would only
    // puzzle the reader.
    if r.bytes > 0 {
        writeln!(out, "throughput  {:.2} MB/s of payload echoed", r.mb_per_s)?;
    }
    if let Some(l) = &r.latency_us {
        writeln!(
            out,
            "latency     p50 {}, p90 {}, p99 {}, p99.9 {}, max {}, mean {} (stddev {})",
            fmt_us(l.p50),
            fmt_us(l.p90),
            fmt_us(l.p99),
            fmt_us(l.p999),
            fmt_us(l.max),
            fmt_us(l.mean),
            fmt_us(l.stddev)
        )?;
    }
    if let (Some(n), Some(per_s)) = (r.connects, r.connects_per_s) {
        let of = r
            .connect_rate
            .map_or_else(String::new, |c| format!(" of {c:.0} intended"));
        writeln!(
            out,
            "connects    {n} ({per_s:.0}/s{of}), {} failed",
            r.connect_failures.unwrap_or(0)
        )?;
    }
    if let Some(l) = &r.connect_latency_us {
        writeln!(
            out,
            "connect     p50 {}, p90 {}, p99 {}, max {}",
            fmt_us(l.p50),
            fmt_us(l.p90),
            fmt_us(l.p99),
            fmt_us(l.max)
        )?;
    }
    writeln!(
        out,
        "errors      {} ({} mismatched), timeouts {}",
        r.errors, r.mismatched, r.timeouts
    )
}
